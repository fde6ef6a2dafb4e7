/*
 * median.h: the one statistic the micro-benchmarks report — the median of their runs (each
 * program is a file of its own, bench/CMakeLists.txt; this header is what they share).
 */
#ifndef CIO_BENCH_MICRO_MEDIAN_H
#define CIO_BENCH_MICRO_MEDIAN_H

#include <stdlib.h>

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Sorts v; returns the median (v[0] is then the smallest, v[n - 1] the largest). */
static inline double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(v[0]), bench_cmp_double);
    return v[n / 2];
}

#endif
