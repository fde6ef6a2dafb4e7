/*
 * coro.h: stackful coroutines (private) — the runtime's tasks run on these. A coroutine is a
 * function running on its own stack (stack.h) that can be suspended at any depth and resumed
 * later by a symmetric switch: cio__coro_switch(from, to) suspends `from` (the caller) and
 * resumes `to`. The switch itself is a plain function call into a few instructions of
 * assembly (arch/switch_*.S) that save the callee-saved registers and the floating-point
 * control state on the current stack and load the other stack's; no system call. Each
 * switch is announced to ASan/TSan when built with them, and stacks are registered with
 * valgrind, so the runtime is checkable with all three.
 *
 * A thread's own stack takes part as a coroutine without a stack of its own: the scheduler
 * loop calls cio__coro_thread_init() on it once, then switches to tasks and gets control back
 * when they switch to it (yield/park) or finish.
 *
 *     struct cio__coro sched, task;
 *     cio__coro_thread_init(&sched, "worker");
 *     cio__coro_create(&task, pool, 0, body, arg, "task");   // not started yet
 *     cio__coro_switch(&sched, &task);    // runs body until it switches back...
 *         // ...inside body: cio__coro_switch(&task, &sched) suspends it
 *     cio__coro_switch(&sched, &task);    // resumes it; when body returns, the coroutine is
 *                                         // FINISHED and control goes to its return context
 *     cio__coro_destroy(&task);           // stack back to the pool
 *     cio__coro_thread_fini(&sched);
 *
 * Lifecycle:  CREATED --switch to--> RUNNING <--switch--> SUSPENDED
 *                                      | fn returns
 *                                      v
 *                                   FINISHED --destroy--> (gone)
 * A coroutine in any state but RUNNING may be destroyed; destroying a CREATED or SUSPENDED
 * one discards its stack without unwinding it (nothing on it runs again).
 *
 * When fn returns, the coroutine switches for the last time to co->return_to if that is set,
 * else to its resumer (the coroutine that last switched to it with cio__coro_switch). It never
 * runs off its stack. That final switch is a return, not a resume: it leaves the target's own
 * resumer unchanged, so the target can in turn finish into its resumer.
 *
 * Threads: a coroutine runs on one thread at a time, but may be resumed on a different thread
 * than it was suspended on (the stack goes with it). Code that caches thread-local addresses
 * across a switch must not assume the thread stayed the same. cio__coro_switch() must be
 * called by the running coroutine of the calling thread; `to` must not be running anywhere.
 * A coroutine that switches away is marked SUSPENDED before its registers are saved: another
 * thread may resume it only after the switch has landed in its target (e.g. the scheduler
 * loop it switched to publishes it), never on the strength of the state alone.
 */
#ifndef CIO_RT_CORO_H
#define CIO_RT_CORO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rt/stack.h"

/* The machine context of a suspended coroutine: its saved stack pointer. Registers and the
 * FP control state are on its stack (layout in arch/switch_*.S). */
struct cio__ctx {
    void *sp;
};

/* The raw switch (assembly): saves the caller's callee-saved state on its stack, stores the
 * stack pointer in from->sp, and resumes the context saved in to->sp. Returns when something
 * switches back to `from`. No sanitizer annotations: use cio__coro_switch(). */
void cio__ctx_switch(struct cio__ctx *from, struct cio__ctx *to);

enum cio__coro_state {
    CIO__CORO_CREATED = 0, /* has a stack and an entry, has not run yet */
    CIO__CORO_RUNNING,     /* on some thread right now (a thread context is always so) */
    CIO__CORO_SUSPENDED,   /* switched away from; resumable */
    CIO__CORO_FINISHED,    /* fn returned; only destroy is left */
};

/* A saved stack (see cio__coro_save below): a heap block holding @sp and the live part of the
 * stack from there to the top, encoded against @tmpl (coro.c). The restore stub
 * (arch/switch_*.S) reads @sp first, through co->save. */
struct cio__coro_tmpl;
struct cio__coro_save {
    char *sp; /* where the stack goes back: the suspended stack pointer */
    struct cio__coro_tmpl *tmpl;
    unsigned char *vbits; /* under valgrind: the definedness of the saved bytes; else NULL */
    uint64_t bits[];      /* which words differ from @tmpl, then those words */
};

/* The frame every switch to a saved coroutine pops (coro.c): its return address is the
 * restore stub. */
struct cio__ctx_restore_frame;
extern struct cio__ctx_restore_frame cio__ctx_restore_frame;

/* Templates the stacks a saver saves are encoded against (coro.c): a caller's cache, used
 * by one thread, zero-initialised; cio__coro_tmpls_fini() drops it (blocks keep what they
 * use). */
#define CIO__CORO_TMPLS 16
struct cio__coro_tmpls {
    struct cio__coro_tmpl *slot[CIO__CORO_TMPLS];
};
void cio__coro_tmpls_fini(struct cio__coro_tmpls *cache);

struct cio__coro {
    struct cio__ctx ctx;
    struct cio__coro_save *save; /* the save block, or NULL (see cio__coro_save) */
    /* Where control goes when fn returns; NULL = the resumer. The scheduler may set it at any
     * time before fn returns. */
    struct cio__coro *return_to;
    struct cio__coro *resumer;    /* the coroutine that last switched to this one */
    struct cio__stack_pool *pool; /* where the stack goes back; NULL = unmapped on destroy */
    struct cio__stack stack;      /* .lo == NULL for a thread context */
    enum cio__coro_state state;
#if CIO__ASAN
    const void *asan_stack_bottom; /* what ASan knows as this context's stack */
    size_t asan_stack_size;
#endif
#if CIO__TSAN
    void *tsan_fiber;
#endif
};

/*
 * cio__coro_create() - prepare a coroutine that will run fn(arg) on its own stack.
 * @co: caller-owned storage (embed it in the task); fully initialised here.
 * @pool: the stack comes from (and returns to) this pool; NULL = its own mapping.
 * @stack_size: usable stack bytes, rounded up to pages; 0 = the pool's default (or
 *              CIO__STACK_DEFAULT_SIZE without a pool).
 * @fn, @arg: the body; it runs at the first switch to @co.
 * @name: shown in stack-overflow reports; not copied: must outlive the coroutine. May be NULL.
 *
 * The new stack's first frame inherits the calling thread's floating-point control state
 * (rounding mode, exception masks), as a new thread does.
 *
 * Return: 0; -EINVAL (NULL co or fn, stack size outside [CIO__STACK_MIN_SIZE,
 * CIO__STACK_MAX_SIZE]); -ENOMEM. On failure @co is untouched. Thread safe.
 */
int cio__coro_create(struct cio__coro *co, struct cio__stack_pool *pool, size_t stack_size,
                     void (*fn)(void *arg), void *arg, const char *name);

/*
 * cio__coro_init_on() - prepare a coroutine on a stack the caller already holds (a task takes
 * its stack before its record is set up). The stack goes back to @pool (or is unmapped, @pool
 * NULL) on destroy.
 * Return: 0; -EINVAL; -ENOMEM (TSan's fiber). On failure the stack is still the caller's.
 */
int cio__coro_init_on(struct cio__coro *co, struct cio__stack_pool *pool,
                      const struct cio__stack *stack, void (*fn)(void *arg), void *arg,
                      const char *name);

/*
 * cio__coro_destroy() - release a coroutine that is not running: its stack goes back to its
 * pool (or is unmapped), and its save block (if any) is freed. A FINISHED coroutine has
 * nothing left on its stack; a CREATED or SUSPENDED one is discarded without unwinding. Not
 * for thread contexts.
 */
void cio__coro_destroy(struct cio__coro *co);

/*
 * cio__coro_thread_init() - make the calling thread's current stack a coroutine context
 * (RUNNING, no stack of its own), so that it can switch to coroutines and be switched back
 * to. Call once per thread before its first switch; @name (may be NULL) is TSan's fiber name.
 * Return: 0; -EINVAL for NULL @self.
 */
int cio__coro_thread_init(struct cio__coro *self, const char *name);

/* cio__coro_thread_fini() - end cio__coro_thread_init(); @self must be the running context. */
void cio__coro_thread_fini(struct cio__coro *self);

/*
 * cio__coro_switch() - suspend @from, which must be the calling thread's running coroutine,
 * and run @to (CREATED or SUSPENDED, not @from). Returns when some coroutine switches back
 * to @from. Sets to->resumer = from. No system call; tens of instructions.
 */
void cio__coro_switch(struct cio__coro *from, struct cio__coro *to);

/*
 * Saving an idle coroutine's stack. A SUSPENDED coroutine's live part — from its saved stack
 * pointer to the top, a few hundred bytes for a task parked in a wait — is copied to a heap
 * block (encoded against what other stacks parked at the same place hold, so it takes a
 * fraction of that), and every page of its stack is given back to the kernel; the stack
 * keeps its address range. The block's copy of the switch frame returns to a restore stub
 * (arch/switch_*.S) instead of to the coroutine: the next switch to the coroutine, from any
 * path and on any thread, lands there, copies the block back to the same addresses (so
 * pointers into the stack stay valid) and resumes the real frame. A coroutine that was never
 * saved resumes by the unchanged switch: the hot path pays nothing.
 *
 * The block outlives the restore (it is not freed inside the switch, where a sanitizer's
 * view of the stack is in flux): cio__coro_save_trim() frees it later (a new save replaces
 * it).
 */

/*
 * cio__coro_save() - save @co (SUSPENDED, resumed by nobody meanwhile: the caller owns it
 * for the call) and release its stack pages; the live part is encoded against a template of
 * @cache (the caller's, see struct cio__coro_tmpls).
 * Return: 0; -EBUSY (not suspended, or saved already); -ENOMEM (the block).
 */
int cio__coro_save(struct cio__coro *co, struct cio__coro_tmpls *cache);

/* Whether @co is saved (its next resume restores it). */
static inline bool cio__coro_saved(const struct cio__coro *co)
{
    return co->ctx.sp == (void *)&cio__ctx_restore_frame;
}

/* Free the block of a coroutine restored since its save (not running: same rule as save). */
void cio__coro_save_trim(struct cio__coro *co);

/* The coroutine running on the calling thread (a thread context counts), or NULL if the
 * thread has none. */
struct cio__coro *cio__coro_current(void);

static inline enum cio__coro_state cio__coro_state(const struct cio__coro *co)
{
    return co->state;
}

#endif
