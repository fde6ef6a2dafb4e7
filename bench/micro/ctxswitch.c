/*
 * ctxswitch.c: what one context switch costs — cio's coroutine switch (cio__coro_switch, as
 * the runtime uses it, and the bare assembly cio__ctx_switch) against glibc's swapcontext,
 * which saves and restores the signal mask with a system call each time. Two contexts
 * ping-pong; a round trip is two switches. Each figure is the median of several runs, in
 * thread CPU time, with the fastest run beside it.
 *
 * Usage: ctxswitch [round_trips]   (default 5,000,000 for cio, a tenth for swapcontext)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <ucontext.h>

#include "rt/coro.h"
#include "rt/stack.h"
#include "median.h"

#define RUNS 7

static long round_trips;

/* The thread's CPU time, not wall time: on a busy machine the time this thread spends
 * preempted is no part of a switch's cost. (The clock is read only twice per run.) */
static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- cio__coro_switch ---- */

static struct cio__coro main_coro, peer_coro;

static void coro_peer(void *arg)
{
    (void)arg;
    for (;;)
        cio__coro_switch(&peer_coro, &main_coro);
}

static double run_coro(long n)
{
    int64_t start = now_ns();
    for (long i = 0; i < n; i++)
        cio__coro_switch(&main_coro, &peer_coro);
    return (double)(now_ns() - start) / (2.0 * (double)n);
}

/* ---- bare cio__ctx_switch ---- */

static struct cio__ctx main_ctx, *peer_ctx;
static struct cio__coro raw_coro;

static void ctx_peer(void *arg)
{
    (void)arg;
    /* Started and parked with the annotated switch; after that main resumes it raw. */
    cio__coro_switch(&raw_coro, &main_coro);
    for (;;)
        cio__ctx_switch(peer_ctx, &main_ctx);
}

static double run_ctx(long n)
{
    int64_t start = now_ns();
    for (long i = 0; i < n; i++)
        cio__ctx_switch(&main_ctx, peer_ctx);
    return (double)(now_ns() - start) / (2.0 * (double)n);
}

/* ---- swapcontext ---- */

static ucontext_t main_uc, peer_uc;

static void uc_peer(void)
{
    for (;;)
        swapcontext(&peer_uc, &main_uc);
}

static double run_uc(long n)
{
    int64_t start = now_ns();
    for (long i = 0; i < n; i++)
        swapcontext(&main_uc, &peer_uc);
    return (double)(now_ns() - start) / (2.0 * (double)n);
}

int main(int argc, char **argv)
{
    round_trips = argc > 1 ? atol(argv[1]) : 5000000;
    if (round_trips <= 0) {
        fprintf(stderr, "usage: %s [round_trips]\n", argv[0]);
        return 2;
    }
    long uc_trips = round_trips / 10 > 0 ? round_trips / 10 : 1;

    if (cio__coro_thread_init(&main_coro, "bench") < 0 ||
        cio__coro_create(&peer_coro, NULL, 0, coro_peer, NULL, "peer") < 0) {
        fprintf(stderr, "ctxswitch: cannot create a coroutine\n");
        return 1;
    }

    /* The bare switch runs on a second coroutine's stack, started the annotated way. Under a
     * sanitizer, unannotated switches would confuse it: skip that measurement there. */
    if (cio__coro_create(&raw_coro, NULL, 0, ctx_peer, NULL, "raw") < 0)
        return 1;
    peer_ctx = &raw_coro.ctx;
    cio__coro_switch(&main_coro, &raw_coro);
    const int raw = !(CIO__ASAN || CIO__TSAN);

    static char uc_stack[256 * 1024];
    getcontext(&peer_uc);
    peer_uc.uc_stack.ss_sp = uc_stack;
    peer_uc.uc_stack.ss_size = sizeof(uc_stack);
    peer_uc.uc_link = NULL;
    makecontext(&peer_uc, uc_peer, 0);

    /* Warm up caches and branch predictors. */
    (void)run_coro(round_trips / 10 + 1);
    if (raw)
        (void)run_ctx(round_trips / 10 + 1);
    (void)run_uc(uc_trips / 10 + 1);

    double coro[RUNS], ctx[RUNS], uc[RUNS];
    for (int r = 0; r < RUNS; r++) {
        coro[r] = run_coro(round_trips);
        ctx[r] = raw ? run_ctx(round_trips) : 0;
        uc[r] = run_uc(uc_trips);
    }
    double coro_ns = median(coro, RUNS), ctx_ns = median(ctx, RUNS), uc_ns = median(uc, RUNS);
    printf("context switch, ns per switch (median of %d runs [fastest]; %ld round trips each, "
           "swapcontext %ld):\n",
           RUNS, round_trips, uc_trips);
    printf("  cio__coro_switch   %7.2f ns [%.2f]\n", coro_ns, coro[0]);
    if (raw)
        printf("  cio__ctx_switch    %7.2f ns [%.2f]   (bare assembly, no bookkeeping)\n", ctx_ns,
               ctx[0]);
    printf("  glibc swapcontext  %7.2f ns [%.2f]\n", uc_ns, uc[0]);
    printf("  swapcontext / cio  %7.1fx\n", uc_ns / coro_ns);
    /* The coroutines are parked in their loops for good; their stacks go with the process. */
    return 0;
}
