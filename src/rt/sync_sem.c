/*
 * sync_sem.c: cio_sem (tokio's Semaphore) — a permit count and a FIFO of waiters, each
 * needing some number of permits. Fair: permits go to the waiters in order, and only while
 * the first one can be satisfied, so a large request is not starved by a stream of small
 * ones (and a newcomer never takes permits while anyone waits). A waiter is granted its
 * permits whole, under the lock; one cut short as they arrived gives them back, and the grant
 * loop runs again — as it does when a waiter at the head leaves, since it may have been
 * holding back smaller requests behind it.
 */
#include <stdlib.h>

#include "rt/sync_internal.h"
#include "util/assert.h"

enum { SEM_GRANTED = 1, SEM_CLOSED = 2 };

struct cio_sem {
    pthread_mutex_t lock;
    size_t permits;
    bool closed;
    struct cio__list waiters; /* struct sem_waiter, FIFO */
};

struct sem_waiter {
    struct cio__sync_waiter base;
    size_t need;
};

int cio_sem_new(cio_sem **ret_sem, size_t permits)
{
    if (ret_sem == NULL || permits > CIO_SEM_MAX_PERMITS)
        return -EINVAL;
    cio_sem *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return -ENOMEM;
    pthread_mutex_init(&s->lock, NULL);
    s->permits = permits;
    cio__list_init(&s->waiters);
    *ret_sem = s;
    return 0;
}

void cio_sem_free(cio_sem *sem)
{
    if (sem == NULL)
        return;
    cio__assert(cio__list_empty(&sem->waiters));
    pthread_mutex_destroy(&sem->lock);
    free(sem);
}

/* Grant permits to the waiters at the head while they can be satisfied (under the lock). */
static void grant(cio_sem *s)
{
    struct cio__list *node;
    while ((node = cio__list_first(&s->waiters)) != NULL) {
        struct sem_waiter *w = cio__list_entry(node, struct sem_waiter, base.node);
        if (w->need > s->permits)
            break;
        s->permits -= w->need;
        cio__sync_waiter_serve(&w->base, SEM_GRANTED);
    }
}

/* Take @n without waiting (under the lock): 0, -EAGAIN or -EPIPE. */
static int try_acquire_locked(cio_sem *s, size_t n)
{
    if (s->closed)
        return -EPIPE;
    if (n == 0)
        return 0;
    if (!cio__list_empty(&s->waiters) || s->permits < n)
        return -EAGAIN;
    s->permits -= n;
    return 0;
}

int cio_sem_try_acquire(cio_sem *sem, size_t n)
{
    if (sem == NULL || n > CIO_SEM_MAX_PERMITS)
        return -EINVAL;
    pthread_mutex_lock(&sem->lock);
    int rc = try_acquire_locked(sem, n);
    pthread_mutex_unlock(&sem->lock);
    return rc;
}

int cio_sem_acquire(cio_sem *sem, size_t n)
{
    if (sem == NULL || n > CIO_SEM_MAX_PERMITS)
        return -EINVAL;
    int rc = cio__sync_enter();
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&sem->lock);
    rc = try_acquire_locked(sem, n);
    if (rc != -EAGAIN) {
        pthread_mutex_unlock(&sem->lock);
        return rc;
    }
    struct sem_waiter w = {.need = n};
    cio__sync_waiter_push(&sem->waiters, &w.base);
    do
        rc = cio__sync_park(&sem->lock, &w.base, CIO__WAIT_SEMAPHORE);
    while (rc == 0 && w.base.status == SYNC_WAITING);
    if (w.base.status == SEM_CLOSED) {
        rc = -EPIPE;
    } else if (rc < 0) {
        /* Cut short: hold nothing. Permits granted just now go back; and whether granted or
         * leaving from the head, this waiter may have held back the ones behind it. */
        if (w.base.status == SEM_GRANTED)
            sem->permits += n;
        cio__sync_waiter_leave(&w.base);
        grant(sem);
        pthread_mutex_unlock(&sem->lock);
        return rc;
    }
    cio__sync_waiter_leave(&w.base);
    pthread_mutex_unlock(&sem->lock);
    return rc;
}

int cio_sem_release(cio_sem *sem, size_t n)
{
    if (sem == NULL || n > CIO_SEM_MAX_PERMITS)
        return -EINVAL;
    int rc = 0;
    pthread_mutex_lock(&sem->lock);
    if (sem->permits > CIO_SEM_MAX_PERMITS - n) {
        rc = -EOVERFLOW;
    } else {
        sem->permits += n;
        grant(sem);
    }
    pthread_mutex_unlock(&sem->lock);
    return rc;
}

int cio_sem_close(cio_sem *sem)
{
    if (sem == NULL)
        return -EINVAL;
    pthread_mutex_lock(&sem->lock);
    sem->closed = true;
    struct cio__list *node;
    while ((node = cio__list_first(&sem->waiters)) != NULL)
        cio__sync_waiter_serve(cio__list_entry(node, struct cio__sync_waiter, node), SEM_CLOSED);
    pthread_mutex_unlock(&sem->lock);
    return 0;
}

size_t cio_sem_available(const cio_sem *sem)
{
    if (sem == NULL)
        return 0;
    cio_sem *s = (cio_sem *)sem;
    pthread_mutex_lock(&s->lock);
    size_t permits = s->permits;
    pthread_mutex_unlock(&s->lock);
    return permits;
}
