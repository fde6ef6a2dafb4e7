/*
 * spread.c: does a 2-worker runtime spread CPU-bound work by itself? One task spawns N
 * CPU-bound tasks (each a fixed amount of arithmetic, yielding every YIELD_EVERY rounds, as
 * cooperative code does) and joins them; the wall time for N = 2 is compared with N = 1.
 * With work stealing the second task runs on the other worker and the two finish in about
 * the time of one (issue 13's target: at most 1.3x); with no_stealing both stay on the
 * spawner's worker and take twice as long. The variants run interleaved (A B C A B C ...) so
 * that drift on a shared machine hits them alike; each figure is the median of the runs with
 * its range, and the ratios are the medians of the per-round ratios.
 *
 * Usage: spread [runs] [rounds per task]   (default 9 runs, 200,000,000 rounds)
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cio/rt.h"
#include "median.h"

#define YIELD_EVERY 100000
#define MAX_RUNS 101

static long rounds;
static _Atomic uint64_t sink;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *cpu_task(void *arg)
{
    uint64_t x = (uint64_t)(uintptr_t)arg | 1;
    for (long i = 0; i < rounds; i++) {
        x = x * 6364136223846793005u + 1442695040888963407u; /* an LCG: no memory traffic */
        if (i % YIELD_EVERY == YIELD_EVERY - 1 && cio_yield() < 0)
            break;
    }
    atomic_store_explicit(&sink, x, memory_order_relaxed);
    return NULL;
}

static void *spawner(void *arg)
{
    int n = (int)(intptr_t)arg;
    cio_join_handle *h[2];
    for (int i = 0; i < n; i++)
        if (cio_spawn(&h[i], cpu_task, (void *)(intptr_t)(i + 1)) < 0)
            abort();
    for (int i = 0; i < n; i++)
        if (cio_task_join(h[i], NULL, NULL) < 0)
            abort();
    return NULL;
}

/* Seconds for @n tasks on a fresh 2-worker runtime. */
static double run(int n, bool no_stealing)
{
    cio_rt_options o = {.flavor = CIO_RT_MULTI_THREAD, .workers = 2, .no_stealing = no_stealing};
    cio_rt *rt;
    if (cio_rt_new(&rt, &o) < 0)
        abort();
    int64_t start = now_ns();
    if (cio_rt_block_on(rt, spawner, (void *)(intptr_t)n, NULL) < 0)
        abort();
    double s = (double)(now_ns() - start) / 1e9;
    cio_rt_free(rt);
    return s;
}

static void report(const char *what, double *v, int n)
{
    double copy[MAX_RUNS];
    for (int i = 0; i < n; i++)
        copy[i] = v[i];
    double m = median(copy, n);
    printf("%-44s %8.3f s  [%.3f-%.3f]\n", what, m, copy[0], copy[n - 1]);
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 9;
    rounds = argc > 2 ? atol(argv[2]) : 200000000;
    if (runs < 1 || runs > MAX_RUNS || rounds < 1) {
        fprintf(stderr, "usage: spread [runs 1-%d] [rounds per task]\n", MAX_RUNS);
        return 2;
    }
    double one[MAX_RUNS], two[MAX_RUNS], pinned[MAX_RUNS], r_two[MAX_RUNS], r_pinned[MAX_RUNS];
    (void)run(1, false); /* warm-up: stacks, page faults */
    for (int i = 0; i < runs; i++) {
        one[i] = run(1, false);
        two[i] = run(2, false);
        pinned[i] = run(2, true);
        r_two[i] = two[i] / one[i];
        r_pinned[i] = pinned[i] / one[i];
    }
    printf("2 workers, %ld rounds per task, yield every %d, %d interleaved runs\n", rounds,
           YIELD_EVERY, runs);
    report("one task", one, runs);
    report("two tasks, work stealing", two, runs);
    report("two tasks, no_stealing (both on one worker)", pinned, runs);
    printf("two tasks / one task, paired median: stealing %.3fx, no_stealing %.3fx\n",
           median(r_two, runs), median(r_pinned, runs));
    return 0;
}
