/* The "no library" peer of cio's side-by-side benchmark: an echo server and an HTTP/1.1
 * "hello" server (keep-alive, pipelining) on a hand-written edge-triggered epoll loop, one
 * thread. Each connection is registered once for EPOLLIN|EPOLLRDHUP|EPOLLET; ready sockets are
 * read until a short read (for a stream socket a short read means the receive queue is empty,
 * so the read that would return EAGAIN is never issued), every read is answered by a direct
 * write, and EPOLLOUT is added only after a write came up short. This is the floor the
 * libraries are measured against.
 *
 * Usage: epoll_server --proto echo|http --listen 127.0.0.1:PORT
 * Prints "listening on 127.0.0.1:PORT" once bound; exits cleanly on SIGINT or SIGTERM. */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peer_common.h"

#define ECHO_BUF (64 * 1024) /* one read's worth for echo; a full read is followed by another */
#define MAX_EVENTS 256

/* epoll_event.data.ptr of the listener and the signalfd point at these tags; every other
 * registration points at its struct conn, whose first member is a tag too. */
enum tag { TAG_LISTENER, TAG_SIGNAL, TAG_CONN };

struct conn {
    enum tag tag;
    int fd;
    bool readable; /* edge seen and not yet drained */
    bool hup;      /* the peer closed or the socket failed: read on to EOF or the error */
    bool want_out; /* EPOLLOUT is in the registration */
    bool closing;  /* close once the pending output is flushed */
    char *out;     /* bytes a short write left behind */
    size_t out_len;
    size_t out_off;
    size_t out_cap;
    size_t in_len; /* http: bytes of an incomplete request head kept in `in` */
    char in[];     /* http only: PEER_HTTP_BUF bytes (echo reads into echo_buf) */
};

static enum peer_proto proto;
static int epfd = -1;
static char echo_buf[ECHO_BUF];
static char *http_out;
static size_t http_out_cap;

static void conn_free(struct conn *c)
{
    (void)close(c->fd); /* also removes it from the epoll set */
    free(c->out);
    free(c);
}

/* Keeps the unwritten tail of a write for later and asks for EPOLLOUT. */
static bool conn_keep(struct conn *c, const char *buf, size_t len)
{
    size_t pending = c->out_len - c->out_off;
    if (c->out_off) {
        memmove(c->out, c->out + c->out_off, pending);
        c->out_off = 0;
        c->out_len = pending;
    }
    if (pending + len > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap < pending + len)
            cap *= 2;
        char *p = realloc(c->out, cap);
        if (!p)
            return false;
        c->out = p;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, buf, len);
    c->out_len += len;
    if (!c->want_out) {
        /* Edge-triggered EPOLLOUT costs nothing while the socket stays writable, so it is
         * added once, on the first short write, and kept. */
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                 .data.ptr = c};
        if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
            return false;
        c->want_out = true;
    }
    return true;
}

/* Writes buf directly; whatever the socket does not take is kept. False: close the
 * connection. */
static bool conn_send(struct conn *c, const char *buf, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(c->fd, buf + off, len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EAGAIN) {
            return conn_keep(c, buf + off, len - off);
        } else {
            return false;
        }
    }
    return true;
}

/* Flushes kept output. False: close the connection. */
static bool conn_flush(struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0)
            c->out_off += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else if (n < 0 && errno == EAGAIN)
            return true;
        else
            return false;
    }
    c->out_off = c->out_len = 0;
    return true;
}

static bool pending_output(const struct conn *c)
{
    return c->out_off < c->out_len;
}

/* Echo: read and write back until a short read, pausing while output is pending so one
 * slow reader cannot make the server buffer without bound. */
static bool echo_ready(struct conn *c)
{
    while (c->readable && !pending_output(c)) {
        ssize_t n = read(c->fd, echo_buf, sizeof echo_buf);
        if (n > 0) {
            if ((size_t)n < sizeof echo_buf && !c->hup)
                c->readable = false;
            if (!conn_send(c, echo_buf, (size_t)n))
                return false;
        } else if (n == 0) {
            return false;
        } else if (errno == EAGAIN) {
            c->readable = false;
        } else if (errno != EINTR) {
            return false;
        }
    }
    return true;
}

/* HTTP: answer every complete request head in the buffer with one write. */
static bool http_ready(struct conn *c)
{
    while (c->readable && !pending_output(c) && !c->closing) {
        size_t space = PEER_HTTP_BUF - c->in_len;
        if (space == 0)
            return false; /* a request head larger than the buffer */
        ssize_t n = read(c->fd, c->in + c->in_len, space);
        if (n == 0)
            return false;
        if (n < 0) {
            if (errno == EAGAIN)
                c->readable = false;
            else if (errno != EINTR)
                return false;
            continue;
        }
        if ((size_t)n < space && !c->hup)
            c->readable = false;
        c->in_len += (size_t)n;

        size_t pos = 0;
        size_t out_len = 0;
        struct peer_http_scan scan;
        while (peer_http_next(c->in + pos, c->in_len - pos, &scan)) {
            pos += scan.len;
            if (out_len + PEER_HTTP_RESPONSE_LEN > http_out_cap) {
                size_t cap = http_out_cap * 2;
                char *p = realloc(http_out, cap);
                if (!p)
                    return false;
                http_out = p;
                http_out_cap = cap;
            }
            memcpy(http_out + out_len, PEER_HTTP_RESPONSE, PEER_HTTP_RESPONSE_LEN);
            out_len += PEER_HTTP_RESPONSE_LEN;
            if (scan.close) {
                c->closing = true;
                break;
            }
        }
        if (out_len && !conn_send(c, http_out, out_len))
            return false;
        memmove(c->in, c->in + pos, c->in_len - pos);
        c->in_len -= pos;
    }
    if (c->closing && !pending_output(c)) {
        (void)shutdown(c->fd, SHUT_WR);
        return false;
    }
    return true;
}

static bool conn_event(struct conn *c, uint32_t events)
{
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->readable = true;
    /* The FIN may have come with the last data: then no later edge will report it, so the
     * short-read rule is off and reading goes on until it returns 0. */
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->hup = true;
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && pending_output(c)) {
        if (!conn_flush(c))
            return false;
    }
    return proto == PEER_ECHO ? echo_ready(c) : http_ready(c);
}

static void accept_all(int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN)
                perror("epoll_server: accept4");
            return;
        }
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        size_t in_size = proto == PEER_ECHO ? 0 : PEER_HTTP_BUF;
        struct conn *c = calloc(1, sizeof *c + in_size);
        if (!c) {
            (void)close(fd);
            continue;
        }
        c->tag = TAG_CONN;
        c->fd = fd;
        /* Data that came with the handshake is reported by the first epoll_wait. */
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.ptr = c};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            perror("epoll_server: epoll_ctl");
            conn_free(c);
        }
    }
}

static void ignore_signal(int sig)
{
    (void)sig;
}

int main(int argc, char **argv)
{
    struct sockaddr_in addr;
    if (peer_parse_args(argc, argv, "epoll_server", &proto, &addr) < 0)
        return 2;

    /* A shell starts background jobs with SIGINT ignored, and an ignored signal never
     * reaches a signalfd: give both signals a handler (never run, they stay blocked) first. */
    struct sigaction sa = {.sa_handler = ignore_signal};
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0 ||
        sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
        perror("epoll_server: sigprocmask");
        return 1;
    }
    int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    int lfd = peer_listen(&addr, "epoll_server");
    if (lfd < 0)
        return 1; /* reason printed */
    epfd = epoll_create1(EPOLL_CLOEXEC);
    http_out_cap = 16 * PEER_HTTP_RESPONSE_LEN;
    http_out = malloc(http_out_cap);
    if (sfd < 0 || epfd < 0 || !http_out) {
        perror("epoll_server: setup");
        return 1;
    }
    static enum tag listener_tag = TAG_LISTENER, signal_tag = TAG_SIGNAL;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.ptr = &listener_tag};
    struct epoll_event sev = {.events = EPOLLIN, .data.ptr = &signal_tag};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev) < 0 ||
        epoll_ctl(epfd, EPOLL_CTL_ADD, sfd, &sev) < 0) {
        perror("epoll_server: epoll_ctl");
        return 1;
    }
    if (peer_announce(lfd, "epoll_server") < 0)
        return 1;

    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(epfd, events, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("epoll_server: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            enum tag *tag = events[i].data.ptr;
            if (*tag == TAG_SIGNAL)
                goto done;
            if (*tag == TAG_LISTENER) {
                accept_all(lfd);
                continue;
            }
            struct conn *c = (struct conn *)tag;
            if (!conn_event(c, events[i].events))
                conn_free(c);
        }
    }
done:
    /* Open connections are released by exit; the listener and loop go first so no new
     * client is accepted while the process winds down. */
    (void)close(lfd);
    (void)close(sfd);
    (void)close(epfd);
    free(http_out);
    return 0;
}
