/*
 * test_tcp_async_threads.c: async TCP across the workers of a multi-thread runtime — a reader
 * task and a writer task sharing each end of a connection from different workers (32 MiB each
 * way, byte-exact), owned halves moved to tasks on other workers and closed there
 * concurrently, a relay whose ends live on other workers, closing a stream from one worker
 * while a task on another waits on it, and reads with deadlines racing a writer on the other
 * worker. Run under TSan in CI.
 */
/* cio-test-labels: threads */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "test_tcp_async_helpers.h"

static const cio_spawn_options on_w0 = {.worker = CIO_WORKER(0)};
static const cio_spawn_options on_w1 = {.worker = CIO_WORKER(1)};

enum { BIG = 32 << 20, MID = 8 << 20, CHUNK = 1 << 16 };

struct flow {
    cio_tcp_stream *s;
    size_t len;
    unsigned seed;
    bool shutdown_after;
};

static void *flow_writer(void *arg)
{
    struct flow *f = arg;
    unsigned char *buf = xmalloc(CHUNK);
    for (size_t pos = 0; pos < f->len;) {
        size_t n = f->len - pos < CHUNK ? f->len - pos : CHUNK;
        pattern_fill(buf, n, pos, f->seed);
        size_t done = 0;
        CHECK_RC(cio_stream_write_all(f->s, buf, n, &done));
        CHECK_EQ(done, n);
        pos += n;
    }
    if (f->shutdown_after)
        CHECK_RC(cio_socket_shutdown(f->s, CIO_SHUTDOWN_WRITE));
    free(buf);
    return NULL;
}

static void *flow_reader(void *arg)
{
    struct flow *f = arg;
    unsigned char *buf = xmalloc(CHUNK);
    size_t pos = 0;
    for (;;) {
        ssize_t n = CHECK_RC(cio_stream_read(f->s, buf, CHUNK));
        if (n == 0)
            break;
        CHECK_EQ(pattern_check(buf, (size_t)n, pos, f->seed), n);
        pos += (size_t)n;
    }
    CHECK_EQ(pos, f->len);
    free(buf);
    return NULL;
}

/* ---- one reader and one writer per stream, on different workers ---- */

static void *main_shared_stream(void *arg)
{
    (void)arg;
    cio_tcp_stream *c, *s;
    tcp_pair(&c, &s);
    struct flow cw = {c, BIG, 1, true}, sr = {s, BIG, 1, false};
    struct flow sw = {s, BIG, 2, true}, cr = {c, BIG, 2, false};
    cio_join_handle *t[4];
    CHECK_RC(cio_spawn_ex(&t[0], &on_w0, flow_writer, &cw));
    CHECK_RC(cio_spawn_ex(&t[1], &on_w1, flow_reader, &cr));
    CHECK_RC(cio_spawn_ex(&t[2], &on_w1, flow_writer, &sw));
    CHECK_RC(cio_spawn_ex(&t[3], &on_w0, flow_reader, &sr));
    for (int i = 0; i < 4; i++)
        CHECK_RC(cio_task_join(t[i], NULL, NULL));
    cio_socket_close(c);
    cio_socket_close(s);
    return NULL;
}

static void test_reader_writer_across_workers(void)
{
    run_rt(2, main_shared_stream, NULL);
}

/* ---- owned halves on other workers ---- */

struct owned_reader {
    cio_read_half *rd;
    size_t len;
    unsigned seed;
};

static void *owned_read_then_close(void *arg)
{
    struct owned_reader *o = arg;
    unsigned char *buf = xmalloc(CHUNK);
    size_t pos = 0;
    for (;;) {
        ssize_t n = CHECK_RC(cio_stream_read(o->rd, buf, CHUNK));
        if (n == 0)
            break;
        CHECK_EQ(pattern_check(buf, (size_t)n, pos, o->seed), n);
        pos += (size_t)n;
    }
    CHECK_EQ(pos, o->len);
    free(buf);
    cio_read_half_close(o->rd);
    return NULL;
}

struct owned_writer {
    cio_write_half *wr;
    size_t len;
    unsigned seed;
};

static void *owned_write_then_close(void *arg)
{
    struct owned_writer *o = arg;
    unsigned char *buf = xmalloc(CHUNK);
    for (size_t pos = 0; pos < o->len;) {
        size_t n = o->len - pos < CHUNK ? o->len - pos : CHUNK;
        pattern_fill(buf, n, pos, o->seed);
        CHECK_RC(cio_stream_write_all(o->wr, buf, n, NULL));
        pos += n;
    }
    free(buf);
    cio_write_half_close(o->wr); /* the peer reads end of stream */
    return NULL;
}

static void *main_owned(void *arg)
{
    (void)arg;
    for (int round = 0; round < 4; round++) {
        cio_tcp_stream *c, *s;
        tcp_pair(&c, &s);
        cio_read_half *rd;
        cio_write_half *wr;
        CHECK_RC(cio_stream_into_split(s, &rd, &wr));
        struct owned_reader orr = {rd, MID, 5};
        struct owned_writer ow = {wr, MID, 6};
        struct flow cw = {c, MID, 5, true}, cr = {c, MID, 6, false};
        cio_join_handle *t[4];
        /* Halves swap workers each round, so they close in both orders and threads. */
        CHECK_RC(cio_spawn_ex(&t[0], round % 2 ? &on_w0 : &on_w1, owned_read_then_close, &orr));
        CHECK_RC(cio_spawn_ex(&t[1], round % 2 ? &on_w1 : &on_w0, owned_write_then_close, &ow));
        CHECK_RC(cio_spawn_ex(&t[2], &on_w0, flow_writer, &cw));
        CHECK_RC(cio_spawn_ex(&t[3], &on_w1, flow_reader, &cr));
        for (int i = 0; i < 4; i++)
            CHECK_RC(cio_task_join(t[i], NULL, NULL));
        cio_socket_close(c);
    }
    return NULL;
}

static void test_owned_halves_on_other_workers(void)
{
    run_rt(2, main_owned, NULL);
}

/* ---- a relay with its ends on other workers ---- */

struct relay_proxy {
    cio_tcp_stream *a, *b;
    int rc;
    uint64_t ab, ba;
};

static void *relay_proxy(void *arg)
{
    struct relay_proxy *p = arg;
    p->rc = cio_stream_copy_bidirectional(p->a, p->b, &p->ab, &p->ba);
    return NULL;
}

static void *main_relay(void *arg)
{
    (void)arg;
    cio_tcp_stream *client, *a, *b, *server;
    tcp_pair(&client, &a);
    tcp_pair(&b, &server);
    struct relay_proxy p = {a, b, -1, 0, 0};
    struct flow cw = {client, MID, 7, true}, sr = {server, MID, 7, false};
    struct flow sw = {server, MID + 3, 8, true}, cr = {client, MID + 3, 8, false};
    cio_join_handle *t[5];
    CHECK_RC(cio_spawn_ex(&t[0], &on_w1, relay_proxy, &p));
    CHECK_RC(cio_spawn_ex(&t[1], &on_w0, flow_writer, &cw));
    CHECK_RC(cio_spawn_ex(&t[2], &on_w1, flow_reader, &sr));
    CHECK_RC(cio_spawn_ex(&t[3], &on_w0, flow_writer, &sw));
    CHECK_RC(cio_spawn_ex(&t[4], &on_w0, flow_reader, &cr));
    for (int i = 0; i < 5; i++)
        CHECK_RC(cio_task_join(t[i], NULL, NULL));
    CHECK_RC(p.rc);
    CHECK_EQ(p.ab, MID);
    CHECK_EQ(p.ba, MID + 3);
    cio_socket_close(client);
    cio_socket_close(a);
    cio_socket_close(b);
    cio_socket_close(server);
    return NULL;
}

static void test_relay_across_workers(void)
{
    run_rt(2, main_relay, NULL);
}

/* ---- close from another worker wakes the waiter ---- */

struct waiter {
    cio_tcp_stream *s;
    bool preregister;
    atomic_int started;
    ssize_t rc;
};

static void *wait_read(void *arg)
{
    struct waiter *w = arg;
    char buf[8];
    /* Registering before saying "started" orders the registration before the close. */
    if (w->preregister)
        CHECK(cio_socket_writable(w->s) & CIO_READY_WRITABLE);
    atomic_store(&w->started, 1);
    w->rc = cio_stream_read(w->s, buf, sizeof(buf));
    return NULL;
}

static void *main_close_cross(void *arg)
{
    bool preregister = arg == NULL;
    for (int round = 0; round < 20; round++) {
        cio_tcp_stream *c, *s;
        tcp_pair(&c, &s);
        struct waiter w = {.s = s, .preregister = preregister, .rc = 1};
        cio_join_handle *t;
        CHECK_RC(cio_spawn_ex(&t, &on_w1, wait_read, &w));
        while (atomic_load(&w.started) == 0)
            CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
        /* From "started" to parked in the read takes microseconds; the stream must not be
         * freed before the read has begun (that would be the caller's use after free). */
        CHECK_RC(cio_sleep((10 + round % 3) * CIO_NSEC_PER_MSEC));
        cio_time start = cio_now();
        cio_socket_close(s); /* from worker 0, while worker 1's task waits */
        CHECK_RC(cio_task_join(t, NULL, NULL));
        CHECK_EQ(w.rc, -EBADF);
        CHECK(cio_now() - start < 500 * CIO_NSEC_PER_MSEC);
        cio_socket_close(c);
    }
    return NULL;
}

static void test_close_from_other_worker(void)
{
    run_rt(2, main_close_cross, NULL);
}

static void test_close_races_registration(void)
{
    run_rt(2, main_close_cross, (void *)1);
}

/* ---- deadlines racing a writer on the other worker ---- */

static void *trickle(void *arg)
{
    struct flow *f = arg;
    unsigned char buf[512];
    size_t pos = 0;
    unsigned step = 0;
    while (pos < f->len) {
        size_t n = 1 + (step++ * 37u) % sizeof(buf);
        if (n > f->len - pos)
            n = f->len - pos;
        pattern_fill(buf, n, pos, f->seed);
        CHECK_RC(cio_stream_write_all(f->s, buf, n, NULL));
        pos += n;
        if (step % 5 == 0)
            CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
    }
    return NULL;
}

static void *main_deadline_race(void *arg)
{
    (void)arg;
    cio_tcp_stream *c, *s;
    tcp_pair(&c, &s);
    enum { LEN = 100000 };
    struct flow f = {c, LEN, 9, false};
    cio_join_handle *t;
    CHECK_RC(cio_spawn_ex(&t, &on_w1, trickle, &f));
    unsigned char buf[300];
    size_t got = 0;
    int timeouts = 0;
    for (unsigned i = 0; got < LEN; i++) {
        ssize_t n = CIO_TIMEOUT((cio_duration)(i % 3) * CIO_NSEC_PER_MSEC,
                                cio_stream_read(s, buf, 1 + i % sizeof(buf)));
        if (n == -ETIMEDOUT) {
            timeouts++;
            continue;
        }
        CHECK(n > 0);
        CHECK_EQ(pattern_check(buf, (size_t)n, got, 9), n);
        got += (size_t)n;
    }
    CHECK(timeouts > 0);
    CHECK_RC(cio_task_join(t, NULL, NULL));
    cio_socket_close(c);
    cio_socket_close(s);
    return NULL;
}

static void test_deadline_race_across_workers(void)
{
    run_rt(2, main_deadline_race, NULL);
}

CIO_TEST_MAIN(TEST(test_reader_writer_across_workers), TEST(test_owned_halves_on_other_workers),
              TEST(test_relay_across_workers), TEST(test_close_from_other_worker),
              TEST(test_close_races_registration), TEST(test_deadline_race_across_workers))
