/*
 * test_dgram_async.c: the async operations both kinds of datagram socket have, each case run
 * for UDP (loopback) and for Unix datagrams, one runtime worker — echo between tasks (IPv4 and
 * IPv6; a path and an abstract name; empty and large datagrams, senders reported), truncation
 * reported through the async calls (-EMSGSIZE: taken by a receive, left by a peek), the
 * datagram readiness rule (a receive that returns one datagram does not clear read readiness:
 * the next one is taken with no wait), waking waiters on close, several receivers waiting at
 * once (each datagram to one of them), a readiness waiter woken beside a receiver, the poll_*
 * forms and try_io/async_io. What one kind alone has is in test_udp_async.c and
 * test_unix_async_dgram.c.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "stream_kinds.h"

/* ---- echo ---- */

struct echo {
    cio_dgram *d;
    int count;
};

static void *echo_task(void *arg)
{
    struct echo *e = arg;
    static unsigned char buf[CIO_UDP_PAYLOAD_MAX];
    for (int i = 0; i < e->count; i++) {
        cio_addr from;
        ssize_t n = CHECK_RC(cio_dgram_recv_from(e->d, buf, sizeof(buf), &from));
        CHECK_EQ(cio_dgram_send_to(e->d, buf, (size_t)n, &from), n);
    }
    return NULL;
}

/* Echo datagrams of every size up to the kind's largest between two sockets of one naming. */
static void echo_between(const struct dgram_kind *k, bool second)
{
    cio_addr saddr, caddr;
    cio_dgram *s = k->bind_local(second, &saddr);
    if (s == NULL)
        return;
    cio_dgram *c = k->bind_local(second, &caddr);
    CHECK(c != NULL);
    static const size_t all[] = {0, 1, 100, 1472, 8192, 9000, CIO_UDP_PAYLOAD_MAX - 40};
    size_t sizes[sizeof(all) / sizeof(all[0])];
    int count = 0;
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (all[i] <= k->max_echo)
            sizes[count++] = all[i];
    struct echo e = {s, count};
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, echo_task, &e));
    CHECK_RC(cio_yield()); /* the server waits first */
    static unsigned char out[CIO_UDP_PAYLOAD_MAX], in[CIO_UDP_PAYLOAD_MAX];
    for (int i = 0; i < count; i++) {
        pattern_fill(out, sizes[i], (uint64_t)i, 3);
        CHECK_EQ(cio_dgram_send_to(c, out, sizes[i], &saddr), sizes[i]);
        cio_addr from;
        CHECK_EQ(cio_dgram_recv_from(c, in, sizeof(in), &from), sizes[i]);
        CHECK(cio_addr_equal(&from, &saddr));
        CHECK(memcmp(in, out, sizes[i]) == 0);
    }
    CHECK_RC(cio_task_join(t, NULL, NULL));
    cio_socket_close(c);
    cio_socket_close(s);
}

static void *main_echo_between_tasks(void *arg)
{
    const struct dgram_kind *k = arg;
    echo_between(k, false);
    echo_between(k, true);
    return NULL;
}

DGRAM_CASE(echo_between_tasks)

/* ---- peek and truncation ---- */

static void *main_peek_and_truncation(void *arg)
{
    const struct dgram_kind *k = arg;
    cio_addr aaddr, baddr;
    cio_dgram *a = k->bind_local(false, &aaddr);
    cio_dgram *b = k->bind_local(false, &baddr);
    unsigned char big[3000], buf[100];
    pattern_fill(big, sizeof(big), 0, 4);
    /* A receive waiting when a too-long datagram comes: -EMSGSIZE, and it is gone. */
    struct waiter w = {.sock = cio_as_socket(b), .call = waiter_dgram_recv};
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, waiter_task, &w));
    CHECK_RC(cio_sleep(5 * CIO_NSEC_PER_MSEC));
    CHECK(!cio_task_is_finished(t));
    CHECK_EQ(cio_dgram_send_to(a, big, sizeof(big), &baddr), sizeof(big));
    CHECK_RC(cio_task_join(t, NULL, NULL));
    CHECK_EQ(w.rc, -EMSGSIZE);
    /* Peeks leave it (truncated or not); receives take it. */
    CHECK_EQ(cio_dgram_send_to(a, big, sizeof(big), &baddr), sizeof(big));
    cio_addr from;
    CHECK_EQ(cio_dgram_peek_sender(b, &from), sizeof(big));
    CHECK(cio_addr_equal(&from, &aaddr));
    CHECK_EQ(cio_dgram_peek_sender(b, NULL), sizeof(big));
    CHECK_ERR(cio_dgram_peek(b, buf, sizeof(buf)), -EMSGSIZE);
    CHECK_ERR(cio_dgram_peek_from(b, buf, sizeof(buf), &from), -EMSGSIZE);
    CHECK_EQ(pattern_check(buf, sizeof(buf), 0, 4), sizeof(buf));
    unsigned char whole[3000];
    CHECK_EQ(cio_dgram_peek(b, whole, sizeof(whole)), sizeof(big));
    memset(&from, 0, sizeof(from));
    memset(buf, 0, sizeof(buf));
    CHECK_ERR(cio_dgram_recv_from(b, buf, sizeof(buf), &from), -EMSGSIZE); /* taken */
    CHECK_EQ(cio_addr_get_kind(&from), CIO_ADDR_NONE); /* written only on success */
    CHECK_EQ(pattern_check(buf, sizeof(buf), 0, 4), sizeof(buf));
    CHECK_ERR(CIO_TIMEOUT(10 * CIO_NSEC_PER_MSEC, cio_dgram_recv(b, buf, sizeof(buf))), -ETIMEDOUT);
    /* An empty datagram is one. */
    CHECK_EQ(cio_dgram_send_to(a, NULL, 0, &baddr), 0);
    CHECK_EQ(cio_dgram_recv(b, buf, sizeof(buf)), 0);
    cio_socket_close(a);
    cio_socket_close(b);
    return NULL;
}

DGRAM_CASE(peek_and_truncation)

/* ---- readiness: datagram receives never count as "drained" ---- */

static void *main_datagram_readiness_rule(void *arg)
{
    const struct dgram_kind *k = arg;
    cio_addr aaddr, baddr;
    cio_dgram *a = k->bind_local(false, &aaddr);
    cio_dgram *b = k->bind_local(false, &baddr);
    CHECK(CHECK_RC(cio_socket_writable(a)) & CIO_READY_WRITABLE);
    cio_time start = cio_now();
    {
        CIO_DEADLINE_SCOPE(start + 30 * CIO_NSEC_PER_MSEC);
        CHECK_ERR(cio_socket_readable(b), -ETIMEDOUT);
    }
    CHECK(cio_now() - start >= 25 * CIO_NSEC_PER_MSEC);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(cio_dgram_send_to(a, "abc", 3, &baddr), 3);
    CHECK(CHECK_RC(cio_socket_readable(b)) & CIO_READY_READABLE);
    /* Each receive returns fewer bytes than asked; with a deadline already past, the next
     * ones must still be taken at once — no wait, no edge needed. */
    for (int i = 0; i < 3; i++) {
        char buf[64];
        CHECK_EQ(CIO_TIMEOUT(0, cio_dgram_recv(b, buf, sizeof(buf))), 3);
    }
    /* Now empty: the next receive waits, and the past deadline stops it. */
    char buf[64];
    {
        CIO_DEADLINE_SCOPE(cio_now() - 1);
        CHECK_ERR(cio_dgram_recv(b, buf, sizeof(buf)), -ETIMEDOUT);
    }
    int r = CHECK_RC(cio_socket_ready(b, CIO_READABLE | CIO_WRITABLE));
    CHECK(r & CIO_READY_WRITABLE);
    CHECK(!(r & CIO_READY_READABLE)); /* cleared by the receive that found none */
    cio_socket_clear_ready(b, r & CIO_READY_READABLE);
    (cio_socket_clear_ready)(NULL, r);
    CHECK_ERR(cio_socket_ready(b, 0), -EINVAL);
    cio_socket_close(a);
    cio_socket_close(b);
    return NULL;
}

DGRAM_CASE(datagram_readiness_rule)

/* ---- close wakes, several receivers ---- */

/* Any number of tasks may wait to receive on one socket: a datagram wakes them all, one of
 * them takes it, and the others wait on for the next. Closing wakes every waiter. */
static void *main_close_wakes_and_several_receivers(void *arg)
{
    const struct dgram_kind *k = arg;
    cio_addr aaddr, baddr;
    cio_dgram *a = k->bind_local(false, &aaddr);
    cio_dgram *b = k->bind_local(false, &baddr);
    struct waiter w1 = {.sock = cio_as_socket(b), .call = waiter_dgram_recv};
    struct waiter w2 = {.sock = cio_as_socket(b), .call = waiter_dgram_recv};
    struct waiter *w[2] = {&w1, &w2};
    cio_join_handle *t[2];
    CHECK_RC(cio_spawn(&t[0], waiter_task, &w1));
    CHECK_RC(cio_spawn(&t[1], waiter_task, &w2));
    check_waiting(t, 2); /* both wait: neither is refused */
    /* The sending direction is free. */
    CHECK_EQ(cio_dgram_send_to(b, "s", 1, &aaddr), 1);
    char buf[4];
    CHECK_EQ(cio_dgram_recv(a, buf, sizeof(buf)), 1);
    struct dgram_dest to_b = {a, &baddr};
    check_take_turns(t, w, send_dgram_to, &to_b);
    /* Closed under two waiting receivers: -EBADF for both, promptly. */
    struct waiter w3 = {.sock = cio_as_socket(b), .call = waiter_dgram_recv};
    struct waiter w4 = {.sock = cio_as_socket(b), .call = waiter_dgram_recv};
    struct waiter *wc[2] = {&w3, &w4};
    CHECK_RC(cio_spawn(&t[0], waiter_task, &w3));
    CHECK_RC(cio_spawn(&t[1], waiter_task, &w4));
    CHECK_RC(cio_sleep(5 * CIO_NSEC_PER_MSEC));
    check_close_wakes(cio_as_socket(b), t, wc, 2);
    cio_socket_close(a);
    return NULL;
}

DGRAM_CASE(close_wakes_and_several_receivers)

/* A task in readable() beside a receiver: see check_readable_beside_reader(). */
static void *main_readable_beside_receiver(void *arg)
{
    const struct dgram_kind *k = arg;
    cio_addr aaddr, baddr;
    cio_dgram *a = k->bind_local(false, &aaddr);
    cio_dgram *b = k->bind_local(false, &baddr);
    struct dgram_dest to_b = {a, &baddr};
    check_readable_beside_reader(cio_as_socket(b), waiter_dgram_recv, send_dgram_to, &to_b);
    cio_socket_close(a);
    cio_socket_close(b);
    return NULL;
}

DGRAM_CASE(readable_beside_receiver)

/* ---- poll forms, try_io / async_io ---- */

static void *main_poll_forms_and_try_io(void *arg)
{
    const struct dgram_kind *k = arg;
    cio_addr saddr, caddr;
    cio_dgram *s = k->bind_local(false, &saddr);
    cio_dgram *c = k->bind_local(false, &caddr);
    atomic_int woken = 0;
    char buf[16];
    cio_addr from;
    CHECK_ERR(cio_dgram_poll_recv_from(s, buf, sizeof(buf), &from, count_wake, &woken), -EAGAIN);
    CHECK_ERR(cio_socket_poll_ready(s, CIO_READABLE, count_wake, &woken), -EAGAIN);
    CHECK_EQ(cio_dgram_poll_send_to(c, "ab", 2, &saddr, NULL, NULL), 2);
    for (int i = 0; i < 100 && atomic_load(&woken) == 0; i++)
        CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
    CHECK_EQ(atomic_load(&woken), 1);
    CHECK(CHECK_RC(cio_socket_poll_ready(s, CIO_READABLE, NULL, NULL)) & CIO_READY_READABLE);
    CHECK_EQ(cio_dgram_poll_recv_from(s, buf, sizeof(buf), &from, NULL, NULL), 2);
    CHECK(cio_addr_equal(&from, &caddr));
    CHECK_RC(cio_socket_writable(c));
    CHECK(CHECK_RC(cio_socket_poll_ready(c, CIO_WRITABLE, NULL, NULL)) & CIO_READY_WRITABLE);
    /* try_io / async_io with our own recv. */
    CHECK_EQ(cio_dgram_send_to(c, "xyz", 3, &saddr), 3);
    CHECK_EQ(cio_socket_async_io(s, CIO_READABLE, raw_recv, s), 3);
    CHECK_ERR(cio_socket_try_io(s, CIO_READABLE, raw_recv, s), -EAGAIN);
    if (cio_test_on_uring()) {
        /* The edge of "xyz", read by async_io before the reactor told it, may come now. */
        CIO_TIMEOUT_SCOPE(10 * CIO_NSEC_PER_MSEC);
        if (cio_socket_readable(s) >= 0)
            CHECK_ERR(cio_socket_try_io(s, CIO_READABLE, raw_recv, s), -EAGAIN);
    }
    {
        CIO_TIMEOUT_SCOPE(10 * CIO_NSEC_PER_MSEC);
        CHECK_ERR(cio_socket_readable(s), -ETIMEDOUT);
        CHECK_ERR(cio_socket_async_io(s, CIO_READABLE, raw_recv, s), -ETIMEDOUT);
    }
    CHECK_ERR(cio_socket_try_io(s, 0, raw_recv, s), -EINVAL);
    /* Closing calls an armed callback. */
    atomic_store(&woken, 0);
    CHECK_ERR(cio_socket_poll_ready(s, CIO_READABLE, count_wake, &woken), -EAGAIN);
    cio_socket_close(s);
    CHECK_EQ(atomic_load(&woken), 1);
    cio_socket_close(c);
    return NULL;
}

DGRAM_CASE(poll_forms_and_try_io)

CIO_TEST_MAIN(DGRAM_TESTS(echo_between_tasks), DGRAM_TESTS(peek_and_truncation),
              DGRAM_TESTS(datagram_readiness_rule), DGRAM_TESTS(close_wakes_and_several_receivers),
              DGRAM_TESTS(readable_beside_receiver), DGRAM_TESTS(poll_forms_and_try_io))
