/*
 * test_poll_waker.c: the poll's cross-thread waker (mio's Waker). A wake from another thread
 * ends an infinite wait with the waker's token; any number of wakes before a wait coalesce into
 * exactly one event and never block or fail; a poll has at most one waker, and a new one can
 * be made after the old is freed; a wake also ends a wait that has ready descriptors mixed in.
 */
/* cio-test-labels: threads */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cio/poll.h"
#include "harness.h"
#include "poll_helpers.h"

static int count_token(cio_poll *poll, cio_events *events, int64_t timeout_ns, cio_token token,
                       int *ret_others)
{
    struct collected c = {0};
    collect_once(poll, events, timeout_ns, &c);
    int times;
    uint32_t flags = token_flags(&c, token, &times);
    if (times > 0)
        CHECK_EQ(flags, CIO_EVENT_READABLE);
    if (ret_others != NULL)
        *ret_others = (int)c.count - times;
    return times;
}

static void test_wake_before_wait(void)
{
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(8);
    cio_waker *waker;
    CHECK_RC(cio_waker_new(&waker, poll, 5));
    CHECK_EQ(count_token(poll, events, 0, 5, NULL), 0); /* no wake, no event */
    CHECK_RC(cio_waker_wake(waker));
    CHECK_EQ(count_token(poll, events, CIO_NSEC_PER_SEC, 5, NULL), 1);
    CHECK_EQ(count_token(poll, events, 20 * CIO_NSEC_PER_MSEC, 5, NULL), 0); /* consumed */
    for (int round = 0; round < 50; round++) {
        CHECK_RC(cio_waker_wake(waker));
        CHECK_EQ(count_token(poll, events, CIO_NSEC_PER_SEC, 5, NULL), 1);
    }
    CHECK_EQ(count_token(poll, events, 0, 5, NULL), 0);
    cio_waker_free(waker);
    cio_events_free(events);
    cio_poll_free(poll);
}

/* 1,000,000 wakes, then one wait: exactly one event; no wake blocked or failed. */
static void test_million_wakes_coalesce(void)
{
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(8);
    cio_waker *waker;
    CHECK_RC(cio_waker_new(&waker, poll, 77));
    cio_time start = cio_now();
    for (int i = 0; i < 1000000; i++) {
        int rc = cio_waker_wake(waker);
        if (rc != 0)
            TEST_FAIL("wake %d failed: %s", i, cio_strerror(rc));
    }
    cio_duration took = cio_now() - start;
    printf("    1e6 wakes: %.0f ns each\n", (double)took / 1e6);
    CHECK(took < 30 * CIO_NSEC_PER_SEC);
    CHECK_EQ(count_token(poll, events, CIO_NSEC_PER_SEC, 77, NULL), 1);
    CHECK_EQ(count_token(poll, events, 0, 77, NULL), 0);
    CHECK_EQ(count_token(poll, events, 20 * CIO_NSEC_PER_MSEC, 77, NULL), 0);
    /* And it keeps working afterwards. */
    CHECK_RC(cio_waker_wake(waker));
    CHECK_EQ(count_token(poll, events, CIO_NSEC_PER_SEC, 77, NULL), 1);
    cio_waker_free(waker);
    cio_events_free(events);
    cio_poll_free(poll);
}

/* The waker event sits in the batch beside descriptor events, with capacity 1 too. */
static void test_wake_with_ready_descriptors(void)
{
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(8);
    cio_waker *waker;
    CHECK_RC(cio_waker_new(&waker, poll, 1000));
    int sv[2];
    unix_pair(sv);
    CHECK_RC(cio_poll_register(poll, sv[0], 1, CIO_READABLE));
    write_byte(sv[1]);
    CHECK_RC(cio_waker_wake(waker));
    struct collected c = {0};
    for (int i = 0; i < 5; i++)
        collect_once(poll, events, 20 * CIO_NSEC_PER_MSEC, &c);
    int times;
    CHECK_EQ(token_flags(&c, 1000, &times), CIO_EVENT_READABLE);
    CHECK_EQ(times, 1);
    CHECK(token_flags(&c, 1, NULL) & CIO_EVENT_READABLE);
    CHECK_RC(cio_poll_deregister(poll, sv[0]));

    /* Capacity 1: the wake and a ready descriptor come one per wait, neither lost. */
    cio_events *one = events_new(1);
    CHECK_RC(cio_poll_register(poll, sv[0], 2, CIO_READABLE));
    CHECK_RC(cio_waker_wake(waker));
    c.count = 0;
    for (int i = 0; i < 4; i++)
        CHECK(collect_once(poll, one, 20 * CIO_NSEC_PER_MSEC, &c) <= 1);
    CHECK_EQ(token_flags(&c, 1000, &times), CIO_EVENT_READABLE);
    CHECK_EQ(times, 1);
    CHECK(token_flags(&c, 2, NULL) & CIO_EVENT_READABLE);
    CHECK_RC(cio_poll_deregister(poll, sv[0]));
    cio_events_free(one);

    close(sv[0]);
    close(sv[1]);
    cio_waker_free(waker);
    cio_events_free(events);
    cio_poll_free(poll);
}

static void test_second_waker_eexist(void)
{
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(8);
    cio_waker *waker, *other = NULL;
    CHECK_RC(cio_waker_new(&waker, poll, 1));
    CHECK_ERR(cio_waker_new(&other, poll, 2), -EEXIST);
    CHECK(other == NULL);
    CHECK_ERR(cio_waker_new(&other, poll, 1), -EEXIST);
    /* The first waker is unaffected. */
    CHECK_RC(cio_waker_wake(waker));
    CHECK_EQ(count_token(poll, events, CIO_NSEC_PER_SEC, 1, NULL), 1);
    /* Another poll can have its own. */
    cio_poll *poll2 = poll_new_default();
    CHECK_RC(cio_waker_new(&other, poll2, 2));
    CHECK_RC(cio_waker_wake(other));
    CHECK_EQ(count_token(poll, events, 20 * CIO_NSEC_PER_MSEC, 1, NULL), 0);
    CHECK_EQ(count_token(poll2, events, CIO_NSEC_PER_SEC, 2, NULL), 1);
    cio_waker_free(other);
    cio_poll_free(poll2);
    cio_waker_free(waker);
    cio_events_free(events);
    cio_poll_free(poll);
}

/* Free then new: the new waker works with its own token; the old token never shows again. */
static void test_waker_free_then_new(void)
{
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(8);
    for (cio_token t = 1; t <= 20; t++) {
        cio_waker *waker;
        CHECK_RC(cio_waker_new(&waker, poll, t));
        CHECK_RC(cio_waker_wake(waker));
        int others = 0;
        CHECK_EQ(count_token(poll, events, CIO_NSEC_PER_SEC, t, &others), 1);
        CHECK_EQ(others, 0);
        cio_waker_free(waker);
    }
    /* No waker: nothing to report, and no stale token. */
    CHECK_EQ(count_token(poll, events, 20 * CIO_NSEC_PER_MSEC, 20, NULL), 0);
    /* A wake left pending when its waker is freed is not delivered while there is no waker. */
    cio_waker *waker;
    CHECK_RC(cio_waker_new(&waker, poll, 100));
    CHECK_RC(cio_waker_wake(waker));
    cio_waker_free(waker);
    struct collected c = {0};
    collect_once(poll, events, 20 * CIO_NSEC_PER_MSEC, &c);
    CHECK_EQ(c.count, 0);
    cio_events_free(events);
    cio_poll_free(poll);
}

/* Freeing a poll whose waker had pending wakes leaks nothing (checked by the harness). */
static void test_free_with_pending_wake(void)
{
    cio_poll *poll = poll_new_default();
    cio_waker *waker;
    CHECK_RC(cio_waker_new(&waker, poll, 1));
    for (int i = 0; i < 10; i++)
        CHECK_RC(cio_waker_wake(waker));
    cio_waker_free(waker);
    cio_poll_free(poll);
}

/* ---- from other threads ---- */

struct waking_thread {
    pthread_t thread;
    cio_waker *waker;
    int delay_ms;
    int wakes;
};

static void *waking_main(void *arg)
{
    struct waking_thread *w = arg;
    struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)w->delay_ms * 1000000L};
    nanosleep(&ts, NULL);
    for (int i = 0; i < w->wakes; i++)
        CHECK_RC(cio_waker_wake(w->waker));
    return NULL;
}

static void test_wake_from_thread_ends_infinite_wait(void)
{
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(8);
    cio_waker *waker;
    CHECK_RC(cio_waker_new(&waker, poll, 9));
    for (int round = 0; round < 5; round++) {
        struct waking_thread w = {.waker = waker, .delay_ms = 30, .wakes = 1 + round * 1000};
        CHECK_EQ(pthread_create(&w.thread, NULL, waking_main, &w), 0);
        cio_time start = cio_now();
        int got = 0;
        for (int i = 0; i < 100 && got == 0; i++)
            got = count_token(poll, events, CIO_TIMEOUT_INFINITE, 9, NULL);
        cio_duration took = cio_now() - start;
        CHECK_EQ(pthread_join(w.thread, NULL), 0);
        CHECK_EQ(got, 1);
        CHECK(took >= 20 * CIO_NSEC_PER_MSEC);
        CHECK(took < 5 * CIO_NSEC_PER_SEC);
        /* Wakes that landed after the event may give one more; never more than one. */
        CHECK(count_token(poll, events, 0, 9, NULL) <= 1);
        CHECK_EQ(count_token(poll, events, 0, 9, NULL), 0);
    }
    cio_waker_free(waker);
    cio_events_free(events);
    cio_poll_free(poll);
}

/* Several threads hammer the waker while the owner waits in a loop: no wake is lost (the last
 * wake of every burst is followed by an event), nothing blocks. */
struct hammer {
    cio_waker *waker;
    atomic_int *round;
    atomic_int *done;
    int rounds;
};

static void *hammer_main(void *arg)
{
    struct hammer *h = arg;
    for (int r = 0; r < h->rounds; r++) {
        /* Wait for the owner to open round r, then wake a burst. */
        for (int spin = 0; atomic_load(h->round) < r && spin < 50000000; spin++)
            sched_yield();
        for (int i = 0; i < 100; i++)
            CHECK_RC(cio_waker_wake(h->waker));
        atomic_fetch_add(h->done, 1);
    }
    return NULL;
}

static void test_wake_storm_from_threads(void)
{
    enum { THREADS = 3, ROUNDS = 200 };
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(8);
    cio_waker *waker;
    CHECK_RC(cio_waker_new(&waker, poll, 4));
    atomic_int round = 0, done = 0;
    struct hammer h = {.waker = waker, .round = &round, .done = &done, .rounds = ROUNDS};
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++)
        CHECK_EQ(pthread_create(&threads[i], NULL, hammer_main, &h), 0);
    for (int r = 0; r < ROUNDS; r++) {
        atomic_store(&round, r);
        /* Every thread finishes its burst of round r; a wait after that must see a wake. */
        int64_t deadline = cio_test_now_ms() + 10000;
        while (atomic_load(&done) < (r + 1) * THREADS) {
            CHECK(cio_test_now_ms() < deadline);
            count_token(poll, events, CIO_NSEC_PER_MSEC, 4, NULL);
        }
        /* Wakes completed before this wait: at least one event, unless a wait during the
         * round already consumed every one of them — so drain, and check the last burst by
         * another wake we know happened after the drain. */
        while (count_token(poll, events, 0, 4, NULL) > 0)
            ;
        CHECK_RC(cio_waker_wake(waker));
        CHECK_EQ(count_token(poll, events, CIO_NSEC_PER_SEC, 4, NULL), 1);
    }
    for (int i = 0; i < THREADS; i++)
        CHECK_EQ(pthread_join(threads[i], NULL), 0);
    cio_waker_free(waker);
    cio_events_free(events);
    cio_poll_free(poll);
}

/* The waker is async-signal-safe: a wake from a signal handler ends the wait. */
static cio_waker *signal_waker;

static void on_signal(int sig)
{
    (void)sig;
    (void)cio_waker_wake(signal_waker);
}

static void test_wake_from_signal_handler(void)
{
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(8);
    CHECK_RC(cio_waker_new(&signal_waker, poll, 31));
    struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    CHECK_SYS(sigaction(SIGUSR1, &sa, NULL));
    CHECK_SYS(raise(SIGUSR1));
    CHECK_EQ(count_token(poll, events, CIO_NSEC_PER_SEC, 31, NULL), 1);
    signal(SIGUSR1, SIG_DFL);
    cio_waker_free(signal_waker);
    cio_events_free(events);
    cio_poll_free(poll);
}

CIO_TEST_MAIN(TEST(test_wake_before_wait), TEST(test_million_wakes_coalesce),
              TEST(test_wake_with_ready_descriptors), TEST(test_second_waker_eexist),
              TEST(test_waker_free_then_new), TEST(test_free_with_pending_wake),
              TEST(test_wake_from_thread_ends_infinite_wait), TEST(test_wake_storm_from_threads),
              TEST(test_wake_from_signal_handler))
