/*
 * tcp_async.c: TCP for runtime tasks (tokio's net::tcp) — accept, connect to an address,
 * the suspending stream operations, split halves (borrowed and owned) and copying. The
 * stream operations are the protocol-free ones of stream.c applied to the struct cio__socket
 * every TCP handle starts with; what is TCP's own (accept with the EMFILE defence, the
 * connect handshake, sendfile) runs the non-blocking layer's try_* functions (tcp.c) under
 * the io layer's readiness bookkeeping.
 */
#include <errno.h>

#include "cio/rt.h"
#include "cio/tcp.h"
#include "io/io.h"
#include "io/stream.h"

/* Every TCP handle starts with its struct cio__socket (tcp.c guarantees it). */
#define SOCK(handle) ((struct cio__socket *)(void *)(handle))
/* An owned half's handle is the stream engine's struct cio__owned_half (see stream.h). */
#define HALF(handle) ((struct cio__owned_half *)(void *)(handle))

/* ======================================================================================== */
/* Listener                                                                                 */
/* ======================================================================================== */

/* The non-blocking layer writes the stream and the peer only when it accepts one, so a
 * retried attempt leaves them alone until the one that succeeds. */
struct accept_arg {
    cio_tcp_listener *listener;
    cio_tcp_stream **stream;
    cio_addr *peer;
};

static ssize_t accept_op(void *arg)
{
    const struct accept_arg *a = arg;
    return cio_tcp_listener_try_accept(a->listener, a->stream, a->peer);
}

int cio_tcp_listener_accept(cio_tcp_listener *listener, cio_tcp_stream **ret_stream,
                            cio_addr *ret_peer)
{
    if (listener == NULL || ret_stream == NULL)
        return -EINVAL;
    struct accept_arg a = {listener, ret_stream, ret_peer};
    return (int)cio__stream_do(SOCK(listener), CIO_READABLE, accept_op, &a);
}

int cio_tcp_listener_poll_accept(cio_tcp_listener *listener, cio_tcp_stream **ret_stream,
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

static ssize_t finish_connect_op(void *arg)
{
    return cio_tcp_stream_try_finish_connect(arg);
}

static void close_stream(struct cio__socket *sock)
{
    cio_tcp_stream_close((cio_tcp_stream *)(void *)sock);
}

/* Wait for the handshake of @stream (closed on failure, see cio__stream_finish_connect). */
static int connect_finish(cio_tcp_stream *stream, cio_tcp_stream **ret_stream)
{
    int rc = cio__stream_finish_connect(SOCK(stream), finish_connect_op, stream, close_stream);
    if (rc == 0)
        *ret_stream = stream;
    return rc;
}

int cio_tcp_stream_connect_addr(cio_tcp_stream **ret_stream, const cio_addr *addr)
{
    if (ret_stream == NULL || addr == NULL)
        return -EINVAL;
    if (cio_task_current() == NULL)
        return -EPERM; /* before a socket exists, so nothing needs undoing */
    cio_tcp_stream *stream;
    int rc = cio_tcp_stream_try_connect(&stream, addr);
    if (rc < 0)
        return rc;
    return connect_finish(stream, ret_stream);
}

int cio_tcp_socket_connect(cio_tcp_socket *socket, const cio_addr *addr,
                           cio_tcp_stream **ret_stream)
{
    if (socket == NULL)
        return -EINVAL;
    int rc = 0;
    if (addr == NULL || ret_stream == NULL)
        rc = -EINVAL;
    else if (cio_task_current() == NULL)
        rc = -EPERM;
    if (rc < 0) {
        cio_tcp_socket_close(socket);
        return rc;
    }
    /* With fast open the stream is writable at once and the handshake waits for the first
     * write (see cio_tcp_socket_set_fastopen_connect): waiting here would wait forever. */
    bool fastopen = false;
    if (cio_tcp_socket_fastopen_connect(socket, &fastopen) < 0)
        fastopen = false;
    cio_tcp_stream *stream;
    rc = cio_tcp_socket_try_connect(socket, addr, &stream);
    if (rc < 0) {
        cio_tcp_socket_close(socket);
        return rc;
    }
    if (fastopen) {
        *ret_stream = stream;
        return 0;
    }
    return connect_finish(stream, ret_stream);
}

/* ======================================================================================== */
/* Stream                                                                                   */
/* ======================================================================================== */

ssize_t cio_tcp_stream_read(cio_tcp_stream *stream, void *buf, size_t len)
{
    return cio__stream_read(SOCK(stream), buf, len);
}

int cio_tcp_stream_read_exact(cio_tcp_stream *stream, void *buf, size_t len, size_t *ret_done)
{
    return cio__stream_read_exact(SOCK(stream), buf, len, ret_done);
}

ssize_t cio_tcp_stream_readv(cio_tcp_stream *stream, const struct iovec *iov, int iovcnt)
{
    return cio__stream_readv(SOCK(stream), iov, iovcnt);
}

ssize_t cio_tcp_stream_peek(cio_tcp_stream *stream, void *buf, size_t len)
{
    return cio__stream_peek(SOCK(stream), buf, len);
}

ssize_t cio_tcp_stream_write(cio_tcp_stream *stream, const void *buf, size_t len)
{
    return cio__stream_write(SOCK(stream), buf, len);
}

int cio_tcp_stream_write_all(cio_tcp_stream *stream, const void *buf, size_t len, size_t *ret_done)
{
    return cio__stream_write_all(SOCK(stream), buf, len, ret_done);
}

ssize_t cio_tcp_stream_writev(cio_tcp_stream *stream, const struct iovec *iov, int iovcnt)
{
    return cio__stream_writev(SOCK(stream), iov, iovcnt);
}

int cio_tcp_stream_write_all_v(cio_tcp_stream *stream, const struct iovec *iov, int iovcnt,
                               size_t *ret_done)
{
    return cio__stream_write_all_v(SOCK(stream), iov, iovcnt, ret_done);
}

int cio_tcp_stream_ready(cio_tcp_stream *stream, unsigned interest)
{
    return cio__stream_ready(SOCK(stream), interest);
}

int cio_tcp_stream_readable(cio_tcp_stream *stream)
{
    return cio__stream_ready(SOCK(stream), CIO_READABLE);
}

int cio_tcp_stream_writable(cio_tcp_stream *stream)
{
    return cio__stream_ready(SOCK(stream), CIO_WRITABLE);
}

void cio_tcp_stream_clear_ready(cio_tcp_stream *stream, int ready)
{
    if (stream != NULL)
        cio__stream_clear_ready(SOCK(stream), ready);
}

int cio_tcp_stream_poll_read_ready(cio_tcp_stream *stream, cio_wake_fn wake, void *ctx)
{
    return cio__stream_poll_ready(SOCK(stream), CIO_READABLE, wake, ctx);
}

int cio_tcp_stream_poll_write_ready(cio_tcp_stream *stream, cio_wake_fn wake, void *ctx)
{
    return cio__stream_poll_ready(SOCK(stream), CIO_WRITABLE, wake, ctx);
}

ssize_t cio_tcp_stream_poll_peek(cio_tcp_stream *stream, void *buf, size_t len, cio_wake_fn wake,
                                 void *ctx)
{
    return cio__stream_poll_peek(SOCK(stream), buf, len, wake, ctx);
}

ssize_t cio_tcp_stream_try_io(cio_tcp_stream *stream, unsigned interest, cio_io_fn fn, void *ctx)
{
    return cio__stream_try_io(SOCK(stream), interest, fn, ctx);
}

ssize_t cio_tcp_stream_async_io(cio_tcp_stream *stream, unsigned interest, cio_io_fn fn, void *ctx)
{
    return cio__stream_async_io(SOCK(stream), interest, fn, ctx);
}

struct sendfile_arg {
    cio_tcp_stream *stream;
    int file_fd;
    int64_t *offset;
    size_t count;
};

static ssize_t sendfile_op(void *arg)
{
    const struct sendfile_arg *a = arg;
    return cio_tcp_stream_try_sendfile(a->stream, a->file_fd, a->offset, a->count);
}

ssize_t cio_tcp_stream_sendfile(cio_tcp_stream *stream, int file_fd, int64_t *offset, size_t count)
{
    if (stream == NULL || (offset != NULL && *offset < 0))
        return -EINVAL;
    if (file_fd < 0)
        return -EBADF;
    if (count == 0)
        return 0;
    struct sendfile_arg a = {stream, file_fd, offset, count};
    return cio__stream_do(SOCK(stream), CIO_WRITABLE, sendfile_op, &a);
}

int cio_tcp_stream_copy(cio_tcp_stream *from, cio_tcp_stream *to, uint64_t *ret_bytes)
{
    return cio__stream_copy(SOCK(from), SOCK(to), 0, ret_bytes);
}

int cio_tcp_stream_copy_bidirectional(cio_tcp_stream *a, cio_tcp_stream *b, uint64_t *ret_a_to_b,
                                      uint64_t *ret_b_to_a)
{
    return cio__stream_copy_bidirectional(SOCK(a), SOCK(b), 0, ret_a_to_b, ret_b_to_a);
}

/* ======================================================================================== */
/* Borrowed halves                                                                          */
/* ======================================================================================== */

int cio_tcp_stream_split(cio_tcp_stream *stream, cio_tcp_read_half *ret_rd,
                         cio_tcp_write_half *ret_wr)
{
    if (stream == NULL || ret_rd == NULL || ret_wr == NULL)
        return -EINVAL;
    ret_rd->stream = stream;
    ret_wr->stream = stream;
    return 0;
}

#define RD_SOCK(rd) ((rd) != NULL ? SOCK((rd)->stream) : NULL)
#define WR_SOCK(wr) ((wr) != NULL ? SOCK((wr)->stream) : NULL)

ssize_t cio_tcp_read_half_read(const cio_tcp_read_half *rd, void *buf, size_t len)
{
    return cio__stream_read(RD_SOCK(rd), buf, len);
}

int cio_tcp_read_half_read_exact(const cio_tcp_read_half *rd, void *buf, size_t len,
                                 size_t *ret_done)
{
    return cio__stream_read_exact(RD_SOCK(rd), buf, len, ret_done);
}

ssize_t cio_tcp_read_half_readv(const cio_tcp_read_half *rd, const struct iovec *iov, int iovcnt)
{
    return cio__stream_readv(RD_SOCK(rd), iov, iovcnt);
}

ssize_t cio_tcp_read_half_peek(const cio_tcp_read_half *rd, void *buf, size_t len)
{
    return cio__stream_peek(RD_SOCK(rd), buf, len);
}

int cio_tcp_read_half_readable(const cio_tcp_read_half *rd)
{
    return cio__stream_ready(RD_SOCK(rd), CIO_READABLE);
}

ssize_t cio_tcp_write_half_write(const cio_tcp_write_half *wr, const void *buf, size_t len)
{
    return cio__stream_write(WR_SOCK(wr), buf, len);
}

int cio_tcp_write_half_write_all(const cio_tcp_write_half *wr, const void *buf, size_t len,
                                 size_t *ret_done)
{
    return cio__stream_write_all(WR_SOCK(wr), buf, len, ret_done);
}

ssize_t cio_tcp_write_half_writev(const cio_tcp_write_half *wr, const struct iovec *iov, int iovcnt)
{
    return cio__stream_writev(WR_SOCK(wr), iov, iovcnt);
}

int cio_tcp_write_half_write_all_v(const cio_tcp_write_half *wr, const struct iovec *iov,
                                   int iovcnt, size_t *ret_done)
{
    return cio__stream_write_all_v(WR_SOCK(wr), iov, iovcnt, ret_done);
}

int cio_tcp_write_half_writable(const cio_tcp_write_half *wr)
{
    return cio__stream_ready(WR_SOCK(wr), CIO_WRITABLE);
}

int cio_tcp_write_half_shutdown(const cio_tcp_write_half *wr)
{
    return cio__socket_shutdown(WR_SOCK(wr), CIO_SHUTDOWN_WRITE);
}

/* ======================================================================================== */
/* Owned halves                                                                             */
/* ======================================================================================== */

int cio_tcp_stream_into_split(cio_tcp_stream *stream, cio_tcp_owned_read_half **ret_rd,
                              cio_tcp_owned_write_half **ret_wr)
{
    if (stream == NULL || ret_rd == NULL || ret_wr == NULL)
        return -EINVAL;
    struct cio__owned_half *rd, *wr;
    int rc = cio__owned_split(SOCK(stream), close_stream, &rd, &wr);
    if (rc < 0)
        return rc;
    *ret_rd = (cio_tcp_owned_read_half *)(void *)rd;
    *ret_wr = (cio_tcp_owned_write_half *)(void *)wr;
    return 0;
}

#define OWNED_SOCK(h) cio__owned_sock((const struct cio__owned_half *)(const void *)(h))

ssize_t cio_tcp_owned_read_half_read(cio_tcp_owned_read_half *rd, void *buf, size_t len)
{
    return cio__stream_read(OWNED_SOCK(rd), buf, len);
}

int cio_tcp_owned_read_half_read_exact(cio_tcp_owned_read_half *rd, void *buf, size_t len,
                                       size_t *ret_done)
{
    return cio__stream_read_exact(OWNED_SOCK(rd), buf, len, ret_done);
}

ssize_t cio_tcp_owned_read_half_readv(cio_tcp_owned_read_half *rd, const struct iovec *iov,
                                      int iovcnt)
{
    return cio__stream_readv(OWNED_SOCK(rd), iov, iovcnt);
}

ssize_t cio_tcp_owned_read_half_peek(cio_tcp_owned_read_half *rd, void *buf, size_t len)
{
    return cio__stream_peek(OWNED_SOCK(rd), buf, len);
}

int cio_tcp_owned_read_half_readable(cio_tcp_owned_read_half *rd)
{
    return cio__stream_ready(OWNED_SOCK(rd), CIO_READABLE);
}

cio_tcp_stream *cio_tcp_owned_read_half_stream(const cio_tcp_owned_read_half *rd)
{
    return (cio_tcp_stream *)(void *)OWNED_SOCK(rd);
}

void cio_tcp_owned_read_half_close(cio_tcp_owned_read_half *rd)
{
    cio__owned_half_close(HALF(rd));
}

ssize_t cio_tcp_owned_write_half_write(cio_tcp_owned_write_half *wr, const void *buf, size_t len)
{
    return cio__stream_write(OWNED_SOCK(wr), buf, len);
}

int cio_tcp_owned_write_half_write_all(cio_tcp_owned_write_half *wr, const void *buf, size_t len,
                                       size_t *ret_done)
{
    return cio__stream_write_all(OWNED_SOCK(wr), buf, len, ret_done);
}

ssize_t cio_tcp_owned_write_half_writev(cio_tcp_owned_write_half *wr, const struct iovec *iov,
                                        int iovcnt)
{
    return cio__stream_writev(OWNED_SOCK(wr), iov, iovcnt);
}

int cio_tcp_owned_write_half_write_all_v(cio_tcp_owned_write_half *wr, const struct iovec *iov,
                                         int iovcnt, size_t *ret_done)
{
    return cio__stream_write_all_v(OWNED_SOCK(wr), iov, iovcnt, ret_done);
}

int cio_tcp_owned_write_half_writable(cio_tcp_owned_write_half *wr)
{
    return cio__stream_ready(OWNED_SOCK(wr), CIO_WRITABLE);
}

int cio_tcp_owned_write_half_shutdown(cio_tcp_owned_write_half *wr)
{
    return cio__socket_shutdown(OWNED_SOCK(wr), CIO_SHUTDOWN_WRITE);
}

cio_tcp_stream *cio_tcp_owned_write_half_stream(const cio_tcp_owned_write_half *wr)
{
    return (cio_tcp_stream *)(void *)OWNED_SOCK(wr);
}

void cio_tcp_owned_write_half_forget(cio_tcp_owned_write_half *wr)
{
    if (wr != NULL)
        HALF(wr)->forget = true;
}

void cio_tcp_owned_write_half_close(cio_tcp_owned_write_half *wr)
{
    cio__owned_half_close(HALF(wr));
}

int cio_tcp_owned_read_half_reunite(cio_tcp_owned_read_half *rd, cio_tcp_owned_write_half *wr,
                                    cio_tcp_stream **ret_stream)
{
    if (rd == NULL || wr == NULL || ret_stream == NULL)
        return -EINVAL;
    struct cio__socket *sock = cio__owned_reunite(HALF(rd), HALF(wr));
    if (sock == NULL)
        return -EINVAL;
    *ret_stream = (cio_tcp_stream *)(void *)sock;
    return 0;
}
