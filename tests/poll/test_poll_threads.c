/*
 * test_poll_threads.c: the poll used from several threads at once. A registration (or
 * reregistration) made by another thread while the owner is blocked in an infinite wait takes
 * effect in that very wait; register/reregister/deregister storms from two threads while a
 * third waits leave the poll consistent and never deliver a token that was not registered; a
 * signal ends a wait with -EINTR. Run under ThreadSanitizer in CI.
 */
/* cio-test-labels: threads */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cio/poll.h"
#include "harness.h"
#include "poll_helpers.h"

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* ---- a change made by another thread lands in the wait that is blocked ---- */

enum change { REGISTER_READY, REGISTER_THEN_READY, REREGISTER_WRITABLE };

struct changer {
    pthread_t thread;
    cio_poll *poll;
    int fd, peer;
    enum change change;
};

static void *changer_main(void *arg)
{
    struct changer *c = arg;
    sleep_ms(80); /* long enough for the owner to be blocked inside its wait */
    switch (c->change) {
    case REGISTER_READY:
        CHECK_RC(cio_poll_register(c->poll, c->fd, 55, CIO_READABLE));
        break;
    case REGISTER_THEN_READY:
        CHECK_RC(cio_poll_register(c->poll, c->fd, 56, CIO_READABLE));
        sleep_ms(30);
        write_byte(c->peer);
        break;
    case REREGISTER_WRITABLE:
        CHECK_RC(cio_poll_reregister(c->poll, c->fd, 57, CIO_READABLE | CIO_WRITABLE));
        break;
    }
    return NULL;
}

static void check_change_reaches_blocked_wait(enum change change, cio_token token, uint32_t want)
{
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(8);
    int sv[2];
    unix_pair(sv);
    if (change == REGISTER_READY)
        write_byte(sv[1]);
    if (change == REREGISTER_WRITABLE)
        CHECK_RC(cio_poll_register(poll, sv[0], 1, CIO_READABLE)); /* nothing to read */
    struct changer c = {.poll = poll, .fd = sv[0], .peer = sv[1], .change = change};
    CHECK_EQ(pthread_create(&c.thread, NULL, changer_main, &c), 0);
    /* One infinite wait: it must come back with the event (a spurious empty return is legal
     * in general, but here the backend has everything it needs to do better). */
    cio_time start = cio_now();
    struct collected got = {0};
    collect_once(poll, events, CIO_TIMEOUT_INFINITE, &got);
    cio_duration took = cio_now() - start;
    CHECK_EQ(pthread_join(c.thread, NULL), 0);
    if (token_flags(&got, token, NULL) != want)
        TEST_FAIL("%s wait returned %zu events after %.1f ms, token %ju flags %#x (want %#x)",
                  cio_backend_name(cio_poll_backend(poll)), got.count, (double)took / 1e6,
                  (uintmax_t)token, token_flags(&got, token, NULL), want);
    CHECK(took >= 50 * CIO_NSEC_PER_MSEC);
    CHECK_RC(cio_poll_deregister(poll, sv[0]));
    close(sv[0]);
    close(sv[1]);
    cio_events_free(events);
    cio_poll_free(poll);
}

static void test_register_during_infinite_wait(void)
{
    check_change_reaches_blocked_wait(REGISTER_READY, 55, CIO_EVENT_READABLE);
}

static void test_register_then_ready_during_infinite_wait(void)
{
    check_change_reaches_blocked_wait(REGISTER_THEN_READY, 56, CIO_EVENT_READABLE);
}

static void test_reregister_during_infinite_wait(void)
{
    check_change_reaches_blocked_wait(REREGISTER_WRITABLE, 57, CIO_EVENT_WRITABLE);
}

/* A deregistration by another thread during a blocked wait: that registration goes silent;
 * the wait keeps going until the waker ends it. */
struct dereg_then_wake {
    pthread_t thread;
    cio_poll *poll;
    cio_waker *waker;
    int fd, peer;
};

static void *dereg_then_wake_main(void *arg)
{
    struct dereg_then_wake *d = arg;
    sleep_ms(50);
    CHECK_RC(cio_poll_deregister(d->poll, d->fd));
    write_byte(d->peer);
    sleep_ms(30);
    CHECK_RC(cio_waker_wake(d->waker));
    return NULL;
}

static void test_deregister_during_infinite_wait(void)
{
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(8);
    cio_waker *waker;
    CHECK_RC(cio_waker_new(&waker, poll, 999));
    int sv[2];
    unix_pair(sv);
    CHECK_RC(cio_poll_register(poll, sv[0], 1, CIO_READABLE));
    struct dereg_then_wake d = {.poll = poll, .waker = waker, .fd = sv[0], .peer = sv[1]};
    CHECK_EQ(pthread_create(&d.thread, NULL, dereg_then_wake_main, &d), 0);
    struct collected got = {0};
    for (int i = 0; i < 100 && token_flags(&got, 999, NULL) == 0; i++)
        collect_once(poll, events, CIO_TIMEOUT_INFINITE, &got);
    CHECK_EQ(pthread_join(d.thread, NULL), 0);
    CHECK_EQ(token_flags(&got, 999, NULL), CIO_EVENT_READABLE);
    CHECK_EQ(token_flags(&got, 1, NULL), 0);
    expect_silence(poll, events, 1, 30);
    close(sv[0]);
    close(sv[1]);
    cio_waker_free(waker);
    cio_events_free(events);
    cio_poll_free(poll);
}

/*
 * Reregister from one thread racing a wait in another, many times: the readiness the new
 * interest asks for must reach the waiter. (Regression: the poll layer used to publish the new
 * interest only after the backend had re-armed the descriptor, so a waiter quick enough
 * filtered the event against the old interest and, edge-triggered, it was lost for good.)
 */
struct rearmer {
    pthread_t thread;
    cio_poll *poll;
    int fd;
    atomic_int go;   /* iteration number the main thread asks for */
    atomic_int done; /* last iteration performed */
};

static void *rearmer_main(void *arg)
{
    struct rearmer *r = arg;
    for (int i = 1; i <= 300; i++) {
        for (long spin = 0; atomic_load(&r->go) < i; spin++) {
            CHECK(spin < 100000000);
            sched_yield();
        }
        for (volatile int delay = 0; delay < (i % 7) * 1000; delay++)
            ;
        CHECK_RC(cio_poll_reregister(r->poll, r->fd, (cio_token)i, CIO_READABLE | CIO_WRITABLE));
        atomic_store(&r->done, i);
    }
    return NULL;
}

static void test_reregister_races_wait(void)
{
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(8);
    int sv[2];
    unix_pair(sv);
    CHECK_RC(cio_poll_register(poll, sv[0], 0, CIO_READABLE));
    struct rearmer r = {.poll = poll, .fd = sv[0]};
    atomic_init(&r.go, 0);
    atomic_init(&r.done, 0);
    CHECK_EQ(pthread_create(&r.thread, NULL, rearmer_main, &r), 0);
    for (int i = 1; i <= 300; i++) {
        atomic_store(&r.go, i);
        /* The reregister lands during one of these waits; its WRITABLE must be reported. */
        uint32_t flags = 0;
        int64_t deadline = cio_test_now_ms() + 2000;
        while (!(flags & CIO_EVENT_WRITABLE) && cio_test_now_ms() < deadline) {
            struct collected c = {0};
            collect_once(poll, events, 100 * CIO_NSEC_PER_MSEC, &c);
            flags |= token_flags(&c, (cio_token)i, NULL);
        }
        if (!(flags & CIO_EVENT_WRITABLE))
            TEST_FAIL("iteration %d: the reregistered WRITABLE readiness never came", i);
        while (atomic_load(&r.done) < i)
            sched_yield();
        /* Back to READABLE only (nothing to read) before the next round. */
        CHECK_RC(cio_poll_reregister(poll, sv[0], 0, CIO_READABLE));
        struct collected c = {0};
        collect_once(poll, events, 0, &c);
    }
    CHECK_EQ(pthread_join(r.thread, NULL), 0);
    CHECK_RC(cio_poll_deregister(poll, sv[0]));
    close(sv[0]);
    close(sv[1]);
    cio_events_free(events);
    cio_poll_free(poll);
}

/* ---- storms ---- */

#define STORM_PAIRS 8
#define STORM_ITERATIONS 3000
#define STORM_MAGIC (UINT64_C(0x5707) << 48)
#define FINAL_TOKEN(i) (UINT64_C(0xf1) << 48 | (cio_token)(i))

struct stormer {
    pthread_t thread;
    cio_poll *poll;
    int id;
    int pairs[STORM_PAIRS][2];
};

static void *stormer_main(void *arg)
{
    struct stormer *s = arg;
    for (int it = 0; it < STORM_ITERATIONS; it++) {
        int i = it % STORM_PAIRS;
        int fd = s->pairs[i][0];
        cio_token token = STORM_MAGIC | (cio_token)s->id << 32 | (cio_token)it;
        CHECK_RC(cio_poll_register(s->poll, fd, token, CIO_READABLE));
        write_byte(s->pairs[i][1]);
        if (it % 3 == 0)
            CHECK_RC(cio_poll_reregister(s->poll, fd, token, CIO_READABLE | CIO_WRITABLE));
        if (it % 7 == 0)
            sched_yield();
        CHECK_RC(cio_poll_deregister(s->poll, fd));
        CHECK_ERR(cio_poll_deregister(s->poll, fd), -ENOENT);
        (void)drain_fd(fd);
    }
    return NULL;
}

static void test_register_deregister_storm(void)
{
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(64);
    struct stormer storm[2];
    for (int t = 0; t < 2; t++) {
        storm[t].poll = poll;
        storm[t].id = t;
        for (int i = 0; i < STORM_PAIRS; i++)
            unix_pair(storm[t].pairs[i]);
    }
    for (int t = 0; t < 2; t++)
        CHECK_EQ(pthread_create(&storm[t].thread, NULL, stormer_main, &storm[t]), 0);

    /* The waiter: every token it is handed must be one the stormers registered. */
    long seen = 0, waits = 0;
    int64_t deadline = cio_test_now_ms() + 60000;
    for (;;) {
        struct collected c = {0};
        collect_once(poll, events, 2 * CIO_NSEC_PER_MSEC, &c);
        waits++;
        for (size_t i = 0; i < c.count; i++) {
            cio_token t = c.ev[i].token;
            if ((t & (UINT64_C(0xffff) << 48)) != STORM_MAGIC || ((t >> 32) & 0xffff) > 1 ||
                (t & 0xffffffffu) >= STORM_ITERATIONS)
                TEST_FAIL("foreign token %#jx", (uintmax_t)t);
            CHECK((c.ev[i].flags & ~(uint32_t)(CIO_EVENT_READABLE | CIO_EVENT_WRITABLE)) == 0);
            seen++;
        }
        /* Stop when both threads are done: a zero-timeout probe of their liveness. */
        if (pthread_tryjoin_np(storm[0].thread, NULL) == 0) {
            CHECK_EQ(pthread_join(storm[1].thread, NULL), 0);
            break;
        }
        CHECK(cio_test_now_ms() < deadline);
    }
    printf("    %ld waits, %ld storm events delivered\n", waits, seen);

    /* Afterwards the poll is consistent: fresh registrations all report, old tokens never. */
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < STORM_PAIRS; i++) {
            CHECK_RC(cio_poll_register(poll, storm[t].pairs[i][0], FINAL_TOKEN(t * STORM_PAIRS + i),
                                       CIO_READABLE));
            write_byte(storm[t].pairs[i][1]);
        }
    int found[2 * STORM_PAIRS] = {0}, missing = 2 * STORM_PAIRS;
    for (int round = 0; round < 100 && missing > 0; round++) {
        struct collected c = {0};
        collect_once(poll, events, 20 * CIO_NSEC_PER_MSEC, &c);
        for (size_t i = 0; i < c.count; i++) {
            cio_token idx = c.ev[i].token - FINAL_TOKEN(0);
            if (idx >= 2 * STORM_PAIRS)
                TEST_FAIL("stale token %#jx after the storm", (uintmax_t)c.ev[i].token);
            if (found[idx]++ == 0)
                missing--;
        }
    }
    CHECK_EQ(missing, 0);
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < STORM_PAIRS; i++) {
            CHECK_RC(cio_poll_deregister(poll, storm[t].pairs[i][0]));
            write_byte(storm[t].pairs[i][1]);
        }
    struct collected c = {0};
    collect_once(poll, events, 50 * CIO_NSEC_PER_MSEC, &c);
    CHECK_EQ(c.count, 0);
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < STORM_PAIRS; i++) {
            close(storm[t].pairs[i][0]);
            close(storm[t].pairs[i][1]);
        }
    cio_events_free(events);
    cio_poll_free(poll);
}

/* Two threads register distinct descriptors concurrently, many of them (the table grows into
 * new chunks while the waiter reads it); the waiter sees every one. */
#define GROW_PER_THREAD 200

struct grower {
    pthread_t thread;
    cio_poll *poll;
    int id;
    int stride; /* distance between the numbers registered, to reach new table chunks */
    int fds[GROW_PER_THREAD][2];
};

static void *grower_main(void *arg)
{
    struct grower *g = arg;
    for (int i = 0; i < GROW_PER_THREAD; i++) {
        /* Spread the numbers out so that new table chunks are allocated under the waiter. */
        int k = i * 2 + g->id; /* the two threads interleave: both allocate chunks */
        int high = fcntl(g->fds[i][0], F_DUPFD_CLOEXEC, 1024 + k * g->stride);
        CHECK(high >= 0);
        close(g->fds[i][0]);
        g->fds[i][0] = high;
        write_byte(g->fds[i][1]);
        CHECK_RC(cio_poll_register(g->poll, high, (cio_token)(g->id * GROW_PER_THREAD + i),
                                   CIO_READABLE));
    }
    return NULL;
}

static void test_concurrent_registration_grows_table(void)
{
    struct rlimit rl;
    CHECK_SYS(getrlimit(RLIMIT_NOFILE, &rl));
    /* Use whatever room the limit gives: the numbers spread over it, a new registration table
     * chunk (1024 numbers) every few registrations. */
    rl.rlim_cur = rl.rlim_max;
    CHECK_SYS(setrlimit(RLIMIT_NOFILE, &rl));
    if (rl.rlim_cur < 4096)
        TEST_SKIP("RLIMIT_NOFILE hard limit %ju too low", (uintmax_t)rl.rlim_max);
    rlim_t room = (rl.rlim_cur > (rlim_t)1 << 22 ? (rlim_t)1 << 22 : rl.rlim_cur) - 2048;
    int stride = (int)(room / (2 * GROW_PER_THREAD));
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(128);
    struct grower *g = calloc(2, sizeof(*g));
    CHECK(g != NULL);
    for (int t = 0; t < 2; t++) {
        g[t].poll = poll;
        g[t].id = t;
        g[t].stride = stride;
        for (int i = 0; i < GROW_PER_THREAD; i++)
            unix_pair(g[t].fds[i]);
    }
    for (int t = 0; t < 2; t++)
        CHECK_EQ(pthread_create(&g[t].thread, NULL, grower_main, &g[t]), 0);
    static bool found[2 * GROW_PER_THREAD];
    int missing = 2 * GROW_PER_THREAD;
    int64_t deadline = cio_test_now_ms() + 20000;
    while (missing > 0 && cio_test_now_ms() < deadline) {
        struct collected c = {0};
        collect_once(poll, events, 10 * CIO_NSEC_PER_MSEC, &c);
        for (size_t i = 0; i < c.count; i++) {
            CHECK(c.ev[i].token < 2 * GROW_PER_THREAD);
            if (!found[c.ev[i].token]) {
                found[c.ev[i].token] = true;
                missing--;
            }
        }
    }
    for (int t = 0; t < 2; t++)
        CHECK_EQ(pthread_join(g[t].thread, NULL), 0);
    CHECK_EQ(missing, 0);
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < GROW_PER_THREAD; i++) {
            CHECK_RC(cio_poll_deregister(poll, g[t].fds[i][0]));
            close(g[t].fds[i][0]);
            close(g[t].fds[i][1]);
        }
    free(g);
    cio_events_free(events);
    cio_poll_free(poll);
}

/* ---- signals ---- */

static void on_usr2(int sig)
{
    (void)sig;
}

struct signaller {
    pthread_t thread;
    pthread_t target;
    atomic_bool stop;
};

static void *signaller_main(void *arg)
{
    struct signaller *s = arg;
    for (int i = 0; i < 500 && !atomic_load(&s->stop); i++) {
        sleep_ms(20);
        if (!atomic_load(&s->stop))
            pthread_kill(s->target, SIGUSR2);
    }
    return NULL;
}

/* A signal handler running during a wait ends it with -EINTR (the caller decides to retry). */
static void test_signal_gives_eintr(void)
{
    struct sigaction sa = {.sa_handler = on_usr2, .sa_flags = 0};
    sigemptyset(&sa.sa_mask);
    CHECK_SYS(sigaction(SIGUSR2, &sa, NULL));
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(8);
    struct signaller s = {.target = pthread_self()};
    atomic_init(&s.stop, false);
    CHECK_EQ(pthread_create(&s.thread, NULL, signaller_main, &s), 0);
    cio_time start = cio_now();
    int rc = cio_poll_wait(poll, events, 5 * CIO_NSEC_PER_SEC);
    cio_duration took = cio_now() - start;
    atomic_store(&s.stop, true);
    CHECK_EQ(pthread_join(s.thread, NULL), 0);
    CHECK_ERR(rc, -EINTR);
    CHECK(took < 2 * CIO_NSEC_PER_SEC);
    /* The poll works normally afterwards. */
    int sv[2];
    unix_pair(sv);
    CHECK_RC(cio_poll_register(poll, sv[0], 3, CIO_READABLE));
    write_byte(sv[1]);
    CHECK_EQ(wait_token(poll, events, 3, 1000), CIO_EVENT_READABLE);
    CHECK_RC(cio_poll_deregister(poll, sv[0]));
    close(sv[0]);
    close(sv[1]);
    cio_events_free(events);
    cio_poll_free(poll);
    signal(SIGUSR2, SIG_DFL);
}

CIO_TEST_MAIN(TEST(test_register_during_infinite_wait),
              TEST(test_register_then_ready_during_infinite_wait),
              TEST(test_reregister_during_infinite_wait),
              TEST(test_deregister_during_infinite_wait), TEST(test_reregister_races_wait),
              TEST(test_register_deregister_storm), TEST(test_concurrent_registration_grows_table),
              TEST(test_signal_gives_eintr))
