/*
 * stream.c: the tools' stream over cio's TCP and Unix streams — connecting to an endpoint (a
 * literal TCP or Unix address, or a host name resolved by cio with happy eyeballs), closing
 * either kind — and answer-then-close with a lingering read on any stream.
 */
#include "tool.h"

void tool_stream_close(tool_stream *s)
{
    cio_socket_close(s->unx);
    cio_socket_close(s->tcp);
    *s = (tool_stream){0};
}

void tool_linger(cio_stream *s, cio_duration linger)
{
    if (cio_socket_shutdown(s, CIO_SHUTDOWN_WRITE) == 0) {
        char sink[4096];
        CIO_TIMEOUT_SCOPE(linger);
        while (cio_stream_read(s, sink, sizeof(sink)) > 0)
            ;
    }
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
