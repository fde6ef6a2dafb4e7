/*
 * http_parse.c: the request-head parser of cio-http-hello (see http_parse.h). Strict where a
 * lax reading could be exploited (request smuggling: a Content-Length that is not a plain
 * number, two different ones, Transfer-Encoding, folded header lines, stray control bytes) and
 * lenient where RFC 9112 allows it (bare LF line ends, empty lines before the request line).
 * It keeps no state between calls: a partial head is parsed again from its start when more
 * bytes have come, which costs little for heads of a few hundred bytes.
 *
 * It is on the path of every request, so it does as little per byte as it can: one pass over
 * the complete lines (when the buffer ends inside a line, that line is judged apart), in which
 * the scans of methods, targets and header names test no buffer bound (every line ends with a
 * '\n', which none of them accepts), header values are checked eight bytes at a time, and a
 * header name is compared only when its length is that of a name the server acts on.
 */
#include <string.h>

#include "http_parse.h"

/* tchar of RFC 9110, the characters of a method or a header name, as a constant expression. */
#define TCHAR(c)                                                                                   \
    (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') || ((c) >= '0' && (c) <= '9') ||     \
     (c) == '!' || (c) == '#' || (c) == '$' || (c) == '%' || (c) == '&' || (c) == '\'' ||          \
     (c) == '*' || (c) == '+' || (c) == '-' || (c) == '.' || (c) == '^' || (c) == '_' ||           \
     (c) == '`' || (c) == '|' || (c) == '~')
#define TCHAR4(c) TCHAR(c), TCHAR((c) + 1), TCHAR((c) + 2), TCHAR((c) + 3)
#define TCHAR16(c) TCHAR4(c), TCHAR4((c) + 4), TCHAR4((c) + 8), TCHAR4((c) + 12)
#define TCHAR64(c) TCHAR16(c), TCHAR16((c) + 16), TCHAR16((c) + 32), TCHAR16((c) + 48)
static const bool is_tchar[256] = {TCHAR64(0), TCHAR64(64), TCHAR64(128), TCHAR64(192)};

/* A byte of a request target: visible ASCII. */
static bool is_target_char(unsigned char c)
{
    return (unsigned char)(c - 0x21) < 0x7f - 0x21;
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

/* The high bit of each of the eight bytes of @w that may not be a field character: every byte
 * below 0x20 (the tab too) or equal to 0x7f is flagged, and so are 0x80..0x9f and 0xff, which
 * the caller's byte loop then accepts. Exact per byte: no carry crosses a byte. */
static uint64_t maybe_control(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101u;
    uint64_t low7 = w & (0x7f * ones); /* b & 0x7f */
    uint64_t del = low7 + ones;        /* high bit set where b & 0x7f == 0x7f */
    uint64_t ctl = low7 + 0x60 * ones; /* high bit clear where b & 0x7f < 0x20 */
    return (del | ~ctl) & (0x80 * ones);
}

/* The index, in memory order, of the first byte flagged in @flags (nonzero); 0 where that is not
 * cheap to find (the bytes from there are then tested one by one). */
static unsigned first_flagged(uint64_t flags)
{
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return (unsigned)__builtin_ctzll(flags) / 8;
#else
    (void)flags;
    return 0;
#endif
}

/* The first byte from @p that is not a field character: '\n' at the latest, which the line
 * has before @end. Eight bytes at a time while they are plain. */
static const unsigned char *skip_field(const unsigned char *p, const unsigned char *end)
{
    if (end - p >= 8) {
        const unsigned char *last = end - 8;
        do {
            uint64_t w;
            memcpy(&w, p, sizeof(w));
            uint64_t flags = maybe_control(w);
            if (flags != 0) {
                p += first_flagged(flags);
                break;
            }
            p += 8;
        } while (p <= last);
    }
    while (is_field_char(*p))
        p++;
    return p;
}

/*
 * Is [s, s + n) the @token (of length @len: lowercase letters and '-'), ignoring ASCII case?
 * A byte with bit 5 set is a lowercase letter only if it was that letter or its uppercase, and
 * '-' only if it was '-' or '\r'; @s holds no '\r' (a header name, or a piece of a header
 * value, both checked before).
 */
static bool token_is(const unsigned char *s, size_t n, const char *token, size_t len)
{
    if (n != len)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((s[i] | 0x20) != (unsigned char)token[i])
            return false;
    return true;
}

/* The names the server acts on, lowercase. */
#define NAME_CONNECTION "connection"
#define NAME_CONTENT_LENGTH "content-length"
#define NAME_TRANSFER_ENCODING "transfer-encoding"
#define LEN(s) (sizeof(s) - 1)

/* Note "close" and "keep-alive" in a Connection header's comma-separated list [p, e). */
static void connection_options(const unsigned char *p, const unsigned char *e, bool *close,
                               bool *keep_alive)
{
    while (p < e) {
        while (p < e && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        const unsigned char *s = p;
        while (p < e && *p != ',')
            p++;
        const unsigned char *t = p;
        while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if (token_is(s, (size_t)(t - s), "close", LEN("close")))
            *close = true;
        else if (token_is(s, (size_t)(t - s), "keep-alive", LEN("keep-alive")))
            *keep_alive = true;
    }
}

static int fail(http_request *req, int status)
{
    req->status = status;
    return HTTP_PARSE_ERROR;
}

/* What the header fields say so far. */
struct fields {
    bool close, keep_alive, have_length;
    uint64_t length;
};

/*
 * Act on the header field @name (of a length the server acts on) with the value [v, e) (after
 * the colon, up to the line end). Returns 0, or the status to answer.
 */
static int header_field(const unsigned char *name, size_t name_len, const unsigned char *v,
                        const unsigned char *e, struct fields *f)
{
    /* The value without the whitespace around it. */
    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    if (token_is(name, name_len, NAME_CONNECTION, LEN(NAME_CONNECTION))) {
        connection_options(v, e, &f->close, &f->keep_alive);
    } else if (token_is(name, name_len, NAME_CONTENT_LENGTH, LEN(NAME_CONTENT_LENGTH))) {
        if (v == e)
            return 400;
        uint64_t n = 0;
        for (const unsigned char *q = v; q < e; q++) {
            if (!is_digit(*q) || n > (UINT64_MAX - 9) / 10)
                return 400;
            n = n * 10 + (uint64_t)(*q - '0');
        }
        if (f->have_length && n != f->length)
            return 400;
        f->have_length = true;
        f->length = n;
    } else if (token_is(name, name_len, NAME_TRANSFER_ENCODING, LEN(NAME_TRANSFER_ENCODING))) {
        return 501; /* chunked request bodies are not supported */
    }
    return 0;
}

/*
 * Parse the head at the front of [start, end), where every line is complete: @end is @start or
 * follows a '\n'. So a scan that stops at '\n' needs no bound, and a byte other than '\n' has
 * another after it.
 */
static int parse_lines(const unsigned char *start, const unsigned char *end, http_request *req)
{
    const unsigned char *p = start;
    memset(req, 0, sizeof(*req));

    /* Empty lines before the request line are ignored (RFC 9112, section 2.2). */
    while (p < end && (*p == '\r' || *p == '\n')) {
        if (*p == '\r' && p[1] != '\n')
            return fail(req, 400);
        p += *p == '\r' ? 2 : 1;
    }
    if (p == end) {
        req->status = 414; /* (the caller judges the unfinished request line) */
        return HTTP_PARSE_PARTIAL;
    }

    /* Request line: METHOD SP TARGET SP HTTP/1.x */
    if (end - p >= 4 && memcmp(p, "GET ", 4) == 0) {
        p += 3;
    } else {
        const unsigned char *m = p;
        while (is_tchar[*p])
            p++;
        if (p == m || *p != ' ')
            return fail(req, 400);
        req->head = (p - m == 4 && memcmp(m, "HEAD", 4) == 0);
    }
    const unsigned char *t = ++p;
    while (is_target_char(*p))
        p++;
    if (p == t || *p != ' ')
        return fail(req, 400);
    req->metrics = p - t == 8 && memcmp(t, "/metrics", 8) == 0;
    p++;
    /* Eight bytes of version, then the line end (nine bytes at least: the line has its '\n'). */
    if (end - p < 9)
        return fail(req, 400);
    if (memcmp(p, "HTTP/1.1", 8) != 0) {
        if (memcmp(p, "HTTP/", 5) != 0 || !is_digit(p[5]) || p[6] != '.' || !is_digit(p[7]))
            return fail(req, 400);
    }
    const unsigned char *nl = p + 8 + (p[8] == '\r');
    if (*nl != '\n')
        return fail(req, 400);
    if (p[5] != '1')
        return fail(req, 505);
    req->minor = (unsigned)(p[7] - '0');
    p = nl + 1;

    struct fields f = {0};
    for (;;) {
        if (p == end) {
            req->status = 431;
            return HTTP_PARSE_PARTIAL;
        }
        /* A name (a line starting with a space or tab, obsolete folding, has none). */
        const unsigned char *name = p;
        while (is_tchar[*p])
            p++;
        if (*p != ':' || p == name) {
            if (p == name && (*p == '\n' || (*p == '\r' && p[1] == '\n'))) {
                p += *p == '\r' ? 2 : 1; /* the empty line: end of the head */
                break;
            }
            return fail(req, 400);
        }
        size_t name_len = (size_t)(p - name);
        const unsigned char *v = ++p;
        const unsigned char *e = skip_field(p, end);
        nl = e + (*e == '\r');
        if (*nl != '\n')
            return fail(req, 400); /* a control byte, or a '\r' not ending the line */
        p = nl + 1;
        if (name_len == LEN(NAME_CONNECTION) || name_len == LEN(NAME_CONTENT_LENGTH) ||
            name_len == LEN(NAME_TRANSFER_ENCODING)) {
            int status = header_field(name, name_len, v, e, &f);
            if (status != 0)
                return fail(req, status);
        }
    }
    req->head_len = (size_t)(p - start);
    req->content_length = f.length;
    req->keep_alive = req->minor >= 1 ? !f.close : f.keep_alive && !f.close;
    return HTTP_PARSE_DONE;
}

/* The request line [p, end) has no end yet: reject it if it can never become valid (a control
 * byte, or a '\r' that is not the last byte and so not part of its CRLF), else wait for more. */
static int unfinished_request_line(const unsigned char *p, const unsigned char *end,
                                   http_request *req)
{
    for (; p < end; p++) {
        unsigned char c = *p;
        if ((c < 0x20 && c != '\r') || c == 0x7f || (c == '\r' && p + 1 < end))
            return fail(req, 400);
    }
    req->status = 414;
    return HTTP_PARSE_PARTIAL;
}

int http_parse_request(const char *buf, size_t len, http_request *req)
{
    const unsigned char *start = (const unsigned char *)buf, *end = start + len;
    /* When the buffer ends inside a line, the lines before it are parsed: an unfinished header
     * line waits for more whatever it holds, an unfinished request line is judged apart. */
    const unsigned char *lines_end = end;
    if (len > 0 && end[-1] != '\n') {
        lines_end--;
        while (lines_end > start && lines_end[-1] != '\n')
            lines_end--;
    }
    int rc = parse_lines(start, lines_end, req);
    if (rc == HTTP_PARSE_PARTIAL && req->status == 414 && lines_end < end)
        return unfinished_request_line(lines_end, end, req);
    return rc;
}
