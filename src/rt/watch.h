/*
 * watch.h: the runtime's waitables as a select sees them (private; io/select.c). A select
 * waits for the first of several things in one task, so it cannot park inside each
 * primitive's own wait loop: instead each primitive offers a watch — take what is there now,
 * or (re)queue a waiter that wakes the calling task — and an unwatch that dequeues the waiter
 * and hands on whatever reached it and was not taken, so that a select consumes from the one
 * waitable that fired and from no other. A watch may be called again after a wake: it finds
 * the waiter still queued, served, or dequeued, and acts accordingly.
 *
 * The waiter records belong to the select (on its stack); each names the calling task
 * (cio__parker_init) and starts unlinked (cio__list_init on its node, status SYNC_WAITING).
 * Tasks only.
 */
#ifndef CIO_RT_WATCH_H
#define CIO_RT_WATCH_H

#include "cio/sync.h"
#include "rt/parker.h"
#include "rt/sync_internal.h"

/* Receive into @item now: 1 (an item), 0 (the channel ended); else @w stays queued as a
 * waiting receiver: -EAGAIN. -EINVAL (@item NULL for a channel of non-empty items). A result
 * other than -EAGAIN leaves @w unlinked. (sync_chan.c) */
int cio__chan_recv_watch(cio_chan_receiver *rx, void *item, struct cio__sync_waiter *w);
/* Dequeue @w; if a send's wake reached it and items remain, wake the next receiver. */
void cio__chan_recv_unwatch(cio_chan_receiver *rx, struct cio__sync_waiter *w);

/* Take a notification now: the one that reached @w, or the stored permit: 0, @w unlinked;
 * else @w stays queued: -EAGAIN. (sync_notify.c) */
int cio__notify_watch(cio_notify *notify, struct cio__sync_waiter *w);
/* Dequeue @w; a notify_one that reached it goes on to the next waiter or back to the permit. */
void cio__notify_unwatch(cio_notify *notify, struct cio__sync_waiter *w);

/* 0 once @t is DONE (its joiner slot no longer @p); else @p is its joiner: -EAGAIN.
 * (task.c) */
int cio__task_join_watch(cio_task *t, struct cio__parker *p);
/* Give up the joiner slot if @p holds it. */
void cio__task_join_unwatch(cio_task *t, struct cio__parker *p);

/* Take a finished member of @set now: 0, its outputs written (it left the set); else @p is the
 * set's waiter (an empty set too): -EAGAIN. (join_set.c) */
int cio__join_set_watch(cio_join_set *set, struct cio__parker *p, void **ret_result,
                        bool *ret_cancelled);
/* Give up the set's waiter slot if @p holds it (finished members stay in the set). */
void cio__join_set_unwatch(cio_join_set *set, struct cio__parker *p);

#endif
