/*
 * test_stack.c: coroutine stacks — sizes and their rounding, the guard page, lazy commit,
 * the pool (reuse, released pages, its bound, per-size reuse), and stack-overflow reports: a
 * guard-page hit in a coroutine must print the coroutine's name and stack size and abort,
 * while any other segmentation fault still reaches the handler installed before cio's.
 */
/* cio-test-labels: threads */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "rt/coro.h"
#include "rt/stack.h"

#define KIB ((size_t)1024)

static size_t page;

static void setup(void)
{
    page = cio__stack_page_size();
    CHECK(page >= 4096 && (page & (page - 1)) == 0);
}

/* Resident pages of [addr, addr + len) (mincore), or -1 if any of it is not mapped. */
static long resident_pages(const void *addr, size_t len)
{
    size_t n = (len + page - 1) / page;
    unsigned char vec[4096];
    if (n > sizeof(vec))
        TEST_FAIL("range too long for the test's mincore vector");
    if (mincore((void *)addr, len, vec) < 0)
        return errno == ENOMEM ? -1 : -2;
    long count = 0;
    for (size_t i = 0; i < n; i++)
        count += vec[i] & 1;
    return count;
}

static void touch_all(struct cio__stack *st)
{
    for (size_t off = 0; off < st->size; off += page)
        ((volatile char *)st->lo)[off] = 1;
}

static void test_sizes(void)
{
    size_t size;
    setup();
    CHECK_RC(cio__stack_size_round(0, 0, &size));
    CHECK_EQ(size, CIO__STACK_DEFAULT_SIZE);
    CHECK_RC(cio__stack_size_round(0, 100 * KIB, &size));
    CHECK_EQ(size, 100 * KIB);
    CHECK_RC(cio__stack_size_round(100 * KIB + 1, 0, &size));
    CHECK_EQ(size, 100 * KIB + page);
    CHECK_RC(cio__stack_size_round(CIO__STACK_MIN_SIZE, 0, &size));
    CHECK_EQ(size, CIO__STACK_MIN_SIZE);
    CHECK_RC(cio__stack_size_round(CIO__STACK_MAX_SIZE, 0, &size));
    CHECK_EQ(size, CIO__STACK_MAX_SIZE);
    size = 12345;
    CHECK_ERR(cio__stack_size_round(CIO__STACK_MIN_SIZE - page, 0, &size), -EINVAL);
    CHECK_ERR(cio__stack_size_round(CIO__STACK_MAX_SIZE + 1, 0, &size), -EINVAL);
    CHECK_ERR(cio__stack_size_round(SIZE_MAX, 0, &size), -EINVAL);
    CHECK_ERR(cio__stack_size_round(0, SIZE_MAX - 1, &size), -EINVAL);
    CHECK_EQ(size, 12345); /* untouched on failure */

    struct cio__stack st;
    CHECK_RC(cio__stack_map(&st, 40 * KIB + 1));
    CHECK_EQ(st.size, 40 * KIB + page);
    CHECK(((uintptr_t)st.lo & (page - 1)) == 0);
    touch_all(&st);
    cio__stack_unmap(&st);
    CHECK_ERR(cio__stack_map(&st, 1), -EINVAL);

    struct cio__stack_pool *pool;
    CHECK_ERR(cio__stack_pool_new(NULL, 0, 0), -EINVAL);
    CHECK_ERR(cio__stack_pool_new(&pool, 1, 0), -EINVAL);
    CHECK_ERR(cio__stack_pool_new(&pool, 0, SIZE_MAX / 2), -EINVAL);
    CHECK_RC(cio__stack_pool_new(&pool, 48 * KIB - 100, 2));
    CHECK_EQ(cio__stack_pool_default_size(pool), 48 * KIB);
    CHECK_ERR(cio__stack_pool_get(pool, 1, &st), -EINVAL);
    CHECK_ERR(cio__stack_pool_get(NULL, 0, &st), -EINVAL);
    CHECK_ERR(cio__stack_pool_get(pool, 0, NULL), -EINVAL);
    CHECK_RC(cio__stack_pool_get(pool, 0, &st));
    CHECK_EQ(st.size, 48 * KIB);
    cio__stack_pool_put(pool, &st);
    CHECK_RC(cio__stack_pool_get(pool, 2 * 1024 * KIB, &st));
    CHECK_EQ(st.size, 2 * 1024 * KIB);
    cio__stack_pool_put(pool, &st);
    cio__stack_pool_free(pool);
    cio__stack_pool_free(NULL);
}

static void test_lazy_commit(void)
{
    struct cio__stack st;
    setup();
    CHECK_RC(cio__stack_map(&st, 1024 * KIB));
    /* Reserved, not committed: nothing resident until touched. */
    CHECK_EQ(resident_pages(st.lo, st.size), 0);
    char *top = cio__stack_top(&st);
    top[-1] = 1;
    top[-(long)page - 1] = 2;
    st.lo[0] = 3;
    CHECK_EQ(resident_pages(st.lo, st.size), 3);
    /* The guard page is mapped (mincore succeeds) but inaccessible. */
    if (cio_test_under_qemu())
        printf(
            "    qemu-user: mincore on the PROT_NONE guard page not checked (qemu says ENOMEM)\n");
    else
        CHECK_EQ(resident_pages(st.lo - page, page), 0);
    cio__stack_unmap(&st);
    CHECK(resident_pages(top - page, page) <= 0); /* back to its arena, released, or unmapped */
}

/* The guard page really is PROT_NONE: touching it faults (checked in a child, with no cio
 * handler installed, so the default action shows). */
static void test_guard_page_faults(void)
{
    struct cio__stack st;
    setup();
    CHECK_RC(cio__stack_map(&st, 0));
    fflush(NULL);
    pid_t pid = CHECK_SYS(fork());
    if (pid == 0) {
        signal(SIGSEGV, SIG_DFL);
        ((volatile char *)st.lo)[-1] = 1;
        _exit(0);
    }
    int status;
    CHECK_SYS(waitpid(pid, &status, 0));
    CHECK(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0));
    if (WIFSIGNALED(status))
        CHECK_EQ(WTERMSIG(status), SIGSEGV);
    cio__stack_unmap(&st);
}

/* A byte of a stack resting in the pool, which ASan builds poison on purpose (stack.c). */
__attribute__((no_sanitize_address)) static char pooled_byte(const volatile char *p)
{
    return *p;
}

static void test_pool_reuse_releases_pages(void)
{
    struct cio__stack_pool *pool;
    struct cio__stack st, again;
    setup();
    CHECK_RC(cio__stack_pool_new(&pool, 256 * KIB, 4));
    CHECK_RC(cio__stack_pool_get(pool, 0, &st));
    CHECK_EQ(cio__stack_pool_cached(pool), 0);
    touch_all(&st);
    long pages = (long)(st.size / page);
    CHECK_EQ(resident_pages(st.lo, st.size), pages);
    char *lo = st.lo;
    cio__stack_pool_put(pool, &st);
    CHECK_EQ(cio__stack_pool_cached(pool), 1);
    /* Everything but the top page went back to the kernel; the mapping stays. */
    CHECK_EQ(resident_pages(lo, 256 * KIB - page), 0);
    CHECK_EQ(resident_pages(lo + 256 * KIB - page, page), 1);
    CHECK_EQ(pooled_byte(lo), 0);          /* released pages read as zeros */
    CHECK_EQ(resident_pages(lo, page), 1); /* (that read faulted one back in) */
    /* The same stack comes back. */
    CHECK_RC(cio__stack_pool_get(pool, 0, &again));
    CHECK(again.lo == lo);
    CHECK_EQ(again.size, 256 * KIB);
    CHECK_EQ(cio__stack_pool_cached(pool), 0);
    touch_all(&again);
    cio__stack_pool_put(pool, &again);
    cio__stack_pool_free(pool);
    CHECK(resident_pages(lo, page) <= 0); /* freeing the pool gives its stacks back */
}

/* RSS, as the kernel counts it, drops when a used stack is pooled. */
static long rss_pages(void)
{
    FILE *f = fopen("/proc/self/statm", "re");
    long size = 0, resident = -1;
    if (f == NULL)
        return -1;
    if (fscanf(f, "%ld %ld", &size, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident;
}

static void test_pool_release_lowers_rss(void)
{
    struct cio__stack_pool *pool;
    struct cio__stack st[8];
    setup();
    CHECK_RC(cio__stack_pool_new(&pool, 512 * KIB, 8));
    for (int i = 0; i < 8; i++)
        CHECK_RC(cio__stack_pool_get(pool, 0, &st[i]));
    long before = rss_pages();
    for (int i = 0; i < 8; i++)
        touch_all(&st[i]);
    long touched = rss_pages();
    long expect = 8 * (long)(512 * KIB / page);
    CHECK(touched - before >= expect * 9 / 10);
    for (int i = 0; i < 8; i++)
        cio__stack_pool_put(pool, &st[i]);
    long after = rss_pages();
    printf("    RSS: %ld pages before, +%ld touched, %+ld after pooling 8 stacks\n", before,
           touched - before, after - before);
    /* The kept top pages and some slack; ASan also keeps the shadow it wrote to unpoison the
     * stacks (an eighth of their size) and its own bookkeeping. */
    long slack = 8 * 2 + 8 + 2 + (CIO__ASAN ? expect / 4 : 0); /* + 2: arena bookkeeping */
    if (!CIO__TSAN) /* TSan's shadow is several times the memory it covers */
        CHECK(after - before <= slack);
    cio__stack_pool_free(pool);
}

static void test_pool_bound(void)
{
    struct cio__stack_pool *pool;
    struct cio__stack st[3];
    setup();
    CHECK_RC(cio__stack_pool_new(&pool, 0, 2));
    for (int i = 0; i < 3; i++)
        CHECK_RC(cio__stack_pool_get(pool, 0, &st[i]));
    char *lo2 = st[2].lo;
    for (int i = 0; i < 3; i++)
        cio__stack_pool_put(pool, &st[i]);
    CHECK_EQ(cio__stack_pool_cached(pool), 2);
    CHECK(resident_pages(lo2, page) <= 0); /* the third went back, released */
    cio__stack_pool_free(pool);

    /* max_cached 0: a pool that only maps and unmaps. */
    CHECK_RC(cio__stack_pool_new(&pool, 0, 0));
    CHECK_RC(cio__stack_pool_get(pool, 0, &st[0]));
    char *lo = st[0].lo;
    cio__stack_pool_put(pool, &st[0]);
    CHECK_EQ(cio__stack_pool_cached(pool), 0);
    CHECK(resident_pages(lo, page) <= 0);
    cio__stack_pool_free(pool);
}

static void test_pool_sizes(void)
{
    struct cio__stack_pool *pool;
    struct cio__stack small, big, again;
    setup();
    CHECK_RC(cio__stack_pool_new(&pool, 64 * KIB, 8));
    CHECK_RC(cio__stack_pool_get(pool, 0, &small));
    CHECK_RC(cio__stack_pool_get(pool, 128 * KIB, &big));
    CHECK_EQ(small.size, 64 * KIB);
    CHECK_EQ(big.size, 128 * KIB);
    char *small_lo = small.lo, *big_lo = big.lo;
    cio__stack_pool_put(pool, &small);
    cio__stack_pool_put(pool, &big); /* now on top */
    /* A default request skips the cached 128 KiB stack and takes the 64 KiB one. */
    CHECK_RC(cio__stack_pool_get(pool, 0, &again));
    CHECK(again.lo == small_lo);
    cio__stack_pool_put(pool, &again);
    CHECK_RC(cio__stack_pool_get(pool, 128 * KIB - 10, &again));
    CHECK(again.lo == big_lo);
    CHECK_EQ(again.size, 128 * KIB);
    cio__stack_pool_put(pool, &again);
    /* A size nobody returned: a new mapping. */
    CHECK_RC(cio__stack_pool_get(pool, 96 * KIB, &again));
    CHECK(again.lo != small_lo && again.lo != big_lo);
    CHECK_EQ(cio__stack_pool_cached(pool), 2);
    cio__stack_pool_put(pool, &again);
    CHECK_EQ(cio__stack_pool_cached(pool), 3);
    cio__stack_pool_free(pool);
}

/* ---- overflow reports ---- */

static struct cio__coro main_ctx;

static __attribute__((noinline)) long overflow_recurse(volatile long *depth_limit, long depth)
{
    volatile char frame[400];
    frame[0] = (char)depth;
    if (depth >= *depth_limit) /* never: the limit is beyond any stack */
        return frame[0];
    return overflow_recurse(depth_limit, depth + 1) + frame[0];
}

static void overflow_body(void *arg)
{
    volatile long limit = 1L << 40;
    *(long *)arg = overflow_recurse(&limit, 0);
}

static void overflow_child(void)
{
    struct cio__coro co;
    long result = 0;
    if (cio__stack_overflow_handler_install() < 0)
        _exit(90);
    if (cio__coro_thread_init(&main_ctx, "main") < 0)
        _exit(91);
    if (cio__coro_create(&co, NULL, 32 * KIB, overflow_body, &result, "deep-recursor") < 0)
        _exit(92);
    cio__coro_switch(&main_ctx, &co);
    _exit(93); /* the recursion cannot finish */
}

static void expect_overflow_report(int status, const char *out, const char *name, size_t size)
{
    char want[128];
    snprintf(want, sizeof(want), "coroutine \"%s\" overflowed its %zu-byte stack", name, size);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
        TEST_FAIL("child: status %#x (wanted death by SIGABRT); stderr: %s", status, out);
    if (strstr(out, "cio: stack overflow: ") == NULL || strstr(out, want) == NULL)
        TEST_FAIL("child's stderr lacks '%s': %s", want, out);
}

static void test_overflow_reported(void)
{
    char out[4096];
    setup();
    int status = cio_test_run_child(overflow_child, out, sizeof(out));
    expect_overflow_report(status, out, "deep-recursor", 32 * KIB);
}

/* The same from a second thread, which needs its own sigaltstack. */
static void *overflow_thread(void *arg)
{
    (void)arg;
    overflow_child();
    return NULL;
}

static void overflow_in_thread_child(void)
{
    pthread_t thread;
    if (pthread_create(&thread, NULL, overflow_thread, NULL) != 0)
        _exit(94);
    pthread_join(thread, NULL);
    _exit(95);
}

static void test_overflow_reported_in_thread(void)
{
    char out[4096];
    setup();
    int status = cio_test_run_child(overflow_in_thread_child, out, sizeof(out));
    expect_overflow_report(status, out, "deep-recursor", 32 * KIB);
}

/* A fault outside any guard page goes to the handler that was there before cio's. */
static void previous_handler(int sig)
{
    (void)sig;
    static const char msg[] = "previous handler ran\n";
    (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
    _exit(42);
}

static void chained_child(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = previous_handler;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, NULL) < 0)
        _exit(96);
    if (cio__stack_overflow_handler_install() < 0)
        _exit(90);
    if (cio__stack_overflow_handler_install() < 0) /* twice is harmless */
        _exit(90);
    void *p = mmap(NULL, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        _exit(97);
    *(volatile char *)p = 1; /* a PROT_NONE page that is no stack's guard */
    _exit(98);
}

static void test_other_faults_chain(void)
{
    char out[4096];
    setup();
    if (cio_test_under_valgrind())
        TEST_SKIP("under valgrind --error-exitcode the intentional fault's report replaces the "
                  "previous handler's exit status");
    int status = cio_test_run_child(chained_child, out, sizeof(out));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 42)
        TEST_FAIL("child: status %#x (wanted exit 42 from the previous handler); stderr: %s",
                  status, out);
    CHECK(strstr(out, "previous handler ran") != NULL);
    CHECK(strstr(out, "stack overflow") == NULL);
}

static void default_child(void)
{
    if (cio__stack_overflow_handler_install() < 0)
        _exit(90);
    volatile char *volatile null = NULL;
    *null = 1;
    _exit(98);
}

static void test_other_faults_default_action(void)
{
    char out[4096];
    setup();
    int status = cio_test_run_child(default_child, out, sizeof(out));
    CHECK(strstr(out, "stack overflow") == NULL);
    /* Plain builds die of SIGSEGV; under a sanitizer its own SEGV report runs (it was the
     * handler before cio's) and exits non-zero. Either way: not cio's abort. */
    if (CIO__ASAN || CIO__TSAN)
        CHECK(!(WIFEXITED(status) && WEXITSTATUS(status) == 0));
    else if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSEGV)
        TEST_FAIL("child: status %#x, wanted death by SIGSEGV; stderr: %s", status, out);
    CHECK(!(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT));
}

/* A thread that has its own alternate signal stack keeps it; uninstall removes only ours. */
static void test_altstack_ownership(void)
{
    setup();
    stack_t mine, now;
    static char altstack[256 * 1024];
    /* Start without one (ASan gives every thread its own: set it aside for the case). */
    stack_t off = {.ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE};
    CHECK_SYS(sigaltstack(&off, NULL));
    CHECK_RC(cio__stack_overflow_handler_install());
    CHECK_SYS(sigaltstack(NULL, &now));
    CHECK(!(now.ss_flags & SS_DISABLE));
    CHECK(now.ss_size >= 32 * KIB);
    cio__stack_overflow_handler_uninstall();
    CHECK_SYS(sigaltstack(NULL, &now));
    CHECK(now.ss_flags & SS_DISABLE);

    mine.ss_sp = altstack;
    mine.ss_size = sizeof(altstack);
    mine.ss_flags = 0;
    CHECK_SYS(sigaltstack(&mine, NULL));
    CHECK_RC(cio__stack_overflow_handler_install());
    CHECK_SYS(sigaltstack(NULL, &now));
    CHECK(now.ss_sp == altstack);
    cio__stack_overflow_handler_uninstall();
    CHECK_SYS(sigaltstack(NULL, &now));
    CHECK(now.ss_sp == altstack && !(now.ss_flags & SS_DISABLE));
}

/* ---- arenas ---- */

static void need_arenas(void)
{
    if (!cio__stack_arenas_used())
        TEST_SKIP("no guard regions on this kernel (MADV_GUARD_INSTALL needs Linux 6.13; "
                  "qemu-user ignores it): every stack is its own mapping");
}

/* Hundreds of stacks share a handful of mappings, each still behind a guard of its own that
 * sits right above the stack below it; given back, they leave no memory and no mapping. */
static void test_arena_shares_mappings(void)
{
    enum { N = 300 };
    static struct cio__stack st[N];
    setup();
    need_arenas();
    const size_t size = 24 * KIB; /* a size no other case uses: arenas of its own */
    long maps_before = cio_test_mapping_count();
    size_t arenas_before = cio__stack_arena_count();
    for (int i = 0; i < N; i++) {
        CHECK_RC(cio__stack_map(&st[i], size));
        CHECK(st[i].arena != NULL);
        cio__stack_top(&st[i])[-1] = (char)i; /* one page each */
    }
    long maps_during = cio_test_mapping_count();
    size_t arenas = cio__stack_arena_count() - arenas_before;
    printf("    %d stacks: %zu arenas, %+ld kernel mappings\n", N, arenas,
           maps_during - maps_before);
    CHECK(arenas >= 1 && arenas <= 6); /* 16, 16, 32, 64, 128, 256 slots */
    /* Not one per stack (two each before arenas); exactly the arenas or fewer (neighbours
     * merge) where no sanitizer's allocator maps memory of its own meanwhile. */
    CHECK(maps_during - maps_before < N / 2);
    if (!CIO__ASAN && !CIO__TSAN)
        CHECK(maps_during - maps_before <= (long)arenas);
    /* Slots follow each other: the guard of one is right above the top of the previous. */
    int adjacent = 0;
    for (int i = 1; i < N; i++)
        adjacent += st[i].lo == cio__stack_top(&st[i - 1]) + page;
    CHECK(adjacent >= N - 8);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(cio__stack_top(&st[i])[-1], (char)i);
        CHECK_EQ(resident_pages(st[i].lo, st[i].size), 1);
        CHECK_EQ(resident_pages(st[i].lo - page, page), 0); /* the guard: never resident */
    }
    /* Every guard faults, in the middle of an arena too. */
    for (int i = 0; i < N; i += N / 7) {
        fflush(NULL);
        pid_t pid = CHECK_SYS(fork());
        if (pid == 0) {
            signal(SIGSEGV, SIG_DFL);
            ((volatile char *)st[i].lo)[-1] = 1;
            _exit(0);
        }
        int status;
        CHECK_SYS(waitpid(pid, &status, 0));
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSEGV)
            TEST_FAIL("stack %d: a write to its guard gave status %#x, not SIGSEGV", i, status);
    }
    static char *tops[N];
    for (int i = 0; i < N; i++)
        tops[i] = cio__stack_top(&st[i]);
    long rss_before = rss_pages();
    for (int i = 0; i < N; i++)
        cio__stack_unmap(&st[i]);
    long rss_after = rss_pages();
    printf("    given back: RSS %+ld pages, %zu arenas left\n", rss_after - rss_before,
           cio__stack_arena_count() - arenas_before);
    for (int i = 0; i < N; i++) /* released in the arena kept, or unmapped with the others */
        CHECK(resident_pages(tops[i] - page, page) <= 0);
    if (!CIO__ASAN && !CIO__TSAN) /* they write shadow for the stacks they unpoison */
        CHECK(rss_after - rss_before <= -(N * 9 / 10));
    CHECK(cio__stack_arena_count() - arenas_before <= 1); /* one kept for the next stacks */
    if (!CIO__ASAN && !CIO__TSAN)
        CHECK(cio_test_mapping_count() - maps_before <= 1);
}

/* Stacks are reused: mapping and unmapping a stack many times over, in bursts, neither grows
 * the arenas nor the resident set. */
static void test_arena_reuse_bounded(void)
{
    enum { BURST = 64, ROUNDS = 2000 };
    static struct cio__stack st[BURST];
    setup();
    need_arenas();
    const size_t size = 28 * KIB;
    size_t arenas_before = cio__stack_arena_count();
    long rss_before = 0;
    for (int round = 0; round < ROUNDS; round++) {
        if (round == BURST) /* after one of each burst size: the registry and arenas exist */
            rss_before = rss_pages();
        int n = 1 + round % BURST;
        for (int i = 0; i < n; i++) {
            CHECK_RC(cio__stack_map(&st[i], size));
            cio__stack_top(&st[i])[-1] = 1;
            st[i].lo[0] = 1;
        }
        for (int i = n; i-- > 0;)
            cio__stack_unmap(&st[i]);
    }
    long rss_after = rss_pages();
    size_t arenas = cio__stack_arena_count() - arenas_before;
    printf("    %d rounds of up to %d stacks: %zu arenas, RSS %+ld pages\n", ROUNDS, BURST, arenas,
           rss_after - rss_before);
    CHECK(arenas <= 1);
    /* The kernel's RSS counter is approximate (per-CPU batches of up to 64 pages); a leak
     * would be up to 128 pages a round. Sanitizers and valgrind keep their shadow of the
     * touched pages. */
    if (!CIO__TSAN && !CIO__ASAN && !cio_test_under_valgrind())
        CHECK(rss_after - rss_before <= 64);
}

/* Threads mapping and unmapping stacks of one size at once: every stack they get is theirs
 * alone (a pattern written at both ends survives the others' work), and the arenas shrink
 * back when they are done. */
enum { THREADS = 4, THREAD_ROUNDS = 300, THREAD_HELD = 24 };

static void *arena_thread(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    struct cio__stack st[THREAD_HELD];
    for (int round = 0; round < THREAD_ROUNDS; round++) {
        int n = 1 + (int)((id + (uintptr_t)round) % THREAD_HELD);
        for (int i = 0; i < n; i++) {
            if (cio__stack_map(&st[i], 36 * KIB) < 0)
                return (void *)1;
            char mark = (char)(id * 31 + (uintptr_t)i);
            st[i].lo[0] = mark;
            cio__stack_top(&st[i])[-1] = mark;
        }
        for (int i = 0; i < n; i++) {
            char mark = (char)(id * 31 + (uintptr_t)i);
            if (st[i].lo[0] != mark || cio__stack_top(&st[i])[-1] != mark)
                return (void *)2;
        }
        for (int i = n; i-- > 0;)
            cio__stack_unmap(&st[i]);
    }
    return NULL;
}

static void test_arena_threads(void)
{
    pthread_t threads[THREADS];
    setup();
    need_arenas();
    size_t arenas_before = cio__stack_arena_count();
    for (uintptr_t i = 0; i < THREADS; i++)
        CHECK_EQ(pthread_create(&threads[i], NULL, arena_thread, (void *)i), 0);
    for (int i = 0; i < THREADS; i++) {
        void *result;
        CHECK_EQ(pthread_join(threads[i], &result), 0);
        if (result != NULL)
            TEST_FAIL("thread %d: %s", i,
                      result == (void *)1 ? "map failed" : "a stack was not its own");
    }
    CHECK(cio__stack_arena_count() - arenas_before <= 1);
}

/* Overflow in a stack with neighbours on both sides in the same arena: the report names the
 * one that overflowed. */
static void neighbours_child(void)
{
    struct cio__coro left, middle, right;
    long result = 0;
    if (cio__stack_overflow_handler_install() < 0)
        _exit(90);
    if (cio__coro_thread_init(&main_ctx, "main") < 0)
        _exit(91);
    if (cio__coro_create(&left, NULL, 32 * KIB, overflow_body, &result, "left") < 0 ||
        cio__coro_create(&middle, NULL, 32 * KIB, overflow_body, &result, "middle-child") < 0 ||
        cio__coro_create(&right, NULL, 32 * KIB, overflow_body, &result, "right") < 0)
        _exit(92);
    if (middle.stack.arena == NULL || middle.stack.arena != left.stack.arena ||
        middle.stack.lo != cio__stack_top(&left.stack) + page)
        _exit(93);
    cio__coro_switch(&main_ctx, &middle);
    _exit(94);
}

static void test_arena_overflow_names_the_task(void)
{
    char out[4096];
    setup();
    need_arenas();
    int status = cio_test_run_child(neighbours_child, out, sizeof(out));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 93)
        TEST_FAIL("the three stacks were not neighbours in one arena");
    expect_overflow_report(status, out, "middle-child", 32 * KIB);
}

/* Without arenas (older kernels): one mapping per stack, guard by mprotect, overflow still
 * reported. */
static void fallback_child(void)
{
    struct cio__coro co;
    long result = 0;
    if (cio__stack_arenas_used()) /* the parent chose before forking */
        _exit(80);
    if (cio__stack_overflow_handler_install() < 0)
        _exit(90);
    if (cio__coro_thread_init(&main_ctx, "main") < 0)
        _exit(91);
    if (cio__coro_create(&co, NULL, 32 * KIB, overflow_body, &result, "old-kernel") < 0)
        _exit(92);
    if (co.stack.arena != NULL)
        _exit(81);
    cio__coro_switch(&main_ctx, &co);
    _exit(93);
}

static void test_fallback_without_guard_regions(void)
{
    char out[4096];
    setup();
    struct cio__stack st;
    CHECK_RC(cio__stack_arenas_set(false));
    CHECK_ERR(cio__stack_arenas_set(true), -EBUSY);
    long maps_before = cio_test_mapping_count();
    CHECK_RC(cio__stack_map(&st, 0));
    CHECK(st.arena == NULL);
    /* guard + usable: what arenas save (sanitizers map shadow of their own meanwhile) */
    if (!CIO__ASAN && !CIO__TSAN)
        CHECK_EQ(cio_test_mapping_count() - maps_before, 2);
    cio__stack_unmap(&st);
    if (!CIO__ASAN && !CIO__TSAN)
        CHECK_EQ(cio_test_mapping_count(), maps_before);
    int status = cio_test_run_child(fallback_child, out, sizeof(out));
    if (WIFEXITED(status))
        TEST_FAIL("child exited %d; stderr: %s", WEXITSTATUS(status), out);
    expect_overflow_report(status, out, "old-kernel", 32 * KIB);
}

CIO_TEST_MAIN(TEST(test_sizes), TEST(test_lazy_commit), TEST(test_guard_page_faults),
              TEST(test_pool_reuse_releases_pages), TEST(test_pool_release_lowers_rss),
              TEST(test_pool_bound), TEST(test_pool_sizes), TEST(test_overflow_reported),
              TEST(test_overflow_reported_in_thread), TEST(test_other_faults_chain),
              TEST(test_other_faults_default_action), TEST(test_altstack_ownership),
              TEST(test_arena_shares_mappings), TEST(test_arena_reuse_bounded),
              TEST(test_arena_threads), TEST(test_arena_overflow_names_the_task),
              TEST(test_fallback_without_guard_regions))
