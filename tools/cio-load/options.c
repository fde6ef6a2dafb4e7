/*
 * options.c: cio-load's command line. Every option takes "--name value" or "--name=value";
 * numbers are checked whole (no trailing junk, no overflow, sensible ranges) and any mistake
 * ends the program with status 2 and one line that says which option and why, so a benchmark
 * script fails loudly instead of measuring the wrong thing. The target is resolved here, once,
 * before the runtime starts: a host name costs one lookup, not one per connection.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* getaddrinfo, strncasecmp */
#endif
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "load.h"

#define MAX_CONNECTIONS 1000000u
#define MAX_WORKERS 1024u
#define MAX_PIPELINE 65536u
#define MAX_SIZE (64u * 1024 * 1024)
/* With --rate and no --pipeline: up to this many messages in flight per connection, and no
 * more than OPEN_LOOP_BYTES of them, so a slow server does not stop the sender. */
#define OPEN_LOOP_PIPELINE 128u
#define OPEN_LOOP_BYTES (4u * 1024 * 1024)

static const char usage_text[] =
    "usage: cio-load --target ADDR [--mode echo|http] [options]\n"
    "\n"
    "Load generator for echo and HTTP/1.1 servers, built on cio.\n"
    "\n"
    "  -t, --target ADDR       server: HOST:PORT, [IPv6]:PORT, a Unix socket path\n"
    "                          (/path, ./path, unix:path) or @abstract-name\n"
    "  -m, --mode MODE         echo (default) or http\n"
    "  -c, --connections N     connections, spread over the workers (default 10)\n"
    "  -d, --duration SECONDS  measured run time (default 10, unless --requests); accepts\n"
    "                          a suffix: 500ms, 2s, 1m\n"
    "  -n, --requests N        stop after N requests (messages) in total, counted after\n"
    "                          the warmup\n"
    "      --warmup SECONDS    run this long first without counting (default 0)\n"
    "  -w, --workers W         runtime worker threads (default 1)\n"
    "  -s, --size BYTES        echo message size (default 64)\n"
    "  -r, --rate R            open loop: R messages/s in total, latency measured from\n"
    "                          each message's scheduled time (default: closed loop)\n"
    "  -p, --pipeline D        requests in flight per connection (default 1; with --rate,\n"
    "                          the in-flight limit, default up to 128)\n"
    "      --path PATH         HTTP request target (default /)\n"
    "      --timeout SECONDS   give up on a connection that makes no progress this long\n"
    "                          while waiting for responses, or cannot connect (default 10)\n"
    "      --json              final report as JSON on stdout\n"
    "      --server-metrics PATH  after the run, GET PATH from the server (cio-http-hello:\n"
    "                          /metrics) and show its body on stderr\n"
    "  -q, --quiet             no live progress on stderr\n"
    "  -h, --help              this text\n"
    "      --version           the version of cio-load and of the cio library\n"
    "\n"
    "Exit status: 0 the run completed with no errors; 1 errors occurred (or the run was\n"
    "interrupted); 2 bad arguments.\n";

__attribute__((format(printf, 1, 2))) static int bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("cio-load: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(" (see cio-load --help)\n", stderr);
    va_end(ap);
    return -1;
}

static int parse_u64(const char *name, const char *text, uint64_t min, uint64_t max, uint64_t *ret)
{
    if (text[0] < '0' || text[0] > '9')
        return bad("%s: '%s' is not a number", name, text);
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(text, &end, 10);
    if (*end != '\0')
        return bad("%s: '%s' is not a whole number", name, text);
    if (errno == ERANGE || v < min || v > max)
        return bad("%s: %s is out of range (%llu to %llu)", name, text, (unsigned long long)min,
                   (unsigned long long)max);
    *ret = v;
    return 0;
}

static int parse_unsigned(const char *name, const char *text, unsigned min, unsigned max,
                          unsigned *ret)
{
    uint64_t v;
    if (parse_u64(name, text, min, max, &v) < 0)
        return -1;
    *ret = (unsigned)v;
    return 0;
}

static int parse_double(const char *name, const char *text, double *ret, char **ret_end)
{
    if (!((text[0] >= '0' && text[0] <= '9') || text[0] == '.'))
        return bad("%s: '%s' is not a number", name, text);
    errno = 0;
    char *end = NULL;
    double v = strtod(text, &end);
    if (end == text || errno == ERANGE || !isfinite(v))
        return bad("%s: '%s' is not a number", name, text);
    *ret = v;
    *ret_end = end;
    return 0;
}

/* SECONDS with an optional unit: "2", "2.5", "500ms", "2s", "1m". */
static int parse_duration(const char *name, const char *text, bool allow_zero, cio_duration *ret)
{
    double v = 0;
    char *end = NULL;
    if (parse_double(name, text, &v, &end) < 0)
        return -1;
    double scale = 1e9;
    if (strcmp(end, "ms") == 0)
        scale = 1e6;
    else if (strcmp(end, "us") == 0)
        scale = 1e3;
    else if (strcmp(end, "m") == 0)
        scale = 60e9;
    else if (strcmp(end, "h") == 0)
        scale = 3600e9;
    else if (*end != '\0' && strcmp(end, "s") != 0)
        return bad("%s: '%s' is not a duration (seconds, or with a unit: 500ms, 2s, 1m)", name,
                   text);
    double ns = v * scale;
    if (ns > 365.0 * 24 * 3600e9)
        return bad("%s: %s is too long", name, text);
    if (ns < 1e6 && !(allow_zero && ns == 0))
        return bad("%s: %s is too short (at least 1ms)", name, text);
    *ret = (cio_duration)ns;
    return 0;
}

/* Resolve "host:port" (a name, not a literal) with getaddrinfo, first answer wins. */
static int resolve_host(struct load_options *opt, const char *text)
{
    const char *colon = strrchr(text, ':');
    if (colon == NULL || colon == text || colon[1] == '\0')
        return bad("--target: '%s' is not HOST:PORT, [IPv6]:PORT, a Unix path or @name", text);
    char host[256];
    size_t hlen = (size_t)(colon - text);
    if (hlen >= sizeof host)
        return bad("--target: host name too long");
    memcpy(host, text, hlen);
    host[hlen] = '\0';
    if (host[0] == '[' && hlen >= 2 && host[hlen - 1] == ']') {
        memmove(host, host + 1, hlen - 2);
        host[hlen - 2] = '\0';
    }
    uint64_t port;
    if (parse_u64("--target port", colon + 1, 0, 65535, &port) < 0)
        return -1;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc != 0)
        return bad("--target: cannot resolve '%s': %s", host, gai_strerror(rc));
    rc = -EAFNOSUPPORT;
    for (struct addrinfo *ai = res; ai != NULL && rc < 0; ai = ai->ai_next)
        if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6)
            rc = cio_addr_from_sockaddr(&opt->addr, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(res);
    if (rc < 0)
        return bad("--target: '%s' has no IPv4 or IPv6 address", host);
    return 0;
}

static int parse_target(struct load_options *opt, const char *text)
{
    opt->target = text;
    if (strncmp(text, "unix:", 5) == 0) {
        const char *path = text + 5;
        int rc = cio_addr_unix(&opt->addr, path, strlen(path));
        if (rc < 0)
            return bad("--target: bad Unix path '%s': %s", path, cio_strerror(rc));
        opt->unix_target = true;
        return 0;
    }
    int rc = cio_addr_parse(&opt->addr, text);
    if (rc == 0) {
        cio_addr_kind kind = cio_addr_get_kind(&opt->addr);
        if (kind == CIO_ADDR_UNNAMED)
            return bad("--target: the unnamed Unix address cannot be connected to");
        opt->unix_target = kind == CIO_ADDR_UNIX || kind == CIO_ADDR_ABSTRACT;
        if (!opt->unix_target && cio_addr_port(&opt->addr) == 0)
            return bad("--target: port 0 cannot be connected to");
        return 0;
    }
    if (text[0] == '/' || text[0] == '@' || text[0] == '.')
        return bad("--target: bad address '%s': %s", text, cio_strerror(rc));
    if (resolve_host(opt, text) < 0)
        return -1;
    if (cio_addr_port(&opt->addr) == 0)
        return bad("--target: port 0 cannot be connected to");
    return 0;
}

struct option_spec {
    const char *name;
    char short_name;
    bool has_value;
};

static const struct option_spec specs[] = {
    {"target", 't', true},   {"mode", 'm', true},         {"connections", 'c', true},
    {"duration", 'd', true}, {"requests", 'n', true},     {"warmup", 0, true},
    {"workers", 'w', true},  {"size", 's', true},         {"rate", 'r', true},
    {"pipeline", 'p', true}, {"path", 0, true},           {"timeout", 0, true},
    {"json", 0, false},      {"quiet", 'q', false},       {"help", 'h', false},
    {"version", 0, false},   {"server-metrics", 0, true},
};

/* Find the spec of argv[*i]; set *ret_value for options that take one (from "=value" or the
 * next argument, advancing *i). */
static int match_option(int argc, char **argv, int *i, const struct option_spec **ret_spec,
                        const char **ret_value)
{
    const char *arg = argv[*i];
    const struct option_spec *spec = NULL;
    const char *value = NULL;
    if (arg[0] == '-' && arg[1] == '-') {
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++)
            if (strlen(specs[k].name) == len && strncmp(specs[k].name, name, len) == 0)
                spec = &specs[k];
        if (spec == NULL)
            return bad("unknown option '%s'", arg);
        if (eq != NULL) {
            if (!spec->has_value)
                return bad("option '--%s' takes no value", spec->name);
            value = eq + 1;
        }
    } else if (arg[0] == '-' && arg[1] != '\0' && arg[2] == '\0') {
        for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++)
            if (specs[k].short_name == arg[1])
                spec = &specs[k];
        if (spec == NULL)
            return bad("unknown option '%s'", arg);
    } else {
        return bad("unexpected argument '%s'", arg);
    }
    if (spec->has_value && value == NULL) {
        if (*i + 1 >= argc)
            return bad("option '--%s' needs a value", spec->name);
        value = argv[++*i];
    }
    *ret_spec = spec;
    *ret_value = value;
    return 0;
}

int load_parse_options(struct load_options *opt, int argc, char **argv)
{
    *opt = (struct load_options){
        .mode = LOAD_MODE_ECHO,
        .path = "/",
        .connections = 10,
        .workers = 1,
        .size = 64,
        .timeout = 10 * CIO_NSEC_PER_SEC,
    };
    bool have_duration = false, have_size = false, have_pipeline = false, have_target = false;
    const char *target = NULL;
    for (int i = 1; i < argc; i++) {
        const struct option_spec *spec = NULL;
        const char *v = NULL;
        if (match_option(argc, argv, &i, &spec, &v) < 0)
            return -1;
        const char *n = spec->name;
        uint64_t u;
        int rc = 0;
        if (strcmp(n, "help") == 0) {
            fputs(usage_text, stdout);
            return 1;
        } else if (strcmp(n, "version") == 0) {
            printf("cio-load (cio %s)\n", cio_version());
            return 1;
        } else if (strcmp(n, "server-metrics") == 0) {
            opt->server_metrics = v;
        } else if (strcmp(n, "target") == 0) {
            target = v;
            have_target = true;
        } else if (strcmp(n, "mode") == 0) {
            if (strcmp(v, "echo") == 0)
                opt->mode = LOAD_MODE_ECHO;
            else if (strcmp(v, "http") == 0)
                opt->mode = LOAD_MODE_HTTP;
            else
                rc = bad("--mode: '%s' is not echo or http", v);
        } else if (strcmp(n, "connections") == 0) {
            rc = parse_unsigned("--connections", v, 1, MAX_CONNECTIONS, &opt->connections);
        } else if (strcmp(n, "duration") == 0) {
            rc = parse_duration("--duration", v, false, &opt->duration);
            have_duration = true;
        } else if (strcmp(n, "requests") == 0) {
            rc = parse_u64("--requests", v, 1, UINT64_MAX / 2, &opt->requests);
        } else if (strcmp(n, "warmup") == 0) {
            rc = parse_duration("--warmup", v, true, &opt->warmup);
        } else if (strcmp(n, "workers") == 0) {
            rc = parse_unsigned("--workers", v, 1, MAX_WORKERS, &opt->workers);
        } else if (strcmp(n, "size") == 0) {
            rc = parse_u64("--size", v, 1, MAX_SIZE, &u);
            opt->size = (size_t)u;
            have_size = true;
        } else if (strcmp(n, "rate") == 0) {
            char *end = NULL;
            rc = parse_double("--rate", v, &opt->rate, &end);
            if (rc == 0 && (*end != '\0' || opt->rate <= 0 || opt->rate > 1e9))
                rc = bad("--rate: '%s' is not a rate between 0 and 1e9 messages/s", v);
        } else if (strcmp(n, "pipeline") == 0) {
            rc = parse_unsigned("--pipeline", v, 1, MAX_PIPELINE, &opt->pipeline);
            have_pipeline = true;
        } else if (strcmp(n, "path") == 0) {
            if (v[0] != '/' || strpbrk(v, " \t\r\n") != NULL || strlen(v) > 2048)
                rc = bad("--path: '%s' must start with / and hold no spaces or line breaks", v);
            opt->path = v;
        } else if (strcmp(n, "timeout") == 0) {
            rc = parse_duration("--timeout", v, false, &opt->timeout);
        } else if (strcmp(n, "json") == 0) {
            opt->json = true;
        } else if (strcmp(n, "quiet") == 0) {
            opt->quiet = true;
        }
        if (rc < 0)
            return -1;
    }
    if (!have_target)
        return bad("--target is required");
    if (have_size && opt->mode != LOAD_MODE_ECHO)
        return bad("--size applies to --mode echo only");
    if (!have_duration && opt->requests == 0)
        opt->duration = 10 * CIO_NSEC_PER_SEC;
    if (!have_pipeline) {
        opt->pipeline = 1;
        if (opt->rate > 0) {
            size_t per = opt->mode == LOAD_MODE_ECHO ? opt->size : 64;
            size_t d = OPEN_LOOP_BYTES / per;
            opt->pipeline = d < 1 ? 1 : d > OPEN_LOOP_PIPELINE ? OPEN_LOOP_PIPELINE : (unsigned)d;
        }
    }
    if (opt->mode == LOAD_MODE_ECHO && (uint64_t)opt->size * opt->pipeline > 1024u * 1024 * 1024)
        return bad("--size x --pipeline is over 1 GiB per connection");
    if (parse_target(opt, target) < 0)
        return -1;
    if (opt->unix_target) {
        snprintf(opt->host, sizeof opt->host, "localhost");
    } else {
        /* The Host header names what the user typed (a name or a literal). */
        snprintf(opt->host, sizeof opt->host, "%s", target);
    }
    return 0;
}
