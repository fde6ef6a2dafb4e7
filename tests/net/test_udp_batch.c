/*
 * test_udp_batch.c: the UDP message calls on loopback — sendmmsg/recvmmsg batches with a
 * per-message address, vectored buffers and length, truncation reported per message, the
 * batch size cap, a bad message refusing the whole batch; and Linux segmentation offload:
 * GSO (one send split into equal datagrams, per message or per socket) and GRO (coalesced
 * datagrams received in one buffer with their segment size), over IPv4 and IPv6. Where the
 * kernel refuses an offload, the case skips with the errno it gave.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "cio/net.h"
#include "cio/udp.h"
#include "harness.h"
#include "test_udp_helpers.h"

#define SEGMENT 1000
#define GSO_TOTAL 9500 /* nine full segments and one of 500 bytes */

static void test_batch_send_recv(void)
{
    cio_addr s_addr, r1_addr, r2_addr;
    cio_udp_socket *s = udp_on("127.0.0.1:0", &s_addr);
    cio_udp_socket *r1 = udp_on("127.0.0.1:0", &r1_addr);
    cio_udp_socket *r2 = udp_on("127.0.0.1:0", &r2_addr);

    /* Eight messages, alternately to r1 and r2, each of two buffers, of different sizes. */
    char head[8][4], body[8][64];
    struct iovec iov[8][2];
    cio_udp_msg out[8];
    memset(out, 0, sizeof(out));
    for (int i = 0; i < 8; i++) {
        memset(head[i], 'A' + i, sizeof(head[i]));
        memset(body[i], 'a' + i, sizeof(body[i]));
        iov[i][0] = (struct iovec){head[i], sizeof(head[i])};
        iov[i][1] = (struct iovec){body[i], (size_t)(10 + i * 5)};
        out[i].iov = iov[i];
        out[i].iovcnt = 2;
        out[i].addr = i % 2 == 0 ? r1_addr : r2_addr;
        out[i].len = 12345; /* overwritten */
    }
    CHECK_EQ(cio_udp_socket_try_send_batch(s, out, 8), 8);
    for (int i = 0; i < 8; i++)
        CHECK_EQ(out[i].len, 4 + 10 + i * 5);

    /* r1 gets messages 0, 2, 4, 6 in order, in one or more batch receives. */
    char buf[8][128];
    struct iovec riov[8];
    cio_udp_msg in[8];
    for (int which = 0; which < 2; which++) {
        cio_udp_socket *r = which == 0 ? r1 : r2;
        int got = 0;
        int64_t deadline = cio_test_now_ms() + 5000;
        while (got < 4) {
            CHECK(cio_test_now_ms() < deadline);
            memset(in, 0, sizeof(in));
            for (int i = 0; i < 8; i++) {
                riov[i] = (struct iovec){buf[i], sizeof(buf[i])};
                in[i].iov = &riov[i];
                in[i].iovcnt = 1;
            }
            int n = cio_udp_socket_try_recv_batch(r, in, 8);
            if (n == -EAGAIN) {
                wait_fd(cio_socket_fd(r), CIO_READABLE, 1000);
                continue;
            }
            CHECK(n >= 1 && got + n <= 4);
            for (int k = 0; k < n; k++, got++) {
                int i = got * 2 + which;
                CHECK_EQ(in[k].len, 4 + 10 + i * 5);
                CHECK_EQ(in[k].datagram_len, in[k].len);
                CHECK_EQ(in[k].flags, 0);
                CHECK(cio_addr_equal(&in[k].addr, &s_addr));
                CHECK(memcmp(buf[k], head[i], 4) == 0);
                CHECK(memcmp(buf[k] + 4, body[i], (size_t)(10 + i * 5)) == 0);
            }
        }
        CHECK_ERR(cio_udp_socket_try_recv_batch(r, in, 8), -EAGAIN);
    }
    cio_socket_close(s);
    cio_socket_close(r1);
    cio_socket_close(r2);
}

static void test_batch_truncation_per_message(void)
{
    cio_addr r_addr;
    cio_udp_socket *s = udp_on("127.0.0.1:0", NULL);
    cio_udp_socket *r = udp_on("127.0.0.1:0", &r_addr);
    CHECK_RC(cio_dgram_connect(s, &r_addr));
    char big[50], small[5];
    memset(big, 'x', sizeof(big));
    memset(small, 'y', sizeof(small));
    /* Connected: messages with no address go to the peer. */
    struct iovec a = {big, sizeof(big)}, b = {small, sizeof(small)};
    cio_udp_msg out[2] = {{.iov = &a, .iovcnt = 1}, {.iov = &b, .iovcnt = 1}};
    CHECK_EQ(cio_udp_socket_try_send_batch(s, out, 2), 2);
    CHECK(wait_fd(cio_socket_fd(r), CIO_READABLE, 5000) & CIO_EVENT_READABLE);
    char b0[10], b1[10];
    struct iovec r0 = {b0, sizeof(b0)}, r1 = {b1, sizeof(b1)};
    cio_udp_msg in[2] = {{.iov = &r0, .iovcnt = 1}, {.iov = &r1, .iovcnt = 1}};
    int n = cio_udp_socket_try_recv_batch(r, in, 2);
    if (n == 1) /* the second arrived a moment later */
        n += cio_udp_socket_try_recv_batch(r, &in[1], 1);
    CHECK_EQ(n, 2);
    CHECK(in[0].flags & CIO_UDP_MSG_TRUNC);
    CHECK_EQ(in[0].len, 10);
    CHECK_EQ(in[0].datagram_len, 50);
    CHECK_EQ(in[1].flags & CIO_UDP_MSG_TRUNC, 0);
    CHECK_EQ(in[1].len, 5);
    CHECK_EQ(in[1].datagram_len, 5);
    CHECK(memcmp(b1, small, 5) == 0);
    cio_socket_close(s);
    cio_socket_close(r);
}

static void test_batch_limits_and_errors(void)
{
    cio_addr r_addr;
    cio_udp_socket *s = udp_on("127.0.0.1:0", NULL);
    cio_udp_socket *r = udp_on("127.0.0.1:0", &r_addr);
    enum { COUNT = CIO_UDP_BATCH_MAX + 8 };
    uint32_t values[COUNT];
    struct iovec iov[COUNT];
    cio_udp_msg out[COUNT];
    memset(out, 0, sizeof(out));
    for (int i = 0; i < COUNT; i++) {
        values[i] = (uint32_t)i;
        iov[i] = (struct iovec){&values[i], sizeof(values[i])};
        out[i].iov = &iov[i];
        out[i].iovcnt = 1;
        out[i].addr = r_addr;
    }
    CHECK_EQ(cio_udp_socket_try_send_batch(s, out, 0), 0);
    CHECK_ERR(cio_udp_socket_try_send_batch(s, NULL, 1), -EINVAL);
    /* One bad message refuses the batch before anything is sent. */
    out[3].iovcnt = -1;
    CHECK_ERR(cio_udp_socket_try_send_batch(s, out, 8), -EINVAL);
    out[3].iovcnt = 1;
    cio_addr unix_addr;
    CHECK_RC(cio_addr_parse(&unix_addr, "@not-ip"));
    out[5].addr = unix_addr;
    CHECK_ERR(cio_udp_socket_try_send_batch(s, out, 8), -EAFNOSUPPORT);
    out[5].addr = r_addr;
    udp_expect_nothing(r, 100);
    /* At most CIO_UDP_BATCH_MAX per call; the caller sends the rest. */
    CHECK_EQ(cio_udp_socket_try_send_batch(s, out, COUNT), CIO_UDP_BATCH_MAX);
    CHECK_EQ(cio_udp_socket_try_send_batch(s, out + CIO_UDP_BATCH_MAX, COUNT - CIO_UDP_BATCH_MAX),
             COUNT - CIO_UDP_BATCH_MAX);
    uint32_t got[COUNT];
    struct iovec riov[COUNT];
    cio_udp_msg in[COUNT];
    int received = 0;
    int64_t deadline = cio_test_now_ms() + 5000;
    while (received < COUNT) {
        CHECK(cio_test_now_ms() < deadline);
        memset(in, 0, sizeof(in));
        for (int i = 0; i < COUNT; i++) {
            riov[i] = (struct iovec){&got[i], sizeof(got[i])};
            in[i].iov = &riov[i];
            in[i].iovcnt = 1;
        }
        int n = cio_udp_socket_try_recv_batch(r, in, COUNT);
        if (n == -EAGAIN) {
            wait_fd(cio_socket_fd(r), CIO_READABLE, 1000);
            continue;
        }
        CHECK(n >= 1 && n <= CIO_UDP_BATCH_MAX);
        for (int k = 0; k < n; k++) {
            CHECK_EQ(in[k].len, sizeof(uint32_t));
            CHECK_EQ(got[k], (uint32_t)received);
            received++;
        }
    }
    CHECK_EQ(cio_udp_socket_try_recv_batch(r, in, 0), 0);
    CHECK_ERR(cio_udp_socket_try_recv_batch(r, NULL, 2), -EINVAL);
    in[0].iovcnt = -1;
    CHECK_ERR(cio_udp_socket_try_recv_batch(r, in, 1), -EINVAL);
    in[0].iovcnt = 1;
    CHECK_ERR(cio_udp_socket_try_recv_batch(r, in, 1), -EAGAIN);
    cio_socket_close(s);
    cio_socket_close(r);
}

/* Send GSO_TOTAL bytes as SEGMENT-byte datagrams from s to dst, through the per-message
 * segment size, or skip with the kernel's reason. */
static void gso_send(cio_udp_socket *s, const cio_addr *dst, const uint8_t *data)
{
    struct iovec iov = {(void *)data, GSO_TOTAL};
    cio_udp_msg msg = {.iov = &iov, .iovcnt = 1, .addr = *dst, .segment_size = SEGMENT};
    ssize_t n = cio_udp_socket_try_send_msg(s, &msg);
    if (n == -EIO || n == -EINVAL || n == -ENOPROTOOPT || n == -EOPNOTSUPP)
        TEST_SKIP("kernel refused UDP GSO on loopback: %s", cio_strerror((int)n));
    CHECK_EQ(n, GSO_TOTAL);
    CHECK_EQ(msg.len, GSO_TOTAL);
}

/* Receive the segments one datagram each (no GRO) and check them against data. */
static void expect_segments(cio_udp_socket *r, const uint8_t *data)
{
    static uint8_t buf[2048];
    size_t offset = 0;
    int count = 0;
    while (offset < GSO_TOTAL) {
        ssize_t n = udp_recv_wait(r, buf, sizeof(buf), NULL);
        CHECK_EQ(n, offset + SEGMENT <= GSO_TOTAL ? SEGMENT : GSO_TOTAL - offset);
        CHECK(memcmp(buf, data + offset, (size_t)n) == 0);
        offset += (size_t)n;
        count++;
    }
    CHECK_EQ(count, (GSO_TOTAL + SEGMENT - 1) / SEGMENT);
    CHECK_ERR(cio_dgram_try_recv(r, buf, sizeof(buf)), -EAGAIN);
}

static void fill_pattern(uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++)
        data[i] = (uint8_t)(i * 7 + i / 251);
}

static void gso_case(const char *where)
{
    static uint8_t data[GSO_TOTAL];
    fill_pattern(data, sizeof(data));
    cio_addr r_addr;
    cio_udp_socket *s = udp_on(where, NULL);
    cio_udp_socket *r = udp_on(where, &r_addr);
    /* Per message. */
    gso_send(s, &r_addr, data);
    expect_segments(r, data);
    /* Per socket (UDP_SEGMENT), with a plain send. */
    CHECK_RC(cio_udp_socket_set_gso_segment(s, SEGMENT));
    CHECK_EQ(cio_dgram_try_send_to(s, data, GSO_TOTAL, &r_addr), GSO_TOTAL);
    expect_segments(r, data);
    /* A datagram no larger than the segment size goes out as it is. */
    CHECK_EQ(cio_dgram_try_send_to(s, data, 300, &r_addr), 300);
    uint8_t buf[2048];
    CHECK_EQ(udp_recv_wait(r, buf, sizeof(buf), NULL), 300);
    cio_socket_close(s);
    cio_socket_close(r);
}

static void test_gso_v4(void)
{
    gso_case("127.0.0.1:0");
}

static void test_gso_v6(void)
{
    const char *reason;
    if (!ipv6_loopback_available(&reason))
        TEST_SKIP("%s", reason);
    gso_case("[::1]:0");
}

static void gro_case(const char *where)
{
    static uint8_t data[GSO_TOTAL], buf[65536];
    fill_pattern(data, sizeof(data));
    cio_addr s_addr, r_addr;
    cio_udp_socket *s = udp_on(where, &s_addr);
    cio_udp_socket *r = udp_on(where, &r_addr);
    int rc = cio_udp_socket_set_gro(r, true);
    if (rc < 0)
        TEST_SKIP("kernel refused UDP_GRO: %s", cio_strerror(rc));

    /* A GSO send arrives in one buffer, with the segment size to split it by. */
    gso_send(s, &r_addr, data);
    struct iovec iov = {buf, sizeof(buf)};
    cio_udp_msg in = {.iov = &iov, .iovcnt = 1};
    ssize_t n = udp_recv_msg_wait(r, &in);
    if (n == SEGMENT && in.segment_size == 0)
        TEST_SKIP("kernel delivered the GSO segments one by one (no GRO on loopback)");
    CHECK_EQ(n, GSO_TOTAL);
    CHECK_EQ(in.len, GSO_TOTAL);
    CHECK_EQ(in.datagram_len, GSO_TOTAL);
    CHECK_EQ(in.segment_size, SEGMENT);
    CHECK_EQ(in.flags & CIO_UDP_MSG_TRUNC, 0);
    CHECK(cio_addr_equal(&in.addr, &s_addr));
    CHECK(memcmp(buf, data, GSO_TOTAL) == 0);

    /* The simple calls cannot say where datagrams split: -EMSGSIZE, never a silent merge
     * (peek leaves it for the message call). */
    gso_send(s, &r_addr, data);
    CHECK(wait_fd(cio_socket_fd(r), CIO_READABLE, 5000) & CIO_EVENT_READABLE);
    CHECK_EQ(cio_dgram_try_peek_sender(r, NULL), GSO_TOTAL);
    CHECK_ERR(cio_dgram_try_peek(r, buf, sizeof(buf)), -EMSGSIZE);
    CHECK_ERR(cio_dgram_try_recv(r, buf, sizeof(buf)), -EMSGSIZE);
    CHECK_ERR(cio_dgram_try_recv(r, buf, sizeof(buf)), -EAGAIN);

    /* A lone datagram on a GRO socket is an ordinary one: segment_size 0, simple calls fine. */
    CHECK_EQ(cio_dgram_try_send_to(s, data, 700, &r_addr), 700);
    CHECK_EQ(udp_recv_wait(r, buf, sizeof(buf), NULL), 700);
    CHECK_EQ(cio_dgram_try_send_to(s, data, 700, &r_addr), 700);
    CHECK_EQ(udp_recv_msg_wait(r, &in), 700);
    CHECK_EQ(in.segment_size, 0);

    /* Batch receive reports the segment size per message too. */
    gso_send(s, &r_addr, data);
    CHECK(wait_fd(cio_socket_fd(r), CIO_READABLE, 5000) & CIO_EVENT_READABLE);
    cio_udp_msg batch[2] = {{.iov = &iov, .iovcnt = 1}};
    CHECK_EQ(cio_udp_socket_try_recv_batch(r, batch, 1), 1);
    CHECK_EQ(batch[0].len, GSO_TOTAL);
    CHECK_EQ(batch[0].segment_size, SEGMENT);

    /* A coalesced buffer larger than the receive buffer is truncated like any datagram. */
    gso_send(s, &r_addr, data);
    struct iovec small = {buf, 4000};
    in = (cio_udp_msg){.iov = &small, .iovcnt = 1};
    CHECK_EQ(udp_recv_msg_wait(r, &in), 4000);
    CHECK(in.flags & CIO_UDP_MSG_TRUNC);
    CHECK_EQ(in.datagram_len, GSO_TOTAL);
    CHECK_EQ(in.segment_size, SEGMENT);
    cio_socket_close(s);
    cio_socket_close(r);
}

static void test_gro_v4(void)
{
    gro_case("127.0.0.1:0");
}

static void test_gro_v6(void)
{
    const char *reason;
    if (!ipv6_loopback_available(&reason))
        TEST_SKIP("%s", reason);
    gro_case("[::1]:0");
}

static void test_gso_limits(void)
{
    /* Linux refuses a segment count above its limit (64, or 128 on newer kernels) and a
     * segment larger than the route allows, with -EINVAL: an error, never a silent resize. */
    static uint8_t data[60000];
    cio_addr r_addr;
    cio_udp_socket *s = udp_on("127.0.0.1:0", NULL);
    cio_udp_socket *r = udp_on("127.0.0.1:0", &r_addr);
    struct iovec iov = {data, sizeof(data)};
    cio_udp_msg msg = {.iov = &iov, .iovcnt = 1, .addr = r_addr, .segment_size = 200};
    ssize_t n = cio_udp_socket_try_send_msg(s, &msg); /* 300 segments */
    if (n == -EIO || n == -ENOPROTOOPT)
        TEST_SKIP("kernel refused UDP GSO: %s", cio_strerror((int)n));
    CHECK_ERR(n, -EINVAL);
    cio_socket_close(s);
    cio_socket_close(r);
}

CIO_TEST_MAIN(TEST(test_batch_send_recv), TEST(test_batch_truncation_per_message),
              TEST(test_batch_limits_and_errors), TEST(test_gso_v4), TEST(test_gso_v6),
              TEST(test_gro_v4), TEST(test_gro_v6), TEST(test_gso_limits))
