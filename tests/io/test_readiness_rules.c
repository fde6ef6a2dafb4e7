/*
 * test_readiness_rules.c: tokio's readiness rules, each as a case that fails on the engine
 * that broke it — a try_* that sees -EAGAIN clears the cached readiness, so tokio's
 * "readable(), then try_read() until -EAGAIN" loop waits instead of starving its worker
 * (both directions); a clear made with a stale readiness value never erases a newer edge; any
 * number of tasks wait on one direction (10 readers woken by one byte) or one listener (50
 * acceptors, 50 connections); and the poll(2) backend's edge emulation reports the peer's
 * shutdown while read readiness is cached, and does not spin on urgent data nobody asked for.
 * Every wait is bounded by a deadline, so a broken rule fails a check instead of hanging.
 */
/* cio-test-labels: threads */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cio/rt.h"
#include "cio/socket.h"
#include "cio/stream.h"
#include "cio/tcp.h"
#include "cio/unix.h"
#include "harness.h"

#define SEC CIO_NSEC_PER_SEC
#define MSEC CIO_NSEC_PER_MSEC

static void run_on(unsigned workers, cio_task_fn fn, void *arg)
{
    cio_rt *rt;
    cio_rt_options o = {.flavor = workers ? CIO_RT_MULTI_THREAD : CIO_RT_CURRENT_THREAD,
                        .workers = workers};
    CHECK_RC(cio_rt_new(&rt, &o));
    CHECK_RC(cio_rt_block_on(rt, fn, arg, NULL));
    cio_rt_free(rt);
}

static cio_tcp_listener *listen_local(cio_addr *ret_addr, int backlog)
{
    cio_addr addr;
    cio_tcp_listener *l;
    CHECK_RC(cio_addr_parse(&addr, "127.0.0.1:0"));
    CHECK_RC(cio_tcp_listener_new(&l, &addr, backlog));
    CHECK_RC(cio_socket_local_addr(l, ret_addr));
    return l;
}

static void tcp_pair(cio_tcp_stream **ret_a, cio_tcp_stream **ret_b)
{
    cio_addr addr;
    cio_tcp_listener *l = listen_local(&addr, CIO_LISTEN_BACKLOG_DEFAULT);
    CHECK_RC(cio_tcp_stream_connect_addr(ret_a, &addr));
    CHECK_RC(cio_tcp_listener_accept(l, ret_b, NULL));
    cio_socket_close(l);
}

/* ---- readable() + try_read() ---- */

struct loop_state {
    cio_unix_stream *a, *b;
    atomic_int other_runs; /* how often the second task ran */
    int eagains;           /* -EAGAIN seen by the looping task */
    bool done;
};

/* The second task: must keep running while the first loops; then it writes the byte the
 * loop waits for. */
static void *yielder_then_write(void *arg)
{
    struct loop_state *s = arg;
    for (int i = 0; i < 100; i++) {
        atomic_fetch_add(&s->other_runs, 1);
        CHECK_RC(cio_yield());
    }
    CHECK_EQ(cio_stream_write(s->b, "y", 1), 1);
    return NULL;
}

static void *main_readable_try_read(void *arg)
{
    struct loop_state *s = arg;
    CHECK_RC(cio_unix_stream_pair(&s->a, &s->b));
    /* Read readiness cached, then drained by a read of exactly the byte that came: the
     * cache still says readable, and only the -EAGAIN of the next try_read can say no. */
    CHECK_EQ(cio_stream_write(s->b, "x", 1), 1);
    char c;
    CHECK(cio_socket_readable(s->a) > 0);
    CHECK_EQ(cio_stream_try_read(s->a, &c, 1), 1);
    cio_join_handle *other;
    CHECK_RC(cio_spawn(&other, yielder_then_write, s));
    {
        CIO_TIMEOUT_SCOPE(5 * SEC);
        for (;;) {
            int r = cio_socket_readable(s->a);
            CHECK(r > 0);
            ssize_t n = cio_stream_try_read(s->a, &c, 1);
            if (n == -EAGAIN) {
                s->eagains++;
                CHECK(s->eagains < 1000); /* a spinning loop, whatever the budget does */
                continue;
            }
            CHECK_EQ(n, 1);
            CHECK_EQ(c, 'y');
            break;
        }
    }
    CHECK_RC(cio_task_join(other, NULL, NULL));
    CHECK_EQ(atomic_load(&s->other_runs), 100);
    /* One -EAGAIN clears the cache; the next readable() waits for the edge. */
    CHECK(s->eagains <= 2);
    cio_socket_close(s->a);
    cio_socket_close(s->b);
    return NULL;
}

static void test_readable_try_read_loop_waits(void)
{
    struct loop_state s = {0};
    run_on(0, main_readable_try_read, &s);
}

/* ---- writable() + try_write() ---- */

static void *drainer(void *arg)
{
    struct loop_state *s = arg;
    for (int i = 0; i < 100; i++) {
        atomic_fetch_add(&s->other_runs, 1);
        CHECK_RC(cio_yield());
    }
    static char sink[1 << 16];
    /* Take everything queued so the writer's next try_write has room. */
    while (cio_stream_try_read(s->b, sink, sizeof(sink)) > 0)
        ;
    s->done = true;
    return NULL;
}

static void *main_writable_try_write(void *arg)
{
    struct loop_state *s = arg;
    CHECK_RC(cio_unix_stream_pair(&s->a, &s->b));
    static char chunk[1 << 14];
    memset(chunk, 'w', sizeof(chunk));
    /* Fill the send buffer: write readiness cached (the registration's first edge), and
     * the buffer full. */
    CHECK(cio_socket_writable(s->a) > 0);
    ssize_t n;
    while ((n = cio_stream_try_write(s->a, chunk, sizeof(chunk))) > 0)
        ;
    CHECK_EQ(n, -EAGAIN);
    cio_join_handle *other;
    CHECK_RC(cio_spawn(&other, drainer, s));
    {
        CIO_TIMEOUT_SCOPE(5 * SEC);
        for (;;) {
            CHECK(cio_socket_writable(s->a) > 0);
            n = cio_stream_try_write(s->a, chunk, 1);
            if (n == -EAGAIN) {
                s->eagains++;
                CHECK(s->eagains < 1000);
                continue;
            }
            CHECK_EQ(n, 1);
            break;
        }
    }
    CHECK_RC(cio_task_join(other, NULL, NULL));
    CHECK(s->done);
    CHECK_EQ(atomic_load(&s->other_runs), 100);
    CHECK(s->eagains <= 2);
    cio_socket_close(s->a);
    cio_socket_close(s->b);
    return NULL;
}

static void test_writable_try_write_loop_waits(void)
{
    struct loop_state s = {0};
    run_on(0, main_writable_try_write, &s);
}

/* ---- clear_ready with the tick ---- */

static void *main_stale_clear(void *arg)
{
    (void)arg;
    cio_unix_stream *a, *b;
    CHECK_RC(cio_unix_stream_pair(&a, &b));
    CHECK_EQ(cio_stream_write(b, "1", 1), 1);
    int stale = cio_socket_readable(a);
    CHECK(stale > 0 && (stale & CIO_READY_READABLE));
    /* A newer edge arrives after the value was read... */
    CHECK_EQ(cio_stream_write(b, "2", 1), 1);
    CHECK_RC(cio_sleep(20 * MSEC)); /* the reactor takes it in */
    /* ...so clearing with the old value must not erase it. */
    cio_socket_clear_ready(a, stale);
    int fresh = CIO_TIMEOUT(2 * SEC, cio_socket_readable(a));
    CHECK(fresh > 0 && (fresh & CIO_READY_READABLE));
    CHECK(fresh != stale); /* the tick it carries moved */
    /* A clear with the fresh value does clear: the next readable() waits (and times out). */
    char buf[4];
    CHECK_EQ(cio_stream_try_read(a, buf, sizeof(buf)), 2);
    cio_socket_clear_ready(a, fresh);
    CHECK_ERR(CIO_TIMEOUT(50 * MSEC, cio_socket_readable(a)), -ETIMEDOUT);
    cio_socket_close(a);
    cio_socket_close(b);
    return NULL;
}

static void test_stale_clear_keeps_newer_edge(void)
{
    run_on(0, main_stale_clear, NULL);
}

/* The race with another worker: a reader task on one worker waits readable() and clears
 * with what it got after draining; a writer on the other worker sends bytes one by one, each
 * after the previous was read. A clear that erased a newer edge would leave the reader asleep
 * with a byte queued: the deadline would fail it. */
struct race {
    cio_tcp_stream *a, *b;
    atomic_int received;
};

#define RACE_ROUNDS 2000

static void *race_reader(void *arg)
{
    struct race *r = arg;
    CIO_TIMEOUT_SCOPE(20 * SEC);
    char buf[64];
    while (atomic_load(&r->received) < RACE_ROUNDS) {
        int ready = cio_socket_readable(r->a);
        CHECK(ready > 0);
        ssize_t n;
        while ((n = cio_stream_try_read(r->a, buf, sizeof(buf))) > 0)
            atomic_fetch_add(&r->received, (int)n);
        CHECK_EQ(n, -EAGAIN);
        cio_socket_clear_ready(r->a, ready); /* stale when a byte came since */
    }
    return NULL;
}

static void *race_writer(void *arg)
{
    struct race *r = arg;
    CIO_TIMEOUT_SCOPE(20 * SEC);
    for (int i = 0; i < RACE_ROUNDS; i++) {
        CHECK_EQ(cio_stream_write(r->b, "r", 1), 1);
        while (atomic_load(&r->received) <= i)
            CHECK_RC(cio_yield());
    }
    return NULL;
}

static void *main_clear_race(void *arg)
{
    struct race *r = arg;
    tcp_pair(&r->a, &r->b);
    cio_spawn_options on0 = {.worker = CIO_WORKER(0)}, on1 = {.worker = CIO_WORKER(1)};
    cio_join_handle *rd, *wr;
    CHECK_RC(cio_spawn_ex(&rd, &on0, race_reader, r));
    CHECK_RC(cio_spawn_ex(&wr, &on1, race_writer, r));
    CHECK_RC(cio_task_join(rd, NULL, NULL));
    CHECK_RC(cio_task_join(wr, NULL, NULL));
    CHECK_EQ(atomic_load(&r->received), RACE_ROUNDS);
    cio_socket_close(r->a);
    cio_socket_close(r->b);
    return NULL;
}

static void test_clear_races_new_edge_across_workers(void)
{
    struct race r = {0};
    run_on(2, main_clear_race, &r);
}

/* ---- many waiters ---- */

#define WAITERS 10

struct many {
    cio_unix_stream *a, *b;
    atomic_int woken;
};

static void *readable_waiter(void *arg)
{
    struct many *m = arg;
    int r = CIO_TIMEOUT(5 * SEC, cio_socket_readable(m->a));
    CHECK(r > 0 && (r & CIO_READY_READABLE));
    atomic_fetch_add(&m->woken, 1);
    return NULL;
}

static void *main_ten_waiters(void *arg)
{
    struct many *m = arg;
    CHECK_RC(cio_unix_stream_pair(&m->a, &m->b));
    cio_join_handle *tasks[WAITERS];
    for (int i = 0; i < WAITERS; i++) {
        cio_spawn_options o = {.worker =
                                   CIO_WORKER((unsigned)i % cio_rt_workers(cio_rt_current()))};
        CHECK_RC(cio_spawn_ex(&tasks[i], &o, readable_waiter, m));
    }
    CHECK_RC(cio_sleep(50 * MSEC)); /* all of them parked */
    CHECK_EQ(atomic_load(&m->woken), 0);
    CHECK_EQ(cio_stream_write(m->b, "!", 1), 1); /* one byte, one edge */
    for (int i = 0; i < WAITERS; i++)
        CHECK_RC(cio_task_join(tasks[i], NULL, NULL));
    CHECK_EQ(atomic_load(&m->woken), WAITERS);
    cio_socket_close(m->a);
    cio_socket_close(m->b);
    return NULL;
}

static void test_ten_readers_woken_by_one_byte(void)
{
    struct many m = {0};
    run_on(0, main_ten_waiters, &m);
}

static void test_ten_readers_on_two_workers(void)
{
    struct many m = {0};
    run_on(2, main_ten_waiters, &m);
}

#define ACCEPTORS 50

struct acceptors {
    cio_tcp_listener *l;
    atomic_int accepted;
};

static void *acceptor(void *arg)
{
    struct acceptors *s = arg;
    cio_tcp_stream *c;
    CHECK_RC(CIO_TIMEOUT(10 * SEC, cio_tcp_listener_accept(s->l, &c, NULL)));
    atomic_fetch_add(&s->accepted, 1);
    cio_socket_close(c);
    return NULL;
}

static void *main_fifty_acceptors(void *arg)
{
    struct acceptors *s = arg;
    cio_addr addr;
    s->l = listen_local(&addr, 128);
    cio_join_handle *tasks[ACCEPTORS];
    unsigned workers = cio_rt_workers(cio_rt_current());
    for (int i = 0; i < ACCEPTORS; i++) {
        cio_spawn_options o = {.worker = CIO_WORKER((unsigned)i % workers)};
        CHECK_RC(cio_spawn_ex(&tasks[i], &o, acceptor, s));
    }
    CHECK_RC(cio_sleep(50 * MSEC)); /* all of them wait on the listener */
    cio_tcp_stream *clients[ACCEPTORS];
    for (int i = 0; i < ACCEPTORS; i++)
        CHECK_RC(cio_tcp_stream_connect_addr(&clients[i], &addr));
    for (int i = 0; i < ACCEPTORS; i++)
        CHECK_RC(cio_task_join(tasks[i], NULL, NULL));
    CHECK_EQ(atomic_load(&s->accepted), ACCEPTORS);
    for (int i = 0; i < ACCEPTORS; i++)
        cio_socket_close(clients[i]);
    cio_socket_close(s->l);
    return NULL;
}

static void test_fifty_acceptors_one_listener(void)
{
    struct acceptors s = {0};
    run_on(0, main_fifty_acceptors, &s);
}

static void test_fifty_acceptors_two_workers(void)
{
    struct acceptors s = {0};
    run_on(2, main_fifty_acceptors, &s);
}

/* ---- the peer's shutdown while read readiness is cached ---- */

static void *main_read_closed_cached(void *arg)
{
    (void)arg;
    cio_tcp_stream *a, *b;
    tcp_pair(&a, &b);
    CHECK_EQ(cio_stream_write(b, "d", 1), 1);
    int r = cio_socket_ready(a, CIO_READABLE);
    CHECK(r > 0 && (r & CIO_READY_READABLE)); /* cached from now on: nobody reads it */
    CHECK_RC(cio_socket_shutdown(b, CIO_SHUTDOWN_WRITE));
    long rounds = 0;
    {
        CIO_TIMEOUT_SCOPE(3 * SEC);
        while (!((r = cio_socket_ready(a, CIO_READABLE)) > 0 && (r & CIO_READY_READ_CLOSED))) {
            CHECK(r > 0); /* -ETIMEDOUT: the shutdown was never reported */
            rounds++;
        }
    }
    CHECK(rounds < 100000);
    cio_socket_close(a);
    cio_socket_close(b);
    return NULL;
}

static void test_read_closed_while_read_cached(void)
{
    run_on(0, main_read_closed_cached, NULL);
}

/* ---- urgent data nobody asked for ---- */

static cio_duration cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (cio_duration)ts.tv_sec * SEC + ts.tv_nsec;
}

static void *blocked_reader(void *arg)
{
    cio_tcp_stream *a = arg;
    char buf[8];
    ssize_t n = CIO_TIMEOUT(2 * SEC, cio_stream_read(a, buf, sizeof(buf)));
    CHECK_EQ(n, 1); /* the ordinary byte sent after the measurement */
    CHECK_EQ(buf[0], 'n');
    return NULL;
}

static void *main_urgent(void *arg)
{
    (void)arg;
    cio_tcp_stream *a, *b;
    tcp_pair(&a, &b);
    cio_join_handle *reader;
    CHECK_RC(cio_spawn(&reader, blocked_reader, a));
    CHECK_RC(cio_sleep(20 * MSEC)); /* the reader waits: a is registered */
    /* One byte of urgent data: out of band (SO_OOBINLINE is off), so no read returns it and
     * POLLPRI / EPOLLPRI stays raised until someone reads it with MSG_OOB — nobody will. */
    CHECK_EQ(send(cio_socket_fd(b), "u", 1, MSG_OOB), 1);
    cio_duration cpu0 = cpu_now();
    CHECK_RC(cio_sleep(500 * MSEC));
    cio_duration cpu = cpu_now() - cpu0;
    CHECK_EQ(cio_stream_write(b, "n", 1), 1);
    CHECK_RC(cio_task_join(reader, NULL, NULL));
    if (cpu > 50 * MSEC)
        TEST_FAIL("the worker spun on unsolicited urgent data: %lld ms of CPU in 500 ms",
                  (long long)(cpu / MSEC));
    cio_socket_close(a);
    cio_socket_close(b);
    return NULL;
}

static void test_unsolicited_urgent_data_does_not_spin(void)
{
    run_on(0, main_urgent, NULL);
}

CIO_TEST_MAIN(TEST(test_readable_try_read_loop_waits), TEST(test_writable_try_write_loop_waits),
              TEST(test_stale_clear_keeps_newer_edge),
              TEST(test_clear_races_new_edge_across_workers),
              TEST(test_ten_readers_woken_by_one_byte), TEST(test_ten_readers_on_two_workers),
              TEST(test_fifty_acceptors_one_listener), TEST(test_fifty_acceptors_two_workers),
              TEST(test_read_closed_while_read_cached),
              TEST(test_unsolicited_urgent_data_does_not_spin))
