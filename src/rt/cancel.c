/*
 * cancel.c: cancellation from the outside in — through a join handle, through an abort handle
 * from anywhere at any time, and the cancel shield that holds it off for cleanup. What a
 * cancelled task's calls do is the scheduler's (cio__task_cancel, cio__task_park: sched.c).
 *
 * An abort handle is a value {slot, generation} into a process-wide table of slots that never
 * moves and is never freed (1024-slot chunks allocated on first use). A task takes a slot
 * the first time an abort handle is asked for — tasks that never need one pay nothing — and
 * gives it back when its body returns, bumping the slot's generation, so every handle made
 * for it stops matching. The slot's spinlock orders the two: a cancel holds it while it
 * checks the generation and cancels, and the finishing task takes it to retire the slot, so a
 * cancel that matched reaches a record that is still alive.
 *
 *     task  --first handle-->  slot {task, gen}  <--cancel(h): lock, gen == h.gen ? cancel--
 *       \--body returned-->    slot {NULL, gen+1}, back on the free list
 */
#include "rt/cancel.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#define CHUNK_SLOTS 1024u
#define MAX_CHUNKS 4096u /* 4 Mi tasks with an abort handle at once */

struct abort_slot {
    atomic_flag lock;
    cio_task *task;      /* under lock; NULL while free */
    uint64_t generation; /* under lock; moves when the slot is given back */
    uint32_t next_free;  /* under registry_lock */
};

static struct abort_slot *_Atomic chunks[MAX_CHUNKS];
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t free_head;       /* 0: none */
static uint32_t next_unused = 1; /* slot 0 is never used: a zero handle names no task */

static struct abort_slot *slot_at(uint32_t index)
{
    if (index == 0 || index == CIO__ABORT_RETIRED || index / CHUNK_SLOTS >= MAX_CHUNKS)
        return NULL;
    struct abort_slot *chunk =
        atomic_load_explicit(&chunks[index / CHUNK_SLOTS], memory_order_acquire);
    return chunk != NULL ? &chunk[index % CHUNK_SLOTS] : NULL;
}

static void slot_lock(struct abort_slot *s)
{
    while (atomic_flag_test_and_set_explicit(&s->lock, memory_order_acquire))
        sched_yield();
}

static void slot_unlock(struct abort_slot *s)
{
    atomic_flag_clear_explicit(&s->lock, memory_order_release);
}

/* A free slot's index, or 0 (-ENOMEM). */
static uint32_t slot_alloc(void)
{
    uint32_t index = 0;
    pthread_mutex_lock(&registry_lock);
    if (free_head != 0) {
        index = free_head;
        free_head = slot_at(index)->next_free;
    } else if (next_unused / CHUNK_SLOTS < MAX_CHUNKS) {
        unsigned c = next_unused / CHUNK_SLOTS;
        if (atomic_load_explicit(&chunks[c], memory_order_relaxed) == NULL) {
            /* calloc: every flag clear, every generation 0 */
            struct abort_slot *chunk = calloc(CHUNK_SLOTS, sizeof(*chunk));
            atomic_store_explicit(&chunks[c], chunk, memory_order_release);
        }
        if (atomic_load_explicit(&chunks[c], memory_order_relaxed) != NULL)
            index = next_unused++;
    }
    pthread_mutex_unlock(&registry_lock);
    return index;
}

static void slot_free(uint32_t index)
{
    pthread_mutex_lock(&registry_lock);
    slot_at(index)->next_free = free_head;
    free_head = index;
    pthread_mutex_unlock(&registry_lock);
}

void cio__abort_retire(cio_task *t)
{
    uint32_t index = atomic_exchange(&t->abort_slot, CIO__ABORT_RETIRED);
    struct abort_slot *s = slot_at(index);
    if (s == NULL)
        return; /* no abort handle was ever made */
    slot_lock(s);
    s->task = NULL;
    s->generation++;
    slot_unlock(s);
    slot_free(index);
}

int cio__abort_handle_of(cio_task *t, cio_abort_handle *ret_abort)
{
    uint32_t index = atomic_load(&t->abort_slot);
    if (index == 0) {
        uint32_t mine = slot_alloc();
        if (mine == 0)
            return -ENOMEM;
        struct abort_slot *s = slot_at(mine);
        slot_lock(s);
        s->task = t;
        slot_unlock(s);
        /* Racing with the task finishing (RETIRED), or with the task asking for its own. */
        if (atomic_compare_exchange_strong(&t->abort_slot, &index, mine)) {
            index = mine;
        } else {
            slot_lock(s);
            s->task = NULL;
            s->generation++;
            slot_unlock(s);
            slot_free(mine);
        }
    }
    cio_abort_handle h = {0, 0};
    struct abort_slot *s = slot_at(index);
    if (s != NULL) {
        slot_lock(s);
        if (s->task == t) /* else: retired meanwhile, the handle names no task */
            h = (cio_abort_handle){.slot = index, .generation = s->generation};
        slot_unlock(s);
    }
    *ret_abort = h;
    return 0;
}

int cio_task_abort_handle(const cio_join_handle *handle, cio_abort_handle *ret_abort)
{
    if (handle == NULL || ret_abort == NULL)
        return -EINVAL;
    return cio__abort_handle_of(cio__task_of(handle), ret_abort);
}

int cio_task_current_abort_handle(cio_abort_handle *ret_abort)
{
    if (ret_abort == NULL)
        return -EINVAL;
    cio_task *t = cio__task_self();
    if (t == NULL)
        return -EPERM;
    return cio__abort_handle_of(t, ret_abort);
}

int cio_abort_handle_cancel(cio_abort_handle abort)
{
    struct abort_slot *s = slot_at(abort.slot);
    if (s == NULL)
        return -ESRCH;
    int rc = -ESRCH;
    slot_lock(s);
    if (s->task != NULL && s->generation == abort.generation) {
        cio__task_cancel(s->task); /* alive: retiring the slot waits for this lock */
        rc = 0;
    }
    slot_unlock(s);
    return rc;
}

bool cio_abort_handle_is_finished(cio_abort_handle abort)
{
    struct abort_slot *s = slot_at(abort.slot);
    if (s == NULL)
        return true;
    slot_lock(s);
    bool finished = s->task == NULL || s->generation != abort.generation;
    slot_unlock(s);
    return finished;
}

int cio_task_cancel(cio_join_handle *handle)
{
    if (handle == NULL)
        return -EINVAL;
    cio__task_cancel(cio__task_of(handle));
    return 0;
}

bool cio_task_is_cancelled(void)
{
    cio_task *t = cio__task_self();
    return t != NULL && (atomic_load(&t->state) & CIO__TASK_CANCELLED);
}

/* ---- shields ---- */

cio_cancel_shield cio_cancel_shield_begin(cio_time deadline)
{
    cio_task *t = cio__task_self();
    if (t == NULL)
        return (cio_cancel_shield){.deadline = CIO_DEADLINE_NONE};
    cio_cancel_shield saved = {.deadline = t->deadline, .in_task = true};
    saved.outer_shielded = cio__task_shield_begin(t);
    t->deadline = deadline; /* the block's own time, even past the task's deadline */
    return saved;
}

void cio_cancel_shield_end(cio_cancel_shield saved)
{
    cio_task *t = cio__task_self();
    if (t == NULL || !saved.in_task)
        return;
    t->deadline = saved.deadline;
    cio__task_shield_end(t, saved.outer_shielded);
}
