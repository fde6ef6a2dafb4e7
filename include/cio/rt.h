/*
 * cio/rt.h: the runtime — tasks as stackful coroutines, written as straight-line code that
 * suspends where it would block (tokio's runtime, task and time modules in C). A runtime has
 * one worker (current-thread flavour) or several (multi-thread); each worker has its own run
 * queues, its own reactor (a cio_poll) and its own timer wheel. On a multi-thread runtime a
 * task may move between workers at its suspensions (work stealing, tokio's scheduler) unless
 * it was pinned (cio_spawn_options.worker) or stealing is off (cio_rt_options.no_stealing).
 *
 *     static void *handler(void *arg) { ... return result; }
 *     static void *main_task(void *arg) {
 *         cio_join_handle *h;
 *         void *result;
 *         bool cancelled;
 *         cio_spawn(&h, handler, arg);
 *         cio_task_join(h, &result, &cancelled);
 *         return NULL;
 *     }
 *     cio_rt *rt;
 *     cio_rt_new(&rt, NULL);
 *     cio_rt_block_on(rt, main_task, NULL, NULL);
 *     cio_rt_free(rt);
 *
 * HANDLES. Spawning gives a join handle (cio_join_handle *), owned by one place: it is given
 * to cio_task_join() until that returns 0, or to cio_task_detach(), exactly once, and freed
 * then. An abort handle (cio_abort_handle) is a plain value made from a join handle or by the
 * task itself: copy it to any task or thread and cancel through it at any time, also after
 * the task has ended and its join handle is gone (it then does nothing).
 *
 * CANCELLATION (tokio's abort, in C). A cancel is a request, from any thread; it is sticky.
 *  - It reaches the task at its suspending calls: sleeping, joining, waiting on I/O, on a
 *    channel, a notify, a mutex or a semaphore, a blocking call, a signal, a yield. Each of
 *    them returns -ECANCELED instead of waiting, and every later one does too, so the task
 *    unwinds through its normal error paths. I/O and sync operations return -ECANCELED even
 *    when they could complete at once (cancel safe: they consumed nothing, cio/io.h); joining
 *    a task that has finished still succeeds (it does not wait). A cancel made by the task
 *    itself, or while it is not running, reaches its very next call; one made from another
 *    thread while it runs reaches it within one cooperative budget of I/O operations (see
 *    cio_rt_options.budget). A task that never suspends and does no I/O is not interrupted.
 *  - A cancelled call never spins: before a suspending call returns -ECANCELED, the task
 *    yields once, so a loop that keeps calling lets the worker's other tasks run.
 *  - A task cancelled before it first runs still runs: its first suspending call fails, so
 *    the code that owns its argument gets to release it.
 *  - Its body still returns a value: cio_task_join() hands back that result and reports,
 *    separately, whether cancellation was requested before the body returned. A task that
 *    finished before the cancel is not cancelled, and its result is kept.
 *  - Cleanup that must wait — join the tasks it started, flush a socket, wait for a reply —
 *    runs inside a cancel shield (cio_cancel_shield_begin): there the cancel is held off and
 *    calls wait as usual, up to the shield's deadline (the C form of tokio letting a dropped
 *    future's destructor run). When the shield ends the cancel applies again.
 *  - Runtime shutdown (cio_rt_shutdown, cio_rt_free) cancels every task, and waits for
 *    their cleanup: for a shielded one, up to its shield's deadline.
 *
 * DEADLINES. Every suspending call returns -ETIMEDOUT when the calling task's deadline in
 * force (cio_deadline_set) has passed, instead of waiting past it.
 *
 * WHICH THREAD A TASK RUNS ON. On a multi-thread runtime with stealing (the default), a task
 * spawned without a worker is shared: when it is woken, any worker may run it — the one that
 * woke it, or an idle one that steals it — so after any suspending call (a read, a sleep, a
 * join, a lock, a yield) it may be on another thread than before. Where it runs in the
 * steady state: the first time a shared task waits on a socket it settles — moves, once, to
 * the worker with the fewest settled tasks — and registers the socket with that worker's
 * reactor, which wakes it there from then on (woken by that socket it runs there; it may move
 * again when it yields or waits on something else); its timers (deadlines, sleeps) never hold
 * it back. So one accept loop's connections spread evenly over the workers. Consequences:
 *  - errno and every __thread / _Thread_local variable read after a suspension may be another
 *    thread's. cio calls return errors as values (never through errno) for this reason; read
 *    errno right after the call that set it, before anything suspends. Keep per-task state in
 *    the task: its argument, its stack, or task-local storage (cio_task_local_*), which
 *    follows the task wherever it runs.
 *  - A pthread mutex (or anything owned by a thread) must not be held across a suspension:
 *    it may be unlocked on another thread, which is undefined. Use cio_mutex (cio/sync.h).
 *  - Thread-affine code — a library with thread-local state, a descriptor you want kept on one
 *    reactor — runs in a task pinned with cio_spawn_options.worker = CIO_WORKER(i), which
 *    never leaves worker i; or the whole runtime runs with no_stealing.
 * The current-thread runtime has one thread: nothing above applies to it.
 *
 * MEMORY OF IDLE TASKS. A task costs its record (a few hundred bytes on the heap) and the
 * pages of its stack it touched; its stack size is address space, not memory. With
 * cio_rt_options.idle_save set (off by default; 1 s suits a server), a task parked that long
 * in a sleep or a socket wait — an idle connection — has its stack saved: the live part (a few
 * hundred bytes, stored as its difference from the stacks of tasks parked at the same place,
 * typically ~100 bytes) goes to the heap and every stack page is given back; the stack is copied
 * back to the same addresses before the task runs again (a few microseconds, once per idle period),
 * so pointers into it stay valid for the task itself. A cio-echo connection parked in a read costs
 * about 1 KiB in all (record, saved stack, socket registration and handle, the server's own state).
 * Waits that keep something others write on the waiting task's stack — joins, channels, notifies,
 * mutexes, semaphores, select, blocking calls — are never saved. The rule that comes with
 * it, and why it is not on by default: while a task waits in a sleep or a socket wait, no
 * other task or thread may read or write its stack through a pointer it handed out — such an
 * access is not detected yet: a read sees zeros and a write is lost when the stack comes back
 * (an accept loop whose stack holds state its connections' tasks read breaks the rule). Turn
 * it on where tasks share data on the heap, or wait for each other in a join or a channel.
 */
#ifndef CIO_RT_H
#define CIO_RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cio/common.h"
#include "cio/poll.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_rt cio_rt;

/* A task's body: receives the spawn argument, returns its result (see cio_task_join). */
typedef void *(*cio_task_fn)(void *arg);

typedef enum cio_rt_flavor {
    CIO_RT_CURRENT_THREAD = 0, /* one worker: the thread that calls cio_rt_block_on() */
    CIO_RT_MULTI_THREAD = 1,   /* N worker threads; block_on's thread only waits */
} cio_rt_flavor;

typedef struct cio_rt_options {
    cio_rt_flavor flavor;
    unsigned workers;           /* multi-thread: worker count; 0 = number of CPUs */
    size_t stack_size;          /* default task stack (address space); 0 = 256 KiB */
    unsigned blocking_threads;  /* blocking pool bound; 0 = 512 */
    cio_duration blocking_idle; /* idle blocking threads retire after this; 0 = 10 s */
    unsigned event_interval;    /* poll the reactor at least every N task runs; 0 = 61 */
    unsigned budget;            /* I/O operations before a task is made to yield; 0 = 128 */
    cio_backend backend;        /* event-core backend of every worker */
    bool no_stealing;           /* multi-thread: tasks stay on the worker they were spawned on
                                   (the spawner's, or round robin from outside): no stealing,
                                   no migration; false = work stealing (tokio's default) */
    cio_duration idle_save;     /* a task parked this long in a socket wait or a sleep has its
                                   stack saved to the heap and its stack pages given back
                                   (copied back to the same addresses when it runs; see
                                   MEMORY OF IDLE TASKS at the top, and its rule); 0 or
                                   < 0 = never (the default) */
} cio_rt_options;

/**
 * cio_rt_new() - create a runtime (no thread starts before cio_rt_block_on()).
 * @ret_rt: receives the runtime, written only on success.
 * @opts: options, or NULL for a current-thread runtime with defaults.
 *
 * Return: 0; -EINVAL for bad options; -ENOMEM; -EMFILE.
 */
CIO_EXPORT int cio_rt_new(cio_rt **ret_rt, const cio_rt_options *opts);

/**
 * cio_rt_block_on() - run @fn as a task and drive the runtime until it returns.
 * @rt: the runtime; one block_on at a time, not from inside a task.
 * @fn, @arg: the main task.
 * @ret_result: receives @fn's return value (may be NULL), written only on success.
 *
 * Other tasks keep running while the main task lives; when it returns, block_on returns
 * (other tasks stay suspended, and run again on the next block_on or are cancelled by
 * cio_rt_free). On a multi-thread runtime the main task runs on worker 0.
 *
 * Return: 0; -ECANCELED if cancellation of the main task was requested before it returned
 * (e.g. cio_rt_shutdown from another thread): @ret_result still receives what it returned;
 * -EBUSY if called from inside a task or while another block_on runs; -EINVAL.
 */
CIO_EXPORT int cio_rt_block_on(cio_rt *rt, cio_task_fn fn, void *arg, void **ret_result);

/**
 * cio_rt_shutdown() - cancel every task of the runtime. Thread safe; callable from any
 * thread, from a task, or from a signal-driven task. Idempotent.
 *
 * Every task is cancelled (see CANCELLATION at the top): woken with -ECANCELED at its
 * suspension point, it runs its cleanup; a running block_on returns once the main task has
 * returned. New spawns fail with -ECANCELED.
 *
 * Return: 0; -EINVAL.
 */
CIO_EXPORT int cio_rt_shutdown(cio_rt *rt);

/**
 * cio_rt_free() - shut down (as cio_rt_shutdown), let every task finish its cleanup (a
 * shielded one up to its shield's deadline), join the worker and blocking threads, release
 * stacks and descriptors. Join handles not yet joined stay valid: join (without waiting) or
 * detach them afterwards. NULL is allowed. Not from inside a task of @rt.
 */
CIO_EXPORT void cio_rt_free(cio_rt *rt);

/**
 * cio_rt_current() - the runtime whose task or worker the caller runs on, or NULL.
 */
CIO_EXPORT cio_rt *cio_rt_current(void);

/**
 * cio_rt_workers() - the number of workers of @rt.
 */
CIO_EXPORT unsigned cio_rt_workers(const cio_rt *rt);

/**
 * cio_rt_worker_index() - the index (0-based) of the worker the caller runs on now, or -1
 * outside a runtime's worker. A shared task may get another value after any suspension (see
 * the top); use it for statistics or to pin (CIO_WORKER(cio_rt_worker_index())), not as an
 * identity.
 */
CIO_EXPORT int cio_rt_worker_index(void);

/* ---- tasks ---- */

/* A task's identity (cio_task_current()): not a handle, nothing to free. */
typedef struct cio_task cio_task;
/* The owner's handle on a task: join it or detach it, once. */
typedef struct cio_join_handle cio_join_handle;

/* A value that names a task for cancelling it, from any task or thread, at any time; copy it
 * freely, there is nothing to free. The fields are private. A zero value names no task. */
typedef struct cio_abort_handle {
    uint32_t slot;
    uint64_t generation;
} cio_abort_handle;

typedef struct cio_spawn_options {
    size_t stack_size; /* 0 = the runtime's default */
    const char *name;  /* shown in stack-overflow reports; copied; NULL = "task" */
    unsigned worker;   /* CIO_WORKER_DEFAULT (0): with stealing, a shared task: it starts on
                          the spawner's worker (from outside the runtime: the injection queue)
                          and may move to any worker when woken; without stealing, the
                          spawner's worker, or round robin from outside. CIO_WORKER(i): pinned
                          to worker i (0-based): it runs there and nowhere else */
} cio_spawn_options;

#define CIO_WORKER_DEFAULT 0u
#define CIO_WORKER(i) ((unsigned)(i) + 1u)

/**
 * cio_spawn() - start a task on the calling task's runtime (queued on the calling worker; on
 * a multi-thread runtime with stealing it may move to another worker, see the top).
 * @ret_handle: receives the join handle (written only on success); NULL detaches the task at
 *              once. A handle must be given to cio_task_join() (until it returns 0) or to
 *              cio_task_detach(), exactly once.
 * @fn, @arg: the task's body and its argument.
 *
 * The new task is queued, not run on the spawner's stack. Call from a task. A task cancelled
 * before it first runs still runs: its first suspending call returns -ECANCELED, so the code
 * that owns @arg gets to release it.
 *
 * Task stacks are carved from shared mappings with guard regions between them (Linux 6.13
 * and later), so a process holds millions of tasks at the kernel's default vm.max_map_count;
 * an idle task costs the stack page it touched. On older kernels each live task holds a stack
 * of two kernel mappings (the stack and its guard page), so a process reaches
 * vm.max_map_count (65530 by default) at about 32,000 tasks; past it, spawning fails with
 * -ENOMEM (raise the sysctl for more).
 *
 * Return: 0; -ECANCELED if the runtime is shutting down; -EPERM outside a task; -ENOMEM.
 */
CIO_EXPORT int cio_spawn(cio_join_handle **ret_handle, cio_task_fn fn, void *arg);

/**
 * cio_spawn_ex() - cio_spawn() with options; @opts may be NULL.
 */
CIO_EXPORT int cio_spawn_ex(cio_join_handle **ret_handle, const cio_spawn_options *opts,
                            cio_task_fn fn, void *arg);

/**
 * cio_rt_spawn() - start a task on @rt from any thread, including threads that are not part
 * of the runtime (the task goes to the injection queue, or to a worker's remote queue, and
 * a worker is woken). On a multi-thread runtime without stealing the worker is chosen round
 * robin unless opts->worker says otherwise.
 * Tasks spawned before the first block_on wait for it.
 *
 * Return: as cio_spawn(), with -EINVAL for a NULL runtime or a bad worker index.
 */
CIO_EXPORT int cio_rt_spawn(cio_rt *rt, cio_join_handle **ret_handle, const cio_spawn_options *opts,
                            cio_task_fn fn, void *arg);

/**
 * cio_task_join() - wait for a task to finish and take its result.
 * @handle: a join handle not yet joined or detached.
 * @ret_result: receives the value the task's body returned (may be NULL).
 * @ret_cancelled: receives whether cancellation of the task was requested before its body
 *                 returned (may be NULL). The result is the body's either way.
 *
 * From a task this suspends; from a thread outside the runtime it blocks the thread. Joining
 * a task that has finished never waits, so it succeeds in a cancelled task too.
 *
 * Return: 0: the task has finished, the outputs are written and @handle is freed.
 * -ECANCELED or -ETIMEDOUT: the *caller* was cancelled or its deadline passed while the task
 * still ran; nothing is written and @handle stays valid: join it again (inside a cancel
 * shield, if the caller is cancelled), detach it, or cancel the task and then join it.
 * -EDEADLK: a task joining itself; -EPERM: from a worker's own context; -EINVAL.
 */
CIO_EXPORT int cio_task_join(cio_join_handle *handle, void **ret_result, bool *ret_cancelled);

/**
 * cio_task_detach() - let the task run to completion on its own; frees the handle (its result
 * is dropped). NULL is allowed.
 */
CIO_EXPORT void cio_task_detach(cio_join_handle *handle);

/**
 * cio_task_cancel() - request cancellation of the task (see CANCELLATION at the top). The
 * handle stays valid: join or detach it as usual. Cancelling a finished task does nothing.
 *
 * Return: 0; -EINVAL for NULL.
 */
CIO_EXPORT int cio_task_cancel(cio_join_handle *handle);

/**
 * cio_task_is_finished() - true once the task has finished (joining it would not wait).
 * Thread safe.
 */
CIO_EXPORT bool cio_task_is_finished(const cio_join_handle *handle);

/**
 * cio_task_abort_handle() - an abort handle for the task of @handle.
 * @ret_abort: receives it (written only on success). If the task has already finished, it
 *             receives a handle that names no task.
 *
 * The first abort handle of a task takes a slot in a process-wide table (freed when the task
 * finishes); later calls return the same value.
 *
 * Return: 0; -EINVAL; -ENOMEM.
 */
CIO_EXPORT int cio_task_abort_handle(const cio_join_handle *handle, cio_abort_handle *ret_abort);

/**
 * cio_task_current_abort_handle() - an abort handle for the calling task, e.g. for a thread
 * that should be able to cancel it.
 *
 * Return: 0; -EPERM outside a task; -EINVAL; -ENOMEM.
 */
CIO_EXPORT int cio_task_current_abort_handle(cio_abort_handle *ret_abort);

/**
 * cio_abort_handle_cancel() - request cancellation of the task @abort names (see
 * CANCELLATION at the top). Any thread, any time: once the task has finished, nothing happens.
 *
 * Return: 0 when the request reached the task before it finished; -ESRCH when the task had
 * finished already (or @abort names no task).
 */
CIO_EXPORT int cio_abort_handle_cancel(cio_abort_handle abort);

/**
 * cio_abort_handle_is_finished() - true once the task @abort names has finished (its body
 * returned), or when @abort names no task. Thread safe.
 */
CIO_EXPORT bool cio_abort_handle_is_finished(cio_abort_handle abort);

/**
 * cio_task_current() - the calling task, or NULL outside a task. The pointer identifies the
 * task; it is not a handle.
 */
CIO_EXPORT cio_task *cio_task_current(void);

/**
 * cio_task_name() - the task's name ("task" when spawned without one).
 */
CIO_EXPORT const char *cio_task_name(const cio_task *task);

/**
 * cio_task_is_cancelled() - true when the calling task is cancelled and no cancel shield is in
 * force: its suspending calls return -ECANCELED.
 */
CIO_EXPORT bool cio_task_is_cancelled(void);

/*
 * A cancel shield: a block of cleanup code in which the calling task's cancellation is held
 * off, bounded by a deadline of its own. Keep the returned value and pass it to
 * cio_cancel_shield_end() when the block ends; shields nest like deadline scopes.
 *
 *     cio_cancel_shield shield = cio_cancel_shield_begin(cio_now() + CIO_NSEC_PER_SEC);
 *     while (cio_join_set_join_next(set, NULL, NULL) == 0)  // waits, even when cancelled
 *         ;                                                 // -ETIMEDOUT after 1 s
 *     cio_cancel_shield_end(shield);
 *
 * The fields are private.
 */
typedef struct cio_cancel_shield {
    cio_time deadline;   /* the deadline in force before */
    bool outer_shielded; /* a shield was in force before */
    bool in_task;        /* begun in a task (else the pair does nothing) */
} cio_cancel_shield;

/**
 * cio_cancel_shield_begin() - hold off the calling task's cancellation until
 * cio_cancel_shield_end().
 * @deadline: absolute monotonic time at which the shielded block's waits give up with
 *            -ETIMEDOUT. It replaces the task's deadline for the block (cleanup gets its own
 *            time even when the task's deadline has passed; an inner cio_deadline_set() can
 *            only shorten it). CIO_DEADLINE_NONE lets the block wait as long as it needs, and
 *            runtime shutdown then waits for it as long.
 *
 * Inside the block the task's suspending calls wait as if it were not cancelled; a cancel
 * that arrives meanwhile is kept and takes effect when the outermost shield ends.
 * Outside a task this does nothing.
 *
 * Return: what cio_cancel_shield_end() needs to restore.
 */
CIO_EXPORT cio_cancel_shield cio_cancel_shield_begin(cio_time deadline);

/**
 * cio_cancel_shield_end() - end a shield: restore the deadline and shield state of @saved.
 * If the task was cancelled, its suspending calls return -ECANCELED again from here on.
 */
CIO_EXPORT void cio_cancel_shield_end(cio_cancel_shield saved);

/**
 * cio_yield() - let the other ready tasks of this worker run, then continue.
 *
 * Return: 0; -ECANCELED (having yielded); -EPERM outside a task. (Yielding does not check the
 * deadline.)
 */
CIO_EXPORT int cio_yield(void);

/* ---- time ---- */

/**
 * cio_sleep() - suspend the calling task for @duration (rounded up to the timer wheel's
 * millisecond; 0 or negative yields).
 *
 * Return: 0; -ECANCELED; -ETIMEDOUT if the task's deadline comes first (it returns at the
 * deadline); -EPERM outside a task.
 */
CIO_EXPORT int cio_sleep(cio_duration duration);

/**
 * cio_sleep_until() - suspend until the monotonic time @when (see cio_now()).
 *
 * Return: as cio_sleep().
 */
CIO_EXPORT int cio_sleep_until(cio_time when);

/**
 * cio_deadline_set() - give the calling task a deadline for a block of code.
 * @deadline: absolute monotonic time; CIO_DEADLINE_NONE for none.
 *
 * Scoped: the effective deadline becomes the earlier of @deadline and the one already in
 * force (an inner scope cannot extend an outer deadline). Restore the returned value with
 * cio_deadline_restore() when the block ends:
 *
 *     cio_time saved = cio_deadline_set(cio_now() + 2 * CIO_NSEC_PER_SEC);
 *     rc = cio_stream_read_exact(s, buf, n);   // -ETIMEDOUT after 2 s
 *     cio_deadline_restore(saved);
 *
 * Return: the previous deadline (CIO_DEADLINE_NONE outside a task, where it has no effect).
 */
CIO_EXPORT cio_time cio_deadline_set(cio_time deadline);
#define CIO_DEADLINE_NONE INT64_MAX

/**
 * cio_deadline_restore() - end a deadline scope: put back the value cio_deadline_set()
 * returned.
 */
CIO_EXPORT void cio_deadline_restore(cio_time saved);

/**
 * cio_deadline() - the calling task's deadline in force (CIO_DEADLINE_NONE if none).
 */
CIO_EXPORT cio_time cio_deadline(void);

/*
 * Timeouts without a set/restore pair (GCC and Clang). A deadline scope shortens the calling
 * task's deadline until the end of the enclosing block and puts the previous one back on
 * every way out of it — falling off the end, return, break, continue, goto — through the
 * compiler's cleanup attribute, so an early exit cannot leak a deadline into the rest of the
 * task. Scopes compose with each other and with cio_deadline_set(): the earliest deadline in
 * force wins (an inner scope cannot extend an outer one), and leaving a scope restores the
 * outer one exactly. Outside a task they have no effect.
 *
 *     ssize_t n = CIO_TIMEOUT(2 * CIO_NSEC_PER_SEC, cio_stream_read(s, buf, len));
 *
 *     {
 *         CIO_TIMEOUT_SCOPE(5 * CIO_NSEC_PER_SEC);   // the whole exchange: 5 s at most
 *         if ((rc = cio_stream_write_all(s, req, req_len, NULL)) < 0)
 *             return rc;                              // the scope ends here too
 *         rc = cio_stream_read_exact(s, reply, reply_len, NULL);
 *     }
 *
 * CIO_TIMEOUT_SCOPE and CIO_DEADLINE_SCOPE are declarations (of a hidden variable): write
 * them as a statement of a block, before or among its other statements. A suspending call
 * inside returns -ETIMEDOUT when any deadline in force passes, with the cancel safety it
 * documents (nothing consumed; write_all/read_exact report what moved); a call that need
 * not wait is not cut short, so a timeout of 0 means "only what is ready now". To
 * tell a scope's own timeout from an outer deadline, look after the scope has ended: the
 * outer one passed if cio_now() >= cio_deadline(). A loop that retries on its per-call
 * timeout must stop then, or every call fails at once:
 *
 *     while ((n = CIO_TIMEOUT(CIO_NSEC_PER_MSEC, cio_stream_read(s, buf, len))) == -ETIMEDOUT
 *            && cio_now() < cio_deadline())
 *         do_idle_work();
 *
 * Portable C without these extensions uses cio_deadline_set()/cio_deadline_restore(), which
 * the scopes are built on.
 */
#if defined(__GNUC__) || defined(__clang__)

/* CIO_DEADLINE_SCOPE(when) - a scope whose deadline is the absolute monotonic time @when. */
#define CIO_DEADLINE_SCOPE(when)                                                                   \
    __attribute__((cleanup(cio__deadline_scope_end), unused)) const cio_time                       \
    CIO__DEADLINE_SCOPE_VAR(__COUNTER__) = cio_deadline_set(when)

/* CIO_TIMEOUT_SCOPE(duration) - a scope whose deadline is @duration from now (a negative or
 * zero duration: already passed; one too long to represent: none). */
#define CIO_TIMEOUT_SCOPE(duration) CIO_DEADLINE_SCOPE(cio__deadline_after(duration))

/* CIO_TIMEOUT(duration, expr) - evaluate @expr (a suspending call) in its own timeout scope;
 * the value is @expr's, of its type. */
#define CIO_TIMEOUT(duration, expr)                                                                \
    __extension__({                                                                                \
        CIO_TIMEOUT_SCOPE(duration);                                                               \
        (expr);                                                                                    \
    })

#define CIO__DEADLINE_SCOPE_VAR(n) CIO__DEADLINE_SCOPE_VAR_(n)
#define CIO__DEADLINE_SCOPE_VAR_(n) cio__deadline_scope_saved_##n

/* The end of a deadline scope (its cleanup). */
static inline void cio__deadline_scope_end(const cio_time *saved)
{
    cio_deadline_restore(*saved);
}

#endif

/* now + @duration, saturated: a deadline @duration from now (private: the scopes' helper). */
static inline cio_time cio__deadline_after(cio_duration duration)
{
    cio_time now = cio_now();
    if (duration > 0 && duration >= CIO_DEADLINE_NONE - now)
        return CIO_DEADLINE_NONE;
    return now + duration;
}

/* A periodic timer: ticks at start + k * period; missed ticks are skipped (not bunched). */
typedef struct cio_interval {
    cio_time next;
    cio_duration period;
} cio_interval;

/**
 * cio_interval_init() - an interval whose first tick is @period from now.
 *
 * Return: 0; -EINVAL if @period <= 0.
 */
CIO_EXPORT int cio_interval_init(cio_interval *interval, cio_duration period);

/**
 * cio_interval_tick() - sleep until the next tick.
 *
 * Return: the number of ticks elapsed since the previous call (1 normally, more when the
 * caller fell behind; the missed ticks are skipped); -ECANCELED; -ETIMEDOUT.
 */
CIO_EXPORT int cio_interval_tick(cio_interval *interval);

/* ---- task-local storage ---- */

typedef unsigned cio_task_key;

/**
 * cio_task_key_new() - a key for one value per task.
 * @destructor: called with the value (if non-NULL) when a task that set it finishes; may be
 *              NULL.
 *
 * Keys are process-wide and never freed; at most 64 exist.
 *
 * Return: 0; -EAGAIN when all keys are taken; -EINVAL.
 */
CIO_EXPORT int cio_task_key_new(cio_task_key *ret_key, void (*destructor)(void *));

/**
 * cio_task_local_set() - set the calling task's value for @key.
 *
 * Return: 0; -EPERM outside a task; -EINVAL for an unknown key.
 */
CIO_EXPORT int cio_task_local_set(cio_task_key key, void *value);

/**
 * cio_task_local_get() - the calling task's value for @key (NULL if unset or outside a task).
 */
CIO_EXPORT void *cio_task_local_get(cio_task_key key);

/* ---- join sets ---- */

typedef struct cio_join_set cio_join_set;

/**
 * cio_join_set_new() - a set of tasks to wait on together (tokio's JoinSet). The set owns
 * its members' join handles.
 *
 * Return: 0; -ENOMEM; -EINVAL.
 */
CIO_EXPORT int cio_join_set_new(cio_join_set **ret_set);

/**
 * cio_join_set_spawn() - spawn a task (as cio_spawn_ex) into the set.
 * @ret_abort: receives an abort handle for the task (may be NULL).
 *
 * Return: as cio_spawn(), and -ENOMEM when an abort handle was asked for and none could be
 * had (the task then runs in the set all the same).
 */
CIO_EXPORT int cio_join_set_spawn(cio_join_set *set, const cio_spawn_options *opts, cio_task_fn fn,
                                  void *arg, cio_abort_handle *ret_abort);

/**
 * cio_join_set_join_next() - wait for any task of the set to finish and take it out.
 * @ret_result, @ret_cancelled: as cio_task_join() (each may be NULL).
 *
 * A finished task is taken without waiting, in a cancelled caller too. Cancel safe: when it
 * returns an error, no finished task was lost.
 *
 * Return: 0 with a finished task's outputs; -ENOENT when the set is empty; -ECANCELED or
 * -ETIMEDOUT: the *caller* was cancelled or its deadline passed before any task finished
 * (drain a set in a cancelled task inside a cancel shield).
 */
CIO_EXPORT int cio_join_set_join_next(cio_join_set *set, void **ret_result, bool *ret_cancelled);

/**
 * cio_join_set_len() - tasks in the set not yet joined.
 */
CIO_EXPORT size_t cio_join_set_len(const cio_join_set *set);

/**
 * cio_join_set_cancel_all() - request cancellation of every task in the set.
 */
CIO_EXPORT void cio_join_set_cancel_all(cio_join_set *set);

/**
 * cio_join_set_free() - cancel the tasks still in the set, detach them (they finish their
 * cleanup on their own, as tokio's JoinSet drop aborts without waiting), drop the results
 * not yet joined, and free the set. Any thread. NULL is allowed. To wait for them instead,
 * cancel them all and join them inside a cancel shield first.
 */
CIO_EXPORT void cio_join_set_free(cio_join_set *set);

/* ---- blocking work ---- */

/**
 * cio_spawn_blocking() - run @fn(@arg) on the runtime's blocking pool and suspend the calling
 * task until it returns.
 * @ret_result: receives @fn's return value (may be NULL), written only on success.
 *
 * The function cannot be interrupted: if the task is cancelled or its deadline passes, this
 * returns -ECANCELED/-ETIMEDOUT at once and the function finishes on its own, its result
 * discarded (@arg must stay valid until then — e.g. owned by the function). A task already
 * cancelled or past its deadline does not start it. If the runtime shuts down before the
 * function has started, it never runs: a function that owns @arg leaks it then, so hand it
 * an @arg whose release does not depend on the function.
 *
 * Return: 0; -ECANCELED; -ETIMEDOUT; -EPERM outside a task; -ENOMEM.
 */
CIO_EXPORT int cio_spawn_blocking(cio_task_fn fn, void *arg, void **ret_result);

/* ---- signals ---- */

/**
 * cio_signal_wait() - suspend until one of @signals (e.g. SIGINT, SIGTERM) is delivered to
 * the process.
 * @signals, @count: the signals to wait for (1 to 8 of them).
 *
 * The first call for a signal installs cio's handler for it (process-wide, for the life of
 * the process: it replaces the program's own handler or SIG_IGN). The handler counts the
 * signal and wakes the waiting tasks through a pipe, whatever thread the kernel delivers it
 * to, so the signal must NOT be blocked in the program's threads (worker threads block
 * asynchronous signals themselves, so delivery goes to the program's threads). Each delivery
 * is returned once: a signal arriving while no task waits is kept for the next wait.
 * Meant for graceful shutdown:
 *
 *     int sig = cio_signal_wait((int[]){SIGINT, SIGTERM}, 2);
 *     cio_rt_shutdown(cio_rt_current());
 *
 * Return: the signal number; -ECANCELED; -ETIMEDOUT; -EINVAL; -EPERM outside a task.
 */
CIO_EXPORT int cio_signal_wait(const int *signals, size_t count);

#ifdef __cplusplus
}
#endif

#endif /* CIO_RT_H */
