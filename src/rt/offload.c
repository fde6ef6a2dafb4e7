/*
 * offload.c: cio_spawn_blocking() — run a function on the runtime's blocking pool while the
 * calling task is parked. The call record is shared by the task and the pool job and freed
 * by whichever lets go last, so a task that stops waiting (cancelled, deadline) can leave
 * while the function still runs.
 */
#include <errno.h>
#include <stdlib.h>

#include "rt/parker.h"
#include "rt/runtime.h"

struct blocking_call {
    struct cio__blocking_job job;
    cio_task_fn fn;
    void *arg;
    void *result;
    pthread_mutex_t lock;
    struct cio__parker *waiter; /* NULL once the task stopped waiting */
    bool done;
    int status;
    atomic_int refs;
};

static void call_unref(struct blocking_call *call)
{
    if (atomic_fetch_sub(&call->refs, 1) == 1) {
        pthread_mutex_destroy(&call->lock);
        free(call);
    }
}

static void call_run(void *arg)
{
    struct blocking_call *call = arg;
    call->result = call->fn(call->arg);
}

static void call_complete(struct cio__blocking_job *job, int status)
{
    struct blocking_call *call = cio__container_of(job, struct blocking_call, job);
    pthread_mutex_lock(&call->lock);
    call->done = true;
    call->status = status;
    if (call->waiter != NULL)
        cio__parker_unpark(call->waiter);
    pthread_mutex_unlock(&call->lock);
    call_unref(call);
}

int cio_spawn_blocking(cio_task_fn fn, void *arg, void **ret_result)
{
    cio_rt *rt = cio_rt_current();
    if (rt == NULL || cio__task_self() == NULL)
        return -EPERM;
    if (fn == NULL)
        return -EINVAL;
    int rc = cio__task_cancel_point();
    if (rc < 0)
        return rc;
    struct cio__blocking_pool *pool;
    rc = cio__rt_blocking_pool(rt, &pool);
    if (rc < 0)
        return rc;
    struct blocking_call *call = calloc(1, sizeof(*call));
    if (call == NULL)
        return -ENOMEM;
    call->fn = fn;
    call->arg = arg;
    call->job.fn = call_run;
    call->job.arg = call;
    call->job.complete = call_complete;
    pthread_mutex_init(&call->lock, NULL);
    atomic_init(&call->refs, 2);
    rc = cio__blocking_submit(pool, &call->job);
    if (rc < 0) {
        pthread_mutex_destroy(&call->lock);
        free(call);
        return rc;
    }

    struct cio__parker parker;
    cio__parker_init(&parker);
    pthread_mutex_lock(&call->lock);
    while (!call->done) {
        call->waiter = &parker;
        pthread_mutex_unlock(&call->lock);
        rc = cio__parker_park(&parker, CIO_DEADLINE_NONE);
        pthread_mutex_lock(&call->lock);
        call->waiter = NULL;
        if (rc < 0 && !call->done)
            break; /* leave; the job finishes on its own */
        rc = 0;
    }
    if (call->done) {
        rc = call->status;
        if (rc == 0 && ret_result != NULL)
            *ret_result = call->result;
    }
    pthread_mutex_unlock(&call->lock);
    cio__parker_fini(&parker);
    call_unref(call);
    return rc;
}
