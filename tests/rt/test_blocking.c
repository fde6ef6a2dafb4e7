/*
 * test_blocking.c: the blocking pool — jobs run and complete on the pool thread, at most
 * max_threads at once with FIFO start order, idle threads are reused and then retire after
 * the keep-alive, shutdown cancels queued jobs and waits for running ones, submits from many
 * threads at once, and the error paths.
 */
/* cio-test-labels: threads */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "rt/blocking.h"
#include "util/compiler.h"

/* Shared test state: one lock, one condition, and everything the jobs record. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static int started, finished, completed, running, max_running;
static int start_order[256];
static bool released[256]; /* job i may return once released[i] */
static bool release_all;

struct tjob {
    struct cio__blocking_job job;
    int index;
    bool gated; /* waits for its release before returning */
    bool fn_ran;
    int status; /* given to complete */
    pthread_t fn_thread, complete_thread;
    int submit_in_complete; /* result of a submit tried from complete, if asked */
    bool try_submit;
    struct cio__blocking_job extra; /* what that submit tries to queue */
    struct cio__blocking_pool *pool;
};

static void reset_state(void)
{
    pthread_mutex_lock(&lock);
    started = finished = completed = running = max_running = 0;
    memset(start_order, -1, sizeof(start_order));
    memset(released, 0, sizeof(released));
    release_all = false;
    pthread_mutex_unlock(&lock);
}

/* Wait (bounded) until *counter >= n; the counter is read under `lock`. */
static bool wait_count(const int *counter, int n, int timeout_ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&lock);
    int rc = 0;
    while (*counter < n && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&changed, &lock, &deadline);
    bool ok = *counter >= n;
    pthread_mutex_unlock(&lock);
    return ok;
}

static int read_count(const int *counter)
{
    pthread_mutex_lock(&lock);
    int v = *counter;
    pthread_mutex_unlock(&lock);
    return v;
}

static void release(int index)
{
    pthread_mutex_lock(&lock);
    if (index < 0)
        release_all = true;
    else
        released[index] = true;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

static void job_fn(void *arg)
{
    struct tjob *t = arg;
    t->fn_thread = pthread_self();
    t->fn_ran = true;
    pthread_mutex_lock(&lock);
    start_order[started++ % 256] = t->index;
    running++;
    if (running > max_running)
        max_running = running;
    pthread_cond_broadcast(&changed);
    while (t->gated && !release_all && !released[t->index % 256])
        pthread_cond_wait(&changed, &lock);
    running--;
    finished++;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

static void noop_fn(void *arg)
{
    (void)arg;
}

static void noop_complete(struct cio__blocking_job *job, int status)
{
    (void)job;
    (void)status;
}

static void job_complete(struct cio__blocking_job *job, int status)
{
    struct tjob *t = cio__container_of(job, struct tjob, job);
    t->status = status;
    t->complete_thread = pthread_self();
    if (t->try_submit) {
        t->extra.fn = noop_fn;
        t->extra.complete = noop_complete;
        t->submit_in_complete = cio__blocking_submit(t->pool, &t->extra);
    }
    pthread_mutex_lock(&lock);
    completed++;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

static void init_jobs(struct tjob *jobs, int n, bool gated)
{
    for (int i = 0; i < n; i++) {
        memset(&jobs[i], 0, sizeof(jobs[i]));
        jobs[i].index = i;
        jobs[i].gated = gated;
        jobs[i].status = 1; /* not yet completed */
        jobs[i].job.fn = job_fn;
        jobs[i].job.arg = &jobs[i];
        jobs[i].job.complete = job_complete;
    }
}

static struct cio__blocking_stats stats_of(struct cio__blocking_pool *pool)
{
    struct cio__blocking_stats s;
    cio__blocking_pool_stats(pool, &s);
    return s;
}

static void test_jobs_run_and_complete(void)
{
    enum { N = 100 };
    static struct tjob jobs[N];
    reset_state();
    struct cio__blocking_pool *pool;
    CHECK_RC(cio__blocking_pool_new(&pool, NULL));
    struct cio__blocking_stats s = stats_of(pool);
    CHECK_EQ(s.threads, 0); /* threads only on demand */
    init_jobs(jobs, N, false);
    for (int i = 0; i < N; i++)
        CHECK_RC(cio__blocking_submit(pool, &jobs[i].job));
    CHECK(wait_count(&completed, N, 10000));
    for (int i = 0; i < N; i++) {
        CHECK(jobs[i].fn_ran);
        CHECK_EQ(jobs[i].status, 0);
        /* The completion runs on the pool thread that ran fn, never the submitter. */
        CHECK(pthread_equal(jobs[i].fn_thread, jobs[i].complete_thread));
        CHECK(!pthread_equal(jobs[i].fn_thread, pthread_self()));
    }
    s = stats_of(pool);
    CHECK(s.threads >= 1 && s.threads <= CIO__BLOCKING_DEFAULT_MAX_THREADS);
    CHECK_EQ(s.queued, 0);
    cio__blocking_pool_free(pool);
}

static void test_saturation_fifo(void)
{
    /* max 4 threads, 16 jobs each blocked until released one by one: only 4 run at once,
     * and each released job's thread picks the next job in submit order. */
    enum { N = 16, MAX = 4 };
    static struct tjob jobs[N];
    reset_state();
    struct cio__blocking_pool *pool;
    struct cio__blocking_opts opts = {.max_threads = MAX};
    CHECK_RC(cio__blocking_pool_new(&pool, &opts));
    init_jobs(jobs, N, true);
    for (int i = 0; i < N; i++)
        CHECK_RC(cio__blocking_submit(pool, &jobs[i].job));
    CHECK(wait_count(&started, MAX, 10000));
    struct timespec pause = {0, 100 * 1000000};
    nanosleep(&pause, NULL);
    CHECK_EQ(read_count(&started), MAX);
    struct cio__blocking_stats s = stats_of(pool);
    CHECK_EQ(s.threads, MAX);
    CHECK_EQ(s.running, MAX);
    CHECK_EQ(s.queued, N - MAX);
    for (int i = 0; i < MAX; i++) {
        bool seen = false;
        for (int k = 0; k < MAX; k++)
            seen |= start_order[k] == i;
        CHECK(seen);
    }
    for (int i = 0; i < N - MAX; i++) {
        release(i);
        CHECK(wait_count(&started, MAX + i + 1, 10000));
        /* The one freed thread started exactly the next job in FIFO order. */
        CHECK_EQ(start_order[MAX + i], MAX + i);
    }
    release(-1);
    CHECK(wait_count(&completed, N, 10000));
    CHECK_EQ(max_running, MAX);
    /* The pool counts a job once its completion has returned: settle first. */
    CHECK_RC(cio__blocking_pool_shutdown(pool));
    s = stats_of(pool);
    CHECK_EQ(s.spawned, MAX);
    CHECK_EQ(s.completed, N);
    cio__blocking_pool_free(pool);
}

static void test_fifo_single_thread(void)
{
    enum { N = 50 };
    static struct tjob jobs[N];
    reset_state();
    struct cio__blocking_pool *pool;
    struct cio__blocking_opts opts = {.max_threads = 1};
    CHECK_RC(cio__blocking_pool_new(&pool, &opts));
    init_jobs(jobs, N, false);
    for (int i = 0; i < N; i++)
        CHECK_RC(cio__blocking_submit(pool, &jobs[i].job));
    CHECK(wait_count(&completed, N, 10000));
    for (int i = 0; i < N; i++)
        CHECK_EQ(start_order[i], i);
    CHECK_EQ(max_running, 1);
    CHECK_EQ(stats_of(pool).spawned, 1);
    cio__blocking_pool_free(pool);
}

static void test_idle_reuse_and_retire(void)
{
    enum { N = 4 };
    static struct tjob jobs[N];
    reset_state();
    struct cio__blocking_pool *pool;
    struct cio__blocking_opts opts = {.max_threads = 8, .keep_alive = 400 * CIO_NSEC_PER_MSEC};
    CHECK_RC(cio__blocking_pool_new(&pool, &opts));
    init_jobs(jobs, N, true);
    for (int i = 0; i < N; i++)
        CHECK_RC(cio__blocking_submit(pool, &jobs[i].job));
    CHECK(wait_count(&started, N, 10000));
    CHECK_EQ(stats_of(pool).threads, N);
    release(-1);
    CHECK(wait_count(&completed, N, 10000));
    int64_t done_at = cio_test_now_ms();
    /* A thread turns idle just after its job's completion returns. */
    while (stats_of(pool).idle < N && cio_test_now_ms() - done_at < 5000) {
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
    }
    struct cio__blocking_stats s = stats_of(pool);
    bool prompt = cio_test_now_ms() - done_at < 300; /* not descheduled past the keep-alive */
    if (prompt) {
        CHECK_EQ(s.idle, N);
        CHECK_EQ(s.threads, N);
    }

    /* Idle threads are reused: a new job within the keep-alive spawns nothing. */
    static struct tjob again;
    init_jobs(&again, 1, false);
    again.index = 200;
    CHECK_RC(cio__blocking_submit(pool, &again.job));
    CHECK(wait_count(&completed, N + 1, 10000));
    s = stats_of(pool);
    if (prompt && cio_test_now_ms() - done_at < 300)
        CHECK_EQ(s.spawned, N);

    /* Then all of them retire after the keep-alive (400 ms), within a generous bound. */
    int64_t deadline = cio_test_now_ms() + 5000;
    while (stats_of(pool).threads > 0 && cio_test_now_ms() < deadline) {
        struct timespec pause = {0, 10 * 1000000};
        nanosleep(&pause, NULL);
    }
    s = stats_of(pool);
    CHECK_EQ(s.threads, 0);
    CHECK_EQ(s.idle, 0);
    CHECK_EQ(s.retired, s.spawned);
    CHECK(cio_test_now_ms() - done_at >= 350); /* not before the keep-alive */

    /* A retired pool still works: threads come back on demand. */
    static struct tjob late;
    init_jobs(&late, 1, false);
    CHECK_RC(cio__blocking_submit(pool, &late.job));
    CHECK(wait_count(&completed, N + 2, 10000));
    CHECK_EQ(late.status, 0);
    cio__blocking_pool_free(pool);
}

struct releaser {
    int delay_ms;
};

static void *release_later(void *arg)
{
    struct releaser *r = arg;
    struct timespec pause = {r->delay_ms / 1000, (long)(r->delay_ms % 1000) * 1000000};
    nanosleep(&pause, NULL);
    release(-1);
    return NULL;
}

static void test_shutdown_queued_and_running(void)
{
    enum { N = 7, MAX = 2 };
    static struct tjob jobs[N];
    reset_state();
    struct cio__blocking_pool *pool;
    struct cio__blocking_opts opts = {.max_threads = MAX};
    CHECK_RC(cio__blocking_pool_new(&pool, &opts));
    init_jobs(jobs, N, true);
    for (int i = 0; i < N; i++) {
        jobs[i].pool = pool;
        jobs[i].try_submit = i < MAX; /* the running ones try to submit from complete */
        CHECK_RC(cio__blocking_submit(pool, &jobs[i].job));
    }
    CHECK(wait_count(&started, MAX, 10000));

    /* The running jobs are released 300 ms from now; shutdown must wait for them. */
    struct releaser r = {300};
    pthread_t helper;
    CHECK_EQ(pthread_create(&helper, NULL, release_later, &r), 0);
    int64_t t0 = cio_test_now_ms();
    CHECK_RC(cio__blocking_pool_shutdown(pool));
    int64_t waited = cio_test_now_ms() - t0;
    CHECK_EQ(pthread_join(helper, NULL), 0);
    CHECK(waited >= 250);

    for (int i = 0; i < N; i++) {
        if (i < MAX) {
            CHECK(jobs[i].fn_ran);
            CHECK_EQ(jobs[i].status, 0);
            CHECK(!pthread_equal(jobs[i].complete_thread, pthread_self()));
            CHECK_ERR(jobs[i].submit_in_complete, -ECANCELED);
        } else {
            /* Queued: cancelled, fn never ran, completion on the shutdown caller. */
            CHECK(!jobs[i].fn_ran);
            CHECK_ERR(jobs[i].status, -ECANCELED);
            CHECK(pthread_equal(jobs[i].complete_thread, pthread_self()));
        }
    }
    CHECK_EQ(read_count(&completed), N);
    struct cio__blocking_stats s = stats_of(pool);
    CHECK_EQ(s.threads, 0);
    CHECK_EQ(s.completed, MAX);
    CHECK_EQ(s.cancelled, N - MAX);
    CHECK_EQ(s.queued, 0);

    /* After shutdown: submits fail and their completion is never called. */
    static struct tjob after;
    init_jobs(&after, 1, false);
    CHECK_ERR(cio__blocking_submit(pool, &after.job), -ECANCELED);
    CHECK_RC(cio__blocking_pool_shutdown(pool)); /* idempotent */
    cio__blocking_pool_free(pool);
    CHECK_EQ(after.status, 1);
    CHECK_EQ(read_count(&completed), N);
}

static void *shutdown_thread(void *arg)
{
    return (void *)(intptr_t)cio__blocking_pool_shutdown(arg);
}

static void test_shutdown_concurrent(void)
{
    /* Two threads shut down at once while a job runs: both return only once it is done. */
    static struct tjob job;
    reset_state();
    struct cio__blocking_pool *pool;
    CHECK_RC(cio__blocking_pool_new(&pool, NULL));
    init_jobs(&job, 1, true);
    CHECK_RC(cio__blocking_submit(pool, &job.job));
    CHECK(wait_count(&started, 1, 10000));
    pthread_t a, b;
    CHECK_EQ(pthread_create(&a, NULL, shutdown_thread, pool), 0);
    CHECK_EQ(pthread_create(&b, NULL, shutdown_thread, pool), 0);
    struct timespec pause = {0, 100 * 1000000};
    nanosleep(&pause, NULL);
    CHECK_EQ(read_count(&completed), 0);
    release(-1);
    void *ra, *rb;
    CHECK_EQ(pthread_join(a, &ra), 0);
    CHECK_EQ(pthread_join(b, &rb), 0);
    CHECK_EQ((intptr_t)ra, 0);
    CHECK_EQ((intptr_t)rb, 0);
    CHECK_EQ(read_count(&completed), 1);
    CHECK_EQ(stats_of(pool).threads, 0);
    cio__blocking_pool_free(pool);
}

static struct cio__blocking_pool *self_pool;
static int self_shutdown_rc;

static void shutdown_self(void *arg)
{
    (void)arg;
    self_shutdown_rc = cio__blocking_pool_shutdown(self_pool);
}

static void count_complete(struct cio__blocking_job *job, int status)
{
    (void)job;
    (void)status;
    pthread_mutex_lock(&lock);
    completed++;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

static void test_shutdown_from_pool_thread(void)
{
    reset_state();
    CHECK_RC(cio__blocking_pool_new(&self_pool, NULL));
    struct cio__blocking_job job = {.fn = shutdown_self, .complete = count_complete};
    CHECK_RC(cio__blocking_submit(self_pool, &job));
    CHECK(wait_count(&completed, 1, 10000));
    CHECK_ERR(self_shutdown_rc, -EDEADLK);
    cio__blocking_pool_free(self_pool);
}

/* Many submitters, and completions that submit follow-up jobs. */
enum { SUBMITTERS = 8, PER_SUBMITTER = 1000 };

struct chain_job {
    struct cio__blocking_job job;
    struct cio__blocking_pool *pool;
    int hops; /* follow-ups still to submit from the completion */
};

static atomic_int work_done, completions;

static void chain_fn(void *arg)
{
    (void)arg;
    atomic_fetch_add(&work_done, 1);
}

static void chain_complete(struct cio__blocking_job *job, int status)
{
    struct chain_job *c = cio__container_of(job, struct chain_job, job);
    CHECK_EQ(status, 0);
    if (c->hops > 0) {
        c->hops--;
        CHECK_RC(cio__blocking_submit(c->pool, &c->job)); /* reuse the job at once */
        return;
    }
    atomic_fetch_add(&completions, 1);
}

static void *submitter(void *arg)
{
    struct chain_job *jobs = arg;
    for (int i = 0; i < PER_SUBMITTER; i++)
        if (cio__blocking_submit(jobs[i].pool, &jobs[i].job) != 0)
            return (void *)1;
    return NULL;
}

static void test_submit_many_threads(void)
{
    static struct chain_job jobs[SUBMITTERS][PER_SUBMITTER];
    atomic_store(&work_done, 0);
    atomic_store(&completions, 0);
    struct cio__blocking_pool *pool;
    struct cio__blocking_opts opts = {.max_threads = 6};
    CHECK_RC(cio__blocking_pool_new(&pool, &opts));
    for (int t = 0; t < SUBMITTERS; t++)
        for (int i = 0; i < PER_SUBMITTER; i++) {
            jobs[t][i] = (struct chain_job){.pool = pool, .hops = i % 3};
            jobs[t][i].job.fn = chain_fn;
            jobs[t][i].job.complete = chain_complete;
        }
    pthread_t threads[SUBMITTERS];
    for (int t = 0; t < SUBMITTERS; t++)
        CHECK_EQ(pthread_create(&threads[t], NULL, submitter, jobs[t]), 0);
    for (int t = 0; t < SUBMITTERS; t++) {
        void *rv;
        CHECK_EQ(pthread_join(threads[t], &rv), 0);
        CHECK(rv == NULL);
    }
    int64_t deadline = cio_test_now_ms() + 30000;
    while (atomic_load(&completions) < SUBMITTERS * PER_SUBMITTER && cio_test_now_ms() < deadline) {
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
    }
    CHECK_EQ(atomic_load(&completions), SUBMITTERS * PER_SUBMITTER);
    int hops = 0;
    for (int i = 0; i < PER_SUBMITTER; i++)
        hops += i % 3;
    CHECK_EQ(atomic_load(&work_done), SUBMITTERS * (PER_SUBMITTER + hops));
    struct cio__blocking_stats s = stats_of(pool);
    CHECK(s.spawned >= 1 && s.threads <= 6);
    CHECK_RC(cio__blocking_pool_shutdown(pool));
    s = stats_of(pool);
    CHECK_EQ(s.threads, 0);
    CHECK_EQ(s.retired, s.spawned);
    CHECK_EQ(s.completed, (uint64_t)SUBMITTERS * (PER_SUBMITTER + hops));
    cio__blocking_pool_free(pool);
}

static void test_bad_arguments(void)
{
    struct cio__blocking_pool *pool = NULL;
    CHECK_ERR(cio__blocking_pool_new(NULL, NULL), -EINVAL);
    CHECK_RC(cio__blocking_pool_new(&pool, NULL));
    struct cio__blocking_job job = {0};
    CHECK_ERR(cio__blocking_submit(NULL, &job), -EINVAL);
    CHECK_ERR(cio__blocking_submit(pool, NULL), -EINVAL);
    CHECK_ERR(cio__blocking_submit(pool, &job), -EINVAL); /* no fn, no complete */
    job.fn = chain_fn;
    CHECK_ERR(cio__blocking_submit(pool, &job), -EINVAL); /* no complete */
    CHECK_ERR(cio__blocking_pool_shutdown(NULL), -EINVAL);
    CHECK_EQ(stats_of(pool).threads, 0);
    cio__blocking_pool_free(pool);
    cio__blocking_pool_free(NULL);
}

CIO_TEST_MAIN(TEST(test_jobs_run_and_complete), TEST(test_saturation_fifo),
              TEST(test_fifo_single_thread), TEST(test_idle_reuse_and_retire),
              TEST(test_shutdown_queued_and_running), TEST(test_shutdown_concurrent),
              TEST(test_shutdown_from_pool_thread), TEST(test_submit_many_threads),
              TEST(test_bad_arguments))
