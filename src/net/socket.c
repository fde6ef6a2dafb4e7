/*
 * socket.c: a socket's lifecycle, shared by every kind — creation with SOCK_NONBLOCK |
 * SOCK_CLOEXEC, adopting foreign descriptors, close and release (detaching the runtime's
 * registration first), the handle and listener allocation every kind uses, addresses,
 * pending errors, shutdown, and bind/connect/listen. I/O is in sockio.c, accepting in
 * accept.c, options in sockopt.c, SIGPIPE suppression and splice in splice.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "net/socket.h"
#include "util/assert.h"
#include "util/compiler.h"

static int check_sock(const struct cio_socket *sock)
{
    if (sock == NULL)
        return -EINVAL;
    if (sock->fd < 0)
        return -EBADF;
    return 0;
}

/* ---- lifecycle ---- */

void cio__socket_init(struct cio_socket *sock, int fd, int domain, int type)
{
    sock->fd = fd;
    sock->domain = domain;
    sock->type = type;
    sock->io = NULL;
    sock->detach = NULL;
}

int cio__socket_open(struct cio_socket *sock, int domain, int type, int protocol)
{
    int fd = socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
    if (fd < 0)
        return -errno;
    cio__socket_init(sock, fd, domain, type);
    return 0;
}

int cio__socket_adopt(struct cio_socket *sock, int fd, const struct cio__socket_want *want)
{
    if (sock == NULL || want == NULL)
        return -EINVAL;
    if (fd < 0)
        return -EBADF;
    int fl = fcntl(fd, F_GETFL);
    int fdfl = fcntl(fd, F_GETFD);
    if (fl < 0 || fdfl < 0)
        return -errno;
    int domain = 0, type = 0, protocol = 0, listening = 0;
    int rc = cio__getsockopt_int(fd, SOL_SOCKET, SO_DOMAIN, &domain);
    if (rc < 0)
        return rc; /* -ENOTSOCK for a file or pipe */
    if (want->domains[0] != 0 && domain != want->domains[0] && domain != want->domains[1])
        return -EAFNOSUPPORT;
    if ((rc = cio__getsockopt_int(fd, SOL_SOCKET, SO_TYPE, &type)) < 0)
        return rc;
    if (want->type != 0 && type != want->type)
        return -EPROTOTYPE;
    if (want->protocol != 0) {
        if ((rc = cio__getsockopt_int(fd, SOL_SOCKET, SO_PROTOCOL, &protocol)) < 0)
            return rc;
        if (protocol != want->protocol)
            return -EPROTOTYPE; /* e.g. an SCTP socket offered as TCP */
    }
    if (want->listening != 0) {
        if ((rc = cio__getsockopt_int(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening)) < 0)
            return rc;
        if ((want->listening > 0) != (listening != 0))
            return -EINVAL;
    }
    /* Not atomic (the descriptor exists already): a fork+exec racing with this call can
     * inherit it. Only descriptors cio creates itself are close-on-exec from birth. */
    if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    if (!(fdfl & FD_CLOEXEC) && fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) < 0)
        return -errno;
    cio__socket_init(sock, fd, domain, type);
    return 0;
}

static void detach_io(struct cio_socket *sock)
{
    /* The runtime publishes io/detach atomically from whichever worker registered the
     * socket first, so read them the same way. */
    void *io = __atomic_load_n(&sock->io, __ATOMIC_ACQUIRE);
    cio__socket_detach_fn detach = __atomic_load_n(&sock->detach, __ATOMIC_ACQUIRE);
    if (io != NULL && detach != NULL)
        detach(sock);
    __atomic_store_n(&sock->io, NULL, __ATOMIC_RELEASE);
    __atomic_store_n(&sock->detach, NULL, __ATOMIC_RELEASE);
}

int cio__socket_close(struct cio_socket *sock)
{
    if (sock == NULL || sock->fd < 0)
        return 0;
    detach_io(sock);
    int fd = sock->fd;
    sock->fd = -1;
    /* Linux releases the descriptor even when close() reports EINTR: never retry. */
    if (close(fd) < 0 && errno != EINTR)
        return -errno;
    return 0;
}

int cio__socket_release(struct cio_socket *sock)
{
    int rc = check_sock(sock);
    if (rc < 0)
        return rc;
    detach_io(sock);
    int fd = sock->fd;
    sock->fd = -1;
    return fd;
}

int cio__socket_fd(const struct cio_socket *sock)
{
    int rc = check_sock(sock);
    return rc < 0 ? rc : sock->fd;
}

int cio__socket_check(const struct cio_socket *sock)
{
    return check_sock(sock);
}

/* ---- handles ---- */

void *cio__handle_new(size_t size)
{
    cio__assert(size >= sizeof(struct cio_socket));
    struct cio_socket *sock = calloc(1, size);
    if (sock != NULL)
        cio__socket_init(sock, -1, 0, 0);
    return sock;
}

int cio__handle_open(void **ret_handle, size_t size, int domain, int type, int protocol)
{
    struct cio_socket *sock = cio__handle_new(size);
    if (sock == NULL)
        return -ENOMEM;
    int rc = cio__socket_open(sock, domain, type, protocol);
    if (rc < 0) {
        free(sock);
        return rc;
    }
    *ret_handle = sock;
    return 0;
}

int cio__handle_adopt(void **ret_handle, size_t size, int fd, const struct cio__socket_want *want)
{
    struct cio_socket *sock = cio__handle_new(size);
    if (sock == NULL)
        return -ENOMEM;
    int rc = cio__socket_adopt(sock, fd, want);
    if (rc < 0) {
        free(sock);
        return rc;
    }
    *ret_handle = sock;
    return 0;
}

int cio__handle_connect(void **ret_handle, size_t size, int domain, int type, int protocol,
                        const cio_addr *addr)
{
    /* Open (allocating) first: once connect() has started there is nothing to undo it with. */
    void *handle;
    int rc = cio__handle_open(&handle, size, domain, type, protocol);
    if (rc < 0)
        return rc;
    rc = cio__socket_connect(handle, addr);
    if (rc < 0 && rc != -EINPROGRESS) {
        cio__handle_close(handle);
        return rc;
    }
    *ret_handle = handle;
    return 0;
}

int cio__handle_into_fd(void *handle)
{
    if (handle == NULL)
        return -EINVAL;
    int fd = cio__socket_release(handle);
    free(handle);
    return fd;
}

void cio__handle_close(void *handle)
{
    if (handle == NULL)
        return;
    cio__socket_close(handle);
    free(handle);
}

/* ---- listeners ---- */

void *cio__listener_new(size_t size)
{
    cio__assert(size >= sizeof(struct cio__listener));
    struct cio__listener *listener = cio__handle_new(size);
    if (listener != NULL) {
        listener->reserve = -1;
        listener->sock.kind = CIO__KIND_LISTENER;
    }
    return listener;
}

int cio__listener_adopt(void **ret_handle, size_t size, int fd, const struct cio__socket_want *want)
{
    struct cio__listener *listener = cio__listener_new(size);
    if (listener == NULL)
        return -ENOMEM;
    int rc = cio__socket_adopt(&listener->sock, fd, want);
    if (rc < 0) {
        free(listener);
        return rc;
    }
    cio__reserve_open(&listener->reserve);
    *ret_handle = listener;
    return 0;
}
int cio__listener_into_fd(void *handle)
{
    if (handle == NULL)
        return -EINVAL;
    cio__reserve_close(&((struct cio__listener *)handle)->reserve);
    return cio__handle_into_fd(handle);
}

void cio__listener_close(void *handle)
{
    if (handle == NULL)
        return;
    struct cio__listener *listener = handle;
    if (listener->on_close != NULL)
        listener->on_close(listener);
    cio__reserve_close(&listener->reserve);
    cio__handle_close(handle);
}
/* ---- state ---- */

/* The socket's own address, or with @peer its peer's. */
static int sock_address(const struct cio_socket *sock, bool peer, cio_addr *ret_addr)
{
    int rc = check_sock(sock);
    if (rc < 0)
        return rc;
    if (ret_addr == NULL)
        return -EINVAL;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    rc = peer ? getpeername(sock->fd, (struct sockaddr *)&ss, &len)
              : getsockname(sock->fd, (struct sockaddr *)&ss, &len);
    if (rc < 0)
        return -errno;
    return cio_addr_from_sockaddr(ret_addr, (struct sockaddr *)&ss, cio__min(len, sizeof(ss)));
}

int cio__socket_local_addr(const struct cio_socket *sock, cio_addr *ret_addr)
{
    return sock_address(sock, false, ret_addr);
}

int cio__socket_peer_addr(const struct cio_socket *sock, cio_addr *ret_addr)
{
    return sock_address(sock, true, ret_addr);
}

int cio__socket_take_error(struct cio_socket *sock)
{
    int rc = check_sock(sock);
    if (rc < 0)
        return rc;
    int err = 0;
    if ((rc = cio__getsockopt_int(sock->fd, SOL_SOCKET, SO_ERROR, &err)) < 0)
        return rc;
    return -err;
}

cio__socket_shutdown_fn cio__socket_shutdown_hook;

int cio__socket_shutdown(struct cio_socket *sock, cio_shutdown how)
{
    int rc = check_sock(sock);
    if (rc < 0)
        return rc;
    int sys_how;
    switch (how) {
    case CIO_SHUTDOWN_READ:
        sys_how = SHUT_RD;
        break;
    case CIO_SHUTDOWN_WRITE:
        sys_how = SHUT_WR;
        break;
    case CIO_SHUTDOWN_BOTH:
        sys_how = SHUT_RDWR;
        break;
    default:
        return -EINVAL;
    }
    cio__socket_shutdown_fn hook = __atomic_load_n(&cio__socket_shutdown_hook, __ATOMIC_ACQUIRE);
    if (hook != NULL && __atomic_load_n(&sock->io, __ATOMIC_ACQUIRE) != NULL &&
        hook(sock, sys_how, &rc))
        return rc;
    return shutdown(sock->fd, sys_how) < 0 ? -errno : 0;
}

/* ---- connection setup ---- */

int cio__socket_bind(struct cio_socket *sock, const cio_addr *addr)
{
    int rc = check_sock(sock);
    if (rc < 0)
        return rc;
    if (addr == NULL || cio_addr_get_kind(addr) == CIO_ADDR_NONE)
        return -EINVAL;
    return bind(sock->fd, cio_addr_sockaddr(addr), cio_addr_len(addr)) < 0 ? -errno : 0;
}

int cio__socket_connect(struct cio_socket *sock, const cio_addr *addr)
{
    int rc = check_sock(sock);
    if (rc < 0)
        return rc;
    if (addr == NULL || cio_addr_get_kind(addr) == CIO_ADDR_NONE)
        return -EINVAL;
    if (connect(sock->fd, cio_addr_sockaddr(addr), cio_addr_len(addr)) == 0)
        return 0;
    /* A signal during a non-blocking connect leaves the connection going on in the
     * background, exactly like EINPROGRESS; calling connect() again would say EALREADY. */
    return errno == EINTR ? -EINPROGRESS : -errno;
}

int cio__socket_listen(struct cio_socket *sock, int backlog)
{
    int rc = check_sock(sock);
    if (rc < 0)
        return rc;
    if (backlog < 0)
        backlog = CIO_LISTEN_BACKLOG_DEFAULT;
    return listen(sock->fd, backlog) < 0 ? -errno : 0;
}
