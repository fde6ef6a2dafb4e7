/*
 * cio/io.h: the async I/O model, stated once — how a task waits for a socket, what
 * readiness is, what "cancel safe" means — plus the readiness bits, the wake callback of the
 * poll_* functions, and cio_async_fd (tokio's AsyncFd) for descriptors cio did not create.
 * The functions that apply these rules are the socket core's (cio/socket.h), the stream
 * core's (cio/stream.h), the datagram core's (cio/dgram.h) and each kind's accept/connect.
 *
 * REGISTRATION. A socket (or cio_async_fd) registers with the reactor of the calling task's
 * worker the first time one of its operations has to wait, and stays registered until it is
 * closed. Closing it while tasks wait on it wakes them with -EBADF; the descriptor number is
 * not reused while a waiter can still touch it.
 *
 * READINESS (tokio's rules). Readiness is edge-triggered and cached per direction (read,
 * write, priority) with a tick that counts events. An operation that finds the direction
 * ready makes its system call at once: a ready socket costs one system call per operation
 * and no reactor round trip. Any operation — suspending or try_* — that sees -EAGAIN clears
 * that direction's cached bit unless a newer edge arrived meanwhile (the tick moved), so no
 * wake-up is lost and no loop spins. A stream read that returns fewer bytes than asked also
 * clears read readiness (the socket is drained). cio_socket_ready() returns a value that
 * carries the tick, and cio_socket_clear_ready() clears with it, so a stale clear — from any
 * task on any worker — never erases a newer edge. Spurious readiness happens (the next
 * operation says -EAGAIN); readiness never goes missing.
 *
 * WAITERS. Any number of tasks may wait on one socket in one direction (ready, readable,
 * writable, read, accept...): an edge wakes them all and each retries its operation; on a
 * listener each connection goes to one acceptor and none is left waiting while connections
 * are queued. One reader task and one writer task may use a stream at the same moment, on
 * any workers (that is what split halves rely on).
 *
 * BUDGET. Every operation and every readiness wait spends one unit of the task's cooperative
 * budget (cio/rt.h); when it runs out the task yields before going on, so a task whose socket
 * is always ready — or that loops on ready() and a try_* — cannot starve the others on its
 * worker.
 *
 * CANCELLATION AND DEADLINES (the model: CANCELLATION in cio/rt.h). Every operation returns
 * -ECANCELED once its task's cancellation has reached it — even one that could complete at
 * once: it consumes nothing (below) — and -ETIMEDOUT when the task's deadline passes, never
 * waiting past them. A cancelled operation yields before it returns, so cleanup that keeps
 * calling it lets the worker's other tasks run. Inside a cancel shield
 * (cio_cancel_shield_begin) operations work as usual up to the shield's deadline: cleanup may
 * still flush a reply or wait for the peer. Call them from a task, else -EPERM.
 *
 * CANCEL SAFETY. A read, readv, peek, receive, accept or readiness wait that returns an error
 * (-ECANCELED, -ETIMEDOUT or any other) consumed nothing: call it again and no byte, datagram
 * or connection is lost. A write, writev or send that returns an error wrote nothing.
 * read_exact, write_all and writev_all may be cut after part of the transfer: they report the
 * bytes moved in *ret_done (written in every case, unlike other ret_ parameters) so the
 * caller can resume. The copy functions report the bytes delivered; bytes inside the copy (in
 * its pipe or buffer) when it is cut short are lost. Connect leaves no socket behind when it
 * fails.
 *
 * ON IO_URING (CIO_BACKEND=uring, cio/poll.h). A runtime whose workers run io_uring moves a
 * TCP stream's bytes by completions instead of readiness: reads come from a multishot receive
 * into the ring's own buffers (a connection waiting for data holds none of its own), writes
 * are send requests, a listener accepts through a multishot accept; one io_uring_enter per
 * scheduler turn submits and reaps them all. A small write (up to ~8 KiB, from a task on the
 * stream's own worker) is copied into a buffer of the ring and reports its full count at once,
 * as send(2) does once the bytes are in the socket's buffer; its bytes leave with the worker's
 * next turn (a task that blocks its thread holds them back). One such send is in flight per
 * stream, and a write waits for it; if it fails, every later write fails with its error (as
 * writes to a reset socket do); a shutdown of the write direction goes after it, and a close
 * lets it finish. Freeing the runtime cancels one still waiting for room in the socket.
 * Larger writes are send requests the task waits for. The promises above hold as they are,
 * on a completion API where the kernel may be completing a request at the very moment it is
 * cancelled:
 *   - a read cancelled or timed out takes nothing: the kernel writes only into the ring's
 *     buffers, never into the caller's, and what it received is kept, in order, for the
 *     stream's next read (or try_read, from any thread; even after the runtime is freed);
 *   - a write cut while it waits for the buffered send before it takes nothing; one cut while
 *     its own request is in flight asks the kernel to cancel and waits for its answer before
 *     returning: the count reported is exactly what the kernel took (a positive count even
 *     when cut: the next call reports the cancellation), and the caller's buffer is never
 *     read after the call returns;
 *   - a connection accepted for an accept that was cancelled waits for the next accept.
 * Readiness keeps working (ready, poll_ready, try_io, by poll requests), so mixed code runs;
 * but once a read of cio's has started the ring's receive on a TCP stream, its bytes arrive in
 * cio's buffers, where cio's reads and try_reads find them and a caller's own recv(2) in
 * try_io does not. cio_socket_into_fd() drops what the ring had received and no read took:
 * read it first. Unix streams (descriptor passing) and datagram sockets stay on readiness.
 * A worker busy with many sockets lets its wait gather several completions (up to 32, none
 * held back more than 100 microseconds); one serving a lone connection ends each wait at the
 * first completion, so no request waits for others that are not coming.
 *
 * POLL FORM. The poll_* functions serve hand-written state machines: they return at once,
 * with a result or with -EAGAIN after arming a cio_wake_fn that is called once when the
 * direction becomes ready (one callback per direction: a new one replaces the old; closing
 * the socket calls an armed one). From a plain thread they work once the socket is
 * registered.
 */
#ifndef CIO_IO_H
#define CIO_IO_H

#include <stddef.h>
#include <sys/types.h>

#include "cio/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Readiness bits, as found in the value cio_socket_ready() returns (which also carries the
 * tick in its higher bits: test it with these, pass it whole to cio_socket_clear_ready()).
 * What satisfies an interest: CIO_READABLE (cio/poll.h) by READABLE, READ_CLOSED or ERROR;
 * CIO_WRITABLE by WRITABLE, WRITE_CLOSED or ERROR; CIO_PRIORITY by PRIORITY or ERROR. The
 * bits are those of the event core's CIO_EVENT_* (cio/poll.h), so readiness is an event's flags.
 */
enum {
    CIO_READY_READABLE = 1u << 0,
    CIO_READY_WRITABLE = 1u << 1,
    CIO_READY_ERROR = 1u << 2,
    CIO_READY_READ_CLOSED = 1u << 3,
    CIO_READY_WRITE_CLOSED = 1u << 4,
    CIO_READY_PRIORITY = 1u << 5,
};
/* All readiness bits of a value returned by cio_socket_ready(). */
#define CIO_READY_MASK 0x3fu

/* A wake callback for the poll_* functions (the C form of tokio's task Waker). Called on a
 * worker thread of the runtime, from its reactor, without locks held; keep it short (queue
 * work, wake a task). */
typedef void (*cio_wake_fn)(void *ctx);

/* The caller's own I/O operation for cio_socket_try_io()/cio_socket_async_io(): returns
 * >= 0, or a negative errno; -EAGAIN means "would block". */
typedef ssize_t (*cio_io_fn)(void *ctx);

/*
 * An arbitrary descriptor made async (tokio's AsyncFd): a pipe, eventfd, timerfd, tty, a
 * socket cio did not create... Its readiness is the socket core's: cio_socket_ready(),
 * cio_socket_readable(), cio_socket_clear_ready(), cio_socket_poll_ready(),
 * cio_socket_try_io() and cio_socket_async_io() all take a cio_async_fd.
 */
typedef struct cio_async_fd cio_async_fd;

/**
 * cio_async_fd_new() - wrap a non-blocking descriptor so tasks can wait for its readiness.
 * @ret_afd: receives the wrapper (written only on success).
 * @fd: any descriptor epoll/poll(2) accepts; it must be O_NONBLOCK (checked). The wrapper does
 *      not own it: cio_async_fd_free() leaves it open.
 *
 * Return: 0; -EINVAL (fd is blocking or negative); -EBADF; -ENOMEM.
 */
CIO_EXPORT int cio_async_fd_new(cio_async_fd **ret_afd, int fd);

/**
 * cio_async_fd_free() - deregister and free the wrapper (the descriptor stays open). Wakes
 * tasks waiting on it with -EBADF. NULL is allowed.
 */
CIO_EXPORT void cio_async_fd_free(cio_async_fd *afd);

/** cio_async_fd_fd() - the wrapped descriptor; -EINVAL for NULL. */
CIO_EXPORT int cio_async_fd_fd(const cio_async_fd *afd);

#ifdef __cplusplus
}
#endif

#endif /* CIO_IO_H */
