/*
 * poll.c: the event core on top of a backend (src/sys): registration, the table that gives
 * the deregister guarantee (layout and event resolution in poll_internal.h), waiting, and the
 * cross-thread waker.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cio/poll.h"
#include "poll/poll_internal.h"
#include "sys/sys.h"
#if CIO_HAVE_URING
#include "sys/uring.h"
#endif
#include "util/assert.h"
#include "util/compiler.h"

#define MAX_EVENTS (1u << 20)
#define INTEREST_MASK (CIO_READABLE | CIO_WRITABLE | CIO_PRIORITY)

struct cio_waker {
    cio_poll *poll;
};

static uint64_t make_data(int fd, uint32_t generation)
{
    return ((uint64_t)generation << 32) | (uint32_t)fd;
}

/* Called with the lock held. */
static struct cio__poll_slot *slot_get_or_create(cio_poll *poll, int fd)
{
    struct cio__poll_slot *s = cio__poll_slot_get(poll, fd);
    if (s != NULL || ((unsigned)fd >> CIO__POLL_CHUNK_BITS) >= CIO__POLL_MAX_CHUNKS)
        return s;
    struct cio__poll_slot *slots = calloc(CIO__POLL_CHUNK_SLOTS, sizeof(*slots));
    if (slots == NULL)
        return NULL;
    atomic_store_explicit(&poll->chunks[(unsigned)fd >> CIO__POLL_CHUNK_BITS], slots,
                          memory_order_release);
    return &slots[(unsigned)fd & (CIO__POLL_CHUNK_SLOTS - 1)];
}

/* Writer side of the seqlock; called with the lock held. */
static void slot_publish(struct cio__poll_slot *s, uint32_t generation, cio_token token,
                         unsigned interest)
{
    unsigned seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
    atomic_store_explicit(&s->seq, seq + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&s->generation, generation, memory_order_relaxed);
    atomic_store_explicit(&s->token, token, memory_order_relaxed);
    atomic_store_explicit(&s->interest, interest, memory_order_relaxed);
    atomic_store_explicit(&s->seq, seq + 2, memory_order_release);
}

/* The backend's operations; NULL for one not built here (or not a backend). */
static const struct cio__sys_ops *backend_ops(cio_backend backend)
{
    switch (backend) {
    case CIO_BACKEND_EPOLL:
        return &cio__sys_epoll;
    case CIO_BACKEND_POLL:
        return &cio__sys_poll;
#if CIO_HAVE_URING
    case CIO_BACKEND_URING:
        return &cio__sys_uring;
#endif
    default:
        return NULL;
    }
}

static const char *const backend_names[] = {
    [CIO_BACKEND_EPOLL] = "epoll",
    [CIO_BACKEND_POLL] = "poll",
    [CIO_BACKEND_URING] = "uring",
};

const char *cio_backend_name(cio_backend backend)
{
    if (backend <= CIO_BACKEND_DEFAULT || backend > CIO_BACKEND_URING)
        return "unknown";
    return backend_names[backend];
}

static int default_backend(cio_backend *ret)
{
    const char *env = getenv("CIO_BACKEND");
    if (env == NULL || *env == '\0') {
        *ret = CIO_BACKEND_EPOLL;
        return 0;
    }
    for (int b = CIO_BACKEND_EPOLL; b <= CIO_BACKEND_URING; b++) {
        if (strcmp(env, backend_names[b]) == 0) {
            *ret = (cio_backend)b;
            return 0;
        }
    }
    return -EINVAL;
}

int cio_backend_probe(cio_backend backend)
{
    switch (backend) {
    case CIO_BACKEND_EPOLL:
    case CIO_BACKEND_POLL:
        return 0;
    case CIO_BACKEND_URING:
#if CIO_HAVE_URING
        return cio__uring_probe();
#else
        return -ENOTSUP;
#endif
    default:
        return -EINVAL;
    }
}

int cio_poll_new(cio_poll **ret_poll, const cio_poll_options *opts)
{
    if (ret_poll == NULL)
        return -EINVAL;
    cio_backend backend = opts ? opts->backend : CIO_BACKEND_DEFAULT;
    if (backend == CIO_BACKEND_DEFAULT) {
        int rc = default_backend(&backend);
        if (rc < 0)
            return rc;
    }
    if (backend <= CIO_BACKEND_DEFAULT || backend > CIO_BACKEND_URING)
        return -EINVAL;
    const struct cio__sys_ops *ops = backend_ops(backend);
    if (ops == NULL)
        ops = &cio__sys_epoll; /* io_uring not built in: epoll stands in (cio_backend_probe) */

    cio_poll *poll = calloc(1, sizeof(*poll));
    if (poll == NULL)
        return -ENOMEM;
    poll->ops = ops;
    int rc = ops->create(&poll->sys);
    if (rc < 0 && backend == CIO_BACKEND_URING && ops != &cio__sys_epoll) {
        /* io_uring cannot run here (cio_backend_probe says why): a program asking for it
         * gets epoll rather than a failure. */
        poll->ops = ops = &cio__sys_epoll;
        rc = ops->create(&poll->sys);
    }
    if (rc < 0) {
        free(poll);
        return rc;
    }
    pthread_mutex_init(&poll->lock, NULL);
    *ret_poll = poll;
    return 0;
}

void cio_poll_free(cio_poll *poll)
{
    if (poll == NULL)
        return;
    poll->ops->destroy(poll->sys);
    /* Most of the 16384 chunks were never made: skip them rather than free(NULL) each, which
     * costs an allocator call apiece (a stack trace each under AddressSanitizer). */
    for (unsigned i = 0; i < CIO__POLL_MAX_CHUNKS; i++) {
        struct cio__poll_slot *slots = atomic_load_explicit(&poll->chunks[i], memory_order_relaxed);
        if (slots != NULL)
            free(slots);
    }
    pthread_mutex_destroy(&poll->lock);
    free(poll);
}

cio_backend cio_poll_backend(const cio_poll *poll)
{
    return poll ? poll->ops->backend : CIO_BACKEND_DEFAULT;
}

int cio_poll_fd(const cio_poll *poll)
{
    if (poll == NULL)
        return -EINVAL;
    return poll->ops->fd(poll->sys);
}

/* For a descriptor cio's table does not know: -EBADF if it is not open at all, else `rc`. */
static int unknown_fd_error(int fd, int rc)
{
    return fcntl(fd, F_GETFD) < 0 && errno == EBADF ? -EBADF : rc;
}

static int check_args(const cio_poll *poll, int fd, unsigned interest)
{
    if (poll == NULL || interest == 0 || (interest & ~INTEREST_MASK) != 0)
        return -EINVAL;
    if (fd < 0)
        return -EBADF;
    return 0;
}

int cio_poll_register(cio_poll *poll, int fd, cio_token token, unsigned interest)
{
    int rc = check_args(poll, fd, interest);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&poll->lock);
    struct cio__poll_slot *s = slot_get_or_create(poll, fd);
    if (s == NULL) {
        /* No slot: out of memory, or a number beyond the table — which, unless the process
         * raised its descriptor limit past 16M, is simply not an open descriptor. */
        rc = unknown_fd_error(fd, -ENOMEM);
        goto out;
    }
    /* A new generation, so events of any earlier registration of this fd number (or of a
     * file that still lives through a dup) no longer match. Publish before the backend can
     * report: an event read before the publish would carry a generation not yet valid. */
    uint32_t generation = atomic_load_explicit(&s->generation, memory_order_relaxed) + 1;
    uint32_t old_generation = generation - 1;
    cio_token old_token = atomic_load_explicit(&s->token, memory_order_relaxed);
    unsigned old_interest = atomic_load_explicit(&s->interest, memory_order_relaxed);
    slot_publish(s, generation, token, interest);
    rc = poll->ops->add(poll->sys, fd, make_data(fd, generation), interest);
    if (rc < 0) {
        /* Keep the old registration alive if there was one (-EEXIST). Its generation is
         * restored too: nothing was ever reported with the new one. */
        slot_publish(s, old_generation, old_token, old_interest);
    }
out:
    pthread_mutex_unlock(&poll->lock);
    return rc;
}

int cio_poll_reregister(cio_poll *poll, int fd, cio_token token, unsigned interest)
{
    int rc = check_args(poll, fd, interest);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&poll->lock);
    struct cio__poll_slot *s = cio__poll_slot_get(poll, fd);
    if (s == NULL || atomic_load_explicit(&s->interest, memory_order_relaxed) == 0) {
        rc = unknown_fd_error(fd, -ENOENT); /* a closed descriptor is -EBADF, as in epoll */
        goto out;
    }
    /* Same generation: events already in a batch stay valid and take the new token. Publish
     * before the backend re-arms, as register does: a waiter on another thread may resolve
     * the re-armed event at once, and against the old interest it would be filtered out and,
     * edge-triggered, lost. A refused change restores the old token and interest. */
    uint32_t generation = atomic_load_explicit(&s->generation, memory_order_relaxed);
    cio_token old_token = atomic_load_explicit(&s->token, memory_order_relaxed);
    unsigned old_interest = atomic_load_explicit(&s->interest, memory_order_relaxed);
    slot_publish(s, generation, token, interest);
    rc = poll->ops->mod(poll->sys, fd, make_data(fd, generation), interest);
    if (rc < 0)
        slot_publish(s, generation, old_token, old_interest);
out:
    pthread_mutex_unlock(&poll->lock);
    return rc;
}

int cio_poll_deregister(cio_poll *poll, int fd)
{
    if (poll == NULL)
        return -EINVAL;
    if (fd < 0)
        return -EBADF;
    pthread_mutex_lock(&poll->lock);
    struct cio__poll_slot *s = cio__poll_slot_get(poll, fd);
    bool known = s != NULL && atomic_load_explicit(&s->interest, memory_order_relaxed) != 0;
    if (known) {
        /* Retire the generation first: from here on no event of it is delivered. */
        uint32_t generation = atomic_load_explicit(&s->generation, memory_order_relaxed);
        slot_publish(s, generation + 1, 0, 0);
    }
    int rc = poll->ops->del(poll->sys, fd);
    pthread_mutex_unlock(&poll->lock);
    /* The table is clean whatever the backend said; a closed fd still reports -EBADF. An fd
     * cio does not know is -ENOENT whatever else the backend objects to (epoll says -EPERM
     * for a regular file, -EINVAL for its own descriptor). */
    if (!known && rc != -EBADF)
        rc = -ENOENT;
    return rc;
}

int cio_poll_wait(cio_poll *poll, cio_events *events, int64_t timeout_ns)
{
    if (poll == NULL || events == NULL)
        return -EINVAL;
    events->poll = poll;
    events->count = 0;
    int n = poll->ops->wait(poll->sys, events->raw, (int)events->capacity,
                            timeout_ns < 0 ? -1 : timeout_ns);
    if (n < 0)
        return n;
    events->count = (size_t)n;
    return n;
}

int cio_poll_wait_ms(cio_poll *poll, cio_events *events, int timeout_ms)
{
    return cio_poll_wait(poll, events,
                         timeout_ms < 0 ? CIO_TIMEOUT_INFINITE
                                        : (int64_t)timeout_ms * CIO_NSEC_PER_MSEC);
}

int cio_events_new(cio_events **ret_events, size_t capacity)
{
    if (ret_events == NULL || capacity == 0 || capacity > MAX_EVENTS)
        return -EINVAL;
    cio_events *events = calloc(1, sizeof(*events));
    if (events == NULL)
        return -ENOMEM;
    events->raw = calloc(capacity, sizeof(*events->raw));
    events->out = calloc(capacity, sizeof(*events->out));
    if (events->raw == NULL || events->out == NULL) {
        cio_events_free(events);
        return -ENOMEM;
    }
    events->capacity = capacity;
    *ret_events = events;
    return 0;
}

void cio_events_free(cio_events *events)
{
    if (events == NULL)
        return;
    free(events->raw);
    free(events->out);
    free(events);
}

size_t cio_events_capacity(const cio_events *events)
{
    return events ? events->capacity : 0;
}

const cio_event *cio_events_next(cio_events *events, size_t *iter)
{
    if (events == NULL || iter == NULL)
        return NULL;
    return cio__events_next(events, iter);
}

int cio_waker_new(cio_waker **ret_waker, cio_poll *poll, cio_token token)
{
    if (ret_waker == NULL || poll == NULL)
        return -EINVAL;
    cio_waker *waker = calloc(1, sizeof(*waker));
    if (waker == NULL)
        return -ENOMEM;
    pthread_mutex_lock(&poll->lock);
    bool taken = atomic_load_explicit(&poll->has_waker, memory_order_relaxed);
    if (!taken) {
        atomic_store_explicit(&poll->waker_token, token, memory_order_relaxed);
        atomic_store_explicit(&poll->has_waker, true, memory_order_release);
    }
    pthread_mutex_unlock(&poll->lock);
    if (taken) {
        free(waker);
        return -EEXIST;
    }
    waker->poll = poll;
    *ret_waker = waker;
    return 0;
}

int cio_waker_wake(cio_waker *waker)
{
    if (waker == NULL)
        return -EINVAL;
    waker->poll->ops->wake(waker->poll->sys);
    return 0;
}

void cio_waker_free(cio_waker *waker)
{
    if (waker == NULL)
        return;
    atomic_store_explicit(&waker->poll->has_waker, false, memory_order_release);
    free(waker);
}
