/*
 * test_tcp_async_syscalls.c: what a request/response exchange costs in system calls. The
 * program defines recv/send/recvmsg/sendmsg itself (the library is linked statically, so its
 * calls land here), counts them and makes the system call directly. On a ready socket each
 * message must cost exactly one send and one recv per side: the short-read rule clears read
 * readiness after a read that drains the socket, so no read ever fails with EAGAIN before
 * waiting — without the rule the count doubles. On io_uring (CIO_BACKEND=uring) a TCP stream
 * moves its bytes with the ring's requests instead: no recv or send at all.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "test_tcp_async_helpers.h"

static atomic_long recv_calls, send_calls, recv_eagain;

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    atomic_fetch_add(&recv_calls, 1);
    ssize_t n = syscall(SYS_recvfrom, fd, buf, len, flags, NULL, NULL);
    if (n < 0 && errno == EAGAIN)
        atomic_fetch_add(&recv_eagain, 1);
    return n;
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
    atomic_fetch_add(&send_calls, 1);
    return syscall(SYS_sendto, fd, buf, len, flags, NULL, 0);
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    atomic_fetch_add(&recv_calls, 1);
    ssize_t n = syscall(SYS_recvmsg, fd, msg, flags);
    if (n < 0 && errno == EAGAIN)
        atomic_fetch_add(&recv_eagain, 1);
    return n;
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    atomic_fetch_add(&send_calls, 1);
    return syscall(SYS_sendmsg, fd, msg, flags);
}

enum { WARMUP = 5, MESSAGES = 1000, MSG = 64 };

static void *responder(void *arg)
{
    cio_tcp_stream *s = arg;
    char buf[4096];
    for (int i = 0; i < WARMUP + MESSAGES; i++) {
        ssize_t n = CHECK_RC(cio_stream_read(s, buf, sizeof(buf)));
        CHECK_EQ(n, MSG);
        CHECK_RC(cio_stream_write_all(s, buf, (size_t)n, NULL));
    }
    return NULL;
}

static void *main_count(void *arg)
{
    bool vectored = arg != NULL;
    cio_tcp_stream *c, *s;
    tcp_pair(&c, &s);
    CHECK_RC(cio_tcp_set_nodelay(c, true));
    CHECK_RC(cio_tcp_set_nodelay(s, true));
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, responder, s));
    char msg[MSG], buf[4096];
    long recv0 = 0, send0 = 0, eagain0 = 0;
    for (int i = 0; i < WARMUP + MESSAGES; i++) {
        if (i == WARMUP) {
            /* Both sockets are registered by now: count from here. */
            recv0 = atomic_load(&recv_calls);
            send0 = atomic_load(&send_calls);
            eagain0 = atomic_load(&recv_eagain);
        }
        memset(msg, 'a' + i % 26, sizeof(msg));
        ssize_t n;
        if (vectored) {
            struct iovec out[2] = {{msg, 10}, {msg + 10, MSG - 10}};
            CHECK_EQ(cio_stream_writev(c, out, 2), MSG);
            struct iovec in[2] = {{buf, 100}, {buf + 100, sizeof(buf) - 100}};
            n = CHECK_RC(cio_stream_readv(c, in, 2));
        } else {
            CHECK_EQ(cio_stream_write(c, msg, sizeof(msg)), MSG);
            n = CHECK_RC(cio_stream_read(c, buf, sizeof(buf)));
        }
        CHECK_EQ(n, MSG);
        CHECK(memcmp(buf, msg, MSG) == 0);
    }
    long recvs = atomic_load(&recv_calls) - recv0;
    long sends = atomic_load(&send_calls) - send0;
    long eagains = atomic_load(&recv_eagain) - eagain0;
    CHECK_RC(cio_task_join(t, NULL, NULL));
    if (atomic_load(&recv_calls) == 0)
        TEST_SKIP("the library's recv/send calls could not be interposed in this build");
    printf("    %d messages: %ld recv (%ld EAGAIN), %ld send\n", MESSAGES, recvs, eagains, sends);
    if (cio_test_on_uring()) {
        /* The completion way: the ring's multishot receive and its send requests move every
         * byte; once warm, no recv or send system call at all (io_uring_enter, one per
         * scheduler turn, is the only one: bench/counts.sh counts it). */
        CHECK_EQ(sends, 0);
        CHECK_EQ(recvs, 0);
        cio_socket_close(c);
        cio_socket_close(s);
        return NULL;
    }
    /* One send per message each way; one recv per message each way (a rare split segment
     * may cost one more). */
    CHECK_EQ(sends, 2 * MESSAGES);
    CHECK(recvs >= 2 * MESSAGES);
    CHECK(recvs <= 2 * MESSAGES + 4);
    CHECK(eagains <= 2);
    cio_socket_close(c);
    cio_socket_close(s);
    return NULL;
}

static void test_one_recv_one_send_per_message(void)
{
    run(main_count, NULL);
}

static void test_vectored_one_call_per_message(void)
{
    run(main_count, (void *)1);
}

CIO_TEST_MAIN(TEST(test_one_recv_one_send_per_message), TEST(test_vectored_one_call_per_message))
