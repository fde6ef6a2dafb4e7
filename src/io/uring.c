/*
 * uring.c (io layer): TCP streams and listeners the completion way on an io_uring worker — the
 * stash a multishot receive fills and reads empty, the queue a multishot accept fills and
 * accepts empty, and writes as send requests a task waits for. The rules (what is whose, why
 * it is cancel safe) are at the top of io/uring.h; the registration's bookkeeping — waiters,
 * readiness, lifetime — is io.c's, which these operations run under.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cio/rt.h"
#include "io/io.h"
#include "io/uring.h"
#include "net/socket.h"
#include "poll/reactor.h"
#include "rt/sched.h"
#include "sys/uring.h"
#include "util/assert.h"
#include "util/compiler.h"

/* Unread bytes past which the receive stops (the socket's own buffer and TCP's window take
 * over again) until reads have emptied the stash. */
#define STASH_MAX (256u << 10)
#define SPILL_MIN 4096u

static struct cio__io *io_of_op(struct cio__sys_op *op)
{
    return cio__container_of(op, struct cio__io_ring, op)->io;
}

static void recv_done(struct cio__sys_op *op, int32_t res, uint32_t flags);
static void accept_done(struct cio__sys_op *op, int32_t res, uint32_t flags);

/* The ring state: made by the first read that arms the receive, the first write of the
 * owner's, a poll_* call (struct cio__io's @ring); a listener's with the registration. */
static struct cio__io_ring *ring_new(struct cio__io *io, struct cio__sys *sys, bool listener)
{
    struct cio__io_ring *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->io = io;
    r->final = CIO__RING_NO_FINAL;
    r->sys = sys;
    r->listener = listener;
    r->op.complete = listener ? accept_done : recv_done;
    return r;
}

struct cio__io_ring *cio__io_ring_make(struct cio__io *io)
{
    struct cio__io_ring *r = io->ring;
    if (r != NULL)
        return r;
    r = ring_new(io, io->worker != NULL ? cio__io_ring_of_worker(io->worker) : NULL, false);
    if (r != NULL)
        __atomic_store_n(&io->ring, r, __ATOMIC_RELEASE); /* (read without the lock) */
    return r;
}

static bool on_owner(const struct cio__io *io)
{
    return io->worker != NULL && io->worker == cio__worker_current();
}

/* ---- the stash (lock held) ---- */

/* The bytes after the held buffer (a stream), and the accepted descriptors not handed out (a
 * listener): heap blocks with their bookkeeping in front, so that a registration with none
 * carries one pointer for either. */
struct cio__io_spill {
    size_t off, len, cap; /* bytes[off, len) are unread */
    char bytes[];
};

struct cio__io_fdq {
    unsigned head, count, cap;
    int fds[]; /* a ring buffer */
};

static size_t spill_len(const struct cio__io_ring *r)
{
    return r->spill != NULL ? r->spill->len - r->spill->off : 0;
}

static size_t stash_len(const struct cio__io_ring *r)
{
    return (size_t)(r->held_len - r->held_off) + spill_len(r);
}

/* Owner thread: give the held buffer back once read to the end (a reader on another thread
 * leaves it for this). */
static void held_put_if_done(struct cio__io_ring *r)
{
    if (r->held != 0 && r->held_off == r->held_len && r->sys != NULL) {
        cio__uring_buffer_put(r->sys, r->held);
        r->held = 0;
        r->held_off = r->held_len = 0;
    }
}

static void spill_free(struct cio__io_ring *r)
{
    free(r->spill);
    r->spill = NULL;
}

static int spill_append(struct cio__io_ring *r, const char *bytes, size_t n)
{
    struct cio__io_spill *sp = r->spill;
    if (sp != NULL && sp->len + n > sp->cap && sp->off > 0) {
        memmove(sp->bytes, sp->bytes + sp->off, sp->len - sp->off);
        sp->len -= sp->off;
        sp->off = 0;
    }
    size_t len = sp != NULL ? sp->len : 0;
    if (sp == NULL || len + n > sp->cap) {
        size_t cap = sp != NULL ? sp->cap : SPILL_MIN;
        while (cap < len + n)
            cap *= 2;
        sp = realloc(sp, sizeof(*sp) + cap);
        if (sp == NULL)
            return -ENOMEM;
        if (r->spill == NULL)
            sp->off = sp->len = 0;
        sp->cap = cap;
        r->spill = sp;
    }
    memcpy(sp->bytes + sp->len, bytes, n);
    sp->len += n;
    return 0;
}

/*
 * Owner thread: the @n bytes of a receive completion (@flags name its buffer). The stash holds
 * the buffer itself when it has nothing else and the ring has buffers to spare (a connection
 * waiting to read costs no copy); otherwise the bytes are copied behind what it has and the
 * buffer goes back at once, so idle readers cannot starve the ring.
 */
static int stash_add(struct cio__io_ring *r, uint32_t flags, size_t n)
{
    held_put_if_done(r);
    if (r->held == 0 && spill_len(r) == 0 && cio__uring_buffers_spare(r->sys)) {
        if (r->spill != NULL)
            spill_free(r);
        r->held = flags;
        r->held_off = 0;
        r->held_len = (uint32_t)n;
        return 0;
    }
    int rc = spill_append(r, cio__uring_buffer(r->sys, flags), n);
    cio__uring_buffer_put(r->sys, flags);
    return rc;
}

/* Copy into @iov what the stash has (in order: the held buffer, then the spill), consuming it
 * unless @peek. Returns the bytes copied. */
static size_t stash_take(struct cio__io_ring *r, const struct iovec *iov, int iovcnt, bool peek,
                         bool owner)
{
    if (iovcnt == 1 && r->spill == NULL && !peek) {
        /* The common case: one buffer to fill, the bytes all in the held buffer. */
        size_t n = r->held_len - r->held_off;
        if (n > iov[0].iov_len)
            n = iov[0].iov_len;
        memcpy(iov[0].iov_base, cio__uring_buffer(r->sys, r->held) + r->held_off, n);
        r->held_off += (uint32_t)n;
        if (owner)
            held_put_if_done(r);
        return n;
    }
    size_t done = 0;
    uint32_t hoff = r->held_off;
    struct cio__io_spill *sp = r->spill;
    size_t soff = sp != NULL ? sp->off : 0, slen = sp != NULL ? sp->len : 0;
    for (int i = 0; i < iovcnt; i++) {
        char *dst = iov[i].iov_base;
        size_t room = iov[i].iov_len;
        while (room > 0) {
            const char *src;
            size_t avail;
            bool from_held = hoff < r->held_len;
            if (from_held) {
                src = cio__uring_buffer(r->sys, r->held) + hoff;
                avail = r->held_len - hoff;
            } else if (soff < slen) {
                src = sp->bytes + soff;
                avail = slen - soff;
            } else {
                goto out;
            }
            size_t n = room < avail ? room : avail;
            memcpy(dst, src, n);
            dst += n;
            room -= n;
            done += n;
            if (from_held)
                hoff += (uint32_t)n;
            else
                soff += n;
        }
    }
out:
    if (!peek) {
        r->held_off = hoff;
        if (owner)
            held_put_if_done(r);
        if (sp != NULL) {
            sp->off = soff;
            if (soff == slen)
                spill_free(r); /* a connection with nothing unread holds no memory */
        }
    }
    return done;
}

/* ---- the receive ---- */

/*
 * Lock held, owner thread: start the multishot request — receive or accept — and submit it at
 * once: a close from another thread must find it in the kernel to cancel it (an unsubmitted
 * request would go in after the close, on whatever file the number then names). The socket's
 * own read readiness is no longer asked for: the ring's completions are the events now.
 */
static void ring_arm(struct cio__io *io, bool accept)
{
    struct cio__io_ring *r = cio__io_ring_of(io);
    if (r->state != CIO__RING_IDLE || r->inflight || r->no_multishot ||
        r->final != CIO__RING_NO_FINAL || atomic_load_explicit(&io->closed, memory_order_relaxed) ||
        r->sys == NULL)
        return;
    int rc = accept ? cio__uring_accept_multishot(r->sys, &r->op, io->fd)
                    : cio__uring_recv_multishot(r->sys, &r->op, io->fd);
    if (rc < 0) {
        r->no_multishot = true; /* no provided buffers here: the readiness way */
        return;
    }
    cio__uring_flush(r->sys);
    r->state = CIO__RING_ARMED;
    r->inflight = true;
    if (io->armed & CIO_READABLE)
        cio__io_poll_interest(io, io->armed & ~(unsigned)CIO_READABLE);
}

/* ---- readiness: the poll request (io/uring.h) ---- */

#define POLL_INTEREST (CIO_READABLE | CIO_WRITABLE | CIO_PRIORITY)

void cio__io_ring_poll_sync(struct cio__io *io)
{
    struct cio__sys *sys = cio__io_ring_sys(io);
    if (sys == NULL || atomic_load_explicit(&io->closed, memory_order_relaxed))
        return;
    unsigned want = io->armed & POLL_INTEREST;
    unsigned have = io->ring_poll & POLL_INTEREST;
    if (!(io->ring_poll & CIO__IO_POLL_LIVE)) {
        if (want == 0)
            return;
        if (cio__uring_poll_source(sys, &io->source, io->fd, want) < 0) {
            /* The submission queue is full and cannot be submitted now: again at the owner's
             * next turn. */
            cio__io_sync_later(io);
            return;
        }
        /* In the kernel before anything else happens: a close from another thread must find
         * it there to cancel it, as for the receive (ring_arm). */
        cio__uring_flush(sys);
        io->ring_poll = (unsigned char)(CIO__IO_POLL_LIVE | want);
        return;
    }
    if (have == want)
        return;
    /* (An update or removal that finds the request ended does nothing: its end is coming,
     * and cio__io_ring_poll_ended() asks again.) */
    if (want == 0)
        cio__uring_poll_source_remove(sys, &io->source);
    else if (cio__uring_poll_source_update(sys, &io->source, want) < 0) {
        cio__io_sync_later(io);
        return;
    }
    io->ring_poll = (unsigned char)(CIO__IO_POLL_LIVE | want);
}

uint32_t cio__io_ring_poll_event(struct cio__io *io, uint32_t flags)
{
    flags &= ~(uint32_t)CIO__IO_POLL_ENDED;
    /* A socket's data wake-up carries POLLPRI (sys/uring.c, to_poll): believed only if the
     * socket says so now, and only when asked for. */
    if ((flags & CIO_EVENT_PRIORITY) &&
        (!(__atomic_load_n(&io->armed, __ATOMIC_RELAXED) & CIO_PRIORITY) ||
         atomic_load_explicit(&io->closed, memory_order_relaxed) ||
         !cio__uring_priority_now(io->fd)))
        flags &= ~(uint32_t)CIO_EVENT_PRIORITY;
    return flags;
}

void cio__io_ring_poll_ended(struct cio__io *io)
{
    cio__io_lock(io);
    io->ring_poll = 0;
    cio__io_ring_poll_sync(io); /* still wanted: again */
    cio__io_unlock(io);
    cio__io_completed(io); /* closed: this may have been the last thing holding it */
}

static void recv_done(struct cio__sys_op *op, int32_t res, uint32_t flags)
{
    struct cio__io *io = io_of_op(op);
    struct cio__io_ring *r = cio__io_ring_of(io);
    bool more = flags & CIO__SYS_OP_MORE;
    uint32_t event = 0;
    bool stop = false;
    cio__io_lock(io);
    bool closed = atomic_load_explicit(&io->closed, memory_order_relaxed);
    if (flags & CIO__SYS_OP_BUFFER) {
        if (closed || res <= 0) {
            cio__uring_buffer_put(r->sys, flags);
        } else if (stash_add(r, flags, (size_t)res) < 0) {
            /* Out of memory for bytes already taken from the socket: the stream is broken,
             * and says so once what came before is read. */
            r->final = -ENOMEM;
            stop = more;
            event = CIO_EVENT_READABLE | CIO_EVENT_ERROR;
        } else {
            event = CIO_EVENT_READABLE;
            stop = more && stash_len(r) > STASH_MAX;
        }
    }
    if (!more) {
        /* Ended. At the end of stream or on an error, that is what reads say once the stash
         * is read. Otherwise — stopped (flow control, close), the ring out of buffers within
         * one batch (-ENOBUFS: the bytes are still in the socket), ended by the kernel — the
         * next read reads the socket itself and arms it again; the event makes a reader that
         * waits look. */
        r->inflight = false;
        r->state = CIO__RING_IDLE;
        event |= CIO_EVENT_READABLE;
        if (res == 0) {
            r->final = 0;
            event |= CIO_EVENT_READ_CLOSED;
        } else if (res < 0 && res != -ECANCELED && res != -ENOBUFS &&
                   r->final == CIO__RING_NO_FINAL) {
            r->final = res;
            event |= CIO_EVENT_ERROR;
        }
    } else if (stop && r->state == CIO__RING_ARMED) {
        r->state = CIO__RING_STOPPING;
    } else {
        stop = false;
    }
    cio__io_unlock(io);
    if (stop)
        cio__uring_cancel(r->sys, op);
    if (event != 0 && !closed)
        cio__io_event(io, event);
    if (!more)
        cio__io_completed(io);
}

ssize_t cio__io_ring_read_owned(struct cio__io *io, void *buf, size_t len)
{
    struct cio__io_ring *r = cio__io_ring_of(io);
    if (r == NULL)
        return -EAGAIN;
    ssize_t n = -EAGAIN;
    cio__io_lock(io);
    if (r->spill == NULL && r->held_off < r->held_len &&
        !atomic_load_explicit(&io->closed, memory_order_relaxed)) {
        size_t avail = r->held_len - r->held_off;
        size_t take = len < avail ? len : avail;
        memcpy(buf, cio__uring_buffer(r->sys, r->held) + r->held_off, take);
        r->held_off += (uint32_t)take;
        if (take == avail) {
            cio__uring_buffer_put(r->sys, r->held);
            r->held = 0;
            r->held_off = r->held_len = 0;
        }
        n = (ssize_t)take;
    }
    cio__io_unlock(io);
    return n;
}

ssize_t cio__io_ring_read(struct cio_socket *sock, struct cio__io *io, const struct iovec *iov,
                          int iovcnt, size_t total, unsigned flags)
{
    struct cio__io_ring *r = cio__io_ring_of(io);
    bool peek = flags & CIO__RING_PEEK;
    bool owner = on_owner(io);
    cio__io_lock(io);
    if (atomic_load_explicit(&io->closed, memory_order_relaxed)) {
        cio__io_unlock(io);
        return -EBADF;
    }
    if (r == NULL) {
        /* (no ring state yet: the socket's own bytes, below) */
    } else if (stash_len(r) > 0) {
        /* (A receive stopped for flow control is armed again by the owner's first read that
         * finds the stash empty and the socket drained.) */
        size_t n = stash_take(r, iov, iovcnt, peek, owner);
        cio__io_unlock(io);
        return (ssize_t)n;
    } else if (r->final != CIO__RING_NO_FINAL) {
        int final = r->final;
        if (final < 0 && !peek)
            r->final = CIO__RING_NO_FINAL; /* an error is told once; the socket says the rest */
        cio__io_unlock(io);
        return final;
    } else if (r->state != CIO__RING_IDLE) {
        unsigned seen = atomic_load_explicit(&io->readiness, memory_order_relaxed);
        cio__io_unlock(io);
        /* The bytes come through the ring: its completion is the event. A read-closed state
         * a poll request reported (a hang-up) is the ring's to tell from now on — its end of
         * stream or error comes as a completion — and left in the word it would keep the
         * caller's loop from waiting for that completion: clear it, by the tick rule. */
        if (seen & CIO_READY_READ_CLOSED)
            cio__io_clear_closed(io, seen);
        return -EAGAIN;
    }
    cio__io_unlock(io);
    /* Nothing received through the ring and nothing armed: the socket's own bytes. */
    ssize_t n;
    if (peek)
        n = cio__socket_recv(sock, iov[0].iov_base, iov[0].iov_len, MSG_PEEK);
    else if (iovcnt == 1)
        n = cio__socket_recv(sock, iov[0].iov_base, iov[0].iov_len, 0);
    else
        n = cio__socket_recvv(sock, iov, iovcnt, 0);
    if ((flags & CIO__RING_ARM) && owner && !peek &&
        (n == -EAGAIN || (n > 0 && (size_t)n < total))) {
        /* Drained: from here on the ring receives, and the next read finds the bytes in the
         * stash without a system call. */
        cio__io_lock(io);
        if (cio__io_ring_make(io) != NULL)
            ring_arm(io, false); /* (else the readiness way, as without multishot) */
        cio__io_unlock(io);
    }
    return n;
}

/* ---- writes ---- */

/* A task of the owner waiting for a buffered send to go (on its stack). */
struct outbox_waiter {
    struct outbox_waiter *next;
    cio_task *task;
    bool done;
};

/* A buffered write's bytes, the ring's until its send completes (a send block). */
struct cio__io_outbox {
    struct cio__sys_op op;
    struct cio__io *io;
    struct cio__sys *sys;
    struct outbox_waiter *waiters; /* tasks of the owner waiting for this send to go */
    struct sent_wait *foreign;     /* other workers' tasks waiting for it (owner thread) */
    uint32_t len;
    unsigned ticket; /* cio__uring_send_all()'s: someone waits for it now */
    char bytes[];
};

#define OUTBOX_MAX (CIO__URING_BLOCK - sizeof(struct cio__io_outbox))

/*
 * A task of another worker waiting for the owner's buffered send to go: posted to the owner,
 * which puts it on the send's list (where @sending does not move under it) or answers at once;
 * the send's completion answers it. Heap-allocated and handed over: whichever of the two sides
 * comes second — the answer, or the waiter cut by a cancellation or a deadline — frees it.
 * @state and the wake are under the registration's lock, so a waiter that saw SENT_DONE was
 * woken already (no wake reaches it later, in another wait).
 */
enum { SENT_WAITING, SENT_DONE, SENT_ABANDONED };

struct sent_wait {
    struct cio__deferred d;
    struct cio__io *io;
    cio_task *task;
    struct sent_wait *next;
    int state;
};

/* Owner thread: the send @p waited for went (or there was none). */
static void sent_answer(struct sent_wait *p)
{
    struct cio__io *io = p->io;
    cio__io_lock(io);
    if (p->state == SENT_ABANDONED) {
        cio__io_unlock(io);
        free(p);
        return;
    }
    p->state = SENT_DONE;
    cio__task_wake(p->task);
    cio__io_unlock(io);
}

/* Shut @io's socket down as the deferred shutdown asks, unless it was closed meanwhile (then
 * the close ends the stream; the number may name another file now). */
static void shutdown_deferred(struct cio__io *io, int how)
{
    cio__io_lock(io);
    if (!atomic_load_explicit(&io->closed, memory_order_relaxed))
        (void)shutdown(io->fd, how);
    cio__io_unlock(io);
}

static void outbox_done(struct cio__sys_op *op, int32_t res, uint32_t flags)
{
    (void)flags;
    struct cio__io_outbox *b = cio__container_of(op, struct cio__io_outbox, op);
    struct cio__io *io = b->io;
    struct cio__io_ring *r = cio__io_ring_of(io);
    if (res != (int32_t)b->len)
        __atomic_store_n(&r->send_error, (int16_t)(res < 0 ? res : -EPIPE), __ATOMIC_RELAXED);
    __atomic_store_n(&r->sending, NULL, __ATOMIC_RELEASE);
    for (struct outbox_waiter *w = b->waiters; w != NULL; w = w->next) {
        w->done = true;
        cio__task_wake(w->task);
    }
    for (struct sent_wait *p = b->foreign, *next; p != NULL; p = next) {
        next = p->next;
        sent_answer(p);
    }
    cio__uring_block_put(b->sys, b);
    if (r->shut_pending != 0) {
        /* (Written on this thread only: another thread's shutdown is posted here.) */
        int how = r->shut_pending - 1;
        r->shut_pending = 0;
        shutdown_deferred(io, how);
    }
    cio__io_completed(io);
}

/* Owner thread: wait until no buffered send of @r is in flight. 0, or why not (nothing of the
 * caller's was handed over). */
static int outbox_wait(struct cio__io *io, struct cio__io_ring *r, cio_task *t)
{
    while (r->sending != NULL) {
        struct cio__io_outbox *b = r->sending;
        struct outbox_waiter w = {.next = b->waiters, .task = t};
        if (b->waiters == NULL && b->foreign == NULL)
            cio__uring_send_wanted(b->sys, b->ticket);
        b->waiters = &w;
        int rc = cio__io_wait_done(io, &w.done);
        if (!w.done) {
            /* Cut (the send is still in flight, so @b lives): off its list. */
            struct outbox_waiter **p = &b->waiters;
            while (*p != &w)
                p = &(*p)->next;
            *p = w.next;
            return rc < 0 ? rc : -EBADF;
        }
    }
    return 0;
}

/* Owner thread: a buffered write (see io/uring.h). -EBUSY: no block or no request, the caller
 * goes on the waiting way. */
static ssize_t outbox_write(struct cio__io *io, struct cio__io_ring *r, const struct iovec *iov,
                            int iovcnt, size_t total)
{
    struct cio__io_outbox *b = cio__uring_block_get(r->sys);
    if (b == NULL)
        return -EBUSY;
    b->io = io;
    b->sys = r->sys;
    b->waiters = NULL;
    b->foreign = NULL;
    b->len = (uint32_t)total;
    b->op.complete = outbox_done;
    if (iovcnt == 1) {
        memcpy(b->bytes, iov[0].iov_base, total);
    } else {
        char *p = b->bytes;
        for (int i = 0; i < iovcnt; i++) {
            memcpy(p, iov[i].iov_base, iov[i].iov_len);
            p += iov[i].iov_len;
        }
    }
    if (cio__uring_send_all(r->sys, &b->op, io->fd, b->bytes, total, &b->ticket) < 0) {
        cio__uring_block_put(r->sys, b);
        return -EBUSY;
    }
    __atomic_store_n(&r->sending, b, __ATOMIC_RELEASE);
    return (ssize_t)total;
}

ssize_t cio__io_ring_send_owned(struct cio__io *io, const void *buf, size_t len)
{
    struct cio__io_ring *r = cio__io_ring_of(io);
    if (r == NULL || r->sending != NULL || r->send_error != 0 || r->shut_write ||
        len > OUTBOX_MAX || r->sys == NULL ||
        atomic_load_explicit(&io->closed, memory_order_relaxed))
        return -EBUSY;
    struct iovec iov = {(void *)(uintptr_t)buf, len};
    return outbox_write(io, r, &iov, 1, len);
}

/* Owner thread: a foreign waiter's post (struct sent_wait) arrived. */
static void sent_post_run(struct cio__deferred *d)
{
    struct sent_wait *p = cio__container_of(d, struct sent_wait, d);
    struct cio__io *io = p->io;
    struct cio__io_ring *r = cio__io_ring_of(io);
    if (r != NULL && r->sys != NULL && r->sending != NULL) {
        struct cio__io_outbox *b = r->sending;
        if (b->waiters == NULL && b->foreign == NULL)
            cio__uring_send_wanted(b->sys, b->ticket);
        p->next = b->foreign;
        b->foreign = p; /* outbox_done answers it */
    } else {
        sent_answer(p);
    }
    cio__io_lock(io);
    io->foreign_refs--;
    cio__io_unlock(io);
    cio__io_completed(io);
}

/*
 * Another worker's task: wait until the owner's buffered send went (rare: a task that moved
 * between two writes, or two tasks of different workers writing one stream). The wait is
 * posted to the owner, whose completion of the send wakes it. 0, or why not (-EBADF: closed,
 * or the runtime went; a cancellation or deadline), nothing of the caller's handed over.
 */
static int outbox_wait_foreign(struct cio__io *io, struct cio__io_ring *r, cio_task *t)
{
    while (__atomic_load_n(&r->sending, __ATOMIC_ACQUIRE) != NULL) {
        struct sent_wait *p = malloc(sizeof(*p));
        if (p == NULL)
            return -ENOMEM;
        p->io = io;
        p->task = t;
        p->state = SENT_WAITING;
        p->d.fn = sent_post_run;
        cio__io_lock(io);
        struct cio__worker *w = io->worker;
        bool closed = atomic_load_explicit(&io->closed, memory_order_relaxed);
        if (w != NULL && !closed)
            io->foreign_refs++; /* until the owner took the post */
        cio__io_unlock(io);
        if (w == NULL || closed) {
            free(p);
            return -EBADF;
        }
        cio__worker_defer(w, &p->d);
        for (;;) {
            int rc = cio__task_park(CIO_DEADLINE_NONE);
            cio__io_lock(io);
            int state = p->state;
            if (state == SENT_WAITING && rc < 0)
                p->state = SENT_ABANDONED; /* the owner frees it */
            cio__io_unlock(io);
            if (state == SENT_DONE) {
                free(p);
                break; /* look again: another send may have started since */
            }
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

struct send_wait {
    struct cio__sys_op op;
    cio_task *task;
    int32_t res;
    bool done;
};

static void send_done(struct cio__sys_op *op, int32_t res, uint32_t flags)
{
    (void)flags;
    struct send_wait *sw = cio__container_of(op, struct send_wait, op);
    sw->res = res;
    sw->done = true;
    cio__task_wake(sw->task);
}

static ssize_t ring_write(struct cio_socket *sock, struct cio__sys *sys, cio_task *t,
                          const struct iovec *iov, int iovcnt, size_t total)
{
    int rc;
    struct cio__io *io = cio__io_of(sock);
    if (io == NULL && (rc = cio__io_registered(sock, &io)) < 0)
        return rc;
    if (atomic_load_explicit(&io->closed, memory_order_acquire) || io->worker == NULL)
        return -EBADF;
    struct cio__io_ring *r = io->completion ? cio__io_ring_of(io) : NULL;
    /* (A shared task is bound to this worker for the write: cio__io_ring_write.) */
    bool owner = io->completion && cio__io_ring_sys(io) == sys;
    if (owner && r == NULL) {
        cio__io_lock(io);
        r = cio__io_ring_make(io); /* NULL, out of memory: the caller's buffer, waited for */
        cio__io_unlock(io);
    }
    if (r != NULL) {
        rc = owner ? outbox_wait(io, r, t) : outbox_wait_foreign(io, r, t);
        if (rc < 0)
            return rc;
        int32_t err = __atomic_load_n(&r->send_error, __ATOMIC_RELAXED);
        if (err != 0)
            return err;
        if (owner && total <= OUTBOX_MAX && !__atomic_load_n(&r->shut_write, __ATOMIC_RELAXED)) {
            ssize_t n = outbox_write(io, r, iov, iovcnt, total);
            if (n != -EBUSY)
                return n;
        }
    }
    struct send_wait sw = {.op.complete = send_done, .task = t};
    struct msghdr msg;
    if (iovcnt == 1) {
        rc = cio__uring_send(sys, &sw.op, sock->fd, iov[0].iov_base, iov[0].iov_len);
    } else {
        memset(&msg, 0, sizeof(msg));
        msg.msg_iov = (struct iovec *)(uintptr_t)iov;
        msg.msg_iovlen = (size_t)iovcnt;
        rc = cio__uring_sendmsg(sys, &sw.op, sock->fd, &msg);
    }
    if (rc < 0)
        return -EBUSY;
    rc = cio__io_wait_done(io, &sw.done);
    if (!sw.done) {
        /* Cut short (cancelled, deadline, closed): the kernel may be reading the caller's
         * buffer right now. Ask it to stop and wait for its answer, whatever else happens:
         * the caller gets its buffer back only when the kernel is done with it. */
        cio__uring_cancel(sys, &sw.op);
        while (!sw.done)
            cio__task_suspend(t);
    }
    if (sw.res > 0)
        return sw.res; /* what the kernel took, even if the wait was cut meanwhile */
    if (sw.res == -ECANCELED && rc < 0)
        return rc;
    return sw.res == 0 ? -EIO : sw.res;
}

/*
 * A write on @sys, the ring of the calling task's worker. A shared task (sched.h) is bound to
 * that worker for the write: its waits (a buffered send in flight, its own send's completion,
 * a cancel's answer) resume it there, where @sys, the owner's outbox and the completion that
 * sets its flag are — woken elsewhere, it would submit on another worker's ring, touch the
 * owner's state from another thread, and read the flag the completion writes.
 */
ssize_t cio__io_ring_write(struct cio_socket *sock, struct cio__sys *sys, const struct iovec *iov,
                           int iovcnt, size_t total)
{
    cio_task *t = cio__task_self();
    if (t == NULL || !cio__task_shared(t))
        return ring_write(sock, sys, t, iov, iovcnt, total);
    t->bound++;
    ssize_t n = ring_write(sock, sys, t, iov, iovcnt, total);
    t->bound--;
    return n;
}

/* Another thread's shutdown, posted to the owner: the registration is held (foreign_refs)
 * until it ran. */
struct shut_post {
    struct cio__deferred d;
    struct cio__io *io;
    int how;
};

/* Owner thread, @sending not NULL or just done: the shutdown after it. */
static void shut_after_send(struct cio__io *io, struct cio__io_ring *r, int how)
{
    if (r->sending != NULL) {
        r->shut_pending = (unsigned char)(how + 1); /* outbox_done makes it */
        cio__uring_send_wanted(r->sending->sys, r->sending->ticket);
    } else {
        shutdown_deferred(io, how);
    }
}

static void shut_post_run(struct cio__deferred *d)
{
    struct shut_post *p = cio__container_of(d, struct shut_post, d);
    struct cio__io *io = p->io;
    int how = p->how;
    free(p);
    shut_after_send(io, cio__io_ring_of(io), how);
    cio__io_lock(io);
    io->foreign_refs--;
    cio__io_unlock(io);
    cio__io_completed(io);
}

int cio__io_ring_shutdown(struct cio_socket *sock, int how, int *rc)
{
    struct cio__io *io = cio__io_of(sock);
    if (io == NULL || !io->completion || how == SHUT_RD)
        return 0;
    struct cio__io_ring *r = cio__io_ring_of(io);
    if (r == NULL)
        return 0; /* nothing written the completion way: nothing in flight */
    __atomic_store_n(&r->shut_write, true, __ATOMIC_RELAXED);
    /* None in flight: any before it completed (this load sees the completion's store), its
     * bytes are in the socket, and the shutdown goes after them. */
    if (__atomic_load_n(&r->sending, __ATOMIC_ACQUIRE) == NULL)
        return 0;
    *rc = 0;
    if (on_owner(io)) {
        cio_task *t = cio__task_self();
        /* A shared task is bound to this worker for the wait, as for a write
         * (cio__io_ring_write): it resumes here, where the owner's list is. */
        int waited = -1;
        if (t != NULL && r->sys != NULL) {
            bool shared = cio__task_shared(t);
            t->bound += shared;
            waited = outbox_wait(io, r, t);
            t->bound -= shared;
        }
        if (waited < 0)
            shut_after_send(io, r, how); /* not in a task, or cut: left to the completion */
        else if (shutdown(sock->fd, how) < 0)
            *rc = -errno;
        return 1;
    }
    /* Another thread: the owner decides, where @sending does not move under it. */
    struct shut_post *p = malloc(sizeof(*p));
    cio__io_lock(io);
    struct cio__worker *w = io->worker;
    bool post = p != NULL && w != NULL && !atomic_load_explicit(&io->closed, memory_order_relaxed);
    if (post)
        io->foreign_refs++;
    cio__io_unlock(io);
    if (!post) {
        free(p);
        return 0; /* the runtime went (nothing is in flight any more), closed, or no memory */
    }
    p->io = io;
    p->how = how;
    p->d.fn = shut_post_run;
    cio__worker_defer(w, &p->d);
    return 1;
}

/* ---- accepting ---- */

static int fds_push(struct cio__io_ring *r, int fd)
{
    struct cio__io_fdq *q = r->fdq;
    if (q == NULL || q->count == q->cap) {
        unsigned cap = q != NULL ? q->cap * 2 : 16;
        struct cio__io_fdq *bigger = malloc(sizeof(*bigger) + cap * sizeof(int));
        if (bigger == NULL)
            return -ENOMEM;
        bigger->head = 0;
        bigger->count = q != NULL ? q->count : 0;
        bigger->cap = cap;
        for (unsigned i = 0; i < bigger->count; i++)
            bigger->fds[i] = q->fds[(q->head + i) % q->cap];
        free(q);
        r->fdq = q = bigger;
    }
    q->fds[(q->head + q->count) % q->cap] = fd;
    q->count++;
    return 0;
}

static int fds_pop(struct cio__io_ring *r)
{
    struct cio__io_fdq *q = r->fdq;
    if (q == NULL || q->count == 0)
        return -1;
    int fd = q->fds[q->head];
    q->head = (q->head + 1) % q->cap;
    q->count--;
    return fd;
}

static void accept_done(struct cio__sys_op *op, int32_t res, uint32_t flags)
{
    struct cio__io *io = io_of_op(op);
    struct cio__io_ring *r = cio__io_ring_of(io);
    bool more = flags & CIO__SYS_OP_MORE;
    uint32_t event = 0;
    cio__io_lock(io);
    bool closed = atomic_load_explicit(&io->closed, memory_order_relaxed);
    if (res >= 0) {
        if (closed || fds_push(r, res) < 0)
            close(res); /* its client sees the connection closed, as with a full backlog */
        else
            event = CIO_EVENT_READABLE;
    }
    if (!more) {
        r->inflight = false;
        r->state = CIO__RING_IDLE;
        /* An error (EMFILE...) ends it: the acceptors retry with accept4, which has the
         * EMFILE defence, and arm it again once the backlog is empty. */
        if (res < 0 && res != -ECANCELED)
            event |= CIO_EVENT_READABLE;
    }
    cio__io_unlock(io);
    if (event != 0 && !closed)
        cio__io_event(io, event);
    if (!more)
        cio__io_completed(io);
}

int cio__io_ring_accept(struct cio_socket *sock, struct cio__io *io, int *reserve, bool arm,
                        int *ret_fd, cio_addr *ret_peer)
{
    struct cio__io_ring *r = cio__io_ring_of(io);
    cio__io_lock(io);
    if (atomic_load_explicit(&io->closed, memory_order_relaxed)) {
        cio__io_unlock(io);
        return -EBADF;
    }
    int fd = fds_pop(r);
    cio__io_unlock(io);
    if (fd >= 0) {
        if (ret_peer != NULL) {
            struct sockaddr_storage ss;
            socklen_t len = sizeof(ss);
            cio_addr peer;
            if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0 ||
                cio_addr_from_sockaddr(&peer, (struct sockaddr *)&ss,
                                       len < sizeof(ss) ? len : sizeof(ss)) < 0)
                memset(&peer, 0, sizeof(peer)); /* the client is gone already: reads say so */
            *ret_peer = peer;
        }
        *ret_fd = fd;
        return 0;
    }
    fd = cio__socket_accept(sock, reserve, ret_peer);
    if (fd >= 0) {
        *ret_fd = fd;
        return 0;
    }
    if (fd == -EAGAIN && arm && on_owner(io)) {
        cio__io_lock(io);
        ring_arm(io, true);
        cio__io_unlock(io);
    }
    return fd;
}

/* ---- io.c's hooks ---- */

bool cio__io_ring_reads(struct cio__io *io)
{
    const struct cio__io_ring *r = cio__io_ring_of(io);
    return r != NULL && (r->state != CIO__RING_IDLE || r->final != CIO__RING_NO_FINAL ||
                         (r->listener ? r->fdq != NULL && r->fdq->count > 0 : stash_len(r) > 0));
}

bool cio__io_ring_wanted(const struct cio_socket *sock)
{
    /* TCP streams and listeners of either family; Unix streams keep the readiness way (a read
     * must not swallow the descriptors a write carried). */
    return sock->kind == CIO__KIND_LISTENER ||
           (sock->kind == CIO__KIND_SOCKET && sock->type == SOCK_STREAM &&
            (sock->domain == AF_INET || sock->domain == AF_INET6));
}

int cio__io_ring_init(struct cio__io *io, struct cio__sys *sys, const struct cio_socket *sock)
{
    if (sock->kind == CIO__KIND_LISTENER) {
        /* (A listener's state at once: listeners are few, and accepting is what they do.) */
        io->ring = ring_new(io, sys, true);
        return io->ring != NULL ? 0 : -ENOMEM;
    }
    if (__atomic_load_n(&cio__socket_shutdown_hook, __ATOMIC_RELAXED) == NULL)
        __atomic_store_n(&cio__socket_shutdown_hook, cio__io_ring_shutdown, __ATOMIC_RELEASE);
    return 0;
}

enum { CANCEL_OP = 1u << 0, CANCEL_POLL = 1u << 1 };

unsigned cio__io_ring_detach(struct cio__io *io)
{
    struct cio__io_ring *r = cio__io_ring_of(io);
    if (r != NULL ? r->sys == NULL : io->worker == NULL)
        return 0; /* the runtime went: nothing is in the kernel */
    /* A buffered send still prepared only would name the descriptor after the close: into the
     * kernel with it now (there, it holds the file: its bytes go out, then the socket closes). */
    if (r != NULL && __atomic_load_n(&r->sending, __ATOMIC_ACQUIRE) != NULL)
        cio__uring_flush_any(r->sys);
    /* Nothing is asked for any more: the poll request's end does not bring it back. */
    __atomic_store_n(&io->armed, 0, __ATOMIC_RELAXED);
    return (r != NULL && r->state != CIO__RING_IDLE ? CANCEL_OP : 0) |
           (io->ring_poll & CIO__IO_POLL_LIVE ? CANCEL_POLL : 0);
}

void cio__io_ring_cancel(struct cio__io *io, unsigned what)
{
    /* From any thread, synchronously: when the socket is closed after this, it really is
     * (the requests no longer hold it). Their last completions still come to the owner, and
     * the registration waits for them (@inflight, CIO__IO_POLL_LIVE). */
    struct cio__io_ring *r = cio__io_ring_of(io);
    struct cio__sys *sys = r != NULL ? r->sys : cio__io_ring_of_worker(io->worker);
    if (what & CANCEL_OP)
        (void)cio__uring_cancel_sync(sys, &r->op);
    if (what & CANCEL_POLL)
        (void)cio__uring_poll_source_cancel_sync(sys, &io->source);
}

void cio__io_ring_release(struct cio__io *io)
{
    struct cio__io_ring *r = cio__io_ring_of(io);
    if (r == NULL)
        return;
    if (r->listener) {
        int fd;
        while ((fd = fds_pop(r)) >= 0)
            close(fd);
        free(r->fdq);
    } else {
        if (r->held != 0 && r->sys != NULL)
            cio__uring_buffer_put(r->sys, r->held);
        free(r->spill);
    }
    free(r->callbacks);
    free(r);
    io->ring = NULL;
}

void cio__io_ring_orphan(struct cio__io *io)
{
    struct cio__io_ring *r = cio__io_ring_of(io);
    if (r == NULL || r->sys == NULL)
        return;
    /* The ring and its buffers go with the runtime: the held buffer's bytes, which come
     * before the spill's, are copied in front of them. */
    size_t n = r->held_len - r->held_off;
    if (!r->listener && r->held != 0 && n > 0) {
        size_t rest = spill_len(r);
        struct cio__io_spill *sp = malloc(sizeof(*sp) + n + rest);
        if (sp != NULL) {
            memcpy(sp->bytes, cio__uring_buffer(r->sys, r->held) + r->held_off, n);
            if (rest > 0)
                memcpy(sp->bytes + n, r->spill->bytes + r->spill->off, rest);
            sp->off = 0;
            sp->len = sp->cap = n + rest;
            spill_free(r);
            r->spill = sp;
        } else {
            r->final = -ENOMEM;
        }
    }
    r->held = 0;
    r->held_off = r->held_len = 0;
    r->sys = NULL;
    r->state = CIO__RING_IDLE;
    r->inflight = false;
}

void cio__io_ring_end_all(struct cio__sys *sys)
{
    cio__uring_cancel_all(sys);
}
