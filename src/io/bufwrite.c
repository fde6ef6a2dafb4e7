/*
 * bufwrite.c: the buffered writer (cio/bufio.h) — small writes gather in one buffer and go
 * out together: at a flush, or when a write does not fit, in which case the buffered bytes
 * and the new ones leave in one vectored system call (sendmsg with two pieces) rather than a
 * copy and two sends. The stream writes are cio_stream_write_all() and
 * cio_stream_writev_all(), which report their progress in every case: a flush or write cut
 * short advances the buffer past what was sent and keeps the rest, in order.
 *
 *   buf:  [ sent | buffered: start .. end | room: end .. cap ]
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "cio/bufio.h"
#include "cio/stream.h"
#include "util/compiler.h"

struct cio_buf_writer {
    cio_stream *stream;
    char *buf;
    size_t start, end; /* the buffered bytes: buf[start, end) */
    size_t cap;
};

int cio_buf_writer_new(cio_buf_writer **ret_writer, cio_stream *stream, size_t capacity)
{
    if (capacity == 0)
        capacity = CIO_BUF_DEFAULT_CAPACITY;
    if (ret_writer == NULL || stream == NULL)
        return -EINVAL;
    struct cio_buf_writer *w = malloc(sizeof(*w));
    char *buf = malloc(capacity);
    if (w == NULL || buf == NULL) {
        free(w);
        free(buf);
        return -ENOMEM;
    }
    *w = (struct cio_buf_writer){.stream = stream, .buf = buf, .cap = capacity};
    *ret_writer = w;
    return 0;
}

void cio_buf_writer_free(cio_buf_writer *writer)
{
    if (writer == NULL)
        return;
    free(writer->buf);
    free(writer);
}

size_t cio_buf_writer_buffered(const cio_buf_writer *writer)
{
    return writer != NULL ? writer->end - writer->start : 0;
}

/* @sent buffered bytes went out. */
static void advance(struct cio_buf_writer *w, size_t sent)
{
    w->start += sent;
    if (w->start == w->end)
        w->start = w->end = 0;
}

/* Move the buffered bytes to the front, so the room is all the free space. */
static void slide(struct cio_buf_writer *w)
{
    size_t have = w->end - w->start;
    memmove(w->buf, w->buf + w->start, have);
    w->start = 0;
    w->end = have;
}

int cio_buf_writer_flush(cio_buf_writer *writer, size_t *ret_done)
{
    struct cio_buf_writer *w = writer;
    size_t done = 0;
    int rc = -EINVAL;
    if (w != NULL) {
        rc = 0;
        if (w->end > w->start) {
            rc = cio_stream_write_all(w->stream, w->buf + w->start, w->end - w->start, &done);
            advance(w, done);
        }
    }
    if (ret_done != NULL)
        *ret_done = done;
    return rc;
}

int cio_buf_writer_close(cio_buf_writer *writer)
{
    int rc = cio_buf_writer_flush(writer, NULL);
    cio_buf_writer_free(writer);
    return writer != NULL ? rc : 0;
}

/*
 * A write that does not fit the room. While the buffered bytes and the rest of @buf exceed
 * the capacity, both go out in one system call (sendmsg with two pieces; send when nothing is
 * buffered), waiting as needed; the rest, once it fits, is buffered — after a slide when a
 * partial send left room at the front.
 */
static cio__noinline int write_slow(struct cio_buf_writer *w, const char *buf, size_t len,
                                    size_t *ret_done)
{
    size_t done = 0;
    int rc = 0;
    for (;;) {
        size_t have = w->end - w->start;
        if (have + (len - done) <= w->cap) {
            slide(w);
            memcpy(w->buf + w->end, buf + done, len - done);
            w->end += len - done;
            done = len;
            break;
        }
        struct iovec iov[2] = {{w->buf + w->start, have}, {(void *)(buf + done), len - done}};
        ssize_t n = have > 0 ? cio_stream_writev(w->stream, iov, 2)
                             : cio_stream_write(w->stream, buf + done, len - done);
        if (n <= 0) {
            rc = n < 0 ? (int)n : -EIO; /* a stream send of a non-empty buffer takes some */
            break;
        }
        if ((size_t)n >= have) {
            w->start = w->end = 0;
            done += (size_t)n - have;
            if (done == len)
                break;
        } else {
            advance(w, (size_t)n);
        }
    }
    if (ret_done != NULL)
        *ret_done = done;
    return rc;
}

/* cio_buf_writer_write() for what the fast path does not take: bad arguments, an empty
 * write, bytes that do not fit the room. */
static cio__noinline int write_other(struct cio_buf_writer *w, const char *buf, size_t len,
                                     size_t *ret_done)
{
    if (w == NULL || (buf == NULL && len > 0)) {
        if (ret_done != NULL)
            *ret_done = 0;
        return -EINVAL;
    }
    if (len > w->cap - w->end)
        return write_slow(w, buf, len, ret_done);
    if (ret_done != NULL)
        *ret_done = 0; /* len is 0: nothing to copy (and @buf may be NULL) */
    return 0;
}

/* The hot path: a copy into the room. */
int cio_buf_writer_write(cio_buf_writer *writer, const void *buf, size_t len, size_t *ret_done)
{
    struct cio_buf_writer *w = writer;
    if (w == NULL || buf == NULL || len == 0 || len > w->cap - w->end)
        return write_other(w, buf, len, ret_done);
    char *to = w->buf + w->end;
    w->end += len;
    if (ret_done != NULL)
        *ret_done = len;
    memcpy(to, buf, len);
    return 0;
}

ssize_t cio_buf_writer_reserve(cio_buf_writer *writer, size_t min, char **ret_space)
{
    struct cio_buf_writer *w = writer;
    if (w == NULL)
        return -EINVAL;
    if (min > w->cap)
        return -EMSGSIZE;
    if (w->cap - w->end < min) {
        if (w->cap - (w->end - w->start) < min) {
            int rc = cio_buf_writer_flush(w, NULL);
            if (rc < 0)
                return rc;
        } else {
            slide(w);
        }
    }
    if (ret_space != NULL)
        *ret_space = w->buf + w->end;
    return (ssize_t)(w->cap - w->end);
}

int cio_buf_writer_commit(cio_buf_writer *writer, size_t len)
{
    if (writer == NULL || len > writer->cap - writer->end)
        return -EINVAL;
    writer->end += len;
    return 0;
}
