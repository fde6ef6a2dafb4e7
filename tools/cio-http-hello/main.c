/*
 * cio-http-hello: an HTTP/1.1 server on cio's runtime that answers every request with
 * "Hello, World!" — the benchmark's HTTP server, correct enough for curl, wrk and ab. One task
 * per connection: keep-alive; pipelining (every complete request in the buffer is answered,
 * and all the answers go out in ONE write); "Connection: close" honoured, HTTP/1.0 closing
 * unless it asked for keep-alive; a malformed request gets 400, a head larger than the buffer
 * 431, and the connection closes after the answer; a connection idle for --idle-timeout
 * milliseconds is closed (the task's deadline bounds each wait). GET /metrics answers the
 * runtime's metrics as text (what cio-load --server-metrics shows).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"
#include "tool.h"

/* The request buffer: a request head must fit in it (else 431). */
#define HTTP_BUF (8 * 1024)
/* After answering and shutting down writing, how long to keep reading (and dropping) what the
 * client still sends before closing: see tool_linger(). */
#define LINGER (1 * CIO_NSEC_PER_SEC)

#define HELLO_HEAD "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n"
#define HELLO_BODY "Hello, World!"

/* The answers, built at compile time, by [connection header][HEAD]: the plain keep-alive GET
 * answer is byte for byte the one every benchmark peer sends. */
enum { CONN_NONE, CONN_CLOSE, CONN_KEEP_ALIVE };
struct answer {
    const char *text;
    size_t len;
};
#define TEXT_AND_LEN(s) s, sizeof(s) - 1
static const struct answer hello[3][2] = {
    {{TEXT_AND_LEN(HELLO_HEAD "\r\n" HELLO_BODY)}, {TEXT_AND_LEN(HELLO_HEAD "\r\n")}},
    {{TEXT_AND_LEN(HELLO_HEAD "Connection: close\r\n\r\n" HELLO_BODY)},
     {TEXT_AND_LEN(HELLO_HEAD "Connection: close\r\n\r\n")}},
    {{TEXT_AND_LEN(HELLO_HEAD "Connection: keep-alive\r\n\r\n" HELLO_BODY)},
     {TEXT_AND_LEN(HELLO_HEAD "Connection: keep-alive\r\n\r\n")}},
};

struct http {
    cio_duration idle; /* 0: no idle timeout */
    atomic_ullong requests;
};

struct conn {
    size_t len;    /* bytes in in[] */
    uint64_t skip; /* body bytes still to drop */
    /* The answers of one batch: a constant answer while it is the only one (the usual case,
     * written without a copy), else out[]. */
    const char *batch;
    size_t batch_len;
    char *out;
    size_t out_cap;
    char in[HTTP_BUF];
};

/* Make c->out the batch's buffer, with room for @need bytes: grow it, and move into it a
 * constant answer that is the batch so far. (Out of line: the copy path stays lean.) */
__attribute__((noinline)) static bool out_prepare(struct conn *c, size_t need)
{
    bool in_out = c->batch_len == 0 || c->batch == c->out;
    if (need > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 1024;
        while (cap < need)
            cap *= 2;
        char *p = realloc(c->out, cap);
        if (p == NULL)
            return false;
        c->out = p;
        c->out_cap = cap;
    }
    if (!in_out)
        memcpy(c->out, c->batch, c->batch_len);
    c->batch = c->out;
    return true;
}

/* Add @n bytes to the batch, copied into c->out. */
static inline bool batch_copy(struct conn *c, const char *s, size_t n)
{
    size_t have = c->batch_len;
    if ((c->batch != c->out || have + n > c->out_cap) && !out_prepare(c, have + n))
        return false;
    memcpy(c->out + have, s, n);
    c->batch_len = have + n;
    return true;
}

/* Add a constant answer to the batch: not copied while it is the batch's only one. */
static bool batch_add(struct conn *c, const struct answer *a)
{
    if (c->batch_len > 0)
        return batch_copy(c, a->text, a->len);
    c->batch = a->text;
    c->batch_len = a->len;
    return true;
}

static const char *reason_of(int status)
{
    switch (status) {
    case 414:
        return "URI Too Long";
    case 431:
        return "Request Header Fields Too Large";
    case 501:
        return "Not Implemented";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Bad Request";
    }
}

static bool out_error(struct conn *c, int status)
{
    char msg[256];
    const char *reason = reason_of(status);
    int n = snprintf(msg, sizeof(msg),
                     "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\nContent-Type: text/plain\r\n"
                     "Connection: close\r\n\r\n%s\n",
                     status, reason, strlen(reason) + 1, reason);
    return n > 0 && (size_t)n < sizeof(msg) && batch_copy(c, msg, (size_t)n);
}

/* The answer to GET /metrics: the runtime's counters as text (cio/metrics.h). */
__attribute__((noinline)) static bool out_metrics(struct conn *c, bool head)
{
    char *text, hdr[128];
    size_t len;
    if (cio_rt_dump_string(cio_rt_current(), CIO_DUMP_METRICS, &text, &len) < 0)
        return false;
    int n = snprintf(hdr, sizeof(hdr),
                     "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n"
                     "Content-Type: text/plain\r\n\r\n",
                     len);
    bool ok = batch_copy(c, hdr, (size_t)n) && (head || batch_copy(c, text, len));
    free(text);
    return ok;
}

/*
 * Answer every complete request in c->in; returns the bytes consumed and sets *ret_close when
 * the connection must close after the answers (Connection: close, HTTP/1.0, an error).
 */
static size_t answer_all(struct conn *c, bool *ret_close, uint64_t *requests)
{
    size_t pos = 0;
    for (;;) {
        if (c->skip > 0) {
            size_t n = c->len - pos < c->skip ? c->len - pos : (size_t)c->skip;
            pos += n;
            c->skip -= n;
            if (c->skip > 0)
                break;
        }
        if (pos == c->len)
            break;
        http_request req;
        int rc = http_parse_request(c->in + pos, c->len - pos, &req);
        if (rc == HTTP_PARSE_PARTIAL) {
            if (pos == 0 && c->len == sizeof(c->in)) {
                /* The head does not fit: answer and close. */
                *ret_close = true;
                if (!out_error(c, req.status))
                    c->batch_len = 0;
                pos = c->len;
            }
            break;
        }
        if (rc == HTTP_PARSE_ERROR) {
            *ret_close = true;
            if (!out_error(c, req.status))
                c->batch_len = 0;
            pos = c->len;
            break;
        }
        int conn_hdr = !req.keep_alive ? CONN_CLOSE : req.minor == 0 ? CONN_KEEP_ALIVE : CONN_NONE;
        if (req.metrics ? !out_metrics(c, req.head) : !batch_add(c, &hello[conn_hdr][req.head])) {
            *ret_close = true;
            c->batch_len = 0;
            pos = c->len;
            break;
        }
        ++*requests;
        pos += req.head_len;
        c->skip = req.content_length;
        if (!req.keep_alive) {
            *ret_close = true;
            break;
        }
    }
    return pos;
}

static void http_conn(cio_stream *s, const cio_addr *peer, void *ctx)
{
    (void)peer;
    struct http *h = ctx;
    struct conn *c = malloc(sizeof(*c));
    if (c == NULL)
        return;
    c->len = 0;
    c->skip = 0;
    c->batch = c->out = NULL;
    c->batch_len = c->out_cap = 0;
    uint64_t requests = 0;
    bool close = false;
    while (!close) {
        /* One deadline per round, covering the wait for the next request and the write of
         * its answers: a client that neither sends nor reads is dropped. */
        cio_time saved = cio_deadline_set(h->idle > 0 ? cio_now() + h->idle : CIO_DEADLINE_NONE);
        ssize_t n = cio_stream_read(s, c->in + c->len, sizeof(c->in) - c->len);
        if (n <= 0) {
            cio_deadline_restore(saved);
            break; /* end of stream, an error, the idle timeout, or shutdown */
        }
        c->len += (size_t)n;
        c->batch_len = 0;
        size_t used = answer_all(c, &close, &requests);
        int rc = 0;
        if (c->batch_len > 0)
            rc = cio_stream_write_all(s, c->batch, c->batch_len, NULL);
        cio_deadline_restore(saved);
        if (rc < 0)
            break;
        c->len -= used;
        if (c->len > 0)
            memmove(c->in, c->in + used, c->len);
        if (close)
            tool_linger(s, LINGER); /* the server closes the stream when we return */
    }
    atomic_fetch_add(&h->requests, requests);
    free(c->out);
    free(c);
}

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: cio-http-hello [--listen ADDR] [--workers N] [--idle-timeout MS]\n"
            "An HTTP/1.1 server answering every request with 'Hello, World!'.\n"
            "\n"
            "  --listen ADDR      where to listen (default 127.0.0.1:0): IPv4:PORT,\n"
            "                     [IPv6]:PORT, HOST:PORT, /path/to.sock or @abstract\n"
            "  --workers N        worker threads, 1 to 256 (default 1); with N > 1 a TCP\n"
            "                     listener is sharded with SO_REUSEPORT\n"
            "  --idle-timeout MS  close a connection idle this long, 0 for never\n"
            "                     (default 10000)\n"
            "  --help             show this help\n"
            "\n"
            "Prints 'listening on ADDR' when ready; stops on SIGINT or SIGTERM with a summary.\n"
            "GET /metrics answers the runtime's metrics; SIGUSR1 writes them and the tasks to\n"
            "stderr.\n");
}

int main(int argc, char **argv)
{
    tool_init("cio-http-hello");
    const char *listen = "127.0.0.1:0";
    static struct http http = {.idle = 10000 * CIO_NSEC_PER_MSEC};
    tool_server srv = {.workers = 1, .on_conn = http_conn, .ctx = &http};

    for (int i = 1; i < argc;) {
        const char *v;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return TOOL_EXIT_OK;
        } else if (tool_opt_value(argc, argv, &i, "--listen", &v)) {
            listen = v;
        } else if (tool_opt_value(argc, argv, &i, "--workers", &v)) {
            srv.workers = (unsigned)tool_parse_uint("--workers", v, 1, 256);
        } else if (tool_opt_value(argc, argv, &i, "--idle-timeout", &v)) {
            http.idle =
                (cio_duration)tool_parse_uint("--idle-timeout", v, 0, 86400000) * CIO_NSEC_PER_MSEC;
        } else {
            tool_usage_error("unknown argument '%s'", argv[i]);
        }
    }
    int rc = tool_endpoint_parse(&srv.listen, listen, true);
    if (rc < 0)
        tool_usage_error("--listen: '%s' is not an address (%s)", listen, cio_strerror(rc));

    int status = tool_server_run(&srv);
    if (status == TOOL_EXIT_OK) {
        printf("cio-http-hello: stopped by %s: %lu connections, %llu requests\n",
               tool_signal_name(srv.stats.stop_signal), (unsigned long)srv.stats.accepted,
               (unsigned long long)atomic_load(&http.requests));
        fflush(stdout);
    }
    return status;
}
