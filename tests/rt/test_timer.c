/*
 * test_timer.c: the timer wheel's promises on a fake clock — deadlines rounded up to the
 * millisecond and never fired early, firing order, cancel before and after firing, timers
 * armed and cancelled from callbacks, next_expiry never late, far-future (overflow) timers,
 * and random workloads over every level checked against a brute-force model.
 */
#include <string.h>

#include "harness.h"
#include "rt/timer.h"
#include "util/compiler.h"

#define MS CIO_NSEC_PER_MSEC
#define SEC CIO_NSEC_PER_SEC
#define DAY (86400 * SEC)
#define YEAR (365 * DAY)

/* A test timer: the wheel's entry inside a record of what happened to it. */
struct rec {
    struct cio__timer timer;
    int fired;
    cio_time fired_at;
    cio_time armed_at; /* the fake clock when last armed */
    uint64_t order;    /* global firing sequence number */
};

/* The fake clock as seen by callbacks: the `now` passed to the advance() in progress, and
 * the `now` of the advance() before it. */
static cio_time clock_now, clock_prev;
static uint64_t fire_seq;

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint64_t rnd(void)
{
    /* xorshift64*: deterministic, good enough to spread deadlines. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1du;
}

/* Uniform in [0, n). */
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

static void on_fire(struct cio__timer_wheel *wheel, struct cio__timer *timer)
{
    (void)wheel;
    struct rec *r = cio__container_of(timer, struct rec, timer);
    CHECK(!cio__timer_pending(timer));
    r->fired++;
    r->fired_at = clock_now;
    r->order = fire_seq++;
}

static size_t advance_to(struct cio__timer_wheel *w, cio_time now)
{
    clock_prev = clock_now;
    clock_now = now;
    return cio__timer_wheel_advance(w, now);
}

static void arm(struct cio__timer_wheel *w, struct rec *r, cio_time deadline)
{
    r->armed_at = clock_now;
    cio__timer_insert(w, &r->timer, deadline);
}

static void test_rounding_never_early(void)
{
    struct cio__timer_wheel w;
    clock_now = 1000 * MS;
    cio__timer_wheel_init(&w, clock_now);
    struct rec a = {0}, b = {0}, c = {0};
    cio__timer_init(&a.timer, on_fire);
    cio__timer_init(&b.timer, on_fire);
    cio__timer_init(&c.timer, on_fire);
    arm(&w, &a, 1001 * MS + 500 * CIO_NSEC_PER_USEC); /* 1001.5 ms: fires at 1002 ms */
    arm(&w, &b, 1002 * MS);                           /* exactly 1002 ms */
    arm(&w, &c, 1000 * MS + 1);                       /* 1 ns ahead: fires at 1001 ms */
    CHECK_EQ(cio__timer_wheel_count(&w), 3);
    CHECK(cio__timer_pending(&a.timer));
    CHECK_EQ(a.timer.deadline, 1001 * MS + 500 * CIO_NSEC_PER_USEC);

    CHECK_EQ(cio__timer_wheel_next_expiry(&w), 1001 * MS);
    CHECK_EQ(advance_to(&w, 1001 * MS - 1), 0);
    CHECK_EQ(advance_to(&w, 1001 * MS), 1);
    CHECK_EQ(c.fired, 1);
    CHECK_EQ(cio__timer_wheel_next_expiry(&w), 1002 * MS);
    CHECK_EQ(advance_to(&w, 1001 * MS + 999999), 0); /* 1001.999999 ms: a is not due */
    CHECK_EQ(a.fired + b.fired, 0);
    CHECK_EQ(advance_to(&w, 1002 * MS), 2);
    CHECK_EQ(a.fired, 1);
    CHECK_EQ(b.fired, 1);
    CHECK(a.order < b.order); /* same ms: insertion order */
    CHECK_EQ(cio__timer_wheel_count(&w), 0);
    CHECK_EQ(cio__timer_wheel_next_expiry(&w), CIO__TIMER_NEVER);
    CHECK_EQ(cio__timer_wheel_timeout(&w, clock_now), -1);
    CHECK_EQ(advance_to(&w, 5000 * MS), 0);
}

static void test_order_across_levels(void)
{
    /* Deadlines on every level, inserted in scrambled order, one advance far past them all:
     * they fire in deadline order within that single call. */
    enum { N = 64 };
    static struct rec recs[N];
    struct cio__timer_wheel w;
    clock_now = 7 * MS;
    cio__timer_wheel_init(&w, clock_now);
    memset(recs, 0, sizeof(recs));
    for (int i = 0; i < N; i++) {
        int j = (i * 37) % N; /* a permutation of 0..N-1 */
        cio__timer_init(&recs[j].timer, on_fire);
        /* Spans growing ~1.6x: from 1 ms to far beyond the wheel's ~2.2-year span. */
        cio_duration span = MS;
        for (int k = 0; k < j; k++)
            span += span / 2 + MS;
        arm(&w, &recs[j], clock_now + span);
    }
    CHECK_EQ(cio__timer_wheel_count(&w), N);
    size_t fired = advance_to(&w, INT64_MAX / 2);
    CHECK_EQ(fired, N);
    for (int i = 1; i < N; i++)
        CHECK(recs[i].order == recs[i - 1].order + 1);
}

static void test_cancel(void)
{
    struct cio__timer_wheel w;
    clock_now = 0;
    cio__timer_wheel_init(&w, 0);
    struct rec a = {0}, b = {0}, c = {0}, d = {0};
    cio__timer_init(&a.timer, on_fire);
    cio__timer_init(&b.timer, on_fire);
    cio__timer_init(&c.timer, on_fire);
    cio__timer_init(&d.timer, on_fire);
    CHECK(!cio__timer_cancel(&w, &a.timer)); /* never inserted */
    arm(&w, &a, 10 * MS);
    arm(&w, &b, 10 * MS);
    arm(&w, &c, 5 * SEC); /* level 2 */
    arm(&w, &d, -5);      /* already due */
    CHECK_EQ(cio__timer_wheel_count(&w), 4);

    CHECK(cio__timer_cancel(&w, &a.timer)); /* before it fires */
    CHECK(!cio__timer_pending(&a.timer));
    CHECK(!cio__timer_cancel(&w, &a.timer)); /* twice */
    CHECK(cio__timer_cancel(&w, &d.timer));  /* from the expired list */
    CHECK_EQ(cio__timer_wheel_count(&w), 2);
    CHECK_EQ(advance_to(&w, 10 * MS), 1);
    CHECK_EQ(a.fired, 0);
    CHECK_EQ(b.fired, 1);
    CHECK_EQ(d.fired, 0);
    CHECK(!cio__timer_cancel(&w, &b.timer)); /* after it fired */

    /* c sits on a high level; cancelling it empties its slot, and the wheel must not report
     * or visit it afterwards. */
    CHECK(cio__timer_wheel_next_expiry(&w) <= 5 * SEC);
    CHECK(cio__timer_cancel(&w, &c.timer));
    CHECK_EQ(cio__timer_wheel_next_expiry(&w), CIO__TIMER_NEVER);
    CHECK_EQ(advance_to(&w, 10 * SEC), 0);
    CHECK_EQ(c.fired, 0);

    /* Re-arming a pending timer moves it; it fires once, at the new time. */
    arm(&w, &c, 20 * SEC);
    arm(&w, &c, 11 * SEC);
    CHECK_EQ(cio__timer_wheel_count(&w), 1);
    CHECK_EQ(advance_to(&w, 11 * SEC), 1);
    CHECK_EQ(c.fired, 1);
    CHECK_EQ(advance_to(&w, 30 * SEC), 0);
    CHECK_EQ(c.fired, 1);
}

/* Callbacks that act on the wheel. */
struct actor {
    struct rec rec;
    struct cio__timer *victim; /* cancelled when this one fires */
    cio_duration period;       /* re-armed at deadline + period while fired < limit */
    int limit;
    bool rearm_now; /* re-arm at the time being processed (must wait for the next call) */
    struct rec *spawn;
    cio_duration spawn_after;
};

static bool last_cancel_result;

static void on_act(struct cio__timer_wheel *wheel, struct cio__timer *timer)
{
    struct actor *a = cio__container_of(timer, struct actor, rec.timer);
    on_fire(wheel, timer);
    if (a->victim != NULL)
        last_cancel_result = cio__timer_cancel(wheel, a->victim);
    if (a->period > 0 && a->rec.fired < a->limit)
        cio__timer_insert(wheel, timer, timer->deadline + a->period);
    if (a->rearm_now && a->rec.fired < a->limit)
        cio__timer_insert(wheel, timer, timer->deadline);
    if (a->spawn != NULL) {
        cio__timer_insert(wheel, &a->spawn->timer, timer->deadline + a->spawn_after);
        a->spawn = NULL;
    }
}

static void test_reinsert_from_callback(void)
{
    struct cio__timer_wheel w;
    clock_now = 0;
    cio__timer_wheel_init(&w, 0);

    /* A periodic timer catches up within one advance: 10 ms period over 1 s = 100 firings,
     * each at its own deadline's time in the wheel's view. */
    struct actor p;
    memset(&p, 0, sizeof(p));
    cio__timer_init(&p.rec.timer, on_act);
    p.period = 10 * MS;
    p.limit = 1000;
    arm(&w, &p.rec, 10 * MS);
    CHECK_EQ(advance_to(&w, 1000 * MS), 100);
    CHECK_EQ(p.rec.fired, 100);
    CHECK(cio__timer_pending(&p.rec.timer));
    CHECK_EQ(p.rec.timer.deadline, 1010 * MS);
    CHECK_EQ(cio__timer_wheel_next_expiry(&w), 1010 * MS);
    CHECK(cio__timer_cancel(&w, &p.rec.timer));

    /* A timer that re-arms itself for the time being processed fires once per advance()
     * call, not forever; next_expiry says it is due. */
    struct actor s;
    memset(&s, 0, sizeof(s));
    cio__timer_init(&s.rec.timer, on_act);
    s.rearm_now = true;
    s.limit = 3;
    arm(&w, &s.rec, 1001 * MS);
    CHECK_EQ(advance_to(&w, 1005 * MS), 1);
    CHECK(cio__timer_pending(&s.rec.timer));
    CHECK(cio__timer_wheel_next_expiry(&w) <= 1005 * MS);
    CHECK_EQ(cio__timer_wheel_timeout(&w, 1005 * MS), 0);
    CHECK_EQ(advance_to(&w, 1005 * MS), 1);
    CHECK_EQ(advance_to(&w, 1005 * MS), 1);
    CHECK_EQ(s.rec.fired, 3);
    CHECK(!cio__timer_pending(&s.rec.timer));
    CHECK_EQ(advance_to(&w, 1005 * MS), 0);

    /* A callback cancels a timer due in the same ms (it must not fire) and one far away. */
    struct actor k;
    struct rec same = {0}, far = {0}, spawned = {0};
    memset(&k, 0, sizeof(k));
    cio__timer_init(&k.rec.timer, on_act);
    cio__timer_init(&same.timer, on_fire);
    cio__timer_init(&far.timer, on_fire);
    cio__timer_init(&spawned.timer, on_fire);
    arm(&w, &k.rec, 2000 * MS);
    arm(&w, &same, 2000 * MS);
    arm(&w, &far, 3 * DAY);
    k.victim = &same.timer;
    k.spawn = &spawned;
    k.spawn_after = 5 * MS; /* armed from the callback, due within this same advance */
    last_cancel_result = false;
    CHECK_EQ(advance_to(&w, 2010 * MS), 2);
    CHECK(last_cancel_result);
    CHECK_EQ(same.fired, 0);
    CHECK_EQ(spawned.fired, 1);
    CHECK_EQ(spawned.fired_at, 2010 * MS);
    CHECK_EQ(cio__timer_wheel_count(&w), 1);
    CHECK(cio__timer_cancel(&w, &far.timer));
    CHECK_EQ(cio__timer_wheel_count(&w), 0);
}

/* A callback that frees its own record (and a cancelled neighbour). */
struct owned {
    struct cio__timer timer;
    struct owned *neighbour;
    int *counter;
};

static void on_free_self(struct cio__timer_wheel *wheel, struct cio__timer *timer)
{
    struct owned *o = cio__container_of(timer, struct owned, timer);
    (*o->counter)++;
    if (o->neighbour != NULL && cio__timer_cancel(wheel, &o->neighbour->timer)) {
        free(o->neighbour);
        o->neighbour = NULL;
    }
    free(o);
}

static void test_callback_frees(void)
{
    /* ASan checks that the wheel touches neither memory after the callbacks free it. */
    struct cio__timer_wheel w;
    cio__timer_wheel_init(&w, 0);
    int counter = 0;
    for (int i = 0; i < 100; i++) {
        struct owned *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
        CHECK(a != NULL && b != NULL);
        cio__timer_init(&a->timer, on_free_self);
        cio__timer_init(&b->timer, on_free_self);
        a->counter = b->counter = &counter;
        a->neighbour = b;
        cio__timer_insert(&w, &a->timer, (i % 7) * MS);
        cio__timer_insert(&w, &b->timer, (i % 7) * MS); /* same ms, after a */
    }
    CHECK_EQ(cio__timer_wheel_advance(&w, 10 * MS), 100);
    CHECK_EQ(counter, 100);
    CHECK_EQ(cio__timer_wheel_count(&w), 0);
}

static void test_past_and_backwards(void)
{
    struct cio__timer_wheel w;
    clock_now = 500 * MS;
    cio__timer_wheel_init(&w, clock_now);
    struct rec a = {0}, b = {0}, c = {0};
    cio__timer_init(&a.timer, on_fire);
    cio__timer_init(&b.timer, on_fire);
    cio__timer_init(&c.timer, on_fire);
    arm(&w, &a, 100 * MS); /* in the past */
    arm(&w, &b, INT64_MIN);
    CHECK(cio__timer_wheel_next_expiry(&w) <= 500 * MS);
    CHECK_EQ(cio__timer_wheel_timeout(&w, 500 * MS), 0);
    CHECK_EQ(advance_to(&w, 500 * MS), 2); /* same now: already-due timers still fire */
    CHECK_EQ(a.fired + b.fired, 2);

    /* Time going backwards is treated as no progress. */
    arm(&w, &c, 501 * MS);
    CHECK_EQ(advance_to(&w, 100 * MS), 0);
    CHECK_EQ(advance_to(&w, -1), 0);
    CHECK_EQ(c.fired, 0);
    CHECK_EQ(advance_to(&w, 501 * MS), 1);
    CHECK_EQ(c.fired, 1);
}

static void test_next_expiry(void)
{
    struct cio__timer_wheel w;
    cio__timer_wheel_init(&w, 0);
    CHECK_EQ(cio__timer_wheel_next_expiry(&w), CIO__TIMER_NEVER);
    struct rec a = {0}, b = {0};
    cio__timer_init(&a.timer, on_fire);
    cio__timer_init(&b.timer, on_fire);
    /* Level 0: exact. */
    arm(&w, &a, 40 * MS + 1);
    CHECK_EQ(cio__timer_wheel_next_expiry(&w), 41 * MS);
    CHECK_EQ(cio__timer_wheel_timeout(&w, 1 * MS), 40 * MS);
    /* An earlier timer on the same level takes over; cancelling it gives back the first. */
    arm(&w, &b, 3 * MS);
    CHECK_EQ(cio__timer_wheel_next_expiry(&w), 3 * MS);
    CHECK(cio__timer_cancel(&w, &b.timer));
    CHECK_EQ(cio__timer_wheel_next_expiry(&w), 41 * MS);
    CHECK(cio__timer_cancel(&w, &a.timer));
    /* Higher level: the start of its slot, early but never late; advancing there cascades,
     * and the following answer is exact. */
    arm(&w, &a, 100000 * MS + 7 * MS); /* 100.007 s: level 2 (slots of 4096 ms) */
    cio_time e = cio__timer_wheel_next_expiry(&w);
    CHECK(e <= 100007 * MS);
    CHECK(e > 100007 * MS - 4096 * MS);
    CHECK_EQ(advance_to(&w, e), 0);
    CHECK_EQ(cio__timer_wheel_next_expiry(&w) <= 100007 * MS, 1);
    for (int i = 0; i < 6 && a.fired == 0; i++)
        advance_to(&w, cio__timer_wheel_next_expiry(&w));
    CHECK_EQ(a.fired, 1);
    CHECK_EQ(a.fired_at, 100007 * MS);
}

/*
 * A scheduler's loop on a fake clock: sleep exactly until next_expiry and advance. Checked
 * against the brute-force minimum over all armed timers: next_expiry is never later than
 * the earliest (rounded) deadline, an advance to just before it fires nothing, and every
 * timer fires exactly at its rounded deadline.
 */
static void run_scheduler_loop(cio_time start, int n, unsigned max_bits, cio_duration extra)
{
    struct rec *recs = calloc((size_t)n, sizeof(*recs));
    CHECK(recs != NULL);
    struct cio__timer_wheel w;
    clock_now = clock_prev = start;
    cio__timer_wheel_init(&w, start);
    for (int i = 0; i < n; i++) {
        cio__timer_init(&recs[i].timer, on_fire);
        arm(&w, &recs[i], start + rnd_span(max_bits) + (i % 3 == 0 ? extra : 0));
    }
    int remaining = n, loops = 0;
    while (remaining > 0) {
        CHECK(++loops <= 8 * n + 100);
        cio_time min = INT64_MAX;
        for (int i = 0; i < n; i++)
            if (cio__timer_pending(&recs[i].timer) && ceil_ms(recs[i].timer.deadline) < min)
                min = ceil_ms(recs[i].timer.deadline);
        cio_time e = cio__timer_wheel_next_expiry(&w);
        CHECK(e <= min);
        CHECK(e >= clock_now - MS);
        if (e > clock_now)
            CHECK_EQ(advance_to(&w, e - 1), 0);
        size_t fired = advance_to(&w, e);
        remaining -= (int)fired;
        /* Random cancels keep the slot bookkeeping honest. */
        if (rnd_below(8) == 0) {
            int i = (int)rnd_below((uint64_t)n);
            if (cio__timer_cancel(&w, &recs[i].timer)) {
                recs[i].fired = -1;
                remaining--;
            }
        }
    }
    CHECK_EQ(cio__timer_wheel_count(&w), 0);
    CHECK_EQ(cio__timer_wheel_next_expiry(&w), CIO__TIMER_NEVER);
    for (int i = 0; i < n; i++) {
        if (recs[i].fired == -1)
            continue;
        CHECK_EQ(recs[i].fired, 1);
        CHECK_EQ(recs[i].fired_at, ceil_ms(recs[i].timer.deadline));
    }
    free(recs);
}

static void test_next_expiry_scheduler_loop(void)
{
    rng_state = 12345;
    run_scheduler_loop(123456789 * MS + 17, 1500, 50, 0); /* up to ~13 days */
    /* Start just before a top-level boundary (2^36 ms) so the loop crosses it. */
    run_scheduler_loop(((INT64_C(1) << 36) - 3) * MS, 1500, 45, 0);
}

static void test_far_future(void)
{
    /* Beyond the wheel's ~2.2-year span: the overflow list. */
    static const cio_duration spans[] = {
        2 * YEAR, 3 * YEAR, 3 * YEAR + 1, 10 * YEAR, 100 * YEAR, 250 * YEAR,
    };
    enum { N = (int)(sizeof(spans) / sizeof(spans[0])) };
    struct rec recs[N], never = {0};
    memset(recs, 0, sizeof(recs));
    struct cio__timer_wheel w;
    cio_time start = 5 * DAY;
    clock_now = start;
    cio__timer_wheel_init(&w, start);
    for (int i = N - 1; i >= 0; i--) {
        cio__timer_init(&recs[i].timer, on_fire);
        arm(&w, &recs[i], start + spans[i]);
    }
    cio__timer_init(&never.timer, on_fire);
    arm(&w, &never, CIO__TIMER_NEVER);
    CHECK(cio__timer_wheel_next_expiry(&w) <= start + spans[0]);

    /* One near timer among them, and a far one cancelled. */
    struct rec near = {0};
    cio__timer_init(&near.timer, on_fire);
    arm(&w, &near, start + 5 * MS);
    CHECK_EQ(cio__timer_wheel_next_expiry(&w), start + 5 * MS);
    CHECK(cio__timer_cancel(&w, &recs[3].timer));

    /* Follow next_expiry: each fires exactly at its ms, in order, in few steps. */
    int loops = 0;
    while (cio__timer_wheel_next_expiry(&w) != CIO__TIMER_NEVER) {
        CHECK(++loops < 200);
        advance_to(&w, cio__timer_wheel_next_expiry(&w));
    }
    CHECK_EQ(near.fired, 1);
    uint64_t prev_order = near.order;
    for (int i = 0; i < N; i++) {
        if (i == 3) {
            CHECK_EQ(recs[i].fired, 0);
            continue;
        }
        CHECK_EQ(recs[i].fired, 1);
        CHECK_EQ(recs[i].fired_at, ceil_ms(start + spans[i]));
        CHECK(recs[i].order > prev_order);
        prev_order = recs[i].order;
    }
    /* CIO__TIMER_NEVER is armed but never fires, even at the end of time. */
    CHECK(cio__timer_pending(&never.timer));
    CHECK_EQ(advance_to(&w, INT64_MAX), 0);
    CHECK(cio__timer_cancel(&w, &never.timer));

    /* One big jump into an overflow timer's span without reaching it, then a later wheel
     * timer: the overflow one must still fire first, at its time. */
    struct cio__timer_wheel w2;
    clock_now = 0;
    cio__timer_wheel_init(&w2, 0);
    struct rec o = {0}, l = {0};
    cio__timer_init(&o.timer, on_fire);
    cio__timer_init(&l.timer, on_fire);
    cio_time top = (INT64_C(1) << 36) * MS; /* the first ms past the wheel's span */
    arm(&w2, &o, top + 100 * MS);
    CHECK_EQ(advance_to(&w2, top + 10 * MS), 0);
    arm(&w2, &l, top + 200 * MS);
    CHECK(cio__timer_wheel_next_expiry(&w2) <= top + 100 * MS);
    CHECK_EQ(advance_to(&w2, top + 300 * MS), 2);
    CHECK(o.order < l.order);
    CHECK_EQ(o.fired_at, top + 300 * MS);
}

static void test_fini(void)
{
    struct cio__timer_wheel w;
    cio__timer_wheel_init(&w, 0);
    struct rec a = {0}, b = {0}, c = {0};
    cio__timer_init(&a.timer, on_fire);
    cio__timer_init(&b.timer, on_fire);
    cio__timer_init(&c.timer, on_fire);
    arm(&w, &a, -1);
    arm(&w, &b, 1 * DAY);
    arm(&w, &c, 9 * YEAR);
    cio__timer_wheel_fini(&w);
    CHECK(!cio__timer_pending(&a.timer));
    CHECK(!cio__timer_pending(&b.timer));
    CHECK(!cio__timer_pending(&c.timer));
    CHECK(!cio__timer_cancel(&w, &b.timer));
    CHECK_EQ(cio__timer_wheel_count(&w), 0);
    CHECK_EQ(cio__timer_wheel_next_expiry(&w), CIO__TIMER_NEVER);
    CHECK_EQ(cio__timer_wheel_advance(&w, 10 * YEAR), 0);
    CHECK_EQ(a.fired + b.fired + c.fired, 0);
}

CIO_TEST_MAIN(TEST(test_rounding_never_early), TEST(test_order_across_levels), TEST(test_cancel),
              TEST(test_reinsert_from_callback), TEST(test_callback_frees),
              TEST(test_past_and_backwards), TEST(test_next_expiry),
              TEST(test_next_expiry_scheduler_loop), TEST(test_far_future), TEST(test_fini))
