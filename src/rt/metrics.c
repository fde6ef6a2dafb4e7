/*
 * metrics.c: the runtime's metrics and task dump (cio/metrics.h) — the workers' publication
 * of their counters at each reactor turn (the counting itself is the scheduler's, at its own
 * points: metrics.h), the reading of them from any thread, and the text dump, whose task
 * list each worker writes on its own thread, asked through its deferred-work queue:
 *
 *     requester (a task, or a thread)     worker i (at the top of its loop)
 *       section per worker, pending = N     walk its tasks + the io layer's waiters
 *       defer a section to each worker  ->  write its text, pending--, unpark the requester
 *       park until pending == 0, or 1 s
 *       print; late sections are dropped (the request is reference counted)
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cio/metrics.h"
#include "rt/blocking.h"
#include "rt/parker.h"
#include "rt/runtime.h"
#include "rt/signal.h"
#include "util/assert.h"

#define DUMP_PATIENCE (1 * CIO_NSEC_PER_SEC) /* how long a dump waits for a worker */

/* ---- the worker's side: publication at each reactor turn ---- */

static void publish(struct cio__worker *w)
{
    struct cio__worker_counters *m = &w->m;
    uint64_t polls = m->polls + w->ticks; /* runs since the last turn are not folded in yet */
    atomic_store_explicit(&m->pub_polls, polls, memory_order_relaxed);
    atomic_store_explicit(&m->pub_wakes_local, m->pushes - m->yields - m->remote_pushes,
                          memory_order_relaxed);
    atomic_store_explicit(&m->pub_wakes_remote, m->remote_wakes, memory_order_relaxed);
    atomic_store_explicit(&m->pub_yields, m->yields, memory_order_relaxed);
    atomic_store_explicit(&m->pub_budget_yields, m->budget_yields, memory_order_relaxed);
    /* (shared tasks count as pushed where they are taken: the LIFO slot and the local queue
     * hold the rest of the depth) */
    atomic_store_explicit(&m->pub_queue_depth,
                          m->pushes - polls + cio__local_queue_len(&w->local) + (w->lifo != NULL),
                          memory_order_relaxed);
    atomic_store_explicit(&m->pub_parks, m->parks, memory_order_relaxed);
    atomic_store_explicit(&m->pub_reactor_polls, m->reactor_polls, memory_order_relaxed);
    atomic_store_explicit(&m->pub_reactor_events, m->reactor_events, memory_order_relaxed);
    atomic_store_explicit(&m->pub_busy_ns, m->busy_ns, memory_order_relaxed);
    atomic_store_explicit(&m->pub_park_ns, m->park_ns, memory_order_relaxed);
}

static uint64_t elapsed(cio_time from, cio_time to)
{
    return to > from ? (uint64_t)(to - from) : 0;
}

void cio__metrics_wait_begin(struct cio__worker *w, cio_time now)
{
    w->m.busy_ns += elapsed(w->m.clock, now);
    w->m.clock = now;
    publish(w);
}

void cio__metrics_turn_end(struct cio__worker *w, int events, cio_time wait_start, cio_time now)
{
    struct cio__worker_counters *m = &w->m;
    m->reactor_polls++;
    if (events > 0)
        m->reactor_events += (uint64_t)events;
    if (wait_start != 0) {
        m->parks++;
        m->park_ns += elapsed(wait_start, now);
    } else {
        m->busy_ns += elapsed(m->clock, now);
    }
    m->clock = now;
    publish(w);
}

/* ---- reading, any thread ---- */

static void read_worker(struct cio__worker *w, cio_worker_metrics *out)
{
    struct cio__worker_counters *m = &w->m;
    /* finished before spawned: a finish seen balances a spawn seen (cio__worker_live) */
    uint64_t finished = atomic_load_explicit(&m->finished, memory_order_acquire);
    uint64_t spawned = atomic_load_explicit(&m->spawned, memory_order_relaxed);
    out->tasks_spawned = spawned;
    out->tasks_finished = finished;
    out->tasks_live = spawned - finished;
    out->polls = atomic_load_explicit(&m->pub_polls, memory_order_relaxed);
    out->wakes_local = atomic_load_explicit(&m->pub_wakes_local, memory_order_relaxed);
    out->wakes_remote = atomic_load_explicit(&m->pub_wakes_remote, memory_order_relaxed);
    out->yields = atomic_load_explicit(&m->pub_yields, memory_order_relaxed);
    out->budget_yields = atomic_load_explicit(&m->pub_budget_yields, memory_order_relaxed);
    out->queue_depth = atomic_load_explicit(&m->pub_queue_depth, memory_order_relaxed);
    out->remote_depth = atomic_load_explicit(&w->remote_count, memory_order_relaxed);
    out->parks = atomic_load_explicit(&m->pub_parks, memory_order_relaxed);
    out->reactor_polls = atomic_load_explicit(&m->pub_reactor_polls, memory_order_relaxed);
    out->reactor_events = atomic_load_explicit(&m->pub_reactor_events, memory_order_relaxed);
    out->busy_ns = atomic_load_explicit(&m->pub_busy_ns, memory_order_relaxed);
    out->park_ns = atomic_load_explicit(&m->pub_park_ns, memory_order_relaxed);
    out->steals = atomic_load_explicit(&w->steals, memory_order_relaxed);
    out->stacks_saved = atomic_load_explicit(&w->saves, memory_order_relaxed);
}

static void add_worker(cio_worker_metrics *sum, const cio_worker_metrics *w)
{
    sum->tasks_live += w->tasks_live;
    sum->tasks_spawned += w->tasks_spawned;
    sum->tasks_finished += w->tasks_finished;
    sum->polls += w->polls;
    sum->wakes_local += w->wakes_local;
    sum->wakes_remote += w->wakes_remote;
    sum->yields += w->yields;
    sum->budget_yields += w->budget_yields;
    sum->queue_depth += w->queue_depth;
    sum->remote_depth += w->remote_depth;
    sum->parks += w->parks;
    sum->reactor_polls += w->reactor_polls;
    sum->reactor_events += w->reactor_events;
    sum->busy_ns += w->busy_ns;
    sum->park_ns += w->park_ns;
    sum->steals += w->steals;
    sum->stacks_saved += w->stacks_saved;
}

/* The first version's sizes: a caller's struct is at least this big. */
#define WORKER_METRICS_V1 (offsetof(cio_worker_metrics, park_ns) + sizeof(uint64_t))
#define RT_METRICS_V1 (offsetof(cio_rt_metrics, blocking_jobs) + sizeof(uint64_t))

int cio_rt_worker_metrics_read(cio_rt *rt, unsigned worker, cio_worker_metrics *ret_metrics)
{
    if (rt == NULL || ret_metrics == NULL || ret_metrics->size < WORKER_METRICS_V1 ||
        (worker != CIO_METRICS_TOTAL && worker >= rt->workers_initialised))
        return -EINVAL;
    size_t size = ret_metrics->size;
    cio_worker_metrics m = {0};
    if (worker == CIO_METRICS_TOTAL) {
        for (unsigned i = 0; i < rt->workers_initialised; i++) {
            cio_worker_metrics one;
            read_worker(&rt->workers[i], &one);
            add_worker(&m, &one);
        }
    } else {
        read_worker(&rt->workers[worker], &m);
    }
    m.size = size;
    memcpy(ret_metrics, &m, size < sizeof(m) ? size : sizeof(m));
    return 0;
}

int cio_rt_metrics_read(cio_rt *rt, cio_rt_metrics *ret_metrics)
{
    if (rt == NULL || ret_metrics == NULL || ret_metrics->size < RT_METRICS_V1)
        return -EINVAL;
    size_t size = ret_metrics->size;
    cio_rt_metrics m = {.size = size, .workers = rt->nworkers};
    for (unsigned i = 0; i < rt->workers_initialised; i++)
        m.tasks_live += cio__worker_live(&rt->workers[i]);
    pthread_mutex_lock(&rt->lock);
    if (rt->blocking != NULL) {
        struct cio__blocking_stats st;
        cio__blocking_pool_stats(rt->blocking, &st);
        m.blocking_threads = st.threads;
        m.blocking_idle = st.idle;
        m.blocking_queue_depth = st.queued;
        m.blocking_jobs = st.completed;
    }
    pthread_mutex_unlock(&rt->lock);
    memcpy(ret_metrics, &m, size < sizeof(m) ? size : sizeof(m));
    return 0;
}

/* ---- text ---- */

static void print_worker_metrics(FILE *out, const cio_worker_metrics *m)
{
    fprintf(out,
            "tasks_live=%llu tasks_spawned=%llu tasks_finished=%llu polls=%llu "
            "wakes_local=%llu wakes_remote=%llu yields=%llu budget_yields=%llu "
            "queue_depth=%llu remote_depth=%llu parks=%llu reactor_polls=%llu "
            "reactor_events=%llu busy_ns=%llu park_ns=%llu steals=%llu\n",
            (unsigned long long)m->tasks_live, (unsigned long long)m->tasks_spawned,
            (unsigned long long)m->tasks_finished, (unsigned long long)m->polls,
            (unsigned long long)m->wakes_local, (unsigned long long)m->wakes_remote,
            (unsigned long long)m->yields, (unsigned long long)m->budget_yields,
            (unsigned long long)m->queue_depth, (unsigned long long)m->remote_depth,
            (unsigned long long)m->parks, (unsigned long long)m->reactor_polls,
            (unsigned long long)m->reactor_events, (unsigned long long)m->busy_ns,
            (unsigned long long)m->park_ns, (unsigned long long)m->steals);
}

static void print_metrics(cio_rt *rt, FILE *out)
{
    cio_rt_metrics r = CIO_METRICS_INIT(r);
    (void)cio_rt_metrics_read(rt, &r);
    fprintf(out,
            "runtime: workers=%u tasks_live=%llu blocking_threads=%llu blocking_idle=%llu "
            "blocking_queue_depth=%llu blocking_jobs=%llu\n",
            r.workers, (unsigned long long)r.tasks_live, (unsigned long long)r.blocking_threads,
            (unsigned long long)r.blocking_idle, (unsigned long long)r.blocking_queue_depth,
            (unsigned long long)r.blocking_jobs);
    cio_worker_metrics m = CIO_METRICS_INIT(m);
    (void)cio_rt_worker_metrics_read(rt, CIO_METRICS_TOTAL, &m);
    fputs("total: ", out);
    print_worker_metrics(out, &m);
    for (unsigned i = 0; i < rt->workers_initialised; i++) {
        (void)cio_rt_worker_metrics_read(rt, i, &m);
        fprintf(out, "worker %u: ", i);
        print_worker_metrics(out, &m);
    }
}

/* ---- the task list: one section per worker, written on its thread ---- */

struct wait_note {
    cio_task *task;
    int fd;
    const char *what;
};

struct notes {
    struct wait_note *v;
    size_t n, cap;
};

static void note_wait(void *ctx, cio_task *task, int fd, const char *what)
{
    struct notes *notes = ctx;
    if (notes->n == notes->cap) {
        size_t cap = notes->cap ? notes->cap * 2 : 64;
        struct wait_note *v = realloc(notes->v, cap * sizeof(*v));
        if (v == NULL)
            return; /* the dump says "unknown" for the rest */
        notes->v = v;
        notes->cap = cap;
    }
    notes->v[notes->n++] = (struct wait_note){.task = task, .fd = fd, .what = what};
}

static int note_cmp(const void *a, const void *b)
{
    const struct wait_note *x = a, *y = b;
    return (x->task > y->task) - (x->task < y->task);
}

static const char *const wait_names[] = {
    [CIO__WAIT_NONE] = "unknown",
    [CIO__WAIT_SLEEP] = "sleep",
    [CIO__WAIT_JOIN] = "join",
    [CIO__WAIT_JOIN_SET] = "join set",
    [CIO__WAIT_CHANNEL] = "channel",
    [CIO__WAIT_MUTEX] = "mutex",
    [CIO__WAIT_SEMAPHORE] = "semaphore",
    [CIO__WAIT_NOTIFY] = "notify",
    [CIO__WAIT_BLOCKING] = "blocking job",
    [CIO__WAIT_SIGNAL] = "signal",
    [CIO__WAIT_DUMP] = "task dump",
    [CIO__WAIT_SOCKET] = "socket readiness",
};

static double seconds(uint64_t ns)
{
    return (double)ns / 1e9;
}

/* The name of wait @kind, or NULL for a value past the names. */
static const char *wait_name(unsigned kind)
{
    return kind < sizeof(wait_names) / sizeof(wait_names[0]) ? wait_names[kind] : NULL;
}

/* A parked task's " Ns: what": since when (0: not known) and what it waits on (NULL: the
 * caller says it). Worker and shared sections alike. */
static void print_parked(FILE *out, cio_time since, const char *what, cio_time now)
{
    if (since != 0)
        fprintf(out, " %.3fs", seconds(elapsed(since, now)));
    if (what != NULL)
        fprintf(out, ": %s", what);
}

static void print_task(FILE *out, struct cio__worker *w, cio_task *t, const struct notes *notes,
                       cio_time now)
{
    unsigned state = atomic_load_explicit(&t->state, memory_order_relaxed);
    fprintf(out, "  task %p \"%s\" ", (void *)t, cio_task_name(t));
    if (t == w->current) {
        fputs("running", out);
    } else if (t->queued || (state & CIO__TASK_REMOTE)) {
        fputs("runnable", out);
    } else {
        fputs("parked", out);
        struct wait_note key = {.task = t};
        const struct wait_note *found =
            notes->n ? bsearch(&key, notes->v, notes->n, sizeof(key), note_cmp) : NULL;
        const char *what = found != NULL ? NULL
                           : t->wait_kind == CIO__WAIT_NONE && t->park_deadline != CIO_DEADLINE_NONE
                               ? "timer"
                               : wait_name(t->wait_kind);
        print_parked(out, t->parked_at, what, now);
        if (found != NULL)
            fprintf(out, ": readiness of fd %d (%s)", found->fd, found->what);
        if (t->park_deadline != CIO_DEADLINE_NONE)
            fprintf(out, ", deadline in %.3fs", seconds(elapsed(now, t->park_deadline)));
    }
    if (state & CIO__TASK_CANCELLED)
        fputs(" cancelled", out);
    fputc('\n', out);
}

/* @w's section, on @w's thread: between two task runs, or from its running task. */
static void print_worker_tasks(FILE *out, struct cio__worker *w)
{
    struct notes notes = {0};
    for (int i = 0; i < CIO__WORKER_EXT_COUNT; i++)
        if (w->ext[i].waits != NULL)
            w->ext[i].waits(w, w->ext[i].state, note_wait, &notes);
    if (notes.n > 1)
        qsort(notes.v, notes.n, sizeof(*notes.v), note_cmp);
    cio_time now = cio_now();
    size_t live = cio__worker_live(w), listed = 0;
    if (w->steal) /* a shared task may start here and end elsewhere: no per-worker count */
        fprintf(out, "worker %u: pinned tasks (shared ones move: not listed)\n", w->index);
    else
        fprintf(out, "worker %u: %zu live\n", w->index, live);
    struct cio__list *it;
    cio__list_foreach(it, &w->tasks)
    {
        print_task(out, w, cio__list_entry(it, cio_task, all_node), &notes, now);
        listed++;
    }
    if (!w->steal && live > listed)
        fprintf(out, "  (%zu not started yet)\n", live - listed);
    free(notes.v);
}

struct dump_request;

struct dump_section {
    struct cio__deferred deferred;
    struct dump_request *req;
    struct cio__worker *worker;
    char *text; /* under req->lock; NULL until written */
    size_t len;
};

struct dump_request {
    pthread_mutex_t lock;
    atomic_uint refs;           /* the requester's + one per section in flight */
    unsigned pending;           /* sections not yet written */
    struct cio__parker *waiter; /* the requester while it waits; NULL once it left */
    unsigned nsections;
    struct dump_section sections[];
};

static void request_unref(struct dump_request *req)
{
    if (atomic_fetch_sub(&req->refs, 1) != 1)
        return;
    for (unsigned i = 0; i < req->nsections; i++)
        free(req->sections[i].text);
    pthread_mutex_destroy(&req->lock);
    free(req);
}

static char *section_text(struct cio__worker *w, size_t *ret_len)
{
    char *text = NULL;
    FILE *out = open_memstream(&text, ret_len);
    if (out == NULL)
        return NULL;
    print_worker_tasks(out, w);
    if (fclose(out) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

static void section_done(struct dump_section *s, char *text, size_t len)
{
    struct dump_request *req = s->req;
    pthread_mutex_lock(&req->lock);
    s->text = text;
    s->len = len;
    if (--req->pending == 0 && req->waiter != NULL)
        cio__parker_unpark(req->waiter);
    pthread_mutex_unlock(&req->lock);
    request_unref(req);
}

/* Deferred work on the section's worker (or the worker's teardown: no thread runs it). */
static void section_run(struct cio__deferred *d)
{
    struct dump_section *s = cio__container_of(d, struct dump_section, deferred);
    size_t len = 0;
    char *text = NULL;
    if (cio__worker_current() == s->worker)
        text = section_text(s->worker, &len);
    section_done(s, text, len);
}

/* The shared tasks (work stealing) are no worker's: listed from the runtime's list, with
 * what can be read of a task that may be running on another thread — its name and the
 * atomic state word. */
static void print_shared_tasks(cio_rt *rt, FILE *out)
{
    struct cio__sched_shared *sh = &rt->sched;
    if (!sh->steal)
        return;
    cio_time now = cio_now();
    pthread_mutex_lock(&sh->tasks_lock);
    size_t n = 0;
    struct cio__list *it;
    cio__list_foreach(it, &sh->tasks)
    {
        n++;
    }
    fprintf(out, "shared tasks (any worker): %zu started\n", n);
    cio__list_foreach(it, &sh->tasks)
    {
        cio_task *t = cio__list_entry(it, cio_task, all_node);
        unsigned state = atomic_load_explicit(&t->state, memory_order_relaxed);
        fprintf(out, "  task %p \"%s\" %s", (void *)t, cio_task_name(t),
                (state & CIO__TASK_RUNNING)    ? "running"
                : (state & CIO__TASK_NOTIFIED) ? "runnable"
                                               : "parked");
        if (!(state & (CIO__TASK_RUNNING | CIO__TASK_NOTIFIED)))
            print_parked(out, __atomic_load_n(&t->parked_at, __ATOMIC_RELAXED),
                         wait_name(__atomic_load_n(&t->wait_kind, __ATOMIC_RELAXED)), now);
        fprintf(out, "%s\n", (state & CIO__TASK_CANCELLED) ? " cancelled" : "");
    }
    pthread_mutex_unlock(&sh->tasks_lock);
}

static int print_tasks(cio_rt *rt, FILE *out)
{
    unsigned n = rt->workers_initialised;
    struct dump_request *req = calloc(1, sizeof(*req) + n * sizeof(req->sections[0]));
    if (req == NULL)
        return -ENOMEM;
    pthread_mutex_init(&req->lock, NULL);
    req->nsections = n;
    req->pending = n;
    atomic_init(&req->refs, 1 + n);
    struct cio__worker *self = cio__worker_current();
    struct cio__parker parker;
    cio__parker_init(&parker);
    req->waiter = &parker;
    for (unsigned i = 0; i < n; i++) {
        struct dump_section *s = &req->sections[i];
        s->req = req;
        s->worker = &rt->workers[i];
        if (s->worker == self) {
            size_t len = 0;
            char *text = section_text(self, &len);
            section_done(s, text, len);
        } else {
            s->deferred.fn = section_run;
            cio__worker_defer(s->worker, &s->deferred);
        }
    }
    cio_time deadline = cio_now() + DUMP_PATIENCE;
    pthread_mutex_lock(&req->lock);
    while (req->pending > 0) {
        pthread_mutex_unlock(&req->lock);
        int rc = cio__parker_park_for(&parker, deadline, CIO__WAIT_DUMP);
        pthread_mutex_lock(&req->lock);
        if (rc < 0)
            break;
    }
    req->waiter = NULL; /* no unpark reaches the parker from here on */
    for (unsigned i = 0; i < n; i++) {
        struct dump_section *s = &req->sections[i];
        if (s->text != NULL)
            fwrite(s->text, 1, s->len, out);
        else
            fprintf(out, "worker %u: did not answer (running one task too long, or not running)\n",
                    i);
    }
    pthread_mutex_unlock(&req->lock);
    cio__parker_fini(&parker);
    request_unref(req);
    print_shared_tasks(rt, out);
    return 0;
}

int cio_rt_dump_string(cio_rt *rt, unsigned what, char **ret_text, size_t *ret_len)
{
    if (rt == NULL || ret_text == NULL || (what & ~(unsigned)CIO_DUMP_ALL) != 0)
        return -EINVAL;
    struct cio__worker *self = cio__worker_current();
    if ((what & CIO_DUMP_TASKS) && self != NULL && self->rt == rt && self->current == NULL)
        return -EDEADLK; /* a reactor callback of @rt: the worker would wait for itself */
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (out == NULL)
        return -ENOMEM;
    int rc = 0;
    if (what & CIO_DUMP_METRICS)
        print_metrics(rt, out);
    if (what & CIO_DUMP_TASKS)
        rc = print_tasks(rt, out);
    if (fclose(out) != 0 && rc == 0)
        rc = -ENOMEM;
    if (rc < 0) {
        free(text);
        return rc;
    }
    *ret_text = text;
    if (ret_len != NULL)
        *ret_len = len;
    return 0;
}

int cio_rt_dump(cio_rt *rt, unsigned what, int fd)
{
    if (fd < 0)
        return -EINVAL;
    char *text;
    size_t len;
    int rc = cio_rt_dump_string(rt, what, &text, &len);
    if (rc < 0)
        return rc;
    for (size_t off = 0; off < len;) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            break;
        }
        off += (size_t)n;
    }
    free(text);
    return rc;
}

/* ---- on a signal ---- */

struct dump_on_signal {
    cio_rt *rt;
    int sig;
    int fd;
};

static void *dump_on_signal_task(void *arg)
{
    struct dump_on_signal *d = arg;
    while (cio_signal_wait(&d->sig, 1) > 0)
        (void)cio_rt_dump(d->rt, CIO_DUMP_ALL, d->fd);
    free(d); /* cancelled: the runtime shuts down */
    return NULL;
}

int cio_rt_dump_on_signal(cio_rt *rt, int sig, int fd)
{
    if (rt == NULL || fd < 0)
        return -EINVAL;
    int rc = cio__signal_install(sig);
    if (rc < 0)
        return rc;
    struct dump_on_signal *d = malloc(sizeof(*d));
    if (d == NULL)
        return -ENOMEM;
    *d = (struct dump_on_signal){.rt = rt, .sig = sig, .fd = fd};
    /* Pinned (worker 0): its worker's section shows it running while it writes the dump. */
    cio_spawn_options o = {.name = "cio-dump", .worker = CIO_WORKER(0)};
    rc = cio_rt_spawn(rt, NULL, &o, dump_on_signal_task, d);
    if (rc < 0)
        free(d);
    return rc;
}
