/*
 * resolve.c: host names to addresses (cio/resolve.h). The arguments are checked here, once,
 * for every caller; a numeric host with a numeric or absent service becomes its address on
 * the spot; anything else is a getaddrinfo() call — on the runtime's blocking pool through the
 * offload primitive (rt/offload.h) when called from a task, on the calling thread outside any
 * runtime. The lookup record keeps the resolver's list until the task takes it, so a lookup
 * the task stopped waiting for frees its list when it finishes, on the pool thread.
 */
#include "io/resolve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt/offload.h"
#include "rt/sched.h"
#include "util/compiler.h"

#define KNOWN_FLAGS (CIO_RESOLVE_PASSIVE | CIO_RESOLVE_NUMERIC_HOST)

/* ---- the arguments ---- */

/* A host getaddrinfo can take: not empty, short enough, and no byte its numeric parser would
 * stop at (inet_aton accepts "1.2.3.4 junk" and ignores the rest). */
static bool host_ok(const char *host)
{
    size_t len = strnlen(host, NI_MAXHOST);
    if (len == 0 || len == NI_MAXHOST)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)host[i];
        if (c <= 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

/* A decimal port 0-65535 (*ret_port) or a service name (*ret_port -1): a letter, then
 * letters, digits and -_+. (IANA names, and what /etc/services holds). Anything else is
 * malformed, not a lookup to fail later. */
static int check_service(const char *service, int *ret_port)
{
    size_t len = strnlen(service, NI_MAXSERV);
    if (len == 0 || len == NI_MAXSERV)
        return -EINVAL;
    if (service[0] >= '0' && service[0] <= '9') {
        long port = 0;
        for (size_t i = 0; i < len; i++) {
            if (service[i] < '0' || service[i] > '9')
                return -EINVAL;
            port = port * 10 + (service[i] - '0');
            if (port > 65535)
                return -EINVAL;
        }
        *ret_port = (int)port;
        return 0;
    }
    char c = service[0];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
        return -EINVAL;
    for (size_t i = 1; i < len; i++) {
        c = service[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '+' || c == '.';
        if (!ok)
            return -EINVAL;
    }
    *ret_port = -1;
    return 0;
}

/* Check everything and fill the getaddrinfo hints; *ret_port as check_service (0 for no
 * service). */
static int check_args(const char *host, const char *service, const cio_resolve_options *opts,
                      struct addrinfo *hints, int *ret_port)
{
    if (host == NULL && service == NULL)
        return -EINVAL;
    if (host != NULL && !host_ok(host))
        return -EINVAL;
    *ret_port = 0;
    if (service != NULL) {
        int rc = check_service(service, ret_port);
        if (rc < 0)
            return rc;
    }
    memset(hints, 0, sizeof(*hints));
    if (opts != NULL) {
        if (opts->family != AF_UNSPEC && opts->family != AF_INET && opts->family != AF_INET6)
            return -EINVAL;
        if (opts->socktype != 0 && opts->socktype != SOCK_STREAM && opts->socktype != SOCK_DGRAM)
            return -EINVAL;
        if (opts->flags & ~(unsigned)KNOWN_FLAGS)
            return -EINVAL;
        hints->ai_family = opts->family;
        hints->ai_socktype = opts->socktype;
        if (opts->flags & CIO_RESOLVE_PASSIVE)
            hints->ai_flags |= AI_PASSIVE;
        if (opts->flags & CIO_RESOLVE_NUMERIC_HOST)
            hints->ai_flags |= AI_NUMERICHOST;
    }
    if (*ret_port >= 0 && service != NULL)
        hints->ai_flags |= AI_NUMERICSERV;
    /* No AI_ADDRCONFIG: see cio/resolve.h. */
    return 0;
}

/* ---- the numeric fast path ---- */

/*
 * A numeric host, or none, with a numeric port: its addresses without the resolver, in
 * getaddrinfo's order (no host: ::1 then 127.0.0.1; passive: 0.0.0.0 then ::).
 * Return: the count (1 or 2) in @out; 0 when a lookup is needed (a name, or a service name);
 * or an error (a name where a number is required, a literal of the other family, an unknown
 * IPv6 scope).
 */
static int numeric_addrs(const char *host, int port, const struct addrinfo *hints, cio_addr out[2])
{
    int family = hints->ai_family;
    bool want4 = family != AF_INET6, want6 = family != AF_INET;
    cio_addr v4, v6;
    bool is4 = false, is6 = false;
    if (host == NULL) {
        bool passive = hints->ai_flags & AI_PASSIVE;
        static const uint8_t any6[16], loop6[16] = {[15] = 1};
        cio_addr_ipv4(&v4, passive ? CIO_IPV4_ANY : CIO_IPV4_LOOPBACK, 0);
        cio_addr_ipv6(&v6, passive ? any6 : loop6, 0, 0);
        is4 = is6 = true;
    } else {
        struct in_addr in4;
        if (inet_pton(AF_INET, host, &in4) == 1) {
            cio_addr_ipv4(&v4, ntohl(in4.s_addr), 0);
            is4 = true;
        } else if (strchr(host, ':') != NULL) {
            char text[NI_MAXHOST + 8];
            snprintf(text, sizeof(text), "[%s]:0", host);
            int rc = cio_addr_parse(&v6, text);
            if (rc == -ENODEV)
                return rc;
            is6 = rc == 0 && cio_addr_get_kind(&v6) == CIO_ADDR_IPV6;
        }
        if (!is4 && !is6)
            return (hints->ai_flags & AI_NUMERICHOST) ? CIO_ERR_EAI(EAI_NONAME) : 0;
        if ((is4 && !want4) || (is6 && !want6))
            return CIO_ERR_EAI(EAI_ADDRFAMILY);
    }
    if (port < 0)
        return 0; /* a service name: the services database answers, on the pool */
    bool v4_first = host != NULL || (hints->ai_flags & AI_PASSIVE);
    int n = 0;
    if (v4_first && is4 && want4)
        out[n++] = v4;
    if (is6 && want6)
        out[n++] = v6;
    if (!v4_first && is4 && want4)
        out[n++] = v4;
    for (int i = 0; i < n; i++)
        cio_addr_set_port(&out[i], (uint16_t)port);
    return n;
}

/* ---- lookups ---- */

/* getaddrinfo() with cio's error convention. Blocks: on a pool thread, or outside any
 * runtime. */
static int call_getaddrinfo(const char *host, const char *service, const struct addrinfo *hints,
                            struct addrinfo **ret_result)
{
    struct addrinfo *result = NULL;
    errno = 0;
    int eai = getaddrinfo(host, service, hints, &result);
    switch (eai) {
    case 0:
        *ret_result = result;
        return 0;
    case EAI_SYSTEM: {
        /* The cause is in errno; should a libc leave it unset, still report an error. */
        int err = errno;
        return err > 0 ? -err : -EIO;
    }
    case EAI_MEMORY:
        return -ENOMEM;
    default:
        return CIO_ERR_EAI(eai);
    }
}

/* A lookup on the blocking pool: the offload record, its inputs and its output. */
struct lookup {
    struct cio__offload op;
    struct addrinfo hints;
    bool has_host, has_service;
    char host[NI_MAXHOST];
    char service[NI_MAXSERV];
    struct addrinfo *result; /* run's output until the task takes it */
    int status;
};

static void lookup_run(struct cio__offload *op)
{
    struct lookup *lk = cio__container_of(op, struct lookup, op);
    lk->status = call_getaddrinfo(lk->has_host ? lk->host : NULL,
                                  lk->has_service ? lk->service : NULL, &lk->hints, &lk->result);
}

/* The last of the task and the pool to let go: a list nobody took is freed here. */
static void lookup_release(struct cio__offload *op)
{
    struct lookup *lk = cio__container_of(op, struct lookup, op);
    if (lk->result != NULL)
        freeaddrinfo(lk->result);
    free(lk);
}

/* getaddrinfo() where the caller may block: on the pool from a task (which waits), on this
 * thread outside any runtime. */
static int lookup(const char *host, const char *service, const struct addrinfo *hints,
                  struct addrinfo **ret_result)
{
    if (cio__task_self() == NULL)
        return cio_rt_current() == NULL ? call_getaddrinfo(host, service, hints, ret_result)
                                        : -EPERM;
    struct lookup *lk = calloc(1, sizeof(*lk));
    if (lk == NULL)
        return -ENOMEM;
    lk->hints = *hints;
    lk->has_host = host != NULL;
    lk->has_service = service != NULL;
    if (host != NULL)
        memcpy(lk->host, host, strlen(host) + 1); /* checked: shorter than NI_MAXHOST */
    if (service != NULL)
        memcpy(lk->service, service, strlen(service) + 1); /* and NI_MAXSERV */
    lk->op.run = lookup_run;
    lk->op.release = lookup_release;
    int rc = cio__offload_call(&lk->op);
    if (rc == 0) {
        rc = lk->status;
        if (rc == 0) {
            *ret_result = lk->result;
            lk->result = NULL;
        }
    }
    cio__offload_put(&lk->op);
    return rc;
}

/* ---- the answer ---- */

/* What a resolution found, before it is copied out: the numeric fast path's addresses, or
 * the resolver's list. */
struct answer {
    cio_addr numeric[2];
    struct addrinfo *list; /* NULL: the numeric addresses */
    size_t count;          /* numeric addresses, or entries in the list (at least as many as
                              distinct addresses) */
};

/* Check the arguments and find the answer: on the spot, or through a lookup. */
static int find_answer(const char *host, const char *service, const cio_resolve_options *opts,
                       struct answer *ans)
{
    struct addrinfo hints;
    int port;
    int rc = check_args(host, service, opts, &hints, &port);
    if (rc < 0)
        return rc;
    rc = numeric_addrs(host, port, &hints, ans->numeric);
    ans->list = NULL;
    ans->count = rc > 0 ? (size_t)rc : 0;
    if (rc != 0)
        return rc < 0 ? rc : 0;
    rc = lookup(host, service, &hints, &ans->list);
    if (rc < 0)
        return rc;
    for (const struct addrinfo *ai = ans->list; ai != NULL; ai = ai->ai_next)
        ans->count++;
    return 0;
}

/* Copy the answer's IPv4 and IPv6 addresses into @out (at most @cap), in order, without
 * duplicates, and free the list. Return: how many (0 when @out is NULL). */
static size_t take_answer(struct answer *ans, cio_addr *out, size_t cap)
{
    size_t n = 0;
    if (ans->list == NULL) {
        n = out != NULL ? cio__min(ans->count, cap) : 0;
        if (n > 0)
            memcpy(out, ans->numeric, n * sizeof(*out));
        return n;
    }
    for (const struct addrinfo *ai = ans->list; ai != NULL && n < cap && out != NULL;
         ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        cio_addr a;
        if (cio_addr_from_sockaddr(&a, ai->ai_addr, ai->ai_addrlen) < 0)
            continue;
        bool seen = false;
        for (size_t i = 0; i < n && !seen; i++)
            seen = cio_addr_equal(&out[i], &a);
        if (!seen)
            out[n++] = a;
    }
    freeaddrinfo(ans->list);
    ans->list = NULL;
    return n;
}

/* ---- the two entry points ---- */

int cio_resolve(const char *host, const char *service, const cio_resolve_options *opts,
                cio_addr *ret_addrs, size_t cap)
{
    if (ret_addrs == NULL || cap == 0)
        return -EINVAL;
    struct answer ans;
    int rc = find_answer(host, service, opts, &ans);
    if (rc < 0)
        return rc;
    size_t n = take_answer(&ans, ret_addrs, cio__min(cap, (size_t)INT_MAX));
    return n > 0 ? (int)n : CIO_ERR_EAI(EAI_NONAME);
}

int cio__resolve(const char *host, const char *service, const cio_resolve_options *opts,
                 cio_addr **ret_addrs, size_t *ret_count)
{
    struct answer ans;
    int rc = find_answer(host, service, opts, &ans);
    if (rc < 0)
        return rc;
    cio_addr *addrs = ans.count > 0 ? calloc(ans.count, sizeof(*addrs)) : NULL;
    size_t n = take_answer(&ans, addrs, ans.count);
    if (n == 0) {
        free(addrs);
        return ans.count > 0 && addrs == NULL ? -ENOMEM : CIO_ERR_EAI(EAI_NONAME);
    }
    *ret_addrs = addrs;
    *ret_count = n;
    return 0;
}
