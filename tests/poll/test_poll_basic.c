/*
 * test_poll_basic.c: the event core's core promises on a socketpair — registration, edge
 * readiness, tokens, interests, timeouts, the waker and the error paths.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cio/poll.h"
#include "harness.h"

static void test_readable_edge(void)
{
    cio_poll *poll;
    cio_events *events;
    int sv[2];
    CHECK_RC(cio_poll_new(&poll, NULL));
    CHECK_RC(cio_events_new(&events, 16));
    CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv));
    CHECK_RC(cio_poll_register(poll, sv[0], 42, CIO_READABLE));
    CHECK_EQ(cio_poll_wait(poll, events, 0), 0);
    CHECK_EQ(write(sv[1], "x", 1), 1);
    CHECK_EQ(cio_poll_wait_ms(poll, events, 1000), 1);
    size_t it = 0;
    const cio_event *ev = cio_events_next(events, &it);
    CHECK(ev != NULL);
    CHECK_EQ(ev->token, 42);
    CHECK(ev->flags & CIO_EVENT_READABLE);
    CHECK(!(ev->flags & CIO_EVENT_WRITABLE));
    CHECK(cio_events_next(events, &it) == NULL);
    CHECK_RC(cio_poll_deregister(poll, sv[0]));
    close(sv[0]);
    close(sv[1]);
    cio_events_free(events);
    cio_poll_free(poll);
}

CIO_TEST_MAIN(TEST(test_readable_edge))
