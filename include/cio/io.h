/*
 * cio/io.h: readiness for the runtime — what a task waits on when a socket would block
 * (tokio's Ready, Interest, AsyncFd and the poll_*_ready functions).
 *
 * Every cio socket, and any descriptor wrapped in a cio_async_fd, registers with the reactor
 * of the calling task's worker the first time an operation has to wait. From then on cio
 * keeps a per-direction readiness cache: an operation that finds the socket ready costs one
 * system call and no reactor round trip; one that gets -EAGAIN clears the cached bit —
 * unless a newer edge arrived meanwhile (tokio's tick rule) — and waits for the next edge.
 * A read that returns fewer bytes than asked also clears read readiness (the socket is
 * drained), so a request/response exchange costs one recv and one send, like a hand-written
 * epoll loop.
 *
 * One reader task and one writer task may use a socket at the same time. A second task that
 * tries to wait in a direction another task already waits in gets -EBUSY (it does not queue).
 * Closing a socket while a task waits on it wakes that task with -EBADF; the descriptor number
 * is not reused while the waiter can still touch it.
 *
 * All waiting functions here must be called from a task (else -EPERM), and return
 * -ECANCELED / -ETIMEDOUT as described in cio/rt.h. They are cancel safe: a wait cut short
 * consumes nothing.
 */
#ifndef CIO_IO_H
#define CIO_IO_H

#include <stddef.h>
#include <sys/types.h>

#include "cio/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Readiness bits (a cio_ready set). */
enum {
    CIO_READY_READABLE = 1u << 0,
    CIO_READY_WRITABLE = 1u << 1,
    CIO_READY_READ_CLOSED = 1u << 2,
    CIO_READY_WRITE_CLOSED = 1u << 3,
    CIO_READY_ERROR = 1u << 4,
    CIO_READY_PRIORITY = 1u << 5,
};
/*
 * What satisfies an interest: CIO_READABLE (cio/poll.h) is satisfied by READABLE,
 * READ_CLOSED or ERROR; CIO_WRITABLE by WRITABLE, WRITE_CLOSED or ERROR; CIO_PRIORITY by
 * PRIORITY or ERROR.
 */

/* A wake callback for the poll_* functions (the C form of tokio's task Waker). Called on a
 * worker thread of the runtime, from its reactor, without locks held; keep it short (queue
 * work, wake a task). */
typedef void (*cio_wake_fn)(void *ctx);

/* An arbitrary descriptor made async (tokio's AsyncFd). */
typedef struct cio_async_fd cio_async_fd;

/**
 * cio_async_fd_new() - wrap a non-blocking descriptor so tasks can wait for its readiness.
 * @ret_afd: receives the wrapper (written only on success).
 * @fd: any descriptor epoll/poll(2) accepts (socket, pipe, eventfd, timerfd, tty...); it must
 *      be O_NONBLOCK (checked). The wrapper does not own it: cio_async_fd_free() leaves it
 *      open.
 *
 * Return: 0; -EINVAL (fd is blocking or negative); -EBADF; -ENOMEM.
 */
CIO_EXPORT int cio_async_fd_new(cio_async_fd **ret_afd, int fd);

/**
 * cio_async_fd_free() - deregister and free the wrapper (the descriptor stays open). Wakes a
 * task waiting on it with -EBADF. NULL is allowed.
 */
CIO_EXPORT void cio_async_fd_free(cio_async_fd *afd);

/** cio_async_fd_fd() - the wrapped descriptor. */
CIO_EXPORT int cio_async_fd_fd(const cio_async_fd *afd);

/**
 * cio_async_fd_ready() - wait until the descriptor is ready for any of @interest.
 * @interest: CIO_READABLE and/or CIO_WRITABLE and/or CIO_PRIORITY (cio/poll.h).
 *
 * Returns the readiness as cached; it may be stale (spurious): the caller's operation
 * decides. Clear it with cio_async_fd_clear_ready() when the operation says -EAGAIN.
 *
 * Return: a non-empty cio_ready set; -EINVAL; -EBUSY (another task waits in that
 * direction); -EBADF (freed while waiting); -ECANCELED; -ETIMEDOUT; -EPERM outside a task.
 */
CIO_EXPORT int cio_async_fd_ready(cio_async_fd *afd, unsigned interest);

/** cio_async_fd_readable() - cio_async_fd_ready(afd, CIO_READABLE). */
CIO_EXPORT int cio_async_fd_readable(cio_async_fd *afd);

/** cio_async_fd_writable() - cio_async_fd_ready(afd, CIO_WRITABLE). */
CIO_EXPORT int cio_async_fd_writable(cio_async_fd *afd);

/**
 * cio_async_fd_clear_ready() - forget readiness the caller found stale: the bits of @ready
 * (as returned by ready()) are cleared unless a newer event arrived since they were read.
 * Closed bits are never cleared.
 */
CIO_EXPORT void cio_async_fd_clear_ready(cio_async_fd *afd, int ready);

/**
 * cio_async_fd_poll_ready() - check readiness without waiting, for state machines.
 * @interest: CIO_READABLE or CIO_WRITABLE (one direction).
 * @wake, @ctx: when not ready, called once when the direction becomes ready; only the
 *              latest callback per direction is kept (a new one replaces the old). May be
 *              NULL to only check.
 *
 * Usable from a task or a plain thread of the runtime's process; the registration goes to
 * the calling task's worker (or, outside a task, must already exist).
 *
 * Return: the readiness set when ready; -EAGAIN when not (the callback is armed); -EINVAL;
 * -EBADF; -EPERM when the descriptor has no registration and the caller is not in a task.
 */
CIO_EXPORT int cio_async_fd_poll_ready(cio_async_fd *afd, unsigned interest, cio_wake_fn wake,
                                       void *ctx);

/* The caller's own I/O operation for try_io/async_io: returns >= 0, or a negative errno;
 * -EAGAIN means "would block". */
typedef ssize_t (*cio_io_fn)(void *ctx);

/**
 * cio_async_fd_try_io() - run @fn once under cio's readiness bookkeeping: if the cached
 * readiness for @interest is empty, return -EAGAIN without calling it; if @fn returns
 * -EAGAIN, clear the readiness (tick rule). Never waits.
 *
 * Return: @fn's result, or -EAGAIN.
 */
CIO_EXPORT ssize_t cio_async_fd_try_io(cio_async_fd *afd, unsigned interest, cio_io_fn fn,
                                       void *ctx);

/**
 * cio_async_fd_async_io() - run @fn until it does not return -EAGAIN, waiting for @interest
 * readiness between attempts (tokio's async_io).
 *
 * Cancel safe as long as @fn consumes nothing when it returns -EAGAIN.
 *
 * Return: @fn's result; -EBUSY; -EBADF; -ECANCELED; -ETIMEDOUT; -EPERM outside a task.
 */
CIO_EXPORT ssize_t cio_async_fd_async_io(cio_async_fd *afd, unsigned interest, cio_io_fn fn,
                                         void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* CIO_IO_H */
