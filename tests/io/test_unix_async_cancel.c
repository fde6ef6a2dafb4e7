/*
 * test_unix_async_cancel.c: cancel safety of what only Unix sockets have, under races.
 * Deadlines are thrown at descriptor receives on a stream, and at datagram receives and sends,
 * while descriptors and datagrams keep moving: every descriptor is received exactly once
 * (none leaked), every datagram exactly once and in order — an operation cut short consumes
 * nothing (a send cut short sent nothing). The races both kinds of stream share are in
 * test_stream_async_cancel.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "stream_kinds.h"

/* ---- descriptor receives ---- */

enum { FD_MESSAGES = 300 };

struct fd_sender {
    cio_unix_stream *s;
    int fds[2];
};

/* Message i: 4 bytes (i), with 1 or 2 descriptors; a plain 1-byte filler in between now and
 * then (it comes with no descriptors). */
static void *fd_sender_task(void *arg)
{
    struct fd_sender *f = arg;
    unsigned rng = 71;
    for (uint32_t i = 0; i < FD_MESSAGES; i++) {
        size_t nfds = 1 + i % 2;
        CHECK_EQ(cio_unix_send_fds(f->s, &i, sizeof(i), f->fds, nfds, NULL), sizeof(i));
        if (next_rand(&rng) % 5 == 0)
            CHECK_EQ(cio_stream_write(f->s, "-", 1), 1);
        pause_a_little(&rng);
    }
    return NULL;
}

static void *main_recv_fds_race(void *arg)
{
    (void)arg;
    int base = cio_test_open_fds();
    cio_unix_stream *a, *b;
    CHECK_RC(cio_unix_stream_pair(&a, &b));
    struct fd_sender f = {a, {-1, -1}};
    CHECK_SYS(pipe2(f.fds, O_NONBLOCK | O_CLOEXEC));
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, fd_sender_task, &f));
    /* Read one message at a time: 4 bytes hold exactly one message's descriptors, and the
     * 1-byte fillers come in between. */
    uint32_t expect = 0;
    size_t received_fds = 0;
    int timeouts = 0;
    unsigned rng = 13;
    unsigned char pending[4];
    size_t have = 0;
    while (expect < FD_MESSAGES) {
        int got[4];
        size_t n = 99;
        unsigned char buf[4];
        ssize_t k =
            CIO_TIMEOUT(short_timeout(&rng),
                        cio_unix_recv_fds(b, buf, have == 0 ? 1 : 4 - have, got, 4, &n, NULL));
        if (k == -ETIMEDOUT) {
            timeouts++;
            continue;
        }
        CHECK(k > 0);
        if (have == 0 && buf[0] == '-' && n == 0) {
            continue; /* a filler */
        }
        memcpy(pending + have, buf, (size_t)k);
        have += (size_t)k;
        for (size_t i = 0; i < n; i++) {
            CHECK_FD_FLAGS(got[i]);
            CHECK_SYS(close(got[i]));
        }
        received_fds += n;
        if (have == 4) {
            uint32_t id;
            memcpy(&id, pending, 4);
            CHECK_EQ(id, expect);
            expect++;
            have = 0;
        }
    }
    CHECK(timeouts > 10);
    /* Each message's descriptors came exactly once. */
    CHECK_EQ(received_fds, FD_MESSAGES / 2 * 3);
    CHECK_RC(cio_task_join(t, NULL, NULL));
    CHECK_SYS(close(f.fds[0]));
    CHECK_SYS(close(f.fds[1]));
    cio_socket_close(a);
    cio_socket_close(b);
    CHECK_EQ(cio_test_open_fds(), base);
    return NULL;
}

static void test_recv_fds_deadline_race(void)
{
    run(main_recv_fds_race, NULL);
}

/* ---- datagrams ---- */

enum { DATAGRAMS = 3000 };

/* Sends numbered datagrams with deadlines that cut the sends while the receiver's queue is
 * full: a send cut short sent nothing, so the same number is sent again. Blocks of 256
 * alternate: a fast sender against a slow receiver (sends cut), then the other way round
 * (receives cut). */
struct dgram_sender {
    cio_unix_datagram *d;
    int cut;
};

static void *dgram_sender_task(void *arg)
{
    struct dgram_sender *s = arg;
    unsigned rng = 55;
    for (uint32_t i = 0; i < DATAGRAMS;) {
        unsigned char buf[64];
        size_t len = sizeof(i) + next_rand(&rng) % 60;
        memcpy(buf, &i, sizeof(i));
        memset(buf + sizeof(i), (int)(i & 0xff), len - sizeof(i));
        ssize_t n = CIO_TIMEOUT(short_timeout(&rng), cio_dgram_send(s->d, buf, len));
        if (n == -ETIMEDOUT) {
            s->cut++;
            continue;
        }
        CHECK_EQ(n, len);
        i++;
        if ((i / 256) % 2 == 1) /* odd blocks: slow, the receiver waits */
            pause_a_little(&rng);
    }
    return NULL;
}

static void *main_dgram_race(void *arg)
{
    (void)arg;
    cio_unix_datagram *a, *b;
    CHECK_RC(cio_unix_datagram_pair(&a, &b));
    struct dgram_sender s = {a, 0};
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, dgram_sender_task, &s));
    unsigned rng = 8;
    int timeouts = 0;
    for (uint32_t expect = 0; expect < DATAGRAMS;) {
        unsigned char buf[64];
        ssize_t n;
        {
            CIO_TIMEOUT_SCOPE(short_timeout(&rng)); /* whichever receive comes */
            switch (next_rand(&rng) % 3) {
            case 0:
                n = cio_dgram_recv(b, buf, sizeof(buf));
                break;
            case 1: {
                /* A peek cut short or not, then a receive of the same datagram. */
                unsigned char p[64];
                n = cio_dgram_peek(b, p, sizeof(p));
                if (n >= 0) {
                    ssize_t m = cio_dgram_recv(b, buf, sizeof(buf));
                    CHECK_EQ(m, n);
                    CHECK(memcmp(p, buf, (size_t)n) == 0);
                }
                break;
            }
            default: {
                cio_addr from;
                n = cio_dgram_recv_from(b, buf, sizeof(buf), &from);
                if (n >= 0)
                    CHECK_EQ(cio_addr_get_kind(&from), CIO_ADDR_UNNAMED);
                break;
            }
            }
        }
        if (n == -ETIMEDOUT) {
            timeouts++;
            continue;
        }
        CHECK(n >= (ssize_t)sizeof(uint32_t));
        uint32_t id;
        memcpy(&id, buf, sizeof(id));
        CHECK_EQ(id, expect); /* none lost, none twice, in order */
        for (ssize_t i = sizeof(id); i < n; i++)
            CHECK_EQ(buf[i], id & 0xff);
        expect++;
        /* Even blocks: fall behind, so the sender meets a full queue. */
        if ((expect / 256) % 2 == 0 && expect % 4 == 0)
            CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
    }
    CHECK_RC(cio_task_join(t, NULL, NULL));
    printf("    receives cut %d times, sends cut %d times\n", timeouts, s.cut);
    CHECK(timeouts > 10);
    CHECK(s.cut > 0);
    /* Nothing more queued. */
    char x;
    CHECK_ERR(CIO_TIMEOUT(10 * CIO_NSEC_PER_MSEC, cio_dgram_recv(b, &x, 1)), -ETIMEDOUT);
    cio_socket_close(a);
    cio_socket_close(b);
    return NULL;
}

static void test_datagram_deadline_race(void)
{
    run(main_dgram_race, NULL);
}

CIO_TEST_MAIN(TEST(test_recv_fds_deadline_race), TEST(test_datagram_deadline_race))
