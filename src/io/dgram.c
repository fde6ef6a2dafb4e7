/*
 * dgram.c: the datagram core (cio/dgram.h) — connect, send and receive whole datagrams, once
 * for UDP and Unix datagram sockets: without waiting (one system call under the readiness
 * bookkeeping), suspending in a task, and in poll form. Every call is one operation of the io
 * layer over the message helpers (net/msg.c). No receive uses the short-read rule: a datagram
 * shorter than the buffer says nothing about what else is queued, so only -EAGAIN clears
 * read readiness.
 */
#include <errno.h>
#include <sys/socket.h>

#include "cio/dgram.h"
#include "io/io.h"
#include "net/msg.h"

enum dgram_kind {
    DGRAM_SEND,
    DGRAM_RECV,
    DGRAM_PEEK,
    DGRAM_PEEK_SENDER,
};

/* One operation with its arguments. The message helpers write the sender only when they
 * succeed, so the caller's output parameter is handed to them as it is: attempts that say
 * -EAGAIN leave it alone. */
struct dgram_op {
    enum dgram_kind kind;
    void *buf;
    size_t len;
    const cio_addr *to; /* send: NULL for the connected peer */
    cio_addr *from;     /* receive: where the sender goes, or NULL */
};

static ssize_t dgram_run(struct cio_socket *sock, void *arg)
{
    const struct dgram_op *d = arg;
    switch (d->kind) {
    case DGRAM_SEND:
        return cio__dgram_send_buf(sock, d->buf, d->len, d->to);
    case DGRAM_RECV:
        return cio__dgram_recv_buf(sock, d->buf, d->len, 0, d->from);
    case DGRAM_PEEK:
        return cio__dgram_recv_buf(sock, d->buf, d->len, MSG_PEEK, d->from);
    case DGRAM_PEEK_SENDER:
        return cio__dgram_peek_sender(sock, d->from);
    }
    return -EINVAL;
}

/* The checks a wait would otherwise delay until the socket is ready: a bad call fails at
 * once. Returns the operation's direction, or a negative errno. */
static int dgram_check(const struct cio_socket *sock, const struct dgram_op *d)
{
    int rc = cio__socket_check(sock);
    if (rc < 0)
        return rc;
    if (d->buf == NULL && d->len > 0)
        return -EINVAL;
    if (d->to != NULL && (rc = cio__addr_check_peer(sock, d->to)) < 0)
        return rc;
    return d->kind == DGRAM_SEND ? CIO_WRITABLE : CIO_READABLE;
}

/* Check, then run the operation once (try), until it does not say -EAGAIN (wait), or in poll
 * form (arming @wake). */
static ssize_t dgram_mode(cio_dgram *dgram, struct dgram_op *d, enum cio__io_mode mode,
                          cio_wake_fn wake, void *ctx)
{
    struct cio_socket *sock = CIO__SOCK(dgram);
    int interest = dgram_check(sock, d);
    if (interest < 0)
        return interest;
    switch (mode) {
    case CIO__IO_TRY:
        return cio__io_try(sock, (unsigned)interest, dgram_run, d);
    case CIO__IO_WAIT:
        return cio__io_do(sock, (unsigned)interest, dgram_run, d, 0);
    case CIO__IO_POLL:
        return cio__io_poll_op(sock, (unsigned)interest, dgram_run, d, wake, ctx);
    }
    return -EINVAL;
}

static ssize_t dgram_try(cio_dgram *dgram, struct dgram_op *d)
{
    return dgram_mode(dgram, d, CIO__IO_TRY, NULL, NULL);
}

static ssize_t dgram_do(cio_dgram *dgram, struct dgram_op *d)
{
    return dgram_mode(dgram, d, CIO__IO_WAIT, NULL, NULL);
}

/* ---- peer ---- */

int cio_dgram_connect(cio_dgram *dgram, const cio_addr *addr)
{
    struct cio_socket *sock = CIO__SOCK(dgram);
    int rc = cio__socket_check(sock);
    if (rc < 0 || (rc = cio__addr_check_peer(sock, addr)) < 0)
        return rc;
    return cio__socket_connect(sock, addr);
}

int cio_dgram_disconnect(cio_dgram *dgram)
{
    struct cio_socket *sock = CIO__SOCK(dgram);
    int rc = cio__socket_check(sock);
    if (rc < 0)
        return rc;
    cio_addr before, after;
    if ((rc = cio__socket_local_addr(sock, &before)) < 0)
        return rc;
    struct sockaddr unspec = {.sa_family = AF_UNSPEC};
    if (connect(sock->fd, &unspec, sizeof(unspec)) < 0)
        return -errno;
    if (sock->domain == AF_UNIX)
        return 0;
    /* Linux keeps a UDP socket's port through a disconnect only if the program chose it; a
     * port the kernel picked (bind to port 0, or the implicit bind of connect) is released.
     * Take it back: the address the kernel left is the one the socket was bound to. */
    int port = cio_addr_port(&before);
    if (port <= 0 || (rc = cio__socket_local_addr(sock, &after)) < 0 || cio_addr_port(&after) != 0)
        return rc < 0 ? rc : 0;
    if ((rc = cio_addr_set_port(&after, (uint16_t)port)) < 0)
        return rc;
    return cio__socket_bind(sock, &after);
}

/* ---- without waiting ---- */

ssize_t cio_dgram_try_send(cio_dgram *dgram, const void *buf, size_t len)
{
    struct dgram_op d = {DGRAM_SEND, (void *)buf, len, NULL, NULL};
    return dgram_try(dgram, &d);
}

ssize_t cio_dgram_try_send_to(cio_dgram *dgram, const void *buf, size_t len, const cio_addr *addr)
{
    if (addr == NULL)
        return -EINVAL;
    struct dgram_op d = {DGRAM_SEND, (void *)buf, len, addr, NULL};
    return dgram_try(dgram, &d);
}

ssize_t cio_dgram_try_recv(cio_dgram *dgram, void *buf, size_t len)
{
    struct dgram_op d = {DGRAM_RECV, buf, len, NULL, NULL};
    return dgram_try(dgram, &d);
}

ssize_t cio_dgram_try_recv_from(cio_dgram *dgram, void *buf, size_t len, cio_addr *ret_from)
{
    struct dgram_op d = {DGRAM_RECV, buf, len, NULL, ret_from};
    return dgram_try(dgram, &d);
}

ssize_t cio_dgram_try_peek(cio_dgram *dgram, void *buf, size_t len)
{
    struct dgram_op d = {DGRAM_PEEK, buf, len, NULL, NULL};
    return dgram_try(dgram, &d);
}

ssize_t cio_dgram_try_peek_from(cio_dgram *dgram, void *buf, size_t len, cio_addr *ret_from)
{
    struct dgram_op d = {DGRAM_PEEK, buf, len, NULL, ret_from};
    return dgram_try(dgram, &d);
}

ssize_t cio_dgram_try_peek_sender(cio_dgram *dgram, cio_addr *ret_from)
{
    struct dgram_op d = {DGRAM_PEEK_SENDER, NULL, 0, NULL, ret_from};
    return dgram_try(dgram, &d);
}

/* ---- suspending ---- */

ssize_t cio_dgram_send(cio_dgram *dgram, const void *buf, size_t len)
{
    struct dgram_op d = {DGRAM_SEND, (void *)buf, len, NULL, NULL};
    return dgram_do(dgram, &d);
}

ssize_t cio_dgram_send_to(cio_dgram *dgram, const void *buf, size_t len, const cio_addr *addr)
{
    if (addr == NULL)
        return -EINVAL;
    struct dgram_op d = {DGRAM_SEND, (void *)buf, len, addr, NULL};
    return dgram_do(dgram, &d);
}

ssize_t cio_dgram_recv(cio_dgram *dgram, void *buf, size_t len)
{
    struct dgram_op d = {DGRAM_RECV, buf, len, NULL, NULL};
    return dgram_do(dgram, &d);
}

ssize_t cio_dgram_recv_from(cio_dgram *dgram, void *buf, size_t len, cio_addr *ret_from)
{
    struct dgram_op d = {DGRAM_RECV, buf, len, NULL, ret_from};
    return dgram_do(dgram, &d);
}

ssize_t cio_dgram_peek(cio_dgram *dgram, void *buf, size_t len)
{
    struct dgram_op d = {DGRAM_PEEK, buf, len, NULL, NULL};
    return dgram_do(dgram, &d);
}

ssize_t cio_dgram_peek_from(cio_dgram *dgram, void *buf, size_t len, cio_addr *ret_from)
{
    struct dgram_op d = {DGRAM_PEEK, buf, len, NULL, ret_from};
    return dgram_do(dgram, &d);
}

ssize_t cio_dgram_peek_sender(cio_dgram *dgram, cio_addr *ret_from)
{
    struct dgram_op d = {DGRAM_PEEK_SENDER, NULL, 0, NULL, ret_from};
    return dgram_do(dgram, &d);
}

/* ---- poll form ---- */

ssize_t cio_dgram_poll_recv_from(cio_dgram *dgram, void *buf, size_t len, cio_addr *ret_from,
                                 cio_wake_fn wake, void *ctx)
{
    struct dgram_op d = {DGRAM_RECV, buf, len, NULL, ret_from};
    return dgram_mode(dgram, &d, CIO__IO_POLL, wake, ctx);
}

ssize_t cio_dgram_poll_send_to(cio_dgram *dgram, const void *buf, size_t len, const cio_addr *addr,
                               cio_wake_fn wake, void *ctx)
{
    struct dgram_op d = {DGRAM_SEND, (void *)buf, len, addr, NULL};
    return dgram_mode(dgram, &d, CIO__IO_POLL, wake, ctx);
}
