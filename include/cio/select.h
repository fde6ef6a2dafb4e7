/*
 * cio/select.h: wait in one task for the first of several things — a socket's readiness, a
 * channel's next item, a notification, a deadline, a task's end (one task, or any of a join
 * set) — and learn which one it was
 * (Go's select statement, tokio's select! macro, in C). One task can so serve many sockets and
 * a control channel at once instead of one task per socket.
 *
 *     struct msg m;
 *     cio_select_arm arms[] = {
 *         cio_select_readable(conn),                    // 0: the peer sent something
 *         cio_select_recv(control, &m),                 // 1: a message (received into m)
 *         cio_select_timeout(5 * CIO_NSEC_PER_SEC),     // 2: nothing for 5 s
 *     };
 *     switch (cio_select(arms, 3, 0)) {
 *     case 0: n = cio_stream_read(conn, buf, sizeof(buf)); break;
 *     case 1: if (arms[1].rc == 1) handle(&m); else closed_control(); break;
 *     case 2: idle(); break;
 *     default: ...   // -ECANCELED, -ETIMEDOUT (the task's deadline), -EINVAL...
 *     }
 *
 * ARMS. An arm is a small struct, made by the constructors below (or filled by hand: the
 * fields are public). The select takes an array of them and returns the index of the one that
 * fired, writing that arm's outputs (rc, and for a join result and cancelled). An arm whose
 * object is NULL (or of kind CIO_SELECT_OFF, or a deadline of CIO_DEADLINE_NONE) never fires,
 * like a nil channel in Go: a loop switches arms off and on without rebuilding the array.
 *
 * WHAT FIRING TAKES. Exactly the fired arm consumes, and only what its kind says:
 *   ready     nothing: readiness is reported, as cio_socket_ready() reports it (the caller's
 *             operation that follows may still say -EAGAIN: readiness can be stale, never
 *             missing — hand rc to cio_socket_clear_ready() then);
 *   recv      one item, received into the arm's buffer (or the channel's end, rc 0);
 *   notified  one notification (a stored permit, or the one that woke the select);
 *   deadline  nothing;
 *   join      the task's result: it is joined (its handle is freed, as by cio_task_join()
 *             returning 0) and the arm's join field becomes NULL, so the arm is off from then;
 *   join_next one finished member of a join set, taken out of the set (its result).
 * Every arm that did not fire consumed nothing (cancel safety): its channel items stay in
 * the channel, its notification goes on to the next waiter or back to the permit, its
 * socket's readiness stays cached, its finished task stays joinable — also when the select
 * itself returns -ECANCELED or -ETIMEDOUT.
 *
 * FAIRNESS. When several arms are ready, the select picks one at random (it starts its scan
 * at a random arm and goes round the array, as tokio's select! does), so a busy arm does not
 * starve the others. With CIO_SELECT_BIASED it scans in array order from arm 0 each time
 * (tokio's "biased;"): the first ready arm wins — priorities, at the risk of starving the
 * later arms.
 *
 * WAITING. The select spends one unit of the task's cooperative budget, then takes what is
 * ready; only when nothing is does it queue a waiter on every arm's object and suspend once,
 * woken by whichever comes first (no polling). It obeys the rules of every suspending call
 * (cio/rt.h): -ECANCELED once the task is cancelled (at once, even with an arm ready, and
 * without spinning: it yields first), -ETIMEDOUT when the task's deadline in force passes
 * while nothing is ready (CIO_TIMEOUT and friends apply). A deadline arm is the select's own
 * timer: it fires as an arm, and it may be later than the task's deadline (which then wins).
 */
#ifndef CIO_SELECT_H
#define CIO_SELECT_H

#include <stdbool.h>
#include <stddef.h>

#include "cio/common.h"
#include "cio/rt.h"
#include "cio/socket.h"
#include "cio/sync.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What an arm waits for. */
typedef enum cio_select_kind {
    CIO_SELECT_OFF = 0,   /* nothing: never fires (a zeroed arm) */
    CIO_SELECT_READY,     /* readiness of @sock for @interest */
    CIO_SELECT_RECV,      /* the next item of @rx, received into @item */
    CIO_SELECT_NOTIFIED,  /* a notification of @notify */
    CIO_SELECT_DEADLINE,  /* the monotonic time @deadline */
    CIO_SELECT_JOIN,      /* the end of the task of @join */
    CIO_SELECT_JOIN_NEXT, /* the end of any task of the join set @set */
} cio_select_kind;

/*
 * One arm of a select. Inputs: the kind's fields. Outputs, written for the arm that fired
 * only:
 *   rc       READY: the readiness value (> 0; as cio_socket_ready() returns: test it with
 *            CIO_READY_*, pass it to cio_socket_clear_ready()), or -EBADF: the socket was
 *            closed (by another task) while the select waited;
 *            RECV: 1, an item was received into @item; 0, the channel ended (every sender
 *            gone or the receiver closed, and nothing left) — it then fires at every select,
 *            as a closed channel does in Go: switch it off;
 *            NOTIFIED, DEADLINE, JOIN, JOIN_NEXT: 0.
 *   result, cancelled   JOIN, JOIN_NEXT: as cio_task_join() writes them.
 */
typedef struct cio_select_arm {
    cio_select_kind kind;
    unsigned interest;     /* READY: CIO_READABLE, CIO_WRITABLE and/or CIO_PRIORITY */
    cio_socket *sock;      /* READY: any socket, a split half, a cio_async_fd */
    cio_chan_receiver *rx; /* RECV */
    void *item;            /* RECV: one item's room (NULL for a channel of 0-byte items) */
    cio_notify *notify;    /* NOTIFIED */
    cio_time deadline;     /* DEADLINE: absolute (cio_now() based) */
    cio_join_handle *join; /* JOIN: a handle not yet joined; NULL once joined here */
    cio_join_set *set;     /* JOIN_NEXT */
    int rc;                /* out (see above) */
    void *result;          /* out: JOIN, JOIN_NEXT */
    bool cancelled;        /* out: JOIN, JOIN_NEXT */
} cio_select_arm;

/* cio_select() flags. */
#define CIO_SELECT_BIASED 0x1u /* scan the arms in array order (default: a random start) */

/**
 * cio_select() - wait for the first of several arms to fire (see the top of cio/select.h).
 * @arms: the arms; the fired arm's outputs are written (and a fired join arm's handle field
 *        set to NULL). The array and every object it names must stay valid during the call.
 * @count: the number of arms (0 waits for cancellation or the task's deadline only).
 * @flags: 0 or CIO_SELECT_BIASED.
 *
 * Takes an arm that is ready at once; else suspends the calling task until one fires. Cancel
 * safe: an arm that did not fire consumed nothing, whatever the select returns. One task at
 * a time should select on one channel receiver; the objects may be used by other tasks and
 * threads meanwhile (senders, notifiers, other readers of a socket). Up to 16 arms need no
 * memory; more are bookkept in one allocation per call.
 *
 * Return: the index of the arm that fired; -ECANCELED (the task was cancelled; checked first);
 * -ETIMEDOUT (the task's deadline passed with no arm ready); -EINVAL (a bad arm: an unknown
 * kind, an empty or unknown interest, a NULL item field for a channel of non-empty items, a
 * task's own join handle, one join handle in two arms; NULL @arms with @count > 0; unknown
 * flags); -ENOMEM; -EPERM outside
 * a task. An error from registering a socket with the runtime (-ENOMEM, -EMFILE...) fails the
 * whole select, having consumed nothing.
 */
CIO_EXPORT int cio_select(cio_select_arm *arms, size_t count, unsigned flags);

/**
 * cio_select_ready() - an arm that fires when @sock is ready for any of @interest.
 * @sock: any socket handle, a half of a split stream or a cio_async_fd (converted, as the
 *        socket core's functions do). A NULL sock field makes the arm off.
 * @interest: CIO_READABLE, CIO_WRITABLE and/or CIO_PRIORITY.
 *
 * Fires as cio_socket_ready() returns: on cached readiness (an edge not yet cleared by an
 * operation that saw -EAGAIN), with the readiness value in rc. The socket registers with the
 * calling task's worker when a select first needs it, as on any wait; its readiness is then
 * known from the reactor's first event, so a biased select may take a later arm first while
 * a socket that never waited before already has data.
 *
 * Return: the arm.
 */
CIO_EXPORT cio_select_arm cio_select_ready(cio_socket *sock, unsigned interest);

/** cio_select_readable() - cio_select_ready(sock, CIO_READABLE). */
CIO_EXPORT cio_select_arm cio_select_readable(cio_socket *sock);

/** cio_select_writable() - cio_select_ready(sock, CIO_WRITABLE). */
CIO_EXPORT cio_select_arm cio_select_writable(cio_socket *sock);

/**
 * cio_select_recv() - an arm that receives the next item of a channel.
 * @rx: the receiver; NULL: the arm is off.
 * @item: room for one item (the channel's item size); receives it when the arm fires with
 *        rc 1, untouched otherwise.
 *
 * Return: the arm.
 */
CIO_EXPORT cio_select_arm cio_select_recv(cio_chan_receiver *rx, void *item);

/**
 * cio_select_notified() - an arm that takes one notification of @notify (a stored permit or
 * a cio_notify_one/cio_notify_waiters made while the select waits). NULL: the arm is off.
 *
 * Return: the arm.
 */
CIO_EXPORT cio_select_arm cio_select_notified(cio_notify *notify);

/**
 * cio_select_deadline() - an arm that fires at the monotonic time @when (cio_now() based;
 * the timer wheel's millisecond granularity, rounded up). A time already past fires at once
 * (if no arm before it in the scan is ready); CIO_DEADLINE_NONE: never.
 *
 * Return: the arm.
 */
CIO_EXPORT cio_select_arm cio_select_deadline(cio_time when);

/**
 * cio_select_timeout() - cio_select_deadline(cio_now() + @duration), the time counted from
 * when the arm is made: make it right before the select (in a loop, once per round for a
 * timeout per wait; once before the loop for one bound on the whole loop).
 *
 * Return: the arm.
 */
CIO_EXPORT cio_select_arm cio_select_timeout(cio_duration duration);

/**
 * cio_select_join() - an arm that fires when the task of @handle has finished, and joins it.
 * @handle: a join handle not yet joined or detached; NULL: the arm is off.
 *
 * When the arm fires the task is joined as by cio_task_join() returning 0: result and
 * cancelled are written, the handle is freed and the arm's join field set to NULL (so the
 * same array can be selected on again). While the arm has not fired the handle stays the
 * caller's, and a task that finished without being chosen stays joinable.
 *
 * Return: the arm.
 */
CIO_EXPORT cio_select_arm cio_select_join(cio_join_handle *handle);

/**
 * cio_select_join_next() - an arm that takes a finished task out of a join set, as
 * cio_join_set_join_next() does: result and cancelled are written when it fires.
 * @set: the set; NULL: the arm is off. One task at a time waits on a set (a select or a
 *       join_next).
 *
 * Unlike cio_join_set_join_next(), an empty set does not end the wait (it has nothing to
 * report yet): the arm fires once a task spawned into the set later has finished, so a loop
 * can select on a set it keeps adding to. Members that finished while another arm fired stay
 * in the set.
 *
 * Return: the arm.
 */
CIO_EXPORT cio_select_arm cio_select_join_next(cio_join_set *set);

#ifndef CIO_NO_GENERIC
#define cio_select_ready(s, i) (cio_select_ready)(cio__as_pollable(s), i)
#define cio_select_readable(s) (cio_select_readable)(cio__as_pollable(s))
#define cio_select_writable(s) (cio_select_writable)(cio__as_pollable(s))
#endif

#ifdef __cplusplus
}
#endif

#endif /* CIO_SELECT_H */
