/*
 * offload.c: blocking work on the runtime's blocking pool while the calling task is parked
 * (see offload.h) — the shared record freed by whichever side lets go last — and
 * cio_spawn_blocking(), the public form of it.
 */
#include "rt/offload.h"

#include <errno.h>
#include <stdlib.h>

#include "rt/parker.h"
#include "rt/runtime.h"
#include "rt/sched.h"
#include "util/compiler.h"

static void offload_run(void *arg)
{
    struct cio__offload *op = arg;
    op->run(op);
}

/* The pool is done with the job: it ran (status 0), or shutdown dropped it (-ECANCELED). */
static void offload_complete(struct cio__blocking_job *job, int status)
{
    struct cio__offload *op = cio__container_of(job, struct cio__offload, job);
    pthread_mutex_lock(&op->lock);
    op->done = true;
    op->status = status;
    if (op->waiter != NULL)
        cio__parker_unpark(op->waiter);
    pthread_mutex_unlock(&op->lock);
    cio__offload_put(op);
}

void cio__offload_put(struct cio__offload *op)
{
    if (atomic_fetch_sub_explicit(&op->refs, 1, memory_order_acq_rel) != 1)
        return;
    pthread_mutex_destroy(&op->lock);
    op->release(op);
}

int cio__offload_call(struct cio__offload *op)
{
    cio__assert(op != NULL && op->run != NULL && op->release != NULL);
    pthread_mutex_init(&op->lock, NULL);
    op->waiter = NULL;
    op->done = false;
    op->status = 0;
    atomic_init(&op->refs, 1); /* the caller's */

    cio_rt *rt = cio_rt_current();
    if (rt == NULL || cio__task_self() == NULL)
        return -EPERM;
    int rc = cio__task_cancel_point(); /* a cancelled task yields, then -ECANCELED */
    if (rc < 0)
        return rc;
    if (cio_now() >= cio__task_deadline())
        return -ETIMEDOUT;
    struct cio__blocking_pool *pool;
    rc = cio__rt_blocking_pool(rt, &pool);
    if (rc < 0)
        return rc;
    op->job.fn = offload_run;
    op->job.arg = op;
    op->job.complete = offload_complete;
    atomic_store_explicit(&op->refs, 2, memory_order_relaxed); /* and the job's */
    rc = cio__blocking_submit(pool, &op->job);
    if (rc < 0) {
        atomic_store_explicit(&op->refs, 1, memory_order_relaxed); /* no completion will come */
        return rc;
    }

    struct cio__parker parker;
    cio__parker_init(&parker);
    pthread_mutex_lock(&op->lock);
    while (!op->done) {
        op->waiter = &parker;
        pthread_mutex_unlock(&op->lock);
        rc = cio__parker_park_for(&parker, CIO_DEADLINE_NONE,
                                  CIO__WAIT_BLOCKING); /* + its deadline */
        pthread_mutex_lock(&op->lock);
        op->waiter = NULL;
        if (rc < 0 && !op->done)
            break; /* cancelled or past the deadline: the job finishes without us */
    }
    if (op->done)
        rc = op->status;
    pthread_mutex_unlock(&op->lock);
    cio__parker_fini(&parker);
    return rc;
}

/* ---- cio_spawn_blocking ---- */

struct blocking_call {
    struct cio__offload op;
    cio_task_fn fn;
    void *arg;
    void *result;
};

static void call_run(struct cio__offload *op)
{
    struct blocking_call *call = cio__container_of(op, struct blocking_call, op);
    call->result = call->fn(call->arg);
}

static void call_release(struct cio__offload *op)
{
    free(cio__container_of(op, struct blocking_call, op));
}

int cio_spawn_blocking(cio_task_fn fn, void *arg, void **ret_result)
{
    if (cio__task_self() == NULL)
        return -EPERM;
    if (fn == NULL)
        return -EINVAL;
    struct blocking_call *call = calloc(1, sizeof(*call));
    if (call == NULL)
        return -ENOMEM;
    call->fn = fn;
    call->arg = arg;
    call->op.run = call_run;
    call->op.release = call_release;
    int rc = cio__offload_call(&call->op);
    if (rc == 0 && ret_result != NULL)
        *ret_result = call->result;
    cio__offload_put(&call->op);
    return rc;
}
