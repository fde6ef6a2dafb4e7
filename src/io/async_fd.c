/*
 * async_fd.c: cio_async_fd — any non-blocking descriptor made waitable by tasks (tokio's
 * AsyncFd). A thin handle over the io layer: the descriptor is wrapped in a struct
 * cio_socket that the wrapper does not own, so freeing it detaches the registration and
 * leaves the descriptor open.
 */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdlib.h>

#include "io/io.h"

struct cio_async_fd {
    struct cio_socket sock;
};
_Static_assert(offsetof(struct cio_async_fd, sock) == 0, "a handle is its socket (CIO__SOCK)");

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
    afd->sock.kind = CIO__KIND_ASYNC_FD;
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
