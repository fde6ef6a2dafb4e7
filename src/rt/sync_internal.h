/*
 * sync_internal.h: what the sync primitives (sync_notify.c, sync_chan.c, sync_mutex.c,
 * sync_sem.c) share (private). Each primitive keeps its waiters on an intrusive FIFO list
 * under its own mutex; a waiter is a record on the waiting caller's stack holding a parker
 * (sched.h) and a status word that whoever serves it sets before unparking it. The waiting
 * side always follows the same steps: register under the lock, unlock, park, re-lock, then
 * read its status — set by the server, it means the wait completed whatever park returned;
 * still SYNC_WAITING, the wake was spurious (wait again) or park failed (unlink and leave).
 * Because serving and unlinking both happen under the lock, a waiter that has left is never
 * touched again, and its stack record may go.
 */
#ifndef CIO_RT_SYNC_INTERNAL_H
#define CIO_RT_SYNC_INTERNAL_H

#include <errno.h>
#include <pthread.h>

#include "cio/sync.h"
#include "rt/parker.h"
#include "util/list.h"

enum { SYNC_WAITING = 0 };

struct cio__sync_waiter {
    struct cio__list node;
    struct cio__parker parker;
    int status; /* SYNC_WAITING until served; then primitive-specific */
};

/*
 * May the caller wait here? Not in a worker's own context (its thread runs other tasks and
 * must not block). Spends one unit of a task's cooperative budget (yielding when it runs
 * out), and reports a cancelled task at once, so a cancelled task unwinds even when the call
 * would not have to wait. Plain threads: always 0.
 */
static inline int cio__sync_enter(void)
{
    if (cio__task_self() == NULL && cio__worker_current() != NULL)
        return -EPERM;
    return cio__task_budget();
}

/* Prepare @w for the calling task or thread and queue it at the tail of @waiters. */
static inline void cio__sync_waiter_push(struct cio__list *waiters, struct cio__sync_waiter *w)
{
    cio__parker_init(&w->parker);
    w->status = SYNC_WAITING;
    cio__list_push_back(waiters, &w->node);
}

/* Serve @w (linked, under the lock): record the outcome, unlink it and wake its owner. */
static inline void cio__sync_waiter_serve(struct cio__sync_waiter *w, int status)
{
    w->status = status;
    cio__list_remove(&w->node);
    cio__parker_unpark(&w->parker);
}

/*
 * Park @w's owner (waiting for @what: the task dump) with @lock released; @lock is held again on
 * return. Returns park's result: 0 (woken, maybe spuriously), -ECANCELED or -ETIMEDOUT (the task's
 * deadline).
 */
static inline int cio__sync_park(pthread_mutex_t *lock, struct cio__sync_waiter *w,
                                 enum cio__wait_kind what)
{
    pthread_mutex_unlock(lock);
    int rc = cio__parker_park_for(&w->parker, CIO_DEADLINE_NONE, what);
    pthread_mutex_lock(lock);
    return rc;
}

/* Done with @w (under the lock): unlink it if nobody served it, release its parker. */
static inline void cio__sync_waiter_leave(struct cio__sync_waiter *w)
{
    if (cio__list_linked(&w->node))
        cio__list_remove(&w->node);
    cio__parker_fini(&w->parker);
}

#endif
