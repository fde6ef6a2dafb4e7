/*
 * cio-echo: an echo server on cio's runtime — every byte a client sends comes back. One task
 * per connection, written as straight-line code: wait for data, read it into a buffer lent
 * by the worker (never on the task stack), write it all back, repeat. A ready socket costs one read
 * and one write per message, with no other system call, which is what the benchmark compares with a
 * hand-written epoll server. Listens on TCP or Unix; with --workers N runs N worker threads,
 * each accepting on its own SO_REUSEPORT listener.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

#define DEFAULT_BUFFER (64 * 1024)

struct echo {
    size_t buffer_size;
    atomic_ullong bytes;
};

/*
 * Read buffers are lent per message, not owned per connection: a connection waits for data
 * with no buffer, borrows one from its worker's small free list to read and write back, and
 * returns it. A parked connection then costs its task (its stack saved after a second idle:
 * cio_rt_options.idle_save) and its registration, not a buffer. The list is per thread and
 * needs no lock. With --one-accept-loop a connection's
 * task may move to another worker while it holds a buffer (at a suspension in the read or
 * the write): it then gives the buffer to that worker's list, which is fine as long as the
 * list is found anew after the move. It is here: the tool is an executable, whose
 * thread-locals are addressed from the thread register at each access (checked with objdump
 * on x86-64, gcc -O2: no address kept across the calls). Library code that may be
 * built otherwise must not rely on that (cio/rt.h: thread-locals across a suspension); making
 * the two functions calls of their own would cost the echo 8 instructions per message.
 */
#define POOL_MAX 64
struct pool {
    char *free[POOL_MAX];
    int count;
};
static _Thread_local struct pool pool;
static _Thread_local bool pool_registered;
static pthread_key_t pool_key;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

/* A worker thread's buffers go when the thread does. */
static void pool_drain(void *p)
{
    struct pool *pl = p;
    while (pl->count > 0)
        free(pl->free[--pl->count]);
}

static void pool_key_create(void)
{
    (void)pthread_key_create(&pool_key, pool_drain);
}

static char *buffer_take(size_t size)
{
    return pool.count > 0 ? pool.free[--pool.count] : malloc(size);
}

static void buffer_give(char *buf)
{
    if (pool.count == POOL_MAX) {
        free(buf);
        return;
    }
    if (!pool_registered) {
        pthread_once(&pool_once, pool_key_create);
        (void)pthread_setspecific(pool_key, &pool);
        pool_registered = true;
    }
    pool.free[pool.count++] = buf;
}

static void echo_conn(cio_stream *s, const cio_addr *peer, void *ctx)
{
    (void)peer;
    struct echo *e = ctx;
    uint64_t bytes = 0;
    for (;;) {
        if (cio_socket_readable(s) < 0)
            break; /* a connection error or shutdown (-ECANCELED) */
        char *buf = buffer_take(e->buffer_size);
        if (buf == NULL)
            break;
        ssize_t n = cio_stream_read(s, buf, e->buffer_size);
        int rc = -1;
        if (n > 0) {
            size_t done; /* set in every case (cio_stream_write_all()) */
            rc = cio_stream_write_all(s, buf, (size_t)n, &done);
            bytes += done;
        }
        buffer_give(buf);
        if (n <= 0 || rc < 0)
            break; /* end of stream, a connection error, or shutdown */
    }
    /* Once per connection, not per message: the hot path touches no shared cache line. */
    atomic_fetch_add(&e->bytes, bytes);
}

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: cio-echo [--listen ADDR] [--workers N] [--one-accept-loop]\n"
            "                [--buffer-size BYTES]\n"
            "An echo server: every byte a client sends is sent back.\n"
            "\n"
            "  --listen ADDR        where to listen (default 127.0.0.1:0): IPv4:PORT,\n"
            "                       [IPv6]:PORT, HOST:PORT, /path/to.sock or @abstract\n"
            "  --workers N          worker threads, 1 to 256 (default 1); with N > 1 a TCP\n"
            "                       listener is sharded with SO_REUSEPORT\n"
            "  --one-accept-loop    with N > 1: one listener and one accept loop; the\n"
            "                       runtime spreads the connections over the workers\n"
            "  --buffer-size BYTES  per-connection read buffer, 1 to 16777216 (default %d)\n"
            "  --help               show this help\n"
            "\n"
            "Prints 'listening on ADDR' when ready; stops on SIGINT or SIGTERM with a summary;\n"
            "SIGUSR1 writes the runtime's metrics and tasks to stderr.\n",
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
        } else if (strcmp(argv[i], "--one-accept-loop") == 0) {
            srv.one_listener = true;
            i++;
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
               tool_signal_name(srv.stats.stop_signal), (unsigned long)srv.stats.accepted,
               (unsigned long long)atomic_load(&echo.bytes));
        fflush(stdout);
    }
    pool_drain(&pool); /* the calling thread's buffers (it ran the current-thread runtime) */
    return status;
}
