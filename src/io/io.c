/*
 * io.c: readiness bookkeeping between the reactor and the tasks that use a socket. A socket
 * gets a registration (struct cio__io) the first time one of its operations would block; the
 * reactor of the worker that registered it updates the readiness word and wakes the waiter
 * of each direction; operations run against the cached readiness and clear it by the tick
 * rule (see io.h).
 *
 * Lifetime: the registration is referenced by its socket and by each task parked on it.
 * Closing the socket deregisters it (so no new event is delivered), wakes the waiters with
 * -EBADF and drops the socket's reference; the memory is freed by the last reference, on the
 * reactor's own worker thread (cio__worker_defer) when dropped elsewhere, because that
 * worker may be in the middle of dispatching an event to it. Until a parked waiter has let
 * go, the socket's descriptor is not closed (cio__socket_close waits for detach to return,
 * and detach only returns after marking the registration closed, which waiters check before
 * touching the descriptor again).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "io/io.h"
#include "rt/sched.h"
#include "util/assert.h"

#define BITS_MASK CIO__IO_BITS_MASK
#define TICK_SHIFT CIO__IO_TICK_SHIFT
#define NDIRS CIO__IO_NDIRS
#define DIR_READ 0
#define DIR_WRITE 1
#define DIR_PRIORITY 2

/* What satisfies each direction. */
static const unsigned dir_satisfied[NDIRS] = {
    CIO__IO_READ_READY,
    CIO__IO_WRITE_READY,
    CIO__IO_PRIORITY_READY,
};
/* What an -EAGAIN in each direction clears (closed states are final). */
static const unsigned dir_clears[NDIRS] = {
    CIO_READY_READABLE | CIO_READY_ERROR,
    CIO_READY_WRITABLE | CIO_READY_ERROR,
    CIO_READY_PRIORITY | CIO_READY_ERROR,
};

static unsigned interest_clears(unsigned interest)
{
    unsigned mask = 0;
    if (interest & CIO_READABLE)
        mask |= dir_clears[DIR_READ];
    if (interest & CIO_WRITABLE)
        mask |= dir_clears[DIR_WRITE];
    if (interest & CIO_PRIORITY)
        mask |= dir_clears[DIR_PRIORITY];
    return mask;
}

static void io_lock(struct cio__io *io)
{
    while (atomic_flag_test_and_set_explicit(&io->lock, memory_order_acquire))
        sched_yield();
}

static void io_unlock(struct cio__io *io)
{
    atomic_flag_clear_explicit(&io->lock, memory_order_release);
}

/* CIO_EVENT_* to CIO_READY_*: the same bits for readable, writable and priority; error and
 * the closed states sit one place apart. Branch-free: it runs on every event. */
_Static_assert((unsigned)CIO_EVENT_READABLE == CIO_READY_READABLE &&
                   (unsigned)CIO_EVENT_WRITABLE == CIO_READY_WRITABLE &&
                   (unsigned)CIO_EVENT_PRIORITY == CIO_READY_PRIORITY &&
                   (unsigned)CIO_EVENT_ERROR << 2 == CIO_READY_ERROR &&
                   (unsigned)CIO_EVENT_READ_CLOSED >> 1 == CIO_READY_READ_CLOSED &&
                   (unsigned)CIO_EVENT_WRITE_CLOSED >> 1 == CIO_READY_WRITE_CLOSED,
               "from_event() relies on the bit layout of CIO_EVENT_* and CIO_READY_*");
static unsigned from_event(uint32_t flags)
{
    return (flags & (CIO_EVENT_READABLE | CIO_EVENT_WRITABLE | CIO_EVENT_PRIORITY)) |
           ((flags & CIO_EVENT_ERROR) << 2) |
           ((flags & (CIO_EVENT_READ_CLOSED | CIO_EVENT_WRITE_CLOSED)) >> 1);
}

static void io_free_now(struct cio__io *io)
{
    free(io);
}

static void io_free_deferred(struct cio__deferred *d)
{
    io_free_now(cio__container_of(d, struct cio__io, deferred));
}

/* Free a registration nobody can reach any more: on its reactor's thread, which may be
 * dispatching an event to it right now when we are elsewhere. */
static void io_release(struct cio__io *io, struct cio__worker *w)
{
    if (w == NULL || cio__worker_current() == w) {
        io_free_now(io);
    } else {
        io->deferred.fn = io_free_deferred;
        cio__worker_defer(w, &io->deferred);
    }
}

/*
 * Level-triggered backend, lock held: ask the reactor only for the directions whose
 * readiness is not cached. Every change of the readiness word is followed by this call
 * under the lock, reading the word afresh, so the interest always ends up matching the
 * latest readiness whatever order the reactor and the operations run in. PRIORITY stays
 * armed (an interest cannot be empty); a hang-up in both directions is final, so the
 * registration is dropped rather than reported at every wait.
 */
static void sync_interest(struct cio__io *io)
{
    if (!io->level || io->worker == NULL || io->armed == 0)
        return;
    cio_poll *poll = cio__worker_poll(io->worker);
    unsigned ready = atomic_load(&io->readiness);
    if ((ready & CIO_READY_READ_CLOSED) && (ready & CIO_READY_WRITE_CLOSED)) {
        (void)cio_poll_deregister(poll, io->fd);
        io->armed = 0;
        return;
    }
    unsigned armed = CIO_PRIORITY;
    if (!(ready & dir_satisfied[DIR_READ]))
        armed |= CIO_READABLE;
    if (!(ready & dir_satisfied[DIR_WRITE]))
        armed |= CIO_WRITABLE;
    if (armed != io->armed &&
        cio_poll_reregister(poll, io->fd, (cio_token)(uintptr_t)io, armed) == 0)
        io->armed = armed;
}

/* Level-triggered backend: readiness was cleared by an operation; re-arm accordingly. */
static void rearm(struct cio__io *io)
{
    io_lock(io);
    sync_interest(io);
    io_unlock(io);
}

/* Wake what waits in each direction @ready satisfies; lock held. The wake callbacks of those
 * directions are moved to @fire (NULL for every other direction), to be called after the
 * lock is dropped. Returns whether @fire holds any. */
static bool wake_waiters(struct cio__io *io, unsigned ready, struct cio__io_waiter *fire)
{
    bool any = false;
    for (int d = 0; d < NDIRS; d++) {
        struct cio__io_waiter *w = &io->waiters[d];
        fire[d].wake = NULL;
        if (!(ready & dir_satisfied[d]))
            continue;
        if (w->parker != NULL)
            cio__parker_unpark(w->parker);
        fire[d].wake = w->wake;
        fire[d].ctx = w->ctx;
        if (w->wake != NULL) {
            w->wake = NULL;
            w->ctx = NULL;
            any = true;
        }
    }
    return any;
}

/* Reactor side: an event for this registration (on its worker's thread). */
static void on_event(struct cio__reactor_source *source, uint32_t flags)
{
    struct cio__io *io = (struct cio__io *)source;
    unsigned add = from_event(flags);
    unsigned cur = atomic_load_explicit(&io->readiness, memory_order_relaxed);
    unsigned next;
    do {
        next = (cur + (1u << TICK_SHIFT)) | add; /* the tick wraps by itself */
    } while (!atomic_compare_exchange_weak(&io->readiness, &cur, next));

    struct cio__io_waiter fire[NDIRS];
    io_lock(io);
    if (io->level)
        sync_interest(io);
    bool any = wake_waiters(io, next, fire);
    io_unlock(io);
    if (any)
        for (int d = 0; d < NDIRS; d++)
            if (fire[d].wake != NULL)
                fire[d].wake(fire[d].ctx);
}

/* The socket is being closed or released (any thread). */
static void io_detach(struct cio__socket *sock)
{
    struct cio__io *io = __atomic_exchange_n((struct cio__io **)&sock->io, NULL, __ATOMIC_ACQ_REL);
    __atomic_store_n(&sock->detach, NULL, __ATOMIC_RELEASE);
    if (io == NULL)
        return;
    io_lock(io);
    struct cio__worker *w = io->worker;
    io_unlock(io);
    if (w != NULL) {
        (void)cio_poll_deregister(cio__worker_poll(w), io->fd);
        pthread_mutex_lock(&w->sources_lock);
        cio__list_remove(&io->node);
        pthread_mutex_unlock(&w->sources_lock);
    }
    struct cio__io_waiter fire[NDIRS] = {{0}};
    io_lock(io);
    io->closed = true;
    for (int d = 0; d < NDIRS; d++) {
        struct cio__io_waiter *wt = &io->waiters[d];
        if (wt->parker != NULL)
            cio__parker_unpark(wt->parker);
        fire[d] = *wt;
        wt->wake = NULL;
    }
    bool last = io->waiting == 0;
    w = io->worker;
    io_unlock(io);
    for (int d = 0; d < NDIRS; d++)
        if (fire[d].wake != NULL)
            fire[d].wake(fire[d].ctx);
    if (last)
        io_release(io, w); /* else the last parked task frees it on its way out */
}

/* The runtime is being freed while the socket lives on: forget the reactor. */
static void io_orphan(struct cio__list *node)
{
    struct cio__io *io = cio__container_of(node, struct cio__io, node);
    io_lock(io);
    io->worker = NULL;
    io_unlock(io);
}

int cio__io_register(struct cio__socket *sock)
{
    if (cio__io_of(sock) != NULL)
        return 0;
    struct cio__worker *w = cio__worker_current();
    if (w == NULL || cio__task_self() == NULL)
        return -EPERM;
    if (sock->fd < 0)
        return -EBADF;
    struct cio__io *io = calloc(1, sizeof(*io));
    if (io == NULL)
        return -ENOMEM;
    io->source.on_event = on_event;
    io->worker = w;
    io->fd = sock->fd;
    atomic_flag_clear(&io->lock);
    cio__list_init(&io->node);
    io->armed = CIO_READABLE | CIO_WRITABLE | CIO_PRIORITY;
    io->level = cio_poll_backend(cio__worker_poll(w)) == CIO_BACKEND_POLL;
    int rc = cio_poll_register(cio__worker_poll(w), sock->fd, (cio_token)(uintptr_t)io, io->armed);
    if (rc < 0) {
        free(io);
        return rc;
    }
    __atomic_store_n(&sock->detach, io_detach, __ATOMIC_RELAXED);
    void *expected = NULL;
    if (!__atomic_compare_exchange_n(&sock->io, &expected, io, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        /* Another task registered it first (on its own worker): use that one. */
        (void)cio_poll_deregister(cio__worker_poll(w), sock->fd);
        free(io);
        return 0;
    }
    pthread_mutex_lock(&w->sources_lock);
    w->orphan = io_orphan;
    cio__list_push_back(&w->sources, &io->node);
    pthread_mutex_unlock(&w->sources_lock);
    return 0;
}

/* Clear @mask from the readiness if the tick is still the one of @seen. */
static void clear_if_unchanged(struct cio__io *io, unsigned seen, unsigned mask)
{
    unsigned cur = atomic_load(&io->readiness);
    while ((cur >> TICK_SHIFT) == (seen >> TICK_SHIFT) && (cur & mask)) {
        if (atomic_compare_exchange_weak(&io->readiness, &cur, cur & ~mask))
            break;
    }
    if (io->level)
        rearm(io);
}

void cio__io_drained(struct cio__io *io, unsigned seen)
{
    if (io->worker == cio__worker_current() && !io->level) {
        /*
         * On the registration's own worker the reactor cannot run while this task does, so
         * the tick cannot move under us: a plain store does what the compare-and-swap would,
         * without the locked instruction — once per message on the hot path. A task on
         * another worker (the other half of a split socket) may clear its own direction at
         * this moment; losing that clear only leaves a bit set, i.e. one spurious attempt
         * that sees -EAGAIN and clears it again, never a lost wake-up.
         */
        unsigned cur = atomic_load_explicit(&io->readiness, memory_order_relaxed);
        if ((cur >> TICK_SHIFT) == (seen >> TICK_SHIFT) && (cur & CIO_READY_READABLE))
            atomic_store_explicit(&io->readiness, cur & ~(unsigned)CIO_READY_READABLE,
                                  memory_order_relaxed);
        return;
    }
    clear_if_unchanged(io, seen, CIO_READY_READABLE);
}

static int dir_of(unsigned interest)
{
    if (interest & CIO_READABLE)
        return DIR_READ;
    if (interest & CIO_WRITABLE)
        return DIR_WRITE;
    return DIR_PRIORITY;
}

/* The directions of @interest as a bit set (bit d: direction d). */
_Static_assert(CIO_READABLE == 1u << DIR_READ && CIO_WRITABLE == 1u << DIR_WRITE &&
                   CIO_PRIORITY == 1u << DIR_PRIORITY,
               "interest bits double as direction bits");

/*
 * Park until @want is ready in the directions @dirs (bit d: direction d; several at once for
 * ready(READABLE | WRITABLE)). On success *seen is the readiness word that satisfied it.
 * Tasks only. Always inlined: io_wait() calls it with a constant @dirs for the one-direction
 * waits of every read, write and accept, where the loops over directions fold away.
 */
static inline __attribute__((always_inline)) int io_wait_dirs(struct cio__io *io, unsigned dirs,
                                                              unsigned want, unsigned *seen)
{
    struct cio__parker parker;
    cio__parker_init(&parker);
    int rc = 0;
    io_lock(io);
    for (;;) {
        /* Closed first: a closed socket's descriptor must not be touched again. */
        if (io->closed) {
            rc = -EBADF;
            break;
        }
        unsigned cur = atomic_load(&io->readiness);
        if (cur & want) {
            *seen = cur;
            break;
        }
        for (int d = 0; d < NDIRS; d++)
            if ((dirs & (1u << d)) && io->waiters[d].parker != NULL &&
                io->waiters[d].parker != &parker)
                rc = -EBUSY;
        if (rc < 0)
            break;
        for (int d = 0; d < NDIRS; d++)
            if (dirs & (1u << d))
                io->waiters[d].parker = &parker;
        /* Parked, we keep the registration alive: a close from another task marks it
         * closed and wakes us, and we free it if we are the last one out. */
        io->waiting++;
        io_unlock(io);
        rc = cio__parker_park(&parker, CIO_DEADLINE_NONE);
        io_lock(io);
        io->waiting--;
        for (int d = 0; d < NDIRS; d++)
            if ((dirs & (1u << d)) && io->waiters[d].parker == &parker)
                io->waiters[d].parker = NULL;
        if (rc < 0)
            break;
    }
    bool free_it = io->closed && io->waiting == 0;
    struct cio__worker *w = io->worker;
    io_unlock(io);
    cio__parker_fini(&parker);
    if (free_it)
        io_release(io, w); /* closed while we waited: nothing else refers to it now */
    return rc;
}

/* Park until @interest is ready: see io_wait_dirs(). */
static int io_wait(struct cio__io *io, unsigned interest, unsigned *seen)
{
    unsigned want = cio__io_want(interest);
    unsigned dirs = interest & ((1u << NDIRS) - 1);
    switch (dirs) {
    case CIO_READABLE:
        return io_wait_dirs(io, CIO_READABLE, want, seen);
    case CIO_WRITABLE:
        return io_wait_dirs(io, CIO_WRITABLE, want, seen);
    default:
        return io_wait_dirs(io, dirs, want, seen);
    }
}

/* Run @op until it does not return -EAGAIN, waiting in between (no budget spent). */
static ssize_t io_loop(struct cio__socket *sock, unsigned interest, cio__io_op op, void *ctx,
                       size_t short_len)
{
    unsigned clears = interest_clears(interest);
    for (;;) {
        struct cio__io *io = cio__io_of(sock);
        unsigned seen = ~0u;
        if (io != NULL) {
            seen = atomic_load(&io->readiness);
            if (!(seen & cio__io_want(interest))) {
                /* After a wait, touch only what io_wait checked: the handle itself may
                 * have been closed and freed by another task if this returns -EBADF. */
                int rc = io_wait(io, interest, &seen);
                if (rc < 0)
                    return rc;
            }
        }
        ssize_t n = op(sock, ctx);
        if (n == -EAGAIN) {
            if (io == NULL) {
                int rc = cio__io_register(sock);
                if (rc < 0)
                    return rc;
            } else {
                clear_if_unchanged(io, seen, clears);
            }
            continue;
        }
        if (io != NULL && short_len > 0 && n > 0 && (size_t)n < short_len)
            cio__io_drained(io, seen);
        return n;
    }
}

ssize_t cio__io_do_slow(struct cio__socket *sock, unsigned interest, cio__io_op op, void *ctx,
                        size_t short_len)
{
    if (cio__task_self() == NULL)
        return -EPERM;
    if (sock == NULL)
        return -EINVAL;
    int rc = cio__task_budget();
    if (rc < 0)
        return rc;
    return io_loop(sock, interest, op, ctx, short_len);
}

ssize_t cio__io_do_again(struct cio__socket *sock, unsigned interest, cio__io_op op, void *ctx,
                         size_t short_len, struct cio__io *io, unsigned seen)
{
    clear_if_unchanged(io, seen, interest_clears(interest));
    return io_loop(sock, interest, op, ctx, short_len);
}

ssize_t cio__io_try(struct cio__socket *sock, unsigned interest, cio__io_op op, void *ctx)
{
    if (sock == NULL)
        return -EINVAL;
    struct cio__io *io = cio__io_of(sock);
    unsigned seen = io ? atomic_load(&io->readiness) : 0;
    ssize_t n = op(sock, ctx);
    if (n == -EAGAIN && io != NULL)
        clear_if_unchanged(io, seen, interest_clears(interest));
    return n;
}

int cio__io_ready(struct cio__socket *sock, unsigned interest)
{
    cio_task *t = cio__task_self();
    if (t == NULL)
        return -EPERM;
    if (atomic_load_explicit(&t->state, memory_order_relaxed) & CIO__TASK_CANCELLED)
        return -ECANCELED; /* a suspending call, even when it would not have to wait */
    if (sock == NULL || interest == 0 ||
        (interest & ~(unsigned)(CIO_READABLE | CIO_WRITABLE | CIO_PRIORITY)))
        return -EINVAL;
    if (sock->fd < 0)
        return -EBADF;
    struct cio__io *io = cio__io_of(sock);
    if (io == NULL) {
        int rc = cio__io_register(sock);
        if (rc < 0)
            return rc;
        io = cio__io_of(sock);
    }
    unsigned seen = atomic_load(&io->readiness);
    unsigned want = cio__io_want(interest);
    if (!(seen & want)) {
        int rc = io_wait(io, interest, &seen);
        if (rc < 0)
            return rc;
    }
    return (int)(seen & want & BITS_MASK);
}

void cio__io_clear(struct cio__socket *sock, int ready)
{
    struct cio__io *io = sock ? cio__io_of(sock) : NULL;
    if (io == NULL || ready <= 0)
        return;
    /* The tick is unknown to the caller: clear only bits still as they were reported and
     * never the closed states. */
    unsigned mask = (unsigned)ready & ~(unsigned)(CIO_READY_READ_CLOSED | CIO_READY_WRITE_CLOSED);
    unsigned cur = atomic_load(&io->readiness);
    while ((cur & mask) && !atomic_compare_exchange_weak(&io->readiness, &cur, cur & ~mask))
        ;
    if (io->level)
        rearm(io);
}

int cio__io_poll_ready(struct cio__socket *sock, unsigned interest, cio_wake_fn wake, void *ctx)
{
    if (sock == NULL || (interest != CIO_READABLE && interest != CIO_WRITABLE))
        return -EINVAL;
    if (sock->fd < 0)
        return -EBADF;
    int rc = cio__io_register(sock);
    if (rc < 0 && cio__io_of(sock) == NULL)
        return rc;
    struct cio__io *io = cio__io_of(sock);
    unsigned want = cio__io_want(interest);
    int d = dir_of(interest);
    io_lock(io);
    unsigned cur = atomic_load(&io->readiness);
    if (cur & want) {
        io_unlock(io);
        return (int)(cur & want & BITS_MASK);
    }
    if (io->closed) {
        io_unlock(io);
        return -EBADF;
    }
    io->waiters[d].wake = wake;
    io->waiters[d].ctx = ctx;
    io_unlock(io);
    return -EAGAIN;
}
