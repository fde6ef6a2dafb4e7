/*
 * sys.h: the contract between the event core (src/poll) and an OS backend (one file per
 * backend in src/sys). A backend watches descriptors for the interest bits it is given,
 * reports readiness edges as (data, flags) pairs, and can be woken from any thread. It knows
 * nothing of tokens, generations or tasks: the poll layer puts what it needs in `data`.
 *
 * Rules every backend keeps:
 *  - add/mod/del may run on any thread while another thread is inside wait(); the change
 *    takes effect for that wait (the backend wakes it if it must rebuild its set).
 *  - wait() never reports CIO__SYS_WAKE_DATA for a descriptor; it reports it once per
 *    batch of wake() calls made since the previous report (coalescing).
 *  - flags use the public CIO_EVENT_* bits, computed so that READ_CLOSED and WRITE_CLOSED
 *    are never false positives.
 *  - errors are negative errno values.
 */
#ifndef CIO_SYS_H
#define CIO_SYS_H

#include <stdint.h>

#include "cio/poll.h"

/*
 * A private interest bit, beside CIO_READABLE/WRITABLE/PRIORITY: the peer's shutdown alone
 * (POLLRDHUP / EPOLLRDHUP), for the runtime's edge emulation on poll(2) when a socket's read
 * readiness is already known (see sync_interest in io/io.c). Reported as READ_CLOSED.
 */
#define CIO__INTEREST_RDHUP (1u << 3)

/* The data value a backend reports for a wake. */
#define CIO__SYS_WAKE_DATA UINT64_MAX

struct cio__sys_event {
    uint64_t data;
    uint32_t flags; /* CIO_EVENT_* */
};

struct cio__sys;

/* What the runtime's registrations point their data word at (poll/reactor.h): deliver()
 * calls on_event() for each of their events. */
struct cio__reactor_source {
    void (*on_event)(struct cio__reactor_source *source, uint32_t flags);
};

struct cio__sys_ops {
    const char *name;
    cio_backend backend;
    /* Create the backend state; *ret written on success. */
    int (*create)(struct cio__sys **ret);
    void (*destroy)(struct cio__sys *sys);
    int (*add)(struct cio__sys *sys, int fd, uint64_t data, unsigned interest);
    int (*mod)(struct cio__sys *sys, int fd, uint64_t data, unsigned interest);
    int (*del)(struct cio__sys *sys, int fd);
    /* Wait up to timeout_ns (< 0: forever, 0: no wait); returns the count or -errno. */
    int (*wait)(struct cio__sys *sys, struct cio__sys_event *out, int capacity, int64_t timeout_ns);
    /* wait() into @buf, then hand each event but a wake's to the cio__reactor_source its data
     * word points to, converting and delivering in one pass (the runtime's reactor, where
     * every registration is a source). Returns the count (a wake included) or -errno. NULL:
     * the caller delivers what wait() returns. */
    int (*deliver)(struct cio__sys *sys, struct cio__sys_event *buf, int capacity,
                   int64_t timeout_ns);
    /* Make the current or next wait() report CIO__SYS_WAKE_DATA. Async-signal-safe. */
    void (*wake)(struct cio__sys *sys);
    /* The backend's own descriptor, or -ENOTSUP. */
    int (*fd)(const struct cio__sys *sys);
};

extern const struct cio__sys_ops cio__sys_epoll;
extern const struct cio__sys_ops cio__sys_poll;
#if CIO_HAVE_URING
extern const struct cio__sys_ops cio__sys_uring; /* uring.c; completion requests: uring.h */
#endif

#endif /* CIO_SYS_H */
