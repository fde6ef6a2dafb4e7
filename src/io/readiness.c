/*
 * readiness.c: the readiness half of the socket core (cio/socket.h: ready, readable,
 * writable, clear_ready, poll_ready, try_io, async_io) and the small helpers every kind's own
 * operations run under the io layer's bookkeeping: a protocol's non-blocking call made
 * suspending (cio__io_call), the poll form of any operation (cio__io_poll_op), and waiting for
 * a connect's handshake. The bookkeeping itself — registration, cached readiness, waiters —
 * is io.c's.
 */
#include <errno.h>

#include "cio/socket.h"
#include "io/io.h"

#define POLL_RETRIES 64 /* poll_* attempts before giving the wake up front */

static bool interest_valid(unsigned interest)
{
    return interest != 0 && !(interest & ~(unsigned)(CIO_READABLE | CIO_WRITABLE | CIO_PRIORITY));
}

int cio_socket_ready(cio_socket *sock, unsigned interest)
{
    return cio__io_ready(CIO__SOCK(sock), interest); /* -ECANCELED for a cancelled task */
}

int cio_socket_readable(cio_socket *sock)
{
    return cio__io_ready(CIO__SOCK(sock), CIO_READABLE);
}

int cio_socket_writable(cio_socket *sock)
{
    return cio__io_ready(CIO__SOCK(sock), CIO_WRITABLE);
}

void cio_socket_clear_ready(cio_socket *sock, int ready)
{
    cio__io_clear(CIO__SOCK(sock), ready);
}

int cio_socket_poll_ready(cio_socket *sock, unsigned interest, cio_wake_fn wake, void *ctx)
{
    return cio__io_poll_ready(CIO__SOCK(sock), interest, wake, ctx);
}

/* A call of fn(arg) — the caller's own I/O, or a protocol's non-blocking call — as an
 * operation of the io layer. */
struct call_op {
    cio_io_fn fn;
    void *arg;
};

static ssize_t run_call(struct cio_socket *sock, void *ctx)
{
    (void)sock;
    const struct call_op *c = ctx;
    return c->fn(c->arg);
}

ssize_t cio_socket_try_io(cio_socket *sock, unsigned interest, cio_io_fn fn, void *ctx)
{
    if (sock == NULL || fn == NULL || !interest_valid(interest))
        return -EINVAL;
    struct call_op c = {fn, ctx};
    return cio__io_try(CIO__SOCK(sock), interest, run_call, &c);
}

ssize_t cio_socket_async_io(cio_socket *sock, unsigned interest, cio_io_fn fn, void *ctx)
{
    if (!interest_valid(interest))
        return -EINVAL;
    return cio__io_call(CIO__SOCK(sock), interest, fn, ctx);
}

ssize_t cio__io_call(struct cio_socket *sock, unsigned interest, cio_io_fn fn, void *arg)
{
    if (sock == NULL || fn == NULL)
        return -EINVAL;
    struct call_op c = {fn, arg};
    return cio__io_do(sock, interest, run_call, &c, 0);
}

/*
 * An operation in poll form: try it; if it would block, arm @wake for the direction. When
 * the arming finds the direction ready again, an edge arrived after the try cleared the
 * readiness (the tick rule kept it), so try again rather than arm a wake that would not
 * come. Each retry needs a new event; should they keep coming, give the wake at once so the
 * caller polls again.
 */
ssize_t cio__io_poll_op(struct cio_socket *sock, unsigned interest, cio__io_op op, void *arg,
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

ssize_t cio__io_poll_call(struct cio_socket *sock, unsigned interest, cio_io_fn fn, void *arg,
                          cio_wake_fn wake, void *ctx)
{
    if (fn == NULL)
        return -EINVAL;
    struct call_op c = {fn, arg};
    return cio__io_poll_op(sock, interest, run_call, &c, wake, ctx);
}

int cio__io_finish_connect(struct cio_socket *sock, cio_io_fn finish, void *arg)
{
    ssize_t rc = cio__io_call(sock, CIO_WRITABLE, finish, arg);
    if (rc < 0)
        cio_socket_close((cio_socket *)(void *)sock);
    return rc < 0 ? (int)rc : 0;
}
