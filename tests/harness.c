/*
 * harness.c: runs each test case in a forked child with a timeout, checks for leaked
 * descriptors, and turns the outcomes into an exit status CTest understands (0 passed,
 * 1 failed, 77 all skipped).
 *
 * Usage: a test program with no arguments runs every case; with names, only those;
 * --list prints the names. CIO_TEST_TIMEOUT (seconds, default 60) bounds each case;
 * CIO_TEST_NOFORK=1 runs cases in-process (for a debugger; the first failure ends the run).
 */
#include "harness.h"

#include "cio/poll.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cio/rt.h"

#if defined(__SANITIZE_ADDRESS__)
#define CIO_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CIO_TEST_ASAN 1
#endif
#endif
#ifdef CIO_TEST_ASAN
#include <sanitizer/lsan_interface.h>
#endif

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif

#define SKIP_STATUS 77
#define MAX_FDS 4096

static char tmpdir_path[256];
static int expected_new_fds;

/* A coverage build (the coverage preset: --coverage, CIO_COVERAGE) writes its counters from an
 * exit() handler, which the _exit() that ends a case skips: the case writes them itself. */
#ifdef CIO_COVERAGE
void __gcov_dump(void); /* libgcov */
#endif

static _Noreturn void end_case(int status)
{
#ifdef CIO_COVERAGE
    __gcov_dump();
#endif
    _exit(status);
}

void cio_test_expect_new_fds(int count)
{
    expected_new_fds = count;
}

int64_t cio_test_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cio_test_check_leaks(void)
{
#ifdef CIO_TEST_ASAN
    if (__lsan_do_recoverable_leak_check() != 0)
        cio_test_fail(__FILE__, __LINE__, "LeakSanitizer found leaked memory (report above)");
#endif
}

void cio_test_gate_reset(struct cio_test_gate *gate)
{
    pthread_mutex_lock(&gate->lock);
    gate->open = false;
    gate->waiting = 0;
    pthread_mutex_unlock(&gate->lock);
}

void cio_test_gate_pass(struct cio_test_gate *gate)
{
    pthread_mutex_lock(&gate->lock);
    gate->waiting++;
    while (!gate->open)
        pthread_cond_wait(&gate->cond, &gate->lock);
    pthread_mutex_unlock(&gate->lock);
}

void cio_test_gate_open(struct cio_test_gate *gate)
{
    pthread_mutex_lock(&gate->lock);
    gate->open = true;
    pthread_cond_broadcast(&gate->cond);
    pthread_mutex_unlock(&gate->lock);
}

void cio_test_gate_await(struct cio_test_gate *gate, int count)
{
    int reached = 0;
    for (int i = 0; i < 5000; i++) {
        pthread_mutex_lock(&gate->lock);
        reached = gate->waiting;
        pthread_mutex_unlock(&gate->lock);
        if (reached >= count)
            return;
        CHECK(cio_sleep(CIO_NSEC_PER_MSEC) == 0);
    }
    cio_test_fail(__FILE__, __LINE__, "%d of %d threads reached the gate in 5 s", reached, count);
}

bool cio_test_under_valgrind(void)
{
#ifdef RUNNING_ON_VALGRIND
    return RUNNING_ON_VALGRIND != 0;
#else
    return false;
#endif
}

bool cio_test_under_qemu(void)
{
    static int cached = -1;
    if (cached < 0) {
        char line[128];
        cached = getenv("CIO_QEMU") != NULL;
        FILE *f = fopen("/proc/self/status", "re");
        while (!cached && f != NULL && fgets(line, sizeof(line), f) != NULL)
            if (strncmp(line, "Name:", 5) == 0)
                cached = strstr(line, "qemu-") != NULL;
        if (f != NULL)
            fclose(f);
    }
    return cached;
}

bool cio_test_fd_nonblock_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    int fdfl = fcntl(fd, F_GETFD);
    return fl >= 0 && fdfl >= 0 && (fl & O_NONBLOCK) && (fdfl & FD_CLOEXEC);
}

/* The open descriptors, sorted ascending, into fds (at most MAX_FDS); returns the count. */
static int list_fds(int *fds)
{
    int n = 0;
    DIR *dir = opendir("/proc/self/fd");
    if (dir == NULL)
        return -1;
    int self = dirfd(dir);
    struct dirent *de;
    while ((de = readdir(dir)) != NULL && n < MAX_FDS) {
        if (de->d_name[0] == '.')
            continue;
        int fd = atoi(de->d_name);
        if (fd != self)
            fds[n++] = fd;
    }
    closedir(dir);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && fds[j - 1] > fds[j]; j--) {
            int t = fds[j];
            fds[j] = fds[j - 1];
            fds[j - 1] = t;
        }
    return n;
}

long cio_test_mapping_count(void)
{
    FILE *f = fopen("/proc/self/maps", "re");
    if (f == NULL)
        return -1;
    long n = 0;
    int c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

int cio_test_run_child(void (*child)(void), char *out, size_t cap)
{
    int fds[2];
    CHECK_SYS(pipe2(fds, O_CLOEXEC));
    fflush(NULL);
    pid_t pid = CHECK_SYS(fork());
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        child();
        _exit(0);
    }
    close(fds[1]);
    size_t len = 0;
    while (len < cap - 1) {
        ssize_t n = read(fds[0], out + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    out[len] = '\0';
    close(fds[0]);
    int status;
    CHECK_SYS(waitpid(pid, &status, 0));
    return status;
}

int cio_test_open_fds(void)
{
    static int fds[MAX_FDS];
    return list_fds(fds);
}

__attribute__((format(printf, 2, 0))) static void vreport(const char *prefix, const char *fmt,
                                                          va_list ap)
{
    fflush(stdout);
    fprintf(stderr, "%s", prefix);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    fflush(stderr);
}

void cio_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    char prefix[512];
    snprintf(prefix, sizeof(prefix), "    %s:%d: ", file, line);
    va_start(ap, fmt);
    vreport(prefix, fmt, ap);
    va_end(ap);
    end_case(1);
}

void cio_test_skip(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport("    skipped: ", fmt, ap);
    va_end(ap);
    end_case(SKIP_STATUS);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

const char *cio_test_tmpdir(void)
{
    if (tmpdir_path[0] != '\0')
        return tmpdir_path;
    const char *base = getenv("TMPDIR");
    if (base == NULL || *base == '\0')
        base = "/tmp";
    snprintf(tmpdir_path, sizeof(tmpdir_path), "%s/cio-test-XXXXXX", base);
    if (mkdtemp(tmpdir_path) == NULL)
        cio_test_fail(__FILE__, __LINE__, "mkdtemp(%s): %s", tmpdir_path, strerror(errno));
    return tmpdir_path;
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "    timed out\n";
    (void)!write(2, msg, sizeof(msg) - 1);
    _exit(124);
}

/* Runs in the child: the case, then the descriptor check. */
static _Noreturn void run_case(const struct cio_test *t, unsigned timeout_s)
{
    static int before[MAX_FDS], after[MAX_FDS];
    signal(SIGALRM, on_alarm);
    alarm(timeout_s);
    int nbefore = list_fds(before);
    t->fn();
    int nafter = list_fds(after);
    if (tmpdir_path[0] != '\0')
        nftw(tmpdir_path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (nbefore >= 0 && nafter >= 0) {
        if (expected_new_fds > 0 && nafter - nbefore != expected_new_fds)
            cio_test_fail(__FILE__, __LINE__, "%s: %d new descriptors, expected %d", t->name,
                          nafter - nbefore, expected_new_fds);
        for (int i = 0; i < nafter && expected_new_fds == 0; i++) {
            bool known = false;
            for (int j = 0; j < nbefore && !known; j++)
                known = before[j] == after[i];
            if (!known) {
                char link[64], target[256] = "?";
                snprintf(link, sizeof(link), "/proc/self/fd/%d", after[i]);
                ssize_t len = readlink(link, target, sizeof(target) - 1);
                if (len >= 0)
                    target[len] = '\0';
                cio_test_fail(__FILE__, __LINE__, "descriptor %d (%s) left open by %s", after[i],
                              target, t->name);
            }
        }
    }
    fflush(stdout);
    end_case(0);
}

int cio_test_main(int argc, char **argv, const struct cio_test *tests, size_t count)
{
    unsigned timeout_s = 60;
    const char *env = getenv("CIO_TEST_TIMEOUT");
    if (env != NULL && atoi(env) > 0)
        timeout_s = (unsigned)atoi(env);
    bool nofork = getenv("CIO_TEST_NOFORK") != NULL;

    if (argc > 1 && strcmp(argv[1], "--list") == 0) {
        for (size_t i = 0; i < count; i++)
            printf("%s\n", tests[i].name);
        return 0;
    }
    /* A test must never die of SIGPIPE because of cio; keep the default disposition so that
     * a write without MSG_NOSIGNAL would kill the case and show. */
    signal(SIGPIPE, SIG_DFL);
    setvbuf(stdout, NULL, _IOLBF, 0);

    size_t passed = 0, failed = 0, skipped = 0, selected = 0;
    for (size_t i = 0; i < count; i++) {
        const struct cio_test *t = &tests[i];
        if (argc > 1) {
            bool wanted = false;
            for (int a = 1; a < argc && !wanted; a++)
                wanted = strcmp(argv[a], t->name) == 0;
            if (!wanted)
                continue;
        }
        selected++;
        printf("[ RUN  ] %s\n", t->name);
        int64_t start = cio_test_now_ms();
        int status;
        if (nofork) {
            t->fn();
            status = 0;
        } else {
            pid_t pid = fork();
            if (pid < 0) {
                perror("fork");
                return 1;
            }
            if (pid == 0)
                run_case(t, timeout_s);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        }
        int64_t ms = cio_test_now_ms() - start;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            passed++;
            printf("[  OK  ] %s (%" PRId64 " ms)\n", t->name, ms);
        } else if (WIFEXITED(status) && WEXITSTATUS(status) == SKIP_STATUS) {
            skipped++;
            printf("[ SKIP ] %s\n", t->name);
        } else {
            failed++;
            if (WIFSIGNALED(status))
                printf("[ FAIL ] %s (killed by signal %d: %s)\n", t->name, WTERMSIG(status),
                       strsignal(WTERMSIG(status)));
            else
                printf("[ FAIL ] %s (exit %d)\n", t->name, WEXITSTATUS(status));
        }
    }
    if (selected == 0) {
        fprintf(stderr, "no test case matched\n");
        return 1;
    }
    printf("%zu passed, %zu failed, %zu skipped\n", passed, failed, skipped);
    if (failed > 0)
        return 1;
    if (passed == 0 && skipped > 0)
        return SKIP_STATUS;
    return 0;
}

bool cio_test_on_uring(void)
{
    const char *env = getenv("CIO_BACKEND");
    return env != NULL && strcmp(env, "uring") == 0 && cio_backend_probe(CIO_BACKEND_URING) == 0;
}
