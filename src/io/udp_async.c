/*
 * udp_async.c: what only UDP does with the io layer (tokio's UdpSocket) — the message and
 * batch calls (vectored data, addresses, control data, sendmmsg/recvmmsg), without waiting or
 * in a task. Each runs the net layer's call (udp.c) under the readiness bookkeeping; plain
 * sends and receives are the datagram core's (dgram.c). No receive uses the short-read rule:
 * a datagram shorter than the buffer says nothing about what else is queued, so only -EAGAIN
 * clears read readiness.
 */
#include <errno.h>

#include "cio/udp.h"
#include "io/io.h"
#include "net/kinds.h"

/* One call: the non-blocking layer's function with its arguments. The non-blocking layer
 * writes a message's results only when it succeeds, so the attempts that say -EAGAIN leave
 * the caller's messages alone. */
enum udp_kind {
    UDP_SEND_MSG,
    UDP_RECV_MSG,
    UDP_SEND_BATCH,
    UDP_RECV_BATCH,
};

struct udp_op {
    enum udp_kind kind;
    cio_udp_socket *socket;
    cio_udp_msg *msgs; /* one, or @count */
    size_t count;
};

static ssize_t udp_run(struct cio_socket *sock, void *arg)
{
    (void)sock;
    const struct udp_op *u = arg;
    switch (u->kind) {
    case UDP_SEND_MSG:
        return cio__udp_send_msg(u->socket, u->msgs);
    case UDP_RECV_MSG:
        return cio__udp_recv_msg(u->socket, u->msgs);
    case UDP_SEND_BATCH:
        return cio__udp_send_batch(u->socket, u->msgs, u->count);
    case UDP_RECV_BATCH:
        return cio__udp_recv_batch(u->socket, u->msgs, u->count);
    }
    return -EINVAL;
}

/* The argument checks a wait would otherwise delay until the socket is ready: a bad call
 * fails at once. (A message's contents are checked by the try_* call, on the first
 * attempt.) */
static ssize_t udp_do(struct udp_op *u, bool wait)
{
    if (u->socket == NULL || u->msgs == NULL)
        return -EINVAL;
    unsigned interest =
        u->kind == UDP_SEND_MSG || u->kind == UDP_SEND_BATCH ? CIO_WRITABLE : CIO_READABLE;
    struct cio_socket *sock = CIO__SOCK(u->socket);
    return wait ? cio__io_do(sock, interest, udp_run, u, 0)
                : cio__io_try(sock, interest, udp_run, u);
}

ssize_t cio_udp_socket_try_send_msg(cio_udp_socket *socket, cio_udp_msg *msg)
{
    struct udp_op u = {UDP_SEND_MSG, socket, msg, 1};
    return udp_do(&u, false);
}

ssize_t cio_udp_socket_try_recv_msg(cio_udp_socket *socket, cio_udp_msg *msg)
{
    struct udp_op u = {UDP_RECV_MSG, socket, msg, 1};
    return udp_do(&u, false);
}

ssize_t cio_udp_socket_send_msg(cio_udp_socket *socket, cio_udp_msg *msg)
{
    struct udp_op u = {UDP_SEND_MSG, socket, msg, 1};
    return udp_do(&u, true);
}

ssize_t cio_udp_socket_recv_msg(cio_udp_socket *socket, cio_udp_msg *msg)
{
    struct udp_op u = {UDP_RECV_MSG, socket, msg, 1};
    return udp_do(&u, true);
}

static int udp_batch(enum udp_kind kind, cio_udp_socket *socket, cio_udp_msg *msgs, size_t count,
                     bool wait)
{
    if (count == 0)
        return socket == NULL ? -EINVAL : 0; /* an empty batch moves nothing: no wait for it */
    struct udp_op u = {kind, socket, msgs, count};
    return (int)udp_do(&u, wait);
}

int cio_udp_socket_try_send_batch(cio_udp_socket *socket, cio_udp_msg *msgs, size_t count)
{
    return udp_batch(UDP_SEND_BATCH, socket, msgs, count, false);
}

int cio_udp_socket_try_recv_batch(cio_udp_socket *socket, cio_udp_msg *msgs, size_t count)
{
    return udp_batch(UDP_RECV_BATCH, socket, msgs, count, false);
}

int cio_udp_socket_send_batch(cio_udp_socket *socket, cio_udp_msg *msgs, size_t count)
{
    return udp_batch(UDP_SEND_BATCH, socket, msgs, count, true);
}

int cio_udp_socket_recv_batch(cio_udp_socket *socket, cio_udp_msg *msgs, size_t count)
{
    return udp_batch(UDP_RECV_BATCH, socket, msgs, count, true);
}
