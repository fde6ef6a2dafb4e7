/*
 * cio/common.h: what every cio header shares — the export macro, the error convention
 * (a negative errno, never errno itself), the text of an error, the library's version and
 * the time types (monotonic nanoseconds).
 */
#ifndef CIO_COMMON_H
#define CIO_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "cio/version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define CIO_EXPORT __attribute__((visibility("default")))
#define CIO_NODISCARD __attribute__((warn_unused_result))
#else
#define CIO_EXPORT
#define CIO_NODISCARD
#endif

/*
 * Errors. Every cio function that can fail returns 0 (or a count) on success and a negative
 * errno on failure. Meanings fixed across the library:
 *   -EAGAIN     the operation would block (try_* functions)
 *   -ETIMEDOUT  the caller's deadline passed
 *   -ECANCELED  the calling task was cancelled
 *   -EBADF      the handle was closed (also while a task waited on it)
 *   -ENODATA    a stream ended before an exact-length read was satisfied
 *   -EINVAL     a bad argument (NULL handle, malformed text, out-of-range value)
 *   -ENOMEM     an allocation failed
 * Resolver failures (getaddrinfo's EAI_* codes) are mapped into a private range, below
 * CIO_ERR_EAI_BASE; cio_strerror() knows them.
 */
#define CIO_ERR_EAI_BASE 20000
/* The cio error code for a getaddrinfo() EAI_* code (nonzero). */
#define CIO_ERR_EAI(eai) (-(CIO_ERR_EAI_BASE + ((eai) < 0 ? -(eai) : (eai))))
/* Non-zero when rc is a mapped resolver error. */
#define CIO_ERR_IS_EAI(rc) ((rc) <= -CIO_ERR_EAI_BASE && (rc) > -(CIO_ERR_EAI_BASE + 1000))

/**
 * cio_strerror() - the text of a cio return code.
 * @rc: a value returned by a cio function: a negative errno, a mapped resolver error, or 0.
 *
 * Thread safe; never fails: an unknown code gives "Unknown error".
 *
 * Return: a static string, valid for the life of the program.
 */
CIO_EXPORT const char *cio_strerror(int rc);

/**
 * cio_version() - the version of the library actually linked, as "MAJOR.MINOR.PATCH".
 *
 * Compare with CIO_VERSION_STRING (the headers in use) to detect a mismatch.
 *
 * Return: a static string.
 */
CIO_EXPORT const char *cio_version(void);

/**
 * cio_version_hex() - the linked library's version as 0xMMmmpp (see CIO_VERSION_HEX).
 */
CIO_EXPORT unsigned cio_version_hex(void);

/* Monotonic time in nanoseconds (CLOCK_MONOTONIC), and a span of it. */
typedef int64_t cio_time;
typedef int64_t cio_duration;

#define CIO_NSEC_PER_USEC INT64_C(1000)
#define CIO_NSEC_PER_MSEC INT64_C(1000000)
#define CIO_NSEC_PER_SEC INT64_C(1000000000)

/**
 * cio_now() - the current monotonic time in nanoseconds.
 *
 * Thread safe; a vDSO call, no system call on Linux.
 */
CIO_EXPORT cio_time cio_now(void);

#ifdef __cplusplus
}
#endif

#endif /* CIO_COMMON_H */
