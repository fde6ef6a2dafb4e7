/*
 * server_metrics.c: --server-metrics PATH — after the run, ask the server for its metrics
 * (GET PATH on the target; cio-http-hello answers GET /metrics with its runtime's counters,
 * cio/metrics.h) and show the answer's body after the report, so that a run's client-side
 * numbers come with the server's own view: tasks, polls, wakes, time busy and parked.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load.h"

#define MAX_ANSWER (256 * 1024)

static int fetch(cio_stream *s, const struct load_options *opt, char *buf, size_t cap,
                 size_t *ret_len)
{
    char req[512];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
                     opt->server_metrics, opt->host);
    if (n < 0 || (size_t)n >= sizeof(req))
        return -EINVAL;
    int rc = cio_stream_write_all(s, req, (size_t)n, NULL);
    size_t len = 0;
    while (rc == 0 && len < cap) {
        ssize_t got = cio_stream_read(s, buf + len, cap - len);
        if (got <= 0) {
            rc = (int)got;
            break;
        }
        len += (size_t)got;
    }
    *ret_len = len;
    return rc;
}

char *load_server_metrics(const struct load_options *opt)
{
    char *buf = malloc(MAX_ANSWER + 1);
    if (buf == NULL)
        return NULL;
    cio_time saved = cio_deadline_set(cio_now() + opt->timeout);
    cio_tcp_stream *tcp = NULL;
    cio_unix_stream *ux = NULL;
    size_t len = 0;
    int rc = opt->unix_target ? cio_unix_stream_connect(&ux, &opt->addr)
                              : cio_tcp_stream_connect_addr(&tcp, &opt->addr);
    if (rc == 0)
        rc = fetch(tcp ? cio_as_stream(tcp) : cio_as_stream(ux), opt, buf, MAX_ANSWER, &len);
    cio_socket_close(tcp);
    cio_socket_close(ux);
    cio_deadline_restore(saved);
    buf[len] = '\0';
    const char *body = strstr(buf, "\r\n\r\n");
    if (rc < 0 || body == NULL || strncmp(buf, "HTTP/1.1 200", 12) != 0) {
        snprintf(buf, MAX_ANSWER, "cannot get %s: %s\n", opt->server_metrics,
                 rc < 0 ? cio_strerror(rc) : "not a 200 answer");
        return buf;
    }
    memmove(buf, body + 4, strlen(body + 4) + 1);
    return buf;
}
