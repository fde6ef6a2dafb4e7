/*
 * hist.h: cio-load's latency histogram — HdrHistogram's log-linear layout, small enough to
 * read in one sitting. Values are nanoseconds. Below 256 every value has its own bucket; above,
 * each power of two [2^k, 2^(k+1)) is cut into 128 equal buckets, so a bucket is never wider
 * than 1/128 of the values it holds (two significant digits) and the midpoint a percentile
 * reports is within 1/256 (0.4 %) of the true value. Values up to 2^40 ns (about 18 minutes)
 * are kept; larger ones land in the last bucket (the exact maximum is tracked separately).
 *
 * The counters are relaxed atomics so that the tasks of one worker can record while the
 * progress reporter on another thread reads and merges (a torn view across buckets is fine
 * for a live line; the final report reads after every recorder has been joined). On x86 a
 * relaxed atomic add on a line the worker owns costs a few nanoseconds — noise next to the
 * two system calls of a message. Histograms of different workers merge by adding counts.
 *
 * Header-only (static inline) so the test suite can check it without linking the tool.
 */
#ifndef CIO_LOAD_HIST_H
#define CIO_LOAD_HIST_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define HIST_SUB_BITS 7                            /* 128 buckets per power of two */
#define HIST_HALF (UINT64_C(1) << HIST_SUB_BITS)   /* 128 */
#define HIST_LINEAR (UINT64_C(2) << HIST_SUB_BITS) /* 256: values below are exact */
#define HIST_MAX_BITS 40                           /* values below 2^40 ns are resolved */
#define HIST_VALUE_LIMIT ((UINT64_C(1) << HIST_MAX_BITS) - 1)
#define HIST_BUCKETS (HIST_LINEAR + (HIST_MAX_BITS - HIST_SUB_BITS - 1) * HIST_HALF)

typedef struct hist {
    _Atomic uint64_t total; /* values recorded */
    _Atomic uint64_t sum;   /* their sum, for the mean */
    _Atomic uint64_t min;   /* UINT64_MAX while empty */
    _Atomic uint64_t max;
    _Atomic uint64_t counts[HIST_BUCKETS];
} hist;

/* The bucket of @v (values past HIST_VALUE_LIMIT share the last bucket). */
static inline size_t hist_index(uint64_t v)
{
    if (v < HIST_LINEAR)
        return (size_t)v;
    if (v > HIST_VALUE_LIMIT)
        v = HIST_VALUE_LIMIT;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v); /* >= 8 */
    unsigned shift = msb - HIST_SUB_BITS;              /* >= 1: bucket width 2^shift */
    uint64_t sub = v >> shift;                         /* in [128, 256) */
    return (size_t)(HIST_LINEAR + (shift - 1) * HIST_HALF + (sub - HIST_HALF));
}

/* The smallest value of bucket @i. */
static inline uint64_t hist_bucket_low(size_t i)
{
    if (i < HIST_LINEAR)
        return i;
    uint64_t shift = (i - HIST_LINEAR) / HIST_HALF + 1;
    uint64_t sub = (i - HIST_LINEAR) % HIST_HALF + HIST_HALF;
    return sub << shift;
}

/* The largest value of bucket @i. */
static inline uint64_t hist_bucket_high(size_t i)
{
    if (i < HIST_LINEAR)
        return i;
    uint64_t shift = (i - HIST_LINEAR) / HIST_HALF + 1;
    return hist_bucket_low(i) + (UINT64_C(1) << shift) - 1;
}

/* Empty the histogram (also the way to initialise one). Not concurrently with recorders. */
static inline void hist_reset(hist *h)
{
    atomic_store_explicit(&h->total, 0, memory_order_relaxed);
    atomic_store_explicit(&h->sum, 0, memory_order_relaxed);
    atomic_store_explicit(&h->min, UINT64_MAX, memory_order_relaxed);
    atomic_store_explicit(&h->max, 0, memory_order_relaxed);
    for (size_t i = 0; i < HIST_BUCKETS; i++)
        atomic_store_explicit(&h->counts[i], 0, memory_order_relaxed);
}

static inline void hist_update_min(hist *h, uint64_t v)
{
    uint64_t cur = atomic_load_explicit(&h->min, memory_order_relaxed);
    while (v < cur && !atomic_compare_exchange_weak_explicit(&h->min, &cur, v, memory_order_relaxed,
                                                             memory_order_relaxed))
        ;
}

static inline void hist_update_max(hist *h, uint64_t v)
{
    uint64_t cur = atomic_load_explicit(&h->max, memory_order_relaxed);
    while (v > cur && !atomic_compare_exchange_weak_explicit(&h->max, &cur, v, memory_order_relaxed,
                                                             memory_order_relaxed))
        ;
}

/* Record @count occurrences of @v. Safe against concurrent recorders and readers. */
static inline void hist_record_n(hist *h, uint64_t v, uint64_t count)
{
    if (count == 0)
        return;
    atomic_fetch_add_explicit(&h->counts[hist_index(v)], count, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->total, count, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum, v * count, memory_order_relaxed);
    hist_update_min(h, v);
    hist_update_max(h, v);
}

static inline void hist_record(hist *h, uint64_t v)
{
    hist_record_n(h, v, 1);
}

/* Add @src's values to @dst. @src may be recorded into meanwhile (the merge then holds some
 * of the new values, never torn counts). */
static inline void hist_merge(hist *dst, const hist *src)
{
    uint64_t total = 0;
    for (size_t i = 0; i < HIST_BUCKETS; i++) {
        uint64_t n = atomic_load_explicit(&src->counts[i], memory_order_relaxed);
        if (n != 0) {
            atomic_fetch_add_explicit(&dst->counts[i], n, memory_order_relaxed);
            total += n;
        }
    }
    /* The total is the sum of the counts read, so percentiles stay consistent even when the
     * source was being recorded into. */
    atomic_fetch_add_explicit(&dst->total, total, memory_order_relaxed);
    atomic_fetch_add_explicit(&dst->sum, atomic_load_explicit(&src->sum, memory_order_relaxed),
                              memory_order_relaxed);
    uint64_t min = atomic_load_explicit(&src->min, memory_order_relaxed);
    uint64_t max = atomic_load_explicit(&src->max, memory_order_relaxed);
    if (total != 0) {
        hist_update_min(dst, min);
        hist_update_max(dst, max);
    }
}

static inline uint64_t hist_count(const hist *h)
{
    return atomic_load_explicit(&h->total, memory_order_relaxed);
}

static inline uint64_t hist_max(const hist *h)
{
    return atomic_load_explicit(&h->max, memory_order_relaxed);
}

static inline uint64_t hist_min(const hist *h)
{
    uint64_t v = atomic_load_explicit(&h->min, memory_order_relaxed);
    return v == UINT64_MAX ? 0 : v;
}

static inline double hist_mean(const hist *h)
{
    uint64_t n = hist_count(h);
    return n ? (double)atomic_load_explicit(&h->sum, memory_order_relaxed) / (double)n : 0.0;
}

/*
 * The value at percentile @q (0 to 100): the value whose rank is ceil(q/100 * total) (at
 * least 1) in sorted order — the same rank a sorted array would give — reported as the
 * midpoint of its bucket, kept within [min, max]. 0 for an empty histogram; @q >= 100 gives
 * the exact maximum.
 */
static inline uint64_t hist_percentile(const hist *h, double q)
{
    uint64_t total = hist_count(h);
    if (total == 0)
        return 0;
    if (q >= 100.0)
        return hist_max(h);
    if (q < 0.0)
        q = 0.0;
    double want = q / 100.0 * (double)total;
    uint64_t rank = (uint64_t)want;
    if ((double)rank < want)
        rank++;
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < HIST_BUCKETS; i++) {
        seen += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
        if (seen >= rank) {
            uint64_t lo = hist_bucket_low(i), hi = hist_bucket_high(i);
            uint64_t v = lo + (hi - lo) / 2;
            uint64_t min = hist_min(h), max = hist_max(h);
            if (v < min)
                v = min;
            if (v > max)
                v = max;
            return v;
        }
    }
    return hist_max(h);
}

#endif /* CIO_LOAD_HIST_H */
