/*
 * http_parse.h: the HTTP/1.x request-head parser of cio-http-hello. It reads one request head
 * (request line and header fields, up to the empty line) from the front of a buffer without
 * copying it, validates it as RFC 9112 asks of a server, and extracts what the server acts on:
 * the version, the method (HEAD gets no body), whether the connection stays open, and the
 * length of a body to skip. A head that is not complete yet is reported as such, together with
 * the status to answer if it can never fit in the buffer.
 */
#ifndef CIO_HTTP_PARSE_H
#define CIO_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    HTTP_PARSE_ERROR = -1,  /* malformed or unsupported: answer req->status and close */
    HTTP_PARSE_PARTIAL = 0, /* incomplete: read more (req->status says what to answer if the
                               buffer is already full: 414 or 431) */
    HTTP_PARSE_DONE = 1,    /* a complete head of req->head_len bytes */
};

typedef struct http_request {
    size_t head_len;         /* bytes through the empty line (leading empty lines included) */
    unsigned minor;          /* HTTP/1.minor */
    bool head;               /* the HEAD method: the answer has no body */
    bool keep_alive;         /* the connection stays open after the answer */
    bool metrics;            /* the target is /metrics: the runtime's metrics, not hello */
    uint64_t content_length; /* body bytes that follow the head (to be skipped) */
    int status;              /* the error status to answer (400, 414, 431, 501, 505) */
} http_request;

/* Parse the request head at the front of [buf, buf + len). Returns HTTP_PARSE_*. */
int http_parse_request(const char *buf, size_t len, http_request *req);

#endif
