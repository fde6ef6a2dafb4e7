/*
 * test_cancel_races.c: cancel safety under races, on every backend — io_uring's completions
 * above all, where the kernel may be completing a request at the moment it is cancelled.
 * Reads cancelled or timed out at random points while bytes stream in lose no byte and repeat
 * none, and never write into a buffer after returning; writes cut at random points report
 * exactly what the peer receives, and never send from a buffer after returning; accepts
 * cancelled while connections arrive lose none; a runtime freed with requests in flight
 * touches no freed memory (run under ASan: make asan) and leaves a socket that outlives it
 * readable in order.
 *
 * cio-test-labels: slow
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "test_tcp_async_helpers.h"

enum { SEED = 7 };

/* A small xorshift generator per test (deterministic, so a failure can be replayed). */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static unsigned rnd(unsigned n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % n);
}

static void sleep_us(unsigned us)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)us * 1000};
    nanosleep(&ts, NULL);
}

/* Blocking send of all of @len bytes on non-blocking @fd (a plain thread's loop). */
static void send_all(int fd, const unsigned char *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = send(fd, buf + done, len - done, MSG_NOSIGNAL);
        if (n > 0) {
            done += (size_t)n;
        } else if (n < 0 && errno == EAGAIN) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            CHECK(poll(&p, 1, 5000) == 1);
        } else {
            TEST_FAIL("send: %s", n < 0 ? strerror(errno) : "0");
        }
    }
}

/*
 * The interruption of one operation, run in its own task @t: cancel it at once (before it
 * ran, or while it runs), after a few yields, after a short wait in the reactor (the worker
 * sleeps and completions race in), or not at all. Then join it.
 */
static void interrupt(cio_join_handle *t)
{
    switch (rnd(5)) {
    case 0:
        break;
    case 1:
        for (unsigned i = rnd(4); i > 0; i--)
            CHECK_RC(cio_yield());
        break;
    case 2:
    case 3: {
        int rc =
            CIO_TIMEOUT((cio_duration)rnd(300) * CIO_NSEC_PER_USEC, cio_task_join(t, NULL, NULL));
        if (rc != -ETIMEDOUT)
            return; /* finished (or was cancelled by nobody): joined */
        break;
    }
    default: {
        /* Let it finish if it can within a while. */
        int rc = CIO_TIMEOUT(3 * CIO_NSEC_PER_MSEC, cio_task_join(t, NULL, NULL));
        if (rc != -ETIMEDOUT)
            return;
        break;
    }
    }
    CHECK_RC(cio_task_cancel(t));
    CHECK_RC(cio_task_join(t, NULL, NULL));
}

/* ---- reads ---- */

struct feeder {
    int fd;
    uint64_t total;
    pthread_t thread;
};

/* Bytes of the pattern in random chunks at a random pace, then end of stream. */
static void *feeder_main(void *arg)
{
    struct feeder *f = arg;
    static unsigned char chunk[4096];
    uint64_t pos = 0;
    unsigned local = 12345;
    while (pos < f->total) {
        local = local * 1103515245u + 12345u;
        size_t len = 1 + (local >> 8) % sizeof(chunk);
        if (len > f->total - pos)
            len = (size_t)(f->total - pos);
        pattern_fill(chunk, len, pos, SEED);
        send_all(f->fd, chunk, len);
        pos += len;
        if ((local >> 20) % 4 == 0)
            sleep_us((local >> 4) % 100);
    }
    CHECK_SYS(shutdown(f->fd, SHUT_WR));
    return NULL;
}

struct read_job {
    cio_tcp_stream *s;
    unsigned char *buf;
    size_t len;
    int timeout_us; /* < 0: none */
    bool vectored;
    ssize_t n;
};

static void *reader(void *arg)
{
    struct read_job *j = arg;
    cio_time saved = CIO_DEADLINE_NONE;
    if (j->timeout_us >= 0)
        saved = cio_deadline_set(cio_now() + (cio_duration)j->timeout_us * CIO_NSEC_PER_USEC);
    if (j->vectored) {
        size_t half = j->len / 2;
        struct iovec iov[2] = {{j->buf, half}, {j->buf + half, j->len - half}};
        j->n = cio_stream_readv(j->s, iov, half > 0 ? 2 : 1);
        if (half == 0)
            j->n = cio_stream_read(j->s, j->buf, j->len);
    } else {
        j->n = cio_stream_read(j->s, j->buf, j->len);
    }
    if (j->timeout_us >= 0)
        cio_deadline_restore(saved);
    return NULL;
}

enum { READS = 10000 };

static void *main_reads(void *arg)
{
    (void)arg;
    cio_tcp_stream *c, *s;
    tcp_pair(&c, &s);
    struct feeder f = {.fd = cio_socket_fd(c), .total = 16u << 20};
    CHECK_EQ(pthread_create(&f.thread, NULL, feeder_main, &f), 0);
    uint64_t got = 0;
    int cut = 0, whole = 0;
    for (int i = 0; i < READS; i++) {
        struct read_job j = {.s = s, .len = 1 + rnd(2048), .n = -1};
        j.buf = xmalloc(j.len);
        j.timeout_us = rnd(4) == 0 ? (int)rnd(200) : -1;
        j.vectored = rnd(3) == 0;
        cio_join_handle *t;
        CHECK_RC(cio_spawn(&t, reader, &j));
        interrupt(t);
        if (j.n > 0) {
            CHECK(j.n <= (ssize_t)j.len);
            size_t bad = pattern_check(j.buf, (size_t)j.n, got, SEED);
            if (bad != (size_t)j.n)
                TEST_FAIL("read %d: byte %ju of the stream is wrong", i, (uintmax_t)(got + bad));
            got += (uint64_t)j.n;
            whole++;
        } else if (j.n == 0) {
            CHECK_EQ(got, f.total); /* end of stream only after every byte */
        } else {
            CHECK(j.n == -ECANCELED || j.n == -ETIMEDOUT || j.n == -1 /* never ran */);
            cut++;
        }
        /* A cancelled read may not touch its buffer after it returned: poison and free. */
        memset(j.buf, 0xee, j.len);
        free(j.buf);
    }
    /* The rest, to the end: every byte exactly once, in order. */
    static unsigned char buf[65536];
    cio_time saved = cio_deadline_set(cio_now() + 30 * CIO_NSEC_PER_SEC);
    for (;;) {
        ssize_t n = CHECK_RC(cio_stream_read(s, buf, sizeof(buf)));
        if (n == 0)
            break;
        size_t bad = pattern_check(buf, (size_t)n, got, SEED);
        if (bad != (size_t)n)
            TEST_FAIL("byte %ju of the stream is wrong", (uintmax_t)(got + bad));
        got += (uint64_t)n;
    }
    cio_deadline_restore(saved);
    CHECK_EQ(got, f.total);
    printf("    %d reads: %d returned bytes, %d cut short; %ju bytes in, %ju out\n", READS, whole,
           cut, (uintmax_t)f.total, (uintmax_t)got);
    CHECK(cut > READS / 10);   /* the races happened */
    CHECK(whole > READS / 10); /* ... with bytes streaming in all along */
    CHECK(got > 0);
    CHECK_EQ(pthread_join(f.thread, NULL), 0);
    cio_socket_close(c);
    cio_socket_close(s);
    return NULL;
}

static void test_reads_cancelled_lose_nothing(void)
{
    run(main_reads, NULL);
}

/* ---- writes ---- */

struct drainer {
    int fd;
    uint64_t received;
    pthread_t thread;
};

/* Reads to the end of stream at a varying pace, checking the pattern. */
static void *drainer_main(void *arg)
{
    struct drainer *d = arg;
    static unsigned char buf[65536];
    unsigned local = 99;
    for (;;) {
        ssize_t n = recv(d->fd, buf, 1 + (local >> 8) % sizeof(buf), 0);
        if (n == 0)
            break;
        if (n < 0 && errno == EAGAIN) {
            struct pollfd p = {.fd = d->fd, .events = POLLIN};
            CHECK(poll(&p, 1, 10000) == 1);
            continue;
        }
        CHECK(n > 0);
        size_t bad = pattern_check(buf, (size_t)n, d->received, SEED);
        if (bad != (size_t)n)
            TEST_FAIL("the peer got a wrong byte at %ju (0xee: sent after the write returned)",
                      (uintmax_t)(d->received + bad));
        d->received += (uint64_t)n;
        local = local * 1103515245u + 12345u;
        if ((local >> 16) % 16 == 0)
            sleep_us((local >> 4) % 100);
    }
    return NULL;
}

struct write_job {
    cio_tcp_stream *s;
    unsigned char *buf;
    size_t len;
    bool all;
    ssize_t n;
    size_t done;
};

static void *writer(void *arg)
{
    struct write_job *j = arg;
    if (j->all) {
        int rc = cio_stream_write_all(j->s, j->buf, j->len, &j->done);
        j->n = rc < 0 ? rc : (ssize_t)j->done;
    } else {
        j->n = cio_stream_write(j->s, j->buf, j->len);
        j->done = j->n > 0 ? (size_t)j->n : 0;
    }
    return NULL;
}

enum { WRITES = 2000 };

static void *main_writes(void *arg)
{
    (void)arg;
    cio_tcp_stream *c, *s;
    tcp_pair(&c, &s);
    /* A small send buffer and writes larger than it, so that writes wait for the peer and
     * the cancels find them in flight. */
    CHECK_RC(cio_socket_set_send_buffer_size(c, 16384));
    CHECK_RC(cio_tcp_set_nodelay(c, true)); /* no Nagle stalls behind delayed acks */
    struct drainer d = {.fd = cio_socket_fd(s)};
    CHECK_EQ(pthread_create(&d.thread, NULL, drainer_main, &d), 0);
    uint64_t pos = 0;
    int cut = 0, partial = 0;
    for (int i = 0; i < WRITES; i++) {
        struct write_job j = {.s = c, .len = 1 + rnd(192 * 1024), .all = rnd(2) == 0, .n = -1};
        j.buf = xmalloc(j.len);
        pattern_fill(j.buf, j.len, pos, SEED);
        cio_join_handle *t;
        CHECK_RC(cio_spawn(&t, writer, &j));
        interrupt(t);
        /* What the write reported is what the peer gets; write_all reports progress even
         * when cut. */
        if (j.n < 0 && !j.all)
            CHECK(j.n == -ECANCELED || j.n == -ETIMEDOUT || j.n == -1);
        if (j.done < j.len)
            cut++;
        if (j.done > 0 && j.done < j.len)
            partial++;
        pos += j.done;
        /* The kernel must not read the buffer after the write returned. */
        memset(j.buf, 0xee, j.len);
        free(j.buf);
    }
    CHECK_RC(cio_socket_shutdown(c, CIO_SHUTDOWN_WRITE));
    CHECK_EQ(pthread_join(d.thread, NULL), 0);
    printf("    %d writes: %d cut short (%d part-way); %ju bytes reported, %ju received\n", WRITES,
           cut, partial, (uintmax_t)pos, (uintmax_t)d.received);
    CHECK_EQ(d.received, pos);
    CHECK(cut > WRITES / 20);
    cio_socket_close(c);
    cio_socket_close(s);
    return NULL;
}

static void test_writes_cancelled_report_what_went(void)
{
    run(main_writes, NULL);
}

/* ---- accepts ---- */

enum { CONNECTIONS = 400 };

struct connector {
    cio_addr addr;
    int fds[CONNECTIONS];
    atomic_bool release;
    pthread_t thread;
};

/* Connections at a random pace, each sending its number; kept open until released. */
static void *connector_main(void *arg)
{
    struct connector *c = arg;
    unsigned local = 4242;
    for (int i = 0; i < CONNECTIONS; i++) {
        int fd = (int)CHECK_SYS(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        CHECK_SYS(connect(fd, cio_addr_sockaddr(&c->addr), cio_addr_len(&c->addr)));
        uint32_t id = (uint32_t)i;
        CHECK_EQ(send(fd, &id, sizeof(id), MSG_NOSIGNAL), (ssize_t)sizeof(id));
        c->fds[i] = fd;
        local = local * 1103515245u + 12345u;
        if ((local >> 16) % 3 == 0)
            sleep_us((local >> 4) % 200);
    }
    while (!atomic_load(&c->release))
        sleep_us(1000);
    for (int i = 0; i < CONNECTIONS; i++)
        close(c->fds[i]);
    return NULL;
}

struct accept_job {
    cio_tcp_listener *l;
    cio_tcp_stream *s;
    int rc;
};

static void *acceptor(void *arg)
{
    struct accept_job *j = arg;
    j->rc = cio_tcp_listener_accept(j->l, &j->s, NULL);
    return NULL;
}

static void *main_accepts(void *arg)
{
    (void)arg;
    struct connector c = {0};
    cio_tcp_listener *l = listen_local(&c.addr, 1024);
    CHECK_EQ(pthread_create(&c.thread, NULL, connector_main, &c), 0);
    static bool seen[CONNECTIONS];
    memset(seen, 0, sizeof(seen));
    int accepted = 0, cut = 0;
    cio_time end = cio_now() + 60 * CIO_NSEC_PER_SEC;
    while (accepted < CONNECTIONS) {
        if (cio_now() > end)
            TEST_FAIL("%d connections never accepted (lost)", CONNECTIONS - accepted);
        struct accept_job j = {.l = l, .rc = 1};
        cio_join_handle *t;
        CHECK_RC(cio_spawn(&t, acceptor, &j));
        interrupt(t);
        if (j.rc == 0) {
            uint32_t id;
            CHECK_RC(cio_stream_read_exact(j.s, &id, sizeof(id), NULL));
            CHECK(id < CONNECTIONS);
            if (seen[id])
                TEST_FAIL("connection %u accepted twice", id);
            seen[id] = true;
            accepted++;
            cio_socket_close(j.s);
        } else {
            CHECK(j.rc == -ECANCELED || j.rc == -ETIMEDOUT || j.rc == 1 /* never ran */);
            cut++;
        }
    }
    cio_tcp_stream *extra;
    CHECK_ERR(cio_tcp_listener_try_accept(l, &extra, NULL), -EAGAIN);
    printf("    %d connections accepted, %d accepts cut short\n", accepted, cut);
    CHECK(cut > CONNECTIONS / 10);
    atomic_store(&c.release, true);
    CHECK_EQ(pthread_join(c.thread, NULL), 0);
    cio_socket_close(l);
    return NULL;
}

static void test_accepts_cancelled_lose_no_connection(void)
{
    run(main_accepts, NULL);
}

/* ---- a runtime freed with requests in flight ---- */

enum { PAIRS = 16 };

struct shutdown_world {
    cio_tcp_listener *l;
    cio_addr addr;
    int clients[PAIRS];   /* plain sockets, the other ends */
    cio_tcp_stream *kept; /* read by a task, outlives the runtime */
    int kept_peer;
    uint64_t kept_sent, kept_read;
    atomic_bool stop;
    pthread_t feeder;
};

/* An echo per connection, with its buffer on the heap: a read cut by the shutdown frees it. */
static void *echo(void *arg)
{
    cio_tcp_stream *s = arg;
    for (;;) {
        unsigned char *buf = xmalloc(8192);
        ssize_t n = cio_stream_read(s, buf, 8192);
        int rc = n > 0 ? cio_stream_write_all(s, buf, (size_t)n, NULL) : -1;
        memset(buf, 0xee, 8192);
        free(buf);
        if (rc < 0)
            break;
    }
    cio_socket_close(s);
    return NULL;
}

/* Writes a big buffer to a peer that never reads: a send request waits in the kernel. */
static void *blocked_writer(void *arg)
{
    cio_tcp_stream *s = arg;
    size_t len = 8u << 20;
    unsigned char *buf = xmalloc(len);
    memset(buf, 'w', len);
    size_t done = 0;
    (void)cio_stream_write_all(s, buf, len, &done);
    memset(buf, 0xee, len);
    free(buf);
    cio_socket_close(s);
    return NULL;
}

static void *kept_reader(void *arg)
{
    struct shutdown_world *w = arg;
    unsigned char buf[1000];
    for (;;) {
        ssize_t n = cio_stream_read(w->kept, buf, sizeof(buf));
        if (n <= 0)
            break;
        size_t bad = pattern_check(buf, (size_t)n, w->kept_read, SEED);
        CHECK_EQ(bad, (size_t)n);
        w->kept_read += (uint64_t)n;
    }
    return NULL;
}

static void *parked_acceptor(void *arg)
{
    cio_tcp_listener *l = arg;
    cio_tcp_stream *s;
    if (cio_tcp_listener_accept(l, &s, NULL) == 0)
        cio_socket_close(s);
    return NULL;
}

/* Keeps sending to every client end (echoes come back and are never read) and to the kept
 * stream, through the shutdown. */
static void *world_feeder(void *arg)
{
    struct shutdown_world *w = arg;
    unsigned char chunk[512];
    while (!atomic_load(&w->stop)) {
        for (int i = 0; i < PAIRS; i++)
            if (i % 2 == 0)
                (void)send(w->clients[i], "0123456789", 10, MSG_NOSIGNAL | MSG_DONTWAIT);
        pattern_fill(chunk, sizeof(chunk), w->kept_sent, SEED);
        ssize_t n = send(w->kept_peer, chunk, sizeof(chunk), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0)
            w->kept_sent += (uint64_t)n;
        sleep_us(50);
    }
    return NULL;
}

static void *main_shutdown(void *arg)
{
    struct shutdown_world *w = arg;
    w->l = listen_local(&w->addr, 64);
    for (int i = 0; i <= PAIRS; i++) {
        int fd = (int)CHECK_SYS(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
        if (connect(fd, cio_addr_sockaddr(&w->addr), cio_addr_len(&w->addr)) < 0)
            CHECK_EQ(errno, EINPROGRESS);
        cio_tcp_stream *s;
        CHECK_RC(cio_tcp_listener_accept(w->l, &s, NULL));
        if (i == PAIRS) {
            w->kept = s;
            w->kept_peer = fd;
            CHECK_RC(cio_spawn(NULL, kept_reader, w));
            continue;
        }
        w->clients[i] = fd;
        CHECK_RC(cio_spawn(NULL, i % 4 == 3 ? blocked_writer : echo, s));
    }
    CHECK_RC(cio_spawn(NULL, parked_acceptor, w->l));
    CHECK_EQ(pthread_create(&w->feeder, NULL, world_feeder, w), 0);
    /* Let the traffic run a little: reads armed, writes in flight, bytes in the stashes. */
    CHECK_RC(cio_sleep(30 * CIO_NSEC_PER_MSEC));
    return NULL;
}

static void check_shutdown(unsigned workers)
{
    static struct shutdown_world w;
    memset(&w, 0, sizeof(w));
    cio_rt *rt;
    cio_rt_options o = {.flavor = workers ? CIO_RT_MULTI_THREAD : CIO_RT_CURRENT_THREAD,
                        .workers = workers};
    CHECK_RC(cio_rt_new(&rt, &o));
    CHECK_RC(cio_rt_block_on(rt, main_shutdown, &w, NULL));
    /* Free it with everything in flight (the feeder still sends). */
    cio_rt_free(rt);
    atomic_store(&w.stop, true);
    CHECK_EQ(pthread_join(w.feeder, NULL), 0);
    /* The kept stream outlived its runtime: what the ring had received and what is still in
     * the socket come out in order, with no runtime at all. */
    CHECK_SYS(shutdown(w.kept_peer, SHUT_WR));
    unsigned char buf[4096];
    uint64_t got = w.kept_read;
    for (int spins = 0; spins < 100000;) {
        ssize_t n = cio_stream_try_read(w.kept, buf, sizeof(buf));
        if (n == 0)
            break;
        if (n == -EAGAIN) {
            struct pollfd p = {.fd = cio_socket_fd(w.kept), .events = POLLIN};
            (void)poll(&p, 1, 10);
            spins++;
            continue;
        }
        CHECK(n > 0);
        size_t bad = pattern_check(buf, (size_t)n, got, SEED);
        if (bad != (size_t)n)
            TEST_FAIL("byte %ju of the kept stream is wrong", (uintmax_t)(got + bad));
        got += (uint64_t)n;
    }
    printf("    kept stream: %ju bytes sent, %ju read by its task, %ju after the runtime\n",
           (uintmax_t)w.kept_sent, (uintmax_t)w.kept_read, (uintmax_t)(got - w.kept_read));
    CHECK_EQ(got, w.kept_sent);
    cio_socket_close(w.kept);
    cio_socket_close(w.l);
    close(w.kept_peer);
    for (int i = 0; i < PAIRS; i++)
        close(w.clients[i]);
}

static void test_shutdown_with_requests_in_flight(void)
{
    check_shutdown(0);
}

static void test_shutdown_with_requests_in_flight_threads(void)
{
    check_shutdown(2);
}

CIO_TEST_MAIN(TEST(test_reads_cancelled_lose_nothing), TEST(test_writes_cancelled_report_what_went),
              TEST(test_accepts_cancelled_lose_no_connection),
              TEST(test_shutdown_with_requests_in_flight),
              TEST(test_shutdown_with_requests_in_flight_threads))
