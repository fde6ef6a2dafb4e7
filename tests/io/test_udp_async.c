/*
 * test_udp_async.c: the async operations only UDP has, on loopback sockets, one runtime worker
 * — connected sockets (send, recv, peek, peek_sender, -ECONNREFUSED through a suspended
 * receive), truncation reported in messages and batches (CIO_UDP_MSG_TRUNC), the message and
 * batch calls, a message receive and a plain receive waiting together (each served), and
 * argument errors. What UDP shares with Unix datagrams is tested for both in
 * test_dgram_async.c.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "stream_kinds.h"

/* A socket bound to 127.0.0.1, port from the kernel. */
static cio_udp_socket *bind_local(cio_addr *ret_addr)
{
    return (cio_udp_socket *)(void *)dgram_kind_udp.bind_local(false, ret_addr);
}

/* ---- connected sockets ---- */

static void *main_connected(void *arg)
{
    (void)arg;
    cio_addr aaddr, baddr;
    cio_udp_socket *a = bind_local(&aaddr);
    cio_udp_socket *b = bind_local(&baddr);
    CHECK_RC(cio_dgram_connect(a, &baddr));
    CHECK_RC(cio_dgram_connect(b, &aaddr));
    CHECK_EQ(cio_dgram_send(a, "hello", 5), 5);
    cio_addr from;
    CHECK_EQ(cio_dgram_peek_sender(b, &from), 5);
    CHECK(cio_addr_equal(&from, &aaddr));
    char buf[16];
    CHECK_EQ(cio_dgram_peek(b, buf, sizeof(buf)), 5);
    CHECK_EQ(cio_dgram_peek_from(b, buf, sizeof(buf), &from), 5);
    CHECK_EQ(cio_dgram_recv(b, buf, sizeof(buf)), 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    /* The peer goes away: the next datagram draws an ICMP port unreachable, which a
     * receive waiting on the connected socket reports. */
    cio_socket_close(b);
    CHECK_EQ(cio_dgram_send(a, "x", 1), 1);
    CHECK_ERR(CIO_TIMEOUT(2 * CIO_NSEC_PER_SEC, cio_dgram_recv(a, buf, sizeof(buf))),
              -ECONNREFUSED);
    /* Not connected: send needs an address. */
    cio_addr uaddr;
    cio_udp_socket *u = bind_local(&uaddr);
    CHECK_ERR(cio_dgram_send(u, "x", 1), -EDESTADDRREQ);
    cio_socket_close(u);
    cio_socket_close(a);
    return NULL;
}

static void test_connected_and_refused(void)
{
    run(main_connected, NULL);
}

/* ---- truncation in messages and batches ---- */

static void *main_truncation_in_messages(void *arg)
{
    (void)arg;
    cio_addr aaddr, baddr;
    cio_udp_socket *a = bind_local(&aaddr);
    cio_udp_socket *b = bind_local(&baddr);
    unsigned char big[3000], buf[100];
    pattern_fill(big, sizeof(big), 0, 4);
    /* The message calls report it in the message. */
    CHECK_EQ(cio_dgram_send_to(a, big, sizeof(big), &baddr), sizeof(big));
    struct iovec iov = {buf, sizeof(buf)};
    cio_udp_msg m = {.iov = &iov, .iovcnt = 1};
    CHECK_EQ(cio_udp_socket_recv_msg(b, &m), sizeof(buf));
    CHECK(m.flags & CIO_UDP_MSG_TRUNC);
    CHECK_EQ(m.datagram_len, sizeof(big));
    CHECK(cio_addr_equal(&m.addr, &aaddr));
    /* And in a batch. */
    CHECK_EQ(cio_dgram_send_to(a, big, 50, &baddr), 50);
    CHECK_EQ(cio_dgram_send_to(a, big, sizeof(big), &baddr), sizeof(big));
    unsigned char b1[100], b2[100];
    struct iovec v[2] = {{b1, sizeof(b1)}, {b2, sizeof(b2)}};
    cio_udp_msg ms[2] = {{.iov = &v[0], .iovcnt = 1}, {.iov = &v[1], .iovcnt = 1}};
    int got = 0;
    while (got < 2) {
        int n = (int)CHECK_RC(cio_udp_socket_recv_batch(b, ms + got, (size_t)(2 - got)));
        CHECK(n >= 1);
        got += n;
    }
    CHECK_EQ(ms[0].len, 50);
    CHECK(!(ms[0].flags & CIO_UDP_MSG_TRUNC));
    CHECK(ms[1].flags & CIO_UDP_MSG_TRUNC);
    CHECK_EQ(ms[1].datagram_len, sizeof(big));
    cio_socket_close(a);
    cio_socket_close(b);
    return NULL;
}

static void test_truncation_in_messages(void)
{
    run(main_truncation_in_messages, NULL);
}

/* ---- messages and batches ---- */

static void *main_msgs(void *arg)
{
    (void)arg;
    cio_addr aaddr, baddr;
    cio_udp_socket *a = bind_local(&aaddr);
    cio_udp_socket *b = bind_local(&baddr);
    CHECK_RC(cio_udp_socket_set_recv_pktinfo(b, true));
    /* send_msg with two buffers; recv_msg gathers sender and destination. */
    struct iovec two[2] = {{"hel", 3}, {"lo", 2}};
    cio_udp_msg sm = {.iov = two, .iovcnt = 2, .addr = baddr};
    CHECK_EQ(cio_udp_socket_send_msg(a, &sm), 5);
    CHECK_EQ(sm.len, 5);
    char buf[16];
    struct iovec in = {buf, sizeof(buf)};
    cio_udp_msg rm = {.iov = &in, .iovcnt = 1};
    CHECK_EQ(cio_udp_socket_recv_msg(b, &rm), 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    CHECK(cio_addr_equal(&rm.addr, &aaddr));
    CHECK_EQ(cio_addr_get_kind(&rm.local), CIO_ADDR_IPV4);
    /* A batch of 40 (more than one call sends) in; batches out until all are there. */
    enum { COUNT = 40 };
    uint32_t ids[COUNT];
    struct iovec sv[COUNT];
    cio_udp_msg sms[COUNT];
    for (uint32_t i = 0; i < COUNT; i++) {
        ids[i] = i;
        sv[i] = (struct iovec){&ids[i], sizeof(ids[i])};
        sms[i] = (cio_udp_msg){.iov = &sv[i], .iovcnt = 1, .addr = baddr};
    }
    size_t sent = 0;
    while (sent < COUNT) {
        int n = (int)CHECK_RC(cio_udp_socket_send_batch(a, sms + sent, COUNT - sent));
        CHECK(n >= 1 && n <= CIO_UDP_BATCH_MAX);
        sent += (size_t)n;
    }
    uint32_t rids[COUNT];
    struct iovec rv[COUNT];
    cio_udp_msg rms[COUNT];
    for (int i = 0; i < COUNT; i++) {
        rv[i] = (struct iovec){&rids[i], sizeof(rids[i])};
        rms[i] = (cio_udp_msg){.iov = &rv[i], .iovcnt = 1};
    }
    size_t got = 0;
    while (got < COUNT) {
        int n = (int)CHECK_RC(cio_udp_socket_recv_batch(b, rms + got, COUNT - got));
        CHECK(n >= 1);
        got += (size_t)n;
    }
    for (uint32_t i = 0; i < COUNT; i++) {
        CHECK_EQ(rids[i], i);
        CHECK_EQ(rms[i].len, sizeof(uint32_t));
    }
    /* Nothing queued: a batch receive waits (here, until its deadline). */
    CHECK_ERR(CIO_TIMEOUT(10 * CIO_NSEC_PER_MSEC, cio_udp_socket_recv_batch(b, rms, COUNT)),
              -ETIMEDOUT);
    CHECK_EQ(cio_udp_socket_recv_batch(b, rms, 0), 0);
    CHECK_EQ(cio_udp_socket_send_batch(a, NULL, 0), 0);
    CHECK_ERR(cio_udp_socket_recv_batch(b, NULL, 1), -EINVAL);
    CHECK_ERR(cio_udp_socket_send_msg(a, NULL), -EINVAL);
    CHECK_ERR(cio_udp_socket_recv_msg(b, NULL), -EINVAL);
    cio_socket_close(a);
    cio_socket_close(b);
    return NULL;
}

static void test_messages_and_batches(void)
{
    run(main_msgs, NULL);
}

/* ---- recv_msg and plain receives waiting at once ---- */

/* What a waiter's message receive got. */
struct msg_recv {
    cio_udp_msg m;
    struct iovec iov;
};

static ssize_t waiter_recv_msg(struct waiter *w)
{
    struct msg_recv *r = w->ctx;
    r->iov = (struct iovec){w->buf, sizeof(w->buf)};
    r->m = (cio_udp_msg){.iov = &r->iov, .iovcnt = 1};
    return cio_udp_socket_recv_msg((cio_udp_socket *)(void *)w->sock, &r->m);
}

/* A message receive and a plain receive wait on one socket together: each datagram goes to
 * one of them, the other waits on for the next. */
static void *main_recv_msg_with_plain_receiver(void *arg)
{
    (void)arg;
    cio_addr aaddr, baddr;
    cio_udp_socket *a = bind_local(&aaddr);
    cio_udp_socket *b = bind_local(&baddr);
    struct msg_recv got;
    struct waiter rm = {.sock = cio_as_socket(b), .call = waiter_recv_msg, .ctx = &got};
    struct waiter rp = {.sock = cio_as_socket(b), .call = waiter_dgram_recv};
    struct waiter *w[2] = {&rm, &rp};
    cio_join_handle *t[2];
    CHECK_RC(cio_spawn(&t[0], waiter_task, &rm));
    CHECK_RC(cio_spawn(&t[1], waiter_task, &rp));
    check_waiting(t, 2);
    /* The sending direction is free meanwhile. */
    CHECK_EQ(cio_dgram_send_to(b, "w", 1, &aaddr), 1);
    struct dgram_dest to_b = {cio_as_dgram(a), &baddr};
    check_take_turns(t, w, send_dgram_to, &to_b);
    CHECK_EQ(got.m.len, 3);
    CHECK(cio_addr_equal(&got.m.addr, &aaddr));
    char x;
    CHECK_EQ(cio_dgram_recv(a, &x, 1), 1);
    cio_socket_close(a);
    cio_socket_close(b);
    return NULL;
}

static void test_recv_msg_with_plain_receiver(void)
{
    run(main_recv_msg_with_plain_receiver, NULL);
}

/* ---- argument errors, outside a task ---- */

static void test_errors(void)
{
    cio_addr addr;
    cio_udp_socket *u = bind_local(&addr);
    char buf[4];
    CHECK_ERR(cio_dgram_recv(u, buf, sizeof(buf)), -EPERM);
    CHECK_ERR(cio_dgram_send_to(u, "x", 1, &addr), -EPERM);
    CHECK_ERR(cio_socket_readable(u), -EPERM);
    CHECK_ERR((cio_dgram_recv)(NULL, buf, sizeof(buf)), -EINVAL);
    CHECK_ERR(cio_dgram_recv(u, NULL, 1), -EINVAL);
    CHECK_ERR(cio_dgram_send_to(u, "x", 1, NULL), -EINVAL);
    cio_addr unix_addr;
    CHECK_RC(cio_addr_unix(&unix_addr, "/nonexistent", 12));
    CHECK_ERR(cio_dgram_send_to(u, "x", 1, &unix_addr), -EAFNOSUPPORT);
    CHECK_ERR(cio_dgram_poll_send_to(u, "x", 1, &unix_addr, NULL, NULL), -EAFNOSUPPORT);
    /* try_io works outside a task. */
    CHECK_ERR(cio_socket_try_io(u, CIO_READABLE, raw_recv, u), -EAGAIN);
    cio_socket_close(u);
}

CIO_TEST_MAIN(TEST(test_connected_and_refused), TEST(test_truncation_in_messages),
              TEST(test_messages_and_batches), TEST(test_recv_msg_with_plain_receiver),
              TEST(test_errors))
