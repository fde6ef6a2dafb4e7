/*
 * stack.c: coroutine stacks — guard-paged lazily committed mappings, the bounded pool that
 * recycles them with their touched pages released, the registry of guard pages, and the
 * SIGSEGV handler (on a per-thread sigaltstack) that reads the registry to report a stack
 * overflow by the coroutine's name instead of crashing anonymously. See stack.h.
 */
#include "rt/stack.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/assert.h"
#include "util/compiler.h"

#if CIO__ASAN
#include <sanitizer/asan_interface.h>
#endif

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define CIO__HAVE_VALGRIND 1
#endif
#endif
#ifndef CIO__HAVE_VALGRIND
#define CIO__HAVE_VALGRIND 0
#endif

/* The handler reads the registry with plain atomic loads, which is only async-signal-safe if
 * they are lock-free. */
_Static_assert(ATOMIC_POINTER_LOCK_FREE == 2, "lock-free pointers needed by the SIGSEGV handler");
_Static_assert(ATOMIC_LONG_LOCK_FREE == 2, "lock-free longs needed by the SIGSEGV handler");

size_t cio__stack_page_size(void)
{
    static _Atomic size_t cached;
    size_t page = atomic_load_explicit(&cached, memory_order_relaxed);
    if (cio__unlikely(page == 0)) {
        long sc = sysconf(_SC_PAGESIZE);
        page = sc > 0 ? (size_t)sc : 4096;
        atomic_store_explicit(&cached, page, memory_order_relaxed);
    }
    return page;
}

int cio__stack_size_round(size_t size, size_t default_size, size_t *ret_size)
{
    size_t page = cio__stack_page_size();
    if (size == 0)
        size = default_size != 0 ? default_size : CIO__STACK_DEFAULT_SIZE;
    if (size > CIO__STACK_MAX_SIZE)
        return -EINVAL; /* also keeps the rounding below from overflowing */
    size = (size + page - 1) & ~(page - 1);
    if (size < CIO__STACK_MIN_SIZE || size > CIO__STACK_MAX_SIZE)
        return -EINVAL;
    *ret_size = size;
    return 0;
}

/* ---- the guard-page registry ----
 *
 * Slots live in fixed chunks that are allocated once and never freed or moved, so the signal
 * handler can walk them with atomic loads while other threads map and unmap stacks. Writers
 * (stack map/unmap, which are system calls anyway) take a mutex; the handler takes nothing.
 * A slot is in use while guard_lo != 0; the writer fills size and name before publishing
 * guard_lo with release order.
 *
 *     reg_chunks[i / REG_CHUNK] -> [slot 0][slot 1]...[slot REG_CHUNK-1]
 *     reg_used: slots ever handed out (the handler scans [0, reg_used))
 *     reg_free: a list of released slots threaded through next_free (under reg_lock)
 */
#define REG_CHUNK 1024u
#define REG_MAX_CHUNKS 4096u /* 4 Mi stacks: far beyond vm.max_map_count */
#define REG_NONE UINT32_MAX

struct reg_slot {
    _Atomic uintptr_t guard_lo; /* 0 = free */
    _Atomic size_t size;
    _Atomic(const char *) name;
    uint32_t next_free;
};

static _Atomic(struct reg_slot *) reg_chunks[REG_MAX_CHUNKS];
static _Atomic uint32_t reg_used;
static uint32_t reg_free = REG_NONE;
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;

static struct reg_slot *reg_slot_at(uint32_t index)
{
    struct reg_slot *chunk =
        atomic_load_explicit(&reg_chunks[index / REG_CHUNK], memory_order_acquire);
    return chunk != NULL ? &chunk[index % REG_CHUNK] : NULL;
}

static int reg_add(uintptr_t guard_lo, size_t size, uint32_t *ret_index)
{
    int rc = 0;
    pthread_mutex_lock(&reg_lock);
    uint32_t index = reg_free;
    if (index != REG_NONE) {
        reg_free = reg_slot_at(index)->next_free;
    } else {
        index = atomic_load_explicit(&reg_used, memory_order_relaxed);
        if (index / REG_CHUNK >= REG_MAX_CHUNKS) {
            rc = -ENOMEM;
            goto out;
        }
        if (index % REG_CHUNK == 0) {
            struct reg_slot *chunk = calloc(REG_CHUNK, sizeof(*chunk));
            if (chunk == NULL) {
                rc = -ENOMEM;
                goto out;
            }
            atomic_store_explicit(&reg_chunks[index / REG_CHUNK], chunk, memory_order_release);
        }
        atomic_store_explicit(&reg_used, index + 1, memory_order_release);
    }
    struct reg_slot *slot = reg_slot_at(index);
    atomic_store_explicit(&slot->size, size, memory_order_relaxed);
    atomic_store_explicit(&slot->name, NULL, memory_order_relaxed);
    atomic_store_explicit(&slot->guard_lo, guard_lo, memory_order_release);
    *ret_index = index;
out:
    pthread_mutex_unlock(&reg_lock);
    return rc;
}

static void reg_remove(uint32_t index)
{
    pthread_mutex_lock(&reg_lock);
    struct reg_slot *slot = reg_slot_at(index);
    cio__assert(slot != NULL && atomic_load(&slot->guard_lo) != 0);
    if (slot == NULL) { /* cannot happen: the index came from reg_add */
        pthread_mutex_unlock(&reg_lock);
        return;
    }
    atomic_store_explicit(&slot->guard_lo, 0, memory_order_release);
    atomic_store_explicit(&slot->name, NULL, memory_order_relaxed);
    slot->next_free = reg_free;
    reg_free = index;
    pthread_mutex_unlock(&reg_lock);
}

void cio__stack_set_name(struct cio__stack *stack, const char *name)
{
    struct reg_slot *slot = reg_slot_at(stack->slot);
    if (slot != NULL)
        atomic_store_explicit(&slot->name, name, memory_order_release);
}

/* ---- mapping ---- */

/* Forget ASan's poisoning of a stack's shadow: frames that never returned (a finished
 * coroutine's last ones, a destroyed suspended coroutine's) leave redzones poisoned, which
 * would be false reports for the next coroutine on this memory or the next mapping here. */
static void stack_unpoison(struct cio__stack *stack)
{
#if CIO__ASAN
    ASAN_UNPOISON_MEMORY_REGION(stack->lo, stack->size);
#else
    (void)stack;
#endif
}

/* A stack resting in the pool is poisoned whole under ASan, so that a use of what lived on it —
 * a task record reached through a handle that was already joined or detached — is reported
 * as such, not silently read from (or written into) the next task's record. */
static void stack_poison(struct cio__stack *stack)
{
#if CIO__ASAN
    ASAN_POISON_MEMORY_REGION(stack->lo, stack->size);
#else
    (void)stack;
#endif
}

int cio__stack_map(struct cio__stack *ret_stack, size_t size)
{
    size_t page = cio__stack_page_size();
    int rc = cio__stack_size_round(size, 0, &size);
    if (rc < 0)
        return rc;
    size_t map_size = size + page;
    /* MAP_NORESERVE: address space only; pages are committed when first touched, and the
     * overcommit heuristic does not count a stack as its full size. */
    char *map = mmap(NULL, map_size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (map == MAP_FAILED)
        return errno == EAGAIN ? -ENOMEM : -errno;
    if (mprotect(map, page, PROT_NONE) < 0) {
        rc = -errno;
        (void)munmap(map, map_size);
        return rc;
    }
    struct cio__stack stack = {.lo = map + page, .size = size, .slot = REG_NONE, .vg_id = 0};
    rc = reg_add((uintptr_t)map, size, &stack.slot);
    if (rc < 0) {
        (void)munmap(map, map_size);
        return rc;
    }
#if CIO__HAVE_VALGRIND
    stack.vg_id = VALGRIND_STACK_REGISTER(stack.lo, stack.lo + size);
#endif
    *ret_stack = stack;
    return 0;
}

void cio__stack_unmap(struct cio__stack *stack)
{
    size_t page = cio__stack_page_size();
#if CIO__HAVE_VALGRIND
    VALGRIND_STACK_DEREGISTER(stack->vg_id);
#endif
    stack_unpoison(stack);
    /* Out of the registry before the address range can be reused by another mapping. */
    reg_remove(stack->slot);
    (void)munmap(stack->lo - page, stack->size + page);
    stack->lo = NULL;
    stack->size = 0;
}

void cio__stack_release_pages(struct cio__stack *stack)
{
    size_t page = cio__stack_page_size();
    stack_unpoison(stack);
    /* MADV_DONTNEED (not MADV_FREE): the pages leave the resident set at once, so an idle
     * pooled stack is one page of RSS however deep its last coroutine went. */
    if (stack->size > page)
        (void)madvise(stack->lo, stack->size - page, MADV_DONTNEED);
}

/* ---- the pool ---- */

struct cio__stack_pool {
    pthread_mutex_t lock;
    size_t default_size;
    size_t max_cached;
    size_t ncached;
    struct cio__stack cached[]; /* LIFO: the most recently returned stack is hottest */
};

int cio__stack_pool_new(struct cio__stack_pool **ret_pool, size_t default_size, size_t max_cached)
{
    if (ret_pool == NULL || max_cached > ((size_t)1 << 20))
        return -EINVAL;
    int rc = cio__stack_size_round(default_size, 0, &default_size);
    if (rc < 0)
        return rc;
    struct cio__stack_pool *pool = malloc(sizeof(*pool) + max_cached * sizeof(pool->cached[0]));
    if (pool == NULL)
        return -ENOMEM;
    pthread_mutex_init(&pool->lock, NULL);
    pool->default_size = default_size;
    pool->max_cached = max_cached;
    pool->ncached = 0;
    *ret_pool = pool;
    return 0;
}

void cio__stack_pool_free(struct cio__stack_pool *pool)
{
    if (pool == NULL)
        return;
    for (size_t i = 0; i < pool->ncached; i++)
        cio__stack_unmap(&pool->cached[i]);
    pthread_mutex_destroy(&pool->lock);
    free(pool);
}

size_t cio__stack_pool_default_size(const struct cio__stack_pool *pool)
{
    return pool->default_size;
}

size_t cio__stack_pool_cached(struct cio__stack_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    size_t n = pool->ncached;
    pthread_mutex_unlock(&pool->lock);
    return n;
}

int cio__stack_pool_get(struct cio__stack_pool *pool, size_t size, struct cio__stack *ret_stack)
{
    if (pool == NULL || ret_stack == NULL)
        return -EINVAL;
    int rc = cio__stack_size_round(size, pool->default_size, &size);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&pool->lock);
    /* Most stacks have the default size, so the top entry nearly always matches. */
    for (size_t i = pool->ncached; i-- > 0;) {
        if (pool->cached[i].size == size) {
            *ret_stack = pool->cached[i];
            pool->cached[i] = pool->cached[--pool->ncached];
            pthread_mutex_unlock(&pool->lock);
            stack_unpoison(ret_stack);
            return 0;
        }
    }
    pthread_mutex_unlock(&pool->lock);
    return cio__stack_map(ret_stack, size);
}

void cio__stack_pool_put(struct cio__stack_pool *pool, struct cio__stack *stack)
{
    cio__stack_set_name(stack, NULL);
    /* A hint read under the lock: when the pool is full the stack is unmapped and releasing
     * its pages first would be a wasted system call. The madvise runs outside the lock. */
    pthread_mutex_lock(&pool->lock);
    bool room = pool->ncached < pool->max_cached;
    pthread_mutex_unlock(&pool->lock);
    if (room) {
        cio__stack_release_pages(stack);
        stack_poison(stack); /* unpoisoned again when it is unmapped or handed out */
        pthread_mutex_lock(&pool->lock);
        room = pool->ncached < pool->max_cached;
        if (room)
            pool->cached[pool->ncached++] = *stack;
        pthread_mutex_unlock(&pool->lock);
    }
    if (!room)
        cio__stack_unmap(stack);
}

/* ---- overflow reports ---- */

static struct sigaction prev_segv;
static bool handler_installed;
static pthread_mutex_t handler_lock = PTHREAD_MUTEX_INITIALIZER;
/* The alternate signal stack this thread got from us (NULL: none, or the thread's own). */
static __thread void *altstack_map;
static __thread size_t altstack_map_size;

/* Async-signal-safe output: no stdio, no malloc. */
static void put_str(char *buf, size_t cap, size_t *len, const char *s)
{
    while (*s != '\0' && *len + 1 < cap)
        buf[(*len)++] = *s++;
}

static void put_uint(char *buf, size_t cap, size_t *len, uintptr_t value, unsigned base)
{
    char digits[32];
    size_t n = 0;
    do {
        digits[n++] = "0123456789abcdef"[value % base];
        value /= base;
    } while (value != 0 && n < sizeof(digits));
    while (n > 0 && *len + 1 < cap)
        buf[(*len)++] = digits[--n];
}

/* The registry slot whose guard page holds addr, or NULL. */
static struct reg_slot *guard_lookup(uintptr_t addr, size_t page)
{
    uint32_t used = atomic_load_explicit(&reg_used, memory_order_acquire);
    for (uint32_t i = 0; i < used; i++) {
        struct reg_slot *slot = reg_slot_at(i);
        if (slot == NULL)
            continue;
        uintptr_t lo = atomic_load_explicit(&slot->guard_lo, memory_order_acquire);
        if (lo != 0 && addr >= lo && addr - lo < page)
            return slot;
    }
    return NULL;
}

static void report_overflow(struct reg_slot *slot, uintptr_t addr)
{
    char msg[512];
    size_t len = 0;
    const char *name = atomic_load_explicit(&slot->name, memory_order_acquire);
    put_str(msg, sizeof(msg), &len, "cio: stack overflow: coroutine \"");
    if (name != NULL) {
        /* Bounded copy: a name is not trusted to be short. */
        for (size_t i = 0; i < 128 && name[i] != '\0' && len + 1 < sizeof(msg); i++)
            msg[len++] = name[i];
    } else {
        put_str(msg, sizeof(msg), &len, "(unnamed)");
    }
    put_str(msg, sizeof(msg), &len, "\" overflowed its ");
    put_uint(msg, sizeof(msg), &len, atomic_load_explicit(&slot->size, memory_order_relaxed), 10);
    put_str(msg, sizeof(msg), &len, "-byte stack (fault at 0x");
    put_uint(msg, sizeof(msg), &len, addr, 16);
    put_str(msg, sizeof(msg), &len, " in its guard page)\n");
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(STDERR_FILENO, msg + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
}

static void on_segv(int sig, siginfo_t *info, void *ucontext)
{
    int saved_errno = errno;
    if (info != NULL && info->si_code > 0) { /* a real fault, not kill() or sigqueue() */
        struct reg_slot *slot = guard_lookup((uintptr_t)info->si_addr, cio__stack_page_size());
        if (slot != NULL) {
            report_overflow(slot, (uintptr_t)info->si_addr);
            abort();
        }
    }
    errno = saved_errno;
    /* Not ours: whoever handled SIGSEGV before us gets it. */
    if (prev_segv.sa_flags & SA_SIGINFO) {
        prev_segv.sa_sigaction(sig, info, ucontext);
    } else if (prev_segv.sa_handler != SIG_DFL && prev_segv.sa_handler != SIG_IGN) {
        prev_segv.sa_handler(sig);
    } else {
        /* Default action: restore it; a fault then recurs on return and kills the process
         * as it would have without us; a sent signal is raised again (it is blocked until
         * this handler returns). SIG_IGN is no choice for a fault: the kernel forces the
         * default action then too. */
        struct sigaction dfl;
        memset(&dfl, 0, sizeof(dfl));
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        (void)sigaction(sig, &dfl, NULL);
        if (info == NULL || info->si_code <= 0)
            (void)raise(sig);
    }
}

int cio__stack_overflow_handler_install(void)
{
    stack_t current;
    if (sigaltstack(NULL, &current) < 0)
        return -errno;
    if ((current.ss_flags & SS_DISABLE) && altstack_map == NULL) {
        size_t page = cio__stack_page_size();
        size_t size = 64 * 1024;
#ifdef _SC_SIGSTKSZ
        long min = sysconf(_SC_SIGSTKSZ); /* glibc 2.34+: depends on the CPU's register file */
        if (min > 0 && (size_t)min * 4 > size)
            size = (size_t)min * 4;
#endif
        size = (size + page - 1) & ~(page - 1);
        /* With a guard page of its own: a handler overflowing the alternate stack faults
         * again instead of writing over whatever is mapped below. */
        char *map = mmap(NULL, size + page, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
        if (map == MAP_FAILED)
            return -ENOMEM;
        (void)mprotect(map, page, PROT_NONE);
        stack_t alt = {.ss_sp = map + page, .ss_size = size, .ss_flags = 0};
        if (sigaltstack(&alt, NULL) < 0) {
            int rc = -errno;
            (void)munmap(map, size + page);
            return rc;
        }
        altstack_map = map;
        altstack_map_size = size + page;
    }
    int rc = 0;
    pthread_mutex_lock(&handler_lock);
    if (!handler_installed) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_sigaction = on_segv;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGSEGV, &sa, &prev_segv) < 0)
            rc = -errno;
        else
            handler_installed = true;
    }
    pthread_mutex_unlock(&handler_lock);
    return rc;
}

void cio__stack_overflow_handler_uninstall(void)
{
    if (altstack_map == NULL)
        return;
    stack_t current;
    /* Only disable the alternate stack if it is still ours and not in use. */
    if (sigaltstack(NULL, &current) == 0 && !(current.ss_flags & SS_ONSTACK) &&
        current.ss_sp == (char *)altstack_map + cio__stack_page_size()) {
        stack_t off = {.ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE};
        if (sigaltstack(&off, NULL) < 0)
            return;
    } else if (!(current.ss_flags & SS_DISABLE)) {
        return;
    }
    (void)munmap(altstack_map, altstack_map_size);
    altstack_map = NULL;
    altstack_map_size = 0;
}
