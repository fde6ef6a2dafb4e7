/*
 * test_rt_multi.c: the multi-thread flavour and everything that crosses threads — tasks on
 * every worker, joins across workers, spawns from threads outside the runtime, shutdown from
 * another thread (repeated), and the scheduler's fairness (a flooding task does not starve
 * others; the reactor runs even when the run queue never empties).
 */
/* cio-test-labels: threads */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cio/rt.h"
#include "harness.h"

static cio_rt *new_multi(unsigned workers)
{
    cio_rt *rt;
    cio_rt_options o = {.flavor = CIO_RT_MULTI_THREAD, .workers = workers};
    CHECK_RC(cio_rt_new(&rt, &o));
    CHECK_EQ(cio_rt_workers(rt), workers);
    return rt;
}

static _Thread_local int thread_marker;

static void *where_am_i(void *arg)
{
    (void)arg;
    CHECK_RC(cio_yield());
    return &thread_marker; /* identifies the worker thread */
}

static void *main_workers(void *arg)
{
    (void)arg;
    enum { N = 64 };
    cio_join_handle *tasks[N];
    void *seen[N];
    for (int i = 0; i < N; i++) {
        cio_spawn_options o = {.worker = CIO_WORKER(i % 2)};
        CHECK_RC(cio_spawn_ex(&tasks[i], &o, where_am_i, NULL));
    }
    for (int i = 0; i < N; i++)
        CHECK_RC(cio_task_join(tasks[i], &seen[i], NULL));
    /* Tasks pinned to the same worker ran on the same thread, the two workers on two. */
    for (int i = 2; i < N; i++)
        CHECK(seen[i] == seen[i % 2]);
    CHECK(seen[0] != seen[1]);
    cio_spawn_options bad = {.worker = CIO_WORKER(2)};
    CHECK_ERR(cio_spawn_ex(NULL, &bad, where_am_i, NULL), -EINVAL);
    return NULL;
}

static void test_tasks_on_every_worker(void)
{
    cio_rt *rt = new_multi(2);
    CHECK_RC(cio_rt_block_on(rt, main_workers, NULL, NULL));
    cio_rt_free(rt);
}

static void *sleep_then_return(void *arg)
{
    CHECK_RC(cio_sleep(5 * CIO_NSEC_PER_MSEC));
    return arg;
}

static void *joiner_on_other_worker(void *arg)
{
    cio_join_handle *t;
    cio_spawn_options o = {.worker = CIO_WORKER(1)};
    CHECK_RC(cio_spawn_ex(&t, &o, sleep_then_return, arg));
    void *r;
    CHECK_RC(cio_task_join(t, &r, NULL));
    return r;
}

static void *main_cross_join(void *arg)
{
    (void)arg;
    enum { N = 200 };
    cio_join_handle *tasks[N];
    for (uintptr_t i = 0; i < N; i++) {
        cio_spawn_options o = {.worker = CIO_WORKER(0)};
        CHECK_RC(cio_spawn_ex(&tasks[i], &o, joiner_on_other_worker, (void *)i));
    }
    for (uintptr_t i = 0; i < N; i++) {
        void *r;
        CHECK_RC(cio_task_join(tasks[i], &r, NULL));
        CHECK_EQ((uintptr_t)r, i);
    }
    return NULL;
}

static void test_join_across_workers(void)
{
    cio_rt *rt = new_multi(2);
    CHECK_RC(cio_rt_block_on(rt, main_cross_join, NULL, NULL));
    cio_rt_free(rt);
}

struct outside {
    cio_rt *rt;
    atomic_int done;
};

static void *count_up(void *arg)
{
    atomic_fetch_add(&((struct outside *)arg)->done, 1);
    return arg;
}

static void *outside_thread(void *arg)
{
    struct outside *o = arg;
    for (int i = 0; i < 500; i++) {
        cio_join_handle *t;
        CHECK_RC(cio_rt_spawn(o->rt, &t, NULL, count_up, o));
        void *r;
        /* Join blocks this plain thread until the task ran on a worker. */
        CHECK_RC(cio_task_join(t, &r, NULL));
        CHECK(r == o);
    }
    return NULL;
}

static void *main_wait_count(void *arg)
{
    struct outside *o = arg;
    while (atomic_load(&o->done) < 1000)
        CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
    return NULL;
}

static void run_outside_spawns(cio_rt_options opts)
{
    cio_rt *rt;
    CHECK_RC(cio_rt_new(&rt, &opts));
    struct outside o = {.rt = rt};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, outside_thread, &o), 0);
    CHECK_RC(cio_rt_block_on(rt, main_wait_count, &o, NULL));
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    CHECK_EQ(atomic_load(&o.done), 1000);
    cio_rt_free(rt);
}

static void test_spawn_from_outside_threads(void)
{
    run_outside_spawns((cio_rt_options){.flavor = CIO_RT_MULTI_THREAD, .workers = 2});
    run_outside_spawns((cio_rt_options){.flavor = CIO_RT_CURRENT_THREAD});
}

static atomic_int cancelled_count;
static atomic_bool spawned_all;

static void *wait_long(void *arg)
{
    (void)arg;
    if (cio_sleep(3600 * CIO_NSEC_PER_SEC) == -ECANCELED)
        atomic_fetch_add(&cancelled_count, 1);
    return NULL;
}

static void *main_many_waiters(void *arg)
{
    (void)arg;
    for (int i = 0; i < 50; i++) {
        cio_spawn_options o = {.worker = CIO_WORKER(i % cio_rt_workers(cio_rt_current()))};
        CHECK_RC(cio_spawn_ex(NULL, &o, wait_long, NULL));
    }
    atomic_store(&spawned_all, true);
    return (void *)(intptr_t)cio_sleep(3600 * CIO_NSEC_PER_SEC);
}

static void *shutdown_soon(void *arg)
{
    while (!atomic_load(&spawned_all))
        usleep(100);
    usleep(1000);
    CHECK_RC(cio_rt_shutdown(arg));
    CHECK_RC(cio_rt_shutdown(arg)); /* idempotent */
    return NULL;
}

static void test_shutdown_from_other_thread(void)
{
    for (int round = 0; round < 20; round++) {
        atomic_store(&cancelled_count, 0);
        atomic_store(&spawned_all, false);
        cio_rt_options o = {.flavor = round % 2 ? CIO_RT_MULTI_THREAD : CIO_RT_CURRENT_THREAD,
                            .workers = 2};
        cio_rt *rt;
        CHECK_RC(cio_rt_new(&rt, &o));
        pthread_t th;
        CHECK_EQ(pthread_create(&th, NULL, shutdown_soon, rt), 0);
        CHECK_ERR(cio_rt_block_on(rt, main_many_waiters, NULL, NULL), -ECANCELED);
        pthread_join(th, NULL);
        cio_rt_free(rt);
        CHECK_EQ(atomic_load(&cancelled_count), 50);
    }
}

static void *main_after_shutdown(void *arg)
{
    (void)arg;
    CHECK_RC(cio_rt_shutdown(cio_rt_current()));
    CHECK_ERR(cio_spawn(NULL, wait_long, NULL), -ECANCELED);
    CHECK_ERR(cio_yield(), -ECANCELED);
    return NULL;
}

static void test_spawn_after_shutdown(void)
{
    cio_rt *rt = new_multi(2);
    CHECK_ERR(cio_rt_block_on(rt, main_after_shutdown, NULL, NULL), -ECANCELED);
    cio_rt_free(rt);
}

/* Fairness: a task that always finds work (yields, never sleeps) must not starve a task
 * that waits on a timer or on I/O readiness. */
struct flood {
    atomic_bool stop;
    atomic_long spins;
};

static void *flooder(void *arg)
{
    struct flood *f = arg;
    while (!atomic_load(&f->stop)) {
        atomic_fetch_add(&f->spins, 1);
        if (cio_yield() < 0)
            break;
    }
    return NULL;
}

static void *main_fairness(void *arg)
{
    (void)arg;
    struct flood f = {0};
    cio_join_handle *a, *b;
    CHECK_RC(cio_spawn(&a, flooder, &f));
    CHECK_RC(cio_spawn(&b, flooder, &f));
    /* Timers fire although the run queue never empties. */
    cio_time start = cio_now();
    for (int i = 0; i < 10; i++)
        CHECK_RC(cio_sleep(2 * CIO_NSEC_PER_MSEC));
    CHECK(cio_now() - start < 2 * CIO_NSEC_PER_SEC);
    CHECK(atomic_load(&f.spins) > 100);
    atomic_store(&f.stop, true);
    CHECK_RC(cio_task_join(a, NULL, NULL));
    CHECK_RC(cio_task_join(b, NULL, NULL));
    return NULL;
}

static void test_fairness_timers(void)
{
    cio_rt *rt;
    CHECK_RC(cio_rt_new(&rt, NULL));
    CHECK_RC(cio_rt_block_on(rt, main_fairness, NULL, NULL));
    cio_rt_free(rt);
}

CIO_TEST_MAIN(TEST(test_tasks_on_every_worker), TEST(test_join_across_workers),
              TEST(test_spawn_from_outside_threads), TEST(test_shutdown_from_other_thread),
              TEST(test_spawn_after_shutdown), TEST(test_fairness_timers))
