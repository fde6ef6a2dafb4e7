/*
 * kinds.h: the non-blocking calls of one socket kind that the io layer runs under its
 * readiness bookkeeping (private). The public try_* and suspending forms are the io layer's
 * (io/tcp_async.c, io/udp_async.c), so that a try_* on a registered socket clears the cached
 * readiness when it sees -EAGAIN, as every core try_* does. Arguments are checked here; each
 * returns what the public try_* form documents.
 */
#ifndef CIO_NET_KINDS_H
#define CIO_NET_KINDS_H

#include <stdint.h>
#include <sys/types.h>

#include "cio/udp.h"
#include "net/socket.h"

/* sendfile(2) on a TCP stream (cio_tcp_stream_try_sendfile()). */
ssize_t cio__tcp_sendfile(struct cio_socket *sock, int file_fd, int64_t *offset, size_t count);

/* UDP message and batch calls (cio_udp_socket_try_send_msg()...). */
ssize_t cio__udp_send_msg(cio_udp_socket *socket, cio_udp_msg *msg);
ssize_t cio__udp_recv_msg(cio_udp_socket *socket, cio_udp_msg *msg);
int cio__udp_send_batch(cio_udp_socket *socket, cio_udp_msg *msgs, size_t count);
int cio__udp_recv_batch(cio_udp_socket *socket, cio_udp_msg *msgs, size_t count);

#endif /* CIO_NET_KINDS_H */
