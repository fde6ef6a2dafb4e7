/*
 * test_sync.c: the semantics of cio/sync.h on the current-thread runtime, where the order in
 * which tasks run is deterministic — notify (permit, FIFO, broadcast, cancel/deadline, a
 * notification handed on by a waiter cancelled as it was picked), the channel (order, full
 * and empty, FIFO senders, closing from either side, cancel safety of send and recv, clones,
 * zero-size and large items), the mutex (ownership, FIFO hand-off, no barging, a lock cut
 * short holds nothing) and the semaphore (fair FIFO, close, cut-short waiters, bounds).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "cio/rt.h"
#include "cio/sync.h"
#include "harness.h"

#define MS CIO_NSEC_PER_MSEC

static void run(cio_task_fn fn, void *arg)
{
    cio_rt *rt;
    CHECK_RC(cio_rt_new(&rt, NULL));
    CHECK_RC(cio_rt_block_on(rt, fn, arg, NULL));
    cio_rt_free(rt);
}

/* Let every ready task run until it suspends (current-thread: the run queue is FIFO). */
static void settle(void)
{
    for (int i = 0; i < 4; i++)
        CHECK_RC(cio_yield());
}

/* A wait that does not suspend: with an expired deadline only a stored permit succeeds. */
static int notify_poll(cio_notify *n)
{
    return CIO_TIMEOUT(0, cio_notify_wait(n));
}

/* A cancelled task's join reports -ECANCELED whatever it returned (see cio_task_join). */
static void join_cancelled(cio_join_handle *t)
{
    CHECK_JOIN_CANCELLED(t);
}

static int join_rc(cio_join_handle *t)
{
    void *r = NULL;
    CHECK_RC(cio_task_join(t, &r, NULL));
    return (int)(intptr_t)r;
}

/* ---- notify ---- */

struct notify_ctx {
    cio_notify *n;
    char order[16];
    size_t len;
};

static void *notify_waiter(void *arg)
{
    struct notify_ctx *c = arg;
    int rc = cio_notify_wait(c->n);
    if (rc == 0)
        c->order[c->len++] = *cio_task_name(cio_task_current());
    return (void *)(intptr_t)rc;
}

static cio_join_handle *spawn_named(const char *name, cio_task_fn fn, void *arg)
{
    cio_join_handle *t;
    cio_spawn_options o = {.name = name};
    CHECK_RC(cio_spawn_ex(&t, &o, fn, arg));
    return t;
}

static void *main_notify_permit(void *arg)
{
    (void)arg;
    cio_notify *n;
    CHECK_RC(cio_notify_new(&n));
    /* Nobody waits: no permit yet. */
    CHECK_ERR(notify_poll(n), -ETIMEDOUT);
    /* A permit is stored, but they do not accumulate. */
    CHECK_RC(cio_notify_one(n));
    CHECK_RC(cio_notify_one(n));
    CHECK_RC(cio_notify_one(n));
    cio_time start = cio_now();
    CHECK_RC(cio_notify_wait(n));
    CHECK(cio_now() - start < 100 * MS);
    CHECK_ERR(notify_poll(n), -ETIMEDOUT);
    /* notify_waiters with nobody waiting stores nothing. */
    CHECK_RC(cio_notify_waiters(n));
    CHECK_ERR(notify_poll(n), -ETIMEDOUT);
    /* ... and leaves a stored permit alone. */
    CHECK_RC(cio_notify_one(n));
    CHECK_RC(cio_notify_waiters(n));
    CHECK_RC(notify_poll(n));
    /* A deadline ends the wait with -ETIMEDOUT, on time. */
    start = cio_now();
    {
        CIO_DEADLINE_SCOPE(start + 20 * MS);
        CHECK_ERR(cio_notify_wait(n), -ETIMEDOUT);
    }
    CHECK(cio_now() - start >= 20 * MS);
    CHECK(cio_now() - start < 1000 * MS);
    CHECK_ERR(cio_notify_wait(NULL), -EINVAL);
    CHECK_ERR(cio_notify_one(NULL), -EINVAL);
    CHECK_ERR(cio_notify_waiters(NULL), -EINVAL);
    CHECK_ERR(cio_notify_new(NULL), -EINVAL);
    cio_notify_free(n);
    cio_notify_free(NULL);
    return NULL;
}

static void test_notify_permit(void)
{
    run(main_notify_permit, NULL);
}

static void *main_notify_fifo(void *arg)
{
    (void)arg;
    struct notify_ctx c = {0};
    CHECK_RC(cio_notify_new(&c.n));
    cio_join_handle *a = spawn_named("a", notify_waiter, &c);
    cio_join_handle *b = spawn_named("b", notify_waiter, &c);
    cio_join_handle *d = spawn_named("c", notify_waiter, &c);
    settle();
    CHECK_EQ(c.len, 0);
    /* One at a time, in the order they started waiting. */
    CHECK_RC(cio_notify_one(c.n));
    settle();
    CHECK_EQ(c.len, 1);
    CHECK_RC(cio_notify_one(c.n));
    CHECK_RC(cio_notify_one(c.n));
    CHECK_EQ(join_rc(a), 0);
    CHECK_EQ(join_rc(b), 0);
    CHECK_EQ(join_rc(d), 0);
    CHECK(memcmp(c.order, "abc", 3) == 0);
    CHECK_ERR(notify_poll(c.n), -ETIMEDOUT);
    cio_notify_free(c.n);
    return NULL;
}

static void test_notify_fifo(void)
{
    run(main_notify_fifo, NULL);
}

static void *main_notify_waiters(void *arg)
{
    (void)arg;
    struct notify_ctx c = {0};
    CHECK_RC(cio_notify_new(&c.n));
    cio_join_handle *t[4];
    for (int i = 0; i < 4; i++)
        t[i] = spawn_named("w", notify_waiter, &c);
    settle();
    CHECK_RC(cio_notify_waiters(c.n));
    /* A waiter that arrives after the broadcast is not woken by it. */
    cio_join_handle *late = spawn_named("l", notify_waiter, &c);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(join_rc(t[i]), 0);
    settle();
    CHECK_EQ(c.len, 4);
    CHECK(!cio_task_is_finished(late));
    /* And no permit was stored. */
    CHECK_ERR(notify_poll(c.n), -ETIMEDOUT);
    CHECK_RC(cio_notify_one(c.n));
    CHECK_EQ(join_rc(late), 0);
    cio_notify_free(c.n);
    return NULL;
}

static void test_notify_waiters(void)
{
    run(main_notify_waiters, NULL);
}

static void *main_notify_cancel(void *arg)
{
    (void)arg;
    struct notify_ctx c = {0};
    CHECK_RC(cio_notify_new(&c.n));

    /* A cancelled waiter returns -ECANCELED. */
    cio_join_handle *a = spawn_named("a", notify_waiter, &c);
    settle();
    CHECK_RC(cio_task_cancel(a));
    join_cancelled(a);

    /* A cancelled task gets -ECANCELED at once, and leaves a stored permit in place. */
    CHECK_RC(cio_notify_one(c.n));
    a = spawn_named("a", notify_waiter, &c);
    CHECK_RC(cio_task_cancel(a));
    join_cancelled(a);
    CHECK_RC(notify_poll(c.n));

    /* Picked by notify_one, then cancelled before it ran: the notification goes to the
     * next waiter... */
    a = spawn_named("a", notify_waiter, &c);
    cio_join_handle *b = spawn_named("b", notify_waiter, &c);
    settle();
    CHECK_RC(cio_notify_one(c.n));
    CHECK_RC(cio_task_cancel(a));
    join_cancelled(a);
    CHECK_EQ(join_rc(b), 0);
    CHECK_EQ(c.len, 1);
    CHECK_EQ(c.order[0], 'b');
    CHECK_ERR(notify_poll(c.n), -ETIMEDOUT);

    /* ... or, with nobody else waiting, back to the permit. */
    a = spawn_named("a", notify_waiter, &c);
    settle();
    CHECK_RC(cio_notify_one(c.n));
    CHECK_RC(cio_task_cancel(a));
    join_cancelled(a);
    CHECK_RC(notify_poll(c.n));
    CHECK_ERR(notify_poll(c.n), -ETIMEDOUT);
    cio_notify_free(c.n);
    return NULL;
}

static void test_notify_cancel(void)
{
    run(main_notify_cancel, NULL);
}

/* ---- channel ---- */

struct chan_ctx {
    cio_chan_sender *tx;
    cio_chan_receiver *rx;
    int value;    /* what a sender task sends */
    int sent;     /* sender tasks: items sent so far */
    int received; /* receiver tasks: what was received */
    cio_time deadline;
    int rc; /* what the task's send or recv returned */
};

static void *chan_sender(void *arg)
{
    struct chan_ctx *c = arg;
    CIO_DEADLINE_SCOPE(c->deadline ? c->deadline : CIO_DEADLINE_NONE);
    int rc = cio_chan_send(c->tx, &c->value);
    c->rc = rc;
    return (void *)(intptr_t)rc;
}

static void *chan_receiver(void *arg)
{
    struct chan_ctx *c = arg;
    CIO_DEADLINE_SCOPE(c->deadline ? c->deadline : CIO_DEADLINE_NONE);
    int rc = cio_chan_recv(c->rx, &c->received);
    c->rc = rc;
    return (void *)(intptr_t)rc;
}

static void *main_chan_basic(void *arg)
{
    (void)arg;
    cio_chan_sender *tx;
    cio_chan_receiver *rx;
    CHECK_RC(cio_chan_new(&tx, &rx, 4, sizeof(int)));
    int v;
    CHECK_ERR(cio_chan_try_recv(rx, &v), -EAGAIN);
    for (int i = 0; i < 4; i++)
        CHECK_RC(cio_chan_try_send(tx, &i));
    v = 99;
    CHECK_ERR(cio_chan_try_send(tx, &v), -EAGAIN);
    CHECK(!cio_chan_sender_is_closed(tx));
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(cio_chan_try_recv(rx, &v), 1);
        CHECK_EQ(v, i);
    }
    v = -1;
    CHECK_ERR(cio_chan_try_recv(rx, &v), -EAGAIN);
    CHECK_EQ(v, -1); /* untouched */
    /* Wrap around the ring many times, interleaving blocking and non-blocking calls. */
    for (int i = 0; i < 1000; i++) {
        CHECK_RC(cio_chan_send(tx, &i));
        if (i % 3 == 0) {
            int j = -i;
            CHECK_RC(cio_chan_try_send(tx, &j));
        }
        CHECK_EQ(cio_chan_recv(rx, &v), 1);
        CHECK_EQ(v, i);
        if (i % 3 == 0) {
            CHECK_EQ(cio_chan_try_recv(rx, &v), 1);
            CHECK_EQ(v, -i);
        }
    }
    /* Bad arguments. */
    cio_chan_sender *tx2;
    cio_chan_receiver *rx2;
    CHECK_ERR(cio_chan_new(&tx2, &rx2, 0, 4), -EINVAL);
    CHECK_ERR(cio_chan_new(&tx2, &rx2, SIZE_MAX / 2, 4), -EINVAL);
    CHECK_ERR(cio_chan_new(NULL, &rx2, 1, 4), -EINVAL);
    CHECK_ERR(cio_chan_new(&tx2, NULL, 1, 4), -EINVAL);
    CHECK_ERR(cio_chan_send(NULL, &v), -EINVAL);
    CHECK_ERR(cio_chan_send(tx, NULL), -EINVAL);
    CHECK_ERR(cio_chan_try_send(tx, NULL), -EINVAL);
    CHECK_ERR(cio_chan_recv(NULL, &v), -EINVAL);
    CHECK_ERR(cio_chan_recv(rx, NULL), -EINVAL);
    CHECK_ERR(cio_chan_try_recv(rx, NULL), -EINVAL);
    CHECK_ERR(cio_chan_sender_clone(NULL, &tx2), -EINVAL);
    CHECK_ERR(cio_chan_sender_clone(tx, NULL), -EINVAL);
    CHECK_ERR(cio_chan_receiver_close(NULL), -EINVAL);
    cio_chan_sender_free(NULL);
    cio_chan_receiver_free(NULL);
    cio_chan_sender_free(tx);
    cio_chan_receiver_free(rx);
    return NULL;
}

static void test_chan_basic(void)
{
    run(main_chan_basic, NULL);
}

static void *producer(void *arg)
{
    struct chan_ctx *c = arg;
    for (int i = 0; i < 100; i++) {
        int rc = cio_chan_send(c->tx, &i);
        if (rc < 0)
            return (void *)(intptr_t)rc;
        c->sent++;
    }
    return NULL;
}

static void *main_chan_full(void *arg)
{
    (void)arg;
    struct chan_ctx c = {0};
    CHECK_RC(cio_chan_new(&c.tx, &c.rx, 2, sizeof(int)));
    cio_join_handle *p;
    CHECK_RC(cio_spawn(&p, producer, &c));
    settle();
    /* The producer filled the channel and waits. */
    CHECK_EQ(c.sent, 2);
    CHECK(!cio_task_is_finished(p));
    for (int i = 0; i < 100; i++) {
        int v;
        CHECK_EQ(cio_chan_recv(c.rx, &v), 1);
        CHECK_EQ(v, i);
    }
    CHECK_EQ(join_rc(p), 0);
    /* The receiver waits while the channel is empty, with a deadline. */
    cio_time start = cio_now();
    int v = -1;
    {
        CIO_DEADLINE_SCOPE(start + 20 * MS);
        CHECK_ERR(cio_chan_recv(c.rx, &v), -ETIMEDOUT);
    }
    CHECK_EQ(v, -1);
    CHECK(cio_now() - start >= 20 * MS);
    CHECK(cio_now() - start < 1000 * MS);
    /* A waiting receiver is woken by a send. */
    struct chan_ctx r = {.rx = c.rx};
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, chan_receiver, &r));
    settle();
    CHECK(!cio_task_is_finished(t));
    v = 77;
    CHECK_RC(cio_chan_send(c.tx, &v));
    CHECK_EQ(join_rc(t), 1);
    CHECK_EQ(r.received, 77);
    cio_chan_sender_free(c.tx);
    cio_chan_receiver_free(c.rx);
    return NULL;
}

static void test_chan_full_and_empty(void)
{
    run(main_chan_full, NULL);
}

static void *main_chan_fifo_senders(void *arg)
{
    (void)arg;
    cio_chan_sender *tx;
    cio_chan_receiver *rx;
    CHECK_RC(cio_chan_new(&tx, &rx, 1, sizeof(int)));
    int v = 0;
    CHECK_RC(cio_chan_send(tx, &v));
    enum { N = 5 };
    struct chan_ctx s[N];
    cio_join_handle *t[N];
    for (int i = 0; i < N; i++) {
        s[i] = (struct chan_ctx){.tx = tx, .value = i + 1};
        CHECK_RC(cio_spawn(&t[i], chan_sender, &s[i]));
    }
    settle();
    for (int i = 0; i <= N; i++) {
        /* Senders are waiting: a newcomer cannot overtake them. */
        if (i < N) {
            int late = 100;
            CHECK_ERR(cio_chan_try_send(tx, &late), -EAGAIN);
        }
        CHECK_EQ(cio_chan_recv(rx, &v), 1);
        CHECK_EQ(v, i); /* in the order the senders started waiting */
    }
    for (int i = 0; i < N; i++)
        CHECK_EQ(join_rc(t[i]), 0);
    CHECK_ERR(cio_chan_try_recv(rx, &v), -EAGAIN);
    cio_chan_sender_free(tx);
    cio_chan_receiver_free(rx);
    return NULL;
}

static void test_chan_fifo_senders(void)
{
    run(main_chan_fifo_senders, NULL);
}

static void *main_chan_receiver_close(void *arg)
{
    (void)arg;
    cio_chan_sender *tx;
    cio_chan_receiver *rx;
    CHECK_RC(cio_chan_new(&tx, &rx, 2, sizeof(int)));
    for (int i = 1; i <= 2; i++)
        CHECK_RC(cio_chan_send(tx, &i));
    /* Two senders wait on the full channel. */
    struct chan_ctx s[2] = {{.tx = tx, .value = 3}, {.tx = tx, .value = 4}};
    cio_join_handle *t[2];
    for (int i = 0; i < 2; i++)
        CHECK_RC(cio_spawn(&t[i], chan_sender, &s[i]));
    settle();
    CHECK_RC(cio_chan_receiver_close(rx));
    CHECK_RC(cio_chan_receiver_close(rx)); /* idempotent */
    for (int i = 0; i < 2; i++)
        CHECK_EQ(join_rc(t[i]), -EPIPE);
    CHECK(cio_chan_sender_is_closed(tx));
    int v = 5;
    CHECK_ERR(cio_chan_send(tx, &v), -EPIPE);
    CHECK_ERR(cio_chan_try_send(tx, &v), -EPIPE);
    /* What was in the channel is still received, then the end. */
    CHECK_EQ(cio_chan_recv(rx, &v), 1);
    CHECK_EQ(v, 1);
    CHECK_EQ(cio_chan_try_recv(rx, &v), 1);
    CHECK_EQ(v, 2);
    CHECK_EQ(cio_chan_recv(rx, &v), 0);
    CHECK_EQ(cio_chan_try_recv(rx, &v), 0);
    CHECK_EQ(v, 2);

    /* Freeing the receiver with items inside closes too; the senders free the channel. */
    cio_chan_sender *tx2, *clone;
    cio_chan_receiver *rx2;
    CHECK_RC(cio_chan_new(&tx2, &rx2, 4, sizeof(int)));
    CHECK_RC(cio_chan_sender_clone(tx2, &clone));
    CHECK_RC(cio_chan_send(tx2, &v));
    cio_chan_receiver_free(rx2);
    CHECK_ERR(cio_chan_send(clone, &v), -EPIPE);
    CHECK(cio_chan_sender_is_closed(tx2));
    cio_chan_sender_free(tx2);
    cio_chan_sender_free(clone);
    cio_chan_sender_free(tx);
    cio_chan_receiver_free(rx);
    return NULL;
}

static void test_chan_receiver_close(void)
{
    run(main_chan_receiver_close, NULL);
}

static void *main_chan_senders_gone(void *arg)
{
    (void)arg;
    cio_chan_sender *tx, *clone;
    cio_chan_receiver *rx;
    CHECK_RC(cio_chan_new(&tx, &rx, 4, sizeof(int)));
    CHECK_RC(cio_chan_sender_clone(tx, &clone));
    int v = 1;
    CHECK_RC(cio_chan_send(tx, &v));
    v = 2;
    CHECK_RC(cio_chan_send(clone, &v));
    cio_chan_sender_free(tx);
    /* One sender is left: the channel is open. */
    CHECK_EQ(cio_chan_recv(rx, &v), 1);
    CHECK_EQ(v, 1);
    CHECK_EQ(cio_chan_recv(rx, &v), 1);
    CHECK_EQ(v, 2);
    CHECK_ERR(cio_chan_try_recv(rx, &v), -EAGAIN);
    /* A receiver waiting on the empty channel sees the end when the last sender goes. */
    struct chan_ctx r = {.rx = rx};
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, chan_receiver, &r));
    settle();
    CHECK(!cio_task_is_finished(t));
    v = 3;
    CHECK_RC(cio_chan_try_send(clone, &v));
    cio_chan_sender_free(clone);
    CHECK_EQ(join_rc(t), 1); /* the item sent before the end first */
    CHECK_EQ(r.received, 3);
    CHECK_EQ(cio_chan_recv(rx, &v), 0);
    CHECK_EQ(cio_chan_try_recv(rx, &v), 0);
    cio_chan_receiver_free(rx);

    /* Waiting when the last sender goes. */
    CHECK_RC(cio_chan_new(&tx, &rx, 1, sizeof(int)));
    r = (struct chan_ctx){.rx = rx};
    CHECK_RC(cio_spawn(&t, chan_receiver, &r));
    settle();
    cio_chan_sender_free(tx);
    CHECK_EQ(join_rc(t), 0);
    cio_chan_receiver_free(rx);
    return NULL;
}

static void test_chan_senders_gone(void)
{
    run(main_chan_senders_gone, NULL);
}

static void *main_chan_cancel(void *arg)
{
    (void)arg;
    cio_chan_sender *tx;
    cio_chan_receiver *rx;
    CHECK_RC(cio_chan_new(&tx, &rx, 1, sizeof(int)));
    int v;

    /* recv woken by a send, then cancelled before it ran: the item stays for the next. */
    struct chan_ctx r = {.rx = rx, .received = -1};
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, chan_receiver, &r));
    settle();
    v = 10;
    CHECK_RC(cio_chan_send(tx, &v));
    CHECK_RC(cio_task_cancel(t));
    join_cancelled(t);
    CHECK_EQ(r.rc, -ECANCELED);
    CHECK_EQ(r.received, -1);
    CHECK_EQ(cio_chan_try_recv(rx, &v), 1);
    CHECK_EQ(v, 10);

    /* Two receivers: the first is cancelled as the send's wake reaches it; the wake passes
     * on to the second. */
    struct chan_ctx r1 = {.rx = rx, .received = -1}, r2 = {.rx = rx, .received = -1};
    cio_join_handle *t1, *t2;
    CHECK_RC(cio_spawn(&t1, chan_receiver, &r1));
    CHECK_RC(cio_spawn(&t2, chan_receiver, &r2));
    settle();
    v = 11;
    CHECK_RC(cio_chan_send(tx, &v));
    CHECK_RC(cio_task_cancel(t1));
    join_cancelled(t1);
    CHECK_EQ(r1.rc, -ECANCELED);
    CHECK_EQ(r1.received, -1);
    CHECK_EQ(join_rc(t2), 1);
    CHECK_EQ(r2.received, 11);

    /* A send cut short by its deadline did not enqueue. */
    v = 20;
    CHECK_RC(cio_chan_send(tx, &v));
    struct chan_ctx s = {.tx = tx, .value = 21, .deadline = cio_now() + 10 * MS};
    CHECK_RC(cio_spawn(&t, chan_sender, &s));
    CHECK_EQ(join_rc(t), -ETIMEDOUT);
    CHECK_EQ(cio_chan_try_recv(rx, &v), 1);
    CHECK_EQ(v, 20);
    CHECK_ERR(cio_chan_try_recv(rx, &v), -EAGAIN);

    /* A cancelled sender task gets -ECANCELED even with room, and enqueues nothing. */
    s = (struct chan_ctx){.tx = tx, .value = 22};
    CHECK_RC(cio_spawn(&t, chan_sender, &s));
    CHECK_RC(cio_task_cancel(t));
    join_cancelled(t);
    CHECK_EQ(s.rc, -ECANCELED);
    CHECK_ERR(cio_chan_try_recv(rx, &v), -EAGAIN);

    /* A waiting sender whose item was placed as it was cancelled reports success. */
    v = 30;
    CHECK_RC(cio_chan_send(tx, &v));
    s = (struct chan_ctx){.tx = tx, .value = 31};
    CHECK_RC(cio_spawn(&t, chan_sender, &s));
    settle();
    CHECK_EQ(cio_chan_recv(rx, &v), 1); /* frees the slot: 31 moves in */
    CHECK_EQ(v, 30);
    CHECK_RC(cio_task_cancel(t));
    join_cancelled(t);
    CHECK_EQ(s.rc, 0);
    CHECK_EQ(cio_chan_try_recv(rx, &v), 1);
    CHECK_EQ(v, 31);
    cio_chan_sender_free(tx);
    cio_chan_receiver_free(rx);
    return NULL;
}

static void test_chan_cancel_safety(void)
{
    run(main_chan_cancel, NULL);
}

struct big {
    char bytes[1000];
};

static void *main_chan_sizes(void *arg)
{
    (void)arg;
    /* Zero-size items: a channel of signals; item pointers may be NULL. */
    cio_chan_sender *tx;
    cio_chan_receiver *rx;
    CHECK_RC(cio_chan_new(&tx, &rx, 3, 0));
    for (int i = 0; i < 3; i++)
        CHECK_RC(cio_chan_try_send(tx, NULL));
    CHECK_ERR(cio_chan_try_send(tx, NULL), -EAGAIN);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(cio_chan_recv(rx, NULL), 1);
    CHECK_ERR(cio_chan_try_recv(rx, NULL), -EAGAIN);
    cio_chan_sender_free(tx);
    CHECK_EQ(cio_chan_recv(rx, NULL), 0);
    cio_chan_receiver_free(rx);

    /* Large items are copied whole. */
    CHECK_RC(cio_chan_new(&tx, &rx, 5, sizeof(struct big)));
    static struct big in, out;
    for (int i = 0; i < 17; i++) {
        memset(in.bytes, 'a' + i, sizeof(in.bytes));
        CHECK_RC(cio_chan_send(tx, &in));
        memset(&in, 0, sizeof(in)); /* the channel holds its own copy */
        CHECK_EQ(cio_chan_recv(rx, &out), 1);
        for (size_t k = 0; k < sizeof(out.bytes); k++)
            CHECK_EQ(out.bytes[k], 'a' + i);
    }
    cio_chan_receiver_free(rx);
    cio_chan_sender_free(tx);
    return NULL;
}

static void test_chan_item_sizes(void)
{
    run(main_chan_sizes, NULL);
}

/* ---- mutex ---- */

struct mutex_ctx {
    cio_mutex *m;
    char order[16];
    size_t len;
    cio_time deadline;
    bool holding;
};

static void *mutex_locker(void *arg)
{
    struct mutex_ctx *c = arg;
    int rc;
    {
        CIO_DEADLINE_SCOPE(c->deadline ? c->deadline : CIO_DEADLINE_NONE);
        rc = cio_mutex_lock(c->m);
    }
    if (rc < 0) {
        /* A lock cut short holds nothing. */
        CHECK_ERR(cio_mutex_unlock(c->m), -EPERM);
        return (void *)(intptr_t)rc;
    }
    CHECK(!c->holding);
    c->holding = true;
    c->order[c->len++] = *cio_task_name(cio_task_current());
    /* Hold it across a suspension. */
    (void)cio_sleep(2 * MS);
    c->holding = false;
    CHECK_RC(cio_mutex_unlock(c->m));
    return NULL;
}

static void *try_unlock(void *arg)
{
    return (void *)(intptr_t)cio_mutex_unlock(arg);
}

static void *main_mutex(void *arg)
{
    (void)arg;
    struct mutex_ctx c = {0};
    CHECK_RC(cio_mutex_new(&c.m));
    CHECK_ERR(cio_mutex_unlock(c.m), -EPERM); /* not locked */
    CHECK_RC(cio_mutex_lock(c.m));
    CHECK_ERR(cio_mutex_lock(c.m), -EDEADLK);
    CHECK_ERR(cio_mutex_try_lock(c.m), -EDEADLK);
    /* Only the owner unlocks. */
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, try_unlock, c.m));
    CHECK_EQ(join_rc(t), -EPERM);
    /* Waiters queue up in order and get the mutex in that order. */
    cio_join_handle *w[3];
    static const char *names[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++)
        w[i] = spawn_named(names[i], mutex_locker, &c);
    settle();
    CHECK_EQ(c.len, 0);
    CHECK_RC(cio_mutex_unlock(c.m));
    /* Handed straight to "a": unlocking and locking again at once cannot barge in. */
    CHECK_ERR(cio_mutex_try_lock(c.m), -EAGAIN);
    cio_time start = cio_now();
    CHECK_RC(cio_mutex_lock(c.m)); /* behind b and c */
    CHECK(cio_now() - start >= 5 * MS);
    CHECK(memcmp(c.order, "abc", 3) == 0);
    CHECK_EQ(c.len, 3);
    CHECK_RC(cio_mutex_unlock(c.m));
    for (int i = 0; i < 3; i++)
        CHECK_EQ(join_rc(w[i]), 0);
    CHECK_RC(cio_mutex_try_lock(c.m));
    CHECK_RC(cio_mutex_unlock(c.m));
    CHECK_ERR(cio_mutex_lock(NULL), -EINVAL);
    CHECK_ERR(cio_mutex_try_lock(NULL), -EINVAL);
    CHECK_ERR(cio_mutex_unlock(NULL), -EINVAL);
    CHECK_ERR(cio_mutex_new(NULL), -EINVAL);
    cio_mutex_free(c.m);
    cio_mutex_free(NULL);
    return NULL;
}

static void test_mutex(void)
{
    run(main_mutex, NULL);
}

/* Regression (issue 13): a cancelled task, or one past its deadline, takes a FREE mutex
 * (taking it is not a wait); only waiting for a held one ends with the error. */
static void *cancelled_locker(void *arg)
{
    cio_mutex *m = arg;
    while (!cio_task_is_cancelled())
        (void)cio_yield();
    CHECK_RC(cio_mutex_lock(m));          /* free: taken */
    CHECK_ERR(cio_sleep(MS), -ECANCELED); /* the next wait sees the cancel */
    CHECK_RC(cio_mutex_unlock(m));
    cio_time saved = cio_deadline_set(cio_now() - 1); /* past its deadline too */
    CHECK_RC(cio_mutex_lock(m));
    CHECK_RC(cio_mutex_unlock(m));
    cio_deadline_restore(saved);
    return NULL;
}

static void *main_mutex_free_when_cancelled(void *arg)
{
    (void)arg;
    cio_mutex *m;
    CHECK_RC(cio_mutex_new(&m));
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, cancelled_locker, m));
    CHECK_RC(cio_task_cancel(t));
    join_cancelled(t);
    /* Held: a cancelled waiter gets -ECANCELED and holds nothing. */
    CHECK_RC(cio_mutex_lock(m));
    struct mutex_ctx c = {.m = m};
    cio_join_handle *a = spawn_named("a", mutex_locker, &c);
    settle();
    CHECK_RC(cio_task_cancel(a));
    join_cancelled(a);
    CHECK_RC(cio_mutex_unlock(m));
    CHECK_RC(cio_mutex_try_lock(m));
    CHECK_RC(cio_mutex_unlock(m));
    cio_mutex_free(m);
    return NULL;
}

static void test_mutex_free_when_cancelled(void)
{
    run(main_mutex_free_when_cancelled, NULL);
}

static void *main_mutex_cut_short(void *arg)
{
    (void)arg;
    struct mutex_ctx c = {0};
    CHECK_RC(cio_mutex_new(&c.m));
    CHECK_RC(cio_mutex_lock(c.m));
    /* Deadline while waiting. */
    c.deadline = cio_now() + 10 * MS;
    cio_join_handle *a = spawn_named("a", mutex_locker, &c);
    CHECK_EQ(join_rc(a), -ETIMEDOUT);
    /* Cancelled while waiting. */
    c.deadline = 0;
    a = spawn_named("a", mutex_locker, &c);
    settle();
    CHECK_RC(cio_task_cancel(a));
    join_cancelled(a);
    /* Handed the mutex, then cancelled before it ran: the next waiter gets it. */
    a = spawn_named("a", mutex_locker, &c);
    cio_join_handle *b = spawn_named("b", mutex_locker, &c);
    settle();
    CHECK_RC(cio_mutex_unlock(c.m));
    CHECK_RC(cio_task_cancel(a));
    join_cancelled(a);
    CHECK_EQ(join_rc(b), 0);
    CHECK_EQ(c.len, 1);
    CHECK_EQ(c.order[0], 'b');
    /* ... and with nobody behind, the mutex ends up free. */
    CHECK_RC(cio_mutex_lock(c.m));
    a = spawn_named("a", mutex_locker, &c);
    settle();
    CHECK_RC(cio_mutex_unlock(c.m));
    CHECK_RC(cio_task_cancel(a));
    join_cancelled(a);
    CHECK_RC(cio_mutex_try_lock(c.m));
    CHECK_RC(cio_mutex_unlock(c.m));
    cio_mutex_free(c.m);
    return NULL;
}

static void test_mutex_cut_short(void)
{
    run(main_mutex_cut_short, NULL);
}

/* ---- semaphore ---- */

struct sem_ctx {
    cio_sem *s;
    size_t need;
    cio_time deadline;
};

static void *sem_acquirer(void *arg)
{
    struct sem_ctx *c = arg;
    CIO_DEADLINE_SCOPE(c->deadline ? c->deadline : CIO_DEADLINE_NONE);
    return (void *)(intptr_t)cio_sem_acquire(c->s, c->need);
}

static void *main_sem_basic(void *arg)
{
    (void)arg;
    cio_sem *s;
    CHECK_RC(cio_sem_new(&s, 3));
    CHECK_EQ(cio_sem_available(s), 3);
    CHECK_RC(cio_sem_try_acquire(s, 2));
    CHECK_ERR(cio_sem_try_acquire(s, 2), -EAGAIN);
    CHECK_RC(cio_sem_acquire(s, 1));
    CHECK_RC(cio_sem_acquire(s, 0));
    CHECK_RC(cio_sem_try_acquire(s, 0));
    CHECK_EQ(cio_sem_available(s), 0);
    cio_time start = cio_now();
    {
        CIO_DEADLINE_SCOPE(start + 10 * MS);
        CHECK_ERR(cio_sem_acquire(s, 1), -ETIMEDOUT);
    }
    CHECK(cio_now() - start >= 10 * MS);
    CHECK_RC(cio_sem_release(s, 5));
    CHECK_EQ(cio_sem_available(s), 5);
    /* Bounds. */
    CHECK_ERR(cio_sem_release(s, CIO_SEM_MAX_PERMITS), -EOVERFLOW);
    CHECK_EQ(cio_sem_available(s), 5);
    CHECK_ERR(cio_sem_acquire(s, CIO_SEM_MAX_PERMITS + 1), -EINVAL);
    CHECK_ERR(cio_sem_try_acquire(s, CIO_SEM_MAX_PERMITS + 1), -EINVAL);
    CHECK_ERR(cio_sem_release(s, CIO_SEM_MAX_PERMITS + 1), -EINVAL);
    cio_sem *bad;
    CHECK_ERR(cio_sem_new(&bad, CIO_SEM_MAX_PERMITS + 1), -EINVAL);
    CHECK_ERR(cio_sem_new(NULL, 1), -EINVAL);
    CHECK_ERR(cio_sem_acquire(NULL, 1), -EINVAL);
    CHECK_ERR(cio_sem_close(NULL), -EINVAL);
    CHECK_EQ(cio_sem_available(NULL), 0);
    cio_sem_free(s);
    cio_sem_free(NULL);
    return NULL;
}

static void test_sem_basic(void)
{
    run(main_sem_basic, NULL);
}

static void *main_sem_fair(void *arg)
{
    (void)arg;
    cio_sem *s;
    CHECK_RC(cio_sem_new(&s, 0));
    struct sem_ctx big = {.s = s, .need = 3}, small = {.s = s, .need = 1};
    cio_join_handle *tb, *ts;
    CHECK_RC(cio_spawn(&tb, sem_acquirer, &big));
    settle();
    CHECK_RC(cio_spawn(&ts, sem_acquirer, &small));
    settle();
    /* One permit: the small request behind the big one does not jump the queue. */
    CHECK_RC(cio_sem_release(s, 1));
    settle();
    CHECK(!cio_task_is_finished(ts));
    CHECK_ERR(cio_sem_try_acquire(s, 1), -EAGAIN); /* newcomers wait their turn too */
    CHECK_RC(cio_sem_release(s, 2));
    CHECK_EQ(join_rc(tb), 0);
    settle();
    CHECK(!cio_task_is_finished(ts));
    CHECK_RC(cio_sem_release(s, 1));
    CHECK_EQ(join_rc(ts), 0);
    CHECK_EQ(cio_sem_available(s), 0);

    /* The big waiter at the head gives up: the small one behind it is served. */
    CHECK_RC(cio_sem_release(s, 1));
    big.deadline = cio_now() + 50 * MS;
    CHECK_RC(cio_spawn(&tb, sem_acquirer, &big));
    settle();
    CHECK_RC(cio_spawn(&ts, sem_acquirer, &small));
    settle();
    CHECK(!cio_task_is_finished(ts));
    CHECK_EQ(join_rc(tb), -ETIMEDOUT);
    CHECK_EQ(join_rc(ts), 0);
    CHECK_EQ(cio_sem_available(s), 0);

    /* Granted, then cancelled before it ran: the permits go back and on to the next. */
    big.deadline = 0;
    CHECK_RC(cio_spawn(&tb, sem_acquirer, &big));
    CHECK_RC(cio_spawn(&ts, sem_acquirer, &small));
    settle();
    CHECK_RC(cio_sem_release(s, 3));
    CHECK_RC(cio_task_cancel(tb));
    join_cancelled(tb);
    CHECK_EQ(join_rc(ts), 0);
    CHECK_EQ(cio_sem_available(s), 2);
    cio_sem_free(s);
    return NULL;
}

static void test_sem_fair(void)
{
    run(main_sem_fair, NULL);
}

static void *main_sem_close(void *arg)
{
    (void)arg;
    cio_sem *s;
    CHECK_RC(cio_sem_new(&s, 1));
    struct sem_ctx c = {.s = s, .need = 2};
    cio_join_handle *t[3];
    for (int i = 0; i < 3; i++)
        CHECK_RC(cio_spawn(&t[i], sem_acquirer, &c));
    settle();
    CHECK_RC(cio_sem_close(s));
    CHECK_RC(cio_sem_close(s));
    for (int i = 0; i < 3; i++)
        CHECK_EQ(join_rc(t[i]), -EPIPE);
    CHECK_ERR(cio_sem_acquire(s, 1), -EPIPE);
    CHECK_ERR(cio_sem_try_acquire(s, 1), -EPIPE);
    CHECK_RC(cio_sem_release(s, 1));
    CHECK_EQ(cio_sem_available(s), 2);
    cio_sem_free(s);
    return NULL;
}

static void test_sem_close(void)
{
    run(main_sem_close, NULL);
}

struct bound_ctx {
    cio_sem *s;
    int inside;
    int max_inside;
};

static void *bounded_worker(void *arg)
{
    struct bound_ctx *c = arg;
    for (int i = 0; i < 20; i++) {
        CHECK_RC(cio_sem_acquire(c->s, 1));
        c->inside++;
        if (c->inside > c->max_inside)
            c->max_inside = c->inside;
        CHECK_RC(cio_yield());
        c->inside--;
        CHECK_RC(cio_sem_release(c->s, 1));
        CHECK_RC(cio_yield());
    }
    return NULL;
}

static void *main_sem_bound(void *arg)
{
    (void)arg;
    struct bound_ctx c = {0};
    CHECK_RC(cio_sem_new(&c.s, 3));
    cio_join_handle *t[10];
    for (int i = 0; i < 10; i++)
        CHECK_RC(cio_spawn(&t[i], bounded_worker, &c));
    for (int i = 0; i < 10; i++)
        CHECK_RC(cio_task_join(t[i], NULL, NULL));
    CHECK_EQ(c.max_inside, 3);
    CHECK_EQ(cio_sem_available(c.s), 3);
    cio_sem_free(c.s);
    return NULL;
}

static void test_sem_bounds_concurrency(void)
{
    run(main_sem_bound, NULL);
}

/*
 * Deadline races, made deterministic. With event_interval 1 the worker polls its reactor
 * (and fires due timers) before every task it runs. A waiter whose deadline has passed is
 * then woken by its timer at the main task's next yield, but runs only after the main task
 * parks again: in between, the main task serves it (notify, send, unlock, release) although
 * its wait is already cut short. That is the race a multi-thread runtime hits by chance.
 */
static void run_interval1(cio_task_fn fn)
{
    cio_rt *rt;
    cio_rt_options o = {.event_interval = 1};
    CHECK_RC(cio_rt_new(&rt, &o));
    CHECK_RC(cio_rt_block_on(rt, fn, NULL, NULL));
    cio_rt_free(rt);
}

/* Let @deadline pass without running anything, then have its timer fire (see above). */
static void expire(cio_time deadline)
{
    while (cio_now() < deadline + 2 * MS)
        ;
    CHECK_RC(cio_yield());
}

/* The deadline of the waiter in a race (set by the main task before spawning it). Generous,
 * so that a slow machine does not let it pass before the waiter has even started waiting. */
#define RACE_MS (30 * MS)
static cio_time race_deadline;

static void *timed_notify_waiter(void *arg)
{
    struct notify_ctx *c = arg;
    CIO_DEADLINE_SCOPE(race_deadline);
    return (void *)(intptr_t)cio_notify_wait(c->n);
}

static void *main_notify_deadline_race(void *arg)
{
    (void)arg;
    struct notify_ctx c = {0};
    CHECK_RC(cio_notify_new(&c.n));
    /* A timed out as notify_one picked it: B gets the notification. */
    cio_time deadline = race_deadline = cio_now() + RACE_MS;
    cio_join_handle *a = spawn_named("a", timed_notify_waiter, &c);
    cio_join_handle *b = spawn_named("b", notify_waiter, &c);
    settle();
    expire(deadline);
    CHECK(!cio_task_is_finished(a));
    CHECK_RC(cio_notify_one(c.n));
    CHECK_EQ(join_rc(a), -ETIMEDOUT);
    CHECK_EQ(join_rc(b), 0);
    CHECK_ERR(notify_poll(c.n), -ETIMEDOUT);
    /* Alone, it goes back to the permit. */
    deadline = race_deadline = cio_now() + RACE_MS;
    a = spawn_named("a", timed_notify_waiter, &c);
    settle();
    expire(deadline);
    CHECK_RC(cio_notify_one(c.n));
    CHECK_EQ(join_rc(a), -ETIMEDOUT);
    CHECK_RC(notify_poll(c.n));
    /* A broadcast reaching a timed-out waiter has nothing to hand on. */
    deadline = race_deadline = cio_now() + RACE_MS;
    a = spawn_named("a", timed_notify_waiter, &c);
    settle();
    expire(deadline);
    CHECK_RC(cio_notify_waiters(c.n));
    CHECK_EQ(join_rc(a), -ETIMEDOUT);
    CHECK_ERR(notify_poll(c.n), -ETIMEDOUT);
    cio_notify_free(c.n);
    return NULL;
}

static void *main_chan_deadline_race(void *arg)
{
    (void)arg;
    cio_chan_sender *tx;
    cio_chan_receiver *rx;
    CHECK_RC(cio_chan_new(&tx, &rx, 1, sizeof(int)));
    int v;
    /* R1 timed out as a send woke it: it takes nothing, and R2 gets the item. */
    cio_time deadline = cio_now() + RACE_MS;
    struct chan_ctx r1 = {.rx = rx, .received = -1, .deadline = deadline};
    struct chan_ctx r2 = {.rx = rx, .received = -1};
    cio_join_handle *t1, *t2;
    CHECK_RC(cio_spawn(&t1, chan_receiver, &r1));
    CHECK_RC(cio_spawn(&t2, chan_receiver, &r2));
    settle();
    expire(deadline);
    v = 1;
    CHECK_RC(cio_chan_send(tx, &v));
    CHECK_EQ(join_rc(t1), -ETIMEDOUT);
    CHECK_EQ(r1.received, -1);
    CHECK_EQ(join_rc(t2), 1);
    CHECK_EQ(r2.received, 1);
    /* Alone: the item stays for the next recv. */
    deadline = cio_now() + RACE_MS;
    r1 = (struct chan_ctx){.rx = rx, .received = -1, .deadline = deadline};
    CHECK_RC(cio_spawn(&t1, chan_receiver, &r1));
    settle();
    expire(deadline);
    v = 2;
    CHECK_RC(cio_chan_send(tx, &v));
    CHECK_EQ(join_rc(t1), -ETIMEDOUT);
    CHECK_EQ(cio_chan_try_recv(rx, &v), 1);
    CHECK_EQ(v, 2);
    /* A sender timed out just as the receiver moved its item in: that counts as sent. */
    v = 3;
    CHECK_RC(cio_chan_send(tx, &v));
    deadline = cio_now() + RACE_MS;
    struct chan_ctx s = {.tx = tx, .value = 4, .deadline = deadline};
    CHECK_RC(cio_spawn(&t1, chan_sender, &s));
    settle();
    expire(deadline);
    CHECK_EQ(cio_chan_recv(rx, &v), 1);
    CHECK_EQ(v, 3);
    CHECK_EQ(join_rc(t1), 0);
    CHECK_EQ(cio_chan_try_recv(rx, &v), 1);
    CHECK_EQ(v, 4);
    cio_chan_sender_free(tx);
    cio_chan_receiver_free(rx);
    return NULL;
}

static void *main_mutex_deadline_race(void *arg)
{
    (void)arg;
    struct mutex_ctx c = {0};
    CHECK_RC(cio_mutex_new(&c.m));
    CHECK_RC(cio_mutex_lock(c.m));
    cio_time deadline = cio_now() + RACE_MS;
    c.deadline = deadline;
    cio_join_handle *a = spawn_named("a", mutex_locker, &c);
    settle();
    c.deadline = 0;
    cio_join_handle *b = spawn_named("b", mutex_locker, &c);
    settle();
    expire(deadline);
    CHECK_RC(cio_mutex_unlock(c.m)); /* handed to a, whose wait is already cut short */
    CHECK_EQ(join_rc(a), -ETIMEDOUT);
    CHECK_EQ(join_rc(b), 0);
    CHECK_EQ(c.len, 1);
    CHECK_EQ(c.order[0], 'b');
    CHECK_RC(cio_mutex_try_lock(c.m));
    CHECK_RC(cio_mutex_unlock(c.m));
    cio_mutex_free(c.m);
    return NULL;
}

static void *main_sem_deadline_race(void *arg)
{
    (void)arg;
    cio_sem *s;
    CHECK_RC(cio_sem_new(&s, 0));
    struct sem_ctx big = {.s = s, .need = 2, .deadline = cio_now() + RACE_MS};
    struct sem_ctx small = {.s = s, .need = 1};
    cio_join_handle *tb, *ts;
    CHECK_RC(cio_spawn(&tb, sem_acquirer, &big));
    CHECK_RC(cio_spawn(&ts, sem_acquirer, &small));
    settle();
    expire(big.deadline);
    CHECK_RC(cio_sem_release(s, 2)); /* granted to big, whose wait is already cut short */
    CHECK_EQ(join_rc(tb), -ETIMEDOUT);
    CHECK_EQ(join_rc(ts), 0); /* big's permits came back and served small */
    CHECK_EQ(cio_sem_available(s), 1);
    cio_sem_free(s);
    return NULL;
}

static void test_deadline_races(void)
{
    run_interval1(main_notify_deadline_race);
    run_interval1(main_chan_deadline_race);
    run_interval1(main_mutex_deadline_race);
    run_interval1(main_sem_deadline_race);
}

/* The runtime's shutdown wakes tasks waiting on every primitive, with -ECANCELED. */
struct all_ctx {
    cio_notify *n;
    cio_chan_sender *tx;
    cio_chan_receiver *rx;
    cio_mutex *m;
    cio_sem *s;
    int results[4];
};

static void *wait_notify(void *arg)
{
    struct all_ctx *c = arg;
    c->results[0] = cio_notify_wait(c->n);
    return NULL;
}

static void *wait_recv(void *arg)
{
    struct all_ctx *c = arg;
    int v;
    c->results[1] = cio_chan_recv(c->rx, &v);
    return NULL;
}

static void *wait_lock(void *arg)
{
    struct all_ctx *c = arg;
    c->results[2] = cio_mutex_lock(c->m);
    return NULL;
}

static void *wait_sem(void *arg)
{
    struct all_ctx *c = arg;
    c->results[3] = cio_sem_acquire(c->s, 1);
    return NULL;
}

/* Holds the mutex until cancelled, then unlocks it in its cleanup. */
static void *hold_lock(void *arg)
{
    struct all_ctx *c = arg;
    CHECK_RC(cio_mutex_lock(c->m));
    CHECK_ERR(cio_sleep(3600 * CIO_NSEC_PER_SEC), -ECANCELED);
    CHECK_RC(cio_mutex_unlock(c->m));
    return NULL;
}

static void *main_shutdown(void *arg)
{
    struct all_ctx *c = arg;
    CHECK_RC(cio_spawn(NULL, hold_lock, c));
    settle();
    CHECK_RC(cio_spawn(NULL, wait_notify, c));
    CHECK_RC(cio_spawn(NULL, wait_recv, c));
    CHECK_RC(cio_spawn(NULL, wait_lock, c));
    CHECK_RC(cio_spawn(NULL, wait_sem, c));
    settle();
    return NULL;
}

static void test_shutdown_wakes_waiters(void)
{
    struct all_ctx c = {.results = {1, 1, 1, 1}};
    CHECK_RC(cio_notify_new(&c.n));
    CHECK_RC(cio_chan_new(&c.tx, &c.rx, 1, sizeof(int)));
    CHECK_RC(cio_mutex_new(&c.m));
    CHECK_RC(cio_sem_new(&c.s, 0));
    cio_rt *rt;
    CHECK_RC(cio_rt_new(&rt, NULL));
    CHECK_RC(cio_rt_block_on(rt, main_shutdown, &c, NULL));
    cio_rt_free(rt);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(c.results[i], -ECANCELED);
    CHECK_EQ(cio_sem_available(c.s), 0);
    cio_notify_free(c.n);
    cio_chan_sender_free(c.tx);
    cio_chan_receiver_free(c.rx);
    cio_sem_free(c.s);
    /* The holder unlocked in its cleanup; the cancelled waiter took nothing. */
    cio_mutex_free(c.m);
}

CIO_TEST_MAIN(TEST(test_notify_permit), TEST(test_notify_fifo), TEST(test_notify_waiters),
              TEST(test_notify_cancel), TEST(test_chan_basic), TEST(test_chan_full_and_empty),
              TEST(test_chan_fifo_senders), TEST(test_chan_receiver_close),
              TEST(test_chan_senders_gone), TEST(test_chan_cancel_safety),
              TEST(test_chan_item_sizes), TEST(test_mutex), TEST(test_mutex_cut_short),
              TEST(test_mutex_free_when_cancelled), TEST(test_sem_basic), TEST(test_sem_fair),
              TEST(test_sem_close), TEST(test_sem_bounds_concurrency), TEST(test_deadline_races),
              TEST(test_shutdown_wakes_waiters))
