/*
 * io.c: readiness bookkeeping between the reactor and the tasks that use a socket. A socket
 * gets a registration (struct io) the first time one of its operations would block; the
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

#define BITS_MASK 0xffu
#define TICK_SHIFT 8
#define DIR_READ 0
#define DIR_WRITE 1
#define DIR_PRIORITY 2
#define NDIRS 3

struct waiter {
    struct cio__parker *parker;
    cio_wake_fn wake;
    void *ctx;
};

struct io {
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
    struct waiter waiters[NDIRS];
};

/* What satisfies each direction. */
static const unsigned dir_satisfied[NDIRS] = {
    CIO_READY_READABLE | CIO_READY_READ_CLOSED | CIO_READY_ERROR,
    CIO_READY_WRITABLE | CIO_READY_WRITE_CLOSED | CIO_READY_ERROR,
    CIO_READY_PRIORITY | CIO_READY_ERROR,
};
/* What an -EAGAIN in each direction clears (closed states are final). */
static const unsigned dir_clears[NDIRS] = {
    CIO_READY_READABLE | CIO_READY_ERROR,
    CIO_READY_WRITABLE | CIO_READY_ERROR,
    CIO_READY_PRIORITY | CIO_READY_ERROR,
};

/* A socket's registration. Tasks on two workers may register one socket at the same moment
 * (a reader and a writer), so the pointer is read and published atomically. */
static struct io *io_of(const struct cio__socket *sock)
{
    return __atomic_load_n((struct io *const *)&sock->io, __ATOMIC_ACQUIRE);
}

static unsigned interest_mask(unsigned interest)
{
    unsigned mask = 0;
    if (interest & CIO_READABLE)
        mask |= dir_satisfied[DIR_READ];
    if (interest & CIO_WRITABLE)
        mask |= dir_satisfied[DIR_WRITE];
    if (interest & CIO_PRIORITY)
        mask |= dir_satisfied[DIR_PRIORITY];
    return mask;
}

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

static void io_lock(struct io *io)
{
    while (atomic_flag_test_and_set_explicit(&io->lock, memory_order_acquire))
        sched_yield();
}

static void io_unlock(struct io *io)
{
    atomic_flag_clear_explicit(&io->lock, memory_order_release);
}

static unsigned from_event(uint32_t flags)
{
    unsigned ready = 0;
    if (flags & CIO_EVENT_READABLE)
        ready |= CIO_READY_READABLE;
    if (flags & CIO_EVENT_WRITABLE)
        ready |= CIO_READY_WRITABLE;
    if (flags & CIO_EVENT_READ_CLOSED)
        ready |= CIO_READY_READ_CLOSED;
    if (flags & CIO_EVENT_WRITE_CLOSED)
        ready |= CIO_READY_WRITE_CLOSED;
    if (flags & CIO_EVENT_ERROR)
        ready |= CIO_READY_ERROR;
    if (flags & CIO_EVENT_PRIORITY)
        ready |= CIO_READY_PRIORITY;
    return ready;
}

static void io_free_now(struct io *io)
{
    free(io);
}

static void io_free_deferred(struct cio__deferred *d)
{
    io_free_now(cio__container_of(d, struct io, deferred));
}

/* Free a registration nobody can reach any more: on its reactor's thread, which may be
 * dispatching an event to it right now when we are elsewhere. */
static void io_release(struct io *io, struct cio__worker *w)
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
static void sync_interest(struct io *io)
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
static void rearm(struct io *io)
{
    io_lock(io);
    sync_interest(io);
    io_unlock(io);
}

/* Reactor side: an event for this registration (on its worker's thread). */
static void on_event(struct cio__reactor_source *source, uint32_t flags)
{
    struct io *io = (struct io *)source;
    unsigned add = from_event(flags);
    unsigned cur = atomic_load(&io->readiness);
    unsigned next;
    do {
        unsigned tick = (cur >> TICK_SHIFT) + 1;
        next = (tick << TICK_SHIFT) | ((cur | add) & BITS_MASK);
    } while (!atomic_compare_exchange_weak(&io->readiness, &cur, next));

    struct waiter fire[NDIRS] = {{0}};
    io_lock(io);
    sync_interest(io);
    for (int d = 0; d < NDIRS; d++) {
        struct waiter *w = &io->waiters[d];
        if (!(next & dir_satisfied[d]))
            continue;
        if (w->parker != NULL)
            cio__parker_unpark(w->parker);
        if (w->wake != NULL) {
            fire[d] = *w;
            w->wake = NULL;
            w->ctx = NULL;
        }
    }
    io_unlock(io);
    for (int d = 0; d < NDIRS; d++)
        if (fire[d].wake != NULL)
            fire[d].wake(fire[d].ctx);
}

/* The socket is being closed or released (any thread). */
static void io_detach(struct cio__socket *sock)
{
    struct io *io = __atomic_exchange_n((struct io **)&sock->io, NULL, __ATOMIC_ACQ_REL);
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
    struct waiter fire[NDIRS] = {{0}};
    io_lock(io);
    io->closed = true;
    for (int d = 0; d < NDIRS; d++) {
        struct waiter *wt = &io->waiters[d];
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
    struct io *io = cio__container_of(node, struct io, node);
    io_lock(io);
    io->worker = NULL;
    io_unlock(io);
}

int cio__io_register(struct cio__socket *sock)
{
    if (io_of(sock) != NULL)
        return 0;
    struct cio__worker *w = cio__worker_current();
    if (w == NULL || cio__task_self() == NULL)
        return -EPERM;
    if (sock->fd < 0)
        return -EBADF;
    struct io *io = calloc(1, sizeof(*io));
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
static void clear_if_unchanged(struct io *io, unsigned seen, unsigned mask)
{
    unsigned cur = atomic_load(&io->readiness);
    while ((cur >> TICK_SHIFT) == (seen >> TICK_SHIFT) && (cur & mask)) {
        if (atomic_compare_exchange_weak(&io->readiness, &cur, cur & ~mask))
            break;
    }
    if (io->level)
        rearm(io);
}

static int dir_of(unsigned interest)
{
    if (interest & CIO_READABLE)
        return DIR_READ;
    if (interest & CIO_WRITABLE)
        return DIR_WRITE;
    return DIR_PRIORITY;
}

/*
 * Park until @interest is ready. On success *seen is the readiness word that satisfied it.
 * Several directions may be waited on at once (ready(READABLE | WRITABLE)).
 */
static int io_wait(struct io *io, unsigned interest, unsigned *seen)
{
    unsigned want = interest_mask(interest);
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
        for (int d = 0; d < NDIRS && rc == 0; d++) {
            if ((dir_satisfied[d] & want & ~(unsigned)CIO_READY_ERROR) &&
                io->waiters[d].parker != NULL && io->waiters[d].parker != &parker)
                rc = -EBUSY;
        }
        if (rc < 0)
            break;
        for (int d = 0; d < NDIRS; d++)
            if (dir_satisfied[d] & want & ~(unsigned)CIO_READY_ERROR)
                io->waiters[d].parker = &parker;
        /* Parked, we keep the registration alive: a close from another task marks it
         * closed and wakes us, and we free it if we are the last one out. */
        io->waiting++;
        io_unlock(io);
        rc = cio__parker_park(&parker, CIO_DEADLINE_NONE);
        io_lock(io);
        io->waiting--;
        for (int d = 0; d < NDIRS; d++)
            if (io->waiters[d].parker == &parker)
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

ssize_t cio__io_do(struct cio__socket *sock, unsigned interest, cio__io_op op, void *ctx,
                   size_t short_len)
{
    if (cio__task_self() == NULL)
        return -EPERM;
    if (sock == NULL)
        return -EINVAL;
    int rc = cio__task_budget();
    if (rc < 0)
        return rc;
    unsigned clears = interest_clears(interest);
    for (;;) {
        struct io *io = io_of(sock);
        unsigned seen = ~0u;
        if (io != NULL) {
            seen = atomic_load(&io->readiness);
            if (!(seen & interest_mask(interest))) {
                /* After a wait, touch only what io_wait checked: the handle itself may
                 * have been closed and freed by another task if this returns -EBADF. */
                rc = io_wait(io, interest, &seen);
                if (rc < 0)
                    return rc;
            }
        }
        ssize_t n = op(sock, ctx);
        if (n == -EAGAIN) {
            if (io == NULL) {
                rc = cio__io_register(sock);
                if (rc < 0)
                    return rc;
            } else {
                clear_if_unchanged(io, seen, clears);
            }
            continue;
        }
        if (io != NULL && short_len > 0 && n > 0 && (size_t)n < short_len)
            clear_if_unchanged(io, seen, CIO_READY_READABLE);
        return n;
    }
}

ssize_t cio__io_try(struct cio__socket *sock, unsigned interest, cio__io_op op, void *ctx)
{
    if (sock == NULL)
        return -EINVAL;
    struct io *io = io_of(sock);
    unsigned seen = io ? atomic_load(&io->readiness) : 0;
    ssize_t n = op(sock, ctx);
    if (n == -EAGAIN && io != NULL)
        clear_if_unchanged(io, seen, interest_clears(interest));
    return n;
}

int cio__io_ready(struct cio__socket *sock, unsigned interest)
{
    if (cio__task_self() == NULL)
        return -EPERM;
    if (cio_task_is_cancelled())
        return -ECANCELED; /* a suspending call, even when it would not have to wait */
    if (sock == NULL || interest == 0 ||
        (interest & ~(unsigned)(CIO_READABLE | CIO_WRITABLE | CIO_PRIORITY)))
        return -EINVAL;
    if (sock->fd < 0)
        return -EBADF;
    int rc = cio__io_register(sock);
    if (rc < 0)
        return rc;
    struct io *io = io_of(sock);
    unsigned seen = atomic_load(&io->readiness);
    unsigned want = interest_mask(interest);
    if (!(seen & want)) {
        rc = io_wait(io, interest, &seen);
        if (rc < 0)
            return rc;
    }
    return (int)(seen & want & BITS_MASK);
}

void cio__io_clear(struct cio__socket *sock, int ready)
{
    struct io *io = sock ? io_of(sock) : NULL;
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
    if (rc < 0 && io_of(sock) == NULL)
        return rc;
    struct io *io = io_of(sock);
    unsigned want = interest_mask(interest);
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
