/*
 * tcp.c: TCP listeners, streams and the socket builder on top of the socket core
 * (socket.c). What is here is what only TCP has: connect completion, accept into a stream,
 * the TCP and IP-level options (chosen per address family), sendfile, and the ownership
 * moves of the builder. Each public function checks its handle and hands the embedded
 * struct cio_socket to a shared helper, which checks the rest.
 */
#include <errno.h>
#include <stddef.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#include "cio/tcp.h"
#include "net/kinds.h"
#include "net/socket.h"
#include "util/compiler.h"

/* Each handle starts with its struct cio_socket (the runtime layer relies on that). */
struct cio_tcp_stream {
    struct cio_socket sock;
};

struct cio_tcp_listener {
    struct cio__listener base; /* the socket and the spare descriptor for EMFILE */
};

struct cio_tcp_socket {
    struct cio_socket sock;
};
_Static_assert(offsetof(struct cio_tcp_stream, sock) == 0, "a handle is its socket (CIO__SOCK)");
_Static_assert(offsetof(struct cio_tcp_listener, base.sock) == 0,
               "a handle is its socket (CIO__SOCK)");
_Static_assert(offsetof(struct cio_tcp_socket, sock) == 0, "a handle is its socket (CIO__SOCK)");

#define SOCK(handle) ((handle) != NULL ? &(handle)->sock : NULL)
#define LISTENER_SOCK(listener) ((listener) != NULL ? &(listener)->base.sock : NULL)

#define SENDFILE_MAX 0x7ffff000 /* what Linux moves at most per sendfile() call */
#define CONGESTION_NAME_MAX 16  /* TCP_CA_NAME_MAX */

static const struct cio__socket_want want_stream = {
    .domains = {AF_INET, AF_INET6}, .type = SOCK_STREAM, .protocol = IPPROTO_TCP, .listening = -1};
static const struct cio__socket_want want_listener = {
    .domains = {AF_INET, AF_INET6}, .type = SOCK_STREAM, .protocol = IPPROTO_TCP, .listening = 1};

/* ---- options shared by the three handle types ---- */

static int set_keepalive(struct cio_socket *sock, bool on, const cio_tcp_keepalive_params *params)
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

static int get_keepalive(const struct cio_socket *sock, bool *ret_on,
                         cio_tcp_keepalive_params *ret_params)
{
    if (ret_on == NULL)
        return -EINVAL;
    bool on;
    cio_tcp_keepalive_params params;
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

int cio_tcp_listener_new(cio_tcp_listener **ret_listener, const cio_addr *addr, int backlog)
{
    if (ret_listener == NULL)
        return -EINVAL;
    int rc = cio__addr_check_ip(addr);
    if (rc < 0)
        return rc;
    cio_tcp_listener *listener = cio__listener_new(sizeof(*listener));
    if (listener == NULL)
        return -ENOMEM;
    struct cio_socket *sock = &listener->base.sock;
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
    struct cio_socket *sock = SOCK(stream);
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

ssize_t cio__tcp_sendfile(struct cio_socket *sock, int file_fd, int64_t *offset, size_t count)
{
    int rc = cio__socket_check(sock);
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
        n = sendfile(sock->fd, file_fd, offset != NULL ? &pos : NULL, count);
    while (n < 0 && errno == EINTR);
    int err = n < 0 ? errno : 0;
    cio__sigpipe_end(&guard, err == EPIPE);
    if (n < 0)
        return -err;
    if (offset != NULL)
        *offset = (int64_t)pos;
    return n;
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
    listener->base.sock.kind = CIO__KIND_LISTENER; /* the copy brought the builder's kind */
    free(socket);
    cio__reserve_open(&listener->base.reserve);
    *ret_listener = listener;
    return 0;
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

/* ======================================================================================== */
/* TCP options (any TCP handle)                                                             */
/* ======================================================================================== */

/* cio__socket_check(), and -ENOPROTOOPT for a socket that is not TCP (a handle converted by
 * hand from another kind). */
static int check_tcp(const struct cio_socket *sock)
{
    int rc = cio__socket_check(sock);
    if (rc == 0 && (sock->type != SOCK_STREAM || sock->domain == AF_UNIX))
        rc = -ENOPROTOOPT;
    return rc;
}

static int tcp_set_bool(cio_socket *handle, int name, bool on)
{
    int rc = check_tcp(CIO__SOCK(handle));
    return rc < 0 ? rc : cio__sockopt_set_bool(CIO__SOCK(handle), IPPROTO_TCP, name, on);
}

static int tcp_get_bool(cio_socket *handle, int name, bool *ret_on)
{
    int rc = check_tcp(CIO__SOCK(handle));
    return rc < 0 ? rc : cio__sockopt_get_bool(CIO__SOCK(handle), IPPROTO_TCP, name, ret_on);
}

static int tcp_set_int(cio_socket *handle, int name, int value)
{
    int rc = check_tcp(CIO__SOCK(handle));
    return rc < 0 ? rc : cio__sockopt_set_int(CIO__SOCK(handle), IPPROTO_TCP, name, value);
}

static int tcp_get_int(cio_socket *handle, int name, int *ret_value)
{
    int rc = check_tcp(CIO__SOCK(handle));
    return rc < 0 ? rc : cio__sockopt_get_int(CIO__SOCK(handle), IPPROTO_TCP, name, ret_value);
}

int cio_tcp_set_nodelay(cio_socket *tcp, bool on)
{
    return tcp_set_bool(tcp, TCP_NODELAY, on);
}

int cio_tcp_nodelay(cio_socket *tcp, bool *ret_on)
{
    return tcp_get_bool(tcp, TCP_NODELAY, ret_on);
}

int cio_tcp_set_cork(cio_socket *tcp, bool on)
{
    return tcp_set_bool(tcp, TCP_CORK, on);
}

int cio_tcp_cork(cio_socket *tcp, bool *ret_on)
{
    return tcp_get_bool(tcp, TCP_CORK, ret_on);
}

int cio_tcp_set_quickack(cio_socket *tcp, bool on)
{
    return tcp_set_bool(tcp, TCP_QUICKACK, on);
}

int cio_tcp_quickack(cio_socket *tcp, bool *ret_on)
{
    return tcp_get_bool(tcp, TCP_QUICKACK, ret_on);
}

int cio_tcp_set_keepalive(cio_socket *tcp, bool on, const cio_tcp_keepalive_params *params)
{
    int rc = check_tcp(CIO__SOCK(tcp));
    return rc < 0 ? rc : set_keepalive(CIO__SOCK(tcp), on, params);
}

int cio_tcp_keepalive(cio_socket *tcp, bool *ret_on, cio_tcp_keepalive_params *ret_params)
{
    int rc = check_tcp(CIO__SOCK(tcp));
    return rc < 0 ? rc : get_keepalive(CIO__SOCK(tcp), ret_on, ret_params);
}

int cio_tcp_set_user_timeout(cio_socket *tcp, unsigned ms)
{
    if (ms > INT_MAX)
        return -EINVAL;
    return tcp_set_int(tcp, TCP_USER_TIMEOUT, (int)ms);
}

int cio_tcp_user_timeout(cio_socket *tcp, unsigned *ret_ms)
{
    if (ret_ms == NULL)
        return -EINVAL;
    int value;
    int rc = tcp_get_int(tcp, TCP_USER_TIMEOUT, &value);
    if (rc < 0)
        return rc;
    *ret_ms = (unsigned)value;
    return 0;
}

int cio_tcp_set_notsent_lowat(cio_socket *tcp, unsigned bytes)
{
    /* The kernel keeps it as a u32 taken from an int: pass the bits through. */
    int value;
    memcpy(&value, &bytes, sizeof(value));
    return tcp_set_int(tcp, TCP_NOTSENT_LOWAT, value);
}

int cio_tcp_notsent_lowat(cio_socket *tcp, unsigned *ret_bytes)
{
    if (ret_bytes == NULL)
        return -EINVAL;
    int value;
    int rc = tcp_get_int(tcp, TCP_NOTSENT_LOWAT, &value);
    if (rc < 0)
        return rc;
    memcpy(ret_bytes, &value, sizeof(*ret_bytes));
    return 0;
}

int cio_tcp_set_congestion(cio_socket *tcp, const char *name)
{
    struct cio_socket *sock = CIO__SOCK(tcp);
    int rc = check_tcp(sock);
    if (rc < 0)
        return rc;
    if (name == NULL)
        return -EINVAL;
    size_t len = strnlen(name, CONGESTION_NAME_MAX);
    if (len == 0 || len >= CONGESTION_NAME_MAX)
        return -EINVAL;
    if (setsockopt(sock->fd, IPPROTO_TCP, TCP_CONGESTION, name, (socklen_t)len) < 0)
        return -errno;
    return 0;
}

int cio_tcp_congestion(cio_socket *tcp, char *buf, size_t size)
{
    int rc = check_tcp(CIO__SOCK(tcp));
    return rc < 0 ? rc
                  : cio__sockopt_get_string(CIO__SOCK(tcp), IPPROTO_TCP, TCP_CONGESTION,
                                            CONGESTION_NAME_MAX, buf, size);
}

int cio_tcp_set_fastopen_connect(cio_socket *tcp, bool on)
{
    return tcp_set_bool(tcp, TCP_FASTOPEN_CONNECT, on);
}

int cio_tcp_fastopen_connect(cio_socket *tcp, bool *ret_on)
{
    return tcp_get_bool(tcp, TCP_FASTOPEN_CONNECT, ret_on);
}

int cio_tcp_set_fastopen(cio_socket *tcp, int queue_len)
{
    if (queue_len < 0)
        return -EINVAL;
    return tcp_set_int(tcp, TCP_FASTOPEN, queue_len);
}

int cio_tcp_fastopen(cio_socket *tcp, int *ret_queue_len)
{
    return tcp_get_int(tcp, TCP_FASTOPEN, ret_queue_len);
}
