/*
 * cio/poll.h: the event core. A cio_poll watches file descriptors for readiness and reports
 * it as events tagged with the caller's token — mio's Poll, Registry, Token, Interest, Events,
 * Event and Waker in C. It knows nothing of sockets or tasks: any descriptor that supports
 * poll(2) can be registered, and the runtime's reactor is one user among others.
 *
 * Readiness is edge-triggered: an event says "this descriptor became ready", once. A program
 * that receives a readable event must read (accept, recv...) until the call reports -EAGAIN
 * before it can count on another readable event; likewise for writable. Events can be
 * spurious: an event may arrive while the operation still returns -EAGAIN, so handlers must
 * treat an event as a hint and the -EAGAIN as the truth.
 *
 * Backends (chosen at creation, see cio_poll_options): "epoll" (Linux, the default), "poll"
 * (poll(2), any POSIX system) and "uring" (Linux io_uring, 6.0 or later, when the library was
 * built with liburing). The poll backend delivers every edge that epoll would, plus repeats:
 * while a descriptor stays ready it is reported at every wait (level-triggered, which the
 * edge-triggered contract allows as spurious events). The uring backend watches each
 * descriptor with a multishot poll request, edge-triggered as epoll is, and submits a batch of
 * changes with the wait that follows them; its real purpose is the runtime, which on it reads,
 * writes and accepts on TCP sockets by completions instead of readiness (see cio/io.h). Where
 * io_uring cannot be used — a kernel without it (ENOSYS) or older than 6.0, io_uring disabled
 * by the kernel.io_uring_disabled sysctl or a seccomp filter (EPERM), a library built without
 * liburing — asking for it gives an epoll poll instead: a program never fails for want of
 * io_uring, and cio_backend_probe() says why it was not used.
 *
 * Typical loop:
 *
 *     cio_poll *poll;  cio_events *events;
 *     cio_poll_new(&poll, NULL);
 *     cio_events_new(&events, 256);
 *     cio_poll_register(poll, fd, 7, CIO_READABLE);
 *     for (;;) {
 *         int n = cio_poll_wait(poll, events, CIO_TIMEOUT_INFINITE);
 *         const cio_event *ev;
 *         for (size_t it = 0; (ev = cio_events_next(events, &it)) != NULL;)
 *             if (ev->token == 7 && (ev->flags & CIO_EVENT_READABLE))
 *                 drain(fd);           // read until -EAGAIN
 *     }
 */
#ifndef CIO_POLL_H
#define CIO_POLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cio/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The caller's name for a registration, handed back in each of its events. Any value. */
typedef uint64_t cio_token;

/* Interest: the readiness a registration asks for. At least one bit is required. */
enum {
    CIO_READABLE = 1u << 0, /* data, a connection to accept, end of stream, an error */
    CIO_WRITABLE = 1u << 1, /* send space, a finished connect, an error */
    CIO_PRIORITY = 1u << 2, /* urgent data / priority band (Linux EPOLLPRI) */
};

/* Event flags: what an event reports. Several can be set at once. */
enum {
    CIO_EVENT_READABLE = 1u << 0,     /* a read would not block (it may return 0 or an error) */
    CIO_EVENT_WRITABLE = 1u << 1,     /* a write would not block */
    CIO_EVENT_ERROR = 1u << 2,        /* an error is pending (read it with SO_ERROR) */
    CIO_EVENT_READ_CLOSED = 1u << 3,  /* the read direction is closed: reads return 0 */
    CIO_EVENT_WRITE_CLOSED = 1u << 4, /* the write direction is closed: writes fail */
    CIO_EVENT_PRIORITY = 1u << 5,     /* priority data can be read */
};
/*
 * READ_CLOSED and WRITE_CLOSED are never false positives: when set, the direction really is
 * closed. They can be false negatives (some descriptors never report them); a read of 0 or
 * a write failing with -EPIPE is the definitive answer.
 */

/* One event: the registration's token and what became ready. */
typedef struct cio_event {
    cio_token token;
    uint32_t flags; /* CIO_EVENT_* */
} cio_event;

typedef struct cio_poll cio_poll;
typedef struct cio_events cio_events;
typedef struct cio_waker cio_waker;

/* Event-core backends. */
typedef enum cio_backend {
    CIO_BACKEND_DEFAULT = 0, /* $CIO_BACKEND if set ("epoll", "poll", "uring"), else epoll */
    CIO_BACKEND_EPOLL = 1,
    CIO_BACKEND_POLL = 2,
    CIO_BACKEND_URING = 3, /* io_uring; epoll where it cannot run (cio_backend_probe) */
} cio_backend;

typedef struct cio_poll_options {
    cio_backend backend;
} cio_poll_options;

/* Timeouts for cio_poll_wait(): wait forever, or do not wait at all. */
#define CIO_TIMEOUT_INFINITE INT64_C(-1)
#define CIO_TIMEOUT_NONE INT64_C(0)

/**
 * cio_poll_new() - create an event core.
 * @ret_poll: receives the new poll (written only on success).
 * @opts: the backend to use, or NULL for the default. The default honours the environment
 *        variable CIO_BACKEND=epoll|poll|uring (meant for tests); an explicit backend in @opts
 *        wins.
 *
 * The backend's descriptors are close-on-exec. Asking for CIO_BACKEND_URING where io_uring
 * cannot be used gives an epoll poll (cio_poll_backend() tells; cio_backend_probe() says why),
 * never an error.
 *
 * Return: 0; -EINVAL for a bad argument or an unknown CIO_BACKEND value; -ENOMEM;
 * -EMFILE/-ENFILE when out of descriptors.
 */
CIO_EXPORT int cio_poll_new(cio_poll **ret_poll, const cio_poll_options *opts);

/**
 * cio_poll_free() - release a poll and its backend descriptors.
 * @poll: the poll, or NULL (nothing happens).
 *
 * Registered descriptors are not closed; they stop being watched. Free the poll's waker
 * (cio_waker_free) before the poll. No other thread may be in a call on @poll.
 */
CIO_EXPORT void cio_poll_free(cio_poll *poll);

/**
 * cio_poll_backend() - the backend a poll runs on.
 *
 * Return: CIO_BACKEND_EPOLL, CIO_BACKEND_POLL or CIO_BACKEND_URING (the backend in use,
 * which is epoll when io_uring was asked for and could not be used).
 */
CIO_EXPORT cio_backend cio_poll_backend(const cio_poll *poll);

/**
 * cio_backend_name() - "epoll", "poll" or "uring" (or "unknown").
 */
CIO_EXPORT const char *cio_backend_name(cio_backend backend);

/**
 * cio_backend_probe() - whether @backend can run here, and if not, why: what made (or would
 * make) a request for it fall back to epoll. It sets up and tears down the backend once (for
 * io_uring: a small ring), so the answer reflects this process and thread now, seccomp
 * filters included.
 *
 * Return: 0 (usable); -ENOTSUP (not built into this library — io_uring needs liburing at
 * build time — or the kernel lacks what the backend needs: io_uring before Linux 6.0);
 * -ENOSYS (a kernel without io_uring); -EPERM (io_uring disabled: the sysctl
 * kernel.io_uring_disabled, or a seccomp filter); -ENOMEM, -EMFILE (no room for it now);
 * -EINVAL (not a backend).
 */
CIO_EXPORT int cio_backend_probe(cio_backend backend);

/**
 * cio_poll_register() - start watching a descriptor.
 * @poll: the poll.
 * @fd: the descriptor; cio does not take ownership. Use a non-blocking descriptor: with
 *      edge-triggered readiness a blocking read after the last byte waits forever.
 * @token: returned in every event of this registration.
 * @interest: CIO_READABLE, CIO_WRITABLE and/or CIO_PRIORITY; at least one.
 *
 * Thread safe: may be called from any thread, including while another thread is blocked in
 * cio_poll_wait() on the same poll (the new registration takes effect at once there).
 * If the descriptor is already ready, the first wait reports it.
 *
 * Return: 0; -EINVAL for an empty or unknown interest; -EBADF for a bad descriptor; -EEXIST
 * if @fd is already registered with this poll; -EPERM for a descriptor that cannot be
 * polled (a regular file or a directory under epoll and uring); -ENOMEM.
 */
CIO_EXPORT int cio_poll_register(cio_poll *poll, int fd, cio_token token, unsigned interest);

/**
 * cio_poll_reregister() - change the token and/or interest of a registration.
 *
 * Readiness that had been reported but not yet consumed is not lost: an event already in a
 * batch being handled keeps being delivered (with the new token). After the call the
 * descriptor is re-armed: if it is ready for the new interest, the next wait reports it.
 * Thread safe like cio_poll_register().
 *
 * Return: 0; -EINVAL; -EBADF; -ENOENT if @fd is not registered with this poll.
 */
CIO_EXPORT int cio_poll_reregister(cio_poll *poll, int fd, cio_token token, unsigned interest);

/**
 * cio_poll_deregister() - stop watching a descriptor.
 *
 * The guarantee: once this returns, no event of this registration is delivered by
 * cio_events_next() — not even one already returned by a wait and still waiting in a
 * cio_events batch, and not when the descriptor number is closed and reused for a new
 * registration, nor when a duplicate of the descriptor (dup, fork, SCM_RIGHTS) keeps the
 * underlying file open. Deregister before closing a descriptor; calling it after the close
 * still cleans cio's side and returns -EBADF (epoll then drops the kernel side by itself
 * unless a duplicate lives on, in which case cio filters that file's events out).
 * Thread safe like cio_poll_register(); "once this returns" holds for the calling thread
 * and anything ordered after it. On uring the kernel's poll request holds the file open
 * until the registration goes: a socket closed without being deregistered stays open (its
 * peer sees no end of stream) until deregister or cio_poll_free().
 *
 * Return: 0; -ENOENT if @fd is not registered; -EBADF if @fd is not an open descriptor.
 */
CIO_EXPORT int cio_poll_deregister(cio_poll *poll, int fd);

/**
 * cio_poll_wait() - wait for readiness events.
 * @poll: the poll. One thread waits on a poll at a time.
 * @events: receives the events; previous contents are discarded. Its capacity bounds how
 *          many events one wait returns; the rest stay queued for the next wait.
 * @timeout_ns: CIO_TIMEOUT_INFINITE (any negative value) to wait until an event arrives,
 *              CIO_TIMEOUT_NONE (0) to only collect what is ready, or a number of
 *              nanoseconds. A positive timeout is rounded up to the backend clock's
 *              granularity (1 ms on backends that only take milliseconds), never down to 0.
 *
 * A wait wakes up early when the poll's waker is woken. Spurious wake-ups with zero events
 * are allowed.
 *
 * Return: the number of events stored (0 on timeout); -EINTR if a signal handler ran (the
 * caller decides whether to wait again, as with mio); -EINVAL for a NULL argument.
 */
CIO_EXPORT int cio_poll_wait(cio_poll *poll, cio_events *events, int64_t timeout_ns);

/**
 * cio_poll_wait_ms() - cio_poll_wait() with a timeout in milliseconds (negative: infinite).
 */
CIO_EXPORT int cio_poll_wait_ms(cio_poll *poll, cio_events *events, int timeout_ms);

/**
 * cio_poll_fd() - the backend's own descriptor, to nest this poll inside another event loop.
 *
 * The descriptor becomes readable when a cio_poll_wait() with a zero timeout would have
 * something to report. Do not read from it, close it, or register it with this same poll.
 *
 * Return: the descriptor (owned by @poll: on uring, the ring's); -ENOTSUP if the backend has
 * none (poll(2)).
 */
CIO_EXPORT int cio_poll_fd(const cio_poll *poll);

/**
 * cio_events_new() - allocate an event buffer.
 * @ret_events: receives the buffer (written only on success).
 * @capacity: the most events one wait may return; 1 to 1,048,576.
 *
 * Return: 0; -EINVAL; -ENOMEM.
 */
CIO_EXPORT int cio_events_new(cio_events **ret_events, size_t capacity);

/**
 * cio_events_free() - release an event buffer (NULL is allowed).
 */
CIO_EXPORT void cio_events_free(cio_events *events);

/**
 * cio_events_capacity() - the capacity the buffer was created with.
 */
CIO_EXPORT size_t cio_events_capacity(const cio_events *events);

/**
 * cio_events_next() - iterate over the events of the last wait.
 * @events: the buffer filled by cio_poll_wait().
 * @iter: the iteration cursor; set it to 0 before the first call.
 *
 * Skips events whose registration was deregistered (or replaced) since the wait, which is
 * how the deregister guarantee holds for a batch being handled. Call it on the thread that
 * waited (or after synchronising with it).
 *
 * Return: the next live event (valid until the next wait on this buffer), or NULL at the end.
 */
CIO_EXPORT const cio_event *cio_events_next(cio_events *events, size_t *iter);

/**
 * cio_waker_new() - create the poll's waker: a way to wake a blocked cio_poll_wait() from
 * any thread (mio's Waker). A poll has at most one waker.
 * @ret_waker: receives the waker (written only on success).
 * @poll: the poll it wakes; must outlive the waker.
 * @token: the token of the event a wake produces (flags: CIO_EVENT_READABLE).
 *
 * Return: 0; -EEXIST if @poll already has a waker; -EINVAL; -ENOMEM; -EMFILE.
 */
CIO_EXPORT int cio_waker_new(cio_waker **ret_waker, cio_poll *poll, cio_token token);

/**
 * cio_waker_wake() - wake the poll: the current or next cio_poll_wait() returns with an event
 * carrying the waker's token.
 *
 * Thread safe and async-signal-safe. Never blocks and never fails for want of room: any
 * number of wakes before a wait coalesce into a single event.
 *
 * Return: 0; -EINVAL for a NULL waker.
 */
CIO_EXPORT int cio_waker_wake(cio_waker *waker);

/**
 * cio_waker_free() - release the waker (NULL is allowed). No thread may be waking it.
 */
CIO_EXPORT void cio_waker_free(cio_waker *waker);

#ifdef __cplusplus
}
#endif

#endif /* CIO_POLL_H */
