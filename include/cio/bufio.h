/*
 * cio/bufio.h: buffered I/O — framing and batching over any stream (tokio's BufReader,
 * BufWriter and LinesCodec, Go's bufio): a reader that frames the input (lines, frames ended
 * by a delimiter byte, exact lengths) without copying it, and a writer that gathers small
 * writes into one system call.
 *
 * A reader or writer is made on a cio_tcp_stream, a cio_unix_stream, a cio_stream, or a
 * half of a split stream (a reader on a cio_read_half, a writer on a cio_write_half); the
 * compiler refuses anything else (the conversions of cio/socket.h). It borrows the stream:
 * free the reader or writer before closing the stream, and close the stream yourself.
 *
 * MEMORY. Each has one buffer, allocated when it is made, of the capacity asked for. A
 * reader's buffer grows — by doubling, up to its maximum frame size, never beyond — only when
 * one frame does not fit; a writer's never grows. No operation allocates otherwise.
 *
 * THE MAXIMUM FRAME SIZE of a reader bounds what it holds at once: a line, a delimited frame,
 * or the bytes fill() is asked to gather. A frame longer than that is -EMSGSIZE, reported as
 * soon as the buffer holds that many bytes without an end: the bytes stay buffered, nothing
 * is dropped or overrun, and the caller decides — take them with fill()/consume() or read(),
 * answer an error, or close.
 *
 * ZERO COPY. cio_buf_reader_fill(), cio_buf_reader_read_until() and cio_buf_reader_read_line()
 * hand out a pointer into the reader's buffer, valid until the next call on the reader (other
 * than cio_buf_reader_buffered() and cio_buf_reader_consume()); the caller may modify those
 * bytes, e.g. end a line with '\0'. cio_buf_writer_reserve() lends the free end of the
 * writer's buffer, so a message can be formatted in place.
 *
 * WAITING AND CANCELLATION. The calls that may have to read or write the stream must be made
 * from a task (else -EPERM) and follow cio/io.h: they suspend while the stream would block,
 * spend the task's budget, and return -ECANCELED or -ETIMEDOUT instead of waiting past a
 * cancellation or deadline. A call that the buffer alone satisfies (buffered input, room for
 * a write) makes no system call and does not check them. Cancel safety:
 *  - a reader call that returns an error consumed nothing: every byte read from the stream
 *    stays in the buffer for the next call, by this task or another (read_exact, which copies
 *    as it goes, reports the bytes it delivered in *ret_done);
 *  - a writer call that returns an error reports in *ret_done the caller's bytes it took
 *    (sent or buffered); the buffered bytes that could not be sent stay buffered, in order,
 *    ahead of anything written later — flush again, or free the writer to drop them.
 *
 * THREADS. A reader or writer is used by one task at a time (any worker). A reader and a
 * writer of one stream may be used by two tasks at once, as the stream may.
 *
 *     cio_buf_reader *in;
 *     cio_buf_writer *out;
 *     cio_buf_reader_new(&in, conn, 4096, 64 * 1024);  // lines up to 64 KiB
 *     cio_buf_writer_new(&out, conn, 4096);
 *     char *line, *rest;
 *     size_t len;
 *     while (cio_buf_reader_read_line(in, &line, &len) > 0) {
 *         cio_buf_writer_write(out, line, len, NULL);   // buffered: no system call
 *         cio_buf_writer_write(out, "\n", 1, NULL);
 *         size_t left = cio_buf_reader_buffered(in, &rest);
 *         if (memchr(rest, '\n', left) == NULL)         // no other whole line waiting:
 *             cio_buf_writer_flush(out, NULL);           // one send for the batch
 *     }
 *     cio_buf_writer_close(out);                          // flushes, then frees
 *     cio_buf_reader_free(in);
 */
#ifndef CIO_BUFIO_H
#define CIO_BUFIO_H

#include <stddef.h>
#include <sys/types.h>

#include "cio/common.h"
#include "cio/socket.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_buf_reader cio_buf_reader;
typedef struct cio_buf_writer cio_buf_writer;

/* The capacity a reader or writer gets when 0 is asked for. */
#define CIO_BUF_DEFAULT_CAPACITY 8192

/* ======================================================================================== */
/* Buffered reader                                                                          */
/* ======================================================================================== */

/**
 * cio_buf_reader_new() - make a buffered reader on @stream.
 * @ret_reader: receives the reader, written only on success.
 * @stream: the stream to read (borrowed: it must outlive the reader).
 * @capacity: the buffer's size in bytes; 0 for CIO_BUF_DEFAULT_CAPACITY.
 * @max_frame: the largest frame the reader holds, >= @capacity; the buffer grows up to it
 *             when a frame needs it. 0: @capacity (a fixed buffer).
 *
 * Usable from any thread; allocates the buffer now.
 *
 * Return: 0; -EINVAL (NULL, @max_frame below @capacity); -ENOMEM.
 */
CIO_EXPORT int cio_buf_reader_new(cio_buf_reader **ret_reader, cio_stream *stream, size_t capacity,
                                  size_t max_frame);

/**
 * cio_buf_reader_free() - free the reader and its buffer; buffered bytes are dropped. The
 * stream stays open. NULL is allowed. Not while a task uses the reader.
 */
CIO_EXPORT void cio_buf_reader_free(cio_buf_reader *reader);

/**
 * cio_buf_reader_buffered() - the bytes buffered now, without reading or waiting.
 * @ret_data: receives where they start (may be NULL); see ZERO COPY above.
 *
 * Return: the number of bytes buffered (0 also for a NULL reader).
 */
CIO_EXPORT size_t cio_buf_reader_buffered(const cio_buf_reader *reader, char **ret_data);

/**
 * cio_buf_reader_fill() - make at least @min bytes buffered, reading the stream as needed,
 * and lend them without consuming them (tokio's fill_buf, Go's Peek): the zero-copy way to
 * frame input — parse the bytes in place, then cio_buf_reader_consume() what was used.
 * @min: the bytes wanted, 1 to the maximum frame size (0 counts as 1). Asking for one more
 *       than is buffered waits for more input.
 * @ret_data: receives where the buffered bytes start, written when the result is > 0.
 *
 * Returns at once, without a system call, when @min bytes are buffered already; else reads
 * (once per readiness, as much as the buffer has room for) until they are. Cancel safe.
 *
 * Return: the bytes buffered (>= @min; all of them, not just @min); 0 at end of stream with
 * nothing buffered; -ENODATA when the stream ended with fewer than @min bytes buffered (they
 * stay buffered); -EMSGSIZE when @min exceeds the maximum frame size; -ENOMEM (the buffer
 * could not grow); the errors of cio_stream_read(); -EINVAL.
 */
CIO_EXPORT ssize_t cio_buf_reader_fill(cio_buf_reader *reader, size_t min, char **ret_data);

/**
 * cio_buf_reader_consume() - mark the first @len buffered bytes as used: the next call
 * starts after them. Never reads or waits; usable from any thread.
 *
 * Return: 0; -EINVAL (NULL, or @len more than is buffered: nothing is consumed).
 */
CIO_EXPORT int cio_buf_reader_consume(cio_buf_reader *reader, size_t len);

/**
 * cio_buf_reader_read() - copy up to @len bytes into @buf: buffered bytes if there are any,
 * else what one read of the stream brings. A read of at least the buffer's capacity into an
 * empty buffer goes straight into @buf (no copy). Cancel safe.
 *
 * Return: bytes copied (> 0); 0 at end of stream (and for @len 0); the errors of
 * cio_stream_read(); -EINVAL.
 */
CIO_EXPORT ssize_t cio_buf_reader_read(cio_buf_reader *reader, void *buf, size_t len);

/**
 * cio_buf_reader_read_exact() - copy exactly @len bytes into @buf, reading as needed; any
 * length (a long one bypasses the buffer). For a frame of known length that fits the maximum
 * frame size, cio_buf_reader_fill(reader, len, ...) lends it without a copy.
 * @ret_done: receives the bytes copied, in every case (may be NULL): @len on success, else
 *            the progress made — they are consumed; the rest stays buffered or unread.
 *
 * Return: 0; -ENODATA when the stream ended first; the errors of cio_stream_read(); -EINVAL.
 */
CIO_EXPORT int cio_buf_reader_read_exact(cio_buf_reader *reader, void *buf, size_t len,
                                         size_t *ret_done);

/**
 * cio_buf_reader_read_until() - the next frame ended by the byte @delim, consumed and lent
 * in place (Go's ReadSlice).
 * @delim: the delimiter, 0 to 255.
 * @ret_frame: receives where the frame starts (its last byte is @delim), written when the
 *             result is > 0; see ZERO COPY above.
 *
 * Scans each byte once, however many reads the frame spans. Cancel safe: on any error
 * nothing is consumed.
 *
 * Return: the frame's length including @delim (> 0); 0 at end of stream with nothing
 * buffered; -ENODATA when the stream ended in the middle of a frame (its bytes stay
 * buffered: cio_buf_reader_buffered() shows them); -EMSGSIZE when the maximum frame size was
 * reached without @delim (those bytes stay buffered); -ENOMEM; the errors of
 * cio_stream_read(); -EINVAL.
 */
CIO_EXPORT ssize_t cio_buf_reader_read_until(cio_buf_reader *reader, int delim, char **ret_frame);

/**
 * cio_buf_reader_read_line() - the next line, ended by "\n" or "\r\n" (tokio's LinesCodec):
 * cio_buf_reader_read_until(reader, '\n', ...) with the terminator left out of the length.
 * @ret_line: receives where the line starts, @ret_len its length without the terminator;
 *            both written when the result is > 0. ret_line[*ret_len] is the terminator's
 *            first byte: overwrite it with '\0' to use the line as a C string.
 *
 * Return: the bytes consumed, terminator included (> 0, also for an empty line); otherwise
 * as cio_buf_reader_read_until(): 0, -ENODATA (a last line without "\n"), -EMSGSIZE...
 */
CIO_EXPORT ssize_t cio_buf_reader_read_line(cio_buf_reader *reader, char **ret_line,
                                            size_t *ret_len);

/* ======================================================================================== */
/* Buffered writer                                                                          */
/* ======================================================================================== */

/**
 * cio_buf_writer_new() - make a buffered writer on @stream.
 * @ret_writer: receives the writer, written only on success.
 * @stream: the stream to write (borrowed: it must outlive the writer).
 * @capacity: the buffer's size in bytes (fixed); 0 for CIO_BUF_DEFAULT_CAPACITY.
 *
 * Usable from any thread; allocates the buffer now.
 *
 * Return: 0; -EINVAL (NULL); -ENOMEM.
 */
CIO_EXPORT int cio_buf_writer_new(cio_buf_writer **ret_writer, cio_stream *stream, size_t capacity);

/**
 * cio_buf_writer_free() - free the writer and its buffer; bytes not flushed are dropped. The
 * stream stays open. NULL is allowed. Usable from any thread, not while a task uses it.
 */
CIO_EXPORT void cio_buf_writer_free(cio_buf_writer *writer);

/**
 * cio_buf_writer_close() - flush, then free the writer, whatever the flush returned (the
 * stream stays open). To keep unsent bytes when the flush fails, call
 * cio_buf_writer_flush() first. NULL is allowed (returns 0).
 *
 * Return: 0; an error of cio_buf_writer_flush() (the unsent bytes are dropped).
 */
CIO_EXPORT int cio_buf_writer_close(cio_buf_writer *writer);

/**
 * cio_buf_writer_write() - write all @len bytes through the buffer.
 * @ret_done: receives the bytes of @buf taken — sent or buffered — in every case (may be
 *            NULL): @len on success, else the progress made; resume with @buf + *ret_done.
 *
 * Bytes that fit in the buffer's free room are copied there: no system call. Otherwise the
 * buffered bytes and @buf go out together, in one vectored system call when the stream takes
 * them all (what is left of @buf is buffered if it fits, else sent too, waiting as needed).
 *
 * Return: 0; the errors of cio_stream_write() (-EPIPE, -ECONNRESET, -ECANCELED, -ETIMEDOUT...:
 * see CANCEL SAFETY above); -EINVAL.
 */
CIO_EXPORT int cio_buf_writer_write(cio_buf_writer *writer, const void *buf, size_t len,
                                    size_t *ret_done);

/**
 * cio_buf_writer_reserve() - lend at least @min bytes of free room at the end of the buffer,
 * to write into in place; cio_buf_writer_commit() then adds what was written. Flushes first
 * (waiting as needed) when the room is short.
 * @min: the bytes needed, at most the capacity; 0 lends whatever room there is, without a
 *       system call.
 * @ret_space: receives where the room starts, written on success.
 *
 * Return: the room lent (>= @min); -EMSGSIZE when @min exceeds the capacity; the errors of
 * cio_buf_writer_flush() (nothing lent); -EINVAL.
 */
CIO_EXPORT ssize_t cio_buf_writer_reserve(cio_buf_writer *writer, size_t min, char **ret_space);

/**
 * cio_buf_writer_commit() - add the first @len bytes of the room cio_buf_writer_reserve()
 * lent to the buffered bytes. Never writes or waits.
 *
 * Return: 0; -EINVAL (NULL, or @len beyond the free room).
 */
CIO_EXPORT int cio_buf_writer_commit(cio_buf_writer *writer, size_t len);

/**
 * cio_buf_writer_flush() - send every buffered byte, waiting as needed. With nothing
 * buffered, returns 0 at once.
 * @ret_done: receives the bytes this call sent, in every case (may be NULL).
 *
 * A flush cut short (error, deadline, cancellation) keeps what it could not send buffered,
 * in order: flush again to go on.
 *
 * Return: 0; the errors of cio_stream_write(); -EINVAL.
 */
CIO_EXPORT int cio_buf_writer_flush(cio_buf_writer *writer, size_t *ret_done);

/**
 * cio_buf_writer_buffered() - the bytes waiting in the buffer to be sent (0 for NULL).
 */
CIO_EXPORT size_t cio_buf_writer_buffered(const cio_buf_writer *writer);

#ifndef CIO_NO_GENERIC
#define cio_buf_reader_new(r, s, c, m) (cio_buf_reader_new)(r, cio__as_reader(s), c, m)
#define cio_buf_writer_new(w, s, c) (cio_buf_writer_new)(w, cio__as_writer(s), c)
#endif

#ifdef __cplusplus
}
#endif

#endif /* CIO_BUFIO_H */
