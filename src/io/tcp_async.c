/*
 * tcp_async.c: what only TCP does with the io layer (tokio's net::tcp) — accept (try,
 * suspending, poll), connect to an address, sendfile (try and suspending). Each runs the net
 * layer's non-blocking call under the readiness bookkeeping, so a try_* that sees -EAGAIN
 * clears the cached readiness like every core try_*; everything a TCP stream shares with
 * other streams is the stream core's (stream.c).
 */
#include <errno.h>

#include "cio/rt.h"
#include "cio/tcp.h"
#include "io/io.h"
#include "net/kinds.h"

#define SOCK(handle) CIO__SOCK(handle)

/* ======================================================================================== */
/* Listener                                                                                 */
/* ======================================================================================== */

int cio_tcp_listener_try_accept(cio_tcp_listener *listener, cio_tcp_stream **ret_stream,
                                cio_addr *ret_peer)
{
    return cio__io_accept(listener, (void **)ret_stream, ret_peer, CIO__IO_TRY, NULL, NULL);
}

int cio_tcp_listener_accept(cio_tcp_listener *listener, cio_tcp_stream **ret_stream,
                            cio_addr *ret_peer)
{
    return cio__io_accept(listener, (void **)ret_stream, ret_peer, CIO__IO_WAIT, NULL, NULL);
}

int cio_tcp_listener_poll_accept(cio_tcp_listener *listener, cio_tcp_stream **ret_stream,
                                 cio_addr *ret_peer, cio_wake_fn wake, void *ctx)
{
    return cio__io_accept(listener, (void **)ret_stream, ret_peer, CIO__IO_POLL, wake, ctx);
}

/* ======================================================================================== */
/* Connect                                                                                  */
/* ======================================================================================== */

static ssize_t finish_connect_op(void *arg)
{
    return cio_tcp_stream_try_finish_connect(arg);
}

/* Wait for the handshake of @stream (closed on failure, see cio__io_finish_connect). */
static int connect_finish(cio_tcp_stream *stream, cio_tcp_stream **ret_stream)
{
    int rc = cio__io_finish_connect(SOCK(stream), finish_connect_op, stream);
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
        cio_socket_close((cio_socket *)(void *)socket);
        return rc;
    }
    /* With fast open the stream is writable at once and the handshake waits for the first
     * write (see cio_tcp_socket_set_fastopen_connect): waiting here would wait forever. */
    bool fastopen = false;
    if (cio_tcp_fastopen_connect((cio_socket *)(void *)socket, &fastopen) < 0)
        fastopen = false;
    cio_tcp_stream *stream;
    rc = cio_tcp_socket_try_connect(socket, addr, &stream);
    if (rc < 0) {
        cio_socket_close((cio_socket *)(void *)socket);
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

struct sendfile_arg {
    int file_fd;
    int64_t *offset;
    size_t count;
};

static ssize_t sendfile_op(struct cio_socket *sock, void *ctx)
{
    const struct sendfile_arg *a = ctx;
    return cio__tcp_sendfile(sock, a->file_fd, a->offset, a->count);
}

ssize_t cio_tcp_stream_try_sendfile(cio_tcp_stream *stream, int file_fd, int64_t *offset,
                                    size_t count)
{
    if (stream == NULL)
        return -EINVAL;
    struct sendfile_arg a = {file_fd, offset, count};
    return cio__io_try(SOCK(stream), CIO_WRITABLE, sendfile_op, &a);
}

ssize_t cio_tcp_stream_sendfile(cio_tcp_stream *stream, int file_fd, int64_t *offset, size_t count)
{
    if (stream == NULL || (offset != NULL && *offset < 0))
        return -EINVAL;
    if (file_fd < 0)
        return -EBADF;
    if (count == 0)
        return 0;
    struct sendfile_arg a = {file_fd, offset, count};
    return cio__io_do(SOCK(stream), CIO_WRITABLE, sendfile_op, &a, 0);
}
