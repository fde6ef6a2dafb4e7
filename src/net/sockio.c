/*
 * sockio.c: the socket I/O calls every kind shares — recv/send and their vectored forms,
 * with MSG_NOSIGNAL on every send and EINTR retried, iovec validation, and socket pairs.
 * Zero-length calls on a stream return 0 without a system call (see socket.h).
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

/* ---- I/O ---- */

/* The checks of the one-buffer calls. Return: 1 to go on; 0 when there is nothing to do (an
 * empty transfer on a stream); a negative errno. */
static int check_buffer(const struct cio_socket *sock, const void *buf, size_t len)
{
    int rc = cio__socket_check(sock);
    if (rc < 0)
        return rc;
    if (len == 0 && sock->type == SOCK_STREAM)
        return 0;
    return buf == NULL && len > 0 ? -EINVAL : 1;
}

ssize_t cio__socket_recv(struct cio_socket *sock, void *buf, size_t len, int flags)
{
    int rc = check_buffer(sock, buf, len);
    if (rc <= 0)
        return rc;
    ssize_t n = CIO__RETRY_EINTR(recv(sock->fd, buf, len, flags));
    return n < 0 ? -errno : n;
}

ssize_t cio__socket_send(struct cio_socket *sock, const void *buf, size_t len, int flags)
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
static int check_vector(const struct cio_socket *sock, const struct iovec *iov, int iovcnt)
{
    int rc = cio__socket_check(sock);
    if (rc < 0)
        return rc;
    size_t total;
    if ((rc = cio__iov_check(iov, iovcnt, &total)) < 0)
        return rc;
    return total == 0 && sock->type == SOCK_STREAM ? 0 : 1;
}

ssize_t cio__socket_recvv(struct cio_socket *sock, const struct iovec *iov, int iovcnt, int flags)
{
    int rc = check_vector(sock, iov, iovcnt);
    if (rc <= 0)
        return rc;
    struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
    ssize_t n = CIO__RETRY_EINTR(recvmsg(sock->fd, &msg, flags));
    return n < 0 ? -errno : n;
}

ssize_t cio__socket_sendv(struct cio_socket *sock, const struct iovec *iov, int iovcnt, int flags)
{
    int rc = check_vector(sock, iov, iovcnt);
    if (rc <= 0)
        return rc;
    /* sendmsg rather than writev: writev has no MSG_NOSIGNAL. */
    struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
    ssize_t n = CIO__RETRY_EINTR(sendmsg(sock->fd, &msg, flags | MSG_NOSIGNAL));
    return n < 0 ? -errno : n;
}

int cio__socket_pair(struct cio_socket pair[2], int domain, int type, int protocol)
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
