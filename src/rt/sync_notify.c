/*
 * sync_notify.c: cio_notify (tokio's Notify) — one stored permit plus a FIFO of waiters. The
 * permit and the waiter list are never both non-empty: notify_one serves a waiter when there
 * is one and stores the permit only when there is none, and wait takes the permit before it
 * queues. A waiter cut short (cancellation, deadline) just as notify_one picked it passes the
 * notification on with the same rule, so a notify_one is never lost.
 */
#include <stdlib.h>

#include "rt/sync_internal.h"
#include "rt/watch.h"

enum { NOTIFIED_ONE = 1, NOTIFIED_ALL = 2 };

struct cio_notify {
    pthread_mutex_t lock;
    bool permit;
    struct cio__list waiters; /* struct cio__sync_waiter, FIFO */
};

int cio_notify_new(cio_notify **ret_notify)
{
    if (ret_notify == NULL)
        return -EINVAL;
    cio_notify *n = calloc(1, sizeof(*n));
    if (n == NULL)
        return -ENOMEM;
    pthread_mutex_init(&n->lock, NULL);
    cio__list_init(&n->waiters);
    *ret_notify = n;
    return 0;
}

void cio_notify_free(cio_notify *notify)
{
    if (notify == NULL)
        return;
    pthread_mutex_destroy(&notify->lock);
    free(notify);
}

static void notify_one_locked(cio_notify *n)
{
    struct cio__list *node = cio__list_first(&n->waiters);
    if (node == NULL) {
        n->permit = true;
        return;
    }
    cio__sync_waiter_serve(cio__list_entry(node, struct cio__sync_waiter, node), NOTIFIED_ONE);
}

int cio_notify_one(cio_notify *notify)
{
    if (notify == NULL)
        return -EINVAL;
    pthread_mutex_lock(&notify->lock);
    notify_one_locked(notify);
    pthread_mutex_unlock(&notify->lock);
    return 0;
}

int cio_notify_waiters(cio_notify *notify)
{
    if (notify == NULL)
        return -EINVAL;
    pthread_mutex_lock(&notify->lock);
    struct cio__list *node;
    while ((node = cio__list_first(&notify->waiters)) != NULL)
        cio__sync_waiter_serve(cio__list_entry(node, struct cio__sync_waiter, node), NOTIFIED_ALL);
    pthread_mutex_unlock(&notify->lock);
    return 0;
}

int cio_notify_wait(cio_notify *notify)
{
    if (notify == NULL)
        return -EINVAL;
    int rc = cio__sync_enter();
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&notify->lock);
    if (notify->permit) {
        notify->permit = false;
        pthread_mutex_unlock(&notify->lock);
        return 0;
    }
    struct cio__sync_waiter w;
    cio__sync_waiter_push(&notify->waiters, &w);
    do
        rc = cio__sync_park(&notify->lock, &w, CIO__WAIT_NOTIFY);
    while (rc == 0 && w.status == SYNC_WAITING);
    /* Cut short just as notify_one picked it: hand the notification on. (A broadcast that
     * reached a waiter cut short has nothing to hand on; the error is reported.) */
    if (rc < 0 && w.status == NOTIFIED_ONE)
        notify_one_locked(notify);
    cio__sync_waiter_leave(&w);
    pthread_mutex_unlock(&notify->lock);
    return rc;
}

/* ---- select's watch (rt/watch.h) ---- */

int cio__notify_watch(cio_notify *notify, struct cio__sync_waiter *w)
{
    int rc = -EAGAIN;
    pthread_mutex_lock(&notify->lock);
    if (!cio__list_linked(&w->node) && w->status != SYNC_WAITING) {
        rc = 0; /* served: the notification is ours */
        w->status = SYNC_WAITING;
    } else if (notify->permit) {
        notify->permit = false; /* (then no waiter is queued: @w is not) */
        rc = 0;
    } else if (!cio__list_linked(&w->node)) {
        cio__sync_waiter_push(&notify->waiters, w);
    }
    pthread_mutex_unlock(&notify->lock);
    return rc;
}

void cio__notify_unwatch(cio_notify *notify, struct cio__sync_waiter *w)
{
    pthread_mutex_lock(&notify->lock);
    if (cio__list_linked(&w->node))
        cio__list_remove(&w->node);
    else if (w->status == NOTIFIED_ONE)
        notify_one_locked(notify); /* not taken: the next waiter's, or the permit again */
    w->status = SYNC_WAITING;
    pthread_mutex_unlock(&notify->lock);
}
