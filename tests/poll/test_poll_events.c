/*
 * test_poll_events.c: what events say and when they come. Edge-triggered delivery on epoll (one
 * event per edge, nothing more until the program drains to EAGAIN or new data arrives,
 * reregister re-arms), the poll(2) backend's documented level-triggered repeats, the closed,
 * error and priority flags on real connections (peer shutdown, close, reset, a UDP error) with
 * no false "closed" on a live connection, and a full event buffer losing nothing.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cio/poll.h"
#include "harness.h"
#include "poll_helpers.h"

#define BAD_FLAGS (CIO_EVENT_READ_CLOSED | CIO_EVENT_WRITE_CLOSED | CIO_EVENT_ERROR)

/* ---- edges ---- */

static void test_one_event_per_edge(void)
{
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(8);
    int sv[2];
    unix_pair(sv);
    CHECK_RC(cio_poll_register(poll, sv[0], 1, CIO_READABLE));
    write_byte(sv[1]);
    struct collected c = {0};
    CHECK_EQ(collect_once(poll, events, CIO_NSEC_PER_SEC, &c), 1);
    CHECK_EQ(c.ev[0].flags, CIO_EVENT_READABLE);

    /* Not drained. epoll: that edge was told, nothing more. poll(2): reported at every wait. */
    for (int i = 0; i < 3; i++) {
        c.count = 0;
        size_t n = collect_once(poll, events, 0, &c);
        if (is_edge(poll))
            CHECK_EQ(n, 0);
        else
            CHECK_EQ(token_flags(&c, 1, NULL), CIO_EVENT_READABLE);
    }
    /* New data is a new edge, drained or not. */
    write_byte(sv[1]);
    CHECK_EQ(wait_token(poll, events, 1, 1000), CIO_EVENT_READABLE);
    if (is_edge(poll))
        CHECK_EQ(cio_poll_wait(poll, events, 0), 0);

    /* Drained to EAGAIN: silence on both backends, until new data. */
    CHECK_EQ(drain_fd(sv[0]), 2);
    c.count = 0;
    collect_once(poll, events, 0, &c); /* the poll backend may still report the old level */
    c.count = 0;
    CHECK_EQ(collect_once(poll, events, 30 * CIO_NSEC_PER_MSEC, &c), 0);
    write_byte(sv[1]);
    CHECK_EQ(wait_token(poll, events, 1, 1000), CIO_EVENT_READABLE);

    CHECK_RC(cio_poll_deregister(poll, sv[0]));
    close(sv[0]);
    close(sv[1]);
    cio_events_free(events);
    cio_poll_free(poll);
}

/* The hazard the edge-triggered contract warns about: reading only part of the data and then
 * waiting gives no new event on epoll. Draining to EAGAIN is what brings the next one. */
static void test_partial_read_needs_drain(void)
{
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(8);
    int client, server;
    tcp_pair(&client, &server);
    CHECK_RC(cio_poll_register(poll, server, 1, CIO_READABLE));
    static char block[32768];
    CHECK_EQ(send(client, block, sizeof(block), MSG_NOSIGNAL), (ssize_t)sizeof(block));
    CHECK(wait_token(poll, events, 1, 1000) & CIO_EVENT_READABLE);
    /* Give any trailing segment time to land, then consume its edge too. */
    (void)wait_token(poll, events, 1, 20);
    char buf[100];
    CHECK_EQ(read(server, buf, sizeof(buf)), (ssize_t)sizeof(buf));
    struct collected c = {0};
    size_t n = collect_once(poll, events, 30 * CIO_NSEC_PER_MSEC, &c);
    if (is_edge(poll))
        CHECK_EQ(n, 0); /* data is still there, but no new edge */
    else
        CHECK_EQ(token_flags(&c, 1, NULL), CIO_EVENT_READABLE);
    CHECK_EQ(drain_fd(server), sizeof(block) - sizeof(buf));
    c.count = 0;
    collect_once(poll, events, 0, &c);
    write_byte(client);
    CHECK_EQ(wait_token(poll, events, 1, 1000), CIO_EVENT_READABLE);
    CHECK_RC(cio_poll_deregister(poll, server));
    close(client);
    close(server);
    cio_events_free(events);
    cio_poll_free(poll);
}

/* Reregister re-arms: readiness already told but still there is reported again. */
static void test_reregister_rearms(void)
{
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(8);
    int sv[2];
    unix_pair(sv);
    CHECK_RC(cio_poll_register(poll, sv[0], 1, CIO_READABLE));
    write_byte(sv[1]);
    CHECK_EQ(wait_token(poll, events, 1, 1000), CIO_EVENT_READABLE);
    if (is_edge(poll))
        CHECK_EQ(cio_poll_wait(poll, events, 0), 0);
    for (cio_token t = 2; t < 5; t++) {
        CHECK_RC(cio_poll_reregister(poll, sv[0], t, CIO_READABLE));
        struct collected c = {0};
        CHECK_EQ(collect_once(poll, events, 0, &c), 1);
        CHECK_EQ(c.ev[0].token, t);
        CHECK_EQ(c.ev[0].flags, CIO_EVENT_READABLE);
        if (is_edge(poll))
            CHECK_EQ(cio_poll_wait(poll, events, 0), 0);
    }
    CHECK_RC(cio_poll_deregister(poll, sv[0]));
    close(sv[0]);
    close(sv[1]);
    cio_events_free(events);
    cio_poll_free(poll);
}

/* A listener: one event for a burst of connections; accept to EAGAIN; a new one, a new event. */
static void test_listener_edges(void)
{
    int listener = (int)CHECK_SYS(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(addr);
    CHECK_SYS(bind(listener, (struct sockaddr *)&addr, sizeof(addr)));
    CHECK_SYS(listen(listener, 16));
    CHECK_SYS(getsockname(listener, (struct sockaddr *)&addr, &len));
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(8);
    CHECK_RC(cio_poll_register(poll, listener, 7, CIO_READABLE));
    CHECK_EQ(cio_poll_wait(poll, events, 0), 0);

    int clients[4];
    for (int i = 0; i < 4; i++) {
        clients[i] = (int)CHECK_SYS(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        CHECK_SYS(connect(clients[i], (struct sockaddr *)&addr, sizeof(addr)));
    }
    CHECK_EQ(wait_token(poll, events, 7, 1000), CIO_EVENT_READABLE);
    int accepted = 0;
    for (int i = 0; i < 10; i++) {
        int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            CHECK_EQ(errno, EAGAIN);
            break;
        }
        CHECK_FD_FLAGS(fd);
        close(fd);
        accepted++;
    }
    CHECK_EQ(accepted, 4);
    struct collected c = {0};
    collect_once(poll, events, 0, &c); /* epoll: maybe one stale edge per handshake */
    c.count = 0;
    CHECK_EQ(collect_once(poll, events, 20 * CIO_NSEC_PER_MSEC, &c), 0);
    int late = (int)CHECK_SYS(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    CHECK_SYS(connect(late, (struct sockaddr *)&addr, sizeof(addr)));
    CHECK_EQ(wait_token(poll, events, 7, 1000), CIO_EVENT_READABLE);
    int fd = (int)CHECK_SYS(accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC));
    close(fd);
    close(late);
    for (int i = 0; i < 4; i++)
        close(clients[i]);
    CHECK_RC(cio_poll_deregister(poll, listener));
    close(listener);
    cio_events_free(events);
    cio_poll_free(poll);
}

/* Writable edges: a full send buffer is silent until the peer makes room. */
static void test_writable_edge(void)
{
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(8);
    int client, server;
    tcp_pair(&client, &server);
    CHECK_RC(cio_poll_register(poll, client, 1, CIO_WRITABLE));
    CHECK_EQ(wait_token(poll, events, 1, 1000), CIO_EVENT_WRITABLE);
    if (is_edge(poll))
        CHECK_EQ(cio_poll_wait(poll, events, 0), 0);
    else
        CHECK_EQ(wait_token(poll, events, 1, 0), CIO_EVENT_WRITABLE); /* level: again */
    size_t sent = fill_fd(client);
    CHECK(sent > 0);
    struct collected c = {0};
    collect_once(poll, events, 0, &c);
    c.count = 0;
    collect_once(poll, events, 30 * CIO_NSEC_PER_MSEC, &c);
    CHECK_EQ(token_flags(&c, 1, NULL), 0);
    /* The reader drains everything: room again, one new writable edge. */
    size_t received = 0;
    for (int i = 0; i < 1000 && received < sent; i++) {
        received += drain_fd(server);
        if (received < sent)
            usleep(1000);
    }
    CHECK_EQ(received, sent);
    CHECK_EQ(wait_token(poll, events, 1, 1000), CIO_EVENT_WRITABLE);
    CHECK_RC(cio_poll_deregister(poll, client));
    close(client);
    close(server);
    cio_events_free(events);
    cio_poll_free(poll);
}

/* ---- flags on real connections ---- */

/* Waits until an event of token carries all of `want`; returns the union of what came. */
static uint32_t wait_flags(cio_poll *poll, cio_events *events, cio_token token, uint32_t want)
{
    uint32_t flags = 0;
    for (int i = 0; i < 40 && (flags & want) != want; i++)
        flags |= wait_token(poll, events, token, 50);
    return flags;
}

static void test_peer_shutdown_write(void)
{
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(8);
    int client, server;
    tcp_pair(&client, &server);
    CHECK_RC(cio_poll_register(poll, server, 1, CIO_READABLE | CIO_WRITABLE));
    CHECK_RC(cio_poll_register(poll, client, 2, CIO_READABLE | CIO_WRITABLE));
    CHECK_EQ(wait_flags(poll, events, 1, CIO_EVENT_WRITABLE) & BAD_FLAGS, 0);
    CHECK_SYS(shutdown(client, SHUT_WR));
    uint32_t flags = wait_flags(poll, events, 1, CIO_EVENT_READ_CLOSED);
    CHECK(flags & CIO_EVENT_READABLE);
    CHECK(flags & CIO_EVENT_READ_CLOSED);
    CHECK(!(flags & CIO_EVENT_WRITE_CLOSED)); /* the server can still send */
    CHECK(!(flags & CIO_EVENT_ERROR));
    char buf[16];
    CHECK_EQ(read(server, buf, sizeof(buf)), 0);
    /* The other direction lives: the client, which shut only its write side, gets the data
     * and never sees its read side called closed. */
    CHECK_EQ(send(server, "pong", 4, MSG_NOSIGNAL), 4);
    flags = wait_flags(poll, events, 2, CIO_EVENT_READABLE);
    CHECK(flags & CIO_EVENT_READABLE);
    CHECK(!(flags & CIO_EVENT_READ_CLOSED));
    CHECK(!(flags & CIO_EVENT_ERROR));
    CHECK_EQ(read(client, buf, sizeof(buf)), 4);
    CHECK_RC(cio_poll_deregister(poll, server));
    CHECK_RC(cio_poll_deregister(poll, client));
    close(client);
    close(server);
    cio_events_free(events);
    cio_poll_free(poll);
}

static void test_unix_peer_shutdown_write(void)
{
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(8);
    int sv[2];
    unix_pair(sv);
    CHECK_RC(cio_poll_register(poll, sv[0], 1, CIO_READABLE));
    CHECK_SYS(shutdown(sv[1], SHUT_WR));
    uint32_t flags = wait_flags(poll, events, 1, CIO_EVENT_READ_CLOSED);
    CHECK_EQ(flags & ~CIO_EVENT_WRITABLE, CIO_EVENT_READABLE | CIO_EVENT_READ_CLOSED);
    CHECK_RC(cio_poll_deregister(poll, sv[0]));
    close(sv[0]);
    close(sv[1]);
    cio_events_free(events);
    cio_poll_free(poll);
}

/* Peer close (FIN): read side closed; our write side is not known closed until the peer's
 * reset answers a write. */
static void test_peer_close_then_reset(void)
{
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(8);
    int client, server;
    tcp_pair(&client, &server);
    CHECK_RC(cio_poll_register(poll, server, 1, CIO_READABLE | CIO_WRITABLE));
    close(client);
    uint32_t flags = wait_flags(poll, events, 1, CIO_EVENT_READ_CLOSED);
    CHECK(flags & CIO_EVENT_READABLE);
    CHECK(flags & CIO_EVENT_READ_CLOSED);
    CHECK(!(flags & CIO_EVENT_WRITE_CLOSED));
    CHECK(!(flags & CIO_EVENT_ERROR));
    char buf[16];
    CHECK_EQ(read(server, buf, sizeof(buf)), 0);
    /* The closed peer answers data with a reset: now the write side is gone too. */
    CHECK_EQ(send(server, "late", 4, MSG_NOSIGNAL), 4);
    flags = wait_flags(poll, events, 1, CIO_EVENT_WRITE_CLOSED);
    CHECK(flags & CIO_EVENT_WRITE_CLOSED);
    CHECK(flags & CIO_EVENT_READ_CLOSED);
    CHECK(flags & CIO_EVENT_ERROR);
    ssize_t n = send(server, "x", 1, MSG_NOSIGNAL);
    CHECK(n < 0 && (errno == EPIPE || errno == ECONNRESET));
    CHECK_RC(cio_poll_deregister(poll, server));
    close(server);
    cio_events_free(events);
    cio_poll_free(poll);
}

static void test_unix_peer_close(void)
{
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(8);
    int sv[2];
    unix_pair(sv);
    CHECK_RC(cio_poll_register(poll, sv[0], 1, CIO_READABLE | CIO_WRITABLE));
    close(sv[1]);
    uint32_t flags = wait_flags(poll, events, 1, CIO_EVENT_READ_CLOSED | CIO_EVENT_WRITE_CLOSED);
    CHECK(flags & CIO_EVENT_READ_CLOSED);
    CHECK(flags & CIO_EVENT_WRITE_CLOSED);
    CHECK(flags & CIO_EVENT_READABLE);
    char buf[4];
    CHECK_EQ(read(sv[0], buf, sizeof(buf)), 0);
    CHECK_EQ(send(sv[0], "x", 1, MSG_NOSIGNAL), -1);
    CHECK_EQ(errno, EPIPE);
    CHECK_RC(cio_poll_deregister(poll, sv[0]));
    close(sv[0]);
    cio_events_free(events);
    cio_poll_free(poll);
}

/* A reset (peer closes with SO_LINGER 0): error, both directions closed. */
static void test_reset_flags(void)
{
    for (int variant = 0; variant < 2; variant++) {
        cio_poll *poll = poll_new_default();
        cio_events *events = events_new(8);
        int client, server;
        tcp_pair(&client, &server);
        /* Variant 1 asks for READABLE only: WRITABLE readiness is filtered out, but the
         * conditions (error, closed) are always told. */
        unsigned interest = variant == 0 ? CIO_READABLE | CIO_WRITABLE : CIO_READABLE;
        CHECK_RC(cio_poll_register(poll, server, 1, interest));
        if (variant == 0)
            CHECK_EQ(wait_flags(poll, events, 1, CIO_EVENT_WRITABLE) & BAD_FLAGS, 0);
        set_linger_zero(client);
        close(client);
        uint32_t want =
            CIO_EVENT_READABLE | CIO_EVENT_ERROR | CIO_EVENT_READ_CLOSED | CIO_EVENT_WRITE_CLOSED;
        uint32_t flags = wait_flags(poll, events, 1, want);
        CHECK_EQ(flags & want, want);
        if (variant == 0)
            CHECK(flags & CIO_EVENT_WRITABLE);
        else
            CHECK(!(flags & CIO_EVENT_WRITABLE));
        char buf[4];
        CHECK_EQ(read(server, buf, sizeof(buf)), -1);
        CHECK_EQ(errno, ECONNRESET);
        CHECK_RC(cio_poll_deregister(poll, server));
        close(server);
        cio_events_free(events);
        cio_poll_free(poll);
    }
}

/* A connected UDP socket that gets an ICMP "port unreachable": ERROR, and nothing claims a
 * closed direction (the socket stays usable). */
static void test_udp_error_is_not_closed(void)
{
    int probe = (int)CHECK_SYS(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(addr);
    CHECK_SYS(bind(probe, (struct sockaddr *)&addr, sizeof(addr)));
    CHECK_SYS(getsockname(probe, (struct sockaddr *)&addr, &len));
    close(probe); /* the port is now (almost certainly) unused */
    int udp = (int)CHECK_SYS(socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    CHECK_SYS(connect(udp, (struct sockaddr *)&addr, sizeof(addr)));
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(8);
    CHECK_RC(cio_poll_register(poll, udp, 1, CIO_READABLE));
    CHECK_EQ(send(udp, "?", 1, MSG_NOSIGNAL), 1);
    uint32_t flags = wait_flags(poll, events, 1, CIO_EVENT_ERROR);
    if (!(flags & CIO_EVENT_ERROR))
        TEST_SKIP("no ICMP port-unreachable on loopback here (rate limit or firewall)");
    CHECK(!(flags & CIO_EVENT_READ_CLOSED));
    CHECK(!(flags & CIO_EVENT_WRITE_CLOSED));
    int err = 0;
    socklen_t errlen = sizeof(err);
    CHECK_SYS(getsockopt(udp, SOL_SOCKET, SO_ERROR, &err, &errlen));
    CHECK_EQ(err, ECONNREFUSED);
    CHECK_RC(cio_poll_deregister(poll, udp));
    close(udp);
    cio_events_free(events);
    cio_poll_free(poll);
}

/* A live, busy connection never reports a closed direction or an error. */
static void test_no_false_closed_on_live_connection(void)
{
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(8);
    int client, server;
    tcp_pair(&client, &server);
    CHECK_RC(cio_poll_register(poll, server, 1, CIO_READABLE | CIO_WRITABLE | CIO_PRIORITY));
    CHECK_RC(cio_poll_register(poll, client, 2, CIO_READABLE | CIO_WRITABLE | CIO_PRIORITY));
    static char buf[70000];
    size_t sizes[] = {1, 7, 1000, 4096, 65536, 70000};
    for (int round = 0; round < 60; round++) {
        size_t size = sizes[round % 6];
        int from = round % 2 ? client : server, to = round % 2 ? server : client;
        cio_token to_token = round % 2 ? 1 : 2;
        size_t sent = 0, got = 0;
        for (int spin = 0; spin < 2000 && got < size; spin++) {
            if (sent < size) {
                ssize_t n = send(from, buf, size - sent, MSG_NOSIGNAL);
                if (n > 0)
                    sent += (size_t)n;
                else
                    CHECK_EQ(errno, EAGAIN);
            }
            struct collected c = {0};
            collect_once(poll, events, 5 * CIO_NSEC_PER_MSEC, &c);
            for (size_t i = 0; i < c.count; i++)
                if (c.ev[i].flags & BAD_FLAGS)
                    TEST_FAIL("round %d: token %ju flags %#x on a live connection", round,
                              (uintmax_t)c.ev[i].token, c.ev[i].flags);
            if (token_flags(&c, to_token, NULL) & CIO_EVENT_READABLE)
                got += drain_fd(to);
        }
        got += drain_fd(to);
        CHECK_EQ(got, size);
    }
    CHECK_RC(cio_poll_deregister(poll, server));
    CHECK_RC(cio_poll_deregister(poll, client));
    close(client);
    close(server);
    cio_events_free(events);
    cio_poll_free(poll);
}

/* ---- capacity ---- */

/* More ready descriptors than the buffer holds: the rest come in the next waits, none lost —
 * on the poll backend too, where descriptors stay ready and must not starve the later ones. */
static void check_capacity(unsigned interest, size_t capacity)
{
    enum { N = 10 };
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(capacity);
    int sv[N][2];
    for (int i = 0; i < N; i++) {
        unix_pair(sv[i]);
        write_byte(sv[i][1]);
        CHECK_RC(cio_poll_register(poll, sv[i][0], 100 + (cio_token)i, interest));
    }
    int seen[N] = {0};
    size_t waits = (N + capacity - 1) / capacity;
    for (size_t w = 0; w < waits; w++) {
        struct collected c = {0};
        size_t n = collect_once(poll, events, 0, &c);
        CHECK_EQ(n, is_edge(poll) ? (w + 1 < waits ? capacity : N - w * capacity) : capacity);
        for (size_t i = 0; i < c.count; i++) {
            CHECK(c.ev[i].token >= 100 && c.ev[i].token < 100 + N);
            seen[c.ev[i].token - 100]++;
        }
    }
    for (int i = 0; i < N; i++) {
        if (seen[i] == 0)
            TEST_FAIL("token %d never reported in %zu waits of capacity %zu", 100 + i, waits,
                      capacity);
        if (is_edge(poll))
            CHECK_EQ(seen[i], 1); /* one edge each, told once */
    }
    if (is_edge(poll))
        CHECK_EQ(cio_poll_wait(poll, events, 0), 0);
    for (int i = 0; i < N; i++) {
        CHECK_RC(cio_poll_deregister(poll, sv[i][0]));
        close(sv[i][0]);
        close(sv[i][1]);
    }
    cio_events_free(events);
    cio_poll_free(poll);
}

static void test_capacity_readable(void)
{
    check_capacity(CIO_READABLE, 3);
    check_capacity(CIO_READABLE, 1);
    check_capacity(CIO_READABLE, 10);
}

static void test_capacity_writable(void)
{
    check_capacity(CIO_WRITABLE, 3);
    check_capacity(CIO_WRITABLE, 4);
}

CIO_TEST_MAIN(TEST(test_one_event_per_edge), TEST(test_partial_read_needs_drain),
              TEST(test_reregister_rearms), TEST(test_listener_edges), TEST(test_writable_edge),
              TEST(test_peer_shutdown_write), TEST(test_unix_peer_shutdown_write),
              TEST(test_peer_close_then_reset), TEST(test_unix_peer_close), TEST(test_reset_flags),
              TEST(test_udp_error_is_not_closed), TEST(test_no_false_closed_on_live_connection),
              TEST(test_capacity_readable), TEST(test_capacity_writable))
