/*
 * listener.c: accepting on any listener (TCP or Unix) under the io layer's bookkeeping, in the
 * three forms every listener kind offers: try (one accept4, an -EAGAIN clears the cached
 * read readiness), suspending, and poll. The listener's accept with the EMFILE defence is the
 * net layer's (cio__listener_accept); a stream handle of either kind is a bare struct
 * cio_socket, so one allocation size serves both.
 */
#include <errno.h>
#include <unistd.h>

#include "io/io.h"

struct accept_arg {
    void **stream; /* written only by the attempt that accepts */
    cio_addr *peer;
    bool arm; /* a suspending accept: on io_uring it may arm the multishot accept */
};

/* A listener registered the completion way (io/uring.h): a connection from its queue, or
 * accept4; the new descriptor made a stream handle as cio__listener_accept() makes it. */
static ssize_t ring_accept_op(struct cio_socket *sock, struct cio__io *io,
                              const struct accept_arg *a)
{
    struct cio__listener *listener = (struct cio__listener *)sock;
    cio_addr peer;
    int fd;
    int rc = cio__io_ring_accept(sock, io, &listener->reserve, a->arm, &fd,
                                 a->peer != NULL ? &peer : NULL);
    if (rc < 0)
        return rc;
    struct cio_socket *stream = cio__handle_new(sizeof(struct cio_socket));
    if (stream == NULL) {
        close(fd); /* the client sees the connection closed */
        return -ENOMEM;
    }
    cio__socket_init(stream, fd, sock->domain, SOCK_STREAM);
    *a->stream = stream;
    if (a->peer != NULL)
        *a->peer = peer;
    return 0;
}

static ssize_t accept_op(struct cio_socket *sock, void *ctx)
{
    const struct accept_arg *a = ctx;
    struct cio__io *io = cio__io_of(sock);
    if (io != NULL && io->completion)
        return ring_accept_op(sock, io, a);
    return cio__listener_accept((struct cio__listener *)sock, a->stream, sizeof(struct cio_socket),
                                a->peer);
}

int cio__io_accept(void *listener, void **ret_stream, cio_addr *ret_peer, enum cio__io_mode mode,
                   cio_wake_fn wake, void *ctx)
{
    struct cio_socket *sock = CIO__SOCK(listener);
    if (sock == NULL || ret_stream == NULL)
        return -EINVAL;
    struct accept_arg a = {ret_stream, ret_peer, mode == CIO__IO_WAIT};
    switch (mode) {
    case CIO__IO_TRY:
        return (int)cio__io_try(sock, CIO_READABLE, accept_op, &a);
    case CIO__IO_WAIT:
        return (int)cio__io_do(sock, CIO_READABLE, accept_op, &a, 0);
    case CIO__IO_POLL:
        return (int)cio__io_poll_op(sock, CIO_READABLE, accept_op, &a, wake, ctx);
    }
    return -EINVAL;
}
