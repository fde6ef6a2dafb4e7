/*
 * report.c: what cio-load tells the user. Live progress goes to stderr once a second — on a
 * terminal as one line rewritten in place, otherwise as plain lines a log can keep — so that
 * stdout holds only the final report, which a script can parse when it is JSON (--json).
 * Progress shows the rate of the last second; percentiles are over everything counted so far.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "load.h"

void load_format_ns(char *buf, size_t size, double ns)
{
    static const struct {
        double scale;
        const char *unit;
    } units[] = {{1e9, "s"}, {1e6, "ms"}, {1e3, "us"}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (ns >= units[i].scale) {
            double v = ns / units[i].scale;
            snprintf(buf, size, "%.*f%s", v < 10 ? 2 : v < 100 ? 1 : 0, v, units[i].unit);
            return;
        }
    }
    snprintf(buf, size, "%.0fns", ns);
}

void load_stats_sum(const struct load_run *run, struct load_stats *total)
{
    for (unsigned w = 0; w < run->workers; w++) {
        const struct load_stats *s = &run->stats[w];
        load_stat_add(&total->requests, load_stat_get(&s->requests));
        load_stat_add(&total->warmup_requests, load_stat_get(&s->warmup_requests));
        load_stat_add(&total->bytes_sent, load_stat_get(&s->bytes_sent));
        load_stat_add(&total->bytes_received, load_stat_get(&s->bytes_received));
        load_stat_add(&total->connections, load_stat_get(&s->connections));
        for (int k = 0; k < LOAD_ERR_KINDS; k++)
            load_stat_add(&total->errors[k], load_stat_get(&s->errors[k]));
        hist_merge(&total->latency, &s->latency);
    }
}

static uint64_t error_total(const struct load_stats *s)
{
    uint64_t n = 0;
    for (int k = 0; k < LOAD_ERR_KINDS; k++)
        n += load_stat_get(&s->errors[k]);
    return n;
}

static struct load_stats *stats_new(void)
{
    struct load_stats *s = calloc(1, sizeof *s);
    if (s != NULL)
        hist_reset(&s->latency);
    return s;
}

static void stats_clear(struct load_stats *s)
{
    _Atomic uint64_t *counters[] = {&s->requests, &s->warmup_requests, &s->bytes_sent,
                                    &s->bytes_received, &s->connections};
    for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++)
        atomic_store_explicit(counters[i], 0, memory_order_relaxed);
    for (int k = 0; k < LOAD_ERR_KINDS; k++)
        atomic_store_explicit(&s->errors[k], 0, memory_order_relaxed);
    hist_reset(&s->latency);
}

/* ---- live progress ---- */

void *load_progress_task(void *arg)
{
    struct load_run *run = arg;
    const struct load_options *opt = run->opt;
    bool tty = isatty(STDERR_FILENO) == 1;
    struct load_stats *now_stats = stats_new();
    if (now_stats == NULL)
        return NULL;
    cio_interval tick;
    if (cio_interval_init(&tick, CIO_NSEC_PER_SEC) < 0) {
        free(now_stats);
        return NULL;
    }
    uint64_t prev_done = 0;
    cio_time prev_time = run->start;
    while (cio_interval_tick(&tick) >= 0) {
        cio_time t = cio_now();
        stats_clear(now_stats);
        load_stats_sum(run, now_stats);
        uint64_t done =
            load_stat_get(&now_stats->requests) + load_stat_get(&now_stats->warmup_requests);
        double secs = (double)(t - prev_time) / 1e9;
        double rate = secs > 0 ? (double)(done - prev_done) / secs : 0;
        prev_done = done;
        prev_time = t;
        char line[256], p50[32], p99[32];
        double elapsed = (double)(t - run->start) / 1e9;
        int len;
        if (t < run->measure_start) {
            len = snprintf(line, sizeof line, "[%6.1fs] warmup   %10.0f req/s  errors %llu",
                           elapsed, rate, (unsigned long long)error_total(now_stats));
        } else {
            load_format_ns(p50, sizeof p50, (double)hist_percentile(&now_stats->latency, 50));
            load_format_ns(p99, sizeof p99, (double)hist_percentile(&now_stats->latency, 99));
            len =
                snprintf(line, sizeof line, "[%6.1fs] %10.0f req/s  p50 %8s  p99 %8s  errors %llu",
                         elapsed, rate, p50, p99, (unsigned long long)error_total(now_stats));
            if (opt->requests > 0 && len > 0 && (size_t)len < sizeof line)
                snprintf(line + len, sizeof line - (size_t)len, "  done %llu/%llu",
                         (unsigned long long)load_stat_get(&now_stats->requests),
                         (unsigned long long)opt->requests);
        }
        (void)len;
        if (tty)
            fprintf(stderr, "\r%s\033[K", line);
        else
            fprintf(stderr, "%s\n", line);
        fflush(stderr);
    }
    free(now_stats);
    return NULL;
}

void load_progress_end(const struct load_run *run)
{
    if (!run->opt->quiet && isatty(STDERR_FILENO) == 1)
        fputs("\n", stderr);
}

/* ---- the final report ---- */

static const char *mode_name(enum load_mode mode)
{
    return mode == LOAD_MODE_ECHO ? "echo" : "http";
}

/* Write @s as a JSON string body (the target may hold any byte: an abstract name). */
static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p >= 0x7f)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

struct summary {
    double seconds;
    uint64_t requests, errors;
    double rps, mbps_sent, mbps_received;
    uint64_t p50, p90, p99, p999, max, min;
    double mean;
};

static void summarize(const struct load_run *run, const struct load_stats *s, struct summary *m)
{
    cio_time from = run->measure_start < run->end ? run->measure_start : run->end;
    m->seconds = (double)(run->end - from) / 1e9;
    m->requests = load_stat_get(&s->requests);
    m->errors = error_total(s);
    double secs = m->seconds > 0 ? m->seconds : 1e-9;
    m->rps = (double)m->requests / secs;
    m->mbps_sent = (double)load_stat_get(&s->bytes_sent) / 1e6 / secs;
    m->mbps_received = (double)load_stat_get(&s->bytes_received) / 1e6 / secs;
    m->p50 = hist_percentile(&s->latency, 50);
    m->p90 = hist_percentile(&s->latency, 90);
    m->p99 = hist_percentile(&s->latency, 99);
    m->p999 = hist_percentile(&s->latency, 99.9);
    m->max = hist_max(&s->latency);
    m->min = hist_min(&s->latency);
    m->mean = hist_mean(&s->latency);
}

static void report_json(const struct load_run *run, const struct load_stats *s,
                        const struct summary *m)
{
    const struct load_options *opt = run->opt;
    FILE *f = stdout;
    fprintf(f, "{\"tool\":\"cio-load\",\"mode\":\"%s\",\"target\":", mode_name(opt->mode));
    json_string(f, opt->target);
    fprintf(f, ",\"connections\":%u,\"workers\":%u,\"pipeline\":%u", opt->connections, opt->workers,
            opt->pipeline);
    if (opt->mode == LOAD_MODE_ECHO)
        fprintf(f, ",\"size\":%zu", opt->size);
    fprintf(f, ",\"rate\":%.3f,\"loop\":\"%s\"", opt->rate, opt->rate > 0 ? "open" : "closed");
    fprintf(f, ",\"warmup_s\":%.3f,\"duration_s\":%.6f", (double)opt->warmup / 1e9, m->seconds);
    fprintf(f, ",\"requests\":%llu,\"requests_per_s\":%.3f", (unsigned long long)m->requests,
            m->rps);
    fprintf(f, ",\"bytes_sent\":%llu,\"bytes_received\":%llu",
            (unsigned long long)load_stat_get(&s->bytes_sent),
            (unsigned long long)load_stat_get(&s->bytes_received));
    fprintf(f, ",\"mb_per_s_sent\":%.3f,\"mb_per_s_received\":%.3f", m->mbps_sent,
            m->mbps_received);
    fprintf(f,
            ",\"latency_ns\":{\"min\":%llu,\"mean\":%.0f,\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,"
            "\"p99_9\":%llu,\"max\":%llu}",
            (unsigned long long)m->min, m->mean, (unsigned long long)m->p50,
            (unsigned long long)m->p90, (unsigned long long)m->p99, (unsigned long long)m->p999,
            (unsigned long long)m->max);
    fprintf(f, ",\"errors\":{\"total\":%llu", (unsigned long long)m->errors);
    for (int k = 0; k < LOAD_ERR_KINDS; k++)
        fprintf(f, ",\"%s\":%llu", load_error_names[k],
                (unsigned long long)load_stat_get(&s->errors[k]));
    fprintf(f, "},\"connections_opened\":%llu,\"interrupted\":%s}\n",
            (unsigned long long)load_stat_get(&s->connections),
            atomic_load(&run->interrupted) ? "true" : "false");
}

static void report_text(const struct load_run *run, const struct load_stats *s,
                        const struct summary *m)
{
    const struct load_options *opt = run->opt;
    FILE *f = stdout;
    fprintf(f, "cio-load: %s %s, %u connection%s on %u worker%s", mode_name(opt->mode), opt->target,
            opt->connections, opt->connections == 1 ? "" : "s", opt->workers,
            opt->workers == 1 ? "" : "s");
    if (opt->mode == LOAD_MODE_ECHO)
        fprintf(f, ", %zu-byte messages", opt->size);
    if (opt->rate > 0)
        fprintf(f, ", open loop at %.0f/s (up to %u in flight each)\n", opt->rate, opt->pipeline);
    else
        fprintf(f, ", closed loop (%u in flight each)\n", opt->pipeline);
    fprintf(f, "  time        %.2f s measured", m->seconds);
    if (opt->warmup > 0)
        fprintf(f, " after %.2f s warmup", (double)opt->warmup / 1e9);
    if (atomic_load(&run->interrupted))
        fprintf(f, " (interrupted)");
    fprintf(f, "\n  requests    %llu (%.1f/s)\n", (unsigned long long)m->requests, m->rps);
    fprintf(f, "  transfer    %.2f MB/s sent, %.2f MB/s received\n", m->mbps_sent,
            m->mbps_received);
    char p[6][32];
    load_format_ns(p[0], sizeof p[0], (double)m->p50);
    load_format_ns(p[1], sizeof p[1], (double)m->p90);
    load_format_ns(p[2], sizeof p[2], (double)m->p99);
    load_format_ns(p[3], sizeof p[3], (double)m->p999);
    load_format_ns(p[4], sizeof p[4], (double)m->max);
    load_format_ns(p[5], sizeof p[5], m->mean);
    if (m->requests > 0)
        fprintf(f, "  latency     p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (mean %s)\n", p[0],
                p[1], p[2], p[3], p[4], p[5]);
    else
        fprintf(f, "  latency     -\n");
    fprintf(f, "  errors      %llu", (unsigned long long)m->errors);
    const char *sep = ": ";
    for (int k = 0; k < LOAD_ERR_KINDS; k++) {
        uint64_t n = load_stat_get(&s->errors[k]);
        if (n > 0) {
            fprintf(f, "%s%s %llu", sep, load_error_names[k], (unsigned long long)n);
            sep = ", ";
        }
    }
    fprintf(f, "\n  connections %llu opened\n", (unsigned long long)load_stat_get(&s->connections));
}

int load_report(const struct load_run *run)
{
    struct load_stats *total = stats_new();
    if (total == NULL) {
        fprintf(stderr, "cio-load: out of memory\n");
        return LOAD_EXIT_ERRORS;
    }
    load_stats_sum(run, total);
    struct summary m;
    summarize(run, total, &m);
    if (run->opt->json)
        report_json(run, total, &m);
    else
        report_text(run, total, &m);
    fflush(stdout);
    int status = LOAD_EXIT_OK;
    if (m.errors > 0 || atomic_load(&run->interrupted))
        status = LOAD_EXIT_ERRORS;
    else if (run->opt->requests > 0 && run->opt->duration == 0 && m.requests < run->opt->requests)
        status = LOAD_EXIT_ERRORS; /* cannot happen without an error; be strict anyway */
    free(total);
    return status;
}
