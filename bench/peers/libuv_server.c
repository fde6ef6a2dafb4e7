/* libuv peer of cio's side-by-side benchmark: the echo and HTTP/1.1 "hello" servers (keep-
 * alive, pipelining) written the usual fast libuv way on one loop. Reads land in a buffer the
 * alloc callback hands out (one shared buffer for echo, the connection's request buffer for
 * HTTP); answers go out with uv_try_write, and only what the socket did not take is copied
 * into a uv_write request, with reading paused until that request completes so a slow reader
 * cannot make the server buffer without bound.
 *
 * Usage: libuv_server --proto echo|http --listen 127.0.0.1:PORT
 * Prints "listening on 127.0.0.1:PORT" once bound; exits cleanly on SIGINT or SIGTERM. */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "peer_common.h"

#define ECHO_BUF (64 * 1024)

struct conn {
    uv_tcp_t handle; /* first member: the handle pointer is the connection pointer */
    bool closing;    /* "Connection: close" seen: shut down once the answers are out */
    size_t in_len;   /* http: bytes of an incomplete request head kept in `in` */
    char in[];       /* http only: PEER_HTTP_BUF bytes */
};

/* A write the socket did not take at once, with its own copy of the bytes. */
struct pending_write {
    uv_write_t req;
    char data[];
};

static enum peer_proto proto;
static uv_loop_t loop;
static uv_tcp_t server;
static uv_signal_t sigint_handle, sigterm_handle;
static char echo_buf[ECHO_BUF];
static char *http_out;
static size_t http_out_cap;

static void on_close(uv_handle_t *handle)
{
    free(handle->data); /* the connection, or NULL for the listener and signal handles */
}

static void conn_close(struct conn *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->handle))
        uv_close((uv_handle_t *)&c->handle, on_close);
}

static void alloc_buf(uv_handle_t *handle, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    conn_close(req->handle->data);
    free(req);
}

/* Half-closes after the queued writes, then closes ("Connection: close"). */
static void conn_shutdown(struct conn *c)
{
    uv_read_stop((uv_stream_t *)&c->handle);
    uv_shutdown_t *req = malloc(sizeof *req);
    if (!req || uv_shutdown(req, (uv_stream_t *)&c->handle, on_shutdown) < 0) {
        free(req);
        conn_close(c);
    }
}

static void on_write(uv_write_t *req, int status)
{
    struct conn *c = req->handle->data;
    free(req);
    if (status < 0) {
        conn_close(c);
        return;
    }
    if (c->closing || uv_is_closing((uv_handle_t *)&c->handle))
        return;
    if (uv_read_start((uv_stream_t *)&c->handle, alloc_buf, on_read) < 0)
        conn_close(c);
}

/* Sends data: directly if the socket takes it all, else the rest through a uv_write with
 * reading paused until it is done. False: close the connection. */
static bool conn_send(struct conn *c, const char *data, size_t len)
{
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    int n = uv_try_write((uv_stream_t *)&c->handle, &b, 1);
    if (n == (int)len)
        return true;
    if (n < 0 && n != UV_EAGAIN)
        return false;
    size_t done = n > 0 ? (size_t)n : 0;
    struct pending_write *w = malloc(sizeof *w + len - done);
    if (!w)
        return false;
    memcpy(w->data, data + done, len - done);
    b = uv_buf_init(w->data, (unsigned)(len - done));
    if (uv_write(&w->req, (uv_stream_t *)&c->handle, &b, 1, on_write) < 0) {
        free(w);
        return false;
    }
    uv_read_stop((uv_stream_t *)&c->handle);
    return true;
}

static void alloc_buf(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    if (proto == PEER_ECHO) {
        *buf = uv_buf_init(echo_buf, sizeof echo_buf);
    } else {
        struct conn *c = handle->data;
        /* A full buffer (an oversized request head) reads as UV_ENOBUFS and closes. */
        *buf = uv_buf_init(c->in + c->in_len, (unsigned)(PEER_HTTP_BUF - c->in_len));
    }
}

/* Answers every complete request head in the buffer with one write. */
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
    if (out_len && !conn_send(c, http_out, out_len))
        return false;
    if (c->closing)
        conn_shutdown(c);
    return true;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = stream->data;
    if (nread < 0) { /* UV_EOF, UV_ENOBUFS or an error */
        conn_close(c);
        return;
    }
    if (nread == 0)
        return;
    bool ok;
    if (proto == PEER_ECHO) {
        ok = conn_send(c, buf->base, (size_t)nread);
    } else {
        c->in_len += (size_t)nread;
        ok = http_serve(c);
    }
    if (!ok)
        conn_close(c);
}

static void on_connection(uv_stream_t *listener, int status)
{
    if (status < 0)
        return;
    struct conn *c = malloc(sizeof *c + (proto == PEER_HTTP ? PEER_HTTP_BUF : 0));
    if (!c)
        return;
    c->closing = false;
    c->in_len = 0;
    uv_tcp_init(&loop, &c->handle);
    c->handle.data = c;
    if (uv_accept(listener, (uv_stream_t *)&c->handle) < 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->handle, 1);
    if (uv_read_start((uv_stream_t *)&c->handle, alloc_buf, on_read) < 0)
        conn_close(c);
}

static void close_any(uv_handle_t *handle, void *arg)
{
    (void)arg;
    if (!uv_is_closing(handle))
        uv_close(handle, on_close);
}

static void on_signal(uv_signal_t *handle, int signum)
{
    (void)handle;
    (void)signum;
    /* Closing every handle lets uv_run return with the loop empty. */
    uv_walk(&loop, close_any, NULL);
}

int main(int argc, char **argv)
{
    struct sockaddr_in addr;
    if (peer_parse_args(argc, argv, "libuv_server", &proto, &addr) < 0)
        return 2;
    http_out_cap = 16 * PEER_HTTP_RESPONSE_LEN;
    http_out = malloc(http_out_cap);
    if (!http_out)
        return 1;

    int rc = uv_loop_init(&loop);
    if (rc == 0)
        rc = uv_tcp_init(&loop, &server);
    if (rc == 0)
        rc = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&server, PEER_BACKLOG, on_connection);
    if (rc == 0)
        rc = uv_signal_init(&loop, &sigint_handle);
    if (rc == 0)
        rc = uv_signal_start(&sigint_handle, on_signal, SIGINT);
    if (rc == 0)
        rc = uv_signal_init(&loop, &sigterm_handle);
    if (rc == 0)
        rc = uv_signal_start(&sigterm_handle, on_signal, SIGTERM);
    uv_os_fd_t fd = -1;
    if (rc == 0)
        rc = uv_fileno((uv_handle_t *)&server, &fd);
    if (rc != 0) {
        fprintf(stderr, "libuv_server: %s\n", uv_strerror(rc));
        return 1;
    }
    server.data = sigint_handle.data = sigterm_handle.data = NULL;
    if (peer_announce(fd, "libuv_server") < 0)
        return 1;

    uv_run(&loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(&loop);
    free(http_out);
    return rc == 0 ? 0 : 1;
}
