/*
 * test_addr.c: cio_addr — parsing (table-driven: every accepted form and every way to get
 * it wrong), exact round trips text -> address -> text and address -> text -> address,
 * constructors, accessors, equality, struct sockaddr conversion against the kernel's own
 * addresses, and random input that must never crash or read past its length.
 */
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cio/addr.h"
#include "harness.h"

/* ---- helpers ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
    /* xorshift64*: deterministic, so a failure reproduces. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static void check_format(const cio_addr *a, const char *want)
{
    char buf[CIO_ADDR_STRLEN];
    int n = cio_addr_format(a, buf, sizeof(buf));
    if (n < 0)
        TEST_FAIL("format of %s failed: %s", want, cio_strerror(n));
    if (strcmp(buf, want) != 0 || (size_t)n != strlen(want))
        TEST_FAIL("format gave \"%s\" (%d), expected \"%s\"", buf, n, want);
}

/* Address -> text -> address must give the same address. */
static void check_reparse(const cio_addr *a, unsigned flags)
{
    char buf[CIO_ADDR_STRLEN];
    int n = cio_addr_format_flags(a, buf, sizeof(buf), flags);
    if (n < 0)
        TEST_FAIL("format failed: %s", cio_strerror(n));
    cio_addr b;
    int rc = cio_addr_parse(&b, buf);
    if (rc < 0)
        TEST_FAIL("\"%s\" does not parse back: %s", buf, cio_strerror(rc));
    if (!cio_addr_equal(a, &b))
        TEST_FAIL("\"%s\" parses back to a different address", buf);
    CHECK_EQ(cio_addr_len(a), cio_addr_len(&b));
    CHECK(memcmp(&a->storage, &b.storage, sizeof(a->storage)) == 0);
}

/* ---- the tables ---- */

struct good {
    const char *text;
    cio_addr_kind kind;
    int port;              /* -EAFNOSUPPORT for Unix kinds */
    const char *canonical; /* NULL: the text itself */
};

static const struct good good_cases[] = {
    {"127.0.0.1:80", CIO_ADDR_IPV4, 80, NULL},
    {"0.0.0.0:0", CIO_ADDR_IPV4, 0, NULL},
    {"255.255.255.255:65535", CIO_ADDR_IPV4, 65535, NULL},
    {"10.1.2.3:00080", CIO_ADDR_IPV4, 80, "10.1.2.3:80"},
    {"[::1]:80", CIO_ADDR_IPV6, 80, NULL},
    {"[::]:0", CIO_ADDR_IPV6, 0, NULL},
    {"[2001:db8::1]:443", CIO_ADDR_IPV6, 443, NULL},
    {"[2001:DB8:0:0:0:0:0:1]:443", CIO_ADDR_IPV6, 443, "[2001:db8::1]:443"},
    {"[::ffff:1.2.3.4]:8080", CIO_ADDR_IPV6, 8080, NULL},
    {"[1:2:3:4:5:6:7:8]:65535", CIO_ADDR_IPV6, 65535, NULL},
    {"[fe80::1%0]:9", CIO_ADDR_IPV6, 9, "[fe80::1]:9"},
    {"[fe80::1%4000000000]:9", CIO_ADDR_IPV6, 9, NULL}, /* no such interface: stays numeric */
    {"/run/x.sock", CIO_ADDR_UNIX, -EAFNOSUPPORT, NULL},
    {"/", CIO_ADDR_UNIX, -EAFNOSUPPORT, NULL},
    {"./x.sock", CIO_ADDR_UNIX, -EAFNOSUPPORT, NULL},
    {"../x.sock", CIO_ADDR_UNIX, -EAFNOSUPPORT, NULL},
    {"././x", CIO_ADDR_UNIX, -EAFNOSUPPORT, NULL},
    {"./../x", CIO_ADDR_UNIX, -EAFNOSUPPORT, "../x"},
    {"./.x", CIO_ADDR_UNIX, -EAFNOSUPPORT, NULL},
    {"/with space/and:colon@[]", CIO_ADDR_UNIX, -EAFNOSUPPORT, NULL},
    {"@name", CIO_ADDR_ABSTRACT, -EAFNOSUPPORT, NULL},
    {"@", CIO_ADDR_ABSTRACT, -EAFNOSUPPORT, NULL},
    {"@a\\x00b", CIO_ADDR_ABSTRACT, -EAFNOSUPPORT, NULL},
    {"@\\\\", CIO_ADDR_ABSTRACT, -EAFNOSUPPORT, NULL},
    {"@\\x20\\xff", CIO_ADDR_ABSTRACT, -EAFNOSUPPORT, NULL},
    {"@\\x4A", CIO_ADDR_ABSTRACT, -EAFNOSUPPORT, "@J"},
    {"(unnamed)", CIO_ADDR_UNNAMED, -EAFNOSUPPORT, NULL},
};

struct bad {
    const char *text;
    int err;
};

static const struct bad bad_cases[] = {
    {"", -EINVAL},
    {"127.0.0.1", -EINVAL},
    {"127.0.0.1:", -EINVAL},
    {"127.0.0.1:70000", -EINVAL},
    {"127.0.0.1:65536", -EINVAL},
    {"127.0.0.1:123456", -EINVAL},
    {"127.0.0.1:-1", -EINVAL},
    {"127.0.0.1:+80", -EINVAL},
    {"127.0.0.1: 80", -EINVAL},
    {"127.0.0.1:80 ", -EINVAL},
    {" 127.0.0.1:80", -EINVAL},
    {"127.0.0.1:8a", -EINVAL},
    {"127.0.0.1:0x50", -EINVAL},
    {"256.0.0.1:80", -EINVAL},
    {"1.2.3:80", -EINVAL},
    {"1.2.3.4.5:80", -EINVAL},
    {"01.2.3.4:80", -EINVAL},
    {"1.2.3.4:80:80", -EINVAL},
    {"localhost:80", -EINVAL},
    {"example.com:80", -EINVAL},
    {":80", -EINVAL},
    {":", -EINVAL},
    {"80", -EINVAL},
    {"hello", -EINVAL},
    {"x.sock", -EINVAL},
    {".x", -EINVAL},
    {"[::1]", -EINVAL},
    {"[::1]:", -EINVAL},
    {"[::1:80", -EINVAL},
    {"::1:80", -EINVAL},
    {"[::1]80", -EINVAL},
    {"[::1]:80x", -EINVAL},
    {"[::1]:99999", -EINVAL},
    {"[]:80", -EINVAL},
    {"[", -EINVAL},
    {"[]", -EINVAL},
    {"[::1%]:80", -EINVAL},
    {"[%lo]:80", -EINVAL},
    {"[::1%4294967296]:80", -EINVAL},
    {"[::1%12345678901]:80", -EINVAL},
    {"[::1%averyveryverylongname]:80", -EINVAL},
    {"[::1%nosuchif0]:80", -ENODEV},
    {"[1.2.3.4]:80", -EINVAL},
    {"[::1::2]:80", -EINVAL},
    {"[12345::]:80", -EINVAL},
    {"@\\", -EINVAL},
    {"@\\q", -EINVAL},
    {"@\\X41", -EINVAL},
    {"@\\x", -EINVAL},
    {"@\\x0", -EINVAL},
    {"@\\xZZ", -EINVAL},
    {"@\\x0g", -EINVAL},
    {"./", -EINVAL},
    {"(unnamed)x", -EINVAL},
    {"(unnamed", -EINVAL},
};

static void test_parse_good_table(void)
{
    for (size_t i = 0; i < sizeof(good_cases) / sizeof(good_cases[0]); i++) {
        const struct good *g = &good_cases[i];
        cio_addr a;
        int rc = cio_addr_parse(&a, g->text);
        if (rc != 0)
            TEST_FAIL("parse(\"%s\") = %d (%s)", g->text, rc, cio_strerror(rc));
        if (cio_addr_get_kind(&a) != g->kind)
            TEST_FAIL("parse(\"%s\"): kind %d, expected %d", g->text, cio_addr_get_kind(&a),
                      g->kind);
        if (cio_addr_port(&a) != g->port)
            TEST_FAIL("parse(\"%s\"): port %d, expected %d", g->text, cio_addr_port(&a), g->port);
        check_format(&a, g->canonical != NULL ? g->canonical : g->text);
        check_reparse(&a, 0);
        check_reparse(&a, CIO_ADDR_FORMAT_NUMERIC_SCOPE);
        /* parse_len on the same bytes, with no terminator in reach. */
        size_t len = strlen(g->text);
        char *copy = malloc(len);
        CHECK(copy != NULL);
        memcpy(copy, g->text, len);
        cio_addr b;
        CHECK_RC(cio_addr_parse_len(&b, copy, len));
        CHECK(cio_addr_equal(&a, &b));
        free(copy);
    }
}

static void test_parse_bad_table(void)
{
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad *b = &bad_cases[i];
        cio_addr a;
        memset(&a, 0xa5, sizeof(a));
        cio_addr before = a;
        int rc = cio_addr_parse(&a, b->text);
        if (rc != b->err)
            TEST_FAIL("parse(\"%s\") = %d (%s), expected %d (%s)", b->text, rc,
                      rc < 0 ? cio_strerror(rc) : "success", b->err, cio_strerror(b->err));
        /* ret_addr is written only on success. */
        CHECK(memcmp(&a, &before, sizeof(a)) == 0);
    }
}

static void test_parse_null_and_nul(void)
{
    cio_addr a;
    CHECK_ERR(cio_addr_parse(NULL, "127.0.0.1:80"), -EINVAL);
    CHECK_ERR(cio_addr_parse(&a, NULL), -EINVAL);
    CHECK_ERR(cio_addr_parse_len(&a, NULL, 5), -EINVAL);
    CHECK_ERR(cio_addr_parse_len(&a, "127.0.0.1:80", 0), -EINVAL);
    /* An embedded NUL is refused, never cut at. */
    CHECK_ERR(cio_addr_parse_len(&a, "/tmp/a\0b", 8), -EINVAL);
    CHECK_ERR(cio_addr_parse_len(&a, "127.0.0.1:80\0", 13), -EINVAL);
    CHECK_ERR(cio_addr_parse_len(&a, "@ab\0", 4), -EINVAL);
    /* A length shorter than the string parses only that prefix. */
    CHECK_RC(cio_addr_parse_len(&a, "127.0.0.1:8080", 12));
    CHECK_EQ(cio_addr_port(&a), 80);
}

static void test_scope_by_name(void)
{
    unsigned lo = if_nametoindex("lo");
    if (lo == 0)
        TEST_SKIP("no loopback interface named lo");
    cio_addr a, b;
    CHECK_RC(cio_addr_parse(&a, "[fe80::1%lo]:80"));
    uint32_t scope = 0;
    CHECK_RC(cio_addr_scope_id(&a, &scope));
    CHECK_EQ(scope, lo);
    check_format(&a, "[fe80::1%lo]:80");

    char numeric[64];
    snprintf(numeric, sizeof(numeric), "[fe80::1%%%u]:80", lo);
    CHECK_RC(cio_addr_parse(&b, numeric));
    CHECK(cio_addr_equal(&a, &b));
    /* The default text names the interface; the numeric flag keeps the number. */
    check_format(&b, "[fe80::1%lo]:80");
    char buf[CIO_ADDR_STRLEN];
    CHECK_RC(cio_addr_format_flags(&b, buf, sizeof(buf), CIO_ADDR_FORMAT_NUMERIC_SCOPE));
    CHECK(strcmp(buf, numeric) == 0);
}

static void test_paths_at_the_limit(void)
{
    char path[CIO_ADDR_UNIX_PATH_MAX + 2];
    memset(path, 'p', sizeof(path));
    path[0] = '/';
    cio_addr a;

    path[CIO_ADDR_UNIX_PATH_MAX] = '\0'; /* 108 bytes: fits, with no room for a NUL */
    CHECK_RC(cio_addr_parse(&a, path));
    CHECK_EQ(cio_addr_get_kind(&a), CIO_ADDR_UNIX);
    CHECK(strcmp(cio_addr_unix_path(&a), path) == 0);
    CHECK_EQ(cio_addr_len(&a), sizeof(struct sockaddr_un));
    check_format(&a, path);
    check_reparse(&a, 0);

    path[CIO_ADDR_UNIX_PATH_MAX - 1] = '\0'; /* 107 bytes: the NUL is counted */
    CHECK_RC(cio_addr_parse(&a, path));
    CHECK_EQ(cio_addr_len(&a), sizeof(struct sockaddr_un));
    path[CIO_ADDR_UNIX_PATH_MAX - 1] = 'p';

    path[CIO_ADDR_UNIX_PATH_MAX] = 'p';
    path[CIO_ADDR_UNIX_PATH_MAX + 1] = '\0'; /* 109 bytes: too long, never truncated */
    memset(&a, 0, sizeof(a));
    CHECK_ERR(cio_addr_parse(&a, path), -ENAMETOOLONG);
    CHECK_ERR(cio_addr_unix(&a, path, CIO_ADDR_UNIX_PATH_MAX + 1), -ENAMETOOLONG);
    CHECK_EQ(cio_addr_get_kind(&a), CIO_ADDR_NONE);

    char name[CIO_ADDR_ABSTRACT_MAX + 3];
    memset(name, 'n', sizeof(name));
    name[0] = '@';
    name[CIO_ADDR_ABSTRACT_MAX + 1] = '\0'; /* "@" + 107 */
    CHECK_RC(cio_addr_parse(&a, name));
    size_t n = 0;
    CHECK(cio_addr_abstract_name(&a, &n) != NULL);
    CHECK_EQ(n, CIO_ADDR_ABSTRACT_MAX);
    check_reparse(&a, 0);
    name[CIO_ADDR_ABSTRACT_MAX + 1] = 'n';
    name[CIO_ADDR_ABSTRACT_MAX + 2] = '\0'; /* "@" + 108 */
    CHECK_ERR(cio_addr_parse(&a, name), -ENAMETOOLONG);
    /* Escapes count as the bytes they stand for. */
    char escaped[1 + 4 * (CIO_ADDR_ABSTRACT_MAX + 1) + 1];
    strcpy(escaped, "@");
    for (int i = 0; i < CIO_ADDR_ABSTRACT_MAX; i++)
        strcat(escaped, "\\x00");
    CHECK_RC(cio_addr_parse(&a, escaped));
    CHECK(cio_addr_abstract_name(&a, &n) != NULL);
    CHECK_EQ(n, CIO_ADDR_ABSTRACT_MAX);
    check_format(&a, escaped);
    strcat(escaped, "\\x00");
    CHECK_ERR(cio_addr_parse(&a, escaped), -ENAMETOOLONG);
}

static void test_constructors(void)
{
    cio_addr a;
    CHECK_RC(cio_addr_ipv4(&a, CIO_IPV4_LOOPBACK, 8080));
    check_format(&a, "127.0.0.1:8080");
    CHECK_EQ(cio_addr_len(&a), sizeof(struct sockaddr_in));
    const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)cio_addr_sockaddr(&a);
    CHECK_EQ(sin->sin_family, AF_INET);
    CHECK_EQ(ntohs(sin->sin_port), 8080);
    CHECK_EQ(ntohl(sin->sin_addr.s_addr), 0x7f000001);
    CHECK_RC(cio_addr_ipv4(&a, CIO_IPV4(192, 0, 2, 33), 1));
    check_format(&a, "192.0.2.33:1");

    static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x42};
    CHECK_RC(cio_addr_ipv6(&a, v6, 53, 0));
    check_format(&a, "[2001:db8::42]:53");
    CHECK_RC(cio_addr_ipv6(&a, NULL, 7, 0));
    check_format(&a, "[::]:7");
    CHECK_RC(cio_addr_ipv6(&a, v6, 53, 4000000001u));
    check_format(&a, "[2001:db8::42%4000000001]:53");

    /* A relative path: "./" marks it in text and is not part of the address. */
    CHECK_RC(cio_addr_parse(&a, "./rel.sock"));
    CHECK(strcmp(cio_addr_unix_path(&a), "rel.sock") == 0);
    CHECK_RC(cio_addr_unix(&a, "rel.sock", 8));
    check_format(&a, "./rel.sock");
    CHECK_RC(cio_addr_unix(&a, "../up", 5));
    check_format(&a, "../up");

    CHECK_RC(cio_addr_unix(&a, "/tmp/sockXYZ", 9)); /* explicit length: "/tmp/sock" */
    CHECK(strcmp(cio_addr_unix_path(&a), "/tmp/sock") == 0);
    CHECK_EQ(cio_addr_len(&a), offsetof(struct sockaddr_un, sun_path) + 10);
    CHECK_ERR(cio_addr_unix(&a, "/tmp/a\0b", 8), -EINVAL);
    CHECK_ERR(cio_addr_unix(&a, "", 0), -EINVAL);
    CHECK_ERR(cio_addr_unix(&a, NULL, 3), -EINVAL);
    CHECK_ERR(cio_addr_unix(NULL, "/x", 2), -EINVAL);

    CHECK_RC(cio_addr_abstract(&a, "x\0y", 3));
    size_t n = 0;
    const char *name = cio_addr_abstract_name(&a, &n);
    CHECK_EQ(n, 3);
    CHECK(memcmp(name, "x\0y", 3) == 0);
    check_format(&a, "@x\\x00y");
    CHECK_RC(cio_addr_abstract(&a, NULL, 0));
    check_format(&a, "@");
    CHECK_ERR(cio_addr_abstract(&a, NULL, 1), -EINVAL);
    CHECK_ERR(cio_addr_abstract(&a, "x", CIO_ADDR_ABSTRACT_MAX + 1), -ENAMETOOLONG);
    CHECK_ERR(cio_addr_abstract(NULL, "x", 1), -EINVAL);

    CHECK_RC(cio_addr_unnamed(&a));
    CHECK_EQ(cio_addr_get_kind(&a), CIO_ADDR_UNNAMED);
    CHECK_EQ(cio_addr_len(&a), sizeof(sa_family_t));
    check_format(&a, "(unnamed)");
    CHECK_ERR(cio_addr_unnamed(NULL), -EINVAL);
    CHECK_ERR(cio_addr_ipv4(NULL, 0, 0), -EINVAL);
    CHECK_ERR(cio_addr_ipv6(NULL, NULL, 0, 0), -EINVAL);
}

static void test_accessors(void)
{
    cio_addr v4, v6, path, abs, unnamed, empty = {0};
    CHECK_RC(cio_addr_parse(&v4, "127.0.0.1:80"));
    CHECK_RC(cio_addr_parse(&v6, "[::1]:81"));
    CHECK_RC(cio_addr_parse(&path, "/a/b"));
    CHECK_RC(cio_addr_parse(&abs, "@abs"));
    CHECK_RC(cio_addr_unnamed(&unnamed));

    CHECK_EQ(cio_addr_get_kind(NULL), CIO_ADDR_NONE);
    CHECK_EQ(cio_addr_get_kind(&empty), CIO_ADDR_NONE);
    CHECK_EQ(cio_addr_len(NULL), 0);
    CHECK_EQ(cio_addr_len(&empty), 0);
    CHECK(cio_addr_sockaddr(NULL) == NULL);

    CHECK_RC(cio_addr_set_port(&v4, 443));
    CHECK_EQ(cio_addr_port(&v4), 443);
    CHECK_RC(cio_addr_set_port(&v6, 0));
    CHECK_EQ(cio_addr_port(&v6), 0);
    CHECK_RC(cio_addr_set_port(&v6, 65535));
    check_format(&v6, "[::1]:65535");
    CHECK_ERR(cio_addr_set_port(&path, 1), -EAFNOSUPPORT);
    CHECK_ERR(cio_addr_set_port(&empty, 1), -EAFNOSUPPORT);
    CHECK_ERR(cio_addr_set_port(NULL, 1), -EINVAL);
    CHECK_ERR(cio_addr_port(&abs), -EAFNOSUPPORT);
    CHECK_ERR(cio_addr_port(&unnamed), -EAFNOSUPPORT);
    CHECK_ERR(cio_addr_port(NULL), -EINVAL);

    uint32_t scope = 99;
    CHECK_RC(cio_addr_scope_id(&v6, &scope));
    CHECK_EQ(scope, 0);
    CHECK_ERR(cio_addr_scope_id(&v4, &scope), -EAFNOSUPPORT);
    CHECK_ERR(cio_addr_scope_id(&v6, NULL), -EINVAL);

    CHECK(strcmp(cio_addr_unix_path(&path), "/a/b") == 0);
    CHECK(cio_addr_unix_path(&abs) == NULL);
    CHECK(cio_addr_unix_path(&v4) == NULL);
    CHECK(cio_addr_unix_path(NULL) == NULL);
    size_t n = 77;
    CHECK(cio_addr_abstract_name(&path, &n) == NULL);
    CHECK_EQ(n, 77);
    CHECK(cio_addr_abstract_name(&abs, NULL) == NULL);
    CHECK(memcmp(cio_addr_abstract_name(&abs, &n), "abs", 3) == 0);
    CHECK_EQ(n, 3);
}

static void test_equality(void)
{
    cio_addr a, b, empty1 = {0}, empty2 = {0};
    CHECK(cio_addr_equal(NULL, NULL));
    CHECK(!cio_addr_equal(&empty1, NULL));
    CHECK(cio_addr_equal(&empty1, &empty2));

    CHECK_RC(cio_addr_parse(&a, "127.0.0.1:80"));
    CHECK_RC(cio_addr_ipv4(&b, CIO_IPV4_LOOPBACK, 80));
    CHECK(cio_addr_equal(&a, &b));
    CHECK_RC(cio_addr_set_port(&b, 81));
    CHECK(!cio_addr_equal(&a, &b));
    CHECK_RC(cio_addr_parse(&b, "[::ffff:127.0.0.1]:80"));
    CHECK(!cio_addr_equal(&a, &b)); /* IPv4 and v4-mapped IPv6 are different addresses */

    CHECK_RC(cio_addr_parse(&a, "[fe80::1%1]:80"));
    CHECK_RC(cio_addr_parse(&b, "[fe80::1%2]:80"));
    CHECK(!cio_addr_equal(&a, &b));

    CHECK_RC(cio_addr_abstract(&a, "x", 1));
    CHECK_RC(cio_addr_abstract(&b, "x\0", 2));
    CHECK(!cio_addr_equal(&a, &b)); /* abstract names match by exact length */
    CHECK_RC(cio_addr_parse(&b, "/x"));
    CHECK(!cio_addr_equal(&a, &b));

    /* A path address given with the whole sockaddr_un length equals the compact one. */
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    strcpy(sun.sun_path, "/x");
    CHECK_RC(cio_addr_from_sockaddr(&a, (struct sockaddr *)&sun, sizeof(sun)));
    CHECK(cio_addr_equal(&a, &b));
    CHECK(memcmp(&a, &b, sizeof(a)) == 0);
}

static void test_sockaddr_conversion(void)
{
    cio_addr a, b;
    const char *texts[] = {"127.0.0.1:80", "[2001:db8::5%3]:8", "/p", "@q\\x00", "(unnamed)"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        CHECK_RC(cio_addr_parse(&a, texts[i]));
        CHECK_RC(cio_addr_from_sockaddr(&b, cio_addr_sockaddr(&a), cio_addr_len(&a)));
        CHECK(cio_addr_equal(&a, &b));
        CHECK(memcmp(&a, &b, sizeof(a)) == 0);
    }
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(5)};
    sin.sin_addr.s_addr = htonl(0x7f000001);
    memset(sin.sin_zero, 0x55, sizeof(sin.sin_zero)); /* padding must not matter */
    CHECK_RC(cio_addr_from_sockaddr(&a, (struct sockaddr *)&sin, sizeof(sin)));
    check_format(&a, "127.0.0.1:5");

    struct sockaddr_storage ss = {0};
    CHECK_ERR(cio_addr_from_sockaddr(NULL, (struct sockaddr *)&ss, sizeof(ss)), -EINVAL);
    CHECK_ERR(cio_addr_from_sockaddr(&a, NULL, sizeof(ss)), -EINVAL);
    CHECK_ERR(cio_addr_from_sockaddr(&a, (struct sockaddr *)&ss, 1), -EINVAL);
    CHECK_ERR(cio_addr_from_sockaddr(&a, (struct sockaddr *)&ss, sizeof(ss) + 1), -EINVAL);
    CHECK_RC(cio_addr_from_sockaddr(&a, (struct sockaddr *)&ss, sizeof(ss))); /* AF_UNSPEC */
    CHECK_EQ(cio_addr_get_kind(&a), CIO_ADDR_NONE);
    ss.ss_family = AF_INET;
    CHECK_ERR(cio_addr_from_sockaddr(&a, (struct sockaddr *)&ss, 8), -EINVAL);
    ss.ss_family = AF_INET6;
    CHECK_ERR(cio_addr_from_sockaddr(&a, (struct sockaddr *)&ss, 24), -EINVAL);
    ss.ss_family = AF_PACKET;
    CHECK_ERR(cio_addr_from_sockaddr(&a, (struct sockaddr *)&ss, 20), -EAFNOSUPPORT);
    ss.ss_family = AF_UNIX; /* an abstract name longer than Linux allows */
    CHECK_ERR(cio_addr_from_sockaddr(&a, (struct sockaddr *)&ss, sizeof(ss)), -EINVAL);
}

static void test_format_errors(void)
{
    cio_addr a, empty = {0};
    char buf[CIO_ADDR_STRLEN];
    CHECK_RC(cio_addr_parse(&a, "127.0.0.1:80")); /* 12 characters */
    CHECK_ERR(cio_addr_format(NULL, buf, sizeof(buf)), -EINVAL);
    CHECK_ERR(cio_addr_format(&a, NULL, sizeof(buf)), -EINVAL);
    CHECK_ERR(cio_addr_format(&empty, buf, sizeof(buf)), -EINVAL);
    CHECK_ERR(cio_addr_format_flags(&a, buf, sizeof(buf), 0x80), -EINVAL);
    memset(buf, 'x', sizeof(buf));
    CHECK_ERR(cio_addr_format(&a, buf, 12), -ENOSPC);
    CHECK_EQ(buf[0], '\0');
    CHECK_EQ(buf[1], 'x'); /* nothing past the given size is touched */
    CHECK_ERR(cio_addr_format(&a, buf, 0), -ENOSPC);
    CHECK_EQ(cio_addr_format(&a, buf, 13), 12);
    CHECK(strcmp(buf, "127.0.0.1:80") == 0);

    cio_addr odd = {0}; /* a family cio does not know */
    odd.storage.ss_family = AF_PACKET;
    odd.len = 20;
    CHECK_ERR(cio_addr_format(&odd, buf, sizeof(buf)), -EAFNOSUPPORT);
    odd.len = 1000; /* a corrupt length is refused, not trusted */
    CHECK_EQ(cio_addr_get_kind(&odd), CIO_ADDR_NONE);
    CHECK_EQ(cio_addr_len(&odd), 0);
}

/* Addresses the kernel hands back (getsockname) convert and compare equal to ours. */
static void test_kernel_addresses(void)
{
    const char *dir = cio_test_tmpdir();
    char path[CIO_ADDR_UNIX_PATH_MAX + 1];
    size_t dirlen = strlen(dir);
    if (dirlen + 2 > CIO_ADDR_UNIX_PATH_MAX)
        TEST_SKIP("temporary directory path too long for a Unix socket");
    /* A path of exactly 108 bytes: the kernel accepts it and reports it without a NUL. */
    memset(path, 'k', CIO_ADDR_UNIX_PATH_MAX);
    memcpy(path, dir, dirlen);
    path[dirlen] = '/';
    path[CIO_ADDR_UNIX_PATH_MAX] = '\0';

    cio_addr want, got;
    struct sockaddr_storage ss;
    socklen_t len;
    CHECK_RC(cio_addr_parse(&want, path));
    int fd = (int)CHECK_SYS(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    CHECK_SYS(bind(fd, cio_addr_sockaddr(&want), cio_addr_len(&want)));
    len = sizeof(ss);
    CHECK_SYS(getsockname(fd, (struct sockaddr *)&ss, &len));
    CHECK_RC(cio_addr_from_sockaddr(&got, (struct sockaddr *)&ss, len));
    CHECK(cio_addr_equal(&want, &got));
    CHECK(strcmp(cio_addr_unix_path(&got), path) == 0);
    close(fd);

    /* Abstract name with a NUL inside, and autobind through the unnamed address. */
    char abs_name[64];
    int abs_len = snprintf(abs_name, sizeof(abs_name), "cio-test%c%d", 0, (int)getpid());
    CHECK_RC(cio_addr_abstract(&want, abs_name, (size_t)abs_len));
    fd = (int)CHECK_SYS(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    CHECK_SYS(bind(fd, cio_addr_sockaddr(&want), cio_addr_len(&want)));
    len = sizeof(ss);
    CHECK_SYS(getsockname(fd, (struct sockaddr *)&ss, &len));
    CHECK_RC(cio_addr_from_sockaddr(&got, (struct sockaddr *)&ss, len));
    CHECK(cio_addr_equal(&want, &got));
    check_reparse(&got, 0);
    close(fd);

    CHECK_RC(cio_addr_unnamed(&want));
    fd = (int)CHECK_SYS(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    len = sizeof(ss);
    CHECK_SYS(getsockname(fd, (struct sockaddr *)&ss, &len)); /* not bound yet */
    CHECK_RC(cio_addr_from_sockaddr(&got, (struct sockaddr *)&ss, len));
    CHECK_EQ(cio_addr_get_kind(&got), CIO_ADDR_UNNAMED);
    CHECK_SYS(bind(fd, cio_addr_sockaddr(&want), cio_addr_len(&want)));
    len = sizeof(ss);
    CHECK_SYS(getsockname(fd, (struct sockaddr *)&ss, &len));
    CHECK_RC(cio_addr_from_sockaddr(&got, (struct sockaddr *)&ss, len));
    CHECK_EQ(cio_addr_get_kind(&got), CIO_ADDR_ABSTRACT); /* Linux autobind */
    check_reparse(&got, 0);
    close(fd);

    /* IPv4 with a kernel-chosen port. */
    CHECK_RC(cio_addr_parse(&want, "127.0.0.1:0"));
    fd = (int)CHECK_SYS(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    CHECK_SYS(bind(fd, cio_addr_sockaddr(&want), cio_addr_len(&want)));
    len = sizeof(ss);
    CHECK_SYS(getsockname(fd, (struct sockaddr *)&ss, &len));
    CHECK_RC(cio_addr_from_sockaddr(&got, (struct sockaddr *)&ss, len));
    CHECK(cio_addr_port(&got) > 0);
    CHECK_RC(cio_addr_set_port(&want, (uint16_t)cio_addr_port(&got)));
    CHECK(cio_addr_equal(&want, &got));
    close(fd);
}

/* Random addresses of every kind survive address -> text -> address. */
static void test_random_round_trips(void)
{
    for (int i = 0; i < 20000; i++) {
        cio_addr a;
        uint64_t r = rng();
        switch (r % 5) {
        case 0:
            CHECK_RC(cio_addr_ipv4(&a, (uint32_t)rng(), (uint16_t)rng()));
            break;
        case 1: {
            uint8_t ip[16];
            for (int k = 0; k < 16; k++)
                ip[k] = (uint8_t)(rng() % 4 == 0 ? 0 : rng()); /* runs of zeros for :: */
            uint32_t scope = rng() % 3 == 0 ? (uint32_t)rng() : 0;
            CHECK_RC(cio_addr_ipv6(&a, ip, (uint16_t)rng(), scope));
            check_reparse(&a, CIO_ADDR_FORMAT_NUMERIC_SCOPE);
            continue;
        }
        case 2: {
            char path[CIO_ADDR_UNIX_PATH_MAX];
            size_t n = 1 + rng() % CIO_ADDR_UNIX_PATH_MAX;
            path[0] = '/';
            for (size_t k = 1; k < n; k++)
                path[k] = (char)(1 + rng() % 255); /* any byte but NUL */
            CHECK_RC(cio_addr_unix(&a, path, n));
            break;
        }
        case 3: {
            unsigned char name[CIO_ADDR_ABSTRACT_MAX];
            size_t n = rng() % (CIO_ADDR_ABSTRACT_MAX + 1);
            for (size_t k = 0; k < n; k++)
                name[k] = (unsigned char)rng(); /* any byte, NUL included */
            CHECK_RC(cio_addr_abstract(&a, name, n));
            break;
        }
        default:
            CHECK_RC(cio_addr_unnamed(&a));
            break;
        }
        check_reparse(&a, CIO_ADDR_FORMAT_NUMERIC_SCOPE);
    }
}

/* Random bytes and mutated valid texts: never a crash, never a read past the length, and
 * anything accepted must format and parse back to the same address. */
static void test_fuzz(void)
{
    static const char alphabet[] = "0123456789abcdefABCDEFx.:[]%@/\\()unamed ";
    for (int i = 0; i < 200000; i++) {
        size_t len = rng() % 48;
        char *text = malloc(len + 1); /* exact size (+1 so malloc(0) is not special) */
        CHECK(text != NULL);
        int mode = (int)(rng() % 3);
        if (mode == 0) {
            for (size_t k = 0; k < len; k++)
                text[k] = (char)rng();
        } else if (mode == 1) {
            for (size_t k = 0; k < len; k++)
                text[k] = alphabet[rng() % (sizeof(alphabet) - 1)];
        } else {
            const char *seed =
                good_cases[rng() % (sizeof(good_cases) / sizeof(good_cases[0]))].text;
            size_t sl = strlen(seed);
            for (size_t k = 0; k < len; k++)
                text[k] = k < sl ? seed[k] : alphabet[rng() % (sizeof(alphabet) - 1)];
            if (len > 0) { /* one random edit */
                size_t at = rng() % len;
                text[at] = rng() % 2 ? alphabet[rng() % (sizeof(alphabet) - 1)] : (char)rng();
            }
        }
        cio_addr a;
        int rc = cio_addr_parse_len(&a, text, len);
        if (rc == 0) {
            check_reparse(&a, CIO_ADDR_FORMAT_NUMERIC_SCOPE);
        } else if (rc != -EINVAL && rc != -ENAMETOOLONG && rc != -ENODEV) {
            TEST_FAIL("unexpected error %d (%s)", rc, cio_strerror(rc));
        }
        free(text);

        /* from_sockaddr on random bytes of a random length. */
        struct sockaddr_storage ss;
        unsigned char *raw = (unsigned char *)&ss;
        for (size_t k = 0; k < sizeof(ss); k++)
            raw[k] = (unsigned char)rng();
        static const sa_family_t families[] = {AF_INET, AF_INET6, AF_UNIX, AF_UNSPEC, 77};
        ss.ss_family = families[rng() % 5];
        size_t sl = rng() % (sizeof(ss) + 4);
        rc = cio_addr_from_sockaddr(&a, (struct sockaddr *)&ss, sl);
        if (rc == 0 && cio_addr_get_kind(&a) == CIO_ADDR_IPV6) {
            /* The flow label has no text form; everything else must survive. */
            ((struct sockaddr_in6 *)(void *)&a.storage)->sin6_flowinfo = 0;
        }
        if (rc == 0 && cio_addr_get_kind(&a) != CIO_ADDR_NONE)
            check_reparse(&a, CIO_ADDR_FORMAT_NUMERIC_SCOPE);
    }
}

CIO_TEST_MAIN(TEST(test_parse_good_table), TEST(test_parse_bad_table),
              TEST(test_parse_null_and_nul), TEST(test_scope_by_name),
              TEST(test_paths_at_the_limit), TEST(test_constructors), TEST(test_accessors),
              TEST(test_equality), TEST(test_sockaddr_conversion), TEST(test_format_errors),
              TEST(test_kernel_addresses), TEST(test_random_round_trips), TEST(test_fuzz))
