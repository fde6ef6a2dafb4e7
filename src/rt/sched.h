/*
 * sched.h: the scheduler's internal interface (private) — workers with their run queues,
 * remote queues, reactors and timer wheels, and the two primitives every suspending operation
 * in cio is built from: park (suspend the calling task until woken, cancelled or past a
 * deadline) and wake (make a task runnable, from any thread, never running it on the waker's
 * stack). The io layer, the parker, the sync primitives and the time functions use only what
 * is declared here. The task object itself (created, finished, joined, freed) is task.h's;
 * the runtime that owns the workers is runtime.h's.
 *
 * Two kinds of task. A PINNED task (the current-thread runtime, a runtime with stealing off,
 * a task spawned with CIO_WORKER(i)) has a fixed worker, and its scheduling state lives in
 * plain fields that only that worker's thread touches, so a wake on that thread — the
 * reactor waking a task, one task waking another — costs no atomic instruction:
 *
 *     queued    on the worker's run queue
 *     running   on the worker's thread right now
 *     notified  a wake arrived while running: requeue it when it parks
 *
 * A SHARED task (the default on a multi-thread runtime with stealing) may run on any worker:
 * its t->worker is CIO__WORKER_SHARED, and its scheduling state is two bits of the atomic
 * word, moved by read-modify-writes (tokio's task state):
 *
 *     NOTIFIED   in a queue, or woken while running (requeued when it parks)
 *     RUNNING    a worker runs it: claimed NOTIFIED -> RUNNING by one atomic add, which
 *                asserts that no other worker runs it (no double run)
 *
 *     wake:   fetch_or NOTIFIED; neither NOTIFIED nor RUNNING nor DONE before -> queue it
 *             (the waker's LIFO slot or local queue, or the injection queue off the runtime)
 *     park:   (on the worker, off the task's stack) fetch_and ~RUNNING; NOTIFIED -> requeue
 *
 * A shared task that is BOUND (t->bound > 0) resumes on t->runner: it is queued on that
 * worker's run queue, through the remote queue from another thread. It is bound while it
 * moves to its worker (cio__task_settle) and while it waits on a socket on the owner's own
 * list (io.c: no lock; woken, it runs there). Elsewhere it waits on a socket as a foreign
 * waiter, under the registration's lock, and its park timer sits in a locked wheel of the
 * worker it parked on, which it takes the timer out of from wherever it resumes (sched.c).
 *
 * The atomic word also holds what other threads see or set:
 *
 *     REMOTE     pinned: in the worker's remote queue (a wake from another thread)
 *     REQUESTED  cancellation was requested (sticky)         cio__task_cancel
 *     SHIELDED   a cancel shield is in force                  the task itself
 *     CANCELLED  REQUESTED and not SHIELDED: what the task's suspending calls see
 *     DONE       its body returned and its joiner was told    the task itself
 *
 *     cancel:        REQUESTED, and CANCELLED unless SHIELDED   (any thread)
 *     shield begin:  SHIELDED, CANCELLED off                    (the task)
 *     shield end:    SHIELDED off, CANCELLED = REQUESTED        (the task)
 *
 * Pinned, wake() on the worker's thread: running -> notified; else, unless queued, queue it.
 * From another thread: set REMOTE and, if it was not set, push the task to the remote queue
 * (and wake the worker if it sleeps); the worker drains that queue at the top of its loop,
 * clearing REMOTE and waking each task locally. A wake between "I register as waiter" and
 * "I park" is never lost: it finds the task running and marks it notified (NOTIFIED), or
 * reaches it through a queue after the task parked.
 */
#ifndef CIO_RT_SCHED_H
#define CIO_RT_SCHED_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cio/rt.h"
#include "poll/reactor.h"
#include "rt/coro.h"
#include "rt/local_queue.h"
#include "rt/metrics.h"
#include "rt/timer.h"
#include "util/assert.h"
#include "util/list.h"

enum {
    CIO__TASK_REMOTE = 1u << 0,
    CIO__TASK_REQUESTED = 1u << 1,
    CIO__TASK_SHIELDED = 1u << 2,
    CIO__TASK_CANCELLED = 1u << 3,
    CIO__TASK_DONE = 1u << 4,
    CIO__TASK_NOTIFIED = 1u << 5, /* shared tasks only (see the top) */
    CIO__TASK_RUNNING = 1u << 6,
};

struct cio__worker;
struct cio__stack_home;
struct cio__parker;
struct cio__task_watcher;

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

/* What a layer tells the task dump about its waiting tasks (metrics.c): @task, of the worker
 * asking, waits for @fd, in the direction @what ("read", "write"...: a static string). */
typedef void cio__wait_note_fn(void *ctx, cio_task *task, int fd, const char *what);

struct cio__worker_ext {
    void *state;
    void (*fini)(struct cio__worker *worker, void *state);
    /* optional: note the worker's tasks that wait on the layer (on the worker's thread) */
    void (*waits)(struct cio__worker *worker, void *state, cio__wait_note_fn *note, void *ctx);
};

/*
 * Something waiting for readiness: a parked task or an armed poll_* callback (wake).
 * A task's plain wait uses the one in its record (t->io_wait: a task waits on one registration
 * at a time, and nothing the reactor writes is then on its stack, which may be saved while it
 * waits: coro.h); select's watches keep theirs in the watch, callbacks are in the registration.
 * The io layer (io/io.h) owns it; it is defined here because the record embeds it. Each is
 * satisfied by any bit of @want. A task woken by an event returns with that event's readiness even
 * if another waiter, woken by the same edge, has consumed it meanwhile (tokio's rule: readiness may
 * be stale, never missing); the operation that follows says -EAGAIN and waits again.
 */
struct cio__io_waiter {
    struct cio__list node;
    cio_task *task; /* NULL for a poll_* callback (struct cio__io_callback, io/io.h) */
    unsigned want;
    unsigned woken; /* the readiness word of the event that woke it; 0 until then */
};

/*
 * A task record is a heap block beside its coroutine stack (task.c), so that the stack of a
 * long-parked task can be saved and its pages released while wakers still reach the record
 * (sched.c, "idle tasks"). The scheduler's fields come first — the hot path reads them — then
 * the task object's own (task.c, cancel.c, task_local.c), which the scheduler reaches only
 * through task.h's references.
 */
struct cio_task {
    /* ---- the scheduler's (sched.c) ---- */
    struct cio__coro coro;
    struct cio__worker *worker;     /* pinned: its worker, fixed; else CIO__WORKER_SHARED */
    atomic_uint state;              /* CIO__TASK_*: what other threads see or set */
    bool queued, running, notified; /* pinned: the worker's own thread only (see the top) */
    bool started;                   /* it has run (it is on a list of live tasks) */
    uint16_t bound;                 /* shared: moving to @runner (settle); the task's own */
    bool settled;                   /* shared: it chose its home (cio__task_settle) */
    bool timed_out;                 /* the park timer fired */
    uint8_t wait_kind;              /* enum cio__wait_kind: what the park in progress waits for */
    /* (task.c's two flags, here where the word has room: the record is what an idle task
     * costs, so it has no holes) */
    bool was_cancelled;             /* cancellation was requested before the body returned */
    atomic_flag join_lock;          /* DONE and joiner, together */
    struct cio__worker *settled_on; /* shared: the worker it settled on, or NULL */
    struct cio__worker *runner;     /* the worker that runs it, or ran it last */
    struct cio__worker *timer_on;   /* shared: whose timers hold @timer (see sched.c) */
    struct cio__worker *origin;     /* the worker that counted its spawn (and counts its end) */
    struct cio__list run_node;
    struct cio__list all_node; /* the worker's list of live tasks */
    struct cio_task *remote_next;
    cio_time deadline;       /* in force; CIO_DEADLINE_NONE */
    cio_time park_deadline;  /* of the park in progress; CIO_DEADLINE_NONE */
    struct cio__timer timer; /* park deadline; left armed between parks (see sched.c) */
    cio_time parked_at;      /* its worker's clock when it last parked (metrics.h) */
    /* The io layer's waiter for this task's plain socket waits (io.c): its task is set once,
     * at spawn. A wait is in progress while want != 0 and woken == 0 — the io layer resets
     * want on every way out that leaves woken 0 — which is how the idle sweep tells that a
     * parked task waits with nothing on its stack that others write (sched.c). */
    struct cio__io_waiter io_wait;
    /* ---- the task object's (task.c) ---- */
    struct cio__stack_home *home; /* where the stack goes back */
    atomic_int refs;              /* the runtime's (until it finished running) + the handle's */
    atomic_uint abort_slot;       /* cancel.c's: the abort-handle slot, 0 (none yet) or
                                     CIO__ABORT_RETIRED */
    union {                       /* the body, until it runs; then what it returned */
        cio_task_fn fn;
        void *result;
    };
    void *arg;
    struct cio__parker *joiner; /* who waits for DONE, under join_lock */
    /* told once when the task finishes (a join set holding the handle); NULL when none or
     * claimed (task.h) */
    _Atomic(struct cio__task_watcher *) watcher;
    struct cio__list watch_node; /* the watcher's own link (a join set's member lists) */
    char *name;
    /* ---- task_local.c's ---- */
    void **locals; /* task-local values, allocated on first set */
};

/* Join handles are the task records themselves, under another type. */
static inline cio_task *cio__task_of(const cio_join_handle *handle)
{
    return (cio_task *)(void *)handle;
}

/* Work a worker runs at the top of its loop, outside any reactor dispatch (so memory a
 * reactor source points to can be freed there safely). */
struct cio__deferred {
    struct cio__deferred *next;
    void (*fn)(struct cio__deferred *deferred);
};

/*
 * What the workers of one runtime share to move tasks between them (the runtime embeds it).
 * The injection queue takes shared tasks spawned or woken off the runtime (and a local
 * queue's overflow); a worker looks at it every INJECT_INTERVAL (sched.c) turns and when its
 * own queues are empty, so the mutex is taken rarely. An idle worker steals half of another's
 * local queue; a worker with work to spare wakes one sleeping worker, and only when none is
 * searching already (no thundering herd).
 */
struct cio__sched_shared {
    struct cio__worker *workers;
    unsigned nworkers;
    bool steal; /* tasks spawned without a worker are shared (may migrate) */
    pthread_mutex_t inject_lock;
    struct cio__list inject; /* shared tasks, through run_node */
    atomic_size_t inject_len;
    atomic_uint searching; /* workers looking for work to steal */
    atomic_uint sleeping;  /* workers blocked in their reactor, or about to */
    atomic_uint next_victim;
    pthread_mutex_t tasks_lock;
    struct cio__list tasks; /* live shared tasks (all_node), for shutdown */
};

struct cio__worker {
    cio_rt *rt;
    struct cio__sched_shared *shared;
    unsigned index;
    unsigned budget;         /* the runtime's, at hand for every task run */
    unsigned event_interval; /* the runtime's: tasks run between two polls of the reactor */
    unsigned hop_ticks;      /* event_interval - 1: ticks below it let a park hand over */
    pthread_t thread;
    struct cio__coro sched; /* the worker thread's own context */
    cio_task *current;
    /* I/O operations the current task may do before a forced yield (the budget of this run);
     * 0 while no task runs and while the task runs cancelled, so the io fast paths' one test
     * (run_budget > 1) also sends a cancelled task, or code outside any task, to the slow
     * path, which says -ECANCELED (-EPERM). Set from the task's state when it starts running
     * and by a cancel from the task itself; a cancel from another thread while the task runs
     * is seen at its next suspension or slow path, within one budget (tokio's abort: at the
     * next yield). */
    unsigned run_budget;
    cio_poll *poll;
    struct cio__sys_event *events; /* the reactor's batch (poll/reactor.h) */
    int nevents;
    bool dispatching; /* in reactor_turn(): frees of sources wait for the loop's top */
    cio_waker *waker;
    struct cio__timer_wheel wheel;
    /* Shared tasks' park timers: inserted by a task parking here, taken out by that task
     * wherever it resumes, fired here — all under timers_lock (sched.c); timers_armed is the
     * wheel's count, published under the lock for the worker's look without it. */
    pthread_mutex_t timers_lock;
    struct cio__timer_wheel timers;
    atomic_size_t timers_armed;
    struct cio__list runq;
    struct cio__list tasks;        /* live tasks owned here, for shutdown and the dump */
    struct cio__worker_counters m; /* metrics.h; live = m.spawned - m.finished */
    /* Remote queue: pushed by any thread, drained by the worker. */
    pthread_mutex_t remote_lock;
    cio_task *remote_head, *remote_tail;
    atomic_uint remote_count;       /* remote wakes and deferred work queued, and shutdowns */
    atomic_bool sleeping;           /* inside cio_poll_wait with a timeout */
    atomic_bool shutdown;           /* the runtime shuts down: tasks start cancelled */
    atomic_bool cancel_all;         /* shutdown asked this worker to cancel its tasks */
    atomic_bool stop;               /* the worker thread should exit once idle */
    unsigned ticks;                 /* tasks run since the reactor was last polled */
    struct cio__deferred *deferred; /* under remote_lock */
    struct cio__worker_ext ext[CIO__WORKER_EXT_COUNT]; /* the layers' own state (see above) */
    /* Shared tasks (sched.c): the LIFO slot (the task a running task woke last, run next:
     * message-passing latency; never stolen), the stealable local queue, and the search. */
    bool steal;               /* the runtime shares tasks (a copy of shared->steal) */
    cio_task *lifo;           /* owner only */
    unsigned lifo_streak;     /* LIFO runs in a row: capped, so the queue is not starved */
    unsigned loop_ticks;      /* loop turns: the injection queue is checked every N */
    bool prefer_shared;       /* alternate between the pinned and the shared queue */
    bool searching;           /* counted in shared->searching */
    bool notify_due;          /* the reactor queued shared tasks: notify once after its batch */
    atomic_uint settled;      /* live shared tasks that settled here (cio__task_settle) */
    atomic_bool search_token; /* woken to search: holds one count of shared->searching */
    atomic_ulong steals;      /* tasks taken from other workers (owner writes, no RMW) */
    struct cio__local_queue local;
    /* Idle tasks (sched.c): tasks parked idle_save or longer in a saveable wait have their
     * stacks saved by a sweep at or after sweep_at (CIO_DEADLINE_NONE: never), when tasks ran
     * since the last one (sweep_runs: the run count then) or some wait to become due. */
    cio_duration idle_save; /* 0: never */
    cio_time sweep_at;
    bool sweep_wake; /* tasks wait to become due at sweep_at */
    uint64_t sweep_runs;
    atomic_ulong saves;           /* stacks saved (the owner writes, no RMW; metrics) */
    size_t trim_peak;             /* live tasks since malloc was last trimmed, at most (sched.c) */
    struct cio__coro_tmpls tmpls; /* what its saves are encoded against (coro.h) */
};

/* The t->worker of a shared task: a worker that is no thread's and whose run queue is empty,
 * so the hand-off test of a park (cio__task_suspend) fails for a shared task with no test of
 * its own, and a wake (cio__task_wake) takes the general way (see the top). Never changed. */
extern struct cio__worker cio__worker_shared;
#define CIO__WORKER_SHARED (&cio__worker_shared)

/* The calling thread's worker (NULL outside the runtime). Read on every operation, so it is
 * an initial-exec thread-local read inline, not a call (as the coroutine layer's). */
extern _Thread_local struct cio__worker *cio__tls_worker __attribute__((tls_model("initial-exec")));

static inline struct cio__worker *cio__worker_current(void)
{
    return cio__tls_worker;
}

/* Whether @t may run on any worker (see the top). */
static inline bool cio__task_shared(const cio_task *t)
{
    return t->worker == CIO__WORKER_SHARED;
}

/* The calling task (NULL outside a task). */
static inline cio_task *cio__task_self(void)
{
    struct cio__worker *w = cio__tls_worker;
    return w != NULL ? w->current : NULL;
}

/* cio__task_wake() of a shared task, or of a pinned one from another thread (sched.c). */
void cio__task_wake_remote(cio_task *task);

/* Wake @task (any thread): see the state machine above. Inline: a pinned task on its own
 * worker — the reactor waking a task, one task waking another — is a few plain stores. A
 * shared task's t->worker is no worker: it takes the call. */
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
    w->m.pushes++;
    cio__list_push_back(&w->runq, &t->run_node);
}

/*
 * cio__task_wake_idle() - cio__task_wake() where the caller knows more: on @t's own worker's
 * thread, outside any task (a reactor dispatching events on its worker), with @t suspended in
 * a wait, so neither running nor finished. What is left of the wake is queueing it unless it
 * is queued already (by an earlier wake not yet run). @t is pinned.
 */
static inline void cio__task_wake_idle(cio_task *t)
{
    /* (A shared task waiting on its owner's list is never its @first: io.c wakes it with
     * cio__task_wake_remote(), out of line.) */
    cio__assert(t->worker == cio__tls_worker && t->worker->current == NULL && !t->running &&
                !(atomic_load_explicit(&t->state, memory_order_relaxed) & CIO__TASK_DONE));
    if (t->queued)
        return;
    t->queued = true;
    t->worker->m.pushes++;
    cio__list_push_back(&t->worker->runq, &t->run_node);
}

/* cio__task_wake_idle() of a shared task bound to this worker (sched.c): the reactor of its
 * worker wakes it, and it is queued on this worker's run queue. */
void cio__task_wake_bound_idle(cio_task *t);

/*
 * cio__task_park() - suspend the calling task until woken, cancelled, or @deadline (combined
 * with the task's own deadline). Checks cancellation and the deadline before suspending; a
 * cancelled task yields once (goes behind the worker's other ready tasks) and returns
 * -ECANCELED, so a loop that keeps waiting in a cancelled task lets the others run.
 * Return: 0 (woken; maybe spuriously); -ECANCELED; -ETIMEDOUT.
 */
int cio__task_park(cio_time deadline);

/* Suspend @t, the calling task, with nothing armed: the switch of every park (sched.c). */
void cio__task_suspend(cio_task *t);

/* cio__task_suspend() for @t, the calling task, shared and bound to its worker (t->bound):
 * it may hand the thread straight to the next task, as a pinned task does (sched.c). */
void cio__task_suspend_bound(cio_task *t);

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

/*
 * cio__task_settle() - the calling task is about to tie itself to a worker: its first socket
 * registration, with the reactor of the worker it runs on, whose events wake it onto that
 * worker from then on. A shared task settles once, on the worker of its runtime with the
 * fewest settled tasks, moving there first if that is not where it runs — so the sockets
 * (and the tasks that use them) of one accept loop spread over the workers, and in the steady
 * state each worker runs the tasks its own reactor wakes, stealing only to even out bursts.
 * A pinned task, or one that settled before, stays where it is. May suspend (a yield).
 */
void cio__task_settle(void);

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
    struct cio__worker *w = cio__tls_worker;
    cio_task *t = w != NULL ? w->current : NULL;
    if (t == NULL)
        return 0;
    if (w->run_budget <= 1)
        cio__task_budget_exhausted(t); /* or cancelled (budget 0): yield either way */
    else
        w->run_budget--;
    return (atomic_load_explicit(&t->state, memory_order_relaxed) & CIO__TASK_CANCELLED)
               ? -ECANCELED
               : 0;
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

/* Give the task dump the attached layer's waits callback (see struct cio__worker_ext). */
void cio__worker_ext_waits(struct cio__worker *worker, enum cio__worker_ext_slot slot,
                           void (*waits)(struct cio__worker *worker, void *state,
                                         cio__wait_note_fn *note, void *ctx));

/* Run @d->fn on @worker's thread at the top of its loop (any thread may call this). */
void cio__worker_defer(struct cio__worker *worker, struct cio__deferred *d);

/* Arm/cancel a timer on the calling worker's wheel (worker thread only). */
struct cio__timer_wheel *cio__worker_wheel(struct cio__worker *worker);

/*
 * cio__task_cancel() - request cancellation of @t (any thread): REQUESTED, and CANCELLED
 * unless a shield is in force, in which case the task sees it when the shield ends. Wakes
 * the task so that its current wait returns -ECANCELED. Harmless on a finished task.
 */
void cio__task_cancel(cio_task *t);

/*
 * cio__task_cancel_point() - for a suspending call that checks before it starts anything
 * (a connect, a blocking call): in a cancelled task, yield once (so a loop of such calls
 * does not spin) and return -ECANCELED; else 0. Outside a task: 0.
 */
int cio__task_cancel_point(void);

/* Begin/end a cancel shield on the calling task @t (see the state diagram at the top); the
 * deadline is the caller's business (cancel.c). Begin returns whether one was in force. */
bool cio__task_shield_begin(cio_task *t);
void cio__task_shield_end(cio_task *t, bool outer_shielded);

/* ---- workers: what the runtime (runtime.c) and the task object (task.c) use ---- */

struct cio__worker_config {
    struct cio__sched_shared *shared;
    cio_backend backend;
    unsigned budget;         /* I/O operations before a forced yield */
    unsigned event_interval; /* task runs between two polls of the reactor */
    cio_duration idle_save;  /* parked this long: save the stack (sched.c); 0 = never */
};

/* Set up / tear down a worker (its reactor, waker, timer wheel, queues). fini runs the
 * deferred work left and the layers' fini callbacks. */
int cio__worker_init(struct cio__worker *worker, cio_rt *rt, unsigned index,
                     const struct cio__worker_config *config);
void cio__worker_fini(struct cio__worker *worker);

/* Make the calling thread @worker's thread (its coroutine context, the overflow handler), and
 * undo it. */
int cio__worker_enter(struct cio__worker *worker);
void cio__worker_leave(struct cio__worker *worker);

/* Run @worker's loop on the calling thread (entered) until @until is DONE, or — @until NULL —
 * until it was asked to stop and has no task left. */
void cio__worker_run(struct cio__worker *worker, cio_task *until);

/* Runtime shutdown, any thread: from now on @worker's tasks start cancelled, and those alive
 * are cancelled at the top of its loop. */
void cio__worker_shutdown(struct cio__worker *worker);

/* Ask @worker's loop to return once it has no task left (any thread). */
void cio__worker_stop(struct cio__worker *worker);

/* Tasks adopted by @worker minus those that finished on it: summed over a runtime's workers,
 * the tasks not finished (a shared task may finish elsewhere). Wraps; sum, then read. */
size_t cio__worker_live(struct cio__worker *worker);

/* Set up / tear down what a runtime's workers share (before / after the workers). */
void cio__sched_shared_init(struct cio__sched_shared *shared, struct cio__worker *workers,
                            unsigned nworkers, bool steal);
void cio__sched_shared_fini(struct cio__sched_shared *shared);

/* A new task @t (its coroutine set up on its stack) joins @worker and is queued there — or,
 * @shared, joins the runtime's shared tasks: queued on the calling worker if it is one of
 * @worker's runtime, else on the injection queue. Any thread. */
void cio__worker_adopt(struct cio__worker *worker, cio_task *t, bool shared);

#endif
