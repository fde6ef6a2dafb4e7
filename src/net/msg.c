/*
 * msg.c: sendmsg/recvmsg with addresses and control data for the datagram sockets and for
 * descriptor passing (see msg.h). The two rules that make this file worth having: a
 * datagram that did not fit the caller's buffer is reported (-EMSGSIZE), and descriptors
 * received in a message cio rejects — control data truncated, more descriptors than the
 * caller has room for, a truncated datagram — are closed before returning, so none leaks.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/msg.h"
#include "util/compiler.h"

/* Room for what a plain UDP receive can be handed besides the data: the GRO segment size,
 * packet info and traffic class when the program turned those on. */
#define DGRAM_CONTROL_SIZE 256

void cio__msg_set_name(struct msghdr *msg, const cio_addr *to)
{
    if (to == NULL || cio_addr_get_kind(to) == CIO_ADDR_NONE) {
        msg->msg_name = NULL;
        msg->msg_namelen = 0;
        return;
    }
    msg->msg_name = (void *)cio_addr_sockaddr(to);
    msg->msg_namelen = cio_addr_len(to);
}

int cio__msg_addr(cio_addr *ret_addr, int domain, const struct sockaddr_storage *ss, socklen_t len)
{
    if (domain == AF_UNIX && len <= sizeof(sa_family_t))
        return cio_addr_unnamed(ret_addr); /* Linux reports an unbound sender with length 0 */
    if (len == 0) {
        memset(ret_addr, 0, sizeof(*ret_addr));
        return 0;
    }
    return cio_addr_from_sockaddr(ret_addr, (const struct sockaddr *)ss,
                                  cio__min((size_t)len, sizeof(*ss)));
}

ssize_t cio__msg_sendmsg(struct cio_socket *sock, const struct msghdr *msg, int flags)
{
    ssize_t n = CIO__RETRY_EINTR(sendmsg(sock->fd, msg, flags | MSG_NOSIGNAL));
    return n < 0 ? -errno : n;
}

ssize_t cio__msg_recvmsg(struct cio_socket *sock, struct msghdr *msg, int flags)
{
    if (msg->msg_control != NULL)
        flags |= MSG_CMSG_CLOEXEC;
    if (sock->type != SOCK_STREAM)
        flags |= MSG_TRUNC;
    ssize_t n = CIO__RETRY_EINTR(recvmsg(sock->fd, msg, flags));
    return n < 0 ? -errno : n;
}

void cio__msg_close_rights(const struct msghdr *msg)
{
    if (msg->msg_control == NULL)
        return;
    for (struct cmsghdr *c = CMSG_FIRSTHDR((struct msghdr *)msg); c != NULL;
         c = CMSG_NXTHDR((struct msghdr *)msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
            close(fd);
        }
    }
}

/* The checks every entry point starts with. */
static int check_io(struct cio_socket *sock, const struct iovec *iov, int iovcnt, size_t *total)
{
    int rc = cio__socket_check(sock);
    return rc < 0 ? rc : cio__iov_check(iov, iovcnt, total);
}

/* Have recvmsg() leave the sender's address in @ss if the caller asks for it (@ret_from). */
static void ask_sender(struct msghdr *msg, struct sockaddr_storage *ss, const cio_addr *ret_from)
{
    if (ret_from != NULL) {
        msg->msg_name = ss;
        msg->msg_namelen = sizeof(*ss);
    }
}

/* The sender's address from a finished receive into *ret_from, if asked for. */
static int take_sender(cio_addr *ret_from, const struct cio_socket *sock,
                       const struct sockaddr_storage *ss, socklen_t len)
{
    if (ret_from == NULL)
        return 0;
    cio_addr from;
    int rc = cio__msg_addr(&from, sock->domain, ss, len);
    if (rc < 0)
        return rc;
    *ret_from = from;
    return 0;
}

ssize_t cio__dgram_send(struct cio_socket *sock, const struct iovec *iov, int iovcnt,
                        const cio_addr *to)
{
    size_t total;
    int rc = check_io(sock, iov, iovcnt, &total);
    if (rc < 0)
        return rc;
    struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
    cio__msg_set_name(&msg, to);
    return cio__msg_sendmsg(sock, &msg, 0);
}

/* Whether UDP GRO handed over several datagrams in one buffer of @len bytes. */
static bool gro_coalesced(struct msghdr *msg, size_t len)
{
#ifdef UDP_GRO
    for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO &&
            c->cmsg_len >= CMSG_LEN(sizeof(int))) {
            int segment;
            memcpy(&segment, CMSG_DATA(c), sizeof(segment));
            return segment > 0 && len > (size_t)segment;
        }
    }
#else
    (void)msg;
    (void)len;
#endif
    return false;
}

ssize_t cio__dgram_recv(struct cio_socket *sock, const struct iovec *iov, int iovcnt, int flags,
                        cio_addr *ret_from)
{
    size_t total;
    int rc = check_io(sock, iov, iovcnt, &total);
    if (rc < 0)
        return rc;
    struct sockaddr_storage ss;
    union {
        char buf[DGRAM_CONTROL_SIZE];
        struct cmsghdr align;
    } control;
    struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
    ask_sender(&msg, &ss, ret_from);
    /* UDP: a control buffer, to see whether GRO coalesced datagrams. Unix: none, so that
     * descriptors sent along are discarded by the kernel rather than installed here. */
    if (sock->domain != AF_UNIX) {
        msg.msg_control = control.buf;
        msg.msg_controllen = sizeof(control.buf);
    }
    ssize_t n = cio__msg_recvmsg(sock, &msg, flags);
    if (n < 0)
        return n;
    if ((size_t)n > total || (msg.msg_flags & MSG_TRUNC) || gro_coalesced(&msg, (size_t)n))
        return -EMSGSIZE;
    if ((rc = take_sender(ret_from, sock, &ss, msg.msg_namelen)) < 0)
        return rc;
    return n;
}

ssize_t cio__dgram_send_buf(struct cio_socket *sock, const void *buf, size_t len,
                            const cio_addr *to)
{
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    return cio__dgram_send(sock, &iov, 1, to);
}

ssize_t cio__dgram_recv_buf(struct cio_socket *sock, void *buf, size_t len, int flags,
                            cio_addr *ret_from)
{
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    return cio__dgram_recv(sock, &iov, 1, flags, ret_from);
}

ssize_t cio__dgram_peek_sender(struct cio_socket *sock, cio_addr *ret_from)
{
    int rc = cio__socket_fd(sock);
    if (rc < 0)
        return rc;
    struct sockaddr_storage ss;
    struct msghdr msg = {0};
    ask_sender(&msg, &ss, ret_from);
    /* With MSG_TRUNC (added for datagram sockets) Linux returns the full length. */
    ssize_t n = cio__msg_recvmsg(sock, &msg, MSG_PEEK);
    if (n < 0)
        return n;
    if ((rc = take_sender(ret_from, sock, &ss, msg.msg_namelen)) < 0)
        return rc;
    return n;
}

/* A control buffer large enough for CIO__FDS_MAX descriptors, aligned for cmsghdr. */
union rights_control {
    char buf[CMSG_SPACE(sizeof(int) * CIO__FDS_MAX)];
    struct cmsghdr align;
};

ssize_t cio__msg_send_fds(struct cio_socket *sock, const struct iovec *iov, int iovcnt,
                          const int *fds, size_t nfds, const cio_addr *to)
{
    size_t total;
    int rc = check_io(sock, iov, iovcnt, &total);
    if (rc < 0)
        return rc;
    if ((fds == NULL && nfds > 0) || nfds > CIO__FDS_MAX)
        return -EINVAL;
    for (size_t i = 0; i < nfds; i++)
        if (fds[i] < 0)
            return -EBADF;
    if (sock->type == SOCK_STREAM && total == 0)
        return nfds > 0 ? -EINVAL : 0; /* Linux sends no descriptors without a byte */
    union rights_control control;
    struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
    cio__msg_set_name(&msg, to);
    if (nfds > 0) {
        memset(&control, 0, sizeof(control));
        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    }
    return cio__msg_sendmsg(sock, &msg, 0);
}

ssize_t cio__msg_recv_fds(struct cio_socket *sock, const struct iovec *iov, int iovcnt, int *fds,
                          size_t max_fds, size_t *ret_nfds, cio_addr *ret_from)
{
    size_t total;
    int rc = check_io(sock, iov, iovcnt, &total);
    if (rc < 0)
        return rc;
    if (ret_nfds == NULL || (fds == NULL && max_fds > 0))
        return -EINVAL;
    if (sock->type == SOCK_STREAM && total == 0)
        return 0;
    max_fds = cio__min(max_fds, (size_t)CIO__FDS_MAX);
    union rights_control control;
    struct sockaddr_storage ss;
    struct msghdr msg = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
    ask_sender(&msg, &ss, ret_from);
    /* Room for exactly max_fds (rounded up to the cmsg alignment, which can admit one more:
     * the count check below covers that). Anything beyond makes the kernel set MSG_CTRUNC
     * after installing what fitted. With max_fds 0 no control buffer at all: the kernel then
     * discards descriptors without installing them. */
    if (max_fds > 0) {
        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * max_fds);
    }
    ssize_t n = cio__msg_recvmsg(sock, &msg, 0);
    if (n < 0)
        return n;
    size_t count = 0;
    if (msg.msg_control != NULL)
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
                count += (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    bool data_truncated =
        sock->type != SOCK_STREAM && ((size_t)n > total || (msg.msg_flags & MSG_TRUNC));
    rc = 0;
    if (data_truncated)
        rc = -EMSGSIZE;
    else if ((msg.msg_flags & MSG_CTRUNC) || count > max_fds)
        rc = -ENOBUFS;
    cio_addr from;
    if (rc == 0 && ret_from != NULL)
        rc = cio__msg_addr(&from, sock->domain, &ss, msg.msg_namelen);
    if (rc < 0) {
        cio__msg_close_rights(&msg);
        return rc;
    }
    size_t k = 0;
    if (fds != NULL && msg.msg_control != NULL)
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                continue;
            size_t m = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            memcpy(fds + k, CMSG_DATA(c), m * sizeof(int));
            k += m;
        }
    *ret_nfds = count;
    if (ret_from != NULL)
        *ret_from = from;
    return n;
}
