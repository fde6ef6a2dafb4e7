/*
 * uring.c: the Linux io_uring backend (Linux 6.0 or later, through liburing). Readiness — the
 * contract of sys.h — is one multishot poll request per registration, edge-triggered like
 * EPOLLET: the kernel posts a completion per wake-up of the file, with the mask it polls then.
 * The runtime's completion requests (uring.h) share the ring. A wait submits everything
 * prepared since the previous one and waits for completions in one io_uring_enter.
 *
 * Threads. The submission queue is written under sq_lock, which a waiter holds from preparing
 * its batch through its io_uring_enter. add/mod/del may come from any thread: they change the
 * registration under the lock and queue it, then submit the queue at once if sq_lock is free
 * (so a registration is in the kernel when the call returns, and cio_poll_fd() tells the
 * truth); if a waiter holds it, they poke it awake and it submits the queue before waiting
 * again. "No event after del" holds at once: a registration marked dead has its events
 * dropped. Completions are taken by the waiter alone, without sq_lock (a completion callback
 * may prepare requests).
 *
 * A registration's life (every change under the lock):
 *
 *     add ──> queued ADD ──drain──> in kernel ──final CQE, alive──> queued ADD (re-armed)
 *                                     │ mod: queued UPDATE (the kernel re-polls with the new mask)
 *     del ──> dead: in kernel -> queued REMOVE, freed at its final CQE;
 *                   queued -> freed by the drain;  neither -> freed at once
 *
 * Wakes: an eventfd under its own multishot poll. wake() writes it only when no wake is
 * pending, so any number of wakes before a wait make one event; the queue's own pokes write
 * it without a pending wake, so they end a wait without reporting one. A wait reports a
 * pending wake before it looks at the ring: the eventfd's completion is posted by the kernel
 * some time after the write (task work), so a wake made just before a wait with no timeout
 * would otherwise show up only at a later wait — after a wait had already reported nothing.
 * A completion that comes after its wake was reported that way finds none pending and
 * reports nothing.
 *
 * The kernel holds a file while a request on it lives: a descriptor closed without del stays
 * open until del (epoll forgets it). The runtime always removes before it closes.
 *
 * The runtime's TCP streams and listeners (the completion way, io/uring.h) register nothing:
 * their readiness is a poll request whose events go straight to their source
 * (cio__uring_poll_source), and nothing here records it. An update of either kind of poll
 * request that the kernel refuses (-EALREADY: a wake-up of the request is being run) cancels
 * the request; its end re-arms it with the latest interest.
 *
 * Rings are set up with COOP_TASKRUN (completions run when the worker enters the kernel, no
 * interrupt) but not SINGLE_ISSUER/DEFER_TASKRUN: those tie the ring to one thread, and a
 * socket closed from another thread must be able to cancel its requests synchronously
 * (cio__uring_cancel_sync, a register call that SINGLE_ISSUER refuses to other threads), and a
 * current-thread runtime may be driven from different threads over its life.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "sys/backend.h"
#include "sys/sys.h"
#include "sys/uring.h"
#include "util/compiler.h"

#define SQ_ENTRIES 1024u
#define CQ_ENTRIES 8192u
#define BATCH 64u        /* completions looked at in one go */
#define DELIVER_MAX 4096 /* completions one deliver() hands over at most */
#define BUF_COUNT 256u   /* provided receive buffers per ring (a power of two) */
#define BUF_SIZE 4096u   /* bytes each */
#define BUF_GROUP 0
#define MIN_WAIT_NS (20 * CIO_NSEC_PER_USEC) /* see sys_run */
#define BLOCKS_KEPT 128u                     /* free send blocks a ring keeps (128 x 8 KiB) */
#define QUIET_WAIT_US 200u /* a wait past quiet sends ends this soon once they are in (sys_run) */
#define BATCH_MAX 32u      /* completions a busy turn's wait gathers, at most (submit_and_wait) */
#define BATCH_WAIT_US 100u /* ... for this long at most, once one is there */
#ifndef IORING_FEAT_MIN_TIMEOUT
#define IORING_FEAT_MIN_TIMEOUT (1u << 15) /* Linux 6.12; liburing 2.3 predates it */
#endif

_Static_assert(CIO__SYS_OP_BUFFER == IORING_CQE_F_BUFFER && CIO__SYS_OP_MORE == IORING_CQE_F_MORE &&
                   CIO__SYS_OP_BUFFER_SHIFT == IORING_CQE_BUFFER_SHIFT,
               "uring.h's completion flags are the kernel's");

/* What a completion's user_data is: the low bits of a pointer (8-byte aligned) or a value. */
enum tag {
    TAG_OP = 0,
    TAG_POLL = 1,
    TAG_WAKE = 2,
    TAG_IGNORE = 3,
    TAG_SOURCE = 4,
    /* an update of a TAG_POLL or TAG_SOURCE request (the same pointer): its failure */
    TAG_POLL_UPDATE = 5,
    TAG_SOURCE_UPDATE = 6,
};
#define TAG_MASK UINT64_C(7)

enum action { ACT_NONE, ACT_ADD, ACT_UPDATE, ACT_REMOVE };

struct reg {
    _Atomic uint64_t data; /* the caller's data word */
    atomic_bool dead;      /* deregistered: its events are dropped */
    int fd;
    atomic_uint interest; /* written under the lock */
    dev_t dev; /* the file registered, to tell a reused number from a second registration */
    ino_t ino;
    bool in_kernel;       /* its poll request lives (the final completion not seen yet) */
    unsigned char action; /* enum action; on the queue unless ACT_NONE */
    struct reg *queue_next;
    struct reg *prev, *next; /* every registration not freed yet */
};

struct cio__sys {
    struct io_uring ring;
    atomic_flag sq_lock; /* the submission queue (see the top); a spin lock */
    pthread_mutex_t lock;
    struct reg **table; /* fd -> its live registration; lock */
    size_t table_cap;
    struct reg *queue_head, *queue_tail; /* lock */
    atomic_uint queued;                  /* entries on the queue, looked at without the lock */
    struct reg all;                      /* head of the list of every registration */
    int wakefd;
    atomic_int wake_pending; /* a wake() not reported yet */
    atomic_bool wake_armed;  /* the eventfd's poll request lives */
    /* provided receive buffers, set up on first use; waiter only */
    struct io_uring_buf_ring *br;
    char *bufs;
    int bufs_error;
    unsigned held; /* handed out by completions, not yet put back */
    /* send blocks (cio__uring_block_get); waiter only */
    void *blocks;         /* free list, linked through their first word */
    unsigned blocks_free; /* on it */
    /* quiet sends (cio__uring_send_all): under sq_lock */
    unsigned quiet;   /* prepared since the last submission, nobody waiting for them */
    unsigned gen;     /* submissions so far: a send's ticket is the one it goes in with */
    bool min_timeout; /* the kernel ends a wait early once it has completions (6.12) */
    /* how many completions a wait asks for beyond the quiet sends (submit_and_wait): 1, and
     * up to BATCH_MAX while waits keep filling; waiter only */
    unsigned batch;
};

/*
 * io_uring's poll requests and urgent data (Linux 6.x): the wake-up filter leaves POLLPRI out
 * (IO_ASYNC_POLL_COMMON), so a request for POLLPRI alone is never woken; and the mask a
 * multishot request reports is the wake-up's key, which for every socket data wake-up holds
 * POLLPRI (sock_def_readable). So PRIORITY asks for POLLIN as well, and a reported POLLPRI is
 * checked with poll(2) before it is believed (cio__uring_priority_now); READABLE that was not asked
 * for is not reported.
 */
static uint32_t to_poll(unsigned interest)
{
    uint32_t ev = 0;
    if (interest & CIO_READABLE)
        ev |= POLLIN | POLLRDHUP;
    if (interest & CIO_WRITABLE)
        ev |= POLLOUT;
    if (interest & CIO_PRIORITY)
        ev |= POLLPRI | POLLIN;
    if (interest & CIO__INTEREST_RDHUP)
        ev |= POLLRDHUP;
    return ev;
}

bool cio__uring_priority_now(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLPRI};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLPRI);
}

/* A new mask for the multishot poll request @ud (TAG_POLL or TAG_SOURCE): no completion when
 * it worked; one that failed is the update's tag on the same pointer (handle()). */
static void prep_poll_update(struct io_uring_sqe *sqe, uint64_t ud, unsigned interest)
{
    io_uring_prep_poll_update(sqe, ud, 0, to_poll(interest),
                              IORING_POLL_UPDATE_EVENTS | IORING_POLL_ADD_MULTI);
    uint64_t tag = (ud & TAG_MASK) == TAG_POLL ? TAG_POLL_UPDATE : TAG_SOURCE_UPDATE;
    io_uring_sqe_set_data64(sqe, (ud & ~TAG_MASK) | tag);
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
}

/* ---- the ring ---- */

/*
 * A ring with what this backend needs, or why not: -ENOSYS (no io_uring), -EPERM (disabled by
 * sysctl or seccomp), -ENOTSUP (a kernel before 6.0: no COOP_TASKRUN, no ring-wide waits with
 * a timeout, no multishot receive — the probe looks for SEND_ZC, which came with it).
 */
static int ring_init(struct io_uring *ring, unsigned entries, unsigned cq_entries,
                     unsigned *ret_features)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof(p));
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP | IORING_SETUP_SUBMIT_ALL |
              IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
    p.cq_entries = cq_entries;
    int rc = io_uring_queue_init_params(entries, ring, &p);
    if (rc == -EINVAL)
        return -ENOTSUP; /* flags this kernel does not know */
    if (rc < 0)
        return rc;
    unsigned need = IORING_FEAT_NODROP | IORING_FEAT_FAST_POLL | IORING_FEAT_EXT_ARG;
    struct io_uring_probe *probe =
        (p.features & need) == need ? io_uring_get_probe_ring(ring) : NULL;
    bool ok = probe != NULL && io_uring_opcode_supported(probe, IORING_OP_SEND_ZC);
    io_uring_free_probe(probe);
    if (!ok) {
        io_uring_queue_exit(ring);
        return -ENOTSUP;
    }
    *ret_features = p.features;
    return 0;
}

int cio__uring_probe(void)
{
    struct io_uring ring;
    unsigned features;
    int rc = ring_init(&ring, 2, 4, &features);
    if (rc == 0)
        io_uring_queue_exit(&ring);
    return rc;
}

/* sq_lock held: what was prepared went in (the quiet sends among it too). */
static inline void submitted(struct cio__sys *sys)
{
    sys->gen++;
    sys->quiet = 0;
}

/* sq_lock held: submit what is prepared, without waiting. */
static int submit(struct cio__sys *sys)
{
    submitted(sys);
    return io_uring_submit(&sys->ring);
}

/* sqe_get() when the queue is full: submit what is queued and look again. */
static cio__noinline struct io_uring_sqe *sqe_get_full(struct cio__sys *sys)
{
    struct io_uring_sqe *sqe = NULL;
    for (int i = 0; sqe == NULL && i < 4; i++) {
        int rc = submit(sys);
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY)
            return NULL;
        sqe = io_uring_get_sqe(&sys->ring);
    }
    return sqe;
}

/* A free submission entry, submitting what is queued if the queue is full; NULL if even
 * that fails (the caller keeps its request for later, or reports -EBUSY). */
static inline struct io_uring_sqe *sqe_get(struct cio__sys *sys)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&sys->ring);
    return cio__likely(sqe != NULL) ? sqe : sqe_get_full(sys);
}

/* A wake-up for the waiter. Async-signal-safe. */
static void kick(struct cio__sys *sys)
{
    cio__sys_eventfd_kick(sys->wakefd);
}

/* The submission queue's lock: held by a waiter through its io_uring_enter, by the waiting
 * thread while it prepares a request, and by another thread only to submit queued changes
 * (poke: it never waits for it). Uncontended it is one exchange. */
static void sq_lock(struct cio__sys *sys)
{
    while (atomic_flag_test_and_set_explicit(&sys->sq_lock, memory_order_acquire))
        sched_yield();
}

static void sq_unlock(struct cio__sys *sys)
{
    atomic_flag_clear_explicit(&sys->sq_lock, memory_order_release);
}

/* ---- registrations ---- */

/* Lock held. */
static void reg_free(struct reg *reg)
{
    reg->prev->next = reg->next;
    reg->next->prev = reg->prev;
    free(reg);
}

/* Lock held: put @reg on the queue for @action. */
static void queue_push(struct cio__sys *sys, struct reg *reg, enum action action)
{
    reg->action = (unsigned char)action;
    reg->queue_next = NULL;
    if (sys->queue_tail != NULL)
        sys->queue_tail->queue_next = reg;
    else
        sys->queue_head = reg;
    sys->queue_tail = reg;
    atomic_fetch_add(&sys->queued, 1);
}

static void drain(struct cio__sys *sys);

/* After a queue_push (unlocked): submit the queue now, or — a waiter holds the submission
 * queue, maybe blocked in the kernel — wake it, and it submits the queue before it waits
 * again. */
static void poke(struct cio__sys *sys)
{
    if (atomic_flag_test_and_set_explicit(&sys->sq_lock, memory_order_acquire)) {
        kick(sys);
        return;
    }
    drain(sys);
    if (io_uring_sq_ready(&sys->ring) > 0)
        (void)submit(sys);
    sq_unlock(sys);
}

/* Lock held: @reg is deregistered (or replaced). */
static void reg_retire(struct cio__sys *sys, struct reg *reg)
{
    sys->table[reg->fd] = NULL;
    atomic_store_explicit(&reg->dead, true, memory_order_release);
    switch (reg->action) {
    case ACT_ADD:
        break; /* the drain frees it */
    case ACT_UPDATE:
        reg->action = ACT_REMOVE; /* still queued */
        break;
    default:
        if (reg->in_kernel)
            queue_push(sys, reg, ACT_REMOVE);
        else
            reg_free(reg);
        break;
    }
}

/* Lock held: make room in the table for @fd. */
static int table_reserve(struct cio__sys *sys, int fd)
{
    if ((size_t)fd < sys->table_cap)
        return 0;
    size_t cap = sys->table_cap ? sys->table_cap : 64;
    while (cap <= (size_t)fd)
        cap *= 2;
    struct reg **table = realloc(sys->table, cap * sizeof(*table));
    if (table == NULL)
        return -ENOMEM;
    memset(table + sys->table_cap, 0, (cap - sys->table_cap) * sizeof(*table));
    sys->table = table;
    sys->table_cap = cap;
    return 0;
}

/* The registration of @fd, or NULL. Lock held. */
static struct reg *table_get(struct cio__sys *sys, int fd)
{
    return (size_t)fd < sys->table_cap ? sys->table[fd] : NULL;
}

/* The file open at @fd now: -EBADF if none; -EPERM for what epoll refuses (a regular file or
 * a directory, which have no poll method: io_uring would call them always ready, once). */
static int file_of(int fd, struct stat *st)
{
    if (fd < 0 || fstat(fd, st) < 0)
        return -EBADF;
    if (S_ISREG(st->st_mode) || S_ISDIR(st->st_mode))
        return -EPERM;
    return 0;
}

static bool same_file(const struct reg *reg, const struct stat *st)
{
    return reg->dev == st->st_dev && reg->ino == st->st_ino;
}

static int sys_add(struct cio__sys *sys, int fd, uint64_t data, unsigned interest)
{
    struct stat st;
    int rc = file_of(fd, &st);
    if (rc < 0)
        return rc;
    struct reg *reg = calloc(1, sizeof(*reg));
    if (reg == NULL)
        return -ENOMEM;
    reg->fd = fd;
    atomic_init(&reg->interest, interest);
    reg->dev = st.st_dev;
    reg->ino = st.st_ino;
    /* Release: the waiter that takes this registration's completions reads the data word with
     * acquire first (the kernel orders the two too; this tells ThreadSanitizer). */
    atomic_store_explicit(&reg->data, data, memory_order_release);
    pthread_mutex_lock(&sys->lock);
    rc = table_reserve(sys, fd);
    struct reg *old = rc == 0 ? table_get(sys, fd) : NULL;
    if (old != NULL && same_file(old, &st)) {
        rc = -EEXIST;
    } else if (rc == 0) {
        /* A stale registration (its file was closed without del, and the number reused)
         * gives way, as epoll would let the new file in. */
        if (old != NULL)
            reg_retire(sys, old);
        sys->table[fd] = reg;
        reg->next = sys->all.next;
        reg->prev = &sys->all;
        reg->next->prev = reg;
        sys->all.next = reg;
        queue_push(sys, reg, ACT_ADD);
    }
    pthread_mutex_unlock(&sys->lock);
    if (rc < 0) {
        free(reg);
        return rc;
    }
    poke(sys);
    return 0;
}

static int sys_mod(struct cio__sys *sys, int fd, uint64_t data, unsigned interest)
{
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        return -EBADF;
    int rc = 0;
    bool queued = false;
    pthread_mutex_lock(&sys->lock);
    struct reg *reg = table_get(sys, fd);
    if (reg != NULL && !same_file(reg, &st)) {
        reg_retire(sys, reg); /* stale: the new file is not registered, as epoll would say */
        queued = true;
        reg = NULL;
    }
    if (reg == NULL) {
        rc = -ENOENT;
    } else {
        atomic_store_explicit(&reg->interest, interest, memory_order_relaxed);
        atomic_store_explicit(&reg->data, data, memory_order_release);
        if (reg->action == ACT_NONE && reg->in_kernel) {
            queue_push(sys, reg, ACT_UPDATE);
            queued = true;
        }
    }
    pthread_mutex_unlock(&sys->lock);
    if (queued)
        poke(sys);
    return rc;
}

static int sys_del(struct cio__sys *sys, int fd)
{
    if (fd < 0)
        return -EBADF;
    pthread_mutex_lock(&sys->lock);
    struct reg *reg = table_get(sys, fd);
    if (reg != NULL)
        reg_retire(sys, reg);
    pthread_mutex_unlock(&sys->lock);
    if (reg != NULL)
        poke(sys);
    /* A closed descriptor is -EBADF even though its registration is gone now, as epoll says. */
    if (fcntl(fd, F_GETFD) < 0 && errno == EBADF)
        return -EBADF;
    return reg != NULL ? 0 : -ENOENT;
}

/* sq_lock held: prepare what the queue holds, and the wake's poll request if it is not armed. */
static void drain(struct cio__sys *sys)
{
    if (!atomic_load_explicit(&sys->wake_armed, memory_order_relaxed)) {
        struct io_uring_sqe *sqe = sqe_get(sys);
        if (sqe != NULL) {
            io_uring_prep_poll_multishot(sqe, sys->wakefd, POLLIN);
            io_uring_sqe_set_data64(sqe, TAG_WAKE);
            atomic_store_explicit(&sys->wake_armed, true, memory_order_relaxed);
        }
    }
    if (atomic_load(&sys->queued) == 0)
        return;
    pthread_mutex_lock(&sys->lock);
    struct reg *reg;
    while ((reg = sys->queue_head) != NULL) {
        bool dead = atomic_load_explicit(&reg->dead, memory_order_relaxed);
        struct io_uring_sqe *sqe = NULL;
        if (!dead || (reg->action == ACT_REMOVE && reg->in_kernel)) {
            sqe = sqe_get(sys);
            if (sqe == NULL)
                break; /* the rest waits for the next wait */
        }
        sys->queue_head = reg->queue_next;
        if (sys->queue_head == NULL)
            sys->queue_tail = NULL;
        atomic_fetch_sub_explicit(&sys->queued, 1, memory_order_relaxed);
        enum action action = reg->action;
        reg->action = ACT_NONE;
        if (sqe == NULL) {
            reg_free(reg); /* dead, and no request of it in the kernel */
            continue;
        }
        uint64_t ud = (uint64_t)(uintptr_t)reg | TAG_POLL;
        if (action == ACT_ADD) {
            io_uring_prep_poll_multishot(
                sqe, reg->fd, to_poll(atomic_load_explicit(&reg->interest, memory_order_relaxed)));
            io_uring_sqe_set_data64(sqe, ud);
            reg->in_kernel = true;
        } else if (action == ACT_UPDATE) {
            prep_poll_update(sqe, ud, atomic_load_explicit(&reg->interest, memory_order_relaxed));
        } else { /* ACT_REMOVE, in the kernel: its final completion frees it */
            io_uring_prep_poll_remove(sqe, ud);
            io_uring_sqe_set_data64(sqe, TAG_IGNORE);
            sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
        }
    }
    pthread_mutex_unlock(&sys->lock);
}

/* Waiter: the last completion of @reg's poll request came (it was removed, updated away, or
 * the kernel ended it — a full completion queue ends multishot requests). */
static void reg_ended(struct cio__sys *sys, struct reg *reg)
{
    pthread_mutex_lock(&sys->lock);
    reg->in_kernel = false;
    if (atomic_load_explicit(&reg->dead, memory_order_relaxed)) {
        if (reg->action == ACT_NONE)
            reg_free(reg); /* else the drain frees it */
    } else if (reg->action == ACT_UPDATE) {
        reg->action = ACT_ADD; /* queued already: re-armed with the latest interest */
    } else if (reg->action == ACT_NONE) {
        queue_push(sys, reg, ACT_ADD); /* this thread drains it at its next wait */
    }
    pthread_mutex_unlock(&sys->lock);
}

/* ---- waiting ---- */

struct batch {
    struct cio__sys_event *out; /* wait(): where events go; NULL: deliver() */
    int capacity;
    int count;
    bool woke; /* a wake was reported in this batch */
};

static void report(struct batch *b, uint64_t data, uint32_t flags)
{
    if (b->out != NULL) {
        b->out[b->count].data = data;
        b->out[b->count].flags = flags;
    } else if (data != CIO__SYS_WAKE_DATA) {
        struct cio__reactor_source *src = (struct cio__reactor_source *)(uintptr_t)data;
        src->on_event(src, flags);
    }
    b->count++;
}

/* Report the pending wake, if there is one. */
static void take_wake(struct cio__sys *sys, struct batch *b)
{
    if (atomic_exchange(&sys->wake_pending, 0) != 0) {
        b->woke = true;
        report(b, CIO__SYS_WAKE_DATA, CIO_EVENT_READABLE);
    }
}

static void cancel(struct cio__sys *sys, uint64_t ud);

static void handle(struct cio__sys *sys, struct batch *b, const struct io_uring_cqe *cqe)
{
    uint64_t ud = cqe->user_data;
    int32_t res = cqe->res;
    uint32_t cflags = cqe->flags;
    if (cio__likely((ud & TAG_MASK) == TAG_OP)) { /* the runtime's requests: most of them */
        struct cio__sys_op *op = (struct cio__sys_op *)(uintptr_t)ud;
        if (cflags & IORING_CQE_F_BUFFER)
            sys->held++;
        op->complete(op, res, cflags);
        if (b->out == NULL)
            b->count++;
        return;
    }
    switch (ud & TAG_MASK) {
    case TAG_POLL: {
        struct reg *reg = (struct reg *)(uintptr_t)(ud & ~TAG_MASK);
        /* Read before reg_ended(), which may free it. */
        uint64_t data = atomic_load_explicit(&reg->data, memory_order_acquire);
        bool dead = atomic_load_explicit(&reg->dead, memory_order_acquire);
        if (!(cflags & IORING_CQE_F_MORE))
            reg_ended(sys, reg);
        if (dead || res <= 0)
            break;
        uint32_t rev = (uint32_t)res;
        unsigned interest = atomic_load_explicit(&reg->interest, memory_order_relaxed);
        if ((rev & POLLPRI) && !cio__uring_priority_now(reg->fd))
            rev &= ~(uint32_t)POLLPRI;
        if (!(interest & (CIO_READABLE | CIO__INTEREST_RDHUP)))
            rev &= ~(uint32_t)(POLLIN | POLLRDNORM | POLLRDHUP);
        uint32_t flags = cio__sys_from_poll(rev);
        if (flags != 0)
            report(b, data, flags);
        break;
    }
    case TAG_POLL_UPDATE:
    case TAG_SOURCE_UPDATE:
        /* An update that failed (a success posts nothing). -ENOENT: the request ended, and
         * its last completion re-arms it with the latest interest (reg_ended) or tells its
         * owner (CIO__SYS_EVENT_ENDED), who asks again. Anything else — -EALREADY: the request
         * was busy in the kernel (a wake-up's task work pending), and keeps its old mask —
         * cancel it, which always works: its end then does the same. */
        if (res != -ENOENT)
            cancel(sys,
                   (ud & ~TAG_MASK) | ((ud & TAG_MASK) == TAG_POLL_UPDATE ? TAG_POLL : TAG_SOURCE));
        break;
    case TAG_SOURCE: {
        /* A poll request of the io layer's (cio__uring_poll_source): events for its source,
         * as a registration's are, the last one marked. */
        uint32_t flags = res > 0 ? cio__sys_from_poll((uint32_t)res) : 0;
        if (!(cflags & IORING_CQE_F_MORE))
            flags |= CIO__SYS_EVENT_ENDED;
        if (flags != 0)
            report(b, ud & ~TAG_MASK, flags);
        break;
    }
    case TAG_WAKE:
        if (!(cflags & IORING_CQE_F_MORE))
            atomic_store_explicit(&sys->wake_armed, false, memory_order_relaxed);
        /* (A wake made after this batch's report stays pending: the next wait reports it
         * before it looks at the ring.) */
        if (!b->woke)
            take_wake(sys, b);
        break;
    default:
        break; /* a cancel's or a removal's failure: nothing to do */
    }
}

/* Take completions until @b is full (wait()) or the queue is empty. Completions not taken stay
 * for the next wait. Only what the queue shows is taken: liburing's peek would enter the
 * kernel once more when it finds the queue empty and the kernel has task work pending (a
 * receive that came meanwhile) — a system call per turn that the turn's own wait makes
 * unnecessary: that work runs, and its completions come, at the next io_uring_enter. */
static void reap(struct cio__sys *sys, struct batch *b)
{
    struct io_uring *ring = &sys->ring;
    unsigned mask = ring->cq.ring_mask;
    unsigned head = *ring->cq.khead;
    while (b->count < b->capacity) {
        unsigned tail = io_uring_smp_load_acquire(ring->cq.ktail);
        if (head == tail)
            break;
        while (head != tail && b->count < b->capacity)
            handle(sys, b, &ring->cq.cqes[head++ & mask]);
        /* Hand the slots back before the next look: a callback may have prepared requests
         * whose completions need room. */
        io_uring_smp_store_release(ring->cq.khead, head);
    }
}

/* Completions the kernel has for us that a plain look at the queue would not show: task work
 * to run (COOP_TASKRUN) or an overflow to flush. */
static bool kernel_has_more(const struct cio__sys *sys)
{
    return IO_URING_READ_ONCE(*sys->ring.sq.kflags) & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW);
}

/* sq_lock held: publish the prepared entries to the kernel (what io_uring_submit() does
 * before it enters); returns how many the kernel has not taken yet. */
static unsigned sq_publish(struct io_uring *ring)
{
    struct io_uring_sq *sq = &ring->sq;
    unsigned tail = sq->sqe_tail;
    if (sq->sqe_head != tail) {
        sq->sqe_head = tail;
        io_uring_smp_store_release(sq->ktail, tail);
    }
    return tail - IO_URING_READ_ONCE(*sq->khead);
}

/*
 * sq_lock held: submit what is prepared and wait for completions, @timeout_ns at most (< 0:
 * no limit), in one io_uring_enter; *@ret_asked gets how many the wait asked for, for
 * batch_adapt() (0: no batch here).
 *
 * The quiet sends among what goes in (cio__uring_send_all) complete at once, most of the time,
 * during the call: ending the wait on their completions alone would cost a second system call
 * to wait for what the turn really waits for. So the wait is for @batch completions more than
 * them, and — in case one of them does not complete at once (its socket is full), or fewer
 * than @batch come — the kernel is told to end it anyway once some time has passed with
 * completions there (its minimum-wait timeout, Linux 6.12): QUIET_WAIT_US for one more,
 * BATCH_WAIT_US for a batch. A busy worker gathers a batch that way: with a hundred echo
 * connections, a turn that would find one or two messages finds a dozen or more, and the one
 * io_uring_enter serves them all. An idle one waits for one completion, which ends its wait at
 * once: a lone request is not held back. Without the feature, a plain wait for one.
 */
static int submit_and_wait(struct cio__sys *sys, int64_t timeout_ns, unsigned *ret_asked)
{
    unsigned quiet = sys->quiet;
    unsigned batch = sys->batch;
    submitted(sys);
    /* (Without the minimum-wait timeout there is no batch to adapt: 0.) */
    *ret_asked = sys->min_timeout ? quiet + batch : 0;
    if ((quiet == 0 && batch <= 1) || !sys->min_timeout) {
        if (timeout_ns < 0)
            return io_uring_submit_and_wait(&sys->ring, 1);
        struct __kernel_timespec ts = {.tv_sec = timeout_ns / CIO_NSEC_PER_SEC,
                                       .tv_nsec = timeout_ns % CIO_NSEC_PER_SEC};
        struct io_uring_cqe *cqe;
        return io_uring_submit_and_wait_timeout(&sys->ring, &cqe, 1, &ts, NULL);
    }
    struct __kernel_timespec ts = {.tv_sec = timeout_ns / CIO_NSEC_PER_SEC,
                                   .tv_nsec = timeout_ns % CIO_NSEC_PER_SEC};
    struct io_uring_getevents_arg arg;
    memset(&arg, 0, sizeof(arg));
    arg.sigmask_sz = _NSIG / 8;
    arg.pad = batch > 1 ? BATCH_WAIT_US : QUIET_WAIT_US; /* min_wait_usec since Linux 6.12 */
    arg.ts = timeout_ns < 0 ? 0 : (uint64_t)(uintptr_t)&ts;
    unsigned n = sq_publish(&sys->ring);
    long rc = syscall(__NR_io_uring_enter, sys->ring.ring_fd, n, quiet + batch,
                      IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg, sizeof(arg));
    return rc < 0 ? -errno : (int)rc;
}

/* After a wait that asked for @wanted completions and found @got: a wait that found more than
 * it asked for (they came faster than the turn took them) asks for twice as many beyond the
 * quiet sends next time, up to BATCH_MAX; one that found fewer (its minimum-wait timer, or its
 * timeout, ended it) asks for half. The batch follows the load, and falls back to one within
 * a few turns when the load goes; a lone connection, which finds what it asked for, stays at
 * one. */
static void batch_adapt(struct cio__sys *sys, unsigned got, unsigned wanted)
{
    if (got > wanted)
        sys->batch = sys->batch * 2 > BATCH_MAX ? BATCH_MAX : sys->batch * 2;
    else if (got < wanted)
        sys->batch = sys->batch / 2 > 1 ? sys->batch / 2 : 1;
}

unsigned cio__uring_batch(const struct cio__sys *sys)
{
    return sys->batch;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * CIO_NSEC_PER_SEC + ts.tv_nsec;
}

/*
 * One wait: prepare the queue, submit and wait in one io_uring_enter (none at all when there
 * is nothing to submit and completions are there already), then take the completions. A wait
 * that ended with nothing to report before its timeout — a poke of the queue, an event of a
 * registration removed meanwhile — waits again for the time left.
 */
static int sys_run(struct cio__sys *sys, struct batch *b, int64_t timeout_ns)
{
    if (atomic_load_explicit(&sys->wake_pending, memory_order_relaxed) != 0) {
        take_wake(sys, b);
        if (b->woke)
            timeout_ns = 0; /* something to report: take what is there, do not sleep */
    }
    int64_t start = timeout_ns > 0 ? now_ns() : 0;
    int64_t deadline = timeout_ns > INT64_MAX - start ? INT64_MAX : start + timeout_ns;
    int rc = 0;
    for (;;) {
        unsigned wanted = 0; /* what a wait asked for (submit_and_wait) */
        sq_lock(sys);
        drain(sys);
        bool ready = io_uring_cq_ready(&sys->ring) > 0;
        unsigned pending = io_uring_sq_ready(&sys->ring);
        if (ready) {
            /* Completions are there already: take them without a system call; what is
             * prepared goes with the next wait (unless the queue fills up). */
            if (pending > SQ_ENTRIES / 4)
                rc = submit(sys);
        } else if (timeout_ns == 0) {
            if (pending > 0 || kernel_has_more(sys)) {
                submitted(sys);
                rc = io_uring_submit_and_get_events(&sys->ring);
            }
        } else {
            /* As in epoll.c, a tiny timeout has passed by the time the kernel would sleep, and
             * the wait returns without sleeping: a loop of them would be a busy loop. For
             * io_uring (Linux 6.18 here) 1 us never slept, 5 us a third of the time, 10 us
             * always: waits are at least MIN_WAIT_NS, never shorter than asked. */
            int64_t left = timeout_ns < 0 ? -1 : deadline - now_ns();
            if (timeout_ns > 0 && left < MIN_WAIT_NS)
                left = MIN_WAIT_NS;
            rc = submit_and_wait(sys, left, &wanted);
        }
        sq_unlock(sys);
        int before = b->count;
        reap(sys, b);
        if (wanted != 0)
            batch_adapt(sys, (unsigned)(b->count - before), wanted);
        if (b->count > 0 || timeout_ns == 0 || rc == -EINTR || rc == -ETIME)
            break;
        if (rc < 0 && rc != -EAGAIN && rc != -EBUSY)
            break;
        if (timeout_ns > 0 && now_ns() >= deadline)
            break;
    }
    if (b->count > 0)
        return b->count;
    return rc == -EINTR ? -EINTR : 0;
}

static int sys_wait(struct cio__sys *sys, struct cio__sys_event *out, int capacity,
                    int64_t timeout_ns)
{
    struct batch b = {.out = out, .capacity = capacity};
    return sys_run(sys, &b, timeout_ns);
}

/* The runtime's wait: completions are handed over as they are read, so the batch is not
 * bounded by the caller's buffer, only by DELIVER_MAX (a turn stays short). */
static int sys_deliver(struct cio__sys *sys, struct cio__sys_event *buf, int capacity,
                       int64_t timeout_ns)
{
    (void)buf;
    (void)capacity;
    struct batch b = {.out = NULL, .capacity = DELIVER_MAX};
    return sys_run(sys, &b, timeout_ns);
}

static void sys_wake(struct cio__sys *sys)
{
    if (atomic_exchange(&sys->wake_pending, 1) == 0)
        kick(sys);
}

static int sys_fd(const struct cio__sys *sys)
{
    return sys->ring.ring_fd;
}

/* ---- creation ---- */

static int sys_create(struct cio__sys **ret)
{
    struct cio__sys *sys = calloc(1, sizeof(*sys));
    if (sys == NULL)
        return -ENOMEM;
    unsigned features;
    int rc = ring_init(&sys->ring, SQ_ENTRIES, CQ_ENTRIES, &features);
    if (rc < 0) {
        free(sys);
        return rc;
    }
    sys->min_timeout = features & IORING_FEAT_MIN_TIMEOUT;
    sys->batch = 1;
    sys->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (sys->wakefd < 0) {
        rc = -errno;
        io_uring_queue_exit(&sys->ring);
        free(sys);
        return rc;
    }
    atomic_flag_clear(&sys->sq_lock);
    pthread_mutex_init(&sys->lock, NULL);
    sys->all.next = sys->all.prev = &sys->all;
    /* The wake's poll request goes in now: a wake before the first wait is seen by
     * cio_poll_fd()'s readers too. */
    poke(sys);
    *ret = sys;
    return 0;
}

void cio__uring_cancel_all(struct cio__sys *sys)
{
    struct io_uring_sync_cancel_reg cancel;
    memset(&cancel, 0, sizeof(cancel));
    cancel.flags = IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL;
    cancel.timeout.tv_sec = -1;
    cancel.timeout.tv_nsec = -1;
    (void)io_uring_register_sync_cancel(&sys->ring, &cancel);
}

static void sys_destroy(struct cio__sys *sys)
{
    /* Cancel every request first and only then let go of the ring and the buffers, so no
     * request of ours is left to write into memory freed below. */
    cio__uring_cancel_all(sys);
    io_uring_queue_exit(&sys->ring);
    if (sys->br != NULL) {
        munmap(sys->br, BUF_COUNT * sizeof(struct io_uring_buf));
        munmap(sys->bufs, (size_t)BUF_COUNT * BUF_SIZE);
    }
    while (sys->all.next != &sys->all)
        reg_free(sys->all.next);
    while (sys->blocks != NULL) {
        void *next = *(void **)sys->blocks;
        free(sys->blocks);
        sys->blocks = next;
    }
    free(sys->table);
    close(sys->wakefd);
    pthread_mutex_destroy(&sys->lock);
    free(sys);
}

const struct cio__sys_ops cio__sys_uring = {
    .name = "uring",
    .backend = CIO_BACKEND_URING,
    .create = sys_create,
    .destroy = sys_destroy,
    .add = sys_add,
    .mod = sys_mod,
    .del = sys_del,
    .wait = sys_wait,
    .deliver = sys_deliver,
    .wake = sys_wake,
    .fd = sys_fd,
};

/* ---- completion requests (uring.h) ---- */

/* The provided-buffer ring, registered on first use. */
static int bufs_setup(struct cio__sys *sys)
{
    if (sys->br != NULL)
        return 0;
    if (sys->bufs_error < 0)
        return sys->bufs_error;
    size_t ring_bytes = BUF_COUNT * sizeof(struct io_uring_buf);
    size_t buf_bytes = (size_t)BUF_COUNT * BUF_SIZE;
    void *br = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    void *bufs = mmap(NULL, buf_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int rc = 0;
    if (br == MAP_FAILED || bufs == MAP_FAILED) {
        rc = -ENOMEM;
    } else {
        struct io_uring_buf_reg reg;
        memset(&reg, 0, sizeof(reg));
        reg.ring_addr = (uint64_t)(uintptr_t)br;
        reg.ring_entries = BUF_COUNT;
        reg.bgid = BUF_GROUP;
        rc = io_uring_register_buf_ring(&sys->ring, &reg, 0);
    }
    if (rc < 0) {
        if (br != MAP_FAILED)
            munmap(br, ring_bytes);
        if (bufs != MAP_FAILED)
            munmap(bufs, buf_bytes);
        sys->bufs_error = rc;
        return rc;
    }
    sys->br = br;
    sys->bufs = bufs;
    io_uring_buf_ring_init(sys->br);
    int mask = io_uring_buf_ring_mask(BUF_COUNT);
    for (unsigned i = 0; i < BUF_COUNT; i++)
        io_uring_buf_ring_add(sys->br, sys->bufs + (size_t)i * BUF_SIZE, BUF_SIZE,
                              (unsigned short)i, mask, (int)i);
    io_uring_buf_ring_advance(sys->br, BUF_COUNT);
    return 0;
}

/* A submission entry for a request, with sq_lock held until op_end(); NULL (unlocked) when
 * the queue is full and cannot be submitted. */
static inline struct io_uring_sqe *op_begin(struct cio__sys *sys)
{
    sq_lock(sys);
    struct io_uring_sqe *sqe = sqe_get(sys);
    if (sqe == NULL)
        sq_unlock(sys);
    return sqe;
}

static inline int op_end(struct cio__sys *sys, struct io_uring_sqe *sqe, void *data)
{
    io_uring_sqe_set_data(sqe, data);
    sq_unlock(sys);
    return 0;
}

int cio__uring_recv_multishot(struct cio__sys *sys, struct cio__sys_op *op, int fd)
{
    int rc = bufs_setup(sys);
    if (rc < 0)
        return rc;
    struct io_uring_sqe *sqe = op_begin(sys);
    if (sqe == NULL)
        return -EBUSY;
    io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BUF_GROUP;
    return op_end(sys, sqe, op);
}

int cio__uring_accept_multishot(struct cio__sys *sys, struct cio__sys_op *op, int fd)
{
    struct io_uring_sqe *sqe = op_begin(sys);
    if (sqe == NULL)
        return -EBUSY;
    io_uring_prep_multishot_accept(sqe, fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    return op_end(sys, sqe, op);
}

int cio__uring_send(struct cio__sys *sys, struct cio__sys_op *op, int fd, const void *buf,
                    size_t len)
{
    struct io_uring_sqe *sqe = op_begin(sys);
    if (sqe == NULL)
        return -EBUSY;
    io_uring_prep_send(sqe, fd, buf, len, MSG_NOSIGNAL);
    return op_end(sys, sqe, op);
}

int cio__uring_send_all(struct cio__sys *sys, struct cio__sys_op *op, int fd, const void *buf,
                        size_t len, unsigned *ret_ticket)
{
    struct io_uring_sqe *sqe = op_begin(sys);
    if (sqe == NULL)
        return -EBUSY;
    io_uring_prep_send(sqe, fd, buf, len, MSG_NOSIGNAL | MSG_WAITALL);
    sys->quiet++;
    *ret_ticket = sys->gen;
    return op_end(sys, sqe, op);
}

void cio__uring_send_wanted(struct cio__sys *sys, unsigned ticket)
{
    sq_lock(sys);
    if (ticket == sys->gen && sys->quiet > 0)
        sys->quiet--; /* not submitted yet: the turn's wait may end on it alone */
    sq_unlock(sys);
}

int cio__uring_sendmsg(struct cio__sys *sys, struct cio__sys_op *op, int fd,
                       const struct msghdr *msg)
{
    struct io_uring_sqe *sqe = op_begin(sys);
    if (sqe == NULL)
        return -EBUSY;
    io_uring_prep_sendmsg(sqe, fd, msg, MSG_NOSIGNAL);
    return op_end(sys, sqe, op);
}

static int cancel_sync(struct cio__sys *sys, uint64_t ud)
{
    struct io_uring_sync_cancel_reg cancel;
    memset(&cancel, 0, sizeof(cancel));
    cancel.addr = ud;
    cancel.fd = -1;
    cancel.timeout.tv_sec = -1;
    cancel.timeout.tv_nsec = -1;
    int rc;
    do
        rc = io_uring_register_sync_cancel(&sys->ring, &cancel);
    while (rc == -EINTR);
    return rc;
}

static void cancel(struct cio__sys *sys, uint64_t ud)
{
    struct io_uring_sqe *sqe = op_begin(sys);
    if (sqe == NULL) {
        (void)cancel_sync(sys, ud);
        return;
    }
    io_uring_prep_cancel64(sqe, ud, 0);
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    (void)op_end(sys, sqe, (void *)(uintptr_t)TAG_IGNORE);
}

void cio__uring_cancel(struct cio__sys *sys, struct cio__sys_op *op)
{
    cancel(sys, (uint64_t)(uintptr_t)op);
}

int cio__uring_cancel_sync(struct cio__sys *sys, struct cio__sys_op *op)
{
    return cancel_sync(sys, (uint64_t)(uintptr_t)op);
}

/* ---- readiness without a registration (uring.h) ---- */

static uint64_t source_data(void *source)
{
    return (uint64_t)(uintptr_t)source | TAG_SOURCE;
}

int cio__uring_poll_source(struct cio__sys *sys, void *source, int fd, unsigned interest)
{
    struct io_uring_sqe *sqe = op_begin(sys);
    if (sqe == NULL)
        return -EBUSY;
    io_uring_prep_poll_multishot(sqe, fd, to_poll(interest));
    return op_end(sys, sqe, (void *)(uintptr_t)source_data(source));
}

int cio__uring_poll_source_update(struct cio__sys *sys, void *source, unsigned interest)
{
    struct io_uring_sqe *sqe = op_begin(sys);
    if (sqe == NULL)
        return -EBUSY;
    prep_poll_update(sqe, source_data(source), interest);
    sq_unlock(sys);
    return 0;
}

void cio__uring_poll_source_remove(struct cio__sys *sys, void *source)
{
    cancel(sys, source_data(source));
}

int cio__uring_poll_source_cancel_sync(struct cio__sys *sys, void *source)
{
    return cancel_sync(sys, source_data(source));
}

void cio__uring_flush(struct cio__sys *sys)
{
    sq_lock(sys);
    if (io_uring_sq_ready(&sys->ring) > 0)
        (void)submit(sys);
    sq_unlock(sys);
}

void cio__uring_flush_any(struct cio__sys *sys)
{
    /* The lock is held by the waiter through its io_uring_enter (which submits first) or by
     * the waiting thread preparing a request for a moment: either way what is prepared goes
     * in soon, and this returns once the kernel has taken it. */
    while (atomic_flag_test_and_set_explicit(&sys->sq_lock, memory_order_acquire)) {
        if (io_uring_sq_ready(&sys->ring) == 0)
            return;
        sched_yield();
    }
    if (io_uring_sq_ready(&sys->ring) > 0)
        (void)submit(sys);
    sq_unlock(sys);
}

void *cio__uring_block_get(struct cio__sys *sys)
{
    void *b = sys->blocks;
    if (b == NULL)
        return malloc(CIO__URING_BLOCK);
    sys->blocks = *(void **)b;
    sys->blocks_free--;
    return b;
}

void cio__uring_block_put(struct cio__sys *sys, void *block)
{
    if (sys->blocks_free >= BLOCKS_KEPT) {
        free(block);
        return;
    }
    *(void **)block = sys->blocks;
    sys->blocks = block;
    sys->blocks_free++;
}

const char *cio__uring_buffer(const struct cio__sys *sys, uint32_t flags)
{
    return sys->bufs + (size_t)(flags >> IORING_CQE_BUFFER_SHIFT) * BUF_SIZE;
}

void cio__uring_buffer_put(struct cio__sys *sys, uint32_t flags)
{
    unsigned short bid = (unsigned short)(flags >> IORING_CQE_BUFFER_SHIFT);
    io_uring_buf_ring_add(sys->br, sys->bufs + (size_t)bid * BUF_SIZE, BUF_SIZE, bid,
                          io_uring_buf_ring_mask(BUF_COUNT), 0);
    io_uring_buf_ring_advance(sys->br, 1);
    sys->held--;
}

bool cio__uring_buffers_spare(const struct cio__sys *sys)
{
    return sys->held <= BUF_COUNT / 2;
}
