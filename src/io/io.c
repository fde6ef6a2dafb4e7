/*
 * io.c: readiness bookkeeping between the reactor and the tasks that use a socket (tokio's
 * ScheduledIo). A socket gets a registration (struct cio__io, io.h) the first time one of its
 * operations would block, with the reactor of the calling task's worker — its owner. The
 * owner's reactor updates the readiness word and wakes the waiters each event satisfies;
 * operations run against the cached readiness and clear it by the tick rule.
 *
 * Threads. The owner's tasks wait on a plain list that only the owner thread touches, so the
 * common case — every socket of a current-thread runtime, and any socket used from the
 * worker that registered it — takes no lock and no atomic read-modify-write to wait or to be
 * woken. A task that may migrate (a shared task, sched.h) waits there too when it runs on the
 * owner's worker, bound to it for the wait (wait_shared). Tasks of other workers (the other
 * half of a split stream, a shared task that moved) and poll_* callbacks wait on a second
 * list under a spin lock. The reactor publishes each event with an atomic
 * exchange, a full fence: either a foreign waiter that published itself sees the new
 * readiness, or the reactor sees the waiter (foreign_count) and wakes it — no lost wake-up.
 *
 * Lifetime. The registration is referenced by its socket and by every task inside a wait on
 * it. Closing the socket (any thread) deregisters it, marks it closed and wakes every waiter
 * with -EBADF; the owner's own waiters are woken on the owner thread (directly, or by a sweep
 * posted to it). The memory is freed on the owner thread once the socket and all waiters have
 * let go; until then a woken waiter finds it closed and never touches the descriptor again.
 */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "io/io.h"
#include "poll/reactor.h"
#include "rt/sched.h"
#include "util/assert.h"
#include "util/compiler.h"

#define BITS_MASK CIO__IO_BITS_MASK
#define TICK_SHIFT CIO__IO_TICK_SHIFT
#define TOKEN_TICK_MASK CIO__IO_VALUE_TICK_MASK
#define DIR_READ 0
#define DIR_WRITE 1

/* What an -EAGAIN in each direction clears (closed states are final). */
static unsigned interest_clears(unsigned interest)
{
    unsigned mask = 0;
    if (interest & CIO_READABLE)
        mask |= CIO_READY_READABLE | CIO_READY_ERROR;
    if (interest & CIO_WRITABLE)
        mask |= CIO_READY_WRITABLE | CIO_READY_ERROR;
    if (interest & CIO_PRIORITY)
        mask |= CIO_READY_PRIORITY | CIO_READY_ERROR;
    return mask;
}

/* Whether the calling thread is the registration's owner (or the owner is gone: then no task
 * of the runtime exists any more, and the caller is the only one left). */
static inline bool on_owner(const struct cio__io *io)
{
    return io->worker == cio__worker_current() || io->worker == NULL;
}

const char cio__io_no_fast;

/* CIO_EVENT_* to CIO_READY_*: the same bits (cio/io.h), so an event's flags are its readiness. */
_Static_assert((unsigned)CIO_EVENT_READABLE == CIO_READY_READABLE &&
                   (unsigned)CIO_EVENT_WRITABLE == CIO_READY_WRITABLE &&
                   (unsigned)CIO_EVENT_PRIORITY == CIO_READY_PRIORITY &&
                   (unsigned)CIO_EVENT_ERROR == CIO_READY_ERROR &&
                   (unsigned)CIO_EVENT_READ_CLOSED == CIO_READY_READ_CLOSED &&
                   (unsigned)CIO_EVENT_WRITE_CLOSED == CIO_READY_WRITE_CLOSED,
               "CIO_READY_* are the bits of CIO_EVENT_*");
static unsigned from_event(uint32_t flags)
{
    return flags & CIO_READY_MASK;
}

/* ---- level-triggered backend ---- */

/*
 * poll(2) reports a level, not an edge: ask it only for what is not known yet, so a ready
 * socket whose task is busy elsewhere does not make the worker spin. Per direction: readable
 * while read readiness is not cached — and, while it is, the peer's shutdown alone
 * (CIO__INTEREST_RDHUP), which a task waiting for READ_CLOSED needs; writable likewise;
 * priority while not cached (urgent data nobody asked for is reported once, not at every
 * poll). With everything known the descriptor leaves the backend until an operation clears
 * something. Lock held; every change of readiness is followed by this call, which reads the
 * word afresh, so the interest ends up matching the latest readiness whatever the order.
 */
static void sync_interest(struct cio__io *io)
{
    if (io->worker == NULL || atomic_load_explicit(&io->closed, memory_order_relaxed))
        return;
    unsigned ready = atomic_load(&io->readiness);
    unsigned want = 0;
    /* A hang-up or an error is final until cleared, and poll(2) reports it at every call
     * whatever the interest: while one is cached, ask for nothing. */
    bool final = ((ready & CIO_READY_READ_CLOSED) && (ready & CIO_READY_WRITE_CLOSED)) ||
                 (ready & CIO_READY_ERROR);
    if (!final) {
        if (!(ready & CIO__IO_READ_READY))
            want |= CIO_READABLE;
        else if (!(ready & CIO_READY_READ_CLOSED))
            want |= CIO__INTEREST_RDHUP;
        if (!(ready & CIO__IO_WRITE_READY))
            want |= CIO_WRITABLE;
        if (!(ready & CIO__IO_PRIORITY_READY))
            want |= CIO_PRIORITY;
    }
    cio__io_poll_interest(io, want);
}

void cio__io_poll_interest(struct cio__io *io, unsigned interest)
{
    if (io->worker == NULL)
        return;
    if (io->completion) {
        /* (read without the lock by ring_arm_for(): an atomic store) */
        __atomic_store_n(&io->armed, interest, __ATOMIC_RELAXED);
        cio__io_ring_poll_sync(io);
        return;
    }
    if (interest == io->armed)
        return;
    cio_poll *poll = cio__worker_poll(io->worker);
    int rc;
    if (interest == 0)
        rc = cio__reactor_del(poll, io->fd);
    else if (io->armed == 0)
        rc = cio__reactor_add(poll, io->fd, io, interest);
    else
        rc = cio__reactor_mod(poll, io->fd, io, interest);
    if (rc == 0) /* (read without the lock by ring_arm_for(): an atomic store) */
        __atomic_store_n(&io->armed, interest, __ATOMIC_RELAXED);
}

/*
 * A registration of the completion way (io/uring.h) asks the backend for a direction only when
 * a task first waits for it, and for reading only while the ring does not read: called before
 * every wait on it (any thread).
 */
static void ring_arm_for(struct cio__io *io, unsigned want)
{
    /* Nothing to ask for, most of the time: a look without the lock first (a stale answer
     * only sends us to the locked look). */
    if (!io->completion || cio__io_ring_wait_set(io, want))
        return;
    cio__io_lock(io);
    /* Reading and writing together, as epoll registers them (a wait for one then sees the
     * other's readiness too); priority alone, when asked: io_uring reports it only with a
     * check per event (sys/uring.c). */
    unsigned interest = io->armed;
    if (want & (CIO_READY_READABLE | CIO_READY_WRITABLE)) {
        interest |= CIO_WRITABLE;
        if (!cio__io_ring_reads(io))
            interest |= CIO_READABLE;
    }
    if (want & CIO_READY_PRIORITY)
        interest |= CIO_PRIORITY;
    struct cio__worker *w = io->worker;
    if (atomic_load_explicit(&io->closed, memory_order_relaxed) || w == NULL) {
        /* nothing to ask */
    } else if (w == cio__worker_current()) {
        cio__io_poll_interest(io, interest);
    } else {
        /* The request is the owner's to make (its ring's submission side): asked for here,
         * made by the sweep. The waiter misses nothing meanwhile — a new poll request reports
         * what is ready already. */
        __atomic_store_n(&io->armed, interest, __ATOMIC_RELAXED);
        cio__io_sync_later(io);
    }
    cio__io_unlock(io);
}

/* Level-triggered backend: readiness was cleared; re-arm accordingly. */
static void rearm(struct cio__io *io)
{
    cio__io_lock(io);
    sync_interest(io);
    cio__io_unlock(io);
}

/* ---- freeing ---- */

static void sweep_run(struct cio__deferred *d);

/* Lock held: ask the owner for a sweep (at most one queued). Returns whether the caller must
 * post it (after unlocking). */
static bool sweep_request(struct cio__io *io)
{
    if (io->sweep_posted || io->worker == NULL)
        return false;
    io->sweep_posted = true;
    return true;
}

void cio__io_sync_later(struct cio__io *io)
{
    if (sweep_request(io)) {
        io->sweep.fn = sweep_run;
        cio__worker_defer(io->worker, &io->sweep); /* (no lock of the worker's takes ours) */
    }
}

/* Owner thread: free the registration if nothing refers to it any more. Returns whether it
 * did. Not while the owner is dispatching a batch that may still hold an event for it (a
 * wake callback closed the socket): then the sweep at the loop's top frees it. */
static bool try_free(struct cio__io *io)
{
    if (io->owner_refs != 0)
        return false;
    cio__io_lock(io);
    bool free_it = io->gone && io->foreign_refs == 0 && !io->sweep_posted && !io->freeing &&
                   !cio__io_ring_busy(io);
    bool post = false;
    if (free_it && io->worker != NULL && io->worker->dispatching) {
        free_it = false;
        post = sweep_request(io);
    }
    if (free_it)
        io->freeing = true;
    cio__io_unlock(io);
    if (post) {
        io->sweep.fn = sweep_run;
        cio__worker_defer(io->worker, &io->sweep);
    }
    if (free_it) {
        if (io->completion)
            cio__io_ring_release(io); /* (the callbacks with it) */
        else
            free(io->callbacks);
        free(io);
    }
    return free_it;
}

/* Owner thread: @waiter, a task of the owner, waits (see struct cio__io's @first). */
static inline void owner_enqueue(struct cio__io *io, struct cio__io_waiter *waiter)
{
    if (io->first == NULL)
        io->first = waiter;
    else
        cio__list_push_back(&io->waiters, &waiter->node);
}

/* Owner thread: @waiter waits no more (not woken by an event, which dequeues it: a timeout,
 * a cancellation, a close; dequeuing one that is no longer queued is harmless). */
static inline void owner_dequeue(struct cio__io *io, struct cio__io_waiter *waiter)
{
    if (io->first == waiter)
        io->first = NULL;
    else
        cio__list_remove(&waiter->node);
}

/* Owner thread: wake every waiter of a closed registration (they return -EBADF). */
static void wake_owner_waiters(struct cio__io *io)
{
    struct cio__io_waiter *first = io->first;
    io->first = NULL;
    if (first != NULL) {
        cio__list_init(&first->node); /* its owner_dequeue() then finds nothing to do */
        cio__task_wake(first->task);
    }
    struct cio__list *it;
    while ((it = cio__list_pop_front(&io->waiters)) != NULL)
        cio__task_wake(cio__list_entry(it, struct cio__io_waiter, node)->task);
}

/* What another thread asked the owner to do: wake its waiters if the socket is closed, and
 * free the registration if that was the last reference. */
static void sweep_run(struct cio__deferred *d)
{
    struct cio__io *io = cio__container_of(d, struct cio__io, sweep);
    cio__io_lock(io);
    io->sweep_posted = false;
    bool closed = io->gone;
    if (io->completion)
        cio__io_ring_poll_sync(io); /* what another thread asked for (ring_arm_for) */
    cio__io_unlock(io);
    if (closed)
        wake_owner_waiters(io);
    (void)try_free(io);
}

/* ---- events ---- */

/*
 * Lock held: unlink the foreign waiters @ready satisfies (all of them when @all), unpark the
 * tasks, and move the callbacks to @fire (called by the caller once unlocked). Returns the
 * callbacks moved.
 */
/* A callback taken off the list, to call once unlocked. */
struct fire {
    cio_wake_fn wake;
    void *ctx;
};

static int take_foreign(struct cio__io *io, unsigned ready, bool all, struct fire *fire)
{
    int n = 0;
    struct cio__list *it, *tmp;
    cio__list_foreach_safe(it, tmp, &io->foreign)
    {
        struct cio__io_waiter *w = cio__list_entry(it, struct cio__io_waiter, node);
        if (!all && !(ready & w->want))
            continue;
        cio__list_remove(&w->node);
        w->woken = ready;
        atomic_fetch_sub_explicit(&io->foreign_count, 1, memory_order_relaxed);
        if (w->task != NULL) {
            cio__task_wake(w->task);
        } else {
            struct cio__io_callback *cb = cio__container_of(w, struct cio__io_callback, waiter);
            fire[n++] = (struct fire){cb->wake, cb->ctx};
            cb->wake = NULL;
        }
    }
    return n;
}

/* on_event() for the foreign waiters and callbacks, under the lock. */
static void on_event_foreign(struct cio__io *io, unsigned next)
{
    struct fire fire[2];
    cio__io_lock(io);
    int n = take_foreign(io, next, false, fire);
    cio__io_unlock(io);
    for (int i = 0; i < n; i++)
        fire[i].wake(fire[i].ctx);
}

/* on_event() for what most registrations never have: a level-triggered backend to re-arm,
 * owner waiters beyond the first, foreign waiters and callbacks. Out of line, so the common
 * event — one owner task waiting — stays a short leaf. */
static cio__noinline void on_event_rest(struct cio__io *io, unsigned next)
{
    if (io->level)
        rearm(io);
    struct cio__list *it, *tmp;
    cio__list_foreach_safe(it, tmp, &io->waiters)
    {
        struct cio__io_waiter *w = cio__list_entry(it, struct cio__io_waiter, node);
        if (next & w->want) {
            cio__list_remove(&w->node);
            w->woken = next;
            if (cio__task_shared(w->task))
                cio__task_wake_bound_idle(w->task); /* bound here (wait_shared) */
            else
                cio__task_wake_idle(w->task);
        }
    }
    if (atomic_load_explicit(&io->foreign_count, memory_order_relaxed) != 0)
        on_event_foreign(io, next);
}

/* An event for this registration, on the owner thread. */
static inline void on_ready(struct cio__io *io, uint32_t flags)
{
    /* Only this thread sets bits, so the new word is computed from the current one; other
     * threads' clears are compare-and-swaps against the whole word (tick included), so they
     * cannot erase it, and a clear this store overwrites only leaves a spurious bit. The
     * exchange is the full fence the foreign waiters rely on (see the top of this file). */
    unsigned cur = atomic_load_explicit(&io->readiness, memory_order_relaxed);
    unsigned next = (cur + (1u << TICK_SHIFT)) | from_event(flags); /* the tick wraps */
    (void)atomic_exchange_explicit(&io->readiness, next, memory_order_seq_cst);

    /* The owner's waiters: tasks of this worker suspended in cio__io_wait(), and the reactor
     * runs outside any task, so waking one is queueing it. */
    struct cio__io_waiter *first = io->first;
    if (first != NULL && (next & first->want)) {
        io->first = NULL;
        first->woken = next;
        cio__task_wake_idle(first->task);
    }
    if (io->level || !cio__list_empty(&io->waiters) ||
        atomic_load_explicit(&io->foreign_count, memory_order_relaxed) != 0)
        on_event_rest(io, next);
}

/* Reactor side: an event for this registration, on the owner thread. */
static void on_event(struct cio__reactor_source *source, uint32_t flags)
{
    on_ready((struct cio__io *)source, flags);
}

#if CIO_HAVE_URING
/* on_event_ring() for what a poll request of the completion way may carry (io/uring.c): a
 * priority to check, and the request's end. */
static cio__noinline void on_event_ring_poll(struct cio__io *io, uint32_t flags)
{
    uint32_t ready = cio__io_ring_poll_event(io, flags);
    if (ready != 0)
        on_ready(io, ready);
    if (flags & CIO__IO_POLL_ENDED)
        cio__io_ring_poll_ended(io); /* last: it may free the registration */
}

/* on_event() of a registration of the completion way, whose poll request's events come here
 * (the ring's completions call cio__io_event()): the others pay nothing for it. */
static void on_event_ring(struct cio__reactor_source *source, uint32_t flags)
{
    struct cio__io *io = (struct cio__io *)source;
    if (cio__unlikely(flags & (CIO__IO_POLL_ENDED | CIO_EVENT_PRIORITY)))
        on_event_ring_poll(io, flags);
    else
        on_ready(io, flags);
}
#endif

void cio__io_event(struct cio__io *io, uint32_t flags)
{
    on_ready(io, flags);
}

void cio__io_completed(struct cio__io *io)
{
    (void)try_free(io);
}

/* ---- registration and close ---- */

/* A waiter's direction, in words (the task dump). */
static const char *waiter_direction(unsigned want)
{
    if (want == 0)
        return "completion";
    if (want & CIO_READY_READABLE)
        return (want & CIO_READY_WRITABLE) ? "read or write" : "read";
    if (want & CIO_READY_WRITABLE)
        return "write";
    if (want & CIO_READY_PRIORITY)
        return "priority";
    return "error";
}

/* The io layer's state on a worker: its registrations, so that freeing the runtime can orphan
 * the sockets that outlive it. The list is touched on registration and close (any thread). */
struct io_worker {
    pthread_mutex_t lock;
    struct cio__list sources;
    struct cio__sys *ring; /* the worker's io_uring, or NULL (io/uring.h) */
};

/*
 * The runtime is being freed with sockets of the completion way still open: cancel their
 * multishot requests and take the completions that came meanwhile, so the bytes and
 * connections the kernel handed over are in their stashes and queues before the ring goes.
 * No task is left, and no other thread runs the worker.
 */
static void ring_quiesce(struct cio__worker *w, struct io_worker *iw)
{
    struct cio__list *it;
    pthread_mutex_lock(&iw->lock);
    cio__list_foreach(it, &iw->sources)
    {
        struct cio__io *io = cio__container_of(it, struct cio__io, node);
        unsigned what = io->completion ? cio__io_ring_detach(io) : 0;
        if (what != 0)
            cio__io_ring_cancel(io, what);
    }
    pthread_mutex_unlock(&iw->lock);
    cio__reactor_event batch[16];
    for (int i = 0; i < 64 && cio__reactor_run(cio__worker_poll(w), batch, 16, 0) > 0; i++)
        ;
    /* Sends that did not go (a peer that reads nothing), of open and closed sockets alike,
     * end now: their completions free what they hold. */
    cio__io_ring_end_all(iw->ring);
    for (int i = 0; i < 64 && cio__reactor_run(cio__worker_poll(w), batch, 16, 0) > 0; i++)
        ;
}

/* The runtime is being freed while sockets live on: they forget the reactor (no task of it is
 * left, so nothing waits). */
static void io_worker_fini(struct cio__worker *w, void *state)
{
    struct io_worker *iw = state;
    if (iw->ring != NULL)
        ring_quiesce(w, iw);
    pthread_mutex_lock(&iw->lock);
    struct cio__list *node;
    while ((node = cio__list_pop_front(&iw->sources)) != NULL) {
        struct cio__io *io = cio__container_of(node, struct cio__io, node);
        cio__io_lock(io);
        if (io->completion)
            cio__io_ring_orphan(io);
        io->worker = NULL;
        io->fast = CIO__IO_NO_FAST;
        cio__io_unlock(io);
    }
    pthread_mutex_unlock(&iw->lock);
    pthread_mutex_destroy(&iw->lock);
    free(iw);
}

/* The task dump (rt/metrics.c): the worker's tasks that wait on one of its sockets. */
static void io_worker_waits(struct cio__worker *w, void *state, cio__wait_note_fn *note, void *ctx)
{
    (void)w;
    struct io_worker *iw = state;
    struct cio__list *it, *wit;
    pthread_mutex_lock(&iw->lock);
    cio__list_foreach(it, &iw->sources)
    {
        struct cio__io *io = cio__container_of(it, struct cio__io, node);
        struct cio__io_waiter *first = io->first;
        if (first != NULL)
            note(ctx, first->task, io->fd, waiter_direction(first->want));
        cio__list_foreach(wit, &io->waiters)
        {
            struct cio__io_waiter *waiter = cio__list_entry(wit, struct cio__io_waiter, node);
            note(ctx, waiter->task, io->fd, waiter_direction(waiter->want));
        }
    }
    pthread_mutex_unlock(&iw->lock);
}

/* The calling worker's io state, attached on first use (on the worker's own thread). */
static struct io_worker *io_worker_of(struct cio__worker *w)
{
    struct io_worker *iw = cio__worker_ext_get(w, CIO__WORKER_EXT_IO);
    if (iw != NULL)
        return iw;
    iw = malloc(sizeof(*iw));
    if (iw == NULL)
        return NULL;
    pthread_mutex_init(&iw->lock, NULL);
    cio__list_init(&iw->sources);
    iw->ring = cio__reactor_uring(cio__worker_poll(w));
    cio__worker_ext_attach(w, CIO__WORKER_EXT_IO, iw, io_worker_fini);
    cio__worker_ext_waits(w, CIO__WORKER_EXT_IO, io_worker_waits);
    return iw;
}

#if CIO_HAVE_URING
struct cio__sys *cio__io_ring_of_worker(struct cio__worker *w)
{
    struct io_worker *iw = io_worker_of(w);
    return iw != NULL ? iw->ring : NULL;
}
#endif

/* The socket is being closed or released (any thread). */
static void io_detach(struct cio_socket *sock)
{
    struct cio__io *io = __atomic_exchange_n((struct cio__io **)&sock->io, NULL, __ATOMIC_ACQ_REL);
    __atomic_store_n(&sock->detach, NULL, __ATOMIC_RELEASE);
    if (io == NULL)
        return;
    struct cio__worker *w = io->worker;
    if (w != NULL) {
        /* No new event from here on; one being dispatched on the owner right now only reads
         * the registration, which lives until the owner frees it. (The completion way has
         * nothing registered with the backend: its poll request is cancelled below.) */
        if (!io->completion)
            (void)cio__reactor_del(cio__worker_poll(w), io->fd);
        struct io_worker *iw = cio__worker_ext_get(w, CIO__WORKER_EXT_IO);
        pthread_mutex_lock(&iw->lock);
        cio__list_remove(&io->node);
        pthread_mutex_unlock(&iw->lock);
    }
    struct fire fire[2];
    cio__io_lock(io);
    io->gone = true;
    atomic_store_explicit(&io->closed, true, memory_order_release);
    int n = take_foreign(io, 0, true, fire);
    bool owner = on_owner(io);
    bool post = !owner && sweep_request(io);
    unsigned cancel = io->completion ? cio__io_ring_detach(io) : 0;
    cio__io_unlock(io);
    if (cancel != 0)
        cio__io_ring_cancel(io, cancel); /* the descriptor is closed next: no request may hold it */
    for (int i = 0; i < n; i++)
        fire[i].wake(fire[i].ctx);
    if (owner) {
        wake_owner_waiters(io);
        (void)try_free(io); /* else the last waiter frees it on its way out */
    } else if (post) {
        io->sweep.fn = sweep_run;
        cio__worker_defer(w, &io->sweep);
    }
}

int cio__io_register(struct cio_socket *sock)
{
    if (cio__io_of(sock) != NULL)
        return 0;
    struct cio__worker *w = cio__worker_current();
    if (w == NULL || cio__task_self() == NULL)
        return -EPERM;
    if (sock->fd < 0)
        return -EBADF;
    struct io_worker *iw = io_worker_of(w);
    if (iw == NULL)
        return -ENOMEM;
#if CIO_HAVE_URING
    bool completion = iw->ring != NULL && cio__io_ring_wanted(sock);
#endif
    struct cio__io *io = calloc(1, sizeof(*io));
    if (io == NULL)
        return -ENOMEM;
    io->source.on_event = on_event;
    io->worker = w;
    io->fd = sock->fd;
    atomic_flag_clear(&io->lock);
    cio__list_init(&io->node);
    cio__list_init(&io->waiters);
    cio__list_init(&io->foreign);
    io->level = cio_poll_backend(cio__worker_poll(w)) == CIO_BACKEND_POLL;
    io->fast = io->level ? CIO__IO_NO_FAST : w;
#if CIO_HAVE_URING
    if (completion) {
        io->completion = true;
        io->source.on_event = on_event_ring;
        if (cio__io_ring_init(io, iw->ring, sock) < 0) {
            free(io);
            return -ENOMEM;
        }
    }
#endif
    if (!io->completion) {
        /* (The completion way asks the backend for a direction only when a task first waits
         * for it: ring_arm_for.) */
        io->armed = CIO_READABLE | CIO_WRITABLE | CIO_PRIORITY;
        int rc = cio__reactor_add(cio__worker_poll(w), sock->fd, io, io->armed);
        if (rc < 0) {
            free(io);
            return rc;
        }
    }
    __atomic_store_n(&sock->detach, io_detach, __ATOMIC_RELAXED);
    void *expected = NULL;
    if (!__atomic_compare_exchange_n(&sock->io, &expected, io, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        /* Another task registered it first (on its own worker): use that one. */
        if (io->armed != 0)
            (void)cio__reactor_del(cio__worker_poll(w), sock->fd);
        free(io);
        return 0;
    }
    pthread_mutex_lock(&iw->lock);
    cio__list_push_back(&iw->sources, &io->node);
    pthread_mutex_unlock(&iw->lock);
    return 0;
}

int cio__io_registered(struct cio_socket *sock, struct cio__io **ret_io)
{
    int rc = cio__io_register(sock);
    if (rc < 0)
        return rc;
    *ret_io = cio__io_of(sock);
    return 0;
}

/* ---- clearing ---- */

/* Clear @mask from the readiness if the tick is still the one of @seen. */
static void clear_if_unchanged(struct cio__io *io, unsigned seen, unsigned mask)
{
    unsigned cur = atomic_load_explicit(&io->readiness, memory_order_relaxed);
    if (io->worker == cio__worker_current()) {
        /* The owner's reactor, the only setter of bits, cannot run while this task does: the
         * tick cannot move under us, and a plain store does what a compare-and-swap would.
         * A clear by another thread that this store overwrites only leaves a bit set — one
         * spurious attempt that sees -EAGAIN and clears again, never a lost wake-up. */
        if ((cur >> TICK_SHIFT) == (seen >> TICK_SHIFT) && (cur & mask))
            atomic_store_explicit(&io->readiness, cur & ~mask, memory_order_relaxed);
    } else {
        while ((cur >> TICK_SHIFT) == (seen >> TICK_SHIFT) && (cur & mask)) {
            if (atomic_compare_exchange_weak(&io->readiness, &cur, cur & ~mask))
                break;
        }
    }
    if (io->level)
        rearm(io);
}

void cio__io_clear_closed(struct cio__io *io, unsigned seen)
{
    clear_if_unchanged(io, seen, CIO_READY_READ_CLOSED);
}

void cio__io_would_block(struct cio__io *io, unsigned seen, unsigned interest)
{
    clear_if_unchanged(io, seen, interest_clears(interest));
}

void cio__io_drained(struct cio__io *io, unsigned seen)
{
    clear_if_unchanged(io, seen, CIO_READY_READABLE);
}

/* ---- waiting ---- */

/* The owner's wait: a plain list, no lock (see the top of this file). With @done (and @want
 * 0: no readiness satisfies it), until *@done — a completion's wait (cio__io_wait_done). */
static cio__noinline int wait_owner(struct cio__io *io, unsigned want, unsigned *seen,
                                    const bool *done)
{
    struct cio__io_waiter *waiter = &cio__task_self()->io_wait; /* (rt/sched.h) */
    waiter->want = want;
    cio__list_init(&waiter->node);
    int rc;
    io->owner_refs++;
    for (;;) {
        if (done != NULL && *done) {
            rc = 0;
            break;
        }
        /* Closed first: a closed socket's descriptor must not be touched again. */
        if (atomic_load_explicit(&io->closed, memory_order_acquire)) {
            rc = -EBADF;
            break;
        }
        unsigned cur = atomic_load_explicit(&io->readiness, memory_order_acquire);
        if (cur & want) {
            *seen = cur;
            rc = 0;
            break;
        }
        waiter->woken = 0;
        if (cio__task_shared(waiter->task))
            cio__list_push_back(&io->waiters, &waiter->node); /* not @first: see wait_shared */
        else
            owner_enqueue(io, waiter);
        rc = cio__task_park(CIO_DEADLINE_NONE);
        if (waiter->woken == 0)
            owner_dequeue(io, waiter); /* a timeout, a cancellation or a spurious wake */
        if (rc < 0)
            break;
        if (waiter->woken != 0 && !atomic_load_explicit(&io->closed, memory_order_acquire)) {
            *seen = waiter->woken; /* the edge that woke us, even if consumed since */
            break;
        }
    }
    waiter->want = 0; /* no wait in progress (rt/sched.h) */
    io->owner_refs--;
    if (io->owner_refs == 0 && atomic_load_explicit(&io->closed, memory_order_relaxed))
        (void)try_free(io); /* the caller touches @io no more after an error */
    return rc;
}

/*
 * A shared task's wait on its owner's worker: the owner's list, no lock — bound to this
 * worker for the wait (sched.h), so that however it is woken it resumes here, where it may
 * take itself off the list. It waits on @waiters, never in @first: on_event() wakes @first
 * the pinned way inline, and the rest out of line, where it tells the kinds apart. The
 * price: woken, it runs here (on the run queue, not stealable); it may move again at its
 * next yield or wait.
 */
static cio__noinline int wait_shared(struct cio__io *io, cio_task *t, unsigned want, unsigned *seen)
{
    if (t->deadline == CIO_DEADLINE_NONE &&
        !(atomic_load_explicit(&t->state, memory_order_relaxed) & CIO__TASK_CANCELLED) &&
        !atomic_load_explicit(&io->closed, memory_order_acquire))
        return cio__io_park_shared(io, t, want, seen);
    t->bound++;
    cio__task_set_wait(t, CIO__WAIT_SOCKET);   /* the dump: shared tasks are listed apart */
    int rc = wait_owner(io, want, seen, NULL); /* the general way */
    cio__task_set_wait(t, CIO__WAIT_NONE);
    t->bound--;
    return rc;
}

/* wait_shared()'s common case, cio__io_park()'s on the list: the caller found the readiness
 * wanting (only this thread's reactor sets it), no deadline, not cancelled, open. */
int cio__io_park_shared(struct cio__io *io, cio_task *t, unsigned want, unsigned *seen)
{
    int rc;
    t->bound++;
    struct cio__io_waiter *waiter = &t->io_wait; /* the task's own (rt/sched.h) */
    waiter->want = want;
    waiter->woken = 0;
    cio__list_push_back(&io->waiters, &waiter->node);
    io->owner_refs++;
    cio__task_set_wait(t, CIO__WAIT_SOCKET); /* the dump: shared tasks are listed apart */
    cio__task_suspend_bound(t);
    cio__task_set_wait(t, CIO__WAIT_NONE);
    io->owner_refs--;
    if (cio__likely(
            waiter->woken != 0 &&
            !(atomic_load_explicit(&t->state, memory_order_relaxed) & CIO__TASK_CANCELLED) &&
            !atomic_load_explicit(&io->closed, memory_order_acquire))) {
        t->bound--;
        *seen = waiter->woken; /* the edge that woke us, even if consumed since */
        return 0;
    }
    rc = cio__io_park_end(io, t, waiter, want, seen);
    t->bound--;
    return rc;
}

/* Lock held: a foreign task's reference goes (its wait or watch ended); unlocks. The last one
 * of a socket let go asks the owner for the sweep that frees the registration. */
static void foreign_leave(struct cio__io *io)
{
    io->foreign_refs--;
    bool post = io->gone && io->foreign_refs == 0 && sweep_request(io);
    struct cio__worker *w = io->worker;
    cio__io_unlock(io);
    if (post) {
        io->sweep.fn = sweep_run;
        cio__worker_defer(w, &io->sweep);
    }
}

/* Another worker's task: the locked list, published before the readiness is read again.
 * @done: as wait_owner(). */
static cio__noinline int wait_foreign(struct cio__io *io, unsigned want, unsigned *seen,
                                      const bool *done)
{
    /* The task's own waiter (rt/sched.h); one on the stack off the runtime's tasks. */
    cio_task *t = cio__task_self();
    struct cio__io_waiter local = {.task = NULL};
    struct cio__io_waiter *waiter = t != NULL ? &t->io_wait : &local;
    waiter->want = want;
    cio__list_init(&waiter->node);
    int rc;
    cio__io_lock(io);
    io->foreign_refs++;
    for (;;) {
        if (done != NULL && *done) {
            rc = 0;
            break;
        }
        if (atomic_load_explicit(&io->closed, memory_order_relaxed)) {
            rc = -EBADF;
            break;
        }
        waiter->woken = 0;
        cio__list_push_back(&io->foreign, &waiter->node);
        atomic_fetch_add(&io->foreign_count, 1); /* seq_cst: before the readiness load */
        unsigned cur = atomic_load(&io->readiness);
        if (cur & want) {
            cio__list_remove(&waiter->node);
            atomic_fetch_sub_explicit(&io->foreign_count, 1, memory_order_relaxed);
            *seen = cur;
            rc = 0;
            break;
        }
        cio__io_unlock(io);
        if (waiter->task != NULL)
            cio__task_set_wait(waiter->task, CIO__WAIT_SOCKET); /* the dump: no fd list here */
        rc = cio__task_park(CIO_DEADLINE_NONE);
        if (waiter->task != NULL)
            cio__task_set_wait(waiter->task, CIO__WAIT_NONE);
        cio__io_lock(io);
        if (cio__list_linked(&waiter->node)) {
            cio__list_remove(&waiter->node);
            atomic_fetch_sub_explicit(&io->foreign_count, 1, memory_order_relaxed);
        }
        if (rc < 0)
            break;
        if (waiter->woken != 0 && !atomic_load_explicit(&io->closed, memory_order_relaxed)) {
            *seen = waiter->woken;
            break;
        }
    }
    waiter->want = 0; /* no wait in progress (rt/sched.h) */
    foreign_leave(io);
    return rc;
}

/* Park until any bit of @want is ready; on success *seen is the word that satisfied it.
 * Tasks only. */
int cio__io_wait(struct cio__io *io, unsigned want, unsigned *seen)
{
    struct cio__worker *w = cio__worker_current();
    if (io->worker != w) {
        if (io->worker == NULL)
            return -EBADF; /* the runtime that held the registration is gone */
        ring_arm_for(io, want);
        return wait_foreign(io, want, seen, NULL);
    }
    return cio__io_wait_owned(io, io->worker->current, want, seen);
}

/* The general owner wait, for what cio__io_park() does not handle itself: a completion
 * backend to arm, a task waiting first already, a deadline, a cancellation, a closed socket. */
int cio__io_wait_owned(struct cio__io *io, cio_task *t, unsigned want, unsigned *seen)
{
    ring_arm_for(io, want);
    if (cio__unlikely(cio__task_shared(t)))
        return wait_shared(io, t, want, seen);
    if (!atomic_load_explicit(&io->closed, memory_order_acquire)) {
        struct cio__io_waiter *waiter = &t->io_wait; /* the task's own (rt/sched.h) */
        waiter->want = want;
        waiter->woken = 0;
        io->owner_refs++;
        owner_enqueue(io, waiter);
        int rc = cio__task_park_self(t);
        /* on_event() dequeues the waiter it wakes; a timeout, a cancellation, a spurious
         * wake or a close leave it to us (the close's sweep dequeues it too: dequeuing twice
         * is harmless). @waiter->node is set only if the waiter was queued on the list. */
        if (waiter->woken == 0) {
            owner_dequeue(io, waiter);
            waiter->want = 0; /* no wait in progress */
        }
        io->owner_refs--;
        if (rc == 0 && waiter->woken != 0 &&
            !atomic_load_explicit(&io->closed, memory_order_acquire)) {
            *seen = waiter->woken; /* the edge that woke us, even if consumed since */
            return 0;
        }
        if (rc < 0) {
            if (io->owner_refs == 0 && atomic_load_explicit(&io->closed, memory_order_relaxed))
                (void)try_free(io); /* the caller touches @io no more after an error */
            return rc;
        }
    }
    return wait_owner(io, want, seen, NULL);
}

int cio__io_park_end(struct cio__io *io, cio_task *t, struct cio__io_waiter *waiter, unsigned want,
                     unsigned *seen)
{
    if (waiter->woken == 0) {
        owner_dequeue(io, waiter);
        waiter->want = 0; /* no wait in progress (rt/sched.h) */
    }
    if (atomic_load_explicit(&t->state, memory_order_relaxed) & CIO__TASK_CANCELLED) {
        if (io->owner_refs == 0 && atomic_load_explicit(&io->closed, memory_order_relaxed))
            (void)try_free(io); /* the caller touches @io no more after an error */
        return -ECANCELED;
    }
    return wait_owner(io, want, seen, NULL);
}

int cio__io_wait_done(struct cio__io *io, const bool *done)
{
    if (*done)
        return 0;
    struct cio__worker *w = cio__worker_current();
    if (io->worker == w && !cio__task_shared(w->current)) {
        /* The common case written out: one park, woken by the completion. Anything else —
         * a close, a cancellation, a spurious wake — goes round wait_owner()'s loop. */
        if (!atomic_load_explicit(&io->closed, memory_order_acquire)) {
            struct cio__io_waiter waiter = {.task = w->current, .want = 0};
            cio__list_init(&waiter.node);
            io->owner_refs++;
            owner_enqueue(io, &waiter);
            int rc = cio__task_park_self(w->current);
            owner_dequeue(io, &waiter);
            io->owner_refs--;
            if (*done && rc == 0)
                return 0;
        }
        return wait_owner(io, 0, NULL, done);
    }
    if (io->worker == NULL)
        return -EBADF;
    return wait_foreign(io, 0, NULL, done);
}

/*
 * Register @sock for a wait that comes next, a shared task settling first (cio__task_settle:
 * it may move to another worker, so that the socket registers there). Only where nothing the
 * caller computed depends on the worker it ran on: the waits of io_loop and ready_slow. (The
 * other registrations — a poll_* call, a select's watches, a ring write with its ring chosen —
 * register where the task runs.)
 */
static int register_settled(struct cio_socket *sock)
{
    cio__task_settle();
    return cio__io_register(sock);
}

/* Run @op until it does not return -EAGAIN, waiting in between. */
static ssize_t io_loop(struct cio_socket *sock, unsigned interest, cio__io_op op, void *ctx,
                       size_t short_len)
{
    unsigned clears = interest_clears(interest);
    unsigned want = cio__io_want(interest);
    for (;;) {
        struct cio__io *io = cio__io_of(sock);
        unsigned seen = ~0u;
        if (io != NULL) {
            seen = atomic_load(&io->readiness);
            if (!(seen & want)) {
                /* After a wait, touch only what io_wait checked: the handle itself may
                 * have been closed and freed by another task if this returns -EBADF. */
                int rc = cio__io_wait(io, want, &seen);
                if (rc < 0)
                    return rc;
            }
        }
        ssize_t n = op(sock, ctx);
        if (n == -EAGAIN) {
            if (io == NULL) {
                int rc = register_settled(sock);
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

ssize_t cio__io_do_slow(struct cio_socket *sock, unsigned interest, cio__io_op op, void *ctx,
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

ssize_t cio__io_do_again(struct cio_socket *sock, unsigned interest, cio__io_op op, void *ctx,
                         size_t short_len, struct cio__io *io, unsigned seen)
{
    clear_if_unchanged(io, seen, interest_clears(interest));
    return io_loop(sock, interest, op, ctx, short_len);
}

ssize_t cio__io_try(struct cio_socket *sock, unsigned interest, cio__io_op op, void *ctx)
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

/* ---- readiness values ---- */

int cio__io_ready_slow(struct cio_socket *sock, unsigned interest)
{
    cio_task *t = cio__task_self();
    if (t == NULL)
        return -EPERM;
    if (sock == NULL || interest == 0 ||
        (interest & ~(unsigned)(CIO_READABLE | CIO_WRITABLE | CIO_PRIORITY)))
        return -EINVAL;
    /* A readiness wait is an operation: it spends budget, so a task looping on ready() and
     * a try_* call yields to the others on its worker (and a cancelled one stops). */
    int rc = cio__task_budget();
    if (rc < 0)
        return rc;
    if (sock->fd < 0)
        return -EBADF;
    struct cio__io *io = cio__io_of(sock);
    if (io == NULL) {
        if ((rc = register_settled(sock)) < 0)
            return rc;
        io = cio__io_of(sock);
    }
    unsigned want = cio__io_want(interest);
    unsigned seen = atomic_load(&io->readiness);
    if (!(seen & want)) {
        rc = cio__io_wait(io, want, &seen);
        if (rc < 0)
            return rc;
    }
    return cio__io_ready_value(seen, want);
}

void cio__io_clear(struct cio_socket *sock, int ready)
{
    struct cio__io *io = sock ? cio__io_of(sock) : NULL;
    if (io == NULL || ready <= 0)
        return;
    /* Clear only with the tick the value was read at; never the closed states. */
    unsigned mask =
        (unsigned)ready & BITS_MASK & ~(unsigned)(CIO_READY_READ_CLOSED | CIO_READY_WRITE_CLOSED);
    unsigned tick = ((unsigned)ready >> TICK_SHIFT) & TOKEN_TICK_MASK;
    unsigned cur = atomic_load(&io->readiness);
    while (((cur >> TICK_SHIFT) & TOKEN_TICK_MASK) == tick && (cur & mask)) {
        if (atomic_compare_exchange_weak(&io->readiness, &cur, cur & ~mask))
            break;
    }
    if (io->level)
        rearm(io);
}

/* Where @io's poll_* callbacks hang: in the registration, or in the ring state of the
 * completion way (made now). Lock held; NULL: out of memory. */
static struct cio__io_callback **callbacks_slot(struct cio__io *io)
{
    if (!io->completion)
        return &io->callbacks;
    struct cio__io_ring *r = cio__io_ring_make(io);
    return r != NULL ? cio__io_ring_callbacks(r) : NULL;
}

/* Whether @io has its callbacks already (a look without the lock). */
static bool callbacks_there(struct cio__io *io)
{
    if (!io->completion)
        return __atomic_load_n(&io->callbacks, __ATOMIC_ACQUIRE) != NULL;
    struct cio__io_ring *r = cio__io_ring_of(io);
    return r != NULL && __atomic_load_n(cio__io_ring_callbacks(r), __ATOMIC_ACQUIRE) != NULL;
}

int cio__io_poll_ready(struct cio_socket *sock, unsigned interest, cio_wake_fn wake, void *ctx)
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
    struct cio__io_callback *fresh = NULL;
    if (wake != NULL && !callbacks_there(io)) {
        if ((fresh = calloc(2, sizeof(*fresh))) == NULL)
            return -ENOMEM;
        cio__list_init(&fresh[0].waiter.node);
        cio__list_init(&fresh[1].waiter.node);
    }
    ring_arm_for(io, want);
    cio__io_lock(io);
    if (atomic_load_explicit(&io->closed, memory_order_relaxed)) {
        cio__io_unlock(io);
        free(fresh);
        return -EBADF;
    }
    struct cio__io_callback **slot = wake != NULL ? callbacks_slot(io) : NULL;
    if (wake != NULL && slot == NULL) {
        cio__io_unlock(io);
        free(fresh);
        return -ENOMEM;
    }
    if (fresh != NULL && *slot == NULL) {
        __atomic_store_n(slot, fresh, __ATOMIC_RELEASE);
        fresh = NULL;
    }
    unsigned cur = atomic_load(&io->readiness);
    if (!(cur & want) && wake != NULL) {
        /* One callback per direction: a new one replaces the old. Published before the
         * readiness is read again, as a foreign waiter (the reactor may be on another
         * thread). */
        struct cio__io_callback *cb = &(*slot)[interest == CIO_READABLE ? DIR_READ : DIR_WRITE];
        cb->wake = wake;
        cb->ctx = ctx;
        cb->waiter.want = want;
        if (!cio__list_linked(&cb->waiter.node)) {
            cio__list_push_back(&io->foreign, &cb->waiter.node);
            atomic_fetch_add(&io->foreign_count, 1);
        }
        cur = atomic_load(&io->readiness);
        if (cur & want) {
            cio__list_remove(&cb->waiter.node);
            atomic_fetch_sub_explicit(&io->foreign_count, 1, memory_order_relaxed);
            cb->wake = NULL;
        }
    }
    cio__io_unlock(io);
    free(fresh); /* another call armed the first callback meanwhile */
    return cur & want ? cio__io_ready_value(cur, want) : -EAGAIN;
}

/* ---- select's watches ---- */

/*
 * A select (io/select.c) waits on several registrations at once: it holds a reference on each
 * for its whole duration — the owner's count or the foreign one, as a plain wait does — and
 * queues one waiter per registration, each naming the same task, before it parks once. The
 * waiters obey the plain waits' rules: an owner's waiter is touched on the owner thread only,
 * a foreign one under the lock and published before the readiness is read again.
 */

int cio__io_watch_begin(struct cio__io_watch *watch, struct cio_socket *sock, unsigned want)
{
    if (sock->fd < 0)
        return -EBADF;
    struct cio__io *io;
    int rc = cio__io_registered(sock, &io);
    if (rc < 0)
        return rc;
    if (io == NULL)
        return -EBADF; /* closed by another thread just now */
    watch->io = io;
    watch->queued = false;
    watch->waiter.task = cio__task_self();
    watch->waiter.want = want;
    watch->waiter.woken = 0;
    cio__list_init(&watch->waiter.node);
    /* The owner's list only for a pinned task: a shared one may poll the watch from another
     * worker after its next park (sched.h). */
    if (io->worker == cio__worker_current() &&
        (watch->waiter.task == NULL || !cio__task_shared(watch->waiter.task))) {
        watch->foreign = false;
        io->owner_refs++;
        return 0;
    }
    cio__io_lock(io);
    if (io->worker == NULL) {
        cio__io_unlock(io);
        return -EBADF; /* the runtime that held the registration is gone */
    }
    watch->foreign = true;
    io->foreign_refs++;
    cio__io_unlock(io);
    return 0;
}

int cio__io_watch_poll(struct cio__io_watch *watch)
{
    struct cio__io *io = watch->io;
    struct cio__io_waiter *waiter = &watch->waiter;
    unsigned want = waiter->want;
    if (!watch->queued)
        ring_arm_for(io, want);
    if (!watch->foreign) {
        /* The reactor runs on this thread, not while we do: no race with it. */
        if (atomic_load_explicit(&io->closed, memory_order_acquire))
            return -EBADF;
        unsigned cur = atomic_load_explicit(&io->readiness, memory_order_acquire);
        if (cur & want) {
            if (watch->queued)
                owner_dequeue(io, waiter); /* harmless if an event dequeued it */
            watch->queued = false;
            return cio__io_ready_value(cur, want);
        }
        /* Queued and not woken: still queued (a wake by another arm). Woken by an edge
         * another task consumed since: queue again. */
        if (!watch->queued || waiter->woken != 0) {
            waiter->woken = 0;
            cio__list_init(&waiter->node);
            owner_enqueue(io, waiter);
            watch->queued = true;
        }
        return 0;
    }
    int rc = 0;
    cio__io_lock(io);
    if (atomic_load_explicit(&io->closed, memory_order_relaxed)) {
        rc = -EBADF;
    } else {
        if (!cio__list_linked(&waiter->node)) {
            waiter->woken = 0;
            cio__list_push_back(&io->foreign, &waiter->node);
            atomic_fetch_add(&io->foreign_count, 1); /* seq_cst: before the readiness load */
        }
        unsigned cur = atomic_load(&io->readiness);
        if (cur & want)
            rc = cio__io_ready_value(cur, want);
    }
    if (rc != 0 && cio__list_linked(&waiter->node)) {
        cio__list_remove(&waiter->node);
        atomic_fetch_sub_explicit(&io->foreign_count, 1, memory_order_relaxed);
    }
    cio__io_unlock(io);
    return rc;
}

void cio__io_watch_end(struct cio__io_watch *watch)
{
    struct cio__io *io = watch->io;
    if (!watch->foreign) {
        if (watch->queued)
            owner_dequeue(io, &watch->waiter); /* harmless if an event or a close did */
        io->owner_refs--;
        if (io->owner_refs == 0 && atomic_load_explicit(&io->closed, memory_order_relaxed))
            (void)try_free(io);
        return;
    }
    cio__io_lock(io);
    if (cio__list_linked(&watch->waiter.node)) {
        cio__list_remove(&watch->waiter.node);
        atomic_fetch_sub_explicit(&io->foreign_count, 1, memory_order_relaxed);
    }
    foreign_leave(io);
}
