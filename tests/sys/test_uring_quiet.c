/*
 * test_uring_quiet.c: the io_uring backend's quiet sends (sys/uring.h: cio__uring_send_all).
 * A wait submits the sends prepared before it and asks for one completion more than them,
 * since they complete during the call most of the time; these cases check the other times:
 * a send that cannot go at once (its socket is full) never holds back a wait that something
 * else ends: the kernel's minimum-wait timeout ends it. A Unix stream pair is the socket:
 * full is full there, to the byte (a TCP loopback peer takes more as it coalesces its queue).
 * And the same timeout's other use: waits that gather a batch of completions when the worker
 * is busy, and never hold a lone event back.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cio.h"
#include "harness.h"
#include "sys/sys.h"

#if CIO_HAVE_URING
#include "sys/uring.h"

struct send_op {
    struct cio__sys_op op;
    int32_t res;
    bool done;
};

static void send_complete(struct cio__sys_op *op, int32_t res, uint32_t flags)
{
    (void)flags;
    struct send_op *s = (struct send_op *)op;
    s->res = res;
    s->done = true;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct waker {
    struct cio__sys *sys;
    pthread_t thread;
};

static void *waker_main(void *arg)
{
    struct waker *w = arg;
    nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
    cio__sys_uring.wake(w->sys);
    return NULL;
}

/* A uring backend, or skip; @fds: a non-blocking Unix stream pair whose [0] is full. */
static struct cio__sys *setup(int fds[2])
{
    struct cio__sys *sys;
    int rc = cio__sys_uring.create(&sys);
    if (rc < 0)
        TEST_SKIP("no io_uring here (%s)", strerror(-rc));
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    char fill[4096];
    memset(fill, 'f', sizeof(fill));
    while (send(fds[0], fill, sizeof(fill), MSG_DONTWAIT) > 0)
        ;
    CHECK(errno == EAGAIN);
    return sys;
}

/* Wait with @sys (a wake from another thread comes 20 ms after the call): the wake ends it
 * within a second, and the send has not completed. */
static void wait_for_wake(struct cio__sys *sys, const struct send_op *s)
{
    struct waker w = {.sys = sys};
    CHECK_EQ(pthread_create(&w.thread, NULL, waker_main, &w), 0);
    struct cio__sys_event ev[8];
    int64_t start = now_ns();
    int n = cio__sys_uring.wait(sys, ev, 8, 5 * (int64_t)1000000000);
    int64_t took = now_ns() - start;
    CHECK_EQ(pthread_join(w.thread, NULL), 0);
    CHECK_EQ(n, 1);
    CHECK(ev[0].data == CIO__SYS_WAKE_DATA);
    CHECK(!s->done);
    if (took > 1000000000)
        TEST_FAIL("the wait took %.3f s behind a send that could not go", took / 1e9);
}

/* Empty the peer, then wait until the send completed: it took all of its bytes. */
static void finish(struct cio__sys *sys, int fds[2], struct send_op *s, int32_t len)
{
    char buf[4096];
    struct cio__sys_event ev[8];
    for (int i = 0; i < 500 && !s->done; i++) {
        while (recv(fds[1], buf, sizeof(buf), MSG_DONTWAIT) > 0)
            ;
        CHECK(cio__sys_uring.wait(sys, ev, 8, 10 * 1000 * 1000) >= 0);
    }
    CHECK(s->done);
    CHECK_EQ(s->res, len);
    close(fds[0]);
    close(fds[1]);
    cio__sys_uring.destroy(sys);
}

static void test_stuck_send_holds_no_wait_back(void)
{
    int fds[2];
    struct cio__sys *sys = setup(fds);
    struct send_op s = {.op.complete = send_complete};
    unsigned ticket;
    static const char msg[100] = "quiet";
    CHECK_RC(cio__uring_send_all(sys, &s.op, fds[0], msg, sizeof(msg), &ticket));
    wait_for_wake(sys, &s);
    finish(sys, fds, &s, sizeof(msg));
}

/* A writer that puts one byte into @fd 20 ms after it starts. */
struct late_byte {
    int fd;
    pthread_t thread;
};

static void *late_byte_main(void *arg)
{
    struct late_byte *l = arg;
    nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
    CHECK_EQ(write(l->fd, "x", 1), 1);
    return NULL;
}

#define PAIRS 64
#define BURSTS 200

/* Bursts from another thread: a byte into each of the pairs, then a short pause. */
struct burster {
    int (*fds)[2];
    pthread_t thread;
    atomic_bool done;
};

static void *burster_main(void *arg)
{
    struct burster *b = arg;
    for (int burst = 0; burst < BURSTS; burst++) {
        for (int i = 0; i < PAIRS; i++)
            CHECK_EQ(write(b->fds[i][0], "b", 1), 1);
        nanosleep(&(struct timespec){0, 500 * 1000}, NULL);
    }
    atomic_store(&b->done, true);
    return NULL;
}

/*
 * Events that come faster than a wait takes them grow how many completions the next wait asks
 * for (sys/uring.c: submit_and_wait, batch_adapt); a lone event after them is not held back —
 * the kernel's minimum-wait timeout ends the wait once one completion is there — and the
 * waits that follow ask for one again. Without that timeout a lone wait would last until its
 * 5 s timeout.
 */
static void test_burst_then_lone_event(void)
{
    struct cio__sys *sys;
    int rc = cio__sys_uring.create(&sys);
    if (rc < 0)
        TEST_SKIP("no io_uring here (%s)", strerror(-rc));
    int fds[PAIRS][2];
    for (int i = 0; i < PAIRS; i++) {
        CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds[i]), 0);
        CHECK_RC(cio__sys_uring.add(sys, fds[i][1], (uint64_t)i, CIO_READABLE));
    }
    struct cio__sys_event ev[2 * PAIRS];
    char buf[256];
    struct burster b = {.fds = fds};
    CHECK_EQ(pthread_create(&b.thread, NULL, burster_main, &b), 0);
    unsigned grown = 1;
    while (!atomic_load(&b.done)) {
        int n = cio__sys_uring.wait(sys, ev, 2 * PAIRS, 100 * 1000 * 1000);
        CHECK(n >= 0);
        for (int i = 0; i < n; i++)
            while (read(fds[ev[i].data][1], buf, sizeof(buf)) > 0)
                ;
        if (cio__uring_batch(sys) > grown)
            grown = cio__uring_batch(sys);
    }
    CHECK_EQ(pthread_join(b.thread, NULL), 0);
    for (int i = 0; i < PAIRS; i++)
        while (read(fds[i][1], buf, sizeof(buf)) > 0)
            ;
    if (grown < 2)
        TEST_SKIP("the waits never found more events than they asked for (batch stayed 1)");
    /* Take what the bursts left queued, so the lone waits below start from an empty ring. */
    while (cio__sys_uring.wait(sys, ev, 2 * PAIRS, 0) > 0)
        ;
    for (int round = 0; round < 8; round++) {
        struct late_byte l = {.fd = fds[round][0]};
        CHECK_EQ(pthread_create(&l.thread, NULL, late_byte_main, &l), 0);
        int64_t start = now_ns();
        int n = 0;
        while (n == 0 && now_ns() - start < 5 * (int64_t)1000000000)
            n = cio__sys_uring.wait(sys, ev, 2 * PAIRS, 5 * (int64_t)1000000000);
        int64_t took = now_ns() - start;
        CHECK_EQ(pthread_join(l.thread, NULL), 0);
        CHECK_EQ(n, 1);
        CHECK_EQ(ev[0].data, (uint64_t)round);
        if (took > 1000000000)
            TEST_FAIL("round %d (batch grown to %u): a lone event took %.3f s to come out of "
                      "the wait",
                      round, grown, took / 1e9);
        while (read(fds[round][1], buf, sizeof(buf)) > 0)
            ;
    }
    CHECK_EQ(cio__uring_batch(sys), 1u); /* halved at each lone wait: back to one */
    for (int i = 0; i < PAIRS; i++) {
        CHECK_RC(cio__sys_uring.del(sys, fds[i][1]));
        close(fds[i][0]);
        close(fds[i][1]);
    }
    cio__sys_uring.destroy(sys);
}

CIO_TEST_MAIN(TEST(test_stuck_send_holds_no_wait_back), TEST(test_burst_then_lone_event))

#else

static void test_no_uring(void)
{
    TEST_SKIP("built without liburing");
}

CIO_TEST_MAIN(TEST(test_no_uring))

#endif
