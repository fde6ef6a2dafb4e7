/*
 * poll_echo.c: an echo server and its client in one process, both driven by a single cio_poll
 * readiness loop — the way a mio program is written. The server listens on 127.0.0.1 (port 0:
 * the kernel picks one), accepts the client and echoes what it reads; the client sends a few
 * messages of different sizes, one of them far larger than the socket buffers, and checks
 * every echoed byte. Everything is non-blocking and edge-triggered: each handler reads or
 * writes until the call says EAGAIN, then waits for the next event. When the server cannot
 * write everything it read (the peer is slow), it keeps the rest, stops reading, and asks for
 * WRITABLE instead: backpressure, with no data lost.
 *
 * Only the public cio API (cio.h) and plain POSIX sockets are used. Exit status 0 when every
 * echo matched, 1 otherwise.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4() */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cio.h>

/* Tokens: how an event says which socket it is about. */
enum { LISTENER = 1, SERVER_CONN = 2, CLIENT = 3 };

/* Small socket buffers, so that the large message cannot fit in them and the server really
 * has to wait for WRITABLE. */
#define SOCKET_BUFFER (32 * 1024)

static const size_t message_sizes[] = {12, 1000, 65536, 1024 * 1024, 3};
#define MESSAGES (sizeof(message_sizes) / sizeof(message_sizes[0]))

/* The server's side of the connection: bytes read and not yet written back. */
struct server_conn {
    int fd;
    unsigned interest;
    unsigned char buf[16 * 1024];
    size_t len, sent; /* buf[sent..len) is still to be echoed */
    size_t echoed;    /* total bytes echoed */
    unsigned writable_waits;
    bool closed;
};

/* The client: the message in flight, what of it went out and what came back. */
struct client {
    int fd;
    unsigned interest;
    bool connected, done;
    size_t index; /* which message */
    unsigned char *message;
    size_t size, sent, received;
    size_t total_verified;
};

static cio_poll *poll;

static void fail(const char *what, int rc)
{
    fprintf(stderr, "poll_echo: %s: %s\n", what, cio_strerror(rc));
    exit(1);
}

static void fail_errno(const char *what)
{
    fail(what, -errno);
}

/* Ask for exactly `want` on a registered socket (reregister only on a change). */
static void set_interest(int fd, cio_token token, unsigned *interest, unsigned want)
{
    if (*interest == want)
        return;
    int rc = cio_poll_reregister(poll, fd, token, want);
    if (rc < 0)
        fail("cio_poll_reregister", rc);
    *interest = want;
}

/* ---- server ---- */

static int listen_on_loopback(unsigned short *ret_port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        fail_errno("socket");
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(addr);
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 16) < 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) < 0)
        fail_errno("bind/listen");
    *ret_port = ntohs(addr.sin_port);
    return fd;
}

/* The listener is readable: accept every pending connection (until EAGAIN). */
static void on_listener(int listener, struct server_conn *conn)
{
    for (;;) {
        struct sockaddr_in peer;
        socklen_t len = sizeof(peer);
        int fd = accept4(listener, (struct sockaddr *)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            fail_errno("accept4");
        }
        if (conn->fd >= 0) { /* this example serves one client */
            close(fd);
            continue;
        }
        int size = SOCKET_BUFFER;
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
        printf("server: accepted a connection from 127.0.0.1:%u\n", ntohs(peer.sin_port));
        conn->fd = fd;
        conn->interest = CIO_READABLE;
        int rc = cio_poll_register(poll, fd, SERVER_CONN, CIO_READABLE);
        if (rc < 0)
            fail("cio_poll_register", rc);
    }
}

/* Echo: write back what is pending, then read more; repeat until a call would block. */
static void on_server_conn(struct server_conn *conn)
{
    for (;;) {
        while (conn->sent < conn->len) {
            ssize_t n =
                send(conn->fd, conn->buf + conn->sent, conn->len - conn->sent, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    break;
                fail_errno("server send");
            }
            conn->sent += (size_t)n;
            conn->echoed += (size_t)n;
        }
        if (conn->sent < conn->len) {
            /* The client is not reading fast enough. Keep the rest, stop reading (so we do
             * not buffer without bound) and wait until the socket is writable again. */
            conn->writable_waits++;
            set_interest(conn->fd, SERVER_CONN, &conn->interest, CIO_WRITABLE);
            return;
        }
        conn->sent = conn->len = 0;

        ssize_t n = recv(conn->fd, conn->buf, sizeof(conn->buf), 0);
        if (n > 0) {
            conn->len = (size_t)n;
            continue;
        }
        if (n == 0) { /* the client is done sending: so are we */
            printf("server: client hung up; echoed %zu bytes, waited for WRITABLE %u times\n",
                   conn->echoed, conn->writable_waits);
            (void)cio_poll_deregister(poll, conn->fd);
            close(conn->fd);
            conn->closed = true;
            return;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            set_interest(conn->fd, SERVER_CONN, &conn->interest, CIO_READABLE);
            return;
        }
        fail_errno("server recv");
    }
}

/* ---- client ---- */

/* A message whose bytes depend on its index and position, so a misplaced byte shows. */
static void client_start_message(struct client *c, size_t index)
{
    free(c->message);
    c->index = index;
    c->size = message_sizes[index];
    c->sent = c->received = 0;
    c->message = malloc(c->size);
    if (c->message == NULL)
        fail("malloc", -ENOMEM);
    uint32_t x = 2463534242u + (uint32_t)index;
    for (size_t i = 0; i < c->size; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        c->message[i] = (unsigned char)x;
    }
}

static int client_connect(unsigned short port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        fail_errno("socket");
    int size = SOCKET_BUFFER;
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    struct sockaddr_in addr = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 && errno != EINPROGRESS)
        fail_errno("connect");
    return fd; /* connected once it turns writable */
}

/* Received bytes must be exactly the next bytes of the message in flight. */
static void client_check_echo(struct client *c, const unsigned char *data, size_t n)
{
    if (c->received + n > c->size || memcmp(data, c->message + c->received, n) != 0) {
        fprintf(stderr, "poll_echo: MISMATCH in message %zu at byte %zu\n", c->index + 1,
                c->received);
        exit(1);
    }
    c->received += n;
}

static void on_client(struct client *c)
{
    if (!c->connected) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            fail_errno("getsockopt");
        if (err != 0)
            fail("connect", -err);
        c->connected = true;
        printf("client: connected\n");
        client_start_message(c, 0);
    }
    for (;;) {
        while (c->sent < c->size) {
            ssize_t n = send(c->fd, c->message + c->sent, c->size - c->sent, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    break;
                fail_errno("client send");
            }
            c->sent += (size_t)n;
        }
        for (;;) {
            unsigned char buf[16 * 1024];
            ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
            if (n > 0) {
                client_check_echo(c, buf, (size_t)n);
                continue;
            }
            if (n == 0) {
                if (c->index + 1 < MESSAGES || c->received < c->size) {
                    fprintf(stderr, "poll_echo: the server hung up early\n");
                    exit(1);
                }
                printf("client: server hung up after the last echo\n");
                (void)cio_poll_deregister(poll, c->fd);
                close(c->fd);
                c->done = true;
                return;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            fail_errno("client recv");
        }
        if (c->sent == c->size && c->received == c->size) {
            printf("client: message %zu/%zu: %zu bytes sent, echo verified\n", c->index + 1,
                   MESSAGES, c->size);
            c->total_verified += c->size;
            if (c->index + 1 < MESSAGES) {
                client_start_message(c, c->index + 1);
                continue; /* send the next one right away */
            }
            shutdown(c->fd, SHUT_WR); /* no more messages: the server will hang up */
            set_interest(c->fd, CLIENT, &c->interest, CIO_READABLE);
            return;
        }
        /* Wait for echoes, and for send space while part of the message is still unsent. */
        set_interest(c->fd, CLIENT, &c->interest,
                     CIO_READABLE | (c->sent < c->size ? CIO_WRITABLE : 0));
        return;
    }
}

/* ---- the loop ---- */

int main(void)
{
    cio_events *events;
    int rc = cio_poll_new(&poll, NULL);
    if (rc < 0)
        fail("cio_poll_new", rc);
    rc = cio_events_new(&events, 64);
    if (rc < 0)
        fail("cio_events_new", rc);
    printf("event core: %s backend\n", cio_backend_name(cio_poll_backend(poll)));

    unsigned short port;
    int listener = listen_on_loopback(&port);
    rc = cio_poll_register(poll, listener, LISTENER, CIO_READABLE);
    if (rc < 0)
        fail("cio_poll_register", rc);
    printf("server: listening on 127.0.0.1:%u\n", port);

    struct server_conn *conn = calloc(1, sizeof(*conn));
    if (conn == NULL)
        fail("calloc", -ENOMEM);
    conn->fd = -1;
    struct client client = {.fd = client_connect(port)};
    client.interest = CIO_READABLE | CIO_WRITABLE; /* writable = connected (or failed) */
    rc = cio_poll_register(poll, client.fd, CLIENT, client.interest);
    if (rc < 0)
        fail("cio_poll_register", rc);

    cio_time start = cio_now();
    while (!client.done || !conn->closed) {
        int n = cio_poll_wait_ms(poll, events, 1000);
        if (n == -EINTR)
            continue;
        if (n < 0)
            fail("cio_poll_wait", n);
        if (cio_now() - start > 10 * CIO_NSEC_PER_SEC) {
            fprintf(stderr, "poll_echo: gave up after 10 s\n");
            return 1;
        }
        const cio_event *ev;
        for (size_t it = 0; (ev = cio_events_next(events, &it)) != NULL;) {
            switch (ev->token) {
            case LISTENER:
                on_listener(listener, conn);
                break;
            case SERVER_CONN:
                if (!conn->closed)
                    on_server_conn(conn);
                break;
            case CLIENT:
                if (!client.done)
                    on_client(&client);
                break;
            }
        }
    }
    double ms = (double)(cio_now() - start) / 1e6;
    printf("summary: %zu messages, %zu bytes echoed and verified in %.1f ms; the server waited "
           "for WRITABLE %u times\n",
           MESSAGES, client.total_verified, ms, conn->writable_waits);

    (void)cio_poll_deregister(poll, listener);
    close(listener);
    free(client.message);
    free(conn);
    cio_events_free(events);
    cio_poll_free(poll);
    return 0;
}
