/*
 * poll_internal.h: the event core's table and event buffer (private). poll.c owns them; the
 * runtime's reactor walks a batch with the inline cio__events_next() below, the body of the
 * public cio_events_next(), rather than a call per event — same check, on its hot path.
 *
 * The registration table gives cio its deregister guarantee: the backend's data word carries
 * (generation, fd), and every event is checked against the table when the caller reaches it
 * in the batch, so an event of a registration that was removed — or whose fd number now
 * belongs to a new registration, or whose file lives on through a dup — is dropped instead
 * of delivered.
 *
 * Table layout: fd -> slot, in chunks allocated on first use and never moved, so the waiting
 * thread reads slots without a lock while other threads register. A slot's (generation,
 * token, interest) is published under a sequence counter (odd while being written):
 *
 *     data word:  [ generation : 32 | fd : 32 ]
 *     slot:       seq (seqlock) | generation | interest (0 = free) | token
 */
#ifndef CIO_POLL_INTERNAL_H
#define CIO_POLL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "cio/poll.h"
#include "sys/sys.h"

#define CIO__POLL_CHUNK_BITS 10
#define CIO__POLL_CHUNK_SLOTS (1u << CIO__POLL_CHUNK_BITS)
#define CIO__POLL_MAX_CHUNKS 16384u /* fds below 16M */

struct cio__poll_slot {
    atomic_uint seq;
    atomic_uint generation;
    atomic_uint interest;
    _Atomic cio_token token;
};

struct cio_poll {
    const struct cio__sys_ops *ops;
    struct cio__sys *sys;
    pthread_mutex_t lock; /* serialises writers of the table */
    _Atomic cio_token waker_token;
    atomic_bool has_waker;
    _Atomic(struct cio__poll_slot *) chunks[CIO__POLL_MAX_CHUNKS];
};

struct cio_events {
    cio_poll *poll;
    size_t capacity;
    size_t count;
    struct cio__sys_event *raw;
    cio_event *out;
};

static inline struct cio__poll_slot *cio__poll_slot_get(const cio_poll *poll, int fd)
{
    unsigned chunk = (unsigned)fd >> CIO__POLL_CHUNK_BITS;
    if (chunk >= CIO__POLL_MAX_CHUNKS)
        return NULL;
    struct cio__poll_slot *slots =
        atomic_load_explicit(&((cio_poll *)poll)->chunks[chunk], memory_order_acquire);
    return slots ? &slots[(unsigned)fd & (CIO__POLL_CHUNK_SLOTS - 1)] : NULL;
}

/* Reader side of the seqlock: a consistent (generation, token, interest). */
static inline void cio__poll_slot_read(struct cio__poll_slot *s, uint32_t *generation,
                                       cio_token *token, unsigned *interest)
{
    for (;;) {
        unsigned seq = atomic_load_explicit(&s->seq, memory_order_acquire);
        if (seq & 1)
            continue;
        *generation = atomic_load_explicit(&s->generation, memory_order_relaxed);
        *token = atomic_load_explicit(&s->token, memory_order_relaxed);
        *interest = atomic_load_explicit(&s->interest, memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&s->seq, memory_order_relaxed) == seq)
            return;
    }
}

/* The event for raw entry @i if its registration still stands, else NULL. */
static inline const cio_event *cio__events_resolve(cio_events *events, size_t i)
{
    const struct cio__sys_event *raw = &events->raw[i];
    cio_poll *poll = events->poll;
    cio_event *out = &events->out[i];
    if (raw->data == CIO__SYS_WAKE_DATA) {
        if (!atomic_load_explicit(&poll->has_waker, memory_order_acquire))
            return NULL;
        out->token = atomic_load_explicit(&poll->waker_token, memory_order_relaxed);
        out->flags = CIO_EVENT_READABLE;
        return out;
    }
    struct cio__poll_slot *s = cio__poll_slot_get(poll, (int)(uint32_t)raw->data);
    if (s == NULL)
        return NULL;
    uint32_t generation;
    unsigned interest;
    cio__poll_slot_read(s, &generation, &out->token, &interest);
    if (interest == 0 || generation != (uint32_t)(raw->data >> 32))
        return NULL;
    /* Readiness the registration did not ask for is dropped; conditions are always told. */
    uint32_t unasked = 0;
    if (!(interest & CIO_READABLE))
        unasked |= CIO_EVENT_READABLE;
    if (!(interest & CIO_WRITABLE))
        unasked |= CIO_EVENT_WRITABLE;
    if (!(interest & CIO_PRIORITY))
        unasked |= CIO_EVENT_PRIORITY;
    uint32_t flags = raw->flags & ~unasked;
    if (flags == 0)
        return NULL;
    out->flags = flags;
    return out;
}

/* cio_events_next() without its argument checks: the next event of the batch that still
 * stands, resolved when reached (so a registration removed meanwhile is skipped). */
static inline const cio_event *cio__events_next(cio_events *events, size_t *iter)
{
    while (*iter < events->count) {
        const cio_event *ev = cio__events_resolve(events, (*iter)++);
        if (ev != NULL)
            return ev;
    }
    return NULL;
}

#endif /* CIO_POLL_INTERNAL_H */
