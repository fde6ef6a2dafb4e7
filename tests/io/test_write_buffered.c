/*
 * test_write_buffered.c: what a write promises, on every backend — and on io_uring, where a
 * small write is copied into a send block of the ring and returns before the kernel took it
 * (io/uring.h): the bytes a write reports reach the peer in order even when the stream is
 * closed or shut down right after it (from its task or from another thread); a send that fails
 * later fails every write after it; a write cut while it waits for the send in flight before
 * it reports exactly what the peer gets.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cio/metrics.h"
#include "cio/rt.h"
#include "test_tcp_async_helpers.h"

enum { SEED = 11, CHUNK = 1000 };

/* A plain thread's receive on non-blocking @fd: some bytes, or 0 at the end of stream. */
static ssize_t recv_some(int fd, unsigned char *buf, size_t len)
{
    for (;;) {
        ssize_t n = recv(fd, buf, len, 0);
        if (n >= 0)
            return n;
        CHECK(errno == EAGAIN);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        CHECK(poll(&p, 1, 10000) == 1);
    }
}

/* A plain thread that reads @fd to its end, slowly if asked, checking the pattern. */
struct reader {
    int fd;
    unsigned pause_us; /* after each receive */
    atomic_bool go;    /* start reading (false: wait for it) */
    atomic_bool done;  /* it read the end of stream */
    _Atomic uint64_t received;
    pthread_t thread;
};

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    static _Thread_local unsigned char buf[4096];
    for (int i = 0; i < 5000 && !atomic_load(&r->go); i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    for (;;) {
        ssize_t n = recv_some(r->fd, buf, sizeof(buf));
        if (n == 0)
            break;
        uint64_t at = atomic_load(&r->received);
        size_t bad = pattern_check(buf, (size_t)n, at, SEED);
        if (bad != (size_t)n)
            TEST_FAIL("the peer got a wrong byte at %ju", (uintmax_t)(at + bad));
        atomic_store(&r->received, at + (uint64_t)n);
        if (r->pause_us > 0) {
            struct timespec ts = {0, (long)r->pause_us * 1000};
            nanosleep(&ts, NULL);
        }
    }
    atomic_store(&r->done, true);
    return NULL;
}

/* Wait for the reader's end of stream with the worker turning (a task must not block its
 * thread: on io_uring the sends finish in the worker's next turns), then join it. */
static void reader_finish(struct reader *r)
{
    atomic_store(&r->go, true);
    for (int i = 0; i < 20000 && !atomic_load(&r->done); i++)
        CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
    CHECK(atomic_load(&r->done));
    CHECK_EQ(pthread_join(r->thread, NULL), 0);
}

static void reader_start(struct reader *r, cio_tcp_stream *s, unsigned pause_us, bool go)
{
    r->fd = cio_socket_fd(s);
    r->pause_us = pause_us;
    atomic_init(&r->received, 0);
    atomic_init(&r->done, false);
    atomic_init(&r->go, go);
    CHECK_EQ(pthread_create(&r->thread, NULL, reader_main, r), 0);
}

/* A pair whose buffers fill after a few kilobytes, and a reader of the server side that waits
 * for go. */
static void small_pair(cio_tcp_stream **c, cio_tcp_stream **s, struct reader *r)
{
    tcp_pair(c, s);
    CHECK_RC(cio_socket_set_send_buffer_size(*c, 4096));
    CHECK_RC(cio_socket_set_recv_buffer_size(*s, 4096));
    reader_start(r, *s, 0, false);
}

/* One chunk of the pattern at *@pos written with a deadline @ms away; *@pos moves by what the
 * write reported, and the chunk is overwritten after it (the write must not read it later). */
static int write_chunk_within(cio_tcp_stream *c, uint64_t *pos, int ms)
{
    unsigned char chunk[CHUNK];
    pattern_fill(chunk, sizeof(chunk), *pos, SEED);
    cio_time saved = cio_deadline_set(cio_now() + ms * CIO_NSEC_PER_MSEC);
    size_t done = 0;
    int rc = cio_stream_write_all(c, chunk, sizeof(chunk), &done);
    cio_deadline_restore(saved);
    memset(chunk, 0xee, sizeof(chunk));
    *pos += done;
    return rc;
}

/* Write @count chunks of the pattern from @pos with write_all; returns the new position. */
static uint64_t write_chunks(cio_tcp_stream *c, uint64_t pos, int count)
{
    unsigned char chunk[CHUNK];
    for (int i = 0; i < count; i++) {
        pattern_fill(chunk, sizeof(chunk), pos, SEED);
        size_t done = 0;
        CHECK_RC(cio_stream_write_all(c, chunk, sizeof(chunk), &done));
        CHECK_EQ(done, sizeof(chunk));
        pos += sizeof(chunk);
        /* The caller's buffer is its own again: what went is a copy. */
        memset(chunk, 0xee, sizeof(chunk));
    }
    return pos;
}

/* Close at once after the writes: every byte still reaches the peer, then the end. */
static void *main_close(void *arg)
{
    (void)arg;
    cio_tcp_stream *c, *s;
    tcp_pair(&c, &s);
    CHECK_RC(cio_socket_set_send_buffer_size(c, 4096));
    struct reader r;
    reader_start(&r, s, 20, true);
    uint64_t pos = write_chunks(c, 0, 300);
    cio_socket_close(c);
    reader_finish(&r);
    CHECK_EQ(atomic_load(&r.received), pos);
    cio_socket_close(s);
    return NULL;
}

static void test_close_after_writes_delivers(void)
{
    run(main_close, NULL);
}

/* Shut the write direction down after the writes (from the writing task): the bytes, then the
 * end of stream; later writes fail with -EPIPE. */
static void *main_shutdown(void *arg)
{
    (void)arg;
    cio_tcp_stream *c, *s;
    tcp_pair(&c, &s);
    CHECK_RC(cio_socket_set_send_buffer_size(c, 4096));
    struct reader r;
    reader_start(&r, s, 20, true);
    uint64_t pos = write_chunks(c, 0, 300);
    CHECK_RC(cio_socket_shutdown(c, CIO_SHUTDOWN_WRITE));
    CHECK_ERR(cio_stream_write(c, "x", 1), -EPIPE);
    reader_finish(&r);
    CHECK_EQ(atomic_load(&r.received), pos);
    cio_socket_close(c);
    cio_socket_close(s);
    return NULL;
}

static void test_shutdown_after_writes_delivers(void)
{
    run(main_shutdown, NULL);
}

/* The same from a shared task of a two-worker runtime, which may resume on either worker: it is
 * bound to the stream's worker while it waits for the send in flight, then shuts down itself. */
static void *main_shared_shutdown(void *arg)
{
    cio_join_handle *h;
    CHECK_RC(cio_spawn(&h, main_shutdown, arg));
    CHECK_RC(cio_task_join(h, NULL, NULL));
    return NULL;
}

static void test_shutdown_from_shared_task_delivers(void)
{
    run_rt(2, main_shared_shutdown, NULL);
}

/* The shutdown comes from a plain thread while the last send may still be in flight (the
 * reader has not started): it goes after that send, not before. */
struct shutter {
    cio_tcp_stream *c;
    atomic_int state; /* 0 wait, 1 shut it down, 2 done */
    int rc;
};

static void *shutter_main(void *arg)
{
    struct shutter *sh = arg;
    for (int i = 0; i < 10000 && atomic_load(&sh->state) == 0; i++) {
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    sh->rc = cio_socket_shutdown(sh->c, CIO_SHUTDOWN_WRITE);
    atomic_store(&sh->state, 2);
    return NULL;
}

static void *main_shutdown_thread(void *arg)
{
    (void)arg;
    cio_tcp_stream *c, *s;
    struct reader r;
    small_pair(&c, &s, &r);
    /* Enough that the socket's buffers fill and a send waits in the kernel (on io_uring). */
    uint64_t pos = 0;
    int written = 0;
    for (int i = 0; i < 64; i++) {
        int rc = write_chunk_within(c, &pos, 20);
        if (rc == -ETIMEDOUT)
            break; /* the buffers are full */
        CHECK_RC(rc);
        written++;
    }
    CHECK(written > 0);
    struct shutter sh = {.c = c};
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, shutter_main, &sh), 0);
    atomic_store(&sh.state, 1);
    while (atomic_load(&sh.state) != 2)
        CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
    CHECK_RC(sh.rc);
    CHECK_EQ(pthread_join(t, NULL), 0);
    /* The send's completion runs in the worker's turns, and the deferred shutdown with it. */
    reader_finish(&r);
    printf("    %d chunks written before the buffers filled; %ju bytes reported, %ju received\n",
           written, (uintmax_t)pos, (uintmax_t)atomic_load(&r.received));
    CHECK_EQ(atomic_load(&r.received), pos);
    cio_socket_close(c);
    cio_socket_close(s);
    return NULL;
}

static void test_shutdown_from_thread_goes_after_writes(void)
{
    run(main_shutdown_thread, NULL);
}

/* The peer resets the connection: some write after it fails, and every write after that. */
static void *main_reset(void *arg)
{
    (void)arg;
    cio_tcp_stream *c, *s;
    tcp_pair(&c, &s);
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    CHECK_EQ(setsockopt(cio_socket_fd(s), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    cio_socket_close(s); /* a reset */
    unsigned char chunk[CHUNK];
    memset(chunk, 'a', sizeof(chunk));
    int rc = 0, i;
    for (i = 0; i < 1000 && rc == 0; i++) {
        rc = cio_stream_write_all(c, chunk, sizeof(chunk), NULL);
        if (rc == 0)
            CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
    }
    CHECK(rc == -ECONNRESET || rc == -EPIPE);
    for (int k = 0; k < 3; k++) {
        int again = cio_stream_write_all(c, chunk, sizeof(chunk), NULL);
        CHECK(again == -ECONNRESET || again == -EPIPE);
    }
    printf("    write %d failed: %s\n", i, strerror(-rc));
    cio_socket_close(c);
    return NULL;
}

static void test_failed_send_fails_later_writes(void)
{
    run(main_reset, NULL);
}

/* Writes cut by deadlines while the peer does not read (on io_uring: while they wait for the
 * send before them): what they reported is what the peer gets, in order. */
static void *main_cut(void *arg)
{
    (void)arg;
    cio_tcp_stream *c, *s;
    struct reader r;
    small_pair(&c, &s, &r);
    uint64_t pos = 0;
    int cut = 0;
    for (int i = 0; i < 200; i++) {
        int rc = write_chunk_within(c, &pos, 2);
        if (rc < 0) {
            CHECK_ERR(rc, -ETIMEDOUT);
            cut++;
        }
        if (i == 150)
            atomic_store(&r.go, true); /* the rest goes through */
    }
    CHECK_RC(cio_socket_shutdown(c, CIO_SHUTDOWN_WRITE));
    reader_finish(&r);
    printf("    200 writes, %d cut; %ju bytes reported, %ju received\n", cut, (uintmax_t)pos,
           (uintmax_t)r.received);
    CHECK_EQ(atomic_load(&r.received), pos);
    CHECK(cut > 0);
    cio_socket_close(c);
    cio_socket_close(s);
    return NULL;
}

static void test_cut_writes_report_what_went(void)
{
    run(main_cut, NULL);
}

/* Two tasks write one stream at once while the peer is slow (on io_uring: both wait for the
 * send in flight, on one list): each one's bytes arrive whole and in order. Task k writes
 * bytes (i % 127) | k << 7. */
enum { TWO_CHUNKS = 100 };

struct two {
    cio_tcp_stream *c;
    int k;
};

static void *two_writer(void *arg)
{
    struct two *w = arg;
    unsigned char chunk[CHUNK];
    uint64_t i = 0;
    for (int n = 0; n < TWO_CHUNKS; n++) {
        for (size_t j = 0; j < sizeof(chunk); j++, i++)
            chunk[j] = (unsigned char)((i % 127) | (unsigned)w->k << 7);
        CHECK_RC(cio_stream_write_all(w->c, chunk, sizeof(chunk), NULL));
    }
    return NULL;
}

struct two_reader {
    int fd;
    uint64_t count[2];
    pthread_t thread;
};

static void *two_reader_main(void *arg)
{
    struct two_reader *r = arg;
    unsigned char buf[512];
    for (;;) {
        ssize_t n = recv_some(r->fd, buf, sizeof(buf));
        if (n == 0)
            break;
        for (ssize_t j = 0; j < n; j++) {
            unsigned k = buf[j] >> 7;
            if ((buf[j] & 0x7f) != r->count[k] % 127)
                TEST_FAIL("writer %u's byte %ju is wrong", k, (uintmax_t)r->count[k]);
            r->count[k]++;
        }
        struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void *main_two(void *arg)
{
    (void)arg;
    cio_tcp_stream *c, *s;
    tcp_pair(&c, &s);
    CHECK_RC(cio_socket_set_send_buffer_size(c, 4096));
    struct two_reader r = {.fd = cio_socket_fd(s)};
    CHECK_EQ(pthread_create(&r.thread, NULL, two_reader_main, &r), 0);
    struct two w[2] = {{c, 0}, {c, 1}};
    cio_join_handle *t[2];
    for (int k = 0; k < 2; k++)
        CHECK_RC(cio_spawn(&t[k], two_writer, &w[k]));
    for (int k = 0; k < 2; k++)
        CHECK_RC(cio_task_join(t[k], NULL, NULL));
    cio_socket_close(c);
    for (int i = 0; i < 20000 && pthread_tryjoin_np(r.thread, NULL) != 0; i++)
        CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
    CHECK_EQ(r.count[0], (uint64_t)TWO_CHUNKS * CHUNK);
    CHECK_EQ(r.count[1], (uint64_t)TWO_CHUNKS * CHUNK);
    cio_socket_close(s);
    return NULL;
}

static void test_two_writers_keep_order(void)
{
    run(main_two, NULL);
}

/* A task of another worker writes while the owner's send waits for room in the socket (on
 * io_uring: the owner's buffered send in flight, which the writer waits for, woken by its
 * completion — not by looking again every so often): its worker runs it a few times while it
 * waits, its bytes arrive after the owner's, and a second such writer that is cancelled
 * meanwhile takes nothing. */
struct foreign {
    cio_tcp_stream *c;
    uint64_t pos;
    int rc;
    atomic_bool done;
};

static void *foreign_writer(void *arg)
{
    struct foreign *f = arg;
    f->pos = write_chunks(f->c, f->pos, 5);
    atomic_store(&f->done, true);
    return NULL;
}

static void *foreign_cut(void *arg)
{
    struct foreign *f = arg;
    f->rc = write_chunk_within(f->c, &f->pos, 10000);
    atomic_store(&f->done, true);
    return NULL;
}

static uint64_t worker_polls(unsigned worker)
{
    cio_worker_metrics m = CIO_METRICS_INIT(m);
    CHECK_RC(cio_rt_worker_metrics_read(cio_rt_current(), worker, &m));
    return m.polls;
}

static void *owner_main(void *arg)
{
    (void)arg;
    cio_tcp_stream *c, *s;
    struct reader r;
    small_pair(&c, &s, &r);
    /* Write until a write finds no room within 50 ms: the owner's last send is stuck. */
    uint64_t pos = 0;
    for (int i = 0; i < 1000; i++) {
        int rc = write_chunk_within(c, &pos, 50);
        if (rc == -ETIMEDOUT)
            break;
        CHECK_RC(rc);
    }
    unsigned other = cio_rt_worker_index() == 0 ? 1 : 0;
    cio_spawn_options o = {.worker = CIO_WORKER(other)};
    struct foreign cut = {.c = c, .pos = pos};
    cio_join_handle *hc;
    CHECK_RC(cio_spawn_ex(&hc, &o, foreign_cut, &cut));
    CHECK_RC(cio_sleep(20 * CIO_NSEC_PER_MSEC));
    CHECK(!atomic_load(&cut.done));
    CHECK_RC(cio_task_cancel(hc));
    bool cancelled = false;
    CHECK_RC(cio_task_join(hc, NULL, &cancelled));
    CHECK(cancelled);
    CHECK(atomic_load(&cut.done));
    CHECK_EQ(cut.rc, -ECANCELED);
    CHECK_EQ(cut.pos, pos); /* it took nothing */

    struct foreign f = {.c = c, .pos = pos};
    cio_join_handle *h;
    CHECK_RC(cio_spawn_ex(&h, &o, foreign_writer, &f));
    CHECK_RC(cio_sleep(10 * CIO_NSEC_PER_MSEC));
    uint64_t before = worker_polls(other);
    CHECK_RC(cio_sleep(100 * CIO_NSEC_PER_MSEC));
    CHECK(!atomic_load(&f.done));
    uint64_t polls = worker_polls(other) - before;
    if (polls > 10)
        TEST_FAIL("the waiting writer's worker ran %ju times in 100 ms", (uintmax_t)polls);
    atomic_store(&r.go, true);
    CHECK_RC(cio_task_join(h, NULL, NULL));
    CHECK_EQ(f.pos, pos + 5 * CHUNK);
    cio_socket_close(c);
    reader_finish(&r);
    CHECK_EQ(atomic_load(&r.received), f.pos);
    cio_socket_close(s);
    return NULL;
}

static void *main_foreign(void *arg)
{
    (void)arg;
    cio_spawn_options o = {.worker = CIO_WORKER(0)};
    cio_join_handle *h;
    CHECK_RC(cio_spawn_ex(&h, &o, owner_main, NULL));
    CHECK_RC(cio_task_join(h, NULL, NULL));
    return NULL;
}

static void test_writer_on_other_worker_waits_for_send(void)
{
    run_rt(2, main_foreign, NULL);
}

CIO_TEST_MAIN(TEST(test_close_after_writes_delivers), TEST(test_shutdown_after_writes_delivers),
              TEST(test_shutdown_from_shared_task_delivers),
              TEST(test_shutdown_from_thread_goes_after_writes),
              TEST(test_failed_send_fails_later_writes), TEST(test_cut_writes_report_what_went),
              TEST(test_two_writers_keep_order), TEST(test_writer_on_other_worker_waits_for_send))
