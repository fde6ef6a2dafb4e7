/*
 * test_tcp_async_copy.c: copying between async TCP streams — a one-way copy that carries the
 * end of stream across, and a relay (copy_bidirectional) between a client and a server
 * through a proxy, with a half-close in each order: the direction that ended is shut down on
 * the far side while the other goes on, and the byte counts are exact. Each runs through
 * splice and through the buffer fallback. A relay whose one side is reset stops at once; a
 * cancelled or timed-out relay returns promptly with its helpers finished.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "io/stream.h"
#include "test_tcp_async_helpers.h"

#define SOCK(s) ((struct cio__socket *)(void *)(s))

/* client <-> a (proxy) ... b (proxy) <-> server */
struct relay {
    cio_tcp_stream *client, *a, *b, *server;
};

static void relay_open(struct relay *r)
{
    tcp_pair(&r->client, &r->a);
    tcp_pair(&r->b, &r->server);
}

static void relay_close(struct relay *r)
{
    cio_tcp_stream_close(r->client);
    cio_tcp_stream_close(r->a);
    cio_tcp_stream_close(r->b);
    cio_tcp_stream_close(r->server);
}

/* One end of the conversation: sends @send_len pattern bytes and shuts down writing, reads
 * until end of stream checking the pattern — in the order @send_first says. */
struct endpoint {
    cio_tcp_stream *s;
    size_t send_len;
    unsigned send_seed, recv_seed;
    bool send_first;
    uint64_t received;
    bool send_only;
};

static void endpoint_send(struct endpoint *e)
{
    unsigned char *buf = xmalloc(1 << 16);
    for (size_t pos = 0; pos < e->send_len;) {
        size_t n = e->send_len - pos < (1 << 16) ? e->send_len - pos : (1 << 16);
        pattern_fill(buf, n, pos, e->send_seed);
        CHECK_RC(cio_tcp_stream_write_all(e->s, buf, n, NULL));
        pos += n;
    }
    CHECK_RC(cio_tcp_stream_shutdown(e->s, CIO_SHUTDOWN_WRITE));
    free(buf);
}

static void endpoint_recv(struct endpoint *e)
{
    unsigned char *buf = xmalloc(1 << 16);
    for (;;) {
        ssize_t n = CHECK_RC(cio_tcp_stream_read(e->s, buf, 1 << 16));
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
    } else if (e->send_first) {
        endpoint_send(e);
        endpoint_recv(e);
    } else {
        endpoint_recv(e);
        endpoint_send(e);
    }
    return NULL;
}

struct proxy {
    cio_tcp_stream *a, *b;
    unsigned flags;
    bool public_api;
    int rc;
    uint64_t ab, ba;
};

static void *proxy_task(void *arg)
{
    struct proxy *p = arg;
    p->ab = p->ba = 12345;
    if (p->public_api)
        p->rc = cio_tcp_stream_copy_bidirectional(p->a, p->b, &p->ab, &p->ba);
    else
        p->rc = cio__stream_copy_bidirectional(SOCK(p->a), SOCK(p->b), p->flags, &p->ab, &p->ba);
    return NULL;
}

enum { CLIENT_BYTES = (5 << 20) + 17, SERVER_BYTES = (3 << 20) + 5 };

struct relay_case {
    bool client_first; /* the client sends and half-closes first; else the server does */
    unsigned flags;
    bool public_api;
};

static void *main_relay(void *arg)
{
    const struct relay_case *rc = arg;
    struct relay r;
    relay_open(&r);
    struct endpoint client = {r.client, CLIENT_BYTES, 1, 2, rc->client_first, 0, false};
    struct endpoint server = {r.server, SERVER_BYTES, 2, 1, !rc->client_first, 0, false};
    struct proxy p = {r.a, r.b, rc->flags, rc->public_api, -1, 0, 0};
    cio_task *t[3];
    CHECK_RC(cio_spawn(&t[0], proxy_task, &p));
    CHECK_RC(cio_spawn(&t[1], endpoint_task, &client));
    CHECK_RC(cio_spawn(&t[2], endpoint_task, &server));
    for (int i = 0; i < 3; i++)
        CHECK_RC(cio_task_join(t[i], NULL));
    CHECK_RC(p.rc);
    CHECK_EQ(p.ab, CLIENT_BYTES);
    CHECK_EQ(p.ba, SERVER_BYTES);
    CHECK_EQ(server.received, CLIENT_BYTES);
    CHECK_EQ(client.received, SERVER_BYTES);
    relay_close(&r);
    return NULL;
}

static void test_relay_client_half_closes_first(void)
{
    struct relay_case c = {.client_first = true, .public_api = true};
    run(main_relay, &c);
}

static void test_relay_server_half_closes_first(void)
{
    struct relay_case c = {.client_first = false, .public_api = true};
    run(main_relay, &c);
}

static void test_relay_buffered_client_first(void)
{
    struct relay_case c = {.client_first = true, .flags = CIO__COPY_NO_SPLICE};
    run(main_relay, &c);
}

static void test_relay_buffered_server_first(void)
{
    struct relay_case c = {.client_first = false, .flags = CIO__COPY_NO_SPLICE};
    run(main_relay, &c);
}

/* ---- one-way copy ---- */

static void *main_copy(void *arg)
{
    unsigned flags = (unsigned)(uintptr_t)arg;
    struct relay r;
    relay_open(&r);
    struct endpoint client = {r.client, CLIENT_BYTES, 4, 0, true, 0, true};
    struct endpoint server = {r.server, 0, 0, 4, false, 0, false};
    cio_task *t[2];
    CHECK_RC(cio_spawn(&t[0], endpoint_task, &client));
    CHECK_RC(cio_spawn(&t[1], endpoint_task, &server));
    uint64_t bytes = 1;
    if (flags == 0)
        CHECK_RC(cio_tcp_stream_copy(r.a, r.b, &bytes));
    else
        CHECK_RC(cio__stream_copy(SOCK(r.a), SOCK(r.b), flags, &bytes));
    CHECK_EQ(bytes, CLIENT_BYTES);
    for (int i = 0; i < 2; i++)
        CHECK_RC(cio_task_join(t[i], NULL));
    CHECK_EQ(server.received, CLIENT_BYTES);
    /* The server's read loop ended: its end of stream came from the copy's shutdown. */
    CHECK_EQ(client.received, 0);
    relay_close(&r);
    return NULL;
}

static void test_copy_splice(void)
{
    run(main_copy, (void *)0);
}

static void test_copy_buffered(void)
{
    run(main_copy, (void *)(uintptr_t)CIO__COPY_NO_SPLICE);
}

/* ---- failures, cancellation, deadlines ---- */

static void *main_reset(void *arg)
{
    unsigned flags = (unsigned)(uintptr_t)arg;
    struct relay r;
    relay_open(&r);
    struct proxy p = {r.a, r.b, flags, false, -1, 0, 0};
    cio_task *t;
    CHECK_RC(cio_spawn(&t, proxy_task, &p));
    /* Some traffic server -> client first. */
    CHECK_RC(cio_tcp_stream_write_all(r.server, "hello", 5, NULL));
    char buf[8];
    CHECK_RC(cio_tcp_stream_read_exact(r.client, buf, 5, NULL));
    /* The server resets; the client stays idle. The relay must notice and stop the other
     * direction, which waits on a read of a that would never end. */
    CHECK_RC(cio_tcp_stream_set_linger(r.server, 0));
    cio_tcp_stream_close(r.server);
    r.server = NULL;
    cio_time start = cio_now();
    CHECK_RC(cio_task_join(t, NULL));
    CHECK(cio_now() - start < CIO_NSEC_PER_SEC);
    CHECK(p.rc < 0);
    CHECK(p.rc != -ECANCELED && p.rc != -ETIMEDOUT);
    CHECK_EQ(p.ba, 5);
    CHECK_EQ(p.ab, 0);
    relay_close(&r);
    return NULL;
}

static void test_relay_stops_on_reset(void)
{
    run(main_reset, (void *)0);
}

static void test_relay_buffered_stops_on_reset(void)
{
    run(main_reset, (void *)(uintptr_t)CIO__COPY_NO_SPLICE);
}

static void *proxy_with_deadline(void *arg)
{
    struct proxy *p = arg;
    cio_time saved = cio_deadline_set(cio_now() + 40 * CIO_NSEC_PER_MSEC);
    proxy_task(p);
    cio_deadline_restore(saved);
    return NULL;
}

static void *main_cancel_relay(void *arg)
{
    (void)arg;
    struct relay r;
    relay_open(&r);
    /* Cancelled while both directions wait. */
    struct proxy p = {r.a, r.b, 0, true, -1, 0, 0};
    cio_task *t;
    CHECK_RC(cio_spawn(&t, proxy_task, &p));
    CHECK_RC(cio_tcp_stream_write_all(r.client, "abc", 3, NULL));
    char buf[8];
    CHECK_RC(cio_tcp_stream_read_exact(r.server, buf, 3, NULL));
    CHECK_RC(cio_task_cancel(t));
    cio_time start = cio_now();
    CHECK_ERR(cio_task_join(t, NULL), -ECANCELED);
    CHECK(cio_now() - start < 500 * CIO_NSEC_PER_MSEC);
    CHECK_EQ(p.rc, -ECANCELED);
    CHECK_EQ(p.ab, 3);
    CHECK_EQ(p.ba, 0);
    /* The helpers are gone: the streams are free for another relay, under a deadline. */
    struct proxy q = {r.a, r.b, 0, true, -1, 0, 0};
    start = cio_now();
    CHECK_RC(cio_spawn(&t, proxy_with_deadline, &q));
    CHECK_RC(cio_tcp_stream_write_all(r.server, "xy", 2, NULL));
    CHECK_RC(cio_tcp_stream_read_exact(r.client, buf, 2, NULL));
    CHECK_RC(cio_task_join(t, NULL));
    CHECK_EQ(q.rc, -ETIMEDOUT);
    CHECK(cio_now() - start >= 35 * CIO_NSEC_PER_MSEC);
    CHECK_EQ(q.ba, 2);
    /* Close at once: a helper still running would touch freed streams (ASan). */
    relay_close(&r);
    CHECK_RC(cio_sleep(5 * CIO_NSEC_PER_MSEC));
    return NULL;
}

static void test_relay_cancel_and_deadline(void)
{
    run(main_cancel_relay, NULL);
}

CIO_TEST_MAIN(TEST(test_relay_client_half_closes_first), TEST(test_relay_server_half_closes_first),
              TEST(test_relay_buffered_client_first), TEST(test_relay_buffered_server_first),
              TEST(test_copy_splice), TEST(test_copy_buffered), TEST(test_relay_stops_on_reset),
              TEST(test_relay_buffered_stops_on_reset), TEST(test_relay_cancel_and_deadline))
