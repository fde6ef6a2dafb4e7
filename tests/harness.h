/*
 * harness.h: the test harness every test program uses. Each case runs in its own forked
 * process with a timeout (libuv's model), so a crash or a hang fails one case, not the run.
 * Around each case the harness checks that no descriptor was left open. A case calls
 * TEST_SKIP("reason") when it cannot run here; a program whose cases were all skipped exits
 * 77, which CTest reports as skipped.
 *
 *     static void test_something(void) { CHECK_RC(cio_poll_new(&p, NULL)); ... }
 *     CIO_TEST_MAIN(TEST(test_something), TEST(test_other))
 */
#ifndef CIO_TEST_HARNESS_H
#define CIO_TEST_HARNESS_H

#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cio/common.h"

struct cio_test {
    const char *name;
    void (*fn)(void);
};

#define TEST(fn)                                                                                   \
    {                                                                                              \
#fn, fn                                                                                    \
    }
#define CIO_TEST_MAIN(...)                                                                         \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        static const struct cio_test tests_[] = {__VA_ARGS__};                                     \
        return cio_test_main(argc, argv, tests_, sizeof(tests_) / sizeof(tests_[0]));              \
    }

int cio_test_main(int argc, char **argv, const struct cio_test *tests, size_t count);

/* Fail the current case (exits the case's process). */
_Noreturn void cio_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Skip the current case with a reason. */
_Noreturn void cio_test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define TEST_SKIP(...) cio_test_skip(__VA_ARGS__)
#define TEST_FAIL(...) cio_test_fail(__FILE__, __LINE__, __VA_ARGS__)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            cio_test_fail(__FILE__, __LINE__, "CHECK(%s) failed", #cond);                          \
    } while (0)

#define CHECK_EQ(a, b)                                                                             \
    do {                                                                                           \
        intmax_t a_ = (intmax_t)(a), b_ = (intmax_t)(b);                                           \
        if (a_ != b_)                                                                              \
            cio_test_fail(__FILE__, __LINE__, "CHECK_EQ(%s, %s): %jd != %jd", #a, #b, a_, b_);     \
    } while (0)

/* An expression that must succeed (>= 0); on failure prints cio_strerror of the result. */
#define CHECK_RC(expr)                                                                             \
    ({                                                                                             \
        intmax_t rc_ = (intmax_t)(expr);                                                           \
        if (rc_ < 0)                                                                               \
            cio_test_fail(__FILE__, __LINE__, "%s failed: %jd (%s)", #expr, rc_,                   \
                          cio_strerror((int)rc_));                                                 \
        rc_;                                                                                       \
    })

/* An expression that must return exactly the negative errno `err`. */
#define CHECK_ERR(expr, err)                                                                       \
    do {                                                                                           \
        intmax_t rc_ = (intmax_t)(expr);                                                           \
        if (rc_ != (intmax_t)(err))                                                                \
            cio_test_fail(__FILE__, __LINE__, "%s returned %jd (%s), expected %s (%s)", #expr,     \
                          rc_, rc_ < 0 ? cio_strerror((int)rc_) : "success", #err,                 \
                          cio_strerror((int)(err)));                                               \
    } while (0)

/* Join @handle (a cio_join_handle, cio/rt.h) and check that cancellation of the task was
 * requested before it finished. */
/* The calling task cancels itself (cio/rt.h in the test file). */
#define CANCEL_SELF()                                                                              \
    do {                                                                                           \
        cio_abort_handle self_;                                                                    \
        CHECK_RC(cio_task_current_abort_handle(&self_));                                           \
        CHECK_RC(cio_abort_handle_cancel(self_));                                                  \
    } while (0)

#define CHECK_JOIN_CANCELLED(handle)                                                               \
    do {                                                                                           \
        bool cancelled_ = false;                                                                   \
        CHECK_RC(cio_task_join((handle), NULL, &cancelled_));                                      \
        if (!cancelled_)                                                                           \
            cio_test_fail(__FILE__, __LINE__, "%s: the task was not cancelled", #handle);          \
    } while (0)

/* A system call (returning -1 and errno) that must succeed. */
#define CHECK_SYS(expr)                                                                            \
    ({                                                                                             \
        intmax_t r_ = (intmax_t)(expr);                                                            \
        if (r_ < 0)                                                                                \
            cio_test_fail(__FILE__, __LINE__, "%s failed: %m", #expr);                             \
        r_;                                                                                        \
    })

/* True when fd is O_NONBLOCK and FD_CLOEXEC. */
bool cio_test_fd_nonblock_cloexec(int fd);

/* True when the program runs under valgrind. */
bool cio_test_under_valgrind(void);

/* True under qemu-user (the aarch64 cross run: CIO_QEMU set, or the process is qemu): the
 * host process is qemu, whose own page bookkeeping shows in RSS and which reports PROT_NONE
 * guest pages as unmapped to mincore. */
bool cio_test_under_qemu(void);
#define CHECK_FD_FLAGS(fd) CHECK(cio_test_fd_nonblock_cloexec(fd))

/* Declare that the current case leaves @count descriptors open by design (say, a process-wide
 * pipe that lives until exit); the leak check then allows exactly that many new ones. */
void cio_test_expect_new_fds(int count);

/* Under AddressSanitizer, fail the case if LeakSanitizer finds memory nothing points to any
 * more (a case ends with _exit, so LSan's own check at exit never runs for it); elsewhere a
 * no-op. Call it once the runtime is freed: memory a parked task alone points to lives on a
 * coroutine stack, which LSan does not scan. */
void cio_test_check_leaks(void);

/*
 * A gate: threads (blocking-pool jobs, fake system calls) wait at it until the test opens it,
 * so a test can hold a blocking call for as long as it needs. Counts who reached it.
 *
 *     static struct cio_test_gate gate = CIO_TEST_GATE_INIT;
 *     job: cio_test_gate_pass(&gate);        test: cio_test_gate_await(&gate, 1); ...
 *                                                  cio_test_gate_open(&gate);
 */
struct cio_test_gate {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool open;
    int waiting; /* threads that reached it (and those that passed) since the last reset */
};
#define CIO_TEST_GATE_INIT                                                                         \
    {                                                                                              \
        PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0                              \
    }
/* Close it and clear the count. */
void cio_test_gate_reset(struct cio_test_gate *gate);
/* Wait until it is open (at once if it is). */
void cio_test_gate_pass(struct cio_test_gate *gate);
void cio_test_gate_open(struct cio_test_gate *gate);
/* From a task: sleep in 1 ms steps until @count threads reached the gate (fails the case after
 * 5 s). */
void cio_test_gate_await(struct cio_test_gate *gate, int count);

/* Number of open descriptors of this process. */
int cio_test_open_fds(void);

/* Lines of /proc/self/maps: the kernel mappings vm.max_map_count counts (-1 without /proc). */
long cio_test_mapping_count(void);

/* Runs @child in a forked process with its stderr into a pipe; returns the child's wait
 * status, and what it wrote in @out (NUL-terminated, at most @cap - 1 bytes). The child
 * exits with 0 when @child returns. */
int cio_test_run_child(void (*child)(void), char *out, size_t cap);

/* A fresh private directory under $TMPDIR (or /tmp); removed with everything in it at the
 * end of the case. Returns its path (static storage, one per case). */
const char *cio_test_tmpdir(void);

/* Milliseconds of monotonic time. */
int64_t cio_test_now_ms(void);

/* Whether this run's runtime sockets are on io_uring (CIO_BACKEND=uring, and io_uring usable
 * here). There readiness of a poll request is the wake-up's, captured when it happened and told
 * at the next reactor turn: an edge for bytes a task has read meanwhile can still be told once
 * (a spurious readiness the model allows), where epoll looks again before it reports. */
bool cio_test_on_uring(void);

#endif
