/*
 * serve.c: the serve helper (cio/serve.h) — listeners bound for every worker (SO_REUSEPORT)
 * or one shared, an accepting task per listener pinned to its worker, a task per connection,
 * a semaphore for the connection limit, a pause on descriptor exhaustion, and the graceful
 * stop. The server's own state (the live connections, the counts) sits under one mutex that
 * is taken only when a connection starts or ends and at a stop, never per operation.
 *
 * Stop, in order (cio_server_wait):
 *
 *     stop asked ─> acceptors cancelled, joined; listeners closed
 *               ─> every live connection: shutdown(SHUT_RD) (its reads drain, then end)
 *               ─> wait until no connection task is left, or .stop_timeout
 *               ─> cancel the connections still live; wait until none is left
 *
 * A connection's record is in the live list from its accept until its task has closed the
 * stream, so a stop never touches a closed stream; the join handle of its task stays valid
 * while the record is listed (the task detaches it on the way out, under the mutex).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cio/serve.h"
#include "rt/runtime.h"
#include "cio/stream.h"
#include "cio/sync.h"
#include "cio/tcp.h"
#include "cio/unix.h"
#include "util/list.h"

#define MAX_LISTENERS 256
#define DEFAULT_BACKOFF (50 * CIO_NSEC_PER_MSEC)
#define DEFAULT_STOP_TIMEOUT (10 * CIO_NSEC_PER_SEC)
#define MAX_STOP_SIGNALS 8

#define AS_SOCKET(h) ((cio_socket *)(void *)(h))

struct conn;

struct acceptor {
    struct cio_server *srv;
    cio_socket *listener; /* a cio_tcp_listener or a cio_unix_listener */
    unsigned worker;      /* the worker its accepting task is pinned to */
    cio_join_handle *task;
};

struct cio_server {
    cio_rt *rt;
    unsigned workers;
    bool is_unix;
    bool shared; /* one listener for several workers: deal connections out */
    bool steal;  /* the runtime spreads tasks itself (work stealing) */
    cio_addr bound;
    cio_server_options opts;
    int stop_signals[MAX_STOP_SIGNALS];

    struct acceptor *acceptors;
    unsigned count;

    cio_serve_fn handler;
    void *ctx;
    cio_sem *limit;        /* max_connections permits, or NULL */
    cio_notify *stop_note; /* cio_server_stop() -> cio_server_wait() */
    cio_notify *drained;   /* the last live connection ended during a stop */
    cio_join_handle *signal_task;
    atomic_bool signal_armed;
    atomic_bool stop_asked;
    atomic_int stop_signal;
    atomic_uint next_worker; /* round robin of a shared listener */
    bool started, waited;

    pthread_mutex_t lock; /* guards what follows */
    struct cio__list live;
    uint64_t tasks; /* connections whose task has not left the server yet */
    cio_server_stats stats;
};

struct conn {
    struct cio__list node; /* in srv->live while the stream is open */
    struct cio_server *srv;
    cio_stream *stream;
    cio_join_handle *task; /* valid while listed */
    bool permit;           /* holds one of srv->limit's permits */
    socklen_t peer_len;
    /* The peer's address, its own length only: the task copies it to its stack, so that an
     * idle connection does not keep a whole cio_addr (132 bytes) on the heap. */
    unsigned char peer[];
};

/* ---- binding ---- */

static int bind_unix(struct cio_server *srv, const cio_addr *addr, int backlog)
{
    cio_unix_listener *l;
    int rc = cio_unix_listener_new(&l, addr, backlog);
    if (rc < 0)
        return rc;
    /* The socket file is the server's: removed when it closes (cio removes it only while it
     * is still the file it made). */
    if (cio_addr_get_kind(addr) == CIO_ADDR_UNIX)
        (void)cio_unix_listener_set_unlink_on_close(l, true);
    srv->acceptors[0].listener = AS_SOCKET(l);
    srv->count = 1;
    srv->is_unix = true;
    return 0;
}

static int bind_tcp(struct cio_server *srv, const cio_addr *addr, const char *name, unsigned want,
                    int backlog)
{
    cio_tcp_listener *tcp[MAX_LISTENERS];
    unsigned n = 1;
    int rc;
    if (name != NULL) {
        /* A name binds the first of its addresses that works: one listener. */
        rc = cio_tcp_listener_new_name(&tcp[0], name, backlog);
    } else if (want > 1) {
        rc = cio_tcp_listener_new_reuseport_n(tcp, want, addr, backlog);
        if (rc == 0)
            n = want;
        else /* SO_REUSEPORT refused: one listener, shared */
            rc = cio_tcp_listener_new(&tcp[0], addr, backlog);
    } else {
        rc = cio_tcp_listener_new(&tcp[0], addr, backlog);
    }
    if (rc < 0)
        return rc;
    for (unsigned i = 0; i < n; i++) {
        srv->acceptors[i].listener = AS_SOCKET(tcp[i]);
        /* Inherited by every connection Linux accepts from it: no system call per
         * connection. */
        if (!srv->opts.nagle)
            (void)cio_tcp_set_nodelay(AS_SOCKET(tcp[i]), true);
    }
    srv->count = n;
    return 0;
}

/* "HOST:PORT" that is not a literal address: a name for the resolver. Paths, abstract names
 * and bracketed literals that did not parse are errors, not names. */
static bool is_name(const char *text)
{
    return text[0] != '/' && text[0] != '.' && text[0] != '@' && text[0] != '[' &&
           strchr(text, ':') != NULL;
}

static int bind_listeners(struct cio_server *srv, const char *address)
{
    unsigned want = srv->opts.listeners != 0 ? srv->opts.listeners : srv->workers;
    if (want > MAX_LISTENERS)
        want = MAX_LISTENERS;
    int backlog = srv->opts.backlog != 0 ? srv->opts.backlog : CIO_LISTEN_BACKLOG_DEFAULT;
    srv->acceptors = calloc(want, sizeof(*srv->acceptors));
    if (srv->acceptors == NULL)
        return -ENOMEM;
    cio_addr addr;
    int rc = cio_addr_parse(&addr, address);
    if (rc == 0) {
        switch (cio_addr_get_kind(&addr)) {
        case CIO_ADDR_IPV4:
        case CIO_ADDR_IPV6:
            rc = bind_tcp(srv, &addr, NULL, want, backlog);
            break;
        case CIO_ADDR_UNIX:
        case CIO_ADDR_ABSTRACT:
            rc = bind_unix(srv, &addr, backlog);
            break;
        default:
            rc = -EINVAL;
        }
    } else if (is_name(address)) {
        rc = bind_tcp(srv, NULL, address, 1, backlog);
    }
    if (rc < 0)
        return rc;
    for (unsigned i = 0; i < srv->count; i++) {
        srv->acceptors[i].srv = srv;
        srv->acceptors[i].worker = i % srv->workers;
    }
    srv->shared = srv->count < srv->workers;
    srv->stats.listeners = srv->count;
    return (cio_socket_local_addr)(srv->acceptors[0].listener, &srv->bound);
}

static void close_listeners(struct cio_server *srv)
{
    for (unsigned i = 0; i < srv->count; i++) {
        cio_socket_close(srv->acceptors[i].listener);
        srv->acceptors[i].listener = NULL;
    }
}

/* The stop signals cio_signal_wait() would refuse, caught here rather than in the task that
 * waits for them. */
static bool bad_signals(const cio_server_options *o)
{
    if (o->stop_signal_count > MAX_STOP_SIGNALS)
        return true;
    if (o->stop_signal_count > 0 && o->stop_signals == NULL)
        return true;
    for (size_t i = 0; i < o->stop_signal_count; i++) {
        int sig = o->stop_signals[i];
        if (sig <= 0 || sig >= NSIG || sig == SIGKILL || sig == SIGSTOP || sig == SIGSEGV ||
            sig == SIGBUS)
            return true;
    }
    return false;
}

int cio_server_new(cio_server **ret_server, cio_rt *rt, const char *address,
                   const cio_server_options *opts)
{
    if (ret_server == NULL || address == NULL)
        return -EINVAL;
    if (rt == NULL)
        rt = cio_rt_current();
    cio_server_options o = opts != NULL ? *opts : (cio_server_options){0};
    if (rt == NULL || bad_signals(&o) || o.backlog < 0)
        return -EINVAL;
    struct cio_server *srv = calloc(1, sizeof(*srv));
    if (srv == NULL)
        return -ENOMEM;
    srv->rt = rt;
    srv->workers = cio_rt_workers(rt) > 0 ? cio_rt_workers(rt) : 1;
    srv->steal = rt->sched.steal;
    if (o.accept_backoff <= 0)
        o.accept_backoff = DEFAULT_BACKOFF;
    if (o.stop_timeout == 0)
        o.stop_timeout = DEFAULT_STOP_TIMEOUT;
    if (o.task_name == NULL)
        o.task_name = "conn";
    if (o.stop_signal_count > 0)
        memcpy(srv->stop_signals, o.stop_signals, o.stop_signal_count * sizeof(int));
    o.stop_signals = srv->stop_signals;
    srv->opts = o;
    cio__list_init(&srv->live);
    int rc = pthread_mutex_init(&srv->lock, NULL) != 0 ? -ENOMEM : 0;
    if (rc < 0) {
        free(srv);
        return rc;
    }
    rc = bind_listeners(srv, address);
    if (rc == 0 && o.max_connections > 0)
        rc = cio_sem_new(&srv->limit, o.max_connections);
    if (rc == 0)
        rc = cio_notify_new(&srv->stop_note);
    if (rc == 0)
        rc = cio_notify_new(&srv->drained);
    if (rc < 0) {
        cio_server_free(srv);
        return rc;
    }
    *ret_server = srv;
    return 0;
}

int cio_server_local_addr(const cio_server *srv, cio_addr *ret_addr)
{
    if (srv == NULL || ret_addr == NULL)
        return -EINVAL;
    *ret_addr = srv->bound;
    return 0;
}

/* ---- connections ---- */

/* Take a connection out of the live list and count its end, close its stream, give its
 * permit back (after the count: active never exceeds the limit), and leave the server: the
 * last touch of the server by the connection's task. */
static void conn_end(struct conn *c, bool served)
{
    struct cio_server *srv = c->srv;
    pthread_mutex_lock(&srv->lock);
    cio__list_remove(&c->node);
    if (served)
        cio_task_detach(c->task);
    srv->stats.active--;
    if (served)
        srv->stats.finished++;
    else
        srv->stats.refused++;
    pthread_mutex_unlock(&srv->lock);
    cio_socket_close(AS_SOCKET(c->stream));
    if (c->permit)
        (void)cio_sem_release(srv->limit, 1);
    pthread_mutex_lock(&srv->lock);
    /* Under the mutex, so cio_server_wait() (which takes it after seeing 0) cannot free the
     * server before this returns. */
    if (--srv->tasks == 0 && srv->stats.stopping)
        (void)cio_notify_one(srv->drained);
    pthread_mutex_unlock(&srv->lock);
    free(c);
}

static void *conn_task(void *arg)
{
    struct conn *c = arg;
    cio_addr peer = {0}; /* (the bytes past len stay zero, as cio_addr wants) */
    memcpy(&peer.storage, c->peer, c->peer_len);
    peer.len = c->peer_len;
    c->srv->handler(c->stream, &peer, c->srv->ctx);
    conn_end(c, true);
    return NULL;
}

static int accept_one(struct acceptor *a, cio_stream **stream, cio_addr *peer)
{
    if (a->srv->is_unix) {
        cio_unix_stream *s;
        int rc = cio_unix_listener_accept((cio_unix_listener *)(void *)a->listener, &s, peer);
        *stream = (cio_stream *)(void *)s;
        return rc;
    }
    cio_tcp_stream *s;
    int rc = cio_tcp_listener_accept((cio_tcp_listener *)(void *)a->listener, &s, peer);
    *stream = (cio_stream *)(void *)s;
    return rc;
}

/* The accepted @stream's record, with @peer's bytes; NULL (the stream closed) without memory. */
static struct conn *conn_new(struct cio_server *srv, cio_stream *stream, const cio_addr *peer)
{
    socklen_t len = peer->len <= sizeof(peer->storage) ? peer->len : 0;
    struct conn *c = calloc(1, sizeof(*c) + len);
    if (c == NULL) {
        cio_socket_close(AS_SOCKET(stream));
        return NULL;
    }
    c->srv = srv;
    c->stream = stream;
    c->permit = srv->limit != NULL;
    c->peer_len = len;
    memcpy(c->peer, &peer->storage, len);
    return c;
}

/* Count an accepted connection in, list it and start its task. */
static void conn_start(struct acceptor *a, struct conn *c)
{
    struct cio_server *srv = a->srv;
    cio_spawn_options so = {.stack_size = srv->opts.stack_size, .name = srv->opts.task_name};
    if (!srv->shared)
        so.worker = CIO_WORKER(a->worker); /* sharded: it stays with its listener's worker */
    else if (!srv->steal)
        so.worker = CIO_WORKER(atomic_fetch_add(&srv->next_worker, 1) % srv->workers);
    /* (else a shared task: the runtime's work stealing spreads the connections) */
    pthread_mutex_lock(&srv->lock);
    srv->stats.accepted++;
    srv->tasks++;
    if (++srv->stats.active > srv->stats.peak)
        srv->stats.peak = srv->stats.active;
    cio__list_push_back(&srv->live, &c->node);
    /* Spawned under the mutex: the task cannot end (and free c) before c->task is set. */
    int rc = cio_spawn_ex(&c->task, &so, conn_task, c);
    pthread_mutex_unlock(&srv->lock);
    if (rc < 0)
        conn_end(c, false);
}

static bool out_of_resources(int rc)
{
    return rc == -EMFILE || rc == -ENFILE || rc == -ENOMEM || rc == -ENOBUFS;
}

static void *accept_task(void *arg)
{
    struct acceptor *a = arg;
    struct cio_server *srv = a->srv;
    for (;;) {
        /* At the limit, connections wait in the kernel's backlog until a slot frees. */
        if (srv->limit != NULL && cio_sem_acquire(srv->limit, 1) < 0)
            break;
        cio_stream *stream;
        cio_addr peer;
        int rc = accept_one(a, &stream, &peer);
        if (rc == 0) {
            struct conn *c = conn_new(srv, stream, &peer);
            if (c != NULL) {
                conn_start(a, c);
                continue;
            }
            rc = -ENOMEM;
        }
        if (srv->limit != NULL)
            (void)cio_sem_release(srv->limit, 1);
        if (rc == -ECANCELED || rc == -EBADF || rc == -EINVAL)
            break;
        pthread_mutex_lock(&srv->lock);
        if (out_of_resources(rc))
            srv->stats.backoffs++;
        else
            srv->stats.errors++;
        pthread_mutex_unlock(&srv->lock);
        if (out_of_resources(rc) && cio_sleep(srv->opts.accept_backoff) < 0)
            break;
    }
    return NULL;
}

/* ---- start, stop ---- */

static void *signal_task(void *arg)
{
    struct cio_server *srv = arg;
    /* Set before the wait, which installs the handlers before it first suspends. */
    atomic_store(&srv->signal_armed, true);
    int sig = cio_signal_wait(srv->stop_signals, srv->opts.stop_signal_count);
    if (sig > 0) {
        atomic_store(&srv->stop_signal, sig);
        (void)cio_server_stop(srv);
    }
    return NULL;
}

/* Cancel a task of the server's own and wait for it (inside the stop's shield). */
static void cancel_join(cio_join_handle **task)
{
    if (*task == NULL)
        return;
    (void)cio_task_cancel(*task);
    (void)cio_task_join(*task, NULL, NULL);
    *task = NULL;
}

int cio_server_start(cio_server *srv, cio_serve_fn handler, void *ctx)
{
    if (srv == NULL || handler == NULL)
        return -EINVAL;
    if (cio_task_current() == NULL)
        return -EPERM;
    if (cio_rt_current() != srv->rt)
        return -EINVAL;
    if (srv->started)
        return -EALREADY;
    srv->handler = handler;
    srv->ctx = ctx;
    int rc = 0;
    if (srv->opts.stop_signal_count > 0) {
        rc = cio_spawn_ex(&srv->signal_task, &(cio_spawn_options){.name = "serve-signals"},
                          signal_task, srv);
        /* The spawned task runs on this worker: let it install the handlers. */
        while (rc == 0 && !atomic_load(&srv->signal_armed))
            rc = cio_yield();
    }
    for (unsigned i = 0; rc == 0 && i < srv->count; i++) {
        struct acceptor *a = &srv->acceptors[i];
        cio_spawn_options so = {.name = "accept", .worker = CIO_WORKER(a->worker)};
        rc = cio_spawn_ex(&a->task, &so, accept_task, a);
    }
    if (rc < 0) {
        cio_cancel_shield shield = cio_cancel_shield_begin(CIO_DEADLINE_NONE);
        for (unsigned i = 0; i < srv->count; i++)
            cancel_join(&srv->acceptors[i].task);
        cancel_join(&srv->signal_task);
        cio_cancel_shield_end(shield);
        return rc;
    }
    srv->started = true;
    return 0;
}

int cio_server_stop(cio_server *srv)
{
    if (srv == NULL)
        return -EINVAL;
    if (!atomic_exchange(&srv->stop_asked, true))
        (void)cio_notify_one(srv->stop_note);
    return 0;
}

bool cio_server_is_stopping(const cio_server *srv)
{
    return srv != NULL && atomic_load(&srv->stop_asked);
}

static uint64_t tasks_now(struct cio_server *srv)
{
    pthread_mutex_lock(&srv->lock);
    uint64_t n = srv->tasks;
    pthread_mutex_unlock(&srv->lock);
    return n;
}

/* Wait until no connection is live, or @deadline. */
static void wait_drained(struct cio_server *srv, cio_time deadline)
{
    while (tasks_now(srv) > 0) {
        cio_time saved = cio_deadline_set(deadline);
        int rc = cio_notify_wait(srv->drained);
        cio_deadline_restore(saved);
        if (rc < 0)
            break;
    }
}

int cio_server_wait(cio_server *srv)
{
    if (srv == NULL || !srv->started || srv->waited)
        return -EINVAL;
    if (cio_task_current() == NULL)
        return -EPERM;
    srv->waited = true;
    int result = 0;
    while (!atomic_load(&srv->stop_asked)) {
        int rc = cio_notify_wait(srv->stop_note);
        if (rc < 0) {
            result = rc;
            break;
        }
    }
    atomic_store(&srv->stop_asked, true);

    /* The stop runs to its end whatever happens to the calling task. */
    cio_cancel_shield shield = cio_cancel_shield_begin(CIO_DEADLINE_NONE);
    pthread_mutex_lock(&srv->lock);
    srv->stats.stopping = true;
    pthread_mutex_unlock(&srv->lock);
    for (unsigned i = 0; i < srv->count; i++)
        cancel_join(&srv->acceptors[i].task);
    close_listeners(srv);
    cancel_join(&srv->signal_task);

    /* Ask the handlers to finish: their next read sees end of stream once what has arrived
     * is consumed. */
    pthread_mutex_lock(&srv->lock);
    struct cio__list *node;
    cio__list_foreach(node, &srv->live)
    {
        struct conn *c = cio__list_entry(node, struct conn, node);
        (void)cio_socket_shutdown(AS_SOCKET(c->stream), CIO_SHUTDOWN_READ);
    }
    pthread_mutex_unlock(&srv->lock);
    if (srv->opts.stop_timeout > 0)
        wait_drained(srv, cio__deadline_after(srv->opts.stop_timeout));

    /* The deadline has passed: cancel the rest, and wait for their cleanup. */
    pthread_mutex_lock(&srv->lock);
    cio__list_foreach(node, &srv->live)
    {
        struct conn *c = cio__list_entry(node, struct conn, node);
        if (!cio_task_is_finished(c->task)) {
            (void)cio_task_cancel(c->task);
            srv->stats.cancelled++;
        }
    }
    pthread_mutex_unlock(&srv->lock);
    wait_drained(srv, CIO_DEADLINE_NONE);
    /* The last connection task signalled under the mutex: once we hold it, it is done. */
    pthread_mutex_lock(&srv->lock);
    srv->stats.stop_signal = atomic_load(&srv->stop_signal);
    pthread_mutex_unlock(&srv->lock);
    cio_cancel_shield_end(shield);

    if (result == 0 && srv->stats.stop_signal > 0)
        result = srv->stats.stop_signal;
    return result;
}

int cio_server_get_stats(const cio_server *srv, cio_server_stats *ret_stats)
{
    if (srv == NULL || ret_stats == NULL)
        return -EINVAL;
    struct cio_server *s = (struct cio_server *)srv; /* the mutex, not the state, changes */
    pthread_mutex_lock(&s->lock);
    *ret_stats = s->stats;
    ret_stats->stop_signal = atomic_load(&s->stop_signal);
    ret_stats->stopping = ret_stats->stopping || atomic_load(&s->stop_asked);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

void cio_server_free(cio_server *srv)
{
    if (srv == NULL)
        return;
    if (srv->acceptors != NULL)
        close_listeners(srv);
    free(srv->acceptors);
    cio_sem_free(srv->limit);
    cio_notify_free(srv->stop_note);
    cio_notify_free(srv->drained);
    pthread_mutex_destroy(&srv->lock);
    free(srv);
}

int cio_serve(const char *address, cio_serve_fn handler, void *ctx, const cio_server_options *opts)
{
    if (handler == NULL)
        return -EINVAL;
    if (cio_task_current() == NULL)
        return -EPERM;
    cio_server *srv;
    int rc = cio_server_new(&srv, NULL, address, opts);
    if (rc < 0)
        return rc;
    rc = cio_server_start(srv, handler, ctx);
    if (rc == 0)
        rc = cio_server_wait(srv);
    cio_server_free(srv);
    return rc;
}
