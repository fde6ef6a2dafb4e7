/*
 * test_unix_async_cancel.c: cancel safety of the async Unix operations under races.
 * Deadlines and cancellations are thrown at stream reads and peeks, descriptor receives,
 * accepts, read_exact/write_all, datagram receives and datagram sends while data, descriptors,
 * connections and datagrams keep moving: every byte must be read exactly once and in order,
 * every descriptor received exactly once (none leaked), every connection accepted, every
 * datagram received exactly once and in order — an operation cut short consumes nothing (a
 * send cut short sent nothing), and the loops report exactly what they moved.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cio/unix.h"
#include "test_tcp_async_helpers.h"

static unsigned next_rand(unsigned *state)
{
    *state = *state * 1103515245u + 12345u;
    return (*state >> 16) & 0x7fff;
}

/* A deadline 0 to 2 ms away. */
static cio_time short_deadline(unsigned *rng)
{
    return cio_deadline_set(cio_now() + (cio_duration)(next_rand(rng) % 3) * CIO_NSEC_PER_MSEC);
}

static void pause_a_little(unsigned *rng)
{
    if (next_rand(rng) % 4 == 0)
        CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
    else
        CHECK_RC(cio_yield());
}

/* ---- stream reads ---- */

struct trickle {
    cio_unix_stream *s;
    size_t len;
    size_t max_chunk;
    unsigned seed;
};

static void *trickle_writer(void *arg)
{
    struct trickle *t = arg;
    unsigned char buf[4096];
    unsigned rng = t->seed;
    size_t pos = 0;
    while (pos < t->len) {
        size_t n = 1 + next_rand(&rng) % t->max_chunk;
        if (n > t->len - pos)
            n = t->len - pos;
        pattern_fill(buf, n, pos, t->seed);
        CHECK_RC(cio_unix_stream_write_all(t->s, buf, n, NULL));
        pos += n;
        pause_a_little(&rng);
    }
    return NULL;
}

static void *main_read_race(void *arg)
{
    bool peek_first = arg != NULL;
    cio_unix_stream *c, *s;
    CHECK_RC(cio_unix_stream_pair(&c, &s));
    enum { LEN = 20000 };
    struct trickle t = {c, LEN, 64, 21};
    cio_task *w;
    CHECK_RC(cio_spawn(&w, trickle_writer, &t));
    unsigned char buf[100], peeked[100];
    size_t got = 0;
    int timeouts = 0;
    unsigned rng = 5;
    while (got < LEN) {
        cio_time saved = short_deadline(&rng);
        ssize_t p = 0;
        if (peek_first)
            p = cio_unix_stream_peek(s, peeked, 1 + next_rand(&rng) % sizeof(peeked));
        ssize_t n = p < 0 ? p : cio_unix_stream_read(s, buf, 1 + next_rand(&rng) % sizeof(buf));
        cio_deadline_restore(saved);
        if (n == -ETIMEDOUT) {
            timeouts++;
            continue;
        }
        CHECK(n > 0);
        if (peek_first)
            CHECK(memcmp(peeked, buf, (size_t)(p < n ? p : n)) == 0);
        CHECK_EQ(pattern_check(buf, (size_t)n, got, 21), n);
        got += (size_t)n;
    }
    CHECK(timeouts > 10);
    CHECK_RC(cio_task_join(w, NULL));
    cio_unix_stream_close(c);
    char x;
    CHECK_EQ(cio_unix_stream_read(s, &x, 1), 0);
    cio_unix_stream_close(s);
    return NULL;
}

static void test_read_deadline_race(void)
{
    run(main_read_race, NULL);
}

static void test_peek_read_deadline_race(void)
{
    run(main_read_race, (void *)1);
}

/* Reader tasks cancelled at random moments: a cancelled read took nothing. */
struct cancel_reader {
    cio_unix_stream *s;
    unsigned char *buf;
    size_t pos, len;
    int cancelled;
};

static void *read_until_cancelled(void *arg)
{
    struct cancel_reader *r = arg;
    while (r->pos < r->len) {
        ssize_t n = cio_unix_stream_read(r->s, r->buf + r->pos, r->len - r->pos);
        if (n == -ECANCELED) {
            r->cancelled++;
            return NULL;
        }
        CHECK(n > 0);
        r->pos += (size_t)n;
    }
    return NULL;
}

static void *main_cancel_race(void *arg)
{
    (void)arg;
    cio_unix_stream *c, *s;
    CHECK_RC(cio_unix_stream_pair(&c, &s));
    enum { LEN = 20000 };
    struct trickle t = {c, LEN, 200, 33};
    cio_task *w;
    CHECK_RC(cio_spawn(&w, trickle_writer, &t));
    struct cancel_reader r = {s, xmalloc(LEN), 0, LEN, 0};
    unsigned rng = 9;
    while (r.pos < LEN) {
        cio_task *rt;
        CHECK_RC(cio_spawn(&rt, read_until_cancelled, &r));
        pause_a_little(&rng);
        CHECK_RC(cio_task_cancel(rt));
        int jr = cio_task_join(rt, NULL);
        CHECK(jr == 0 || jr == -ECANCELED);
    }
    CHECK_EQ(pattern_check(r.buf, LEN, 0, 33), LEN);
    CHECK(r.cancelled > 10);
    CHECK_RC(cio_task_join(w, NULL));
    free(r.buf);
    cio_unix_stream_close(c);
    cio_unix_stream_close(s);
    return NULL;
}

static void test_cancel_race_no_loss(void)
{
    run(main_cancel_race, NULL);
}

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
        CHECK_EQ(cio_unix_stream_send_fds(f->s, &i, sizeof(i), f->fds, nfds), sizeof(i));
        if (next_rand(&rng) % 5 == 0)
            CHECK_EQ(cio_unix_stream_write(f->s, "-", 1), 1);
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
    cio_task *t;
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
        cio_time saved = short_deadline(&rng);
        ssize_t k = cio_unix_stream_recv_fds(b, buf, have == 0 ? 1 : 4 - have, got, 4, &n);
        cio_deadline_restore(saved);
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
    CHECK_RC(cio_task_join(t, NULL));
    CHECK_SYS(close(f.fds[0]));
    CHECK_SYS(close(f.fds[1]));
    cio_unix_stream_close(a);
    cio_unix_stream_close(b);
    CHECK_EQ(cio_test_open_fds(), base);
    return NULL;
}

static void test_recv_fds_deadline_race(void)
{
    run(main_recv_fds_race, NULL);
}

/* ---- accept ---- */

enum { CONNECTIONS = 200 };

static void *connector(void *arg)
{
    cio_addr *addr = arg;
    unsigned rng = 77;
    for (uint32_t i = 0; i < CONNECTIONS; i++) {
        cio_unix_stream *c;
        CHECK_RC(cio_unix_stream_connect(&c, addr));
        CHECK_RC(cio_unix_stream_write_all(c, &i, sizeof(i), NULL));
        cio_unix_stream_close(c);
        pause_a_little(&rng);
    }
    return NULL;
}

static void *main_accept_race(void *arg)
{
    (void)arg;
    cio_addr addr;
    char path[256];
    int len = snprintf(path, sizeof(path), "%s/accept.sock", cio_test_tmpdir());
    CHECK_RC(cio_addr_unix(&addr, path, (size_t)len));
    cio_unix_listener *l;
    CHECK_RC(cio_unix_listener_bind(&l, &addr, 0));
    cio_task *t;
    CHECK_RC(cio_spawn(&t, connector, &addr));
    bool seen[CONNECTIONS] = {false};
    int accepted = 0, timeouts = 0;
    unsigned rng = 3;
    while (accepted < CONNECTIONS) {
        cio_time saved = short_deadline(&rng);
        cio_unix_stream *s;
        int rc = cio_unix_listener_accept(l, &s, NULL);
        cio_deadline_restore(saved);
        if (rc == -ETIMEDOUT) {
            timeouts++;
            continue;
        }
        CHECK_RC(rc);
        uint32_t id = 0;
        CHECK_RC(cio_unix_stream_read_exact(s, &id, sizeof(id), NULL));
        CHECK(id < CONNECTIONS);
        CHECK(!seen[id]);
        seen[id] = true;
        accepted++;
        cio_unix_stream_close(s);
    }
    CHECK(timeouts > 10);
    CHECK_RC(cio_task_join(t, NULL));
    cio_time saved = cio_deadline_set(cio_now() + 20 * CIO_NSEC_PER_MSEC);
    cio_unix_stream *s;
    CHECK_ERR(cio_unix_listener_accept(l, &s, NULL), -ETIMEDOUT);
    cio_deadline_restore(saved);
    cio_unix_listener_close(l);
    return NULL;
}

static void test_accept_deadline_race(void)
{
    run(main_accept_race, NULL);
}

/* ---- write_all / read_exact resumed ---- */

struct slow_reader {
    cio_unix_stream *s;
    size_t len;
};

static void *read_exact_with_deadlines(void *arg)
{
    struct slow_reader *r = arg;
    unsigned char *buf = xmalloc(r->len);
    size_t got = 0;
    int cut = 0;
    unsigned rng = 17;
    while (got < r->len) {
        size_t want = 1 + next_rand(&rng) * 7u % 300000;
        if (want > r->len - got)
            want = r->len - got;
        size_t done = 0;
        cio_time saved = short_deadline(&rng);
        int rc = cio_unix_stream_read_exact(r->s, buf + got, want, &done);
        cio_deadline_restore(saved);
        CHECK(done <= want);
        got += done;
        if (rc == -ETIMEDOUT) {
            cut++;
            continue;
        }
        CHECK_RC(rc);
        CHECK_EQ(done, want);
        if (next_rand(&rng) % 8 == 0)
            CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
    }
    CHECK_EQ(pattern_check(buf, r->len, 0, 41), r->len);
    free(buf);
    return (void *)(intptr_t)cut;
}

static void *main_progress_race(void *arg)
{
    (void)arg;
    cio_unix_stream *c, *s;
    CHECK_RC(cio_unix_stream_pair(&c, &s));
    enum { LEN = 8 << 20 };
    unsigned char *data = xmalloc(LEN);
    pattern_fill(data, LEN, 0, 41);
    struct slow_reader r = {s, LEN};
    cio_task *t;
    CHECK_RC(cio_spawn(&t, read_exact_with_deadlines, &r));
    size_t sent = 0;
    int cut = 0;
    unsigned rng = 99;
    while (sent < LEN) {
        size_t want = 1 + next_rand(&rng) * 31u % (1 << 20);
        if (want > LEN - sent)
            want = LEN - sent;
        size_t done = 0;
        cio_time saved = short_deadline(&rng);
        int rc = cio_unix_stream_write_all(c, data + sent, want, &done);
        cio_deadline_restore(saved);
        CHECK(done <= want);
        sent += done;
        if (rc == -ETIMEDOUT) {
            cut++;
            continue;
        }
        CHECK_RC(rc);
        CHECK_EQ(done, want);
    }
    void *reader_cut;
    CHECK_RC(cio_task_join(t, &reader_cut));
    printf("    write_all cut %d times, read_exact cut %d times\n", cut, (int)(intptr_t)reader_cut);
    CHECK(cut + (int)(intptr_t)reader_cut > 0);
    free(data);
    cio_unix_stream_close(c);
    cio_unix_stream_close(s);
    return NULL;
}

static void test_write_all_read_exact_resume(void)
{
    run(main_progress_race, NULL);
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
        cio_time saved = short_deadline(&rng);
        ssize_t n = cio_unix_datagram_send(s->d, buf, len);
        cio_deadline_restore(saved);
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
    cio_task *t;
    CHECK_RC(cio_spawn(&t, dgram_sender_task, &s));
    unsigned rng = 8;
    int timeouts = 0;
    for (uint32_t expect = 0; expect < DATAGRAMS;) {
        unsigned char buf[64];
        cio_time saved = short_deadline(&rng);
        ssize_t n;
        switch (next_rand(&rng) % 3) {
        case 0:
            n = cio_unix_datagram_recv(b, buf, sizeof(buf));
            break;
        case 1: {
            /* A peek cut short or not, then a receive of the same datagram. */
            unsigned char p[64];
            n = cio_unix_datagram_peek(b, p, sizeof(p));
            if (n >= 0) {
                ssize_t m = cio_unix_datagram_recv(b, buf, sizeof(buf));
                CHECK_EQ(m, n);
                CHECK(memcmp(p, buf, (size_t)n) == 0);
            }
            break;
        }
        default: {
            cio_addr from;
            n = cio_unix_datagram_recv_from(b, buf, sizeof(buf), &from);
            if (n >= 0)
                CHECK_EQ(cio_addr_get_kind(&from), CIO_ADDR_UNNAMED);
            break;
        }
        }
        cio_deadline_restore(saved);
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
    CHECK_RC(cio_task_join(t, NULL));
    printf("    receives cut %d times, sends cut %d times\n", timeouts, s.cut);
    CHECK(timeouts > 10);
    CHECK(s.cut > 0);
    /* Nothing more queued. */
    cio_time saved = cio_deadline_set(cio_now() + 10 * CIO_NSEC_PER_MSEC);
    char x;
    CHECK_ERR(cio_unix_datagram_recv(b, &x, 1), -ETIMEDOUT);
    cio_deadline_restore(saved);
    cio_unix_datagram_close(a);
    cio_unix_datagram_close(b);
    return NULL;
}

static void test_datagram_deadline_race(void)
{
    run(main_dgram_race, NULL);
}

CIO_TEST_MAIN(TEST(test_read_deadline_race), TEST(test_peek_read_deadline_race),
              TEST(test_cancel_race_no_loss), TEST(test_recv_fds_deadline_race),
              TEST(test_accept_deadline_race), TEST(test_write_all_read_exact_resume),
              TEST(test_datagram_deadline_race))
