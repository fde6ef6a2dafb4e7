/*
 * unix_async.c: Unix-domain sockets for runtime tasks (tokio's UnixListener, UnixStream and
 * UnixDatagram) — accept, connect with retry on a full backlog, the suspending stream
 * operations, descriptor passing, split halves, copying (to Unix and TCP streams), and the
 * datagram operations. Reading, writing, readiness, the caller's own I/O, halves and copying
 * are the stream engine's (stream.c), applied to the struct cio__socket every Unix handle
 * starts with; the engine's read knows the one Linux quirk of Unix streams (a read stops
 * where a write carried descriptors, with more queued behind). Descriptor passing and the
 * datagram operations run the non-blocking layer's try_* functions (unix.c) under the io
 * layer's readiness bookkeeping, without the short-read rule: a receive with descriptors
 * ends at its write's end, and a datagram socket is not drained by one receive.
 */
#include <errno.h>
#include <sys/socket.h>

#include "cio/rt.h"
#include "cio/unix.h"
#include "io/io.h"
#include "io/stream.h"

/* Every Unix handle starts with its struct cio__socket (unix.c guarantees it); so does a TCP
 * stream (tcp.c). */
#define SOCK(handle) ((struct cio__socket *)(void *)(handle))
/* An owned half's handle is the stream engine's struct cio__owned_half (see stream.h). */
#define HALF(handle) ((struct cio__owned_half *)(void *)(handle))
#define CONNECT_RETRY_FIRST CIO_NSEC_PER_MSEC /* sleep after the first full-backlog -EAGAIN */
#define CONNECT_RETRY_MAX (64 * CIO_NSEC_PER_MSEC)

/* ======================================================================================== */
/* Listener                                                                                 */
/* ======================================================================================== */

/* The non-blocking layer writes the stream and the peer only when it accepts one, so a
 * retried attempt leaves them alone until the one that succeeds. */
struct accept_arg {
    cio_unix_listener *listener;
    cio_unix_stream **stream;
    cio_addr *peer;
};

static ssize_t accept_op(void *arg)
{
    const struct accept_arg *a = arg;
    return cio_unix_listener_try_accept(a->listener, a->stream, a->peer);
}

int cio_unix_listener_accept(cio_unix_listener *listener, cio_unix_stream **ret_stream,
                             cio_addr *ret_peer)
{
    if (listener == NULL || ret_stream == NULL)
        return -EINVAL;
    struct accept_arg a = {listener, ret_stream, ret_peer};
    return (int)cio__stream_do(SOCK(listener), CIO_READABLE, accept_op, &a);
}

int cio_unix_listener_poll_accept(cio_unix_listener *listener, cio_unix_stream **ret_stream,
                                  cio_addr *ret_peer, cio_wake_fn wake, void *ctx)
{
    if (listener == NULL || ret_stream == NULL)
        return -EINVAL;
    struct accept_arg a = {listener, ret_stream, ret_peer};
    return (int)cio__stream_poll_op(SOCK(listener), CIO_READABLE, accept_op, &a, wake, ctx);
}

/* ======================================================================================== */
/* Connect                                                                                  */
/* ======================================================================================== */

/* Whether a background connect (not Linux's way, see cio/unix.h) has finished: connected
 * once the peer is known; still going while there is no peer and no error. */
static ssize_t finish_connect_op(void *arg)
{
    cio_addr peer;
    int rc = cio_unix_stream_peer_addr(arg, &peer);
    if (rc != -ENOTCONN)
        return rc;
    rc = cio_unix_stream_take_error(arg);
    return rc < 0 ? rc : -EAGAIN;
}

static void close_stream(struct cio__socket *sock)
{
    cio_unix_stream_close((cio_unix_stream *)(void *)sock);
}

int cio_unix_stream_connect(cio_unix_stream **ret_stream, const cio_addr *addr)
{
    if (ret_stream == NULL || addr == NULL)
        return -EINVAL;
    if (cio_task_current() == NULL)
        return -EPERM; /* before a socket exists, so nothing needs undoing */
    cio_duration pause = CONNECT_RETRY_FIRST;
    cio_unix_stream *stream;
    for (;;) {
        /* A cancelled task gets -ECANCELED from every suspending call, even one that would
         * not have to wait: make no connection the task could not use. */
        if (cio_task_is_cancelled())
            return -ECANCELED;
        int rc = cio_unix_stream_try_connect(&stream, addr);
        if (rc == 0)
            break;
        if (rc != -EAGAIN)
            return rc;
        /* The backlog is full and Linux will not say when it has room: poll it, backing off,
         * under the task's deadline and cancellation (cio_sleep reports both). */
        if ((rc = cio_sleep(pause)) < 0)
            return rc;
        pause = pause * 2 < CONNECT_RETRY_MAX ? pause * 2 : CONNECT_RETRY_MAX;
    }
    int rc = cio__stream_finish_connect(SOCK(stream), finish_connect_op, stream, close_stream);
    if (rc == 0)
        *ret_stream = stream;
    return rc;
}

/* ======================================================================================== */
/* Descriptor passing on a stream                                                           */
/* ======================================================================================== */

struct fds_arg {
    cio_unix_stream *stream;
    void *buf;
    size_t len;
    int *fds;
    size_t nfds;      /* send: the count; receive: the room */
    size_t *ret_nfds; /* receive: written by the attempt that succeeds */
};

static ssize_t send_fds_op(void *arg)
{
    const struct fds_arg *a = arg;
    return cio_unix_stream_try_send_fds(a->stream, a->buf, a->len, a->fds, a->nfds);
}

static ssize_t recv_fds_op(void *arg)
{
    const struct fds_arg *a = arg;
    return cio_unix_stream_try_recv_fds(a->stream, a->buf, a->len, a->fds, a->nfds, a->ret_nfds);
}

static ssize_t stream_send_fds(cio_unix_stream *stream, const void *buf, size_t len, const int *fds,
                               size_t nfds)
{
    /* Checked before any wait, so a bad call fails at once rather than when writable. */
    if (stream == NULL || (buf == NULL && len > 0) || (fds == NULL && nfds > 0) ||
        nfds > CIO_UNIX_FDS_MAX || (nfds > 0 && len == 0))
        return -EINVAL;
    if (len == 0)
        return 0;
    struct fds_arg a = {stream, (void *)buf, len, (int *)fds, nfds, NULL};
    return cio__stream_do(SOCK(stream), CIO_WRITABLE, send_fds_op, &a);
}

/* No short-read rule: a receive with descriptors ends at their write's end whatever is
 * queued behind it (see the top of this file). */
static ssize_t stream_recv_fds(cio_unix_stream *stream, void *buf, size_t len, int *fds,
                               size_t max_fds, size_t *ret_nfds)
{
    if (stream == NULL || (buf == NULL && len > 0) || (fds == NULL && max_fds > 0) ||
        ret_nfds == NULL)
        return -EINVAL;
    if (len == 0)
        return 0;
    struct fds_arg a = {stream, buf, len, fds, max_fds, ret_nfds};
    return cio__stream_do(SOCK(stream), CIO_READABLE, recv_fds_op, &a);
}

/* ======================================================================================== */
/* Stream                                                                                   */
/* ======================================================================================== */

ssize_t cio_unix_stream_read(cio_unix_stream *stream, void *buf, size_t len)
{
    return cio__stream_read(SOCK(stream), buf, len);
}

int cio_unix_stream_read_exact(cio_unix_stream *stream, void *buf, size_t len, size_t *ret_done)
{
    return cio__stream_read_exact(SOCK(stream), buf, len, ret_done);
}

ssize_t cio_unix_stream_readv(cio_unix_stream *stream, const struct iovec *iov, int iovcnt)
{
    return cio__stream_readv(SOCK(stream), iov, iovcnt);
}

ssize_t cio_unix_stream_peek(cio_unix_stream *stream, void *buf, size_t len)
{
    return cio__stream_peek(SOCK(stream), buf, len);
}

ssize_t cio_unix_stream_write(cio_unix_stream *stream, const void *buf, size_t len)
{
    return cio__stream_write(SOCK(stream), buf, len);
}

int cio_unix_stream_write_all(cio_unix_stream *stream, const void *buf, size_t len,
                              size_t *ret_done)
{
    return cio__stream_write_all(SOCK(stream), buf, len, ret_done);
}

ssize_t cio_unix_stream_writev(cio_unix_stream *stream, const struct iovec *iov, int iovcnt)
{
    return cio__stream_writev(SOCK(stream), iov, iovcnt);
}

int cio_unix_stream_write_all_v(cio_unix_stream *stream, const struct iovec *iov, int iovcnt,
                                size_t *ret_done)
{
    return cio__stream_write_all_v(SOCK(stream), iov, iovcnt, ret_done);
}

ssize_t cio_unix_stream_send_fds(cio_unix_stream *stream, const void *buf, size_t len,
                                 const int *fds, size_t nfds)
{
    return stream_send_fds(stream, buf, len, fds, nfds);
}

ssize_t cio_unix_stream_recv_fds(cio_unix_stream *stream, void *buf, size_t len, int *fds,
                                 size_t max_fds, size_t *ret_nfds)
{
    return stream_recv_fds(stream, buf, len, fds, max_fds, ret_nfds);
}

int cio_unix_stream_ready(cio_unix_stream *stream, unsigned interest)
{
    return cio__stream_ready(SOCK(stream), interest);
}

int cio_unix_stream_readable(cio_unix_stream *stream)
{
    return cio__stream_ready(SOCK(stream), CIO_READABLE);
}

int cio_unix_stream_writable(cio_unix_stream *stream)
{
    return cio__stream_ready(SOCK(stream), CIO_WRITABLE);
}

void cio_unix_stream_clear_ready(cio_unix_stream *stream, int ready)
{
    if (stream != NULL)
        cio__stream_clear_ready(SOCK(stream), ready);
}

int cio_unix_stream_poll_read_ready(cio_unix_stream *stream, cio_wake_fn wake, void *ctx)
{
    return cio__stream_poll_ready(SOCK(stream), CIO_READABLE, wake, ctx);
}

int cio_unix_stream_poll_write_ready(cio_unix_stream *stream, cio_wake_fn wake, void *ctx)
{
    return cio__stream_poll_ready(SOCK(stream), CIO_WRITABLE, wake, ctx);
}

ssize_t cio_unix_stream_poll_peek(cio_unix_stream *stream, void *buf, size_t len, cio_wake_fn wake,
                                  void *ctx)
{
    return cio__stream_poll_peek(SOCK(stream), buf, len, wake, ctx);
}

ssize_t cio_unix_stream_try_io(cio_unix_stream *stream, unsigned interest, cio_io_fn fn, void *ctx)
{
    return cio__stream_try_io(SOCK(stream), interest, fn, ctx);
}

ssize_t cio_unix_stream_async_io(cio_unix_stream *stream, unsigned interest, cio_io_fn fn,
                                 void *ctx)
{
    return cio__stream_async_io(SOCK(stream), interest, fn, ctx);
}

/* ---- copying ---- */

int cio_unix_stream_copy(cio_unix_stream *from, cio_unix_stream *to, uint64_t *ret_bytes)
{
    return cio__stream_copy(SOCK(from), SOCK(to), 0, ret_bytes);
}

int cio_unix_stream_copy_to_tcp(cio_unix_stream *from, struct cio_tcp_stream *to,
                                uint64_t *ret_bytes)
{
    return cio__stream_copy(SOCK(from), SOCK(to), 0, ret_bytes);
}

int cio_unix_stream_copy_from_tcp(struct cio_tcp_stream *from, cio_unix_stream *to,
                                  uint64_t *ret_bytes)
{
    return cio__stream_copy(SOCK(from), SOCK(to), 0, ret_bytes);
}

int cio_unix_stream_copy_bidirectional(cio_unix_stream *a, cio_unix_stream *b, uint64_t *ret_a_to_b,
                                       uint64_t *ret_b_to_a)
{
    return cio__stream_copy_bidirectional(SOCK(a), SOCK(b), 0, ret_a_to_b, ret_b_to_a);
}

int cio_unix_stream_copy_bidirectional_tcp(cio_unix_stream *a, struct cio_tcp_stream *b,
                                           uint64_t *ret_a_to_b, uint64_t *ret_b_to_a)
{
    return cio__stream_copy_bidirectional(SOCK(a), SOCK(b), 0, ret_a_to_b, ret_b_to_a);
}

/* ======================================================================================== */
/* Borrowed halves                                                                          */
/* ======================================================================================== */

int cio_unix_stream_split(cio_unix_stream *stream, cio_unix_read_half *ret_rd,
                          cio_unix_write_half *ret_wr)
{
    if (stream == NULL || ret_rd == NULL || ret_wr == NULL)
        return -EINVAL;
    ret_rd->stream = stream;
    ret_wr->stream = stream;
    return 0;
}

#define RD_STREAM(rd) ((rd) != NULL ? (rd)->stream : NULL)
#define WR_STREAM(wr) ((wr) != NULL ? (wr)->stream : NULL)

ssize_t cio_unix_read_half_read(const cio_unix_read_half *rd, void *buf, size_t len)
{
    return cio__stream_read(SOCK(RD_STREAM(rd)), buf, len);
}

int cio_unix_read_half_read_exact(const cio_unix_read_half *rd, void *buf, size_t len,
                                  size_t *ret_done)
{
    return cio__stream_read_exact(SOCK(RD_STREAM(rd)), buf, len, ret_done);
}

ssize_t cio_unix_read_half_readv(const cio_unix_read_half *rd, const struct iovec *iov, int iovcnt)
{
    return cio__stream_readv(SOCK(RD_STREAM(rd)), iov, iovcnt);
}

ssize_t cio_unix_read_half_peek(const cio_unix_read_half *rd, void *buf, size_t len)
{
    return cio__stream_peek(SOCK(RD_STREAM(rd)), buf, len);
}

ssize_t cio_unix_read_half_recv_fds(const cio_unix_read_half *rd, void *buf, size_t len, int *fds,
                                    size_t max_fds, size_t *ret_nfds)
{
    return stream_recv_fds(RD_STREAM(rd), buf, len, fds, max_fds, ret_nfds);
}

int cio_unix_read_half_readable(const cio_unix_read_half *rd)
{
    return cio__stream_ready(SOCK(RD_STREAM(rd)), CIO_READABLE);
}

ssize_t cio_unix_write_half_write(const cio_unix_write_half *wr, const void *buf, size_t len)
{
    return cio__stream_write(SOCK(WR_STREAM(wr)), buf, len);
}

int cio_unix_write_half_write_all(const cio_unix_write_half *wr, const void *buf, size_t len,
                                  size_t *ret_done)
{
    return cio__stream_write_all(SOCK(WR_STREAM(wr)), buf, len, ret_done);
}

ssize_t cio_unix_write_half_writev(const cio_unix_write_half *wr, const struct iovec *iov,
                                   int iovcnt)
{
    return cio__stream_writev(SOCK(WR_STREAM(wr)), iov, iovcnt);
}

int cio_unix_write_half_write_all_v(const cio_unix_write_half *wr, const struct iovec *iov,
                                    int iovcnt, size_t *ret_done)
{
    return cio__stream_write_all_v(SOCK(WR_STREAM(wr)), iov, iovcnt, ret_done);
}

ssize_t cio_unix_write_half_send_fds(const cio_unix_write_half *wr, const void *buf, size_t len,
                                     const int *fds, size_t nfds)
{
    return stream_send_fds(WR_STREAM(wr), buf, len, fds, nfds);
}

int cio_unix_write_half_writable(const cio_unix_write_half *wr)
{
    return cio__stream_ready(SOCK(WR_STREAM(wr)), CIO_WRITABLE);
}

int cio_unix_write_half_shutdown(const cio_unix_write_half *wr)
{
    return cio_unix_stream_shutdown(WR_STREAM(wr), CIO_SHUTDOWN_WRITE);
}

/* ======================================================================================== */
/* Owned halves                                                                             */
/* ======================================================================================== */

int cio_unix_stream_into_split(cio_unix_stream *stream, cio_unix_owned_read_half **ret_rd,
                               cio_unix_owned_write_half **ret_wr)
{
    if (stream == NULL || ret_rd == NULL || ret_wr == NULL)
        return -EINVAL;
    struct cio__owned_half *rd, *wr;
    int rc = cio__owned_split(SOCK(stream), close_stream, &rd, &wr);
    if (rc < 0)
        return rc;
    *ret_rd = (cio_unix_owned_read_half *)(void *)rd;
    *ret_wr = (cio_unix_owned_write_half *)(void *)wr;
    return 0;
}

#define OWNED_STREAM(h)                                                                            \
    ((cio_unix_stream *)(void *)cio__owned_sock((const struct cio__owned_half *)(const void *)(h)))

ssize_t cio_unix_owned_read_half_read(cio_unix_owned_read_half *rd, void *buf, size_t len)
{
    return cio__stream_read(SOCK(OWNED_STREAM(rd)), buf, len);
}

int cio_unix_owned_read_half_read_exact(cio_unix_owned_read_half *rd, void *buf, size_t len,
                                        size_t *ret_done)
{
    return cio__stream_read_exact(SOCK(OWNED_STREAM(rd)), buf, len, ret_done);
}

ssize_t cio_unix_owned_read_half_readv(cio_unix_owned_read_half *rd, const struct iovec *iov,
                                       int iovcnt)
{
    return cio__stream_readv(SOCK(OWNED_STREAM(rd)), iov, iovcnt);
}

ssize_t cio_unix_owned_read_half_peek(cio_unix_owned_read_half *rd, void *buf, size_t len)
{
    return cio__stream_peek(SOCK(OWNED_STREAM(rd)), buf, len);
}

ssize_t cio_unix_owned_read_half_recv_fds(cio_unix_owned_read_half *rd, void *buf, size_t len,
                                          int *fds, size_t max_fds, size_t *ret_nfds)
{
    return stream_recv_fds(OWNED_STREAM(rd), buf, len, fds, max_fds, ret_nfds);
}

int cio_unix_owned_read_half_readable(cio_unix_owned_read_half *rd)
{
    return cio__stream_ready(SOCK(OWNED_STREAM(rd)), CIO_READABLE);
}

cio_unix_stream *cio_unix_owned_read_half_stream(const cio_unix_owned_read_half *rd)
{
    return OWNED_STREAM(rd);
}

void cio_unix_owned_read_half_close(cio_unix_owned_read_half *rd)
{
    cio__owned_half_close(HALF(rd));
}

ssize_t cio_unix_owned_write_half_write(cio_unix_owned_write_half *wr, const void *buf, size_t len)
{
    return cio__stream_write(SOCK(OWNED_STREAM(wr)), buf, len);
}

int cio_unix_owned_write_half_write_all(cio_unix_owned_write_half *wr, const void *buf, size_t len,
                                        size_t *ret_done)
{
    return cio__stream_write_all(SOCK(OWNED_STREAM(wr)), buf, len, ret_done);
}

ssize_t cio_unix_owned_write_half_writev(cio_unix_owned_write_half *wr, const struct iovec *iov,
                                         int iovcnt)
{
    return cio__stream_writev(SOCK(OWNED_STREAM(wr)), iov, iovcnt);
}

int cio_unix_owned_write_half_write_all_v(cio_unix_owned_write_half *wr, const struct iovec *iov,
                                          int iovcnt, size_t *ret_done)
{
    return cio__stream_write_all_v(SOCK(OWNED_STREAM(wr)), iov, iovcnt, ret_done);
}

ssize_t cio_unix_owned_write_half_send_fds(cio_unix_owned_write_half *wr, const void *buf,
                                           size_t len, const int *fds, size_t nfds)
{
    return stream_send_fds(OWNED_STREAM(wr), buf, len, fds, nfds);
}

int cio_unix_owned_write_half_writable(cio_unix_owned_write_half *wr)
{
    return cio__stream_ready(SOCK(OWNED_STREAM(wr)), CIO_WRITABLE);
}

int cio_unix_owned_write_half_shutdown(cio_unix_owned_write_half *wr)
{
    return cio_unix_stream_shutdown(OWNED_STREAM(wr), CIO_SHUTDOWN_WRITE);
}

cio_unix_stream *cio_unix_owned_write_half_stream(const cio_unix_owned_write_half *wr)
{
    return OWNED_STREAM(wr);
}

void cio_unix_owned_write_half_forget(cio_unix_owned_write_half *wr)
{
    if (wr != NULL)
        HALF(wr)->forget = true;
}

void cio_unix_owned_write_half_close(cio_unix_owned_write_half *wr)
{
    cio__owned_half_close(HALF(wr));
}

int cio_unix_owned_read_half_reunite(cio_unix_owned_read_half *rd, cio_unix_owned_write_half *wr,
                                     cio_unix_stream **ret_stream)
{
    if (rd == NULL || wr == NULL || ret_stream == NULL)
        return -EINVAL;
    struct cio__socket *sock = cio__owned_reunite(HALF(rd), HALF(wr));
    if (sock == NULL)
        return -EINVAL;
    *ret_stream = (cio_unix_stream *)(void *)sock;
    return 0;
}

/* ======================================================================================== */
/* Datagram                                                                                 */
/* ======================================================================================== */

/*
 * One datagram operation: the non-blocking layer's call with its arguments. Every receive
 * and send goes through cio__io_do() with no short-read length. The non-blocking layer
 * writes the sender and the descriptor count only when it succeeds, so the caller's output
 * parameters are handed to it as they are: the attempts that say -EAGAIN leave them alone.
 */
enum dgram_kind {
    DGRAM_SEND,
    DGRAM_RECV,
    DGRAM_PEEK,
    DGRAM_PEEK_SENDER,
    DGRAM_SEND_FDS,
    DGRAM_RECV_FDS,
};

struct dgram_op {
    enum dgram_kind kind;
    cio_unix_datagram *socket;
    void *buf;
    size_t len;
    const cio_addr *to; /* send: NULL for the connected peer */
    cio_addr *from;     /* receive: where the sender goes, or NULL */
    int *fds;
    size_t nfds;      /* send: the count; receive: the room */
    size_t *ret_nfds; /* receive: descriptors that arrived */
};

static ssize_t dgram_run(void *arg)
{
    const struct dgram_op *d = arg;
    switch (d->kind) {
    case DGRAM_SEND:
        return d->to != NULL ? cio_unix_datagram_try_send_to(d->socket, d->buf, d->len, d->to)
                             : cio_unix_datagram_try_send(d->socket, d->buf, d->len);
    case DGRAM_RECV:
        return cio_unix_datagram_try_recv_from(d->socket, d->buf, d->len, d->from);
    case DGRAM_PEEK:
        return cio_unix_datagram_try_peek_from(d->socket, d->buf, d->len, d->from);
    case DGRAM_PEEK_SENDER:
        return cio_unix_datagram_try_peek_sender(d->socket, d->from);
    case DGRAM_SEND_FDS:
        return cio_unix_datagram_try_send_fds(d->socket, d->buf, d->len, d->fds, d->nfds, d->to);
    case DGRAM_RECV_FDS:
        return cio_unix_datagram_try_recv_fds(d->socket, d->buf, d->len, d->fds, d->nfds,
                                              d->ret_nfds, d->from);
    }
    return -EINVAL;
}

static unsigned dgram_interest(enum dgram_kind kind)
{
    return kind == DGRAM_SEND || kind == DGRAM_SEND_FDS ? CIO_WRITABLE : CIO_READABLE;
}

/* The checks of the try_* calls that a wait would otherwise delay until the socket is ready:
 * a bad call fails at once. */
static int dgram_check(const struct dgram_op *d)
{
    if (d->socket == NULL || (d->buf == NULL && d->len > 0))
        return -EINVAL;
    if (d->kind == DGRAM_SEND_FDS || d->kind == DGRAM_RECV_FDS) {
        if ((d->fds == NULL && d->nfds > 0) ||
            (d->kind == DGRAM_SEND_FDS && d->nfds > CIO_UNIX_FDS_MAX))
            return -EINVAL;
    }
    if (d->to != NULL) {
        switch (cio_addr_get_kind(d->to)) {
        case CIO_ADDR_UNIX:
        case CIO_ADDR_ABSTRACT:
            break;
        case CIO_ADDR_NONE:
        case CIO_ADDR_UNNAMED:
            return -EINVAL;
        default:
            return -EAFNOSUPPORT;
        }
    }
    return 0;
}

static ssize_t dgram_do(struct dgram_op *d)
{
    int rc = dgram_check(d);
    if (rc < 0)
        return rc;
    return cio__stream_do(SOCK(d->socket), dgram_interest(d->kind), dgram_run, d);
}

static ssize_t dgram_poll(struct dgram_op *d, cio_wake_fn wake, void *ctx)
{
    int rc = dgram_check(d);
    if (rc < 0)
        return rc;
    return cio__stream_poll_op(SOCK(d->socket), dgram_interest(d->kind), dgram_run, d, wake, ctx);
}

static ssize_t dgram_recv_kind(enum dgram_kind kind, cio_unix_datagram *socket, void *buf,
                               size_t len, cio_addr *ret_from)
{
    struct dgram_op d = {.kind = kind, .socket = socket, .buf = buf, .len = len, .from = ret_from};
    return dgram_do(&d);
}

ssize_t cio_unix_datagram_send(cio_unix_datagram *socket, const void *buf, size_t len)
{
    struct dgram_op d = {.kind = DGRAM_SEND, .socket = socket, .buf = (void *)buf, .len = len};
    return dgram_do(&d);
}

ssize_t cio_unix_datagram_send_to(cio_unix_datagram *socket, const void *buf, size_t len,
                                  const cio_addr *addr)
{
    if (addr == NULL)
        return -EINVAL;
    struct dgram_op d = {
        .kind = DGRAM_SEND, .socket = socket, .buf = (void *)buf, .len = len, .to = addr};
    return dgram_do(&d);
}

ssize_t cio_unix_datagram_recv(cio_unix_datagram *socket, void *buf, size_t len)
{
    return dgram_recv_kind(DGRAM_RECV, socket, buf, len, NULL);
}

ssize_t cio_unix_datagram_recv_from(cio_unix_datagram *socket, void *buf, size_t len,
                                    cio_addr *ret_from)
{
    return dgram_recv_kind(DGRAM_RECV, socket, buf, len, ret_from);
}

ssize_t cio_unix_datagram_peek(cio_unix_datagram *socket, void *buf, size_t len)
{
    return dgram_recv_kind(DGRAM_PEEK, socket, buf, len, NULL);
}

ssize_t cio_unix_datagram_peek_from(cio_unix_datagram *socket, void *buf, size_t len,
                                    cio_addr *ret_from)
{
    return dgram_recv_kind(DGRAM_PEEK, socket, buf, len, ret_from);
}

ssize_t cio_unix_datagram_peek_sender(cio_unix_datagram *socket, cio_addr *ret_from)
{
    return dgram_recv_kind(DGRAM_PEEK_SENDER, socket, NULL, 0, ret_from);
}

ssize_t cio_unix_datagram_send_fds(cio_unix_datagram *socket, const void *buf, size_t len,
                                   const int *fds, size_t nfds, const cio_addr *addr)
{
    struct dgram_op d = {.kind = DGRAM_SEND_FDS,
                         .socket = socket,
                         .buf = (void *)buf,
                         .len = len,
                         .to = addr,
                         .fds = (int *)fds,
                         .nfds = nfds};
    return dgram_do(&d);
}

ssize_t cio_unix_datagram_recv_fds(cio_unix_datagram *socket, void *buf, size_t len, int *fds,
                                   size_t max_fds, size_t *ret_nfds, cio_addr *ret_from)
{
    if (ret_nfds == NULL)
        return -EINVAL;
    struct dgram_op d = {.kind = DGRAM_RECV_FDS,
                         .socket = socket,
                         .buf = buf,
                         .len = len,
                         .from = ret_from,
                         .fds = fds,
                         .nfds = max_fds,
                         .ret_nfds = ret_nfds};
    return dgram_do(&d);
}

int cio_unix_datagram_ready(cio_unix_datagram *socket, unsigned interest)
{
    return cio__stream_ready(SOCK(socket), interest);
}

int cio_unix_datagram_readable(cio_unix_datagram *socket)
{
    return cio__stream_ready(SOCK(socket), CIO_READABLE);
}

int cio_unix_datagram_writable(cio_unix_datagram *socket)
{
    return cio__stream_ready(SOCK(socket), CIO_WRITABLE);
}

void cio_unix_datagram_clear_ready(cio_unix_datagram *socket, int ready)
{
    if (socket != NULL)
        cio__stream_clear_ready(SOCK(socket), ready);
}

int cio_unix_datagram_poll_recv_ready(cio_unix_datagram *socket, cio_wake_fn wake, void *ctx)
{
    return cio__stream_poll_ready(SOCK(socket), CIO_READABLE, wake, ctx);
}

int cio_unix_datagram_poll_send_ready(cio_unix_datagram *socket, cio_wake_fn wake, void *ctx)
{
    return cio__stream_poll_ready(SOCK(socket), CIO_WRITABLE, wake, ctx);
}

ssize_t cio_unix_datagram_poll_recv_from(cio_unix_datagram *socket, void *buf, size_t len,
                                         cio_addr *ret_from, cio_wake_fn wake, void *ctx)
{
    struct dgram_op d = {
        .kind = DGRAM_RECV, .socket = socket, .buf = buf, .len = len, .from = ret_from};
    return dgram_poll(&d, wake, ctx);
}

ssize_t cio_unix_datagram_poll_send_to(cio_unix_datagram *socket, const void *buf, size_t len,
                                       const cio_addr *addr, cio_wake_fn wake, void *ctx)
{
    struct dgram_op d = {
        .kind = DGRAM_SEND, .socket = socket, .buf = (void *)buf, .len = len, .to = addr};
    return dgram_poll(&d, wake, ctx);
}

ssize_t cio_unix_datagram_try_io(cio_unix_datagram *socket, unsigned interest, cio_io_fn fn,
                                 void *ctx)
{
    return cio__stream_try_io(SOCK(socket), interest, fn, ctx);
}

ssize_t cio_unix_datagram_async_io(cio_unix_datagram *socket, unsigned interest, cio_io_fn fn,
                                   void *ctx)
{
    return cio__stream_async_io(SOCK(socket), interest, fn, ctx);
}
