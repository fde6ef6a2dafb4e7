/*
 * signal.c: cio_signal_wait() — tasks waiting for process signals (SIGINT, SIGTERM...).
 *
 * A signal handler, installed on first use of each signal, counts the signal and writes a
 * byte to a process-wide non-blocking pipe. Every worker that has a task waiting registers
 * the pipe's read end with its reactor; whichever worker sees it readable drains it and wakes
 * every waiting task, which then takes one pending count of a signal it asked for.
 * A handler is used rather than a signalfd because a signalfd needs the signal blocked in
 * every thread of the process, including threads the program owns and cio cannot reach;
 * a handler works whatever thread the kernel picks. The handlers stay installed for the life
 * of the process.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "poll/reactor.h"
#include "rt/parker.h"
#include "rt/signal.h"

#define MAX_SIGNALS 8

struct signal_waiter {
    struct cio__list node;
    struct cio__parker *parker;
};

static pthread_mutex_t sig_lock = PTHREAD_MUTEX_INITIALIZER;
static int sig_pipe[2] = {-1, -1};
static atomic_uint sig_pending[NSIG];
static bool sig_installed[NSIG];
static struct cio__list sig_waiters = CIO__LIST_HEAD_INIT(sig_waiters);

static void on_signal(int sig)
{
    int saved = errno;
    atomic_fetch_add(&sig_pending[sig], 1);
    char byte = (char)sig;
    (void)!write(sig_pipe[1], &byte, 1);
    errno = saved;
}

static void on_pipe_readable(struct cio__reactor_source *source, uint32_t flags)
{
    (void)source;
    (void)flags;
    char buf[64];
    while (read(sig_pipe[0], buf, sizeof(buf)) > 0)
        ;
    pthread_mutex_lock(&sig_lock);
    struct cio__list *it;
    cio__list_foreach(it, &sig_waiters)
    {
        cio__parker_unpark(cio__list_entry(it, struct signal_waiter, node)->parker);
    }
    pthread_mutex_unlock(&sig_lock);
}

/* The runtime is freed: its reactor closes with the pipe's registration; the source goes. */
static void source_fini(struct cio__worker *w, void *state)
{
    (void)w;
    free(state);
}

static bool signal_valid(int sig)
{
    return sig > 0 && sig < NSIG && sig != SIGKILL && sig != SIGSTOP && sig != SIGSEGV &&
           sig != SIGBUS;
}

/* The pipe and @sig's handler. Called with sig_lock held. */
static int install(int sig)
{
    if (sig_pipe[0] < 0 && pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC) < 0)
        return -errno;
    if (sig_installed[sig])
        return 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigfillset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) < 0)
        return -errno;
    sig_installed[sig] = true;
    return 0;
}

int cio__signal_install(int sig)
{
    if (!signal_valid(sig))
        return -EINVAL;
    pthread_mutex_lock(&sig_lock);
    int rc = install(sig);
    pthread_mutex_unlock(&sig_lock);
    return rc;
}

/* Called with sig_lock held. */
static int setup(const int *signals, size_t count, struct cio__worker *w)
{
    for (size_t i = 0; i < count; i++) {
        int rc = install(signals[i]);
        if (rc < 0)
            return rc;
    }
    if (cio__worker_ext_get(w, CIO__WORKER_EXT_SIGNAL) == NULL) {
        /* This worker's reactor watches the pipe, through a source of this file's own. */
        struct cio__reactor_source *source = malloc(sizeof(*source));
        if (source == NULL)
            return -ENOMEM;
        source->on_event = on_pipe_readable;
        int rc = cio__reactor_add(cio__worker_poll(w), sig_pipe[0], source, CIO_READABLE);
        if (rc < 0) {
            free(source);
            return rc;
        }
        cio__worker_ext_attach(w, CIO__WORKER_EXT_SIGNAL, source, source_fini);
    }
    return 0;
}

/* Called with sig_lock held: take one pending signal of the set, or 0. */
static int take_pending(const int *signals, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        atomic_uint *pending = &sig_pending[signals[i]];
        unsigned n = atomic_load(pending);
        while (n > 0)
            if (atomic_compare_exchange_weak(pending, &n, n - 1))
                return signals[i];
    }
    return 0;
}

int cio_signal_wait(const int *signals, size_t count)
{
    struct cio__worker *w = cio__worker_current();
    if (w == NULL || cio__task_self() == NULL)
        return -EPERM;
    if (signals == NULL || count == 0 || count > MAX_SIGNALS)
        return -EINVAL;
    for (size_t i = 0; i < count; i++)
        if (!signal_valid(signals[i]))
            return -EINVAL;

    struct cio__parker parker;
    cio__parker_init(&parker);
    struct signal_waiter waiter = {.parker = &parker};
    int rc;
    pthread_mutex_lock(&sig_lock);
    rc = setup(signals, count, w);
    while (rc == 0) {
        /* Registered before looking, so a signal that lands after the look wakes us. */
        cio__list_push_back(&sig_waiters, &waiter.node);
        int sig = take_pending(signals, count);
        if (sig != 0) {
            cio__list_remove(&waiter.node);
            rc = sig;
            break;
        }
        pthread_mutex_unlock(&sig_lock);
        rc = cio__parker_park_for(&parker, CIO_DEADLINE_NONE, CIO__WAIT_SIGNAL);
        pthread_mutex_lock(&sig_lock);
        cio__list_remove(&waiter.node);
        if (rc < 0) {
            /* Prefer a signal that arrived together with the cancellation. */
            int late = take_pending(signals, count);
            if (late != 0)
                rc = late;
            break;
        }
    }
    pthread_mutex_unlock(&sig_lock);
    cio__parker_fini(&parker);
    return rc;
}
