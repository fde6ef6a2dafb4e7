/*
 * uring.h: TCP streams and listeners on an io_uring worker (private; io/uring.c) — the
 * completion way of the io layer. A registration made on a worker whose reactor is io_uring
 * (struct cio__io's @ring) reads a TCP stream from a multishot receive into the ring's
 * provided buffers and accepts from a multishot accept; any task on such a worker writes a TCP
 * stream with send/sendmsg requests: a small write of the owner's from a send block of the
 * ring, returning at once, any other one waiting for its completion.
 *
 * What the ring received and no read took yet is the registration's stash: the provided buffer
 * of the last completion (held, not copied) and a heap spill behind it. The stash is the read
 * direction's readiness: a completion that adds to it is an event (io.c's tick rule), a read
 * that empties it clears it. Cancel safety follows: the kernel writes only into the ring's
 * buffers, never into a caller's, so a read that is cancelled or times out simply leaves what
 * came for the next read. A buffered write hands the kernel a copy, so nothing of the caller's
 * is read after it returns; any other write waits for its completion even when cancelled (it
 * asks the kernel to cancel and waits for the answer), so the count it reports is what the
 * kernel took and the caller's buffer is never read after the call returns. A connection the
 * multishot accept took waits in the listener's queue for the next accept.
 *
 * Who touches what: the stash, the queue and @state under the registration's lock (a reader
 * or acceptor may be a task of another worker, or a plain thread's try_*); the ring's requests
 * are made by the owner's thread only, and their completions arrive there (a waited-for write
 * of another worker's task is a request on that task's ring). The buffered send's state is the
 * owner's (another thread's shutdown is posted to it). The buffer held by
 * the stash goes back to the ring on the owner's thread (a reader elsewhere leaves a used-up
 * buffer for the owner's next look).
 *
 * Mixed code: readiness waits (ready, readable, poll_ready) and try_* keep working. Until a
 * read of cio's has armed the receive, the read direction is the socket's own (a poll
 * request), so a try_io with the caller's own recv works; once armed, bytes arrive into the
 * stash, and only cio's reads see them.
 */
#ifndef CIO_IO_URING_H
#define CIO_IO_URING_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "cio/addr.h"

struct cio__io;
struct cio__sys;
struct cio__worker;
struct cio_socket;

#if CIO_HAVE_URING

#include "sys/uring.h"

/* A registration's completion state (struct cio__io's @ring, made when first needed). */
struct cio__io_spill;
struct cio__io_callback;
struct cio__io_fdq;
struct cio__io_outbox;

struct cio__io_ring {
    struct cio__io *io;
    struct cio__sys *sys;  /* the owner's ring; NULL once the runtime went (the stash stays) */
    struct cio__sys_op op; /* the multishot receive (stream) or accept (listener) */
    struct cio__io_callback *callbacks; /* io.c's poll_* callbacks (struct cio__io's @ring) */
    union {
        struct cio__io_spill *spill; /* a stream: bytes after the held buffer */
        struct cio__io_fdq *fdq;     /* a listener: accepted descriptors not handed out */
    };
    /* the rest under the registration's lock */
    uint32_t held; /* the provided buffer the stash holds (its completion flags), or 0 */
    uint32_t held_off, held_len;
    int final;           /* CIO__RING_NO_FINAL, 0 (end of stream) or -errno, after the stash */
    unsigned char state; /* CIO__RING_IDLE, _ARMED, _STOPPING */
    bool listener;       /* accepts (else a stream that reads) */
    bool inflight;       /* @op awaits its last completion: the registration must stay */
    bool no_multishot;   /* the request could not be made: the socket's own readiness */
    /* A stream's writes (owner thread, except where io/uring.c says; __atomic builtins): */
    unsigned char shut_pending;     /* shutdown(2) how + 1, for @sending's completion to make */
    bool shut_write;                /* the write direction was shut down: no more buffering */
    int16_t send_error;             /* a buffered send's failure (-errno): every later write's */
    struct cio__io_outbox *sending; /* a buffered send in flight, or NULL */
};

enum {
    CIO__RING_IDLE,     /* no request in the kernel */
    CIO__RING_ARMED,    /* the multishot request is in the kernel */
    CIO__RING_STOPPING, /* asked to cancel it (flow control, close); its last completion comes */
};
#define CIO__RING_NO_FINAL 1

/* Flags of cio__io_ring_read(). */
enum {
    CIO__RING_PEEK = 1u << 0, /* copy without consuming */
    CIO__RING_ARM = 1u << 1,  /* a suspending read of cio's: it may arm the receive */
};

/* The calling worker's ring, for a registration made now or a write; NULL if it runs none. */
struct cio__sys *cio__io_ring_of_worker(struct cio__worker *w);

/* @io's ring state, made now if it has none (struct cio__io's @ring). Lock held; NULL: out of
 * memory. */
struct cio__io_ring *cio__io_ring_make(struct cio__io *io);

static inline struct cio__io_callback **cio__io_ring_callbacks(struct cio__io_ring *r)
{
    return &r->callbacks;
}

/*
 * cio__io_ring_read() - one read of a TCP stream registered the completion way, as an
 * operation of cio__io_do()/cio__io_try(): bytes from the stash; the end of stream or an error
 * the ring reported (an error is told once); with nothing received through the ring and the
 * receive not armed, the socket's own recv (and, for a read of cio's on the owner that drained
 * it, arming the receive); else -EAGAIN, and the ring's next completion is the event to wait
 * for. A result shorter than @total means the stash (or the socket) is empty.
 */
ssize_t cio__io_ring_read(struct cio_socket *sock, struct cio__io *io, const struct iovec *iov,
                          int iovcnt, size_t total, unsigned flags);

/* The read hot path on the owner (cio__io_fast() passed): bytes from the held buffer when
 * that is all the stash has. Return: the bytes copied (> 0); -EAGAIN: not so simple (the
 * caller goes the general way, cio__io_ring_read()). */
ssize_t cio__io_ring_read_owned(struct cio__io *io, void *buf, size_t len);

/*
 * cio__io_ring_write() - write @iov (@total > 0 bytes) to TCP stream @sock on the calling task's
 * ring @sys. On the owner's ring, bytes that fit a send block (CIO__URING_BLOCK less a header)
 * are copied into one, a send request (MSG_WAITALL) takes them, and the write returns @total at
 * once: the block is the ring's until the completion, as the socket's buffer is the kernel's
 * after send(2). One such send is in flight per stream; a write that finds one waits for its
 * completion first (so bytes go out in order), and a send that failed fails every later write
 * (its error; a send cut short: -EPIPE): the stream lost bytes a write reported as taken. Larger
 * writes, and writes from another worker, are a request on the caller's own buffer that the task
 * waits for; a cancellation, deadline or close meanwhile cancels the request and still waits for
 * it. The caller has spent the budget. Return: the bytes taken (> 0, perhaps fewer than @total);
 * -ECANCELED, -ETIMEDOUT, -EBADF if it was cut before any byte went; the send's error (or an
 * earlier buffered send's); -EBUSY when no request could be made (the caller writes the readiness
 * way).
 */
ssize_t cio__io_ring_write(struct cio_socket *sock, struct cio__sys *sys, const struct iovec *iov,
                           int iovcnt, size_t total);

/* The write-all hot path on the owner (cio__io_fast() passed, the budget spent): one buffer
 * that fits a send block, nothing in flight, nothing failed — buffered as cio__io_ring_write()
 * does. Return: @len; -EBUSY: not taken (the caller goes the general way). */
ssize_t cio__io_ring_send_owned(struct cio__io *io, const void *buf, size_t len);

/*
 * cio__io_ring_shutdown() - shut the write direction of @sock down (@how SHUT_WR or SHUT_RDWR)
 * only after the buffered send in flight, if any: a task of the owner waits for it; from
 * elsewhere (or cancelled) the shutdown is left to the send's completion. Return: 1 (done or
 * left to the completion: *@rc has the result), 0 (the caller shuts it down itself).
 */
int cio__io_ring_shutdown(struct cio_socket *sock, int how, int *rc);

/*
 * cio__io_ring_accept() - the accept operation of a listener registered the completion way: a
 * connection from the queue, else accept4 (the EMFILE defence included); on -EAGAIN, with
 * @arm (a suspending accept on the owner), the multishot accept is armed. *ret_fd gets the
 * descriptor. Return: 0; -EAGAIN; accept's errors.
 */
int cio__io_ring_accept(struct cio_socket *sock, struct cio__io *io, int *reserve, bool arm,
                        int *ret_fd, cio_addr *ret_peer);

/* Whether the read direction's readiness comes from the ring (a poll request is not needed
 * for it). Registration lock held. */
bool cio__io_ring_reads(struct cio__io *io);

/* Whether a registration of @sock made on an io_uring worker goes the completion way (then
 * io.c makes it with on_event_ring and cio__io_ring_init()). */
bool cio__io_ring_wanted(const struct cio_socket *sock);

/* io.c's hooks: a new registration of the completion way on @sys's worker; the socket let go
 * (any thread; registration lock held — returns what must be cancelled with
 * cio__io_ring_cancel() once the lock is dropped, 0 if nothing); the registration is freed
 * (owner thread); the runtime goes (no thread runs the worker any more). The registration is
 * one of the completion way (io->completion) for each. */
int cio__io_ring_init(struct cio__io *io, struct cio__sys *sys, const struct cio_socket *sock);
unsigned cio__io_ring_detach(struct cio__io *io);
void cio__io_ring_cancel(struct cio__io *io, unsigned what);

/*
 * Readiness of the completion way: a registration asks the backend for nothing; a wait that
 * needs a direction the ring does not give has the owner make a poll request of its own
 * (cio__uring_poll_source: no memory kept for it anywhere but @ring_poll's bits).
 * cio__io_ring_poll_sync() — owner thread, lock held — makes, changes or removes it to match
 * @armed. Its events come to io.c's on_event_ring(): cio__io_ring_poll_event() gives the readiness
 * they carry (a priority checked), and cio__io_ring_poll_ended() — owner, unlocked — takes its
 * end (CIO__IO_POLL_ENDED): asked again if still wanted, and the registration freed if it was
 * all that held it.
 */
#define CIO__IO_POLL_ENDED CIO__SYS_EVENT_ENDED
void cio__io_ring_poll_sync(struct cio__io *io);
uint32_t cio__io_ring_poll_event(struct cio__io *io, uint32_t flags);
void cio__io_ring_poll_ended(struct cio__io *io);
void cio__io_ring_release(struct cio__io *io);
void cio__io_ring_orphan(struct cio__io *io);

/* The runtime goes: end every request of @sys (their completions come at the next wait). */
void cio__io_ring_end_all(struct cio__sys *sys);

#else /* !CIO_HAVE_URING: nothing is the completion way; these are never reached */

enum { CIO__RING_PEEK = 1u << 0, CIO__RING_ARM = 1u << 1 };

static inline struct cio__sys *cio__io_ring_of_worker(struct cio__worker *w)
{
    (void)w;
    return NULL;
}

struct cio__io_ring;

static inline struct cio__io_ring *cio__io_ring_make(struct cio__io *io)
{
    (void)io;
    return NULL;
}

static inline struct cio__io_callback **cio__io_ring_callbacks(struct cio__io_ring *r)
{
    (void)r;
    return NULL;
}

static inline ssize_t cio__io_ring_read(struct cio_socket *sock, struct cio__io *io,
                                        const struct iovec *iov, int iovcnt, size_t total,
                                        unsigned flags)
{
    (void)sock, (void)io, (void)iov, (void)iovcnt, (void)total, (void)flags;
    return -ENOTSUP;
}

static inline ssize_t cio__io_ring_write(struct cio_socket *sock, struct cio__sys *sys,
                                         const struct iovec *iov, int iovcnt, size_t total)
{
    (void)sock, (void)sys, (void)iov, (void)iovcnt, (void)total;
    return -EBUSY;
}

static inline int cio__io_ring_accept(struct cio_socket *sock, struct cio__io *io, int *reserve,
                                      bool arm, int *ret_fd, cio_addr *ret_peer)
{
    (void)sock, (void)io, (void)reserve, (void)arm, (void)ret_fd, (void)ret_peer;
    return -ENOTSUP;
}

static inline bool cio__io_ring_reads(struct cio__io *io)
{
    (void)io;
    return false;
}

static inline ssize_t cio__io_ring_read_owned(struct cio__io *io, void *buf, size_t len)
{
    (void)io, (void)buf, (void)len;
    return -EAGAIN;
}

static inline ssize_t cio__io_ring_send_owned(struct cio__io *io, const void *buf, size_t len)
{
    (void)io, (void)buf, (void)len;
    return -EBUSY;
}

static inline int cio__io_ring_shutdown(struct cio_socket *sock, int how, int *rc)
{
    (void)sock, (void)how, (void)rc;
    return 0;
}

static inline unsigned cio__io_ring_detach(struct cio__io *io)
{
    (void)io;
    return 0;
}

static inline void cio__io_ring_cancel(struct cio__io *io, unsigned what)
{
    (void)io, (void)what;
}

#define CIO__IO_POLL_ENDED 0u

static inline void cio__io_ring_poll_sync(struct cio__io *io)
{
    (void)io;
}

static inline uint32_t cio__io_ring_poll_event(struct cio__io *io, uint32_t flags)
{
    (void)io;
    return flags;
}

static inline void cio__io_ring_poll_ended(struct cio__io *io)
{
    (void)io;
}

static inline void cio__io_ring_release(struct cio__io *io)
{
    (void)io;
}

static inline void cio__io_ring_orphan(struct cio__io *io)
{
    (void)io;
}

static inline void cio__io_ring_end_all(struct cio__sys *sys)
{
    (void)sys;
}

#endif /* CIO_HAVE_URING */

#endif /* CIO_IO_URING_H */
