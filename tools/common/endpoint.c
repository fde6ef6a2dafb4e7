/*
 * endpoint.c: endpoint text of the tools' command lines mapped to what cio connects to or
 * listens on. Literal addresses go through cio_addr_parse() (IPv4, [IPv6], Unix paths,
 * @abstract names); anything else of the form HOST:PORT is kept as a name for cio to resolve
 * when it is used (cio_tcp_stream_connect(), cio_tcp_listener_new_name()). The checks here
 * only catch typing mistakes early, so that a bad command line is exit status 2 rather than a
 * failure on the first connection.
 */
#include <errno.h>
#include <string.h>

#include "tool.h"

static bool host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
}

int tool_endpoint_parse(tool_endpoint *ret, const char *text, bool allow_names)
{
    if (text == NULL || text[0] == '\0')
        return -EINVAL;
    tool_endpoint ep;
    memset(&ep, 0, sizeof(ep));
    if (strlen(text) >= sizeof(ep.text))
        return -ENAMETOOLONG;
    strcpy(ep.text, text);

    int rc = cio_addr_parse(&ep.addr, text);
    if (rc == 0) {
        switch (cio_addr_get_kind(&ep.addr)) {
        case CIO_ADDR_IPV4:
        case CIO_ADDR_IPV6:
            ep.kind = TOOL_TCP;
            break;
        case CIO_ADDR_UNIX:
        case CIO_ADDR_ABSTRACT:
            ep.kind = TOOL_UNIX;
            break;
        default:
            return -EINVAL;
        }
        *ret = ep;
        return 0;
    }
    /* A path, abstract name or bracketed IPv6 literal that did not parse is not a name. */
    if (!allow_names || text[0] == '/' || text[0] == '.' || text[0] == '@' || text[0] == '[')
        return rc;

    const char *colon = strrchr(text, ':');
    if (colon == NULL || colon == text || colon[1] == '\0' || strlen(colon + 1) > 5)
        return -EINVAL;
    unsigned long port = 0;
    for (const char *p = colon + 1; *p; p++) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        port = port * 10 + (unsigned long)(*p - '0');
    }
    if (port > 65535)
        return -EINVAL;
    /* A name has no colon (an IPv6 literal needs brackets) and no odd characters. */
    for (const char *p = text; p < colon; p++)
        if (!host_char(*p))
            return -EINVAL;
    ep.kind = TOOL_TCP;
    ep.is_name = true;
    *ret = ep;
    return 0;
}
