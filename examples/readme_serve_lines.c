/*
 * readme_serve_lines.c: the README's line-based server on the serve helper (cio/serve.h) and
 * the buffered reader (cio/bufio.h): each line is a command — PING, ECHO text, SHUTDOWN —
 * answered with one line; SHUTDOWN stops the server gracefully with cio_server_stop(). The
 * program's own client sends commands, checks the answers, then sends SHUTDOWN on a
 * connection it leaves open; the server stops (that connection's read ends, so its handler
 * returns) and the program exits 0 by itself.
 */
#include <cio.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_bool clients_ok;

/* Send @req on a new connection (then end the connection's sending side when @half_close),
 * read until the server closes, and compare with @want. */
static int exchange(const cio_addr *addr, const char *req, bool half_close, const char *want)
{
    cio_tcp_stream *s;
    int rc = cio_tcp_stream_connect_addr(&s, addr);
    if (rc < 0)
        return rc;
    char got[256];
    size_t have = 0;
    ssize_t n = 0;
    rc = cio_stream_write_all(s, req, strlen(req), NULL);
    if (rc == 0 && half_close)
        rc = cio_socket_shutdown(s, CIO_SHUTDOWN_WRITE);
    while (rc == 0 && have < sizeof(got) &&
           (n = cio_stream_read(s, got + have, sizeof(got) - have)) > 0)
        have += (size_t)n;
    if (rc == 0 && (n < 0 || have != strlen(want) || memcmp(got, want, have) != 0))
        rc = -1;
    if (rc == 0)
        printf("%s", want);
    cio_socket_close(s);
    return rc;
}

/* A session that ends itself, then SHUTDOWN on a connection left open: the server's stop
 * ends that one. */
static void *clients(void *arg)
{
    cio_addr addr;
    int rc = cio_server_local_addr(arg, &addr);
    if (rc == 0)
        rc = exchange(&addr, "PING\nECHO hello, cio\nNOPE\n", true,
                      "+PONG\n+hello, cio\n-ERR unknown command\n");
    if (rc == 0)
        rc = exchange(&addr, "SHUTDOWN\n", false, "+BYE\n");
    else
        cio_server_stop(arg);
    atomic_store(&clients_ok, rc == 0);
    return NULL;
}

static cio_join_handle *clients_task;

static void start_clients(cio_server *srv)
{
    if (cio_spawn(&clients_task, clients, srv) < 0)
        cio_server_stop(srv);
}

/* The clients may still be reading their last end of stream when the server has stopped. */
static void *join_clients(void *arg)
{
    (void)arg;
    if (clients_task != NULL)
        cio_task_join(clients_task, NULL, NULL);
    return NULL;
}

/* README-BEGIN */
static void command_loop(cio_stream *conn, const cio_addr *peer, void *ctx)
{
    (void)peer;
    cio_server *srv = ctx;
    cio_buf_reader *in = NULL;
    cio_buf_writer *out = NULL;
    char *line;
    size_t len;
    int rc = cio_buf_reader_new(&in, conn, 512, 4096); /* lines up to 4 KiB */
    if (rc == 0)
        rc = cio_buf_writer_new(&out, conn, 4096);
    while (rc == 0 && cio_buf_reader_read_line(in, &line, &len) > 0) {
        line[len] = '\0'; /* the line is lent in place: make it a C string */
        if (strcmp(line, "PING") == 0) {
            rc = cio_buf_writer_write(out, "+PONG\n", 6, NULL);
        } else if (strncmp(line, "ECHO ", 5) == 0) {
            line[len] = '\n';
            rc = cio_buf_writer_write(out, "+", 1, NULL);
            if (rc == 0)
                rc = cio_buf_writer_write(out, line + 5, len - 4, NULL);
        } else if (strcmp(line, "SHUTDOWN") == 0) {
            cio_server_stop(srv); /* graceful: this connection's next read ends it */
            rc = cio_buf_writer_write(out, "+BYE\n", 5, NULL);
        } else {
            rc = cio_buf_writer_write(out, "-ERR unknown command\n", 21, NULL);
        }
        if (rc == 0)
            rc = cio_buf_writer_flush(out, NULL); /* the answer: one send */
    }
    cio_buf_writer_close(out);
    cio_buf_reader_free(in); /* end of stream, an error, or a line over 4 KiB (-EMSGSIZE) */
}

static void *main_task(void *arg)
{
    (void)arg;
    cio_server *srv;
    if (cio_server_new(&srv, NULL, "127.0.0.1:0", NULL) < 0)
        return (void *)1;
    int rc = cio_server_start(srv, command_loop, srv);
    if (rc == 0) {
        start_clients(srv);        /* this program's own clients; the last sends SHUTDOWN */
        rc = cio_server_wait(srv); /* 0: stopped by cio_server_stop() */
    }
    cio_server_stats st;
    cio_server_get_stats(srv, &st);
    printf("stopped: %llu connections, %llu finished\n", (unsigned long long)st.accepted,
           (unsigned long long)st.finished);
    cio_server_free(srv);
    return (void *)(intptr_t)rc;
}
/* README-END */

int main(void)
{
    cio_rt *rt;
    void *result = NULL;
    if (cio_rt_new(&rt, NULL) < 0 || cio_rt_block_on(rt, main_task, NULL, &result) < 0 ||
        cio_rt_block_on(rt, join_clients, NULL, NULL) < 0)
        return 1;
    cio_rt_free(rt);
    return result == NULL && clients_ok ? 0 : 1;
}
