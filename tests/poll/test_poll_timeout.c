/*
 * test_poll_timeout.c: how long cio_poll_wait waits. Zero returns at once; a positive timeout
 * waits at least that long (with a generous upper bound) and is never turned into a busy zero
 * wait however small it is; an infinite (or enormous) timeout waits until another thread wakes
 * the poll or makes a descriptor ready; cio_poll_wait_ms maps milliseconds the same way.
 */
/* cio-test-labels: threads */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cio/poll.h"
#include "harness.h"
#include "poll_helpers.h"

#define WAKER_TOKEN 0xabcdu

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* ---- a helper thread that, after a delay, wakes the poll or writes to a descriptor ---- */

struct later {
    pthread_t thread;
    int delay_ms;
    cio_waker *waker; /* wake this, or */
    int fd;           /* write a byte here */
};

static void *later_main(void *arg)
{
    struct later *l = arg;
    sleep_ms(l->delay_ms);
    if (l->waker != NULL)
        CHECK_RC(cio_waker_wake(l->waker));
    else
        write_byte(l->fd);
    return NULL;
}

static void later_start(struct later *l)
{
    CHECK_EQ(pthread_create(&l->thread, NULL, later_main, l), 0);
}

static void later_join(struct later *l)
{
    CHECK_EQ(pthread_join(l->thread, NULL), 0);
}

/* ---- cases ---- */

static void test_zero_returns_at_once(void)
{
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(8);
    int sv[2];
    unix_pair(sv);
    CHECK_RC(cio_poll_register(poll, sv[0], 1, CIO_READABLE));
    cio_time start = cio_now();
    for (int i = 0; i < 1000; i++) {
        CHECK_EQ(cio_poll_wait(poll, events, CIO_TIMEOUT_NONE), 0);
        CHECK_EQ(cio_poll_wait_ms(poll, events, 0), 0);
    }
    cio_duration took = cio_now() - start;
    printf("    2000 zero waits: %.1f us each\n", (double)took / 2000 / 1000);
    CHECK(took < 500 * CIO_NSEC_PER_MSEC); /* about a microsecond each; 250 us allowed */
    /* Something ready: reported at once, still without waiting. */
    write_byte(sv[1]);
    start = cio_now();
    CHECK_EQ(wait_token(poll, events, 1, 0), CIO_EVENT_READABLE);
    CHECK(cio_now() - start < 100 * CIO_NSEC_PER_MSEC);
    CHECK_RC(cio_poll_deregister(poll, sv[0]));
    close(sv[0]);
    close(sv[1]);
    cio_events_free(events);
    cio_poll_free(poll);
}

static void check_waits_about(cio_poll *poll, cio_events *events, bool in_ms, int ms)
{
    cio_time start = cio_now();
    int n = in_ms ? cio_poll_wait_ms(poll, events, ms)
                  : cio_poll_wait(poll, events, (int64_t)ms * CIO_NSEC_PER_MSEC);
    cio_duration took = cio_now() - start;
    CHECK_EQ(n, 0);
    if (took < (int64_t)(ms - 5) * CIO_NSEC_PER_MSEC || took >= CIO_NSEC_PER_SEC)
        TEST_FAIL("a %d ms wait%s took %.3f ms", ms, in_ms ? " (ms)" : "", (double)took / 1e6);
}

static void test_timeout_50ms(void)
{
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(8);
    int sv[2];
    unix_pair(sv);
    /* Registered but idle descriptors do not shorten the wait. */
    CHECK_RC(cio_poll_register(poll, sv[0], 1, CIO_READABLE));
    for (int i = 0; i < 3; i++) {
        check_waits_about(poll, events, false, 50);
        check_waits_about(poll, events, true, 50);
    }
    check_waits_about(poll, events, false, 120);
    CHECK_RC(cio_poll_deregister(poll, sv[0]));
    close(sv[0]);
    close(sv[1]);
    cio_events_free(events);
    cio_poll_free(poll);
}

/* Sub-millisecond timeouts: never shorter than asked (kernel timers do not fire early), so
 * never a zero wait in disguise. */
static void test_small_timeouts_wait_at_least(void)
{
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(8);
    static const int64_t timeouts[] = {1, 1000, 100000, 500000, 999999, 1000001, 2500000};
    for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
        for (int rep = 0; rep < 5; rep++) {
            cio_time start = cio_now();
            CHECK_EQ(cio_poll_wait(poll, events, timeouts[i]), 0);
            cio_duration took = cio_now() - start;
            if (took < timeouts[i] || took >= CIO_NSEC_PER_SEC)
                TEST_FAIL("a %jd ns wait took %jd ns", (intmax_t)timeouts[i], (intmax_t)took);
        }
    }
    cio_events_free(events);
    cio_poll_free(poll);
}

static long voluntary_switches(void)
{
    struct rusage ru;
    CHECK_SYS(getrusage(RUSAGE_THREAD, &ru));
    return ru.ru_nvcsw;
}

/* A 1 ns timeout is a real (tiny) sleep, not a busy poll: in a tight loop of waits the thread
 * blocks in the kernel each time (a voluntary context switch per wait), whereas zero-timeout
 * waits never block. Counting blocks is robust where timing each call is not. */
static void test_one_ns_is_not_busy(void)
{
    enum { N = 2000 };
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(8);
    long before = voluntary_switches();
    for (int i = 0; i < N; i++)
        CHECK_EQ(cio_poll_wait(poll, events, 0), 0);
    long zero_blocks = voluntary_switches() - before;
    before = voluntary_switches();
    cio_time start = cio_now();
    for (int i = 0; i < N; i++)
        CHECK_EQ(cio_poll_wait(poll, events, 1), 0);
    cio_duration took = cio_now() - start;
    long ns_blocks = voluntary_switches() - before;
    printf("    %d waits: timeout 0 blocked %ld times; timeout 1 ns blocked %ld times, %.1f us "
           "each\n",
           N, zero_blocks, ns_blocks, (double)took / N / 1000);
    CHECK(zero_blocks < N / 4);
    CHECK(ns_blocks >= N / 2);
    CHECK(took >= N); /* at least the 1 ns each, trivially; the switches are the real check */
    cio_events_free(events);
    cio_poll_free(poll);
}

static void check_infinite(int64_t timeout_ns, bool in_ms)
{
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(8);
    cio_waker *waker;
    CHECK_RC(cio_waker_new(&waker, poll, WAKER_TOKEN));
    struct later l = {.delay_ms = 60, .waker = waker};
    cio_time start = cio_now(); /* before the thread: it may run its sleep before we return */
    later_start(&l);
    struct collected c = {0};
    int n;
    for (int i = 0; i < 100 && c.count == 0; i++) { /* spurious empty returns are allowed */
        n = in_ms ? cio_poll_wait_ms(poll, events, (int)timeout_ns)
                  : cio_poll_wait(poll, events, timeout_ns);
        CHECK_RC(n);
        const cio_event *ev;
        for (size_t it = 0; (ev = cio_events_next(events, &it)) != NULL;)
            c.ev[c.count++] = *ev;
    }
    cio_duration took = cio_now() - start;
    later_join(&l);
    CHECK_EQ(c.count, 1);
    CHECK_EQ(c.ev[0].token, WAKER_TOKEN);
    CHECK_EQ(c.ev[0].flags, CIO_EVENT_READABLE);
    if (took < 50 * CIO_NSEC_PER_MSEC || took > 10 * CIO_NSEC_PER_SEC)
        TEST_FAIL("woken after %.1f ms, expected about 60", (double)took / 1e6);
    cio_waker_free(waker);
    cio_events_free(events);
    cio_poll_free(poll);
}

static void test_infinite_until_woken(void)
{
    check_infinite(CIO_TIMEOUT_INFINITE, false);
    check_infinite(-12345, false); /* any negative value is infinite */
    check_infinite(INT64_MIN, false);
    check_infinite(-1, true); /* cio_poll_wait_ms */
    check_infinite(-1000, true);
}

/* Enormous positive timeouts must not overflow into "now" or into an error. */
static void test_huge_timeouts(void)
{
    check_infinite(INT64_MAX, false);
    check_infinite(INT64_MAX - 1, false);
    check_infinite((int64_t)3600 * 24 * 365 * CIO_NSEC_PER_SEC, false);
    check_infinite(INT32_MAX, true);
}

/* A descriptor that becomes ready during a long wait ends it at once. */
static void test_ready_during_wait_ends_it(void)
{
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(8);
    int sv[2];
    unix_pair(sv);
    CHECK_RC(cio_poll_register(poll, sv[0], 5, CIO_READABLE));
    struct later l = {.delay_ms = 40, .fd = sv[1]};
    cio_time start = cio_now(); /* before the thread: it may run its sleep before we return */
    later_start(&l);
    uint32_t flags = wait_token(poll, events, 5, 5000);
    cio_duration took = cio_now() - start;
    later_join(&l);
    CHECK_EQ(flags, CIO_EVENT_READABLE);
    if (took < 30 * CIO_NSEC_PER_MSEC || took >= 2 * CIO_NSEC_PER_SEC)
        TEST_FAIL("event after %.1f ms, expected about 40", (double)took / 1e6);
    CHECK_RC(cio_poll_deregister(poll, sv[0]));
    close(sv[0]);
    close(sv[1]);
    cio_events_free(events);
    cio_poll_free(poll);
}

CIO_TEST_MAIN(TEST(test_zero_returns_at_once), TEST(test_timeout_50ms),
              TEST(test_small_timeouts_wait_at_least), TEST(test_one_ns_is_not_busy),
              TEST(test_infinite_until_woken), TEST(test_huge_timeouts),
              TEST(test_ready_during_wait_ends_it))
