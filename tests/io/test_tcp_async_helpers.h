/*
 * test_tcp_async_helpers.h: helpers shared by the async tests of tests/io (and, through
 * stream_kinds.h, by the tests written once for every kind of socket): running a task on a
 * fresh runtime, a TCP loopback listener on a kernel-chosen port, a connected TCP pair made
 * with the async calls, and a position-dependent byte pattern for byte-exact checks.
 * Header-only; every helper is static inline.
 */
#ifndef CIO_TEST_TCP_ASYNC_HELPERS_H
#define CIO_TEST_TCP_ASYNC_HELPERS_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cio/addr.h"
#include "cio/dgram.h"
#include "cio/io.h"
#include "cio/rt.h"
#include "cio/socket.h"
#include "cio/stream.h"
#include "cio/tcp.h"
#include "harness.h"

/* Run @fn as the main task of a current-thread runtime (@workers 0) or of a multi-thread
 * runtime with @workers workers. */
static inline void run_rt(unsigned workers, cio_task_fn fn, void *arg)
{
    cio_rt *rt;
    cio_rt_options o = {.flavor = workers ? CIO_RT_MULTI_THREAD : CIO_RT_CURRENT_THREAD,
                        .workers = workers};
    CHECK_RC(cio_rt_new(&rt, &o));
    void *result = NULL;
    CHECK_RC(cio_rt_block_on(rt, fn, arg, &result));
    cio_rt_free(rt);
}

static inline void run(cio_task_fn fn, void *arg)
{
    run_rt(0, fn, arg);
}

/* A listener on 127.0.0.1, port chosen by the kernel; its address in *ret_addr. */
static inline cio_tcp_listener *listen_local(cio_addr *ret_addr, int backlog)
{
    cio_addr addr;
    cio_tcp_listener *l;
    CHECK_RC(cio_addr_parse(&addr, "127.0.0.1:0"));
    CHECK_RC(cio_tcp_listener_new(&l, &addr, backlog));
    CHECK_FD_FLAGS(cio_socket_fd(l));
    CHECK_RC(cio_socket_local_addr(l, ret_addr));
    CHECK(cio_addr_port(ret_addr) > 0);
    return l;
}

/* A connected pair through a fresh listener, with the async calls (from a task). */
static inline void tcp_pair(cio_tcp_stream **ret_client, cio_tcp_stream **ret_server)
{
    cio_addr addr, peer, local;
    cio_tcp_listener *l = listen_local(&addr, CIO_LISTEN_BACKLOG_DEFAULT);
    /* Loopback completes the handshake in the kernel: connect first, accept after. */
    CHECK_RC(cio_tcp_stream_connect_addr(ret_client, &addr));
    CHECK_RC(cio_tcp_listener_accept(l, ret_server, &peer));
    CHECK_FD_FLAGS(cio_socket_fd(*ret_client));
    CHECK_FD_FLAGS(cio_socket_fd(*ret_server));
    CHECK_RC(cio_socket_local_addr(*ret_client, &local));
    CHECK(cio_addr_equal(&local, &peer));
    cio_socket_close(l);
}

/* The byte at position @i of stream @seed: not periodic at any small power of two, so a
 * lost, repeated or reordered chunk shows. */
static inline unsigned char pattern_at(uint64_t i, unsigned seed)
{
    uint64_t x = i + seed;
    return (unsigned char)(x ^ (x >> 8) ^ (x >> 16) ^ (x >> 24) ^ seed);
}

static inline void pattern_fill(unsigned char *buf, size_t len, uint64_t pos, unsigned seed)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = pattern_at(pos + i, seed);
}

/* Index of the first byte of @buf differing from the pattern, or @len. */
static inline size_t pattern_check(const unsigned char *buf, size_t len, uint64_t pos,
                                   unsigned seed)
{
    for (size_t i = 0; i < len; i++)
        if (buf[i] != pattern_at(pos + i, seed))
            return i;
    return len;
}

static inline void *xmalloc(size_t n)
{
    void *p = malloc(n);
    CHECK(p != NULL);
    return p;
}

#endif
