/*
 * test_io_readiness.c: the io layer through cio_async_fd on socketpairs and pipes — readiness
 * transitions, several readers waiting on one descriptor (one edge wakes them all), waking
 * every waiter on close, poll_ready callbacks, try_io/async_io, the short-read rule (no extra
 * recv), deadline and cancel safety, and a reader and a writer on different workers moving
 * bytes exactly.
 */
/* cio-test-labels: threads */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cio/io.h"
#include "cio/poll.h"
#include "cio/rt.h"
#include "harness.h"
#include "io/io.h"

static void run(cio_task_fn fn, void *arg)
{
    cio_rt *rt;
    CHECK_RC(cio_rt_new(&rt, NULL));
    CHECK_RC(cio_rt_block_on(rt, fn, arg, NULL));
    cio_rt_free(rt);
}

static void pair(int sv[2])
{
    CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
}

struct rd {
    int fd;
    char buf[64];
    size_t want;
    int calls;
};

static ssize_t do_read(void *ctx)
{
    struct rd *r = ctx;
    r->calls++;
    ssize_t n = read(r->fd, r->buf, r->want);
    return n < 0 ? -errno : n;
}

static void *writer_later(void *arg)
{
    int fd = (int)(intptr_t)arg;
    CHECK_RC(cio_sleep(20 * CIO_NSEC_PER_MSEC));
    CHECK_EQ(write(fd, "hello", 5), 5);
    return NULL;
}

static void *main_readable(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    cio_async_fd *afd;
    CHECK_RC(cio_async_fd_new(&afd, sv[0]));
    CHECK_EQ(cio_async_fd_fd(afd), sv[0]);
    /* Writable at once. */
    int ready = CHECK_RC(cio_socket_writable(afd));
    CHECK(ready & CIO_READY_WRITABLE);
    /* Readable only once the peer writes: the task suspends meanwhile. */
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, writer_later, (void *)(intptr_t)sv[1]));
    cio_time start = cio_now();
    ready = CHECK_RC(cio_socket_readable(afd));
    CHECK(ready & CIO_READY_READABLE);
    CHECK(cio_now() - start >= 15 * CIO_NSEC_PER_MSEC);
    struct rd r = {.fd = sv[0], .want = sizeof(r.buf)};
    CHECK_EQ(cio_socket_async_io(afd, CIO_READABLE, do_read, &r), 5);
    CHECK(memcmp(r.buf, "hello", 5) == 0);
    /* try_io: nothing there -> -EAGAIN, and the readiness is cleared. */
    CHECK_ERR(cio_socket_try_io(afd, CIO_READABLE, do_read, &r), -EAGAIN);
    CHECK_RC(cio_task_join(t, NULL, NULL));
    /* Peer closes: read-closed is reported, and it is final. */
    close(sv[1]);
    ready = CHECK_RC(cio_socket_readable(afd));
    CHECK(ready & CIO_READY_READ_CLOSED);
    CHECK_EQ(cio_socket_async_io(afd, CIO_READABLE, do_read, &r), 0);
    ready = CHECK_RC(cio_socket_readable(afd));
    CHECK(ready & CIO_READY_READ_CLOSED);
    cio_async_fd_free(afd);
    close(sv[0]);
    return NULL;
}

static void test_readiness_transitions(void)
{
    run(main_readable, NULL);
}

/* The short-read rule: a read that returns fewer bytes than asked clears readiness, so a
 * request/response exchange costs one read per message, never a failing extra read. */
static ssize_t sock_read(struct cio_socket *sock, void *ctx)
{
    (void)sock;
    return do_read(ctx);
}

/* A stream read as the socket modules do it: the length asked is passed as short_len. */
static ssize_t stream_read(struct cio_socket *sock, struct rd *r)
{
    return cio__io_do(sock, CIO_READABLE, sock_read, r, r->want);
}

static void *echo_peer(void *arg)
{
    int fd = (int)(intptr_t)arg;
    struct cio_socket sock;
    cio__socket_init(&sock, fd, AF_UNIX, SOCK_STREAM);
    struct rd r = {.fd = fd, .want = sizeof(r.buf)};
    for (int i = 0; i < 100; i++) {
        ssize_t n = CHECK_RC(stream_read(&sock, &r));
        CHECK_EQ(n, 8);
        CHECK_EQ(write(fd, r.buf, 8), 8);
    }
    cio__socket_release(&sock);
    return (void *)(intptr_t)r.calls;
}

static void *main_short_read(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, echo_peer, (void *)(intptr_t)sv[1]));
    struct cio_socket sock;
    cio__socket_init(&sock, sv[0], AF_UNIX, SOCK_STREAM);
    struct rd r = {.fd = sv[0], .want = sizeof(r.buf)};
    for (int i = 0; i < 100; i++) {
        CHECK_EQ(write(sv[0], "01234567", 8), 8);
        CHECK_EQ(stream_read(&sock, &r), 8);
    }
    void *peer_calls;
    CHECK_RC(cio_task_join(t, &peer_calls, NULL));
    /* Each side: one read per message, plus at most the very first attempt before the
     * socket was registered. */
    CHECK((intptr_t)peer_calls <= 101);
    CHECK(r.calls <= 101);
    cio__socket_release(&sock);
    close(sv[0]);
    close(sv[1]);
    return NULL;
}

static void test_short_read_rule(void)
{
    run(main_short_read, NULL);
}

struct shared {
    cio_async_fd *afd;
    int rc;
    atomic_int step;
};

static void *blocked_reader(void *arg)
{
    struct shared *s = arg;
    atomic_store(&s->step, 1);
    s->rc = cio_socket_readable(s->afd);
    return NULL;
}

static void *main_waiters_and_close(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    cio_async_fd *afd;
    CHECK_RC(cio_async_fd_new(&afd, sv[0]));
    struct shared a = {.afd = afd}, b = {.afd = afd};
    cio_join_handle *ta, *tb;
    /* Two readers wait at once (neither is refused); a writer is not held up by them. */
    CHECK_RC(cio_spawn(&ta, blocked_reader, &a));
    CHECK_RC(cio_spawn(&tb, blocked_reader, &b));
    CHECK_RC(cio_sleep(5 * CIO_NSEC_PER_MSEC));
    CHECK_EQ(atomic_load(&a.step), 1);
    CHECK_EQ(atomic_load(&b.step), 1);
    CHECK(!cio_task_is_finished(ta));
    CHECK(!cio_task_is_finished(tb));
    CHECK(cio_socket_writable(afd) & CIO_READY_WRITABLE);
    /* One edge wakes them both. */
    CHECK_EQ(write(sv[1], "x", 1), 1);
    CHECK_RC(cio_task_join(ta, NULL, NULL));
    CHECK_RC(cio_task_join(tb, NULL, NULL));
    CHECK(CHECK_RC(a.rc) & CIO_READY_READABLE);
    CHECK(CHECK_RC(b.rc) & CIO_READY_READABLE);
    char x;
    CHECK_EQ(read(sv[0], &x, 1), 1);
    struct rd r = {.fd = sv[0], .want = 1};
    CHECK_ERR(cio_socket_try_io(afd, CIO_READABLE, do_read, &r), -EAGAIN);
    /* Freeing the wrapper wakes every waiter promptly with -EBADF. */
    struct shared c = {.afd = afd}, d = {.afd = afd};
    CHECK_RC(cio_spawn(&ta, blocked_reader, &c));
    CHECK_RC(cio_spawn(&tb, blocked_reader, &d));
    CHECK_RC(cio_sleep(5 * CIO_NSEC_PER_MSEC));
    CHECK(!cio_task_is_finished(ta));
    CHECK(!cio_task_is_finished(tb));
    cio_time start = cio_now();
    cio_async_fd_free(afd);
    CHECK_RC(cio_task_join(ta, NULL, NULL));
    CHECK_RC(cio_task_join(tb, NULL, NULL));
    CHECK_EQ(c.rc, -EBADF);
    CHECK_EQ(d.rc, -EBADF);
    CHECK(cio_now() - start < 500 * CIO_NSEC_PER_MSEC);
    close(sv[0]);
    close(sv[1]);
    return NULL;
}

static void test_waiters_and_close_wakes(void)
{
    run(main_waiters_and_close, NULL);
}

static void wake_count(void *ctx)
{
    atomic_fetch_add((atomic_int *)ctx, 1);
}

static void *main_poll_ready(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    cio_async_fd *afd;
    CHECK_RC(cio_async_fd_new(&afd, sv[0]));
    atomic_int first = 0, second = 0;
    CHECK_ERR(cio_socket_poll_ready(afd, CIO_READABLE, wake_count, &first), -EAGAIN);
    /* Only the latest callback per direction is kept. */
    CHECK_ERR(cio_socket_poll_ready(afd, CIO_READABLE, wake_count, &second), -EAGAIN);
    CHECK_EQ(write(sv[1], "x", 1), 1);
    for (int i = 0; i < 100 && atomic_load(&second) == 0; i++)
        CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
    CHECK_EQ(atomic_load(&second), 1);
    CHECK_EQ(atomic_load(&first), 0);
    int ready = CHECK_RC(cio_socket_poll_ready(afd, CIO_READABLE, wake_count, &first));
    CHECK(ready & CIO_READY_READABLE);
    CHECK_ERR(cio_socket_poll_ready(afd, CIO_READABLE | CIO_WRITABLE, NULL, NULL), -EINVAL);
    cio_async_fd_free(afd);
    close(sv[0]);
    close(sv[1]);
    return NULL;
}

static void test_poll_ready_callbacks(void)
{
    run(main_poll_ready, NULL);
}

/* Cancel safety: readers with tight deadlines racing the data; every byte written is read
 * exactly once, none lost to a read that timed out. */
static void *trickle(void *arg)
{
    int fd = (int)(intptr_t)arg;
    for (int i = 0; i < 2000; i++) {
        unsigned char b = (unsigned char)i;
        CHECK_EQ(write(fd, &b, 1), 1);
        if (i % 7 == 0)
            CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
        else
            CHECK_RC(cio_yield());
    }
    return NULL;
}

static void *main_deadline_race(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, trickle, (void *)(intptr_t)sv[1]));
    cio_async_fd *afd;
    CHECK_RC(cio_async_fd_new(&afd, sv[0]));
    int next = 0, timeouts = 0;
    while (next < 2000) {
        struct rd r = {.fd = sv[0], .want = 1};
        ssize_t n = CIO_TIMEOUT((next % 3) * CIO_NSEC_PER_MSEC,
                                cio_socket_async_io(afd, CIO_READABLE, do_read, &r));
        if (n == -ETIMEDOUT) {
            timeouts++;
            continue;
        }
        CHECK_EQ(n, 1);
        CHECK_EQ((unsigned char)r.buf[0], (unsigned char)next);
        next++;
    }
    CHECK(timeouts > 0);
    CHECK_RC(cio_task_join(t, NULL, NULL));
    cio_async_fd_free(afd);
    close(sv[0]);
    close(sv[1]);
    return NULL;
}

static void test_deadline_race_no_loss(void)
{
    run(main_deadline_race, NULL);
}

/* A reader task and a writer task on two workers share one descriptor. */
struct duplex {
    int fd;
    cio_async_fd *afd;
    uint64_t sum;
};

struct wr {
    int fd;
    const unsigned char *p;
    size_t left;
};

static ssize_t do_write(void *ctx)
{
    struct wr *w = ctx;
    ssize_t n = write(w->fd, w->p, w->left > 65536 ? 65536 : w->left);
    return n < 0 ? -errno : n;
}

enum { DUPLEX_BYTES = 4 << 20 };

static void *duplex_writer(void *arg)
{
    struct duplex *d = arg;
    unsigned char *data = malloc(65536);
    CHECK(data != NULL);
    size_t total = 0;
    while (total < DUPLEX_BYTES) {
        for (size_t i = 0; i < 65536; i++)
            data[i] = (unsigned char)(total + i);
        struct wr w = {d->fd, data, 65536};
        while (w.left > 0) {
            ssize_t n = CHECK_RC(cio_socket_async_io(d->afd, CIO_WRITABLE, do_write, &w));
            w.p += n;
            w.left -= (size_t)n;
        }
        total += 65536;
    }
    free(data);
    CHECK_SYS(shutdown(d->fd, SHUT_WR));
    return NULL;
}

static void *duplex_reader(void *arg)
{
    struct duplex *d = arg;
    unsigned char *buf = malloc(40000);
    CHECK(buf != NULL);
    size_t total = 0;
    for (;;) {
        ssize_t n = read(d->fd, buf, 40000);
        if (n < 0 && errno == EAGAIN) {
            CHECK_RC(cio_socket_readable(d->afd));
            cio_socket_clear_ready(d->afd, CIO_READY_READABLE);
            continue;
        }
        CHECK(n >= 0);
        if (n == 0)
            break;
        for (ssize_t i = 0; i < n; i++)
            CHECK_EQ(buf[i], (unsigned char)(total + (size_t)i));
        total += (size_t)n;
    }
    CHECK_EQ(total, DUPLEX_BYTES);
    free(buf);
    return NULL;
}

static void *main_duplex(void *arg)
{
    (void)arg;
    int sv[2];
    pair(sv);
    struct duplex a = {.fd = sv[0]}, b = {.fd = sv[1]};
    CHECK_RC(cio_async_fd_new(&a.afd, sv[0]));
    CHECK_RC(cio_async_fd_new(&b.afd, sv[1]));
    cio_join_handle *t[4];
    cio_spawn_options w0 = {.worker = CIO_WORKER(0)}, w1 = {.worker = CIO_WORKER(1)};
    /* Each descriptor: its writer on one worker, its reader on the other. */
    CHECK_RC(cio_spawn_ex(&t[0], &w0, duplex_writer, &a));
    CHECK_RC(cio_spawn_ex(&t[1], &w1, duplex_reader, &a));
    CHECK_RC(cio_spawn_ex(&t[2], &w1, duplex_writer, &b));
    CHECK_RC(cio_spawn_ex(&t[3], &w0, duplex_reader, &b));
    for (int i = 0; i < 4; i++)
        CHECK_RC(cio_task_join(t[i], NULL, NULL));
    cio_async_fd_free(a.afd);
    cio_async_fd_free(b.afd);
    close(sv[0]);
    close(sv[1]);
    return NULL;
}

static void test_reader_writer_across_workers(void)
{
    cio_rt *rt;
    cio_rt_options o = {.flavor = CIO_RT_MULTI_THREAD, .workers = 2};
    CHECK_RC(cio_rt_new(&rt, &o));
    CHECK_RC(cio_rt_block_on(rt, main_duplex, NULL, NULL));
    cio_rt_free(rt);
}

/* Fairness: the reactor is polled although the run queue never empties, and a task that
 * always finds I/O ready is made to yield by the cooperative budget. */
struct fair {
    atomic_bool stop;
    atomic_long spins;
    int fd, peer;
};

static void *fair_flooder(void *arg)
{
    struct fair *f = arg;
    while (!atomic_load(&f->stop)) {
        atomic_fetch_add(&f->spins, 1);
        if (cio_yield() < 0)
            break;
    }
    return NULL;
}

static void *fair_greedy_reader(void *arg)
{
    /* Reads a byte and sends it round again, so the socket always has data: this task
     * never meets -EAGAIN and never suspends on its own; only the budget makes it yield. */
    struct fair *f = arg;
    struct cio_socket sock;
    cio__socket_init(&sock, f->fd, AF_UNIX, SOCK_STREAM);
    long reads = 0;
    while (!atomic_load(&f->stop)) {
        struct rd r = {.fd = f->fd, .want = 1};
        CHECK_EQ(cio__io_do(&sock, CIO_READABLE, sock_read, &r, 0), 1);
        CHECK_EQ(write(f->peer, r.buf, 1), 1);
        reads++;
    }
    cio__socket_release(&sock);
    return (void *)reads;
}

static void *fair_outside_writer(void *arg)
{
    int fd = (int)(intptr_t)arg;
    usleep(20000);
    CHECK_EQ(write(fd, "!", 1), 1);
    return NULL;
}

static void *main_fairness(void *arg)
{
    (void)arg;
    struct fair f = {0};
    int sv[2], data[2];
    pair(sv);
    pair(data);
    CHECK_EQ(write(data[1], "x", 1), 1);
    f.fd = data[0];
    f.peer = data[1];
    cio_join_handle *a, *b, *g;
    CHECK_RC(cio_spawn(&a, fair_flooder, &f));
    CHECK_RC(cio_spawn(&b, fair_flooder, &f));
    CHECK_RC(cio_spawn(&g, fair_greedy_reader, &f));
    /* A readiness edge from another thread reaches this task while the others run. */
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, fair_outside_writer, (void *)(intptr_t)sv[1]), 0);
    cio_async_fd *afd;
    CHECK_RC(cio_async_fd_new(&afd, sv[0]));
    cio_time start = cio_now();
    CHECK(cio_socket_readable(afd) & CIO_READY_READABLE);
    CHECK(cio_now() - start < 2 * CIO_NSEC_PER_SEC);
    pthread_join(th, NULL);
    atomic_store(&f.stop, true);
    void *reads;
    CHECK_RC(cio_task_join(a, NULL, NULL));
    CHECK_RC(cio_task_join(b, NULL, NULL));
    CHECK_RC(cio_task_join(g, &reads, NULL));
    /* Both kinds of task made progress while the main task waited for its edge. */
    CHECK(atomic_load(&f.spins) > 10);
    CHECK((long)reads > 10);
    cio_async_fd_free(afd);
    close(sv[0]);
    close(sv[1]);
    close(data[0]);
    close(data[1]);
    return NULL;
}

static void test_reactor_and_budget_fairness(void)
{
    run(main_fairness, NULL);
}

static void test_errors(void)
{
    cio_async_fd *afd;
    CHECK_ERR(cio_async_fd_new(NULL, 0), -EINVAL);
    CHECK_ERR(cio_async_fd_new(&afd, -1), -EINVAL);
    int p[2];
    CHECK_SYS(pipe2(p, O_CLOEXEC)); /* blocking: refused */
    CHECK_ERR(cio_async_fd_new(&afd, p[0]), -EINVAL);
    CHECK_SYS(fcntl(p[0], F_SETFL, O_NONBLOCK));
    CHECK_RC(cio_async_fd_new(&afd, p[0]));
    /* Outside a task, waiting is refused. */
    CHECK_ERR(cio_socket_readable(afd), -EPERM);
    cio_async_fd_free(afd);
    close(p[0]);
    close(p[1]);
}

CIO_TEST_MAIN(TEST(test_readiness_transitions), TEST(test_short_read_rule),
              TEST(test_waiters_and_close_wakes), TEST(test_poll_ready_callbacks),
              TEST(test_deadline_race_no_loss), TEST(test_reader_writer_across_workers),
              TEST(test_reactor_and_budget_fairness), TEST(test_errors))
