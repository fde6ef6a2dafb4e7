/*
 * stream_kinds.h: what differs between the kinds of async socket, so that a test body is
 * written once against the cores (cio/stream.h, cio/dgram.h, cio/socket.h) and run for every
 * kind. Byte streams come in two kinds, TCP and Unix streams (struct stream_kind); datagram
 * sockets in two, UDP and Unix datagrams (struct dgram_kind). A kind's table holds only what
 * the cores cannot do for it: creating listeners, streams, pairs and bound sockets, accepting
 * on the kind's own listener type, the kind's name and the address kind its peers have. The
 * test bodies hold cio_stream / cio_dgram / cio_socket values and call the core functions on
 * them directly; what only one kind has is a test of that kind's own program. Also here: the
 * helpers the stream tests share (echo, pattern sink, a small deterministic generator).
 *
 *     static void *main_echo(void *arg) { const struct stream_kind *k = arg; ... }
 *     STREAM_CASE(echo)
 *     CIO_TEST_MAIN(STREAM_TESTS(echo))   // test_echo_tcp, test_echo_unix
 */
#ifndef CIO_TEST_STREAM_KINDS_H
#define CIO_TEST_STREAM_KINDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "cio/addr.h"
#include "cio/dgram.h"
#include "cio/io.h"
#include "cio/socket.h"
#include "cio/stream.h"
#include "cio/tcp.h"
#include "cio/udp.h"
#include "cio/unix.h"
#include "test_tcp_async_helpers.h"

/* ==== byte streams ==== */

struct stream_kind {
    const char *name;
    cio_addr_kind peer_kind; /* what accept reports for a client's address */

    /* ---- setting up (from a task) ---- */
    /* A fresh listener (127.0.0.1, port from the kernel; a path in the case's temp
     * directory), descriptor flags checked; its address in *ret_addr. A cio_tcp_listener or
     * a cio_unix_listener as a cio_socket: close it with cio_socket_close(). */
    cio_socket *(*listen)(cio_addr *ret_addr, int backlog);
    int (*connect)(cio_stream **ret_stream, const cio_addr *addr);
    /* Two connected streams without a listener (socketpair), or NULL (TCP has none). */
    int (*pair)(cio_stream **ret_a, cio_stream **ret_b);

    /* ---- the kind's listener (one made by listen) ---- */
    int (*accept)(cio_socket *listener, cio_stream **ret_stream, cio_addr *ret_peer);
    int (*poll_accept)(cio_socket *listener, cio_stream **ret_stream, cio_addr *ret_peer,
                       cio_wake_fn wake, void *ctx);
};

extern const struct stream_kind stream_kind_tcp, stream_kind_unix;

/* A connected pair through a fresh listener, made with the async calls (from a task):
 * descriptor flags checked, the accepted peer's address that of the client. */
void stream_listener_pair(const struct stream_kind *k, cio_stream **ret_client,
                          cio_stream **ret_server);

/* A connected pair the quickest way the kind has: socketpair for Unix streams, else through
 * a listener. */
void stream_pair(const struct stream_kind *k, cio_stream **ret_a, cio_stream **ret_b);

/* A task (@arg: a cio_stream): echo what it reads until end of stream, then shut down
 * writing. */
void *stream_echo_server(void *arg);

/* Send messages of several sizes (1 B to 1 MiB) through @s to an echo server, checking each
 * comes back byte for byte. */
void stream_echo_exchange(cio_stream *s);

/* A task: accept @count connections one after the other on @l (descriptor flags and the
 * peer's address kind checked) and echo each until its end of stream. */
struct stream_acceptor {
    const struct stream_kind *k;
    cio_socket *l;
    int count;
};
void *stream_accept_and_echo(void *arg);

/* A task: read @len pattern bytes (@seed) from @s, checking each. */
struct stream_sink {
    cio_stream *s;
    size_t len;
    unsigned seed;
};
void *stream_pattern_sink(void *arg);

/* A wake callback counting its calls in the atomic_int at @ctx. */
void count_wake(void *ctx);

/* Define test_<name>_tcp and test_<name>_unix: each runs main_<name> on a current-thread
 * runtime with its kind's table as the argument. */
#define STREAM_CASE(name)                                                                          \
    static void test_##name##_tcp(void)                                                            \
    {                                                                                              \
        run(main_##name, (void *)&stream_kind_tcp);                                                \
    }                                                                                              \
    static void test_##name##_unix(void)                                                           \
    {                                                                                              \
        run(main_##name, (void *)&stream_kind_unix);                                               \
    }
#define STREAM_TESTS(name) TEST(test_##name##_tcp), TEST(test_##name##_unix)

/* ==== datagrams ==== */

struct dgram_kind {
    const char *name;
    /* The largest datagram the echo test sends. */
    size_t max_echo;
    /*
     * A socket bound to a fresh local address of the kind's first or second naming (@second:
     * UDP 127.0.0.1 or ::1, port from the kernel; Unix a path in the case's temp directory or
     * an abstract name), descriptor flags checked, its address in *ret_addr; NULL when that
     * naming is not available here (no IPv6 loopback).
     */
    cio_dgram *(*bind_local)(bool second, cio_addr *ret_addr);
};

extern const struct dgram_kind dgram_kind_udp, dgram_kind_unix;

/* As STREAM_CASE, for the datagram kinds: test_<name>_udp and test_<name>_unix. */
#define DGRAM_CASE(name)                                                                           \
    static void test_##name##_udp(void)                                                            \
    {                                                                                              \
        run(main_##name, (void *)&dgram_kind_udp);                                                 \
    }                                                                                              \
    static void test_##name##_unix(void)                                                           \
    {                                                                                              \
        run(main_##name, (void *)&dgram_kind_unix);                                                \
    }
#define DGRAM_TESTS(name) TEST(test_##name##_udp), TEST(test_##name##_unix)

/* ==== several waiters ==== */

/* Sleep in 1 ms steps until one of the @n tasks has finished (at most @max_ms); returns its
 * index, or -1. */
int wait_first_finished(cio_task *const *tasks, int n, int max_ms);

/* ==== races ==== */

/* A small deterministic generator, so that a failing race replays: 0 to 0x7fff. */
unsigned next_rand(unsigned *state);

/* Set a deadline 0 to 2 ms away (cio_deadline_set); returns the one it replaced. */
cio_time short_deadline(unsigned *rng);

/* Sleep a millisecond one time in four, else yield. */
void pause_a_little(unsigned *rng);

#endif
