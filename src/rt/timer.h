/*
 * timer.h: the runtime's hierarchical timer wheel (private; tokio's time driver in C). Each
 * worker owns one wheel; a task's sleep or deadline is a `struct cio__timer` embedded in the
 * task's own record, so arming and cancelling never allocate and both are O(1).
 *
 * Time is cio_time (monotonic ns) at the API and whole milliseconds ("ticks") inside. A
 * deadline is rounded UP to the next millisecond, and advance(now) fires the timers whose
 * rounded deadline is <= now rounded DOWN, so a timer never fires before its deadline and,
 * when advance() is called promptly, at most about 1 ms after it.
 *
 * Layout: 6 levels of 64 slots. A slot of level L spans 64^L ms, so level 0 holds the next
 * 64 ms one per slot, level 5 slots of 12.4 days, and the wheel covers 64^6 ms (~2.2 years)
 * ahead of the wheel's current time; later deadlines wait in an overflow list that is
 * re-examined when time gets near them. A timer sits on the lowest level whose span still
 * separates its deadline from the current time; when time reaches a slot of a higher level,
 * the slot's timers move down ("cascade") until they reach level 0 and fire.
 *
 *     level 5 [ 64 x 2^30 ms ]  <- deadlines up to ~2.2 years ahead
 *     ...
 *     level 1 [ 64 x 64 ms   ]
 *     level 0 [ 64 x 1 ms    ]  <- the next 64 ms
 *     overflow list             <- beyond; plus an "expired" list of timers already due
 *
 * Scheduler loop, in short:
 *
 *     cio_time next = cio__timer_wheel_next_expiry(&w);      // or use _timeout()
 *     cio_poll_wait(poll, events, cio__timer_wheel_timeout(&w, cio_now()));
 *     cio__timer_wheel_advance(&w, cio_now());                // fires due timers
 *
 * Thread safety: none. A wheel and its timers belong to one thread (the worker); insert,
 * cancel and advance must all happen there. Another thread that wants a timer armed must
 * send the request to the owning worker.
 */
#ifndef CIO_RT_TIMER_H
#define CIO_RT_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cio/common.h"
#include "util/list.h"

#define CIO__TIMER_LEVELS 6
#define CIO__TIMER_SLOTS 64

/* next_expiry() when no timer is armed. */
#define CIO__TIMER_NEVER INT64_MAX

struct cio__timer_wheel;
struct cio__timer;

/*
 * A timer's callback. Called from cio__timer_wheel_advance() on the wheel's thread, after the
 * timer has been disarmed (cio__timer_pending() is false). It may insert or cancel any timer
 * of this wheel, including re-inserting @timer itself, and may free the memory of timers it
 * has cancelled or of @timer itself (when it does not re-insert it). It must not call
 * cio__timer_wheel_advance() or _fini() on the same wheel.
 */
typedef void cio__timer_fn(struct cio__timer_wheel *wheel, struct cio__timer *timer);

/*
 * A timer entry: embed it in your own struct and get back to that struct with
 * cio__container_of() in the callback. Initialise once with cio__timer_init(); the fields are
 * private to the wheel except `deadline`, which may be read (it is the cio_time given to the
 * last cio__timer_insert()).
 */
struct cio__timer {
    struct cio__list node;
    cio_time deadline; /* as given to insert, in ns */
    uint64_t tick;     /* deadline rounded up to whole ms */
    cio__timer_fn *fn; /* called when the timer fires */
    uint32_t where;    /* which list holds it (private; 0 = not armed) */
};

/*
 * The wheel. Embed it (about 6 KB) in the worker's struct. All fields are private.
 */
struct cio__timer_wheel {
    uint64_t elapsed;                     /* ms tick the wheel has processed up to */
    uint64_t occupied[CIO__TIMER_LEVELS]; /* bit s set: slot s of the level is non-empty */
    struct cio__list slots[CIO__TIMER_LEVELS][CIO__TIMER_SLOTS];
    struct cio__list expired;  /* armed timers already due, fired by the next advance */
    struct cio__list overflow; /* deadlines beyond the top level's span */
    uint64_t overflow_min;     /* lower bound of the overflow list's ticks */
    size_t count;              /* armed timers */
    bool advancing;            /* inside advance(): catches re-entry in debug builds */
};

/**
 * cio__timer_wheel_init() - set up an empty wheel whose current time is @now.
 * @wheel: caller-owned storage.
 * @now: the current monotonic time (cio_now(), or a fake clock in tests).
 */
void cio__timer_wheel_init(struct cio__timer_wheel *wheel, cio_time now);

/**
 * cio__timer_wheel_fini() - disarm every timer still in the wheel, without calling callbacks.
 *
 * Afterwards each of those timers reads as not pending and cancelling it is a harmless no-op,
 * so their owners may tear down in any order. O(number of armed timers). The wheel may be
 * initialised again.
 */
void cio__timer_wheel_fini(struct cio__timer_wheel *wheel);

/**
 * cio__timer_init() - prepare a timer entry (not armed) with its callback.
 * @timer: caller-owned storage, usually inside a larger struct.
 * @fn: called when the timer fires; must not be NULL.
 */
void cio__timer_init(struct cio__timer *timer, cio__timer_fn *fn);

/* True while @timer is armed (inserted and neither fired nor cancelled). */
static inline bool cio__timer_pending(const struct cio__timer *timer)
{
    return timer->where != 0;
}

/**
 * cio__timer_insert() - arm @timer to fire at @deadline (monotonic ns). O(1), no allocation.
 * @wheel: the wheel of the calling thread.
 * @timer: an initialised timer; if it is already armed it is re-armed (moved) to @deadline.
 * @deadline: any cio_time. One already reached (at or before the wheel's current time) fires
 *            on the next cio__timer_wheel_advance(); when that insert happens inside a
 *            callback, it fires on the next advance() call, not the running one, so a timer
 *            that re-arms itself for "now" cannot loop forever. A deadline in the last
 *            millisecond before INT64_MAX never fires: use CIO__TIMER_NEVER for "never".
 *
 * The timer must stay valid (not freed, not moved) until it fires or is cancelled.
 */
void cio__timer_insert(struct cio__timer_wheel *wheel, struct cio__timer *timer, cio_time deadline);

/**
 * cio__timer_cancel() - disarm @timer. O(1); safe on a timer that is not armed.
 *
 * Return: true if the timer was armed (its callback will now not run), false if it had
 * already fired, been cancelled, or never been inserted.
 */
bool cio__timer_cancel(struct cio__timer_wheel *wheel, struct cio__timer *timer);

/**
 * cio__timer_wheel_next_expiry() - the earliest time at which an armed timer may fire.
 *
 * Never later than the first firing: an advance() to an earlier time fires nothing. It may
 * be earlier than any deadline, by up to the span of a slot of the level holding the
 * earliest timer (timers far ahead sit in coarse slots); an advance() at that time cascades
 * them down, and the next call gives a closer time. Timers already due give the wheel's
 * current time (at or before the last `now` passed to advance()). O(levels).
 *
 * Return: a cio_time, or CIO__TIMER_NEVER when no timer is armed.
 */
cio_time cio__timer_wheel_next_expiry(const struct cio__timer_wheel *wheel);

/**
 * cio__timer_wheel_timeout() - how long a poll may sleep before the wheel needs advance().
 * @now: the current time.
 *
 * Return: nanoseconds from @now to cio__timer_wheel_next_expiry() (0 if that has passed),
 * or -1 (CIO_TIMEOUT_INFINITE of cio/poll.h) when no timer is armed.
 */
int64_t cio__timer_wheel_timeout(const struct cio__timer_wheel *wheel, cio_time now);

/**
 * cio__timer_wheel_advance() - move the wheel's time to @now and fire every timer due by then.
 * @now: the current time; a time earlier than a previous call's is treated as that call's.
 *
 * Timers fire in deadline order (by whole ms; timers that were already due when inserted
 * come first), each exactly once, with its callback (see cio__timer_fn for what callbacks
 * may do). A timer armed by a callback for a time after the one being processed and not
 * after @now fires within this same call, so a periodic timer catches up. Cost: O(timers
 * fired + timers cascaded + levels), not proportional to the time skipped.
 *
 * Return: the number of callbacks called.
 */
size_t cio__timer_wheel_advance(struct cio__timer_wheel *wheel, cio_time now);

/* The number of armed timers. O(1). */
static inline size_t cio__timer_wheel_count(const struct cio__timer_wheel *wheel)
{
    return wheel->count;
}

#endif
