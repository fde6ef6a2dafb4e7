/*
 * server.c: the tools' conventions around cio's serve helper (cio/serve.h), which does the
 * listening, the per-worker accept, the connection limit, the EMFILE back-off and the
 * graceful stop. Here: the listeners are bound before the runtime starts (so a refused bind
 * is a plain error exit), the runtime is current-thread for one worker and multi-thread for
 * more, the "listening on ADDR" line is printed once SIGINT/SIGTERM can no longer kill the
 * process, and errors are printed.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool.h"

struct server_run {
    tool_server *srv;
    cio_server *server;
};

static void *main_task(void *arg)
{
    struct server_run *run = arg;
    tool_server *srv = run->srv;
    int rc = cio_server_start(run->server, srv->on_conn, srv->ctx);
    if (rc < 0) {
        tool_log("cannot start: %s", cio_strerror(rc));
        return (void *)(intptr_t)rc;
    }
    char text[CIO_ADDR_STRLEN];
    printf("listening on %s\n", tool_addr_text(&srv->bound, text, sizeof(text)));
    fflush(stdout);
    (void)cio_server_wait(run->server); /* a signal, or the runtime's shutdown */
    return NULL;
}

int tool_server_run(tool_server *srv)
{
    if (srv->workers == 0)
        srv->workers = 1;
    cio_rt_options ropts = {
        .flavor = srv->workers > 1 ? CIO_RT_MULTI_THREAD : CIO_RT_CURRENT_THREAD,
        .workers = srv->workers > 1 ? srv->workers : 0,
        /* Idle connections give their stack pages back: these servers' tasks share nothing
         * on their stacks (MEMORY OF IDLE TASKS in cio/rt.h). */
        .idle_save = CIO_NSEC_PER_SEC,
    };
    cio_rt *rt;
    int rc = cio_rt_new(&rt, &ropts);
    if (rc < 0) {
        tool_log("cannot create the runtime: %s", cio_strerror(rc));
        return TOOL_EXIT_FAILURE;
    }
    cio_server_options sopts = {
        .listeners = srv->one_listener ? 1 : 0, /* 1: the runtime spreads the connections */
        .max_connections = srv->max_conns,
        .stop_timeout = TOOL_STOP_TIMEOUT,
        .stop_signals = (const int[]){SIGINT, SIGTERM},
        .stop_signal_count = 2,
    };
    struct server_run run = {.srv = srv};
    int status = TOOL_EXIT_FAILURE;
    rc = cio_server_new(&run.server, rt, srv->listen.text, &sopts);
    if (rc < 0) {
        tool_log("cannot listen on %s: %s", srv->listen.text, cio_strerror(rc));
        goto out;
    }
    (void)cio_server_local_addr(run.server, &srv->bound);
    (void)cio_rt_dump_on_signal(rt, SIGUSR1, STDERR_FILENO); /* kill -USR1: what it is doing */
    void *result = NULL;
    rc = cio_rt_block_on(rt, main_task, &run, &result);
    if (rc == 0 && result == NULL)
        status = TOOL_EXIT_OK;
    else if (rc < 0)
        tool_log("runtime: %s", cio_strerror(rc));
    (void)cio_server_get_stats(run.server, &srv->stats);
out:
    cio_rt_free(rt);
    cio_server_free(run.server);
    return status;
}
