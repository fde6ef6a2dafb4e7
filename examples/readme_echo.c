/*
 * readme_echo.c: the README's task-per-connection echo server and its client, in one program
 * on one runtime. The server accepts on 127.0.0.1 (an ephemeral port) and spawns a task per
 * connection that reads and writes back as straight-line code; the client task connects,
 * sends a few lines, checks the echoes, and the program exits 0 by itself.
 */
#include <cio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* README-BEGIN */
static void *serve(void *arg) /* one task per connection */
{
    cio_tcp_stream *conn = arg;
    char *buf = malloc(16384); /* I/O buffers off the task's stack */
    ssize_t n;
    while (buf != NULL && (n = cio_stream_read(conn, buf, 16384)) > 0)
        if (cio_stream_write_all(conn, buf, (size_t)n, NULL) < 0)
            break;
    free(buf);
    cio_socket_close(conn);
    return NULL;
}

static void *accept_loop(void *arg)
{
    cio_tcp_listener *listener = arg;
    cio_tcp_stream *conn;
    while (cio_tcp_listener_accept(listener, &conn, NULL) == 0)
        cio_spawn(NULL, serve, conn); /* detached: it closes its connection itself */
    return NULL;
}

static void *client(void *arg)
{
    cio_tcp_stream *s;
    char reply[64];
    int rc = cio_tcp_stream_connect_addr(&s, arg);
    for (int i = 0; rc == 0 && i < 3; i++) {
        char line[64];
        int len = snprintf(line, sizeof(line), "hello %d\n", i);
        rc = cio_stream_write_all(s, line, (size_t)len, NULL);
        if (rc == 0)
            rc = cio_stream_read_exact(s, reply, (size_t)len, NULL);
        if (rc == 0 && memcmp(reply, line, (size_t)len) != 0)
            rc = -1;
        if (rc == 0)
            printf("echoed: %.*s", len, reply);
    }
    if (rc == 0)
        cio_socket_close(s);
    return (void *)(intptr_t)rc;
}

static void *main_task(void *arg)
{
    (void)arg;
    cio_addr addr;
    cio_tcp_listener *listener;
    cio_join_handle *server, *cli;
    void *result = (void *)(intptr_t)-1;
    cio_addr_parse(&addr, "127.0.0.1:0");
    if (cio_tcp_listener_new(&listener, &addr, CIO_LISTEN_BACKLOG_DEFAULT) < 0)
        return result;
    cio_socket_local_addr(listener, &addr); /* the port the kernel chose */
    cio_spawn(&server, accept_loop, listener);
    cio_spawn(&cli, client, &addr);
    cio_task_join(cli, &result, NULL);
    cio_task_cancel(server); /* its accept returns -ECANCELED */
    cio_task_join(server, NULL, NULL);
    cio_socket_close(listener);
    return result;
}

int main(void)
{
    cio_rt *rt;
    void *result = NULL;
    if (cio_rt_new(&rt, NULL) < 0 || cio_rt_block_on(rt, main_task, NULL, &result) < 0)
        return 1;
    cio_rt_free(rt);
    return result == NULL ? 0 : 1;
}
/* README-END */
