/*
 * runtime.c: the runtime's lifecycle — create it with its workers, run block_on (on the
 * calling thread for the current-thread flavour; on worker threads for the multi-thread one,
 * the caller waiting like any thread outside the runtime), shut it down and free it; and the
 * spawn calls, which pick a worker and hand the new task to it.
 *
 *     cio_rt_new      workers set up (reactor, waker, timer wheel each); no thread yet
 *     block_on        multi-thread: worker threads started (once); the main task spawned on
 *                     worker 0 and waited for
 *     cio_rt_shutdown every worker cancels its tasks; new spawns fail
 *     cio_rt_free     shutdown, then every task's cleanup runs to its end, threads joined,
 *                     workers torn down; the stack home lives on while a join handle does
 */
#include "rt/runtime.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "rt/stack.h"

#define DEFAULT_EVENT_INTERVAL 61
#define MAX_IDLE_SAVE ((cio_duration)1 << 60) /* 36 years */
#define DEFAULT_BUDGET 128

cio_rt *cio_rt_current(void)
{
    struct cio__worker *w = cio__worker_current();
    return w ? w->rt : NULL;
}

unsigned cio_rt_workers(const cio_rt *rt)
{
    return rt ? rt->nworkers : 0;
}

int cio_rt_worker_index(void)
{
    struct cio__worker *w = cio__worker_current();
    return w != NULL ? (int)w->index : -1;
}

static size_t live_tasks(cio_rt *rt)
{
    size_t live = 0;
    for (unsigned i = 0; i < rt->workers_initialised; i++)
        live += cio__worker_live(&rt->workers[i]);
    return live;
}

int cio_rt_new(cio_rt **ret_rt, const cio_rt_options *opts)
{
    static const cio_rt_options defaults = {0};
    if (ret_rt == NULL)
        return -EINVAL;
    if (opts == NULL)
        opts = &defaults;
    if (opts->flavor != CIO_RT_CURRENT_THREAD && opts->flavor != CIO_RT_MULTI_THREAD)
        return -EINVAL;
    unsigned nworkers = 1;
    if (opts->flavor == CIO_RT_MULTI_THREAD) {
        nworkers = opts->workers;
        if (nworkers == 0) {
            long cpus = sysconf(_SC_NPROCESSORS_ONLN);
            nworkers = cpus > 0 ? (unsigned)cpus : 1;
        }
        if (nworkers > 1024)
            return -EINVAL;
    }
    size_t stack_size;
    int rc = cio__stack_size_round(opts->stack_size, CIO__STACK_DEFAULT_SIZE, &stack_size);
    if (rc < 0)
        return rc;

    cio_rt *rt = calloc(1, sizeof(*rt));
    if (rt == NULL)
        return -ENOMEM;
    rt->flavor = opts->flavor;
    rt->nworkers = nworkers;
    rt->blocking_opts.max_threads = opts->blocking_threads;
    rt->blocking_opts.keep_alive = opts->blocking_idle;
    pthread_mutex_init(&rt->lock, NULL);
    rt->workers = calloc(nworkers, sizeof(*rt->workers));
    if (rt->workers == NULL) {
        cio_rt_free(rt);
        return -ENOMEM;
    }
    /* One worker has nobody to share with: its tasks stay pinned, at no cost. */
    cio__sched_shared_init(&rt->sched, rt->workers, nworkers,
                           opts->flavor == CIO_RT_MULTI_THREAD && nworkers > 1 &&
                               !opts->no_stealing);
    rt->sched_initialised = true;
    rc = cio__task_home_new(&rt->home, stack_size);
    struct cio__worker_config config = {
        .shared = &rt->sched,
        .backend = opts->backend,
        .budget = opts->budget ? opts->budget : DEFAULT_BUDGET,
        .event_interval = opts->event_interval ? opts->event_interval : DEFAULT_EVENT_INTERVAL,
        .idle_save = opts->idle_save <= 0              ? 0             /* off, the default */
                     : opts->idle_save > MAX_IDLE_SAVE ? MAX_IDLE_SAVE /* no overflow at now + it */
                                                       : opts->idle_save,
    };
    for (unsigned i = 0; rc == 0 && i < nworkers; i++) {
        rc = cio__worker_init(&rt->workers[i], rt, i, &config);
        rt->workers_initialised = i + 1;
    }
    if (rc < 0) {
        cio_rt_free(rt);
        return rc;
    }
    *ret_rt = rt;
    return 0;
}

static void *worker_thread(void *arg)
{
    struct cio__worker *w = arg;
    if (cio__worker_enter(w) == 0) {
        cio__worker_run(w, NULL);
        cio__worker_leave(w);
    }
    return NULL;
}

/* Multi-thread: start the worker threads (once). Called with rt->lock held. */
static int start_threads(cio_rt *rt)
{
    if (rt->threads_started)
        return 0;
    sigset_t all, old;
    sigfillset(&all);
    /* Workers start with asynchronous signals blocked: they go to the program's own threads,
     * and cio_signal_wait() receives them through its handler. Faults stay deliverable: Linux
     * kills a thread that faults with SIGSEGV blocked, and the stack-overflow report needs
     * the handler to run. */
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGILL);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGTRAP);
    sigdelset(&all, SIGABRT);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = 0;
    for (unsigned i = 0; i < rt->nworkers; i++) {
        rc = -pthread_create(&rt->workers[i].thread, NULL, worker_thread, &rt->workers[i]);
        if (rc < 0)
            break;
        rt->threads_started = i + 1;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

int cio_rt_block_on(cio_rt *rt, cio_task_fn fn, void *arg, void **ret_result)
{
    if (rt == NULL || fn == NULL)
        return -EINVAL;
    if (cio__worker_current() != NULL)
        return -EBUSY;
    pthread_mutex_lock(&rt->lock);
    if (rt->in_block_on) {
        pthread_mutex_unlock(&rt->lock);
        return -EBUSY;
    }
    rt->in_block_on = true;
    int rc = 0;
    if (rt->flavor == CIO_RT_MULTI_THREAD)
        rc = start_threads(rt);
    pthread_mutex_unlock(&rt->lock);

    struct cio__worker *w = &rt->workers[0];
    cio_spawn_options o = {.name = "main", .worker = CIO_WORKER(0)};
    cio_task *main_task = NULL;
    if (rc == 0 && rt->flavor == CIO_RT_CURRENT_THREAD) {
        rc = cio__worker_enter(w);
        if (rc == 0) {
            rc = cio__rt_spawn(rt, &o, fn, arg, NULL, &main_task);
            if (rc == 0)
                cio__worker_run(w, main_task);
            cio__worker_leave(w);
        }
    } else if (rc == 0) {
        rc = cio__rt_spawn(rt, &o, fn, arg, NULL, &main_task);
        if (rc == 0) {
            /* Wait for the main task like any thread outside the runtime. */
            struct cio__parker parker;
            cio__parker_init(&parker);
            rc = cio__task_wait(main_task, &parker); /* a thread: 0 */
            cio__parker_fini(&parker);
        }
    }
    if (main_task != NULL) {
        bool cancelled;
        cio__task_take(main_task, ret_result, &cancelled);
        rc = cancelled ? -ECANCELED : 0;
    }

    pthread_mutex_lock(&rt->lock);
    rt->in_block_on = false;
    pthread_mutex_unlock(&rt->lock);
    return rc;
}

int cio_rt_shutdown(cio_rt *rt)
{
    if (rt == NULL)
        return -EINVAL;
    atomic_store(&rt->shutdown, true);
    for (unsigned i = 0; i < rt->workers_initialised; i++)
        cio__worker_shutdown(&rt->workers[i]);
    return 0;
}

void cio_rt_free(cio_rt *rt)
{
    if (rt == NULL)
        return;
    if (rt->workers_initialised == rt->nworkers) {
        cio_rt_shutdown(rt);
        if (rt->flavor == CIO_RT_CURRENT_THREAD) {
            /* Let every task see its cancellation and finish its cleanup here. */
            struct cio__worker *w = &rt->workers[0];
            if (live_tasks(rt) > 0 && cio__worker_enter(w) == 0) {
                cio__worker_stop(w);
                cio__worker_run(w, NULL);
                cio__worker_leave(w);
            }
        } else {
            /* Tasks spawned but never run (no block_on): the workers run them to their end,
             * each where it may (a shared task anywhere, a pinned one on its worker). */
            pthread_mutex_lock(&rt->lock);
            if (live_tasks(rt) > 0)
                (void)start_threads(rt);
            pthread_mutex_unlock(&rt->lock);
            for (unsigned i = 0; i < rt->nworkers; i++)
                cio__worker_stop(&rt->workers[i]);
            for (unsigned i = 0; i < rt->threads_started; i++)
                pthread_join(rt->workers[i].thread, NULL);
            /* Tasks spawned to workers that never ran (no block_on happened). */
            for (unsigned i = 0; i < rt->nworkers && live_tasks(rt) > 0; i++) {
                struct cio__worker *w = &rt->workers[i];
                if (cio__worker_enter(w) == 0) {
                    cio__worker_run(w, NULL);
                    cio__worker_leave(w);
                }
            }
        }
    }
    if (rt->blocking != NULL)
        cio__blocking_pool_free(rt->blocking);
    for (unsigned i = 0; i < rt->workers_initialised; i++)
        cio__worker_fini(&rt->workers[i]);
    cio__task_home_unref(rt->home);
    if (rt->sched_initialised)
        cio__sched_shared_fini(&rt->sched);
    free(rt->workers);
    pthread_mutex_destroy(&rt->lock);
    free(rt);
}

int cio__rt_blocking_pool(cio_rt *rt, struct cio__blocking_pool **ret_pool)
{
    int rc = 0;
    pthread_mutex_lock(&rt->lock);
    if (rt->blocking == NULL)
        rc = cio__blocking_pool_new(&rt->blocking, &rt->blocking_opts);
    if (rc == 0)
        *ret_pool = rt->blocking;
    pthread_mutex_unlock(&rt->lock);
    return rc;
}

/* ---- spawning ---- */

int cio__rt_spawn(cio_rt *rt, const cio_spawn_options *opts, cio_task_fn fn, void *arg,
                  struct cio__task_watcher *watcher, cio_task **ret_task)
{
    struct cio__worker *w = cio__worker_current();
    bool shared = false;
    if (opts != NULL && opts->worker != CIO_WORKER_DEFAULT) {
        if (opts->worker > rt->nworkers)
            return -EINVAL;
        w = &rt->workers[opts->worker - 1];
    } else {
        /* Shared: queued on the spawner's worker, or the injection queue from outside (w
         * only counts it). Pinned: the spawner's worker, or round robin from outside. */
        shared = rt->sched.steal;
        if (w == NULL || w->rt != rt)
            w = &rt->workers[atomic_fetch_add(&rt->next_worker, 1) % rt->nworkers];
    }
    if (atomic_load(&rt->shutdown))
        return -ECANCELED;
    return cio__task_spawn(rt->home, w, shared, opts, fn, arg, watcher, ret_task);
}

/* A public spawn: the task record is the join handle. */
static int spawn_handle(cio_rt *rt, const cio_spawn_options *opts, cio_task_fn fn, void *arg,
                        cio_join_handle **ret_handle)
{
    cio_task *t;
    int rc = cio__rt_spawn(rt, opts, fn, arg, NULL, ret_handle != NULL ? &t : NULL);
    if (rc == 0 && ret_handle != NULL)
        *ret_handle = (cio_join_handle *)(void *)t;
    return rc;
}

int cio_spawn_ex(cio_join_handle **ret_handle, const cio_spawn_options *opts, cio_task_fn fn,
                 void *arg)
{
    struct cio__worker *w = cio__worker_current();
    if (w == NULL || w->current == NULL)
        return -EPERM;
    if (fn == NULL)
        return -EINVAL;
    return spawn_handle(w->rt, opts, fn, arg, ret_handle);
}

int cio_spawn(cio_join_handle **ret_handle, cio_task_fn fn, void *arg)
{
    return cio_spawn_ex(ret_handle, NULL, fn, arg);
}

int cio_rt_spawn(cio_rt *rt, cio_join_handle **ret_handle, const cio_spawn_options *opts,
                 cio_task_fn fn, void *arg)
{
    if (rt == NULL || fn == NULL)
        return -EINVAL;
    return spawn_handle(rt, opts, fn, arg, ret_handle);
}
