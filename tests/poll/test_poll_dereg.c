/*
 * test_poll_dereg.c: the deregister guarantee in its hard cases. Once cio_poll_deregister()
 * returns, no event of that registration is delivered: not one already sitting in the batch
 * being handled (even when the descriptor number has meanwhile been closed, reused and
 * registered again under a new token), not when a dup keeps the file open, not when the
 * program closed the descriptor first (deregister then says -EBADF), and not when a number is
 * closed without deregistering and reused while a dup keeps the old file alive.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cio/poll.h"
#include "harness.h"
#include "poll_helpers.h"

/* Put a fresh socketpair's first end at descriptor number `number` (which must be closed);
 * the pair's other end goes to *ret_peer. */
static void new_pair_at(int number, int *ret_peer)
{
    int sv[2];
    unix_pair(sv);
    if (sv[0] != number) {
        if (sv[1] == number) { /* the peer took the number: move it away first */
            int moved = (int)CHECK_SYS(fcntl(sv[1], F_DUPFD_CLOEXEC, number + 1));
            close(sv[1]);
            sv[1] = moved;
        }
        CHECK_EQ(dup3(sv[0], number, O_CLOEXEC), number);
        close(sv[0]);
    }
    CHECK_FD_FLAGS(number);
    *ret_peer = sv[1];
}

/* No event of any of the given tokens over a few waits. */
static void expect_none_of(cio_poll *poll, cio_events *events, const cio_token *tokens, int n)
{
    for (int w = 0; w < 4; w++) {
        struct collected c = {0};
        collect_once(poll, events, 15 * CIO_NSEC_PER_MSEC, &c);
        for (int i = 0; i < n; i++)
            if (token_flags(&c, tokens[i], NULL) != 0)
                TEST_FAIL("event for token %ju after its registration ended", (uintmax_t)tokens[i]);
    }
}

/* ---- (1) the batch case ---- */

enum reuse { REUSE_IDLE, REUSE_READY, REUSE_NONE, REUSE_REREGISTER_OTHER };

/*
 * A wait returns events for A and B. Handling the first of them, the program deregisters and
 * closes the other, opens a new socket on the same number and registers it under a new token.
 * The old event for that number, still in the batch, must not be delivered — neither with the
 * old token nor with the new one.
 */
static void check_batch(enum reuse reuse)
{
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(8);
    int a[2], b[2];
    unix_pair(a);
    unix_pair(b);
    CHECK_RC(cio_poll_register(poll, a[0], 1, CIO_READABLE));
    CHECK_RC(cio_poll_register(poll, b[0], 2, CIO_READABLE));
    write_byte(a[1]);
    write_byte(b[1]);
    /* Writes to a socketpair queue the data (and the edge) before they return: one wait
     * sees both, on either backend. */
    CHECK_EQ(cio_poll_wait(poll, events, CIO_NSEC_PER_SEC), 2);

    size_t it = 0;
    const cio_event *first = cio_events_next(events, &it);
    CHECK(first != NULL);
    CHECK(first->token == 1 || first->token == 2);
    cio_token other_token = first->token == 1 ? 2 : 1;
    int *other = first->token == 1 ? b : a;
    int *self = first->token == 1 ? a : b;
    int number = other[0];
    int new_peer = -1;
    const cio_token new_token = 3;

    switch (reuse) {
    case REUSE_IDLE:
    case REUSE_READY:
        CHECK_RC(cio_poll_deregister(poll, number));
        close(number);
        close(other[1]);
        new_pair_at(number, &new_peer);
        if (reuse == REUSE_READY)
            write_byte(new_peer); /* ready at registration: reported by the NEXT wait only */
        CHECK_RC(cio_poll_register(poll, number, new_token, CIO_READABLE));
        break;
    case REUSE_NONE:
        /* Deregister only (no close) and register again at once under the new token. */
        CHECK_RC(cio_poll_deregister(poll, number));
        CHECK_RC(cio_poll_register(poll, number, new_token, CIO_READABLE));
        break;
    case REUSE_REREGISTER_OTHER:
        /* Reregister is not deregister: the batched event survives, under the new token. */
        CHECK_RC(cio_poll_reregister(poll, number, new_token, CIO_READABLE));
        break;
    }

    const cio_event *second = cio_events_next(events, &it);
    if (reuse == REUSE_REREGISTER_OTHER) {
        CHECK(second != NULL);
        CHECK_EQ(second->token, new_token);
        CHECK_EQ(second->flags, CIO_EVENT_READABLE);
        second = cio_events_next(events, &it);
    }
    if (second != NULL)
        TEST_FAIL("stale event delivered: token %ju flags %#x (old token %ju, new %ju)",
                  (uintmax_t)second->token, second->flags, (uintmax_t)other_token,
                  (uintmax_t)new_token);

    /* Later waits: never the old token; the new registration reports exactly when its own
     * file is ready. */
    drain_fd(self[0]);
    cio_token old_only[] = {other_token};
    if (reuse == REUSE_IDLE) {
        cio_token both[] = {other_token, new_token};
        expect_none_of(poll, events, both, 2);
        write_byte(new_peer);
    }
    if (reuse != REUSE_REREGISTER_OTHER) {
        CHECK_EQ(wait_token(poll, events, new_token, 1000), CIO_EVENT_READABLE);
        expect_none_of(poll, events, old_only, 1);
    }

    CHECK_RC(cio_poll_deregister(poll, a[0]));
    CHECK_RC(cio_poll_deregister(poll, b[0]));
    close(a[0]);
    close(b[0]);
    close(self[1]);
    if (new_peer >= 0)
        close(new_peer);
    else
        close(other[1]);
    cio_events_free(events);
    cio_poll_free(poll);
}

static void test_batch_dereg_close_reuse_idle(void)
{
    check_batch(REUSE_IDLE);
}

static void test_batch_dereg_close_reuse_ready(void)
{
    check_batch(REUSE_READY);
}

static void test_batch_dereg_register_again(void)
{
    check_batch(REUSE_NONE);
}

static void test_batch_reregister_keeps_event(void)
{
    check_batch(REUSE_REREGISTER_OTHER);
}

/* A handler that deregisters its own descriptor mid-batch (the common "connection closed"
 * case) and the same for every event in a large batch: nothing after the deregister leaks. */
static void test_batch_dereg_many(void)
{
    enum { N = 32 };
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(N);
    int sv[N][2];
    for (int i = 0; i < N; i++) {
        unix_pair(sv[i]);
        CHECK_RC(cio_poll_register(poll, sv[i][0], (cio_token)i, CIO_READABLE));
        write_byte(sv[i][1]);
    }
    int n = 0;
    for (int tries = 0; tries < 20 && n < N; tries++) {
        for (int i = 0; i < N; i++)
            CHECK_RC(cio_poll_reregister(poll, sv[i][0], (cio_token)i, CIO_READABLE));
        n = CHECK_RC(cio_poll_wait(poll, events, CIO_NSEC_PER_SEC));
    }
    CHECK_EQ(n, N);
    /* While handling each event, deregister every odd descriptor not yet seen. */
    bool seen[N] = {false}, dropped[N] = {false};
    size_t it = 0;
    const cio_event *ev;
    int delivered = 0;
    while ((ev = cio_events_next(events, &it)) != NULL) {
        CHECK(ev->token < N);
        CHECK(!dropped[ev->token]);
        CHECK(!seen[ev->token]);
        seen[ev->token] = true;
        delivered++;
        for (int i = 1; i < N; i += 2)
            if (!seen[i] && !dropped[i]) {
                CHECK_RC(cio_poll_deregister(poll, sv[i][0]));
                dropped[i] = true;
                break;
            }
    }
    int ndropped = 0;
    for (int i = 0; i < N; i++)
        ndropped += dropped[i];
    CHECK_EQ(delivered + ndropped, N);
    for (int i = 0; i < N; i++) {
        if (!dropped[i])
            CHECK_RC(cio_poll_deregister(poll, sv[i][0]));
        close(sv[i][0]);
        close(sv[i][1]);
    }
    cio_events_free(events);
    cio_poll_free(poll);
}

/* ---- (2) duplicates keep the file alive ---- */

/* Deregistered and closed, but a dup lives on: the file becoming ready reports nothing. */
static void test_dup_lives_after_deregister_close(void)
{
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(8);
    int sv[2];
    unix_pair(sv);
    CHECK_RC(cio_poll_register(poll, sv[0], 1, CIO_READABLE | CIO_WRITABLE));
    int copy = (int)CHECK_SYS(fcntl(sv[0], F_DUPFD_CLOEXEC, 0));
    CHECK_RC(cio_poll_deregister(poll, sv[0]));
    close(sv[0]);
    write_byte(sv[1]);
    cio_token tokens[] = {1};
    expect_none_of(poll, events, tokens, 1);
    CHECK_SYS(shutdown(sv[1], SHUT_WR));
    expect_none_of(poll, events, tokens, 1);
    close(copy);
    close(sv[1]);
    cio_events_free(events);
    cio_poll_free(poll);
}

/*
 * Closed WITHOUT deregistering while a dup lives; the number is reused for a new
 * registration. The old file becoming ready must produce no event under either token, and the
 * new registration works normally. (Before the fix, the poll(2) backend refused the new
 * registration with -EEXIST when no wait had run since the close.)
 */
static void check_close_no_dereg_reuse(bool wait_between)
{
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(8);
    int old[2];
    unix_pair(old);
    int number = old[0];
    CHECK_RC(cio_poll_register(poll, number, 1, CIO_READABLE));
    int copy = (int)CHECK_SYS(fcntl(number, F_DUPFD_CLOEXEC, 0));
    close(number);
    if (wait_between)
        expect_none_of(poll, events, (cio_token[]){1}, 1);
    int new_peer;
    new_pair_at(number, &new_peer);
    CHECK_RC(cio_poll_register(poll, number, 2, CIO_READABLE));

    write_byte(old[1]); /* the old file (alive through copy) becomes ready */
    cio_token both[] = {1, 2};
    expect_none_of(poll, events, both, 2);
    CHECK_SYS(shutdown(old[1], SHUT_WR));
    expect_none_of(poll, events, both, 2);
    CHECK_EQ(drain_fd(copy), 1); /* the data really is there, on the old file */

    write_byte(new_peer);
    CHECK_EQ(wait_token(poll, events, 2, 1000), CIO_EVENT_READABLE);
    expect_none_of(poll, events, (cio_token[]){1}, 1);
    CHECK_RC(cio_poll_deregister(poll, number));
    CHECK_ERR(cio_poll_deregister(poll, number), -ENOENT);
    close(number);
    close(new_peer);
    close(copy);
    close(old[1]);
    cio_events_free(events);
    cio_poll_free(poll);
}

static void test_close_no_dereg_dup_reuse(void)
{
    check_close_no_dereg_reuse(false);
}

static void test_close_no_dereg_dup_wait_reuse(void)
{
    check_close_no_dereg_reuse(true);
}

/* The same number reused with no dup: the closed registration simply vanishes. */
static void test_close_no_dereg_reuse(void)
{
    for (int wait_between = 0; wait_between < 2; wait_between++) {
        cio_poll *poll = poll_new_default();
        cio_events *events = events_new(8);
        int old[2];
        unix_pair(old);
        int number = old[0];
        CHECK_RC(cio_poll_register(poll, number, 1, CIO_READABLE));
        write_byte(old[1]);
        close(number);
        if (wait_between && is_uring(poll)) {
            /* io_uring's poll request holds the file open: the edge that came before the
             * close may still be told (once), then nothing. */
            struct collected c = {0};
            collect_once(poll, events, 15 * CIO_NSEC_PER_MSEC, &c);
            CHECK(c.count <= 1);
        }
        if (wait_between)
            expect_none_of(poll, events, (cio_token[]){1}, 1);
        int new_peer;
        new_pair_at(number, &new_peer);
        CHECK_RC(cio_poll_register(poll, number, 2, CIO_READABLE));
        expect_none_of(poll, events, (cio_token[]){1, 2}, 2);
        write_byte(new_peer);
        CHECK_EQ(wait_token(poll, events, 2, 1000), CIO_EVENT_READABLE);
        CHECK_RC(cio_poll_deregister(poll, number));
        close(number);
        close(new_peer);
        close(old[1]);
        cio_events_free(events);
        cio_poll_free(poll);
    }
}

/* Closed without deregistering, the number reused by a file nobody registered: that file is
 * not registered (reregister and deregister say -ENOENT, on both backends) and its readiness
 * is never reported under the old token; registering it then works. */
static void test_close_no_dereg_reuse_unregistered(void)
{
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(8);
    int old[2];
    unix_pair(old);
    int number = old[0];
    CHECK_RC(cio_poll_register(poll, number, 1, CIO_READABLE));
    close(number);
    int new_peer;
    new_pair_at(number, &new_peer);
    CHECK_ERR(cio_poll_reregister(poll, number, 2, CIO_READABLE), -ENOENT);
    CHECK_ERR(cio_poll_deregister(poll, number), -ENOENT);
    CHECK_ERR(cio_poll_deregister(poll, number), -ENOENT);
    write_byte(new_peer);
    expect_none_of(poll, events, (cio_token[]){1, 2}, 2);
    CHECK_RC(cio_poll_register(poll, number, 3, CIO_READABLE));
    CHECK_EQ(wait_token(poll, events, 3, 1000), CIO_EVENT_READABLE);
    expect_none_of(poll, events, (cio_token[]){1, 2}, 2);
    CHECK_RC(cio_poll_deregister(poll, number));
    close(number);
    close(new_peer);
    close(old[1]);
    cio_events_free(events);
    cio_poll_free(poll);
}

/* ---- (3) deregister after close ---- */

static void test_deregister_after_close(void)
{
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(8);
    int sv[2];
    unix_pair(sv);
    int number = sv[0];
    CHECK_RC(cio_poll_register(poll, number, 1, CIO_READABLE));
    int copy = (int)CHECK_SYS(fcntl(number, F_DUPFD_CLOEXEC, 0));
    close(number);
    CHECK_ERR(cio_poll_deregister(poll, number), -EBADF);
    /* epoll still holds the file (the dup keeps it open); cio drops its events. */
    write_byte(sv[1]);
    expect_none_of(poll, events, (cio_token[]){1}, 1);
    /* The dup itself can be registered and works. */
    CHECK_RC(cio_poll_register(poll, copy, 4, CIO_READABLE));
    CHECK_EQ(wait_token(poll, events, 4, 1000), CIO_EVENT_READABLE);
    write_byte(sv[1]);
    CHECK_EQ(wait_token(poll, events, 4, 1000), CIO_EVENT_READABLE);
    expect_none_of(poll, events, (cio_token[]){1}, 1);
    /* The number, reused, is free in cio's table: it registers without -EEXIST. */
    int new_peer;
    new_pair_at(number, &new_peer);
    CHECK_RC(cio_poll_register(poll, number, 5, CIO_READABLE));
    write_byte(new_peer);
    CHECK_EQ(wait_token(poll, events, 5, 1000), CIO_EVENT_READABLE);
    CHECK_RC(cio_poll_deregister(poll, number));
    CHECK_RC(cio_poll_deregister(poll, copy));
    close(number);
    close(new_peer);
    close(copy);
    close(sv[1]);
    cio_events_free(events);
    cio_poll_free(poll);
}

/* A registered descriptor closed (no dup): the wait neither reports it nor spins on it. On
 * uring the poll request holds the file open until deregister: the edges that came before the
 * close may be told, once, and then nothing. */
static void test_closed_registration_does_not_spin(void)
{
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(8);
    int sv[2];
    unix_pair(sv);
    CHECK_RC(cio_poll_register(poll, sv[0], 1, CIO_READABLE | CIO_WRITABLE));
    write_byte(sv[1]);
    close(sv[0]);
    int waits = 0;
    cio_time start = cio_now();
    while (cio_now() - start < 60 * CIO_NSEC_PER_MSEC) {
        struct collected c = {0};
        collect_once(poll, events, 60 * CIO_NSEC_PER_MSEC, &c);
        if (!(is_uring(poll) && waits == 0))
            CHECK_EQ(c.count, 0);
        waits++;
        CHECK(waits < 5);
    }
    CHECK_ERR(cio_poll_deregister(poll, sv[0]), -EBADF);
    close(sv[1]);
    cio_events_free(events);
    cio_poll_free(poll);
}

/* Many short-lived registrations on recycled numbers: every wait reports only the current
 * registration's token, never an earlier one, whether or not the earlier one was deregistered. */
static void test_recycled_numbers(void)
{
    cio_poll *poll = poll_new_default();
    cio_events *events = events_new(8);
    for (int i = 0; i < 300; i++) {
        int sv[2];
        unix_pair(sv);
        cio_token token = 1000 + (cio_token)i;
        CHECK_RC(cio_poll_register(poll, sv[0], token, CIO_READABLE));
        write_byte(sv[1]);
        struct collected c = {0};
        collect_once(poll, events, CIO_NSEC_PER_SEC, &c);
        for (size_t k = 0; k < c.count; k++)
            if (c.ev[k].token != token)
                TEST_FAIL("iteration %d: token %ju from an earlier registration", i,
                          (uintmax_t)c.ev[k].token);
        CHECK_EQ(token_flags(&c, token, NULL), CIO_EVENT_READABLE);
        if (i % 3 == 0)
            CHECK_RC(cio_poll_deregister(poll, sv[0]));
        if (i % 3 == 1) { /* a late event on the way out: the peer closes first */
            close(sv[1]);
            close(sv[0]);
        } else {
            close(sv[0]);
            close(sv[1]);
        }
    }
    cio_events_free(events);
    cio_poll_free(poll);
}

CIO_TEST_MAIN(TEST(test_batch_dereg_close_reuse_idle), TEST(test_batch_dereg_close_reuse_ready),
              TEST(test_batch_dereg_register_again), TEST(test_batch_reregister_keeps_event),
              TEST(test_batch_dereg_many), TEST(test_dup_lives_after_deregister_close),
              TEST(test_close_no_dereg_dup_reuse), TEST(test_close_no_dereg_dup_wait_reuse),
              TEST(test_close_no_dereg_reuse), TEST(test_close_no_dereg_reuse_unregistered),
              TEST(test_deregister_after_close), TEST(test_closed_registration_does_not_spin),
              TEST(test_recycled_numbers))
