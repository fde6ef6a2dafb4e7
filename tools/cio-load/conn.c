/*
 * conn.c: one load connection — a runtime task that connects, keeps requests in flight,
 * checks and times the responses, and reconnects after a failure until the run says stop.
 *
 * The loop is a small state machine on the socket's readiness rather than a blocking
 * write-then-read, so that a large echo message or a deep pipeline can never deadlock (we
 * keep reading while our write waits for room) and one task both sends on a schedule and
 * reads: the wait for readiness carries a deadline — the next scheduled send in open loop,
 * or the no-progress timeout — and returns -ETIMEDOUT without consuming anything. A ready
 * socket costs one system call per operation: a read that fills less than the buffer clears
 * the cached read readiness itself (the socket is drained), as cio's own read does, so the
 * next wait goes to the reactor instead of a recv that would say EAGAIN.
 *
 * Cheap by construction: every buffer is allocated once per connection (none on the task's
 * stack, none per message); requests live in a ring of `pipeline` prepared slots (an echo
 * message only gets its 8-byte stamps rewritten; an HTTP request is constant), written with
 * one writev; responses are parsed in place. Latency is taken from the request's issue time —
 * in open loop its *scheduled* time, so a stalled server cannot hide its stall by slowing the
 * sender down (coordinated omission).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/uio.h>

#include "load.h"

/* Consecutive connects (or sessions that completed nothing) that fail before a connection
 * gives up, and the pause after each. */
#define CONNECT_ATTEMPTS 3
#define CONNECT_BACKOFF (50 * CIO_NSEC_PER_MSEC)
/* The read buffer: HTTP heads must fit in it; echo reads up to this much at once. */
#define HTTP_IN_BUF (64 * 1024)
#define ECHO_IN_MIN (16 * 1024)
#define ECHO_IN_MAX (256 * 1024)
/* Let the worker's other tasks run at least this often even when the socket never blocks
 * (readiness calls are not budgeted like cio's reads). */
#define YIELD_EVERY 16
/* An idle open-loop connection looks at the stop flag at least this often. */
#define IDLE_POLL (200 * CIO_NSEC_PER_MSEC)
/*
 * Open loop: a send may go out up to this much before its scheduled time. The runtime's
 * timer wakes a task on a millisecond tick, so waiting for the exact time would make every
 * send late by up to a tick, and that lateness would be counted as server latency. Sending
 * within the tick before instead keeps the offered rate (shifted by under a millisecond) and
 * leaves only real lateness in the numbers: a send made early is timed from when it was
 * actually made, a late one from when it was due.
 */
#define SEND_EARLY CIO_NSEC_PER_MSEC

enum session_end {
    END_DONE,      /* nothing left to send, everything answered */
    END_CLOSED,    /* the server closed a connection with nothing outstanding */
    END_ERROR,     /* conn->err says why */
    END_CANCELLED, /* the run is being torn down */
};

struct conn {
    struct load_run *run;
    const struct load_options *opt;
    struct load_stats *stats;
    unsigned id;
    uint64_t quota;          /* counted requests to send; UINT64_MAX: no limit */
    uint64_t counted_issued; /* counted requests sent so far */

    cio_tcp_stream *tcp; /* TCP target */
    cio_unix_stream *ux; /* Unix target */

    unsigned char *out; /* depth slots of slot_len bytes, each a prepared request */
    size_t slot_len, ring_len;
    unsigned depth;
    cio_time *sent;                 /* per slot: the request's issue (or scheduled) time */
    uint64_t issued, done, written; /* this session: requests, responses, bytes written */

    unsigned char *in;
    size_t in_cap, in_len;
    size_t msg_off; /* echo: bytes of the current message received */
    size_t scanned; /* http: bytes of the pending head already searched for its end */
    bool in_body;   /* http: skipping a body */
    bool status_ok; /* http: the current response is 2xx */
    bool closing;   /* http: the server said "Connection: close": send no more here */
    uint64_t body_left;

    cio_duration interval; /* open loop: time between this connection's sends; 0: closed */
    cio_duration phase;    /* open loop: the first send, after the run's start */
    cio_time next_sched;
    cio_time last_progress;
    uint64_t session_done; /* responses of the current session */
    enum load_error err;
};

const char *const load_error_names[LOAD_ERR_KINDS] = {
    [LOAD_ERR_CONNECT_REFUSED] = "connect_refused",
    [LOAD_ERR_CONNECT] = "connect_failed",
    [LOAD_ERR_RESET] = "reset",
    [LOAD_ERR_TIMEOUT] = "timeout",
    [LOAD_ERR_CLOSED] = "closed",
    [LOAD_ERR_INVALID] = "invalid_response",
    [LOAD_ERR_STATUS] = "http_status",
    [LOAD_ERR_OTHER] = "other",
};

/* ---- the socket, TCP or Unix ---- */

static int io_ready(struct conn *c, unsigned interest)
{
    return c->tcp ? cio_socket_ready(c->tcp, interest) : cio_socket_ready(c->ux, interest);
}

static void io_clear(struct conn *c, int ready)
{
    if (ready <= 0)
        return;
    if (c->tcp)
        cio_socket_clear_ready(c->tcp, ready);
    else
        cio_socket_clear_ready(c->ux, ready);
}

static ssize_t io_try_read(struct conn *c, void *buf, size_t len)
{
    return c->tcp ? cio_stream_try_read(c->tcp, buf, len) : cio_stream_try_read(c->ux, buf, len);
}

static ssize_t io_try_writev(struct conn *c, const struct iovec *iov, int n)
{
    if (n == 1)
        return c->tcp ? cio_stream_try_write(c->tcp, iov[0].iov_base, iov[0].iov_len)
                      : cio_stream_try_write(c->ux, iov[0].iov_base, iov[0].iov_len);
    return c->tcp ? cio_stream_try_writev(c->tcp, iov, n) : cio_stream_try_writev(c->ux, iov, n);
}

static int io_connect(struct conn *c)
{
    const struct load_options *opt = c->opt;
    CIO_TIMEOUT_SCOPE(opt->timeout);
    int rc;
    if (!opt->unix_target) {
        rc = cio_tcp_stream_connect_addr(&c->tcp, &opt->addr);
        /* Small requests must leave at once, not wait for Nagle to coalesce them. */
        if (rc == 0)
            (void)cio_tcp_set_nodelay(c->tcp, true);
    } else {
        /* Retries by itself while the listener's backlog is full, until the deadline. */
        rc = cio_unix_stream_connect(&c->ux, &opt->addr);
    }
    return rc;
}

static void io_close(struct conn *c)
{
    cio_socket_close(c->tcp);
    cio_socket_close(c->ux);
    c->tcp = NULL;
    c->ux = NULL;
}

static enum load_error classify(int rc)
{
    switch (rc) {
    case -ECONNRESET:
    case -EPIPE:
    case -ECONNABORTED:
    case -ENOTCONN:
        return LOAD_ERR_RESET;
    case -ETIMEDOUT:
        return LOAD_ERR_TIMEOUT;
    default:
        return LOAD_ERR_OTHER;
    }
}

static enum load_error classify_connect(int rc)
{
    switch (rc) {
    case -ECONNREFUSED:
    case -ENOENT: /* no socket file at that path */
        return LOAD_ERR_CONNECT_REFUSED;
    case -ETIMEDOUT:
        return LOAD_ERR_TIMEOUT;
    default:
        return LOAD_ERR_CONNECT;
    }
}

static void count_error(struct conn *c, enum load_error kind)
{
    load_stat_add(&c->stats->errors[kind], 1);
}

/* ---- echo messages: stamped so that a lost, repeated or foreign message shows ---- */

/*
 * Message m of a session carries an 8-byte stamp (a mix of the connection id and m) in its
 * first bytes and, for messages of 16 bytes or more, in its last 8; the rest is the
 * template's pattern. Checking a response compares every byte.
 */
static uint64_t echo_stamp(const struct conn *c, uint64_t m)
{
    return (c->id + UINT64_C(1)) * UINT64_C(0x9E3779B97F4A7C15) + m * UINT64_C(0xD6E8FEB86659FD93);
}

static size_t echo_tail_start(size_t size)
{
    return size >= 16 ? size - 8 : size;
}

static void echo_stamp_slot(struct conn *c, unsigned char *slot, uint64_t m)
{
    uint64_t s = echo_stamp(c, m);
    size_t size = c->slot_len, head = size < 8 ? size : 8, tail = echo_tail_start(size);
    for (size_t i = 0; i < head; i++)
        slot[i] = (unsigned char)(s >> (8 * i));
    for (size_t i = tail; i < size; i++)
        slot[i] = (unsigned char)(s >> (8 * (i - tail)));
}

/* Whether @len received bytes @data match message @m from offset @off. */
static bool echo_check(const struct conn *c, uint64_t m, size_t off, const unsigned char *data,
                       size_t len)
{
    uint64_t s = echo_stamp(c, m);
    size_t size = c->slot_len, head = size < 8 ? size : 8, tail = echo_tail_start(size);
    size_t end = off + len, p = off;
    for (; p < end && p < head; p++, data++)
        if (*data != (unsigned char)(s >> (8 * p)))
            return false;
    size_t mid_end = end < tail ? end : tail;
    if (p < mid_end) {
        if (memcmp(data, c->run->request + p, mid_end - p) != 0)
            return false;
        data += mid_end - p;
        p = mid_end;
    }
    for (; p < end; p++, data++)
        if (*data != (unsigned char)(s >> (8 * (p - tail))))
            return false;
    return true;
}

/* ---- requests ---- */

static bool stopping(const struct conn *c, cio_time t)
{
    return t >= c->run->stop_at || atomic_load_explicit(&c->run->stop, memory_order_relaxed);
}

/* True when this connection has nothing more to send (it may still wait for responses). */
static bool out_of_work(const struct conn *c, cio_time now)
{
    cio_time t = c->interval ? c->next_sched : now;
    if (stopping(c, t))
        return true;
    return t >= c->run->measure_start && c->counted_issued >= c->quota;
}

/* Issue what may be issued now: in closed loop, up to the pipeline depth; in open loop, each
 * send whose scheduled time has come (late ones at once, see SEND_EARLY), as long as fewer
 * than the depth are in flight. */
static void issue(struct conn *c, cio_time now)
{
    while (c->issued - c->done < c->depth && !c->closing) {
        cio_time t = c->interval ? c->next_sched : now;
        if (t > now + (c->interval ? SEND_EARLY : 0) || out_of_work(c, now))
            break;
        size_t slot = (size_t)(c->issued % c->depth);
        if (c->opt->mode == LOAD_MODE_ECHO)
            echo_stamp_slot(c, c->out + slot * c->slot_len, c->issued);
        cio_time stamp = t > now ? now : t;
        c->sent[slot] = stamp;
        if (c->issued == c->done)
            c->last_progress = now; /* the no-progress clock starts with the first one out */
        c->issued++;
        if (stamp >= c->run->measure_start) /* as complete() will judge it */
            c->counted_issued++;
        if (c->interval)
            c->next_sched += c->interval;
    }
}

/* The response to the oldest request in flight is complete (@ok: a good one) at @now. */
static void complete(struct conn *c, cio_time now, bool ok)
{
    cio_time t = c->sent[c->done % c->depth];
    c->done++;
    c->session_done++;
    if (t < c->run->measure_start) {
        load_stat_add(&c->stats->warmup_requests, 1);
        return;
    }
    if (!ok) {
        count_error(c, LOAD_ERR_STATUS);
        return;
    }
    load_stat_add(&c->stats->requests, 1);
    hist_record(&c->stats->latency, now > t ? (uint64_t)(now - t) : 0);
}

/* ---- responses ---- */

/* Echo: consume @n bytes at c->in. Return: 0; -1 on a mismatch. */
static int echo_process(struct conn *c, size_t n, cio_time now)
{
    const unsigned char *data = c->in;
    while (n > 0) {
        if (c->done == c->issued)
            return -1; /* bytes nobody sent */
        size_t take = c->slot_len - c->msg_off;
        if (take > n)
            take = n;
        if (!echo_check(c, c->done, c->msg_off, data, take))
            return -1;
        c->msg_off += take;
        data += take;
        n -= take;
        if (c->msg_off == c->slot_len) {
            c->msg_off = 0;
            complete(c, now, true);
        }
    }
    return 0;
}

static bool is_digit(unsigned char ch)
{
    return ch >= '0' && ch <= '9';
}

/* Whether the header value [@v, @end) lists the token "close" (case-insensitive). */
static bool http_lists_close(const unsigned char *v, const unsigned char *end)
{
    for (; end - v >= 5; v++)
        if (strncasecmp((const char *)v, "close", 5) == 0)
            return true;
    return false;
}

/*
 * Parse a response head (status line and headers, @len bytes ending with the empty line).
 * Return: 0 with the status, the Content-Length (-1 when absent) and whether the server
 * closes the connection after it; -1 when malformed or framed in a way we do not follow
 * (chunked: the servers under test send Content-Length).
 */
static int http_parse_head(const unsigned char *h, size_t len, int *ret_status, int64_t *ret_length,
                           bool *ret_close)
{
    bool closes = false;
    if (len < 12 || memcmp(h, "HTTP/1.", 7) != 0 || !is_digit(h[7]) || h[8] != ' ' ||
        !is_digit(h[9]) || !is_digit(h[10]) || !is_digit(h[11]))
        return -1;
    int status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
    int64_t length = -1;
    const unsigned char *p = memchr(h, '\n', len), *end = h + len;
    if (p == NULL)
        return -1;
    p++;
    while (p < end) {
        const unsigned char *eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL)
            return -1;
        const unsigned char *line_end = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
        if (line_end == p)
            break; /* the empty line */
        const unsigned char *colon = memchr(p, ':', (size_t)(line_end - p));
        if (colon == NULL)
            return -1;
        size_t name_len = (size_t)(colon - p);
        const unsigned char *v = colon + 1;
        while (v < line_end && (*v == ' ' || *v == '\t'))
            v++;
        if (name_len == 14 && strncasecmp((const char *)p, "content-length", 14) == 0) {
            if (v == line_end)
                return -1;
            int64_t n = 0;
            for (; v < line_end && is_digit(*v); v++) {
                if (n > (INT64_MAX - 9) / 10)
                    return -1;
                n = n * 10 + (*v - '0');
            }
            while (v < line_end && (*v == ' ' || *v == '\t'))
                v++;
            if (v != line_end || (length >= 0 && length != n))
                return -1;
            length = n;
        } else if (name_len == 17 && strncasecmp((const char *)p, "transfer-encoding", 17) == 0) {
            return -1;
        } else if (name_len == 10 && strncasecmp((const char *)p, "connection", 10) == 0) {
            closes = closes || http_lists_close(v, line_end);
        }
        p = eol + 1;
    }
    *ret_status = status;
    *ret_length = length;
    *ret_close = closes;
    return 0;
}

/* Find "\r\n\r\n" in @len bytes; return the length up to and including it, or 0. */
static size_t http_head_end(const unsigned char *p, size_t len, size_t from)
{
    for (size_t i = from; i + 4 <= len; i++) {
        const unsigned char *q = memchr(p + i, '\r', len - i);
        if (q == NULL)
            return 0;
        i = (size_t)(q - p);
        if (i + 4 <= len && q[1] == '\n' && q[2] == '\r' && q[3] == '\n')
            return i + 4;
    }
    return 0;
}

/* HTTP: consume what c->in holds (c->in_len bytes), keep a partial head for later.
 * Return: 0; -1 on a response we cannot parse. */
static int http_process(struct conn *c, cio_time now)
{
    size_t pos = 0;
    while (pos < c->in_len) {
        size_t avail = c->in_len - pos;
        if (c->in_body) {
            size_t take = avail < c->body_left ? avail : (size_t)c->body_left;
            pos += take;
            c->body_left -= take;
            if (c->body_left == 0) {
                c->in_body = false;
                complete(c, now, c->status_ok);
            }
            continue;
        }
        size_t head = http_head_end(c->in + pos, avail, c->scanned);
        if (head == 0) {
            c->scanned = avail >= 3 ? avail - 3 : 0;
            break;
        }
        c->scanned = 0;
        int status;
        int64_t length;
        bool closes;
        if (http_parse_head(c->in + pos, head, &status, &length, &closes) < 0)
            return -1;
        if (closes)
            c->closing = true;
        pos += head;
        if (status < 200)
            continue; /* informational (100 Continue): the real response follows */
        if (c->done == c->issued)
            return -1; /* a response to no request */
        c->status_ok = status < 300;
        if (status == 204 || status == 304)
            length = 0;
        if (length < 0)
            return -1; /* no way to find where a keep-alive response ends */
        if (length == 0) {
            complete(c, now, c->status_ok);
        } else {
            c->in_body = true;
            c->body_left = (uint64_t)length;
        }
    }
    if (pos > 0) {
        memmove(c->in, c->in + pos, c->in_len - pos);
        c->in_len -= pos;
    }
    if (c->in_len == c->in_cap)
        return -1; /* a head larger than the buffer */
    return 0;
}

/* ---- one connected session ---- */

static enum session_end fail(struct conn *c, enum load_error kind)
{
    c->err = kind;
    return END_ERROR;
}

/* Write some of the requests not yet written (they sit in the ring, in order). */
static ssize_t write_pending(struct conn *c, uint64_t pending)
{
    size_t off = (size_t)(c->written % c->ring_len);
    size_t first = c->ring_len - off;
    if (first > pending)
        first = (size_t)pending;
    struct iovec iov[2] = {{c->out + off, first}, {c->out, (size_t)pending - first}};
    return io_try_writev(c, iov, pending > first ? 2 : 1);
}

static enum session_end session(struct conn *c)
{
    const struct load_run *run = c->run;
    const cio_duration timeout = c->opt->timeout;
    c->issued = c->done = c->written = c->session_done = 0;
    c->in_len = c->msg_off = c->scanned = 0;
    c->in_body = c->closing = false;
    c->last_progress = cio_now();
    for (unsigned iter = 1;; iter++) {
        if (iter % YIELD_EVERY == 0 && cio_yield() == -ECANCELED)
            return END_CANCELLED;
        cio_time now = cio_now();
        issue(c, now);
        uint64_t inflight = c->issued - c->done;
        if (inflight == 0 && out_of_work(c, now))
            return END_DONE;
        if (inflight == 0 && c->closing)
            return END_CLOSED; /* reconnect, as the server asked */
        if (c->written < c->done * c->slot_len)
            return fail(c, LOAD_ERR_INVALID); /* answered before it was sent */
        uint64_t pending = c->issued * c->slot_len - c->written;

        cio_time deadline = CIO_DEADLINE_NONE;
        if (inflight > 0)
            deadline = c->last_progress + timeout;
        if (c->interval && inflight < c->depth && !out_of_work(c, now)) {
            cio_time due = c->next_sched - SEND_EARLY;
            cio_time wake = due < now + IDLE_POLL ? due : now + IDLE_POLL;
            if (wake < deadline)
                deadline = wake;
        }
        unsigned interest = CIO_READABLE | (pending > 0 ? CIO_WRITABLE : 0u);
        int ready;
        if (deadline != CIO_DEADLINE_NONE) {
            cio_time saved = cio_deadline_set(deadline);
            ready = io_ready(c, interest);
            cio_deadline_restore(saved);
        } else {
            ready = io_ready(c, interest);
        }
        if (ready == -ETIMEDOUT) {
            if (inflight > 0 && cio_now() - c->last_progress >= timeout)
                return fail(c, LOAD_ERR_TIMEOUT);
            continue; /* time to send */
        }
        if (ready == -ECANCELED)
            return END_CANCELLED;
        if (ready < 0)
            return fail(c, classify(ready));

        if (pending > 0 &&
            (ready & (CIO_READY_WRITABLE | CIO_READY_WRITE_CLOSED | CIO_READY_ERROR))) {
            ssize_t n = write_pending(c, pending);
            if (n == -EAGAIN) {
                io_clear(c, ready & CIO_READY_WRITABLE);
            } else if (n < 0) {
                return fail(c, classify((int)n));
            } else {
                c->written += (uint64_t)n;
                c->last_progress = now;
                if (now >= run->measure_start)
                    load_stat_add(&c->stats->bytes_sent, (uint64_t)n);
            }
        }
        if (ready & (CIO_READY_READABLE | CIO_READY_READ_CLOSED | CIO_READY_ERROR)) {
            size_t want = c->in_cap - c->in_len;
            ssize_t n = io_try_read(c, c->in + c->in_len, want);
            if (n == -EAGAIN) {
                io_clear(c, ready & CIO_READY_READABLE);
            } else if (n < 0) {
                return fail(c, classify((int)n));
            } else if (n == 0) {
                if (c->issued != c->done || c->in_len > 0 || c->msg_off > 0)
                    return fail(c, LOAD_ERR_CLOSED);
                return END_CLOSED;
            } else {
                /* Drained: the next wait goes to the reactor, not to a recv saying EAGAIN. */
                if ((size_t)n < want)
                    io_clear(c, ready & CIO_READY_READABLE);
                now = cio_now();
                c->last_progress = now;
                if (now >= run->measure_start)
                    load_stat_add(&c->stats->bytes_received, (uint64_t)n);
                int rc;
                if (c->opt->mode == LOAD_MODE_ECHO) {
                    rc = echo_process(c, (size_t)n, now);
                } else {
                    c->in_len += (size_t)n;
                    rc = http_process(c, now);
                }
                if (rc < 0)
                    return fail(c, LOAD_ERR_INVALID);
            }
        }
    }
}

void *load_conn_task(void *arg)
{
    struct conn *c = arg;
    unsigned failures = 0;
    c->next_sched = c->run->start + c->phase;
    while (!out_of_work(c, cio_now())) {
        int rc = io_connect(c);
        if (rc == -ECANCELED)
            break;
        enum session_end end = END_ERROR;
        if (rc < 0) {
            count_error(c, classify_connect(rc));
        } else {
            load_stat_add(&c->stats->connections, 1);
            end = session(c);
            io_close(c);
            if (end == END_DONE || end == END_CANCELLED)
                break;
            if (end == END_ERROR)
                count_error(c, c->err);
        }
        /* A connection that keeps failing without getting anything done gives up, so a run
         * against a dead server ends instead of spinning. */
        if (rc == 0 && c->session_done > 0) {
            failures = 0;
            continue;
        }
        if (++failures >= CONNECT_ATTEMPTS)
            break;
        if (cio_sleep(CONNECT_BACKOFF * failures) < 0)
            break;
    }
    return NULL;
}

int load_conn_new(struct conn **ret_conn, struct load_run *run, unsigned id, uint64_t quota)
{
    const struct load_options *opt = run->opt;
    struct conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return -ENOMEM;
    c->run = run;
    c->opt = opt;
    c->stats = &run->stats[id % run->workers];
    c->id = id;
    c->quota = quota;
    c->depth = opt->pipeline;
    c->slot_len = run->request_len;
    c->ring_len = c->slot_len * c->depth;
    if (opt->mode == LOAD_MODE_ECHO) {
        size_t want = c->ring_len;
        c->in_cap = want < ECHO_IN_MIN ? ECHO_IN_MIN : want > ECHO_IN_MAX ? ECHO_IN_MAX : want;
    } else {
        c->in_cap = HTTP_IN_BUF;
    }
    c->out = malloc(c->ring_len);
    c->sent = calloc(c->depth, sizeof *c->sent);
    c->in = malloc(c->in_cap);
    if (c->out == NULL || c->sent == NULL || c->in == NULL) {
        load_conn_free(c);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < c->depth; i++)
        memcpy(c->out + (size_t)i * c->slot_len, run->request, c->slot_len);
    if (opt->rate > 0) {
        /* Each connection sends rate/connections per second, the connections' schedules
         * staggered evenly across one interval so the sends do not come in bursts. */
        double interval = (double)opt->connections * 1e9 / opt->rate;
        c->interval = interval < 1 ? 1 : (cio_duration)interval;
        c->phase = (cio_duration)(interval * id / opt->connections);
    }
    *ret_conn = c;
    return 0;
}

void load_conn_free(struct conn *c)
{
    if (c == NULL)
        return;
    io_close(c);
    free(c->out);
    free(c->sent);
    free(c->in);
    free(c);
}
