/*
 * test_uring_fallback.c: io_uring being unavailable is never a failure. In a case whose seccomp
 * filter makes io_uring_setup fail — EPERM, as kernel.io_uring_disabled or a container's
 * profile make it; ENOSYS, as a kernel without io_uring does — cio_backend_probe() names the
 * reason, a poll asked for io_uring (by its options or by CIO_BACKEND) runs on epoll, and a
 * runtime asked for io_uring serves TCP on epoll. The system call really fails in the kernel:
 * nothing in cio is told to pretend. (Each case runs in its own process: the filter stays
 * there.)
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cio.h"
#include "harness.h"

#if defined(__x86_64__)
#define SECCOMP_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SECCOMP_ARCH AUDIT_ARCH_AARCH64
#endif

/* From here on io_uring_setup fails with @err in this process (and its threads). */
static void deny_io_uring(int err)
{
#if defined(SECCOMP_ARCH) && defined(__NR_io_uring_setup)
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SECCOMP_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof(filter) / sizeof(filter[0]), .filter = filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
        TEST_SKIP("seccomp filters cannot be installed here: %s", strerror(errno));
#else
    (void)err;
    TEST_SKIP("no seccomp filter for this architecture in the test");
#endif
}

/* A poll asked for io_uring works — on epoll — and reports a readable socket. */
static void check_poll_falls_back(const cio_poll_options *opts)
{
    cio_poll *poll;
    cio_events *events;
    CHECK_RC(cio_poll_new(&poll, opts));
    CHECK_EQ(cio_poll_backend(poll), CIO_BACKEND_EPOLL);
    CHECK_RC(cio_events_new(&events, 4));
    int sv[2];
    CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
    CHECK_RC(cio_poll_register(poll, sv[0], 5, CIO_READABLE));
    CHECK_EQ(write(sv[1], "x", 1), 1);
    CHECK_EQ(cio_poll_wait(poll, events, CIO_NSEC_PER_SEC), 1);
    size_t it = 0;
    const cio_event *ev = cio_events_next(events, &it);
    CHECK(ev != NULL && ev->token == 5 && (ev->flags & CIO_EVENT_READABLE));
    CHECK_RC(cio_poll_deregister(poll, sv[0]));
    close(sv[0]);
    close(sv[1]);
    cio_events_free(events);
    cio_poll_free(poll);
}

static void *echo_once(void *arg)
{
    cio_tcp_listener *l = arg;
    cio_tcp_stream *s;
    char buf[64];
    if (cio_tcp_listener_accept(l, &s, NULL) < 0)
        return (void *)1;
    ssize_t n = cio_stream_read(s, buf, sizeof(buf));
    int rc = n > 0 ? cio_stream_write_all(s, buf, (size_t)n, NULL) : -1;
    cio_socket_close(s);
    return rc == 0 ? NULL : (void *)1;
}

static void *main_echo(void *arg)
{
    (void)arg;
    cio_addr addr;
    cio_tcp_listener *l;
    CHECK_RC(cio_addr_parse(&addr, "127.0.0.1:0"));
    CHECK_RC(cio_tcp_listener_new(&l, &addr, 0));
    CHECK_RC(cio_socket_local_addr(l, &addr));
    cio_join_handle *server;
    CHECK_RC(cio_spawn(&server, echo_once, l));
    cio_tcp_stream *c;
    CHECK_RC(cio_tcp_stream_connect_addr(&c, &addr));
    CHECK_RC(cio_stream_write_all(c, "ping", 4, NULL));
    char buf[4];
    CHECK_RC(cio_stream_read_exact(c, buf, 4, NULL));
    CHECK(memcmp(buf, "ping", 4) == 0);
    void *result = (void *)1;
    CHECK_RC(cio_task_join(server, &result, NULL));
    CHECK(result == NULL);
    cio_socket_close(c);
    cio_socket_close(l);
    return NULL;
}

/* A runtime asked for io_uring serves a TCP echo (on epoll). */
static void check_runtime_falls_back(void)
{
    cio_rt *rt;
    cio_rt_options o = {.flavor = CIO_RT_MULTI_THREAD, .workers = 2, .backend = CIO_BACKEND_URING};
    CHECK_RC(cio_rt_new(&rt, &o));
    CHECK_RC(cio_rt_block_on(rt, main_echo, NULL, NULL));
    cio_rt_free(rt);
}

static void check_denied(int err)
{
    int before = cio_backend_probe(CIO_BACKEND_URING);
    if (before == -ENOTSUP)
        printf("    io_uring is not built in or not supported here: the fallback is checked "
               "all the same\n");
    else if (before < 0)
        printf("    io_uring is unavailable already (%s)\n", cio_strerror(before));
    deny_io_uring(err);
    int rc = cio_backend_probe(CIO_BACKEND_URING);
    printf("    io_uring_setup denied with %s: probe says %s\n", strerror(err), cio_strerror(rc));
    if (before == 0)
        CHECK_EQ(rc, -err);
    else
        CHECK(rc < 0);
    cio_poll_options opts = {.backend = CIO_BACKEND_URING};
    check_poll_falls_back(&opts);
    CHECK_SYS(setenv("CIO_BACKEND", "uring", 1));
    check_poll_falls_back(NULL);
    check_runtime_falls_back();
}

static void test_eperm_falls_back_to_epoll(void)
{
    check_denied(EPERM);
}

static void test_enosys_falls_back_to_epoll(void)
{
    check_denied(ENOSYS);
}

/* Where io_uring runs, asking for it gives it. */
static void test_available_is_used(void)
{
    int rc = cio_backend_probe(CIO_BACKEND_URING);
    if (rc < 0)
        TEST_SKIP("io_uring is unavailable here: %s", cio_strerror(rc));
    cio_poll *poll;
    cio_poll_options opts = {.backend = CIO_BACKEND_URING};
    CHECK_RC(cio_poll_new(&poll, &opts));
    CHECK_EQ(cio_poll_backend(poll), CIO_BACKEND_URING);
    CHECK(cio_poll_fd(poll) >= 0);
    cio_poll_free(poll);
    CHECK_ERR(cio_backend_probe((cio_backend)9), -EINVAL);
    CHECK_RC(cio_backend_probe(CIO_BACKEND_EPOLL));
    CHECK_RC(cio_backend_probe(CIO_BACKEND_POLL));
}

CIO_TEST_MAIN(TEST(test_eperm_falls_back_to_epoll), TEST(test_enosys_falls_back_to_epoll),
              TEST(test_available_is_used))
