/*
 * test_udp_basic.c: UDP sockets on loopback — bind and addresses, send_to/recv_from,
 * connect/disconnect and the peer filter, empty datagrams, truncation reported (never
 * silent) by every receive call, peek and peek_sender, ICMP port unreachable surfacing as
 * -ECONNREFUSED, every option set and read back from the kernel, per-datagram packet info
 * and TOS, IPv6, adopting and exporting descriptors, bad arguments, SHUT_RD changing
 * nothing, and an edge-triggered cio_poll loop draining until -EAGAIN.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cio/net.h"
#include "cio/poll.h"
#include "cio/udp.h"
#include "harness.h"
#include "test_udp_helpers.h"

static void test_bind_and_addresses(void)
{
    cio_addr addr;
    cio_udp_socket *socket = udp_on("127.0.0.1:0", &addr);
    CHECK_EQ(cio_addr_get_kind(&addr), CIO_ADDR_IPV4);
    char buf[16];
    int64_t start = cio_test_now_ms();
    CHECK_ERR(cio_dgram_try_recv(socket, buf, sizeof(buf)), -EAGAIN);
    CHECK_ERR(cio_dgram_try_peek(socket, buf, sizeof(buf)), -EAGAIN);
    CHECK_ERR(cio_dgram_try_peek_sender(socket, NULL), -EAGAIN);
    CHECK(cio_test_now_ms() - start < 1000);
    cio_addr peer;
    CHECK_ERR(cio_socket_peer_addr(socket, &peer), -ENOTCONN);
    CHECK_EQ(cio_socket_take_error(socket), 0);
    /* Not connected: a send without an address has nowhere to go. */
    CHECK_ERR(cio_dgram_try_send(socket, "x", 1), -EDESTADDRREQ);
    cio_socket_close(socket);
    (cio_socket_close)(NULL);
}

static void test_send_to_recv_from(void)
{
    cio_addr a_addr, b_addr, from;
    cio_udp_socket *a = udp_on("127.0.0.1:0", &a_addr);
    cio_udp_socket *b = udp_on("127.0.0.1:0", &b_addr);
    CHECK_EQ(cio_dgram_try_send_to(a, "hello", 5, &b_addr), 5);
    char buf[64];
    CHECK_EQ(udp_recv_wait(b, buf, sizeof(buf), &from), 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    CHECK(cio_addr_equal(&from, &a_addr));
    /* And back, to the address the datagram came from. */
    CHECK_EQ(cio_dgram_try_send_to(b, "world!", 6, &from), 6);
    CHECK_EQ(udp_recv_wait(a, buf, sizeof(buf), &from), 6);
    CHECK(memcmp(buf, "world!", 6) == 0);
    CHECK(cio_addr_equal(&from, &b_addr));
    /* Datagram boundaries are kept: two sends, two receives. */
    CHECK_EQ(cio_dgram_try_send_to(a, "one", 3, &b_addr), 3);
    CHECK_EQ(cio_dgram_try_send_to(a, "three", 5, &b_addr), 5);
    CHECK_EQ(udp_recv_wait(b, buf, sizeof(buf), NULL), 3);
    CHECK_EQ(udp_recv_wait(b, buf, sizeof(buf), NULL), 5);
    CHECK(memcmp(buf, "three", 5) == 0);
    CHECK_ERR(cio_dgram_try_recv(b, buf, sizeof(buf)), -EAGAIN);
    cio_socket_close(a);
    cio_socket_close(b);
}

static void test_connect_filters_and_disconnect(void)
{
    cio_addr a_addr, b_addr, c_addr, peer;
    cio_udp_socket *a = udp_on("127.0.0.1:0", &a_addr);
    cio_udp_socket *b = udp_on("127.0.0.1:0", &b_addr);
    cio_udp_socket *c = udp_on("127.0.0.1:0", &c_addr);
    CHECK_RC(cio_dgram_connect(a, &b_addr));
    CHECK_RC(cio_socket_peer_addr(a, &peer));
    CHECK(cio_addr_equal(&peer, &b_addr));
    CHECK_EQ(cio_dgram_try_send(a, "to-b", 4), 4);
    char buf[16];
    CHECK_EQ(udp_recv_wait(b, buf, sizeof(buf), NULL), 4);
    /* A connected socket receives only from its peer: c's datagram is dropped. */
    CHECK_EQ(cio_dgram_try_send_to(c, "from-c", 6, &a_addr), 6);
    CHECK_EQ(cio_dgram_try_send_to(b, "from-b", 6, &a_addr), 6);
    cio_addr from;
    CHECK_EQ(udp_recv_wait(a, buf, sizeof(buf), &from), 6);
    CHECK(memcmp(buf, "from-b", 6) == 0);
    CHECK(cio_addr_equal(&from, &b_addr));
    CHECK_ERR(cio_dgram_try_recv(a, buf, sizeof(buf)), -EAGAIN);
    /* Disconnected: anyone again, and the local port is kept. */
    CHECK_RC(cio_dgram_disconnect(a));
    CHECK_ERR(cio_socket_peer_addr(a, &peer), -ENOTCONN);
    cio_addr again;
    CHECK_RC(cio_socket_local_addr(a, &again));
    CHECK(cio_addr_equal(&again, &a_addr));
    CHECK_EQ(cio_dgram_try_send_to(c, "from-c", 6, &a_addr), 6);
    CHECK_EQ(udp_recv_wait(a, buf, sizeof(buf), &from), 6);
    CHECK(cio_addr_equal(&from, &c_addr));
    CHECK_ERR(cio_dgram_try_send(a, "x", 1), -EDESTADDRREQ);
    CHECK_RC(cio_dgram_disconnect(a)); /* not connected: still fine */
    /* A socket bound only by connect keeps its kernel-chosen port too (Linux alone would
     * release it) and is back on the wildcard address. */
    cio_udp_socket *d;
    CHECK_RC(cio_udp_socket_new_v4(&d));
    CHECK_RC(cio_dgram_connect(d, &b_addr));
    cio_addr d_before, d_after;
    CHECK_RC(cio_socket_local_addr(d, &d_before));
    CHECK(cio_addr_port(&d_before) > 0);
    CHECK_RC(cio_dgram_disconnect(d));
    CHECK_RC(cio_socket_local_addr(d, &d_after));
    CHECK_EQ(cio_addr_port(&d_after), cio_addr_port(&d_before));
    char text[CIO_ADDR_STRLEN];
    CHECK_RC(cio_addr_format(&d_after, text, sizeof(text)));
    CHECK(strncmp(text, "0.0.0.0:", 8) == 0);
    cio_socket_close(d);
    cio_socket_close(a);
    cio_socket_close(b);
    cio_socket_close(c);
}

/* CIO_SHUTDOWN_READ on a UDP socket changes nothing a program sees on Linux (cio/socket.h):
 * queued and later datagrams are received, an empty queue says -EAGAIN, the peer is not
 * told. */
static void test_shutdown_read_changes_nothing(void)
{
    cio_addr a_addr, b_addr;
    cio_udp_socket *a = udp_on("127.0.0.1:0", &a_addr);
    cio_udp_socket *b = udp_on("127.0.0.1:0", &b_addr);
    CHECK_RC(cio_dgram_connect(b, &a_addr));
    char buf[16];
    CHECK_EQ(cio_dgram_try_send_to(a, "queued", 6, &b_addr), 6);
    CHECK(wait_fd(cio_socket_fd(b), CIO_READABLE, 5000) & CIO_EVENT_READABLE);
    CHECK_RC(cio_socket_shutdown(b, CIO_SHUTDOWN_READ));
    CHECK_EQ(cio_dgram_try_recv(b, buf, sizeof(buf)), 6);
    CHECK_ERR(cio_dgram_try_recv(b, buf, sizeof(buf)), -EAGAIN);
    CHECK_EQ(cio_dgram_try_send_to(a, "later", 5, &b_addr), 5);
    CHECK_EQ(udp_recv_wait(b, buf, sizeof(buf), NULL), 5);
    CHECK(memcmp(buf, "later", 5) == 0);
    cio_socket_close(a);
    cio_socket_close(b);
}

static void test_empty_datagram(void)
{
    cio_addr b_addr, from;
    cio_udp_socket *a = udp_on("127.0.0.1:0", NULL);
    cio_udp_socket *b = udp_on("127.0.0.1:0", &b_addr);
    /* An empty datagram is a message: it is sent and received, and 0 is not an end. */
    CHECK_EQ(cio_dgram_try_send_to(a, NULL, 0, &b_addr), 0);
    CHECK(wait_fd(cio_socket_fd(b), CIO_READABLE, 5000) & CIO_EVENT_READABLE);
    CHECK_EQ(cio_dgram_try_peek_sender(b, &from), 0);
    CHECK_EQ(cio_dgram_try_recv_from(b, NULL, 0, &from), 0);
    CHECK_ERR(cio_dgram_try_recv(b, NULL, 0), -EAGAIN); /* it was taken */
    /* A zero-length receive of a non-empty datagram is a truncation like any other. */
    CHECK_EQ(cio_dgram_try_send_to(a, "abc", 3, &b_addr), 3);
    CHECK(wait_fd(cio_socket_fd(b), CIO_READABLE, 5000) & CIO_EVENT_READABLE);
    CHECK_ERR(cio_dgram_try_recv(b, NULL, 0), -EMSGSIZE);
    CHECK_ERR(cio_dgram_try_recv(b, NULL, 0), -EAGAIN);
    cio_socket_close(a);
    cio_socket_close(b);
}

static void test_truncation_reported(void)
{
    cio_addr a_addr, b_addr, from;
    cio_udp_socket *a = udp_on("127.0.0.1:0", &a_addr);
    cio_udp_socket *b = udp_on("127.0.0.1:0", &b_addr);
    char payload[100];
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (char)('A' + i % 26);
    char buf[128];

    /* Peek: -EMSGSIZE and the datagram stays queued; peek_sender tells its size. */
    CHECK_EQ(cio_dgram_try_send_to(a, payload, 100, &b_addr), 100);
    CHECK(wait_fd(cio_socket_fd(b), CIO_READABLE, 5000) & CIO_EVENT_READABLE);
    CHECK_ERR(cio_dgram_try_peek(b, buf, 10), -EMSGSIZE);
    CHECK_ERR(cio_dgram_try_peek_from(b, buf, 99, &from), -EMSGSIZE);
    CHECK_EQ(cio_dgram_try_peek_sender(b, &from), 100);
    CHECK(cio_addr_equal(&from, &a_addr));
    CHECK_EQ(cio_dgram_try_peek_from(b, buf, 100, &from), 100); /* exactly fits */
    /* Receive too small: -EMSGSIZE, the first bytes stored, the datagram gone. */
    memset(buf, 0, sizeof(buf));
    CHECK_ERR(cio_dgram_try_recv(b, buf, 10), -EMSGSIZE);
    CHECK(memcmp(buf, payload, 10) == 0);
    CHECK_EQ(buf[10], 0);
    CHECK_ERR(cio_dgram_try_recv(b, buf, sizeof(buf)), -EAGAIN);

    /* recv_from: the same, and ret_from untouched on the error. */
    CHECK_EQ(cio_dgram_try_send_to(a, payload, 100, &b_addr), 100);
    CHECK(wait_fd(cio_socket_fd(b), CIO_READABLE, 5000) & CIO_EVENT_READABLE);
    cio_addr untouched = {0};
    CHECK_ERR(cio_dgram_try_recv_from(b, buf, 50, &untouched), -EMSGSIZE);
    CHECK_EQ(cio_addr_get_kind(&untouched), CIO_ADDR_NONE);

    /* The message call reports it as a flag with the real length. */
    CHECK_EQ(cio_dgram_try_send_to(a, payload, 100, &b_addr), 100);
    struct iovec iov[2] = {{buf, 7}, {buf + 7, 5}};
    cio_udp_msg msg = {.iov = iov, .iovcnt = 2};
    CHECK_EQ(udp_recv_msg_wait(b, &msg), 12);
    CHECK_EQ(msg.len, 12);
    CHECK_EQ(msg.datagram_len, 100);
    CHECK(msg.flags & CIO_UDP_MSG_TRUNC);
    CHECK(memcmp(buf, payload, 12) == 0);
    CHECK(cio_addr_equal(&msg.addr, &a_addr));
    /* A datagram that fits: no flag, datagram_len == len. */
    CHECK_EQ(cio_dgram_try_send_to(a, payload, 12, &b_addr), 12);
    CHECK_EQ(udp_recv_msg_wait(b, &msg), 12);
    CHECK_EQ(msg.datagram_len, 12);
    CHECK_EQ(msg.flags & CIO_UDP_MSG_TRUNC, 0);
    cio_socket_close(a);
    cio_socket_close(b);
}

static void test_peek_keeps_datagram(void)
{
    cio_addr a_addr, b_addr, from;
    cio_udp_socket *a = udp_on("127.0.0.1:0", &a_addr);
    cio_udp_socket *b = udp_on("127.0.0.1:0", &b_addr);
    CHECK_EQ(cio_dgram_try_send_to(a, "peekaboo", 8, &b_addr), 8);
    char buf[16] = {0};
    CHECK(wait_fd(cio_socket_fd(b), CIO_READABLE, 5000) & CIO_EVENT_READABLE);
    CHECK_EQ(cio_dgram_try_peek(b, buf, sizeof(buf)), 8);
    CHECK_EQ(cio_dgram_try_peek_from(b, buf, sizeof(buf), &from), 8);
    CHECK(cio_addr_equal(&from, &a_addr));
    CHECK_EQ(cio_dgram_try_peek_sender(b, NULL), 8);
    CHECK_EQ(cio_dgram_try_recv(b, buf, sizeof(buf)), 8);
    CHECK(memcmp(buf, "peekaboo", 8) == 0);
    CHECK_ERR(cio_dgram_try_peek(b, buf, sizeof(buf)), -EAGAIN);
    cio_socket_close(a);
    cio_socket_close(b);
}

static void test_connection_refused(void)
{
    /* A port that was just in use and is now closed: nobody listens there. */
    cio_addr gone;
    cio_udp_socket *tmp = udp_on("127.0.0.1:0", &gone);
    cio_socket_close(tmp);
    cio_udp_socket *a = udp_on("127.0.0.1:0", NULL);
    CHECK_RC(cio_dgram_connect(a, &gone));
    CHECK_EQ(cio_dgram_try_send(a, "ping", 4), 4);
    /* The ICMP port unreachable comes back as an error event, then -ECONNREFUSED once. */
    CHECK(wait_fd(cio_socket_fd(a), CIO_READABLE, 5000) != 0);
    char buf[8];
    CHECK_ERR(cio_dgram_try_recv(a, buf, sizeof(buf)), -ECONNREFUSED);
    CHECK_ERR(cio_dgram_try_recv(a, buf, sizeof(buf)), -EAGAIN);
    /* take_error reads the same error when it is still pending. */
    CHECK_EQ(cio_dgram_try_send(a, "ping", 4), 4);
    CHECK(wait_fd(cio_socket_fd(a), CIO_READABLE, 5000) != 0);
    CHECK_ERR(cio_socket_take_error(a), -ECONNREFUSED);
    CHECK_EQ(cio_socket_take_error(a), 0);
    cio_socket_close(a);
}

static void test_options_v4(void)
{
    cio_udp_socket *s = udp_on("127.0.0.1:0", NULL);
    bool on;
    int value;
    CHECK_RC(cio_udp_socket_broadcast(s, &on));
    CHECK(!on);
    CHECK_RC(cio_udp_socket_set_broadcast(s, true));
    CHECK_RC(cio_udp_socket_broadcast(s, &on));
    CHECK(on);

    CHECK_RC(cio_socket_set_ttl(s, 42));
    CHECK_RC(cio_socket_ttl(s, &value));
    CHECK_EQ(value, 42);
    CHECK_ERR(cio_socket_set_ttl(s, 0), -EINVAL);
    CHECK_ERR(cio_socket_set_ttl(s, 256), -EINVAL);

    CHECK_RC(cio_socket_set_tos(s, 0x12)); /* DSCP 4 with ECT(0) */
    CHECK_RC(cio_socket_tos(s, &value));
    CHECK_EQ(value, 0x12);
    CHECK_ERR(cio_socket_set_tos(s, 256), -EINVAL);
    CHECK_ERR(cio_socket_set_tos(s, -1), -EINVAL);

    CHECK_RC(cio_socket_set_reuseaddr(s, true));
    CHECK_RC(cio_socket_reuseaddr(s, &on));
    CHECK(on);
    CHECK_RC(cio_socket_set_reuseport(s, true));
    CHECK_RC(cio_socket_reuseport(s, &on));
    CHECK(on);
    CHECK_RC(cio_socket_set_reuseport(s, false));
    CHECK_RC(cio_socket_reuseport(s, &on));
    CHECK(!on);

    CHECK_RC(cio_socket_set_send_buffer_size(s, 65536));
    CHECK_RC(cio_socket_send_buffer_size(s, &value));
    CHECK(value >= 65536); /* Linux doubles it */
    CHECK_RC(cio_socket_set_recv_buffer_size(s, 100000));
    CHECK_RC(cio_socket_recv_buffer_size(s, &value));
    CHECK(value >= 100000);
    CHECK_ERR(cio_socket_set_recv_buffer_size(s, -1), -EINVAL);

    size_t segment;
    CHECK_RC(cio_udp_socket_gso_segment(s, &segment));
    CHECK_EQ(segment, 0);
    CHECK_RC(cio_udp_socket_set_gso_segment(s, 1200));
    CHECK_RC(cio_udp_socket_gso_segment(s, &segment));
    CHECK_EQ(segment, 1200);
    CHECK_ERR(cio_udp_socket_set_gso_segment(s, 65536), -EINVAL);
    CHECK_RC(cio_udp_socket_set_gso_segment(s, 0));
    CHECK_RC(cio_udp_socket_gso_segment(s, &segment));
    CHECK_EQ(segment, 0);

    CHECK_RC(cio_udp_socket_gro(s, &on));
    CHECK(!on);
    CHECK_RC(cio_udp_socket_set_gro(s, true));
    CHECK_RC(cio_udp_socket_gro(s, &on));
    CHECK(on);

    CHECK_RC(cio_udp_socket_set_recv_pktinfo(s, true));
    CHECK_RC(cio_udp_socket_recv_pktinfo(s, &on));
    CHECK(on);
    CHECK_RC(cio_udp_socket_set_recv_tos(s, true));
    CHECK_RC(cio_udp_socket_recv_tos(s, &on));
    CHECK(on);
    CHECK_RC(cio_udp_socket_set_recv_tos(s, false));
    CHECK_RC(cio_udp_socket_recv_tos(s, &on));
    CHECK(!on);

    CHECK_RC(cio_udp_socket_multicast_loop_v4(s, &on));
    CHECK(on); /* the default */
    CHECK_RC(cio_udp_socket_set_multicast_loop_v4(s, false));
    CHECK_RC(cio_udp_socket_multicast_loop_v4(s, &on));
    CHECK(!on);
    CHECK_RC(cio_udp_socket_multicast_ttl_v4(s, &value));
    CHECK_EQ(value, 1); /* the default */
    CHECK_RC(cio_udp_socket_set_multicast_ttl_v4(s, 8));
    CHECK_RC(cio_udp_socket_multicast_ttl_v4(s, &value));
    CHECK_EQ(value, 8);
    CHECK_ERR(cio_udp_socket_set_multicast_ttl_v4(s, 256), -EINVAL);
    uint32_t interface;
    CHECK_RC(cio_udp_socket_set_multicast_if_v4(s, CIO_IPV4_LOOPBACK));
    CHECK_RC(cio_udp_socket_multicast_if_v4(s, &interface));
    CHECK_EQ(interface, CIO_IPV4_LOOPBACK);
    CHECK_RC(cio_udp_socket_set_multicast_if_v4(s, CIO_IPV4_ANY));
    CHECK_RC(cio_udp_socket_multicast_if_v4(s, &interface));
    CHECK_EQ(interface, CIO_IPV4_ANY);
    CHECK_RC(cio_udp_socket_multicast_all_v4(s, &on));
    CHECK(on); /* Linux's default */
    CHECK_RC(cio_udp_socket_set_multicast_all_v4(s, false));
    CHECK_RC(cio_udp_socket_multicast_all_v4(s, &on));
    CHECK(!on);

    /* IPv6-level options on an IPv4 socket. */
    CHECK_ERR(cio_socket_set_v6only(s, true), -EINVAL);
    CHECK_ERR(cio_socket_v6only(s, &on), -EINVAL);
    CHECK_ERR(cio_udp_socket_set_multicast_loop_v6(s, true), -EINVAL);
    CHECK_ERR(cio_udp_socket_set_multicast_hops_v6(s, 1), -EINVAL);
    CHECK_ERR(cio_udp_socket_set_multicast_if_v6(s, 1), -EINVAL);
    CHECK_ERR(cio_udp_socket_set_multicast_all_v6(s, false), -EINVAL);
    uint8_t group[16] = {0xff, 0x02, [15] = 1};
    CHECK_ERR(cio_udp_socket_join_multicast_v6(s, group, 0), -EINVAL);

    /* Bind to a device: needs CAP_NET_RAW. */
    char name[IF_NAMESIZE];
    CHECK_RC(cio_socket_bind_device(s, name, sizeof(name)));
    CHECK_EQ(name[0], '\0');
    int rc = cio_socket_set_bind_device(s, "lo");
    if (rc == 0) {
        CHECK_RC(cio_socket_bind_device(s, name, sizeof(name)));
        CHECK(strcmp(name, "lo") == 0);
        CHECK_ERR(cio_socket_bind_device(s, name, 2), -ENOSPC);
        CHECK_RC(cio_socket_set_bind_device(s, NULL));
        CHECK_RC(cio_socket_bind_device(s, name, sizeof(name)));
        CHECK_EQ(name[0], '\0');
        CHECK_ERR(cio_socket_set_bind_device(s, "no-such-if0"), -ENODEV);
    } else {
        CHECK_ERR(rc, -EPERM);
    }
    CHECK_ERR(cio_socket_set_bind_device(s, "a-name-of-16-chr"), -EINVAL);
    cio_socket_close(s);
}

static void test_options_v6(void)
{
    const char *reason;
    if (!ipv6_loopback_available(&reason))
        TEST_SKIP("%s", reason);
    cio_udp_socket *s;
    CHECK_RC(cio_udp_socket_new_v6(&s));
    CHECK_FD_FLAGS(cio_socket_fd(s));
    bool on;
    int value;
    CHECK_RC(cio_socket_set_v6only(s, true));
    CHECK_RC(cio_socket_v6only(s, &on));
    CHECK(on);
    CHECK_RC(cio_socket_set_v6only(s, false));
    CHECK_RC(cio_socket_v6only(s, &on));
    CHECK(!on);
    CHECK_RC(cio_socket_set_ttl(s, 17));
    CHECK_RC(cio_socket_ttl(s, &value));
    CHECK_EQ(value, 17);
    CHECK_RC(cio_socket_set_tos(s, 0xb8));
    CHECK_RC(cio_socket_tos(s, &value));
    CHECK_EQ(value, 0xb8);
    CHECK_RC(cio_udp_socket_set_multicast_loop_v6(s, false));
    CHECK_RC(cio_udp_socket_multicast_loop_v6(s, &on));
    CHECK(!on);
    CHECK_RC(cio_udp_socket_set_multicast_hops_v6(s, 5));
    CHECK_RC(cio_udp_socket_multicast_hops_v6(s, &value));
    CHECK_EQ(value, 5);
    CHECK_ERR(cio_udp_socket_set_multicast_hops_v6(s, 256), -EINVAL);
    unsigned index = loopback_index(), got;
    CHECK_RC(cio_udp_socket_set_multicast_if_v6(s, index));
    CHECK_RC(cio_udp_socket_multicast_if_v6(s, &got));
    CHECK_EQ(got, index);
    int rc = cio_udp_socket_set_multicast_all_v6(s, false);
    if (rc != -ENOPROTOOPT) { /* Linux 4.20+ */
        CHECK_RC(rc);
        CHECK_RC(cio_udp_socket_multicast_all_v6(s, &on));
        CHECK(!on);
    }
    CHECK_RC(cio_udp_socket_set_recv_pktinfo(s, true));
    CHECK_RC(cio_udp_socket_recv_pktinfo(s, &on));
    CHECK(on);
    CHECK_RC(cio_udp_socket_set_recv_tos(s, true));
    CHECK_RC(cio_udp_socket_recv_tos(s, &on));
    CHECK(on);
    /* IPv4-level options also apply to a dual-stack socket's IPv4 traffic. */
    CHECK_RC(cio_udp_socket_set_multicast_ttl_v4(s, 3));
    CHECK_RC(cio_udp_socket_multicast_ttl_v4(s, &value));
    CHECK_EQ(value, 3);

    cio_addr addr;
    CHECK_RC(cio_addr_parse(&addr, "127.0.0.1:0"));
    CHECK_ERR(cio_socket_bind(s, &addr), -EAFNOSUPPORT);
    CHECK_RC(cio_addr_parse(&addr, "[::1]:0"));
    CHECK_RC(cio_socket_bind(s, &addr));
    CHECK_ERR(cio_socket_bind(s, &addr), -EINVAL); /* bound already */
    cio_addr local;
    CHECK_RC(cio_socket_local_addr(s, &local));
    CHECK_EQ(cio_addr_get_kind(&local), CIO_ADDR_IPV6);
    CHECK(cio_addr_port(&local) > 0);
    cio_socket_close(s);
}

static void test_ipv6_exchange(void)
{
    const char *reason;
    if (!ipv6_loopback_available(&reason))
        TEST_SKIP("%s", reason);
    cio_addr a_addr, b_addr, from;
    cio_udp_socket *a = udp_on("[::1]:0", &a_addr);
    cio_udp_socket *b = udp_on("[::1]:0", &b_addr);
    CHECK_EQ(cio_dgram_try_send_to(a, "six", 3, &b_addr), 3);
    char buf[8];
    CHECK_EQ(udp_recv_wait(b, buf, sizeof(buf), &from), 3);
    CHECK(cio_addr_equal(&from, &a_addr));
    CHECK_RC(cio_dgram_connect(b, &a_addr));
    CHECK_EQ(cio_dgram_try_send(b, "back", 4), 4);
    CHECK_EQ(udp_recv_wait(a, buf, sizeof(buf), NULL), 4);
    /* An IPv4 socket cannot reach an IPv6 address, and cannot connect to one. */
    cio_udp_socket *v4 = udp_on("127.0.0.1:0", NULL);
    CHECK_ERR(cio_dgram_try_send_to(v4, "x", 1, &b_addr), -EAFNOSUPPORT);
    CHECK_ERR(cio_dgram_connect(v4, &b_addr), -EAFNOSUPPORT);
    cio_socket_close(v4);
    cio_socket_close(a);
    cio_socket_close(b);
}

static void test_pktinfo_and_tos(void)
{
    /* A receiver on the wildcard address learns which local address each datagram was sent
     * to, and its TOS byte; a sender on the wildcard address picks its source per datagram. */
    cio_addr any, r_addr, dst;
    CHECK_RC(cio_addr_parse(&any, "0.0.0.0:0"));
    cio_udp_socket *r, *s;
    CHECK_RC(cio_udp_socket_new(&r, &any));
    CHECK_RC(cio_udp_socket_new(&s, &any));
    CHECK_RC(cio_socket_local_addr(r, &r_addr));
    CHECK_RC(cio_udp_socket_set_recv_pktinfo(r, true));
    CHECK_RC(cio_udp_socket_set_recv_tos(r, true));
    unsigned lo = loopback_index();

    CHECK_RC(cio_addr_ipv4(&dst, CIO_IPV4(127, 0, 0, 3), (uint16_t)cio_addr_port(&r_addr)));
    char data[] = "with info";
    struct iovec iov = {data, sizeof(data)};
    cio_udp_msg out = {
        .iov = &iov, .iovcnt = 1, .addr = dst, .tos = 0x12, .flags = CIO_UDP_MSG_TOS};
    CHECK_RC(cio_addr_ipv4(&out.local, CIO_IPV4(127, 0, 0, 2), 0));
    CHECK_EQ(cio_udp_socket_try_send_msg(s, &out), sizeof(data));
    CHECK_EQ(out.len, sizeof(data));

    char buf[64];
    struct iovec riov = {buf, sizeof(buf)};
    cio_udp_msg in = {.iov = &riov, .iovcnt = 1};
    CHECK_EQ(udp_recv_msg_wait(r, &in), sizeof(data));
    CHECK(memcmp(buf, data, sizeof(data)) == 0);
    cio_addr expect;
    CHECK_RC(cio_addr_ipv4(&expect, CIO_IPV4(127, 0, 0, 3), 0));
    CHECK(cio_addr_equal(&in.local, &expect)); /* the destination it was sent to */
    CHECK_EQ(in.ifindex, lo);
    CHECK(in.flags & CIO_UDP_MSG_TOS);
    CHECK_EQ(in.tos, 0x12);
    CHECK_EQ(in.segment_size, 0);
    /* The source came from out.local. */
    CHECK_EQ(cio_addr_get_kind(&in.addr), CIO_ADDR_IPV4);
    char text[CIO_ADDR_STRLEN];
    CHECK_RC(cio_addr_format(&in.addr, text, sizeof(text)));
    CHECK(strncmp(text, "127.0.0.2:", 10) == 0);

    /* Without the options nothing is reported. */
    CHECK_RC(cio_udp_socket_set_recv_pktinfo(r, false));
    CHECK_RC(cio_udp_socket_set_recv_tos(r, false));
    out.flags = 0;
    CHECK_EQ(cio_udp_socket_try_send_msg(s, &out), sizeof(data));
    CHECK_EQ(udp_recv_msg_wait(r, &in), sizeof(data));
    CHECK_EQ(cio_addr_get_kind(&in.local), CIO_ADDR_NONE);
    CHECK_EQ(in.ifindex, 0);
    CHECK_EQ(in.flags, 0);

    /* Bad messages are refused before anything is sent. */
    out.tos = 300;
    out.flags = CIO_UDP_MSG_TOS;
    CHECK_ERR(cio_udp_socket_try_send_msg(s, &out), -EINVAL);
    out.flags = 0;
    out.segment_size = 70000;
    CHECK_ERR(cio_udp_socket_try_send_msg(s, &out), -EINVAL);
    out.segment_size = 0;
    CHECK_RC(cio_addr_parse(&out.local, "[::1]:0"));
    CHECK_ERR(cio_udp_socket_try_send_msg(s, &out), -EINVAL); /* IPv6 source, IPv4 socket */
    CHECK_RC(cio_addr_parse(&out.addr, "@abstract"));
    memset(&out.local, 0, sizeof(out.local));
    CHECK_ERR(cio_udp_socket_try_send_msg(s, &out), -EAFNOSUPPORT);
    out.addr = dst;
    out.iovcnt = -1;
    CHECK_ERR(cio_udp_socket_try_send_msg(s, &out), -EINVAL);
    CHECK_ERR(cio_udp_socket_try_send_msg(s, NULL), -EINVAL);
    CHECK_ERR(cio_udp_socket_try_recv_msg(r, NULL), -EINVAL);
    udp_expect_nothing(r, 100);
    cio_socket_close(r);
    cio_socket_close(s);
}

static void test_pktinfo_v6(void)
{
    const char *reason;
    if (!ipv6_loopback_available(&reason))
        TEST_SKIP("%s", reason);
    cio_addr any, r_addr;
    CHECK_RC(cio_addr_parse(&any, "[::]:0"));
    cio_udp_socket *r;
    CHECK_RC(cio_udp_socket_new(&r, &any));
    CHECK_RC(cio_socket_local_addr(r, &r_addr));
    CHECK_RC(cio_udp_socket_set_recv_pktinfo(r, true));
    CHECK_RC(cio_udp_socket_set_recv_tos(r, true));
    cio_udp_socket *s = udp_on("[::1]:0", NULL);
    cio_addr dst;
    CHECK_RC(cio_addr_parse(&dst, "[::1]:0"));
    CHECK_RC(cio_addr_set_port(&dst, (uint16_t)cio_addr_port(&r_addr)));
    char data[] = "v6 info";
    struct iovec iov = {data, sizeof(data)};
    cio_udp_msg out = {
        .iov = &iov, .iovcnt = 1, .addr = dst, .tos = 0xb9, .flags = CIO_UDP_MSG_TOS};
    CHECK_EQ(cio_udp_socket_try_send_msg(s, &out), sizeof(data));
    char buf[64];
    struct iovec riov = {buf, sizeof(buf)};
    cio_udp_msg in = {.iov = &riov, .iovcnt = 1};
    CHECK_EQ(udp_recv_msg_wait(r, &in), sizeof(data));
    cio_addr expect;
    CHECK_RC(cio_addr_parse(&expect, "[::1]:0"));
    CHECK(cio_addr_equal(&in.local, &expect));
    CHECK_EQ(in.ifindex, loopback_index());
    CHECK(in.flags & CIO_UDP_MSG_TOS);
    CHECK_EQ(in.tos, 0xb9);
    cio_socket_close(r);
    cio_socket_close(s);
}

static void test_bad_arguments(void)
{
    cio_addr addr, unix_addr;
    CHECK_RC(cio_addr_parse(&addr, "127.0.0.1:0"));
    CHECK_RC(cio_addr_parse(&unix_addr, "@cio-udp-test"));
    cio_udp_socket *s = NULL;
    CHECK_ERR(cio_udp_socket_new(NULL, &addr), -EINVAL);
    CHECK_ERR(cio_udp_socket_new(&s, NULL), -EINVAL);
    CHECK_ERR(cio_udp_socket_new(&s, &unix_addr), -EAFNOSUPPORT);
    cio_addr empty = {0};
    CHECK_ERR(cio_udp_socket_new(&s, &empty), -EAFNOSUPPORT);
    CHECK(s == NULL);
    CHECK_ERR(cio_udp_socket_new_v4(NULL), -EINVAL);

    char buf[8];
    CHECK_ERR((cio_dgram_try_send)(NULL, "x", 1), -EINVAL);
    CHECK_ERR((cio_dgram_try_send_to)(NULL, "x", 1, &addr), -EINVAL);
    CHECK_ERR((cio_dgram_try_recv)(NULL, buf, 1), -EINVAL);
    CHECK_ERR((cio_dgram_try_recv_from)(NULL, buf, 1, NULL), -EINVAL);
    CHECK_ERR((cio_dgram_try_peek)(NULL, buf, 1), -EINVAL);
    CHECK_ERR((cio_dgram_try_peek_sender)(NULL, NULL), -EINVAL);
    CHECK_ERR((cio_dgram_connect)(NULL, &addr), -EINVAL);
    CHECK_ERR((cio_dgram_disconnect)(NULL), -EINVAL);
    CHECK_ERR((cio_socket_local_addr)(NULL, &addr), -EINVAL);
    CHECK_ERR((cio_socket_peer_addr)(NULL, &addr), -EINVAL);
    CHECK_ERR((cio_socket_take_error)(NULL), -EINVAL);
    CHECK_ERR((cio_socket_fd)(NULL), -EINVAL);
    CHECK_ERR((cio_socket_into_fd)(NULL), -EINVAL);
    CHECK_ERR(cio_udp_socket_set_broadcast(NULL, true), -EINVAL);
    CHECK_ERR((cio_socket_ttl)(NULL, NULL), -EINVAL);
    CHECK_ERR(cio_udp_socket_try_send_batch(NULL, NULL, 0), -EINVAL);
    CHECK_ERR(cio_udp_socket_try_recv_batch(NULL, NULL, 0), -EINVAL);
    CHECK_ERR(cio_udp_socket_join_multicast_v4(NULL, CIO_IPV4(239, 0, 0, 1), 0), -EINVAL);

    s = udp_on("127.0.0.1:0", &addr);
    CHECK_ERR(cio_dgram_try_send_to(s, "x", 1, NULL), -EINVAL);
    CHECK_ERR(cio_dgram_try_send_to(s, "x", 1, &unix_addr), -EAFNOSUPPORT);
    CHECK_ERR(cio_dgram_try_send_to(s, NULL, 1, &addr), -EINVAL);
    CHECK_ERR(cio_dgram_try_recv(s, NULL, 1), -EINVAL);
    CHECK_ERR(cio_dgram_connect(s, NULL), -EINVAL);
    CHECK_ERR(cio_dgram_connect(s, &unix_addr), -EAFNOSUPPORT);
    CHECK_ERR(cio_socket_local_addr(s, NULL), -EINVAL);
    CHECK_ERR(cio_socket_ttl(s, NULL), -EINVAL);
    CHECK_ERR(cio_udp_socket_broadcast(s, NULL), -EINVAL);
    CHECK_ERR(cio_udp_socket_gso_segment(s, NULL), -EINVAL);
    CHECK_ERR(cio_udp_socket_multicast_if_v4(s, NULL), -EINVAL);
    CHECK_ERR(cio_socket_bind_device(s, NULL, 0), -EINVAL);
    CHECK_ERR(cio_udp_socket_join_source_multicast(s, NULL, &addr, 0), -EINVAL);
    CHECK_ERR(cio_udp_socket_join_source_multicast(s, &unix_addr, &addr, 0), -EAFNOSUPPORT);
    /* Address in use: a second socket on the same address and port. */
    cio_udp_socket *other = NULL;
    CHECK_ERR(cio_udp_socket_new(&other, &addr), -EADDRINUSE);
    CHECK(other == NULL);
    /* The wrong family for bind_to, and a non-local address. */
    cio_udp_socket *unbound;
    CHECK_RC(cio_udp_socket_new_v4(&unbound));
    CHECK_FD_FLAGS(cio_socket_fd(unbound));
    CHECK_ERR(cio_socket_bind(unbound, &unix_addr), -EAFNOSUPPORT);
    CHECK_ERR(cio_socket_bind(unbound, NULL), -EINVAL);
    cio_addr v6;
    CHECK_RC(cio_addr_parse(&v6, "[::1]:0"));
    CHECK_ERR(cio_socket_bind(unbound, &v6), -EAFNOSUPPORT);
    CHECK_ERR(cio_socket_bind(unbound, &addr), -EADDRINUSE);
    cio_socket_close(unbound);
    cio_socket_close(s);
}

static void test_from_fd_checks(void)
{
    cio_udp_socket *s = NULL;
    CHECK_ERR(cio_udp_socket_from_fd(&s, -1), -EBADF);
    CHECK_ERR(cio_udp_socket_from_fd(NULL, 0), -EINVAL);
    int fds[2];
    CHECK_SYS(pipe2(fds, O_CLOEXEC));
    CHECK_ERR(cio_udp_socket_from_fd(&s, fds[0]), -ENOTSOCK);
    int closed = fds[0];
    close(fds[0]);
    close(fds[1]);
    CHECK_ERR(cio_udp_socket_from_fd(&s, closed), -EBADF);
    int tcp = (int)CHECK_SYS(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    CHECK_ERR(cio_udp_socket_from_fd(&s, tcp), -EPROTOTYPE);
    /* Refused descriptors are left exactly as they were (still blocking). */
    CHECK_EQ(fcntl(tcp, F_GETFL) & O_NONBLOCK, 0);
    close(tcp);
    int unix_dgram = (int)CHECK_SYS(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    CHECK_ERR(cio_udp_socket_from_fd(&s, unix_dgram), -EAFNOSUPPORT);
    close(unix_dgram);
    CHECK(s == NULL);
}

static void test_from_fd_and_into_fd(void)
{
    /* A blocking, inheritable UDP socket made elsewhere becomes non-blocking and
     * close-on-exec; into_fd hands it back open with those flags. */
    int fd = (int)CHECK_SYS(socket(AF_INET, SOCK_DGRAM, 0));
    CHECK(!cio_test_fd_nonblock_cloexec(fd));
    cio_udp_socket *s;
    CHECK_RC(cio_udp_socket_from_fd(&s, fd));
    CHECK_EQ(cio_socket_fd(s), fd);
    CHECK_FD_FLAGS(fd);
    char buf[4];
    CHECK_ERR(cio_dgram_try_recv(s, buf, sizeof(buf)), -EAGAIN); /* does not block */
    cio_addr addr;
    CHECK_RC(cio_addr_parse(&addr, "127.0.0.1:0"));
    CHECK_RC(cio_socket_bind(s, &addr));
    CHECK_EQ(cio_socket_into_fd(s), fd);
    CHECK_FD_FLAGS(fd);
    /* Still a working socket, adoptable again. */
    CHECK_RC(cio_udp_socket_from_fd(&s, fd));
    CHECK_RC(cio_socket_local_addr(s, &addr));
    CHECK(cio_addr_port(&addr) > 0);
    cio_socket_close(s);
    CHECK(fcntl(fd, F_GETFD) < 0); /* closed */
}

static void test_poll_drain_edge_triggered(void)
{
    /* A cio_poll loop as a mio program writes it: on each readable event, receive until
     * -EAGAIN. Ten bursts of datagrams, each fully drained, none lost or repeated. */
    cio_addr r_addr;
    cio_udp_socket *r = udp_on("127.0.0.1:0", &r_addr);
    cio_udp_socket *s = udp_on("127.0.0.1:0", NULL);
    cio_poll *poll;
    cio_events *events;
    CHECK_RC(cio_poll_new(&poll, NULL));
    CHECK_RC(cio_events_new(&events, 8));
    CHECK_RC(cio_poll_register(poll, cio_socket_fd(r), 42, CIO_READABLE));
    uint32_t next = 0, sent = 0;
    for (int burst = 0; burst < 10; burst++) {
        for (int i = 0; i < 20; i++, sent++)
            CHECK_EQ(cio_dgram_try_send_to(s, &sent, sizeof(sent), &r_addr), sizeof(sent));
        int64_t deadline = cio_test_now_ms() + 5000;
        while (next < sent) {
            CHECK(cio_test_now_ms() < deadline);
            int n = cio_poll_wait_ms(poll, events, 1000);
            CHECK(n >= 0 || n == -EINTR);
            const cio_event *ev;
            for (size_t it = 0; (ev = cio_events_next(events, &it)) != NULL;) {
                CHECK_EQ(ev->token, 42);
                for (;;) {
                    uint32_t value;
                    ssize_t got = cio_dgram_try_recv(r, &value, sizeof(value));
                    if (got == -EAGAIN)
                        break;
                    CHECK_EQ(got, sizeof(value));
                    CHECK_EQ(value, next);
                    next++;
                }
            }
        }
    }
    CHECK_EQ(next, 200);
    CHECK_RC(cio_poll_deregister(poll, cio_socket_fd(r)));
    cio_events_free(events);
    cio_poll_free(poll);
    cio_socket_close(r);
    cio_socket_close(s);
}

static void test_broadcast_on_loopback(void)
{
    /* 127.255.255.255 is the broadcast address of lo's 127.0.0.0/8: a broadcast that never
     * leaves the host. */
    cio_addr any, r_addr, bcast, from, s_addr;
    CHECK_RC(cio_addr_parse(&any, "0.0.0.0:0"));
    cio_udp_socket *r;
    CHECK_RC(cio_udp_socket_new(&r, &any));
    CHECK_RC(cio_socket_local_addr(r, &r_addr));
    cio_udp_socket *s = udp_on("127.0.0.1:0", &s_addr);
    CHECK_RC(cio_addr_ipv4(&bcast, CIO_IPV4(127, 255, 255, 255), (uint16_t)cio_addr_port(&r_addr)));
    /* Without SO_BROADCAST, Linux refuses a broadcast destination at once. */
    ssize_t rc = cio_dgram_try_send_to(s, "x", 1, &bcast);
    if (rc != -EACCES)
        TEST_SKIP("no broadcast route on lo here (send gave %s)", cio_strerror((int)rc));
    CHECK_RC(cio_udp_socket_set_broadcast(s, true));
    CHECK_EQ(cio_dgram_try_send_to(s, "y", 1, &bcast), 1);
    char buf[4];
    CHECK_EQ(udp_recv_wait(r, buf, sizeof(buf), &from), 1);
    CHECK_EQ(buf[0], 'y');
    CHECK(cio_addr_equal(&from, &s_addr));
    cio_socket_close(r);
    cio_socket_close(s);
}

CIO_TEST_MAIN(TEST(test_bind_and_addresses), TEST(test_send_to_recv_from),
              TEST(test_connect_filters_and_disconnect), TEST(test_shutdown_read_changes_nothing),
              TEST(test_empty_datagram), TEST(test_truncation_reported),
              TEST(test_peek_keeps_datagram), TEST(test_connection_refused), TEST(test_options_v4),
              TEST(test_options_v6), TEST(test_ipv6_exchange), TEST(test_pktinfo_and_tos),
              TEST(test_pktinfo_v6), TEST(test_bad_arguments), TEST(test_from_fd_checks),
              TEST(test_from_fd_and_into_fd), TEST(test_poll_drain_edge_triggered),
              TEST(test_broadcast_on_loopback))
