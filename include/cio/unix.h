/*
 * cio/unix.h: Unix-domain sockets without a runtime — mio's UnixListener, UnixStream and
 * UnixDatagram, with what their users keep asking for on Linux: the peer's credentials,
 * descriptor passing (several descriptors per message, received close-on-exec, and never
 * leaked when they do not fit), Linux abstract names, socket pairs, and a listener that can
 * remove its socket file when it closes — and, for tasks, accept and connect. What a Unix
 * socket shares with other sockets is in the cores, which take these handles directly:
 * cio/socket.h (close, descriptor, addresses, options, readiness), cio/stream.h (a
 * cio_unix_stream's reads, writes, halves and copies, to and from TCP streams too) and
 * cio/dgram.h (a cio_unix_datagram's sends and receives). The common rules (non-blocking
 * and close-on-exec descriptors, no SIGPIPE, adopting descriptors) are in cio/net.h.
 *
 * Addresses are cio_addr values of kind CIO_ADDR_UNIX (a filesystem path, "/run/x.sock"),
 * CIO_ADDR_ABSTRACT (a Linux abstract name, "@x": no file, gone with its last socket) or
 * CIO_ADDR_UNNAMED (binding to it asks Linux to pick a free abstract name: autobind).
 * An IP address given to these functions is -EAFNOSUPPORT.
 *
 * Connecting never waits on Linux: cio_unix_stream_try_connect() either connects at once or
 * fails at once. In particular, a listener whose backlog is full (its program does not
 * accept fast enough) makes it fail with -EAGAIN — nothing was created, and no event will
 * say when to retry: back off and try again (a timer), like a refused connection that may
 * succeed later. Other systems may instead connect in the background; cio reports that as
 * success with the connection still in progress (wait for CIO_WRITABLE before writing).
 *
 * Descriptor passing (SCM_RIGHTS). A sender attaches up to CIO_UNIX_FDS_MAX descriptors to
 * a message (on a stream, to at least one byte: a stream has no message without data); the
 * receiver gets new descriptors for the same open files, close-on-exec from the moment they
 * exist (MSG_CMSG_CLOEXEC). O_NONBLOCK is a property of the open file, shared with the
 * sender: cio does not change it (a received socket made by cio is non-blocking already).
 * If more descriptors arrive than the receiver made room for — or the process runs out of
 * descriptors while the kernel installs them (Linux then sets MSG_CTRUNC) — the receive
 * returns -ENOBUFS and every descriptor that arrived is closed first: none leaks. The bytes
 * that came with them were consumed (on a stream, treat this as a protocol error and close
 * the connection). A plain read or receive (not _fds) of a message that carries descriptors
 * returns the data; Linux closes the descriptors.
 *
 * Handles: one thread at a time per handle, except that one thread may read while another
 * writes; accepting on one listener from several threads or tasks at once is allowed. Every
 * function accepts a NULL handle and returns -EINVAL.
 */
#ifndef CIO_UNIX_H
#define CIO_UNIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "cio/addr.h"
#include "cio/common.h"
#include "cio/net.h"
#include "cio/socket.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The most descriptors one message carries (Linux's SCM_MAX_FD). */
#define CIO_UNIX_FDS_MAX 253

/* A peer's credentials (SO_PEERCRED), as the kernel recorded them when the connection was
 * made (connect or listen time, socketpair time) — not the peer's current identity. */
typedef struct cio_unix_cred {
    pid_t pid;
    uid_t uid;
    gid_t gid;
} cio_unix_cred;

/* ======================================================================================== */
/* Listener                                                                                 */
/* ======================================================================================== */

/**
 * cio_unix_listener_new() - create a listening Unix stream socket (mio's
 * UnixListener::bind).
 * @ret_listener: receives the listener (written only on success).
 * @addr: a path (the socket file is created; it must not exist), an abstract name, or the
 *        unnamed address (autobind: read the chosen name back with
 *        cio_socket_local_addr()).
 * @backlog: the listen backlog (see cio/net.h); negative means CIO_LISTEN_BACKLOG_DEFAULT,
 *           0 is a backlog of 0. Connects beyond it fail with -EAGAIN (see the top of this
 *           header).
 *
 * A socket file left by an earlier run makes bind fail with -EADDRINUSE: cio never removes a
 * file it did not create (see cio_unix_listener_set_unlink_on_close()).
 *
 * Return: 0; -EINVAL for NULL; -EAFNOSUPPORT for an IP address; -EADDRINUSE (the path
 * exists, or the abstract name is taken); -ENOENT (a directory of the path does not exist);
 * -EACCES; -EROFS; -EMFILE/-ENFILE; -ENOMEM. A path longer than sun_path cannot be a cio_addr
 * (cio_addr_unix() says -ENAMETOOLONG).
 */
CIO_EXPORT int cio_unix_listener_new(cio_unix_listener **ret_listener, const cio_addr *addr,
                                     int backlog);

/**
 * cio_unix_listener_try_accept() - accept one pending connection, without waiting.
 * @ret_stream: receives the connection, non-blocking and close-on-exec (accept4).
 * @ret_peer: receives the client's address (usually unnamed); may be NULL.
 *
 * After a readable event, call until -EAGAIN. Out of descriptors, the listener sheds the
 * pending connections through its spare descriptor exactly as cio_tcp_listener_try_accept()
 * does (see cio/tcp.h) and returns -EMFILE / -ENFILE. Thread safe.
 *
 * Return: 0; -EAGAIN; -EMFILE/-ENFILE; -ENOMEM; -EINVAL.
 */
CIO_EXPORT int cio_unix_listener_try_accept(cio_unix_listener *listener,
                                            cio_unix_stream **ret_stream, cio_addr *ret_peer);

/**
 * cio_unix_listener_set_unlink_on_close() - remove the socket file when the listener is
 * closed (off by default, like mio and tokio; libuv never removes it).
 *
 * cio notes the file's identity (device and inode) when it binds (or, for an adopted
 * listener, when it adopts it) and at close removes the path only if it is still that file:
 * a file another process has bound since at the same path is left alone. A relative path is
 * resolved against the working directory at close time (the identity check keeps a changed
 * directory harmless: nothing is removed). cio_socket_into_fd() never removes it.
 *
 * Return: 0; -EINVAL for NULL, or (to turn it on) a listener not bound to a path (abstract,
 * unnamed, or its file was already gone when cio noted it).
 */
CIO_EXPORT int cio_unix_listener_set_unlink_on_close(cio_unix_listener *listener, bool on);
/** cio_unix_listener_unlink_on_close() - whether it is on. Return: 0; -EINVAL. */
CIO_EXPORT int cio_unix_listener_unlink_on_close(const cio_unix_listener *listener, bool *ret_on);

/**
 * cio_unix_listener_from_fd() - adopt a listening Unix stream socket made elsewhere (systemd
 * socket activation...), making it non-blocking and close-on-exec.
 *
 * Return: 0; -EBADF; -ENOTSOCK; -EAFNOSUPPORT (not AF_UNIX); -EPROTOTYPE (not a stream);
 * -EINVAL (not listening); -ENOMEM. On failure @fd is untouched and still the caller's.
 */
CIO_EXPORT int cio_unix_listener_from_fd(cio_unix_listener **ret_listener, int fd);

/* ======================================================================================== */
/* Stream                                                                                   */
/* ======================================================================================== */

/**
 * cio_unix_stream_try_connect() - connect to a listening socket, without waiting.
 * @ret_stream: receives the connected stream (written only on success).
 * @addr: a path or abstract name.
 *
 * Return: 0; -EAGAIN when the listener's backlog is full (nothing was created; retry later —
 * see the top of this header); -ENOENT (no socket file at the path); -ECONNREFUSED (a socket
 * file nobody listens on: a stale file, or a socket that is bound but not listening; an
 * abstract name nobody holds); -EPROTOTYPE (the socket there is a datagram socket);
 * -EACCES; -EINVAL for NULL or the unnamed address; -EAFNOSUPPORT for an IP address;
 * -EMFILE; -ENOMEM.
 */
CIO_EXPORT int cio_unix_stream_try_connect(cio_unix_stream **ret_stream, const cio_addr *addr);

/**
 * cio_unix_stream_pair() - two connected, unnamed streams (socketpair(2)).
 * Return: 0; -EINVAL; -EMFILE/-ENFILE; -ENOMEM. Both or neither are written.
 */
CIO_EXPORT int cio_unix_stream_pair(cio_unix_stream **ret_a, cio_unix_stream **ret_b);

/**
 * cio_unix_stream_from_fd() - adopt a Unix stream socket made elsewhere (connected or not;
 * not listening), making it non-blocking and close-on-exec.
 *
 * Return: 0; -EBADF; -ENOTSOCK; -EAFNOSUPPORT (not AF_UNIX); -EPROTOTYPE (not a stream);
 * -EINVAL (listening); -ENOMEM. On failure @fd is untouched and still the caller's.
 */
CIO_EXPORT int cio_unix_stream_from_fd(cio_unix_stream **ret_stream, int fd);

/* ======================================================================================== */
/* Datagram                                                                                 */
/* ======================================================================================== */

/*
 * Datagram rules are cio/udp.h's: a zero-length send sends an empty datagram; a receive
 * takes one whole datagram; a datagram longer than the buffer is -EMSGSIZE (taken off the
 * queue by a receive, left by a peek) — never a silent short read. Unix datagrams are
 * reliable and ordered: a send to a receiver whose queue is full returns -EAGAIN (and the
 * sender is reported writable when the receiver drains it), a send larger than the send
 * buffer is -EMSGSIZE.
 */

/**
 * cio_unix_datagram_new() - a datagram socket, bound to @addr (path, abstract name, or
 * unnamed for autobind) or, with @addr NULL, unbound: it can send (to an address or, after connect,
 * to its peer); its receivers see the unnamed address and cannot answer it until it is bound with
 * cio_socket_bind().
 *
 * Return: 0; -EINVAL; the bind errors of cio_unix_listener_new().
 */
CIO_EXPORT int cio_unix_datagram_new(cio_unix_datagram **ret_socket, const cio_addr *addr);

/**
 * cio_unix_datagram_pair() - two connected, unnamed datagram sockets (socketpair(2)).
 * Return: 0; -EINVAL; -EMFILE/-ENFILE; -ENOMEM. Both or neither are written.
 */
CIO_EXPORT int cio_unix_datagram_pair(cio_unix_datagram **ret_a, cio_unix_datagram **ret_b);

/**
 * cio_unix_datagram_from_fd() - adopt a Unix datagram socket made elsewhere, making it
 * non-blocking and close-on-exec.
 * Return: 0; -EBADF; -ENOTSOCK; -EAFNOSUPPORT; -EPROTOTYPE (not SOCK_DGRAM); -ENOMEM.
 */
CIO_EXPORT int cio_unix_datagram_from_fd(cio_unix_datagram **ret_socket, int fd);

/* ======================================================================================== */
/* Descriptor passing and credentials (Unix streams, datagram sockets, and stream halves)   */
/* ======================================================================================== */

/**
 * cio_unix_try_send_fds() - send bytes with descriptors attached, without waiting.
 * @sock: a cio_unix_stream (or its write half) or a cio_unix_datagram.
 * @buf, @len: the data; on a stream at least 1 byte when @nfds > 0 (a stream has no message
 *             without data); a datagram may carry descriptors alone.
 * @fds: the descriptors to pass (the caller keeps its own; they stay open here).
 * @nfds: how many, 0 to CIO_UNIX_FDS_MAX.
 * @addr: a datagram's destination, or NULL for the connected peer; NULL on a stream.
 *
 * On a stream the descriptors go with the first byte sent: a short write (fewer bytes than
 * @len) has passed them all, and the rest of the data goes with a plain write.
 *
 * Return: bytes taken (> 0, or a datagram's length); -EAGAIN (nothing sent, descriptors
 * included); -EINVAL (NULL @fds with a count, @nfds above CIO_UNIX_FDS_MAX, descriptors with
 * no data on a stream, an address on a stream); -EAFNOSUPPORT (not a Unix socket); -EBADF (a
 * descriptor that is not open); -ETOOMANYREFS (Linux's limit on descriptors in flight);
 * -EPIPE.
 */
CIO_EXPORT ssize_t cio_unix_try_send_fds(cio_socket *sock, const void *buf, size_t len,
                                         const int *fds, size_t nfds, const cio_addr *addr);

/**
 * cio_unix_try_recv_fds() - receive bytes (a stream) or one datagram, and any descriptors
 * sent with them, without waiting.
 * @sock: a cio_unix_stream (or its read half) or a cio_unix_datagram.
 * @fds: receives the descriptors (the caller owns them; close-on-exec).
 * @max_fds: the room in @fds, 0 to CIO_UNIX_FDS_MAX (larger is treated as the maximum).
 * @ret_nfds: receives how many arrived (0 when none came).
 * @ret_from: a datagram's sender; may be NULL (on a stream it receives the peer's address).
 *
 * One call returns at most one message's descriptors: on a stream Linux ends the read with
 * the last byte of the write that carried them.
 *
 * Return: bytes read (> 0), a datagram's length, or 0 at end of stream or when @len is 0
 * on a stream; -EAGAIN; -ENOBUFS when more descriptors came than @max_fds, or the kernel
 * could not install them all (see the top of this header; all that arrived were closed);
 * -EMSGSIZE (a datagram's data did not fit: it is lost and its descriptors were closed);
 * -EINVAL; -EAFNOSUPPORT.
 */
CIO_EXPORT ssize_t cio_unix_try_recv_fds(cio_socket *sock, void *buf, size_t len, int *fds,
                                         size_t max_fds, size_t *ret_nfds, cio_addr *ret_from);

/**
 * cio_unix_send_fds() - wait until the socket can take data, then cio_unix_try_send_fds().
 * Cancel safe: -ECANCELED or -ETIMEDOUT means nothing was sent, descriptors included.
 * Return: as the try_ form; -EBADF (closed while waiting); -ECANCELED; -ETIMEDOUT; -EPERM.
 */
CIO_EXPORT ssize_t cio_unix_send_fds(cio_socket *sock, const void *buf, size_t len, const int *fds,
                                     size_t nfds, const cio_addr *addr);

/**
 * cio_unix_recv_fds() - wait until data has arrived, then cio_unix_try_recv_fds(). Cancel
 * safe: a -ECANCELED/-ETIMEDOUT receive took no byte and no descriptor.
 * Return: as the try_ form; -EBADF; -ECANCELED; -ETIMEDOUT; -EPERM.
 */
CIO_EXPORT ssize_t cio_unix_recv_fds(cio_socket *sock, void *buf, size_t len, int *fds,
                                     size_t max_fds, size_t *ret_nfds, cio_addr *ret_from);

/**
 * cio_unix_peer_cred() - the peer process's pid, uid and gid (SO_PEERCRED), as of connect /
 * listen / socketpair time.
 *
 * Return: 0; -ENOTCONN for a stream that is not connected; -ENODATA for a datagram socket
 * whose peer left no credentials (not connected, or unbound); -EAFNOSUPPORT; -EINVAL; -EBADF.
 */
CIO_EXPORT int cio_unix_peer_cred(cio_socket *sock, cio_unix_cred *ret_cred);

/* ======================================================================================== */
/* Accept and connect in a task                                                             */
/* ======================================================================================== */
/*
 * These suspend the calling task where the try_* forms would return -EAGAIN (tokio's
 * net::unix) and follow the rules of cio/io.h. Any number of tasks may accept on one
 * listener: each connection goes to one of them.
 */

/* ---- listener ---- */

/**
 * cio_unix_listener_accept() - wait for a connection and accept it (tokio's
 * UnixListener::accept).
 * @listener: the listener; any number of tasks may accept on it at once.
 * @ret_stream: receives the new stream (non-blocking, close-on-exec), written only on
 *              success.
 * @ret_peer: receives the client's address (usually unnamed); may be NULL.
 *
 * Suspends while no connection is pending. Cancel safe: a -ECANCELED/-ETIMEDOUT accept took
 * no connection from the backlog. Out of descriptors, the pending connections are shed and
 * -EMFILE/-ENFILE returned at once (see cio_unix_listener_try_accept()): back off before
 * accepting again.
 *
 * Return: 0; -EMFILE/-ENFILE; -ENOMEM; -EBADF (closed
 * while waiting); -ECANCELED; -ETIMEDOUT; -EINVAL; -EPERM outside a task.
 */
CIO_EXPORT int cio_unix_listener_accept(cio_unix_listener *listener, cio_unix_stream **ret_stream,
                                        cio_addr *ret_peer);

/**
 * cio_unix_listener_poll_accept() - accept a pending connection, or arm @wake (may be NULL)
 * to be called when one arrives; never waits.
 *
 * Return: 0 with *ret_stream set; -EAGAIN (the callback is armed); the other errors of
 * cio_unix_listener_accept() except -ECANCELED/-ETIMEDOUT; -EPERM outside a task when
 * the listener was never registered.
 */
CIO_EXPORT int cio_unix_listener_poll_accept(cio_unix_listener *listener,
                                             cio_unix_stream **ret_stream, cio_addr *ret_peer,
                                             cio_wake_fn wake, void *ctx);

/* ---- connect ---- */

/**
 * cio_unix_stream_connect() - connect to a listening socket (tokio's UnixStream::connect).
 * @ret_stream: receives the connected stream, written only on success.
 * @addr: a path or an abstract name.
 *
 * Linux connects a Unix stream at once or fails at once — except when the listener's backlog
 * is full (its program does not accept fast enough), where the non-blocking connect fails
 * with -EAGAIN and no event says when to retry. This call then retries, sleeping between
 * attempts (1 ms, doubling up to 64 ms), until the connect succeeds or fails otherwise, or
 * the task's deadline or cancellation stops it: the behaviour of a TCP connect to a busy
 * server, which keeps retrying its SYN. A server that never accepts makes it wait until the
 * deadline: bound it with cio_deadline_set(). On systems that connect in the background it
 * waits for the outcome. On any failure no socket is left behind.
 *
 * Return: 0; -ENOENT (no socket file at the path); -ECONNREFUSED (nobody listens there);
 * -EPROTOTYPE (a datagram socket there); -EACCES; -ETIMEDOUT (the deadline passed while the
 * backlog stayed full); -ECANCELED; -EMFILE/-ENFILE; -ENOMEM; -EINVAL (NULL, the unnamed
 * address); -EAFNOSUPPORT (an IP address); -EPERM outside a task.
 */
CIO_EXPORT int cio_unix_stream_connect(cio_unix_stream **ret_stream, const cio_addr *addr);

#ifndef CIO_NO_GENERIC
/* Descriptor passing and credentials take a Unix stream (or a half of one) or a Unix
 * datagram socket: see cio/socket.h. */
#define cio_unix_try_send_fds(s, b, n, f, c, a)                                                    \
    (cio_unix_try_send_fds)(cio__as_unix(s), b, n, f, c, a)
#define cio_unix_try_recv_fds(s, b, n, f, m, r, a)                                                 \
    (cio_unix_try_recv_fds)(cio__as_unix(s), b, n, f, m, r, a)
#define cio_unix_send_fds(s, b, n, f, c, a) (cio_unix_send_fds)(cio__as_unix(s), b, n, f, c, a)
#define cio_unix_recv_fds(s, b, n, f, m, r, a)                                                     \
    (cio_unix_recv_fds)(cio__as_unix(s), b, n, f, m, r, a)
#define cio_unix_peer_cred(s, c) (cio_unix_peer_cred)(cio__as_unix(s), c)
#endif

#ifdef __cplusplus
}
#endif

#endif /* CIO_UNIX_H */
