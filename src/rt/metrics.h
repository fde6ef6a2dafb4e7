/*
 * metrics.h: a worker's counters and a parked task's wait, as the scheduler keeps them
 * (private; the public side is cio/metrics.h, the reading and the dump metrics.c).
 *
 * The hot path pays plain increments of fields only the worker's thread touches: a run-queue
 * push (one add), a park's timestamp (a load and a store of the worker's cached clock). Task
 * runs cost nothing: the scheduler's fairness count (w->ticks) already counts them and is
 * folded in at each reactor turn. At each reactor turn the worker publishes the totals with
 * relaxed atomic stores (plain moves on x86_64 and aarch64), which any thread may read; the
 * turn's clock reads, made anyway for the timer wheel, give the busy and sleeping times.
 * What is not counted is derived when read:
 *
 *     polls        = published polls
 *     queue depth  = pushes - polls                      (every pop is a run)
 *                    + the local queue and the LIFO slot (shared tasks, counted as pushed
 *                    only where a worker takes them to run)
 *     wakes local  = pushes - yield requeues - pushes by remote wakes
 *
 * Only spawned is an atomic read-modify-write (any thread spawns; it replaced the live count,
 * which was one) and finished a release store per task; live = spawned - finished.
 */
#ifndef CIO_RT_METRICS_H
#define CIO_RT_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "cio/common.h"

/* What a parked task waits for, when the wait says so (cio__parker_park_for()); waits on a
 * socket are found from the io layer's waiter lists instead (cio__worker_ext_waits()), so the
 * I/O fast path stores nothing. */
enum cio__wait_kind {
    CIO__WAIT_NONE,
    CIO__WAIT_SLEEP,
    CIO__WAIT_JOIN,
    CIO__WAIT_JOIN_SET,
    CIO__WAIT_CHANNEL,
    CIO__WAIT_MUTEX,
    CIO__WAIT_SEMAPHORE,
    CIO__WAIT_NOTIFY,
    CIO__WAIT_BLOCKING,
    CIO__WAIT_SIGNAL,
    CIO__WAIT_DUMP,
    CIO__WAIT_SOCKET, /* a socket of another worker's, or of a shared task (io.c) */
};

/* What a task waits for, and since when, are written by the task (or, for a shared task, by
 * the worker it leaves) and read by a dump on another thread: relaxed atomics, plain moves. */
#define cio__task_set_wait(t, what)                                                                \
    __atomic_store_n(&(t)->wait_kind, (uint8_t)(what), __ATOMIC_RELAXED)
#define cio__task_set_parked_at(t, when) __atomic_store_n(&(t)->parked_at, (when), __ATOMIC_RELAXED)

struct cio__worker_counters {
    /* the worker's thread only */
    uint64_t polls;         /* task runs folded in from w->ticks at each reactor turn */
    uint64_t pushes;        /* run-queue pushes */
    uint64_t yields;        /* runs that ended in a yield (requeued) */
    uint64_t budget_yields; /* of those, a spent budget */
    uint64_t remote_wakes;  /* tasks taken from the remote queue */
    uint64_t remote_pushes; /* of the pushes, those of remote wakes */
    uint64_t parks, reactor_polls, reactor_events;
    uint64_t busy_ns, park_ns;
    cio_time clock; /* the end of the last reactor turn: a parked task's "since" */
    /* published: written by the worker's thread, read by any */
    _Atomic uint64_t pub_polls;
    _Atomic uint64_t pub_wakes_local, pub_wakes_remote, pub_yields, pub_budget_yields;
    _Atomic uint64_t pub_queue_depth, pub_parks, pub_reactor_polls, pub_reactor_events;
    _Atomic uint64_t pub_busy_ns, pub_park_ns;
    _Atomic uint64_t finished; /* the worker's thread stores (release) */
    _Atomic uint64_t spawned;  /* any thread adds */
};

struct cio__worker;

/* The worker's reactor turn (sched.c calls these, on the worker's thread): about to sleep at
 * @now (the busy time ends; publish so that a reader sees the counts of before the sleep);
 * and a turn ended at @now, having delivered @events, after sleeping since @wait_start (0: it
 * did not sleep). */
void cio__metrics_wait_begin(struct cio__worker *worker, cio_time now);
void cio__metrics_turn_end(struct cio__worker *worker, int events, cio_time wait_start,
                           cio_time now);

#endif
