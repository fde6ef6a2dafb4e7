/*
 * test_rt_tasks.c: the runtime's task semantics on the current-thread flavour — block_on,
 * spawn and join with results, wake order, yield, sleep, cancellation (sticky, before start),
 * deadlines (scoped), join sets, task-local storage, spawn_blocking, shutdown with waiters.
 */
/* cio-test-labels: threads */
#include <errno.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "cio/rt.h"
#include "cio/sync.h"
#include "harness.h"

static cio_rt *new_rt(void)
{
    cio_rt *rt;
    CHECK_RC(cio_rt_new(&rt, NULL));
    return rt;
}

static void *return_arg(void *arg)
{
    return arg;
}

static void *main_spawn_join(void *arg)
{
    (void)arg;
    cio_join_handle *t;
    void *result = NULL;
    CHECK(cio_task_current() != NULL);
    CHECK(strcmp(cio_task_name(cio_task_current()), "main") == 0);
    CHECK_RC(cio_spawn(&t, return_arg, (void *)(uintptr_t)1234));
    CHECK_RC(cio_task_join(t, &result, NULL));
    CHECK_EQ((uintptr_t)result, 1234);
    return (void *)(uintptr_t)99;
}

static void test_block_on_spawn_join(void)
{
    cio_rt *rt = new_rt();
    void *result = NULL;
    CHECK(cio_rt_current() == NULL);
    CHECK_RC(cio_rt_block_on(rt, main_spawn_join, NULL, &result));
    CHECK_EQ((uintptr_t)result, 99);
    CHECK(cio_rt_current() == NULL);
    CHECK(cio_task_current() == NULL);
    /* A second block_on on the same runtime works. */
    CHECK_RC(cio_rt_block_on(rt, main_spawn_join, NULL, &result));
    cio_rt_free(rt);
}

static char order[64];
static size_t order_len;

static void *record(void *arg)
{
    for (int i = 0; i < 3; i++) {
        order[order_len++] = *(const char *)arg;
        CHECK_RC(cio_yield());
    }
    return NULL;
}

static void *main_yield(void *arg)
{
    (void)arg;
    cio_join_handle *a, *b;
    CHECK_RC(cio_spawn(&a, record, "a"));
    CHECK_RC(cio_spawn(&b, record, "b"));
    /* Spawned tasks are queued, not run on the spawner's stack. */
    CHECK_EQ(order_len, 0);
    CHECK_RC(cio_task_join(a, NULL, NULL));
    CHECK_RC(cio_task_join(b, NULL, NULL));
    return NULL;
}

static void test_yield_round_robin(void)
{
    cio_rt *rt = new_rt();
    CHECK_RC(cio_rt_block_on(rt, main_yield, NULL, NULL));
    order[order_len] = '\0';
    CHECK(strcmp(order, "ababab") == 0);
    cio_rt_free(rt);
}

static void *main_sleep(void *arg)
{
    (void)arg;
    cio_time start = cio_now();
    CHECK_RC(cio_sleep(50 * CIO_NSEC_PER_MSEC));
    cio_duration took = cio_now() - start;
    CHECK(took >= 50 * CIO_NSEC_PER_MSEC);
    CHECK(took < 1000 * CIO_NSEC_PER_MSEC);
    /* sleep(0) yields and returns at once. */
    CHECK_RC(cio_sleep(0));
    /* sleep_until in the past returns at once. */
    CHECK_RC(cio_sleep_until(cio_now() - CIO_NSEC_PER_SEC));
    return NULL;
}

static void test_sleep(void)
{
    cio_rt *rt = new_rt();
    CHECK_RC(cio_rt_block_on(rt, main_sleep, NULL, NULL));
    cio_rt_free(rt);
}

static void *sleeper(void *arg)
{
    int *out = arg;
    out[0] = cio_sleep(60 * CIO_NSEC_PER_SEC);
    /* Sticky: every later suspending call fails the same way. */
    out[1] = cio_sleep(CIO_NSEC_PER_MSEC);
    out[2] = cio_yield();
    return NULL;
}

static void *main_cancel(void *arg)
{
    (void)arg;
    int out[3] = {1, 1, 1};
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, sleeper, out));
    CHECK_RC(cio_sleep(5 * CIO_NSEC_PER_MSEC));
    cio_time start = cio_now();
    CHECK_RC(cio_task_cancel(t));
    CHECK_JOIN_CANCELLED(t);
    CHECK(cio_now() - start < 500 * CIO_NSEC_PER_MSEC);
    CHECK_EQ(out[0], -ECANCELED);
    CHECK_EQ(out[1], -ECANCELED);
    CHECK_EQ(out[2], -ECANCELED);

    /* Cancelled before it first runs: it still runs, and its first suspension fails. */
    int early[3] = {1, 1, 1};
    CHECK_RC(cio_spawn(&t, sleeper, early));
    CHECK_RC(cio_task_cancel(t));
    CHECK_JOIN_CANCELLED(t);
    CHECK_EQ(early[0], -ECANCELED);

    /* Cancelling a finished task changes nothing. */
    CHECK_RC(cio_spawn(&t, return_arg, (void *)7));
    CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
    CHECK(cio_task_is_finished(t));
    CHECK_RC(cio_task_cancel(t));
    void *r;
    CHECK_RC(cio_task_join(t, &r, NULL));
    CHECK_EQ((uintptr_t)r, 7);
    return NULL;
}

static void test_cancel(void)
{
    cio_rt *rt = new_rt();
    CHECK_RC(cio_rt_block_on(rt, main_cancel, NULL, NULL));
    cio_rt_free(rt);
}

static void *main_deadline(void *arg)
{
    (void)arg;
    CHECK_EQ(cio_deadline(), CIO_DEADLINE_NONE);
    cio_time start = cio_now();
    cio_time outer = cio_deadline_set(start + 40 * CIO_NSEC_PER_MSEC);
    CHECK_EQ(outer, CIO_DEADLINE_NONE);
    /* An inner scope cannot extend the outer deadline. */
    cio_time inner = cio_deadline_set(start + 10 * CIO_NSEC_PER_SEC);
    CHECK_EQ(cio_deadline(), start + 40 * CIO_NSEC_PER_MSEC);
    CHECK_ERR(cio_sleep(CIO_NSEC_PER_SEC), -ETIMEDOUT);
    cio_duration took = cio_now() - start;
    CHECK(took >= 40 * CIO_NSEC_PER_MSEC);
    CHECK(took < 900 * CIO_NSEC_PER_MSEC);
    /* Past the deadline, suspending calls fail at once. */
    CHECK_ERR(cio_sleep(CIO_NSEC_PER_MSEC), -ETIMEDOUT);
    cio_deadline_restore(inner);
    cio_deadline_restore(outer);
    CHECK_EQ(cio_deadline(), CIO_DEADLINE_NONE);
    /* A sleep shorter than the deadline succeeds. */
    CHECK_RC(CIO_TIMEOUT(CIO_NSEC_PER_SEC, cio_sleep(5 * CIO_NSEC_PER_MSEC)));
    /* Joining with a deadline keeps the handle: join again later. */
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, main_sleep, NULL));
    CHECK_ERR(CIO_TIMEOUT(5 * CIO_NSEC_PER_MSEC, cio_task_join(t, NULL, NULL)), -ETIMEDOUT);
    CHECK_RC(cio_task_join(t, NULL, NULL));
    return NULL;
}

/* Notifies after the delay given (ms) in arg. */
static cio_notify *lazy_notify;

static void *notify_after(void *arg)
{
    CHECK_RC(cio_sleep((cio_duration)(uintptr_t)arg * CIO_NSEC_PER_MSEC));
    CHECK_RC(cio_notify_one(lazy_notify));
    return NULL;
}

/* A wait under @deadline that notify_after(@after_ms) ends; returns what the wait returned. */
static int wait_notified(cio_time deadline, unsigned after_ms)
{
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, notify_after, (void *)(uintptr_t)after_ms));
    cio_time saved = cio_deadline_set(deadline);
    int rc = cio_notify_wait(lazy_notify);
    cio_deadline_restore(saved);
    CHECK_RC(cio_task_join(t, NULL, NULL));
    return rc;
}

/*
 * The park timer stays armed after a park that something else ended (sched.c arms it
 * lazily). What follows must not notice: a later deadline is kept to the ns and never cut
 * short by the earlier timer, an earlier one is not delayed by the armed later one, and a
 * wait with no deadline is never timed out by a timer left from before.
 */
static void *main_deadline_lazy_timer(void *arg)
{
    (void)arg;
    CHECK_RC(cio_notify_new(&lazy_notify));
    /* Margins are wide (a wake due at 2 ms may come much later on a loaded machine or under
     * qemu) while each case still has the left timer fire inside the wait that follows. */
    /* 1. Woken at 2 ms under a 200 ms deadline; then a 600 ms deadline: it holds to the end. */
    CHECK_RC(wait_notified(cio_now() + 200 * CIO_NSEC_PER_MSEC, 2));
    cio_time start = cio_now();
    CHECK_ERR(CIO_TIMEOUT(600 * CIO_NSEC_PER_MSEC, cio_notify_wait(lazy_notify)), -ETIMEDOUT);
    cio_time end = cio_now();
    CHECK(end >= start + 600 * CIO_NSEC_PER_MSEC);
    CHECK(end - start < 5000 * CIO_NSEC_PER_MSEC);
    /* 2. Woken at 2 ms under a 10 s deadline; then a 10 ms deadline is not delayed. */
    CHECK_RC(wait_notified(cio_now() + 10000 * CIO_NSEC_PER_MSEC, 2));
    start = cio_now();
    CHECK_ERR(CIO_TIMEOUT(10 * CIO_NSEC_PER_MSEC, cio_notify_wait(lazy_notify)), -ETIMEDOUT);
    end = cio_now();
    CHECK(end >= start + 10 * CIO_NSEC_PER_MSEC);
    CHECK(end - start < 5000 * CIO_NSEC_PER_MSEC);
    /* 3. Woken at 2 ms under a 200 ms deadline; then a wait with none, notified at 400 ms:
     * the timer left armed fires meanwhile and must not time it out. */
    CHECK_RC(wait_notified(cio_now() + 200 * CIO_NSEC_PER_MSEC, 2));
    start = cio_now();
    CHECK_RC(wait_notified(CIO_DEADLINE_NONE, 400));
    CHECK(cio_now() - start >= 400 * CIO_NSEC_PER_MSEC);
    /* 4. Many waits under deadlines that move later each time (a server's idle timeout):
     * none times out early, and the last deadline still holds. */
    for (int i = 0; i < 50; i++)
        CHECK_RC(wait_notified(cio_now() + 300 * CIO_NSEC_PER_MSEC, 0));
    start = cio_now();
    CHECK_ERR(CIO_TIMEOUT(30 * CIO_NSEC_PER_MSEC, cio_notify_wait(lazy_notify)), -ETIMEDOUT);
    CHECK(cio_now() >= start + 30 * CIO_NSEC_PER_MSEC);
    cio_notify_free(lazy_notify);
    return NULL;
}

static void test_deadline_lazy_timer(void)
{
    cio_rt *rt = new_rt();
    CHECK_RC(cio_rt_block_on(rt, main_deadline_lazy_timer, NULL, NULL));
    cio_rt_free(rt);
}

static void test_deadline(void)
{
    cio_rt *rt = new_rt();
    CHECK_RC(cio_rt_block_on(rt, main_deadline, NULL, NULL));
    cio_rt_free(rt);
}

static void *sleep_ms(void *arg)
{
    if (cio_sleep((cio_duration)(uintptr_t)arg * CIO_NSEC_PER_MSEC) < 0)
        return NULL;
    return arg;
}

static void *main_join_set(void *arg)
{
    (void)arg;
    cio_join_set *set;
    CHECK_RC(cio_join_set_new(&set));
    static const uintptr_t delays[] = {30, 10, 20};
    for (size_t i = 0; i < 3; i++)
        CHECK_RC(cio_join_set_spawn(set, NULL, sleep_ms, (void *)delays[i], NULL));
    CHECK_EQ(cio_join_set_len(set), 3);
    void *r;
    CHECK_RC(cio_join_set_join_next(set, &r, NULL));
    CHECK_EQ((uintptr_t)r, 10);
    CHECK_RC(cio_join_set_join_next(set, &r, NULL));
    CHECK_EQ((uintptr_t)r, 20);
    CHECK_RC(cio_join_set_join_next(set, &r, NULL));
    CHECK_EQ((uintptr_t)r, 30);
    CHECK_ERR(cio_join_set_join_next(set, &r, NULL), -ENOENT);
    /* Free with tasks still running: they are cancelled and clean up on their own. */
    CHECK_RC(cio_join_set_spawn(set, NULL, sleep_ms, (void *)(uintptr_t)60000, NULL));
    CHECK_RC(cio_join_set_spawn(set, NULL, return_arg, NULL, NULL));
    cio_join_set_free(set);
    return NULL;
}

static void test_join_set(void)
{
    cio_rt *rt = new_rt();
    CHECK_RC(cio_rt_block_on(rt, main_join_set, NULL, NULL));
    cio_rt_free(rt);
}

static int destroyed;
static cio_task_key key;

static void destroy_value(void *value)
{
    destroyed += (int)(uintptr_t)value;
}

static void *set_local(void *arg)
{
    CHECK(cio_task_local_get(key) == NULL);
    CHECK_RC(cio_task_local_set(key, arg));
    CHECK_RC(cio_yield());
    CHECK(cio_task_local_get(key) == arg);
    return NULL;
}

static void *main_locals(void *arg)
{
    (void)arg;
    cio_join_handle *a, *b;
    CHECK_RC(cio_spawn(&a, set_local, (void *)(uintptr_t)1));
    CHECK_RC(cio_spawn(&b, set_local, (void *)(uintptr_t)10));
    CHECK_RC(cio_task_join(a, NULL, NULL));
    CHECK_RC(cio_task_join(b, NULL, NULL));
    CHECK_EQ(destroyed, 11);
    return NULL;
}

static void test_task_locals(void)
{
    CHECK_RC(cio_task_key_new(&key, destroy_value));
    CHECK(cio_task_local_get(key) == NULL);
    CHECK_ERR(cio_task_local_set(key, NULL), -EPERM);
    cio_rt *rt = new_rt();
    CHECK_RC(cio_rt_block_on(rt, main_locals, NULL, NULL));
    cio_rt_free(rt);
}

static void *blocking_fn(void *arg)
{
    usleep(20000);
    return (void *)((uintptr_t)arg * 2);
}

static void *ticker(void *arg)
{
    atomic_int *ticks = arg;
    for (;;) {
        if (cio_sleep(CIO_NSEC_PER_MSEC) < 0)
            return NULL;
        atomic_fetch_add(ticks, 1);
    }
}

/* On the blocking pool: wait (10 s at most) until the ticker task has ticked 3 times, which
 * it can only do if the worker keeps running tasks meanwhile. */
static void *wait_for_ticks(void *arg)
{
    atomic_int *ticks = arg;
    for (int i = 0; i < 10000 && atomic_load(ticks) < 3; i++)
        usleep(1000);
    return (void *)(uintptr_t)atomic_load(ticks);
}

static void *main_blocking(void *arg)
{
    (void)arg;
    atomic_int ticks = 0;
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, ticker, &ticks));
    void *r;
    CHECK_RC(cio_spawn_blocking(blocking_fn, (void *)21, &r));
    CHECK_EQ((uintptr_t)r, 42);
    /* The worker keeps running other tasks while a blocking call runs. */
    CHECK_RC(cio_spawn_blocking(wait_for_ticks, &ticks, &r));
    CHECK((uintptr_t)r >= 3);
    /* A deadline cuts the wait short; the function finishes on its own. */
    CHECK_ERR(CIO_TIMEOUT(2 * CIO_NSEC_PER_MSEC, cio_spawn_blocking(blocking_fn, (void *)1, &r)),
              -ETIMEDOUT);
    cio_task_cancel(t);
    cio_task_join(t, NULL, NULL);
    return NULL;
}

static void test_spawn_blocking(void)
{
    cio_rt *rt = new_rt();
    CHECK_RC(cio_rt_block_on(rt, main_blocking, NULL, NULL));
    cio_rt_free(rt);
}

static int cleaned;

static void *wait_forever(void *arg)
{
    (void)arg;
    int rc = cio_sleep(3600 * CIO_NSEC_PER_SEC);
    if (rc == -ECANCELED)
        cleaned++;
    return NULL;
}

static void *main_spawn_waiters(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100; i++)
        CHECK_RC(cio_spawn(NULL, wait_forever, NULL));
    CHECK_RC(cio_yield());
    return NULL;
}

static void test_free_with_waiters(void)
{
    cio_rt *rt = new_rt();
    CHECK_RC(cio_rt_block_on(rt, main_spawn_waiters, NULL, NULL));
    CHECK_EQ(cleaned, 0);
    cio_rt_free(rt);
    /* Freeing woke every waiter with -ECANCELED and let its cleanup run. */
    CHECK_EQ(cleaned, 100);
}

static void *raise_later(void *arg)
{
    (void)arg;
    CHECK_RC(cio_sleep(10 * CIO_NSEC_PER_MSEC));
    CHECK_SYS(kill(getpid(), SIGUSR1));
    return NULL;
}

static void *main_signal(void *arg)
{
    (void)arg;
    CHECK_RC(cio_spawn(NULL, raise_later, NULL));
    int sigs[] = {SIGUSR1, SIGUSR2};
    CHECK_EQ(cio_signal_wait(sigs, 2), SIGUSR1);
    /* A signal that arrives while nobody waits is kept for the next wait. */
    CHECK_SYS(kill(getpid(), SIGUSR2));
    CHECK_EQ(cio_signal_wait(sigs, 2), SIGUSR2);
    CHECK_ERR(cio_signal_wait(sigs, 0), -EINVAL);
    int bad = SIGKILL;
    CHECK_ERR(cio_signal_wait(&bad, 1), -EINVAL);
    return NULL;
}

static void test_signal_wait(void)
{
    cio_rt *rt = new_rt();
    CHECK_RC(cio_rt_block_on(rt, main_signal, NULL, NULL));
    cio_rt_free(rt);
    /* The signal pipe lives as long as the process (its handler may run at any time). */
    cio_test_expect_new_fds(2);
}

static void test_errors_outside(void)
{
    CHECK_ERR(cio_spawn(NULL, return_arg, NULL), -EPERM);
    CHECK_ERR(cio_yield(), -EPERM);
    CHECK_ERR(cio_sleep(1), -EPERM);
    CHECK_ERR(cio_rt_new(NULL, NULL), -EINVAL);
    cio_rt_options bad = {.flavor = (cio_rt_flavor)7};
    cio_rt *rt;
    CHECK_ERR(cio_rt_new(&rt, &bad), -EINVAL);
    CHECK_ERR(cio_rt_block_on(NULL, return_arg, NULL, NULL), -EINVAL);
    CHECK_ERR(cio_task_join(NULL, NULL, NULL), -EINVAL);
    CHECK_ERR(cio_task_cancel(NULL), -EINVAL);
    cio_rt_free(NULL);
}

CIO_TEST_MAIN(TEST(test_block_on_spawn_join), TEST(test_yield_round_robin), TEST(test_sleep),
              TEST(test_cancel), TEST(test_deadline), TEST(test_deadline_lazy_timer),
              TEST(test_join_set), TEST(test_task_locals), TEST(test_spawn_blocking),
              TEST(test_free_with_waiters), TEST(test_signal_wait), TEST(test_errors_outside))
