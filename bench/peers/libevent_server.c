/* libevent peer of cio's side-by-side benchmark: the echo and HTTP/1.1 "hello" servers (keep-
 * alive, pipelining) on one event_base. It uses plain persistent read events rather than
 * bufferevents, the faster of libevent's two styles for this: a readable callback reads
 * (again only while a read fills the buffer), answers with a direct send, and only when the
 * socket did not take everything keeps the rest, swaps the read event for a write event and
 * swaps back once the rest is out, so a slow reader cannot make the server buffer without
 * bound. evconnlistener does the accepting.
 *
 * Usage: libevent_server --proto echo|http --listen 127.0.0.1:PORT
 * Prints "listening on 127.0.0.1:PORT" once bound; exits cleanly on SIGINT or SIGTERM. */

#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peer_common.h"

#define ECHO_BUF (64 * 1024)

struct conn {
    evutil_socket_t fd;
    struct event *rev;
    struct event *wev;
    bool closing; /* "Connection: close" seen: shut down once the answers are out */
    char *out;    /* bytes a short send left behind */
    size_t out_len;
    size_t out_off;
    size_t in_len; /* http: bytes of an incomplete request head kept in `in` */
    char in[];     /* http only: PEER_HTTP_BUF bytes */
};

static enum peer_proto proto;
static struct event_base *base;
static char echo_buf[ECHO_BUF];
static char *http_out;
static size_t http_out_cap;

static void conn_free(struct conn *c)
{
    event_free(c->rev);
    event_free(c->wev);
    evutil_closesocket(c->fd);
    free(c->out);
    free(c);
}

/* Sends data directly; keeps what the socket did not take and waits for writability
 * instead of readability. False: close the connection. */
static bool conn_send(struct conn *c, const char *data, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(c->fd, data + off, len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EAGAIN) {
            c->out = malloc(len - off);
            if (!c->out)
                return false;
            memcpy(c->out, data + off, len - off);
            c->out_len = len - off;
            c->out_off = 0;
            return event_del(c->rev) == 0 && event_add(c->wev, NULL) == 0;
        } else {
            return false;
        }
    }
    return true;
}

/* Reads once, or again while a read fills the buffer. Returns the byte count, 0 at end of
 * stream or on error, -1 when nothing more is there now. */
static ssize_t conn_recv(struct conn *c, char *buf, size_t len)
{
    for (;;) {
        ssize_t n = recv(c->fd, buf, len, 0);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN ? -1 : 0;
    }
}

/* Answers every complete request head in the buffer with one send. */
static bool http_serve(struct conn *c)
{
    size_t pos = 0, out_len = 0;
    struct peer_http_scan scan;
    while (peer_http_next(c->in + pos, c->in_len - pos, &scan)) {
        pos += scan.len;
        if (out_len + PEER_HTTP_RESPONSE_LEN > http_out_cap) {
            char *p = realloc(http_out, http_out_cap * 2);
            if (!p)
                return false;
            http_out = p;
            http_out_cap *= 2;
        }
        memcpy(http_out + out_len, PEER_HTTP_RESPONSE, PEER_HTTP_RESPONSE_LEN);
        out_len += PEER_HTTP_RESPONSE_LEN;
        if (scan.close) {
            c->closing = true;
            break;
        }
    }
    memmove(c->in, c->in + pos, c->in_len - pos);
    c->in_len -= pos;
    return out_len == 0 || conn_send(c, http_out, out_len);
}

/* Readable: false means close the connection. */
static bool conn_readable(struct conn *c)
{
    for (;;) {
        ssize_t n;
        size_t space;
        if (proto == PEER_ECHO) {
            space = sizeof echo_buf;
            n = conn_recv(c, echo_buf, space);
            if (n > 0 && !conn_send(c, echo_buf, (size_t)n))
                return false;
        } else {
            space = PEER_HTTP_BUF - c->in_len;
            if (space == 0)
                return false; /* a request head larger than the buffer */
            n = conn_recv(c, c->in + c->in_len, space);
            if (n > 0) {
                c->in_len += (size_t)n;
                if (!http_serve(c))
                    return false;
            }
        }
        if (n == 0)
            return false;
        if (n < 0 || (size_t)n < space || c->out || c->closing)
            break;
    }
    if (c->closing && !c->out) {
        (void)shutdown(c->fd, SHUT_WR);
        return false;
    }
    return true;
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct conn *c = arg;
    if (!conn_readable(c))
        conn_free(c);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct conn *c = arg;
    while (c->out_off < c->out_len) {
        ssize_t n = send(fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0)
            c->out_off += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else if (n < 0 && errno == EAGAIN)
            return;
        else
            goto close;
    }
    free(c->out);
    c->out = NULL;
    if (c->closing) {
        (void)shutdown(fd, SHUT_WR);
        goto close;
    }
    if (event_del(c->wev) < 0 || event_add(c->rev, NULL) < 0)
        goto close;
    return;
close:
    conn_free(c);
}

static void on_accept(struct evconnlistener *listener, evutil_socket_t fd, struct sockaddr *addr,
                      int addrlen, void *arg)
{
    (void)listener;
    (void)addr;
    (void)addrlen;
    (void)arg;
    struct conn *c = calloc(1, sizeof *c + (proto == PEER_HTTP ? PEER_HTTP_BUF : 0));
    if (!c) {
        evutil_closesocket(fd);
        return;
    }
    c->fd = fd;
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->rev = event_new(base, fd, EV_READ | EV_PERSIST, on_read, c);
    c->wev = event_new(base, fd, EV_WRITE | EV_PERSIST, on_write, c);
    if (!c->rev || !c->wev || event_add(c->rev, NULL) < 0) {
        if (c->rev)
            event_free(c->rev);
        if (c->wev)
            event_free(c->wev);
        evutil_closesocket(fd);
        free(c);
    }
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    (void)arg;
    event_base_loopbreak(base);
}

int main(int argc, char **argv)
{
    struct sockaddr_in addr;
    if (peer_parse_args(argc, argv, "libevent_server", &proto, &addr) < 0)
        return 2;
    http_out_cap = 16 * PEER_HTTP_RESPONSE_LEN;
    http_out = malloc(http_out_cap);
    base = event_base_new();
    if (!http_out || !base) {
        fprintf(stderr, "libevent_server: setup failed\n");
        return 1;
    }
    struct evconnlistener *listener = evconnlistener_new_bind(
        base, on_accept, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
        PEER_BACKLOG, (struct sockaddr *)&addr, sizeof addr);
    if (!listener) {
        perror("libevent_server: listen");
        return 1;
    }
    struct event *sigint_ev = evsignal_new(base, SIGINT, on_signal, NULL);
    struct event *sigterm_ev = evsignal_new(base, SIGTERM, on_signal, NULL);
    if (!sigint_ev || !sigterm_ev || event_add(sigint_ev, NULL) < 0 ||
        event_add(sigterm_ev, NULL) < 0) {
        fprintf(stderr, "libevent_server: cannot watch signals\n");
        return 1;
    }
    if (peer_announce(evconnlistener_get_fd(listener), "libevent_server") < 0)
        return 1;

    int rc = event_base_dispatch(base);
    /* Open connections are released by exit; the listener and signal events go first. */
    evconnlistener_free(listener);
    event_free(sigint_ev);
    event_free(sigterm_ev);
    event_base_free(base);
    free(http_out);
    return rc < 0 ? 1 : 0;
}
