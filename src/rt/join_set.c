/*
 * join_set.c: join sets (tokio's JoinSet) — a set owns its members' join handles and watches
 * them (task.h's watcher): a member that finishes moves itself from the set's running list to
 * its done list and wakes the set's waiter, so join_next takes finished members in the order
 * they finished.
 *
 * A set freed while members still run is closed: the members it can still claim back
 * (cio__task_unwatch) are cancelled and detached at once; one that is finishing at that very
 * moment finds the set closed and drops its handle itself. The set's memory lives until the
 * last such member has let go of it (refs).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "rt/cancel.h"
#include "rt/parker.h"
#include "rt/runtime.h"
#include "rt/task.h"
#include "rt/watch.h"

struct cio_join_set {
    pthread_mutex_t lock;
    struct cio__task_watcher watcher;
    struct cio__list running; /* member tasks not finished (task->watch_node) */
    struct cio__list done;    /* finished, result not taken */
    struct cio__parker *waiter;
    size_t len;
    bool closed;     /* freed by its owner; members still finishing drop themselves */
    atomic_int refs; /* the owner + each member whose watcher has not run */
};

static void set_unref(cio_join_set *set)
{
    if (atomic_fetch_sub(&set->refs, 1) == 1) {
        pthread_mutex_destroy(&set->lock);
        free(set);
    }
}

/* A member finished (on its own stack, no lock held). */
static void member_done(struct cio__task_watcher *watcher, cio_task *t)
{
    cio_join_set *set = cio__container_of(watcher, cio_join_set, watcher);
    bool drop_handle = false;
    pthread_mutex_lock(&set->lock);
    cio__list_remove(&t->watch_node);
    if (set->closed) {
        drop_handle = true;
    } else {
        cio__list_push_back(&set->done, &t->watch_node);
        if (set->waiter != NULL)
            cio__parker_unpark(set->waiter);
    }
    pthread_mutex_unlock(&set->lock);
    if (drop_handle)
        cio__task_release(t);
    set_unref(set);
}

int cio_join_set_new(cio_join_set **ret_set)
{
    if (ret_set == NULL)
        return -EINVAL;
    cio_join_set *set = calloc(1, sizeof(*set));
    if (set == NULL)
        return -ENOMEM;
    pthread_mutex_init(&set->lock, NULL);
    set->watcher.done = member_done;
    cio__list_init(&set->running);
    cio__list_init(&set->done);
    atomic_init(&set->refs, 1);
    *ret_set = set;
    return 0;
}

int cio_join_set_spawn(cio_join_set *set, const cio_spawn_options *opts, cio_task_fn fn, void *arg,
                       cio_abort_handle *ret_abort)
{
    if (set == NULL || fn == NULL)
        return -EINVAL;
    cio_rt *rt = cio_rt_current();
    if (rt == NULL)
        return -EPERM;
    /* The set lock is held across the spawn, so a member that finishes at once on another
     * worker finds itself on the running list when member_done takes the lock. */
    cio_task *t;
    pthread_mutex_lock(&set->lock);
    int rc = cio__rt_spawn(rt, opts, fn, arg, &set->watcher, &t);
    if (rc == 0) {
        atomic_fetch_add(&set->refs, 1);
        cio__list_push_back(&set->running, &t->watch_node);
        set->len++;
    }
    pthread_mutex_unlock(&set->lock);
    /* The member cannot be freed meanwhile: the set holds its handle until it is joined. */
    if (rc == 0 && ret_abort != NULL)
        rc = cio__abort_handle_of(t, ret_abort);
    return rc;
}

int cio_join_set_join_next(cio_join_set *set, void **ret_result, bool *ret_cancelled)
{
    if (set == NULL)
        return -EINVAL;
    struct cio__parker parker;
    cio__parker_init(&parker);
    int rc;
    pthread_mutex_lock(&set->lock);
    for (;;) {
        struct cio__list *node = cio__list_pop_front(&set->done);
        if (node != NULL) {
            set->len--;
            pthread_mutex_unlock(&set->lock);
            cio__task_take(cio__list_entry(node, cio_task, watch_node), ret_result, ret_cancelled);
            rc = 0;
            break;
        }
        if (set->len == 0) {
            pthread_mutex_unlock(&set->lock);
            rc = -ENOENT;
            break;
        }
        set->waiter = &parker;
        pthread_mutex_unlock(&set->lock);
        rc = cio__parker_park_for(&parker, CIO_DEADLINE_NONE, CIO__WAIT_JOIN_SET);
        pthread_mutex_lock(&set->lock);
        set->waiter = NULL;
        if (rc < 0 && cio__list_empty(&set->done)) {
            pthread_mutex_unlock(&set->lock);
            break;
        }
    }
    cio__parker_fini(&parker);
    return rc;
}

size_t cio_join_set_len(const cio_join_set *set)
{
    if (set == NULL)
        return 0;
    pthread_mutex_lock((pthread_mutex_t *)&set->lock);
    size_t len = set->len;
    pthread_mutex_unlock((pthread_mutex_t *)&set->lock);
    return len;
}

void cio_join_set_cancel_all(cio_join_set *set)
{
    if (set == NULL)
        return;
    pthread_mutex_lock(&set->lock);
    struct cio__list *it;
    cio__list_foreach(it, &set->running)
    {
        cio__task_cancel(cio__list_entry(it, cio_task, watch_node));
    }
    pthread_mutex_unlock(&set->lock);
}

void cio_join_set_free(cio_join_set *set)
{
    if (set == NULL)
        return;
    struct cio__list *it, *tmp;
    pthread_mutex_lock(&set->lock);
    set->closed = true;
    cio__list_foreach_safe(it, tmp, &set->running)
    {
        cio_task *t = cio__list_entry(it, cio_task, watch_node);
        cio__task_cancel(t);
        if (cio__task_unwatch(t, &set->watcher)) {
            /* Claimed here: member_done will not run for this task. */
            cio__list_remove(&t->watch_node);
            cio__task_release(t);
            atomic_fetch_sub(&set->refs, 1);
        }
        /* Otherwise the task is finishing right now and drops itself (set->closed). */
    }
    cio__list_foreach_safe(it, tmp, &set->done)
    {
        cio_task *t = cio__list_entry(it, cio_task, watch_node);
        cio__list_remove(&t->watch_node);
        cio__task_release(t);
    }
    pthread_mutex_unlock(&set->lock);
    set_unref(set);
}

/* ---- select's watch (rt/watch.h) ---- */

int cio__join_set_watch(cio_join_set *set, struct cio__parker *p, void **ret_result,
                        bool *ret_cancelled)
{
    pthread_mutex_lock(&set->lock);
    struct cio__list *node = cio__list_pop_front(&set->done);
    if (node == NULL) {
        set->waiter = p;
        pthread_mutex_unlock(&set->lock);
        return -EAGAIN;
    }
    set->len--;
    if (set->waiter == p)
        set->waiter = NULL;
    pthread_mutex_unlock(&set->lock);
    cio__task_take(cio__list_entry(node, cio_task, watch_node), ret_result, ret_cancelled);
    return 0;
}

void cio__join_set_unwatch(cio_join_set *set, struct cio__parker *p)
{
    pthread_mutex_lock(&set->lock);
    if (set->waiter == p)
        set->waiter = NULL;
    pthread_mutex_unlock(&set->lock);
}
