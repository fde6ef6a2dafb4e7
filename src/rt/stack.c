/*
 * stack.c: coroutine stacks — guard-paged lazily committed memory carved from arenas (or one
 * mapping per stack without guard regions), the bounded pool that recycles stacks with their
 * touched pages released, the registry of guard pages, and the
 * SIGSEGV handler (on a per-thread sigaltstack) that reads the registry to report a stack
 * overflow by the coroutine's name instead of crashing anonymously. See stack.h.
 */
#include "rt/stack.h"

#include <errno.h>
#include <fcntl.h>
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

/* ---- arenas ----
 *
 * Stacks of one usable size are carved from arenas: one anonymous mapping holding many slots,
 * each a guard page followed by the usable stack. The guards are guard regions
 * (madvise MADV_GUARD_INSTALL, Linux 6.13): a PTE marker that faults like PROT_NONE but does
 * not split the mapping, so an arena of hundreds of stacks is one kernel mapping, not two per
 * stack. Where the kernel lacks guard regions (EINVAL), or ignores them (qemu-user says yes to
 * any advice it does not know: the probe checks that a guard really faults), every stack is its
 * own mapping with an mprotect'ed guard page, as before.
 *
 *     class (one per usable size) -> open: arenas with a free or never used slot
 *     arena: | guard | usable | guard | usable | ... |   nslots slots of (page + size) bytes
 *             slot 0           slot 1
 *
 * A slot's guard is installed when the slot is first handed out and stays until the arena is
 * unmapped; a slot that comes back gives all its pages to the kernel (MADV_DONTNEED keeps guard
 * markers) and goes on its arena's free list. An arena whose last stack comes back is unmapped
 * unless it is its class's only open arena (kept so a workload that breathes around one arena
 * does not map and unmap it). Arenas grow with the class: a new one has as many slots as the
 * class already has (16 at least, ARENA_MAX_BYTES of address space at most), so a million
 * stacks take a few thousand mappings.
 */
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#ifndef MADV_GUARD_REMOVE
#define MADV_GUARD_REMOVE 103
#endif

#define ARENA_MIN_SLOTS 16u
#define ARENA_MAX_BYTES ((size_t)256 << 20)
#define ARENA_MAX_SLOTS 4096u

struct arena_class;

struct cio__stack_arena {
    char *base;
    size_t map_size;
    struct arena_class *cls;
    uint32_t nslots;
    uint32_t carved;    /* slots [0, carved) have their guard installed */
    uint32_t live;      /* slots handed out */
    uint32_t free_head; /* a list of returned slots through next_free; REG_NONE = empty */
    bool open;          /* in cls's open list */
    struct cio__stack_arena *prev, *next;
    uint32_t next_free[];
};

struct arena_class {
    size_t size;  /* usable bytes per stack */
    size_t slots; /* in all of this class's arenas */
    struct cio__stack_arena *open;
    struct arena_class *next;
};

enum { ARENA_UNKNOWN = 0, ARENA_ON, ARENA_OFF };

static pthread_mutex_t arena_lock = PTHREAD_MUTEX_INITIALIZER;
static struct arena_class *arena_classes; /* under arena_lock */
static _Atomic int arena_mode;            /* ARENA_*: decided once, by arena_probe() */
static _Atomic size_t arena_count;        /* mapped arenas, for tests and statistics */

/* Do guard regions work here? A guard installed on a scratch page must make the kernel refuse
 * to read it (a write() from it fails with EFAULT), which also catches an emulator that
 * accepts the advice and does nothing. */
static bool arena_probe(void)
{
    size_t page = cio__stack_page_size();
    char *map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (map == MAP_FAILED)
        return false;
    bool works = false;
    if (madvise(map, page, MADV_GUARD_INSTALL) == 0) {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) == 0) {
            works = write(fds[1], map, 1) < 0 && errno == EFAULT;
            close(fds[0]);
            close(fds[1]);
        }
    }
    (void)munmap(map, 2 * page);
    return works;
}

static bool arena_enabled(void)
{
    int mode = atomic_load_explicit(&arena_mode, memory_order_acquire);
    if (cio__unlikely(mode == ARENA_UNKNOWN)) {
        pthread_mutex_lock(&arena_lock);
        mode = atomic_load_explicit(&arena_mode, memory_order_relaxed);
        if (mode == ARENA_UNKNOWN) {
            mode = arena_probe() ? ARENA_ON : ARENA_OFF;
            if (mode == ARENA_OFF && getenv("CIO_DEBUG") != NULL) {
                static const char note[] =
                    "cio: note: no guard regions (MADV_GUARD_INSTALL, Linux 6.13) here: each "
                    "task stack is two mappings, so vm.max_map_count bounds the task count\n";
                (void)!write(STDERR_FILENO, note, sizeof(note) - 1);
            }
            atomic_store_explicit(&arena_mode, mode, memory_order_release);
        }
        pthread_mutex_unlock(&arena_lock);
    }
    return mode == ARENA_ON;
}

int cio__stack_arenas_set(bool enable)
{
    int rc = 0;
    pthread_mutex_lock(&arena_lock);
    if (atomic_load_explicit(&arena_mode, memory_order_relaxed) != ARENA_UNKNOWN)
        rc = -EBUSY;
    else if (enable && !arena_probe())
        rc = -ENOTSUP;
    else
        atomic_store_explicit(&arena_mode, enable ? ARENA_ON : ARENA_OFF, memory_order_release);
    pthread_mutex_unlock(&arena_lock);
    return rc;
}

bool cio__stack_arenas_used(void)
{
    return arena_enabled();
}

size_t cio__stack_arena_count(void)
{
    return atomic_load_explicit(&arena_count, memory_order_relaxed);
}

static void open_push(struct arena_class *cls, struct cio__stack_arena *a)
{
    a->prev = NULL;
    a->next = cls->open;
    if (cls->open != NULL)
        cls->open->prev = a;
    cls->open = a;
    a->open = true;
}

static void open_remove(struct arena_class *cls, struct cio__stack_arena *a)
{
    if (a->prev != NULL)
        a->prev->next = a->next;
    else
        cls->open = a->next;
    if (a->next != NULL)
        a->next->prev = a->prev;
    a->prev = a->next = NULL;
    a->open = false;
}

/* A new arena for @cls, in its open list. Under arena_lock. */
static int arena_new(struct arena_class *cls, size_t slot_size)
{
    size_t max_slots = ARENA_MAX_BYTES / slot_size;
    if (max_slots > ARENA_MAX_SLOTS)
        max_slots = ARENA_MAX_SLOTS;
    if (max_slots == 0)
        max_slots = 1;
    size_t nslots = cls->slots < ARENA_MIN_SLOTS ? ARENA_MIN_SLOTS : cls->slots;
    if (nslots > max_slots)
        nslots = max_slots;
    struct cio__stack_arena *a = malloc(sizeof(*a) + nslots * sizeof(a->next_free[0]));
    if (a == NULL)
        return -ENOMEM;
    size_t map_size = nslots * slot_size;
    /* MAP_NORESERVE: address space only; a stack's pages are committed as it touches them. */
    char *map = mmap(NULL, map_size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (map == MAP_FAILED) {
        free(a);
        return -ENOMEM;
    }
    a->base = map;
    a->map_size = map_size;
    a->cls = cls;
    a->nslots = (uint32_t)nslots;
    a->carved = 0;
    a->live = 0;
    a->free_head = REG_NONE;
    open_push(cls, a);
    cls->slots += nslots;
    atomic_fetch_add_explicit(&arena_count, 1, memory_order_relaxed);
    return 0;
}

static struct arena_class *arena_class_of(size_t size)
{
    for (struct arena_class *cls = arena_classes; cls != NULL; cls = cls->next)
        if (cls->size == size)
            return cls;
    struct arena_class *cls = calloc(1, sizeof(*cls));
    if (cls == NULL)
        return NULL;
    cls->size = size;
    cls->next = arena_classes;
    arena_classes = cls;
    return cls;
}

/* A stack of @size usable bytes (already rounded) from an arena: *ret_stack's lo, size and
 * arena. */
static int arena_get(size_t size, struct cio__stack *ret_stack)
{
    size_t page = cio__stack_page_size();
    size_t slot_size = size + page;
    pthread_mutex_lock(&arena_lock);
    struct arena_class *cls = arena_class_of(size);
    int rc = cls != NULL ? 0 : -ENOMEM;
    if (rc == 0 && cls->open == NULL)
        rc = arena_new(cls, slot_size);
    if (rc < 0) {
        pthread_mutex_unlock(&arena_lock);
        return rc;
    }
    struct cio__stack_arena *a = cls->open;
    uint32_t index = a->free_head;
    if (index != REG_NONE) {
        a->free_head = a->next_free[index]; /* a returned slot: its guard is still there */
    } else {
        index = a->carved;
        /* One system call, under the lock so that a failure simply leaves the slot uncarved
         * (after a working probe only ENOMEM: no memory for the page table). */
        if (madvise(a->base + (size_t)index * slot_size, page, MADV_GUARD_INSTALL) < 0) {
            pthread_mutex_unlock(&arena_lock);
            return -ENOMEM;
        }
        a->carved++;
    }
    a->live++;
    if (a->free_head == REG_NONE && a->carved == a->nslots)
        open_remove(cls, a);
    pthread_mutex_unlock(&arena_lock);
    ret_stack->lo = a->base + (size_t)index * slot_size + page;
    ret_stack->size = size;
    ret_stack->arena = a;
    return 0;
}

/* Give an arena stack back: its pages go to the kernel, the slot to the free list, and the
 * arena is unmapped when it was the last and the class has another open arena. */
static void arena_put(const struct cio__stack *stack)
{
    size_t page = cio__stack_page_size();
    struct cio__stack_arena *a = stack->arena;
    /* MADV_DONTNEED: out of the resident set at once; the guard markers stay. */
    (void)madvise(stack->lo, stack->size, MADV_DONTNEED);
    size_t slot_size = stack->size + page;
    uint32_t index = (uint32_t)((size_t)(stack->lo - page - a->base) / slot_size);
    bool unmap = false;
    pthread_mutex_lock(&arena_lock);
    struct arena_class *cls = a->cls;
    a->next_free[index] = a->free_head;
    a->free_head = index;
    a->live--;
    if (!a->open)
        open_push(cls, a);
    if (a->live == 0 && (cls->open != a || a->next != NULL)) {
        open_remove(cls, a);
        cls->slots -= a->nslots;
        unmap = true;
    }
    pthread_mutex_unlock(&arena_lock);
    if (unmap) {
        (void)munmap(a->base, a->map_size);
        atomic_fetch_sub_explicit(&arena_count, 1, memory_order_relaxed);
        free(a);
    }
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

/* The address range of a stack that is in no registry back to its arena or the kernel. */
static void stack_give_back(struct cio__stack *stack)
{
    if (stack->arena != NULL)
        arena_put(stack);
    else
        (void)munmap(stack->lo - cio__stack_page_size(), stack->size + cio__stack_page_size());
}

int cio__stack_map(struct cio__stack *ret_stack, size_t size)
{
    size_t page = cio__stack_page_size();
    int rc = cio__stack_size_round(size, 0, &size);
    if (rc < 0)
        return rc;
    struct cio__stack stack = {.lo = NULL, .size = size, .slot = REG_NONE, .vg_id = 0};
    if (arena_enabled()) {
        rc = arena_get(size, &stack);
        if (rc < 0)
            return rc;
    } else {
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
        stack.lo = map + page;
    }
    rc = reg_add((uintptr_t)(stack.lo - page), size, &stack.slot);
    if (rc < 0) {
        stack_give_back(&stack);
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
#if CIO__HAVE_VALGRIND
    VALGRIND_STACK_DEREGISTER(stack->vg_id);
#endif
    stack_unpoison(stack);
    /* Out of the registry before the address range can be reused by another stack or
     * mapping. */
    reg_remove(stack->slot);
    stack_give_back(stack);
    stack->lo = NULL;
    stack->size = 0;
    stack->arena = NULL;
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

void cio__stack_release_all(struct cio__stack *stack)
{
    /* The shadow of ASan's redzones stays as it is: the frames come back to the same place. */
    (void)madvise(stack->lo, stack->size, MADV_DONTNEED);
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
