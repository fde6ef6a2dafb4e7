/*
 * test_unix_stream.c: Unix stream listeners and streams in a private temporary directory
 * and the abstract namespace — bind, connect, accept, socket pairs, addresses, peer
 * credentials, try_* semantics, bind and connect errors (in use, path too long, missing
 * directory, missing path, refused, wrong type, wrong family, bad arguments), the full
 * backlog's -EAGAIN, a large transfer with a small send buffer and random write sizes
 * driven by one edge-triggered cio_poll loop, half-close both ways, -EPIPE without SIGPIPE,
 * unlink-on-close, adopting and exporting descriptors, and accept under descriptor
 * exhaustion (the spare-descriptor defence).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cio/net.h"
#include "cio/poll.h"
#include "cio/unix.h"
#include "harness.h"
#include "test_unix_helpers.h"

static void test_path_listener_roundtrip(void)
{
    cio_addr addr = unix_path("server.sock");
    cio_unix_listener *listener = unix_listen(&addr, CIO_LISTEN_BACKLOG_DEFAULT);
    cio_addr local;
    CHECK_RC(cio_socket_local_addr(listener, &local));
    CHECK(cio_addr_equal(&local, &addr));
    struct stat st;
    CHECK_SYS(stat(cio_addr_unix_path(&addr), &st));
    CHECK(S_ISSOCK(st.st_mode));
    cio_unix_stream *stream = NULL;
    CHECK_ERR(cio_unix_listener_try_accept(listener, &stream, NULL), -EAGAIN);
    CHECK(stream == NULL);
    CHECK_EQ(cio_socket_take_error(listener), 0);

    cio_unix_stream *client, *server;
    CHECK_RC(cio_unix_stream_try_connect(&client, &addr));
    CHECK_FD_FLAGS(cio_socket_fd(client));
    /* The listener reports the connection as a readable event. */
    CHECK(wait_fd(cio_socket_fd(listener), CIO_READABLE, 5000) & CIO_EVENT_READABLE);
    cio_addr accepted_peer;
    server = unix_accept(listener, &accepted_peer);
    CHECK_EQ(cio_addr_get_kind(&accepted_peer), CIO_ADDR_UNNAMED);

    cio_addr c_local, c_peer, s_local, s_peer;
    CHECK_RC(cio_socket_local_addr(client, &c_local));
    CHECK_RC(cio_socket_peer_addr(client, &c_peer));
    CHECK_RC(cio_socket_local_addr(server, &s_local));
    CHECK_RC(cio_socket_peer_addr(server, &s_peer));
    CHECK_EQ(cio_addr_get_kind(&c_local), CIO_ADDR_UNNAMED);
    CHECK(cio_addr_equal(&c_peer, &addr));
    CHECK(cio_addr_equal(&s_local, &addr));
    CHECK_EQ(cio_addr_get_kind(&s_peer), CIO_ADDR_UNNAMED);
    CHECK_EQ(cio_socket_take_error(client), 0);

    unix_write_all(client, "ping", 4);
    char buf[8];
    unix_read_exact(server, buf, 4);
    CHECK(memcmp(buf, "ping", 4) == 0);
    unix_write_all(server, "pong!", 5);
    unix_read_exact(client, buf, 5);
    CHECK(memcmp(buf, "pong!", 5) == 0);
    cio_socket_close(client);
    cio_socket_close(server);
    cio_socket_close(listener);
    /* Off by default: the socket file stays. */
    CHECK_SYS(stat(cio_addr_unix_path(&addr), &st));
    (cio_socket_close)(NULL);
}

static void test_abstract_and_autobind(void)
{
    cio_addr addr = unix_abstract("listener");
    cio_unix_listener *listener = unix_listen(&addr, CIO_LISTEN_BACKLOG_DEFAULT);
    cio_addr local;
    CHECK_RC(cio_socket_local_addr(listener, &local));
    CHECK(cio_addr_equal(&local, &addr));
    cio_unix_stream *client, *server;
    unix_connect_pair(listener, &client, &server);
    unix_write_all(client, "abstract", 8);
    char buf[8];
    unix_read_exact(server, buf, 8);
    CHECK(memcmp(buf, "abstract", 8) == 0);
    /* The name is taken while the listener lives. */
    cio_unix_listener *twin = NULL;
    CHECK_ERR(cio_unix_listener_new(&twin, &addr, CIO_LISTEN_BACKLOG_DEFAULT), -EADDRINUSE);
    CHECK(twin == NULL);
    cio_socket_close(client);
    cio_socket_close(server);
    cio_socket_close(listener);
    /* Gone with its socket: connecting is refused, binding works again. */
    CHECK_ERR(cio_unix_stream_try_connect(&client, &addr), -ECONNREFUSED);
    listener = unix_listen(&addr, CIO_LISTEN_BACKLOG_DEFAULT);
    cio_socket_close(listener);

    /* The unnamed address asks Linux for a fresh abstract name. */
    cio_addr unnamed;
    CHECK_RC(cio_addr_unnamed(&unnamed));
    listener = unix_listen(&unnamed, CIO_LISTEN_BACKLOG_DEFAULT);
    CHECK_RC(cio_socket_local_addr(listener, &local));
    CHECK_EQ(cio_addr_get_kind(&local), CIO_ADDR_ABSTRACT);
    unix_connect_pair(listener, &client, &server);
    cio_socket_close(client);
    cio_socket_close(server);
    cio_socket_close(listener);
}

static void test_pair_and_peer_cred(void)
{
    cio_unix_stream *a, *b;
    unix_pair(&a, &b);
    cio_addr addr;
    CHECK_RC(cio_socket_local_addr(a, &addr));
    CHECK_EQ(cio_addr_get_kind(&addr), CIO_ADDR_UNNAMED);
    CHECK_RC(cio_socket_peer_addr(a, &addr));
    CHECK_EQ(cio_addr_get_kind(&addr), CIO_ADDR_UNNAMED);
    cio_unix_cred cred;
    CHECK_RC(cio_unix_peer_cred(a, &cred));
    CHECK_EQ(cred.pid, getpid());
    CHECK_EQ(cred.uid, getuid());
    CHECK_EQ(cred.gid, getgid());
    unix_write_all(a, "pair", 4);
    char buf[4];
    unix_read_exact(b, buf, 4);
    CHECK(memcmp(buf, "pair", 4) == 0);
    cio_socket_close(a);
    cio_socket_close(b);

    /* Through a listener: each side sees the other's process. */
    cio_addr path = unix_path("cred.sock");
    cio_unix_listener *listener = unix_listen(&path, CIO_LISTEN_BACKLOG_DEFAULT);
    cio_unix_stream *client, *server;
    unix_connect_pair(listener, &client, &server);
    memset(&cred, 0, sizeof(cred));
    CHECK_RC(cio_unix_peer_cred(server, &cred));
    CHECK_EQ(cred.pid, getpid());
    CHECK_EQ(cred.uid, getuid());
    CHECK_EQ(cred.gid, getgid());
    CHECK_RC(cio_unix_peer_cred(client, &cred));
    CHECK_EQ(cred.pid, getpid());
    CHECK_ERR(cio_unix_peer_cred(client, NULL), -EINVAL);
    CHECK_ERR((cio_unix_peer_cred)(NULL, &cred), -EINVAL);
    /* The function takes any cio_socket (the macro only lets Unix handles through): a TCP
     * socket is -EAFNOSUPPORT. */
    cio_addr tcp_addr;
    cio_tcp_listener *tcp = listen_on("127.0.0.1:0", &tcp_addr);
    CHECK_ERR((cio_unix_peer_cred)(cio_as_socket(tcp), &cred), -EAFNOSUPPORT);
    cio_socket_close(tcp);
    cio_socket_close(client);
    cio_socket_close(server);
    cio_socket_close(listener);

    /* A stream that never connected has no peer. */
    int fd = (int)CHECK_SYS(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    cio_unix_stream *lone;
    CHECK_RC(cio_unix_stream_from_fd(&lone, fd));
    CHECK_ERR(cio_unix_peer_cred(lone, &cred), -ENOTCONN);
    CHECK_ERR(cio_socket_peer_addr(lone, &addr), -ENOTCONN);
    cio_socket_close(lone);
}

static void test_read_semantics(void)
{
    cio_unix_stream *a, *b;
    unix_pair(&a, &b);
    char buf[16];
    CHECK_ERR(cio_stream_try_read(b, buf, sizeof(buf)), -EAGAIN);
    CHECK_ERR(cio_stream_try_peek(b, buf, sizeof(buf)), -EAGAIN);
    /* Zero-length calls: 0 without a system call, not end of stream. */
    CHECK_EQ(cio_stream_try_read(b, NULL, 0), 0);
    CHECK_EQ(cio_stream_try_write(a, NULL, 0), 0);
    CHECK_EQ(cio_stream_try_readv(b, NULL, 0), 0);
    CHECK_ERR(cio_stream_try_read(b, buf, sizeof(buf)), -EAGAIN);

    char part1[] = "hello ", part2[] = "world";
    struct iovec out[2] = {{part1, 6}, {part2, 5}};
    CHECK_EQ(cio_stream_try_writev(a, out, 2), 11);
    CHECK_EQ(cio_stream_try_peek(b, buf, 5), 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    char x[3], y[16];
    struct iovec in[2] = {{x, sizeof(x)}, {y, sizeof(y)}};
    CHECK_EQ(cio_stream_try_readv(b, in, 2), 11);
    CHECK(memcmp(x, "hel", 3) == 0);
    CHECK(memcmp(y, "lo world", 8) == 0);
    CHECK_ERR(cio_stream_try_readv(b, in, -1), -EINVAL);
    CHECK_ERR(cio_stream_try_read(b, NULL, 4), -EINVAL);
    CHECK_ERR(cio_stream_try_write(a, NULL, 4), -EINVAL);
    cio_socket_close(a);
    cio_socket_close(b);
}

static void test_bind_errors(void)
{
    cio_unix_listener *listener = NULL;
    cio_addr addr = unix_path("taken.sock");
    cio_unix_listener *first = unix_listen(&addr, CIO_LISTEN_BACKLOG_DEFAULT);
    CHECK_ERR(cio_unix_listener_new(&listener, &addr, CIO_LISTEN_BACKLOG_DEFAULT), -EADDRINUSE);
    cio_socket_close(first);
    /* The file left behind still blocks the path: cio never removes what it did not make. */
    CHECK_ERR(cio_unix_listener_new(&listener, &addr, CIO_LISTEN_BACKLOG_DEFAULT), -EADDRINUSE);

    /* A path one byte too long cannot even become an address: never truncated. */
    char longpath[CIO_ADDR_UNIX_PATH_MAX + 2];
    memset(longpath, 'p', sizeof(longpath));
    longpath[0] = '/';
    CHECK_ERR(cio_addr_unix(&addr, longpath, CIO_ADDR_UNIX_PATH_MAX + 1), -ENAMETOOLONG);
    longpath[CIO_ADDR_UNIX_PATH_MAX + 1] = '\0';
    CHECK_ERR(cio_addr_parse(&addr, longpath), -ENAMETOOLONG);

    addr = unix_path("no-such-dir/x.sock");
    CHECK_ERR(cio_unix_listener_new(&listener, &addr, CIO_LISTEN_BACKLOG_DEFAULT), -ENOENT);
    CHECK_RC(cio_addr_parse(&addr, "127.0.0.1:0"));
    CHECK_ERR(cio_unix_listener_new(&listener, &addr, CIO_LISTEN_BACKLOG_DEFAULT), -EAFNOSUPPORT);
    CHECK_ERR(cio_unix_listener_new(&listener, NULL, CIO_LISTEN_BACKLOG_DEFAULT), -EINVAL);
    CHECK_ERR(cio_unix_listener_new(NULL, &addr, CIO_LISTEN_BACKLOG_DEFAULT), -EINVAL);
    cio_addr empty = {0};
    CHECK_ERR(cio_unix_listener_new(&listener, &empty, CIO_LISTEN_BACKLOG_DEFAULT), -EINVAL);
    CHECK(listener == NULL);
}

static void test_connect_errors(void)
{
    cio_unix_stream *stream = NULL;
    /* Missing path. */
    cio_addr missing = unix_path("missing.sock");
    CHECK_ERR(cio_unix_stream_try_connect(&stream, &missing), -ENOENT);
    /* A stale socket file (its listener closed without removing it). */
    cio_addr stale = unix_path("stale.sock");
    cio_socket_close(unix_listen(&stale, CIO_LISTEN_BACKLOG_DEFAULT));
    CHECK_ERR(cio_unix_stream_try_connect(&stream, &stale), -ECONNREFUSED);
    /* A socket bound to a path but not listening. */
    cio_addr bound = unix_path("bound.sock");
    int fd = (int)CHECK_SYS(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    CHECK_SYS(bind(fd, cio_addr_sockaddr(&bound), cio_addr_len(&bound)));
    CHECK_ERR(cio_unix_stream_try_connect(&stream, &bound), -ECONNREFUSED);
    close(fd);
    /* A datagram socket at the path: the wrong type. */
    cio_addr dgram_path = unix_path("dgram.sock");
    cio_unix_datagram *dgram;
    CHECK_RC(cio_unix_datagram_new(&dgram, &dgram_path));
    CHECK_ERR(cio_unix_stream_try_connect(&stream, &dgram_path), -EPROTOTYPE);
    cio_socket_close(dgram);
    /* Nobody holds the abstract name. */
    cio_addr nobody = unix_abstract("nobody");
    CHECK_ERR(cio_unix_stream_try_connect(&stream, &nobody), -ECONNREFUSED);
    /* Not a file that is a socket. */
    cio_addr dir;
    const char *tmp = cio_test_tmpdir();
    CHECK_RC(cio_addr_unix(&dir, tmp, strlen(tmp)));
    CHECK_ERR(cio_unix_stream_try_connect(&stream, &dir), -ECONNREFUSED);
    /* Wrong family, the unnamed address, NULL. */
    cio_addr ip, unnamed;
    CHECK_RC(cio_addr_parse(&ip, "127.0.0.1:1"));
    CHECK_ERR(cio_unix_stream_try_connect(&stream, &ip), -EAFNOSUPPORT);
    CHECK_RC(cio_addr_unnamed(&unnamed));
    CHECK_ERR(cio_unix_stream_try_connect(&stream, &unnamed), -EINVAL);
    CHECK_ERR(cio_unix_stream_try_connect(&stream, NULL), -EINVAL);
    CHECK_ERR(cio_unix_stream_try_connect(NULL, &missing), -EINVAL);
    CHECK(stream == NULL);
    CHECK_ERR(cio_unix_stream_pair(NULL, &stream), -EINVAL);
}

static void test_backlog_full_is_eagain(void)
{
    /* A listener with backlog 1 that never accepts. Linux admits backlog + 1 connections,
     * then a non-blocking connect fails at once with -EAGAIN, creating nothing. */
    cio_addr addr = unix_path("busy.sock");
    cio_unix_listener *listener = unix_listen(&addr, 1);
    cio_unix_stream *clients[16];
    int connected = 0, refused = 0;
    int64_t start = cio_test_now_ms();
    for (int i = 0; i < 16; i++) {
        cio_unix_stream *stream = NULL;
        int rc = cio_unix_stream_try_connect(&stream, &addr);
        if (rc == 0) {
            CHECK(refused == 0); /* once full, it stays full */
            CHECK_FD_FLAGS(cio_socket_fd(stream));
            clients[connected++] = stream;
        } else {
            CHECK_ERR(rc, -EAGAIN);
            CHECK(stream == NULL);
            refused++;
        }
    }
    CHECK(cio_test_now_ms() - start < 2000); /* never waited */
    CHECK(connected >= 1);
    CHECK(refused >= 1);
    CHECK(connected <= 4);
    /* Accepting one makes room for one more. */
    cio_unix_stream *server = unix_accept(listener, NULL);
    cio_unix_stream *late;
    CHECK_RC(cio_unix_stream_try_connect(&late, &addr));
    cio_socket_close(late);
    cio_socket_close(server);
    for (int i = 0; i < connected; i++)
        cio_socket_close(clients[i]);
    cio_socket_close(listener);

    /* Backlog 0 is a backlog of 0 (not the default): exactly one connection waits. */
    cio_addr zero_addr = unix_path("zero.sock");
    cio_unix_listener *zero = unix_listen(&zero_addr, 0);
    cio_unix_stream *first, *second = NULL;
    CHECK_RC(cio_unix_stream_try_connect(&first, &zero_addr));
    CHECK_ERR(cio_unix_stream_try_connect(&second, &zero_addr), -EAGAIN);
    CHECK(second == NULL);
    server = unix_accept(zero, NULL);
    CHECK_RC(cio_unix_stream_try_connect(&second, &zero_addr));
    cio_socket_close(server);
    cio_socket_close(first);
    cio_socket_close(second);
    cio_socket_close(zero);
}

static void test_large_transfer_poll_loop(void)
{
    /* 24 MiB from client to server through a listener-made connection with small buffers,
     * random write and read sizes, one edge-triggered cio_poll loop: on each event the
     * handler goes on until -EAGAIN. Every byte arrives, in order, exactly once. */
    enum { TOTAL = 24 << 20, CHUNK = 256 << 10 };
    static uint8_t out[CHUNK], in[CHUNK];
    cio_addr addr = unix_path("bulk.sock");
    cio_unix_listener *listener = unix_listen(&addr, CIO_LISTEN_BACKLOG_DEFAULT);
    cio_unix_stream *client, *server;
    unix_connect_pair(listener, &client, &server);
    cio_socket_close(listener);
    CHECK_RC(cio_socket_set_send_buffer_size(client, 16384));
    CHECK_RC(cio_socket_set_recv_buffer_size(server, 16384));

    cio_poll *poll;
    cio_events *events;
    CHECK_RC(cio_poll_new(&poll, NULL));
    CHECK_RC(cio_events_new(&events, 8));
    CHECK_RC(cio_poll_register(poll, cio_socket_fd(client), 1, CIO_WRITABLE));
    CHECK_RC(cio_poll_register(poll, cio_socket_fd(server), 2, CIO_READABLE));
    uint64_t rng = 0x9e3779b97f4a7c15ull, seed = 77;
    size_t sent = 0, received = 0, write_blocks = 0;
    bool eof = false, shut = false;
    int64_t deadline = cio_test_now_ms() + 60000;
    while (!eof) {
        CHECK(cio_test_now_ms() < deadline);
        int n = cio_poll_wait_ms(poll, events, 1000);
        CHECK(n >= 0 || n == -EINTR);
        const cio_event *ev;
        for (size_t it = 0; (ev = cio_events_next(events, &it)) != NULL;) {
            if (ev->token == 1) {
                while (sent < TOTAL) {
                    size_t want = 1 + (size_t)(test_rng(&rng) % CHUNK);
                    want = want < TOTAL - sent ? want : TOTAL - sent;
                    fill_stream(seed, sent, out, want);
                    ssize_t w = cio_stream_try_write(client, out, want);
                    if (w == -EAGAIN) {
                        write_blocks++;
                        break;
                    }
                    CHECK(w > 0 && (size_t)w <= want);
                    sent += (size_t)w;
                }
                if (sent == TOTAL && !shut) {
                    CHECK_RC(cio_socket_shutdown(client, CIO_SHUTDOWN_WRITE));
                    shut = true;
                }
            } else {
                CHECK_EQ(ev->token, 2);
                for (;;) {
                    size_t want = 1 + (size_t)(test_rng(&rng) % CHUNK);
                    ssize_t r = cio_stream_try_read(server, in, want);
                    if (r == -EAGAIN)
                        break;
                    if (r == 0) {
                        eof = true;
                        break;
                    }
                    CHECK(r > 0);
                    size_t bad = check_stream(seed, received, in, (size_t)r);
                    if (bad != (size_t)r)
                        TEST_FAIL("byte %zu of the stream is wrong", received + bad);
                    received += (size_t)r;
                }
            }
        }
    }
    CHECK_EQ(received, TOTAL);
    CHECK(write_blocks > 0); /* the send buffer really filled up */
    CHECK_RC(cio_poll_deregister(poll, cio_socket_fd(client)));
    CHECK_RC(cio_poll_deregister(poll, cio_socket_fd(server)));
    cio_events_free(events);
    cio_poll_free(poll);
    cio_socket_close(client);
    cio_socket_close(server);
}

static void test_half_close_both_ways(void)
{
    cio_addr addr = unix_path("half.sock");
    cio_unix_listener *listener = unix_listen(&addr, CIO_LISTEN_BACKLOG_DEFAULT);
    cio_unix_stream *client, *server;
    unix_connect_pair(listener, &client, &server);
    char buf[16];
    /* The client sends a request and shuts down writing: the server reads it, then end of
     * stream, which the poll reports as READ_CLOSED. */
    unix_write_all(client, "request", 7);
    CHECK_RC(cio_socket_shutdown(client, CIO_SHUTDOWN_WRITE));
    CHECK(wait_fd(cio_socket_fd(server), CIO_READABLE, 5000) & CIO_EVENT_READ_CLOSED);
    unix_read_exact(server, buf, 7);
    CHECK(memcmp(buf, "request", 7) == 0);
    CHECK_EQ(unix_read_result(server, buf, sizeof(buf)), 0);
    CHECK_EQ(cio_stream_try_read(server, buf, sizeof(buf)), 0); /* and stays there */
    /* The client can no longer write; the server still can, and the client still reads. */
    CHECK_ERR(cio_stream_try_write(client, "more", 4), -EPIPE);
    unix_write_all(server, "response", 8);
    unix_read_exact(client, buf, 8);
    CHECK(memcmp(buf, "response", 8) == 0);
    /* Now the other way: the server shuts down writing, the client reads end of stream. */
    CHECK_RC(cio_socket_shutdown(server, CIO_SHUTDOWN_WRITE));
    CHECK_EQ(unix_read_result(client, buf, sizeof(buf)), 0);
    CHECK_ERR(cio_stream_try_write(server, "x", 1), -EPIPE);
    CHECK_ERR(cio_socket_shutdown(server, (cio_shutdown)0), -EINVAL);
    CHECK_ERR((cio_socket_shutdown)(NULL, CIO_SHUTDOWN_BOTH), -EINVAL);
    cio_socket_close(client);
    cio_socket_close(server);
    cio_socket_close(listener);

    /* Shutting down reading: what was queued is still read, then reads return 0, and the
     * peer's writes fail with -EPIPE. */
    cio_unix_stream *a, *b;
    unix_pair(&a, &b);
    unix_write_all(b, "queued", 6);
    CHECK_RC(cio_socket_shutdown(a, CIO_SHUTDOWN_READ));
    CHECK_EQ(cio_stream_try_read(a, buf, sizeof(buf)), 6);
    CHECK(memcmp(buf, "queued", 6) == 0);
    CHECK_EQ(cio_stream_try_read(a, buf, sizeof(buf)), 0);
    CHECK_ERR(cio_stream_try_write(b, "x", 1), -EPIPE);
    unix_write_all(a, "still", 5); /* this side can still write */
    unix_read_exact(b, buf, 5);
    cio_socket_close(a);
    cio_socket_close(b);
}

static void test_epipe_without_sigpipe(void)
{
    /* SIGPIPE is at its default (the harness makes sure): a write that raised it would kill
     * this process. */
    struct sigaction sa;
    CHECK_SYS(sigaction(SIGPIPE, NULL, &sa));
    CHECK(sa.sa_handler == SIG_DFL);
    cio_unix_stream *a, *b;
    unix_pair(&a, &b);
    cio_socket_close(b);
    CHECK_ERR(cio_stream_try_write(a, "x", 1), -EPIPE);
    char data[] = "vectored";
    struct iovec iov = {data, 8};
    CHECK_ERR(cio_stream_try_writev(a, &iov, 1), -EPIPE);
    int fds[2];
    CHECK_SYS(pipe2(fds, O_NONBLOCK | O_CLOEXEC));
    CHECK_ERR(cio_unix_try_send_fds(a, "f", 1, fds, 2, NULL), -EPIPE);
    close(fds[0]);
    close(fds[1]);
    char buf[4];
    CHECK_EQ(cio_stream_try_read(a, buf, sizeof(buf)), 0); /* end of stream */
    cio_socket_close(a);

    /* Closing with unread data: the peer's read sees the reset. */
    unix_pair(&a, &b);
    unix_write_all(a, "unread", 6);
    cio_socket_close(b);
    CHECK_ERR(unix_read_result(a, buf, sizeof(buf)), -ECONNRESET);
    cio_socket_close(a);
}

static void test_unlink_on_close(void)
{
    struct stat st;
    cio_addr addr = unix_path("unlink.sock");
    cio_unix_listener *listener = unix_listen(&addr, CIO_LISTEN_BACKLOG_DEFAULT);
    bool on;
    CHECK_RC(cio_unix_listener_unlink_on_close(listener, &on));
    CHECK(!on);
    CHECK_RC(cio_unix_listener_set_unlink_on_close(listener, true));
    CHECK_RC(cio_unix_listener_unlink_on_close(listener, &on));
    CHECK(on);
    CHECK_SYS(stat(cio_addr_unix_path(&addr), &st));
    cio_socket_close(listener);
    CHECK(stat(cio_addr_unix_path(&addr), &st) < 0 && errno == ENOENT);
    /* The path is free again at once. */
    listener = unix_listen(&addr, CIO_LISTEN_BACKLOG_DEFAULT);

    /* Another server took the path over (removed the file, bound its own): closing the
     * first listener leaves the new file alone. */
    CHECK_RC(cio_unix_listener_set_unlink_on_close(listener, true));
    CHECK_SYS(unlink(cio_addr_unix_path(&addr)));
    cio_unix_listener *newer = unix_listen(&addr, CIO_LISTEN_BACKLOG_DEFAULT);
    cio_socket_close(listener);
    CHECK_SYS(stat(cio_addr_unix_path(&addr), &st));
    cio_unix_stream *client, *server;
    unix_connect_pair(newer, &client, &server); /* still reachable */
    cio_socket_close(client);
    cio_socket_close(server);

    /* into_fd never removes the file; the adopted listener can opt in. */
    CHECK_RC(cio_unix_listener_set_unlink_on_close(newer, true));
    int fd = cio_socket_into_fd(newer);
    CHECK(fd >= 0);
    CHECK_FD_FLAGS(fd);
    CHECK_SYS(stat(cio_addr_unix_path(&addr), &st));
    CHECK_RC(cio_unix_listener_from_fd(&newer, fd));
    CHECK_RC(cio_unix_listener_set_unlink_on_close(newer, true));
    cio_socket_close(newer);
    CHECK(stat(cio_addr_unix_path(&addr), &st) < 0 && errno == ENOENT);

    /* Abstract and autobound listeners have no file to remove. */
    cio_addr abstract = unix_abstract("nofile");
    listener = unix_listen(&abstract, CIO_LISTEN_BACKLOG_DEFAULT);
    CHECK_ERR(cio_unix_listener_set_unlink_on_close(listener, true), -EINVAL);
    CHECK_RC(cio_unix_listener_set_unlink_on_close(listener, false));
    cio_socket_close(listener);
    CHECK_ERR(cio_unix_listener_set_unlink_on_close(NULL, true), -EINVAL);
    CHECK_ERR(cio_unix_listener_unlink_on_close(NULL, &on), -EINVAL);
}

static void test_from_fd_checks(void)
{
    cio_unix_listener *listener = NULL;
    cio_unix_stream *stream = NULL;
    CHECK_ERR(cio_unix_listener_from_fd(&listener, -1), -EBADF);
    CHECK_ERR(cio_unix_stream_from_fd(&stream, -1), -EBADF);
    CHECK_ERR(cio_unix_stream_from_fd(NULL, 0), -EINVAL);
    int fds[2];
    CHECK_SYS(pipe2(fds, O_CLOEXEC));
    CHECK_ERR(cio_unix_stream_from_fd(&stream, fds[0]), -ENOTSOCK);
    CHECK_ERR(cio_unix_listener_from_fd(&listener, fds[0]), -ENOTSOCK);
    close(fds[0]);
    close(fds[1]);
    int udp = (int)CHECK_SYS(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    CHECK_ERR(cio_unix_stream_from_fd(&stream, udp), -EAFNOSUPPORT);
    close(udp);
    int dgram = (int)CHECK_SYS(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    CHECK_ERR(cio_unix_stream_from_fd(&stream, dgram), -EPROTOTYPE);
    close(dgram);
    /* A stream socket that is not listening is no listener, and a listening one no
     * stream. Refused descriptors keep their flags. */
    int plain = (int)CHECK_SYS(socket(AF_UNIX, SOCK_STREAM, 0));
    CHECK_ERR(cio_unix_listener_from_fd(&listener, plain), -EINVAL);
    CHECK_EQ(fcntl(plain, F_GETFL) & O_NONBLOCK, 0);
    cio_addr addr = unix_path("adopt.sock");
    CHECK_SYS(bind(plain, cio_addr_sockaddr(&addr), cio_addr_len(&addr)));
    CHECK_SYS(listen(plain, 4));
    CHECK_ERR(cio_unix_stream_from_fd(&stream, plain), -EINVAL);
    CHECK(listener == NULL && stream == NULL);
    /* Adopted: non-blocking and close-on-exec, accepts, and hands the descriptor back. */
    CHECK_RC(cio_unix_listener_from_fd(&listener, plain));
    CHECK_FD_FLAGS(plain);
    CHECK_ERR(cio_unix_listener_try_accept(listener, &stream, NULL), -EAGAIN);
    cio_unix_stream *client, *server;
    unix_connect_pair(listener, &client, &server);
    CHECK_EQ(cio_socket_into_fd(listener), plain);
    CHECK_FD_FLAGS(plain);
    close(plain);
    int cfd = cio_socket_into_fd(client);
    CHECK(cfd >= 0);
    CHECK_FD_FLAGS(cfd);
    CHECK_RC(cio_unix_stream_from_fd(&client, cfd));
    unix_write_all(client, "back", 4);
    char buf[4];
    unix_read_exact(server, buf, 4);
    cio_socket_close(client);
    cio_socket_close(server);
    /* One core function each now for the stream and the listener (was _stream_/_listener_). */
    CHECK_ERR((cio_socket_into_fd)(NULL), -EINVAL);
    CHECK_ERR((cio_socket_fd)(NULL), -EINVAL);
    CHECK_ERR(cio_unix_listener_try_accept(NULL, &stream, NULL), -EINVAL);
    (cio_socket_close)(NULL);
}

static void test_accept_out_of_descriptors(void)
{
    /* With no descriptor left, try_accept sheds the pending connections (their clients see
     * the connection closed) instead of leaving them in the backlog, and says -EMFILE. */
    cio_addr addr = unix_path("emfile.sock");
    cio_unix_listener *listener = unix_listen(&addr, CIO_LISTEN_BACKLOG_DEFAULT);
    cio_unix_stream *c1, *c2;
    CHECK_RC(cio_unix_stream_try_connect(&c1, &addr));
    CHECK_RC(cio_unix_stream_try_connect(&c2, &addr));
    struct rlimit old, low;
    CHECK_SYS(getrlimit(RLIMIT_NOFILE, &old));
    low = old;
    low.rlim_cur = 64;
    CHECK_SYS(setrlimit(RLIMIT_NOFILE, &low));
    int filler[64], nfill = 0;
    for (;;) {
        int fd = dup(0);
        if (fd < 0) {
            CHECK_EQ(errno, EMFILE);
            break;
        }
        CHECK(nfill < 64);
        filler[nfill++] = fd;
    }
    cio_unix_stream *stream = NULL;
    int rc = cio_unix_listener_try_accept(listener, &stream, NULL);
    CHECK_ERR(rc, -EMFILE);
    /* Nothing is pending any more: the next call says -EAGAIN (Linux 6.x looks for a
     * connection before a descriptor) or, on kernels that look for the descriptor first,
     * -EMFILE again. Either way no edge-triggered loop is left with a stuck backlog. */
    rc = cio_unix_listener_try_accept(listener, &stream, NULL);
    CHECK(rc == -EAGAIN || rc == -EMFILE);
    for (int i = 0; i < nfill; i++)
        close(filler[i]);
    CHECK_SYS(setrlimit(RLIMIT_NOFILE, &old));
    CHECK_ERR(cio_unix_listener_try_accept(listener, &stream, NULL), -EAGAIN);
    CHECK(stream == NULL);
    /* The shed clients read end of stream (or a reset). */
    char buf[4];
    ssize_t n = unix_read_result(c1, buf, sizeof(buf));
    CHECK(n == 0 || n == -ECONNRESET);
    n = unix_read_result(c2, buf, sizeof(buf));
    CHECK(n == 0 || n == -ECONNRESET);
    /* And the listener works normally again. */
    cio_unix_stream *client, *server;
    unix_connect_pair(listener, &client, &server);
    cio_socket_close(client);
    cio_socket_close(server);
    cio_socket_close(c1);
    cio_socket_close(c2);
    cio_socket_close(listener);
}

static void test_buffer_options(void)
{
    cio_unix_stream *a, *b;
    unix_pair(&a, &b);
    int value;
    CHECK_RC(cio_socket_set_send_buffer_size(a, 32768));
    CHECK_RC(cio_socket_send_buffer_size(a, &value));
    CHECK(value >= 32768);
    CHECK_RC(cio_socket_set_recv_buffer_size(a, 50000));
    CHECK_RC(cio_socket_recv_buffer_size(a, &value));
    CHECK(value >= 50000);
    CHECK_ERR(cio_socket_set_send_buffer_size(a, -5), -EINVAL);
    CHECK_ERR(cio_socket_send_buffer_size(a, NULL), -EINVAL);
    CHECK_ERR((cio_socket_send_buffer_size)(NULL, &value), -EINVAL);
    /* The socket options are shared by every kind now; the IP ones are refused on a Unix
     * socket, by the library, before the kernel is asked. */
    bool on;
    CHECK_ERR(cio_socket_set_ttl(a, 64), -EAFNOSUPPORT);
    CHECK_ERR(cio_socket_ttl(a, &value), -EAFNOSUPPORT);
    CHECK_ERR(cio_socket_set_tos(a, 0x10), -EAFNOSUPPORT);
    CHECK_ERR(cio_socket_tos(a, &value), -EAFNOSUPPORT);
    CHECK_ERR(cio_socket_set_v6only(a, true), -EAFNOSUPPORT);
    CHECK_ERR(cio_socket_v6only(a, &on), -EAFNOSUPPORT);
    cio_socket_close(a);
    cio_socket_close(b);
}

CIO_TEST_MAIN(TEST(test_path_listener_roundtrip), TEST(test_abstract_and_autobind),
              TEST(test_pair_and_peer_cred), TEST(test_read_semantics), TEST(test_bind_errors),
              TEST(test_connect_errors), TEST(test_backlog_full_is_eagain),
              TEST(test_large_transfer_poll_loop), TEST(test_half_close_both_ways),
              TEST(test_epipe_without_sigpipe), TEST(test_unlink_on_close),
              TEST(test_from_fd_checks), TEST(test_accept_out_of_descriptors),
              TEST(test_buffer_options))
