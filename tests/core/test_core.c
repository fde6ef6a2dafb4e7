/*
 * test_core.c: the library-wide basics — error texts for errno and resolver codes, the
 * version, the monotonic clock.
 */
#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <time.h>

#include "cio/common.h"
#include "harness.h"

static void test_strerror_errno(void)
{
    CHECK(strcmp(cio_strerror(0), "Success") == 0);
    CHECK(strcmp(cio_strerror(-EAGAIN), "Resource temporarily unavailable") == 0);
    CHECK(strcmp(cio_strerror(-ECONNREFUSED), "Connection refused") == 0);
    CHECK(strcmp(cio_strerror(-ETIMEDOUT), "Connection timed out") == 0);
    CHECK(strcmp(cio_strerror(-ECANCELED), "Operation canceled") == 0);
    /* Positive values and unknown codes never crash and never return NULL. */
    CHECK(strcmp(cio_strerror(5), "Unknown error") == 0);
    CHECK(strcmp(cio_strerror(-99999), "Unknown error") == 0);
    CHECK(cio_strerror(-2147483647 - 1) != NULL);
}

static void test_strerror_resolver(void)
{
    int rc = CIO_ERR_EAI(EAI_NONAME);
    CHECK(rc < 0);
    CHECK(CIO_ERR_IS_EAI(rc));
    CHECK(!CIO_ERR_IS_EAI(-ENOENT));
    CHECK(strcmp(cio_strerror(rc), gai_strerror(EAI_NONAME)) == 0);
    CHECK(strcmp(cio_strerror(CIO_ERR_EAI(EAI_AGAIN)), gai_strerror(EAI_AGAIN)) == 0);
    /* Distinct resolver errors map to distinct codes. */
    CHECK(CIO_ERR_EAI(EAI_NONAME) != CIO_ERR_EAI(EAI_AGAIN));
}

static void test_version(void)
{
    CHECK(strcmp(cio_version(), CIO_VERSION_STRING) == 0);
    CHECK_EQ(cio_version_hex(), CIO_VERSION_HEX);
    CHECK_EQ(CIO_VERSION_HEX >> 16, CIO_VERSION_MAJOR);
}

static void test_now_monotonic(void)
{
    cio_time a = cio_now();
    struct timespec ts = {0, 2 * 1000 * 1000};
    nanosleep(&ts, NULL);
    cio_time b = cio_now();
    CHECK(b - a >= 2 * CIO_NSEC_PER_MSEC);
    CHECK(b - a < 2 * CIO_NSEC_PER_SEC);
    for (int i = 0; i < 100000; i++) {
        cio_time c = cio_now();
        CHECK(c >= b);
        b = c;
    }
}

CIO_TEST_MAIN(TEST(test_strerror_errno), TEST(test_strerror_resolver), TEST(test_version),
              TEST(test_now_monotonic))
