/*
 * test_coro.c: stackful coroutines — values passed in ping-pong, symmetric switches, the
 * return context, callee-saved registers and the floating-point control state surviving
 * switches, deep recursion within the stack, ten thousand coroutines alive at once, the
 * memory an idle coroutine costs, and the error returns.
 */
/* cio-test-labels: threads */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "rt/coro.h"
#include "rt/stack.h"

#define KIB ((size_t)1024)

static struct cio__coro main_ctx;

/* ---- ping-pong with values ---- */

struct pingpong {
    struct cio__coro co;
    long request;
    long reply;
    int rounds;
};

static void pingpong_body(void *arg)
{
    struct pingpong *pp = arg;
    CHECK(cio__coro_current() == &pp->co);
    CHECK_EQ(cio__coro_state(&pp->co), CIO__CORO_RUNNING);
    for (int i = 0; i < pp->rounds; i++) {
        pp->reply = pp->request * 2 + 1;
        cio__coro_switch(&pp->co, pp->co.resumer);
        CHECK(cio__coro_current() == &pp->co);
    }
    pp->reply = -1;
}

static void test_ping_pong_values(void)
{
    struct cio__stack_pool *pool;
    struct pingpong pp = {.rounds = 1000};
    CHECK_RC(cio__coro_thread_init(&main_ctx, "main"));
    CHECK(cio__coro_current() == &main_ctx);
    CHECK_RC(cio__stack_pool_new(&pool, 64 * KIB, 4));
    CHECK_RC(cio__coro_create(&pp.co, pool, 0, pingpong_body, &pp, "pingpong"));
    CHECK_EQ(cio__coro_state(&pp.co), CIO__CORO_CREATED);
    CHECK_EQ(pp.co.stack.size, 64 * KIB);
    for (int i = 0; i < pp.rounds; i++) {
        pp.request = i;
        cio__coro_switch(&main_ctx, &pp.co);
        CHECK(cio__coro_current() == &main_ctx);
        CHECK_EQ(cio__coro_state(&pp.co), CIO__CORO_SUSPENDED);
        CHECK_EQ(pp.reply, 2L * i + 1);
    }
    cio__coro_switch(&main_ctx, &pp.co); /* the body returns: back here for good */
    CHECK_EQ(cio__coro_state(&pp.co), CIO__CORO_FINISHED);
    CHECK_EQ(pp.reply, -1);
    CHECK_EQ(cio__coro_state(&main_ctx), CIO__CORO_RUNNING);
    cio__coro_destroy(&pp.co);
    CHECK_EQ(cio__stack_pool_cached(pool), 1);
    cio__stack_pool_free(pool);
    cio__coro_thread_fini(&main_ctx);
    CHECK(cio__coro_current() == NULL);
}

/* ---- symmetric switches and the return context ---- */

struct ring {
    struct cio__coro co[3];
    int trace[64];
    int ntrace;
};

static struct ring ring;

static void ring_body(void *arg)
{
    int me = (int)(intptr_t)arg;
    for (int lap = 0; lap < 3; lap++) {
        ring.trace[ring.ntrace++] = me;
        /* Straight to the next coroutine, not through main. */
        struct cio__coro *next = me == 2 ? &main_ctx : &ring.co[me + 1];
        cio__coro_switch(&ring.co[me], next);
    }
}

static void test_symmetric_ring(void)
{
    CHECK_RC(cio__coro_thread_init(&main_ctx, "main"));
    for (int i = 0; i < 3; i++)
        CHECK_RC(cio__coro_create(&ring.co[i], NULL, 0, ring_body, (void *)(intptr_t)i, "ring"));
    for (int lap = 0; lap < 3; lap++) {
        cio__coro_switch(&main_ctx, &ring.co[0]);
        CHECK_EQ(ring.ntrace, 3 * (lap + 1));
    }
    for (int i = 0; i < 9; i++)
        CHECK_EQ(ring.trace[i], i % 3);
    /* return_to chains the finishes: co[2] ends into co[1] (suspended, so resumable), which
     * ends into main; co[0] has no return_to and ends into its resumer, main. */
    ring.co[2].return_to = &ring.co[1];
    ring.co[1].return_to = &main_ctx;
    cio__coro_switch(&main_ctx, &ring.co[2]);
    CHECK_EQ(cio__coro_state(&ring.co[2]), CIO__CORO_FINISHED);
    CHECK_EQ(cio__coro_state(&ring.co[1]), CIO__CORO_FINISHED);
    CHECK(ring.co[1].resumer == &ring.co[0]); /* a return does not change it */
    CHECK_EQ(cio__coro_state(&ring.co[0]), CIO__CORO_SUSPENDED);
    cio__coro_switch(&main_ctx, &ring.co[0]);
    CHECK_EQ(cio__coro_state(&ring.co[0]), CIO__CORO_FINISHED);
    CHECK(cio__coro_current() == &main_ctx);
    for (int i = 0; i < 3; i++)
        cio__coro_destroy(&ring.co[i]);
    cio__coro_thread_fini(&main_ctx);
}

static struct cio__coro outer, inner;
static int inner_done, outer_resumed;

static void inner_body(void *arg)
{
    (void)arg;
    inner_done = 1;
}

static void outer_body(void *arg)
{
    (void)arg;
    CHECK_RC(cio__coro_create(&inner, NULL, 32 * KIB, inner_body, NULL, "inner"));
    /* inner was resumed by outer, so when it finishes control comes back here. */
    cio__coro_switch(&outer, &inner);
    CHECK_EQ(inner_done, 1);
    CHECK_EQ(cio__coro_state(&inner), CIO__CORO_FINISHED);
    CHECK(cio__coro_current() == &outer);
    outer_resumed = 1;
    cio__coro_destroy(&inner);
}

static void test_return_to_resumer(void)
{
    CHECK_RC(cio__coro_thread_init(&main_ctx, "main"));
    CHECK_RC(cio__coro_create(&outer, NULL, 0, outer_body, NULL, "outer"));
    cio__coro_switch(&main_ctx, &outer);
    CHECK_EQ(outer_resumed, 1);
    CHECK_EQ(cio__coro_state(&outer), CIO__CORO_FINISHED);
    cio__coro_destroy(&outer);
    cio__coro_thread_fini(&main_ctx);
}

/* ---- callee-saved registers ----
 *
 * pin_and_switch(p, from, to) loads p->in[] into every callee-saved register, calls
 * cio__coro_switch(from, to), and stores the registers into p->out[] when it returns. Both
 * sides of a ping-pong pin different values, so any register the switch failed to save or
 * restore shows up as out != in. */

#if defined(__x86_64__)
#define NPIN 6 /* rbx rbp r12 r13 r14 r15 */
__asm__(".text\n"
        ".p2align 4\n"
        ".globl pin_and_switch\n"
        ".hidden pin_and_switch\n"
        ".type pin_and_switch, @function\n"
        "pin_and_switch:\n"
        "  pushq %rbp\n"
        "  pushq %rbx\n"
        "  pushq %r12\n"
        "  pushq %r13\n"
        "  pushq %r14\n"
        "  pushq %r15\n"
        "  pushq %rdi\n" /* 7 pushes: rsp is 16-byte aligned for the call */
        "  movq 0(%rdi), %rbx\n"
        "  movq 8(%rdi), %rbp\n"
        "  movq 16(%rdi), %r12\n"
        "  movq 24(%rdi), %r13\n"
        "  movq 32(%rdi), %r14\n"
        "  movq 40(%rdi), %r15\n"
        "  movq %rsi, %rdi\n"
        "  movq %rdx, %rsi\n"
        "  call cio__coro_switch@PLT\n"
        "  popq %rdi\n"
        "  movq %rbx, 48(%rdi)\n"
        "  movq %rbp, 56(%rdi)\n"
        "  movq %r12, 64(%rdi)\n"
        "  movq %r13, 72(%rdi)\n"
        "  movq %r14, 80(%rdi)\n"
        "  movq %r15, 88(%rdi)\n"
        "  popq %r15\n"
        "  popq %r14\n"
        "  popq %r13\n"
        "  popq %r12\n"
        "  popq %rbx\n"
        "  popq %rbp\n"
        "  ret\n"
        ".size pin_and_switch, .-pin_and_switch\n");
#elif defined(__aarch64__)
#define NPIN 18 /* x19-x28, d8-d15 */
__asm__(".text\n"
        ".p2align 4\n"
        ".globl pin_and_switch\n"
        ".hidden pin_and_switch\n"
        ".type pin_and_switch, %function\n"
        "pin_and_switch:\n"
        "  stp x29, x30, [sp, #-176]!\n"
        "  mov x29, sp\n"
        "  stp x19, x20, [sp, #16]\n"
        "  stp x21, x22, [sp, #32]\n"
        "  stp x23, x24, [sp, #48]\n"
        "  stp x25, x26, [sp, #64]\n"
        "  stp x27, x28, [sp, #80]\n"
        "  stp d8, d9, [sp, #96]\n"
        "  stp d10, d11, [sp, #112]\n"
        "  stp d12, d13, [sp, #128]\n"
        "  stp d14, d15, [sp, #144]\n"
        "  str x0, [sp, #160]\n"
        "  ldp x19, x20, [x0, #0]\n"
        "  ldp x21, x22, [x0, #16]\n"
        "  ldp x23, x24, [x0, #32]\n"
        "  ldp x25, x26, [x0, #48]\n"
        "  ldp x27, x28, [x0, #64]\n"
        "  ldp d8, d9, [x0, #80]\n"
        "  ldp d10, d11, [x0, #96]\n"
        "  ldp d12, d13, [x0, #112]\n"
        "  ldp d14, d15, [x0, #128]\n"
        "  mov x0, x1\n"
        "  mov x1, x2\n"
        "  bl cio__coro_switch\n"
        "  ldr x0, [sp, #160]\n"
        "  stp x19, x20, [x0, #144]\n"
        "  stp x21, x22, [x0, #160]\n"
        "  stp x23, x24, [x0, #176]\n"
        "  stp x25, x26, [x0, #192]\n"
        "  stp x27, x28, [x0, #208]\n"
        "  stp d8, d9, [x0, #224]\n"
        "  stp d10, d11, [x0, #240]\n"
        "  stp d12, d13, [x0, #256]\n"
        "  stp d14, d15, [x0, #272]\n"
        "  ldp x19, x20, [sp, #16]\n"
        "  ldp x21, x22, [sp, #32]\n"
        "  ldp x23, x24, [sp, #48]\n"
        "  ldp x25, x26, [sp, #64]\n"
        "  ldp x27, x28, [sp, #80]\n"
        "  ldp d8, d9, [sp, #96]\n"
        "  ldp d10, d11, [sp, #112]\n"
        "  ldp d12, d13, [sp, #128]\n"
        "  ldp d14, d15, [sp, #144]\n"
        "  ldp x29, x30, [sp], #176\n"
        "  ret\n"
        ".size pin_and_switch, .-pin_and_switch\n");
#endif

struct pinned {
    uint64_t in[NPIN];
    uint64_t out[NPIN];
};

void pin_and_switch(struct pinned *p, struct cio__coro *from, struct cio__coro *to);

static struct cio__coro pin_co;
#define PIN_ROUNDS 100

static void pin_fill(struct pinned *p, uint64_t seed)
{
    for (int r = 0; r < NPIN; r++)
        p->in[r] = seed * 0x9e3779b97f4a7c15u + (uint64_t)r * 0x0101010101010101u + 1;
    memset(p->out, 0, sizeof(p->out));
}

static void pin_check(const struct pinned *p, const char *side, int round)
{
    for (int r = 0; r < NPIN; r++)
        if (p->out[r] != p->in[r])
            TEST_FAIL("%s, round %d: callee-saved register #%d is %#" PRIx64 ", pinned %#" PRIx64,
                      side, round, r, p->out[r], p->in[r]);
}

static void pin_body(void *arg)
{
    (void)arg;
    struct pinned p;
    for (int round = 0; round < PIN_ROUNDS; round++) {
        pin_fill(&p, 1000 + (uint64_t)round);
        pin_and_switch(&p, &pin_co, &main_ctx);
        pin_check(&p, "coroutine", round);
    }
}

static void test_callee_saved_registers(void)
{
    struct pinned p;
    CHECK_RC(cio__coro_thread_init(&main_ctx, "main"));
    CHECK_RC(cio__coro_create(&pin_co, NULL, 0, pin_body, NULL, "pin"));
    for (int round = 0; round <= PIN_ROUNDS; round++) {
        pin_fill(&p, (uint64_t)round);
        pin_and_switch(&p, &main_ctx, &pin_co);
        pin_check(&p, "main", round);
    }
    CHECK_EQ(cio__coro_state(&pin_co), CIO__CORO_FINISHED);
    cio__coro_destroy(&pin_co);
    cio__coro_thread_fini(&main_ctx);
}

/* ---- floating-point control state ----
 *
 * Each context sets its own rounding mode and flush-to-zero bit; the switch must carry them
 * per context (System V: MXCSR control bits and the x87 control word are callee-saved;
 * AAPCS64: FPCR). The rounding mode is checked in both x86 units and by arithmetic. */

enum round_mode { ROUND_NEAREST, ROUND_DOWN, ROUND_UP, ROUND_ZERO };

struct fp_state {
    enum round_mode mode;
    int flush_to_zero;
};

#if defined(__x86_64__)
static void fp_set(struct fp_state s)
{
    static const unsigned rc[] = {0, 1, 2, 3}; /* same encoding in MXCSR and the x87 CW */
    unsigned mxcsr;
    uint16_t cw;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    mxcsr = (mxcsr & ~(3u << 13 | 1u << 15)) | rc[s.mode] << 13 | (unsigned)s.flush_to_zero << 15;
    cw = (uint16_t)((cw & ~(3u << 10)) | rc[s.mode] << 10);
    __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
    __asm__ volatile("fldcw %0" : : "m"(cw));
}

static struct fp_state fp_get(void)
{
    unsigned mxcsr;
    uint16_t cw;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    unsigned sse_rc = (mxcsr >> 13) & 3, x87_rc = (cw >> 10) & 3u;
    if (sse_rc != x87_rc)
        TEST_FAIL("MXCSR rounding %u but x87 rounding %u", sse_rc, x87_rc);
    return (struct fp_state){.mode = (enum round_mode)sse_rc, .flush_to_zero = (mxcsr >> 15) & 1};
}
#elif defined(__aarch64__)
static void fp_set(struct fp_state s)
{
    static const uint64_t rmode[] = {0, 2, 1, 3}; /* FPCR.RMode: RN, RP(up)=1, RM(down)=2, RZ */
    uint64_t fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    fpcr = (fpcr & ~((uint64_t)3 << 22 | (uint64_t)1 << 24)) | rmode[s.mode] << 22 |
           (uint64_t)s.flush_to_zero << 24;
    __asm__ volatile("msr fpcr, %0" : : "r"(fpcr));
}

static struct fp_state fp_get(void)
{
    static const enum round_mode mode[] = {ROUND_NEAREST, ROUND_UP, ROUND_DOWN, ROUND_ZERO};
    uint64_t fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    return (struct fp_state){.mode = mode[(fpcr >> 22) & 3], .flush_to_zero = (fpcr >> 24) & 1};
}
#endif

static struct cio__coro fp_co[2];
static const struct fp_state fp_wanted[3] = {
    {ROUND_NEAREST, 0}, /* main */
    {ROUND_UP, 1},      /* fp_co[0] */
    {ROUND_ZERO, 0},    /* fp_co[1] */
};
static struct fp_state fp_inherited;

static void fp_expect(struct fp_state want, const char *who, int round)
{
    struct fp_state got = fp_get();
    if (cio_test_under_valgrind()) /* valgrind does not emulate flush-to-zero: MXCSR keeps it 0 */
        want.flush_to_zero = got.flush_to_zero;
    if (got.mode != want.mode || got.flush_to_zero != want.flush_to_zero)
        TEST_FAIL("%s, round %d: rounding %d ftz %d, expected rounding %d ftz %d", who, round,
                  got.mode, got.flush_to_zero, want.mode, want.flush_to_zero);
    /* 1/3 rounds up only in ROUND_UP; toward zero and down equal nearest for positives.
     * (valgrind computes SSE arithmetic in round-to-nearest whatever MXCSR says.) */
    if (cio_test_under_valgrind())
        return;
    volatile double one = 1.0, three = 3.0;
    double third = one / three;
    int up = third > 0.3333333333333333;
    if (up != (want.mode == ROUND_UP))
        TEST_FAIL("%s, round %d: 1/3 computed as %.17g under rounding %d", who, round, third,
                  want.mode);
}

static void fp_body(void *arg)
{
    int me = (int)(intptr_t)arg;
    char who[32];
    snprintf(who, sizeof(who), "coroutine %d", me);
    if (me == 0)
        fp_inherited = fp_get();
    fp_set(fp_wanted[me + 1]);
    for (int round = 0; round < 50; round++) {
        cio__coro_switch(&fp_co[me], &main_ctx);
        fp_expect(fp_wanted[me + 1], who, round);
    }
}

static void test_fp_control_state(void)
{
    struct fp_state saved = fp_get();
    CHECK_RC(cio__coro_thread_init(&main_ctx, "main"));
    /* A new coroutine starts with its creator's control state, like a new thread. */
    fp_set((struct fp_state){ROUND_DOWN, 0});
    CHECK_RC(cio__coro_create(&fp_co[0], NULL, 0, fp_body, (void *)0, "fp0"));
    fp_set(fp_wanted[0]);
    CHECK_RC(cio__coro_create(&fp_co[1], NULL, 0, fp_body, (void *)1, "fp1"));
    for (int round = 0; round <= 50; round++) {
        for (int i = 0; i < 2; i++) {
            cio__coro_switch(&main_ctx, &fp_co[i]);
            fp_expect(fp_wanted[0], "main", round);
        }
        /* main changes its own mode between rounds: must not leak into the others. */
        fp_set((struct fp_state){round % 2 ? ROUND_NEAREST : ROUND_DOWN, 0});
        fp_set(fp_wanted[0]);
    }
    CHECK_EQ(fp_inherited.mode, ROUND_DOWN);
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(cio__coro_state(&fp_co[i]), CIO__CORO_FINISHED);
        cio__coro_destroy(&fp_co[i]);
    }
    fp_set(saved);
    cio__coro_thread_fini(&main_ctx);
}

/* ---- deep recursion ---- */

struct recursion {
    struct cio__coro co;
    uintptr_t top_frame;
    size_t target; /* bytes of stack to use */
    size_t used;
    long depth;
    long sum;
};

static __attribute__((noinline)) long recurse(struct recursion *r, long depth)
{
    volatile char frame[512];
    frame[0] = (char)depth;
    frame[sizeof(frame) - 1] = (char)(depth >> 8);
    uintptr_t here = (uintptr_t)__builtin_frame_address(0);
    size_t used = r->top_frame - here;
    if (used > r->used)
        r->used = used;
    long below = 0;
    if (used < r->target)
        below = recurse(r, depth + 1);
    else
        r->depth = depth;
    return below + depth + frame[0] - (char)depth + frame[sizeof(frame) - 1] - (char)(depth >> 8);
}

static void recursion_body(void *arg)
{
    struct recursion *r = arg;
    r->top_frame = (uintptr_t)__builtin_frame_address(0);
    r->sum = recurse(r, 1);
}

static void run_recursion(struct cio__stack_pool *pool, size_t stack_size, size_t target)
{
    struct recursion r = {.target = target};
    CHECK_RC(cio__coro_create(&r.co, pool, stack_size, recursion_body, &r, "recursion"));
    CHECK_EQ(r.co.stack.size, stack_size);
    cio__coro_switch(&main_ctx, &r.co);
    CHECK_EQ(cio__coro_state(&r.co), CIO__CORO_FINISHED);
    CHECK(r.used >= target);
    CHECK(r.used < stack_size);
    CHECK(r.depth > 10);
    CHECK_EQ(r.sum, r.depth * (r.depth + 1) / 2);
    cio__coro_destroy(&r.co);
}

static void test_deep_recursion(void)
{
    struct cio__stack_pool *pool;
    CHECK_RC(cio__coro_thread_init(&main_ctx, "main"));
    CHECK_RC(cio__stack_pool_new(&pool, 0, 8));
    CHECK_EQ(cio__stack_pool_default_size(pool), CIO__STACK_DEFAULT_SIZE);
    /* Use most of the stack, leaving room for the deepest frame and the switch. */
    run_recursion(pool, CIO__STACK_DEFAULT_SIZE, CIO__STACK_DEFAULT_SIZE - 24 * KIB);
    run_recursion(pool, 1024 * KIB, 1000 * KIB);
    run_recursion(pool, 32 * KIB, 20 * KIB);
    cio__stack_pool_free(pool);
    cio__coro_thread_fini(&main_ctx);
}

/* ---- many coroutines ---- */

#define MANY 10000
#define MANY_ROUNDS 5

struct many {
    struct cio__coro co;
    int index;
    int turns;
};

static struct many many[MANY];
static int many_next; /* the index main expects to run next */

static void many_body(void *arg)
{
    struct many *m = arg;
    volatile char touch[256]; /* something on the stack */
    touch[0] = (char)m->index;
    for (int round = 0; round < MANY_ROUNDS; round++) {
        CHECK_EQ(many_next, m->index);
        m->turns++;
        cio__coro_switch(&m->co, &main_ctx);
        CHECK_EQ(touch[0], (char)m->index);
    }
}

static void test_many_coroutines(void)
{
    struct cio__stack_pool *pool;
    CHECK_RC(cio__coro_thread_init(&main_ctx, "main"));
    CHECK_RC(cio__stack_pool_new(&pool, 64 * KIB, MANY));
    for (int i = 0; i < MANY; i++) {
        many[i].index = i;
        CHECK_RC(cio__coro_create(&many[i].co, pool, 0, many_body, &many[i], "many"));
    }
    /* Round robin: every coroutine alive at once, each resumed once per round. */
    for (int round = 0; round <= MANY_ROUNDS; round++) {
        for (int i = 0; i < MANY; i++) {
            many_next = i;
            cio__coro_switch(&main_ctx, &many[i].co);
        }
        for (int i = 0; i < MANY; i++) {
            CHECK_EQ(many[i].turns, round < MANY_ROUNDS ? round + 1 : MANY_ROUNDS);
            CHECK_EQ(cio__coro_state(&many[i].co),
                     round < MANY_ROUNDS ? CIO__CORO_SUSPENDED : CIO__CORO_FINISHED);
        }
    }
    for (int i = 0; i < MANY; i++)
        cio__coro_destroy(&many[i].co);
    CHECK_EQ(cio__stack_pool_cached(pool), MANY);
    /* And they come back out of the pool: no new mapping for the second generation. */
    for (int i = 0; i < 100; i++)
        CHECK_RC(cio__coro_create(&many[i].co, pool, 0, many_body, &many[i], "again"));
    CHECK_EQ(cio__stack_pool_cached(pool), MANY - 100);
    for (int i = 0; i < 100; i++)
        cio__coro_destroy(&many[i].co);
    CHECK_EQ(cio__stack_pool_cached(pool), MANY);
    cio__stack_pool_free(pool);
    cio__coro_thread_fini(&main_ctx);
}

/* ---- what an idle coroutine costs ---- */

static long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "re");
    if (f == NULL)
        return -1;
    long size = 0, resident = -1;
    if (fscanf(f, "%ld %ld", &size, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * (long)sysconf(_SC_PAGESIZE);
}

#define IDLE 2000
static struct cio__coro idle_co[IDLE];

static void idle_body(void *arg)
{
    struct cio__coro *self = arg;
    /* Parked, as a task waiting for its socket would be. */
    cio__coro_switch(self, &main_ctx);
}

static void test_idle_cost(void)
{
    struct cio__stack_pool *pool;
    CHECK_RC(cio__coro_thread_init(&main_ctx, "main"));
    CHECK_RC(cio__stack_pool_new(&pool, 0, 0));
    /* Warm up allocator and code pages outside the measurement. */
    CHECK_RC(cio__coro_create(&idle_co[0], pool, 0, idle_body, &idle_co[0], "idle"));
    cio__coro_switch(&main_ctx, &idle_co[0]);
    long before = rss_bytes();
    CHECK(before > 0);
    for (int i = 1; i < IDLE; i++) {
        CHECK_RC(cio__coro_create(&idle_co[i], pool, 0, idle_body, &idle_co[i], "idle"));
        cio__coro_switch(&main_ctx, &idle_co[i]);
    }
    long after = rss_bytes();
    double per = (double)(after - before) / (IDLE - 1);
    printf("    idle parked coroutine: %.0f bytes of RSS each (stack pages + registry)\n", per);
    /* The coroutine struct itself lives in the caller's task (static here). The target is a
     * touched top page plus small bookkeeping: at most 4.5 KiB. Sanitizers add shadow memory
     * per touched page (and ASan a fake stack per coroutine when detecting use after return),
     * so they only print the figure. */
    if (CIO__ASAN || CIO__TSAN || cio_test_under_valgrind() || cio_test_under_qemu())
        printf("    (not checked against 4.5 KiB: sanitizer, valgrind or qemu memory counts)\n");
    else
        CHECK(per <= 4.5 * 1024);
    for (int i = 0; i < IDLE; i++) {
        cio__coro_switch(&main_ctx, &idle_co[i]);
        cio__coro_destroy(&idle_co[i]);
    }
    cio__stack_pool_free(pool);
    cio__coro_thread_fini(&main_ctx);
}

/* ---- errors ---- */

static void noop_body(void *arg)
{
    (void)arg;
}

static void test_invalid_arguments(void)
{
    struct cio__coro co;
    struct cio__stack_pool *pool;
    CHECK_ERR(cio__coro_create(NULL, NULL, 0, noop_body, NULL, NULL), -EINVAL);
    CHECK_ERR(cio__coro_create(&co, NULL, 0, NULL, NULL, NULL), -EINVAL);
    CHECK_ERR(cio__coro_create(&co, NULL, 1, noop_body, NULL, NULL), -EINVAL);
    CHECK_ERR(cio__coro_create(&co, NULL, CIO__STACK_MIN_SIZE - 4096 - 1, noop_body, NULL, NULL),
              -EINVAL);
    CHECK_ERR(cio__coro_create(&co, NULL, CIO__STACK_MAX_SIZE + 1, noop_body, NULL, NULL), -EINVAL);
    CHECK_ERR(cio__coro_create(&co, NULL, SIZE_MAX, noop_body, NULL, NULL), -EINVAL);
    CHECK_ERR(cio__coro_thread_init(NULL, NULL), -EINVAL);
    CHECK_RC(cio__stack_pool_new(&pool, 0, 1));
    CHECK_ERR(cio__coro_create(&co, pool, SIZE_MAX - 100, noop_body, NULL, NULL), -EINVAL);
    CHECK_EQ(cio__stack_pool_cached(pool), 0);
    /* A created, never started coroutine can be destroyed; its stack is pooled. */
    CHECK_RC(cio__coro_create(&co, pool, 0, noop_body, NULL, NULL));
    cio__coro_destroy(&co);
    CHECK_EQ(cio__stack_pool_cached(pool), 1);
    cio__coro_destroy(&co); /* twice is harmless: the stack is gone */
    cio__coro_destroy(NULL);
    CHECK_EQ(cio__stack_pool_cached(pool), 1);
    cio__stack_pool_free(pool);
}

/* A suspended coroutine destroyed without being finished: its stack is reusable at once. */
static void suspend_body(void *arg)
{
    struct cio__coro *self = arg;
    cio__coro_switch(self, &main_ctx);
    TEST_FAIL("a destroyed coroutine ran again");
}

static void test_destroy_suspended(void)
{
    struct cio__coro co, co2;
    struct cio__stack_pool *pool;
    CHECK_RC(cio__coro_thread_init(&main_ctx, "main"));
    CHECK_RC(cio__stack_pool_new(&pool, 0, 4));
    CHECK_RC(cio__coro_create(&co, pool, 0, suspend_body, &co, "suspended"));
    cio__coro_switch(&main_ctx, &co);
    CHECK_EQ(cio__coro_state(&co), CIO__CORO_SUSPENDED);
    char *lo = co.stack.lo;
    cio__coro_destroy(&co);
    CHECK_RC(cio__coro_create(&co2, pool, 0, noop_body, NULL, "reuser"));
    CHECK(co2.stack.lo == lo);
    cio__coro_switch(&main_ctx, &co2);
    CHECK_EQ(cio__coro_state(&co2), CIO__CORO_FINISHED);
    cio__coro_destroy(&co2);
    cio__stack_pool_free(pool);
    cio__coro_thread_fini(&main_ctx);
}

CIO_TEST_MAIN(TEST(test_ping_pong_values), TEST(test_symmetric_ring), TEST(test_return_to_resumer),
              TEST(test_callee_saved_registers), TEST(test_fp_control_state),
              TEST(test_deep_recursion), TEST(test_many_coroutines), TEST(test_idle_cost),
              TEST(test_invalid_arguments), TEST(test_destroy_suspended))
