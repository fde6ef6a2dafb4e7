/* churn_client: the connection-churn load of cio's side-by-side benchmark. Every connection
 * does one exchange and goes away: connect, write one echo message, read it back, close. A
 * fixed number of connections are in flight at once, all driven by one thread on one epoll
 * loop, so a single CPU is enough to keep a single-threaded server busy (a Python client is
 * not: it spends more per connection than the servers do). It is plain C on the socket API, so
 * it is the same load for every server measured, cio included.
 *
 * The client closes first, so its side keeps the TIME_WAIT state. To keep the loopback port
 * space from running dry at tens of thousands of connections a second, connections are bound
 * to several source addresses of 127.0.0.0/8 in turn (IP_BIND_ADDRESS_NO_PORT lets connect()
 * pick the port); Linux's default tcp_tw_reuse=2 reuses loopback TIME_WAIT ports as well.
 *
 * Usage: churn_client --target 127.0.0.1:PORT [--duration S] [--warmup S] [--concurrency N]
 *                     [--size BYTES] [--sources N]
 * Prints one JSON object on stdout: connections completed in the measured window, their rate,
 * errors, and the latency of a whole connection (socket() to the last byte of the echo). */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24 /* Linux 4.2 */
#endif

#define MAX_CONCURRENCY 4096
#define MAX_SIZE 65536
#define MAX_SOURCES 250
#define MAX_SAMPLES (8u * 1024 * 1024) /* latencies kept for the percentiles */

enum state { CONNECTING, READING };

struct slot {
    int fd;
    enum state state;
    size_t got;
    int64_t started; /* ns, monotonic */
};

static struct sockaddr_in target;
static unsigned char *message;
static size_t size = 64;
static unsigned sources = 8;
static unsigned next_source;
static int epfd = -1;
static uint32_t *samples; /* latency in ns, saturated at UINT32_MAX */
static size_t nsamples;
static uint64_t completed, errors;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Parses a duration in seconds ("2", "0.5"); -1 on bad input. */
static double parse_seconds(const char *text)
{
    char *end;
    double v = strtod(text, &end);
    return end != text && *end == '\0' && v >= 0 && v < 86400 ? v : -1;
}

static long parse_long(const char *text, long min, long max)
{
    char *end;
    long v = strtol(text, &end, 10);
    return end != text && *end == '\0' && v >= min && v <= max ? v : min - 1;
}

static int parse_target(const char *text)
{
    char host[INET_ADDRSTRLEN];
    const char *colon = strrchr(text, ':');
    if (!colon || (size_t)(colon - text) >= sizeof host)
        return -1;
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    long port = parse_long(colon + 1, 1, 65535);
    if (port < 1 || inet_pton(AF_INET, host, &target.sin_addr) != 1)
        return -1;
    target.sin_family = AF_INET;
    target.sin_port = htons((unsigned short)port);
    return 0;
}

/* Opens the slot's next connection and registers it; false when even socket() fails. */
static bool slot_open(struct slot *s)
{
    s->started = now_ns();
    s->state = CONNECTING;
    s->got = 0;
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0) {
        perror("churn_client: socket");
        return false;
    }
    int one = 1;
    (void)setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (sources > 0 && (ntohl(target.sin_addr.s_addr) >> 24) == 127) {
        /* 127.0.0.2, 127.0.0.3, ...: each source address has a port space of its own. */
        struct sockaddr_in src = {.sin_family = AF_INET};
        src.sin_addr.s_addr = htonl(0x7f000002u + next_source++ % sources);
        (void)setsockopt(s->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (bind(s->fd, (struct sockaddr *)&src, sizeof src) < 0)
            perror("churn_client: bind");
    }
    if (connect(s->fd, (struct sockaddr *)&target, sizeof target) < 0 && errno != EINPROGRESS) {
        errors++;
        (void)close(s->fd);
        s->fd = -1;
        return true; /* counted; the loop retries on its next turn */
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = s};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, s->fd, &ev) < 0) {
        perror("churn_client: epoll_ctl");
        (void)close(s->fd);
        s->fd = -1;
        return false;
    }
    return true;
}

static void slot_close(struct slot *s)
{
    (void)close(s->fd); /* also leaves the epoll set */
    s->fd = -1;
}

/* Drives one slot on an event. Returns true when the connection is finished (either way). */
static bool slot_event(struct slot *s, uint32_t events, bool counting)
{
    if (s->state == CONNECTING && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        ssize_t n = send(s->fd, message, size, MSG_NOSIGNAL);
        if (n != (ssize_t)size) { /* a 64-byte send into a fresh socket is never short */
            errors++;
            slot_close(s);
            return true;
        }
        s->state = READING;
    }
    if (s->state == READING && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
        unsigned char buf[MAX_SIZE];
        for (;;) {
            ssize_t n = recv(s->fd, buf, size - s->got, 0);
            if (n > 0) {
                s->got += (size_t)n;
                if (s->got == size)
                    break;
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return false;
            errors++; /* closed or failed before the whole echo came back */
            slot_close(s);
            return true;
        }
        int64_t took = now_ns() - s->started;
        slot_close(s);
        if (counting) {
            completed++;
            if (nsamples < MAX_SAMPLES)
                samples[nsamples++] = took > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)took;
        }
        return true;
    }
    if (events & (EPOLLERR | EPOLLHUP)) {
        errors++;
        slot_close(s);
        return true;
    }
    return false;
}

static void usage(void)
{
    fprintf(stderr, "usage: churn_client --target 127.0.0.1:PORT [--duration S] [--warmup S]\n"
                    "                    [--concurrency N] [--size BYTES] [--sources N]\n");
}

int main(int argc, char **argv)
{
    double duration = 5, warmup = 1;
    long concurrency = 32;
    bool have_target = false;
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc) {
            usage();
            return 2;
        }
        const char *opt = argv[i], *val = argv[i + 1];
        if (strcmp(opt, "--target") == 0) {
            if (parse_target(val) < 0) {
                usage();
                return 2;
            }
            have_target = true;
        } else if (strcmp(opt, "--duration") == 0) {
            duration = parse_seconds(val);
        } else if (strcmp(opt, "--warmup") == 0) {
            warmup = parse_seconds(val);
        } else if (strcmp(opt, "--concurrency") == 0) {
            concurrency = parse_long(val, 1, MAX_CONCURRENCY);
        } else if (strcmp(opt, "--size") == 0) {
            size = (size_t)parse_long(val, 1, MAX_SIZE);
        } else if (strcmp(opt, "--sources") == 0) {
            long v = parse_long(val, 0, MAX_SOURCES);
            sources = v < 0 ? MAX_SOURCES + 1 : (unsigned)v;
        } else {
            usage();
            return 2;
        }
    }
    if (!have_target || duration <= 0 || warmup < 0 || concurrency < 1 || size < 1 ||
        size > MAX_SIZE || sources > MAX_SOURCES) {
        usage();
        return 2;
    }

    /* Room for every connection in flight, and nothing else to worry about. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)concurrency + 64) {
        rl.rlim_cur =
            rl.rlim_max < (rlim_t)concurrency + 64 ? rl.rlim_max : (rlim_t)concurrency + 64;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }

    message = malloc(size);
    samples = malloc(MAX_SAMPLES * sizeof *samples);
    struct slot *slots = calloc((size_t)concurrency, sizeof *slots);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!message || !samples || !slots || epfd < 0) {
        perror("churn_client");
        return 1;
    }
    for (size_t i = 0; i < size; i++)
        message[i] = (unsigned char)('a' + i % 26);

    const int64_t start = now_ns();
    const int64_t measure_from = start + (int64_t)(warmup * 1e9);
    const int64_t stop_at = measure_from + (int64_t)(duration * 1e9);
    long open = 0;
    for (long i = 0; i < concurrency; i++) {
        if (!slot_open(&slots[i]))
            return 1;
        open += slots[i].fd >= 0;
    }

    /* A connection counts when it started inside the measured window. New connections stop
     * at the end of the window; those in flight are finished (bounded by a grace second). */
    struct epoll_event events[256];
    int64_t t = start;
    while (open > 0 || t < stop_at) {
        if (t > stop_at + 1000000000)
            break;
        int n = epoll_wait(epfd, events, 256, 100);
        if (n < 0 && errno != EINTR) {
            perror("churn_client: epoll_wait");
            return 1;
        }
        t = now_ns();
        for (int i = 0; i < n; i++) {
            struct slot *s = events[i].data.ptr;
            if (s->fd < 0)
                continue;
            bool counting = s->started >= measure_from && s->started < stop_at;
            if (!slot_event(s, events[i].events, counting))
                continue;
            open--;
            if (t < stop_at) {
                if (!slot_open(s))
                    return 1;
                open += s->fd >= 0;
            }
        }
        /* Slots whose connect() failed at once are retried here (and again after 100 ms). */
        for (long i = 0; i < concurrency && t < stop_at; i++) {
            if (slots[i].fd < 0) {
                if (!slot_open(&slots[i]))
                    return 1;
                open += slots[i].fd >= 0;
            }
        }
    }

    double secs = duration;
    qsort(samples, nsamples, sizeof *samples, cmp_u32);
    uint32_t p50 = nsamples ? samples[nsamples / 2] : 0;
    uint32_t p99 = nsamples ? samples[(size_t)((double)nsamples * 0.99)] : 0;
    printf("{\"tool\":\"churn_client\",\"concurrency\":%ld,\"size\":%zu,\"duration_s\":%.3f,"
           "\"connections\":%llu,\"connections_per_s\":%.1f,\"errors\":%llu,"
           "\"latency_ns\":{\"p50\":%u,\"p99\":%u}}\n",
           concurrency, size, secs, (unsigned long long)completed, (double)completed / secs,
           (unsigned long long)errors, p50, p99);
    for (long i = 0; i < concurrency; i++)
        if (slots[i].fd >= 0)
            slot_close(&slots[i]);
    (void)close(epfd);
    free(slots);
    free(samples);
    free(message);
    return errors > 0 && completed == 0 ? 1 : 0;
}
