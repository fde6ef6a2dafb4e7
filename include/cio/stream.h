/*
 * cio/stream.h: the stream core — every byte-stream operation, written once for TCP and Unix
 * streams (libuv's uv_stream_t, tokio's AsyncRead/AsyncWrite): non-blocking try_* calls for a
 * program's own poll loop, suspending calls for tasks (read/write, exact and all, vectored,
 * peek), owned halves, and copying between any two streams. Buffered reading (lines, frames)
 * and writing (batching) over any of them: cio/bufio.h.
 *
 * Every function takes a cio_tcp_stream, a cio_unix_stream or a cio_stream (see the
 * conversions in cio/socket.h); reading functions also take a cio_read_half, writing
 * functions a cio_write_half. The compiler refuses anything else.
 *
 * The try_* functions never wait and work without a runtime: call them after each readiness
 * event until -EAGAIN. On a socket registered with a runtime, a try_* that sees -EAGAIN
 * clears that direction's cached readiness (tick rule, cio/io.h), so tokio's
 * "readable(), then try_read() until -EAGAIN" loop waits instead of spinning.
 *
 * The suspending functions must be called from a task (else -EPERM); their waiting,
 * cancellation, deadline and budget behaviour, and the meaning of "cancel safe", are stated
 * once in cio/io.h. A zero length (or an all-empty iovec) returns 0 at once, without a system
 * call and without waiting. Writes never raise SIGPIPE (MSG_NOSIGNAL): a dead connection is
 * -EPIPE.
 */
#ifndef CIO_STREAM_H
#define CIO_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "cio/socket.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================================== */
/* Without waiting                                                                          */
/* ======================================================================================== */

/**
 * cio_stream_try_read() - read what has arrived, without waiting.
 * @buf: where to store it; @len: its size.
 *
 * Return: bytes read (> 0); 0 at end of stream (the peer shut down writing) — or when @len
 * is 0, which is never end of stream; -EAGAIN when nothing has arrived; a connection error
 * (-ECONNRESET, -ETIMEDOUT, a failed connect's -ECONNREFUSED); -EINVAL; -EBADF.
 */
CIO_EXPORT ssize_t cio_stream_try_read(cio_stream *stream, void *buf, size_t len);

/**
 * cio_stream_try_readv() - cio_stream_try_read() scattering into several buffers (recvmsg).
 * @iov: the buffers; @iovcnt: how many, 0 to IOV_MAX.
 *
 * Return: as cio_stream_try_read(); -EINVAL for a bad iovec array.
 */
CIO_EXPORT ssize_t cio_stream_try_readv(cio_stream *stream, const struct iovec *iov, int iovcnt);

/**
 * cio_stream_try_peek() - copy what has arrived without consuming it (MSG_PEEK).
 * Return: as cio_stream_try_read(); the next read returns the same bytes.
 */
CIO_EXPORT ssize_t cio_stream_try_peek(cio_stream *stream, void *buf, size_t len);

/**
 * cio_stream_try_write() - queue bytes for sending, without waiting.
 *
 * May take fewer bytes than offered (the send buffer filled up): the caller keeps the rest
 * for after the next writable event.
 *
 * Return: bytes taken (> 0); 0 when @len is 0; -EAGAIN when the send buffer is full; -EPIPE
 * when this side shut down writing or the connection is gone; -ECONNRESET; -EINVAL; -EBADF.
 */
CIO_EXPORT ssize_t cio_stream_try_write(cio_stream *stream, const void *buf, size_t len);

/**
 * cio_stream_try_writev() - cio_stream_try_write() gathering from several buffers.
 * Return: as cio_stream_try_write(); -EINVAL for a bad iovec array.
 */
CIO_EXPORT ssize_t cio_stream_try_writev(cio_stream *stream, const struct iovec *iov, int iovcnt);

/* ======================================================================================== */
/* Reading (tasks)                                                                          */
/* ======================================================================================== */

/**
 * cio_stream_read() - wait until bytes have arrived (or the stream ended) and read them.
 *
 * Returns as soon as at least one byte is read. A read shorter than @len marks the socket
 * drained, so the next read waits for an edge instead of trying the system call: a
 * request/response costs one recv and one send. Cancel safe.
 *
 * Return: bytes read (> 0); 0 at end of stream (and for @len 0); -ECONNRESET and other
 * connection errors; -EBADF (closed while waiting); -ECANCELED; -ETIMEDOUT; -EINVAL; -EPERM.
 */
CIO_EXPORT ssize_t cio_stream_read(cio_stream *stream, void *buf, size_t len);

/**
 * cio_stream_read_exact() - read exactly @len bytes, waiting as needed.
 * @ret_done: receives the bytes read into @buf, in every case (may be NULL): @len on success,
 *            the progress made when an error, the deadline or a cancellation cut it short.
 *
 * Not cancel safe as a whole, but nothing is lost: the first *ret_done bytes of @buf are the
 * stream's next bytes; resume with @buf + *ret_done.
 *
 * Return: 0 when all @len bytes were read; -ENODATA when the stream ended before @len bytes
 * came (tokio's UnexpectedEof; *ret_done says how many did); the errors of cio_stream_read().
 */
CIO_EXPORT int cio_stream_read_exact(cio_stream *stream, void *buf, size_t len, size_t *ret_done);

/**
 * cio_stream_readv() - cio_stream_read() scattering into several buffers (recvmsg).
 * Return: as cio_stream_read(); -EINVAL for a bad iovec array. Cancel safe.
 */
CIO_EXPORT ssize_t cio_stream_readv(cio_stream *stream, const struct iovec *iov, int iovcnt);

/**
 * cio_stream_peek() - wait until bytes have arrived and copy them without consuming them.
 * Return: as cio_stream_read(). Cancel safe.
 */
CIO_EXPORT ssize_t cio_stream_peek(cio_stream *stream, void *buf, size_t len);

/**
 * cio_stream_poll_peek() - peek at what has arrived, or arm @wake (cio_socket_poll_ready())
 * for when bytes come; never waits.
 *
 * Return: bytes copied (> 0); 0 at end of stream (or @len 0); -EAGAIN (armed); connection
 * errors; -EBADF; -EINVAL; -EPERM (unregistered, outside a task).
 */
CIO_EXPORT ssize_t cio_stream_poll_peek(cio_stream *stream, void *buf, size_t len, cio_wake_fn wake,
                                        void *ctx);

/* ======================================================================================== */
/* Writing (tasks)                                                                          */
/* ======================================================================================== */

/**
 * cio_stream_write() - wait until the stream can take bytes and queue what it takes.
 *
 * Returns as soon as at least one byte was taken (possibly fewer than @len). A -ECANCELED or
 * -ETIMEDOUT write took nothing.
 *
 * Return: bytes taken (> 0); 0 for @len 0; -EPIPE (this side shut down writing, or the
 * connection is gone); -ECONNRESET; -EBADF; -ECANCELED; -ETIMEDOUT; -EINVAL; -EPERM.
 */
CIO_EXPORT ssize_t cio_stream_write(cio_stream *stream, const void *buf, size_t len);

/**
 * cio_stream_write_all() - write all @len bytes, waiting as needed.
 * @ret_done: receives the bytes taken, in every case (may be NULL): @len on success, the
 *            progress made when it was cut short — resume with @buf + *ret_done.
 *
 * Return: 0; the errors of cio_stream_write().
 */
CIO_EXPORT int cio_stream_write_all(cio_stream *stream, const void *buf, size_t len,
                                    size_t *ret_done);

/**
 * cio_stream_writev() - cio_stream_write() gathering from several buffers (sendmsg).
 * Return: as cio_stream_write(); -EINVAL for a bad iovec array.
 */
CIO_EXPORT ssize_t cio_stream_writev(cio_stream *stream, const struct iovec *iov, int iovcnt);

/**
 * cio_stream_writev_all() - write every byte of @iov, waiting as needed. @iov is not
 * modified.
 * @ret_done: the bytes taken, in every case (may be NULL), counted across the buffers.
 *
 * Return: 0; the errors of cio_stream_writev().
 */
CIO_EXPORT int cio_stream_writev_all(cio_stream *stream, const struct iovec *iov, int iovcnt,
                                     size_t *ret_done);

/* ======================================================================================== */
/* Owned halves                                                                             */
/* ======================================================================================== */

/*
 * Owned halves (tokio's into_split): a read half and a write half of one stream, each handed
 * to its own task — on any worker — and closed on its own. Closing the write half shuts down
 * the write direction (the peer reads end of stream) unless cio_write_half_forget() came
 * first; the socket is closed when both halves are. The halves are views of the stream, not
 * copies: nothing is allocated, and the stream pointer stays valid while either half is open,
 * for what only its kind has (options such as cio_tcp_set_nodelay()). Do not close the stream
 * itself while it is split. A borrowed split (tokio's split) needs no call in C: one reader
 * task and one writer task may share the stream pointer itself.
 */

/**
 * cio_stream_into_split() - split @stream into its two owned halves.
 * Return: 0; -EINVAL (NULL, or already split).
 */
CIO_EXPORT int cio_stream_into_split(cio_stream *stream, cio_read_half **ret_rd,
                                     cio_write_half **ret_wr);

/**
 * cio_read_half_close() - release the read half; the socket is closed if the write half is
 * closed too. NULL is allowed. Any thread; not while a task uses the half.
 */
CIO_EXPORT void cio_read_half_close(cio_read_half *rd);

/**
 * cio_write_half_close() - shut down the write side (unless forgotten; a failure of that
 * shutdown, say the connection is already gone, is ignored) and release the write half; the
 * socket is closed if the read half is closed too. NULL is allowed.
 */
CIO_EXPORT void cio_write_half_close(cio_write_half *wr);

/**
 * cio_write_half_forget() - make the coming cio_write_half_close() leave the write direction
 * open (tokio's OwnedWriteHalf::forget). NULL is allowed.
 */
CIO_EXPORT void cio_write_half_forget(cio_write_half *wr);

/**
 * cio_stream_reunite() - put two halves back together (tokio's reunite).
 * @rd, @wr: consumed on success; on failure both stay the caller's.
 * @ret_stream: receives the stream, with its registration and readiness as they were.
 *
 * Return: 0; -EINVAL when the halves come from different streams (or NULL, or a half was
 * closed).
 */
CIO_EXPORT int cio_stream_reunite(cio_read_half *rd, cio_write_half *wr, cio_stream **ret_stream);

/* ======================================================================================== */
/* Copying between any two streams                                                          */
/* ======================================================================================== */

/**
 * cio_stream_copy() - move every byte from @from to @to until @from ends, then shut down
 * @to's write side (tokio's io::copy followed by shutdown). Any two streams: TCP to Unix and
 * back included.
 * @ret_bytes: receives the bytes delivered to @to, in every case (may be NULL).
 *
 * On Linux the bytes move through a pipe with splice(2), never copied to user space; when
 * that is not possible a 64 KiB buffer is used. The calling task is @from's reader and
 * @to's writer. Bytes taken from @from but not yet delivered when an error, the deadline or
 * a cancellation stops the copy are lost (at most one pipe or buffer load).
 *
 * Return: 0 when @from ended and everything was delivered; -EPIPE/-ECONNRESET... from either
 * stream; -EBADF; -ECANCELED; -ETIMEDOUT; -EINVAL; -EPERM.
 */
CIO_EXPORT int cio_stream_copy(cio_stream *from, cio_stream *to, uint64_t *ret_bytes);

/**
 * cio_stream_copy_bidirectional() - relay both directions between @a and @b until both have
 * ended (tokio's copy_bidirectional).
 * @ret_a_to_b, @ret_b_to_a: the bytes delivered each way, in every case (may be NULL).
 *
 * Each direction runs as cio_stream_copy() in a helper task on the caller's worker; the
 * caller waits for both. Half-close is carried across. When one direction fails the other is
 * stopped at once and the error returned; when the caller is cancelled both are stopped
 * before this returns. The streams must not be used by other tasks meanwhile.
 *
 * Return: 0 when both directions ended cleanly; the first direction's error; -ECANCELED;
 * -ETIMEDOUT; -ENOMEM; -EINVAL (also for @a == @b); -EPERM outside a task.
 */
CIO_EXPORT int cio_stream_copy_bidirectional(cio_stream *a, cio_stream *b, uint64_t *ret_a_to_b,
                                             uint64_t *ret_b_to_a);

#ifndef CIO_NO_GENERIC
#define cio_stream_try_read(s, b, n) (cio_stream_try_read)(cio__as_reader(s), b, n)
#define cio_stream_try_readv(s, v, n) (cio_stream_try_readv)(cio__as_reader(s), v, n)
#define cio_stream_try_peek(s, b, n) (cio_stream_try_peek)(cio__as_reader(s), b, n)
#define cio_stream_try_write(s, b, n) (cio_stream_try_write)(cio__as_writer(s), b, n)
#define cio_stream_try_writev(s, v, n) (cio_stream_try_writev)(cio__as_writer(s), v, n)
#define cio_stream_read(s, b, n) (cio_stream_read)(cio__as_reader(s), b, n)
#define cio_stream_read_exact(s, b, n, d) (cio_stream_read_exact)(cio__as_reader(s), b, n, d)
#define cio_stream_readv(s, v, n) (cio_stream_readv)(cio__as_reader(s), v, n)
#define cio_stream_peek(s, b, n) (cio_stream_peek)(cio__as_reader(s), b, n)
#define cio_stream_poll_peek(s, b, n, w, c) (cio_stream_poll_peek)(cio__as_reader(s), b, n, w, c)
#define cio_stream_write(s, b, n) (cio_stream_write)(cio__as_writer(s), b, n)
#define cio_stream_write_all(s, b, n, d) (cio_stream_write_all)(cio__as_writer(s), b, n, d)
#define cio_stream_writev(s, v, n) (cio_stream_writev)(cio__as_writer(s), v, n)
#define cio_stream_writev_all(s, v, n, d) (cio_stream_writev_all)(cio__as_writer(s), v, n, d)
#define cio_stream_into_split(s, r, w) (cio_stream_into_split)(cio__as_stream(s), r, w)
#define cio_stream_copy(f, t, n) (cio_stream_copy)(cio__as_reader(f), cio__as_writer(t), n)
#define cio_stream_copy_bidirectional(a, b, x, y)                                                  \
    (cio_stream_copy_bidirectional)(cio__as_stream(a), cio__as_stream(b), x, y)
#endif

#ifdef __cplusplus
}
#endif

#endif /* CIO_STREAM_H */
