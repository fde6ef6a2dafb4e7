/*
 * test_blocking_dns.c: getaddrinfo() as a blocking-pool job — "localhost" and numeric
 * addresses resolve to loopback, a name under .invalid (reserved never to resolve) gives an
 * error in cio's resolver range, a lookup queued at shutdown completes with -ECANCELED, and
 * bad input is refused.
 */
/* cio-test-labels: threads */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "harness.h"
#include "rt/blocking.h"
#include "util/compiler.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static int done_count;
static int last_status;

static void on_done(struct cio__blocking_job *job, int status)
{
    (void)job;
    pthread_mutex_lock(&lock);
    done_count++;
    last_status = status;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

/* Wait (bounded) until n completions have been seen. */
static bool wait_done(int n, int timeout_ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&lock);
    int rc = 0;
    while (done_count < n && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&changed, &lock, &deadline);
    bool ok = done_count >= n;
    pthread_mutex_unlock(&lock);
    return ok;
}

static void reset(void)
{
    pthread_mutex_lock(&lock);
    done_count = 0;
    last_status = 1;
    pthread_mutex_unlock(&lock);
}

/* True if the list holds 127.0.0.1 (with the port, if port >= 0). */
static bool has_ipv4_loopback(const struct addrinfo *list, int port)
{
    for (const struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET)
            continue;
        const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)ai->ai_addr;
        if (sin->sin_addr.s_addr == htonl(INADDR_LOOPBACK) &&
            (port < 0 || ntohs(sin->sin_port) == port))
            return true;
    }
    return false;
}

static void test_resolve_localhost(void)
{
    reset();
    struct cio__blocking_pool *pool;
    CHECK_RC(cio__blocking_pool_new(&pool, NULL));
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
    struct cio__blocking_resolve req;
    CHECK_RC(cio__blocking_resolve_init(&req, "localhost", "8080", &hints, on_done));
    CHECK_RC(cio__blocking_submit(pool, &req.job));
    if (!wait_done(1, 30000))
        TEST_SKIP("the system resolver did not answer for localhost within 30 s");
    CHECK_EQ(last_status, 0);
    CHECK_RC(req.status);
    CHECK(req.result != NULL);
    CHECK(has_ipv4_loopback(req.result, 8080));
    for (const struct addrinfo *ai = req.result; ai != NULL; ai = ai->ai_next) {
        CHECK_EQ(ai->ai_family, AF_INET); /* the hints were applied */
        CHECK_EQ(ai->ai_socktype, SOCK_STREAM);
    }
    freeaddrinfo(req.result);
    cio__blocking_pool_free(pool);
}

static void test_resolve_numeric(void)
{
    reset();
    struct cio__blocking_pool *pool;
    CHECK_RC(cio__blocking_pool_new(&pool, NULL));
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
                             .ai_socktype = SOCK_DGRAM};
    struct cio__blocking_resolve v4, v6;
    char host[] = "127.0.0.1";
    CHECK_RC(cio__blocking_resolve_init(&v4, host, "53", &hints, on_done));
    memset(host, 'x', sizeof(host) - 1); /* the request keeps its own copy */
    CHECK_RC(cio__blocking_resolve_init(&v6, "::1", NULL, NULL, on_done));
    CHECK_RC(cio__blocking_submit(pool, &v4.job));
    CHECK_RC(cio__blocking_submit(pool, &v6.job));
    CHECK(wait_done(2, 30000));
    CHECK_RC(v4.status);
    CHECK(has_ipv4_loopback(v4.result, 53));
    CHECK_EQ(v4.result->ai_socktype, SOCK_DGRAM);
    freeaddrinfo(v4.result);
    CHECK_RC(v6.status);
    CHECK_EQ(v6.result->ai_family, AF_INET6);
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)v6.result->ai_addr;
    CHECK(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
    freeaddrinfo(v6.result);
    cio__blocking_pool_free(pool);
}

static void test_resolve_invalid_name(void)
{
    reset();
    struct cio__blocking_pool *pool;
    CHECK_RC(cio__blocking_pool_new(&pool, NULL));
    struct cio__blocking_resolve req;
    CHECK_RC(cio__blocking_resolve_init(&req, "nonexistent.invalid", "80", NULL, on_done));
    CHECK_RC(cio__blocking_submit(pool, &req.job));
    /* With no network the resolver normally fails at once; if it keeps retrying an
     * unreachable server, do not wait for its whole timeout schedule. */
    if (!wait_done(1, 45000))
        TEST_SKIP("the system resolver did not answer for nonexistent.invalid within 45 s");
    CHECK(req.status < 0);
    CHECK(req.result == NULL);
    if (!CIO_ERR_IS_EAI(req.status))
        TEST_FAIL("expected a resolver error, got %d (%s)", req.status, cio_strerror(req.status));
    CHECK(strcmp(cio_strerror(req.status), "Unknown error") != 0);
    printf("    nonexistent.invalid: %d (%s)\n", req.status, cio_strerror(req.status));
    cio__blocking_pool_free(pool);
}

static void test_getaddrinfo_errors(void)
{
    struct addrinfo *result = (struct addrinfo *)&result; /* must stay untouched on error */
    struct addrinfo *const sentinel = result;
    struct addrinfo numeric = {.ai_flags = AI_NUMERICHOST};
    CHECK_ERR(cio__blocking_getaddrinfo("not..numeric", NULL, &numeric, &result),
              CIO_ERR_EAI(EAI_NONAME));
    CHECK(result == sentinel);
    struct addrinfo bad_family = {.ai_family = 12345};
    CHECK_ERR(cio__blocking_getaddrinfo("127.0.0.1", NULL, &bad_family, &result),
              CIO_ERR_EAI(EAI_FAMILY));
    CHECK_ERR(cio__blocking_getaddrinfo(NULL, NULL, NULL, &result), -EINVAL);
    CHECK_ERR(cio__blocking_getaddrinfo("127.0.0.1", NULL, NULL, NULL), -EINVAL);
    CHECK(result == sentinel);

    struct cio__blocking_resolve req;
    CHECK_ERR(cio__blocking_resolve_init(&req, NULL, NULL, NULL, on_done), -EINVAL);
    CHECK_ERR(cio__blocking_resolve_init(&req, "localhost", NULL, NULL, NULL), -EINVAL);
    CHECK_ERR(cio__blocking_resolve_init(NULL, "localhost", NULL, NULL, on_done), -EINVAL);
    static char long_host[NI_MAXHOST + 10];
    memset(long_host, 'a', sizeof(long_host) - 1);
    CHECK_ERR(cio__blocking_resolve_init(&req, long_host, NULL, NULL, on_done), -EINVAL);
    long_host[NI_MAXHOST - 1] = '\0'; /* the longest that fits */
    CHECK_RC(cio__blocking_resolve_init(&req, long_host, "1", NULL, on_done));
    static char long_service[NI_MAXSERV + 1];
    memset(long_service, '1', sizeof(long_service) - 1);
    CHECK_ERR(cio__blocking_resolve_init(&req, NULL, long_service, NULL, on_done), -EINVAL);
}

/* A job that holds the pool's only thread until released. */
static bool gate_open;

static void gate_fn(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    done_count += 100; /* "started" marker */
    pthread_cond_broadcast(&changed);
    while (!gate_open)
        pthread_cond_wait(&changed, &lock);
    pthread_mutex_unlock(&lock);
}

static void gate_done(struct cio__blocking_job *job, int status)
{
    (void)job;
    (void)status;
}

static void *open_gate_later(void *arg)
{
    (void)arg;
    struct timespec pause = {0, 100 * 1000000};
    nanosleep(&pause, NULL);
    pthread_mutex_lock(&lock);
    gate_open = true;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
    return NULL;
}

static void test_resolve_cancelled_at_shutdown(void)
{
    reset();
    gate_open = false;
    struct cio__blocking_pool *pool;
    struct cio__blocking_opts opts = {.max_threads = 1};
    CHECK_RC(cio__blocking_pool_new(&pool, &opts));
    struct cio__blocking_job gate = {.fn = gate_fn, .complete = gate_done};
    CHECK_RC(cio__blocking_submit(pool, &gate));
    CHECK(wait_done(100, 10000));
    struct cio__blocking_resolve req;
    CHECK_RC(cio__blocking_resolve_init(&req, "localhost", NULL, NULL, on_done));
    CHECK_RC(cio__blocking_submit(pool, &req.job)); /* queued behind the gate */
    pthread_t helper;
    CHECK_EQ(pthread_create(&helper, NULL, open_gate_later, NULL), 0);
    CHECK_RC(cio__blocking_pool_shutdown(pool));
    CHECK_EQ(pthread_join(helper, NULL), 0);
    CHECK(wait_done(101, 1000));
    CHECK_ERR(last_status, -ECANCELED);
    CHECK_ERR(req.status, -ECANCELED);
    CHECK(req.result == NULL);
    cio__blocking_pool_free(pool);
}

CIO_TEST_MAIN(TEST(test_resolve_localhost), TEST(test_resolve_numeric),
              TEST(test_resolve_invalid_name), TEST(test_getaddrinfo_errors),
              TEST(test_resolve_cancelled_at_shutdown))
