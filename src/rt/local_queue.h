/*
 * local_queue.h: a worker's queue of tasks that may migrate (private) — a bounded ring that
 * its worker pushes at the tail and takes from at the head, and that idle workers steal
 * half of (tokio's local queue, simplified: a stealer copies its half out and claims it with
 * one compare-and-swap on the head, so it never blocks the owner).
 *
 *     head (CAS: owner pop, stealers)     tail (owner only, published with release)
 *       v                                   v
 *     [ t0 | t1 | t2 | ... |    free    ]   tail - head <= CAPACITY
 *
 * The owner pushes with two plain stores and a release store (no read-modify-write); a pop
 * is one compare-and-swap, since a stealer may take the same slot. A slot in [head, tail) is
 * rewritten only after the head has moved past it, so a stealer whose CAS succeeds read the
 * slots it claims before anyone could reuse them; one whose head was stale fails and retries.
 * The counters are 32-bit and run free (an ABA needs 2^32 operations between a stealer's
 * read and its CAS).
 */
#ifndef CIO_RT_LOCAL_QUEUE_H
#define CIO_RT_LOCAL_QUEUE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cio/rt.h"

#define CIO__LOCAL_QUEUE_CAPACITY 256u
#define CIO__LOCAL_QUEUE_MASK (CIO__LOCAL_QUEUE_CAPACITY - 1u)

struct cio__local_queue {
    _Alignas(64) _Atomic uint32_t head;
    _Atomic uint32_t tail;
    _Atomic(cio_task *) slots[CIO__LOCAL_QUEUE_CAPACITY];
};

static inline void cio__local_queue_init(struct cio__local_queue *q)
{
    atomic_init(&q->head, 0);
    atomic_init(&q->tail, 0);
    for (unsigned i = 0; i < CIO__LOCAL_QUEUE_CAPACITY; i++)
        atomic_init(&q->slots[i], NULL);
}

/* Tasks queued (exact for the owner; a hint for anyone else). */
static inline uint32_t cio__local_queue_len(const struct cio__local_queue *q)
{
    uint32_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);
    uint32_t head = atomic_load_explicit(&q->head, memory_order_acquire);
    uint32_t n = tail - head;
    return n > CIO__LOCAL_QUEUE_CAPACITY ? 0 : n;
}

/* Owner: queue @t at the tail. False when full (the caller puts it elsewhere). */
static inline bool cio__local_queue_push(struct cio__local_queue *q, cio_task *t)
{
    uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
    uint32_t head = atomic_load_explicit(&q->head, memory_order_acquire);
    if (tail - head >= CIO__LOCAL_QUEUE_CAPACITY)
        return false;
    atomic_store_explicit(&q->slots[tail & CIO__LOCAL_QUEUE_MASK], t, memory_order_relaxed);
    atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
    return true;
}

/* Owner: take the task at the head, or NULL. */
static inline cio_task *cio__local_queue_pop(struct cio__local_queue *q)
{
    uint32_t head = atomic_load_explicit(&q->head, memory_order_acquire);
    uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
    while (head != tail) {
        cio_task *t =
            atomic_load_explicit(&q->slots[head & CIO__LOCAL_QUEUE_MASK], memory_order_relaxed);
        if (atomic_compare_exchange_weak_explicit(&q->head, &head, head + 1, memory_order_acq_rel,
                                                  memory_order_acquire))
            return t;
    }
    return NULL;
}

/* Any thread but the owner: take half of @q's tasks (rounded up, at most @max) into @out.
 * Returns how many. */
static inline unsigned cio__local_queue_steal(struct cio__local_queue *q, cio_task **out,
                                              unsigned max)
{
    uint32_t head = atomic_load_explicit(&q->head, memory_order_acquire);
    for (;;) {
        uint32_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);
        uint32_t n = tail - head;
        if (n == 0)
            return 0;
        if (n > CIO__LOCAL_QUEUE_CAPACITY) { /* @head went stale meanwhile */
            head = atomic_load_explicit(&q->head, memory_order_acquire);
            continue;
        }
        n -= n / 2;
        if (n > max)
            n = max;
        for (uint32_t i = 0; i < n; i++)
            out[i] = atomic_load_explicit(&q->slots[(head + i) & CIO__LOCAL_QUEUE_MASK],
                                          memory_order_relaxed);
        if (atomic_compare_exchange_weak_explicit(&q->head, &head, head + n, memory_order_acq_rel,
                                                  memory_order_acquire))
            return n;
    }
}

#endif
