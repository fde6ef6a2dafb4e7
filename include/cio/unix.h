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
