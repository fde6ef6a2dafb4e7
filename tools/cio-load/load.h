/*
 * load.h: what the parts of cio-load share — the parsed command line, the per-worker counters
 * and latency histogram, the run's clock and stop flag, and the entry points of each file:
 * options.c (command line), conn.c (one connection's task: connect, drive the protocol,
 * reconnect), report.c (live progress and the final report, human or JSON) and main.c (the
 * runtime and the main task). Written on cio's public API only.
 */
#ifndef CIO_LOAD_H
#define CIO_LOAD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cio.h>
#include <cio/rt.h>

#include "hist.h"

/* Exit statuses (documented in docs/cio-load.md). */
enum {
    LOAD_EXIT_OK = 0,     /* the run completed with zero errors */
    LOAD_EXIT_ERRORS = 1, /* errors occurred, the run was interrupted, or it could not run */
    LOAD_EXIT_USAGE = 2,  /* bad arguments */
};

enum load_mode {
    LOAD_MODE_ECHO,
    LOAD_MODE_HTTP,
};

/* What went wrong, one counter each (names in load_error_names). */
enum load_error {
    LOAD_ERR_CONNECT_REFUSED, /* nobody listens there (ECONNREFUSED, or no Unix socket) */
    LOAD_ERR_CONNECT,         /* any other connect failure */
    LOAD_ERR_RESET,           /* the connection was reset (ECONNRESET, EPIPE) */
    LOAD_ERR_TIMEOUT,         /* connect, or no progress for --timeout with requests out */
    LOAD_ERR_CLOSED,          /* the server closed with responses outstanding (short) */
    LOAD_ERR_INVALID,         /* echo bytes differ, or an HTTP response we cannot parse */
    LOAD_ERR_STATUS,          /* an HTTP status outside 2xx */
    LOAD_ERR_OTHER,           /* any other error */
    LOAD_ERR_KINDS
};

extern const char *const load_error_names[LOAD_ERR_KINDS];

struct load_options {
    enum load_mode mode;
    const char *target;   /* as given */
    cio_addr addr;        /* resolved */
    bool unix_target;     /* a Unix path or abstract name */
    char host[300];       /* the HTTP Host header */
    const char *path;     /* the HTTP request target */
    unsigned connections; /* total, spread over the workers */
    cio_duration duration;
    uint64_t requests; /* 0: no request limit */
    cio_duration warmup;
    unsigned workers;
    size_t size;       /* echo message size */
    double rate;       /* total messages per second; 0: closed loop */
    unsigned pipeline; /* requests in flight per connection (the limit, with --rate) */
    cio_duration timeout;
    bool json;
    bool quiet;
    const char *server_metrics; /* NULL, or the HTTP target of the server's metrics */
};

/*
 * Parse the command line into @opt. Prints the help (to stdout) for --help/--version and
 * returns 1; prints a one-line reason (to stderr) for bad input and returns -1; 0 to run.
 */
int load_parse_options(struct load_options *opt, int argc, char **argv);

/* Counters of one worker. Written by that worker's connection tasks, read by the reporter on
 * another thread, hence relaxed atomics (see hist.h). */
struct load_stats {
    _Atomic uint64_t requests;        /* completed after the warmup */
    _Atomic uint64_t warmup_requests; /* completed during the warmup */
    _Atomic uint64_t bytes_sent;      /* after the warmup */
    _Atomic uint64_t bytes_received;
    _Atomic uint64_t connections; /* connections opened */
    _Atomic uint64_t errors[LOAD_ERR_KINDS];
    hist latency; /* of the requests counted */
};

struct conn;

/* One run: shared by every task; fixed once the main task starts, except the atomics. */
struct load_run {
    const struct load_options *opt;
    cio_time start;         /* when the main task started */
    cio_time measure_start; /* start + warmup: requests sent from here on are counted */
    cio_time stop_at;       /* measure_start + duration, or CIO_DEADLINE_NONE */
    cio_time end;           /* when the last connection finished */
    atomic_bool stop;       /* a signal asked to stop: send no more, drain, finish */
    atomic_bool interrupted;
    struct load_stats *stats; /* one per worker */
    unsigned workers;
    struct conn **conns;
    cio_join_set *set;
    const unsigned char *request; /* HTTP: one request's bytes */
    size_t request_len;
    char *server_metrics; /* what --server-metrics got, after the run */
};

static inline void load_stat_add(_Atomic uint64_t *counter, uint64_t n)
{
    atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

static inline uint64_t load_stat_get(const _Atomic uint64_t *counter)
{
    return atomic_load_explicit(counter, memory_order_relaxed);
}

/* conn.c: a connection's state and its task. */
int load_conn_new(struct conn **ret_conn, struct load_run *run, unsigned id, uint64_t quota);
void load_conn_free(struct conn *conn);
void *load_conn_task(void *conn);

/* report.c */
/* The live progress line (or lines), once a second, until cancelled. */
void *load_progress_task(void *run);
/* Finish the live line before the final report. */
void load_progress_end(const struct load_run *run);
/* The final report on stdout (JSON with --json). Returns the exit status it implies. */
int load_report(const struct load_run *run);
/* Sum the workers' counters into @total (whose histogram must be empty). */
void load_stats_sum(const struct load_run *run, struct load_stats *total);
/* Write a duration in ns with three significant digits and a unit ("21.3us"). */
void load_format_ns(char *buf, size_t size, double ns);

/* server_metrics.c: GET opt->server_metrics from the target (in a task): the answer's body, or
 * a line saying why not; NULL without memory. Free it. */
char *load_server_metrics(const struct load_options *opt);

#endif /* CIO_LOAD_H */
