/*
 * log.c: the tools' logging — one line per call on stderr, prefixed with the program name and
 * written with a single write(2) so lines from several worker threads never interleave — and
 * the small formatting helpers the log lines use (addresses, signal names).
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tool.h"

void tool_log(const char *fmt, ...)
{
    char line[1024];
    int n = snprintf(line, sizeof(line), "%s: ", tool_name);
    if (n < 0)
        return;
    size_t len = (size_t)n;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + len, sizeof(line) - len - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    len += (size_t)m;
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2; /* cut an over-long line rather than lose it */
    line[len++] = '\n';
    (void)!write(STDERR_FILENO, line, len);
}

const char *tool_addr_text(const cio_addr *addr, char *buf, size_t size)
{
    if (cio_addr_format(addr, buf, size) < 0)
        snprintf(buf, size, "?");
    return buf;
}

const char *tool_signal_name(int sig)
{
    switch (sig) {
    case SIGINT:
        return "SIGINT";
    case SIGTERM:
        return "SIGTERM";
    default:
        return "signal";
    }
}
