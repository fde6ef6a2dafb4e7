/* counts_client: the load of bench/counts.sh, which counts what a server executes per
 * operation (instructions, atomic instructions, system calls) rather than timing it. So the
 * number of operations must be exact, and the measured window must hold nothing else: the
 * client opens every connection first, runs a fixed number of warm-up operations, waits until
 * every answer is in (the server is then idle, blocked in its poll), and only then tells the
 * script it may start counting; it runs exactly --ops operations, waits for every answer
 * again, and tells the script to stop counting before it closes anything. Accepts, the
 * warm-up and the closes are outside the window.
 *
 * Closed loop: each connection sends one unit and waits for the whole answer before the next.
 * A unit is one 64-byte echo message (--mode echo, one operation), or --pipeline GET requests
 * in one write (--mode http, that many operations; the answer is that many copies of the
 * benchmark's "Hello, World!" response, byte for byte). Every answer is checked.
 *
 * Plain C on the socket API, one epoll loop, one thread: it is not what is measured.
 *
 * Usage: counts_client --target 127.0.0.1:PORT [--mode echo|http] [--connections N]
 *                      [--warmup N] [--ops N] [--size BYTES] [--pipeline D] [--sync]
 *                      [--timeout S]
 * --sync: after the warm-up print "warm" and wait for a line on stdin; after the measured
 * operations print "measured" and wait again. At the end one line:
 *   ok ops=N warmup=N connections=N units=N measure_ms=T
 * Exit status 0, or 1 with the reason on stderr. Every wait is bounded by --timeout. */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNECTIONS 10000
#define MAX_PIPELINE 256
#define MAX_SIZE 65536

#define HTTP_RESPONSE                                                                              \
    "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, World!"
#define HTTP_RESPONSE_LEN (sizeof HTTP_RESPONSE - 1)

struct conn {
    int fd;
    bool busy;       /* a unit is out, its answer not complete */
    size_t got;      /* bytes of the answer so far */
    uint64_t serial; /* echo: stamped into each message */
};

static struct sockaddr_in target;
static bool http;
static unsigned nconns = 100;
static uint64_t warmup = 10000, ops = 50000;
static size_t size = 64;
static unsigned pipeline = 1;
static bool sync_mode;
static double timeout_s = 120;

static struct conn *conns;
static int epfd = -1;
static char *request; /* one unit's bytes (echo: re-stamped per message) */
static size_t request_len;
static char *expect; /* http: the answer to one unit */
static size_t answer_len;
static char *inbuf;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "counts_client: %s\n", what);
    exit(1);
}

static void die_errno(const char *what)
{
    fprintf(stderr, "counts_client: %s: %s\n", what, strerror(errno));
    exit(1);
}

static uint64_t parse_num(const char *opt, const char *v, uint64_t min, uint64_t max)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno || *end || end == v || n < min || n > max) {
        fprintf(stderr, "counts_client: %s: bad value '%s' (%llu to %llu)\n", opt, v,
                (unsigned long long)min, (unsigned long long)max);
        exit(2);
    }
    return n;
}

static void parse_args(int argc, char **argv)
{
    bool have_target = false;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (strcmp(o, "--sync") == 0) {
            sync_mode = true;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "counts_client: %s needs a value\n", o);
            exit(2);
        }
        const char *v = argv[++i];
        if (strcmp(o, "--target") == 0) {
            char host[INET_ADDRSTRLEN];
            const char *colon = strrchr(v, ':');
            if (!colon || (size_t)(colon - v) >= sizeof host)
                die("--target: want IPv4:PORT");
            memcpy(host, v, (size_t)(colon - v));
            host[colon - v] = '\0';
            target.sin_family = AF_INET;
            target.sin_port = htons((uint16_t)parse_num("--target port", colon + 1, 1, 65535));
            if (inet_pton(AF_INET, host, &target.sin_addr) != 1)
                die("--target: want IPv4:PORT");
            have_target = true;
        } else if (strcmp(o, "--mode") == 0) {
            if (strcmp(v, "echo") == 0)
                http = false;
            else if (strcmp(v, "http") == 0)
                http = true;
            else
                die("--mode: echo or http");
        } else if (strcmp(o, "--connections") == 0) {
            nconns = (unsigned)parse_num(o, v, 1, MAX_CONNECTIONS);
        } else if (strcmp(o, "--warmup") == 0) {
            warmup = parse_num(o, v, 0, UINT64_MAX / 2);
        } else if (strcmp(o, "--ops") == 0) {
            ops = parse_num(o, v, 1, UINT64_MAX / 2);
        } else if (strcmp(o, "--size") == 0) {
            size = (size_t)parse_num(o, v, 8, MAX_SIZE);
        } else if (strcmp(o, "--pipeline") == 0) {
            pipeline = (unsigned)parse_num(o, v, 1, MAX_PIPELINE);
        } else if (strcmp(o, "--timeout") == 0) {
            timeout_s = (double)parse_num(o, v, 1, 86400);
        } else {
            fprintf(stderr, "counts_client: unknown option %s\n", o);
            exit(2);
        }
    }
    if (!have_target)
        die("--target is required");
    if (!http)
        pipeline = 1;
    /* Operations come in whole units: counts that do not divide would change the window. */
    if (warmup % pipeline || ops % pipeline)
        die("--warmup and --ops must be multiples of --pipeline");
}

static void build_unit(void)
{
    if (http) {
        char one[128];
        int n = snprintf(one, sizeof one, "GET / HTTP/1.1\r\nHost: %s:%u\r\n\r\n",
                         inet_ntoa(target.sin_addr), (unsigned)ntohs(target.sin_port));
        request_len = (size_t)n * pipeline;
        answer_len = HTTP_RESPONSE_LEN * pipeline;
        request = malloc(request_len);
        expect = malloc(answer_len);
        if (!request || !expect)
            die("out of memory");
        for (unsigned i = 0; i < pipeline; i++) {
            memcpy(request + (size_t)n * i, one, (size_t)n);
            memcpy(expect + HTTP_RESPONSE_LEN * i, HTTP_RESPONSE, HTTP_RESPONSE_LEN);
        }
    } else {
        request_len = answer_len = size;
        request = malloc(size);
        if (!request)
            die("out of memory");
        for (size_t i = 0; i < size; i++)
            request[i] = (char)('a' + i % 26);
    }
    inbuf = malloc(answer_len);
    if (!inbuf)
        die("out of memory");
}

/* Writes all of buf to a non-blocking socket, waiting (bounded) when it is full. */
static void write_all(int fd, const char *buf, size_t len, int64_t deadline)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN)
            die_errno("send");
        if (now_ns() > deadline)
            die("timed out writing");
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        (void)poll(&p, 1, 100);
    }
}

static void send_unit(struct conn *c, int64_t deadline)
{
    if (!http) {
        c->serial++;
        memcpy(request, &c->serial, sizeof c->serial); /* each message differs */
    }
    c->busy = true;
    c->got = 0;
    write_all(c->fd, request, request_len, deadline);
}

/* Runs exactly `total` operations (whole units) over the connections, closed loop, and
 * returns once every answer is in. */
static void run_phase(uint64_t total, const char *name)
{
    uint64_t units = total / pipeline, issued = 0, done = 0;
    int64_t deadline = now_ns() + (int64_t)(timeout_s * 1e9);
    for (unsigned i = 0; i < nconns && issued < units; i++, issued++)
        send_unit(&conns[i], deadline);
    struct epoll_event evs[256];
    while (done < units) {
        if (now_ns() > deadline) {
            fprintf(stderr, "counts_client: %s: timed out after %llu of %llu units\n", name,
                    (unsigned long long)done, (unsigned long long)units);
            exit(1);
        }
        int n = epoll_wait(epfd, evs, 256, 200);
        if (n < 0 && errno != EINTR)
            die_errno("epoll_wait");
        for (int k = 0; k < n; k++) {
            struct conn *c = &conns[evs[k].data.u32];
            for (;;) {
                ssize_t r = recv(c->fd, inbuf + c->got, answer_len - c->got, 0);
                if (r < 0 && errno == EINTR)
                    continue;
                if (r < 0 && errno == EAGAIN)
                    break;
                if (r < 0)
                    die_errno("recv");
                if (r == 0)
                    die("the server closed a connection");
                if (!c->busy)
                    die("bytes arrived with no request out");
                c->got += (size_t)r;
                if (c->got < answer_len)
                    continue;
                const char *want = http ? expect : request;
                if (!http)
                    memcpy(request, &c->serial, sizeof c->serial);
                if (memcmp(inbuf, want, answer_len) != 0)
                    die("an answer differs from what was expected");
                c->busy = false;
                done++;
                if (issued < units) {
                    issued++;
                    send_unit(c, deadline);
                }
            }
        }
    }
}

/* --sync: tell the script where we are and wait (bounded) for its go-ahead. */
static void sync_point(const char *what)
{
    if (!sync_mode)
        return;
    printf("%s\n", what);
    fflush(stdout);
    struct pollfd p = {.fd = 0, .events = POLLIN};
    int r = poll(&p, 1, (int)(timeout_s * 1000));
    if (r <= 0)
        die("no go-ahead on stdin");
    char line[64];
    if (!fgets(line, sizeof line, stdin))
        die("stdin closed");
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    build_unit();
    conns = calloc(nconns, sizeof *conns);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!conns || epfd < 0)
        die_errno("setup");
    for (unsigned i = 0; i < nconns; i++) {
        /* Loopback connects complete in the kernel whether or not the server has accepted
         * yet (the backlog is 1024), so a blocking connect does not wait on the server. */
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&target, sizeof target) < 0)
            die_errno("connect");
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
            die_errno("fcntl");
        struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u32 = i};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
            die_errno("epoll_ctl");
        conns[i].fd = fd;
    }
    /* Every connection gets at least one exchange before the window, so the server has
     * accepted (and set up) all of them by then. */
    uint64_t min_warm = (uint64_t)nconns * pipeline;
    if (warmup < min_warm)
        warmup = min_warm;
    run_phase(warmup, "warm-up");
    sync_point("warm");
    int64_t t0 = now_ns();
    run_phase(ops, "measure");
    int64_t t1 = now_ns();
    sync_point("measured");
    for (unsigned i = 0; i < nconns; i++)
        (void)close(conns[i].fd);
    printf("ok ops=%llu warmup=%llu connections=%u units=%llu measure_ms=%.1f\n",
           (unsigned long long)ops, (unsigned long long)warmup, nconns,
           (unsigned long long)(ops / pipeline), (double)(t1 - t0) / 1e6);
    return 0;
}
