/*
 * async_fd.c: cio_async_fd — any non-blocking descriptor made waitable by tasks (tokio's
 * AsyncFd). A thin handle over the io layer: the descriptor is wrapped in a struct
 * cio__socket that the wrapper does not own, so freeing it detaches the registration and
 * leaves the descriptor open.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

#include "io/io.h"
#include "io/stream.h"

struct cio_async_fd {
    struct cio__socket sock;
};

int cio_async_fd_new(cio_async_fd **ret_afd, int fd)
{
    if (ret_afd == NULL || fd < 0)
        return -EINVAL;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -errno;
    if (!(fl & O_NONBLOCK))
        return -EINVAL;
    cio_async_fd *afd = calloc(1, sizeof(*afd));
    if (afd == NULL)
        return -ENOMEM;
    cio__socket_init(&afd->sock, fd, 0, 0);
    *ret_afd = afd;
    return 0;
}

void cio_async_fd_free(cio_async_fd *afd)
{
    if (afd == NULL)
        return;
    (void)cio__socket_release(&afd->sock);
    free(afd);
}

int cio_async_fd_fd(const cio_async_fd *afd)
{
    return afd ? afd->sock.fd : -EINVAL;
}

int cio_async_fd_ready(cio_async_fd *afd, unsigned interest)
{
    return afd ? cio__io_ready(&afd->sock, interest) : -EINVAL;
}

int cio_async_fd_readable(cio_async_fd *afd)
{
    return cio_async_fd_ready(afd, CIO_READABLE);
}

int cio_async_fd_writable(cio_async_fd *afd)
{
    return cio_async_fd_ready(afd, CIO_WRITABLE);
}

void cio_async_fd_clear_ready(cio_async_fd *afd, int ready)
{
    if (afd != NULL)
        cio__io_clear(&afd->sock, ready);
}

int cio_async_fd_poll_ready(cio_async_fd *afd, unsigned interest, cio_wake_fn wake, void *ctx)
{
    return afd ? cio__io_poll_ready(&afd->sock, interest, wake, ctx) : -EINVAL;
}

ssize_t cio_async_fd_try_io(cio_async_fd *afd, unsigned interest, cio_io_fn fn, void *ctx)
{
    return afd ? cio__stream_try_io(&afd->sock, interest, fn, ctx) : -EINVAL;
}

ssize_t cio_async_fd_async_io(cio_async_fd *afd, unsigned interest, cio_io_fn fn, void *ctx)
{
    return afd ? cio__stream_async_io(&afd->sock, interest, fn, ctx) : -EINVAL;
}
