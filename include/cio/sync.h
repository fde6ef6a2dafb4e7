/*
 * cio/sync.h: synchronisation between tasks (tokio::sync in C) — a notification (cio_notify),
 * a bounded multi-producer channel of fixed-size items (cio_chan_sender / cio_chan_receiver),
 * an async mutex (cio_mutex) and a counting semaphore (cio_sem). Every object is thread safe:
 * tasks on different workers of a multi-thread runtime, and plain threads outside any
 * runtime, may use one object at once.
 *
 * Waiting. A call that must wait suspends the calling task (other tasks of its worker keep
 * running); called from a plain thread outside the runtime, it blocks that thread. From a
 * task, waiting ends early with the rules of cio/rt.h:
 *   -ECANCELED  the task has been cancelled (checked on entry too: a cancelled task gets
 *               -ECANCELED at once from every waiting call, even when it would not wait —
 *               except cio_mutex_lock(), which takes a free mutex: see there),
 *   -ETIMEDOUT  the task's deadline (cio_deadline_set) passed while it waited. A call that
 *               can complete without waiting does so even past the deadline: deadlines
 *               bound waiting, not work.
 * A plain thread has no deadline and cannot be cancelled. A worker's own context (code run by
 * the reactor outside any task) must not block: waiting calls there return -EPERM; the try_*
 * calls work everywhere. Each waiting call spends one unit of the task's cooperative budget,
 * so a task that never has to wait still lets its worker's other tasks run.
 *
 * Cancel safety. A waiting call that returns -ECANCELED or -ETIMEDOUT has taken nothing and
 * left nothing half done: no notification, item, lock or permit was consumed. When the thing
 * it waited for was handed to it at the same moment, it is handed on to the next waiter (or
 * put back), so nothing is lost. The one exception is cio_chan_send(): an item already
 * placed in the channel cannot be taken back, so that call reports success (0).
 *
 * Fairness. Waiters are served in arrival order (FIFO) by every object here, and a newcomer
 * does not overtake waiters already queued.
 *
 *     cio_chan_sender *tx;  cio_chan_receiver *rx;
 *     cio_chan_new(&tx, &rx, 64, sizeof(struct job));
 *     // producer task:                      // consumer task:
 *     struct job j = {...};                  struct job j;
 *     cio_chan_send(tx, &j);                 while (cio_chan_recv(rx, &j) == 1)
 *     cio_chan_sender_free(tx);                  handle(&j);
 *                                            cio_chan_receiver_free(rx);
 */
#ifndef CIO_SYNC_H
#define CIO_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cio/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- notify ---- */

typedef struct cio_notify cio_notify;

/**
 * cio_notify_new() - a notification object (tokio's Notify): tasks or threads wait on it,
 * others wake one of them or all of them. It holds at most one stored permit.
 * @ret_notify: receives the object, written only on success.
 *
 * Return: 0; -EINVAL; -ENOMEM.
 */
CIO_EXPORT int cio_notify_new(cio_notify **ret_notify);

/**
 * cio_notify_free() - release the object. NULL is allowed. No one may be waiting on it or
 * using it any more.
 */
CIO_EXPORT void cio_notify_free(cio_notify *notify);

/**
 * cio_notify_one() - wake the longest-waiting waiter; when nobody waits, store the permit so
 * the next cio_notify_wait() returns at once. Permits do not accumulate: several calls with
 * nobody waiting store one permit. Never blocks; any thread, any context.
 *
 * Return: 0; -EINVAL for NULL.
 */
CIO_EXPORT int cio_notify_one(cio_notify *notify);

/**
 * cio_notify_waiters() - wake every current waiter (those that were waiting when the call
 * was made). Stores no permit and leaves an already stored permit alone. Never blocks; any
 * thread, any context.
 *
 * Return: 0; -EINVAL for NULL.
 */
CIO_EXPORT int cio_notify_waiters(cio_notify *notify);

/**
 * cio_notify_wait() - wait for a notification (tokio's Notified). Takes the stored permit
 * and returns at once if there is one; otherwise waits (FIFO among waiters) for
 * cio_notify_one() or cio_notify_waiters().
 *
 * Cancel safe: on -ECANCELED/-ETIMEDOUT no notification was consumed; a cio_notify_one() that
 * picked this waiter just as it was cut short is passed to the next waiter, or stored as the
 * permit.
 *
 * Return: 0 when notified; -ECANCELED; -ETIMEDOUT; -EPERM in a worker's own context; -EINVAL.
 */
CIO_EXPORT int cio_notify_wait(cio_notify *notify);

/* ---- channel ---- */

typedef struct cio_chan_sender cio_chan_sender;
typedef struct cio_chan_receiver cio_chan_receiver;

/**
 * cio_chan_new() - a bounded channel (tokio's mpsc::channel) of items of @elem_size bytes,
 * copied in by the senders and out by the receiver, delivered in the order they were sent.
 * @ret_tx: receives the first sender handle (clone it for more producers).
 * @ret_rx: receives the receiver handle.
 * @capacity: items the channel holds before cio_chan_send() waits; at least 1.
 * @elem_size: the size of one item; 0 makes a channel of signals (item pointers may be NULL).
 *
 * The channel lives until the receiver and every sender have been freed. It closes in two
 * ways, as tokio's does:
 *  - the receiver closes (cio_chan_receiver_close/_free): sends fail with -EPIPE (waiting
 *    senders are woken with it); items already in the channel can still be received.
 *  - the last sender is freed: the receiver gets the remaining items, then 0 (end).
 *
 * Return: 0 (both handles written); -EINVAL (NULL, @capacity 0, size overflow); -ENOMEM.
 */
CIO_EXPORT int cio_chan_new(cio_chan_sender **ret_tx, cio_chan_receiver **ret_rx, size_t capacity,
                            size_t elem_size);

/**
 * cio_chan_sender_clone() - another sender handle on the same channel. Each handle is freed
 * with cio_chan_sender_free() exactly once. Any thread.
 * @ret_tx: receives the new handle, written only on success.
 *
 * Return: 0; -EINVAL; -ENOMEM.
 */
CIO_EXPORT int cio_chan_sender_clone(cio_chan_sender *tx, cio_chan_sender **ret_tx);

/**
 * cio_chan_sender_free() - drop one sender handle (tokio's Sender drop). When it was the last
 * one, the receiver sees the end of the channel once it has taken the remaining items. NULL
 * is allowed. No call on @tx may be running or come later. Any thread.
 */
CIO_EXPORT void cio_chan_sender_free(cio_chan_sender *tx);

/**
 * cio_chan_send() - copy the item at @item into the channel, waiting while it is full.
 * Senders that wait are served first come, first served: a later send cannot overtake them,
 * and items from one sender arrive in the order it sent them. Several tasks/threads may send
 * through one handle at once.
 *
 * Cancel safe: on -ECANCELED/-ETIMEDOUT the item was not enqueued (send it again later). An
 * item that was placed in the channel as the wait was cut short counts as sent: 0.
 *
 * Return: 0 when the item is in the channel; -EPIPE if the receiver has closed (the item was
 * not enqueued); -ECANCELED; -ETIMEDOUT; -EPERM in a worker's own context; -EINVAL.
 */
CIO_EXPORT int cio_chan_send(cio_chan_sender *tx, const void *item);

/**
 * cio_chan_try_send() - cio_chan_send() without waiting. Never blocks; any context.
 *
 * Return: 0; -EAGAIN when the channel is full (or senders are already waiting for room);
 * -EPIPE if the receiver has closed; -EINVAL.
 */
CIO_EXPORT int cio_chan_try_send(cio_chan_sender *tx, const void *item);

/**
 * cio_chan_sender_is_closed() - true once the receiver has closed (sends fail with -EPIPE),
 * and for NULL. Never blocks; any thread.
 */
CIO_EXPORT bool cio_chan_sender_is_closed(const cio_chan_sender *tx);

/**
 * cio_chan_recv() - take the oldest item, copying it to @item, waiting while the channel is
 * empty. Meant for one consumer, but safe when several tasks/threads receive at once.
 *
 * Cancel safe: on -ECANCELED/-ETIMEDOUT no item was taken (the next recv gets it).
 *
 * Return: 1 with an item in @item; 0 when the channel is closed and empty (every sender is
 * gone, or the receiver has closed) — @item untouched; -ECANCELED; -ETIMEDOUT; -EPERM in a
 * worker's own context; -EINVAL.
 */
CIO_EXPORT int cio_chan_recv(cio_chan_receiver *rx, void *item);

/**
 * cio_chan_try_recv() - cio_chan_recv() without waiting. Never blocks; any context.
 *
 * Return: 1 with an item; 0 when closed and empty; -EAGAIN when empty but still open;
 * -EINVAL.
 */
CIO_EXPORT int cio_chan_try_recv(cio_chan_receiver *rx, void *item);

/**
 * cio_chan_receiver_close() - stop the channel from the receiving side (tokio's
 * Receiver::close): senders, waiting or not, get -EPIPE from then on; items already in the
 * channel stay and can be received, after which cio_chan_recv() returns 0. Idempotent. Any
 * thread.
 *
 * Return: 0; -EINVAL.
 */
CIO_EXPORT int cio_chan_receiver_close(cio_chan_receiver *rx);

/**
 * cio_chan_receiver_free() - close (as cio_chan_receiver_close) and drop the receiver handle;
 * items still in the channel are discarded. NULL is allowed. No call on @rx may be running or
 * come later.
 */
CIO_EXPORT void cio_chan_receiver_free(cio_chan_receiver *rx);

/* ---- mutex ---- */

/*
 * Which lock? (tokio's advice, which holds here too.)
 *  - A plain pthread_mutex_t (or a spin lock, or an atomic) when the critical section never
 *    suspends: no read, write, sleep, join, channel or other cio call that may wait between
 *    lock and unlock. It is the cheaper tool, and under contention the faster one: a short
 *    section is over before a waiter could be parked and woken. On a multi-thread runtime a
 *    task may move to another thread at any suspension (cio/rt.h), and a pthread mutex must
 *    be unlocked by the thread that locked it: so never hold one across a suspension — that
 *    is also what keeps it from blocking a worker while its holder waits.
 *  - cio_mutex when the lock must be held across a suspension (write a reply to a shared
 *    socket, then update shared state; hold a connection from a pool while using it). Its
 *    owner is the task, wherever it runs; a waiter suspends instead of blocking its worker.
 *    Uncontended, it costs what a pthread mutex does (one compare-and-swap to lock, one to
 *    unlock, no system call); a waiter spins briefly, then queues (FIFO) and parks.
 */

typedef struct cio_mutex cio_mutex;

/**
 * cio_mutex_new() - an async mutex (tokio's Mutex): waiting for it suspends the task instead
 * of blocking the worker, so it may be held across suspending calls (see above for when a
 * plain mutex is the better tool). Ownership passes to waiters in FIFO order (hand-off on
 * unlock), so no waiter starves.
 * @ret_mutex: receives the mutex, written only on success.
 *
 * Return: 0; -EINVAL; -ENOMEM.
 */
CIO_EXPORT int cio_mutex_new(cio_mutex **ret_mutex);

/**
 * cio_mutex_free() - release the mutex. NULL is allowed. It must be unlocked, with nobody
 * waiting.
 */
CIO_EXPORT void cio_mutex_free(cio_mutex *mutex);

/**
 * cio_mutex_lock() - acquire the mutex, waiting (FIFO) while another task or thread holds it.
 * The owner is the calling task (or, outside the runtime, the calling thread); only the owner
 * may unlock.
 *
 * A free mutex is taken at once (one compare-and-swap) even by a cancelled task or one past
 * its deadline: taking it is not a wait, and the task's next suspending call reports the
 * cancellation — so cleanup code that must lock a free mutex can. Only waiting for a held
 * mutex ends with -ECANCELED or -ETIMEDOUT. A held mutex is first watched for a moment (a
 * short spin: it is often released at once), then the caller queues and suspends.
 *
 * Cancel safe: on -ECANCELED/-ETIMEDOUT the mutex was not acquired (a hand-off that reached
 * this waiter as it was cut short goes to the next waiter).
 *
 * Return: 0 when acquired; -EDEADLK if the caller already holds it; -ECANCELED or -ETIMEDOUT
 * (only when it had to wait); -EPERM in a worker's own context; -EINVAL.
 */
CIO_EXPORT int cio_mutex_lock(cio_mutex *mutex);

/**
 * cio_mutex_try_lock() - acquire the mutex if it is free and nobody waits. Never blocks.
 *
 * Return: 0; -EAGAIN when held or contended; -EDEADLK if the caller already holds it; -EINVAL.
 */
CIO_EXPORT int cio_mutex_try_lock(cio_mutex *mutex);

/**
 * cio_mutex_unlock() - release the mutex; the longest waiter, if any, becomes the owner.
 * From the owning task (or thread) only. Never blocks.
 *
 * Return: 0; -EPERM if the caller does not hold it; -EINVAL.
 */
CIO_EXPORT int cio_mutex_unlock(cio_mutex *mutex);

/* ---- semaphore ---- */

typedef struct cio_sem cio_sem;

/* The most permits a semaphore holds, and the most one call may acquire or release. */
#define CIO_SEM_MAX_PERMITS (SIZE_MAX >> 3)

/**
 * cio_sem_new() - a counting semaphore (tokio's Semaphore), fair: waiters are served in FIFO
 * order, and a waiter that needs many permits holds back the ones queued behind it.
 * @ret_sem: receives the semaphore, written only on success.
 * @permits: the initial number of permits (at most CIO_SEM_MAX_PERMITS).
 *
 * Return: 0; -EINVAL; -ENOMEM.
 */
CIO_EXPORT int cio_sem_new(cio_sem **ret_sem, size_t permits);

/**
 * cio_sem_free() - release the semaphore. NULL is allowed. Nobody may be waiting on it.
 */
CIO_EXPORT void cio_sem_free(cio_sem *sem);

/**
 * cio_sem_acquire() - take @n permits, waiting (FIFO) until they are available. @n 0
 * succeeds at once (unless closed). Permits are not owned: any task or thread may release
 * them.
 *
 * Cancel safe: on -ECANCELED/-ETIMEDOUT no permit was taken (permits granted to this waiter
 * as it was cut short are put back and handed on).
 *
 * Return: 0; -EPIPE once the semaphore is closed (waiting callers are woken with it);
 * -ECANCELED; -ETIMEDOUT; -EPERM in a worker's own context; -EINVAL (@n above
 * CIO_SEM_MAX_PERMITS).
 */
CIO_EXPORT int cio_sem_acquire(cio_sem *sem, size_t n);

/**
 * cio_sem_try_acquire() - take @n permits if they are available and nobody waits. Never
 * blocks.
 *
 * Return: 0; -EAGAIN; -EPIPE when closed; -EINVAL.
 */
CIO_EXPORT int cio_sem_try_acquire(cio_sem *sem, size_t n);

/**
 * cio_sem_release() - add @n permits and wake the waiters they satisfy, in order. Never
 * blocks; any thread, any context.
 *
 * Return: 0; -EOVERFLOW if the count would exceed CIO_SEM_MAX_PERMITS (nothing added);
 * -EINVAL.
 */
CIO_EXPORT int cio_sem_release(cio_sem *sem, size_t n);

/**
 * cio_sem_close() - close the semaphore: waiting and later acquires fail with -EPIPE.
 * Releases are still counted. Idempotent; any thread.
 *
 * Return: 0; -EINVAL.
 */
CIO_EXPORT int cio_sem_close(cio_sem *sem);

/**
 * cio_sem_available() - the permits available right now (a snapshot).
 */
CIO_EXPORT size_t cio_sem_available(const cio_sem *sem);

#ifdef __cplusplus
}
#endif

#endif /* CIO_SYNC_H */
