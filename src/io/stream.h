/*
 * stream.h: the suspending operations of the async socket modules (private), written once on
 * a struct cio__socket so that every protocol wraps the same code. Two kinds live here:
 *
 * - Byte-stream operations, for SOCK_STREAM sockets only (TCP and Unix streams): read (exact,
 *   vectored, peek), write (all, vectored), the owned-halves bookkeeping of a split stream,
 *   and the copy engine (splice through a pipe on Linux, a buffer otherwise). Reading knows
 *   Unix streams' quirk (see stream.c); nothing else depends on the protocol.
 * - Protocol-free operations, for any registered socket — stream, listener or datagram (UDP
 *   and Unix datagram sockets use them too): readiness (ready, clear_ready, poll_ready), the
 *   caller's own I/O under cio's bookkeeping (try_io, async_io), and running a protocol's own
 *   non-blocking call under the readiness bookkeeping (do, poll_op). The "stream" in their
 *   names is the module's, not a requirement on the socket.
 *
 * The public wrappers (tcp_async.c, unix_async.c, udp_async.c) check their handle and pass
 * the embedded socket; every function returns what the public wrappers document.
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

/* A protocol's own non-blocking operation (see cio__stream_do); the same type as the
 * caller's own operations (cio_io_fn). */
typedef cio_io_fn cio__stream_op;

/* ==== byte streams (SOCK_STREAM) ==== */

/* ---- reading ---- */
ssize_t cio__stream_read(struct cio__socket *sock, void *buf, size_t len);
int cio__stream_read_exact(struct cio__socket *sock, void *buf, size_t len, size_t *ret_done);
ssize_t cio__stream_readv(struct cio__socket *sock, const struct iovec *iov, int iovcnt);
ssize_t cio__stream_peek(struct cio__socket *sock, void *buf, size_t len);
/* Peek in poll form: never waits; on -EAGAIN arms @wake (see cio__stream_poll_op). */
ssize_t cio__stream_poll_peek(struct cio__socket *sock, void *buf, size_t len, cio_wake_fn wake,
                              void *ctx);

/* ---- writing ---- */
ssize_t cio__stream_write(struct cio__socket *sock, const void *buf, size_t len);
int cio__stream_write_all(struct cio__socket *sock, const void *buf, size_t len, size_t *ret_done);
ssize_t cio__stream_writev(struct cio__socket *sock, const struct iovec *iov, int iovcnt);
int cio__stream_write_all_v(struct cio__socket *sock, const struct iovec *iov, int iovcnt,
                            size_t *ret_done);

/* ---- connecting ---- */

/*
 * Wait for the connect started on @sock to finish: @finish(@arg) says 0 once connected,
 * -EAGAIN while the handshake goes on, or the failure. On any failure (refused, deadline,
 * cancelled) the stream is closed with @close, so no half-open socket is left behind.
 * Return: 0; the failure.
 */
int cio__stream_finish_connect(struct cio__socket *sock, cio__stream_op finish, void *arg,
                               void (*close)(struct cio__socket *sock));

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

/* What the two owned halves of one stream share: the stream's socket and a count of the
 * halves still open. The last half closed closes the stream with @close. */
struct cio__stream_shared {
    atomic_int halves;
    struct cio__socket *sock; /* the first member of the protocol's stream handle */
    void (*close)(struct cio__socket *sock);
};

/* One owned half. A protocol's owned-half handle (cio_tcp_owned_read_half...) is one of these:
 * its pointer is this struct's address, converted; the protocol never defines its own. */
struct cio__owned_half {
    struct cio__stream_shared *shared;
    bool write;  /* the write half */
    bool forget; /* write half: no shutdown on close */
};

/* Allocate both halves of @sock and what they share. Return: 0; -ENOMEM (nothing changed). */
int cio__owned_split(struct cio__socket *sock, void (*close)(struct cio__socket *sock),
                     struct cio__owned_half **ret_rd, struct cio__owned_half **ret_wr);

/* The stream's socket, or NULL for a NULL half. */
static inline struct cio__socket *cio__owned_sock(const struct cio__owned_half *half)
{
    return half != NULL ? half->shared->sock : NULL;
}

/* Close and free one half (NULL: no-op): a write half shuts down writing first (unless
 * forgotten); the last half closes the stream. */
void cio__owned_half_close(struct cio__owned_half *half);

/* Whether @rd and @wr are the two halves of one stream; if so, free both halves and what they
 * share and return the stream's socket, else NULL and nothing changes. */
struct cio__socket *cio__owned_reunite(struct cio__owned_half *rd, struct cio__owned_half *wr);

/* ==== any socket: protocol-free ==== */

/* ---- readiness and the caller's own operations ---- */
int cio__stream_ready(struct cio__socket *sock, unsigned interest);
void cio__stream_clear_ready(struct cio__socket *sock, int ready);
int cio__stream_poll_ready(struct cio__socket *sock, unsigned interest, cio_wake_fn wake,
                           void *ctx);
ssize_t cio__stream_try_io(struct cio__socket *sock, unsigned interest, cio_io_fn fn, void *ctx);
ssize_t cio__stream_async_io(struct cio__socket *sock, unsigned interest, cio_io_fn fn, void *ctx);

/*
 * Run a protocol's own non-blocking operation (accept, sendfile, finish-connect, a datagram
 * send or receive...) under the readiness bookkeeping: cio__stream_do() retries @op(@arg)
 * after each wait for @interest until it does not return -EAGAIN; cio__stream_poll_op() is
 * the poll_* form: it never waits, and on -EAGAIN arms @wake for @interest (CIO_READABLE or
 * CIO_WRITABLE) and returns -EAGAIN.
 */
ssize_t cio__stream_do(struct cio__socket *sock, unsigned interest, cio__stream_op op, void *arg);
ssize_t cio__stream_poll_op(struct cio__socket *sock, unsigned interest, cio__stream_op op,
                            void *arg, cio_wake_fn wake, void *ctx);

#endif /* CIO_IO_STREAM_H */
