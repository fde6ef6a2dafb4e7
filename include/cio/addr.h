/*
 * cio/addr.h: one address type for every socket kind cio has — IPv4, IPv6 (with scope id),
 * Unix-domain path, Linux abstract name, and the unnamed Unix address — as a plain value
 * (a sockaddr_storage and its length) that lives on the stack, copies with `=`, and converts
 * to and from `struct sockaddr` without allocation. Text forms parse and format back exactly:
 *
 *     127.0.0.1:80          IPv4 (dotted quad, decimal port 0-65535; the port is required)
 *     [::1]:80              IPv6 in brackets
 *     [fe80::1%lo]:80       IPv6 with a scope: an interface name or a number ([fe80::1%1]:80)
 *     /run/x.sock           a Unix path: any text starting with "/" or "../"
 *     ./x.sock              a relative Unix path; the "./" only marks it as a path and is
 *                           not part of it (the address holds "x.sock", which formats back
 *                           as "./x.sock"), so every path has a text form that parses back
 *     @name                 a Linux abstract name (bytes outside 0x21-0x7e and "\" are
 *                           written \xHH, a backslash \\, so any name has a text form)
 *     (unnamed)             the unnamed Unix address (an unbound client, a socketpair end)
 *
 * Host names are not addresses: resolving "localhost:80" is the runtime's job (it needs DNS).
 * Every function checks its input — NULL, malformed text, an over-long path — and returns a
 * negative errno rather than truncating, crashing or reading past the given length.
 */
#ifndef CIO_ADDR_H
#define CIO_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "cio/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * An address. A value type: declare it (`cio_addr a;`), fill it with a constructor, copy it
 * by assignment. The fields are public so that the struct can be embedded and passed to
 * system calls (`cio_addr_sockaddr(&a)`, `cio_addr_len(&a)`); write them only through the
 * functions below, which keep the bytes past `len` zeroed (equality and the NUL after a
 * 108-byte Unix path rely on that). `cio_addr a = {0};` is the empty address
 * (CIO_ADDR_NONE).
 */
typedef struct cio_addr {
    struct sockaddr_storage storage;
    socklen_t len; /* bytes of storage that hold the address */
} cio_addr;

typedef enum cio_addr_kind {
    CIO_ADDR_NONE = 0,     /* empty (zero-initialised, or AF_UNSPEC) */
    CIO_ADDR_IPV4 = 1,     /* AF_INET */
    CIO_ADDR_IPV6 = 2,     /* AF_INET6 */
    CIO_ADDR_UNIX = 3,     /* AF_UNIX bound to a filesystem path */
    CIO_ADDR_ABSTRACT = 4, /* AF_UNIX in Linux's abstract namespace */
    CIO_ADDR_UNNAMED = 5,  /* AF_UNIX without a name */
} cio_addr_kind;

/*
 * The longest text cio_addr_format() produces, including the terminating NUL: an abstract
 * name of 107 bytes, each escaped as \xHH, after "@". A buffer of this size never gets
 * -ENOSPC.
 */
#define CIO_ADDR_STRLEN 432

/* The longest Unix path (sun_path on Linux; a path of exactly this length has no NUL in the
 * kernel's copy, which Linux accepts), and the longest abstract name. */
#define CIO_ADDR_UNIX_PATH_MAX 108
#define CIO_ADDR_ABSTRACT_MAX 107

/* An IPv4 address in host byte order, for cio_addr_ipv4(): CIO_IPV4(127, 0, 0, 1). */
#define CIO_IPV4(a, b, c, d)                                                                       \
    (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))
#define CIO_IPV4_ANY CIO_IPV4(0, 0, 0, 0)
#define CIO_IPV4_LOOPBACK CIO_IPV4(127, 0, 0, 1)

/* Flags for cio_addr_format_flags(). */
enum {
    /* Write an IPv6 scope as its number even when it names an interface. */
    CIO_ADDR_FORMAT_NUMERIC_SCOPE = 1u << 0,
};

/**
 * cio_addr_parse() - parse the text form of an address (see the top of this header).
 * @ret_addr: receives the address (written only on success).
 * @text: a NUL-terminated string.
 *
 * Literal addresses only: no host names, no whitespace, no default port. An IPv6 scope given
 * by name is looked up with if_nametoindex() (the one case that asks the kernel).
 * Thread safe.
 *
 * Return: 0; -EINVAL for NULL, empty or malformed text (bad address, missing or out-of-range
 * port, a bad escape in an abstract name); -ENAMETOOLONG for a path longer than
 * CIO_ADDR_UNIX_PATH_MAX bytes or an abstract name longer than CIO_ADDR_ABSTRACT_MAX;
 * -ENODEV for a scope naming no interface.
 */
CIO_EXPORT int cio_addr_parse(cio_addr *ret_addr, const char *text);

/**
 * cio_addr_parse_len() - cio_addr_parse() on exactly @len bytes of @text, which need not be
 * NUL-terminated; at most @len bytes are read.
 *
 * Return: as cio_addr_parse(); also -EINVAL when the bytes contain a NUL (a path or name
 * with an embedded NUL would otherwise be silently cut).
 */
CIO_EXPORT int cio_addr_parse_len(cio_addr *ret_addr, const char *text, size_t len);

/**
 * cio_addr_format() - write the text form of an address.
 * @addr: the address.
 * @buf: receives the text and a terminating NUL.
 * @size: the size of @buf; CIO_ADDR_STRLEN is always enough.
 *
 * An IPv6 scope id is written as the interface's name when one has that index (like
 * getnameinfo(); this asks the kernel, once per call), otherwise as the number. The result
 * parses back to an equal address, except for an IPv6 flow label, which has no text form
 * (it is left out). Thread safe.
 *
 * Return: the length of the text (without the NUL); -EINVAL for NULL arguments or the empty
 * address; -EAFNOSUPPORT for a family cio does not know; -ENOSPC when @buf is too small (then
 * @buf holds an empty string if @size > 0).
 */
CIO_EXPORT int cio_addr_format(const cio_addr *addr, char *buf, size_t size);

/**
 * cio_addr_format_flags() - cio_addr_format() with CIO_ADDR_FORMAT_* flags.
 *
 * With CIO_ADDR_FORMAT_NUMERIC_SCOPE the call never asks the kernel anything.
 *
 * Return: as cio_addr_format(); -EINVAL for unknown flags.
 */
CIO_EXPORT int cio_addr_format_flags(const cio_addr *addr, char *buf, size_t size, unsigned flags);

/**
 * cio_addr_ipv4() - an IPv4 address.
 * @ret_addr: receives the address.
 * @ip: the address in host byte order (CIO_IPV4(127, 0, 0, 1), CIO_IPV4_ANY...).
 * @port: the port in host byte order.
 *
 * Return: 0; -EINVAL if @ret_addr is NULL.
 */
CIO_EXPORT int cio_addr_ipv4(cio_addr *ret_addr, uint32_t ip, uint16_t port);

/**
 * cio_addr_ipv6() - an IPv6 address.
 * @ret_addr: receives the address.
 * @ip: the 16 bytes of the address in network order (NULL means :: , the unspecified
 *      address).
 * @port: the port in host byte order.
 * @scope_id: the interface index for a link-local address, else 0.
 *
 * Return: 0; -EINVAL if @ret_addr is NULL.
 */
CIO_EXPORT int cio_addr_ipv6(cio_addr *ret_addr, const uint8_t ip[16], uint16_t port,
                             uint32_t scope_id);

/**
 * cio_addr_unix() - a Unix-domain address bound to a filesystem path.
 * @ret_addr: receives the address.
 * @path: the path bytes (need not be NUL-terminated).
 * @len: the number of bytes, 1 to CIO_ADDR_UNIX_PATH_MAX.
 *
 * Return: 0; -EINVAL for NULL, an empty path or a NUL inside the @len bytes; -ENAMETOOLONG
 * when @len exceeds CIO_ADDR_UNIX_PATH_MAX (never truncated).
 */
CIO_EXPORT int cio_addr_unix(cio_addr *ret_addr, const char *path, size_t len);

/**
 * cio_addr_abstract() - a Linux abstract Unix-domain address.
 * @ret_addr: receives the address.
 * @name: the name's bytes; any bytes, NUL included (may be NULL when @len is 0).
 * @len: the length of the name, 0 to CIO_ADDR_ABSTRACT_MAX. The kernel matches names by
 *       exact length: "x" and "x\0" are different addresses.
 *
 * Return: 0; -EINVAL for NULL; -ENAMETOOLONG when @len exceeds CIO_ADDR_ABSTRACT_MAX.
 */
CIO_EXPORT int cio_addr_abstract(cio_addr *ret_addr, const void *name, size_t len);

/**
 * cio_addr_unnamed() - the unnamed Unix-domain address. Binding a socket to it asks Linux to
 * pick an abstract name (autobind).
 *
 * Return: 0; -EINVAL if @ret_addr is NULL.
 */
CIO_EXPORT int cio_addr_unnamed(cio_addr *ret_addr);

/**
 * cio_addr_from_sockaddr() - copy a system socket address.
 * @ret_addr: receives the address.
 * @sa: the address (AF_INET, AF_INET6, AF_UNIX or AF_UNSPEC).
 * @len: its length, as accept(), getsockname() or recvfrom() reported it.
 *
 * An AF_UNIX path is taken up to its first NUL within @len; an abstract name keeps exactly
 * its @len - 3 bytes; a length of sizeof(sa_family_t) is the unnamed address.
 *
 * Return: 0; -EINVAL for NULL or a length too short for the family or longer than a
 * sockaddr_storage; -EAFNOSUPPORT for another family.
 */
CIO_EXPORT int cio_addr_from_sockaddr(cio_addr *ret_addr, const struct sockaddr *sa, size_t len);

/**
 * cio_addr_sockaddr() - the address as a `struct sockaddr`, for system calls.
 *
 * Return: a pointer into @addr (valid while @addr is), or NULL if @addr is NULL.
 */
CIO_EXPORT const struct sockaddr *cio_addr_sockaddr(const cio_addr *addr);

/**
 * cio_addr_len() - the length to pass with cio_addr_sockaddr(); 0 for NULL or empty.
 */
CIO_EXPORT socklen_t cio_addr_len(const cio_addr *addr);

/**
 * cio_addr_get_kind() - what kind of address this is; CIO_ADDR_NONE for NULL, an empty address
 * or an unknown family.
 */
CIO_EXPORT cio_addr_kind cio_addr_get_kind(const cio_addr *addr);

/**
 * cio_addr_port() - the port of an IPv4 or IPv6 address.
 *
 * Return: the port (0 to 65535, host order); -EINVAL for NULL; -EAFNOSUPPORT for an address
 * that has no port.
 */
CIO_EXPORT int cio_addr_port(const cio_addr *addr);

/**
 * cio_addr_set_port() - change the port of an IPv4 or IPv6 address.
 *
 * Return: 0; -EINVAL for NULL; -EAFNOSUPPORT for an address that has no port.
 */
CIO_EXPORT int cio_addr_set_port(cio_addr *addr, uint16_t port);

/**
 * cio_addr_scope_id() - the scope id (interface index) of an IPv6 address.
 * @ret_scope_id: receives it (0 when there is none).
 *
 * Return: 0; -EINVAL for NULL; -EAFNOSUPPORT when @addr is not IPv6.
 */
CIO_EXPORT int cio_addr_scope_id(const cio_addr *addr, uint32_t *ret_scope_id);

/**
 * cio_addr_unix_path() - the path of a CIO_ADDR_UNIX address, NUL-terminated.
 *
 * Return: a pointer into @addr (valid while @addr is unchanged), or NULL if @addr is not a
 * path address.
 */
CIO_EXPORT const char *cio_addr_unix_path(const cio_addr *addr);

/**
 * cio_addr_abstract_name() - the name of a CIO_ADDR_ABSTRACT address (without the leading
 * NUL the kernel uses to mark it).
 * @ret_len: receives the name's length (may be 0).
 *
 * Return: a pointer into @addr, or NULL (and @ret_len untouched) if @addr is not abstract.
 */
CIO_EXPORT const void *cio_addr_abstract_name(const cio_addr *addr, size_t *ret_len);

/**
 * cio_addr_equal() - whether two addresses are the same: same kind and, for IP, the same
 * address, port, IPv6 flow info and scope id; for Unix, the same path or name bytes. Two
 * empty addresses are equal; NULL equals only NULL.
 */
CIO_EXPORT bool cio_addr_equal(const cio_addr *a, const cio_addr *b);

#ifdef __cplusplus
}
#endif

#endif /* CIO_ADDR_H */
