/*
 * reactor.h: the event core's interface for the runtime's reactor (private; the runtime's
 * only view of the poll layer beside the public cio/poll.h). A runtime registration carries
 * its source pointer as the backend's data word itself: no table, no generation, one load
 * per event instead of a seqlock read. What the table's generation check gives plain
 * cio_poll users — no event for a registration removed while its event sat in a batch — the
 * runtime gets from its own rules instead:
 *
 *   - a source is freed only on its reactor's thread, and never while that thread is
 *     dispatching a batch (a free asked for during dispatch is deferred to the loop's top);
 *   - a batch is dispatched completely before any task runs;
 *   - a source is deregistered before it is freed, so no later wait reports it.
 *
 * So every event a batch holds points at live memory; an event for a source closed since
 * (by another thread, while this one waited) reaches a registration marked closed, which
 * ignores it. The runtime's waker is the event core's own (cio_waker): its events carry
 * CIO__REACTOR_WAKE.
 */
#ifndef CIO_POLL_REACTOR_H
#define CIO_POLL_REACTOR_H

#include <stdint.h>

#include "cio/poll.h"
#include "sys/sys.h"

/* An event as the backend reports it: the source pointer (or CIO__REACTOR_WAKE) and
 * CIO_EVENT_* flags. */
typedef struct cio__sys_event cio__reactor_event;

#define CIO__REACTOR_WAKE CIO__SYS_WAKE_DATA

/* Register @fd with @source as its data (CIO_READABLE/WRITABLE/PRIORITY and the private
 * CIO__INTEREST_RDHUP); change its interest; remove it. Any thread. Return: 0 or -errno. */
int cio__reactor_add(cio_poll *poll, int fd, void *source, unsigned interest);
int cio__reactor_mod(cio_poll *poll, int fd, void *source, unsigned interest);
int cio__reactor_del(cio_poll *poll, int fd);

/* Wait up to @timeout_ns (< 0: forever, 0: no wait) for events, using @buf (room for
 * @capacity) as the batch, and hand each one to its source's on_event() — a wake's excepted —
 * in the order reported, in one pass where the backend can. Return: the count of events (a
 * wake included), or -errno (-EINTR when a signal handler ran). */
int cio__reactor_run(cio_poll *poll, cio__reactor_event *buf, int capacity, int64_t timeout_ns);

/* The io_uring backend under @poll, for completion requests (sys/uring.h), or NULL when the
 * poll runs on another backend (or the library was built without liburing). */
struct cio__sys *cio__reactor_uring(const cio_poll *poll);

#endif /* CIO_POLL_REACTOR_H */
