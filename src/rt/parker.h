/*
 * parker.h: the one wait primitive everything in cio uses (private) — joins, sleeps, channels,
 * blocking calls, signals. A parker is either the calling task (parking it is the scheduler's
 * park, waking it the scheduler's wake: sched.h) or, for a thread outside the runtime, a mutex
 * and a condition variable, so the same waiter lists serve tasks and plain threads.
 *
 *     struct cio__parker p;
 *     cio__parker_init(&p);            // the caller: its task, or its thread
 *     ... register &p as a waiter, unlock ...
 *     rc = cio__parker_park(&p, CIO_DEADLINE_NONE);   // 0 (maybe spurious), -ECANCELED,
 *     ... re-lock, check the condition ...            // -ETIMEDOUT
 *     cio__parker_fini(&p);
 *
 * and from any thread: cio__parker_unpark(&p).
 */
#ifndef CIO_RT_PARKER_H
#define CIO_RT_PARKER_H

#include <pthread.h>
#include <stdbool.h>

#include "rt/sched.h"

/* Something that can be woken: a task, or a thread outside the runtime blocked on a
 * condition variable. Waiter lists hold these. */
struct cio__parker {
    cio_task *task; /* NULL: a thread parker */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool notified;
};

/* The thread side of the functions below (parker.c). */
void cio__parker_init_thread(struct cio__parker *parker);
void cio__parker_fini_thread(struct cio__parker *parker);
void cio__parker_unpark_thread(struct cio__parker *parker);
int cio__parker_park_thread(struct cio__parker *parker, cio_time deadline);

/* A parker for the calling context: the current task, or a thread parker. Inline: every
 * suspending operation makes one, and a task's is two stores. */
static inline void cio__parker_init(struct cio__parker *parker)
{
    parker->task = cio__task_self();
    parker->notified = false;
    if (parker->task == NULL)
        cio__parker_init_thread(parker);
}

static inline void cio__parker_fini(struct cio__parker *parker)
{
    if (parker->task == NULL)
        cio__parker_fini_thread(parker);
}

/* Wake the parker's owner. Any thread. */
static inline void cio__parker_unpark(struct cio__parker *parker)
{
    if (parker->task != NULL)
        cio__task_wake(parker->task);
    else
        cio__parker_unpark_thread(parker);
}

/* Suspend until unparked, the deadline, or (tasks) cancellation: 0, -ETIMEDOUT, -ECANCELED.
 * May return 0 spuriously: re-check the condition. */
static inline int cio__parker_park(struct cio__parker *parker, cio_time deadline)
{
    if (parker->task != NULL)
        return cio__task_park(deadline);
    return cio__parker_park_thread(parker, deadline);
}

/* cio__parker_park(), saying what the task waits for while it does (the task dump). */
static inline int cio__parker_park_for(struct cio__parker *parker, cio_time deadline,
                                       enum cio__wait_kind what)
{
    if (parker->task == NULL)
        return cio__parker_park_thread(parker, deadline);
    cio__task_set_wait(parker->task, what);
    int rc = cio__task_park(deadline);
    cio__task_set_wait(parker->task, CIO__WAIT_NONE);
    return rc;
}

#endif
