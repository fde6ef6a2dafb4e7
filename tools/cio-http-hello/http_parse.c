/*
 * http_parse.c: the request-head parser of cio-http-hello (see http_parse.h). Strict where a
 * lax reading could be exploited (request smuggling: a Content-Length that is not a plain
 * number, two different ones, Transfer-Encoding, folded header lines, stray control bytes) and
 * lenient where RFC 9112 allows it (bare LF line ends, empty lines before the request line).
 * It keeps no state between calls: a partial head is parsed again from its start when more
 * bytes have come, which costs little for heads of a few hundred bytes.
 */
#include <string.h>
#include <strings.h>

#include "http_parse.h"

/* tchar of RFC 9110: the characters of a method or a header name. */
static bool is_tchar(unsigned char c)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr(extra, c) != NULL;
}

/* A byte allowed in a header value: visible, space, tab, or obs-text. */
static bool is_field_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* The end of the line starting at @p (the '\n'), or NULL. */
static const char *line_end(const char *p, const char *end)
{
    if (p >= end)
        return NULL; /* (also tells the optimiser the length below is never negative) */
    return memchr(p, '\n', (size_t)(end - p));
}

/* The line [p, nl) without its '\r'; a '\r' anywhere else is invalid (checked by callers). */
static const char *strip_cr(const char *p, const char *nl)
{
    return nl > p && nl[-1] == '\r' ? nl - 1 : nl;
}

static int fail(http_request *req, int status)
{
    req->status = status;
    return HTTP_PARSE_ERROR;
}

/* Request line: METHOD SP TARGET SP HTTP/1.x */
static int parse_request_line(const char *p, const char *e, http_request *req)
{
    const char *m = p;
    while (p < e && is_tchar((unsigned char)*p))
        p++;
    if (p == m || p == e || *p != ' ')
        return fail(req, 400);
    req->head = (p - m == 4 && memcmp(m, "HEAD", 4) == 0);
    p++;
    const char *t = p;
    while (p < e && (unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f)
        p++;
    if (p == t || p == e || *p != ' ')
        return fail(req, 400);
    p++;
    if (e - p != 8 || memcmp(p, "HTTP/", 5) != 0 || !is_digit((unsigned char)p[5]) || p[6] != '.' ||
        !is_digit((unsigned char)p[7]))
        return fail(req, 400);
    if (p[5] != '1')
        return fail(req, 505);
    req->minor = (unsigned)(p[7] - '0');
    return HTTP_PARSE_DONE;
}

/* Does the comma-separated list [p, e) hold @token (case-insensitive)? */
static bool list_has(const char *p, const char *e, const char *token)
{
    size_t n = strlen(token);
    while (p < e) {
        while (p < e && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        const char *s = p;
        while (p < e && *p != ',')
            p++;
        const char *t = p;
        while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if ((size_t)(t - s) == n && strncasecmp(s, token, n) == 0)
            return true;
    }
    return false;
}

static bool name_is(const char *name, size_t len, const char *want)
{
    return strlen(want) == len && strncasecmp(name, want, len) == 0;
}

int http_parse_request(const char *buf, size_t len, http_request *req)
{
    memset(req, 0, sizeof(*req));
    const char *p = buf, *end = buf + len;

    /* Empty lines before the request line are ignored (RFC 9112, section 2.2). */
    while (p < end && (*p == '\r' || *p == '\n')) {
        if (*p == '\r' && (p + 1 == end || p[1] != '\n')) {
            if (p + 1 == end)
                break; /* may be the start of a CRLF */
            return fail(req, 400);
        }
        p += *p == '\r' ? 2 : 1;
    }

    const char *nl = line_end(p, end);
    if (nl == NULL) {
        /* Reject a request line that cannot become valid instead of waiting for more. */
        for (const char *q = p; q < end; q++) {
            unsigned char c = (unsigned char)*q;
            if ((c < 0x20 && c != '\r') || c == 0x7f || (c == '\r' && q + 1 < end))
                return fail(req, 400);
        }
        req->status = 414;
        return HTTP_PARSE_PARTIAL;
    }
    int rc = parse_request_line(p, strip_cr(p, nl), req);
    if (rc != HTTP_PARSE_DONE)
        return rc;

    bool close = false, keep_alive = false, have_length = false;
    uint64_t length = 0;
    p = nl + 1;
    for (;;) {
        nl = line_end(p, end);
        if (nl == NULL) {
            req->status = 431;
            return HTTP_PARSE_PARTIAL;
        }
        const char *e = strip_cr(p, nl);
        if (e == p)
            break; /* the empty line: end of the head */
        if (*p == ' ' || *p == '\t')
            return fail(req, 400); /* obsolete line folding */
        const char *name = p;
        while (p < e && is_tchar((unsigned char)*p))
            p++;
        if (p == name || p == e || *p != ':')
            return fail(req, 400);
        size_t name_len = (size_t)(p - name);
        p++;
        while (p < e && (*p == ' ' || *p == '\t'))
            p++;
        const char *v = p;
        for (; p < e; p++)
            if (!is_field_char((unsigned char)*p))
                return fail(req, 400);
        while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
            e--;

        if (name_is(name, name_len, "connection")) {
            close = close || list_has(v, e, "close");
            keep_alive = keep_alive || list_has(v, e, "keep-alive");
        } else if (name_is(name, name_len, "content-length")) {
            if (v == e)
                return fail(req, 400);
            uint64_t n = 0;
            for (const char *q = v; q < e; q++) {
                if (!is_digit((unsigned char)*q) || n > (UINT64_MAX - 9) / 10)
                    return fail(req, 400);
                n = n * 10 + (uint64_t)(*q - '0');
            }
            if (have_length && n != length)
                return fail(req, 400);
            have_length = true;
            length = n;
        } else if (name_is(name, name_len, "transfer-encoding")) {
            return fail(req, 501); /* chunked request bodies are not supported */
        }
        p = nl + 1;
    }
    req->head_len = (size_t)(nl + 1 - buf);
    req->content_length = length;
    req->keep_alive = req->minor >= 1 ? !close : keep_alive && !close;
    return HTTP_PARSE_DONE;
}
