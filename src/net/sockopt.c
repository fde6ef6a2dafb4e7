/*
 * sockopt.c: socket options — typed get/set helpers (int, bool, timeval, linger, buffer
 * sizes, strings, bind device), the IP-level options chosen by family (IPv4 or IPv6 names),
 * and the address checks by family that bind, connect and send share.
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

/* ---- options ---- */

/* setsockopt() on a checked socket. */
static int set_opt(struct cio_socket *sock, int level, int name, const void *value, socklen_t len)
{
    int rc = cio__socket_check(sock);
    if (rc < 0)
        return rc;
    return setsockopt(sock->fd, level, name, value, len) < 0 ? -errno : 0;
}

/* getsockopt() into @value (*len bytes, updated) on a checked socket, for a caller whose
 * output parameter @ret must not be NULL. */
static int get_opt(const struct cio_socket *sock, int level, int name, void *value, socklen_t *len,
                   const void *ret)
{
    int rc = cio__socket_check(sock);
    if (rc < 0)
        return rc;
    if (ret == NULL)
        return -EINVAL;
    return getsockopt(sock->fd, level, name, value, len) < 0 ? -errno : 0;
}

int cio__getsockopt_int(int fd, int level, int name, int *ret_value)
{
    int value = 0;
    socklen_t len = sizeof(value);
    if (getsockopt(fd, level, name, &value, &len) < 0)
        return -errno;
    *ret_value = value;
    return 0;
}

int cio__sockopt_set_int(struct cio_socket *sock, int level, int name, int value)
{
    return set_opt(sock, level, name, &value, sizeof(value));
}

int cio__sockopt_get_int(const struct cio_socket *sock, int level, int name, int *ret_value)
{
    int rc = cio__socket_check(sock);
    if (rc < 0)
        return rc;
    if (ret_value == NULL)
        return -EINVAL;
    return cio__getsockopt_int(sock->fd, level, name, ret_value);
}

int cio__sockopt_set_bool(struct cio_socket *sock, int level, int name, bool on)
{
    return cio__sockopt_set_int(sock, level, name, on ? 1 : 0);
}

int cio__sockopt_get_bool(const struct cio_socket *sock, int level, int name, bool *ret_on)
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

int cio__sockopt_set_timeval(struct cio_socket *sock, int level, int name, cio_duration ns)
{
    int rc = cio__socket_check(sock);
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

int cio__sockopt_get_timeval(const struct cio_socket *sock, int level, int name,
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

int cio__sockopt_set_linger(struct cio_socket *sock, int seconds)
{
    struct linger lg = {.l_onoff = seconds >= 0, .l_linger = seconds >= 0 ? seconds : 0};
    return set_opt(sock, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

int cio__sockopt_get_linger(const struct cio_socket *sock, int *ret_seconds)
{
    struct linger lg;
    socklen_t len = sizeof(lg);
    int rc = get_opt(sock, SOL_SOCKET, SO_LINGER, &lg, &len, ret_seconds);
    if (rc < 0)
        return rc;
    *ret_seconds = lg.l_onoff ? lg.l_linger : CIO_LINGER_OFF;
    return 0;
}

int cio__sockopt_set_bufsize(struct cio_socket *sock, int name, int bytes)
{
    if (bytes < 0)
        return -EINVAL;
    return cio__sockopt_set_int(sock, SOL_SOCKET, name, bytes);
}

int cio__sockopt_get_string(const struct cio_socket *sock, int level, int name, size_t max,
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

int cio__sockopt_set_bind_device(struct cio_socket *sock, const char *ifname)
{
    int rc = cio__socket_check(sock);
    if (rc < 0)
        return rc;
    size_t len = ifname != NULL ? strnlen(ifname, IF_NAMESIZE) : 0;
    if (len >= IF_NAMESIZE)
        return -EINVAL;
    /* A zero length removes the binding. */
    return set_opt(sock, SOL_SOCKET, SO_BINDTODEVICE, len > 0 ? ifname : "", (socklen_t)len);
}

int cio__sockopt_get_bind_device(const struct cio_socket *sock, char *buf, size_t size)
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

int cio__addr_check_unix(const cio_addr *addr, bool bind)
{
    switch (cio_addr_get_kind(addr)) {
    case CIO_ADDR_UNIX:
    case CIO_ADDR_ABSTRACT:
        return 0;
    case CIO_ADDR_UNNAMED:
        return bind ? 0 : -EINVAL; /* binding to it is autobind; nobody can be reached there */
    case CIO_ADDR_NONE:
        return -EINVAL;
    default:
        return -EAFNOSUPPORT;
    }
}

int cio__addr_check_bind(const struct cio_socket *sock, const cio_addr *addr)
{
    if (sock->domain == AF_UNIX)
        return cio__addr_check_unix(addr, true);
    int rc = cio__addr_check_ip(addr);
    /* An IPv6 socket binds IPv4-mapped addresses, which are IPv6 addresses; a plain IPv4
     * address on it (or the reverse) is the wrong family. */
    if (rc == 0 && cio__addr_ip_family(addr) != sock->domain)
        rc = -EAFNOSUPPORT;
    return rc;
}

int cio__addr_check_peer(const struct cio_socket *sock, const cio_addr *addr)
{
    if (sock->domain == AF_UNIX)
        return cio__addr_check_unix(addr, false);
    int rc = cio__addr_check_ip(addr);
    /* An IPv6 socket reaches IPv4 peers too (mapped, unless v6only); an IPv4 one only them. */
    if (rc == 0 && sock->domain == AF_INET && cio__addr_ip_family(addr) != AF_INET)
        rc = -EAFNOSUPPORT;
    return rc;
}

int cio__socket_check_v6(const struct cio_socket *sock)
{
    int rc = cio__socket_check(sock);
    if (rc < 0)
        return rc;
    return sock->domain == AF_INET6 ? 0 : -EINVAL;
}

int cio__sockopt_set_ip(struct cio_socket *sock, int v4_name, int v6_name, int value)
{
    int rc = cio__socket_check(sock);
    if (rc < 0)
        return rc;
    if (sock->domain == AF_INET6)
        return cio__sockopt_set_int(sock, IPPROTO_IPV6, v6_name, value);
    return cio__sockopt_set_int(sock, IPPROTO_IP, v4_name, value);
}

int cio__sockopt_get_ip(const struct cio_socket *sock, int v4_name, int v6_name, int *ret_value)
{
    int rc = cio__socket_check(sock);
    if (rc < 0)
        return rc;
    if (sock->domain == AF_INET6)
        return cio__sockopt_get_int(sock, IPPROTO_IPV6, v6_name, ret_value);
    return cio__sockopt_get_int(sock, IPPROTO_IP, v4_name, ret_value);
}

/* An IP-level option holding one byte's value, @min to 255 (checked after the socket). */
static int set_ip_byte(struct cio_socket *sock, int v4_name, int v6_name, int value, int min)
{
    int rc = cio__socket_check(sock);
    if (rc < 0)
        return rc;
    if (value < min || value > 255)
        return -EINVAL;
    return cio__sockopt_set_ip(sock, v4_name, v6_name, value);
}

int cio__sockopt_set_ttl(struct cio_socket *sock, int ttl)
{
    return set_ip_byte(sock, IP_TTL, IPV6_UNICAST_HOPS, ttl, 1);
}

int cio__sockopt_get_ttl(const struct cio_socket *sock, int *ret_ttl)
{
    return cio__sockopt_get_ip(sock, IP_TTL, IPV6_UNICAST_HOPS, ret_ttl);
}

int cio__sockopt_set_tos(struct cio_socket *sock, int tos)
{
    return set_ip_byte(sock, IP_TOS, IPV6_TCLASS, tos, 0);
}

int cio__sockopt_get_tos(const struct cio_socket *sock, int *ret_tos)
{
    return cio__sockopt_get_ip(sock, IP_TOS, IPV6_TCLASS, ret_tos);
}

int cio__sockopt_set_v6_bool(struct cio_socket *sock, int name, bool on)
{
    int rc = cio__socket_check_v6(sock);
    if (rc < 0)
        return rc;
    return cio__sockopt_set_bool(sock, IPPROTO_IPV6, name, on);
}

int cio__sockopt_get_v6_bool(const struct cio_socket *sock, int name, bool *ret_on)
{
    int rc = cio__socket_check_v6(sock);
    if (rc < 0)
        return rc;
    return cio__sockopt_get_bool(sock, IPPROTO_IPV6, name, ret_on);
}
