/*
 * sched.c: the runtime's schedulers — workers with their run queues, remote queues, reactors
 * and timer wheels; spawning; and the park/wake primitives of sched.h. A worker loop in one
 * sitting:
 *
 *     loop:
 *         handle a shutdown request (cancel every task of this worker)
 *         move the remote queue (tasks woken or spawned by other threads) to the run queue
 *         no task ready?  -> block in the reactor until an event, a timer or a remote wake
 *         event_interval tasks run since the last poll -> poll the reactor without blocking
 *         run the next task until it parks, yields or returns
 *
 * Tasks never migrate: a task's worker is fixed when it is spawned, and anything another
 * thread does to it goes through its worker's remote queue.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "poll/reactor.h"
#include "rt/blocking.h"
#include "rt/rt_internal.h"
#include "rt/sched.h"
#include "rt/stack.h"
#include "util/assert.h"

#define DEFAULT_EVENT_INTERVAL 61
#define DEFAULT_BUDGET 128
#define EVENTS_CAPACITY 256
#define WAKER_TOKEN 0

enum switch_reason { SWITCH_PARK, SWITCH_YIELD };

_Thread_local struct cio__worker *cio__tls_worker __attribute__((tls_model("initial-exec")));
#define tls_worker cio__tls_worker
static _Thread_local enum switch_reason tls_reason;

cio_rt *cio_rt_current(void)
{
    return tls_worker ? tls_worker->rt : NULL;
}

unsigned cio_rt_workers(const cio_rt *rt)
{
    return rt ? rt->nworkers : 0;
}

cio_poll *cio__worker_poll(struct cio__worker *worker)
{
    return worker->poll;
}

struct cio__timer_wheel *cio__worker_wheel(struct cio__worker *worker)
{
    return &worker->wheel;
}

/* ---- queues ---- */

static void remote_push(struct cio__worker *w, cio_task *t)
{
    t->remote_next = NULL;
    pthread_mutex_lock(&w->remote_lock);
    if (w->remote_tail)
        w->remote_tail->remote_next = t;
    else
        w->remote_head = t;
    w->remote_tail = t;
    pthread_mutex_unlock(&w->remote_lock);
    /* Dekker with the worker's sleeping flag (both seq_cst): either the worker sees the new
     * count before it sleeps, or we see it sleeping and wake it. */
    atomic_fetch_add(&w->remote_count, 1);
    if (atomic_load(&w->sleeping))
        cio_waker_wake(w->waker);
}

void cio__worker_ext_attach(struct cio__worker *w, enum cio__worker_ext_slot slot, void *state,
                            void (*fini)(struct cio__worker *w, void *state))
{
    cio__assert(tls_worker == w && w->ext[slot].state == NULL);
    w->ext[slot].state = state;
    w->ext[slot].fini = fini;
}

void cio__worker_defer(struct cio__worker *w, struct cio__deferred *d)
{
    pthread_mutex_lock(&w->remote_lock);
    d->next = w->deferred;
    w->deferred = d;
    pthread_mutex_unlock(&w->remote_lock);
    atomic_fetch_add(&w->remote_count, 1);
    if (atomic_load(&w->sleeping))
        cio_waker_wake(w->waker);
}

static void run_deferred(struct cio__deferred *d)
{
    while (d != NULL) {
        struct cio__deferred *next = d->next;
        d->fn(d);
        d = next;
    }
}

static void remote_drain(struct cio__worker *w)
{
    if (atomic_load_explicit(&w->remote_count, memory_order_acquire) == 0)
        return;
    pthread_mutex_lock(&w->remote_lock);
    cio_task *t = w->remote_head;
    w->remote_head = w->remote_tail = NULL;
    struct cio__deferred *deferred = w->deferred;
    w->deferred = NULL;
    atomic_store(&w->remote_count, 0);
    pthread_mutex_unlock(&w->remote_lock);
    run_deferred(deferred);
    while (t != NULL) {
        cio_task *next = t->remote_next;
        /* Cleared first: a wake arriving from here on takes another trip, at worst a
         * spurious one. */
        atomic_fetch_and(&t->state, ~(unsigned)CIO__TASK_REMOTE);
        cio__task_wake(t); /* on its worker now: the local wake */
        cio__task_unref(t);
        t = next;
    }
}

void cio__task_wake_remote(cio_task *t)
{
    /* One trip through the remote queue, however many wakes arrive before the worker drains
     * it; the worker then wakes it locally. */
    unsigned s = atomic_fetch_or(&t->state, CIO__TASK_REMOTE);
    if (s & (CIO__TASK_REMOTE | CIO__TASK_DONE))
        return;
    /* The task may run and finish on its worker before the queue is drained: the queue
     * holds a reference, dropped by the drain. */
    atomic_fetch_add(&t->refs, 1);
    remote_push(t->worker, t);
}

/* ---- tasks ---- */

/* The stacks outlive the runtime while a task record (which lives on its stack) does: a
 * handle may be joined or detached after cio_rt_free(). */
struct cio__stack_home {
    struct cio__stack_pool *pool;
    atomic_size_t refs; /* the runtime + every task record */
};

static void home_unref(struct cio__stack_home *home)
{
    if (atomic_fetch_sub(&home->refs, 1) == 1) {
        cio__stack_pool_free(home->pool);
        free(home);
    }
}

static void task_free(cio_task *t)
{
    struct cio__stack_home *home = t->home;
    void **locals = t->locals;
    char *name = t->name;        /* the stack registry points at it until the stack is back */
    cio__coro_destroy(&t->coro); /* the record goes with its stack: no use of t after this */
    free(locals);
    free(name);
    home_unref(home);
}

void cio__task_unref(cio_task *t)
{
    if (atomic_fetch_sub(&t->refs, 1) == 1)
        task_free(t);
}

/*
 * The park timer is armed lazily: it is left in the wheel when a park ends, and a later park
 * whose deadline is no earlier keeps it (a connection's idle deadline moves later at every
 * request; re-arming it each time would cost an insert and a cancel per operation). So when
 * it fires it may belong to no park, or be earlier than the park in progress.
 */
static void park_timer_fired(struct cio__timer_wheel *wheel, struct cio__timer *timer)
{
    cio_task *t = cio__container_of(timer, cio_task, timer);
    if (t->park_deadline == CIO_DEADLINE_NONE)
        return; /* not parked with a deadline: nothing waits for it */
    if (t->park_deadline > timer->deadline) {
        cio__timer_insert(wheel, timer, t->park_deadline); /* the park's own deadline */
        return;
    }
    t->timed_out = true;
    cio__task_wake(t);
}

static void task_entry(void *arg)
{
    cio_task *t = arg;
    t->result = t->fn(t->arg);
    cio__task_locals_destroy(t);
}

static int task_create(cio_rt *rt, struct cio__worker *w, const cio_spawn_options *opts,
                       cio_task_fn fn, void *arg, cio_task **ret_task, cio_join_set *set)
{
    if (atomic_load(&rt->shutdown))
        return -ECANCELED;
    /* The task record lives at the top of its own stack, in the page the coroutine's first
     * frame touches anyway: an idle task costs that page and nothing else. */
    struct cio__stack stack;
    size_t stack_size = opts != NULL ? opts->stack_size : 0;
    int rc = cio__stack_pool_get(rt->home->pool, stack_size, &stack);
    if (rc < 0)
        return rc;
    uintptr_t top = (uintptr_t)cio__stack_top(&stack);
    cio_task *t = (cio_task *)((top - sizeof(cio_task)) & ~(uintptr_t)63);
    memset(t, 0, sizeof(*t));
    if (opts != NULL && opts->name != NULL && (t->name = strdup(opts->name)) == NULL)
        rc = -ENOMEM;
    if (rc == 0)
        rc = cio__coro_init_on(&t->coro, rt->home->pool, &stack, (char *)t, task_entry, t,
                               t->name ? t->name : "task");
    if (rc < 0) {
        free(t->name);
        cio__stack_pool_put(rt->home->pool, &stack);
        return rc;
    }
    t->home = rt->home;
    atomic_fetch_add(&rt->home->refs, 1);
    t->coro.return_to = &w->sched;
    t->worker = w;
    t->fn = fn;
    t->arg = arg;
    t->deadline = CIO_DEADLINE_NONE;
    t->park_deadline = CIO_DEADLINE_NONE;
    cio__timer_init(&t->timer, park_timer_fired);
    cio__list_init(&t->run_node);
    cio__list_init(&t->all_node);
    cio__list_init(&t->set_node);
    atomic_flag_clear(&t->join_lock);
    atomic_init(&t->refs, ret_task != NULL ? 2 : 1);
    atomic_init(&t->state, 0);
    atomic_fetch_add(&w->live, 1);
    atomic_fetch_add(&rt->live, 1);
    if (set != NULL)
        cio__join_set_attach(set, t);
    if (ret_task != NULL)
        *ret_task = t;
    cio__task_wake(t);
    return 0;
}

/* The task's body has returned: release its stack, publish DONE, wake its joiner. */
static void task_finished(struct cio__worker *w, cio_task *t)
{
    if (cio__timer_pending(&t->timer))
        cio__timer_cancel(&w->wheel, &t->timer);
    /* The stack (holding the record) is released with the record, when the last reference
     * goes: at once for a detached task, at join for one with a handle. */
    cio__list_remove(&t->all_node);
    cio__join_publish_done(t);
    atomic_fetch_sub(&w->live, 1);
    cio_rt *rt = w->rt;
    if (atomic_fetch_sub(&rt->live, 1) == 1) {
        pthread_mutex_lock(&rt->lock);
        pthread_cond_broadcast(&rt->cond);
        pthread_mutex_unlock(&rt->lock);
    }
    cio__task_unref(t);
}

/* A task's first run: it joins its worker's list of live tasks (for shutdown); and if the
 * runtime is shutting down, it starts cancelled (cancel_all() may have missed it). */
static void first_run(struct cio__worker *w, cio_task *t)
{
    cio__list_push_back(&w->tasks, &t->all_node);
    if (atomic_load_explicit(&w->rt->shutdown, memory_order_relaxed))
        atomic_fetch_or(&t->state, CIO__TASK_CANCELLED);
}

/* The scheduling state of a run of @t, whether the worker starts it or a parking task hands
 * it the thread (cio__task_suspend). */
static inline void run_begin(struct cio__worker *w, cio_task *t)
{
    t->queued = false;
    t->notified = false;
    t->running = true;
    if (!cio__list_linked(&t->all_node))
        first_run(w, t);
    t->budget = (atomic_load_explicit(&t->state, memory_order_relaxed) & CIO__TASK_CANCELLED)
                    ? 0
                    : w->budget;
    w->current = t;
}

static void run_task(struct cio__worker *w, cio_task *t)
{
    run_begin(w, t);
    tls_reason = SWITCH_PARK;
    cio__coro_switch(&w->sched, &t->coro);
    /* Back from the task that left for the worker: @t, or one it handed the thread to. */
    t = w->current;
    w->current = NULL;
    t->running = false;

    if (cio__coro_state(&t->coro) == CIO__CORO_FINISHED) {
        task_finished(w, t);
        return;
    }
    if (tls_reason == SWITCH_YIELD || t->notified) {
        t->notified = false;
        t->queued = true;
        cio__list_push_back(&w->runq, &t->run_node);
    }
}

static void switch_to_worker(cio_task *t, enum switch_reason reason)
{
    tls_reason = reason;
    cio__coro_switch(&t->coro, &t->worker->sched);
}

/*
 * The switch of a park. When the worker loop would only take the next task off the run queue
 * and run it — a task is queued, nothing came from other threads (remote wakes, deferred
 * work), no shutdown asked to cancel, the fairness poll of the reactor not due, and the
 * parking task was not woken meanwhile (it would be requeued) — the parking task does that
 * itself and switches straight to the next one: one context switch instead of two, and the
 * same order, fairness and reactor cadence as the loop (worker_loop). Otherwise it goes to
 * the worker. The worker learns which task comes back to it from w->current (run_task).
 */
void cio__task_suspend(cio_task *t)
{
    struct cio__worker *w = t->worker;
    struct cio__list *node = w->runq.next;
    if (node != &w->runq && !t->notified && w->ticks + 1 < w->event_interval &&
        atomic_load_explicit(&w->remote_count, memory_order_relaxed) == 0 &&
        !atomic_load_explicit(&w->cancel_all, memory_order_relaxed)) {
        cio__list_remove(node);
        w->ticks++;
        cio_task *next = cio__list_entry(node, cio_task, run_node);
        t->running = false;
        run_begin(w, next);
        cio__coro_switch(&t->coro, &next->coro);
        return;
    }
    switch_to_worker(t, SWITCH_PARK);
}

int cio__task_park(cio_time deadline)
{
    cio_task *t = cio__task_self();
    if (t == NULL)
        return -EPERM;
    if (atomic_load_explicit(&t->state, memory_order_relaxed) & CIO__TASK_CANCELLED)
        return -ECANCELED;
    if (deadline == CIO_DEADLINE_NONE && t->deadline == CIO_DEADLINE_NONE) {
        /* No deadline: nothing to arm. A park timer left armed by an earlier park finds
         * park_deadline NONE when it fires and wakes nobody. */
        cio__task_suspend(t);
        return (atomic_load_explicit(&t->state, memory_order_relaxed) & CIO__TASK_CANCELLED)
                   ? -ECANCELED
                   : 0;
    }
    if (t->deadline < deadline)
        deadline = t->deadline;
    if (deadline != CIO_DEADLINE_NONE) {
        if (cio_now() >= deadline)
            return -ETIMEDOUT;
        t->timed_out = false;
        /* An armed timer due no later than the deadline serves (see park_timer_fired). */
        if (!cio__timer_pending(&t->timer) || t->timer.deadline > deadline) {
            if (cio__timer_pending(&t->timer))
                cio__timer_cancel(&t->worker->wheel, &t->timer);
            cio__timer_insert(&t->worker->wheel, &t->timer, deadline);
        }
    }
    t->park_deadline = deadline;
    cio__task_suspend(t);
    t->park_deadline = CIO_DEADLINE_NONE;
    if (atomic_load(&t->state) & CIO__TASK_CANCELLED)
        return -ECANCELED;
    if (t->timed_out) {
        t->timed_out = false;
        return -ETIMEDOUT;
    }
    return 0;
}

void cio__task_yield(void)
{
    cio_task *t = cio__task_self();
    if (t != NULL)
        switch_to_worker(t, SWITCH_YIELD);
}

void cio__task_budget_exhausted(cio_task *t)
{
    switch_to_worker(t, SWITCH_YIELD); /* run_begin() refills the budget */
}

cio_time cio__task_deadline(void)
{
    cio_task *t = cio__task_self();
    return t ? t->deadline : CIO_DEADLINE_NONE;
}

int cio_yield(void)
{
    cio_task *t = cio__task_self();
    if (t == NULL)
        return -EPERM;
    switch_to_worker(t, SWITCH_YIELD);
    return (atomic_load(&t->state) & CIO__TASK_CANCELLED) ? -ECANCELED : 0;
}

/* ---- the worker loop ---- */

/* Poll the reactor; block (until the next timer) only when @block and nothing is queued. */
static void reactor_turn(struct cio__worker *w, bool block)
{
    int64_t timeout = 0;
    if (block) {
        timeout = cio__timer_wheel_timeout(&w->wheel, cio_now());
        atomic_store(&w->sleeping, true);
        if (atomic_load(&w->remote_count) != 0 || atomic_load(&w->cancel_all) ||
            atomic_load(&w->stop))
            timeout = 0;
    }
    /* Each event goes to its source as the batch is read (see poll/reactor.h for why every
     * one is live); a wake's only ended the wait: the loop drains the remote queue. Sources
     * freed meanwhile wait for the loop's top (w->dispatching). */
    w->dispatching = true;
    (void)cio__reactor_run(w->poll, w->events, EVENTS_CAPACITY, timeout);
    w->dispatching = false;
    w->ticks = 0; /* the fairness poll counts tasks run since the reactor was last polled */
    if (block)
        atomic_store(&w->sleeping, false);
    cio__timer_wheel_advance(&w->wheel, cio_now());
}

static void cancel_all(struct cio__worker *w)
{
    atomic_store(&w->cancel_all, false);
    struct cio__list *it;
    cio__list_foreach(it, &w->tasks)
    {
        cio_task *t = cio__list_entry(it, cio_task, all_node);
        cio_task_cancel(t);
    }
}

/* Run tasks until @until is DONE (block_on), or — @until NULL — until asked to stop with no
 * task left. */
static void worker_loop(struct cio__worker *w, cio_task *until)
{
    for (;;) {
        if (until != NULL) {
            if (atomic_load(&until->state) & CIO__TASK_DONE)
                return;
        } else if (atomic_load(&w->stop) && atomic_load(&w->live) == 0) {
            return;
        }
        if (atomic_load_explicit(&w->cancel_all, memory_order_relaxed))
            cancel_all(w);
        remote_drain(w);
        struct cio__list *node = cio__list_pop_front(&w->runq);
        if (node == NULL) {
            reactor_turn(w, true);
            continue;
        }
        if (++w->ticks >= w->event_interval)
            reactor_turn(w, false);
        run_task(w, cio__list_entry(node, cio_task, run_node));
    }
}

static int worker_enter(struct cio__worker *w)
{
    int rc = cio__coro_thread_init(&w->sched, "worker");
    if (rc < 0)
        return rc;
    (void)cio__stack_overflow_handler_install();
    tls_worker = w;
    return 0;
}

static void worker_leave(struct cio__worker *w)
{
    tls_worker = NULL;
    cio__stack_overflow_handler_uninstall();
    cio__coro_thread_fini(&w->sched);
}

static void *worker_thread(void *arg)
{
    struct cio__worker *w = arg;
    if (worker_enter(w) == 0) {
        worker_loop(w, NULL);
        worker_leave(w);
    }
    return NULL;
}

/* ---- runtime ---- */

static int worker_init(cio_rt *rt, struct cio__worker *w, unsigned index)
{
    w->rt = rt;
    w->index = index;
    w->budget = rt->budget;
    w->event_interval = rt->event_interval;
    cio__list_init(&w->runq);
    cio__list_init(&w->tasks);
    pthread_mutex_init(&w->remote_lock, NULL);
    cio__timer_wheel_init(&w->wheel, cio_now());
    cio_poll_options popts = {.backend = rt->backend};
    int rc = cio_poll_new(&w->poll, &popts);
    if (rc < 0)
        return rc;
    w->events = calloc(EVENTS_CAPACITY, sizeof(*w->events));
    if (w->events == NULL)
        return -ENOMEM;
    return cio_waker_new(&w->waker, w->poll, WAKER_TOKEN);
}

static void worker_fini(struct cio__worker *w)
{
    run_deferred(w->deferred);
    w->deferred = NULL;
    /* The layers let go of this worker (sockets that outlive the runtime forget their
     * registration with this reactor). */
    for (int i = 0; i < CIO__WORKER_EXT_COUNT; i++)
        if (w->ext[i].fini != NULL)
            w->ext[i].fini(w, w->ext[i].state);
    cio__timer_wheel_fini(&w->wheel);
    cio_waker_free(w->waker);
    free(w->events);
    cio_poll_free(w->poll);
    pthread_mutex_destroy(&w->remote_lock);
}

int cio_rt_new(cio_rt **ret_rt, const cio_rt_options *opts)
{
    static const cio_rt_options defaults = {0};
    if (ret_rt == NULL)
        return -EINVAL;
    if (opts == NULL)
        opts = &defaults;
    if (opts->flavor != CIO_RT_CURRENT_THREAD && opts->flavor != CIO_RT_MULTI_THREAD)
        return -EINVAL;
    unsigned nworkers = 1;
    if (opts->flavor == CIO_RT_MULTI_THREAD) {
        nworkers = opts->workers;
        if (nworkers == 0) {
            long cpus = sysconf(_SC_NPROCESSORS_ONLN);
            nworkers = cpus > 0 ? (unsigned)cpus : 1;
        }
        if (nworkers > 1024)
            return -EINVAL;
    }
    size_t stack_size;
    int rc = cio__stack_size_round(opts->stack_size, CIO__STACK_DEFAULT_SIZE, &stack_size);
    if (rc < 0)
        return rc;

    cio_rt *rt = calloc(1, sizeof(*rt));
    if (rt == NULL)
        return -ENOMEM;
    rt->flavor = opts->flavor;
    rt->nworkers = nworkers;
    rt->backend = opts->backend;
    rt->event_interval = opts->event_interval ? opts->event_interval : DEFAULT_EVENT_INTERVAL;
    rt->budget = opts->budget ? opts->budget : DEFAULT_BUDGET;
    rt->blocking_opts.max_threads = opts->blocking_threads;
    rt->blocking_opts.keep_alive = opts->blocking_idle;
    pthread_mutex_init(&rt->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&rt->cond, &ca);
    pthread_condattr_destroy(&ca);
    rt->workers = calloc(nworkers, sizeof(*rt->workers));
    if (rt->workers == NULL) {
        cio_rt_free(rt);
        return -ENOMEM;
    }
    rt->home = calloc(1, sizeof(*rt->home));
    rc = rt->home ? cio__stack_pool_new(&rt->home->pool, stack_size, CIO__STACK_POOL_DEFAULT_CACHED)
                  : -ENOMEM;
    if (rt->home != NULL)
        atomic_init(&rt->home->refs, 1);
    for (unsigned i = 0; rc == 0 && i < nworkers; i++) {
        rc = worker_init(rt, &rt->workers[i], i);
        rt->workers_initialised = i + 1;
    }
    if (rc < 0) {
        cio_rt_free(rt);
        return rc;
    }
    *ret_rt = rt;
    return 0;
}

/* Multi-thread: start the worker threads (once). Called with rt->lock held. */
static int start_threads(cio_rt *rt)
{
    if (rt->threads_started)
        return 0;
    sigset_t all, old;
    sigfillset(&all);
    /* Workers start with asynchronous signals blocked: they go to the program's own threads,
     * and cio_signal_wait() receives them through its handler. Faults stay deliverable: Linux
     * kills a thread that faults with SIGSEGV blocked, and the stack-overflow report needs
     * the handler to run. */
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGILL);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGTRAP);
    sigdelset(&all, SIGABRT);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = 0;
    for (unsigned i = 0; i < rt->nworkers; i++) {
        rc = -pthread_create(&rt->workers[i].thread, NULL, worker_thread, &rt->workers[i]);
        if (rc < 0)
            break;
        rt->threads_started = i + 1;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

static int block_on_thread(cio_task *main_task)
{
    /* Multi-thread: wait for the main task like any thread outside the runtime. */
    struct cio__parker parker;
    cio__parker_init(&parker);
    int rc = cio__join_wait(main_task, &parker);
    cio__parker_fini(&parker);
    return rc;
}

int cio_rt_block_on(cio_rt *rt, cio_task_fn fn, void *arg, void **ret_result)
{
    if (rt == NULL || fn == NULL)
        return -EINVAL;
    if (tls_worker != NULL)
        return -EBUSY;
    pthread_mutex_lock(&rt->lock);
    if (rt->in_block_on) {
        pthread_mutex_unlock(&rt->lock);
        return -EBUSY;
    }
    rt->in_block_on = true;
    int rc = 0;
    if (rt->flavor == CIO_RT_MULTI_THREAD)
        rc = start_threads(rt);
    pthread_mutex_unlock(&rt->lock);

    struct cio__worker *w = &rt->workers[0];
    cio_task *main_task = NULL;
    if (rc == 0 && rt->flavor == CIO_RT_CURRENT_THREAD) {
        rc = worker_enter(w);
        if (rc == 0) {
            cio_spawn_options o = {.name = "main"};
            rc = task_create(rt, w, &o, fn, arg, &main_task, NULL);
            if (rc == 0)
                worker_loop(w, main_task);
            worker_leave(w);
        }
    } else if (rc == 0) {
        cio_spawn_options o = {.name = "main"};
        rc = task_create(rt, w, &o, fn, arg, &main_task, NULL);
        if (rc == 0)
            rc = block_on_thread(main_task);
    }
    if (main_task != NULL)
        rc = cio__join_take(main_task, ret_result);

    pthread_mutex_lock(&rt->lock);
    rt->in_block_on = false;
    pthread_mutex_unlock(&rt->lock);
    return rc;
}

int cio_rt_shutdown(cio_rt *rt)
{
    if (rt == NULL)
        return -EINVAL;
    atomic_store(&rt->shutdown, true);
    for (unsigned i = 0; i < rt->workers_initialised; i++) {
        struct cio__worker *w = &rt->workers[i];
        atomic_store(&w->cancel_all, true);
        cio_waker_wake(w->waker);
    }
    return 0;
}

void cio_rt_free(cio_rt *rt)
{
    if (rt == NULL)
        return;
    if (rt->workers_initialised == rt->nworkers) {
        cio_rt_shutdown(rt);
        if (rt->flavor == CIO_RT_CURRENT_THREAD) {
            /* Let every task see its cancellation and finish its cleanup here. */
            struct cio__worker *w = &rt->workers[0];
            if (atomic_load(&rt->live) > 0 && worker_enter(w) == 0) {
                atomic_store(&w->stop, true);
                worker_loop(w, NULL);
                worker_leave(w);
            }
        } else {
            for (unsigned i = 0; i < rt->nworkers; i++) {
                atomic_store(&rt->workers[i].stop, true);
                cio_waker_wake(rt->workers[i].waker);
            }
            for (unsigned i = 0; i < rt->threads_started; i++)
                pthread_join(rt->workers[i].thread, NULL);
            /* Tasks spawned to workers that never ran (no block_on happened). */
            for (unsigned i = 0; i < rt->nworkers && atomic_load(&rt->live) > 0; i++) {
                struct cio__worker *w = &rt->workers[i];
                if (worker_enter(w) == 0) {
                    worker_loop(w, NULL);
                    worker_leave(w);
                }
            }
        }
    }
    if (rt->blocking != NULL)
        cio__blocking_pool_free(rt->blocking);
    for (unsigned i = 0; i < rt->workers_initialised; i++)
        worker_fini(&rt->workers[i]);
    if (rt->home != NULL)
        home_unref(rt->home);
    free(rt->workers);
    pthread_cond_destroy(&rt->cond);
    pthread_mutex_destroy(&rt->lock);
    free(rt);
}

int cio__rt_blocking_pool(cio_rt *rt, struct cio__blocking_pool **ret_pool)
{
    int rc = 0;
    pthread_mutex_lock(&rt->lock);
    if (rt->blocking == NULL)
        rc = cio__blocking_pool_new(&rt->blocking, &rt->blocking_opts);
    if (rc == 0)
        *ret_pool = rt->blocking;
    pthread_mutex_unlock(&rt->lock);
    return rc;
}

/* ---- spawning ---- */

int cio__rt_spawn(cio_rt *rt, const cio_spawn_options *opts, cio_task_fn fn, void *arg,
                  cio_task **ret_task, cio_join_set *set)
{
    struct cio__worker *w;
    if (opts != NULL && opts->worker != CIO_WORKER_DEFAULT) {
        if (opts->worker > rt->nworkers)
            return -EINVAL;
        w = &rt->workers[opts->worker - 1];
    } else if (tls_worker != NULL && tls_worker->rt == rt) {
        w = tls_worker;
    } else {
        w = &rt->workers[atomic_fetch_add(&rt->next_worker, 1) % rt->nworkers];
    }
    return task_create(rt, w, opts, fn, arg, ret_task, set);
}

int cio_spawn_ex(cio_task **ret_task, const cio_spawn_options *opts, cio_task_fn fn, void *arg)
{
    struct cio__worker *w = tls_worker;
    if (w == NULL || w->current == NULL)
        return -EPERM;
    if (fn == NULL)
        return -EINVAL;
    return cio__rt_spawn(w->rt, opts, fn, arg, ret_task, NULL);
}

int cio_spawn(cio_task **ret_task, cio_task_fn fn, void *arg)
{
    return cio_spawn_ex(ret_task, NULL, fn, arg);
}

int cio_rt_spawn(cio_rt *rt, cio_task **ret_task, const cio_spawn_options *opts, cio_task_fn fn,
                 void *arg)
{
    if (rt == NULL || fn == NULL)
        return -EINVAL;
    return cio__rt_spawn(rt, opts, fn, arg, ret_task, NULL);
}
