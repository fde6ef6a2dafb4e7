/*
 * test_udp_helpers.h: helpers shared by the UDP test programs (test_udp_*.c): a socket bound
 * to a loopback address on a kernel-chosen port, receiving with a bounded wait, and a check
 * that nothing more arrives. Header-only; every helper is static inline. Waiting on one
 * descriptor reuses wait_fd() from the TCP helpers.
 */
#ifndef CIO_TEST_UDP_HELPERS_H
#define CIO_TEST_UDP_HELPERS_H

#include <errno.h>
#include <net/if.h>
#include <string.h>

#include "cio/addr.h"
#include "cio/dgram.h"
#include "cio/poll.h"
#include "cio/socket.h"
#include "cio/udp.h"
#include "harness.h"
#include "test_tcp_helpers.h"

/* A UDP socket bound to `text` (port 0), with its real address in *ret_addr (may be NULL). */
static inline cio_udp_socket *udp_on(const char *text, cio_addr *ret_addr)
{
    cio_addr addr;
    cio_udp_socket *socket;
    CHECK_RC(cio_addr_parse(&addr, text));
    CHECK_RC(cio_udp_socket_new(&socket, &addr));
    CHECK_FD_FLAGS(cio_socket_fd(socket));
    if (ret_addr != NULL) {
        CHECK_RC(cio_socket_local_addr(socket, ret_addr));
        CHECK(cio_addr_port(ret_addr) > 0);
    }
    return socket;
}

/* Receive one datagram, waiting up to 5 s for it; returns the try_recv_from result. */
static inline ssize_t udp_recv_wait(cio_udp_socket *socket, void *buf, size_t len,
                                    cio_addr *ret_from)
{
    int64_t deadline = cio_test_now_ms() + 5000;
    for (;;) {
        ssize_t n = cio_dgram_try_recv_from(socket, buf, len, ret_from);
        if (n != -EAGAIN || cio_test_now_ms() > deadline)
            return n;
        wait_fd(cio_socket_fd(socket), CIO_READABLE, 1000);
    }
}

/* try_recv_msg with the same bounded wait. */
static inline ssize_t udp_recv_msg_wait(cio_udp_socket *socket, cio_udp_msg *msg)
{
    int64_t deadline = cio_test_now_ms() + 5000;
    for (;;) {
        ssize_t n = cio_udp_socket_try_recv_msg(socket, msg);
        if (n != -EAGAIN || cio_test_now_ms() > deadline)
            return n;
        wait_fd(cio_socket_fd(socket), CIO_READABLE, 1000);
    }
}

/* Nothing arrives within `ms` milliseconds. */
static inline void udp_expect_nothing(cio_udp_socket *socket, int ms)
{
    char buf[64];
    CHECK_EQ(wait_fd(cio_socket_fd(socket), CIO_READABLE, ms), 0);
    CHECK_ERR(cio_dgram_try_recv(socket, buf, sizeof(buf)), -EAGAIN);
}

/* The interface index of the loopback interface. */
static inline unsigned loopback_index(void)
{
    unsigned index = if_nametoindex("lo");
    if (index == 0)
        TEST_SKIP("no interface named lo");
    return index;
}

#endif
