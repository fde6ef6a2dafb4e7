/*
 * test_poll_errors.c: every error path of the event core's public API — NULL and out-of-range
 * arguments (-EINVAL), double registration (-EEXIST, the first registration left intact),
 * unknown registrations (-ENOENT), bad or closed descriptors (-EBADF), and output parameters
 * left untouched on failure. Bad input must be an error return, never a crash.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cio/poll.h"
#include "harness.h"
#include "poll_helpers.h"

#define SENTINEL ((void *)(uintptr_t)0x5a5a5a5a)

static void test_null_arguments(void)
{
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(4);
    int sv[2];
    unix_pair(sv);

    CHECK_ERR(cio_poll_new(NULL, NULL), -EINVAL);
    CHECK_ERR(cio_poll_register(NULL, sv[0], 1, CIO_READABLE), -EINVAL);
    CHECK_ERR(cio_poll_reregister(NULL, sv[0], 1, CIO_READABLE), -EINVAL);
    CHECK_ERR(cio_poll_deregister(NULL, sv[0]), -EINVAL);
    CHECK_ERR(cio_poll_wait(NULL, events, 0), -EINVAL);
    CHECK_ERR(cio_poll_wait(poll, NULL, 0), -EINVAL);
    CHECK_ERR(cio_poll_wait_ms(NULL, events, 0), -EINVAL);
    CHECK_ERR(cio_poll_wait_ms(poll, NULL, 0), -EINVAL);
    CHECK_ERR(cio_poll_fd(NULL), -EINVAL);
    CHECK_ERR(cio_events_new(NULL, 4), -EINVAL);
    CHECK_EQ(cio_events_capacity(NULL), 0);
    size_t it = 0;
    CHECK(cio_events_next(NULL, &it) == NULL);
    CHECK(cio_events_next(events, NULL) == NULL);
    cio_waker *waker = SENTINEL;
    CHECK_ERR(cio_waker_new(NULL, poll, 1), -EINVAL);
    CHECK_ERR(cio_waker_new(&waker, NULL, 1), -EINVAL);
    CHECK(waker == SENTINEL);
    CHECK_ERR(cio_waker_wake(NULL), -EINVAL);
    /* Freeing NULL is a no-op. */
    cio_poll_free(NULL);
    cio_events_free(NULL);
    cio_waker_free(NULL);

    /* The poll still works after all that. */
    CHECK_RC(cio_poll_register(poll, sv[0], 1, CIO_READABLE));
    write_byte(sv[1]);
    CHECK_EQ(wait_token(poll, events, 1, 1000), CIO_EVENT_READABLE);
    CHECK_RC(cio_poll_deregister(poll, sv[0]));
    close(sv[0]);
    close(sv[1]);
    cio_events_free(events);
    cio_poll_free(poll);
}

static void test_events_capacity_bounds(void)
{
    cio_events *events = SENTINEL;
    CHECK_ERR(cio_events_new(&events, 0), -EINVAL);
    CHECK_ERR(cio_events_new(&events, ((size_t)1 << 20) + 1), -EINVAL);
    CHECK_ERR(cio_events_new(&events, SIZE_MAX), -EINVAL);
    CHECK_ERR(cio_events_new(&events, SIZE_MAX / 2), -EINVAL);
    CHECK(events == SENTINEL);
}

static void test_bad_interest(void)
{
    cio_poll *poll = poll_new_default();
    int sv[2];
    unix_pair(sv);
    static const unsigned bad[] = {0, 1u << 3, 1u << 31, UINT_MAX, CIO_READABLE | (1u << 8)};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_ERR(cio_poll_register(poll, sv[0], 1, bad[i]), -EINVAL);
    /* Nothing was registered by the failures. */
    CHECK_ERR(cio_poll_deregister(poll, sv[0]), -ENOENT);
    CHECK_RC(cio_poll_register(poll, sv[0], 1, CIO_READABLE));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_ERR(cio_poll_reregister(poll, sv[0], 2, bad[i]), -EINVAL);
    /* The registration is intact, with its first token. */
    cio_events *events = events_new(4);
    write_byte(sv[1]);
    struct collected c = {0};
    CHECK_EQ(collect_once(poll, events, CIO_NSEC_PER_SEC, &c), 1);
    CHECK_EQ(c.ev[0].token, 1);
    CHECK_RC(cio_poll_deregister(poll, sv[0]));
    cio_events_free(events);
    close(sv[0]);
    close(sv[1]);
    cio_poll_free(poll);
}

/* -EEXIST for a second registration of one descriptor; the first keeps working unchanged. */
static void test_double_register_eexist(void)
{
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(4);
    int sv[2];
    unix_pair(sv);
    CHECK_RC(cio_poll_register(poll, sv[0], 1, CIO_READABLE));
    CHECK_ERR(cio_poll_register(poll, sv[0], 2, CIO_READABLE), -EEXIST);
    CHECK_ERR(cio_poll_register(poll, sv[0], 3, CIO_WRITABLE), -EEXIST);
    write_byte(sv[1]);
    struct collected c = {0};
    CHECK_EQ(collect_once(poll, events, CIO_NSEC_PER_SEC, &c), 1);
    CHECK_EQ(c.ev[0].token, 1);
    CHECK_EQ(c.ev[0].flags, CIO_EVENT_READABLE); /* not WRITABLE: that interest was refused */
    /* Also when the failed attempt comes while an event of the first is in the batch. */
    write_byte(sv[1]);
    int n = cio_poll_wait(poll, events, CIO_NSEC_PER_SEC);
    CHECK(n >= 1);
    CHECK_ERR(cio_poll_register(poll, sv[0], 4, CIO_READABLE), -EEXIST);
    size_t it = 0;
    const cio_event *ev = cio_events_next(events, &it);
    CHECK(ev != NULL);
    CHECK_EQ(ev->token, 1);
    CHECK_RC(cio_poll_deregister(poll, sv[0]));
    CHECK_ERR(cio_poll_deregister(poll, sv[0]), -ENOENT);
    close(sv[0]);
    close(sv[1]);
    cio_events_free(events);
    cio_poll_free(poll);
}

static void test_unknown_enoent(void)
{
    cio_poll *poll = poll_new_default();
    int sv[2];
    unix_pair(sv);
    CHECK_ERR(cio_poll_reregister(poll, sv[0], 1, CIO_READABLE), -ENOENT);
    CHECK_ERR(cio_poll_deregister(poll, sv[0]), -ENOENT);
    /* Registered elsewhere does not count. */
    cio_poll *other = poll_new_default();
    CHECK_RC(cio_poll_register(other, sv[0], 1, CIO_READABLE));
    CHECK_ERR(cio_poll_reregister(poll, sv[0], 1, CIO_READABLE), -ENOENT);
    CHECK_ERR(cio_poll_deregister(poll, sv[0]), -ENOENT);
    CHECK_RC(cio_poll_deregister(other, sv[0]));
    /* After a deregister, both are -ENOENT again. */
    CHECK_RC(cio_poll_register(poll, sv[0], 1, CIO_READABLE));
    CHECK_RC(cio_poll_deregister(poll, sv[0]));
    CHECK_ERR(cio_poll_reregister(poll, sv[0], 1, CIO_READABLE), -ENOENT);
    CHECK_ERR(cio_poll_deregister(poll, sv[0]), -ENOENT);
    /* The poll's own descriptor (epoll) is not registered with it either. */
    int pfd = cio_poll_fd(poll);
    if (pfd >= 0)
        CHECK_ERR(cio_poll_deregister(poll, pfd), -ENOENT);
    close(sv[0]);
    close(sv[1]);
    cio_poll_free(other);
    cio_poll_free(poll);
}

/* A descriptor number that is not open anywhere near the table. */
static int closed_fd(void)
{
    int sv[2];
    unix_pair(sv);
    close(sv[0]);
    close(sv[1]);
    return sv[0];
}

static void test_bad_fd_ebadf(void)
{
    cio_poll *poll = poll_new_default();
    int fd = closed_fd();
    static const int bad[] = {-1, -2, INT_MIN};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_ERR(cio_poll_register(poll, bad[i], 1, CIO_READABLE), -EBADF);
        CHECK_ERR(cio_poll_reregister(poll, bad[i], 1, CIO_READABLE), -EBADF);
        CHECK_ERR(cio_poll_deregister(poll, bad[i]), -EBADF);
    }
    CHECK_ERR(cio_poll_register(poll, fd, 1, CIO_READABLE), -EBADF);
    CHECK_ERR(cio_poll_reregister(poll, fd, 1, CIO_READABLE), -EBADF);
    CHECK_ERR(cio_poll_deregister(poll, fd), -EBADF);
    /* Numbers far beyond anything open: still a bad descriptor, not an allocation failure. */
    static const int huge[] = {100000, 1 << 24, (1 << 24) + 5, 1 << 30, INT_MAX};
    for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
        CHECK_ERR(cio_poll_register(poll, huge[i], 1, CIO_READABLE), -EBADF);
        CHECK_ERR(cio_poll_reregister(poll, huge[i], 1, CIO_READABLE), -EBADF);
        CHECK_ERR(cio_poll_deregister(poll, huge[i]), -EBADF);
    }
    cio_poll_free(poll);
}

/* A registered descriptor closed without deregistering: reregister and deregister say -EBADF. */
static void test_registered_then_closed_ebadf(void)
{
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(4);
    int sv[2];
    unix_pair(sv);
    CHECK_RC(cio_poll_register(poll, sv[0], 1, CIO_READABLE));
    close(sv[0]);
    CHECK_ERR(cio_poll_reregister(poll, sv[0], 2, CIO_READABLE), -EBADF);
    CHECK_ERR(cio_poll_deregister(poll, sv[0]), -EBADF);
    CHECK_ERR(cio_poll_deregister(poll, sv[0]), -EBADF); /* still a closed descriptor */
    CHECK_ERR(cio_poll_reregister(poll, sv[0], 2, CIO_READABLE), -EBADF);
    struct collected c = {0};
    CHECK_EQ(collect_once(poll, events, 20 * CIO_NSEC_PER_MSEC, &c), 0);
    close(sv[1]);
    cio_events_free(events);
    cio_poll_free(poll);
}

/* A high descriptor number (its registration slot lives far from the first chunk) works like
 * any other. */
static void test_high_fd(void)
{
    struct rlimit rl;
    CHECK_SYS(getrlimit(RLIMIT_NOFILE, &rl));
    rl.rlim_cur = rl.rlim_max;
    CHECK_SYS(setrlimit(RLIMIT_NOFILE, &rl));
    if (rl.rlim_cur < 4096)
        TEST_SKIP("RLIMIT_NOFILE hard limit %ju too low", (uintmax_t)rl.rlim_max);
    int target = rl.rlim_cur > 60001 ? 60000 : (int)rl.rlim_cur - 1;
    int sv[2];
    unix_pair(sv);
    int high = (int)CHECK_SYS(fcntl(sv[0], F_DUPFD_CLOEXEC, target));
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(4);
    CHECK_RC(cio_poll_register(poll, high, 5, CIO_READABLE));
    write_byte(sv[1]);
    CHECK_EQ(wait_token(poll, events, 5, 1000), CIO_EVENT_READABLE);
    CHECK_RC(cio_poll_deregister(poll, high));
    cio_events_free(events);
    cio_poll_free(poll);
    close(high);
    close(sv[0]);
    close(sv[1]);
}

/* epoll cannot watch a regular file (-EPERM); the poll(2) backend can (always ready). */
static void test_regular_file_eperm(void)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/regular", cio_test_tmpdir());
    int fd = (int)CHECK_SYS(open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    cio_poll *poll = poll_new_default();
    if (is_edge(poll)) {
        CHECK_ERR(cio_poll_register(poll, fd, 1, CIO_READABLE), -EPERM);
        CHECK_ERR(cio_poll_register(poll, fd, 1, CIO_WRITABLE), -EPERM);
        /* The failure left nothing behind. */
        CHECK_ERR(cio_poll_deregister(poll, fd), -ENOENT);
    } else {
        CHECK_RC(cio_poll_register(poll, fd, 1, CIO_READABLE));
        CHECK_ERR(cio_poll_register(poll, fd, 1, CIO_READABLE), -EEXIST);
        CHECK_RC(cio_poll_deregister(poll, fd));
    }
    cio_poll_free(poll);
    close(fd);
}

/* Output parameters keep their value when a call fails. */
static void test_ret_untouched_on_failure(void)
{
    cio_poll *poll = SENTINEL;
    cio_poll_options opts = {.backend = (cio_backend)-1};
    CHECK_ERR(cio_poll_new(&poll, &opts), -EINVAL);
    CHECK(poll == SENTINEL);
    cio_events *events = SENTINEL;
    CHECK_ERR(cio_events_new(&events, 0), -EINVAL);
    CHECK(events == SENTINEL);
    poll = poll_new_default();
    cio_waker *first, *second = SENTINEL;
    CHECK_RC(cio_waker_new(&first, poll, 1));
    CHECK_ERR(cio_waker_new(&second, poll, 2), -EEXIST);
    CHECK(second == SENTINEL);
    cio_waker_free(first);
    cio_poll_free(poll);
}

/* cio_strerror knows the codes this layer returns. */
static void test_strerror(void)
{
    static const int codes[] = {-EINVAL, -EEXIST, -ENOENT, -EBADF, -EPERM, -ENOTSUP, -EINTR};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        const char *text = cio_strerror(codes[i]);
        CHECK(text != NULL);
        CHECK(strcmp(text, "Unknown error") != 0);
    }
}

CIO_TEST_MAIN(TEST(test_null_arguments), TEST(test_events_capacity_bounds), TEST(test_bad_interest),
              TEST(test_double_register_eexist), TEST(test_unknown_enoent), TEST(test_bad_fd_ebadf),
              TEST(test_registered_then_closed_ebadf), TEST(test_high_fd),
              TEST(test_regular_file_eperm), TEST(test_ret_untouched_on_failure),
              TEST(test_strerror))
