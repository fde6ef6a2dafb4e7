/*
 * test_unix_async_threads.c: async Unix sockets used from tasks on different workers of a
 * multi-thread runtime — one stream read by a task on one worker and written by a task on
 * the other, in both directions at once with large byte-exact transfers (through the shared
 * stream pointers, owned halves, and one end of each); descriptor passing between workers with no
 * descriptor lost or leaked; datagrams between workers under deadlines (none lost, none twice); a
 * reader on one worker cancelled or closed under from the other.
 */
/* cio-test-labels: threads */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "stream_kinds.h"

enum { WORKERS = 2, BIG = 16 << 20 };

/* ---- one stream, reader and writer on different workers, both directions ---- */

struct pump {
    cio_unix_stream *s;  /* shared by the reader and the writer task, unless split: */
    cio_read_half *ord;  /* when set: read through the owned half */
    cio_write_half *owr; /* when set: write through the owned half */
    size_t len;
    unsigned seed;
};

static ssize_t pump_write(struct pump *p, const void *buf, size_t n)
{
    if (p->owr != NULL)
        return cio_stream_write(p->owr, buf, n);
    return cio_stream_write(p->s, buf, n);
}

static ssize_t pump_read(struct pump *p, void *buf, size_t n)
{
    if (p->ord != NULL)
        return cio_stream_read(p->ord, buf, n);
    return cio_stream_read(p->s, buf, n);
}

static void *writer_task(void *arg)
{
    struct pump *p = arg;
    enum { CHUNK = 200000 };
    unsigned char *buf = xmalloc(CHUNK);
    unsigned rng = p->seed;
    size_t pos = 0;
    while (pos < p->len) {
        size_t n = 1 + next_rand(&rng) * 13u % CHUNK;
        if (n > p->len - pos)
            n = p->len - pos;
        pattern_fill(buf, n, pos, p->seed);
        size_t off = 0;
        while (off < n) {
            ssize_t m = CHECK_RC(pump_write(p, buf + off, n - off));
            CHECK(m > 0);
            off += (size_t)m;
        }
        pos += n;
    }
    free(buf);
    return NULL;
}

static void *reader_task(void *arg)
{
    struct pump *p = arg;
    enum { CHUNK = 100000 };
    unsigned char *buf = xmalloc(CHUNK);
    unsigned rng = p->seed * 7u;
    size_t pos = 0;
    while (pos < p->len) {
        size_t want = 1 + next_rand(&rng) * 11u % CHUNK;
        ssize_t n = CHECK_RC(pump_read(p, buf, want));
        CHECK(n > 0);
        CHECK_EQ(pattern_check(buf, (size_t)n, pos, p->seed), n);
        pos += (size_t)n;
    }
    CHECK_EQ(pos, p->len);
    free(buf);
    return NULL;
}

/* Mode 0: the stream pointers shared by each end's reader and writer (C's borrowed split);
 * 1: a split into owned halves, b shared; 2: both split into owned halves. */
static void *main_duplex(void *arg)
{
    int mode = (int)(intptr_t)arg;
    cio_unix_stream *a, *b;
    CHECK_RC(cio_unix_stream_pair(&a, &b));
    cio_read_half *aord = NULL, *bord = NULL;
    cio_write_half *aowr = NULL, *bowr = NULL;
    if (mode >= 1)
        CHECK_RC(cio_stream_into_split(a, &aord, &aowr));
    if (mode == 2)
        CHECK_RC(cio_stream_into_split(b, &bord, &bowr));
    struct pump a_to_b_w = {.s = a, .owr = aowr, .len = BIG, .seed = 3};
    struct pump a_to_b_r = {.s = b, .ord = bord, .len = BIG, .seed = 3};
    struct pump b_to_a_w = {.s = b, .owr = bowr, .len = BIG, .seed = 4};
    struct pump b_to_a_r = {.s = a, .ord = aord, .len = BIG, .seed = 4};
    /* Each stream: its reader on one worker, its writer on the other. */
    cio_join_handle *t[4];
    t[0] = spawn_on(0, writer_task, &a_to_b_w); /* a's writer: worker 0 */
    t[1] = spawn_on(1, reader_task, &b_to_a_r); /* a's reader: worker 1 */
    t[2] = spawn_on(1, writer_task, &b_to_a_w); /* b's writer: worker 1 */
    t[3] = spawn_on(0, reader_task, &a_to_b_r); /* b's reader: worker 0 */
    for (int i = 0; i < 4; i++)
        CHECK_RC(cio_task_join(t[i], NULL, NULL));
    if (mode == 2) {
        /* Closing the write halves sends the end of stream each way. */
        cio_write_half_close(aowr);
        char x;
        CHECK_EQ(cio_stream_read(bord, &x, 1), 0);
        cio_write_half_close(bowr);
        CHECK_EQ(cio_stream_read(aord, &x, 1), 0);
        cio_read_half_close(aord);
        cio_read_half_close(bord);
    } else if (mode == 1) {
        cio_write_half_close(aowr);
        char x;
        CHECK_EQ(cio_stream_read(b, &x, 1), 0);
        cio_read_half_close(aord);
        cio_socket_close(b);
    } else {
        cio_socket_close(a);
        cio_socket_close(b);
    }
    return NULL;
}

static void test_duplex_across_workers(void)
{
    run_rt(WORKERS, main_duplex, (void *)0);
}

static void test_owned_and_shared_across_workers(void)
{
    run_rt(WORKERS, main_duplex, (void *)1);
}

static void test_owned_halves_across_workers(void)
{
    run_rt(WORKERS, main_duplex, (void *)2);
}

/* ---- descriptors between workers ---- */

enum { FD_ROUNDS = 500 };

struct fd_pass {
    cio_unix_stream *s;
    int pipes[2];
    atomic_size_t received;
};

static void *fd_send_task(void *arg)
{
    struct fd_pass *f = arg;
    for (uint32_t i = 0; i < FD_ROUNDS; i++)
        CHECK_EQ(cio_unix_send_fds(f->s, &i, sizeof(i), f->pipes, 1 + i % 2, NULL), sizeof(i));
    CHECK_RC(cio_socket_shutdown(f->s, CIO_SHUTDOWN_WRITE));
    return NULL;
}

static void *fd_recv_task(void *arg)
{
    struct fd_pass *f = arg;
    uint32_t expect = 0;
    for (;;) {
        uint32_t id;
        int got[4];
        size_t n = 0;
        ssize_t k = CHECK_RC(cio_unix_recv_fds(f->s, &id, sizeof(id), got, 4, &n, NULL));
        if (k == 0)
            break;
        CHECK_EQ(k, sizeof(id)); /* one message per receive: it ends with its descriptors */
        CHECK_EQ(id, expect);
        CHECK_EQ(n, 1 + id % 2);
        for (size_t i = 0; i < n; i++) {
            CHECK_FD_FLAGS(got[i]);
            CHECK_SYS(close(got[i]));
        }
        atomic_fetch_add(&f->received, n);
        expect++;
    }
    CHECK_EQ(expect, FD_ROUNDS);
    return NULL;
}

static void *main_fds_across_workers(void *arg)
{
    (void)arg;
    int base = cio_test_open_fds();
    cio_unix_stream *a, *b;
    CHECK_RC(cio_unix_stream_pair(&a, &b));
    struct fd_pass snd = {.s = a}, rcv = {.s = b};
    CHECK_SYS(pipe2(snd.pipes, O_NONBLOCK | O_CLOEXEC));
    atomic_init(&rcv.received, 0);
    cio_join_handle *t1 = spawn_on(1, fd_recv_task, &rcv);
    cio_join_handle *t0 = spawn_on(0, fd_send_task, &snd);
    CHECK_RC(cio_task_join(t0, NULL, NULL));
    CHECK_RC(cio_task_join(t1, NULL, NULL));
    CHECK_EQ(atomic_load(&rcv.received), FD_ROUNDS / 2 * 3);
    CHECK_SYS(close(snd.pipes[0]));
    CHECK_SYS(close(snd.pipes[1]));
    cio_socket_close(a);
    cio_socket_close(b);
    CHECK_EQ(cio_test_open_fds(), base);
    return NULL;
}

static void test_fds_across_workers(void)
{
    run_rt(WORKERS, main_fds_across_workers, NULL);
}

/* ---- datagrams between workers, under deadlines ---- */

enum { DATAGRAMS = 20000 };

struct dgram_side {
    cio_unix_datagram *d;
    int cut;
    unsigned seed;
};

static void *dgram_send_task(void *arg)
{
    struct dgram_side *s = arg;
    unsigned rng = s->seed;
    for (uint32_t i = 0; i < DATAGRAMS;) {
        cio_duration timeout = (cio_duration)(next_rand(&rng) % 2) * CIO_NSEC_PER_MSEC;
        ssize_t n = CIO_TIMEOUT(timeout, cio_dgram_send(s->d, &i, sizeof(i)));
        if (n == -ETIMEDOUT) {
            s->cut++;
            continue;
        }
        CHECK_EQ(n, sizeof(i));
        i++;
    }
    return NULL;
}

static void *dgram_recv_task(void *arg)
{
    struct dgram_side *s = arg;
    unsigned rng = s->seed;
    for (uint32_t expect = 0; expect < DATAGRAMS;) {
        uint32_t id;
        cio_duration timeout = (cio_duration)(next_rand(&rng) % 2) * CIO_NSEC_PER_MSEC;
        ssize_t n = CIO_TIMEOUT(timeout, cio_dgram_recv(s->d, &id, sizeof(id)));
        if (n == -ETIMEDOUT) {
            s->cut++;
            continue;
        }
        CHECK_EQ(n, sizeof(id));
        CHECK_EQ(id, expect);
        expect++;
    }
    return NULL;
}

static void *main_dgram_across_workers(void *arg)
{
    (void)arg;
    cio_unix_datagram *a, *b;
    CHECK_RC(cio_unix_datagram_pair(&a, &b));
    struct dgram_side snd = {a, 0, 5}, rcv = {b, 0, 6};
    cio_join_handle *t1 = spawn_on(1, dgram_recv_task, &rcv);
    cio_join_handle *t0 = spawn_on(0, dgram_send_task, &snd);
    CHECK_RC(cio_task_join(t0, NULL, NULL));
    CHECK_RC(cio_task_join(t1, NULL, NULL));
    printf("    sends cut %d times, receives cut %d times\n", snd.cut, rcv.cut);
    cio_socket_close(a);
    cio_socket_close(b);
    return NULL;
}

static void test_datagrams_across_workers(void)
{
    run_rt(WORKERS, main_dgram_across_workers, NULL);
}

/* ---- cancel and close from the other worker ---- */

/* Spawn a waiter reading @s on worker 1; return once it has started and waited 5 ms. */
static cio_join_handle *read_on_other_worker(struct waiter *w)
{
    cio_join_handle *t = spawn_on(1, waiter_task, w);
    for (int i = 0; i < 1000 && atomic_load(&w->started) == 0; i++)
        CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
    CHECK_RC(cio_sleep(5 * CIO_NSEC_PER_MSEC));
    return t;
}

static void *main_cancel_close_other_worker(void *arg)
{
    (void)arg;
    cio_unix_stream *a, *b;
    CHECK_RC(cio_unix_stream_pair(&a, &b));
    /* Cancelled from worker 0 while parked on worker 1: nothing consumed. */
    struct waiter w = {.sock = cio_as_socket(b), .call = waiter_stream_read};
    cio_join_handle *t = read_on_other_worker(&w);
    CHECK_RC(cio_task_cancel(t));
    CHECK_JOIN_CANCELLED(t); /* the joined task was cancelled */
    CHECK_EQ(w.rc, -ECANCELED);
    CHECK_EQ(cio_stream_write(a, "kept", 4), 4);
    char buf[8];
    CHECK_EQ(cio_stream_read(b, buf, sizeof(buf)), 4);
    CHECK(memcmp(buf, "kept", 4) == 0);
    /* Closed from worker 0 while parked on worker 1: -EBADF promptly. */
    struct waiter w2 = {.sock = cio_as_socket(b), .call = waiter_stream_read};
    struct waiter *wp = &w2;
    t = read_on_other_worker(&w2);
    check_close_wakes(cio_as_socket(b), &t, &wp, 1);
    cio_socket_close(a);
    return NULL;
}

static void test_cancel_and_close_from_other_worker(void)
{
    run_rt(WORKERS, main_cancel_close_other_worker, NULL);
}

CIO_TEST_MAIN(TEST(test_duplex_across_workers), TEST(test_owned_and_shared_across_workers),
              TEST(test_owned_halves_across_workers), TEST(test_fds_across_workers),
              TEST(test_datagrams_across_workers), TEST(test_cancel_and_close_from_other_worker))
