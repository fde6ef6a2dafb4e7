/*
 * io.h: a socket's registration with the runtime (private; tokio's ScheduledIo and
 * Registration). The async socket modules call these with the struct cio_socket at the
 * start of every handle; nothing here knows a protocol.
 *
 * Readiness word (atomic):  [ tick : 24 | readiness bits : 8 ]
 * Every reactor event increments the tick and ors in the new bits. An operation remembers the
 * word it acted on; when it gets -EAGAIN it clears its direction's bits only if the tick has
 * not moved, so an edge that arrived in between is never erased (no lost wake-up).
 */
#ifndef CIO_IO_INTERNAL_H
#define CIO_IO_INTERNAL_H

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "cio/io.h"
#include "cio/poll.h"
#include "io/uring.h"
#include "net/socket.h"
#include "rt/sched.h"

/* An operation on the socket: returns >= 0, or a negative errno (-EAGAIN: would block). */
typedef ssize_t (*cio__io_op)(struct cio_socket *sock, void *ctx);

#define CIO__IO_BITS_MASK 0xffu
#define CIO__IO_TICK_SHIFT 8
#define CIO__IO_NDIRS 3 /* read, write, priority */

/* The readiness bits that satisfy a wait in each direction. */
#define CIO__IO_READ_READY (CIO_READY_READABLE | CIO_READY_READ_CLOSED | CIO_READY_ERROR)
#define CIO__IO_WRITE_READY (CIO_READY_WRITABLE | CIO_READY_WRITE_CLOSED | CIO_READY_ERROR)
#define CIO__IO_PRIORITY_READY (CIO_READY_PRIORITY | CIO_READY_ERROR)

/* struct cio__io_waiter, something waiting for readiness, is in rt/sched.h: a task's own
 * is part of its record. */

/* An armed poll_* callback: a waiter with no task, and what it calls. */
struct cio__io_callback {
    struct cio__io_waiter waiter;
    cio_wake_fn wake; /* NULL when not armed */
    void *ctx;
};

/*
 * A socket's registration (sock->io), created the first time one of its operations would
 * block, with the reactor of the calling task's worker: its owner. Who touches what:
 *
 *   readiness   set by the owner's reactor only; cleared by anyone (tick rule, io.c)
 *   first, waiters  the owner's tasks that wait: owner thread only, no lock
 *   foreign     tasks of other workers that wait, and armed poll_* callbacks: under lock
 *   everything else after registration: under lock
 *
 * So a socket used by tasks of its own worker — every socket of a current-thread runtime —
 * waits and wakes without a lock; the reactor pays one atomic exchange per event, the fence
 * that lets other threads wait safely (see on_event in io.c).
 */
struct cio__io {
    struct cio__reactor_source source; /* first: the reactor's token points here */
    struct cio__worker *worker;        /* the owner; NULL once the runtime is gone (orphan) */
    /* The owner when its tasks may take the inline fast paths (an edge-triggered backend),
     * else CIO__IO_NO_FAST, which is no worker: cio__io_fast()'s one comparison with the
     * calling thread's worker (NULL off the runtime) says both. Set before publication. */
    const struct cio__worker *fast;
    struct cio__list node;      /* on the worker's io_worker list (io.c) */
    struct cio__deferred sweep; /* owner-thread work asked for by another thread */
    int fd;
    atomic_uint readiness;
    atomic_bool closed; /* the socket let go: no operation touches the descriptor again */
    bool completion;    /* reads, writes and accepts go the completion way (@ring) */
    /* under lock (here, where the word has room: an idle connection holds this record) */
    bool gone;         /* the socket released its reference */
    bool sweep_posted; /* @sweep is queued on the owner */
    bool freeing;
    /* Level-triggered backend (poll(2)): interest narrowed to the directions not known to be
     * ready, re-armed when an operation clears readiness — the edge emulation that needs to
     * know about -EAGAIN, which only this layer does. */
    bool level;
    atomic_flag lock;
    /* Completion way, under lock: the poll request it has in the kernel for the directions in
     * @armed (io/uring.c: no registration with the backend, which keeps nothing for it) — the
     * interest it was made with, and CIO__IO_POLL_LIVE until its last completion. */
    unsigned char ring_poll;
    /* owner thread only: the waiting tasks, the first one in @first (the common case, one
     * task per socket, touches no list), the others on @waiters in arrival order */
    struct cio__io_waiter *first;
    struct cio__list waiters;
    unsigned owner_refs; /* owner tasks inside a wait */
    unsigned armed;      /* written under lock; what the backend was asked for (0: none) */
    /* under lock */
    struct cio__list foreign;
    atomic_uint foreign_count; /* entries on @foreign, read by the reactor after its fence */
    unsigned foreign_refs;     /* foreign tasks inside a wait */
    /* Allocated when first needed — most sockets never need them, and an idle connection
     * should not carry them: the poll_* callbacks, read and write (the first poll_* call);
     * on the completion way, the ring state instead (io/uring.h, cio__io_ring_of(): the first
     * read that arms the ring's receive, the first write of the owner's, a poll_* call),
     * which holds the callbacks. The completion way asks for readiness only when a task first
     * waits for a direction, and not for reading while the ring's receive is what reads. */
    union {
        struct cio__io_callback *callbacks;
        struct cio__io_ring *ring;
    };
};

/* struct cio__io's @ring_poll: the request lives (its last completion has not come). */
#define CIO__IO_POLL_LIVE 0x80u

#if CIO_HAVE_URING
/* The completion state of @io (io->completion), or NULL: none needed yet (see @ring). Made
 * under the lock, read anywhere. */
static inline struct cio__io_ring *cio__io_ring_of(struct cio__io *io)
{
    return __atomic_load_n(&io->ring, __ATOMIC_ACQUIRE);
}

/* @io's ring for a write of the owner's, or NULL: not the completion way, or its runtime
 * went. Owner thread. */
static inline struct cio__sys *cio__io_ring_sys(struct cio__io *io)
{
    if (!io->completion)
        return NULL;
    struct cio__io_ring *r = cio__io_ring_of(io);
    if (r != NULL)
        return r->sys;
    return io->worker != NULL ? cio__io_ring_of_worker(io->worker) : NULL;
}

/* Whether the multishot request is in the kernel (a hint, read without the lock). */
static inline bool cio__io_ring_armed(struct cio__io *io)
{
    struct cio__io_ring *r = io->completion ? cio__io_ring_of(io) : NULL;
    return r != NULL && __atomic_load_n(&r->state, __ATOMIC_RELAXED) != CIO__RING_IDLE;
}

/* Whether a wait for @want (a readiness mask) on @io, of the completion way, needs nothing
 * asked of the backend first — io.c's ring_arm_for() without the lock: the write direction
 * (asked with the read one), and the read one from the backend or the ring's receive, are
 * there. A stale answer only sends the caller the general way. */
static inline bool cio__io_ring_wait_set(struct cio__io *io, unsigned want)
{
    unsigned armed = __atomic_load_n(&io->armed, __ATOMIC_RELAXED);
    if ((want & (CIO_READY_READABLE | CIO_READY_WRITABLE)) && !(armed & CIO_WRITABLE))
        return false;
    if ((want & CIO_READY_READABLE) && !(armed & CIO_READABLE) && !cio__io_ring_armed(io))
        return false;
    return !(want & CIO_READY_PRIORITY) || (armed & CIO_PRIORITY);
}

/* Whether the registration must stay for a completion to come. Lock held. */
static inline bool cio__io_ring_busy(struct cio__io *io)
{
    if (!io->completion)
        return false;
    struct cio__io_ring *r = cio__io_ring_of(io);
    return (r != NULL && (r->inflight || r->sending != NULL)) ||
           (io->ring_poll & CIO__IO_POLL_LIVE);
}
#else
static inline struct cio__io_ring *cio__io_ring_of(struct cio__io *io)
{
    (void)io;
    return NULL;
}

static inline struct cio__sys *cio__io_ring_sys(struct cio__io *io)
{
    (void)io;
    return NULL;
}

static inline bool cio__io_ring_armed(struct cio__io *io)
{
    (void)io;
    return false;
}

static inline bool cio__io_ring_busy(struct cio__io *io)
{
    (void)io;
    return false;
}

static inline bool cio__io_ring_wait_set(struct cio__io *io, unsigned want)
{
    (void)io, (void)want;
    return true;
}
#endif

/* Never a worker (see struct cio__io's @fast). */
extern const char cio__io_no_fast;
#define CIO__IO_NO_FAST ((const struct cio__worker *)(const void *)&cio__io_no_fast)

/* A socket's registration, or NULL. Tasks on two workers may register one socket at the same
 * moment (a reader and a writer), so the pointer is read and published atomically. */
static inline struct cio__io *cio__io_of(const struct cio_socket *sock)
{
    return __atomic_load_n((struct cio__io *const *)&sock->io, __ATOMIC_ACQUIRE);
}

/* The readiness bits that satisfy @interest (CIO_READABLE, CIO_WRITABLE, CIO_PRIORITY). */
static inline unsigned cio__io_want(unsigned interest)
{
    unsigned mask = 0;
    if (interest & CIO_READABLE)
        mask |= CIO__IO_READ_READY;
    if (interest & CIO_WRITABLE)
        mask |= CIO__IO_WRITE_READY;
    if (interest & CIO_PRIORITY)
        mask |= CIO__IO_PRIORITY_READY;
    return mask;
}

/* The stream read drained the socket (a read shorter than asked): clear read readiness
 * unless an event came since @seen (the tick rule). */
void cio__io_drained(struct cio__io *io, unsigned seen);

/* cio__io_do() without its fast path: see below. */
ssize_t cio__io_do_slow(struct cio_socket *sock, unsigned interest, cio__io_op op, void *ctx,
                        size_t short_len);
/* The fast path's operation saw -EAGAIN on readiness word @seen: clear, then wait and retry. */
ssize_t cio__io_do_again(struct cio_socket *sock, unsigned interest, cio__io_op op, void *ctx,
                         size_t short_len, struct cio__io *io, unsigned seen);

/*
 * cio__io_do() - run @op until it does not return -EAGAIN, suspending the calling task for
 * @interest readiness in between (registering the socket on first need).
 * @short_len: for reads of a stream: the length asked for; a result shorter than it (and not
 *             0) clears read readiness — the socket was drained. 0 disables the rule.
 *
 * Spends one unit of the task's cooperative budget (may yield).
 * Return: @op's result; -EBADF (closed while waiting); -ECANCELED; -ETIMEDOUT; -EPERM outside
 * a task.
 *
 * Inline, so that @op — a constant at every call site — is a direct call: the common case (a
 * registered socket whose readiness is cached, a task with budget left and not cancelled)
 * costs a few loads and the operation. Everything else goes to cio__io_do_slow().
 */
static inline ssize_t cio__io_do(struct cio_socket *sock, unsigned interest, cio__io_op op,
                                 void *ctx, size_t short_len)
{
    struct cio__worker *w = cio__worker_current();
    if (w == NULL || sock == NULL || w->run_budget <= 1) /* 0: no task, or cancelled */
        return cio__io_do_slow(sock, interest, op, ctx, short_len);
    struct cio__io *io = cio__io_of(sock);
    if (io == NULL)
        return cio__io_do_slow(sock, interest, op, ctx, short_len);
    unsigned seen = atomic_load_explicit(&io->readiness, memory_order_acquire);
    if (!(seen & cio__io_want(interest)))
        return cio__io_do_slow(sock, interest, op, ctx, short_len);
    w->run_budget--;
    ssize_t n = op(sock, ctx);
    if (n == -EAGAIN)
        return cio__io_do_again(sock, interest, op, ctx, short_len, io, seen);
    if (short_len > 0 && n > 0 && (size_t)n < short_len)
        cio__io_drained(io, seen);
    return n;
}

/*
 * cio__io_owner() - the calling thread's worker when its current task may take @io's inline
 * fast paths: the worker owns the registration (edge-triggered backends only, see @fast) and
 * runs a task with budget left and not cancelled (run_budget 0: no task, or cancelled). NULL:
 * take the general path. Spends nothing.
 */
static inline struct cio__worker *cio__io_owner(const struct cio__io *io)
{
    struct cio__worker *w = cio__worker_current();
    if (io == NULL || io->fast != w || w->run_budget <= 1)
        return NULL;
    return w;
}

/*
 * cio__io_fast() - whether the calling task may run an operation needing @want (a readiness
 * mask, CIO__IO_READ_READY...) on @sock at once: a task with budget left and not cancelled,
 * on the worker that owns the registration (edge-triggered), the socket ready. Returns the
 * registration, having spent one unit of budget; NULL: take the slow path (nothing was
 * spent). The inline test every stream read and write starts with.
 *
 * On the owner's thread the reactor, the only setter of readiness bits, cannot run until the
 * task suspends: across the operation that follows the tick cannot move, so the fast path
 * needs no remembered word — the word at the time of the result is the one it acted on (see
 * cio__io_drained_owner(), and the -EAGAIN paths of stream.c).
 */
static inline struct cio__io *cio__io_fast(struct cio_socket *sock, unsigned want)
{
    struct cio__io *io = cio__io_of(sock);
    struct cio__worker *w = cio__io_owner(io);
    if (w == NULL || !(atomic_load_explicit(&io->readiness, memory_order_acquire) & want))
        return NULL;
    w->run_budget--;
    return io;
}

/* The stream read drained the socket (a read shorter than asked) on @io's owner thread, in an
 * operation cio__io_fast() admitted: clear read readiness with one plain store. The tick is
 * the one the operation acted on (see cio__io_fast()); a clear by another thread this store
 * overwrites only leaves a bit set — one spurious attempt, never a lost wake-up (see
 * clear_if_unchanged in io.c). */
static inline void cio__io_drained_owner(struct cio__io *io)
{
    unsigned cur = atomic_load_explicit(&io->readiness, memory_order_relaxed);
    atomic_store_explicit(&io->readiness, cur & ~(unsigned)CIO_READY_READABLE,
                          memory_order_relaxed);
}

/* cio__io_would_block() - an operation for @interest saw -EAGAIN on readiness word @seen:
 * clear that direction unless a newer event arrived (the tick rule). */
void cio__io_would_block(struct cio__io *io, unsigned seen, unsigned interest);

/* cio__io_try() - @op once; on -EAGAIN clear the cached readiness (if registered). Never
 * waits; usable outside tasks. */
ssize_t cio__io_try(struct cio_socket *sock, unsigned interest, cio__io_op op, void *ctx);

#define CIO__IO_VALUE_TICK_MASK 0x7fffffu /* the tick bits a readiness value carries (int, > 0) */

/* A readiness value for the caller (cio_socket_ready()): the bits of @want seen in @word,
 * and the word's tick above them. */
static inline int cio__io_ready_value(unsigned word, unsigned want)
{
    return (int)((((word >> CIO__IO_TICK_SHIFT) & CIO__IO_VALUE_TICK_MASK) << CIO__IO_TICK_SHIFT) |
                 (word & want & CIO__IO_BITS_MASK));
}

/* cio__io_wait() - park the calling task until any bit of @want is ready (io.c); on success
 * *seen is the word that satisfied it. After an error touch @io no more. */
int cio__io_wait(struct cio__io *io, unsigned want, unsigned *seen);

/* cio__io_wait() for @t, a task of @io's fast owner (cio__io_fast()'s test passed). */
int cio__io_wait_owned(struct cio__io *io, cio_task *t, unsigned want, unsigned *seen);

/* cio__io_park() for a shared task @t (io.c): the same case, @t bound to the worker for
 * the wait. */
int cio__io_park_shared(struct cio__io *io, cio_task *t, unsigned want, unsigned *seen);

/* cio__io_park() after a park that did not end with the event it waited for (a cancellation,
 * a close, a spurious wake), or did and was then cancelled or closed: the general way (io.c). */
int cio__io_park_end(struct cio__io *io, cio_task *t, struct cio__io_waiter *waiter, unsigned want,
                     unsigned *seen);

/*
 * cio__io_park() - cio__io_wait_owned(), its common case written out at the call site: the
 * first waiter of an open registration on an edge-triggered backend (of the completion way:
 * with nothing to ask of the backend first), a pinned task with no deadline and not
 * cancelled, parks until an event wakes it (the caller found the readiness wanting).
 * The waiter is the task's own (t->io_wait, its task set at spawn), so nothing on the stack is
 * written while it waits and the stack may be saved (rt/sched.h); on_event() dequeues it when
 * it wakes the task.
 */
static inline int cio__io_park(struct cio__io *io, cio_task *t, unsigned want, unsigned *seen)
{
    if ((io->completion && !cio__io_ring_wait_set(io, want)) || io->first != NULL ||
        t->deadline != CIO_DEADLINE_NONE ||
        (atomic_load_explicit(&t->state, memory_order_relaxed) & CIO__TASK_CANCELLED) ||
        atomic_load_explicit(&io->closed, memory_order_acquire))
        return cio__io_wait_owned(io, t, want, seen);
    if (cio__task_shared(t)) /* it may resume elsewhere: bound for the wait (io.c) */
        return cio__io_park_shared(io, t, want, seen);
    struct cio__io_waiter *waiter = &t->io_wait;
    waiter->want = want;
    waiter->woken = 0;
    io->first = waiter;
    io->owner_refs++;
    cio__task_suspend(t);
    io->owner_refs--;
    if (cio__likely(
            waiter->woken != 0 &&
            !(atomic_load_explicit(&t->state, memory_order_relaxed) & CIO__TASK_CANCELLED) &&
            !atomic_load_explicit(&io->closed, memory_order_acquire))) {
        *seen = waiter->woken; /* the edge that woke us, even if consumed since */
        return 0;
    }
    return cio__io_park_end(io, t, waiter, want, seen);
}

/* cio__io_ready() without its fast path (io.c). */
int cio__io_ready_slow(struct cio_socket *sock, unsigned interest);

/*
 * cio__io_ready() - wait until any of @interest is ready; spends budget. Returns the
 * CIO_READY_* bits that satisfied it with the tick they were seen at in the bits above
 * (see cio_socket_ready()). Inline for the common case — a task on the registration's
 * fast owner (cio__io_fast()), with budget — where @interest is a constant at the call site.
 */
static inline int cio__io_ready(struct cio_socket *sock, unsigned interest)
{
    struct cio__io *io;
    struct cio__worker *w;
    if (sock == NULL || (w = cio__io_owner(io = cio__io_of(sock))) == NULL || interest == 0 ||
        (interest & ~(unsigned)(CIO_READABLE | CIO_WRITABLE | CIO_PRIORITY)))
        return cio__io_ready_slow(sock, interest);
    w->run_budget--;
    unsigned want = cio__io_want(interest);
    unsigned seen = atomic_load_explicit(&io->readiness, memory_order_acquire);
    if (!(seen & want)) {
        int rc = cio__io_park(io, w->current, want, &seen);
        if (rc < 0)
            return rc;
    }
    return cio__io_ready_value(seen, want);
}

/* cio__io_clear() - cio_socket_clear_ready(): @ready is a value cio__io_ready() returned. */
void cio__io_clear(struct cio_socket *sock, int ready);

/* cio__io_poll_ready() - readiness now, or arm @wake for one direction (-EAGAIN). */
int cio__io_poll_ready(struct cio_socket *sock, unsigned interest, cio_wake_fn wake, void *ctx);

/* cio__io_call() - run a protocol's own non-blocking call @fn(@arg) (accept, sendfile,
 * finish-connect, a datagram send...) until it does not return -EAGAIN, waiting for
 * @interest in between (readiness.c). */
ssize_t cio__io_call(struct cio_socket *sock, unsigned interest, cio_io_fn fn, void *arg);

/* cio__io_poll_op() - the poll form of @op: try it; on -EAGAIN arm @wake for @interest
 * (CIO_READABLE or CIO_WRITABLE) and return -EAGAIN. cio__io_poll_call(): the same for a
 * protocol's call @fn(@arg). */
ssize_t cio__io_poll_op(struct cio_socket *sock, unsigned interest, cio__io_op op, void *arg,
                        cio_wake_fn wake, void *ctx);
ssize_t cio__io_poll_call(struct cio_socket *sock, unsigned interest, cio_io_fn fn, void *arg,
                          cio_wake_fn wake, void *ctx);

/* cio__io_finish_connect() - wait for the connect started on @sock: @finish(@arg) says 0 once
 * connected, -EAGAIN while the handshake goes on, or the failure. On any failure (refused,
 * deadline, cancelled) the handle is closed (cio_socket_close), so nothing half-open is left.
 * Return: 0; the failure. */
int cio__io_finish_connect(struct cio_socket *sock, cio_io_fn finish, void *arg);

/* The three forms of a kind's own operation: once (try_*), suspending, poll. */
enum cio__io_mode {
    CIO__IO_TRY,
    CIO__IO_WAIT,
    CIO__IO_POLL,
};

/* cio__io_accept() - accept on @listener (a TCP or Unix listener handle) into a stream
 * handle of the same family, in form @mode (@wake/@ctx for CIO__IO_POLL) (listener.c). */
int cio__io_accept(void *listener, void **ret_stream, cio_addr *ret_peer, enum cio__io_mode mode,
                   cio_wake_fn wake, void *ctx);

/* cio__io_register() - register now with the calling task's worker (no-op if registered). */
int cio__io_register(struct cio_socket *sock);

/* cio__io_registered() - cio__io_register(), then *@ret_io is the registration. */
int cio__io_registered(struct cio_socket *sock, struct cio__io **ret_io);

/* ---- select's watches (io/select.c) ---- */

/*
 * A select's watch on one socket: a reference on the registration held from
 * cio__io_watch_begin() to cio__io_watch_end() — so the select never touches the handle again
 * after it began, and a close while it waits cannot free what it reads — and a waiter queued
 * on the registration while the readiness it wants is missing. The waiter wakes the task as a
 * plain wait's does; the task may hold several watches and park once for all of them.
 */
struct cio__io_watch {
    struct cio__io *io;
    struct cio__io_waiter waiter;
    bool foreign; /* held as another worker's task (the locked list) */
    bool queued;  /* the waiter was queued and no event has dequeued it since */
};

/* Register @sock if it is not yet (the calling task's worker) and hold its registration for
 * readiness @want (a CIO__IO_*_READY mask). Return: 0; -EBADF; -ENOMEM; -EPERM. */
int cio__io_watch_begin(struct cio__io_watch *watch, struct cio_socket *sock, unsigned want);

/* The readiness now: a readiness value (> 0, cio__io_ready_value()) when it satisfies the
 * watch (the waiter is then dequeued); else 0, the waiter queued; -EBADF once the socket was
 * closed. */
int cio__io_watch_poll(struct cio__io_watch *watch);

/* Dequeue the waiter and let go of the registration (freeing it if it was the last). */
void cio__io_watch_end(struct cio__io_watch *watch);

/* ---- for the completion way (io/uring.c) ---- */

/* The registration's spin lock (see struct cio__io). */
static inline void cio__io_lock(struct cio__io *io)
{
    while (atomic_flag_test_and_set_explicit(&io->lock, memory_order_acquire))
        sched_yield();
}

static inline void cio__io_unlock(struct cio__io *io)
{
    atomic_flag_clear_explicit(&io->lock, memory_order_release);
}

/* An event for the registration, on the owner's thread outside any task (the reactor's
 * on_event): a completion that changed the read direction's readiness. */
void cio__io_event(struct cio__io *io, uint32_t flags);

/* Owner thread: a completion the registration waited for has come; free it if it was the
 * last thing keeping it (the socket let go). */
void cio__io_completed(struct cio__io *io);

/* The completion way: clear a read-closed state (from a poll request's hang-up) that the
 * ring will report itself, unless an event came since @seen (the tick rule). */
void cio__io_clear_closed(struct cio__io *io, unsigned seen);

/* Lock held: ask the backend for @interest (CIO_READABLE...; 0: nothing) on @io's socket. */
void cio__io_poll_interest(struct cio__io *io, unsigned interest);

/* Lock held: have the owner run its sweep at its next turn, which brings the completion way's
 * poll request in line with @armed (io/uring.h) — for a request that could not be made now. */
void cio__io_sync_later(struct cio__io *io);

/* cio__io_wait_done() - park the calling task until *@done (set by a completion on its
 * worker, which wakes it), listed among @io's waiters so that a close wakes it too. Readiness
 * never satisfies it. Return: 0 once *@done; -EBADF (closed); -ECANCELED; -ETIMEDOUT — and
 * then the caller touches @io no more. */
int cio__io_wait_done(struct cio__io *io, const bool *done);

#endif
