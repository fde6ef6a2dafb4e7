/*
 * args.c: command-line helpers of the tools — the program name for messages, "--opt VALUE" and
 * "--opt=VALUE" options, bounded decimal numbers, and the usage error that ends the program
 * with exit status 2, so every tool rejects a bad command line the same way.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

const char *tool_name = "cio-tool";

void tool_init(const char *name)
{
    tool_name = name;
}

_Noreturn void tool_usage_error(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", tool_name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help'.\n", tool_name);
    exit(TOOL_EXIT_USAGE);
}

bool tool_opt_value(int argc, char **argv, int *i, const char *name, const char **ret_value)
{
    const char *arg = argv[*i];
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0)
        return false;
    if (arg[n] == '=') {
        *ret_value = arg + n + 1;
        *i += 1;
        return true;
    }
    if (arg[n] != '\0')
        return false;
    if (*i + 1 >= argc)
        tool_usage_error("option '%s' needs a value", name);
    *ret_value = argv[*i + 1];
    *i += 2;
    return true;
}

uint64_t tool_parse_uint(const char *opt, const char *text, uint64_t min, uint64_t max)
{
    /* strtoull accepts leading spaces, signs and "0x"; a command line number should not. */
    if (text[0] < '0' || text[0] > '9')
        tool_usage_error("%s: '%s' is not a number", opt, text);
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (*end != '\0')
        tool_usage_error("%s: '%s' is not a number", opt, text);
    if (errno == ERANGE || v < min || v > max)
        tool_usage_error("%s: %s is out of range (%" PRIu64 " to %" PRIu64 ")", opt, text, min,
                         max);
    return (uint64_t)v;
}
