/*
 * test_tcp_helpers.h: helpers shared by the TCP test programs (test_tcp_*.c): a loopback
 * listener on a kernel-chosen port, a connected client/server pair made through the
 * non-blocking connect recipe, waiting on one descriptor with a cio_poll, and a seeded byte
 * stream for integrity checks. Header-only; every helper is static inline.
 */
#ifndef CIO_TEST_TCP_HELPERS_H
#define CIO_TEST_TCP_HELPERS_H

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cio/addr.h"
#include "cio/poll.h"
#include "cio/socket.h"
#include "cio/stream.h"
#include "cio/tcp.h"
#include "harness.h"

/* Wait (at most timeout_ms) until fd reports one of `interest`; returns the event flags, or
 * 0 on timeout. A fresh cio_poll per call keeps the helper independent of the caller's. */
static inline uint32_t wait_fd(int fd, unsigned interest, int timeout_ms)
{
    cio_poll *poll;
    cio_events *events;
    CHECK_RC(cio_poll_new(&poll, NULL));
    CHECK_RC(cio_events_new(&events, 4));
    CHECK_RC(cio_poll_register(poll, fd, 1, interest));
    uint32_t flags = 0;
    int64_t deadline = cio_test_now_ms() + timeout_ms;
    while (flags == 0) {
        int64_t left = deadline - cio_test_now_ms();
        if (left < 0)
            break;
        int n = cio_poll_wait_ms(poll, events, (int)left);
        CHECK(n >= 0 || n == -EINTR);
        const cio_event *ev;
        for (size_t it = 0; (ev = cio_events_next(events, &it)) != NULL;)
            flags |= ev->flags;
    }
    CHECK_RC(cio_poll_deregister(poll, fd));
    cio_events_free(events);
    cio_poll_free(poll);
    return flags;
}

/* A listener on `text` (port 0), with the bound address (real port) in *ret_addr. */
static inline cio_tcp_listener *listen_on(const char *text, cio_addr *ret_addr)
{
    cio_addr addr;
    cio_tcp_listener *listener;
    CHECK_RC(cio_addr_parse(&addr, text));
    CHECK_RC(cio_tcp_listener_new(&listener, &addr, CIO_LISTEN_BACKLOG_DEFAULT));
    CHECK_FD_FLAGS(cio_socket_fd(listener));
    CHECK_RC(cio_socket_local_addr(listener, ret_addr));
    CHECK(cio_addr_port(ret_addr) > 0);
    return listener;
}

/* Accept one connection, waiting up to 5 s for it. */
static inline cio_tcp_stream *accept_one(cio_tcp_listener *listener, cio_addr *ret_peer)
{
    cio_tcp_stream *stream = NULL;
    for (int i = 0; i < 100; i++) {
        int rc = cio_tcp_listener_try_accept(listener, &stream, ret_peer);
        if (rc == 0) {
            CHECK_FD_FLAGS(cio_socket_fd(stream));
            return stream;
        }
        CHECK_ERR(rc, -EAGAIN);
        CHECK(wait_fd(cio_socket_fd(listener), CIO_READABLE, 5000) != 0);
    }
    TEST_FAIL("no connection to accept");
}

/* Finish a non-blocking connect: wait for writable, then try_finish_connect (mio's recipe). */
static inline void finish_connect(cio_tcp_stream *stream)
{
    for (int i = 0; i < 100; i++) {
        int rc = cio_tcp_stream_try_finish_connect(stream);
        if (rc == 0)
            return;
        CHECK_ERR(rc, -EAGAIN);
        CHECK(wait_fd(cio_socket_fd(stream), CIO_WRITABLE, 5000) != 0);
    }
    TEST_FAIL("connect did not complete");
}

/* A connected pair through `listener`: *ret_client connected to its address, *ret_server the
 * accepted end. */
static inline void connect_pair(cio_tcp_listener *listener, cio_tcp_stream **ret_client,
                                cio_tcp_stream **ret_server)
{
    cio_addr addr;
    CHECK_RC(cio_socket_local_addr(listener, &addr));
    CHECK_RC(cio_tcp_stream_try_connect(ret_client, &addr));
    CHECK_FD_FLAGS(cio_socket_fd(*ret_client));
    *ret_server = accept_one(listener, NULL);
    finish_connect(*ret_client);
}

/* A loopback pair on 127.0.0.1 with its listener closed again. */
static inline void tcp_pair(cio_tcp_stream **ret_client, cio_tcp_stream **ret_server)
{
    cio_addr addr;
    cio_tcp_listener *listener = listen_on("127.0.0.1:0", &addr);
    connect_pair(listener, ret_client, ret_server);
    cio_socket_close(listener);
}

/*
 * The blocking helpers below, written once for every stream kind: each kind passes its own
 * try_read/try_write (so the cio function under test is the one called) and its descriptor.
 */
typedef ssize_t (*stream_try_read_fn)(void *stream, void *buf, size_t len);
typedef ssize_t (*stream_try_write_fn)(void *stream, const void *buf, size_t len);

/* Read exactly len bytes, waiting for readability as needed (bounded by 10 s). */
static inline void stream_read_exact(stream_try_read_fn try_read, void *stream, int fd, void *buf,
                                     size_t len)
{
    size_t got = 0;
    int64_t deadline = cio_test_now_ms() + 10000;
    while (got < len) {
        ssize_t n = try_read(stream, (char *)buf + got, len - got);
        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        if (n == 0)
            TEST_FAIL("end of stream after %zu of %zu bytes", got, len);
        CHECK_ERR(n, -EAGAIN);
        CHECK(cio_test_now_ms() < deadline);
        wait_fd(fd, CIO_READABLE, 1000);
    }
}

/* Write all of buf, waiting for writability as needed (bounded by 10 s). */
static inline void stream_write_all(stream_try_write_fn try_write, void *stream, int fd,
                                    const void *buf, size_t len)
{
    size_t put = 0;
    int64_t deadline = cio_test_now_ms() + 10000;
    while (put < len) {
        ssize_t n = try_write(stream, (const char *)buf + put, len - put);
        if (n > 0) {
            put += (size_t)n;
            continue;
        }
        CHECK_ERR(n, -EAGAIN);
        CHECK(cio_test_now_ms() < deadline);
        wait_fd(fd, CIO_WRITABLE, 1000);
    }
}

/* Wait until a read returns something other than -EAGAIN, and return that (10 s at most). */
static inline ssize_t stream_read_result(stream_try_read_fn try_read, void *stream, int fd,
                                         void *buf, size_t len)
{
    for (int i = 0; i < 100; i++) {
        ssize_t n = try_read(stream, buf, len);
        if (n != -EAGAIN)
            return n;
        wait_fd(fd, CIO_READABLE, 100);
    }
    TEST_FAIL("read still -EAGAIN after 10 s");
}

static inline ssize_t tcp_try_read(void *stream, void *buf, size_t len)
{
    return cio_stream_try_read((cio_tcp_stream *)stream, buf, len);
}

static inline ssize_t tcp_try_write(void *stream, const void *buf, size_t len)
{
    return cio_stream_try_write((cio_tcp_stream *)stream, buf, len);
}

static inline void read_exact(cio_tcp_stream *stream, void *buf, size_t len)
{
    stream_read_exact(tcp_try_read, stream, cio_socket_fd(stream), buf, len);
}

static inline void write_all(cio_tcp_stream *stream, const void *buf, size_t len)
{
    stream_write_all(tcp_try_write, stream, cio_socket_fd(stream), buf, len);
}

static inline ssize_t read_result(cio_tcp_stream *stream, void *buf, size_t len)
{
    return stream_read_result(tcp_try_read, stream, cio_socket_fd(stream), buf, len);
}

/* Fill the send buffer until a write says -EAGAIN; returns the bytes queued. */
static inline size_t fill_send_buffer(cio_tcp_stream *stream)
{
    static char junk[65536];
    size_t total = 0;
    for (int i = 0; i < 100000; i++) {
        ssize_t n = cio_stream_try_write(stream, junk, sizeof(junk));
        if (n == -EAGAIN)
            return total;
        CHECK(n > 0);
        total += (size_t)n;
    }
    TEST_FAIL("send buffer never filled");
}

/* A reproducible byte stream: byte i of the stream seeded with `seed`. */
static inline uint8_t stream_byte(uint64_t seed, uint64_t i)
{
    uint64_t x = (i / 8 + 1) * 0x9e3779b97f4a7c15ull ^ seed;
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 29;
    return (uint8_t)(x >> ((i % 8) * 8));
}

static inline void fill_stream(uint64_t seed, uint64_t offset, uint8_t *buf, size_t len)
{
    for (size_t k = 0; k < len; k++)
        buf[k] = stream_byte(seed, offset + k);
}

/* Returns the index of the first mismatch, or len if all match. */
static inline size_t check_stream(uint64_t seed, uint64_t offset, const uint8_t *buf, size_t len)
{
    for (size_t k = 0; k < len; k++)
        if (buf[k] != stream_byte(seed, offset + k))
            return k;
    return len;
}

/* Deterministic pseudo-random numbers for write sizes. */
static inline uint64_t test_rng(uint64_t *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 0x2545f4914f6cdd1dull;
}

/* Whether IPv6 loopback works here; *reason says why not. */
static inline bool ipv6_loopback_available(const char **reason)
{
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *reason = "no IPv6 sockets in this kernel";
        return false;
    }
    cio_addr addr;
    CHECK_RC(cio_addr_parse(&addr, "[::1]:0"));
    int rc = bind(fd, cio_addr_sockaddr(&addr), cio_addr_len(&addr));
    close(fd);
    if (rc < 0) {
        *reason = "cannot bind [::1] (IPv6 loopback not configured)";
        return false;
    }
    return true;
}

#endif
