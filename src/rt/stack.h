/*
 * stack.h: coroutine stacks (private). A stack is a range of anonymous memory with a guard
 * page at its low end, reserved (MAP_NORESERVE) but committed by the kernel only page by page
 * as it is touched, so a task costs the pages it used, not its stack size. Stacks of one size
 * are carved from arenas, mappings of many stacks whose guards are guard regions
 * (MADV_GUARD_INSTALL, Linux 6.13) that do not split the mapping, so a million stacks take a
 * few thousand of the kernel's vm.max_map_count mappings (65530 by default); on older kernels
 * each stack is its own mapping with an mprotect'ed guard (two mappings per stack). Stacks
 * are recycled through a bounded pool; a stack that goes back to the pool gives its touched
 * pages back to the kernel (madvise MADV_DONTNEED) except the top page, so an idle pooled
 * stack costs one page, and one that goes back to its arena costs none. Every stack in use is
 * entered in a registry that a SIGSEGV handler, running on a per-thread sigaltstack, reads to
 * turn a guard-page hit into a clear "stack overflow" report naming the coroutine, instead of
 * a bare segmentation fault or silent corruption.
 *
 * Layout of one stack (addresses grow to the right); in an arena, slots follow each other:
 *
 *     guard_lo           lo                                              lo + size = top
 *     | guard (1 page)   | usable: grows down from top, committed as touched  | next slot's guard
 *
 * Sizes are rounded up to whole pages and must lie in [CIO__STACK_MIN_SIZE,
 * CIO__STACK_MAX_SIZE]; 0 asks for the default (the pool's, else CIO__STACK_DEFAULT_SIZE).
 *
 * Typical use (the scheduler):
 *
 *     cio__stack_overflow_handler_install();               // once per worker thread
 *     cio__stack_pool_new(&pool, 0, CIO__STACK_POOL_DEFAULT_CACHED);
 *     cio__stack_pool_get(pool, 0, &stack);                 // (cio__coro_create does this)
 *     ... run a coroutine on it ...
 *     cio__stack_pool_put(pool, &stack);
 *     cio__stack_pool_free(pool);
 */
#ifndef CIO_RT_STACK_H
#define CIO_RT_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Which sanitizer the code is compiled with (gcc says __SANITIZE_*__, clang __has_feature):
 * the context switch and the stacks annotate themselves for it. */
#if defined(__SANITIZE_ADDRESS__)
#define CIO__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CIO__ASAN 1
#endif
#endif
#ifndef CIO__ASAN
#define CIO__ASAN 0
#endif
#if defined(__SANITIZE_THREAD__)
#define CIO__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CIO__TSAN 1
#endif
#endif
#ifndef CIO__TSAN
#define CIO__TSAN 0
#endif

#define CIO__STACK_DEFAULT_SIZE ((size_t)256 * 1024)
#define CIO__STACK_MIN_SIZE ((size_t)16 * 1024)
#define CIO__STACK_MAX_SIZE ((size_t)1 << 30)
/* A reasonable bound for a runtime's pool: 256 idle stacks cost 256 pages (1 MiB) at most. */
#define CIO__STACK_POOL_DEFAULT_CACHED 256

struct cio__stack_arena;

/* One mapped stack. Plain value: copy it around freely; exactly one copy goes back to
 * cio__stack_pool_put() or cio__stack_unmap(). */
struct cio__stack {
    char *lo;                       /* lowest usable byte, just above the guard page */
    size_t size;                    /* usable bytes (a whole number of pages); top = lo + size */
    struct cio__stack_arena *arena; /* the arena it was carved from; NULL = its own mapping */
    uint32_t slot;                  /* this stack's entry in the guard-page registry */
    unsigned vg_id;                 /* valgrind's stack id (0 when not running under valgrind) */
};

static inline char *cio__stack_top(const struct cio__stack *stack)
{
    return stack->lo + stack->size;
}

/* The system page size (cached after the first call). */
size_t cio__stack_page_size(void);

/*
 * cio__stack_size_round() - the usable size a stack request will get: @size rounded up to
 * whole pages, or @default_size (itself rounded) when @size is 0.
 * Return: 0 and *ret_size; -EINVAL when the result is outside [MIN, MAX] or overflows.
 */
int cio__stack_size_round(size_t size, size_t default_size, size_t *ret_size);

/*
 * cio__stack_map() - a new stack of @size usable bytes (0 = CIO__STACK_DEFAULT_SIZE) with its
 * guard page, from an arena (or its own mapping where there are no guard regions), entered in
 * the guard registry and with valgrind.
 * Return: 0 and *ret_stack; -EINVAL bad size; -ENOMEM (memory, address space,
 * vm.max_map_count). Thread safe.
 */
int cio__stack_map(struct cio__stack *ret_stack, size_t size);

/* cio__stack_unmap() - remove a stack from the registry and give it back: to its arena with
 * all its pages released (the arena is unmapped when nothing else is on it), or to the kernel.
 * Thread safe. */
void cio__stack_unmap(struct cio__stack *stack);

/*
 * cio__stack_arenas_used() - whether stacks come from arenas (decided at the first stack: the
 * kernel must support guard regions, checked by a probe that a guard really faults). With
 * CIO_DEBUG set in the environment, the fallback prints a one-line note on stderr.
 */
bool cio__stack_arenas_used(void);

/*
 * cio__stack_arenas_set() - for tests: decide before the first stack whether arenas are used.
 * Return: 0; -EBUSY (already decided); -ENOTSUP (arenas asked for, no guard regions here).
 */
int cio__stack_arenas_set(bool enable);

/* How many arenas are mapped right now (for tests and statistics). */
size_t cio__stack_arena_count(void);

/*
 * cio__stack_release_pages() - give a stack's touched pages back to the kernel, all but the
 * top page (which holds a new coroutine's first frame and is touched again at once).
 * The memory reads as zeros afterwards. Costs one madvise system call. Thread safe.
 */
void cio__stack_release_pages(struct cio__stack *stack);

/* cio__stack_release_all() - give every page of a stack in use back to the kernel, the top
 * one included (a saved coroutine's: coro.h). The memory reads as zeros afterwards. */
void cio__stack_release_all(struct cio__stack *stack);

/*
 * cio__stack_set_name() - the name the overflow report gives for the coroutine running on
 * @stack (NULL = unnamed). The string is not copied: it must stay valid until the name is
 * set again or the stack is returned/unmapped.
 */
void cio__stack_set_name(struct cio__stack *stack, const char *name);

/* ---- the pool ---- */

struct cio__stack_pool;

/*
 * cio__stack_pool_new() - a pool handing out stacks of @default_size usable bytes (0 =
 * CIO__STACK_DEFAULT_SIZE) and keeping at most @max_cached returned stacks for reuse (0 =
 * keep none: every put unmaps).
 * Return: 0 and *ret_pool; -EINVAL (bad size, max_cached > 1 << 20); -ENOMEM.
 */
int cio__stack_pool_new(struct cio__stack_pool **ret_pool, size_t default_size, size_t max_cached);

/* cio__stack_pool_free() - unmap the cached stacks and free the pool. NULL is allowed. Stacks
 * still handed out must be unmapped by their holders with cio__stack_unmap(). */
void cio__stack_pool_free(struct cio__stack_pool *pool);

/* The pool's default usable stack size. */
size_t cio__stack_pool_default_size(const struct cio__stack_pool *pool);

/* How many stacks the pool holds for reuse right now. Thread safe. */
size_t cio__stack_pool_cached(struct cio__stack_pool *pool);

/*
 * cio__stack_pool_get() - a stack of @size usable bytes (0 = the pool's default; rounded to
 * pages): the most recently returned cached stack of that size, else a new mapping.
 * Return: 0 and *ret_stack; -EINVAL bad size; -ENOMEM. Thread safe (a mutex).
 */
int cio__stack_pool_get(struct cio__stack_pool *pool, size_t size, struct cio__stack *ret_stack);

/*
 * cio__stack_pool_put() - return a stack: its pages beyond the top one are released
 * (cio__stack_release_pages) and it is cached, or unmapped when the pool is full. Nothing may
 * run on the stack any more. Thread safe (a mutex; the madvise happens outside it).
 */
void cio__stack_pool_put(struct cio__stack_pool *pool, struct cio__stack *stack);

/* ---- stack overflow reports ---- */

/*
 * cio__stack_overflow_handler_install() - make a guard-page hit on this thread print
 *     cio: stack overflow: coroutine "NAME" overflowed its N-byte stack (fault at 0x...)
 * on stderr and abort(). Gives the calling thread a sigaltstack (unless it has one already)
 * so the handler can run when the faulting stack is exhausted, and installs the process-wide
 * SIGSEGV handler on first use. A fault anywhere else goes to the handler that was installed
 * before (or the default action). Call once on each thread that runs coroutines; calling again
 * is harmless.
 * Return: 0; -ENOMEM (the alternate stack); other negative errno from sigaltstack/sigaction.
 */
int cio__stack_overflow_handler_install(void);

/*
 * cio__stack_overflow_handler_uninstall() - drop the calling thread's sigaltstack if
 * cio__stack_overflow_handler_install() created it (call before a worker thread exits so the
 * alternate stack is not leaked). The process-wide handler stays.
 */
void cio__stack_overflow_handler_uninstall(void);

#endif
