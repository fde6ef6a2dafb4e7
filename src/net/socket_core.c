/*
 * socket_core.c: the public socket core (cio/socket.h) that needs no runtime — close and
 * descriptor conversion for every handle kind, addresses, the pending error, bind, shutdown
 * and the options every socket has. Each function is one call into the shared socket
 * helpers (socket.h); the readiness half of the core lives in the io layer (io/readiness.c).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "cio/socket.h"
#include "net/socket.h"
#include "util/assert.h"

void cio_socket_close(cio_socket *handle)
{
    struct cio_socket *sock = CIO__SOCK(handle);
    if (sock == NULL)
        return;
    cio__assert(atomic_load(&sock->halves) == 0); /* a split stream closes through its halves */
    if (sock->kind == CIO__KIND_LISTENER)
        cio__listener_close(sock);
    else
        cio__handle_close(sock);
}

int cio_socket_fd(cio_socket *handle)
{
    return cio__socket_fd(CIO__SOCK(handle));
}

int cio_socket_into_fd(cio_socket *handle)
{
    struct cio_socket *sock = CIO__SOCK(handle);
    int rc = cio__socket_fd(sock);
    if (rc < 0)
        return rc;
    if (sock->kind == CIO__KIND_LISTENER)
        return cio__listener_into_fd(sock);
    return cio__handle_into_fd(sock);
}

int cio_socket_local_addr(cio_socket *handle, cio_addr *ret_addr)
{
    return cio__socket_local_addr(CIO__SOCK(handle), ret_addr);
}

int cio_socket_peer_addr(cio_socket *handle, cio_addr *ret_addr)
{
    return cio__socket_peer_addr(CIO__SOCK(handle), ret_addr);
}

int cio_socket_take_error(cio_socket *handle)
{
    return cio__socket_take_error(CIO__SOCK(handle));
}

int cio_socket_bind(cio_socket *handle, const cio_addr *addr)
{
    struct cio_socket *sock = CIO__SOCK(handle);
    int rc = cio__socket_check(sock);
    if (rc < 0 || (rc = cio__addr_check_bind(sock, addr)) < 0)
        return rc;
    return cio__socket_bind(sock, addr);
}

int cio_socket_shutdown(cio_socket *handle, cio_shutdown how)
{
    return cio__socket_shutdown(CIO__SOCK(handle), how);
}

/* ---- options every socket has ---- */

int cio_socket_set_send_buffer_size(cio_socket *handle, int bytes)
{
    return cio__sockopt_set_bufsize(CIO__SOCK(handle), SO_SNDBUF, bytes);
}

int cio_socket_send_buffer_size(cio_socket *handle, int *ret_bytes)
{
    return cio__sockopt_get_int(CIO__SOCK(handle), SOL_SOCKET, SO_SNDBUF, ret_bytes);
}

int cio_socket_set_recv_buffer_size(cio_socket *handle, int bytes)
{
    return cio__sockopt_set_bufsize(CIO__SOCK(handle), SO_RCVBUF, bytes);
}

int cio_socket_recv_buffer_size(cio_socket *handle, int *ret_bytes)
{
    return cio__sockopt_get_int(CIO__SOCK(handle), SOL_SOCKET, SO_RCVBUF, ret_bytes);
}

int cio_socket_set_linger(cio_socket *handle, int seconds)
{
    return cio__sockopt_set_linger(CIO__SOCK(handle), seconds);
}

int cio_socket_linger(cio_socket *handle, int *ret_seconds)
{
    return cio__sockopt_get_linger(CIO__SOCK(handle), ret_seconds);
}

int cio_socket_set_reuseaddr(cio_socket *handle, bool on)
{
    return cio__sockopt_set_bool(CIO__SOCK(handle), SOL_SOCKET, SO_REUSEADDR, on);
}

int cio_socket_reuseaddr(cio_socket *handle, bool *ret_on)
{
    return cio__sockopt_get_bool(CIO__SOCK(handle), SOL_SOCKET, SO_REUSEADDR, ret_on);
}

int cio_socket_set_reuseport(cio_socket *handle, bool on)
{
    return cio__sockopt_set_bool(CIO__SOCK(handle), SOL_SOCKET, SO_REUSEPORT, on);
}

int cio_socket_reuseport(cio_socket *handle, bool *ret_on)
{
    return cio__sockopt_get_bool(CIO__SOCK(handle), SOL_SOCKET, SO_REUSEPORT, ret_on);
}

int cio_socket_set_bind_device(cio_socket *handle, const char *ifname)
{
    return cio__sockopt_set_bind_device(CIO__SOCK(handle), ifname);
}

int cio_socket_bind_device(cio_socket *handle, char *buf, size_t size)
{
    return cio__sockopt_get_bind_device(CIO__SOCK(handle), buf, size);
}

/* ---- IP sockets ---- */

/* cio__socket_check(), and -EAFNOSUPPORT for a socket that is not IP. */
static int check_ip(const struct cio_socket *sock)
{
    int rc = cio__socket_check(sock);
    if (rc == 0 && sock->domain != AF_INET && sock->domain != AF_INET6)
        rc = -EAFNOSUPPORT;
    return rc;
}

int cio_socket_set_ttl(cio_socket *handle, int ttl)
{
    int rc = check_ip(CIO__SOCK(handle));
    return rc < 0 ? rc : cio__sockopt_set_ttl(CIO__SOCK(handle), ttl);
}

int cio_socket_ttl(cio_socket *handle, int *ret_ttl)
{
    int rc = check_ip(CIO__SOCK(handle));
    return rc < 0 ? rc : cio__sockopt_get_ttl(CIO__SOCK(handle), ret_ttl);
}

int cio_socket_set_tos(cio_socket *handle, int tos)
{
    int rc = check_ip(CIO__SOCK(handle));
    return rc < 0 ? rc : cio__sockopt_set_tos(CIO__SOCK(handle), tos);
}

int cio_socket_tos(cio_socket *handle, int *ret_tos)
{
    int rc = check_ip(CIO__SOCK(handle));
    return rc < 0 ? rc : cio__sockopt_get_tos(CIO__SOCK(handle), ret_tos);
}

int cio_socket_set_v6only(cio_socket *handle, bool on)
{
    int rc = check_ip(CIO__SOCK(handle));
    return rc < 0 ? rc : cio__sockopt_set_v6_bool(CIO__SOCK(handle), IPV6_V6ONLY, on);
}

int cio_socket_v6only(cio_socket *handle, bool *ret_on)
{
    int rc = check_ip(CIO__SOCK(handle));
    return rc < 0 ? rc : cio__sockopt_get_v6_bool(CIO__SOCK(handle), IPV6_V6ONLY, ret_on);
}
