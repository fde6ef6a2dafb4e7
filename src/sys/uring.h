/*
 * uring.h: what the io_uring backend (uring.c) offers beyond the readiness contract of sys.h —
 * completion requests, for the runtime's io layer (private). A request is a struct
 * cio__sys_op the caller owns; the backend reports each of its completions by calling
 * op->complete() from inside wait()/deliver(), on the waiting thread, and the op must stay
 * valid until its last completion (one without CIO__SYS_OP_MORE).
 *
 * Threads: the prep functions write the submission queue, which only the thread that waits on
 * the ring (a runtime worker) touches; they take effect at its next wait, which submits
 * everything prepared since in one io_uring_enter. They return 0, or -EBUSY when the queue is
 * full and cannot be submitted (the request was not made), or the buffer ring's setup error.
 * cio__uring_cancel_sync() alone may be called from any thread.
 *
 * Receive buffers are the backend's (a provided-buffer ring): a receive completion with
 * CIO__SYS_OP_BUFFER says which buffer holds its bytes; the caller reads them there and gives
 * the buffer back with cio__uring_buffer_put(), on the waiting thread. So a socket that waits
 * for data holds no buffer of its own.
 *
 * Without liburing at build time (CIO_HAVE_URING 0) nothing here exists; the io layer's
 * completion code is not built either.
 */
#ifndef CIO_SYS_URING_H
#define CIO_SYS_URING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct cio__sys;

/* Completion flags (the kernel's CQE flags; uring.c checks the values). */
#define CIO__SYS_OP_BUFFER (1u << 0) /* the bytes are in a provided buffer (see above) */
#define CIO__SYS_OP_MORE (1u << 1)   /* more completions of this request will follow */
#define CIO__SYS_OP_BUFFER_SHIFT 16  /* the buffer's id, in the flags' upper bits */

/* A completion request. @complete gets the result (>= 0, or -errno) and the flags. */
struct cio__sys_op {
    void (*complete)(struct cio__sys_op *op, int32_t res, uint32_t flags);
};

/* Multishot receive on stream socket @fd into provided buffers: a completion per chunk of
 * bytes, then a last one (without MORE) at end of stream (0), on an error, on cancellation,
 * or when no buffer was free (-ENOBUFS: arm it again once buffers are back). */
int cio__uring_recv_multishot(struct cio__sys *sys, struct cio__sys_op *op, int fd);

/* Multishot accept on listener @fd: one completion per connection (the new descriptor,
 * non-blocking and close-on-exec), until an error or cancellation ends it. */
int cio__uring_accept_multishot(struct cio__sys *sys, struct cio__sys_op *op, int fd);

/* Send @len bytes of @buf (send(2) with MSG_NOSIGNAL): one completion, the bytes the kernel
 * took or -errno. @buf must stay valid until then. */
int cio__uring_send(struct cio__sys *sys, struct cio__sys_op *op, int fd, const void *buf,
                    size_t len);

/*
 * As cio__uring_send() with MSG_WAITALL: the kernel sends all @len bytes, in as many goes as
 * the socket needs, before the one completion (fewer only with an error). A quiet send: no
 * task waits for its completion, so the wait it goes in with does not end on that alone (the
 * send completes during the call, most of the time: see sys_run in uring.c); *@ret_ticket
 * names it for cio__uring_send_wanted(), which a task that starts waiting for it calls.
 */
int cio__uring_send_all(struct cio__sys *sys, struct cio__sys_op *op, int fd, const void *buf,
                        size_t len, unsigned *ret_ticket);
void cio__uring_send_wanted(struct cio__sys *sys, unsigned ticket);

/* sendmsg(2) with MSG_NOSIGNAL: as cio__uring_send(); @msg and what it points to stay valid
 * until the completion. */
int cio__uring_sendmsg(struct cio__sys *sys, struct cio__sys_op *op, int fd,
                       const struct msghdr *msg);

/* Ask the kernel to cancel @op: it completes soon (-ECANCELED, or its result if it finished
 * first). Waiting thread only. */
void cio__uring_cancel(struct cio__sys *sys, struct cio__sys_op *op);

/*
 * Cancel @op now, from any thread: when this returns the request takes no more bytes or
 * connections and holds the socket no more (a close that follows really closes it); its last
 * completion is still reported by a later wait. Return: 0; -ENOENT (it had ended already).
 */
int cio__uring_cancel_sync(struct cio__sys *sys, struct cio__sys_op *op);

/*
 * Readiness without a registration, for the runtime's sockets of the completion way: a
 * multishot poll request on @fd for @interest (CIO_READABLE, CIO_WRITABLE, CIO_PRIORITY) whose
 * completions are reported as events for @source (a struct cio__reactor_source, 8-aligned),
 * as a registration's are — the last one with CIO__SYS_EVENT_ENDED, whatever ended it (a
 * removal, a cancel, the kernel). The backend keeps nothing for it, so a socket that waits
 * costs no memory here: @source must stay valid until that last event, and the caller asks
 * again if it still wants the request when it ended. A reported priority is the wake-up's
 * key and may be stale: check it with cio__uring_priority_now() before believing it. Waiting thread
 * only, except the synchronous cancel (as for cio__uring_cancel_sync); an update or removal
 * of a request that ended meanwhile does nothing.
 */
#define CIO__SYS_EVENT_ENDED (1u << 30)
int cio__uring_poll_source(struct cio__sys *sys, void *source, int fd, unsigned interest);
int cio__uring_poll_source_update(struct cio__sys *sys, void *source, unsigned interest);
void cio__uring_poll_source_remove(struct cio__sys *sys, void *source);
int cio__uring_poll_source_cancel_sync(struct cio__sys *sys, void *source);

/* Cancel every request of the ring now (any thread): each still reports its last completion
 * at a later wait. For a runtime that is being freed. */
void cio__uring_cancel_all(struct cio__sys *sys);

/* Submit what is prepared now, without waiting (the waiting thread, outside wait). */
void cio__uring_flush(struct cio__sys *sys);

/* Submit what is prepared, from any thread; returns once the kernel has every request
 * prepared before the call (a close may follow: none of them will name a reused number). */
void cio__uring_flush_any(struct cio__sys *sys);

/* A send block: CIO__URING_BLOCK bytes of memory from the ring's free list (malloc when it is
 * empty), for bytes a send request owns until its completion; NULL when out of memory. Given
 * back with cio__uring_block_put(). Waiting thread only, both. */
#define CIO__URING_BLOCK 8192u
void *cio__uring_block_get(struct cio__sys *sys);
void cio__uring_block_put(struct cio__sys *sys, void *block);

/* The bytes of a completion that carried CIO__SYS_OP_BUFFER in @flags. */
const char *cio__uring_buffer(const struct cio__sys *sys, uint32_t flags);

/* Give a completion's buffer back to the kernel (waiting thread). */
void cio__uring_buffer_put(struct cio__sys *sys, uint32_t flags);

/* Whether the ring has buffers to spare: the caller holds (took from completions and has not
 * put back) at most half of them. */
bool cio__uring_buffers_spare(const struct cio__sys *sys);

/* How many completions beyond the quiet sends @sys's next wait asks for (1 when idle; more
 * while the worker is busy: uring.c, submit_and_wait). Waiting thread; for tests. */
unsigned cio__uring_batch(const struct cio__sys *sys);

/* Whether urgent data is there now on @fd: what a reported priority is checked with, since the
 * kernel's poll requests report POLLPRI with every socket data wake-up (uring.c, to_poll). Any
 * thread. */
bool cio__uring_priority_now(int fd);

/* cio_backend_probe(CIO_BACKEND_URING): set a small ring up and tear it down. */
int cio__uring_probe(void);

#endif /* CIO_SYS_URING_H */
