/*
 * sched.c: the scheduler — workers with their run queues, remote queues, reactors and timer
 * wheels; the park/wake primitives of sched.h; and the state transitions of cancellation
 * (what a cancelled task's calls see). A worker loop in one sitting:
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
#include "rt/sched.h"
#include "rt/stack.h"
#include "rt/task.h"
#include "util/assert.h"
#include "util/compiler.h"

#define EVENTS_CAPACITY 256
#define WAKER_TOKEN 0

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
        /* Cleared first: a wake arriving from here on takes another trip, at worst a
         * spurious one. */
        atomic_fetch_and(&t->state, ~(unsigned)CIO__TASK_REMOTE);
        cio__task_wake(t); /* on its worker now: the local wake */
        cio__task_release(t);
        t = next;
    }
    w->m.remote_pushes += w->m.pushes - pushes;
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
    cio__task_retain(t);
    remote_push(t->worker, t);
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

void cio__worker_adopt(struct cio__worker *w, cio_task *t)
{
    t->coro.return_to = &w->sched;
    t->worker = w;
    t->deadline = CIO_DEADLINE_NONE;
    t->park_deadline = CIO_DEADLINE_NONE;
    cio__timer_init(&t->timer, park_timer_fired);
    cio__list_init(&t->run_node);
    cio__list_init(&t->all_node);
    atomic_init(&t->state, 0);
    t->wait_kind = CIO__WAIT_NONE;
    t->parked_at = 0;
    atomic_fetch_add(&w->m.spawned, 1);
    cio__task_wake(t);
}

/* The task's body has returned and its stack is no longer in use: it leaves the scheduler,
 * which drops the runtime's reference (DONE was published by the task itself). */
static void task_finished(struct cio__worker *w, cio_task *t)
{
    if (cio__timer_pending(&t->timer))
        cio__timer_cancel(&w->wheel, &t->timer);
    cio__list_remove(&t->all_node);
    /* release: a reader that sees the count sees the spawn it balances (cio__worker_live) */
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
    cio__list_push_back(&w->tasks, &t->all_node);
    if (atomic_load_explicit(&w->shutdown, memory_order_relaxed))
        (void)cancel_mark(t);
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
    w->run_budget = (atomic_load_explicit(&t->state, memory_order_relaxed) & CIO__TASK_CANCELLED)
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
    w->run_budget = 0; /* no task runs: the io fast paths send the worker's own calls out */
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
    cio__coro_switch(&t->coro, &t->worker->sched);
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
    struct cio__worker *w = t->worker;
    struct cio__list *node = w->runq.next;
    t->parked_at = w->m.clock;
    if (node != &w->runq && !t->notified && w->ticks + 1 < w->event_interval &&
        atomic_load_explicit(&w->remote_count, memory_order_relaxed) == 0) {
        cio__list_unlink(node); /* t->queued, not the node, says whether it is queued */
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

void cio__task_budget_exhausted(cio_task *t)
{
    t->worker->m.budget_yields += t->worker->run_budget != 0; /* 0: a cancelled task's yield */
    switch_to_worker(t, SWITCH_YIELD);                        /* run_begin() refills the budget */
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
        t->worker->run_budget = 0; /* its fast paths take the slow path: it sees the cancel */
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
    if (t == cio__task_self() && t->worker->run_budget == 0)
        t->worker->run_budget = t->worker->budget; /* it ran cancelled: operations work again */
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
        t->worker->run_budget = 0;
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
        atomic_store(&w->sleeping, true);
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
    w->m.polls += w->ticks;
    w->ticks = 0; /* the fairness poll counts tasks run since the reactor was last polled */
    if (block)
        atomic_store(&w->sleeping, false);
    cio_time now = cio_now();
    cio__timer_wheel_advance(&w->wheel, now);
    cio__metrics_turn_end(w, events, wait_start, now);
}

static void cancel_all(struct cio__worker *w)
{
    atomic_store(&w->cancel_all, false);
    struct cio__list *it;
    cio__list_foreach(it, &w->tasks)
    {
        cio__task_cancel(cio__list_entry(it, cio_task, all_node));
    }
}

void cio__worker_run(struct cio__worker *w, cio_task *until)
{
    w->m.clock = cio_now(); /* busy time counts from here (metrics.c) */
    for (;;) {
        if (until != NULL) {
            if (atomic_load(&until->state) & CIO__TASK_DONE)
                return;
        } else if (atomic_load(&w->stop) && cio__worker_live(w) == 0) {
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
    w->index = index;
    w->budget = config->budget;
    w->event_interval = config->event_interval;
    cio__list_init(&w->runq);
    cio__list_init(&w->tasks);
    pthread_mutex_init(&w->remote_lock, NULL);
    cio__timer_wheel_init(&w->wheel, cio_now());
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
