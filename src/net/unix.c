/*
 * unix.c: Unix-domain listeners, streams and datagram sockets on top of the socket core
 * (socket.c) and the message helpers (msg.c). What is here is what only Unix sockets have:
 * socket pairs, peer credentials, descriptor passing entry points, and the listener's
 * optional removal of its socket file — guarded by the file's identity so that a file some
 * other process bound since is never removed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cio/unix.h"
#include "net/msg.h"
#include "net/socket.h"
#include "util/compiler.h"

/* Each handle starts with its struct cio__socket (the runtime layer relies on that). */
struct cio_unix_stream {
    struct cio__socket sock;
};

struct cio_unix_listener {
    struct cio__listener base; /* the socket and the spare descriptor for EMFILE */
    /* The socket file, noted at bind / adopt time, for unlink-on-close. */
    bool has_file;
    bool unlink_on_close;
    cio_addr path;
    dev_t file_dev;
    ino_t file_ino;
};

struct cio_unix_datagram {
    struct cio__socket sock;
};

#define SOCK(handle) ((handle) != NULL ? &(handle)->sock : NULL)
#define LISTENER_SOCK(listener) ((listener) != NULL ? &(listener)->base.sock : NULL)

static const struct cio__socket_want want_listener = {
    .domains = {AF_UNIX, AF_UNIX}, .type = SOCK_STREAM, .listening = 1};
static const struct cio__socket_want want_stream = {
    .domains = {AF_UNIX, AF_UNIX}, .type = SOCK_STREAM, .listening = -1};
static const struct cio__socket_want want_datagram = {
    .domains = {AF_UNIX, AF_UNIX}, .type = SOCK_DGRAM, .listening = 0};

/* An address to bind: any Unix kind (unnamed means autobind). */
static int check_bind_addr(const cio_addr *addr)
{
    switch (cio_addr_get_kind(addr)) {
    case CIO_ADDR_UNIX:
    case CIO_ADDR_ABSTRACT:
    case CIO_ADDR_UNNAMED:
        return 0;
    case CIO_ADDR_NONE:
        return -EINVAL;
    default:
        return -EAFNOSUPPORT;
    }
}

/* An address to connect or send to: a path or an abstract name. */
static int check_peer_addr(const cio_addr *addr)
{
    switch (cio_addr_get_kind(addr)) {
    case CIO_ADDR_UNIX:
    case CIO_ADDR_ABSTRACT:
        return 0;
    case CIO_ADDR_NONE:
    case CIO_ADDR_UNNAMED:
        return -EINVAL;
    default:
        return -EAFNOSUPPORT;
    }
}

static int peer_cred(const struct cio__socket *sock, cio_unix_cred *ret_cred, int none)
{
    if (sock == NULL || ret_cred == NULL)
        return -EINVAL;
    if (sock->fd < 0)
        return -EBADF;
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(sock->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return -errno;
    /* Linux answers with pid 0 and the overflow ids when it recorded no credentials. */
    if (cred.pid == 0)
        return none;
    ret_cred->pid = cred.pid;
    ret_cred->uid = cred.uid;
    ret_cred->gid = cred.gid;
    return 0;
}

/* Two connected handles of @size bytes (a stream or a datagram pair) over socketpair(). */
static int pair_new(size_t size, int type, void **ret_a, void **ret_b)
{
    struct cio__socket *a = cio__handle_new(size);
    struct cio__socket *b = cio__handle_new(size);
    int fds[2];
    int rc = a != NULL && b != NULL ? 0 : -ENOMEM;
    if (rc == 0 && socketpair(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0)
        rc = -errno;
    if (rc < 0) {
        free(a);
        free(b);
        return rc;
    }
    cio__socket_init(a, fds[0], AF_UNIX, type);
    cio__socket_init(b, fds[1], AF_UNIX, type);
    *ret_a = a;
    *ret_b = b;
    return 0;
}

/* ======================================================================================== */
/* Listener                                                                                 */
/* ======================================================================================== */

/* Note which file the listener's path names now, so that close removes only that file. */
static void note_file(cio_unix_listener *listener)
{
    cio_addr addr;
    struct stat st;
    listener->has_file = false;
    if (cio__socket_local_addr(&listener->base.sock, &addr) < 0 ||
        cio_addr_get_kind(&addr) != CIO_ADDR_UNIX)
        return;
    if (stat(cio_addr_unix_path(&addr), &st) < 0 || !S_ISSOCK(st.st_mode))
        return;
    listener->path = addr;
    listener->file_dev = st.st_dev;
    listener->file_ino = st.st_ino;
    listener->has_file = true;
}

static void remove_file(cio_unix_listener *listener)
{
    if (!listener->unlink_on_close || !listener->has_file)
        return;
    /* Between this stat and the unlink another process could replace the file; nothing in
     * POSIX closes that window, which is why the check is only a guard against the common
     * case (a newer server bound the path after ours). */
    const char *path = cio_addr_unix_path(&listener->path);
    struct stat st;
    if (stat(path, &st) == 0 && st.st_dev == listener->file_dev && st.st_ino == listener->file_ino)
        (void)unlink(path);
}

int cio_unix_listener_bind(cio_unix_listener **ret_listener, const cio_addr *addr, int backlog)
{
    if (ret_listener == NULL || addr == NULL)
        return -EINVAL;
    int rc = check_bind_addr(addr);
    if (rc < 0)
        return rc;
    cio_unix_listener *listener = cio__listener_new(sizeof(*listener));
    if (listener == NULL)
        return -ENOMEM;
    if ((rc = cio__socket_open(&listener->base.sock, AF_UNIX, SOCK_STREAM, 0)) < 0 ||
        (rc = cio__socket_bind(&listener->base.sock, addr)) < 0)
        goto fail;
    note_file(listener);
    if ((rc = cio__socket_listen(&listener->base.sock, backlog)) < 0) {
        /* The file is ours (we just made it) and useless without a listener: close removes it. */
        listener->unlink_on_close = true;
        goto fail;
    }
    cio__reserve_open(&listener->base.reserve);
    *ret_listener = listener;
    return 0;
fail:
    cio_unix_listener_close(listener);
    return rc;
}

int cio_unix_listener_try_accept(cio_unix_listener *listener, cio_unix_stream **ret_stream,
                                 cio_addr *ret_peer)
{
    if (listener == NULL || ret_stream == NULL)
        return -EINVAL;
    /* Out of memory, the connection is closed: the client reads end of stream. */
    void *stream;
    int rc = cio__listener_accept(&listener->base, &stream, sizeof(cio_unix_stream), ret_peer);
    if (rc == 0)
        *ret_stream = stream;
    return rc;
}

int cio_unix_listener_local_addr(const cio_unix_listener *listener, cio_addr *ret_addr)
{
    return cio__socket_local_addr(LISTENER_SOCK(listener), ret_addr);
}

int cio_unix_listener_take_error(cio_unix_listener *listener)
{
    return cio__socket_take_error(LISTENER_SOCK(listener));
}

int cio_unix_listener_set_unlink_on_close(cio_unix_listener *listener, bool on)
{
    if (listener == NULL)
        return -EINVAL;
    if (on && !listener->has_file)
        return -EINVAL;
    listener->unlink_on_close = on;
    return 0;
}

int cio_unix_listener_unlink_on_close(const cio_unix_listener *listener, bool *ret_on)
{
    if (listener == NULL || ret_on == NULL)
        return -EINVAL;
    *ret_on = listener->unlink_on_close;
    return 0;
}

int cio_unix_listener_fd(const cio_unix_listener *listener)
{
    return cio__socket_fd(LISTENER_SOCK(listener));
}

int cio_unix_listener_from_fd(cio_unix_listener **ret_listener, int fd)
{
    if (ret_listener == NULL)
        return -EINVAL;
    void *handle;
    int rc = cio__listener_adopt(&handle, sizeof(cio_unix_listener), fd, &want_listener);
    if (rc < 0)
        return rc;
    cio_unix_listener *listener = handle;
    note_file(listener);
    *ret_listener = listener;
    return 0;
}

int cio_unix_listener_into_fd(cio_unix_listener *listener)
{
    return cio__listener_into_fd(listener);
}

void cio_unix_listener_close(cio_unix_listener *listener)
{
    if (listener == NULL)
        return;
    /* Remove the file first: once the socket is closed a client connecting in between gets
     * -ECONNREFUSED either way, and a new server can bind the path at once. */
    remove_file(listener);
    cio__listener_close(listener);
}

/* ======================================================================================== */
/* Stream                                                                                   */
/* ======================================================================================== */

int cio_unix_stream_try_connect(cio_unix_stream **ret_stream, const cio_addr *addr)
{
    if (ret_stream == NULL || addr == NULL)
        return -EINVAL;
    int rc = check_peer_addr(addr);
    if (rc < 0)
        return rc;
    /* Linux connects Unix streams at once or fails at once: EAGAIN means the listener's
     * backlog is full, and this socket is useless (no event will say when to retry), so it is
     * closed. EINPROGRESS is other systems' background connect: keep the stream. */
    void *stream;
    rc = cio__handle_connect(&stream, sizeof(cio_unix_stream), AF_UNIX, SOCK_STREAM, 0, addr);
    if (rc == 0)
        *ret_stream = stream;
    return rc;
}

int cio_unix_stream_pair(cio_unix_stream **ret_a, cio_unix_stream **ret_b)
{
    if (ret_a == NULL || ret_b == NULL)
        return -EINVAL;
    void *a, *b;
    int rc = pair_new(sizeof(cio_unix_stream), SOCK_STREAM, &a, &b);
    if (rc == 0) {
        *ret_a = a;
        *ret_b = b;
    }
    return rc;
}

ssize_t cio_unix_stream_try_read(cio_unix_stream *stream, void *buf, size_t len)
{
    return cio__socket_recv(SOCK(stream), buf, len, 0);
}

ssize_t cio_unix_stream_try_write(cio_unix_stream *stream, const void *buf, size_t len)
{
    return cio__socket_send(SOCK(stream), buf, len, 0);
}

ssize_t cio_unix_stream_try_readv(cio_unix_stream *stream, const struct iovec *iov, int iovcnt)
{
    return cio__socket_recvv(SOCK(stream), iov, iovcnt, 0);
}

ssize_t cio_unix_stream_try_writev(cio_unix_stream *stream, const struct iovec *iov, int iovcnt)
{
    return cio__socket_sendv(SOCK(stream), iov, iovcnt, 0);
}

ssize_t cio_unix_stream_try_peek(cio_unix_stream *stream, void *buf, size_t len)
{
    return cio__socket_recv(SOCK(stream), buf, len, MSG_PEEK);
}

ssize_t cio_unix_stream_try_send_fds(cio_unix_stream *stream, const void *buf, size_t len,
                                     const int *fds, size_t nfds)
{
    if (buf == NULL && len > 0)
        return -EINVAL;
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    return cio__msg_send_fds(SOCK(stream), &iov, 1, fds, nfds, NULL);
}

ssize_t cio_unix_stream_try_recv_fds(cio_unix_stream *stream, void *buf, size_t len, int *fds,
                                     size_t max_fds, size_t *ret_nfds)
{
    if (buf == NULL && len > 0)
        return -EINVAL;
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    return cio__msg_recv_fds(SOCK(stream), &iov, 1, fds, max_fds, ret_nfds, NULL);
}

int cio_unix_stream_peer_cred(const cio_unix_stream *stream, cio_unix_cred *ret_cred)
{
    return peer_cred(SOCK(stream), ret_cred, -ENOTCONN);
}

int cio_unix_stream_local_addr(const cio_unix_stream *stream, cio_addr *ret_addr)
{
    return cio__socket_local_addr(SOCK(stream), ret_addr);
}

int cio_unix_stream_peer_addr(const cio_unix_stream *stream, cio_addr *ret_addr)
{
    return cio__socket_peer_addr(SOCK(stream), ret_addr);
}

int cio_unix_stream_take_error(cio_unix_stream *stream)
{
    return cio__socket_take_error(SOCK(stream));
}

int cio_unix_stream_shutdown(cio_unix_stream *stream, cio_shutdown how)
{
    return cio__socket_shutdown(SOCK(stream), how);
}

int cio_unix_stream_fd(const cio_unix_stream *stream)
{
    return cio__socket_fd(SOCK(stream));
}

int cio_unix_stream_from_fd(cio_unix_stream **ret_stream, int fd)
{
    if (ret_stream == NULL)
        return -EINVAL;
    void *stream;
    int rc = cio__handle_adopt(&stream, sizeof(cio_unix_stream), fd, &want_stream);
    if (rc == 0)
        *ret_stream = stream;
    return rc;
}

int cio_unix_stream_into_fd(cio_unix_stream *stream)
{
    return cio__handle_into_fd(stream);
}

void cio_unix_stream_close(cio_unix_stream *stream)
{
    cio__handle_close(stream);
}

int cio_unix_stream_set_send_buffer_size(cio_unix_stream *stream, int bytes)
{
    return cio__sockopt_set_bufsize(SOCK(stream), SO_SNDBUF, bytes);
}

int cio_unix_stream_send_buffer_size(const cio_unix_stream *stream, int *ret_bytes)
{
    return cio__sockopt_get_int(SOCK(stream), SOL_SOCKET, SO_SNDBUF, ret_bytes);
}

int cio_unix_stream_set_recv_buffer_size(cio_unix_stream *stream, int bytes)
{
    return cio__sockopt_set_bufsize(SOCK(stream), SO_RCVBUF, bytes);
}

int cio_unix_stream_recv_buffer_size(const cio_unix_stream *stream, int *ret_bytes)
{
    return cio__sockopt_get_int(SOCK(stream), SOL_SOCKET, SO_RCVBUF, ret_bytes);
}

/* ======================================================================================== */
/* Datagram                                                                                 */
/* ======================================================================================== */

static int datagram_open(cio_unix_datagram **ret_socket)
{
    void *socket;
    int rc = cio__handle_open(&socket, sizeof(cio_unix_datagram), AF_UNIX, SOCK_DGRAM, 0);
    if (rc == 0)
        *ret_socket = socket;
    return rc;
}

int cio_unix_datagram_bind(cio_unix_datagram **ret_socket, const cio_addr *addr)
{
    if (ret_socket == NULL || addr == NULL)
        return -EINVAL;
    int rc = check_bind_addr(addr);
    if (rc < 0)
        return rc;
    cio_unix_datagram *socket;
    if ((rc = datagram_open(&socket)) < 0)
        return rc;
    if ((rc = cio__socket_bind(&socket->sock, addr)) < 0) {
        cio_unix_datagram_close(socket);
        return rc;
    }
    *ret_socket = socket;
    return 0;
}

int cio_unix_datagram_unbound(cio_unix_datagram **ret_socket)
{
    if (ret_socket == NULL)
        return -EINVAL;
    return datagram_open(ret_socket);
}

int cio_unix_datagram_pair(cio_unix_datagram **ret_a, cio_unix_datagram **ret_b)
{
    if (ret_a == NULL || ret_b == NULL)
        return -EINVAL;
    void *a, *b;
    int rc = pair_new(sizeof(cio_unix_datagram), SOCK_DGRAM, &a, &b);
    if (rc == 0) {
        *ret_a = a;
        *ret_b = b;
    }
    return rc;
}

int cio_unix_datagram_connect(cio_unix_datagram *socket, const cio_addr *addr)
{
    int rc = cio__socket_fd(SOCK(socket));
    if (rc < 0)
        return rc;
    if ((rc = check_peer_addr(addr)) < 0)
        return rc;
    return cio__socket_connect(&socket->sock, addr);
}

int cio_unix_datagram_disconnect(cio_unix_datagram *socket)
{
    int rc = cio__socket_fd(SOCK(socket));
    if (rc < 0)
        return rc;
    struct sockaddr unspec = {.sa_family = AF_UNSPEC};
    if (connect(socket->sock.fd, &unspec, sizeof(unspec)) < 0)
        return -errno;
    return 0;
}

ssize_t cio_unix_datagram_try_send(cio_unix_datagram *socket, const void *buf, size_t len)
{
    return cio__dgram_send_buf(SOCK(socket), buf, len, NULL);
}

ssize_t cio_unix_datagram_try_send_to(cio_unix_datagram *socket, const void *buf, size_t len,
                                      const cio_addr *addr)
{
    if (socket == NULL)
        return -EINVAL;
    int rc = check_peer_addr(addr);
    if (rc < 0)
        return rc;
    return cio__dgram_send_buf(SOCK(socket), buf, len, addr);
}

ssize_t cio_unix_datagram_try_recv(cio_unix_datagram *socket, void *buf, size_t len)
{
    return cio__dgram_recv_buf(SOCK(socket), buf, len, 0, NULL);
}

ssize_t cio_unix_datagram_try_recv_from(cio_unix_datagram *socket, void *buf, size_t len,
                                        cio_addr *ret_from)
{
    return cio__dgram_recv_buf(SOCK(socket), buf, len, 0, ret_from);
}

ssize_t cio_unix_datagram_try_peek(cio_unix_datagram *socket, void *buf, size_t len)
{
    return cio__dgram_recv_buf(SOCK(socket), buf, len, MSG_PEEK, NULL);
}

ssize_t cio_unix_datagram_try_peek_from(cio_unix_datagram *socket, void *buf, size_t len,
                                        cio_addr *ret_from)
{
    return cio__dgram_recv_buf(SOCK(socket), buf, len, MSG_PEEK, ret_from);
}

ssize_t cio_unix_datagram_try_peek_sender(cio_unix_datagram *socket, cio_addr *ret_from)
{
    return cio__dgram_peek_sender(SOCK(socket), ret_from);
}

ssize_t cio_unix_datagram_try_send_fds(cio_unix_datagram *socket, const void *buf, size_t len,
                                       const int *fds, size_t nfds, const cio_addr *addr)
{
    if (socket == NULL || (buf == NULL && len > 0))
        return -EINVAL;
    int rc;
    if (addr != NULL && (rc = check_peer_addr(addr)) < 0)
        return rc;
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    return cio__msg_send_fds(&socket->sock, &iov, 1, fds, nfds, addr);
}

ssize_t cio_unix_datagram_try_recv_fds(cio_unix_datagram *socket, void *buf, size_t len, int *fds,
                                       size_t max_fds, size_t *ret_nfds, cio_addr *ret_from)
{
    if (buf == NULL && len > 0)
        return -EINVAL;
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    return cio__msg_recv_fds(SOCK(socket), &iov, 1, fds, max_fds, ret_nfds, ret_from);
}

int cio_unix_datagram_peer_cred(const cio_unix_datagram *socket, cio_unix_cred *ret_cred)
{
    return peer_cred(SOCK(socket), ret_cred, -ENODATA);
}

int cio_unix_datagram_local_addr(const cio_unix_datagram *socket, cio_addr *ret_addr)
{
    return cio__socket_local_addr(SOCK(socket), ret_addr);
}

int cio_unix_datagram_peer_addr(const cio_unix_datagram *socket, cio_addr *ret_addr)
{
    return cio__socket_peer_addr(SOCK(socket), ret_addr);
}

int cio_unix_datagram_take_error(cio_unix_datagram *socket)
{
    return cio__socket_take_error(SOCK(socket));
}

int cio_unix_datagram_shutdown(cio_unix_datagram *socket, cio_shutdown how)
{
    return cio__socket_shutdown(SOCK(socket), how);
}

int cio_unix_datagram_fd(const cio_unix_datagram *socket)
{
    return cio__socket_fd(SOCK(socket));
}

int cio_unix_datagram_from_fd(cio_unix_datagram **ret_socket, int fd)
{
    if (ret_socket == NULL)
        return -EINVAL;
    void *socket;
    int rc = cio__handle_adopt(&socket, sizeof(cio_unix_datagram), fd, &want_datagram);
    if (rc == 0)
        *ret_socket = socket;
    return rc;
}

int cio_unix_datagram_into_fd(cio_unix_datagram *socket)
{
    return cio__handle_into_fd(socket);
}

void cio_unix_datagram_close(cio_unix_datagram *socket)
{
    cio__handle_close(socket);
}

int cio_unix_datagram_set_send_buffer_size(cio_unix_datagram *socket, int bytes)
{
    return cio__sockopt_set_bufsize(SOCK(socket), SO_SNDBUF, bytes);
}

int cio_unix_datagram_send_buffer_size(const cio_unix_datagram *socket, int *ret_bytes)
{
    return cio__sockopt_get_int(SOCK(socket), SOL_SOCKET, SO_SNDBUF, ret_bytes);
}

int cio_unix_datagram_set_recv_buffer_size(cio_unix_datagram *socket, int bytes)
{
    return cio__sockopt_set_bufsize(SOCK(socket), SO_RCVBUF, bytes);
}

int cio_unix_datagram_recv_buffer_size(const cio_unix_datagram *socket, int *ret_bytes)
{
    return cio__sockopt_get_int(SOCK(socket), SOL_SOCKET, SO_RCVBUF, ret_bytes);
}
