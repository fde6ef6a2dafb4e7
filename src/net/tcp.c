/*
 * tcp.c: TCP listeners, streams and the socket builder on top of the socket core
 * (socket.c). What is here is what only TCP has: connect completion, accept into a stream,
 * the TCP and IP-level options (chosen per address family), sendfile, and the ownership
 * moves of the builder. Each public function checks its handle and hands the embedded
 * struct cio__socket to a shared helper, which checks the rest.
 */
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#include "cio/tcp.h"
#include "net/socket.h"
#include "util/compiler.h"

/* Each handle starts with its struct cio__socket (the runtime layer relies on that). */
struct cio_tcp_stream {
    struct cio__socket sock;
};

struct cio_tcp_listener {
    struct cio__listener base; /* the socket and the spare descriptor for EMFILE */
};

struct cio_tcp_socket {
    struct cio__socket sock;
};

#define SOCK(handle) ((handle) != NULL ? &(handle)->sock : NULL)
#define LISTENER_SOCK(listener) ((listener) != NULL ? &(listener)->base.sock : NULL)

#define SENDFILE_MAX 0x7ffff000 /* what Linux moves at most per sendfile() call */
#define CONGESTION_NAME_MAX 16  /* TCP_CA_NAME_MAX */

static const struct cio__socket_want want_stream = {
    .domains = {AF_INET, AF_INET6}, .type = SOCK_STREAM, .protocol = IPPROTO_TCP, .listening = -1};
static const struct cio__socket_want want_listener = {
    .domains = {AF_INET, AF_INET6}, .type = SOCK_STREAM, .protocol = IPPROTO_TCP, .listening = 1};

/* ---- options shared by the three handle types ---- */

static int set_keepalive(struct cio__socket *sock, bool on, const cio_tcp_keepalive *params)
{
    int rc = cio__socket_check(sock);
    if (rc < 0)
        return rc;
    /* Validate everything before changing anything, so a bad field changes nothing. */
    if (params != NULL && (params->idle_s < 0 || params->idle_s > 32767 || params->interval_s < 0 ||
                           params->interval_s > 32767 || params->count < 0 || params->count > 127))
        return -EINVAL;
    if (params != NULL) {
        if (params->idle_s > 0 &&
            (rc = cio__sockopt_set_int(sock, IPPROTO_TCP, TCP_KEEPIDLE, params->idle_s)) < 0)
            return rc;
        if (params->interval_s > 0 &&
            (rc = cio__sockopt_set_int(sock, IPPROTO_TCP, TCP_KEEPINTVL, params->interval_s)) < 0)
            return rc;
        if (params->count > 0 &&
            (rc = cio__sockopt_set_int(sock, IPPROTO_TCP, TCP_KEEPCNT, params->count)) < 0)
            return rc;
    }
    return cio__sockopt_set_bool(sock, SOL_SOCKET, SO_KEEPALIVE, on);
}

static int get_keepalive(const struct cio__socket *sock, bool *ret_on,
                         cio_tcp_keepalive *ret_params)
{
    if (ret_on == NULL)
        return -EINVAL;
    bool on;
    cio_tcp_keepalive params;
    int rc = cio__sockopt_get_bool(sock, SOL_SOCKET, SO_KEEPALIVE, &on);
    if (rc < 0)
        return rc;
    if (ret_params != NULL) {
        if ((rc = cio__sockopt_get_int(sock, IPPROTO_TCP, TCP_KEEPIDLE, &params.idle_s)) < 0 ||
            (rc = cio__sockopt_get_int(sock, IPPROTO_TCP, TCP_KEEPINTVL, &params.interval_s)) < 0 ||
            (rc = cio__sockopt_get_int(sock, IPPROTO_TCP, TCP_KEEPCNT, &params.count)) < 0)
            return rc;
        *ret_params = params;
    }
    *ret_on = on;
    return 0;
}

/* ======================================================================================== */
/* Listener                                                                                 */
/* ======================================================================================== */

int cio_tcp_listener_bind(cio_tcp_listener **ret_listener, const cio_addr *addr, int backlog)
{
    if (ret_listener == NULL)
        return -EINVAL;
    int rc = cio__addr_check_ip(addr);
    if (rc < 0)
        return rc;
    cio_tcp_listener *listener = cio__listener_new(sizeof(*listener));
    if (listener == NULL)
        return -ENOMEM;
    struct cio__socket *sock = &listener->base.sock;
    /* Like mio and libuv: a restarted server must not wait for TIME_WAIT to pass. */
    if ((rc = cio__socket_open(sock, cio__addr_ip_family(addr), SOCK_STREAM, IPPROTO_TCP)) < 0 ||
        (rc = cio__sockopt_set_bool(sock, SOL_SOCKET, SO_REUSEADDR, true)) < 0 ||
        (rc = cio__socket_bind(sock, addr)) < 0 || (rc = cio__socket_listen(sock, backlog)) < 0) {
        cio__listener_close(listener);
        return rc;
    }
    cio__reserve_open(&listener->base.reserve);
    *ret_listener = listener;
    return 0;
}

int cio_tcp_listener_try_accept(cio_tcp_listener *listener, cio_tcp_stream **ret_stream,
                                cio_addr *ret_peer)
{
    if (listener == NULL || ret_stream == NULL)
        return -EINVAL;
    void *stream;
    int rc = cio__listener_accept(&listener->base, &stream, sizeof(cio_tcp_stream), ret_peer);
    if (rc == 0)
        *ret_stream = stream;
    return rc;
}

int cio_tcp_listener_local_addr(const cio_tcp_listener *listener, cio_addr *ret_addr)
{
    return cio__socket_local_addr(LISTENER_SOCK(listener), ret_addr);
}

int cio_tcp_listener_take_error(cio_tcp_listener *listener)
{
    return cio__socket_take_error(LISTENER_SOCK(listener));
}

int cio_tcp_listener_set_ttl(cio_tcp_listener *listener, int ttl)
{
    return cio__sockopt_set_ttl(LISTENER_SOCK(listener), ttl);
}

int cio_tcp_listener_ttl(const cio_tcp_listener *listener, int *ret_ttl)
{
    return cio__sockopt_get_ttl(LISTENER_SOCK(listener), ret_ttl);
}

int cio_tcp_listener_fd(const cio_tcp_listener *listener)
{
    return cio__socket_fd(LISTENER_SOCK(listener));
}

int cio_tcp_listener_from_fd(cio_tcp_listener **ret_listener, int fd)
{
    if (ret_listener == NULL)
        return -EINVAL;
    void *listener;
    int rc = cio__listener_adopt(&listener, sizeof(cio_tcp_listener), fd, &want_listener);
    if (rc == 0)
        *ret_listener = listener;
    return rc;
}

int cio_tcp_listener_into_fd(cio_tcp_listener *listener)
{
    return cio__listener_into_fd(listener);
}

void cio_tcp_listener_close(cio_tcp_listener *listener)
{
    cio__listener_close(listener);
}

/* ======================================================================================== */
/* Stream                                                                                   */
/* ======================================================================================== */

int cio_tcp_stream_try_connect(cio_tcp_stream **ret_stream, const cio_addr *addr)
{
    if (ret_stream == NULL)
        return -EINVAL;
    int rc = cio__addr_check_ip(addr);
    if (rc < 0)
        return rc;
    void *stream;
    rc = cio__handle_connect(&stream, sizeof(cio_tcp_stream), cio__addr_ip_family(addr),
                             SOCK_STREAM, IPPROTO_TCP, addr);
    if (rc == 0)
        *ret_stream = stream;
    return rc;
}

int cio_tcp_stream_try_finish_connect(cio_tcp_stream *stream)
{
    struct cio__socket *sock = SOCK(stream);
    int rc = cio__socket_take_error(sock);
    if (rc < 0)
        return rc;
    cio_addr peer;
    rc = cio__socket_peer_addr(sock, &peer);
    if (rc != -ENOTCONN)
        return rc; /* 0: connected */
    /* Not connected: still handshaking, or failed with the error already taken? Only the
     * TCP state tells (mio leaves the caller to guess; a wrong guess waits forever). */
    struct tcp_info info;
    socklen_t len = sizeof(info);
    if (getsockopt(sock->fd, IPPROTO_TCP, TCP_INFO, &info, &len) < 0)
        return -errno;
    if (info.tcpi_state == TCP_SYN_SENT)
        return -EAGAIN;
    /* It may have failed or connected between the calls above: look once more. */
    if ((rc = cio__socket_take_error(sock)) < 0)
        return rc;
    rc = cio__socket_peer_addr(sock, &peer);
    return rc == -ENOTCONN ? -ENOTCONN : rc;
}

ssize_t cio_tcp_stream_try_read(cio_tcp_stream *stream, void *buf, size_t len)
{
    return cio__socket_recv(SOCK(stream), buf, len, 0);
}

/* A fast-open socket whose SYN could not carry the data reports EINPROGRESS from the first
 * write: nothing was taken, try again when writable — which is -EAGAIN's meaning. */
static ssize_t write_result(ssize_t n)
{
    return n == -EINPROGRESS ? -EAGAIN : n;
}

ssize_t cio_tcp_stream_try_write(cio_tcp_stream *stream, const void *buf, size_t len)
{
    return write_result(cio__socket_send(SOCK(stream), buf, len, 0));
}

ssize_t cio_tcp_stream_try_readv(cio_tcp_stream *stream, const struct iovec *iov, int iovcnt)
{
    return cio__socket_recvv(SOCK(stream), iov, iovcnt, 0);
}

ssize_t cio_tcp_stream_try_writev(cio_tcp_stream *stream, const struct iovec *iov, int iovcnt)
{
    return write_result(cio__socket_sendv(SOCK(stream), iov, iovcnt, 0));
}

ssize_t cio_tcp_stream_try_peek(cio_tcp_stream *stream, void *buf, size_t len)
{
    return cio__socket_recv(SOCK(stream), buf, len, MSG_PEEK);
}

ssize_t cio_tcp_stream_try_sendfile(cio_tcp_stream *stream, int file_fd, int64_t *offset,
                                    size_t count)
{
    int rc = cio__socket_check(SOCK(stream));
    if (rc < 0)
        return rc;
    if (file_fd < 0)
        return -EBADF;
    if (offset != NULL && *offset < 0)
        return -EINVAL;
    if (count == 0)
        return 0;
    count = cio__min(count, (size_t)SENDFILE_MAX);
    off_t pos = offset != NULL ? (off_t)*offset : 0;
    /* sendfile has no MSG_NOSIGNAL: a dead peer raises SIGPIPE; keep it from the program. */
    struct cio__sigpipe_guard guard;
    cio__sigpipe_begin(&guard);
    ssize_t n;
    do
        n = sendfile(stream->sock.fd, file_fd, offset != NULL ? &pos : NULL, count);
    while (n < 0 && errno == EINTR);
    int err = n < 0 ? errno : 0;
    cio__sigpipe_end(&guard, err == EPIPE);
    if (n < 0)
        return -err;
    if (offset != NULL)
        *offset = (int64_t)pos;
    return n;
}

int cio_tcp_stream_local_addr(const cio_tcp_stream *stream, cio_addr *ret_addr)
{
    return cio__socket_local_addr(SOCK(stream), ret_addr);
}

int cio_tcp_stream_peer_addr(const cio_tcp_stream *stream, cio_addr *ret_addr)
{
    return cio__socket_peer_addr(SOCK(stream), ret_addr);
}

int cio_tcp_stream_take_error(cio_tcp_stream *stream)
{
    return cio__socket_take_error(SOCK(stream));
}

int cio_tcp_stream_shutdown(cio_tcp_stream *stream, cio_shutdown how)
{
    return cio__socket_shutdown(SOCK(stream), how);
}

int cio_tcp_stream_fd(const cio_tcp_stream *stream)
{
    return cio__socket_fd(SOCK(stream));
}

int cio_tcp_stream_from_fd(cio_tcp_stream **ret_stream, int fd)
{
    if (ret_stream == NULL)
        return -EINVAL;
    void *stream;
    int rc = cio__handle_adopt(&stream, sizeof(cio_tcp_stream), fd, &want_stream);
    if (rc == 0)
        *ret_stream = stream;
    return rc;
}

int cio_tcp_stream_into_fd(cio_tcp_stream *stream)
{
    return cio__handle_into_fd(stream);
}

void cio_tcp_stream_close(cio_tcp_stream *stream)
{
    cio__handle_close(stream);
}

int cio_tcp_stream_set_nodelay(cio_tcp_stream *stream, bool on)
{
    return cio__sockopt_set_bool(SOCK(stream), IPPROTO_TCP, TCP_NODELAY, on);
}

int cio_tcp_stream_nodelay(const cio_tcp_stream *stream, bool *ret_on)
{
    return cio__sockopt_get_bool(SOCK(stream), IPPROTO_TCP, TCP_NODELAY, ret_on);
}

int cio_tcp_stream_set_cork(cio_tcp_stream *stream, bool on)
{
    return cio__sockopt_set_bool(SOCK(stream), IPPROTO_TCP, TCP_CORK, on);
}

int cio_tcp_stream_cork(const cio_tcp_stream *stream, bool *ret_on)
{
    return cio__sockopt_get_bool(SOCK(stream), IPPROTO_TCP, TCP_CORK, ret_on);
}

int cio_tcp_stream_set_ttl(cio_tcp_stream *stream, int ttl)
{
    return cio__sockopt_set_ttl(SOCK(stream), ttl);
}

int cio_tcp_stream_ttl(const cio_tcp_stream *stream, int *ret_ttl)
{
    return cio__sockopt_get_ttl(SOCK(stream), ret_ttl);
}

int cio_tcp_stream_set_tos(cio_tcp_stream *stream, int tos)
{
    return cio__sockopt_set_tos(SOCK(stream), tos);
}

int cio_tcp_stream_tos(const cio_tcp_stream *stream, int *ret_tos)
{
    return cio__sockopt_get_tos(SOCK(stream), ret_tos);
}

int cio_tcp_stream_set_quickack(cio_tcp_stream *stream, bool on)
{
    return cio__sockopt_set_bool(SOCK(stream), IPPROTO_TCP, TCP_QUICKACK, on);
}

int cio_tcp_stream_quickack(const cio_tcp_stream *stream, bool *ret_on)
{
    return cio__sockopt_get_bool(SOCK(stream), IPPROTO_TCP, TCP_QUICKACK, ret_on);
}

int cio_tcp_stream_set_linger(cio_tcp_stream *stream, int seconds)
{
    return cio__sockopt_set_linger(SOCK(stream), seconds);
}

int cio_tcp_stream_linger(const cio_tcp_stream *stream, int *ret_seconds)
{
    return cio__sockopt_get_linger(SOCK(stream), ret_seconds);
}

int cio_tcp_stream_set_keepalive(cio_tcp_stream *stream, bool on, const cio_tcp_keepalive *params)
{
    return set_keepalive(SOCK(stream), on, params);
}

int cio_tcp_stream_keepalive(const cio_tcp_stream *stream, bool *ret_on,
                             cio_tcp_keepalive *ret_params)
{
    return get_keepalive(SOCK(stream), ret_on, ret_params);
}

int cio_tcp_stream_set_user_timeout(cio_tcp_stream *stream, unsigned ms)
{
    if (ms > INT_MAX)
        return -EINVAL;
    return cio__sockopt_set_int(SOCK(stream), IPPROTO_TCP, TCP_USER_TIMEOUT, (int)ms);
}

int cio_tcp_stream_user_timeout(const cio_tcp_stream *stream, unsigned *ret_ms)
{
    if (ret_ms == NULL)
        return -EINVAL;
    int value;
    int rc = cio__sockopt_get_int(SOCK(stream), IPPROTO_TCP, TCP_USER_TIMEOUT, &value);
    if (rc < 0)
        return rc;
    *ret_ms = (unsigned)value;
    return 0;
}

int cio_tcp_stream_set_notsent_lowat(cio_tcp_stream *stream, unsigned bytes)
{
    /* The kernel keeps it as a u32 taken from an int: pass the bits through. */
    int value;
    memcpy(&value, &bytes, sizeof(value));
    return cio__sockopt_set_int(SOCK(stream), IPPROTO_TCP, TCP_NOTSENT_LOWAT, value);
}

int cio_tcp_stream_notsent_lowat(const cio_tcp_stream *stream, unsigned *ret_bytes)
{
    if (ret_bytes == NULL)
        return -EINVAL;
    int value;
    int rc = cio__sockopt_get_int(SOCK(stream), IPPROTO_TCP, TCP_NOTSENT_LOWAT, &value);
    if (rc < 0)
        return rc;
    memcpy(ret_bytes, &value, sizeof(*ret_bytes));
    return 0;
}

int cio_tcp_stream_set_congestion(cio_tcp_stream *stream, const char *name)
{
    int rc = cio__socket_check(SOCK(stream));
    if (rc < 0)
        return rc;
    if (name == NULL)
        return -EINVAL;
    size_t len = strnlen(name, CONGESTION_NAME_MAX);
    if (len == 0 || len >= CONGESTION_NAME_MAX)
        return -EINVAL;
    if (setsockopt(stream->sock.fd, IPPROTO_TCP, TCP_CONGESTION, name, (socklen_t)len) < 0)
        return -errno;
    return 0;
}

int cio_tcp_stream_congestion(const cio_tcp_stream *stream, char *buf, size_t size)
{
    return cio__sockopt_get_string(SOCK(stream), IPPROTO_TCP, TCP_CONGESTION, CONGESTION_NAME_MAX,
                                   buf, size);
}

int cio_tcp_stream_set_send_buffer_size(cio_tcp_stream *stream, int bytes)
{
    return cio__sockopt_set_bufsize(SOCK(stream), SO_SNDBUF, bytes);
}

int cio_tcp_stream_send_buffer_size(const cio_tcp_stream *stream, int *ret_bytes)
{
    return cio__sockopt_get_int(SOCK(stream), SOL_SOCKET, SO_SNDBUF, ret_bytes);
}

int cio_tcp_stream_set_recv_buffer_size(cio_tcp_stream *stream, int bytes)
{
    return cio__sockopt_set_bufsize(SOCK(stream), SO_RCVBUF, bytes);
}

int cio_tcp_stream_recv_buffer_size(const cio_tcp_stream *stream, int *ret_bytes)
{
    return cio__sockopt_get_int(SOCK(stream), SOL_SOCKET, SO_RCVBUF, ret_bytes);
}

/* ======================================================================================== */
/* Socket builder                                                                           */
/* ======================================================================================== */

static int socket_new(cio_tcp_socket **ret_socket, int domain)
{
    if (ret_socket == NULL)
        return -EINVAL;
    void *socket;
    int rc = cio__handle_open(&socket, sizeof(cio_tcp_socket), domain, SOCK_STREAM, IPPROTO_TCP);
    if (rc == 0)
        *ret_socket = socket;
    return rc;
}

int cio_tcp_socket_new_v4(cio_tcp_socket **ret_socket)
{
    return socket_new(ret_socket, AF_INET);
}

int cio_tcp_socket_new_v6(cio_tcp_socket **ret_socket)
{
    return socket_new(ret_socket, AF_INET6);
}

int cio_tcp_socket_bind(cio_tcp_socket *socket, const cio_addr *addr)
{
    int rc = cio__socket_check(SOCK(socket));
    if (rc < 0 || (rc = cio__addr_check_ip(addr)) < 0)
        return rc;
    if (cio__addr_ip_family(addr) != socket->sock.domain)
        return -EAFNOSUPPORT;
    return cio__socket_bind(&socket->sock, addr);
}

/*
 * The builder's descriptor moves into the new handle and the builder is freed. The struct
 * cio__socket moves by value, registration included (the runtime layer, if it registered a
 * builder, must not keep a pointer to the old struct).
 */
int cio_tcp_socket_try_connect(cio_tcp_socket *socket, const cio_addr *addr,
                               cio_tcp_stream **ret_stream)
{
    int rc = cio__socket_check(SOCK(socket));
    if (rc < 0)
        return rc;
    if (ret_stream == NULL)
        return -EINVAL;
    if ((rc = cio__addr_check_ip(addr)) < 0)
        return rc;
    if (cio__addr_ip_family(addr) != socket->sock.domain)
        return -EAFNOSUPPORT;
    cio_tcp_stream *stream = cio__handle_new(sizeof(*stream));
    if (stream == NULL)
        return -ENOMEM;
    rc = cio__socket_connect(&socket->sock, addr);
    if (rc < 0 && rc != -EINPROGRESS) {
        free(stream);
        return rc;
    }
    stream->sock = socket->sock;
    free(socket);
    *ret_stream = stream;
    return 0;
}

int cio_tcp_socket_listen(cio_tcp_socket *socket, int backlog, cio_tcp_listener **ret_listener)
{
    int rc = cio__socket_check(SOCK(socket));
    if (rc < 0)
        return rc;
    if (ret_listener == NULL)
        return -EINVAL;
    cio_tcp_listener *listener = cio__listener_new(sizeof(*listener));
    if (listener == NULL)
        return -ENOMEM;
    if ((rc = cio__socket_listen(&socket->sock, backlog)) < 0) {
        free(listener);
        return rc;
    }
    listener->base.sock = socket->sock;
    free(socket);
    cio__reserve_open(&listener->base.reserve);
    *ret_listener = listener;
    return 0;
}

int cio_tcp_socket_local_addr(const cio_tcp_socket *socket, cio_addr *ret_addr)
{
    return cio__socket_local_addr(SOCK(socket), ret_addr);
}

int cio_tcp_socket_take_error(cio_tcp_socket *socket)
{
    return cio__socket_take_error(SOCK(socket));
}

int cio_tcp_socket_fd(const cio_tcp_socket *socket)
{
    return cio__socket_fd(SOCK(socket));
}

int cio_tcp_socket_from_fd(cio_tcp_socket **ret_socket, int fd)
{
    if (ret_socket == NULL)
        return -EINVAL;
    /* A builder is for a socket not yet connected: refuse a connected one (before adopt()
     * changes its flags; adopt() reports the other mismatches). */
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
        return -EISCONN;
    void *socket;
    int rc = cio__handle_adopt(&socket, sizeof(cio_tcp_socket), fd, &want_stream);
    if (rc == 0)
        *ret_socket = socket;
    return rc;
}

int cio_tcp_socket_into_fd(cio_tcp_socket *socket)
{
    return cio__handle_into_fd(socket);
}

void cio_tcp_socket_close(cio_tcp_socket *socket)
{
    cio__handle_close(socket);
}

int cio_tcp_socket_set_reuseaddr(cio_tcp_socket *socket, bool on)
{
    return cio__sockopt_set_bool(SOCK(socket), SOL_SOCKET, SO_REUSEADDR, on);
}

int cio_tcp_socket_reuseaddr(const cio_tcp_socket *socket, bool *ret_on)
{
    return cio__sockopt_get_bool(SOCK(socket), SOL_SOCKET, SO_REUSEADDR, ret_on);
}

int cio_tcp_socket_set_reuseport(cio_tcp_socket *socket, bool on)
{
    return cio__sockopt_set_bool(SOCK(socket), SOL_SOCKET, SO_REUSEPORT, on);
}

int cio_tcp_socket_reuseport(const cio_tcp_socket *socket, bool *ret_on)
{
    return cio__sockopt_get_bool(SOCK(socket), SOL_SOCKET, SO_REUSEPORT, ret_on);
}

int cio_tcp_socket_set_v6only(cio_tcp_socket *socket, bool on)
{
    return cio__sockopt_set_v6_bool(SOCK(socket), IPV6_V6ONLY, on);
}

int cio_tcp_socket_v6only(const cio_tcp_socket *socket, bool *ret_on)
{
    return cio__sockopt_get_v6_bool(SOCK(socket), IPV6_V6ONLY, ret_on);
}

int cio_tcp_socket_set_send_buffer_size(cio_tcp_socket *socket, int bytes)
{
    return cio__sockopt_set_bufsize(SOCK(socket), SO_SNDBUF, bytes);
}

int cio_tcp_socket_send_buffer_size(const cio_tcp_socket *socket, int *ret_bytes)
{
    return cio__sockopt_get_int(SOCK(socket), SOL_SOCKET, SO_SNDBUF, ret_bytes);
}

int cio_tcp_socket_set_recv_buffer_size(cio_tcp_socket *socket, int bytes)
{
    return cio__sockopt_set_bufsize(SOCK(socket), SO_RCVBUF, bytes);
}

int cio_tcp_socket_recv_buffer_size(const cio_tcp_socket *socket, int *ret_bytes)
{
    return cio__sockopt_get_int(SOCK(socket), SOL_SOCKET, SO_RCVBUF, ret_bytes);
}

int cio_tcp_socket_set_keepalive(cio_tcp_socket *socket, bool on, const cio_tcp_keepalive *params)
{
    return set_keepalive(SOCK(socket), on, params);
}

int cio_tcp_socket_keepalive(const cio_tcp_socket *socket, bool *ret_on,
                             cio_tcp_keepalive *ret_params)
{
    return get_keepalive(SOCK(socket), ret_on, ret_params);
}

int cio_tcp_socket_set_linger(cio_tcp_socket *socket, int seconds)
{
    return cio__sockopt_set_linger(SOCK(socket), seconds);
}

int cio_tcp_socket_linger(const cio_tcp_socket *socket, int *ret_seconds)
{
    return cio__sockopt_get_linger(SOCK(socket), ret_seconds);
}

int cio_tcp_socket_set_nodelay(cio_tcp_socket *socket, bool on)
{
    return cio__sockopt_set_bool(SOCK(socket), IPPROTO_TCP, TCP_NODELAY, on);
}

int cio_tcp_socket_nodelay(const cio_tcp_socket *socket, bool *ret_on)
{
    return cio__sockopt_get_bool(SOCK(socket), IPPROTO_TCP, TCP_NODELAY, ret_on);
}

int cio_tcp_socket_set_tos(cio_tcp_socket *socket, int tos)
{
    return cio__sockopt_set_tos(SOCK(socket), tos);
}

int cio_tcp_socket_tos(const cio_tcp_socket *socket, int *ret_tos)
{
    return cio__sockopt_get_tos(SOCK(socket), ret_tos);
}

int cio_tcp_socket_set_bind_device(cio_tcp_socket *socket, const char *ifname)
{
    return cio__sockopt_set_bind_device(SOCK(socket), ifname);
}

int cio_tcp_socket_bind_device(const cio_tcp_socket *socket, char *buf, size_t size)
{
    return cio__sockopt_get_bind_device(SOCK(socket), buf, size);
}

int cio_tcp_socket_set_fastopen_connect(cio_tcp_socket *socket, bool on)
{
    return cio__sockopt_set_bool(SOCK(socket), IPPROTO_TCP, TCP_FASTOPEN_CONNECT, on);
}

int cio_tcp_socket_fastopen_connect(const cio_tcp_socket *socket, bool *ret_on)
{
    return cio__sockopt_get_bool(SOCK(socket), IPPROTO_TCP, TCP_FASTOPEN_CONNECT, ret_on);
}

int cio_tcp_socket_set_fastopen(cio_tcp_socket *socket, int queue_len)
{
    if (queue_len < 0)
        return -EINVAL;
    return cio__sockopt_set_int(SOCK(socket), IPPROTO_TCP, TCP_FASTOPEN, queue_len);
}

int cio_tcp_socket_fastopen(const cio_tcp_socket *socket, int *ret_queue_len)
{
    return cio__sockopt_get_int(SOCK(socket), IPPROTO_TCP, TCP_FASTOPEN, ret_queue_len);
}
