/*
 * select.c: cio_select (cio/select.h) — one task waits for the first of several arms. It sits
 * in the io layer because its arms span the layers below: sockets (the io layer's
 * registrations) and the runtime's channels, notifications, timers and tasks (rt/watch.h).
 *
 * The scan. Each round goes over the arms once, from the start (arm 0 when biased, a random
 * arm otherwise) round the array, and polls each: take what is ready, else make sure a waiter
 * for the calling task is queued on the arm's object. The first arm that has something
 * fires; every arm polled before it is unwatched (its waiter dequeued, and whatever reached
 * it but was not taken handed on), so only the fired arm consumed. When no arm fires, every
 * arm's waiter is queued and the task parks once, until the earliest deadline arm; any
 * object's event wakes it and the next round polls again — the waiters stay queued across
 * rounds, re-queued only where a wake took them off. Polling an arm is also what checks it
 * after registering, under the object's own lock (or on the reactor's thread), so an event
 * between two arms' polls is either seen or wakes the task: no lost wake-up.
 *
 *     round:  poll arm s, s+1, ... (mod count) ── one ready ──> unwatch the others, return it
 *               │ none ready (all watched)
 *               ▼
 *             park(earliest deadline arm) ── -ECANCELED ──> unwatch all, return
 *               │ woken / -ETIMEDOUT (next round; if still nothing and the task's own
 *               ▼                       deadline has passed: unwatch all, -ETIMEDOUT)
 *             round
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

#include "cio/select.h"
#include "io/io.h"
#include "rt/task.h"
#include "rt/watch.h"

#define STACK_SLOTS 16 /* arms bookkept without an allocation */

/* The select's own state for one arm: the waiter it queues on the arm's object. */
struct slot {
    bool watching; /* something to undo: a waiter that may be queued, a socket held */
    union {
        struct cio__io_watch io;      /* READY */
        struct cio__sync_waiter sync; /* RECV, NOTIFIED */
        struct cio__parker joiner;    /* JOIN, JOIN_NEXT */
    } u;
};

/* ---- arms ---- */

cio_select_arm(cio_select_ready)(cio_socket *sock, unsigned interest)
{
    return (cio_select_arm){.kind = CIO_SELECT_READY, .sock = sock, .interest = interest};
}

cio_select_arm(cio_select_readable)(cio_socket *sock)
{
    return (cio_select_ready)(sock, CIO_READABLE);
}

cio_select_arm(cio_select_writable)(cio_socket *sock)
{
    return (cio_select_ready)(sock, CIO_WRITABLE);
}

cio_select_arm cio_select_recv(cio_chan_receiver *rx, void *item)
{
    return (cio_select_arm){.kind = CIO_SELECT_RECV, .rx = rx, .item = item};
}

cio_select_arm cio_select_notified(cio_notify *notify)
{
    return (cio_select_arm){.kind = CIO_SELECT_NOTIFIED, .notify = notify};
}

cio_select_arm cio_select_deadline(cio_time when)
{
    return (cio_select_arm){.kind = CIO_SELECT_DEADLINE, .deadline = when};
}

cio_select_arm cio_select_timeout(cio_duration duration)
{
    return cio_select_deadline(cio__deadline_after(duration));
}

cio_select_arm cio_select_join(cio_join_handle *handle)
{
    return (cio_select_arm){.kind = CIO_SELECT_JOIN, .join = handle};
}

cio_select_arm cio_select_join_next(cio_join_set *set)
{
    return (cio_select_arm){.kind = CIO_SELECT_JOIN_NEXT, .set = set};
}

/* ---- one arm ---- */

#define INTERESTS ((unsigned)(CIO_READABLE | CIO_WRITABLE | CIO_PRIORITY))

static int arm_check(const cio_select_arm *arm, const cio_task *self)
{
    switch (arm->kind) {
    case CIO_SELECT_OFF:
    case CIO_SELECT_RECV: /* a NULL item is checked against the channel's item size */
    case CIO_SELECT_NOTIFIED:
    case CIO_SELECT_DEADLINE:
    case CIO_SELECT_JOIN_NEXT:
        return 0;
    case CIO_SELECT_READY:
        if (arm->sock != NULL && (arm->interest == 0 || (arm->interest & ~INTERESTS)))
            return -EINVAL;
        return 0;
    case CIO_SELECT_JOIN:
        return arm->join != NULL && (const cio_task *)(const void *)arm->join == self ? -EINVAL : 0;
    }
    return -EINVAL;
}

/* Whether the arm can fire at all. */
static bool arm_on(const cio_select_arm *arm)
{
    switch (arm->kind) {
    case CIO_SELECT_READY:
        return arm->sock != NULL;
    case CIO_SELECT_RECV:
        return arm->rx != NULL;
    case CIO_SELECT_NOTIFIED:
        return arm->notify != NULL;
    case CIO_SELECT_DEADLINE:
        return arm->deadline != CIO_DEADLINE_NONE;
    case CIO_SELECT_JOIN:
        return arm->join != NULL;
    case CIO_SELECT_JOIN_NEXT:
        return arm->set != NULL;
    case CIO_SELECT_OFF:
        break;
    }
    return false;
}

/* Start watching: a fresh waiter for the calling task. */
static int slot_begin(cio_select_arm *arm, struct slot *s)
{
    switch (arm->kind) {
    case CIO_SELECT_READY: {
        int rc = cio__io_watch_begin(&s->u.io, CIO__SOCK(arm->sock), cio__io_want(arm->interest));
        if (rc < 0)
            return rc;
        break;
    }
    case CIO_SELECT_RECV:
    case CIO_SELECT_NOTIFIED:
        cio__list_init(&s->u.sync.node);
        s->u.sync.status = SYNC_WAITING;
        break;
    case CIO_SELECT_JOIN:
    case CIO_SELECT_JOIN_NEXT:
        cio__parker_init(&s->u.joiner);
        break;
    default:
        return 0; /* a deadline queues nothing */
    }
    s->watching = true;
    return 0;
}

/*
 * Poll one arm: 1, it fired (outputs written, and what it took is the caller's); 0, it waits
 * (its waiter queued; *wake_at lowered to a deadline arm's time); or an error that fails the
 * whole select. *now: the time, read once per round when a deadline arm needs it.
 */
static int arm_poll(cio_select_arm *arm, struct slot *s, cio_time *now, cio_time *wake_at)
{
    int rc;
    if (arm->kind == CIO_SELECT_DEADLINE) {
        if (*now == 0)
            *now = cio_now();
        if (*now >= arm->deadline) {
            arm->rc = 0;
            return 1;
        }
        if (arm->deadline < *wake_at)
            *wake_at = arm->deadline;
        return 0;
    }
    if (!s->watching) {
        rc = slot_begin(arm, s);
        if (rc == -EBADF && arm->kind == CIO_SELECT_READY) {
            arm->rc = -EBADF; /* a closed socket: the arm fires with its error */
            return 1;
        }
        if (rc < 0)
            return rc;
    }
    switch (arm->kind) {
    case CIO_SELECT_READY:
        rc = cio__io_watch_poll(&s->u.io);
        if (rc == 0)
            return 0;
        arm->rc = rc; /* a readiness value, or -EBADF; the watch ends with the select */
        return 1;
    case CIO_SELECT_RECV:
        rc = cio__chan_recv_watch(arm->rx, arm->item, &s->u.sync);
        if (rc == -EAGAIN)
            return 0;
        s->watching = false; /* unlinked, and nothing to hand on: the item is ours */
        if (rc < 0)
            return rc;
        arm->rc = rc;
        return 1;
    case CIO_SELECT_NOTIFIED:
        if (cio__notify_watch(arm->notify, &s->u.sync) == -EAGAIN)
            return 0;
        s->watching = false;
        arm->rc = 0;
        return 1;
    case CIO_SELECT_JOIN: {
        cio_task *t = cio__task_of(arm->join);
        if (cio__task_join_watch(t, &s->u.joiner) == -EAGAIN)
            return 0;
        s->watching = false;
        cio__parker_fini(&s->u.joiner);
        cio__task_take(t, &arm->result, &arm->cancelled);
        arm->join = NULL;
        arm->rc = 0;
        return 1;
    }
    case CIO_SELECT_JOIN_NEXT:
        if (cio__join_set_watch(arm->set, &s->u.joiner, &arm->result, &arm->cancelled) == -EAGAIN)
            return 0;
        s->watching = false;
        cio__parker_fini(&s->u.joiner);
        arm->rc = 0;
        return 1;
    default:
        return 0;
    }
}

/* Stop watching: dequeue the waiter, hand on what reached it, let go of the socket. */
static void arm_unwatch(cio_select_arm *arm, struct slot *s)
{
    switch (arm->kind) {
    case CIO_SELECT_READY:
        cio__io_watch_end(&s->u.io);
        break;
    case CIO_SELECT_RECV:
        cio__chan_recv_unwatch(arm->rx, &s->u.sync);
        break;
    case CIO_SELECT_NOTIFIED:
        cio__notify_unwatch(arm->notify, &s->u.sync);
        break;
    case CIO_SELECT_JOIN:
        cio__task_join_unwatch(cio__task_of(arm->join), &s->u.joiner);
        cio__parker_fini(&s->u.joiner);
        break;
    case CIO_SELECT_JOIN_NEXT:
        cio__join_set_unwatch(arm->set, &s->u.joiner);
        cio__parker_fini(&s->u.joiner);
        break;
    default:
        break;
    }
    s->watching = false;
}

/* ---- the select ---- */

/* A random start for the scan: xorshift32 per thread (fairness, not secrecy). */
static _Thread_local uint32_t scan_seed;

static size_t random_start(size_t count)
{
    uint32_t x = scan_seed;
    if (x == 0)
        x = (uint32_t)cio_now() | 1u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    scan_seed = x;
    return (size_t)x % count;
}

/* One round (see the top): the index of the arm that fired; -EAGAIN, every arm watched and
 * *wake_at the earliest deadline arm's time; or an error. */
static int scan(cio_select_arm *arms, struct slot *slots, size_t count, size_t start,
                cio_time *wake_at)
{
    cio_time now = 0;
    *wake_at = CIO_DEADLINE_NONE;
    size_t i = start;
    for (size_t k = 0; k < count; k++, i = i + 1 == count ? 0 : i + 1) {
        if (!arm_on(&arms[i]))
            continue;
        int rc = arm_poll(&arms[i], &slots[i], &now, wake_at);
        if (rc > 0)
            return (int)i;
        if (rc < 0)
            return rc;
    }
    return -EAGAIN;
}

int cio_select(cio_select_arm *arms, size_t count, unsigned flags)
{
    cio_task *self = cio__task_self();
    if (self == NULL)
        return -EPERM;
    if ((arms == NULL && count > 0) || count > INT_MAX || (flags & ~CIO_SELECT_BIASED))
        return -EINVAL;
    for (size_t i = 0; i < count; i++) {
        if (arm_check(&arms[i], self) < 0)
            return -EINVAL;
        /* One handle in two join arms would be joined (freed) by one and unwatched by the
         * other. */
        for (size_t j = 0; arms[i].kind == CIO_SELECT_JOIN && arms[i].join != NULL && j < i; j++) {
            if (arms[j].kind == CIO_SELECT_JOIN && arms[j].join == arms[i].join)
                return -EINVAL;
        }
    }
    /* Cancelled: -ECANCELED having yielded, even with an arm ready (it takes nothing). */
    int rc = cio__task_budget();
    if (rc < 0)
        return rc;
    struct slot stack_slots[STACK_SLOTS];
    struct slot *slots = stack_slots;
    if (count > STACK_SLOTS && (slots = malloc(count * sizeof(*slots))) == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < count; i++)
        slots[i].watching = false;
    size_t start = (flags & CIO_SELECT_BIASED) || count < 2 ? 0 : random_start(count);
    bool timed_out = false;
    for (;;) {
        cio_time wake_at;
        rc = scan(arms, slots, count, start, &wake_at);
        if (rc != -EAGAIN)
            break;
        if (timed_out) {
            /* The park's deadline passed: an arm's (the scan just fired it, or the timer
             * wheel was early) or the task's own. */
            cio_time deadline = cio__task_deadline();
            if (deadline != CIO_DEADLINE_NONE && cio_now() >= deadline) {
                rc = -ETIMEDOUT;
                break;
            }
        }
        rc = cio__task_park(wake_at);
        if (rc == -ECANCELED)
            break;
        timed_out = rc == -ETIMEDOUT;
    }
    for (size_t i = 0; i < count; i++) {
        if (slots[i].watching)
            arm_unwatch(&arms[i], &slots[i]);
    }
    if (slots != stack_slots)
        free(slots);
    return rc;
}
