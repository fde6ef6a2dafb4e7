/*
 * test_tcp_async.c: the async operations only TCP has, on real loopback sockets, one runtime
 * worker — connecting with the socket builder (options set before the connect), streams
 * adopted from and handed back as descriptors, IPv6 loopback, sendfile, connect failures
 * (refused, cut by a deadline) that leave no descriptor behind, accept under descriptor
 * exhaustion, and argument errors. What TCP shares with Unix streams is tested for both in
 * test_stream_async*.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stream_kinds.h"

/* Accepting in a task of its own while the main task connects; the builder connects. */
static void *main_builder(void *arg)
{
    (void)arg;
    cio_addr addr;
    cio_tcp_listener *l = listen_local(&addr, CIO_LISTEN_BACKLOG_DEFAULT);
    struct stream_acceptor a = {&stream_kind_tcp, cio_as_socket(l), 2};
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, stream_accept_and_echo, &a));
    for (int i = 0; i < 2; i++) {
        cio_tcp_socket *sk;
        CHECK_RC(cio_tcp_socket_new_v4(&sk));
        CHECK_RC(cio_tcp_set_nodelay(sk, true));
        cio_tcp_stream *c;
        CHECK_RC(cio_tcp_socket_connect(sk, &addr, &c));
        bool nodelay = false;
        CHECK_RC(cio_tcp_nodelay(c, &nodelay));
        CHECK(nodelay);
        stream_echo_to_end(cio_as_stream(c));
        cio_socket_close(c);
    }
    CHECK_RC(cio_task_join(t, NULL, NULL));
    /* The builder is consumed on failure too (the leak check sees it closed). */
    cio_tcp_socket *sk;
    CHECK_RC(cio_tcp_socket_new_v4(&sk));
    cio_tcp_stream *c;
    CHECK_ERR(cio_tcp_socket_connect(sk, NULL, &c), -EINVAL);
    CHECK_RC(cio_tcp_socket_new_v6(&sk));
    CHECK_ERR(cio_tcp_socket_connect(sk, &addr, &c), -EAFNOSUPPORT);
    cio_socket_close(l);
    return NULL;
}

static void test_builder_connect(void)
{
    run(main_builder, NULL);
}

/* Streams adopted from a descriptor, and handed back after the runtime registered them;
 * IPv6 loopback. */
static void *main_fd_conversions(void *arg)
{
    (void)arg;
    cio_tcp_stream *c, *s;
    tcp_pair(&c, &s);
    CHECK_RC(cio_stream_write_all(c, "one", 3, NULL));
    char buf[8];
    CHECK_RC(cio_stream_read_exact(s, buf, 3, NULL));
    /* Registered now (ready() registers); into_fd drops the registration, from_fd starts
     * afresh. */
    CHECK(cio_socket_writable(s) & CIO_READY_WRITABLE);
    int fd = CHECK_RC(cio_socket_into_fd(s));
    CHECK_RC(cio_tcp_stream_from_fd(&s, fd));
    CHECK_RC(cio_stream_write_all(c, "two", 3, NULL));
    CHECK_RC(cio_stream_read_exact(s, buf, 3, NULL));
    CHECK(memcmp(buf, "two", 3) == 0);
    CHECK_RC(cio_stream_write_all(s, "back", 4, NULL));
    CHECK_RC(cio_stream_read_exact(c, buf, 4, NULL));
    CHECK(memcmp(buf, "back", 4) == 0);
    cio_socket_close(c);
    cio_socket_close(s);

    cio_addr addr6;
    cio_tcp_listener *l6;
    CHECK_RC(cio_addr_parse(&addr6, "[::1]:0"));
    int rc = cio_tcp_listener_new(&l6, &addr6, CIO_LISTEN_BACKLOG_DEFAULT);
    if (rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT)
        return (void *)"no IPv6 loopback";
    CHECK_RC(rc);
    CHECK_RC(cio_socket_local_addr(l6, &addr6));
    CHECK_RC(cio_tcp_stream_connect_addr(&c, &addr6));
    cio_addr peer;
    CHECK_RC(cio_tcp_listener_accept(l6, &s, &peer));
    CHECK_EQ(cio_addr_get_kind(&peer), CIO_ADDR_IPV6);
    CHECK_RC(cio_stream_write_all(s, "v6", 2, NULL));
    CHECK_RC(cio_stream_read_exact(c, buf, 2, NULL));
    CHECK(memcmp(buf, "v6", 2) == 0);
    cio_socket_close(c);
    cio_socket_close(s);
    cio_socket_close(l6);
    return NULL;
}

static void test_fd_conversions_and_ipv6(void)
{
    cio_rt *rt;
    CHECK_RC(cio_rt_new(&rt, NULL));
    void *skip = NULL;
    CHECK_RC(cio_rt_block_on(rt, main_fd_conversions, NULL, &skip));
    cio_rt_free(rt);
    if (skip != NULL)
        TEST_SKIP("%s", (const char *)skip);
}

/* ---- sendfile ---- */

static void *main_sendfile(void *arg)
{
    (void)arg;
    char path[512];
    snprintf(path, sizeof(path), "%s/data", cio_test_tmpdir());
    enum { LEN = 3 << 20 };
    unsigned char *data = xmalloc(LEN);
    pattern_fill(data, LEN, 0, 5);
    int fd = (int)CHECK_SYS(open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    CHECK_EQ(write(fd, data, LEN), LEN);
    free(data);
    cio_tcp_stream *c, *s;
    tcp_pair(&c, &s);
    struct stream_sink sink = {cio_as_stream(s), LEN, 5};
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, stream_pattern_sink, &sink));
    int64_t off = 0;
    while (off < LEN) {
        ssize_t n = CHECK_RC(cio_tcp_stream_sendfile(c, fd, &off, (size_t)(LEN - off)));
        CHECK(n > 0);
    }
    CHECK_EQ(off, LEN);
    CHECK_EQ(cio_tcp_stream_sendfile(c, fd, &off, 100), 0); /* end of file */
    CHECK_RC(cio_task_join(t, NULL, NULL));
    CHECK_ERR(cio_tcp_stream_sendfile(c, -1, &off, 1), -EBADF);
    close(fd);
    cio_socket_close(c);
    cio_socket_close(s);
    return NULL;
}

static void test_sendfile(void)
{
    run(main_sendfile, NULL);
}

/* ---- connect failures leave nothing open ---- */

static void *main_refused(void *arg)
{
    (void)arg;
    cio_addr addr;
    cio_tcp_listener *l = listen_local(&addr, CIO_LISTEN_BACKLOG_DEFAULT);
    cio_socket_close(l); /* the port is free now: connecting is refused */
    int before = cio_test_open_fds();
    cio_tcp_stream *c = NULL;
    CHECK_ERR(cio_tcp_stream_connect_addr(&c, &addr), -ECONNREFUSED);
    CHECK(c == NULL);
    cio_tcp_socket *sk;
    CHECK_RC(cio_tcp_socket_new_v4(&sk));
    CHECK_ERR(cio_tcp_socket_connect(sk, &addr, &c), -ECONNREFUSED);
    CHECK(c == NULL);
    CHECK_EQ(cio_test_open_fds(), before);
    return NULL;
}

static void test_connect_refused(void)
{
    run(main_refused, NULL);
}

static void *main_connect_deadline(void *arg)
{
    (void)arg;
    /* A listener that never accepts, with a backlog of 0 (one queued connection): once the
     * backlog is full Linux drops further SYNs, so a new connect hangs in SYN_SENT. */
    cio_addr addr;
    cio_tcp_listener *l = listen_local(&addr, 0);
    enum { FILL = 4 };
    cio_tcp_stream *fill[FILL];
    for (int i = 0; i < FILL; i++)
        CHECK_RC(cio_tcp_stream_try_connect(&fill[i], &addr));
    CHECK_RC(cio_sleep(50 * CIO_NSEC_PER_MSEC));
    int before = cio_test_open_fds();
    cio_tcp_stream *c = NULL;
    cio_time start = cio_now();
    int rc = CIO_TIMEOUT(100 * CIO_NSEC_PER_MSEC, cio_tcp_stream_connect_addr(&c, &addr));
    if (rc == 0) {
        cio_socket_close(c);
        TEST_SKIP("the kernel queued a connection beyond a full backlog");
    }
    CHECK_ERR(rc, -ETIMEDOUT);
    CHECK(cio_now() - start >= 90 * CIO_NSEC_PER_MSEC);
    CHECK(cio_now() - start < 2 * CIO_NSEC_PER_SEC);
    CHECK(c == NULL);
    CHECK_EQ(cio_test_open_fds(), before);
    /* The builder: cut by a deadline, consumed and closed. */
    cio_tcp_socket *sk;
    CHECK_RC(cio_tcp_socket_new_v4(&sk));
    CHECK_ERR(CIO_TIMEOUT(50 * CIO_NSEC_PER_MSEC, cio_tcp_socket_connect(sk, &addr, &c)),
              -ETIMEDOUT);
    CHECK_EQ(cio_test_open_fds(), before);
    for (int i = 0; i < FILL; i++)
        cio_socket_close(fill[i]);
    cio_socket_close(l);
    return NULL;
}

static void test_connect_deadline_leaves_nothing(void)
{
    run(main_connect_deadline, NULL);
}

/* ---- accept out of descriptors ---- */

static void *main_emfile(void *arg)
{
    (void)arg;
    cio_addr addr;
    cio_tcp_listener *l = listen_local(&addr, CIO_LISTEN_BACKLOG_DEFAULT);
    cio_tcp_stream *c1, *c2, *s;
    CHECK_RC(cio_tcp_stream_connect_addr(&c1, &addr));
    /* The lowest free descriptor number becomes the limit: accept4 cannot get one. */
    int probe = (int)CHECK_SYS(fcntl(0, F_DUPFD_CLOEXEC, 0));
    close(probe);
    struct rlimit old, low;
    CHECK_SYS(getrlimit(RLIMIT_NOFILE, &old));
    low = old;
    low.rlim_cur = (rlim_t)probe;
    CHECK_SYS(setrlimit(RLIMIT_NOFILE, &low));
    int rc = cio_tcp_listener_accept(l, &s, NULL);
    CHECK_SYS(setrlimit(RLIMIT_NOFILE, &old));
    CHECK_ERR(rc, -EMFILE);
    /* The pending connection was shed: its client sees the connection end. */
    char b;
    ssize_t n = cio_stream_read(c1, &b, 1);
    CHECK(n == 0 || n == -ECONNRESET);
    /* With descriptors back, the next connection is accepted normally. */
    CHECK_RC(cio_tcp_stream_connect_addr(&c2, &addr));
    CHECK_RC(cio_tcp_listener_accept(l, &s, NULL));
    CHECK_EQ(cio_stream_write(c2, "k", 1), 1);
    CHECK_EQ(cio_stream_read(s, &b, 1), 1);
    cio_socket_close(s);
    cio_socket_close(c1);
    cio_socket_close(c2);
    cio_socket_close(l);
    return NULL;
}

static void test_accept_emfile(void)
{
    run(main_emfile, NULL);
}

/* ---- argument errors ---- */

static void *main_errors(void *arg)
{
    (void)arg;
    char buf[4];
    size_t done = 7;
    CHECK_ERR((cio_stream_read)(NULL, buf, 1), -EINVAL);
    CHECK_ERR((cio_stream_read_exact)(NULL, buf, 1, &done), -EINVAL);
    CHECK_EQ(done, 0);
    CHECK_ERR((cio_stream_write)(NULL, buf, 1), -EINVAL);
    CHECK_ERR((cio_stream_write_all)(NULL, buf, 1, NULL), -EINVAL);
    CHECK_ERR((cio_stream_peek)(NULL, buf, 1), -EINVAL);
    CHECK_ERR((cio_socket_ready)(NULL, CIO_READABLE), -EINVAL);
    CHECK_ERR((cio_stream_copy)(NULL, NULL, NULL), -EINVAL);
    CHECK_ERR(cio_tcp_listener_accept(NULL, NULL, NULL), -EINVAL);
    CHECK_ERR(cio_tcp_stream_connect_addr(NULL, NULL), -EINVAL);
    CHECK_ERR(cio_tcp_socket_connect(NULL, NULL, NULL), -EINVAL);
    cio_tcp_stream *c, *s;
    tcp_pair(&c, &s);
    CHECK_ERR(cio_stream_read(c, NULL, 1), -EINVAL);
    CHECK_ERR(cio_socket_ready(c, 0), -EINVAL);
    CHECK_ERR(cio_socket_ready(c, 1u << 7), -EINVAL);
    CHECK_ERR((cio_socket_poll_ready)(NULL, CIO_READABLE, NULL, NULL), -EINVAL);
    CHECK_ERR(cio_socket_poll_ready(c, 0, NULL, NULL), -EINVAL);
    CHECK_ERR(cio_stream_copy_bidirectional(c, c, NULL, NULL), -EINVAL);
    cio_addr unix_addr;
    CHECK_RC(cio_addr_parse(&unix_addr, "/tmp/x.sock"));
    CHECK_ERR(cio_tcp_stream_connect_addr(&c, &unix_addr), -EAFNOSUPPORT);
    cio_socket_close(c);
    cio_socket_close(s);
    return NULL;
}

static void test_errors(void)
{
    run(main_errors, NULL);
    /* Outside a task, suspending calls are refused and create nothing. */
    cio_addr addr;
    CHECK_RC(cio_addr_parse(&addr, "127.0.0.1:9"));
    cio_tcp_stream *c;
    CHECK_ERR(cio_tcp_stream_connect_addr(&c, &addr), -EPERM);
    cio_tcp_socket *sk;
    CHECK_RC(cio_tcp_socket_new_v4(&sk));
    CHECK_ERR(cio_tcp_socket_connect(sk, &addr, &c), -EPERM);
    cio_addr local;
    cio_tcp_listener *l = listen_local(&local, CIO_LISTEN_BACKLOG_DEFAULT);
    cio_tcp_stream *s;
    CHECK_ERR(cio_tcp_listener_accept(l, &s, NULL), -EPERM);
    CHECK_ERR(cio_tcp_listener_poll_accept(l, &s, NULL, NULL, NULL), -EPERM);
    CHECK_RC(cio_tcp_stream_try_connect(&c, &local));
    char b;
    CHECK_ERR(cio_stream_read(c, &b, 1), -EPERM);
    CHECK_ERR(cio_stream_write_all(c, "x", 1, NULL), -EPERM);
    CHECK_ERR(cio_stream_copy(c, c, NULL), -EPERM);
    cio_socket_close(c);
    cio_socket_close(l);
}

CIO_TEST_MAIN(TEST(test_builder_connect), TEST(test_fd_conversions_and_ipv6), TEST(test_sendfile),
              TEST(test_connect_refused), TEST(test_connect_deadline_leaves_nothing),
              TEST(test_accept_emfile), TEST(test_errors))
