/*
 * version.c: the version of the linked library and the monotonic clock every layer shares.
 */
#include <time.h>

#include "cio/common.h"

const char *cio_version(void)
{
    return CIO_VERSION_STRING;
}

unsigned cio_version_hex(void)
{
    return CIO_VERSION_HEX;
}

cio_time cio_now(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (cio_time)ts.tv_sec * CIO_NSEC_PER_SEC + ts.tv_nsec;
}
