/*
 * addr.c: cio_addr — parsing, formatting, constructors and accessors for IPv4, IPv6, Unix
 * path, abstract and unnamed addresses. Every parser works on an explicit length and copies
 * into fixed buffers only after checking the length, so no input can make it read past what
 * it was given or write past a buffer. An address is always built in a local value and copied
 * out at the end, so a failed call leaves the caller's address untouched.
 *
 * Representation kept by every constructor (the kernel's own, so that addresses read back
 * from getsockname()/accept() compare equal to the ones built here):
 *     IPv4/IPv6  len = sizeof(sockaddr_in / sockaddr_in6)
 *     path       len = offsetof(sun_path) + strlen(path) + 1, or + 0 for a 108-byte path
 *                (Linux accepts at most sizeof(sockaddr_un) and then needs no NUL)
 *     abstract   len = offsetof(sun_path) + 1 + name length
 *     unnamed    len = offsetof(sun_path) (= sizeof(sa_family_t))
 * and the bytes of the storage past len are zero.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "cio/addr.h"
#include "util/compiler.h"

#define SUN_OFFSET offsetof(struct sockaddr_un, sun_path)
#define SUN_PATH_SIZE sizeof(((struct sockaddr_un *)0)->sun_path)

_Static_assert(SUN_PATH_SIZE == CIO_ADDR_UNIX_PATH_MAX, "sun_path size differs from the header");
_Static_assert(SUN_OFFSET + SUN_PATH_SIZE < sizeof(struct sockaddr_storage),
               "a full sun_path must leave a zero byte in the storage");

static const char unnamed_text[] = "(unnamed)";

static struct sockaddr_in *as_in(cio_addr *a)
{
    return (struct sockaddr_in *)(void *)&a->storage;
}
static struct sockaddr_in6 *as_in6(cio_addr *a)
{
    return (struct sockaddr_in6 *)(void *)&a->storage;
}
static struct sockaddr_un *as_un(cio_addr *a)
{
    return (struct sockaddr_un *)(void *)&a->storage;
}
static const struct sockaddr_in *as_cin(const cio_addr *a)
{
    return (const struct sockaddr_in *)(const void *)&a->storage;
}
static const struct sockaddr_in6 *as_cin6(const cio_addr *a)
{
    return (const struct sockaddr_in6 *)(const void *)&a->storage;
}
static const struct sockaddr_un *as_cun(const cio_addr *a)
{
    return (const struct sockaddr_un *)(const void *)&a->storage;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* ---- constructors ---- */

int cio_addr_ipv4(cio_addr *ret_addr, uint32_t ip, uint16_t port)
{
    if (ret_addr == NULL)
        return -EINVAL;
    cio_addr a = {0};
    struct sockaddr_in *sin = as_in(&a);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    sin->sin_addr.s_addr = htonl(ip);
    a.len = sizeof(*sin);
    *ret_addr = a;
    return 0;
}

int cio_addr_ipv6(cio_addr *ret_addr, const uint8_t ip[16], uint16_t port, uint32_t scope_id)
{
    if (ret_addr == NULL)
        return -EINVAL;
    cio_addr a = {0};
    struct sockaddr_in6 *sin6 = as_in6(&a);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    if (ip != NULL)
        memcpy(&sin6->sin6_addr, ip, 16);
    sin6->sin6_scope_id = scope_id;
    a.len = sizeof(*sin6);
    *ret_addr = a;
    return 0;
}

int cio_addr_unix(cio_addr *ret_addr, const char *path, size_t len)
{
    if (ret_addr == NULL || path == NULL || len == 0)
        return -EINVAL;
    if (len > SUN_PATH_SIZE)
        return -ENAMETOOLONG;
    if (memchr(path, '\0', len) != NULL)
        return -EINVAL;
    cio_addr a = {0};
    struct sockaddr_un *sun = as_un(&a);
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, len);
    a.len = (socklen_t)(SUN_OFFSET + len + (len < SUN_PATH_SIZE ? 1 : 0));
    *ret_addr = a;
    return 0;
}

int cio_addr_abstract(cio_addr *ret_addr, const void *name, size_t len)
{
    if (ret_addr == NULL || (name == NULL && len > 0))
        return -EINVAL;
    if (len > CIO_ADDR_ABSTRACT_MAX)
        return -ENAMETOOLONG;
    cio_addr a = {0};
    struct sockaddr_un *sun = as_un(&a);
    sun->sun_family = AF_UNIX;
    if (len > 0)
        memcpy(sun->sun_path + 1, name, len);
    a.len = (socklen_t)(SUN_OFFSET + 1 + len);
    *ret_addr = a;
    return 0;
}

int cio_addr_unnamed(cio_addr *ret_addr)
{
    if (ret_addr == NULL)
        return -EINVAL;
    cio_addr a = {0};
    as_un(&a)->sun_family = AF_UNIX;
    a.len = (socklen_t)SUN_OFFSET;
    *ret_addr = a;
    return 0;
}

int cio_addr_from_sockaddr(cio_addr *ret_addr, const struct sockaddr *sa, size_t len)
{
    if (ret_addr == NULL || sa == NULL || len < sizeof(sa_family_t) ||
        len > sizeof(struct sockaddr_storage))
        return -EINVAL;
    sa_family_t family;
    memcpy(&family, sa, sizeof(family));
    switch (family) {
    case AF_UNSPEC: {
        cio_addr a = {0};
        *ret_addr = a;
        return 0;
    }
    case AF_INET: {
        if (len < sizeof(struct sockaddr_in))
            return -EINVAL;
        cio_addr a = {0};
        memcpy(&a.storage, sa, sizeof(struct sockaddr_in));
        a.len = sizeof(struct sockaddr_in);
        /* sin_zero is padding; keep it zero so equal addresses are equal bytes. */
        memset(as_in(&a)->sin_zero, 0, sizeof(as_in(&a)->sin_zero));
        *ret_addr = a;
        return 0;
    }
    case AF_INET6: {
        if (len < sizeof(struct sockaddr_in6))
            return -EINVAL;
        cio_addr a = {0};
        memcpy(&a.storage, sa, sizeof(struct sockaddr_in6));
        a.len = sizeof(struct sockaddr_in6);
        *ret_addr = a;
        return 0;
    }
    case AF_UNIX: {
        const char *path = (const char *)sa + SUN_OFFSET;
        size_t avail = len - SUN_OFFSET;
        if (avail == 0)
            return cio_addr_unnamed(ret_addr);
        if (path[0] == '\0') {
            /* Abstract: the name is every byte the kernel reported, NULs included. Linux
             * never reports more than sizeof(sockaddr_un) for one. */
            if (avail - 1 > CIO_ADDR_ABSTRACT_MAX)
                return -EINVAL;
            return cio_addr_abstract(ret_addr, path + 1, avail - 1);
        }
        /* A path ends at its first NUL; for a full 108-byte path the kernel reports one byte
         * more than sizeof(sockaddr_un) (its copy has the NUL past sun_path). */
        size_t n = strnlen(path, cio__min(avail, SUN_PATH_SIZE));
        return cio_addr_unix(ret_addr, path, n);
    }
    default:
        return -EAFNOSUPPORT;
    }
}

/* ---- accessors ---- */

const struct sockaddr *cio_addr_sockaddr(const cio_addr *addr)
{
    return addr != NULL ? (const struct sockaddr *)(const void *)&addr->storage : NULL;
}

socklen_t cio_addr_len(const cio_addr *addr)
{
    if (addr == NULL || addr->len > sizeof(addr->storage))
        return 0;
    return addr->len;
}

cio_addr_kind cio_addr_get_kind(const cio_addr *addr)
{
    if (addr == NULL || addr->len < sizeof(sa_family_t) || addr->len > sizeof(addr->storage))
        return CIO_ADDR_NONE;
    switch (addr->storage.ss_family) {
    case AF_INET:
        return addr->len >= sizeof(struct sockaddr_in) ? CIO_ADDR_IPV4 : CIO_ADDR_NONE;
    case AF_INET6:
        return addr->len >= sizeof(struct sockaddr_in6) ? CIO_ADDR_IPV6 : CIO_ADDR_NONE;
    case AF_UNIX:
        if (addr->len == SUN_OFFSET)
            return CIO_ADDR_UNNAMED;
        return as_cun(addr)->sun_path[0] == '\0' ? CIO_ADDR_ABSTRACT : CIO_ADDR_UNIX;
    default:
        return CIO_ADDR_NONE;
    }
}

int cio_addr_port(const cio_addr *addr)
{
    if (addr == NULL)
        return -EINVAL;
    switch (cio_addr_get_kind(addr)) {
    case CIO_ADDR_IPV4:
        return ntohs(as_cin(addr)->sin_port);
    case CIO_ADDR_IPV6:
        return ntohs(as_cin6(addr)->sin6_port);
    default:
        return -EAFNOSUPPORT;
    }
}

int cio_addr_set_port(cio_addr *addr, uint16_t port)
{
    if (addr == NULL)
        return -EINVAL;
    switch (cio_addr_get_kind(addr)) {
    case CIO_ADDR_IPV4:
        as_in(addr)->sin_port = htons(port);
        return 0;
    case CIO_ADDR_IPV6:
        as_in6(addr)->sin6_port = htons(port);
        return 0;
    default:
        return -EAFNOSUPPORT;
    }
}

int cio_addr_scope_id(const cio_addr *addr, uint32_t *ret_scope_id)
{
    if (addr == NULL || ret_scope_id == NULL)
        return -EINVAL;
    if (cio_addr_get_kind(addr) != CIO_ADDR_IPV6)
        return -EAFNOSUPPORT;
    *ret_scope_id = as_cin6(addr)->sin6_scope_id;
    return 0;
}

const char *cio_addr_unix_path(const cio_addr *addr)
{
    if (cio_addr_get_kind(addr) != CIO_ADDR_UNIX)
        return NULL;
    const char *path = as_cun(addr)->sun_path;
    /* The fields are public: do not hand out a string without a NUL inside the storage. */
    size_t room = sizeof(addr->storage) - SUN_OFFSET;
    return memchr(path, '\0', room) != NULL ? path : NULL;
}

const void *cio_addr_abstract_name(const cio_addr *addr, size_t *ret_len)
{
    if (ret_len == NULL || cio_addr_get_kind(addr) != CIO_ADDR_ABSTRACT)
        return NULL;
    *ret_len = addr->len - SUN_OFFSET - 1;
    return as_cun(addr)->sun_path + 1;
}

bool cio_addr_equal(const cio_addr *a, const cio_addr *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    cio_addr_kind kind = cio_addr_get_kind(a);
    if (kind != cio_addr_get_kind(b))
        return false;
    switch (kind) {
    case CIO_ADDR_NONE:
    case CIO_ADDR_UNNAMED:
        return true;
    case CIO_ADDR_IPV4: {
        const struct sockaddr_in *x = as_cin(a), *y = as_cin(b);
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    case CIO_ADDR_IPV6: {
        const struct sockaddr_in6 *x = as_cin6(a), *y = as_cin6(b);
        return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
               x->sin6_flowinfo == y->sin6_flowinfo &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
    }
    case CIO_ADDR_UNIX: {
        const char *p = cio_addr_unix_path(a), *q = cio_addr_unix_path(b);
        return p != NULL && q != NULL && strcmp(p, q) == 0;
    }
    case CIO_ADDR_ABSTRACT: {
        size_t n, m;
        const void *x = cio_addr_abstract_name(a, &n), *y = cio_addr_abstract_name(b, &m);
        return n == m && memcmp(x, y, n) == 0;
    }
    }
    return false;
}

/* ---- parsing ---- */

/* A decimal port: 1 to 5 digits, at most 65535, nothing else. */
static int parse_port(const char *s, size_t n, uint16_t *ret_port)
{
    if (n == 0 || n > 5)
        return -EINVAL;
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return -EINVAL;
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    if (v > 65535)
        return -EINVAL;
    *ret_port = (uint16_t)v;
    return 0;
}

static int parse_ipv4(cio_addr *ret_addr, const char *text, size_t len)
{
    const char *colon = memrchr(text, ':', len);
    if (colon == NULL)
        return -EINVAL; /* a port is required */
    size_t host_len = (size_t)(colon - text);
    char host[INET_ADDRSTRLEN];
    if (host_len == 0 || host_len >= sizeof(host))
        return -EINVAL;
    memcpy(host, text, host_len);
    host[host_len] = '\0';
    uint16_t port;
    int rc = parse_port(colon + 1, len - host_len - 1, &port);
    if (rc < 0)
        return rc;
    struct in_addr in;
    /* inet_pton() takes only the strict dotted quad (no octal, no short forms). */
    if (inet_pton(AF_INET, host, &in) != 1)
        return -EINVAL;
    return cio_addr_ipv4(ret_addr, ntohl(in.s_addr), port);
}

static int parse_scope(const char *s, size_t n, uint32_t *ret_scope)
{
    if (n == 0)
        return -EINVAL;
    bool numeric = true;
    for (size_t i = 0; i < n && numeric; i++)
        numeric = is_digit(s[i]);
    if (numeric) {
        if (n > 10)
            return -EINVAL;
        uint64_t v = 0;
        for (size_t i = 0; i < n; i++)
            v = v * 10 + (uint64_t)(s[i] - '0');
        if (v > UINT32_MAX)
            return -EINVAL;
        *ret_scope = (uint32_t)v;
        return 0;
    }
    char name[IF_NAMESIZE];
    if (n >= sizeof(name))
        return -EINVAL;
    memcpy(name, s, n);
    name[n] = '\0';
    unsigned index = if_nametoindex(name);
    if (index == 0)
        return -ENODEV;
    *ret_scope = index;
    return 0;
}

static int parse_ipv6(cio_addr *ret_addr, const char *text, size_t len)
{
    /* text[0] == '[' */
    const char *close = memchr(text, ']', len);
    if (close == NULL)
        return -EINVAL;
    size_t inner_len = (size_t)(close - text) - 1;
    const char *inner = text + 1;
    size_t rest = len - (size_t)(close - text) - 1;
    if (rest < 2 || close[1] != ':')
        return -EINVAL; /* a port is required */
    uint16_t port;
    int rc = parse_port(close + 2, rest - 1, &port);
    if (rc < 0)
        return rc;

    const char *percent = memchr(inner, '%', inner_len);
    size_t host_len = percent != NULL ? (size_t)(percent - inner) : inner_len;
    char host[INET6_ADDRSTRLEN];
    if (host_len == 0 || host_len >= sizeof(host))
        return -EINVAL;
    memcpy(host, inner, host_len);
    host[host_len] = '\0';
    struct in6_addr in6;
    if (inet_pton(AF_INET6, host, &in6) != 1)
        return -EINVAL;
    uint32_t scope = 0;
    if (percent != NULL) {
        rc = parse_scope(percent + 1, inner_len - host_len - 1, &scope);
        if (rc < 0)
            return rc;
    }
    return cio_addr_ipv6(ret_addr, in6.s6_addr, port, scope);
}

static int parse_abstract(cio_addr *ret_addr, const char *text, size_t len)
{
    /* text[0] == '@' */
    unsigned char name[CIO_ADDR_ABSTRACT_MAX];
    size_t n = 0;
    for (size_t i = 1; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\\') {
            if (i + 1 < len && text[i + 1] == '\\') {
                i += 1;
            } else if (i + 3 < len && text[i + 1] == 'x' && hex_value(text[i + 2]) >= 0 &&
                       hex_value(text[i + 3]) >= 0) {
                c = (unsigned char)(hex_value(text[i + 2]) * 16 + hex_value(text[i + 3]));
                i += 3;
            } else {
                return -EINVAL;
            }
        }
        if (n == sizeof(name))
            return -ENAMETOOLONG;
        name[n++] = c;
    }
    return cio_addr_abstract(ret_addr, name, n);
}

int cio_addr_parse_len(cio_addr *ret_addr, const char *text, size_t len)
{
    if (ret_addr == NULL || text == NULL || len == 0)
        return -EINVAL;
    if (memchr(text, '\0', len) != NULL)
        return -EINVAL;
    if (text[0] == '/' || (len >= 3 && text[0] == '.' && text[1] == '.' && text[2] == '/'))
        return cio_addr_unix(ret_addr, text, len);
    if (len >= 2 && text[0] == '.' && text[1] == '/') /* "./" marks a relative path */
        return cio_addr_unix(ret_addr, text + 2, len - 2);
    if (text[0] == '@')
        return parse_abstract(ret_addr, text, len);
    if (text[0] == '[')
        return parse_ipv6(ret_addr, text, len);
    if (len == sizeof(unnamed_text) - 1 && memcmp(text, unnamed_text, len) == 0)
        return cio_addr_unnamed(ret_addr);
    return parse_ipv4(ret_addr, text, len);
}

int cio_addr_parse(cio_addr *ret_addr, const char *text)
{
    if (text == NULL)
        return -EINVAL;
    return cio_addr_parse_len(ret_addr, text, strlen(text));
}

/* ---- formatting ---- */

/* Writes the text into out (at least CIO_ADDR_STRLEN bytes); returns its length. */
static int format_into(const cio_addr *addr, char *out, unsigned flags)
{
    switch (cio_addr_get_kind(addr)) {
    case CIO_ADDR_NONE:
        return addr->len == 0 || addr->storage.ss_family == AF_UNSPEC ? -EINVAL : -EAFNOSUPPORT;
    case CIO_ADDR_IPV4: {
        const struct sockaddr_in *sin = as_cin(addr);
        char host[INET_ADDRSTRLEN];
        if (inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host)) == NULL)
            return -EINVAL;
        return snprintf(out, CIO_ADDR_STRLEN, "%s:%u", host, (unsigned)ntohs(sin->sin_port));
    }
    case CIO_ADDR_IPV6: {
        const struct sockaddr_in6 *sin6 = as_cin6(addr);
        char host[INET6_ADDRSTRLEN];
        if (inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host)) == NULL)
            return -EINVAL;
        char scope[IF_NAMESIZE + 12] = "";
        if (sin6->sin6_scope_id != 0) {
            char name[IF_NAMESIZE];
            if (!(flags & CIO_ADDR_FORMAT_NUMERIC_SCOPE) &&
                if_indextoname(sin6->sin6_scope_id, name) != NULL)
                snprintf(scope, sizeof(scope), "%%%s", name);
            else
                snprintf(scope, sizeof(scope), "%%%u", (unsigned)sin6->sin6_scope_id);
        }
        return snprintf(out, CIO_ADDR_STRLEN, "[%s%s]:%u", host, scope,
                        (unsigned)ntohs(sin6->sin6_port));
    }
    case CIO_ADDR_UNIX: {
        const char *path = cio_addr_unix_path(addr);
        if (path == NULL)
            return -EINVAL;
        /* A relative path gets the "./" that marks it as a path in text (parsing drops it),
         * unless it starts with "../", which marks it already. */
        size_t n = strnlen(path, SUN_PATH_SIZE);
        size_t o = 0;
        if (path[0] != '/' && strncmp(path, "../", 3) != 0) {
            out[o++] = '.';
            out[o++] = '/';
        }
        memcpy(out + o, path, n);
        out[o + n] = '\0';
        return (int)(o + n);
    }
    case CIO_ADDR_ABSTRACT: {
        size_t n;
        const unsigned char *name = cio_addr_abstract_name(addr, &n);
        if (n > CIO_ADDR_ABSTRACT_MAX)
            return -EINVAL;
        static const char hex[] = "0123456789abcdef";
        size_t o = 0;
        out[o++] = '@';
        for (size_t i = 0; i < n; i++) {
            unsigned char c = name[i];
            if (c == '\\') {
                out[o++] = '\\';
                out[o++] = '\\';
            } else if (c < 0x21 || c > 0x7e) {
                out[o++] = '\\';
                out[o++] = 'x';
                out[o++] = hex[c >> 4];
                out[o++] = hex[c & 15];
            } else {
                out[o++] = (char)c;
            }
        }
        out[o] = '\0';
        return (int)o;
    }
    case CIO_ADDR_UNNAMED:
        memcpy(out, unnamed_text, sizeof(unnamed_text));
        return (int)sizeof(unnamed_text) - 1;
    }
    return -EINVAL;
}

int cio_addr_format_flags(const cio_addr *addr, char *buf, size_t size, unsigned flags)
{
    if (addr == NULL || buf == NULL || (flags & ~(unsigned)CIO_ADDR_FORMAT_NUMERIC_SCOPE))
        return -EINVAL;
    char text[CIO_ADDR_STRLEN];
    int n = format_into(addr, text, flags);
    if (n < 0 || (size_t)n >= size) {
        if (size > 0)
            buf[0] = '\0';
        return n < 0 ? n : -ENOSPC;
    }
    memcpy(buf, text, (size_t)n + 1);
    return n;
}

int cio_addr_format(const cio_addr *addr, char *buf, size_t size)
{
    return cio_addr_format_flags(addr, buf, size, 0);
}
