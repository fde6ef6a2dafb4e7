/*
 * test_task_scale.c: tasks by the million at the kernel's default vm.max_map_count — a
 * million tasks parked at once (half on timers, half on a channel) and all woken, and a
 * million spawned and finished in a loop without the process growing. Needs guard regions
 * (stacks carved from arenas, src/rt/stack.c) and the memory for a million touched stack
 * pages; skipped with the reason otherwise, and under sanitizers and valgrind (their shadow
 * of a million stacks is more than a test machine has).
 */
/* cio-test-labels: slow */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cio/rt.h"
#include "cio/sync.h"
#include "harness.h"
#include "rt/stack.h"

#define MILLION 1000000L
#define MS CIO_NSEC_PER_MSEC

/* A field of /proc/meminfo or /proc/self/status in KiB, or -1. */
static long proc_kib(const char *file, const char *field)
{
    FILE *f = fopen(file, "re");
    char line[256];
    long value = -1;
    size_t len = strlen(field);
    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, field, len) == 0 && line[len] == ':')
            value = strtol(line + len + 1, NULL, 10);
    if (f != NULL)
        fclose(f);
    return value;
}

static void need_room(long gib_total, long gib_available)
{
    if (CIO__ASAN || CIO__TSAN || cio_test_under_valgrind())
        TEST_SKIP("a million stacks under a sanitizer or valgrind: their shadow memory is more "
                  "than the test can ask for");
    if (!cio__stack_arenas_used())
        TEST_SKIP("no guard regions on this kernel (MADV_GUARD_INSTALL, Linux 6.13): each "
                  "stack is two mappings and vm.max_map_count allows ~32k tasks");
    long total = proc_kib("/proc/meminfo", "MemTotal");
    long avail = proc_kib("/proc/meminfo", "MemAvailable");
    if (total < gib_total << 20)
        TEST_SKIP("the machine has %ld MiB, the test needs %ld GiB", total >> 10, gib_total);
    if (avail < gib_available << 20)
        TEST_SKIP("only %ld MiB available now, the test needs %ld GiB", avail >> 10, gib_available);
}

/* ---- a million parked ---- */

static long parked, finished;
static cio_abort_handle *sleepers;
static cio_chan_receiver *rx;

static void *sleeper(void *arg)
{
    long i = (long)(intptr_t)arg;
    /* A local whose address the task keeps across its park. */
    volatile long local = i * 3;
    volatile long *mine = &local;
    CHECK_RC(cio_task_current_abort_handle(&sleepers[i / 2]));
    parked++;
    CHECK_ERR(cio_sleep(3600 * CIO_NSEC_PER_SEC), -ECANCELED); /* woken by the test */
    CHECK_EQ(*mine, i * 3);
    finished++;
    return NULL;
}

static void *receiver(void *arg)
{
    long i = (long)(intptr_t)arg;
    volatile long local = i * 5;
    volatile long *mine = &local;
    char item;
    parked++;
    CHECK_EQ(cio_chan_recv(rx, &item), 0); /* closed: every sender gone */
    CHECK_EQ(*mine, i * 5);
    finished++;
    return NULL;
}

static void wait_until(const long *counter, long target, const char *what)
{
    cio_time give_up = cio_now() + 50 * CIO_NSEC_PER_SEC;
    while (*counter < target) {
        if (cio_now() > give_up)
            TEST_FAIL("%s: %ld of %ld after 50 s", what, *counter, target);
        CHECK_RC(cio_sleep(20 * MS));
    }
}

static void *million_main(void *arg)
{
    (void)arg;
    cio_chan_sender *tx;
    long rss_before = proc_kib("/proc/self/status", "VmRSS");
    long pte_before = proc_kib("/proc/self/status", "VmPTE");
    long maps_before = cio_test_mapping_count();
    CHECK_RC(cio_chan_new(&tx, &rx, 1, 1));
    sleepers = calloc(MILLION / 2, sizeof(*sleepers));
    CHECK(sleepers != NULL);
    cio_time t0 = cio_now();
    for (long i = 0; i < MILLION; i++) {
        int rc = cio_spawn(NULL, i % 2 == 0 ? sleeper : receiver, (void *)(intptr_t)i);
        if (rc < 0)
            TEST_FAIL("spawn %ld failed: %s (%ld mappings)", i, cio_strerror(rc),
                      cio_test_mapping_count());
        if (i % 65536 == 65535)
            CHECK_RC(cio_yield()); /* let them park as we go */
    }
    wait_until(&parked, MILLION, "parked");
    cio_time t1 = cio_now();
    long rss = proc_kib("/proc/self/status", "VmRSS");
    long pte = proc_kib("/proc/self/status", "VmPTE");
    long maps = cio_test_mapping_count();
    printf("    %ld tasks parked in %.1f s: %+ld kernel mappings (limit %s), per task %ld B of "
           "RSS and %ld B of page tables\n",
           MILLION, (double)(t1 - t0) / 1e9, maps - maps_before, "65530",
           (rss - rss_before) * 1024 / MILLION, (pte - pte_before) * 1024 / MILLION);
    CHECK(maps - maps_before < 10000);
    /* Wake them all: the timers by cancellation, the channel by its end. */
    for (long i = 0; i < MILLION / 2; i++)
        CHECK_RC(cio_abort_handle_cancel(sleepers[i]));
    cio_chan_sender_free(tx);
    wait_until(&finished, MILLION, "finished");
    /* Their stacks go back once the worker is off them, the records when it trims the heap
     * (before it sleeps, or within a second while busy). */
    long rss_after = 0;
    for (int i = 0; i < 150; i++) {
        CHECK_RC(cio_sleep(20 * MS));
        rss_after = proc_kib("/proc/self/status", "VmRSS");
        if (rss_after - rss_before < (rss - rss_before) / 20)
            break;
    }
    printf("    all finished in %.1f s; RSS %+ld MiB over the start (was %+ld MiB parked), %+ld "
           "mappings\n",
           (double)(cio_now() - t1) / 1e9, (rss_after - rss_before) >> 10, (rss - rss_before) >> 10,
           cio_test_mapping_count() - maps_before);
    /* What stays: the registries of stacks and abort handles (tens of MiB, reused), the
     * channel's and the timer wheel's tables; not the stacks. */
    CHECK(rss_after - rss_before < (rss - rss_before) / 20);
    cio_chan_receiver_free(rx);
    free(sleepers);
    return NULL;
}

static void test_million_parked(void)
{
    need_room(8, 6);
    cio_rt *rt;
    CHECK_RC(cio_rt_new(&rt, NULL));
    CHECK_RC(cio_rt_block_on(rt, million_main, NULL, NULL));
    cio_rt_free(rt);
}

/* ---- a million spawned and finished, a thousand at a time ---- */

static long done;

static void *short_task(void *arg)
{
    volatile char frame[2048]; /* touches a second page of its stack */
    frame[0] = (char)(intptr_t)arg;
    frame[sizeof(frame) - 1] = frame[0];
    done++;
    return NULL;
}

static void *churn_main(void *arg)
{
    (void)arg;
    enum { BATCH = 1000 };
    long rss_warm = 0, maps_warm = 0;
    size_t arenas_warm = 0;
    for (long round = 0; round < MILLION / BATCH; round++) {
        if (round == 10) {
            rss_warm = proc_kib("/proc/self/status", "VmRSS");
            maps_warm = cio_test_mapping_count();
            arenas_warm = cio__stack_arena_count();
        }
        for (long i = 0; i < BATCH; i++)
            CHECK_RC(cio_spawn(NULL, short_task, (void *)(intptr_t)i));
        long target = (round + 1) * BATCH;
        for (int spins = 0; done < target; spins++) {
            if (spins > 100000)
                TEST_FAIL("round %ld: %ld of %ld done", round, done, target);
            CHECK_RC(cio_yield());
        }
    }
    CHECK_RC(cio_yield());
    long rss = proc_kib("/proc/self/status", "VmRSS");
    printf("    %ld spawned and finished: RSS %+ld KiB, %+ld mappings, %+ld arenas since round "
           "10\n",
           done, rss - rss_warm, cio_test_mapping_count() - maps_warm,
           (long)cio__stack_arena_count() - (long)arenas_warm);
    CHECK(rss - rss_warm < 4096);
    CHECK(cio_test_mapping_count() - maps_warm <= 2);
    CHECK(cio__stack_arena_count() <= arenas_warm + 1);
    return NULL;
}

static void test_million_spawn_exit(void)
{
    need_room(1, 1);
    cio_rt *rt;
    CHECK_RC(cio_rt_new(&rt, NULL));
    CHECK_RC(cio_rt_block_on(rt, churn_main, NULL, NULL));
    cio_rt_free(rt);
}

CIO_TEST_MAIN(TEST(test_million_parked), TEST(test_million_spawn_exit))
