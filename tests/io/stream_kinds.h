/*
 * stream_kinds.h: what differs between the kinds of async socket, so that a test body is
 * written once against the cores (cio/stream.h, cio/dgram.h, cio/socket.h) and run for every
 * kind. Byte streams come in two kinds, TCP and Unix streams (struct stream_kind); datagram
 * sockets in two, UDP and Unix datagrams (struct dgram_kind). A kind's table holds only what
 * the cores cannot do for it: creating listeners, streams, pairs and bound sockets, accepting
 * on the kind's own listener type, the kind's name and the address kind its peers have. The
 * test bodies hold cio_stream / cio_dgram / cio_socket values and call the core functions on
 * them directly; what only one kind has is a test of that kind's own program. The two Unix
 * kinds that carry descriptors, a stream and a datagram socket, have a table of their own
 * (struct unix_kind) for what both do with descriptors. Also here: the helpers the tests share
 * (echo, pattern sink, tasks waiting on one socket of any kind, Unix names, the TCP connect
 * fixtures, a small deterministic generator).
 *
 *     static void *main_echo(void *arg) { const struct stream_kind *k = arg; ... }
 *     STREAM_CASE(echo)
 *     CIO_TEST_MAIN(STREAM_TESTS(echo))   // test_echo_tcp, test_echo_unix
 */
#ifndef CIO_TEST_STREAM_KINDS_H
#define CIO_TEST_STREAM_KINDS_H

#include <stdatomic.h>
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

/* stream_echo_exchange(), then shut down writing: the echo server ends in turn, and @s reads
 * end of stream. */
void stream_echo_to_end(cio_stream *s);

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

/* ==== tasks waiting on one socket, of any kind ==== */

/*
 * A task waiting in one call on a socket: a core's plain read (waiter_stream_read,
 * waiter_dgram_recv), or a call of a test's own (a receive with descriptors or a message, an
 * accept) that reads into @buf. The call's result lands in @rc.
 */
struct waiter {
    cio_socket *sock;
    ssize_t (*call)(struct waiter *w);
    void *ctx; /* for @call */
    atomic_int started;
    ssize_t rc;
    char buf[16];
};

/* cio_stream_read / cio_dgram_recv of @w->sock into @w->buf. */
ssize_t waiter_stream_read(struct waiter *w);
ssize_t waiter_dgram_recv(struct waiter *w);

/* A task (@arg: a struct waiter): note it started, then @rc = @call(w). */
void *waiter_task(void *arg);

/* A task (@arg: a struct waiter): note it started, then @rc = cio_socket_readable(@sock). */
void *waiter_readable_task(void *arg);

/* Sleep in 1 ms steps until one of the @n tasks has finished (at most @max_ms); returns its
 * index, or -1. */
int wait_first_finished(cio_join_handle *const *tasks, int n, int max_ms);

/* Sleep 5 ms, then check that none of the @n tasks has finished: they all wait. */
void check_waiting(cio_join_handle *const *tasks, int n);

/* Sends @len bytes to the socket the waiters wait on; returns what the send returned. */
typedef ssize_t (*send_fn)(void *ctx, const void *buf, size_t len);

/* Send functions: @ctx a cio_stream (cio_stream_write), a connected cio_dgram
 * (cio_dgram_send), or a struct dgram_dest (cio_dgram_send_to). */
ssize_t send_stream(void *ctx, const void *buf, size_t len);
ssize_t send_dgram(void *ctx, const void *buf, size_t len);
struct dgram_dest {
    cio_dgram *from;
    const cio_addr *to;
};
ssize_t send_dgram_to(void *ctx, const void *buf, size_t len);

/*
 * The two tasks @tasks, waiters @w[0] and @w[1] waiting on one socket, take turns: "ONE"
 * (sent by @send) wakes both, one takes it and the other waits on; "TWO" goes to the other.
 * Checks each got its message whole, joins both, and returns the index of the one that took
 * "ONE".
 */
int check_take_turns(cio_join_handle *const tasks[2], struct waiter *const w[2], send_fn send,
                     void *ctx);

/* A task in readable() beside a reader (a waiter making @call) on @sock: the edge that brings
 * "ping" (sent by @send) wakes both, and readable() returns even though the reader, woken
 * first, took the data before it ran (readiness may be stale, never missing). */
void check_readable_beside_reader(cio_socket *sock, ssize_t (*call)(struct waiter *w), send_fn send,
                                  void *ctx);

/* Close @sock under the @n tasks waiting on it (waiters @w, started and not finished): each
 * wakes with -EBADF, promptly. */
void check_close_wakes(cio_socket *sock, cio_join_handle *const *tasks, struct waiter *const *w,
                       int n);

/* A test's own recv with the socket's raw descriptor, for try_io / async_io (@ctx: a
 * cio_socket): bytes, or -errno. */
ssize_t raw_recv(void *ctx);

/* ==== Unix sockets carrying descriptors ==== */

/* What differs between a Unix stream and a Unix datagram socket for a test of descriptor
 * passing (cio_unix_send_fds / cio_unix_recv_fds take either). */
struct unix_kind {
    const char *name;
    /* Two connected, unnamed sockets (socketpair). */
    int (*pair)(cio_socket **ret_a, cio_socket **ret_b);
    /* The core's plain read (cio_stream_read, cio_dgram_recv), for a waiter. */
    ssize_t (*read)(struct waiter *w);
    /* The core's plain write (cio_stream_write, cio_dgram_send to the peer); @sock: a
     * cio_socket of the kind. */
    ssize_t (*send)(void *sock, const void *buf, size_t len);
};

extern const struct unix_kind unix_kind_stream, unix_kind_dgram;

/* As STREAM_CASE, for the two Unix kinds: test_<name>_stream and test_<name>_dgram. */
#define UNIX_CASE(name)                                                                            \
    static void test_##name##_stream(void)                                                         \
    {                                                                                              \
        run(main_##name, (void *)&unix_kind_stream);                                               \
    }                                                                                              \
    static void test_##name##_dgram(void)                                                          \
    {                                                                                              \
        run(main_##name, (void *)&unix_kind_dgram);                                                \
    }
#define UNIX_TESTS(name) TEST(test_##name##_stream), TEST(test_##name##_dgram)

/* A fresh path in the case's private temp directory, named after @what. */
void unix_tmp_path(cio_addr *ret_addr, const char *what);

/* A fresh abstract name, unique to this process. */
void unix_abstract_name(cio_addr *ret_addr);

/* Whether descriptors @a and @b refer to the same open file's inode. */
bool same_file(int a, int b);

/* Queue ACROSS_FDS on the Unix stream @s in five writes, "BBB" carrying both descriptors of
 * @fds and "DDD" the first: Linux ends a read after the bytes of a write that carried
 * descriptors, with more queued behind. */
#define ACROSS_FDS "AAABBBCCCDDDE"
void write_across_fds(cio_unix_stream *s, const int fds[2]);

/* ==== several workers ==== */

/* Spawn @fn on worker @worker of the current runtime. */
cio_join_handle *spawn_on(unsigned worker, cio_task_fn fn, void *arg);

/* ==== TCP connect fixtures ==== */

/* Whether [::1] can be bound here (IPv6 loopback configured); need_ipv6() skips the case
 * when it cannot. */
bool have_ipv6(void);
void need_ipv6(void);

/* A TCP listener on @text ("127.0.0.1:0" or "[::1]:0"), descriptor flags checked; its
 * address in *ret_addr. */
cio_tcp_listener *tcp_listen_at(const char *text, cio_addr *ret_addr, int backlog);

/* The same bound by name (cio_tcp_listener_new_name, @text such as "localhost:0"). */
cio_tcp_listener *tcp_listen_name(const char *text, cio_addr *ret_addr);

/* An address that refuses connections: a port held by a bound socket that does not listen
 * (connects to it get a reset at once). */
struct refuser {
    cio_tcp_socket *sock;
    cio_addr addr;
};
void refuser_open(struct refuser *r, const char *text);
void refuser_close(struct refuser *r);

/*
 * An address that never answers: a loopback listener that never accepts and whose accept
 * queue is full. Linux drops a SYN to a listener whose queue is full (the client retries
 * after 1 s, 3 s... and is dropped again), so a connect to it stays pending. Filled from a
 * task: connect until one connect does not complete within 200 ms (the case is skipped when
 * connects never hang here).
 */
struct hang {
    cio_tcp_listener *l;
    cio_tcp_stream *fill[8];
    int nfill;
    cio_addr addr;
};
void hang_open(struct hang *h, const char *text);
void hang_close(struct hang *h);

/* Two addresses to connect to, of both families: the first fails — never answers (@hangs) or
 * refuses — in one family (IPv6 when @v6_fails), the second is a listener's in the other. */
struct first_fails {
    bool hangs;
    struct hang h;
    struct refuser r;
    cio_tcp_listener *l;
    cio_addr addrs[2]; /* the failing address, then @l's */
};
void first_fails_open(struct first_fails *f, bool v6_fails, bool hangs);
void first_fails_close(struct first_fails *f);

/* ==== races ==== */

/* A small deterministic generator, so that a failing race replays: 0 to 0x7fff. */
unsigned next_rand(unsigned *state);

/* A timeout of 0 to 2 ms, for CIO_TIMEOUT (0: only what is ready now). */
cio_duration short_timeout(unsigned *rng);

/* Sleep a millisecond one time in four, else yield. */
void pause_a_little(unsigned *rng);

#endif
