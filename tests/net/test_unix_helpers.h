/*
 * test_unix_helpers.h: helpers shared by the Unix-domain test programs (test_unix_*.c):
 * addresses in the case's private temporary directory and unique abstract names, a
 * listener and a connected client/server pair through it, and stream reads and writes with
 * bounded waits. Header-only; every helper is static inline. Waiting on one descriptor
 * reuses wait_fd() from the TCP helpers.
 */
#ifndef CIO_TEST_UNIX_HELPERS_H
#define CIO_TEST_UNIX_HELPERS_H

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cio/addr.h"
#include "cio/dgram.h"
#include "cio/poll.h"
#include "cio/socket.h"
#include "cio/stream.h"
#include "cio/unix.h"
#include "harness.h"
#include "test_tcp_helpers.h"

/* A path address for `name` inside this case's temporary directory. */
static inline cio_addr unix_path(const char *name)
{
    char path[256];
    int len = snprintf(path, sizeof(path), "%s/%s", cio_test_tmpdir(), name);
    CHECK(len > 0 && (size_t)len < sizeof(path));
    cio_addr addr;
    CHECK_RC(cio_addr_unix(&addr, path, (size_t)len));
    return addr;
}

/* An abstract name no other process (or earlier case) uses. */
static inline cio_addr unix_abstract(const char *tag)
{
    static unsigned counter;
    char name[96];
    int len = snprintf(name, sizeof(name), "cio-test-%d-%s-%u-%lld", (int)getpid(), tag, counter++,
                       (long long)cio_now());
    CHECK(len > 0 && (size_t)len < sizeof(name));
    cio_addr addr;
    CHECK_RC(cio_addr_abstract(&addr, name, (size_t)len));
    return addr;
}

static inline cio_unix_listener *unix_listen(const cio_addr *addr, int backlog)
{
    cio_unix_listener *listener;
    CHECK_RC(cio_unix_listener_new(&listener, addr, backlog));
    CHECK_FD_FLAGS(cio_socket_fd(listener));
    return listener;
}

/* Accept one connection, waiting up to 5 s for it. */
static inline cio_unix_stream *unix_accept(cio_unix_listener *listener, cio_addr *ret_peer)
{
    for (int i = 0; i < 100; i++) {
        cio_unix_stream *stream;
        int rc = cio_unix_listener_try_accept(listener, &stream, ret_peer);
        if (rc == 0) {
            CHECK_FD_FLAGS(cio_socket_fd(stream));
            return stream;
        }
        CHECK_ERR(rc, -EAGAIN);
        CHECK(wait_fd(cio_socket_fd(listener), CIO_READABLE, 5000) != 0);
    }
    TEST_FAIL("no connection to accept");
}

/* A client connected to `listener` and the accepted server end. */
static inline void unix_connect_pair(cio_unix_listener *listener, cio_unix_stream **ret_client,
                                     cio_unix_stream **ret_server)
{
    cio_addr addr;
    CHECK_RC(cio_socket_local_addr(listener, &addr));
    CHECK_RC(cio_unix_stream_try_connect(ret_client, &addr));
    CHECK_FD_FLAGS(cio_socket_fd(*ret_client));
    *ret_server = unix_accept(listener, NULL);
}

/* A socketpair, both ends checked. */
static inline void unix_pair(cio_unix_stream **ret_a, cio_unix_stream **ret_b)
{
    CHECK_RC(cio_unix_stream_pair(ret_a, ret_b));
    CHECK_FD_FLAGS(cio_socket_fd(*ret_a));
    CHECK_FD_FLAGS(cio_socket_fd(*ret_b));
}

static inline ssize_t unix_try_read(void *stream, void *buf, size_t len)
{
    return cio_stream_try_read((cio_unix_stream *)stream, buf, len);
}

static inline ssize_t unix_try_write(void *stream, const void *buf, size_t len)
{
    return cio_stream_try_write((cio_unix_stream *)stream, buf, len);
}

/* Read exactly len bytes (bounded by 10 s). */
static inline void unix_read_exact(cio_unix_stream *stream, void *buf, size_t len)
{
    stream_read_exact(unix_try_read, stream, cio_socket_fd(stream), buf, len);
}

/* Write all of buf (bounded by 10 s). */
static inline void unix_write_all(cio_unix_stream *stream, const void *buf, size_t len)
{
    stream_write_all(unix_try_write, stream, cio_socket_fd(stream), buf, len);
}

/* The first read result that is not -EAGAIN (bounded by 10 s). */
static inline ssize_t unix_read_result(cio_unix_stream *stream, void *buf, size_t len)
{
    return stream_read_result(unix_try_read, stream, cio_socket_fd(stream), buf, len);
}

#endif
