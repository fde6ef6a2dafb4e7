/*
 * test_tcp_ready.c: readiness waits on TCP streams — the waits a server's connection makes
 * before and between its reads. On io_uring such a stream is read the completion way and its
 * readiness is a poll request the owner makes and nothing in the backend records (io/uring.h):
 * these cases check what that must keep — a close while a task waits really closes the socket
 * (the peer sees the end of stream), a wait from a task of another worker is asked of the
 * owner and woken, the directions a wait asks for change as the ring starts reading, and
 * poll_ready callbacks fire. They run on every backend and mean the same on each.
 */
/* cio-test-labels: threads */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "cio/rt.h"
#include "harness.h"
#include "test_tcp_async_helpers.h"

static void *wait_readable(void *arg)
{
    return (void *)(intptr_t)cio_socket_readable((cio_tcp_stream *)arg);
}

/* A connection waits for its first bytes; another task closes it: the wait ends with -EBADF,
 * and the peer reads the end of stream at once — no request the wait made still holds the
 * socket open. */
static void *main_close_while_waiting(void *arg)
{
    (void)arg;
    cio_tcp_stream *c, *s;
    tcp_pair(&c, &s);
    cio_join_handle *h;
    CHECK_RC(cio_spawn(&h, wait_readable, s));
    CHECK_RC(cio_sleep(20 * CIO_NSEC_PER_MSEC));
    cio_socket_close(s);
    void *res = NULL;
    CHECK_RC(cio_task_join(h, &res, NULL));
    CHECK_EQ((int)(intptr_t)res, -EBADF);
    char b[8];
    cio_time saved = cio_deadline_set(cio_now() + 2 * CIO_NSEC_PER_SEC);
    ssize_t n = cio_stream_read(c, b, sizeof(b)); /* -ETIMEDOUT: the socket stayed open */
    cio_deadline_restore(saved);
    CHECK_EQ(n, 0);
    cio_socket_close(c);
    return NULL;
}

static void test_close_while_waiting_closes(void)
{
    run(main_close_while_waiting, NULL);
}

/* The same for many connections at once, each with a waiting task, closed from the main task:
 * every peer sees its end of stream. */
#define MANY 64
static void *main_close_many(void *arg)
{
    (void)arg;
    cio_tcp_stream *c[MANY], *s[MANY];
    cio_join_handle *h[MANY];
    for (int i = 0; i < MANY; i++) {
        tcp_pair(&c[i], &s[i]);
        CHECK_RC(cio_spawn(&h[i], wait_readable, s[i]));
    }
    CHECK_RC(cio_sleep(10 * CIO_NSEC_PER_MSEC));
    for (int i = 0; i < MANY; i++)
        cio_socket_close(s[i]);
    for (int i = 0; i < MANY; i++) {
        void *res = NULL;
        CHECK_RC(cio_task_join(h[i], &res, NULL));
        CHECK_EQ((int)(intptr_t)res, -EBADF);
        char b[8];
        cio_time saved = cio_deadline_set(cio_now() + 2 * CIO_NSEC_PER_SEC);
        CHECK_EQ(cio_stream_read(c[i], b, sizeof(b)), 0);
        cio_deadline_restore(saved);
        cio_socket_close(c[i]);
    }
    return NULL;
}

static void test_close_many_waiting(void)
{
    run(main_close_many, NULL);
}

/* A task of worker 1 waits on a stream worker 0 registered (its first wait: nothing asked of
 * the backend yet for reading); bytes written later wake it, and it reads them. Then it waits
 * for writability, also asked for from worker 1. */
struct foreign {
    cio_tcp_stream *s;
    int ready, writable;
    char got[8];
    ssize_t n;
};

static void *foreign_reader(void *arg)
{
    struct foreign *f = arg;
    f->ready = cio_socket_readable(f->s);
    f->n = cio_stream_read(f->s, f->got, sizeof(f->got));
    f->writable = cio_socket_ready(f->s, CIO_WRITABLE);
    return NULL;
}

static void *owner_main(void *arg)
{
    (void)arg;
    cio_tcp_stream *c, *s;
    tcp_pair(&c, &s);
    /* Registered here, on worker 0, by a write of the server side. */
    CHECK_EQ(cio_stream_write(s, "x", 1), 1);
    char one;
    CHECK_EQ(cio_stream_read(c, &one, 1), 1);
    struct foreign f = {.s = s};
    cio_spawn_options o = {.worker = CIO_WORKER(1)};
    cio_join_handle *h;
    CHECK_RC(cio_spawn_ex(&h, &o, foreign_reader, &f));
    CHECK_RC(cio_sleep(30 * CIO_NSEC_PER_MSEC));
    CHECK_EQ(cio_stream_write(c, "hello", 5), 5);
    CHECK_RC(cio_task_join(h, NULL, NULL));
    CHECK(f.ready > 0 && (f.ready & CIO_READY_READABLE));
    CHECK_EQ(f.n, 5);
    CHECK(memcmp(f.got, "hello", 5) == 0);
    CHECK(f.writable > 0 && (f.writable & CIO_READY_WRITABLE));
    cio_socket_close(c);
    cio_socket_close(s);
    return NULL;
}

static void *main_foreign(void *arg)
{
    cio_spawn_options o = {.worker = CIO_WORKER(0)};
    cio_join_handle *h;
    CHECK_RC(cio_spawn_ex(&h, &o, owner_main, arg));
    CHECK_RC(cio_task_join(h, NULL, NULL));
    return NULL;
}

static void test_wait_from_other_worker(void)
{
    run_rt(2, main_foreign, NULL);
}

/* A connection's life as a server sees it: wait, read until drained (on io_uring the ring
 * reads from here on, and the wait's poll request drops reading), wait again — woken by the
 * next bytes — and wait for writability in between: each wait is answered, round after
 * round. */
static void *echo_peer(void *arg)
{
    cio_tcp_stream *c = arg;
    char b[64];
    for (int round = 0; round < 50; round++) {
        int len = snprintf(b, sizeof(b), "round %d", round);
        CHECK_EQ(cio_stream_write(c, b, (size_t)len), len);
        char r[64];
        CHECK_RC(cio_stream_read_exact(c, r, (size_t)len, NULL));
        CHECK(memcmp(r, b, (size_t)len) == 0);
        if (round % 10 == 0)
            CHECK_RC(cio_sleep(2 * CIO_NSEC_PER_MSEC));
    }
    return NULL;
}

static void *main_rounds(void *arg)
{
    (void)arg;
    cio_tcp_stream *c, *s;
    tcp_pair(&c, &s);
    cio_join_handle *h;
    CHECK_RC(cio_spawn(&h, echo_peer, c));
    for (int round = 0; round < 50; round++) {
        int r = cio_socket_readable(s);
        CHECK(r > 0 && (r & CIO_READY_READABLE));
        char b[64];
        ssize_t n = cio_stream_read(s, b, sizeof(b));
        CHECK(n > 0);
        r = cio_socket_ready(s, CIO_WRITABLE);
        CHECK(r > 0 && (r & CIO_READY_WRITABLE));
        CHECK_EQ(cio_stream_write(s, b, (size_t)n), n);
    }
    CHECK_RC(cio_task_join(h, NULL, NULL));
    cio_socket_close(c);
    cio_socket_close(s);
    return NULL;
}

static void test_waits_between_reads(void)
{
    run(main_rounds, NULL);
}

/* poll_ready callbacks on a TCP stream: a read callback armed before any read fires when the
 * bytes come; a write callback is answered at once. */
static void on_wake(void *ctx)
{
    atomic_fetch_add((atomic_int *)ctx, 1);
}

static void *main_callbacks(void *arg)
{
    (void)arg;
    cio_tcp_stream *c, *s;
    tcp_pair(&c, &s);
    atomic_int woke = 0;
    CHECK_ERR(cio_socket_poll_ready(s, CIO_READABLE, on_wake, &woke), -EAGAIN);
    CHECK_EQ(cio_stream_write(c, "ping", 4), 4);
    for (int i = 0; i < 1000 && atomic_load(&woke) == 0; i++)
        CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
    CHECK_EQ(atomic_load(&woke), 1);
    int r = cio_socket_poll_ready(s, CIO_READABLE, on_wake, &woke);
    CHECK(r > 0 && (r & CIO_READY_READABLE));
    r = cio_socket_poll_ready(s, CIO_WRITABLE, on_wake, &woke);
    CHECK(r > 0 && (r & CIO_READY_WRITABLE));
    CHECK_EQ(atomic_load(&woke), 1); /* answered at once: no callback armed */
    char b[8];
    CHECK_EQ(cio_stream_read(s, b, sizeof(b)), 4);
    cio_socket_close(c);
    cio_socket_close(s);
    return NULL;
}

static void test_poll_ready_callbacks_tcp(void)
{
    run(main_callbacks, NULL);
}

CIO_TEST_MAIN(TEST(test_close_while_waiting_closes), TEST(test_close_many_waiting),
              TEST(test_wait_from_other_worker), TEST(test_waits_between_reads),
              TEST(test_poll_ready_callbacks_tcp))
