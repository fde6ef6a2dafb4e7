/*
 * timers.c: what the timer wheel costs per timer with a million of them live. On a fake
 * clock (no sleeping): insert N timers with random deadlines (log-uniform from 0 ms to
 * ~1 day, so every level is used), then cancel them all in scrambled order; churn at N live
 * (cancel one, re-arm it elsewhere, N times); and insert N then fire them all by advancing
 * the clock 1 ms at a time (deadlines within 10 s, and within 1 hour). Each figure is the
 * median of several runs.
 *
 * Usage: timers [count]   (default 1,000,000)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "rt/timer.h"
#include "median.h"

#define RUNS 5
#define MS CIO_NSEC_PER_MSEC

static long count;
static struct cio__timer *timers;
static uint64_t rng_state = 0x243f6a8885a308d3u;
static size_t fired;

static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1du;
}

/* Log-uniform span up to 2^46 ns (~19.5 hours). */
static cio_duration rnd_span(void)
{
    unsigned bits = (unsigned)(rnd() % 47);
    return (cio_duration)(rnd() & ((UINT64_C(1) << bits) - 1));
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void on_fire(struct cio__timer_wheel *wheel, struct cio__timer *timer)
{
    (void)wheel;
    (void)timer;
    fired++;
}

/* A scrambled index: an odd multiplier modulo a power of two is a permutation; indexes past
 * `count` are skipped by the callers. */
static long scramble(long i, long pow2)
{
    return (long)(((uint64_t)i * 0x9e3779b97f4a7c15u) & (uint64_t)(pow2 - 1));
}

struct result {
    double insert, cancel, churn, fire_10s, fire_1h;
};

static void run(struct cio__timer_wheel *wheel, struct result *r)
{
    long pow2 = 1;
    while (pow2 < count)
        pow2 <<= 1;
    cio_time start = 1000 * CIO_NSEC_PER_SEC;

    /* insert N, then cancel N */
    cio__timer_wheel_init(wheel, start);
    int64_t t0 = now_ns();
    for (long i = 0; i < count; i++)
        cio__timer_insert(wheel, &timers[i], start + rnd_span());
    int64_t t1 = now_ns();
    /* churn at N live: cancel one, re-arm it somewhere else */
    for (long i = 0; i < count; i++) {
        long j = scramble(i, pow2) % count;
        cio__timer_cancel(wheel, &timers[j]);
        cio__timer_insert(wheel, &timers[j], start + rnd_span());
    }
    int64_t t2 = now_ns();
    for (long i = 0; i < pow2; i++) {
        long j = scramble(i, pow2);
        if (j < count)
            cio__timer_cancel(wheel, &timers[j]);
    }
    int64_t t3 = now_ns();
    if (cio__timer_wheel_count(wheel) != 0) {
        fprintf(stderr, "timers: %zu timers left after cancel\n", cio__timer_wheel_count(wheel));
        exit(1);
    }
    r->insert = (double)(t1 - t0) / (double)count;
    r->churn = (double)(t2 - t1) / (double)count;
    r->cancel = (double)(t3 - t2) / (double)count;

    /* insert N, then fire N, advancing 1 ms at a time */
    static const cio_duration spans[2] = {10 * CIO_NSEC_PER_SEC, 3600 * CIO_NSEC_PER_SEC};
    for (int k = 0; k < 2; k++) {
        cio__timer_wheel_init(wheel, start);
        fired = 0;
        int64_t f0 = now_ns();
        for (long i = 0; i < count; i++)
            cio__timer_insert(wheel, &timers[i], start + (cio_time)(rnd() % (uint64_t)spans[k]));
        for (cio_time now = start; cio__timer_wheel_count(wheel) > 0; now += MS)
            cio__timer_wheel_advance(wheel, now);
        int64_t f1 = now_ns();
        if (fired != (size_t)count) {
            fprintf(stderr, "timers: fired %zu of %ld\n", fired, count);
            exit(1);
        }
        double per = (double)(f1 - f0) / (double)count;
        if (k == 0)
            r->fire_10s = per;
        else
            r->fire_1h = per;
    }
}

int main(int argc, char **argv)
{
    count = argc > 1 ? atol(argv[1]) : 1000000;
    if (count < 2) {
        fprintf(stderr, "usage: timers [count >= 2]\n");
        return 2;
    }
    timers = calloc((size_t)count, sizeof(*timers));
    struct cio__timer_wheel *wheel = malloc(sizeof(*wheel));
    if (timers == NULL || wheel == NULL) {
        fprintf(stderr, "timers: out of memory\n");
        return 1;
    }
    for (long i = 0; i < count; i++)
        cio__timer_init(&timers[i], on_fire);

    double insert[RUNS], cancel[RUNS], churn[RUNS], fire_10s[RUNS], fire_1h[RUNS];
    for (int i = 0; i < RUNS; i++) {
        struct result r;
        run(wheel, &r);
        insert[i] = r.insert;
        cancel[i] = r.cancel;
        churn[i] = r.churn;
        fire_10s[i] = r.fire_10s;
        fire_1h[i] = r.fire_1h;
    }
    printf("timer wheel, %ld timers live, median of %d runs (ns per timer):\n", count, RUNS);
    double ins = median(insert, RUNS), can = median(cancel, RUNS);
    printf("  insert                          %8.1f\n", ins);
    printf("  cancel (scrambled order)        %8.1f\n", can);
    printf("  insert + cancel                 %8.1f\n", ins + can);
    printf("  cancel + re-insert at N live    %8.1f\n", median(churn, RUNS));
    printf("  insert + fire, deadlines < 10 s %8.1f  (advancing 1 ms at a time)\n",
           median(fire_10s, RUNS));
    printf("  insert + fire, deadlines < 1 h  %8.1f  (advancing 1 ms at a time)\n",
           median(fire_1h, RUNS));
    free(wheel);
    free(timers);
    return 0;
}
