/*
 * test_cio_load.c: tests of the cio-load tool (tools/cio-load). Its histogram is checked
 * directly (hist.h is header-only): percentiles against a sorted array of random values within
 * the stated relative error, bucket boundaries, merging. The program itself is run as a child
 * process against small servers this test starts on loopback (plain blocking sockets, one
 * thread per connection, so a cio bug cannot hide on both sides): echo and HTTP, TCP and Unix,
 * closed and open loop, with --requests and --json, and the report's counts are checked; so
 * are the exit statuses for bad arguments (2) and for runs with errors (1: refused, corrupted
 * echo, HTTP 500).
 *
 * The binary is found next to this test's build directory (BUILD/tools/cio-load, from
 * /proc/self/exe), or in $CIO_LOAD; the cases that need it skip when it is not built.
 */
/* Not labelled "threads": these tests stop the tools with SIGINT/SIGTERM, and under
 * ThreadSanitizer a signal handler that arrives while a coroutine other than the one it
 * interrupted is current can stay deferred on that coroutine's sanitizer state until it
 * runs again, so the TSan job would hang on them for reasons of the sanitizer, not of cio.
 * They run in the plain and ASan jobs; the runtime's own signal test runs under TSan. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "harness.h"

#include "../../tools/cio-load/hist.h"

extern char **environ;

/* ---- the histogram ---- */

static uint64_t rng_state = 0x853c49e6748fea9bULL;

static uint64_t rng(void)
{
    /* xorshift64*: deterministic, so a failure reproduces. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

/* Log-uniform over [1, 2^37) ns (up to about two minutes), the shape latencies have. */
static uint64_t random_latency(void)
{
    unsigned bits = (unsigned)(rng() % 37) + 1;
    uint64_t v = rng() & ((UINT64_C(1) << bits) - 1);
    return v == 0 ? 1 : v;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The value of rank ceil(q/100 * n) (at least 1) of a sorted array: what hist_percentile()
 * promises to approximate. */
static uint64_t exact_percentile(const uint64_t *sorted, size_t n, double q)
{
    double want = q / 100.0 * (double)n;
    size_t rank = (size_t)want;
    if ((double)rank < want)
        rank++;
    if (rank == 0)
        rank = 1;
    if (rank > n)
        rank = n;
    return sorted[rank - 1];
}

static hist *hist_new(void)
{
    hist *h = malloc(sizeof *h);
    CHECK(h != NULL);
    hist_reset(h);
    return h;
}

static void test_hist_buckets(void)
{
    /* Every bucket's range is contiguous with the next and maps back to it. */
    for (size_t i = 0; i < HIST_BUCKETS; i++) {
        uint64_t lo = hist_bucket_low(i), hi = hist_bucket_high(i);
        CHECK(lo <= hi);
        CHECK_EQ(hist_index(lo), i);
        CHECK_EQ(hist_index(hi), i);
        if (i + 1 < HIST_BUCKETS)
            CHECK_EQ(hist_bucket_low(i + 1), hi + 1);
        if (lo >= HIST_LINEAR)
            CHECK((hi - lo + 1) * 128 <= lo); /* two significant digits: width <= 1/128 */
    }
    CHECK_EQ(hist_bucket_high(HIST_BUCKETS - 1), HIST_VALUE_LIMIT);
    /* Values below 256 are exact; beyond the limit they share the last bucket. */
    for (uint64_t v = 0; v < 256; v++)
        CHECK_EQ(hist_index(v), v);
    CHECK_EQ(hist_index(HIST_VALUE_LIMIT + 1), HIST_BUCKETS - 1);
    CHECK_EQ(hist_index(UINT64_MAX), HIST_BUCKETS - 1);

    hist *h = hist_new();
    CHECK_EQ(hist_percentile(h, 50), 0);
    CHECK_EQ(hist_count(h), 0);
    hist_record(h, UINT64_C(1) << 50); /* past the limit: counted, max exact */
    CHECK_EQ(hist_count(h), 1);
    CHECK_EQ(hist_max(h), UINT64_C(1) << 50);
    CHECK_EQ(hist_percentile(h, 50), UINT64_C(1) << 50); /* clamped into [min, max] */
    free(h);
}

static void test_hist_percentiles(void)
{
    enum { N = 200000 };
    uint64_t *values = malloc(N * sizeof *values);
    CHECK(values != NULL);
    hist *h = hist_new();
    uint64_t sum = 0;
    for (size_t i = 0; i < N; i++) {
        values[i] = random_latency();
        sum += values[i];
        hist_record(h, values[i]);
    }
    qsort(values, N, sizeof *values, cmp_u64);
    CHECK_EQ(hist_count(h), N);
    CHECK_EQ(hist_min(h), values[0]);
    CHECK_EQ(hist_max(h), values[N - 1]);
    CHECK(hist_mean(h) == (double)sum / N);
    static const double qs[] = {0, 0.1, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 99.999, 100};
    for (size_t k = 0; k < sizeof qs / sizeof qs[0]; k++) {
        uint64_t want = exact_percentile(values, N, qs[k]);
        uint64_t got = hist_percentile(h, qs[k]);
        uint64_t diff = got > want ? got - want : want - got;
        /* The stated error: the bucket's midpoint is within 1/256 of any value in it. */
        if (diff * 256 > want)
            TEST_FAIL("p%g: histogram %" PRIu64 ", exact %" PRIu64, qs[k], got, want);
    }
    CHECK_EQ(hist_percentile(h, 100), values[N - 1]);
    free(values);
    free(h);
}

static void test_hist_merge(void)
{
    hist *a = hist_new(), *b = hist_new(), *all = hist_new(), *merged = hist_new();
    for (int i = 0; i < 50000; i++) {
        uint64_t v = random_latency();
        hist_record(i % 3 ? a : b, v);
        hist_record(all, v);
    }
    hist_record_n(b, 7, 1000);
    hist_record_n(all, 7, 1000);
    hist_merge(merged, a);
    hist_merge(merged, b);
    CHECK_EQ(hist_count(merged), hist_count(all));
    CHECK_EQ(hist_min(merged), hist_min(all));
    CHECK_EQ(hist_max(merged), hist_max(all));
    CHECK(hist_mean(merged) == hist_mean(all));
    for (size_t i = 0; i < HIST_BUCKETS; i++)
        CHECK_EQ(atomic_load(&merged->counts[i]), atomic_load(&all->counts[i]));
    for (double q = 0; q <= 100; q += 0.5)
        CHECK_EQ(hist_percentile(merged, q), hist_percentile(all, q));
    /* Merging an empty histogram changes nothing (its min of UINT64_MAX must not leak). */
    hist *empty = hist_new();
    hist_merge(merged, empty);
    CHECK_EQ(hist_min(merged), hist_min(all));
    CHECK_EQ(hist_count(merged), hist_count(all));
    free(a);
    free(b);
    free(all);
    free(merged);
    free(empty);
}

/* ---- running the program ---- */

static const char *load_binary(void)
{
    static char path[PATH_MAX + 32];
    const char *env = getenv("CIO_LOAD");
    if (env != NULL && env[0] != '\0')
        snprintf(path, sizeof path, "%s", env);
    else {
        /* BUILD/tests/tools/tools_test_cio_load -> BUILD/tools/cio-load */
        char self[PATH_MAX - 32];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0)
            TEST_SKIP("cannot read /proc/self/exe");
        self[n] = '\0';
        for (int up = 0; up < 3; up++) {
            char *slash = strrchr(self, '/');
            if (slash == NULL)
                TEST_SKIP("unexpected test path %s", self);
            *slash = '\0';
        }
        snprintf(path, sizeof path, "%s/tools/cio-load", self);
    }
    if (access(path, X_OK) != 0)
        TEST_SKIP("cio-load is not built (%s)", path);
    return path;
}

struct run_result {
    int status; /* exit status, or 128 + signal */
    char out[16384];
    char err[16384];
};

static void slurp(const char *path, char *buf, size_t size)
{
    int fd = CHECK_SYS(open(path, O_RDONLY | O_CLOEXEC));
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, size - 1 - len);
        CHECK(n >= 0);
        if (n == 0 || len + (size_t)n >= size - 1) {
            len += (size_t)n;
            break;
        }
        len += (size_t)n;
    }
    buf[len] = '\0';
    close(fd);
}

/* Run cio-load with @args (NULL-terminated, without argv[0]); stdout and stderr captured. */
static void run_load(const char *const *args, struct run_result *r)
{
    const char *bin = load_binary();
    const char *argv[32];
    size_t n = 0;
    argv[n++] = "cio-load";
    for (; *args != NULL && n < 31; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    char out_path[PATH_MAX], err_path[PATH_MAX];
    snprintf(out_path, sizeof out_path, "%s/stdout", cio_test_tmpdir());
    snprintf(err_path, sizeof err_path, "%s/stderr", cio_test_tmpdir());
    posix_spawn_file_actions_t fa;
    CHECK_EQ(posix_spawn_file_actions_init(&fa), 0);
    CHECK_EQ(posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0), 0);
    CHECK_EQ(posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600),
             0);
    CHECK_EQ(posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600),
             0);
    pid_t pid;
    int rc = posix_spawn(&pid, bin, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    CHECK_EQ(rc, 0);
    int wstatus;
    CHECK_SYS(waitpid(pid, &wstatus, 0));
    r->status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
    slurp(out_path, r->out, sizeof r->out);
    slurp(err_path, r->err, sizeof r->err);
}

/* The number after "KEY": in the JSON report (keys are unique in it). */
static uint64_t json_u64(const char *json, const char *key)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *p = strstr(json, pattern);
    if (p == NULL)
        TEST_FAIL("no %s in: %s", pattern, json);
    p += strlen(pattern);
    char *end;
    unsigned long long v = strtoull(p, &end, 10);
    CHECK(end != p);
    return v;
}

static double json_double(const char *json, const char *key)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *p = strstr(json, pattern);
    if (p == NULL)
        TEST_FAIL("no %s in: %s", pattern, json);
    return strtod(p + strlen(pattern), NULL);
}

/* ---- small servers: blocking sockets, a thread per connection ---- */

enum server_kind {
    SERVER_ECHO,
    SERVER_BAD_ECHO,   /* flips a bit of the first byte of every read */
    SERVER_HTTP,       /* 200 with a 13-byte body per request, keep-alive, pipelining */
    SERVER_HTTP_500,   /* 500 with an empty body */
    SERVER_HTTP_CLOSE, /* one 200 with "Connection: close", then closes */
};

#define HTTP_200                                                                                   \
    "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, World!"
#define HTTP_500 "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"
#define HTTP_CLOSE "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
#define MAX_SERVER_CONNS 64

struct server {
    enum server_kind kind;
    int lfd;
    char target[PATH_MAX];
    char unix_path[PATH_MAX];
    pthread_t acceptor;
    pthread_mutex_t lock;
    pthread_t conns[MAX_SERVER_CONNS];
    int nconns;
};

struct server_conn {
    struct server *server;
    int fd;
};

static bool send_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

static void *server_conn_main(void *arg)
{
    struct server_conn *sc = arg;
    enum server_kind kind = sc->server->kind;
    static _Thread_local char buf[65536];
    char tail[3] = {0, 0, 0}; /* the last bytes seen, to find "\r\n\r\n" across reads */
    for (;;) {
        ssize_t n = read(sc->fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        bool ok = true;
        if (kind == SERVER_ECHO || kind == SERVER_BAD_ECHO) {
            if (kind == SERVER_BAD_ECHO)
                buf[0] ^= 1;
            ok = send_all(sc->fd, buf, (size_t)n);
        } else {
            size_t requests = 0;
            for (ssize_t i = 0; i < n; i++) {
                char c = buf[i];
                if (c == '\n' && tail[0] == '\r' && tail[1] == '\n' && tail[2] == '\r')
                    requests++;
                tail[0] = tail[1];
                tail[1] = tail[2];
                tail[2] = c;
            }
            const char *resp = kind == SERVER_HTTP       ? HTTP_200
                               : kind == SERVER_HTTP_500 ? HTTP_500
                                                         : HTTP_CLOSE;
            for (size_t i = 0; i < requests && ok; i++)
                ok = send_all(sc->fd, resp, strlen(resp));
            if (kind == SERVER_HTTP_CLOSE && requests > 0)
                break; /* as announced */
        }
        if (!ok)
            break;
    }
    close(sc->fd);
    free(sc);
    return NULL;
}

static void *server_accept_main(void *arg)
{
    struct server *s = arg;
    for (;;) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            break; /* shut down: the test is over */
        }
        struct server_conn *sc = malloc(sizeof *sc);
        pthread_mutex_lock(&s->lock);
        bool room = sc != NULL && s->nconns < MAX_SERVER_CONNS;
        if (room) {
            sc->server = s;
            sc->fd = fd;
            room = pthread_create(&s->conns[s->nconns], NULL, server_conn_main, sc) == 0;
            if (room)
                s->nconns++;
        }
        pthread_mutex_unlock(&s->lock);
        if (!room) {
            free(sc);
            close(fd);
        }
    }
    return NULL;
}

/* Start a server on 127.0.0.1:0, or on a Unix socket in the case's directory if @unix. */
static void server_start(struct server *s, enum server_kind kind, bool unix)
{
    memset(s, 0, sizeof *s);
    s->kind = kind;
    pthread_mutex_init(&s->lock, NULL);
    if (unix) {
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        snprintf(s->unix_path, sizeof s->unix_path, "%s/srv.sock", cio_test_tmpdir());
        CHECK(strlen(s->unix_path) < sizeof sun.sun_path);
        strcpy(sun.sun_path, s->unix_path);
        s->lfd = CHECK_SYS(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        CHECK_SYS(bind(s->lfd, (struct sockaddr *)&sun, sizeof sun));
        snprintf(s->target, sizeof s->target, "%s", s->unix_path);
    } else {
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof sin;
        s->lfd = CHECK_SYS(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        CHECK_SYS(bind(s->lfd, (struct sockaddr *)&sin, sizeof sin));
        CHECK_SYS(getsockname(s->lfd, (struct sockaddr *)&sin, &len));
        snprintf(s->target, sizeof s->target, "127.0.0.1:%u", ntohs(sin.sin_port));
    }
    CHECK_SYS(listen(s->lfd, 128));
    CHECK_EQ(pthread_create(&s->acceptor, NULL, server_accept_main, s), 0);
}

/* Stop accepting, wait for every connection thread (the client has exited, so each sees end
 * of stream), close everything. */
static int server_stop(struct server *s)
{
    shutdown(s->lfd, SHUT_RDWR); /* wakes the blocked accept (Linux) */
    pthread_join(s->acceptor, NULL);
    close(s->lfd);
    for (int i = 0; i < s->nconns; i++)
        pthread_join(s->conns[i], NULL);
    if (s->unix_path[0] != '\0')
        unlink(s->unix_path);
    pthread_mutex_destroy(&s->lock);
    return s->nconns;
}

/* ---- the program ---- */

static void test_bad_arguments_exit_2(void)
{
    static const char *const cases[][8] = {
        {NULL},
        {"--target", NULL},
        {"--target", "127.0.0.1:7", "--mode", "ftp", NULL},
        {"--target", "127.0.0.1:7", "--connections", "0", NULL},
        {"--target", "127.0.0.1:7", "--requests", "12x", NULL},
        {"--target", "127.0.0.1:7", "--duration", "-1", NULL},
        {"--target", "127.0.0.1:7", "--rate", "0", NULL},
        {"--target", "127.0.0.1:7", "--no-such-option", NULL},
        {"--target", "127.0.0.1:7", "--mode", "http", "--size", "10", NULL},
        {"--target", "not an address", NULL},
        {"--target", "127.0.0.1:0", NULL},
        {"--target", "127.0.0.1:7", "stray", NULL},
    };
    struct run_result *r = malloc(sizeof *r);
    CHECK(r != NULL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_load(cases[i], r);
        if (r->status != 2)
            TEST_FAIL("case %zu: exit %d, expected 2; stderr: %s", i, r->status, r->err);
        CHECK(strstr(r->err, "cio-load: ") != NULL); /* a reason, on stderr */
        CHECK_EQ(r->out[0], '\0');                   /* nothing on stdout */
    }
    run_load((const char *const[]){"--help", NULL}, r);
    CHECK_EQ(r->status, 0);
    CHECK(strstr(r->out, "usage: cio-load") != NULL);
    CHECK(strstr(r->out, "--pipeline") != NULL);
    free(r);
}

static void test_echo_requests_json(void)
{
    struct server s;
    server_start(&s, SERVER_ECHO, false);
    struct run_result *r = malloc(sizeof *r);
    CHECK(r != NULL);
    run_load((const char *const[]){"--target", s.target, "--requests", "1000", "--connections", "4",
                                   "--json", "--quiet", NULL},
             r);
    CHECK_EQ(server_stop(&s), 4);
    if (r->status != 0)
        TEST_FAIL("exit %d; stdout: %s; stderr: %s", r->status, r->out, r->err);
    CHECK_EQ(r->err[0], '\0'); /* --quiet */
    CHECK(r->out[0] == '{');
    CHECK_EQ(json_u64(r->out, "requests"), 1000);
    CHECK_EQ(json_u64(r->out, "total"), 0);
    CHECK_EQ(json_u64(r->out, "connections_opened"), 4);
    CHECK_EQ(json_u64(r->out, "bytes_sent"), 64000);
    CHECK_EQ(json_u64(r->out, "bytes_received"), 64000);
    uint64_t p50 = json_u64(r->out, "p50"), p99 = json_u64(r->out, "p99");
    uint64_t max = json_u64(r->out, "max"), min = json_u64(r->out, "min");
    CHECK(min > 0 && min <= p50 && p50 <= p99 && p99 <= max);
    CHECK(json_double(r->out, "requests_per_s") > 0);
    free(r);
}

static void test_echo_unix_pipelined_workers(void)
{
    struct server s;
    server_start(&s, SERVER_ECHO, true);
    struct run_result *r = malloc(sizeof *r);
    CHECK(r != NULL);
    /* Messages larger than a socket buffer, several in flight, two workers. */
    run_load((const char *const[]){"--target", s.target, "--requests", "300", "--connections", "3",
                                   "--pipeline", "4", "--size", "300000", "--workers", "2",
                                   "--json", NULL},
             r);
    CHECK_EQ(server_stop(&s), 3);
    if (r->status != 0)
        TEST_FAIL("exit %d; stdout: %s; stderr: %s", r->status, r->out, r->err);
    CHECK_EQ(json_u64(r->out, "requests"), 300);
    CHECK_EQ(json_u64(r->out, "total"), 0);
    CHECK_EQ(json_u64(r->out, "bytes_received"), 300 * 300000);
    CHECK(strstr(r->err, "cio-load: echo load on ") != NULL); /* progress goes to stderr */
    free(r);
}

static void test_echo_open_loop_paced(void)
{
    struct server s;
    server_start(&s, SERVER_ECHO, false);
    struct run_result *r = malloc(sizeof *r);
    CHECK(r != NULL);
    /* 500 messages at 5000/s take 0.1 s: the schedule, not the server, sets the pace. */
    run_load((const char *const[]){"--target", s.target, "--rate", "5000", "--requests", "500",
                                   "--connections", "5", "--json", "--quiet", NULL},
             r);
    server_stop(&s);
    if (r->status != 0)
        TEST_FAIL("exit %d; stdout: %s; stderr: %s", r->status, r->out, r->err);
    CHECK_EQ(json_u64(r->out, "requests"), 500);
    CHECK_EQ(json_u64(r->out, "total"), 0);
    CHECK(strstr(r->out, "\"loop\":\"open\"") != NULL);
    double secs = json_double(r->out, "duration_s");
    if (secs < 0.09 || secs > 10)
        TEST_FAIL("500 messages at 5000/s took %.3f s", secs);
    free(r);
}

static void test_http_pipelined_json(void)
{
    struct server s;
    server_start(&s, SERVER_HTTP, false);
    struct run_result *r = malloc(sizeof *r);
    CHECK(r != NULL);
    run_load((const char *const[]){"--target", s.target, "--mode", "http", "--requests", "1000",
                                   "--connections", "3", "--pipeline", "8", "--json", "--quiet",
                                   NULL},
             r);
    CHECK_EQ(server_stop(&s), 3);
    if (r->status != 0)
        TEST_FAIL("exit %d; stdout: %s; stderr: %s", r->status, r->out, r->err);
    CHECK_EQ(json_u64(r->out, "requests"), 1000);
    CHECK_EQ(json_u64(r->out, "total"), 0);
    CHECK_EQ(json_u64(r->out, "bytes_received"), 1000 * strlen(HTTP_200));
    free(r);
}

static void test_http_connection_close(void)
{
    struct server s;
    server_start(&s, SERVER_HTTP_CLOSE, false);
    struct run_result *r = malloc(sizeof *r);
    CHECK(r != NULL);
    /* Each connection serves one request: cio-load reconnects, without counting errors. */
    run_load((const char *const[]){"--target", s.target, "--mode", "http", "--requests", "30",
                                   "--connections", "2", "--json", "--quiet", NULL},
             r);
    int served = server_stop(&s);
    if (r->status != 0)
        TEST_FAIL("exit %d; stdout: %s; stderr: %s", r->status, r->out, r->err);
    CHECK_EQ(json_u64(r->out, "requests"), 30);
    CHECK_EQ(json_u64(r->out, "total"), 0);
    CHECK_EQ(json_u64(r->out, "connections_opened"), 30);
    CHECK_EQ(served, 30);
    free(r);
}

static void test_errors_exit_1(void)
{
    struct run_result *r = malloc(sizeof *r);
    CHECK(r != NULL);
    /* Refused: a port that was just listening and is closed now. */
    struct server s;
    server_start(&s, SERVER_ECHO, false);
    server_stop(&s);
    run_load(
        (const char *const[]){"--target", s.target, "--requests", "10", "--json", "--quiet", NULL},
        r);
    CHECK_EQ(r->status, 1);
    CHECK(json_u64(r->out, "connect_refused") > 0);
    CHECK_EQ(json_u64(r->out, "requests"), 0);
    CHECK_EQ(json_u64(r->out, "connections_opened"), 0);

    /* A server that corrupts the echo. */
    server_start(&s, SERVER_BAD_ECHO, false);
    run_load((const char *const[]){"--target", s.target, "--requests", "10", "--connections", "1",
                                   "--json", "--quiet", NULL},
             r);
    server_stop(&s);
    CHECK_EQ(r->status, 1);
    CHECK(json_u64(r->out, "invalid_response") > 0);

    /* HTTP errors are counted by kind; the run still completes its requests. */
    server_start(&s, SERVER_HTTP_500, false);
    run_load((const char *const[]){"--target", s.target, "--mode", "http", "--requests", "20",
                                   "--connections", "2", "--json", "--quiet", NULL},
             r);
    server_stop(&s);
    CHECK_EQ(r->status, 1);
    CHECK_EQ(json_u64(r->out, "http_status"), 20);
    CHECK_EQ(json_u64(r->out, "requests"), 0);
    free(r);
}

static void test_human_report(void)
{
    struct server s;
    server_start(&s, SERVER_ECHO, false);
    struct run_result *r = malloc(sizeof *r);
    CHECK(r != NULL);
    run_load((const char *const[]){"--target", s.target, "--duration", "1.5", "--warmup", "200ms",
                                   "--connections", "2", NULL},
             r);
    server_stop(&s);
    if (r->status != 0)
        TEST_FAIL("exit %d; stdout: %s; stderr: %s", r->status, r->out, r->err);
    /* stdout: the report; stderr (not a terminal here): one progress line per second. */
    CHECK(strstr(r->out, "requests") != NULL);
    CHECK(strstr(r->out, "p99.9") != NULL);
    CHECK(strstr(r->out, "after 0.20 s warmup") != NULL);
    /* The line is stamped with the time it was printed: 1.0 s, or a little later under load. */
    const char *line = strstr(r->err, "[   1.");
    double at = 0;
    CHECK(line != NULL && sscanf(line, "[%lfs]", &at) == 1);
    CHECK(at >= 1.0 && at < 1.5);
    CHECK(strstr(line, "req/s") != NULL);
    CHECK(strchr(r->err, '\r') == NULL);
    free(r);
}

CIO_TEST_MAIN(TEST(test_hist_buckets), TEST(test_hist_percentiles), TEST(test_hist_merge),
              TEST(test_bad_arguments_exit_2), TEST(test_echo_requests_json),
              TEST(test_echo_unix_pipelined_workers), TEST(test_echo_open_loop_paced),
              TEST(test_http_pipelined_json), TEST(test_http_connection_close),
              TEST(test_errors_exit_1), TEST(test_human_report))
