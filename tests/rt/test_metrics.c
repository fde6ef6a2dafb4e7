/*
 * test_metrics.c: the runtime's metrics and task dump (cio/metrics.h) — counters consistent
 * and monotonic under load while a plain thread reads them (the TSan job runs this), wakes
 * counted local or remote in scenarios that fix which, reactor events counted, the dump
 * naming a parked task's wait and worker, and the dump written on a signal.
 */
/* cio-test-labels: threads */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cio/metrics.h"
#include "cio/stream.h"
#include "cio/sync.h"
#include "cio/unix.h"
#include "harness.h"

static cio_worker_metrics worker_metrics(cio_rt *rt, unsigned worker)
{
    cio_worker_metrics m = CIO_METRICS_INIT(m);
    CHECK_RC(cio_rt_worker_metrics_read(rt, worker, &m));
    return m;
}

/* Run @fn as the main task of a fresh runtime: current-thread (@workers 0) or multi-thread,
 * with the runtime as its argument. */
static void run_main(unsigned workers, cio_task_fn fn)
{
    cio_rt *rt;
    cio_rt_options o = {.flavor = workers ? CIO_RT_MULTI_THREAD : CIO_RT_CURRENT_THREAD,
                        .workers = workers};
    CHECK_RC(cio_rt_new(&rt, &o));
    CHECK_RC(cio_rt_block_on(rt, fn, rt, NULL));
    cio_rt_free(rt);
}

/* The worker publishes at each reactor turn: a short sleep makes the calling task's worker
 * turn it (it has nothing else to run in these scenarios). */
static void let_worker_publish(void)
{
    CHECK_RC(cio_sleep(2 * CIO_NSEC_PER_MSEC));
}

/* ---- consistency under load, read from a plain thread ---- */

enum { PAIRS = 8, ROUNDS = 300, SHORT_TASKS = 200 };

struct pinger {
    cio_unix_stream *s;
    bool first; /* writes first */
};

static void *ping_pong(void *arg)
{
    struct pinger *p = arg;
    char c = 'x';
    for (int i = 0; i < ROUNDS; i++) {
        if (p->first)
            CHECK_RC(cio_stream_write_all(p->s, &c, 1, NULL));
        CHECK_EQ(CHECK_RC(cio_stream_read(p->s, &c, 1)), 1);
        if (!p->first)
            CHECK_RC(cio_stream_write_all(p->s, &c, 1, NULL));
    }
    return NULL;
}

static void *short_task(void *arg)
{
    (void)arg;
    CHECK_RC(cio_yield());
    return NULL;
}

struct reader {
    cio_rt *rt;
    atomic_bool stop;
    atomic_int reads;
};

static bool counters_grew(const cio_worker_metrics *a, const cio_worker_metrics *b)
{
    return b->tasks_spawned >= a->tasks_spawned && b->tasks_finished >= a->tasks_finished &&
           b->polls >= a->polls && b->wakes_local >= a->wakes_local &&
           b->wakes_remote >= a->wakes_remote && b->yields >= a->yields &&
           b->budget_yields >= a->budget_yields && b->parks >= a->parks &&
           b->reactor_polls >= a->reactor_polls && b->reactor_events >= a->reactor_events &&
           b->busy_ns >= a->busy_ns && b->park_ns >= a->park_ns;
}

static void *read_metrics_thread(void *arg)
{
    struct reader *r = arg;
    unsigned n = cio_rt_workers(r->rt);
    cio_worker_metrics last[2];
    for (unsigned i = 0; i < n; i++)
        last[i] = worker_metrics(r->rt, i);
    while (!atomic_load(&r->stop)) {
        for (unsigned i = 0; i < n; i++) {
            cio_worker_metrics m = worker_metrics(r->rt, i);
            CHECK_EQ(m.tasks_spawned - m.tasks_finished, m.tasks_live);
            CHECK(m.tasks_finished <= m.tasks_spawned);
            CHECK(counters_grew(&last[i], &m));
            CHECK(m.budget_yields <= m.yields);
            last[i] = m;
        }
        cio_rt_metrics rm = CIO_METRICS_INIT(rm);
        CHECK_RC(cio_rt_metrics_read(r->rt, &rm));
        CHECK_EQ(rm.workers, n);
        atomic_fetch_add(&r->reads, 1);
        usleep(200);
    }
    return NULL;
}

static void *main_load(void *arg)
{
    cio_rt *rt = arg;
    struct reader r = {.rt = rt};
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, read_metrics_thread, &r), 0);

    cio_unix_stream *ends[PAIRS][2];
    struct pinger pingers[PAIRS][2];
    cio_join_handle *tasks[PAIRS][2];
    for (int i = 0; i < PAIRS; i++) {
        CHECK_RC(cio_unix_stream_pair(&ends[i][0], &ends[i][1]));
        for (int k = 0; k < 2; k++) {
            pingers[i][k] = (struct pinger){.s = ends[i][k], .first = k == 0};
            cio_spawn_options o = {.name = "pinger", .worker = CIO_WORKER((i + k) % 2)};
            CHECK_RC(cio_spawn_ex(&tasks[i][k], &o, ping_pong, &pingers[i][k]));
        }
    }
    for (int i = 0; i < SHORT_TASKS; i++) {
        cio_join_handle *h;
        CHECK_RC(cio_spawn(&h, short_task, NULL));
        CHECK_RC(cio_task_join(h, NULL, NULL));
    }
    for (int i = 0; i < PAIRS; i++)
        for (int k = 0; k < 2; k++) {
            CHECK_RC(cio_task_join(tasks[i][k], NULL, NULL));
            cio_socket_close(ends[i][k]);
        }

    /* Every task but this one is done; a joined task leaves its worker's count once its
     * worker switched off its stack, a moment after the join. */
    const uint64_t spawned = 1 + 2 * PAIRS + SHORT_TASKS;
    cio_worker_metrics total;
    for (int i = 0; i < 2000; i++) {
        total = worker_metrics(rt, CIO_METRICS_TOTAL);
        if (total.tasks_live == 1)
            break;
        CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
    }
    let_worker_publish();
    total = worker_metrics(rt, CIO_METRICS_TOTAL);
    CHECK_EQ(total.tasks_live, 1);
    CHECK_EQ(total.tasks_spawned, spawned);
    CHECK_EQ(total.tasks_finished, spawned - 1);
    CHECK(total.polls >= spawned + 2 * PAIRS * ROUNDS / 2);
    CHECK(total.reactor_polls > 0 && total.parks > 0 && total.busy_ns > 0);
    /* the totals are the sum of the workers */
    cio_worker_metrics w0 = worker_metrics(rt, 0), w1 = worker_metrics(rt, 1);
    CHECK_EQ(w0.tasks_spawned + w1.tasks_spawned, total.tasks_spawned);
    cio_rt_metrics rm = CIO_METRICS_INIT(rm);
    CHECK_RC(cio_rt_metrics_read(rt, &rm));
    CHECK_EQ(rm.tasks_live, 1);

    while (atomic_load(&r.reads) < 3)
        CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
    atomic_store(&r.stop, true);
    CHECK_EQ(pthread_join(th, NULL), 0);
    return NULL;
}

static void test_consistent_under_load(void)
{
    run_main(2, main_load);
}

/* ---- wakes: local and remote ---- */

enum { REMOTE_ROUNDS = 50, LOCAL_ROUNDS = 100 };

struct remote_scene {
    cio_notify *notify;
    atomic_int woken; /* returns of the task's wait */
    atomic_bool done;
};

static void *remote_waiter(void *arg)
{
    struct remote_scene *s = arg;
    while (atomic_load(&s->woken) < REMOTE_ROUNDS) {
        CHECK_RC(cio_notify_wait(s->notify));
        atomic_fetch_add(&s->woken, 1);
    }
    return NULL;
}

/* A plain thread wakes the task: cio_notify_waiters() wakes only a task that waits (no
 * permit), so each wake is one trip through the worker's remote queue. */
static void *remote_notifier(void *arg)
{
    struct remote_scene *s = arg;
    for (long i = 0; i < 200000 && atomic_load(&s->woken) < REMOTE_ROUNDS; i++) {
        CHECK_RC(cio_notify_waiters(s->notify));
        usleep(50);
    }
    atomic_store(&s->done, true);
    return NULL;
}

struct local_scene {
    cio_notify *ping, *pong;
};

static void *local_ponger(void *arg)
{
    struct local_scene *s = arg;
    for (int i = 0; i < LOCAL_ROUNDS; i++) {
        CHECK_RC(cio_notify_wait(s->ping));
        CHECK_RC(cio_notify_one(s->pong));
    }
    return NULL;
}

static void *main_wakes(void *arg)
{
    cio_rt *rt = arg;
    /* remote: a thread outside the runtime */
    struct remote_scene rs = {0};
    CHECK_RC(cio_notify_new(&rs.notify));
    cio_join_handle *h;
    let_worker_publish();
    cio_worker_metrics before = worker_metrics(rt, 0);
    CHECK_RC(cio_spawn(&h, remote_waiter, &rs));
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, remote_notifier, &rs), 0);
    CHECK_RC(cio_task_join(h, NULL, NULL)); /* this task parks in the join: no remote wake */
    CHECK_EQ(pthread_join(th, NULL), 0);
    let_worker_publish();
    cio_worker_metrics after = worker_metrics(rt, 0);
    CHECK_EQ(atomic_load(&rs.woken), REMOTE_ROUNDS);
    CHECK_EQ(after.wakes_remote - before.wakes_remote, REMOTE_ROUNDS);
    cio_notify_free(rs.notify);

    /* local: two tasks of the worker, ping-pong */
    struct local_scene ls;
    CHECK_RC(cio_notify_new(&ls.ping));
    CHECK_RC(cio_notify_new(&ls.pong));
    before = after;
    CHECK_RC(cio_spawn(&h, local_ponger, &ls));
    for (int i = 0; i < LOCAL_ROUNDS; i++) {
        CHECK_RC(cio_notify_one(ls.ping));
        CHECK_RC(cio_notify_wait(ls.pong));
    }
    CHECK_RC(cio_task_join(h, NULL, NULL));
    let_worker_publish();
    after = worker_metrics(rt, 0);
    CHECK_EQ(after.wakes_remote, before.wakes_remote);
    /* each round wakes the ponger (unless it was not parked yet) and this task; plus the
     * spawn and the join */
    CHECK(after.wakes_local - before.wakes_local >= LOCAL_ROUNDS + 2);
    CHECK(after.wakes_local - before.wakes_local <= 2 * LOCAL_ROUNDS + 4);
    cio_notify_free(ls.ping);
    cio_notify_free(ls.pong);
    return NULL;
}

static void test_wakes_local_and_remote(void)
{
    run_main(0, main_wakes);
}

/* ---- reactor events, yields ---- */

static void *main_events(void *arg)
{
    cio_rt *rt = arg;
    cio_unix_stream *a, *b;
    CHECK_RC(cio_unix_stream_pair(&a, &b));
    struct pinger pb = {.s = b, .first = false};
    let_worker_publish();
    cio_worker_metrics before = worker_metrics(rt, 0);
    cio_join_handle *h;
    CHECK_RC(cio_spawn(&h, ping_pong, &pb));
    struct pinger pa = {.s = a, .first = true};
    (void)ping_pong(&pa);
    CHECK_RC(cio_task_join(h, NULL, NULL));
    for (int i = 0; i < 10; i++)
        CHECK_RC(cio_yield());
    let_worker_publish();
    cio_worker_metrics after = worker_metrics(rt, 0);
    /* One worker: every read that found nothing parks until its socket's event. Both ends
     * wait once per round (the other has not run yet). */
    CHECK(after.reactor_events - before.reactor_events >= 2 * ROUNDS - 2);
    CHECK(after.reactor_polls - before.reactor_polls >= 1);
    CHECK(after.polls - before.polls >= 2 * ROUNDS);
    CHECK(after.yields - before.yields >= 10);
    CHECK(after.queue_depth <= 1); /* this task, woken by the sleep's timer */
    CHECK(after.park_ns > before.park_ns);
    cio_socket_close(a);
    cio_socket_close(b);
    return NULL;
}

static void test_reactor_events(void)
{
    run_main(0, main_events);
}

/* ---- the task dump ---- */

static void *blocked_reader(void *arg)
{
    char c;
    (void)cio_stream_read((cio_unix_stream *)arg, &c, 1); /* cancelled at the end */
    return NULL;
}

static void *sleeper(void *arg)
{
    (void)arg;
    (void)cio_sleep(30 * CIO_NSEC_PER_SEC);
    return NULL;
}

static void *notify_waiter(void *arg)
{
    (void)cio_notify_wait(arg);
    return NULL;
}

/* The line of the task named @name in @text, after the line starting with @section. */
static const char *task_line(const char *text, const char *section, const char *name)
{
    const char *s = strstr(text, section);
    CHECK(s != NULL);
    char quoted[64];
    snprintf(quoted, sizeof(quoted), "\"%s\" ", name);
    const char *t = strstr(s, quoted);
    if (t == NULL)
        TEST_FAIL("no task %s after %s in:\n%s", name, section, text);
    return t;
}

static void check_line(const char *line, const char *want)
{
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    char buf[256];
    snprintf(buf, sizeof(buf), "%.*s", (int)len, line);
    if (strstr(buf, want) == NULL)
        TEST_FAIL("expected \"%s\" in the task line: %s", want, buf);
}

/* The line of a task between two of its short sleeps: parked, or queued by its timer. */
static void check_sleeping(const char *line)
{
    const char *state = strchr(line + 1, '"') + 2;
    if (strncmp(state, "parked", 6) != 0 && strncmp(state, "runnable", 8) != 0)
        check_line(line, "parked");
}

static void *main_dump(void *arg)
{
    cio_rt *rt = arg;
    bool multi = cio_rt_workers(rt) > 1;
    cio_unix_stream *a, *b;
    CHECK_RC(cio_unix_stream_pair(&a, &b));
    cio_notify *n;
    CHECK_RC(cio_notify_new(&n));
    cio_join_handle *h[3];
    cio_spawn_options o = {.name = "reader", .worker = CIO_WORKER(multi ? 1 : 0)};
    CHECK_RC(cio_spawn_ex(&h[0], &o, blocked_reader, a));
    o.name = "sleeper";
    CHECK_RC(cio_spawn_ex(&h[1], &o, sleeper, NULL));
    o.name = "waiter";
    CHECK_RC(cio_spawn_ex(&h[2], &o, notify_waiter, n));
    CHECK_RC(cio_sleep(50 * CIO_NSEC_PER_MSEC));

    char *text;
    size_t len;
    CHECK_RC(cio_rt_dump_string(rt, CIO_DUMP_ALL, &text, &len));
    CHECK_EQ(strlen(text), len);
    CHECK(strstr(text, "runtime: workers=") != NULL);
    CHECK(strstr(text, "total: tasks_live=4 ") != NULL);
    const char *section = multi ? "worker 1: " : "worker 0: ";
    char want[64];
    snprintf(want, sizeof(want), "readiness of fd %d (read)", cio_socket_fd(a));
    const char *line = task_line(text, section, "reader");
    check_line(line, "parked ");
    check_line(line, want);
    line = task_line(text, section, "sleeper");
    check_line(line, ": sleep, deadline in ");
    line = task_line(text, section, "waiter");
    check_line(line, ": notify");
    line = task_line(text, "worker 0: ", "main");
    check_line(line, "running");
    free(text);

    /* tasks only */
    CHECK_RC(cio_rt_dump_string(rt, CIO_DUMP_TASKS, &text, NULL));
    CHECK(strstr(text, "runtime:") == NULL && strstr(text, "\"reader\"") != NULL);
    free(text);
    CHECK_ERR(cio_rt_dump_string(rt, 8, &text, NULL), -EINVAL);

    for (int i = 0; i < 3; i++) {
        cio_abort_handle ah;
        CHECK_RC(cio_task_abort_handle(h[i], &ah));
        CHECK_RC(cio_abort_handle_cancel(ah));
    }
    for (int i = 0; i < 3; i++)
        CHECK_RC(cio_task_join(h[i], NULL, NULL));
    cio_notify_free(n);
    cio_socket_close(a);
    cio_socket_close(b);
    return NULL;
}

static void test_dump_current_thread(void)
{
    run_main(0, main_dump);
}

static void test_dump_multi_thread(void)
{
    run_main(2, main_dump);
}

/* Shared tasks (work stealing: spawned without a worker on a multi-thread runtime) are no
 * worker's: the dump lists them apart, with what they wait on and since when. */
static void *main_dump_shared(void *arg)
{
    cio_rt *rt = arg;
    cio_unix_stream *a, *b;
    CHECK_RC(cio_unix_stream_pair(&a, &b));
    cio_notify *n;
    CHECK_RC(cio_notify_new(&n));
    cio_join_handle *h[2];
    cio_spawn_options o = {.name = "shared-reader"};
    CHECK_RC(cio_spawn_ex(&h[0], &o, blocked_reader, a));
    o.name = "shared-waiter";
    CHECK_RC(cio_spawn_ex(&h[1], &o, notify_waiter, n));
    CHECK_RC(cio_sleep(50 * CIO_NSEC_PER_MSEC));

    char *text;
    CHECK_RC(cio_rt_dump_string(rt, CIO_DUMP_TASKS, &text, NULL));
    const char *line = task_line(text, "shared tasks (any worker)", "shared-reader");
    check_line(line, "parked ");
    check_line(line, ": socket readiness");
    line = task_line(text, "shared tasks (any worker)", "shared-waiter");
    check_line(line, "parked ");
    check_line(line, ": notify");
    free(text);

    for (int i = 0; i < 2; i++) {
        cio_abort_handle ah;
        CHECK_RC(cio_task_abort_handle(h[i], &ah));
        CHECK_RC(cio_abort_handle_cancel(ah));
    }
    for (int i = 0; i < 2; i++)
        CHECK_RC(cio_task_join(h[i], NULL, NULL));
    cio_notify_free(n);
    cio_socket_close(a);
    cio_socket_close(b);
    return NULL;
}

static void test_dump_shared_tasks(void)
{
    run_main(2, main_dump_shared);
}

/* A thread outside the runtime dumps while the runtime runs; and a worker that does not
 * run (a current-thread runtime outside block_on) is reported as not answering. */
struct outside {
    cio_rt *rt;
    char *text;
    atomic_bool done;
};

static void *dump_from_thread(void *arg)
{
    struct outside *o = arg;
    CHECK_RC(cio_rt_dump_string(o->rt, CIO_DUMP_TASKS, &o->text, NULL));
    atomic_store(&o->done, true);
    return NULL;
}

static void *main_outside(void *arg)
{
    struct outside *o = arg;
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, dump_from_thread, o), 0);
    for (int i = 0; i < 2000 && !atomic_load(&o->done); i++)
        CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
    CHECK_EQ(pthread_join(th, NULL), 0);
    return NULL;
}

static void test_dump_from_outside(void)
{
    cio_rt *rt;
    CHECK_RC(cio_rt_new(&rt, NULL));
    struct outside o = {.rt = rt};
    CHECK_RC(cio_rt_block_on(rt, main_outside, &o, NULL));
    CHECK(o.text != NULL);
    check_sleeping(task_line(o.text, "worker 0: ", "main"));
    free(o.text);
    /* not running now: the worker cannot answer */
    char *text;
    CHECK_RC(cio_rt_dump_string(rt, CIO_DUMP_TASKS, &text, NULL));
    CHECK(strstr(text, "worker 0: did not answer") != NULL);
    free(text);
    cio_rt_free(rt);
}

/* ---- on a signal ---- */

static void *main_signal(void *arg)
{
    int *pipefd = arg;
    CHECK_RC(cio_sleep(5 * CIO_NSEC_PER_MSEC)); /* the dump task waits for the signal */
    CHECK_EQ(raise(SIGUSR1), 0);
    char buf[8192] = "";
    size_t got = 0;
    for (int i = 0; i < 2000 && strstr(buf, "\"cio-dump\" running\n") == NULL; i++) {
        CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
        ssize_t n = read(pipefd[0], buf + got, sizeof(buf) - 1 - got);
        if (n > 0)
            got += (size_t)n;
        buf[got] = '\0';
    }
    CHECK(strstr(buf, "runtime: workers=1 ") != NULL);
    CHECK(strstr(buf, "worker 0: tasks_live=2 ") != NULL);
    check_sleeping(task_line(buf, "worker 0: 2 live", "main"));
    check_line(task_line(buf, "worker 0: 2 live", "cio-dump"), "running");
    return NULL;
}

static void test_dump_on_signal(void)
{
    /* The signal pipe lives as long as the process (its handler may run at any time). */
    cio_test_expect_new_fds(2);
    int pipefd[2];
    CHECK_EQ(pipe2(pipefd, O_NONBLOCK | O_CLOEXEC), 0);
    cio_rt *rt;
    CHECK_RC(cio_rt_new(&rt, NULL));
    CHECK_ERR(cio_rt_dump_on_signal(rt, SIGKILL, pipefd[1]), -EINVAL);
    CHECK_ERR(cio_rt_dump_on_signal(rt, SIGUSR1, -1), -EINVAL);
    CHECK_RC(cio_rt_dump_on_signal(rt, SIGUSR1, pipefd[1]));
    CHECK_RC(cio_rt_block_on(rt, main_signal, pipefd, NULL));
    cio_rt_free(rt); /* cancels the dump task */
    close(pipefd[0]);
    close(pipefd[1]);
}

/* ---- arguments and versions ---- */

static void test_arguments(void)
{
    cio_rt *rt;
    CHECK_RC(cio_rt_new(&rt, NULL));
    cio_worker_metrics m = {0};
    CHECK_ERR(cio_rt_worker_metrics_read(rt, 0, &m), -EINVAL); /* no size */
    m.size = sizeof(m);
    CHECK_ERR(cio_rt_worker_metrics_read(rt, 1, &m), -EINVAL);
    CHECK_ERR(cio_rt_worker_metrics_read(NULL, 0, &m), -EINVAL);
    CHECK_ERR(cio_rt_worker_metrics_read(rt, 0, NULL), -EINVAL);
    CHECK_RC(cio_rt_worker_metrics_read(rt, 0, &m));
    CHECK_EQ(m.size, sizeof(m));
    CHECK_EQ(m.tasks_live, 0);
    /* a bigger struct (a later version's caller): the rest is left alone */
    struct {
        cio_worker_metrics m;
        uint64_t later;
    } big = {.m = {.size = sizeof(big)}, .later = 42};
    CHECK_RC(cio_rt_worker_metrics_read(rt, CIO_METRICS_TOTAL, &big.m));
    CHECK_EQ(big.later, 42);
    cio_rt_metrics r = {0};
    CHECK_ERR(cio_rt_metrics_read(rt, &r), -EINVAL);
    r.size = sizeof(r);
    CHECK_RC(cio_rt_metrics_read(rt, &r));
    CHECK_EQ(r.workers, 1);
    CHECK_ERR(cio_rt_dump(rt, CIO_DUMP_METRICS, -1), -EINVAL);
    CHECK_ERR(cio_rt_dump(NULL, CIO_DUMP_METRICS, 2), -EINVAL);
    char *text;
    CHECK_ERR(cio_rt_dump_string(rt, CIO_DUMP_METRICS, NULL, NULL), -EINVAL);
    CHECK_RC(cio_rt_dump_string(rt, CIO_DUMP_METRICS, &text, NULL));
    CHECK(strstr(text, "worker 0: tasks_live=0 ") != NULL);
    free(text);
    cio_rt_free(rt);
}

CIO_TEST_MAIN(TEST(test_consistent_under_load), TEST(test_wakes_local_and_remote),
              TEST(test_reactor_events), TEST(test_dump_current_thread),
              TEST(test_dump_multi_thread), TEST(test_dump_shared_tasks),
              TEST(test_dump_from_outside), TEST(test_dump_on_signal), TEST(test_arguments))
