/*
 * test_resolve.c: the public resolver (cio/resolve.h). A numeric host takes the fast path (no
 * getaddrinfo call, no thread); "localhost" resolves through /etc/hosts on a pool thread;
 * resolver errors map to cio's codes; bad arguments are refused before any lookup; a lookup
 * the task stopped waiting for (cancelled, timed out, dropped at shutdown) frees its result;
 * duplicates are dropped and @cap is honoured.
 *
 * No lookup ever leaves the machine. This program defines getaddrinfo() and freeaddrinfo()
 * itself; the library, linked statically into it, calls these, which forward to the C
 * library's for real names — numeric hosts, the services database, "localhost" from
 * /etc/hosts — and answer names under .cio-test themselves: "slow.cio-test" waits at a gate
 * the test opens (then answers 127.0.0.1), "unknown.cio-test" and friends fail with a given
 * EAI_* code, "many.cio-test" answers a list with a duplicate. They also count every list
 * handed out and every list freed, so a leak shows in any build (and LeakSanitizer checks
 * under ASan).
 */
/* cio-test-labels: threads */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cio/resolve.h"
#include "cio/rt.h"
#include "cio/socket.h"
#include "cio/stream.h"
#include "cio/unix.h"
#include "harness.h"

#define MS CIO_NSEC_PER_MSEC

/* ==== the getaddrinfo the library sees ==== */

static atomic_int gai_calls;    /* every call */
static atomic_int gai_off_main; /* calls made on a thread other than the main one */
static atomic_int lists_out;    /* lists handed out */
static atomic_int lists_freed;  /* lists freed */

/* Holds "slow.cio-test" until the test opens it. */
static struct cio_test_gate gate = CIO_TEST_GATE_INIT;

typedef int getaddrinfo_fn(const char *, const char *, const struct addrinfo *, struct addrinfo **);
typedef void freeaddrinfo_fn(struct addrinfo *);

static int real_getaddrinfo(const char *host, const char *service, const struct addrinfo *hints,
                            struct addrinfo **res)
{
    static getaddrinfo_fn *real;
    if (real == NULL)
        real = (getaddrinfo_fn *)dlsym(RTLD_NEXT, "getaddrinfo");
    CHECK(real != NULL);
    return real(host, service, hints, res);
}

static void real_freeaddrinfo(struct addrinfo *ai)
{
    static freeaddrinfo_fn *real;
    if (real == NULL)
        real = (freeaddrinfo_fn *)dlsym(RTLD_NEXT, "freeaddrinfo");
    CHECK(real != NULL);
    real(ai);
}

/* A numeric address's list (from the C library, so its freeaddrinfo frees it). */
static struct addrinfo *numeric_list(const char *host, const char *service,
                                     const struct addrinfo *hints)
{
    struct addrinfo h = {.ai_flags = AI_NUMERICHOST,
                         .ai_socktype = hints != NULL ? hints->ai_socktype : 0};
    struct addrinfo *res = NULL;
    CHECK_EQ(real_getaddrinfo(host, service, &h, &res), 0);
    return res;
}

static int fake_answer(const char *host, const char *service, const struct addrinfo *hints,
                       struct addrinfo **res)
{
    if (strcmp(host, "slow.cio-test") == 0) {
        cio_test_gate_pass(&gate);
        *res = numeric_list("127.0.0.1", service, hints);
        return 0;
    }
    if (strcmp(host, "many.cio-test") == 0) {
        /* 127.0.0.1, 127.0.0.2, 127.0.0.1 again, ::1: glibc's freeaddrinfo frees a chain
         * element by element, so lists from several calls can be chained. */
        const char *hosts[] = {"127.0.0.1", "127.0.0.2", "127.0.0.1", "::1"};
        struct addrinfo *head = NULL, **tail = &head;
        for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
            *tail = numeric_list(hosts[i], service, hints);
            while (*tail != NULL)
                tail = &(*tail)->ai_next;
        }
        *res = head;
        return 0;
    }
    if (strcmp(host, "again.cio-test") == 0)
        return EAI_AGAIN;
    if (strcmp(host, "memory.cio-test") == 0)
        return EAI_MEMORY;
    if (strcmp(host, "system.cio-test") == 0) {
        errno = EMFILE;
        return EAI_SYSTEM;
    }
    return EAI_NONAME; /* unknown.cio-test and any other */
}

int getaddrinfo(const char *host, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    atomic_fetch_add(&gai_calls, 1);
    if (gettid() != getpid())
        atomic_fetch_add(&gai_off_main, 1);
    size_t len = host != NULL ? strlen(host) : 0;
    int rc;
    if (len > 9 && strcmp(host + len - 9, ".cio-test") == 0)
        rc = fake_answer(host, service, hints, res);
    else
        rc = real_getaddrinfo(host, service, hints, res);
    if (rc == 0)
        atomic_fetch_add(&lists_out, 1);
    return rc;
}

void freeaddrinfo(struct addrinfo *ai)
{
    if (ai != NULL)
        atomic_fetch_add(&lists_freed, 1);
    real_freeaddrinfo(ai);
}

static void counters_reset(void)
{
    atomic_store(&gai_calls, 0);
    atomic_store(&gai_off_main, 0);
    atomic_store(&lists_out, 0);
    atomic_store(&lists_freed, 0);
    cio_test_gate_reset(&gate);
}

/* ==== helpers ==== */

static void run_with(const cio_rt_options *opts, cio_task_fn fn, void *arg)
{
    cio_rt *rt;
    CHECK_RC(cio_rt_new(&rt, opts));
    void *result = (void *)1;
    CHECK_RC(cio_rt_block_on(rt, fn, arg, &result));
    CHECK(result == NULL);
    cio_test_gate_open(&gate); /* a lookup still at the gate finishes, so the pool can stop */
    cio_rt_free(rt);           /* joins the pool: every lookup has ended after this */
}

static void run(cio_task_fn fn, void *arg)
{
    run_with(NULL, fn, arg);
}

/* The blocking pool's threads in this process: those named "cio-blocking" (a sanitizer's
 * own threads do not count). */
static int pool_threads(void)
{
    DIR *dir = opendir("/proc/self/task");
    CHECK(dir != NULL);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[300], name[32] = "";
        snprintf(path, sizeof(path), "/proc/self/task/%s/comm", de->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue; /* it has just exited */
        if (fgets(name, sizeof(name), f) != NULL && strcmp(name, "cio-blocking\n") == 0)
            n++;
        fclose(f);
    }
    closedir(dir);
    return n;
}

/* An address's text form, for comparisons. */
static const char *text(const cio_addr *a)
{
    static char bufs[4][CIO_ADDR_STRLEN];
    static int next;
    char *buf = bufs[next++ % 4];
    CHECK(cio_addr_format(a, buf, CIO_ADDR_STRLEN) > 0);
    return buf;
}

/* cio_resolve into a fresh array; checks the count is @expect (>= 1) and returns the array. */
static const cio_addr *resolve_n(const char *host, const char *service,
                                 const cio_resolve_options *opts, int expect)
{
    static cio_addr addrs[8];
    memset(addrs, 0, sizeof(addrs));
    int n = cio_resolve(host, service, opts, addrs, 8);
    if (n != expect)
        TEST_FAIL("cio_resolve(%s, %s) gave %d (%s), expected %d", host ? host : "NULL",
                  service ? service : "NULL", n, n < 0 ? cio_strerror(n) : "addresses", expect);
    return addrs;
}

static bool localhost_has_v4(void)
{
    struct addrinfo hints = {.ai_family = AF_INET}, *res = NULL;
    if (real_getaddrinfo("localhost", NULL, &hints, &res) != 0)
        return false;
    real_freeaddrinfo(res);
    return true;
}

/* ==== the numeric fast path ==== */

static void *main_numeric(void *arg)
{
    (void)arg;
    const cio_addr *a = resolve_n("127.0.0.1", "80", NULL, 1);
    CHECK(strcmp(text(&a[0]), "127.0.0.1:80") == 0);
    a = resolve_n("::1", "443", NULL, 1);
    CHECK(strcmp(text(&a[0]), "[::1]:443") == 0);
    a = resolve_n("10.1.2.3", NULL, NULL, 1); /* no service: port 0 */
    CHECK(strcmp(text(&a[0]), "10.1.2.3:0") == 0);
    a = resolve_n("fe80::1%lo", "8080", NULL, 1);
    uint32_t scope = 0;
    CHECK_RC(cio_addr_scope_id(&a[0], &scope));
    CHECK_EQ(scope, if_nametoindex("lo"));
    /* No host: loopback (::1 first, as getaddrinfo orders it), or the wildcard to bind. */
    a = resolve_n(NULL, "8080", NULL, 2);
    CHECK(strcmp(text(&a[0]), "[::1]:8080") == 0);
    CHECK(strcmp(text(&a[1]), "127.0.0.1:8080") == 0);
    cio_resolve_options passive = {.flags = CIO_RESOLVE_PASSIVE};
    a = resolve_n(NULL, "0", &passive, 2);
    CHECK(strcmp(text(&a[0]), "0.0.0.0:0") == 0);
    CHECK(strcmp(text(&a[1]), "[::]:0") == 0);
    cio_resolve_options v6 = {.family = AF_INET6}, v4 = {.family = AF_INET};
    a = resolve_n(NULL, "1", &v6, 1);
    CHECK(strcmp(text(&a[0]), "[::1]:1") == 0);
    a = resolve_n(NULL, "1", &v4, 1);
    CHECK(strcmp(text(&a[0]), "127.0.0.1:1") == 0);
    cio_addr one;
    CHECK_EQ(cio_resolve(NULL, "9", NULL, &one, 1), 1); /* the first of two */
    CHECK(strcmp(text(&one), "[::1]:9") == 0);
    /* A literal of the other family, a name where a number is required, an unknown scope:
     * failures of the fast path itself. */
    CHECK_ERR(cio_resolve("127.0.0.1", "80", &v6, &one, 1), CIO_ERR_EAI(EAI_ADDRFAMILY));
    CHECK_ERR(cio_resolve("::1", "80", &v4, &one, 1), CIO_ERR_EAI(EAI_ADDRFAMILY));
    cio_resolve_options numeric = {.flags = CIO_RESOLVE_NUMERIC_HOST};
    CHECK_ERR(cio_resolve("localhost", "80", &numeric, &one, 1), CIO_ERR_EAI(EAI_NONAME));
    CHECK_ERR(cio_resolve("fe80::1%nosuch-cio", "80", NULL, &one, 1), -ENODEV);

    /* None of it called getaddrinfo, and no thread was started. */
    CHECK_EQ(atomic_load(&gai_calls), 0);
    CHECK_EQ(pool_threads(), 0);

    /* The counting works: a name does both. */
    if (localhost_has_v4()) {
        atomic_store(&gai_calls, 0);
        cio_resolve_options o = {.family = AF_INET};
        a = resolve_n("localhost", "80", &o, 1);
        CHECK_EQ(atomic_load(&gai_calls), 1);
        CHECK_EQ(pool_threads(), 1);
    }
    return NULL;
}

static void test_numeric_fast_path(void)
{
    counters_reset();
    run(main_numeric, NULL);
    CHECK_EQ(atomic_load(&lists_out), atomic_load(&lists_freed));
}

/* Outside any runtime the fast path works too, and a lookup runs on the calling thread. */
static void test_outside_runtime(void)
{
    counters_reset();
    cio_addr a[4];
    CHECK_EQ(cio_resolve("127.0.0.1", "7", NULL, a, 4), 1);
    CHECK_EQ(atomic_load(&gai_calls), 0);
    CHECK_EQ(cio_resolve("many.cio-test", "7", NULL, a, 4), 3);
    CHECK_EQ(atomic_load(&gai_calls), 1);
    CHECK_EQ(atomic_load(&gai_off_main), 0); /* here, on this thread */
    CHECK_EQ(pool_threads(), 0);
    CHECK_EQ(atomic_load(&lists_out), atomic_load(&lists_freed));
}

/* ==== names ==== */

static void *main_localhost(void *arg)
{
    (void)arg;
    cio_resolve_options o = {.family = AF_INET, .socktype = SOCK_STREAM};
    const cio_addr *a = resolve_n("localhost", "8080", &o, 1);
    CHECK(strcmp(text(&a[0]), "127.0.0.1:8080") == 0);
    CHECK_EQ(atomic_load(&gai_calls), 1);
    CHECK_EQ(atomic_load(&gai_off_main), 1); /* on a pool thread */
    /* Both families: whatever /etc/hosts says, 127.0.0.1 is among them, once. */
    cio_addr all[8];
    int n = cio_resolve("localhost", "http", NULL, all, 8);
    CHECK(n >= 1);
    int seen = 0;
    for (int i = 0; i < n; i++) {
        cio_addr_kind kind = cio_addr_get_kind(&all[i]);
        CHECK(kind == CIO_ADDR_IPV4 || kind == CIO_ADDR_IPV6);
        CHECK_EQ(cio_addr_port(&all[i]), 80); /* the services database */
        seen += strcmp(text(&all[i]), "127.0.0.1:80") == 0;
    }
    CHECK_EQ(seen, 1);
    return NULL;
}

static void test_name_from_etc_hosts(void)
{
    if (!localhost_has_v4())
        TEST_SKIP("\"localhost\" has no IPv4 address in this machine's /etc/hosts");
    counters_reset();
    run(main_localhost, NULL);
    CHECK_EQ(atomic_load(&lists_out), atomic_load(&lists_freed));
}

static void *main_errors(void *arg)
{
    (void)arg;
    cio_addr a[2] = {0};
    int rc = cio_resolve("unknown.cio-test", "80", NULL, a, 2);
    CHECK_ERR(rc, CIO_ERR_EAI(EAI_NONAME));
    CHECK(CIO_ERR_IS_EAI(rc));
    CHECK(strcmp(cio_strerror(rc), "Unknown error") != 0);
    CHECK_EQ(cio_addr_get_kind(&a[0]), CIO_ADDR_NONE); /* nothing written */
    CHECK_ERR(cio_resolve("again.cio-test", "80", NULL, a, 2), CIO_ERR_EAI(EAI_AGAIN));
    CHECK_ERR(cio_resolve("system.cio-test", "80", NULL, a, 2), -EMFILE);
    CHECK_ERR(cio_resolve("memory.cio-test", "80", NULL, a, 2), -ENOMEM);
    /* The C library's own failures, without DNS: a service nobody knows, or one that is not
     * offered for the socket type asked for. */
    CHECK_ERR(cio_resolve("127.0.0.1", "no-such-service-cio", NULL, a, 2),
              CIO_ERR_EAI(EAI_SERVICE));
    cio_resolve_options udp = {.socktype = SOCK_DGRAM};
    CHECK_ERR(cio_resolve("127.0.0.1", "http", &udp, a, 2), CIO_ERR_EAI(EAI_SERVICE));
    CHECK_EQ(cio_addr_get_kind(&a[0]), CIO_ADDR_NONE);
    /* A service name with a numeric host goes through the services database. */
    CHECK_EQ(cio_resolve("127.0.0.1", "domain", &udp, a, 2), 1);
    CHECK_EQ(cio_addr_port(&a[0]), 53);
    return NULL;
}

static void test_unknown_name_and_other_errors(void)
{
    counters_reset();
    run(main_errors, NULL);
    CHECK_EQ(atomic_load(&lists_out), atomic_load(&lists_freed));
}

static void *main_many(void *arg)
{
    (void)arg;
    const cio_addr *a = resolve_n("many.cio-test", "5", NULL, 3);
    CHECK(strcmp(text(&a[0]), "127.0.0.1:5") == 0);
    CHECK(strcmp(text(&a[1]), "127.0.0.2:5") == 0);
    CHECK(strcmp(text(&a[2]), "[::1]:5") == 0);
    cio_addr two[2];
    CHECK_EQ(cio_resolve("many.cio-test", "5", NULL, two, 2), 2);
    CHECK(strcmp(text(&two[1]), "127.0.0.2:5") == 0);
    return NULL;
}

static void test_duplicates_dropped_and_cap_kept(void)
{
    counters_reset();
    run(main_many, NULL);
    CHECK_EQ(atomic_load(&lists_out), 2);
    CHECK_EQ(atomic_load(&lists_freed), 2);
}

static void test_bad_arguments(void)
{
    counters_reset();
    cio_addr a;
    CHECK_ERR(cio_resolve(NULL, NULL, NULL, &a, 1), -EINVAL);
    CHECK_ERR(cio_resolve("127.0.0.1", "80", NULL, NULL, 1), -EINVAL);
    CHECK_ERR(cio_resolve("127.0.0.1", "80", NULL, &a, 0), -EINVAL);
    CHECK_ERR(cio_resolve("", "80", NULL, &a, 1), -EINVAL);
    CHECK_ERR(cio_resolve("127.0.0.1 junk", "80", NULL, &a, 1), -EINVAL);
    CHECK_ERR(cio_resolve("local\thost", "80", NULL, &a, 1), -EINVAL);
    static char long_host[NI_MAXHOST + 1];
    memset(long_host, 'a', NI_MAXHOST);
    CHECK_ERR(cio_resolve(long_host, "80", NULL, &a, 1), -EINVAL);
    CHECK_ERR(cio_resolve("127.0.0.1", "", NULL, &a, 1), -EINVAL);
    CHECK_ERR(cio_resolve("127.0.0.1", "65536", NULL, &a, 1), -EINVAL);
    CHECK_ERR(cio_resolve("127.0.0.1", "8o", NULL, &a, 1), -EINVAL);
    CHECK_ERR(cio_resolve("127.0.0.1", "-80", NULL, &a, 1), -EINVAL);
    CHECK_ERR(cio_resolve("127.0.0.1", "ht tp", NULL, &a, 1), -EINVAL);
    cio_resolve_options bad_family = {.family = AF_UNIX};
    CHECK_ERR(cio_resolve("127.0.0.1", "80", &bad_family, &a, 1), -EINVAL);
    cio_resolve_options bad_type = {.socktype = SOCK_RAW};
    CHECK_ERR(cio_resolve("127.0.0.1", "80", &bad_type, &a, 1), -EINVAL);
    cio_resolve_options bad_flags = {.flags = 1u << 7};
    CHECK_ERR(cio_resolve("127.0.0.1", "80", &bad_flags, &a, 1), -EINVAL);
    CHECK_EQ(atomic_load(&gai_calls), 0);
    /* The edges that are fine. */
    CHECK_EQ(cio_resolve("127.0.0.1", "65535", NULL, &a, 1), 1);
    CHECK_EQ(cio_addr_port(&a), 65535);
    CHECK_EQ(cio_resolve("127.0.0.1", "080", NULL, &a, 1), 1);
    CHECK_EQ(cio_addr_port(&a), 80);
    long_host[NI_MAXHOST - 1] = '\0'; /* the longest name getaddrinfo takes: looked up */
    cio_resolve_options numeric = {.flags = CIO_RESOLVE_NUMERIC_HOST};
    CHECK_ERR(cio_resolve(long_host, "80", &numeric, &a, 1), CIO_ERR_EAI(EAI_NONAME));
    CHECK_EQ(atomic_load(&gai_calls), 0);
}

/* ==== lookups the task stopped waiting for ==== */

struct pending {
    int rc;
    cio_addr addrs[2];
};

static void *slow_resolver(void *arg)
{
    struct pending *p = arg;
    p->rc = cio_resolve("slow.cio-test", "80", NULL, p->addrs, 2);
    return NULL;
}

/* Cancelled from another worker while getaddrinfo is stuck at the gate. */
static void *main_cancel(void *arg)
{
    (void)arg;
    struct pending p = {.rc = 1};
    cio_join_handle *t;
    cio_spawn_options o = {.worker = CIO_WORKER(1)};
    CHECK_RC(cio_spawn_ex(&t, &o, slow_resolver, &p));
    cio_test_gate_await(&gate, 1);
    cio_time start = cio_now();
    CHECK_RC(cio_task_cancel(t));
    cio_task_join(t, NULL, NULL);
    CHECK(cio_now() - start < 2000 * MS); /* it left without the lookup ending */
    CHECK_ERR(p.rc, -ECANCELED);
    CHECK_EQ(cio_addr_get_kind(&p.addrs[0]), CIO_ADDR_NONE); /* nothing written */
    CHECK_EQ(atomic_load(&lists_out), 0);

    /* The lookup ends now and frees its list on the pool. */
    cio_test_gate_open(&gate);
    for (int i = 0; i < 5000 && atomic_load(&lists_freed) < 1; i++)
        CHECK_RC(cio_sleep(MS));
    CHECK_EQ(atomic_load(&lists_out), 1);
    CHECK_EQ(atomic_load(&lists_freed), 1);
    return NULL;
}

static void test_cancelled_lookup_frees_its_result(void)
{
    counters_reset();
    cio_rt_options opts = {.flavor = CIO_RT_MULTI_THREAD, .workers = 2};
    run_with(&opts, main_cancel, NULL);
    CHECK_EQ(atomic_load(&lists_out), 1);
    CHECK_EQ(atomic_load(&lists_freed), 1);
    cio_test_check_leaks();
}

/* A per-call timeout ends the wait; the list is freed when the lookup ends, after the task
 * and the runtime are gone. */
static void *main_timeout(void *arg)
{
    (void)arg;
    cio_addr a[2] = {0};
    cio_time start = cio_now();
    CHECK_ERR(CIO_TIMEOUT(30 * MS, cio_resolve("slow.cio-test", "80", NULL, a, 2)), -ETIMEDOUT);
    CHECK(cio_now() - start >= 25 * MS);
    CHECK_EQ(cio_addr_get_kind(&a[0]), CIO_ADDR_NONE);
    cio_test_gate_await(&gate, 1);
    return NULL; /* the gate opens when block_on has returned */
}

static void test_timed_out_lookup_frees_its_result(void)
{
    counters_reset();
    run(main_timeout, NULL);
    CHECK_EQ(atomic_load(&lists_out), 1);
    CHECK_EQ(atomic_load(&lists_freed), 1);
    cio_test_check_leaks();
}

/* The pool's only thread is stuck in one lookup; a second waits in its queue. Freeing the
 * runtime cancels both tasks, drops the queued lookup (getaddrinfo never called for it) and
 * waits for the other, which a helper lets go 100 ms later. Should the helper be early, the
 * queued lookup runs instead: nothing may leak either way. (That a dropped job never runs is
 * tested exactly in rt/test_offload.c.) */
static void *main_shutdown(void *arg)
{
    struct pending *p = arg;
    cio_join_handle *t1, *t2;
    CHECK_RC(cio_spawn(&t1, slow_resolver, &p[0]));
    cio_test_gate_await(&gate, 1);
    CHECK_RC(cio_spawn(&t2, slow_resolver, &p[1]));
    CHECK_RC(cio_sleep(10 * MS));
    cio_task_detach(t1);
    cio_task_detach(t2);
    return NULL;
}

static void *open_gate_later(void *arg)
{
    (void)arg;
    struct timespec pause = {0, 100 * 1000 * 1000};
    nanosleep(&pause, NULL);
    cio_test_gate_open(&gate);
    return NULL;
}

static void test_lookups_at_shutdown(void)
{
    counters_reset();
    struct pending p[2] = {{.rc = 1}, {.rc = 1}};
    cio_rt *rt;
    cio_rt_options opts = {.blocking_threads = 1};
    CHECK_RC(cio_rt_new(&rt, &opts));
    CHECK_RC(cio_rt_block_on(rt, main_shutdown, p, NULL));
    pthread_t helper;
    CHECK_EQ(pthread_create(&helper, NULL, open_gate_later, NULL), 0);
    cio_rt_free(rt);
    CHECK_EQ(pthread_join(helper, NULL), 0);
    CHECK_ERR(p[0].rc, -ECANCELED);
    CHECK_ERR(p[1].rc, -ECANCELED);
    int calls = atomic_load(&gai_calls);
    CHECK(calls == 1 || calls == 2);
    if (calls == 2)
        printf("    the queued lookup ran: the helper opened the gate before the drop\n");
    CHECK_EQ(atomic_load(&lists_out), calls);
    CHECK_EQ(atomic_load(&lists_freed), calls);
    cio_test_check_leaks();
}

/* ==== where it may be called ==== */

/* A wake callback runs on a worker's thread outside any task: a lookup could not suspend
 * there, so it is refused (the fast path still answers). */
struct on_worker {
    int lookup_rc, numeric_rc;
    atomic_bool called;
};

static void resolve_in_callback(void *ctx)
{
    struct on_worker *w = ctx;
    cio_addr a;
    w->lookup_rc = cio_resolve("many.cio-test", "1", NULL, &a, 1);
    w->numeric_rc = cio_resolve("127.0.0.1", "1", NULL, &a, 1);
    atomic_store(&w->called, true);
}

static void *blocking_resolve(void *arg)
{
    cio_addr a[4];
    (void)arg;
    return (void *)(intptr_t)cio_resolve("many.cio-test", "1", NULL, a, 4);
}

static void *main_where(void *arg)
{
    (void)arg;
    cio_unix_stream *x, *y;
    CHECK_RC(cio_unix_stream_pair(&x, &y));
    struct on_worker w = {.lookup_rc = 1, .numeric_rc = 1};
    CHECK_ERR(cio_socket_poll_ready(x, CIO_READABLE, resolve_in_callback, &w), -EAGAIN);
    CHECK_EQ(cio_stream_write(y, "!", 1), 1);
    for (int i = 0; i < 5000 && !atomic_load(&w.called); i++)
        CHECK_RC(cio_sleep(MS));
    CHECK(atomic_load(&w.called));
    CHECK_ERR(w.lookup_rc, -EPERM);
    CHECK_EQ(w.numeric_rc, 1);
    /* On a blocking-pool thread (no runtime there) the lookup runs inline. */
    void *r = NULL;
    CHECK_RC(cio_spawn_blocking(blocking_resolve, NULL, &r));
    CHECK_EQ((intptr_t)r, 3);
    cio_socket_close(x);
    cio_socket_close(y);
    return NULL;
}

static void test_where_it_may_be_called(void)
{
    counters_reset();
    run(main_where, NULL);
    CHECK_EQ(atomic_load(&lists_out), atomic_load(&lists_freed));
}

CIO_TEST_MAIN(TEST(test_numeric_fast_path), TEST(test_outside_runtime),
              TEST(test_name_from_etc_hosts), TEST(test_unknown_name_and_other_errors),
              TEST(test_duplicates_dropped_and_cap_kept), TEST(test_bad_arguments),
              TEST(test_cancelled_lookup_frees_its_result),
              TEST(test_timed_out_lookup_frees_its_result), TEST(test_lookups_at_shutdown),
              TEST(test_where_it_may_be_called))
