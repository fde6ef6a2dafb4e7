/*
 * test_sync_threads.c: cio/sync.h across threads — producers and consumer on different
 * workers of a multi-thread runtime (exact counts and per-producer order), closing a channel
 * while tasks on both workers wait, races of cancellation and deadlines against
 * notifications, items, the mutex and permits (nothing lost, nothing taken twice), a mutex
 * guarding a plain counter from two workers and a plain thread, a semaphore bounding
 * concurrency, and plain pthreads outside the runtime on either end of a channel.
 */
/* cio-test-labels: threads */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "cio/rt.h"
#include "cio/sync.h"
#include "harness.h"

#define MS CIO_NSEC_PER_MSEC
#define SEC CIO_NSEC_PER_SEC

static cio_rt *new_multi(void)
{
    cio_rt *rt;
    cio_rt_options o = {.flavor = CIO_RT_MULTI_THREAD, .workers = 2};
    CHECK_RC(cio_rt_new(&rt, &o));
    return rt;
}

static void run_multi(cio_task_fn fn, void *arg)
{
    cio_rt *rt = new_multi();
    CHECK_RC(cio_rt_block_on(rt, fn, arg, NULL));
    cio_rt_free(rt);
}

static cio_join_handle *spawn_on(unsigned worker, cio_task_fn fn, void *arg)
{
    cio_join_handle *t;
    cio_spawn_options o = {.worker = CIO_WORKER(worker)};
    CHECK_RC(cio_spawn_ex(&t, &o, fn, arg));
    return t;
}

static intptr_t join_result(cio_join_handle *t)
{
    void *r = NULL;
    CHECK_RC(cio_task_join(t, &r, NULL));
    return (intptr_t)r;
}

/* xorshift: cheap per-task randomness, reproducible from a seed. */
static uint32_t next_random(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

static void spin_for(cio_duration ns)
{
    cio_time end = cio_now() + ns;
    while (cio_now() < end)
        ;
}

/* ---- many producers on one worker, one consumer on the other ---- */

struct item {
    uint32_t producer;
    uint32_t seq;
};

struct pipeline {
    cio_chan_receiver *rx;
    unsigned producers;
    uint32_t per_producer;
};

struct producer_arg {
    cio_chan_sender *tx;
    uint32_t id;
    uint32_t count;
};

static void *produce(void *arg)
{
    struct producer_arg *p = arg;
    for (uint32_t i = 0; i < p->count; i++) {
        struct item it = {p->id, i};
        CHECK_RC(cio_chan_send(p->tx, &it));
    }
    cio_chan_sender_free(p->tx);
    return NULL;
}

static void *consume(void *arg)
{
    struct pipeline *pl = arg;
    uint32_t next[16] = {0};
    intptr_t total = 0;
    struct item it;
    int rc;
    while ((rc = cio_chan_recv(pl->rx, &it)) == 1) {
        CHECK(it.producer < pl->producers);
        CHECK_EQ(it.seq, next[it.producer]); /* per-producer order, no loss, no duplicate */
        next[it.producer]++;
        total++;
    }
    CHECK_EQ(rc, 0); /* the end: every sender freed */
    for (unsigned p = 0; p < pl->producers; p++)
        CHECK_EQ(next[p], pl->per_producer);
    return (void *)total;
}

struct pipeline_cfg {
    size_t capacity;
    unsigned producers;
    uint32_t per_producer;
};

static void *main_pipeline(void *arg)
{
    const struct pipeline_cfg *cfg = arg;
    cio_chan_sender *tx;
    struct pipeline pl = {.producers = cfg->producers, .per_producer = cfg->per_producer};
    CHECK_RC(cio_chan_new(&tx, &pl.rx, cfg->capacity, sizeof(struct item)));
    struct producer_arg pa[16];
    cio_join_handle *prod[16];
    for (unsigned p = 0; p < cfg->producers; p++) {
        pa[p] = (struct producer_arg){.id = p, .count = cfg->per_producer};
        CHECK_RC(cio_chan_sender_clone(tx, &pa[p].tx));
    }
    cio_chan_sender_free(tx); /* the producers hold the only senders now */
    cio_join_handle *cons = spawn_on(1, consume, &pl);
    for (unsigned p = 0; p < cfg->producers; p++)
        prod[p] = spawn_on(0, produce, &pa[p]);
    for (unsigned p = 0; p < cfg->producers; p++)
        CHECK_RC(cio_task_join(prod[p], NULL, NULL));
    CHECK_EQ(join_result(cons), (intptr_t)cfg->producers * cfg->per_producer);
    cio_chan_receiver_free(pl.rx);
    return NULL;
}

static void test_chan_cross_worker(void)
{
    struct pipeline_cfg big = {.capacity = 64, .producers = 4, .per_producer = 25000};
    run_multi(main_pipeline, &big);
    /* Capacity 1: every send after the first waits and is handed off by the consumer. */
    struct pipeline_cfg narrow = {.capacity = 1, .producers = 3, .per_producer = 5000};
    run_multi(main_pipeline, &narrow);
}

/* ---- closing with waiters on both workers ---- */

struct close_ctx {
    cio_chan_sender *tx;
    cio_chan_receiver *rx;
    atomic_int waiting;
};

static void *send_until_closed(void *arg)
{
    struct close_ctx *c = arg;
    int v = 1;
    atomic_fetch_add(&c->waiting, 1);
    return (void *)(intptr_t)cio_chan_send(c->tx, &v);
}

static void *recv_until_closed(void *arg)
{
    struct close_ctx *c = arg;
    int v;
    atomic_fetch_add(&c->waiting, 1);
    return (void *)(intptr_t)cio_chan_recv(c->rx, &v);
}

static void wait_for_count(atomic_int *counter, int target)
{
    cio_time end = cio_now() + 10 * SEC;
    while (atomic_load(counter) < target && cio_now() < end)
        CHECK_RC(cio_sleep(MS));
    CHECK_EQ(atomic_load(counter), target);
    CHECK_RC(cio_sleep(10 * MS)); /* let them reach their wait */
}

static void *close_receiver_from(void *arg)
{
    CHECK_RC(cio_chan_receiver_close(arg));
    return NULL;
}

static void *free_sender_from(void *arg)
{
    cio_chan_sender_free(arg);
    return NULL;
}

static void *main_close_waiters(void *arg)
{
    (void)arg;
    enum { N = 8 };
    cio_join_handle *t[N];

    /* Full channel, senders waiting on both workers; the receiver closes from worker 1. */
    struct close_ctx full = {0};
    CHECK_RC(cio_chan_new(&full.tx, &full.rx, 2, sizeof(int)));
    int v = 7;
    CHECK_RC(cio_chan_send(full.tx, &v));
    CHECK_RC(cio_chan_send(full.tx, &v));
    for (int i = 0; i < N; i++)
        t[i] = spawn_on((unsigned)i % 2, send_until_closed, &full);
    wait_for_count(&full.waiting, N);
    CHECK_RC(cio_task_join(spawn_on(1, close_receiver_from, full.rx), NULL, NULL));
    for (int i = 0; i < N; i++)
        CHECK_EQ(join_result(t[i]), -EPIPE);
    CHECK_EQ(cio_chan_recv(full.rx, &v), 1);
    CHECK_EQ(cio_chan_recv(full.rx, &v), 1);
    CHECK_EQ(cio_chan_recv(full.rx, &v), 0);
    cio_chan_sender_free(full.tx);
    cio_chan_receiver_free(full.rx);

    /* Empty channel, receivers waiting on both workers; the last sender goes on worker 1. */
    struct close_ctx empty = {0};
    CHECK_RC(cio_chan_new(&empty.tx, &empty.rx, 2, sizeof(int)));
    for (int i = 0; i < N; i++)
        t[i] = spawn_on((unsigned)i % 2, recv_until_closed, &empty);
    wait_for_count(&empty.waiting, N);
    CHECK_RC(cio_task_join(spawn_on(1, free_sender_from, empty.tx), NULL, NULL));
    for (int i = 0; i < N; i++)
        CHECK_EQ(join_result(t[i]), 0);
    cio_chan_receiver_free(empty.rx);

    /* Empty channel, receivers waiting; the receiver handle is closed from worker 0. */
    struct close_ctx rclose = {0};
    CHECK_RC(cio_chan_new(&rclose.tx, &rclose.rx, 2, sizeof(int)));
    for (int i = 0; i < N; i++)
        t[i] = spawn_on((unsigned)i % 2, recv_until_closed, &rclose);
    wait_for_count(&rclose.waiting, N);
    CHECK_RC(cio_task_join(spawn_on(0, close_receiver_from, rclose.rx), NULL, NULL));
    for (int i = 0; i < N; i++)
        CHECK_EQ(join_result(t[i]), 0);
    CHECK_ERR(cio_chan_send(rclose.tx, &v), -EPIPE);
    cio_chan_sender_free(rclose.tx);
    cio_chan_receiver_free(rclose.rx);
    return NULL;
}

static void test_chan_close_while_waiting(void)
{
    run_multi(main_close_waiters, NULL);
}

/* ---- a notification racing a deadline ---- */

struct notify_race {
    cio_notify *n;
    cio_time deadline; /* the first waiter's */
    cio_time fire_at;  /* when the notifier calls notify_one */
    atomic_int registered;
};

static void *race_waiter(void *arg)
{
    struct notify_race *r = arg;
    CIO_DEADLINE_SCOPE(r->deadline);
    atomic_fetch_add(&r->registered, 1);
    return (void *)(intptr_t)cio_notify_wait(r->n);
}

/* Yield until a task on the other worker has set @flag (bounded: 10 s). */
static void yield_until_set(atomic_int *flag)
{
    cio_time end = cio_now() + 10 * SEC;
    while (atomic_load(flag) == 0 && cio_now() < end)
        CHECK_RC(cio_yield());
    CHECK(atomic_load(flag) != 0);
}

static void *race_notifier(void *arg)
{
    struct notify_race *r = arg;
    while (cio_now() < r->fire_at)
        ;
    CHECK_RC(cio_notify_one(r->n));
    return NULL;
}

static int notify_poll(cio_notify *n)
{
    return CIO_TIMEOUT(0, cio_notify_wait(n));
}

static void *main_notify_race(void *arg)
{
    (void)arg;
    cio_notify *n;
    CHECK_RC(cio_notify_new(&n));
    uint32_t rnd = 12345;
    int a_won = 0, b_won = 0;
    cio_time stop = cio_now() + 8 * SEC;
    for (int iter = 0; iter < 600 && cio_now() < stop; iter++) {
        /* A (first in line, short deadline) and B (second, long deadline) wait on worker 1;
         * the notifier fires on worker 0 around A's deadline. Whatever the timing, exactly
         * one of them gets the single notification: a notification that reaches A as its
         * deadline cuts it short passes to B. */
        cio_time now = cio_now();
        struct notify_race a = {.n = n, .deadline = now + 2 * MS};
        struct notify_race b = {.n = n, .deadline = now + 5 * SEC};
        cio_join_handle *ta = spawn_on(1, race_waiter, &a);
        yield_until_set(&a.registered);
        cio_join_handle *tb = spawn_on(1, race_waiter, &b);
        yield_until_set(&b.registered);
        a.fire_at = a.deadline - MS + (cio_duration)(next_random(&rnd) % (3 * MS));
        cio_join_handle *tn = spawn_on(0, race_notifier, &a);
        CHECK_RC(cio_task_join(tn, NULL, NULL));
        int ra = (int)join_result(ta);
        if (ra == 0) {
            a_won++;
            CHECK_RC(cio_task_cancel(tb));
            CHECK_JOIN_CANCELLED(tb);
        } else {
            CHECK_EQ(ra, -ETIMEDOUT);
            CHECK_EQ(join_result(tb), 0); /* long before its own deadline */
            b_won++;
        }
        /* Nothing left over either way. */
        CHECK_ERR(notify_poll(n), -ETIMEDOUT);

        /* Alone: a notification reaching a waiter cut short is stored as the permit. */
        cio_time now2 = cio_now();
        struct notify_race c = {.n = n, .deadline = now2 + 2 * MS};
        cio_join_handle *tc = spawn_on(1, race_waiter, &c);
        yield_until_set(&c.registered);
        c.fire_at = c.deadline - MS + (cio_duration)(next_random(&rnd) % (3 * MS));
        CHECK_RC(cio_task_join(spawn_on(0, race_notifier, &c), NULL, NULL));
        int rc = (int)join_result(tc);
        if (rc == 0) {
            CHECK_ERR(notify_poll(n), -ETIMEDOUT);
        } else {
            CHECK_EQ(rc, -ETIMEDOUT);
            CHECK_EQ(notify_poll(n), 0);
        }
    }
    printf("    notify race: first waiter notified %d times, second %d times\n", a_won, b_won);
    CHECK(a_won + b_won > 0);
    cio_notify_free(n);
    return NULL;
}

static void test_notify_race_deadline(void)
{
    run_multi(main_notify_race, NULL);
}

/* ---- ping-pong through two notifies: no wake-up is ever lost ---- */

struct pingpong {
    cio_notify *to_a, *to_b;
    int rounds;
};

static void *ping(void *arg)
{
    struct pingpong *p = arg;
    CIO_TIMEOUT_SCOPE(20 * SEC);
    for (int i = 0; i < p->rounds; i++) {
        CHECK_RC(cio_notify_one(p->to_b));
        CHECK_RC(cio_notify_wait(p->to_a));
    }
    return NULL;
}

static void *pong(void *arg)
{
    struct pingpong *p = arg;
    CIO_TIMEOUT_SCOPE(20 * SEC);
    for (int i = 0; i < p->rounds; i++) {
        CHECK_RC(cio_notify_wait(p->to_b));
        CHECK_RC(cio_notify_one(p->to_a));
    }
    return NULL;
}

static void *main_pingpong(void *arg)
{
    (void)arg;
    struct pingpong p = {.rounds = 20000};
    CHECK_RC(cio_notify_new(&p.to_a));
    CHECK_RC(cio_notify_new(&p.to_b));
    cio_join_handle *a = spawn_on(0, ping, &p);
    cio_join_handle *b = spawn_on(1, pong, &p);
    CHECK_RC(cio_task_join(a, NULL, NULL));
    CHECK_RC(cio_task_join(b, NULL, NULL));
    cio_notify_free(p.to_a);
    cio_notify_free(p.to_b);
    return NULL;
}

static void test_notify_pingpong(void)
{
    run_multi(main_pingpong, NULL);
}

/* ---- items racing deadlines and cancellation: in == out, in order ---- */

struct lossless {
    cio_chan_sender *tx;
    cio_chan_receiver *rx;
    uint32_t count;
    uint32_t next;        /* the consumer side: next sequence number expected */
    atomic_bool finished; /* the consumer saw the end */
    atomic_int send_timeouts, recv_timeouts;
};

static void *racing_producer(void *arg)
{
    struct lossless *l = arg;
    uint32_t rnd = 99;
    for (uint32_t i = 0; i < l->count;) {
        int rc = CIO_TIMEOUT(next_random(&rnd) % (2 * MS), cio_chan_send(l->tx, &i));
        if (rc == -ETIMEDOUT) {
            atomic_fetch_add(&l->send_timeouts, 1);
            continue; /* not enqueued: send the same item again */
        }
        CHECK_RC(rc);
        i++;
        if (next_random(&rnd) % 64 == 0)
            spin_for(next_random(&rnd) % (2 * MS));
    }
    cio_chan_sender_free(l->tx);
    return NULL;
}

/* One of a series of consumers: each is cancelled at a random moment and the next takes
 * over; they run one at a time, so l->next needs no lock. */
static void *racing_consumer(void *arg)
{
    struct lossless *l = arg;
    uint32_t rnd = l->next * 2654435761u + 1;
    for (;;) {
        uint32_t v;
        int rc = CIO_TIMEOUT(next_random(&rnd) % (2 * MS), cio_chan_recv(l->rx, &v));
        if (rc == 1) {
            CHECK_EQ(v, l->next);
            l->next++;
            /* Fall behind now and then, so the producer waits on a full channel too. */
            if (next_random(&rnd) % 32 == 0 &&
                cio_sleep((cio_duration)(next_random(&rnd) % (2 * MS))) == -ECANCELED)
                return NULL;
        } else if (rc == 0) {
            atomic_store(&l->finished, true);
            return NULL;
        } else if (rc == -ETIMEDOUT) {
            atomic_fetch_add(&l->recv_timeouts, 1);
        } else {
            CHECK_EQ(rc, -ECANCELED);
            return NULL;
        }
    }
}

static void *main_lossless(void *arg)
{
    (void)arg;
    struct lossless l = {.count = 20000};
    CHECK_RC(cio_chan_new(&l.tx, &l.rx, 4, sizeof(uint32_t)));
    cio_join_handle *prod = spawn_on(0, racing_producer, &l);
    uint32_t rnd = 7;
    int consumers = 0;
    cio_time stop = cio_now() + 30 * SEC;
    while (!atomic_load(&l.finished) && cio_now() < stop) {
        cio_join_handle *c = spawn_on(1, racing_consumer, &l);
        consumers++;
        CHECK_RC(cio_sleep((cio_duration)(next_random(&rnd) % (3 * MS))));
        CHECK_RC(cio_task_cancel(c));
        (void)cio_task_join(c, NULL, NULL); /* -ECANCELED unless it had already seen the end */
    }
    CHECK(atomic_load(&l.finished));
    CHECK_RC(cio_task_join(prod, NULL, NULL));
    CHECK_EQ(l.next, l.count); /* every item exactly once, in order */
    printf("    lossless: %d consumers, %d send and %d recv timeouts\n", consumers,
           atomic_load(&l.send_timeouts), atomic_load(&l.recv_timeouts));
    cio_chan_receiver_free(l.rx);
    return NULL;
}

static void test_chan_lossless_races(void)
{
    run_multi(main_lossless, NULL);
}

/* Several receivers at once (the receiver handle is shared), on both workers, with short
 * deadlines: each item is received exactly once, and a wake that reaches a receiver as its
 * deadline passes moves on to another receiver. */
struct shared_rx {
    cio_chan_receiver *rx;
    uint32_t count;
    atomic_uchar *seen;
    atomic_int timeouts;
};

static void *shared_receiver(void *arg)
{
    struct shared_rx *sr = arg;
    uint32_t rnd = (uint32_t)(uintptr_t)cio_task_current() | 1;
    intptr_t got = 0;
    for (int guard = 0; guard < 10000000; guard++) {
        uint32_t v;
        int rc = CIO_TIMEOUT(next_random(&rnd) % (2 * MS), cio_chan_recv(sr->rx, &v));
        if (rc == 0)
            return (void *)got;
        if (rc == -ETIMEDOUT) {
            atomic_fetch_add(&sr->timeouts, 1);
            continue;
        }
        CHECK_EQ(rc, 1);
        CHECK(v < sr->count);
        CHECK_EQ(atomic_fetch_add(&sr->seen[v], 1), 0);
        got++;
    }
    TEST_FAIL("receiver never saw the end");
}

static void *paced_producer(void *arg)
{
    struct lossless *l = arg;
    uint32_t rnd = 5;
    for (uint32_t i = 0; i < l->count; i++) {
        CHECK_RC(cio_chan_send(l->tx, &i));
        if (next_random(&rnd) % 16 == 0)
            CHECK_RC(cio_sleep((cio_duration)(next_random(&rnd) % (2 * MS))));
    }
    cio_chan_sender_free(l->tx);
    return NULL;
}

static void *main_shared_receivers(void *arg)
{
    (void)arg;
    enum { COUNT = 5000, RECEIVERS = 4 };
    static atomic_uchar seen[COUNT];
    struct lossless l = {.count = COUNT};
    struct shared_rx sr = {.count = COUNT, .seen = seen};
    CHECK_RC(cio_chan_new(&l.tx, &sr.rx, 2, sizeof(uint32_t)));
    cio_join_handle *r[RECEIVERS];
    for (int i = 0; i < RECEIVERS; i++)
        r[i] = spawn_on((unsigned)i % 2, shared_receiver, &sr);
    cio_join_handle *p = spawn_on(0, paced_producer, &l);
    CHECK_RC(cio_task_join(p, NULL, NULL));
    intptr_t total = 0;
    for (int i = 0; i < RECEIVERS; i++)
        total += join_result(r[i]);
    CHECK_EQ(total, COUNT);
    for (int i = 0; i < COUNT; i++)
        CHECK_EQ(atomic_load(&seen[i]), 1);
    printf("    shared receivers: %d timeouts\n", atomic_load(&sr.timeouts));
    cio_chan_receiver_free(sr.rx);
    return NULL;
}

static void test_chan_shared_receivers(void)
{
    run_multi(main_shared_receivers, NULL);
}

/* ---- a mutex guarding a plain counter: tasks on two workers and a plain thread ---- */

struct counter {
    cio_mutex *m;
    long value;    /* plain: only the mutex protects it */
    bool inside;   /* someone holds the mutex (checked for exclusion) */
    int per_agent; /* increments by each task or thread */
};

static void locked_increment(struct counter *c, int i)
{
    CHECK(!c->inside);
    c->inside = true;
    c->value++;
    if (i % 500 == 0 && cio_task_current() != NULL)
        CHECK_RC(cio_yield()); /* hold it across a suspension now and then */
    c->inside = false;
}

static void *count_task(void *arg)
{
    struct counter *c = arg;
    for (int i = 0; i < c->per_agent; i++) {
        CHECK_RC(cio_mutex_lock(c->m));
        locked_increment(c, i);
        CHECK_RC(cio_mutex_unlock(c->m));
    }
    return NULL;
}

static void *count_thread(void *arg)
{
    struct counter *c = arg;
    for (int i = 0; i < c->per_agent; i++) {
        if (i % 2 == 0)
            CHECK_RC(cio_mutex_lock(c->m));
        else if (cio_mutex_try_lock(c->m) == -EAGAIN)
            CHECK_RC(cio_mutex_lock(c->m));
        locked_increment(c, i);
        CHECK_RC(cio_mutex_unlock(c->m));
    }
    return NULL;
}

static void *main_counter(void *arg)
{
    struct counter *c = arg;
    cio_join_handle *t[4];
    for (int i = 0; i < 4; i++)
        t[i] = spawn_on((unsigned)i % 2, count_task, c);
    for (int i = 0; i < 4; i++)
        CHECK_RC(cio_task_join(t[i], NULL, NULL));
    return NULL;
}

static void test_mutex_counter(void)
{
    struct counter c = {.per_agent = 25000};
    CHECK_RC(cio_mutex_new(&c.m));
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, count_thread, &c), 0);
    run_multi(main_counter, &c);
    CHECK_EQ(pthread_join(th, NULL), 0);
    CHECK_EQ(c.value, 5L * c.per_agent);
    CHECK_RC(cio_mutex_try_lock(c.m));
    CHECK_RC(cio_mutex_unlock(c.m));
    cio_mutex_free(c.m);
}

/* ---- lock racing deadlines and cancellation ---- */

struct lock_race {
    cio_mutex *m;
    long value;
    atomic_long successes;
    atomic_long timeouts;
    atomic_bool stop;
};

static void *lock_with_deadlines(void *arg)
{
    struct lock_race *r = arg;
    uint32_t rnd = (uint32_t)(uintptr_t)cio_task_current() | 1;
    for (int i = 0; i < 100000 && !atomic_load(&r->stop); i++) {
        int rc = CIO_TIMEOUT(next_random(&rnd) % MS, cio_mutex_lock(r->m));
        if (rc == -ECANCELED) {
            CHECK_ERR(cio_mutex_unlock(r->m), -EPERM); /* holds nothing */
            return NULL;
        }
        if (rc == -ETIMEDOUT) {
            CHECK_ERR(cio_mutex_unlock(r->m), -EPERM);
            atomic_fetch_add(&r->timeouts, 1);
            continue;
        }
        CHECK_RC(rc);
        r->value++;
        if (next_random(&rnd) % 4 == 0)
            spin_for(next_random(&rnd) % (200 * CIO_NSEC_PER_USEC));
        CHECK_RC(cio_mutex_unlock(r->m));
        atomic_fetch_add(&r->successes, 1);
    }
    return NULL;
}

static void *main_lock_race(void *arg)
{
    struct lock_race *r = arg;
    cio_join_handle *steady[4];
    for (int i = 0; i < 4; i++)
        steady[i] = spawn_on((unsigned)i % 2, lock_with_deadlines, r);
    /* Victims: cancelled at random moments, mostly while waiting or just handed the lock. */
    uint32_t rnd = 3;
    cio_time stop = cio_now() + 3 * SEC;
    for (int i = 0; i < 300 && cio_now() < stop; i++) {
        cio_join_handle *v = spawn_on((unsigned)i % 2, lock_with_deadlines, r);
        CHECK_RC(cio_sleep((cio_duration)(next_random(&rnd) % (2 * MS))));
        CHECK_RC(cio_task_cancel(v));
        (void)cio_task_join(v, NULL, NULL);
    }
    atomic_store(&r->stop, true);
    for (int i = 0; i < 4; i++)
        CHECK_RC(cio_task_join(steady[i], NULL, NULL));
    return NULL;
}

static void test_mutex_races(void)
{
    struct lock_race r = {0};
    CHECK_RC(cio_mutex_new(&r.m));
    run_multi(main_lock_race, &r);
    CHECK_EQ(r.value, atomic_load(&r.successes));
    printf("    mutex races: %ld locks, %ld timeouts\n", atomic_load(&r.successes),
           atomic_load(&r.timeouts));
    /* Free at the end: no grant was lost to a waiter that left. */
    CHECK_RC(cio_mutex_try_lock(r.m));
    CHECK_RC(cio_mutex_unlock(r.m));
    cio_mutex_free(r.m);
}

/* ---- a semaphore bounding concurrency across workers ---- */

struct bounded {
    cio_sem *s;
    atomic_int inside;
    atomic_int max_inside;
    atomic_int timeouts;
};

static void *bounded_task(void *arg)
{
    struct bounded *b = arg;
    uint32_t rnd = (uint32_t)(uintptr_t)cio_task_current() | 1;
    for (int i = 0; i < 400; i++) {
        size_t n = 1 + next_random(&rnd) % 2;
        cio_duration timeout = i % 3 == 0 ? (cio_duration)(next_random(&rnd) % MS) : INT64_MAX;
        int rc = CIO_TIMEOUT(timeout, cio_sem_acquire(b->s, n));
        if (rc == -ETIMEDOUT) {
            atomic_fetch_add(&b->timeouts, 1);
            continue;
        }
        CHECK_RC(rc);
        int now = atomic_fetch_add(&b->inside, (int)n) + (int)n;
        int max = atomic_load(&b->max_inside);
        while (now > max && !atomic_compare_exchange_weak(&b->max_inside, &max, now))
            ;
        if (i % 2)
            spin_for(next_random(&rnd) % (100 * CIO_NSEC_PER_USEC));
        else
            CHECK_RC(cio_yield());
        atomic_fetch_sub(&b->inside, (int)n);
        CHECK_RC(cio_sem_release(b->s, n));
    }
    return NULL;
}

static void *bounded_thread(void *arg)
{
    struct bounded *b = arg;
    for (int i = 0; i < 400; i++) {
        CHECK_RC(cio_sem_acquire(b->s, 1));
        int now = atomic_fetch_add(&b->inside, 1) + 1;
        int max = atomic_load(&b->max_inside);
        while (now > max && !atomic_compare_exchange_weak(&b->max_inside, &max, now))
            ;
        atomic_fetch_sub(&b->inside, 1);
        CHECK_RC(cio_sem_release(b->s, 1));
    }
    return NULL;
}

static void *main_bounded(void *arg)
{
    struct bounded *b = arg;
    cio_join_handle *t[8];
    for (int i = 0; i < 8; i++)
        t[i] = spawn_on((unsigned)i % 2, bounded_task, b);
    for (int i = 0; i < 8; i++)
        CHECK_RC(cio_task_join(t[i], NULL, NULL));
    return NULL;
}

static void test_sem_bounds_concurrency(void)
{
    struct bounded b = {0};
    CHECK_RC(cio_sem_new(&b.s, 3));
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, bounded_thread, &b), 0);
    run_multi(main_bounded, &b);
    CHECK_EQ(pthread_join(th, NULL), 0);
    CHECK(atomic_load(&b.max_inside) <= 3);
    CHECK(atomic_load(&b.max_inside) >= 2);
    CHECK_EQ(cio_sem_available(b.s), 3); /* no permit lost by a waiter cut short */
    printf("    semaphore: max concurrency %d, %d timeouts\n", atomic_load(&b.max_inside),
           atomic_load(&b.timeouts));
    cio_sem_free(b.s);
}

/* ---- plain threads outside the runtime ---- */

struct bridge {
    cio_chan_sender *to_task;     /* the thread sends, a task receives */
    cio_chan_receiver *from_task; /* a task sends, the thread receives */
    cio_chan_receiver *task_rx;
    cio_chan_sender *task_tx;
    cio_notify *ready;
    uint32_t count;
};

static void *bridge_thread(void *arg)
{
    struct bridge *b = arg;
    /* Wait (blocking this thread) until the runtime side says go. */
    CHECK_RC(cio_notify_wait(b->ready));
    for (uint32_t i = 0; i < b->count; i++)
        CHECK_RC(cio_chan_send(b->to_task, &i));
    cio_chan_sender_free(b->to_task);
    uint32_t v, expect = 0;
    int rc;
    while ((rc = cio_chan_recv(b->from_task, &v)) == 1)
        CHECK_EQ(v, expect++);
    CHECK_EQ(rc, 0);
    CHECK_EQ(expect, b->count);
    cio_chan_receiver_free(b->from_task);
    return NULL;
}

static void *bridge_main(void *arg)
{
    struct bridge *b = arg;
    CHECK_RC(cio_notify_one(b->ready));
    uint32_t v, expect = 0;
    int rc;
    while ((rc = cio_chan_recv(b->task_rx, &v)) == 1)
        CHECK_EQ(v, expect++);
    CHECK_EQ(rc, 0);
    CHECK_EQ(expect, b->count);
    for (uint32_t i = 0; i < b->count; i++)
        CHECK_RC(cio_chan_send(b->task_tx, &i));
    cio_chan_sender_free(b->task_tx);
    return NULL;
}

static void run_bridge(cio_rt_options opts)
{
    struct bridge b = {.count = 20000};
    CHECK_RC(cio_chan_new(&b.to_task, &b.task_rx, 8, sizeof(uint32_t)));
    CHECK_RC(cio_chan_new(&b.task_tx, &b.from_task, 8, sizeof(uint32_t)));
    CHECK_RC(cio_notify_new(&b.ready));
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, bridge_thread, &b), 0);
    cio_rt *rt;
    CHECK_RC(cio_rt_new(&rt, &opts));
    CHECK_RC(cio_rt_block_on(rt, bridge_main, &b, NULL));
    CHECK_EQ(pthread_join(th, NULL), 0);
    cio_rt_free(rt);
    cio_chan_receiver_free(b.task_rx);
    cio_notify_free(b.ready);
}

static void test_plain_thread(void)
{
    run_bridge((cio_rt_options){.flavor = CIO_RT_CURRENT_THREAD});
    run_bridge((cio_rt_options){.flavor = CIO_RT_MULTI_THREAD, .workers = 2});
}

/* Two plain threads and no runtime at all. */
static void *thread_waiter(void *arg)
{
    cio_sem *s = arg;
    return (void *)(intptr_t)cio_sem_acquire(s, 2);
}

static void test_threads_without_runtime(void)
{
    cio_sem *s;
    CHECK_RC(cio_sem_new(&s, 0));
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, thread_waiter, s), 0);
    usleep(20000);
    CHECK_RC(cio_sem_release(s, 1));
    usleep(20000);
    CHECK_EQ(cio_sem_available(s), 1); /* the waiter needs 2 */
    CHECK_RC(cio_sem_release(s, 1));
    void *r;
    CHECK_EQ(pthread_join(th, &r), 0);
    CHECK_EQ((intptr_t)r, 0);
    CHECK_EQ(cio_sem_available(s), 0);
    /* Close wakes a blocked thread too. */
    CHECK_EQ(pthread_create(&th, NULL, thread_waiter, s), 0);
    usleep(20000);
    CHECK_RC(cio_sem_close(s));
    CHECK_EQ(pthread_join(th, &r), 0);
    CHECK_EQ((intptr_t)r, -EPIPE);
    cio_sem_free(s);
}

CIO_TEST_MAIN(TEST(test_chan_cross_worker), TEST(test_chan_close_while_waiting),
              TEST(test_notify_race_deadline), TEST(test_notify_pingpong),
              TEST(test_chan_lossless_races), TEST(test_chan_shared_receivers),
              TEST(test_mutex_counter), TEST(test_mutex_races), TEST(test_sem_bounds_concurrency),
              TEST(test_plain_thread), TEST(test_threads_without_runtime))
