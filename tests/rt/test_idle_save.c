/*
 * test_idle_save.c: the stacks of long-parked tasks are saved to the heap and their pages given
 * back (cio_rt_options.idle_save; src/rt/sched.c "idle tasks", src/rt/coro.h). What must hold:
 * pointers to stack locals stay valid across a save and its restore (the stack comes back to
 * the same addresses), a deep live stack comes back whole, a saved task woken from another
 * thread or moving to another worker resumes correctly (run under TSan: label threads), a
 * stack overflow after a restore is still reported with the task's name, a spawn/exit loop
 * of saved tasks does not grow, and a parked task costs well under a stack page.
 */
/* cio-test-labels: threads */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cio/metrics.h"
#include "cio/rt.h"
#include "cio/socket.h"
#include "cio/stream.h"
#include "cio/unix.h"
#include "harness.h"
#include "rt/stack.h"

#define MS CIO_NSEC_PER_MSEC
#define IDLE_SAVE (10 * MS) /* short, so that the tests do not wait */

static cio_rt *rt_new(cio_rt_flavor flavor, unsigned workers, cio_duration idle_save)
{
    cio_rt_options opts = {.flavor = flavor, .workers = workers, .idle_save = idle_save};
    cio_rt *rt;
    CHECK_RC(cio_rt_new(&rt, &opts));
    return rt;
}

static cio_rt *the_rt; /* the runtime of the test in progress */

static uint64_t stacks_saved(void)
{
    cio_worker_metrics m = CIO_METRICS_INIT(m);
    CHECK_RC(cio_rt_worker_metrics_read(the_rt, CIO_METRICS_TOTAL, &m));
    return m.stacks_saved;
}

/* Sleep in steps until @n stacks were saved in all (50 s at most). */
static void wait_saved(uint64_t n)
{
    cio_time give_up = cio_now() + 50 * CIO_NSEC_PER_SEC;
    while (stacks_saved() < n) {
        if (cio_now() > give_up)
            TEST_FAIL("%llu of %llu stacks saved after 50 s", (unsigned long long)stacks_saved(),
                      (unsigned long long)n);
        CHECK_RC(cio_sleep(5 * MS));
    }
}

/* ---- pointers to locals across a save ---- */

static volatile long *kept; /* a pointer into a task's stack, kept across its park */
static volatile int stage;  /* the parked task's progress */
static int sock_pair[2];    /* raw socketpair: [0] adopted by a task, [1] written by the test */

static void *keeper(void *arg)
{
    (void)arg;
    volatile long local = 0x5eed;
    volatile char pattern[2000];
    for (size_t i = 0; i < sizeof(pattern); i++)
        pattern[i] = (char)(i * 7);
    kept = &local;
    stage = 1;
    CHECK_RC(cio_sleep(200 * MS)); /* saved after IDLE_SAVE, restored when the timer fires */
    CHECK_EQ(local, 0x5eed);
    CHECK(kept == &local); /* the same address */
    for (size_t i = 0; i < sizeof(pattern); i++)
        CHECK_EQ(pattern[i], (char)(i * 7));
    stage = 2;
    return NULL;
}

/* Another task writes the local through the kept pointer while this one is runnable (it
 * yields: queued, never saved), then it parks and is saved again with the new value. */
static void *keeper_twice(void *arg)
{
    (void)arg;
    volatile long local = 0x5eed;
    kept = &local;
    stage = 1;
    CHECK_RC(cio_sleep(100 * MS)); /* saved, then restored */
    stage = 2;
    while (stage == 2)
        CHECK_RC(cio_yield());     /* the main task writes *kept meanwhile */
    CHECK_RC(cio_sleep(100 * MS)); /* saved again with the new value, restored */
    CHECK_EQ(local, 0x6eed);
    stage = 4;
    return NULL;
}

static void *locals_twice_main(void *arg)
{
    (void)arg;
    cio_join_handle *h1, *h2;
    CHECK_RC(cio_spawn(&h1, keeper, NULL));
    while (stage == 0)
        CHECK_RC(cio_yield());
    wait_saved(1);
    CHECK_RC(cio_task_join(h1, NULL, NULL)); /* keeper checks its locals itself */
    stage = 0;
    uint64_t before = stacks_saved();
    CHECK_RC(cio_spawn(&h2, keeper_twice, NULL));
    while (stage != 2)
        CHECK_RC(cio_sleep(1 * MS));
    CHECK(stacks_saved() > before);
    *kept = 0x6eed; /* the task is queued (it yields), its stack in place */
    stage = 3;
    wait_saved(before + 2);
    CHECK_RC(cio_task_join(h2, NULL, NULL));
    CHECK_EQ(stage, 4);
    return NULL;
}

static void test_locals_kept(void)
{
    the_rt = rt_new(CIO_RT_CURRENT_THREAD, 0, IDLE_SAVE);
    stage = 0;
    CHECK_RC(cio_rt_block_on(the_rt, locals_twice_main, NULL, NULL));
    cio_rt_free(the_rt);
}

/* ---- a deep live stack ---- */

static long deep(int depth, int bottom)
{
    volatile long frame[128]; /* 1 KiB a frame */
    for (int i = 0; i < 128; i++)
        frame[i] = (long)depth * 1000 + i;
    long sum = 0;
    if (depth < bottom)
        sum = deep(depth + 1, bottom);
    else
        CHECK_RC(cio_sleep(100 * MS)); /* saved with ~100 KiB live above it */
    for (int i = 0; i < 128; i++) {
        CHECK_EQ(frame[i], (long)depth * 1000 + i);
        sum += frame[i];
    }
    return sum;
}

static void *deep_task(void *arg)
{
    long *ret = arg;
    *ret = deep(0, 100);
    return NULL;
}

static void *deep_main(void *arg)
{
    (void)arg;
    long sum = 0;
    cio_join_handle *h;
    CHECK_RC(cio_spawn(&h, deep_task, &sum));
    wait_saved(1);
    CHECK_RC(cio_task_join(h, NULL, NULL));
    long want = 0;
    for (long d = 0; d <= 100; d++)
        for (long i = 0; i < 128; i++)
            want += d * 1000 + i;
    CHECK_EQ(sum, want);
    return NULL;
}

static void test_deep_stack(void)
{
    the_rt = rt_new(CIO_RT_CURRENT_THREAD, 0, IDLE_SAVE);
    CHECK_RC(cio_rt_block_on(the_rt, deep_main, NULL, NULL));
    cio_rt_free(the_rt);
}

/* ---- a socket wait saved, woken by the reactor ---- */

static void *reader(void *arg)
{
    (void)arg;
    cio_unix_stream *s;
    CHECK_RC(cio_unix_stream_from_fd(&s, sock_pair[0]));
    volatile long local = 42;
    char buf[16];
    ssize_t n = cio_stream_read(s, buf, sizeof(buf)); /* parks: saved while it waits */
    CHECK_EQ(n, 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    CHECK_EQ(local, 42);
    cio_socket_close(s);
    return NULL;
}

static void *socket_main(void *arg)
{
    (void)arg;
    cio_join_handle *h;
    CHECK_RC(cio_spawn(&h, reader, NULL));
    wait_saved(1);
    CHECK_EQ(write(sock_pair[1], "hello", 5), 5);
    CHECK_RC(cio_task_join(h, NULL, NULL));
    return NULL;
}

static void test_socket_wait(void)
{
    CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sock_pair));
    the_rt = rt_new(CIO_RT_CURRENT_THREAD, 0, IDLE_SAVE);
    CHECK_RC(cio_rt_block_on(the_rt, socket_main, NULL, NULL));
    cio_rt_free(the_rt);
    close(sock_pair[1]);
}

/* ---- woken from another thread, moving between workers ---- */

#define CROWD 64

static int crowd_fds[CROWD][2];
static cio_abort_handle crowd_aborts[CROWD];
static long crowd_done;

/* Even ones sleep until cancelled from another thread; odd ones wait on a socket that another
 * thread writes to. Either way a stack local pointed to from elsewhere checks the restore. */
static void *crowd_task(void *arg)
{
    long i = (long)(intptr_t)arg;
    volatile long local = i * 31;
    volatile long *mine = &local;
    if (i % 2 == 0) {
        CHECK_RC(cio_task_current_abort_handle(&crowd_aborts[i]));
        CHECK_ERR(cio_sleep(3600 * CIO_NSEC_PER_SEC), -ECANCELED);
    } else {
        cio_unix_stream *s;
        CHECK_RC(cio_unix_stream_from_fd(&s, crowd_fds[i][0]));
        char c;
        CHECK_EQ(cio_stream_read(s, &c, 1), 1);
        CHECK_EQ(c, (char)i);
        cio_socket_close(s);
    }
    CHECK_EQ(*mine, i * 31);
    __atomic_add_fetch(&crowd_done, 1, __ATOMIC_RELAXED);
    return NULL;
}

static void *waker_thread(void *arg)
{
    (void)arg;
    for (long i = 0; i < CROWD; i++) {
        if (i % 2 == 0) {
            CHECK_RC(cio_abort_handle_cancel(crowd_aborts[i]));
        } else {
            char c = (char)i;
            CHECK_EQ(write(crowd_fds[i][1], &c, 1), 1);
        }
    }
    return NULL;
}

static void *crowd_main(void *arg)
{
    (void)arg;
    cio_join_handle *h[CROWD];
    for (long i = 0; i < CROWD; i++)
        CHECK_RC(cio_spawn(&h[i], crowd_task, (void *)(intptr_t)i));
    wait_saved(CROWD);
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, waker_thread, NULL) == 0);
    for (long i = 0; i < CROWD; i++)
        CHECK_RC(cio_task_join(h[i], NULL, NULL));
    CHECK(pthread_join(thread, NULL) == 0);
    CHECK_EQ(__atomic_load_n(&crowd_done, __ATOMIC_RELAXED), CROWD);
    return NULL;
}

static void crowd(bool steal)
{
    for (long i = 1; i < CROWD; i += 2)
        CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, crowd_fds[i]));
    crowd_done = 0;
    cio_rt_options opts = {
        .flavor = CIO_RT_MULTI_THREAD, .workers = 2, .idle_save = IDLE_SAVE, .no_stealing = !steal};
    CHECK_RC(cio_rt_new(&the_rt, &opts));
    CHECK_RC(cio_rt_block_on(the_rt, crowd_main, NULL, NULL));
    cio_rt_free(the_rt);
    for (long i = 1; i < CROWD; i += 2)
        close(crowd_fds[i][1]);
}

static void test_remote_wake_pinned(void)
{
    crowd(false);
}

static void test_remote_wake_shared(void)
{
    crowd(true);
}

/* ---- overflow after a restore ---- */

static long recurse(volatile long *limit, long depth)
{
    volatile char frame[400];
    frame[0] = (char)depth;
    if (depth >= *limit) /* never */
        return frame[0];
    return recurse(limit, depth + 1) + frame[0];
}

static void *overflower(void *arg)
{
    (void)arg;
    CHECK_RC(cio_sleep(100 * MS)); /* saved and restored first */
    volatile long limit = 1L << 40;
    return (void *)(intptr_t)recurse(&limit, 0);
}

static void *overflow_main(void *arg)
{
    (void)arg;
    cio_spawn_options opts = {.stack_size = 32 * 1024, .name = "saved-overflower"};
    CHECK_RC(cio_spawn_ex(NULL, &opts, overflower, NULL));
    wait_saved(1);
    CHECK_RC(cio_sleep(3600 * CIO_NSEC_PER_SEC)); /* the overflow ends the process */
    return NULL;
}

static void overflow_child(void)
{
    the_rt = rt_new(CIO_RT_CURRENT_THREAD, 0, IDLE_SAVE);
    (void)cio_rt_block_on(the_rt, overflow_main, NULL, NULL);
}

static void test_overflow_after_save(void)
{
    if (CIO__ASAN)
        TEST_SKIP("ASan reports the overflow itself, before cio's handler");
    char out[4096];
    int status = cio_test_run_child(overflow_child, out, sizeof(out));
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
        TEST_FAIL("child: status %#x (wanted death by SIGABRT); stderr: %s", status, out);
    const char *want = "coroutine \"saved-overflower\" overflowed its 32768-byte stack";
    if (strstr(out, want) == NULL)
        TEST_FAIL("child's stderr lacks '%s': %s", want, out);
}

/* ---- memory ---- */

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    long v = -1;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "VmRSS:", 6) == 0)
            v = strtol(line + 6, NULL, 10);
    if (f != NULL)
        fclose(f);
    return v;
}

static void skip_unless_plain(void)
{
    if (CIO__ASAN || CIO__TSAN || cio_test_under_valgrind())
        TEST_SKIP("RSS under a sanitizer or valgrind is their shadow memory, not cio's");
    if (cio_test_under_qemu())
        TEST_SKIP("under qemu-user RSS is qemu's own process, not the program's");
}

static void abort_task(cio_join_handle *h)
{
    cio_abort_handle ab;
    CHECK_RC(cio_task_abort_handle(h, &ab));
    CHECK_RC(cio_abort_handle_cancel(ab));
}

#define IDLE_TASKS 10000
static long sleeping;

static void *idle_sleeper(void *arg)
{
    (void)arg;
    sleeping++;
    (void)cio_sleep(3600 * CIO_NSEC_PER_SEC); /* until cancelled */
    return NULL;
}

static void *idle_main(void *arg)
{
    long *per_task = arg;
    cio_join_handle **h = calloc(IDLE_TASKS, sizeof(*h));
    CHECK(h != NULL);
    /* warm-up: the stack pool, the arenas, malloc's first chunks */
    for (int i = 0; i < 256; i++)
        CHECK_RC(cio_spawn(&h[i], idle_sleeper, NULL));
    wait_saved(256);
    for (int i = 0; i < 256; i++) {
        abort_task(h[i]);
        CHECK_RC(cio_task_join(h[i], NULL, NULL));
    }
    long before = rss_kib();
    uint64_t saved_before = stacks_saved();
    for (int i = 0; i < IDLE_TASKS; i++)
        CHECK_RC(cio_spawn(&h[i], idle_sleeper, NULL));
    wait_saved(saved_before + IDLE_TASKS);
    long after = rss_kib();
    *per_task = (after - before) * 1024 / IDLE_TASKS;
    for (int i = 0; i < IDLE_TASKS; i++) {
        abort_task(h[i]);
        CHECK_RC(cio_task_join(h[i], NULL, NULL));
    }
    free(h);
    return NULL;
}

static void test_idle_memory(void)
{
    skip_unless_plain();
    long per_task = 0;
    sleeping = 0;
    the_rt = rt_new(CIO_RT_CURRENT_THREAD, 0, IDLE_SAVE);
    CHECK_RC(cio_rt_block_on(the_rt, idle_main, &per_task, NULL));
    cio_rt_free(the_rt);
    printf("    %d tasks parked in a sleep, saved: %ld B of RSS each (a stack page is %zu)\n",
           IDLE_TASKS, per_task, cio__stack_page_size());
    CHECK(per_task < 1024);
}

/* Rounds of tasks that park long enough to be saved, then finish: memory stays flat. */
static void *churn_main(void *arg)
{
    long *growth = arg;
    cio_join_handle *h[500];
    long base = 0;
    for (int round = 0; round < 12; round++) {
        uint64_t saved = stacks_saved();
        sleeping = 0;
        for (int i = 0; i < 500; i++)
            CHECK_RC(cio_spawn(&h[i], idle_sleeper, NULL));
        wait_saved(saved + 500);
        for (int i = 0; i < 500; i++) {
            abort_task(h[i]);
            CHECK_RC(cio_task_join(h[i], NULL, NULL));
        }
        CHECK_RC(cio_sleep(2 * MS));
        if (round == 3)
            base = rss_kib();
    }
    *growth = rss_kib() - base;
    return NULL;
}

static void test_spawn_exit_flat(void)
{
    skip_unless_plain();
    long growth = 0;
    the_rt = rt_new(CIO_RT_CURRENT_THREAD, 0, IDLE_SAVE);
    CHECK_RC(cio_rt_block_on(the_rt, churn_main, &growth, NULL));
    cio_rt_free(the_rt);
    printf("    8 more rounds of 500 saved tasks: RSS %+ld KiB\n", growth);
    CHECK(growth < 256);
}

/* idle_save 0 (the default: off) or < 0: nothing is ever saved. */
static void *never_main(void *arg)
{
    cio_duration wait = *(cio_duration *)arg;
    cio_join_handle *h;
    CHECK_RC(cio_spawn(&h, idle_sleeper, NULL));
    CHECK_RC(cio_sleep(wait));
    CHECK_EQ(stacks_saved(), 0);
    abort_task(h);
    CHECK_RC(cio_task_join(h, NULL, NULL));
    return NULL;
}

static void test_never(void)
{
    cio_duration wait = 50 * MS;
    the_rt = rt_new(CIO_RT_CURRENT_THREAD, 0, -1);
    CHECK_RC(cio_rt_block_on(the_rt, never_main, &wait, NULL));
    cio_rt_free(the_rt);
    /* The default: off (at 1 s, the server value, a sweep saves it within 2.5 s). */
    wait = 2500 * MS;
    the_rt = rt_new(CIO_RT_CURRENT_THREAD, 0, 0);
    CHECK_RC(cio_rt_block_on(the_rt, never_main, &wait, NULL));
    cio_rt_free(the_rt);
}

CIO_TEST_MAIN(TEST(test_locals_kept), TEST(test_deep_stack), TEST(test_socket_wait),
              TEST(test_remote_wake_pinned), TEST(test_remote_wake_shared),
              TEST(test_overflow_after_save), TEST(test_idle_memory), TEST(test_spawn_exit_flat),
              TEST(test_never))
