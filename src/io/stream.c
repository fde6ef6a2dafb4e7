/*
 * stream.c: the suspending operations of byte-stream sockets, on a struct cio__socket and
 * the io layer (io.c), so TCP and Unix streams share one implementation. Every operation is
 * one cio__io_do() per system call: a ready socket costs that one call, a socket that would
 * block parks the task until the next edge. Reads pass the length asked as the short-read
 * length, so a read that drains the socket clears read readiness and the next read waits
 * instead of failing a recv. Loops (read_exact, write_all, copy) report their progress,
 * because a deadline or a cancellation may cut them anywhere. The copy engine moves bytes
 * socket to socket with splice(2) through a pipe on Linux, falling back to a buffer; the
 * bidirectional copy runs each direction in a helper task so that one direction failing can
 * stop the other at once.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "cio/net.h"
#include "cio/rt.h"
#include "io/io.h"
#include "io/stream.h"
#include "rt/sched.h"
#include "util/assert.h"
#include "util/compiler.h"

#define IOV_WINDOW 64           /* iovec entries handed to one sendmsg by write_all_v */
#define COPY_BUFFER (64u << 10) /* the fallback copy's buffer */
#define SPLICE_CHUNK (1u << 20) /* bytes asked of one splice (the pipe caps it) */
#define POLL_RETRIES 64         /* poll_* attempts before giving the wake up front */

/* ---- operations on the socket ---- */

struct buf_op {
    void *buf;
    size_t len;
    int flags;
};

static ssize_t recv_op(struct cio__socket *sock, void *ctx)
{
    const struct buf_op *b = ctx;
    return cio__socket_recv(sock, b->buf, b->len, b->flags);
}

/* A fast-open socket whose SYN could not carry the data reports EINPROGRESS from its first
 * write: nothing was taken, write again when writable — -EAGAIN's meaning. Other stream
 * kinds never return it. */
static ssize_t write_result(ssize_t n)
{
    return n == -EINPROGRESS ? -EAGAIN : n;
}

static ssize_t send_op(struct cio__socket *sock, void *ctx)
{
    const struct buf_op *b = ctx;
    return write_result(cio__socket_send(sock, b->buf, b->len, 0));
}

struct iov_op {
    const struct iovec *iov;
    int iovcnt;
};

static ssize_t recvv_op(struct cio__socket *sock, void *ctx)
{
    const struct iov_op *v = ctx;
    return cio__socket_recvv(sock, v->iov, v->iovcnt, 0);
}

static ssize_t sendv_op(struct cio__socket *sock, void *ctx)
{
    const struct iov_op *v = ctx;
    return write_result(cio__socket_sendv(sock, v->iov, v->iovcnt, 0));
}

/* ---- reading ---- */

ssize_t cio__stream_read(struct cio__socket *sock, void *buf, size_t len)
{
    if (sock == NULL || (buf == NULL && len > 0))
        return -EINVAL;
    if (len == 0)
        return 0;
    struct buf_op op = {buf, len, 0};
    return cio__io_do(sock, CIO_READABLE, recv_op, &op, len);
}

int cio__stream_read_exact(struct cio__socket *sock, void *buf, size_t len, size_t *ret_done)
{
    size_t done = 0;
    int rc = sock == NULL || (buf == NULL && len > 0) ? -EINVAL : 0;
    while (rc == 0 && done < len) {
        struct buf_op op = {(char *)buf + done, len - done, 0};
        ssize_t n = cio__io_do(sock, CIO_READABLE, recv_op, &op, len - done);
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

ssize_t cio__stream_readv(struct cio__socket *sock, const struct iovec *iov, int iovcnt)
{
    if (sock == NULL)
        return -EINVAL;
    size_t total;
    int rc = cio__iov_check(iov, iovcnt, &total);
    if (rc < 0)
        return rc;
    if (total == 0)
        return 0;
    struct iov_op op = {iov, iovcnt};
    return cio__io_do(sock, CIO_READABLE, recvv_op, &op, total);
}

ssize_t cio__stream_peek(struct cio__socket *sock, void *buf, size_t len)
{
    if (sock == NULL || (buf == NULL && len > 0))
        return -EINVAL;
    if (len == 0)
        return 0;
    /* No short-read rule: a peek consumes nothing, so what it saw is still there and read
     * readiness must stay set for the read that follows. */
    struct buf_op op = {buf, len, MSG_PEEK};
    return cio__io_do(sock, CIO_READABLE, recv_op, &op, 0);
}

/* ---- writing ---- */

ssize_t cio__stream_write(struct cio__socket *sock, const void *buf, size_t len)
{
    if (sock == NULL || (buf == NULL && len > 0))
        return -EINVAL;
    if (len == 0)
        return 0;
    struct buf_op op = {(void *)buf, len, 0};
    return cio__io_do(sock, CIO_WRITABLE, send_op, &op, 0);
}

int cio__stream_write_all(struct cio__socket *sock, const void *buf, size_t len, size_t *ret_done)
{
    size_t done = 0;
    int rc = sock == NULL || (buf == NULL && len > 0) ? -EINVAL : 0;
    while (rc == 0 && done < len) {
        struct buf_op op = {(char *)buf + done, len - done, 0};
        ssize_t n = cio__io_do(sock, CIO_WRITABLE, send_op, &op, 0);
        if (n < 0)
            rc = (int)n;
        else if (n == 0)
            rc = -EIO; /* a stream send of a non-empty buffer never takes nothing */
        else
            done += (size_t)n;
    }
    if (ret_done != NULL)
        *ret_done = done;
    return rc;
}

ssize_t cio__stream_writev(struct cio__socket *sock, const struct iovec *iov, int iovcnt)
{
    if (sock == NULL)
        return -EINVAL;
    size_t total;
    int rc = cio__iov_check(iov, iovcnt, &total);
    if (rc < 0)
        return rc;
    if (total == 0)
        return 0;
    struct iov_op op = {iov, iovcnt};
    return cio__io_do(sock, CIO_WRITABLE, sendv_op, &op, 0);
}

/*
 * The caller's iovec array is const and may hold IOV_MAX entries: rather than copy it, keep
 * a position (entry, offset) in it and hand each sendmsg a small window starting there.
 */
int cio__stream_write_all_v(struct cio__socket *sock, const struct iovec *iov, int iovcnt,
                            size_t *ret_done)
{
    size_t total = 0, done = 0;
    int rc = sock == NULL ? -EINVAL : cio__iov_check(iov, iovcnt, &total);
    int idx = 0;
    size_t off = 0;
    while (rc == 0 && done < total) {
        struct iovec win[IOV_WINDOW];
        int cnt = 0;
        for (int i = idx; i < iovcnt && cnt < IOV_WINDOW; i++) {
            size_t skip = i == idx ? off : 0;
            if (iov[i].iov_len == skip)
                continue;
            win[cnt].iov_base = (char *)iov[i].iov_base + skip;
            win[cnt].iov_len = iov[i].iov_len - skip;
            cnt++;
        }
        cio__assert(cnt > 0);
        struct iov_op op = {win, cnt};
        ssize_t n = cio__io_do(sock, CIO_WRITABLE, sendv_op, &op, 0);
        if (n <= 0) {
            rc = n < 0 ? (int)n : -EIO;
            break;
        }
        done += (size_t)n;
        for (size_t left = (size_t)n; left > 0 || (idx < iovcnt && off == iov[idx].iov_len);) {
            size_t avail = iov[idx].iov_len - off;
            if (left < avail) {
                off += left;
                left = 0;
            } else {
                left -= avail;
                idx++;
                off = 0;
            }
        }
    }
    if (ret_done != NULL)
        *ret_done = done;
    return rc;
}

/* ---- readiness and the caller's own operations ---- */

int cio__stream_ready(struct cio__socket *sock, unsigned interest)
{
    /* cio__io_ready() answers from the cache without looking at cancellation; a cancelled
     * task must get -ECANCELED from every suspending call (cio/rt.h), as reads do. */
    if (cio_task_current() != NULL && cio_task_is_cancelled())
        return -ECANCELED;
    return cio__io_ready(sock, interest);
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
    struct buf_op op = {buf, len, MSG_PEEK};
    return poll_sock_op(sock, CIO_READABLE, recv_op, &op, wake, ctx);
}

struct user_op {
    cio_io_fn fn;
    void *ctx;
};

static ssize_t run_user_op(struct cio__socket *sock, void *ctx)
{
    (void)sock;
    const struct user_op *op = ctx;
    return op->fn(op->ctx);
}

static bool interest_valid(unsigned interest)
{
    return interest != 0 && !(interest & ~(unsigned)(CIO_READABLE | CIO_WRITABLE | CIO_PRIORITY));
}

ssize_t cio__stream_try_io(struct cio__socket *sock, unsigned interest, cio_io_fn fn, void *ctx)
{
    if (sock == NULL || fn == NULL || !interest_valid(interest))
        return -EINVAL;
    struct user_op op = {fn, ctx};
    return cio__io_try(sock, interest, run_user_op, &op);
}

ssize_t cio__stream_async_io(struct cio__socket *sock, unsigned interest, cio_io_fn fn, void *ctx)
{
    if (sock == NULL || fn == NULL || !interest_valid(interest))
        return -EINVAL;
    struct user_op op = {fn, ctx};
    return cio__io_do(sock, interest, run_user_op, &op, 0);
}

struct proto_op {
    cio__stream_op op;
    void *arg;
};

static ssize_t run_proto_op(struct cio__socket *sock, void *ctx)
{
    (void)sock;
    const struct proto_op *p = ctx;
    return p->op(p->arg);
}

ssize_t cio__stream_do(struct cio__socket *sock, unsigned interest, cio__stream_op op, void *arg)
{
    if (sock == NULL || op == NULL)
        return -EINVAL;
    struct proto_op p = {op, arg};
    return cio__io_do(sock, interest, run_proto_op, &p, 0);
}

ssize_t cio__stream_poll_op(struct cio__socket *sock, unsigned interest, cio__stream_op op,
                            void *arg, cio_wake_fn wake, void *ctx)
{
    if (op == NULL)
        return -EINVAL;
    struct proto_op p = {op, arg};
    return poll_sock_op(sock, interest, run_proto_op, &p, wake, ctx);
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
                     struct cio__owned_half *rd, struct cio__owned_half *wr)
{
    struct cio__stream_shared *shared = malloc(sizeof(*shared));
    if (shared == NULL)
        return -ENOMEM;
    atomic_init(&shared->halves, 2);
    shared->sock = sock;
    shared->close = close;
    *rd = (struct cio__owned_half){.shared = shared, .write = false};
    *wr = (struct cio__owned_half){.shared = shared, .write = true};
    return 0;
}

void cio__owned_half_close(struct cio__owned_half *half)
{
    struct cio__stream_shared *shared = half->shared;
    /* The write half going away is the end of what this side sends: tell the peer, as
     * tokio's OwnedWriteHalf does on drop. The read half may live on (in another task). */
    if (half->write && !half->forget)
        (void)cio__socket_shutdown(shared->sock, CIO_SHUTDOWN_WRITE);
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
    return sock;
}
