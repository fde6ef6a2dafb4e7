/*
 * cio/resolve.h: host names to addresses for runtime tasks (tokio's lookup_host) — the
 * resolver behind connecting and binding by name (cio/tcp.h), for any protocol.
 *
 *     cio_addr addrs[8];
 *     int n = cio_resolve("localhost", "8080", NULL, addrs, 8);   // from a task
 *     for (int i = 0; i < n; i++)
 *         ... addrs[i] is 127.0.0.1:8080, [::1]:8080 ...
 *
 * A numeric host ("127.0.0.1", "::1", "fe80::1%lo") with a numeric or absent service is
 * converted on the spot: no resolver, no thread (a scope given by name costs one
 * if_nametoindex() call). Anything else goes through getaddrinfo() on the runtime's blocking
 * pool while the calling task waits, so the worker keeps running its other tasks; a lookup
 * cannot be interrupted, so when the task is cancelled or its deadline passes the call
 * returns at once, and the lookup finishes on the pool, where its result is freed: an
 * abandoned lookup leaks nothing.
 */
#ifndef CIO_RESOLVE_H
#define CIO_RESOLVE_H

#include <stddef.h>

#include "cio/addr.h"
#include "cio/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Flags of cio_resolve_options. */
enum {
    /* A NULL host gives the wildcard addresses (0.0.0.0, ::), to bind, instead of the
     * loopback ones (::1, 127.0.0.1). getaddrinfo's AI_PASSIVE. */
    CIO_RESOLVE_PASSIVE = 1u << 0,
    /* The host must be a numeric address: never looked up, so a name fails at once with
     * CIO_ERR_EAI(EAI_NONAME). getaddrinfo's AI_NUMERICHOST. */
    CIO_RESOLVE_NUMERIC_HOST = 1u << 1,
};

/* What to resolve for. A zero-initialised struct (or NULL) means: both families, any socket
 * type, no flags. */
typedef struct cio_resolve_options {
    int family;     /* AF_UNSPEC (0): IPv4 and IPv6; AF_INET or AF_INET6: that family only */
    int socktype;   /* 0: any; SOCK_STREAM or SOCK_DGRAM: look a service name up for that
                       type only ("http" is a TCP service, "domain" both) */
    unsigned flags; /* CIO_RESOLVE_* */
} cio_resolve_options;

/**
 * cio_resolve() - the IPv4 and IPv6 addresses of @host, with the port of @service.
 * @host: a host name ("localhost", "example.org") or a numeric address ("127.0.0.1", "::1",
 *        "fe80::1%lo" — no brackets); NULL for the loopback addresses (or, with
 *        CIO_RESOLVE_PASSIVE, the wildcard ones). No spaces or control bytes.
 * @service: a decimal port ("0" to "65535") or a service name ("https"), looked up in the
 *           services database; NULL for port 0. Not both NULL.
 * @opts: NULL, or what to resolve for (see cio_resolve_options).
 * @ret_addrs: receives the addresses (IPv4 and IPv6 kinds only), in the resolver's order
 *             (RFC 6724 and /etc/gai.conf) without duplicates; written only on success.
 * @cap: how many @ret_addrs can hold (at least 1); when the resolver has more, the first
 *       @cap are returned.
 *
 * From a task: a numeric host with a numeric (or no) service returns at once; any other
 * lookup runs getaddrinfo() on the runtime's blocking pool and suspends the task until it
 * ends. Cancel safe: on -ECANCELED or -ETIMEDOUT (the task's deadline, e.g. CIO_TIMEOUT)
 * nothing was written, and the lookup in progress finishes on its own, its result freed
 * there. From a thread outside any runtime the lookup runs on the calling thread and blocks
 * it. AI_ADDRCONFIG is not used: glibc does not count loopback addresses when it decides
 * which families are configured, so with it "localhost" would lose ::1 on a host whose only
 * IPv6 address is ::1 (connecting to an unreachable family fails at once instead).
 * Thread safe.
 *
 * Return: the number of addresses written (1 to @cap); CIO_ERR_EAI(code) for a resolver
 * failure — EAI_NONAME (an unknown name), EAI_SERVICE (an unknown service, or one not
 * offered for @opts->socktype), EAI_ADDRFAMILY (a numeric host of the other family),
 * EAI_AGAIN (a temporary failure)... — with its text from cio_strerror(); -ENODEV for a
 * numeric IPv6 scope naming no interface; -EINVAL for bad arguments (both names NULL, a host
 * with spaces or control bytes, a name longer than getaddrinfo takes, a port above 65535, an
 * unknown family, socket type or flag, @cap 0); -ECANCELED; -ETIMEDOUT; -ENOMEM; -EPERM on a
 * runtime's thread outside a task (nothing could be suspended there).
 */
CIO_EXPORT int cio_resolve(const char *host, const char *service, const cio_resolve_options *opts,
                           cio_addr *ret_addrs, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* CIO_RESOLVE_H */
