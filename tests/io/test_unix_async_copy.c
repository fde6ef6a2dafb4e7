/*
 * test_unix_async_copy.c: copying with async Unix streams — a one-way copy Unix to Unix, Unix
 * to TCP and TCP to Unix that carries the end of stream across with exact byte counts; a
 * relay (copy_bidirectional) between a Unix client and a TCP server, and between two Unix
 * streams, with a half-close in each order; a copy whose source carries descriptors (the
 * bytes arrive whole, the descriptors are dropped and none leaks), also through the buffer
 * copy with everything queued by one edge; a relay cut by its deadline returning
 * promptly with nothing left open.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "cio/unix.h"
#include "io/stream.h"
#include "test_tcp_async_helpers.h"

/* One end of a conversation over either kind of stream. */
struct endpoint {
    cio_unix_stream *u;
    cio_tcp_stream *t;
    size_t send_len;
    unsigned send_seed, recv_seed;
    bool send_first;
    bool send_only, recv_only;
    uint64_t received;
};

static int ep_write_all(struct endpoint *e, const void *buf, size_t n)
{
    return e->u ? cio_unix_stream_write_all(e->u, buf, n, NULL)
                : cio_tcp_stream_write_all(e->t, buf, n, NULL);
}

static ssize_t ep_read(struct endpoint *e, void *buf, size_t n)
{
    return e->u ? cio_unix_stream_read(e->u, buf, n) : cio_tcp_stream_read(e->t, buf, n);
}

static int ep_shutdown(struct endpoint *e)
{
    return e->u ? cio_unix_stream_shutdown(e->u, CIO_SHUTDOWN_WRITE)
                : cio_tcp_stream_shutdown(e->t, CIO_SHUTDOWN_WRITE);
}

static void endpoint_send(struct endpoint *e)
{
    unsigned char *buf = xmalloc(1 << 16);
    for (size_t pos = 0; pos < e->send_len;) {
        size_t n = e->send_len - pos < (1 << 16) ? e->send_len - pos : (1 << 16);
        pattern_fill(buf, n, pos, e->send_seed);
        CHECK_RC(ep_write_all(e, buf, n));
        pos += n;
    }
    CHECK_RC(ep_shutdown(e));
    free(buf);
}

static void endpoint_recv(struct endpoint *e)
{
    unsigned char *buf = xmalloc(1 << 16);
    for (;;) {
        ssize_t n = CHECK_RC(ep_read(e, buf, 1 << 16));
        if (n == 0)
            break;
        CHECK_EQ(pattern_check(buf, (size_t)n, e->received, e->recv_seed), n);
        e->received += (uint64_t)n;
    }
    free(buf);
}

static void *endpoint_task(void *arg)
{
    struct endpoint *e = arg;
    if (e->send_only) {
        endpoint_send(e);
    } else if (e->recv_only) {
        endpoint_recv(e);
    } else if (e->send_first) {
        endpoint_send(e);
        endpoint_recv(e);
    } else {
        endpoint_recv(e);
        endpoint_send(e);
    }
    return NULL;
}

enum { CLIENT_BYTES = (5 << 20) + 17, SERVER_BYTES = (3 << 20) + 5 };

/* ---- one-way copies ---- */

static void *main_copy_one_way(void *arg)
{
    (void)arg;
    /* producer -> [a1 a2] -copy-> [b1 b2] -> consumer, for each pair of kinds. */
    for (int kind = 0; kind < 3; kind++) {
        cio_unix_stream *ua1 = NULL, *ua2 = NULL, *ub1 = NULL, *ub2 = NULL;
        cio_tcp_stream *ta1 = NULL, *ta2 = NULL, *tb1 = NULL, *tb2 = NULL;
        /* kind 0: Unix to Unix; 1: Unix to TCP; 2: TCP to Unix. */
        if (kind == 2)
            tcp_pair(&ta1, &ta2);
        else
            CHECK_RC(cio_unix_stream_pair(&ua1, &ua2));
        if (kind == 1)
            tcp_pair(&tb1, &tb2);
        else
            CHECK_RC(cio_unix_stream_pair(&ub1, &ub2));
        struct endpoint prod = {
            .u = ua1, .t = ta1, .send_len = CLIENT_BYTES, .send_seed = 9, .send_only = true};
        struct endpoint cons = {.u = ub2, .t = tb2, .recv_seed = 9, .recv_only = true};
        cio_task *tp, *tc;
        CHECK_RC(cio_spawn(&tp, endpoint_task, &prod));
        CHECK_RC(cio_spawn(&tc, endpoint_task, &cons));
        uint64_t bytes = 1;
        if (kind == 0)
            CHECK_RC(cio_unix_stream_copy(ua2, ub1, &bytes));
        else if (kind == 1)
            CHECK_RC(cio_unix_stream_copy_to_tcp(ua2, tb1, &bytes));
        else
            CHECK_RC(cio_unix_stream_copy_from_tcp(ta2, ub1, &bytes));
        CHECK_EQ(bytes, CLIENT_BYTES);
        CHECK_RC(cio_task_join(tp, NULL));
        CHECK_RC(cio_task_join(tc, NULL)); /* the end of stream came across */
        CHECK_EQ(cons.received, CLIENT_BYTES);
        cio_unix_stream_close(ua1);
        cio_unix_stream_close(ua2);
        cio_unix_stream_close(ub1);
        cio_unix_stream_close(ub2);
        cio_tcp_stream_close(ta1);
        cio_tcp_stream_close(ta2);
        cio_tcp_stream_close(tb1);
        cio_tcp_stream_close(tb2);
    }
    CHECK_ERR(cio_unix_stream_copy(NULL, NULL, NULL), -EINVAL);
    return NULL;
}

static void test_copy_one_way_unix_and_tcp(void)
{
    run(main_copy_one_way, NULL);
}

/* ---- relays ---- */

struct proxy {
    cio_unix_stream *a;
    cio_unix_stream *b_unix;
    cio_tcp_stream *b_tcp;
    int rc;
    uint64_t ab, ba;
};

static void *proxy_task(void *arg)
{
    struct proxy *p = arg;
    p->ab = p->ba = 12345;
    if (p->b_tcp != NULL)
        p->rc = cio_unix_stream_copy_bidirectional_tcp(p->a, p->b_tcp, &p->ab, &p->ba);
    else
        p->rc = cio_unix_stream_copy_bidirectional(p->a, p->b_unix, &p->ab, &p->ba);
    return NULL;
}

/* client (Unix) <-> a | proxy | b <-> server (TCP, or Unix when @tcp is false). */
static void relay(bool tcp, bool client_first)
{
    cio_unix_stream *client, *a, *b_unix = NULL, *server_unix = NULL;
    cio_tcp_stream *b_tcp = NULL, *server_tcp = NULL;
    CHECK_RC(cio_unix_stream_pair(&client, &a));
    if (tcp)
        tcp_pair(&b_tcp, &server_tcp);
    else
        CHECK_RC(cio_unix_stream_pair(&b_unix, &server_unix));
    struct endpoint c = {.u = client,
                         .send_len = CLIENT_BYTES,
                         .send_seed = 1,
                         .recv_seed = 2,
                         .send_first = client_first};
    struct endpoint s = {.u = server_unix,
                         .t = server_tcp,
                         .send_len = SERVER_BYTES,
                         .send_seed = 2,
                         .recv_seed = 1,
                         .send_first = !client_first};
    struct proxy p = {.a = a, .b_unix = b_unix, .b_tcp = b_tcp};
    cio_task *tc, *ts, *tp;
    CHECK_RC(cio_spawn(&tp, proxy_task, &p));
    CHECK_RC(cio_spawn(&tc, endpoint_task, &c));
    CHECK_RC(cio_spawn(&ts, endpoint_task, &s));
    CHECK_RC(cio_task_join(tc, NULL));
    CHECK_RC(cio_task_join(ts, NULL));
    CHECK_RC(cio_task_join(tp, NULL));
    CHECK_RC(p.rc);
    CHECK_EQ(p.ab, CLIENT_BYTES);
    CHECK_EQ(p.ba, SERVER_BYTES);
    CHECK_EQ(s.received, CLIENT_BYTES);
    CHECK_EQ(c.received, SERVER_BYTES);
    cio_unix_stream_close(client);
    cio_unix_stream_close(a);
    cio_unix_stream_close(b_unix);
    cio_unix_stream_close(server_unix);
    cio_tcp_stream_close(b_tcp);
    cio_tcp_stream_close(server_tcp);
}

static void *main_relays(void *arg)
{
    (void)arg;
    relay(true, true);
    relay(true, false);
    relay(false, true);
    relay(false, false);
    return NULL;
}

static void test_copy_bidirectional_unix_tcp_and_unix(void)
{
    run(main_relays, NULL);
}

/* ---- a source carrying descriptors ---- */

enum { FD_MSGS = 200, FD_MSG = 1000 };

struct fd_producer {
    cio_unix_stream *s;
    int pipes[2];
};

/* FD_MSGS messages, every third with descriptors; then the end. */
static void *fd_producer_task(void *arg)
{
    struct fd_producer *p = arg;
    unsigned char buf[FD_MSG];
    for (int i = 0; i < FD_MSGS; i++) {
        pattern_fill(buf, FD_MSG, (uint64_t)i * FD_MSG, 5);
        size_t done = 0;
        if (i % 3 == 0)
            done = (size_t)CHECK_RC(cio_unix_stream_send_fds(p->s, buf, FD_MSG, p->pipes, 2));
        CHECK_RC(cio_unix_stream_write_all(p->s, buf + done, FD_MSG - done, NULL));
    }
    CHECK_RC(cio_unix_stream_shutdown(p->s, CIO_SHUTDOWN_WRITE));
    return NULL;
}

static void *main_copy_with_fds(void *arg)
{
    (void)arg;
    int base = cio_test_open_fds();
    cio_unix_stream *a1, *a2, *b1, *b2;
    CHECK_RC(cio_unix_stream_pair(&a1, &a2));
    CHECK_RC(cio_unix_stream_pair(&b1, &b2));
    struct fd_producer prod = {a1, {-1, -1}};
    CHECK_SYS(pipe2(prod.pipes, O_NONBLOCK | O_CLOEXEC));
    cio_task *tp;
    CHECK_RC(cio_spawn(&tp, fd_producer_task, &prod));
    struct endpoint cons = {.u = b2, .recv_seed = 5, .recv_only = true};
    cio_task *tc;
    CHECK_RC(cio_spawn(&tc, endpoint_task, &cons));
    uint64_t bytes = 0;
    cio_time saved = cio_deadline_set(cio_now() + 10 * CIO_NSEC_PER_SEC);
    CHECK_RC(cio_unix_stream_copy(a2, b1, &bytes));
    cio_deadline_restore(saved);
    CHECK_EQ(bytes, FD_MSGS * FD_MSG);
    CHECK_RC(cio_task_join(tp, NULL));
    CHECK_RC(cio_task_join(tc, NULL));
    CHECK_EQ(cons.received, FD_MSGS * FD_MSG);
    CHECK_SYS(close(prod.pipes[0]));
    CHECK_SYS(close(prod.pipes[1]));
    cio_unix_stream_close(a1);
    cio_unix_stream_close(a2);
    cio_unix_stream_close(b1);
    cio_unix_stream_close(b2);
    CHECK_EQ(cio_test_open_fds(), base); /* the passed descriptors were dropped, not kept */
    return NULL;
}

static void test_copy_source_with_descriptors(void)
{
    run(main_copy_with_fds, NULL);
}

/*
 * The buffer copy (the fallback when splice cannot be used) reads with the stream read. Linux
 * ends a Unix stream read after the bytes of a write that carried descriptors, with more
 * queued: that read must not count as draining the socket, or the bytes behind it would wait
 * for an edge that never comes: here everything is queued by one edge.
 */
struct buffer_copy {
    cio_unix_stream *from, *to;
    uint64_t bytes;
    int rc;
};

static void *buffer_copy_task(void *arg)
{
    struct buffer_copy *c = arg;
    c->rc = cio__stream_copy((struct cio__socket *)(void *)c->from,
                             (struct cio__socket *)(void *)c->to, CIO__COPY_NO_SPLICE, &c->bytes);
    return NULL;
}

static void *main_copy_buffer_across_fds(void *arg)
{
    (void)arg;
    int base = cio_test_open_fds();
    cio_unix_stream *a1, *a2, *b1, *b2;
    CHECK_RC(cio_unix_stream_pair(&a1, &a2));
    CHECK_RC(cio_unix_stream_pair(&b1, &b2));
    int pipes[2];
    CHECK_SYS(pipe2(pipes, O_NONBLOCK | O_CLOEXEC));
    struct buffer_copy c = {a2, b1, 0, 1};
    cio_task *t;
    CHECK_RC(cio_spawn(&t, buffer_copy_task, &c));
    /* Let the copy find its source empty and wait for it (so its readiness is cached from
     * here on), then queue everything at once: one edge for all of it. */
    CHECK_RC(cio_sleep(10 * CIO_NSEC_PER_MSEC));
    CHECK_EQ(cio_unix_stream_write(a1, "AAA", 3), 3);
    CHECK_EQ(cio_unix_stream_send_fds(a1, "BBB", 3, pipes, 2), 3);
    CHECK_EQ(cio_unix_stream_write(a1, "CCC", 3), 3);
    CHECK_EQ(cio_unix_stream_send_fds(a1, "DDD", 3, pipes, 1), 3);
    CHECK_EQ(cio_unix_stream_write(a1, "E", 1), 1);
    char buf[16];
    cio_time saved = cio_deadline_set(cio_now() + 2 * CIO_NSEC_PER_SEC);
    CHECK_RC(cio_unix_stream_read_exact(b2, buf, 13, NULL));
    cio_deadline_restore(saved);
    CHECK(memcmp(buf, "AAABBBCCCDDDE", 13) == 0);
    CHECK_RC(cio_unix_stream_shutdown(a1, CIO_SHUTDOWN_WRITE));
    CHECK_RC(cio_task_join(t, NULL));
    CHECK_RC(c.rc);
    CHECK_EQ(c.bytes, 13);
    CHECK_EQ(cio_unix_stream_read(b2, buf, sizeof(buf)), 0); /* the end of stream came across */
    CHECK_SYS(close(pipes[0]));
    CHECK_SYS(close(pipes[1]));
    cio_unix_stream_close(a1);
    cio_unix_stream_close(a2);
    cio_unix_stream_close(b1);
    cio_unix_stream_close(b2);
    CHECK_EQ(cio_test_open_fds(), base); /* the descriptors were dropped, not kept */
    return NULL;
}

static void test_copy_buffer_across_descriptor_boundary(void)
{
    run(main_copy_buffer_across_fds, NULL);
}

/* ---- a relay cut by its deadline ---- */

static void *main_relay_deadline(void *arg)
{
    (void)arg;
    int base = cio_test_open_fds();
    cio_unix_stream *client, *a;
    cio_tcp_stream *b, *server;
    CHECK_RC(cio_unix_stream_pair(&client, &a));
    tcp_pair(&b, &server);
    CHECK_RC(cio_unix_stream_write_all(client, "ping", 4, NULL));
    uint64_t ab = 9, ba = 9;
    cio_time start = cio_now();
    cio_time saved = cio_deadline_set(start + 50 * CIO_NSEC_PER_MSEC);
    CHECK_ERR(cio_unix_stream_copy_bidirectional_tcp(a, b, &ab, &ba), -ETIMEDOUT);
    cio_deadline_restore(saved);
    CHECK(cio_now() - start < 2 * CIO_NSEC_PER_SEC);
    CHECK_EQ(ab, 4);
    CHECK_EQ(ba, 0);
    char buf[8];
    CHECK_RC(cio_tcp_stream_read_exact(server, buf, 4, NULL));
    CHECK(memcmp(buf, "ping", 4) == 0);
    CHECK_ERR(cio_unix_stream_copy_bidirectional(a, a, NULL, NULL), -EINVAL);
    cio_unix_stream_close(client);
    cio_unix_stream_close(a);
    cio_tcp_stream_close(b);
    cio_tcp_stream_close(server);
    CHECK_EQ(cio_test_open_fds(), base);
    return NULL;
}

static void test_relay_deadline(void)
{
    run(main_relay_deadline, NULL);
}

CIO_TEST_MAIN(TEST(test_copy_one_way_unix_and_tcp), TEST(test_copy_bidirectional_unix_tcp_and_unix),
              TEST(test_copy_source_with_descriptors),
              TEST(test_copy_buffer_across_descriptor_boundary), TEST(test_relay_deadline))
