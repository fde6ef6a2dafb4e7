/*
 * sched.h: the scheduler's internal interface (private) — tasks, workers, and the two
 * primitives every suspending operation in cio is built from: park (suspend the calling task
 * until woken, cancelled or past a deadline) and wake (make a task runnable, from any thread,
 * never running it on the waker's stack). The io layer, the sync primitives and the time
 * functions use only what is declared here.
 *
 * A task's scheduling state lives in plain fields that only its worker's thread touches, so
 * a wake on that thread — the reactor waking a task, one task waking another — costs no
 * atomic instruction:
 *
 *     queued    on the worker's run queue
 *     running   on the worker's thread right now
 *     notified  a wake arrived while running: requeue it when it parks
 *
 * and in an atomic word for what other threads see or set:
 *
 *     REMOTE     in the worker's remote queue (a wake from another thread)
 *     CANCELLED  cancellation requested (sticky)          cio_task_cancel, shutdown
 *     DONE       its body returned                        worker
 *
 * wake() on the worker's thread: running -> notified; else, unless queued, queue it. From
 * another thread: set REMOTE and, if it was not set, push the task to the remote queue (and
 * wake the worker if it sleeps); the worker drains that queue at the top of its loop,
 * clearing REMOTE and waking each task locally. A wake between "I register as waiter" and
 * "I park" is never lost: it finds the task running and marks it notified, or reaches the
 * worker through the remote queue after the task parked.
 */
#ifndef CIO_RT_SCHED_H
#define CIO_RT_SCHED_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cio/rt.h"
#include "poll/reactor.h"
#include "rt/coro.h"
#include "rt/timer.h"
#include "util/assert.h"
#include "util/list.h"

enum {
    CIO__TASK_REMOTE = 1u << 0,
    CIO__TASK_CANCELLED = 1u << 3,
    CIO__TASK_DONE = 1u << 4,
};

struct cio__worker;

/* Something that can be woken: a task, or a thread outside the runtime blocked on a
 * condition variable. Waiter lists of the sync primitives hold these. */
struct cio__parker {
    cio_task *task; /* NULL: a thread parker */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool notified;
};

struct cio__stack_home;

/*
 * The per-worker state of what builds on the runtime — the io layer's registrations on this
 * worker's reactor, the signal pipe's source — is the layer's own: the worker only holds a
 * slot per layer and calls the layer's fini when the runtime is freed (after its tasks are
 * gone, before its reactor closes), so the layer can orphan what outlives the runtime. A
 * layer attaches its state on the worker's own thread, the first time it needs it.
 */
enum cio__worker_ext_slot {
    CIO__WORKER_EXT_IO,
    CIO__WORKER_EXT_SIGNAL,
    CIO__WORKER_EXT_COUNT,
};

struct cio__worker_ext {
    void *state;
    void (*fini)(struct cio__worker *worker, void *state);
};

/* A task record lives at the top of its own coroutine stack (see task_create in sched.c). */
struct cio_task {
    struct cio__coro coro;
    struct cio__stack_home *home;   /* where the stack (and so this record) goes back */
    struct cio__worker *worker;     /* owner; never changes */
    atomic_uint state;              /* CIO__TASK_*: what other threads see or set */
    bool queued, running, notified; /* the worker's own thread only (see the top) */
    atomic_int refs;                /* the runtime's (until DONE is handled) + the handle's */
    struct cio__list run_node;
    struct cio__list all_node; /* the worker's list of live tasks */
    struct cio_task *remote_next;
    cio_task_fn fn;
    void *arg;
    void *result;
    cio_time deadline;       /* in force; CIO_DEADLINE_NONE */
    cio_time park_deadline;  /* of the park in progress; CIO_DEADLINE_NONE */
    struct cio__timer timer; /* park deadline; left armed between parks (see sched.c) */
    bool timed_out;          /* the park timer fired */
    bool was_cancelled;      /* CANCELLED was set before DONE */
    /* I/O operations left before a forced yield; 0 while the task runs cancelled, so the io
     * fast paths' one test (budget > 1) also sends a cancelled task to the slow path, which
     * says -ECANCELED. Set from the state when the task starts running and by a cancel from
     * the task itself; a cancel from another thread while the task runs is seen at its next
     * suspension or slow path, within one budget (tokio's abort: at the next yield). */
    unsigned budget;
    /* join: who waits for DONE, under join_lock */
    atomic_flag join_lock;
    struct cio__parker *joiner;
    _Atomic(struct cio_join_set *) join_set; /* the set holding the handle, or NULL */
    struct cio__list set_node;               /* in the set's running or done list */
    void **locals;                           /* task-local values, allocated on first set */
    char *name;
};

/* Work a worker runs at the top of its loop, outside any reactor dispatch (so memory a
 * reactor source points to can be freed there safely). */
struct cio__deferred {
    struct cio__deferred *next;
    void (*fn)(struct cio__deferred *deferred);
};

struct cio__worker {
    cio_rt *rt;
    unsigned index;
    unsigned budget;         /* the runtime's, at hand for every task run */
    unsigned event_interval; /* the runtime's: tasks run between two polls of the reactor */
    pthread_t thread;
    struct cio__coro sched; /* the worker thread's own context */
    cio_task *current;
    cio_poll *poll;
    struct cio__sys_event *events; /* the reactor's batch (poll/reactor.h) */
    int nevents;
    bool dispatching; /* in reactor_turn(): frees of sources wait for the loop's top */
    cio_waker *waker;
    struct cio__timer_wheel wheel;
    struct cio__list runq;
    struct cio__list tasks; /* live tasks owned here, for shutdown */
    atomic_size_t live;     /* tasks owned here not yet finished (queued ones too) */
    /* Remote queue: pushed by any thread, drained by the worker. */
    pthread_mutex_t remote_lock;
    cio_task *remote_head, *remote_tail;
    atomic_uint remote_count;
    atomic_bool sleeping;           /* inside cio_poll_wait with a timeout */
    atomic_bool cancel_all;         /* shutdown asked this worker to cancel its tasks */
    atomic_bool stop;               /* the worker thread should exit once idle */
    unsigned ticks;                 /* tasks run since the reactor was last polled */
    struct cio__deferred *deferred; /* under remote_lock */
    struct cio__worker_ext ext[CIO__WORKER_EXT_COUNT]; /* the layers' own state (see above) */
};

/* The calling thread's worker (NULL outside the runtime). Read on every operation, so it is
 * an initial-exec thread-local read inline, not a call (as the coroutine layer's). */
extern _Thread_local struct cio__worker *cio__tls_worker __attribute__((tls_model("initial-exec")));

static inline struct cio__worker *cio__worker_current(void)
{
    return cio__tls_worker;
}

/* The calling task (NULL outside a task). */
static inline cio_task *cio__task_self(void)
{
    struct cio__worker *w = cio__tls_worker;
    return w != NULL ? w->current : NULL;
}

/* cio__task_wake() from a thread other than the task's worker (sched.c). */
void cio__task_wake_remote(cio_task *task);

/* Wake @task (any thread): see the state machine above. Inline: on the task's own worker — the
 * reactor waking a task, one task waking another — it is a few plain stores. */
static inline void cio__task_wake(cio_task *t)
{
    struct cio__worker *w = t->worker;
    if (cio__tls_worker != w) {
        cio__task_wake_remote(t);
        return;
    }
    if (t->running) {
        t->notified = true; /* it requeues itself when it parks */
        return;
    }
    if (t->queued || (atomic_load_explicit(&t->state, memory_order_relaxed) & CIO__TASK_DONE))
        return;
    t->queued = true;
    cio__list_push_back(&w->runq, &t->run_node);
}

/*
 * cio__task_wake_idle() - cio__task_wake() where the caller knows more: on @t's own worker's
 * thread, outside any task (a reactor dispatching events on its worker), with @t suspended in
 * a wait, so neither running nor finished. What is left of the wake is queueing it unless it
 * is queued already (by an earlier wake not yet run).
 */
static inline void cio__task_wake_idle(cio_task *t)
{
    cio__assert(t->worker == cio__tls_worker && t->worker->current == NULL && !t->running &&
                !(atomic_load_explicit(&t->state, memory_order_relaxed) & CIO__TASK_DONE));
    if (t->queued)
        return;
    t->queued = true;
    cio__list_push_back(&t->worker->runq, &t->run_node);
}

/*
 * cio__task_park() - suspend the calling task until woken, cancelled, or @deadline (combined
 * with the task's own deadline). Checks cancellation and the deadline before suspending.
 * Return: 0 (woken; maybe spuriously); -ECANCELED; -ETIMEDOUT.
 */
int cio__task_park(cio_time deadline);

/* Suspend @t, the calling task, with nothing armed: the switch of every park (sched.c). */
void cio__task_suspend(cio_task *t);

/* cio__task_park() for @t, the calling task (not NULL), with no deadline of its own: inline
 * for the common case — no deadline in force, not cancelled — which arms nothing. */
static inline int cio__task_park_self(cio_task *t)
{
    if (t->deadline != CIO_DEADLINE_NONE ||
        (atomic_load_explicit(&t->state, memory_order_relaxed) & CIO__TASK_CANCELLED))
        return cio__task_park(CIO_DEADLINE_NONE);
    /* A park timer left armed by an earlier park finds park_deadline NONE when it fires and
     * wakes nobody. */
    cio__task_suspend(t);
    return (atomic_load_explicit(&t->state, memory_order_relaxed) & CIO__TASK_CANCELLED)
               ? -ECANCELED
               : 0;
}

/* Requeue the calling task behind the others and switch away (no deadline check). */
void cio__task_yield(void);

/* The budget ran out: refill it and yield (sched.c). */
void cio__task_budget_exhausted(cio_task *task);

/*
 * cio__task_budget() - spend one unit of the cooperative budget; when it is exhausted the
 * task yields (the io layer calls this on each operation that did not suspend). Inline: it
 * runs on every I/O operation.
 * Return: 0; -ECANCELED if the task was cancelled.
 */
static inline int cio__task_budget(void)
{
    cio_task *t = cio__task_self();
    if (t == NULL)
        return 0;
    if (t->budget <= 1)
        cio__task_budget_exhausted(t); /* or cancelled (budget 0): yield either way */
    else
        t->budget--;
    return (atomic_load_explicit(&t->state, memory_order_relaxed) & CIO__TASK_CANCELLED)
               ? -ECANCELED
               : 0;
}

/* The thread side of the parker functions below (task.c). */
void cio__parker_init_thread(struct cio__parker *parker);
void cio__parker_fini_thread(struct cio__parker *parker);
void cio__parker_unpark_thread(struct cio__parker *parker);
int cio__parker_park_thread(struct cio__parker *parker, cio_time deadline);

/* A parker for the calling context: the current task, or a thread parker. Inline: every
 * suspending operation makes one, and a task's is two stores. */
static inline void cio__parker_init(struct cio__parker *parker)
{
    parker->task = cio__task_self();
    parker->notified = false;
    if (parker->task == NULL)
        cio__parker_init_thread(parker);
}

static inline void cio__parker_fini(struct cio__parker *parker)
{
    if (parker->task == NULL)
        cio__parker_fini_thread(parker);
}

/* Wake the parker's owner. Any thread. */
static inline void cio__parker_unpark(struct cio__parker *parker)
{
    if (parker->task != NULL)
        cio__task_wake(parker->task);
    else
        cio__parker_unpark_thread(parker);
}

/* Suspend until unparked, the deadline, or (tasks) cancellation: 0, -ETIMEDOUT, -ECANCELED.
 * May return 0 spuriously: re-check the condition. */
static inline int cio__parker_park(struct cio__parker *parker, cio_time deadline)
{
    if (parker->task != NULL)
        return cio__task_park(deadline);
    return cio__parker_park_thread(parker, deadline);
}

/* The effective deadline of the calling task (CIO_DEADLINE_NONE outside a task). */
cio_time cio__task_deadline(void);

/* The worker's reactor (cio_poll) — sockets register here, with a cio__reactor_source *
 * as token. */
cio_poll *cio__worker_poll(struct cio__worker *worker);

/* A layer's state on @worker, or NULL before the layer attached it. */
static inline void *cio__worker_ext_get(struct cio__worker *worker, enum cio__worker_ext_slot slot)
{
    return worker->ext[slot].state;
}

/* Attach a layer's state to @worker: on the worker's own thread, once; @fini runs when the
 * runtime is freed. */
void cio__worker_ext_attach(struct cio__worker *worker, enum cio__worker_ext_slot slot, void *state,
                            void (*fini)(struct cio__worker *worker, void *state));

/* Run @d->fn on @worker's thread at the top of its loop (any thread may call this). */
void cio__worker_defer(struct cio__worker *worker, struct cio__deferred *d);

/* The runtime's blocking pool, created on first use. */
struct cio__blocking_pool;
int cio__rt_blocking_pool(cio_rt *rt, struct cio__blocking_pool **ret_pool);

/* Arm/cancel a timer on the calling worker's wheel (worker thread only). */
struct cio__timer_wheel *cio__worker_wheel(struct cio__worker *worker);

#endif
