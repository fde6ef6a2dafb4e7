/*
 * sync_chan.c: the bounded channel (tokio's mpsc) — a ring buffer of fixed-size items under
 * one mutex, with a FIFO of waiting senders and one of waiting receivers.
 *
 * Senders are served by direct hand-off: when the receiver frees a slot and a sender waits,
 * the receiver copies that sender's item (it stays on the sender's stack while it waits)
 * into the freed slot and marks the sender done. Hence the invariant "a sender waits ⇒ the
 * buffer is full", which keeps the order first come, first served (a newcomer finds the
 * buffer full or the queue non-empty and waits behind), and makes a send cut short by
 * cancellation either done (its item is in, report 0) or not started (nothing to undo).
 *
 * Receivers are woken, not handed items: a send wakes the first waiting receiver, which
 * takes the item itself once it runs. A receiver cut short takes nothing and passes the wake
 * on if items remain, so no item waits while a receiver sleeps.
 *
 * The shared state lives as long as any handle: refs counts the senders plus the receiver.
 */
#include <stdlib.h>
#include <string.h>

#include "rt/sync_internal.h"
#include "rt/watch.h"
#include "util/assert.h"

enum { SEND_DONE = 1, SEND_CLOSED = 2 };
enum { RECV_WOKEN = 1 };

struct chan {
    pthread_mutex_t lock;
    size_t elem_size;
    size_t capacity;
    size_t head; /* slot of the oldest item */
    size_t len;  /* items in the buffer */
    unsigned char *buf;
    size_t senders;                /* live sender handles */
    bool receiver;                 /* the receiver handle is live */
    bool closed;                   /* the receiver closed: no more sends */
    struct cio__list send_waiters; /* struct send_waiter, FIFO */
    struct cio__list recv_waiters; /* struct cio__sync_waiter, FIFO */
};

struct send_waiter {
    struct cio__sync_waiter base;
    const void *item;
};

struct cio_chan_sender {
    struct chan *chan;
};

struct cio_chan_receiver {
    struct chan *chan;
};

/* ---- the buffer (under the lock) ---- */

static void push_item(struct chan *c, const void *item)
{
    size_t tail = (c->head + c->len) % c->capacity;
    if (c->elem_size > 0)
        memcpy(c->buf + tail * c->elem_size, item, c->elem_size);
    c->len++;
}

static void pop_item(struct chan *c, void *item)
{
    if (c->elem_size > 0)
        memcpy(item, c->buf + c->head * c->elem_size, c->elem_size);
    c->head = (c->head + 1) % c->capacity;
    c->len--;
}

static void wake_one_receiver(struct chan *c)
{
    struct cio__list *node = cio__list_first(&c->recv_waiters);
    if (node != NULL)
        cio__sync_waiter_serve(cio__list_entry(node, struct cio__sync_waiter, node), RECV_WOKEN);
}

static void wake_all_receivers(struct chan *c)
{
    struct cio__list *node;
    while ((node = cio__list_first(&c->recv_waiters)) != NULL)
        cio__sync_waiter_serve(cio__list_entry(node, struct cio__sync_waiter, node), RECV_WOKEN);
}

/* Fail every waiting sender with -EPIPE (the receiver closed). */
static void fail_senders(struct chan *c)
{
    struct cio__list *node;
    while ((node = cio__list_first(&c->send_waiters)) != NULL)
        cio__sync_waiter_serve(cio__list_entry(node, struct cio__sync_waiter, node), SEND_CLOSED);
}

/* Called with the lock held; drops it. Frees the channel when @c had no handle left. */
static void unlock_maybe_free(struct chan *c)
{
    bool dead = c->senders == 0 && !c->receiver;
    pthread_mutex_unlock(&c->lock);
    if (dead) {
        pthread_mutex_destroy(&c->lock);
        free(c->buf);
        free(c);
    }
}

/* ---- handles ---- */

int cio_chan_new(cio_chan_sender **ret_tx, cio_chan_receiver **ret_rx, size_t capacity,
                 size_t elem_size)
{
    if (ret_tx == NULL || ret_rx == NULL || capacity == 0)
        return -EINVAL;
    if (elem_size != 0 && capacity > SIZE_MAX / elem_size)
        return -EINVAL;
    struct chan *c = calloc(1, sizeof(*c));
    cio_chan_sender *tx = malloc(sizeof(*tx));
    cio_chan_receiver *rx = malloc(sizeof(*rx));
    unsigned char *buf = elem_size > 0 ? malloc(capacity * elem_size) : NULL;
    if (c == NULL || tx == NULL || rx == NULL || (elem_size > 0 && buf == NULL)) {
        free(c);
        free(tx);
        free(rx);
        free(buf);
        return -ENOMEM;
    }
    pthread_mutex_init(&c->lock, NULL);
    c->elem_size = elem_size;
    c->capacity = capacity;
    c->buf = buf;
    c->senders = 1;
    c->receiver = true;
    cio__list_init(&c->send_waiters);
    cio__list_init(&c->recv_waiters);
    tx->chan = c;
    rx->chan = c;
    *ret_tx = tx;
    *ret_rx = rx;
    return 0;
}

int cio_chan_sender_clone(cio_chan_sender *tx, cio_chan_sender **ret_tx)
{
    if (tx == NULL || ret_tx == NULL)
        return -EINVAL;
    cio_chan_sender *clone = malloc(sizeof(*clone));
    if (clone == NULL)
        return -ENOMEM;
    struct chan *c = tx->chan;
    pthread_mutex_lock(&c->lock);
    c->senders++;
    pthread_mutex_unlock(&c->lock);
    clone->chan = c;
    *ret_tx = clone;
    return 0;
}

void cio_chan_sender_free(cio_chan_sender *tx)
{
    if (tx == NULL)
        return;
    struct chan *c = tx->chan;
    free(tx);
    pthread_mutex_lock(&c->lock);
    cio__assert(c->senders > 0);
    if (--c->senders == 0)
        wake_all_receivers(c); /* they drain what is left, then see the end */
    unlock_maybe_free(c);
}

int cio_chan_receiver_close(cio_chan_receiver *rx)
{
    if (rx == NULL)
        return -EINVAL;
    struct chan *c = rx->chan;
    pthread_mutex_lock(&c->lock);
    if (!c->closed) {
        c->closed = true;
        fail_senders(c);
        /* Other threads receiving through this handle see the end once the buffer is empty. */
        wake_all_receivers(c);
    }
    pthread_mutex_unlock(&c->lock);
    return 0;
}

void cio_chan_receiver_free(cio_chan_receiver *rx)
{
    if (rx == NULL)
        return;
    struct chan *c = rx->chan;
    free(rx);
    pthread_mutex_lock(&c->lock);
    c->closed = true;
    c->receiver = false;
    fail_senders(c);
    wake_all_receivers(c);
    c->len = 0; /* nobody can receive them now */
    unlock_maybe_free(c);
}

bool cio_chan_sender_is_closed(const cio_chan_sender *tx)
{
    if (tx == NULL)
        return true;
    struct chan *c = tx->chan;
    pthread_mutex_lock(&c->lock);
    bool closed = c->closed;
    pthread_mutex_unlock(&c->lock);
    return closed;
}

/* ---- sending ---- */

/* Try to enqueue without waiting (under the lock): 0, -EAGAIN or -EPIPE. */
static int try_send_locked(struct chan *c, const void *item)
{
    if (c->closed)
        return -EPIPE;
    /* Waiting senders are ahead: the buffer is full (see the top), and they go first. */
    if (c->len == c->capacity || !cio__list_empty(&c->send_waiters))
        return -EAGAIN;
    push_item(c, item);
    wake_one_receiver(c);
    return 0;
}

int cio_chan_try_send(cio_chan_sender *tx, const void *item)
{
    if (tx == NULL || (item == NULL && tx->chan->elem_size > 0))
        return -EINVAL;
    struct chan *c = tx->chan;
    pthread_mutex_lock(&c->lock);
    int rc = try_send_locked(c, item);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int cio_chan_send(cio_chan_sender *tx, const void *item)
{
    if (tx == NULL || (item == NULL && tx->chan->elem_size > 0))
        return -EINVAL;
    int rc = cio__sync_enter();
    if (rc < 0)
        return rc;
    struct chan *c = tx->chan;
    pthread_mutex_lock(&c->lock);
    rc = try_send_locked(c, item);
    if (rc != -EAGAIN) {
        pthread_mutex_unlock(&c->lock);
        return rc;
    }
    struct send_waiter w = {.item = item};
    cio__sync_waiter_push(&c->send_waiters, &w.base);
    do
        rc = cio__sync_park(&c->lock, &w.base, CIO__WAIT_CHANNEL);
    while (rc == 0 && w.base.status == SYNC_WAITING);
    /* Served, whatever park said: the item is in (done) or the receiver closed. A waiter
     * that leaves unserved changes nothing for the others: the buffer is still full. */
    if (w.base.status == SEND_DONE)
        rc = 0;
    else if (w.base.status == SEND_CLOSED)
        rc = -EPIPE;
    cio__sync_waiter_leave(&w.base);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

/* ---- receiving ---- */

/* Take the oldest item (under the lock), refilling the freed slot from the first waiting
 * sender: 1, 0 at the end, or -EAGAIN. */
static int try_recv_locked(struct chan *c, void *item)
{
    if (c->len == 0)
        return (c->senders == 0 || c->closed) ? 0 : -EAGAIN;
    pop_item(c, item);
    struct cio__list *node = cio__list_first(&c->send_waiters);
    if (node != NULL) {
        struct send_waiter *s = cio__list_entry(node, struct send_waiter, base.node);
        push_item(c, s->item);
        cio__sync_waiter_serve(&s->base, SEND_DONE);
    }
    return 1;
}

int cio_chan_try_recv(cio_chan_receiver *rx, void *item)
{
    if (rx == NULL || (item == NULL && rx->chan->elem_size > 0))
        return -EINVAL;
    struct chan *c = rx->chan;
    pthread_mutex_lock(&c->lock);
    int rc = try_recv_locked(c, item);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int cio_chan_recv(cio_chan_receiver *rx, void *item)
{
    if (rx == NULL || (item == NULL && rx->chan->elem_size > 0))
        return -EINVAL;
    int rc = cio__sync_enter();
    if (rc < 0)
        return rc;
    struct chan *c = rx->chan;
    pthread_mutex_lock(&c->lock);
    for (;;) {
        rc = try_recv_locked(c, item);
        if (rc != -EAGAIN)
            break;
        struct cio__sync_waiter w;
        cio__sync_waiter_push(&c->recv_waiters, &w);
        rc = cio__sync_park(&c->lock, &w, CIO__WAIT_CHANNEL);
        cio__sync_waiter_leave(&w);
        if (rc < 0) {
            /* Cut short: take nothing. If a send's wake reached this waiter, the item is
             * still there: pass the wake on to the next receiver. */
            if (c->len > 0)
                wake_one_receiver(c);
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

/* ---- select's watch (rt/watch.h) ---- */

int cio__chan_recv_watch(cio_chan_receiver *rx, void *item, struct cio__sync_waiter *w)
{
    struct chan *c = rx->chan;
    if (item == NULL && c->elem_size > 0)
        return -EINVAL;
    pthread_mutex_lock(&c->lock);
    int rc = try_recv_locked(c, item);
    if (rc == -EAGAIN) {
        if (!cio__list_linked(&w->node))
            cio__sync_waiter_push(&c->recv_waiters, w); /* first time, or a wake came */
    } else if (cio__list_linked(&w->node)) {
        cio__list_remove(&w->node);
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

void cio__chan_recv_unwatch(cio_chan_receiver *rx, struct cio__sync_waiter *w)
{
    struct chan *c = rx->chan;
    pthread_mutex_lock(&c->lock);
    if (cio__list_linked(&w->node))
        cio__list_remove(&w->node);
    else if (w->status == RECV_WOKEN && c->len > 0)
        wake_one_receiver(c); /* as a receive cut short: the wake goes on */
    pthread_mutex_unlock(&c->lock);
}
