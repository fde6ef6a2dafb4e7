/*
 * test_task_handles.c: join handles, abort handles and cancellation — what a joiner learns
 * (the task's own result, and apart from it whether the task was cancelled, never confused
 * with the joiner's own cancellation), that a result survives a cancel that came too late,
 * that abort handles may be used from any thread at any time, that a cancelled task's waits
 * yield instead of spinning (a join set drains during runtime shutdown), and that a cancel
 * shield lets cleanup wait for a bounded time. Under ASan each case also checks that no
 * task record leaked (LeakSanitizer at the end of the case).
 */
/* cio-test-labels: threads */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

#include "cio/rt.h"
#include "cio/sync.h"
#include "harness.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
/* A join handle that is never freed keeps its runtime's stack pool alive: a leak. */
#define CHECK_NO_LEAKS() CHECK(__lsan_do_recoverable_leak_check() == 0)
#else
#define CHECK_NO_LEAKS() ((void)0)
#endif

#define MS CIO_NSEC_PER_MSEC
#define FOREVER (3600 * CIO_NSEC_PER_SEC)

/* Run @fn as the main task of a current-thread runtime; block_on must return @expect (0, or
 * -ECANCELED for a main task that ends cancelled). */
static void run_main_expect(cio_task_fn fn, void *arg, int expect)
{
    cio_rt *rt;
    CHECK_RC(cio_rt_new(&rt, NULL));
    CHECK_ERR(cio_rt_block_on(rt, fn, arg, NULL), expect);
    cio_rt_free(rt);
    CHECK_NO_LEAKS();
}

static void run_main(cio_task_fn fn, void *arg)
{
    run_main_expect(fn, arg, 0);
}

static void *return_arg(void *arg)
{
    return arg;
}

/* Waits until cancelled, then returns 42 all the same. */
static void *sleep_then_42(void *arg)
{
    (void)arg;
    CHECK_ERR(cio_sleep(FOREVER), -ECANCELED);
    return (void *)(uintptr_t)42;
}

/* ---- join after cancel, from either side ---- */

static void *main_join_cancelled_task(void *arg)
{
    (void)arg;
    cio_join_handle *h;
    CHECK_RC(cio_spawn(&h, sleep_then_42, NULL));
    CHECK_RC(cio_yield()); /* it waits now */
    CHECK_RC(cio_task_cancel(h));
    void *result = NULL;
    bool cancelled = false;
    CHECK_RC(cio_task_join(h, &result, &cancelled)); /* handle freed */
    CHECK_EQ((uintptr_t)result, 42);                 /* its result is not lost */
    CHECK(cancelled);
    return NULL;
}

static void test_join_cancelled_task_keeps_result(void)
{
    run_main(main_join_cancelled_task, NULL);
}

/* Both cancelled, the task finished first: the cancelled joiner's join does not wait, so it
 * succeeds and frees the handle. */
static void *main_cancelled_joiner_task_done(void *arg)
{
    (void)arg;
    cio_join_handle *h;
    CHECK_RC(cio_spawn(&h, sleep_then_42, NULL));
    CHECK_RC(cio_yield());
    CHECK_RC(cio_task_cancel(h));
    CHECK_RC(cio_yield()); /* it unwinds and finishes */
    CHECK(cio_task_is_finished(h));
    CANCEL_SELF();
    void *result = NULL;
    bool cancelled = false;
    CHECK_RC(cio_task_join(h, &result, &cancelled));
    CHECK_EQ((uintptr_t)result, 42);
    CHECK(cancelled);
    CHECK_ERR(cio_sleep(MS), -ECANCELED); /* we are cancelled all the same */
    return NULL;
}

static void test_join_from_cancelled_joiner_task_finished(void)
{
    run_main_expect(main_cancelled_joiner_task_done, NULL, -ECANCELED);
}

/* Both cancelled, the task still running: the joiner's join says -ECANCELED (its own), and
 * the handle stays; joined again inside a shield, it gives the task's outcome. */
static void *main_cancelled_joiner_task_running(void *arg)
{
    (void)arg;
    cio_join_handle *h, *other;
    CHECK_RC(cio_spawn(&h, sleep_then_42, NULL));
    CHECK_RC(cio_spawn(&other, sleep_then_42, NULL));
    CHECK_RC(cio_yield());
    CANCEL_SELF();
    CHECK(cio_task_is_cancelled());
    CHECK_ERR(cio_task_join(h, NULL, NULL), -ECANCELED);
    CHECK(!cio_task_is_finished(h)); /* the handle is still ours */
    CHECK_RC(cio_task_cancel(h));
    cio_cancel_shield shield = cio_cancel_shield_begin(cio_now() + 5 * CIO_NSEC_PER_SEC);
    CHECK(!cio_task_is_cancelled());
    void *result = NULL;
    bool cancelled = false;
    CHECK_RC(cio_task_join(h, &result, &cancelled));
    cio_cancel_shield_end(shield);
    CHECK(cio_task_is_cancelled());
    CHECK_EQ((uintptr_t)result, 42);
    CHECK(cancelled);
    /* The other handle: the cancelled joiner lets it go. */
    CHECK_ERR(cio_task_join(other, NULL, NULL), -ECANCELED);
    CHECK_RC(cio_task_cancel(other));
    cio_task_detach(other);
    return NULL;
}

static void test_join_from_cancelled_joiner_task_running(void)
{
    run_main_expect(main_cancelled_joiner_task_running, NULL, -ECANCELED);
}

/* A handle outlives the runtime: cio_rt_free cancelled the task and ran it to its end. */
static void test_join_after_rt_free(void)
{
    cio_rt *rt;
    CHECK_RC(cio_rt_new(&rt, NULL));
    cio_join_handle *h;
    CHECK_RC(cio_rt_spawn(rt, &h, NULL, sleep_then_42, NULL));
    CHECK_RC(cio_rt_block_on(rt, return_arg, NULL, NULL)); /* h starts its sleep */
    cio_rt_free(rt);
    CHECK(cio_task_is_finished(h));
    void *result = NULL;
    bool cancelled = false;
    CHECK_RC(cio_task_join(h, &result, &cancelled));
    CHECK_EQ((uintptr_t)result, 42);
    CHECK(cancelled);
    CHECK_NO_LEAKS();
}

/* ---- a task that finished before its cancel keeps its result ---- */

static void *main_cancel_after_finish(void *arg)
{
    (void)arg;
    cio_join_handle *h;
    cio_abort_handle ah;
    CHECK_RC(cio_spawn(&h, return_arg, (void *)(uintptr_t)7));
    CHECK_RC(cio_task_abort_handle(h, &ah));
    CHECK(!cio_abort_handle_is_finished(ah));
    CHECK_RC(cio_yield());
    CHECK(cio_task_is_finished(h));
    CHECK(cio_abort_handle_is_finished(ah));
    CHECK_RC(cio_task_cancel(h));                   /* too late: harmless */
    CHECK_ERR(cio_abort_handle_cancel(ah), -ESRCH); /* too late, and it says so */
    void *result = NULL;
    bool cancelled = true;
    CHECK_RC(cio_task_join(h, &result, &cancelled));
    CHECK_EQ((uintptr_t)result, 7);
    CHECK(!cancelled);
    /* An abort handle asked for after the end names no task. */
    CHECK_RC(cio_spawn(&h, return_arg, NULL));
    CHECK_RC(cio_yield());
    CHECK_RC(cio_task_abort_handle(h, &ah));
    CHECK(cio_abort_handle_is_finished(ah));
    CHECK_ERR(cio_abort_handle_cancel(ah), -ESRCH);
    CHECK_RC(cio_task_join(h, NULL, NULL));
    cio_abort_handle none = {0};
    CHECK_ERR(cio_abort_handle_cancel(none), -ESRCH);
    CHECK(cio_abort_handle_is_finished(none));
    return NULL;
}

static void test_cancel_after_finish_keeps_result(void)
{
    run_main(main_cancel_after_finish, NULL);
}

/*
 * The race the old runtime lost: the body has returned (its task-local destructor still
 * runs, so the task has not published DONE yet) when another thread cancels it. The body
 * finished first: the result is kept and the task is not reported cancelled.
 */
static cio_task_key late_key;
static atomic_int late_phase; /* 1: the body has returned; 2: the cancel was made */

static void slow_destructor(void *value)
{
    (void)value;
    atomic_store(&late_phase, 1);
    for (int i = 0; i < 5000 && atomic_load(&late_phase) != 2; i++)
        usleep(1000);
}

static void *return_42_with_local(void *arg)
{
    (void)arg;
    CHECK_RC(cio_task_local_set(late_key, (void *)1));
    return (void *)(uintptr_t)42;
}

static void test_finished_before_cancel_keeps_result(void)
{
    CHECK_RC(cio_task_key_new(&late_key, slow_destructor));
    cio_rt *rt;
    cio_rt_options o = {.flavor = CIO_RT_MULTI_THREAD, .workers = 2};
    CHECK_RC(cio_rt_new(&rt, &o));
    cio_join_handle *h;
    cio_spawn_options so = {.worker = CIO_WORKER(1)};
    CHECK_RC(cio_rt_spawn(rt, &h, &so, return_42_with_local, NULL));
    cio_abort_handle ah;
    CHECK_RC(cio_task_abort_handle(h, &ah));
    CHECK_RC(cio_rt_block_on(rt, return_arg, NULL, NULL));
    for (int i = 0; i < 5000 && atomic_load(&late_phase) != 1; i++)
        usleep(1000);
    CHECK_EQ(atomic_load(&late_phase), 1);
    CHECK_ERR(cio_abort_handle_cancel(ah), -ESRCH); /* its body has returned */
    CHECK_RC(cio_task_cancel(h));
    atomic_store(&late_phase, 2);
    void *result = NULL;
    bool cancelled = true;
    CHECK_RC(cio_task_join(h, &result, &cancelled)); /* from this plain thread */
    CHECK_EQ((uintptr_t)result, 42);
    CHECK(!cancelled);
    cio_rt_free(rt);
    CHECK_NO_LEAKS();
}

/* ---- a cancelled task drains a join set during runtime shutdown ---- */

#define CHILDREN 100

struct drain {
    long calls, joined, cancelled;
    atomic_int cleaned; /* children whose shielded cleanup ran to its end */
    bool shielded;      /* children and drainer use a shield */
    atomic_bool started;
};

static void *child(void *arg)
{
    struct drain *d = arg;
    CHECK_ERR(cio_sleep(FOREVER), -ECANCELED);
    if (d->shielded) {
        /* Cleanup that has to wait a little (say, to say goodbye to a peer). */
        cio_cancel_shield shield = cio_cancel_shield_begin(cio_now() + 5 * CIO_NSEC_PER_SEC);
        CHECK_RC(cio_sleep(2 * MS));
        cio_cancel_shield_end(shield);
        atomic_fetch_add(&d->cleaned, 1);
    }
    return arg;
}

static void drain_set(struct drain *d, cio_join_set *set)
{
    cio_cancel_shield shield = {0};
    if (d->shielded)
        shield = cio_cancel_shield_begin(cio_now() + 10 * CIO_NSEC_PER_SEC);
    /* Bounded: the old runtime spun here (over a million calls in half a second, none
     * joined), since a cancelled wait neither waited nor let the children run. */
    cio_time give_up = cio_now() + 2 * CIO_NSEC_PER_SEC;
    while (cio_join_set_len(set) > 0 && cio_now() < give_up) {
        d->calls++;
        void *result = NULL;
        bool cancelled = false;
        int rc = cio_join_set_join_next(set, &result, &cancelled);
        if (rc == 0) {
            CHECK(result == d);
            d->joined++;
            d->cancelled += cancelled;
        } else {
            CHECK_EQ(rc, -ECANCELED); /* ours: the join set lost nothing */
        }
    }
    if (d->shielded)
        cio_cancel_shield_end(shield);
    CHECK_ERR(cio_join_set_join_next(set, NULL, NULL), -ENOENT);
    cio_join_set_free(set);
}

static cio_join_set *spawn_children(struct drain *d)
{
    cio_join_set *set;
    CHECK_RC(cio_join_set_new(&set));
    for (int i = 0; i < CHILDREN; i++)
        CHECK_RC(cio_join_set_spawn(set, NULL, child, d, NULL));
    CHECK_RC(cio_yield()); /* they all wait now */
    return set;
}

/* The main task shuts the runtime down and drains its set. */
static void *main_shutdown_and_drain(void *arg)
{
    struct drain *d = arg;
    cio_join_set *set = spawn_children(d);
    CHECK_RC(cio_rt_shutdown(cio_rt_current()));
    CHECK_ERR(cio_sleep(FOREVER), -ECANCELED);
    drain_set(d, set);
    return NULL;
}

static void check_drained(const struct drain *d, bool shielded)
{
    printf("    drain: %ld calls, %ld joined (%ld cancelled), %d cleanups\n", d->calls, d->joined,
           d->cancelled, atomic_load(&d->cleaned));
    CHECK_EQ(d->joined, CHILDREN);
    CHECK_EQ(d->cancelled, CHILDREN);
    if (shielded) {
        CHECK_EQ(d->calls, CHILDREN); /* each call waited for one child */
        CHECK_EQ(atomic_load(&d->cleaned), CHILDREN);
    } else {
        CHECK(d->calls <= 3 * CHILDREN); /* a yield per wait: the children got to run */
    }
}

static void test_cancelled_task_drains_join_set_at_shutdown(void)
{
    struct drain d = {0};
    run_main_expect(main_shutdown_and_drain, &d, -ECANCELED);
    check_drained(&d, false);
}

static void test_shielded_drain_at_shutdown(void)
{
    struct drain d = {.shielded = true};
    run_main_expect(main_shutdown_and_drain, &d, -ECANCELED);
    check_drained(&d, true);
}

/* A detached task that owns a set is cancelled by cio_rt_free, and drains it there. */
static void *drainer(void *arg)
{
    struct drain *d = arg;
    cio_join_set *set = spawn_children(d);
    atomic_store(&d->started, true);
    CHECK_ERR(cio_sleep(FOREVER), -ECANCELED); /* until cio_rt_free */
    drain_set(d, set);
    return NULL;
}

static void *main_start_drainer(void *arg)
{
    struct drain *d = arg;
    CHECK_RC(cio_spawn(NULL, drainer, d));
    while (!atomic_load(&d->started))
        CHECK_RC(cio_yield());
    return NULL;
}

static void test_drain_during_rt_free(void)
{
    for (int shielded = 0; shielded < 2; shielded++) {
        struct drain d = {.shielded = shielded};
        cio_rt *rt;
        cio_rt_options o = {.flavor = shielded ? CIO_RT_MULTI_THREAD : CIO_RT_CURRENT_THREAD,
                            .workers = 2};
        CHECK_RC(cio_rt_new(&rt, &o));
        CHECK_RC(cio_rt_block_on(rt, main_start_drainer, &d, NULL));
        cio_rt_free(rt);
        check_drained(&d, shielded);
    }
    CHECK_NO_LEAKS();
}

/* ---- abort handles across threads ---- */

struct late_abort {
    cio_abort_handle handle;
    atomic_int step; /* 1: the task ended and another took its place; 2: aborted */
    int rc;
};

static void *late_canceller(void *arg)
{
    struct late_abort *l = arg;
    while (atomic_load(&l->step) != 1)
        usleep(100);
    l->rc = cio_abort_handle_cancel(l->handle); /* the task ended long ago */
    atomic_store(&l->step, 2);
    return NULL;
}

static void *sleep_200ms(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)cio_sleep(200 * MS);
}

static void *main_late_abort(void *arg)
{
    struct late_abort *l = arg;
    cio_join_handle *h;
    CHECK_RC(cio_spawn(&h, return_arg, NULL));
    CHECK_RC(cio_task_abort_handle(h, &l->handle));
    CHECK_RC(cio_task_join(h, NULL, NULL));
    /* A new task takes the old one's record (the stack pool hands the same stack back). */
    cio_join_handle *next;
    CHECK_RC(cio_spawn(&next, sleep_200ms, NULL));
    cio_abort_handle next_handle;
    CHECK_RC(cio_task_abort_handle(next, &next_handle));
    CHECK(next_handle.slot != l->handle.slot || next_handle.generation != l->handle.generation);
    CHECK_RC(cio_yield());
    atomic_store(&l->step, 1);
    void *result = NULL;
    bool cancelled = true;
    CHECK_RC(cio_task_join(next, &result, &cancelled));
    CHECK_EQ((intptr_t)result, 0); /* the stale abort did not reach it */
    CHECK(!cancelled);
    return NULL;
}

static void test_abort_from_thread_after_task_ended(void)
{
    struct late_abort l = {0};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, late_canceller, &l) == 0);
    run_main(main_late_abort, &l);
    CHECK(pthread_join(th, NULL) == 0);
    CHECK_EQ(atomic_load(&l.step), 2);
    CHECK_ERR(l.rc, -ESRCH);
}

/* Copies of one abort handle race from several threads against the task finishing; the
 * task is joined from yet another plain thread. Repeated, for TSan. */
#define RACERS 4
#define RACE_ROUNDS 200

struct race {
    cio_abort_handle handle;
    atomic_int go;
    atomic_int hits;
};

static void *racer(void *arg)
{
    struct race *r = arg;
    cio_abort_handle mine = r->handle; /* a copy: a value */
    while (atomic_load(&r->go) == 0)
        ;
    int rc = cio_abort_handle_cancel(mine);
    CHECK(rc == 0 || rc == -ESRCH);
    if (rc == 0)
        atomic_fetch_add(&r->hits, 1);
    return NULL;
}

static void *wait_or_finish(void *arg)
{
    uintptr_t round = (uintptr_t)arg;
    if (round % 2 == 0)
        (void)cio_sleep(FOREVER); /* only a cancel ends it */
    return (void *)round;
}

static void test_abort_handles_race_from_threads(void)
{
    cio_rt *rt;
    cio_rt_options o = {.flavor = CIO_RT_MULTI_THREAD, .workers = 2};
    CHECK_RC(cio_rt_new(&rt, &o));
    CHECK_RC(cio_rt_block_on(rt, return_arg, NULL, NULL)); /* the workers run from now on */
    for (uintptr_t round = 0; round < RACE_ROUNDS; round++) {
        struct race r = {0};
        cio_join_handle *h;
        cio_spawn_options so = {.worker = CIO_WORKER(round % 2)};
        CHECK_RC(cio_rt_spawn(rt, &h, &so, wait_or_finish, (void *)round));
        CHECK_RC(cio_task_abort_handle(h, &r.handle));
        pthread_t th[RACERS];
        for (int i = 0; i < RACERS; i++)
            CHECK(pthread_create(&th[i], NULL, racer, &r) == 0);
        atomic_store(&r.go, 1);
        void *result = NULL;
        bool cancelled = false;
        CHECK_RC(cio_task_join(h, &result, &cancelled));
        CHECK_EQ((uintptr_t)result, round);
        for (int i = 0; i < RACERS; i++)
            CHECK(pthread_join(th[i], NULL) == 0);
        if (round % 2 == 0)
            CHECK(cancelled && atomic_load(&r.hits) >= 1);
        if (atomic_load(&r.hits) > 0)
            CHECK(cancelled); /* an abort that said 0 is in the outcome */
        CHECK(cio_abort_handle_is_finished(r.handle));
        CHECK_ERR(cio_abort_handle_cancel(r.handle), -ESRCH);
    }
    cio_rt_free(rt);
    CHECK_NO_LEAKS();
}

/* A join set member's abort handle, used from a plain thread. */
static void *cancel_through(void *arg)
{
    CHECK_RC(cio_abort_handle_cancel(*(cio_abort_handle *)arg));
    return NULL;
}

static void *main_set_abort_handle(void *arg)
{
    (void)arg;
    cio_join_set *set;
    CHECK_RC(cio_join_set_new(&set));
    cio_abort_handle ah;
    CHECK_RC(cio_join_set_spawn(set, NULL, sleep_then_42, NULL, &ah));
    CHECK_RC(cio_join_set_spawn(set, NULL, return_arg, (void *)(uintptr_t)5, NULL));
    CHECK_RC(cio_yield());
    pthread_t th;
    CHECK(pthread_create(&th, NULL, cancel_through, &ah) == 0);
    CHECK(pthread_join(th, NULL) == 0);
    void *result;
    bool cancelled;
    CHECK_RC(cio_join_set_join_next(set, &result, &cancelled));
    CHECK_EQ((uintptr_t)result, 5);
    CHECK(!cancelled);
    CHECK_RC(cio_join_set_join_next(set, &result, &cancelled));
    CHECK_EQ((uintptr_t)result, 42);
    CHECK(cancelled);
    CHECK_ERR(cio_join_set_join_next(set, NULL, NULL), -ENOENT);
    cio_join_set_free(set);
    return NULL;
}

static void test_join_set_abort_handle(void)
{
    run_main(main_set_abort_handle, NULL);
}

/* ---- cancel shields ---- */

static void *shielded_sleeper(void *arg)
{
    int *out = arg;
    CHECK_ERR(cio_sleep(FOREVER), -ECANCELED);
    cio_cancel_shield outer = cio_cancel_shield_begin(cio_now() + 5 * CIO_NSEC_PER_SEC);
    cio_cancel_shield inner = cio_cancel_shield_begin(cio_now() + CIO_NSEC_PER_SEC);
    out[0] = cio_sleep(MS); /* waits */
    cio_cancel_shield_end(inner);
    out[1] = cio_task_is_cancelled(); /* the outer shield still holds */
    out[2] = cio_sleep(MS);
    cio_cancel_shield_end(outer);
    out[3] = cio_sleep(MS); /* cancelled again */
    /* The shield's deadline bounds the block: it gives up with -ETIMEDOUT. */
    cio_time start = cio_now();
    cio_cancel_shield bounded = cio_cancel_shield_begin(start + 30 * MS);
    out[4] = cio_sleep(FOREVER);
    out[5] = (int)((cio_now() - start) / MS);
    cio_cancel_shield_end(bounded);
    return NULL;
}

static void *main_shield(void *arg)
{
    (void)arg;
    int out[6] = {1, 1, 1, 1, 1, 1};
    cio_join_handle *h;
    CHECK_RC(cio_spawn(&h, shielded_sleeper, out));
    CHECK_RC(cio_yield());
    CHECK_RC(cio_task_cancel(h));
    CHECK_JOIN_CANCELLED(h);
    CHECK_EQ(out[0], 0);
    CHECK_EQ(out[1], 0);
    CHECK_EQ(out[2], 0);
    CHECK_EQ(out[3], -ECANCELED);
    CHECK_EQ(out[4], -ETIMEDOUT);
    CHECK(out[5] >= 30 && out[5] < 900);
    return NULL;
}

static void test_shield_holds_cancel_off_until_its_deadline(void)
{
    run_main(main_shield, NULL);
}

/* A cancel that arrives while a shield is in force waits for the shield's end; a shield
 * gives cleanup its own time even when the task's deadline has passed. */
struct shield_late {
    cio_notify *go;
    int during, after, past_deadline;
};

static void *shield_then_cancelled(void *arg)
{
    struct shield_late *s = arg;
    cio_cancel_shield shield = cio_cancel_shield_begin(CIO_DEADLINE_NONE);
    CHECK_RC(cio_notify_wait(s->go)); /* the parent cancels us, then notifies */
    s->during = cio_sleep(MS);
    cio_cancel_shield_end(shield);
    s->after = cio_sleep(MS);
    return NULL;
}

static void *main_shield_late(void *arg)
{
    (void)arg;
    struct shield_late s = {0};
    CHECK_RC(cio_notify_new(&s.go));
    cio_join_handle *h;
    CHECK_RC(cio_spawn(&h, shield_then_cancelled, &s));
    CHECK_RC(cio_yield());
    CHECK_RC(cio_task_cancel(h));
    CHECK_RC(cio_notify_one(s.go));
    CHECK_JOIN_CANCELLED(h);
    CHECK_EQ(s.during, 0);
    CHECK_EQ(s.after, -ECANCELED);
    cio_notify_free(s.go);

    CIO_TIMEOUT_SCOPE(MS); /* to the end of the function */
    CHECK_ERR(cio_sleep(FOREVER), -ETIMEDOUT);
    cio_cancel_shield shield = cio_cancel_shield_begin(cio_now() + CIO_NSEC_PER_SEC);
    CHECK_RC(cio_sleep(MS)); /* the task's deadline has passed; the shield's has not */
    cio_cancel_shield_end(shield);
    CHECK_ERR(cio_sleep(MS), -ETIMEDOUT);
    return NULL;
}

static void test_cancel_during_shield_applies_at_its_end(void)
{
    run_main(main_shield_late, NULL);
}

/* A cancelled wait yields: a task that keeps waiting in a loop lets the others run. */
struct spinner {
    long waits;
    long other_runs;
    bool stop;
};

static void *count_runs(void *arg)
{
    struct spinner *s = arg;
    while (!s->stop) {
        s->other_runs++;
        if (cio_yield() < 0)
            break;
    }
    return NULL;
}

static void *main_cancelled_waits_yield(void *arg)
{
    (void)arg;
    struct spinner s = {0};
    cio_join_handle *other;
    cio_notify *never;
    CHECK_RC(cio_notify_new(&never));
    CHECK_RC(cio_spawn(&other, count_runs, &s));
    CANCEL_SELF();
    for (int i = 0; i < 100; i++) {
        CHECK_ERR(cio_sleep(FOREVER), -ECANCELED);
        CHECK_ERR(cio_notify_wait(never), -ECANCELED);
        CHECK_ERR(cio_task_join(other, NULL, NULL), -ECANCELED);
        CHECK_ERR(cio_spawn_blocking(return_arg, NULL, NULL), -ECANCELED);
        CHECK_ERR(cio_yield(), -ECANCELED);
        s.waits += 5;
    }
    s.stop = true;
    CHECK(s.other_runs >= s.waits - 1); /* each wait let the other task run once */
    cio_cancel_shield shield = cio_cancel_shield_begin(cio_now() + CIO_NSEC_PER_SEC);
    CHECK_RC(cio_task_join(other, NULL, NULL));
    cio_cancel_shield_end(shield);
    cio_notify_free(never);
    return NULL;
}

static void test_cancelled_waits_yield(void)
{
    run_main_expect(main_cancelled_waits_yield, NULL, -ECANCELED);
}

static void test_errors(void)
{
    cio_abort_handle ah;
    CHECK_ERR(cio_task_abort_handle(NULL, &ah), -EINVAL);
    CHECK_ERR(cio_task_current_abort_handle(&ah), -EPERM);
    CHECK_ERR(cio_task_current_abort_handle(NULL), -EINVAL);
    CHECK_ERR(cio_task_cancel(NULL), -EINVAL);
    CHECK_ERR(cio_task_join(NULL, NULL, NULL), -EINVAL);
    CHECK(!cio_task_is_finished(NULL));
    cio_task_detach(NULL);
    cio_abort_handle bogus = {.slot = 0xfffffff0u, .generation = 1};
    CHECK_ERR(cio_abort_handle_cancel(bogus), -ESRCH);
    cio_cancel_shield shield = cio_cancel_shield_begin(CIO_DEADLINE_NONE); /* no task: no-op */
    cio_cancel_shield_end(shield);
    CHECK(!cio_task_is_cancelled());
}

CIO_TEST_MAIN(TEST(test_join_cancelled_task_keeps_result),
              TEST(test_join_from_cancelled_joiner_task_finished),
              TEST(test_join_from_cancelled_joiner_task_running), TEST(test_join_after_rt_free),
              TEST(test_cancel_after_finish_keeps_result),
              TEST(test_finished_before_cancel_keeps_result),
              TEST(test_cancelled_task_drains_join_set_at_shutdown),
              TEST(test_shielded_drain_at_shutdown), TEST(test_drain_during_rt_free),
              TEST(test_abort_from_thread_after_task_ended),
              TEST(test_abort_handles_race_from_threads), TEST(test_join_set_abort_handle),
              TEST(test_shield_holds_cancel_off_until_its_deadline),
              TEST(test_cancel_during_shield_applies_at_its_end), TEST(test_cancelled_waits_yield),
              TEST(test_errors))
