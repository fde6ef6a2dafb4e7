/*
 * epoll.c: the Linux backend. Every registration is EPOLLET (edge-triggered) and the poll
 * layer's data word travels in epoll_event.data.u64. Wakes go through an eventfd that is
 * registered edge-triggered and never read: each write is a new edge, and writes made before
 * a wait collapse into one ready-list entry, so wakes coalesce without a read per wake.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "sys/backend.h"
#include "sys/sys.h"
#include "util/compiler.h"

struct cio__sys {
    int epfd;
    int wakefd;
};

/* The event buffer is converted in place (see sys_wait), which needs this. */
_Static_assert(sizeof(struct epoll_event) <= sizeof(struct cio__sys_event),
               "epoll_event must fit in a cio__sys_event");

static uint32_t to_epoll(unsigned interest)
{
    uint32_t ev = EPOLLET;
    if (interest & CIO_READABLE)
        ev |= EPOLLIN | EPOLLRDHUP;
    if (interest & CIO_WRITABLE)
        ev |= EPOLLOUT;
    if (interest & CIO_PRIORITY)
        ev |= EPOLLPRI;
    if (interest & CIO__INTEREST_RDHUP)
        ev |= EPOLLRDHUP;
    return ev;
}

/*
 * Readiness from epoll bits. A read does not block when data is there, the read side is shut
 * or an error is pending; likewise a write. The closed flags are set only on bits that prove
 * it: EPOLLHUP (both directions gone, or a refused/reset connection) and EPOLLRDHUP (the peer
 * shut its write side). EPOLLERR alone proves nothing about closing (a UDP socket with a
 * queued ICMP error stays usable), so it only sets ERROR.
 */
/* The rule above as a constant expression over the five low epoll bits (IN 1, PRI 2, OUT 4,
 * ERR 8, HUP 16) and 32 standing for EPOLLRDHUP, which adds READABLE | READ_CLOSED. */
#define FROM_EPOLL_LOW(ev)                                                                         \
    ((((ev) & (EPOLLIN | EPOLLHUP | EPOLLERR | 32)) ? CIO_EVENT_READABLE : 0u) |                   \
     (((ev) & (EPOLLOUT | EPOLLHUP | EPOLLERR)) ? CIO_EVENT_WRITABLE : 0u) |                       \
     (((ev)&EPOLLERR) ? CIO_EVENT_ERROR : 0u) |                                                    \
     (((ev)&EPOLLHUP) ? CIO_EVENT_READ_CLOSED | CIO_EVENT_WRITE_CLOSED : 0u) |                     \
     (((ev)&32) ? CIO_EVENT_READ_CLOSED : 0u) | (((ev)&EPOLLPRI) ? CIO_EVENT_PRIORITY : 0u))
/* Entries @base + i for i in [@i, @i + 4), the rule applied to i | @rdhup. */
#define FROM_EPOLL_4(base, i, rdhup)                                                               \
    [(base) + (i)] = FROM_EPOLL_LOW((i) | (rdhup)),                                                \
              [(base) + (i) + 1] = FROM_EPOLL_LOW(((i) + 1) | (rdhup)),                            \
              [(base) + (i) + 2] = FROM_EPOLL_LOW(((i) + 2) | (rdhup)),                            \
              [(base) + (i) + 3] = FROM_EPOLL_LOW(((i) + 3) | (rdhup))
#define FROM_EPOLL_32(base, rdhup)                                                                 \
    FROM_EPOLL_4(base, 0u, rdhup), FROM_EPOLL_4(base, 4u, rdhup), FROM_EPOLL_4(base, 8u, rdhup),   \
        FROM_EPOLL_4(base, 12u, rdhup), FROM_EPOLL_4(base, 16u, rdhup),                            \
        FROM_EPOLL_4(base, 20u, rdhup), FROM_EPOLL_4(base, 24u, rdhup),                            \
        FROM_EPOLL_4(base, 28u, rdhup)
#define EPOLL_TABLE_MASK (0x1fu | EPOLLRDHUP)
_Static_assert(EPOLLIN == 0x1 && EPOLLPRI == 0x2 && EPOLLOUT == 0x4 && EPOLLERR == 0x8 &&
                   EPOLLHUP == 0x10 && EPOLLRDHUP == 0x2000,
               "from_epoll's table is indexed by the five low epoll bits and EPOLLRDHUP");
/* Indexed by the event's bits themselves (one AND, no shifting them together): 8 KiB of
 * read-only data of which two cache lines are ever read, the entries between them unused. */
static const uint8_t from_epoll_table[EPOLL_TABLE_MASK + 1] = {
    FROM_EPOLL_32(0u, 0u),
    FROM_EPOLL_32(EPOLLRDHUP, 32u),
};

static inline uint32_t from_epoll(uint32_t ev)
{
    return from_epoll_table[ev & EPOLL_TABLE_MASK];
}

/* The waker's eventfd reports with this source, which does nothing: its event only ends the
 * wait. The deliver loop then calls it like any other and tests nothing per event. */
static void wake_event(struct cio__reactor_source *source, uint32_t flags)
{
    (void)source;
    (void)flags;
}
static struct cio__reactor_source wake_source = {.on_event = wake_event};
#define WAKE_DATA ((uint64_t)(uintptr_t)&wake_source)

static int sys_create(struct cio__sys **ret)
{
    struct cio__sys *sys = calloc(1, sizeof(*sys));
    if (sys == NULL)
        return -ENOMEM;
    sys->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (sys->epfd < 0) {
        int rc = -errno;
        free(sys);
        return rc;
    }
    sys->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (sys->wakefd < 0) {
        int rc = -errno;
        close(sys->epfd);
        free(sys);
        return rc;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u64 = WAKE_DATA};
    if (epoll_ctl(sys->epfd, EPOLL_CTL_ADD, sys->wakefd, &ev) < 0) {
        int rc = -errno;
        close(sys->wakefd);
        close(sys->epfd);
        free(sys);
        return rc;
    }
    *ret = sys;
    return 0;
}

static void sys_destroy(struct cio__sys *sys)
{
    close(sys->wakefd);
    close(sys->epfd);
    free(sys);
}

static int sys_ctl(struct cio__sys *sys, int op, int fd, uint64_t data, unsigned interest)
{
    struct epoll_event ev = {.events = to_epoll(interest), .data.u64 = data};
    if (epoll_ctl(sys->epfd, op, fd, &ev) < 0)
        return -errno;
    return 0;
}

static int sys_add(struct cio__sys *sys, int fd, uint64_t data, unsigned interest)
{
    return sys_ctl(sys, EPOLL_CTL_ADD, fd, data, interest);
}

static int sys_mod(struct cio__sys *sys, int fd, uint64_t data, unsigned interest)
{
    return sys_ctl(sys, EPOLL_CTL_MOD, fd, data, interest);
}

static int sys_del(struct cio__sys *sys, int fd)
{
    /* A non-NULL event keeps kernels before 2.6.9 happy; harmless since. */
    struct epoll_event ev = {0};
    if (epoll_ctl(sys->epfd, EPOLL_CTL_DEL, fd, &ev) < 0)
        return -errno;
    return 0;
}

/* epoll_pwait2 (Linux 5.11) takes nanoseconds; older kernels get epoll_wait in ms. */
static int have_pwait2 = 1;

static int epoll_wait_ns(int epfd, struct epoll_event *evs, int cap, int64_t timeout_ns)
{
    if (timeout_ns < 0)
        return epoll_wait(epfd, evs, cap, -1);
    if (timeout_ns == 0)
        return epoll_wait(epfd, evs, cap, 0);
    if (__atomic_load_n(&have_pwait2, __ATOMIC_RELAXED)) {
        /* Linux (6.x) ep_poll() returns at once, without sleeping, when the deadline has
         * passed by the time it checks; a sub-microsecond timeout always has, which would make
         * a loop of tiny waits a busy loop. A microsecond is a real sleep there (poll(2) has
         * no such shortcut), and still never a wait shorter than asked. */
        if (timeout_ns < CIO_NSEC_PER_USEC)
            timeout_ns = CIO_NSEC_PER_USEC;
        struct timespec ts = {.tv_sec = timeout_ns / CIO_NSEC_PER_SEC,
                              .tv_nsec = timeout_ns % CIO_NSEC_PER_SEC};
        int n = epoll_pwait2(epfd, evs, cap, &ts, NULL);
        if (n >= 0 || errno != ENOSYS)
            return n;
        __atomic_store_n(&have_pwait2, 0, __ATOMIC_RELAXED);
    }
    /* Round up: a 1 ns timeout must not become a busy zero. */
    int64_t ms = (timeout_ns + CIO_NSEC_PER_MSEC - 1) / CIO_NSEC_PER_MSEC;
    return epoll_wait(epfd, evs, cap, ms > INT32_MAX ? INT32_MAX : (int)ms);
}

static int sys_wait(struct cio__sys *sys, struct cio__sys_event *out, int capacity,
                    int64_t timeout_ns)
{
    /*
     * The kernel fills the caller's buffer as epoll_events, which are no larger than
     * cio__sys_events; converting from the last entry to the first never overwrites an entry
     * not yet read (entry i is read whole before out[i], which starts at or after it, is
     * written).
     */
    struct epoll_event *evs = (struct epoll_event *)(void *)out;
    int n = epoll_wait_ns(sys->epfd, evs, capacity, timeout_ns);
    if (n < 0)
        return -errno;
    for (int i = n - 1; i >= 0; i--) {
        struct epoll_event ev;
        memcpy(&ev, (char *)out + (size_t)i * sizeof(struct epoll_event), sizeof(ev));
        struct cio__sys_event converted = {.data = ev.data.u64, .flags = from_epoll(ev.events)};
        if (ev.data.u64 == WAKE_DATA)
            converted =
                (struct cio__sys_event){.data = CIO__SYS_WAKE_DATA, .flags = CIO_EVENT_READABLE};
        memcpy(&out[i], &converted, sizeof(converted));
    }
    return n;
}

/* sys_wait() and the caller's loop over its result in one pass: no converted copy. */
static int sys_deliver(struct cio__sys *sys, struct cio__sys_event *buf, int capacity,
                       int64_t timeout_ns)
{
    struct epoll_event *evs = (struct epoll_event *)(void *)buf;
    int n = epoll_wait_ns(sys->epfd, evs, capacity, timeout_ns);
    if (n < 0)
        return -errno;
    for (int i = 0; i < n; i++) {
        struct epoll_event ev;
        memcpy(&ev, &evs[i], sizeof(ev)); /* packed on x86-64 */
        struct cio__reactor_source *src = (struct cio__reactor_source *)(uintptr_t)ev.data.u64;
        src->on_event(src, from_epoll(ev.events));
    }
    return n;
}

static void sys_wake(struct cio__sys *sys)
{
    cio__sys_eventfd_kick(sys->wakefd);
}

static int sys_fd(const struct cio__sys *sys)
{
    return sys->epfd;
}

const struct cio__sys_ops cio__sys_epoll = {
    .name = "epoll",
    .backend = CIO_BACKEND_EPOLL,
    .create = sys_create,
    .destroy = sys_destroy,
    .add = sys_add,
    .mod = sys_mod,
    .del = sys_del,
    .wait = sys_wait,
    .deliver = sys_deliver,
    .wake = sys_wake,
    .fd = sys_fd,
};
