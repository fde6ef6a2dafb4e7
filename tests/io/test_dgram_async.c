/*
 * test_dgram_async.c: the async operations both kinds of datagram socket have, each case run
 * for UDP (loopback) and for Unix datagrams, one runtime worker — echo between tasks (IPv4 and
 * IPv6; a path and an abstract name; empty and large datagrams, senders reported), truncation
 * reported through the async calls (-EMSGSIZE: taken by a receive, left by a peek), the
 * datagram readiness rule (a receive that returns one datagram does not clear read readiness:
 * the next one is taken with no wait), waking a waiter on close, -EBUSY for a second receiver,
 * the poll_* forms and try_io/async_io. What one kind alone has is in test_udp_async.c and
 * test_unix_async_dgram.c.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "stream_kinds.h"

/* ---- echo ---- */

struct echo {
    const struct dgram_kind *k;
    kind_dgram *d;
    int count;
};

static void *echo_task(void *arg)
{
    struct echo *e = arg;
    static unsigned char buf[CIO_UDP_PAYLOAD_MAX];
    for (int i = 0; i < e->count; i++) {
        cio_addr from;
        ssize_t n = CHECK_RC(e->k->recv_from(e->d, buf, sizeof(buf), &from));
        CHECK_EQ(e->k->send_to(e->d, buf, (size_t)n, &from), n);
    }
    return NULL;
}

/* Echo datagrams of every size up to the kind's largest between two sockets of one naming. */
static void echo_between(const struct dgram_kind *k, bool second)
{
    cio_addr saddr, caddr;
    kind_dgram *s = k->bind_local(second, &saddr);
    if (s == NULL)
        return;
    kind_dgram *c = k->bind_local(second, &caddr);
    CHECK(c != NULL);
    static const size_t all[] = {0, 1, 100, 1472, 8192, 9000, CIO_UDP_PAYLOAD_MAX - 40};
    size_t sizes[sizeof(all) / sizeof(all[0])];
    int count = 0;
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (all[i] <= k->max_echo)
            sizes[count++] = all[i];
    struct echo e = {k, s, count};
    cio_task *t;
    CHECK_RC(cio_spawn(&t, echo_task, &e));
    CHECK_RC(cio_yield()); /* the server waits first */
    static unsigned char out[CIO_UDP_PAYLOAD_MAX], in[CIO_UDP_PAYLOAD_MAX];
    for (int i = 0; i < count; i++) {
        pattern_fill(out, sizes[i], (uint64_t)i, 3);
        CHECK_EQ(k->send_to(c, out, sizes[i], &saddr), sizes[i]);
        cio_addr from;
        CHECK_EQ(k->recv_from(c, in, sizeof(in), &from), sizes[i]);
        CHECK(cio_addr_equal(&from, &saddr));
        CHECK(memcmp(in, out, sizes[i]) == 0);
    }
    CHECK_RC(cio_task_join(t, NULL));
    k->close(c);
    k->close(s);
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

struct small_recv {
    const struct dgram_kind *k;
    kind_dgram *d;
    ssize_t rc;
};

static void *small_recv_task(void *arg)
{
    struct small_recv *w = arg;
    char buf[10];
    w->rc = w->k->recv(w->d, buf, sizeof(buf));
    return NULL;
}

static void *main_peek_and_truncation(void *arg)
{
    const struct dgram_kind *k = arg;
    cio_addr aaddr, baddr;
    kind_dgram *a = k->bind_local(false, &aaddr);
    kind_dgram *b = k->bind_local(false, &baddr);
    unsigned char big[3000], buf[100];
    pattern_fill(big, sizeof(big), 0, 4);
    /* A receive waiting when a too-long datagram comes: -EMSGSIZE, and it is gone. */
    struct small_recv w = {k, b, 0};
    cio_task *t;
    CHECK_RC(cio_spawn(&t, small_recv_task, &w));
    CHECK_RC(cio_sleep(5 * CIO_NSEC_PER_MSEC));
    CHECK(!cio_task_is_finished(t));
    CHECK_EQ(k->send_to(a, big, sizeof(big), &baddr), sizeof(big));
    CHECK_RC(cio_task_join(t, NULL));
    CHECK_EQ(w.rc, -EMSGSIZE);
    /* Peeks leave it (truncated or not); receives take it. */
    CHECK_EQ(k->send_to(a, big, sizeof(big), &baddr), sizeof(big));
    cio_addr from;
    CHECK_EQ(k->peek_sender(b, &from), sizeof(big));
    CHECK(cio_addr_equal(&from, &aaddr));
    CHECK_EQ(k->peek_sender(b, NULL), sizeof(big));
    CHECK_ERR(k->peek(b, buf, sizeof(buf)), -EMSGSIZE);
    CHECK_ERR(k->peek_from(b, buf, sizeof(buf), &from), -EMSGSIZE);
    CHECK_EQ(pattern_check(buf, sizeof(buf), 0, 4), sizeof(buf));
    unsigned char whole[3000];
    CHECK_EQ(k->peek(b, whole, sizeof(whole)), sizeof(big));
    memset(&from, 0, sizeof(from));
    memset(buf, 0, sizeof(buf));
    CHECK_ERR(k->recv_from(b, buf, sizeof(buf), &from), -EMSGSIZE); /* taken */
    CHECK_EQ(cio_addr_get_kind(&from), CIO_ADDR_NONE);              /* written only on success */
    CHECK_EQ(pattern_check(buf, sizeof(buf), 0, 4), sizeof(buf));
    cio_time saved = cio_deadline_set(cio_now() + 10 * CIO_NSEC_PER_MSEC);
    CHECK_ERR(k->recv(b, buf, sizeof(buf)), -ETIMEDOUT);
    cio_deadline_restore(saved);
    /* An empty datagram is one. */
    CHECK_EQ(k->send_to(a, NULL, 0, &baddr), 0);
    CHECK_EQ(k->recv(b, buf, sizeof(buf)), 0);
    k->close(a);
    k->close(b);
    return NULL;
}

DGRAM_CASE(peek_and_truncation)

/* ---- readiness: datagram receives never count as "drained" ---- */

static void *main_datagram_readiness_rule(void *arg)
{
    const struct dgram_kind *k = arg;
    cio_addr aaddr, baddr;
    kind_dgram *a = k->bind_local(false, &aaddr);
    kind_dgram *b = k->bind_local(false, &baddr);
    CHECK(CHECK_RC(k->writable(a)) & CIO_READY_WRITABLE);
    cio_time start = cio_now();
    cio_time saved = cio_deadline_set(start + 30 * CIO_NSEC_PER_MSEC);
    CHECK_ERR(k->readable(b), -ETIMEDOUT);
    cio_deadline_restore(saved);
    CHECK(cio_now() - start >= 25 * CIO_NSEC_PER_MSEC);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(k->send_to(a, "abc", 3, &baddr), 3);
    CHECK(CHECK_RC(k->readable(b)) & CIO_READY_READABLE);
    /* Each receive returns fewer bytes than asked; with a deadline already past, the next
     * ones must still be taken at once — no wait, no edge needed. */
    for (int i = 0; i < 3; i++) {
        char buf[64];
        saved = cio_deadline_set(cio_now() - 1);
        ssize_t n = k->recv(b, buf, sizeof(buf));
        cio_deadline_restore(saved);
        CHECK_EQ(n, 3);
    }
    /* Now empty: the next receive waits, and the past deadline stops it. */
    char buf[64];
    saved = cio_deadline_set(cio_now() - 1);
    CHECK_ERR(k->recv(b, buf, sizeof(buf)), -ETIMEDOUT);
    cio_deadline_restore(saved);
    int r = CHECK_RC(k->ready(b, CIO_READABLE | CIO_WRITABLE));
    CHECK(r & CIO_READY_WRITABLE);
    CHECK(!(r & CIO_READY_READABLE)); /* cleared by the receive that found none */
    k->clear_ready(b, r & CIO_READY_READABLE);
    k->clear_ready(NULL, r);
    CHECK_ERR(k->ready(b, 0), -EINVAL);
    k->close(a);
    k->close(b);
    return NULL;
}

DGRAM_CASE(datagram_readiness_rule)

/* ---- close wakes, second receiver refused ---- */

struct waiter {
    const struct dgram_kind *k;
    kind_dgram *d;
    ssize_t rc;
    char buf[16];
};

static void *blocked_recv(void *arg)
{
    struct waiter *w = arg;
    w->rc = w->k->recv(w->d, w->buf, sizeof(w->buf));
    return NULL;
}

static void *main_close_wakes_and_second_receiver_busy(void *arg)
{
    const struct dgram_kind *k = arg;
    cio_addr aaddr, baddr;
    kind_dgram *a = k->bind_local(false, &aaddr);
    kind_dgram *b = k->bind_local(false, &baddr);
    struct waiter w1 = {.k = k, .d = b}, w2 = {.k = k, .d = b};
    cio_task *t1, *t2;
    CHECK_RC(cio_spawn(&t1, blocked_recv, &w1));
    CHECK_RC(cio_sleep(5 * CIO_NSEC_PER_MSEC));
    CHECK(!cio_task_is_finished(t1));
    CHECK_RC(cio_spawn(&t2, blocked_recv, &w2));
    CHECK_RC(cio_task_join(t2, NULL));
    CHECK_EQ(w2.rc, -EBUSY);
    k->check_other_receives_busy(b);
    CHECK_ERR(k->peek_sender(b, NULL), -EBUSY);
    /* The sending direction is free. */
    CHECK_EQ(k->send_to(b, "s", 1, &aaddr), 1);
    char buf[4];
    CHECK_EQ(k->recv(a, buf, sizeof(buf)), 1);
    /* The first receiver gets its datagram. */
    CHECK_EQ(k->send_to(a, "ping", 4, &baddr), 4);
    CHECK_RC(cio_task_join(t1, NULL));
    CHECK_EQ(w1.rc, 4);
    CHECK(memcmp(w1.buf, "ping", 4) == 0);
    /* Closed under a waiting receiver: -EBADF promptly. */
    struct waiter w3 = {.k = k, .d = b};
    CHECK_RC(cio_spawn(&t1, blocked_recv, &w3));
    CHECK_RC(cio_sleep(5 * CIO_NSEC_PER_MSEC));
    cio_time start = cio_now();
    k->close(b);
    CHECK_RC(cio_task_join(t1, NULL));
    CHECK_EQ(w3.rc, -EBADF);
    CHECK(cio_now() - start < 500 * CIO_NSEC_PER_MSEC);
    k->close(a);
    return NULL;
}

DGRAM_CASE(close_wakes_and_second_receiver_busy)

/* ---- poll forms, try_io / async_io ---- */

static ssize_t raw_recv(void *ctx)
{
    char b[64];
    ssize_t n = recv(*(const int *)ctx, b, sizeof(b), MSG_DONTWAIT);
    return n < 0 ? -errno : n;
}

static void *main_poll_forms_and_try_io(void *arg)
{
    const struct dgram_kind *k = arg;
    cio_addr saddr, caddr;
    kind_dgram *s = k->bind_local(false, &saddr);
    kind_dgram *c = k->bind_local(false, &caddr);
    atomic_int woken = 0;
    char buf[16];
    cio_addr from;
    CHECK_ERR(k->poll_recv_from(s, buf, sizeof(buf), &from, count_wake, &woken), -EAGAIN);
    CHECK_ERR(k->poll_recv_ready(s, count_wake, &woken), -EAGAIN);
    CHECK_EQ(k->poll_send_to(c, "ab", 2, &saddr, NULL, NULL), 2);
    for (int i = 0; i < 100 && atomic_load(&woken) == 0; i++)
        CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
    CHECK_EQ(atomic_load(&woken), 1);
    CHECK(CHECK_RC(k->poll_recv_ready(s, NULL, NULL)) & CIO_READY_READABLE);
    CHECK_EQ(k->poll_recv_from(s, buf, sizeof(buf), &from, NULL, NULL), 2);
    CHECK(cio_addr_equal(&from, &caddr));
    CHECK_RC(k->writable(c));
    CHECK(CHECK_RC(k->poll_send_ready(c, NULL, NULL)) & CIO_READY_WRITABLE);
    /* try_io / async_io with our own recv. */
    int fd = k->fd(s);
    CHECK_EQ(k->send_to(c, "xyz", 3, &saddr), 3);
    CHECK_EQ(k->async_io(s, CIO_READABLE, raw_recv, &fd), 3);
    CHECK_ERR(k->try_io(s, CIO_READABLE, raw_recv, &fd), -EAGAIN);
    cio_time saved = cio_deadline_set(cio_now() + 10 * CIO_NSEC_PER_MSEC);
    CHECK_ERR(k->readable(s), -ETIMEDOUT);
    CHECK_ERR(k->async_io(s, CIO_READABLE, raw_recv, &fd), -ETIMEDOUT);
    cio_deadline_restore(saved);
    CHECK_ERR(k->try_io(s, 0, raw_recv, &fd), -EINVAL);
    /* Closing calls an armed callback. */
    atomic_store(&woken, 0);
    CHECK_ERR(k->poll_recv_ready(s, count_wake, &woken), -EAGAIN);
    k->close(s);
    CHECK_EQ(atomic_load(&woken), 1);
    k->close(c);
    return NULL;
}

DGRAM_CASE(poll_forms_and_try_io)

CIO_TEST_MAIN(DGRAM_TESTS(echo_between_tasks), DGRAM_TESTS(peek_and_truncation),
              DGRAM_TESTS(datagram_readiness_rule),
              DGRAM_TESTS(close_wakes_and_second_receiver_busy), DGRAM_TESTS(poll_forms_and_try_io))
