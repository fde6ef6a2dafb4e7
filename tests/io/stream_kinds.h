/*
 * stream_kinds.h: one table of operations per kind of async socket, so that a test body is
 * written once and run for every kind. Byte streams come in two kinds, TCP and Unix streams
 * (struct stream_kind); datagram sockets in two, UDP and Unix datagrams (struct dgram_kind).
 * A table's entries call the kind's public functions (cio_tcp_stream_read,
 * cio_unix_stream_read...) through opaque handles (kind_stream, kind_listener...), so a test
 * run for a kind exercises exactly that kind's API. What only one kind has is an optional
 * entry (NULL for the other) or a test of that kind's own program. Also here: the helpers the
 * stream tests share (echo, pattern sink, a small deterministic generator).
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
#include "cio/io.h"
#include "cio/tcp.h"
#include "cio/udp.h"
#include "cio/unix.h"
#include "test_tcp_async_helpers.h"

/* ==== byte streams ==== */

/* Opaque handles: a cio_tcp_* or a cio_unix_* object, per the table they are used with. */
typedef struct kind_stream kind_stream;
typedef struct kind_listener kind_listener;
typedef struct kind_owned_read_half kind_owned_read_half;
typedef struct kind_owned_write_half kind_owned_write_half;

/* Borrowed halves are small caller-owned values: room for either kind's. */
typedef union kind_read_half {
    cio_tcp_read_half tcp_half;
    cio_unix_read_half unix_half;
} kind_read_half;

typedef union kind_write_half {
    cio_tcp_write_half tcp_half;
    cio_unix_write_half unix_half;
} kind_write_half;

struct stream_kind {
    const char *name;
    cio_addr_kind peer_kind; /* what accept reports for a client's address */

    /* ---- setting up (from a task) ---- */
    /* A fresh listener (127.0.0.1, port from the kernel; a path in the case's temp
     * directory), descriptor flags checked; its address in *ret_addr. */
    kind_listener *(*listen)(cio_addr *ret_addr, int backlog);
    int (*connect)(kind_stream **ret_stream, const cio_addr *addr);
    /* Two connected streams without a listener (socketpair), or NULL (TCP has none). */
    int (*socketpair)(kind_stream **ret_a, kind_stream **ret_b);

    /* ---- listeners ---- */
    int (*accept)(kind_listener *listener, kind_stream **ret_stream, cio_addr *ret_peer);
    int (*poll_accept)(kind_listener *listener, kind_stream **ret_stream, cio_addr *ret_peer,
                       cio_wake_fn wake, void *ctx);
    int (*listener_fd)(kind_listener *listener);
    void (*listener_close)(kind_listener *listener);

    /* ---- streams ---- */
    ssize_t (*read)(kind_stream *s, void *buf, size_t len);
    int (*read_exact)(kind_stream *s, void *buf, size_t len, size_t *ret_done);
    ssize_t (*readv)(kind_stream *s, const struct iovec *iov, int iovcnt);
    ssize_t (*peek)(kind_stream *s, void *buf, size_t len);
    ssize_t (*write)(kind_stream *s, const void *buf, size_t len);
    int (*write_all)(kind_stream *s, const void *buf, size_t len, size_t *ret_done);
    ssize_t (*writev)(kind_stream *s, const struct iovec *iov, int iovcnt);
    int (*write_all_v)(kind_stream *s, const struct iovec *iov, int iovcnt, size_t *ret_done);
    int (*shutdown)(kind_stream *s, cio_shutdown how);
    int (*ready)(kind_stream *s, unsigned interest);
    int (*readable)(kind_stream *s);
    int (*writable)(kind_stream *s);
    void (*clear_ready)(kind_stream *s, int ready);
    int (*poll_read_ready)(kind_stream *s, cio_wake_fn wake, void *ctx);
    int (*poll_write_ready)(kind_stream *s, cio_wake_fn wake, void *ctx);
    ssize_t (*poll_peek)(kind_stream *s, void *buf, size_t len, cio_wake_fn wake, void *ctx);
    ssize_t (*try_io)(kind_stream *s, unsigned interest, cio_io_fn fn, void *ctx);
    ssize_t (*async_io)(kind_stream *s, unsigned interest, cio_io_fn fn, void *ctx);
    int (*fd)(kind_stream *s);
    int (*local_addr)(kind_stream *s, cio_addr *ret_addr);
    int (*peer_addr)(kind_stream *s, cio_addr *ret_addr);
    int (*copy)(kind_stream *from, kind_stream *to, uint64_t *ret_bytes);
    int (*copy_bidirectional)(kind_stream *a, kind_stream *b, uint64_t *ret_a_to_b,
                              uint64_t *ret_b_to_a);
    void (*close)(kind_stream *s);
    /* The kind's own further read calls on @s must all be refused with -EBUSY (another task
     * reads): Unix streams' recv_fds; NULL when the kind has none. */
    void (*check_other_reads_busy)(kind_stream *s);

    /* ---- borrowed halves ---- */
    int (*split)(kind_stream *s, kind_read_half *ret_rd, kind_write_half *ret_wr);
    ssize_t (*read_half_read)(const kind_read_half *rd, void *buf, size_t len);
    int (*read_half_read_exact)(const kind_read_half *rd, void *buf, size_t len, size_t *ret_done);
    ssize_t (*read_half_readv)(const kind_read_half *rd, const struct iovec *iov, int iovcnt);
    ssize_t (*read_half_peek)(const kind_read_half *rd, void *buf, size_t len);
    int (*read_half_readable)(const kind_read_half *rd);
    ssize_t (*write_half_write)(const kind_write_half *wr, const void *buf, size_t len);
    int (*write_half_write_all)(const kind_write_half *wr, const void *buf, size_t len,
                                size_t *ret_done);
    ssize_t (*write_half_writev)(const kind_write_half *wr, const struct iovec *iov, int iovcnt);
    int (*write_half_write_all_v)(const kind_write_half *wr, const struct iovec *iov, int iovcnt,
                                  size_t *ret_done);
    int (*write_half_writable)(const kind_write_half *wr);
    int (*write_half_shutdown)(const kind_write_half *wr);

    /* ---- owned halves ---- */
    int (*into_split)(kind_stream *s, kind_owned_read_half **ret_rd,
                      kind_owned_write_half **ret_wr);
    ssize_t (*owned_read)(kind_owned_read_half *rd, void *buf, size_t len);
    int (*owned_read_exact)(kind_owned_read_half *rd, void *buf, size_t len, size_t *ret_done);
    ssize_t (*owned_readv)(kind_owned_read_half *rd, const struct iovec *iov, int iovcnt);
    ssize_t (*owned_peek)(kind_owned_read_half *rd, void *buf, size_t len);
    int (*owned_readable)(kind_owned_read_half *rd);
    kind_stream *(*owned_read_stream)(kind_owned_read_half *rd);
    void (*owned_read_close)(kind_owned_read_half *rd);
    ssize_t (*owned_write)(kind_owned_write_half *wr, const void *buf, size_t len);
    int (*owned_write_all)(kind_owned_write_half *wr, const void *buf, size_t len,
                           size_t *ret_done);
    ssize_t (*owned_writev)(kind_owned_write_half *wr, const struct iovec *iov, int iovcnt);
    int (*owned_write_all_v)(kind_owned_write_half *wr, const struct iovec *iov, int iovcnt,
                             size_t *ret_done);
    int (*owned_writable)(kind_owned_write_half *wr);
    int (*owned_shutdown)(kind_owned_write_half *wr);
    kind_stream *(*owned_write_stream)(kind_owned_write_half *wr);
    void (*owned_forget)(kind_owned_write_half *wr);
    void (*owned_write_close)(kind_owned_write_half *wr);
    int (*reunite)(kind_owned_read_half *rd, kind_owned_write_half *wr, kind_stream **ret_stream);
};

extern const struct stream_kind stream_kind_tcp, stream_kind_unix;

/* A stream and its kind, as one task argument. */
struct stream_ref {
    const struct stream_kind *k;
    kind_stream *s;
};

/* A connected pair through a fresh listener, made with the async calls (from a task):
 * descriptor flags checked, the accepted peer's address that of the client. */
void stream_listener_pair(const struct stream_kind *k, kind_stream **ret_client,
                          kind_stream **ret_server);

/* A connected pair the quickest way the kind has: socketpair for Unix streams, else through
 * a listener. */
void stream_pair(const struct stream_kind *k, kind_stream **ret_a, kind_stream **ret_b);

/* A task: echo what a stream_ref's stream reads until end of stream, then shut down writing. */
void *stream_echo_server(void *arg);

/* Send messages of several sizes (1 B to 1 MiB) through @s to an echo server, checking each
 * comes back byte for byte. */
void stream_echo_exchange(const struct stream_kind *k, kind_stream *s);

/* A task: accept @count connections one after the other on @l (descriptor flags and the
 * peer's address kind checked) and echo each until its end of stream. */
struct stream_acceptor {
    const struct stream_kind *k;
    kind_listener *l;
    int count;
};
void *stream_accept_and_echo(void *arg);

/* A task: read @len pattern bytes (@seed) from @s, checking each. */
struct stream_sink {
    const struct stream_kind *k;
    kind_stream *s;
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

typedef struct kind_dgram kind_dgram; /* a cio_udp_socket or a cio_unix_datagram */

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
    kind_dgram *(*bind_local)(bool second, cio_addr *ret_addr);
    ssize_t (*send)(kind_dgram *d, const void *buf, size_t len);
    ssize_t (*send_to)(kind_dgram *d, const void *buf, size_t len, const cio_addr *addr);
    ssize_t (*recv)(kind_dgram *d, void *buf, size_t len);
    ssize_t (*recv_from)(kind_dgram *d, void *buf, size_t len, cio_addr *ret_from);
    ssize_t (*peek)(kind_dgram *d, void *buf, size_t len);
    ssize_t (*peek_from)(kind_dgram *d, void *buf, size_t len, cio_addr *ret_from);
    ssize_t (*peek_sender)(kind_dgram *d, cio_addr *ret_from);
    int (*ready)(kind_dgram *d, unsigned interest);
    int (*readable)(kind_dgram *d);
    int (*writable)(kind_dgram *d);
    void (*clear_ready)(kind_dgram *d, int ready);
    int (*poll_recv_ready)(kind_dgram *d, cio_wake_fn wake, void *ctx);
    int (*poll_send_ready)(kind_dgram *d, cio_wake_fn wake, void *ctx);
    ssize_t (*poll_recv_from)(kind_dgram *d, void *buf, size_t len, cio_addr *ret_from,
                              cio_wake_fn wake, void *ctx);
    ssize_t (*poll_send_to)(kind_dgram *d, const void *buf, size_t len, const cio_addr *addr,
                            cio_wake_fn wake, void *ctx);
    ssize_t (*try_io)(kind_dgram *d, unsigned interest, cio_io_fn fn, void *ctx);
    ssize_t (*async_io)(kind_dgram *d, unsigned interest, cio_io_fn fn, void *ctx);
    int (*fd)(kind_dgram *d);
    void (*close)(kind_dgram *d);
    /* The kind's own further receive calls on @d must all be refused with -EBUSY (another
     * task receives): UDP's recv_msg, Unix datagrams' recv_fds. */
    void (*check_other_receives_busy)(kind_dgram *d);
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

/* ==== races ==== */

/* A small deterministic generator, so that a failing race replays: 0 to 0x7fff. */
unsigned next_rand(unsigned *state);

/* Set a deadline 0 to 2 ms away (cio_deadline_set); returns the one it replaced. */
cio_time short_deadline(unsigned *rng);

/* Sleep a millisecond one time in four, else yield. */
void pause_a_little(unsigned *rng);

#endif
