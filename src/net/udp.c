/*
 * udp.c: UDP sockets on top of the socket core (socket.c) and the message helpers (msg.c).
 * What is here is what only UDP has: building and parsing the per-datagram control messages
 * (GSO segment size, GRO segment size, packet info, TOS), the batched sendmmsg/recvmmsg
 * calls, and the IP-level and multicast options, chosen per address family. Each public
 * function checks its handle and hands the embedded struct cio_socket to a helper.
 */
#include <errno.h>
#include <stddef.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/socket.h>

#include "cio/udp.h"
#include "net/msg.h"
#include "net/kinds.h"
#include "net/socket.h"
#include "util/compiler.h"

/* The handle starts with its struct cio_socket (the runtime layer relies on that). */
struct cio_udp_socket {
    struct cio_socket sock;
};
_Static_assert(offsetof(struct cio_udp_socket, sock) == 0, "a handle is its socket (CIO__SOCK)");

#define SOCK(handle) ((handle) != NULL ? &(handle)->sock : NULL)

/* Control data one send can carry: a GSO segment size, packet info (the IPv6 one is the
 * larger), a TOS byte. */
#define SEND_CONTROL_SIZE                                                                          \
    (CMSG_SPACE(sizeof(uint16_t)) + CMSG_SPACE(sizeof(struct in6_pktinfo)) +                       \
     CMSG_SPACE(sizeof(int)))
/* Control data one receive can bring with the options cio turns on (GRO size, packet info,
 * TOS), with room to spare for one the program enabled on the descriptor itself. */
#define RECV_CONTROL_SIZE 128

static const struct cio__socket_want want_udp = {
    .domains = {AF_INET, AF_INET6}, .type = SOCK_DGRAM, .protocol = IPPROTO_UDP, .listening = 0};

/* An IP-level boolean option, by family (see cio__sockopt_get_ip). */
static int get_ip_bool(const struct cio_socket *sock, int v4_name, int v6_name, bool *ret_on)
{
    int rc = cio__socket_check(sock);
    if (rc < 0)
        return rc;
    if (ret_on == NULL)
        return -EINVAL;
    int value;
    if ((rc = cio__sockopt_get_ip(sock, v4_name, v6_name, &value)) < 0)
        return rc;
    *ret_on = value != 0;
    return 0;
}

/* The checks both batch calls start with. Return: how many messages to hand the kernel (at
 * most CIO_UDP_BATCH_MAX), 0 for none, or a negative errno. */
static int batch_size(const struct cio_socket *sock, const cio_udp_msg *msgs, size_t count)
{
    int rc = cio__socket_check(sock);
    if (rc < 0)
        return rc;
    if (msgs == NULL && count > 0)
        return -EINVAL;
    return (int)cio__min(count, (size_t)CIO_UDP_BATCH_MAX);
}

/* ======================================================================================== */
/* Creating, binding, connecting                                                            */
/* ======================================================================================== */

static int socket_new(cio_udp_socket **ret_socket, int domain)
{
    if (ret_socket == NULL)
        return -EINVAL;
    void *socket;
    int rc = cio__handle_open(&socket, sizeof(cio_udp_socket), domain, SOCK_DGRAM, IPPROTO_UDP);
    if (rc == 0)
        *ret_socket = socket;
    return rc;
}

int cio_udp_socket_new_v4(cio_udp_socket **ret_socket)
{
    return socket_new(ret_socket, AF_INET);
}

int cio_udp_socket_new_v6(cio_udp_socket **ret_socket)
{
    return socket_new(ret_socket, AF_INET6);
}

int cio_udp_socket_new(cio_udp_socket **ret_socket, const cio_addr *addr)
{
    if (ret_socket == NULL)
        return -EINVAL;
    int rc = cio__addr_check_ip(addr);
    if (rc < 0)
        return rc;
    cio_udp_socket *socket = NULL; /* written by socket_new on success (GCC -O2 cannot tell) */
    if ((rc = socket_new(&socket, cio__addr_ip_family(addr))) < 0)
        return rc;
    if ((rc = cio__socket_bind(&socket->sock, addr)) < 0) {
        cio__handle_close(socket);
        return rc;
    }
    *ret_socket = socket;
    return 0;
}

int cio_udp_socket_from_fd(cio_udp_socket **ret_socket, int fd)
{
    if (ret_socket == NULL)
        return -EINVAL;
    void *socket;
    int rc = cio__handle_adopt(&socket, sizeof(cio_udp_socket), fd, &want_udp);
    if (rc == 0)
        *ret_socket = socket;
    return rc;
}

/* ======================================================================================== */
/* Simple sends and receives                                                                */
/* ======================================================================================== */

/* ======================================================================================== */
/* Message calls                                                                            */
/* ======================================================================================== */

union send_control {
    char buf[SEND_CONTROL_SIZE];
    struct cmsghdr align;
};

union recv_control {
    char buf[RECV_CONTROL_SIZE];
    struct cmsghdr align;
};

/* Append one control message at *off in buf (sized by the caller to fit). */
static void put_cmsg(char *buf, size_t *off, int level, int type, const void *data, size_t len)
{
    struct cmsghdr *c = (struct cmsghdr *)(void *)(buf + *off);
    memset(c, 0, CMSG_SPACE(len));
    c->cmsg_level = level;
    c->cmsg_type = type;
    c->cmsg_len = CMSG_LEN(len);
    memcpy(CMSG_DATA(c), data, len);
    *off += CMSG_SPACE(len);
}

/*
 * Check one outgoing message and describe it in @h, its control messages in @control.
 * Nothing is sent; a batch checks every message before the first goes out.
 */
static int prepare_send(const struct cio_socket *sock, const cio_udp_msg *m, struct msghdr *h,
                        union send_control *control)
{
    size_t total;
    int rc = cio__iov_check(m->iov, m->iovcnt, &total);
    if (rc < 0)
        return rc;
    cio_addr_kind to = cio_addr_get_kind(&m->addr);
    if (to != CIO_ADDR_NONE && to != CIO_ADDR_IPV4 && to != CIO_ADDR_IPV6)
        return -EAFNOSUPPORT;
    if (m->segment_size > UINT16_MAX)
        return -EINVAL;
    if ((m->flags & CIO_UDP_MSG_TOS) && (m->tos < 0 || m->tos > 255))
        return -EINVAL;
    cio_addr_kind local = cio_addr_get_kind(&m->local);
    if (local != CIO_ADDR_NONE && local != CIO_ADDR_IPV4 && local != CIO_ADDR_IPV6)
        return -EINVAL;
    if (local == CIO_ADDR_IPV6 && sock->domain != AF_INET6)
        return -EINVAL;

    memset(h, 0, sizeof(*h));
    h->msg_iov = m->iov;
    h->msg_iovlen = (size_t)m->iovcnt;
    cio__msg_set_name(h, &m->addr);

    size_t off = 0;
    if (m->segment_size > 0) {
        uint16_t segment = (uint16_t)m->segment_size;
        put_cmsg(control->buf, &off, SOL_UDP, UDP_SEGMENT, &segment, sizeof(segment));
    }
    bool want_pktinfo = local != CIO_ADDR_NONE || m->ifindex != 0;
    if (want_pktinfo &&
        (local == CIO_ADDR_IPV4 || (local == CIO_ADDR_NONE && sock->domain == AF_INET))) {
        /* ipi_spec_dst is the source address to use; ipi_addr is ignored on send. */
        struct in_pktinfo info;
        memset(&info, 0, sizeof(info));
        info.ipi_ifindex = (int)m->ifindex;
        if (local == CIO_ADDR_IPV4)
            info.ipi_spec_dst =
                ((const struct sockaddr_in *)(const void *)cio_addr_sockaddr(&m->local))->sin_addr;
        put_cmsg(control->buf, &off, IPPROTO_IP, IP_PKTINFO, &info, sizeof(info));
    } else if (want_pktinfo) {
        struct in6_pktinfo info;
        memset(&info, 0, sizeof(info));
        info.ipi6_ifindex = m->ifindex;
        if (local == CIO_ADDR_IPV6)
            info.ipi6_addr =
                ((const struct sockaddr_in6 *)(const void *)cio_addr_sockaddr(&m->local))
                    ->sin6_addr;
        put_cmsg(control->buf, &off, IPPROTO_IPV6, IPV6_PKTINFO, &info, sizeof(info));
    }
    if (m->flags & CIO_UDP_MSG_TOS) {
        int tos = m->tos;
        if (sock->domain == AF_INET6)
            put_cmsg(control->buf, &off, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof(tos));
        else
            put_cmsg(control->buf, &off, IPPROTO_IP, IP_TOS, &tos, sizeof(tos));
    }
    if (off > 0) {
        h->msg_control = control->buf;
        h->msg_controllen = off;
    }
    return 0;
}

/* Prepare a receive into @m's buffers; the sender's address lands in @name. */
static int prepare_recv(const cio_udp_msg *m, struct msghdr *h, struct sockaddr_storage *name,
                        union recv_control *control, size_t *ret_total)
{
    int rc = cio__iov_check(m->iov, m->iovcnt, ret_total);
    if (rc < 0)
        return rc;
    memset(h, 0, sizeof(*h));
    h->msg_iov = m->iov;
    h->msg_iovlen = (size_t)m->iovcnt;
    h->msg_name = name;
    h->msg_namelen = sizeof(*name);
    h->msg_control = control->buf;
    h->msg_controllen = sizeof(control->buf);
    return 0;
}

static void parse_pktinfo4(const struct in_pktinfo *info, cio_udp_msg *out)
{
    /* ipi_addr is the destination in the IP header (what the sender addressed, a group or
     * broadcast address included); ipi_spec_dst would be the local address routing picked. */
    cio_addr_ipv4(&out->local, ntohl(info->ipi_addr.s_addr), 0);
    out->ifindex = (unsigned)info->ipi_ifindex;
}

static void parse_pktinfo6(const struct in6_pktinfo *info, cio_udp_msg *out)
{
    /* A link-local destination only means something with its interface. */
    uint32_t scope = IN6_IS_ADDR_LINKLOCAL(&info->ipi6_addr) ? info->ipi6_ifindex : 0;
    cio_addr_ipv6(&out->local, info->ipi6_addr.s6_addr, 0, scope);
    out->ifindex = info->ipi6_ifindex;
}

/*
 * Fill @out (the caller's message, whose iov stays as it was) from a finished receive:
 * @full is what the kernel returned with MSG_TRUNC — the datagram's real length.
 */
static int finish_recv(const struct cio_socket *sock, struct msghdr *h, size_t full, size_t total,
                       const struct sockaddr_storage *name, cio_udp_msg *out)
{
    cio_udp_msg m = *out;
    int rc = cio__msg_addr(&m.addr, sock->domain, name, h->msg_namelen);
    if (rc < 0)
        return rc;
    memset(&m.local, 0, sizeof(m.local));
    m.ifindex = 0;
    m.segment_size = 0;
    m.tos = 0;
    m.flags = 0;
    m.datagram_len = full;
    m.len = cio__min(full, total);
    if ((h->msg_flags & MSG_TRUNC) || full > total)
        m.flags |= CIO_UDP_MSG_TRUNC;
    if (h->msg_flags & MSG_CTRUNC)
        m.flags |= CIO_UDP_MSG_CTRUNC;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c != NULL; c = CMSG_NXTHDR(h, c)) {
        const void *data = CMSG_DATA(c);
        size_t len = c->cmsg_len - CMSG_LEN(0);
        int value = 0;
        if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO && len >= sizeof(int)) {
            memcpy(&value, data, sizeof(value));
            /* A lone datagram can come with its own size as segment size: not coalesced. */
            m.segment_size = value > 0 && full > (size_t)value ? (size_t)value : 0;
        } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
                   len >= sizeof(struct in_pktinfo)) {
            struct in_pktinfo info;
            memcpy(&info, data, sizeof(info));
            parse_pktinfo4(&info, &m);
        } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
                   len >= sizeof(struct in6_pktinfo)) {
            struct in6_pktinfo info;
            memcpy(&info, data, sizeof(info));
            parse_pktinfo6(&info, &m);
        } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS && len >= 1) {
            /* IPv4 reports the TOS as one byte, IPv6 the traffic class as an int. */
            unsigned char tos;
            memcpy(&tos, data, 1);
            m.tos = tos;
            m.flags |= CIO_UDP_MSG_TOS;
        } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS &&
                   len >= sizeof(int)) {
            memcpy(&value, data, sizeof(value));
            m.tos = value & 0xff;
            m.flags |= CIO_UDP_MSG_TOS;
        }
    }
    *out = m;
    return 0;
}

ssize_t cio__udp_send_msg(cio_udp_socket *socket, cio_udp_msg *msg)
{
    int rc = cio__socket_check(SOCK(socket));
    if (rc < 0)
        return rc;
    if (msg == NULL)
        return -EINVAL;
    struct msghdr h;
    union send_control control;
    if ((rc = prepare_send(&socket->sock, msg, &h, &control)) < 0)
        return rc;
    ssize_t n = cio__msg_sendmsg(&socket->sock, &h, 0);
    if (n >= 0)
        msg->len = (size_t)n;
    return n;
}

ssize_t cio__udp_recv_msg(cio_udp_socket *socket, cio_udp_msg *msg)
{
    int rc = cio__socket_check(SOCK(socket));
    if (rc < 0)
        return rc;
    if (msg == NULL)
        return -EINVAL;
    struct msghdr h;
    struct sockaddr_storage name;
    union recv_control control;
    size_t total;
    if ((rc = prepare_recv(msg, &h, &name, &control, &total)) < 0)
        return rc;
    ssize_t n = cio__msg_recvmsg(&socket->sock, &h, 0); /* MSG_TRUNC added: full length */
    if (n < 0)
        return n;
    if ((rc = finish_recv(&socket->sock, &h, (size_t)n, total, &name, msg)) < 0)
        return rc;
    return (ssize_t)msg->len;
}

int cio__udp_send_batch(cio_udp_socket *socket, cio_udp_msg *msgs, size_t count)
{
    int batch = batch_size(SOCK(socket), msgs, count);
    if (batch <= 0)
        return batch;
    struct mmsghdr vec[CIO_UDP_BATCH_MAX];
    union send_control control[CIO_UDP_BATCH_MAX];
    for (int i = 0; i < batch; i++) {
        int rc = prepare_send(&socket->sock, &msgs[i], &vec[i].msg_hdr, &control[i]);
        if (rc < 0)
            return rc;
        vec[i].msg_len = 0;
    }
    int n = CIO__RETRY_EINTR(sendmmsg(socket->sock.fd, vec, (unsigned)batch, MSG_NOSIGNAL));
    if (n < 0)
        return -errno;
    for (int i = 0; i < n; i++)
        msgs[i].len = vec[i].msg_len;
    return n;
}

int cio__udp_recv_batch(cio_udp_socket *socket, cio_udp_msg *msgs, size_t count)
{
    int batch = batch_size(SOCK(socket), msgs, count);
    if (batch <= 0)
        return batch;
    struct mmsghdr vec[CIO_UDP_BATCH_MAX];
    struct sockaddr_storage names[CIO_UDP_BATCH_MAX];
    union recv_control control[CIO_UDP_BATCH_MAX];
    size_t totals[CIO_UDP_BATCH_MAX];
    for (int i = 0; i < batch; i++) {
        int rc = prepare_recv(&msgs[i], &vec[i].msg_hdr, &names[i], &control[i], &totals[i]);
        if (rc < 0)
            return rc;
        vec[i].msg_len = 0;
    }
    /* MSG_TRUNC: each msg_len is the datagram's real length, so truncation shows. */
    int n = CIO__RETRY_EINTR(recvmmsg(socket->sock.fd, vec, (unsigned)batch, MSG_TRUNC, NULL));
    if (n < 0)
        return -errno;
    for (int i = 0; i < n; i++) {
        /* An address that cannot be converted cannot happen for UDP; keep the datagram
         * rather than lose it for that, with an empty address. */
        if (finish_recv(&socket->sock, &vec[i].msg_hdr, vec[i].msg_len, totals[i], &names[i],
                        &msgs[i]) < 0)
            memset(&msgs[i].addr, 0, sizeof(msgs[i].addr));
    }
    return n;
}

/* ======================================================================================== */
/* Options                                                                                  */
/* ======================================================================================== */

int cio_udp_socket_set_broadcast(cio_udp_socket *socket, bool on)
{
    return cio__sockopt_set_bool(SOCK(socket), SOL_SOCKET, SO_BROADCAST, on);
}

int cio_udp_socket_broadcast(const cio_udp_socket *socket, bool *ret_on)
{
    return cio__sockopt_get_bool(SOCK(socket), SOL_SOCKET, SO_BROADCAST, ret_on);
}

int cio_udp_socket_set_gso_segment(cio_udp_socket *socket, size_t bytes)
{
    if (bytes > UINT16_MAX)
        return -EINVAL;
    return cio__sockopt_set_int(SOCK(socket), SOL_UDP, UDP_SEGMENT, (int)bytes);
}

int cio_udp_socket_gso_segment(const cio_udp_socket *socket, size_t *ret_bytes)
{
    if (ret_bytes == NULL)
        return -EINVAL;
    int value;
    int rc = cio__sockopt_get_int(SOCK(socket), SOL_UDP, UDP_SEGMENT, &value);
    if (rc < 0)
        return rc;
    *ret_bytes = value > 0 ? (size_t)value : 0;
    return 0;
}

int cio_udp_socket_set_gro(cio_udp_socket *socket, bool on)
{
    return cio__sockopt_set_bool(SOCK(socket), SOL_UDP, UDP_GRO, on);
}

int cio_udp_socket_gro(const cio_udp_socket *socket, bool *ret_on)
{
    return cio__sockopt_get_bool(SOCK(socket), SOL_UDP, UDP_GRO, ret_on);
}

int cio_udp_socket_set_recv_pktinfo(cio_udp_socket *socket, bool on)
{
    return cio__sockopt_set_ip(SOCK(socket), IP_PKTINFO, IPV6_RECVPKTINFO, on);
}

int cio_udp_socket_recv_pktinfo(const cio_udp_socket *socket, bool *ret_on)
{
    return get_ip_bool(SOCK(socket), IP_PKTINFO, IPV6_RECVPKTINFO, ret_on);
}

int cio_udp_socket_set_recv_tos(cio_udp_socket *socket, bool on)
{
    return cio__sockopt_set_ip(SOCK(socket), IP_RECVTOS, IPV6_RECVTCLASS, on);
}

int cio_udp_socket_recv_tos(const cio_udp_socket *socket, bool *ret_on)
{
    return get_ip_bool(SOCK(socket), IP_RECVTOS, IPV6_RECVTCLASS, ret_on);
}

/* ---- multicast ---- */

static int membership_v4(cio_udp_socket *socket, int name, uint32_t group, uint32_t interface)
{
    int rc = cio__socket_check(SOCK(socket));
    if (rc < 0)
        return rc;
    struct ip_mreq mreq;
    memset(&mreq, 0, sizeof(mreq));
    mreq.imr_multiaddr.s_addr = htonl(group);
    mreq.imr_interface.s_addr = htonl(interface);
    if (setsockopt(socket->sock.fd, IPPROTO_IP, name, &mreq, sizeof(mreq)) < 0)
        return -errno;
    return 0;
}

int cio_udp_socket_join_multicast_v4(cio_udp_socket *socket, uint32_t group, uint32_t interface)
{
    return membership_v4(socket, IP_ADD_MEMBERSHIP, group, interface);
}

int cio_udp_socket_leave_multicast_v4(cio_udp_socket *socket, uint32_t group, uint32_t interface)
{
    return membership_v4(socket, IP_DROP_MEMBERSHIP, group, interface);
}

static int membership_v6(cio_udp_socket *socket, int name, const uint8_t group[16],
                         unsigned ifindex)
{
    int rc = cio__socket_check_v6(SOCK(socket));
    if (rc < 0)
        return rc;
    if (group == NULL)
        return -EINVAL;
    struct ipv6_mreq mreq;
    memset(&mreq, 0, sizeof(mreq));
    memcpy(mreq.ipv6mr_multiaddr.s6_addr, group, 16);
    mreq.ipv6mr_interface = ifindex;
    if (setsockopt(socket->sock.fd, IPPROTO_IPV6, name, &mreq, sizeof(mreq)) < 0)
        return -errno;
    return 0;
}

int cio_udp_socket_join_multicast_v6(cio_udp_socket *socket, const uint8_t group[16],
                                     unsigned ifindex)
{
    return membership_v6(socket, IPV6_ADD_MEMBERSHIP, group, ifindex);
}

int cio_udp_socket_leave_multicast_v6(cio_udp_socket *socket, const uint8_t group[16],
                                      unsigned ifindex)
{
    return membership_v6(socket, IPV6_DROP_MEMBERSHIP, group, ifindex);
}

static int source_membership(cio_udp_socket *socket, int name, const cio_addr *group,
                             const cio_addr *source, unsigned ifindex)
{
    int rc = cio__socket_check(SOCK(socket));
    if (rc < 0)
        return rc;
    if (group == NULL || source == NULL)
        return -EINVAL;
    int family = cio__addr_ip_family(group);
    if (family == 0 || cio__addr_ip_family(source) != family)
        return -EAFNOSUPPORT;
    struct group_source_req req;
    memset(&req, 0, sizeof(req));
    req.gsr_interface = ifindex;
    memcpy(&req.gsr_group, cio_addr_sockaddr(group), cio_addr_len(group));
    memcpy(&req.gsr_source, cio_addr_sockaddr(source), cio_addr_len(source));
    int level = family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP;
    if (setsockopt(socket->sock.fd, level, name, &req, sizeof(req)) < 0)
        return -errno;
    return 0;
}

int cio_udp_socket_join_source_multicast(cio_udp_socket *socket, const cio_addr *group,
                                         const cio_addr *source, unsigned ifindex)
{
    return source_membership(socket, MCAST_JOIN_SOURCE_GROUP, group, source, ifindex);
}

int cio_udp_socket_leave_source_multicast(cio_udp_socket *socket, const cio_addr *group,
                                          const cio_addr *source, unsigned ifindex)
{
    return source_membership(socket, MCAST_LEAVE_SOURCE_GROUP, group, source, ifindex);
}

int cio_udp_socket_set_multicast_loop_v4(cio_udp_socket *socket, bool on)
{
    return cio__sockopt_set_bool(SOCK(socket), IPPROTO_IP, IP_MULTICAST_LOOP, on);
}

int cio_udp_socket_multicast_loop_v4(const cio_udp_socket *socket, bool *ret_on)
{
    return cio__sockopt_get_bool(SOCK(socket), IPPROTO_IP, IP_MULTICAST_LOOP, ret_on);
}

int cio_udp_socket_set_multicast_ttl_v4(cio_udp_socket *socket, int ttl)
{
    if (ttl < 0 || ttl > 255)
        return -EINVAL;
    return cio__sockopt_set_int(SOCK(socket), IPPROTO_IP, IP_MULTICAST_TTL, ttl);
}

int cio_udp_socket_multicast_ttl_v4(const cio_udp_socket *socket, int *ret_ttl)
{
    return cio__sockopt_get_int(SOCK(socket), IPPROTO_IP, IP_MULTICAST_TTL, ret_ttl);
}

int cio_udp_socket_set_multicast_if_v4(cio_udp_socket *socket, uint32_t interface)
{
    int rc = cio__socket_check(SOCK(socket));
    if (rc < 0)
        return rc;
    struct in_addr addr = {.s_addr = htonl(interface)};
    if (setsockopt(socket->sock.fd, IPPROTO_IP, IP_MULTICAST_IF, &addr, sizeof(addr)) < 0)
        return -errno;
    return 0;
}

int cio_udp_socket_multicast_if_v4(const cio_udp_socket *socket, uint32_t *ret_interface)
{
    int rc = cio__socket_check(SOCK(socket));
    if (rc < 0)
        return rc;
    if (ret_interface == NULL)
        return -EINVAL;
    struct in_addr addr = {0};
    socklen_t len = sizeof(addr);
    if (getsockopt(socket->sock.fd, IPPROTO_IP, IP_MULTICAST_IF, &addr, &len) < 0)
        return -errno;
    *ret_interface = ntohl(addr.s_addr);
    return 0;
}

int cio_udp_socket_set_multicast_all_v4(cio_udp_socket *socket, bool on)
{
    return cio__sockopt_set_bool(SOCK(socket), IPPROTO_IP, IP_MULTICAST_ALL, on);
}

int cio_udp_socket_multicast_all_v4(const cio_udp_socket *socket, bool *ret_on)
{
    return cio__sockopt_get_bool(SOCK(socket), IPPROTO_IP, IP_MULTICAST_ALL, ret_on);
}

int cio_udp_socket_set_multicast_loop_v6(cio_udp_socket *socket, bool on)
{
    return cio__sockopt_set_v6_bool(SOCK(socket), IPV6_MULTICAST_LOOP, on);
}

int cio_udp_socket_multicast_loop_v6(const cio_udp_socket *socket, bool *ret_on)
{
    return cio__sockopt_get_v6_bool(SOCK(socket), IPV6_MULTICAST_LOOP, ret_on);
}

int cio_udp_socket_set_multicast_hops_v6(cio_udp_socket *socket, int hops)
{
    int rc = cio__socket_check_v6(SOCK(socket));
    if (rc < 0)
        return rc;
    if (hops < 0 || hops > 255)
        return -EINVAL;
    return cio__sockopt_set_int(&socket->sock, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, hops);
}

int cio_udp_socket_multicast_hops_v6(const cio_udp_socket *socket, int *ret_hops)
{
    int rc = cio__socket_check_v6(SOCK(socket));
    if (rc < 0)
        return rc;
    return cio__sockopt_get_int(&socket->sock, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, ret_hops);
}

int cio_udp_socket_set_multicast_if_v6(cio_udp_socket *socket, unsigned ifindex)
{
    int rc = cio__socket_check_v6(SOCK(socket));
    if (rc < 0)
        return rc;
    if (ifindex > INT32_MAX)
        return -EINVAL;
    return cio__sockopt_set_int(&socket->sock, IPPROTO_IPV6, IPV6_MULTICAST_IF, (int)ifindex);
}

int cio_udp_socket_multicast_if_v6(const cio_udp_socket *socket, unsigned *ret_ifindex)
{
    int rc = cio__socket_check_v6(SOCK(socket));
    if (rc < 0)
        return rc;
    if (ret_ifindex == NULL)
        return -EINVAL;
    int value;
    if ((rc = cio__sockopt_get_int(&socket->sock, IPPROTO_IPV6, IPV6_MULTICAST_IF, &value)) < 0)
        return rc;
    *ret_ifindex = value > 0 ? (unsigned)value : 0;
    return 0;
}

int cio_udp_socket_set_multicast_all_v6(cio_udp_socket *socket, bool on)
{
    return cio__sockopt_set_v6_bool(SOCK(socket), IPV6_MULTICAST_ALL, on);
}

int cio_udp_socket_multicast_all_v6(const cio_udp_socket *socket, bool *ret_on)
{
    return cio__sockopt_get_v6_bool(SOCK(socket), IPV6_MULTICAST_ALL, ret_on);
}
