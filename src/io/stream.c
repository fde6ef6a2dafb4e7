/*
 * stream.c: the stream core (cio/stream.h) — every byte-stream operation, once, for TCP and
 * Unix streams: try_* (one system call under the readiness bookkeeping, usable without a
 * runtime), the suspending reads and writes, and the owned halves. Every operation is one
 * cio__io_do() (or cio__io_try()) per system call: a ready socket costs that one call, a
 * socket that would block parks the task until the next edge. Reads pass the length asked as
 * the short-read length, so a read that drains the socket clears read readiness and the next
 * read waits instead of failing a recv — on a Unix stream only once the queue is really empty
 * (read_unix()). Loops (read_exact, write_all) report their progress, because a deadline or a
 * cancellation may cut them anywhere. Copying lives in copy.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "cio/net.h"
#include "cio/rt.h"
#include "io/io.h"
#include "cio/stream.h"
#include "io/stream.h"
#include "net/msg.h"
#include "rt/sched.h"
#include "util/assert.h"
#include "util/compiler.h"

#define IOV_WINDOW 64   /* iovec entries handed to one continued call */
#define POLL_RETRIES 64 /* poll_* attempts before giving the wake up front */

/* ---- positions in a caller's iovec array ---- */

/*
 * The caller's iovec array is const and may hold IOV_MAX entries: rather than copy it, a loop
 * that goes on where a system call stopped keeps a position (entry, offset) in it and hands
 * each call a small window starting there.
 */
struct iov_pos {
    int idx;
    size_t off;
};

/* Fill @win with the non-empty rest of @iov from @pos on, at most IOV_WINDOW entries; returns
 * the count and the room in *ret_room. */
static int iov_window(const struct iovec *iov, int iovcnt, const struct iov_pos *pos,
                      struct iovec *win, size_t *ret_room)
{
    int cnt = 0;
    size_t room = 0;
    for (int i = pos->idx; i < iovcnt && cnt < IOV_WINDOW; i++) {
        size_t skip = i == pos->idx ? pos->off : 0;
        if (iov[i].iov_len == skip)
            continue;
        win[cnt].iov_base = (char *)iov[i].iov_base + skip;
        win[cnt].iov_len = iov[i].iov_len - skip;
        room += win[cnt].iov_len;
        cnt++;
    }
    *ret_room = room;
    return cnt;
}

/* Move @pos @n bytes on (n is at most what is left), and past entries used up. */
static void iov_advance(const struct iovec *iov, int iovcnt, struct iov_pos *pos, size_t n)
{
    for (size_t left = n; left > 0 || (pos->idx < iovcnt && pos->off == iov[pos->idx].iov_len);) {
        size_t avail = iov[pos->idx].iov_len - pos->off;
        if (left < avail) {
            pos->off += left;
            left = 0;
        } else {
            left -= avail;
            pos->idx++;
            pos->off = 0;
        }
    }
}

/* ---- operations on the socket ---- */

/* One operation's buffers. A single buffer is an array of one. */
struct iov_op {
    const struct iovec *iov;
    int iovcnt;
    size_t total; /* the bytes they hold, > 0 */
};

/* A fast-open socket whose SYN could not carry the data reports EINPROGRESS from its first
 * write: nothing was taken, write again when writable — -EAGAIN's meaning. Other stream
 * kinds never return it. */
static ssize_t write_result(ssize_t n)
{
    return n == -EINPROGRESS ? -EAGAIN : n;
}

static ssize_t write_op(struct cio_socket *sock, void *ctx)
{
    const struct iov_op *v = ctx;
    if (v->iovcnt == 1) /* one buffer: send(), which costs less than sendmsg() */
        return write_result(cio__socket_send(sock, v->iov[0].iov_base, v->iov[0].iov_len, 0));
    return write_result(cio__socket_sendv(sock, v->iov, v->iovcnt, 0));
}

/* The registration of a TCP stream read the completion way (io/uring.h), or NULL. */
static inline struct cio__io *ring_reader(struct cio_socket *sock)
{
    struct cio__io *io = cio__io_of(sock);
    return io != NULL && io->completion ? io : NULL;
}

static ssize_t peek_op(struct cio_socket *sock, void *ctx)
{
    const struct iov_op *v = ctx;
    struct cio__io *io = ring_reader(sock);
    if (io != NULL)
        return cio__io_ring_read(sock, io, v->iov, 1, v->iov[0].iov_len, CIO__RING_PEEK);
    return cio__socket_recv(sock, v->iov[0].iov_base, v->iov[0].iov_len, MSG_PEEK);
}

/*
 * A read of a Unix stream. Linux stops a Unix stream read after the bytes of a write that
 * carried descriptors (which it closes, as a read has no room for them) or, with SO_PASSCRED,
 * where the writer changes — although more bytes may be queued behind. "Fewer bytes than
 * asked" then does not mean "drained", and the short-read rule, which clears read readiness,
 * would leave those bytes waiting for an edge that never comes. recvmsg() without a control
 * buffer marks such a stop with MSG_CTRUNC; a read that only filled its window of the caller's
 * buffers may have stopped with more queued too. In both cases ask the queue (FIONREAD: the
 * bytes queued, without consuming a pending error) and, if it holds more, read on. A continued
 * read therefore always finds bytes: a pending error or the end of stream is left for the next
 * read, never swallowed.
 */
static ssize_t read_unix(struct cio_socket *sock, const struct iov_op *r)
{
    size_t done = 0;
    struct iov_pos pos = {0, 0};
    for (;;) {
        struct iovec win[IOV_WINDOW];
        size_t room;
        int cnt = iov_window(r->iov, r->iovcnt, &pos, win, &room);
        struct msghdr msg = {.msg_iov = win, .msg_iovlen = (size_t)cnt};
        ssize_t n = cio__msg_recvmsg(sock, &msg, 0);
        if (n <= 0)
            return done > 0 ? (ssize_t)done : n;
        done += (size_t)n;
        if (done == r->total)
            return (ssize_t)done;
        if ((size_t)n < room && !(msg.msg_flags & MSG_CTRUNC))
            return (ssize_t)done; /* drained */
        int queued = 0;
        if (ioctl(sock->fd, FIONREAD, &queued) < 0 || queued <= 0)
            return (ssize_t)done; /* drained after all: the result is short, and true */
        iov_advance(r->iov, r->iovcnt, &pos, (size_t)n);
    }
}

/* One plain recv (the try_ form). */
static ssize_t read_plain_op(struct cio_socket *sock, void *ctx)
{
    const struct iov_op *r = ctx;
    struct cio__io *io = ring_reader(sock);
    if (io != NULL)
        return cio__io_ring_read(sock, io, r->iov, r->iovcnt, r->total, 0);
    if (r->iovcnt == 1)
        return cio__socket_recv(sock, r->iov[0].iov_base, r->iov[0].iov_len, 0);
    return cio__socket_recvv(sock, r->iov, r->iovcnt, 0);
}

/* One read; its result is short (< r->total) only when the socket was drained. */
static ssize_t read_op(struct cio_socket *sock, void *ctx)
{
    const struct iov_op *r = ctx;
    if (sock->domain == AF_UNIX)
        return read_unix(sock, r);
    struct cio__io *io = ring_reader(sock);
    if (io != NULL)
        return cio__io_ring_read(sock, io, r->iov, r->iovcnt, r->total, CIO__RING_ARM);
    if (r->iovcnt == 1) /* one buffer: recv(), which costs less than recvmsg() */
        return cio__socket_recv(sock, r->iov[0].iov_base, r->iov[0].iov_len, 0);
    return cio__socket_recvv(sock, r->iov, r->iovcnt, 0);
}

/* ---- reading and writing ---- */

/* Run one operation on @iov (@total bytes, > 0), suspending the task until ready. */
typedef ssize_t (*iov_fn)(struct cio_socket *sock, const struct iovec *iov, int iovcnt,
                          size_t total);

/* The short-read length is the bytes asked for: a read that drains the socket clears read
 * readiness. */
static ssize_t read_iov(struct cio_socket *sock, const struct iovec *iov, int iovcnt, size_t total)
{
    struct iov_op op = {iov, iovcnt, total};
    return cio__io_do(sock, CIO_READABLE, read_op, &op, total);
}

/* No short-read rule: a peek consumes nothing, so what it saw is still there and read
 * readiness must stay set for the read that follows. */
static ssize_t peek_iov(struct cio_socket *sock, const struct iovec *iov, int iovcnt, size_t total)
{
    struct iov_op op = {iov, iovcnt, total};
    return cio__io_do(sock, CIO_READABLE, peek_op, &op, 0);
}

static int write_all_iov(struct cio_socket *sock, const struct iovec *iov, int iovcnt, size_t total,
                         int rc, size_t *ret_done);

/* The calling task's ring when @sock, a TCP stream, is written the completion way there
 * (io/uring.h): a request the task waits for, instead of readiness and send(2). */
static struct cio__sys *ring_writer(const struct cio_socket *sock)
{
    if (cio__io_of(sock) == NULL)
        cio__task_settle(); /* before the ring is chosen: the task may move (sched.h) */
    struct cio__worker *w = cio__worker_current();
    if (w == NULL || w->current == NULL || sock->type != SOCK_STREAM ||
        (sock->domain != AF_INET && sock->domain != AF_INET6))
        return NULL;
    struct cio__io *io = cio__io_of(sock);
    if (io != NULL && io->worker == w)
        return cio__io_ring_sys(io);
    return cio__io_ring_of_worker(w);
}

static ssize_t write_iov(struct cio_socket *sock, const struct iovec *iov, int iovcnt, size_t total)
{
    struct cio__sys *ring = ring_writer(sock);
    if (ring != NULL) {
        int rc = cio__task_budget();
        if (rc < 0)
            return rc;
        /* The budget may have yielded and a shared task moved: the ring is its worker's now. */
        ring = ring_writer(sock);
    }
    if (ring != NULL) {
        ssize_t n = cio__io_ring_write(sock, ring, iov, iovcnt, total);
        if (n != -EBUSY) /* -EBUSY: no request could be made, write the readiness way */
            return n;
    }
    struct iov_op op = {iov, iovcnt, total};
    return cio__io_do(sock, CIO_WRITABLE, write_op, &op, 0);
}

/* write_all() the completion way (the first write's budget spent by the caller): one request
 * takes it all, mostly; a short one is followed by the general loop. */
static cio__noinline int ring_write_all(struct cio_socket *sock, struct cio__sys *ring,
                                        const void *buf, size_t len, size_t *ret_done)
{
    struct iovec iov = {(void *)buf, len};
    ssize_t n = cio__io_ring_write(sock, ring, &iov, 1, len);
    if (n == -EBUSY)
        n = write_iov(sock, &iov, 1, len);
    size_t done = n > 0 ? (size_t)n : 0;
    int rc = n < 0 ? (int)n : 0;
    if (rc == 0 && done < len) {
        struct iovec rest = {(char *)buf + done, len - done};
        size_t more = 0;
        rc = write_all_iov(sock, &rest, 1, len - done, 0, &more);
        done += more;
    }
    if (ret_done != NULL)
        *ret_done = done;
    return rc;
}

/* The checks of the one-buffer calls, then @fn; an empty buffer moves nothing, at once. */
static ssize_t on_buffer(struct cio_socket *sock, const void *buf, size_t len, iov_fn fn)
{
    if (sock == NULL || (buf == NULL && len > 0))
        return -EINVAL;
    if (len == 0)
        return 0;
    struct iovec iov = {(void *)buf, len};
    return fn(sock, &iov, 1, len);
}

/* The checks of the vectored calls, then @fn; empty buffers move nothing, at once. */
static ssize_t on_vector(struct cio_socket *sock, const struct iovec *iov, int iovcnt, iov_fn fn)
{
    if (sock == NULL)
        return -EINVAL;
    size_t total;
    int rc = cio__iov_check(iov, iovcnt, &total);
    if (rc < 0)
        return rc;
    if (total == 0)
        return 0;
    return fn(sock, iov, iovcnt, total);
}

/* ---- without waiting ---- */

/* The try_* forms: one system call under the readiness bookkeeping (an -EAGAIN clears the
 * cached readiness of a registered socket, by the tick rule). A Unix stream read here is a
 * plain recv: the caller loops until -EAGAIN anyway, so a stop at a descriptor boundary only
 * costs one more call. */
static ssize_t try_read_iov(struct cio_socket *sock, const struct iovec *iov, int iovcnt,
                            size_t total)
{
    struct iov_op op = {iov, iovcnt, total};
    return cio__io_try(sock, CIO_READABLE, read_plain_op, &op);
}

static ssize_t try_peek_iov(struct cio_socket *sock, const struct iovec *iov, int iovcnt,
                            size_t total)
{
    struct iov_op op = {iov, iovcnt, total};
    return cio__io_try(sock, CIO_READABLE, peek_op, &op);
}

static ssize_t try_write_iov(struct cio_socket *sock, const struct iovec *iov, int iovcnt,
                             size_t total)
{
    struct iov_op op = {iov, iovcnt, total};
    return cio__io_try(sock, CIO_WRITABLE, write_op, &op);
}

ssize_t cio_stream_try_read(cio_stream *stream, void *buf, size_t len)
{
    return on_buffer(CIO__SOCK(stream), buf, len, try_read_iov);
}

ssize_t cio_stream_try_readv(cio_stream *stream, const struct iovec *iov, int iovcnt)
{
    return on_vector(CIO__SOCK(stream), iov, iovcnt, try_read_iov);
}

ssize_t cio_stream_try_peek(cio_stream *stream, void *buf, size_t len)
{
    return on_buffer(CIO__SOCK(stream), buf, len, try_peek_iov);
}

ssize_t cio_stream_try_write(cio_stream *stream, const void *buf, size_t len)
{
    return on_buffer(CIO__SOCK(stream), buf, len, try_write_iov);
}

ssize_t cio_stream_try_writev(cio_stream *stream, const struct iovec *iov, int iovcnt)
{
    return on_vector(CIO__SOCK(stream), iov, iovcnt, try_write_iov);
}

/*
 * The fast path found no readiness: on the registration's fast owner, with budget, wait as
 * readable() does — the waiter in the registration, no general loop — and go round the fast
 * path again (the readiness that woke us may be stale: then this waits again). Otherwise the
 * general way of a read: every check, waiting, registering, the Unix stream rule.
 */
static cio__noinline ssize_t read_slow(struct cio_socket *sock, void *buf, size_t len)
{
    struct cio__io *io;
    struct cio__worker *w;
    if (sock != NULL && len > 0 && buf != NULL && sock->domain != AF_UNIX &&
        (w = cio__io_owner(io = cio__io_of(sock))) != NULL &&
        !(atomic_load_explicit(&io->readiness, memory_order_acquire) & CIO__IO_READ_READY)) {
        unsigned seen;
        int rc = cio__io_park(io, w->current, CIO__IO_READ_READY, &seen);
        if (rc < 0)
            return rc;
        return cio_stream_read((cio_stream *)(void *)sock, buf, len);
    }
    return on_buffer(sock, buf, len, read_iov);
}

/* The hot path's read of a stream read the completion way (io/uring.h), admitted by
 * cio__io_fast() (budget spent, the stash said ready): from the stash, or — it was stale —
 * the general way, clearing the readiness first (the tick rule, as read_failed()). */
static cio__noinline ssize_t ring_read(struct cio_socket *sock, struct cio__io *io, void *buf,
                                       size_t len)
{
    unsigned seen = atomic_load_explicit(&io->readiness, memory_order_relaxed);
    ssize_t n = cio__io_ring_read_owned(io, buf, len);
    struct iovec iov = {buf, len};
    if (n == -EAGAIN)
        n = cio__io_ring_read(sock, io, &iov, 1, len, CIO__RING_ARM);
    if (n > 0 && (size_t)n < len)
        cio__io_drained_owner(io);
    if (n != -EAGAIN)
        return n;
    struct iov_op op = {&iov, 1, len};
    return cio__io_do_again(sock, CIO_READABLE, read_op, &op, len, io, seen);
}

/* The fast path's recv failed: -EAGAIN clears the readiness (tick rule: on the owner's thread
 * the word now is the one the recv acted on, see cio__io_fast) and waits; EINTR tries again
 * the general way; anything else is the result. */
static cio__noinline ssize_t read_failed(struct cio_socket *sock, void *buf, size_t len,
                                         struct cio__io *io)
{
    int err = errno;
    if (err == EAGAIN) {
        struct iovec iov = {buf, len};
        struct iov_op op = {&iov, 1, len};
        unsigned seen = atomic_load_explicit(&io->readiness, memory_order_relaxed);
        return cio__io_do_again(sock, CIO_READABLE, read_op, &op, len, io, seen);
    }
    return err == EINTR ? read_slow(sock, buf, len) : -err;
}

/*
 * The hot path of a read, written out: one handle check, the cached readiness, recv(2), the
 * short-read rule. A TCP stream on its owner's worker only (a Unix stream read may stop at a
 * descriptor boundary: read_unix; another worker's task keeps the tick rule the general way);
 * anything unusual — not ready, not registered, budget spent, an error — goes out of line,
 * so this stays a leaf-sized function around the system call.
 */
ssize_t cio_stream_read(cio_stream *stream, void *buf, size_t len)
{
    struct cio_socket *sock = CIO__SOCK(stream);
    struct cio__io *io;
    if (sock == NULL || len == 0 || buf == NULL || sock->domain == AF_UNIX ||
        (io = cio__io_fast(sock, CIO__IO_READ_READY)) == NULL)
        return read_slow(sock, buf, len);
    if (io->completion)
        return ring_read(sock, io, buf, len);
    ssize_t n = recv(sock->fd, buf, len, 0);
    if (n > 0 && (size_t)n < len) {
        cio__io_drained_owner(io);
        return n;
    }
    if (n >= 0)
        return n;
    return read_failed(sock, buf, len, io);
}

ssize_t cio_stream_readv(cio_stream *stream, const struct iovec *iov, int iovcnt)
{
    return on_vector(CIO__SOCK(stream), iov, iovcnt, read_iov);
}

ssize_t cio_stream_peek(cio_stream *stream, void *buf, size_t len)
{
    return on_buffer(CIO__SOCK(stream), buf, len, peek_iov);
}

ssize_t cio_stream_write(cio_stream *stream, const void *buf, size_t len)
{
    return on_buffer(CIO__SOCK(stream), buf, len, write_iov);
}

ssize_t cio_stream_writev(cio_stream *stream, const struct iovec *iov, int iovcnt)
{
    return on_vector(CIO__SOCK(stream), iov, iovcnt, write_iov);
}

/* One read of read_exact: the general way (cio__read_fn). */
static ssize_t read_exact_step(void *sock, void *buf, size_t len)
{
    struct iovec iov = {buf, len};
    return read_iov(sock, &iov, 1, len);
}

int cio_stream_read_exact(cio_stream *stream, void *buf, size_t len, size_t *ret_done)
{
    struct cio_socket *sock = CIO__SOCK(stream);
    int rc = sock == NULL || (buf == NULL && len > 0) ? -EINVAL : 0;
    return cio__read_exact(read_exact_step, sock, buf, len, rc, ret_done);
}

/* Write until the @total bytes of @iov are gone, unless @rc (the caller's argument checks)
 * is already an error; *ret_done (may be NULL) gets the bytes written in every case. */
static int write_all_iov(struct cio_socket *sock, const struct iovec *iov, int iovcnt, size_t total,
                         int rc, size_t *ret_done)
{
    size_t done = 0;
    struct iov_pos pos = {0, 0};
    while (rc == 0 && done < total) {
        struct iovec win[IOV_WINDOW];
        size_t room;
        int cnt = iov_window(iov, iovcnt, &pos, win, &room);
        cio__assert(cnt > 0);
        ssize_t n = write_iov(sock, win, cnt, room);
        if (n <= 0) {
            /* A stream send of a non-empty buffer never takes nothing. */
            rc = n < 0 ? (int)n : -EIO;
            break;
        }
        done += (size_t)n;
        iov_advance(iov, iovcnt, &pos, (size_t)n);
    }
    if (ret_done != NULL)
        *ret_done = done;
    return rc;
}

/* The general way of a write-all, after @done bytes already went (the fast path's send). */
static cio__noinline int write_all_slow(struct cio_socket *sock, const void *buf, size_t len,
                                        size_t done, size_t *ret_done)
{
    if (sock == NULL || (buf == NULL && len > 0)) {
        if (ret_done != NULL)
            *ret_done = 0;
        return -EINVAL;
    }
    struct cio__sys *ring;
    if (done == 0 && len > 0 && ring_writer(sock) != NULL) {
        int rc = cio__task_budget();
        if (rc < 0) {
            if (ret_done != NULL)
                *ret_done = 0;
            return rc;
        }
        /* The budget may have yielded and a shared task moved: the ring is its worker's now. */
        if ((ring = ring_writer(sock)) != NULL)
            return ring_write_all(sock, ring, buf, len, ret_done);
    }
    if (done == 0 && len > 0) {
        /* The common case first: one send takes it all (a response, an echo). */
        ssize_t n = on_buffer(sock, buf, len, write_iov);
        if (n <= 0) {
            if (ret_done != NULL)
                *ret_done = 0;
            return n < 0 ? (int)n : -EIO; /* a stream send of a non-empty buffer takes some */
        }
        done = (size_t)n;
    }
    if (done == len) {
        if (ret_done != NULL)
            *ret_done = len;
        return 0;
    }
    struct iovec iov = {(char *)buf + done, len - done};
    size_t more = 0;
    int rc = write_all_iov(sock, &iov, 1, len - done, 0, &more);
    if (ret_done != NULL)
        *ret_done = done + more;
    return rc;
}

/* The fast path's send failed: -EAGAIN clears the readiness (on the owner's thread the word
 * now is the one the send acted on, see cio__io_fast) and goes on the general way, as do
 * EINTR and a fast-open socket's EINPROGRESS; anything else is the result. */
static cio__noinline int write_all_failed(struct cio_socket *sock, const void *buf, size_t len,
                                          size_t *ret_done, struct cio__io *io)
{
    int err = errno;
    if (err == EAGAIN)
        cio__io_would_block(io, atomic_load_explicit(&io->readiness, memory_order_relaxed),
                            CIO_WRITABLE);
    else if (err != EINTR && err != EINPROGRESS) {
        if (ret_done != NULL)
            *ret_done = 0;
        return -err;
    }
    return write_all_slow(sock, buf, len, 0, ret_done);
}

/* The hot path of a write-all, written out as the read's: one send(2) takes it all. */
int cio_stream_write_all(cio_stream *stream, const void *buf, size_t len, size_t *ret_done)
{
    struct cio_socket *sock = CIO__SOCK(stream);
    struct cio__io *io;
    if (sock == NULL || len == 0 || buf == NULL ||
        (io = cio__io_fast(sock, CIO__IO_WRITE_READY)) == NULL)
        return write_all_slow(sock, buf, len, 0, ret_done);
    if (io->completion) {
        if (cio__io_ring_send_owned(io, buf, len) == (ssize_t)len) {
            if (ret_done != NULL)
                *ret_done = len;
            return 0;
        }
        return ring_write_all(sock, cio__io_ring_sys(io), buf, len, ret_done);
    }
    ssize_t n = send(sock->fd, buf, len, MSG_NOSIGNAL);
    if ((size_t)n == len) {
        if (ret_done != NULL)
            *ret_done = len;
        return 0;
    }
    if (n < 0)
        return write_all_failed(sock, buf, len, ret_done, io);
    return write_all_slow(sock, buf, len, (size_t)n, ret_done);
}

int cio_stream_writev_all(cio_stream *stream, const struct iovec *iov, int iovcnt, size_t *ret_done)
{
    struct cio_socket *sock = CIO__SOCK(stream);
    size_t total = 0;
    int rc = sock == NULL ? -EINVAL : cio__iov_check(iov, iovcnt, &total);
    return write_all_iov(sock, iov, iovcnt, total, rc, ret_done);
}

ssize_t cio_stream_poll_peek(cio_stream *stream, void *buf, size_t len, cio_wake_fn wake, void *ctx)
{
    struct cio_socket *sock = CIO__SOCK(stream);
    if (sock == NULL || (buf == NULL && len > 0))
        return -EINVAL;
    if (len == 0)
        return 0;
    struct iovec iov = {buf, len};
    struct iov_op op = {&iov, 1, len};
    return cio__io_poll_op(sock, CIO_READABLE, peek_op, &op, wake, ctx);
}

/* ---- owned halves ---- */

/*
 * The halves are the stream itself, typed: nothing to allocate. sock->halves holds which are
 * still open; the half whose close takes the last bit closes the socket (the atomic orders
 * the other half's use of the socket before it).
 */
int cio_stream_into_split(cio_stream *stream, cio_read_half **ret_rd, cio_write_half **ret_wr)
{
    struct cio_socket *sock = CIO__SOCK(stream);
    if (sock == NULL || ret_rd == NULL || ret_wr == NULL)
        return -EINVAL;
    unsigned none = 0;
    if (!atomic_compare_exchange_strong(&sock->halves, &none, CIO__HALF_READ | CIO__HALF_WRITE))
        return -EINVAL; /* split already */
    sock->forget = false;
    *ret_rd = (cio_read_half *)(void *)sock;
    *ret_wr = (cio_write_half *)(void *)sock;
    return 0;
}

static void half_close(struct cio_socket *sock, unsigned half)
{
    unsigned before = atomic_fetch_and(&sock->halves, ~half);
    cio__assert(before & half); /* each half is closed once */
    if (before == half)
        cio_socket_close((cio_socket *)(void *)sock);
}

void cio_read_half_close(cio_read_half *rd)
{
    if (rd != NULL)
        half_close(CIO__SOCK(rd), CIO__HALF_READ);
}

void cio_write_half_close(cio_write_half *wr)
{
    struct cio_socket *sock = CIO__SOCK(wr);
    if (sock == NULL)
        return;
    /* The write half going away is the end of what this side sends: tell the peer, as
     * tokio's OwnedWriteHalf does on drop. The read half may live on (in another task). */
    if (!sock->forget)
        (void)cio__socket_shutdown(sock, CIO_SHUTDOWN_WRITE);
    half_close(sock, CIO__HALF_WRITE);
}

void cio_write_half_forget(cio_write_half *wr)
{
    if (wr != NULL)
        CIO__SOCK(wr)->forget = true;
}

int cio_stream_reunite(cio_read_half *rd, cio_write_half *wr, cio_stream **ret_stream)
{
    struct cio_socket *sock = CIO__SOCK(rd);
    if (sock == NULL || ret_stream == NULL || (void *)rd != (void *)wr)
        return -EINVAL;
    unsigned both = CIO__HALF_READ | CIO__HALF_WRITE;
    if (!atomic_compare_exchange_strong(&sock->halves, &both, 0))
        return -EINVAL;
    sock->forget = false;
    *ret_stream = (cio_stream *)(void *)sock;
    return 0;
}
