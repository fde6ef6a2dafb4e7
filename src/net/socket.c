/*
 * socket.c: the socket core every cio socket kind is built on — creation with
 * SOCK_NONBLOCK | SOCK_CLOEXEC, adopting foreign descriptors, the handle and listener
 * lifecycles every kind shares, try_* I/O that never raises SIGPIPE, addresses, pending
 * errors, shutdown, bind/connect/listen, accept with the spare-descriptor defence against
 * EMFILE, option helpers (the IP-level ones chosen by family), SIGPIPE suppression for the
 * calls that have no MSG_NOSIGNAL, and the splice pipe. Protocol files (tcp.c, udp.c, unix.c)
 * only add what is specific to them.
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

#define ACCEPT_RETRY_MAX 1024 /* connections that died in the backlog, skipped per call */
#define SHED_MAX 4096         /* connections shed per EMFILE, bounding the call */

static int check_sock(const struct cio__socket *sock)
{
    if (sock == NULL)
        return -EINVAL;
    if (sock->fd < 0)
        return -EBADF;
    return 0;
}

/* ---- lifecycle ---- */

void cio__socket_init(struct cio__socket *sock, int fd, int domain, int type)
{
    sock->fd = fd;
    sock->domain = domain;
    sock->type = type;
    sock->io = NULL;
    sock->detach = NULL;
}

int cio__socket_open(struct cio__socket *sock, int domain, int type, int protocol)
{
    int fd = socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
    if (fd < 0)
        return -errno;
    cio__socket_init(sock, fd, domain, type);
    return 0;
}

static int getsockopt_int(int fd, int level, int name, int *ret_value)
{
    int value = 0;
    socklen_t len = sizeof(value);
    if (getsockopt(fd, level, name, &value, &len) < 0)
        return -errno;
    *ret_value = value;
    return 0;
}

int cio__socket_adopt(struct cio__socket *sock, int fd, const struct cio__socket_want *want)
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
    int rc = getsockopt_int(fd, SOL_SOCKET, SO_DOMAIN, &domain);
    if (rc < 0)
        return rc; /* -ENOTSOCK for a file or pipe */
    if (want->domains[0] != 0 && domain != want->domains[0] && domain != want->domains[1])
        return -EAFNOSUPPORT;
    if ((rc = getsockopt_int(fd, SOL_SOCKET, SO_TYPE, &type)) < 0)
        return rc;
    if (want->type != 0 && type != want->type)
        return -EPROTOTYPE;
    if (want->protocol != 0) {
        if ((rc = getsockopt_int(fd, SOL_SOCKET, SO_PROTOCOL, &protocol)) < 0)
            return rc;
        if (protocol != want->protocol)
            return -EPROTOTYPE; /* e.g. an SCTP socket offered as TCP */
    }
    if (want->listening != 0) {
        if ((rc = getsockopt_int(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening)) < 0)
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

static void detach_io(struct cio__socket *sock)
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

int cio__socket_close(struct cio__socket *sock)
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

int cio__socket_release(struct cio__socket *sock)
{
    int rc = check_sock(sock);
    if (rc < 0)
        return rc;
    detach_io(sock);
    int fd = sock->fd;
    sock->fd = -1;
    return fd;
}

int cio__socket_fd(const struct cio__socket *sock)
{
    int rc = check_sock(sock);
    return rc < 0 ? rc : sock->fd;
}

int cio__socket_check(const struct cio__socket *sock)
{
    return check_sock(sock);
}

/* ---- handles ---- */

void *cio__handle_new(size_t size)
{
    cio__assert(size >= sizeof(struct cio__socket));
    struct cio__socket *sock = calloc(1, size);
    if (sock != NULL)
        cio__socket_init(sock, -1, 0, 0);
    return sock;
}

int cio__handle_open(void **ret_handle, size_t size, int domain, int type, int protocol)
{
    struct cio__socket *sock = cio__handle_new(size);
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
    struct cio__socket *sock = cio__handle_new(size);
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
    if (listener != NULL)
        listener->reserve = -1;
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

int cio__listener_accept(struct cio__listener *listener, void **ret_stream, size_t stream_size,
                         cio_addr *ret_peer)
{
    cio_addr peer;
    int fd =
        cio__socket_accept(&listener->sock, &listener->reserve, ret_peer != NULL ? &peer : NULL);
    if (fd < 0)
        return fd;
    struct cio__socket *stream = cio__handle_new(stream_size);
    if (stream == NULL) {
        close(fd); /* the client sees the connection closed */
        return -ENOMEM;
    }
    cio__socket_init(stream, fd, listener->sock.domain, SOCK_STREAM);
    *ret_stream = stream;
    if (ret_peer != NULL)
        *ret_peer = peer;
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
    cio__reserve_close(&((struct cio__listener *)handle)->reserve);
    cio__handle_close(handle);
}

/* ---- I/O ---- */

/* The checks of the one-buffer calls. Return: 1 to go on; 0 when there is nothing to do (an
 * empty transfer on a stream); a negative errno. */
static int check_buffer(const struct cio__socket *sock, const void *buf, size_t len)
{
    int rc = check_sock(sock);
    if (rc < 0)
        return rc;
    if (len == 0 && sock->type == SOCK_STREAM)
        return 0;
    return buf == NULL && len > 0 ? -EINVAL : 1;
}

ssize_t cio__socket_recv(struct cio__socket *sock, void *buf, size_t len, int flags)
{
    int rc = check_buffer(sock, buf, len);
    if (rc <= 0)
        return rc;
    ssize_t n = CIO__RETRY_EINTR(recv(sock->fd, buf, len, flags));
    return n < 0 ? -errno : n;
}

ssize_t cio__socket_send(struct cio__socket *sock, const void *buf, size_t len, int flags)
{
    int rc = check_buffer(sock, buf, len);
    if (rc <= 0)
        return rc;
    ssize_t n = CIO__RETRY_EINTR(send(sock->fd, buf, len, flags | MSG_NOSIGNAL));
    return n < 0 ? -errno : n;
}

int cio__iov_check(const struct iovec *iov, int iovcnt, size_t *ret_total)
{
    if (iovcnt < 0 || iovcnt > IOV_MAX || (iov == NULL && iovcnt > 0))
        return -EINVAL;
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_base == NULL && iov[i].iov_len > 0)
            return -EINVAL;
        if (iov[i].iov_len > (size_t)SSIZE_MAX - total)
            return -EINVAL;
        total += iov[i].iov_len;
    }
    *ret_total = total;
    return 0;
}

/* The checks of the vectored calls. Return: 1 to go on; 0 when there is nothing to do (an
 * empty transfer on a stream); a negative errno. */
static int check_vector(const struct cio__socket *sock, const struct iovec *iov, int iovcnt)
{
    int rc = check_sock(sock);
    if (rc < 0)
        return rc;
    size_t total;
    if ((rc = cio__iov_check(iov, iovcnt, &total)) < 0)
        return rc;
    return total == 0 && sock->type == SOCK_STREAM ? 0 : 1;
}

ssize_t cio__socket_recvv(struct cio__socket *sock, const struct iovec *iov, int iovcnt, int flags)
{
    int rc = check_vector(sock, iov, iovcnt);
    if (rc <= 0)
        return rc;
    struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
    ssize_t n = CIO__RETRY_EINTR(recvmsg(sock->fd, &msg, flags));
    return n < 0 ? -errno : n;
}

ssize_t cio__socket_sendv(struct cio__socket *sock, const struct iovec *iov, int iovcnt, int flags)
{
    int rc = check_vector(sock, iov, iovcnt);
    if (rc <= 0)
        return rc;
    /* sendmsg rather than writev: writev has no MSG_NOSIGNAL. */
    struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
    ssize_t n = CIO__RETRY_EINTR(sendmsg(sock->fd, &msg, flags | MSG_NOSIGNAL));
    return n < 0 ? -errno : n;
}

int cio__socket_pair(struct cio__socket pair[2], int domain, int type, int protocol)
{
    if (pair == NULL)
        return -EINVAL;
    int fds[2];
    if (socketpair(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol, fds) < 0)
        return -errno;
    cio__socket_init(&pair[0], fds[0], domain, type);
    cio__socket_init(&pair[1], fds[1], domain, type);
    return 0;
}

/* ---- state ---- */

/* The socket's own address, or with @peer its peer's. */
static int sock_address(const struct cio__socket *sock, bool peer, cio_addr *ret_addr)
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

int cio__socket_local_addr(const struct cio__socket *sock, cio_addr *ret_addr)
{
    return sock_address(sock, false, ret_addr);
}

int cio__socket_peer_addr(const struct cio__socket *sock, cio_addr *ret_addr)
{
    return sock_address(sock, true, ret_addr);
}

int cio__socket_take_error(struct cio__socket *sock)
{
    int rc = check_sock(sock);
    if (rc < 0)
        return rc;
    int err = 0;
    if ((rc = getsockopt_int(sock->fd, SOL_SOCKET, SO_ERROR, &err)) < 0)
        return rc;
    return -err;
}

int cio__socket_shutdown(struct cio__socket *sock, cio_shutdown how)
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
    return shutdown(sock->fd, sys_how) < 0 ? -errno : 0;
}

/* ---- connection setup ---- */

int cio__socket_bind(struct cio__socket *sock, const cio_addr *addr)
{
    int rc = check_sock(sock);
    if (rc < 0)
        return rc;
    if (addr == NULL || cio_addr_get_kind(addr) == CIO_ADDR_NONE)
        return -EINVAL;
    return bind(sock->fd, cio_addr_sockaddr(addr), cio_addr_len(addr)) < 0 ? -errno : 0;
}

int cio__socket_connect(struct cio__socket *sock, const cio_addr *addr)
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

int cio__socket_listen(struct cio__socket *sock, int backlog)
{
    int rc = check_sock(sock);
    if (rc < 0)
        return rc;
    if (backlog <= 0)
        backlog = CIO_LISTEN_BACKLOG_DEFAULT;
    return listen(sock->fd, backlog) < 0 ? -errno : 0;
}

void cio__reserve_open(int *reserve)
{
    if (reserve == NULL || __atomic_load_n(reserve, __ATOMIC_ACQUIRE) >= 0)
        return;
    /* Any descriptor will do; an O_PATH one on "/" costs nothing and cannot fail for lack of
     * a device or a permission. */
    int fd = open("/", O_PATH | O_CLOEXEC);
    if (fd < 0)
        return; /* try again after the next successful accept */
    int expected = -1;
    if (!__atomic_compare_exchange_n(reserve, &expected, fd, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
        close(fd); /* another thread re-armed it first */
}

void cio__reserve_close(int *reserve)
{
    if (reserve == NULL)
        return;
    int fd = __atomic_exchange_n(reserve, -1, __ATOMIC_ACQ_REL);
    if (fd >= 0)
        close(fd);
}

/* Errors accept4() reports for a connection that died in the backlog (the listener is fine):
 * ECONNABORTED, and on Linux the new socket's pending network error (see accept(2)). */
static bool accept_error_is_transient(int err)
{
    switch (err) {
    case ECONNABORTED:
    case EPROTO:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case ENETUNREACH:
        return true;
    default:
        return false;
    }
}

/*
 * Out of descriptors. accept4() allocates the descriptor before looking at the backlog, so
 * this is reported whether or not a connection is pending. Pending connections must not be
 * left in the backlog: they would wedge an edge-triggered loop (no new edge comes for them)
 * and spin a level-triggered one. Give up the reserve to make room, accept and close every
 * pending connection (their clients see the connection closed), take the reserve back.
 * Return -err when connections were shed, so the caller can back off, and -EAGAIN when the
 * backlog turned out empty: then nothing is lost and "would block" is the truth.
 */
static int shed_connections(int listen_fd, int *reserve, int err)
{
    int spare = reserve != NULL ? __atomic_exchange_n(reserve, -1, __ATOMIC_ACQ_REL) : -1;
    if (spare < 0)
        return -err; /* nothing to make room with (another thread is shedding, or no reserve) */
    close(spare);
    int shed = 0, last_err = 0;
    for (int i = 0; i < SHED_MAX; i++) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            close(fd);
            shed++;
            continue;
        }
        last_err = errno;
        if (last_err == EINTR || accept_error_is_transient(last_err))
            continue;
        break; /* EAGAIN: backlog empty; EMFILE: another thread took the slot */
    }
    cio__reserve_open(reserve);
    return shed == 0 && (last_err == EAGAIN || last_err == EWOULDBLOCK) ? -EAGAIN : -err;
}

int cio__socket_accept(struct cio__socket *sock, int *reserve, cio_addr *ret_peer)
{
    int rc = check_sock(sock);
    if (rc < 0)
        return rc;
    for (int attempt = 0;; attempt++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = accept4(sock->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            if (ret_peer != NULL) {
                cio_addr peer;
                if (cio_addr_from_sockaddr(&peer, (struct sockaddr *)&ss,
                                           cio__min(len, sizeof(ss))) < 0)
                    memset(&peer, 0, sizeof(peer));
                *ret_peer = peer;
            }
            /* Re-arm a reserve spent in an earlier shortage (or never obtained). */
            if (reserve != NULL && __atomic_load_n(reserve, __ATOMIC_RELAXED) < 0)
                cio__reserve_open(reserve);
            return fd;
        }
        int err = errno;
        if (err == EINTR || (accept_error_is_transient(err) && attempt < ACCEPT_RETRY_MAX))
            continue;
        if (err == EMFILE || err == ENFILE)
            return shed_connections(sock->fd, reserve, err);
        return -err;
    }
}

/* ---- options ---- */

/* setsockopt() on a checked socket. */
static int set_opt(struct cio__socket *sock, int level, int name, const void *value, socklen_t len)
{
    int rc = check_sock(sock);
    if (rc < 0)
        return rc;
    return setsockopt(sock->fd, level, name, value, len) < 0 ? -errno : 0;
}

/* getsockopt() into @value (*len bytes, updated) on a checked socket, for a caller whose
 * output parameter @ret must not be NULL. */
static int get_opt(const struct cio__socket *sock, int level, int name, void *value, socklen_t *len,
                   const void *ret)
{
    int rc = check_sock(sock);
    if (rc < 0)
        return rc;
    if (ret == NULL)
        return -EINVAL;
    return getsockopt(sock->fd, level, name, value, len) < 0 ? -errno : 0;
}

int cio__sockopt_set_int(struct cio__socket *sock, int level, int name, int value)
{
    return set_opt(sock, level, name, &value, sizeof(value));
}

int cio__sockopt_get_int(const struct cio__socket *sock, int level, int name, int *ret_value)
{
    int rc = check_sock(sock);
    if (rc < 0)
        return rc;
    if (ret_value == NULL)
        return -EINVAL;
    return getsockopt_int(sock->fd, level, name, ret_value);
}

int cio__sockopt_set_bool(struct cio__socket *sock, int level, int name, bool on)
{
    return cio__sockopt_set_int(sock, level, name, on ? 1 : 0);
}

int cio__sockopt_get_bool(const struct cio__socket *sock, int level, int name, bool *ret_on)
{
    if (ret_on == NULL)
        return -EINVAL;
    int value = 0;
    int rc = cio__sockopt_get_int(sock, level, name, &value);
    if (rc < 0)
        return rc;
    *ret_on = value != 0;
    return 0;
}

int cio__sockopt_set_timeval(struct cio__socket *sock, int level, int name, cio_duration ns)
{
    int rc = check_sock(sock);
    if (rc < 0)
        return rc;
    if (ns < 0)
        return -EINVAL;
    struct timeval tv;
    tv.tv_sec = (time_t)(ns / CIO_NSEC_PER_SEC);
    tv.tv_usec = (suseconds_t)((ns % CIO_NSEC_PER_SEC + CIO_NSEC_PER_USEC - 1) / CIO_NSEC_PER_USEC);
    if (tv.tv_usec >= 1000000) {
        tv.tv_sec += 1;
        tv.tv_usec -= 1000000;
    }
    return set_opt(sock, level, name, &tv, sizeof(tv));
}

int cio__sockopt_get_timeval(const struct cio__socket *sock, int level, int name,
                             cio_duration *ret_ns)
{
    struct timeval tv;
    socklen_t len = sizeof(tv);
    int rc = get_opt(sock, level, name, &tv, &len, ret_ns);
    if (rc < 0)
        return rc;
    *ret_ns = (cio_duration)tv.tv_sec * CIO_NSEC_PER_SEC + (cio_duration)tv.tv_usec * 1000;
    return 0;
}

int cio__sockopt_set_linger(struct cio__socket *sock, int seconds)
{
    struct linger lg = {.l_onoff = seconds >= 0, .l_linger = seconds >= 0 ? seconds : 0};
    return set_opt(sock, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

int cio__sockopt_get_linger(const struct cio__socket *sock, int *ret_seconds)
{
    struct linger lg;
    socklen_t len = sizeof(lg);
    int rc = get_opt(sock, SOL_SOCKET, SO_LINGER, &lg, &len, ret_seconds);
    if (rc < 0)
        return rc;
    *ret_seconds = lg.l_onoff ? lg.l_linger : CIO_LINGER_OFF;
    return 0;
}

int cio__sockopt_set_bufsize(struct cio__socket *sock, int name, int bytes)
{
    if (bytes < 0)
        return -EINVAL;
    return cio__sockopt_set_int(sock, SOL_SOCKET, name, bytes);
}

int cio__sockopt_get_string(const struct cio__socket *sock, int level, int name, size_t max,
                            char *buf, size_t size)
{
    char value[64] = "";
    cio__assert(max < sizeof(value));
    socklen_t len = (socklen_t)max;
    int rc = get_opt(sock, level, name, value, &len, buf);
    if (rc < 0)
        return rc;
    size_t n = strnlen(value, len);
    if (n + 1 > size)
        return -ENOSPC;
    memcpy(buf, value, n);
    buf[n] = '\0';
    return 0;
}

int cio__sockopt_set_bind_device(struct cio__socket *sock, const char *ifname)
{
    int rc = check_sock(sock);
    if (rc < 0)
        return rc;
    size_t len = ifname != NULL ? strnlen(ifname, IF_NAMESIZE) : 0;
    if (len >= IF_NAMESIZE)
        return -EINVAL;
    /* A zero length removes the binding. */
    return set_opt(sock, SOL_SOCKET, SO_BINDTODEVICE, len > 0 ? ifname : "", (socklen_t)len);
}

int cio__sockopt_get_bind_device(const struct cio__socket *sock, char *buf, size_t size)
{
    return cio__sockopt_get_string(sock, SOL_SOCKET, SO_BINDTODEVICE, IF_NAMESIZE, buf, size);
}

/* ---- IP-level options ---- */

int cio__addr_ip_family(const cio_addr *addr)
{
    switch (cio_addr_get_kind(addr)) {
    case CIO_ADDR_IPV4:
        return AF_INET;
    case CIO_ADDR_IPV6:
        return AF_INET6;
    default:
        return 0;
    }
}

int cio__addr_check_ip(const cio_addr *addr)
{
    if (addr == NULL)
        return -EINVAL;
    return cio__addr_ip_family(addr) != 0 ? 0 : -EAFNOSUPPORT;
}

int cio__socket_check_v6(const struct cio__socket *sock)
{
    int rc = check_sock(sock);
    if (rc < 0)
        return rc;
    return sock->domain == AF_INET6 ? 0 : -EINVAL;
}

int cio__sockopt_set_ip(struct cio__socket *sock, int v4_name, int v6_name, int value)
{
    int rc = check_sock(sock);
    if (rc < 0)
        return rc;
    if (sock->domain == AF_INET6)
        return cio__sockopt_set_int(sock, IPPROTO_IPV6, v6_name, value);
    return cio__sockopt_set_int(sock, IPPROTO_IP, v4_name, value);
}

int cio__sockopt_get_ip(const struct cio__socket *sock, int v4_name, int v6_name, int *ret_value)
{
    int rc = check_sock(sock);
    if (rc < 0)
        return rc;
    if (sock->domain == AF_INET6)
        return cio__sockopt_get_int(sock, IPPROTO_IPV6, v6_name, ret_value);
    return cio__sockopt_get_int(sock, IPPROTO_IP, v4_name, ret_value);
}

/* An IP-level option holding one byte's value, @min to 255 (checked after the socket). */
static int set_ip_byte(struct cio__socket *sock, int v4_name, int v6_name, int value, int min)
{
    int rc = check_sock(sock);
    if (rc < 0)
        return rc;
    if (value < min || value > 255)
        return -EINVAL;
    return cio__sockopt_set_ip(sock, v4_name, v6_name, value);
}

int cio__sockopt_set_ttl(struct cio__socket *sock, int ttl)
{
    return set_ip_byte(sock, IP_TTL, IPV6_UNICAST_HOPS, ttl, 1);
}

int cio__sockopt_get_ttl(const struct cio__socket *sock, int *ret_ttl)
{
    return cio__sockopt_get_ip(sock, IP_TTL, IPV6_UNICAST_HOPS, ret_ttl);
}

int cio__sockopt_set_tos(struct cio__socket *sock, int tos)
{
    return set_ip_byte(sock, IP_TOS, IPV6_TCLASS, tos, 0);
}

int cio__sockopt_get_tos(const struct cio__socket *sock, int *ret_tos)
{
    return cio__sockopt_get_ip(sock, IP_TOS, IPV6_TCLASS, ret_tos);
}

int cio__sockopt_set_v6_bool(struct cio__socket *sock, int name, bool on)
{
    int rc = cio__socket_check_v6(sock);
    if (rc < 0)
        return rc;
    return cio__sockopt_set_bool(sock, IPPROTO_IPV6, name, on);
}

int cio__sockopt_get_v6_bool(const struct cio__socket *sock, int name, bool *ret_on)
{
    int rc = cio__socket_check_v6(sock);
    if (rc < 0)
        return rc;
    return cio__sockopt_get_bool(sock, IPPROTO_IPV6, name, ret_on);
}

/* ---- SIGPIPE suppression ---- */

static void sigpipe_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGPIPE);
}

void cio__sigpipe_begin(struct cio__sigpipe_guard *guard)
{
    int saved = errno;
    sigset_t pipe_set, old;
    sigpipe_set(&pipe_set);
    guard->restore = false;
    guard->pending = false;
    if (pthread_sigmask(SIG_BLOCK, &pipe_set, &old) != 0) {
        errno = saved;
        return;
    }
    guard->restore = !sigismember(&old, SIGPIPE);
    if (!guard->restore) {
        /* The caller blocks SIGPIPE itself and one may be pending already: that one is the
         * caller's, so end() must leave it alone. (With SIGPIPE unblocked none can be
         * pending for this thread: it would have been delivered.) */
        sigset_t pending;
        if (sigpending(&pending) == 0)
            guard->pending = sigismember(&pending, SIGPIPE);
    }
    errno = saved;
}

void cio__sigpipe_end(struct cio__sigpipe_guard *guard, bool epipe)
{
    int saved = errno;
    sigset_t pipe_set;
    sigpipe_set(&pipe_set);
    if (epipe && !guard->pending) {
        /* The kernel sent SIGPIPE to this thread along with EPIPE; it is pending because we
         * block it. Take it before unblocking. */
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    if (guard->restore)
        pthread_sigmask(SIG_UNBLOCK, &pipe_set, NULL);
    errno = saved;
}

/* ---- splice ---- */

struct cio_splice_pipe {
    int read_fd;
    int write_fd;
    size_t pending;
    size_t capacity;
};

int cio_splice_pipe_new(cio_splice_pipe **ret_pipe, size_t capacity)
{
    if (ret_pipe == NULL || capacity > INT_MAX)
        return -EINVAL;
    cio_splice_pipe *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return -ENOMEM;
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) {
        int err = errno;
        free(p);
        return -err;
    }
    p->read_fd = fds[0];
    p->write_fd = fds[1];
    int err = 0;
    if (capacity > 0 && fcntl(p->write_fd, F_SETPIPE_SZ, (int)capacity) < 0)
        err = errno;
    int size = err == 0 ? fcntl(p->write_fd, F_GETPIPE_SZ) : -1;
    if (err == 0 && size < 0)
        err = errno;
    if (err != 0) {
        close(fds[0]);
        close(fds[1]);
        free(p);
        return -err;
    }
    p->capacity = (size_t)size;
    *ret_pipe = p;
    return 0;
}

void cio_splice_pipe_free(cio_splice_pipe *pipe)
{
    if (pipe == NULL)
        return;
    close(pipe->read_fd);
    close(pipe->write_fd);
    free(pipe);
}

size_t cio_splice_pipe_pending(const cio_splice_pipe *pipe)
{
    return pipe != NULL ? pipe->pending : 0;
}

size_t cio_splice_pipe_capacity(const cio_splice_pipe *pipe)
{
    return pipe != NULL ? pipe->capacity : 0;
}

/* splice() with an int64_t offset (loff_t is a different type on some ABIs). */
static ssize_t splice_off(int in_fd, int64_t *in_off, int out_fd, int64_t *out_off, size_t len)
{
    loff_t in_pos = in_off != NULL ? (loff_t)*in_off : 0;
    loff_t out_pos = out_off != NULL ? (loff_t)*out_off : 0;
    ssize_t n;
    do
        n = splice(in_fd, in_off != NULL ? &in_pos : NULL, out_fd,
                   out_off != NULL ? &out_pos : NULL, len, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if (in_off != NULL)
        *in_off = (int64_t)in_pos;
    if (out_off != NULL)
        *out_off = (int64_t)out_pos;
    return n;
}

ssize_t cio_splice_try(cio_splice_pipe *pipe, int in_fd, int64_t *in_offset, int out_fd,
                       int64_t *out_offset, size_t max)
{
    if (pipe == NULL || in_fd < 0 || out_fd < 0)
        return pipe == NULL ? -EINVAL : -EBADF;
    if ((in_offset != NULL && *in_offset < 0) || (out_offset != NULL && *out_offset < 0))
        return -EINVAL;
    if (max == 0)
        return 0;
    if (pipe->pending == 0) {
        ssize_t n =
            splice_off(in_fd, in_offset, pipe->write_fd, NULL, cio__min(max, pipe->capacity));
        if (n <= 0)
            return n; /* 0: end of input; -EAGAIN: nothing to read yet */
        pipe->pending = (size_t)n;
    }
    struct cio__sigpipe_guard guard;
    cio__sigpipe_begin(&guard);
    ssize_t n = splice_off(pipe->read_fd, NULL, out_fd, out_offset, pipe->pending);
    cio__sigpipe_end(&guard, n == -EPIPE);
    if (n < 0)
        return n;
    cio__assert((size_t)n <= pipe->pending);
    pipe->pending -= (size_t)n;
    return n;
}
