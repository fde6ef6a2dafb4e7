/*
 * test_unix_dgram.c: Unix datagram sockets in a private temporary directory and the
 * abstract namespace — bound, unbound and paired sockets, sender addresses, connect /
 * disconnect and the peer filter, empty datagrams, truncation reported (-EMSGSIZE, peek
 * leaving the datagram queued, peek_sender's size), a full receiver queue giving -EAGAIN and
 * then a writable event, datagrams larger than the send buffer, send and connect errors
 * (missing path, stale path, wrong type, wrong family, bad arguments), shutdown, peer
 * credentials of a pair, options read back, and adopting descriptors.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cio/net.h"
#include "cio/poll.h"
#include "cio/unix.h"
#include "harness.h"
#include "test_unix_helpers.h"

static cio_unix_datagram *dgram_bind(const cio_addr *addr)
{
    cio_unix_datagram *socket;
    CHECK_RC(cio_unix_datagram_new(&socket, addr));
    CHECK_FD_FLAGS(cio_socket_fd(socket));
    return socket;
}

/* Receive one datagram, waiting up to 5 s. */
static ssize_t dgram_recv_wait(cio_unix_datagram *socket, void *buf, size_t len, cio_addr *from)
{
    int64_t deadline = cio_test_now_ms() + 5000;
    for (;;) {
        ssize_t n = cio_dgram_try_recv_from(socket, buf, len, from);
        if (n != -EAGAIN || cio_test_now_ms() > deadline)
            return n;
        wait_fd(cio_socket_fd(socket), CIO_READABLE, 1000);
    }
}

static void test_bound_and_unbound_senders(void)
{
    cio_addr server_addr = unix_path("server.dgram");
    cio_addr client_addr = unix_path("client.dgram");
    cio_unix_datagram *server = dgram_bind(&server_addr);
    cio_unix_datagram *client = dgram_bind(&client_addr);
    cio_unix_datagram *anon;
    CHECK_RC(cio_unix_datagram_new(&anon, NULL));
    CHECK_FD_FLAGS(cio_socket_fd(anon));
    cio_addr local, from;
    CHECK_RC(cio_socket_local_addr(server, &local));
    CHECK(cio_addr_equal(&local, &server_addr));
    CHECK_RC(cio_socket_local_addr(anon, &local));
    CHECK_EQ(cio_addr_get_kind(&local), CIO_ADDR_UNNAMED);
    char buf[32];
    CHECK_ERR(cio_dgram_try_recv(server, buf, sizeof(buf)), -EAGAIN);

    /* A bound sender is named; the server answers it at that address. */
    CHECK_EQ(cio_dgram_try_send_to(client, "question", 8, &server_addr), 8);
    CHECK_EQ(dgram_recv_wait(server, buf, sizeof(buf), &from), 8);
    CHECK(memcmp(buf, "question", 8) == 0);
    CHECK(cio_addr_equal(&from, &client_addr));
    CHECK_EQ(cio_dgram_try_send_to(server, "answer", 6, &from), 6);
    CHECK_EQ(dgram_recv_wait(client, buf, sizeof(buf), &from), 6);
    CHECK(cio_addr_equal(&from, &server_addr));

    /* An unbound sender is the unnamed address. */
    CHECK_EQ(cio_dgram_try_send_to(anon, "anonymous", 9, &server_addr), 9);
    CHECK_EQ(dgram_recv_wait(server, buf, sizeof(buf), &from), 9);
    CHECK_EQ(cio_addr_get_kind(&from), CIO_ADDR_UNNAMED);
    cio_addr peer;
    CHECK_ERR(cio_socket_peer_addr(anon, &peer), -ENOTCONN);
    CHECK_EQ(cio_socket_take_error(server), 0);

    /* The unbound socket can be bound afterwards (cio_socket_bind), and is answerable then;
     * once bound, a second bind is refused and a wrong family never reaches the kernel. */
    cio_addr anon_addr = unix_path("anon.dgram"), ip;
    CHECK_RC(cio_addr_parse(&ip, "127.0.0.1:0"));
    CHECK_ERR(cio_socket_bind(anon, &ip), -EAFNOSUPPORT);
    CHECK_ERR(cio_socket_bind(anon, NULL), -EINVAL);
    CHECK_RC(cio_socket_bind(anon, &anon_addr));
    CHECK_RC(cio_socket_local_addr(anon, &local));
    CHECK(cio_addr_equal(&local, &anon_addr));
    CHECK_EQ(cio_dgram_try_send_to(anon, "named", 5, &server_addr), 5);
    CHECK_EQ(dgram_recv_wait(server, buf, sizeof(buf), &from), 5);
    CHECK(cio_addr_equal(&from, &anon_addr));
    cio_addr second = unix_abstract("anon-second");
    CHECK_ERR(cio_socket_bind(anon, &second), -EINVAL);
    cio_socket_close(server);
    cio_socket_close(client);
    cio_socket_close(anon);
    (cio_socket_close)(NULL);
}

static void test_abstract_and_autobind(void)
{
    cio_addr name = unix_abstract("dgram");
    cio_unix_datagram *server = dgram_bind(&name);
    cio_addr unnamed, auto_addr, from;
    CHECK_RC(cio_addr_unnamed(&unnamed));
    cio_unix_datagram *client = dgram_bind(&unnamed);
    CHECK_RC(cio_socket_local_addr(client, &auto_addr));
    CHECK_EQ(cio_addr_get_kind(&auto_addr), CIO_ADDR_ABSTRACT);
    CHECK_EQ(cio_dgram_try_send_to(client, "hi", 2, &name), 2);
    char buf[8];
    CHECK_EQ(dgram_recv_wait(server, buf, sizeof(buf), &from), 2);
    CHECK(cio_addr_equal(&from, &auto_addr)); /* autobound senders can be answered */
    cio_unix_datagram *twin = NULL;
    CHECK_ERR(cio_unix_datagram_new(&twin, &name), -EADDRINUSE);
    CHECK(twin == NULL);
    cio_socket_close(server);
    cio_socket_close(client);
}

static void test_pair_and_peer_cred(void)
{
    cio_unix_datagram *a, *b;
    CHECK_RC(cio_unix_datagram_pair(&a, &b));
    CHECK_FD_FLAGS(cio_socket_fd(a));
    CHECK_FD_FLAGS(cio_socket_fd(b));
    CHECK_EQ(cio_dgram_try_send(a, "one", 3), 3);
    CHECK_EQ(cio_dgram_try_send(a, "two!", 4), 4);
    char buf[8];
    CHECK_EQ(dgram_recv_wait(b, buf, sizeof(buf), NULL), 3);
    CHECK_EQ(dgram_recv_wait(b, buf, sizeof(buf), NULL), 4);
    CHECK(memcmp(buf, "two!", 4) == 0);
    cio_unix_cred cred;
    CHECK_RC(cio_unix_peer_cred(a, &cred));
    CHECK_EQ(cred.pid, getpid());
    CHECK_EQ(cred.uid, getuid());
    CHECK_EQ(cred.gid, getgid());
    CHECK_ERR(cio_unix_peer_cred(a, NULL), -EINVAL);
    cio_socket_close(a);
    cio_socket_close(b);
    CHECK_ERR(cio_unix_datagram_pair(NULL, &b), -EINVAL);

    /* A connected (not paired) datagram socket has no credentials recorded. */
    cio_addr addr = unix_path("cred.dgram");
    cio_unix_datagram *server = dgram_bind(&addr);
    cio_unix_datagram *client;
    CHECK_RC(cio_unix_datagram_new(&client, NULL));
    CHECK_RC(cio_dgram_connect(client, &addr));
    CHECK_ERR(cio_unix_peer_cred(client, &cred), -ENODATA);
    cio_socket_close(server);
    cio_socket_close(client);
}

static void test_connect_filter_disconnect(void)
{
    cio_addr a_addr = unix_path("a.dgram"), b_addr = unix_path("b.dgram");
    cio_addr c_addr = unix_path("c.dgram");
    cio_unix_datagram *a = dgram_bind(&a_addr);
    cio_unix_datagram *b = dgram_bind(&b_addr);
    cio_unix_datagram *c = dgram_bind(&c_addr);
    CHECK_ERR(cio_dgram_try_send(a, "x", 1), -ENOTCONN);
    CHECK_RC(cio_dgram_connect(a, &b_addr));
    cio_addr peer, from;
    CHECK_RC(cio_socket_peer_addr(a, &peer));
    CHECK(cio_addr_equal(&peer, &b_addr));
    CHECK_EQ(cio_dgram_try_send(a, "to-b", 4), 4);
    char buf[16];
    CHECK_EQ(dgram_recv_wait(b, buf, sizeof(buf), &from), 4);
    CHECK(cio_addr_equal(&from, &a_addr));
    /* Connected to b: c cannot send to a (Linux refuses at the sender). */
    CHECK_ERR(cio_dgram_try_send_to(c, "from-c", 6, &a_addr), -EPERM);
    CHECK_EQ(cio_dgram_try_send_to(b, "from-b", 6, &a_addr), 6);
    CHECK_EQ(dgram_recv_wait(a, buf, sizeof(buf), &from), 6);
    CHECK(cio_addr_equal(&from, &b_addr));
    CHECK_RC(cio_dgram_disconnect(a));
    CHECK_ERR(cio_socket_peer_addr(a, &peer), -ENOTCONN);
    CHECK_ERR(cio_dgram_try_send(a, "x", 1), -ENOTCONN);
    CHECK_EQ(cio_dgram_try_send_to(c, "from-c", 6, &a_addr), 6);
    CHECK_EQ(dgram_recv_wait(a, buf, sizeof(buf), &from), 6);
    CHECK(cio_addr_equal(&from, &c_addr));
    cio_socket_close(a);
    cio_socket_close(b);
    cio_socket_close(c);
}

static void test_empty_and_truncated(void)
{
    cio_unix_datagram *a, *b;
    CHECK_RC(cio_unix_datagram_pair(&a, &b));
    /* Empty datagrams are messages. */
    CHECK_EQ(cio_dgram_try_send(a, NULL, 0), 0);
    CHECK(wait_fd(cio_socket_fd(b), CIO_READABLE, 5000) & CIO_EVENT_READABLE);
    CHECK_EQ(cio_dgram_try_peek_sender(b, NULL), 0);
    CHECK_EQ(cio_dgram_try_recv(b, NULL, 0), 0);
    CHECK_ERR(cio_dgram_try_recv(b, NULL, 0), -EAGAIN);

    char payload[300];
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (char)i;
    char buf[400];
    CHECK_EQ(cio_dgram_try_send(a, payload, sizeof(payload)), 300);
    cio_addr from;
    CHECK_EQ(cio_dgram_try_peek_sender(b, &from), 300);
    CHECK_EQ(cio_addr_get_kind(&from), CIO_ADDR_UNNAMED);
    CHECK_ERR(cio_dgram_try_peek(b, buf, 299), -EMSGSIZE);
    CHECK_ERR(cio_dgram_try_peek_from(b, buf, 100, &from), -EMSGSIZE);
    CHECK_EQ(cio_dgram_try_peek(b, buf, 300), 300);
    memset(buf, 0, sizeof(buf));
    CHECK_ERR(cio_dgram_try_recv(b, buf, 20), -EMSGSIZE);
    CHECK(memcmp(buf, payload, 20) == 0);
    CHECK_EQ(buf[20], 0);
    CHECK_ERR(cio_dgram_try_recv(b, buf, sizeof(buf)), -EAGAIN); /* consumed */
    CHECK_EQ(cio_dgram_try_send(a, payload, 10), 10);
    CHECK_EQ(cio_dgram_try_recv(b, buf, sizeof(buf)), 10);
    cio_socket_close(a);
    cio_socket_close(b);
}

static void test_full_queue_eagain_then_writable(void)
{
    /* Unix datagrams are not dropped: a sender whose receiver's queue is full gets -EAGAIN,
     * and a writable event once the receiver has drained. */
    cio_unix_datagram *a, *b;
    CHECK_RC(cio_unix_datagram_pair(&a, &b));
    char data[512] = {0};
    int sent = 0;
    ssize_t n = 0;
    for (int i = 0; i < 100000; i++) {
        n = cio_dgram_try_send(a, data, sizeof(data));
        if (n == -EAGAIN)
            break;
        CHECK_EQ(n, sizeof(data));
        sent++;
    }
    CHECK_ERR(n, -EAGAIN);
    CHECK(sent > 0);
    cio_poll *poll;
    cio_events *events;
    CHECK_RC(cio_poll_new(&poll, NULL));
    CHECK_RC(cio_events_new(&events, 4));
    CHECK_RC(cio_poll_register(poll, cio_socket_fd(a), 1, CIO_WRITABLE));
    /* Drain everything; the sender becomes writable. */
    char buf[1024];
    int received = 0;
    while (cio_dgram_try_recv(b, buf, sizeof(buf)) == (ssize_t)sizeof(data))
        received++;
    CHECK_EQ(received, sent);
    bool writable = false;
    int64_t deadline = cio_test_now_ms() + 5000;
    while (!writable && cio_test_now_ms() < deadline) {
        int r = cio_poll_wait_ms(poll, events, 1000);
        CHECK(r >= 0 || r == -EINTR);
        const cio_event *ev;
        for (size_t it = 0; (ev = cio_events_next(events, &it)) != NULL;)
            writable |= (ev->flags & CIO_EVENT_WRITABLE) != 0;
    }
    CHECK(writable);
    CHECK_EQ(cio_dgram_try_send(a, data, sizeof(data)), sizeof(data));
    CHECK_RC(cio_poll_deregister(poll, cio_socket_fd(a)));
    cio_events_free(events);
    cio_poll_free(poll);
    cio_socket_close(a);
    cio_socket_close(b);
}

static void test_send_errors(void)
{
    cio_unix_datagram *s;
    CHECK_RC(cio_unix_datagram_new(&s, NULL));
    cio_addr missing = unix_path("missing.dgram");
    CHECK_ERR(cio_dgram_try_send_to(s, "x", 1, &missing), -ENOENT);
    CHECK_ERR(cio_dgram_connect(s, &missing), -ENOENT);
    /* A stale file: its socket is closed. */
    cio_addr stale = unix_path("stale.dgram");
    cio_socket_close(dgram_bind(&stale));
    CHECK_ERR(cio_dgram_try_send_to(s, "x", 1, &stale), -ECONNREFUSED);
    CHECK_ERR(cio_dgram_connect(s, &stale), -ECONNREFUSED);
    /* A stream listener at the path: the wrong type. */
    cio_addr stream_path = unix_path("stream.sock");
    cio_unix_listener *listener = unix_listen(&stream_path, CIO_LISTEN_BACKLOG_DEFAULT);
    CHECK_ERR(cio_dgram_try_send_to(s, "x", 1, &stream_path), -EPROTOTYPE);
    CHECK_ERR(cio_dgram_connect(s, &stream_path), -EPROTOTYPE);
    cio_socket_close(listener);
    /* Larger than the send buffer. */
    cio_unix_datagram *a, *b;
    CHECK_RC(cio_unix_datagram_pair(&a, &b));
    CHECK_RC(cio_socket_set_send_buffer_size(a, 4096));
    int sndbuf;
    CHECK_RC(cio_socket_send_buffer_size(a, &sndbuf));
    static char huge[1 << 20];
    CHECK_ERR(cio_dgram_try_send(a, huge, (size_t)sndbuf + 1), -EMSGSIZE);
    cio_socket_close(a);
    cio_socket_close(b);
    /* Family, address kind and argument errors. */
    cio_addr ip, unnamed;
    CHECK_RC(cio_addr_parse(&ip, "127.0.0.1:9"));
    CHECK_RC(cio_addr_unnamed(&unnamed));
    CHECK_ERR(cio_dgram_try_send_to(s, "x", 1, &ip), -EAFNOSUPPORT);
    CHECK_ERR(cio_dgram_try_send_to(s, "x", 1, &unnamed), -EINVAL);
    CHECK_ERR(cio_dgram_try_send_to(s, "x", 1, NULL), -EINVAL);
    CHECK_ERR((cio_dgram_try_send_to)(NULL, "x", 1, &missing), -EINVAL);
    CHECK_ERR(cio_dgram_connect(s, &ip), -EAFNOSUPPORT);
    CHECK_ERR(cio_dgram_connect(s, NULL), -EINVAL);
    CHECK_ERR((cio_dgram_connect)(NULL, &missing), -EINVAL);
    CHECK_ERR(cio_dgram_try_send(s, NULL, 1), -EINVAL);
    CHECK_ERR(cio_dgram_try_recv(s, NULL, 1), -EINVAL);
    CHECK_ERR((cio_dgram_try_recv)(NULL, NULL, 0), -EINVAL);
    cio_unix_datagram *out = NULL;
    CHECK_ERR(cio_unix_datagram_new(&out, &ip), -EAFNOSUPPORT);
    /* A NULL address is no longer an error: it is the unbound socket (the old _unbound()). */
    CHECK_RC(cio_unix_datagram_new(&out, NULL));
    cio_addr local;
    CHECK_RC(cio_socket_local_addr(out, &local));
    CHECK_EQ(cio_addr_get_kind(&local), CIO_ADDR_UNNAMED);
    cio_socket_close(out);
    out = NULL;
    CHECK_ERR(cio_unix_datagram_new(NULL, &missing), -EINVAL);
    CHECK_ERR(cio_unix_datagram_new(NULL, NULL), -EINVAL);
    cio_addr nodir = unix_path("no-dir/x.dgram");
    CHECK_ERR(cio_unix_datagram_new(&out, &nodir), -ENOENT);
    CHECK_ERR(cio_unix_datagram_new(&out, &stale), -EADDRINUSE); /* the file stays */
    CHECK(out == NULL);
    cio_socket_close(s);
}

static void test_shutdown(void)
{
    cio_unix_datagram *a, *b;
    CHECK_RC(cio_unix_datagram_pair(&a, &b));
    CHECK_EQ(cio_dgram_try_send(a, "queued", 6), 6);
    CHECK_RC(cio_socket_shutdown(b, CIO_SHUTDOWN_READ));
    /* The sender is refused from now on; what was queued can still be received. */
    CHECK_ERR(cio_dgram_try_send(a, "late", 4), -EPIPE);
    char buf[8];
    CHECK_EQ(cio_dgram_try_recv(b, buf, sizeof(buf)), 6);
    CHECK_ERR(cio_dgram_try_recv(b, buf, sizeof(buf)), -EAGAIN);
    CHECK_RC(cio_socket_shutdown(a, CIO_SHUTDOWN_WRITE));
    CHECK_ERR(cio_dgram_try_send(a, "x", 1), -EPIPE);
    CHECK_ERR(cio_socket_shutdown(a, (cio_shutdown)7), -EINVAL);
    cio_socket_close(a);
    cio_socket_close(b);

    /* The peer closed: -ECONNREFUSED once (the association is dropped), then -ENOTCONN; no
     * SIGPIPE either way (this process would die of it). */
    CHECK_RC(cio_unix_datagram_pair(&a, &b));
    cio_socket_close(b);
    CHECK_ERR(cio_dgram_try_send(a, "x", 1), -ECONNREFUSED);
    CHECK_ERR(cio_dgram_try_send(a, "x", 1), -ENOTCONN);
    cio_socket_close(a);
}

static void test_options_and_fds(void)
{
    cio_unix_datagram *s;
    CHECK_RC(cio_unix_datagram_new(&s, NULL));
    int value;
    CHECK_RC(cio_socket_set_send_buffer_size(s, 20000));
    CHECK_RC(cio_socket_send_buffer_size(s, &value));
    CHECK(value >= 20000);
    CHECK_RC(cio_socket_set_recv_buffer_size(s, 30000));
    CHECK_RC(cio_socket_recv_buffer_size(s, &value));
    CHECK(value >= 30000);
    CHECK_ERR(cio_socket_set_recv_buffer_size(s, -1), -EINVAL);
    /* IP options are refused on a Unix socket. */
    CHECK_ERR(cio_socket_set_ttl(s, 64), -EAFNOSUPPORT);
    CHECK_ERR(cio_socket_tos(s, &value), -EAFNOSUPPORT);
    int fd = cio_socket_into_fd(s);
    CHECK(fd >= 0);
    CHECK_FD_FLAGS(fd);
    CHECK_RC(cio_unix_datagram_from_fd(&s, fd));
    cio_socket_close(s);

    /* Adoption: blocking descriptors made non-blocking; wrong kinds refused unchanged. */
    fd = (int)CHECK_SYS(socket(AF_UNIX, SOCK_DGRAM, 0));
    CHECK_RC(cio_unix_datagram_from_fd(&s, fd));
    CHECK_FD_FLAGS(fd);
    char buf[4];
    CHECK_ERR(cio_dgram_try_recv(s, buf, sizeof(buf)), -EAGAIN);
    cio_socket_close(s);
    s = NULL;
    CHECK_ERR(cio_unix_datagram_from_fd(&s, -1), -EBADF);
    CHECK_ERR(cio_unix_datagram_from_fd(NULL, 0), -EINVAL);
    int stream = (int)CHECK_SYS(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    CHECK_ERR(cio_unix_datagram_from_fd(&s, stream), -EPROTOTYPE);
    CHECK_EQ(fcntl(stream, F_GETFL) & O_NONBLOCK, 0);
    close(stream);
    int seqpacket = (int)CHECK_SYS(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    CHECK_ERR(cio_unix_datagram_from_fd(&s, seqpacket), -EPROTOTYPE);
    close(seqpacket);
    int udp = (int)CHECK_SYS(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    CHECK_ERR(cio_unix_datagram_from_fd(&s, udp), -EAFNOSUPPORT);
    close(udp);
    int pipes[2];
    CHECK_SYS(pipe2(pipes, O_CLOEXEC));
    CHECK_ERR(cio_unix_datagram_from_fd(&s, pipes[0]), -ENOTSOCK);
    close(pipes[0]);
    close(pipes[1]);
    CHECK(s == NULL);
    CHECK_ERR((cio_socket_into_fd)(NULL), -EINVAL);
    CHECK_ERR((cio_socket_fd)(NULL), -EINVAL);
}

CIO_TEST_MAIN(TEST(test_bound_and_unbound_senders), TEST(test_abstract_and_autobind),
              TEST(test_pair_and_peer_cred), TEST(test_connect_filter_disconnect),
              TEST(test_empty_and_truncated), TEST(test_full_queue_eagain_then_writable),
              TEST(test_send_errors), TEST(test_shutdown), TEST(test_options_and_fds))
