/*
 * fuzz_addr.c: libFuzzer target for cio/addr.h. The input is taken two ways. As text, it must
 * either be refused with -EINVAL, -ENAMETOOLONG or -ENODEV, or parse into an address whose
 * formatted text parses back to an equal address and formats again to the same text (a
 * canonical form is a fixed point). As the bytes of a struct sockaddr, it must be refused or
 * adopted, and then go through the same text round trip (an IPv6 flow label has no text form,
 * so it is left out of that comparison). Every format is also tried into each buffer too small
 * for it, which must give -ENOSPC and an empty string, never a truncation.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cio/addr.h"
#include "fuzz.h"

/* Format @a (numeric scope: no kernel lookups) into @text; also check every shorter buffer. */
static int format_checked(const cio_addr *a, char text[CIO_ADDR_STRLEN])
{
    int n = cio_addr_format_flags(a, text, CIO_ADDR_STRLEN, CIO_ADDR_FORMAT_NUMERIC_SCOPE);
    if (n < 0)
        return n;
    FUZZ_ASSERT((size_t)n == strlen(text) && n < CIO_ADDR_STRLEN);
    char small[CIO_ADDR_STRLEN];
    for (size_t size = 0; size <= (size_t)n; size++) {
        memset(small, 'x', sizeof(small));
        int rc = cio_addr_format_flags(a, small, size, CIO_ADDR_FORMAT_NUMERIC_SCOPE);
        FUZZ_ASSERT(rc == -ENOSPC);
        FUZZ_ASSERT(size == 0 || small[0] == '\0');
    }
    return n;
}

/* The text round trip of an address that is known to be valid. */
static void round_trip(const cio_addr *a)
{
    char text[CIO_ADDR_STRLEN], again[CIO_ADDR_STRLEN];
    int n = format_checked(a, text);
    FUZZ_ASSERT(n > 0);
    cio_addr b;
    FUZZ_ASSERT(cio_addr_parse(&b, text) == 0);
    FUZZ_ASSERT(cio_addr_equal(a, &b));
    FUZZ_ASSERT(cio_addr_get_kind(&b) == cio_addr_get_kind(a));
    FUZZ_ASSERT(cio_addr_len(&b) == cio_addr_len(a));
    FUZZ_ASSERT(format_checked(&b, again) == n);
    FUZZ_ASSERT(strcmp(text, again) == 0);
    /* The length-bounded parser agrees with the NUL-terminated one. */
    cio_addr c;
    FUZZ_ASSERT(cio_addr_parse_len(&c, text, (size_t)n) == 0 && cio_addr_equal(&b, &c));
}

static void as_text(const uint8_t *data, size_t size)
{
    cio_addr a;
    memset(&a, 0xa5, sizeof(a)); /* ret_addr is written only on success */
    cio_addr untouched = a;
    int rc = cio_addr_parse_len(&a, (const char *)data, size);
    if (rc < 0) {
        FUZZ_ASSERT(rc == -EINVAL || rc == -ENAMETOOLONG || rc == -ENODEV);
        FUZZ_ASSERT(memcmp(&a, &untouched, sizeof(a)) == 0);
        return;
    }
    FUZZ_ASSERT(memchr(data, '\0', size) == NULL);
    /* The NUL-terminated form of the same text gives the same address. */
    char *copy = malloc(size + 1);
    FUZZ_ASSERT(copy != NULL);
    memcpy(copy, data, size);
    copy[size] = '\0';
    cio_addr b;
    FUZZ_ASSERT(cio_addr_parse(&b, copy) == 0 && cio_addr_equal(&a, &b));
    free(copy);
    round_trip(&a);
}

static void as_sockaddr(const uint8_t *data, size_t size)
{
    struct sockaddr_storage ss;
    if (size > sizeof(ss))
        return;
    memcpy(&ss, data, size); /* aligned copy: data has no alignment */
    cio_addr a;
    int rc = cio_addr_from_sockaddr(&a, (const struct sockaddr *)&ss, size);
    if (rc < 0)
        return;
    cio_addr_kind kind = cio_addr_get_kind(&a);
    if (kind == CIO_ADDR_NONE)
        return;
    if (kind == CIO_ADDR_IPV6) {
        /* The flow label has no text form: compare without it. */
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a.storage;
        sin6->sin6_flowinfo = 0;
    }
    round_trip(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    as_text(data, size);
    as_sockaddr(data, size);
    return 0;
}
