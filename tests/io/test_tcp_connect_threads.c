/*
 * test_tcp_connect_threads.c: connecting and binding by name on a multi-thread runtime —
 * accepts sharded across two workers with one SO_REUSEPORT listener each (connections
 * spread over both), connects by name from tasks on both workers at once (lookups on the
 * shared blocking pool), happy eyeballs on a worker other than the main task's, and
 * cancellation of a connect from a task on another worker, leaving nothing open.
 */
/* cio-test-labels: threads */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "stream_kinds.h"

#define MS CIO_NSEC_PER_MSEC

/* ---- sharded accept ---- */

enum { SHARD_CONNECTIONS = 64 };

struct shard {
    cio_tcp_listener *l;
    unsigned worker;
    atomic_int *total;
    atomic_int accepted;
};

/* Accept until cancelled; each connection is read (one byte) and closed on this worker. */
static void *shard_acceptor(void *arg)
{
    struct shard *sh = arg;
    for (;;) {
        cio_tcp_stream *s;
        int rc = cio_tcp_listener_accept(sh->l, &s, NULL);
        if (rc == -ECANCELED)
            return NULL;
        CHECK_RC(rc);
        CHECK_FD_FLAGS(cio_socket_fd(s));
        char b;
        CHECK_EQ(cio_stream_read(s, &b, 1), 1);
        CHECK_EQ(b, 's');
        cio_socket_close(s);
        atomic_fetch_add(&sh->accepted, 1);
        atomic_fetch_add(sh->total, 1);
    }
}

static void *main_sharded(void *arg)
{
    (void)arg;
    cio_rt *rt = cio_rt_current();
    CHECK_EQ(cio_rt_workers(rt), 2);
    cio_addr any, addr;
    CHECK_RC(cio_addr_parse(&any, "127.0.0.1:0"));
    cio_tcp_listener *ls[2];
    CHECK_RC(cio_tcp_listener_new_reuseport_n(ls, 2, &any, CIO_LISTEN_BACKLOG_DEFAULT));
    CHECK_RC(cio_socket_local_addr(ls[0], &addr));
    atomic_int total = 0;
    struct shard shards[2];
    cio_join_handle *tasks[2];
    for (unsigned i = 0; i < 2; i++) {
        shards[i].l = ls[i];
        shards[i].worker = i;
        shards[i].total = &total;
        atomic_init(&shards[i].accepted, 0);
        tasks[i] = spawn_on(i, shard_acceptor, &shards[i]);
    }
    /* Each connection comes from a new source port, so the kernel's reuseport hash sends
     * them to both listeners; 64 all landing on one of two would be a 2^-63 event. */
    char text[CIO_ADDR_STRLEN];
    CHECK(cio_addr_format(&addr, text, sizeof(text)) > 0);
    for (int i = 0; i < SHARD_CONNECTIONS; i++) {
        cio_tcp_stream *c;
        CHECK_RC(cio_tcp_stream_connect(&c, text));
        CHECK_RC(cio_stream_write_all(c, "s", 1, NULL));
        cio_socket_close(c);
    }
    for (int i = 0; i < 5000 && atomic_load(&total) < SHARD_CONNECTIONS; i++)
        CHECK_RC(cio_sleep(MS));
    CHECK_EQ(atomic_load(&total), SHARD_CONNECTIONS);
    for (unsigned i = 0; i < 2; i++) {
        CHECK_RC(cio_task_cancel(tasks[i]));
        CHECK_RC(cio_task_join(tasks[i], NULL, NULL)); /* it finished, cancelled or not */
    }
    int a0 = atomic_load(&shards[0].accepted), a1 = atomic_load(&shards[1].accepted);
    printf("    reuseport: worker 0 accepted %d, worker 1 accepted %d\n", a0, a1);
    CHECK_EQ(a0 + a1, SHARD_CONNECTIONS);
    CHECK(a0 > 0);
    CHECK(a1 > 0);
    cio_socket_close(ls[0]);
    cio_socket_close(ls[1]);
    return NULL;
}

static void test_reuseport_sharded_accept(void)
{
    run_rt(2, main_sharded, NULL);
}

/* ---- many connects by name from both workers ---- */

enum { NAME_TASKS = 16, NAME_ROUNDS = 8 };

struct name_connector {
    char text[64];
    atomic_int *done;
};

static void *name_connector_task(void *arg)
{
    struct name_connector *k = arg;
    for (int i = 0; i < NAME_ROUNDS; i++) {
        cio_tcp_stream *c;
        CHECK_RC(cio_tcp_stream_connect(&c, k->text));
        CHECK_FD_FLAGS(cio_socket_fd(c));
        CHECK_RC(cio_stream_write_all(c, "n", 1, NULL));
        cio_socket_close(c);
        atomic_fetch_add(k->done, 1);
    }
    return NULL;
}

struct drain {
    cio_tcp_listener *l;
    int want;
};

static void *drain_task(void *arg)
{
    struct drain *d = arg;
    for (int i = 0; i < d->want; i++) {
        cio_tcp_stream *s;
        CHECK_RC(cio_tcp_listener_accept(d->l, &s, NULL));
        char b;
        CHECK_EQ(cio_stream_read(s, &b, 1), 1);
        CHECK_EQ(b, 'n');
        cio_socket_close(s);
    }
    return NULL;
}

static void *main_names(void *arg)
{
    (void)arg;
    cio_addr addr;
    cio_tcp_listener *l = tcp_listen_name("localhost:0", &addr);
    struct drain d = {l, NAME_TASKS * NAME_ROUNDS};
    cio_join_handle *drainer = spawn_on(1, drain_task, &d);
    atomic_int done = 0;
    struct name_connector ks[NAME_TASKS];
    cio_join_set *set;
    CHECK_RC(cio_join_set_new(&set));
    for (unsigned i = 0; i < NAME_TASKS; i++) {
        snprintf(ks[i].text, sizeof(ks[i].text), "localhost:%d", cio_addr_port(&addr));
        ks[i].done = &done;
        cio_spawn_options o = {.worker = CIO_WORKER(i % 2)};
        CHECK_RC(cio_join_set_spawn(set, &o, name_connector_task, &ks[i], NULL));
    }
    for (unsigned i = 0; i < NAME_TASKS; i++)
        CHECK_RC(cio_join_set_join_next(set, NULL, NULL));
    cio_join_set_free(set);
    CHECK_EQ(atomic_load(&done), NAME_TASKS * NAME_ROUNDS);
    CHECK_RC(cio_task_join(drainer, NULL, NULL));
    cio_socket_close(l);
    return NULL;
}

static void test_connect_by_name_from_both_workers(void)
{
    run_rt(2, main_names, NULL);
}

/* ---- cancellation during the lookup ---- */

/* A connect by name cancelled at once, while its lookup may still run on the pool: the
 * lookup record is shared with the pool job and freed by whichever lets go last (ASan and
 * TSan watch this); the connect returns -ECANCELED or, when the lookup won the race, the
 * refusal from the port nothing listens on. */
struct lookup_race {
    char text[64];
    int rc;
};

static void *lookup_race_task(void *arg)
{
    struct lookup_race *r = arg;
    cio_tcp_stream *c = NULL;
    r->rc = cio_tcp_stream_connect(&c, r->text);
    CHECK(c == NULL);
    return NULL;
}

static void *main_lookup_race(void *arg)
{
    (void)arg;
    /* A port that refuses: bound, not listening. */
    struct refuser ref;
    refuser_open(&ref, "127.0.0.1:0");
    int cancelled = 0, refused = 0;
    for (int i = 0; i < 100; i++) {
        struct lookup_race r;
        snprintf(r.text, sizeof(r.text), "localhost:%d", cio_addr_port(&ref.addr));
        r.rc = 1;
        cio_join_handle *t = spawn_on((unsigned)i % 2, lookup_race_task, &r);
        if (i % 3 == 1)
            CHECK_RC(cio_yield());
        else if (i % 3 == 2)
            CHECK_RC(cio_sleep(MS));
        CHECK_RC(cio_task_cancel(t));
        CHECK_RC(cio_task_join(t, NULL, NULL)); /* it finished, cancelled or not */
        if (r.rc == -ECANCELED)
            cancelled++;
        else if (r.rc == -ECONNREFUSED)
            refused++;
        else
            TEST_FAIL("connect returned %d (%s)", r.rc, cio_strerror(r.rc));
    }
    CHECK(cancelled > 0);
    printf("    lookup race: %d cancelled, %d refused\n", cancelled, refused);
    refuser_close(&ref);
    return NULL;
}

static void test_cancel_during_lookup(void)
{
    run_rt(2, main_lookup_race, NULL);
}

/* ---- happy eyeballs and cancellation across workers ---- */

struct he_job {
    const cio_addr *addrs;
    size_t n;
    cio_tcp_stream *stream;
    int rc;
    cio_duration took;
    atomic_bool returned;
};

static void *he_job_task(void *arg)
{
    struct he_job *j = arg;
    cio_time t0 = cio_now();
    j->rc = cio_tcp_stream_connect_addrs(&j->stream, j->addrs, j->n, NULL);
    j->took = cio_now() - t0;
    atomic_store(&j->returned, true);
    return NULL;
}

static void *main_he_worker1(void *arg)
{
    (void)arg;
    struct first_fails f; /* [::1] never answers, 127.0.0.1 listens */
    first_fails_open(&f, true, true);
    int fds = cio_test_open_fds();
    struct he_job j = {f.addrs, 2, NULL, 1, 0, false};
    cio_join_handle *t = spawn_on(1, he_job_task, &j);
    CHECK_RC(cio_task_join(t, NULL, NULL));
    CHECK_RC(j.rc);
    CHECK(j.took >= 200 * MS);
    CHECK(j.took < 2000 * MS);
    CHECK_EQ(cio_test_open_fds(), fds + 1);
    cio_addr peer;
    CHECK_RC(cio_socket_peer_addr(j.stream, &peer));
    CHECK(cio_addr_equal(&peer, &f.addrs[1]));
    /* The stream is registered with worker 1 and usable from here (worker 0). */
    cio_tcp_stream *s;
    CHECK_RC(cio_tcp_listener_accept(f.l, &s, NULL));
    CHECK_RC(cio_stream_write_all(j.stream, "h", 1, NULL));
    char b;
    CHECK_EQ(cio_stream_read(s, &b, 1), 1);
    cio_socket_close(s);
    cio_socket_close(j.stream);

    /* Cancelled from worker 0 while both attempts hang on worker 1. */
    struct hang h4;
    hang_open(&h4, "127.0.0.1:0");
    cio_addr hanging[2] = {f.addrs[0], h4.addr};
    fds = cio_test_open_fds();
    struct he_job k = {hanging, 2, NULL, 1, 0, false};
    t = spawn_on(1, he_job_task, &k);
    CHECK_RC(cio_sleep(350 * MS));
    CHECK(!atomic_load(&k.returned));
    CHECK_RC(cio_task_cancel(t));
    CHECK_RC(cio_task_join(t, NULL, NULL)); /* it finished, cancelled or not */
    CHECK_ERR(k.rc, -ECANCELED);
    CHECK(k.took < 1000 * MS);
    CHECK(k.stream == NULL);
    CHECK_EQ(cio_test_open_fds(), fds);
    hang_close(&h4);

    first_fails_close(&f);
    return NULL;
}

static void test_he_and_cancel_on_other_worker(void)
{
    need_ipv6();
    run_rt(2, main_he_worker1, NULL);
}

CIO_TEST_MAIN(TEST(test_reuseport_sharded_accept), TEST(test_connect_by_name_from_both_workers),
              TEST(test_cancel_during_lookup), TEST(test_he_and_cancel_on_other_worker))
