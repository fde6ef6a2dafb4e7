/*
 * io.h: a socket's registration with the runtime (private; tokio's ScheduledIo and
 * Registration). The async socket modules call these with the struct cio__socket at the
 * start of every handle; nothing here knows a protocol.
 *
 * Readiness word (atomic):  [ tick : 24 | readiness bits : 8 ]
 * Every reactor event increments the tick and ors in the new bits. An operation remembers the
 * word it acted on; when it gets -EAGAIN it clears its direction's bits only if the tick has
 * not moved, so an edge that arrived in between is never erased (no lost wake-up).
 */
#ifndef CIO_IO_INTERNAL_H
#define CIO_IO_INTERNAL_H

#include <sys/types.h>

#include "cio/io.h"
#include "cio/poll.h"
#include "net/socket.h"

/* An operation on the socket: returns >= 0, or a negative errno (-EAGAIN: would block). */
typedef ssize_t (*cio__io_op)(struct cio__socket *sock, void *ctx);

/*
 * cio__io_do() - run @op until it does not return -EAGAIN, suspending the calling task for
 * @interest readiness in between (registering the socket on first need).
 * @short_len: for reads of a stream: the length asked for; a result shorter than it (and not
 *             0) clears read readiness — the socket was drained. 0 disables the rule.
 *
 * Spends one unit of the task's cooperative budget (may yield).
 * Return: @op's result; -EBUSY (another task waits in this direction); -EBADF (closed while
 * waiting); -ECANCELED; -ETIMEDOUT; -EPERM outside a task.
 */
ssize_t cio__io_do(struct cio__socket *sock, unsigned interest, cio__io_op op, void *ctx,
                   size_t short_len);

/* cio__io_try() - @op once; on -EAGAIN clear the cached readiness (if registered). Never
 * waits; usable outside tasks. */
ssize_t cio__io_try(struct cio__socket *sock, unsigned interest, cio__io_op op, void *ctx);

/* cio__io_ready() - wait until any of @interest is ready; returns the CIO_READY_* set. */
int cio__io_ready(struct cio__socket *sock, unsigned interest);

/* cio__io_clear() - cio_async_fd_clear_ready() for any socket. */
void cio__io_clear(struct cio__socket *sock, int ready);

/* cio__io_poll_ready() - readiness now, or arm @wake for one direction (-EAGAIN). */
int cio__io_poll_ready(struct cio__socket *sock, unsigned interest, cio_wake_fn wake, void *ctx);

/* cio__io_register() - register now with the calling task's worker (no-op if registered). */
int cio__io_register(struct cio__socket *sock);

#endif
