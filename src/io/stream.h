/*
 * stream.h: what the stream core's files share that is not public (private): the copy engine
 * with its flags, for tools and tests that must force the buffer path or keep a write side
 * open; and the loop of an exact read, for the stream and the buffered reader.
 */
#ifndef CIO_IO_STREAM_H
#define CIO_IO_STREAM_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "net/socket.h"

/* Flags of the copy engine. */
enum {
    CIO__COPY_NO_SPLICE = 1u << 0,   /* always copy through a user-space buffer */
    CIO__COPY_NO_SHUTDOWN = 1u << 1, /* leave the destination's write side open at the end */
};

/*
 * cio__stream_copy() - cio_stream_copy() with @flags: move bytes from @from to @to until
 * @from ends, then shut down @to's write side (unless CIO__COPY_NO_SHUTDOWN). *ret_bytes (may
 * be NULL) receives the bytes delivered to @to, written in every case.
 */
int cio__stream_copy(struct cio_socket *from, struct cio_socket *to, unsigned flags,
                     uint64_t *ret_bytes);

/* cio__stream_copy_bidirectional() - cio_stream_copy_bidirectional() with @flags. */
int cio__stream_copy_bidirectional(struct cio_socket *a, struct cio_socket *b, unsigned flags,
                                   uint64_t *ret_a_to_b, uint64_t *ret_b_to_a);

/* One read into @buf of at most @len (> 0) bytes from @from: bytes (> 0), 0 at end of stream,
 * or a negative errno. */
typedef ssize_t (*cio__read_fn)(void *from, void *buf, size_t len);

/*
 * cio__read_exact() - the loop of read_exact: @read_fn until @len bytes are in @buf, unless @rc
 * (the caller's argument checks) is already an error. Inline, so @read_fn is a direct call.
 * Return: 0; -ENODATA when the stream ended first (tokio's UnexpectedEof); @read_fn's error.
 * *ret_done (may be NULL) receives the bytes read, in every case.
 */
static inline int cio__read_exact(cio__read_fn read_fn, void *from, void *buf, size_t len, int rc,
                                  size_t *ret_done)
{
    size_t done = 0;
    while (rc == 0 && done < len) {
        ssize_t n = read_fn(from, (char *)buf + done, len - done);
        if (n < 0)
            rc = (int)n;
        else if (n == 0)
            rc = -ENODATA;
        else
            done += (size_t)n;
    }
    if (ret_done != NULL)
        *ret_done = done;
    return rc;
}

#endif /* CIO_IO_STREAM_H */
