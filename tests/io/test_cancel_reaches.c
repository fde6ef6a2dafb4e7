/*
 * test_cancel_reaches.c: a cancel reaches the inline fast paths of stream operations, which
 * keep no check of their own beside the cooperative budget (a cancelled task runs with budget
 * 0). A task that cancels itself, or is cancelled while it is not running, sees -ECANCELED
 * from its very next read, write or readiness wait on a socket whose readiness is cached,
 * and nothing is consumed; a cancel from another thread while the task runs reaches it
 * within one budget of operations; a cancelled task's operations yield, so a cleanup loop
 * that keeps calling them does not starve the worker; and inside a cancel shield they work
 * again, until the shield ends.
 */
/* cio-test-labels: threads */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cio/rt.h"
#include "cio/socket.h"
#include "cio/stream.h"
#include "cio/tcp.h"
#include "harness.h"

#define BUDGET 32u     /* the runtimes' budget here: the cross-thread bound */
#define BACKLOG 65536u /* bytes waiting at the reader: far more than any bound checked */

/* Run @fn as the root task of a current-thread runtime; it is cancelled in the end or not
 * (@cancelled), which block_on reports. */
static void run_with(cio_task_fn fn, bool cancelled)
{
    cio_rt *rt;
    cio_rt_options o = {.flavor = CIO_RT_CURRENT_THREAD, .budget = BUDGET};
    CHECK_RC(cio_rt_new(&rt, &o));
    CHECK_EQ(cio_rt_block_on(rt, fn, NULL, NULL), cancelled ? -ECANCELED : 0);
    cio_rt_free(rt);
}

/* A connected pair, @len bytes waiting at *ret_b, whose registration has the read readiness
 * cached (a wait saw the edge): reads of fewer bytes than are there take the fast path. */
static void ready_pair(cio_tcp_stream **ret_a, cio_tcp_stream **ret_b, size_t len)
{
    cio_addr addr;
    cio_tcp_listener *l;
    CHECK_RC(cio_addr_parse(&addr, "127.0.0.1:0"));
    CHECK_RC(cio_tcp_listener_new(&l, &addr, 0));
    CHECK_RC(cio_socket_local_addr(l, &addr));
    CHECK_RC(cio_tcp_stream_connect_addr(ret_a, &addr));
    CHECK_RC(cio_tcp_listener_accept(l, ret_b, NULL));
    cio_socket_close(l);
    static char data[BACKLOG];
    memset(data, 'x', sizeof(data));
    CHECK(len <= sizeof(data));
    size_t done = 0;
    CHECK_RC(cio_stream_write_all(*ret_a, data, len, &done));
    CHECK_EQ(done, len);
    int ready = cio_socket_readable(*ret_b);
    CHECK(ready > 0 && (ready & CIO_READY_READABLE));
    /* All of it has arrived (loopback), so no later edge changes the readiness. */
    for (int i = 0; i < 1000; i++) {
        int avail = 0;
        CHECK_SYS(ioctl(cio_socket_fd(*ret_b), FIONREAD, &avail));
        if ((size_t)avail == len)
            break;
        CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
    }
}

/* ---- the task cancels itself ---- */

static void *self_cancel(void *arg)
{
    (void)arg;
    cio_tcp_stream *a, *b;
    ready_pair(&a, &b, 64);
    char c;
    CHECK_EQ(cio_stream_read(b, &c, 1), 1); /* the fast path, readiness stays cached */
    CANCEL_SELF();
    CHECK_ERR(cio_stream_read(b, &c, 1), -ECANCELED);
    CHECK_ERR(cio_stream_write_all(b, "y", 1, NULL), -ECANCELED);
    CHECK_ERR(cio_socket_readable(b), -ECANCELED);
    CHECK_ERR(cio_socket_writable(b), -ECANCELED);
    /* Nothing was consumed: the 63 bytes are still there. */
    char rest[128];
    CHECK_EQ(recv(cio_socket_fd(b), rest, sizeof(rest), MSG_DONTWAIT), 63);
    cio_socket_close(a);
    cio_socket_close(b);
    return NULL;
}

static void test_self_cancel_reaches_next_operation(void)
{
    run_with(self_cancel, true);
}

/* ---- cancelled by another task while it waits its turn ---- */

struct queued {
    cio_tcp_stream *b;
    ssize_t read_rc;
    int yield_rc;
};

static void *queued_child(void *arg)
{
    struct queued *q = arg;
    q->yield_rc = cio_yield(); /* the parent cancels us meanwhile */
    char c;
    q->read_rc = cio_stream_read(q->b, &c, 1);
    return NULL;
}

static void *cancel_queued(void *arg)
{
    (void)arg;
    cio_tcp_stream *a;
    struct queued q = {.read_rc = 1};
    ready_pair(&a, &q.b, 64);
    cio_join_handle *child;
    CHECK_RC(cio_spawn(&child, queued_child, &q));
    CHECK_RC(cio_yield()); /* the child runs up to its yield */
    CHECK_RC(cio_task_cancel(child));
    CHECK_JOIN_CANCELLED(child);
    CHECK_EQ(q.yield_rc, -ECANCELED);
    CHECK_EQ(q.read_rc, -ECANCELED);
    char rest[128];
    CHECK_EQ(recv(cio_socket_fd(q.b), rest, sizeof(rest), MSG_DONTWAIT), 64);
    cio_socket_close(a);
    cio_socket_close(q.b);
    return NULL;
}

static void test_cancel_while_queued_reaches_next_operation(void)
{
    run_with(cancel_queued, false);
}

/* ---- cancelled from another thread while it runs ---- */

struct remote {
    cio_abort_handle task;
    atomic_bool started;
    atomic_bool sent; /* cio_abort_handle_cancel() has returned */
};

static void *canceller(void *arg)
{
    struct remote *r = arg;
    while (!atomic_load(&r->started))
        usleep(100);
    CHECK_RC(cio_abort_handle_cancel(r->task));
    atomic_store(&r->sent, true);
    return NULL;
}

static void *cancel_remote(void *arg)
{
    (void)arg;
    cio_tcp_stream *a, *b;
    ready_pair(&a, &b, BACKLOG);
    struct remote r = {0};
    CHECK_RC(cio_task_current_abort_handle(&r.task));
    pthread_t th;
    CHECK(pthread_create(&th, NULL, canceller, &r) == 0);
    atomic_store(&r.started, true);
    /* Read a byte at a time (never draining: the fast path each time) until the cancel
     * arrives; count the reads that succeeded after it was certainly made. */
    size_t reads = 0, after = 0;
    ssize_t n;
    char c;
    for (;;) {
        bool sent = atomic_load(&r.sent);
        n = cio_stream_read(b, &c, 1);
        if (n != 1)
            break;
        reads++;
        if (sent)
            after++;
    }
    CHECK(pthread_join(th, NULL) == 0);
    CHECK_EQ(n, -ECANCELED);
    CHECK(reads < BACKLOG);
    /* Seen at the next yield at the latest: one budget. */
    CHECK(after <= BUDGET);
    cio_socket_close(a);
    cio_socket_close(b);
    return NULL;
}

static void test_remote_cancel_reaches_within_budget(void)
{
    run_with(cancel_remote, true);
}

/* ---- a cancelled task's operations yield ---- */

struct counter {
    unsigned count;
    bool stop;
};

static void *count_yields(void *arg)
{
    struct counter *k = arg;
    while (!k->stop && cio_yield() == 0)
        k->count++;
    return NULL;
}

static void *cancelled_loop(void *arg)
{
    (void)arg;
    cio_tcp_stream *a, *b;
    ready_pair(&a, &b, 64);
    struct counter k = {0};
    cio_join_handle *other;
    CHECK_RC(cio_spawn(&other, count_yields, &k));
    CANCEL_SELF();
    char c;
    for (int i = 0; i < 100; i++)
        CHECK_ERR(cio_stream_read(b, &c, 1), -ECANCELED);
    /* Each of the 100 reads let the other task run once. */
    CHECK(k.count >= 99);
    /* So does each connect, which checks before it starts anything. */
    cio_addr addr;
    CHECK_RC(cio_socket_local_addr(a, &addr));
    unsigned before = k.count;
    for (int i = 0; i < 100; i++) {
        cio_tcp_stream *s;
        CHECK_ERR(cio_tcp_stream_connect_addrs(&s, &addr, 1, NULL), -ECANCELED);
        CHECK_ERR(cio_tcp_stream_connect(&s, "127.0.0.1:9"), -ECANCELED);
    }
    CHECK(k.count - before >= 199);
    k.stop = true;
    cio_task_detach(other);
    cio_socket_close(a);
    cio_socket_close(b);
    return NULL;
}

static void test_cancelled_operations_yield(void)
{
    run_with(cancelled_loop, true);
}

/* ---- a shield lets cleanup do I/O, and the cancel comes back after it ---- */

static void *shielded_io(void *arg)
{
    (void)arg;
    cio_tcp_stream *a, *b;
    ready_pair(&a, &b, 64);
    CANCEL_SELF();
    char c;
    CHECK_ERR(cio_stream_read(b, &c, 1), -ECANCELED);
    cio_cancel_shield shield = cio_cancel_shield_begin(cio_now() + 5 * CIO_NSEC_PER_SEC);
    char buf[64];
    size_t done = 0;
    CHECK_RC(cio_stream_read_exact(b, buf, sizeof(buf), &done)); /* all of it, fast path */
    CHECK_EQ(done, sizeof(buf));
    CHECK_RC(cio_stream_write_all(b, "bye", 3, NULL));
    CHECK_RC(cio_stream_read_exact(a, buf, 3, NULL)); /* waits for the bytes */
    cio_cancel_shield_end(shield);
    CHECK_ERR(cio_stream_write_all(b, "x", 1, NULL), -ECANCELED);
    CHECK_ERR(cio_socket_writable(b), -ECANCELED);
    cio_socket_close(a);
    cio_socket_close(b);
    return NULL;
}

static void test_shield_lets_cleanup_do_io(void)
{
    run_with(shielded_io, true);
}

CIO_TEST_MAIN(TEST(test_self_cancel_reaches_next_operation),
              TEST(test_cancel_while_queued_reaches_next_operation),
              TEST(test_remote_cancel_reaches_within_budget), TEST(test_cancelled_operations_yield),
              TEST(test_shield_lets_cleanup_do_io))
