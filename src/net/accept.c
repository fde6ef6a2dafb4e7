/*
 * accept.c: accepting connections — accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC, skipping
 * connections that died in the backlog, and the spare-descriptor defence against EMFILE
 * (libuv's technique, see socket.h); and a listener's accept into a new stream handle.
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

int cio__socket_accept(struct cio_socket *sock, int *reserve, cio_addr *ret_peer)
{
    int rc = cio__socket_check(sock);
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

int cio__listener_accept(struct cio__listener *listener, void **ret_stream, size_t stream_size,
                         cio_addr *ret_peer)
{
    cio_addr peer;
    int fd =
        cio__socket_accept(&listener->sock, &listener->reserve, ret_peer != NULL ? &peer : NULL);
    if (fd < 0)
        return fd;
    struct cio_socket *stream = cio__handle_new(stream_size);
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
