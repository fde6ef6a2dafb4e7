/*
 * sched.c: the scheduler — workers with their run queues, remote queues, reactors and timer
 * wheels; the park/wake primitives of sched.h; and the state transitions of cancellation
 * (what a cancelled task's calls see). A worker loop in one sitting:
 *
 *     loop:
 *         handle a shutdown request (cancel every task of this worker)
 *         move the remote queue (tasks woken or spawned by other threads) to the run queue
 *         pick the next task: the injection queue every INJECT_INTERVAL turns; the LIFO slot
 *           (at most LIFO_MAX in a row); the pinned run queue and the local queue in turn;
 *           the injection queue; else steal half of another worker's local queue
 *         no task?  -> block in the reactor until an event, a timer or a wake
 *         event_interval tasks run since the last poll -> poll the reactor without blocking
 *         run the next task until it parks, yields or returns
 *
 * A pinned task never migrates: anything another thread does to it goes through its worker's
 * remote queue. A shared task (sched.h) runs wherever it is taken from a queue; its park
 * timer sits in a locked wheel of the worker it parked on, which it can leave (see
 * park_shared_timed), and only a move it asks for (cio__task_settle) binds it to a worker.
 * A runtime without stealing (the current-thread one) has only pinned tasks and skips every
 * step above that concerns shared ones: it pays no atomic for them.
 */
#include <errno.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "poll/reactor.h"
#include "rt/sched.h"
#include "rt/stack.h"
#include "rt/task.h"
#include "util/assert.h"
#include "util/compiler.h"

#define EVENTS_CAPACITY 256
#define WAKER_TOKEN 0
#define INJECT_INTERVAL 31 /* loop turns between two looks at the injection queue */
#define LIFO_MAX 3         /* LIFO runs in a row before the slot goes to the queue's back */
#define STEAL_MAX (CIO__LOCAL_QUEUE_CAPACITY / 2)
#define INJECT_BATCH 32 /* at most this many moved from the injection queue at once */

struct cio__worker cio__worker_shared = {.runq = CIO__LIST_HEAD_INIT(cio__worker_shared.runq)};

enum switch_reason { SWITCH_PARK, SWITCH_YIELD };

_Thread_local struct cio__worker *cio__tls_worker __attribute__((tls_model("initial-exec")));
#define tls_worker cio__tls_worker
static _Thread_local enum switch_reason tls_reason;

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

void cio__worker_ext_waits(struct cio__worker *w, enum cio__worker_ext_slot slot,
                           void (*waits)(struct cio__worker *w, void *state,
                                         cio__wait_note_fn *note, void *ctx))
{
    cio__assert(tls_worker == w && w->ext[slot].state != NULL);
    w->ext[slot].waits = waits;
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
    uint64_t pushes = w->m.pushes;
    while (t != NULL) {
        w->m.remote_wakes++;
        cio_task *next = t->remote_next;
        if (t->worker == CIO__WORKER_SHARED) {
            /* Bound here and NOTIFIED already (schedule_shared): just queue it. */
            cio__list_push_back(&w->runq, &t->run_node);
            t = next;
            continue;
        }
        /* Cleared first: a wake arriving from here on takes another trip, at worst a
         * spurious one. */
        atomic_fetch_and(&t->state, ~(unsigned)CIO__TASK_REMOTE);
        cio__task_wake(t); /* on its worker now: the local wake */
        cio__task_release(t);
        t = next;
    }
    w->m.remote_pushes += w->m.pushes - pushes;
}

static void wake_shared(cio_task *t);

void cio__task_wake_remote(cio_task *t)
{
    if (t->worker == CIO__WORKER_SHARED) {
        wake_shared(t);
        return;
    }
    /* One trip through the remote queue, however many wakes arrive before the worker drains
     * it; the worker then wakes it locally. */
    unsigned s = atomic_fetch_or(&t->state, CIO__TASK_REMOTE);
    if (s & (CIO__TASK_REMOTE | CIO__TASK_DONE))
        return;
    /* The task may run and finish on its worker before the queue is drained: the queue
     * holds a reference, dropped by the drain. */
    cio__task_retain(t);
    remote_push(t->worker, t);
}

/* ---- shared tasks: the injection queue, the local queue, the search ---- */

static void inject_push(struct cio__sched_shared *sh, cio_task *t)
{
    pthread_mutex_lock(&sh->inject_lock);
    cio__list_push_back(&sh->inject, &t->run_node);
    atomic_fetch_add(&sh->inject_len, 1);
    pthread_mutex_unlock(&sh->inject_lock);
}

/* Take a task off the injection queue to run, and a fair share more onto @w's local queue
 * (empty or not, it has room for INJECT_BATCH: one lock for a batch, not one per task). */
static cio_task *inject_take(struct cio__worker *w)
{
    struct cio__sched_shared *sh = w->shared;
    size_t len = atomic_load_explicit(&sh->inject_len, memory_order_relaxed);
    if (len == 0)
        return NULL;
    size_t room = CIO__LOCAL_QUEUE_CAPACITY - cio__local_queue_len(&w->local);
    size_t n = len / sh->nworkers + 1;
    if (n > INJECT_BATCH)
        n = INJECT_BATCH;
    if (n > room + 1)
        n = room + 1;
    cio_task *first = NULL;
    pthread_mutex_lock(&sh->inject_lock);
    for (size_t i = 0; i < n; i++) {
        struct cio__list *node = cio__list_pop_front(&sh->inject);
        if (node == NULL)
            break;
        atomic_fetch_sub(&sh->inject_len, 1);
        cio_task *t = cio__list_entry(node, cio_task, run_node);
        if (first == NULL)
            first = t;
        else
            (void)cio__local_queue_push(&w->local, t); /* room was counted */
    }
    pthread_mutex_unlock(&sh->inject_lock);
    return first;
}

/*
 * Wake one sleeping worker to look for work, unless a worker is searching already (it will
 * find the work, or look again before it sleeps: see reactor_turn), so that a burst of wakes
 * wakes one worker, not all. The fence orders the caller's push before the loads: either we
 * see a worker that went to sleep, or it sees the push in its last look (Dekker).
 */
static void notify_one(struct cio__sched_shared *sh)
{
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&sh->searching, memory_order_relaxed) != 0 ||
        atomic_load_explicit(&sh->sleeping, memory_order_relaxed) == 0)
        return;
    unsigned none = 0;
    if (!atomic_compare_exchange_strong(&sh->searching, &none, 1))
        return;
    unsigned start = atomic_load_explicit(&sh->next_victim, memory_order_relaxed);
    for (unsigned i = 0; i < sh->nworkers; i++) {
        struct cio__worker *v = &sh->workers[(start + i) % sh->nworkers];
        if (atomic_load(&v->sleeping) && !atomic_exchange(&v->search_token, true)) {
            cio_waker_wake(v->waker); /* it holds the searching count we took */
            return;
        }
    }
    atomic_fetch_sub(&sh->searching, 1);
}

/* Queue a shared task on @w's local queue (the injection queue when full); wake a sleeping
 * worker when @w has more than it can run next. */
static void local_push(struct cio__worker *w, cio_task *t)
{
    if (!cio__local_queue_push(&w->local, t)) {
        inject_push(w->shared, t);
        notify_one(w->shared);
        return;
    }
    if (w->dispatching) {
        w->notify_due = true; /* one notify for the reactor's batch, not one per event */
        return;
    }
    if (!w->searching && cio__local_queue_len(&w->local) + (w->lifo != NULL) > 1)
        notify_one(w->shared);
}

/*
 * A shared task was NOTIFIED by the caller (not running, not queued): queue it. Bound to its
 * worker: on that worker's run queue (through its remote queue from another thread). Else on
 * the calling worker if it is one of the runtime's — a wake from a running task into the LIFO
 * slot (what was there goes to the local queue), a spawn into the local queue — or on the
 * injection queue from outside.
 */
static void schedule_shared(cio_task *t, bool wake)
{
    struct cio__worker *w = tls_worker;
    struct cio__worker *r = t->runner;
    if (t->bound != 0) {
        if (r == w)
            cio__list_push_back(&w->runq, &t->run_node);
        else
            remote_push(r, t);
        return;
    }
    if (w == NULL || w->shared != r->shared) {
        inject_push(r->shared, t);
        notify_one(r->shared);
        return;
    }
    if (wake && w->current != NULL) {
        cio_task *prev = w->lifo;
        w->lifo = t;
        if (prev == NULL)
            return;
        t = prev;
    }
    local_push(w, t);
}

static void wake_shared(cio_task *t)
{
    unsigned s = atomic_fetch_or(&t->state, CIO__TASK_NOTIFIED);
    if (s & (CIO__TASK_NOTIFIED | CIO__TASK_RUNNING | CIO__TASK_DONE))
        return; /* queued, or its worker requeues it when it parks, or finished */
    schedule_shared(t, true);
}

void cio__task_wake_bound_idle(cio_task *t)
{
    struct cio__worker *w = tls_worker;
    cio__assert(t->bound != 0 && t->runner == w && w->current == NULL);
    unsigned s = atomic_fetch_or(&t->state, CIO__TASK_NOTIFIED);
    if (!(s & (CIO__TASK_NOTIFIED | CIO__TASK_RUNNING | CIO__TASK_DONE)))
        cio__list_push_back(&w->runq, &t->run_node); /* schedule_shared()'s bound case */
}

/* Leave the search; if this was the last searcher and it found work, more may be there:
 * pass the search on (tokio). */
static void search_end(struct cio__worker *w, bool found)
{
    w->searching = false;
    struct cio__sched_shared *sh = w->shared;
    if (atomic_fetch_sub(&sh->searching, 1) == 1 && found &&
        (cio__local_queue_len(&w->local) > 0 ||
         atomic_load_explicit(&sh->inject_len, memory_order_relaxed) > 0))
        notify_one(sh);
}

/* Whether another worker may start searching (see search()). */
static inline bool search_allowed(struct cio__sched_shared *sh)
{
    return 2 * atomic_load_explicit(&sh->searching, memory_order_relaxed) < sh->nworkers;
}

/* Nothing to run here: steal half of another worker's local queue (from a victim chosen in
 * turn), or take from the injection queue. */
static cio_task *search(struct cio__worker *w)
{
    struct cio__sched_shared *sh = w->shared;
    if (!w->searching) {
        /* At most half the workers search at once (tokio's cap): past that, more searchers
         * only contend on the victims' queue heads for the same few tasks. The searchers
         * there are look again before they sleep (reactor_turn), so no work is left. */
        if (!search_allowed(sh))
            return inject_take(w);
        w->searching = true;
        atomic_fetch_add(&sh->searching, 1);
    }
    cio_task *found = NULL;
    unsigned start = w->index + 1 + atomic_load_explicit(&sh->next_victim, memory_order_relaxed);
    for (unsigned i = 0; i < sh->nworkers && found == NULL; i++) {
        struct cio__worker *v = &sh->workers[(start + i) % sh->nworkers];
        if (v == w)
            continue;
        cio_task *batch[STEAL_MAX];
        unsigned n = cio__local_queue_steal(&v->local, batch, STEAL_MAX);
        if (n == 0)
            continue;
        found = batch[0];
        for (unsigned k = 1; k < n; k++)
            (void)cio__local_queue_push(&w->local, batch[k]); /* ours was empty */
        atomic_store_explicit(&w->steals,
                              atomic_load_explicit(&w->steals, memory_order_relaxed) + n,
                              memory_order_relaxed);
        atomic_store_explicit(&sh->next_victim, start + i, memory_order_relaxed);
    }
    if (found == NULL)
        found = inject_take(w);
    search_end(w, found != NULL);
    return found;
}

/* Whether another worker has work to steal or the injection queue has some: the last look
 * before a worker sleeps (see notify_one). */
static bool work_visible(struct cio__worker *w)
{
    struct cio__sched_shared *sh = w->shared;
    if (atomic_load(&sh->inject_len) != 0)
        return true;
    for (unsigned i = 0; i < sh->nworkers; i++)
        if (&sh->workers[i] != w && cio__local_queue_len(&sh->workers[i].local) > 0)
            return true;
    return false;
}

static void reactor_turn(struct cio__worker *w, bool block);

/* The next task for a worker of a runtime with shared tasks (see the loop at the top). */
static cio_task *next_task_shared(struct cio__worker *w)
{
    cio_task *t;
    if (++w->loop_ticks % INJECT_INTERVAL == 0 && (t = inject_take(w)) != NULL)
        return t;
    if (w->lifo != NULL) {
        t = w->lifo;
        w->lifo = NULL;
        if (w->lifo_streak < LIFO_MAX) {
            w->lifo_streak++;
            return t;
        }
        local_push(w, t); /* the queue had its turn coming */
    }
    w->lifo_streak = 0;
    w->prefer_shared = !w->prefer_shared;
    struct cio__list *node;
    if (w->prefer_shared && (t = cio__local_queue_pop(&w->local)) != NULL)
        return t;
    if ((node = cio__list_pop_front(&w->runq)) != NULL)
        return cio__list_entry(node, cio_task, run_node);
    if ((t = cio__local_queue_pop(&w->local)) != NULL)
        return t;
    if ((t = inject_take(w)) != NULL)
        return t;
    if (w->ticks != 0 && work_visible(w)) {
        /* Its own reactor before other workers' queues: the tasks it wakes are this worker's
         * (their sockets are registered here), and running them here keeps them home. (Only
         * when there is something to steal: else the blocking turn comes next anyway.) */
        reactor_turn(w, false);
        if ((node = cio__list_pop_front(&w->runq)) != NULL)
            return cio__list_entry(node, cio_task, run_node);
        if ((t = cio__local_queue_pop(&w->local)) != NULL)
            return t;
    }
    return search(w);
}

void cio__sched_shared_init(struct cio__sched_shared *sh, struct cio__worker *workers,
                            unsigned nworkers, bool steal)
{
    sh->workers = workers;
    sh->nworkers = nworkers;
    sh->steal = steal;
    pthread_mutex_init(&sh->inject_lock, NULL);
    cio__list_init(&sh->inject);
    atomic_init(&sh->inject_len, 0);
    atomic_init(&sh->searching, 0);
    atomic_init(&sh->sleeping, 0);
    atomic_init(&sh->next_victim, 0);
    pthread_mutex_init(&sh->tasks_lock, NULL);
    cio__list_init(&sh->tasks);
}

void cio__sched_shared_fini(struct cio__sched_shared *sh)
{
    pthread_mutex_destroy(&sh->inject_lock);
    pthread_mutex_destroy(&sh->tasks_lock);
}

/* ---- tasks ---- */

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

/*
 * A shared task's park timer (see struct cio__worker's timers): in the timer wheel of the
 * worker it parked on, under that wheel's lock, so that the task — woken, it may resume on
 * any worker — takes it out from wherever it runs. It fires on its worker, under the lock:
 * the park is then still in progress (the task clears park_deadline under the same lock,
 * after taking the timer out), so it never fires for a park that ended.
 */
static void park_timer_fired_shared(struct cio__timer_wheel *wheel, struct cio__timer *timer)
{
    (void)wheel;
    cio_task *t = cio__container_of(timer, cio_task, timer);
    cio__assert(t->park_deadline != CIO_DEADLINE_NONE);
    t->timed_out = true;
    cio__task_wake(t);
}

/* The count of @w's shared timers, for a look without the lock. Lock held. */
static void timers_publish(struct cio__worker *w)
{
    atomic_store_explicit(&w->timers_armed, cio__timer_wheel_count(&w->timers),
                          memory_order_relaxed);
}

/* cio__task_park() of a shared task @t with a @deadline, on worker @w. */
static cio__noinline void park_shared_timed(cio_task *t, struct cio__worker *w, cio_time deadline)
{
    t->park_deadline = deadline;
    t->timer_on = w;
    pthread_mutex_lock(&w->timers_lock);
    if (cio__timer_wheel_count(&w->timers) == 0)
        (void)cio__timer_wheel_advance(&w->timers, cio_now()); /* idle: its clock to now */
    cio__timer_insert(&w->timers, &t->timer, deadline);
    timers_publish(w);
    pthread_mutex_unlock(&w->timers_lock);
    cio__task_suspend(t);
    /* Anywhere now: the timer is taken out under its worker's lock, which also orders what
     * its callback wrote (timed_out) before our read. */
    struct cio__worker *on = t->timer_on;
    pthread_mutex_lock(&on->timers_lock);
    if (cio__timer_pending(&t->timer)) {
        cio__timer_cancel(&on->timers, &t->timer);
        timers_publish(on);
    }
    t->park_deadline = CIO_DEADLINE_NONE;
    pthread_mutex_unlock(&on->timers_lock);
}

/* @timeout (of a poll at @now) shortened to @w's next shared timer. Skipped without the lock
 * while none is armed (then only a task of this worker's thread could arm one). */
static int64_t timers_timeout(struct cio__worker *w, int64_t timeout, cio_time now)
{
    if (atomic_load_explicit(&w->timers_armed, memory_order_relaxed) == 0)
        return timeout;
    pthread_mutex_lock(&w->timers_lock);
    int64_t mine = cio__timer_wheel_timeout(&w->timers, now);
    pthread_mutex_unlock(&w->timers_lock);
    return mine >= 0 && (timeout < 0 || mine < timeout) ? mine : timeout;
}

/* Fire @w's shared timers due by @now (their callbacks run under the lock). */
static void timers_advance(struct cio__worker *w, cio_time now)
{
    if (atomic_load_explicit(&w->timers_armed, memory_order_relaxed) == 0)
        return;
    pthread_mutex_lock(&w->timers_lock);
    (void)cio__timer_wheel_advance(&w->timers, now);
    timers_publish(w);
    pthread_mutex_unlock(&w->timers_lock);
}

void cio__worker_adopt(struct cio__worker *w, cio_task *t, bool shared)
{
    t->coro.return_to = &w->sched;
    t->runner = w;
    t->origin = w;
    t->deadline = CIO_DEADLINE_NONE;
    t->park_deadline = CIO_DEADLINE_NONE;
    cio__timer_init(&t->timer, shared ? park_timer_fired_shared : park_timer_fired);
    cio__list_init(&t->run_node);
    cio__list_init(&t->all_node);
    t->wait_kind = CIO__WAIT_NONE;
    t->parked_at = 0;
    t->io_wait.task = t;
    cio__list_init(&t->io_wait.node);
    t->settled = false;
    t->settled_on = NULL;
    atomic_fetch_add(&w->m.spawned, 1);
    if (shared) {
        t->worker = CIO__WORKER_SHARED;
        atomic_init(&t->state, CIO__TASK_NOTIFIED);
        schedule_shared(t, false);
        return;
    }
    t->worker = w;
    atomic_init(&t->state, 0);
    cio__task_wake(t);
}

/* The task's body has returned and its stack is no longer in use: it leaves the scheduler,
 * which drops the runtime's reference (DONE was published by the task itself). */
static void task_finished(struct cio__worker *w, cio_task *t)
{
    if (cio__timer_pending(&t->timer))
        cio__timer_cancel(&w->wheel, &t->timer); /* pinned: its worker's; shared: none armed */
    if (t->worker == CIO__WORKER_SHARED) {
        if (t->settled_on != NULL)
            atomic_fetch_sub_explicit(&t->settled_on->settled, 1, memory_order_relaxed);
        pthread_mutex_lock(&w->shared->tasks_lock);
        cio__list_remove(&t->all_node);
        pthread_mutex_unlock(&w->shared->tasks_lock);
    } else {
        cio__list_remove(&t->all_node);
    }
    /* release: a reader that sees the count sees the spawn it balances (cio__worker_live).
     * Counted on the worker that counted the spawn, so each worker's finished stays within
     * its spawned: with stealing a task may end on another worker, which then adds to that
     * count from its thread (a read-modify-write, once per task); else a plain store. */
    if (w->steal)
        atomic_fetch_add_explicit(&t->origin->m.finished, 1, memory_order_release);
    else
        atomic_store_explicit(&w->m.finished,
                              atomic_load_explicit(&w->m.finished, memory_order_relaxed) + 1,
                              memory_order_release);
    cio__task_release(t);
}

/* Cancellation requested: REQUESTED, and CANCELLED unless a shield holds it off. Returns the
 * state before. */
static unsigned cancel_mark(cio_task *t)
{
    unsigned s = atomic_load(&t->state);
    unsigned n;
    do {
        n = s | CIO__TASK_REQUESTED | ((s & CIO__TASK_SHIELDED) ? 0u : CIO__TASK_CANCELLED);
    } while (!atomic_compare_exchange_weak(&t->state, &s, n));
    return s;
}

/* A task's first run: it joins its worker's list of live tasks (for shutdown); and if the
 * runtime is shutting down, it starts cancelled (cancel_all() may have missed it). Out of
 * line: it is once per task, and inlined into the hand-off of a park (cio__task_suspend) its
 * compare-and-swap loop cost that hot path an instruction. */
static cio__noinline void first_run(struct cio__worker *w, cio_task *t)
{
    t->started = true;
    cio__list_push_back(&w->tasks, &t->all_node);
    if (atomic_load_explicit(&w->shutdown, memory_order_relaxed))
        (void)cancel_mark(t);
}

/* first_run() of a shared task: the runtime's list, under its lock. Apart, so that the
 * compiler knows first_run() (on the hand-off of a park) calls nothing. */
static cio__noinline void first_run_shared(struct cio__worker *w, cio_task *t)
{
    t->started = true;
    pthread_mutex_lock(&w->shared->tasks_lock);
    cio__list_push_back(&w->shared->tasks, &t->all_node);
    pthread_mutex_unlock(&w->shared->tasks_lock);
    if (atomic_load_explicit(&w->shutdown, memory_order_relaxed))
        (void)cancel_mark(t);
}

/* The scheduling state of a run of @t, whether the worker starts it or a parking task hands
 * it the thread (cio__task_suspend). */
/* A shared task taken from a queue: NOTIFIED -> RUNNING in one atomic add, which also proves
 * that no other worker runs it; it now runs here. */
static cio__noinline void claim_shared(struct cio__worker *w, cio_task *t)
{
    unsigned s = atomic_fetch_add_explicit(&t->state, CIO__TASK_RUNNING - CIO__TASK_NOTIFIED,
                                           memory_order_acq_rel);
    cio__assert((s & (CIO__TASK_NOTIFIED | CIO__TASK_RUNNING)) == CIO__TASK_NOTIFIED);
    (void)s;
    cio__assert(t->bound == 0 || t->runner == w);
    t->runner = w;
    t->coro.return_to = &w->sched;
    if (!t->started)
        first_run_shared(w, t);
}

/* The rest of run_begin(), for either kind of task. */
static inline void run_begin_common(struct cio__worker *w, cio_task *t)
{
    if (!t->started)
        first_run(w, t);
    w->run_budget = (atomic_load_explicit(&t->state, memory_order_relaxed) & CIO__TASK_CANCELLED)
                        ? 0
                        : w->budget;
    w->current = t;
}

/* A pinned task @t of @w starts a run. */
static inline void run_begin_pinned(struct cio__worker *w, cio_task *t)
{
    t->queued = false;
    t->notified = false;
    t->running = true;
    run_begin_common(w, t);
}

static inline void run_begin(struct cio__worker *w, cio_task *t)
{
    if (cio__unlikely(t->worker != w)) {
        claim_shared(w, t);
        run_begin_common(w, t);
    } else {
        run_begin_pinned(w, t);
    }
}

/* A shared task left the worker (off its stack now, so another worker may take it as soon
 * as it is seen idle): RUNNING off; requeue it if it yielded or was woken meanwhile. */
static cio__noinline void park_shared(struct cio__worker *w, cio_task *t)
{
    if (cio__coro_state(&t->coro) == CIO__CORO_FINISHED) {
        task_finished(w, t);
        return;
    }
    if (tls_reason == SWITCH_YIELD) {
        w->m.yields++;
        unsigned s = atomic_load_explicit(&t->state, memory_order_relaxed);
        while (!atomic_compare_exchange_weak_explicit(
            &t->state, &s, (s | CIO__TASK_NOTIFIED) & ~(unsigned)CIO__TASK_RUNNING,
            memory_order_acq_rel, memory_order_relaxed))
            ;
    } else {
        /* since when it waits, by this worker's clock (its own says nothing: it is no worker's) */
        cio__task_set_parked_at(t, w->m.clock);
        /* RUNNING off: a subtraction, since it is set (one xadd, no compare-and-swap loop) */
        unsigned s = atomic_fetch_sub_explicit(&t->state, CIO__TASK_RUNNING, memory_order_acq_rel);
        if (!(s & CIO__TASK_NOTIFIED))
            return; /* idle: whoever wakes it queues it */
    }
    if (t->bound == 0)
        local_push(w, t);
    else if (t->runner == w)
        cio__list_push_back(&w->runq, &t->run_node);
    else
        remote_push(t->runner, t); /* settling elsewhere (cio__task_settle) */
}

static void run_task(struct cio__worker *w, cio_task *t)
{
    run_begin(w, t);
    tls_reason = SWITCH_PARK;
    cio__coro_switch(&w->sched, &t->coro);
    /* Back from the task that left for the worker: @t, or one it handed the thread to. */
    t = w->current;
    w->current = NULL;
    w->run_budget = 0; /* no task runs: the io fast paths send the worker's own calls out */
    if (t->worker != w) {
        park_shared(w, t);
        return;
    }
    t->running = false;

    if (cio__coro_state(&t->coro) == CIO__CORO_FINISHED) {
        task_finished(w, t);
        return;
    }
    if (tls_reason == SWITCH_YIELD || t->notified) {
        w->m.yields += tls_reason == SWITCH_YIELD;
        w->m.pushes++;
        t->notified = false;
        t->queued = true;
        cio__list_push_back(&w->runq, &t->run_node);
    }
}

static void switch_to_worker(cio_task *t, enum switch_reason reason)
{
    tls_reason = reason;
    cio__coro_switch(&t->coro, &tls_worker->sched);
}

/* The hand-off of cio__task_suspend() on a runtime with shared tasks: only when no shared
 * task waits on @w's LIFO slot or local queue (it would be overtaken), and only to a pinned
 * task (a bound shared one is claimed by the worker loop). Out of line, so that the hand-off
 * of a runtime without stealing carries none of it. */
static cio__noinline void suspend_steal(cio_task *t, struct cio__worker *w, struct cio__list *node)
{
    cio_task *next = cio__list_entry(node, cio_task, run_node);
    if (w->lifo != NULL || cio__local_queue_len(&w->local) != 0 || next->worker != w) {
        switch_to_worker(t, SWITCH_PARK);
        return;
    }
    cio__list_unlink(node);
    w->ticks++;
    t->running = false;
    run_begin_pinned(w, next);
    cio__coro_switch(&t->coro, &next->coro);
}

/*
 * The switch of a park. When the worker loop would only take the next task off the run queue
 * and run it — a task is queued, nothing came from other threads (remote wakes, deferred
 * work, a shutdown asking to cancel: remote_count), the fairness poll of the reactor not due, and
 * the parking task was not woken meanwhile (it would be requeued) — the parking task does that
 * itself and switches straight to the next one: one context switch instead of two, and the
 * same order, fairness and reactor cadence as the loop (cio__worker_run). Otherwise it goes to
 * the worker. The worker learns which task comes back to it from w->current (run_task).
 */
void cio__task_suspend(cio_task *t)
{
    /* A shared task's worker is CIO__WORKER_SHARED, whose run queue is empty: it goes to the
     * worker, which takes RUNNING off once off its stack (park_shared). */
    struct cio__worker *w = t->worker;
    struct cio__list *node = w->runq.next;
    cio__task_set_parked_at(t, w->m.clock);
    if (node != &w->runq && !t->notified && w->ticks < w->hop_ticks &&
        atomic_load_explicit(&w->remote_count, memory_order_relaxed) == 0) {
        if (cio__unlikely(w->steal)) {
            suspend_steal(t, w, node);
            return;
        }
        cio__list_unlink(node); /* t->queued, not the node, says whether it is queued */
        w->ticks++;
        cio_task *next = cio__list_entry(node, cio_task, run_node);
        t->running = false;
        run_begin_pinned(w, next); /* no stealing: every task is pinned */
        cio__coro_switch(&t->coro, &next->coro);
        return;
    }
    switch_to_worker(t, SWITCH_PARK);
}

/*
 * cio__task_suspend() of a shared task bound to this worker (sched.h): any wake queues it on
 * this worker, so no other worker can take it while this thread is still on its stack, and
 * it may clear RUNNING itself and hand the thread to the next task as a pinned task does
 * (same conditions as cio__task_suspend(), and no shared task waiting on the LIFO slot or
 * the local queue: it would be overtaken). One context switch instead of two.
 */
void cio__task_suspend_bound(cio_task *t)
{
    struct cio__worker *w = tls_worker;
    cio__assert(t->bound != 0 && t->runner == w && w->current == t);
    struct cio__list *node = w->runq.next;
    if (node == &w->runq || w->ticks >= w->hop_ticks ||
        atomic_load_explicit(&w->remote_count, memory_order_relaxed) != 0 || w->lifo != NULL ||
        cio__local_queue_len(&w->local) != 0) {
        switch_to_worker(t, SWITCH_PARK);
        return;
    }
    cio__task_set_parked_at(t, w->m.clock);
    cio__list_unlink(node);
    unsigned s = atomic_fetch_sub_explicit(&t->state, CIO__TASK_RUNNING, memory_order_acq_rel);
    if (s & CIO__TASK_NOTIFIED)
        cio__list_push_back(&w->runq, &t->run_node); /* woken meanwhile: behind the next */
    w->ticks++;
    cio_task *next = cio__list_entry(node, cio_task, run_node);
    if (next->worker == w) {
        run_begin_pinned(w, next);
    } else {
        w->m.pushes++; /* a shared task: counted where it is taken (metrics.h) */
        claim_shared(w, next);
        run_begin_common(w, next);
    }
    cio__coro_switch(&t->coro, &next->coro);
}

int cio__task_park(cio_time deadline)
{
    cio_task *t = cio__task_self();
    if (t == NULL)
        return -EPERM;
    if (atomic_load_explicit(&t->state, memory_order_relaxed) & CIO__TASK_CANCELLED) {
        /* A cancelled wait does not wait, but it does not spin either: a loop that keeps
         * waiting (draining a join set, say) lets the tasks it waits for run. */
        switch_to_worker(t, SWITCH_YIELD);
        return -ECANCELED;
    }
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
    struct cio__worker *w = tls_worker;
    if (deadline != CIO_DEADLINE_NONE) {
        if (cio_now() >= deadline)
            return -ETIMEDOUT;
        t->timed_out = false;
        if (t->worker != w) {
            park_shared_timed(t, w, deadline);
            goto parked;
        }
        if (!cio__timer_pending(&t->timer) || t->timer.deadline > deadline) {
            /* An armed timer due no later than the deadline serves (see park_timer_fired). */
            if (cio__timer_pending(&t->timer))
                cio__timer_cancel(&w->wheel, &t->timer);
            cio__timer_insert(&w->wheel, &t->timer, deadline);
        }
    }
    t->park_deadline = deadline;
    cio__task_suspend(t);
    t->park_deadline = CIO_DEADLINE_NONE;
parked:
    if (atomic_load(&t->state) & CIO__TASK_CANCELLED)
        return -ECANCELED;
    if (t->timed_out) {
        t->timed_out = false;
        return -ETIMEDOUT;
    }
    return 0;
}

void cio__task_budget_exhausted(cio_task *t)
{
    struct cio__worker *w = tls_worker;       /* (a shared task's t->worker is no worker) */
    w->m.budget_yields += w->run_budget != 0; /* 0: a cancelled task's yield */
    switch_to_worker(t, SWITCH_YIELD);        /* run_begin() refills the budget */
}

/* The worker of @w's runtime with the fewest settled tasks (@w on a tie: no move). */
static struct cio__worker *settle_target(struct cio__worker *w)
{
    struct cio__sched_shared *sh = w->shared;
    struct cio__worker *best = w;
    unsigned least = atomic_load_explicit(&w->settled, memory_order_relaxed);
    for (unsigned i = 0; i < sh->nworkers; i++) {
        struct cio__worker *v = &sh->workers[i];
        unsigned n = atomic_load_explicit(&v->settled, memory_order_relaxed);
        if (n < least) {
            least = n;
            best = v;
        }
    }
    return best;
}

void cio__task_settle(void)
{
    struct cio__worker *w = tls_worker;
    cio_task *t = w != NULL ? w->current : NULL;
    if (t == NULL || t->worker != CIO__WORKER_SHARED || t->settled)
        return;
    t->settled = true;
    struct cio__worker *home = settle_target(w);
    t->settled_on = home;
    atomic_fetch_add_explicit(&home->settled, 1, memory_order_relaxed);
    if (home == w)
        return;
    /* Move there: bound to it for one yield, so the worker that parks us queues us on its
     * remote queue (park_shared), and no other worker takes us on the way. */
    t->runner = home;
    t->bound++;
    switch_to_worker(t, SWITCH_YIELD);
    t->bound--;
    cio__assert(tls_worker == home);
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

/* ---- cancellation ---- */

void cio__task_cancel(cio_task *t)
{
    unsigned s = cancel_mark(t);
    if (s & (CIO__TASK_DONE | CIO__TASK_SHIELDED | CIO__TASK_CANCELLED))
        return; /* finished, held off, or already told */
    if (t == cio__task_self())
        tls_worker->run_budget = 0; /* its fast paths take the slow path: it sees the cancel */
    cio__task_wake(t);
}

int cio__task_cancel_point(void)
{
    cio_task *t = cio__task_self();
    if (t == NULL || !(atomic_load(&t->state) & CIO__TASK_CANCELLED))
        return 0;
    switch_to_worker(t, SWITCH_YIELD);
    return -ECANCELED;
}

bool cio__task_shield_begin(cio_task *t)
{
    unsigned s = atomic_load(&t->state);
    while (!atomic_compare_exchange_weak(&t->state, &s,
                                         (s | CIO__TASK_SHIELDED) & ~(unsigned)CIO__TASK_CANCELLED))
        ;
    if (t == cio__task_self() && tls_worker->run_budget == 0)
        tls_worker->run_budget = tls_worker->budget; /* it ran cancelled: operations work again */
    return (s & CIO__TASK_SHIELDED) != 0;
}

void cio__task_shield_end(cio_task *t, bool outer_shielded)
{
    if (outer_shielded)
        return;
    unsigned s = atomic_load(&t->state);
    unsigned n;
    do {
        n = s & ~(unsigned)CIO__TASK_SHIELDED;
        if (s & CIO__TASK_REQUESTED)
            n |= CIO__TASK_CANCELLED;
    } while (!atomic_compare_exchange_weak(&t->state, &s, n));
    if ((n & CIO__TASK_CANCELLED) && t == cio__task_self())
        tls_worker->run_budget = 0;
}

/* ---- idle tasks: saving the stacks of long-parked ones ---- */

/*
 * A task parked idle_save or longer whose wait keeps nothing on its stack that others write
 * has its stack saved (coro.h: the live part copied to a heap block, the pages given back;
 * copied back by the switch that next resumes it). Saveable waits: a sleep (its timer is in
 * the record) and a readiness wait on a socket through the task's own waiter (t->io_wait:
 * owner waits, where want != 0 and woken == 0 say one is in progress, and foreign ones,
 * tagged CIO__WAIT_SOCKET); the waits with a waiter on the stack (channels, joins, mutexes,
 * select) are not, nor a completion's wait (io_uring), whose flag and buffer may be there.
 *
 * Finding them costs the busy path nothing per task run, one comparison per reactor turn: no
 * list is kept in park order. A sweep walks the worker's live tasks at most once per
 * idle_save period, and only when tasks ran since the last one (a task that did not run did
 * not park again) or some wait to become due; it saves those parked long enough and
 * schedules the next sweep for the earliest of the others. An idle worker wakes for it
 * (reactor_turn's timeout).
 */
static bool saveable_wait(const cio_task *t)
{
    uint8_t kind = t->wait_kind;
    if (kind == CIO__WAIT_SLEEP)
        return true;
    /* A foreign socket wait: a readiness wait through t->io_wait (want != 0, the task's own
     * store). A completion's wait (io_uring: want 0) is not: its flag, and maybe the buffer
     * the kernel is sending, are on the stack. */
    if (kind == CIO__WAIT_SOCKET)
        return t->io_wait.want != 0;
    /* an owner readiness wait: only the owner's thread — this one — writes the waiter */
    return kind == CIO__WAIT_NONE && t->io_wait.want != 0 && t->io_wait.woken == 0;
}

/* A pinned task of @w, on @w's thread outside any task: parked (not running, not queued, no
 * remote wake on its way, not finished) and started. */
static bool parked_pinned(const cio_task *t)
{
    return t->started && !t->running && !t->queued &&
           !(atomic_load_explicit(&t->state, memory_order_relaxed) &
             (CIO__TASK_REMOTE | CIO__TASK_DONE)) &&
           cio__coro_state(&t->coro) == CIO__CORO_SUSPENDED;
}

/* Whether @t, parked since parked_at in a saveable wait, is due (saved by the caller) or when
 * it will be (folded into *@next). */
static bool save_due(struct cio__worker *w, cio_time parked_at, cio_time now, cio_time *next)
{
    cio_time due = parked_at + w->idle_save;
    if (due <= now)
        return true;
    if (due < *next)
        *next = due;
    return false;
}

static void count_save(struct cio__worker *w)
{
    atomic_store_explicit(&w->saves, atomic_load_explicit(&w->saves, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/*
 * The shared tasks @w counted the spawn of (each worker sweeps its own part of the runtime's
 * list). Another worker may claim such a task at any moment, so the sweep claims it first, as
 * a worker taking it to run does (RUNNING, when neither NOTIFIED nor RUNNING nor DONE), saves
 * it, and lets go as a park does (park_shared): a wake that came meanwhile found it RUNNING,
 * so it is queued here. Until the claim, only what other threads may read is read (the
 * state word, the wait kind, parked_at: atomics), and a shared task's saveable waits are the
 * tagged ones (its socket waits are all foreign).
 */
static void idle_sweep_shared(struct cio__worker *w, cio_time now, cio_time *next)
{
    struct cio__sched_shared *sh = w->shared;
    pthread_mutex_lock(&sh->tasks_lock);
    struct cio__list *it;
    cio__list_foreach(it, &sh->tasks)
    {
        cio_task *t = cio__list_entry(it, cio_task, all_node);
        if (t->origin != w)
            continue;
        uint8_t kind = __atomic_load_n(&t->wait_kind, __ATOMIC_RELAXED);
        bool candidate = kind == CIO__WAIT_SLEEP || kind == CIO__WAIT_SOCKET;
        if (candidate && !save_due(w, __atomic_load_n(&t->parked_at, __ATOMIC_RELAXED), now, next))
            continue; /* not yet; a block left from an earlier save waits for that one */
        /* (only this worker writes t->coro.save of the tasks it counted: read unclaimed) */
        if (!candidate && t->coro.save == NULL)
            continue;
        unsigned s = atomic_load_explicit(&t->state, memory_order_relaxed);
        if ((s & (CIO__TASK_NOTIFIED | CIO__TASK_RUNNING | CIO__TASK_DONE)) ||
            !atomic_compare_exchange_strong_explicit(&t->state, &s, s | CIO__TASK_RUNNING,
                                                     memory_order_acquire, memory_order_relaxed))
            continue;
        if (!cio__coro_saved(&t->coro)) {
            cio__coro_save_trim(&t->coro);
            /* the wait may have ended before the claim: look again, now that it is ours */
            if (candidate && saveable_wait(t) && cio__coro_save(&t->coro, &w->tmpls) == 0)
                count_save(w);
        }
        s = atomic_fetch_and_explicit(&t->state, ~(unsigned)CIO__TASK_RUNNING,
                                      memory_order_acq_rel);
        if (s & CIO__TASK_NOTIFIED)
            schedule_shared(t, false);
    }
    pthread_mutex_unlock(&sh->tasks_lock);
}

/* Sweep @w's tasks (see above); returns when the next one becomes due (CIO_DEADLINE_NONE:
 * none waits to be). */
static cio_time idle_sweep(struct cio__worker *w, cio_time now)
{
    cio_time next = CIO_DEADLINE_NONE;
    struct cio__list *it;
    cio__list_foreach(it, &w->tasks)
    {
        cio_task *t = cio__list_entry(it, cio_task, all_node);
        if (t->worker != w || !parked_pinned(t) || cio__coro_saved(&t->coro))
            continue;
        cio__coro_save_trim(&t->coro); /* a block left from a save it ran again since */
        if (saveable_wait(t) && save_due(w, t->parked_at, now, &next) &&
            cio__coro_save(&t->coro, &w->tmpls) == 0)
            count_save(w);
    }
    if (w->steal)
        idle_sweep_shared(w, now, &next);
    return next;
}

/*
 * Task records and save blocks are malloc's, which keeps what was freed in the middle of its
 * heap: after a crowd of tasks ended (the worker's live tasks fell to half of their peak, by
 * TRIM_MIN or more), ask glibc to give those pages back, so that memory returns to the
 * baseline when the connections close. Once per such fall, never on the busy path: from the
 * idle sweep, or, without idle_save, when the worker is about to sleep.
 */
#define TRIM_MIN 4096
#define TRIM_EVERY CIO_NSEC_PER_SEC /* without idle_save: how often a busy worker looks */
static void trim_check(struct cio__worker *w)
{
#if defined(__GLIBC__)
    size_t live = cio__worker_live(w);
    if (live > w->trim_peak) {
        w->trim_peak = live;
    } else if (w->trim_peak - live >= TRIM_MIN && live < w->trim_peak / 2) {
        (void)malloc_trim(0);
        w->trim_peak = live;
    }
#else
    (void)w;
#endif
}

/*
 * The reactor turn at @now found w->sweep_at passed (a busy worker looks once per turn: one
 * comparison; an idle one before it sleeps). Sweep if tasks ran since the last sweep (new
 * parks) or some were waiting to become due, and set the next: the earliest due, else one
 * idle_save on — which an idle worker wakes for only when there is something to sweep
 * (w->sweep_wake, or tasks ran since: reactor_turn).
 */
static cio__noinline void idle_check(struct cio__worker *w, cio_time now)
{
    uint64_t runs = w->m.polls + w->ticks;
    cio_time next = CIO_DEADLINE_NONE;
    if (w->idle_save == 0) { /* nothing to save: only the trim, once a second while busy */
        if (runs != w->sweep_runs)
            trim_check(w);
        w->sweep_runs = runs;
        w->sweep_at = now + TRIM_EVERY;
        return;
    }
    if (runs != w->sweep_runs || w->sweep_wake) {
        w->sweep_runs = runs;
        trim_check(w);
        next = idle_sweep(w, now);
    }
    w->sweep_wake = next != CIO_DEADLINE_NONE;
    w->sweep_at = w->sweep_wake ? next : now + w->idle_save;
}

/* ---- the worker loop ---- */

/* Poll the reactor; block (until the next timer) only when @block and nothing is queued. */
static void reactor_turn(struct cio__worker *w, bool block)
{
    int64_t timeout = 0;
    cio_time wait_start = 0;
    if (block) {
        wait_start = cio_now();
        cio__metrics_wait_begin(w, wait_start); /* publish before sleeping */
        timeout = cio__timer_wheel_timeout(&w->wheel, wait_start);
        if (w->steal)
            timeout = timers_timeout(w, timeout, wait_start);
        if (wait_start >= w->sweep_at)
            idle_check(w, wait_start);
        else if (w->idle_save == 0)
            trim_check(w); /* (records are malloc's with or without saving: idle_check) */
        /* wake for the next sweep only when it has something to look at (without idle_save
         * the trim above was the sleeping worker's look) */
        if (w->idle_save != 0 && w->sweep_at != CIO_DEADLINE_NONE &&
            (w->sweep_wake || w->m.polls + w->ticks != w->sweep_runs) &&
            (timeout < 0 || w->sweep_at - wait_start < timeout))
            timeout = w->sweep_at - wait_start; /* in the future: idle_check ran */
        atomic_store(&w->sleeping, true);
        if (w->steal) {
            atomic_fetch_add(&w->shared->sleeping, 1);
            if (work_visible(w) && search_allowed(w->shared))
                timeout = 0; /* pushed before the push saw us asleep: go and take it */
        }
        if (atomic_load(&w->remote_count) != 0 || atomic_load(&w->cancel_all) ||
            atomic_load(&w->stop))
            timeout = 0;
    }
    /* Each event goes to its source as the batch is read (see poll/reactor.h for why every
     * one is live); a wake's only ended the wait: the loop drains the remote queue. Sources
     * freed meanwhile wait for the loop's top (w->dispatching). */
    w->dispatching = true;
    int events = cio__reactor_run(w->poll, w->events, EVENTS_CAPACITY, timeout);
    w->dispatching = false;
    if (w->notify_due) {
        w->notify_due = false;
        if (!w->searching && cio__local_queue_len(&w->local) > 1)
            notify_one(w->shared);
    }
    w->m.polls += w->ticks;
    w->ticks = 0; /* the fairness poll counts tasks run since the reactor was last polled */
    if (block) {
        atomic_store(&w->sleeping, false);
        if (w->steal)
            atomic_fetch_sub(&w->shared->sleeping, 1);
    }
    cio_time now = cio_now();
    cio__timer_wheel_advance(&w->wheel, now);
    if (w->steal)
        timers_advance(w, now);
    cio__metrics_turn_end(w, events, wait_start, now);
    if (now >= w->sweep_at) /* without idle_save: a trim check once a second */
        idle_check(w, now);
}

static void cancel_all(struct cio__worker *w)
{
    atomic_store(&w->cancel_all, false);
    struct cio__list *it;
    cio__list_foreach(it, &w->tasks)
    {
        cio__task_cancel(cio__list_entry(it, cio_task, all_node));
    }
    if (w->steal) { /* every worker does it: a cancel is idempotent */
        struct cio__sched_shared *sh = w->shared;
        pthread_mutex_lock(&sh->tasks_lock);
        cio__list_foreach(it, &sh->tasks)
        {
            cio__task_cancel(cio__list_entry(it, cio_task, all_node));
        }
        pthread_mutex_unlock(&sh->tasks_lock);
    }
}

/* Tasks of the runtime not finished: a shared task may finish on another worker than the
 * one that counted its spawn, so only the sum means something. Every finish first, then every
 * spawn: each finish read balances a spawn read after it, so the sum is never short. */
static size_t live_total(struct cio__worker *w)
{
    struct cio__sched_shared *sh = w->shared;
    uint64_t finished = 0, spawned = 0;
    for (unsigned i = 0; i < sh->nworkers; i++)
        finished += atomic_load_explicit(&sh->workers[i].m.finished, memory_order_acquire);
    for (unsigned i = 0; i < sh->nworkers; i++)
        spawned += atomic_load(&sh->workers[i].m.spawned);
    return (size_t)(spawned - finished);
}

void cio__worker_run(struct cio__worker *w, cio_task *until)
{
    w->m.clock = cio_now(); /* busy time counts from here (metrics.c) */
    for (;;) {
        if (until != NULL) {
            if (atomic_load(&until->state) & CIO__TASK_DONE)
                return;
        } else if (atomic_load(&w->stop) && live_total(w) == 0) {
            return;
        }
        if (atomic_load_explicit(&w->cancel_all, memory_order_relaxed))
            cancel_all(w);
        remote_drain(w);
        cio_task *t;
        if (w->steal) {
            if (atomic_load_explicit(&w->search_token, memory_order_relaxed) &&
                atomic_exchange(&w->search_token, false))
                w->searching = true; /* woken to search: the count is ours now */
            t = next_task_shared(w);
            if (t != NULL && w->searching)
                search_end(w, true);
            if (t != NULL && t->worker != w)
                w->m.pushes++; /* a shared task: counted where it is taken (metrics.h) */
        } else {
            struct cio__list *node = cio__list_pop_front(&w->runq);
            t = node != NULL ? cio__list_entry(node, cio_task, run_node) : NULL;
        }
        if (t == NULL) {
            reactor_turn(w, true);
            continue;
        }
        if (++w->ticks >= w->event_interval)
            reactor_turn(w, false);
        run_task(w, t);
    }
}

int cio__worker_enter(struct cio__worker *w)
{
    int rc = cio__coro_thread_init(&w->sched, "worker");
    if (rc < 0)
        return rc;
    (void)cio__stack_overflow_handler_install();
    tls_worker = w;
    return 0;
}

void cio__worker_leave(struct cio__worker *w)
{
    tls_worker = NULL;
    cio__stack_overflow_handler_uninstall();
    cio__coro_thread_fini(&w->sched);
}

/* ---- workers ---- */

int cio__worker_init(struct cio__worker *w, cio_rt *rt, unsigned index,
                     const struct cio__worker_config *config)
{
    w->rt = rt;
    w->shared = config->shared;
    w->steal = config->shared->steal;
    cio__local_queue_init(&w->local);
    atomic_init(&w->search_token, false);
    atomic_init(&w->steals, 0);
    atomic_init(&w->settled, 0);
    w->index = index;
    w->budget = config->budget;
    w->event_interval = config->event_interval;
    w->hop_ticks = config->event_interval - 1; /* a run handed over must not be the poll's */
    w->idle_save = config->idle_save;
    atomic_init(&w->saves, 0);
    w->sweep_at = cio_now() + (w->idle_save != 0 ? w->idle_save : TRIM_EVERY);
    cio__list_init(&w->runq);
    cio__list_init(&w->tasks);
    pthread_mutex_init(&w->remote_lock, NULL);
    cio__timer_wheel_init(&w->wheel, cio_now());
    pthread_mutex_init(&w->timers_lock, NULL);
    cio__timer_wheel_init(&w->timers, cio_now());
    atomic_init(&w->timers_armed, 0);
    cio_poll_options popts = {.backend = config->backend};
    int rc = cio_poll_new(&w->poll, &popts);
    if (rc < 0)
        return rc;
    w->events = calloc(EVENTS_CAPACITY, sizeof(*w->events));
    if (w->events == NULL)
        return -ENOMEM;
    return cio_waker_new(&w->waker, w->poll, WAKER_TOKEN);
}

void cio__worker_fini(struct cio__worker *w)
{
    run_deferred(w->deferred);
    w->deferred = NULL;
    /* The layers let go of this worker (sockets that outlive the runtime forget their
     * registration with this reactor). */
    for (int i = 0; i < CIO__WORKER_EXT_COUNT; i++)
        if (w->ext[i].fini != NULL)
            w->ext[i].fini(w, w->ext[i].state);
    cio__timer_wheel_fini(&w->wheel);
    cio__timer_wheel_fini(&w->timers);
    pthread_mutex_destroy(&w->timers_lock);
    cio__coro_tmpls_fini(&w->tmpls);
    cio_waker_free(w->waker);
    free(w->events);
    cio_poll_free(w->poll);
    pthread_mutex_destroy(&w->remote_lock);
}

void cio__worker_shutdown(struct cio__worker *w)
{
    atomic_store(&w->shutdown, true);
    atomic_store(&w->cancel_all, true);
    /* Work from another thread, like a remote wake: a parking task then hands the thread to
     * the worker loop (which cancels) rather than to the next task (cio__task_suspend). */
    atomic_fetch_add(&w->remote_count, 1);
    cio_waker_wake(w->waker);
}

void cio__worker_stop(struct cio__worker *w)
{
    atomic_store(&w->stop, true);
    cio_waker_wake(w->waker);
}

size_t cio__worker_live(struct cio__worker *w)
{
    /* finished first: every finish it counts balances a spawn the next load sees */
    uint64_t finished = atomic_load_explicit(&w->m.finished, memory_order_acquire);
    return (size_t)(atomic_load(&w->m.spawned) - finished);
}
