/*
 * cio/metrics.h: what a runtime is doing — counters per worker and in total (tokio's
 * RuntimeMetrics, libuv's uv_metrics_*), and a dump of its live tasks: name, state, what each
 * waits on and since when, on which worker (what tokio-console shows).
 *
 * COST. The counters are kept whether or not anybody reads them, so they are made cheap to
 * keep: each worker counts in plain fields of its own, with no atomic instruction and no clock
 * read per task run or per event; it publishes them (relaxed stores) each time it turns its
 * reactor — at least every event_interval task runs (cio_rt_options), and before it waits
 * for events. So a reader sees each worker as of its last reactor turn: a worker stuck in one
 * long task run shows the counts of before that run. Time is measured with the clock reads
 * the reactor turn makes anyway. The live-task counts (spawned, finished) are exact at any
 * time.
 *
 * READING. cio_rt_metrics_read() and cio_rt_worker_metrics_read() may be called from any
 * thread, a task of the runtime or not, at any time between cio_rt_new() and cio_rt_free(),
 * and never wait for a worker: a worker's counters are atomic loads (cio_rt_metrics_read()
 * takes the blocking pool's lock for a moment). Every counter only grows, except the levels:
 * tasks_live, the depths and blocking_threads/idle. A total is summed from the workers one
 * after the other, not at one instant.
 *
 * VERSIONING. The structs grow at their end in later versions: set ->size to sizeof the struct
 * you have (CIO_METRICS_INIT does) and the library writes that many bytes, no more.
 *
 * TEXT. cio_rt_dump() writes the counters and the task list as text, for people: a program
 * can call it on a command, or have it written on a signal (cio_rt_dump_on_signal()). The
 * format is stable enough for grep, not a contract.
 *
 *     cio_worker_metrics m = CIO_METRICS_INIT(m);
 *     cio_rt_worker_metrics_read(rt, CIO_METRICS_TOTAL, &m);   // every worker's, summed
 *     printf("%llu tasks live, %llu polls\n", (unsigned long long)m.tasks_live,
 *            (unsigned long long)m.polls);
 *     cio_rt_dump_on_signal(rt, SIGUSR1, STDERR_FILENO);  // kill -USR1 <pid> to see inside
 */
#ifndef CIO_METRICS_H
#define CIO_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "cio/common.h"
#include "cio/rt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Initialise a metrics struct of either kind for a read: zero, with its size set. */
#define CIO_METRICS_INIT(var)                                                                      \
    {                                                                                              \
        .size = sizeof(var)                                                                        \
    }

/* One worker's counters, or every worker's summed (cio_rt_worker_metrics_read()). */
typedef struct cio_worker_metrics {
    size_t size;             /* in: sizeof the caller's struct (CIO_METRICS_INIT) */
    uint64_t tasks_live;     /* tasks owned by the worker not yet finished (queued ones too) */
    uint64_t tasks_spawned;  /* tasks ever given to the worker */
    uint64_t tasks_finished; /* of those, whose body returned (spawned - finished = live) */
    uint64_t polls;          /* task runs: each switch to a task until it parks or yields */
    uint64_t wakes_local;    /* wakes on the worker's own thread that queued a task of its
                                (spawns too; tokio's local_schedule_count) */
    uint64_t wakes_remote;   /* wakes from other threads, each trip through the worker's remote
                                queue (several wakes before the worker takes it count once) */
    uint64_t yields;         /* runs that ended in a yield: cio_yield(), a spent budget, a
                                cancelled wait (the task went back to the queue) */
    uint64_t budget_yields;  /* of those, forced by a spent cooperative budget */
    uint64_t queue_depth;    /* tasks ready to run, waiting on the run queue */
    uint64_t remote_depth;   /* wakes and work from other threads the worker has not taken */
    uint64_t parks;          /* times the worker went to sleep in its reactor, out of work */
    uint64_t reactor_polls;  /* turns of the reactor, sleeping or not */
    uint64_t reactor_events; /* events those turns delivered (readiness, completions, wakes) */
    uint64_t busy_ns;        /* time in the worker loop not asleep: running tasks, polling */
    uint64_t park_ns;        /* time asleep in the reactor, waiting for events or timers */
    uint64_t steals;         /* tasks this worker took from other workers' queues (work
                                stealing: 0 on a runtime that does not share tasks) */
    uint64_t stacks_saved;   /* stacks of long-parked tasks saved and their pages given back
                                (cio_rt_options.idle_save); each is restored when it runs */
} cio_worker_metrics;

/* The runtime's metrics (cio_rt_metrics_read()). */
typedef struct cio_rt_metrics {
    size_t size;                   /* in: sizeof the caller's struct (CIO_METRICS_INIT) */
    unsigned workers;              /* cio_rt_workers() */
    uint64_t tasks_live;           /* tasks not yet finished, on every worker */
    uint64_t blocking_threads;     /* threads of the blocking pool (cio_spawn_blocking()) */
    uint64_t blocking_idle;        /* of those, waiting for a job */
    uint64_t blocking_queue_depth; /* jobs waiting for a thread */
    uint64_t blocking_jobs;        /* jobs the pool ran */
} cio_rt_metrics;

/* The worker index that asks cio_rt_worker_metrics_read() for every worker's counters summed. */
#define CIO_METRICS_TOTAL (~0u)

/**
 * cio_rt_metrics_read() - read the runtime-wide metrics: workers, live tasks, the blocking pool
 * (see the top: any thread, any time). The workers' counters are cio_rt_worker_metrics_read()'s.
 * @rt: the runtime.
 * @ret_metrics: its ->size set to sizeof(cio_rt_metrics) as the caller knows it
 *               (CIO_METRICS_INIT); receives that many bytes.
 *
 * Return: 0; -EINVAL on a NULL argument or a ->size smaller than the first version's.
 */
CIO_EXPORT int cio_rt_metrics_read(cio_rt *rt, cio_rt_metrics *ret_metrics);

/**
 * cio_rt_worker_metrics_read() - read one worker's counters (see the top: any thread, any time).
 * @rt: the runtime.
 * @worker: 0 .. cio_rt_workers(rt) - 1, or CIO_METRICS_TOTAL for every worker's summed
 *          (levels summed too: the queue depths are the runtime's).
 * @ret_metrics: its ->size set (CIO_METRICS_INIT); receives that many bytes.
 *
 * Return: 0; -EINVAL on a NULL argument, a bad ->size or a worker index out of range.
 */
CIO_EXPORT int cio_rt_worker_metrics_read(cio_rt *rt, unsigned worker,
                                          cio_worker_metrics *ret_metrics);

/* What cio_rt_dump() writes (an or of these). */
enum {
    CIO_DUMP_METRICS = 1u << 0, /* the counters, total and per worker */
    CIO_DUMP_TASKS = 1u << 1,   /* the live tasks */
    CIO_DUMP_ALL = CIO_DUMP_METRICS | CIO_DUMP_TASKS,
};

/**
 * cio_rt_dump() - write the runtime's metrics and/or its live tasks as text to @fd.
 * @rt: the runtime.
 * @what: CIO_DUMP_METRICS, CIO_DUMP_TASKS or both (CIO_DUMP_ALL).
 * @fd: where to write (a terminal, a file, a socket...); written with write(2), blocking
 *      the caller while it does if @fd blocks.
 *
 * The metrics are a line for the runtime ("runtime: workers=2 tasks_live=..."), one for the
 * total ("total: ...") and one per worker ("worker 0: ..."), of key=value pairs named as the
 * fields of the structs above. The tasks are one line per live task, grouped by worker:
 *
 *     worker 0: 3 live
 *       task 0x7f1c2a3ffe40 "main" running
 *       task 0x7f1c2a1ffe40 "conn" parked 1.250s: readiness of fd 9 (read)
 *       task 0x7f1c29fffe40 "ticker" parked 0.020s: sleep, deadline in 0.980s
 *
 * A state is running, runnable (queued) or parked, with "cancelled" when it was asked to
 * stop. A parked task's wait is one of: readiness of fd N (read, write, priority or
 * completion), sleep, join, join set, channel, mutex, semaphore, notify, blocking job,
 * signal, timer (a park with only a deadline), or "unknown"; with its deadline when it has
 * one. The time since it parked is known
 * to the resolution of its worker's reactor turns. A wait on a socket registered with another
 * worker shows as "unknown".
 *
 * The task list is read by each worker on its own thread, between two task runs: a call from
 * a task suspends it until the other workers answered; from any other thread, the call
 * waits for them. A worker that does not answer within a second — stuck in a task run that
 * never yields, or not running (a current-thread runtime outside cio_rt_block_on()) — is
 * reported as not answering. Not from a wake callback run by @rt's reactor (cio/io.h's
 * poll_* callbacks): that worker cannot wait for itself.
 *
 * Return: 0; -EINVAL; -EDEADLK (CIO_DUMP_TASKS from a reactor callback of @rt); -ENOMEM; a
 * write error (negative errno) of @fd.
 */
CIO_EXPORT int cio_rt_dump(cio_rt *rt, unsigned what, int fd);

/**
 * cio_rt_dump_string() - cio_rt_dump() into a string.
 * @ret_text: receives a NUL-terminated string the caller frees with free(), written only on
 *            success.
 * @ret_len: receives its length (may be NULL).
 *
 * Return: 0; -EINVAL; -EDEADLK; -ENOMEM.
 */
CIO_EXPORT int cio_rt_dump_string(cio_rt *rt, unsigned what, char **ret_text, size_t *ret_len);

/**
 * cio_rt_dump_on_signal() - write cio_rt_dump(@rt, CIO_DUMP_ALL, @fd) each time @sig arrives.
 * @rt: the runtime.
 * @sig: the signal (SIGUSR1 is the custom one), as cio_signal_wait() accepts.
 * @fd: where to write; it must stay open as long as @rt lives.
 *
 * Installs @sig's handler at once (from here on @sig no longer has its default action) and
 * spawns a task on @rt, named "cio-dump", that waits for it (cio_signal_wait()). The handler
 * only counts the signal and wakes the runtime; the dump is written by that task. So the
 * runtime must be running (inside cio_rt_block_on()) for the dump to appear; signals that
 * arrive meanwhile are counted and answered then. The task ends when @rt shuts down; it
 * shows in the dumps it writes, running.
 *
 * Return: 0; -EINVAL (a signal cio_signal_wait() refuses); -ECANCELED (@rt is shutting down);
 * -ENOMEM.
 */
CIO_EXPORT int cio_rt_dump_on_signal(cio_rt *rt, int sig, int fd);

#ifdef __cplusplus
}
#endif

#endif /* CIO_METRICS_H */
