/*
 * test_udp_multicast.c: multicast on the loopback interface only — joining and leaving IPv4
 * groups on lo (127.0.0.1) with delivery checked, the errors of joining twice, leaving what
 * was not joined and joining a unicast address; Linux's IP_MULTICAST_ALL quirk (a wildcard
 * socket receives groups it never joined) and turning it off; source-specific multicast
 * filtering by sender; IPv6 membership on lo, and IPv6 delivery where the kernel routes
 * IPv6 multicast on lo (it usually does not: lo lacks the MULTICAST flag; the case then
 * skips with the errno). Ports are kernel-chosen, so concurrent runs cannot cross-talk.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "cio/net.h"
#include "cio/udp.h"
#include "harness.h"
#include "test_udp_helpers.h"

#define GROUP_V4 CIO_IPV4(239, 255, 67, 73)
#define SSM_GROUP_V4 CIO_IPV4(232, 67, 73, 1)

/* A receiver on 0.0.0.0 (port 0, or `port` with SO_REUSEADDR), and its port. */
static cio_udp_socket *wildcard_receiver(uint16_t port, uint16_t *ret_port)
{
    cio_udp_socket *r;
    cio_addr any, local;
    CHECK_RC(cio_addr_ipv4(&any, CIO_IPV4_ANY, port));
    CHECK_RC(cio_udp_socket_new_v4(&r));
    CHECK_FD_FLAGS(cio_socket_fd(r));
    CHECK_RC(cio_socket_set_reuseaddr(r, true));
    CHECK_RC(cio_socket_bind(r, &any));
    CHECK_RC(cio_socket_local_addr(r, &local));
    *ret_port = (uint16_t)cio_addr_port(&local);
    return r;
}

/* A sender bound to `ip`, sending multicast through lo. */
static cio_udp_socket *lo_sender(uint32_t ip)
{
    cio_addr addr;
    CHECK_RC(cio_addr_ipv4(&addr, ip, 0));
    cio_udp_socket *s;
    CHECK_RC(cio_udp_socket_new(&s, &addr));
    CHECK_RC(cio_udp_socket_set_multicast_if_v4(s, CIO_IPV4_LOOPBACK));
    CHECK_RC(cio_udp_socket_set_multicast_loop_v4(s, true));
    return s;
}

static void send_group(cio_udp_socket *s, uint32_t group, uint16_t port, const char *text)
{
    cio_addr dst;
    CHECK_RC(cio_addr_ipv4(&dst, group, port));
    ssize_t n = cio_dgram_try_send_to(s, text, strlen(text), &dst);
    if (n == -ENETUNREACH || n == -ENODEV || n == -EADDRNOTAVAIL)
        TEST_SKIP("kernel cannot send IPv4 multicast on lo: %s", cio_strerror((int)n));
    CHECK_EQ(n, strlen(text));
}

static void expect_text(cio_udp_socket *r, const char *text)
{
    char buf[64];
    ssize_t n = udp_recv_wait(r, buf, sizeof(buf), NULL);
    CHECK_EQ(n, strlen(text));
    CHECK(memcmp(buf, text, strlen(text)) == 0);
}

static void join_or_skip(cio_udp_socket *r, uint32_t group)
{
    int rc = cio_udp_socket_join_multicast_v4(r, group, CIO_IPV4_LOOPBACK);
    if (rc == -ENODEV || rc == -EADDRNOTAVAIL || rc == -ENOBUFS)
        TEST_SKIP("kernel refused an IPv4 multicast join on lo: %s", cio_strerror(rc));
    CHECK_RC(rc);
}

static void test_join_deliver_leave_v4(void)
{
    uint16_t port;
    cio_udp_socket *r = wildcard_receiver(0, &port);
    CHECK_RC(cio_udp_socket_set_multicast_all_v4(r, false));
    CHECK_RC(cio_udp_socket_set_recv_pktinfo(r, true));
    join_or_skip(r, GROUP_V4);
    CHECK_ERR(cio_udp_socket_join_multicast_v4(r, GROUP_V4, CIO_IPV4_LOOPBACK), -EADDRINUSE);
    CHECK_ERR(cio_udp_socket_join_multicast_v4(r, CIO_IPV4_LOOPBACK, CIO_IPV4_LOOPBACK), -EINVAL);

    cio_udp_socket *s = lo_sender(CIO_IPV4_LOOPBACK);
    send_group(s, GROUP_V4, port, "to the group");
    /* Packet info says it was sent to the group, on lo. */
    char buf[64];
    struct iovec iov = {buf, sizeof(buf)};
    cio_udp_msg in = {.iov = &iov, .iovcnt = 1};
    CHECK_EQ(udp_recv_msg_wait(r, &in), 12);
    CHECK(memcmp(buf, "to the group", 12) == 0);
    cio_addr group;
    CHECK_RC(cio_addr_ipv4(&group, GROUP_V4, 0));
    CHECK(cio_addr_equal(&in.local, &group));
    CHECK_EQ(in.ifindex, loopback_index());

    /* Left: nothing more arrives; leaving again is an error. */
    CHECK_RC(cio_udp_socket_leave_multicast_v4(r, GROUP_V4, CIO_IPV4_LOOPBACK));
    CHECK_ERR(cio_udp_socket_leave_multicast_v4(r, GROUP_V4, CIO_IPV4_LOOPBACK), -EADDRNOTAVAIL);
    send_group(s, GROUP_V4, port, "after leave");
    udp_expect_nothing(r, 200);
    cio_socket_close(s);
    cio_socket_close(r);
}

static void test_multicast_all_quirk(void)
{
    /* Two wildcard sockets on one port; only `member` joins. With IP_MULTICAST_ALL on (the
     * Linux default) the other one receives the group's datagrams too; off, it does not. */
    uint16_t port;
    cio_udp_socket *member = wildcard_receiver(0, &port);
    uint16_t same;
    cio_udp_socket *bystander = wildcard_receiver(port, &same);
    CHECK_EQ(same, port);
    join_or_skip(member, GROUP_V4);
    cio_udp_socket *s = lo_sender(CIO_IPV4_LOOPBACK);

    bool on;
    CHECK_RC(cio_udp_socket_multicast_all_v4(bystander, &on));
    CHECK(on);
    send_group(s, GROUP_V4, port, "all on");
    expect_text(member, "all on");
    expect_text(bystander, "all on");

    CHECK_RC(cio_udp_socket_set_multicast_all_v4(bystander, false));
    send_group(s, GROUP_V4, port, "all off");
    expect_text(member, "all off");
    udp_expect_nothing(bystander, 200);
    cio_socket_close(s);
    cio_socket_close(bystander);
    cio_socket_close(member);
}

static void test_source_specific_v4(void)
{
    /* Receive SSM_GROUP_V4 only from 127.0.0.1; a sender on 127.0.0.2 is filtered out. */
    uint16_t port;
    cio_udp_socket *r = wildcard_receiver(0, &port);
    CHECK_RC(cio_udp_socket_set_multicast_all_v4(r, false));
    cio_addr group, source, other;
    CHECK_RC(cio_addr_ipv4(&group, SSM_GROUP_V4, 0));
    CHECK_RC(cio_addr_ipv4(&source, CIO_IPV4_LOOPBACK, 0));
    CHECK_RC(cio_addr_ipv4(&other, CIO_IPV4(127, 0, 0, 2), 0));
    unsigned lo = loopback_index();
    int rc = cio_udp_socket_join_source_multicast(r, &group, &source, lo);
    if (rc == -ENODEV || rc == -ENOPROTOOPT || rc == -ENOBUFS)
        TEST_SKIP("kernel refused a source-specific join on lo: %s", cio_strerror(rc));
    CHECK_RC(rc);
    cio_addr v6;
    CHECK_RC(cio_addr_parse(&v6, "[::1]:0"));
    CHECK_ERR(cio_udp_socket_join_source_multicast(r, &group, &v6, lo), -EAFNOSUPPORT);

    cio_udp_socket *wanted = lo_sender(CIO_IPV4_LOOPBACK);
    cio_udp_socket *unwanted = lo_sender(CIO_IPV4(127, 0, 0, 2));
    send_group(unwanted, SSM_GROUP_V4, port, "not from the source");
    send_group(wanted, SSM_GROUP_V4, port, "from the source");
    cio_addr from;
    char buf[64];
    CHECK_EQ(udp_recv_wait(r, buf, sizeof(buf), &from), 15);
    CHECK(memcmp(buf, "from the source", 15) == 0);
    char text[CIO_ADDR_STRLEN];
    CHECK_RC(cio_addr_format(&from, text, sizeof(text)));
    CHECK(strncmp(text, "127.0.0.1:", 10) == 0);
    udp_expect_nothing(r, 200);

    CHECK_RC(cio_udp_socket_leave_source_multicast(r, &group, &source, lo));
    /* Linux says -EINVAL for a source membership not held. */
    CHECK_ERR(cio_udp_socket_leave_source_multicast(r, &group, &source, lo), -EINVAL);
    send_group(wanted, SSM_GROUP_V4, port, "after leave");
    udp_expect_nothing(r, 200);
    cio_socket_close(wanted);
    cio_socket_close(unwanted);
    cio_socket_close(r);
}

/* ff15::c10 (site-local scope, transient) and its SSM counterpart ff35::c10. */
static const uint8_t group_v6[16] = {0xff, 0x15, [14] = 0x0c, [15] = 0x10};
static const uint8_t ssm_group_v6[16] = {0xff, 0x35, [14] = 0x0c, [15] = 0x10};

static cio_udp_socket *v6_receiver(uint16_t *ret_port)
{
    const char *reason;
    if (!ipv6_loopback_available(&reason))
        TEST_SKIP("%s", reason);
    cio_addr any, local;
    CHECK_RC(cio_addr_parse(&any, "[::]:0"));
    cio_udp_socket *r;
    CHECK_RC(cio_udp_socket_new(&r, &any));
    CHECK_RC(cio_socket_local_addr(r, &local));
    *ret_port = (uint16_t)cio_addr_port(&local);
    return r;
}

static void test_membership_v6(void)
{
    uint16_t port;
    cio_udp_socket *r = v6_receiver(&port);
    unsigned lo = loopback_index();
    int rc = cio_udp_socket_join_multicast_v6(r, group_v6, lo);
    if (rc == -ENODEV || rc == -EADDRNOTAVAIL || rc == -ENOBUFS)
        TEST_SKIP("kernel refused an IPv6 multicast join on lo: %s", cio_strerror(rc));
    CHECK_RC(rc);
    CHECK_ERR(cio_udp_socket_join_multicast_v6(r, group_v6, lo), -EADDRINUSE);
    uint8_t unicast[16] = {[15] = 1}; /* ::1 */
    CHECK_ERR(cio_udp_socket_join_multicast_v6(r, unicast, lo), -EINVAL);
    CHECK_ERR(cio_udp_socket_join_multicast_v6(r, NULL, lo), -EINVAL);
    CHECK_RC(cio_udp_socket_leave_multicast_v6(r, group_v6, lo));
    CHECK_ERR(cio_udp_socket_leave_multicast_v6(r, group_v6, lo), -EADDRNOTAVAIL);

    cio_addr group, source;
    CHECK_RC(cio_addr_ipv6(&group, ssm_group_v6, 0, 0));
    CHECK_RC(cio_addr_parse(&source, "[::1]:0"));
    CHECK_RC(cio_udp_socket_join_source_multicast(r, &group, &source, lo));
    CHECK_RC(cio_udp_socket_leave_source_multicast(r, &group, &source, lo));
    cio_socket_close(r);
}

static void test_delivery_v6(void)
{
    uint16_t port;
    cio_udp_socket *r = v6_receiver(&port);
    unsigned lo = loopback_index();
    int rc = cio_udp_socket_join_multicast_v6(r, group_v6, lo);
    if (rc < 0)
        TEST_SKIP("kernel refused an IPv6 multicast join on lo: %s", cio_strerror(rc));
    (void)cio_udp_socket_set_multicast_all_v6(r, false); /* Linux 4.20+; optional here */
    cio_udp_socket *s = udp_on("[::1]:0", NULL);
    CHECK_RC(cio_udp_socket_set_multicast_if_v6(s, lo));
    CHECK_RC(cio_udp_socket_set_multicast_loop_v6(s, true));
    cio_addr dst;
    CHECK_RC(cio_addr_ipv6(&dst, group_v6, port, 0));
    ssize_t n = cio_dgram_try_send_to(s, "six", 3, &dst);
    if (n == -ENETUNREACH || n == -EADDRNOTAVAIL || n == -ENODEV)
        TEST_SKIP("kernel does not route IPv6 multicast on lo (no MULTICAST flag): %s",
                  cio_strerror((int)n));
    CHECK_EQ(n, 3);
    expect_text(r, "six");
    cio_socket_close(s);
    cio_socket_close(r);
}

CIO_TEST_MAIN(TEST(test_join_deliver_leave_v4), TEST(test_multicast_all_quirk),
              TEST(test_source_specific_v4), TEST(test_membership_v6), TEST(test_delivery_v6))
