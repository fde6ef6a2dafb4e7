/*
 * cio-relay: a minimal socat on cio's runtime. It listens on a TCP or Unix address, and for
 * every client it accepts connects to the target (TCP by address or host name, or Unix),
 * within --connect-timeout, then copies both directions at once until both have ended, with
 * half-close carried across: a client that shuts down its write side still receives
 * everything the target sends back. TCP to TCP the copy is cio_stream_copy_bidirectional()
 * (splice, no copy through user space). At most --max-conns clients are served at once; the
 * others wait in the listen backlog until a slot frees. Each connection ends with one log line
 * on stderr: peer, target, bytes each way, duration, result.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

struct relay {
    tool_endpoint target;
    cio_duration connect_timeout;
    bool quiet;
    atomic_ullong up, down; /* client to target, target to client */
    atomic_ulong failed;
    atomic_ulong next_id;
};

static const char *result_text(int rc)
{
    if (rc == 0)
        return "ok";
    if (rc == -ECANCELED)
        return "cancelled (shutdown)";
    return cio_strerror(rc);
}

static void relay_conn(cio_stream *client, const cio_addr *peer, void *ctx)
{
    struct relay *r = ctx;
    unsigned long id = atomic_fetch_add(&r->next_id, 1) + 1;
    cio_time start = cio_now();
    char peer_text[CIO_ADDR_STRLEN];
    tool_addr_text(peer, peer_text, sizeof(peer_text));

    tool_stream target = {0};
    cio_time saved = cio_deadline_set(start + r->connect_timeout);
    int rc = tool_stream_connect(&target, &r->target);
    cio_deadline_restore(saved);
    if (rc < 0) {
        atomic_fetch_add(&r->failed, 1);
        if (!r->quiet)
            tool_log("#%lu %s -> %s: connect failed after %.3f s: %s", id, peer_text,
                     r->target.text, tool_seconds(cio_now() - start), result_text(rc));
        return; /* the client's connection is closed by the server */
    }
    if (target.kind == TOOL_TCP)
        (void)cio_tcp_set_nodelay(target.tcp, true);

    uint64_t up = 0, down = 0;
    rc = cio_stream_copy_bidirectional(client, tool_stream_core(&target), &up, &down);
    tool_stream_close(&target);
    atomic_fetch_add(&r->up, up);
    atomic_fetch_add(&r->down, down);
    if (rc < 0)
        atomic_fetch_add(&r->failed, 1);
    if (!r->quiet)
        tool_log("#%lu %s -> %s: up %llu B, down %llu B, %.3f s, %s", id, peer_text, r->target.text,
                 (unsigned long long)up, (unsigned long long)down, tool_seconds(cio_now() - start),
                 result_text(rc));
}

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: cio-relay --target ADDR [--listen ADDR] [--connect-timeout MS]\n"
            "                 [--max-conns N] [--workers N] [--quiet]\n"
            "Relay every connection accepted on --listen to --target, both ways at once.\n"
            "\n"
            "  --target ADDR          where to connect: IPv4:PORT, [IPv6]:PORT, HOST:PORT,\n"
            "                         /path/to.sock or @abstract (required)\n"
            "  --listen ADDR          where to listen (default 127.0.0.1:0), same forms\n"
            "  --connect-timeout MS   give up connecting to the target after MS milliseconds,\n"
            "                         1 to 3600000 (default 10000)\n"
            "  --max-conns N          serve at most N clients at once, 0 for no limit\n"
            "                         (default 0); the others wait in the listen backlog\n"
            "  --workers N            worker threads, 1 to 256 (default 1)\n"
            "  --quiet                no per-connection log lines\n"
            "  --help                 show this help\n"
            "\n"
            "Prints 'listening on ADDR' when ready; logs one line per connection on stderr\n"
            "(peer, target, bytes up and down, duration, result); stops on SIGINT or SIGTERM\n"
            "with a summary; SIGUSR1 writes the runtime's metrics and tasks to stderr.\n");
}

int main(int argc, char **argv)
{
    tool_init("cio-relay");
    const char *listen = "127.0.0.1:0";
    const char *target = NULL;
    static struct relay relay = {.connect_timeout = 10000 * CIO_NSEC_PER_MSEC};
    tool_server srv = {.workers = 1, .on_conn = relay_conn, .ctx = &relay};

    for (int i = 1; i < argc;) {
        const char *v;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return TOOL_EXIT_OK;
        } else if (strcmp(argv[i], "--quiet") == 0) {
            relay.quiet = true;
            i++;
        } else if (tool_opt_value(argc, argv, &i, "--listen", &v)) {
            listen = v;
        } else if (tool_opt_value(argc, argv, &i, "--target", &v)) {
            target = v;
        } else if (tool_opt_value(argc, argv, &i, "--connect-timeout", &v)) {
            relay.connect_timeout =
                (cio_duration)tool_parse_uint("--connect-timeout", v, 1, 3600000) *
                CIO_NSEC_PER_MSEC;
        } else if (tool_opt_value(argc, argv, &i, "--max-conns", &v)) {
            srv.max_conns = (size_t)tool_parse_uint("--max-conns", v, 0, 1000000);
        } else if (tool_opt_value(argc, argv, &i, "--workers", &v)) {
            srv.workers = (unsigned)tool_parse_uint("--workers", v, 1, 256);
        } else {
            tool_usage_error("unknown argument '%s'", argv[i]);
        }
    }
    if (target == NULL)
        tool_usage_error("--target is required");
    int rc = tool_endpoint_parse(&relay.target, target, true);
    if (rc < 0)
        tool_usage_error("--target: '%s' is not an address (%s)", target, cio_strerror(rc));
    rc = tool_endpoint_parse(&srv.listen, listen, true);
    if (rc < 0)
        tool_usage_error("--listen: '%s' is not an address (%s)", listen, cio_strerror(rc));

    int status = tool_server_run(&srv);
    if (status == TOOL_EXIT_OK) {
        printf("cio-relay: stopped by %s: %lu connections (%lu failed), %llu bytes up, "
               "%llu bytes down\n",
               tool_signal_name(srv.stats.stop_signal), (unsigned long)srv.stats.accepted,
               (unsigned long)atomic_load(&relay.failed),
               (unsigned long long)atomic_load(&relay.up),
               (unsigned long long)atomic_load(&relay.down));
        fflush(stdout);
    }
    return status;
}
