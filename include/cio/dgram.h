/*
 * cio/dgram.h: the datagram core — sending and receiving whole datagrams, written once for
 * UDP sockets and Unix datagram sockets (both take a cio_addr of their own family): set a
 * peer, send/receive with or without addresses, peek, without waiting (try_*), suspending in
 * a task, or in poll form.
 *
 * Every function takes a cio_udp_socket, a cio_unix_datagram or a cio_dgram (conversions in
 * cio/socket.h). Datagrams are never split or merged: one send is one datagram, one receive
 * takes one. An empty datagram is real (a zero length goes to the kernel).
 *
 * Truncation: a datagram longer than the buffer is consumed, the buffer holds its first
 * bytes, and the call returns -EMSGSIZE (for UDP with GRO, see cio/udp.h). Use peek_sender
 * or a buffer of 65,536 bytes to avoid it.
 *
 * The suspending functions must be called from a task (else -EPERM) and follow cio/io.h
 * (waiting, cancellation, deadlines, budget). Each is cancel safe: a receive that returns an
 * error consumed no datagram, a send that returns an error sent nothing.
 */
#ifndef CIO_DGRAM_H
#define CIO_DGRAM_H

#include <stddef.h>
#include <sys/types.h>

#include "cio/socket.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * cio_dgram_connect() - set the peer: sends without an address go there and only its
 * datagrams are received. Immediate (no handshake); binds an unbound UDP socket; may be
 * called again to change the peer.
 *
 * Return: 0; -EINVAL (NULL, Unix unnamed address); -EAFNOSUPPORT (another family);
 * -ENETUNREACH; -EADDRNOTAVAIL; Unix: -ENOENT (no socket file), -ECONNREFUSED (nobody bound
 * there), -EPROTOTYPE (a stream socket there), -EPERM (the peer is connected elsewhere).
 */
CIO_EXPORT int cio_dgram_connect(cio_dgram *dgram, const cio_addr *addr);

/** cio_dgram_disconnect() - forget the peer (connect to AF_UNSPEC). Return: 0; -EINVAL. */
CIO_EXPORT int cio_dgram_disconnect(cio_dgram *dgram);

/* ======================================================================================== */
/* Without waiting                                                                          */
/* ======================================================================================== */

/**
 * cio_dgram_try_send() - send one datagram to the peer, without waiting.
 *
 * Return: @len (a datagram goes whole); -EAGAIN when the send buffer is full;
 * -EDESTADDRREQ / -ENOTCONN when no peer is set; -EMSGSIZE (too long for the protocol);
 * -ECONNREFUSED (an earlier datagram drew a refusal); -EPIPE; -EINVAL; -EBADF.
 */
CIO_EXPORT ssize_t cio_dgram_try_send(cio_dgram *dgram, const void *buf, size_t len);

/**
 * cio_dgram_try_send_to() - send one datagram to @addr, without waiting.
 * Return: as cio_dgram_try_send(); -EAFNOSUPPORT for an address the socket cannot send to;
 * -EACCES (broadcast without SO_BROADCAST); -ENETUNREACH; Unix: -ENOENT, -ECONNREFUSED.
 */
CIO_EXPORT ssize_t cio_dgram_try_send_to(cio_dgram *dgram, const void *buf, size_t len,
                                         const cio_addr *addr);

/**
 * cio_dgram_try_recv() - receive one datagram, without waiting.
 * @buf: where to store it (may be NULL when @len is 0); @len: its size.
 *
 * Return: the datagram's length (0 for an empty one); -EAGAIN when none is queued;
 * -EMSGSIZE (truncated, consumed; see the top); -ECONNREFUSED; -EINVAL; -EBADF.
 */
CIO_EXPORT ssize_t cio_dgram_try_recv(cio_dgram *dgram, void *buf, size_t len);

/** cio_dgram_try_recv_from() - cio_dgram_try_recv() that also reports the sender in
 * @ret_from (may be NULL; a Unix sender that is not bound is the unnamed address). */
CIO_EXPORT ssize_t cio_dgram_try_recv_from(cio_dgram *dgram, void *buf, size_t len,
                                           cio_addr *ret_from);

/** cio_dgram_try_peek() / cio_dgram_try_peek_from() - as try_recv / try_recv_from, leaving
 * the datagram queued (a truncated peek is -EMSGSIZE and consumes nothing). */
CIO_EXPORT ssize_t cio_dgram_try_peek(cio_dgram *dgram, void *buf, size_t len);
CIO_EXPORT ssize_t cio_dgram_try_peek_from(cio_dgram *dgram, void *buf, size_t len,
                                           cio_addr *ret_from);

/**
 * cio_dgram_try_peek_sender() - the sender (@ret_from, may be NULL) and full length of the
 * next datagram, without taking it.
 * Return: the length; -EAGAIN; -EINVAL; -EBADF.
 */
CIO_EXPORT ssize_t cio_dgram_try_peek_sender(cio_dgram *dgram, cio_addr *ret_from);

/* ======================================================================================== */
/* Suspending (tasks)                                                                       */
/* ======================================================================================== */

/** cio_dgram_send() / cio_dgram_send_to() - wait until the socket can take a datagram, then
 * send it. Return: as the try_* forms, plus -EBADF (closed while waiting), -ECANCELED,
 * -ETIMEDOUT, -EPERM. */
CIO_EXPORT ssize_t cio_dgram_send(cio_dgram *dgram, const void *buf, size_t len);
CIO_EXPORT ssize_t cio_dgram_send_to(cio_dgram *dgram, const void *buf, size_t len,
                                     const cio_addr *addr);

/** cio_dgram_recv() / _recv_from() / _peek() / _peek_from() / _peek_sender() - wait until a
 * datagram is queued, then as the try_* forms. Cancel safe. */
CIO_EXPORT ssize_t cio_dgram_recv(cio_dgram *dgram, void *buf, size_t len);
CIO_EXPORT ssize_t cio_dgram_recv_from(cio_dgram *dgram, void *buf, size_t len, cio_addr *ret_from);
CIO_EXPORT ssize_t cio_dgram_peek(cio_dgram *dgram, void *buf, size_t len);
CIO_EXPORT ssize_t cio_dgram_peek_from(cio_dgram *dgram, void *buf, size_t len, cio_addr *ret_from);
CIO_EXPORT ssize_t cio_dgram_peek_sender(cio_dgram *dgram, cio_addr *ret_from);

/* ======================================================================================== */
/* Poll form                                                                                */
/* ======================================================================================== */

/**
 * cio_dgram_poll_recv_from() - receive a queued datagram, or arm @wake (see
 * cio_socket_poll_ready()) for when one comes; never waits (tokio's poll_recv_from).
 * Return: the datagram's length; -EAGAIN (armed); the errors of try_recv_from; -EPERM.
 */
CIO_EXPORT ssize_t cio_dgram_poll_recv_from(cio_dgram *dgram, void *buf, size_t len,
                                            cio_addr *ret_from, cio_wake_fn wake, void *ctx);

/**
 * cio_dgram_poll_send_to() - send a datagram to @addr (NULL: the peer), or arm @wake for
 * when the socket can take one; never waits.
 * Return: @len; -EAGAIN (armed); the errors of try_send_to; -EPERM.
 */
CIO_EXPORT ssize_t cio_dgram_poll_send_to(cio_dgram *dgram, const void *buf, size_t len,
                                          const cio_addr *addr, cio_wake_fn wake, void *ctx);

#ifndef CIO_NO_GENERIC
#define cio_dgram_connect(d, a) (cio_dgram_connect)(cio__as_dgram(d), a)
#define cio_dgram_disconnect(d) (cio_dgram_disconnect)(cio__as_dgram(d))
#define cio_dgram_try_send(d, b, n) (cio_dgram_try_send)(cio__as_dgram(d), b, n)
#define cio_dgram_try_send_to(d, b, n, a) (cio_dgram_try_send_to)(cio__as_dgram(d), b, n, a)
#define cio_dgram_try_recv(d, b, n) (cio_dgram_try_recv)(cio__as_dgram(d), b, n)
#define cio_dgram_try_recv_from(d, b, n, a) (cio_dgram_try_recv_from)(cio__as_dgram(d), b, n, a)
#define cio_dgram_try_peek(d, b, n) (cio_dgram_try_peek)(cio__as_dgram(d), b, n)
#define cio_dgram_try_peek_from(d, b, n, a) (cio_dgram_try_peek_from)(cio__as_dgram(d), b, n, a)
#define cio_dgram_try_peek_sender(d, a) (cio_dgram_try_peek_sender)(cio__as_dgram(d), a)
#define cio_dgram_send(d, b, n) (cio_dgram_send)(cio__as_dgram(d), b, n)
#define cio_dgram_send_to(d, b, n, a) (cio_dgram_send_to)(cio__as_dgram(d), b, n, a)
#define cio_dgram_recv(d, b, n) (cio_dgram_recv)(cio__as_dgram(d), b, n)
#define cio_dgram_recv_from(d, b, n, a) (cio_dgram_recv_from)(cio__as_dgram(d), b, n, a)
#define cio_dgram_peek(d, b, n) (cio_dgram_peek)(cio__as_dgram(d), b, n)
#define cio_dgram_peek_from(d, b, n, a) (cio_dgram_peek_from)(cio__as_dgram(d), b, n, a)
#define cio_dgram_peek_sender(d, a) (cio_dgram_peek_sender)(cio__as_dgram(d), a)
#define cio_dgram_poll_recv_from(d, b, n, a, w, c)                                                 \
    (cio_dgram_poll_recv_from)(cio__as_dgram(d), b, n, a, w, c)
#define cio_dgram_poll_send_to(d, b, n, a, w, c)                                                   \
    (cio_dgram_poll_send_to)(cio__as_dgram(d), b, n, a, w, c)
#endif

#ifdef __cplusplus
}
#endif

#endif /* CIO_DGRAM_H */
