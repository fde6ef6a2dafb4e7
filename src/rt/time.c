/*
 * time.c: the task-facing side of time — sleeping, deadlines and intervals. Sleeping is a
 * park whose deadline is the wake-up time: the worker's timer wheel (timer.c) ends it.
 */
#include <errno.h>

#include "rt/sched.h"

int cio_sleep_until(cio_time when)
{
    cio_task *t = cio__task_self();
    if (t == NULL)
        return -EPERM;
    if (when <= cio_now())
        return cio_yield();
    for (;;) {
        cio__task_set_wait(t, CIO__WAIT_SLEEP); /* for the task dump */
        int rc = cio__task_park(when);
        cio__task_set_wait(t, CIO__WAIT_NONE);
        if (rc == -ETIMEDOUT && when <= t->deadline && cio_now() >= when)
            return 0; /* our own wake-up time, not the task's deadline */
        if (rc < 0)
            return rc;
        /* Woken by something else (a spurious wake): keep sleeping. */
    }
}

int cio_sleep(cio_duration duration)
{
    if (cio__task_self() == NULL)
        return -EPERM;
    if (duration <= 0)
        return cio_yield();
    cio_time now = cio_now();
    return cio_sleep_until(duration > INT64_MAX - now ? CIO_DEADLINE_NONE - 1 : now + duration);
}

cio_time cio_deadline_set(cio_time deadline)
{
    cio_task *t = cio__task_self();
    if (t == NULL)
        return CIO_DEADLINE_NONE;
    cio_time saved = t->deadline;
    if (deadline < saved)
        t->deadline = deadline;
    return saved;
}

void cio_deadline_restore(cio_time saved)
{
    cio_task *t = cio__task_self();
    if (t != NULL)
        t->deadline = saved;
}

cio_time cio_deadline(void)
{
    return cio__task_deadline();
}

int cio_interval_init(cio_interval *interval, cio_duration period)
{
    if (interval == NULL || period <= 0)
        return -EINVAL;
    interval->period = period;
    interval->next = cio_now() + period;
    return 0;
}

int cio_interval_tick(cio_interval *interval)
{
    if (interval == NULL || interval->period <= 0)
        return -EINVAL;
    int rc = cio_sleep_until(interval->next);
    if (rc < 0)
        return rc;
    cio_time now = cio_now();
    int64_t ticks = 1;
    if (now >= interval->next + interval->period)
        ticks += (now - interval->next) / interval->period;
    interval->next += ticks * interval->period;
    return ticks > INT32_MAX ? INT32_MAX : (int)ticks;
}
