/*
 * compiler.h: small compiler helpers shared by the library's sources (private).
 */
#ifndef CIO_UTIL_COMPILER_H
#define CIO_UTIL_COMPILER_H

#include <stddef.h>

#define cio__likely(x) __builtin_expect(!!(x), 1)
#define cio__unlikely(x) __builtin_expect(!!(x), 0)
#define cio__unused __attribute__((unused))
#define cio__noinline __attribute__((noinline))
#define cio__array_size(a) (sizeof(a) / sizeof((a)[0]))
#define cio__container_of(ptr, type, member)                                                       \
    ((type *)(void *)((char *)(ptr)-offsetof(type, member)))
#define cio__min(a, b) ((a) < (b) ? (a) : (b))
#define cio__max(a, b) ((a) > (b) ? (a) : (b))

/* Retry a system call expression while it fails with EINTR. */
#define CIO__RETRY_EINTR(expr)                                                                     \
    ({                                                                                             \
        __typeof__(expr) cio__r_;                                                                  \
        do                                                                                         \
            cio__r_ = (expr);                                                                      \
        while (cio__r_ == -1 && errno == EINTR);                                                   \
        cio__r_;                                                                                   \
    })

#endif
