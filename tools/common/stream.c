/*
 * stream.c: the tools' stream over cio's TCP and Unix streams — shutting down and closing
 * either kind, answer-then-close with a lingering read, connecting to an endpoint (a literal
 * TCP or Unix address, or a host name resolved by cio with happy eyeballs), and the relay's
 * two-way copy: cio_stream_copy_bidirectional() for any pair of kinds (TCP/TCP, Unix/Unix,
 * Unix/TCP), splice through a pipe, half-close carried across.
 */
#include <errno.h>

#include "tool.h"

int tool_stream_shutdown(tool_stream *s, cio_shutdown how)
{
    cio_stream *core = tool_stream_core(s);
    return core != NULL ? cio_socket_shutdown(core, how) : -EBADF;
}

void tool_stream_close(tool_stream *s)
{
    cio_socket_close(s->unx);
    cio_socket_close(s->tcp);
    *s = (tool_stream){0};
}

void tool_stream_linger_close(tool_stream *s, cio_duration linger)
{
    if (s->kind != 0 && tool_stream_shutdown(s, CIO_SHUTDOWN_WRITE) == 0) {
        char sink[4096];
        CIO_TIMEOUT_SCOPE(linger);
        while (tool_stream_read(s, sink, sizeof(sink)) > 0)
            ;
    }
    tool_stream_close(s);
}

int tool_stream_connect(tool_stream *ret, const tool_endpoint *ep)
{
    int rc;
    if (ep->kind == TOOL_UNIX) {
        cio_unix_stream *unx;
        rc = cio_unix_stream_connect(&unx, &ep->addr);
        if (rc == 0)
            tool_stream_init_unix(ret, unx);
        return rc;
    }
    cio_tcp_stream *tcp;
    rc = ep->is_name ? cio_tcp_stream_connect(&tcp, ep->text)
                     : cio_tcp_stream_connect_addr(&tcp, &ep->addr);
    if (rc == 0)
        tool_stream_init_tcp(ret, tcp);
    return rc;
}

int tool_copy_bidirectional(tool_stream *a, tool_stream *b, uint64_t *ret_a_to_b,
                            uint64_t *ret_b_to_a)
{
    uint64_t ab = 0, ba = 0;
    cio_stream *sa = tool_stream_core(a), *sb = tool_stream_core(b);
    int rc = sa != NULL && sb != NULL ? cio_stream_copy_bidirectional(sa, sb, &ab, &ba) : -EBADF;
    if (ret_a_to_b != NULL)
        *ret_a_to_b = ab;
    if (ret_b_to_a != NULL)
        *ret_b_to_a = ba;
    return rc;
}
