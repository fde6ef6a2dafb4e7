/*
 * blocking.h: the runtime's blocking pool (private; tokio's spawn_blocking pool in C). Work
 * that would stall a worker — getaddrinfo, a slow file system call, CPU-heavy code — runs as
 * a job on one of a bounded set of threads, created on demand and retired after they have
 * been idle for a keep-alive time, so an idle program holds no pool threads at all.
 *
 * A job is a `struct cio__blocking_job` embedded in the caller's own record (no allocation
 * per submit). Its `fn(arg)` runs on a pool thread; then `complete(job, 0)` runs on that same
 * thread, with no pool lock held, so it may push the waiting task to its worker's remote queue
 * and wake that worker's cio_poll through its cio_waker, or submit more jobs. Jobs start in
 * FIFO order; at most max_threads run at once; the rest wait in the queue.
 *
 *     struct req { struct cio__blocking_job job; ... };
 *     r->job.fn = work; r->job.arg = r; r->job.complete = done;
 *     int rc = cio__blocking_submit(pool, &r->job);       // 0, or -ECANCELED after shutdown
 *     ... done(&r->job, status) later: status 0 = fn ran, -ECANCELED = dropped at shutdown
 *
 * Shutdown stops accepting jobs, CANCELS the jobs still queued (their complete() runs with
 * -ECANCELED and fn never runs: shutdown must not wait on work nobody has started), lets the
 * running jobs finish, and joins every thread.
 *
 * Thread safety: submit, stats and shutdown may be called from any thread (shutdown from any
 * thread except the pool's own). new/free belong to the pool's owner.
 *
 * A task waits for a job through the offload primitive (offload.h), which cio_spawn_blocking()
 * and the resolver use.
 */
#ifndef CIO_RT_BLOCKING_H
#define CIO_RT_BLOCKING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cio/common.h"
#include "util/list.h"

/* Defaults for a zero field of struct cio__blocking_opts (tokio's values). */
#define CIO__BLOCKING_DEFAULT_MAX_THREADS 512u
#define CIO__BLOCKING_DEFAULT_KEEP_ALIVE (10 * CIO_NSEC_PER_SEC)

struct cio__blocking_pool;
struct cio__blocking_job;

/*
 * Completion of a job, called exactly once per accepted job, after which the pool never
 * touches the job again (the callee may free or reuse it at once).
 * @status: 0 when fn ran (on the pool thread that ran it); -ECANCELED when shutdown dropped
 *          the job before it started (fn did not run; called on the thread calling shutdown).
 * Called with no pool lock held.
 */
typedef void cio__blocking_complete_fn(struct cio__blocking_job *job, int status);

struct cio__blocking_job {
    void (*fn)(void *arg);               /* the blocking work; must not be NULL */
    void *arg;                           /* passed to fn */
    cio__blocking_complete_fn *complete; /* must not be NULL */
    struct cio__list node;               /* private: the queue link */
};

struct cio__blocking_opts {
    unsigned max_threads;    /* 0: CIO__BLOCKING_DEFAULT_MAX_THREADS */
    cio_duration keep_alive; /* idle time before a thread exits; <= 0: the default (10 s) */
    size_t stack_size;       /* 0: the system's default thread stack size */
};

/* A snapshot of the pool's counters. */
struct cio__blocking_stats {
    unsigned threads;   /* live pool threads (running a job or idle) */
    unsigned idle;      /* threads waiting for a job */
    unsigned running;   /* jobs whose fn or complete is executing */
    size_t queued;      /* jobs waiting for a thread */
    uint64_t spawned;   /* threads ever created */
    uint64_t retired;   /* threads that have exited (keep-alive or shutdown) */
    uint64_t completed; /* jobs that ran */
    uint64_t cancelled; /* jobs dropped by shutdown */
};

/**
 * cio__blocking_pool_new() - create a pool with no threads yet.
 * @ret_pool: receives the pool (written only on success).
 * @opts: NULL for all defaults; zero fields take their defaults.
 *
 * Return: 0; -EINVAL on a NULL @ret_pool; -ENOMEM; or the negative errno of a failed
 * mutex/condition variable setup.
 */
int cio__blocking_pool_new(struct cio__blocking_pool **ret_pool,
                           const struct cio__blocking_opts *opts);

/**
 * cio__blocking_submit() - queue @job; it starts when a thread is free (FIFO).
 *
 * Never blocks on the work: wakes an idle thread, or creates a thread when none is idle and
 * fewer than max_threads exist, or leaves the job queued for the next thread that finishes.
 * Any thread may call it, including a pool thread (from a job or a completion).
 *
 * Return: 0 (complete() will be called exactly once); -EINVAL on a NULL pool/job/fn/complete;
 * -ECANCELED once shutdown has begun; -EAGAIN (or another negative errno) when the pool has
 * no thread and none could be created. On error complete() is NOT called.
 */
int cio__blocking_submit(struct cio__blocking_pool *pool, struct cio__blocking_job *job);

/**
 * cio__blocking_pool_shutdown() - stop the pool and wait for its threads.
 *
 * New submits fail with -ECANCELED; queued jobs are cancelled (complete(job, -ECANCELED) on
 * this thread, fn not run); running jobs finish and complete normally; then every thread is
 * joined. Blocks until the last running job is done. Idempotent; concurrent calls all return
 * after the pool has fully stopped.
 *
 * Return: 0; -EDEADLK when called from a pool thread (which would wait for itself);
 * -EINVAL on NULL.
 */
int cio__blocking_pool_shutdown(struct cio__blocking_pool *pool);

/**
 * cio__blocking_pool_free() - shut the pool down (if not already) and free it.
 *
 * Call once, from a thread outside the pool, after every other call on the pool has
 * returned. NULL is a no-op.
 */
void cio__blocking_pool_free(struct cio__blocking_pool *pool);

/**
 * cio__blocking_pool_stats() - the pool's current counters (consistent with each other).
 * @ret_stats: receives them.
 */
void cio__blocking_pool_stats(struct cio__blocking_pool *pool,
                              struct cio__blocking_stats *ret_stats);

#endif
