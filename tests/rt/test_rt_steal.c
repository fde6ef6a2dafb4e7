/*
 * test_rt_steal.c: work stealing on the multi-thread runtime — CPU-bound tasks spawned from
 * one task run on both workers; pinned tasks never leave their worker, and with stealing off
 * no task leaves the worker it was spawned on; a stress of 100,000 tasks waking each other
 * across workers through channels, notifies and join sets, with timers, where every wait is
 * bounded (a lost wake-up fails the case instead of hanging it) and every message is counted
 * (a double run or a lost one shows; the scheduler itself asserts that no two workers run a
 * task at once). Run under TSan in CI.
 */
/* cio-test-labels: threads slow */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "cio/metrics.h"
#include "cio/rt.h"
#include "cio/sync.h"
#include "harness.h"
#include "rt/runtime.h"

static cio_rt *new_multi(unsigned workers, bool no_stealing)
{
    cio_rt *rt;
    cio_rt_options o = {
        .flavor = CIO_RT_MULTI_THREAD, .workers = workers, .no_stealing = no_stealing};
    CHECK_RC(cio_rt_new(&rt, &o));
    return rt;
}

/* ---- CPU-bound tasks spread over the workers ---- */

enum { SLICES = 2000 };

struct cpu_run {
    atomic_ulong slices_on[2]; /* slices run per worker */
    atomic_int started;
};

static _Atomic uint64_t cpu_sink;

static void *cpu_task(void *arg)
{
    struct cpu_run *run = arg;
    atomic_fetch_add(&run->started, 1);
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < SLICES; i++) {
        for (int k = 0; k < 2000; k++) { /* a slice of work, then a yield */
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        int w = cio_rt_worker_index();
        CHECK(w == 0 || w == 1);
        atomic_fetch_add(&run->slices_on[w], 1);
        CHECK_RC(cio_yield());
    }
    atomic_store_explicit(&cpu_sink, x, memory_order_relaxed);
    return NULL;
}

static void *main_cpu(void *arg)
{
    struct cpu_run *run = arg;
    cio_join_handle *a, *b;
    CHECK_RC(cio_spawn(&a, cpu_task, run));
    CHECK_RC(cio_spawn(&b, cpu_task, run));
    CHECK_RC(cio_task_join(a, NULL, NULL));
    CHECK_RC(cio_task_join(b, NULL, NULL));
    return NULL;
}

static void test_cpu_tasks_use_both_workers(void)
{
    cio_rt *rt = new_multi(2, false);
    struct cpu_run run = {0};
    CHECK_RC(cio_rt_block_on(rt, main_cpu, &run, NULL));
    cio_rt_free(rt);
    unsigned long on0 = atomic_load(&run.slices_on[0]), on1 = atomic_load(&run.slices_on[1]);
    printf("slices: worker 0 %lu, worker 1 %lu\n", on0, on1);
    CHECK_EQ(on0 + on1, 2 * SLICES);
    CHECK(on0 > 0);
    CHECK(on1 > 0);
}

static void test_no_stealing_keeps_tasks_home(void)
{
    cio_rt *rt = new_multi(2, true);
    struct cpu_run run = {0};
    CHECK_RC(cio_rt_block_on(rt, main_cpu, &run, NULL));
    cio_rt_free(rt);
    /* Spawned by the main task, on worker 0: they stayed there. */
    CHECK_EQ(atomic_load(&run.slices_on[0]), 2 * SLICES);
    CHECK_EQ(atomic_load(&run.slices_on[1]), 0);
}

/* ---- pinned tasks never leave their worker ---- */

struct pinned {
    int home;
    cio_sem *poke; /* released by a shared task that may run anywhere */
};

static void *poker(void *arg)
{
    struct pinned *p = arg;
    for (int i = 0; i < 50; i++) {
        CHECK_RC(cio_sem_release(p->poke, 1));
        CHECK_RC(cio_yield());
    }
    return NULL;
}

static void *pinned_task(void *arg)
{
    struct pinned *p = arg;
    cio_join_handle *h;
    CHECK_RC(cio_spawn(&h, poker, p)); /* shared: wakes us from wherever it runs */
    for (int i = 0; i < 50; i++) {
        CHECK_EQ(cio_rt_worker_index(), p->home);
        cio_time saved = cio_deadline_set(cio_now() + 10 * CIO_NSEC_PER_SEC);
        CHECK_RC(cio_sem_acquire(p->poke, 1));
        cio_deadline_restore(saved);
        CHECK_EQ(cio_rt_worker_index(), p->home);
        if (i % 10 == 0)
            CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
        CHECK_EQ(cio_rt_worker_index(), p->home);
        CHECK_RC(cio_yield());
    }
    CHECK_RC(cio_task_join(h, NULL, NULL));
    CHECK_EQ(cio_rt_worker_index(), p->home);
    return NULL;
}

static void *main_pinned(void *arg)
{
    (void)arg;
    enum { N = 64 };
    struct pinned p[N];
    cio_join_handle *h[N];
    for (int i = 0; i < N; i++) {
        p[i].home = i % 2;
        CHECK_RC(cio_sem_new(&p[i].poke, 0));
        cio_spawn_options o = {.worker = CIO_WORKER(i % 2)};
        CHECK_RC(cio_spawn_ex(&h[i], &o, pinned_task, &p[i]));
    }
    for (int i = 0; i < N; i++) {
        CHECK_RC(cio_task_join(h[i], NULL, NULL));
        cio_sem_free(p[i].poke);
    }
    return NULL;
}

static void test_pinned_tasks_stay(void)
{
    cio_rt *rt = new_multi(2, false);
    CHECK_RC(cio_rt_block_on(rt, main_pinned, NULL, NULL));
    cio_rt_free(rt);
}

/* ---- stress: 100,000 tasks waking each other across workers ---- */

enum { ROUNDS = 100, PAIRS = 500, BOUNCES = 2 };

struct pair {
    cio_chan_sender *tx[2];
    cio_chan_receiver *rx[2];
    atomic_int inside; /* a task of the pair inside its step: at most one at a time */
};

struct side {
    struct pair *pair;
    int me;
};

struct stress {
    atomic_ulong runs_on[2];
};

static struct stress stress_stats;

/* Side 0 starts; each side receives the counter, checks it, bumps it and sends it back; so
 * the two alternate strictly, and each message is received exactly once. */
static void *bouncer(void *arg)
{
    struct side *s = arg;
    struct pair *p = s->pair;
    cio_time saved = cio_deadline_set(cio_now() + 30 * CIO_NSEC_PER_SEC);
    if (s->me == 0) {
        uint64_t first = 0;
        CHECK_RC(cio_chan_send(p->tx[1], &first));
    }
    for (int i = 0; i < BOUNCES; i++) {
        uint64_t v = 0;
        CHECK_EQ(cio_chan_recv(p->rx[s->me], &v), 1);
        CHECK_EQ(atomic_fetch_add(&p->inside, 1), 0); /* the other side is waiting */
        CHECK_EQ(v, (uint64_t)(2 * i + (s->me == 0 ? 1 : 0)));
        int w = cio_rt_worker_index();
        CHECK(w == 0 || w == 1);
        atomic_fetch_add(&stress_stats.runs_on[w], 1);
        if (i == 1 && s->me == 1)
            CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC / 4)); /* a timer now and then */
        v++;
        CHECK_EQ(atomic_fetch_sub(&p->inside, 1), 1);
        if (!(s->me == 0 && i == BOUNCES - 1))
            CHECK_RC(cio_chan_send(p->tx[1 - s->me], &v));
    }
    cio_deadline_restore(saved);
    return (void *)(intptr_t)s->me;
}

static void *main_stress(void *arg)
{
    (void)arg;
    struct pair *pairs = calloc(PAIRS, sizeof(*pairs));
    struct side *sides = calloc(2 * PAIRS, sizeof(*sides));
    CHECK(pairs != NULL && sides != NULL);
    int64_t start = cio_test_now_ms();
    for (int r = 0; r < ROUNDS; r++) {
        cio_join_set *set;
        CHECK_RC(cio_join_set_new(&set));
        for (int i = 0; i < PAIRS; i++) {
            for (int d = 0; d < 2; d++)
                CHECK_RC(cio_chan_new(&pairs[i].tx[d], &pairs[i].rx[d], 1, sizeof(uint64_t)));
            atomic_init(&pairs[i].inside, 0);
            for (int d = 0; d < 2; d++) {
                sides[2 * i + d] = (struct side){&pairs[i], d};
                CHECK_RC(cio_join_set_spawn(set, NULL, bouncer, &sides[2 * i + d], NULL));
            }
        }
        int joined = 0;
        cio_time saved = cio_deadline_set(cio_now() + 60 * CIO_NSEC_PER_SEC);
        while (cio_join_set_len(set) > 0) {
            CHECK_RC(cio_join_set_join_next(set, NULL, NULL));
            joined++;
        }
        cio_deadline_restore(saved);
        CHECK_EQ(joined, 2 * PAIRS);
        cio_join_set_free(set);
        for (int i = 0; i < PAIRS; i++)
            for (int d = 0; d < 2; d++) {
                cio_chan_sender_free(pairs[i].tx[d]);
                cio_chan_receiver_free(pairs[i].rx[d]);
            }
    }
    printf("%d tasks in %lld ms; steps on worker 0 %lu, worker 1 %lu\n", ROUNDS * PAIRS * 2,
           (long long)(cio_test_now_ms() - start), atomic_load(&stress_stats.runs_on[0]),
           atomic_load(&stress_stats.runs_on[1]));
    CHECK_EQ(atomic_load(&stress_stats.runs_on[0]) + atomic_load(&stress_stats.runs_on[1]),
             (unsigned long)ROUNDS * PAIRS * 2 * BOUNCES);
    free(pairs);
    free(sides);
    return NULL;
}

static void test_stress_wakes_across_workers(void)
{
    /* This case's own bound, above the harness's default: it takes about a minute under
     * ThreadSanitizer (a few seconds otherwise). Every wait inside has its own deadline. */
    alarm(300);
    cio_rt *rt = new_multi(2, false);
    CHECK_RC(cio_rt_block_on(rt, main_stress, NULL, NULL));
    /* (Stealing is what moved them: the spawns all went to worker 0's queue.) */
    printf("tasks stolen by worker 0: %lu, by worker 1: %lu\n", atomic_load(&rt->workers[0].steals),
           atomic_load(&rt->workers[1].steals));
    CHECK(atomic_load(&rt->workers[0].steals) + atomic_load(&rt->workers[1].steals) > 0);
    /* The same, as a program sees it (cio/metrics.h). */
    cio_worker_metrics m = CIO_METRICS_INIT(m), w0 = CIO_METRICS_INIT(w0),
                       w1 = CIO_METRICS_INIT(w1);
    CHECK_RC(cio_rt_worker_metrics_read(rt, CIO_METRICS_TOTAL, &m));
    CHECK_RC(cio_rt_worker_metrics_read(rt, 0, &w0));
    CHECK_RC(cio_rt_worker_metrics_read(rt, 1, &w1));
    CHECK(m.steals > 0);
    CHECK_EQ(m.steals, w0.steals + w1.steals);
    cio_rt_free(rt);
}

/* ---- timers of tasks that move ---- */

static void *sleeper(void *arg)
{
    atomic_int *done = arg;
    for (int i = 0; i < 20; i++) {
        cio_time before = cio_now();
        CHECK_RC(cio_sleep((cio_duration)(i % 3) * CIO_NSEC_PER_MSEC));
        CHECK(cio_now() >= before + (cio_duration)(i % 3) * CIO_NSEC_PER_MSEC);
        CHECK_RC(cio_yield());
    }
    /* A deadline that fires while the task waits on something nobody signals. */
    cio_notify *never;
    CHECK_RC(cio_notify_new(&never));
    cio_time saved = cio_deadline_set(cio_now() + 2 * CIO_NSEC_PER_MSEC);
    CHECK_ERR(cio_notify_wait(never), -ETIMEDOUT);
    cio_deadline_restore(saved);
    cio_notify_free(never);
    atomic_fetch_add(done, 1);
    return NULL;
}

static void *main_sleepers(void *arg)
{
    (void)arg;
    enum { N = 500 };
    atomic_int done = 0;
    cio_join_set *set;
    CHECK_RC(cio_join_set_new(&set));
    for (int i = 0; i < N; i++)
        CHECK_RC(cio_join_set_spawn(set, NULL, sleeper, &done, NULL));
    cio_time saved = cio_deadline_set(cio_now() + 60 * CIO_NSEC_PER_SEC);
    while (cio_join_set_len(set) > 0)
        CHECK_RC(cio_join_set_join_next(set, NULL, NULL));
    cio_deadline_restore(saved);
    cio_join_set_free(set);
    CHECK_EQ(atomic_load(&done), N);
    return NULL;
}

static void test_timers_of_moving_tasks(void)
{
    cio_rt *rt = new_multi(2, false);
    CHECK_RC(cio_rt_block_on(rt, main_sleepers, NULL, NULL));
    cio_rt_free(rt);
}

/*
 * A shared task parked with a timer armed is free to move: woken by a task pinned to the
 * other worker, it runs there next (the waker's LIFO slot) and takes its timer out of the
 * first worker's wheel from the second. Each hop: the mover asks the pinned poker on the other
 * worker to notify it, then waits with a deadline. Half the waits have a deadline of about
 * the poke's delay, so the timer fires on the first worker while the poke comes from the
 * second: either result, never both (no double run: the scheduler asserts it), never
 * neither (a lost wake-up: the outer bound fails the case).
 */
enum { TIMED_HOPS = 400 };

struct timed_hop {
    cio_chan_sender *go[2]; /* to the poker pinned on worker i */
    cio_chan_receiver *go_rx[2];
    cio_notify *wake;
    int moved, stayed, timed_out;
    atomic_bool done;
};

struct poker_arg {
    struct timed_hop *h;
    int me;
};

static void *timed_poker(void *arg)
{
    struct poker_arg *pa = arg;
    struct timed_hop *h = pa->h;
    cio_time saved = cio_deadline_set(cio_now() + 60 * CIO_NSEC_PER_SEC);
    for (;;) {
        int delay = 0;
        if (cio_chan_recv(h->go_rx[pa->me], &delay) != 1)
            break; /* closed: the mover is done */
        CHECK_EQ(cio_rt_worker_index(), pa->me);
        if (delay > 0)
            CHECK_RC(cio_sleep((cio_duration)delay * CIO_NSEC_PER_USEC));
        CHECK_RC(cio_notify_one(h->wake));
    }
    cio_deadline_restore(saved);
    return NULL;
}

static void *timed_mover(void *arg)
{
    struct timed_hop *h = arg;
    for (int i = 0; i < TIMED_HOPS; i++) {
        int before = cio_rt_worker_index();
        int delay = i % 2 ? 200 : 0; /* µs: racing the deadline below, or well before it */
        CHECK_RC(cio_chan_send(h->go[1 - before], &delay));
        cio_duration wait = i % 2 ? 200 * CIO_NSEC_PER_USEC : 10 * CIO_NSEC_PER_SEC;
        cio_time saved = cio_deadline_set(cio_now() + wait);
        int rc = cio_notify_wait(h->wake);
        cio_deadline_restore(saved);
        CHECK(rc == 0 || (rc == -ETIMEDOUT && i % 2));
        if (rc == -ETIMEDOUT) {
            h->timed_out++;
            /* the poke comes all the same: take it, so the next wait is not woken by it */
            saved = cio_deadline_set(cio_now() + 10 * CIO_NSEC_PER_SEC);
            CHECK_RC(cio_notify_wait(h->wake));
            cio_deadline_restore(saved);
        }
        if (cio_rt_worker_index() != before)
            h->moved++;
        else
            h->stayed++;
    }
    return NULL;
}

static void *main_timed_hops(void *arg)
{
    struct timed_hop *h = arg;
    CHECK_RC(cio_notify_new(&h->wake));
    cio_join_handle *pokers[2];
    struct poker_arg pa[2];
    for (int i = 0; i < 2; i++) {
        CHECK_RC(cio_chan_new(&h->go[i], &h->go_rx[i], 4, sizeof(int)));
        pa[i] = (struct poker_arg){h, i};
        cio_spawn_options o = {.worker = CIO_WORKER((unsigned)i)};
        CHECK_RC(cio_spawn_ex(&pokers[i], &o, timed_poker, &pa[i]));
    }
    cio_join_handle *mover;
    CHECK_RC(cio_spawn(&mover, timed_mover, h)); /* shared */
    cio_time saved = cio_deadline_set(cio_now() + 120 * CIO_NSEC_PER_SEC);
    CHECK_RC(cio_task_join(mover, NULL, NULL));
    for (int i = 0; i < 2; i++) {
        cio_chan_sender_free(h->go[i]); /* the only sender: the poker's receive ends */
        CHECK_RC(cio_task_join(pokers[i], NULL, NULL));
        cio_chan_receiver_free(h->go_rx[i]);
    }
    cio_deadline_restore(saved);
    cio_notify_free(h->wake);
    return NULL;
}

static void test_timed_waits_move(void)
{
    struct timed_hop h = {0};
    cio_rt *rt = new_multi(2, false);
    CHECK_RC(cio_rt_block_on(rt, main_timed_hops, &h, NULL));
    cio_rt_free(rt);
    printf("timed waits: %d resumed on the other worker, %d where they parked, %d timed out\n",
           h.moved, h.stayed, h.timed_out);
    CHECK_EQ(h.moved + h.stayed, TIMED_HOPS);
    /* Woken by a task of the other worker, a task runs there next: most waits move (a task
     * bound to its timer's worker, as before, would move in none of them). */
    CHECK(h.moved > TIMED_HOPS / 4);
}

/* ---- spawned from outside, never block_on: cio_rt_free runs them ---- */

static void *count_one(void *arg)
{
    (void)cio_yield(); /* cio_rt_free cancels them: -ECANCELED, and they run all the same */
    atomic_fetch_add((atomic_int *)arg, 1);
    return NULL;
}

static void test_free_runs_shared_tasks(void)
{
    cio_rt *rt = new_multi(2, false);
    atomic_int ran = 0;
    for (int i = 0; i < 100; i++)
        CHECK_RC(cio_rt_spawn(rt, NULL, NULL, count_one, &ran));
    cio_rt_free(rt);
    CHECK_EQ(atomic_load(&ran), 100);
}

CIO_TEST_MAIN(TEST(test_timed_waits_move), TEST(test_cpu_tasks_use_both_workers),
              TEST(test_no_stealing_keeps_tasks_home), TEST(test_pinned_tasks_stay),
              TEST(test_stress_wakes_across_workers), TEST(test_timers_of_moving_tasks),
              TEST(test_free_runs_shared_tasks))
