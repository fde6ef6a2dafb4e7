/*
 * bufread.c: the buffered reader (cio/bufio.h) — one buffer in front of a stream, from which
 * frames are lent in place. Every byte read from the stream lands in the buffer before the
 * caller sees it (except a large cio_buf_reader_read() into an empty buffer, which goes
 * straight to the caller's memory), so an operation cut short by an error, a deadline or a
 * cancellation leaves everything it read buffered for the next one: that is the whole of its
 * cancel safety. Each stream read waits for readiness, then is one cio_stream_read() on its
 * one-system-call fast path, with its short-read rule.
 *
 *   buf:  [ consumed | buffered: start .. end | room: end .. cap ]     cap <= max_frame
 *
 * A read into the room first slides the buffered bytes to the front (they are the start of
 * an unfinished frame, usually short) and, when the room is still too small for the frame
 * being gathered, doubles the buffer up to max_frame.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cio/bufio.h"
#include "cio/stream.h"
#include "io/io.h"
#include "io/stream.h"
#include "net/socket.h"
#include "util/compiler.h"

struct cio_buf_reader {
    cio_stream *stream;
    char *buf;
    size_t start, end; /* the buffered bytes: buf[start, end) */
    size_t cap;        /* the buffer's size, <= max_frame */
    size_t max_frame;
    /* read_until: the first @scanned buffered bytes hold no @scan_delim (so a frame spanning
     * reads is scanned once); reset whenever bytes are consumed. */
    size_t scanned;
    int scan_delim;
};

int cio_buf_reader_new(cio_buf_reader **ret_reader, cio_stream *stream, size_t capacity,
                       size_t max_frame)
{
    if (capacity == 0)
        capacity = CIO_BUF_DEFAULT_CAPACITY;
    if (max_frame == 0)
        max_frame = capacity;
    if (ret_reader == NULL || stream == NULL || max_frame < capacity)
        return -EINVAL;
    struct cio_buf_reader *r = malloc(sizeof(*r));
    char *buf = malloc(capacity);
    if (r == NULL || buf == NULL) {
        free(r);
        free(buf);
        return -ENOMEM;
    }
    *r = (struct cio_buf_reader){
        .stream = stream, .buf = buf, .cap = capacity, .max_frame = max_frame, .scan_delim = -1};
    *ret_reader = r;
    return 0;
}

void cio_buf_reader_free(cio_buf_reader *reader)
{
    if (reader == NULL)
        return;
    free(reader->buf);
    free(reader);
}

size_t cio_buf_reader_buffered(const cio_buf_reader *reader, char **ret_data)
{
    if (reader == NULL)
        return 0;
    if (ret_data != NULL)
        *ret_data = reader->buf + reader->start;
    return reader->end - reader->start;
}

/* Drop the first @len buffered bytes (at most all of them). */
static inline void drop(struct cio_buf_reader *r, size_t len)
{
    r->start += len;
    if (r->start == r->end)
        r->start = r->end = 0; /* empty: the next read starts at the front, no slide */
    r->scanned = 0;
}

int cio_buf_reader_consume(cio_buf_reader *reader, size_t len)
{
    if (reader == NULL || len > reader->end - reader->start)
        return -EINVAL;
    if (len > 0)
        drop(reader, len);
    return 0;
}

/*
 * One read of the stream: wait for read readiness, then cio_stream_read(). Waiting first is
 * cheaper than letting the read wait: the read then finds the socket ready and takes the
 * stream's fast path (one recv, no retry through the general path).
 */
static ssize_t stream_read(struct cio_buf_reader *r, void *buf, size_t len)
{
    int ready = cio__io_ready(CIO__SOCK(r->stream), CIO_READABLE);
    if (ready < 0)
        return ready;
    return cio_stream_read(r->stream, buf, len);
}

/*
 * Read the stream once into the room, which is first made to hold at least @want buffered
 * bytes in all (want <= max_frame): buffered bytes slide to the front, and a buffer too small
 * doubles (up to max_frame). Return: bytes read (> 0), 0 at end of stream, a negative errno;
 * what was buffered stays buffered in every case.
 */
static ssize_t read_more(struct cio_buf_reader *r, size_t want)
{
    size_t have = r->end - r->start;
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, have);
        r->start = 0;
        r->end = have;
    }
    if (want > r->cap || have == r->cap) {
        size_t cap = r->cap;
        while (cap < want || cap == have)
            cap = cap > r->max_frame / 2 ? r->max_frame : cap * 2;
        char *buf = realloc(r->buf, cap);
        if (buf == NULL)
            return -ENOMEM;
        r->buf = buf;
        r->cap = cap;
    }
    ssize_t n = stream_read(r, r->buf + r->end, r->cap - r->end);
    if (n > 0)
        r->end += (size_t)n;
    return n;
}

/* cio_buf_reader_fill() when fewer than @min (>= 1) bytes are buffered. */
static cio__noinline ssize_t fill_slow(struct cio_buf_reader *r, size_t min, char **ret_data)
{
    if (min > r->max_frame)
        return -EMSGSIZE;
    do {
        ssize_t n = read_more(r, min);
        if (n == 0)
            return r->end == r->start ? 0 : -ENODATA;
        if (n < 0)
            return n;
    } while (r->end - r->start < min);
    if (ret_data != NULL)
        *ret_data = r->buf + r->start;
    return (ssize_t)(r->end - r->start);
}

ssize_t cio_buf_reader_fill(cio_buf_reader *reader, size_t min, char **ret_data)
{
    struct cio_buf_reader *r = reader;
    if (r == NULL)
        return -EINVAL;
    size_t have = r->end - r->start;
    if (have < min || have == 0)
        return fill_slow(r, min > 0 ? min : 1, ret_data);
    if (ret_data != NULL)
        *ret_data = r->buf + r->start;
    return (ssize_t)have;
}

ssize_t cio_buf_reader_read(cio_buf_reader *reader, void *buf, size_t len)
{
    struct cio_buf_reader *r = reader;
    if (r == NULL || (buf == NULL && len > 0))
        return -EINVAL;
    if (len == 0)
        return 0;
    if (r->end == r->start) {
        if (len >= r->cap) /* nothing to gain from the buffer: read straight into @buf */
            return stream_read(r, buf, len);
        ssize_t n = read_more(r, 1);
        if (n <= 0)
            return n;
    }
    size_t have = r->end - r->start;
    size_t n = len < have ? len : have;
    memcpy(buf, r->buf + r->start, n);
    drop(r, n);
    return (ssize_t)n;
}

/* One read of read_exact (cio__read_fn). */
static ssize_t read_exact_step(void *reader, void *buf, size_t len)
{
    return cio_buf_reader_read(reader, buf, len);
}

int cio_buf_reader_read_exact(cio_buf_reader *reader, void *buf, size_t len, size_t *ret_done)
{
    int rc = reader == NULL || (buf == NULL && len > 0) ? -EINVAL : 0;
    return cio__read_exact(read_exact_step, reader, buf, len, rc, ret_done);
}

ssize_t cio_buf_reader_read_until(cio_buf_reader *reader, int delim, char **ret_frame)
{
    struct cio_buf_reader *r = reader;
    if (r == NULL || delim < 0 || delim > 255)
        return -EINVAL;
    if (r->scan_delim != delim) {
        r->scan_delim = delim;
        r->scanned = 0;
    }
    for (;;) {
        size_t have = r->end - r->start;
        char *from = r->buf + r->start;
        char *hit = memchr(from + r->scanned, delim, have - r->scanned);
        if (hit != NULL) {
            size_t len = (size_t)(hit - from) + 1;
            drop(r, len);
            if (ret_frame != NULL)
                *ret_frame = from;
            return (ssize_t)len;
        }
        r->scanned = have;
        if (have >= r->max_frame)
            return -EMSGSIZE;
        ssize_t n = read_more(r, have + 1);
        if (n == 0)
            return have == 0 ? 0 : -ENODATA;
        if (n < 0)
            return n;
    }
}

ssize_t cio_buf_reader_read_line(cio_buf_reader *reader, char **ret_line, size_t *ret_len)
{
    char *line;
    ssize_t n = cio_buf_reader_read_until(reader, '\n', &line);
    if (n <= 0)
        return n;
    size_t len = (size_t)n - 1;
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (ret_line != NULL)
        *ret_line = line;
    if (ret_len != NULL)
        *ret_len = len;
    return n;
}
