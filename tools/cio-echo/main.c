/*
 * cio-echo: an echo server on cio's runtime — every byte a client sends comes back. One task
 * per connection, written as straight-line code: read into the connection's buffer (on the
 * heap, not the task stack), write it all back, repeat. A ready socket costs one read and one
 * write per message, with no other system call, which is what the benchmark compares with a
 * hand-written epoll server. Listens on TCP or Unix; with --workers N runs N worker threads,
 * each accepting on its own SO_REUSEPORT listener.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

#define DEFAULT_BUFFER (64 * 1024)

struct echo {
    size_t buffer_size;
    atomic_ullong bytes;
};

static void echo_conn(tool_stream *s, const cio_addr *peer, void *ctx)
{
    (void)peer;
    struct echo *e = ctx;
    char *buf = malloc(e->buffer_size);
    if (buf == NULL)
        return;
    uint64_t bytes = 0;
    for (;;) {
        ssize_t n = tool_stream_read(s, buf, e->buffer_size);
        if (n <= 0)
            break; /* end of stream, a connection error, or shutdown (-ECANCELED) */
        size_t done = 0;
        int rc = tool_stream_write_all(s, buf, (size_t)n, &done);
        bytes += done;
        if (rc < 0)
            break;
    }
    /* Once per connection, not per message: the hot path touches no shared cache line. */
    atomic_fetch_add(&e->bytes, bytes);
    free(buf);
}

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: cio-echo [--listen ADDR] [--workers N] [--buffer-size BYTES]\n"
            "An echo server: every byte a client sends is sent back.\n"
            "\n"
            "  --listen ADDR        where to listen (default 127.0.0.1:0): IPv4:PORT,\n"
            "                       [IPv6]:PORT, HOST:PORT, /path/to.sock or @abstract\n"
            "  --workers N          worker threads, 1 to 256 (default 1); with N > 1 a TCP\n"
            "                       listener is sharded with SO_REUSEPORT\n"
            "  --buffer-size BYTES  per-connection read buffer, 1 to 16777216 (default %d)\n"
            "  --help               show this help\n"
            "\n"
            "Prints 'listening on ADDR' when ready; stops on SIGINT or SIGTERM with a summary.\n",
            DEFAULT_BUFFER);
}

int main(int argc, char **argv)
{
    tool_init("cio-echo");
    const char *listen = "127.0.0.1:0";
    static struct echo echo = {.buffer_size = DEFAULT_BUFFER};
    tool_server srv = {.workers = 1, .on_conn = echo_conn, .ctx = &echo};

    for (int i = 1; i < argc;) {
        const char *v;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return TOOL_EXIT_OK;
        } else if (tool_opt_value(argc, argv, &i, "--listen", &v)) {
            listen = v;
        } else if (tool_opt_value(argc, argv, &i, "--workers", &v)) {
            srv.workers = (unsigned)tool_parse_uint("--workers", v, 1, 256);
        } else if (tool_opt_value(argc, argv, &i, "--buffer-size", &v)) {
            echo.buffer_size = (size_t)tool_parse_uint("--buffer-size", v, 1, 16u << 20);
        } else {
            tool_usage_error("unknown argument '%s'", argv[i]);
        }
    }
    int rc = tool_endpoint_parse(&srv.listen, listen, true);
    if (rc < 0)
        tool_usage_error("--listen: '%s' is not an address (%s)", listen, cio_strerror(rc));

    int status = tool_server_run(&srv);
    if (status == TOOL_EXIT_OK) {
        printf("cio-echo: stopped by %s: %lu connections, %llu bytes echoed\n",
               tool_signal_name(srv.stop_signal), (unsigned long)atomic_load(&srv.accepted),
               (unsigned long long)atomic_load(&echo.bytes));
        fflush(stdout);
    }
    return status;
}
