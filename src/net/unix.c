/*
 * unix.c: Unix-domain listeners, streams and datagram sockets on top of the socket core
 * (socket.c) and the message helpers (msg.c). What is here is what only Unix sockets have:
 * socket pairs, peer credentials, descriptor passing entry points, and the listener's
 * optional removal of its socket file — guarded by the file's identity so that a file some
 * other process bound since is never removed.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cio/unix.h"
#include "net/msg.h"
#include "net/socket.h"
#include "util/compiler.h"

/* Each handle starts with its struct cio_socket (the runtime layer relies on that). */
struct cio_unix_stream {
    struct cio_socket sock;
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
    struct cio_socket sock;
};
_Static_assert(offsetof(struct cio_unix_stream, sock) == 0, "a handle is its socket (CIO__SOCK)");
_Static_assert(offsetof(struct cio_unix_listener, base.sock) == 0,
               "a handle is its socket (CIO__SOCK)");
_Static_assert(offsetof(struct cio_unix_datagram, sock) == 0, "a handle is its socket (CIO__SOCK)");

#define SOCK(handle) ((handle) != NULL ? &(handle)->sock : NULL)
#define LISTENER_SOCK(listener) ((listener) != NULL ? &(listener)->base.sock : NULL)

static const struct cio__socket_want want_listener = {
    .domains = {AF_UNIX, AF_UNIX}, .type = SOCK_STREAM, .listening = 1};
static const struct cio__socket_want want_stream = {
    .domains = {AF_UNIX, AF_UNIX}, .type = SOCK_STREAM, .listening = -1};
static const struct cio__socket_want want_datagram = {
    .domains = {AF_UNIX, AF_UNIX}, .type = SOCK_DGRAM, .listening = 0};

/* Two connected handles of @size bytes (a stream or a datagram pair) over socketpair(). */
static int pair_new(size_t size, int type, void **ret_a, void **ret_b)
{
    struct cio_socket *a = cio__handle_new(size);
    struct cio_socket *b = cio__handle_new(size);
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

static void remove_file(struct cio__listener *base);

/* Note which file the listener's path names now, so that close removes only that file. */
static void note_file(cio_unix_listener *listener)
{
    listener->base.on_close = remove_file;
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

/* The listener's close hook (struct cio__listener.on_close). */
static void remove_file(struct cio__listener *base)
{
    cio_unix_listener *listener = (cio_unix_listener *)(void *)base;
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

int cio_unix_listener_new(cio_unix_listener **ret_listener, const cio_addr *addr, int backlog)
{
    if (ret_listener == NULL || addr == NULL)
        return -EINVAL;
    int rc = cio__addr_check_unix(addr, true);
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
    cio__listener_close(listener);
    return rc;
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

/* ======================================================================================== */
/* Stream                                                                                   */
/* ======================================================================================== */

int cio_unix_stream_try_connect(cio_unix_stream **ret_stream, const cio_addr *addr)
{
    if (ret_stream == NULL || addr == NULL)
        return -EINVAL;
    int rc = cio__addr_check_unix(addr, false);
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

int cio_unix_datagram_new(cio_unix_datagram **ret_socket, const cio_addr *addr)
{
    if (ret_socket == NULL)
        return -EINVAL;
    int rc = addr != NULL ? cio__addr_check_unix(addr, true) : 0;
    if (rc < 0)
        return rc;
    cio_unix_datagram *socket =
        NULL; /* written by datagram_open on success (GCC -O2 cannot tell) */
    if ((rc = datagram_open(&socket)) < 0)
        return rc;
    if (addr != NULL && (rc = cio__socket_bind(&socket->sock, addr)) < 0) {
        cio__handle_close(socket);
        return rc;
    }
    *ret_socket = socket;
    return 0;
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

int cio_unix_peer_cred(cio_socket *handle, cio_unix_cred *ret_cred)
{
    const struct cio_socket *sock = CIO__SOCK(handle);
    if (sock == NULL || ret_cred == NULL)
        return -EINVAL;
    if (sock->fd < 0)
        return -EBADF;
    if (sock->domain != AF_UNIX)
        return -EAFNOSUPPORT;
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(sock->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return -errno;
    /* Linux answers with pid 0 and the overflow ids when it recorded no credentials: a stream
     * that is not connected, or a datagram socket with no peer. */
    if (cred.pid == 0)
        return sock->type == SOCK_STREAM ? -ENOTCONN : -ENODATA;
    ret_cred->pid = cred.pid;
    ret_cred->uid = cred.uid;
    ret_cred->gid = cred.gid;
    return 0;
}
