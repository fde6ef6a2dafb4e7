/*
 * task.c: what happens to a task around its body — parkers (the one way anything in cio
 * waits, task or thread), joining, detaching, cancelling, task-local storage and join sets.
 *
 * Finishing and joining meet under the task's join_lock (a spinlock: the critical sections
 * are a few stores): the worker sets DONE and reads the joiner under it, the joiner checks
 * DONE and registers under it, so a finish is never missed and a joiner that gave up (its
 * deadline) is never woken after it has gone.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>

#include "rt/rt_internal.h"
#include "util/assert.h"

#define MAX_KEYS 64

/* ---- parkers ---- */

void cio__parker_init_thread(struct cio__parker *p)
{
    pthread_condattr_t ca;
    pthread_mutex_init(&p->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cond, &ca);
    pthread_condattr_destroy(&ca);
}

void cio__parker_fini_thread(struct cio__parker *p)
{
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
}

void cio__parker_unpark_thread(struct cio__parker *p)
{
    pthread_mutex_lock(&p->lock);
    p->notified = true;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

int cio__parker_park_thread(struct cio__parker *p, cio_time deadline)
{
    int rc = 0;
    pthread_mutex_lock(&p->lock);
    while (!p->notified) {
        if (deadline == CIO_DEADLINE_NONE) {
            pthread_cond_wait(&p->cond, &p->lock);
        } else {
            struct timespec ts = {.tv_sec = deadline / CIO_NSEC_PER_SEC,
                                  .tv_nsec = deadline % CIO_NSEC_PER_SEC};
            if (pthread_cond_timedwait(&p->cond, &p->lock, &ts) == ETIMEDOUT && !p->notified) {
                rc = -ETIMEDOUT;
                break;
            }
        }
    }
    p->notified = false;
    pthread_mutex_unlock(&p->lock);
    return rc;
}

/* ---- joining ---- */

static void join_lock(cio_task *t)
{
    while (atomic_flag_test_and_set_explicit(&t->join_lock, memory_order_acquire))
        sched_yield();
}

static void join_unlock(cio_task *t)
{
    atomic_flag_clear_explicit(&t->join_lock, memory_order_release);
}

struct cio_join_set {
    pthread_mutex_t lock;
    struct cio__list running; /* member tasks not finished */
    struct cio__list done;    /* finished, result not taken */
    struct cio__parker *waiter;
    size_t len;
    bool closed;     /* freed by its owner; members still finishing drop themselves */
    atomic_int refs; /* the owner + each member not yet claimed */
};

static void set_unref(cio_join_set *set)
{
    if (atomic_fetch_sub(&set->refs, 1) == 1) {
        pthread_mutex_destroy(&set->lock);
        free(set);
    }
}

void cio__join_publish_done(cio_task *t)
{
    join_lock(t);
    unsigned s = atomic_fetch_or(&t->state, CIO__TASK_DONE);
    t->was_cancelled = (s & CIO__TASK_CANCELLED) != 0;
    if (t->joiner != NULL)
        cio__parker_unpark(t->joiner);
    join_unlock(t);

    /* Whoever swaps the set pointer out owns the member's reference (see join_set_free). */
    cio_join_set *set = atomic_exchange(&t->join_set, NULL);
    if (set == NULL)
        return;
    bool drop_handle = false;
    pthread_mutex_lock(&set->lock);
    cio__list_remove(&t->set_node);
    if (set->closed) {
        drop_handle = true;
    } else {
        cio__list_push_back(&set->done, &t->set_node);
        if (set->waiter != NULL)
            cio__parker_unpark(set->waiter);
    }
    pthread_mutex_unlock(&set->lock);
    if (drop_handle)
        cio__task_unref(t);
    set_unref(set);
}

int cio__join_wait(cio_task *t, struct cio__parker *parker)
{
    for (;;) {
        join_lock(t);
        if (atomic_load(&t->state) & CIO__TASK_DONE) {
            join_unlock(t);
            return 0;
        }
        t->joiner = parker;
        join_unlock(t);
        int rc = cio__parker_park(parker, CIO_DEADLINE_NONE);
        join_lock(t);
        t->joiner = NULL;
        join_unlock(t);
        if (rc < 0 && !(atomic_load(&t->state) & CIO__TASK_DONE))
            return rc;
    }
}

int cio__join_take(cio_task *t, void **ret_result)
{
    int rc = t->was_cancelled ? -ECANCELED : 0;
    if (rc == 0 && ret_result != NULL)
        *ret_result = t->result;
    cio__task_unref(t);
    return rc;
}

int cio_task_join(cio_task *task, void **ret_result)
{
    if (task == NULL)
        return -EINVAL;
    if (task == cio__task_self())
        return -EDEADLK;
    if (cio__worker_current() != NULL && cio__task_self() == NULL)
        return -EPERM; /* a worker's own context must not block */
    struct cio__parker parker;
    cio__parker_init(&parker);
    int rc = cio__join_wait(task, &parker);
    cio__parker_fini(&parker);
    if (rc < 0)
        return rc;
    return cio__join_take(task, ret_result);
}

void cio_task_detach(cio_task *task)
{
    if (task != NULL)
        cio__task_unref(task);
}

int cio_task_cancel(cio_task *task)
{
    if (task == NULL)
        return -EINVAL;
    unsigned s = atomic_fetch_or(&task->state, CIO__TASK_CANCELLED);
    if (task == cio__task_self())
        task->budget = 0; /* its fast paths take the slow path, which sees the cancel */
    if (!(s & CIO__TASK_DONE))
        cio__task_wake(task);
    return 0;
}

bool cio_task_is_finished(const cio_task *task)
{
    return task != NULL && (atomic_load(&((cio_task *)task)->state) & CIO__TASK_DONE);
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

bool cio_task_is_cancelled(void)
{
    cio_task *t = cio__task_self();
    return t != NULL && (atomic_load(&t->state) & CIO__TASK_CANCELLED);
}

/* ---- task-local storage ---- */

static atomic_uint key_count;
static void (*_Atomic key_destructors[MAX_KEYS])(void *);

int cio_task_key_new(cio_task_key *ret_key, void (*destructor)(void *))
{
    if (ret_key == NULL)
        return -EINVAL;
    unsigned n = atomic_load(&key_count);
    do {
        if (n >= MAX_KEYS)
            return -EAGAIN;
    } while (!atomic_compare_exchange_weak(&key_count, &n, n + 1));
    atomic_store(&key_destructors[n], destructor);
    *ret_key = n;
    return 0;
}

int cio_task_local_set(cio_task_key key, void *value)
{
    cio_task *t = cio__task_self();
    if (t == NULL)
        return -EPERM;
    if (key >= atomic_load(&key_count))
        return -EINVAL;
    if (t->locals == NULL) {
        if (value == NULL)
            return 0;
        t->locals = calloc(MAX_KEYS, sizeof(*t->locals));
        if (t->locals == NULL)
            return -ENOMEM;
    }
    t->locals[key] = value;
    return 0;
}

void *cio_task_local_get(cio_task_key key)
{
    cio_task *t = cio__task_self();
    if (t == NULL || t->locals == NULL || key >= MAX_KEYS)
        return NULL;
    return t->locals[key];
}

void cio__task_locals_destroy(cio_task *t)
{
    if (t->locals == NULL)
        return;
    /* A destructor may set values again (as with pthread keys): a few rounds, then stop. */
    for (int round = 0; round < 4; round++) {
        bool any = false;
        for (unsigned k = 0; k < MAX_KEYS; k++) {
            void *value = t->locals[k];
            void (*dtor)(void *) = atomic_load(&key_destructors[k]);
            if (value == NULL)
                continue;
            t->locals[k] = NULL;
            if (dtor != NULL) {
                dtor(value);
                any = true;
            }
        }
        if (!any)
            break;
    }
}

/* ---- join sets ---- */

int cio_join_set_new(cio_join_set **ret_set)
{
    if (ret_set == NULL)
        return -EINVAL;
    cio_join_set *set = calloc(1, sizeof(*set));
    if (set == NULL)
        return -ENOMEM;
    pthread_mutex_init(&set->lock, NULL);
    cio__list_init(&set->running);
    cio__list_init(&set->done);
    atomic_init(&set->refs, 1);
    *ret_set = set;
    return 0;
}

int cio_join_set_spawn(cio_join_set *set, const cio_spawn_options *opts, cio_task_fn fn, void *arg)
{
    if (set == NULL || fn == NULL)
        return -EINVAL;
    cio_rt *rt = cio_rt_current();
    if (rt == NULL)
        return -EPERM;
    /* The set lock is held across the spawn, so a task that finishes at once on another
     * worker finds itself on the running list when publish_done takes the lock. */
    pthread_mutex_lock(&set->lock);
    int rc = cio__rt_spawn(rt, opts, fn, arg, NULL, set);
    pthread_mutex_unlock(&set->lock);
    return rc;
}

void cio__join_set_attach(cio_join_set *set, cio_task *t)
{
    atomic_fetch_add(&t->refs, 1); /* the set holds the handle */
    atomic_fetch_add(&set->refs, 1);
    atomic_store(&t->join_set, set);
    cio__list_push_back(&set->running, &t->set_node);
    set->len++;
}

int cio_join_set_join_next(cio_join_set *set, void **ret_result)
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
            rc = cio__join_take(cio__list_entry(node, cio_task, set_node), ret_result);
            break;
        }
        if (set->len == 0) {
            pthread_mutex_unlock(&set->lock);
            rc = -ENOENT;
            break;
        }
        set->waiter = &parker;
        pthread_mutex_unlock(&set->lock);
        rc = cio__parker_park(&parker, CIO_DEADLINE_NONE);
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
        cio_task_cancel(cio__list_entry(it, cio_task, set_node));
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
        cio_task *t = cio__list_entry(it, cio_task, set_node);
        cio_task_cancel(t);
        if (atomic_exchange(&t->join_set, NULL) == set) {
            /* Claimed here: publish_done will not touch the set for this task. */
            cio__list_remove(&t->set_node);
            cio__task_unref(t);
            atomic_fetch_sub(&set->refs, 1);
        }
        /* Otherwise the task is finishing right now and drops itself (set->closed). */
    }
    cio__list_foreach_safe(it, tmp, &set->done)
    {
        cio_task *t = cio__list_entry(it, cio_task, set_node);
        cio__list_remove(&t->set_node);
        cio__task_unref(t);
    }
    pthread_mutex_unlock(&set->lock);
    set_unref(set);
}
