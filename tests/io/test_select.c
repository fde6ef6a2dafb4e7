/*
 * test_select.c: cio_select — each kind of arm (socket readiness on a stream, a listener and a
 * datagram socket; a channel receive; a notification; a deadline; a task's end) fires alone
 * and only once its event comes; the arms that did not fire consumed nothing (the item stays
 * in the channel, the notification is handed back, the readiness stays cached, the task stays
 * joinable), also when their event reached the select while it waited and when the select is
 * cancelled; a socket closed under a waiting select; cancellation and the task's deadline
 * (never spinning); random and biased fairness; bad arguments; and the race: 10,000 selects
 * over 64 sockets, a channel and a timer with bytes and messages racing in from another thread
 * (or, multi-thread, from a task of another worker that owns the sockets' registrations) —
 * every byte and message received once and in order, no wake-up lost, no fired socket arm
 * without data beyond what the readiness rules allow. Also a join set's arm, a select beside
 * a plain wait on one socket, and events (a task's end, a notify, a close) from another
 * worker.
 */
/* cio-test-labels: threads */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "cio.h"
#include "harness.h"

static void run(cio_task_fn fn, void *arg)
{
    cio_rt *rt;
    CHECK_RC(cio_rt_new(&rt, NULL));
    CHECK_RC(cio_rt_block_on(rt, fn, arg, NULL));
    cio_rt_free(rt);
}

static void run_multi(cio_task_fn fn, void *arg)
{
    cio_rt *rt;
    cio_rt_options opts = {.flavor = CIO_RT_MULTI_THREAD, .workers = 2};
    CHECK_RC(cio_rt_new(&rt, &opts));
    CHECK_RC(cio_rt_block_on(rt, fn, arg, NULL));
    cio_rt_free(rt);
}

#define MS CIO_NSEC_PER_MSEC

/* A case that runs @main as the main task of a current-thread runtime. */
#define CASE(name, main)                                                                           \
    static void name(void)                                                                         \
    {                                                                                              \
        run(main, NULL);                                                                           \
    }

/* Everything a five-arm select waits on. */
struct five {
    cio_unix_stream *a, *b; /* the select watches a; the peer writes on b */
    cio_chan_sender *tx;
    cio_chan_receiver *rx;
    cio_notify *notify;
    cio_notify *finish; /* lets the join arm's task end */
    int msg;
};

enum { ARM_READY, ARM_RECV, ARM_NOTIFIED, ARM_DEADLINE, ARM_JOIN, ARMS };

static void five_new(struct five *f)
{
    CHECK_RC(cio_unix_stream_pair(&f->a, &f->b));
    CHECK_RC(cio_chan_new(&f->tx, &f->rx, 4, sizeof(int)));
    CHECK_RC(cio_notify_new(&f->notify));
    CHECK_RC(cio_notify_new(&f->finish));
}

static void five_free(struct five *f)
{
    cio_socket_close(f->a);
    cio_socket_close(f->b);
    cio_chan_sender_free(f->tx);
    cio_chan_receiver_free(f->rx);
    cio_notify_free(f->notify);
    cio_notify_free(f->finish);
}

static void *wait_finish(void *arg)
{
    struct five *f = arg;
    (void)cio_notify_wait(f->finish);
    return (void *)(intptr_t)42;
}

/* The arms in the order of the enum, the deadline at @deadline. */
static void five_arms(struct five *f, cio_select_arm *arms, cio_time deadline, cio_join_handle *h)
{
    arms[ARM_READY] = cio_select_readable(f->a);
    arms[ARM_RECV] = cio_select_recv(f->rx, &f->msg);
    arms[ARM_NOTIFIED] = cio_select_notified(f->notify);
    arms[ARM_DEADLINE] = cio_select_deadline(deadline);
    arms[ARM_JOIN] = cio_select_join(h);
}

/* Make arm @k's event happen. */
static void trigger(struct five *f, int k, int value)
{
    switch (k) {
    case ARM_READY:
        CHECK_EQ(cio_stream_write(f->b, "x", 1), 1);
        break;
    case ARM_RECV:
        CHECK_RC(cio_chan_send(f->tx, &value));
        break;
    case ARM_NOTIFIED:
        CHECK_RC(cio_notify_one(f->notify));
        break;
    case ARM_JOIN:
        CHECK_RC(cio_notify_one(f->finish));
        break;
    default:
        break; /* a deadline comes by itself */
    }
}

struct later {
    struct five *f;
    int k;
};

static void *trigger_later(void *arg)
{
    struct later *l = arg;
    CHECK_RC(cio_sleep(20 * MS));
    trigger(l->f, l->k, 1000 + l->k);
    return NULL;
}

/* ---- each arm fires alone, once its event comes ---- */

static void *main_each_alone(void *arg)
{
    (void)arg;
    struct five f;
    five_new(&f);
    for (int k = 0; k < ARMS; k++) {
        cio_join_handle *h, *trig;
        CHECK_RC(cio_spawn(&h, wait_finish, &f));
        struct later l = {&f, k};
        CHECK_RC(cio_spawn(&trig, trigger_later, &l));
        cio_select_arm arms[ARMS];
        cio_time start = cio_now();
        five_arms(&f, arms, k == ARM_DEADLINE ? start + 30 * MS : start + 10 * CIO_NSEC_PER_SEC, h);
        for (int round = 0; round < 2; round++) {
            int i = cio_select(arms, ARMS, round == 0 ? 0 : CIO_SELECT_BIASED);
            CHECK_EQ(i, k);
            CHECK(cio_now() - start >= 15 * MS); /* it waited for the event */
            if (k != ARM_READY && k != ARM_DEADLINE)
                break; /* the others consumed theirs */
        }
        char c;
        switch (k) {
        case ARM_READY:
            CHECK(arms[k].rc > 0 && (arms[k].rc & CIO_READY_READABLE));
            CHECK_EQ(cio_stream_try_read(f.a, &c, 1), 1); /* not spurious */
            CHECK_EQ(c, 'x');
            CHECK_ERR(cio_stream_try_read(f.a, &c, 1), -EAGAIN); /* clears the readiness */
            break;
        case ARM_RECV:
            CHECK_EQ(arms[k].rc, 1);
            CHECK_EQ(f.msg, 1000 + k);
            break;
        case ARM_NOTIFIED:
        case ARM_DEADLINE:
            CHECK_EQ(arms[k].rc, 0);
            break;
        case ARM_JOIN:
            CHECK_EQ(arms[k].rc, 0);
            CHECK_EQ((intptr_t)arms[k].result, 42);
            CHECK(!arms[k].cancelled);
            CHECK(arms[k].join == NULL); /* joined: the arm is off */
            break;
        }
        CHECK_RC(cio_task_join(trig, NULL, NULL));
        if (k != ARM_JOIN) {
            CHECK_RC(cio_notify_one(f.finish));
            CHECK_RC(cio_task_join(h, NULL, NULL));
        }
        /* Nothing else happened: a select with a deadline now finds nothing but it. */
        five_arms(&f, arms, cio_now(), NULL);
        CHECK_EQ(cio_select(arms, ARMS, 0), ARM_DEADLINE);
    }
    five_free(&f);
    return NULL;
}

CASE(test_each_arm_alone, main_each_alone)

/* ---- the arms that did not fire consumed nothing ---- */

static void *return_seven(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)7;
}

/* Check that arm @k's event is still there (and take it). */
static void still_there(struct five *f, int k, cio_join_handle *h, int value)
{
    cio_select_arm probe[2];
    switch (k) {
    case ARM_READY: {
        /* The readiness is still cached: a select reports it before a deadline already past. */
        probe[0] = cio_select_readable(f->a);
        probe[1] = cio_select_deadline(cio_now());
        CHECK_EQ(cio_select(probe, 2, CIO_SELECT_BIASED), 0);
        char c;
        CHECK_EQ(cio_stream_try_read(f->a, &c, 1), 1);
        CHECK_ERR(cio_stream_try_read(f->a, &c, 1), -EAGAIN); /* clears the readiness */
        break;
    }
    case ARM_RECV: {
        int got = 0;
        CHECK_EQ(cio_chan_try_recv(f->rx, &got), 1);
        CHECK_EQ(got, value);
        break;
    }
    case ARM_NOTIFIED:
        /* The permit is there: a wait that need not wait is not cut by a deadline of 0. */
        CHECK_RC(CIO_TIMEOUT(0, cio_notify_wait(f->notify)));
        break;
    case ARM_JOIN: {
        CHECK(cio_task_is_finished(h));
        void *result;
        CHECK_RC(cio_task_join(h, &result, NULL));
        CHECK_EQ((intptr_t)result, 7);
        break;
    }
    default:
        break;
    }
}

/* Check that arm @k's event is gone (it fired and took it). */
static void taken(struct five *f, int k)
{
    int got;
    switch (k) {
    case ARM_RECV:
        CHECK_ERR(cio_chan_try_recv(f->rx, &got), -EAGAIN);
        break;
    case ARM_NOTIFIED:
        CHECK_ERR(CIO_TIMEOUT(0, cio_notify_wait(f->notify)), -ETIMEDOUT);
        break;
    default:
        break;
    }
}

static void *main_not_chosen(void *arg)
{
    (void)arg;
    struct five f;
    five_new(&f);
    /* Registered with the reactor ahead, so that its readiness is known when the events come
     * (a socket that never waited learns it from the reactor's first event). */
    CHECK(cio_socket_writable(f.a) > 0);
    for (int first = 0; first < ARMS; first++) {
        /* Every event at once, then a biased select with arm @first scanned first. */
        cio_join_handle *h;
        CHECK_RC(cio_spawn(&h, return_seven, NULL));
        while (!cio_task_is_finished(h))
            CHECK_RC(cio_yield());
        for (int k = 0; k < ARM_DEADLINE; k++)
            trigger(&f, k, 2000 + k); /* (the deadline is past, the task has finished) */
        CHECK_RC(cio_sleep(5 * MS));  /* the reactor has seen the byte */
        cio_select_arm ordered[ARMS], arms[ARMS];
        five_arms(&f, ordered, cio_now(), h);
        for (int k = 0; k < ARMS; k++)
            arms[k] = ordered[(first + k) % ARMS];
        f.msg = -1;
        CHECK_EQ(cio_select(arms, ARMS, CIO_SELECT_BIASED), 0);
        CHECK_EQ(arms[0].kind, ordered[first].kind);
        taken(&f, first);
        if (first == ARM_RECV)
            CHECK_EQ(f.msg, 2000 + ARM_RECV);
        else
            CHECK_EQ(f.msg, -1); /* the channel arm did not write its buffer */
        for (int k = 0; k < ARMS; k++) {
            if (k != first)
                still_there(&f, k, h, 2000 + k);
        }
        if (first == ARM_READY)
            still_there(&f, ARM_READY, h, 0); /* readiness is reported, not consumed */
        if (first == ARM_JOIN)
            CHECK(arms[0].join == NULL && (intptr_t)arms[0].result == 7);
    }
    five_free(&f);
    return NULL;
}

CASE(test_not_chosen_consume_nothing, main_not_chosen)

/* ---- events that reached a waiting select but were not chosen are handed back ---- */

struct handoff {
    struct five *f;
    cio_abort_handle selector;
    bool cancel; /* cancel the selecting task after the events */
    bool broadcast;
};

static void *send_and_notify(void *arg)
{
    struct handoff *ho = arg;
    CHECK_RC(cio_sleep(10 * MS));
    /* Both reach the select's waiters before it runs again (one worker). */
    int v = 77;
    CHECK_RC(cio_chan_send(ho->f->tx, &v));
    if (ho->broadcast)
        CHECK_RC(cio_notify_waiters(ho->f->notify));
    else
        CHECK_RC(cio_notify_one(ho->f->notify));
    if (ho->cancel)
        CHECK_RC(cio_abort_handle_cancel(ho->selector));
    return NULL;
}

struct selecting {
    struct five *f;
    bool notify_first;
    int rc;
};

static void *select_recv_notify(void *arg)
{
    struct selecting *s = arg;
    cio_select_arm arms[2] = {cio_select_recv(s->f->rx, &s->f->msg),
                              cio_select_notified(s->f->notify)};
    if (s->notify_first) {
        cio_select_arm t = arms[0];
        arms[0] = arms[1];
        arms[1] = t;
    }
    s->rc = cio_select(arms, 2, CIO_SELECT_BIASED);
    return NULL;
}

static void handoff_round(struct five *f, bool notify_first, bool cancel, bool broadcast)
{
    struct selecting s = {f, notify_first, 99};
    struct handoff ho = {f, {0}, cancel, broadcast};
    cio_join_handle *sel, *snd;
    CHECK_RC(cio_spawn(&sel, select_recv_notify, &s));
    CHECK_RC(cio_task_abort_handle(sel, &ho.selector));
    CHECK_RC(cio_spawn(&snd, send_and_notify, &ho));
    CHECK_RC(cio_task_join(snd, NULL, NULL));
    CHECK_RC(cio_task_join(sel, NULL, NULL));
    int got = 0;
    if (cancel) {
        CHECK_EQ(s.rc, -ECANCELED);
        CHECK_EQ(cio_chan_try_recv(f->rx, &got), 1); /* the item stayed */
        CHECK_EQ(got, 77);
        if (!broadcast)
            CHECK_RC(CIO_TIMEOUT(0, cio_notify_wait(f->notify))); /* handed back */
    } else if (notify_first || broadcast) {
        CHECK_EQ(s.rc, 0);
        CHECK_EQ(cio_chan_try_recv(f->rx, &got), 1);
        CHECK_EQ(got, 77);
    } else {
        CHECK_EQ(s.rc, 0); /* the item */
        CHECK_EQ(f->msg, 77);
        CHECK_RC(CIO_TIMEOUT(0, cio_notify_wait(f->notify))); /* the notification came back */
    }
    /* Nothing left over. */
    CHECK_ERR(cio_chan_try_recv(f->rx, &got), -EAGAIN);
    CHECK_ERR(CIO_TIMEOUT(0, cio_notify_wait(f->notify)), -ETIMEDOUT);
}

static void *main_handoff(void *arg)
{
    (void)arg;
    struct five f;
    five_new(&f);
    handoff_round(&f, false, false, false);
    handoff_round(&f, true, false, false);
    handoff_round(&f, false, true, false);
    handoff_round(&f, true, true, false);
    handoff_round(&f, true, false, true); /* a broadcast fires a notified arm */
    five_free(&f);
    return NULL;
}

CASE(test_handed_back_while_waiting, main_handoff)

/* ---- a listener, a datagram socket, a writable stream; a socket closed under a select ---- */

static void *main_socket_kinds(void *arg)
{
    (void)arg;
    cio_addr addr;
    CHECK_RC(cio_addr_parse(&addr, "127.0.0.1:0"));
    cio_tcp_listener *l;
    CHECK_RC(cio_tcp_listener_new(&l, &addr, CIO_LISTEN_BACKLOG_DEFAULT));
    cio_udp_socket *u, *peer;
    CHECK_RC(cio_udp_socket_new(&u, &addr));
    CHECK_RC(cio_udp_socket_new(&peer, &addr));
    cio_addr laddr, uaddr;
    CHECK_RC(cio_socket_local_addr(l, &laddr));
    CHECK_RC(cio_socket_local_addr(u, &uaddr));

    cio_select_arm arms[3] = {cio_select_readable(l), cio_select_readable(u),
                              cio_select_timeout(20 * MS)};
    CHECK_EQ(cio_select(arms, 3, 0), 2); /* nothing yet */

    cio_tcp_stream *c, *s;
    CHECK_RC(cio_tcp_stream_connect_addr(&c, &laddr));
    arms[2] = cio_select_timeout(5 * CIO_NSEC_PER_SEC);
    CHECK_EQ(cio_select(arms, 3, 0), 0);
    CHECK_RC(cio_tcp_listener_try_accept(l, &s, NULL));
    cio_tcp_stream *none;
    CHECK_ERR(cio_tcp_listener_try_accept(l, &none, NULL), -EAGAIN); /* clears the readiness */
    CHECK_RC(cio_dgram_try_send_to(peer, "d", 1, &uaddr));
    CHECK_EQ(cio_select(arms, 3, CIO_SELECT_BIASED), 1);
    char buf[4];
    CHECK_EQ(cio_dgram_try_recv(u, buf, sizeof(buf)), 1);

    /* A TCP stream's bytes (on io_uring, the ring's receive makes it readable). */
    cio_select_arm rd[2] = {cio_select_readable(s), cio_select_timeout(5 * CIO_NSEC_PER_SEC)};
    CHECK_EQ(cio_stream_write(c, "hi", 2), 2);
    CHECK_EQ(cio_select(rd, 2, 0), 0);
    CHECK(rd[0].rc & CIO_READY_READABLE);
    CHECK_EQ(cio_stream_read(s, buf, sizeof(buf)), 2);

    /* A fresh stream is writable at once. */
    cio_select_arm w[2] = {cio_select_writable(s), cio_select_timeout(5 * CIO_NSEC_PER_SEC)};
    CHECK_EQ(cio_select(w, 2, 0), 0);
    CHECK(w[0].rc & CIO_READY_WRITABLE);

    cio_socket_close(c);
    cio_socket_close(s);
    cio_socket_close(l);
    cio_socket_close(u);
    cio_socket_close(peer);
    return NULL;
}

CASE(test_socket_kinds, main_socket_kinds)

static void *close_later(void *arg)
{
    CHECK_RC(cio_sleep(20 * MS));
    cio_socket_close((cio_unix_stream *)arg);
    return NULL;
}

static void *main_closed_under(void *arg)
{
    (void)arg;
    cio_unix_stream *a, *b;
    CHECK_RC(cio_unix_stream_pair(&a, &b));
    cio_join_handle *h;
    CHECK_RC(cio_spawn(&h, close_later, a));
    cio_select_arm arms[2] = {cio_select_readable(a), cio_select_timeout(5 * CIO_NSEC_PER_SEC)};
    CHECK_EQ(cio_select(arms, 2, 0), 0);
    CHECK_EQ(arms[0].rc, -EBADF);
    CHECK_RC(cio_task_join(h, NULL, NULL));
    cio_socket_close(b);
    return NULL;
}

CASE(test_socket_closed_while_waiting, main_closed_under)

/* ---- a join set's next finished task ---- */

static void *member(void *arg)
{
    (void)cio_notify_wait((cio_notify *)arg);
    return (void *)(intptr_t)5;
}

static void *notify_later(void *arg)
{
    CHECK_RC(cio_sleep(20 * MS));
    CHECK_RC(cio_notify_one((cio_notify *)arg));
    return NULL;
}

static void *main_join_set(void *arg)
{
    (void)arg;
    cio_join_set *set;
    cio_notify *go;
    CHECK_RC(cio_join_set_new(&set));
    CHECK_RC(cio_notify_new(&go));
    /* An empty set does not fire (join_next would say -ENOENT): the timer does. */
    cio_select_arm arms[2] = {cio_select_join_next(set), cio_select_timeout(20 * MS)};
    CHECK_EQ(cio_select(arms, 2, 0), 1);
    /* Members that have not finished do not fire either. */
    CHECK_RC(cio_join_set_spawn(set, NULL, member, go, NULL));
    CHECK_RC(cio_join_set_spawn(set, NULL, member, go, NULL));
    arms[1] = cio_select_timeout(20 * MS);
    CHECK_EQ(cio_select(arms, 2, 0), 1);
    /* One finishes while the select waits: it fires, taking that one out of the set. */
    cio_join_handle *h;
    CHECK_RC(cio_spawn(&h, notify_later, go));
    arms[1] = cio_select_timeout(5 * CIO_NSEC_PER_SEC);
    cio_time start = cio_now();
    CHECK_EQ(cio_select(arms, 2, 0), 0);
    CHECK(cio_now() - start >= 15 * MS);
    CHECK_EQ((intptr_t)arms[0].result, 5);
    CHECK(!arms[0].cancelled);
    CHECK_EQ(cio_join_set_len(set), 1);
    CHECK_RC(cio_task_join(h, NULL, NULL));
    /* The other finishes, and an arm before it in a biased scan fires: it stays in the set. */
    CHECK_RC(cio_notify_one(go));
    CHECK_RC(cio_sleep(10 * MS));
    cio_select_arm first[2] = {cio_select_deadline(cio_now()), cio_select_join_next(set)};
    CHECK_EQ(cio_select(first, 2, CIO_SELECT_BIASED), 0);
    CHECK_EQ(cio_join_set_len(set), 1);
    void *result;
    CHECK_RC(CIO_TIMEOUT(0, cio_join_set_join_next(set, &result, NULL))); /* finished: no wait */
    CHECK_EQ((intptr_t)result, 5);
    cio_join_set_free(set);
    cio_notify_free(go);
    return NULL;
}

CASE(test_join_set_arm, main_join_set)

/* ---- a select and a plain wait on one socket: one edge wakes both ---- */

static void *plain_readable(void *arg)
{
    return (void *)(intptr_t)cio_socket_readable((cio_unix_stream *)arg);
}

static void *main_beside_plain(void *arg)
{
    (void)arg;
    for (int plain_first = 0; plain_first < 2; plain_first++) {
        cio_unix_stream *a, *b;
        CHECK_RC(cio_unix_stream_pair(&a, &b));
        CHECK(cio_socket_writable(a) > 0); /* registered */
        cio_join_handle *h = NULL;
        if (plain_first) {
            CHECK_RC(cio_spawn(&h, plain_readable, a));
            CHECK_RC(cio_yield()); /* it waits first */
        }
        cio_join_handle *w;
        struct five f = {.b = b};
        struct later l = {&f, ARM_READY};
        CHECK_RC(cio_spawn(&w, trigger_later, &l));
        if (!plain_first)
            CHECK_RC(cio_spawn(&h, plain_readable, a)); /* waits after the select queued */
        cio_select_arm arms[2] = {cio_select_readable(a), cio_select_timeout(5 * CIO_NSEC_PER_SEC)};
        CHECK_EQ(cio_select(arms, 2, 0), 0);
        void *ready;
        CHECK_RC(CIO_TIMEOUT(5 * CIO_NSEC_PER_SEC, cio_task_join(h, &ready, NULL)));
        CHECK((intptr_t)ready > 0 && ((intptr_t)ready & CIO_READY_READABLE));
        CHECK_RC(cio_task_join(w, NULL, NULL));
        cio_socket_close(a);
        cio_socket_close(b);
    }
    return NULL;
}

CASE(test_select_beside_plain_wait, main_beside_plain)

/* ---- events from another worker: a task's end, a notification, a close ---- */

struct remote {
    cio_unix_stream *a;
    cio_notify *notify;
    cio_notify *release; /* after a notify or a close, the task waits for this to return */
    int what;            /* 0: return, 1: notify, 2: close a */
};

static void *remote_register(void *arg)
{
    struct remote *r = arg;
    CHECK(cio_socket_writable(r->a) > 0); /* a's registration is this worker's */
    return NULL;
}

static void *remote_event(void *arg)
{
    struct remote *r = arg;
    CHECK_RC(cio_sleep(20 * MS));
    if (r->what == 1)
        CHECK_RC(cio_notify_one(r->notify));
    else if (r->what == 2)
        cio_socket_close(r->a);
    if (r->what != 0)
        CHECK_RC(cio_notify_wait(r->release));
    return (void *)(intptr_t)(100 + r->what);
}

static void *main_other_worker(void *arg)
{
    (void)arg;
    cio_unix_stream *b;
    struct remote r = {0};
    CHECK_RC(cio_notify_new(&r.notify));
    CHECK_RC(cio_notify_new(&r.release));
    cio_spawn_options on1 = {.worker = CIO_WORKER(1)};
    for (r.what = 0; r.what < 3; r.what++) {
        CHECK_RC(cio_unix_stream_pair(&r.a, &b));
        cio_join_handle *h;
        CHECK_RC(cio_spawn_ex(&h, &on1, remote_register, &r));
        CHECK_RC(cio_task_join(h, NULL, NULL));
        CHECK_RC(cio_spawn_ex(&h, &on1, remote_event, &r));
        cio_select_arm arms[4] = {cio_select_join(h), cio_select_notified(r.notify),
                                  cio_select_readable(r.a),
                                  cio_select_timeout(10 * CIO_NSEC_PER_SEC)};
        CHECK_EQ(cio_select(arms, 4, 0), r.what);
        if (r.what == 0) {
            CHECK_EQ((intptr_t)arms[0].result, 100);
        } else {
            if (r.what == 2)
                CHECK_EQ(arms[2].rc, -EBADF); /* closed on the other worker */
            CHECK_RC(cio_notify_one(r.release));
            CHECK_RC(cio_task_join(h, NULL, NULL));
        }
        if (r.what != 2)
            cio_socket_close(r.a);
        cio_socket_close(b);
    }
    cio_notify_free(r.notify);
    cio_notify_free(r.release);
    return NULL;
}

static void test_events_from_other_worker(void)
{
    run_multi(main_other_worker, NULL);
}

/* ---- cancellation and deadlines ---- */

static atomic_int spins;

static void *count_runs(void *arg)
{
    atomic_bool *stop = arg;
    while (!atomic_load(stop)) {
        atomic_fetch_add(&spins, 1);
        (void)cio_yield();
    }
    return NULL;
}

static void *main_cancel(void *arg)
{
    (void)arg;
    struct five f;
    five_new(&f);
    /* Cancelled with every arm ready: -ECANCELED, and nothing taken. */
    trigger(&f, ARM_RECV, 5);
    trigger(&f, ARM_NOTIFIED, 0);
    cio_select_arm arms[ARMS];
    five_arms(&f, arms, cio_now(), NULL);
    atomic_bool stop = false;
    cio_join_handle *counter;
    CHECK_RC(cio_spawn(&counter, count_runs, &stop));
    CANCEL_SELF();
    int before = atomic_load(&spins);
    for (int i = 0; i < 100; i++)
        CHECK_ERR(cio_select(arms, ARMS, 0), -ECANCELED);
    /* Never spinning: every cancelled select yielded, so the counter ran. */
    CHECK(atomic_load(&spins) - before >= 90);
    cio_cancel_shield shield = cio_cancel_shield_begin(cio_now() + 5 * CIO_NSEC_PER_SEC);
    atomic_store(&stop, true);
    CHECK_RC(cio_task_join(counter, NULL, NULL));
    still_there(&f, ARM_RECV, NULL, 5);
    still_there(&f, ARM_NOTIFIED, NULL, 0);
    /* Inside a shield the select works. */
    trigger(&f, ARM_RECV, 6);
    five_arms(&f, arms, CIO_DEADLINE_NONE, NULL);
    CHECK_EQ(cio_select(arms, ARMS, 0), ARM_RECV);
    CHECK_EQ(f.msg, 6);
    cio_cancel_shield_end(shield);
    CHECK_ERR(cio_select(arms, ARMS, 0), -ECANCELED);
    five_free(&f);
    return NULL;
}

/* main_cancel as a child task: it cancels itself, which the runtime's main task must not. */
static void *spawn_and_join(void *arg)
{
    cio_join_handle *h;
    CHECK_RC(cio_spawn(&h, (cio_task_fn)arg, NULL));
    CHECK_RC(cio_task_join(h, NULL, NULL));
    return NULL;
}

static void test_cancel(void)
{
    run(spawn_and_join, (void *)main_cancel);
}

static void *select_forever(void *arg)
{
    struct five *f = arg;
    cio_select_arm arms[ARMS];
    five_arms(f, arms, CIO_DEADLINE_NONE, NULL);
    return (void *)(intptr_t)cio_select(arms, ARMS, 0);
}

static void *main_cancel_waiting(void *arg)
{
    (void)arg;
    struct five f;
    five_new(&f);
    cio_join_handle *h;
    CHECK_RC(cio_spawn(&h, select_forever, &f));
    CHECK_RC(cio_sleep(20 * MS));
    CHECK(!cio_task_is_finished(h));
    CHECK_RC(cio_task_cancel(h));
    void *rc;
    bool cancelled;
    CHECK_RC(CIO_TIMEOUT(5 * CIO_NSEC_PER_SEC, cio_task_join(h, &rc, &cancelled)));
    CHECK_EQ((intptr_t)rc, -ECANCELED);
    CHECK(cancelled);
    five_free(&f);
    return NULL;
}

CASE(test_cancel_while_waiting, main_cancel_waiting)

static void *main_deadlines(void *arg)
{
    (void)arg;
    struct five f;
    five_new(&f);
    cio_select_arm arms[2] = {cio_select_readable(f.a), cio_select_recv(f.rx, &f.msg)};
    /* The task's deadline, nothing ready: -ETIMEDOUT after it. */
    cio_time start = cio_now();
    CHECK_ERR(CIO_TIMEOUT(30 * MS, cio_select(arms, 2, 0)), -ETIMEDOUT);
    CHECK(cio_now() - start >= 25 * MS);
    /* A deadline arm before the task's deadline fires as an arm... */
    cio_select_arm timed[2] = {arms[1], cio_select_timeout(20 * MS)};
    CHECK_EQ(CIO_TIMEOUT(CIO_NSEC_PER_SEC, cio_select(timed, 2, 0)), 1);
    /* ...one after it does not. */
    timed[1] = cio_select_timeout(CIO_NSEC_PER_SEC);
    start = cio_now();
    CHECK_ERR(CIO_TIMEOUT(20 * MS, cio_select(timed, 2, 0)), -ETIMEDOUT);
    CHECK(cio_now() - start < 900 * MS);
    /* A ready arm is taken even with the deadline already past. */
    trigger(&f, ARM_RECV, 3);
    CHECK_EQ(CIO_TIMEOUT(0, cio_select(arms, 2, 0)), 1);
    CHECK_EQ(f.msg, 3);
    /* No arm at all (or only arms switched off) waits for the deadline. */
    cio_select_arm off[3] = {
        cio_select_readable(f.a), cio_select_deadline(CIO_DEADLINE_NONE), {.kind = CIO_SELECT_OFF}};
    off[0].sock = NULL;
    CHECK_ERR(CIO_TIMEOUT(10 * MS, cio_select(off, 3, 0)), -ETIMEDOUT);
    CHECK_ERR(CIO_TIMEOUT(10 * MS, cio_select(NULL, 0, 0)), -ETIMEDOUT);
    five_free(&f);
    return NULL;
}

CASE(test_deadlines, main_deadlines)

/* ---- fairness and arguments ---- */

static void *main_fairness(void *arg)
{
    (void)arg;
    int hits[3] = {0, 0, 0};
    cio_time past = cio_now();
    cio_select_arm arms[3] = {cio_select_deadline(past), cio_select_deadline(past),
                              cio_select_deadline(past)};
    for (int i = 0; i < 900; i++)
        hits[CHECK_RC(cio_select(arms, 3, 0))]++;
    for (int k = 0; k < 3; k++)
        CHECK(hits[k] > 150); /* random: ~300 each */
    for (int i = 0; i < 100; i++)
        CHECK_EQ(cio_select(arms, 3, CIO_SELECT_BIASED), 0);
    return NULL;
}

CASE(test_fairness, main_fairness)

static void *main_invalid(void *arg)
{
    (void)arg;
    struct five f;
    five_new(&f);
    cio_select_arm arm = cio_select_ready(f.a, 0);
    CHECK_ERR(cio_select(&arm, 1, 0), -EINVAL);
    arm = cio_select_ready(f.a, 0x100);
    CHECK_ERR(cio_select(&arm, 1, 0), -EINVAL);
    arm = (cio_select_arm){.kind = (cio_select_kind)42};
    CHECK_ERR(cio_select(&arm, 1, 0), -EINVAL);
    arm = cio_select_deadline(cio_now());
    CHECK_ERR(cio_select(&arm, 1, 0x80), -EINVAL);
    cio_join_handle *h;
    CHECK_RC(cio_spawn(&h, return_seven, NULL));
    cio_select_arm twice[2] = {cio_select_join(h), cio_select_join(h)};
    CHECK_ERR(cio_select(twice, 2, 0), -EINVAL);
    CHECK_RC(cio_task_join(h, NULL, NULL));
    CHECK_ERR(cio_select(NULL, 1, 0), -EINVAL);
    /* A NULL item for a channel of ints: -EINVAL, the item left in the channel. */
    trigger(&f, ARM_RECV, 9);
    arm = cio_select_recv(f.rx, NULL);
    CHECK_ERR(cio_select(&arm, 1, 0), -EINVAL);
    still_there(&f, ARM_RECV, NULL, 9);
    five_free(&f);
    return NULL;
}

static void test_invalid(void)
{
    run(main_invalid, NULL);
    cio_select_arm arm = cio_select_deadline(cio_now());
    CHECK_ERR(cio_select(&arm, 1, 0), -EPERM); /* outside a task */
}

/* ---- the race: 64 sockets + a channel + a timer, 10,000 selects ---- */

enum { NSOCK = 64, ROUNDS = 10000, EVENTS = 12000, MSG_EVERY = 8, NARMS = NSOCK + 2 };

struct race {
    cio_unix_stream *rd[NSOCK];
    cio_unix_stream *wr[NSOCK];
    int wfd[NSOCK];
    cio_chan_sender *tx;
    cio_chan_receiver *rx;
    unsigned sent[NSOCK]; /* the writer's, read after it is done */
    int msgs_sent;
    atomic_bool writer_done;
    bool in_task; /* the writer is a task (else a thread) */
};

static unsigned rng_next(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

static void race_write(struct race *r)
{
    unsigned seed = 12345;
    for (int e = 0; e < EVENTS; e++) {
        unsigned x = rng_next(&seed);
        if (x % MSG_EVERY == 0) {
            int m = r->msgs_sent++;
            CHECK_RC(cio_chan_send(r->tx, &m));
        } else {
            unsigned j = (x / MSG_EVERY) % NSOCK;
            unsigned char byte = (unsigned char)(r->sent[j]++ & 0xff);
            CHECK_EQ(write(r->wfd[j], &byte, 1), 1);
        }
        if (x % 97 == 0) { /* bursts and pauses, so that events race with the scans */
            if (r->in_task)
                CHECK_RC(cio_yield());
            else
                sched_yield();
        }
    }
    atomic_store(&r->writer_done, true);
}

static void *race_writer_thread(void *arg)
{
    race_write(arg);
    return NULL;
}

static void *race_writer_task(void *arg)
{
    race_write(arg);
    return NULL;
}

/* Register the read ends on this worker: the selecting task on the other worker then waits on
 * registrations it does not own (the locked path). */
static void *race_register(void *arg)
{
    struct race *r = arg;
    for (int j = 0; j < NSOCK; j++)
        CHECK(cio_socket_writable(r->rd[j]) > 0);
    return NULL;
}

static void race_read(struct race *r)
{
    unsigned expect[NSOCK] = {0};
    int msgs = 0, msg = -1;
    long bytes = 0, spurious = 0, socket_fires = 0, timer_fires = 0;
    bool all = false;
    cio_select_arm arms[NARMS];
    int rounds = 0;
    for (; rounds < ROUNDS || !all; rounds++) {
        CHECK(rounds < 10 * ROUNDS + EVENTS);
        for (int j = 0; j < NSOCK; j++)
            arms[j] = cio_select_readable(r->rd[j]);
        arms[NSOCK] = cio_select_recv(r->rx, &msg);
        /* The timer: mostly a short one that races with the data; every fourth round a long
         * one, which firing means a wake-up was lost. Once everything is in, one already due. */
        bool long_timer = !all && rounds % 4 == 0;
        arms[NSOCK + 1] = all          ? cio_select_deadline(cio_now())
                          : long_timer ? cio_select_timeout(10 * CIO_NSEC_PER_SEC)
                                       : cio_select_timeout(MS);
        int i = cio_select(arms, NARMS, 0);
        CHECK(i >= 0 && i < NARMS);
        if (i < NSOCK) {
            socket_fires++;
            CHECK(arms[i].rc > 0 && (arms[i].rc & CIO_READY_READABLE));
            /* Read until -EAGAIN, which clears the readiness (the tick rule). */
            unsigned char buf[256];
            ssize_t n;
            bool first = true;
            while ((n = cio_stream_try_read(r->rd[i], buf, sizeof(buf))) > 0) {
                for (ssize_t k = 0; k < n; k++)
                    CHECK_EQ(buf[k], expect[i]++ & 0xff); /* in order, none lost or twice */
                bytes += n;
                first = false;
            }
            CHECK_ERR(n, -EAGAIN);
            if (first)
                spurious++; /* an edge for bytes an earlier read took */
        } else if (i == NSOCK) {
            CHECK_EQ(arms[i].rc, 1);
            CHECK_EQ(msg, msgs); /* in order, none lost or twice */
            msgs++;
        } else {
            timer_fires++;
            if (long_timer)
                TEST_FAIL("no event for 10 s: a wake-up was lost (round %d, %ld bytes, %d "
                          "messages)",
                          rounds, bytes, msgs);
        }
        if (!all && atomic_load(&r->writer_done)) {
            long total = 0;
            for (int j = 0; j < NSOCK; j++)
                total += r->sent[j];
            all = bytes == total && msgs == r->msgs_sent;
        }
    }
    for (int j = 0; j < NSOCK; j++)
        CHECK_EQ(expect[j], r->sent[j]);
    CHECK_EQ(msgs, r->msgs_sent);
    /* A fired socket arm without data only where the rules allow it: an edge whose bytes an
     * earlier read had taken, at most one per byte written. epoll and poll(2) look at the
     * socket again when they report, so there such edges stay rare (never most of them). A
     * multishot poll request on io_uring posts one completion per arrival, read later and not
     * looked at again: when this reader is slow (TSan) and the writer fast, a good part of
     * its fires find the bytes taken by the read of an earlier fire. */
    CHECK(spurious <= bytes);
    if (!cio_test_on_uring())
        CHECK(spurious * 2 < socket_fires);
    fprintf(stderr,
            "race: %d rounds, %ld bytes, %d messages, %ld socket fires (%ld spurious), "
            "%ld timer fires\n",
            rounds, bytes, msgs, socket_fires, spurious, timer_fires);
}

static void race_new(struct race *r, bool in_task)
{
    memset(r, 0, sizeof(*r));
    r->in_task = in_task;
    for (int j = 0; j < NSOCK; j++) {
        CHECK_RC(cio_unix_stream_pair(&r->rd[j], &r->wr[j]));
        r->wfd[j] = CHECK_RC(cio_socket_fd(r->wr[j]));
    }
    CHECK_RC(cio_chan_new(&r->tx, &r->rx, 16, sizeof(int)));
}

static void race_free(struct race *r)
{
    for (int j = 0; j < NSOCK; j++) {
        cio_socket_close(r->rd[j]);
        cio_socket_close(r->wr[j]);
    }
    cio_chan_sender_free(r->tx);
    cio_chan_receiver_free(r->rx);
}

static void *main_race_thread(void *arg)
{
    (void)arg;
    struct race r;
    race_new(&r, false);
    pthread_t writer;
    CHECK(pthread_create(&writer, NULL, race_writer_thread, &r) == 0);
    race_read(&r);
    CHECK(pthread_join(writer, NULL) == 0);
    race_free(&r);
    return NULL;
}

CASE(test_race_with_thread, main_race_thread)

static void *main_race_workers(void *arg)
{
    (void)arg;
    struct race r;
    race_new(&r, true);
    cio_join_handle *writer;
    cio_spawn_options opts = {.worker = CIO_WORKER(1)};
    CHECK_RC(cio_spawn_ex(&writer, &opts, race_register, &r));
    CHECK_RC(cio_task_join(writer, NULL, NULL));
    CHECK_RC(cio_spawn_ex(&writer, &opts, race_writer_task, &r));
    race_read(&r);
    CHECK_RC(cio_task_join(writer, NULL, NULL));
    race_free(&r);
    return NULL;
}

static void test_race_across_workers(void)
{
    run_multi(main_race_workers, NULL);
}

CIO_TEST_MAIN(TEST(test_each_arm_alone), TEST(test_not_chosen_consume_nothing),
              TEST(test_handed_back_while_waiting), TEST(test_socket_kinds),
              TEST(test_socket_closed_while_waiting), TEST(test_join_set_arm),
              TEST(test_select_beside_plain_wait), TEST(test_events_from_other_worker),
              TEST(test_cancel), TEST(test_cancel_while_waiting), TEST(test_deadlines),
              TEST(test_fairness), TEST(test_invalid), TEST(test_race_with_thread),
              TEST(test_race_across_workers))
