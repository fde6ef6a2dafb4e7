/*
 * connect.c: TCP by host name for runtime tasks (tokio's TcpStream::connect and
 * TcpListener::bind taking "host:port") — parsing the text, resolving names on the blocking
 * pool, the connect engine with Happy Eyeballs (RFC 8305 sections 4 and 5; cio/tcp.h says
 * what is not done) that every connect call ends in, binding the first address that binds,
 * and SO_REUSEPORT listeners for sharded accepts.
 *
 * The engine runs every attempt inside the calling task: each attempt is a non-blocking
 * connect whose write readiness arms a wake callback that wakes the caller, and the caller
 * parks until a wake, the next attempt's start time, an attempt's timeout or its own
 * deadline. With no helper task there is nothing to join when the caller is cancelled (a
 * cancelled task could not wait for helpers anyway: every wait of a cancelled task returns
 * at once), and closing the attempts' sockets is all the cleanup there is.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cio/rt.h"
#include "cio/tcp.h"
#include "net/socket.h"
#include "rt/blocking.h"
#include "rt/parker.h"
#include "rt/runtime.h"
#include "util/compiler.h"

/* ======================================================================================== */
/* Parsing "host:port"                                                                      */
/* ======================================================================================== */

struct host_port {
    char host[NI_MAXHOST];
    char service[NI_MAXSERV];
    bool bracketed; /* the host was written [like this]: an IPv6 literal */
    int port;       /* the numeric port, or -1 when the service is a name */
};

/* Bytes a host may not hold: getaddrinfo's numeric parser (inet_aton) accepts "1.2.3.4 junk",
 * so anything after a space would be silently ignored. */
static bool host_text_ok(const char *s, size_t len)
{
    if (len == 0 || len >= NI_MAXHOST)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

/* A decimal port (0-65535) or a service name; fills hp->service and hp->port. */
static int parse_service(struct host_port *hp, const char *s, size_t len)
{
    if (len == 0 || len >= sizeof(hp->service))
        return -EINVAL;
    bool digits = true;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            digits = false;
    if (digits) {
        long port = 0;
        for (size_t i = 0; i < len; i++) {
            port = port * 10 + (s[i] - '0');
            if (port > 65535)
                return -EINVAL;
        }
        hp->port = (int)port;
    } else {
        /* A service name: a letter, then letters, digits and -_+. (IANA names, plus what
         * /etc/services uses). Anything else is malformed, not a lookup to fail later. */
        if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
            return -EINVAL;
        for (size_t i = 1; i < len; i++) {
            char c = s[i];
            bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '+' || c == '.';
            if (!ok)
                return -EINVAL;
        }
        hp->port = -1;
    }
    memcpy(hp->service, s, len);
    hp->service[len] = '\0';
    return 0;
}

static int parse_host_port(struct host_port *hp, const char *text)
{
    if (text == NULL)
        return -EINVAL;
    memset(hp, 0, sizeof(*hp));
    const char *host, *colon;
    size_t host_len;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL || close[1] != ':')
            return -EINVAL;
        host = text + 1;
        host_len = (size_t)(close - host);
        colon = close + 1;
        hp->bracketed = true;
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL)
            return -EINVAL;
        host = text;
        host_len = (size_t)(colon - text);
        /* Another colon: an IPv6 literal without brackets, where "::1:80" is ambiguous (it is
         * an address by itself). Require brackets rather than guess. */
        if (memchr(host, ':', host_len) != NULL)
            return -EINVAL;
    }
    if (!host_text_ok(host, host_len))
        return -EINVAL;
    memcpy(hp->host, host, host_len);
    hp->host[host_len] = '\0';
    return parse_service(hp, colon + 1, strlen(colon + 1));
}

/*
 * The numeric fast path: a literal address with a numeric port becomes a cio_addr without
 * the resolver. Return: 1 (*ret_addr set); 0 (not a literal: resolve it); or an error for a
 * bracketed host that is not a valid IPv6 literal.
 */
static int parse_literal(const struct host_port *hp, cio_addr *ret_addr)
{
    if (hp->port < 0)
        return 0;
    if (!hp->bracketed) {
        struct in_addr v4;
        if (inet_pton(AF_INET, hp->host, &v4) != 1)
            return 0;
    }
    char text[NI_MAXHOST + 16];
    if (hp->bracketed)
        snprintf(text, sizeof(text), "[%s]:%d", hp->host, hp->port);
    else
        snprintf(text, sizeof(text), "%s:%d", hp->host, hp->port);
    cio_addr addr;
    int rc = cio_addr_parse(&addr, text);
    if (rc < 0)
        return rc == -ENODEV ? rc : -EINVAL;
    cio_addr_kind kind = cio_addr_get_kind(&addr);
    if (kind != CIO_ADDR_IPV4 && kind != CIO_ADDR_IPV6)
        return -EINVAL;
    *ret_addr = addr;
    return 1;
}

/* ======================================================================================== */
/* Resolving                                                                                */
/* ======================================================================================== */

/*
 * A lookup on the blocking pool. Shared by the waiting task and the pool job; the last of
 * the two to let go frees it (and the result if nobody took it), so a task that stops
 * waiting — cancelled, past its deadline — leaves while getaddrinfo() runs on. The pool calls
 * the completion exactly once for an accepted job, also when shutdown drops it unstarted.
 */
struct lookup {
    struct cio__blocking_resolve req; /* first: the job's address is the lookup's */
    pthread_mutex_t lock;
    struct cio__parker *waiter; /* the parked task, NULL once it stopped waiting */
    bool done;
    atomic_int refs;
};

static void lookup_unref(struct lookup *lk)
{
    if (atomic_fetch_sub(&lk->refs, 1) != 1)
        return;
    if (lk->req.result != NULL)
        freeaddrinfo(lk->req.result);
    pthread_mutex_destroy(&lk->lock);
    free(lk);
}

static void lookup_complete(struct cio__blocking_job *job, int status)
{
    (void)status; /* req.status says it all, -ECANCELED included */
    struct lookup *lk = cio__container_of(job, struct lookup, req);
    pthread_mutex_lock(&lk->lock);
    lk->done = true;
    if (lk->waiter != NULL)
        cio__parker_unpark(lk->waiter);
    pthread_mutex_unlock(&lk->lock);
    lookup_unref(lk);
}

/* getaddrinfo() on the runtime's blocking pool; the calling task waits. */
static int lookup_on_pool(const char *host, const char *service, const struct addrinfo *hints,
                          struct addrinfo **ret_result)
{
    cio_rt *rt = cio_rt_current();
    if (rt == NULL || cio__task_self() == NULL)
        return -EPERM;
    int rc = cio__task_cancel_point();
    if (rc < 0)
        return rc;
    struct cio__blocking_pool *pool;
    rc = cio__rt_blocking_pool(rt, &pool);
    if (rc < 0)
        return rc;
    struct lookup *lk = calloc(1, sizeof(*lk));
    if (lk == NULL)
        return -ENOMEM;
    rc = cio__blocking_resolve_init(&lk->req, host, service, hints, lookup_complete);
    if (rc < 0) {
        free(lk);
        return rc;
    }
    pthread_mutex_init(&lk->lock, NULL);
    atomic_init(&lk->refs, 2);
    rc = cio__blocking_submit(pool, &lk->req.job);
    if (rc < 0) {
        pthread_mutex_destroy(&lk->lock);
        free(lk);
        return rc;
    }
    struct cio__parker parker;
    cio__parker_init(&parker);
    pthread_mutex_lock(&lk->lock);
    while (!lk->done) {
        lk->waiter = &parker;
        pthread_mutex_unlock(&lk->lock);
        rc = cio__parker_park(&parker, CIO_DEADLINE_NONE); /* the task's deadline applies */
        pthread_mutex_lock(&lk->lock);
        lk->waiter = NULL;
        if (rc < 0 && !lk->done)
            break; /* cancelled or past the deadline: the lookup finishes without us */
        rc = 0;
    }
    if (lk->done) {
        rc = lk->req.status;
        if (rc == 0) {
            *ret_result = lk->req.result;
            lk->req.result = NULL;
        }
    }
    pthread_mutex_unlock(&lk->lock);
    cio__parker_fini(&parker);
    lookup_unref(lk);
    return rc;
}

/*
 * Resolve @hp to a list of distinct IPv4/IPv6 addresses (resolver order). From a task the
 * lookup runs on the blocking pool; from a thread outside any runtime (@inline_ok) it runs
 * here and blocks the thread. *ret_addrs is malloc'd.
 */
static int resolve(const struct host_port *hp, bool passive, bool inline_ok, cio_addr **ret_addrs,
                   size_t *ret_count)
{
    /* No AI_ADDRCONFIG: see cio/tcp.h (glibc does not count loopback, so "localhost" would
     * lose ::1 on hosts whose only IPv6 address is ::1). */
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_protocol = IPPROTO_TCP};
    if (hp->port >= 0)
        hints.ai_flags |= AI_NUMERICSERV;
    if (hp->bracketed)
        hints.ai_flags |= AI_NUMERICHOST; /* brackets hold a literal, never a name to look up */
    if (passive)
        hints.ai_flags |= AI_PASSIVE;
    struct addrinfo *res = NULL;
    int rc;
    if (cio__task_self() != NULL)
        rc = lookup_on_pool(hp->host, hp->service, &hints, &res);
    else if (inline_ok && cio_rt_current() == NULL)
        rc = cio__blocking_getaddrinfo(hp->host, hp->service, &hints, &res);
    else
        rc = -EPERM;
    if (rc < 0)
        return rc;
    size_t cap = 0;
    for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next)
        cap++;
    cio_addr *addrs = cap ? calloc(cap, sizeof(*addrs)) : NULL;
    if (cap > 0 && addrs == NULL) {
        freeaddrinfo(res);
        return -ENOMEM;
    }
    size_t n = 0;
    for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        cio_addr a;
        if (cio_addr_from_sockaddr(&a, ai->ai_addr, ai->ai_addrlen) < 0)
            continue;
        bool seen = false;
        for (size_t i = 0; i < n && !seen; i++)
            seen = cio_addr_equal(&addrs[i], &a);
        if (!seen)
            addrs[n++] = a;
    }
    freeaddrinfo(res);
    if (n == 0) {
        free(addrs);
        return CIO_ERR_EAI(EAI_NONAME);
    }
    *ret_addrs = addrs;
    *ret_count = n;
    return 0;
}

/* ======================================================================================== */
/* The connect engine                                                                       */
/* ======================================================================================== */

/* The rank of an attempt's error: higher is more useful to the caller (see cio/tcp.h). */
static int error_rank(int err)
{
    switch (-err) {
    case ECONNREFUSED:
        return 5; /* a host answered */
    case ETIMEDOUT:
        return 4; /* a real attempt, no answer */
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case ENOBUFS:
        return 2;
    case ENETUNREACH:
    case ENETDOWN:
    case EADDRNOTAVAIL:
    case EAFNOSUPPORT:
    case EPROTONOSUPPORT:
    case EINVAL:
        return 1; /* this host cannot use the address at all */
    default:
        return 3; /* another answer from the network */
    }
}

/* Keep the more useful of two errors; on a tie the later one (@err) wins, as in tokio. */
static int better_error(int best, int err)
{
    if (best == 0 || error_rank(err) >= error_rank(best))
        return err;
    return best;
}

struct attempt {
    cio_tcp_stream *stream; /* non-NULL while the attempt is pending */
    cio_time started;
};

/* The wake callback of a pending attempt: wake the connecting task (on its own worker's
 * reactor thread, or synchronously from the close of an attempt with an armed callback). */
static void wake_connector(void *ctx)
{
    cio__task_wake(ctx);
}

/*
 * Where a pending attempt stands. Return: 0 connected; -EAGAIN still handshaking, with the
 * wake callback armed (*armed) or not (a run of stale readiness: look again soon); or the
 * attempt's error.
 */
static int attempt_poll(cio_tcp_stream *stream, cio_task *self, bool *armed)
{
    /* Stale readiness is possible (the cache may hold an old edge); each round clears what
     * it saw, so a second stale round is unlikely and a fourth is not worth spinning on. */
    for (int round = 0; round < 4; round++) {
        int ready = cio_socket_poll_ready(CIO__HANDLE(stream), CIO_WRITABLE, wake_connector, self);
        if (ready == -EAGAIN) {
            *armed = true;
            return -EAGAIN;
        }
        if (ready < 0)
            return ready;
        int rc = cio_tcp_stream_try_finish_connect(stream);
        if (rc != -EAGAIN)
            return rc;
        cio_socket_clear_ready(CIO__HANDLE(stream), ready);
    }
    *armed = false;
    return -EAGAIN;
}

/*
 * The attempt order: with happy eyeballs over both families, interleave them starting with
 * the first address's family (RFC 8305 section 4, First Address Family Count 1), keeping the
 * order within each family; otherwise the given order.
 */
static void attempt_order(const cio_addr *addrs, size_t count, bool interleave, size_t *order)
{
    if (!interleave) {
        for (size_t i = 0; i < count; i++)
            order[i] = i;
        return;
    }
    sa_family_t first = addrs[0].storage.ss_family;
    size_t a = 0, b = 0, n = 0; /* next candidate of the first family, of the other */
    bool want_first = true;
    while (n < count) {
        while (a < count && addrs[a].storage.ss_family != first)
            a++;
        while (b < count && addrs[b].storage.ss_family == first)
            b++;
        if ((want_first && a < count) || b >= count)
            order[n++] = a++;
        else
            order[n++] = b++;
        want_first = !want_first;
    }
}

static int check_options(const cio_tcp_connect_options *opts)
{
    if (opts != NULL && (opts->attempt_delay < 0 || opts->attempt_timeout < 0))
        return -EINVAL;
    return 0;
}

int cio_tcp_stream_connect_addrs(cio_tcp_stream **ret_stream, const cio_addr *addrs, size_t count,
                                 const cio_tcp_connect_options *opts)
{
    if (ret_stream == NULL || addrs == NULL || count == 0)
        return -EINVAL;
    int rc = check_options(opts);
    if (rc < 0)
        return rc;
    bool have_v4 = false, have_v6 = false;
    for (size_t i = 0; i < count; i++) {
        cio_addr_kind kind = cio_addr_get_kind(&addrs[i]);
        if (kind == CIO_ADDR_IPV4)
            have_v4 = true;
        else if (kind == CIO_ADDR_IPV6)
            have_v6 = true;
        else
            return -EAFNOSUPPORT;
    }
    cio_task *self = cio__task_self();
    if (self == NULL)
        return -EPERM;
    if ((rc = cio__task_cancel_point()) < 0)
        return rc;
    if (cio_now() >= cio__task_deadline())
        return -ETIMEDOUT;

    cio_duration delay = CIO_TCP_CONNECT_ATTEMPT_DELAY_DEFAULT;
    cio_duration attempt_timeout = 0;
    bool parallel = have_v4 && have_v6;
    if (opts != NULL) {
        if (opts->attempt_delay > 0)
            delay = cio__max(opts->attempt_delay, CIO_NSEC_PER_MSEC);
        attempt_timeout = opts->attempt_timeout;
        if (opts->no_happy_eyeballs)
            parallel = false;
    }

    struct attempt *attempts = calloc(count, sizeof(*attempts));
    size_t *order = calloc(count, sizeof(*order));
    if (attempts == NULL || order == NULL) {
        free(attempts);
        free(order);
        return -ENOMEM;
    }
    attempt_order(addrs, count, parallel, order);

    size_t next = 0;    /* position in order[] of the next attempt to start */
    size_t pending = 0; /* attempts handshaking now */
    cio_time next_start = cio_now();
    int best = 0; /* the most useful error so far */
    cio_tcp_stream *winner = NULL;
    for (;;) {
        cio_time now = cio_now();
        /* Start what is due: the first attempt; the next one once none is pending; with
         * happy eyeballs also when the delay since the last start has passed (a failure
         * brings next_start forward to now). */
        while (next < count && (pending == 0 || (parallel && now >= next_start))) {
            size_t i = order[next++];
            rc = cio_tcp_stream_try_connect(&attempts[i].stream, &addrs[i]);
            if (rc < 0) {
                attempts[i].stream = NULL;
                best = better_error(best, rc);
                next_start = now; /* failed at once: the next starts at once too */
                continue;
            }
            attempts[i].started = now;
            pending++;
            next_start = now + delay;
        }
        if (pending == 0) {
            rc = best; /* every address tried, every attempt failed */
            break;
        }

        /* Look at each pending attempt, and work out when to look again. */
        cio_time wake_at = CIO_DEADLINE_NONE;
        for (size_t i = 0; i < count && winner == NULL; i++) {
            if (attempts[i].stream == NULL)
                continue;
            bool armed = true;
            int ar = attempt_poll(attempts[i].stream, self, &armed);
            if (ar == -EAGAIN && attempt_timeout > 0 &&
                now - attempts[i].started >= attempt_timeout)
                ar = -ETIMEDOUT;
            if (ar == 0) {
                winner = attempts[i].stream;
                attempts[i].stream = NULL;
                pending--;
            } else if (ar == -EAGAIN) {
                if (attempt_timeout > 0)
                    wake_at = cio__min(wake_at, attempts[i].started + attempt_timeout);
                if (!armed)
                    wake_at = cio__min(wake_at, now + CIO_NSEC_PER_MSEC);
            } else {
                cio_socket_close(CIO__HANDLE(attempts[i].stream));
                attempts[i].stream = NULL;
                pending--;
                best = better_error(best, ar);
                next_start = now; /* a failure starts the next attempt now */
            }
        }
        if (winner != NULL) {
            rc = 0;
            break;
        }
        if (pending == 0 || (parallel && next < count && now >= next_start))
            continue; /* start the next attempt(s) now, or finish */
        if (parallel && next < count)
            wake_at = cio__min(wake_at, next_start);

        int pr = cio__task_park(wake_at); /* also ends at the task's own deadline */
        if (pr == -ECANCELED) {
            rc = -ECANCELED;
            break;
        }
        if (pr == -ETIMEDOUT && cio_now() >= cio__task_deadline()) {
            rc = -ETIMEDOUT;
            break;
        }
        /* Woken by an attempt (or spuriously), or one of our own times came: look again. */
    }

    /* Nothing is left half-open: the losers and, on failure, every attempt are closed. */
    for (size_t i = 0; i < count; i++)
        cio_socket_close(CIO__HANDLE(attempts[i].stream));
    free(attempts);
    free(order);
    if (rc < 0)
        return rc;
    *ret_stream = winner;
    return 0;
}

/* ======================================================================================== */
/* Connect by name                                                                          */
/* ======================================================================================== */

static int connect_parsed(cio_tcp_stream **ret_stream, const struct host_port *hp,
                          const cio_tcp_connect_options *opts)
{
    cio_addr one;
    int rc = parse_literal(hp, &one);
    if (rc < 0)
        return rc;
    if (rc == 1)
        return cio_tcp_stream_connect_addrs(ret_stream, &one, 1, opts);
    /* Check what would fail later before spending a lookup on it. */
    if (cio__task_self() == NULL)
        return -EPERM;
    if ((rc = cio__task_cancel_point()) < 0)
        return rc;
    if (cio_now() >= cio__task_deadline())
        return -ETIMEDOUT;
    cio_addr *addrs;
    size_t count;
    rc = resolve(hp, false, false, &addrs, &count);
    if (rc < 0)
        return rc;
    rc = cio_tcp_stream_connect_addrs(ret_stream, addrs, count, opts);
    free(addrs);
    return rc;
}

int cio_tcp_stream_connect_ex(cio_tcp_stream **ret_stream, const char *host_port,
                              const cio_tcp_connect_options *opts)
{
    if (ret_stream == NULL)
        return -EINVAL;
    int rc = check_options(opts);
    if (rc < 0)
        return rc;
    struct host_port hp;
    rc = parse_host_port(&hp, host_port);
    if (rc < 0)
        return rc;
    return connect_parsed(ret_stream, &hp, opts);
}

int cio_tcp_stream_connect(cio_tcp_stream **ret_stream, const char *host_port)
{
    return cio_tcp_stream_connect_ex(ret_stream, host_port, NULL);
}

int cio_tcp_stream_connect_host(cio_tcp_stream **ret_stream, const char *host, uint16_t port)
{
    if (ret_stream == NULL || host == NULL)
        return -EINVAL;
    struct host_port hp;
    memset(&hp, 0, sizeof(hp));
    size_t len = strlen(host);
    /* "[::1]" is accepted as well as "::1": strip the brackets. */
    if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
        host++;
        len -= 2;
        hp.bracketed = true;
    } else if (memchr(host, ':', len) != NULL) {
        hp.bracketed = true; /* a colon: an IPv6 literal */
    }
    if (!host_text_ok(host, len))
        return -EINVAL;
    memcpy(hp.host, host, len);
    hp.host[len] = '\0';
    hp.port = port;
    snprintf(hp.service, sizeof(hp.service), "%u", (unsigned)port);
    return connect_parsed(ret_stream, &hp, NULL);
}

/* ======================================================================================== */
/* Binding                                                                                  */
/* ======================================================================================== */

int cio_tcp_listener_new_name(cio_tcp_listener **ret_listener, const char *host_port, int backlog)
{
    if (ret_listener == NULL)
        return -EINVAL;
    struct host_port hp;
    int rc = parse_host_port(&hp, host_port);
    if (rc < 0)
        return rc;
    cio_addr one;
    rc = parse_literal(&hp, &one);
    if (rc < 0)
        return rc;
    if (rc == 1)
        return cio_tcp_listener_new(ret_listener, &one, backlog);
    cio_addr *addrs;
    size_t count;
    rc = resolve(&hp, true, true, &addrs, &count);
    if (rc < 0)
        return rc;
    /* tokio's rule: the first address that binds; the last error when none does. */
    for (size_t i = 0; i < count; i++) {
        rc = cio_tcp_listener_new(ret_listener, &addrs[i], backlog);
        if (rc == 0)
            break;
    }
    free(addrs);
    return rc;
}

int cio_tcp_listener_new_reuseport(cio_tcp_listener **ret_listener, const cio_addr *addr,
                                   int backlog)
{
    if (ret_listener == NULL || addr == NULL)
        return -EINVAL;
    cio_tcp_socket *sock;
    int rc;
    switch (cio_addr_get_kind(addr)) {
    case CIO_ADDR_IPV4:
        rc = cio_tcp_socket_new_v4(&sock);
        break;
    case CIO_ADDR_IPV6:
        rc = cio_tcp_socket_new_v6(&sock);
        break;
    default:
        return -EAFNOSUPPORT;
    }
    if (rc < 0)
        return rc;
    /* SO_REUSEADDR too, as cio_tcp_listener_new() does: a restarted server binds while its
     * old connections sit in TIME_WAIT. Both must be set before bind. */
    if ((rc = cio_socket_set_reuseaddr(CIO__HANDLE(sock), true)) < 0 ||
        (rc = cio_socket_set_reuseport(CIO__HANDLE(sock), true)) < 0 ||
        (rc = cio_socket_bind(CIO__HANDLE(sock), addr)) < 0 ||
        (rc = cio_tcp_socket_listen(sock, backlog, ret_listener)) < 0) {
        cio_socket_close(CIO__HANDLE(sock));
        return rc;
    }
    return 0;
}

int cio_tcp_listener_new_reuseport_n(cio_tcp_listener **ret_listeners, size_t count,
                                     const cio_addr *addr, int backlog)
{
    if (ret_listeners == NULL || addr == NULL || count == 0)
        return -EINVAL;
    cio_tcp_listener **made = calloc(count, sizeof(*made));
    if (made == NULL)
        return -ENOMEM;
    /* The first gets @addr (port 0: the kernel's choice); the others the first one's actual
     * address, since a second port-0 bind would get a port of its own. */
    cio_addr shared = *addr;
    int rc = 0;
    for (size_t n = 0; n < count && rc == 0; n++) {
        rc = cio_tcp_listener_new_reuseport(&made[n], &shared, backlog);
        if (rc == 0 && n == 0)
            rc = cio__socket_local_addr(CIO__SOCK(made[0]), &shared);
    }
    if (rc < 0) {
        for (size_t i = 0; i < count; i++)
            cio_socket_close(CIO__HANDLE(made[i])); /* NULL for those never made */
        free(made);
        return rc;
    }
    memcpy(ret_listeners, made, count * sizeof(*made));
    free(made);
    return 0;
}
