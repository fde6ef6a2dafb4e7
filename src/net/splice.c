/*
 * splice.c: SIGPIPE suppression for the calls that have no MSG_NOSIGNAL (sendfile, splice),
 * and the splice pipe with cio_splice_try() (cio/net.h): moving bytes between two
 * descriptors through a kernel pipe, never through user space.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "net/socket.h"
#include "util/assert.h"
#include "util/compiler.h"

/* ---- SIGPIPE suppression ---- */

static void sigpipe_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGPIPE);
}

void cio__sigpipe_begin(struct cio__sigpipe_guard *guard)
{
    int saved = errno;
    sigset_t pipe_set, old;
    sigpipe_set(&pipe_set);
    guard->restore = false;
    guard->pending = false;
    if (pthread_sigmask(SIG_BLOCK, &pipe_set, &old) != 0) {
        errno = saved;
        return;
    }
    guard->restore = !sigismember(&old, SIGPIPE);
    if (!guard->restore) {
        /* The caller blocks SIGPIPE itself and one may be pending already: that one is the
         * caller's, so end() must leave it alone. (With SIGPIPE unblocked none can be
         * pending for this thread: it would have been delivered.) */
        sigset_t pending;
        if (sigpending(&pending) == 0)
            guard->pending = sigismember(&pending, SIGPIPE);
    }
    errno = saved;
}

void cio__sigpipe_end(struct cio__sigpipe_guard *guard, bool epipe)
{
    int saved = errno;
    sigset_t pipe_set;
    sigpipe_set(&pipe_set);
    if (epipe && !guard->pending) {
        /* The kernel sent SIGPIPE to this thread along with EPIPE; it is pending because we
         * block it. Take it before unblocking. */
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
            ;
    }
    if (guard->restore)
        pthread_sigmask(SIG_UNBLOCK, &pipe_set, NULL);
    errno = saved;
}

/* ---- splice ---- */

struct cio_splice_pipe {
    int read_fd;
    int write_fd;
    size_t pending;
    size_t capacity;
};

int cio_splice_pipe_new(cio_splice_pipe **ret_pipe, size_t capacity)
{
    if (ret_pipe == NULL || capacity > INT_MAX)
        return -EINVAL;
    cio_splice_pipe *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return -ENOMEM;
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) {
        int err = errno;
        free(p);
        return -err;
    }
    p->read_fd = fds[0];
    p->write_fd = fds[1];
    int err = 0;
    if (capacity > 0 && fcntl(p->write_fd, F_SETPIPE_SZ, (int)capacity) < 0)
        err = errno;
    int size = err == 0 ? fcntl(p->write_fd, F_GETPIPE_SZ) : -1;
    if (err == 0 && size < 0)
        err = errno;
    if (err != 0) {
        close(fds[0]);
        close(fds[1]);
        free(p);
        return -err;
    }
    p->capacity = (size_t)size;
    *ret_pipe = p;
    return 0;
}

void cio_splice_pipe_free(cio_splice_pipe *pipe)
{
    if (pipe == NULL)
        return;
    close(pipe->read_fd);
    close(pipe->write_fd);
    free(pipe);
}

size_t cio_splice_pipe_pending(const cio_splice_pipe *pipe)
{
    return pipe != NULL ? pipe->pending : 0;
}

size_t cio_splice_pipe_capacity(const cio_splice_pipe *pipe)
{
    return pipe != NULL ? pipe->capacity : 0;
}

/* splice() with an int64_t offset (loff_t is a different type on some ABIs). */
static ssize_t splice_off(int in_fd, int64_t *in_off, int out_fd, int64_t *out_off, size_t len)
{
    loff_t in_pos = in_off != NULL ? (loff_t)*in_off : 0;
    loff_t out_pos = out_off != NULL ? (loff_t)*out_off : 0;
    ssize_t n;
    do
        n = splice(in_fd, in_off != NULL ? &in_pos : NULL, out_fd,
                   out_off != NULL ? &out_pos : NULL, len, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if (in_off != NULL)
        *in_off = (int64_t)in_pos;
    if (out_off != NULL)
        *out_off = (int64_t)out_pos;
    return n;
}

ssize_t cio_splice_try(cio_splice_pipe *pipe, int in_fd, int64_t *in_offset, int out_fd,
                       int64_t *out_offset, size_t max)
{
    if (pipe == NULL || in_fd < 0 || out_fd < 0)
        return pipe == NULL ? -EINVAL : -EBADF;
    if ((in_offset != NULL && *in_offset < 0) || (out_offset != NULL && *out_offset < 0))
        return -EINVAL;
    if (max == 0)
        return 0;
    if (pipe->pending == 0) {
        ssize_t n =
            splice_off(in_fd, in_offset, pipe->write_fd, NULL, cio__min(max, pipe->capacity));
        if (n <= 0)
            return n; /* 0: end of input; -EAGAIN: nothing to read yet */
        pipe->pending = (size_t)n;
    }
    struct cio__sigpipe_guard guard;
    cio__sigpipe_begin(&guard);
    ssize_t n = splice_off(pipe->read_fd, NULL, out_fd, out_offset, pipe->pending);
    cio__sigpipe_end(&guard, n == -EPIPE);
    if (n < 0)
        return n;
    cio__assert((size_t)n <= pipe->pending);
    pipe->pending -= (size_t)n;
    return n;
}
