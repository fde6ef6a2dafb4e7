/*
 * test_unix_async_dgram.c: the async Unix datagram operations, one runtime worker — echo
 * between tasks over bound paths and abstract names (senders reported, empty datagrams),
 * peek/peek_from/peek_sender, truncation reported through the async calls (-EMSGSIZE: taken
 * by a receive, left by a peek), a sender suspended on the receiver's full queue and woken
 * when it drains, the datagram readiness rule (one datagram taken does not clear read
 * readiness), waking a waiter on close, -EBUSY for a second receiver, the poll_* forms,
 * try_io/async_io, and argument errors.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cio/unix.h"
#include "test_tcp_async_helpers.h"

static void tmp_path(cio_addr *ret_addr, const char *name)
{
    char path[256];
    int n = snprintf(path, sizeof(path), "%s/%s", cio_test_tmpdir(), name);
    CHECK(n > 0 && (size_t)n < sizeof(path));
    CHECK_RC(cio_addr_unix(ret_addr, path, (size_t)n));
}

static void abstract_name(cio_addr *ret_addr, const char *tag)
{
    char name[64];
    int n = snprintf(name, sizeof(name), "cio-test-dgram-%d-%s", (int)getpid(), tag);
    CHECK_RC(cio_addr_abstract(ret_addr, name, (size_t)n));
}

static cio_unix_datagram *bind_at(const cio_addr *addr)
{
    cio_unix_datagram *d;
    CHECK_RC(cio_unix_datagram_bind(&d, addr));
    CHECK_FD_FLAGS(cio_unix_datagram_fd(d));
    return d;
}

/* ---- echo ---- */

struct echo {
    cio_unix_datagram *d;
    int count;
};

static void *echo_task(void *arg)
{
    struct echo *e = arg;
    unsigned char buf[8192];
    for (int i = 0; i < e->count; i++) {
        cio_addr from;
        ssize_t n = CHECK_RC(cio_unix_datagram_recv_from(e->d, buf, sizeof(buf), &from));
        CHECK_EQ(cio_unix_datagram_send_to(e->d, buf, (size_t)n, &from), n);
    }
    return NULL;
}

static void echo_between(const cio_addr *saddr, const cio_addr *caddr)
{
    cio_unix_datagram *s = bind_at(saddr), *c = bind_at(caddr);
    static const size_t sizes[] = {0, 1, 100, 8192};
    enum { N = sizeof(sizes) / sizeof(sizes[0]) };
    struct echo e = {s, N};
    cio_task *t;
    CHECK_RC(cio_spawn(&t, echo_task, &e));
    CHECK_RC(cio_yield()); /* the server waits first */
    unsigned char out[8192], in[8192];
    for (size_t k = 0; k < N; k++) {
        pattern_fill(out, sizes[k], k, 6);
        CHECK_EQ(cio_unix_datagram_send_to(c, out, sizes[k], saddr), sizes[k]);
        cio_addr from;
        CHECK_EQ(cio_unix_datagram_recv_from(c, in, sizeof(in), &from), sizes[k]);
        CHECK(cio_addr_equal(&from, saddr));
        CHECK(memcmp(in, out, sizes[k]) == 0);
    }
    CHECK_RC(cio_task_join(t, NULL));
    cio_unix_datagram_close(c);
    cio_unix_datagram_close(s);
}

static void *main_echo(void *arg)
{
    (void)arg;
    cio_addr s, c;
    tmp_path(&s, "server.sock");
    tmp_path(&c, "client.sock");
    echo_between(&s, &c);
    abstract_name(&s, "server");
    abstract_name(&c, "client");
    echo_between(&s, &c);
    return NULL;
}

static void test_echo_paths_and_abstract(void)
{
    run(main_echo, NULL);
}

/* ---- peek, truncation, connected pairs ---- */

struct small_recv {
    cio_unix_datagram *d;
    ssize_t rc;
};

static void *small_recv_task(void *arg)
{
    struct small_recv *w = arg;
    char buf[10];
    w->rc = cio_unix_datagram_recv(w->d, buf, sizeof(buf));
    return NULL;
}

static void *main_peek_truncation(void *arg)
{
    (void)arg;
    cio_unix_datagram *a, *b;
    CHECK_RC(cio_unix_datagram_pair(&a, &b));
    unsigned char big[3000], buf[100];
    pattern_fill(big, sizeof(big), 0, 8);
    /* A receive waiting when a too-long datagram comes: -EMSGSIZE, and it is gone. */
    struct small_recv w = {b, 0};
    cio_task *t;
    CHECK_RC(cio_spawn(&t, small_recv_task, &w));
    CHECK_RC(cio_sleep(5 * CIO_NSEC_PER_MSEC));
    CHECK(!cio_task_is_finished(t));
    CHECK_EQ(cio_unix_datagram_send(a, big, sizeof(big)), sizeof(big));
    CHECK_RC(cio_task_join(t, NULL));
    CHECK_EQ(w.rc, -EMSGSIZE);
    /* Peeks leave it (truncated or not); receives take it. */
    CHECK_EQ(cio_unix_datagram_send(a, big, sizeof(big)), sizeof(big));
    cio_addr from;
    CHECK_EQ(cio_unix_datagram_peek_sender(b, &from), sizeof(big));
    CHECK_EQ(cio_addr_get_kind(&from), CIO_ADDR_UNNAMED);
    CHECK_ERR(cio_unix_datagram_peek(b, buf, sizeof(buf)), -EMSGSIZE);
    CHECK_ERR(cio_unix_datagram_peek_from(b, buf, sizeof(buf), &from), -EMSGSIZE);
    CHECK_EQ(pattern_check(buf, sizeof(buf), 0, 8), sizeof(buf));
    unsigned char whole[3000];
    CHECK_EQ(cio_unix_datagram_peek(b, whole, sizeof(whole)), sizeof(big));
    CHECK_ERR(cio_unix_datagram_recv_from(b, buf, sizeof(buf), &from), -EMSGSIZE);
    cio_time saved = cio_deadline_set(cio_now() + 10 * CIO_NSEC_PER_MSEC);
    CHECK_ERR(cio_unix_datagram_recv(b, buf, sizeof(buf)), -ETIMEDOUT);
    cio_deadline_restore(saved);
    /* An empty datagram is one. */
    CHECK_EQ(cio_unix_datagram_send(a, NULL, 0), 0);
    CHECK_EQ(cio_unix_datagram_recv(b, buf, sizeof(buf)), 0);
    cio_unix_datagram_close(a);
    cio_unix_datagram_close(b);
    return NULL;
}

static void test_peek_and_truncation(void)
{
    run(main_peek_truncation, NULL);
}

/* ---- a full receiver queue ---- */

struct drainer {
    cio_unix_datagram *d;
    int count;
};

static void *drain_later(void *arg)
{
    struct drainer *k = arg;
    CHECK_RC(cio_sleep(20 * CIO_NSEC_PER_MSEC));
    char buf[64];
    for (int i = 0; i < k->count; i++)
        CHECK_RC(cio_unix_datagram_recv(k->d, buf, sizeof(buf)));
    return NULL;
}

static void *main_full_queue(void *arg)
{
    (void)arg;
    cio_unix_datagram *a, *b;
    CHECK_RC(cio_unix_datagram_pair(&a, &b));
    int queued = 0;
    for (; queued < 100000; queued++) {
        ssize_t n = cio_unix_datagram_try_send(a, "q", 1);
        if (n == -EAGAIN)
            break;
        CHECK_EQ(n, 1);
    }
    CHECK(queued > 0 && queued < 100000);
    /* Full: the send waits; under a deadline it sends nothing. */
    cio_time saved = cio_deadline_set(cio_now() + 20 * CIO_NSEC_PER_MSEC);
    CHECK_ERR(cio_unix_datagram_send(a, "x", 1), -ETIMEDOUT);
    CHECK_ERR(cio_unix_datagram_writable(a), -ETIMEDOUT);
    cio_deadline_restore(saved);
    /* The receiver drains in 20 ms: the waiting send goes then. */
    struct drainer k = {b, queued};
    cio_task *t;
    CHECK_RC(cio_spawn(&t, drain_later, &k));
    cio_time start = cio_now();
    CHECK_EQ(cio_unix_datagram_send(a, "last", 4), 4);
    CHECK(cio_now() - start >= 15 * CIO_NSEC_PER_MSEC);
    CHECK_RC(cio_task_join(t, NULL));
    char buf[8];
    CHECK_EQ(cio_unix_datagram_recv(b, buf, sizeof(buf)), 4); /* the timed-out one never went */
    CHECK(memcmp(buf, "last", 4) == 0);
    cio_unix_datagram_close(a);
    cio_unix_datagram_close(b);
    return NULL;
}

static void test_sender_waits_on_full_queue(void)
{
    run(main_full_queue, NULL);
}

/* ---- readiness rule, close wakes, second receiver ---- */

struct waiter {
    cio_unix_datagram *d;
    ssize_t rc;
    char buf[16];
};

static void *blocked_recv(void *arg)
{
    struct waiter *w = arg;
    w->rc = cio_unix_datagram_recv(w->d, w->buf, sizeof(w->buf));
    return NULL;
}

static void *main_readiness(void *arg)
{
    (void)arg;
    cio_unix_datagram *a, *b;
    CHECK_RC(cio_unix_datagram_pair(&a, &b));
    for (int i = 0; i < 3; i++)
        CHECK_EQ(cio_unix_datagram_send(a, "abc", 3), 3);
    CHECK(CHECK_RC(cio_unix_datagram_readable(b)) & CIO_READY_READABLE);
    /* Three short receives, each taken at once even with the deadline already past. */
    for (int i = 0; i < 3; i++) {
        char buf[64];
        cio_time saved = cio_deadline_set(cio_now() - 1);
        ssize_t n = cio_unix_datagram_recv(b, buf, sizeof(buf));
        cio_deadline_restore(saved);
        CHECK_EQ(n, 3);
    }
    int r = CHECK_RC(cio_unix_datagram_ready(b, CIO_READABLE | CIO_WRITABLE));
    CHECK(r & CIO_READY_WRITABLE);
    /* The queue is empty: the read readiness is stale (the write readiness is not). */
    cio_unix_datagram_clear_ready(b, r & CIO_READY_READABLE);
    cio_unix_datagram_clear_ready(NULL, r);

    /* A second receiver is refused; the sending direction is free. */
    struct waiter w1 = {.d = b}, w2 = {.d = b};
    cio_task *t1, *t2;
    CHECK_RC(cio_spawn(&t1, blocked_recv, &w1));
    CHECK_RC(cio_sleep(5 * CIO_NSEC_PER_MSEC));
    CHECK(!cio_task_is_finished(t1));
    CHECK_RC(cio_spawn(&t2, blocked_recv, &w2));
    CHECK_RC(cio_task_join(t2, NULL));
    CHECK_EQ(w2.rc, -EBUSY);
    int fd;
    size_t n;
    char x;
    CHECK_ERR(cio_unix_datagram_recv_fds(b, &x, 1, &fd, 1, &n, NULL), -EBUSY);
    CHECK_EQ(cio_unix_datagram_send(b, "s", 1), 1);
    CHECK_EQ(cio_unix_datagram_recv(a, &x, 1), 1);
    CHECK_EQ(cio_unix_datagram_send(a, "ping", 4), 4);
    CHECK_RC(cio_task_join(t1, NULL));
    CHECK_EQ(w1.rc, 4);
    /* Closed under a waiting receiver: -EBADF promptly. */
    struct waiter w3 = {.d = b};
    CHECK_RC(cio_spawn(&t1, blocked_recv, &w3));
    CHECK_RC(cio_sleep(5 * CIO_NSEC_PER_MSEC));
    cio_time start = cio_now();
    cio_unix_datagram_close(b);
    CHECK_RC(cio_task_join(t1, NULL));
    CHECK_EQ(w3.rc, -EBADF);
    CHECK(cio_now() - start < 500 * CIO_NSEC_PER_MSEC);
    /* The peer is gone. */
    CHECK(cio_unix_datagram_send(a, "z", 1) < 0);
    cio_unix_datagram_close(a);
    return NULL;
}

static void test_readiness_close_busy(void)
{
    run(main_readiness, NULL);
}

/* ---- poll forms, try_io / async_io ---- */

static void count_wake(void *ctx)
{
    atomic_fetch_add((atomic_int *)ctx, 1);
}

static ssize_t raw_recv(void *ctx)
{
    cio_unix_datagram *d = ctx;
    char b[64];
    ssize_t n = recv(cio_unix_datagram_fd(d), b, sizeof(b), MSG_DONTWAIT);
    return n < 0 ? -errno : n;
}

static void *main_poll(void *arg)
{
    (void)arg;
    cio_addr saddr;
    abstract_name(&saddr, "poll");
    cio_unix_datagram *s = bind_at(&saddr), *c;
    CHECK_RC(cio_unix_datagram_unbound(&c));
    atomic_int woken = 0;
    char buf[16];
    cio_addr from;
    CHECK_ERR(cio_unix_datagram_poll_recv_from(s, buf, sizeof(buf), &from, count_wake, &woken),
              -EAGAIN);
    CHECK_ERR(cio_unix_datagram_poll_recv_ready(s, count_wake, &woken), -EAGAIN);
    CHECK_EQ(cio_unix_datagram_poll_send_to(c, "ab", 2, &saddr, NULL, NULL), 2);
    for (int i = 0; i < 100 && atomic_load(&woken) == 0; i++)
        CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
    CHECK_EQ(atomic_load(&woken), 1);
    CHECK_EQ(cio_unix_datagram_poll_recv_from(s, buf, sizeof(buf), &from, NULL, NULL), 2);
    CHECK_EQ(cio_addr_get_kind(&from), CIO_ADDR_UNNAMED); /* an unbound sender */
    CHECK_RC(cio_unix_datagram_writable(c));
    CHECK(CHECK_RC(cio_unix_datagram_poll_send_ready(c, NULL, NULL)) & CIO_READY_WRITABLE);
    CHECK_EQ(cio_unix_datagram_send_to(c, "xyz", 3, &saddr), 3);
    CHECK_EQ(cio_unix_datagram_async_io(s, CIO_READABLE, raw_recv, s), 3);
    CHECK_ERR(cio_unix_datagram_try_io(s, CIO_READABLE, raw_recv, s), -EAGAIN);
    cio_time saved = cio_deadline_set(cio_now() + 10 * CIO_NSEC_PER_MSEC);
    CHECK_ERR(cio_unix_datagram_readable(s), -ETIMEDOUT);
    CHECK_ERR(cio_unix_datagram_async_io(s, CIO_READABLE, raw_recv, s), -ETIMEDOUT);
    cio_deadline_restore(saved);
    atomic_store(&woken, 0);
    CHECK_ERR(cio_unix_datagram_poll_recv_ready(s, count_wake, &woken), -EAGAIN);
    cio_unix_datagram_close(s);
    CHECK_EQ(atomic_load(&woken), 1);
    cio_unix_datagram_close(c);
    return NULL;
}

static void test_poll_forms_and_try_io(void)
{
    run(main_poll, NULL);
}

/* ---- errors ---- */

static void *main_errors(void *arg)
{
    (void)arg;
    cio_unix_datagram *a, *b;
    CHECK_RC(cio_unix_datagram_pair(&a, &b));
    cio_addr addr;
    tmp_path(&addr, "nobody.sock");
    CHECK_ERR(cio_unix_datagram_send_to(a, "x", 1, &addr), -ENOENT);
    CHECK_ERR(cio_unix_datagram_send_to(a, "x", 1, NULL), -EINVAL);
    CHECK_RC(cio_addr_unnamed(&addr));
    CHECK_ERR(cio_unix_datagram_send_to(a, "x", 1, &addr), -EINVAL);
    CHECK_RC(cio_addr_parse(&addr, "127.0.0.1:9"));
    CHECK_ERR(cio_unix_datagram_send_to(a, "x", 1, &addr), -EAFNOSUPPORT);
    CHECK_ERR(cio_unix_datagram_send(NULL, "x", 1), -EINVAL);
    CHECK_ERR(cio_unix_datagram_send(a, NULL, 1), -EINVAL);
    CHECK_ERR(cio_unix_datagram_recv(b, NULL, 1), -EINVAL);
    int fds[1] = {0};
    size_t n;
    char buf[4];
    CHECK_ERR(cio_unix_datagram_send_fds(a, "x", 1, NULL, 1, NULL), -EINVAL);
    CHECK_ERR(cio_unix_datagram_send_fds(a, "x", 1, fds, CIO_UNIX_FDS_MAX + 1, NULL), -EINVAL);
    CHECK_ERR(cio_unix_datagram_recv_fds(b, buf, sizeof(buf), fds, 1, NULL, NULL), -EINVAL);
    CHECK_ERR(cio_unix_datagram_recv_fds(b, buf, sizeof(buf), NULL, 1, &n, NULL), -EINVAL);
    cio_unix_datagram_close(a);
    cio_unix_datagram_close(b);
    return NULL;
}

static void test_errors(void)
{
    run(main_errors, NULL);
    cio_unix_datagram *a, *b;
    CHECK_RC(cio_unix_datagram_pair(&a, &b));
    char buf[4];
    CHECK_ERR(cio_unix_datagram_recv(a, buf, sizeof(buf)), -EPERM);
    CHECK_ERR(cio_unix_datagram_send(a, "x", 1), -EPERM);
    CHECK_ERR(cio_unix_datagram_readable(a), -EPERM);
    CHECK_EQ(cio_unix_datagram_try_send(b, "abc", 3), 3);
    CHECK_EQ(cio_unix_datagram_try_io(a, CIO_READABLE, raw_recv, a), 3);
    cio_unix_datagram_close(a);
    cio_unix_datagram_close(b);
}

CIO_TEST_MAIN(TEST(test_echo_paths_and_abstract), TEST(test_peek_and_truncation),
              TEST(test_sender_waits_on_full_queue), TEST(test_readiness_close_busy),
              TEST(test_poll_forms_and_try_io), TEST(test_errors))
