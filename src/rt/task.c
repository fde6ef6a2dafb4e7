/*
 * task.c: the task object — a heap record with its own stack, run by its worker, finished
 * (result kept, DONE published, joiner and watcher told), joined or detached through its join
 * handle, and freed with its stack when the last reference goes (task.h).
 *
 * Finishing and joining meet under the task's join_lock (a spinlock: the critical sections
 * are a few stores): the finishing task sets DONE and reads the joiner under it, the joiner
 * checks DONE and registers under it, so a finish is never missed and a joiner that gave up
 * (cancelled, its deadline) is never woken after it has gone.
 */
#include "rt/task.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "rt/cancel.h"
#include "rt/stack.h"
#include "rt/task_local.h"
#include "rt/watch.h"
#include "util/assert.h"

struct cio__stack_home {
    struct cio__stack_pool *pool;
    atomic_size_t refs; /* the runtime + every task record */
};

int cio__task_home_new(struct cio__stack_home **ret_home, size_t default_stack_size)
{
    struct cio__stack_home *home = calloc(1, sizeof(*home));
    if (home == NULL)
        return -ENOMEM;
    int rc = cio__stack_pool_new(&home->pool, default_stack_size, CIO__STACK_POOL_DEFAULT_CACHED);
    if (rc < 0) {
        free(home);
        return rc;
    }
    atomic_init(&home->refs, 1);
    *ret_home = home;
    return 0;
}

void cio__task_home_unref(struct cio__stack_home *home)
{
    if (home != NULL && atomic_fetch_sub(&home->refs, 1) == 1) {
        cio__stack_pool_free(home->pool);
        free(home);
    }
}

static void task_free(cio_task *t)
{
    struct cio__stack_home *home = t->home;
    void **locals = t->locals;
    char *name = t->name; /* the stack registry points at it until the stack is back */
    cio__coro_destroy(&t->coro);
    free(t);
    free(locals);
    free(name);
    cio__task_home_unref(home);
}

void cio__task_release(cio_task *t)
{
    if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1)
        task_free(t);
}

/* ---- finishing ---- */

static void join_lock(cio_task *t)
{
    while (atomic_flag_test_and_set_explicit(&t->join_lock, memory_order_acquire))
        sched_yield();
}

static void join_unlock(cio_task *t)
{
    atomic_flag_clear_explicit(&t->join_lock, memory_order_release);
}

/* DONE: wake the joiner, then tell the watcher — whoever swaps the watcher out owns the call
 * (see cio__task_unwatch). On the task's own stack; the runtime's reference keeps the record
 * alive until the scheduler has switched off it. */
static void publish_done(cio_task *t)
{
    join_lock(t);
    atomic_fetch_or(&t->state, CIO__TASK_DONE);
    if (t->joiner != NULL)
        cio__parker_unpark(t->joiner);
    join_unlock(t);
    struct cio__task_watcher *watcher = atomic_exchange(&t->watcher, NULL);
    if (watcher != NULL)
        watcher->done(watcher, t);
}

static void task_entry(void *arg)
{
    cio_task *t = arg;
    cio_task_fn fn = t->fn;
    t->result = fn(t->arg); /* (the same field: see struct cio_task) */
    /* The body has returned: from here on a cancel is too late. The abort slot goes first, so
     * that a cancel through an abort handle that reported success is seen just below. */
    cio__abort_retire(t);
    t->was_cancelled = (atomic_load(&t->state) & CIO__TASK_REQUESTED) != 0;
    cio__task_locals_destroy(t);
    publish_done(t);
}

int cio__task_spawn(struct cio__stack_home *home, struct cio__worker *w, bool shared,
                    const cio_spawn_options *opts, cio_task_fn fn, void *arg,
                    struct cio__task_watcher *watcher, cio_task **ret_task)
{
    cio__assert(watcher == NULL || ret_task != NULL);
    /* The record is on the heap, not on the stack: a long-parked task's stack pages are given
     * back (cio__coro_save) while wakers on any thread still touch its record. */
    struct cio__stack stack;
    size_t stack_size = opts != NULL ? opts->stack_size : 0;
    cio_task *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return -ENOMEM;
    int rc = cio__stack_pool_get(home->pool, stack_size, &stack);
    if (rc < 0) {
        free(t);
        return rc;
    }
    if (opts != NULL && opts->name != NULL && (t->name = strdup(opts->name)) == NULL)
        rc = -ENOMEM;
    if (rc == 0)
        rc = cio__coro_init_on(&t->coro, home->pool, &stack, task_entry, t,
                               t->name ? t->name : "task");
    if (rc < 0) {
        free(t->name);
        free(t);
        cio__stack_pool_put(home->pool, &stack);
        return rc;
    }
    t->home = home;
    atomic_fetch_add(&home->refs, 1);
    t->fn = fn;
    t->arg = arg;
    atomic_flag_clear(&t->join_lock);
    atomic_init(&t->refs, ret_task != NULL ? 2 : 1);
    atomic_init(&t->watcher, watcher);
    cio__list_init(&t->watch_node);
    atomic_init(&t->abort_slot, 0);
    if (ret_task != NULL)
        *ret_task = t;
    cio__worker_adopt(w, t, shared);
    return 0;
}

/* ---- joining ---- */

int cio__task_wait(cio_task *t, struct cio__parker *parker)
{
    for (;;) {
        join_lock(t);
        if (atomic_load(&t->state) & CIO__TASK_DONE) {
            join_unlock(t);
            return 0;
        }
        t->joiner = parker;
        join_unlock(t);
        int rc = cio__parker_park_for(parker, CIO_DEADLINE_NONE, CIO__WAIT_JOIN);
        join_lock(t);
        t->joiner = NULL;
        join_unlock(t);
        if (rc < 0 && !(atomic_load(&t->state) & CIO__TASK_DONE))
            return rc;
    }
}

void cio__task_take(cio_task *t, void **ret_result, bool *ret_cancelled)
{
    cio__assert(atomic_load(&t->state) & CIO__TASK_DONE);
    if (ret_result != NULL)
        *ret_result = t->result;
    if (ret_cancelled != NULL)
        *ret_cancelled = t->was_cancelled;
    cio__task_release(t);
}

bool cio__task_unwatch(cio_task *t, struct cio__task_watcher *watcher)
{
    return atomic_compare_exchange_strong(&t->watcher, &watcher, NULL);
}

/* ---- the join handle ---- */

int cio_task_join(cio_join_handle *handle, void **ret_result, bool *ret_cancelled)
{
    cio_task *t = cio__task_of(handle);
    if (t == NULL)
        return -EINVAL;
    if (t == cio__task_self())
        return -EDEADLK;
    if (cio__worker_current() != NULL && cio__task_self() == NULL)
        return -EPERM; /* a worker's own context must not block */
    struct cio__parker parker;
    cio__parker_init(&parker);
    int rc = cio__task_wait(t, &parker);
    cio__parker_fini(&parker);
    if (rc < 0)
        return rc; /* the caller's own: the handle stays */
    cio__task_take(t, ret_result, ret_cancelled);
    return 0;
}

void cio_task_detach(cio_join_handle *handle)
{
    if (handle != NULL)
        cio__task_release(cio__task_of(handle));
}

bool cio_task_is_finished(const cio_join_handle *handle)
{
    return handle != NULL && (atomic_load(&cio__task_of(handle)->state) & CIO__TASK_DONE);
}

cio_task *cio_task_current(void)
{
    return cio__task_self();
}

const char *cio_task_name(const cio_task *task)
{
    if (task == NULL)
        return NULL;
    return task->name ? task->name : "task";
}

/* ---- select's watch (rt/watch.h) ---- */

int cio__task_join_watch(cio_task *t, struct cio__parker *p)
{
    join_lock(t);
    bool done = atomic_load(&t->state) & CIO__TASK_DONE;
    if (!done)
        t->joiner = p;
    else if (t->joiner == p)
        t->joiner = NULL;
    join_unlock(t);
    return done ? 0 : -EAGAIN;
}

void cio__task_join_unwatch(cio_task *t, struct cio__parker *p)
{
    join_lock(t);
    if (t->joiner == p)
        t->joiner = NULL;
    join_unlock(t);
}
