/*
 * stream.h: what the stream core's files share that is not public (private): the copy engine
 * with its flags, for tools and tests that must force the buffer path or keep a write side
 * open.
 */
#ifndef CIO_IO_STREAM_H
#define CIO_IO_STREAM_H

#include <stdint.h>

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

#endif /* CIO_IO_STREAM_H */
