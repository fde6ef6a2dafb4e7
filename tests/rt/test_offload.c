/*
 * test_offload.c: the offload primitive (src/rt/offload.h) that cio_spawn_blocking() and the
 * resolver share — a finished call hands its output to the task; a call the task stopped
 * waiting for (deadline, cancellation) finishes on the pool and its output is freed there,
 * exactly once; a call the pool's shutdown dropped never runs and is released; nothing is
 * submitted for a task already cancelled or past its deadline; many calls abandoned at random
 * on several workers release everything they made (TSan; LeakSanitizer under ASan).
 */
/* cio-test-labels: threads */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "cio/rt.h"
#include "harness.h"
#include "rt/offload.h"
#include "util/compiler.h"

#define MS CIO_NSEC_PER_MSEC

/* Counters over every call of a case. */
static atomic_int ran, released, outputs_made, outputs_freed;

/* Holds run() until the test opens it. */
static struct cio_test_gate gate = CIO_TEST_GATE_INIT;

static void gate_reset(void)
{
    atomic_store(&ran, 0);
    atomic_store(&released, 0);
    atomic_store(&outputs_made, 0);
    atomic_store(&outputs_freed, 0);
    cio_test_gate_reset(&gate);
}

/* An offloaded call: its output is a malloc'd int the task takes, or release frees. */
struct call {
    struct cio__offload op;
    bool gated;            /* wait at the gate */
    cio_duration sleep_ns; /* or sleep this long */
    int *output;           /* run's output until taken */
};

static void call_run(struct cio__offload *op)
{
    struct call *c = cio__container_of(op, struct call, op);
    atomic_fetch_add(&ran, 1);
    if (c->gated) {
        cio_test_gate_pass(&gate);
    } else if (c->sleep_ns > 0) {
        struct timespec ts = {0, (long)c->sleep_ns};
        nanosleep(&ts, NULL);
    }
    c->output = malloc(sizeof(int));
    CHECK(c->output != NULL);
    *c->output = 42;
    atomic_fetch_add(&outputs_made, 1);
}

static void call_release(struct cio__offload *op)
{
    struct call *c = cio__container_of(op, struct call, op);
    if (c->output != NULL) {
        free(c->output);
        atomic_fetch_add(&outputs_freed, 1);
    }
    atomic_fetch_add(&released, 1);
    free(c);
}

static struct call *call_new(bool gated, cio_duration sleep_ns)
{
    struct call *c = calloc(1, sizeof(*c));
    CHECK(c != NULL);
    c->gated = gated;
    c->sleep_ns = sleep_ns;
    c->op.run = call_run;
    c->op.release = call_release;
    return c;
}

/* Offload one call; 0 with its output taken (and freed, counted), or the error. */
static int offload(bool gated, cio_duration sleep_ns)
{
    struct call *c = call_new(gated, sleep_ns);
    int rc = cio__offload_call(&c->op);
    if (rc == 0) {
        CHECK(c->output != NULL && *c->output == 42);
        free(c->output);
        c->output = NULL;
        atomic_fetch_add(&outputs_freed, 1);
    }
    cio__offload_put(&c->op);
    return rc;
}

static void run_with(const cio_rt_options *opts, cio_task_fn fn, void *arg)
{
    cio_rt *rt;
    CHECK_RC(cio_rt_new(&rt, opts));
    void *result = (void *)1;
    CHECK_RC(cio_rt_block_on(rt, fn, arg, &result));
    CHECK(result == NULL);
    cio_test_gate_open(&gate); /* calls still at the gate finish, so the pool can stop */
    cio_rt_free(rt);           /* joins the pool: every call has been released after this */
}

/* ---- a call that finishes ---- */

static void *main_finished(void *arg)
{
    (void)arg;
    CHECK_RC(offload(false, 0));
    CHECK_RC(offload(false, 2 * MS));
    CHECK_EQ(atomic_load(&ran), 2);
    return NULL;
}

static void test_finished_call_hands_its_output_over(void)
{
    gate_reset();
    run_with(NULL, main_finished, NULL);
    CHECK_EQ(atomic_load(&released), 2);
    CHECK_EQ(atomic_load(&outputs_made), 2);
    CHECK_EQ(atomic_load(&outputs_freed), 2);
    cio_test_check_leaks();
}

/* ---- abandoned calls ---- */

static void *main_deadline(void *arg)
{
    (void)arg;
    cio_time start = cio_now();
    CHECK_ERR(CIO_TIMEOUT(20 * MS, offload(true, 0)), -ETIMEDOUT);
    CHECK(cio_now() - start < 2000 * MS); /* left at its deadline, not when the call ended */
    cio_test_gate_await(&gate, 1);
    CHECK_EQ(atomic_load(&released), 0); /* the call holds the record */
    cio_test_gate_open(&gate);
    /* The call finishes on the pool and releases its output there. */
    for (int i = 0; i < 5000 && atomic_load(&released) == 0; i++)
        CHECK_RC(cio_sleep(MS));
    CHECK_EQ(atomic_load(&released), 1);
    CHECK_EQ(atomic_load(&outputs_freed), 1);
    return NULL;
}

static void test_abandoned_at_deadline_frees_its_output(void)
{
    gate_reset();
    run_with(NULL, main_deadline, NULL);
    CHECK_EQ(atomic_load(&outputs_made), 1);
    CHECK_EQ(atomic_load(&outputs_freed), 1);
    cio_test_check_leaks();
}

static void *offloader(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)offload(true, 0);
}

static void *main_cancel(void *arg)
{
    (void)arg;
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, offloader, NULL));
    cio_test_gate_await(&gate, 1);
    CHECK_RC(cio_task_cancel(t));
    CHECK_JOIN_CANCELLED(t); /* returned without the call ending */
    CHECK_EQ(atomic_load(&released), 0);
    return NULL; /* the gate opens after block_on: the pool's shutdown waits for the call */
}

static void test_abandoned_by_cancel_frees_its_output(void)
{
    gate_reset();
    run_with(NULL, main_cancel, NULL);
    CHECK_EQ(atomic_load(&released), 1);
    CHECK_EQ(atomic_load(&outputs_made), 1);
    CHECK_EQ(atomic_load(&outputs_freed), 1);
    cio_test_check_leaks();
}

/* The pool's only thread is held at the gate; a second call waits in its queue. The runtime
 * is freed: the queued call is dropped (never runs) and released — on the thread freeing the
 * runtime, while the first still holds the pool's thread. Only then does the gate open (a
 * helper thread watches for that release), so the queued call cannot slip through first. */
static void *main_dropped(void *arg)
{
    (void)arg;
    cio_join_handle *first, *second;
    CHECK_RC(cio_spawn(&first, offloader, NULL));
    cio_test_gate_await(&gate, 1);
    CHECK_RC(cio_spawn(&second, offloader, NULL));
    CHECK_RC(cio_sleep(10 * MS)); /* it has submitted and parked */
    cio_task_detach(first);
    cio_task_detach(second);
    return NULL; /* cio_rt_free cancels both tasks and stops the pool */
}

static void *open_gate_after_drop(void *arg)
{
    (void)arg;
    for (int i = 0; i < 5000 && atomic_load(&released) == 0; i++) {
        struct timespec ms = {0, 1000 * 1000};
        nanosleep(&ms, NULL);
    }
    cio_test_gate_open(&gate);
    return NULL;
}

static void test_dropped_by_shutdown_never_runs(void)
{
    gate_reset();
    cio_rt *rt;
    cio_rt_options opts = {.blocking_threads = 1};
    CHECK_RC(cio_rt_new(&rt, &opts));
    CHECK_RC(cio_rt_block_on(rt, main_dropped, NULL, NULL));
    CHECK_EQ(atomic_load(&released), 0);
    pthread_t opener;
    CHECK_EQ(pthread_create(&opener, NULL, open_gate_after_drop, NULL), 0);
    cio_rt_free(rt); /* waits for the first call, which waits for the opener */
    CHECK_EQ(pthread_join(opener, NULL), 0);
    CHECK_EQ(atomic_load(&ran), 1);
    CHECK_EQ(atomic_load(&released), 2);
    CHECK_EQ(atomic_load(&outputs_made), 1);
    CHECK_EQ(atomic_load(&outputs_freed), 1);
    cio_test_check_leaks();
}

/* ---- nothing submitted ---- */

static void *main_not_submitted(void *arg)
{
    (void)arg;
    {
        CIO_DEADLINE_SCOPE(cio_now() - 1);
        CHECK_ERR(offload(false, 0), -ETIMEDOUT);
    }
    CANCEL_SELF();
    CHECK_ERR(offload(false, 0), -ECANCELED);
    CHECK_EQ(atomic_load(&ran), 0);
    CHECK_EQ(atomic_load(&released), 2);
    return NULL;
}

static void test_nothing_submitted_when_cancelled_or_late(void)
{
    gate_reset();
    cio_rt *rt;
    CHECK_RC(cio_rt_new(&rt, NULL));
    CHECK_ERR(cio_rt_block_on(rt, main_not_submitted, NULL, NULL), -ECANCELED);
    cio_rt_free(rt);
    /* Outside a task there is nothing to park. */
    CHECK_ERR(offload(false, 0), -EPERM);
    CHECK_EQ(atomic_load(&ran), 0);
    CHECK_EQ(atomic_load(&released), 3);
    cio_test_check_leaks();
}

/* ---- cio_spawn_blocking on it ---- */

static void *boxed(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
    atomic_fetch_add(&ran, 1);
    return (void *)(intptr_t)7;
}

static void *main_spawn_blocking(void *arg)
{
    (void)arg;
    void *r = NULL;
    CHECK_RC(cio_spawn_blocking(boxed, NULL, &r));
    CHECK_EQ((intptr_t)r, 7);
    r = NULL;
    CHECK_ERR(CIO_TIMEOUT(2 * MS, cio_spawn_blocking(boxed, NULL, &r)), -ETIMEDOUT);
    CHECK(r == NULL); /* written only on success */
    /* The abandoned function still runs to its end. */
    for (int i = 0; i < 5000 && atomic_load(&ran) < 2; i++)
        CHECK_RC(cio_sleep(MS));
    CHECK_EQ(atomic_load(&ran), 2);
    CHECK_ERR(cio_spawn_blocking(NULL, NULL, &r), -EINVAL);
    return NULL;
}

static void test_spawn_blocking_abandoned(void)
{
    gate_reset();
    run_with(NULL, main_spawn_blocking, NULL);
    CHECK_ERR(cio_spawn_blocking(boxed, NULL, NULL), -EPERM);
    cio_test_check_leaks();
}

/* ---- many, abandoned at random, on several workers ---- */

enum { MANY = 200 };

static void *random_offloader(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    cio_duration sleep_ns = (cio_duration)(seed % 5) * MS / 2;
    /* 0 to 2 ms, or (one call in four) 10 s: those finish however slow the machine is
     * (qemu in CI), the short ones race the call. */
    unsigned t = (seed / 5) % 4;
    cio_duration timeout = t == 3 ? 10000 * MS : (cio_duration)t * MS;
    int rc = CIO_TIMEOUT(timeout, offload(false, sleep_ns));
    CHECK(rc == 0 || rc == -ETIMEDOUT);
    return (void *)(intptr_t)rc;
}

static void *main_many(void *arg)
{
    (void)arg;
    cio_join_set *set;
    CHECK_RC(cio_join_set_new(&set));
    for (unsigned i = 0; i < MANY; i++) {
        cio_spawn_options o = {.worker = CIO_WORKER(i % 2)};
        CHECK_RC(
            cio_join_set_spawn(set, &o, random_offloader, (void *)(uintptr_t)(i * 7919u), NULL));
    }
    int finished = 0, timed_out = 0;
    void *r;
    while (cio_join_set_join_next(set, &r, NULL) == 0) {
        if ((intptr_t)r == 0)
            finished++;
        else
            timed_out++;
    }
    CHECK_EQ(finished + timed_out, MANY);
    CHECK(timed_out > 0);
    CHECK(finished > 0);
    cio_join_set_free(set);
    return NULL;
}

static void test_many_abandoned_at_random(void)
{
    gate_reset();
    cio_rt_options opts = {.flavor = CIO_RT_MULTI_THREAD, .workers = 2, .blocking_threads = 8};
    run_with(&opts, main_many, NULL);
    int made = atomic_load(&outputs_made);
    CHECK_EQ(atomic_load(&released), MANY);
    CHECK(made <= MANY); /* a call past its deadline before it was submitted never ran */
    CHECK_EQ(atomic_load(&ran), made);
    CHECK_EQ(atomic_load(&outputs_freed), made);
    cio_test_check_leaks();
}

CIO_TEST_MAIN(TEST(test_finished_call_hands_its_output_over),
              TEST(test_abandoned_at_deadline_frees_its_output),
              TEST(test_abandoned_by_cancel_frees_its_output),
              TEST(test_dropped_by_shutdown_never_runs),
              TEST(test_nothing_submitted_when_cancelled_or_late),
              TEST(test_spawn_blocking_abandoned), TEST(test_many_abandoned_at_random))
