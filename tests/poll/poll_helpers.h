/*
 * poll_helpers.h: small helpers shared by the event-core tests (tests/poll/test_*.c): a poll on
 * the backend CTest selected, loopback socket pairs, and waits that collect the live events of a
 * batch so a case can assert on tokens and flags. Header-only (static functions) so each test
 * program stays one source file for the build's glob.
 */
#ifndef CIO_TEST_POLL_HELPERS_H
#define CIO_TEST_POLL_HELPERS_H

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cio/poll.h"
#include "harness.h"

#define MAX_COLLECT 256

/* The live events of one or more waits, copied out of the batch. */
struct collected {
    size_t count;
    cio_event ev[MAX_COLLECT];
};

/* The edge-triggered backends, epoll and uring (which follows epoll's rules): each edge told
 * once, a descriptor of their own (cio_poll_fd), regular files refused (-EPERM). poll(2) is
 * level-triggered and none of these. */
static inline bool is_edge(const cio_poll *poll)
{
    return cio_poll_backend(poll) != CIO_BACKEND_POLL;
}

static inline bool is_uring(const cio_poll *poll)
{
    return cio_poll_backend(poll) == CIO_BACKEND_URING;
}

/* A poll on the default backend, which CTest picks through CIO_BACKEND. */
static inline cio_poll *poll_new_default(void)
{
    cio_poll *poll = NULL;
    CHECK_RC(cio_poll_new(&poll, NULL));
    CHECK(poll != NULL);
    return poll;
}

static inline cio_events *events_new(size_t capacity)
{
    cio_events *events = NULL;
    CHECK_RC(cio_events_new(&events, capacity));
    CHECK(events != NULL);
    return events;
}

static inline void unix_pair(int sv[2])
{
    CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
}

/* A connected loopback TCP pair, both ends non-blocking and close-on-exec. */
static inline void tcp_pair(int *ret_client, int *ret_server)
{
    int listener = (int)CHECK_SYS(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(addr);
    CHECK_SYS(bind(listener, (struct sockaddr *)&addr, sizeof(addr)));
    CHECK_SYS(listen(listener, 4));
    CHECK_SYS(getsockname(listener, (struct sockaddr *)&addr, &len));
    int client = (int)CHECK_SYS(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (connect(client, (struct sockaddr *)&addr, sizeof(addr)) < 0 && errno != EINPROGRESS)
        TEST_FAIL("connect: %s", strerror(errno));
    int server = (int)CHECK_SYS(accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC));
    struct pollfd p = {.fd = client, .events = POLLOUT};
    CHECK_EQ(poll(&p, 1, 5000), 1);
    int err = 0;
    socklen_t errlen = sizeof(err);
    CHECK_SYS(getsockopt(client, SOL_SOCKET, SO_ERROR, &err, &errlen));
    CHECK_EQ(err, 0);
    close(listener);
    *ret_client = client;
    *ret_server = server;
}

/* Make the next close of fd send a reset instead of a FIN. */
static inline void set_linger_zero(int fd)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    CHECK_SYS(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
}

/* Read until EAGAIN; returns the bytes read (end of stream stops the loop too). */
static inline size_t drain_fd(int fd)
{
    char buf[4096];
    size_t total = 0;
    for (int i = 0; i < 1000000; i++) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n > 0) {
            total += (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != ECONNRESET)
            TEST_FAIL("read(%d): %s", fd, strerror(errno));
        return total;
    }
    TEST_FAIL("drain_fd(%d) did not reach EAGAIN", fd);
}

/* Write until EAGAIN; returns the bytes written. */
static inline size_t fill_fd(int fd)
{
    static char buf[65536];
    size_t total = 0;
    for (int i = 0; i < 100000; i++) {
        ssize_t n = send(fd, buf, sizeof(buf), MSG_NOSIGNAL);
        if (n > 0) {
            total += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EAGAIN)
            return total;
        TEST_FAIL("send(%d): %s", fd, n < 0 ? strerror(errno) : "returned 0");
    }
    TEST_FAIL("fill_fd(%d) did not reach EAGAIN", fd);
}

static inline void write_byte(int fd)
{
    CHECK_EQ(send(fd, "x", 1, MSG_NOSIGNAL), 1);
}

/* One wait; appends its live events to *out. Returns how many live events it added. */
static inline size_t collect_once(cio_poll *poll, cio_events *events, int64_t timeout_ns,
                                  struct collected *out)
{
    int n = cio_poll_wait(poll, events, timeout_ns);
    if (n < 0)
        TEST_FAIL("cio_poll_wait: %s", cio_strerror(n));
    CHECK(n <= (int)cio_events_capacity(events));
    size_t added = 0;
    const cio_event *ev;
    for (size_t it = 0; (ev = cio_events_next(events, &it)) != NULL;) {
        CHECK(it <= (size_t)n);
        CHECK(ev->flags != 0);
        if (out->count < MAX_COLLECT)
            out->ev[out->count++] = *ev;
        added++;
    }
    return added;
}

/* Waits (up to timeout_ms in total) until an event of token arrives; returns its flags, or 0
 * if none came. Other events are ignored. */
static inline uint32_t wait_token(cio_poll *poll, cio_events *events, cio_token token,
                                  int timeout_ms)
{
    int64_t deadline = cio_test_now_ms() + timeout_ms;
    for (int round = 0; round < 10000; round++) {
        int64_t left = deadline - cio_test_now_ms();
        if (left < 0)
            left = 0;
        int n = cio_poll_wait_ms(poll, events, (int)left);
        if (n < 0)
            TEST_FAIL("cio_poll_wait_ms: %s", cio_strerror(n));
        const cio_event *ev;
        uint32_t flags = 0;
        for (size_t it = 0; (ev = cio_events_next(events, &it)) != NULL;)
            if (ev->token == token)
                flags |= ev->flags;
        if (flags != 0)
            return flags;
        if (left == 0)
            return 0;
    }
    return 0;
}

/* The flags of token in a batch already collected (0 if absent), and how often it occurs. */
static inline uint32_t token_flags(const struct collected *c, cio_token token, int *ret_times)
{
    uint32_t flags = 0;
    int times = 0;
    for (size_t i = 0; i < c->count; i++)
        if (c->ev[i].token == token) {
            flags |= c->ev[i].flags;
            times++;
        }
    if (ret_times != NULL)
        *ret_times = times;
    return flags;
}

/* Waits up to ms milliseconds and checks that no event of token was delivered meanwhile. */
static inline void expect_silence(cio_poll *poll, cio_events *events, cio_token token, int ms)
{
    CHECK_EQ(wait_token(poll, events, token, ms), 0);
}

#endif
