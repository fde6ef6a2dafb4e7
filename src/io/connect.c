/*
 * connect.c: TCP by host name for runtime tasks (tokio's TcpStream::connect and
 * TcpListener::bind taking "host:port") — splitting the text for the resolver (resolve.c),
 * the connect engine with Happy Eyeballs (RFC 8305 sections 4 and 5; cio/tcp.h says what is
 * not done) that every connect call ends in, binding the first address that binds, and
 * SO_REUSEPORT listeners for sharded accepts.
 *
 * The engine runs every attempt inside the calling task: each attempt is a non-blocking
 * connect whose write readiness arms a wake callback that wakes the caller, and the caller
 * parks until a wake, the next attempt's start time, an attempt's timeout or its own
 * deadline. With no helper task there is nothing to join when the caller is cancelled (a
 * cancelled task could not wait for helpers anyway: every wait of a cancelled task returns
 * at once), and closing the attempts' sockets is all the cleanup there is.
 */
#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cio/rt.h"
#include "cio/tcp.h"
#include "io/resolve.h"
#include "net/socket.h"
#include "rt/parker.h"
#include "rt/runtime.h"
#include "rt/sched.h"
#include "util/compiler.h"

/* ======================================================================================== */
/* Parsing "host:port"                                                                      */
/* ======================================================================================== */

/* "host:port" split in two; the resolver (resolve.c) checks each part. */
struct host_port {
    char host[NI_MAXHOST];
    char service[NI_MAXSERV];
    bool bracketed; /* the host was written [like this]: an IPv6 literal */
};

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
    size_t service_len = strlen(colon + 1);
    if (host_len == 0 || host_len >= sizeof(hp->host) || service_len == 0 ||
        service_len >= sizeof(hp->service))
        return -EINVAL;
    memcpy(hp->host, host, host_len);
    memcpy(hp->service, colon + 1, service_len);
    return 0;
}

/*
 * Resolve @hp to a list of distinct IPv4/IPv6 addresses (resolver order; a literal without a
 * lookup); *ret_addrs is malloc'd. Brackets hold an IPv6 literal, never a name to look up:
 * anything else in them is malformed text.
 */
static int resolve(const struct host_port *hp, bool passive, cio_addr **ret_addrs,
                   size_t *ret_count)
{
    cio_resolve_options opts = {.family = AF_UNSPEC, .socktype = SOCK_STREAM};
    if (passive)
        opts.flags |= CIO_RESOLVE_PASSIVE;
    if (hp->bracketed) {
        opts.family = AF_INET6;
        opts.flags |= CIO_RESOLVE_NUMERIC_HOST;
    }
    int rc = cio__resolve(hp->host, hp->service, &opts, ret_addrs, ret_count);
    if (hp->bracketed && (rc == CIO_ERR_EAI(EAI_NONAME) || rc == CIO_ERR_EAI(EAI_ADDRFAMILY)))
        return -EINVAL;
    return rc;
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
    /* Connecting needs a task: do not spend a lookup first. */
    if (cio__task_self() == NULL)
        return -EPERM;
    cio_addr *addrs;
    size_t count;
    int rc = resolve(hp, false, &addrs, &count);
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
    size_t len = strnlen(host, sizeof(hp.host));
    /* "[::1]" is accepted as well as "::1": strip the brackets. */
    if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
        host++;
        len -= 2;
        hp.bracketed = true;
    } else if (memchr(host, ':', len) != NULL) {
        hp.bracketed = true; /* a colon: an IPv6 literal */
    }
    if (len == 0 || len >= sizeof(hp.host))
        return -EINVAL;
    memcpy(hp.host, host, len);
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
    cio_addr *addrs;
    size_t count;
    rc = resolve(&hp, true, &addrs, &count);
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
