/*
 * msg.h: sendmsg/recvmsg with an address and control data, shared by the datagram sockets
 * (udp.c, unix.c) and by descriptor passing over Unix sockets (private to the library).
 * socket.h covers plain and vectored stream I/O; this adds what datagrams and ancillary data
 * need: a destination address per send, the sender's address per receive, the datagram
 * truncation rule (a datagram that does not fit is an error, never a silent short read), and
 * SCM_RIGHTS with the guarantee that no received descriptor is ever leaked — descriptors that
 * arrive with a message cio must reject are closed before the call returns.
 *
 * Conventions are socket.h's: a count or 0 on success, a negative errno on failure, EINTR
 * retried, NULL / closed sockets reported as -EINVAL / -EBADF.
 */
#ifndef CIO_NET_MSG_H
#define CIO_NET_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "cio/addr.h"
#include "net/socket.h"

/* The most descriptors one message carries (Linux's SCM_MAX_FD). */
#define CIO__FDS_MAX 253

/* Point msg_name/msg_namelen at @to; NULL or an empty address leaves them unset (the
 * connected peer). The cast drops const: sendmsg() does not write the name. */
void cio__msg_set_name(struct msghdr *msg, const cio_addr *to);

/*
 * The sender's address as recvmsg() left it in @ss/@len. A Unix sender that is not bound
 * leaves a length of 0 (or just the family): that is the unnamed address, not an error.
 */
int cio__msg_addr(cio_addr *ret_addr, int domain, const struct sockaddr_storage *ss, socklen_t len);

/* sendmsg() with MSG_NOSIGNAL added and EINTR retried. No argument checks. */
ssize_t cio__msg_sendmsg(struct cio_socket *sock, const struct msghdr *msg, int flags);

/*
 * recvmsg() with EINTR retried; MSG_CMSG_CLOEXEC is added when msg has a control buffer,
 * so descriptors arrive close-on-exec atomically. On a datagram socket MSG_TRUNC is added
 * too: the result is then the datagram's full length, which exceeds the buffers' total
 * exactly when msg->msg_flags has MSG_TRUNC. No argument checks.
 */
ssize_t cio__msg_recvmsg(struct cio_socket *sock, struct msghdr *msg, int flags);

/* Close every descriptor in the SCM_RIGHTS messages of a received control buffer. */
void cio__msg_close_rights(const struct msghdr *msg);

/*
 * Send one datagram from @iov to @to (NULL or empty: the connected peer). A zero-length
 * datagram is sent too: on a datagram socket it is a message, not a no-op.
 * Return: bytes sent; -EINVAL for a bad iovec; the kernel's errors.
 */
ssize_t cio__dgram_send(struct cio_socket *sock, const struct iovec *iov, int iovcnt,
                        const cio_addr *to);

/*
 * Receive (or with MSG_PEEK, peek at) one datagram into @iov, with cio's truncation rule:
 * a datagram longer than the buffers is -EMSGSIZE (taken from the queue unless peeking), and
 * so is a UDP buffer into which GRO coalesced several datagrams (only try_recv_msg can
 * return those). @ret_from (may be NULL) receives the sender.
 * Return: the datagram's length (0 for an empty one); -EMSGSIZE; -EAGAIN; the kernel's.
 */
ssize_t cio__dgram_recv(struct cio_socket *sock, const struct iovec *iov, int iovcnt, int flags,
                        cio_addr *ret_from);

/* cio__dgram_send() and cio__dgram_recv() with one buffer, as the try_* calls have it. */
ssize_t cio__dgram_send_buf(struct cio_socket *sock, const void *buf, size_t len,
                            const cio_addr *to);
ssize_t cio__dgram_recv_buf(struct cio_socket *sock, void *buf, size_t len, int flags,
                            cio_addr *ret_from);

/* The length and sender (ret_from may be NULL) of the next datagram, without taking it. */
ssize_t cio__dgram_peek_sender(struct cio_socket *sock, cio_addr *ret_from);

/*
 * Send @iov with @nfds descriptors (SCM_RIGHTS) to @to (NULL: connected). nfds may be 0.
 * On a stream at least one byte must go with descriptors (-EINVAL otherwise: Linux would
 * send nothing); the descriptors travel with the first byte the call sends.
 * Return: bytes sent; -EINVAL (NULL fds with a count, a count above CIO__FDS_MAX, a negative
 * descriptor); -EBADF (a descriptor that is not open); the kernel's errors.
 */
ssize_t cio__msg_send_fds(struct cio_socket *sock, const struct iovec *iov, int iovcnt,
                          const int *fds, size_t nfds, const cio_addr *to);

/*
 * Receive data with up to @max_fds descriptors into @fds; *ret_nfds gets their number and
 * @ret_from (may be NULL) the sender. Received descriptors are close-on-exec.
 * Control data that did not fit (more descriptors than @max_fds, or the process ran out of
 * descriptors while the kernel installed them: MSG_CTRUNC) is -ENOBUFS, and every
 * descriptor that did arrive is closed first. A datagram that did not fit is -EMSGSIZE,
 * its descriptors closed likewise. On a stream, a zero-length buffer returns 0 at once.
 * Return: bytes received (0 at end of stream); -ENOBUFS; -EMSGSIZE; -EAGAIN; -EINVAL.
 */
ssize_t cio__msg_recv_fds(struct cio_socket *sock, const struct iovec *iov, int iovcnt, int *fds,
                          size_t max_fds, size_t *ret_nfds, cio_addr *ret_from);

#endif /* CIO_NET_MSG_H */
