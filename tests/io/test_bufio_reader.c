/*
 * test_bufio_reader.c: the buffered reader (cio/bufio.h), each case run for TCP and Unix
 * streams. A randomized model check — random data, random buffer sizes and frame limits,
 * random write split points (so frames and delimiters span reads) and a random mix of every
 * reading call, each result checked against what the data says it must be; the maximum frame
 * size (-EMSGSIZE with the bytes still readable), growth, lines, zero-copy lending, exact
 * reads, end of stream inside a frame, connection errors; and cancellation or a deadline in
 * the middle of a frame, after which a later reader gets every byte.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "cio/bufio.h"
#include "stream_kinds.h"

/* ---- the randomized model check ---- */

/* 30 random bits: two draws of next_rand(). */
static unsigned rnd(unsigned *s)
{
    unsigned hi = next_rand(s);
    return hi << 15 | next_rand(s);
}

static size_t rnd_below(unsigned *s, size_t n)
{
    return n == 0 ? 0 : rnd(s) % n;
}

enum { MAX_DATA = 400 };

/* One case: the bytes the peer sends, how it writes them, how the reader is made. */
struct rcase {
    cio_stream *peer;
    unsigned char data[MAX_DATA];
    size_t len;
    unsigned seed;
};

struct rstats {
    unsigned long cases, calls, frames, msgsize, nodata, eof_mid, bytes;
};

/* The peer: writes the case's bytes through a buffered writer of a random capacity, in random
 * pieces, flushing and yielding at random points (the split points the reader sees), then
 * closes the writer (flush) and shuts down writing. */
static void *case_writer(void *arg)
{
    struct rcase *c = arg;
    unsigned s = c->seed ^ 0x9e3779b9u;
    cio_buf_writer *w;
    CHECK_RC(cio_buf_writer_new(&w, c->peer, 1 + rnd_below(&s, 64)));
    size_t pos = 0;
    while (pos < c->len) {
        size_t n = 1 + rnd_below(&s, 40);
        if (n > c->len - pos)
            n = c->len - pos;
        if (rnd(&s) % 4 == 0) {
            char *room;
            ssize_t r = CHECK_RC(cio_buf_writer_reserve(w, 0, &room));
            if ((size_t)r < n)
                n = (size_t)r;
            memcpy(room, c->data + pos, n);
            CHECK_RC(cio_buf_writer_commit(w, n));
        } else {
            size_t done = 0;
            CHECK_RC(cio_buf_writer_write(w, c->data + pos, n, &done));
            CHECK_EQ(done, n);
        }
        pos += n;
        if (rnd(&s) % 3 == 0) {
            CHECK_RC(cio_buf_writer_flush(w, NULL));
            CHECK_EQ(cio_buf_writer_buffered(w), 0);
            CHECK_RC(cio_yield());
        }
    }
    CHECK_RC(cio_buf_writer_close(w));
    CHECK_RC(cio_socket_shutdown(c->peer, CIO_SHUTDOWN_WRITE));
    return NULL;
}

/* The delimiters read_until is tried with: frequent, rare, absent. */
static const int delims[] = {';', '\n', 'a', 'z', 0};

/* The first @delim at or after @pos in the case's data, or -1. */
static long find_delim(const struct rcase *c, size_t pos, int delim)
{
    const unsigned char *p = memchr(c->data + pos, delim, c->len - pos);
    return p == NULL ? -1 : (long)(p - c->data);
}

/* What read_until(@delim) must return at @pos with frame limit @max: a frame length, or
 * 0, -ENODATA, -EMSGSIZE. */
static ssize_t expect_until(const struct rcase *c, size_t pos, int delim, size_t max)
{
    long at = find_delim(c, pos, delim);
    size_t remaining = c->len - pos;
    if (at >= 0 && (size_t)at - pos + 1 <= max)
        return (ssize_t)((size_t)at - pos + 1);
    if (remaining >= max)
        return -EMSGSIZE;
    return remaining == 0 ? 0 : -ENODATA;
}

/* After a frame error, the buffered bytes must be the next bytes of the data, exactly
 * @expect_len of them (when known, else at most what remains). */
static void check_buffered(cio_buf_reader *r, const struct rcase *c, size_t pos, size_t expect_len)
{
    char *data;
    size_t b = cio_buf_reader_buffered(r, &data);
    CHECK_EQ(b, expect_len);
    CHECK(memcmp(data, c->data + pos, b) == 0);
}

/* Read the whole case through a reader of random capacity and frame limit, with random calls,
 * checking every result; returns when end of stream was seen with nothing left. */
static void read_case(struct rcase *c, cio_stream *s, struct rstats *st)
{
    unsigned rs = c->seed;
    size_t cap = 1 + rnd_below(&rs, 48);
    size_t max = rnd(&rs) % 3 == 0 ? 0 : cap + rnd_below(&rs, 3 * cap + 1);
    cio_buf_reader *r;
    CHECK_RC(cio_buf_reader_new(&r, s, cap, max));
    if (max == 0)
        max = cap;
    size_t pos = 0;
    bool ended = false;
    unsigned char buf[4 * 200];
    for (int step = 0; !ended; step++) {
        CHECK(step < 100000); /* bounded */
        st->calls++;
        size_t remaining = c->len - pos;
        switch (rnd(&rs) % 7) {
        case 0:
        case 1: { /* read_until */
            int delim = delims[rnd_below(&rs, sizeof(delims) / sizeof(delims[0]))];
            char *frame = NULL;
            ssize_t want = expect_until(c, pos, delim, max);
            ssize_t n = cio_buf_reader_read_until(r, delim, &frame);
            if (n != want)
                TEST_FAIL("case seed %u: read_until('%c') at %zu of %zu (cap %zu, max %zu) "
                          "returned %zd, expected %zd",
                          c->seed, delim ? delim : '0', pos, c->len, cap, max, n, want);
            if (n > 0) {
                CHECK(memcmp(frame, c->data + pos, (size_t)n) == 0);
                CHECK_EQ((unsigned char)frame[n - 1], delim);
                pos += (size_t)n;
                st->frames++;
            } else if (n == -EMSGSIZE) {
                check_buffered(r, c, pos, max); /* nothing lost, nothing overrun */
                st->msgsize++;
            } else if (n == -ENODATA) {
                check_buffered(r, c, pos, remaining); /* the unfinished frame stays */
                st->eof_mid++;
            } else {
                ended = true;
            }
            break;
        }
        case 2: { /* read_line */
            char *line = NULL;
            size_t len = 0;
            ssize_t want = expect_until(c, pos, '\n', max);
            ssize_t n = cio_buf_reader_read_line(r, &line, &len);
            CHECK_EQ(n, want);
            if (n > 0) {
                size_t strip = n >= 2 && c->data[pos + (size_t)n - 2] == '\r' ? 2 : 1;
                CHECK_EQ(len, (size_t)n - strip);
                CHECK(memcmp(line, c->data + pos, len) == 0);
                pos += (size_t)n;
                st->frames++;
            } else if (n == -EMSGSIZE) {
                check_buffered(r, c, pos, max);
                st->msgsize++;
            } else if (n == -ENODATA) {
                check_buffered(r, c, pos, remaining);
                st->eof_mid++;
            } else {
                ended = true;
            }
            break;
        }
        case 3: { /* fill, then consume some */
            size_t min = rnd_below(&rs, max + 3);
            size_t need = min > 0 ? min : 1;
            char *data = NULL;
            ssize_t n = cio_buf_reader_fill(r, min, &data);
            if (min > max) {
                CHECK_ERR(n, -EMSGSIZE);
            } else if (remaining >= need) {
                CHECK(n >= (ssize_t)need && (size_t)n <= remaining);
                CHECK(memcmp(data, c->data + pos, (size_t)n) == 0);
                size_t k = rnd_below(&rs, (size_t)n + 1);
                CHECK_RC(cio_buf_reader_consume(r, k));
                pos += k;
            } else if (remaining == 0) {
                CHECK_EQ(n, 0);
                ended = true;
            } else {
                CHECK_ERR(n, -ENODATA);
                check_buffered(r, c, pos, remaining);
                st->nodata++;
            }
            break;
        }
        case 4: { /* read */
            size_t len = 1 + rnd_below(&rs, 2 * cap + 1);
            ssize_t n = cio_buf_reader_read(r, buf, len);
            if (remaining == 0) {
                CHECK_EQ(n, 0);
                ended = true;
            } else {
                CHECK(n >= 1 && (size_t)n <= len && (size_t)n <= remaining);
                CHECK(memcmp(buf, c->data + pos, (size_t)n) == 0);
                pos += (size_t)n;
            }
            break;
        }
        case 5: { /* read_exact */
            size_t len = 1 + rnd_below(&rs, 3 * cap + 1);
            size_t done = 12345;
            int rc = cio_buf_reader_read_exact(r, buf, len, &done);
            if (remaining >= len) {
                CHECK_RC(rc);
                CHECK_EQ(done, len);
            } else {
                CHECK_ERR(rc, -ENODATA);
                CHECK_EQ(done, remaining);
                st->nodata++;
            }
            CHECK(memcmp(buf, c->data + pos, done) == 0);
            pos += done;
            break;
        }
        default: { /* what is buffered: never more than remains, always the next bytes */
            char *data;
            size_t b = cio_buf_reader_buffered(r, &data);
            CHECK(b <= remaining && b <= max);
            CHECK(memcmp(data, c->data + pos, b) == 0);
            break;
        }
        }
    }
    CHECK_EQ(pos, c->len);
    st->bytes += c->len;
    cio_buf_reader_free(r);
}

/* Random data over a small alphabet, so that delimiters, "\r\n" and long runs all occur. */
static void make_data(struct rcase *c, unsigned *s)
{
    static const char alphabet[] = "aab;\n\r\nxyz;;";
    size_t kind = rnd_below(s, 4);
    c->len = kind == 0 ? rnd_below(s, 8) : rnd_below(s, MAX_DATA + 1);
    for (size_t i = 0; i < c->len; i++)
        c->data[i] = (unsigned char)alphabet[rnd_below(s, sizeof(alphabet) - 1)];
}

struct random_run {
    const struct stream_kind *k;
    unsigned seed;
    unsigned cases;
};

static void *main_random(void *arg)
{
    const struct random_run *run_ = arg;
    unsigned s = run_->seed;
    struct rstats st = {0};
    struct rcase *c = xmalloc(sizeof(*c));
    for (unsigned i = 0; i < run_->cases; i++) {
        c->seed = rnd(&s);
        make_data(c, &s);
        cio_stream *a, *b;
        stream_pair(run_->k, &a, &b);
        c->peer = a;
        cio_join_handle *w;
        CHECK_RC(cio_spawn(&w, case_writer, c));
        read_case(c, b, &st);
        CHECK_RC(cio_task_join(w, NULL, NULL));
        cio_socket_close(a);
        cio_socket_close(b);
        st.cases++;
    }
    free(c);
    printf("%s: %lu random cases (seed %#x): %lu calls, %lu bytes, %lu frames, %lu -EMSGSIZE, "
           "%lu -ENODATA in a frame, %lu short fill/read_exact\n",
           run_->k->name, st.cases, run_->seed, st.calls, st.bytes, st.frames, st.msgsize,
           st.eof_mid, st.nodata);
    fflush(stdout);
    /* Every outcome happened, many times. */
    CHECK(st.frames > st.cases && st.msgsize > st.cases / 20 && st.eof_mid > st.cases / 20);
    return NULL;
}

/* 10,000 cases on Unix stream pairs; 1,000 on TCP, which needs a connection per case. */
static void test_random_unix(void)
{
    struct random_run r = {&stream_kind_unix, 0x5eed1234u, 10000};
    run(main_random, &r);
}

static void test_random_tcp(void)
{
    struct random_run r = {&stream_kind_tcp, 0x7cb0f00du, 1000};
    run(main_random, &r);
}

/* ---- fixed cases ---- */

static void send_all(cio_stream *s, const char *text)
{
    CHECK_RC(cio_stream_write_all(s, text, strlen(text), NULL));
}

/* A frame longer than the maximum: -EMSGSIZE once the buffer holds max bytes without the
 * delimiter; those bytes are still there, readable in order; the stream goes on after them. */
static void *main_max_frame(void *arg)
{
    const struct stream_kind *k = arg;
    cio_stream *a, *b;
    stream_pair(k, &a, &b);
    cio_buf_reader *r;
    CHECK_ERR(cio_buf_reader_new(&r, b, 32, 16), -EINVAL); /* max below capacity */
    CHECK_RC(cio_buf_reader_new(&r, b, 16, 32));
    send_all(a, "0123456789abcdefghijklmnopqrstuvwxyzABCD\nnext\n");
    char *frame;
    CHECK_ERR(cio_buf_reader_read_until(r, '\n', &frame), -EMSGSIZE);
    char *data;
    CHECK_EQ(cio_buf_reader_buffered(r, &data), 32);
    CHECK(memcmp(data, "0123456789abcdefghijklmnopqrstuv", 32) == 0);
    /* Asking again says the same, without reading or losing anything. */
    CHECK_ERR(cio_buf_reader_read_until(r, '\n', &frame), -EMSGSIZE);
    CHECK_ERR(cio_buf_reader_fill(r, 33, &data), -EMSGSIZE);
    /* The caller decides: here, take the oversized frame's bytes with read, then go on. */
    char buf[64];
    CHECK_EQ(cio_buf_reader_read(r, buf, 10), 10);
    CHECK(memcmp(buf, "0123456789", 10) == 0);
    CHECK_EQ(cio_buf_reader_read_until(r, '\n', &frame), 31); /* fits now: 30 bytes + '\n' */
    CHECK(memcmp(frame, "abcdefghijklmnopqrstuvwxyzABCD\n", 31) == 0);
    size_t len;
    char *line;
    CHECK_EQ(cio_buf_reader_read_line(r, &line, &len), 5);
    CHECK_EQ(len, 4);
    CHECK(memcmp(line, "next", 4) == 0);
    cio_socket_close(a);
    CHECK_EQ(cio_buf_reader_read_until(r, '\n', &frame), 0);
    cio_buf_reader_free(r);
    cio_socket_close(b);

    /* A fixed buffer (max 0: the capacity) refuses a frame one byte too long. */
    stream_pair(k, &a, &b);
    CHECK_RC(cio_buf_reader_new(&r, b, 4, 0));
    send_all(a, "abc\nabcd\n");
    CHECK_EQ(cio_buf_reader_read_until(r, '\n', &frame), 4);
    CHECK_ERR(cio_buf_reader_read_until(r, '\n', &frame), -EMSGSIZE);
    CHECK_RC(cio_buf_reader_consume(r, 4));
    CHECK_EQ(cio_buf_reader_read_until(r, '\n', &frame), 1);
    cio_buf_reader_free(r);
    cio_socket_close(a);
    cio_socket_close(b);
    return NULL;
}
STREAM_CASE(max_frame)

/* A task writing @len bytes of @buf to @s (a text too large for a socket buffer). */
struct send_job {
    cio_stream *s;
    const void *buf;
    size_t len;
};

static void *send_task(void *arg)
{
    struct send_job *j = arg;
    CHECK_RC(cio_stream_write_all(j->s, j->buf, j->len, NULL));
    return NULL;
}

/* The buffer grows, doubling up to the maximum, for a frame that needs it: a 60,000-byte line
 * through a reader made with 4 bytes comes back whole, in place. */
static void *main_growth(void *arg)
{
    const struct stream_kind *k = arg;
    cio_stream *a, *b;
    stream_pair(k, &a, &b);
    cio_buf_reader *r;
    CHECK_RC(cio_buf_reader_new(&r, b, 4, 100000));
    enum { LONG = 60000 };
    char *text = xmalloc(2 * LONG);
    for (size_t i = 0; i < LONG - 1; i++)
        text[i] = (char)('a' + i % 26);
    text[LONG - 1] = '\n';
    memcpy(text + LONG, text, LONG); /* two such lines */
    struct send_job job = {a, text, 2 * LONG};
    cio_join_handle *w;
    CHECK_RC(cio_spawn(&w, send_task, &job));
    for (int i = 0; i < 2; i++) {
        char *line;
        size_t len;
        CHECK_EQ(cio_buf_reader_read_line(r, &line, &len), LONG);
        CHECK_EQ(len, LONG - 1);
        CHECK(memcmp(line, text, LONG - 1) == 0);
        line[len] = '\0'; /* the terminator's byte is the caller's to overwrite */
        CHECK_EQ(strlen(line), LONG - 1);
    }
    CHECK_RC(cio_task_join(w, NULL, NULL));
    /* A frame above the maximum is still refused after growing. */
    char *big = xmalloc(100001);
    memset(big, 'y', 100001);
    job = (struct send_job){a, big, 100001};
    CHECK_RC(cio_spawn(&w, send_task, &job));
    char *frame;
    CHECK_ERR(cio_buf_reader_read_until(r, '\n', &frame), -EMSGSIZE);
    CHECK_EQ(cio_buf_reader_buffered(r, NULL), 100000);
    char sink[4096];
    size_t drained = 0;
    while (drained < 100001) {
        ssize_t n = CHECK_RC(cio_buf_reader_read(r, sink, sizeof(sink)));
        CHECK(n > 0);
        for (ssize_t i = 0; i < n; i++)
            CHECK(sink[i] == 'y');
        drained += (size_t)n;
    }
    CHECK_RC(cio_task_join(w, NULL, NULL));
    free(big);
    free(text);
    cio_buf_reader_free(r);
    cio_socket_close(a);
    cio_socket_close(b);
    return NULL;
}
STREAM_CASE(growth)

/* Lines: "\n" and "\r\n" ends, empty lines, a lone "\r" kept inside a line, and a last line
 * without its "\n": -ENODATA, its bytes still buffered. */
static void *main_lines(void *arg)
{
    const struct stream_kind *k = arg;
    cio_stream *a, *b;
    stream_pair(k, &a, &b);
    cio_buf_reader *r;
    CHECK_RC(cio_buf_reader_new(&r, b, 0, 0)); /* the default capacity */
    send_all(a, "one\r\ntwo\n\n\r\na\rb\nlast");
    cio_socket_close(a);
    static const char *const want[] = {"one", "two", "", "", "a\rb"};
    static const ssize_t consumed[] = {5, 4, 1, 2, 4};
    for (int i = 0; i < 5; i++) {
        char *line;
        size_t len;
        CHECK_EQ(cio_buf_reader_read_line(r, &line, &len), consumed[i]);
        CHECK_EQ(len, strlen(want[i]));
        CHECK(memcmp(line, want[i], len) == 0);
    }
    char *line = NULL;
    size_t len = 99;
    CHECK_ERR(cio_buf_reader_read_line(r, &line, &len), -ENODATA);
    CHECK(line == NULL && len == 99); /* not written on failure */
    char *data;
    CHECK_EQ(cio_buf_reader_buffered(r, &data), 4);
    CHECK(memcmp(data, "last", 4) == 0);
    CHECK_ERR(cio_buf_reader_consume(r, 5), -EINVAL); /* more than buffered: nothing taken */
    CHECK_RC(cio_buf_reader_consume(r, 4));
    CHECK_EQ(cio_buf_reader_read_line(r, &line, &len), 0);
    CHECK_EQ(cio_buf_reader_fill(r, 1, &data), 0);
    cio_buf_reader_free(r);
    cio_socket_close(b);
    return NULL;
}
STREAM_CASE(lines)

/* fill/consume: lends the buffered bytes in place, waits for more when asked for more than is
 * buffered, and a length-prefixed frame is gathered whole without a copy. */
static void *main_fill_consume(void *arg)
{
    const struct stream_kind *k = arg;
    cio_stream *a, *b;
    stream_pair(k, &a, &b);
    cio_buf_reader *r;
    CHECK_RC(cio_buf_reader_new(&r, b, 64, 1024));
    /* Frames: a 2-byte big-endian length, then that many bytes; sent in pieces. */
    static const char msg[] = "\x00\x05hello\x00\x00\x01\x2c";
    cio_join_handle *w;
    struct send_job job = {a, msg, sizeof(msg) - 1};
    CHECK_RC(cio_spawn(&w, send_task, &job));
    CHECK_RC(cio_task_join(w, NULL, NULL));
    char *p, *q;
    ssize_t n = CHECK_RC(cio_buf_reader_fill(r, 2, &p));
    CHECK(n >= 2);
    size_t flen = ((size_t)(unsigned char)p[0] << 8) | (unsigned char)p[1];
    CHECK_EQ(flen, 5);
    CHECK(CHECK_RC(cio_buf_reader_fill(r, 2 + flen, &q)) >= 7);
    CHECK(memcmp(q + 2, "hello", 5) == 0);
    CHECK(cio_buf_reader_fill(r, 0, &p) >= 7); /* 0 counts as 1: no wait, same bytes */
    CHECK(p == q);
    CHECK_RC(cio_buf_reader_consume(r, 2 + flen));
    /* An empty frame, then a 300-byte one that spans the initial 64-byte buffer. */
    CHECK(CHECK_RC(cio_buf_reader_fill(r, 2, &p)) >= 2);
    CHECK(p[0] == 0 && p[1] == 0);
    CHECK_RC(cio_buf_reader_consume(r, 2));
    CHECK(CHECK_RC(cio_buf_reader_fill(r, 2, &p)) >= 2);
    flen = ((size_t)(unsigned char)p[0] << 8) | (unsigned char)p[1];
    CHECK_EQ(flen, 300);
    char body[300];
    for (int i = 0; i < 300; i++)
        body[i] = (char)i;
    job = (struct send_job){a, body, 150};
    CHECK_RC(cio_spawn(&w, send_task, &job)); /* half the body now */
    CHECK_RC(cio_task_join(w, NULL, NULL));
    job = (struct send_job){a, body + 150, 150};
    CHECK_RC(cio_spawn(&w, send_task, &job)); /* the rest comes while fill waits */
    CHECK(CHECK_RC(cio_buf_reader_fill(r, 2 + flen, &p)) == 302);
    CHECK(memcmp(p + 2, body, 300) == 0);
    CHECK_RC(cio_buf_reader_consume(r, 302));
    CHECK_RC(cio_task_join(w, NULL, NULL));
    CHECK_EQ(cio_buf_reader_buffered(r, NULL), 0);
    /* End of stream with part of a frame: -ENODATA, the part kept. */
    CHECK_RC(cio_stream_write_all(a, "", 1, NULL)); /* one byte of a length */
    cio_socket_close(a);
    CHECK_ERR(cio_buf_reader_fill(r, 2, &p), -ENODATA);
    CHECK_EQ(cio_buf_reader_buffered(r, &p), 1);
    CHECK_RC(cio_buf_reader_consume(r, 1));
    CHECK_EQ(cio_buf_reader_fill(r, 2, &p), 0);
    cio_buf_reader_free(r);
    cio_socket_close(b);
    return NULL;
}
STREAM_CASE(fill_consume)

/* read and read_exact: buffered bytes first; a read of at least the capacity into an empty
 * buffer goes straight to the caller; an exact read that meets the end reports its progress. */
static void *main_exact(void *arg)
{
    const struct stream_kind *k = arg;
    cio_stream *a, *b;
    stream_pair(k, &a, &b);
    cio_buf_reader *r;
    CHECK_RC(cio_buf_reader_new(&r, b, 16, 0));
    enum { LEN = 100000 };
    unsigned char *data = xmalloc(LEN), *got = xmalloc(LEN);
    pattern_fill(data, LEN, 0, 7);
    struct send_job job = {a, data, LEN};
    cio_join_handle *w;
    CHECK_RC(cio_spawn(&w, send_task, &job));
    size_t pos = 0;
    CHECK_EQ(cio_buf_reader_read(r, got, 3), 3); /* buffers up to 16, hands out 3 */
    pos = 3;
    CHECK(cio_buf_reader_buffered(r, NULL) <= 13);
    size_t done = 0;
    CHECK_RC(cio_buf_reader_read_exact(r, got + pos, 50000, &done)); /* long: bypasses */
    CHECK_EQ(done, 50000);
    pos += done;
    CHECK_RC(cio_buf_reader_read_exact(r, got + pos, 7, &done));
    pos += done;
    CHECK_RC(cio_task_join(w, NULL, NULL));
    cio_socket_close(a);
    CHECK_ERR(cio_buf_reader_read_exact(r, got + pos, LEN, &done), -ENODATA);
    CHECK_EQ(done, LEN - pos);
    pos += done;
    CHECK_EQ(pattern_check(got, LEN, 0, 7), LEN);
    CHECK_EQ(cio_buf_reader_read(r, got, 1), 0);
    CHECK_EQ(cio_buf_reader_read(r, got, 0), 0);
    CHECK_RC(cio_buf_reader_read_exact(r, got, 0, &done));
    CHECK_EQ(done, 0);
    free(data);
    free(got);
    cio_buf_reader_free(r);
    cio_socket_close(b);
    return NULL;
}
STREAM_CASE(exact)

/* ---- cancellation and deadlines in the middle of a frame ---- */

struct until_job {
    cio_buf_reader *r;
    atomic_int started;
    ssize_t rc;
};

static void *until_task(void *arg)
{
    struct until_job *j = arg;
    atomic_store(&j->started, 1);
    char *frame;
    j->rc = cio_buf_reader_read_until(j->r, '\n', &frame);
    return NULL;
}

/* A task waiting in read_until with half a frame buffered is cancelled: -ECANCELED, nothing
 * consumed; a later reader (another task) gets the whole frame once the rest comes. The same
 * with a deadline, and with the reader handed back and forth many times per frame. */
static void *main_cancel_mid_frame(void *arg)
{
    const struct stream_kind *k = arg;
    cio_stream *a, *b;
    stream_pair(k, &a, &b);
    cio_buf_reader *r;
    CHECK_RC(cio_buf_reader_new(&r, b, 8, 64));
    send_all(a, "hello, wor"); /* longer than the initial buffer: it has grown */
    struct until_job j = {.r = r};
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, until_task, &j));
    while (!atomic_load(&j.started))
        CHECK_RC(cio_yield());
    CHECK_RC(cio_sleep(2 * CIO_NSEC_PER_MSEC)); /* it waits, with the partial frame read */
    CHECK(!cio_task_is_finished(t));
    CHECK_EQ(cio_buf_reader_buffered(r, NULL), 10);
    CHECK_RC(cio_task_cancel(t));
    CHECK_JOIN_CANCELLED(t);
    CHECK_ERR(j.rc, -ECANCELED);
    char *data;
    CHECK_EQ(cio_buf_reader_buffered(r, &data), 10);
    CHECK(memcmp(data, "hello, wor", 10) == 0);
    /* A deadline in the middle of the frame: the same. */
    char *frame;
    CHECK_ERR(CIO_TIMEOUT(CIO_NSEC_PER_MSEC, cio_buf_reader_read_until(r, '\n', &frame)),
              -ETIMEDOUT);
    send_all(a, "ld\nsecond line\n");
    j = (struct until_job){.r = r};
    CHECK_RC(cio_spawn(&t, until_task, &j)); /* a later reader, another task */
    CHECK_RC(cio_task_join(t, NULL, NULL));
    CHECK_EQ(j.rc, 13);
    CHECK_EQ(cio_buf_reader_read_until(r, '\n', &frame), 12);
    CHECK(memcmp(frame, "second line\n", 12) == 0);

    /* A stream of frames trickled in 1 to 5-byte pieces while readers are cancelled at random
     * moments: every frame arrives whole, in order, exactly once. */
    enum { FRAMES = 300 };
    char *text = xmalloc(FRAMES * 16);
    size_t tlen = 0;
    for (int i = 0; i < FRAMES; i++)
        tlen += (size_t)snprintf(text + tlen, 16, "frame %d\n", i);
    unsigned rng = 3;
    size_t sent = 0;
    int got = 0, cancels = 0;
    while (got < FRAMES) {
        CHECK(cancels < 100000);
        if (sent < tlen) {
            size_t n = 1 + next_rand(&rng) % 5;
            if (n > tlen - sent)
                n = tlen - sent;
            CHECK_RC(cio_stream_write_all(a, text + sent, n, NULL));
            sent += n;
        }
        j = (struct until_job){.r = r};
        CHECK_RC(cio_spawn(&t, until_task, &j));
        if (next_rand(&rng) % 2)
            CHECK_RC(cio_yield()); /* it runs: returns a frame, or waits for the rest of one */
        if (!cio_task_is_finished(t))
            CHECK_RC(cio_task_cancel(t)); /* before it ran, or while it waits */
        int jr = cio_task_join(t, NULL, NULL);
        CHECK(jr == 0 || jr == -ECANCELED);
        if (j.rc == -ECANCELED) {
            cancels++;
            continue;
        }
        char want[16];
        int wl = snprintf(want, sizeof(want), "frame %d\n", got);
        CHECK_EQ(j.rc, wl);
        got++;
    }
    CHECK(cancels > 10);
    CHECK_EQ(cio_buf_reader_buffered(r, NULL), 0);
    free(text);
    cio_buf_reader_free(r);
    cio_socket_close(a);
    cio_socket_close(b);
    return NULL;
}
STREAM_CASE(cancel_mid_frame)

/* ---- errors ---- */

/* A connection reset under a waiting reader is reported (-ECONNRESET), with what was
 * buffered kept; outside a task the calls that must read say -EPERM; bad arguments -EINVAL. */
static void *main_reset(void *arg)
{
    (void)arg;
    cio_tcp_stream *a, *b;
    tcp_pair(&a, &b);
    cio_buf_reader *r;
    CHECK_RC(cio_buf_reader_new(&r, b, 16, 0));
    CHECK_RC(cio_stream_write_all(a, "partial", 7, NULL));
    char *frame;
    CHECK_ERR(CIO_TIMEOUT(CIO_NSEC_PER_MSEC, cio_buf_reader_read_until(r, '\n', &frame)),
              -ETIMEDOUT);
    CHECK_RC(cio_socket_set_linger(a, 0));
    cio_socket_close(a); /* linger 0: a reset */
    CHECK_ERR(cio_buf_reader_read_until(r, '\n', &frame), -ECONNRESET);
    CHECK_EQ(cio_buf_reader_buffered(r, NULL), 7);
    cio_buf_reader_free(r);
    cio_socket_close(b);
    return NULL;
}

static void test_reset(void)
{
    run(main_reset, NULL);
}

static void test_arguments(void)
{
    cio_unix_stream *a, *b;
    CHECK_RC(cio_unix_stream_pair(&a, &b));
    cio_buf_reader *r = NULL;
    CHECK_ERR(cio_buf_reader_new(NULL, b, 0, 0), -EINVAL);
    CHECK_ERR((cio_buf_reader_new)(&r, NULL, 0, 0), -EINVAL);
    CHECK(r == NULL);
    CHECK_RC(cio_buf_reader_new(&r, b, 0, 0));
    char buf[4], *p;
    CHECK_ERR(cio_buf_reader_fill(NULL, 1, &p), -EINVAL);
    CHECK_ERR(cio_buf_reader_read(NULL, buf, 1), -EINVAL);
    CHECK_ERR(cio_buf_reader_read(r, NULL, 1), -EINVAL);
    CHECK_ERR(cio_buf_reader_read_until(r, 256, &p), -EINVAL);
    CHECK_ERR(cio_buf_reader_read_until(r, -1, &p), -EINVAL);
    CHECK_ERR(cio_buf_reader_read_line(NULL, &p, NULL), -EINVAL);
    CHECK_ERR(cio_buf_reader_consume(NULL, 0), -EINVAL);
    CHECK_RC(cio_buf_reader_consume(r, 0));
    CHECK_EQ(cio_buf_reader_buffered(NULL, &p), 0);
    size_t done = 9;
    CHECK_ERR(cio_buf_reader_read_exact(NULL, buf, 1, &done), -EINVAL);
    CHECK_EQ(done, 0);
    /* Outside a task: reading the stream cannot wait. */
    CHECK_ERR(cio_buf_reader_fill(r, 1, &p), -EPERM);
    CHECK_ERR(cio_buf_reader_read_line(r, &p, NULL), -EPERM);
    cio_buf_reader_free(r);
    cio_buf_reader_free(NULL);
    cio_socket_close(a);
    cio_socket_close(b);
}

/* A reader on the read half of a split stream, beside the write half in another task. */
static void *half_echo(void *arg)
{
    cio_read_half *rd = arg;
    cio_buf_reader *r;
    CHECK_RC(cio_buf_reader_new(&r, rd, 0, 0));
    char *line;
    size_t len;
    int lines = 0;
    while (CHECK_RC(cio_buf_reader_read_line(r, &line, &len)) > 0)
        lines++;
    cio_buf_reader_free(r);
    return (void *)(intptr_t)lines;
}

static void *main_halves(void *arg)
{
    const struct stream_kind *k = arg;
    cio_stream *a, *b;
    stream_pair(k, &a, &b);
    cio_read_half *rd;
    cio_write_half *wr;
    CHECK_RC(cio_stream_into_split(b, &rd, &wr));
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, half_echo, rd));
    cio_buf_writer *w;
    CHECK_RC(cio_buf_writer_new(&w, wr, 0));
    CHECK_RC(cio_buf_writer_write(w, "from the write half\n", 20, NULL));
    CHECK_RC(cio_buf_writer_close(w));
    char buf[20];
    CHECK_RC(cio_stream_read_exact(a, buf, 20, NULL));
    for (int i = 0; i < 3; i++)
        send_all(a, "x\n");
    CHECK_RC(cio_socket_shutdown(a, CIO_SHUTDOWN_WRITE));
    void *lines;
    CHECK_RC(cio_task_join(t, &lines, NULL));
    CHECK_EQ((intptr_t)lines, 3);
    cio_read_half_close(rd);
    cio_write_half_close(wr);
    cio_socket_close(a);
    return NULL;
}
STREAM_CASE(halves)

CIO_TEST_MAIN(TEST(test_random_unix), TEST(test_random_tcp), STREAM_TESTS(max_frame),
              STREAM_TESTS(growth), STREAM_TESTS(lines), STREAM_TESTS(fill_consume),
              STREAM_TESTS(exact), STREAM_TESTS(cancel_mid_frame), TEST(test_reset),
              TEST(test_arguments), STREAM_TESTS(halves))
