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

/* ---- async operations (inside runtime tasks; see cio/io.h and cio/rt.h) ---- */
/*
 * tokio's net::tcp in C. These functions suspend the calling runtime task where the try_*
 * functions above would return -EAGAIN, and return when the operation is done. They are
 * called from a task (else -EPERM), on a handle from any source (bind, accept, connect, the
 * builder, from_fd). The socket registers with the reactor of the calling task's worker the
 * first time it has to wait; see cio/io.h for the readiness rules:
 *  - A ready socket costs one system call per operation and no reactor round trip; a read
 *    that returns fewer bytes than asked clears read readiness (the socket is drained), so a
 *    request/response exchange costs one recv and one send per message.
 *  - One reader task and one writer task may use a stream at once (on any workers). A second
 *    task waiting in a direction where one already waits gets -EBUSY. A listener has one
 *    accepting task at a time.
 *  - Closing a stream while a task waits on it wakes that task with -EBADF (it must not
 *    touch the handle again).
 *  - Every suspending call returns -ECANCELED when the task is cancelled and -ETIMEDOUT when
 *    its deadline (cio_deadline_set) passes (cio/rt.h).
 *
 * CANCEL SAFETY. read, readv, peek, accept, readable, writable and ready consume nothing when
 * they return -ECANCELED or -ETIMEDOUT: call them again and no byte or connection is lost.
 * write and writev return -ECANCELED/-ETIMEDOUT only when they wrote nothing. read_exact,
 * write_all and write_all_v may be cut after part of the transfer: they report the bytes
 * moved in *ret_done (written in every case, success or not — unlike other ret_
 * parameters), so the caller can resume. The copy functions report the bytes delivered; the
 * bytes in flight inside the copy (in its pipe or buffer) when it is cut short are lost.
 * Connect closes its socket on any failure.
 *
 * The poll_* functions are for state machines that do not suspend: they return at once,
 * either with a result or with -EAGAIN after arming a wake callback (cio_wake_fn, cio/io.h)
 * that is called once the direction becomes ready. Only the latest callback per direction is
 * kept; closing the handle calls an armed callback. They may be called outside a task once
 * the handle is registered (a first call from a task, or any earlier wait, registers it).
 *
 * Shutdown has no async form: cio_tcp_stream_shutdown() never waits.
 */
#ifndef CIO_TCP_ASYNC_H
#define CIO_TCP_ASYNC_H

#include "cio/io.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- listener ---- */

/**
 * cio_tcp_listener_accept() - wait for a connection and accept it (tokio's
 * TcpListener::accept).
 * @listener: the listener; one accepting task at a time.
 * @ret_stream: receives the new stream (non-blocking, close-on-exec), written only on
 *              success.
 * @ret_peer: receives the peer's address; may be NULL.
 *
 * Suspends while no connection is pending. Cancel safe: a -ECANCELED/-ETIMEDOUT accept took
 * no connection from the backlog. Out of descriptors, the non-blocking layer's defence
 * applies (see the top of this header): the pending connections are shed and -EMFILE or
 * -ENFILE is returned at once. Back off before accepting again — sleep a little (tens of
 * milliseconds) or close idle connections — since connections arriving meanwhile are shed
 * too, not queued.
 *
 * Return: 0; -EMFILE/-ENFILE; -ENOMEM; -EBUSY (another task is accepting); -EBADF (closed
 * while waiting); -ECANCELED; -ETIMEDOUT; -EINVAL; -EPERM outside a task.
 */
CIO_EXPORT int cio_tcp_listener_accept(cio_tcp_listener *listener, cio_tcp_stream **ret_stream,
                                       cio_addr *ret_peer);

/**
 * cio_tcp_listener_poll_accept() - accept a pending connection, or arm @wake (may be NULL)
 * to be called when one arrives; never waits.
 *
 * Return: 0 with *ret_stream set; -EAGAIN (the callback is armed); the other errors of
 * cio_tcp_listener_accept() except -ECANCELED/-ETIMEDOUT/-EBUSY; -EPERM outside a task when
 * the listener was never registered.
 */
CIO_EXPORT int cio_tcp_listener_poll_accept(cio_tcp_listener *listener, cio_tcp_stream **ret_stream,
                                            cio_addr *ret_peer, cio_wake_fn wake, void *ctx);

/* ---- connect ---- */

/**
 * cio_tcp_stream_connect_addr() - connect to one address and wait for the handshake
 * (tokio's TcpStream::connect with a SocketAddr; host names with DNS and multi-address
 * fallback are not handled here).
 * @ret_stream: receives the connected stream, written only on success.
 * @addr: an IPv4 or IPv6 address.
 *
 * Starts a non-blocking connect, suspends until the socket is writable, then reads the
 * outcome (take_error). On any failure, deadline or cancellation the socket is closed: no
 * half-open connection or descriptor is left. Bound the wait with cio_deadline_set(); the
 * kernel alone gives up only after its SYN retries (about two minutes on Linux).
 *
 * Return: 0; -ECONNREFUSED; -ENETUNREACH; -EHOSTUNREACH; -ETIMEDOUT (the kernel's, or the
 * task's deadline); -ECANCELED; -EADDRNOTAVAIL; -EAFNOSUPPORT; -EMFILE; -ENOMEM; -EINVAL;
 * -EPERM outside a task.
 */
CIO_EXPORT int cio_tcp_stream_connect_addr(cio_tcp_stream **ret_stream, const cio_addr *addr);

/**
 * cio_tcp_socket_connect() - connect a configured builder socket and wait for the handshake
 * (tokio's TcpSocket::connect).
 * @socket: consumed in every case — it becomes the stream on success and is closed on any
 *          failure (unlike cio_tcp_socket_try_connect()); NULL gives -EINVAL.
 * @addr: the peer, of the socket's family.
 * @ret_stream: receives the connected stream.
 *
 * With cio_tcp_socket_set_fastopen_connect() on, returns as soon as the connect has started:
 * the handshake goes out with the first write.
 *
 * Return: as cio_tcp_stream_connect_addr().
 */
CIO_EXPORT int cio_tcp_socket_connect(cio_tcp_socket *socket, const cio_addr *addr,
                                      cio_tcp_stream **ret_stream);

/* ---- reading ---- */

/**
 * cio_tcp_stream_read() - wait until bytes have arrived (or the stream ended) and read them.
 * @buf, @len: where to store them.
 *
 * Returns as soon as at least one byte is read. Cancel safe.
 *
 * Return: bytes read (> 0); 0 at end of stream (and for @len 0, without waiting);
 * -ECONNRESET and other connection errors; -EBUSY; -EBADF (closed while waiting);
 * -ECANCELED; -ETIMEDOUT; -EINVAL; -EPERM outside a task.
 */
CIO_EXPORT ssize_t cio_tcp_stream_read(cio_tcp_stream *stream, void *buf, size_t len);

/**
 * cio_tcp_stream_read_exact() - read exactly @len bytes, waiting as needed.
 * @ret_done: receives the bytes read into @buf, in every case (may be NULL): @len on success,
 *            the progress made when an error, the deadline or a cancellation cut it short.
 *
 * Not cancel safe as a whole, but nothing is lost: the first *ret_done bytes of @buf are
 * the stream's next bytes; resume with @buf + *ret_done.
 *
 * Return: 0 when all @len bytes were read; -EPIPE when the stream ended (the peer shut down
 * writing) before @len bytes came; the errors of cio_tcp_stream_read().
 */
CIO_EXPORT int cio_tcp_stream_read_exact(cio_tcp_stream *stream, void *buf, size_t len,
                                         size_t *ret_done);

/**
 * cio_tcp_stream_readv() - cio_tcp_stream_read() scattering into several buffers (recvmsg).
 * @iov, @iovcnt: the buffers, 0 to IOV_MAX of them.
 *
 * Return: as cio_tcp_stream_read(); -EINVAL for a bad iovec array. Cancel safe.
 */
CIO_EXPORT ssize_t cio_tcp_stream_readv(cio_tcp_stream *stream, const struct iovec *iov,
                                        int iovcnt);

/**
 * cio_tcp_stream_peek() - wait until bytes have arrived and copy them without consuming
 * them (MSG_PEEK): the next read returns the same bytes.
 *
 * Return: as cio_tcp_stream_read(). Cancel safe.
 */
CIO_EXPORT ssize_t cio_tcp_stream_peek(cio_tcp_stream *stream, void *buf, size_t len);

/* ---- writing ---- */

/**
 * cio_tcp_stream_write() - wait until the stream can take bytes and queue what it takes.
 *
 * Returns as soon as at least one byte was taken (possibly fewer than @len). Never raises
 * SIGPIPE. A -ECANCELED/-ETIMEDOUT write took nothing.
 *
 * Return: bytes taken (> 0); 0 for @len 0; -EPIPE (this side shut down writing, or the
 * connection is gone); -ECONNRESET; -EBUSY; -EBADF; -ECANCELED; -ETIMEDOUT; -EINVAL; -EPERM.
 */
CIO_EXPORT ssize_t cio_tcp_stream_write(cio_tcp_stream *stream, const void *buf, size_t len);

/**
 * cio_tcp_stream_write_all() - write all @len bytes, waiting as needed.
 * @ret_done: receives the bytes taken, in every case (may be NULL): @len on success, the
 *            progress made when it was cut short — resume with @buf + *ret_done.
 *
 * Return: 0; the errors of cio_tcp_stream_write().
 */
CIO_EXPORT int cio_tcp_stream_write_all(cio_tcp_stream *stream, const void *buf, size_t len,
                                        size_t *ret_done);

/**
 * cio_tcp_stream_writev() - cio_tcp_stream_write() gathering from several buffers (sendmsg).
 *
 * Return: as cio_tcp_stream_write(); -EINVAL for a bad iovec array.
 */
CIO_EXPORT ssize_t cio_tcp_stream_writev(cio_tcp_stream *stream, const struct iovec *iov,
                                         int iovcnt);

/**
 * cio_tcp_stream_write_all_v() - write every byte of @iov (vectored write-all). @iov is not
 * modified.
 * @ret_done: the bytes taken, in every case (may be NULL), counted across the buffers.
 *
 * Return: 0; the errors of cio_tcp_stream_writev().
 */
CIO_EXPORT int cio_tcp_stream_write_all_v(cio_tcp_stream *stream, const struct iovec *iov,
                                          int iovcnt, size_t *ret_done);

/**
 * cio_tcp_stream_sendfile() - wait until the stream can take bytes, then send up to @count
 * bytes of a file with sendfile(2) (see cio_tcp_stream_try_sendfile() for @file_fd and
 * @offset). Loop for the rest.
 *
 * Return: bytes sent (> 0); 0 at end of file or for @count 0; -EPIPE; -ECONNRESET; -EBADF
 * (@file_fd); -EBUSY; -ECANCELED/-ETIMEDOUT (nothing sent); -EINVAL; -EPERM.
 */
CIO_EXPORT ssize_t cio_tcp_stream_sendfile(cio_tcp_stream *stream, int file_fd, int64_t *offset,
                                           size_t count);

/* ---- readiness ---- */

/**
 * cio_tcp_stream_ready() - wait until the stream is ready for any of @interest (tokio's
 * TcpStream::ready).
 * @interest: CIO_READABLE, CIO_WRITABLE and/or CIO_PRIORITY (cio/poll.h). Waiting for
 *            READABLE | WRITABLE takes both directions: -EBUSY if another task waits in
 *            either.
 *
 * Returns the cached readiness, which may be stale: follow with try_* calls, and when one
 * says -EAGAIN, call cio_tcp_stream_clear_ready() with what this returned (the try_*
 * functions of the non-blocking layer do not touch the cache), or use
 * cio_tcp_stream_try_io(), which does it for you. Cancel safe.
 *
 * Return: a non-empty set of CIO_READY_* bits (cio/io.h) — CIO_READY_READ_CLOSED after the
 * peer shut down writing, CIO_READY_ERROR on a connection error; -EBUSY; -EBADF;
 * -ECANCELED; -ETIMEDOUT; -EINVAL; -EPERM.
 */
CIO_EXPORT int cio_tcp_stream_ready(cio_tcp_stream *stream, unsigned interest);

/** cio_tcp_stream_readable() - cio_tcp_stream_ready(stream, CIO_READABLE). */
CIO_EXPORT int cio_tcp_stream_readable(cio_tcp_stream *stream);

/** cio_tcp_stream_writable() - cio_tcp_stream_ready(stream, CIO_WRITABLE). */
CIO_EXPORT int cio_tcp_stream_writable(cio_tcp_stream *stream);

/**
 * cio_tcp_stream_clear_ready() - forget readiness found stale: clears the bits of @ready
 * unless a newer event arrived since (closed states are never cleared). NULL is allowed.
 */
CIO_EXPORT void cio_tcp_stream_clear_ready(cio_tcp_stream *stream, int ready);

/**
 * cio_tcp_stream_poll_read_ready() - the read readiness now, or arm @wake (see the top of
 * this section).
 *
 * Return: a CIO_READY_* set when readable; -EAGAIN (armed); -EBADF; -EINVAL; -EPERM.
 */
CIO_EXPORT int cio_tcp_stream_poll_read_ready(cio_tcp_stream *stream, cio_wake_fn wake, void *ctx);

/** cio_tcp_stream_poll_write_ready() - as poll_read_ready, for writing. */
CIO_EXPORT int cio_tcp_stream_poll_write_ready(cio_tcp_stream *stream, cio_wake_fn wake, void *ctx);

/**
 * cio_tcp_stream_poll_peek() - peek at what has arrived, or arm @wake for when bytes come;
 * never waits.
 *
 * Return: bytes copied (> 0); 0 at end of stream (or @len 0); -EAGAIN (armed); connection
 * errors; -EBADF; -EINVAL; -EPERM.
 */
CIO_EXPORT ssize_t cio_tcp_stream_poll_peek(cio_tcp_stream *stream, void *buf, size_t len,
                                            cio_wake_fn wake, void *ctx);

/**
 * cio_tcp_stream_try_io() - run the caller's own non-blocking operation @fn(@ctx) on the
 * stream's descriptor once, under cio's readiness bookkeeping: if @fn returns -EAGAIN the
 * cached readiness for @interest is cleared (tokio's try_io). Never waits; usable outside a
 * task.
 * @interest: the direction @fn uses: CIO_READABLE, CIO_WRITABLE or CIO_PRIORITY.
 *
 * Return: @fn's result; -EINVAL.
 */
CIO_EXPORT ssize_t cio_tcp_stream_try_io(cio_tcp_stream *stream, unsigned interest, cio_io_fn fn,
                                         void *ctx);

/**
 * cio_tcp_stream_async_io() - run @fn(@ctx) until it does not return -EAGAIN, waiting for
 * @interest between attempts (tokio's async_io). Cancel safe as long as @fn consumes nothing
 * when it returns -EAGAIN.
 *
 * Return: @fn's result; -EBUSY; -EBADF; -ECANCELED; -ETIMEDOUT; -EINVAL; -EPERM.
 */
CIO_EXPORT ssize_t cio_tcp_stream_async_io(cio_tcp_stream *stream, unsigned interest, cio_io_fn fn,
                                           void *ctx);

/* ---- copying ---- */

/**
 * cio_tcp_stream_copy() - move every byte from @from to @to until @from ends, then shut
 * down @to's write side (tokio's io::copy followed by shutdown).
 * @ret_bytes: receives the bytes delivered to @to, in every case (may be NULL).
 *
 * On Linux the bytes move through a pipe with splice(2), never copied to user space; when
 * that is not possible (no descriptors for the pipe, a socket splice refuses) a 64 KiB buffer
 * is used. The calling task is @from's reader and @to's writer. Bytes taken from @from but
 * not yet delivered when an error, the deadline or a cancellation stops the copy are lost
 * (at most one pipe or buffer load).
 *
 * Return: 0 when @from ended and everything was delivered; -EPIPE/-ECONNRESET... from
 * either stream; -EBUSY; -EBADF; -ECANCELED; -ETIMEDOUT; -EINVAL; -EPERM.
 */
CIO_EXPORT int cio_tcp_stream_copy(cio_tcp_stream *from, cio_tcp_stream *to, uint64_t *ret_bytes);

/**
 * cio_tcp_stream_copy_bidirectional() - relay both directions between @a and @b until both
 * have ended (tokio's copy_bidirectional).
 * @ret_a_to_b, @ret_b_to_a: receive the bytes delivered each way, in every case (may be
 *                           NULL).
 *
 * Each direction runs as cio_tcp_stream_copy() in a helper task on the caller's worker; the
 * caller waits for both. Half-close is carried across: when @a's peer shuts down writing,
 * @b's write side is shut down and the b-to-a direction goes on, and vice versa. When one
 * direction fails the other is stopped at once and the error returned. The helpers run under
 * the caller's deadline; when the caller is cancelled both are stopped before this returns.
 * The streams must not be used by other tasks meanwhile. Costs two task spawns (and, with
 * splice, two pipes: four descriptors) per call.
 *
 * Return: 0 when both directions ended cleanly; the first direction's error; -ECANCELED;
 * -ETIMEDOUT; -ENOMEM; -EINVAL (also for @a == @b); -EPERM outside a task.
 */
CIO_EXPORT int cio_tcp_stream_copy_bidirectional(cio_tcp_stream *a, cio_tcp_stream *b,
                                                 uint64_t *ret_a_to_b, uint64_t *ret_b_to_a);

/* ---- borrowed halves ---- */

/*
 * Borrowed halves (tokio's TcpStream::split): two small caller-owned views of one stream,
 * one for reading and one for writing, to hand to a reader task and a writer task. Nothing
 * is allocated; the stream must outlive both halves and stays the owner (close the stream,
 * not the halves). The fields are the library's: use the functions.
 */
typedef struct cio_tcp_read_half {
    cio_tcp_stream *stream;
} cio_tcp_read_half;

typedef struct cio_tcp_write_half {
    cio_tcp_stream *stream;
} cio_tcp_write_half;

/**
 * cio_tcp_stream_split() - fill in the two borrowed halves of @stream.
 *
 * Return: 0; -EINVAL for NULL.
 */
CIO_EXPORT int cio_tcp_stream_split(cio_tcp_stream *stream, cio_tcp_read_half *ret_rd,
                                    cio_tcp_write_half *ret_wr);

/* The stream functions of the same names, on a half (same returns, same cancel safety). */
CIO_EXPORT ssize_t cio_tcp_read_half_read(const cio_tcp_read_half *rd, void *buf, size_t len);
CIO_EXPORT int cio_tcp_read_half_read_exact(const cio_tcp_read_half *rd, void *buf, size_t len,
                                            size_t *ret_done);
CIO_EXPORT ssize_t cio_tcp_read_half_readv(const cio_tcp_read_half *rd, const struct iovec *iov,
                                           int iovcnt);
CIO_EXPORT ssize_t cio_tcp_read_half_peek(const cio_tcp_read_half *rd, void *buf, size_t len);
CIO_EXPORT int cio_tcp_read_half_readable(const cio_tcp_read_half *rd);
CIO_EXPORT ssize_t cio_tcp_write_half_write(const cio_tcp_write_half *wr, const void *buf,
                                            size_t len);
CIO_EXPORT int cio_tcp_write_half_write_all(const cio_tcp_write_half *wr, const void *buf,
                                            size_t len, size_t *ret_done);
CIO_EXPORT ssize_t cio_tcp_write_half_writev(const cio_tcp_write_half *wr, const struct iovec *iov,
                                             int iovcnt);
CIO_EXPORT int cio_tcp_write_half_write_all_v(const cio_tcp_write_half *wr, const struct iovec *iov,
                                              int iovcnt, size_t *ret_done);
CIO_EXPORT int cio_tcp_write_half_writable(const cio_tcp_write_half *wr);
/** cio_tcp_write_half_shutdown() - shut down the stream's write side (the peer reads end of
 * stream). Return: 0; -ENOTCONN; -EINVAL. */
CIO_EXPORT int cio_tcp_write_half_shutdown(const cio_tcp_write_half *wr);

/* ---- owned halves ---- */

/*
 * Owned halves (tokio's TcpStream::into_split): the stream is moved into two heap halves,
 * each of which may be handed to a task on any worker and closed on its own. Closing the
 * write half shuts down the write direction (the peer reads end of stream) unless
 * cio_tcp_owned_write_half_forget() was called first; the socket itself is closed when both
 * halves are closed. Each half is used by one task at a time.
 */
typedef struct cio_tcp_owned_read_half cio_tcp_owned_read_half;
typedef struct cio_tcp_owned_write_half cio_tcp_owned_write_half;

/**
 * cio_tcp_stream_into_split() - move @stream into two owned halves.
 * @stream: consumed on success (use the halves from then on); untouched on failure.
 * @ret_rd, @ret_wr: receive the halves, written only on success.
 *
 * Return: 0; -ENOMEM; -EINVAL.
 */
CIO_EXPORT int cio_tcp_stream_into_split(cio_tcp_stream *stream, cio_tcp_owned_read_half **ret_rd,
                                         cio_tcp_owned_write_half **ret_wr);

/* The stream functions of the same names, on an owned half (same returns and cancel
 * safety). */
CIO_EXPORT ssize_t cio_tcp_owned_read_half_read(cio_tcp_owned_read_half *rd, void *buf, size_t len);
CIO_EXPORT int cio_tcp_owned_read_half_read_exact(cio_tcp_owned_read_half *rd, void *buf,
                                                  size_t len, size_t *ret_done);
CIO_EXPORT ssize_t cio_tcp_owned_read_half_readv(cio_tcp_owned_read_half *rd,
                                                 const struct iovec *iov, int iovcnt);
CIO_EXPORT ssize_t cio_tcp_owned_read_half_peek(cio_tcp_owned_read_half *rd, void *buf, size_t len);
CIO_EXPORT int cio_tcp_owned_read_half_readable(cio_tcp_owned_read_half *rd);
CIO_EXPORT ssize_t cio_tcp_owned_write_half_write(cio_tcp_owned_write_half *wr, const void *buf,
                                                  size_t len);
CIO_EXPORT int cio_tcp_owned_write_half_write_all(cio_tcp_owned_write_half *wr, const void *buf,
                                                  size_t len, size_t *ret_done);
CIO_EXPORT ssize_t cio_tcp_owned_write_half_writev(cio_tcp_owned_write_half *wr,
                                                   const struct iovec *iov, int iovcnt);
CIO_EXPORT int cio_tcp_owned_write_half_write_all_v(cio_tcp_owned_write_half *wr,
                                                    const struct iovec *iov, int iovcnt,
                                                    size_t *ret_done);
CIO_EXPORT int cio_tcp_owned_write_half_writable(cio_tcp_owned_write_half *wr);
/** cio_tcp_owned_write_half_shutdown() - shut down the write side now. Return: 0;
 * -ENOTCONN; -EINVAL. */
CIO_EXPORT int cio_tcp_owned_write_half_shutdown(cio_tcp_owned_write_half *wr);

/**
 * cio_tcp_owned_read_half_stream() / cio_tcp_owned_write_half_stream() - the stream behind
 * a half, borrowed for addresses and options (cio_tcp_stream_peer_addr(),
 * cio_tcp_stream_set_nodelay()...). Do not close it, split it or do I/O on it; it lives
 * until both halves are closed. NULL for NULL.
 */
CIO_EXPORT cio_tcp_stream *cio_tcp_owned_read_half_stream(const cio_tcp_owned_read_half *rd);
CIO_EXPORT cio_tcp_stream *cio_tcp_owned_write_half_stream(const cio_tcp_owned_write_half *wr);

/**
 * cio_tcp_owned_read_half_close() - release the read half; the socket is closed if the
 * write half is closed too. NULL is allowed. Any thread; not while a task uses the half.
 */
CIO_EXPORT void cio_tcp_owned_read_half_close(cio_tcp_owned_read_half *rd);

/**
 * cio_tcp_owned_write_half_forget() - make the coming cio_tcp_owned_write_half_close() leave
 * the write direction open (no shutdown; tokio's OwnedWriteHalf::forget). The peer then sees
 * end of stream only when the socket closes, with the read half. NULL is allowed.
 */
CIO_EXPORT void cio_tcp_owned_write_half_forget(cio_tcp_owned_write_half *wr);

/**
 * cio_tcp_owned_write_half_close() - shut down the write side (unless forgotten; a failure
 * of that shutdown, say the connection is already gone, is ignored) and release the write
 * half; the socket is closed if the read half is closed too. NULL is allowed. Any thread;
 * not while a task uses the half.
 */
CIO_EXPORT void cio_tcp_owned_write_half_close(cio_tcp_owned_write_half *wr);

/**
 * cio_tcp_owned_read_half_reunite() - put the two halves of one stream back together
 * (tokio's reunite).
 * @rd, @wr: consumed on success; on failure both are handed back intact, still the
 *           caller's.
 * @ret_stream: receives the stream, with its registration and readiness as they were.
 *
 * Return: 0; -EINVAL when the halves come from different streams (or NULL).
 */
CIO_EXPORT int cio_tcp_owned_read_half_reunite(cio_tcp_owned_read_half *rd,
                                               cio_tcp_owned_write_half *wr,
                                               cio_tcp_stream **ret_stream);

#ifdef __cplusplus
}
#endif

#endif /* CIO_TCP_ASYNC_H */

/* ---- connecting and binding by name ---- */
/*
 * tokio's TcpStream::connect(host) and TcpListener::bind(host) in C, with Happy Eyeballs v2
 * (RFC 8305) for names that resolve to both IPv4 and IPv6, and SO_REUSEPORT listeners for
 * sharding accepts across the workers of a multi-thread runtime.
 *
 * Text forms ("host_port"): "127.0.0.1:80", "[::1]:80", "[fe80::1%lo]:80", "localhost:8080",
 * "example.org:https". The part after the last colon is a decimal port (0 to 65535) or a
 * service name (a letter, then letters, digits, '-', '_', '+', '.'), looked up in the
 * services database. An IPv6 literal must be in brackets ("::1:80" is refused: it is itself
 * a valid address). The host must not be empty and may not hold spaces or control bytes.
 *
 * Resolution. A numeric address with a numeric port is converted directly: no resolver, no
 * thread. Anything else goes through getaddrinfo() (SOCK_STREAM, either family) on the
 * runtime's blocking pool, so the worker keeps running other tasks. AI_ADDRCONFIG is NOT
 * used: glibc ignores loopback addresses when it decides which families are "configured",
 * so with it a host whose only IPv6 address is ::1 (containers, CI machines) would never see
 * "localhost" as ::1, and a host with no address but loopback would resolve nothing at all.
 * Addresses of a family the host cannot reach cost little instead: their attempt fails at
 * once (-ENETUNREACH, -EADDRNOTAVAIL, -EAFNOSUPPORT) and the next one starts immediately.
 * The resolver's order (RFC 6724, /etc/gai.conf) is kept; duplicates are dropped. A lookup
 * cannot be interrupted: when the task is cancelled or its deadline passes during one, the
 * call returns at once and the lookup finishes on the pool, its result discarded.
 *
 * Connecting (cio_tcp_stream_connect_addrs() is the engine all connect calls share):
 *  - When the list holds both families and happy eyeballs is on (the default), the
 *    addresses are interleaved by family, starting with the family of the first one and
 *    keeping the order within each family (A1 B1 A2 B2 ... then the rest of the longer
 *    family). The first attempt starts at once; each further one starts when the attempt
 *    delay (250 ms by default) has passed since the previous one started, or immediately
 *    when an attempt fails. Attempts run in parallel; the first to complete its handshake
 *    wins and every other one is closed (a SYN still in flight is simply abandoned).
 *  - When the list holds one family only, or happy eyeballs is off, the addresses are tried
 *    one after another in the given order (tokio's rule): the next starts when the previous
 *    one failed. An address that never answers then holds the connect until the kernel
 *    gives up (about two minutes on Linux) unless an attempt timeout or a deadline is set.
 *  - The whole call honours the task's deadline (cio_deadline_set) and cancellation. When
 *    it returns anything but 0, every socket it created is closed: nothing is left open or
 *    half-open. No helper task is used: the calling task waits on all attempts itself.
 *  - When every attempt fails, the most useful error is returned, ranked:
 *      1. -ECONNREFUSED            a host answered (nothing listens there);
 *      2. -ETIMEDOUT               a real attempt got no answer (the per-attempt timeout, or
 *                                  the kernel's SYN retries ran out);
 *      3. any other error from the network (-EHOSTUNREACH, -ECONNRESET, -EACCES...);
 *      4. running short: -EMFILE, -ENFILE, -ENOMEM, -ENOBUFS;
 *      5. this host cannot use the address at all: -ENETUNREACH, -ENETDOWN,
 *         -EADDRNOTAVAIL, -EAFNOSUPPORT, -EPROTONOSUPPORT, -EINVAL.
 *    Between errors of one rank, the last attempt's wins (tokio returns the last error).
 *    The task's own deadline gives -ETIMEDOUT and cancellation -ECANCELED, whatever the
 *    attempts said; a resolver failure is its CIO_ERR_EAI() code (cio/common.h) and no
 *    attempt is made.
 *
 * Cancel safety: a connect cut short by -ECANCELED or -ETIMEDOUT has nothing to resume; it
 * leaves no socket behind (see above), so calling it again starts afresh.
 * Thread safety: any number of tasks may connect or bind at once, on any workers.
 */
#ifndef CIO_TCP_CONNECT_H
#define CIO_TCP_CONNECT_H

#ifdef __cplusplus
extern "C" {
#endif

/* RFC 8305's recommended Connection Attempt Delay. */
#define CIO_TCP_CONNECT_ATTEMPT_DELAY_DEFAULT (250 * CIO_NSEC_PER_MSEC)

/*
 * Options of a connect. A zeroed struct (or a NULL pointer) means the defaults: happy
 * eyeballs on, a 250 ms attempt delay, no per-attempt timeout.
 */
typedef struct cio_tcp_connect_options {
    /* Happy eyeballs: how long to wait after starting one attempt before starting the next
     * in parallel. 0 = CIO_TCP_CONNECT_ATTEMPT_DELAY_DEFAULT; below 1 ms it is 1 ms (the
     * timer's granularity); RFC 8305 advises at least 100 ms. Negative: -EINVAL. */
    cio_duration attempt_delay;
    /* Give up on one attempt (-ETIMEDOUT for it, then the next starts) after this long.
     * 0 = no limit of cio's own (the kernel's SYN retries, ~2 min). Negative: -EINVAL.
     * Unlike a deadline it does not end the call: the other addresses are still tried. */
    cio_duration attempt_timeout;
    /* true: never run attempts in parallel, try the addresses strictly in the given order
     * (tokio's behaviour) even when both families are present. */
    bool no_happy_eyeballs;
} cio_tcp_connect_options;

/**
 * cio_tcp_stream_connect() - resolve @host_port and connect to one of its addresses (tokio's
 * TcpStream::connect with a host name), with happy eyeballs (see the top of this section).
 * @ret_stream: receives the connected stream (non-blocking, close-on-exec, registered with
 *              the calling task's worker), written only on success.
 * @host_port: "host:port" or "host:service"; see the top of this section.
 *
 * Suspends the calling task while the name is resolved and while the handshakes go on.
 *
 * Return: 0; -EINVAL for NULL, an empty string, no port, a port above 65535, an unbracketed
 * IPv6 literal or malformed brackets; a CIO_ERR_EAI() code when the name cannot be resolved
 * (EAI_NONAME for an unknown name, EAI_SERVICE for an unknown service, EAI_AGAIN when the
 * DNS did not answer...); when every attempt failed, the most useful of their errors
 * (-ECONNREFUSED, -ETIMEDOUT, -EHOSTUNREACH, -ENETUNREACH...); -ETIMEDOUT when the task's
 * deadline passed; -ECANCELED; -ENOMEM; -EMFILE; -EPERM outside a task.
 */
CIO_EXPORT int cio_tcp_stream_connect(cio_tcp_stream **ret_stream, const char *host_port);

/**
 * cio_tcp_stream_connect_ex() - cio_tcp_stream_connect() with options.
 * @opts: NULL or zeroed for the defaults.
 *
 * Return: as cio_tcp_stream_connect(); -EINVAL for a negative delay or timeout.
 */
CIO_EXPORT int cio_tcp_stream_connect_ex(cio_tcp_stream **ret_stream, const char *host_port,
                                         const cio_tcp_connect_options *opts);

/**
 * cio_tcp_stream_connect_host() - cio_tcp_stream_connect() with the host and the port apart
 * (tokio's connect((host, port))).
 * @host: a host name, an IPv4 literal, or an IPv6 literal with or without brackets
 *        ("::1", "[::1]", "fe80::1%lo").
 * @port: the port.
 *
 * Return: as cio_tcp_stream_connect().
 */
CIO_EXPORT int cio_tcp_stream_connect_host(cio_tcp_stream **ret_stream, const char *host,
                                           uint16_t port);

/**
 * cio_tcp_stream_connect_addrs() - connect to one of @count given addresses, with the same
 * engine as cio_tcp_stream_connect() (happy eyeballs when both families are present, else
 * in order); what the name variants run after resolving.
 * @addrs: IPv4/IPv6 addresses, in order of preference; read during the call only.
 * @count: at least 1.
 * @opts: NULL or zeroed for the defaults.
 *
 * Return: 0; the most useful attempt error when all failed; -ETIMEDOUT (deadline);
 * -ECANCELED; -EINVAL for NULL, @count 0 or bad options; -EAFNOSUPPORT when an address is
 * not IPv4/IPv6 (checked before anything starts); -ENOMEM; -EPERM outside a task.
 */
CIO_EXPORT int cio_tcp_stream_connect_addrs(cio_tcp_stream **ret_stream, const cio_addr *addrs,
                                            size_t count, const cio_tcp_connect_options *opts);

/**
 * cio_tcp_listener_bind_name() - resolve @host_port and listen on the first of its addresses
 * that binds (tokio's TcpListener::bind with a host name).
 * @ret_listener: receives the listener, written only on success.
 * @host_port: as for cio_tcp_stream_connect(); port 0 lets the kernel pick (read it back
 *             with cio_tcp_listener_local_addr()).
 * @backlog: as for cio_tcp_listener_bind().
 *
 * Each address is bound as cio_tcp_listener_bind() does (SO_REUSEADDR). A numeric address
 * never waits. A name is resolved on the blocking pool when called from a task (which then
 * suspends); called from a thread outside any runtime, the lookup runs on the calling
 * thread and blocks it — the thing to do before a runtime starts.
 *
 * Return: 0; -EINVAL as for cio_tcp_stream_connect(); a CIO_ERR_EAI() code; the last
 * address's error when none binds (-EADDRINUSE, -EADDRNOTAVAIL, -EACCES...); -ECANCELED;
 * -ETIMEDOUT; -ENOMEM; -EPERM from a worker's own context (a runtime thread, no task).
 */
CIO_EXPORT int cio_tcp_listener_bind_name(cio_tcp_listener **ret_listener, const char *host_port,
                                          int backlog);

/**
 * cio_tcp_listener_bind_reuseport() - a listener on @addr with SO_REUSEPORT (and
 * SO_REUSEADDR) set before bind, so that several listeners of this process (or of others of
 * the same user) share the address and the kernel spreads new connections across them by a
 * hash of each connection's addresses.
 * @addr: an IPv4 or IPv6 address. With port 0 every call gets a different port: to share a
 *        kernel-chosen port, bind the first listener with port 0, read its port with
 *        cio_tcp_listener_local_addr(), and bind the others to that address — which is what
 *        cio_tcp_listener_bind_reuseport_n() does.
 * @backlog: as for cio_tcp_listener_bind().
 *
 * Use: one listener per worker of a multi-thread runtime, each with an accepting task on
 * its own worker (cio_spawn_ex with CIO_WORKER(i)); a connection is then accepted and
 * served on one worker without any cross-thread hand-off. A connection waiting in one
 * listener's backlog is never moved to another: a listener that stops accepting strands
 * its queue until it is closed (then those connections are reset).
 *
 * Return: 0; -EINVAL for NULL; -EAFNOSUPPORT for a non-IP address; -EADDRINUSE (the
 * address is held by a socket without SO_REUSEPORT or of another user); -EADDRNOTAVAIL;
 * -EACCES; -EMFILE/-ENFILE; -ENOMEM.
 */
CIO_EXPORT int cio_tcp_listener_bind_reuseport(cio_tcp_listener **ret_listener,
                                               const cio_addr *addr, int backlog);

/**
 * cio_tcp_listener_bind_reuseport_n() - @count listeners sharing one address with
 * SO_REUSEPORT: the first is bound to @addr, the others to the first one's actual address
 * (the kernel's port when @addr's port is 0).
 * @ret_listeners: an array of @count entries, filled only on success.
 * @count: at least 1.
 *
 * Return: 0; the errors of cio_tcp_listener_bind_reuseport(); on failure every listener
 * already made is closed.
 */
CIO_EXPORT int cio_tcp_listener_bind_reuseport_n(cio_tcp_listener **ret_listeners, size_t count,
                                                 const cio_addr *addr, int backlog);

#ifdef __cplusplus
}
#endif

#endif /* CIO_TCP_CONNECT_H */
