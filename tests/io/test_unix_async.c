/*
 * test_unix_async.c: the async operations only Unix streams have, on real sockets in a
 * private temp directory and under abstract names, one runtime worker — echo round trips
 * through listeners at a path, at an abstract name and autobound, connect errors that leave
 * no descriptor behind, connect against a full backlog (retried until the deadline,
 * succeeding once the server accepts, cancellable), descriptor passing as suspending calls
 * (several descriptors, received close-on-exec, none leaked, overflow closed), plain reads
 * across a write that carried descriptors (the regression for Linux's early end of such
 * reads), a descriptor receive and a plain read waiting on one socket together (each served;
 * run for a Unix stream and for a Unix datagram socket), what owned halves add for Unix
 * streams (credentials, descriptors, -EPIPE once both halves closed), and argument errors.
 * What Unix streams share with TCP is tested for both in test_stream_async*.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stream_kinds.h"

/* ---- helpers ---- */

static cio_unix_listener *listen_at(const cio_addr *addr, int backlog)
{
    cio_unix_listener *l;
    CHECK_RC(cio_unix_listener_new(&l, addr, backlog));
    CHECK_FD_FLAGS(cio_socket_fd(l));
    return l;
}

/* A connected pair through a listener, made with the async calls. */
static void listener_pair(cio_unix_stream **ret_client, cio_unix_stream **ret_server)
{
    cio_addr addr;
    unix_abstract_name(&addr);
    cio_unix_listener *l = listen_at(&addr, CIO_LISTEN_BACKLOG_DEFAULT);
    CHECK_RC(cio_unix_stream_connect(ret_client, &addr));
    CHECK_RC(cio_unix_listener_accept(l, ret_server, NULL));
    CHECK_FD_FLAGS(cio_socket_fd(*ret_client));
    CHECK_FD_FLAGS(cio_socket_fd(*ret_server));
    cio_socket_close(l);
}

/* ---- echo round trips ---- */

/* Accept in a task of its own (which waits first), connect from the main task, echo. */
static void echo_at(const cio_addr *addr)
{
    cio_unix_listener *l = listen_at(addr, CIO_LISTEN_BACKLOG_DEFAULT);
    struct stream_acceptor a = {&stream_kind_unix, cio_as_socket(l), 2};
    cio_addr bound;
    CHECK_RC(cio_socket_local_addr(l, &bound));
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, stream_accept_and_echo, &a));
    CHECK_RC(cio_yield()); /* the acceptor parks on the empty backlog */
    for (int i = 0; i < 2; i++) {
        cio_unix_stream *c;
        CHECK_RC(cio_unix_stream_connect(&c, &bound));
        CHECK_FD_FLAGS(cio_socket_fd(c));
        cio_addr peer;
        CHECK_RC(cio_socket_peer_addr(c, &peer));
        CHECK(cio_addr_equal(&peer, &bound));
        stream_echo_to_end(cio_as_stream(c));
        cio_socket_close(c);
    }
    CHECK_RC(cio_task_join(t, NULL, NULL));
    cio_socket_close(l);
}

static void *main_echo_kinds(void *arg)
{
    (void)arg;
    cio_addr addr;
    unix_tmp_path(&addr, "echo");
    echo_at(&addr);
    unix_abstract_name(&addr);
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
    unix_tmp_path(&addr, "nobody");
    CHECK_ERR(cio_unix_stream_connect(&c, &addr), -ENOENT);
    unix_abstract_name(&addr);
    CHECK_ERR(cio_unix_stream_connect(&c, &addr), -ECONNREFUSED);
    /* A datagram socket at the path. */
    unix_tmp_path(&addr, "dgram");
    cio_unix_datagram *d;
    CHECK_RC(cio_unix_datagram_new(&d, &addr));
    CHECK_ERR(cio_unix_stream_connect(&c, &addr), -EPROTOTYPE);
    cio_socket_close(d);
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
    unix_abstract_name(&addr);
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
    unix_tmp_path(&addr, "busy");
    cio_unix_listener *l = listen_at(&addr, 1);
    cio_unix_stream *held[64];
    size_t n = fill_backlog(&addr, held, 64);
    CHECK(n >= 1);
    int fds = cio_test_open_fds();
    /* Nobody accepts: retried until the deadline, no socket left behind. */
    cio_unix_stream *c;
    cio_time start = cio_now();
    {
        CIO_DEADLINE_SCOPE(start + 60 * CIO_NSEC_PER_MSEC);
        CHECK_ERR(cio_unix_stream_connect(&c, &addr), -ETIMEDOUT);
    }
    CHECK(cio_now() - start >= 55 * CIO_NSEC_PER_MSEC);
    CHECK_EQ(cio_test_open_fds(), fds);
    /* Cancelled while retrying. */
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, connect_until_cancelled, &addr));
    CHECK_RC(cio_sleep(10 * CIO_NSEC_PER_MSEC));
    CHECK(!cio_task_is_finished(t));
    CHECK_RC(cio_task_cancel(t));
    CHECK_JOIN_CANCELLED(t);
    CHECK_EQ(cio_test_open_fds(), fds);
    /* The server accepts one 20 ms from now: the waiting connect gets through. */
    struct late_acceptor a = {l, 20 * CIO_NSEC_PER_MSEC, NULL};
    CHECK_RC(cio_spawn(&t, accept_later, &a));
    start = cio_now();
    {
        CIO_DEADLINE_SCOPE(start + 5 * CIO_NSEC_PER_SEC);
        CHECK_RC(cio_unix_stream_connect(&c, &addr));
    }
    CHECK(cio_now() - start >= 15 * CIO_NSEC_PER_MSEC);
    CHECK_RC(cio_task_join(t, NULL, NULL));
    /* The accepted one is the first client held (the backlog is a queue). */
    CHECK_EQ(cio_stream_write(held[0], "first", 5), 5);
    char buf[8];
    CHECK_EQ(cio_stream_read(a.s, buf, sizeof(buf)), 5);
    CHECK(memcmp(buf, "first", 5) == 0);
    cio_socket_close(a.s);
    cio_socket_close(c);
    for (size_t i = 0; i < n; i++)
        cio_socket_close(held[i]);
    cio_socket_close(l);
    return NULL;
}

static void test_connect_full_backlog(void)
{
    run(main_full_backlog, NULL);
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
    r->n = cio_unix_recv_fds(r->s, r->buf, sizeof(r->buf), r->got, 8, &r->nfds, NULL);
    return NULL;
}

static void *main_fd_passing(void *arg)
{
    (void)arg;
    int base = cio_test_open_fds();
    cio_unix_stream *a, *b;
    listener_pair(&a, &b);
    int pipes[2];
    CHECK_SYS(pipe2(pipes, O_NONBLOCK | O_CLOEXEC));
    cio_unix_datagram *d1, *d2;
    CHECK_RC(cio_unix_datagram_pair(&d1, &d2));
    int sent[3] = {pipes[0], pipes[1], cio_socket_fd(d1)};
    int before = cio_test_open_fds();

    /* The receiver waits first: the descriptors arrive while it is suspended. */
    struct fd_receiver r = {.s = b, .nfds = 99};
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, recv_fds_task, &r));
    CHECK_RC(cio_sleep(5 * CIO_NSEC_PER_MSEC));
    CHECK(!cio_task_is_finished(t));
    CHECK_EQ(cio_unix_send_fds(a, "FDS", 3, sent, 3, NULL), 3);
    CHECK_RC(cio_task_join(t, NULL, NULL));
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
    CHECK_EQ(cio_dgram_send(passed, "dg", 2), 2);
    CHECK_EQ(cio_dgram_recv(d2, buf, sizeof(buf)), 2);
    cio_socket_close(passed);
    CHECK_SYS(close(r.got[0]));
    CHECK_SYS(close(r.got[1]));
    CHECK_EQ(cio_test_open_fds(), before);

    /* Data without descriptors reports none; more descriptors than room: -ENOBUFS, every
     * one that arrived closed. */
    CHECK_EQ(cio_unix_send_fds(a, "plain", 5, NULL, 0, NULL), 5);
    int got[8];
    size_t n = 99;
    CHECK_EQ(cio_unix_recv_fds(b, buf, sizeof(buf), got, 8, &n, NULL), 5);
    CHECK_EQ(n, 0);
    CHECK_EQ(cio_unix_send_fds(a, "X", 1, sent, 3, NULL), 1);
    n = 99;
    CHECK_ERR(cio_unix_recv_fds(b, buf, sizeof(buf), got, 2, &n, NULL), -ENOBUFS);
    CHECK_EQ(n, 99); /* written only on success */
    CHECK_EQ(cio_test_open_fds(), before);
    /* Argument errors, at once. */
    CHECK_ERR(cio_unix_send_fds(a, NULL, 0, sent, 1, NULL), -EINVAL);
    CHECK_ERR(cio_unix_send_fds(a, "x", 1, NULL, 1, NULL), -EINVAL);
    CHECK_ERR(cio_unix_send_fds(a, "x", 1, sent, CIO_UNIX_FDS_MAX + 1, NULL), -EINVAL);
    CHECK_ERR(cio_unix_recv_fds(b, buf, sizeof(buf), got, 8, NULL, NULL), -EINVAL);
    CHECK_ERR((cio_unix_recv_fds)(NULL, buf, sizeof(buf), got, 8, &n, NULL), -EINVAL);
    int bad = 1000;
    CHECK_ERR(cio_unix_send_fds(a, "x", 1, &bad, 1, NULL), -EBADF);
    /* A receive cut by its deadline took nothing: the descriptors come with the next. */
    CHECK_ERR(CIO_TIMEOUT(10 * CIO_NSEC_PER_MSEC,
                          cio_unix_recv_fds(b, buf, sizeof(buf), got, 8, &n, NULL)),
              -ETIMEDOUT);
    CHECK_EQ(cio_unix_send_fds(a, "Y", 1, sent, 2, NULL), 1);
    CHECK_EQ(cio_unix_recv_fds(b, buf, sizeof(buf), got, 8, &n, NULL), 1);
    CHECK_EQ(n, 2);
    CHECK_FD_FLAGS(got[0]);
    CHECK_FD_FLAGS(got[1]);
    CHECK_SYS(close(got[0]));
    CHECK_SYS(close(got[1]));

    /* Datagrams: descriptors alone, and with data, through the suspending calls. */
    CHECK_EQ(cio_unix_send_fds(d1, NULL, 0, sent, 2, NULL), 0);
    CHECK_EQ(cio_unix_recv_fds(d2, buf, sizeof(buf), got, 8, &n, NULL), 0);
    CHECK_EQ(n, 2);
    CHECK_FD_FLAGS(got[0]);
    CHECK(same_file(got[1], pipes[1]));
    CHECK_SYS(close(got[0]));
    CHECK_SYS(close(got[1]));
    CHECK_EQ(cio_unix_send_fds(d1, "dgfd", 4, sent, 1, NULL), 4);
    CHECK_ERR(cio_unix_recv_fds(d2, buf, sizeof(buf), got, 0, &n, NULL), -ENOBUFS);
    CHECK_EQ(cio_test_open_fds(), before);

    cio_socket_close(d1);
    cio_socket_close(d2);
    CHECK_SYS(close(pipes[0]));
    CHECK_SYS(close(pipes[1]));
    cio_socket_close(a);
    cio_socket_close(b);
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
        write_across_fds(a, pipes);
        char buf[64];
        if (round == 0) {
            CHECK_EQ(CIO_TIMEOUT(2 * CIO_NSEC_PER_SEC, cio_stream_read(b, buf, sizeof(buf))), 13);
        } else if (round == 1) {
            char x[5], y[64];
            struct iovec iov[2] = {{x, 5}, {y, sizeof(y)}};
            CHECK_EQ(CIO_TIMEOUT(2 * CIO_NSEC_PER_SEC, cio_stream_readv(b, iov, 2)), 13);
            memcpy(buf, x, 5);
            memcpy(buf + 5, y, 8);
        } else {
            CHECK_RC(CIO_TIMEOUT(2 * CIO_NSEC_PER_SEC, cio_stream_read_exact(b, buf, 13, NULL)));
        }
        CHECK(memcmp(buf, ACROSS_FDS, 13) == 0);
        /* Nothing left, and the descriptors that came with plain reads were closed. */
        CHECK_ERR(CIO_TIMEOUT(10 * CIO_NSEC_PER_MSEC, cio_stream_read(b, buf, sizeof(buf))),
                  -ETIMEDOUT);
        CHECK_EQ(cio_test_open_fds(), base + 4);
    }
    /* recv_fds takes one message's descriptors and stops there; what follows stays. */
    CHECK_EQ(cio_unix_send_fds(a, "F1", 2, pipes, 1, NULL), 2);
    CHECK_EQ(cio_stream_write(a, "tail", 4), 4);
    char buf[64];
    int got[4];
    size_t n = 0;
    CHECK_EQ(cio_unix_recv_fds(b, buf, sizeof(buf), got, 4, &n, NULL), 2);
    CHECK_EQ(n, 1);
    CHECK_SYS(close(got[0]));
    CHECK_EQ(cio_stream_read(b, buf, sizeof(buf)), 4);
    CHECK(memcmp(buf, "tail", 4) == 0);
    CHECK_SYS(close(pipes[0]));
    CHECK_SYS(close(pipes[1]));
    cio_socket_close(a);
    cio_socket_close(b);
    CHECK_EQ(cio_test_open_fds(), base);
    return NULL;
}

static void test_read_across_descriptor_boundary(void)
{
    run(main_read_across_fds, NULL);
}

/* ---- recv_fds and plain reads waiting at once, on a stream and on a datagram socket ---- */

/* What a waiter's descriptor receive got. */
struct fd_recv {
    int got[4];
    size_t nfds;
};

static ssize_t waiter_recv_fds(struct waiter *w)
{
    struct fd_recv *r = w->ctx;
    return (cio_unix_recv_fds)(w->sock, w->buf, sizeof(w->buf), r->got, 4, &r->nfds, NULL);
}

/* Sends with descriptors from @pipes: @nfds with the first message, one fewer with each next. */
struct fd_send {
    cio_socket *sock;
    const int *pipes;
    size_t nfds;
};

static ssize_t send_with_fds(void *ctx, const void *buf, size_t len)
{
    struct fd_send *f = ctx;
    return (cio_unix_send_fds)(f->sock, buf, len, f->pipes, f->nfds--, NULL);
}

/* A descriptor receive and a plain read wait on one socket together: each message goes to one
 * of them, the other waits on; descriptors that reach the plain read are closed, none leaks. */
static void *main_recv_fds_with_plain_reader(void *arg)
{
    const struct unix_kind *k = arg;
    int base = cio_test_open_fds();
    cio_socket *a, *b;
    CHECK_RC(k->pair(&a, &b));
    int pipes[2];
    CHECK_SYS(pipe2(pipes, O_NONBLOCK | O_CLOEXEC));
    struct fd_recv got = {.nfds = 99};
    struct waiter rf = {.sock = b, .call = waiter_recv_fds, .ctx = &got};
    struct waiter rp = {.sock = b, .call = k->read};
    struct waiter *w[2] = {&rf, &rp};
    cio_join_handle *t[2];
    CHECK_RC(cio_spawn(&t[0], waiter_task, &rf));
    CHECK_RC(cio_spawn(&t[1], waiter_task, &rp));
    check_waiting(t, 2);
    /* The writing direction is free meanwhile. */
    CHECK_EQ(k->send(b, "w", 1), 1);
    struct fd_send with_fds = {a, pipes, 2};
    int first = check_take_turns(t, w, send_with_fds, &with_fds);
    CHECK_EQ(got.nfds, first == 0 ? 2 : 1);
    for (size_t i = 0; i < got.nfds; i++) {
        CHECK_FD_FLAGS(got.got[i]);
        CHECK(same_file(got.got[i], pipes[i]));
        CHECK_SYS(close(got.got[i]));
    }
    struct waiter back = {.sock = a};
    CHECK_EQ(k->read(&back), 1);
    CHECK_EQ(back.buf[0], 'w');
    CHECK_SYS(close(pipes[0]));
    CHECK_SYS(close(pipes[1]));
    cio_socket_close(a);
    cio_socket_close(b);
    CHECK_EQ(cio_test_open_fds(), base); /* the plain read's descriptors were closed */
    return NULL;
}

UNIX_CASE(recv_fds_with_plain_reader)

/* ---- owned halves: what Unix streams add ---- */

/* The peer's credentials through a half's stream, descriptors through the halves, and the
 * socket's end once both halves are closed: the peer's next write fails with -EPIPE. */
static void *main_owned_halves_unix(void *arg)
{
    (void)arg;
    int base = cio_test_open_fds();
    cio_unix_stream *c, *s;
    listener_pair(&c, &s);
    cio_read_half *rd;
    cio_write_half *wr;
    CHECK_RC(cio_stream_into_split(s, &rd, &wr));
    cio_unix_cred cred;
    CHECK_RC(cio_unix_peer_cred(rd, &cred));
    CHECK_EQ(cred.pid, getpid());
    /* The stream pointer stays valid while the halves are open: the kind's own calls. */
    CHECK_RC(cio_unix_peer_cred(s, &cred));
    CHECK_EQ(cred.pid, getpid());
    int pipes[2];
    CHECK_SYS(pipe2(pipes, O_NONBLOCK | O_CLOEXEC));
    CHECK_EQ(cio_unix_send_fds(c, "F", 1, pipes, 2, NULL), 1);
    char buf[16];
    int got[2];
    size_t n = 0;
    CHECK_EQ(cio_unix_recv_fds(rd, buf, sizeof(buf), got, 2, &n, NULL), 1);
    CHECK_EQ(n, 2);
    CHECK_EQ(cio_unix_send_fds(wr, "G", 1, got, 2, NULL), 1);
    CHECK_SYS(close(got[0]));
    CHECK_SYS(close(got[1]));
    CHECK_EQ(cio_unix_recv_fds(c, buf, sizeof(buf), got, 2, &n, NULL), 1);
    CHECK(same_file(got[0], pipes[0]));
    CHECK_SYS(close(got[0]));
    CHECK_SYS(close(got[1]));
    CHECK_SYS(close(pipes[0]));
    CHECK_SYS(close(pipes[1]));

    /* Closing the write half sends end of stream; the socket lives until the read half
     * closes too. */
    cio_write_half_close(wr);
    CHECK_EQ(cio_stream_read(c, buf, sizeof(buf)), 0);
    CHECK_EQ(cio_stream_write(c, "still", 5), 5);
    CHECK_EQ(cio_stream_read(rd, buf, sizeof(buf)), 5);
    cio_read_half_close(rd);
    CHECK_ERR(cio_stream_write(c, "gone", 4), -EPIPE);
    cio_socket_close(c);
    CHECK_EQ(cio_test_open_fds(), base);
    return NULL;
}

static void test_owned_halves_unix(void)
{
    run(main_owned_halves_unix, NULL);
}

/* ---- argument errors, outside a task ---- */

static void test_errors_outside_task(void)
{
    cio_unix_stream *a, *b;
    CHECK_RC(cio_unix_stream_pair(&a, &b));
    char buf[4];
    CHECK_ERR(cio_stream_read(a, buf, sizeof(buf)), -EPERM);
    CHECK_ERR(cio_stream_write(a, "x", 1), -EPERM);
    CHECK_ERR(cio_socket_readable(a), -EPERM);
    CHECK_ERR((cio_stream_read)(NULL, buf, sizeof(buf)), -EINVAL);
    CHECK_ERR(cio_stream_read(a, NULL, 1), -EINVAL);
    CHECK_ERR((cio_stream_write)(NULL, "x", 1), -EINVAL);
    CHECK_ERR(cio_unix_listener_accept(NULL, &a, NULL), -EINVAL);
    CHECK_ERR(cio_unix_listener_poll_accept(NULL, &a, NULL, NULL, NULL), -EINVAL);
    /* try_io works outside a task. */
    CHECK_EQ(cio_stream_try_write(b, "abc", 3), 3);
    CHECK_EQ(cio_socket_try_io(a, CIO_READABLE, raw_recv, a), 3);
    CHECK_EQ(cio_stream_copy(a, b, NULL), -EPERM);
    cio_socket_close(a);
    cio_socket_close(b);
}

CIO_TEST_MAIN(TEST(test_echo_path_abstract_autobind), TEST(test_connect_errors),
              TEST(test_connect_full_backlog), TEST(test_fd_passing),
              TEST(test_read_across_descriptor_boundary), UNIX_TESTS(recv_fds_with_plain_reader),
              TEST(test_owned_halves_unix), TEST(test_errors_outside_task))
