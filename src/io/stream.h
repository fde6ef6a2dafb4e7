/*
 * stream.h: the suspending operations every byte-stream socket shares (private), written once
 * on a struct cio__socket so TCP and Unix streams wrap the same code: read (exact, vectored,
 * peek), write (all, vectored), readiness, the caller's own I/O under cio's bookkeeping, the
 * owned-halves bookkeeping of a split stream, and the copy engine (splice through a pipe on
 * Linux, a buffer otherwise). Nothing here knows a protocol; the public wrappers (tcp_async.c)
 * check their handle and pass the embedded socket.
 *
 * All functions return what cio/tcp.h documents for their public wrappers; the socket must
 * be a SOCK_STREAM socket.
 */
#ifndef CIO_IO_STREAM_H
#define CIO_IO_STREAM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "cio/io.h"
#include "net/socket.h"

/* ---- reading ---- */
ssize_t cio__stream_read(struct cio__socket *sock, void *buf, size_t len);
int cio__stream_read_exact(struct cio__socket *sock, void *buf, size_t len, size_t *ret_done);
ssize_t cio__stream_readv(struct cio__socket *sock, const struct iovec *iov, int iovcnt);
ssize_t cio__stream_peek(struct cio__socket *sock, void *buf, size_t len);

/* ---- writing ---- */
ssize_t cio__stream_write(struct cio__socket *sock, const void *buf, size_t len);
int cio__stream_write_all(struct cio__socket *sock, const void *buf, size_t len, size_t *ret_done);
ssize_t cio__stream_writev(struct cio__socket *sock, const struct iovec *iov, int iovcnt);
int cio__stream_write_all_v(struct cio__socket *sock, const struct iovec *iov, int iovcnt,
                            size_t *ret_done);

/* ---- readiness and the caller's own operations ---- */
int cio__stream_ready(struct cio__socket *sock, unsigned interest);
void cio__stream_clear_ready(struct cio__socket *sock, int ready);
int cio__stream_poll_ready(struct cio__socket *sock, unsigned interest, cio_wake_fn wake,
                           void *ctx);
ssize_t cio__stream_poll_peek(struct cio__socket *sock, void *buf, size_t len, cio_wake_fn wake,
                              void *ctx);
ssize_t cio__stream_try_io(struct cio__socket *sock, unsigned interest, cio_io_fn fn, void *ctx);
ssize_t cio__stream_async_io(struct cio__socket *sock, unsigned interest, cio_io_fn fn, void *ctx);

/*
 * Run a protocol's own non-blocking operation (accept, sendfile, finish-connect...) under the
 * readiness bookkeeping: @op(@arg) is retried after each wait for @interest until it does not
 * return -EAGAIN. @poll: poll_* form instead: never waits; on -EAGAIN arms @wake and returns
 * -EAGAIN (see cio__stream_poll_op).
 */
typedef ssize_t (*cio__stream_op)(void *arg);
ssize_t cio__stream_do(struct cio__socket *sock, unsigned interest, cio__stream_op op, void *arg);
ssize_t cio__stream_poll_op(struct cio__socket *sock, unsigned interest, cio__stream_op op,
                            void *arg, cio_wake_fn wake, void *ctx);

/* ---- copying ---- */

/* Flags of the copy engine. */
enum {
    CIO__COPY_NO_SPLICE = 1u << 0,   /* always copy through a user-space buffer */
    CIO__COPY_NO_SHUTDOWN = 1u << 1, /* leave the destination's write side open at the end */
};

/*
 * cio__stream_copy() - move bytes from @from to @to until @from ends, then shut down @to's
 * write side (unless CIO__COPY_NO_SHUTDOWN). *ret_bytes (may be NULL) receives the bytes
 * delivered to @to, written in every case: on failure it is the progress made.
 */
int cio__stream_copy(struct cio__socket *from, struct cio__socket *to, unsigned flags,
                     uint64_t *ret_bytes);

/*
 * cio__stream_copy_bidirectional() - both directions at once (two helper tasks on the
 * caller's worker, see stream.c); counts written in every case.
 */
int cio__stream_copy_bidirectional(struct cio__socket *a, struct cio__socket *b, unsigned flags,
                                   uint64_t *ret_a_to_b, uint64_t *ret_b_to_a);

/* ---- owned halves of a split stream ---- */

/* What the two owned halves of one stream share: the stream handle and a count of the
 * halves still open. The last half closed closes the stream with @close. */
struct cio__stream_shared {
    atomic_int halves;
    struct cio__socket *sock; /* the first member of the protocol's stream handle */
    void (*close)(struct cio__socket *sock);
};

/* One owned half; the protocol's half types embed it as their first member. */
struct cio__owned_half {
    struct cio__stream_shared *shared;
    bool write;  /* the write half */
    bool forget; /* write half: no shutdown on close */
};

/* Allocate the shared part for @sock and fill in both halves. Return: 0; -ENOMEM. */
int cio__owned_split(struct cio__socket *sock, void (*close)(struct cio__socket *sock),
                     struct cio__owned_half *rd, struct cio__owned_half *wr);

/* Close one half: a write half shuts down writing first (unless forgotten); the last half
 * closes the stream. The half's own memory is the caller's to free afterwards. */
void cio__owned_half_close(struct cio__owned_half *half);

/* Whether @rd and @wr are the two halves of one stream; if so, release the shared part and
 * return the stream's socket (the halves' memory is the caller's to free), else NULL and
 * nothing changes. */
struct cio__socket *cio__owned_reunite(struct cio__owned_half *rd, struct cio__owned_half *wr);

#endif /* CIO_IO_STREAM_H */
