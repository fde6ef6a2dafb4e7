/*
 * socket.h: what every cio socket kind shares, in one place (private to the library): the
 * struct cio_socket every handle is, and the helpers the kinds (tcp.c, udp.c, unix.c), the
 * public socket core (socket_core.c) and the io layer build on — lifecycle, handles and
 * listeners (socket.c), I/O (sockio.c), accept with the EMFILE defence (accept.c), options
 * and address checks (sockopt.c), SIGPIPE suppression (splice.c). Nothing here knows a
 * transport protocol (the IP-level options serve TCP and UDP alike).
 *
 * Conventions: every function returns a count or 0 on success and a negative errno on
 * failure, never touches errno for the caller, retries EINTR where a retry is safe, and
 * checks `sock` for NULL / a closed descriptor (-EINVAL / -EBADF), so the public functions
 * can pass a NULL handle straight through.
 */
#ifndef CIO_NET_SOCKET_H
#define CIO_NET_SOCKET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "cio/addr.h"
#include "cio/common.h"
#include "cio/net.h"
#include "cio/socket.h"

struct cio_socket;

/*
 * The runtime layer's hook. When it registers a socket with a reactor it sets `io` to its
 * registration and `detach` to a function that deregisters it and wakes any task waiting on
 * it (with an error). cio__socket_close() and cio__socket_release() call `detach` before the
 * descriptor is closed or handed out, so no registration outlives its descriptor. In the
 * net layer alone both stay NULL.
 */
typedef void (*cio__socket_detach_fn)(struct cio_socket *sock);

/* Set by the runtime layer once it has a registration that may hold a write back (io_uring's
 * buffered sends, io/uring.h): cio__socket_shutdown() of a registered socket asks it first, so
 * a shutdown of the write direction goes after that write. It returns 1 when it took the
 * shutdown (the result in *rc), else 0. NULL in the net layer alone. */
typedef int (*cio__socket_shutdown_fn)(struct cio_socket *sock, int how, int *rc);
extern cio__socket_shutdown_fn cio__socket_shutdown_hook;

/* What a handle is, for the core functions that differ by it (close, into_fd). */
enum cio__kind {
    CIO__KIND_SOCKET = 0, /* a stream, datagram socket or builder: the handle is the socket */
    CIO__KIND_LISTENER,   /* a struct cio__listener (spare descriptor, close hook) */
    CIO__KIND_ASYNC_FD,   /* a cio_async_fd: the descriptor is not ours to close */
};

/* The owned halves of a split stream that are still open (cio_stream_into_split). */
enum {
    CIO__HALF_READ = 1u << 0,
    CIO__HALF_WRITE = 1u << 1,
};

/*
 * Every handle — each socket kind, the core types cio_socket/cio_stream/cio_dgram, and the
 * halves of a split stream — points at one of these (first member of the kind's struct,
 * checked with _Static_assert where a kind adds fields). The public opaque types are
 * conversions of this one pointer (see cio/socket.h).
 */
struct cio_socket {
    int fd;             /* -1 once closed or released */
    int domain;         /* AF_INET, AF_INET6, AF_UNIX */
    int type;           /* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET (without flags) */
    unsigned char kind; /* enum cio__kind */
    bool forget;        /* split stream: the write half's close leaves writing open */
    atomic_uint halves; /* CIO__HALF_* bits still open; 0 when not split */
    void *io;           /* the runtime's registration, NULL in the net layer */
    cio__socket_detach_fn detach;
};

/* A public handle of any type as the socket it is, and as the public core type (the library
 * is built with CIO_NO_GENERIC: it converts by hand where a user's code would not need to). */
#define CIO__SOCK(handle) ((struct cio_socket *)(void *)(handle))
#define CIO__HANDLE(handle) ((cio_socket *)(void *)(handle))

/* What cio__socket_adopt() requires of a descriptor. Fields equal to 0 accept anything;
 * `domains` lists up to two acceptable families. */
struct cio__socket_want {
    int domains[2];
    int type;
    int protocol;
    int listening; /* 1: must be listening, -1: must not be, 0: either */
};

/* Create a socket (SOCK_NONBLOCK | SOCK_CLOEXEC added to type) into *sock. */
int cio__socket_open(struct cio_socket *sock, int domain, int type, int protocol);

/* Wrap a descriptor cio created itself (already non-blocking and close-on-exec). */
void cio__socket_init(struct cio_socket *sock, int fd, int domain, int type);

/*
 * Check that fd is a socket matching `want` and make it non-blocking and close-on-exec,
 * then wrap it. On failure fd is untouched and still the caller's.
 * Return: 0; -EBADF; -ENOTSOCK; -EAFNOSUPPORT (family); -EPROTOTYPE (type or protocol);
 * -EINVAL (listening state).
 */
int cio__socket_adopt(struct cio_socket *sock, int fd, const struct cio__socket_want *want);

/* Detach the runtime registration (if any), close the descriptor, mark sock closed.
 * NULL or an already closed socket is a no-op returning 0. */
int cio__socket_close(struct cio_socket *sock);

/* Detach the runtime registration (if any) and give the descriptor away: returns it and
 * marks sock closed without closing it. */
int cio__socket_release(struct cio_socket *sock);

/* The descriptor, or -EINVAL for NULL / -EBADF once closed. */
int cio__socket_fd(const struct cio_socket *sock);

/* The check every function here starts with: 0; -EINVAL for NULL; -EBADF once closed. */
int cio__socket_check(const struct cio_socket *sock);

/*
 * ---- handles ----
 * A protocol's handle (cio_tcp_stream, cio_udp_socket, ...) is a heap struct whose first
 * member is its struct cio_socket; these do the allocation work of every kind. @size is the
 * handle's size; the bytes after the struct cio_socket start zeroed. Output parameters are
 * written only on success, and a failure leaves nothing allocated or open.
 */

/* Allocate a handle whose socket is closed (fd -1), or NULL when out of memory. */
void *cio__handle_new(size_t size);
/* A handle with a new socket (see cio__socket_open). Return: 0; -ENOMEM; socket()'s errors. */
int cio__handle_open(void **ret_handle, size_t size, int domain, int type, int protocol);
/* A handle adopting @fd (see cio__socket_adopt; on failure fd is still the caller's).
 * Return: 0; -ENOMEM; cio__socket_adopt()'s errors. */
int cio__handle_adopt(void **ret_handle, size_t size, int fd, const struct cio__socket_want *want);
/* A handle with a new socket whose connect has started: -EINPROGRESS counts as success (the
 * caller finishes the connect); any other failure closes the socket. */
int cio__handle_connect(void **ret_handle, size_t size, int domain, int type, int protocol,
                        const cio_addr *addr);
/* Give the handle's descriptor away and free the handle (see cio__socket_release).
 * Return: the descriptor; -EINVAL for NULL; -EBADF. */
int cio__handle_into_fd(void *handle);
/* Close the handle's socket and free the handle; NULL is a no-op. */
void cio__handle_close(void *handle);

/*
 * ---- listeners ----
 * What a TCP and a Unix listener share: the socket and the spare descriptor for EMFILE (see
 * cio__socket_accept). A listener handle starts with one; the cio__handle_* rules apply.
 */
struct cio__listener {
    struct cio_socket sock;
    int reserve; /* the spare descriptor, or -1 */
    /* Called by cio__listener_close() before the socket closes (a Unix listener removes its
     * socket file); NULL for none. */
    void (*on_close)(struct cio__listener *listener);
};

/* Allocate a listener handle whose socket is closed and which holds no reserve yet. */
void *cio__listener_new(size_t size);
/* A listener handle adopting @fd (want->listening should be 1), with its reserve. */
int cio__listener_adopt(void **ret_handle, size_t size, int fd,
                        const struct cio__socket_want *want);
/* Accept one connection into a new stream handle of @stream_size bytes (see
 * cio__socket_accept). Out of memory, the connection is closed (the client sees it closed).
 * Return: 0; -EAGAIN; -ENOMEM; cio__socket_accept()'s errors. */
int cio__listener_accept(struct cio__listener *listener, void **ret_stream, size_t stream_size,
                         cio_addr *ret_peer);
/* cio__handle_into_fd() and cio__handle_close() for a listener: the reserve goes too. */
int cio__listener_into_fd(void *handle);
void cio__listener_close(void *handle);

/*
 * ---- I/O ----
 * On a SOCK_STREAM socket a zero length (or an all-empty iovec) returns 0 without a system
 * call. On datagram and seqpacket sockets an empty datagram is real, so a zero length goes
 * to the kernel: an empty send sends one, an empty receive consumes one (truncating it).
 * Datagrams with addresses and control data: see msg.h.
 */

ssize_t cio__socket_recv(struct cio_socket *sock, void *buf, size_t len, int flags);
/* send() with MSG_NOSIGNAL added. */
ssize_t cio__socket_send(struct cio_socket *sock, const void *buf, size_t len, int flags);
/* recvmsg() over an iovec (no address, no control data). */
ssize_t cio__socket_recvv(struct cio_socket *sock, const struct iovec *iov, int iovcnt, int flags);
/* sendmsg() over an iovec with MSG_NOSIGNAL added. */
ssize_t cio__socket_sendv(struct cio_socket *sock, const struct iovec *iov, int iovcnt, int flags);
/* socketpair() with SOCK_NONBLOCK | SOCK_CLOEXEC, into pair[0] and pair[1]. */
int cio__socket_pair(struct cio_socket pair[2], int domain, int type, int protocol);
/* Validate an iovec array: -EINVAL for NULL with a count, a negative count or one above
 * IOV_MAX, a NULL base with a length, or a total above SSIZE_MAX. *ret_total gets the sum. */
int cio__iov_check(const struct iovec *iov, int iovcnt, size_t *ret_total);

/* ---- state ---- */

int cio__socket_local_addr(const struct cio_socket *sock, cio_addr *ret_addr);
int cio__socket_peer_addr(const struct cio_socket *sock, cio_addr *ret_addr);
/* The pending error (SO_ERROR), cleared by reading it: 0 or a negative errno. A failure of
 * the query itself (-EBADF...) is returned the same way. */
int cio__socket_take_error(struct cio_socket *sock);
int cio__socket_shutdown(struct cio_socket *sock, cio_shutdown how);

/* ---- connection setup; raw results (connect returns -EINPROGRESS as is) ---- */

int cio__socket_bind(struct cio_socket *sock, const cio_addr *addr);
int cio__socket_connect(struct cio_socket *sock, const cio_addr *addr);
/* A negative backlog means CIO_LISTEN_BACKLOG_DEFAULT; 0 is passed on (see cio/net.h). */
int cio__socket_listen(struct cio_socket *sock, int backlog);

/*
 * The spare descriptor for accept under descriptor exhaustion (libuv's technique). A
 * listener owns one: `reserve` holds a descriptor (or -1) that is closed to make room when
 * accept fails with EMFILE/ENFILE, so the pending connections can be accepted and closed at
 * once instead of staying in the backlog — where, with level-triggered readiness, they make
 * the loop spin, and with edge-triggered readiness they are never reported again.
 * Accessed with atomics, so several threads may accept on one listener.
 */
void cio__reserve_open(int *reserve);
void cio__reserve_close(int *reserve);

/*
 * accept4() with SOCK_NONBLOCK | SOCK_CLOEXEC. Returns the new descriptor, -EAGAIN when no
 * connection is pending (also while out of descriptors), or -EMFILE/-ENFILE after shedding
 * the pending connections through the reserve (or when there was no reserve to do it with).
 * Connections that died in the backlog (ECONNABORTED, and the network errors Linux passes on from
 * the new socket, see accept(2)) are skipped. ret_peer (may be NULL) receives the peer's address
 * when a descriptor is returned.
 */
int cio__socket_accept(struct cio_socket *sock, int *reserve, cio_addr *ret_peer);

/* ---- options ---- */

/* getsockopt() of an int on a raw descriptor (no handle checks). */
int cio__getsockopt_int(int fd, int level, int name, int *ret_value);
int cio__sockopt_set_int(struct cio_socket *sock, int level, int name, int value);
int cio__sockopt_get_int(const struct cio_socket *sock, int level, int name, int *ret_value);
int cio__sockopt_set_bool(struct cio_socket *sock, int level, int name, bool on);
int cio__sockopt_get_bool(const struct cio_socket *sock, int level, int name, bool *ret_on);
/* A struct timeval option (SO_RCVTIMEO, SO_SNDTIMEO), in nanoseconds (>= 0; rounded up to
 * the next microsecond; Linux then rounds up to its clock tick, which the getter shows). */
int cio__sockopt_set_timeval(struct cio_socket *sock, int level, int name, cio_duration ns);
int cio__sockopt_get_timeval(const struct cio_socket *sock, int level, int name,
                             cio_duration *ret_ns);
/* SO_LINGER in seconds; CIO_LINGER_OFF (any negative value) turns it off. */
int cio__sockopt_set_linger(struct cio_socket *sock, int seconds);
int cio__sockopt_get_linger(const struct cio_socket *sock, int *ret_seconds);
/* SO_SNDBUF / SO_RCVBUF: bytes >= 0 (the kernel doubles the value and enforces a floor and
 * the net.core.*mem_max ceiling); the getter returns the kernel's value. */
int cio__sockopt_set_bufsize(struct cio_socket *sock, int name, int bytes);
/* A string option (TCP_CONGESTION, SO_BINDTODEVICE) of at most @max bytes (< 64), copied into
 * @buf as a C string. Return: 0; -EINVAL (NULL buf); -ENOSPC (@size too small); the kernel's. */
int cio__sockopt_get_string(const struct cio_socket *sock, int level, int name, size_t max,
                            char *buf, size_t size);
/* SO_BINDTODEVICE: an interface name shorter than IF_NAMESIZE; NULL or "" removes the binding. */
int cio__sockopt_set_bind_device(struct cio_socket *sock, const char *ifname);
int cio__sockopt_get_bind_device(const struct cio_socket *sock, char *buf, size_t size);

/*
 * ---- IP-level options (TCP and UDP) ----
 * An option both families have is named twice: level IPPROTO_IP with @v4_name on an AF_INET
 * socket, level IPPROTO_IPV6 with @v6_name on an AF_INET6 one.
 */

/* An IP address's family: AF_INET, AF_INET6, or 0 for any other kind. */
int cio__addr_ip_family(const cio_addr *addr);
/* 0 for an IP address; -EINVAL for NULL; -EAFNOSUPPORT for another kind. */
int cio__addr_check_ip(const cio_addr *addr);
/* A Unix address to bind (@bind: any Unix kind; unnamed means autobind) or to reach (a path
 * or an abstract name): 0; -EINVAL (none, or unnamed to reach); -EAFNOSUPPORT (not Unix). */
int cio__addr_check_unix(const cio_addr *addr, bool bind);
/* An address @sock may bind (its own family) or reach (connect, send to): 0 or as above. */
int cio__addr_check_bind(const struct cio_socket *sock, const cio_addr *addr);
int cio__addr_check_peer(const struct cio_socket *sock, const cio_addr *addr);
/* cio__socket_check(), and -EINVAL unless the socket is AF_INET6 (an IPv6-level option). */
int cio__socket_check_v6(const struct cio_socket *sock);

int cio__sockopt_set_ip(struct cio_socket *sock, int v4_name, int v6_name, int value);
int cio__sockopt_get_ip(const struct cio_socket *sock, int v4_name, int v6_name, int *ret_value);
/* Unicast TTL / hop limit (1..255) and TOS / traffic class (0..255). */
int cio__sockopt_set_ttl(struct cio_socket *sock, int ttl);
int cio__sockopt_get_ttl(const struct cio_socket *sock, int *ret_ttl);
int cio__sockopt_set_tos(struct cio_socket *sock, int tos);
int cio__sockopt_get_tos(const struct cio_socket *sock, int *ret_tos);
/* A boolean option of the IPv6 level (IPV6_V6ONLY, IPV6_MULTICAST_LOOP...): -EINVAL on a
 * socket that is not AF_INET6. */
int cio__sockopt_set_v6_bool(struct cio_socket *sock, int name, bool on);
int cio__sockopt_get_v6_bool(const struct cio_socket *sock, int name, bool *ret_on);

/*
 * SIGPIPE suppression for calls without MSG_NOSIGNAL (sendfile, splice). begin() blocks
 * SIGPIPE in this thread; end(failed_with_epipe) consumes the SIGPIPE the call raised, if
 * it failed with EPIPE, and restores the mask. errno is preserved by both.
 */
struct cio__sigpipe_guard {
    bool restore; /* SIGPIPE was unblocked before begin() */
    bool pending; /* a SIGPIPE was already pending before begin() */
};
void cio__sigpipe_begin(struct cio__sigpipe_guard *guard);
void cio__sigpipe_end(struct cio__sigpipe_guard *guard, bool epipe);

#endif /* CIO_NET_SOCKET_H */
