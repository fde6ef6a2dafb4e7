/*
 * stream.c: the suspending operations of the async socket modules, on a struct cio__socket and
 * the io layer (io.c), so TCP, Unix and UDP share one implementation (see stream.h for which
 * operations need a byte stream and which serve any socket). Every operation is one
 * cio__io_do() per system call: a ready socket costs that one call, a socket that would block
 * parks the task until the next edge. Reads pass the length asked as the short-read length,
 * so a read that drains the socket clears read readiness and the next read waits instead of
 * failing a recv — on a Unix stream only once the queue is really empty (read_unix()). Loops
 * (read_exact, write_all, copy) report their progress, because a deadline or a cancellation
 * may cut them anywhere. The copy engine moves bytes socket to socket with splice(2) through
 * a pipe on Linux, falling back to a buffer; the bidirectional copy runs each direction in a
 * helper task so that one direction failing can stop the other at once.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "cio/net.h"
#include "cio/rt.h"
#include "io/io.h"
#include "io/stream.h"
#include "net/msg.h"
#include "rt/sched.h"
#include "util/assert.h"
#include "util/compiler.h"

#define IOV_WINDOW 64           /* iovec entries handed to one continued call */
#define COPY_BUFFER (64u << 10) /* the fallback copy's buffer */
#define SPLICE_CHUNK (1u << 20) /* bytes asked of one splice (the pipe caps it) */
#define POLL_RETRIES 64         /* poll_* attempts before giving the wake up front */

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

static ssize_t write_op(struct cio__socket *sock, void *ctx)
{
    const struct iov_op *v = ctx;
    if (v->iovcnt == 1) /* one buffer: send(), which costs less than sendmsg() */
        return write_result(cio__socket_send(sock, v->iov[0].iov_base, v->iov[0].iov_len, 0));
    return write_result(cio__socket_sendv(sock, v->iov, v->iovcnt, 0));
}

static ssize_t peek_op(struct cio__socket *sock, void *ctx)
{
    const struct iov_op *v = ctx;
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
static ssize_t read_unix(struct cio__socket *sock, const struct iov_op *r)
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

/* One read; its result is short (< r->total) only when the socket was drained. */
static ssize_t read_op(struct cio__socket *sock, void *ctx)
{
    const struct iov_op *r = ctx;
    if (sock->domain == AF_UNIX)
        return read_unix(sock, r);
    if (r->iovcnt == 1) /* one buffer: recv(), which costs less than recvmsg() */
        return cio__socket_recv(sock, r->iov[0].iov_base, r->iov[0].iov_len, 0);
    return cio__socket_recvv(sock, r->iov, r->iovcnt, 0);
}

/* ---- reading and writing ---- */

/* Run one operation on @iov (@total bytes, > 0), suspending the task until ready. */
typedef ssize_t (*iov_fn)(struct cio__socket *sock, const struct iovec *iov, int iovcnt,
                          size_t total);

/* The short-read length is the bytes asked for: a read that drains the socket clears read
 * readiness. */
static ssize_t read_iov(struct cio__socket *sock, const struct iovec *iov, int iovcnt, size_t total)
{
    struct iov_op op = {iov, iovcnt, total};
    return cio__io_do(sock, CIO_READABLE, read_op, &op, total);
}

/* No short-read rule: a peek consumes nothing, so what it saw is still there and read
 * readiness must stay set for the read that follows. */
static ssize_t peek_iov(struct cio__socket *sock, const struct iovec *iov, int iovcnt, size_t total)
{
    struct iov_op op = {iov, iovcnt, total};
    return cio__io_do(sock, CIO_READABLE, peek_op, &op, 0);
}

static ssize_t write_iov(struct cio__socket *sock, const struct iovec *iov, int iovcnt,
                         size_t total)
{
    struct iov_op op = {iov, iovcnt, total};
    return cio__io_do(sock, CIO_WRITABLE, write_op, &op, 0);
}

/* The checks of the one-buffer calls, then @fn; an empty buffer moves nothing, at once. */
static ssize_t on_buffer(struct cio__socket *sock, const void *buf, size_t len, iov_fn fn)
{
    if (sock == NULL || (buf == NULL && len > 0))
        return -EINVAL;
    if (len == 0)
        return 0;
    struct iovec iov = {(void *)buf, len};
    return fn(sock, &iov, 1, len);
}

/* The checks of the vectored calls, then @fn; empty buffers move nothing, at once. */
static ssize_t on_vector(struct cio__socket *sock, const struct iovec *iov, int iovcnt, iov_fn fn)
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

ssize_t cio__stream_read(struct cio__socket *sock, void *buf, size_t len)
{
    return on_buffer(sock, buf, len, read_iov);
}

ssize_t cio__stream_readv(struct cio__socket *sock, const struct iovec *iov, int iovcnt)
{
    return on_vector(sock, iov, iovcnt, read_iov);
}

ssize_t cio__stream_peek(struct cio__socket *sock, void *buf, size_t len)
{
    return on_buffer(sock, buf, len, peek_iov);
}

ssize_t cio__stream_write(struct cio__socket *sock, const void *buf, size_t len)
{
    return on_buffer(sock, buf, len, write_iov);
}

ssize_t cio__stream_writev(struct cio__socket *sock, const struct iovec *iov, int iovcnt)
{
    return on_vector(sock, iov, iovcnt, write_iov);
}

int cio__stream_read_exact(struct cio__socket *sock, void *buf, size_t len, size_t *ret_done)
{
    size_t done = 0;
    int rc = sock == NULL || (buf == NULL && len > 0) ? -EINVAL : 0;
    while (rc == 0 && done < len) {
        struct iovec iov = {(char *)buf + done, len - done};
        ssize_t n = read_iov(sock, &iov, 1, len - done);
        if (n < 0)
            rc = (int)n;
        else if (n == 0)
            rc = -EPIPE; /* the stream ended early */
        else
            done += (size_t)n;
    }
    if (ret_done != NULL)
        *ret_done = done;
    return rc;
}

/* Write until the @total bytes of @iov are gone, unless @rc (the caller's argument checks)
 * is already an error; *ret_done (may be NULL) gets the bytes written in every case. */
static int write_all_iov(struct cio__socket *sock, const struct iovec *iov, int iovcnt,
                         size_t total, int rc, size_t *ret_done)
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

int cio__stream_write_all(struct cio__socket *sock, const void *buf, size_t len, size_t *ret_done)
{
    if (sock == NULL || (buf == NULL && len > 0)) {
        if (ret_done != NULL)
            *ret_done = 0;
        return -EINVAL;
    }
    /* The common case first: one send takes it all (a response, an echo). */
    size_t done = 0;
    if (len > 0) {
        ssize_t n = cio__stream_write(sock, buf, len);
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

int cio__stream_write_all_v(struct cio__socket *sock, const struct iovec *iov, int iovcnt,
                            size_t *ret_done)
{
    size_t total = 0;
    int rc = sock == NULL ? -EINVAL : cio__iov_check(iov, iovcnt, &total);
    return write_all_iov(sock, iov, iovcnt, total, rc, ret_done);
}

/* ---- readiness and the caller's own operations ---- */

int cio__stream_ready(struct cio__socket *sock, unsigned interest)
{
    return cio__io_ready(sock, interest); /* -ECANCELED for a cancelled task, as reads */
}

void cio__stream_clear_ready(struct cio__socket *sock, int ready)
{
    cio__io_clear(sock, ready);
}

int cio__stream_poll_ready(struct cio__socket *sock, unsigned interest, cio_wake_fn wake, void *ctx)
{
    return cio__io_poll_ready(sock, interest, wake, ctx);
}

/*
 * An operation in poll form: try it; if it would block, arm @wake for the direction. When
 * the arming finds the direction ready again, an edge arrived after the try cleared the
 * readiness (the tick rule kept it), so try again rather than arm a wake that would not
 * come. Each retry needs a new event; should they keep coming, give the wake at once so the
 * caller polls again.
 */
static ssize_t poll_sock_op(struct cio__socket *sock, unsigned interest, cio__io_op op, void *arg,
                            cio_wake_fn wake, void *ctx)
{
    if (sock == NULL || (interest != CIO_READABLE && interest != CIO_WRITABLE))
        return -EINVAL;
    for (int i = 0; i < POLL_RETRIES; i++) {
        ssize_t n = cio__io_try(sock, interest, op, arg);
        if (n != -EAGAIN)
            return n;
        int rc = cio__io_poll_ready(sock, interest, wake, ctx);
        if (rc < 0)
            return rc; /* -EAGAIN: the wake is armed */
    }
    if (wake != NULL)
        wake(ctx);
    return -EAGAIN;
}

ssize_t cio__stream_poll_peek(struct cio__socket *sock, void *buf, size_t len, cio_wake_fn wake,
                              void *ctx)
{
    if (sock == NULL || (buf == NULL && len > 0))
        return -EINVAL;
    if (len == 0)
        return 0;
    struct iovec iov = {buf, len};
    struct iov_op op = {&iov, 1, len};
    return poll_sock_op(sock, CIO_READABLE, peek_op, &op, wake, ctx);
}

/* A call of fn(arg) — the caller's own I/O, or a protocol's non-blocking call — as an
 * operation of the io layer. */
struct call_op {
    cio_io_fn fn;
    void *arg;
};

static ssize_t run_call(struct cio__socket *sock, void *ctx)
{
    (void)sock;
    const struct call_op *c = ctx;
    return c->fn(c->arg);
}

static bool interest_valid(unsigned interest)
{
    return interest != 0 && !(interest & ~(unsigned)(CIO_READABLE | CIO_WRITABLE | CIO_PRIORITY));
}

ssize_t cio__stream_try_io(struct cio__socket *sock, unsigned interest, cio_io_fn fn, void *ctx)
{
    if (sock == NULL || fn == NULL || !interest_valid(interest))
        return -EINVAL;
    struct call_op c = {fn, ctx};
    return cio__io_try(sock, interest, run_call, &c);
}

ssize_t cio__stream_async_io(struct cio__socket *sock, unsigned interest, cio_io_fn fn, void *ctx)
{
    if (!interest_valid(interest))
        return -EINVAL;
    return cio__stream_do(sock, interest, fn, ctx);
}

ssize_t cio__stream_do(struct cio__socket *sock, unsigned interest, cio__stream_op op, void *arg)
{
    if (sock == NULL || op == NULL)
        return -EINVAL;
    struct call_op c = {op, arg};
    return cio__io_do(sock, interest, run_call, &c, 0);
}

ssize_t cio__stream_poll_op(struct cio__socket *sock, unsigned interest, cio__stream_op op,
                            void *arg, cio_wake_fn wake, void *ctx)
{
    if (op == NULL)
        return -EINVAL;
    struct call_op c = {op, arg};
    return poll_sock_op(sock, interest, run_call, &c, wake, ctx);
}

/* ---- connecting ---- */

int cio__stream_finish_connect(struct cio__socket *sock, cio__stream_op finish, void *arg,
                               void (*close)(struct cio__socket *sock))
{
    ssize_t rc = cio__stream_do(sock, CIO_WRITABLE, finish, arg);
    if (rc < 0)
        close(sock);
    return rc < 0 ? (int)rc : 0;
}

/* ---- copying ---- */

/*
 * One splice step. cio_splice_try() first delivers what the pipe holds; with an empty pipe
 * it takes input and delivers what the output accepts. The step runs under the readiness of
 * the side it waits for: with an empty pipe (reading) under @from's read readiness, else
 * under @to's write readiness. An input taken while the output was full is not "would
 * block" for the input — reported as -EINPROGRESS so the io layer neither clears @from's
 * readiness nor waits on it; the loop then waits for @to.
 */
struct splice_step {
    cio_splice_pipe *pipe;
    int in_fd, out_fd;
    bool reading;
};

static ssize_t splice_op(struct cio__socket *sock, void *ctx)
{
    (void)sock;
    const struct splice_step *s = ctx;
    ssize_t n = cio_splice_try(s->pipe, s->in_fd, NULL, s->out_fd, NULL, SPLICE_CHUNK);
    if (n == -EAGAIN && s->reading && cio_splice_pipe_pending(s->pipe) > 0)
        return -EINPROGRESS;
    return n;
}

/* Returns 0 at the end of @from, a negative errno, or -ENOSYS when splice cannot be used
 * (no pipe to be had, or a socket splice refuses) before any byte moved: then the caller
 * falls back to the buffer copy. No short-read rule: what the splice read is not what it
 * returns. */
static int copy_splice(struct cio__socket *from, struct cio__socket *to, uint64_t *moved)
{
    cio_splice_pipe *pipe;
    if (cio_splice_pipe_new(&pipe, 0) < 0)
        return -ENOSYS;
    struct splice_step s = {pipe, from->fd, to->fd, false};
    bool first = true;
    int rc;
    for (;;) {
        ssize_t n;
        s.reading = cio_splice_pipe_pending(pipe) == 0;
        if (s.reading) {
            n = cio__io_do(from, CIO_READABLE, splice_op, &s, 0);
            if (n == 0) {
                rc = 0; /* end of input, pipe empty */
                break;
            }
            if (n == -EINPROGRESS) {
                first = false;
                continue;
            }
            if (n == -EINVAL && first && cio_splice_pipe_pending(pipe) == 0) {
                rc = -ENOSYS;
                break;
            }
        } else {
            n = cio__io_do(to, CIO_WRITABLE, splice_op, &s, 0);
        }
        if (n < 0) {
            rc = (int)n;
            break;
        }
        first = false;
        *moved += (uint64_t)n;
    }
    cio_splice_pipe_free(pipe);
    return rc;
}

static int copy_buffer(struct cio__socket *from, struct cio__socket *to, uint64_t *moved)
{
    char *buf = malloc(COPY_BUFFER);
    if (buf == NULL)
        return -ENOMEM;
    int rc;
    for (;;) {
        ssize_t n = cio__stream_read(from, buf, COPY_BUFFER);
        if (n <= 0) {
            rc = (int)n;
            break;
        }
        size_t done = 0;
        rc = cio__stream_write_all(to, buf, (size_t)n, &done);
        *moved += done;
        if (rc < 0)
            break;
    }
    free(buf);
    return rc;
}

int cio__stream_copy(struct cio__socket *from, struct cio__socket *to, unsigned flags,
                     uint64_t *ret_bytes)
{
    uint64_t moved = 0;
    int rc;
    if (from == NULL || to == NULL) {
        rc = -EINVAL;
    } else if (cio__task_self() == NULL) {
        rc = -EPERM;
    } else if (from->fd < 0 || to->fd < 0) {
        rc = -EBADF;
    } else {
        rc = flags & CIO__COPY_NO_SPLICE ? -ENOSYS : copy_splice(from, to, &moved);
        if (rc == -ENOSYS)
            rc = copy_buffer(from, to, &moved);
        if (rc == 0 && !(flags & CIO__COPY_NO_SHUTDOWN)) {
            /* Carry the end of stream across. A peer that is already gone makes this
             * -ENOTCONN, which is no failure of the copy: everything was delivered. */
            int s = cio__socket_shutdown(to, CIO_SHUTDOWN_WRITE);
            if (s < 0 && s != -ENOTCONN)
                rc = s;
        }
    }
    if (ret_bytes != NULL)
        *ret_bytes = moved;
    return rc;
}

/*
 * Both directions at once. Each direction runs in its own helper task on the caller's
 * worker, and the caller waits on a join set: when a direction fails, the caller is woken at
 * once and cancels the other (which may be parked on a read that would never end); when a
 * direction reaches its end it shuts down its destination's write side and the other goes on
 * (half-close carried across). The helpers carry the caller's deadline. If the caller itself
 * is cancelled or its deadline passes, it cancels both helpers and, since they use its
 * sockets and its stack, yields until they have finished before returning.
 */
struct copy_dir {
    struct cio__socket *from, *to;
    unsigned flags;
    cio_time deadline;
    uint64_t moved;
    int rc;
    bool finished;
};

static void *copy_dir_task(void *arg)
{
    struct copy_dir *d = arg;
    cio_time saved = cio_deadline_set(d->deadline);
    d->rc = cio__stream_copy(d->from, d->to, d->flags, &d->moved);
    cio_deadline_restore(saved);
    d->finished = true;
    return NULL;
}

static int copy_join(cio_join_set *set, struct copy_dir dirs[2])
{
    int rc = 0;
    bool stopping = false;
    for (;;) {
        size_t before = cio_join_set_len(set);
        if (before == 0)
            break;
        int jr = cio_join_set_join_next(set, NULL);
        if (cio_join_set_len(set) == before) {
            /* Nothing joined: the caller was cancelled or its deadline passed. */
            if (!stopping) {
                rc = jr;
                stopping = true;
                cio_join_set_cancel_all(set);
            }
            cio__task_yield(); /* the helpers run on this worker: let them unwind */
            continue;
        }
        if (stopping)
            continue;
        for (int i = 0; i < 2; i++) {
            if (dirs[i].finished && dirs[i].rc < 0) {
                rc = dirs[i].rc;
                stopping = true;
                cio_join_set_cancel_all(set);
                break;
            }
        }
    }
    return rc;
}

int cio__stream_copy_bidirectional(struct cio__socket *a, struct cio__socket *b, unsigned flags,
                                   uint64_t *ret_a_to_b, uint64_t *ret_b_to_a)
{
    struct copy_dir dirs[2] = {
        {.from = a, .to = b, .flags = flags, .deadline = cio_deadline()},
        {.from = b, .to = a, .flags = flags, .deadline = cio_deadline()},
    };
    int rc;
    cio_join_set *set = NULL;
    if (a == NULL || b == NULL || a == b) {
        rc = -EINVAL;
    } else if (cio__task_self() == NULL) {
        rc = -EPERM;
    } else if (a->fd < 0 || b->fd < 0) {
        rc = -EBADF;
    } else if ((rc = cio_join_set_new(&set)) == 0) {
        rc = cio_join_set_spawn(set, NULL, copy_dir_task, &dirs[0]);
        if (rc == 0)
            rc = cio_join_set_spawn(set, NULL, copy_dir_task, &dirs[1]);
        if (rc < 0)
            cio_join_set_cancel_all(set);
        int jr = copy_join(set, dirs);
        if (rc == 0)
            rc = jr;
        cio_join_set_free(set);
    }
    if (ret_a_to_b != NULL)
        *ret_a_to_b = dirs[0].moved;
    if (ret_b_to_a != NULL)
        *ret_b_to_a = dirs[1].moved;
    return rc;
}

/* ---- owned halves ---- */

int cio__owned_split(struct cio__socket *sock, void (*close)(struct cio__socket *sock),
                     struct cio__owned_half **ret_rd, struct cio__owned_half **ret_wr)
{
    struct cio__stream_shared *shared = malloc(sizeof(*shared));
    struct cio__owned_half *rd = malloc(sizeof(*rd));
    struct cio__owned_half *wr = malloc(sizeof(*wr));
    if (shared == NULL || rd == NULL || wr == NULL) {
        free(shared);
        free(rd);
        free(wr);
        return -ENOMEM;
    }
    atomic_init(&shared->halves, 2);
    shared->sock = sock;
    shared->close = close;
    *rd = (struct cio__owned_half){.shared = shared, .write = false};
    *wr = (struct cio__owned_half){.shared = shared, .write = true};
    *ret_rd = rd;
    *ret_wr = wr;
    return 0;
}

void cio__owned_half_close(struct cio__owned_half *half)
{
    if (half == NULL)
        return;
    struct cio__stream_shared *shared = half->shared;
    /* The write half going away is the end of what this side sends: tell the peer, as
     * tokio's OwnedWriteHalf does on drop. The read half may live on (in another task). */
    if (half->write && !half->forget)
        (void)cio__socket_shutdown(shared->sock, CIO_SHUTDOWN_WRITE);
    free(half);
    /* The last half closes the stream; the atomic orders the other half's use before it. */
    if (atomic_fetch_sub(&shared->halves, 1) == 1) {
        shared->close(shared->sock);
        free(shared);
    }
}

struct cio__socket *cio__owned_reunite(struct cio__owned_half *rd, struct cio__owned_half *wr)
{
    if (rd->shared != wr->shared || rd->write || !wr->write)
        return NULL;
    struct cio__socket *sock = rd->shared->sock;
    free(rd->shared);
    free(rd);
    free(wr);
    return sock;
}
