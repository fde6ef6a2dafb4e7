/*
 * io.h: a socket's registration with the runtime (private; tokio's ScheduledIo and
 * Registration). The async socket modules call these with the struct cio__socket at the
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
#include <stdatomic.h>
#include <sys/types.h>

#include "cio/io.h"
#include "cio/poll.h"
#include "net/socket.h"
#include "rt/sched.h"

/* An operation on the socket: returns >= 0, or a negative errno (-EAGAIN: would block). */
typedef ssize_t (*cio__io_op)(struct cio__socket *sock, void *ctx);

#define CIO__IO_BITS_MASK 0xffu
#define CIO__IO_TICK_SHIFT 8
#define CIO__IO_NDIRS 3 /* read, write, priority */

/* The readiness bits that satisfy a wait in each direction. */
#define CIO__IO_READ_READY (CIO_READY_READABLE | CIO_READY_READ_CLOSED | CIO_READY_ERROR)
#define CIO__IO_WRITE_READY (CIO_READY_WRITABLE | CIO_READY_WRITE_CLOSED | CIO_READY_ERROR)
#define CIO__IO_PRIORITY_READY (CIO_READY_PRIORITY | CIO_READY_ERROR)

struct cio__io_waiter {
    struct cio__parker *parker;
    cio_wake_fn wake;
    void *ctx;
};

/* A socket's registration (sock->io), created the first time one of its operations would
 * block. */
struct cio__io {
    struct cio__reactor_source source; /* first: the reactor's token points here */
    struct cio__worker *worker;        /* whose reactor holds the registration; NULL: orphan */
    struct cio__list node;             /* on worker->sources */
    struct cio__deferred deferred;
    int fd;
    /* Level-triggered backend (poll(2)): interest narrowed to the directions not known to be
     * ready, re-armed when an operation sees -EAGAIN — the edge emulation that needs to know
     * about -EAGAIN, which only this layer does. Under the lock. */
    bool level;
    unsigned armed;
    atomic_uint readiness;
    atomic_flag lock;
    bool closed; /* the socket let go (under the lock) */
    int waiting; /* tasks parked on it (under the lock): the last one out of a closed
                    registration frees it */
    struct cio__io_waiter waiters[CIO__IO_NDIRS];
};

/* A socket's registration, or NULL. Tasks on two workers may register one socket at the same
 * moment (a reader and a writer), so the pointer is read and published atomically. */
static inline struct cio__io *cio__io_of(const struct cio__socket *sock)
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
ssize_t cio__io_do_slow(struct cio__socket *sock, unsigned interest, cio__io_op op, void *ctx,
                        size_t short_len);
/* The fast path's operation saw -EAGAIN on readiness word @seen: clear, then wait and retry. */
ssize_t cio__io_do_again(struct cio__socket *sock, unsigned interest, cio__io_op op, void *ctx,
                         size_t short_len, struct cio__io *io, unsigned seen);

/*
 * cio__io_do() - run @op until it does not return -EAGAIN, suspending the calling task for
 * @interest readiness in between (registering the socket on first need).
 * @short_len: for reads of a stream: the length asked for; a result shorter than it (and not
 *             0) clears read readiness — the socket was drained. 0 disables the rule.
 *
 * Spends one unit of the task's cooperative budget (may yield).
 * Return: @op's result; -EBUSY (another task waits in this direction); -EBADF (closed while
 * waiting); -ECANCELED; -ETIMEDOUT; -EPERM outside a task.
 *
 * Inline, so that @op — a constant at every call site — is a direct call: the common case (a
 * registered socket whose readiness is cached, a task with budget left and not cancelled)
 * costs a few loads and the operation. Everything else goes to cio__io_do_slow().
 */
static inline ssize_t cio__io_do(struct cio__socket *sock, unsigned interest, cio__io_op op,
                                 void *ctx, size_t short_len)
{
    cio_task *t = cio__task_self();
    if (t == NULL || sock == NULL || t->budget <= 1 ||
        (atomic_load_explicit(&t->state, memory_order_relaxed) & CIO__TASK_CANCELLED))
        return cio__io_do_slow(sock, interest, op, ctx, short_len);
    struct cio__io *io = cio__io_of(sock);
    if (io == NULL)
        return cio__io_do_slow(sock, interest, op, ctx, short_len);
    unsigned seen = atomic_load_explicit(&io->readiness, memory_order_acquire);
    if (!(seen & cio__io_want(interest)))
        return cio__io_do_slow(sock, interest, op, ctx, short_len);
    t->budget--;
    ssize_t n = op(sock, ctx);
    if (n == -EAGAIN)
        return cio__io_do_again(sock, interest, op, ctx, short_len, io, seen);
    if (short_len > 0 && n > 0 && (size_t)n < short_len)
        cio__io_drained(io, seen);
    return n;
}

/* cio__io_try() - @op once; on -EAGAIN clear the cached readiness (if registered). Never
 * waits; usable outside tasks. */
ssize_t cio__io_try(struct cio__socket *sock, unsigned interest, cio__io_op op, void *ctx);

/* cio__io_ready() - wait until any of @interest is ready; returns the CIO_READY_* set. */
int cio__io_ready(struct cio__socket *sock, unsigned interest);

/* cio__io_clear() - cio_async_fd_clear_ready() for any socket. */
void cio__io_clear(struct cio__socket *sock, int ready);

/* cio__io_poll_ready() - readiness now, or arm @wake for one direction (-EAGAIN). */
int cio__io_poll_ready(struct cio__socket *sock, unsigned interest, cio_wake_fn wake, void *ctx);

/* cio__io_register() - register now with the calling task's worker (no-op if registered). */
int cio__io_register(struct cio__socket *sock);

#endif
