/*
 * coro.c: stackful coroutines on top of the assembly switch — building a new coroutine's
 * first frame, the C entry that runs its body and leaves it for good when the body returns,
 * and the sanitizer annotations around every switch (ASan must know which stack is current,
 * TSan which fiber). See coro.h.
 */
#include "rt/coro.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/assert.h"
#include "util/compiler.h"

#if CIO__ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#if CIO__TSAN
#include <sanitizer/tsan_interface.h>
#endif

#if !defined(__x86_64__) && !defined(__aarch64__)
#error "cio's context switch exists for x86_64 and aarch64 only"
#endif

/* Where a new context's first switch lands, and where a saved one's does (arch/switch_*.S). */
void cio__ctx_trampoline(void);
void cio__ctx_restore(void);

#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#else
#define RUNNING_ON_VALGRIND 0
#define VALGRIND_MAKE_MEM_DEFINED(addr, len) ((void)(addr), (void)(len))
#define VALGRIND_GET_VBITS(addr, bits, len) ((void)(addr), (void)(bits), (void)(len))
#define VALGRIND_SET_VBITS(addr, bits, len) ((void)(addr), (void)(bits), (void)(len))
#endif

/* The switch frame (arch/switch_*.S): its size. */
#if defined(__x86_64__)
#define FRAME_BYTES 64
#elif defined(__aarch64__)
#define FRAME_BYTES 176
#endif

/* Initial-exec: one %fs-relative access even in the shared library, no __tls_get_addr on the
 * switch path. */
static __thread struct cio__coro *current __attribute__((tls_model("initial-exec")));

struct cio__coro *cio__coro_current(void)
{
    return current;
}

/*
 * The frame the first cio__ctx_switch() to a new context pops: zeroed callee-saved registers
 * except the two that carry entry(arg) to the trampoline, the caller's FP control state, and
 * the trampoline as return address. 16 zero bytes stay above it at the very top, so the
 * trampoline's frame sits below a null sentinel. Layouts: arch/switch_*.S.
 */
static void ctx_make(struct cio__ctx *ctx, char *top,
                     void (*entry)(void *, void (*)(void *), void *), void *arg, void (*fn)(void *),
                     void *fn_arg)
{
    uintptr_t aligned_top = (uintptr_t)top & ~(uintptr_t)15;
#if defined(__x86_64__)
    enum { FRAME_WORDS = 8 };
    uint64_t *frame = (uint64_t *)(aligned_top - 16 - FRAME_WORDS * 8);
    memset(frame, 0, FRAME_WORDS * 8 + 16);
    uint32_t mxcsr;
    uint16_t x87_cw;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(x87_cw));
    frame[0] = mxcsr | (uint64_t)x87_cw << 32;
    frame[1] = (uint64_t)(uintptr_t)fn_arg; /* r15 */
    frame[2] = (uint64_t)(uintptr_t)fn;     /* r14 */
    frame[3] = (uint64_t)(uintptr_t)entry;  /* r13 */
    frame[4] = (uint64_t)(uintptr_t)arg;    /* r12 */
    frame[7] = (uint64_t)(uintptr_t)cio__ctx_trampoline;
#elif defined(__aarch64__)
    enum { FRAME_WORDS = 22 };
    uint64_t *frame = (uint64_t *)(aligned_top - 16 - FRAME_WORDS * 8);
    memset(frame, 0, FRAME_WORDS * 8 + 16);
    uint64_t fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    frame[0] = (uint64_t)(uintptr_t)arg;                  /* x19 */
    frame[1] = (uint64_t)(uintptr_t)entry;                /* x20 */
    frame[2] = (uint64_t)(uintptr_t)fn;                   /* x21 */
    frame[3] = (uint64_t)(uintptr_t)fn_arg;               /* x22 */
    frame[11] = (uint64_t)(uintptr_t)cio__ctx_trampoline; /* x30 */
    frame[20] = fpcr;
#endif
    ctx->sp = frame;
}

#if CIO__ASAN
/* The context the last switch on this thread left: the landing side records ASan's view of
 * that stack in it (how a thread context's stack bounds become known). */
static __thread struct cio__coro *asan_switched_from;
#endif

/* After a switch has landed in the coroutine that called it (or in a new coroutine): tell
 * ASan the switch is complete, and learn the bounds of the stack we came from, which is how a
 * thread context's stack becomes known to switch back to. */
static inline void asan_switch_finished(void *fake_stack)
{
#if CIO__ASAN
    struct cio__coro *prev = asan_switched_from;
    __sanitizer_finish_switch_fiber(fake_stack, &prev->asan_stack_bottom, &prev->asan_stack_size);
#else
    (void)fake_stack;
#endif
}

/* Bookkeeping and the ASan announcement before the raw switch from `from` to `to`. A finished
 * coroutine passes no fake-stack slot so ASan frees its fake stack. The caller sets
 * to->resumer when it should change (not on a finished coroutine's return), and calls
 * tsan_switch() last. */
static inline __attribute__((always_inline)) void
switch_prepare(struct cio__coro *from, struct cio__coro *to, void **fake_stack)
{
    cio__assert(to != from);
    cio__assert(to->state == CIO__CORO_CREATED || to->state == CIO__CORO_SUSPENDED);
    to->state = CIO__CORO_RUNNING;
    current = to;
#if CIO__ASAN
    asan_switched_from = from;
    __sanitizer_start_switch_fiber(fake_stack, to->asan_stack_bottom, to->asan_stack_size);
#else
    (void)from;
    (void)fake_stack;
#endif
}

/* TSan's fiber switch must come immediately before the stack switch, in the function that
 * performs it: TSan keeps a shadow call stack per fiber, and a function return in between
 * would pop the new fiber's. */
#if CIO__TSAN
#define tsan_switch(to) __tsan_switch_to_fiber((to)->tsan_fiber, 0)
#else
#define tsan_switch(to) ((void)0)
#endif

/* Every coroutine's first C frame (called by the trampoline). Never returns: when the body
 * is done, it leaves for the return context, and nothing switches to a finished coroutine. */
static _Noreturn void coro_main(void *opaque, void (*fn)(void *), void *arg)
{
    struct cio__coro *co = opaque;
    asan_switch_finished(NULL);
    fn(arg); /* (passed in the first frame's registers: the coroutine keeps no copy) */

    co->state = CIO__CORO_FINISHED;
    /* A return, not a resume: to->resumer stays what it was, so the target can in turn finish
     * into its own resumer. */
    struct cio__coro *to = co->return_to != NULL ? co->return_to : co->resumer;
    switch_prepare(co, to, NULL);
    tsan_switch(to);
    cio__ctx_switch(&co->ctx, &to->ctx);
    abort(); /* unreachable: a finished coroutine is never resumed */
}

static void save_drop(struct cio__coro *co);

int cio__coro_init_on(struct cio__coro *co, struct cio__stack_pool *pool,
                      const struct cio__stack *stack, void (*fn)(void *arg), void *arg,
                      const char *name)
{
    if (co == NULL || stack == NULL || fn == NULL || stack->lo == NULL)
        return -EINVAL;
    char *top = cio__stack_top(stack);
#if CIO__TSAN
    void *fiber = __tsan_create_fiber(0);
    if (fiber == NULL)
        return -ENOMEM;
    if (name != NULL)
        __tsan_set_fiber_name(fiber, name);
#endif
    memset(co, 0, sizeof(*co));
    /* (the name lives in the stack registry, for overflow reports, and in TSan's fiber) */
    co->pool = pool;
    co->stack = *stack;
    co->state = CIO__CORO_CREATED;
#if CIO__ASAN
    co->asan_stack_bottom = stack->lo;
    co->asan_stack_size = stack->size;
#endif
#if CIO__TSAN
    co->tsan_fiber = fiber;
#endif
    cio__stack_set_name(&co->stack, name);
    ctx_make(&co->ctx, top, coro_main, co, fn, arg);
    return 0;
}

int cio__coro_create(struct cio__coro *co, struct cio__stack_pool *pool, size_t stack_size,
                     void (*fn)(void *arg), void *arg, const char *name)
{
    if (co == NULL || fn == NULL)
        return -EINVAL;
    struct cio__stack stack;
    int rc = pool != NULL ? cio__stack_pool_get(pool, stack_size, &stack)
                          : cio__stack_map(&stack, stack_size);
    if (rc < 0)
        return rc;
    rc = cio__coro_init_on(co, pool, &stack, fn, arg, name);
    if (rc < 0) {
        if (pool != NULL)
            cio__stack_pool_put(pool, &stack);
        else
            cio__stack_unmap(&stack);
    }
    return rc;
}

void cio__coro_destroy(struct cio__coro *co)
{
    if (co == NULL || co->stack.lo == NULL)
        return;
    cio__assert(co->state != CIO__CORO_RUNNING);
#if CIO__TSAN
    __tsan_destroy_fiber(co->tsan_fiber);
    co->tsan_fiber = NULL;
#endif
    save_drop(co);
    struct cio__stack stack = co->stack;
    struct cio__stack_pool *pool = co->pool;
    co->stack.lo = NULL;
    if (pool != NULL)
        cio__stack_pool_put(pool, &stack);
    else
        cio__stack_unmap(&stack);
}

int cio__coro_thread_init(struct cio__coro *self, const char *name)
{
    if (self == NULL)
        return -EINVAL;
    memset(self, 0, sizeof(*self));
    (void)name;
    self->state = CIO__CORO_RUNNING;
    /* ASan's view of this stack is learned at the first switch away from it (see
     * asan_switch_finished); nothing can switch back here before that. */
#if CIO__TSAN
    self->tsan_fiber = __tsan_get_current_fiber();
#endif
    current = self;
    return 0;
}

void cio__coro_thread_fini(struct cio__coro *self)
{
    cio__assert(self != NULL && current == self);
    if (current == self)
        current = NULL;
}

void cio__coro_switch(struct cio__coro *from, struct cio__coro *to)
{
    cio__assert(from == current && from->state == CIO__CORO_RUNNING);
    void *fake_stack = NULL;
    from->state = CIO__CORO_SUSPENDED;
    to->resumer = from;
    switch_prepare(from, to, &fake_stack);
    tsan_switch(to);
    cio__ctx_switch(&from->ctx, &to->ctx);
    asan_switch_finished(fake_stack);
}

/* ---- saving an idle coroutine's stack (coro.h) ---- */

/*
 * A save block: struct cio__coro_save, then the live part of the stack, encoded against a
 * template: the stacks of tasks parked at the same place hold nearly the same words (return
 * addresses, the same globals, their own stack's addresses at the same offsets from its top)
 * and differ in a few (their own heap objects). A word that matches the template is one bit;
 * one that does not is that bit and the word. Addresses in the task's own stack match as
 * offsets from its top, so two stacks at different places still match there. The templates
 * are the worker's (struct cio__coro_tmpls), shared and reference counted: the last block
 * using one frees it. The switch to a saved coroutine pops cio__ctx_restore_frame, one
 * frame for all of them, whose return address is the restore stub.
 */
struct cio__coro_tmpl {
    atomic_size_t refs;
    size_t n; /* words */
    /* n words, then a bitmap of n bits: word i is an address in the stack, kept as its
     * offset from the top */
    uint64_t words[];
};

struct cio__ctx_restore_frame {
#if defined(__x86_64__)
    uint32_t mxcsr;
    uint16_t x87_cw;
    uint16_t pad;
    uint64_t regs[6]; /* r15 ... rbp */
    void (*ret)(void);
#elif defined(__aarch64__)
    uint64_t regs[11]; /* x19 ... x29 */
    void (*x30)(void);
    uint64_t fp[8], fpcr, pad;
#endif
};
_Static_assert(sizeof(struct cio__ctx_restore_frame) == FRAME_BYTES, "the switch frame");
_Static_assert(offsetof(struct cio__coro, save) == 8, "the restore stub reads co->save");

/* Read by the switch, never written: the FP control state is the default one (the real one
 * comes back with the restored frame). */
__attribute__((aligned(16),
               visibility("hidden"))) struct cio__ctx_restore_frame cio__ctx_restore_frame = {
#if defined(__x86_64__)
    .mxcsr = 0x1f80,
    .x87_cw = 0x37f,
    .ret = cio__ctx_restore,
#elif defined(__aarch64__)
    .x30 = cio__ctx_restore,
#endif
};

static size_t bitmap_words(size_t n)
{
    return (n + 63) / 64;
}

static bool bit(const uint64_t *bits, size_t i)
{
    return (bits[i / 64] >> (i % 64)) & 1;
}

/* Whether stack word @w (of the stack [lo, top)) is template word @i. */
static bool tmpl_match(const struct cio__coro_tmpl *t, size_t i, uint64_t w, uintptr_t lo,
                       uintptr_t top)
{
    if (bit(t->words + t->n, i))
        return w >= lo && w < top && w - top == t->words[i];
    return w == t->words[i];
}

static void tmpl_unref(struct cio__coro_tmpl *t)
{
    if (t != NULL && atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1)
        free(t);
}

void cio__coro_tmpls_fini(struct cio__coro_tmpls *cache)
{
    for (size_t i = 0; i < CIO__CORO_TMPLS; i++) {
        tmpl_unref(cache->slot[i]);
        cache->slot[i] = NULL;
    }
}

/* A word of the live part, read. Under ASan the live part holds poisoned redzones of the
 * frames on it, which are ours to copy: an uninstrumented volatile read. */
#if CIO__ASAN
__attribute__((no_sanitize_address))
#endif
static uint64_t
stack_word(const char *sp, size_t i)
{
    return ((const volatile uint64_t *)(const void *)sp)[i];
}

/* A template made of this stack's words, or NULL (memory). */
static struct cio__coro_tmpl *tmpl_new(const char *sp, size_t n, uintptr_t lo, uintptr_t top)
{
    struct cio__coro_tmpl *t = calloc(1, sizeof(*t) + (n + bitmap_words(n)) * sizeof(uint64_t));
    if (t == NULL)
        return NULL;
    atomic_init(&t->refs, 1);
    t->n = n;
    for (size_t i = 0; i < n; i++) {
        uint64_t w = stack_word(sp, i);
        if (w >= lo && w < top) {
            t->words[n + i / 64] |= (uint64_t)1 << (i % 64);
            w -= top;
        }
        t->words[i] = w;
    }
    return t;
}

/* The template for @n words that matches @sp's stack best: the cached one if at most half of
 * the words differ, else one made of this stack (which then replaces it in the cache). */
static struct cio__coro_tmpl *tmpl_pick(struct cio__coro_tmpls *cache, const char *sp, size_t n,
                                        uintptr_t lo, uintptr_t top, size_t *ret_differ)
{
    struct cio__coro_tmpl **slot = &cache->slot[n % CIO__CORO_TMPLS];
    struct cio__coro_tmpl *t = *slot;
    if (t != NULL && t->n == n) {
        size_t differ = 0;
        for (size_t i = 0; i < n; i++)
            differ += !tmpl_match(t, i, stack_word(sp, i), lo, top);
        if (differ <= n / 2) {
            *ret_differ = differ;
            return t;
        }
    }
    if ((t = tmpl_new(sp, n, lo, top)) == NULL)
        return NULL;
    tmpl_unref(*slot);
    *slot = t;
    *ret_differ = 0;
    return t;
}

static void save_drop(struct cio__coro *co)
{
    if (co->save != NULL) {
        tmpl_unref(co->save->tmpl);
        free(co->save->vbits);
        free(co->save);
        co->save = NULL;
    }
}

int cio__coro_save(struct cio__coro *co, struct cio__coro_tmpls *cache)
{
    if (co->state != CIO__CORO_SUSPENDED || co->stack.lo == NULL || cio__coro_saved(co))
        return -EBUSY;
    char *sp = co->ctx.sp;
    uintptr_t lo = (uintptr_t)co->stack.lo, top = (uintptr_t)cio__stack_top(&co->stack);
    cio__assert((uintptr_t)sp >= lo && (uintptr_t)sp + FRAME_BYTES <= top &&
                ((uintptr_t)sp & 15) == 0);
    size_t n = (top - (uintptr_t)sp) / 8, differ;
    /* Under valgrind: the live part has bytes never written (padding, unused slots), which
     * the encoding compares. Their definedness is kept aside and given back at the restore. */
    unsigned char *vbits = NULL;
    if (RUNNING_ON_VALGRIND) {
        if ((vbits = malloc(n * 8)) == NULL)
            return -ENOMEM;
        (void)VALGRIND_GET_VBITS(sp, vbits, n * 8);
        (void)VALGRIND_MAKE_MEM_DEFINED(sp, n * 8);
    }
    struct cio__coro_tmpl *t = tmpl_pick(cache, sp, n, lo, top, &differ);
    save_drop(co); /* a block left from an earlier save */
    struct cio__coro_save *save =
        t == NULL ? NULL : malloc(sizeof(*save) + (bitmap_words(n) + differ) * sizeof(uint64_t));
    if (save == NULL) {
        if (vbits != NULL)
            (void)VALGRIND_SET_VBITS(sp, vbits, n * 8);
        free(vbits);
        return -ENOMEM;
    }
    atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
    save->sp = sp;
    save->tmpl = t;
    save->vbits = vbits;
    uint64_t *bits = save->bits, *out = bits + bitmap_words(n);
    memset(bits, 0, bitmap_words(n) * sizeof(uint64_t));
    for (size_t i = 0; i < n; i++) {
        uint64_t w = stack_word(sp, i);
        if (!tmpl_match(t, i, w, lo, top)) {
            bits[i / 64] |= (uint64_t)1 << (i % 64);
            *out++ = w;
        }
    }
    co->save = save;
    co->ctx.sp = &cio__ctx_restore_frame; /* the next switch to @co lands in the stub */
    cio__stack_release_all(&co->stack);
    return 0;
}

/*
 * Called by the restore stub, on @co's own stack below the saved stack pointer, in the middle
 * of the switch to @co (the sanitizers were told of it already; ASan's view of the stack is
 * in flux until the switch finishes, so nothing here is instrumented for it and nothing is
 * freed). Puts the words back; the stub then resumes the frame at the saved pointer.
 */
__attribute__((visibility("hidden"))) void cio__coro_restore_c(struct cio__coro *co);
#if CIO__ASAN
__attribute__((no_sanitize_address))
#endif
void cio__coro_restore_c(struct cio__coro *co)
{
    /* valgrind saw the switch pop the shared frame (stack memory that died): it is not */
    VALGRIND_MAKE_MEM_DEFINED(&cio__ctx_restore_frame, sizeof(cio__ctx_restore_frame));
    const struct cio__coro_save *save = co->save;
    const struct cio__coro_tmpl *t = save->tmpl;
    uint64_t top = (uintptr_t)cio__stack_top(&co->stack);
    const uint64_t *bits = save->bits, *in = bits + bitmap_words(t->n);
    volatile uint64_t *dst = (volatile uint64_t *)(void *)save->sp;
    for (size_t i = 0; i < t->n; i++) {
        if (bit(bits, i))
            dst[i] = *in++;
        else
            dst[i] = t->words[i] + (bit(t->words + t->n, i) ? top : 0);
    }
    if (save->vbits != NULL)
        (void)VALGRIND_SET_VBITS(save->sp, save->vbits, t->n * 8);
    co->ctx.sp = save->sp; /* not saved any more (coro.h: cio__coro_saved) */
}

void cio__coro_save_trim(struct cio__coro *co)
{
    if (!cio__coro_saved(co))
        save_drop(co);
}
