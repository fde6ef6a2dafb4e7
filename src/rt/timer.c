/*
 * timer.c: the hierarchical timer wheel behind cio_sleep and task deadlines (see timer.h for
 * the model). The wheel keeps one invariant that makes everything O(1): a timer whose tick
 * is after `elapsed` sits on level L = (highest bit where tick and elapsed differ) / 6, in
 * slot (tick >> 6L) & 63. So every occupied slot lies after the current slot of its level
 * (it starts after `elapsed`), the lowest non-empty level holds the earliest timers, and the
 * earliest occupied slot of that level is the lowest set bit of the level's occupancy word.
 * advance() walks from slot start to slot start (never from ms to ms), cascading each
 * reached slot's timers to lower levels or firing them.
 */
#include "rt/timer.h"

#include "util/assert.h"
#include "util/compiler.h"

#define LEVEL_BITS 6 /* log2(CIO__TIMER_SLOTS) */
#define SLOT_MASK ((uint64_t)CIO__TIMER_SLOTS - 1)
#define WHEEL_BITS (LEVEL_BITS * CIO__TIMER_LEVELS) /* 36: the wheel spans 2^36 ms */

/* timer->where: which list holds the timer. Wheel slots are numbered from WHERE_SLOT. */
enum {
    WHERE_NONE = 0,
    WHERE_EXPIRED = 1, /* the wheel's expired list, or advance()'s list being fired */
    WHERE_OVERFLOW = 2,
    WHERE_SLOT = 3, /* + level * 64 + slot */
};

_Static_assert(CIO__TIMER_SLOTS == 1 << LEVEL_BITS, "slots per level must be 2^LEVEL_BITS");

/* Deadline (ns) -> tick: whole ms, rounded up so that a timer never fires early. */
static uint64_t deadline_to_tick(cio_time deadline)
{
    if (deadline <= 0)
        return 0;
    return (uint64_t)(deadline / CIO_NSEC_PER_MSEC) + (deadline % CIO_NSEC_PER_MSEC != 0);
}

/* Current time (ns) -> tick: whole ms, rounded down, so tick <= now_tick means due. */
static uint64_t now_to_tick(cio_time now)
{
    return now <= 0 ? 0 : (uint64_t)(now / CIO_NSEC_PER_MSEC);
}

static cio_time tick_to_time(uint64_t tick)
{
    if (tick > (uint64_t)(INT64_MAX / CIO_NSEC_PER_MSEC))
        return INT64_MAX;
    return (cio_time)tick * CIO_NSEC_PER_MSEC;
}

/* The level for a timer due at `tick` > `elapsed`; >= CIO__TIMER_LEVELS means overflow. */
static unsigned level_for(uint64_t elapsed, uint64_t tick)
{
    uint64_t masked = (elapsed ^ tick) | SLOT_MASK;
    unsigned significant = 63u - (unsigned)__builtin_clzll(masked);
    return significant / LEVEL_BITS;
}

static struct cio__timer *timer_of(struct cio__list *node)
{
    return cio__list_entry(node, struct cio__timer, node);
}

/*
 * Put an armed-to-be timer where it belongs relative to the wheel's current time: on
 * `due_list` if already due, else on its level's slot, else on the overflow list.
 */
static void place(struct cio__timer_wheel *wheel, struct cio__timer *timer,
                  struct cio__list *due_list)
{
    uint64_t tick = timer->tick;
    if (tick <= wheel->elapsed) {
        cio__list_push_back(due_list, &timer->node);
        timer->where = WHERE_EXPIRED;
        return;
    }
    unsigned level = level_for(wheel->elapsed, tick);
    if (level >= CIO__TIMER_LEVELS) {
        /* Beyond the top level. Keep a lower bound of these ticks so advance() knows when to
         * look at them again; cancel leaves it stale, which only makes it earlier. */
        if (cio__list_empty(&wheel->overflow) || tick < wheel->overflow_min)
            wheel->overflow_min = tick;
        cio__list_push_back(&wheel->overflow, &timer->node);
        timer->where = WHERE_OVERFLOW;
        return;
    }
    unsigned slot = (unsigned)((tick >> (level * LEVEL_BITS)) & SLOT_MASK);
    cio__list_push_back(&wheel->slots[level][slot], &timer->node);
    wheel->occupied[level] |= UINT64_C(1) << slot;
    timer->where = WHERE_SLOT + level * CIO__TIMER_SLOTS + slot;
}

/* Unlink an armed timer from its list, keeping the occupancy bits right. */
static void unlink_timer(struct cio__timer_wheel *wheel, struct cio__timer *timer)
{
    cio__assert(timer->where != WHERE_NONE);
    cio__list_remove(&timer->node);
    if (timer->where >= WHERE_SLOT) {
        unsigned index = timer->where - WHERE_SLOT;
        unsigned level = index / CIO__TIMER_SLOTS, slot = index % CIO__TIMER_SLOTS;
        if (cio__list_empty(&wheel->slots[level][slot]))
            wheel->occupied[level] &= ~(UINT64_C(1) << slot);
    }
    timer->where = WHERE_NONE;
}

/*
 * The earliest occupied slot: its level (or -1 if the wheel levels are empty), slot index
 * and start tick. The lowest non-empty level has it, because a level's timers all lie inside
 * the current slot of every higher level.
 */
static int next_slot(const struct cio__timer_wheel *wheel, unsigned *ret_slot, uint64_t *ret_start)
{
    for (unsigned level = 0; level < CIO__TIMER_LEVELS; level++) {
        uint64_t occupied = wheel->occupied[level];
        if (occupied == 0)
            continue;
        unsigned shift = level * LEVEL_BITS;
        /* Every occupied slot lies after the current one (the invariant), so the lowest set
         * bit is the next slot to reach; no wrap-around to handle. */
        cio__assert((occupied & (UINT64_MAX >> (63 - ((wheel->elapsed >> shift) & SLOT_MASK)))) ==
                    0);
        unsigned slot = (unsigned)__builtin_ctzll(occupied);
        uint64_t level_span_mask = (UINT64_C(1) << (shift + LEVEL_BITS)) - 1;
        uint64_t start = (wheel->elapsed & ~level_span_mask) + ((uint64_t)slot << shift);
        /* Occupied slots never start at or before `elapsed` (see the file comment). */
        cio__assert(start > wheel->elapsed);
        *ret_slot = slot;
        *ret_start = start;
        return (int)level;
    }
    return -1;
}

void cio__timer_wheel_init(struct cio__timer_wheel *wheel, cio_time now)
{
    wheel->elapsed = now_to_tick(now);
    for (unsigned level = 0; level < CIO__TIMER_LEVELS; level++) {
        wheel->occupied[level] = 0;
        for (unsigned slot = 0; slot < CIO__TIMER_SLOTS; slot++)
            cio__list_init(&wheel->slots[level][slot]);
    }
    cio__list_init(&wheel->expired);
    cio__list_init(&wheel->overflow);
    wheel->overflow_min = UINT64_MAX;
    wheel->count = 0;
    wheel->advancing = false;
}

static void disarm_all(struct cio__list *list)
{
    struct cio__list *node;
    while ((node = cio__list_pop_front(list)) != NULL)
        timer_of(node)->where = WHERE_NONE;
}

void cio__timer_wheel_fini(struct cio__timer_wheel *wheel)
{
    cio__assert(!wheel->advancing);
    for (unsigned level = 0; level < CIO__TIMER_LEVELS; level++) {
        for (unsigned slot = 0; slot < CIO__TIMER_SLOTS; slot++)
            disarm_all(&wheel->slots[level][slot]);
        wheel->occupied[level] = 0;
    }
    disarm_all(&wheel->expired);
    disarm_all(&wheel->overflow);
    wheel->overflow_min = UINT64_MAX;
    wheel->count = 0;
}

void cio__timer_init(struct cio__timer *timer, cio__timer_fn *fn)
{
    cio__assert(fn != NULL);
    cio__list_init(&timer->node);
    timer->deadline = 0;
    timer->tick = 0;
    timer->fn = fn;
    timer->where = WHERE_NONE;
}

void cio__timer_insert(struct cio__timer_wheel *wheel, struct cio__timer *timer, cio_time deadline)
{
    if (timer->where != WHERE_NONE)
        unlink_timer(wheel, timer);
    else
        wheel->count++;
    timer->deadline = deadline;
    timer->tick = deadline_to_tick(deadline);
    /* A due timer goes on `expired`, which a running advance() has already taken over: it
     * fires on the next advance() (see timer.h). */
    place(wheel, timer, &wheel->expired);
}

bool cio__timer_cancel(struct cio__timer_wheel *wheel, struct cio__timer *timer)
{
    if (timer->where == WHERE_NONE)
        return false;
    unlink_timer(wheel, timer);
    wheel->count--;
    return true;
}

cio_time cio__timer_wheel_next_expiry(const struct cio__timer_wheel *wheel)
{
    if (!cio__list_empty(&wheel->expired))
        return tick_to_time(wheel->elapsed);
    uint64_t next = UINT64_MAX;
    unsigned slot;
    uint64_t start;
    if (next_slot(wheel, &slot, &start) >= 0)
        next = start;
    /* Overflow timers usually lie after every wheel timer, but not after advance() has
     * jumped into their span without reaching them; hence the minimum of both. */
    if (!cio__list_empty(&wheel->overflow) && wheel->overflow_min < next)
        next = wheel->overflow_min;
    return next == UINT64_MAX ? CIO__TIMER_NEVER : tick_to_time(next);
}

int64_t cio__timer_wheel_timeout(const struct cio__timer_wheel *wheel, cio_time now)
{
    cio_time next = cio__timer_wheel_next_expiry(wheel);
    if (next == CIO__TIMER_NEVER)
        return -1;
    return next <= now ? 0 : next - now;
}

/* Fire (disarm, then call) every timer on `due`, front to back. Callbacks may change it. */
static size_t fire_all(struct cio__timer_wheel *wheel, struct cio__list *due)
{
    size_t fired = 0;
    struct cio__list *node;
    while ((node = cio__list_pop_front(due)) != NULL) {
        struct cio__timer *timer = timer_of(node);
        timer->where = WHERE_NONE;
        wheel->count--;
        timer->fn(wheel, timer);
        fired++;
    }
    return fired;
}

/* Re-place every timer of `list` against the (just moved) current time. */
static void replace_all(struct cio__timer_wheel *wheel, struct cio__list *list,
                        struct cio__list *due)
{
    struct cio__list *node;
    while ((node = cio__list_pop_front(list)) != NULL)
        place(wheel, timer_of(node), due);
}

size_t cio__timer_wheel_advance(struct cio__timer_wheel *wheel, cio_time now)
{
    cio__assert(!wheel->advancing);
    wheel->advancing = true;
    uint64_t now_tick = now_to_tick(now);
    struct cio__list due = CIO__LIST_HEAD_INIT(due);
    struct cio__list moving = CIO__LIST_HEAD_INIT(moving);

    /* Take the timers that were already due. Timers that callbacks arm for an already
     * reached time land on wheel->expired again and wait for the next call. */
    cio__list_splice_back(&due, &wheel->expired);
    size_t fired = fire_all(wheel, &due);

    for (;;) {
        unsigned slot = 0;
        uint64_t start = UINT64_MAX;
        int level = next_slot(wheel, &slot, &start);
        bool overflow_due = !cio__list_empty(&wheel->overflow) && wheel->overflow_min <= now_tick;
        if (overflow_due && wheel->overflow_min <= start) {
            /* Time has come near the overflow timers: move the clock to the earliest (a
             * lower bound of their ticks, so no timer is passed) and re-place them all; the
             * ones still beyond the wheel's span go back to overflow with an exact bound. */
            cio__assert(wheel->overflow_min >= wheel->elapsed);
            wheel->elapsed = wheel->overflow_min;
            wheel->overflow_min = UINT64_MAX;
            cio__list_splice_back(&moving, &wheel->overflow);
            replace_all(wheel, &moving, &due);
        } else if (level >= 0 && start <= now_tick) {
            /* Reach the slot: its timers are due now or move to lower levels. */
            wheel->elapsed = start;
            cio__list_splice_back(&moving, &wheel->slots[level][slot]);
            wheel->occupied[level] &= ~(UINT64_C(1) << slot);
            replace_all(wheel, &moving, &due);
        } else {
            break;
        }
        fired += fire_all(wheel, &due);
    }

    /* Nothing else is due by now_tick: jumping the clock there keeps every remaining timer
     * on its level, since each lies in a slot that starts after now_tick. */
    if (now_tick > wheel->elapsed)
        wheel->elapsed = now_tick;
    wheel->advancing = false;
    return fired;
}
