/*
 * offload.h: run a call on the runtime's blocking pool while the calling task waits (private)
 * — the one primitive behind cio_spawn_blocking() and the resolver (src/io/resolve.c).
 *
 * The caller embeds a `struct cio__offload` in a record of its own (malloc'd) that holds the
 * call's inputs and outputs, and sets `run` (the blocking work, on a pool thread) and
 * `release` (frees the record and any output nobody took). The record is shared by the
 * waiting task and the pool job, and the last of the two to let go calls `release`: a task
 * that stops waiting — cancelled, past its deadline — leaves at once while the call runs on,
 * and whatever the call produces is freed when it finishes, on the pool thread. No output is
 * ever lost or leaked, whichever side finishes first.
 *
 *     struct lookup { struct cio__offload op; char *in; struct addrinfo *out; };
 *     lk->op.run = lookup_run; lk->op.release = lookup_release;   // release: free out, lk
 *     int rc = cio__offload_call(&lk->op);  // parks; 0: run() finished
 *     if (rc == 0) { use = lk->out; lk->out = NULL; }             // take the output
 *     cio__offload_put(&lk->op);            // always, once; the last put calls release()
 *
 *            task                                pool thread
 *     call: refs = 2, submit ──────────────────► run(op)
 *           park ◄───────── wake ─────────────── done = true; put ─┐
 *           (or leave early: cancelled/deadline)                    ├─ the second put
 *     put ──────────────────────────────────────────────────────────┘  calls release(op)
 */
#ifndef CIO_RT_OFFLOAD_H
#define CIO_RT_OFFLOAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "rt/blocking.h"

struct cio__parker;

struct cio__offload {
    /* Set by the caller before cio__offload_call(). */
    void (*run)(struct cio__offload *op);     /* the blocking work, on a pool thread */
    void (*release)(struct cio__offload *op); /* frees the record: on whichever thread puts last */
    /* Private: set by cio__offload_call(). */
    struct cio__blocking_job job;
    pthread_mutex_t lock;       /* guards waiter, done, status */
    struct cio__parker *waiter; /* the parked task; NULL once it stopped waiting */
    bool done;                  /* the pool finished with the job (ran it, or dropped it) */
    int status;                 /* 0: run() ran; -ECANCELED: dropped by the pool's shutdown */
    atomic_int refs;
};

/**
 * cio__offload_call() - submit @op to the calling task's runtime's blocking pool and park
 * until run() has returned.
 *
 * Checks cancellation and the task's deadline before submitting: work nobody would wait for
 * is not started. After any return the caller holds one reference and must drop it with
 * cio__offload_put() once; on 0 it may first read (and take) the outputs run() left in the
 * record.
 *
 * Return: 0 (run() finished); -ECANCELED (the task was cancelled, or the runtime shut down
 * before run() started: it never will); -ETIMEDOUT (the task's deadline); -EPERM outside a
 * task; -ENOMEM or another negative errno when the pool could not take the job.
 */
int cio__offload_call(struct cio__offload *op);

/**
 * cio__offload_put() - drop the caller's reference; the last of the two calls release().
 */
void cio__offload_put(struct cio__offload *op);

#endif
