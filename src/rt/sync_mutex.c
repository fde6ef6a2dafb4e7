/*
 * sync_mutex.c: cio_mutex (tokio's Mutex) — a state word for the uncontended case and a FIFO
 * of waiters under a pthread mutex for the rest:
 *
 *     state   LOCKED   held
 *             WAITERS  someone may be queued: unlock takes the slow path and hands off
 *
 *     lock, free:           CAS 0 -> LOCKED                    one read-modify-write
 *     unlock, no waiters:   CAS LOCKED -> 0                    one read-modify-write
 *     lock, held:           spin a little (it may be released at once), then under the
 *                           pthread mutex set WAITERS (or take it, freed meanwhile), queue,
 *                           park
 *     unlock, WAITERS:      under the pthread mutex hand ownership straight to the first
 *                           waiter (it never becomes free in between), or clear the word
 *
 * as many atomics as a pthread mutex when nobody waits, no park, no lock. Hand-off keeps the
 * queue fair: a task that unlocks and locks again at once goes behind the waiters instead of
 * taking the mutex back (a newcomer may take a free mutex while nobody is queued, like a
 * pthread mutex). A waiter cut short as ownership reached it passes it on the same way, so a
 * lock that returns an error holds nothing.
 *
 * The owner is the calling task, or for a plain thread the address of a thread-local byte:
 * both are unique while their owner lives, which is as long as it may hold the mutex. It is
 * written only by the thread that took the mutex (or the one that handed it over, under the
 * pthread mutex), read for the -EDEADLK and -EPERM checks.
 */
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "rt/sync_internal.h"
#include "util/assert.h"
#include "util/compiler.h"

enum { LOCK_GRANTED = 1 };
enum { LOCKED = 1u << 0, WAITERS = 1u << 1 };

/* Spins on a held mutex before queueing: about a microsecond, the length of a short critical
 * section on another thread; past that, parking is cheaper than burning the worker. */
#define SPIN_LIMIT 64

struct cio_mutex {
    atomic_uint state;
    _Atomic(const void *) owner; /* NULL: unlocked (or being handed over) */
    pthread_mutex_t lock;        /* the waiters, and WAITERS */
    struct cio__list waiters;    /* struct lock_waiter, FIFO */
};

struct lock_waiter {
    struct cio__sync_waiter base;
    const void *who;
};

static _Thread_local char thread_identity;

static const void *self_identity(void)
{
    cio_task *t = cio__task_self();
    return t != NULL ? (const void *)t : (const void *)&thread_identity;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

static inline bool try_take(cio_mutex *m)
{
    unsigned free_word = 0;
    return atomic_compare_exchange_strong_explicit(&m->state, &free_word, LOCKED,
                                                   memory_order_acquire, memory_order_relaxed);
}

static inline void set_owner(cio_mutex *m, const void *who)
{
    atomic_store_explicit(&m->owner, who, memory_order_relaxed);
}

int cio_mutex_new(cio_mutex **ret_mutex)
{
    if (ret_mutex == NULL)
        return -EINVAL;
    cio_mutex *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return -ENOMEM;
    atomic_init(&m->state, 0);
    atomic_init(&m->owner, NULL);
    pthread_mutex_init(&m->lock, NULL);
    cio__list_init(&m->waiters);
    *ret_mutex = m;
    return 0;
}

void cio_mutex_free(cio_mutex *mutex)
{
    if (mutex == NULL)
        return;
    cio__assert(atomic_load(&mutex->state) == 0 && cio__list_empty(&mutex->waiters));
    pthread_mutex_destroy(&mutex->lock);
    free(mutex);
}

/* Give the mutex to the first waiter, or leave it free. Under the lock, mutex held. */
static void hand_off(cio_mutex *m)
{
    struct cio__list *node = cio__list_first(&m->waiters);
    if (node == NULL) {
        set_owner(m, NULL);
        atomic_store_explicit(&m->state, 0, memory_order_release);
        return;
    }
    struct lock_waiter *w = cio__list_entry(node, struct lock_waiter, base.node);
    set_owner(m, w->who);
    /* Still LOCKED; WAITERS only while more are queued after this one. */
    atomic_store_explicit(&m->state, node->next != &m->waiters ? LOCKED | WAITERS : LOCKED,
                          memory_order_release);
    cio__sync_waiter_serve(&w->base, LOCK_GRANTED);
}

int cio_mutex_try_lock(cio_mutex *mutex)
{
    if (mutex == NULL)
        return -EINVAL;
    const void *me = self_identity();
    if (try_take(mutex)) {
        set_owner(mutex, me);
        return 0;
    }
    return atomic_load_explicit(&mutex->owner, memory_order_relaxed) == me ? -EDEADLK : -EAGAIN;
}

/* The mutex is held: spin briefly, then queue and park (FIFO hand-off). */
static cio__noinline int lock_slow(cio_mutex *m, const void *me)
{
    if (atomic_load_explicit(&m->owner, memory_order_relaxed) == me)
        return -EDEADLK;
    for (int i = 0; i < SPIN_LIMIT; i++) {
        unsigned s = atomic_load_explicit(&m->state, memory_order_relaxed);
        if (s & WAITERS)
            break; /* others queued: go behind them */
        if (s == 0 && try_take(m)) {
            set_owner(m, me);
            return 0;
        }
        cpu_relax();
    }
    /* Waiting: now a cancelled task (or one past its deadline) stops here. */
    int rc = cio__task_budget();
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&m->lock);
    unsigned s = atomic_load_explicit(&m->state, memory_order_relaxed);
    for (;;) {
        if (!(s & LOCKED)) {
            /* Freed meanwhile (with nobody queued, or all of them gone): take it. */
            if (atomic_compare_exchange_weak_explicit(&m->state, &s, s | LOCKED,
                                                      memory_order_acquire, memory_order_relaxed)) {
                set_owner(m, me);
                pthread_mutex_unlock(&m->lock);
                return 0;
            }
        } else if ((s & WAITERS) ||
                   atomic_compare_exchange_weak_explicit(
                       &m->state, &s, s | WAITERS, memory_order_relaxed, memory_order_relaxed)) {
            break; /* the unlock will see WAITERS and hand off under the lock */
        }
    }
    struct lock_waiter w = {.who = me};
    cio__sync_waiter_push(&m->waiters, &w.base);
    do
        rc = cio__sync_park(&m->lock, &w.base, CIO__WAIT_MUTEX);
    while (rc == 0 && w.base.status == SYNC_WAITING);
    if (rc < 0 && w.base.status == LOCK_GRANTED)
        hand_off(m); /* cut short as ownership arrived: pass it on, hold nothing */
    cio__sync_waiter_leave(&w.base);
    pthread_mutex_unlock(&m->lock);
    return rc;
}

int cio_mutex_lock(cio_mutex *mutex)
{
    if (mutex == NULL)
        return -EINVAL;
    if (cio__task_self() == NULL && cio__worker_current() != NULL)
        return -EPERM; /* a worker's own context must not wait */
    const void *me = self_identity();
    /* Free: take it, cancelled or not (taking a free mutex is not a wait). */
    if (try_take(mutex)) {
        set_owner(mutex, me);
        return 0;
    }
    return lock_slow(mutex, me);
}

int cio_mutex_unlock(cio_mutex *mutex)
{
    if (mutex == NULL)
        return -EINVAL;
    if (atomic_load_explicit(&mutex->owner, memory_order_relaxed) != self_identity())
        return -EPERM;
    set_owner(mutex, NULL);
    unsigned held = LOCKED;
    if (atomic_compare_exchange_strong_explicit(&mutex->state, &held, 0, memory_order_release,
                                                memory_order_relaxed))
        return 0;
    pthread_mutex_lock(&mutex->lock); /* WAITERS: hand it over */
    hand_off(mutex);
    pthread_mutex_unlock(&mutex->lock);
    return 0;
}
