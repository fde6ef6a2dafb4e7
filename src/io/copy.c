/*
 * copy.c: copying between any two streams (cio_stream_copy, cio_stream_copy_bidirectional):
 * socket to socket with splice(2) through a pipe on Linux, falling back to a buffer; the
 * bidirectional copy runs each direction in a helper task so that one direction failing can
 * stop the other at once. Progress is reported in every case, because a deadline or a
 * cancellation may cut a copy anywhere.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "cio/net.h"
#include "cio/rt.h"
#include "cio/stream.h"
#include "io/io.h"
#include "io/stream.h"
#include "rt/sched.h"
#include "util/assert.h"

#define COPY_BUFFER (64u << 10) /* the fallback copy's buffer */
#define SPLICE_CHUNK (1u << 20) /* bytes asked of one splice (the pipe caps it) */

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

static ssize_t splice_op(struct cio_socket *sock, void *ctx)
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
static int copy_splice(struct cio_socket *from, struct cio_socket *to, uint64_t *moved)
{
    /* A TCP stream read the completion way (io/uring.h) may hold bytes the ring received,
     * which a splice from the socket would skip: copy those through the buffer. (One only
     * ever spliced has nothing there, and splicing does not start the ring's receive.) */
    struct cio__io *io = cio__io_of(from);
    if (io != NULL && io->completion) {
        cio__io_lock(io);
        bool ring_reads = cio__io_ring_reads(io);
        cio__io_unlock(io);
        if (ring_reads)
            return -ENOSYS;
    }
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

static int copy_buffer(struct cio_socket *from, struct cio_socket *to, uint64_t *moved)
{
    char *buf = malloc(COPY_BUFFER);
    if (buf == NULL)
        return -ENOMEM;
    int rc;
    for (;;) {
        ssize_t n = cio_stream_read((cio_stream *)(void *)from, buf, COPY_BUFFER);
        if (n <= 0) {
            rc = (int)n;
            break;
        }
        size_t done = 0;
        rc = cio_stream_write_all((cio_stream *)(void *)to, buf, (size_t)n, &done);
        *moved += done;
        if (rc < 0)
            break;
    }
    free(buf);
    return rc;
}

int cio__stream_copy(struct cio_socket *from, struct cio_socket *to, unsigned flags,
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
 * is cancelled or its deadline passes, it cancels both helpers and — since they use its
 * sockets and its stack — joins them inside a cancel shield: cancelled, they stop at their
 * next operation.
 */
struct copy_dir {
    struct cio_socket *from, *to;
    unsigned flags;
    cio_time deadline;
    uint64_t moved;
    int rc;
};

static void *copy_dir_task(void *arg)
{
    struct copy_dir *d = arg;
    cio_time saved = cio_deadline_set(d->deadline);
    d->rc = cio__stream_copy(d->from, d->to, d->flags, &d->moved);
    cio_deadline_restore(saved);
    return d;
}

static int copy_join(cio_join_set *set)
{
    int rc = 0;
    for (;;) {
        void *done;
        int jr = cio_join_set_join_next(set, &done, NULL);
        if (jr == -ENOENT)
            return rc;
        if (jr < 0) {
            /* The caller was cancelled or its deadline passed: stop both, wait for them. */
            cio_join_set_cancel_all(set);
            cio_cancel_shield shield = cio_cancel_shield_begin(CIO_DEADLINE_NONE);
            while (cio_join_set_join_next(set, NULL, NULL) == 0)
                ;
            cio_cancel_shield_end(shield);
            return jr;
        }
        const struct copy_dir *d = done;
        if (d->rc < 0 && rc == 0) {
            rc = d->rc;
            cio_join_set_cancel_all(set);
        }
    }
}

int cio__stream_copy_bidirectional(struct cio_socket *a, struct cio_socket *b, unsigned flags,
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
        rc = cio_join_set_spawn(set, NULL, copy_dir_task, &dirs[0], NULL);
        if (rc == 0)
            rc = cio_join_set_spawn(set, NULL, copy_dir_task, &dirs[1], NULL);
        if (rc < 0)
            cio_join_set_cancel_all(set);
        int jr = copy_join(set);
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

int cio_stream_copy(cio_stream *from, cio_stream *to, uint64_t *ret_bytes)
{
    return cio__stream_copy(CIO__SOCK(from), CIO__SOCK(to), 0, ret_bytes);
}

int cio_stream_copy_bidirectional(cio_stream *a, cio_stream *b, uint64_t *ret_a_to_b,
                                  uint64_t *ret_b_to_a)
{
    return cio__stream_copy_bidirectional(CIO__SOCK(a), CIO__SOCK(b), 0, ret_a_to_b, ret_b_to_a);
}
