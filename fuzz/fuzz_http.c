/*
 * fuzz_http.c: libFuzzer target for the request-head parser of cio-http-hello
 * (tools/cio-http-hello/http_parse.c), the code that reads every byte a client sends. Besides
 * "no crash, no read past the buffer" (AddressSanitizer, with the input in a buffer of its
 * exact size), it checks what the server relies on:
 *   - the result is one of the three HTTP_PARSE_* values, with a status the server can answer
 *     (an error: 400, 501 or 505; an incomplete head: 414 or 431 if the buffer is full);
 *   - a complete head ends with its '\n' inside the buffer, and parsing exactly those bytes
 *     gives the same request (the parser never looks past the head);
 *   - bytes arriving in pieces change nothing: every prefix shorter than a complete head, and
 *     every prefix of an incomplete one, is incomplete — never an error or a different head.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http_parse.h"

static bool same_request(const http_request *a, const http_request *b)
{
    return a->head_len == b->head_len && a->minor == b->minor && a->head == b->head &&
           a->keep_alive == b->keep_alive && a->content_length == b->content_length;
}

/* Parse the first @len bytes from a heap copy of exactly that size (so ASan sees any read past
 * the end even for a prefix). */
static int parse_prefix(const uint8_t *data, size_t len, http_request *req)
{
    char *copy = malloc(len > 0 ? len : 1);
    FUZZ_ASSERT(copy != NULL);
    memcpy(copy, data, len);
    memset(req, 0x5a, sizeof(*req));
    int rc = http_parse_request(copy, len, req);
    free(copy);
    return rc;
}

/* A prefix that stops before the head is complete must say "incomplete". */
static void check_incomplete_prefix(const uint8_t *data, size_t len)
{
    http_request req;
    int rc = parse_prefix(data, len, &req);
    FUZZ_ASSERT(rc == HTTP_PARSE_PARTIAL);
    FUZZ_ASSERT(req.status == 414 || req.status == 431);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    http_request req;
    int rc = parse_prefix(data, size, &req);
    switch (rc) {
    case HTTP_PARSE_ERROR:
        FUZZ_ASSERT(req.status == 400 || req.status == 501 || req.status == 505);
        return 0;
    case HTTP_PARSE_PARTIAL:
        FUZZ_ASSERT(req.status == 414 || req.status == 431);
        /* Some prefixes (all of them for short inputs). */
        for (size_t len = 0; len < size; len += size <= 64 ? 1 : size / 16 + 1)
            check_incomplete_prefix(data, len);
        return 0;
    case HTTP_PARSE_DONE:
        break;
    default:
        FUZZ_ASSERT(!"unknown result");
    }

    FUZZ_ASSERT(req.head_len > 0 && req.head_len <= size);
    FUZZ_ASSERT(data[req.head_len - 1] == '\n');
    FUZZ_ASSERT(req.minor <= 9);

    http_request exact;
    FUZZ_ASSERT(parse_prefix(data, req.head_len, &exact) == HTTP_PARSE_DONE);
    FUZZ_ASSERT(same_request(&req, &exact));

    check_incomplete_prefix(data, req.head_len - 1);
    for (size_t len = 0; len < req.head_len; len += req.head_len <= 64 ? 1 : req.head_len / 16 + 1)
        check_incomplete_prefix(data, len);

    /* A pipelined second request after the head is parsed from where the first ended. */
    if (req.head_len < size) {
        http_request next;
        int next_rc = parse_prefix(data + req.head_len, size - req.head_len, &next);
        FUZZ_ASSERT(next_rc == HTTP_PARSE_ERROR || next_rc == HTTP_PARSE_PARTIAL ||
                    next_rc == HTTP_PARSE_DONE);
    }
    return 0;
}
