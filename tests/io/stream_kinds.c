/*
 * stream_kinds.c: the tables of stream_kinds.h — TCP and Unix streams, UDP and Unix datagram
 * sockets — and the helpers the stream tests share. The two kinds of each family name their
 * functions alike (cio_tcp_stream_read, cio_unix_stream_read...), so one macro writes each
 * family's thin wrappers for both kinds; only setting up (addresses, connect) is written per
 * kind.
 */
#include "stream_kinds.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/* ==== byte streams ==== */

#define STREAM(P, s) ((cio_##P##_stream *)(s))
#define LISTENER(P, l) ((cio_##P##_listener *)(l))
#define OWNED_RD(P, h) ((cio_##P##_owned_read_half *)(h))
#define OWNED_WR(P, h) ((cio_##P##_owned_write_half *)(h))
/* A borrowed half's own type inside the union; NULL stays NULL (argument checks). */
#define HALF(P, h) ((h) != NULL ? &(h)->P##_half : NULL)

/* The stream and listener calls of kind P (tcp or unix). */
#define STREAM_WRAPPERS(P)                                                                         \
    static int P##_accept(kind_listener *l, kind_stream **ret, cio_addr *peer)                     \
    {                                                                                              \
        cio_##P##_stream *s;                                                                       \
        int rc = cio_##P##_listener_accept(LISTENER(P, l), &s, peer);                              \
        if (rc == 0)                                                                               \
            *ret = (kind_stream *)s;                                                               \
        return rc;                                                                                 \
    }                                                                                              \
    static int P##_poll_accept(kind_listener *l, kind_stream **ret, cio_addr *peer,                \
                               cio_wake_fn wake, void *ctx)                                        \
    {                                                                                              \
        cio_##P##_stream *s;                                                                       \
        int rc = cio_##P##_listener_poll_accept(LISTENER(P, l), ret ? &s : NULL, peer, wake, ctx); \
        if (rc == 0)                                                                               \
            *ret = (kind_stream *)s;                                                               \
        return rc;                                                                                 \
    }                                                                                              \
    static int P##_listener_fd(kind_listener *l)                                                   \
    {                                                                                              \
        return cio_##P##_listener_fd(LISTENER(P, l));                                              \
    }                                                                                              \
    static void P##_listener_close(kind_listener *l)                                               \
    {                                                                                              \
        cio_##P##_listener_close(LISTENER(P, l));                                                  \
    }                                                                                              \
    static ssize_t P##_read(kind_stream *s, void *buf, size_t len)                                 \
    {                                                                                              \
        return cio_##P##_stream_read(STREAM(P, s), buf, len);                                      \
    }                                                                                              \
    static int P##_read_exact(kind_stream *s, void *buf, size_t len, size_t *done)                 \
    {                                                                                              \
        return cio_##P##_stream_read_exact(STREAM(P, s), buf, len, done);                          \
    }                                                                                              \
    static ssize_t P##_readv(kind_stream *s, const struct iovec *iov, int iovcnt)                  \
    {                                                                                              \
        return cio_##P##_stream_readv(STREAM(P, s), iov, iovcnt);                                  \
    }                                                                                              \
    static ssize_t P##_peek(kind_stream *s, void *buf, size_t len)                                 \
    {                                                                                              \
        return cio_##P##_stream_peek(STREAM(P, s), buf, len);                                      \
    }                                                                                              \
    static ssize_t P##_write(kind_stream *s, const void *buf, size_t len)                          \
    {                                                                                              \
        return cio_##P##_stream_write(STREAM(P, s), buf, len);                                     \
    }                                                                                              \
    static int P##_write_all(kind_stream *s, const void *buf, size_t len, size_t *done)            \
    {                                                                                              \
        return cio_##P##_stream_write_all(STREAM(P, s), buf, len, done);                           \
    }                                                                                              \
    static ssize_t P##_writev(kind_stream *s, const struct iovec *iov, int iovcnt)                 \
    {                                                                                              \
        return cio_##P##_stream_writev(STREAM(P, s), iov, iovcnt);                                 \
    }                                                                                              \
    static int P##_write_all_v(kind_stream *s, const struct iovec *iov, int iovcnt, size_t *done)  \
    {                                                                                              \
        return cio_##P##_stream_write_all_v(STREAM(P, s), iov, iovcnt, done);                      \
    }                                                                                              \
    static int P##_shutdown(kind_stream *s, cio_shutdown how)                                      \
    {                                                                                              \
        return cio_##P##_stream_shutdown(STREAM(P, s), how);                                       \
    }                                                                                              \
    static int P##_ready(kind_stream *s, unsigned interest)                                        \
    {                                                                                              \
        return cio_##P##_stream_ready(STREAM(P, s), interest);                                     \
    }                                                                                              \
    static int P##_readable(kind_stream *s)                                                        \
    {                                                                                              \
        return cio_##P##_stream_readable(STREAM(P, s));                                            \
    }                                                                                              \
    static int P##_writable(kind_stream *s)                                                        \
    {                                                                                              \
        return cio_##P##_stream_writable(STREAM(P, s));                                            \
    }                                                                                              \
    static void P##_clear_ready(kind_stream *s, int ready)                                         \
    {                                                                                              \
        cio_##P##_stream_clear_ready(STREAM(P, s), ready);                                         \
    }                                                                                              \
    static int P##_poll_read_ready(kind_stream *s, cio_wake_fn wake, void *ctx)                    \
    {                                                                                              \
        return cio_##P##_stream_poll_read_ready(STREAM(P, s), wake, ctx);                          \
    }                                                                                              \
    static int P##_poll_write_ready(kind_stream *s, cio_wake_fn wake, void *ctx)                   \
    {                                                                                              \
        return cio_##P##_stream_poll_write_ready(STREAM(P, s), wake, ctx);                         \
    }                                                                                              \
    static ssize_t P##_poll_peek(kind_stream *s, void *buf, size_t len, cio_wake_fn wake,          \
                                 void *ctx)                                                        \
    {                                                                                              \
        return cio_##P##_stream_poll_peek(STREAM(P, s), buf, len, wake, ctx);                      \
    }                                                                                              \
    static ssize_t P##_try_io(kind_stream *s, unsigned interest, cio_io_fn fn, void *ctx)          \
    {                                                                                              \
        return cio_##P##_stream_try_io(STREAM(P, s), interest, fn, ctx);                           \
    }                                                                                              \
    static ssize_t P##_async_io(kind_stream *s, unsigned interest, cio_io_fn fn, void *ctx)        \
    {                                                                                              \
        return cio_##P##_stream_async_io(STREAM(P, s), interest, fn, ctx);                         \
    }                                                                                              \
    static int P##_fd(kind_stream *s)                                                              \
    {                                                                                              \
        return cio_##P##_stream_fd(STREAM(P, s));                                                  \
    }                                                                                              \
    static int P##_local_addr(kind_stream *s, cio_addr *ret)                                       \
    {                                                                                              \
        return cio_##P##_stream_local_addr(STREAM(P, s), ret);                                     \
    }                                                                                              \
    static int P##_peer_addr(kind_stream *s, cio_addr *ret)                                        \
    {                                                                                              \
        return cio_##P##_stream_peer_addr(STREAM(P, s), ret);                                      \
    }                                                                                              \
    static int P##_copy(kind_stream *from, kind_stream *to, uint64_t *bytes)                       \
    {                                                                                              \
        return cio_##P##_stream_copy(STREAM(P, from), STREAM(P, to), bytes);                       \
    }                                                                                              \
    static int P##_copy_bidirectional(kind_stream *a, kind_stream *b, uint64_t *ab, uint64_t *ba)  \
    {                                                                                              \
        return cio_##P##_stream_copy_bidirectional(STREAM(P, a), STREAM(P, b), ab, ba);            \
    }                                                                                              \
    static void P##_close(kind_stream *s)                                                          \
    {                                                                                              \
        cio_##P##_stream_close(STREAM(P, s));                                                      \
    }

/* The borrowed and owned halves of kind P. */
#define HALF_WRAPPERS(P)                                                                           \
    static int P##_split(kind_stream *s, kind_read_half *rd, kind_write_half *wr)                  \
    {                                                                                              \
        return cio_##P##_stream_split(STREAM(P, s), HALF(P, rd), HALF(P, wr));                     \
    }                                                                                              \
    static ssize_t P##_read_half_read(const kind_read_half *rd, void *buf, size_t len)             \
    {                                                                                              \
        return cio_##P##_read_half_read(HALF(P, rd), buf, len);                                    \
    }                                                                                              \
    static int P##_read_half_read_exact(const kind_read_half *rd, void *buf, size_t len,           \
                                        size_t *done)                                              \
    {                                                                                              \
        return cio_##P##_read_half_read_exact(HALF(P, rd), buf, len, done);                        \
    }                                                                                              \
    static ssize_t P##_read_half_readv(const kind_read_half *rd, const struct iovec *iov,          \
                                       int iovcnt)                                                 \
    {                                                                                              \
        return cio_##P##_read_half_readv(HALF(P, rd), iov, iovcnt);                                \
    }                                                                                              \
    static ssize_t P##_read_half_peek(const kind_read_half *rd, void *buf, size_t len)             \
    {                                                                                              \
        return cio_##P##_read_half_peek(HALF(P, rd), buf, len);                                    \
    }                                                                                              \
    static int P##_read_half_readable(const kind_read_half *rd)                                    \
    {                                                                                              \
        return cio_##P##_read_half_readable(HALF(P, rd));                                          \
    }                                                                                              \
    static ssize_t P##_write_half_write(const kind_write_half *wr, const void *buf, size_t len)    \
    {                                                                                              \
        return cio_##P##_write_half_write(HALF(P, wr), buf, len);                                  \
    }                                                                                              \
    static int P##_write_half_write_all(const kind_write_half *wr, const void *buf, size_t len,    \
                                        size_t *done)                                              \
    {                                                                                              \
        return cio_##P##_write_half_write_all(HALF(P, wr), buf, len, done);                        \
    }                                                                                              \
    static ssize_t P##_write_half_writev(const kind_write_half *wr, const struct iovec *iov,       \
                                         int iovcnt)                                               \
    {                                                                                              \
        return cio_##P##_write_half_writev(HALF(P, wr), iov, iovcnt);                              \
    }                                                                                              \
    static int P##_write_half_write_all_v(const kind_write_half *wr, const struct iovec *iov,      \
                                          int iovcnt, size_t *done)                                \
    {                                                                                              \
        return cio_##P##_write_half_write_all_v(HALF(P, wr), iov, iovcnt, done);                   \
    }                                                                                              \
    static int P##_write_half_writable(const kind_write_half *wr)                                  \
    {                                                                                              \
        return cio_##P##_write_half_writable(HALF(P, wr));                                         \
    }                                                                                              \
    static int P##_write_half_shutdown(const kind_write_half *wr)                                  \
    {                                                                                              \
        return cio_##P##_write_half_shutdown(HALF(P, wr));                                         \
    }                                                                                              \
    static int P##_into_split(kind_stream *s, kind_owned_read_half **rd,                           \
                              kind_owned_write_half **wr)                                          \
    {                                                                                              \
        cio_##P##_owned_read_half *r;                                                              \
        cio_##P##_owned_write_half *w;                                                             \
        int rc = cio_##P##_stream_into_split(STREAM(P, s), &r, &w);                                \
        if (rc == 0) {                                                                             \
            *rd = (kind_owned_read_half *)r;                                                       \
            *wr = (kind_owned_write_half *)w;                                                      \
        }                                                                                          \
        return rc;                                                                                 \
    }                                                                                              \
    static ssize_t P##_owned_read(kind_owned_read_half *rd, void *buf, size_t len)                 \
    {                                                                                              \
        return cio_##P##_owned_read_half_read(OWNED_RD(P, rd), buf, len);                          \
    }                                                                                              \
    static int P##_owned_read_exact(kind_owned_read_half *rd, void *buf, size_t len, size_t *done) \
    {                                                                                              \
        return cio_##P##_owned_read_half_read_exact(OWNED_RD(P, rd), buf, len, done);              \
    }                                                                                              \
    static ssize_t P##_owned_readv(kind_owned_read_half *rd, const struct iovec *iov, int iovcnt)  \
    {                                                                                              \
        return cio_##P##_owned_read_half_readv(OWNED_RD(P, rd), iov, iovcnt);                      \
    }                                                                                              \
    static ssize_t P##_owned_peek(kind_owned_read_half *rd, void *buf, size_t len)                 \
    {                                                                                              \
        return cio_##P##_owned_read_half_peek(OWNED_RD(P, rd), buf, len);                          \
    }                                                                                              \
    static int P##_owned_readable(kind_owned_read_half *rd)                                        \
    {                                                                                              \
        return cio_##P##_owned_read_half_readable(OWNED_RD(P, rd));                                \
    }                                                                                              \
    static kind_stream *P##_owned_read_stream(kind_owned_read_half *rd)                            \
    {                                                                                              \
        return (kind_stream *)cio_##P##_owned_read_half_stream(OWNED_RD(P, rd));                   \
    }                                                                                              \
    static void P##_owned_read_close(kind_owned_read_half *rd)                                     \
    {                                                                                              \
        cio_##P##_owned_read_half_close(OWNED_RD(P, rd));                                          \
    }                                                                                              \
    static ssize_t P##_owned_write(kind_owned_write_half *wr, const void *buf, size_t len)         \
    {                                                                                              \
        return cio_##P##_owned_write_half_write(OWNED_WR(P, wr), buf, len);                        \
    }                                                                                              \
    static int P##_owned_write_all(kind_owned_write_half *wr, const void *buf, size_t len,         \
                                   size_t *done)                                                   \
    {                                                                                              \
        return cio_##P##_owned_write_half_write_all(OWNED_WR(P, wr), buf, len, done);              \
    }                                                                                              \
    static ssize_t P##_owned_writev(kind_owned_write_half *wr, const struct iovec *iov,            \
                                    int iovcnt)                                                    \
    {                                                                                              \
        return cio_##P##_owned_write_half_writev(OWNED_WR(P, wr), iov, iovcnt);                    \
    }                                                                                              \
    static int P##_owned_write_all_v(kind_owned_write_half *wr, const struct iovec *iov,           \
                                     int iovcnt, size_t *done)                                     \
    {                                                                                              \
        return cio_##P##_owned_write_half_write_all_v(OWNED_WR(P, wr), iov, iovcnt, done);         \
    }                                                                                              \
    static int P##_owned_writable(kind_owned_write_half *wr)                                       \
    {                                                                                              \
        return cio_##P##_owned_write_half_writable(OWNED_WR(P, wr));                               \
    }                                                                                              \
    static int P##_owned_shutdown(kind_owned_write_half *wr)                                       \
    {                                                                                              \
        return cio_##P##_owned_write_half_shutdown(OWNED_WR(P, wr));                               \
    }                                                                                              \
    static kind_stream *P##_owned_write_stream(kind_owned_write_half *wr)                          \
    {                                                                                              \
        return (kind_stream *)cio_##P##_owned_write_half_stream(OWNED_WR(P, wr));                  \
    }                                                                                              \
    static void P##_owned_forget(kind_owned_write_half *wr)                                        \
    {                                                                                              \
        cio_##P##_owned_write_half_forget(OWNED_WR(P, wr));                                        \
    }                                                                                              \
    static void P##_owned_write_close(kind_owned_write_half *wr)                                   \
    {                                                                                              \
        cio_##P##_owned_write_half_close(OWNED_WR(P, wr));                                         \
    }                                                                                              \
    static int P##_reunite(kind_owned_read_half *rd, kind_owned_write_half *wr, kind_stream **ret) \
    {                                                                                              \
        cio_##P##_stream *s;                                                                       \
        int rc =                                                                                   \
            cio_##P##_owned_read_half_reunite(OWNED_RD(P, rd), OWNED_WR(P, wr), ret ? &s : NULL);  \
        if (rc == 0)                                                                               \
            *ret = (kind_stream *)s;                                                               \
        return rc;                                                                                 \
    }

/* The table entries the macros above define, in the order of struct stream_kind. */
#define STREAM_TABLE(P)                                                                            \
    .accept = P##_accept, .poll_accept = P##_poll_accept, .listener_fd = P##_listener_fd,          \
    .listener_close = P##_listener_close, .read = P##_read, .read_exact = P##_read_exact,          \
    .readv = P##_readv, .peek = P##_peek, .write = P##_write, .write_all = P##_write_all,          \
    .writev = P##_writev, .write_all_v = P##_write_all_v, .shutdown = P##_shutdown,                \
    .ready = P##_ready, .readable = P##_readable, .writable = P##_writable,                        \
    .clear_ready = P##_clear_ready, .poll_read_ready = P##_poll_read_ready,                        \
    .poll_write_ready = P##_poll_write_ready, .poll_peek = P##_poll_peek, .try_io = P##_try_io,    \
    .async_io = P##_async_io, .fd = P##_fd, .local_addr = P##_local_addr,                          \
    .peer_addr = P##_peer_addr, .copy = P##_copy, .copy_bidirectional = P##_copy_bidirectional,    \
    .close = P##_close, .split = P##_split, .read_half_read = P##_read_half_read,                  \
    .read_half_read_exact = P##_read_half_read_exact, .read_half_readv = P##_read_half_readv,      \
    .read_half_peek = P##_read_half_peek, .read_half_readable = P##_read_half_readable,            \
    .write_half_write = P##_write_half_write, .write_half_write_all = P##_write_half_write_all,    \
    .write_half_writev = P##_write_half_writev,                                                    \
    .write_half_write_all_v = P##_write_half_write_all_v,                                          \
    .write_half_writable = P##_write_half_writable,                                                \
    .write_half_shutdown = P##_write_half_shutdown, .into_split = P##_into_split,                  \
    .owned_read = P##_owned_read, .owned_read_exact = P##_owned_read_exact,                        \
    .owned_readv = P##_owned_readv, .owned_peek = P##_owned_peek,                                  \
    .owned_readable = P##_owned_readable, .owned_read_stream = P##_owned_read_stream,              \
    .owned_read_close = P##_owned_read_close, .owned_write = P##_owned_write,                      \
    .owned_write_all = P##_owned_write_all, .owned_writev = P##_owned_writev,                      \
    .owned_write_all_v = P##_owned_write_all_v, .owned_writable = P##_owned_writable,              \
    .owned_shutdown = P##_owned_shutdown, .owned_write_stream = P##_owned_write_stream,            \
    .owned_forget = P##_owned_forget, .owned_write_close = P##_owned_write_close,                  \
    .reunite = P##_reunite

STREAM_WRAPPERS(tcp)
HALF_WRAPPERS(tcp)
STREAM_WRAPPERS(unix)
HALF_WRAPPERS(unix)

/* ---- setting up, per kind ---- */

static kind_listener *tcp_listen(cio_addr *ret_addr, int backlog)
{
    return (kind_listener *)listen_local(ret_addr, backlog);
}

static int tcp_connect(kind_stream **ret, const cio_addr *addr)
{
    cio_tcp_stream *s;
    int rc = cio_tcp_stream_connect_addr(&s, addr);
    if (rc == 0)
        *ret = (kind_stream *)s;
    return rc;
}

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

static kind_listener *unix_listen(cio_addr *ret_addr, int backlog)
{
    unix_tmp_path(ret_addr, "listener");
    cio_unix_listener *l;
    CHECK_RC(cio_unix_listener_bind(&l, ret_addr, backlog));
    CHECK_FD_FLAGS(cio_unix_listener_fd(l));
    return (kind_listener *)l;
}

static int unix_connect(kind_stream **ret, const cio_addr *addr)
{
    cio_unix_stream *s;
    int rc = cio_unix_stream_connect(&s, addr);
    if (rc == 0)
        *ret = (kind_stream *)s;
    return rc;
}

static int unix_socketpair(kind_stream **ret_a, kind_stream **ret_b)
{
    cio_unix_stream *a, *b;
    int rc = cio_unix_stream_pair(&a, &b);
    if (rc == 0) {
        *ret_a = (kind_stream *)a;
        *ret_b = (kind_stream *)b;
    }
    return rc;
}

static void unix_check_other_reads_busy(kind_stream *s)
{
    char x;
    int fd;
    size_t nfds;
    CHECK_ERR(cio_unix_stream_recv_fds(STREAM(unix, s), &x, 1, &fd, 1, &nfds), -EBUSY);
}

const struct stream_kind stream_kind_tcp = {
    .name = "tcp",
    .peer_kind = CIO_ADDR_IPV4,
    .listen = tcp_listen,
    .connect = tcp_connect,
    STREAM_TABLE(tcp),
};

const struct stream_kind stream_kind_unix = {
    .name = "unix",
    .peer_kind = CIO_ADDR_UNNAMED,
    .listen = unix_listen,
    .connect = unix_connect,
    .socketpair = unix_socketpair,
    .check_other_reads_busy = unix_check_other_reads_busy,
    STREAM_TABLE(unix),
};

/* ---- shared helpers ---- */

void stream_listener_pair(const struct stream_kind *k, kind_stream **ret_client,
                          kind_stream **ret_server)
{
    cio_addr addr, peer, local;
    kind_listener *l = k->listen(&addr, 0);
    /* Loopback completes the handshake in the kernel: connect first, accept after. */
    CHECK_RC(k->connect(ret_client, &addr));
    CHECK_RC(k->accept(l, ret_server, &peer));
    CHECK_FD_FLAGS(k->fd(*ret_client));
    CHECK_FD_FLAGS(k->fd(*ret_server));
    CHECK_RC(k->local_addr(*ret_client, &local));
    CHECK(cio_addr_equal(&local, &peer));
    k->listener_close(l);
}

void stream_pair(const struct stream_kind *k, kind_stream **ret_a, kind_stream **ret_b)
{
    if (k->socketpair != NULL)
        CHECK_RC(k->socketpair(ret_a, ret_b));
    else
        stream_listener_pair(k, ret_a, ret_b);
}

void *stream_echo_server(void *arg)
{
    struct stream_ref *r = arg;
    unsigned char buf[4096];
    for (;;) {
        ssize_t n = CHECK_RC(r->k->read(r->s, buf, sizeof(buf)));
        if (n == 0)
            break;
        size_t done = 0;
        CHECK_RC(r->k->write_all(r->s, buf, (size_t)n, &done));
        CHECK_EQ(done, n);
    }
    CHECK_RC(r->k->shutdown(r->s, CIO_SHUTDOWN_WRITE));
    return NULL;
}

void stream_echo_exchange(const struct stream_kind *k, kind_stream *s)
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
                CHECK_RC(k->write_all(s, out + sent, slice, &done));
                CHECK_EQ(done, slice);
                sent += slice;
            }
            size_t want = sent - got;
            CHECK_RC(k->read_exact(s, in + got, want, &done));
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
        struct stream_ref r = {a->k, NULL};
        cio_addr peer;
        CHECK_RC(a->k->accept(a->l, &r.s, &peer));
        CHECK_FD_FLAGS(a->k->fd(r.s));
        CHECK_EQ(cio_addr_get_kind(&peer), a->k->peer_kind);
        stream_echo_server(&r);
        a->k->close(r.s);
    }
    return NULL;
}

void *stream_pattern_sink(void *arg)
{
    struct stream_sink *k = arg;
    unsigned char *buf = xmalloc(65536);
    size_t got = 0;
    while (got < k->len) {
        ssize_t n = CHECK_RC(k->k->read(k->s, buf, 65536));
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

#define DGRAM_WRAPPERS(P, T)                                                                       \
    static ssize_t P##_send(kind_dgram *d, const void *buf, size_t len)                            \
    {                                                                                              \
        return T##_send((T *)d, buf, len);                                                         \
    }                                                                                              \
    static ssize_t P##_send_to(kind_dgram *d, const void *buf, size_t len, const cio_addr *addr)   \
    {                                                                                              \
        return T##_send_to((T *)d, buf, len, addr);                                                \
    }                                                                                              \
    static ssize_t P##_recv(kind_dgram *d, void *buf, size_t len)                                  \
    {                                                                                              \
        return T##_recv((T *)d, buf, len);                                                         \
    }                                                                                              \
    static ssize_t P##_recv_from(kind_dgram *d, void *buf, size_t len, cio_addr *from)             \
    {                                                                                              \
        return T##_recv_from((T *)d, buf, len, from);                                              \
    }                                                                                              \
    static ssize_t P##_peek(kind_dgram *d, void *buf, size_t len)                                  \
    {                                                                                              \
        return T##_peek((T *)d, buf, len);                                                         \
    }                                                                                              \
    static ssize_t P##_peek_from(kind_dgram *d, void *buf, size_t len, cio_addr *from)             \
    {                                                                                              \
        return T##_peek_from((T *)d, buf, len, from);                                              \
    }                                                                                              \
    static ssize_t P##_peek_sender(kind_dgram *d, cio_addr *from)                                  \
    {                                                                                              \
        return T##_peek_sender((T *)d, from);                                                      \
    }                                                                                              \
    static int P##_ready(kind_dgram *d, unsigned interest)                                         \
    {                                                                                              \
        return T##_ready((T *)d, interest);                                                        \
    }                                                                                              \
    static int P##_readable(kind_dgram *d)                                                         \
    {                                                                                              \
        return T##_readable((T *)d);                                                               \
    }                                                                                              \
    static int P##_writable(kind_dgram *d)                                                         \
    {                                                                                              \
        return T##_writable((T *)d);                                                               \
    }                                                                                              \
    static void P##_clear_ready(kind_dgram *d, int ready)                                          \
    {                                                                                              \
        T##_clear_ready((T *)d, ready);                                                            \
    }                                                                                              \
    static int P##_poll_recv_ready(kind_dgram *d, cio_wake_fn wake, void *ctx)                     \
    {                                                                                              \
        return T##_poll_recv_ready((T *)d, wake, ctx);                                             \
    }                                                                                              \
    static int P##_poll_send_ready(kind_dgram *d, cio_wake_fn wake, void *ctx)                     \
    {                                                                                              \
        return T##_poll_send_ready((T *)d, wake, ctx);                                             \
    }                                                                                              \
    static ssize_t P##_poll_recv_from(kind_dgram *d, void *buf, size_t len, cio_addr *from,        \
                                      cio_wake_fn wake, void *ctx)                                 \
    {                                                                                              \
        return T##_poll_recv_from((T *)d, buf, len, from, wake, ctx);                              \
    }                                                                                              \
    static ssize_t P##_poll_send_to(kind_dgram *d, const void *buf, size_t len,                    \
                                    const cio_addr *addr, cio_wake_fn wake, void *ctx)             \
    {                                                                                              \
        return T##_poll_send_to((T *)d, buf, len, addr, wake, ctx);                                \
    }                                                                                              \
    static ssize_t P##_try_io(kind_dgram *d, unsigned interest, cio_io_fn fn, void *ctx)           \
    {                                                                                              \
        return T##_try_io((T *)d, interest, fn, ctx);                                              \
    }                                                                                              \
    static ssize_t P##_async_io(kind_dgram *d, unsigned interest, cio_io_fn fn, void *ctx)         \
    {                                                                                              \
        return T##_async_io((T *)d, interest, fn, ctx);                                            \
    }                                                                                              \
    static int P##_fd(kind_dgram *d)                                                               \
    {                                                                                              \
        return T##_fd((T *)d);                                                                     \
    }                                                                                              \
    static void P##_close(kind_dgram *d)                                                           \
    {                                                                                              \
        T##_close((T *)d);                                                                         \
    }

#define DGRAM_TABLE(P)                                                                             \
    .send = P##_send, .send_to = P##_send_to, .recv = P##_recv, .recv_from = P##_recv_from,        \
    .peek = P##_peek, .peek_from = P##_peek_from, .peek_sender = P##_peek_sender,                  \
    .ready = P##_ready, .readable = P##_readable, .writable = P##_writable,                        \
    .clear_ready = P##_clear_ready, .poll_recv_ready = P##_poll_recv_ready,                        \
    .poll_send_ready = P##_poll_send_ready, .poll_recv_from = P##_poll_recv_from,                  \
    .poll_send_to = P##_poll_send_to, .try_io = P##_try_io, .async_io = P##_async_io,              \
    .fd = P##_fd, .close = P##_close

DGRAM_WRAPPERS(udp, cio_udp_socket)
DGRAM_WRAPPERS(unix_dgram, cio_unix_datagram)

static kind_dgram *udp_bind_local(bool second, cio_addr *ret_addr)
{
    cio_addr addr;
    CHECK_RC(cio_addr_parse(&addr, second ? "[::1]:0" : "127.0.0.1:0"));
    cio_udp_socket *u;
    int rc = cio_udp_socket_bind(&u, &addr);
    if (rc == -EADDRNOTAVAIL || rc == -EAFNOSUPPORT)
        return NULL; /* no such loopback here (IPv6 off) */
    CHECK_RC(rc);
    CHECK_FD_FLAGS(cio_udp_socket_fd(u));
    CHECK_RC(cio_udp_socket_local_addr(u, ret_addr));
    CHECK(cio_addr_port(ret_addr) > 0);
    return (kind_dgram *)u;
}

static void udp_check_other_receives_busy(kind_dgram *d)
{
    cio_udp_msg m = {0};
    CHECK_ERR(cio_udp_socket_recv_msg((cio_udp_socket *)d, &m), -EBUSY);
}

static kind_dgram *unix_dgram_bind_local(bool second, cio_addr *ret_addr)
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
    CHECK_RC(cio_unix_datagram_bind(&d, ret_addr));
    CHECK_FD_FLAGS(cio_unix_datagram_fd(d));
    return (kind_dgram *)d;
}

static void unix_dgram_check_other_receives_busy(kind_dgram *d)
{
    int fd;
    size_t n;
    char x;
    CHECK_ERR(cio_unix_datagram_recv_fds((cio_unix_datagram *)d, &x, 1, &fd, 1, &n, NULL), -EBUSY);
}

const struct dgram_kind dgram_kind_udp = {
    .name = "udp",
    .max_echo = CIO_UDP_PAYLOAD_MAX - 40,
    .bind_local = udp_bind_local,
    .check_other_receives_busy = udp_check_other_receives_busy,
    DGRAM_TABLE(udp),
};

const struct dgram_kind dgram_kind_unix = {
    .name = "unix",
    .max_echo = 8192,
    .bind_local = unix_dgram_bind_local,
    .check_other_receives_busy = unix_dgram_check_other_receives_busy,
    DGRAM_TABLE(unix_dgram),
};

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
