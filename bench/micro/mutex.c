/*
 * mutex.c: cio_mutex against a plain pthread_mutex_t under contention, for a short section
 * that never suspends (the case cio/sync.h says a plain mutex is the tool for). TASKS shared
 * tasks on a 2-worker runtime each take the lock ITERS times around a few increments of a
 * shared counter, yielding every YIELD_EVERY iterations so that the tasks of one worker take
 * turns; the two workers contend. The two locks run interleaved (A B A B ...) so that drift
 * on a shared machine hits both alike; each figure is the median of the runs' wall times
 * (the runtime's threads are the work), with the range, and the median of the paired ratios.
 *
 * Usage: mutex [runs] [iterations per task]   (default 9 runs, 200,000 iterations)
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cio/rt.h"
#include "cio/sync.h"
#include "median.h"

#define TASKS 4
#define YIELD_EVERY 64
#define MAX_RUNS 101

static long iters;

struct shared {
    pthread_mutex_t plain;
    cio_mutex *async;
    bool use_async;
    uint64_t counter[4]; /* the section's work: a few dependent updates */
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void section(struct shared *s)
{
    s->counter[0]++;
    s->counter[1] += s->counter[0];
    s->counter[2] ^= s->counter[1];
    s->counter[3] += s->counter[2] & 7;
}

static void *contender(void *arg)
{
    struct shared *s = arg;
    for (long i = 0; i < iters; i++) {
        if (s->use_async) {
            if (cio_mutex_lock(s->async) < 0)
                abort();
            section(s);
            cio_mutex_unlock(s->async);
        } else {
            pthread_mutex_lock(&s->plain);
            section(s);
            pthread_mutex_unlock(&s->plain);
        }
        if (i % YIELD_EVERY == YIELD_EVERY - 1)
            (void)cio_yield();
    }
    return NULL;
}

static void *run_all(void *arg)
{
    cio_join_handle *h[TASKS];
    for (int i = 0; i < TASKS; i++)
        if (cio_spawn(&h[i], contender, arg) < 0)
            abort();
    for (int i = 0; i < TASKS; i++)
        if (cio_task_join(h[i], NULL, NULL) < 0)
            abort();
    return NULL;
}

/* One run: the wall time of TASKS * iters lock/unlock pairs, in ns per pair. */
static double run(cio_rt *rt, struct shared *s, bool use_async)
{
    s->use_async = use_async;
    int64_t start = now_ns();
    if (cio_rt_block_on(rt, run_all, s, NULL) < 0)
        abort();
    int64_t took = now_ns() - start;
    if (s->counter[0] % ((uint64_t)TASKS * (uint64_t)iters) != 0)
        abort(); /* a lost update: the lock did not exclude */
    return (double)took / (double)(TASKS * iters);
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 9;
    iters = argc > 2 ? atol(argv[2]) : 200000;
    if (runs <= 0 || runs > MAX_RUNS || iters <= 0) {
        fprintf(stderr, "usage: %s [runs (1-%d)] [iterations per task]\n", argv[0], MAX_RUNS);
        return 2;
    }
    cio_rt *rt;
    cio_rt_options o = {.flavor = CIO_RT_MULTI_THREAD, .workers = 2};
    struct shared s = {0};
    if (cio_rt_new(&rt, &o) < 0 || cio_mutex_new(&s.async) < 0)
        return 1;
    pthread_mutex_init(&s.plain, NULL);
    double plain[MAX_RUNS], async[MAX_RUNS], ratio[MAX_RUNS];
    (void)run(rt, &s, false); /* warm-up: stacks, threads */
    for (int i = 0; i < runs; i++) {
        plain[i] = run(rt, &s, false);
        async[i] = run(rt, &s, true);
        ratio[i] = plain[i] / async[i]; /* throughput of cio_mutex over the plain one's */
    }
    double pm = median(plain, runs), am = median(async, runs), rm = median(ratio, runs);
    printf("%d tasks on 2 workers, %ld lock/unlock pairs each, yield every %d; %d interleaved "
           "runs, median [min-max]\n",
           TASKS, iters, YIELD_EVERY, runs);
    printf("pthread_mutex_t  %7.1f ns per pair [%.1f-%.1f]\n", pm, plain[0], plain[runs - 1]);
    printf("cio_mutex        %7.1f ns per pair [%.1f-%.1f]\n", am, async[0], async[runs - 1]);
    printf("cio_mutex throughput / pthread_mutex_t's, paired runs: median %.2fx [%.2f-%.2f]\n", rm,
           ratio[0], ratio[runs - 1]);
    cio_mutex_free(s.async);
    pthread_mutex_destroy(&s.plain);
    cio_rt_free(rt);
    return 0;
}
