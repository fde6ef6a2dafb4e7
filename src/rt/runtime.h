/*
 * runtime.h: the runtime's lifecycle (private side; the public calls are in cio/rt.h) — the
 * runtime owns its workers (sched.h), the stack home its task records live in (task.h) and
 * the blocking pool (blocking.h); it spawns tasks onto its workers.
 */
#ifndef CIO_RT_RUNTIME_H
#define CIO_RT_RUNTIME_H

#include <pthread.h>
#include <stdatomic.h>

#include "rt/blocking.h"
#include "rt/sched.h"
#include "rt/task.h"

struct cio_rt {
    cio_rt_flavor flavor;
    unsigned nworkers;
    unsigned workers_initialised;
    unsigned threads_started;
    struct cio__worker *workers;
    struct cio__sched_shared sched; /* what the workers share to move tasks (sched.h) */
    struct cio__stack_home *home;   /* the stack pool, shared with the task records */
    struct cio__blocking_opts blocking_opts;
    struct cio__blocking_pool *blocking; /* created on first use, under lock */
    pthread_mutex_t lock;
    bool in_block_on;
    bool sched_initialised;
    atomic_bool shutdown;
    atomic_uint next_worker;
};

/*
 * cio__rt_spawn() - create a task on @rt and queue it on the worker @opts names (or the
 * caller's, or round robin). @ret_task and @watcher as cio__task_spawn(): @ret_task NULL = a
 * detached task.
 *
 * Return: 0; -ECANCELED once the runtime shuts down; -EINVAL for a bad worker index; -ENOMEM.
 */
int cio__rt_spawn(cio_rt *rt, const cio_spawn_options *opts, cio_task_fn fn, void *arg,
                  struct cio__task_watcher *watcher, cio_task **ret_task);

/* The runtime's blocking pool, created on first use. */
int cio__rt_blocking_pool(cio_rt *rt, struct cio__blocking_pool **ret_pool);

#endif
