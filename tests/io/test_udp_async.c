/*
 * test_udp_async.c: the async UDP operations on loopback sockets, one runtime worker — echo
 * between tasks (IPv4 and IPv6, empty and largest datagrams), connected sockets (send, recv,
 * peek, peek_sender, -ECONNREFUSED through a suspended receive), truncation reported through
 * the async calls (-EMSGSIZE consumed or left queued, CIO_UDP_MSG_TRUNC in messages and
 * batches), the datagram readiness rule (a receive that returns one datagram does not clear
 * read readiness: the next one is taken with no wait), waking a waiter on close, -EBUSY for a
 * second receiver, the message and batch calls, the poll_* forms, try_io/async_io, and
 * argument errors.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "cio/udp.h"
#include "test_tcp_async_helpers.h"

static cio_udp_socket *bind_local(const char *text, cio_addr *ret_addr)
{
    cio_addr addr;
    CHECK_RC(cio_addr_parse(&addr, text));
    cio_udp_socket *u;
    int rc = cio_udp_socket_bind(&u, &addr);
    if (rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT)
        return NULL; /* no such loopback here (IPv6 off) */
    CHECK_RC(rc);
    CHECK_FD_FLAGS(cio_udp_socket_fd(u));
    CHECK_RC(cio_udp_socket_local_addr(u, ret_addr));
    CHECK(cio_addr_port(ret_addr) > 0);
    return u;
}

/* ---- echo ---- */

struct echo {
    cio_udp_socket *u;
    int count;
};

static void *echo_task(void *arg)
{
    struct echo *e = arg;
    static unsigned char buf[CIO_UDP_PAYLOAD_MAX];
    for (int i = 0; i < e->count; i++) {
        cio_addr from;
        ssize_t n = CHECK_RC(cio_udp_socket_recv_from(e->u, buf, sizeof(buf), &from));
        CHECK_EQ(cio_udp_socket_send_to(e->u, buf, (size_t)n, &from), n);
    }
    return NULL;
}

static void echo_family(const char *any)
{
    cio_addr saddr, caddr;
    cio_udp_socket *s = bind_local(any, &saddr);
    if (s == NULL)
        return;
    cio_udp_socket *c = bind_local(any, &caddr);
    CHECK(c != NULL);
    static const size_t sizes[] = {0, 1, 100, 1472, 9000, CIO_UDP_PAYLOAD_MAX - 40};
    enum { N = sizeof(sizes) / sizeof(sizes[0]) };
    struct echo e = {s, N};
    cio_task *t;
    CHECK_RC(cio_spawn(&t, echo_task, &e));
    static unsigned char out[CIO_UDP_PAYLOAD_MAX], in[CIO_UDP_PAYLOAD_MAX];
    for (size_t k = 0; k < N; k++) {
        pattern_fill(out, sizes[k], k, 3);
        CHECK_EQ(cio_udp_socket_send_to(c, out, sizes[k], &saddr), sizes[k]);
        cio_addr from;
        CHECK_EQ(cio_udp_socket_recv_from(c, in, sizeof(in), &from), sizes[k]);
        CHECK(cio_addr_equal(&from, &saddr));
        CHECK(memcmp(in, out, sizes[k]) == 0);
    }
    CHECK_RC(cio_task_join(t, NULL));
    cio_udp_socket_close(c);
    cio_udp_socket_close(s);
}

static void *main_echo(void *arg)
{
    (void)arg;
    echo_family("127.0.0.1:0");
    echo_family("[::1]:0");
    return NULL;
}

static void test_echo_between_tasks(void)
{
    run(main_echo, NULL);
}

/* ---- connected sockets ---- */

static void *main_connected(void *arg)
{
    (void)arg;
    cio_addr aaddr, baddr;
    cio_udp_socket *a = bind_local("127.0.0.1:0", &aaddr);
    cio_udp_socket *b = bind_local("127.0.0.1:0", &baddr);
    CHECK_RC(cio_udp_socket_connect(a, &baddr));
    CHECK_RC(cio_udp_socket_connect(b, &aaddr));
    CHECK_EQ(cio_udp_socket_send(a, "hello", 5), 5);
    cio_addr from;
    CHECK_EQ(cio_udp_socket_peek_sender(b, &from), 5);
    CHECK(cio_addr_equal(&from, &aaddr));
    char buf[16];
    CHECK_EQ(cio_udp_socket_peek(b, buf, sizeof(buf)), 5);
    CHECK_EQ(cio_udp_socket_peek_from(b, buf, sizeof(buf), &from), 5);
    CHECK_EQ(cio_udp_socket_recv(b, buf, sizeof(buf)), 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    /* The peer goes away: the next datagram draws an ICMP port unreachable, which a
     * receive waiting on the connected socket reports. */
    cio_udp_socket_close(b);
    CHECK_EQ(cio_udp_socket_send(a, "x", 1), 1);
    cio_time saved = cio_deadline_set(cio_now() + 2 * CIO_NSEC_PER_SEC);
    CHECK_ERR(cio_udp_socket_recv(a, buf, sizeof(buf)), -ECONNREFUSED);
    cio_deadline_restore(saved);
    /* Not connected: send needs an address. */
    cio_addr uaddr;
    cio_udp_socket *u = bind_local("127.0.0.1:0", &uaddr);
    CHECK_ERR(cio_udp_socket_send(u, "x", 1), -EDESTADDRREQ);
    cio_udp_socket_close(u);
    cio_udp_socket_close(a);
    return NULL;
}

static void test_connected_and_refused(void)
{
    run(main_connected, NULL);
}

/* ---- truncation ---- */

struct small_recv {
    cio_udp_socket *u;
    ssize_t rc;
};

static void *small_recv_task(void *arg)
{
    struct small_recv *w = arg;
    char buf[10];
    w->rc = cio_udp_socket_recv(w->u, buf, sizeof(buf));
    return NULL;
}

static void *main_truncation(void *arg)
{
    (void)arg;
    cio_addr aaddr, baddr;
    cio_udp_socket *a = bind_local("127.0.0.1:0", &aaddr);
    cio_udp_socket *b = bind_local("127.0.0.1:0", &baddr);
    unsigned char big[3000], buf[100];
    pattern_fill(big, sizeof(big), 0, 4);
    /* A receive waiting when the too-long datagram comes: -EMSGSIZE, and it is gone. */
    struct small_recv w = {b, 0};
    cio_task *t;
    CHECK_RC(cio_spawn(&t, small_recv_task, &w));
    CHECK_RC(cio_sleep(5 * CIO_NSEC_PER_MSEC));
    CHECK(!cio_task_is_finished(t));
    CHECK_EQ(cio_udp_socket_send_to(a, big, sizeof(big), &baddr), sizeof(big));
    CHECK_RC(cio_task_join(t, NULL));
    CHECK_EQ(w.rc, -EMSGSIZE);
    /* Peeked: reported and left queued; received: reported and taken. */
    CHECK_EQ(cio_udp_socket_send_to(a, big, sizeof(big), &baddr), sizeof(big));
    CHECK_ERR(cio_udp_socket_peek(b, buf, sizeof(buf)), -EMSGSIZE); /* left queued */
    CHECK_EQ(cio_udp_socket_peek_sender(b, NULL), sizeof(big));
    cio_addr from;
    memset(&from, 0, sizeof(from));
    CHECK_ERR(cio_udp_socket_recv_from(b, buf, sizeof(buf), &from), -EMSGSIZE); /* taken */
    CHECK_EQ(cio_addr_get_kind(&from), CIO_ADDR_NONE); /* written only on success */
    CHECK_EQ(pattern_check(buf, sizeof(buf), 0, 4), sizeof(buf));
    cio_time saved = cio_deadline_set(cio_now() + 10 * CIO_NSEC_PER_MSEC);
    CHECK_ERR(cio_udp_socket_recv(b, buf, sizeof(buf)), -ETIMEDOUT);
    cio_deadline_restore(saved);
    /* The message calls report it in the message. */
    CHECK_EQ(cio_udp_socket_send_to(a, big, sizeof(big), &baddr), sizeof(big));
    struct iovec iov = {buf, sizeof(buf)};
    cio_udp_msg m = {.iov = &iov, .iovcnt = 1};
    CHECK_EQ(cio_udp_socket_recv_msg(b, &m), sizeof(buf));
    CHECK(m.flags & CIO_UDP_MSG_TRUNC);
    CHECK_EQ(m.datagram_len, sizeof(big));
    CHECK(cio_addr_equal(&m.addr, &aaddr));
    /* And in a batch. */
    CHECK_EQ(cio_udp_socket_send_to(a, big, 50, &baddr), 50);
    CHECK_EQ(cio_udp_socket_send_to(a, big, sizeof(big), &baddr), sizeof(big));
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
    cio_udp_socket_close(a);
    cio_udp_socket_close(b);
    return NULL;
}

static void test_truncation_reported(void)
{
    run(main_truncation, NULL);
}

/* ---- readiness: datagram receives never count as "drained" ---- */

static void *main_readiness(void *arg)
{
    (void)arg;
    cio_addr aaddr, baddr;
    cio_udp_socket *a = bind_local("127.0.0.1:0", &aaddr);
    cio_udp_socket *b = bind_local("127.0.0.1:0", &baddr);
    CHECK(CHECK_RC(cio_udp_socket_writable(a)) & CIO_READY_WRITABLE);
    cio_time start = cio_now();
    cio_time saved = cio_deadline_set(start + 30 * CIO_NSEC_PER_MSEC);
    CHECK_ERR(cio_udp_socket_readable(b), -ETIMEDOUT);
    cio_deadline_restore(saved);
    CHECK(cio_now() - start >= 25 * CIO_NSEC_PER_MSEC);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(cio_udp_socket_send_to(a, "abc", 3, &baddr), 3);
    CHECK(CHECK_RC(cio_udp_socket_readable(b)) & CIO_READY_READABLE);
    /* Each receive returns fewer bytes than asked; with a deadline already past, the next
     * ones must still be taken at once — no wait, no edge needed. */
    for (int i = 0; i < 3; i++) {
        char buf[64];
        saved = cio_deadline_set(cio_now() - 1);
        ssize_t n = cio_udp_socket_recv(b, buf, sizeof(buf));
        cio_deadline_restore(saved);
        CHECK_EQ(n, 3);
    }
    /* Now empty: the next receive waits, and the past deadline stops it. */
    char buf[64];
    saved = cio_deadline_set(cio_now() - 1);
    CHECK_ERR(cio_udp_socket_recv(b, buf, sizeof(buf)), -ETIMEDOUT);
    cio_deadline_restore(saved);
    int r = CHECK_RC(cio_udp_socket_ready(b, CIO_READABLE | CIO_WRITABLE));
    CHECK(r & CIO_READY_WRITABLE);
    CHECK(!(r & CIO_READY_READABLE)); /* cleared by the receive that found none */
    cio_udp_socket_clear_ready(b, r & CIO_READY_READABLE);
    cio_udp_socket_clear_ready(NULL, r);
    CHECK_ERR(cio_udp_socket_ready(b, 0), -EINVAL);
    cio_udp_socket_close(a);
    cio_udp_socket_close(b);
    return NULL;
}

static void test_datagram_readiness_rule(void)
{
    run(main_readiness, NULL);
}

/* ---- close wakes, second receiver refused ---- */

struct waiter {
    cio_udp_socket *u;
    ssize_t rc;
    char buf[16];
};

static void *blocked_recv(void *arg)
{
    struct waiter *w = arg;
    w->rc = cio_udp_socket_recv(w->u, w->buf, sizeof(w->buf));
    return NULL;
}

static void *main_close_busy(void *arg)
{
    (void)arg;
    cio_addr aaddr, baddr;
    cio_udp_socket *a = bind_local("127.0.0.1:0", &aaddr);
    cio_udp_socket *b = bind_local("127.0.0.1:0", &baddr);
    struct waiter w1 = {.u = b}, w2 = {.u = b};
    cio_task *t1, *t2;
    CHECK_RC(cio_spawn(&t1, blocked_recv, &w1));
    CHECK_RC(cio_sleep(5 * CIO_NSEC_PER_MSEC));
    CHECK(!cio_task_is_finished(t1));
    CHECK_RC(cio_spawn(&t2, blocked_recv, &w2));
    CHECK_RC(cio_task_join(t2, NULL));
    CHECK_EQ(w2.rc, -EBUSY);
    cio_udp_msg m = {0};
    CHECK_ERR(cio_udp_socket_recv_msg(b, &m), -EBUSY);
    CHECK_ERR(cio_udp_socket_peek_sender(b, NULL), -EBUSY);
    /* The sending direction is free. */
    CHECK_EQ(cio_udp_socket_send_to(b, "s", 1, &aaddr), 1);
    char buf[4];
    CHECK_EQ(cio_udp_socket_recv(a, buf, sizeof(buf)), 1);
    /* The first receiver gets its datagram. */
    CHECK_EQ(cio_udp_socket_send_to(a, "ping", 4, &baddr), 4);
    CHECK_RC(cio_task_join(t1, NULL));
    CHECK_EQ(w1.rc, 4);
    CHECK(memcmp(w1.buf, "ping", 4) == 0);
    /* Closed under a waiting receiver: -EBADF promptly. */
    struct waiter w3 = {.u = b};
    CHECK_RC(cio_spawn(&t1, blocked_recv, &w3));
    CHECK_RC(cio_sleep(5 * CIO_NSEC_PER_MSEC));
    cio_time start = cio_now();
    cio_udp_socket_close(b);
    CHECK_RC(cio_task_join(t1, NULL));
    CHECK_EQ(w3.rc, -EBADF);
    CHECK(cio_now() - start < 500 * CIO_NSEC_PER_MSEC);
    cio_udp_socket_close(a);
    return NULL;
}

static void test_close_wakes_and_second_receiver_busy(void)
{
    run(main_close_busy, NULL);
}

/* ---- messages and batches ---- */

static void *main_msgs(void *arg)
{
    (void)arg;
    cio_addr aaddr, baddr;
    cio_udp_socket *a = bind_local("127.0.0.1:0", &aaddr);
    cio_udp_socket *b = bind_local("127.0.0.1:0", &baddr);
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
    cio_time saved = cio_deadline_set(cio_now() + 10 * CIO_NSEC_PER_MSEC);
    CHECK_ERR(cio_udp_socket_recv_batch(b, rms, COUNT), -ETIMEDOUT);
    cio_deadline_restore(saved);
    CHECK_EQ(cio_udp_socket_recv_batch(b, rms, 0), 0);
    CHECK_EQ(cio_udp_socket_send_batch(a, NULL, 0), 0);
    CHECK_ERR(cio_udp_socket_recv_batch(b, NULL, 1), -EINVAL);
    CHECK_ERR(cio_udp_socket_send_msg(a, NULL), -EINVAL);
    CHECK_ERR(cio_udp_socket_recv_msg(b, NULL), -EINVAL);
    cio_udp_socket_close(a);
    cio_udp_socket_close(b);
    return NULL;
}

static void test_messages_and_batches(void)
{
    run(main_msgs, NULL);
}

/* ---- poll forms, try_io / async_io ---- */

static void count_wake(void *ctx)
{
    atomic_fetch_add((atomic_int *)ctx, 1);
}

static ssize_t raw_recv(void *ctx)
{
    cio_udp_socket *u = ctx;
    char b[64];
    ssize_t n = recv(cio_udp_socket_fd(u), b, sizeof(b), MSG_DONTWAIT);
    return n < 0 ? -errno : n;
}

static void *main_poll(void *arg)
{
    (void)arg;
    cio_addr aaddr, baddr;
    cio_udp_socket *a = bind_local("127.0.0.1:0", &aaddr);
    cio_udp_socket *b = bind_local("127.0.0.1:0", &baddr);
    atomic_int woken = 0;
    char buf[16];
    cio_addr from;
    CHECK_ERR(cio_udp_socket_poll_recv_from(b, buf, sizeof(buf), &from, count_wake, &woken),
              -EAGAIN);
    CHECK_ERR(cio_udp_socket_poll_recv_ready(b, count_wake, &woken), -EAGAIN);
    CHECK_EQ(cio_udp_socket_poll_send_to(a, "ab", 2, &baddr, NULL, NULL), 2);
    for (int i = 0; i < 100 && atomic_load(&woken) == 0; i++)
        CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
    CHECK_EQ(atomic_load(&woken), 1);
    CHECK(CHECK_RC(cio_udp_socket_poll_recv_ready(b, NULL, NULL)) & CIO_READY_READABLE);
    CHECK_EQ(cio_udp_socket_poll_recv_from(b, buf, sizeof(buf), &from, NULL, NULL), 2);
    CHECK(cio_addr_equal(&from, &aaddr));
    CHECK_RC(cio_udp_socket_writable(a));
    CHECK(CHECK_RC(cio_udp_socket_poll_send_ready(a, NULL, NULL)) & CIO_READY_WRITABLE);
    /* try_io / async_io with our own recv. */
    CHECK_EQ(cio_udp_socket_send_to(a, "xyz", 3, &baddr), 3);
    CHECK_EQ(cio_udp_socket_async_io(b, CIO_READABLE, raw_recv, b), 3);
    CHECK_ERR(cio_udp_socket_try_io(b, CIO_READABLE, raw_recv, b), -EAGAIN);
    cio_time saved = cio_deadline_set(cio_now() + 10 * CIO_NSEC_PER_MSEC);
    CHECK_ERR(cio_udp_socket_readable(b), -ETIMEDOUT);
    CHECK_ERR(cio_udp_socket_async_io(b, CIO_READABLE, raw_recv, b), -ETIMEDOUT);
    cio_deadline_restore(saved);
    CHECK_ERR(cio_udp_socket_try_io(b, 0, raw_recv, b), -EINVAL);
    /* Closing calls an armed callback. */
    atomic_store(&woken, 0);
    CHECK_ERR(cio_udp_socket_poll_recv_ready(b, count_wake, &woken), -EAGAIN);
    cio_udp_socket_close(b);
    CHECK_EQ(atomic_load(&woken), 1);
    cio_udp_socket_close(a);
    return NULL;
}

static void test_poll_forms_and_try_io(void)
{
    run(main_poll, NULL);
}

/* ---- argument errors, outside a task ---- */

static void test_errors(void)
{
    cio_addr addr;
    cio_udp_socket *u = bind_local("127.0.0.1:0", &addr);
    char buf[4];
    CHECK_ERR(cio_udp_socket_recv(u, buf, sizeof(buf)), -EPERM);
    CHECK_ERR(cio_udp_socket_send_to(u, "x", 1, &addr), -EPERM);
    CHECK_ERR(cio_udp_socket_readable(u), -EPERM);
    CHECK_ERR(cio_udp_socket_recv(NULL, buf, sizeof(buf)), -EINVAL);
    CHECK_ERR(cio_udp_socket_recv(u, NULL, 1), -EINVAL);
    CHECK_ERR(cio_udp_socket_send_to(u, "x", 1, NULL), -EINVAL);
    cio_addr unix_addr;
    CHECK_RC(cio_addr_unix(&unix_addr, "/nonexistent", 12));
    CHECK_ERR(cio_udp_socket_send_to(u, "x", 1, &unix_addr), -EAFNOSUPPORT);
    CHECK_ERR(cio_udp_socket_poll_send_to(u, "x", 1, &unix_addr, NULL, NULL), -EAFNOSUPPORT);
    /* try_io works outside a task. */
    CHECK_ERR(cio_udp_socket_try_io(u, CIO_READABLE, raw_recv, u), -EAGAIN);
    cio_udp_socket_close(u);
}

CIO_TEST_MAIN(TEST(test_echo_between_tasks), TEST(test_connected_and_refused),
              TEST(test_truncation_reported), TEST(test_datagram_readiness_rule),
              TEST(test_close_wakes_and_second_receiver_busy), TEST(test_messages_and_batches),
              TEST(test_poll_forms_and_try_io), TEST(test_errors))
