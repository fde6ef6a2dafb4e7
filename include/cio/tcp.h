/*
 * cio/tcp.h: what only TCP has — creating listeners, streams and configurable sockets
 * (mio's TcpListener and TcpStream, tokio's TcpSocket builder), accepting and connecting
 * (without waiting, or suspending a task; by address, or by name racing IPv6 and IPv4), the
 * TCP-level options a server tunes (no delay, cork, quick ack, keepalive timing, user
 * timeout, not-sent low-water mark, congestion control, fast open) and sendfile.
 *
 * Everything a TCP handle shares with other sockets is in the cores: cio/socket.h (close,
 * descriptor, addresses, socket options, readiness) and cio/stream.h (read, write, peek,
 * halves, copy) take these handles directly. The common rules (non-blocking and close-on-exec
 * descriptors, no SIGPIPE, adopting descriptors) are in cio/net.h.
 *
 * Three handle types, each owning one descriptor:
 *   cio_tcp_listener  a listening socket: cio_tcp_listener_new(), then accept.
 *   cio_tcp_stream    a connection: accepted, connected, or from a builder.
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
 * Handles: a handle is used by one thread at a time unless stated otherwise; accepting on
 * one listener from several threads or tasks at once is allowed. Every function accepts a
 * NULL handle and returns -EINVAL.
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
#include "cio/socket.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Keepalive timing. A field of 0 leaves the kernel's current value (whose defaults come
 * from net.ipv4.tcp_keepalive_time = 7200 s, _intvl = 75 s, _probes = 9).
 */
typedef struct cio_tcp_keepalive_params {
    int idle_s;     /* TCP_KEEPIDLE: idle seconds before the first probe, 1 to 32767 */
    int interval_s; /* TCP_KEEPINTVL: seconds between probes, 1 to 32767 */
    int count;      /* TCP_KEEPCNT: unanswered probes before the connection drops, 1 to 127 */
} cio_tcp_keepalive_params;

/* ======================================================================================== */
/* Listener                                                                                 */
/* ======================================================================================== */

/**
 * cio_tcp_listener_new() - create a listening socket (mio's TcpListener::bind).
 * @ret_listener: receives the listener (written only on success).
 * @addr: an IPv4 or IPv6 address; port 0 lets the kernel pick (read it back with
 *        cio_socket_local_addr()).
 * @backlog: the listen backlog (see cio/net.h); negative means CIO_LISTEN_BACKLOG_DEFAULT
 *           (1024); 0 is a backlog of 0.
 *
 * Sets SO_REUSEADDR (so a restarted server can bind while old connections sit in
 * TIME_WAIT; two listeners on one port still conflict). An IPv6 wildcard address is
 * dual-stack or not as net.ipv6.bindv6only says; use a cio_tcp_socket to choose.
 *
 * Return: 0; -EINVAL for NULL; -EAFNOSUPPORT for a non-IP address; -EADDRINUSE;
 * -EADDRNOTAVAIL; -EACCES (a privileged port); -EMFILE/-ENFILE; -ENOMEM.
 */
CIO_EXPORT int cio_tcp_listener_new(cio_tcp_listener **ret_listener, const cio_addr *addr,
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
 * cio_tcp_stream_try_sendfile() - send bytes of a file without copying them through user
 * space (sendfile(2)), without waiting.
 * @file_fd: a file (or anything mmap-able) open for reading.
 * @offset: the file offset to send from, advanced by what was sent; NULL to use and advance
 *          the file position.
 * @count: the most bytes to send (capped at 0x7ffff000 per call, as Linux does).
 *
 * Send buffer full: -EAGAIN. A dead connection gives -EPIPE without SIGPIPE (sendfile has
 * no MSG_NOSIGNAL; cio blocks and consumes the signal, see cio_splice_try()). With
 * cio_tcp_set_cork(), headers written first go out in the same segments.
 *
 * Return: bytes sent (> 0); 0 at end of file, or when @count is 0; -EAGAIN; -EPIPE;
 * -ECONNRESET; -EINVAL (NULL stream, negative offset, a file sendfile cannot read).
 */
CIO_EXPORT ssize_t cio_tcp_stream_try_sendfile(cio_tcp_stream *stream, int file_fd, int64_t *offset,
                                               size_t count);

/**
 * cio_tcp_stream_from_fd() - adopt a TCP socket made elsewhere (connected, connecting or
 * not yet connected; not listening), making it non-blocking and close-on-exec.
 *
 * Return: 0; -EBADF; -ENOTSOCK; -EAFNOSUPPORT; -EPROTOTYPE; -EINVAL (a listening socket);
 * -ENOMEM. On failure @fd is untouched and still the caller's.
 */
CIO_EXPORT int cio_tcp_stream_from_fd(cio_tcp_stream **ret_stream, int fd);

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
 * @backlog: as for cio_tcp_listener_new() (negative: CIO_LISTEN_BACKLOG_DEFAULT).
 * @ret_listener: receives the listener.
 *
 * Return: 0; -EADDRINUSE; -EINVAL; -ENOMEM.
 */
CIO_EXPORT int cio_tcp_socket_listen(cio_tcp_socket *socket, int backlog,
                                     cio_tcp_listener **ret_listener);

/**
 * cio_tcp_socket_from_fd() - adopt a TCP socket that is neither connected nor listening
 * (checked as for cio_tcp_stream_from_fd()).
 */
CIO_EXPORT int cio_tcp_socket_from_fd(cio_tcp_socket **ret_socket, int fd);

/* ======================================================================================== */
/* TCP options (any TCP handle: listener, stream or builder socket)                         */
/* ======================================================================================== */
/*
 * Each setter returns 0 or a negative errno (-EINVAL for NULL or an out-of-range value,
 * -EBADF, or the kernel's refusal); each getter reads the kernel's current value into its
 * ret_ parameter (written only on success) and returns 0 or a negative errno. Options set on
 * a listener or a builder are inherited by the connections it accepts or makes.
 */

/**
 * cio_tcp_set_nodelay() - TCP_NODELAY: send small segments at once instead of coalescing them
 * (Nagle off).
 */
CIO_EXPORT int cio_tcp_set_nodelay(cio_socket *tcp, bool on);
CIO_EXPORT int cio_tcp_nodelay(cio_socket *tcp, bool *ret_on);

/**
 * cio_tcp_set_cork() - TCP_CORK: hold partial segments until uncorked (or 200 ms pass); pairs
 * with sendfile.
 */
CIO_EXPORT int cio_tcp_set_cork(cio_socket *tcp, bool on);
CIO_EXPORT int cio_tcp_cork(cio_socket *tcp, bool *ret_on);

/**
 * cio_tcp_set_quickack() - TCP_QUICKACK: acknowledge at once rather than delaying ACKs. Linux
 * clears it by itself as the connection's traffic pattern changes, so the getter reports the
 * current mode, not what was last set.
 */
CIO_EXPORT int cio_tcp_set_quickack(cio_socket *tcp, bool on);
CIO_EXPORT int cio_tcp_quickack(cio_socket *tcp, bool *ret_on);

/**
 * cio_tcp_set_keepalive() - SO_KEEPALIVE, with its timing when @params is not NULL (fields of 0
 * are left as they are). The getter reads all four values; @ret_params may be NULL.
 */
CIO_EXPORT int cio_tcp_set_keepalive(cio_socket *tcp, bool on,
                                     const cio_tcp_keepalive_params *params);
CIO_EXPORT int cio_tcp_keepalive(cio_socket *tcp, bool *ret_on,
                                 cio_tcp_keepalive_params *ret_params);

/**
 * cio_tcp_set_user_timeout() - TCP_USER_TIMEOUT in milliseconds: how long sent data may stay
 * unacknowledged before the connection is dropped with -ETIMEDOUT (also bounds keepalive). 0
 * means the system default. At most INT_MAX.
 */
CIO_EXPORT int cio_tcp_set_user_timeout(cio_socket *tcp, unsigned ms);
CIO_EXPORT int cio_tcp_user_timeout(cio_socket *tcp, unsigned *ret_ms);

/**
 * cio_tcp_set_notsent_lowat() - TCP_NOTSENT_LOWAT in bytes: report writable only while fewer
 * than this many bytes are queued but not yet sent — keeps the send queue short (less latency,
 * less memory) for streams that produce data on demand. 0 means the system default
 * (net.ipv4.tcp_notsent_lowat).
 */
CIO_EXPORT int cio_tcp_set_notsent_lowat(cio_socket *tcp, unsigned bytes);
CIO_EXPORT int cio_tcp_notsent_lowat(cio_socket *tcp, unsigned *ret_bytes);

/**
 * cio_tcp_set_congestion() - TCP_CONGESTION: the congestion control algorithm by name ("cubic",
 * "bbr", "reno"...; see /proc/sys/net/ipv4/tcp_available_congestion_control). Setter: -ENOENT
 * for an algorithm the kernel does not have, -EPERM for one not in
 * tcp_allowed_congestion_control without CAP_NET_ADMIN, -EINVAL for a name of 16 bytes or more.
 * Getter: -ENOSPC if @size is too small for the name and its NUL.
 */
CIO_EXPORT int cio_tcp_set_congestion(cio_socket *tcp, const char *name);
CIO_EXPORT int cio_tcp_congestion(cio_socket *tcp, char *buf, size_t size);

/**
 * cio_tcp_set_fastopen_connect() - TCP_FASTOPEN_CONNECT (client builder, before connect; Linux
 * 4.11+): when the client holds a fast-open cookie for the server, connecting sends nothing and
 * the first write goes out in the SYN, saving a round trip. The stream is reported writable at
 * once; write the first data then (cio_tcp_stream_try_finish_connect() says -EAGAIN until that
 * write sends the SYN). A first write that could not carry data returns -EAGAIN: write again
 * when writable. Without a cookie the connect is an ordinary one that asks for a cookie.
 */
CIO_EXPORT int cio_tcp_set_fastopen_connect(cio_socket *tcp, bool on);
CIO_EXPORT int cio_tcp_fastopen_connect(cio_socket *tcp, bool *ret_on);

/**
 * cio_tcp_set_fastopen() - TCP_FASTOPEN (server builder, before listen): the number of pending
 * fast-open requests the listener queues (0 turns it off). Accepting data in the SYN also needs
 * the server bit of net.ipv4.tcp_fastopen (value 2 or 3; Linux's default, 1, is the client bit
 * only). Whether a connection's SYN did carry data shows on both ends as TCPI_OPT_SYN_DATA in
 * the tcpi_options of getsockopt(TCP_INFO).
 */
CIO_EXPORT int cio_tcp_set_fastopen(cio_socket *tcp, int queue_len);
CIO_EXPORT int cio_tcp_fastopen(cio_socket *tcp, int *ret_queue_len);

/* ======================================================================================== */
/* Accept and connect in a task                                                             */
/* ======================================================================================== */
/*
 * These suspend the calling task where the try_* forms would return -EAGAIN (tokio's
 * net::tcp); they follow the rules of cio/io.h (waiting, deadlines, cancellation, cancel
 * safety). Any number of tasks may accept on one listener: each connection goes to one of
 * them. Connect closes its socket on any failure, so a cut-short connect leaves nothing.
 */

/* ---- listener ---- */

/**
 * cio_tcp_listener_accept() - wait for a connection and accept it (tokio's
 * TcpListener::accept).
 * @listener: the listener; any number of tasks may accept on it at once.
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
 * Return: 0; -EMFILE/-ENFILE; -ENOMEM; -EBADF (closed
 * while waiting); -ECANCELED; -ETIMEDOUT; -EINVAL; -EPERM outside a task.
 */
CIO_EXPORT int cio_tcp_listener_accept(cio_tcp_listener *listener, cio_tcp_stream **ret_stream,
                                       cio_addr *ret_peer);

/**
 * cio_tcp_listener_poll_accept() - accept a pending connection, or arm @wake (may be NULL)
 * to be called when one arrives; never waits.
 *
 * Return: 0 with *ret_stream set; -EAGAIN (the callback is armed); the other errors of
 * cio_tcp_listener_accept() except -ECANCELED/-ETIMEDOUT; -EPERM outside a task when
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
 * With cio_tcp_set_fastopen_connect() on, returns as soon as the connect has started:
 * the handshake goes out with the first write.
 *
 * Return: as cio_tcp_stream_connect_addr().
 */
CIO_EXPORT int cio_tcp_socket_connect(cio_tcp_socket *socket, const cio_addr *addr,
                                      cio_tcp_stream **ret_stream);

/* ---- sendfile ---- */

/**
 * cio_tcp_stream_sendfile() - wait until the stream can take bytes, then send up to @count
 * bytes of a file with sendfile(2) (see cio_tcp_stream_try_sendfile() for @file_fd and
 * @offset). Loop for the rest.
 *
 * Return: bytes sent (> 0); 0 at end of file or for @count 0; -EPIPE; -ECONNRESET; -EBADF
 * (@file_fd); -ECANCELED/-ETIMEDOUT (nothing sent); -EINVAL; -EPERM.
 */
CIO_EXPORT ssize_t cio_tcp_stream_sendfile(cio_tcp_stream *stream, int file_fd, int64_t *offset,
                                           size_t count);

/* ---- connecting and binding by name ---- */
/*
 * tokio's TcpStream::connect(host) and TcpListener::bind(host) in C, with Happy Eyeballs
 * connection racing for names that resolve to both IPv4 and IPv6 — RFC 8305's sorting and
 * connection attempts (its sections 4 and 5), not its asynchronous resolution (section 3, see
 * Resolution below) nor its NAT64 handling (section 7) — and SO_REUSEPORT listeners for
 * sharding accepts across the workers of a multi-thread runtime.
 *
 * Text forms ("host_port"): "127.0.0.1:80", "[::1]:80", "[fe80::1%lo]:80", "localhost:8080",
 * "example.org:https". The part after the last colon is a decimal port (0 to 65535) or a
 * service name (a letter, then letters, digits, '-', '_', '+', '.'), looked up in the
 * services database. An IPv6 literal must be in brackets ("::1:80" is refused: it is itself
 * a valid address). The host must not be empty and may not hold spaces or control bytes.
 *
 * Resolution is cio_resolve()'s (cio/resolve.h), for SOCK_STREAM and either family (a
 * bracketed host: IPv6 only, never looked up). A numeric address with a numeric port is
 * converted directly: no resolver, no thread. Anything else goes through getaddrinfo() on
 * the runtime's blocking pool, so the worker keeps running other tasks. AI_ADDRCONFIG is NOT
 * used: glibc ignores loopback addresses when it decides which families are "configured",
 * so with it a host whose only IPv6 address is ::1 (containers, CI machines) would never see
 * "localhost" as ::1, and a host with no address but loopback would resolve nothing at all.
 * Addresses of a family the host cannot reach cost little instead: their attempt fails at
 * once (-ENETUNREACH, -EADDRNOTAVAIL, -EAFNOSUPPORT) and the next one starts immediately.
 * The resolver's order (RFC 6724, /etc/gai.conf) is kept; duplicates are dropped. A lookup
 * cannot be interrupted: when the task is cancelled or its deadline passes during one, the
 * call returns at once and the lookup finishes on the pool, where its result is freed.
 * One getaddrinfo() asks for both families (glibc sends the AAAA and A queries together and
 * returns when both have answered or timed out), and connecting starts when it returns. RFC
 * 8305's section 3 is not done: no separate AAAA and A queries, no attempt starting on the
 * first answer, no 50 ms Resolution Delay. A name whose AAAA (or A) answer is slow therefore
 * delays the connect by as long as the resolver waits for it.
 *
 * Connecting (cio_tcp_stream_connect_addrs() is the engine all connect calls share):
 *  - When the list holds both families and happy eyeballs is on (the default), the
 *    addresses are interleaved by family, starting with the family of the first one and
 *    keeping the order within each family (A1 B1 A2 B2 ... then the rest of the longer
 *    family: RFC 8305 section 4 with a First Address Family Count of 1). The first attempt
 *    starts at once; each further one starts when the attempt delay (250 ms by default, the
 *    RFC's recommended Connection Attempt Delay) has passed since the previous one started,
 *    or immediately when an attempt fails. Attempts run in parallel; the first to complete
 *    its handshake wins and every other one is closed (a SYN still in flight is simply
 *    abandoned).
 *  - When the list holds one family only, or happy eyeballs is off, the addresses are tried
 *    one after another in the given order (tokio's rule; RFC 8305 would race these too): the
 *    next starts when the previous one failed. An address that never answers then holds the
 *    connect until the kernel gives up (about two minutes on Linux) unless an attempt
 *    timeout or a deadline is set.
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
/* RFC 8305's recommended Connection Attempt Delay (its section 5). */
#define CIO_TCP_CONNECT_ATTEMPT_DELAY_DEFAULT (250 * CIO_NSEC_PER_MSEC)

/*
 * Options of a connect. A zeroed struct (or a NULL pointer) means the defaults: happy
 * eyeballs on, a 250 ms attempt delay, no per-attempt timeout.
 */
typedef struct cio_tcp_connect_options {
    /* Happy eyeballs: how long to wait after starting one attempt before starting the next
     * in parallel. 0 = CIO_TCP_CONNECT_ATTEMPT_DELAY_DEFAULT; below 1 ms it is 1 ms (the
     * timer's granularity). RFC 8305 advises at least 100 ms and forbids less than 10 ms;
     * cio leaves that to the caller (tests use less). Negative: -EINVAL. */
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
 * cio_tcp_listener_new_name() - resolve @host_port and listen on the first of its addresses
 * that binds (tokio's TcpListener::bind with a host name).
 * @ret_listener: receives the listener, written only on success.
 * @host_port: as for cio_tcp_stream_connect(); port 0 lets the kernel pick (read it back
 *             with cio_socket_local_addr()).
 * @backlog: as for cio_tcp_listener_new().
 *
 * Each address is bound as cio_tcp_listener_new() does (SO_REUSEADDR). A numeric address
 * never waits. A name is resolved on the blocking pool when called from a task (which then
 * suspends); called from a thread outside any runtime, the lookup runs on the calling
 * thread and blocks it — the thing to do before a runtime starts.
 *
 * Return: 0; -EINVAL as for cio_tcp_stream_connect(); a CIO_ERR_EAI() code; the last
 * address's error when none binds (-EADDRINUSE, -EADDRNOTAVAIL, -EACCES...); -ECANCELED;
 * -ETIMEDOUT; -ENOMEM; -EPERM from a worker's own context (a runtime thread, no task).
 */
CIO_EXPORT int cio_tcp_listener_new_name(cio_tcp_listener **ret_listener, const char *host_port,
                                         int backlog);

/**
 * cio_tcp_listener_new_reuseport() - a listener on @addr with SO_REUSEPORT (and
 * SO_REUSEADDR) set before bind, so that several listeners of this process (or of others of
 * the same user) share the address and the kernel spreads new connections across them by a
 * hash of each connection's addresses.
 * @addr: an IPv4 or IPv6 address. With port 0 every call gets a different port: to share a
 *        kernel-chosen port, bind the first listener with port 0, read its port with
 *        cio_socket_local_addr(), and bind the others to that address — which is what
 *        cio_tcp_listener_new_reuseport_n() does.
 * @backlog: as for cio_tcp_listener_new().
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
CIO_EXPORT int cio_tcp_listener_new_reuseport(cio_tcp_listener **ret_listener, const cio_addr *addr,
                                              int backlog);

/**
 * cio_tcp_listener_new_reuseport_n() - @count listeners sharing one address with
 * SO_REUSEPORT: the first is bound to @addr, the others to the first one's actual address
 * (the kernel's port when @addr's port is 0).
 * @ret_listeners: an array of @count entries, filled only on success.
 * @count: at least 1.
 *
 * Return: 0; the errors of cio_tcp_listener_new_reuseport(); on failure every listener
 * already made is closed.
 */
CIO_EXPORT int cio_tcp_listener_new_reuseport_n(cio_tcp_listener **ret_listeners, size_t count,
                                                const cio_addr *addr, int backlog);

#ifndef CIO_NO_GENERIC
/* The TCP options take any TCP handle (listener, stream, builder socket): see cio/socket.h. */
#define cio_tcp_set_nodelay(s, v) (cio_tcp_set_nodelay)(cio__as_tcp(s), v)
#define cio_tcp_nodelay(s, r) (cio_tcp_nodelay)(cio__as_tcp(s), r)
#define cio_tcp_set_cork(s, v) (cio_tcp_set_cork)(cio__as_tcp(s), v)
#define cio_tcp_cork(s, r) (cio_tcp_cork)(cio__as_tcp(s), r)
#define cio_tcp_set_quickack(s, v) (cio_tcp_set_quickack)(cio__as_tcp(s), v)
#define cio_tcp_quickack(s, r) (cio_tcp_quickack)(cio__as_tcp(s), r)
#define cio_tcp_set_keepalive(s, v, p) (cio_tcp_set_keepalive)(cio__as_tcp(s), v, p)
#define cio_tcp_keepalive(s, r, p) (cio_tcp_keepalive)(cio__as_tcp(s), r, p)
#define cio_tcp_set_user_timeout(s, v) (cio_tcp_set_user_timeout)(cio__as_tcp(s), v)
#define cio_tcp_user_timeout(s, r) (cio_tcp_user_timeout)(cio__as_tcp(s), r)
#define cio_tcp_set_notsent_lowat(s, v) (cio_tcp_set_notsent_lowat)(cio__as_tcp(s), v)
#define cio_tcp_notsent_lowat(s, r) (cio_tcp_notsent_lowat)(cio__as_tcp(s), r)
#define cio_tcp_set_congestion(s, v) (cio_tcp_set_congestion)(cio__as_tcp(s), v)
#define cio_tcp_congestion(s, b, n) (cio_tcp_congestion)(cio__as_tcp(s), b, n)
#define cio_tcp_set_fastopen_connect(s, v) (cio_tcp_set_fastopen_connect)(cio__as_tcp(s), v)
#define cio_tcp_fastopen_connect(s, r) (cio_tcp_fastopen_connect)(cio__as_tcp(s), r)
#define cio_tcp_set_fastopen(s, v) (cio_tcp_set_fastopen)(cio__as_tcp(s), v)
#define cio_tcp_fastopen(s, r) (cio_tcp_fastopen)(cio__as_tcp(s), r)
#endif

#ifdef __cplusplus
}
#endif

#endif /* CIO_TCP_H */
