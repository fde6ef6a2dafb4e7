/*
 * test_tcp_connect.c: connecting and binding by host name on one runtime worker — numeric
 * v4/v6 text and "localhost", Happy Eyeballs racing over explicit address lists (a refused
 * family, an address that never answers made from a loopback listener whose backlog is
 * full, interleaving by family, the sequential mode), the most useful error when every
 * attempt fails, the task's deadline and cancellation with nothing left open, malformed
 * input, unresolvable names, bind_name and SO_REUSEPORT listeners. Loopback only.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "stream_kinds.h"

#define MS CIO_NSEC_PER_MSEC

/* ---- fixtures ---- */

static cio_duration since(cio_time start)
{
    return cio_now() - start;
}

/* The connection @c reached @l (its peer @want, when given): accept it, check both ends
 * agree and a byte goes through; @c is closed. */
static void accept_check(cio_tcp_listener *l, cio_tcp_stream *c, const cio_addr *want)
{
    cio_tcp_stream *s;
    cio_addr peer, local;
    if (want != NULL) {
        CHECK_RC(cio_socket_peer_addr(c, &peer));
        CHECK(cio_addr_equal(&peer, want));
    }
    CHECK_FD_FLAGS(cio_socket_fd(c));
    CHECK_RC(cio_tcp_listener_accept(l, &s, &peer));
    CHECK_RC(cio_socket_local_addr(c, &local));
    CHECK(cio_addr_equal(&local, &peer));
    char x = 'x', y = 0;
    CHECK_RC(cio_stream_write_all(c, &x, 1, NULL));
    CHECK_EQ(cio_stream_read(s, &y, 1), 1);
    CHECK_EQ(y, 'x');
    cio_socket_close(s);
    cio_socket_close(c);
}

/* Addresses that never answer in each family there is: 127.0.0.1, and [::1] when there is
 * IPv6 loopback (@v6). */
struct hangs {
    bool v6;
    struct hang h4, h6;
};

static void hangs_open(struct hangs *hs)
{
    hs->v6 = have_ipv6();
    hang_open(&hs->h4, "127.0.0.1:0");
    if (hs->v6)
        hang_open(&hs->h6, "[::1]:0");
}

static void hangs_close(struct hangs *hs)
{
    if (hs->v6)
        hang_close(&hs->h6);
    hang_close(&hs->h4);
}

static void fmt_host_port(char *buf, size_t size, const cio_addr *a)
{
    CHECK(cio_addr_format(a, buf, size) > 0);
}

/* ---- numeric text and localhost ---- */

static void *main_numeric(void *arg)
{
    const char *bind_text = arg;
    cio_addr addr;
    cio_tcp_listener *l = tcp_listen_at(bind_text, &addr, CIO_LISTEN_BACKLOG_DEFAULT);
    char text[CIO_ADDR_STRLEN];
    fmt_host_port(text, sizeof(text), &addr);
    cio_tcp_stream *c;
    CHECK_RC(cio_tcp_stream_connect(&c, text));
    accept_check(l, c, &addr);
    cio_socket_close(l);
    return NULL;
}

static void test_connect_numeric_v4(void)
{
    run(main_numeric, "127.0.0.1:0");
}

static void test_connect_numeric_v6(void)
{
    need_ipv6();
    run(main_numeric, "[::1]:0");
}

static void *main_host_literals(void *arg)
{
    bool v6 = arg != NULL;
    cio_addr addr;
    cio_tcp_listener *l =
        tcp_listen_at(v6 ? "[::1]:0" : "127.0.0.1:0", &addr, CIO_LISTEN_BACKLOG_DEFAULT);
    uint16_t port = (uint16_t)cio_addr_port(&addr);
    const char *hosts4[] = {"127.0.0.1"};
    const char *hosts6[] = {"::1", "[::1]"};
    const char **hosts = v6 ? hosts6 : hosts4;
    size_t n = v6 ? 2 : 1;
    for (size_t i = 0; i < n; i++) {
        cio_tcp_stream *c;
        CHECK_RC(cio_tcp_stream_connect_host(&c, hosts[i], port));
        accept_check(l, c, &addr);
    }
    cio_socket_close(l);
    return NULL;
}

static void test_connect_host_literals(void)
{
    run(main_host_literals, NULL);
    if (have_ipv6())
        run(main_host_literals, (void *)1);
}

/* Whether "localhost" resolves to an address of @family here. */
static bool localhost_has(int family)
{
    struct addrinfo hints = {.ai_family = family, .ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo("localhost", NULL, &hints, &res) != 0)
        return false;
    bool found = false;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        if (family == AF_INET6 && ai->ai_family == AF_INET6) {
            const struct sockaddr_in6 *sin6 = (const void *)ai->ai_addr;
            found |= IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
        } else if (family == AF_INET && ai->ai_family == AF_INET) {
            found = true;
        }
    }
    freeaddrinfo(res);
    return found;
}

/* bind_name("localhost:0") takes the first address localhost resolves to; connecting by
 * name (both API forms) reaches it, whatever families the name has. */
static void *main_localhost(void *arg)
{
    (void)arg;
    cio_addr addr;
    cio_tcp_listener *l = tcp_listen_name("localhost:0", &addr);
    int port = cio_addr_port(&addr);
    char text[64];
    snprintf(text, sizeof(text), "localhost:%d", port);
    cio_tcp_stream *c;
    CHECK_RC(cio_tcp_stream_connect(&c, text));
    accept_check(l, c, &addr);
    CHECK_RC(cio_tcp_stream_connect_host(&c, "localhost", (uint16_t)port));
    accept_check(l, c, &addr);
    /* Letter case does not matter to the resolver. */
    snprintf(text, sizeof(text), "LocalHost:%d", port);
    CHECK_RC(cio_tcp_stream_connect(&c, text));
    accept_check(l, c, NULL);
    cio_socket_close(l);
    return NULL;
}

static void test_connect_localhost(void)
{
    if (!localhost_has(AF_INET) && !localhost_has(AF_INET6))
        TEST_SKIP("\"localhost\" does not resolve to a loopback address here");
    run(main_localhost, NULL);
}

/* localhost with both families: a listener on each family on one port; the connect goes to
 * the family the resolver lists first (glibc: ::1 first by RFC 6724). */
static void *main_localhost_dual(void *arg)
{
    (void)arg;
    cio_tcp_listener *l6 = NULL, *l4 = NULL;
    cio_addr a6, a4;
    for (int tries = 0; tries < 50 && l4 == NULL; tries++) {
        l6 = tcp_listen_at("[::1]:0", &a6, CIO_LISTEN_BACKLOG_DEFAULT);
        a4 = a6;
        CHECK_RC(cio_addr_ipv4(&a4, CIO_IPV4_LOOPBACK, (uint16_t)cio_addr_port(&a6)));
        if (cio_tcp_listener_new(&l4, &a4, CIO_LISTEN_BACKLOG_DEFAULT) < 0) {
            l4 = NULL; /* that port is taken on IPv4: try another */
            cio_socket_close(l6);
        }
    }
    CHECK(l4 != NULL);
    char text[64];
    snprintf(text, sizeof(text), "localhost:%d", cio_addr_port(&a6));
    cio_tcp_stream *c;
    CHECK_RC(cio_tcp_stream_connect(&c, text));
    cio_addr peer;
    CHECK_RC(cio_socket_peer_addr(c, &peer));
    CHECK(cio_addr_equal(&peer, &a6) || cio_addr_equal(&peer, &a4));
    accept_check(cio_addr_equal(&peer, &a6) ? l6 : l4, c, NULL);
    /* With only one family listening, happy eyeballs finds the other at once. */
    cio_tcp_listener *gone = cio_addr_equal(&peer, &a6) ? l6 : l4;
    cio_tcp_listener *left = gone == l6 ? l4 : l6;
    cio_socket_close(gone);
    cio_time t0 = cio_now();
    CHECK_RC(cio_tcp_stream_connect(&c, text));
    CHECK(since(t0) < 1000 * MS);
    accept_check(left, c, NULL);
    cio_socket_close(left);
    return NULL;
}

static void test_connect_localhost_both_families(void)
{
    need_ipv6();
    if (!localhost_has(AF_INET6) || !localhost_has(AF_INET))
        TEST_SKIP("\"localhost\" does not resolve to both 127.0.0.1 and ::1 here (see "
                  "/etc/hosts); the two-family engine is tested with address lists");
    run(main_localhost_dual, NULL);
}

/* ---- happy eyeballs ---- */

/*
 * Only one family listens; the first address, of the other family, fails. Refused: the
 * refusal starts the next attempt at once, long before the attempt delay (2 s here) would.
 * Never answering: the second family's attempt starts after the default 250 ms delay and
 * wins; the hanging attempt is closed before the call returns.
 */
struct he_first_fails {
    bool v6_fails; /* the failing address is [::1] (else 127.0.0.1) */
    bool hangs;    /* it never answers (else it refuses) */
};

static void *main_he_first_fails(void *arg)
{
    const struct he_first_fails *hf = arg;
    struct first_fails f;
    first_fails_open(&f, hf->v6_fails, hf->hangs);
    cio_tcp_connect_options o = {.attempt_delay = 2000 * MS};
    int fds = cio_test_open_fds();
    cio_time t0 = cio_now();
    cio_tcp_stream *c;
    CHECK_RC(cio_tcp_stream_connect_addrs(&c, f.addrs, 2, hf->hangs ? NULL : &o));
    cio_duration took = since(t0);
    if (hf->hangs)
        CHECK(took >= 200 * MS);
    CHECK(took < (hf->hangs ? 2000 * MS : 1000 * MS));
    CHECK_EQ(cio_test_open_fds(), fds + 1); /* the winner only: the loser is closed */
    accept_check(f.l, c, &f.addrs[1]);
    first_fails_close(&f);
    return NULL;
}

/* test_he_<name>: the first address fails as @hangs says, in the family @v6_fails says. */
#define HE_FIRST_FAILS_CASE(name, v6_fails, hangs)                                                 \
    static void test_he_##name(void)                                                               \
    {                                                                                              \
        static const struct he_first_fails hf = {v6_fails, hangs};                                 \
        need_ipv6();                                                                               \
        run(main_he_first_fails, (void *)&hf);                                                     \
    }

HE_FIRST_FAILS_CASE(refused_v6_connects_v4, true, false)
HE_FIRST_FAILS_CASE(refused_v4_connects_v6, false, false)
HE_FIRST_FAILS_CASE(hanging_v6_connects_v4, true, true)
HE_FIRST_FAILS_CASE(hanging_v4_connects_v6, false, true)

/* A failure starts the next attempt at once even while another is still pending: [A hangs,
 * B refuses (other family), C listens (A's family)] with a 500 ms delay runs A at 0, B at
 * 500 ms, and C right after B's refusal (not at 1000 ms). */
static void *main_he_failure_advances(void *arg)
{
    (void)arg;
    struct hang h;
    hang_open(&h, "[::1]:0");
    struct refuser r;
    refuser_open(&r, "127.0.0.1:0");
    cio_addr ok;
    cio_tcp_listener *l = tcp_listen_at("[::1]:0", &ok, CIO_LISTEN_BACKLOG_DEFAULT);
    cio_addr addrs[3] = {h.addr, r.addr, ok};
    cio_tcp_connect_options o = {.attempt_delay = 500 * MS};
    cio_time t0 = cio_now();
    cio_tcp_stream *c;
    CHECK_RC(cio_tcp_stream_connect_addrs(&c, addrs, 3, &o));
    cio_duration took = since(t0);
    CHECK(took >= 450 * MS);
    CHECK(took < 900 * MS);
    accept_check(l, c, &ok);
    cio_socket_close(l);
    refuser_close(&r);
    hang_close(&h);
    return NULL;
}

static void test_he_failure_starts_next_at_once(void)
{
    need_ipv6();
    run(main_he_failure_advances, NULL);
}

/* Interleaving: [v6 hangs, v6 B, v4 A] is tried as v6-hang, v4 A, v6 B — A wins and B never
 * sees a connection; [v4 hangs, v4 A, v6 B] as v4-hang, v6 B, v4 A — B wins. */
static void *main_he_interleave(void *arg)
{
    bool v6_first = arg != NULL;
    const char *fam1 = v6_first ? "[::1]:0" : "127.0.0.1:0";
    const char *fam2 = v6_first ? "127.0.0.1:0" : "[::1]:0";
    struct hang h;
    hang_open(&h, fam1);
    cio_addr same, other;
    cio_tcp_listener *l_same = tcp_listen_at(fam1, &same, CIO_LISTEN_BACKLOG_DEFAULT);
    cio_tcp_listener *l_other = tcp_listen_at(fam2, &other, CIO_LISTEN_BACKLOG_DEFAULT);
    cio_addr addrs[3] = {h.addr, same, other};
    cio_tcp_connect_options o = {.attempt_delay = 100 * MS};
    cio_tcp_stream *c, *s;
    CHECK_RC(cio_tcp_stream_connect_addrs(&c, addrs, 3, &o));
    accept_check(l_other, c, &other);
    CHECK_ERR(cio_tcp_listener_try_accept(l_same, &s, NULL), -EAGAIN);

    /* Sequential mode keeps the given order: the same-family listener is reached (after
     * the hanging attempt's own timeout). */
    cio_tcp_connect_options seq = {.no_happy_eyeballs = true, .attempt_timeout = 150 * MS};
    cio_time t0 = cio_now();
    CHECK_RC(cio_tcp_stream_connect_addrs(&c, addrs, 3, &seq));
    CHECK(since(t0) >= 100 * MS);
    accept_check(l_same, c, &same);
    CHECK_ERR(cio_tcp_listener_try_accept(l_other, &s, NULL), -EAGAIN);

    cio_socket_close(l_same);
    cio_socket_close(l_other);
    hang_close(&h);
    return NULL;
}

static void test_he_interleaves_families(void)
{
    need_ipv6();
    run(main_he_interleave, (void *)1);
    run(main_he_interleave, NULL);
}

/* One family only: in order, each attempt after the previous failed (tokio's rule). */
static void *main_single_family(void *arg)
{
    (void)arg;
    struct refuser r1, r2;
    refuser_open(&r1, "127.0.0.1:0");
    refuser_open(&r2, "127.0.0.1:0");
    cio_addr ok;
    cio_tcp_listener *l = tcp_listen_at("127.0.0.1:0", &ok, CIO_LISTEN_BACKLOG_DEFAULT);
    cio_addr addrs[3] = {r1.addr, r2.addr, ok};
    cio_tcp_stream *c;
    CHECK_RC(cio_tcp_stream_connect_addrs(&c, addrs, 3, NULL));
    accept_check(l, c, &ok);

    /* A hanging first address holds a one-family list until its attempt timeout. */
    struct hang h;
    hang_open(&h, "127.0.0.1:0");
    cio_addr hang_first[2] = {h.addr, ok};
    cio_tcp_connect_options o = {.attempt_timeout = 300 * MS};
    cio_time t0 = cio_now();
    CHECK_RC(cio_tcp_stream_connect_addrs(&c, hang_first, 2, &o));
    cio_duration took = since(t0);
    CHECK(took >= 250 * MS);
    CHECK(took < 2000 * MS);
    accept_check(l, c, &ok);
    hang_close(&h);

    cio_socket_close(l);
    refuser_close(&r1);
    refuser_close(&r2);
    return NULL;
}

static void test_single_family_in_order(void)
{
    run(main_single_family, NULL);
}

/* Happy eyeballs off with both families: the second family is never tried while the first
 * address hangs, so a 600 ms deadline ends the call. */
static void *main_he_off(void *arg)
{
    (void)arg;
    struct first_fails f;
    first_fails_open(&f, true, true);
    cio_tcp_connect_options o = {.no_happy_eyeballs = true};
    int fds = cio_test_open_fds();
    cio_tcp_stream *c = NULL, *s;
    cio_time t0 = cio_now();
    CHECK_ERR(CIO_TIMEOUT(600 * MS, cio_tcp_stream_connect_addrs(&c, f.addrs, 2, &o)), -ETIMEDOUT);
    CHECK(since(t0) >= 550 * MS);
    CHECK(c == NULL);
    CHECK_EQ(cio_test_open_fds(), fds);
    CHECK_ERR(cio_tcp_listener_try_accept(f.l, &s, NULL), -EAGAIN);
    first_fails_close(&f);
    return NULL;
}

static void test_he_off_is_sequential(void)
{
    need_ipv6();
    run(main_he_off, NULL);
}

/* ---- errors ---- */

static void *main_all_fail(void *arg)
{
    (void)arg;
    bool v6 = have_ipv6();
    struct refuser r4 = {0}, r6 = {0};
    refuser_open(&r4, "127.0.0.1:0");
    if (v6)
        refuser_open(&r6, "[::1]:0");
    cio_addr addrs[2] = {r4.addr, v6 ? r6.addr : r4.addr};
    int fds = cio_test_open_fds();
    cio_tcp_stream *c = NULL;
    CHECK_ERR(cio_tcp_stream_connect_addrs(&c, addrs, v6 ? 2 : 1, NULL), -ECONNREFUSED);
    CHECK(c == NULL);
    CHECK_EQ(cio_test_open_fds(), fds);
    char text[CIO_ADDR_STRLEN];
    fmt_host_port(text, sizeof(text), &r4.addr);
    CHECK_ERR(cio_tcp_stream_connect(&c, text), -ECONNREFUSED);
    CHECK_EQ(cio_test_open_fds(), fds);

    if (v6) {
        /* Ranking: an attempt that timed out (v6 hangs, 350 ms attempt timeout) and one
         * that was refused (v4, started at 250 ms): the refusal is the more useful error,
         * whichever came last. */
        struct hang h;
        hang_open(&h, "[::1]:0");
        cio_tcp_connect_options o = {.attempt_timeout = 350 * MS};
        cio_addr hang_then_refused[2] = {h.addr, r4.addr};
        fds = cio_test_open_fds();
        cio_time t0 = cio_now();
        CHECK_ERR(cio_tcp_stream_connect_addrs(&c, hang_then_refused, 2, &o), -ECONNREFUSED);
        CHECK(since(t0) >= 300 * MS); /* it waited for the hanging attempt to time out */
        CHECK_EQ(cio_test_open_fds(), fds);
        cio_addr refused_then_hang[2] = {r4.addr, h.addr};
        CHECK_ERR(cio_tcp_stream_connect_addrs(&c, refused_then_hang, 2, &o), -ECONNREFUSED);
        CHECK_EQ(cio_test_open_fds(), fds);
        /* Alone, the attempt timeout is the error. */
        CHECK_ERR(cio_tcp_stream_connect_addrs(&c, &h.addr, 1, &o), -ETIMEDOUT);
        CHECK_EQ(cio_test_open_fds(), fds);
        hang_close(&h);
        refuser_close(&r6);
    }
    refuser_close(&r4);
    return NULL;
}

static void test_all_attempts_fail(void)
{
    run(main_all_fail, NULL);
}

/* The task's deadline ends everything: both attempts (both hanging) are closed. */
static void *main_deadline(void *arg)
{
    (void)arg;
    struct hangs hs;
    hangs_open(&hs);
    cio_addr addrs[2] = {hs.v6 ? hs.h6.addr : hs.h4.addr, hs.h4.addr};
    size_t n = hs.v6 ? 2 : 1;
    int fds = cio_test_open_fds();
    cio_tcp_stream *c = NULL;
    cio_time t0 = cio_now();
    {
        CIO_TIMEOUT_SCOPE(500 * MS);
        CHECK_ERR(cio_tcp_stream_connect_addrs(&c, addrs, n, NULL), -ETIMEDOUT);
        cio_duration took = since(t0);
        CHECK(took >= 450 * MS);
        CHECK(took < 2000 * MS);
        CHECK_EQ(cio_test_open_fds(), fds);
        /* A deadline already past: nothing starts. */
        CHECK_ERR(cio_tcp_stream_connect_addrs(&c, addrs, n, NULL), -ETIMEDOUT);
        CHECK_ERR(cio_tcp_stream_connect(&c, "localhost:1"), -ETIMEDOUT);
    }
    CHECK(c == NULL);
    CHECK_EQ(cio_test_open_fds(), fds);
    hangs_close(&hs);
    return NULL;
}

static void test_deadline_shorter_than_attempts(void)
{
    run(main_deadline, NULL);
}

/* Cancellation from another task while both attempts hang. */
struct connector {
    const cio_addr *addrs;
    size_t n;
    int rc;
    bool returned;
    cio_tcp_stream *stream;
};

static void *connector_task(void *arg)
{
    struct connector *k = arg;
    k->rc = cio_tcp_stream_connect_addrs(&k->stream, k->addrs, k->n, NULL);
    k->returned = true;
    return NULL;
}

static void *main_cancel(void *arg)
{
    (void)arg;
    struct hangs hs;
    hangs_open(&hs);
    bool v6 = hs.v6;
    cio_addr addrs[2] = {hs.h4.addr, v6 ? hs.h6.addr : hs.h4.addr};
    int fds = cio_test_open_fds();
    struct connector k = {addrs, v6 ? 2 : 1, 1, false, NULL};
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, connector_task, &k));
    CHECK_RC(cio_sleep(350 * MS)); /* both attempts started (the second at 250 ms) */
    CHECK(!k.returned);
    CHECK_EQ(cio_test_open_fds(), fds + (v6 ? 2 : 1));
    cio_time t0 = cio_now();
    CHECK_RC(cio_task_cancel(t));
    CHECK_RC(cio_task_join(t, NULL, NULL)); /* it finished, cancelled or not */
    CHECK(since(t0) < 500 * MS);
    CHECK(k.returned);
    CHECK_ERR(k.rc, -ECANCELED);
    CHECK(k.stream == NULL);
    CHECK_EQ(cio_test_open_fds(), fds);
    hangs_close(&hs);
    return NULL;
}

static void test_cancel_mid_connect(void)
{
    run(main_cancel, NULL);
}

/* A task cancelled before it connects gets -ECANCELED at once. */
static void *cancelled_connector(void *arg)
{
    int *rc = arg;
    cio_tcp_stream *c;
    *rc = cio_tcp_stream_connect(&c, "127.0.0.1:1");
    return NULL;
}

static void *main_cancel_first(void *arg)
{
    (void)arg;
    int rc = 1;
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, cancelled_connector, &rc));
    CHECK_RC(cio_task_cancel(t));
    CHECK_RC(cio_task_join(t, NULL, NULL)); /* it finished, cancelled or not */
    CHECK_ERR(rc, -ECANCELED);
    return NULL;
}

static void test_cancelled_before_connect(void)
{
    run(main_cancel_first, NULL);
}

static void *main_bad_input(void *arg)
{
    (void)arg;
    static const char *const bad[] = {
        "",
        "noport",
        "host:99999",
        "host:65536",
        "127.0.0.1:",
        ":80",
        "[::1]80",
        "[::1",
        "[::1]:",
        "::1:80",
        "[]:80",
        "host:-1",
        "host:8 0",
        "ho st:80",
        "127.0.0.1 x:80",
        "host:80x y",
        "host:123456789012345678901234567890",
        "host:\xc3\xa9",
    };
    cio_tcp_stream *c = NULL;
    cio_tcp_listener *l = NULL;
    int fds = cio_test_open_fds();
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = cio_tcp_stream_connect(&c, bad[i]);
        if (rc != -EINVAL)
            TEST_FAIL("connect(\"%s\") = %d (%s), expected -EINVAL", bad[i], rc, cio_strerror(rc));
        rc = cio_tcp_listener_new_name(&l, bad[i], CIO_LISTEN_BACKLOG_DEFAULT);
        if (rc != -EINVAL)
            TEST_FAIL("bind_name(\"%s\") = %d (%s), expected -EINVAL", bad[i], rc,
                      cio_strerror(rc));
    }
    /* Over-long names and services. */
    char big[2048];
    memset(big, 'a', sizeof(big));
    memcpy(big + sizeof(big) - 4, ":80", 4);
    CHECK_ERR(cio_tcp_stream_connect(&c, big), -EINVAL);
    CHECK_ERR(cio_tcp_stream_connect(&c, NULL), -EINVAL);
    CHECK_ERR(cio_tcp_stream_connect(NULL, "127.0.0.1:80"), -EINVAL);
    CHECK_ERR(cio_tcp_stream_connect_host(&c, NULL, 80), -EINVAL);
    CHECK_ERR(cio_tcp_stream_connect_host(&c, "", 80), -EINVAL);
    CHECK_ERR(cio_tcp_stream_connect_host(&c, "[]", 80), -EINVAL);
    CHECK_ERR(cio_tcp_stream_connect_host(&c, "a b", 80), -EINVAL);
    CHECK_ERR(cio_tcp_stream_connect_host(NULL, "localhost", 80), -EINVAL);
    cio_tcp_connect_options neg = {.attempt_delay = -1};
    CHECK_ERR(cio_tcp_stream_connect_ex(&c, "127.0.0.1:80", &neg), -EINVAL);
    neg = (cio_tcp_connect_options){.attempt_timeout = -1};
    CHECK_ERR(cio_tcp_stream_connect_ex(&c, "127.0.0.1:80", &neg), -EINVAL);
    cio_addr a, unix_addr;
    CHECK_RC(cio_addr_parse(&a, "127.0.0.1:1"));
    CHECK_ERR(cio_tcp_stream_connect_addrs(&c, &a, 0, NULL), -EINVAL);
    CHECK_ERR(cio_tcp_stream_connect_addrs(&c, NULL, 1, NULL), -EINVAL);
    CHECK_ERR(cio_tcp_stream_connect_addrs(NULL, &a, 1, NULL), -EINVAL);
    CHECK_ERR(cio_tcp_stream_connect_addrs(&c, &a, 1, &neg), -EINVAL);
    CHECK_RC(cio_addr_parse(&unix_addr, "/tmp/x.sock"));
    cio_addr mixed[2] = {a, unix_addr};
    CHECK_ERR(cio_tcp_stream_connect_addrs(&c, mixed, 2, NULL), -EAFNOSUPPORT);
    cio_addr empty = {0};
    CHECK_ERR(cio_tcp_stream_connect_addrs(&c, &empty, 1, NULL), -EAFNOSUPPORT);
    CHECK_ERR(cio_tcp_listener_new_name(NULL, "127.0.0.1:0", CIO_LISTEN_BACKLOG_DEFAULT), -EINVAL);
    CHECK_ERR(cio_tcp_listener_new_name(&l, NULL, CIO_LISTEN_BACKLOG_DEFAULT), -EINVAL);
    CHECK(c == NULL);
    CHECK(l == NULL);
    CHECK_EQ(cio_test_open_fds(), fds);
    return NULL;
}

static void test_bad_input(void)
{
    run(main_bad_input, NULL);
}

/* A name that resolves to nothing, without asking a name server (tests stay on loopback):
 * "nonexistent..invalid" has an empty label, which glibc refuses before any query (a name
 * under .invalid alone would go out to the configured server). The lookup is bounded by a
 * deadline; if the resolver hangs past it, the case cannot run here. */
static void *main_unresolvable(void *arg)
{
    (void)arg;
    cio_tcp_stream *c = NULL;
    cio_tcp_listener *l = NULL;
    int rc, rc2 = 0, rc3 = 0;
    {
        CIO_TIMEOUT_SCOPE(10 * CIO_NSEC_PER_SEC);
        rc = cio_tcp_stream_connect(&c, "nonexistent..invalid:80");
        if (rc != -ETIMEDOUT) {
            rc2 = cio_tcp_stream_connect_host(&c, "nonexistent..invalid", 80);
            rc3 =
                cio_tcp_listener_new_name(&l, "nonexistent..invalid:0", CIO_LISTEN_BACKLOG_DEFAULT);
        }
    }
    if (rc == -ETIMEDOUT)
        TEST_SKIP("the resolver did not answer within 10 s (no DNS here)");
    if (!CIO_ERR_IS_EAI(rc) || !CIO_ERR_IS_EAI(rc2) || !CIO_ERR_IS_EAI(rc3))
        TEST_FAIL("expected resolver errors, got %d (%s), %d (%s), %d (%s)", rc, cio_strerror(rc),
                  rc2, cio_strerror(rc2), rc3, cio_strerror(rc3));
    CHECK(c == NULL);
    CHECK(l == NULL);
    /* An unknown service name is a resolver error too, also with a numeric host. */
    rc = cio_tcp_stream_connect(&c, "localhost:no-such-service-cio");
    CHECK(CIO_ERR_IS_EAI(rc));
    rc = cio_tcp_stream_connect(&c, "127.0.0.1:no-such-service-cio");
    CHECK(CIO_ERR_IS_EAI(rc));
    rc = cio_tcp_stream_connect(&c, "[::1]:no-such-service-cio");
    CHECK(CIO_ERR_IS_EAI(rc));
    /* A bracketed host is a literal: never looked up as a name. */
    rc = cio_tcp_stream_connect(&c, "[localhost]:80");
    CHECK_ERR(rc, -EINVAL);
    return NULL;
}

static void test_unresolvable_name(void)
{
    run(main_unresolvable, NULL);
}

/* Outside a task: connecting cannot suspend (-EPERM); binding a name blocks the thread. */
static void test_outside_task(void)
{
    cio_tcp_stream *c = NULL;
    CHECK_ERR(cio_tcp_stream_connect(&c, "127.0.0.1:1"), -EPERM);
    CHECK_ERR(cio_tcp_stream_connect(&c, "localhost:1"), -EPERM);
    cio_addr a;
    CHECK_RC(cio_addr_parse(&a, "127.0.0.1:1"));
    CHECK_ERR(cio_tcp_stream_connect_addrs(&c, &a, 1, NULL), -EPERM);
    CHECK(c == NULL);
    cio_tcp_listener *l;
    CHECK_RC(cio_tcp_listener_new_name(&l, "127.0.0.1:0", CIO_LISTEN_BACKLOG_DEFAULT));
    cio_socket_close(l);
    l = tcp_listen_name("localhost:0", &a);
    cio_socket_close(l);
}

/* ---- binding ---- */

static void *main_bind_name(void *arg)
{
    (void)arg;
    const char *texts[] = {"127.0.0.1:0", "localhost:0", "[::1]:0"};
    size_t n = have_ipv6() ? 3 : 2;
    for (size_t i = 0; i < n; i++) {
        cio_addr addr;
        cio_tcp_listener *l = tcp_listen_name(texts[i], &addr);
        cio_addr_kind kind = cio_addr_get_kind(&addr);
        CHECK(kind == CIO_ADDR_IPV4 || kind == CIO_ADDR_IPV6);
        if (i == 0)
            CHECK_EQ(kind, CIO_ADDR_IPV4);
        if (i == 2)
            CHECK_EQ(kind, CIO_ADDR_IPV6);
        /* Reachable through its own text form. */
        char text[CIO_ADDR_STRLEN];
        fmt_host_port(text, sizeof(text), &addr);
        cio_tcp_stream *c;
        CHECK_RC(cio_tcp_stream_connect(&c, text));
        accept_check(l, c, NULL);
        /* The port is taken now: a second bind fails with the bind's error. */
        cio_tcp_listener *l2 = NULL;
        CHECK_ERR(cio_tcp_listener_new_name(&l2, text, CIO_LISTEN_BACKLOG_DEFAULT), -EADDRINUSE);
        CHECK(l2 == NULL);
        cio_socket_close(l);
    }
    return NULL;
}

static void test_bind_name(void)
{
    run(main_bind_name, NULL);
}

static void test_reuseport_listeners(void)
{
    cio_addr any, a0, a;
    CHECK_RC(cio_addr_parse(&any, "127.0.0.1:0"));
    cio_tcp_listener *ls[3];
    CHECK_RC(cio_tcp_listener_new_reuseport_n(ls, 3, &any, CIO_LISTEN_BACKLOG_DEFAULT));
    CHECK_RC(cio_socket_local_addr(ls[0], &a0));
    CHECK(cio_addr_port(&a0) > 0);
    for (int i = 0; i < 3; i++) {
        CHECK_FD_FLAGS(cio_socket_fd(ls[i]));
        CHECK_RC(cio_socket_local_addr(ls[i], &a));
        CHECK(cio_addr_equal(&a, &a0));
    }
    /* One more with SO_REUSEPORT joins the group; one without is refused. */
    cio_tcp_listener *extra, *plain = NULL;
    CHECK_RC(cio_tcp_listener_new_reuseport(&extra, &a0, CIO_LISTEN_BACKLOG_DEFAULT));
    CHECK_ERR(cio_tcp_listener_new(&plain, &a0, CIO_LISTEN_BACKLOG_DEFAULT), -EADDRINUSE);
    CHECK(plain == NULL);
    cio_socket_close(extra);
    for (int i = 0; i < 3; i++)
        cio_socket_close(ls[i]);

    /* IPv6 too, when there is IPv6 loopback. */
    if (have_ipv6()) {
        CHECK_RC(cio_addr_parse(&any, "[::1]:0"));
        CHECK_RC(cio_tcp_listener_new_reuseport_n(ls, 2, &any, CIO_LISTEN_BACKLOG_DEFAULT));
        CHECK_RC(cio_socket_local_addr(ls[0], &a0));
        CHECK_RC(cio_socket_local_addr(ls[1], &a));
        CHECK(cio_addr_equal(&a, &a0));
        cio_socket_close(ls[0]);
        cio_socket_close(ls[1]);
    }

    /* Errors: nothing made, nothing left open. */
    cio_tcp_listener *none[2] = {NULL, NULL};
    cio_addr unix_addr;
    CHECK_RC(cio_addr_parse(&unix_addr, "/tmp/x.sock"));
    CHECK_ERR(cio_tcp_listener_new_reuseport(&extra, &unix_addr, CIO_LISTEN_BACKLOG_DEFAULT),
              -EAFNOSUPPORT);
    CHECK_ERR(cio_tcp_listener_new_reuseport(&extra, NULL, CIO_LISTEN_BACKLOG_DEFAULT), -EINVAL);
    CHECK_ERR(cio_tcp_listener_new_reuseport(NULL, &a0, CIO_LISTEN_BACKLOG_DEFAULT), -EINVAL);
    CHECK_ERR(cio_tcp_listener_new_reuseport_n(none, 0, &a0, CIO_LISTEN_BACKLOG_DEFAULT), -EINVAL);
    CHECK_ERR(cio_tcp_listener_new_reuseport_n(none, 2, &unix_addr, CIO_LISTEN_BACKLOG_DEFAULT),
              -EAFNOSUPPORT);
    /* A port held without SO_REUSEPORT: the group cannot form. */
    cio_addr held;
    cio_tcp_listener *holder = tcp_listen_at("127.0.0.1:0", &held, CIO_LISTEN_BACKLOG_DEFAULT);
    CHECK_ERR(cio_tcp_listener_new_reuseport_n(none, 2, &held, CIO_LISTEN_BACKLOG_DEFAULT),
              -EADDRINUSE);
    CHECK(none[0] == NULL && none[1] == NULL);
    cio_socket_close(holder);
}

CIO_TEST_MAIN(TEST(test_connect_numeric_v4), TEST(test_connect_numeric_v6),
              TEST(test_connect_host_literals), TEST(test_connect_localhost),
              TEST(test_connect_localhost_both_families), TEST(test_he_refused_v6_connects_v4),
              TEST(test_he_refused_v4_connects_v6), TEST(test_he_hanging_v6_connects_v4),
              TEST(test_he_hanging_v4_connects_v6), TEST(test_he_failure_starts_next_at_once),
              TEST(test_he_interleaves_families), TEST(test_single_family_in_order),
              TEST(test_he_off_is_sequential), TEST(test_all_attempts_fail),
              TEST(test_deadline_shorter_than_attempts), TEST(test_cancel_mid_connect),
              TEST(test_cancelled_before_connect), TEST(test_bad_input),
              TEST(test_unresolvable_name), TEST(test_outside_task), TEST(test_bind_name),
              TEST(test_reuseport_listeners))
