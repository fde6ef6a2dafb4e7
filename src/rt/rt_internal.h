/*
 * rt_internal.h: what the runtime's own files share (private to src/rt): the runtime struct
 * and the task-lifecycle helpers split between sched.c (running tasks) and task.c (joining,
 * cancelling, task-local storage, join sets).
 */
#ifndef CIO_RT_INTERNAL_H
#define CIO_RT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "rt/blocking.h"
#include "rt/sched.h"
#include "rt/stack.h"

struct cio_rt {
    cio_rt_flavor flavor;
    unsigned nworkers;
    unsigned workers_initialised;
    unsigned threads_started;
    cio_backend backend;
    unsigned event_interval;
    unsigned budget;
    struct cio__worker *workers;
    struct cio__stack_home *home; /* the stack pool, shared with the task records */
    struct cio__blocking_opts blocking_opts;
    struct cio__blocking_pool *blocking; /* created on first use, under lock */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool in_block_on;
    atomic_bool shutdown;
    atomic_uint next_worker;
    atomic_size_t live; /* tasks not yet finished, all workers */
};

/* Create a task and queue it on the worker @opts names (or the caller's, or round robin);
 * @ret_task NULL = detached; @set non-NULL = a member of that join set, which the caller has
 * locked (sched.c). */
int cio__rt_spawn(cio_rt *rt, const cio_spawn_options *opts, cio_task_fn fn, void *arg,
                  cio_task **ret_task, cio_join_set *set);
/* Drop one reference; the last frees the task (sched.c). */
void cio__task_unref(cio_task *t);

/* task.c */
/* Mark the task DONE and wake whoever waits for it (its joiner, its join set). */
void cio__join_publish_done(cio_task *t);
/* Wait (with @parker) until the task is DONE: 0, or the caller's -ECANCELED/-ETIMEDOUT. */
int cio__join_wait(cio_task *t, struct cio__parker *parker);
/* Take the result of a DONE task and release the handle: 0 or -ECANCELED. */
int cio__join_take(cio_task *t, void **ret_result);
/* Make @t a member of @set (locked by the caller), before @t is queued. */
void cio__join_set_attach(cio_join_set *set, cio_task *t);
/* Run the task-local destructors of the calling task (at the end of its body). */
void cio__task_locals_destroy(cio_task *t);

#endif
