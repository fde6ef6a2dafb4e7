/*
 * tool.h: the small shared code of the programs that ship with cio (cio-echo, cio-http-hello,
 * cio-relay...), written on cio's public API only: command-line helpers (exit status 2 on a
 * bad argument), logging to stderr, endpoint text ("127.0.0.1:0", "[::1]:7000", "host:80",
 * "/tmp/e.sock", "@abstract") mapped to TCP or Unix sockets, one stream type over TCP and Unix
 * streams (the relay's outgoing side), answer-then-close, and the tools' conventions around
 * cio's serve helper (cio/serve.h): the runtime, the "listening on ADDR" line and a graceful
 * stop on SIGINT/SIGTERM.
 *
 * Everything here is for programs, not a library: errors are printed, and a bad command line
 * ends the process with exit status 2.
 */
#ifndef CIO_TOOL_H
#define CIO_TOOL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cio.h>
#include <cio/io.h>
#include <cio/rt.h>

/* Exit statuses shared by the tools. */
enum {
    TOOL_EXIT_OK = 0,
    TOOL_EXIT_FAILURE = 1, /* a runtime failure: bind refused, out of memory... */
    TOOL_EXIT_USAGE = 2,   /* a bad command line */
};

/* ---- command line ---- */

/* The program's name for messages ("cio-echo"), set by tool_init(). */
extern const char *tool_name;

/* Set the program name used by messages and logs. */
void tool_init(const char *name);

/* Print "NAME: MESSAGE" and "Try 'NAME --help'." to stderr and exit with status 2. */
_Noreturn void tool_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * If argv[*i] is the option @name, given as "--name VALUE" or "--name=VALUE", store VALUE in
 * *ret_value, advance *i past what was used and return true. A missing value is a usage error.
 */
bool tool_opt_value(int argc, char **argv, int *i, const char *name, const char **ret_value);

/* Parse a decimal integer in [min, max] for option @opt, or exit with a usage error. */
uint64_t tool_parse_uint(const char *opt, const char *text, uint64_t min, uint64_t max);

/* ---- logging ---- */

/* Print "NAME: MESSAGE\n" to stderr as one write (lines from several threads do not mix). */
void tool_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Format @addr into @buf (CIO_ADDR_STRLEN bytes); "?" when it cannot be formatted. */
const char *tool_addr_text(const cio_addr *addr, char *buf, size_t size);

/* ---- endpoints ---- */

typedef enum tool_kind {
    TOOL_TCP = 1,
    TOOL_UNIX = 2,
} tool_kind;

/*
 * An endpoint as given on the command line: a literal address (IPv4, IPv6, Unix path,
 * abstract name), or a TCP host name and port to resolve later ("localhost:7000").
 */
typedef struct tool_endpoint {
    tool_kind kind;
    bool is_name;               /* TCP only: text is "HOST:PORT", addr is not set */
    cio_addr addr;              /* a literal address */
    char text[CIO_ADDR_STRLEN]; /* as given: for names and messages */
} tool_endpoint;

/*
 * Parse endpoint text: "IPv4:PORT", "[IPv6]:PORT", "/path", "./path", "@abstract", or
 * "HOST:PORT" (a name, when @allow_names; cio resolves it when it is used).
 * Return: 0; -EINVAL (malformed); -ENAMETOOLONG.
 */
int tool_endpoint_parse(tool_endpoint *ret, const char *text, bool allow_names);

/* ---- streams ---- */

/* A TCP or Unix stream; both kinds go through cio's stream core (cio/stream.h). */
typedef struct tool_stream {
    tool_kind kind;
    cio_stream *core; /* the stream as cio's core type, whatever its kind */
    cio_tcp_stream *tcp;
    cio_unix_stream *unx;
} tool_stream;

static inline void tool_stream_init_tcp(tool_stream *s, cio_tcp_stream *tcp)
{
    *s = (tool_stream){.kind = TOOL_TCP, .core = cio_as_stream(tcp), .tcp = tcp};
}

static inline void tool_stream_init_unix(tool_stream *s, cio_unix_stream *unx)
{
    *s = (tool_stream){.kind = TOOL_UNIX, .core = cio_as_stream(unx), .unx = unx};
}

/* The stream as cio's core type, whatever its kind; NULL when there is none. */
static inline cio_stream *tool_stream_core(const tool_stream *s)
{
    return s->core;
}

/* Close the stream (NULL members allowed) and clear it. */
void tool_stream_close(tool_stream *s);

/*
 * Answer-then-close, before the stream is closed: shut down writing (the peer reads end of
 * stream after the last bytes), then read and drop what the peer still sends until it closes
 * or @linger passes. Closing with unread bytes would make Linux reset the connection, and the
 * reset can destroy the last answer before the peer reads it.
 */
void tool_linger(cio_stream *s, cio_duration linger);

/*
 * Connect to @ep: a literal address, or a name (resolved, then happy eyeballs:
 * cio_tcp_stream_connect()). Bounded by the calling task's deadline.
 * Return: 0; the connect errors (-ECONNREFUSED, -ETIMEDOUT, a CIO_ERR_EAI() code...).
 */
int tool_stream_connect(tool_stream *ret, const tool_endpoint *ep);

/* ---- server ---- */

/*
 * A tool's server: cio's serve helper (cio/serve.h) with the tools' conventions around it —
 * the runtime (current-thread for one worker, multi-thread for more), errors printed, the
 * "listening on ADDR" line scripts wait for, SIGINT/SIGTERM for a graceful stop. The handler
 * is cio's: it gets the connection as a cio_stream, which the server closes after it returns.
 */
typedef struct tool_server {
    /* set by the program */
    tool_endpoint listen; /* where to listen */
    unsigned workers;     /* 1: current-thread runtime; N > 1: multi-thread, N workers */
    bool one_listener;    /* N > 1: one listener and accept loop, the runtime spreading the
                             connections (work stealing), instead of SO_REUSEPORT shards */
    size_t max_conns;     /* 0: no limit; else accept waits for a free slot */
    cio_serve_fn on_conn;
    void *ctx;

    /* filled in by tool_server_run() */
    cio_addr bound;         /* the address actually bound (the port the kernel chose) */
    cio_server_stats stats; /* the final counts (stats.stop_signal: what stopped it) */
} tool_server;

/*
 * Bind, print "listening on ADDR" to stdout (flushed), accept and serve until SIGINT or
 * SIGTERM, then stop gracefully: stop accepting, let live connections finish for up to
 * TOOL_STOP_TIMEOUT (their reading side is shut down, so a handler waiting for its next
 * request ends at once), cancel the rest and wait for them. Errors are printed. SIGUSR1
 * writes the runtime's metrics and tasks to stderr (cio_rt_dump_on_signal()).
 * Return: TOOL_EXIT_OK after a signal; TOOL_EXIT_FAILURE when the server could not start.
 */
int tool_server_run(tool_server *srv);

#define TOOL_STOP_TIMEOUT (1 * CIO_NSEC_PER_SEC)

/* Seconds as a double, for summaries. */
static inline double tool_seconds(cio_duration d)
{
    return (double)d / (double)CIO_NSEC_PER_SEC;
}

/* A signal's name ("SIGTERM"). */
const char *tool_signal_name(int sig);

#endif
