/*
 * test_stream_async.c: the async operations both kinds of byte stream have, each case run for
 * TCP (loopback) and for Unix streams, one runtime worker — an echo round trip through a
 * listener, the readiness transitions, waking a waiter on close (stream and listener), several
 * readers and acceptors waiting at once (each served), a readiness waiter woken beside a
 * reader, write_all and read_exact progress under deadlines and at an early end of stream,
 * vectored I/O (cut and resumed mid-entry) and peek, the poll_* forms with wake callbacks
 * (accept included), and try_io/async_io. What one kind alone has is in test_tcp_async.c and
 * test_unix_async.c.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "stream_kinds.h"

/* ---- echo round trip ---- */

static void *main_echo_round_trip(void *arg)
{
    const struct stream_kind *k = arg;
    cio_addr addr, peer;
    cio_socket *l = k->listen(&addr, CIO_LISTEN_BACKLOG_DEFAULT);
    cio_stream *c, *server;
    CHECK_RC(k->connect(&c, &addr));
    CHECK_FD_FLAGS(cio_socket_fd(c));
    CHECK_RC(k->accept(l, &server, &peer));
    CHECK_FD_FLAGS(cio_socket_fd(server));
    CHECK_EQ(cio_addr_get_kind(&peer), k->peer_kind);
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, stream_echo_server, server));
    /* Then a half-close: the server sees end of stream, shuts down in turn, we read 0. */
    stream_echo_to_end(c);
    CHECK_RC(cio_task_join(t, NULL, NULL));
    cio_socket_close(c);
    cio_socket_close(server);
    cio_socket_close(l);
    return NULL;
}

STREAM_CASE(echo_round_trip)

/* ---- readiness ---- */

static void *main_readiness_transitions(void *arg)
{
    const struct stream_kind *k = arg;
    cio_stream *c, *s;
    stream_pair(k, &c, &s);
    /* Writable at once. */
    int r = CHECK_RC(cio_socket_writable(c));
    CHECK(r & CIO_READY_WRITABLE);
    /* Not readable before data: the wait runs into the deadline. */
    cio_time start = cio_now();
    CHECK_ERR(CIO_TIMEOUT(30 * CIO_NSEC_PER_MSEC, cio_socket_readable(s)), -ETIMEDOUT);
    CHECK(cio_now() - start >= 25 * CIO_NSEC_PER_MSEC);
    /* Readable after data; both directions at once. */
    CHECK_EQ(cio_stream_write(c, "abc", 3), 3);
    r = CHECK_RC(cio_socket_readable(s));
    CHECK(r & CIO_READY_READABLE);
    CHECK(!(r & CIO_READY_READ_CLOSED));
    r = CHECK_RC(cio_socket_ready(s, CIO_READABLE | CIO_WRITABLE));
    CHECK((r & (CIO_READY_READABLE | CIO_READY_WRITABLE)) ==
          (CIO_READY_READABLE | CIO_READY_WRITABLE));
    char buf[8];
    CHECK_EQ(cio_stream_read(s, buf, sizeof(buf)), 3);
    CHECK(memcmp(buf, "abc", 3) == 0);
    /* Drained (short read): readable no longer reported. */
    CHECK_ERR(CIO_TIMEOUT(10 * CIO_NSEC_PER_MSEC, cio_socket_readable(s)), -ETIMEDOUT);
    /* Peer shuts down writing: read-closed, and it stays. */
    CHECK_RC(cio_socket_shutdown(c, CIO_SHUTDOWN_WRITE));
    r = CHECK_RC(cio_socket_readable(s));
    CHECK(r & CIO_READY_READ_CLOSED);
    CHECK_EQ(cio_stream_read(s, buf, sizeof(buf)), 0);
    r = CHECK_RC(cio_socket_readable(s));
    CHECK(r & CIO_READY_READ_CLOSED);
    CHECK_EQ(cio_stream_read(s, buf, sizeof(buf)), 0);
    /* clear_ready never clears a closed state. */
    cio_socket_clear_ready(s, r);
    r = CHECK_RC(cio_socket_readable(s));
    CHECK(r & CIO_READY_READ_CLOSED);
    (cio_socket_clear_ready)(NULL, r);
    CHECK_ERR(cio_socket_ready(s, 0), -EINVAL);
    CHECK_ERR((cio_socket_ready)(NULL, CIO_READABLE), -EINVAL);
    cio_socket_close(c);
    cio_socket_close(s);
    return NULL;
}

STREAM_CASE(readiness_transitions)

/* ---- close wakes, several waiters ---- */

/* A waiter's call: accept on the listener @w->sock of the kind @w->ctx (the accepted stream
 * closed at once). */
static ssize_t waiter_accept(struct waiter *w)
{
    const struct stream_kind *k = w->ctx;
    cio_stream *s;
    int rc = k->accept(w->sock, &s, NULL);
    if (rc == 0)
        cio_socket_close(s);
    return rc;
}

static void *main_close_wakes_waiter(void *arg)
{
    const struct stream_kind *k = arg;
    cio_stream *c, *s;
    stream_pair(k, &c, &s);
    struct waiter w = {.sock = cio_as_socket(s), .call = waiter_stream_read};
    struct waiter *wp = &w;
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, waiter_task, &w));
    CHECK_RC(cio_sleep(10 * CIO_NSEC_PER_MSEC));
    check_close_wakes(cio_as_socket(s), &t, &wp, 1);
    cio_socket_close(c);

    /* A listener closed under its acceptor. */
    cio_addr addr;
    struct waiter wl = {.sock = k->listen(&addr, CIO_LISTEN_BACKLOG_DEFAULT),
                        .call = waiter_accept,
                        .ctx = (void *)k};
    wp = &wl;
    CHECK_RC(cio_spawn(&t, waiter_task, &wl));
    CHECK_RC(cio_sleep(10 * CIO_NSEC_PER_MSEC));
    check_close_wakes(wl.sock, &t, &wp, 1);
    return NULL;
}

STREAM_CASE(close_wakes_waiter)

/* Any number of tasks may read one stream at once: an edge wakes them all, each message goes
 * to one of them, and the others wait on for the next. */
static void *main_several_readers(void *arg)
{
    const struct stream_kind *k = arg;
    cio_stream *c, *s;
    stream_pair(k, &c, &s);
    struct waiter a = {.sock = cio_as_socket(s), .call = waiter_stream_read};
    struct waiter b = {.sock = cio_as_socket(s), .call = waiter_stream_read};
    struct waiter *w[2] = {&a, &b};
    cio_join_handle *tr[2];
    CHECK_RC(cio_spawn(&tr[0], waiter_task, &a));
    CHECK_RC(cio_spawn(&tr[1], waiter_task, &b));
    check_waiting(tr, 2); /* both wait: neither is refused */
    /* The writing direction is free meanwhile. */
    CHECK_EQ(cio_stream_write(s, "pong", 4), 4);
    check_take_turns(tr, w, send_stream, c);
    char buf[4];
    CHECK_RC(cio_stream_read_exact(c, buf, 4, NULL));
    CHECK(memcmp(buf, "pong", 4) == 0);
    cio_socket_close(c);
    cio_socket_close(s);
    return NULL;
}

STREAM_CASE(several_readers)

/* A task in readable() beside a reader: see check_readable_beside_reader(). */
static void *main_readable_beside_reader(void *arg)
{
    const struct stream_kind *k = arg;
    cio_stream *c, *s;
    stream_pair(k, &c, &s);
    check_readable_beside_reader(cio_as_socket(s), waiter_stream_read, send_stream, c);
    cio_socket_close(c);
    cio_socket_close(s);
    return NULL;
}

STREAM_CASE(readable_beside_reader)

/* Any number of tasks may accept on one listener: each connection goes to one of them, and
 * none is left waiting while connections are queued. */
static void *main_several_acceptors(void *arg)
{
    const struct stream_kind *k = arg;
    cio_addr addr;
    cio_socket *l = k->listen(&addr, CIO_LISTEN_BACKLOG_DEFAULT);
    struct waiter wa = {.sock = l, .call = waiter_accept, .ctx = (void *)k, .rc = 1};
    struct waiter wb = {.sock = l, .call = waiter_accept, .ctx = (void *)k, .rc = 1};
    cio_join_handle *ta[2];
    CHECK_RC(cio_spawn(&ta[0], waiter_task, &wa));
    CHECK_RC(cio_spawn(&ta[1], waiter_task, &wb));
    check_waiting(ta, 2);
    cio_stream *c1, *c2;
    CHECK_RC(k->connect(&c1, &addr));
    int first = wait_first_finished(ta, 2, 1000);
    CHECK(first >= 0);
    CHECK_RC(cio_sleep(5 * CIO_NSEC_PER_MSEC));
    CHECK(!cio_task_is_finished(ta[1 - first]));
    CHECK_RC(k->connect(&c2, &addr));
    CHECK(wait_first_finished(&ta[1 - first], 1, 1000) == 0);
    CHECK_RC(cio_task_join(ta[0], NULL, NULL));
    CHECK_RC(cio_task_join(ta[1], NULL, NULL));
    CHECK_EQ(wa.rc, 0);
    CHECK_EQ(wb.rc, 0);
    /* Nothing is left queued. */
    cio_stream *extra;
    CHECK_ERR(CIO_TIMEOUT(10 * CIO_NSEC_PER_MSEC, k->accept(l, &extra, NULL)), -ETIMEDOUT);
    cio_socket_close(c1);
    cio_socket_close(c2);
    cio_socket_close(l);
    return NULL;
}

STREAM_CASE(several_acceptors)

/* ---- progress under deadlines ---- */

static void *main_write_all_progress_on_deadline(void *arg)
{
    const struct stream_kind *k = arg;
    cio_stream *c, *s;
    stream_listener_pair(k, &c, &s);
    enum { LEN = 32 << 20 };
    unsigned char *data = xmalloc(LEN);
    pattern_fill(data, LEN, 0, 3);
    /* Nobody reads: the kernel buffers fill and the deadline cuts write_all short. */
    size_t done = 0;
    CHECK_ERR(CIO_TIMEOUT(100 * CIO_NSEC_PER_MSEC, cio_stream_write_all(c, data, LEN, &done)),
              -ETIMEDOUT);
    CHECK(done > 0);
    CHECK(done < LEN);
    /* Resume from the reported progress: the reader sees every byte once, in order. */
    struct stream_sink sink = {s, LEN, 3};
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, stream_pattern_sink, &sink));
    size_t rest = 0;
    CHECK_RC(cio_stream_write_all(c, data + done, LEN - done, &rest));
    CHECK_EQ(rest, LEN - done);
    CHECK_RC(cio_task_join(t, NULL, NULL));
    free(data);
    cio_socket_close(c);
    cio_socket_close(s);
    return NULL;
}

STREAM_CASE(write_all_progress_on_deadline)

static void *main_read_exact_progress_and_eof(void *arg)
{
    const struct stream_kind *k = arg;
    cio_stream *c, *s;
    stream_listener_pair(k, &c, &s);
    unsigned char out[1000], in[1000];
    pattern_fill(out, sizeof(out), 0, 9);
    CHECK_RC(cio_stream_write_all(c, out, 500, NULL));
    size_t done = 0;
    CHECK_ERR(CIO_TIMEOUT(50 * CIO_NSEC_PER_MSEC, cio_stream_read_exact(s, in, sizeof(in), &done)),
              -ETIMEDOUT);
    CHECK_EQ(done, 500);
    CHECK_RC(cio_stream_write_all(c, out + 500, 500, NULL));
    CHECK_RC(cio_stream_read_exact(s, in + done, sizeof(in) - done, &done));
    CHECK_EQ(done, 500);
    CHECK(memcmp(in, out, sizeof(in)) == 0);
    /* The stream ends early: -ENODATA with what did arrive. */
    CHECK_RC(cio_stream_write_all(c, out, 10, NULL));
    CHECK_RC(cio_socket_shutdown(c, CIO_SHUTDOWN_WRITE));
    CHECK_ERR(cio_stream_read_exact(s, in, 20, &done), -ENODATA);
    CHECK_EQ(done, 10);
    CHECK(memcmp(in, out, 10) == 0);
    /* Zero length: nothing to wait for. */
    CHECK_RC(cio_stream_read_exact(s, in, 0, &done));
    CHECK_EQ(done, 0);
    CHECK_EQ(cio_stream_read(s, in, 0), 0);
    CHECK_EQ(cio_stream_write(s, out, 0), 0);
    /* After our shutdown the write side is gone: -EPIPE, no signal. */
    CHECK_ERR(cio_stream_write(c, "x", 1), -EPIPE);
    cio_socket_close(c);
    cio_socket_close(s);
    return NULL;
}

STREAM_CASE(read_exact_progress_and_eof)

/* Both cut by deadlines on one stream: read_exact takes exactly what write_all reported. */
static void *main_write_all_read_exact_cut(void *arg)
{
    const struct stream_kind *k = arg;
    cio_stream *c, *s;
    stream_listener_pair(k, &c, &s);
    /* write_all into a peer that does not read: cut by the deadline, progress reported. */
    enum { LEN = 8 << 20 };
    unsigned char *data = xmalloc(LEN), *in = xmalloc(LEN);
    pattern_fill(data, LEN, 0, 5);
    size_t done = 0;
    CHECK_ERR(CIO_TIMEOUT(50 * CIO_NSEC_PER_MSEC, cio_stream_write_all(c, data, LEN, &done)),
              -ETIMEDOUT);
    CHECK(done > 0 && done < LEN);
    /* read_exact of more than is there: cut, with what did come. */
    size_t got = 0;
    CHECK_ERR(CIO_TIMEOUT(50 * CIO_NSEC_PER_MSEC, cio_stream_read_exact(s, in, LEN, &got)),
              -ETIMEDOUT);
    CHECK_EQ(got, done);
    CHECK_EQ(pattern_check(in, got, 0, 5), got);
    /* Early end: -ENODATA with what came. */
    CHECK_RC(cio_stream_write_all(c, data + done, 10, NULL));
    CHECK_RC(cio_socket_shutdown(c, CIO_SHUTDOWN_WRITE));
    size_t tail = 0;
    CHECK_ERR(cio_stream_read_exact(s, in + got, 20, &tail), -ENODATA);
    CHECK_EQ(tail, 10);
    CHECK_EQ(pattern_check(in, got + 10, 0, 5), got + 10);
    free(data);
    free(in);
    cio_socket_close(c);
    cio_socket_close(s);
    return NULL;
}

STREAM_CASE(write_all_read_exact_cut)

/* ---- vectored I/O, peek ---- */

enum { NVEC = 300, VEC_UNIT = 9973 };

static void *vec_reader(void *arg)
{
    struct stream_sink *k = arg;
    unsigned char *a = xmalloc(3000), *b = xmalloc(50000), *c = xmalloc(7);
    unsigned char *joined = xmalloc(3000 + 50000 + 7);
    size_t got = 0;
    while (got < k->len) {
        struct iovec iov[3] = {{a, 3000}, {b, 50000}, {c, 7}};
        ssize_t n = CHECK_RC(cio_stream_readv(k->s, iov, 3));
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

static void *main_vectored_and_peek(void *arg)
{
    const struct stream_kind *k = arg;
    cio_stream *c, *s;
    stream_pair(k, &c, &s);
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
    struct stream_sink sink = {s, total, 11};
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, vec_reader, &sink));
    size_t done = 0;
    CHECK_RC(cio_stream_writev_all(c, iov, NVEC, &done));
    CHECK_EQ(done, total);
    CHECK_RC(cio_task_join(t, NULL, NULL));
    /* writev: one call, some bytes. */
    struct iovec two[2] = {{(void *)"hello ", 6}, {(void *)"world", 5}};
    CHECK_EQ(cio_stream_writev(c, two, 2), 11);
    char buf[16];
    /* peek sees the bytes and leaves them for the read. */
    ssize_t n = CHECK_RC(cio_stream_peek(s, buf, sizeof(buf)));
    CHECK(n > 0 && n <= 11);
    CHECK(memcmp(buf, "hello world", (size_t)n) == 0);
    CHECK_RC(cio_stream_read_exact(s, buf, 11, NULL));
    CHECK(memcmp(buf, "hello world", 11) == 0);
    CHECK_ERR(cio_stream_writev(c, NULL, 1), -EINVAL);
    CHECK_ERR(cio_stream_readv(s, iov, -1), -EINVAL);
    CHECK_EQ(cio_stream_writev(c, two, 0), 0);
    free(data);
    cio_socket_close(c);
    cio_socket_close(s);
    return NULL;
}

STREAM_CASE(vectored_and_peek)

/* The array from byte @sent on, into @rest: the entries not fully written, the first one cut
 * at the byte reached. Returns the count. */
static int iov_tail(const struct iovec *iov, int iovcnt, size_t sent, struct iovec *rest)
{
    int cnt = 0;
    size_t off = 0;
    for (int i = 0; i < iovcnt; i++) {
        size_t start = off, end = off + iov[i].iov_len;
        off = end;
        if (end <= sent)
            continue;
        size_t skip = sent > start ? sent - start : 0;
        rest[cnt].iov_base = (char *)iov[i].iov_base + skip;
        rest[cnt].iov_len = iov[i].iov_len - skip;
        cnt++;
    }
    return cnt;
}

static void *main_vectored_resume_and_peek(void *arg)
{
    const struct stream_kind *k = arg;
    cio_stream *c, *s;
    stream_pair(k, &c, &s);
    /* Many entries, some empty, more bytes than the socket buffers hold. */
    enum { N = 300, UNIT = 4999 };
    unsigned char *data = xmalloc((size_t)N * UNIT);
    struct iovec iov[N];
    size_t total = 0;
    for (int i = 0; i < N; i++) {
        size_t len = i % 7 == 3 ? 0 : (size_t)(i * 37 % UNIT) + 1;
        iov[i].iov_base = data + total;
        iov[i].iov_len = len;
        total += len;
    }
    pattern_fill(data, total, 0, 11);
    unsigned char *back = xmalloc(total);
    size_t got = 0;
    size_t sent = 0;
    /* Interleave: writev_all cut by a short deadline, then drain with peek and readv. */
    while (got < total) {
        if (sent < total) {
            /* Resume writev_all from the byte reached: rebuild the tail of the array. */
            struct iovec rest[N];
            int cnt = iov_tail(iov, N, sent, rest);
            size_t done = 0;
            int rc = CIO_TIMEOUT(5 * CIO_NSEC_PER_MSEC, cio_stream_writev_all(c, rest, cnt, &done));
            CHECK(rc == 0 || rc == -ETIMEDOUT);
            sent += done;
        }
        while (got < sent) {
            unsigned char p[16];
            ssize_t pk = CHECK_RC(cio_stream_peek(s, p, sizeof(p)));
            CHECK(pk > 0);
            struct iovec in[3] = {{back + got, 1000}, {back + got + 1000, 0}, {NULL, 0}};
            size_t want = sent - got;
            if (want < 1000) {
                in[0].iov_len = want;
            } else {
                in[2].iov_base = back + got + 1000;
                in[2].iov_len = want - 1000;
            }
            ssize_t n = CHECK_RC(cio_stream_readv(s, in, 3));
            CHECK(n > 0);
            CHECK(memcmp(p, back + got, (size_t)(pk < n ? pk : n)) == 0);
            got += (size_t)n;
        }
    }
    CHECK_EQ(pattern_check(back, total, 0, 11), total);
    /* writev and readv of plain arrays; bad arrays refused. */
    struct iovec two[2] = {{"ab", 2}, {"cde", 3}};
    CHECK_EQ(cio_stream_writev(c, two, 2), 5);
    char r1[2], r2[8];
    struct iovec rin[2] = {{r1, 2}, {r2, 8}};
    CHECK_EQ(cio_stream_readv(s, rin, 2), 5);
    CHECK(memcmp(r1, "ab", 2) == 0 && memcmp(r2, "cde", 3) == 0);
    /* More buffers than one recvmsg is given at a time: one read still fills them all, and
     * stops short (drained) when the bytes run out. */
    enum { MANY = 150, EACH = 10 };
    struct iovec many[MANY];
    for (int i = 0; i < MANY; i++)
        many[i] = (struct iovec){back + i * EACH, EACH};
    for (size_t want = 1000; want <= MANY * EACH; want += MANY * EACH - 1000) {
        pattern_fill(data, want, want, 12);
        CHECK_RC(cio_stream_write_all(c, data, want, NULL));
        CHECK_EQ(cio_stream_readv(s, many, MANY), want);
        CHECK_EQ(pattern_check(back, want, want, 12), want);
    }
    CHECK_ERR(cio_stream_readv(s, NULL, 1), -EINVAL);
    CHECK_ERR(cio_stream_writev(c, two, -1), -EINVAL);
    CHECK_EQ(cio_stream_readv(s, rin, 0), 0);
    free(data);
    free(back);
    cio_socket_close(c);
    cio_socket_close(s);
    return NULL;
}

STREAM_CASE(vectored_resume_and_peek)

/* ---- poll_* with wake callbacks ---- */

struct connect_later {
    const struct stream_kind *k;
    const cio_addr *addr;
};

static void *connect_later(void *arg)
{
    struct connect_later *cl = arg;
    CHECK_RC(cio_sleep(10 * CIO_NSEC_PER_MSEC));
    cio_stream *c;
    CHECK_RC(cl->k->connect(&c, cl->addr));
    return c;
}

static void *main_poll_forms(void *arg)
{
    const struct stream_kind *k = arg;
    cio_stream *c, *s;
    stream_listener_pair(k, &c, &s);
    atomic_int woken = 0;
    char buf[8];
    /* Nothing there: -EAGAIN, and the callback fires when data arrives. */
    CHECK_ERR(cio_socket_poll_ready(s, CIO_READABLE, count_wake, &woken), -EAGAIN);
    CHECK_ERR(cio_stream_poll_peek(s, buf, sizeof(buf), count_wake, &woken), -EAGAIN);
    CHECK_EQ(cio_stream_write(c, "xy", 2), 2);
    for (int i = 0; i < 200 && atomic_load(&woken) == 0; i++)
        CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
    CHECK_EQ(atomic_load(&woken), 1); /* one callback per direction: the latest */
    CHECK_EQ(cio_stream_poll_peek(s, buf, sizeof(buf), count_wake, &woken), 2);
    int r = CHECK_RC(cio_socket_poll_ready(s, CIO_READABLE, NULL, NULL));
    CHECK(r & CIO_READY_READABLE);
    /* c never had to wait (the connection was made at the first look), so it is not
     * registered yet: the first poll registers it and may have to wait for the reactor's
     * first report, which the callback then delivers. */
    atomic_int wr_woken = 0;
    r = cio_socket_poll_ready(c, CIO_WRITABLE, count_wake, &wr_woken);
    if (r == -EAGAIN) {
        for (int i = 0; i < 200 && atomic_load(&wr_woken) == 0; i++)
            CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
        CHECK_EQ(atomic_load(&wr_woken), 1);
        r = cio_socket_poll_ready(c, CIO_WRITABLE, count_wake, &wr_woken);
    }
    CHECK_RC(r);
    CHECK(r & CIO_READY_WRITABLE);
    CHECK_EQ(cio_stream_read(s, buf, sizeof(buf)), 2);

    /* poll_accept: armed, then woken by a connection, then it accepts. */
    cio_addr addr;
    cio_socket *l = k->listen(&addr, CIO_LISTEN_BACKLOG_DEFAULT);
    cio_stream *acc = NULL;
    atomic_int accept_woken = 0;
    CHECK_ERR(k->poll_accept(l, &acc, NULL, count_wake, &accept_woken), -EAGAIN);
    struct connect_later cl = {k, &addr};
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, connect_later, &cl));
    for (int i = 0; i < 500 && atomic_load(&accept_woken) == 0; i++)
        CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
    CHECK_EQ(atomic_load(&accept_woken), 1);
    cio_addr peer;
    CHECK_RC(k->poll_accept(l, &acc, &peer, count_wake, &accept_woken));
    CHECK_EQ(cio_addr_get_kind(&peer), k->peer_kind);
    void *other;
    CHECK_RC(cio_task_join(t, &other, NULL));
    cio_socket_close((cio_stream *)other);
    cio_socket_close(acc);
    /* Closing a listener with an armed callback calls it. */
    atomic_int closed_woken = 0;
    CHECK_ERR(k->poll_accept(l, &acc, NULL, count_wake, &closed_woken), -EAGAIN);
    cio_socket_close(l);
    CHECK_EQ(atomic_load(&closed_woken), 1);
    cio_socket_close(c);
    cio_socket_close(s);
    return NULL;
}

STREAM_CASE(poll_forms)

/* ---- try_io / async_io ---- */

/* An accepted stream, first registered by the poll calls; then try_io and async_io. */
static void *main_poll_accept_and_try_io(void *arg)
{
    const struct stream_kind *k = arg;
    cio_addr addr;
    cio_socket *l = k->listen(&addr, CIO_LISTEN_BACKLOG_DEFAULT);
    atomic_int woken = 0;
    cio_stream *s, *c;
    CHECK_ERR(k->poll_accept(l, &s, NULL, count_wake, &woken), -EAGAIN);
    CHECK_RC(k->connect(&c, &addr));
    for (int i = 0; i < 100 && atomic_load(&woken) == 0; i++)
        CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
    CHECK_EQ(atomic_load(&woken), 1);
    cio_addr peer;
    CHECK_RC(k->poll_accept(l, &s, &peer, NULL, NULL));
    CHECK_EQ(cio_addr_get_kind(&peer), k->peer_kind);

    atomic_store(&woken, 0);
    char buf[16];
    CHECK_ERR(cio_stream_poll_peek(s, buf, sizeof(buf), count_wake, &woken), -EAGAIN);
    CHECK_ERR(cio_socket_poll_ready(s, CIO_READABLE, count_wake, &woken), -EAGAIN);
    CHECK_RC(cio_socket_writable(s)); /* the first event of the new registration */
    int r = CHECK_RC(cio_socket_poll_ready(s, CIO_WRITABLE, NULL, NULL));
    CHECK(r & CIO_READY_WRITABLE);
    CHECK_EQ(cio_stream_write(c, "hey", 3), 3);
    for (int i = 0; i < 100 && atomic_load(&woken) == 0; i++)
        CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
    CHECK_EQ(atomic_load(&woken), 1); /* one callback per direction: the latest */
    CHECK_EQ(cio_stream_poll_peek(s, buf, sizeof(buf), NULL, NULL), 3);
    r = CHECK_RC(cio_socket_poll_ready(s, CIO_READABLE, NULL, NULL));
    CHECK(r & CIO_READY_READABLE);

    /* try_io: our own recv; -EAGAIN clears the readiness, so readable waits again. */
    CHECK_EQ(cio_socket_try_io(s, CIO_READABLE, raw_recv, s), 3);
    CHECK_ERR(cio_socket_try_io(s, CIO_READABLE, raw_recv, s), -EAGAIN);
    {
        CIO_TIMEOUT_SCOPE(10 * CIO_NSEC_PER_MSEC);
        CHECK_ERR(cio_socket_readable(s), -ETIMEDOUT);
        CHECK_ERR(cio_socket_async_io(s, CIO_READABLE, raw_recv, s), -ETIMEDOUT);
    }
    CHECK_EQ(cio_stream_write(c, "12345", 5), 5);
    CHECK_EQ(cio_socket_async_io(s, CIO_READABLE, raw_recv, s), 5);
    CHECK_ERR(cio_socket_try_io(s, 0, raw_recv, s), -EINVAL);
    CHECK_ERR(cio_socket_try_io(s, CIO_READABLE, NULL, s), -EINVAL);

    /* Closing calls an armed callback. */
    CHECK_ERR(cio_socket_try_io(s, CIO_READABLE, raw_recv, s), -EAGAIN);
    atomic_store(&woken, 0);
    CHECK_ERR(cio_socket_poll_ready(s, CIO_READABLE, count_wake, &woken), -EAGAIN);
    cio_socket_close(s);
    CHECK_EQ(atomic_load(&woken), 1);
    cio_socket_close(c);
    cio_socket_close(l);
    return NULL;
}

STREAM_CASE(poll_accept_and_try_io)

struct counted_recv {
    int fd;
    char buf[16];
    int calls;
};

static ssize_t counted_recv_fn(void *ctx)
{
    struct counted_recv *r = ctx;
    r->calls++;
    ssize_t n = recv(r->fd, r->buf, sizeof(r->buf), 0);
    return n < 0 ? -errno : n;
}

static void *write_later(void *arg)
{
    cio_stream *s = arg;
    CHECK_RC(cio_sleep(10 * CIO_NSEC_PER_MSEC));
    CHECK_EQ(cio_stream_write(s, "late", 4), 4);
    return NULL;
}

static void *main_try_io_async_io(void *arg)
{
    const struct stream_kind *k = arg;
    cio_stream *c, *s;
    stream_pair(k, &c, &s);
    struct counted_recv r = {.fd = cio_socket_fd(s)};
    CHECK_ERR(cio_socket_try_io(s, CIO_READABLE, counted_recv_fn, &r), -EAGAIN);
    CHECK_EQ(r.calls, 1);
    /* async_io waits for readiness between attempts. */
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, write_later, c));
    CHECK_EQ(cio_socket_async_io(s, CIO_READABLE, counted_recv_fn, &r), 4);
    CHECK(memcmp(r.buf, "late", 4) == 0);
    CHECK(r.calls <= 3);
    CHECK_RC(cio_task_join(t, NULL, NULL));
    /* After try_io's -EAGAIN the readiness is cleared: readable waits again. */
    CHECK_ERR(cio_socket_try_io(s, CIO_READABLE, counted_recv_fn, &r), -EAGAIN);
    CHECK_ERR(CIO_TIMEOUT(10 * CIO_NSEC_PER_MSEC, cio_socket_readable(s)), -ETIMEDOUT);
    CHECK_ERR(cio_socket_try_io(s, 0, counted_recv_fn, &r), -EINVAL);
    CHECK_ERR(cio_socket_async_io(s, CIO_READABLE, NULL, &r), -EINVAL);
    cio_socket_close(c);
    cio_socket_close(s);
    return NULL;
}

STREAM_CASE(try_io_async_io)

CIO_TEST_MAIN(STREAM_TESTS(echo_round_trip), STREAM_TESTS(readiness_transitions),
              STREAM_TESTS(close_wakes_waiter), STREAM_TESTS(several_readers),
              STREAM_TESTS(readable_beside_reader), STREAM_TESTS(several_acceptors),
              STREAM_TESTS(write_all_progress_on_deadline),
              STREAM_TESTS(read_exact_progress_and_eof), STREAM_TESTS(write_all_read_exact_cut),
              STREAM_TESTS(vectored_and_peek), STREAM_TESTS(vectored_resume_and_peek),
              STREAM_TESTS(poll_forms), STREAM_TESTS(poll_accept_and_try_io),
              STREAM_TESTS(try_io_async_io))
