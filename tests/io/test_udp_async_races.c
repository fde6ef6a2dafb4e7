/*
 * test_udp_async_races.c: the async UDP calls under races, on one worker and across two.
 * Receives (recv_from, recv, peek then recv, recv_msg, recv_batch) run under deadlines of 0
 * to 2 ms, or in tasks cancelled at random moments, while a sender (itself under deadlines)
 * keeps numbered datagrams coming: every datagram must be received exactly once and in order
 * — a receive cut short took nothing, a send cut short sent nothing. The sender never lets
 * more than a small window be in flight, so the kernel never drops a datagram for lack of
 * buffer: a missing one can only be the async layer's fault. Also an echo between tasks on
 * different workers.
 */
/* cio-test-labels: threads */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cio/udp.h"
#include "test_tcp_async_helpers.h"

enum { DATAGRAMS = 5000, WINDOW = 48 };

static unsigned next_rand(unsigned *state)
{
    *state = *state * 1103515245u + 12345u;
    return (*state >> 16) & 0x7fff;
}

/* A timeout of 0 to 2 ms, for CIO_TIMEOUT. */
static cio_duration short_timeout(unsigned *rng)
{
    return (cio_duration)(next_rand(rng) % 3) * CIO_NSEC_PER_MSEC;
}

static cio_udp_socket *bind_local(cio_addr *ret_addr)
{
    cio_addr addr;
    CHECK_RC(cio_addr_parse(&addr, "127.0.0.1:0"));
    cio_udp_socket *u;
    CHECK_RC(cio_udp_socket_new(&u, &addr));
    CHECK_FD_FLAGS(cio_socket_fd(u));
    CHECK_RC(cio_socket_local_addr(u, ret_addr));
    return u;
}

static cio_join_handle *spawn_on(unsigned workers, unsigned worker, cio_task_fn fn, void *arg)
{
    cio_spawn_options o = {.worker = workers > 1 ? CIO_WORKER(worker) : CIO_WORKER_DEFAULT};
    cio_join_handle *t;
    CHECK_RC(cio_spawn_ex(&t, &o, fn, arg));
    return t;
}

/* What the sender and the receivers share. */
struct race {
    cio_udp_socket *tx, *rx;
    cio_addr tx_addr, rx_addr;
    atomic_uint received; /* datagrams taken so far, in order */
    int send_cuts;
    unsigned workers;
};

/* Datagram i: its number, then (i % 100) bytes of i's low byte. */
static size_t make_datagram(unsigned char *buf, uint32_t i)
{
    size_t len = sizeof(i) + i % 100;
    memcpy(buf, &i, sizeof(i));
    memset(buf + sizeof(i), (int)(i & 0xff), len - sizeof(i));
    return len;
}

static void check_datagram(const struct race *r, const unsigned char *buf, ssize_t n,
                           const cio_addr *from)
{
    uint32_t expect = atomic_load(&r->received);
    CHECK(n >= (ssize_t)sizeof(uint32_t));
    uint32_t id;
    memcpy(&id, buf, sizeof(id));
    CHECK_EQ(id, expect); /* none lost, none twice, in order */
    CHECK_EQ(n, sizeof(id) + id % 100);
    for (ssize_t i = sizeof(id); i < n; i++)
        CHECK_EQ(buf[i], id & 0xff);
    if (from != NULL)
        CHECK(cio_addr_equal(from, &r->tx_addr));
}

static void *sender_task(void *arg)
{
    struct race *r = arg;
    unsigned rng = 31;
    unsigned char buf[128];
    for (uint32_t i = 0; i < DATAGRAMS;) {
        if (i - atomic_load(&r->received) >= WINDOW) {
            CHECK_RC(next_rand(&rng) % 2 ? cio_yield() : cio_sleep(CIO_NSEC_PER_MSEC));
            continue;
        }
        size_t len = make_datagram(buf, i);
        ssize_t n;
        {
            CIO_TIMEOUT_SCOPE(short_timeout(&rng));
            n = next_rand(&rng) % 2 ? cio_dgram_send_to(r->tx, buf, len, &r->rx_addr)
                                    : cio_dgram_send(r->tx, buf, len);
        }
        if (n == -ETIMEDOUT) {
            r->send_cuts++;
            continue;
        }
        CHECK_EQ(n, len);
        i++;
        if (next_rand(&rng) % 8 == 0)
            CHECK_RC(next_rand(&rng) % 2 ? cio_yield() : cio_sleep(CIO_NSEC_PER_MSEC));
    }
    return NULL;
}

/* One receive of some kind; returns the datagrams taken (0 or more) or a negative errno.
 * Each is checked and counted. */
static int receive_some(struct race *r, unsigned *rng)
{
    unsigned char buf[128];
    cio_addr from;
    ssize_t n;
    switch (next_rand(rng) % 5) {
    case 0:
        n = cio_dgram_recv_from(r->rx, buf, sizeof(buf), &from);
        if (n < 0)
            return (int)n;
        check_datagram(r, buf, n, &from);
        break;
    case 1:
        n = cio_dgram_recv(r->rx, buf, sizeof(buf));
        if (n < 0)
            return (int)n;
        check_datagram(r, buf, n, NULL);
        break;
    case 2: {
        unsigned char p[128];
        n = cio_dgram_peek_from(r->rx, p, sizeof(p), &from);
        if (n < 0)
            return (int)n;
        check_datagram(r, p, n, &from); /* peeked, not taken: still the next one */
        ssize_t m = cio_dgram_recv(r->rx, buf, sizeof(buf));
        if (m < 0)
            return (int)m; /* cut between peek and receive: nothing taken */
        CHECK_EQ(m, n);
        CHECK(memcmp(p, buf, (size_t)n) == 0);
        break;
    }
    case 3: {
        struct iovec iov = {buf, sizeof(buf)};
        cio_udp_msg m = {.iov = &iov, .iovcnt = 1};
        n = cio_udp_socket_recv_msg(r->rx, &m);
        if (n < 0)
            return (int)n;
        CHECK(!(m.flags & CIO_UDP_MSG_TRUNC));
        check_datagram(r, buf, n, &m.addr);
        break;
    }
    default: {
        enum { B = 8 };
        unsigned char bufs[B][128];
        struct iovec iov[B];
        cio_udp_msg ms[B];
        for (int i = 0; i < B; i++) {
            iov[i] = (struct iovec){bufs[i], sizeof(bufs[i])};
            ms[i] = (cio_udp_msg){.iov = &iov[i], .iovcnt = 1};
        }
        int k = cio_udp_socket_recv_batch(r->rx, ms, 1 + next_rand(rng) % B);
        if (k < 0)
            return k;
        CHECK(k >= 1);
        for (int i = 0; i < k; i++) {
            check_datagram(r, bufs[i], (ssize_t)ms[i].len, &ms[i].addr);
            atomic_fetch_add(&r->received, 1);
        }
        return k;
    }
    }
    atomic_fetch_add(&r->received, 1);
    return 1;
}

static void race_open(struct race *r, unsigned workers)
{
    memset(r, 0, sizeof(*r));
    r->tx = bind_local(&r->tx_addr);
    r->rx = bind_local(&r->rx_addr);
    CHECK_RC(cio_dgram_connect(r->tx, &r->rx_addr));
    atomic_init(&r->received, 0);
    r->workers = workers;
}

static void race_close(struct race *r)
{
    /* Nothing more queued. */
    char x[128];
    CHECK_ERR(CIO_TIMEOUT(10 * CIO_NSEC_PER_MSEC, cio_dgram_recv(r->rx, x, sizeof(x))), -ETIMEDOUT);
    cio_socket_close(r->tx);
    cio_socket_close(r->rx);
}

/* ---- receives under deadlines ---- */

struct deadline_receiver {
    struct race *r;
    int cuts;
};

static void *deadline_receiver_task(void *arg)
{
    struct deadline_receiver *d = arg;
    unsigned rng = 7;
    while (atomic_load(&d->r->received) < DATAGRAMS) {
        int rc = CIO_TIMEOUT(short_timeout(&rng), receive_some(d->r, &rng));
        if (rc == -ETIMEDOUT) {
            d->cuts++;
            continue;
        }
        CHECK_RC(rc);
    }
    return NULL;
}

static void *main_deadline_race(void *arg)
{
    unsigned workers = (unsigned)(uintptr_t)arg;
    struct race r;
    race_open(&r, workers);
    struct deadline_receiver d = {&r, 0};
    cio_join_handle *rt = spawn_on(workers, 1, deadline_receiver_task, &d);
    cio_join_handle *st = spawn_on(workers, 0, sender_task, &r);
    CHECK_RC(cio_task_join(st, NULL, NULL));
    CHECK_RC(cio_task_join(rt, NULL, NULL));
    printf("    receives cut %d times, sends cut %d times\n", d.cuts, r.send_cuts);
    CHECK_EQ(atomic_load(&r.received), DATAGRAMS);
    CHECK(d.cuts > 10);
    race_close(&r);
    return NULL;
}

static void test_recv_deadline_race(void)
{
    run_rt(0, main_deadline_race, (void *)(uintptr_t)1);
}

static void test_recv_deadline_race_two_workers(void)
{
    run_rt(2, main_deadline_race, (void *)(uintptr_t)2);
}

/* ---- receiving tasks cancelled at random moments ---- */

static void *receive_until_cancelled(void *arg)
{
    struct race *r = arg;
    unsigned rng = (unsigned)atomic_load(&r->received) * 2654435761u;
    while (atomic_load(&r->received) < DATAGRAMS) {
        int rc = receive_some(r, &rng);
        if (rc == -ECANCELED)
            return NULL;
        CHECK_RC(rc);
    }
    return NULL;
}

static void *main_cancel_race(void *arg)
{
    unsigned workers = (unsigned)(uintptr_t)arg;
    struct race r;
    race_open(&r, workers);
    cio_join_handle *st = spawn_on(workers, 0, sender_task, &r);
    unsigned rng = 12;
    int rounds = 0;
    while (atomic_load(&r.received) < DATAGRAMS) {
        cio_join_handle *rt = spawn_on(workers, 1, receive_until_cancelled, &r);
        CHECK_RC(next_rand(&rng) % 2 ? cio_yield() : cio_sleep(CIO_NSEC_PER_MSEC));
        CHECK_RC(cio_task_cancel(rt));
        CHECK_RC(cio_task_join(rt, NULL, NULL)); /* it finished, cancelled or not */
        rounds++;
    }
    CHECK_RC(cio_task_join(st, NULL, NULL));
    printf("    %d receiving tasks cancelled\n", rounds);
    CHECK(rounds > 10);
    race_close(&r);
    return NULL;
}

static void test_recv_cancel_race(void)
{
    run_rt(0, main_cancel_race, (void *)(uintptr_t)1);
}

static void test_recv_cancel_race_two_workers(void)
{
    run_rt(2, main_cancel_race, (void *)(uintptr_t)2);
}

/* ---- echo across workers ---- */

enum { ROUNDS = 2000 };

struct echo {
    cio_udp_socket *u;
};

static void *echo_server(void *arg)
{
    struct echo *e = arg;
    unsigned char buf[2048];
    for (int i = 0; i < ROUNDS; i++) {
        cio_addr from;
        ssize_t n = CHECK_RC(cio_dgram_recv_from(e->u, buf, sizeof(buf), &from));
        CHECK_EQ(cio_dgram_send_to(e->u, buf, (size_t)n, &from), n);
    }
    return NULL;
}

static void *main_echo_workers(void *arg)
{
    (void)arg;
    cio_addr saddr, caddr;
    cio_udp_socket *s = bind_local(&saddr);
    cio_udp_socket *c = bind_local(&caddr);
    CHECK_RC(cio_dgram_connect(c, &saddr));
    struct echo e = {s};
    cio_join_handle *t = spawn_on(2, 1, echo_server, &e);
    unsigned char out[2048], in[2048];
    for (int i = 0; i < ROUNDS; i++) {
        size_t len = (size_t)(i * 7 % 2000);
        pattern_fill(out, len, (uint64_t)i, 2);
        CHECK_EQ(cio_dgram_send(c, out, len), len);
        CHECK_EQ(cio_dgram_recv(c, in, sizeof(in)), len);
        CHECK(memcmp(in, out, len) == 0);
    }
    CHECK_RC(cio_task_join(t, NULL, NULL));
    cio_socket_close(c);
    cio_socket_close(s);
    return NULL;
}

static void test_echo_across_workers(void)
{
    run_rt(2, main_echo_workers, NULL);
}

CIO_TEST_MAIN(TEST(test_recv_deadline_race), TEST(test_recv_deadline_race_two_workers),
              TEST(test_recv_cancel_race), TEST(test_recv_cancel_race_two_workers),
              TEST(test_echo_across_workers))
