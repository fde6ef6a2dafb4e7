/*
 * main.c: cio-load's entry point — parse the command line, build the request every
 * connection sends, start a cio runtime (one worker, or --workers threads with the
 * connections dealt round robin over them), run the connections as tasks of a join set
 * beside a progress task and a signal task, and print the final report once every
 * connection has finished. A first SIGINT/SIGTERM stops sending and lets the requests in
 * flight finish; a second one cancels the connections.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "load.h"

/* Connection tasks need little stack: their buffers are on the heap. */
#define CONN_STACK (128 * 1024)

static void *signal_task(void *arg)
{
    struct load_run *run = arg;
    const int signals[] = {SIGINT, SIGTERM};
    if (cio_signal_wait(signals, 2) < 0)
        return NULL;
    atomic_store(&run->interrupted, true);
    atomic_store(&run->stop, true);
    if (!run->opt->quiet)
        fputs("\ncio-load: stopping after the requests in flight (signal again to abort)\n",
              stderr);
    if (cio_signal_wait(signals, 2) < 0)
        return NULL;
    cio_join_set_cancel_all(run->set);
    return NULL;
}

/* Cancel a helper task and wait for it, even when we are cancelled ourselves: it uses the
 * run. */
static void stop_helper(cio_join_handle *task)
{
    if (task != NULL) {
        (void)cio_task_cancel(task);
        cio_cancel_shield shield = cio_cancel_shield_begin(CIO_DEADLINE_NONE);
        (void)cio_task_join(task, NULL, NULL);
        cio_cancel_shield_end(shield);
    }
}

static void *main_task(void *arg)
{
    struct load_run *run = arg;
    const struct load_options *opt = run->opt;
    int rc = cio_join_set_new(&run->set);
    if (rc < 0) {
        fprintf(stderr, "cio-load: %s\n", cio_strerror(rc));
        return (void *)run;
    }
    cio_join_handle *signals = NULL, *progress = NULL;
    if (cio_spawn(&signals, signal_task, run) < 0)
        signals = NULL;
    run->start = cio_now();
    run->measure_start = run->start + opt->warmup;
    run->stop_at = opt->duration > 0 ? run->measure_start + opt->duration : CIO_DEADLINE_NONE;
    if (!opt->quiet && cio_spawn(&progress, load_progress_task, run) < 0)
        progress = NULL;
    void *failed = NULL;
    for (unsigned i = 0; i < opt->connections; i++) {
        cio_spawn_options so = {
            .stack_size = CONN_STACK, .name = "conn", .worker = CIO_WORKER(i % run->workers)};
        rc = cio_join_set_spawn(run->set, &so, load_conn_task, run->conns[i], NULL);
        if (rc < 0) {
            fprintf(stderr, "cio-load: cannot start connection %u: %s\n", i, cio_strerror(rc));
            atomic_store(&run->stop, true);
            failed = run;
            break;
        }
    }
    while ((rc = cio_join_set_join_next(run->set, NULL, NULL)) != -ENOENT) {
        if (rc < 0) {
            /* We were cancelled (a runtime shutdown): stop the connections and let them
             * finish, for a bounded time — they use the run. */
            cio_join_set_cancel_all(run->set);
            cio_cancel_shield shield = cio_cancel_shield_begin(cio_now() + CIO_NSEC_PER_SEC);
            while (cio_join_set_join_next(run->set, NULL, NULL) == 0)
                ;
            cio_cancel_shield_end(shield);
            break;
        }
    }
    run->end = cio_now();
    if (opt->server_metrics != NULL && !atomic_load(&run->interrupted))
        run->server_metrics = load_server_metrics(opt);
    stop_helper(progress);
    stop_helper(signals);
    cio_join_set_free(run->set);
    run->set = NULL;
    return failed;
}

/* The bytes of one request: the echo template (stamped per message by conn.c) or the GET. */
static unsigned char *make_request(const struct load_options *opt, size_t *ret_len)
{
    if (opt->mode == LOAD_MODE_ECHO) {
        unsigned char *p = malloc(opt->size);
        if (p != NULL)
            for (size_t i = 0; i < opt->size; i++)
                p[i] = (unsigned char)('a' + i % 26);
        *ret_len = opt->size;
        return p;
    }
    static const char fmt[] = "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n";
    int len = snprintf(NULL, 0, fmt, opt->path, opt->host);
    char *p = len > 0 ? malloc((size_t)len + 1) : NULL;
    if (p != NULL)
        snprintf(p, (size_t)len + 1, fmt, opt->path, opt->host);
    *ret_len = (size_t)len;
    return (unsigned char *)p;
}

static void print_start(const struct load_options *opt)
{
    if (opt->quiet)
        return;
    fprintf(stderr, "cio-load: %s load on %s: %u connection%s, %u worker%s",
            opt->mode == LOAD_MODE_ECHO ? "echo" : "http", opt->target, opt->connections,
            opt->connections == 1 ? "" : "s", opt->workers, opt->workers == 1 ? "" : "s");
    if (opt->duration > 0)
        fprintf(stderr, ", %.1f s", (double)opt->duration / 1e9);
    if (opt->requests > 0)
        fprintf(stderr, ", %llu requests", (unsigned long long)opt->requests);
    if (opt->warmup > 0)
        fprintf(stderr, " after %.1f s warmup", (double)opt->warmup / 1e9);
    fputc('\n', stderr);
}

/* Each connection is a descriptor: lift the soft limit towards the hard one when the run
 * needs more, so a large --connections is not cut short by EMFILE at 1024. */
static void raise_fd_limit(unsigned connections)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)connections + 64;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
}

int main(int argc, char **argv)
{
    struct load_options opt;
    int rc = load_parse_options(&opt, argc, argv);
    if (rc > 0)
        return LOAD_EXIT_OK;
    if (rc < 0)
        return LOAD_EXIT_USAGE;

    raise_fd_limit(opt.connections);
    struct load_run run = {.opt = &opt, .workers = opt.workers};
    int status = LOAD_EXIT_ERRORS;
    cio_rt *rt = NULL;
    run.request = make_request(&opt, &run.request_len);
    run.stats = calloc(opt.workers, sizeof *run.stats);
    run.conns = calloc(opt.connections, sizeof *run.conns);
    if (run.request == NULL || run.stats == NULL || run.conns == NULL) {
        fprintf(stderr, "cio-load: out of memory\n");
        goto out;
    }
    for (unsigned w = 0; w < opt.workers; w++)
        hist_reset(&run.stats[w].latency);
    for (unsigned i = 0; i < opt.connections; i++) {
        /* --requests is shared out up front, so no counter is contended across workers. */
        uint64_t quota = UINT64_MAX;
        if (opt.requests > 0)
            quota = opt.requests / opt.connections + (i < opt.requests % opt.connections);
        rc = load_conn_new(&run.conns[i], &run, i, quota);
        if (rc < 0) {
            fprintf(stderr, "cio-load: %s\n", cio_strerror(rc));
            goto out;
        }
    }

    cio_rt_options ro = {
        .flavor = opt.workers > 1 ? CIO_RT_MULTI_THREAD : CIO_RT_CURRENT_THREAD,
        .workers = opt.workers,
    };
    rc = cio_rt_new(&rt, &ro);
    if (rc < 0) {
        fprintf(stderr, "cio-load: cannot start the runtime: %s\n", cio_strerror(rc));
        goto out;
    }
    print_start(&opt);
    void *failed = NULL;
    rc = cio_rt_block_on(rt, main_task, &run, &failed);
    cio_rt_free(rt);
    if (rc < 0) {
        fprintf(stderr, "cio-load: %s\n", cio_strerror(rc));
        goto out;
    }
    load_progress_end(&run);
    status = load_report(&run);
    fflush(stdout);
    if (run.server_metrics != NULL)
        fprintf(stderr, "cio-load: the server's metrics (%s):\n%s", opt.server_metrics,
                run.server_metrics);
    if (failed != NULL)
        status = LOAD_EXIT_ERRORS;
out:
    if (run.conns != NULL)
        for (unsigned i = 0; i < opt.connections; i++)
            load_conn_free(run.conns[i]);
    free(run.conns);
    free(run.stats);
    free(run.server_metrics);
    free((void *)run.request);
    return status;
}
