/*
 * blocking.c: the blocking pool (see blocking.h).
 *
 * One mutex guards everything. Idle threads wait on `work` with the keep-alive as timeout.
 * A submitter that finds an idle thread takes it out of the idle count and adds a
 * "notification" before signalling, so two submits never count on the same idle thread and
 * a thread that wakes on its keep-alive timeout at that same moment still sees it has work.
 *
 * Threads are joinable and the pool joins every one of them without keeping a list: an
 * exiting thread records itself as `last_exited` and joins the thread that held that place
 * before it; shutdown waits for the thread count to reach zero and joins the last one, which
 * (transitively) means all of them have finished.
 */
#include "rt/blocking.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include "util/assert.h"
#include "util/compiler.h"

enum pool_state { POOL_RUNNING, POOL_STOPPING, POOL_STOPPED };

struct pool_thread {
    pthread_t thread;
    struct cio__blocking_pool *pool;
};

struct cio__blocking_pool {
    pthread_mutex_t lock;
    pthread_cond_t work;    /* idle threads wait here for a job (or shutdown) */
    pthread_cond_t stopped; /* shutdown waits here for threads == 0 / state STOPPED */
    struct cio__list queue; /* jobs not yet started, FIFO */
    struct pool_thread *last_exited;
    enum pool_state state;
    unsigned max_threads;
    unsigned threads;  /* live */
    unsigned idle;     /* waiting and not yet notified */
    unsigned notified; /* wake-ups handed to idle threads, not yet taken */
    unsigned running;
    size_t queued;
    uint64_t spawned, retired, completed, cancelled;
    cio_duration keep_alive;
    size_t stack_size;
};

/* The pool whose thread this is: lets shutdown refuse to wait for its own thread. */
static _Thread_local struct cio__blocking_pool *current_pool;

static struct timespec deadline_after(cio_duration span)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + span % CIO_NSEC_PER_SEC;
    ts.tv_sec += (time_t)(span / CIO_NSEC_PER_SEC + ns / CIO_NSEC_PER_SEC);
    ts.tv_nsec = (long)(ns % CIO_NSEC_PER_SEC);
    return ts;
}

/* The thread leaves: hand over to the join chain (see the file comment). Lock held. */
static void thread_exit_locked(struct cio__blocking_pool *pool, struct pool_thread *self,
                               struct pool_thread **ret_prev)
{
    pool->threads--;
    pool->retired++;
    *ret_prev = pool->last_exited;
    pool->last_exited = self;
    if (pool->threads == 0)
        pthread_cond_broadcast(&pool->stopped);
}

static void *worker_main(void *arg)
{
    struct pool_thread *self = arg;
    struct cio__blocking_pool *pool = self->pool;
    current_pool = pool;
    (void)pthread_setname_np(pthread_self(), "cio-blocking");

    pthread_mutex_lock(&pool->lock);
    for (;;) {
        struct cio__list *node = cio__list_pop_front(&pool->queue);
        if (node != NULL) {
            struct cio__blocking_job *job = cio__list_entry(node, struct cio__blocking_job, node);
            pool->queued--;
            pool->running++;
            pthread_mutex_unlock(&pool->lock);
            job->fn(job->arg);
            /* After this call the job may be gone: touch nothing of it. */
            job->complete(job, 0);
            pthread_mutex_lock(&pool->lock);
            pool->running--;
            pool->completed++;
            continue;
        }
        if (pool->state != POOL_RUNNING)
            break;

        /* Idle: wait for a notification, shutdown, or the end of the keep-alive. */
        pool->idle++;
        struct timespec deadline = deadline_after(pool->keep_alive);
        bool retire = false;
        for (;;) {
            int rc = pthread_cond_timedwait(&pool->work, &pool->lock, &deadline);
            if (pool->notified > 0) {
                /* The submitter already took us out of `idle`. */
                pool->notified--;
                break;
            }
            if (pool->state != POOL_RUNNING || rc == ETIMEDOUT) {
                pool->idle--;
                retire = true;
                break;
            }
        }
        if (retire)
            break;
    }
    struct pool_thread *prev;
    thread_exit_locked(pool, self, &prev);
    pthread_mutex_unlock(&pool->lock);
    /* From here on the pool may be freed: only the predecessor's record is touched. */
    if (prev != NULL) {
        pthread_join(prev->thread, NULL);
        free(prev);
    }
    return NULL;
}

/* Start one more thread. Lock held. */
static int spawn_locked(struct cio__blocking_pool *pool)
{
    struct pool_thread *thread = malloc(sizeof(*thread));
    if (thread == NULL)
        return -ENOMEM;
    thread->pool = pool;

    pthread_attr_t attr;
    int rc = pthread_attr_init(&attr);
    if (rc != 0) {
        free(thread);
        return -rc;
    }
    if (pool->stack_size != 0)
        rc = pthread_attr_setstacksize(&attr, pool->stack_size);
    if (rc == 0) {
        /* Pool threads take no asynchronous signals: those belong to the program's own
         * threads, and a handler running on a pool thread would surprise it. The new thread
         * inherits the mask in force at creation. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        rc = pthread_create(&thread->thread, &attr, worker_main, thread);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        free(thread);
        return -rc;
    }
    pool->threads++;
    pool->spawned++;
    return 0;
}

int cio__blocking_pool_new(struct cio__blocking_pool **ret_pool,
                           const struct cio__blocking_opts *opts)
{
    if (ret_pool == NULL)
        return -EINVAL;
    struct cio__blocking_pool *pool = calloc(1, sizeof(*pool));
    if (pool == NULL)
        return -ENOMEM;
    pool->max_threads = CIO__BLOCKING_DEFAULT_MAX_THREADS;
    pool->keep_alive = CIO__BLOCKING_DEFAULT_KEEP_ALIVE;
    if (opts != NULL) {
        if (opts->max_threads != 0)
            pool->max_threads = opts->max_threads;
        if (opts->keep_alive > 0)
            pool->keep_alive = opts->keep_alive;
        pool->stack_size = opts->stack_size;
    }
    cio__list_init(&pool->queue);
    pool->state = POOL_RUNNING;

    int rc = pthread_mutex_init(&pool->lock, NULL);
    if (rc != 0)
        goto fail_mutex;
    pthread_condattr_t attr;
    rc = pthread_condattr_init(&attr);
    if (rc != 0)
        goto fail_attr;
    /* The keep-alive is a span of time: measure it on the monotonic clock. */
    rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(&pool->work, &attr);
    if (rc == 0) {
        rc = pthread_cond_init(&pool->stopped, NULL);
        if (rc != 0)
            pthread_cond_destroy(&pool->work);
    }
    pthread_condattr_destroy(&attr);
    if (rc != 0)
        goto fail_attr;
    *ret_pool = pool;
    return 0;

fail_attr:
    pthread_mutex_destroy(&pool->lock);
fail_mutex:
    free(pool);
    return -rc;
}

int cio__blocking_submit(struct cio__blocking_pool *pool, struct cio__blocking_job *job)
{
    if (pool == NULL || job == NULL || job->fn == NULL || job->complete == NULL)
        return -EINVAL;
    pthread_mutex_lock(&pool->lock);
    if (pool->state != POOL_RUNNING) {
        pthread_mutex_unlock(&pool->lock);
        return -ECANCELED;
    }
    cio__list_push_back(&pool->queue, &job->node);
    pool->queued++;
    int rc = 0;
    if (pool->idle > 0) {
        pool->idle--;
        pool->notified++;
        pthread_cond_signal(&pool->work);
    } else if (pool->threads < pool->max_threads) {
        rc = spawn_locked(pool);
        /* With other threads alive the job still runs when one of them is free. */
        if (rc < 0 && pool->threads > 0)
            rc = 0;
        if (rc < 0) {
            cio__list_remove(&job->node);
            pool->queued--;
        }
    }
    pthread_mutex_unlock(&pool->lock);
    return rc;
}

int cio__blocking_pool_shutdown(struct cio__blocking_pool *pool)
{
    if (pool == NULL)
        return -EINVAL;
    if (current_pool == pool)
        return -EDEADLK;

    pthread_mutex_lock(&pool->lock);
    if (pool->state != POOL_RUNNING) {
        /* Someone else is stopping it: wait until they are done. */
        while (pool->state != POOL_STOPPED)
            pthread_cond_wait(&pool->stopped, &pool->lock);
        pthread_mutex_unlock(&pool->lock);
        return 0;
    }
    pool->state = POOL_STOPPING;
    struct cio__list dropped = CIO__LIST_HEAD_INIT(dropped);
    cio__list_splice_back(&dropped, &pool->queue);
    pool->cancelled += pool->queued;
    pool->queued = 0;
    pthread_cond_broadcast(&pool->work);
    pthread_mutex_unlock(&pool->lock);

    /* Without the lock: a completion may take its own locks or touch the pool (a submit
     * now fails with -ECANCELED). */
    struct cio__list *node;
    while ((node = cio__list_pop_front(&dropped)) != NULL) {
        struct cio__blocking_job *job = cio__list_entry(node, struct cio__blocking_job, node);
        job->complete(job, -ECANCELED);
    }

    pthread_mutex_lock(&pool->lock);
    while (pool->threads > 0)
        pthread_cond_wait(&pool->stopped, &pool->lock);
    struct pool_thread *last = pool->last_exited;
    pool->last_exited = NULL;
    pthread_mutex_unlock(&pool->lock);
    if (last != NULL) {
        pthread_join(last->thread, NULL);
        free(last);
    }

    pthread_mutex_lock(&pool->lock);
    pool->state = POOL_STOPPED;
    pthread_cond_broadcast(&pool->stopped);
    pthread_mutex_unlock(&pool->lock);
    return 0;
}

void cio__blocking_pool_free(struct cio__blocking_pool *pool)
{
    if (pool == NULL)
        return;
    int rc = cio__blocking_pool_shutdown(pool);
    /* Freeing the pool from its own thread would free memory the thread still uses. */
    cio__assert(rc == 0);
    if (rc != 0)
        return;
    cio__assert(cio__list_empty(&pool->queue) && pool->threads == 0);
    pthread_cond_destroy(&pool->stopped);
    pthread_cond_destroy(&pool->work);
    pthread_mutex_destroy(&pool->lock);
    free(pool);
}

void cio__blocking_pool_stats(struct cio__blocking_pool *pool,
                              struct cio__blocking_stats *ret_stats)
{
    pthread_mutex_lock(&pool->lock);
    ret_stats->threads = pool->threads;
    ret_stats->idle = pool->idle + pool->notified;
    ret_stats->running = pool->running;
    ret_stats->queued = pool->queued;
    ret_stats->spawned = pool->spawned;
    ret_stats->retired = pool->retired;
    ret_stats->completed = pool->completed;
    ret_stats->cancelled = pool->cancelled;
    pthread_mutex_unlock(&pool->lock);
}
