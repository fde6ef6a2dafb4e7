/*
 * cio/net.h: what every cio socket kind (TCP, UDP, Unix stream and datagram) shares — the
 * rules of the non-blocking layer, the shutdown directions, the linger and backlog constants,
 * and zero-copy splicing between descriptors.
 *
 * The non-blocking layer (mio's net) works with no runtime at all:
 *  - Every descriptor cio creates or accepts is O_NONBLOCK and close-on-exec from the moment
 *    it exists (SOCK_NONBLOCK | SOCK_CLOEXEC, accept4); no other thread's fork+exec can
 *    inherit it.
 *  - No write raises SIGPIPE: send, sendmsg (vectored writes) and sendto use MSG_NOSIGNAL;
 *    sendfile and splice, which have no such flag, suppress the signal the kernel raises for
 *    them (see cio_splice_try()). A write to a closed connection returns -EPIPE; SIGPIPE's
 *    disposition is never touched.
 *  - try_* calls never wait. They return a byte count, 0 at end of stream (a stream peer
 *    shut down its write side), or a negative errno: -EAGAIN when the call would block. On
 *    a stream socket a try_* call with a zero length returns 0 without a system call; that
 *    0 is not end of stream, and nothing in cio (read-exact loops, the runtime) ever takes
 *    it for one. On datagram sockets an empty datagram is real: a zero-length send sends
 *    one and a zero-length receive consumes one.
 *  - Readiness: register cio_X_fd(x) with a cio_poll. Events are edge-triggered; after an
 *    event, call the try_* function until it returns -EAGAIN before waiting again.
 *  - cio_X_from_fd(fd) adopts a socket the program made elsewhere: it checks the descriptor
 *    is a socket of the right kind (-ENOTSOCK, -EAFNOSUPPORT, -EPROTOTYPE, -EINVAL
 *    otherwise, and then the caller still owns it, unchanged), and switches it to
 *    non-blocking and close-on-exec (a blocking descriptor would make try_* calls wait).
 *    cio_X_into_fd(x) hands the descriptor back, still non-blocking and close-on-exec, and
 *    frees x without closing the descriptor.
 *  - cio_X_close(x) closes the descriptor and frees x; NULL is allowed. A handle is used by
 *    one thread at a time unless a function says otherwise; distinct handles are
 *    independent.
 */
#ifndef CIO_NET_H
#define CIO_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "cio/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Directions for cio_X_shutdown(). BOTH is READ | WRITE. */
typedef enum cio_shutdown {
    CIO_SHUTDOWN_READ = 1,  /* stop reading: per kind, see cio_socket_shutdown() */
    CIO_SHUTDOWN_WRITE = 2, /* send FIN after queued data: the peer reads end of stream */
    CIO_SHUTDOWN_BOTH = 3,
} cio_shutdown;

/* The linger value meaning "off" (close returns at once; queued data is sent in the
 * background). A linger of 0 seconds means: close aborts the connection with a reset. */
#define CIO_LINGER_OFF (-1)

/*
 * Listen backlogs. Every listener constructor takes one: the number of connections the kernel
 * holds ready for accept. A negative backlog means CIO_LISTEN_BACKLOG_DEFAULT (tokio's
 * default); any other value goes to listen(2) as it is, 0 included, and the kernel caps it at
 * net.core.somaxconn. Linux queues one connection more than the backlog: a listener with
 * backlog 0 holds one connection that was not accepted yet, backlog 1 holds two. Beyond that,
 * a TCP client's SYN is dropped (its connect stays pending and is retried by the kernel until
 * the queue has room or the connect times out) and a Unix stream connect fails with -EAGAIN.
 */
#define CIO_LISTEN_BACKLOG_DEFAULT 1024

/*
 * Zero-copy splicing. Linux splice(2) moves data between two descriptors without copying
 * it through user space, but one end of each splice must be a pipe: moving socket-to-socket
 * takes two splices through a pipe in the middle. A cio_splice_pipe is that pipe (made
 * non-blocking and close-on-exec), together with the count of bytes sitting in it, which is
 * what a caller needs to know which side to wait for.
 *
 * A relay from in_fd to out_fd, driven by a cio_poll:
 *
 *     for (;;) {
 *         ssize_t n = cio_splice_try(pipe, in_fd, NULL, out_fd, NULL, 1 << 20);
 *         if (n > 0) continue;                      // moved n bytes; keep going
 *         if (n == 0) break;                        // in_fd ended and the pipe is empty
 *         if (n != -EAGAIN) fail(n);
 *         if (cio_splice_pipe_pending(pipe) > 0)    // data waits for out_fd
 *             wait until out_fd is writable;
 *         else                                      // nothing to move yet
 *             wait until in_fd is readable;
 *     }
 */
typedef struct cio_splice_pipe cio_splice_pipe;

/**
 * cio_splice_pipe_new() - create the pipe for cio_splice_try().
 * @ret_pipe: receives the pipe (written only on success).
 * @capacity: the pipe's size in bytes (rounded up by the kernel to a power of two pages),
 *            or 0 for the kernel's default (64 KiB). Larger pipes mean fewer system calls
 *            per megabyte.
 *
 * Uses two descriptors. Thread safety: one thread at a time per pipe.
 *
 * Return: 0; -EINVAL; -ENOMEM; -EMFILE/-ENFILE; -EPERM when @capacity exceeds
 * /proc/sys/fs/pipe-max-size for an unprivileged process.
 */
CIO_EXPORT int cio_splice_pipe_new(cio_splice_pipe **ret_pipe, size_t capacity);

/**
 * cio_splice_pipe_free() - close the pipe, dropping any bytes still in it (NULL is allowed).
 */
CIO_EXPORT void cio_splice_pipe_free(cio_splice_pipe *pipe);

/**
 * cio_splice_pipe_pending() - bytes taken from an input that have not reached an output yet
 * (0 for NULL).
 */
CIO_EXPORT size_t cio_splice_pipe_pending(const cio_splice_pipe *pipe);

/**
 * cio_splice_pipe_capacity() - the pipe's capacity in bytes, as the kernel reports it
 * (0 for NULL).
 */
CIO_EXPORT size_t cio_splice_pipe_capacity(const cio_splice_pipe *pipe);

/**
 * cio_splice_try() - move bytes from @in_fd to @out_fd through @pipe, without copying them
 * to user space and without waiting.
 * @pipe: the pipe; keeps bytes that were taken from @in_fd but not yet accepted by @out_fd.
 * @in_fd: a socket, pipe or file to read from.
 * @in_offset: for a file, the offset to read at (advanced by what was read); NULL to use and
 *             advance the file position. Must be NULL for sockets and pipes.
 * @out_fd: a socket, pipe or file to write to.
 * @out_offset: as @in_offset, for @out_fd.
 * @max: the most bytes to take from @in_fd in this call.
 *
 * One call first delivers what the pipe holds; if the pipe is then empty it takes up to @max
 * bytes (at most the pipe's capacity) from @in_fd and delivers what it can of them. Bytes
 * are never lost: what @out_fd does not take stays pending for the next call.
 *
 * Would-block: when no byte could reach @out_fd, returns -EAGAIN; then
 * cio_splice_pipe_pending() > 0 means wait for @out_fd to be writable, 0 means wait for
 * @in_fd to be readable. Writing to a socket whose peer is gone returns -EPIPE without
 * SIGPIPE: splice has no MSG_NOSIGNAL, so cio blocks SIGPIPE in the calling thread around
 * the call and consumes the one the kernel raised (a SIGPIPE another process sends to this
 * thread at that very moment can be consumed with it).
 *
 * Return: bytes delivered to @out_fd (> 0); 0 when @in_fd is at end of stream and nothing
 * is pending, or when @max is 0; -EAGAIN; -EINVAL for NULL @pipe or a descriptor splice
 * cannot use; -EPIPE, -ECONNRESET and other errors of the two descriptors.
 */
CIO_EXPORT ssize_t cio_splice_try(cio_splice_pipe *pipe, int in_fd, int64_t *in_offset, int out_fd,
                                  int64_t *out_offset, size_t max);

#ifdef __cplusplus
}
#endif

#endif /* CIO_NET_H */
