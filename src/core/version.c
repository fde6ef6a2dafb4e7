/*
 * version.c: the version of the linked library.
 */
#include "cio/common.h"

const char *cio_version(void)
{
    return CIO_VERSION_STRING;
}

unsigned cio_version_hex(void)
{
    return CIO_VERSION_HEX;
}
