/*
 * server.c: the server skeleton of the tools. It binds the listening sockets before the
 * runtime starts (so a refused bind is a plain error exit), shards a TCP listener across the
 * workers of a multi-thread runtime with SO_REUSEPORT (one listener and one accept loop per
 * worker, so a connection is accepted and served on one thread), runs one task per
 * connection, bounds the open connections with a semaphore when asked, prints the
 * "listening on ADDR" line scripts wait for, and stops on SIGINT or SIGTERM: the runtime is
 * shut down, every task unwinds through its own error path and closes its sockets.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

#define MAX_LISTENERS 256
/* Out of descriptors, accept sheds the pending connections and says -EMFILE; wait this long
 * before accepting again so the server does not spin while descriptors are short. */
#define ACCEPT_BACKOFF (50 * CIO_NSEC_PER_MSEC)

struct listener {
    tool_server *srv;
    tool_kind kind;
    cio_tcp_listener *tcp;
    cio_unix_listener *unx;
    unsigned worker; /* the worker its accept loop runs on */
    bool shard;      /* one of several SO_REUSEPORT listeners: serve on this worker */
};

struct conn_start {
    tool_server *srv;
    tool_stream stream;
    cio_addr peer;
    bool permit; /* holds one of srv->limit's permits */
};

struct server_run {
    tool_server *srv;
    struct listener *listeners;
    unsigned count;
    bool signal_armed;
};

/* ---- binding ---- */

static void listener_close(struct listener *l)
{
    cio_socket_close(l->tcp);
    l->tcp = NULL;
    cio_socket_close(l->unx);
    l->unx = NULL;
}

/* TCP_NODELAY on a listening socket is inherited by every connection Linux accepts from it:
 * request/response traffic is not held back by Nagle's algorithm, and no system call per
 * connection is spent on it. (cio's TCP options take a listener too.) */
static void set_nodelay(cio_tcp_listener *l)
{
    (void)cio_tcp_set_nodelay(l, true);
}

static int bind_unix(struct server_run *run)
{
    tool_server *srv = run->srv;
    struct listener *l = &run->listeners[0];
    int rc = cio_unix_listener_new(&l->unx, &srv->listen.addr, CIO_LISTEN_BACKLOG_DEFAULT);
    if (rc < 0)
        return rc;
    l->kind = TOOL_UNIX;
    l->srv = srv;
    run->count = 1;
    /* The socket file is ours: remove it when the server stops (cio removes it only if it is
     * still the file it made). */
    if (cio_addr_get_kind(&srv->listen.addr) == CIO_ADDR_UNIX)
        (void)cio_unix_listener_set_unlink_on_close(l->unx, true);
    return cio_socket_local_addr(l->unx, &srv->bound);
}

static int bind_tcp(struct server_run *run, unsigned want)
{
    tool_server *srv = run->srv;
    cio_tcp_listener *tcp[MAX_LISTENERS];
    unsigned n = 1;
    int rc;
    if (srv->listen.is_name) {
        /* Resolved here, before the runtime starts (cio then resolves on this thread). A
         * name is not sharded: its one listener deals connections out to the workers. */
        rc = cio_tcp_listener_new_name(&tcp[0], srv->listen.text, CIO_LISTEN_BACKLOG_DEFAULT);
    } else if (want > 1 && !srv->one_listener) {
        rc = cio_tcp_listener_new_reuseport_n(tcp, want, &srv->listen.addr,
                                              CIO_LISTEN_BACKLOG_DEFAULT);
        if (rc == 0) {
            n = want;
        } else {
            tool_log("SO_REUSEPORT listeners failed (%s); using one listener", cio_strerror(rc));
            rc = cio_tcp_listener_new(&tcp[0], &srv->listen.addr, CIO_LISTEN_BACKLOG_DEFAULT);
        }
    } else {
        rc = cio_tcp_listener_new(&tcp[0], &srv->listen.addr, CIO_LISTEN_BACKLOG_DEFAULT);
    }
    if (rc < 0)
        return rc;
    for (unsigned i = 0; i < n; i++) {
        struct listener *l = &run->listeners[i];
        l->kind = TOOL_TCP;
        l->srv = srv;
        l->tcp = tcp[i];
        l->worker = i;
        l->shard = n > 1;
        set_nodelay(l->tcp);
    }
    run->count = n;
    return cio_socket_local_addr(tcp[0], &srv->bound);
}

/* Bind what srv->listen names; fills run->listeners and srv->bound. Errors are printed. */
static int bind_listeners(struct server_run *run)
{
    tool_server *srv = run->srv;
    unsigned want = srv->workers > MAX_LISTENERS ? MAX_LISTENERS : srv->workers;
    run->listeners = calloc(want, sizeof(*run->listeners));
    if (run->listeners == NULL)
        return -ENOMEM;
    int rc = srv->listen.kind == TOOL_UNIX ? bind_unix(run) : bind_tcp(run, want);
    if (rc < 0)
        tool_log("cannot listen on %s: %s", srv->listen.text, cio_strerror(rc));
    return rc;
}

/* ---- connections ---- */

static void *conn_task(void *arg)
{
    struct conn_start *c = arg;
    tool_server *srv = c->srv;
    srv->on_conn(&c->stream, &c->peer, srv->ctx);
    tool_stream_close(&c->stream);
    if (c->permit)
        (void)cio_sem_release(srv->limit, 1);
    free(c);
    return NULL;
}

static int unix_accept(struct listener *l, struct conn_start *c)
{
    cio_unix_stream *unx;
    int rc = cio_unix_listener_accept(l->unx, &unx, &c->peer);
    if (rc == 0)
        tool_stream_init_unix(&c->stream, unx);
    return rc;
}

static int tcp_accept(struct listener *l, struct conn_start *c)
{
    cio_tcp_stream *tcp;
    int rc = cio_tcp_listener_accept(l->tcp, &tcp, &c->peer);
    if (rc == 0)
        tool_stream_init_tcp(&c->stream, tcp);
    return rc;
}

static void *accept_task(void *arg)
{
    struct listener *l = arg;
    tool_server *srv = l->srv;
    for (;;) {
        struct conn_start *c = calloc(1, sizeof(*c));
        if (c == NULL) {
            if (cio_sleep(ACCEPT_BACKOFF) < 0)
                break;
            continue;
        }
        c->srv = srv;
        int rc = 0;
        if (srv->limit != NULL) {
            /* At the limit, connections wait in the kernel's backlog until a slot frees. */
            rc = cio_sem_acquire(srv->limit, 1);
            c->permit = rc == 0;
        }
        if (rc == 0)
            rc = l->kind == TOOL_TCP ? tcp_accept(l, c) : unix_accept(l, c);
        if (rc < 0) {
            if (c->permit)
                (void)cio_sem_release(srv->limit, 1);
            free(c);
            if (rc == -ECANCELED || rc == -EBADF || rc == -EPIPE)
                break;
            if (rc == -EMFILE || rc == -ENFILE)
                tool_log("accept: %s; pausing", cio_strerror(rc));
            else if (rc != -ECONNABORTED && rc != -EINTR)
                tool_log("accept: %s", cio_strerror(rc));
            if (cio_sleep(ACCEPT_BACKOFF) < 0)
                break;
            continue;
        }
        atomic_fetch_add(&srv->accepted, 1);
        /* A sharded listener serves on its own worker (pinned: the connection stays where
         * its listener put it, at no cost for moving); a lone listener leaves the spreading
         * to the runtime's work stealing. */
        cio_spawn_options opts = {.stack_size = srv->stack_size, .name = "conn"};
        if (l->shard)
            opts.worker = CIO_WORKER(l->worker);
        rc = cio_spawn_ex(NULL, &opts, conn_task, c);
        if (rc < 0) {
            tool_stream_close(&c->stream);
            if (c->permit)
                (void)cio_sem_release(srv->limit, 1);
            free(c);
            if (rc == -ECANCELED)
                break;
        }
    }
    listener_close(l);
    return NULL;
}

/* ---- signals and the main task ---- */

static void *signal_task(void *arg)
{
    struct server_run *run = arg;
    /* Set before the wait, which installs the handlers before it first suspends: once the
     * main task sees the flag, SIGINT/SIGTERM can no longer kill the process. */
    run->signal_armed = true;
    int sig = cio_signal_wait((const int[]){SIGINT, SIGTERM}, 2);
    return (void *)(intptr_t)sig;
}

static void *main_task(void *arg)
{
    struct server_run *run = arg;
    tool_server *srv = run->srv;
    cio_join_handle *sig_task;
    int rc = cio_spawn(&sig_task, signal_task, run);
    if (rc < 0) {
        tool_log("cannot start: %s", cio_strerror(rc));
        return (void *)(intptr_t)rc;
    }
    while (!run->signal_armed)
        if (cio_yield() < 0)
            break;

    unsigned started = 0;
    for (unsigned i = 0; i < run->count; i++) {
        struct listener *l = &run->listeners[i];
        cio_spawn_options opts = {.name = "accept", .worker = CIO_WORKER(l->worker)};
        rc = cio_spawn_ex(NULL, &opts, accept_task, l);
        if (rc < 0) {
            tool_log("cannot start accept loop: %s", cio_strerror(rc));
            listener_close(l);
            continue;
        }
        started++;
    }
    if (started > 0) {
        char text[CIO_ADDR_STRLEN];
        printf("listening on %s\n", tool_addr_text(&srv->bound, text, sizeof(text)));
        fflush(stdout);
        void *result = NULL;
        bool cancelled;
        if (cio_task_join(sig_task, &result, &cancelled) == 0) {
            if (!cancelled && (intptr_t)result > 0)
                srv->stop_signal = (int)(intptr_t)result;
            sig_task = NULL;
        }
    }
    if (sig_task != NULL) { /* not started, or we were cancelled (a shutdown) */
        (void)cio_task_cancel(sig_task);
        cio_task_detach(sig_task);
    }
    /* Every task is cancelled; the connection handlers see -ECANCELED and close. */
    (void)cio_rt_shutdown(cio_rt_current());
    return started > 0 ? NULL : (void *)(intptr_t)-ECANCELED;
}

int tool_server_run(tool_server *srv)
{
    struct server_run run = {.srv = srv};
    if (srv->workers == 0)
        srv->workers = 1;
    atomic_init(&srv->accepted, 0);
    srv->limit = NULL;
    srv->stop_signal = 0;

    int status = TOOL_EXIT_FAILURE;
    cio_rt *rt;
    if (bind_listeners(&run) < 0)
        goto out;
    srv->listeners = run.count;
    if (srv->max_conns > 0) {
        int rc = cio_sem_new(&srv->limit, srv->max_conns);
        if (rc < 0) {
            tool_log("cannot create the connection limit: %s", cio_strerror(rc));
            goto out;
        }
    }
    cio_rt_options opts = {
        .flavor = srv->workers > 1 ? CIO_RT_MULTI_THREAD : CIO_RT_CURRENT_THREAD,
        .workers = srv->workers > 1 ? srv->workers : 0,
    };
    int rc = cio_rt_new(&rt, &opts);
    if (rc < 0) {
        tool_log("cannot create the runtime: %s", cio_strerror(rc));
        goto out;
    }
    void *result = NULL;
    rc = cio_rt_block_on(rt, main_task, &run, &result);
    /* The main task shuts the runtime down itself, which may be reported as -ECANCELED. */
    if ((rc == 0 || rc == -ECANCELED) && result == NULL)
        status = TOOL_EXIT_OK;
    else if (rc < 0)
        tool_log("runtime: %s", cio_strerror(rc));
    cio_rt_free(rt); /* waits for every task's cleanup: counters are final after this */
out:
    /* Listeners whose accept loop never ran (the runtime could not start). */
    for (unsigned i = 0; i < run.count; i++)
        listener_close(&run.listeners[i]);
    free(run.listeners);
    cio_sem_free(srv->limit);
    srv->limit = NULL;
    return status;
}
