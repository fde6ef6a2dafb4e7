/*
 * stream_kinds.c: the kind tables of stream_kinds.h — TCP and Unix streams, UDP and Unix
 * datagram sockets, the two Unix kinds that carry descriptors — and the helpers the tests
 * share. A table holds only setting up and accepting, written per kind; everything else the
 * tests do goes through the cores.
 */
#include "stream_kinds.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

/* A counter tells the paths apart. */
void unix_tmp_path(cio_addr *ret_addr, const char *what)
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
    cio_socket *l = k->listen(&addr, CIO_LISTEN_BACKLOG_DEFAULT);
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

void stream_echo_to_end(cio_stream *s)
{
    stream_echo_exchange(s);
    CHECK_RC(cio_socket_shutdown(s, CIO_SHUTDOWN_WRITE));
    char b;
    CHECK_EQ(cio_stream_read(s, &b, 1), 0);
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
    if (second)
        unix_abstract_name(ret_addr);
    else
        unix_tmp_path(ret_addr, "dgram");
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

/* ==== tasks waiting on one socket, of any kind ==== */

ssize_t waiter_stream_read(struct waiter *w)
{
    return cio_stream_read((cio_stream *)(void *)w->sock, w->buf, sizeof(w->buf));
}

ssize_t waiter_dgram_recv(struct waiter *w)
{
    return cio_dgram_recv((cio_dgram *)(void *)w->sock, w->buf, sizeof(w->buf));
}

void *waiter_task(void *arg)
{
    struct waiter *w = arg;
    atomic_store(&w->started, 1);
    w->rc = w->call(w);
    return NULL;
}

void *waiter_readable_task(void *arg)
{
    struct waiter *w = arg;
    atomic_store(&w->started, 1);
    w->rc = cio_socket_readable(w->sock);
    return NULL;
}

int wait_first_finished(cio_join_handle *const *tasks, int n, int max_ms)
{
    for (int ms = 0; ms <= max_ms; ms++) {
        for (int i = 0; i < n; i++)
            if (cio_task_is_finished(tasks[i]))
                return i;
        CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
    }
    return -1;
}

void check_waiting(cio_join_handle *const *tasks, int n)
{
    CHECK_RC(cio_sleep(5 * CIO_NSEC_PER_MSEC));
    for (int i = 0; i < n; i++)
        CHECK(!cio_task_is_finished(tasks[i]));
}

ssize_t send_stream(void *ctx, const void *buf, size_t len)
{
    return cio_stream_write((cio_stream *)ctx, buf, len);
}

ssize_t send_dgram(void *ctx, const void *buf, size_t len)
{
    return cio_dgram_send((cio_dgram *)ctx, buf, len);
}

ssize_t send_dgram_to(void *ctx, const void *buf, size_t len)
{
    const struct dgram_dest *d = ctx;
    return cio_dgram_send_to(d->from, buf, len, d->to);
}

int check_take_turns(cio_join_handle *const tasks[2], struct waiter *const w[2], send_fn send,
                     void *ctx)
{
    /* One message: one waiter takes it, the other waits on. */
    CHECK_EQ(send(ctx, "ONE", 3), 3);
    int first = wait_first_finished(tasks, 2, 1000);
    CHECK(first >= 0);
    CHECK_RC(cio_sleep(5 * CIO_NSEC_PER_MSEC));
    CHECK(!cio_task_is_finished(tasks[1 - first]));
    /* The next message goes to the other. */
    CHECK_EQ(send(ctx, "TWO", 3), 3);
    CHECK(wait_first_finished(&tasks[1 - first], 1, 1000) == 0);
    CHECK_RC(cio_task_join(tasks[0], NULL, NULL));
    CHECK_RC(cio_task_join(tasks[1], NULL, NULL));
    CHECK_EQ(w[first]->rc, 3);
    CHECK(memcmp(w[first]->buf, "ONE", 3) == 0);
    CHECK_EQ(w[1 - first]->rc, 3);
    CHECK(memcmp(w[1 - first]->buf, "TWO", 3) == 0);
    return first;
}

void check_readable_beside_reader(cio_socket *sock, ssize_t (*call)(struct waiter *w), send_fn send,
                                  void *ctx)
{
    struct waiter r = {.sock = sock, .call = call}, rd = {.sock = sock};
    cio_join_handle *t[2];
    CHECK_RC(cio_spawn(&t[0], waiter_task, &r));
    CHECK_RC(cio_spawn(&t[1], waiter_readable_task, &rd));
    check_waiting(t, 2);
    CHECK_EQ(send(ctx, "ping", 4), 4);
    CHECK(wait_first_finished(&t[0], 1, 1000) == 0);
    CHECK(wait_first_finished(&t[1], 1, 1000) == 0); /* woken by the same edge */
    CHECK_RC(cio_task_join(t[0], NULL, NULL));
    CHECK_RC(cio_task_join(t[1], NULL, NULL));
    CHECK_EQ(r.rc, 4);
    CHECK(memcmp(r.buf, "ping", 4) == 0);
    CHECK(CHECK_RC(rd.rc) & CIO_READY_READABLE);
}

void check_close_wakes(cio_socket *sock, cio_join_handle *const *tasks, struct waiter *const *w,
                       int n)
{
    for (int i = 0; i < n; i++) {
        CHECK_EQ(atomic_load(&w[i]->started), 1);
        CHECK(!cio_task_is_finished(tasks[i]));
    }
    cio_time start = cio_now();
    cio_socket_close(sock);
    for (int i = 0; i < n; i++) {
        CHECK_RC(cio_task_join(tasks[i], NULL, NULL));
        CHECK_EQ(w[i]->rc, -EBADF);
    }
    CHECK(cio_now() - start < 500 * CIO_NSEC_PER_MSEC);
}

ssize_t raw_recv(void *ctx)
{
    char b[64];
    ssize_t n = recv(cio_socket_fd((cio_socket *)ctx), b, sizeof(b), MSG_DONTWAIT);
    return n < 0 ? -errno : n;
}

/* ==== Unix sockets carrying descriptors ==== */

static int unix_stream_pair(cio_socket **ret_a, cio_socket **ret_b)
{
    cio_unix_stream *a, *b;
    int rc = cio_unix_stream_pair(&a, &b);
    if (rc == 0) {
        *ret_a = cio_as_socket(a);
        *ret_b = cio_as_socket(b);
    }
    return rc;
}

static int unix_dgram_pair(cio_socket **ret_a, cio_socket **ret_b)
{
    cio_unix_datagram *a, *b;
    int rc = cio_unix_datagram_pair(&a, &b);
    if (rc == 0) {
        *ret_a = cio_as_socket(a);
        *ret_b = cio_as_socket(b);
    }
    return rc;
}

const struct unix_kind unix_kind_stream = {
    .name = "unix stream",
    .pair = unix_stream_pair,
    .read = waiter_stream_read,
    .send = send_stream,
};

const struct unix_kind unix_kind_dgram = {
    .name = "unix datagram",
    .pair = unix_dgram_pair,
    .read = waiter_dgram_recv,
    .send = send_dgram,
};

void unix_abstract_name(cio_addr *ret_addr)
{
    static atomic_int counter;
    char name[64];
    int n = snprintf(name, sizeof(name), "cio-test-%d-%d", (int)getpid(),
                     atomic_fetch_add(&counter, 1));
    CHECK_RC(cio_addr_abstract(ret_addr, name, (size_t)n));
}

bool same_file(int a, int b)
{
    struct stat sa, sb;
    CHECK_SYS(fstat(a, &sa));
    CHECK_SYS(fstat(b, &sb));
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

void write_across_fds(cio_unix_stream *s, const int fds[2])
{
    CHECK_EQ(cio_stream_write(s, "AAA", 3), 3);
    CHECK_EQ(cio_unix_send_fds(s, "BBB", 3, fds, 2, NULL), 3);
    CHECK_EQ(cio_stream_write(s, "CCC", 3), 3);
    CHECK_EQ(cio_unix_send_fds(s, "DDD", 3, fds, 1, NULL), 3);
    CHECK_EQ(cio_stream_write(s, "E", 1), 1);
}

/* ==== several workers ==== */

cio_join_handle *spawn_on(unsigned worker, cio_task_fn fn, void *arg)
{
    cio_spawn_options o = {.worker = CIO_WORKER(worker)};
    cio_join_handle *t;
    CHECK_RC(cio_spawn_ex(&t, &o, fn, arg));
    return t;
}

/* ==== TCP connect fixtures ==== */

bool have_ipv6(void)
{
    cio_addr a;
    cio_tcp_listener *l;
    CHECK_RC(cio_addr_parse(&a, "[::1]:0"));
    if (cio_tcp_listener_new(&l, &a, 1) < 0)
        return false;
    cio_socket_close(l);
    return true;
}

void need_ipv6(void)
{
    if (!have_ipv6())
        TEST_SKIP("no IPv6 loopback ([::1] cannot be bound)");
}

/* Descriptor flags checked, the address in *ret_addr. */
static cio_tcp_listener *tcp_listening(cio_tcp_listener *l, cio_addr *ret_addr)
{
    CHECK_FD_FLAGS(cio_socket_fd(l));
    CHECK_RC(cio_socket_local_addr(l, ret_addr));
    CHECK(cio_addr_port(ret_addr) > 0);
    return l;
}

cio_tcp_listener *tcp_listen_at(const char *text, cio_addr *ret_addr, int backlog)
{
    cio_addr a;
    cio_tcp_listener *l;
    CHECK_RC(cio_addr_parse(&a, text));
    CHECK_RC(cio_tcp_listener_new(&l, &a, backlog));
    return tcp_listening(l, ret_addr);
}

cio_tcp_listener *tcp_listen_name(const char *text, cio_addr *ret_addr)
{
    cio_tcp_listener *l;
    CHECK_RC(cio_tcp_listener_new_name(&l, text, CIO_LISTEN_BACKLOG_DEFAULT));
    return tcp_listening(l, ret_addr);
}

void refuser_open(struct refuser *r, const char *text)
{
    cio_addr a;
    CHECK_RC(cio_addr_parse(&a, text));
    if (cio_addr_get_kind(&a) == CIO_ADDR_IPV6)
        CHECK_RC(cio_tcp_socket_new_v6(&r->sock));
    else
        CHECK_RC(cio_tcp_socket_new_v4(&r->sock));
    CHECK_RC(cio_socket_bind(r->sock, &a));
    CHECK_RC(cio_socket_local_addr(r->sock, &r->addr));
}

void refuser_close(struct refuser *r)
{
    cio_socket_close(r->sock);
}

void hang_open(struct hang *h, const char *text)
{
    h->nfill = 0;
    h->l = tcp_listen_at(text, &h->addr, 1);
    for (int i = 0; i < 8; i++) {
        cio_tcp_stream *c;
        int rc = CIO_TIMEOUT(200 * CIO_NSEC_PER_MSEC, cio_tcp_stream_connect_addr(&c, &h->addr));
        if (rc == -ETIMEDOUT)
            return; /* the queue is full: connects hang from now on */
        CHECK_RC(rc);
        h->fill[h->nfill++] = c;
    }
    TEST_SKIP("connects to a loopback listener with a full accept queue do not hang here");
}

void hang_close(struct hang *h)
{
    for (int i = 0; i < h->nfill; i++)
        cio_socket_close(h->fill[i]);
    cio_socket_close(h->l);
}

void first_fails_open(struct first_fails *f, bool v6_fails, bool hangs)
{
    const char *bad = v6_fails ? "[::1]:0" : "127.0.0.1:0";
    f->hangs = hangs;
    if (hangs) {
        hang_open(&f->h, bad);
        f->addrs[0] = f->h.addr;
    } else {
        refuser_open(&f->r, bad);
        f->addrs[0] = f->r.addr;
    }
    f->l = tcp_listen_at(v6_fails ? "127.0.0.1:0" : "[::1]:0", &f->addrs[1],
                         CIO_LISTEN_BACKLOG_DEFAULT);
}

void first_fails_close(struct first_fails *f)
{
    cio_socket_close(f->l);
    if (f->hangs)
        hang_close(&f->h);
    else
        refuser_close(&f->r);
}

/* ==== races ==== */

unsigned next_rand(unsigned *state)
{
    *state = *state * 1103515245u + 12345u;
    return (*state >> 16) & 0x7fff;
}

cio_duration short_timeout(unsigned *rng)
{
    return (cio_duration)(next_rand(rng) % 3) * CIO_NSEC_PER_MSEC;
}

void pause_a_little(unsigned *rng)
{
    if (next_rand(rng) % 4 == 0)
        CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
    else
        CHECK_RC(cio_yield());
}
