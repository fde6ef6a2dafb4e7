/*
 * test_steal_io.c: sockets under work stealing — an echo server with ONE accept loop on a
 * 2-worker runtime has its connections' work spread over both workers; a task that reads one
 * socket while it is moved from worker to worker (each hop made by a wake from a task pinned
 * to the other worker) reads every byte in order, whether its wait is the registration's
 * owner's or a foreign one. Every wait is bounded by a deadline. Run on every backend, and
 * under TSan in CI.
 */
/* cio-test-labels: threads */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cio/sync.h"
#include "io/io.h" /* which worker's reactor a connection's socket settled on */
#include "test_tcp_async_helpers.h"

static void run_multi(cio_task_fn fn, void *arg)
{
    cio_rt *rt;
    cio_rt_options o = {.flavor = CIO_RT_MULTI_THREAD, .workers = 2};
    CHECK_RC(cio_rt_new(&rt, &o));
    CHECK_RC(cio_rt_block_on(rt, fn, arg, NULL));
    cio_rt_free(rt);
}

/* ---- one accept loop, work spread ---- */

enum { CONNS = 32, ECHOES = 200, MSG = 64 };

struct echo_run {
    cio_tcp_listener *listener;
    cio_addr addr;
    atomic_ulong served_on[2]; /* echoes served per worker */
    atomic_int settled_on[2];  /* connections whose socket registered with worker i */
    atomic_int clients_connected, clients_done;
    atomic_int first_echoes; /* clients past their first round trip */
};

static void *echo_conn(void *arg)
{
    struct echo_run *run = ((void **)arg)[0];
    cio_tcp_stream *s = ((void **)arg)[1];
    free(arg);
    /* No deadline: a task parked with a timer armed resumes where it parked (sched.h); the
     * clients' receive timeout bounds the test. */
    char buf[MSG];
    for (bool settled = false;;) {
        ssize_t n = cio_stream_read(s, buf, sizeof(buf));
        if (n <= 0)
            break;
        /* registered the first time a read had to wait */
        struct cio__io *io = cio__io_of((struct cio_socket *)(void *)s);
        if (!settled && io != NULL) {
            settled = true;
            atomic_fetch_add(&run->settled_on[io->worker->index], 1);
        }
        int w = cio_rt_worker_index();
        CHECK(w == 0 || w == 1);
        atomic_fetch_add(&run->served_on[w], 1);
        CHECK_RC(cio_stream_write_all(s, buf, (size_t)n, NULL));
    }
    cio_socket_close(s);
    return NULL;
}

static void *accept_loop(void *arg)
{
    struct echo_run *run = arg;
    /* Load first: every client is in the backlog, so the accepts follow one another and the
     * connection tasks pile up on this worker's queue, as under a burst of connections. (A
     * task that started is tied to its socket's worker while it waits on it: spreading is
     * done when tasks wait in a queue, at spawn or when woken by other tasks.) */
    for (int i = 0; i < 30000 && atomic_load(&run->clients_connected) < CONNS; i++)
        CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
    for (int i = 0; i < CONNS; i++) {
        cio_tcp_stream *s;
        cio_addr peer;
        cio_time saved = cio_deadline_set(cio_now() + 30 * CIO_NSEC_PER_SEC);
        CHECK_RC(cio_tcp_listener_accept(run->listener, &s, &peer));
        cio_deadline_restore(saved);
        void **conn = xmalloc(2 * sizeof(void *));
        conn[0] = run;
        conn[1] = s;
        CHECK_RC(cio_spawn(NULL, echo_conn, conn)); /* shared: the runtime spreads them */
    }
    return NULL;
}

/* A plain thread: one blocking client connection, ECHOES round trips. */
static void *client_thread(void *arg)
{
    struct echo_run *run = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    struct timeval tv = {.tv_sec = 30};
    CHECK_SYS(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
    CHECK_SYS(connect(fd, cio_addr_sockaddr(&run->addr), cio_addr_len(&run->addr)));
    atomic_fetch_add(&run->clients_connected, 1);
    char out[MSG], in[MSG];
    for (int i = 0; i < ECHOES; i++) {
        memset(out, 'a' + i % 26, sizeof(out));
        CHECK_EQ(send(fd, out, sizeof(out), MSG_NOSIGNAL), (ssize_t)sizeof(out));
        size_t got = 0;
        while (got < sizeof(in)) {
            ssize_t n = recv(fd, in + got, sizeof(in) - got, 0);
            CHECK(n > 0);
            got += (size_t)n;
        }
        CHECK(memcmp(in, out, sizeof(in)) == 0);
        if (i == 0) {
            /* Every connection live and waiting for its second message before any goes on:
             * so each one's socket registers (its first read that waits) while every other
             * connection task is alive, and the settled counts are the totals. */
            atomic_fetch_add(&run->first_echoes, 1);
            for (int k = 0; k < 30000 && atomic_load(&run->first_echoes) < CONNS; k++)
                usleep(1000);
        }
    }
    close(fd);
    atomic_fetch_add(&run->clients_done, 1);
    return NULL;
}

static void *main_one_accept_loop(void *arg)
{
    struct echo_run *run = arg;
    run->listener = listen_local(&run->addr, 128);
    cio_join_handle *acceptor;
    /* The one accept loop, pinned to worker 0: every connection task starts there. */
    cio_spawn_options on_w0 = {.worker = CIO_WORKER(0)};
    CHECK_RC(cio_spawn_ex(&acceptor, &on_w0, accept_loop, run));
    pthread_t clients[CONNS];
    for (int i = 0; i < CONNS; i++)
        CHECK(pthread_create(&clients[i], NULL, client_thread, run) == 0);
    CHECK_RC(cio_task_join(acceptor, NULL, NULL));
    /* The clients are plain threads: wait for them without blocking the worker. */
    for (int i = 0; i < 30000 && atomic_load(&run->clients_done) < CONNS; i++)
        CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
    CHECK_EQ(atomic_load(&run->clients_done), CONNS);
    for (int i = 0; i < CONNS; i++)
        CHECK(pthread_join(clients[i], NULL) == 0);
    cio_socket_close(run->listener);
    return NULL;
}

static void test_one_accept_loop_spreads(void)
{
    struct echo_run run = {0};
    run_multi(main_one_accept_loop, &run);
    unsigned long on0 = atomic_load(&run.served_on[0]), on1 = atomic_load(&run.served_on[1]);
    int home0 = atomic_load(&run.settled_on[0]), home1 = atomic_load(&run.settled_on[1]);
    printf("echoes served: worker 0 %lu, worker 1 %lu; sockets settled: %d, %d\n", on0, on1, home0,
           home1);
    CHECK_EQ(on0 + on1 >= (unsigned long)CONNS * ECHOES, true);
    CHECK(on0 > 0);
    CHECK(on1 > 0);
    /* Each connection's socket registered with the worker that had the fewest (settle): half
     * each, give or take two that chose at the same moment from the same counts. */
    CHECK_EQ(home0 + home1, CONNS);
    CHECK(abs(home0 - home1) <= 2);
}

/* ---- a reader moved between workers ---- */

enum { HOPS = 200, PIECE = 1000 };

struct hopper {
    cio_tcp_stream *reader_end, *writer_end;
    cio_chan_sender *go[2]; /* to the pinned waker on worker i */
    cio_chan_receiver *go_rx[2];
    cio_notify *wake_reader;
    int seen_on[2];
    atomic_bool writer_done;
};

/* Pinned to worker i: each message it receives, it wakes the reader, which then runs here
 * next (a wake from a running task goes to this worker's LIFO slot). */
static void *pinned_waker(void *arg)
{
    struct hopper *h = ((void **)arg)[0];
    int me = (int)(intptr_t)((void **)arg)[1];
    for (;;) {
        int go = 0;
        cio_time saved = cio_deadline_set(cio_now() + 30 * CIO_NSEC_PER_SEC);
        int rc = cio_chan_recv(h->go_rx[me], &go);
        cio_deadline_restore(saved);
        CHECK(rc >= 0);
        if (rc == 0)
            break;
        CHECK_EQ(cio_rt_worker_index(), me);
        /* Give the reader time to park: a wake of a parked task is what moves it here (a
         * wake that finds it still running leaves it where it is, which is also fine). */
        CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
        CHECK_RC(cio_notify_one(h->wake_reader));
    }
    return NULL;
}

static void *moving_reader(void *arg)
{
    struct hopper *h = arg;
    unsigned char buf[PIECE];
    uint64_t pos = 0;
    for (int i = 0; i < HOPS; i++) {
        int target = i % 2;
        CHECK_RC(cio_chan_send(h->go[target], &target));
        /* No deadline here: a task parked with a timer armed resumes where it parked
         * (sched.h); this wait is what moves it (the test's own timeout bounds it). */
        CHECK_RC(cio_notify_wait(h->wake_reader));
        int w = cio_rt_worker_index();
        h->seen_on[w]++;
        /* Read a piece here, wherever here is: the socket was registered by the first
         * read's worker; on the other one this task waits as a foreign waiter. */
        cio_time saved = cio_deadline_set(cio_now() + 60 * CIO_NSEC_PER_SEC);
        size_t got = 0;
        while (got < PIECE) {
            ssize_t n = cio_stream_read(h->reader_end, buf + got, PIECE - got);
            CHECK(n > 0);
            got += (size_t)n;
        }
        cio_deadline_restore(saved);
        CHECK_EQ(pattern_check(buf, PIECE, pos, 7), PIECE);
        pos += PIECE;
    }
    for (int i = 0; i < 2; i++)
        cio_chan_sender_free(h->go[i]);
    return NULL;
}

/* A writer that trickles, so that reads often wait. */
static void *trickle_writer(void *arg)
{
    struct hopper *h = arg;
    unsigned char buf[PIECE / 4];
    cio_time saved = cio_deadline_set(cio_now() + 60 * CIO_NSEC_PER_SEC);
    for (uint64_t pos = 0; pos < (uint64_t)HOPS * PIECE; pos += sizeof(buf)) {
        pattern_fill(buf, sizeof(buf), pos, 7);
        CHECK_RC(cio_stream_write_all(h->writer_end, buf, sizeof(buf), NULL));
        if ((pos / sizeof(buf)) % 16 == 0)
            CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC / 2));
        else
            CHECK_RC(cio_yield());
    }
    cio_deadline_restore(saved);
    return NULL;
}

static void *main_moving_reader(void *arg)
{
    struct hopper *h = arg;
    tcp_pair(&h->writer_end, &h->reader_end);
    CHECK_RC(cio_notify_new(&h->wake_reader));
    for (int i = 0; i < 2; i++)
        CHECK_RC(cio_chan_new(&h->go[i], &h->go_rx[i], 4, sizeof(int)));
    cio_join_handle *wakers[2], *reader, *writer;
    void *args[2][2] = {{h, (void *)0}, {h, (void *)1}};
    for (int i = 0; i < 2; i++) {
        cio_spawn_options o = {.worker = CIO_WORKER(i)};
        CHECK_RC(cio_spawn_ex(&wakers[i], &o, pinned_waker, args[i]));
    }
    CHECK_RC(cio_spawn(&writer, trickle_writer, h));
    CHECK_RC(cio_spawn(&reader, moving_reader, h));
    CHECK_RC(cio_task_join(reader, NULL, NULL));
    CHECK_RC(cio_task_join(writer, NULL, NULL));
    for (int i = 0; i < 2; i++) {
        CHECK_RC(cio_task_join(wakers[i], NULL, NULL));
        cio_chan_receiver_free(h->go_rx[i]);
    }
    cio_notify_free(h->wake_reader);
    cio_socket_close(h->reader_end);
    cio_socket_close(h->writer_end);
    return NULL;
}

static void test_reader_moves_between_workers(void)
{
    struct hopper h = {0};
    run_multi(main_moving_reader, &h);
    printf("reader woke on worker 0 %d times, on worker 1 %d times\n", h.seen_on[0], h.seen_on[1]);
    CHECK_EQ(h.seen_on[0] + h.seen_on[1], HOPS);
    CHECK(h.seen_on[0] > 0);
    CHECK(h.seen_on[1] > 0);
}

CIO_TEST_MAIN(TEST(test_one_accept_loop_spreads), TEST(test_reader_moves_between_workers))
