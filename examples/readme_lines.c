/*
 * readme_lines.c: the README's line-based server on the buffered reader and writer
 * (cio/bufio.h), and its client, in one program on one runtime: the main task accepts one
 * connection and serves it, a client task talks to it. Each line the client sends
 * comes back upper-cased; a line longer than 1 KiB is refused and skipped, and the connection
 * goes on. The client pipelines every line in one write; the server answers them all in one
 * send. The program checks the answers and exits 0 by itself.
 */
#include <cio.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* README-BEGIN */
static void *serve(void *arg) /* one task per connection: each line comes back upper-cased */
{
    cio_tcp_stream *conn = arg;
    cio_buf_reader *in = NULL;
    cio_buf_writer *out = NULL;
    int rc = cio_buf_reader_new(&in, conn, 256, 1024); /* lines up to 1 KiB */
    if (rc == 0)
        rc = cio_buf_writer_new(&out, conn, 4096);
    while (rc >= 0) {
        char *line, *room;
        size_t len;
        ssize_t n = cio_buf_reader_read_line(in, &line, &len);
        if (n == -EMSGSIZE) { /* too long: refuse it, drop it up to its end, go on */
            while ((n = cio_buf_reader_read_until(in, '\n', &line)) == -EMSGSIZE)
                cio_buf_reader_consume(in, cio_buf_reader_buffered(in, NULL));
            rc = n > 0 ? cio_buf_writer_write(out, "-ERR line too long\n", 19, NULL) : -1;
        } else if (n > 0 && (rc = (int)cio_buf_writer_reserve(out, len + 1, &room)) >= 0) {
            for (size_t i = 0; i < len; i++) /* written straight into the writer's buffer */
                room[i] = (char)toupper((unsigned char)line[i]);
            room[len] = '\n';
            cio_buf_writer_commit(out, len + 1);
        } else {
            break; /* end of stream, an error, or a last line without "\n" */
        }
        char *rest; /* no other whole line waiting: send the answers, all in one send */
        size_t left = cio_buf_reader_buffered(in, &rest);
        if (rc >= 0 && memchr(rest, '\n', left) == NULL)
            rc = cio_buf_writer_flush(out, NULL);
    }
    cio_buf_writer_close(out); /* flushes what is left */
    cio_buf_reader_free(in);
    cio_socket_close(conn);
    return NULL;
}
/* README-END */

/* The client: every line in one write, then the answers until the server closes. */
static void *client(void *arg)
{
    static const char want[] = "HELLO\nWORLD\n-ERR line too long\nBYE\n";
    char *lines = malloc(4096), reply[128];
    cio_tcp_stream *s;
    if (lines == NULL || cio_tcp_stream_connect_addr(&s, arg) < 0) {
        free(lines);
        return (void *)(intptr_t)-1;
    }
    size_t len = (size_t)sprintf(lines, "hello\nworld\r\n");
    memset(lines + len, 'x', 2000); /* a line of 2,000 bytes: over the limit */
    len += 2000;
    len += (size_t)sprintf(lines + len, "\nbye\n");
    int rc = cio_stream_write_all(s, lines, len, NULL);
    if (rc == 0)
        rc = cio_socket_shutdown(s, CIO_SHUTDOWN_WRITE); /* the server then ends too */
    size_t got = 0;
    ssize_t n = 0;
    while (rc == 0 && got < sizeof(reply) &&
           (n = cio_stream_read(s, reply + got, sizeof(reply) - got)) > 0)
        got += (size_t)n;
    if (rc == 0 && (n < 0 || got != sizeof(want) - 1 || memcmp(reply, want, got) != 0))
        rc = -1;
    if (rc == 0)
        printf("answers:\n%.*s", (int)got, reply);
    cio_socket_close(s);
    free(lines);
    return (void *)(intptr_t)rc;
}

/* The client in its own task; this task accepts its connection and serves it. */
static void *main_task(void *arg)
{
    (void)arg;
    cio_addr addr;
    cio_tcp_listener *listener;
    cio_tcp_stream *conn;
    cio_join_handle *cli;
    void *result = (void *)(intptr_t)-1;
    cio_addr_parse(&addr, "127.0.0.1:0");
    if (cio_tcp_listener_new(&listener, &addr, 0) < 0)
        return result;
    cio_socket_local_addr(listener, &addr);
    if (cio_spawn(&cli, client, &addr) == 0) {
        if (cio_tcp_listener_accept(listener, &conn, NULL) == 0)
            serve(conn);
        cio_task_join(cli, &result, NULL);
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
