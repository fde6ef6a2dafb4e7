/*
 * readme_timeout.c: per-call timeouts and the resolver, quoted in the README (the lines
 * between the markers). A client resolves "localhost" to reach a local server, bounds one
 * read by a timeout (the server says nothing until it hears from the client, so the read gives
 * up), then bounds a whole exchange by a timeout scope. Exits 0 by itself.
 */
#include <cio.h>
#include <stdint.h>
#include <stdio.h>

/* The server: answer "pong\n" to the client's "ping\n". */
static void *server(void *arg)
{
    cio_tcp_listener *listener = arg;
    cio_tcp_stream *conn;
    char line[5];
    if (cio_tcp_listener_accept(listener, &conn, NULL) < 0)
        return NULL;
    if (cio_stream_read_exact(conn, line, sizeof(line), NULL) == 0)
        (void)cio_stream_write_all(conn, "pong\n", 5, NULL);
    cio_socket_close(conn);
    return NULL;
}

/* README-BEGIN */
static void *client(void *arg)
{
    const char *port = arg;
    cio_addr addrs[4];
    cio_tcp_stream *s;
    char reply[5];
    int n = cio_resolve("localhost", port, NULL, addrs, 4); /* getaddrinfo on the blocking pool */
    if (n < 0 || cio_tcp_stream_connect_addrs(&s, addrs, (size_t)n, NULL) < 0)
        return (void *)1;
    /* One call bounded: the server says nothing yet, so the read gives up after 50 ms. */
    ssize_t got = CIO_TIMEOUT(50 * CIO_NSEC_PER_MSEC, cio_stream_read(s, reply, sizeof(reply)));
    printf("first read: %s\n", cio_strerror((int)got));
    int rc;
    {
        CIO_TIMEOUT_SCOPE(2 * CIO_NSEC_PER_SEC); /* the whole exchange; ends with the block */
        rc = cio_stream_write_all(s, "ping\n", 5, NULL);
        if (rc == 0)
            rc = cio_stream_read_exact(s, reply, sizeof(reply), NULL);
    }
    printf("exchange: %s\n", rc == 0 ? "pong" : cio_strerror(rc));
    cio_socket_close(s);
    return (void *)(intptr_t)(rc != 0);
}
/* README-END */

static void *main_task(void *arg)
{
    (void)arg;
    cio_addr addr;
    cio_tcp_listener *listener;
    cio_join_handle *srv, *cli;
    char port[8];
    void *result = (void *)1;
    cio_addr_parse(&addr, "127.0.0.1:0");
    if (cio_tcp_listener_new(&listener, &addr, CIO_LISTEN_BACKLOG_DEFAULT) < 0)
        return result;
    cio_socket_local_addr(listener, &addr); /* the port the kernel chose */
    snprintf(port, sizeof(port), "%d", cio_addr_port(&addr));
    if (cio_spawn(&srv, server, listener) == 0) {
        if (cio_spawn(&cli, client, port) == 0)
            cio_task_join(cli, &result, NULL);
        cio_task_cancel(srv);
        cio_task_join(srv, NULL, NULL);
    }
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
