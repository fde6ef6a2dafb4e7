/*
 * udp_async.c: UDP for runtime tasks (tokio's UdpSocket) — the suspending send, receive,
 * peek, message and batch calls, readiness, and the caller's own operations. Each call runs
 * the non-blocking layer's try_* function (udp.c) under the io layer's readiness bookkeeping
 * on the struct cio__socket every UDP handle starts with; the protocol-free helpers of the
 * stream engine (stream.c: run an operation, its poll form, readiness, try_io/async_io) do
 * the waiting. No receive uses the short-read rule: a datagram shorter than the buffer says
 * nothing about what else is queued, so only -EAGAIN clears read readiness.
 */
#include <errno.h>

#include "cio/udp.h"
#include "io/io.h"
#include "io/stream.h"

/* Every UDP handle starts with its struct cio__socket (udp.c guarantees it). */
#define SOCK(handle) ((struct cio__socket *)(void *)(handle))

/* One operation: the non-blocking layer's call with its arguments. The non-blocking layer
 * writes the sender (and a message's results) only when it succeeds, so the caller's output
 * parameters are handed to it as they are: the attempts that say -EAGAIN leave them alone. */
enum udp_kind {
    UDP_SEND,
    UDP_RECV,
    UDP_PEEK,
    UDP_PEEK_SENDER,
    UDP_SEND_MSG,
    UDP_RECV_MSG,
    UDP_SEND_BATCH,
    UDP_RECV_BATCH,
};

struct udp_op {
    enum udp_kind kind;
    cio_udp_socket *socket;
    void *buf;
    size_t len;
    const cio_addr *to; /* send: NULL for the connected peer */
    cio_addr *from;     /* receive: where the sender goes, or NULL */
    cio_udp_msg *msgs;  /* message calls: one, or @count */
    size_t count;
};

static ssize_t udp_run(void *arg)
{
    const struct udp_op *u = arg;
    switch (u->kind) {
    case UDP_SEND:
        return u->to != NULL ? cio_udp_socket_try_send_to(u->socket, u->buf, u->len, u->to)
                             : cio_udp_socket_try_send(u->socket, u->buf, u->len);
    case UDP_RECV:
        return cio_udp_socket_try_recv_from(u->socket, u->buf, u->len, u->from);
    case UDP_PEEK:
        return cio_udp_socket_try_peek_from(u->socket, u->buf, u->len, u->from);
    case UDP_PEEK_SENDER:
        return cio_udp_socket_try_peek_sender(u->socket, u->from);
    case UDP_SEND_MSG:
        return cio_udp_socket_try_send_msg(u->socket, u->msgs);
    case UDP_RECV_MSG:
        return cio_udp_socket_try_recv_msg(u->socket, u->msgs);
    case UDP_SEND_BATCH:
        return cio_udp_socket_try_send_batch(u->socket, u->msgs, u->count);
    case UDP_RECV_BATCH:
        return cio_udp_socket_try_recv_batch(u->socket, u->msgs, u->count);
    }
    return -EINVAL;
}

static unsigned udp_interest(enum udp_kind kind)
{
    switch (kind) {
    case UDP_SEND:
    case UDP_SEND_MSG:
    case UDP_SEND_BATCH:
        return CIO_WRITABLE;
    default:
        return CIO_READABLE;
    }
}

/* The argument checks a wait would otherwise delay until the socket is ready: a bad call
 * fails at once. (What only the try_* calls can check — a message's contents — is checked
 * there, on the first attempt.) */
static int udp_check(const struct udp_op *u)
{
    if (u->socket == NULL || (u->buf == NULL && u->len > 0))
        return -EINVAL;
    if ((u->kind == UDP_SEND_MSG || u->kind == UDP_RECV_MSG) && u->msgs == NULL)
        return -EINVAL;
    if ((u->kind == UDP_SEND_BATCH || u->kind == UDP_RECV_BATCH) && u->msgs == NULL && u->count > 0)
        return -EINVAL;
    if (u->to != NULL) {
        cio_addr_kind kind = cio_addr_get_kind(u->to);
        if (kind != CIO_ADDR_IPV4 && kind != CIO_ADDR_IPV6)
            return -EAFNOSUPPORT;
    }
    return 0;
}

static ssize_t udp_do(struct udp_op *u)
{
    int rc = udp_check(u);
    if (rc < 0)
        return rc;
    return cio__stream_do(SOCK(u->socket), udp_interest(u->kind), udp_run, u);
}

static ssize_t udp_poll(struct udp_op *u, cio_wake_fn wake, void *ctx)
{
    int rc = udp_check(u);
    if (rc < 0)
        return rc;
    return cio__stream_poll_op(SOCK(u->socket), udp_interest(u->kind), udp_run, u, wake, ctx);
}

static ssize_t udp_recv_kind(enum udp_kind kind, cio_udp_socket *socket, void *buf, size_t len,
                             cio_addr *ret_from)
{
    struct udp_op u = {.kind = kind, .socket = socket, .buf = buf, .len = len, .from = ret_from};
    return udp_do(&u);
}

static int udp_batch(enum udp_kind kind, cio_udp_socket *socket, cio_udp_msg *msgs, size_t count)
{
    struct udp_op u = {.kind = kind, .socket = socket, .msgs = msgs, .count = count};
    int rc = udp_check(&u);
    if (rc < 0 || count == 0)
        return rc; /* an empty batch moves nothing: no wait for it */
    return (int)udp_do(&u);
}

ssize_t cio_udp_socket_send(cio_udp_socket *socket, const void *buf, size_t len)
{
    struct udp_op u = {.kind = UDP_SEND, .socket = socket, .buf = (void *)buf, .len = len};
    return udp_do(&u);
}

ssize_t cio_udp_socket_send_to(cio_udp_socket *socket, const void *buf, size_t len,
                               const cio_addr *addr)
{
    if (addr == NULL)
        return -EINVAL;
    struct udp_op u = {
        .kind = UDP_SEND, .socket = socket, .buf = (void *)buf, .len = len, .to = addr};
    return udp_do(&u);
}

ssize_t cio_udp_socket_recv(cio_udp_socket *socket, void *buf, size_t len)
{
    return udp_recv_kind(UDP_RECV, socket, buf, len, NULL);
}

ssize_t cio_udp_socket_recv_from(cio_udp_socket *socket, void *buf, size_t len, cio_addr *ret_from)
{
    return udp_recv_kind(UDP_RECV, socket, buf, len, ret_from);
}

ssize_t cio_udp_socket_peek(cio_udp_socket *socket, void *buf, size_t len)
{
    return udp_recv_kind(UDP_PEEK, socket, buf, len, NULL);
}

ssize_t cio_udp_socket_peek_from(cio_udp_socket *socket, void *buf, size_t len, cio_addr *ret_from)
{
    return udp_recv_kind(UDP_PEEK, socket, buf, len, ret_from);
}

ssize_t cio_udp_socket_peek_sender(cio_udp_socket *socket, cio_addr *ret_from)
{
    return udp_recv_kind(UDP_PEEK_SENDER, socket, NULL, 0, ret_from);
}

ssize_t cio_udp_socket_send_msg(cio_udp_socket *socket, cio_udp_msg *msg)
{
    struct udp_op u = {.kind = UDP_SEND_MSG, .socket = socket, .msgs = msg};
    return udp_do(&u);
}

ssize_t cio_udp_socket_recv_msg(cio_udp_socket *socket, cio_udp_msg *msg)
{
    struct udp_op u = {.kind = UDP_RECV_MSG, .socket = socket, .msgs = msg};
    return udp_do(&u);
}

int cio_udp_socket_send_batch(cio_udp_socket *socket, cio_udp_msg *msgs, size_t count)
{
    return udp_batch(UDP_SEND_BATCH, socket, msgs, count);
}

int cio_udp_socket_recv_batch(cio_udp_socket *socket, cio_udp_msg *msgs, size_t count)
{
    return udp_batch(UDP_RECV_BATCH, socket, msgs, count);
}

/* ---- readiness ---- */

int cio_udp_socket_ready(cio_udp_socket *socket, unsigned interest)
{
    return cio__stream_ready(SOCK(socket), interest);
}

int cio_udp_socket_readable(cio_udp_socket *socket)
{
    return cio__stream_ready(SOCK(socket), CIO_READABLE);
}

int cio_udp_socket_writable(cio_udp_socket *socket)
{
    return cio__stream_ready(SOCK(socket), CIO_WRITABLE);
}

void cio_udp_socket_clear_ready(cio_udp_socket *socket, int ready)
{
    if (socket != NULL)
        cio__stream_clear_ready(SOCK(socket), ready);
}

int cio_udp_socket_poll_recv_ready(cio_udp_socket *socket, cio_wake_fn wake, void *ctx)
{
    return cio__stream_poll_ready(SOCK(socket), CIO_READABLE, wake, ctx);
}

int cio_udp_socket_poll_send_ready(cio_udp_socket *socket, cio_wake_fn wake, void *ctx)
{
    return cio__stream_poll_ready(SOCK(socket), CIO_WRITABLE, wake, ctx);
}

ssize_t cio_udp_socket_poll_recv_from(cio_udp_socket *socket, void *buf, size_t len,
                                      cio_addr *ret_from, cio_wake_fn wake, void *ctx)
{
    struct udp_op u = {
        .kind = UDP_RECV, .socket = socket, .buf = buf, .len = len, .from = ret_from};
    return udp_poll(&u, wake, ctx);
}

ssize_t cio_udp_socket_poll_send_to(cio_udp_socket *socket, const void *buf, size_t len,
                                    const cio_addr *addr, cio_wake_fn wake, void *ctx)
{
    struct udp_op u = {
        .kind = UDP_SEND, .socket = socket, .buf = (void *)buf, .len = len, .to = addr};
    return udp_poll(&u, wake, ctx);
}

ssize_t cio_udp_socket_try_io(cio_udp_socket *socket, unsigned interest, cio_io_fn fn, void *ctx)
{
    return cio__stream_try_io(SOCK(socket), interest, fn, ctx);
}

ssize_t cio_udp_socket_async_io(cio_udp_socket *socket, unsigned interest, cio_io_fn fn, void *ctx)
{
    return cio__stream_async_io(SOCK(socket), interest, fn, ctx);
}
