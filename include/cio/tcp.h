/*
 * cio/tcp.h: TCP without a runtime — mio's TcpListener and TcpStream and tokio's TcpSocket
 * builder, plus the Linux options a server tunes (quick ack, user timeout, not-sent low-water
 * mark, congestion control, fast open, bind to device) and zero-copy sendfile. Every call
 * here returns at once; drive the sockets from a cio_poll (register cio_tcp_*_fd()) and call
 * the try_* functions until -EAGAIN after each event. The common rules (non-blocking and
 * close-on-exec descriptors, no SIGPIPE, zero-length calls, adopting descriptors) are in
 * cio/net.h.
 *
 * Three handle types, each owning one descriptor:
 *   cio_tcp_listener  a listening socket: cio_tcp_listener_bind(), then try_accept().
 *   cio_tcp_stream    a connection: from try_accept(), cio_tcp_stream_try_connect(), or a
 *                     builder's try_connect().
 *   cio_tcp_socket    a socket being configured before it connects or listens (options
 *                     that must be set before bind/connect/listen: reuseport, v6only, fast
 *                     open, bind-to-device, buffer sizes for the handshake's window...).
 *
 * Non-blocking connect (mio's recipe): cio_tcp_stream_try_connect() returns a stream at once
 * while the handshake goes on. Register it for CIO_WRITABLE; on the writable event call
 * cio_tcp_stream_try_finish_connect(), which reads the pending error (take_error) and then
 * asks for the peer address: 0 means connected, -EAGAIN means not yet (a spurious event —
 * wait again), anything else is why the connection failed (-ECONNREFUSED, -ETIMEDOUT...).
 *
 * Accept under descriptor exhaustion: a listener keeps one spare descriptor. When accept
 * fails with EMFILE/ENFILE, cio closes the spare, accepts every pending connection and closes
 * it at once (the clients see the connection closed), reopens the spare and returns -EMFILE
 * (or -ENFILE). The backlog is then empty, so an edge-triggered loop is not left with
 * connections nobody will report again and a level-triggered loop does not spin: the next
 * try_accept() returns -EAGAIN, even while descriptors are still short, until a new
 * connection arrives (and is shed in turn, or accepted once descriptors are free again).
 * The caller should back off (close idle connections, accept less) — libuv's technique,
 * made visible. The spare is taken back after the next successful accept if it could not
 * be at once; while there is none (several threads shedding at the same moment), -EMFILE
 * leaves the connections queued, and the caller retries after freeing descriptors.
 *
 * Handles: a handle is used by one thread at a time unless stated otherwise;
 * cio_tcp_listener_try_accept() may be called from several threads at once.
 * Every function accepts a NULL handle and returns -EINVAL (or does nothing, for close).
 */
#ifndef CIO_TCP_H
#define CIO_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "cio/addr.h"
#include "cio/common.h"
#include "cio/net.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_tcp_listener cio_tcp_listener;
typedef struct cio_tcp_stream cio_tcp_stream;
typedef struct cio_tcp_socket cio_tcp_socket;

/*
 * Keepalive timing. A field of 0 leaves the kernel's current value (whose defaults come
 * from net.ipv4.tcp_keepalive_time = 7200 s, _intvl = 75 s, _probes = 9).
 */
typedef struct cio_tcp_keepalive {
    int idle_s;     /* TCP_KEEPIDLE: idle seconds before the first probe, 1 to 32767 */
    int interval_s; /* TCP_KEEPINTVL: seconds between probes, 1 to 32767 */
    int count;      /* TCP_KEEPCNT: unanswered probes before the connection drops, 1 to 127 */
} cio_tcp_keepalive;

/* ======================================================================================== */
/* Listener                                                                                 */
/* ======================================================================================== */

/**
 * cio_tcp_listener_bind() - create a listening socket (mio's TcpListener::bind).
 * @ret_listener: receives the listener (written only on success).
 * @addr: an IPv4 or IPv6 address; port 0 lets the kernel pick (read it back with
 *        cio_tcp_listener_local_addr()).
 * @backlog: the listen backlog; 0 or less means CIO_LISTEN_BACKLOG_DEFAULT (1024).
 *
 * Sets SO_REUSEADDR (so a restarted server can bind while old connections sit in
 * TIME_WAIT; two listeners on one port still conflict). An IPv6 wildcard address is
 * dual-stack or not as net.ipv6.bindv6only says; use a cio_tcp_socket to choose.
 *
 * Return: 0; -EINVAL for NULL; -EAFNOSUPPORT for a non-IP address; -EADDRINUSE;
 * -EADDRNOTAVAIL; -EACCES (a privileged port); -EMFILE/-ENFILE; -ENOMEM.
 */
CIO_EXPORT int cio_tcp_listener_bind(cio_tcp_listener **ret_listener, const cio_addr *addr,
                                     int backlog);

/**
 * cio_tcp_listener_try_accept() - accept one pending connection, without waiting.
 * @listener: the listener.
 * @ret_stream: receives the new connection, non-blocking and close-on-exec (accept4).
 * @ret_peer: receives the peer's address; may be NULL.
 *
 * After a readable event, call until -EAGAIN. Connections that were reset while waiting in
 * the backlog are skipped silently. Thread safe: several threads may accept on one listener.
 *
 * Return: 0; -EAGAIN when no connection is pending; -EMFILE/-ENFILE when the process or
 * system is out of descriptors — the pending connections were closed (see the top of this
 * header); -ENOMEM; -EINVAL for NULL.
 */
CIO_EXPORT int cio_tcp_listener_try_accept(cio_tcp_listener *listener, cio_tcp_stream **ret_stream,
                                           cio_addr *ret_peer);

/**
 * cio_tcp_listener_local_addr() - the address the listener is bound to (with the port the
 * kernel picked for port 0).
 *
 * Return: 0; -EINVAL; -EBADF.
 */
CIO_EXPORT int cio_tcp_listener_local_addr(const cio_tcp_listener *listener, cio_addr *ret_addr);

/**
 * cio_tcp_listener_take_error() - read and clear the socket's pending error (SO_ERROR).
 *
 * Return: 0 when there is none; the pending error as a negative errno; or the negative errno
 * of the query itself (-EINVAL, -EBADF).
 */
CIO_EXPORT int cio_tcp_listener_take_error(cio_tcp_listener *listener);

/**
 * cio_tcp_listener_set_ttl() - the IP time-to-live (IPv6: unicast hop limit) of packets the
 * accepted connections send; inherited by connections accepted afterwards.
 * @ttl: 1 to 255.
 *
 * Return: 0; -EINVAL.
 */
CIO_EXPORT int cio_tcp_listener_set_ttl(cio_tcp_listener *listener, int ttl);
/** cio_tcp_listener_ttl() - the kernel's current TTL / hop limit. Return: 0; -EINVAL. */
CIO_EXPORT int cio_tcp_listener_ttl(const cio_tcp_listener *listener, int *ret_ttl);

/**
 * cio_tcp_listener_fd() - the descriptor, to register with a cio_poll (CIO_READABLE).
 * The listener still owns it: do not close it.
 *
 * Return: the descriptor; -EINVAL for NULL.
 */
CIO_EXPORT int cio_tcp_listener_fd(const cio_tcp_listener *listener);

/**
 * cio_tcp_listener_from_fd() - adopt a listening TCP socket made elsewhere (inherited,
 * systemd socket activation...).
 * @ret_listener: receives the listener.
 * @fd: a listening AF_INET/AF_INET6 TCP socket. On success the listener owns it and has made
 *      it non-blocking and close-on-exec; on failure it is untouched and still the caller's.
 *
 * Return: 0; -EBADF; -ENOTSOCK; -EAFNOSUPPORT (not IP); -EPROTOTYPE (not TCP); -EINVAL
 * (not listening); -ENOMEM.
 */
CIO_EXPORT int cio_tcp_listener_from_fd(cio_tcp_listener **ret_listener, int fd);

/**
 * cio_tcp_listener_into_fd() - free the listener and return its descriptor, open, still
 * non-blocking and close-on-exec. The spare descriptor is closed.
 *
 * Return: the descriptor; -EINVAL for NULL.
 */
CIO_EXPORT int cio_tcp_listener_into_fd(cio_tcp_listener *listener);

/**
 * cio_tcp_listener_close() - close the listener and free it (NULL is allowed). Pending
 * connections not yet accepted are reset.
 */
CIO_EXPORT void cio_tcp_listener_close(cio_tcp_listener *listener);

/* ======================================================================================== */
/* Stream                                                                                   */
/* ======================================================================================== */

/**
 * cio_tcp_stream_try_connect() - start connecting, without waiting (mio's
 * TcpStream::connect).
 * @ret_stream: receives the stream, whose handshake is still in progress.
 * @addr: an IPv4 or IPv6 address.
 *
 * Then wait for CIO_WRITABLE and call cio_tcp_stream_try_finish_connect(). An error the
 * kernel knows at once is returned here and no stream is made.
 *
 * Return: 0; -EINVAL for NULL; -EAFNOSUPPORT for a non-IP address; -ECONNREFUSED,
 * -ENETUNREACH, -EADDRNOTAVAIL (no free local port)...; -EMFILE; -ENOMEM.
 */
CIO_EXPORT int cio_tcp_stream_try_connect(cio_tcp_stream **ret_stream, const cio_addr *addr);

/**
 * cio_tcp_stream_try_finish_connect() - whether a connection started without waiting is
 * established: take_error, then the peer address (mio's recipe, in one call).
 *
 * Return: 0 when connected (also for an accepted stream); -EAGAIN while the handshake is in
 * progress; the connect's error (-ECONNREFUSED, -ETIMEDOUT, -EHOSTUNREACH...) when it
 * failed — reported once, as SO_ERROR is; -ENOTCONN for a socket that is neither connected
 * nor connecting (its failure was already taken, or it never connected).
 */
CIO_EXPORT int cio_tcp_stream_try_finish_connect(cio_tcp_stream *stream);

/**
 * cio_tcp_stream_try_read() - read what has arrived, without waiting.
 * @buf: where to store it; @len: its size.
 *
 * Return: bytes read (> 0); 0 at end of stream (the peer shut down writing) — or when @len
 * is 0, which cio never takes for end of stream; -EAGAIN when nothing has arrived; a
 * connection error (-ECONNRESET, -ETIMEDOUT, a failed connect's -ECONNREFUSED); -EINVAL for
 * NULL.
 */
CIO_EXPORT ssize_t cio_tcp_stream_try_read(cio_tcp_stream *stream, void *buf, size_t len);

/**
 * cio_tcp_stream_try_write() - queue bytes for sending, without waiting.
 *
 * May take fewer bytes than offered (the send buffer filled up); the caller keeps the rest
 * and writes it after the next writable event. Never raises SIGPIPE (MSG_NOSIGNAL).
 *
 * Return: bytes taken (> 0); 0 when @len is 0; -EAGAIN when the send buffer is full; -EPIPE
 * when this side shut down writing or the connection is gone; -ECONNRESET; -EINVAL.
 */
CIO_EXPORT ssize_t cio_tcp_stream_try_write(cio_tcp_stream *stream, const void *buf, size_t len);

/**
 * cio_tcp_stream_try_readv() - try_read() scattering into several buffers (recvmsg).
 * @iov: the buffers; @iovcnt: how many, 0 to IOV_MAX.
 *
 * Return: as cio_tcp_stream_try_read(); 0 when the buffers' total length is 0; -EINVAL for a
 * bad iovec array.
 */
CIO_EXPORT ssize_t cio_tcp_stream_try_readv(cio_tcp_stream *stream, const struct iovec *iov,
                                            int iovcnt);

/**
 * cio_tcp_stream_try_writev() - try_write() gathering from several buffers (sendmsg with
 * MSG_NOSIGNAL, so never SIGPIPE).
 *
 * Return: as cio_tcp_stream_try_write(); -EINVAL for a bad iovec array.
 */
CIO_EXPORT ssize_t cio_tcp_stream_try_writev(cio_tcp_stream *stream, const struct iovec *iov,
                                             int iovcnt);

/**
 * cio_tcp_stream_try_peek() - copy what has arrived without consuming it (MSG_PEEK).
 *
 * Return: as cio_tcp_stream_try_read(); a following read returns the same bytes.
 */
CIO_EXPORT ssize_t cio_tcp_stream_try_peek(cio_tcp_stream *stream, void *buf, size_t len);

/**
 * cio_tcp_stream_try_sendfile() - send bytes of a file without copying them through user
 * space (sendfile(2)), without waiting.
 * @file_fd: a file (or anything mmap-able) open for reading.
 * @offset: the file offset to send from, advanced by what was sent; NULL to use and advance
 *          the file position.
 * @count: the most bytes to send (capped at 0x7ffff000 per call, as Linux does).
 *
 * Send buffer full: -EAGAIN. A dead connection gives -EPIPE without SIGPIPE (sendfile has
 * no MSG_NOSIGNAL; cio blocks and consumes the signal, see cio_splice_try()). With
 * cio_tcp_stream_set_cork(), headers written first go out in the same segments.
 *
 * Return: bytes sent (> 0); 0 at end of file, or when @count is 0; -EAGAIN; -EPIPE;
 * -ECONNRESET; -EINVAL (NULL stream, negative offset, a file sendfile cannot read).
 */
CIO_EXPORT ssize_t cio_tcp_stream_try_sendfile(cio_tcp_stream *stream, int file_fd, int64_t *offset,
                                               size_t count);

/**
 * cio_tcp_stream_local_addr() - this end's address. Return: 0; -EINVAL; -EBADF.
 */
CIO_EXPORT int cio_tcp_stream_local_addr(const cio_tcp_stream *stream, cio_addr *ret_addr);

/**
 * cio_tcp_stream_peer_addr() - the other end's address.
 *
 * Return: 0; -ENOTCONN while connecting or after the connection failed; -EINVAL; -EBADF.
 */
CIO_EXPORT int cio_tcp_stream_peer_addr(const cio_tcp_stream *stream, cio_addr *ret_addr);

/**
 * cio_tcp_stream_take_error() - read and clear the pending error (SO_ERROR); the way a
 * failed non-blocking connect reports why.
 *
 * Return: 0 when there is none; the pending error as a negative errno (-ECONNREFUSED...);
 * or the negative errno of the query itself (-EINVAL, -EBADF).
 */
CIO_EXPORT int cio_tcp_stream_take_error(cio_tcp_stream *stream);

/**
 * cio_tcp_stream_shutdown() - shut down reading, writing or both.
 *
 * CIO_SHUTDOWN_WRITE sends FIN once queued data is out: the peer reads end of stream and
 * may keep sending (half-close). CIO_SHUTDOWN_READ makes reads return 0 (data arriving
 * later is acknowledged and dropped by Linux). The descriptor stays open until close.
 *
 * Return: 0; -ENOTCONN when not connected; -EINVAL.
 */
CIO_EXPORT int cio_tcp_stream_shutdown(cio_tcp_stream *stream, cio_shutdown how);

/**
 * cio_tcp_stream_fd() - the descriptor, to register with a cio_poll. Still owned by the
 * stream. Return: the descriptor; -EINVAL for NULL.
 */
CIO_EXPORT int cio_tcp_stream_fd(const cio_tcp_stream *stream);

/**
 * cio_tcp_stream_from_fd() - adopt a TCP socket made elsewhere (connected, connecting or
 * not yet connected; not listening), making it non-blocking and close-on-exec.
 *
 * Return: 0; -EBADF; -ENOTSOCK; -EAFNOSUPPORT; -EPROTOTYPE; -EINVAL (a listening socket);
 * -ENOMEM. On failure @fd is untouched and still the caller's.
 */
CIO_EXPORT int cio_tcp_stream_from_fd(cio_tcp_stream **ret_stream, int fd);

/**
 * cio_tcp_stream_into_fd() - free the stream and return its descriptor (still open,
 * non-blocking, close-on-exec). Return: the descriptor; -EINVAL for NULL.
 */
CIO_EXPORT int cio_tcp_stream_into_fd(cio_tcp_stream *stream);

/**
 * cio_tcp_stream_close() - close the connection and free the stream (NULL is allowed).
 *
 * Queued data is still sent in the background (a FIN follows it), unless linger is set to
 * 0 — then the connection is reset at once and queued data is dropped — or unread data
 * remains in the receive buffer, in which case Linux resets the connection too.
 */
CIO_EXPORT void cio_tcp_stream_close(cio_tcp_stream *stream);

/*
 * Stream options. Each setter returns 0 or a negative errno (-EINVAL for NULL or an
 * out-of-range value, -EBADF, or the kernel's refusal); each getter reads the kernel's
 * current value into its ret_ parameter (written only on success) and returns 0 or a
 * negative errno.
 */

/* TCP_NODELAY: send small segments at once instead of coalescing them (Nagle off). */
CIO_EXPORT int cio_tcp_stream_set_nodelay(cio_tcp_stream *stream, bool on);
CIO_EXPORT int cio_tcp_stream_nodelay(const cio_tcp_stream *stream, bool *ret_on);

/* TCP_CORK: hold partial segments until uncorked (or 200 ms pass); pairs with sendfile. */
CIO_EXPORT int cio_tcp_stream_set_cork(cio_tcp_stream *stream, bool on);
CIO_EXPORT int cio_tcp_stream_cork(const cio_tcp_stream *stream, bool *ret_on);

/* IP_TTL for IPv4, IPV6_UNICAST_HOPS for IPv6: 1 to 255. */
CIO_EXPORT int cio_tcp_stream_set_ttl(cio_tcp_stream *stream, int ttl);
CIO_EXPORT int cio_tcp_stream_ttl(const cio_tcp_stream *stream, int *ret_ttl);

/* IP_TOS for IPv4, IPV6_TCLASS for IPv6: 0 to 255 (Linux keeps the two ECN bits its own). */
CIO_EXPORT int cio_tcp_stream_set_tos(cio_tcp_stream *stream, int tos);
CIO_EXPORT int cio_tcp_stream_tos(const cio_tcp_stream *stream, int *ret_tos);

/*
 * TCP_QUICKACK: acknowledge at once rather than delaying ACKs. Linux clears it by itself
 * as the connection's traffic pattern changes, so the getter reports the current mode, not
 * what was last set.
 */
CIO_EXPORT int cio_tcp_stream_set_quickack(cio_tcp_stream *stream, bool on);
CIO_EXPORT int cio_tcp_stream_quickack(const cio_tcp_stream *stream, bool *ret_on);

/*
 * SO_LINGER in seconds, or CIO_LINGER_OFF. 0 makes close abortive: the connection is reset
 * and queued data dropped (the peer gets -ECONNRESET). A positive value would make close
 * wait; on a non-blocking socket Linux does not wait, so only 0 and OFF are useful here.
 */
CIO_EXPORT int cio_tcp_stream_set_linger(cio_tcp_stream *stream, int seconds);
CIO_EXPORT int cio_tcp_stream_linger(const cio_tcp_stream *stream, int *ret_seconds);

/*
 * SO_KEEPALIVE, with its timing when @params is not NULL (fields of 0 are left as they
 * are). The getter reads all four values; @ret_params may be NULL.
 */
CIO_EXPORT int cio_tcp_stream_set_keepalive(cio_tcp_stream *stream, bool on,
                                            const cio_tcp_keepalive *params);
CIO_EXPORT int cio_tcp_stream_keepalive(const cio_tcp_stream *stream, bool *ret_on,
                                        cio_tcp_keepalive *ret_params);

/*
 * TCP_USER_TIMEOUT in milliseconds: how long sent data may stay unacknowledged before the
 * connection is dropped with -ETIMEDOUT (also bounds keepalive). 0 means the system default.
 * At most INT_MAX.
 */
CIO_EXPORT int cio_tcp_stream_set_user_timeout(cio_tcp_stream *stream, unsigned ms);
CIO_EXPORT int cio_tcp_stream_user_timeout(const cio_tcp_stream *stream, unsigned *ret_ms);

/*
 * TCP_NOTSENT_LOWAT in bytes: report writable only while fewer than this many bytes are
 * queued but not yet sent — keeps the send queue short (less latency, less memory) for
 * streams that produce data on demand. 0 means the system default
 * (net.ipv4.tcp_notsent_lowat).
 */
CIO_EXPORT int cio_tcp_stream_set_notsent_lowat(cio_tcp_stream *stream, unsigned bytes);
CIO_EXPORT int cio_tcp_stream_notsent_lowat(const cio_tcp_stream *stream, unsigned *ret_bytes);

/*
 * TCP_CONGESTION: the congestion control algorithm by name ("cubic", "bbr", "reno"...; see
 * /proc/sys/net/ipv4/tcp_available_congestion_control). Setter: -ENOENT for an algorithm the
 * kernel does not have, -EPERM for one not in tcp_allowed_congestion_control without
 * CAP_NET_ADMIN, -EINVAL for a name of 16 bytes or more. Getter: -ENOSPC if @size is too
 * small for the name and its NUL.
 */
CIO_EXPORT int cio_tcp_stream_set_congestion(cio_tcp_stream *stream, const char *name);
CIO_EXPORT int cio_tcp_stream_congestion(const cio_tcp_stream *stream, char *buf, size_t size);

/* SO_SNDBUF / SO_RCVBUF in bytes. Linux doubles the value given (for its bookkeeping) and
 * clamps it to net.core.wmem_max / rmem_max; the getter returns the kernel's number.
 * Setting a size turns off the kernel's automatic tuning of that buffer. */
CIO_EXPORT int cio_tcp_stream_set_send_buffer_size(cio_tcp_stream *stream, int bytes);
CIO_EXPORT int cio_tcp_stream_send_buffer_size(const cio_tcp_stream *stream, int *ret_bytes);
CIO_EXPORT int cio_tcp_stream_set_recv_buffer_size(cio_tcp_stream *stream, int bytes);
CIO_EXPORT int cio_tcp_stream_recv_buffer_size(const cio_tcp_stream *stream, int *ret_bytes);

/* ======================================================================================== */
/* Socket builder (tokio's TcpSocket)                                                       */
/* ======================================================================================== */

/**
 * cio_tcp_socket_new_v4() / cio_tcp_socket_new_v6() - a TCP socket to configure, then bind,
 * connect or listen.
 * @ret_socket: receives the socket (written only on success).
 *
 * Return: 0; -EINVAL; -EAFNOSUPPORT (no IPv6 in this kernel); -EMFILE; -ENOMEM.
 */
CIO_EXPORT int cio_tcp_socket_new_v4(cio_tcp_socket **ret_socket);
CIO_EXPORT int cio_tcp_socket_new_v6(cio_tcp_socket **ret_socket);

/**
 * cio_tcp_socket_bind() - bind to a local address (before connect or listen).
 *
 * Return: 0; -EINVAL (NULL, or already bound); -EAFNOSUPPORT (address of the other family
 * or not IP); -EADDRINUSE; -EADDRNOTAVAIL; -EACCES.
 */
CIO_EXPORT int cio_tcp_socket_bind(cio_tcp_socket *socket, const cio_addr *addr);

/**
 * cio_tcp_socket_try_connect() - start connecting, without waiting; see
 * cio_tcp_stream_try_connect().
 * @socket: the configured socket. On success it is consumed: the stream takes its descriptor
 *          and @socket is freed. On failure it is still the caller's (close it).
 * @addr: the peer, of the socket's family.
 * @ret_stream: receives the stream.
 *
 * Return: 0; the errors of cio_tcp_stream_try_connect().
 */
CIO_EXPORT int cio_tcp_socket_try_connect(cio_tcp_socket *socket, const cio_addr *addr,
                                          cio_tcp_stream **ret_stream);

/**
 * cio_tcp_socket_listen() - start listening; binds to the wildcard address and a kernel
 * port if not bound.
 * @socket: consumed on success (as for try_connect), still the caller's on failure.
 * @backlog: 0 or less for CIO_LISTEN_BACKLOG_DEFAULT.
 * @ret_listener: receives the listener.
 *
 * Return: 0; -EADDRINUSE; -EINVAL; -ENOMEM.
 */
CIO_EXPORT int cio_tcp_socket_listen(cio_tcp_socket *socket, int backlog,
                                     cio_tcp_listener **ret_listener);

/** cio_tcp_socket_local_addr() - the bound address. Return: 0; -EINVAL; -EBADF. */
CIO_EXPORT int cio_tcp_socket_local_addr(const cio_tcp_socket *socket, cio_addr *ret_addr);
/** cio_tcp_socket_take_error() - as cio_tcp_stream_take_error(). */
CIO_EXPORT int cio_tcp_socket_take_error(cio_tcp_socket *socket);
/** cio_tcp_socket_fd() - the descriptor (still owned by @socket). */
CIO_EXPORT int cio_tcp_socket_fd(const cio_tcp_socket *socket);
/**
 * cio_tcp_socket_from_fd() - adopt a TCP socket that is neither connected nor listening
 * (checked as for cio_tcp_stream_from_fd()).
 */
CIO_EXPORT int cio_tcp_socket_from_fd(cio_tcp_socket **ret_socket, int fd);
/** cio_tcp_socket_into_fd() - free @socket and return its descriptor. */
CIO_EXPORT int cio_tcp_socket_into_fd(cio_tcp_socket *socket);
/** cio_tcp_socket_close() - close and free (NULL is allowed). */
CIO_EXPORT void cio_tcp_socket_close(cio_tcp_socket *socket);

/* Builder options: setters and kernel-reading getters, as for the stream options. */

/* SO_REUSEADDR: bind while connections on the port are in TIME_WAIT. */
CIO_EXPORT int cio_tcp_socket_set_reuseaddr(cio_tcp_socket *socket, bool on);
CIO_EXPORT int cio_tcp_socket_reuseaddr(const cio_tcp_socket *socket, bool *ret_on);
/* SO_REUSEPORT: several sockets (of the same user) listen on one port; the kernel spreads
 * new connections across them. Set on every one before bind. */
CIO_EXPORT int cio_tcp_socket_set_reuseport(cio_tcp_socket *socket, bool on);
CIO_EXPORT int cio_tcp_socket_reuseport(const cio_tcp_socket *socket, bool *ret_on);
/* IPV6_V6ONLY (IPv6 sockets only, before bind): refuse IPv4-mapped traffic. -EINVAL on an
 * IPv4 socket. */
CIO_EXPORT int cio_tcp_socket_set_v6only(cio_tcp_socket *socket, bool on);
CIO_EXPORT int cio_tcp_socket_v6only(const cio_tcp_socket *socket, bool *ret_on);
/* SO_SNDBUF / SO_RCVBUF, as for streams; set before listen/connect so the handshake
 * advertises the window. */
CIO_EXPORT int cio_tcp_socket_set_send_buffer_size(cio_tcp_socket *socket, int bytes);
CIO_EXPORT int cio_tcp_socket_send_buffer_size(const cio_tcp_socket *socket, int *ret_bytes);
CIO_EXPORT int cio_tcp_socket_set_recv_buffer_size(cio_tcp_socket *socket, int bytes);
CIO_EXPORT int cio_tcp_socket_recv_buffer_size(const cio_tcp_socket *socket, int *ret_bytes);
/* SO_KEEPALIVE and its timing, as for streams (inherited by accepted connections). */
CIO_EXPORT int cio_tcp_socket_set_keepalive(cio_tcp_socket *socket, bool on,
                                            const cio_tcp_keepalive *params);
CIO_EXPORT int cio_tcp_socket_keepalive(const cio_tcp_socket *socket, bool *ret_on,
                                        cio_tcp_keepalive *ret_params);
/* SO_LINGER, as for streams. */
CIO_EXPORT int cio_tcp_socket_set_linger(cio_tcp_socket *socket, int seconds);
CIO_EXPORT int cio_tcp_socket_linger(const cio_tcp_socket *socket, int *ret_seconds);
/* TCP_NODELAY, as for streams (inherited by accepted connections). */
CIO_EXPORT int cio_tcp_socket_set_nodelay(cio_tcp_socket *socket, bool on);
CIO_EXPORT int cio_tcp_socket_nodelay(const cio_tcp_socket *socket, bool *ret_on);
/* IP_TOS (IPv4) / IPV6_TCLASS (IPv6), as for streams. */
CIO_EXPORT int cio_tcp_socket_set_tos(cio_tcp_socket *socket, int tos);
CIO_EXPORT int cio_tcp_socket_tos(const cio_tcp_socket *socket, int *ret_tos);
/*
 * SO_BINDTODEVICE: send and receive only through the named interface ("lo", "eth0"); NULL
 * or "" removes the binding. Needs CAP_NET_RAW (-EPERM otherwise); -ENODEV for no such
 * interface; -EINVAL for a name of IF_NAMESIZE (16) bytes or more. The getter writes ""
 * when unbound, -ENOSPC if @size cannot hold the name and its NUL.
 */
CIO_EXPORT int cio_tcp_socket_set_bind_device(cio_tcp_socket *socket, const char *ifname);
CIO_EXPORT int cio_tcp_socket_bind_device(const cio_tcp_socket *socket, char *buf, size_t size);
/*
 * TCP_FASTOPEN_CONNECT (client, before connect; Linux 4.11+): when the client holds a
 * fast-open cookie for the server, connecting sends nothing and the first write goes out in
 * the SYN, saving a round trip. The stream is reported writable at once; write the first
 * data then (cio_tcp_stream_try_finish_connect() says -EAGAIN until that write sends the
 * SYN). A first write that could not carry data returns -EAGAIN: write again when writable.
 * Without a cookie the connect is an ordinary one that asks for a cookie.
 */
CIO_EXPORT int cio_tcp_socket_set_fastopen_connect(cio_tcp_socket *socket, bool on);
CIO_EXPORT int cio_tcp_socket_fastopen_connect(const cio_tcp_socket *socket, bool *ret_on);
/*
 * TCP_FASTOPEN (server, before listen): the number of pending fast-open requests the
 * listener queues (0 turns it off). Accepting data in the SYN also needs the server bit of
 * net.ipv4.tcp_fastopen (value 2 or 3).
 */
CIO_EXPORT int cio_tcp_socket_set_fastopen(cio_tcp_socket *socket, int queue_len);
CIO_EXPORT int cio_tcp_socket_fastopen(const cio_tcp_socket *socket, int *ret_queue_len);

#ifdef __cplusplus
}
#endif

#endif /* CIO_TCP_H */
