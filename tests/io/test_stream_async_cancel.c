/*
 * test_stream_async_cancel.c: cancel safety of the async stream operations under races, each
 * case run for TCP and for Unix streams. Deadlines and cancellations are thrown at reads,
 * peeks, accepts, read_exact and write_all while data and connections keep arriving; every
 * byte sent must be read exactly once, in order, and every connection made must be accepted:
 * an operation cut short consumes nothing, and the loops report exactly what they moved.
 * Unix streams' descriptor receives and Unix datagrams are raced in test_unix_async_cancel.c.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "stream_kinds.h"

/* Writes @len pattern bytes in chunks of 1..@max_chunk, pausing (sleep or yield) between. */
struct trickle {
    cio_stream *s;
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
        CHECK_RC(cio_stream_write_all(t->s, buf, n, NULL));
        pos += n;
        pause_a_little(&rng);
    }
    return NULL;
}

/* Reads and peeks with deadlines of 0 to 2 ms racing the trickle. */
struct read_race {
    const struct stream_kind *k;
    bool peek_first;
};

static void *main_read_race(void *arg)
{
    const struct read_race *race = arg;
    const struct stream_kind *k = race->k;
    bool peek_first = race->peek_first;
    cio_stream *c, *s;
    stream_pair(k, &c, &s);
    enum { LEN = 20000 };
    struct trickle t = {c, LEN, 64, 21};
    cio_join_handle *w;
    CHECK_RC(cio_spawn(&w, trickle_writer, &t));
    unsigned char buf[100], peeked[100];
    size_t got = 0;
    int timeouts = 0, reads = 0;
    unsigned rng = 5;
    while (got < LEN) {
        ssize_t p = 0, n;
        {
            CIO_TIMEOUT_SCOPE(short_timeout(&rng)); /* the peek and the read */
            if (peek_first)
                p = cio_stream_peek(s, peeked, 1 + next_rand(&rng) % sizeof(peeked));
            n = p < 0 ? p : cio_stream_read(s, buf, 1 + next_rand(&rng) % sizeof(buf));
        }
        if (n == -ETIMEDOUT) {
            timeouts++;
            continue;
        }
        CHECK(n > 0);
        /* What was peeked is the start of what is read next. */
        if (peek_first) {
            size_t both = (size_t)(p < n ? p : n);
            CHECK(memcmp(peeked, buf, both) == 0);
        }
        CHECK_EQ(pattern_check(buf, (size_t)n, got, 21), n);
        got += (size_t)n;
        reads++;
    }
    CHECK_EQ(got, LEN);
    CHECK(timeouts > 10); /* the race did happen */
    CHECK_RC(cio_task_join(w, NULL, NULL));
    /* Nothing left over. */
    cio_socket_close(c);
    char x;
    CHECK_EQ(cio_stream_read(s, &x, 1), 0);
    cio_socket_close(s);
    return NULL;
}

static void test_read_deadline_race_tcp(void)
{
    struct read_race race = {&stream_kind_tcp, false};
    run(main_read_race, &race);
}

static void test_read_deadline_race_unix(void)
{
    struct read_race race = {&stream_kind_unix, false};
    run(main_read_race, &race);
}

static void test_peek_read_deadline_race_tcp(void)
{
    struct read_race race = {&stream_kind_tcp, true};
    run(main_read_race, &race);
}

static void test_peek_read_deadline_race_unix(void)
{
    struct read_race race = {&stream_kind_unix, true};
    run(main_read_race, &race);
}

/* Reader tasks cancelled at random moments: a cancelled read has taken nothing. */
struct cancel_reader {
    cio_stream *s;
    unsigned char *buf;
    size_t pos;
    size_t len;
    int cancelled;
};

static void *read_until_cancelled(void *arg)
{
    struct cancel_reader *r = arg;
    while (r->pos < r->len) {
        ssize_t n = cio_stream_read(r->s, r->buf + r->pos, r->len - r->pos);
        if (n == -ECANCELED) {
            r->cancelled++;
            return NULL;
        }
        CHECK(n > 0);
        r->pos += (size_t)n;
    }
    return NULL;
}

static void *main_cancel_race_no_loss(void *arg)
{
    const struct stream_kind *k = arg;
    cio_stream *c, *s;
    stream_pair(k, &c, &s);
    enum { LEN = 20000 };
    struct trickle t = {c, LEN, 200, 33};
    cio_join_handle *w;
    CHECK_RC(cio_spawn(&w, trickle_writer, &t));
    struct cancel_reader r = {s, xmalloc(LEN), 0, LEN, 0};
    unsigned rng = 9;
    int rounds = 0;
    while (r.pos < LEN) {
        cio_join_handle *rt;
        CHECK_RC(cio_spawn(&rt, read_until_cancelled, &r));
        pause_a_little(&rng);
        CHECK_RC(cio_task_cancel(rt));
        CHECK_RC(cio_task_join(rt, NULL, NULL)); /* it finished, cancelled or not */
        rounds++;
    }
    CHECK_EQ(pattern_check(r.buf, LEN, 0, 33), LEN);
    CHECK(r.cancelled > 10);
    CHECK_RC(cio_task_join(w, NULL, NULL));
    free(r.buf);
    cio_socket_close(c);
    cio_socket_close(s);
    return NULL;
}

STREAM_CASE(cancel_race_no_loss)

/* Accepts with deadlines racing connections: none is lost. */
enum { CONNECTIONS = 200 };

struct connector {
    const struct stream_kind *k;
    const cio_addr *addr;
};

static void *connector(void *arg)
{
    struct connector *cn = arg;
    unsigned rng = 77;
    for (uint32_t i = 0; i < CONNECTIONS; i++) {
        cio_stream *c;
        CHECK_RC(cn->k->connect(&c, cn->addr));
        CHECK_RC(cio_stream_write_all(c, &i, sizeof(i), NULL));
        cio_socket_close(c);
        pause_a_little(&rng);
    }
    return NULL;
}

static void *main_accept_deadline_race(void *arg)
{
    const struct stream_kind *k = arg;
    cio_addr addr;
    cio_socket *l = k->listen(&addr, CIO_LISTEN_BACKLOG_DEFAULT);
    struct connector cn = {k, &addr};
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, connector, &cn));
    bool seen[CONNECTIONS] = {false};
    int accepted = 0, timeouts = 0;
    unsigned rng = 3;
    while (accepted < CONNECTIONS) {
        cio_stream *s;
        int rc = CIO_TIMEOUT(short_timeout(&rng), k->accept(l, &s, NULL));
        if (rc == -ETIMEDOUT) {
            timeouts++;
            continue;
        }
        CHECK_RC(rc);
        uint32_t id = 0;
        CHECK_RC(cio_stream_read_exact(s, &id, sizeof(id), NULL));
        CHECK(id < CONNECTIONS);
        CHECK(!seen[id]);
        seen[id] = true;
        accepted++;
        cio_socket_close(s);
    }
    CHECK(timeouts > 10);
    CHECK_RC(cio_task_join(t, NULL, NULL));
    /* And nothing more is pending. */
    cio_stream *s;
    CHECK_ERR(CIO_TIMEOUT(20 * CIO_NSEC_PER_MSEC, k->accept(l, &s, NULL)), -ETIMEDOUT);
    cio_socket_close(l);
    return NULL;
}

STREAM_CASE(accept_deadline_race)

/* write_all and read_exact cut by deadlines again and again, resumed from the progress they
 * report: the bytes arrive exactly. */
struct slow_reader {
    cio_stream *s;
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
        int rc =
            CIO_TIMEOUT(short_timeout(&rng), cio_stream_read_exact(r->s, buf + got, want, &done));
        CHECK(done <= want);
        got += done;
        if (rc == -ETIMEDOUT) {
            cut++;
            continue;
        }
        CHECK_RC(rc);
        CHECK_EQ(done, want);
        if (next_rand(&rng) % 8 == 0)
            CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC)); /* let the sender's buffers fill */
    }
    CHECK_EQ(pattern_check(buf, r->len, 0, 41), r->len);
    free(buf);
    return (void *)(intptr_t)cut;
}

static void *main_write_all_read_exact_resume(void *arg)
{
    const struct stream_kind *k = arg;
    cio_stream *c, *s;
    stream_pair(k, &c, &s);
    enum { LEN = 16 << 20 };
    unsigned char *data = xmalloc(LEN);
    pattern_fill(data, LEN, 0, 41);
    struct slow_reader r = {s, LEN};
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, read_exact_with_deadlines, &r));
    size_t sent = 0;
    int cut = 0;
    unsigned rng = 99;
    while (sent < LEN) {
        size_t want = 1 + next_rand(&rng) * 31u % (1 << 20);
        if (want > LEN - sent)
            want = LEN - sent;
        size_t done = 0;
        int rc =
            CIO_TIMEOUT(short_timeout(&rng), cio_stream_write_all(c, data + sent, want, &done));
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
    CHECK_RC(cio_task_join(t, &reader_cut, NULL));
    printf("    write_all cut %d times, read_exact cut %d times\n", cut, (int)(intptr_t)reader_cut);
    CHECK(cut + (int)(intptr_t)reader_cut > 0);
    free(data);
    cio_socket_close(c);
    cio_socket_close(s);
    return NULL;
}

STREAM_CASE(write_all_read_exact_resume)

/* A cancelled task's read returns -ECANCELED even with data ready, and leaves the data. */
static void *cancelled_reader(void *arg)
{
    cio_stream *s = arg;
    char buf[8];
    CHECK_ERR(cio_stream_read(s, buf, sizeof(buf)), -ECANCELED);
    CHECK_ERR(cio_stream_peek(s, buf, sizeof(buf)), -ECANCELED);
    CHECK_ERR(cio_socket_readable(s), -ECANCELED);
    size_t done = 5;
    CHECK_ERR(cio_stream_read_exact(s, buf, 4, &done), -ECANCELED);
    CHECK_EQ(done, 0);
    CHECK_ERR(cio_stream_write_all(s, "x", 1, &done), -ECANCELED);
    CHECK_EQ(done, 0);
    return NULL;
}

static void *main_cancelled_task_consumes_nothing(void *arg)
{
    const struct stream_kind *k = arg;
    cio_stream *c, *s;
    stream_pair(k, &c, &s);
    CHECK_RC(cio_stream_write_all(c, "data", 4, NULL));
    CHECK_RC(cio_socket_readable(s));
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, cancelled_reader, s));
    CHECK_RC(cio_task_cancel(t)); /* before it first runs */
    CHECK_JOIN_CANCELLED(t);
    char buf[8];
    CHECK_EQ(cio_stream_read(s, buf, sizeof(buf)), 4);
    CHECK(memcmp(buf, "data", 4) == 0);
    cio_socket_close(c);
    cio_socket_close(s);
    return NULL;
}

STREAM_CASE(cancelled_task_consumes_nothing)

CIO_TEST_MAIN(TEST(test_read_deadline_race_tcp), TEST(test_read_deadline_race_unix),
              TEST(test_peek_read_deadline_race_tcp), TEST(test_peek_read_deadline_race_unix),
              STREAM_TESTS(cancel_race_no_loss), STREAM_TESTS(accept_deadline_race),
              STREAM_TESTS(write_all_read_exact_resume),
              STREAM_TESTS(cancelled_task_consumes_nothing))
