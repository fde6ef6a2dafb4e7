/*
 * test_tools.c: black-box tests of the programs that ship with cio (tools/cio-echo,
 * tools/cio-http-hello, tools/cio-relay). Each case starts a program on port 0 or a socket in
 * its temp dir, reads the "listening on ADDR" line it prints, talks to it with plain blocking
 * sockets, and stops it with SIGTERM/SIGINT, expecting exit status 0 and the summary line.
 * Covered: echo byte-exact over TCP, IPv6, Unix path and abstract sockets, with several
 * workers; HTTP pipelining, keep-alive, Connection: close, HTTP/1.0, HEAD, 400, 431, split
 * requests and the idle timeout; the relay passing 4 MiB both ways byte-exact with half-close
 * (TCP/TCP, Unix/TCP, TCP/Unix), a failing target and the connection limit; bad arguments
 * (exit 2) and a refused bind (exit 1). The programs are found next to this test's build
 * directory (build/tools/), or in $CIO_TOOLS_DIR; a missing program skips its cases.
 * HTTP also: 414, 501, 505, and the request forms the parser accepts and rejects; and real
 * clients talking to it — curl (keep-alive, HTTP/1.0), h2load (HTTP/1.1, pipelined) and wrk —
 * each skipped when not installed (scripts/install-deps.sh test installs them).
 */
/* Not labelled "threads": these tests stop the tools with SIGINT/SIGTERM, and under
 * ThreadSanitizer a signal handler that arrives while a coroutine other than the one it
 * interrupted is current can stay deferred on that coroutine's sanitizer state until it
 * runs again, so the TSan job would hang on them for reasons of the sanitizer, not of cio.
 * They run in the plain and ASan jobs; the runtime's own signal test runs under TSan. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cio/addr.h"
#include "harness.h"

#define IO_TIMEOUT_MS 20000
#define HELLO                                                                                      \
    "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, World!"
#define HELLO_LEN (sizeof(HELLO) - 1)

/* ---- finding and running the programs ---- */

static const char *tool_path(const char *name)
{
    static char path[PATH_MAX + 64];
    const char *dir = getenv("CIO_TOOLS_DIR");
    if (dir != NULL) {
        snprintf(path, sizeof(path), "%s/%s", dir, name);
    } else {
        /* This test is build/tests/tools/tools_test_tools; the tools are in build/tools. */
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        CHECK(n > 0);
        self[n] = '\0';
        for (int up = 0; up < 3; up++) {
            char *slash = strrchr(self, '/');
            CHECK(slash != NULL);
            *slash = '\0';
        }
        if ((size_t)snprintf(path, sizeof(path), "%s/tools/%s", self, name) >= sizeof(path))
            TEST_SKIP("build directory path too long");
    }
    if (access(path, X_OK) != 0)
        TEST_SKIP("%s not built (%s)", name, path);
    return path;
}

struct proc {
    pid_t pid;
    int out;                    /* the program's stdout */
    char err_path[PATH_MAX];    /* its stderr, a file in the case's temp dir */
    char addr[CIO_ADDR_STRLEN]; /* from "listening on ADDR" */
};

/* Start the program at @path as @name with the NULL-terminated @args; stdout to a pipe,
 * stderr to a file. */
static void proc_spawn_path(struct proc *p, const char *path, const char *name,
                            const char *const *args)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)name;
    for (; args != NULL && args[argc - 1] != NULL && argc < 31; argc++)
        argv[argc] = (char *)args[argc - 1];
    argv[argc] = NULL;

    static unsigned seq;
    snprintf(p->err_path, sizeof(p->err_path), "%s/%s-%u.err", cio_test_tmpdir(), name, seq++);
    int err = CHECK_SYS(open(p->err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    int pipefd[2];
    CHECK_SYS(pipe2(pipefd, O_CLOEXEC));
    fflush(stdout);
    pid_t pid = CHECK_SYS(fork());
    if (pid == 0) {
        /* If the test case dies (a failed CHECK), the program dies with it. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(pipefd[1], STDOUT_FILENO);
        dup2(err, STDERR_FILENO);
        execv(path, argv);
        _exit(127);
    }
    close(pipefd[1]);
    close(err);
    p->pid = pid;
    p->out = pipefd[0];
    p->addr[0] = '\0';
}

/* Start the cio tool @name. */
static void proc_spawn(struct proc *p, const char *name, const char *const *args)
{
    proc_spawn_path(p, tool_path(name), name, args);
}

static void print_stderr(const struct proc *p)
{
    char buf[2048];
    int fd = open(p->err_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n > 0) {
        buf[n] = '\0';
        printf("    stderr of pid %d: %s\n", (int)p->pid, buf);
    }
}

/* Read one line of the program's stdout (without the newline), waiting up to @ms. */
static bool proc_read_line(struct proc *p, char *line, size_t size, int ms)
{
    size_t len = 0;
    int64_t end = cio_test_now_ms() + ms;
    while (len + 1 < size) {
        int left = (int)(end - cio_test_now_ms());
        struct pollfd pfd = {.fd = p->out, .events = POLLIN};
        if (left <= 0 || poll(&pfd, 1, left) <= 0)
            break;
        char c;
        ssize_t n = read(p->out, &c, 1);
        if (n <= 0)
            break;
        if (c == '\n') {
            line[len] = '\0';
            return true;
        }
        line[len++] = c;
    }
    line[len] = '\0';
    return false;
}

/* Start a server and wait for its "listening on ADDR" line. */
static void server_start(struct proc *p, const char *name, const char *const *args)
{
    proc_spawn(p, name, args);
    char line[512];
    if (!proc_read_line(p, line, sizeof(line), IO_TIMEOUT_MS) ||
        strncmp(line, "listening on ", 13) != 0) {
        print_stderr(p);
        TEST_FAIL("%s: no 'listening on' line (got '%s')", name, line);
    }
    if (strlen(line + 13) >= sizeof(p->addr))
        TEST_FAIL("%s: address too long: %s", name, line);
    memcpy(p->addr, line + 13, strlen(line + 13) + 1);
}

/* Wait for the process to exit (up to @ms); returns its wait status, or -1 on timeout. */
static int proc_wait(struct proc *p, int ms)
{
    int64_t end = cio_test_now_ms() + ms;
    for (;;) {
        int status;
        pid_t r = waitpid(p->pid, &status, WNOHANG);
        if (r == p->pid)
            return status;
        CHECK(r == 0);
        if (cio_test_now_ms() > end)
            return -1;
        usleep(2000);
    }
}

/*
 * Send @sig and expect a clean exit (status 0) within a few seconds; the rest of stdout (the
 * summary) goes to @rest. Closes the pipe.
 */
static void server_stop(struct proc *p, int sig, char *rest, size_t size)
{
    CHECK_SYS(kill(p->pid, sig));
    int status = proc_wait(p, IO_TIMEOUT_MS);
    if (status == -1) {
        kill(p->pid, SIGKILL);
        (void)proc_wait(p, 5000);
        close(p->out);
        TEST_FAIL("pid %d did not exit after signal %d", (int)p->pid, sig);
    }
    size_t len = 0;
    ssize_t n;
    while (len + 1 < size && (n = read(p->out, rest + len, size - 1 - len)) > 0)
        len += (size_t)n;
    rest[len] = '\0';
    close(p->out);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        print_stderr(p);
        TEST_FAIL("pid %d: wait status 0x%x after signal %d (stdout: %s)", (int)p->pid, status, sig,
                  rest);
    }
}

/* Run the program at @path to completion (it must not be a server that starts): its exit
 * status, with stdout and stderr captured. */
static int run_path_to_exit(const char *path, const char *name, const char *const *args, char *out,
                            size_t out_size, char *err, size_t err_size)
{
    struct proc p;
    proc_spawn_path(&p, path, name, args);
    int status = proc_wait(&p, IO_TIMEOUT_MS);
    if (status == -1) {
        kill(p.pid, SIGKILL);
        (void)proc_wait(&p, 5000);
        close(p.out);
        TEST_FAIL("%s did not exit", name);
    }
    ssize_t n = read(p.out, out, out_size - 1);
    out[n > 0 ? n : 0] = '\0';
    close(p.out);
    int fd = CHECK_SYS(open(p.err_path, O_RDONLY | O_CLOEXEC));
    n = read(fd, err, err_size - 1);
    err[n > 0 ? n : 0] = '\0';
    close(fd);
    CHECK(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* run_path_to_exit() for the cio tool @name. */
static int run_to_exit(const char *name, const char *const *args, char *out, size_t out_size,
                       char *err, size_t err_size)
{
    return run_path_to_exit(tool_path(name), name, args, out, out_size, err, err_size);
}

/* Where the HTTP client @prog is installed; the case is skipped when it is not. */
static const char *client_path(const char *prog, const char *package)
{
    static char path[PATH_MAX];
    static const char *const dirs[] = {"/usr/bin", "/usr/local/bin", "/bin"};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dirs[i], prog);
        if (access(path, X_OK) == 0)
            return path;
    }
    TEST_SKIP("%s is not installed (Debian package %s; scripts/install-deps.sh test)", prog,
              package);
}

static void read_file(const char *path, char *buf, size_t size)
{
    int fd = CHECK_SYS(open(path, O_RDONLY | O_CLOEXEC));
    ssize_t n = read(fd, buf, size - 1);
    buf[n > 0 ? n : 0] = '\0';
    close(fd);
}

/* ---- clients ---- */

static void set_timeouts(int fd)
{
    struct timeval tv = {.tv_sec = IO_TIMEOUT_MS / 1000};
    CHECK_SYS(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
    CHECK_SYS(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)));
}

/* A blocking client connected to the address text a server printed. */
static int client_connect(const char *text)
{
    cio_addr addr;
    CHECK_RC(cio_addr_parse(&addr, text));
    int fd = CHECK_SYS(socket(cio_addr_sockaddr(&addr)->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    CHECK_SYS(connect(fd, cio_addr_sockaddr(&addr), cio_addr_len(&addr)));
    set_timeouts(fd);
    return fd;
}

static void send_all(int fd, const void *buf, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(fd, (const char *)buf + off, len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        CHECK_SYS(n);
        off += (size_t)n;
    }
}

static void send_str(int fd, const char *s)
{
    send_all(fd, s, strlen(s));
}

/* Read exactly @len bytes (fails on end of stream or timeout). */
static void recv_exact(int fd, void *buf, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = recv(fd, (char *)buf + off, len - off, 0);
        if (n < 0 && errno == EINTR)
            continue;
        CHECK_SYS(n);
        if (n == 0)
            TEST_FAIL("end of stream after %zu of %zu bytes", off, len);
        off += (size_t)n;
    }
}

/* Read until end of stream (a reset counts as the end too); returns the bytes read. Fails if
 * the stream does not end within the timeout. */
static size_t recv_to_eof(int fd, char *buf, size_t size)
{
    size_t len = 0;
    for (;;) {
        char scratch[4096];
        char *dst = len < size ? buf + len : scratch;
        size_t room = len < size ? size - len : sizeof(scratch);
        ssize_t n = recv(fd, dst, room, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == ECONNRESET)
            break;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            TEST_FAIL("no end of stream within %d ms (%zu bytes read)", IO_TIMEOUT_MS, len);
        CHECK_SYS(n);
        if (n == 0)
            break;
        if (dst != scratch)
            len += (size_t)n;
    }
    if (len < size)
        buf[len] = '\0';
    return len;
}

/* True if nothing arrives and the stream does not end within @ms. */
static bool quiet_for(int fd, int ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    return poll(&pfd, 1, ms) == 0;
}

/* The byte at position @i of test data @seed (not periodic at small powers of two). */
static unsigned char pattern_at(size_t i, unsigned seed)
{
    uint64_t x = (uint64_t)i * 2654435761u + seed;
    return (unsigned char)(x ^ (x >> 13) ^ (x >> 24));
}

static unsigned char *pattern(size_t len, unsigned seed)
{
    unsigned char *buf = malloc(len ? len : 1);
    CHECK(buf != NULL);
    for (size_t i = 0; i < len; i++)
        buf[i] = pattern_at(i, seed);
    return buf;
}

/*
 * Send @out while receiving (so neither side's buffers fill up), shut down writing when all
 * is sent if @shut, and receive until @in_len bytes came (or end of stream when @shut).
 * Returns the bytes received.
 */
static size_t exchange(int fd, const unsigned char *out, size_t out_len, bool shut,
                       unsigned char *in, size_t in_len)
{
    int flags = CHECK_SYS(fcntl(fd, F_GETFL));
    CHECK_SYS(fcntl(fd, F_SETFL, flags | O_NONBLOCK));
    size_t sent = 0, got = 0;
    bool shut_done = false, eof = false;
    int64_t end = cio_test_now_ms() + IO_TIMEOUT_MS;
    while (!eof && (got < in_len || (shut && !eof))) {
        if (sent == out_len && shut && !shut_done) {
            CHECK_SYS(shutdown(fd, SHUT_WR));
            shut_done = true;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN | (sent < out_len ? POLLOUT : 0)};
        int left = (int)(end - cio_test_now_ms());
        if (left <= 0)
            TEST_FAIL("exchange timed out: sent %zu/%zu, received %zu/%zu", sent, out_len, got,
                      in_len);
        if (poll(&pfd, 1, left) <= 0)
            continue;
        if (sent < out_len && (pfd.revents & POLLOUT)) {
            ssize_t n = send(fd, out + sent, out_len - sent, MSG_NOSIGNAL);
            if (n > 0)
                sent += (size_t)n;
            else if (n < 0 && errno != EAGAIN && errno != EINTR)
                TEST_FAIL("send: %s", strerror(errno));
        }
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            unsigned char scratch[65536];
            bool spare = got >= in_len;
            ssize_t n =
                recv(fd, spare ? scratch : in + got, spare ? sizeof(scratch) : in_len - got, 0);
            if (n == 0)
                eof = true;
            else if (n > 0 && !spare)
                got += (size_t)n;
            else if (n > 0)
                TEST_FAIL("%zd bytes more than the %zu expected", n, in_len);
            else if (errno != EAGAIN && errno != EINTR)
                TEST_FAIL("recv: %s", strerror(errno));
        }
    }
    CHECK_EQ(sent, out_len);
    CHECK_SYS(fcntl(fd, F_SETFL, flags));
    return got;
}

/* Echo @len bytes through a connection and check them byte for byte. */
static void echo_check(int fd, size_t len, unsigned seed)
{
    unsigned char *out = pattern(len, seed);
    unsigned char *in = malloc(len ? len : 1);
    CHECK(in != NULL);
    CHECK_EQ(exchange(fd, out, len, false, in, len), len);
    CHECK(memcmp(in, out, len) == 0);
    free(out);
    free(in);
}

static bool contains(const char *haystack, const char *needle)
{
    return strstr(haystack, needle) != NULL;
}

/* ---- echo ---- */

static const size_t echo_sizes[] = {1, 100, 4096, 65536, 1 << 20, (3 << 20) + 7};
#define ECHO_SIZES (sizeof(echo_sizes) / sizeof(echo_sizes[0]))

static uint64_t echo_all_sizes(const char *addr)
{
    uint64_t total = 0;
    int fd = client_connect(addr);
    for (size_t i = 0; i < ECHO_SIZES; i++) {
        echo_check(fd, echo_sizes[i], (unsigned)i);
        total += echo_sizes[i];
    }
    /* The server ends the connection after our end of stream. */
    CHECK_SYS(shutdown(fd, SHUT_WR));
    char c;
    CHECK_EQ(recv_to_eof(fd, &c, 1), 0);
    close(fd);
    return total;
}

static void test_echo_tcp(void)
{
    struct proc p;
    server_start(&p, "cio-echo", (const char *[]){"--listen", "127.0.0.1:0", NULL});
    CHECK(strncmp(p.addr, "127.0.0.1:", 10) == 0 && atoi(p.addr + 10) > 0);
    uint64_t total = echo_all_sizes(p.addr);
    total += echo_all_sizes(p.addr);
    char rest[512], want[128];
    server_stop(&p, SIGTERM, rest, sizeof(rest));
    snprintf(want, sizeof(want), "stopped by SIGTERM: 2 connections, %llu bytes echoed",
             (unsigned long long)total);
    CHECK(contains(rest, want));
}

static void test_echo_ipv6(void)
{
    int probe = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cio_addr any6;
    CHECK_RC(cio_addr_parse(&any6, "[::1]:0"));
    bool ok = probe >= 0 && bind(probe, cio_addr_sockaddr(&any6), cio_addr_len(&any6)) == 0;
    if (probe >= 0)
        close(probe);
    if (!ok)
        TEST_SKIP("no IPv6 loopback here");
    struct proc p;
    server_start(&p, "cio-echo", (const char *[]){"--listen", "[::1]:0", NULL});
    CHECK(strncmp(p.addr, "[::1]:", 6) == 0);
    int fd = client_connect(p.addr);
    echo_check(fd, 200000, 7);
    close(fd);
    char rest[512];
    server_stop(&p, SIGTERM, rest, sizeof(rest));
    CHECK(contains(rest, "1 connections, 200000 bytes echoed"));
}

static void test_echo_unix(void)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/echo.sock", cio_test_tmpdir());
    struct proc p;
    server_start(&p, "cio-echo", (const char *[]){"--listen", path, NULL});
    CHECK(strcmp(p.addr, path) == 0);
    uint64_t total = echo_all_sizes(p.addr);
    char rest[512], want[128];
    server_stop(&p, SIGINT, rest, sizeof(rest));
    snprintf(want, sizeof(want), "stopped by SIGINT: 1 connections, %llu bytes echoed",
             (unsigned long long)total);
    CHECK(contains(rest, want));
    /* The server removed its socket file. */
    struct stat st;
    CHECK(stat(path, &st) < 0 && errno == ENOENT);
}

static void test_echo_abstract(void)
{
    char name[64];
    snprintf(name, sizeof(name), "@cio-test-echo-%d", (int)getpid());
    struct proc p;
    server_start(&p, "cio-echo", (const char *[]){"--listen", name, NULL});
    CHECK(strcmp(p.addr, name) == 0);
    int fd = client_connect(p.addr);
    echo_check(fd, 300000, 3);
    close(fd);
    char rest[512];
    server_stop(&p, SIGTERM, rest, sizeof(rest));
    CHECK(contains(rest, "1 connections, 300000 bytes echoed"));
}

static void test_echo_workers(void)
{
    struct proc p;
    server_start(&p, "cio-echo", (const char *[]){"--workers", "3", "--buffer-size", "1000", NULL});
    int fds[8];
    for (int i = 0; i < 8; i++)
        fds[i] = client_connect(p.addr);
    /* Interleaved: every connection is open while the others are served. */
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 8; i++)
            echo_check(fds[i], 5000 + (size_t)i * 1000, (unsigned)(round * 8 + i));
    for (int i = 0; i < 8; i++)
        close(fds[i]);
    uint64_t total = 0;
    for (int i = 0; i < 8; i++)
        total += 3 * (5000 + (uint64_t)i * 1000);
    char rest[512], want[128];
    server_stop(&p, SIGTERM, rest, sizeof(rest));
    snprintf(want, sizeof(want), "8 connections, %llu bytes echoed", (unsigned long long)total);
    CHECK(contains(rest, want));
}

/* ---- http-hello ---- */

static void http_start(struct proc *p, const char *idle_ms, const char *workers)
{
    server_start(p, "cio-http-hello",
                 (const char *[]){"--listen", "127.0.0.1:0", "--idle-timeout", idle_ms, "--workers",
                                  workers, NULL});
}

static void http_stop(struct proc *p, const char *want)
{
    char rest[512];
    server_stop(p, SIGTERM, rest, sizeof(rest));
    if (!contains(rest, want))
        TEST_FAIL("summary '%s' lacks '%s'", rest, want);
}

static void test_http_pipelined(void)
{
    struct proc p;
    http_start(&p, "10000", "1");
    int fd = client_connect(p.addr);
    /* Three requests in one write: three answers, the exact bytes. */
    send_str(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
                 "GET /a HTTP/1.1\r\nHost: x\r\nUser-Agent: test\r\n\r\n"
                 "GET /b?c=d HTTP/1.1\r\nHost: x\r\n\r\n");
    char buf[4 * HELLO_LEN + 1];
    recv_exact(fd, buf, 3 * HELLO_LEN);
    for (int i = 0; i < 3; i++)
        CHECK(memcmp(buf + i * HELLO_LEN, HELLO, HELLO_LEN) == 0);
    CHECK(quiet_for(fd, 100));
    /* Still open (keep-alive): a request split across two writes gets one answer. */
    send_str(fd, "GET / HTTP/1.1\r\nHo");
    CHECK(quiet_for(fd, 50));
    send_str(fd, "st: x\r\n\r\n");
    recv_exact(fd, buf, HELLO_LEN);
    CHECK(memcmp(buf, HELLO, HELLO_LEN) == 0);
    /* A request with a body: the body is skipped, not taken for a request. */
    send_str(fd, "POST /p HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n");
    recv_exact(fd, buf, 2 * HELLO_LEN);
    CHECK(memcmp(buf, HELLO, HELLO_LEN) == 0 && memcmp(buf + HELLO_LEN, HELLO, HELLO_LEN) == 0);
    close(fd);
    http_stop(&p, "stopped by SIGTERM: 1 connections, 6 requests");
}

/* GET /metrics answers the runtime's metrics; SIGUSR1 writes them and the tasks to stderr;
 * cio-load --server-metrics shows them after its run. */
static void test_http_metrics(void)
{
    struct proc p;
    http_start(&p, "10000", "2");
    int fd = client_connect(p.addr);
    send_str(fd, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    char buf[8192];
    recv_to_eof(fd, buf, sizeof(buf) - 1);
    close(fd);
    CHECK(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK(contains(buf, "\r\n\r\nruntime: workers=2 "));
    CHECK(contains(buf, "\ntotal: tasks_live=") && contains(buf, "\nworker 1: tasks_live="));

    CHECK_SYS(kill(p.pid, SIGUSR1));
    bool dumped = false;
    for (int i = 0; i < 1000 && !dumped; i++) {
        usleep(5000);
        read_file(p.err_path, buf, sizeof(buf));
        dumped = contains(buf, "\"cio-dump\" running\n");
    }
    if (!dumped)
        TEST_FAIL("no dump on SIGUSR1; stderr: %s", buf);
    CHECK(contains(buf, "\"accept\" parked") && contains(buf, "readiness of fd"));

    char out[4096], err[8192];
    const char *load_args[] = {"--target", p.addr, "--mode",           "http",     "-c", "2", "-n",
                               "100",      "-q",   "--server-metrics", "/metrics", NULL};
    CHECK_EQ(run_to_exit("cio-load", load_args, out, sizeof(out), err, sizeof(err)), 0);
    if (!contains(err, "cio-load: the server's metrics (/metrics):\nruntime: workers=2 "))
        TEST_FAIL("cio-load stderr: %s", err);
    http_stop(&p, "stopped by SIGTERM: 4 connections, 102 requests");
}

static void test_http_close(void)
{
    struct proc p;
    http_start(&p, "10000", "2");
    char buf[1024];

    /* Connection: close, after a keep-alive request in the same batch. */
    int fd = client_connect(p.addr);
    send_str(fd, "GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nConnection: close\r\n\r\n"
                 "GET /never HTTP/1.1\r\n\r\n");
    size_t n = recv_to_eof(fd, buf, sizeof(buf));
    CHECK(n > HELLO_LEN && memcmp(buf, HELLO, HELLO_LEN) == 0);
    const char *second = buf + HELLO_LEN;
    CHECK(strncmp(second, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK(contains(second, "\r\nConnection: close\r\n"));
    CHECK(contains(second, "\r\n\r\nHello, World!"));
    CHECK(strstr(second + 1, "HTTP/1.1") == NULL); /* nothing after the close */
    close(fd);

    /* HTTP/1.0 closes by default... */
    fd = client_connect(p.addr);
    send_str(fd, "GET / HTTP/1.0\r\n\r\n");
    n = recv_to_eof(fd, buf, sizeof(buf));
    CHECK(n > 0 && contains(buf, "Connection: close") && contains(buf, "Hello, World!"));
    close(fd);

    /* ...and stays open with keep-alive; HEAD has no body. */
    fd = client_connect(p.addr);
    send_str(fd, "HEAD / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
    const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n"
                        "Connection: keep-alive\r\n\r\n";
    recv_exact(fd, buf, sizeof(head) - 1);
    CHECK(memcmp(buf, head, sizeof(head) - 1) == 0);
    CHECK(quiet_for(fd, 100));
    send_str(fd, "GET / HTTP/1.1\r\n\r\n");
    recv_exact(fd, buf, HELLO_LEN);
    CHECK(memcmp(buf, HELLO, HELLO_LEN) == 0);
    close(fd);
    http_stop(&p, "3 connections, 5 requests");
}

static void test_http_bad_request(void)
{
    struct proc p;
    http_start(&p, "10000", "1");
    char buf[1024];
    const char *bad[] = {
        "GARBAGE\r\n\r\n",
        "GET /\r\n\r\n",
        "GET / HTTP/1.1 extra\r\n\r\n",
        "GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 5x\r\n\r\n",
        "\x01\x02\x03",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int fd = client_connect(p.addr);
        send_str(fd, bad[i]);
        size_t n = recv_to_eof(fd, buf, sizeof(buf) - 1);
        buf[n] = '\0';
        if (strncmp(buf, "HTTP/1.1 400 Bad Request\r\n", 26) != 0 ||
            !contains(buf, "Connection: close\r\n"))
            TEST_FAIL("request %zu: answer '%s'", i, buf);
        close(fd);
    }
    /* A good request, then a bad one, in one write: 200, 400, close. */
    int fd = client_connect(p.addr);
    send_str(fd, "GET / HTTP/1.1\r\n\r\nBAD\r\n\r\n");
    size_t n = recv_to_eof(fd, buf, sizeof(buf) - 1);
    buf[n] = '\0';
    CHECK(n > HELLO_LEN && memcmp(buf, HELLO, HELLO_LEN) == 0);
    CHECK(strncmp(buf + HELLO_LEN, "HTTP/1.1 400 ", 13) == 0);
    close(fd);
    http_stop(&p, "7 connections, 1 requests");
}

static void test_http_oversized_header(void)
{
    struct proc p;
    http_start(&p, "10000", "1");
    /* A head larger than the server's 8 KiB buffer, still unfinished. */
    size_t big = 12 * 1024;
    char *req = malloc(big + 64);
    CHECK(req != NULL);
    strcpy(req, "GET / HTTP/1.1\r\nX-Big: ");
    size_t len = strlen(req);
    memset(req + len, 'a', big);
    len += big;
    int fd = client_connect(p.addr);
    send_all(fd, req, len);
    char buf[1024];
    size_t n = recv_to_eof(fd, buf, sizeof(buf) - 1);
    buf[n] = '\0';
    if (strncmp(buf, "HTTP/1.1 431 ", 13) != 0 || !contains(buf, "Connection: close\r\n"))
        TEST_FAIL("answer '%s'", buf);
    close(fd);
    free(req);
    http_stop(&p, "1 connections, 0 requests");
}

static void test_http_idle_timeout(void)
{
    struct proc p;
    http_start(&p, "300", "1");
    char buf[256];

    /* Silent client: closed after about 300 ms. */
    int fd = client_connect(p.addr);
    int64_t start = cio_test_now_ms();
    CHECK_EQ(recv_to_eof(fd, buf, sizeof(buf)), 0);
    int64_t ms = cio_test_now_ms() - start;
    if (ms < 250 || ms > 5000)
        TEST_FAIL("idle connection closed after %lld ms, expected about 300", (long long)ms);
    close(fd);

    /* Idle after a request, and with half a request: closed too. */
    fd = client_connect(p.addr);
    send_str(fd, "GET / HTTP/1.1\r\n\r\nGET / HT");
    start = cio_test_now_ms();
    size_t n = recv_to_eof(fd, buf, sizeof(buf));
    ms = cio_test_now_ms() - start;
    CHECK_EQ(n, HELLO_LEN);
    CHECK(ms >= 250 && ms < 5000);
    close(fd);

    /* A client that keeps talking is not cut off by the timeout of a single wait. */
    fd = client_connect(p.addr);
    for (int i = 0; i < 5; i++) {
        usleep(150 * 1000);
        send_str(fd, "GET / HTTP/1.1\r\n\r\n");
        recv_exact(fd, buf, HELLO_LEN);
    }
    close(fd);
    http_stop(&p, "3 connections, 6 requests");
}

/* One request (@len bytes) on its own connection: the answer must start with @status_line and
 * close the connection. */
static void http_expect_error(const char *addr, const char *req, size_t len,
                              const char *status_line)
{
    int fd = client_connect(addr);
    send_all(fd, req, len);
    char buf[1024];
    size_t n = recv_to_eof(fd, buf, sizeof(buf) - 1);
    buf[n] = '\0';
    if (strncmp(buf, status_line, strlen(status_line)) != 0 ||
        !contains(buf, "Connection: close\r\n"))
        TEST_FAIL("request '%.60s': answer '%s', expected '%s'", req, buf, status_line);
    close(fd);
}

static void test_http_error_statuses(void)
{
    struct proc p;
    http_start(&p, "10000", "1");
    static const struct {
        const char *req, *status_line;
    } cases[] = {
        {"GET / HTTP/2.0\r\n\r\n", "HTTP/1.1 505 HTTP Version Not Supported\r\n"},
        {"GET / HTTP/0.9\n\n", "HTTP/1.1 505 "},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
         "HTTP/1.1 501 Not Implemented\r\n"},
        {"POST / HTTP/1.1\r\ntRANSFER-eNCODING: gzip\r\n\r\n", "HTTP/1.1 501 "},
        {"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", "HTTP/1.1 400 "},
        {"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "HTTP/1.1 400 "},
        {"GET / HTTP/1.1\r\nContent-Length:\r\n\r\n", "HTTP/1.1 400 "},
        {"GET / HTTP/1.1\r\nContent-Length: 184467440737095516090\r\n\r\n", "HTTP/1.1 400 "},
        {"GET / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", "HTTP/1.1 400 "},
        {"GET / HTTP/1.1\r\nHost : x\r\n\r\n", "HTTP/1.1 400 "},
        {"GET / HTTP/1.1\r\n: x\r\n\r\n", "HTTP/1.1 400 "},
        {"GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n", "HTTP/1.1 400 "},
        {"GET / HTTP/1.1\r\nX-A: a\x7f\r\n\r\n", "HTTP/1.1 400 "},
        {"GET / HTTP/1.1\r\nX-A: a\r\r\n\r\n", "HTTP/1.1 400 "},
        {"GET  / HTTP/1.1\r\n\r\n", "HTTP/1.1 400 "},
        {"GET /a\x7f HTTP/1.1\r\n\r\n", "HTTP/1.1 400 "},
        {"G(T / HTTP/1.1\r\n\r\n", "HTTP/1.1 400 "},
        {"GET / HTTP/1.1x\r\n\r\n", "HTTP/1.1 400 "},
        {"GET / http/1.1\r\n\r\n", "HTTP/1.1 400 "},
        {"\r\rGET / HTTP/1.1\r\n\r\n", "HTTP/1.1 400 "},
        {"GET /\x01", "HTTP/1.1 400 "}, /* no line end needed to reject this one */
    };
    size_t n = sizeof(cases) / sizeof(cases[0]);
    for (size_t i = 0; i < n; i++)
        http_expect_error(p.addr, cases[i].req, strlen(cases[i].req), cases[i].status_line);

    /* A request line longer than the 8 KiB buffer: 414. */
    size_t big = 9 * 1024;
    char *req = malloc(big);
    CHECK(req != NULL);
    memcpy(req, "GET /", 5);
    memset(req + 5, 'a', big - 5);
    http_expect_error(p.addr, req, big, "HTTP/1.1 414 URI Too Long\r\n");
    free(req);

    /* A bad byte in a header line is judged when the line is complete, not before. */
    int fd = client_connect(p.addr);
    send_str(fd, "GET / HTTP/1.1\r\nX-A: \x01");
    CHECK(quiet_for(fd, 100));
    send_str(fd, "\r\n\r\n");
    char buf[1024];
    size_t len = recv_to_eof(fd, buf, sizeof(buf) - 1);
    buf[len] = '\0';
    if (strncmp(buf, "HTTP/1.1 400 ", 13) != 0)
        TEST_FAIL("answer '%s'", buf);
    close(fd);

    char want[64];
    snprintf(want, sizeof(want), "%zu connections, 0 requests", n + 2);
    http_stop(&p, want);
}

static void test_http_accepted_forms(void)
{
    struct proc p;
    http_start(&p, "10000", "1");
    char buf[1024];
    int fd = client_connect(p.addr);
    static const char *const good[] = {
        "\r\n\nGET / HTTP/1.1\nHost: x\n\n", /* empty lines first, bare LF */
        "GET / HTTP/1.1\r\nX-Obs: \x80\xff\t v \t\r\nHost:x\r\nX-Empty:\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\ncontent-length: 3\r\nCONTENT-LENGTH:  3 \r\n\r\nabc",
        "GET /a?b=c&d=%20 HTTP/1.9\r\n\r\n",
        "GET / HTTP/1.1\r\nConnection: upgrade, keep-alive\r\nConnection: closed\r\n\r\n",
        "M-SEARCH / HTTP/1.1\r\nConnection: xclose, close x\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        send_str(fd, good[i]);
        recv_exact(fd, buf, HELLO_LEN);
        if (memcmp(buf, HELLO, HELLO_LEN) != 0)
            TEST_FAIL("request %zu: answer '%.*s'", i, (int)HELLO_LEN, buf);
    }
    /* HEAD over HTTP/1.1: the head alone, the connection stays open. */
    send_str(fd, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
    const size_t head_len = HELLO_LEN - 13;
    recv_exact(fd, buf, head_len);
    CHECK(memcmp(buf, HELLO, head_len) == 0);
    CHECK(quiet_for(fd, 100));
    /* Pipelined batches that end inside a header line, then inside a request line. */
    send_str(fd, "GET / HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\nHo");
    recv_exact(fd, buf, HELLO_LEN);
    CHECK(memcmp(buf, HELLO, HELLO_LEN) == 0);
    CHECK(quiet_for(fd, 100));
    send_str(fd, "st: x\r\n\r\nGET /y HT");
    recv_exact(fd, buf, HELLO_LEN);
    CHECK(memcmp(buf, HELLO, HELLO_LEN) == 0);
    CHECK(quiet_for(fd, 100));
    send_str(fd, "TP/1.1\r\n\r\n");
    recv_exact(fd, buf, HELLO_LEN);
    CHECK(memcmp(buf, HELLO, HELLO_LEN) == 0);
    /* "close" among other options, in any case: the last answer. */
    send_str(fd, "GET / HTTP/1.1\r\nConnection: x, CLOSE ,y\r\n\r\nGET / HTTP/1.1\r\n\r\n");
    size_t n = recv_to_eof(fd, buf, sizeof(buf) - 1);
    CHECK(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0 &&
          contains(buf, "\r\nConnection: close\r\n"));
    CHECK(n > 13 && memcmp(buf + n - 13, "Hello, World!", 13) == 0);
    CHECK(strstr(buf + 1, "HTTP/1.1") == NULL);
    close(fd);

    /* HTTP/1.0: keep-alive, then close in a second Connection field; close wins. */
    fd = client_connect(p.addr);
    send_str(fd, "GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n");
    n = recv_to_eof(fd, buf, sizeof(buf) - 1);
    CHECK(n > 0 && contains(buf, "\r\nConnection: close\r\n") && contains(buf, "Hello, World!"));
    close(fd);
    http_stop(&p, "2 connections, 12 requests");
}

/* ---- http-hello with real clients: curl, h2load, wrk ---- */

/* curl: two URLs on one kept-alive connection, then HTTP/1.0 (one request, then close). */
static void test_http_curl(void)
{
    const char *curl = client_path("curl", "curl");
    struct proc p;
    http_start(&p, "10000", "1");
    char url1[CIO_ADDR_STRLEN + 32], url2[CIO_ADDR_STRLEN + 32];
    snprintf(url1, sizeof(url1), "http://%s/", p.addr);
    snprintf(url2, sizeof(url2), "http://%s/second?x=1", p.addr);
    char out[4096], err[16384];
    int rc = run_path_to_exit(curl, "curl",
                              (const char *[]){"-sS", "-v", "--max-time", "10", url1, url2, NULL},
                              out, sizeof(out), err, sizeof(err));
    if (rc != 0)
        TEST_FAIL("curl exited %d: %s", rc, err);
    CHECK(strcmp(out, "Hello, World!Hello, World!") == 0);
    if (!contains(err, "Re-using existing connection"))
        TEST_FAIL("curl did not keep the connection alive: %s", err);
    rc = run_path_to_exit(
        curl, "curl", (const char *[]){"-sS", "-v", "--http1.0", "--max-time", "10", url1, NULL},
        out, sizeof(out), err, sizeof(err));
    if (rc != 0)
        TEST_FAIL("curl --http1.0 exited %d: %s", rc, err);
    CHECK(strcmp(out, "Hello, World!") == 0);
    http_stop(&p, "stopped by SIGTERM: 2 connections, 3 requests");
}

/* A client run against a fresh cio-http-hello (left running in p). */
struct client_run {
    struct proc p;
    char out[8192];
    char err[4096];
};

/* Start cio-http-hello and run the client @prog (Debian @package) with @args followed by the
 * server's URL; the case fails unless it exits 0. */
static void http_client_run(struct client_run *r, const char *prog, const char *package,
                            const char *const *args)
{
    const char *path = client_path(prog, package);
    http_start(&r->p, "10000", "1");
    char url[CIO_ADDR_STRLEN + 32];
    snprintf(url, sizeof(url), "http://%s/", r->p.addr);
    const char *argv[16];
    size_t n = 0;
    for (; args[n] != NULL && n < 14; n++)
        argv[n] = args[n];
    argv[n++] = url;
    argv[n] = NULL;
    int rc = run_path_to_exit(path, prog, argv, r->out, sizeof(r->out), r->err, sizeof(r->err));
    if (rc != 0)
        TEST_FAIL("%s exited %d: %s %s", prog, rc, r->out, r->err);
}

/* h2load in HTTP/1.1 mode: 2,000 requests over 10 connections, 8 pipelined on each. */
static void test_http_h2load(void)
{
    struct client_run r;
    http_client_run(&r, "h2load", "nghttp2-client",
                    (const char *[]){"--h1", "-n", "2000", "-c", "10", "-m", "8", NULL});
    if (!contains(r.out, "2000 succeeded, 0 failed, 0 errored") ||
        !contains(r.out, "status codes: 2000 2xx"))
        TEST_FAIL("h2load: %s", r.out);
    http_stop(&r.p, "stopped by SIGTERM: 10 connections, 2000 requests");
}

/* wrk for a second on 10 connections: answers, and none that is not a 2xx. */
static void test_http_wrk(void)
{
    struct client_run r;
    http_client_run(&r, "wrk", "wrk",
                    (const char *[]){"-t1", "-c10", "-d1s", "--timeout", "5s", NULL});
    if (!contains(r.out, " requests in ") || contains(r.out, "Non-2xx") ||
        contains(r.out, "Socket errors"))
        TEST_FAIL("wrk: %s", r.out);
    http_stop(&r.p, "stopped by SIGTERM: "); /* 10 connections and the one wrk tries first */
}

/* ---- relay ---- */

/* The relay sends the client its end of stream from inside the copy, a moment before the
 * connection's task returns and counts it; a SIGTERM in between would find it still running
 * (and count it as cancelled). Give it that moment. */
static void settle(void)
{
    usleep(100 * 1000);
}

#define RELAY_BYTES (4u << 20)

/* A target run by the test: accepts one connection, reads until end of stream, then sends
 * what it read back (so the answer flows only after the client's half-close crossed the
 * relay), then closes. */
struct sink_target {
    int listen_fd;
    size_t received;
    bool matched;
};

static void *sink_target_run(void *arg)
{
    struct sink_target *t = arg;
    int fd = accept4(t->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return NULL;
    set_timeouts(fd);
    unsigned char *buf = malloc(RELAY_BYTES + 1);
    size_t len = 0;
    for (;;) {
        ssize_t n = recv(fd, buf + len, RELAY_BYTES + 1 - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len > RELAY_BYTES)
            break;
    }
    t->received = len;
    t->matched = len == RELAY_BYTES;
    for (size_t i = 0; t->matched && i < len; i++)
        t->matched = buf[i] == pattern_at(i, 42);
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    free(buf);
    close(fd);
    return NULL;
}

/* A listening socket for a sink target: TCP on 127.0.0.1:0, or Unix at @path. */
static int target_listen(const char *path, char *ret_text, size_t size)
{
    cio_addr addr;
    CHECK_RC(cio_addr_parse(&addr, path ? path : "127.0.0.1:0"));
    int fd = CHECK_SYS(socket(cio_addr_sockaddr(&addr)->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    CHECK_SYS(bind(fd, cio_addr_sockaddr(&addr), cio_addr_len(&addr)));
    CHECK_SYS(listen(fd, 16));
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    CHECK_SYS(getsockname(fd, (struct sockaddr *)&ss, &len));
    CHECK_RC(cio_addr_from_sockaddr(&addr, (struct sockaddr *)&ss, len));
    CHECK_RC(cio_addr_format(&addr, ret_text, size));
    return fd;
}

/* 4 MiB through the relay and back: send it all, shut down writing, receive it all. */
static void relay_round_trip(const char *listen, const char *target_path, const char *workers)
{
    struct sink_target t = {0};
    char target[CIO_ADDR_STRLEN];
    t.listen_fd = target_listen(target_path, target, sizeof(target));
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, sink_target_run, &t) == 0);

    struct proc p;
    server_start(
        &p, "cio-relay",
        (const char *[]){"--listen", listen, "--target", target, "--workers", workers, NULL});
    int fd = client_connect(p.addr);
    unsigned char *out = pattern(RELAY_BYTES, 42);
    unsigned char *in = malloc(RELAY_BYTES);
    CHECK(in != NULL);
    size_t got = exchange(fd, out, RELAY_BYTES, true, in, RELAY_BYTES);
    CHECK(pthread_join(thread, NULL) == 0);
    close(t.listen_fd);
    CHECK_EQ(t.received, RELAY_BYTES);
    CHECK(t.matched);
    CHECK_EQ(got, RELAY_BYTES);
    CHECK(memcmp(in, out, RELAY_BYTES) == 0);
    close(fd);
    free(out);
    free(in);
    settle();

    char rest[512], log[2048];
    server_stop(&p, SIGTERM, rest, sizeof(rest));
    CHECK(contains(rest, "stopped by SIGTERM: 1 connections (0 failed), 4194304 bytes up, "
                         "4194304 bytes down"));
    read_file(p.err_path, log, sizeof(log));
    if (!contains(log, "up 4194304 B, down 4194304 B") || !contains(log, ", ok") ||
        !contains(log, target))
        TEST_FAIL("relay log: %s", log);
}

static void test_relay_tcp(void)
{
    relay_round_trip("127.0.0.1:0", NULL, "2");
}

static void test_relay_unix_to_tcp(void)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/relay.sock", cio_test_tmpdir());
    relay_round_trip(path, NULL, "1");
}

static void test_relay_tcp_to_unix(void)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/target.sock", cio_test_tmpdir());
    relay_round_trip("127.0.0.1:0", path, "1");
}

static void test_relay_connect_failure(void)
{
    /* A port nobody listens on: bound, read back, closed. */
    char target[CIO_ADDR_STRLEN];
    close(target_listen(NULL, target, sizeof(target)));
    struct proc p;
    server_start(&p, "cio-relay",
                 (const char *[]){"--target", target, "--connect-timeout", "2000", NULL});
    int fd = client_connect(p.addr);
    char buf[16];
    CHECK_EQ(recv_to_eof(fd, buf, sizeof(buf)), 0); /* closed without a byte */
    close(fd);
    char rest[512], log[2048];
    server_stop(&p, SIGTERM, rest, sizeof(rest));
    CHECK(contains(rest, "1 connections (1 failed)"));
    read_file(p.err_path, log, sizeof(log));
    if (!contains(log, "connect failed") || !contains(log, "refused"))
        TEST_FAIL("relay log: %s", log);
}

static void test_relay_max_conns(void)
{
    struct proc echo, relay;
    server_start(&echo, "cio-echo", NULL);
    server_start(&relay, "cio-relay",
                 (const char *[]){"--target", echo.addr, "--max-conns", "1", "--quiet", NULL});
    int first = client_connect(relay.addr);
    echo_check(first, 1000, 1);
    /* The second client waits in the backlog: no answer while the first is open. */
    int second = client_connect(relay.addr);
    send_str(second, "waiting");
    CHECK(quiet_for(second, 300));
    close(first);
    char buf[8];
    recv_exact(second, buf, 7);
    CHECK(memcmp(buf, "waiting", 7) == 0);
    CHECK_SYS(shutdown(second, SHUT_WR));
    CHECK_EQ(recv_to_eof(second, buf, sizeof(buf)), 0);
    close(second);
    settle();
    char rest[512], log[512];
    server_stop(&relay, SIGTERM, rest, sizeof(rest));
    if (!contains(rest, "2 connections (0 failed), 1007 bytes up, 1007 bytes down"))
        TEST_FAIL("summary: %s", rest);
    read_file(relay.err_path, log, sizeof(log));
    CHECK(log[0] == '\0'); /* --quiet */
    server_stop(&echo, SIGTERM, rest, sizeof(rest));
}

/* ---- command lines ---- */

static void expect_usage_error(const char *name, const char *const *args, const char *message)
{
    char out[4096], err[4096];
    int status = run_to_exit(name, args, out, sizeof(out), err, sizeof(err));
    if (status != 2 || !contains(err, message) || !contains(err, "--help"))
        TEST_FAIL("%s %s: exit %d, stderr '%s'", name, args[0] ? args[0] : "", status, err);
    CHECK(out[0] == '\0'); /* nothing on stdout: no "listening on" */
}

static void test_bad_arguments(void)
{
    const char *servers[] = {"cio-echo", "cio-http-hello", "cio-relay"};
    for (size_t i = 0; i < 3; i++) {
        const char *name = servers[i];
        char out[4096], err[4096];
        CHECK_EQ(
            run_to_exit(name, (const char *[]){"--help", NULL}, out, sizeof(out), err, sizeof(err)),
            0);
        CHECK(strncmp(out, "Usage: ", 7) == 0 && contains(out, "--listen"));
        expect_usage_error(name, (const char *[]){"--frobnicate", NULL}, "unknown argument");
        expect_usage_error(name, (const char *[]){"extra", NULL}, "unknown argument");
        expect_usage_error(name, (const char *[]){"--listen", NULL}, "needs a value");
        /* cio-relay also needs a target; it goes last so the others end the list there. */
        const char *t = strcmp(name, "cio-relay") == 0 ? "--target" : NULL;
        expect_usage_error(name, (const char *[]){"--listen", "nonsense", t, "/x", NULL},
                           "not an address");
        expect_usage_error(name, (const char *[]){"--listen", "127.0.0.1:99999", t, "/x", NULL},
                           "not an address");
        expect_usage_error(name, (const char *[]){"--workers", "0", t, "/x", NULL}, "out of range");
        expect_usage_error(name, (const char *[]){"--workers=abc", t, "/x", NULL}, "not a number");
    }
    expect_usage_error("cio-echo", (const char *[]){"--buffer-size", "-5", NULL}, "not a number");
    expect_usage_error("cio-http-hello", (const char *[]){"--idle-timeout", "1e3", NULL},
                       "not a number");
    expect_usage_error("cio-relay", (const char *[]){NULL}, "--target is required");
    expect_usage_error("cio-relay", (const char *[]){"--target", "host:port", NULL},
                       "not an address");
    expect_usage_error("cio-relay",
                       (const char *[]){"--target", "127.0.0.1:1", "--max-conns", "x", NULL},
                       "not a number");
}

static void test_bind_failure(void)
{
    /* A file where the socket should go: the server cannot start (exit 1, not 2). */
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/taken", cio_test_tmpdir());
    close(CHECK_SYS(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)));
    char out[4096], err[4096];
    int status = run_to_exit("cio-echo", (const char *[]){"--listen", path, NULL}, out, sizeof(out),
                             err, sizeof(err));
    if (status != 1 || !contains(err, "cannot listen"))
        TEST_FAIL("exit %d, stderr '%s'", status, err);
    /* The file was left alone. */
    struct stat st;
    CHECK_SYS(stat(path, &st));
    CHECK(S_ISREG(st.st_mode));
}

CIO_TEST_MAIN(TEST(test_echo_tcp), TEST(test_echo_ipv6), TEST(test_echo_unix),
              TEST(test_echo_abstract), TEST(test_echo_workers), TEST(test_http_pipelined),
              TEST(test_http_metrics), TEST(test_http_close), TEST(test_http_bad_request),
              TEST(test_http_oversized_header), TEST(test_http_idle_timeout),
              TEST(test_http_error_statuses), TEST(test_http_accepted_forms), TEST(test_http_curl),
              TEST(test_http_h2load), TEST(test_http_wrk), TEST(test_relay_tcp),
              TEST(test_relay_unix_to_tcp), TEST(test_relay_tcp_to_unix),
              TEST(test_relay_connect_failure), TEST(test_relay_max_conns),
              TEST(test_bad_arguments), TEST(test_bind_failure))
