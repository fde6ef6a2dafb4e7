/*
 * cio/unix.h: Unix-domain sockets without a runtime — mio's UnixListener, UnixStream and
 * UnixDatagram, with what their users keep asking for on Linux: the peer's credentials,
 * descriptor passing (several descriptors per message, received close-on-exec, and never
 * leaked when they do not fit), Linux abstract names, socket pairs, and a listener that can
 * remove its socket file when it closes. Every call returns at once; register the
 * descriptor with a cio_poll and call the try_* functions until -EAGAIN after each event.
 * The common rules (non-blocking and close-on-exec descriptors, no SIGPIPE, zero-length
 * stream calls, adopting descriptors) are in cio/net.h.
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
 * writes; cio_unix_listener_try_accept() may be called from several threads at once. Every
 * function accepts a NULL handle and returns -EINVAL (or does nothing, for close).
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

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_unix_listener cio_unix_listener;
typedef struct cio_unix_stream cio_unix_stream;
typedef struct cio_unix_datagram cio_unix_datagram;

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
 * cio_unix_listener_bind() - create a listening Unix stream socket (mio's
 * UnixListener::bind).
 * @ret_listener: receives the listener (written only on success).
 * @addr: a path (the socket file is created; it must not exist), an abstract name, or the
 *        unnamed address (autobind: read the chosen name back with
 *        cio_unix_listener_local_addr()).
 * @backlog: the listen backlog; 0 or less means CIO_LISTEN_BACKLOG_DEFAULT. Connects beyond
 *           it fail with -EAGAIN (see the top of this header).
 *
 * A socket file left by an earlier run makes bind fail with -EADDRINUSE: cio never removes a
 * file it did not create (see cio_unix_listener_set_unlink_on_close()).
 *
 * Return: 0; -EINVAL for NULL; -EAFNOSUPPORT for an IP address; -EADDRINUSE (the path
 * exists, or the abstract name is taken); -ENOENT (a directory of the path does not exist);
 * -EACCES; -EROFS; -EMFILE/-ENFILE; -ENOMEM. A path longer than sun_path cannot be a cio_addr
 * (cio_addr_unix() says -ENAMETOOLONG).
 */
CIO_EXPORT int cio_unix_listener_bind(cio_unix_listener **ret_listener, const cio_addr *addr,
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

/** cio_unix_listener_local_addr() - the bound address. Return: 0; -EINVAL; -EBADF. */
CIO_EXPORT int cio_unix_listener_local_addr(const cio_unix_listener *listener, cio_addr *ret_addr);

/**
 * cio_unix_listener_take_error() - read and clear the pending error (SO_ERROR).
 * Return: 0; the pending error; -EINVAL; -EBADF.
 */
CIO_EXPORT int cio_unix_listener_take_error(cio_unix_listener *listener);

/**
 * cio_unix_listener_set_unlink_on_close() - remove the socket file when the listener is
 * closed (off by default, like mio and tokio; libuv never removes it).
 *
 * cio notes the file's identity (device and inode) when it binds (or, for an adopted
 * listener, when it adopts it) and at close removes the path only if it is still that file:
 * a file another process has bound since at the same path is left alone. A relative path is
 * resolved against the working directory at close time (the identity check keeps a changed
 * directory harmless: nothing is removed). cio_unix_listener_into_fd() never removes it.
 *
 * Return: 0; -EINVAL for NULL, or (to turn it on) a listener not bound to a path (abstract,
 * unnamed, or its file was already gone when cio noted it).
 */
CIO_EXPORT int cio_unix_listener_set_unlink_on_close(cio_unix_listener *listener, bool on);
/** cio_unix_listener_unlink_on_close() - whether it is on. Return: 0; -EINVAL. */
CIO_EXPORT int cio_unix_listener_unlink_on_close(const cio_unix_listener *listener, bool *ret_on);

/** cio_unix_listener_fd() - the descriptor (CIO_READABLE), still owned by the listener. */
CIO_EXPORT int cio_unix_listener_fd(const cio_unix_listener *listener);

/**
 * cio_unix_listener_from_fd() - adopt a listening Unix stream socket made elsewhere (systemd
 * socket activation...), making it non-blocking and close-on-exec.
 *
 * Return: 0; -EBADF; -ENOTSOCK; -EAFNOSUPPORT (not AF_UNIX); -EPROTOTYPE (not a stream);
 * -EINVAL (not listening); -ENOMEM. On failure @fd is untouched and still the caller's.
 */
CIO_EXPORT int cio_unix_listener_from_fd(cio_unix_listener **ret_listener, int fd);

/**
 * cio_unix_listener_into_fd() - free the listener and return its descriptor (open,
 * non-blocking, close-on-exec); the socket file stays. Return: the descriptor; -EINVAL.
 */
CIO_EXPORT int cio_unix_listener_into_fd(cio_unix_listener *listener);

/**
 * cio_unix_listener_close() - close and free (NULL is allowed); removes the socket file if
 * cio_unix_listener_set_unlink_on_close() is on. Connections not yet accepted are reset
 * (their clients read -ECONNRESET).
 */
CIO_EXPORT void cio_unix_listener_close(cio_unix_listener *listener);

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
 * cio_unix_stream_try_read() - read what has arrived, without waiting.
 *
 * Return: bytes read (> 0); 0 at end of stream (the peer shut down writing or closed) — or
 * when @len is 0; -EAGAIN; -ECONNRESET (the peer closed with unread data); -EINVAL.
 */
CIO_EXPORT ssize_t cio_unix_stream_try_read(cio_unix_stream *stream, void *buf, size_t len);

/**
 * cio_unix_stream_try_write() - queue bytes, without waiting; may take fewer than offered.
 * Never raises SIGPIPE (MSG_NOSIGNAL).
 *
 * Return: bytes taken (> 0); 0 when @len is 0; -EAGAIN (send buffer full); -EPIPE (this side
 * shut down writing, or the peer closed or shut down reading); -EINVAL.
 */
CIO_EXPORT ssize_t cio_unix_stream_try_write(cio_unix_stream *stream, const void *buf, size_t len);

/** cio_unix_stream_try_readv() - try_read() into several buffers (recvmsg). */
CIO_EXPORT ssize_t cio_unix_stream_try_readv(cio_unix_stream *stream, const struct iovec *iov,
                                             int iovcnt);

/** cio_unix_stream_try_writev() - try_write() from several buffers (sendmsg, MSG_NOSIGNAL). */
CIO_EXPORT ssize_t cio_unix_stream_try_writev(cio_unix_stream *stream, const struct iovec *iov,
                                              int iovcnt);

/** cio_unix_stream_try_peek() - as try_read(), but the bytes stay queued (MSG_PEEK). */
CIO_EXPORT ssize_t cio_unix_stream_try_peek(cio_unix_stream *stream, void *buf, size_t len);

/**
 * cio_unix_stream_try_send_fds() - write bytes with descriptors attached, without waiting.
 * @buf, @len: the data, at least 1 byte when @nfds > 0.
 * @fds: the descriptors to pass (the caller keeps its own; they stay open here).
 * @nfds: how many, 0 to CIO_UNIX_FDS_MAX.
 *
 * The descriptors go with the first byte sent: a short write (fewer bytes than @len) has
 * passed them all, and the rest of the data goes with a plain write.
 *
 * Return: bytes taken (> 0); -EAGAIN (nothing sent, descriptors included); -EINVAL (NULL
 * @fds with a count, @nfds above CIO_UNIX_FDS_MAX, descriptors with no data); -EBADF (a
 * descriptor that is not open); -ETOOMANYREFS (Linux's limit on descriptors in flight);
 * -EPIPE.
 */
CIO_EXPORT ssize_t cio_unix_stream_try_send_fds(cio_unix_stream *stream, const void *buf,
                                                size_t len, const int *fds, size_t nfds);

/**
 * cio_unix_stream_try_recv_fds() - read bytes and any descriptors sent with them, without
 * waiting.
 * @fds: receives the descriptors (the caller owns them; close-on-exec).
 * @max_fds: the room in @fds, 0 to CIO_UNIX_FDS_MAX (larger is treated as the maximum).
 * @ret_nfds: receives how many arrived (0 when the bytes carried none).
 *
 * One call returns at most one message's descriptors: Linux ends the read with the last
 * byte of the write that carried them (bytes written before them, without descriptors, may
 * come in the same read).
 *
 * Return: bytes read (> 0); 0 at end of stream or when @len is 0; -EAGAIN; -ENOBUFS when more
 * descriptors came than @max_fds, or the kernel could not install them all (see the top of
 * this header; all that arrived were closed); -EINVAL.
 */
CIO_EXPORT ssize_t cio_unix_stream_try_recv_fds(cio_unix_stream *stream, void *buf, size_t len,
                                                int *fds, size_t max_fds, size_t *ret_nfds);

/**
 * cio_unix_stream_peer_cred() - the peer process's pid, uid and gid (SO_PEERCRED), as of
 * connect / listen / socketpair time.
 *
 * Return: 0; -ENOTCONN when not connected; -EINVAL; -EBADF.
 */
CIO_EXPORT int cio_unix_stream_peer_cred(const cio_unix_stream *stream, cio_unix_cred *ret_cred);

/** cio_unix_stream_local_addr() - this end's address (usually unnamed for a client). */
CIO_EXPORT int cio_unix_stream_local_addr(const cio_unix_stream *stream, cio_addr *ret_addr);

/**
 * cio_unix_stream_peer_addr() - the other end's address (the listener's, for a client).
 * Return: 0; -ENOTCONN; -EINVAL; -EBADF.
 */
CIO_EXPORT int cio_unix_stream_peer_addr(const cio_unix_stream *stream, cio_addr *ret_addr);

/** cio_unix_stream_take_error() - read and clear the pending error (SO_ERROR). */
CIO_EXPORT int cio_unix_stream_take_error(cio_unix_stream *stream);

/**
 * cio_unix_stream_shutdown() - shut down reading, writing or both.
 *
 * CIO_SHUTDOWN_WRITE: the peer reads end of stream once it has read what was sent, and may
 * keep writing (half-close). CIO_SHUTDOWN_READ: reads here return 0, and — unlike TCP — the
 * peer's writes fail with -EPIPE from then on.
 *
 * Return: 0; -ENOTCONN; -EINVAL.
 */
CIO_EXPORT int cio_unix_stream_shutdown(cio_unix_stream *stream, cio_shutdown how);

/** cio_unix_stream_fd() - the descriptor, still owned by the stream. */
CIO_EXPORT int cio_unix_stream_fd(const cio_unix_stream *stream);

/**
 * cio_unix_stream_from_fd() - adopt a Unix stream socket made elsewhere (connected or not;
 * not listening), making it non-blocking and close-on-exec.
 *
 * Return: 0; -EBADF; -ENOTSOCK; -EAFNOSUPPORT (not AF_UNIX); -EPROTOTYPE (not a stream);
 * -EINVAL (listening); -ENOMEM. On failure @fd is untouched and still the caller's.
 */
CIO_EXPORT int cio_unix_stream_from_fd(cio_unix_stream **ret_stream, int fd);

/** cio_unix_stream_into_fd() - free the stream and return its descriptor. */
CIO_EXPORT int cio_unix_stream_into_fd(cio_unix_stream *stream);

/**
 * cio_unix_stream_close() - close and free (NULL is allowed). The peer reads end of stream
 * (or -ECONNRESET if this end left data unread); its writes then fail with -EPIPE.
 */
CIO_EXPORT void cio_unix_stream_close(cio_unix_stream *stream);

/* SO_SNDBUF / SO_RCVBUF in bytes (doubled and clamped by Linux; the getter reads the
 * kernel's value). On a Unix stream the send buffer bounds what is in flight. */
CIO_EXPORT int cio_unix_stream_set_send_buffer_size(cio_unix_stream *stream, int bytes);
CIO_EXPORT int cio_unix_stream_send_buffer_size(const cio_unix_stream *stream, int *ret_bytes);
CIO_EXPORT int cio_unix_stream_set_recv_buffer_size(cio_unix_stream *stream, int bytes);
CIO_EXPORT int cio_unix_stream_recv_buffer_size(const cio_unix_stream *stream, int *ret_bytes);

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
 * cio_unix_datagram_bind() - a datagram socket bound to @addr (path, abstract name, or
 * unnamed for autobind).
 *
 * Return: 0; the bind errors of cio_unix_listener_bind().
 */
CIO_EXPORT int cio_unix_datagram_bind(cio_unix_datagram **ret_socket, const cio_addr *addr);

/**
 * cio_unix_datagram_unbound() - a datagram socket with no address. It can send (to an
 * address or, after connect, to its peer); its receivers see the unnamed address and cannot
 * answer it. Return: 0; -EINVAL; -EMFILE/-ENFILE; -ENOMEM.
 */
CIO_EXPORT int cio_unix_datagram_unbound(cio_unix_datagram **ret_socket);

/**
 * cio_unix_datagram_pair() - two connected, unnamed datagram sockets (socketpair(2)).
 * Return: 0; -EINVAL; -EMFILE/-ENFILE; -ENOMEM. Both or neither are written.
 */
CIO_EXPORT int cio_unix_datagram_pair(cio_unix_datagram **ret_a, cio_unix_datagram **ret_b);

/**
 * cio_unix_datagram_connect() - set the peer: sends without an address go there, and only
 * datagrams from it are received. Immediate; may be called again to change the peer.
 *
 * Return: 0; -ENOENT (no socket file); -ECONNREFUSED (nobody bound there any more);
 * -EPROTOTYPE (a stream socket there); -EPERM (the peer is connected to another socket);
 * -EINVAL (NULL, the unnamed address); -EAFNOSUPPORT.
 */
CIO_EXPORT int cio_unix_datagram_connect(cio_unix_datagram *socket, const cio_addr *addr);

/** cio_unix_datagram_disconnect() - forget the peer (connect to AF_UNSPEC). Return: 0. */
CIO_EXPORT int cio_unix_datagram_disconnect(cio_unix_datagram *socket);

/**
 * cio_unix_datagram_try_send() / _try_send_to() - send one datagram to the connected peer /
 * to @addr, without waiting. All or nothing.
 *
 * Return: @len; -EAGAIN (the receiver's queue is full); -EMSGSIZE (larger than the send
 * buffer); -ENOTCONN (no peer, or no longer: after the -ECONNREFUSED that reported a closed
 * peer, Linux drops the association); -ECONNREFUSED (the peer is gone); -ENOENT
 * (no socket at @addr); -EPERM (the receiver is connected to another socket); -EINVAL;
 * -EAFNOSUPPORT.
 */
CIO_EXPORT ssize_t cio_unix_datagram_try_send(cio_unix_datagram *socket, const void *buf,
                                              size_t len);
CIO_EXPORT ssize_t cio_unix_datagram_try_send_to(cio_unix_datagram *socket, const void *buf,
                                                 size_t len, const cio_addr *addr);

/**
 * cio_unix_datagram_try_recv() / _try_recv_from() / _try_peek() / _try_peek_from() -
 * receive (or peek at) one datagram, without waiting; @ret_from (may be NULL) receives the
 * sender, the unnamed address for an unbound one.
 *
 * Return: the datagram's length (0 for an empty one); -EAGAIN; -EMSGSIZE (longer than @len:
 * see above); -EINVAL.
 */
CIO_EXPORT ssize_t cio_unix_datagram_try_recv(cio_unix_datagram *socket, void *buf, size_t len);
CIO_EXPORT ssize_t cio_unix_datagram_try_recv_from(cio_unix_datagram *socket, void *buf, size_t len,
                                                   cio_addr *ret_from);
CIO_EXPORT ssize_t cio_unix_datagram_try_peek(cio_unix_datagram *socket, void *buf, size_t len);
CIO_EXPORT ssize_t cio_unix_datagram_try_peek_from(cio_unix_datagram *socket, void *buf, size_t len,
                                                   cio_addr *ret_from);

/**
 * cio_unix_datagram_try_peek_sender() - the length and sender (@ret_from, may be NULL) of
 * the next datagram, without taking it. Return: the length; -EAGAIN; -EINVAL.
 */
CIO_EXPORT ssize_t cio_unix_datagram_try_peek_sender(cio_unix_datagram *socket, cio_addr *ret_from);

/**
 * cio_unix_datagram_try_send_fds() - send one datagram with descriptors attached.
 * @buf, @len: the data (may be empty: a datagram can carry descriptors alone).
 * @fds, @nfds: as for cio_unix_stream_try_send_fds().
 * @addr: the destination, or NULL for the connected peer.
 *
 * Return: as cio_unix_datagram_try_send(); -EBADF; -ETOOMANYREFS.
 */
CIO_EXPORT ssize_t cio_unix_datagram_try_send_fds(cio_unix_datagram *socket, const void *buf,
                                                  size_t len, const int *fds, size_t nfds,
                                                  const cio_addr *addr);

/**
 * cio_unix_datagram_try_recv_fds() - receive one datagram and its descriptors.
 * @fds, @max_fds, @ret_nfds: as for cio_unix_stream_try_recv_fds().
 * @ret_from: receives the sender; may be NULL.
 *
 * Return: the datagram's length; -EAGAIN; -EMSGSIZE (the data did not fit: the datagram is
 * lost and its descriptors were closed); -ENOBUFS (the descriptors did not fit: all that
 * arrived were closed); -EINVAL.
 */
CIO_EXPORT ssize_t cio_unix_datagram_try_recv_fds(cio_unix_datagram *socket, void *buf, size_t len,
                                                  int *fds, size_t max_fds, size_t *ret_nfds,
                                                  cio_addr *ret_from);

/**
 * cio_unix_datagram_peer_cred() - the peer's credentials. Linux records them only for the
 * two ends of cio_unix_datagram_pair(); a connected datagram socket has none.
 * Return: 0; -ENODATA (none recorded); -EINVAL; -EBADF.
 */
CIO_EXPORT int cio_unix_datagram_peer_cred(const cio_unix_datagram *socket,
                                           cio_unix_cred *ret_cred);

/** cio_unix_datagram_local_addr() - the bound address (unnamed if unbound). */
CIO_EXPORT int cio_unix_datagram_local_addr(const cio_unix_datagram *socket, cio_addr *ret_addr);
/** cio_unix_datagram_peer_addr() - the connected peer. Return: 0; -ENOTCONN; -EINVAL. */
CIO_EXPORT int cio_unix_datagram_peer_addr(const cio_unix_datagram *socket, cio_addr *ret_addr);
/** cio_unix_datagram_take_error() - read and clear the pending error (SO_ERROR). */
CIO_EXPORT int cio_unix_datagram_take_error(cio_unix_datagram *socket);

/**
 * cio_unix_datagram_shutdown() - shut down receiving (senders then get -EPIPE; datagrams
 * already queued can still be received, after which receives say -EAGAIN: a datagram
 * socket has no end of stream), sending (sends fail with -EPIPE), or both.
 * Return: 0; -EINVAL.
 */
CIO_EXPORT int cio_unix_datagram_shutdown(cio_unix_datagram *socket, cio_shutdown how);

/** cio_unix_datagram_fd() - the descriptor, still owned by the socket. */
CIO_EXPORT int cio_unix_datagram_fd(const cio_unix_datagram *socket);

/**
 * cio_unix_datagram_from_fd() - adopt a Unix datagram socket made elsewhere, making it
 * non-blocking and close-on-exec.
 * Return: 0; -EBADF; -ENOTSOCK; -EAFNOSUPPORT; -EPROTOTYPE (not SOCK_DGRAM); -ENOMEM.
 */
CIO_EXPORT int cio_unix_datagram_from_fd(cio_unix_datagram **ret_socket, int fd);

/** cio_unix_datagram_into_fd() - free the handle and return its descriptor. */
CIO_EXPORT int cio_unix_datagram_into_fd(cio_unix_datagram *socket);

/** cio_unix_datagram_close() - close and free (NULL is allowed). A bound path's file stays. */
CIO_EXPORT void cio_unix_datagram_close(cio_unix_datagram *socket);

/* SO_SNDBUF (bounds the largest datagram) / SO_RCVBUF, in bytes; getters read the kernel. */
CIO_EXPORT int cio_unix_datagram_set_send_buffer_size(cio_unix_datagram *socket, int bytes);
CIO_EXPORT int cio_unix_datagram_send_buffer_size(const cio_unix_datagram *socket, int *ret_bytes);
CIO_EXPORT int cio_unix_datagram_set_recv_buffer_size(cio_unix_datagram *socket, int bytes);
CIO_EXPORT int cio_unix_datagram_recv_buffer_size(const cio_unix_datagram *socket, int *ret_bytes);

#ifdef __cplusplus
}
#endif

#endif /* CIO_UNIX_H */

/* ---- async operations (inside runtime tasks; see cio/io.h and cio/rt.h) ---- */
/*
 * tokio's UnixListener, UnixStream and UnixDatagram in C, plus descriptor passing. These
 * functions suspend the calling runtime task where the try_* functions above would return
 * -EAGAIN, and return when the operation is done. They are called from a task (else -EPERM),
 * on a handle from any source (bind, accept, connect, pair, from_fd). The socket registers
 * with the reactor of the calling task's worker the first time it has to wait; the rules of
 * cio/io.h apply, exactly as for TCP (cio/tcp.h):
 *  - A ready socket costs one system call per operation and no reactor round trip. A stream
 *    read that returns fewer bytes than asked clears read readiness (the socket is drained).
 *    Linux ends a stream read early after a write that carried descriptors (and, with
 *    SO_PASSCRED, between writers): a plain read detects that and reads on, so the rule
 *    stays true and no byte is left behind unannounced. Datagram receives never use the
 *    rule: one datagram says nothing about the next.
 *  - One reader task and one writer task may use a socket at once (on any workers); a second
 *    task waiting in a direction where one already waits gets -EBUSY. A listener has one
 *    accepting task at a time.
 *  - Closing a socket while a task waits on it wakes that task with -EBADF (it must not touch
 *    the handle again).
 *  - Every suspending call returns -ECANCELED when the task is cancelled and -ETIMEDOUT when
 *    its deadline (cio_deadline_set) passes (cio/rt.h).
 *
 * CANCEL SAFETY. accept, read, readv, peek, recv_fds, the datagram receives and peeks, ready,
 * readable and writable consume nothing when they return -ECANCELED or -ETIMEDOUT: call them
 * again and no byte, datagram, descriptor or connection is lost. write, writev, send_fds and
 * the datagram sends return -ECANCELED/-ETIMEDOUT only when they sent nothing (a datagram is
 * sent whole or not at all). read_exact, write_all and write_all_v may be cut after part of
 * the transfer: they report the bytes moved in *ret_done (written in every case, success or
 * not — unlike other ret_ parameters). The copy functions report the bytes delivered; bytes
 * in flight inside the copy when it is cut short are lost. Connect closes its socket on any
 * failure.
 *
 * The poll_* functions are for state machines that do not suspend: they return at once,
 * either with a result or with -EAGAIN after arming a wake callback (cio_wake_fn, cio/io.h)
 * called once the direction becomes ready; only the latest callback per direction is kept;
 * closing the handle calls an armed callback. They may be called outside a task once the
 * handle is registered (a first call from a task, or any earlier wait, registers it).
 *
 * Shutdown has no async form: cio_unix_stream_shutdown() never waits.
 */
#ifndef CIO_UNIX_ASYNC_H
#define CIO_UNIX_ASYNC_H

#include "cio/io.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A TCP stream (cio/tcp.h), for copying between the two kinds of stream. */
struct cio_tcp_stream;

/* ---- listener ---- */

/**
 * cio_unix_listener_accept() - wait for a connection and accept it (tokio's
 * UnixListener::accept).
 * @listener: the listener; one accepting task at a time.
 * @ret_stream: receives the new stream (non-blocking, close-on-exec), written only on
 *              success.
 * @ret_peer: receives the client's address (usually unnamed); may be NULL.
 *
 * Suspends while no connection is pending. Cancel safe: a -ECANCELED/-ETIMEDOUT accept took
 * no connection from the backlog. Out of descriptors, the pending connections are shed and
 * -EMFILE/-ENFILE returned at once (see cio_unix_listener_try_accept()): back off before
 * accepting again.
 *
 * Return: 0; -EMFILE/-ENFILE; -ENOMEM; -EBUSY (another task is accepting); -EBADF (closed
 * while waiting); -ECANCELED; -ETIMEDOUT; -EINVAL; -EPERM outside a task.
 */
CIO_EXPORT int cio_unix_listener_accept(cio_unix_listener *listener, cio_unix_stream **ret_stream,
                                        cio_addr *ret_peer);

/**
 * cio_unix_listener_poll_accept() - accept a pending connection, or arm @wake (may be NULL)
 * to be called when one arrives; never waits.
 *
 * Return: 0 with *ret_stream set; -EAGAIN (the callback is armed); the other errors of
 * cio_unix_listener_accept() except -ECANCELED/-ETIMEDOUT/-EBUSY; -EPERM outside a task when
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

/* ---- reading ---- */

/**
 * cio_unix_stream_read() - wait until bytes have arrived (or the stream ended) and read them.
 *
 * Returns as soon as at least one byte is read. Data that came with descriptors is returned
 * without them (Linux closes the descriptors; use cio_unix_stream_recv_fds() to take them).
 * Cancel safe.
 *
 * Return: bytes read (> 0); 0 at end of stream (and for @len 0, without waiting);
 * -ECONNRESET (the peer closed with unread data); -EBUSY; -EBADF (closed while waiting);
 * -ECANCELED; -ETIMEDOUT; -EINVAL; -EPERM outside a task.
 */
CIO_EXPORT ssize_t cio_unix_stream_read(cio_unix_stream *stream, void *buf, size_t len);

/**
 * cio_unix_stream_read_exact() - read exactly @len bytes, waiting as needed.
 * @ret_done: receives the bytes read into @buf, in every case (may be NULL): @len on success,
 *            the progress made when an error, the deadline or a cancellation cut it short —
 *            resume with @buf + *ret_done.
 *
 * Return: 0; -EPIPE when the stream ended before @len bytes came; the errors of
 * cio_unix_stream_read().
 */
CIO_EXPORT int cio_unix_stream_read_exact(cio_unix_stream *stream, void *buf, size_t len,
                                          size_t *ret_done);

/**
 * cio_unix_stream_readv() - cio_unix_stream_read() scattering into several buffers.
 * @iov, @iovcnt: the buffers, 0 to IOV_MAX of them.
 *
 * Return: as cio_unix_stream_read(); -EINVAL for a bad iovec array. Cancel safe.
 */
CIO_EXPORT ssize_t cio_unix_stream_readv(cio_unix_stream *stream, const struct iovec *iov,
                                         int iovcnt);

/**
 * cio_unix_stream_peek() - wait until bytes have arrived and copy them without consuming
 * them (MSG_PEEK). Linux stops a peek at a write that carried descriptors.
 *
 * Return: as cio_unix_stream_read(). Cancel safe.
 */
CIO_EXPORT ssize_t cio_unix_stream_peek(cio_unix_stream *stream, void *buf, size_t len);

/* ---- writing ---- */

/**
 * cio_unix_stream_write() - wait until the stream can take bytes and queue what it takes.
 *
 * Returns as soon as at least one byte was taken (possibly fewer than @len). Never raises
 * SIGPIPE. A -ECANCELED/-ETIMEDOUT write took nothing.
 *
 * Return: bytes taken (> 0); 0 for @len 0; -EPIPE (this side shut down writing, or the peer
 * closed or shut down reading); -EBUSY; -EBADF; -ECANCELED; -ETIMEDOUT; -EINVAL; -EPERM.
 */
CIO_EXPORT ssize_t cio_unix_stream_write(cio_unix_stream *stream, const void *buf, size_t len);

/**
 * cio_unix_stream_write_all() - write all @len bytes, waiting as needed.
 * @ret_done: receives the bytes taken, in every case (may be NULL).
 *
 * Return: 0; the errors of cio_unix_stream_write().
 */
CIO_EXPORT int cio_unix_stream_write_all(cio_unix_stream *stream, const void *buf, size_t len,
                                         size_t *ret_done);

/**
 * cio_unix_stream_writev() - cio_unix_stream_write() gathering from several buffers.
 *
 * Return: as cio_unix_stream_write(); -EINVAL for a bad iovec array.
 */
CIO_EXPORT ssize_t cio_unix_stream_writev(cio_unix_stream *stream, const struct iovec *iov,
                                          int iovcnt);

/**
 * cio_unix_stream_write_all_v() - write every byte of @iov (vectored write-all). @iov is not
 * modified.
 * @ret_done: the bytes taken, in every case (may be NULL), counted across the buffers.
 *
 * Return: 0; the errors of cio_unix_stream_writev().
 */
CIO_EXPORT int cio_unix_stream_write_all_v(cio_unix_stream *stream, const struct iovec *iov,
                                           int iovcnt, size_t *ret_done);

/* ---- descriptor passing ---- */

/**
 * cio_unix_stream_send_fds() - wait until the stream can take bytes, then write bytes with
 * descriptors attached (see cio_unix_stream_try_send_fds() for @fds and @nfds; at least one
 * byte must go with them).
 *
 * The descriptors go with the first byte taken: a return of fewer than @len bytes has passed
 * them all; send the rest with cio_unix_stream_write_all(). Cancel safe: -ECANCELED or
 * -ETIMEDOUT means nothing was sent, descriptors included. The caller keeps its own
 * descriptors open.
 *
 * Return: bytes taken (> 0); -EBADF (a descriptor that is not open, or the stream closed
 * while waiting); -ETOOMANYREFS; -EPIPE; -EBUSY; -ECANCELED; -ETIMEDOUT; -EINVAL (NULL @fds
 * with a count, @nfds above CIO_UNIX_FDS_MAX, descriptors with no data); -EPERM.
 */
CIO_EXPORT ssize_t cio_unix_stream_send_fds(cio_unix_stream *stream, const void *buf, size_t len,
                                            const int *fds, size_t nfds);

/**
 * cio_unix_stream_recv_fds() - wait until bytes have arrived, then read them and any
 * descriptors sent with them (see cio_unix_stream_try_recv_fds(): at most one message's
 * descriptors per call; received close-on-exec; the caller owns them).
 * @ret_nfds: receives how many descriptors arrived (0 when the bytes carried none).
 *
 * Cancel safe: a -ECANCELED/-ETIMEDOUT receive took no byte and no descriptor. Descriptors
 * that do not fit in @max_fds are closed, never leaked (-ENOBUFS; the bytes that came with
 * them were consumed).
 *
 * Return: bytes read (> 0); 0 at end of stream or for @len 0; -ENOBUFS; -ECONNRESET; -EBUSY;
 * -EBADF; -ECANCELED; -ETIMEDOUT; -EINVAL; -EPERM.
 */
CIO_EXPORT ssize_t cio_unix_stream_recv_fds(cio_unix_stream *stream, void *buf, size_t len,
                                            int *fds, size_t max_fds, size_t *ret_nfds);

/* ---- readiness ---- */

/**
 * cio_unix_stream_ready() - wait until the stream is ready for any of @interest (tokio's
 * UnixStream::ready).
 * @interest: CIO_READABLE and/or CIO_WRITABLE (cio/poll.h).
 *
 * Returns the cached readiness, which may be stale: follow with try_* calls and, when one
 * says -EAGAIN, call cio_unix_stream_clear_ready() with what this returned — or use
 * cio_unix_stream_try_io(), which does it. Cancel safe.
 *
 * Return: a non-empty set of CIO_READY_* bits (CIO_READY_READ_CLOSED after the peer shut
 * down writing); -EBUSY; -EBADF; -ECANCELED; -ETIMEDOUT; -EINVAL; -EPERM.
 */
CIO_EXPORT int cio_unix_stream_ready(cio_unix_stream *stream, unsigned interest);

/** cio_unix_stream_readable() - cio_unix_stream_ready(stream, CIO_READABLE). */
CIO_EXPORT int cio_unix_stream_readable(cio_unix_stream *stream);

/** cio_unix_stream_writable() - cio_unix_stream_ready(stream, CIO_WRITABLE). */
CIO_EXPORT int cio_unix_stream_writable(cio_unix_stream *stream);

/**
 * cio_unix_stream_clear_ready() - forget readiness found stale: clears the bits of @ready
 * unless a newer event arrived since (closed states are never cleared). NULL is allowed.
 */
CIO_EXPORT void cio_unix_stream_clear_ready(cio_unix_stream *stream, int ready);

/**
 * cio_unix_stream_poll_read_ready() - the read readiness now, or arm @wake.
 *
 * Return: a CIO_READY_* set when readable; -EAGAIN (armed); -EBADF; -EINVAL; -EPERM.
 */
CIO_EXPORT int cio_unix_stream_poll_read_ready(cio_unix_stream *stream, cio_wake_fn wake,
                                               void *ctx);

/** cio_unix_stream_poll_write_ready() - as poll_read_ready, for writing. */
CIO_EXPORT int cio_unix_stream_poll_write_ready(cio_unix_stream *stream, cio_wake_fn wake,
                                                void *ctx);

/**
 * cio_unix_stream_poll_peek() - peek at what has arrived, or arm @wake for when bytes come;
 * never waits.
 *
 * Return: bytes copied (> 0); 0 at end of stream (or @len 0); -EAGAIN (armed); -ECONNRESET;
 * -EBADF; -EINVAL; -EPERM.
 */
CIO_EXPORT ssize_t cio_unix_stream_poll_peek(cio_unix_stream *stream, void *buf, size_t len,
                                             cio_wake_fn wake, void *ctx);

/**
 * cio_unix_stream_try_io() - run the caller's own non-blocking operation @fn(@ctx) on the
 * stream's descriptor once, under cio's readiness bookkeeping: if @fn returns -EAGAIN the
 * cached readiness for @interest is cleared (tokio's try_io). Never waits; usable outside a
 * task.
 * @interest: the direction @fn uses: CIO_READABLE or CIO_WRITABLE.
 *
 * Return: @fn's result; -EINVAL.
 */
CIO_EXPORT ssize_t cio_unix_stream_try_io(cio_unix_stream *stream, unsigned interest, cio_io_fn fn,
                                          void *ctx);

/**
 * cio_unix_stream_async_io() - run @fn(@ctx) until it does not return -EAGAIN, waiting for
 * @interest between attempts (tokio's async_io). Cancel safe as long as @fn consumes nothing
 * when it returns -EAGAIN.
 *
 * Return: @fn's result; -EBUSY; -EBADF; -ECANCELED; -ETIMEDOUT; -EINVAL; -EPERM.
 */
CIO_EXPORT ssize_t cio_unix_stream_async_io(cio_unix_stream *stream, unsigned interest,
                                            cio_io_fn fn, void *ctx);

/* ---- copying ---- */

/**
 * cio_unix_stream_copy() - move every byte from @from to @to until @from ends, then shut
 * down @to's write side (tokio's io::copy followed by shutdown).
 * @ret_bytes: receives the bytes delivered to @to, in every case (may be NULL).
 *
 * As cio_tcp_stream_copy(): splice(2) through a pipe on Linux, a 64 KiB buffer when that is
 * not possible. Descriptors passed on @from are not carried (Linux closes them). The calling
 * task is @from's reader and @to's writer.
 *
 * Return: 0 when @from ended and everything was delivered; -EPIPE/-ECONNRESET from either
 * stream; -EBUSY; -EBADF; -ECANCELED; -ETIMEDOUT; -EINVAL; -EPERM.
 */
CIO_EXPORT int cio_unix_stream_copy(cio_unix_stream *from, cio_unix_stream *to,
                                    uint64_t *ret_bytes);

/**
 * cio_unix_stream_copy_to_tcp() / cio_unix_stream_copy_from_tcp() - cio_unix_stream_copy()
 * from a Unix stream to a TCP stream, and from a TCP stream to a Unix stream (a relay
 * between a local socket and the network).
 *
 * Return: as cio_unix_stream_copy().
 */
CIO_EXPORT int cio_unix_stream_copy_to_tcp(cio_unix_stream *from, struct cio_tcp_stream *to,
                                           uint64_t *ret_bytes);
CIO_EXPORT int cio_unix_stream_copy_from_tcp(struct cio_tcp_stream *from, cio_unix_stream *to,
                                             uint64_t *ret_bytes);

/**
 * cio_unix_stream_copy_bidirectional() - relay both directions between @a and @b until both
 * have ended (tokio's copy_bidirectional); as cio_tcp_stream_copy_bidirectional(): each
 * direction in a helper task on the caller's worker, half-close carried across, the first
 * failure stops the other direction, the caller's deadline and cancellation apply to both.
 * @ret_a_to_b, @ret_b_to_a: receive the bytes delivered each way, in every case (may be
 *                           NULL).
 *
 * Return: 0 when both directions ended cleanly; the first direction's error; -ECANCELED;
 * -ETIMEDOUT; -ENOMEM; -EINVAL (also for @a == @b); -EPERM outside a task.
 */
CIO_EXPORT int cio_unix_stream_copy_bidirectional(cio_unix_stream *a, cio_unix_stream *b,
                                                  uint64_t *ret_a_to_b, uint64_t *ret_b_to_a);

/**
 * cio_unix_stream_copy_bidirectional_tcp() - cio_unix_stream_copy_bidirectional() between a
 * Unix stream @a and a TCP stream @b.
 */
CIO_EXPORT int cio_unix_stream_copy_bidirectional_tcp(cio_unix_stream *a, struct cio_tcp_stream *b,
                                                      uint64_t *ret_a_to_b, uint64_t *ret_b_to_a);

/* ---- borrowed halves ---- */

/*
 * Borrowed halves (tokio's UnixStream::split): two small caller-owned views of one stream,
 * one for reading and one for writing, to hand to a reader task and a writer task. Nothing
 * is allocated; the stream must outlive both halves and stays the owner (close the stream,
 * not the halves). The fields are the library's: use the functions.
 */
typedef struct cio_unix_read_half {
    cio_unix_stream *stream;
} cio_unix_read_half;

typedef struct cio_unix_write_half {
    cio_unix_stream *stream;
} cio_unix_write_half;

/**
 * cio_unix_stream_split() - fill in the two borrowed halves of @stream.
 *
 * Return: 0; -EINVAL for NULL.
 */
CIO_EXPORT int cio_unix_stream_split(cio_unix_stream *stream, cio_unix_read_half *ret_rd,
                                     cio_unix_write_half *ret_wr);

/* The stream functions of the same names, on a half (same returns, same cancel safety). */
CIO_EXPORT ssize_t cio_unix_read_half_read(const cio_unix_read_half *rd, void *buf, size_t len);
CIO_EXPORT int cio_unix_read_half_read_exact(const cio_unix_read_half *rd, void *buf, size_t len,
                                             size_t *ret_done);
CIO_EXPORT ssize_t cio_unix_read_half_readv(const cio_unix_read_half *rd, const struct iovec *iov,
                                            int iovcnt);
CIO_EXPORT ssize_t cio_unix_read_half_peek(const cio_unix_read_half *rd, void *buf, size_t len);
CIO_EXPORT ssize_t cio_unix_read_half_recv_fds(const cio_unix_read_half *rd, void *buf, size_t len,
                                               int *fds, size_t max_fds, size_t *ret_nfds);
CIO_EXPORT int cio_unix_read_half_readable(const cio_unix_read_half *rd);
CIO_EXPORT ssize_t cio_unix_write_half_write(const cio_unix_write_half *wr, const void *buf,
                                             size_t len);
CIO_EXPORT int cio_unix_write_half_write_all(const cio_unix_write_half *wr, const void *buf,
                                             size_t len, size_t *ret_done);
CIO_EXPORT ssize_t cio_unix_write_half_writev(const cio_unix_write_half *wr,
                                              const struct iovec *iov, int iovcnt);
CIO_EXPORT int cio_unix_write_half_write_all_v(const cio_unix_write_half *wr,
                                               const struct iovec *iov, int iovcnt,
                                               size_t *ret_done);
CIO_EXPORT ssize_t cio_unix_write_half_send_fds(const cio_unix_write_half *wr, const void *buf,
                                                size_t len, const int *fds, size_t nfds);
CIO_EXPORT int cio_unix_write_half_writable(const cio_unix_write_half *wr);
/** cio_unix_write_half_shutdown() - shut down the stream's write side (the peer reads end of
 * stream). Return: 0; -ENOTCONN; -EINVAL. */
CIO_EXPORT int cio_unix_write_half_shutdown(const cio_unix_write_half *wr);

/* ---- owned halves ---- */

/*
 * Owned halves (tokio's UnixStream::into_split): the stream is moved into two heap halves,
 * each of which may be handed to a task on any worker and closed on its own. Closing the
 * write half shuts down the write direction (the peer reads end of stream) unless
 * cio_unix_owned_write_half_forget() was called first; the socket itself is closed when both
 * halves are closed. Each half is used by one task at a time.
 */
typedef struct cio_unix_owned_read_half cio_unix_owned_read_half;
typedef struct cio_unix_owned_write_half cio_unix_owned_write_half;

/**
 * cio_unix_stream_into_split() - move @stream into two owned halves.
 * @stream: consumed on success (use the halves from then on); untouched on failure.
 * @ret_rd, @ret_wr: receive the halves, written only on success.
 *
 * Return: 0; -ENOMEM; -EINVAL.
 */
CIO_EXPORT int cio_unix_stream_into_split(cio_unix_stream *stream,
                                          cio_unix_owned_read_half **ret_rd,
                                          cio_unix_owned_write_half **ret_wr);

/* The stream functions of the same names, on an owned half (same returns and cancel
 * safety). */
CIO_EXPORT ssize_t cio_unix_owned_read_half_read(cio_unix_owned_read_half *rd, void *buf,
                                                 size_t len);
CIO_EXPORT int cio_unix_owned_read_half_read_exact(cio_unix_owned_read_half *rd, void *buf,
                                                   size_t len, size_t *ret_done);
CIO_EXPORT ssize_t cio_unix_owned_read_half_readv(cio_unix_owned_read_half *rd,
                                                  const struct iovec *iov, int iovcnt);
CIO_EXPORT ssize_t cio_unix_owned_read_half_peek(cio_unix_owned_read_half *rd, void *buf,
                                                 size_t len);
CIO_EXPORT ssize_t cio_unix_owned_read_half_recv_fds(cio_unix_owned_read_half *rd, void *buf,
                                                     size_t len, int *fds, size_t max_fds,
                                                     size_t *ret_nfds);
CIO_EXPORT int cio_unix_owned_read_half_readable(cio_unix_owned_read_half *rd);
CIO_EXPORT ssize_t cio_unix_owned_write_half_write(cio_unix_owned_write_half *wr, const void *buf,
                                                   size_t len);
CIO_EXPORT int cio_unix_owned_write_half_write_all(cio_unix_owned_write_half *wr, const void *buf,
                                                   size_t len, size_t *ret_done);
CIO_EXPORT ssize_t cio_unix_owned_write_half_writev(cio_unix_owned_write_half *wr,
                                                    const struct iovec *iov, int iovcnt);
CIO_EXPORT int cio_unix_owned_write_half_write_all_v(cio_unix_owned_write_half *wr,
                                                     const struct iovec *iov, int iovcnt,
                                                     size_t *ret_done);
CIO_EXPORT ssize_t cio_unix_owned_write_half_send_fds(cio_unix_owned_write_half *wr,
                                                      const void *buf, size_t len, const int *fds,
                                                      size_t nfds);
CIO_EXPORT int cio_unix_owned_write_half_writable(cio_unix_owned_write_half *wr);
/** cio_unix_owned_write_half_shutdown() - shut down the write side now. Return: 0;
 * -ENOTCONN; -EINVAL. */
CIO_EXPORT int cio_unix_owned_write_half_shutdown(cio_unix_owned_write_half *wr);

/**
 * cio_unix_owned_read_half_stream() / cio_unix_owned_write_half_stream() - the stream behind
 * a half, borrowed for addresses, credentials and options. Do not close it, split it or do
 * I/O on it; it lives until both halves are closed. NULL for NULL.
 */
CIO_EXPORT cio_unix_stream *cio_unix_owned_read_half_stream(const cio_unix_owned_read_half *rd);
CIO_EXPORT cio_unix_stream *cio_unix_owned_write_half_stream(const cio_unix_owned_write_half *wr);

/**
 * cio_unix_owned_read_half_close() - release the read half; the socket is closed if the
 * write half is closed too. NULL is allowed. Any thread; not while a task uses the half.
 */
CIO_EXPORT void cio_unix_owned_read_half_close(cio_unix_owned_read_half *rd);

/**
 * cio_unix_owned_write_half_forget() - make the coming cio_unix_owned_write_half_close()
 * leave the write direction open (no shutdown; tokio's OwnedWriteHalf::forget). NULL is
 * allowed.
 */
CIO_EXPORT void cio_unix_owned_write_half_forget(cio_unix_owned_write_half *wr);

/**
 * cio_unix_owned_write_half_close() - shut down the write side (unless forgotten; a failure
 * of that shutdown is ignored) and release the write half; the socket is closed if the read
 * half is closed too. NULL is allowed. Any thread; not while a task uses the half.
 */
CIO_EXPORT void cio_unix_owned_write_half_close(cio_unix_owned_write_half *wr);

/**
 * cio_unix_owned_read_half_reunite() - put the two halves of one stream back together
 * (tokio's reunite).
 * @rd, @wr: consumed on success; on failure both are handed back intact, still the
 *           caller's.
 * @ret_stream: receives the stream, with its registration and readiness as they were.
 *
 * Return: 0; -EINVAL when the halves come from different streams (or NULL).
 */
CIO_EXPORT int cio_unix_owned_read_half_reunite(cio_unix_owned_read_half *rd,
                                                cio_unix_owned_write_half *wr,
                                                cio_unix_stream **ret_stream);

/* ---- datagram ---- */

/*
 * The datagram rules of the try_* calls hold (a receive takes one whole datagram; one longer
 * than the buffer is -EMSGSIZE, taken off the queue by a receive, left by a peek; a zero
 * length sends an empty datagram and a zero-length receive waits for a datagram). A send
 * waits while the receiver's queue is full. Linux wakes the sender when there is room again
 * only if the socket is connected to that receiver, or if it is its own earlier datagrams
 * that the receiver takes: a send_to towards a queue other senders filled may wait until the
 * deadline — connect the socket, or bound the wait.
 */

/**
 * cio_unix_datagram_send() / cio_unix_datagram_send_to() - wait until the datagram can go,
 * then send it whole, to the connected peer / to @addr.
 *
 * Cancel safe: -ECANCELED/-ETIMEDOUT means it was not sent.
 *
 * Return: @len; -EMSGSIZE (larger than the send buffer); -ENOTCONN; -ECONNREFUSED (the peer
 * is gone); -ENOENT; -EPERM (the receiver is connected to another socket, or outside a
 * task); -EBUSY; -EBADF; -ECANCELED; -ETIMEDOUT; -EINVAL; -EAFNOSUPPORT.
 */
CIO_EXPORT ssize_t cio_unix_datagram_send(cio_unix_datagram *socket, const void *buf, size_t len);
CIO_EXPORT ssize_t cio_unix_datagram_send_to(cio_unix_datagram *socket, const void *buf, size_t len,
                                             const cio_addr *addr);

/**
 * cio_unix_datagram_recv() / _recv_from() / _peek() / _peek_from() - wait until a datagram
 * is queued, then receive it (or peek at it); @ret_from (may be NULL) receives the sender,
 * written only on success.
 *
 * Cancel safe: -ECANCELED/-ETIMEDOUT means no datagram was taken.
 *
 * Return: the datagram's length (0 for an empty one); -EMSGSIZE (longer than @len: see
 * above); -EBUSY; -EBADF; -ECANCELED; -ETIMEDOUT; -EINVAL; -EPERM outside a task.
 */
CIO_EXPORT ssize_t cio_unix_datagram_recv(cio_unix_datagram *socket, void *buf, size_t len);
CIO_EXPORT ssize_t cio_unix_datagram_recv_from(cio_unix_datagram *socket, void *buf, size_t len,
                                               cio_addr *ret_from);
CIO_EXPORT ssize_t cio_unix_datagram_peek(cio_unix_datagram *socket, void *buf, size_t len);
CIO_EXPORT ssize_t cio_unix_datagram_peek_from(cio_unix_datagram *socket, void *buf, size_t len,
                                               cio_addr *ret_from);

/**
 * cio_unix_datagram_peek_sender() - wait until a datagram is queued, then return its length
 * and sender (@ret_from, may be NULL) without taking it.
 *
 * Return: the length; the errors of cio_unix_datagram_recv().
 */
CIO_EXPORT ssize_t cio_unix_datagram_peek_sender(cio_unix_datagram *socket, cio_addr *ret_from);

/**
 * cio_unix_datagram_send_fds() - wait until the datagram can go, then send it with
 * descriptors attached (see cio_unix_datagram_try_send_fds(); @addr NULL: the connected
 * peer). Cancel safe: -ECANCELED/-ETIMEDOUT means nothing was sent.
 *
 * Return: @len; the errors of cio_unix_datagram_send(); -EBADF (a descriptor that is not
 * open); -ETOOMANYREFS.
 */
CIO_EXPORT ssize_t cio_unix_datagram_send_fds(cio_unix_datagram *socket, const void *buf,
                                              size_t len, const int *fds, size_t nfds,
                                              const cio_addr *addr);

/**
 * cio_unix_datagram_recv_fds() - wait until a datagram is queued, then receive it with its
 * descriptors (see cio_unix_datagram_try_recv_fds()). Cancel safe: -ECANCELED/-ETIMEDOUT
 * means no datagram and no descriptor was taken.
 *
 * Return: the datagram's length; -EMSGSIZE (the data did not fit: the datagram is lost and
 * its descriptors closed); -ENOBUFS (the descriptors did not fit: all were closed); -EBUSY;
 * -EBADF; -ECANCELED; -ETIMEDOUT; -EINVAL; -EPERM.
 */
CIO_EXPORT ssize_t cio_unix_datagram_recv_fds(cio_unix_datagram *socket, void *buf, size_t len,
                                              int *fds, size_t max_fds, size_t *ret_nfds,
                                              cio_addr *ret_from);

/**
 * cio_unix_datagram_ready() - wait until the socket is ready for any of @interest
 * (CIO_READABLE and/or CIO_WRITABLE); as cio_unix_stream_ready().
 */
CIO_EXPORT int cio_unix_datagram_ready(cio_unix_datagram *socket, unsigned interest);
/** cio_unix_datagram_readable() - cio_unix_datagram_ready(socket, CIO_READABLE). */
CIO_EXPORT int cio_unix_datagram_readable(cio_unix_datagram *socket);
/** cio_unix_datagram_writable() - cio_unix_datagram_ready(socket, CIO_WRITABLE). */
CIO_EXPORT int cio_unix_datagram_writable(cio_unix_datagram *socket);
/** cio_unix_datagram_clear_ready() - as cio_unix_stream_clear_ready(). */
CIO_EXPORT void cio_unix_datagram_clear_ready(cio_unix_datagram *socket, int ready);

/**
 * cio_unix_datagram_poll_recv_ready() / _poll_send_ready() - the receive (send) readiness
 * now, or arm @wake; as cio_unix_stream_poll_read_ready().
 */
CIO_EXPORT int cio_unix_datagram_poll_recv_ready(cio_unix_datagram *socket, cio_wake_fn wake,
                                                 void *ctx);
CIO_EXPORT int cio_unix_datagram_poll_send_ready(cio_unix_datagram *socket, cio_wake_fn wake,
                                                 void *ctx);

/**
 * cio_unix_datagram_poll_recv_from() - receive a queued datagram (@ret_from may be NULL), or
 * arm @wake for when one comes; never waits.
 *
 * Return: the datagram's length; -EAGAIN (armed); -EMSGSIZE; -EBADF; -EINVAL; -EPERM.
 */
CIO_EXPORT ssize_t cio_unix_datagram_poll_recv_from(cio_unix_datagram *socket, void *buf,
                                                    size_t len, cio_addr *ret_from,
                                                    cio_wake_fn wake, void *ctx);

/**
 * cio_unix_datagram_poll_send_to() - send a datagram to @addr (NULL: the connected peer), or
 * arm @wake for when it may go; never waits.
 *
 * Return: @len; -EAGAIN (armed); the errors of cio_unix_datagram_send_to() except
 * -ECANCELED/-ETIMEDOUT/-EBUSY.
 */
CIO_EXPORT ssize_t cio_unix_datagram_poll_send_to(cio_unix_datagram *socket, const void *buf,
                                                  size_t len, const cio_addr *addr,
                                                  cio_wake_fn wake, void *ctx);

/** cio_unix_datagram_try_io() - as cio_unix_stream_try_io(). */
CIO_EXPORT ssize_t cio_unix_datagram_try_io(cio_unix_datagram *socket, unsigned interest,
                                            cio_io_fn fn, void *ctx);
/** cio_unix_datagram_async_io() - as cio_unix_stream_async_io(). */
CIO_EXPORT ssize_t cio_unix_datagram_async_io(cio_unix_datagram *socket, unsigned interest,
                                              cio_io_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* CIO_UNIX_ASYNC_H */
