/*
 * parker.c: the thread side of the parker (parker.h) — a thread outside the runtime waits on
 * its own condition variable (on the monotonic clock, so deadlines are cio_time values) until
 * it is unparked or the deadline passes.
 */
#include "rt/parker.h"

#include <errno.h>

void cio__parker_init_thread(struct cio__parker *p)
{
    pthread_condattr_t ca;
    pthread_mutex_init(&p->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cond, &ca);
    pthread_condattr_destroy(&ca);
}

void cio__parker_fini_thread(struct cio__parker *p)
{
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
}

void cio__parker_unpark_thread(struct cio__parker *p)
{
    pthread_mutex_lock(&p->lock);
    p->notified = true;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

int cio__parker_park_thread(struct cio__parker *p, cio_time deadline)
{
    int rc = 0;
    pthread_mutex_lock(&p->lock);
    while (!p->notified) {
        if (deadline == CIO_DEADLINE_NONE) {
            pthread_cond_wait(&p->cond, &p->lock);
        } else {
            struct timespec ts = {.tv_sec = deadline / CIO_NSEC_PER_SEC,
                                  .tv_nsec = deadline % CIO_NSEC_PER_SEC};
            if (pthread_cond_timedwait(&p->cond, &p->lock, &ts) == ETIMEDOUT && !p->notified) {
                rc = -ETIMEDOUT;
                break;
            }
        }
    }
    p->notified = false;
    pthread_mutex_unlock(&p->lock);
    return rc;
}
