/*
 * test_timer_scale.c: the timer wheel under load on a fake clock — random deadlines from 0 ms
 * to days advanced in random steps (each timer fires exactly once, never before its
 * deadline, at the first advance() that reaches its rounded deadline), the same with
 * re-arms and cancels mixed in, and a million timers inserted then cancelled, and inserted
 * then fired.
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "rt/timer.h"
#include "util/compiler.h"

#define MS CIO_NSEC_PER_MSEC
#define SEC CIO_NSEC_PER_SEC

struct rec {
    struct cio__timer timer;
    int32_t fired;
    bool cancelled;
    cio_time armed_at;
};

static cio_time clock_now, clock_prev;
static uint64_t last_tick_fired;
static bool check_order;

static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1du;
}

static uint64_t rnd_below(uint64_t n)
{
    return n == 0 ? 0 : rnd() % n;
}

/* A span whose magnitude is log-uniform up to 2^max_bits ns, so every level gets timers. */
static cio_duration rnd_span(unsigned max_bits)
{
    unsigned bits = (unsigned)rnd_below(max_bits + 1);
    return (cio_duration)rnd_below(UINT64_C(1) << bits);
}

static cio_time ceil_ms(cio_time t)
{
    if (t <= 0)
        return 0;
    return (t / MS + (t % MS != 0)) * MS;
}

/* Every firing is checked here, against the advance() in progress. */
static void on_fire(struct cio__timer_wheel *wheel, struct cio__timer *timer)
{
    (void)wheel;
    struct rec *r = cio__container_of(timer, struct rec, timer);
    cio_time deadline = timer->deadline, due = ceil_ms(deadline);
    if (r->fired != 0 || r->cancelled)
        TEST_FAIL("timer fired twice or after cancel");
    r->fired = 1;
    /* Never early. */
    if (clock_now < deadline)
        TEST_FAIL("fired early: now %jd < deadline %jd", (intmax_t)clock_now, (intmax_t)deadline);
    /* Not late: the previous advance() had not reached the rounded deadline, or ran before
     * the timer was armed. Hence at most 1 ms + one step after the deadline. */
    if (!(clock_prev < due || clock_prev <= r->armed_at))
        TEST_FAIL("fired late: deadline %jd, previous advance %jd", (intmax_t)deadline,
                  (intmax_t)clock_prev);
    cio_time from = deadline > r->armed_at ? deadline : r->armed_at;
    if (clock_now - from > MS + (clock_now - clock_prev))
        TEST_FAIL("fired %jd ns late with a step of %jd", (intmax_t)(clock_now - from),
                  (intmax_t)(clock_now - clock_prev));
    if (check_order) {
        if (timer->tick < last_tick_fired)
            TEST_FAIL("out of order: tick %ju after %ju", (uintmax_t)timer->tick,
                      (uintmax_t)last_tick_fired);
        last_tick_fired = timer->tick;
    }
}

static size_t advance_to(struct cio__timer_wheel *w, cio_time now)
{
    clock_prev = clock_now;
    clock_now = now;
    return cio__timer_wheel_advance(w, now);
}

/* A random step: mostly sub-ms to a few ms, sometimes up to a second, rarely a jump of up to
 * 2^jump_bits ns (hours for deadlines of days). */
static cio_duration rnd_step(unsigned jump_bits)
{
    uint64_t kind = rnd_below(100);
    if (kind < 85)
        return (cio_duration)rnd_below(3 * MS + 1);
    if (kind < 95)
        return (cio_duration)rnd_below(SEC);
    return rnd_span(jump_bits);
}

static void run_random(cio_time start, int n, unsigned max_bits, bool churn)
{
    struct rec *recs = calloc((size_t)n, sizeof(*recs));
    CHECK(recs != NULL);
    struct cio__timer_wheel w;
    clock_now = clock_prev = start;
    last_tick_fired = 0;
    check_order = !churn;
    cio__timer_wheel_init(&w, start);
    for (int i = 0; i < n; i++) {
        cio__timer_init(&recs[i].timer, on_fire);
        recs[i].armed_at = start;
        cio__timer_insert(&w, &recs[i].timer, start + rnd_span(max_bits));
    }
    CHECK_EQ(cio__timer_wheel_count(&w), n);

    size_t fired = 0, cancelled = 0;
    long steps = 0;
    while (cio__timer_wheel_count(&w) > 0) {
        CHECK(++steps < 5000000);
        fired += advance_to(&w, clock_now + rnd_step(max_bits - 6));
        if (churn) {
            /* Between advances: re-arm or cancel a few random timers still pending. */
            for (int k = 0; k < 2; k++) {
                struct rec *r = &recs[rnd_below((uint64_t)n)];
                if (!cio__timer_pending(&r->timer))
                    continue;
                if (rnd_below(4) == 0) {
                    CHECK(cio__timer_cancel(&w, &r->timer));
                    r->cancelled = true;
                    cancelled++;
                } else {
                    /* Sometimes in the past (fires on the next advance), mostly ahead. */
                    r->armed_at = clock_now;
                    cio_time d = rnd_below(10) == 0 ? clock_now - rnd_span(30)
                                                    : clock_now + rnd_span(max_bits);
                    cio__timer_insert(&w, &r->timer, d);
                }
            }
        }
    }
    CHECK_EQ(fired + cancelled, (size_t)n);
    for (int i = 0; i < n; i++)
        CHECK_EQ(recs[i].fired, recs[i].cancelled ? 0 : 1);
    CHECK_EQ(cio__timer_wheel_next_expiry(&w), CIO__TIMER_NEVER);
    free(recs);
}

static void test_random_all_levels(void)
{
    rng_state = 0x1234567;
    /* Deadlines from 0 to ~6.5 days, at an arbitrary start... */
    run_random(987654321 * MS + 123, 50000, 49, false);
    /* ...and across the top level's boundary (2^36 ms), where deadlines enter overflow. */
    run_random(((INT64_C(1) << 36) - 5000) * MS, 20000, 49, false);
    /* From time 0, on every level up to ~2.2 years and beyond. */
    run_random(0, 5000, 57, false);
}

static void test_random_churn(void)
{
    rng_state = 0xabcdef;
    run_random(555 * SEC, 30000, 49, true);
    run_random(((INT64_C(1) << 36) - 100) * MS, 10000, 49, true);
}

#define MILLION (1 << 20) /* 1,048,576 */

static void test_million_insert_cancel(void)
{
    rng_state = 42;
    struct cio__timer *timers = calloc(MILLION, sizeof(*timers));
    CHECK(timers != NULL);
    struct cio__timer_wheel w;
    cio_time start = 1000 * SEC;
    clock_now = clock_prev = start;
    cio__timer_wheel_init(&w, start);
    int64_t t0 = cio_test_now_ms();
    for (uint32_t i = 0; i < MILLION; i++) {
        cio__timer_init(&timers[i], on_fire);
        cio__timer_insert(&w, &timers[i], start + rnd_span(50));
    }
    CHECK_EQ(cio__timer_wheel_count(&w), MILLION);
    CHECK(cio__timer_wheel_next_expiry(&w) <= start + MS);
    /* Cancel in a scrambled order (an odd multiplier permutes 0..2^20-1). */
    for (uint32_t i = 0; i < MILLION; i++) {
        uint32_t j = (i * 0x9e3779b1u) & (MILLION - 1);
        CHECK(cio__timer_cancel(&w, &timers[j]));
    }
    int64_t t1 = cio_test_now_ms();
    CHECK_EQ(cio__timer_wheel_count(&w), 0);
    CHECK_EQ(cio__timer_wheel_next_expiry(&w), CIO__TIMER_NEVER);
    CHECK_EQ(advance_to(&w, start + 30 * 86400 * SEC), 0);
    printf("    %d timers inserted and cancelled in %jd ms\n", MILLION, (intmax_t)(t1 - t0));
    free(timers);
}

static void test_million_fire(void)
{
    rng_state = 7;
    struct rec *recs = calloc(MILLION, sizeof(*recs));
    CHECK(recs != NULL);
    struct cio__timer_wheel w;
    cio_time start = 77 * SEC + 3;
    clock_now = clock_prev = start;
    last_tick_fired = 0;
    check_order = true;
    cio__timer_wheel_init(&w, start);
    int64_t t0 = cio_test_now_ms();
    for (uint32_t i = 0; i < MILLION; i++) {
        cio__timer_init(&recs[i].timer, on_fire);
        recs[i].armed_at = start;
        /* Within 10 minutes: dense slots on the low levels. */
        cio__timer_insert(&w, &recs[i].timer, start + (cio_time)rnd_below(600 * SEC));
    }
    size_t fired = 0;
    long steps = 0;
    while (cio__timer_wheel_count(&w) > 0) {
        CHECK(++steps < 2000000);
        fired += advance_to(&w, clock_now + (cio_time)rnd_below(4 * MS));
    }
    int64_t t1 = cio_test_now_ms();
    CHECK_EQ(fired, MILLION);
    for (uint32_t i = 0; i < MILLION; i++)
        CHECK_EQ(recs[i].fired, 1);
    printf("    %d timers inserted and fired in %jd ms (%ld advances)\n", MILLION,
           (intmax_t)(t1 - t0), steps);
    free(recs);
}

CIO_TEST_MAIN(TEST(test_random_all_levels), TEST(test_random_churn),
              TEST(test_million_insert_cancel), TEST(test_million_fire))
