/*
 * stream_kinds.c: the kind tables of stream_kinds.h — TCP and Unix streams, UDP and Unix
 * datagram sockets — and the helpers the stream tests share. A table holds only setting up
 * and accepting, written per kind; everything else the tests do goes through the cores.
 */
#include "stream_kinds.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/* A kind's listener back from the cio_socket the table hands out (the conversion is a cast). */
#define TCP_LISTENER(l) ((cio_tcp_listener *)(void *)(l))
#define UNIX_LISTENER(l) ((cio_unix_listener *)(void *)(l))

/* ==== byte streams ==== */

/* ---- TCP ---- */

static cio_socket *tcp_listen(cio_addr *ret_addr, int backlog)
{
    return cio_as_socket(listen_local(ret_addr, backlog));
}

static int tcp_connect(cio_stream **ret, const cio_addr *addr)
{
    cio_tcp_stream *s;
    int rc = cio_tcp_stream_connect_addr(&s, addr);
    if (rc == 0)
        *ret = cio_as_stream(s);
    return rc;
}

static int tcp_accept(cio_socket *l, cio_stream **ret, cio_addr *peer)
{
    cio_tcp_stream *s;
    int rc = cio_tcp_listener_accept(TCP_LISTENER(l), &s, peer);
    if (rc == 0)
        *ret = cio_as_stream(s);
    return rc;
}

static int tcp_poll_accept(cio_socket *l, cio_stream **ret, cio_addr *peer, cio_wake_fn wake,
                           void *ctx)
{
    cio_tcp_stream *s;
    int rc = cio_tcp_listener_poll_accept(TCP_LISTENER(l), ret ? &s : NULL, peer, wake, ctx);
    if (rc == 0)
        *ret = cio_as_stream(s);
    return rc;
}

const struct stream_kind stream_kind_tcp = {
    .name = "tcp",
    .peer_kind = CIO_ADDR_IPV4,
    .listen = tcp_listen,
    .connect = tcp_connect,
    .pair = NULL,
    .accept = tcp_accept,
    .poll_accept = tcp_poll_accept,
};

/* ---- Unix streams ---- */

/* A fresh path in the case's private temp directory (a counter tells them apart). */
static void unix_tmp_path(cio_addr *ret_addr, const char *what)
{
    static atomic_int counter;
    char path[256];
    int n = snprintf(path, sizeof(path), "%s/%s-%d.sock", cio_test_tmpdir(), what,
                     atomic_fetch_add(&counter, 1));
    CHECK(n > 0 && (size_t)n < sizeof(path));
    CHECK_RC(cio_addr_unix(ret_addr, path, (size_t)n));
}

static cio_socket *unix_listen(cio_addr *ret_addr, int backlog)
{
    unix_tmp_path(ret_addr, "listener");
    cio_unix_listener *l;
    CHECK_RC(cio_unix_listener_new(&l, ret_addr, backlog));
    CHECK_FD_FLAGS(cio_socket_fd(l));
    return cio_as_socket(l);
}

static int unix_connect(cio_stream **ret, const cio_addr *addr)
{
    cio_unix_stream *s;
    int rc = cio_unix_stream_connect(&s, addr);
    if (rc == 0)
        *ret = cio_as_stream(s);
    return rc;
}

static int unix_pair(cio_stream **ret_a, cio_stream **ret_b)
{
    cio_unix_stream *a, *b;
    int rc = cio_unix_stream_pair(&a, &b);
    if (rc == 0) {
        *ret_a = cio_as_stream(a);
        *ret_b = cio_as_stream(b);
    }
    return rc;
}

static int unix_accept(cio_socket *l, cio_stream **ret, cio_addr *peer)
{
    cio_unix_stream *s;
    int rc = cio_unix_listener_accept(UNIX_LISTENER(l), &s, peer);
    if (rc == 0)
        *ret = cio_as_stream(s);
    return rc;
}

static int unix_poll_accept(cio_socket *l, cio_stream **ret, cio_addr *peer, cio_wake_fn wake,
                            void *ctx)
{
    cio_unix_stream *s;
    int rc = cio_unix_listener_poll_accept(UNIX_LISTENER(l), ret ? &s : NULL, peer, wake, ctx);
    if (rc == 0)
        *ret = cio_as_stream(s);
    return rc;
}

const struct stream_kind stream_kind_unix = {
    .name = "unix",
    .peer_kind = CIO_ADDR_UNNAMED,
    .listen = unix_listen,
    .connect = unix_connect,
    .pair = unix_pair,
    .accept = unix_accept,
    .poll_accept = unix_poll_accept,
};

/* ---- shared helpers ---- */

void stream_listener_pair(const struct stream_kind *k, cio_stream **ret_client,
                          cio_stream **ret_server)
{
    cio_addr addr, peer, local;
    cio_socket *l = k->listen(&addr, 0);
    /* Loopback completes the handshake in the kernel: connect first, accept after. */
    CHECK_RC(k->connect(ret_client, &addr));
    CHECK_RC(k->accept(l, ret_server, &peer));
    CHECK_FD_FLAGS(cio_socket_fd(*ret_client));
    CHECK_FD_FLAGS(cio_socket_fd(*ret_server));
    CHECK_RC(cio_socket_local_addr(*ret_client, &local));
    CHECK(cio_addr_equal(&local, &peer));
    cio_socket_close(l);
}

void stream_pair(const struct stream_kind *k, cio_stream **ret_a, cio_stream **ret_b)
{
    if (k->pair != NULL)
        CHECK_RC(k->pair(ret_a, ret_b));
    else
        stream_listener_pair(k, ret_a, ret_b);
}

void *stream_echo_server(void *arg)
{
    cio_stream *s = arg;
    unsigned char buf[4096];
    for (;;) {
        ssize_t n = CHECK_RC(cio_stream_read(s, buf, sizeof(buf)));
        if (n == 0)
            break;
        size_t done = 0;
        CHECK_RC(cio_stream_write_all(s, buf, (size_t)n, &done));
        CHECK_EQ(done, n);
    }
    CHECK_RC(cio_socket_shutdown(s, CIO_SHUTDOWN_WRITE));
    return NULL;
}

void stream_echo_exchange(cio_stream *s)
{
    static const size_t sizes[] = {1, 100, 4096, 70000, 1 << 20};
    unsigned char *out = xmalloc(1 << 20), *in = xmalloc(1 << 20);
    uint64_t pos = 0;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t len = sizes[i], done = 99;
        pattern_fill(out, len, pos, 7);
        /* In slices, reading each echo back before the next: a message larger than the
         * socket buffers would otherwise stall both sides. */
        size_t sent = 0, got = 0;
        while (got < len) {
            if (sent < len) {
                size_t slice = len - sent < 65536 ? len - sent : 65536;
                CHECK_RC(cio_stream_write_all(s, out + sent, slice, &done));
                CHECK_EQ(done, slice);
                sent += slice;
            }
            size_t want = sent - got;
            CHECK_RC(cio_stream_read_exact(s, in + got, want, &done));
            CHECK_EQ(done, want);
            got += want;
        }
        CHECK_EQ(pattern_check(in, len, pos, 7), len);
        pos += len;
    }
    free(out);
    free(in);
}

void *stream_accept_and_echo(void *arg)
{
    struct stream_acceptor *a = arg;
    for (int i = 0; i < a->count; i++) {
        cio_stream *s;
        cio_addr peer;
        CHECK_RC(a->k->accept(a->l, &s, &peer));
        CHECK_FD_FLAGS(cio_socket_fd(s));
        CHECK_EQ(cio_addr_get_kind(&peer), a->k->peer_kind);
        stream_echo_server(s);
        cio_socket_close(s);
    }
    return NULL;
}

void *stream_pattern_sink(void *arg)
{
    struct stream_sink *k = arg;
    unsigned char *buf = xmalloc(65536);
    size_t got = 0;
    while (got < k->len) {
        ssize_t n = CHECK_RC(cio_stream_read(k->s, buf, 65536));
        CHECK(n > 0);
        CHECK_EQ(pattern_check(buf, (size_t)n, got, k->seed), n);
        got += (size_t)n;
    }
    free(buf);
    return NULL;
}

void count_wake(void *ctx)
{
    atomic_fetch_add((atomic_int *)ctx, 1);
}

/* ==== datagrams ==== */

static cio_dgram *udp_bind_local(bool second, cio_addr *ret_addr)
{
    cio_addr addr;
    CHECK_RC(cio_addr_parse(&addr, second ? "[::1]:0" : "127.0.0.1:0"));
    cio_udp_socket *u;
    int rc = cio_udp_socket_new(&u, &addr);
    if (rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT)
        return NULL; /* no such loopback here (IPv6 off) */
    CHECK_RC(rc);
    CHECK_FD_FLAGS(cio_socket_fd(u));
    CHECK_RC(cio_socket_local_addr(u, ret_addr));
    CHECK(cio_addr_port(ret_addr) > 0);
    return cio_as_dgram(u);
}

static cio_dgram *unix_dgram_bind_local(bool second, cio_addr *ret_addr)
{
    static atomic_int counter;
    if (second) {
        char name[64];
        int n = snprintf(name, sizeof(name), "cio-test-dgram-%d-%d", (int)getpid(),
                         atomic_fetch_add(&counter, 1));
        CHECK_RC(cio_addr_abstract(ret_addr, name, (size_t)n));
    } else {
        unix_tmp_path(ret_addr, "dgram");
    }
    cio_unix_datagram *d;
    CHECK_RC(cio_unix_datagram_new(&d, ret_addr));
    CHECK_FD_FLAGS(cio_socket_fd(d));
    return cio_as_dgram(d);
}

const struct dgram_kind dgram_kind_udp = {
    .name = "udp",
    .max_echo = CIO_UDP_PAYLOAD_MAX - 40,
    .bind_local = udp_bind_local,
};

const struct dgram_kind dgram_kind_unix = {
    .name = "unix",
    .max_echo = 8192,
    .bind_local = unix_dgram_bind_local,
};

/* ==== several waiters ==== */

int wait_first_finished(cio_task *const *tasks, int n, int max_ms)
{
    for (int ms = 0; ms <= max_ms; ms++) {
        for (int i = 0; i < n; i++)
            if (cio_task_is_finished(tasks[i]))
                return i;
        CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
    }
    return -1;
}

/* ==== races ==== */

unsigned next_rand(unsigned *state)
{
    *state = *state * 1103515245u + 12345u;
    return (*state >> 16) & 0x7fff;
}

cio_time short_deadline(unsigned *rng)
{
    return cio_deadline_set(cio_now() + (cio_duration)(next_rand(rng) % 3) * CIO_NSEC_PER_MSEC);
}

void pause_a_little(unsigned *rng)
{
    if (next_rand(rng) % 4 == 0)
        CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
    else
        CHECK_RC(cio_yield());
}
