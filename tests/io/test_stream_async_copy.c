/*
 * test_stream_async_copy.c: copying between async streams, TCP and Unix, of one kind or
 * across kinds — a one-way copy that carries the end of stream across with exact byte
 * counts, and a relay (copy_bidirectional) between a client and a server through a proxy,
 * with a half-close in each order: the direction that ended is shut down on the far side
 * while the other goes on, and the byte counts are exact. Each runs through the public calls
 * and through the buffer fallback (no splice). A relay whose one side is reset (TCP) stops at
 * once; a cancelled or timed-out relay returns promptly with its helpers finished and nothing
 * left open. A Unix source carrying descriptors: the bytes arrive whole, the descriptors are
 * dropped and none leaks, also through the buffer copy with everything queued by one edge.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/stream.h"
#include "stream_kinds.h"

enum { CLIENT_BYTES = (5 << 20) + 17, SERVER_BYTES = (3 << 20) + 5 };

/* ---- the two ends of a conversation ---- */

/* Sends @send_len pattern bytes and shuts down writing, reads until end of stream checking
 * the pattern — in the order @send_first says, or only one of the two. */
struct endpoint {
    cio_stream *s;
    size_t send_len;
    unsigned send_seed, recv_seed;
    bool send_first;
    bool send_only, recv_only;
    uint64_t received;
};

static void endpoint_send(struct endpoint *e)
{
    unsigned char *buf = xmalloc(1 << 16);
    for (size_t pos = 0; pos < e->send_len;) {
        size_t n = e->send_len - pos < (1 << 16) ? e->send_len - pos : (1 << 16);
        pattern_fill(buf, n, pos, e->send_seed);
        CHECK_RC(cio_stream_write_all(e->s, buf, n, NULL));
        pos += n;
    }
    CHECK_RC(cio_socket_shutdown(e->s, CIO_SHUTDOWN_WRITE));
    free(buf);
}

static void endpoint_recv(struct endpoint *e)
{
    unsigned char *buf = xmalloc(1 << 16);
    for (;;) {
        ssize_t n = CHECK_RC(cio_stream_read(e->s, buf, 1 << 16));
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

/* client <-> a (proxy) ... b (proxy) <-> server; client and a of kind @ka, b and server of
 * kind @kb. */
struct relay {
    cio_stream *client, *a, *b, *server;
};

static void relay_open(struct relay *r, const struct stream_kind *ka, const struct stream_kind *kb)
{
    stream_pair(ka, &r->client, &r->a);
    stream_pair(kb, &r->b, &r->server);
}

static void relay_close(struct relay *r)
{
    cio_socket_close(r->client);
    cio_socket_close(r->a);
    cio_socket_close(r->b);
    cio_socket_close(r->server);
}

/* How a copy runs: the public call, or the engine with @flags. */
struct copy_mode {
    bool public_api;
    unsigned flags;
};

static const struct copy_mode public_copy = {true, 0};
static const struct copy_mode buffered_copy = {false, CIO__COPY_NO_SPLICE};

/* One way, @from to @to, of one kind or across kinds. */
static int copy_one_way(cio_stream *from, cio_stream *to, struct copy_mode mode,
                        uint64_t *ret_bytes)
{
    if (!mode.public_api)
        return cio__stream_copy(cio_as_socket(from), cio_as_socket(to), mode.flags, ret_bytes);
    return cio_stream_copy(from, to, ret_bytes);
}

struct proxy {
    const struct relay *r;
    struct copy_mode mode;
    int rc;
    uint64_t ab, ba;
};

static void *proxy_task(void *arg)
{
    struct proxy *p = arg;
    const struct relay *r = p->r;
    p->ab = p->ba = 12345;
    if (!p->mode.public_api)
        p->rc = cio__stream_copy_bidirectional(cio_as_socket(r->a), cio_as_socket(r->b),
                                               p->mode.flags, &p->ab, &p->ba);
    else
        p->rc = cio_stream_copy_bidirectional(r->a, r->b, &p->ab, &p->ba);
    return NULL;
}

/* ---- relays ---- */

struct relay_case {
    const struct stream_kind *ka, *kb;
    bool client_first; /* the client sends and half-closes first; else the server does */
    struct copy_mode mode;
};

static void *main_relay(void *arg)
{
    const struct relay_case *rc = arg;
    struct relay r;
    relay_open(&r, rc->ka, rc->kb);
    struct endpoint client = {.s = r.client,
                              .send_len = CLIENT_BYTES,
                              .send_seed = 1,
                              .recv_seed = 2,
                              .send_first = rc->client_first};
    struct endpoint server = {.s = r.server,
                              .send_len = SERVER_BYTES,
                              .send_seed = 2,
                              .recv_seed = 1,
                              .send_first = !rc->client_first};
    struct proxy p = {&r, rc->mode, -1, 0, 0};
    cio_join_handle *t[3];
    CHECK_RC(cio_spawn(&t[0], proxy_task, &p));
    CHECK_RC(cio_spawn(&t[1], endpoint_task, &client));
    CHECK_RC(cio_spawn(&t[2], endpoint_task, &server));
    for (int i = 0; i < 3; i++)
        CHECK_RC(cio_task_join(t[i], NULL, NULL));
    CHECK_RC(p.rc);
    CHECK_EQ(p.ab, CLIENT_BYTES);
    CHECK_EQ(p.ba, SERVER_BYTES);
    CHECK_EQ(server.received, CLIENT_BYTES);
    CHECK_EQ(client.received, SERVER_BYTES);
    relay_close(&r);
    return NULL;
}

/* test_relay_<name>: a relay between kinds @a and @b, @first half-closing first. */
#define RELAY_CASE(name, a, b, first, mode)                                                        \
    static void test_relay_##name(void)                                                            \
    {                                                                                              \
        struct relay_case c = {&stream_kind_##a, &stream_kind_##b, first, mode};                   \
        run(main_relay, &c);                                                                       \
    }

RELAY_CASE(client_half_closes_first_tcp, tcp, tcp, true, public_copy)
RELAY_CASE(server_half_closes_first_tcp, tcp, tcp, false, public_copy)
RELAY_CASE(buffered_client_first_tcp, tcp, tcp, true, buffered_copy)
RELAY_CASE(buffered_server_first_tcp, tcp, tcp, false, buffered_copy)
RELAY_CASE(client_half_closes_first_unix, unix, unix, true, public_copy)
RELAY_CASE(server_half_closes_first_unix, unix, unix, false, public_copy)
RELAY_CASE(buffered_client_first_unix, unix, unix, true, buffered_copy)
RELAY_CASE(buffered_server_first_unix, unix, unix, false, buffered_copy)
RELAY_CASE(client_half_closes_first_unix_tcp, unix, tcp, true, public_copy)
RELAY_CASE(server_half_closes_first_unix_tcp, unix, tcp, false, public_copy)

/* ---- one-way copy ---- */

struct copy_case {
    const struct stream_kind *kf, *kt;
    struct copy_mode mode;
};

static void *main_copy(void *arg)
{
    const struct copy_case *cc = arg;
    /* producer -> [client a] -copy-> [b server] -> consumer */
    struct relay r;
    relay_open(&r, cc->kf, cc->kt);
    struct endpoint producer = {
        .s = r.client, .send_len = CLIENT_BYTES, .send_seed = 4, .send_only = true};
    struct endpoint consumer = {.s = r.server, .recv_seed = 4, .recv_only = true};
    cio_join_handle *t[2];
    CHECK_RC(cio_spawn(&t[0], endpoint_task, &producer));
    CHECK_RC(cio_spawn(&t[1], endpoint_task, &consumer));
    uint64_t bytes = 1;
    CHECK_RC(copy_one_way(r.a, r.b, cc->mode, &bytes));
    CHECK_EQ(bytes, CLIENT_BYTES);
    for (int i = 0; i < 2; i++)
        CHECK_RC(cio_task_join(t[i], NULL, NULL));
    /* The consumer's read loop ended: its end of stream came from the copy's shutdown. */
    CHECK_EQ(consumer.received, CLIENT_BYTES);
    CHECK_EQ(producer.received, 0);
    CHECK_ERR((cio_stream_copy)(NULL, NULL, NULL), -EINVAL);
    relay_close(&r);
    return NULL;
}

/* test_copy_<name>: a one-way copy from kind @from to kind @to. */
#define COPY_CASE(name, from, to, mode)                                                            \
    static void test_copy_##name(void)                                                             \
    {                                                                                              \
        struct copy_case c = {&stream_kind_##from, &stream_kind_##to, mode};                       \
        run(main_copy, &c);                                                                        \
    }

COPY_CASE(tcp, tcp, tcp, public_copy)
COPY_CASE(buffered_tcp, tcp, tcp, buffered_copy)
COPY_CASE(unix, unix, unix, public_copy)
COPY_CASE(buffered_unix, unix, unix, buffered_copy)
COPY_CASE(unix_to_tcp, unix, tcp, public_copy)
COPY_CASE(tcp_to_unix, tcp, unix, public_copy)

/* ---- failures, cancellation, deadlines ---- */

/* TCP alone can reset a connection (SO_LINGER 0). */
static void *main_reset(void *arg)
{
    const struct copy_mode *mode = arg;
    struct relay r;
    relay_open(&r, &stream_kind_tcp, &stream_kind_tcp);
    struct proxy p = {&r, *mode, -1, 0, 0};
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, proxy_task, &p));
    /* Some traffic server -> client first. */
    CHECK_RC(cio_stream_write_all(r.server, "hello", 5, NULL));
    char buf[8];
    CHECK_RC(cio_stream_read_exact(r.client, buf, 5, NULL));
    /* The server resets; the client stays idle. The relay must notice and stop the other
     * direction, which waits on a read of a that would never end. */
    CHECK_RC(cio_socket_set_linger(r.server, 0));
    cio_socket_close(r.server);
    r.server = NULL;
    cio_time start = cio_now();
    CHECK_RC(cio_task_join(t, NULL, NULL));
    CHECK(cio_now() - start < CIO_NSEC_PER_SEC);
    CHECK(p.rc < 0);
    CHECK(p.rc != -ECANCELED && p.rc != -ETIMEDOUT);
    CHECK_EQ(p.ba, 5);
    CHECK_EQ(p.ab, 0);
    relay_close(&r);
    return NULL;
}

static void test_relay_stops_on_reset_tcp(void)
{
    struct copy_mode spliced = {false, 0};
    run(main_reset, &spliced);
}

static void test_relay_buffered_stops_on_reset_tcp(void)
{
    run(main_reset, (void *)&buffered_copy);
}

static void *proxy_with_deadline(void *arg)
{
    struct proxy *p = arg;
    CIO_TIMEOUT_SCOPE(40 * CIO_NSEC_PER_MSEC);
    proxy_task(p);
    return NULL;
}

static void *main_relay_cancel_and_deadline(void *arg)
{
    const struct stream_kind *k = arg;
    struct relay r;
    relay_open(&r, k, k);
    /* Cancelled while both directions wait. */
    struct proxy p = {&r, public_copy, -1, 0, 0};
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, proxy_task, &p));
    CHECK_RC(cio_stream_write_all(r.client, "abc", 3, NULL));
    char buf[8];
    CHECK_RC(cio_stream_read_exact(r.server, buf, 3, NULL));
    CHECK_RC(cio_task_cancel(t));
    cio_time start = cio_now();
    CHECK_JOIN_CANCELLED(t);
    CHECK(cio_now() - start < 500 * CIO_NSEC_PER_MSEC);
    CHECK_EQ(p.rc, -ECANCELED);
    CHECK_EQ(p.ab, 3);
    CHECK_EQ(p.ba, 0);
    /* The helpers are gone: the streams are free for another relay, under a deadline. */
    struct proxy q = {&r, public_copy, -1, 0, 0};
    start = cio_now();
    CHECK_RC(cio_spawn(&t, proxy_with_deadline, &q));
    CHECK_RC(cio_stream_write_all(r.server, "xy", 2, NULL));
    CHECK_RC(cio_stream_read_exact(r.client, buf, 2, NULL));
    CHECK_RC(cio_task_join(t, NULL, NULL));
    CHECK_EQ(q.rc, -ETIMEDOUT);
    CHECK(cio_now() - start >= 35 * CIO_NSEC_PER_MSEC);
    CHECK_EQ(q.ba, 2);
    /* Close at once: a helper still running would touch freed streams (ASan). */
    relay_close(&r);
    CHECK_RC(cio_sleep(5 * CIO_NSEC_PER_MSEC));
    return NULL;
}

STREAM_CASE(relay_cancel_and_deadline)

/* A Unix client side and a TCP server side, the relay cut by the caller's deadline. */
static void *main_relay_deadline_unix_tcp(void *arg)
{
    (void)arg;
    int base = cio_test_open_fds();
    struct relay r;
    relay_open(&r, &stream_kind_unix, &stream_kind_tcp);
    CHECK_RC(cio_stream_write_all(r.client, "ping", 4, NULL));
    uint64_t ab = 9, ba = 9;
    cio_time start = cio_now();
    {
        CIO_DEADLINE_SCOPE(start + 50 * CIO_NSEC_PER_MSEC);
        CHECK_ERR(cio_stream_copy_bidirectional(r.a, r.b, &ab, &ba), -ETIMEDOUT);
    }
    CHECK(cio_now() - start < 2 * CIO_NSEC_PER_SEC);
    CHECK_EQ(ab, 4);
    CHECK_EQ(ba, 0);
    char buf[8];
    CHECK_RC(cio_stream_read_exact(r.server, buf, 4, NULL));
    CHECK(memcmp(buf, "ping", 4) == 0);
    CHECK_ERR(cio_stream_copy_bidirectional(r.a, r.a, NULL, NULL), -EINVAL);
    relay_close(&r);
    CHECK_EQ(cio_test_open_fds(), base);
    return NULL;
}

static void test_relay_deadline_unix_tcp(void)
{
    run(main_relay_deadline_unix_tcp, NULL);
}

/* ---- a Unix source carrying descriptors ---- */

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
            done = (size_t)CHECK_RC(cio_unix_send_fds(p->s, buf, FD_MSG, p->pipes, 2, NULL));
        CHECK_RC(cio_stream_write_all(p->s, buf + done, FD_MSG - done, NULL));
    }
    CHECK_RC(cio_socket_shutdown(p->s, CIO_SHUTDOWN_WRITE));
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
    cio_join_handle *tp;
    CHECK_RC(cio_spawn(&tp, fd_producer_task, &prod));
    struct endpoint cons = {.s = cio_as_stream(b2), .recv_seed = 5, .recv_only = true};
    cio_join_handle *tc;
    CHECK_RC(cio_spawn(&tc, endpoint_task, &cons));
    uint64_t bytes = 0;
    CHECK_RC(CIO_TIMEOUT(10 * CIO_NSEC_PER_SEC, cio_stream_copy(a2, b1, &bytes)));
    CHECK_EQ(bytes, FD_MSGS * FD_MSG);
    CHECK_RC(cio_task_join(tp, NULL, NULL));
    CHECK_RC(cio_task_join(tc, NULL, NULL));
    CHECK_EQ(cons.received, FD_MSGS * FD_MSG);
    CHECK_SYS(close(prod.pipes[0]));
    CHECK_SYS(close(prod.pipes[1]));
    cio_socket_close(a1);
    cio_socket_close(a2);
    cio_socket_close(b1);
    cio_socket_close(b2);
    CHECK_EQ(cio_test_open_fds(), base); /* the passed descriptors were dropped, not kept */
    return NULL;
}

static void test_copy_source_with_descriptors_unix(void)
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
    c->rc = cio__stream_copy(cio_as_socket(c->from), cio_as_socket(c->to), CIO__COPY_NO_SPLICE,
                             &c->bytes);
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
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, buffer_copy_task, &c));
    /* Let the copy find its source empty and wait for it (so its readiness is cached from
     * here on), then queue everything at once: one edge for all of it. */
    CHECK_RC(cio_sleep(10 * CIO_NSEC_PER_MSEC));
    write_across_fds(a1, pipes);
    char buf[16];
    CHECK_RC(CIO_TIMEOUT(2 * CIO_NSEC_PER_SEC, cio_stream_read_exact(b2, buf, 13, NULL)));
    CHECK(memcmp(buf, ACROSS_FDS, 13) == 0);
    CHECK_RC(cio_socket_shutdown(a1, CIO_SHUTDOWN_WRITE));
    CHECK_RC(cio_task_join(t, NULL, NULL));
    CHECK_RC(c.rc);
    CHECK_EQ(c.bytes, 13);
    CHECK_EQ(cio_stream_read(b2, buf, sizeof(buf)), 0); /* the end of stream came across */
    CHECK_SYS(close(pipes[0]));
    CHECK_SYS(close(pipes[1]));
    cio_socket_close(a1);
    cio_socket_close(a2);
    cio_socket_close(b1);
    cio_socket_close(b2);
    CHECK_EQ(cio_test_open_fds(), base); /* the descriptors were dropped, not kept */
    return NULL;
}

static void test_copy_buffer_across_descriptor_boundary_unix(void)
{
    run(main_copy_buffer_across_fds, NULL);
}

CIO_TEST_MAIN(
    TEST(test_relay_client_half_closes_first_tcp), TEST(test_relay_server_half_closes_first_tcp),
    TEST(test_relay_buffered_client_first_tcp), TEST(test_relay_buffered_server_first_tcp),
    TEST(test_relay_client_half_closes_first_unix), TEST(test_relay_server_half_closes_first_unix),
    TEST(test_relay_buffered_client_first_unix), TEST(test_relay_buffered_server_first_unix),
    TEST(test_relay_client_half_closes_first_unix_tcp),
    TEST(test_relay_server_half_closes_first_unix_tcp), TEST(test_copy_tcp),
    TEST(test_copy_buffered_tcp), TEST(test_copy_unix), TEST(test_copy_buffered_unix),
    TEST(test_copy_unix_to_tcp), TEST(test_copy_tcp_to_unix), TEST(test_relay_stops_on_reset_tcp),
    TEST(test_relay_buffered_stops_on_reset_tcp), STREAM_TESTS(relay_cancel_and_deadline),
    TEST(test_relay_deadline_unix_tcp), TEST(test_copy_source_with_descriptors_unix),
    TEST(test_copy_buffer_across_descriptor_boundary_unix))
