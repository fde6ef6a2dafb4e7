/*
 * assert.h: internal invariants. cio__assert() checks a condition in debug and sanitizer
 * builds (CIO_DEBUG) and compiles to nothing otherwise. It is for cio's own bugs only: bad
 * input from a caller is an error return, never an assertion.
 */
#ifndef CIO_UTIL_ASSERT_H
#define CIO_UTIL_ASSERT_H

#if defined(CIO_DEBUG) && CIO_DEBUG
void cio__assert_failed(const char *expr, const char *file, int line, const char *func)
    __attribute__((noreturn, visibility("hidden")));
#define cio__assert(expr)                                                                          \
    ((expr) ? (void)0 : cio__assert_failed(#expr, __FILE__, __LINE__, __func__))
#else
#define cio__assert(expr) ((void)sizeof(!(expr)))
#endif

#endif
