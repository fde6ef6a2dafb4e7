/*
 * test_tcp_accept.c: accepting under pressure — descriptor exhaustion (RLIMIT_NOFILE
 * lowered: pending connections are shed and their clients see them closed, the listener
 * neither spins nor wedges, accept works again once descriptors are free, and the spare is
 * re-armed for the next shortage), a backlog drained in one edge-triggered burst, the
 * listen backlog in force as requested (0 and 1 included, negative for the default) with
 * the queue's limit checked on loopback, and several threads accepting on one listener.
 */
/* cio-test-labels: threads */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cio/net.h"
#include "cio/poll.h"
#include "cio/tcp.h"
#include "harness.h"
#include "test_tcp_helpers.h"

#define FILLERS_MAX 256

struct exhaustion {
    struct rlimit saved;
    int fillers[FILLERS_MAX];
    int count;
};

static int highest_open_fd(void)
{
    int highest = 2;
    DIR *dir = opendir("/proc/self/fd");
    CHECK(dir != NULL);
    struct dirent *de;
    while ((de = readdir(dir)) != NULL)
        if (de->d_name[0] != '.' && atoi(de->d_name) > highest)
            highest = atoi(de->d_name);
    closedir(dir);
    return highest;
}

/* Lower RLIMIT_NOFILE to just above what is open and take every remaining slot. */
static void exhaust(struct exhaustion *ex)
{
    CHECK_SYS(getrlimit(RLIMIT_NOFILE, &ex->saved));
    struct rlimit low = ex->saved;
    low.rlim_cur = (rlim_t)highest_open_fd() + 8;
    CHECK_SYS(setrlimit(RLIMIT_NOFILE, &low));
    ex->count = 0;
    for (;;) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            CHECK_EQ(errno, EMFILE);
            break;
        }
        CHECK(ex->count < FILLERS_MAX);
        ex->fillers[ex->count++] = fd;
    }
    CHECK(ex->count > 0);
}

static void relieve(struct exhaustion *ex)
{
    for (int i = 0; i < ex->count; i++)
        close(ex->fillers[i]);
    ex->count = 0;
    CHECK_SYS(setrlimit(RLIMIT_NOFILE, &ex->saved));
}

/* Events for `token` in a wait of up to timeout_ms. */
static int count_events(cio_poll *poll, cio_events *events, cio_token token, int timeout_ms)
{
    int found = 0;
    int n = cio_poll_wait_ms(poll, events, timeout_ms);
    CHECK(n >= 0);
    const cio_event *ev;
    for (size_t it = 0; (ev = cio_events_next(events, &it)) != NULL;)
        if (ev->token == token)
            found++;
    return found;
}

/* The connection was shed: the client reads end of stream or a reset, never data. */
static void check_shed(cio_tcp_stream *client)
{
    char buf[8];
    ssize_t n = read_result(client, buf, sizeof(buf));
    CHECK(n == 0 || n == -ECONNRESET);
}

static void test_accept_under_fd_exhaustion(void)
{
    cio_poll *poll;
    cio_events *events;
    CHECK_RC(cio_poll_new(&poll, NULL));
    CHECK_RC(cio_events_new(&events, 16));
    cio_addr addr;
    cio_tcp_listener *listener = listen_on("127.0.0.1:0", &addr);
    CHECK_RC(cio_poll_register(poll, cio_socket_fd(listener), 1, CIO_READABLE));

    /* Three clients whose handshakes complete in the backlog (the kernel does not need the
     * accept for that). Their descriptors exist before the shortage. */
    cio_tcp_stream *clients[3];
    for (int i = 0; i < 3; i++) {
        CHECK_RC(cio_tcp_stream_try_connect(&clients[i], &addr));
        finish_connect(clients[i]);
    }
    CHECK(count_events(poll, events, 1, 2000) > 0); /* connections pending */

    struct exhaustion ex;
    exhaust(&ex);
    cio_tcp_stream *stream = NULL;
    CHECK_ERR(cio_tcp_listener_try_accept(listener, &stream, NULL), -EMFILE);
    CHECK(stream == NULL);
    /* The backlog was emptied: no spin (no readiness, would block), no wedge. */
    CHECK_ERR(cio_tcp_listener_try_accept(listener, &stream, NULL), -EAGAIN);
    CHECK_ERR(cio_tcp_listener_try_accept(listener, &stream, NULL), -EAGAIN);
    CHECK_EQ(count_events(poll, events, 1, 0), 0);
    CHECK_EQ(count_events(poll, events, 1, 200), 0);
    /* Still short of descriptors, the spare is back: the count of free slots is unchanged. */
    CHECK(open("/dev/null", O_RDONLY | O_CLOEXEC) < 0 && errno == EMFILE);
    relieve(&ex);

    for (int i = 0; i < 3; i++) {
        check_shed(clients[i]);
        cio_socket_close(clients[i]);
    }

    /* With descriptors free again, accept works. */
    cio_tcp_stream *client, *server;
    CHECK_RC(cio_tcp_stream_try_connect(&client, &addr));
    server = accept_one(listener, NULL);
    finish_connect(client);
    write_all(client, "again", 5);
    char buf[5];
    read_exact(server, buf, 5);
    CHECK(memcmp(buf, "again", 5) == 0);
    cio_socket_close(client);
    cio_socket_close(server);

    /* A second shortage is handled the same way (the spare was re-armed), this time with a
     * connection arriving while descriptors are already short. */
    CHECK_RC(cio_tcp_stream_try_connect(&client, &addr));
    exhaust(&ex);
    /* Empty backlog while short: would block, nothing shed. */
    int rc = cio_tcp_listener_try_accept(listener, &stream, NULL);
    if (rc == -EAGAIN) {
        /* The handshake had not reached the backlog yet: wait for it (no new descriptor
         * needed to wait on an existing poll). */
        CHECK(count_events(poll, events, 1, 5000) > 0);
        rc = cio_tcp_listener_try_accept(listener, &stream, NULL);
    }
    CHECK_ERR(rc, -EMFILE);
    CHECK_ERR(cio_tcp_listener_try_accept(listener, &stream, NULL), -EAGAIN);
    relieve(&ex);
    check_shed(client);
    cio_socket_close(client);

    CHECK_RC(cio_poll_deregister(poll, cio_socket_fd(listener)));
    cio_socket_close(listener);
    cio_events_free(events);
    cio_poll_free(poll);
}

/* Many connections pending at once: one readable edge, drained to -EAGAIN in one go. */
static void test_drain_backlog_one_edge(void)
{
    cio_poll *poll;
    cio_events *events;
    CHECK_RC(cio_poll_new(&poll, NULL));
    CHECK_RC(cio_events_new(&events, 16));
    cio_addr addr;
    cio_tcp_listener *listener = listen_on("127.0.0.1:0", &addr);
    enum { N = 50 };
    cio_tcp_stream *clients[N], *servers[N];
    for (int i = 0; i < N; i++) {
        CHECK_RC(cio_tcp_stream_try_connect(&clients[i], &addr));
        finish_connect(clients[i]);
    }
    CHECK_RC(cio_poll_register(poll, cio_socket_fd(listener), 1, CIO_READABLE));
    CHECK(count_events(poll, events, 1, 2000) > 0);
    int accepted = 0;
    for (;;) {
        cio_addr peer;
        int rc = cio_tcp_listener_try_accept(listener, &servers[accepted], &peer);
        if (rc == -EAGAIN)
            break;
        CHECK_RC(rc);
        CHECK_FD_FLAGS(cio_socket_fd(servers[accepted]));
        CHECK_EQ(cio_addr_get_kind(&peer), CIO_ADDR_IPV4);
        accepted++;
        CHECK(accepted <= N);
    }
    CHECK_EQ(accepted, N);
    CHECK_EQ(count_events(poll, events, 1, 0), 0);
    for (int i = 0; i < N; i++) {
        cio_socket_close(clients[i]);
        cio_socket_close(servers[i]);
    }
    CHECK_RC(cio_poll_deregister(poll, cio_socket_fd(listener)));
    cio_socket_close(listener);
    cio_events_free(events);
    cio_poll_free(poll);
}

/* What Linux reports in tcp_info for a listening socket: the connections queued for accept
 * (tcpi_unacked) and the backlog in force (tcpi_sacked). */
static void listener_queue(cio_tcp_listener *listener, unsigned *ret_queued, unsigned *ret_max)
{
    struct tcp_info info;
    socklen_t len = sizeof(info);
    CHECK_SYS(getsockopt(cio_socket_fd(listener), IPPROTO_TCP, TCP_INFO, &info, &len));
    CHECK_EQ(info.tcpi_state, TCP_LISTEN);
    *ret_queued = info.tcpi_unacked;
    *ret_max = info.tcpi_sacked;
}

/* Wait (at most 2 s) until @want connections are queued on @listener. */
static void wait_queued(cio_tcp_listener *listener, unsigned want)
{
    unsigned queued = 0, max;
    for (int64_t end = cio_test_now_ms() + 2000; cio_test_now_ms() < end; usleep(2000)) {
        listener_queue(listener, &queued, &max);
        if (queued >= want)
            break;
    }
    CHECK_EQ(queued, want);
}

static int somaxconn(void)
{
    int value = 4096;
    FILE *f = fopen("/proc/sys/net/core/somaxconn", "re");
    if (f != NULL) {
        if (fscanf(f, "%d", &value) != 1)
            value = 4096;
        fclose(f);
    }
    return value;
}

/* A listener with @backlog holds backlog + 1 connections nobody accepted; one more connect is
 * neither refused nor queued (its SYN is dropped: it stays in SYN_SENT) until an accept
 * makes room, and then the kernel's SYN retry, 1 s after the first, gets it in. */
static void check_backlog_limit(int backlog)
{
    cio_addr addr;
    cio_tcp_listener *listener;
    CHECK_RC(cio_addr_parse(&addr, "127.0.0.1:0"));
    CHECK_RC(cio_tcp_listener_new(&listener, &addr, backlog));
    CHECK_RC(cio_socket_local_addr(listener, &addr));
    unsigned queued, max;
    listener_queue(listener, &queued, &max);
    CHECK_EQ(max, backlog);
    CHECK_EQ(queued, 0);

    enum { MAX_ADMITTED = 2 };
    int admitted = backlog + 1;
    CHECK(admitted <= MAX_ADMITTED);
    cio_tcp_stream *clients[MAX_ADMITTED + 1], *servers[MAX_ADMITTED + 1];
    for (int i = 0; i < admitted; i++) {
        CHECK_RC(cio_tcp_stream_try_connect(&clients[i], &addr));
        finish_connect(clients[i]);
        wait_queued(listener, (unsigned)i + 1);
    }
    cio_tcp_stream *late;
    CHECK_RC(cio_tcp_stream_try_connect(&late, &addr));
    CHECK_EQ(wait_fd(cio_socket_fd(late), CIO_WRITABLE, 300), 0);
    CHECK_ERR(cio_tcp_stream_try_finish_connect(late), -EAGAIN);
    listener_queue(listener, &queued, &max);
    CHECK_EQ(queued, admitted);

    servers[0] = accept_one(listener, NULL);
    CHECK(wait_fd(cio_socket_fd(late), CIO_WRITABLE, 5000) & CIO_EVENT_WRITABLE);
    CHECK_EQ(cio_tcp_stream_try_finish_connect(late), 0);
    clients[admitted] = late;
    for (int i = 1; i <= admitted; i++)
        servers[i] = accept_one(listener, NULL);
    cio_tcp_stream *extra;
    CHECK_ERR(cio_tcp_listener_try_accept(listener, &extra, NULL), -EAGAIN);
    for (int i = 0; i <= admitted; i++) {
        cio_socket_close(clients[i]);
        cio_socket_close(servers[i]);
    }
    cio_socket_close(listener);
}

static void test_listen_backlog(void)
{
    check_backlog_limit(0);
    check_backlog_limit(1);

    /* Negative: the default, capped by net.core.somaxconn like any backlog. */
    int expect =
        CIO_LISTEN_BACKLOG_DEFAULT < somaxconn() ? CIO_LISTEN_BACKLOG_DEFAULT : somaxconn();
    cio_addr addr;
    cio_tcp_listener *listener;
    unsigned queued, max;
    CHECK_RC(cio_addr_parse(&addr, "127.0.0.1:0"));
    CHECK_RC(cio_tcp_listener_new(&listener, &addr, -1));
    listener_queue(listener, &queued, &max);
    CHECK_EQ(max, expect);
    cio_socket_close(listener);
    /* The builder's listen passes 0 on too. */
    cio_tcp_socket *builder;
    CHECK_RC(cio_tcp_socket_new_v4(&builder));
    CHECK_RC(cio_socket_bind(builder, &addr));
    CHECK_RC(cio_tcp_socket_listen(builder, 0, &listener));
    listener_queue(listener, &queued, &max);
    CHECK_EQ(max, 0);
    cio_socket_close(listener);
}

/* Several threads accepting on one listener: every connection accepted exactly once. */
#define ACCEPTORS 4
#define CONNECTIONS 200

struct acceptor {
    cio_tcp_listener *listener;
    cio_tcp_stream *streams[CONNECTIONS];
    int count;
    int *total; /* shared, atomic */
};

static void *acceptor_main(void *arg)
{
    struct acceptor *a = arg;
    int64_t deadline = cio_test_now_ms() + 20000;
    while (__atomic_load_n(a->total, __ATOMIC_ACQUIRE) < CONNECTIONS &&
           cio_test_now_ms() < deadline) {
        cio_tcp_stream *s;
        int rc = cio_tcp_listener_try_accept(a->listener, &s, NULL);
        if (rc == -EAGAIN) {
            usleep(200);
            continue;
        }
        if (rc < 0)
            return (void *)(intptr_t)rc;
        a->streams[a->count++] = s;
        __atomic_add_fetch(a->total, 1, __ATOMIC_ACQ_REL);
    }
    return NULL;
}

static void test_accept_from_several_threads(void)
{
    cio_addr addr;
    cio_tcp_listener *listener = listen_on("127.0.0.1:0", &addr);
    static struct acceptor acceptors[ACCEPTORS];
    pthread_t threads[ACCEPTORS];
    int total = 0;
    for (int i = 0; i < ACCEPTORS; i++) {
        acceptors[i] = (struct acceptor){.listener = listener, .total = &total};
        CHECK_EQ(pthread_create(&threads[i], NULL, acceptor_main, &acceptors[i]), 0);
    }
    static cio_tcp_stream *clients[CONNECTIONS];
    for (int i = 0; i < CONNECTIONS; i++)
        CHECK_RC(cio_tcp_stream_try_connect(&clients[i], &addr));
    int sum = 0;
    for (int i = 0; i < ACCEPTORS; i++) {
        void *result;
        CHECK_EQ(pthread_join(threads[i], &result), 0);
        CHECK(result == NULL);
        sum += acceptors[i].count;
    }
    CHECK_EQ(sum, CONNECTIONS);
    cio_tcp_stream *extra;
    CHECK_ERR(cio_tcp_listener_try_accept(listener, &extra, NULL), -EAGAIN);
    for (int i = 0; i < ACCEPTORS; i++)
        for (int k = 0; k < acceptors[i].count; k++)
            cio_socket_close(acceptors[i].streams[k]);
    for (int i = 0; i < CONNECTIONS; i++)
        cio_socket_close(clients[i]);
    cio_socket_close(listener);
}

CIO_TEST_MAIN(TEST(test_accept_under_fd_exhaustion), TEST(test_drain_backlog_one_edge),
              TEST(test_listen_backlog), TEST(test_accept_from_several_threads))
