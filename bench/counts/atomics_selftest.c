/* atomics_selftest: a program with a known number of atomic read-modify-write instructions,
 * run by bench/counts.sh under callgrind (--toggle-collect=selftest_work) before it measures
 * anything, to check that the atomic count it reports is exact, in the main program (a PIE
 * executable) and in a shared library alike.
 *
 * Built twice from this file: with -DSELFTEST_LIB -shared -fPIC as libatomics_selftest.so,
 * and as the program linked with it. Each iteration of selftest_work executes, in the
 * program: lock add, xchg with memory (atomic_exchange), lock cmpxchg, xchg with memory (a
 * sequentially consistent store) = 4; in the library: lock xadd, xchg with memory = 2; so
 * 6 per iteration. The relaxed store and the loads are plain moves and must not count.
 *
 * Usage: atomics_selftest N   (prints the expected count, 6 * N) */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef SELFTEST_LIB
long selftest_lib(_Atomic long *p, long i);

__attribute__((noinline)) long selftest_lib(_Atomic long *p, long i)
{
    long old = atomic_fetch_add(p, i); /* lock xadd */
    old += atomic_exchange(p, old);    /* xchg */
    return old + atomic_load(p);       /* mov */
}
#else
long selftest_lib(_Atomic long *p, long i);
void selftest_work(long n);

static _Atomic long counter, shared;
static _Atomic int flag;
static volatile long sink;

__attribute__((noinline)) void selftest_work(long n)
{
    for (long i = 0; i < n; i++) {
        atomic_fetch_add(&counter, 1);        /* lock add (the result is unused) */
        (void)atomic_exchange(&flag, (int)i); /* xchg */
        int expected = (int)i;
        (void)atomic_compare_exchange_strong(&flag, &expected, (int)i + 1); /* lock cmpxchg */
        atomic_store_explicit(&flag, 0, memory_order_relaxed);              /* mov */
        atomic_store(&flag, 1);                                             /* xchg */
        sink = atomic_load(&counter) + selftest_lib(&shared, i);
    }
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000;
    selftest_work(n);
    printf("%ld\n", 6 * n);
    return 0;
}
#endif
