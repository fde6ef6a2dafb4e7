/*
 * test_unix_async.c: the async Unix-stream operations on real sockets in a private temp
 * directory and under abstract names, one runtime worker — accept/connect/echo round trips
 * (path, abstract, autobind), connect errors that leave no descriptor behind, connect against
 * a full backlog (retried until the deadline, succeeding once the server accepts,
 * cancellable), readiness transitions, waking a waiter on close (-EBADF), -EBUSY for a second
 * reader or acceptor, read_exact/write_all progress, vectored I/O and peek, the poll_* forms,
 * try_io/async_io, descriptor passing as suspending calls (several descriptors, received
 * close-on-exec, none leaked, overflow closed), plain reads across a write that carried
 * descriptors (the regression for Linux's early end of such reads), borrowed and owned
 * halves with reunite, and argument errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cio/unix.h"
#include "test_tcp_async_helpers.h"

/* ---- helpers ---- */

/* A path in this case's private temp directory. */
static void tmp_path(cio_addr *ret_addr, const char *name)
{
    char path[256];
    int n = snprintf(path, sizeof(path), "%s/%s", cio_test_tmpdir(), name);
    CHECK(n > 0 && (size_t)n < sizeof(path));
    CHECK_RC(cio_addr_unix(ret_addr, path, (size_t)n));
}

/* An abstract name unique to this process and call. */
static void abstract_name(cio_addr *ret_addr)
{
    static int counter;
    char name[64];
    int n = snprintf(name, sizeof(name), "cio-test-unix-async-%d-%d", (int)getpid(), counter++);
    CHECK_RC(cio_addr_abstract(ret_addr, name, (size_t)n));
}

static cio_unix_listener *listen_at(const cio_addr *addr, int backlog)
{
    cio_unix_listener *l;
    CHECK_RC(cio_unix_listener_bind(&l, addr, backlog));
    CHECK_FD_FLAGS(cio_unix_listener_fd(l));
    return l;
}

/* A connected pair through a listener, made with the async calls. */
static void stream_pair(cio_unix_stream **ret_client, cio_unix_stream **ret_server)
{
    cio_addr addr;
    abstract_name(&addr);
    cio_unix_listener *l = listen_at(&addr, 0);
    CHECK_RC(cio_unix_stream_connect(ret_client, &addr));
    CHECK_RC(cio_unix_listener_accept(l, ret_server, NULL));
    CHECK_FD_FLAGS(cio_unix_stream_fd(*ret_client));
    CHECK_FD_FLAGS(cio_unix_stream_fd(*ret_server));
    cio_unix_listener_close(l);
}

static bool same_file(int a, int b)
{
    struct stat sa, sb;
    CHECK_SYS(fstat(a, &sa));
    CHECK_SYS(fstat(b, &sb));
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* ---- echo round trips ---- */

static void *echo_server(void *arg)
{
    cio_unix_stream *s = arg;
    unsigned char buf[4096];
    for (;;) {
        ssize_t n = CHECK_RC(cio_unix_stream_read(s, buf, sizeof(buf)));
        if (n == 0)
            break;
        size_t done = 0;
        CHECK_RC(cio_unix_stream_write_all(s, buf, (size_t)n, &done));
        CHECK_EQ(done, n);
    }
    CHECK_RC(cio_unix_stream_shutdown(s, CIO_SHUTDOWN_WRITE));
    return NULL;
}

static void echo_exchange(cio_unix_stream *c)
{
    static const size_t sizes[] = {1, 100, 4096, 70000, 1 << 20};
    unsigned char *out = xmalloc(1 << 20), *in = xmalloc(1 << 20);
    uint64_t pos = 0;
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        size_t len = sizes[k], done = 99;
        pattern_fill(out, len, pos, 7);
        size_t sent = 0, got = 0;
        while (got < len) {
            if (sent < len) {
                size_t slice = len - sent < 65536 ? len - sent : 65536;
                CHECK_RC(cio_unix_stream_write_all(c, out + sent, slice, &done));
                CHECK_EQ(done, slice);
                sent += slice;
            }
            size_t want = sent - got;
            CHECK_RC(cio_unix_stream_read_exact(c, in + got, want, &done));
            CHECK_EQ(done, want);
            got += want;
        }
        CHECK_EQ(pattern_check(in, len, pos, 7), len);
        pos += len;
    }
    free(out);
    free(in);
}

struct acceptor {
    cio_unix_listener *l;
    int count;
};

static void *accept_and_echo(void *arg)
{
    struct acceptor *a = arg;
    for (int i = 0; i < a->count; i++) {
        cio_unix_stream *s;
        cio_addr peer;
        CHECK_RC(cio_unix_listener_accept(a->l, &s, &peer));
        CHECK_FD_FLAGS(cio_unix_stream_fd(s));
        CHECK_EQ(cio_addr_get_kind(&peer), CIO_ADDR_UNNAMED);
        echo_server(s);
        cio_unix_stream_close(s);
    }
    return NULL;
}

/* Accept in a task of its own (which waits first), connect from the main task, echo. */
static void echo_at(const cio_addr *addr)
{
    struct acceptor a = {listen_at(addr, 0), 2};
    cio_addr bound;
    CHECK_RC(cio_unix_listener_local_addr(a.l, &bound));
    cio_task *t;
    CHECK_RC(cio_spawn(&t, accept_and_echo, &a));
    CHECK_RC(cio_yield()); /* the acceptor parks on the empty backlog */
    for (int i = 0; i < 2; i++) {
        cio_unix_stream *c;
        CHECK_RC(cio_unix_stream_connect(&c, &bound));
        CHECK_FD_FLAGS(cio_unix_stream_fd(c));
        cio_addr peer;
        CHECK_RC(cio_unix_stream_peer_addr(c, &peer));
        CHECK(cio_addr_equal(&peer, &bound));
        echo_exchange(c);
        CHECK_RC(cio_unix_stream_shutdown(c, CIO_SHUTDOWN_WRITE));
        char b;
        CHECK_EQ(cio_unix_stream_read(c, &b, 1), 0);
        cio_unix_stream_close(c);
    }
    CHECK_RC(cio_task_join(t, NULL));
    cio_unix_listener_close(a.l);
}

static void *main_echo_kinds(void *arg)
{
    (void)arg;
    cio_addr addr;
    tmp_path(&addr, "echo.sock");
    echo_at(&addr);
    abstract_name(&addr);
    echo_at(&addr);
    CHECK_RC(cio_addr_unnamed(&addr)); /* autobind: the listener picks an abstract name */
    echo_at(&addr);
    return NULL;
}

static void test_echo_path_abstract_autobind(void)
{
    run(main_echo_kinds, NULL);
}

/* ---- connect ---- */

static void *main_connect_errors(void *arg)
{
    (void)arg;
    int fds = cio_test_open_fds();
    cio_unix_stream *c = NULL;
    cio_addr addr;
    tmp_path(&addr, "nobody.sock");
    CHECK_ERR(cio_unix_stream_connect(&c, &addr), -ENOENT);
    abstract_name(&addr);
    CHECK_ERR(cio_unix_stream_connect(&c, &addr), -ECONNREFUSED);
    /* A datagram socket at the path. */
    tmp_path(&addr, "dgram.sock");
    cio_unix_datagram *d;
    CHECK_RC(cio_unix_datagram_bind(&d, &addr));
    CHECK_ERR(cio_unix_stream_connect(&c, &addr), -EPROTOTYPE);
    cio_unix_datagram_close(d);
    /* A stale socket file: nobody listens. */
    CHECK_ERR(cio_unix_stream_connect(&c, &addr), -ECONNREFUSED);
    CHECK_ERR(cio_unix_stream_connect(NULL, &addr), -EINVAL);
    CHECK_ERR(cio_unix_stream_connect(&c, NULL), -EINVAL);
    CHECK_RC(cio_addr_unnamed(&addr));
    CHECK_ERR(cio_unix_stream_connect(&c, &addr), -EINVAL);
    CHECK_RC(cio_addr_parse(&addr, "127.0.0.1:1"));
    CHECK_ERR(cio_unix_stream_connect(&c, &addr), -EAFNOSUPPORT);
    CHECK(c == NULL);
    CHECK_EQ(cio_test_open_fds(), fds);
    return NULL;
}

static void test_connect_errors(void)
{
    run(main_connect_errors, NULL);
    /* Outside a task. */
    cio_unix_stream *c;
    cio_addr addr;
    abstract_name(&addr);
    CHECK_ERR(cio_unix_stream_connect(&c, &addr), -EPERM);
}

/* Fill @l's backlog with non-blocking connects; the pending clients go to @held. */
static size_t fill_backlog(const cio_addr *addr, cio_unix_stream **held, size_t max)
{
    size_t n = 0;
    for (;;) {
        CHECK(n < max);
        int rc = cio_unix_stream_try_connect(&held[n], addr);
        if (rc == -EAGAIN)
            return n;
        CHECK_RC(rc);
        n++;
    }
}

struct late_acceptor {
    cio_unix_listener *l;
    cio_duration delay;
    cio_unix_stream *s;
};

static void *accept_later(void *arg)
{
    struct late_acceptor *a = arg;
    CHECK_RC(cio_sleep(a->delay));
    CHECK_RC(cio_unix_listener_accept(a->l, &a->s, NULL));
    return NULL;
}

static void *connect_until_cancelled(void *arg)
{
    cio_unix_stream *c;
    CHECK_ERR(cio_unix_stream_connect(&c, arg), -ECANCELED);
    return NULL;
}

static void *main_full_backlog(void *arg)
{
    (void)arg;
    cio_addr addr;
    tmp_path(&addr, "busy.sock");
    cio_unix_listener *l = listen_at(&addr, 1);
    cio_unix_stream *held[64];
    size_t n = fill_backlog(&addr, held, 64);
    CHECK(n >= 1);
    int fds = cio_test_open_fds();
    /* Nobody accepts: retried until the deadline, no socket left behind. */
    cio_unix_stream *c;
    cio_time start = cio_now();
    cio_time saved = cio_deadline_set(start + 60 * CIO_NSEC_PER_MSEC);
    CHECK_ERR(cio_unix_stream_connect(&c, &addr), -ETIMEDOUT);
    cio_deadline_restore(saved);
    CHECK(cio_now() - start >= 55 * CIO_NSEC_PER_MSEC);
    CHECK_EQ(cio_test_open_fds(), fds);
    /* Cancelled while retrying. */
    cio_task *t;
    CHECK_RC(cio_spawn(&t, connect_until_cancelled, &addr));
    CHECK_RC(cio_sleep(10 * CIO_NSEC_PER_MSEC));
    CHECK(!cio_task_is_finished(t));
    CHECK_RC(cio_task_cancel(t));
    CHECK_ERR(cio_task_join(t, NULL), -ECANCELED);
    CHECK_EQ(cio_test_open_fds(), fds);
    /* The server accepts one 20 ms from now: the waiting connect gets through. */
    struct late_acceptor a = {l, 20 * CIO_NSEC_PER_MSEC, NULL};
    CHECK_RC(cio_spawn(&t, accept_later, &a));
    start = cio_now();
    saved = cio_deadline_set(start + 5 * CIO_NSEC_PER_SEC);
    CHECK_RC(cio_unix_stream_connect(&c, &addr));
    cio_deadline_restore(saved);
    CHECK(cio_now() - start >= 15 * CIO_NSEC_PER_MSEC);
    CHECK_RC(cio_task_join(t, NULL));
    /* The accepted one is the first client held (the backlog is a queue). */
    CHECK_EQ(cio_unix_stream_write(held[0], "first", 5), 5);
    char buf[8];
    CHECK_EQ(cio_unix_stream_read(a.s, buf, sizeof(buf)), 5);
    CHECK(memcmp(buf, "first", 5) == 0);
    cio_unix_stream_close(a.s);
    cio_unix_stream_close(c);
    for (size_t i = 0; i < n; i++)
        cio_unix_stream_close(held[i]);
    cio_unix_listener_close(l);
    return NULL;
}

static void test_connect_full_backlog(void)
{
    run(main_full_backlog, NULL);
}

/* ---- readiness ---- */

static void *main_readiness(void *arg)
{
    (void)arg;
    cio_unix_stream *c, *s;
    CHECK_RC(cio_unix_stream_pair(&c, &s));
    int r = CHECK_RC(cio_unix_stream_writable(c));
    CHECK(r & CIO_READY_WRITABLE);
    cio_time saved = cio_deadline_set(cio_now() + 30 * CIO_NSEC_PER_MSEC);
    cio_time start = cio_now();
    CHECK_ERR(cio_unix_stream_readable(s), -ETIMEDOUT);
    CHECK(cio_now() - start >= 25 * CIO_NSEC_PER_MSEC);
    cio_deadline_restore(saved);
    CHECK_EQ(cio_unix_stream_write(c, "abc", 3), 3);
    r = CHECK_RC(cio_unix_stream_readable(s));
    CHECK(r & CIO_READY_READABLE);
    r = CHECK_RC(cio_unix_stream_ready(s, CIO_READABLE | CIO_WRITABLE));
    CHECK((r & (CIO_READY_READABLE | CIO_READY_WRITABLE)) ==
          (CIO_READY_READABLE | CIO_READY_WRITABLE));
    char buf[8];
    CHECK_EQ(cio_unix_stream_read(s, buf, sizeof(buf)), 3);
    /* Drained by a short read: readable no longer reported. */
    saved = cio_deadline_set(cio_now() + 10 * CIO_NSEC_PER_MSEC);
    CHECK_ERR(cio_unix_stream_readable(s), -ETIMEDOUT);
    cio_deadline_restore(saved);
    CHECK_RC(cio_unix_stream_shutdown(c, CIO_SHUTDOWN_WRITE));
    r = CHECK_RC(cio_unix_stream_readable(s));
    CHECK(r & CIO_READY_READ_CLOSED);
    CHECK_EQ(cio_unix_stream_read(s, buf, sizeof(buf)), 0);
    cio_unix_stream_clear_ready(s, r);
    r = CHECK_RC(cio_unix_stream_readable(s));
    CHECK(r & CIO_READY_READ_CLOSED);
    cio_unix_stream_clear_ready(NULL, r);
    CHECK_ERR(cio_unix_stream_ready(s, 0), -EINVAL);
    CHECK_ERR(cio_unix_stream_ready(NULL, CIO_READABLE), -EINVAL);
    cio_unix_stream_close(c);
    cio_unix_stream_close(s);
    return NULL;
}

static void test_readiness_transitions(void)
{
    run(main_readiness, NULL);
}

/* ---- close wakes, second waiter is refused ---- */

struct waiter {
    cio_unix_stream *s;
    cio_unix_listener *l;
    ssize_t rc;
    atomic_int started;
    char buf[16];
};

static void *blocked_read(void *arg)
{
    struct waiter *w = arg;
    atomic_store(&w->started, 1);
    w->rc = cio_unix_stream_read(w->s, w->buf, sizeof(w->buf));
    return NULL;
}

static void *blocked_accept(void *arg)
{
    struct waiter *w = arg;
    atomic_store(&w->started, 1);
    cio_unix_stream *s;
    w->rc = cio_unix_listener_accept(w->l, &s, NULL);
    if (w->rc == 0)
        cio_unix_stream_close(s);
    return NULL;
}

static void *main_close_wakes(void *arg)
{
    (void)arg;
    cio_unix_stream *c, *s;
    CHECK_RC(cio_unix_stream_pair(&c, &s));
    struct waiter w = {.s = s};
    cio_task *t;
    CHECK_RC(cio_spawn(&t, blocked_read, &w));
    CHECK_RC(cio_sleep(10 * CIO_NSEC_PER_MSEC));
    CHECK_EQ(atomic_load(&w.started), 1);
    CHECK(!cio_task_is_finished(t));
    cio_time start = cio_now();
    cio_unix_stream_close(s);
    CHECK_RC(cio_task_join(t, NULL));
    CHECK_EQ(w.rc, -EBADF);
    CHECK(cio_now() - start < 500 * CIO_NSEC_PER_MSEC);
    cio_unix_stream_close(c);

    /* A listener closed under its acceptor. */
    cio_addr addr;
    tmp_path(&addr, "close.sock");
    struct waiter wl = {.l = listen_at(&addr, 0)};
    CHECK_RC(cio_spawn(&t, blocked_accept, &wl));
    CHECK_RC(cio_sleep(10 * CIO_NSEC_PER_MSEC));
    CHECK(!cio_task_is_finished(t));
    start = cio_now();
    cio_unix_listener_close(wl.l);
    CHECK_RC(cio_task_join(t, NULL));
    CHECK_EQ(wl.rc, -EBADF);
    CHECK(cio_now() - start < 500 * CIO_NSEC_PER_MSEC);
    return NULL;
}

static void test_close_wakes_waiter(void)
{
    run(main_close_wakes, NULL);
}

static void *main_busy(void *arg)
{
    (void)arg;
    cio_unix_stream *c, *s;
    CHECK_RC(cio_unix_stream_pair(&c, &s));
    struct waiter a = {.s = s}, b = {.s = s};
    cio_task *ta, *tb;
    CHECK_RC(cio_spawn(&ta, blocked_read, &a));
    CHECK_RC(cio_sleep(5 * CIO_NSEC_PER_MSEC));
    CHECK(!cio_task_is_finished(ta));
    CHECK_RC(cio_spawn(&tb, blocked_read, &b));
    CHECK_RC(cio_task_join(tb, NULL));
    CHECK_EQ(b.rc, -EBUSY);
    char x;
    int fd;
    size_t nfds;
    CHECK_ERR(cio_unix_stream_peek(s, &x, 1), -EBUSY);
    CHECK_ERR(cio_unix_stream_recv_fds(s, &x, 1, &fd, 1, &nfds), -EBUSY);
    CHECK_ERR(cio_unix_stream_readable(s), -EBUSY);
    CHECK_EQ(cio_unix_stream_write(s, "pong", 4), 4);
    CHECK_EQ(cio_unix_stream_write(c, "ping", 4), 4);
    CHECK_RC(cio_task_join(ta, NULL));
    CHECK_EQ(a.rc, 4);
    CHECK(memcmp(a.buf, "ping", 4) == 0);
    char buf[4];
    CHECK_RC(cio_unix_stream_read_exact(c, buf, 4, NULL));
    CHECK(memcmp(buf, "pong", 4) == 0);
    cio_unix_stream_close(c);
    cio_unix_stream_close(s);

    /* A second acceptor. */
    cio_addr addr;
    abstract_name(&addr);
    struct waiter wl = {.l = listen_at(&addr, 0)};
    CHECK_RC(cio_spawn(&ta, blocked_accept, &wl));
    CHECK_RC(cio_sleep(5 * CIO_NSEC_PER_MSEC));
    cio_unix_stream *extra;
    CHECK_ERR(cio_unix_listener_accept(wl.l, &extra, NULL), -EBUSY);
    CHECK_RC(cio_unix_stream_connect(&c, &addr));
    CHECK_RC(cio_task_join(ta, NULL));
    CHECK_EQ(wl.rc, 0);
    cio_unix_stream_close(c);
    cio_unix_listener_close(wl.l);
    return NULL;
}

static void test_second_waiter_busy(void)
{
    run(main_busy, NULL);
}

/* ---- progress, vectored I/O, peek ---- */

static void *main_progress(void *arg)
{
    (void)arg;
    cio_unix_stream *c, *s;
    stream_pair(&c, &s);
    /* write_all into a peer that does not read: cut by the deadline, progress reported. */
    enum { LEN = 8 << 20 };
    unsigned char *data = xmalloc(LEN), *in = xmalloc(LEN);
    pattern_fill(data, LEN, 0, 5);
    size_t done = 0;
    cio_time saved = cio_deadline_set(cio_now() + 50 * CIO_NSEC_PER_MSEC);
    CHECK_ERR(cio_unix_stream_write_all(c, data, LEN, &done), -ETIMEDOUT);
    cio_deadline_restore(saved);
    CHECK(done > 0 && done < LEN);
    /* read_exact of more than is there: cut, with what did come. */
    size_t got = 0;
    saved = cio_deadline_set(cio_now() + 50 * CIO_NSEC_PER_MSEC);
    CHECK_ERR(cio_unix_stream_read_exact(s, in, LEN, &got), -ETIMEDOUT);
    cio_deadline_restore(saved);
    CHECK_EQ(got, done);
    CHECK_EQ(pattern_check(in, got, 0, 5), got);
    /* Early end: -EPIPE with what came. */
    CHECK_RC(cio_unix_stream_write_all(c, data + done, 10, NULL));
    CHECK_RC(cio_unix_stream_shutdown(c, CIO_SHUTDOWN_WRITE));
    size_t tail = 0;
    CHECK_ERR(cio_unix_stream_read_exact(s, in + got, 20, &tail), -EPIPE);
    CHECK_EQ(tail, 10);
    CHECK_EQ(pattern_check(in, got + 10, 0, 5), got + 10);
    /* After our shutdown the write side is gone: -EPIPE, no signal. */
    CHECK_ERR(cio_unix_stream_write(c, "x", 1), -EPIPE);
    CHECK_EQ(cio_unix_stream_read(s, in, 0), 0);
    CHECK_EQ(cio_unix_stream_write(s, data, 0), 0);
    free(data);
    free(in);
    cio_unix_stream_close(c);
    cio_unix_stream_close(s);
    return NULL;
}

static void test_write_all_read_exact_progress(void)
{
    run(main_progress, NULL);
}

static void *main_vectored_peek(void *arg)
{
    (void)arg;
    cio_unix_stream *c, *s;
    CHECK_RC(cio_unix_stream_pair(&c, &s));
    /* Many entries, some empty, more bytes than the socket buffers hold. */
    enum { NVEC = 300, UNIT = 4999 };
    unsigned char *data = xmalloc((size_t)NVEC * UNIT);
    struct iovec iov[NVEC];
    size_t total = 0;
    for (int i = 0; i < NVEC; i++) {
        size_t len = i % 7 == 3 ? 0 : (size_t)(i * 37 % UNIT) + 1;
        iov[i].iov_base = data + total;
        iov[i].iov_len = len;
        total += len;
    }
    pattern_fill(data, total, 0, 11);
    unsigned char *back = xmalloc(total);
    size_t got = 0;
    size_t sent = 0;
    /* Interleave: write_all_v cut by a short deadline, then drain with peek and readv. */
    while (got < total) {
        if (sent < total) {
            /* Resume write_all_v from the byte reached: rebuild the tail of the array. */
            struct iovec rest[NVEC];
            int cnt = 0;
            size_t off = 0;
            for (int i = 0; i < NVEC; i++) {
                size_t start = off, end = off + iov[i].iov_len;
                off = end;
                if (end <= sent)
                    continue;
                size_t skip = sent > start ? sent - start : 0;
                rest[cnt].iov_base = (char *)iov[i].iov_base + skip;
                rest[cnt].iov_len = iov[i].iov_len - skip;
                cnt++;
            }
            size_t done = 0;
            cio_time saved = cio_deadline_set(cio_now() + 5 * CIO_NSEC_PER_MSEC);
            int rc = cio_unix_stream_write_all_v(c, rest, cnt, &done);
            cio_deadline_restore(saved);
            CHECK(rc == 0 || rc == -ETIMEDOUT);
            sent += done;
        }
        while (got < sent) {
            unsigned char p[16];
            ssize_t k = CHECK_RC(cio_unix_stream_peek(s, p, sizeof(p)));
            CHECK(k > 0);
            struct iovec in[3] = {{back + got, 1000}, {back + got + 1000, 0}, {NULL, 0}};
            size_t want = sent - got;
            if (want < 1000)
                in[0].iov_len = want;
            else {
                in[2].iov_base = back + got + 1000;
                in[2].iov_len = want - 1000;
            }
            ssize_t n = CHECK_RC(cio_unix_stream_readv(s, in, 3));
            CHECK(n > 0);
            CHECK(memcmp(p, back + got, (size_t)(k < n ? k : n)) == 0);
            got += (size_t)n;
        }
    }
    CHECK_EQ(pattern_check(back, total, 0, 11), total);
    /* writev and readv of plain arrays; bad arrays refused. */
    struct iovec two[2] = {{"ab", 2}, {"cde", 3}};
    CHECK_EQ(cio_unix_stream_writev(c, two, 2), 5);
    char r1[2], r2[8];
    struct iovec rin[2] = {{r1, 2}, {r2, 8}};
    CHECK_EQ(cio_unix_stream_readv(s, rin, 2), 5);
    CHECK(memcmp(r1, "ab", 2) == 0 && memcmp(r2, "cde", 3) == 0);
    /* More buffers than one recvmsg is given at a time: one read still fills them all, and
     * stops short (drained) when the bytes run out. */
    enum { MANY = 150, EACH = 10 };
    struct iovec many[MANY];
    for (int i = 0; i < MANY; i++)
        many[i] = (struct iovec){back + i * EACH, EACH};
    for (size_t want = 1000; want <= MANY * EACH; want += MANY * EACH - 1000) {
        pattern_fill(data, want, want, 12);
        CHECK_RC(cio_unix_stream_write_all(c, data, want, NULL));
        CHECK_EQ(cio_unix_stream_readv(s, many, MANY), want);
        CHECK_EQ(pattern_check(back, want, want, 12), want);
    }
    CHECK_ERR(cio_unix_stream_readv(s, NULL, 1), -EINVAL);
    CHECK_ERR(cio_unix_stream_writev(c, two, -1), -EINVAL);
    CHECK_EQ(cio_unix_stream_readv(s, rin, 0), 0);
    free(data);
    free(back);
    cio_unix_stream_close(c);
    cio_unix_stream_close(s);
    return NULL;
}

static void test_vectored_and_peek(void)
{
    run(main_vectored_peek, NULL);
}

/* ---- poll forms, try_io / async_io ---- */

static void count_wake(void *ctx)
{
    atomic_fetch_add((atomic_int *)ctx, 1);
}

static ssize_t raw_recv(void *ctx)
{
    cio_unix_stream *s = ctx;
    char b[64];
    ssize_t n = recv(cio_unix_stream_fd(s), b, sizeof(b), MSG_DONTWAIT);
    return n < 0 ? -errno : n;
}

static void *main_poll_forms(void *arg)
{
    (void)arg;
    cio_addr addr;
    abstract_name(&addr);
    cio_unix_listener *l = listen_at(&addr, 0);
    atomic_int woken = 0;
    cio_unix_stream *s, *c;
    CHECK_ERR(cio_unix_listener_poll_accept(l, &s, NULL, count_wake, &woken), -EAGAIN);
    CHECK_RC(cio_unix_stream_connect(&c, &addr));
    for (int i = 0; i < 100 && atomic_load(&woken) == 0; i++)
        CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
    CHECK_EQ(atomic_load(&woken), 1);
    cio_addr peer;
    CHECK_RC(cio_unix_listener_poll_accept(l, &s, &peer, NULL, NULL));
    CHECK_EQ(cio_addr_get_kind(&peer), CIO_ADDR_UNNAMED);

    atomic_store(&woken, 0);
    char buf[16];
    CHECK_ERR(cio_unix_stream_poll_peek(s, buf, sizeof(buf), count_wake, &woken), -EAGAIN);
    CHECK_ERR(cio_unix_stream_poll_read_ready(s, count_wake, &woken), -EAGAIN);
    CHECK_RC(cio_unix_stream_writable(s)); /* the first event of the new registration */
    int r = CHECK_RC(cio_unix_stream_poll_write_ready(s, NULL, NULL));
    CHECK(r & CIO_READY_WRITABLE);
    CHECK_EQ(cio_unix_stream_write(c, "hey", 3), 3);
    for (int i = 0; i < 100 && atomic_load(&woken) == 0; i++)
        CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
    CHECK_EQ(atomic_load(&woken), 1); /* one callback per direction: the latest */
    CHECK_EQ(cio_unix_stream_poll_peek(s, buf, sizeof(buf), NULL, NULL), 3);
    r = CHECK_RC(cio_unix_stream_poll_read_ready(s, NULL, NULL));
    CHECK(r & CIO_READY_READABLE);

    /* try_io: our own recv; -EAGAIN clears the readiness, so readable waits again. */
    CHECK_EQ(cio_unix_stream_try_io(s, CIO_READABLE, raw_recv, s), 3);
    CHECK_ERR(cio_unix_stream_try_io(s, CIO_READABLE, raw_recv, s), -EAGAIN);
    cio_time saved = cio_deadline_set(cio_now() + 10 * CIO_NSEC_PER_MSEC);
    CHECK_ERR(cio_unix_stream_readable(s), -ETIMEDOUT);
    CHECK_ERR(cio_unix_stream_async_io(s, CIO_READABLE, raw_recv, s), -ETIMEDOUT);
    cio_deadline_restore(saved);
    CHECK_EQ(cio_unix_stream_write(c, "12345", 5), 5);
    CHECK_EQ(cio_unix_stream_async_io(s, CIO_READABLE, raw_recv, s), 5);
    CHECK_ERR(cio_unix_stream_try_io(s, 0, raw_recv, s), -EINVAL);
    CHECK_ERR(cio_unix_stream_try_io(s, CIO_READABLE, NULL, s), -EINVAL);

    /* Closing calls an armed callback. */
    CHECK_ERR(cio_unix_stream_try_io(s, CIO_READABLE, raw_recv, s), -EAGAIN);
    atomic_store(&woken, 0);
    CHECK_ERR(cio_unix_stream_poll_read_ready(s, count_wake, &woken), -EAGAIN);
    cio_unix_stream_close(s);
    CHECK_EQ(atomic_load(&woken), 1);
    cio_unix_stream_close(c);
    cio_unix_listener_close(l);
    return NULL;
}

static void test_poll_forms_and_try_io(void)
{
    run(main_poll_forms, NULL);
}

/* ---- descriptor passing ---- */

struct fd_receiver {
    cio_unix_stream *s;
    int got[8];
    size_t nfds;
    char buf[16];
    ssize_t n;
};

static void *recv_fds_task(void *arg)
{
    struct fd_receiver *r = arg;
    r->n = cio_unix_stream_recv_fds(r->s, r->buf, sizeof(r->buf), r->got, 8, &r->nfds);
    return NULL;
}

static void *main_fd_passing(void *arg)
{
    (void)arg;
    int base = cio_test_open_fds();
    cio_unix_stream *a, *b;
    stream_pair(&a, &b);
    int pipes[2];
    CHECK_SYS(pipe2(pipes, O_NONBLOCK | O_CLOEXEC));
    cio_unix_datagram *d1, *d2;
    CHECK_RC(cio_unix_datagram_pair(&d1, &d2));
    int sent[3] = {pipes[0], pipes[1], cio_unix_datagram_fd(d1)};
    int before = cio_test_open_fds();

    /* The receiver waits first: the descriptors arrive while it is suspended. */
    struct fd_receiver r = {.s = b, .nfds = 99};
    cio_task *t;
    CHECK_RC(cio_spawn(&t, recv_fds_task, &r));
    CHECK_RC(cio_sleep(5 * CIO_NSEC_PER_MSEC));
    CHECK(!cio_task_is_finished(t));
    CHECK_EQ(cio_unix_stream_send_fds(a, "FDS", 3, sent, 3), 3);
    CHECK_RC(cio_task_join(t, NULL));
    CHECK_EQ(r.n, 3);
    CHECK(memcmp(r.buf, "FDS", 3) == 0);
    CHECK_EQ(r.nfds, 3);
    CHECK_EQ(cio_test_open_fds(), before + 3);
    for (size_t i = 0; i < 3; i++) {
        CHECK_FD_FLAGS(r.got[i]);
        CHECK(r.got[i] != sent[i]);
        CHECK(same_file(r.got[i], sent[i]));
    }
    /* They work: through the received pipe end, and the received datagram socket. */
    CHECK_EQ(write(r.got[1], "zz", 2), 2);
    char buf[16];
    CHECK_EQ(read(pipes[0], buf, sizeof(buf)), 2);
    cio_unix_datagram *passed;
    CHECK_RC(cio_unix_datagram_from_fd(&passed, r.got[2]));
    CHECK_EQ(cio_unix_datagram_send(passed, "dg", 2), 2);
    CHECK_EQ(cio_unix_datagram_recv(d2, buf, sizeof(buf)), 2);
    cio_unix_datagram_close(passed);
    CHECK_SYS(close(r.got[0]));
    CHECK_SYS(close(r.got[1]));
    CHECK_EQ(cio_test_open_fds(), before);

    /* Data without descriptors reports none; more descriptors than room: -ENOBUFS, every
     * one that arrived closed. */
    CHECK_EQ(cio_unix_stream_send_fds(a, "plain", 5, NULL, 0), 5);
    int got[8];
    size_t n = 99;
    CHECK_EQ(cio_unix_stream_recv_fds(b, buf, sizeof(buf), got, 8, &n), 5);
    CHECK_EQ(n, 0);
    CHECK_EQ(cio_unix_stream_send_fds(a, "X", 1, sent, 3), 1);
    n = 99;
    CHECK_ERR(cio_unix_stream_recv_fds(b, buf, sizeof(buf), got, 2, &n), -ENOBUFS);
    CHECK_EQ(n, 99); /* written only on success */
    CHECK_EQ(cio_test_open_fds(), before);
    /* Argument errors, at once. */
    CHECK_ERR(cio_unix_stream_send_fds(a, NULL, 0, sent, 1), -EINVAL);
    CHECK_ERR(cio_unix_stream_send_fds(a, "x", 1, NULL, 1), -EINVAL);
    CHECK_ERR(cio_unix_stream_send_fds(a, "x", 1, sent, CIO_UNIX_FDS_MAX + 1), -EINVAL);
    CHECK_ERR(cio_unix_stream_recv_fds(b, buf, sizeof(buf), got, 8, NULL), -EINVAL);
    CHECK_ERR(cio_unix_stream_recv_fds(NULL, buf, sizeof(buf), got, 8, &n), -EINVAL);
    int bad = 1000;
    CHECK_ERR(cio_unix_stream_send_fds(a, "x", 1, &bad, 1), -EBADF);
    /* A receive cut by its deadline took nothing: the descriptors come with the next. */
    cio_time saved = cio_deadline_set(cio_now() + 10 * CIO_NSEC_PER_MSEC);
    CHECK_ERR(cio_unix_stream_recv_fds(b, buf, sizeof(buf), got, 8, &n), -ETIMEDOUT);
    cio_deadline_restore(saved);
    CHECK_EQ(cio_unix_stream_send_fds(a, "Y", 1, sent, 2), 1);
    CHECK_EQ(cio_unix_stream_recv_fds(b, buf, sizeof(buf), got, 8, &n), 1);
    CHECK_EQ(n, 2);
    CHECK_FD_FLAGS(got[0]);
    CHECK_FD_FLAGS(got[1]);
    CHECK_SYS(close(got[0]));
    CHECK_SYS(close(got[1]));

    /* Datagrams: descriptors alone, and with data, through the suspending calls. */
    CHECK_EQ(cio_unix_datagram_send_fds(d1, NULL, 0, sent, 2, NULL), 0);
    CHECK_EQ(cio_unix_datagram_recv_fds(d2, buf, sizeof(buf), got, 8, &n, NULL), 0);
    CHECK_EQ(n, 2);
    CHECK_FD_FLAGS(got[0]);
    CHECK(same_file(got[1], pipes[1]));
    CHECK_SYS(close(got[0]));
    CHECK_SYS(close(got[1]));
    CHECK_EQ(cio_unix_datagram_send_fds(d1, "dgfd", 4, sent, 1, NULL), 4);
    CHECK_ERR(cio_unix_datagram_recv_fds(d2, buf, sizeof(buf), got, 0, &n, NULL), -ENOBUFS);
    CHECK_EQ(cio_test_open_fds(), before);

    cio_unix_datagram_close(d1);
    cio_unix_datagram_close(d2);
    CHECK_SYS(close(pipes[0]));
    CHECK_SYS(close(pipes[1]));
    cio_unix_stream_close(a);
    cio_unix_stream_close(b);
    CHECK_EQ(cio_test_open_fds(), base);
    return NULL;
}

static void test_fd_passing(void)
{
    run(main_fd_passing, NULL);
}

/*
 * Linux ends a read after the bytes of a write that carried descriptors, with more bytes
 * queued. A read must not then count as "drained" (clearing read readiness), or the bytes
 * behind would wait for an edge that never comes. Here they must come back from one read.
 */
static void *main_read_across_fds(void *arg)
{
    (void)arg;
    int base = cio_test_open_fds();
    cio_unix_stream *a, *b;
    CHECK_RC(cio_unix_stream_pair(&a, &b));
    int pipes[2];
    CHECK_SYS(pipe2(pipes, O_NONBLOCK | O_CLOEXEC));
    for (int round = 0; round < 3; round++) {
        CHECK_EQ(cio_unix_stream_write(a, "AAA", 3), 3);
        CHECK_EQ(cio_unix_stream_send_fds(a, "BBB", 3, pipes, 2), 3);
        CHECK_EQ(cio_unix_stream_write(a, "CCC", 3), 3);
        CHECK_EQ(cio_unix_stream_send_fds(a, "DDD", 3, pipes, 1), 3);
        CHECK_EQ(cio_unix_stream_write(a, "E", 1), 1);
        char buf[64];
        cio_time saved = cio_deadline_set(cio_now() + 2 * CIO_NSEC_PER_SEC);
        if (round == 0) {
            CHECK_EQ(cio_unix_stream_read(b, buf, sizeof(buf)), 13);
        } else if (round == 1) {
            char x[5], y[64];
            struct iovec iov[2] = {{x, 5}, {y, sizeof(y)}};
            CHECK_EQ(cio_unix_stream_readv(b, iov, 2), 13);
            memcpy(buf, x, 5);
            memcpy(buf + 5, y, 8);
        } else {
            CHECK_RC(cio_unix_stream_read_exact(b, buf, 13, NULL));
        }
        cio_deadline_restore(saved);
        CHECK(memcmp(buf, "AAABBBCCCDDDE", 13) == 0);
        /* Nothing left, and the descriptors that came with plain reads were closed. */
        saved = cio_deadline_set(cio_now() + 10 * CIO_NSEC_PER_MSEC);
        CHECK_ERR(cio_unix_stream_read(b, buf, sizeof(buf)), -ETIMEDOUT);
        cio_deadline_restore(saved);
        CHECK_EQ(cio_test_open_fds(), base + 4);
    }
    /* recv_fds takes one message's descriptors and stops there; what follows stays. */
    CHECK_EQ(cio_unix_stream_send_fds(a, "F1", 2, pipes, 1), 2);
    CHECK_EQ(cio_unix_stream_write(a, "tail", 4), 4);
    char buf[64];
    int got[4];
    size_t n = 0;
    CHECK_EQ(cio_unix_stream_recv_fds(b, buf, sizeof(buf), got, 4, &n), 2);
    CHECK_EQ(n, 1);
    CHECK_SYS(close(got[0]));
    CHECK_EQ(cio_unix_stream_read(b, buf, sizeof(buf)), 4);
    CHECK(memcmp(buf, "tail", 4) == 0);
    CHECK_SYS(close(pipes[0]));
    CHECK_SYS(close(pipes[1]));
    cio_unix_stream_close(a);
    cio_unix_stream_close(b);
    CHECK_EQ(cio_test_open_fds(), base);
    return NULL;
}

static void test_read_across_descriptor_boundary(void)
{
    run(main_read_across_fds, NULL);
}

/* ---- halves ---- */

enum { DUPLEX = 2 << 20 };

struct half_writer {
    const cio_unix_write_half *wr;
    unsigned seed;
};

static void *write_half_task(void *arg)
{
    struct half_writer *h = arg;
    unsigned char *buf = xmalloc(70000);
    uint64_t pos = 0;
    CHECK(CHECK_RC(cio_unix_write_half_writable(h->wr)) & CIO_READY_WRITABLE);
    while (pos < DUPLEX) {
        size_t n = DUPLEX - pos < 70000 ? DUPLEX - pos : 70000;
        pattern_fill(buf, n, pos, h->seed);
        if (pos % 2) {
            struct iovec iov[2] = {{buf, n / 2}, {buf + n / 2, n - n / 2}};
            CHECK_RC(cio_unix_write_half_write_all_v(h->wr, iov, 2, NULL));
        } else {
            CHECK_RC(cio_unix_write_half_write_all(h->wr, buf, n, NULL));
        }
        pos += n;
    }
    CHECK_RC(cio_unix_write_half_shutdown(h->wr));
    free(buf);
    return NULL;
}

struct half_reader {
    const cio_unix_read_half *rd;
    unsigned seed;
};

static void *read_half_task(void *arg)
{
    struct half_reader *h = arg;
    unsigned char *buf = xmalloc(65536);
    uint64_t pos = 0;
    for (int i = 0;; i++) {
        ssize_t n;
        if (i % 3 == 0) {
            CHECK_RC(cio_unix_read_half_readable(h->rd));
            unsigned char p[8];
            ssize_t k = CHECK_RC(cio_unix_read_half_peek(h->rd, p, sizeof(p)));
            n = CHECK_RC(cio_unix_read_half_read(h->rd, buf, 65536));
            CHECK(k == 0 ? n == 0 : memcmp(p, buf, (size_t)(k < n ? k : n)) == 0);
        } else if (i % 3 == 1) {
            struct iovec iov[2] = {{buf, 100}, {buf + 100, 65436}};
            n = CHECK_RC(cio_unix_read_half_readv(h->rd, iov, 2));
        } else if (DUPLEX - pos >= 3000) {
            CHECK_RC(cio_unix_read_half_read_exact(h->rd, buf, 3000, NULL));
            n = 3000;
        } else {
            n = CHECK_RC(cio_unix_read_half_read(h->rd, buf, 65536));
        }
        if (n == 0)
            break;
        CHECK_EQ(pattern_check(buf, (size_t)n, pos, h->seed), n);
        pos += (size_t)n;
    }
    CHECK_EQ(pos, DUPLEX);
    free(buf);
    return NULL;
}

static void *main_borrowed(void *arg)
{
    (void)arg;
    cio_unix_stream *c, *s;
    CHECK_RC(cio_unix_stream_pair(&c, &s));
    cio_unix_read_half crd, srd;
    cio_unix_write_half cwr, swr;
    CHECK_RC(cio_unix_stream_split(c, &crd, &cwr));
    CHECK_RC(cio_unix_stream_split(s, &srd, &swr));
    CHECK_ERR(cio_unix_stream_split(NULL, &crd, &cwr), -EINVAL);
    struct half_writer w1 = {&cwr, 1}, w2 = {&swr, 2};
    struct half_reader r1 = {&srd, 1}, r2 = {&crd, 2};
    cio_task *t[4];
    CHECK_RC(cio_spawn(&t[0], write_half_task, &w1));
    CHECK_RC(cio_spawn(&t[1], write_half_task, &w2));
    CHECK_RC(cio_spawn(&t[2], read_half_task, &r1));
    CHECK_RC(cio_spawn(&t[3], read_half_task, &r2));
    for (int i = 0; i < 4; i++)
        CHECK_RC(cio_task_join(t[i], NULL));
    CHECK_ERR(cio_unix_read_half_read(NULL, NULL, 0), -EINVAL);
    CHECK_ERR(cio_unix_write_half_shutdown(NULL), -EINVAL);
    cio_unix_stream_close(c);
    cio_unix_stream_close(s);
    return NULL;
}

static void test_borrowed_halves_duplex(void)
{
    run(main_borrowed, NULL);
}

static void *main_owned(void *arg)
{
    (void)arg;
    int base = cio_test_open_fds();
    cio_unix_stream *c, *s;
    stream_pair(&c, &s);
    cio_unix_owned_read_half *rd;
    cio_unix_owned_write_half *wr;
    CHECK_RC(cio_unix_stream_into_split(s, &rd, &wr));
    CHECK(cio_unix_owned_read_half_stream(rd) == s);
    CHECK(cio_unix_owned_write_half_stream(wr) == s);
    cio_unix_cred cred;
    CHECK_RC(cio_unix_stream_peer_cred(cio_unix_owned_read_half_stream(rd), &cred));
    CHECK_EQ(cred.pid, getpid());
    /* Both directions through the halves, descriptors too. */
    CHECK_EQ(cio_unix_owned_write_half_write(wr, "hello", 5), 5);
    char buf[16];
    CHECK_RC(cio_unix_stream_read_exact(c, buf, 5, NULL));
    CHECK(memcmp(buf, "hello", 5) == 0);
    CHECK_EQ(cio_unix_stream_write(c, "world", 5), 5);
    CHECK_RC(cio_unix_owned_read_half_read_exact(rd, buf, 5, NULL));
    CHECK(memcmp(buf, "world", 5) == 0);
    int pipes[2];
    CHECK_SYS(pipe2(pipes, O_NONBLOCK | O_CLOEXEC));
    CHECK_EQ(cio_unix_stream_send_fds(c, "F", 1, pipes, 2), 1);
    int got[2];
    size_t n = 0;
    CHECK_EQ(cio_unix_owned_read_half_recv_fds(rd, buf, sizeof(buf), got, 2, &n), 1);
    CHECK_EQ(n, 2);
    CHECK_EQ(cio_unix_owned_write_half_send_fds(wr, "G", 1, got, 2), 1);
    CHECK_SYS(close(got[0]));
    CHECK_SYS(close(got[1]));
    CHECK_EQ(cio_unix_stream_recv_fds(c, buf, sizeof(buf), got, 2, &n), 1);
    CHECK(same_file(got[0], pipes[0]));
    CHECK_SYS(close(got[0]));
    CHECK_SYS(close(got[1]));
    CHECK_SYS(close(pipes[0]));
    CHECK_SYS(close(pipes[1]));
    struct iovec iov[2] = {{"ab", 2}, {"c", 1}};
    CHECK_EQ(cio_unix_owned_write_half_writev(wr, iov, 2), 3);
    CHECK_RC(cio_unix_owned_write_half_write_all_v(wr, iov, 2, NULL));
    CHECK_RC(cio_unix_owned_write_half_write_all(wr, "d", 1, NULL));
    CHECK(CHECK_RC(cio_unix_owned_write_half_writable(wr)) & CIO_READY_WRITABLE);
    CHECK_RC(cio_unix_stream_read_exact(c, buf, 7, NULL));
    CHECK(memcmp(buf, "abcabcd", 7) == 0);
    CHECK_EQ(cio_unix_stream_write(c, "xyz", 3), 3);
    CHECK(CHECK_RC(cio_unix_owned_read_half_readable(rd)) & CIO_READY_READABLE);
    CHECK_EQ(cio_unix_owned_read_half_peek(rd, buf, 1), 1);
    struct iovec in = {buf, sizeof(buf)};
    CHECK_EQ(cio_unix_owned_read_half_readv(rd, &in, 1), 3);
    CHECK(memcmp(buf, "xyz", 3) == 0);

    /* Halves of different streams are refused and handed back intact. */
    cio_unix_stream *c2, *s2;
    CHECK_RC(cio_unix_stream_pair(&c2, &s2));
    cio_unix_owned_read_half *rd2;
    cio_unix_owned_write_half *wr2;
    CHECK_RC(cio_unix_stream_into_split(s2, &rd2, &wr2));
    cio_unix_stream *back = NULL;
    CHECK_ERR(cio_unix_owned_read_half_reunite(rd, wr2, &back), -EINVAL);
    CHECK_ERR(cio_unix_owned_read_half_reunite(rd2, wr, &back), -EINVAL);
    CHECK_ERR(cio_unix_owned_read_half_reunite(NULL, wr, &back), -EINVAL);
    CHECK(back == NULL);
    /* The right pair reunites into the same stream, still working. */
    CHECK_RC(cio_unix_owned_read_half_reunite(rd, wr, &back));
    CHECK(back == s);
    CHECK_EQ(cio_unix_stream_write(back, "again", 5), 5);
    CHECK_RC(cio_unix_stream_read_exact(c, buf, 5, NULL));
    CHECK(memcmp(buf, "again", 5) == 0);

    /* Closing the write half sends end of stream; the socket lives until the read half
     * closes too. */
    cio_unix_owned_write_half_close(wr2);
    CHECK_EQ(cio_unix_stream_read(c2, buf, sizeof(buf)), 0);
    CHECK_EQ(cio_unix_stream_write(c2, "still", 5), 5);
    CHECK_EQ(cio_unix_owned_read_half_read(rd2, buf, sizeof(buf)), 5);
    cio_unix_owned_read_half_close(rd2);
    CHECK_ERR(cio_unix_stream_write(c2, "gone", 4), -EPIPE);
    cio_unix_stream_close(c2);

    /* forget: no shutdown when the write half closes; the peer sees the end only when the
     * read half closes. */
    CHECK_RC(cio_unix_stream_into_split(back, &rd, &wr));
    cio_unix_owned_write_half_forget(wr);
    cio_unix_owned_write_half_close(wr);
    cio_time saved = cio_deadline_set(cio_now() + 20 * CIO_NSEC_PER_MSEC);
    CHECK_ERR(cio_unix_stream_read(c, buf, sizeof(buf)), -ETIMEDOUT);
    cio_deadline_restore(saved);
    cio_unix_owned_read_half_close(rd);
    CHECK_EQ(cio_unix_stream_read(c, buf, sizeof(buf)), 0);
    cio_unix_owned_read_half_close(NULL);
    cio_unix_owned_write_half_close(NULL);
    cio_unix_owned_write_half_forget(NULL);
    CHECK(cio_unix_owned_read_half_stream(NULL) == NULL);
    CHECK_ERR(cio_unix_stream_into_split(NULL, &rd, &wr), -EINVAL);
    cio_unix_stream_close(c);
    CHECK_EQ(cio_test_open_fds(), base);
    return NULL;
}

static void test_owned_halves_reunite(void)
{
    run(main_owned, NULL);
}

/* ---- argument errors, outside a task ---- */

static void test_errors_outside_task(void)
{
    cio_unix_stream *a, *b;
    CHECK_RC(cio_unix_stream_pair(&a, &b));
    char buf[4];
    CHECK_ERR(cio_unix_stream_read(a, buf, sizeof(buf)), -EPERM);
    CHECK_ERR(cio_unix_stream_write(a, "x", 1), -EPERM);
    CHECK_ERR(cio_unix_stream_readable(a), -EPERM);
    CHECK_ERR(cio_unix_stream_read(NULL, buf, sizeof(buf)), -EINVAL);
    CHECK_ERR(cio_unix_stream_read(a, NULL, 1), -EINVAL);
    CHECK_ERR(cio_unix_stream_write(NULL, "x", 1), -EINVAL);
    CHECK_ERR(cio_unix_listener_accept(NULL, &a, NULL), -EINVAL);
    CHECK_ERR(cio_unix_listener_poll_accept(NULL, &a, NULL, NULL, NULL), -EINVAL);
    /* try_io works outside a task. */
    CHECK_EQ(cio_unix_stream_try_write(b, "abc", 3), 3);
    CHECK_EQ(cio_unix_stream_try_io(a, CIO_READABLE, raw_recv, a), 3);
    CHECK_EQ(cio_unix_stream_copy(a, b, NULL), -EPERM);
    cio_unix_stream_close(a);
    cio_unix_stream_close(b);
}

CIO_TEST_MAIN(TEST(test_echo_path_abstract_autobind), TEST(test_connect_errors),
              TEST(test_connect_full_backlog), TEST(test_readiness_transitions),
              TEST(test_close_wakes_waiter), TEST(test_second_waiter_busy),
              TEST(test_write_all_read_exact_progress), TEST(test_vectored_and_peek),
              TEST(test_poll_forms_and_try_io), TEST(test_fd_passing),
              TEST(test_read_across_descriptor_boundary), TEST(test_borrowed_halves_duplex),
              TEST(test_owned_halves_reunite), TEST(test_errors_outside_task))
