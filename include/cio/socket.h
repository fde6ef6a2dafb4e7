/*
 * cio/socket.h: the socket core — what every cio socket has, written and documented once:
 * the handle types and their conversions, close and descriptor conversion, addresses, the
 * pending error, shutdown, the options every socket (or every IP socket) has, and readiness
 * for the runtime (tokio's ready/readable/writable/clear_ready/poll_*_ready/try_io/async_io).
 *
 * Handle types. Each socket kind has its own opaque type, so a function that only makes sense
 * for one kind only takes that kind: cio_tcp_listener, cio_tcp_stream, cio_tcp_socket (a TCP
 * socket being configured), cio_unix_listener, cio_unix_stream, cio_unix_datagram and
 * cio_udp_socket. Above them sit three core types: cio_socket (any socket), cio_stream (a
 * byte stream: TCP or Unix) and cio_dgram (a datagram socket: UDP or Unix). The owned halves
 * of a split stream, cio_read_half and cio_write_half, are views of their stream (cio/stream.h).
 *
 * Conversions cost nothing and are checked by the compiler: every core function is also a
 * macro of the same name that converts its handle argument, so cio_socket_local_addr(s, &a)
 * takes a cio_tcp_stream, a cio_udp_socket, ... and cio_stream_read(s, buf, n) takes a
 * cio_tcp_stream or a cio_unix_stream but refuses, at compile time, a cio_udp_socket. To hold
 * "any stream" in a variable, convert once with cio_as_stream() (and cio_as_socket(),
 * cio_as_dgram()). The plain function stays reachable as (cio_socket_local_addr)(...), e.g.
 * to pass NULL or take its address. Define CIO_NO_GENERIC before including a cio header to
 * turn the macros off (C++ gets overloaded inline conversions instead of _Generic).
 *
 * Conventions (all of cio): a function returns 0 or a count on success and a negative errno
 * on failure; a NULL handle is -EINVAL (or nothing, for close); a closed one is -EBADF. Output
 * parameters ret_* are written only on success. A handle is used by one thread at a time
 * unless a function says otherwise; in a runtime, one reader task and one writer task may use
 * a stream at once (see cio/io.h).
 */
#ifndef CIO_SOCKET_H
#define CIO_SOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "cio/addr.h"
#include "cio/common.h"
#include "cio/io.h"
#include "cio/net.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The core types. */
typedef struct cio_socket cio_socket;
typedef struct cio_stream cio_stream;
typedef struct cio_dgram cio_dgram;
typedef struct cio_read_half cio_read_half;
typedef struct cio_write_half cio_write_half;

/* The socket kinds (their constructors live in cio/tcp.h, cio/unix.h, cio/udp.h). */
typedef struct cio_tcp_listener cio_tcp_listener;
typedef struct cio_tcp_stream cio_tcp_stream;
typedef struct cio_tcp_socket cio_tcp_socket;
typedef struct cio_unix_listener cio_unix_listener;
typedef struct cio_unix_stream cio_unix_stream;
typedef struct cio_unix_datagram cio_unix_datagram;
typedef struct cio_udp_socket cio_udp_socket;

/* ======================================================================================== */
/* Lifetime and descriptor                                                                  */
/* ======================================================================================== */

/**
 * cio_socket_close() - close the socket and free its handle (NULL is allowed).
 *
 * Releases everything the handle owns: its registration with a runtime (a task waiting on
 * it wakes with -EBADF; the descriptor is not closed while that task can still touch it) and,
 * for a listener, its spare descriptor (and its socket file, for a Unix listener with
 * unlink-on-close). A TCP connection's queued data is still sent in the background unless
 * linger is 0 (the connection is then reset); unread received data makes Linux reset it too.
 * A stream split into owned halves is closed by closing both halves instead.
 */
CIO_EXPORT void cio_socket_close(cio_socket *sock);

/**
 * cio_socket_fd() - the descriptor, to register with a cio_poll or pass to a system call.
 * The handle still owns it: do not close it.
 *
 * Return: the descriptor; -EINVAL for NULL; -EBADF once closed.
 */
CIO_EXPORT int cio_socket_fd(cio_socket *sock);

/**
 * cio_socket_into_fd() - free the handle and give its descriptor to the caller, open, still
 * non-blocking and close-on-exec. Its runtime registration (if any) is removed first. On the
 * io_uring backend, bytes of a TCP stream the ring received and no read took are dropped with
 * it (cio/io.h): read until -EAGAIN first.
 *
 * Return: the descriptor; -EINVAL for NULL; -EBADF once closed.
 */
CIO_EXPORT int cio_socket_into_fd(cio_socket *sock);

/* ======================================================================================== */
/* Addresses, state, binding                                                                */
/* ======================================================================================== */

/**
 * cio_socket_local_addr() - this end's address (with the port the kernel picked for port 0).
 * Return: 0; -EINVAL; -EBADF.
 */
CIO_EXPORT int cio_socket_local_addr(cio_socket *sock, cio_addr *ret_addr);

/**
 * cio_socket_peer_addr() - the other end's address.
 * Return: 0; -ENOTCONN when not connected (yet, or any more); -EINVAL; -EBADF.
 */
CIO_EXPORT int cio_socket_peer_addr(cio_socket *sock, cio_addr *ret_addr);

/**
 * cio_socket_take_error() - read and clear the pending error (SO_ERROR); the way a failed
 * non-blocking connect reports why.
 *
 * Return: 0 when there is none; the pending error as a negative errno (-ECONNREFUSED...);
 * or the negative errno of the query itself (-EINVAL, -EBADF).
 */
CIO_EXPORT int cio_socket_take_error(cio_socket *sock);

/**
 * cio_socket_bind() - bind this (not yet bound) socket to @addr: a cio_tcp_socket before it
 * connects or listens, an unbound UDP socket or Unix datagram socket. Constructors that
 * create a socket already bound are named *_new (cio_udp_socket_new...), never *_bind.
 * @addr: an address of the socket's family (port 0: the kernel picks one).
 *
 * Return: 0; -EINVAL (NULL, already bound); -EAFNOSUPPORT (another family); -EADDRINUSE;
 * -EADDRNOTAVAIL; -EACCES; -EBADF.
 */
CIO_EXPORT int cio_socket_bind(cio_socket *sock, const cio_addr *addr);

/**
 * cio_socket_shutdown() - shut down reading, writing or both.
 *
 * CIO_SHUTDOWN_WRITE on a stream sends FIN once queued data is out: the peer reads end of
 * stream and may keep sending (half-close). CIO_SHUTDOWN_READ discards nothing; what it does
 * is the kernel's, and differs per kind (Linux 6.x, as cio's tests check):
 *  - TCP stream: data already queued is still read; an empty queue reads as end of stream
 *    (0 at once, the socket reported readable) instead of -EAGAIN; the peer is not told, and
 *    what it sends afterwards is queued and read too.
 *  - Unix stream: queued data is still read, then 0; the peer's writes fail with -EPIPE.
 *  - Unix datagram: queued datagrams are still received, then -EAGAIN; the peer's sends
 *    fail with -EPIPE.
 *  - UDP: nothing changes that a program can see.
 * To ignore input, stop reading it (or close). The descriptor stays open until close.
 * Accepts a write half too.
 *
 * Return: 0; -ENOTCONN when not connected; -EINVAL; -EBADF.
 */
CIO_EXPORT int cio_socket_shutdown(cio_socket *sock, cio_shutdown how);

/* ======================================================================================== */
/* Options every socket has                                                                 */
/* ======================================================================================== */
/*
 * Each setter returns 0 or a negative errno (-EINVAL for NULL or an out-of-range value,
 * -EBADF, -EAFNOSUPPORT for an IP option on a Unix socket, -ENOPROTOOPT, or the kernel's
 * refusal); each getter reads the kernel's current value into its ret_ parameter (written
 * only on success) and returns 0 or a negative errno.
 */

/** cio_socket_set_send_buffer_size() - SO_SNDBUF in bytes (the kernel doubles it, within
 * net.core.wmem_max); the getter returns the kernel's value. */
CIO_EXPORT int cio_socket_set_send_buffer_size(cio_socket *sock, int bytes);
CIO_EXPORT int cio_socket_send_buffer_size(cio_socket *sock, int *ret_bytes);
/** cio_socket_set_recv_buffer_size() - SO_RCVBUF, as the send buffer. */
CIO_EXPORT int cio_socket_set_recv_buffer_size(cio_socket *sock, int bytes);
CIO_EXPORT int cio_socket_recv_buffer_size(cio_socket *sock, int *ret_bytes);

/**
 * cio_socket_set_linger() - SO_LINGER in seconds: close waits (in the background, cio's
 * close never blocks the caller for it) up to that long for queued data; 0 resets the
 * connection at close; CIO_LINGER_OFF (any negative) restores the default. The getter
 * reports CIO_LINGER_OFF when off.
 */
CIO_EXPORT int cio_socket_set_linger(cio_socket *sock, int seconds);
CIO_EXPORT int cio_socket_linger(cio_socket *sock, int *ret_seconds);

/** cio_socket_set_reuseaddr() - SO_REUSEADDR (before bind). */
CIO_EXPORT int cio_socket_set_reuseaddr(cio_socket *sock, bool on);
CIO_EXPORT int cio_socket_reuseaddr(cio_socket *sock, bool *ret_on);
/** cio_socket_set_reuseport() - SO_REUSEPORT (before bind): sockets of one user bound to one
 * address share incoming connections or datagrams. */
CIO_EXPORT int cio_socket_set_reuseport(cio_socket *sock, bool on);
CIO_EXPORT int cio_socket_reuseport(cio_socket *sock, bool *ret_on);

/**
 * cio_socket_set_bind_device() - SO_BINDTODEVICE: only packets of interface @ifname (shorter
 * than IF_NAMESIZE; NULL or "" removes the binding). Needs CAP_NET_RAW unless unbinding.
 * The getter writes the name ("" when unbound) into @buf of @size bytes: -ENOSPC if short.
 */
CIO_EXPORT int cio_socket_set_bind_device(cio_socket *sock, const char *ifname);
CIO_EXPORT int cio_socket_bind_device(cio_socket *sock, char *buf, size_t size);

/* IP sockets (TCP and UDP); -EAFNOSUPPORT on a Unix socket. */

/** cio_socket_set_ttl() - unicast TTL (IPv6: hop limit), 1 to 255; a listener passes it on
 * to the connections it accepts. */
CIO_EXPORT int cio_socket_set_ttl(cio_socket *sock, int ttl);
CIO_EXPORT int cio_socket_ttl(cio_socket *sock, int *ret_ttl);
/** cio_socket_set_tos() - IP TOS byte (IPv6: traffic class), 0 to 255. */
CIO_EXPORT int cio_socket_set_tos(cio_socket *sock, int tos);
CIO_EXPORT int cio_socket_tos(cio_socket *sock, int *ret_tos);
/** cio_socket_set_v6only() - IPV6_V6ONLY (before bind; -EINVAL on an IPv4 socket): an IPv6
 * wildcard socket then refuses IPv4 peers. */
CIO_EXPORT int cio_socket_set_v6only(cio_socket *sock, bool on);
CIO_EXPORT int cio_socket_v6only(cio_socket *sock, bool *ret_on);

/* ======================================================================================== */
/* Readiness (runtime): the rules are in cio/io.h                                            */
/* ======================================================================================== */
/*
 * These take any socket, a half of a split stream, or a cio_async_fd. All but try_io and
 * poll_ready must be called from a task (else -EPERM). A socket registers with the calling
 * task's worker the first time it waits.
 */

/**
 * cio_socket_ready() - wait until the socket is ready for any of @interest (tokio's ready()).
 * @interest: CIO_READABLE, CIO_WRITABLE and/or CIO_PRIORITY (cio/poll.h).
 *
 * Returns at once when cached readiness satisfies @interest; else suspends until an edge
 * does. Readiness may be stale (spurious): the caller's operation decides. When it says
 * -EAGAIN, hand the value returned here to cio_socket_clear_ready(): it clears only if no
 * newer edge arrived since (the tick it carries). Any number of tasks may wait on one socket
 * and direction; an edge wakes them all. Spends one unit of the cooperative budget.
 *
 * Return: a readiness value (> 0): test it with the CIO_READY_* bits, pass it whole to
 * clear_ready; -EINVAL; -EBADF (closed while waiting); -ECANCELED; -ETIMEDOUT; -EPERM.
 * Cancel safe.
 */
CIO_EXPORT int cio_socket_ready(cio_socket *sock, unsigned interest);

/** cio_socket_readable() - cio_socket_ready(sock, CIO_READABLE). */
CIO_EXPORT int cio_socket_readable(cio_socket *sock);

/** cio_socket_writable() - cio_socket_ready(sock, CIO_WRITABLE). */
CIO_EXPORT int cio_socket_writable(cio_socket *sock);

/**
 * cio_socket_clear_ready() - forget readiness the caller found stale.
 * @ready: a value returned by ready/readable/writable/poll_ready: its readiness bits are
 *         cleared unless an event arrived after it was read (the tick it carries no longer
 *         matches), so a stale clear never erases a newer edge. Closed states are never
 *         cleared. Any thread; a value <= 0 does nothing.
 */
CIO_EXPORT void cio_socket_clear_ready(cio_socket *sock, int ready);

/**
 * cio_socket_poll_ready() - readiness now, without waiting, for hand-written state machines
 * (tokio's poll_read_ready / poll_write_ready).
 * @interest: CIO_READABLE or CIO_WRITABLE (one direction).
 * @wake, @ctx: when not ready, called once when the direction next becomes ready (on the
 *              reactor's thread, without locks held); one callback per direction is kept —
 *              a new one replaces the old. NULL to only check.
 *
 * From a task the socket registers on first use; from a plain thread it must already be
 * registered.
 *
 * Return: a readiness value as cio_socket_ready(); -EAGAIN when not ready (@wake armed);
 * -EINVAL; -EBADF; -EPERM (unregistered, outside a task).
 */
CIO_EXPORT int cio_socket_poll_ready(cio_socket *sock, unsigned interest, cio_wake_fn wake,
                                     void *ctx);

/**
 * cio_socket_try_io() - run the caller's own non-blocking operation @fn once under cio's
 * readiness bookkeeping (tokio's try_io): if cached readiness for @interest is empty,
 * return -EAGAIN without calling it; if @fn returns -EAGAIN, clear the readiness (tick
 * rule), so the next wait suspends. Never waits; usable outside tasks.
 *
 * Return: @fn's result; -EAGAIN; -EINVAL.
 */
CIO_EXPORT ssize_t cio_socket_try_io(cio_socket *sock, unsigned interest, cio_io_fn fn, void *ctx);

/**
 * cio_socket_async_io() - run @fn until it does not return -EAGAIN, waiting for @interest
 * between attempts (tokio's async_io). Cancel safe when @fn consumes nothing on -EAGAIN.
 *
 * Return: @fn's result; -EBADF; -ECANCELED; -ETIMEDOUT; -EPERM outside a task.
 */
CIO_EXPORT ssize_t cio_socket_async_io(cio_socket *sock, unsigned interest, cio_io_fn fn,
                                       void *ctx);

/* ======================================================================================== */
/* Conversions                                                                              */
/* ======================================================================================== */

#ifdef __cplusplus
} /* extern "C" */

/* C++: overloads instead of _Generic. */
#define CIO__CONV(name, to, from)                                                                  \
    static inline to *name(from *x)                                                                \
    {                                                                                              \
        return (to *)(void *)x;                                                                    \
    }
CIO__CONV(cio__as_socket, cio_socket, cio_socket)
CIO__CONV(cio__as_socket, cio_socket, cio_stream)
CIO__CONV(cio__as_socket, cio_socket, cio_dgram)
CIO__CONV(cio__as_socket, cio_socket, cio_tcp_listener)
CIO__CONV(cio__as_socket, cio_socket, cio_tcp_stream)
CIO__CONV(cio__as_socket, cio_socket, cio_tcp_socket)
CIO__CONV(cio__as_socket, cio_socket, cio_unix_listener)
CIO__CONV(cio__as_socket, cio_socket, cio_unix_stream)
CIO__CONV(cio__as_socket, cio_socket, cio_unix_datagram)
CIO__CONV(cio__as_socket, cio_socket, cio_udp_socket)
CIO__CONV(cio__as_socket_or_half, cio_socket, cio_socket)
CIO__CONV(cio__as_socket_or_half, cio_socket, cio_stream)
CIO__CONV(cio__as_socket_or_half, cio_socket, cio_dgram)
CIO__CONV(cio__as_socket_or_half, cio_socket, cio_tcp_listener)
CIO__CONV(cio__as_socket_or_half, cio_socket, cio_tcp_stream)
CIO__CONV(cio__as_socket_or_half, cio_socket, cio_tcp_socket)
CIO__CONV(cio__as_socket_or_half, cio_socket, cio_unix_listener)
CIO__CONV(cio__as_socket_or_half, cio_socket, cio_unix_stream)
CIO__CONV(cio__as_socket_or_half, cio_socket, cio_unix_datagram)
CIO__CONV(cio__as_socket_or_half, cio_socket, cio_udp_socket)
CIO__CONV(cio__as_socket_or_half, cio_socket, cio_read_half)
CIO__CONV(cio__as_socket_or_half, cio_socket, cio_write_half)
CIO__CONV(cio__as_pollable, cio_socket, cio_socket)
CIO__CONV(cio__as_pollable, cio_socket, cio_stream)
CIO__CONV(cio__as_pollable, cio_socket, cio_dgram)
CIO__CONV(cio__as_pollable, cio_socket, cio_tcp_listener)
CIO__CONV(cio__as_pollable, cio_socket, cio_tcp_stream)
CIO__CONV(cio__as_pollable, cio_socket, cio_tcp_socket)
CIO__CONV(cio__as_pollable, cio_socket, cio_unix_listener)
CIO__CONV(cio__as_pollable, cio_socket, cio_unix_stream)
CIO__CONV(cio__as_pollable, cio_socket, cio_unix_datagram)
CIO__CONV(cio__as_pollable, cio_socket, cio_udp_socket)
CIO__CONV(cio__as_pollable, cio_socket, cio_read_half)
CIO__CONV(cio__as_pollable, cio_socket, cio_write_half)
CIO__CONV(cio__as_pollable, cio_socket, cio_async_fd)
CIO__CONV(cio__as_stream, cio_stream, cio_stream)
CIO__CONV(cio__as_stream, cio_stream, cio_tcp_stream)
CIO__CONV(cio__as_stream, cio_stream, cio_unix_stream)
CIO__CONV(cio__as_reader, cio_stream, cio_stream)
CIO__CONV(cio__as_reader, cio_stream, cio_tcp_stream)
CIO__CONV(cio__as_reader, cio_stream, cio_unix_stream)
CIO__CONV(cio__as_reader, cio_stream, cio_read_half)
CIO__CONV(cio__as_writer, cio_stream, cio_stream)
CIO__CONV(cio__as_writer, cio_stream, cio_tcp_stream)
CIO__CONV(cio__as_writer, cio_stream, cio_unix_stream)
CIO__CONV(cio__as_writer, cio_stream, cio_write_half)
CIO__CONV(cio__as_dgram, cio_dgram, cio_dgram)
CIO__CONV(cio__as_dgram, cio_dgram, cio_udp_socket)
CIO__CONV(cio__as_dgram, cio_dgram, cio_unix_datagram)
CIO__CONV(cio__as_tcp, cio_socket, cio_tcp_listener)
CIO__CONV(cio__as_tcp, cio_socket, cio_tcp_stream)
CIO__CONV(cio__as_tcp, cio_socket, cio_tcp_socket)
CIO__CONV(cio__as_unix, cio_socket, cio_unix_stream)
CIO__CONV(cio__as_unix, cio_socket, cio_unix_datagram)
CIO__CONV(cio__as_unix, cio_socket, cio_read_half)
CIO__CONV(cio__as_unix, cio_socket, cio_write_half)
#undef CIO__CONV
extern "C" {
#else

/* The owning handles: every socket kind and core type, not the halves. */
#define CIO__OWNING(x, T)                                                                          \
    cio_socket                                                                                     \
        * : (T)(void *)(x),                                                                        \
            cio_stream                                                                             \
                * : (T)(void *)(x),                                                                \
                    cio_dgram                                                                      \
                        * : (T)(void *)(x),                                                        \
                            cio_tcp_listener                                                       \
                                * : (T)(void *)(x),                                                \
                                    cio_tcp_stream                                                 \
                                        * : (T)(void *)(x),                                        \
                                            cio_tcp_socket                                         \
                                                * : (T)(void *)(x),                                \
                                                    cio_unix_listener                              \
                                                        * : (T)(void *)(x),                        \
                                                            cio_unix_stream                        \
                                                                * : (T)(void *)(x),                \
                                                                    cio_unix_datagram              \
                                                                        * : (T)(void *)(x),        \
                                                                            cio_udp_socket         \
                                                                                * : (T)(void *)(x)
#define CIO__STREAMS(x, T)                                                                         \
    cio_stream * : (T)(void *)(x),                                                                 \
                   cio_tcp_stream * : (T)(void *)(x),                                              \
                                      cio_unix_stream * : (T)(void *)(x)
#define CIO__HALVES(x, T) cio_read_half * : (T)(void *)(x), cio_write_half * : (T)(void *)(x)

#define cio__as_socket(x) _Generic((x), CIO__OWNING(x, cio_socket *))
#define cio__as_socket_or_half(x)                                                                  \
    _Generic((x), CIO__OWNING(x, cio_socket *), CIO__HALVES(x, cio_socket *))
#define cio__as_pollable(x)                                                                        \
    _Generic((x), CIO__OWNING(x, cio_socket *), CIO__HALVES(x, cio_socket *), cio_async_fd *       \
             : (cio_socket *)(void *)(x))
#define cio__as_stream(x) _Generic((x), CIO__STREAMS(x, cio_stream *))
#define cio__as_reader(x)                                                                          \
    _Generic((x), CIO__STREAMS(x, cio_stream *), cio_read_half * : (cio_stream *)(void *)(x))
#define cio__as_writer(x)                                                                          \
    _Generic((x), CIO__STREAMS(x, cio_stream *), cio_write_half * : (cio_stream *)(void *)(x))
#define cio__as_dgram(x)                                                                           \
    _Generic((x), cio_dgram *                                                                      \
             : (cio_dgram *)(void *)(x), cio_udp_socket *                                          \
             : (cio_dgram *)(void *)(x), cio_unix_datagram *                                       \
             : (cio_dgram *)(void *)(x))
#define cio__as_tcp(x)                                                                             \
    _Generic((x), cio_tcp_listener *                                                               \
             : (cio_socket *)(void *)(x), cio_tcp_stream *                                         \
             : (cio_socket *)(void *)(x), cio_tcp_socket *                                         \
             : (cio_socket *)(void *)(x))
#define cio__as_unix(x)                                                                            \
    _Generic((x), cio_unix_stream *                                                                \
             : (cio_socket *)(void *)(x), cio_unix_datagram *                                      \
             : (cio_socket *)(void *)(x), CIO__HALVES(x, cio_socket *))
#endif

/**
 * cio_as_socket() - any socket handle as a cio_socket (no cost; the compiler refuses what is
 * not a socket handle). cio_as_stream(): a cio_tcp_stream or cio_unix_stream as a
 * cio_stream. cio_as_dgram(): a cio_udp_socket or cio_unix_datagram as a cio_dgram. A NULL
 * handle converts to NULL.
 */
#define cio_as_socket(x) cio__as_socket(x)
#define cio_as_stream(x) cio__as_stream(x)
#define cio_as_dgram(x) cio__as_dgram(x)

#ifndef CIO_NO_GENERIC
#define cio_socket_close(s) (cio_socket_close)(cio__as_socket(s))
#define cio_socket_fd(s) (cio_socket_fd)(cio__as_socket_or_half(s))
#define cio_socket_into_fd(s) (cio_socket_into_fd)(cio__as_socket(s))
#define cio_socket_local_addr(s, a) (cio_socket_local_addr)(cio__as_socket_or_half(s), a)
#define cio_socket_peer_addr(s, a) (cio_socket_peer_addr)(cio__as_socket_or_half(s), a)
#define cio_socket_take_error(s) (cio_socket_take_error)(cio__as_socket_or_half(s))
#define cio_socket_bind(s, a) (cio_socket_bind)(cio__as_socket(s), a)
#define cio_socket_shutdown(s, h) (cio_socket_shutdown)(cio__as_socket_or_half(s), h)
#define cio_socket_set_send_buffer_size(s, v)                                                      \
    (cio_socket_set_send_buffer_size)(cio__as_socket_or_half(s), v)
#define cio_socket_send_buffer_size(s, r)                                                          \
    (cio_socket_send_buffer_size)(cio__as_socket_or_half(s), r)
#define cio_socket_set_recv_buffer_size(s, v)                                                      \
    (cio_socket_set_recv_buffer_size)(cio__as_socket_or_half(s), v)
#define cio_socket_recv_buffer_size(s, r)                                                          \
    (cio_socket_recv_buffer_size)(cio__as_socket_or_half(s), r)
#define cio_socket_set_linger(s, v) (cio_socket_set_linger)(cio__as_socket_or_half(s), v)
#define cio_socket_linger(s, r) (cio_socket_linger)(cio__as_socket_or_half(s), r)
#define cio_socket_set_reuseaddr(s, v) (cio_socket_set_reuseaddr)(cio__as_socket_or_half(s), v)
#define cio_socket_reuseaddr(s, r) (cio_socket_reuseaddr)(cio__as_socket_or_half(s), r)
#define cio_socket_set_reuseport(s, v) (cio_socket_set_reuseport)(cio__as_socket_or_half(s), v)
#define cio_socket_reuseport(s, r) (cio_socket_reuseport)(cio__as_socket_or_half(s), r)
#define cio_socket_set_bind_device(s, v) (cio_socket_set_bind_device)(cio__as_socket_or_half(s), v)
#define cio_socket_bind_device(s, b, n) (cio_socket_bind_device)(cio__as_socket_or_half(s), b, n)
#define cio_socket_set_ttl(s, v) (cio_socket_set_ttl)(cio__as_socket_or_half(s), v)
#define cio_socket_ttl(s, r) (cio_socket_ttl)(cio__as_socket_or_half(s), r)
#define cio_socket_set_tos(s, v) (cio_socket_set_tos)(cio__as_socket_or_half(s), v)
#define cio_socket_tos(s, r) (cio_socket_tos)(cio__as_socket_or_half(s), r)
#define cio_socket_set_v6only(s, v) (cio_socket_set_v6only)(cio__as_socket_or_half(s), v)
#define cio_socket_v6only(s, r) (cio_socket_v6only)(cio__as_socket_or_half(s), r)
#define cio_socket_ready(s, i) (cio_socket_ready)(cio__as_pollable(s), i)
#define cio_socket_readable(s) (cio_socket_readable)(cio__as_pollable(s))
#define cio_socket_writable(s) (cio_socket_writable)(cio__as_pollable(s))
#define cio_socket_clear_ready(s, r) (cio_socket_clear_ready)(cio__as_pollable(s), r)
#define cio_socket_poll_ready(s, i, w, c) (cio_socket_poll_ready)(cio__as_pollable(s), i, w, c)
#define cio_socket_try_io(s, i, f, c) (cio_socket_try_io)(cio__as_pollable(s), i, f, c)
#define cio_socket_async_io(s, i, f, c) (cio_socket_async_io)(cio__as_pollable(s), i, f, c)
#endif

#ifdef __cplusplus
}
#endif

#endif /* CIO_SOCKET_H */
