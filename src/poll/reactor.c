/*
 * reactor.c: the runtime's registrations on an event core (see reactor.h): straight to the
 * backend, the source pointer as the data word.
 */
#include <errno.h>
#include <stdint.h>

#include "poll/poll_internal.h"
#include "poll/reactor.h"

#define REACTOR_INTEREST (CIO_READABLE | CIO_WRITABLE | CIO_PRIORITY | CIO__INTEREST_RDHUP)

static int check(const cio_poll *poll, int fd, unsigned interest)
{
    if (poll == NULL || interest == 0 || (interest & ~REACTOR_INTEREST) != 0)
        return -EINVAL;
    return fd < 0 ? -EBADF : 0;
}

int cio__reactor_add(cio_poll *poll, int fd, void *source, unsigned interest)
{
    int rc = check(poll, fd, interest);
    return rc < 0 ? rc : poll->ops->add(poll->sys, fd, (uint64_t)(uintptr_t)source, interest);
}

int cio__reactor_mod(cio_poll *poll, int fd, void *source, unsigned interest)
{
    int rc = check(poll, fd, interest);
    return rc < 0 ? rc : poll->ops->mod(poll->sys, fd, (uint64_t)(uintptr_t)source, interest);
}

int cio__reactor_del(cio_poll *poll, int fd)
{
    if (poll == NULL)
        return -EINVAL;
    return fd < 0 ? -EBADF : poll->ops->del(poll->sys, fd);
}

int cio__reactor_run(cio_poll *poll, cio__reactor_event *buf, int capacity, int64_t timeout_ns)
{
    if (timeout_ns < 0)
        timeout_ns = -1;
    if (poll->ops->deliver != NULL)
        return poll->ops->deliver(poll->sys, buf, capacity, timeout_ns);
    int n = poll->ops->wait(poll->sys, buf, capacity, timeout_ns);
    for (int i = 0; i < n; i++) {
        if (buf[i].data == CIO__REACTOR_WAKE)
            continue;
        struct cio__reactor_source *src = (struct cio__reactor_source *)(uintptr_t)buf[i].data;
        src->on_event(src, buf[i].flags);
    }
    return n;
}

struct cio__sys *cio__reactor_uring(const cio_poll *poll)
{
#if CIO_HAVE_URING
    if (poll->ops == &cio__sys_uring)
        return poll->sys;
#else
    (void)poll;
#endif
    return NULL;
}
