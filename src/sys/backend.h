/*
 * backend.h: what several backends share (private to src/sys): the rule that turns poll(2)
 * bits into event flags (the poll and uring backends report poll masks; epoll.c has the same
 * rule as a table over its own bits), and the eventfd write that wakes a waiter (epoll, uring).
 */
#ifndef CIO_SYS_BACKEND_H
#define CIO_SYS_BACKEND_H

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <unistd.h>

#include "cio/poll.h"

/* Event flags from poll(2) bits: closed flags only on bits that prove them (see epoll.c). */
static inline uint32_t cio__sys_from_poll(uint32_t rev)
{
    uint32_t flags = 0;
    if (rev & (POLLIN | POLLRDHUP | POLLHUP | POLLERR))
        flags |= CIO_EVENT_READABLE;
    if (rev & (POLLOUT | POLLHUP | POLLERR))
        flags |= CIO_EVENT_WRITABLE;
    if (rev & POLLERR)
        flags |= CIO_EVENT_ERROR;
    if (rev & (POLLHUP | POLLRDHUP))
        flags |= CIO_EVENT_READ_CLOSED;
    if (rev & POLLHUP)
        flags |= CIO_EVENT_WRITE_CLOSED;
    if (rev & POLLPRI)
        flags |= CIO_EVENT_PRIORITY;
    return flags;
}

/* Add one to eventfd @fd, a new edge for whoever polls it. Never read by its owner, the
 * counter only grows: at its ceiling (2^64-2 writes) the write fails with EAGAIN while a wake
 * is still pending; drain it so later writes stay edges. Async-signal-safe. */
static inline void cio__sys_eventfd_kick(int fd)
{
    uint64_t one = 1;
    while (write(fd, &one, sizeof(one)) < 0) {
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN) {
            uint64_t drained;
            if (read(fd, &drained, sizeof(drained)) < 0 && errno != EAGAIN)
                return;
            continue;
        }
        return;
    }
}

#endif /* CIO_SYS_BACKEND_H */
