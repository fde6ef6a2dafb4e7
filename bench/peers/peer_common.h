/* What the C peers of the side-by-side benchmark share, so they differ only in the event
 * library they are written on: the command line (--proto echo|http --listen IPv4:PORT), the
 * "listening on ..." line the harness waits for, the listening socket where the library does
 * not make its own, and the HTTP/1.1 request framing and response bytes (identical in every
 * peer, the tokio one included). Header-only: static inline helpers, nothing to link. */
#ifndef CIO_BENCH_PEER_COMMON_H
#define CIO_BENCH_PEER_COMMON_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

enum peer_proto { PEER_ECHO, PEER_HTTP };

/* The same backlog everywhere (tokio's TcpListener::bind uses 1024). */
#define PEER_BACKLOG 1024
/* Largest request head an HTTP connection holds; a longer one closes the connection. */
#define PEER_HTTP_BUF (16 * 1024)

#define PEER_HTTP_RESPONSE                                                                         \
    "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, World!"
#define PEER_HTTP_RESPONSE_LEN (sizeof PEER_HTTP_RESPONSE - 1)

/* Parses --proto and --listen (an IPv4 address and port, e.g. 127.0.0.1:0). Prints usage and
 * returns -1 on bad input. */
static inline int peer_parse_args(int argc, char **argv, const char *name,
                                  enum peer_proto *ret_proto, struct sockaddr_in *ret_addr)
{
    bool have_proto = false, have_addr = false;
    enum peer_proto proto = PEER_ECHO;
    struct sockaddr_in addr = {.sin_family = AF_INET};
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc)
            goto usage;
        const char *opt = argv[i], *val = argv[i + 1];
        if (strcmp(opt, "--proto") == 0) {
            if (strcmp(val, "echo") == 0)
                proto = PEER_ECHO;
            else if (strcmp(val, "http") == 0)
                proto = PEER_HTTP;
            else
                goto usage;
            have_proto = true;
        } else if (strcmp(opt, "--listen") == 0) {
            char host[INET_ADDRSTRLEN];
            const char *colon = strrchr(val, ':');
            if (!colon || (size_t)(colon - val) >= sizeof host)
                goto usage;
            memcpy(host, val, (size_t)(colon - val));
            host[colon - val] = '\0';
            char *end;
            unsigned long port = strtoul(colon + 1, &end, 10);
            if (colon[1] == '\0' || *end != '\0' || port > 65535 ||
                inet_pton(AF_INET, host, &addr.sin_addr) != 1)
                goto usage;
            addr.sin_port = htons((unsigned short)port);
            have_addr = true;
        } else {
            goto usage;
        }
    }
    if (!have_proto || !have_addr)
        goto usage;
    *ret_proto = proto;
    *ret_addr = addr;
    return 0;
usage:
    fprintf(stderr, "usage: %s --proto echo|http --listen 127.0.0.1:PORT\n", name);
    return -1;
}

/* A non-blocking, close-on-exec listening TCP socket bound to addr, or -1 (reason printed). */
static inline int peer_listen(const struct sockaddr_in *addr, const char *name)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror(name);
        return -1;
    }
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, (const struct sockaddr *)addr, sizeof *addr) < 0 || listen(fd, PEER_BACKLOG) < 0) {
        perror(name);
        (void)close(fd);
        return -1;
    }
    return fd;
}

/* Prints "listening on IP:PORT" for the bound socket fd and flushes it (stdout is a pipe
 * when the harness runs the peer). Returns 0, or -1 with the reason printed. */
static inline int peer_announce(int fd, const char *name)
{
    struct sockaddr_in bound;
    socklen_t len = sizeof bound;
    char host[INET_ADDRSTRLEN];
    if (getsockname(fd, (struct sockaddr *)&bound, &len) < 0 ||
        !inet_ntop(AF_INET, &bound.sin_addr, host, sizeof host)) {
        perror(name);
        return -1;
    }
    printf("listening on %s:%u\n", host, (unsigned)ntohs(bound.sin_port));
    return fflush(stdout) == 0 ? 0 : -1;
}

/* One complete request found by peer_http_next: its length through the blank line, and
 * whether it asked for "Connection: close". */
struct peer_http_scan {
    size_t len;
    bool close;
};

/* True when the request head [head, head + len) has a "Connection: close" header (name and
 * value compared without regard to case). */
static inline bool peer_http_wants_close(const char *head, size_t len)
{
    static const char name[] = "connection:";
    const size_t name_len = sizeof name - 1;
    const char *end = head + len;
    const char *line = memchr(head, '\n', len); /* skip the request line */
    while (line && ++line < end) {
        size_t left = (size_t)(end - line);
        if (left > name_len && strncasecmp(line, name, name_len) == 0) {
            const char *v = line + name_len;
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            return (size_t)(end - v) >= 5 && strncasecmp(v, "close", 5) == 0;
        }
        line = memchr(line, '\n', left);
    }
    return false;
}

/* Finds the first complete request head (ending "\r\n\r\n"; requests carry no body) in
 * [buf, buf + len). Returns false when the buffer holds only part of one. */
static inline bool peer_http_next(const char *buf, size_t len, struct peer_http_scan *ret_scan)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end)
        return false;
    ret_scan->len = (size_t)(end - buf) + 4;
    ret_scan->close = peer_http_wants_close(buf, (size_t)(end - buf));
    return true;
}

#endif
