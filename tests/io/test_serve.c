/*
 * test_serve.c: the serve helper (cio/serve.h) on real loopback sockets — a handler runs per
 * connection over TCP (one SO_REUSEPORT listener per worker) and over a Unix socket (one
 * shared listener), the connection limit holds (the handlers running at once never exceed
 * it, the rest wait in the backlog and are served later), descriptor exhaustion under a low
 * RLIMIT_NOFILE (the server pauses and serves again once descriptors are free), the graceful
 * stop (idle connections end at once, an in-flight reply still goes out, a handler that
 * ignores the stop is cancelled at the deadline; the counts add up, nothing leaks), 1,000
 * connections stopped while every reply is in flight (none lost), the stop by a signal and
 * by cancelling cio_serve()'s task, and argument errors.
 */
/* cio-test-labels: threads */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cio/serve.h"
#include "stream_kinds.h"

/* ---- shared pieces ---- */

/* Echo until end of stream. */
static void echo_handler(cio_stream *s, const cio_addr *peer, void *ctx)
{
    atomic_int *served = ctx;
    CHECK(peer != NULL);
    char buf[256];
    ssize_t n;
    while ((n = cio_stream_read(s, buf, sizeof(buf))) > 0)
        if (cio_stream_write_all(s, buf, (size_t)n, NULL) < 0)
            break;
    if (served != NULL)
        atomic_fetch_add(served, 1);
}

/* Connect to the server's address (TCP or Unix), send @msg, check it comes back, close. */
static int echo_once(const cio_addr *addr, const char *msg)
{
    cio_stream *s;
    int rc;
    cio_addr_kind kind = cio_addr_get_kind(addr);
    if (kind == CIO_ADDR_UNIX || kind == CIO_ADDR_ABSTRACT) {
        cio_unix_stream *u;
        rc = cio_unix_stream_connect(&u, addr);
        s = cio_as_stream(u);
    } else {
        cio_tcp_stream *t;
        rc = cio_tcp_stream_connect_addr(&t, addr);
        s = cio_as_stream(t);
    }
    if (rc < 0)
        return rc;
    size_t len = strlen(msg);
    char back[64];
    rc = cio_stream_write_all(s, msg, len, NULL);
    if (rc == 0)
        rc = cio_stream_read_exact(s, back, len, NULL);
    if (rc == 0 && memcmp(back, msg, len) != 0)
        rc = -EPROTO;
    cio_socket_close(s);
    return rc;
}

static cio_server_stats stats_of(cio_server *srv)
{
    cio_server_stats st;
    CHECK_RC(cio_server_get_stats(srv, &st));
    return st;
}

/* The counts after a stop: everything accepted has ended. */
static void check_final(cio_server *srv, uint64_t accepted, uint64_t cancelled)
{
    cio_server_stats st = stats_of(srv);
    CHECK_EQ(st.accepted, accepted);
    CHECK_EQ(st.active, 0);
    CHECK_EQ(st.finished, accepted);
    CHECK_EQ(st.cancelled, cancelled);
    CHECK_EQ(st.refused, 0);
    CHECK(st.stopping);
    CHECK(st.peak >= 1 && st.peak <= accepted);
}

/* Poll @cond every millisecond, at most @ms times. */
#define WAIT_UNTIL(cond, ms)                                                                       \
    do {                                                                                           \
        for (int i_ = 0; !(cond) && i_ < (ms); i_++)                                               \
            CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));                                                \
        CHECK(cond);                                                                               \
    } while (0)

/* ---- a handler per connection, TCP and Unix ---- */

struct echo_run {
    const char *address;
    unsigned listeners; /* expected */
    int clients;
};

struct stopper {
    cio_server *srv;
    cio_addr addr;
    int clients;
};

static void *echo_clients(void *arg)
{
    struct stopper *st = arg;
    for (int i = 0; i < st->clients; i++)
        CHECK_RC(echo_once(&st->addr, "hello, server"));
    CHECK_RC(cio_server_stop(st->srv));
    return NULL;
}

static void *main_echo(void *arg)
{
    struct echo_run *r = arg;
    static atomic_int served;
    atomic_store(&served, 0);
    cio_server *srv;
    CHECK_RC(cio_server_new(&srv, NULL, r->address, NULL));
    struct stopper st = {.srv = srv, .clients = r->clients};
    CHECK_RC(cio_server_local_addr(srv, &st.addr));
    cio_addr_kind kind = cio_addr_get_kind(&st.addr);
    if (kind == CIO_ADDR_IPV4 || kind == CIO_ADDR_IPV6)
        CHECK(cio_addr_port(&st.addr) > 0);
    CHECK_EQ(stats_of(srv).listeners, r->listeners);
    CHECK_RC(cio_server_start(srv, echo_handler, &served));
    CHECK_ERR(cio_server_start(srv, echo_handler, &served), -EALREADY);
    cio_join_handle *clients;
    CHECK_RC(cio_spawn(&clients, echo_clients, &st));
    CHECK_EQ(cio_server_wait(srv), 0); /* stopped by the call */
    CHECK_RC(cio_task_join(clients, NULL, NULL));
    CHECK_EQ(atomic_load(&served), r->clients);
    check_final(srv, (uint64_t)r->clients, 0);
    CHECK_EQ(stats_of(srv).stop_signal, 0);
    CHECK_ERR(cio_server_wait(srv), -EINVAL); /* once */
    cio_server_free(srv);
    return NULL;
}

static void test_handler_per_connection_tcp(void)
{
    /* Two workers: two SO_REUSEPORT listeners. */
    run_rt(2, main_echo, &(struct echo_run){"127.0.0.1:0", 2, 20});
    run_rt(0, main_echo, &(struct echo_run){"127.0.0.1:0", 1, 5});
    run_rt(2, main_echo, &(struct echo_run){"[::1]:0", 2, 5});
    cio_test_check_leaks();
}

static void test_handler_per_connection_unix(void)
{
    char path[256];
    int n = snprintf(path, sizeof(path), "%s/serve.sock", cio_test_tmpdir());
    CHECK(n > 0 && (size_t)n < sizeof(path));
    /* Two workers, one shared listener: connections dealt out to both workers. */
    run_rt(2, main_echo, &(struct echo_run){path, 1, 20});
    CHECK(access(path, F_OK) < 0); /* the socket file went with the server */
    run_rt(0, main_echo, &(struct echo_run){"@cio-test-serve", 1, 5});
    cio_test_check_leaks();
}

/* ---- the connection limit ---- */

#define LIMIT 3
#define LIMIT_CLIENTS 12

static atomic_int now_active, most_active;

static void limited_handler(cio_stream *s, const cio_addr *peer, void *ctx)
{
    (void)peer;
    (void)ctx;
    int n = atomic_fetch_add(&now_active, 1) + 1;
    int seen = atomic_load(&most_active);
    while (n > seen && !atomic_compare_exchange_weak(&most_active, &seen, n))
        ;
    (void)cio_sleep(20 * CIO_NSEC_PER_MSEC); /* hold the slot a while */
    char c;
    if (cio_stream_read(s, &c, 1) == 1)
        (void)cio_stream_write_all(s, &c, 1, NULL);
    atomic_fetch_sub(&now_active, 1);
}

static void *one_client(void *arg)
{
    CHECK_RC(echo_once(arg, "x"));
    return NULL;
}

static void *main_limit(void *arg)
{
    (void)arg;
    cio_server *srv;
    cio_server_options o = {.max_connections = LIMIT};
    CHECK_RC(cio_server_new(&srv, NULL, "127.0.0.1:0", &o));
    cio_addr addr;
    CHECK_RC(cio_server_local_addr(srv, &addr));
    CHECK_RC(cio_server_start(srv, limited_handler, NULL));
    cio_join_handle *clients[LIMIT_CLIENTS];
    for (int i = 0; i < LIMIT_CLIENTS; i++)
        CHECK_RC(cio_spawn(&clients[i], one_client, &addr));
    for (int i = 0; i < LIMIT_CLIENTS; i++)
        CHECK_RC(cio_task_join(clients[i], NULL, NULL)); /* every client served */
    WAIT_UNTIL(stats_of(srv).active == 0, 2000);
    CHECK_RC(cio_server_stop(srv));
    CHECK_EQ(cio_server_wait(srv), 0);
    check_final(srv, LIMIT_CLIENTS, 0);
    CHECK(stats_of(srv).peak <= LIMIT);
    CHECK(atomic_load(&most_active) <= LIMIT);
    CHECK(atomic_load(&most_active) >= 2); /* it did serve several at once */
    cio_server_free(srv);
    return NULL;
}

static void test_connection_limit(void)
{
    run_rt(2, main_limit, NULL);
    cio_test_check_leaks();
}

/* ---- descriptor exhaustion ---- */

#define FILLERS_MAX 256

static void *main_emfile(void *arg)
{
    (void)arg;
    cio_server *srv;
    cio_server_options o = {.accept_backoff = 20 * CIO_NSEC_PER_MSEC};
    CHECK_RC(cio_server_new(&srv, NULL, "127.0.0.1:0", &o));
    cio_addr addr;
    CHECK_RC(cio_server_local_addr(srv, &addr));
    CHECK_RC(cio_server_start(srv, echo_handler, NULL));
    CHECK_RC(echo_once(&addr, "before"));
    WAIT_UNTIL(stats_of(srv).active == 0, 2000); /* its server side closed too */

    /* A low limit, then fill the table but for one descriptor: the client's socket. The
     * server's accept then finds none for the connection. */
    struct rlimit saved, low;
    CHECK_SYS(getrlimit(RLIMIT_NOFILE, &saved));
    int fillers[FILLERS_MAX], nfill = 0;
    int probe = CHECK_SYS(open("/dev/null", O_RDONLY | O_CLOEXEC));
    close(probe);
    low = saved;
    low.rlim_cur = (rlim_t)probe + 64;
    CHECK_SYS(setrlimit(RLIMIT_NOFILE, &low));
    for (;;) {
        CHECK(nfill < FILLERS_MAX);
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            CHECK_EQ(errno, EMFILE);
            break;
        }
        fillers[nfill++] = fd;
    }
    close(fillers[--nfill]);
    cio_tcp_stream *c;
    CHECK_RC(cio_tcp_stream_connect_addr(&c, &addr));
    /* The server sheds the connection: the client sees it closed. */
    char byte;
    ssize_t n = CIO_TIMEOUT(5 * CIO_NSEC_PER_SEC, cio_stream_read(c, &byte, 1));
    if (n != 0 && n != -ECONNRESET)
        TEST_FAIL("read %zd (%s), stats backoffs %ju accepted %ju", n, cio_strerror((int)n),
                  (uintmax_t)stats_of(srv).backoffs, (uintmax_t)stats_of(srv).accepted);
    cio_socket_close(c);
    CHECK(stats_of(srv).backoffs >= 1);
    CHECK_EQ(stats_of(srv).accepted, 1);

    /* Descriptors free again: the server serves. */
    while (nfill > 0)
        close(fillers[--nfill]);
    CHECK_SYS(setrlimit(RLIMIT_NOFILE, &saved));
    CHECK_RC(echo_once(&addr, "after"));
    CHECK_RC(cio_server_stop(srv));
    CHECK_EQ(cio_server_wait(srv), 0);
    check_final(srv, 2, 0);
    cio_server_free(srv);
    return NULL;
}

static void test_emfile_backoff(void)
{
    /* The case runs in a process of its own (the harness forks it): the limit is its own. */
    run_rt(0, main_emfile, NULL);
    cio_test_check_leaks();
}

/* ---- graceful stop ---- */

#define STOP_TIMEOUT (400 * CIO_NSEC_PER_MSEC)

static atomic_int ready; /* handlers that read their first byte */

/* 'i': idle, reads until end of stream; 'r': answers "done" after 150 ms, whatever happens;
 * 's': stubborn, ignores the stop and sleeps until cancelled. */
static void stop_handler(cio_stream *s, const cio_addr *peer, void *ctx)
{
    (void)peer;
    (void)ctx;
    char mode, buf[16];
    if (cio_stream_read(s, &mode, 1) != 1)
        return;
    atomic_fetch_add(&ready, 1);
    if (mode == 'i') {
        while (cio_stream_read(s, buf, sizeof(buf)) > 0)
            ;
    } else if (mode == 'r') {
        CHECK_RC(cio_sleep(150 * CIO_NSEC_PER_MSEC));
        CHECK_RC(cio_stream_write_all(s, "done", 4, NULL));
    } else {
        int rc = 0;
        for (int i = 0; i < 100 && rc == 0; i++)
            rc = cio_sleep(10 * CIO_NSEC_PER_SEC);
        CHECK_ERR(rc, -ECANCELED);
    }
}

struct stop_client {
    cio_addr addr;
    char mode;
    const char *want; /* what the client reads before end of stream */
};

static void *stop_client(void *arg)
{
    struct stop_client *sc = arg;
    cio_tcp_stream *c;
    CHECK_RC(cio_tcp_stream_connect_addr(&c, &sc->addr));
    CHECK_RC(cio_stream_write_all(c, &sc->mode, 1, NULL));
    char buf[16];
    size_t got = 0;
    ssize_t n;
    while (got < sizeof(buf) && (n = cio_stream_read(c, buf + got, sizeof(buf) - got)) > 0)
        got += (size_t)n;
    CHECK_EQ(got, strlen(sc->want));
    CHECK(memcmp(buf, sc->want, got) == 0);
    cio_socket_close(c);
    return NULL;
}

static void *main_graceful(void *arg)
{
    (void)arg;
    atomic_store(&ready, 0);
    cio_server *srv;
    cio_server_options o = {.stop_timeout = STOP_TIMEOUT};
    CHECK_RC(cio_server_new(&srv, NULL, "127.0.0.1:0", &o));
    struct stop_client sc[3] = {
        {.mode = 'i', .want = ""}, {.mode = 'r', .want = "done"}, {.mode = 's', .want = ""}};
    CHECK_RC(cio_server_start(srv, stop_handler, NULL));
    cio_join_handle *clients[3];
    for (int i = 0; i < 3; i++) {
        CHECK_RC(cio_server_local_addr(srv, &sc[i].addr));
        CHECK_RC(cio_spawn(&clients[i], stop_client, &sc[i]));
    }
    WAIT_UNTIL(atomic_load(&ready) == 3, 5000);
    CHECK_EQ(stats_of(srv).active, 3);
    CHECK(!cio_server_is_stopping(srv));
    cio_time start = cio_now();
    CHECK_RC(cio_server_stop(srv));
    CHECK(cio_server_is_stopping(srv));
    CHECK_EQ(cio_server_wait(srv), 0);
    cio_duration took = cio_now() - start;
    CHECK(took >= STOP_TIMEOUT - 5 * CIO_NSEC_PER_MSEC); /* the stubborn one had its time */
    CHECK(took < 10 * CIO_NSEC_PER_SEC);
    for (int i = 0; i < 3; i++)
        CHECK_RC(cio_task_join(clients[i], NULL, NULL));
    check_final(srv, 3, 1);
    CHECK_EQ(stats_of(srv).peak, 3);
    cio_server_free(srv);
    return NULL;
}

static void test_graceful_stop(void)
{
    run_rt(2, main_graceful, NULL);
    run_rt(0, main_graceful, NULL);
    cio_test_check_leaks();
}

/* A negative stop timeout cancels at once: a reply still in the making is lost, by request. */
static void stop_at_once_handler(cio_stream *s, const cio_addr *peer, void *ctx)
{
    (void)peer;
    (void)ctx;
    char mode;
    if (cio_stream_read(s, &mode, 1) != 1)
        return;
    atomic_fetch_add(&ready, 1);
    CHECK_ERR(cio_sleep(10 * CIO_NSEC_PER_SEC), -ECANCELED);
}

static void *main_stop_at_once_run(void *arg)
{
    (void)arg;
    atomic_store(&ready, 0);
    cio_server *srv;
    cio_server_options o = {.stop_timeout = -1};
    CHECK_RC(cio_server_new(&srv, NULL, "127.0.0.1:0", &o));
    struct stop_client sc = {.mode = 'r', .want = ""};
    CHECK_RC(cio_server_local_addr(srv, &sc.addr));
    CHECK_RC(cio_server_start(srv, stop_at_once_handler, NULL));
    cio_join_handle *client;
    CHECK_RC(cio_spawn(&client, stop_client, &sc));
    WAIT_UNTIL(atomic_load(&ready) == 1, 5000);
    cio_time start = cio_now();
    CHECK_RC(cio_server_stop(srv));
    CHECK_EQ(cio_server_wait(srv), 0);
    CHECK(cio_now() - start < 5 * CIO_NSEC_PER_SEC);
    CHECK_RC(cio_task_join(client, NULL, NULL));
    check_final(srv, 1, 1);
    cio_server_free(srv);
    return NULL;
}

static void test_stop_at_once(void)
{
    run_rt(0, main_stop_at_once_run, NULL);
    cio_test_check_leaks();
}

/* ---- 1,000 connections, stopped with every reply in flight ---- */

#define MANY 1000

static atomic_int waiting_replies;

/* Read a request byte, wait until the stop has begun, then answer: each reply is written
 * after the stop started. */
static void late_reply_handler(cio_stream *s, const cio_addr *peer, void *ctx)
{
    (void)peer;
    cio_server *srv = *(cio_server **)ctx;
    char req;
    if (cio_stream_read(s, &req, 1) != 1)
        return;
    atomic_fetch_add(&waiting_replies, 1);
    for (int i = 0; i < 10000 && !cio_server_is_stopping(srv); i++)
        CHECK_RC(cio_sleep(2 * CIO_NSEC_PER_MSEC));
    CHECK_RC(cio_stream_write_all(s, "ok", 2, NULL));
}

static void *many_client(void *arg)
{
    cio_tcp_stream *c;
    CHECK_RC(cio_tcp_stream_connect_addr(&c, arg));
    CHECK_RC(cio_stream_write_all(c, "?", 1, NULL));
    char buf[2];
    CHECK_RC(cio_stream_read_exact(c, buf, 2, NULL));
    CHECK(memcmp(buf, "ok", 2) == 0);
    char more;
    CHECK_EQ(cio_stream_read(c, &more, 1), 0); /* then the server closes */
    cio_socket_close(c);
    return NULL;
}

static void *main_many(void *arg)
{
    (void)arg;
    atomic_store(&waiting_replies, 0);
    static cio_server *srv;
    cio_server_options o = {.stop_timeout = 30 * CIO_NSEC_PER_SEC, .backlog = 2048};
    CHECK_RC(cio_server_new(&srv, NULL, "127.0.0.1:0", &o));
    cio_addr addr;
    CHECK_RC(cio_server_local_addr(srv, &addr));
    CHECK_RC(cio_server_start(srv, late_reply_handler, &srv));
    cio_join_set *clients;
    CHECK_RC(cio_join_set_new(&clients));
    for (int i = 0; i < MANY; i++)
        CHECK_RC(cio_join_set_spawn(clients, &(cio_spawn_options){.worker = CIO_WORKER(i % 2)},
                                    many_client, &addr, NULL));
    WAIT_UNTIL(atomic_load(&waiting_replies) == MANY, 20000);
    CHECK_EQ(stats_of(srv).active, MANY);
    CHECK_RC(cio_server_stop(srv));
    CHECK_EQ(cio_server_wait(srv), 0);
    bool cancelled = true;
    while (cio_join_set_join_next(clients, NULL, &cancelled) == 0)
        CHECK(!cancelled);
    cio_join_set_free(clients);
    check_final(srv, MANY, 0);
    CHECK_EQ(stats_of(srv).peak, MANY);
    cio_server_free(srv);
    return NULL;
}

static void test_many_connections_stop(void)
{
    struct rlimit rl;
    CHECK_SYS(getrlimit(RLIMIT_NOFILE, &rl));
    if (rl.rlim_cur < 3 * MANY) {
        if (rl.rlim_max < 3 * MANY)
            TEST_SKIP("RLIMIT_NOFILE hard limit %ju is below %d", (uintmax_t)rl.rlim_max, 3 * MANY);
        rl.rlim_cur = 3 * MANY;
        CHECK_SYS(setrlimit(RLIMIT_NOFILE, &rl));
    }
    run_rt(2, main_many, NULL);
    cio_test_check_leaks();
}

/* ---- stop by a signal, and by cancelling cio_serve() ---- */

static void *send_sigterm(void *arg)
{
    CHECK_RC(echo_once(arg, "before the signal"));
    CHECK_SYS(kill(getpid(), SIGTERM));
    return NULL;
}

static void *main_signal(void *arg)
{
    (void)arg;
    cio_server *srv;
    cio_server_options o = {.stop_signals = (const int[]){SIGINT, SIGTERM}, .stop_signal_count = 2};
    CHECK_RC(cio_server_new(&srv, NULL, "127.0.0.1:0", &o));
    cio_addr addr;
    CHECK_RC(cio_server_local_addr(srv, &addr));
    CHECK_RC(cio_server_start(srv, echo_handler, NULL));
    cio_join_handle *sender;
    CHECK_RC(cio_spawn(&sender, send_sigterm, &addr));
    CHECK_EQ(cio_server_wait(srv), SIGTERM);
    CHECK_RC(cio_task_join(sender, NULL, NULL));
    check_final(srv, 1, 0);
    CHECK_EQ(stats_of(srv).stop_signal, SIGTERM);
    cio_server_free(srv);
    return NULL;
}

static void test_stop_by_signal(void)
{
    cio_test_expect_new_fds(2); /* cio's signal pipe lives as long as the process */
    run_rt(2, main_signal, NULL);
    cio_test_check_leaks();
}

static atomic_int serve_served;

static void *serve_task(void *arg)
{
    (void)arg;
    int rc = cio_serve("127.0.0.1:0", echo_handler, &serve_served, NULL);
    return (void *)(intptr_t)rc;
}

static void *main_serve_cancel(void *arg)
{
    (void)arg;
    /* cio_serve() binds its own port: find it through a server-less probe is not possible,
     * so check its errors, then that cancelling its task stops it cleanly. */
    CHECK_ERR(cio_serve("not an address", echo_handler, NULL, NULL), -EINVAL);
    CHECK_ERR(cio_serve("127.0.0.1:0", NULL, NULL, NULL), -EINVAL);
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, serve_task, NULL));
    CHECK_RC(cio_sleep(20 * CIO_NSEC_PER_MSEC));
    CHECK(!cio_task_is_finished(t));
    CHECK_RC(cio_task_cancel(t));
    void *result;
    bool cancelled;
    CHECK_RC(cio_task_join(t, &result, &cancelled));
    CHECK(cancelled);
    CHECK_EQ((intptr_t)result, -ECANCELED);
    return NULL;
}

static void test_serve_cancelled(void)
{
    run_rt(0, main_serve_cancel, NULL);
    cio_test_check_leaks();
}

/* ---- argument errors ---- */

static void *main_errors(void *arg)
{
    (void)arg;
    cio_server *srv = NULL;
    CHECK_ERR(cio_server_new(NULL, NULL, "127.0.0.1:0", NULL), -EINVAL);
    CHECK_ERR(cio_server_new(&srv, NULL, NULL, NULL), -EINVAL);
    CHECK_ERR(cio_server_new(&srv, NULL, "nonsense", NULL), -EINVAL);
    CHECK_ERR(cio_server_new(&srv, NULL, "/no/such/dir/x.sock", NULL), -ENOENT);
    cio_server_options o = {.stop_signal_count = 1};
    CHECK_ERR(cio_server_new(&srv, NULL, "127.0.0.1:0", &o), -EINVAL);
    o.stop_signals = (const int[]){SIGKILL};
    CHECK_ERR(cio_server_new(&srv, NULL, "127.0.0.1:0", &o), -EINVAL);
    o = (cio_server_options){.backlog = -1};
    CHECK_ERR(cio_server_new(&srv, NULL, "127.0.0.1:0", &o), -EINVAL);
    CHECK(srv == NULL);
    CHECK_RC(cio_server_new(&srv, NULL, "127.0.0.1:0", NULL));
    CHECK_ERR(cio_server_wait(srv), -EINVAL); /* not started */
    CHECK_ERR(cio_server_start(srv, NULL, NULL), -EINVAL);
    cio_server_stats st;
    CHECK_RC(cio_server_get_stats(srv, &st));
    CHECK_EQ(st.accepted, 0);
    CHECK(!st.stopping);
    CHECK_ERR(cio_server_get_stats(srv, NULL), -EINVAL);
    CHECK_ERR(cio_server_get_stats(NULL, &st), -EINVAL);
    CHECK_ERR(cio_server_stop(NULL), -EINVAL);
    CHECK(!cio_server_is_stopping(NULL));
    cio_server_free(srv); /* never started */
    cio_server_free(NULL);
    return NULL;
}

static void test_errors(void)
{
    run_rt(0, main_errors, NULL);
    /* Outside a runtime: no runtime to run on, no task to start from. */
    cio_server *srv;
    CHECK_ERR(cio_server_new(&srv, NULL, "127.0.0.1:0", NULL), -EINVAL);
    cio_rt *rt;
    CHECK_RC(cio_rt_new(&rt, NULL));
    CHECK_RC(cio_server_new(&srv, rt, "127.0.0.1:0", NULL)); /* before the runtime runs */
    CHECK_ERR(cio_server_start(srv, echo_handler, NULL), -EPERM);
    CHECK_ERR(cio_serve("127.0.0.1:0", echo_handler, NULL, NULL), -EPERM);
    cio_server_free(srv);
    cio_rt_free(rt);
}

CIO_TEST_MAIN(TEST(test_handler_per_connection_tcp), TEST(test_handler_per_connection_unix),
              TEST(test_connection_limit), TEST(test_emfile_backoff), TEST(test_graceful_stop),
              TEST(test_stop_at_once), TEST(test_many_connections_stop), TEST(test_stop_by_signal),
              TEST(test_serve_cancelled), TEST(test_errors))
