/*
 * test_tcp_async.c: the async TCP operations on real loopback sockets, one runtime worker —
 * accept/connect/echo round trips (streams from connect_addr, the builder and accept), the
 * readiness transitions, waking a waiter on close, -EBUSY for a second reader, write_all and
 * read_exact progress under a deadline, early end of stream, vectored I/O, peek, the poll_*
 * forms with wake callbacks, try_io/async_io, sendfile, connect failures that leave no
 * descriptor behind, accept under descriptor exhaustion, and argument errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test_tcp_async_helpers.h"

/* ---- echo round trips ---- */

static void *echo_server(void *arg)
{
    cio_tcp_stream *s = arg;
    unsigned char buf[4096];
    for (;;) {
        ssize_t n = CHECK_RC(cio_tcp_stream_read(s, buf, sizeof(buf)));
        if (n == 0)
            break;
        size_t done = 0;
        CHECK_RC(cio_tcp_stream_write_all(s, buf, (size_t)n, &done));
        CHECK_EQ(done, n);
    }
    CHECK_RC(cio_tcp_stream_shutdown(s, CIO_SHUTDOWN_WRITE));
    return NULL;
}

/* Send messages of several sizes through @c to an echo server and check each comes back. */
static void echo_exchange(cio_tcp_stream *c)
{
    static const size_t sizes[] = {1, 100, 4096, 70000, 1 << 20};
    unsigned char *out = xmalloc(1 << 20), *in = xmalloc(1 << 20);
    uint64_t pos = 0;
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        size_t len = sizes[k], done = 99;
        pattern_fill(out, len, pos, 7);
        /* In slices, reading each echo back before the next: a message larger than the
         * socket buffers would otherwise stall both sides. */
        size_t sent = 0, got = 0;
        while (got < len) {
            if (sent < len) {
                size_t slice = len - sent < 65536 ? len - sent : 65536;
                CHECK_RC(cio_tcp_stream_write_all(c, out + sent, slice, &done));
                CHECK_EQ(done, slice);
                sent += slice;
            }
            size_t want = sent - got;
            CHECK_RC(cio_tcp_stream_read_exact(c, in + got, want, &done));
            CHECK_EQ(done, want);
            got += want;
        }
        CHECK_EQ(pattern_check(in, len, pos, 7), len);
        pos += len;
    }
    free(out);
    free(in);
}

static void *main_echo(void *arg)
{
    (void)arg;
    cio_addr addr, peer;
    cio_tcp_listener *l = listen_local(&addr, 0);
    cio_tcp_stream *c, *s;
    CHECK_RC(cio_tcp_stream_connect_addr(&c, &addr));
    CHECK_FD_FLAGS(cio_tcp_stream_fd(c));
    CHECK_RC(cio_tcp_listener_accept(l, &s, &peer));
    CHECK_FD_FLAGS(cio_tcp_stream_fd(s));
    CHECK_EQ(cio_addr_get_kind(&peer), CIO_ADDR_IPV4);
    cio_task *t;
    CHECK_RC(cio_spawn(&t, echo_server, s));
    echo_exchange(c);
    /* Half-close: the server sees end of stream, shuts down in turn, we read 0. */
    CHECK_RC(cio_tcp_stream_shutdown(c, CIO_SHUTDOWN_WRITE));
    char b;
    CHECK_EQ(cio_tcp_stream_read(c, &b, 1), 0);
    CHECK_RC(cio_task_join(t, NULL));
    cio_tcp_stream_close(c);
    cio_tcp_stream_close(s);
    cio_tcp_listener_close(l);
    return NULL;
}

static void test_echo_round_trip(void)
{
    run(main_echo, NULL);
}

/* Accepting in a task of its own while the main task connects; the builder connects. */
struct acceptor {
    cio_tcp_listener *l;
    int count;
};

static void *accept_and_echo(void *arg)
{
    struct acceptor *a = arg;
    for (int i = 0; i < a->count; i++) {
        cio_tcp_stream *s;
        CHECK_RC(cio_tcp_listener_accept(a->l, &s, NULL));
        echo_server(s);
        cio_tcp_stream_close(s);
    }
    return NULL;
}

static void *main_builder(void *arg)
{
    (void)arg;
    cio_addr addr;
    struct acceptor a = {listen_local(&addr, 0), 2};
    cio_task *t;
    CHECK_RC(cio_spawn(&t, accept_and_echo, &a));
    for (int i = 0; i < 2; i++) {
        cio_tcp_socket *sk;
        CHECK_RC(cio_tcp_socket_new_v4(&sk));
        CHECK_RC(cio_tcp_socket_set_nodelay(sk, true));
        cio_tcp_stream *c;
        CHECK_RC(cio_tcp_socket_connect(sk, &addr, &c));
        bool nodelay = false;
        CHECK_RC(cio_tcp_stream_nodelay(c, &nodelay));
        CHECK(nodelay);
        echo_exchange(c);
        CHECK_RC(cio_tcp_stream_shutdown(c, CIO_SHUTDOWN_WRITE));
        char b;
        CHECK_EQ(cio_tcp_stream_read(c, &b, 1), 0);
        cio_tcp_stream_close(c);
    }
    CHECK_RC(cio_task_join(t, NULL));
    /* The builder is consumed on failure too (the leak check sees it closed). */
    cio_tcp_socket *sk;
    CHECK_RC(cio_tcp_socket_new_v4(&sk));
    cio_tcp_stream *c;
    CHECK_ERR(cio_tcp_socket_connect(sk, NULL, &c), -EINVAL);
    CHECK_RC(cio_tcp_socket_new_v6(&sk));
    CHECK_ERR(cio_tcp_socket_connect(sk, &addr, &c), -EAFNOSUPPORT);
    cio_tcp_listener_close(a.l);
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
    CHECK_RC(cio_tcp_stream_write_all(c, "one", 3, NULL));
    char buf[8];
    CHECK_RC(cio_tcp_stream_read_exact(s, buf, 3, NULL));
    /* Registered now (ready() registers); into_fd drops the registration, from_fd starts
     * afresh. */
    CHECK(cio_tcp_stream_writable(s) & CIO_READY_WRITABLE);
    int fd = CHECK_RC(cio_tcp_stream_into_fd(s));
    CHECK_RC(cio_tcp_stream_from_fd(&s, fd));
    CHECK_RC(cio_tcp_stream_write_all(c, "two", 3, NULL));
    CHECK_RC(cio_tcp_stream_read_exact(s, buf, 3, NULL));
    CHECK(memcmp(buf, "two", 3) == 0);
    CHECK_RC(cio_tcp_stream_write_all(s, "back", 4, NULL));
    CHECK_RC(cio_tcp_stream_read_exact(c, buf, 4, NULL));
    CHECK(memcmp(buf, "back", 4) == 0);
    cio_tcp_stream_close(c);
    cio_tcp_stream_close(s);

    cio_addr addr6;
    cio_tcp_listener *l6;
    CHECK_RC(cio_addr_parse(&addr6, "[::1]:0"));
    int rc = cio_tcp_listener_bind(&l6, &addr6, 0);
    if (rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT)
        return (void *)"no IPv6 loopback";
    CHECK_RC(rc);
    CHECK_RC(cio_tcp_listener_local_addr(l6, &addr6));
    CHECK_RC(cio_tcp_stream_connect_addr(&c, &addr6));
    cio_addr peer;
    CHECK_RC(cio_tcp_listener_accept(l6, &s, &peer));
    CHECK_EQ(cio_addr_get_kind(&peer), CIO_ADDR_IPV6);
    CHECK_RC(cio_tcp_stream_write_all(s, "v6", 2, NULL));
    CHECK_RC(cio_tcp_stream_read_exact(c, buf, 2, NULL));
    CHECK(memcmp(buf, "v6", 2) == 0);
    cio_tcp_stream_close(c);
    cio_tcp_stream_close(s);
    cio_tcp_listener_close(l6);
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

/* ---- readiness ---- */

static void *main_readiness(void *arg)
{
    (void)arg;
    cio_tcp_stream *c, *s;
    tcp_pair(&c, &s);
    /* Writable at once. */
    int r = CHECK_RC(cio_tcp_stream_writable(c));
    CHECK(r & CIO_READY_WRITABLE);
    /* Not readable before data: the wait runs into the deadline. */
    cio_time saved = cio_deadline_set(cio_now() + 30 * CIO_NSEC_PER_MSEC);
    cio_time start = cio_now();
    CHECK_ERR(cio_tcp_stream_readable(s), -ETIMEDOUT);
    CHECK(cio_now() - start >= 25 * CIO_NSEC_PER_MSEC);
    cio_deadline_restore(saved);
    /* Readable after data; both directions at once. */
    CHECK_EQ(cio_tcp_stream_write(c, "abc", 3), 3);
    r = CHECK_RC(cio_tcp_stream_readable(s));
    CHECK(r & CIO_READY_READABLE);
    CHECK(!(r & CIO_READY_READ_CLOSED));
    r = CHECK_RC(cio_tcp_stream_ready(s, CIO_READABLE | CIO_WRITABLE));
    CHECK((r & (CIO_READY_READABLE | CIO_READY_WRITABLE)) ==
          (CIO_READY_READABLE | CIO_READY_WRITABLE));
    char buf[8];
    CHECK_EQ(cio_tcp_stream_read(s, buf, sizeof(buf)), 3);
    CHECK(memcmp(buf, "abc", 3) == 0);
    /* Drained (short read): readable no longer reported. */
    saved = cio_deadline_set(cio_now() + 10 * CIO_NSEC_PER_MSEC);
    CHECK_ERR(cio_tcp_stream_readable(s), -ETIMEDOUT);
    cio_deadline_restore(saved);
    /* Peer shuts down writing: read-closed, and it stays. */
    CHECK_RC(cio_tcp_stream_shutdown(c, CIO_SHUTDOWN_WRITE));
    r = CHECK_RC(cio_tcp_stream_readable(s));
    CHECK(r & CIO_READY_READ_CLOSED);
    CHECK_EQ(cio_tcp_stream_read(s, buf, sizeof(buf)), 0);
    r = CHECK_RC(cio_tcp_stream_readable(s));
    CHECK(r & CIO_READY_READ_CLOSED);
    CHECK_EQ(cio_tcp_stream_read(s, buf, sizeof(buf)), 0);
    /* clear_ready never clears a closed state. */
    cio_tcp_stream_clear_ready(s, r);
    r = CHECK_RC(cio_tcp_stream_readable(s));
    CHECK(r & CIO_READY_READ_CLOSED);
    cio_tcp_stream_close(c);
    cio_tcp_stream_close(s);
    return NULL;
}

static void test_readiness_transitions(void)
{
    run(main_readiness, NULL);
}

/* ---- close wakes, second reader is refused ---- */

struct waiter {
    cio_tcp_stream *s;
    ssize_t rc;
    atomic_int started;
    char buf[16];
};

static void *blocked_read(void *arg)
{
    struct waiter *w = arg;
    atomic_store(&w->started, 1);
    w->rc = cio_tcp_stream_read(w->s, w->buf, sizeof(w->buf));
    return NULL;
}

static void *main_close_wakes(void *arg)
{
    (void)arg;
    cio_tcp_stream *c, *s;
    tcp_pair(&c, &s);
    struct waiter w = {.s = s};
    cio_task *t;
    CHECK_RC(cio_spawn(&t, blocked_read, &w));
    CHECK_RC(cio_sleep(10 * CIO_NSEC_PER_MSEC));
    CHECK_EQ(atomic_load(&w.started), 1);
    CHECK(!cio_task_is_finished(t));
    cio_time start = cio_now();
    cio_tcp_stream_close(s);
    CHECK_RC(cio_task_join(t, NULL));
    CHECK_EQ(w.rc, -EBADF);
    CHECK(cio_now() - start < 500 * CIO_NSEC_PER_MSEC);
    cio_tcp_stream_close(c);
    return NULL;
}

static void test_close_wakes_waiter(void)
{
    run(main_close_wakes, NULL);
}

static void *main_busy(void *arg)
{
    (void)arg;
    cio_tcp_stream *c, *s;
    tcp_pair(&c, &s);
    struct waiter a = {.s = s}, b = {.s = s};
    cio_task *ta, *tb;
    CHECK_RC(cio_spawn(&ta, blocked_read, &a));
    CHECK_RC(cio_sleep(5 * CIO_NSEC_PER_MSEC));
    CHECK(!cio_task_is_finished(ta));
    /* A second reader is refused at once; peek and readable too; a writer is not. */
    CHECK_RC(cio_spawn(&tb, blocked_read, &b));
    CHECK_RC(cio_task_join(tb, NULL));
    CHECK_EQ(b.rc, -EBUSY);
    char x;
    CHECK_ERR(cio_tcp_stream_peek(s, &x, 1), -EBUSY);
    CHECK_ERR(cio_tcp_stream_readable(s), -EBUSY);
    CHECK_EQ(cio_tcp_stream_write(s, "pong", 4), 4);
    /* The first reader still gets its data. */
    CHECK_EQ(cio_tcp_stream_write(c, "ping", 4), 4);
    CHECK_RC(cio_task_join(ta, NULL));
    CHECK_EQ(a.rc, 4);
    CHECK(memcmp(a.buf, "ping", 4) == 0);
    char buf[4];
    CHECK_RC(cio_tcp_stream_read_exact(c, buf, 4, NULL));
    CHECK(memcmp(buf, "pong", 4) == 0);
    cio_tcp_stream_close(c);
    cio_tcp_stream_close(s);
    return NULL;
}

static void test_second_reader_busy(void)
{
    run(main_busy, NULL);
}

/* ---- progress under deadlines ---- */

struct sink {
    cio_tcp_stream *s;
    size_t len;
    unsigned seed;
};

static void *pattern_sink(void *arg)
{
    struct sink *k = arg;
    unsigned char *buf = xmalloc(65536);
    size_t got = 0;
    while (got < k->len) {
        ssize_t n = CHECK_RC(cio_tcp_stream_read(k->s, buf, 65536));
        CHECK(n > 0);
        CHECK_EQ(pattern_check(buf, (size_t)n, got, k->seed), n);
        got += (size_t)n;
    }
    free(buf);
    return NULL;
}

static void *main_write_all_progress(void *arg)
{
    (void)arg;
    cio_tcp_stream *c, *s;
    tcp_pair(&c, &s);
    enum { LEN = 32 << 20 };
    unsigned char *data = xmalloc(LEN);
    pattern_fill(data, LEN, 0, 3);
    /* Nobody reads: the kernel buffers fill and the deadline cuts write_all short. */
    size_t done = 0;
    cio_time saved = cio_deadline_set(cio_now() + 100 * CIO_NSEC_PER_MSEC);
    CHECK_ERR(cio_tcp_stream_write_all(c, data, LEN, &done), -ETIMEDOUT);
    cio_deadline_restore(saved);
    CHECK(done > 0);
    CHECK(done < LEN);
    /* Resume from the reported progress: the reader sees every byte once, in order. */
    struct sink k = {s, LEN, 3};
    cio_task *t;
    CHECK_RC(cio_spawn(&t, pattern_sink, &k));
    size_t rest = 0;
    CHECK_RC(cio_tcp_stream_write_all(c, data + done, LEN - done, &rest));
    CHECK_EQ(rest, LEN - done);
    CHECK_RC(cio_task_join(t, NULL));
    free(data);
    cio_tcp_stream_close(c);
    cio_tcp_stream_close(s);
    return NULL;
}

static void test_write_all_progress_on_deadline(void)
{
    run(main_write_all_progress, NULL);
}

static void *main_read_exact_progress(void *arg)
{
    (void)arg;
    cio_tcp_stream *c, *s;
    tcp_pair(&c, &s);
    unsigned char out[1000], in[1000];
    pattern_fill(out, sizeof(out), 0, 9);
    CHECK_RC(cio_tcp_stream_write_all(c, out, 500, NULL));
    size_t done = 0;
    cio_time saved = cio_deadline_set(cio_now() + 50 * CIO_NSEC_PER_MSEC);
    CHECK_ERR(cio_tcp_stream_read_exact(s, in, sizeof(in), &done), -ETIMEDOUT);
    cio_deadline_restore(saved);
    CHECK_EQ(done, 500);
    CHECK_RC(cio_tcp_stream_write_all(c, out + 500, 500, NULL));
    CHECK_RC(cio_tcp_stream_read_exact(s, in + done, sizeof(in) - done, &done));
    CHECK_EQ(done, 500);
    CHECK(memcmp(in, out, sizeof(in)) == 0);
    /* The stream ends early: -EPIPE with what did arrive. */
    CHECK_RC(cio_tcp_stream_write_all(c, out, 10, NULL));
    CHECK_RC(cio_tcp_stream_shutdown(c, CIO_SHUTDOWN_WRITE));
    CHECK_ERR(cio_tcp_stream_read_exact(s, in, 20, &done), -EPIPE);
    CHECK_EQ(done, 10);
    CHECK(memcmp(in, out, 10) == 0);
    /* Zero length: nothing to wait for. */
    CHECK_RC(cio_tcp_stream_read_exact(s, in, 0, &done));
    CHECK_EQ(done, 0);
    CHECK_EQ(cio_tcp_stream_read(s, in, 0), 0);
    CHECK_EQ(cio_tcp_stream_write(s, out, 0), 0);
    cio_tcp_stream_close(c);
    cio_tcp_stream_close(s);
    return NULL;
}

static void test_read_exact_progress_and_eof(void)
{
    run(main_read_exact_progress, NULL);
}

/* ---- vectored I/O, peek ---- */

enum { NVEC = 300, VEC_UNIT = 9973 };

static void *vec_reader(void *arg)
{
    struct sink *k = arg;
    unsigned char *a = xmalloc(3000), *b = xmalloc(50000), *c = xmalloc(7);
    unsigned char *joined = xmalloc(3000 + 50000 + 7);
    size_t got = 0;
    while (got < k->len) {
        struct iovec iov[3] = {{a, 3000}, {b, 50000}, {c, 7}};
        ssize_t n = CHECK_RC(cio_tcp_stream_readv(k->s, iov, 3));
        CHECK(n > 0);
        size_t m = (size_t)n, off = 0;
        for (int i = 0; i < 3 && off < m; i++) {
            size_t take = iov[i].iov_len < m - off ? iov[i].iov_len : m - off;
            memcpy(joined + off, iov[i].iov_base, take);
            off += take;
        }
        CHECK_EQ(pattern_check(joined, m, got, k->seed), m);
        got += m;
    }
    CHECK_EQ(got, k->len);
    free(a);
    free(b);
    free(c);
    free(joined);
    return NULL;
}

static void *main_vectored(void *arg)
{
    (void)arg;
    cio_tcp_stream *c, *s;
    tcp_pair(&c, &s);
    /* NVEC buffers of varying length (some empty), more than the window of one sendmsg and
     * more bytes than the socket buffers hold, so the write is cut and resumed mid-entry. */
    struct iovec iov[NVEC];
    size_t total = 0;
    for (int i = 0; i < NVEC; i++)
        total += (i % 5 == 0) ? 0 : (size_t)(VEC_UNIT * (i % 7 + 1));
    unsigned char *data = xmalloc(total);
    pattern_fill(data, total, 0, 11);
    size_t off = 0;
    for (int i = 0; i < NVEC; i++) {
        size_t len = (i % 5 == 0) ? 0 : (size_t)(VEC_UNIT * (i % 7 + 1));
        iov[i].iov_base = data + off;
        iov[i].iov_len = len;
        off += len;
    }
    struct sink k = {s, total, 11};
    cio_task *t;
    CHECK_RC(cio_spawn(&t, vec_reader, &k));
    size_t done = 0;
    CHECK_RC(cio_tcp_stream_write_all_v(c, iov, NVEC, &done));
    CHECK_EQ(done, total);
    CHECK_RC(cio_task_join(t, NULL));
    /* writev: one call, some bytes. */
    struct iovec two[2] = {{(void *)"hello ", 6}, {(void *)"world", 5}};
    CHECK_EQ(cio_tcp_stream_writev(c, two, 2), 11);
    char buf[16];
    /* peek sees the bytes and leaves them for the read. */
    ssize_t n = CHECK_RC(cio_tcp_stream_peek(s, buf, sizeof(buf)));
    CHECK(n > 0 && n <= 11);
    CHECK(memcmp(buf, "hello world", (size_t)n) == 0);
    CHECK_RC(cio_tcp_stream_read_exact(s, buf, 11, NULL));
    CHECK(memcmp(buf, "hello world", 11) == 0);
    CHECK_ERR(cio_tcp_stream_writev(c, NULL, 1), -EINVAL);
    CHECK_ERR(cio_tcp_stream_readv(s, iov, -1), -EINVAL);
    CHECK_EQ(cio_tcp_stream_writev(c, two, 0), 0);
    free(data);
    cio_tcp_stream_close(c);
    cio_tcp_stream_close(s);
    return NULL;
}

static void test_vectored_and_peek(void)
{
    run(main_vectored, NULL);
}

/* ---- poll_* with wake callbacks, try_io / async_io ---- */

static void count_wake(void *ctx)
{
    atomic_fetch_add((atomic_int *)ctx, 1);
}

static void *connect_later(void *arg)
{
    cio_addr *addr = arg;
    CHECK_RC(cio_sleep(10 * CIO_NSEC_PER_MSEC));
    cio_tcp_stream *c;
    CHECK_RC(cio_tcp_stream_connect_addr(&c, addr));
    return c;
}

static void *main_poll(void *arg)
{
    (void)arg;
    cio_tcp_stream *c, *s;
    tcp_pair(&c, &s);
    atomic_int woken = 0;
    char buf[8];
    /* Nothing there: -EAGAIN, and the callback fires when data arrives. */
    CHECK_ERR(cio_tcp_stream_poll_read_ready(s, count_wake, &woken), -EAGAIN);
    CHECK_ERR(cio_tcp_stream_poll_peek(s, buf, sizeof(buf), count_wake, &woken), -EAGAIN);
    CHECK_EQ(cio_tcp_stream_write(c, "xy", 2), 2);
    for (int i = 0; i < 200 && atomic_load(&woken) == 0; i++)
        CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
    CHECK_EQ(atomic_load(&woken), 1); /* one callback per direction: the latest */
    CHECK_EQ(cio_tcp_stream_poll_peek(s, buf, sizeof(buf), count_wake, &woken), 2);
    int r = CHECK_RC(cio_tcp_stream_poll_read_ready(s, NULL, NULL));
    CHECK(r & CIO_READY_READABLE);
    /* c never had to wait (the handshake was done at the first look), so it is not
     * registered yet: the first poll registers it and may have to wait for the reactor's
     * first report, which the callback then delivers. */
    atomic_int wr_woken = 0;
    r = cio_tcp_stream_poll_write_ready(c, count_wake, &wr_woken);
    if (r == -EAGAIN) {
        for (int i = 0; i < 200 && atomic_load(&wr_woken) == 0; i++)
            CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
        CHECK_EQ(atomic_load(&wr_woken), 1);
        r = cio_tcp_stream_poll_write_ready(c, count_wake, &wr_woken);
    }
    CHECK_RC(r);
    CHECK(r & CIO_READY_WRITABLE);
    CHECK_EQ(cio_tcp_stream_read(s, buf, sizeof(buf)), 2);

    /* poll_accept: armed, then woken by a connection, then it accepts. */
    cio_addr addr;
    cio_tcp_listener *l = listen_local(&addr, 0);
    cio_tcp_stream *acc = NULL;
    atomic_int accept_woken = 0;
    CHECK_ERR(cio_tcp_listener_poll_accept(l, &acc, NULL, count_wake, &accept_woken), -EAGAIN);
    cio_task *t;
    CHECK_RC(cio_spawn(&t, connect_later, &addr));
    for (int i = 0; i < 500 && atomic_load(&accept_woken) == 0; i++)
        CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
    CHECK_EQ(atomic_load(&accept_woken), 1);
    cio_addr peer;
    CHECK_RC(cio_tcp_listener_poll_accept(l, &acc, &peer, count_wake, &accept_woken));
    void *other;
    CHECK_RC(cio_task_join(t, &other));
    cio_tcp_stream_close(other);
    cio_tcp_stream_close(acc);
    /* Closing a listener with an armed callback calls it. */
    atomic_int closed_woken = 0;
    CHECK_ERR(cio_tcp_listener_poll_accept(l, &acc, NULL, count_wake, &closed_woken), -EAGAIN);
    cio_tcp_listener_close(l);
    CHECK_EQ(atomic_load(&closed_woken), 1);
    cio_tcp_stream_close(c);
    cio_tcp_stream_close(s);
    return NULL;
}

static void test_poll_forms(void)
{
    run(main_poll, NULL);
}

struct raw_recv {
    int fd;
    char buf[16];
    int calls;
};

static ssize_t raw_recv_fn(void *ctx)
{
    struct raw_recv *r = ctx;
    r->calls++;
    ssize_t n = recv(r->fd, r->buf, sizeof(r->buf), 0);
    return n < 0 ? -errno : n;
}

static void *write_later(void *arg)
{
    CHECK_RC(cio_sleep(10 * CIO_NSEC_PER_MSEC));
    CHECK_EQ(cio_tcp_stream_write(arg, "late", 4), 4);
    return NULL;
}

static void *main_try_io(void *arg)
{
    (void)arg;
    cio_tcp_stream *c, *s;
    tcp_pair(&c, &s);
    struct raw_recv r = {.fd = cio_tcp_stream_fd(s)};
    CHECK_ERR(cio_tcp_stream_try_io(s, CIO_READABLE, raw_recv_fn, &r), -EAGAIN);
    CHECK_EQ(r.calls, 1);
    /* async_io waits for readiness between attempts. */
    cio_task *t;
    CHECK_RC(cio_spawn(&t, write_later, c));
    CHECK_EQ(cio_tcp_stream_async_io(s, CIO_READABLE, raw_recv_fn, &r), 4);
    CHECK(memcmp(r.buf, "late", 4) == 0);
    CHECK(r.calls <= 3);
    CHECK_RC(cio_task_join(t, NULL));
    /* After try_io's -EAGAIN the readiness is cleared: readable waits again. */
    CHECK_ERR(cio_tcp_stream_try_io(s, CIO_READABLE, raw_recv_fn, &r), -EAGAIN);
    cio_time saved = cio_deadline_set(cio_now() + 10 * CIO_NSEC_PER_MSEC);
    CHECK_ERR(cio_tcp_stream_readable(s), -ETIMEDOUT);
    cio_deadline_restore(saved);
    CHECK_ERR(cio_tcp_stream_try_io(s, 0, raw_recv_fn, &r), -EINVAL);
    CHECK_ERR(cio_tcp_stream_async_io(s, CIO_READABLE, NULL, &r), -EINVAL);
    cio_tcp_stream_close(c);
    cio_tcp_stream_close(s);
    return NULL;
}

static void test_try_io_async_io(void)
{
    run(main_try_io, NULL);
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
    struct sink k = {s, LEN, 5};
    cio_task *t;
    CHECK_RC(cio_spawn(&t, pattern_sink, &k));
    int64_t off = 0;
    while (off < LEN) {
        ssize_t n = CHECK_RC(cio_tcp_stream_sendfile(c, fd, &off, (size_t)(LEN - off)));
        CHECK(n > 0);
    }
    CHECK_EQ(off, LEN);
    CHECK_EQ(cio_tcp_stream_sendfile(c, fd, &off, 100), 0); /* end of file */
    CHECK_RC(cio_task_join(t, NULL));
    CHECK_ERR(cio_tcp_stream_sendfile(c, -1, &off, 1), -EBADF);
    close(fd);
    cio_tcp_stream_close(c);
    cio_tcp_stream_close(s);
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
    cio_tcp_listener *l = listen_local(&addr, 0);
    cio_tcp_listener_close(l); /* the port is free now: connecting is refused */
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
    CHECK_SYS(listen(cio_tcp_listener_fd(l), 0));
    enum { FILL = 4 };
    cio_tcp_stream *fill[FILL];
    for (int i = 0; i < FILL; i++)
        CHECK_RC(cio_tcp_stream_try_connect(&fill[i], &addr));
    CHECK_RC(cio_sleep(50 * CIO_NSEC_PER_MSEC));
    int before = cio_test_open_fds();
    cio_tcp_stream *c = NULL;
    cio_time start = cio_now();
    cio_time saved = cio_deadline_set(start + 100 * CIO_NSEC_PER_MSEC);
    int rc = cio_tcp_stream_connect_addr(&c, &addr);
    cio_deadline_restore(saved);
    if (rc == 0) {
        cio_tcp_stream_close(c);
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
    saved = cio_deadline_set(cio_now() + 50 * CIO_NSEC_PER_MSEC);
    CHECK_ERR(cio_tcp_socket_connect(sk, &addr, &c), -ETIMEDOUT);
    cio_deadline_restore(saved);
    CHECK_EQ(cio_test_open_fds(), before);
    for (int i = 0; i < FILL; i++)
        cio_tcp_stream_close(fill[i]);
    cio_tcp_listener_close(l);
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
    cio_tcp_listener *l = listen_local(&addr, 0);
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
    ssize_t n = cio_tcp_stream_read(c1, &b, 1);
    CHECK(n == 0 || n == -ECONNRESET);
    /* With descriptors back, the next connection is accepted normally. */
    CHECK_RC(cio_tcp_stream_connect_addr(&c2, &addr));
    CHECK_RC(cio_tcp_listener_accept(l, &s, NULL));
    CHECK_EQ(cio_tcp_stream_write(c2, "k", 1), 1);
    CHECK_EQ(cio_tcp_stream_read(s, &b, 1), 1);
    cio_tcp_stream_close(s);
    cio_tcp_stream_close(c1);
    cio_tcp_stream_close(c2);
    cio_tcp_listener_close(l);
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
    CHECK_ERR(cio_tcp_stream_read(NULL, buf, 1), -EINVAL);
    CHECK_ERR(cio_tcp_stream_read_exact(NULL, buf, 1, &done), -EINVAL);
    CHECK_EQ(done, 0);
    CHECK_ERR(cio_tcp_stream_write(NULL, buf, 1), -EINVAL);
    CHECK_ERR(cio_tcp_stream_write_all(NULL, buf, 1, NULL), -EINVAL);
    CHECK_ERR(cio_tcp_stream_peek(NULL, buf, 1), -EINVAL);
    CHECK_ERR(cio_tcp_stream_ready(NULL, CIO_READABLE), -EINVAL);
    CHECK_ERR(cio_tcp_stream_copy(NULL, NULL, NULL), -EINVAL);
    CHECK_ERR(cio_tcp_listener_accept(NULL, NULL, NULL), -EINVAL);
    CHECK_ERR(cio_tcp_stream_connect_addr(NULL, NULL), -EINVAL);
    CHECK_ERR(cio_tcp_socket_connect(NULL, NULL, NULL), -EINVAL);
    cio_tcp_stream *c, *s;
    tcp_pair(&c, &s);
    CHECK_ERR(cio_tcp_stream_read(c, NULL, 1), -EINVAL);
    CHECK_ERR(cio_tcp_stream_ready(c, 0), -EINVAL);
    CHECK_ERR(cio_tcp_stream_ready(c, 1u << 7), -EINVAL);
    CHECK_ERR(cio_tcp_stream_poll_read_ready(NULL, NULL, NULL), -EINVAL);
    CHECK_ERR(cio_tcp_stream_copy_bidirectional(c, c, NULL, NULL), -EINVAL);
    cio_addr unix_addr;
    CHECK_RC(cio_addr_parse(&unix_addr, "/tmp/x.sock"));
    CHECK_ERR(cio_tcp_stream_connect_addr(&c, &unix_addr), -EAFNOSUPPORT);
    cio_tcp_stream_close(c);
    cio_tcp_stream_close(s);
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
    cio_tcp_listener *l = listen_local(&local, 0);
    cio_tcp_stream *s;
    CHECK_ERR(cio_tcp_listener_accept(l, &s, NULL), -EPERM);
    CHECK_ERR(cio_tcp_listener_poll_accept(l, &s, NULL, NULL, NULL), -EPERM);
    CHECK_RC(cio_tcp_stream_try_connect(&c, &local));
    char b;
    CHECK_ERR(cio_tcp_stream_read(c, &b, 1), -EPERM);
    CHECK_ERR(cio_tcp_stream_write_all(c, "x", 1, NULL), -EPERM);
    CHECK_ERR(cio_tcp_stream_copy(c, c, NULL), -EPERM);
    cio_tcp_stream_close(c);
    cio_tcp_listener_close(l);
}

CIO_TEST_MAIN(TEST(test_echo_round_trip), TEST(test_builder_connect),
              TEST(test_fd_conversions_and_ipv6), TEST(test_readiness_transitions),
              TEST(test_close_wakes_waiter), TEST(test_second_reader_busy),
              TEST(test_write_all_progress_on_deadline), TEST(test_read_exact_progress_and_eof),
              TEST(test_vectored_and_peek), TEST(test_poll_forms), TEST(test_try_io_async_io),
              TEST(test_sendfile), TEST(test_connect_refused),
              TEST(test_connect_deadline_leaves_nothing), TEST(test_accept_emfile),
              TEST(test_errors))
