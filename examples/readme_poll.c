/*
 * readme_poll.c: the smallest complete readiness loop, quoted in the README (the lines between
 * the markers). It registers one end of a socketpair, writes "hello" into the other end and
 * hangs up, then waits and drains until end of stream — and exits 0 by itself.
 */
#include <cio.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

/* README-BEGIN */
int main(void)
{
    cio_poll *poll;
    cio_events *events;
    int sv[2]; /* a connected pair: we write into sv[1] and watch sv[0] */
    if (cio_poll_new(&poll, NULL) < 0 || cio_events_new(&events, 64) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        return 1;
    cio_poll_register(poll, sv[0], 42, CIO_READABLE); /* 42: our token for sv[0] */
    send(sv[1], "hello", 5, MSG_NOSIGNAL);
    close(sv[1]); /* and hang up: sv[0] will read end of stream */
    char buf[64];
    ssize_t n = -1;
    while (n != 0 && cio_poll_wait_ms(poll, events, 1000) > 0)
        for (size_t it = 0; cio_events_next(events, &it) != NULL;) /* only token 42 here */
            while ((n = read(sv[0], buf, sizeof(buf))) > 0)        /* edge-triggered: drain */
                printf("read \"%.*s\"\n", (int)n, buf);
    cio_events_free(events);
    cio_poll_free(poll); /* stops watching sv[0]; closing it is ours */
    close(sv[0]);
    return n == 0 ? 0 : 1; /* 0: we reached end of stream */
}
/* README-END */
