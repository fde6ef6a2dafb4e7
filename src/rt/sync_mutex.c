/*
 * sync_mutex.c: cio_mutex (tokio's Mutex) — an owner word and a FIFO of waiters under a
 * pthread mutex held only for a few stores. Unlock hands ownership straight to the first
 * waiter (it never becomes free in between), so a task that unlocks and locks again at once
 * goes behind the waiters instead of taking the mutex back: no waiter starves. A waiter cut
 * short as ownership reached it passes it on the same way, so a lock that returns an error
 * holds nothing.
 *
 * The owner is the calling task, or for a plain thread the address of a thread-local byte:
 * both are unique while their owner lives, which is as long as it may hold the mutex.
 */
#include <stdlib.h>

#include "rt/sync_internal.h"
#include "util/assert.h"

enum { LOCK_GRANTED = 1 };

struct cio_mutex {
    pthread_mutex_t lock;
    const void *owner;        /* NULL: unlocked */
    struct cio__list waiters; /* struct lock_waiter, FIFO */
};

struct lock_waiter {
    struct cio__sync_waiter base;
    const void *who;
};

static _Thread_local char thread_identity;

static const void *self_identity(void)
{
    cio_task *t = cio__task_self();
    return t != NULL ? (const void *)t : (const void *)&thread_identity;
}

int cio_mutex_new(cio_mutex **ret_mutex)
{
    if (ret_mutex == NULL)
        return -EINVAL;
    cio_mutex *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return -ENOMEM;
    pthread_mutex_init(&m->lock, NULL);
    cio__list_init(&m->waiters);
    *ret_mutex = m;
    return 0;
}

void cio_mutex_free(cio_mutex *mutex)
{
    if (mutex == NULL)
        return;
    cio__assert(mutex->owner == NULL && cio__list_empty(&mutex->waiters));
    pthread_mutex_destroy(&mutex->lock);
    free(mutex);
}

/* Give the mutex to the first waiter, or leave it free (under the lock). */
static void hand_off(cio_mutex *m)
{
    struct cio__list *node = cio__list_first(&m->waiters);
    if (node == NULL) {
        m->owner = NULL;
        return;
    }
    struct lock_waiter *w = cio__list_entry(node, struct lock_waiter, base.node);
    m->owner = w->who;
    cio__sync_waiter_serve(&w->base, LOCK_GRANTED);
}

int cio_mutex_try_lock(cio_mutex *mutex)
{
    if (mutex == NULL)
        return -EINVAL;
    const void *me = self_identity();
    int rc = 0;
    pthread_mutex_lock(&mutex->lock);
    if (mutex->owner == me)
        rc = -EDEADLK;
    else if (mutex->owner != NULL) /* waiters imply an owner: hand-off never frees it */
        rc = -EAGAIN;
    else
        mutex->owner = me;
    pthread_mutex_unlock(&mutex->lock);
    return rc;
}

int cio_mutex_lock(cio_mutex *mutex)
{
    if (mutex == NULL)
        return -EINVAL;
    int rc = cio__sync_enter();
    if (rc < 0)
        return rc;
    const void *me = self_identity();
    pthread_mutex_lock(&mutex->lock);
    if (mutex->owner == NULL) {
        mutex->owner = me;
        pthread_mutex_unlock(&mutex->lock);
        return 0;
    }
    if (mutex->owner == me) {
        pthread_mutex_unlock(&mutex->lock);
        return -EDEADLK;
    }
    struct lock_waiter w = {.who = me};
    cio__sync_waiter_push(&mutex->waiters, &w.base);
    do
        rc = cio__sync_park(&mutex->lock, &w.base, CIO__WAIT_MUTEX);
    while (rc == 0 && w.base.status == SYNC_WAITING);
    if (rc < 0 && w.base.status == LOCK_GRANTED)
        hand_off(mutex); /* cut short as ownership arrived: pass it on, hold nothing */
    cio__sync_waiter_leave(&w.base);
    pthread_mutex_unlock(&mutex->lock);
    return rc;
}

int cio_mutex_unlock(cio_mutex *mutex)
{
    if (mutex == NULL)
        return -EINVAL;
    const void *me = self_identity();
    int rc = 0;
    pthread_mutex_lock(&mutex->lock);
    if (mutex->owner != me)
        rc = -EPERM;
    else
        hand_off(mutex);
    pthread_mutex_unlock(&mutex->lock);
    return rc;
}
