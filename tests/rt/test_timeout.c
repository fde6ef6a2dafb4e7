/*
 * test_timeout.c: per-operation timeouts (CIO_TIMEOUT, CIO_TIMEOUT_SCOPE, CIO_DEADLINE_SCOPE in
 * cio/rt.h) — the earliest deadline in force wins whichever way the scopes nest, leaving a
 * scope restores the outer deadline exactly, and every way out of a scope (return, break,
 * continue, goto, an unbalanced cio_deadline_set inside) restores it too; the expression form
 * keeps its call's value and type; the scopes of one task do not touch another's; outside a
 * task they change nothing.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/types.h>

#include "cio/rt.h"
#include "harness.h"

#define MS CIO_NSEC_PER_MSEC
#define SEC CIO_NSEC_PER_SEC

static void run(cio_task_fn fn, void *arg)
{
    cio_rt *rt;
    CHECK_RC(cio_rt_new(&rt, NULL));
    void *result = (void *)1;
    CHECK_RC(cio_rt_block_on(rt, fn, arg, &result));
    CHECK(result == NULL);
    cio_rt_free(rt);
}

/* How long a sleep of @sleep lasted before it returned @expect_rc. */
static cio_duration timed_sleep(cio_duration sleep, int expect_rc)
{
    cio_time start = cio_now();
    CHECK_ERR(cio_sleep(sleep), expect_rc);
    return cio_now() - start;
}

/* ---- composition: the earliest wins, the outer one comes back ---- */

static void *main_compose(void *arg)
{
    (void)arg;
    CHECK_EQ(cio_deadline(), CIO_DEADLINE_NONE);
    {
        CIO_TIMEOUT_SCOPE(300 * MS);
        cio_time outer = cio_deadline();
        CHECK(outer != CIO_DEADLINE_NONE);
        CHECK(outer - cio_now() <= 300 * MS);
        {
            /* An inner scope shorter than the outer one: its own deadline ends the wait. */
            CIO_TIMEOUT_SCOPE(30 * MS);
            CHECK(cio_deadline() < outer);
            cio_duration took = timed_sleep(10 * SEC, -ETIMEDOUT);
            CHECK(took >= 25 * MS);
            CHECK(took < 250 * MS);
        }
        CHECK_EQ(cio_deadline(), outer); /* restored exactly */
        {
            /* An inner scope longer than the outer one cannot extend it. */
            CIO_TIMEOUT_SCOPE(10 * SEC);
            CHECK_EQ(cio_deadline(), outer);
            CHECK_ERR(cio_sleep(10 * SEC), -ETIMEDOUT);
            CHECK(cio_now() >= outer);
            CHECK(cio_now() - outer < 200 * MS);
        }
        CHECK_EQ(cio_deadline(), outer);
        /* The outer deadline has passed: every suspending call fails at once, in any inner
         * scope, and after it the caller can tell the outer deadline was the one. */
        CHECK_ERR(CIO_TIMEOUT(10 * SEC, cio_sleep(SEC)), -ETIMEDOUT);
        CHECK(cio_now() >= cio_deadline());
    }
    CHECK_EQ(cio_deadline(), CIO_DEADLINE_NONE);

    /* The same with absolute deadlines, and with cio_deadline_set() in between. */
    cio_time t0 = cio_now();
    cio_time saved = cio_deadline_set(t0 + 200 * MS);
    {
        CIO_DEADLINE_SCOPE(t0 + 20 * MS);
        CHECK_EQ(cio_deadline(), t0 + 20 * MS);
        CHECK_ERR(cio_sleep(SEC), -ETIMEDOUT);
    }
    CHECK_EQ(cio_deadline(), t0 + 200 * MS);
    {
        CIO_DEADLINE_SCOPE(CIO_DEADLINE_NONE); /* "none" changes nothing */
        CHECK_EQ(cio_deadline(), t0 + 200 * MS);
    }
    cio_deadline_restore(saved);
    CHECK_EQ(cio_deadline(), CIO_DEADLINE_NONE);
    return NULL;
}

static void test_earliest_wins_and_outer_restored(void)
{
    run(main_compose, NULL);
}

/* ---- every way out of a scope ---- */

static int leave_by_return(bool early)
{
    CIO_TIMEOUT_SCOPE(50 * MS);
    if (early)
        return 1;
    CHECK(cio_deadline() != CIO_DEADLINE_NONE);
    return 2;
}

/* A scope that sets a deadline of its own inside and forgets to restore it. */
static void leave_unbalanced(void)
{
    CIO_TIMEOUT_SCOPE(SEC);
    (void)cio_deadline_set(cio_now() + MS);
}

static void *main_exits(void *arg)
{
    (void)arg;
    CHECK_EQ(leave_by_return(true), 1);
    CHECK_EQ(cio_deadline(), CIO_DEADLINE_NONE);
    CHECK_EQ(leave_by_return(false), 2);
    CHECK_EQ(cio_deadline(), CIO_DEADLINE_NONE);

    int rounds = 0;
    for (int i = 0; i < 10; i++) {
        CIO_TIMEOUT_SCOPE(40 * MS);
        rounds++;
        if (i % 2 == 0)
            continue;
        if (i == 5)
            break;
    }
    CHECK_EQ(rounds, 6);
    CHECK_EQ(cio_deadline(), CIO_DEADLINE_NONE);

    {
        CIO_TIMEOUT_SCOPE(40 * MS);
        if (rounds == 6)
            goto out;
        CHECK(false);
    }
out:
    CHECK_EQ(cio_deadline(), CIO_DEADLINE_NONE);

    leave_unbalanced();
    CHECK_EQ(cio_deadline(), CIO_DEADLINE_NONE);

    /* And the wait after all of them is not cut short. */
    CHECK(timed_sleep(60 * MS, 0) >= 55 * MS);
    return NULL;
}

static void test_every_exit_restores(void)
{
    run(main_exits, NULL);
}

/* ---- the expression form ---- */

static ssize_t big_value(void)
{
    return (ssize_t)1 << 40;
}

static cio_time deadline_inside(void)
{
    return cio_deadline();
}

static void *main_expression(void *arg)
{
    (void)arg;
    /* The value and type of the call. */
    CHECK_EQ(_Generic(CIO_TIMEOUT(SEC, big_value()), ssize_t : 1, default : 0), 1);
    CHECK_EQ(CIO_TIMEOUT(SEC, big_value()), (ssize_t)1 << 40);
    /* The deadline is in force while the call runs, and gone after. */
    cio_time before = cio_now();
    cio_time inside = CIO_TIMEOUT(SEC, deadline_inside());
    CHECK(inside >= before + SEC && inside <= cio_now() + SEC);
    CHECK_EQ(cio_deadline(), CIO_DEADLINE_NONE);
    /* Nested: the earliest wins inside. */
    inside = CIO_TIMEOUT(SEC, CIO_TIMEOUT(10 * MS, deadline_inside()));
    CHECK(inside <= cio_now() + 10 * MS);
    inside = CIO_TIMEOUT(10 * MS, CIO_TIMEOUT(SEC, deadline_inside()));
    CHECK(inside <= cio_now() + 10 * MS);
    CHECK_EQ(cio_deadline(), CIO_DEADLINE_NONE);
    /* A timeout that ends the call, one that does not. */
    cio_time start = cio_now();
    CHECK_ERR(CIO_TIMEOUT(20 * MS, cio_sleep(SEC)), -ETIMEDOUT);
    CHECK(cio_now() - start >= 15 * MS);
    CHECK_RC(CIO_TIMEOUT(SEC, cio_sleep(MS)));
    /* Zero and negative: passed already (the call fails at once); too long: none. */
    start = cio_now();
    CHECK_ERR(CIO_TIMEOUT(0, cio_sleep(SEC)), -ETIMEDOUT);
    CHECK_ERR(CIO_TIMEOUT(-SEC, cio_sleep(SEC)), -ETIMEDOUT);
    CHECK(cio_now() - start < 100 * MS);
    CHECK_EQ(CIO_TIMEOUT(INT64_MAX, deadline_inside()), CIO_DEADLINE_NONE);
    CHECK_EQ(CIO_TIMEOUT(INT64_MAX - 1, deadline_inside()), CIO_DEADLINE_NONE);
    CHECK_EQ(cio_deadline(), CIO_DEADLINE_NONE);
    return NULL;
}

static void test_expression_form(void)
{
    run(main_expression, NULL);
}

/* A retry loop on a per-call timeout ends when the outer deadline passes (the idiom in
 * cio/rt.h), instead of spinning on calls that all fail at once. */
static void *main_retry_idiom(void *arg)
{
    (void)arg;
    CIO_TIMEOUT_SCOPE(50 * MS);
    int tries = 0, rc;
    while ((rc = CIO_TIMEOUT(5 * MS, cio_sleep(SEC))) == -ETIMEDOUT && cio_now() < cio_deadline())
        tries++;
    CHECK_ERR(rc, -ETIMEDOUT);
    CHECK(tries >= 3);  /* about 10 timeouts of 5 ms in 50 ms */
    CHECK(tries <= 12); /* each one waited: no spinning */
    return NULL;
}

static void test_retry_idiom(void)
{
    run(main_retry_idiom, NULL);
}

/* ---- per task ---- */

static void *short_scoped_sleeper(void *arg)
{
    (void)arg;
    CIO_TIMEOUT_SCOPE(10 * MS);
    CHECK_ERR(cio_sleep(SEC), -ETIMEDOUT);
    return NULL;
}

static void *main_per_task(void *arg)
{
    (void)arg;
    cio_join_handle *other;
    CHECK_RC(cio_spawn(&other, short_scoped_sleeper, NULL));
    CIO_TIMEOUT_SCOPE(5 * SEC);
    cio_time mine = cio_deadline();
    CHECK(timed_sleep(40 * MS, 0) >= 35 * MS); /* the other task's scope is not ours */
    CHECK_RC(cio_task_join(other, NULL, NULL));
    CHECK_EQ(cio_deadline(), mine);
    return NULL;
}

static void test_scopes_are_per_task(void)
{
    run(main_per_task, NULL);
}

/* Outside a task the scopes do nothing (there is no task deadline), and the expression still
 * yields its value. */
static void test_outside_task(void)
{
    CIO_TIMEOUT_SCOPE(MS);
    CHECK_EQ(cio_deadline(), CIO_DEADLINE_NONE);
    CHECK_EQ(CIO_TIMEOUT(MS, big_value()), (ssize_t)1 << 40);
    CHECK_ERR(CIO_TIMEOUT(MS, cio_sleep(MS)), -EPERM);
}

CIO_TEST_MAIN(TEST(test_earliest_wins_and_outer_restored), TEST(test_every_exit_restores),
              TEST(test_expression_form), TEST(test_retry_idiom), TEST(test_scopes_are_per_task),
              TEST(test_outside_task))
