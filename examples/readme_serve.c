/*
 * readme_serve.c: the README's echo server on the serve helper (cio/serve.h): listen on
 * 127.0.0.1 (an ephemeral port) with a listener and an acceptor per worker of a two-worker
 * runtime, a task per connection running the handler, at most 1,000 connections at once,
 * and a graceful stop on SIGINT or SIGTERM. The program's own client connects, checks a few
 * echoes, then sends the process SIGTERM; the server stops, prints its counts and the program
 * exits 0 by itself.
 */
#define _POSIX_C_SOURCE 200809L /* kill() */
#include <cio.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_bool client_ok;

/* This program's client: three echoes on one connection, then SIGTERM to the process. */
static void *client(void *arg)
{
    static const char *const lines[] = {"one\n", "two\n", "three\n"};
    cio_tcp_stream *s;
    int rc = cio_tcp_stream_connect_addr(&s, arg);
    for (size_t i = 0; rc == 0 && i < 3; i++) {
        char back[16];
        size_t len = strlen(lines[i]);
        rc = cio_stream_write_all(s, lines[i], len, NULL);
        if (rc == 0)
            rc = cio_stream_read_exact(s, back, len, NULL);
        if (rc == 0 && memcmp(back, lines[i], len) != 0)
            rc = -1;
    }
    if (rc == 0)
        printf("client: 3 echoes\n");
    atomic_store(&client_ok, rc == 0);
    cio_socket_close(s); /* NULL when the connect failed: nothing to close */
    kill(getpid(), SIGTERM);
    return (void *)(intptr_t)rc;
}

static void start_client(const cio_addr *addr)
{
    static cio_addr server_addr;
    server_addr = *addr;
    cio_spawn(NULL, client, &server_addr);
}

/* README-BEGIN */
static void echo(cio_stream *conn, const cio_addr *peer, void *ctx) /* a task per connection */
{
    (void)peer, (void)ctx;
    char *buf = malloc(16384); /* I/O buffers off the task's stack */
    ssize_t n;
    while (buf != NULL && (n = cio_stream_read(conn, buf, 16384)) > 0)
        if (cio_stream_write_all(conn, buf, (size_t)n, NULL) < 0)
            break;
    free(buf); /* the server closes the connection */
}

static void *main_task(void *arg)
{
    (void)arg;
    cio_server *srv;
    cio_server_options opts = {.max_connections = 1000, /* the rest wait in the backlog */
                               .stop_signals = (const int[]){SIGINT, SIGTERM},
                               .stop_signal_count = 2};
    if (cio_server_new(&srv, NULL, "127.0.0.1:0", &opts) < 0)
        return (void *)1;
    cio_addr addr;
    char text[CIO_ADDR_STRLEN];
    cio_server_local_addr(srv, &addr);
    cio_addr_format(&addr, text, sizeof(text));
    printf("listening on %s\n", text);
    int rc = cio_server_start(srv, echo, NULL);
    if (rc == 0) {
        start_client(&addr);       /* this program's own client; it ends with SIGTERM */
        rc = cio_server_wait(srv); /* the signal's number, after a graceful stop */
    }
    cio_server_stats st;
    cio_server_get_stats(srv, &st); /* readable at any time, from any thread */
    printf("stopped by %s: %llu connections, %llu cancelled at the stop\n",
           rc == SIGTERM ? "SIGTERM" : "?", (unsigned long long)st.accepted,
           (unsigned long long)st.cancelled);
    cio_server_free(srv);
    return (void *)(intptr_t)(rc != SIGTERM);
}
/* README-END */

int main(void)
{
    cio_rt *rt;
    cio_rt_options opts = {.flavor = CIO_RT_MULTI_THREAD, .workers = 2};
    void *result = NULL;
    if (cio_rt_new(&rt, &opts) < 0 || cio_rt_block_on(rt, main_task, NULL, &result) < 0)
        return 1;
    cio_rt_free(rt);
    return result == NULL && client_ok ? 0 : 1;
}
