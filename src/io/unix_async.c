/*
 * unix_async.c: what only Unix-domain sockets do with the io layer — accept and connect in a
 * task (connect retries a full backlog, which Linux reports at once and never signals), and
 * descriptor passing on streams and datagram sockets, without waiting or in a task. Reading,
 * writing, halves and copying are the stream core's (stream.c, which knows the one Linux
 * quirk of Unix stream reads), sending and receiving datagrams the datagram core's (dgram.c).
 * Descriptor passing has no short-read rule: a receive with descriptors ends at its write's
 * end, whatever is queued behind it.
 */
#include <errno.h>
#include <sys/socket.h>

#include "cio/rt.h"
#include "cio/unix.h"
#include "io/io.h"
#include "net/msg.h"

#define SOCK(handle) CIO__SOCK(handle)
#define CONNECT_RETRY_FIRST CIO_NSEC_PER_MSEC /* sleep after the first full-backlog -EAGAIN */
#define CONNECT_RETRY_MAX (64 * CIO_NSEC_PER_MSEC)

/* ======================================================================================== */
/* Listener                                                                                 */
/* ======================================================================================== */

int cio_unix_listener_try_accept(cio_unix_listener *listener, cio_unix_stream **ret_stream,
                                 cio_addr *ret_peer)
{
    return cio__io_accept(listener, (void **)ret_stream, ret_peer, CIO__IO_TRY, NULL, NULL);
}

int cio_unix_listener_accept(cio_unix_listener *listener, cio_unix_stream **ret_stream,
                             cio_addr *ret_peer)
{
    return cio__io_accept(listener, (void **)ret_stream, ret_peer, CIO__IO_WAIT, NULL, NULL);
}

int cio_unix_listener_poll_accept(cio_unix_listener *listener, cio_unix_stream **ret_stream,
                                  cio_addr *ret_peer, cio_wake_fn wake, void *ctx)
{
    return cio__io_accept(listener, (void **)ret_stream, ret_peer, CIO__IO_POLL, wake, ctx);
}

/* ======================================================================================== */
/* Connect                                                                                  */
/* ======================================================================================== */

/* Whether a background connect (not Linux's way, see cio/unix.h) has finished: connected
 * once the peer is known; still going while there is no peer and no error. */
static ssize_t finish_connect_op(void *arg)
{
    cio_addr peer;
    int rc = cio__socket_peer_addr(arg, &peer);
    if (rc != -ENOTCONN)
        return rc;
    rc = cio__socket_take_error(arg);
    return rc < 0 ? rc : -EAGAIN;
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
        int rc = cio__task_cancel_point();
        if (rc < 0)
            return rc;
        rc = cio_unix_stream_try_connect(&stream, addr);
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
    int rc = cio__io_finish_connect(SOCK(stream), finish_connect_op, stream);
    if (rc == 0)
        *ret_stream = stream;
    return rc;
}

/* ======================================================================================== */
/* Descriptor passing (streams and datagram sockets)                                        */
/* ======================================================================================== */

struct fds_arg {
    struct cio_socket *sock;
    void *buf;
    size_t len;
    int *fds;
    size_t nfds;        /* send: the count; receive: the room */
    size_t *ret_nfds;   /* receive: written by the attempt that succeeds */
    const cio_addr *to; /* send: NULL for the connected peer */
    cio_addr *from;     /* receive: the sender, or NULL */
};

static ssize_t send_fds_op(struct cio_socket *sock, void *arg)
{
    const struct fds_arg *a = arg;
    struct iovec iov = {.iov_base = a->buf, .iov_len = a->len};
    return cio__msg_send_fds(sock, &iov, 1, a->fds, a->nfds, a->to);
}

static ssize_t recv_fds_op(struct cio_socket *sock, void *arg)
{
    const struct fds_arg *a = arg;
    struct iovec iov = {.iov_base = a->buf, .iov_len = a->len};
    return cio__msg_recv_fds(sock, &iov, 1, a->fds, a->nfds, a->ret_nfds, a->from);
}

/* The checks of every descriptor-passing call, made before any wait so that a bad call fails
 * at once rather than when the socket is ready. 1: nothing to do on a stream (length 0). */
static int fds_check(const struct fds_arg *a, bool send)
{
    const struct cio_socket *sock = a->sock;
    int rc = cio__socket_check(sock);
    if (rc < 0)
        return rc;
    if (sock->domain != AF_UNIX)
        return -EAFNOSUPPORT;
    if ((a->buf == NULL && a->len > 0) || (a->fds == NULL && a->nfds > 0))
        return -EINVAL;
    bool stream = sock->type == SOCK_STREAM;
    if (send) {
        if (a->nfds > CIO_UNIX_FDS_MAX || (stream && a->nfds > 0 && a->len == 0))
            return -EINVAL;
        if (a->to != NULL && (stream || (rc = cio__addr_check_unix(a->to, false)) < 0))
            return stream ? -EINVAL : rc;
    } else if (a->ret_nfds == NULL) {
        return -EINVAL;
    }
    return stream && a->len == 0 ? 1 : 0;
}

/* Check, then run the send or the receive once (try) or until it does not say -EAGAIN.
 * No short-read rule: a receive with descriptors ends at their write's end whatever is
 * queued behind it (see the top of this file). */
static ssize_t fds_run(struct fds_arg *a, bool send, enum cio__io_mode mode)
{
    int rc = fds_check(a, send);
    if (rc != 0) {
        if (rc > 0 && !send)
            *a->ret_nfds = 0;
        return rc < 0 ? rc : 0;
    }
    unsigned interest = send ? CIO_WRITABLE : CIO_READABLE;
    cio__io_op op = send ? send_fds_op : recv_fds_op;
    if (mode == CIO__IO_TRY)
        return cio__io_try(a->sock, interest, op, a);
    return cio__io_do(a->sock, interest, op, a, 0);
}

ssize_t cio_unix_try_send_fds(cio_socket *sock, const void *buf, size_t len, const int *fds,
                              size_t nfds, const cio_addr *addr)
{
    struct fds_arg a = {CIO__SOCK(sock), (void *)buf, len, (int *)fds, nfds, NULL, addr, NULL};
    return fds_run(&a, true, CIO__IO_TRY);
}

ssize_t cio_unix_try_recv_fds(cio_socket *sock, void *buf, size_t len, int *fds, size_t max_fds,
                              size_t *ret_nfds, cio_addr *ret_from)
{
    struct fds_arg a = {CIO__SOCK(sock), buf, len, fds, max_fds, ret_nfds, NULL, ret_from};
    return fds_run(&a, false, CIO__IO_TRY);
}

ssize_t cio_unix_send_fds(cio_socket *sock, const void *buf, size_t len, const int *fds,
                          size_t nfds, const cio_addr *addr)
{
    struct fds_arg a = {CIO__SOCK(sock), (void *)buf, len, (int *)fds, nfds, NULL, addr, NULL};
    return fds_run(&a, true, CIO__IO_WAIT);
}

ssize_t cio_unix_recv_fds(cio_socket *sock, void *buf, size_t len, int *fds, size_t max_fds,
                          size_t *ret_nfds, cio_addr *ret_from)
{
    struct fds_arg a = {CIO__SOCK(sock), buf, len, fds, max_fds, ret_nfds, NULL, ret_from};
    return fds_run(&a, false, CIO__IO_WAIT);
}
