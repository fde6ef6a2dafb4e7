/*
 * test_unix_async_dgram.c: the async operations only Unix datagram sockets have, one runtime
 * worker — unnamed senders (socketpair ends, unbound sockets) reported as such, a sender
 * suspended on the receiver's full queue and woken when it drains, and argument errors
 * (descriptor passing included). What Unix datagrams share with UDP is tested for both in
 * test_dgram_async.c; a descriptor receive and a plain receive waiting together, for Unix
 * datagrams and Unix streams, in test_unix_async.c.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "stream_kinds.h"

static cio_unix_datagram *bind_at(const cio_addr *addr)
{
    cio_unix_datagram *d;
    CHECK_RC(cio_unix_datagram_new(&d, addr));
    CHECK_FD_FLAGS(cio_socket_fd(d));
    return d;
}

/* ---- unnamed senders ---- */

/* Socketpair ends and unbound sockets have no name: what they send is from CIO_ADDR_UNNAMED.
 * A socketpair end whose peer is gone cannot send. */
static void *main_unnamed_senders(void *arg)
{
    (void)arg;
    cio_unix_datagram *a, *b;
    CHECK_RC(cio_unix_datagram_pair(&a, &b));
    CHECK_EQ(cio_dgram_send(a, "pair", 4), 4);
    cio_addr from;
    CHECK_EQ(cio_dgram_peek_sender(b, &from), 4);
    CHECK_EQ(cio_addr_get_kind(&from), CIO_ADDR_UNNAMED);
    char buf[16];
    CHECK_EQ(cio_dgram_recv_from(b, buf, sizeof(buf), &from), 4);
    CHECK_EQ(cio_addr_get_kind(&from), CIO_ADDR_UNNAMED);

    cio_addr saddr;
    unix_abstract_name(&saddr);
    cio_unix_datagram *s = bind_at(&saddr), *c;
    CHECK_RC(cio_unix_datagram_new(&c, NULL));
    CHECK_EQ(cio_dgram_poll_send_to(c, "ab", 2, &saddr, NULL, NULL), 2);
    CHECK_EQ(cio_dgram_recv_from(s, buf, sizeof(buf), &from), 2);
    CHECK_EQ(cio_addr_get_kind(&from), CIO_ADDR_UNNAMED); /* an unbound sender */
    cio_socket_close(c);
    cio_socket_close(s);

    /* The peer is gone. */
    cio_socket_close(b);
    CHECK(cio_dgram_send(a, "z", 1) < 0);
    cio_socket_close(a);
    return NULL;
}

static void test_unnamed_senders(void)
{
    run(main_unnamed_senders, NULL);
}

/* ---- a full receiver queue ---- */

struct drainer {
    cio_unix_datagram *d;
    int count;
};

static void *drain_later(void *arg)
{
    struct drainer *k = arg;
    CHECK_RC(cio_sleep(20 * CIO_NSEC_PER_MSEC));
    char buf[64];
    for (int i = 0; i < k->count; i++)
        CHECK_RC(cio_dgram_recv(k->d, buf, sizeof(buf)));
    return NULL;
}

static void *main_full_queue(void *arg)
{
    (void)arg;
    cio_unix_datagram *a, *b;
    CHECK_RC(cio_unix_datagram_pair(&a, &b));
    int queued = 0;
    for (; queued < 100000; queued++) {
        ssize_t n = cio_dgram_try_send(a, "q", 1);
        if (n == -EAGAIN)
            break;
        CHECK_EQ(n, 1);
    }
    CHECK(queued > 0 && queued < 100000);
    /* Full: the send waits; under a deadline it sends nothing. */
    {
        CIO_TIMEOUT_SCOPE(20 * CIO_NSEC_PER_MSEC);
        CHECK_ERR(cio_dgram_send(a, "x", 1), -ETIMEDOUT);
        CHECK_ERR(cio_socket_writable(a), -ETIMEDOUT);
    }
    /* The receiver drains in 20 ms: the waiting send goes then. */
    struct drainer k = {b, queued};
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, drain_later, &k));
    cio_time start = cio_now();
    CHECK_EQ(cio_dgram_send(a, "last", 4), 4);
    CHECK(cio_now() - start >= 15 * CIO_NSEC_PER_MSEC);
    CHECK_RC(cio_task_join(t, NULL, NULL));
    char buf[8];
    CHECK_EQ(cio_dgram_recv(b, buf, sizeof(buf)), 4); /* the timed-out one never went */
    CHECK(memcmp(buf, "last", 4) == 0);
    cio_socket_close(a);
    cio_socket_close(b);
    return NULL;
}

static void test_sender_waits_on_full_queue(void)
{
    run(main_full_queue, NULL);
}

/* ---- errors ---- */

static void *main_errors(void *arg)
{
    (void)arg;
    cio_unix_datagram *a, *b;
    CHECK_RC(cio_unix_datagram_pair(&a, &b));
    cio_addr addr;
    unix_tmp_path(&addr, "nobody");
    CHECK_ERR(cio_dgram_send_to(a, "x", 1, &addr), -ENOENT);
    CHECK_ERR(cio_dgram_send_to(a, "x", 1, NULL), -EINVAL);
    CHECK_RC(cio_addr_unnamed(&addr));
    CHECK_ERR(cio_dgram_send_to(a, "x", 1, &addr), -EINVAL);
    CHECK_RC(cio_addr_parse(&addr, "127.0.0.1:9"));
    CHECK_ERR(cio_dgram_send_to(a, "x", 1, &addr), -EAFNOSUPPORT);
    CHECK_ERR((cio_dgram_send)(NULL, "x", 1), -EINVAL);
    CHECK_ERR(cio_dgram_send(a, NULL, 1), -EINVAL);
    CHECK_ERR(cio_dgram_recv(b, NULL, 1), -EINVAL);
    int fds[1] = {0};
    size_t n;
    char buf[4];
    CHECK_ERR(cio_unix_send_fds(a, "x", 1, NULL, 1, NULL), -EINVAL);
    CHECK_ERR(cio_unix_send_fds(a, "x", 1, fds, CIO_UNIX_FDS_MAX + 1, NULL), -EINVAL);
    CHECK_ERR(cio_unix_recv_fds(b, buf, sizeof(buf), fds, 1, NULL, NULL), -EINVAL);
    CHECK_ERR(cio_unix_recv_fds(b, buf, sizeof(buf), NULL, 1, &n, NULL), -EINVAL);
    cio_socket_close(a);
    cio_socket_close(b);
    return NULL;
}

static void test_errors(void)
{
    run(main_errors, NULL);
    cio_unix_datagram *a, *b;
    CHECK_RC(cio_unix_datagram_pair(&a, &b));
    char buf[4];
    CHECK_ERR(cio_dgram_recv(a, buf, sizeof(buf)), -EPERM);
    CHECK_ERR(cio_dgram_send(a, "x", 1), -EPERM);
    CHECK_ERR(cio_socket_readable(a), -EPERM);
    CHECK_EQ(cio_dgram_try_send(b, "abc", 3), 3);
    CHECK_EQ(cio_socket_try_io(a, CIO_READABLE, raw_recv, a), 3);
    cio_socket_close(a);
    cio_socket_close(b);
}

CIO_TEST_MAIN(TEST(test_unnamed_senders), TEST(test_sender_waits_on_full_queue), TEST(test_errors))
