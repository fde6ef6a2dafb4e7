/*
 * parked.c: tasks per process — what a parked task costs in memory, and so how many fit. N
 * tasks are spawned on a current-thread runtime and parked in a long sleep; once all are
 * parked (and, with saving on, once their stacks were saved) the process's resident memory,
 * page tables and kernel mappings are read and divided by N. Two runs: with
 * cio_rt_options.idle_save off (the default: each parked task keeps its touched stack page)
 * and at 100 ms (stacks saved to the heap, pages given back), each in a process of its own.
 *
 * Usage: parked [tasks]   (default 1,000,000; the runs need ~5 GiB and ~1 GiB)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cio/metrics.h"
#include "cio/rt.h"

#define MS CIO_NSEC_PER_MSEC

static long ntasks;
static long parked;

/* A field of /proc/self/status, in KiB. */
static long status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return -1;
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            v = atol(line + n + 1);
            break;
        }
    fclose(f);
    return v;
}

static long mappings(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL)
        return -1;
    long n = 0;
    int c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

static void *sleeper(void *arg)
{
    (void)arg;
    parked++;
    (void)cio_sleep(3600 * CIO_NSEC_PER_SEC); /* until cancelled */
    return NULL;
}

static uint64_t stacks_saved(void)
{
    cio_worker_metrics m = CIO_METRICS_INIT(m);
    return cio_rt_worker_metrics_read(cio_rt_current(), 0, &m) == 0 ? m.stacks_saved : 0;
}

struct result {
    long rss_kib, pte_kib, maps;
    uint64_t saved;
};

static void *park_main(void *arg)
{
    struct result *r = arg;
    long rss0 = status_kib("VmRSS"), pte0 = status_kib("VmPTE"), maps0 = mappings();
    cio_join_handle **h = malloc((size_t)ntasks * sizeof(*h));
    if (h == NULL)
        abort();
    parked = 0;
    for (long i = 0; i < ntasks; i++) {
        if (cio_spawn(&h[i], sleeper, NULL) < 0) {
            fprintf(stderr, "parked: spawn %ld failed\n", i);
            exit(1);
        }
        if (i % 65536 == 65535)
            (void)cio_yield(); /* let them park as we go */
    }
    while (parked < ntasks)
        (void)cio_sleep(10 * MS);
    /* With saving on, wait for the sweep (at most a few idle_save periods). */
    for (int i = 0; i < 100 && stacks_saved() < (uint64_t)ntasks; i++)
        (void)cio_sleep(100 * MS);
    r->rss_kib = status_kib("VmRSS") - rss0;
    r->pte_kib = status_kib("VmPTE") - pte0;
    r->maps = mappings() - maps0;
    r->saved = stacks_saved();
    for (long i = 0; i < ntasks; i++)
        (void)cio_task_cancel(h[i]);
    for (long i = 0; i < ntasks; i++)
        (void)cio_task_join(h[i], NULL, NULL);
    free(h);
    return NULL;
}

static void run(const char *what, cio_duration idle_save)
{
    cio_rt_options o = {.flavor = CIO_RT_CURRENT_THREAD, .idle_save = idle_save};
    cio_rt *rt;
    struct result r = {0};
    if (cio_rt_new(&rt, &o) < 0 || cio_rt_block_on(rt, park_main, &r, NULL) < 0)
        abort();
    cio_rt_free(rt);
    printf("%-34s %7.0f B RSS + %5.0f B page tables per task; %+ld mappings; %llu saved\n", what,
           (double)r.rss_kib * 1024 / (double)ntasks, (double)r.pte_kib * 1024 / (double)ntasks,
           r.maps, (unsigned long long)r.saved);
}

int main(int argc, char **argv)
{
    ntasks = argc > 1 ? atol(argv[1]) : 1000000;
    if (ntasks < 1) {
        fprintf(stderr, "usage: parked [tasks]\n");
        return 2;
    }
    printf("%ld tasks parked in a sleep, current-thread runtime, 256 KiB stacks\n", ntasks);
    fflush(stdout);
    /* Each run in a process of its own: the heap one run freed would hide the next's. */
    int status = 0;
    for (int saving = 0; saving < 2; saving++) {
        pid_t pid = fork();
        if (pid == 0) {
            if (saving)
                run("idle_save 100 ms (stacks saved)", 100 * MS);
            else
                run("idle_save off (the default)", 0);
            fflush(stdout);
            _exit(0);
        }
        int st;
        if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            status = 1;
    }
    return status;
}
