/*
 * resolve.h: the resolver's internal form (private) — cio_resolve() into a list of every
 * address, for connecting and binding by name (connect.c), which want them all.
 */
#ifndef CIO_IO_RESOLVE_H
#define CIO_IO_RESOLVE_H

#include <stddef.h>

#include "cio/resolve.h"

/**
 * cio__resolve() - cio_resolve() without a cap: *ret_addrs receives a malloc'd array of
 * *ret_count (>= 1) addresses, to free(); both written only on success.
 *
 * Return: 0, or an error as cio_resolve().
 */
int cio__resolve(const char *host, const char *service, const cio_resolve_options *opts,
                 cio_addr **ret_addrs, size_t *ret_count);

#endif
