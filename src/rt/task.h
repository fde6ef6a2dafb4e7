/*
 * task.h: the task object (private) — a task record's life from spawn to free, in one place
 * (task.c). The record is created at the top of its own coroutine stack and handed to its
 * worker (sched.h); when the body returns, the task itself publishes DONE, tells its joiner
 * and its watcher, and the record is freed when the last reference goes:
 *
 *     references   the runtime's: from creation until the scheduler has switched off the
 *                  finished task's stack for the last time (cio__task_release)
 *                  the handle's: from spawn until joined or detached (none when detached at
 *                  spawn); a join set holds its members' handles
 *                  the remote queue's: while a wake from another thread is in flight
 *
 * The scheduler's one call into this layer is cio__task_retain/release, for those references.
 */
#ifndef CIO_RT_TASK_H
#define CIO_RT_TASK_H

#include <stdatomic.h>
#include <stdbool.h>

#include "cio/rt.h"
#include "rt/parker.h"
#include "rt/sched.h"

/* Told once when a task finishes (after DONE is published): a join set keeps its members this
 * way. The callback runs on the finished task's stack, with no lock held; the watcher owns
 * the task's handle reference, and task->watch_node is its own to use. */
struct cio__task_watcher {
    void (*done)(struct cio__task_watcher *watcher, cio_task *task);
};

/* The stacks (and so the task records) outlive the runtime while a record does: a handle may
 * be joined or detached after cio_rt_free(). A home is the runtime's stack pool with a count of
 * the records still on it. */
int cio__task_home_new(struct cio__stack_home **ret_home, size_t default_stack_size);
void cio__task_home_unref(struct cio__stack_home *home);

/*
 * cio__task_spawn() - create a task on @worker's runtime and queue it there (@shared: as a
 * task that may migrate, cio__worker_adopt()).
 * @ret_task: receives it holding a handle reference (for a join handle or a join set), or
 *            NULL for a task detached at once.
 * @watcher: told when it finishes (needs @ret_task), or NULL.
 *
 * Return: 0; -ENOMEM; what the stack pool returns.
 */
int cio__task_spawn(struct cio__stack_home *home, struct cio__worker *worker, bool shared,
                    const cio_spawn_options *opts, cio_task_fn fn, void *arg,
                    struct cio__task_watcher *watcher, cio_task **ret_task);

/* References (see the top): any thread. The last release frees the record. */
static inline void cio__task_retain(cio_task *t)
{
    atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
}
void cio__task_release(cio_task *t);

/* Wait (with @parker, the caller's) until @t is DONE: 0, or the caller's own -ECANCELED or
 * -ETIMEDOUT. */
int cio__task_wait(cio_task *t, struct cio__parker *parker);

/* Take the outputs of a DONE task and drop the handle reference (the handle is gone). */
void cio__task_take(cio_task *t, void **ret_result, bool *ret_cancelled);

/* Take @watcher's claim on @t back before @t finishes: true if it was still there (it will not
 * be called, and the handle reference is the caller's); false if @t is finishing and the
 * callback runs or has run. */
bool cio__task_unwatch(cio_task *t, struct cio__task_watcher *watcher);

#endif
