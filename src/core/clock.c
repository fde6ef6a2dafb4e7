/*
 * clock.c: the monotonic clock every layer shares (cio_time, in nanoseconds).
 */
#include <time.h>

#include "cio/common.h"

cio_time cio_now(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (cio_time)ts.tv_sec * CIO_NSEC_PER_SEC + ts.tv_nsec;
}
