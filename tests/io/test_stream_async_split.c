/*
 * test_stream_async_split.c: split halves of an async stream, each case run for TCP and for
 * Unix streams — borrowed halves driving both directions of one stream from two tasks, owned
 * halves (closing the write half sends end of stream unless forgotten, the socket closes with
 * the last half), reuniting halves (and the refusal of halves of different streams, which
 * hands both back intact).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "stream_kinds.h"

enum { DUPLEX = 4 << 20 };

/* ---- borrowed halves: full duplex on one stream, one task per direction ---- */

struct half_writer {
    const struct stream_kind *k;
    const kind_write_half *wr;
    unsigned seed;
};

static void *write_half_task(void *arg)
{
    struct half_writer *h = arg;
    unsigned char *buf = xmalloc(100000);
    uint64_t pos = 0;
    int r = CHECK_RC(h->k->write_half_writable(h->wr));
    CHECK(r & CIO_READY_WRITABLE);
    while (pos < DUPLEX) {
        size_t n = DUPLEX - pos < 100000 ? DUPLEX - pos : 100000;
        pattern_fill(buf, n, pos, h->seed);
        if (pos % 3 == 0) {
            struct iovec iov[3] = {{buf, n / 3}, {buf + n / 3, 0}, {buf + n / 3, n - n / 3}};
            size_t done = 0;
            CHECK_RC(h->k->write_half_write_all_v(h->wr, iov, 3, &done));
            CHECK_EQ(done, n);
        } else if (pos % 3 == 1) {
            CHECK_RC(h->k->write_half_write_all(h->wr, buf, n, NULL));
        } else {
            size_t off = 0;
            while (off < n) {
                struct iovec iov = {buf + off, n - off};
                ssize_t m = off % 2 ? h->k->write_half_writev(h->wr, &iov, 1)
                                    : h->k->write_half_write(h->wr, buf + off, n - off);
                CHECK(m > 0);
                off += (size_t)m;
            }
        }
        pos += n;
    }
    CHECK_RC(h->k->write_half_shutdown(h->wr));
    free(buf);
    return NULL;
}

struct half_reader {
    const struct stream_kind *k;
    const kind_read_half *rd;
    unsigned seed;
};

static void *read_half_task(void *arg)
{
    struct half_reader *h = arg;
    unsigned char *buf = xmalloc(65536);
    uint64_t pos = 0;
    for (int i = 0;; i++) {
        ssize_t n;
        if (i % 4 == 0) {
            CHECK_RC(h->k->read_half_readable(h->rd));
            unsigned char p[16];
            ssize_t k = CHECK_RC(h->k->read_half_peek(h->rd, p, sizeof(p)));
            n = CHECK_RC(h->k->read_half_read(h->rd, buf, 65536));
            CHECK(k == 0 ? n == 0 : memcmp(p, buf, (size_t)(k < n ? k : n)) == 0);
        } else if (i % 4 == 1) {
            struct iovec iov[2] = {{buf, 1000}, {buf + 1000, 64536}};
            n = CHECK_RC(h->k->read_half_readv(h->rd, iov, 2));
        } else if (i % 4 == 2 && DUPLEX - pos >= 5000) {
            size_t done = 0;
            CHECK_RC(h->k->read_half_read_exact(h->rd, buf, 5000, &done));
            n = 5000;
        } else {
            n = CHECK_RC(h->k->read_half_read(h->rd, buf, 65536));
        }
        if (n == 0)
            break;
        CHECK_EQ(pattern_check(buf, (size_t)n, pos, h->seed), n);
        pos += (size_t)n;
    }
    CHECK_EQ(pos, DUPLEX);
    free(buf);
    return NULL;
}

static void *main_borrowed_halves_duplex(void *arg)
{
    const struct stream_kind *k = arg;
    kind_stream *c, *s;
    stream_pair(k, &c, &s);
    kind_read_half crd, srd;
    kind_write_half cwr, swr;
    CHECK_RC(k->split(c, &crd, &cwr));
    CHECK_RC(k->split(s, &srd, &swr));
    CHECK_ERR(k->split(NULL, &crd, &cwr), -EINVAL);
    struct half_writer w1 = {k, &cwr, 1}, w2 = {k, &swr, 2};
    struct half_reader r1 = {k, &srd, 1}, r2 = {k, &crd, 2};
    cio_task *t[4];
    CHECK_RC(cio_spawn(&t[0], write_half_task, &w1));
    CHECK_RC(cio_spawn(&t[1], write_half_task, &w2));
    CHECK_RC(cio_spawn(&t[2], read_half_task, &r1));
    CHECK_RC(cio_spawn(&t[3], read_half_task, &r2));
    for (int i = 0; i < 4; i++)
        CHECK_RC(cio_task_join(t[i], NULL));
    CHECK_ERR(k->read_half_read(NULL, NULL, 0), -EINVAL);
    CHECK_ERR(k->write_half_shutdown(NULL), -EINVAL);
    k->close(c);
    k->close(s);
    return NULL;
}

STREAM_CASE(borrowed_halves_duplex)

/* ---- owned halves ---- */

/* A connected pair through a listener, the server's end split into owned halves. */
static void owned_pair(const struct stream_kind *k, kind_stream **ret_client,
                       kind_stream **ret_server, kind_owned_read_half **ret_rd,
                       kind_owned_write_half **ret_wr)
{
    stream_listener_pair(k, ret_client, ret_server);
    CHECK_RC(k->into_split(*ret_server, ret_rd, ret_wr));
}

static void *main_owned_write_close_sends_eof(void *arg)
{
    const struct stream_kind *k = arg;
    kind_stream *c, *s;
    kind_owned_read_half *rd;
    kind_owned_write_half *wr;
    owned_pair(k, &c, &s, &rd, &wr);
    CHECK(k->owned_read_stream(rd) == s);
    CHECK(k->owned_write_stream(wr) == s);
    cio_addr peer, local;
    CHECK_RC(k->peer_addr(k->owned_read_stream(rd), &peer));
    CHECK_RC(k->local_addr(c, &local));
    CHECK(cio_addr_equal(&peer, &local));
    CHECK(k->owned_writable(wr) & CIO_READY_WRITABLE);
    CHECK_RC(k->owned_write_all(wr, "hi", 2, NULL));
    struct iovec iov[2] = {{(void *)"the", 3}, {(void *)"re", 2}};
    CHECK_EQ(k->owned_writev(wr, iov, 2), 5);
    CHECK_RC(k->owned_write_all_v(wr, iov, 2, NULL));
    CHECK_EQ(k->owned_write(wr, "!", 1), 1);
    /* Closing the write half shuts down writing: the peer reads the bytes, then the end. */
    k->owned_write_close(wr);
    char buf[32];
    size_t done = 0;
    CHECK_ERR(k->read_exact(c, buf, sizeof(buf), &done), -EPIPE);
    CHECK_EQ(done, 13);
    CHECK(memcmp(buf, "hitherethere!", 13) == 0);
    /* The read half lives on. */
    CHECK_RC(k->write_all(c, "back", 4, NULL));
    CHECK(k->owned_readable(rd) & CIO_READY_READABLE);
    CHECK_EQ(k->owned_peek(rd, buf, 2), 2);
    struct iovec in[2] = {{buf, 1}, {buf + 1, 1}};
    CHECK_EQ(k->owned_readv(rd, in, 2), 2);
    CHECK_RC(k->owned_read_exact(rd, buf + 2, 1, NULL));
    CHECK_EQ(k->owned_read(rd, buf + 3, 10), 1);
    CHECK(memcmp(buf, "back", 4) == 0);
    /* The last half closes the socket: the peer's read ends (0, or a reset). */
    k->owned_read_close(rd);
    CHECK_EQ(k->read(c, buf, sizeof(buf)), 0);
    k->close(c);
    /* NULL is allowed. */
    k->owned_read_close(NULL);
    k->owned_write_close(NULL);
    k->owned_forget(NULL);
    CHECK(k->owned_read_stream(NULL) == NULL);
    CHECK_ERR(k->owned_read(NULL, buf, 1), -EINVAL);
    CHECK_ERR(k->into_split(NULL, &rd, &wr), -EINVAL);
    return NULL;
}

STREAM_CASE(owned_write_close_sends_eof)

static void *main_owned_forget_no_shutdown(void *arg)
{
    const struct stream_kind *k = arg;
    kind_stream *c, *s;
    kind_owned_read_half *rd;
    kind_owned_write_half *wr;
    owned_pair(k, &c, &s, &rd, &wr);
    CHECK_RC(k->owned_write_all(wr, "x", 1, NULL));
    k->owned_forget(wr);
    k->owned_write_close(wr);
    /* No shutdown: the peer gets the byte and then nothing — no end of stream. */
    char buf[8];
    CHECK_EQ(k->read(c, buf, sizeof(buf)), 1);
    cio_time saved = cio_deadline_set(cio_now() + 30 * CIO_NSEC_PER_MSEC);
    CHECK_ERR(k->read(c, buf, sizeof(buf)), -ETIMEDOUT);
    cio_deadline_restore(saved);
    /* The read half still works; closing it closes the socket, and only then the end. */
    CHECK_RC(k->write_all(c, "yz", 2, NULL));
    CHECK_RC(k->owned_read_exact(rd, buf, 2, NULL));
    CHECK(memcmp(buf, "yz", 2) == 0);
    k->owned_read_close(rd);
    CHECK_EQ(k->read(c, buf, sizeof(buf)), 0);
    k->close(c);
    return NULL;
}

STREAM_CASE(owned_forget_no_shutdown)

/* The read half closed first: the socket stays open for the write half. */
static void *main_owned_read_half_closed_first(void *arg)
{
    const struct stream_kind *k = arg;
    kind_stream *c, *s;
    kind_owned_read_half *rd;
    kind_owned_write_half *wr;
    owned_pair(k, &c, &s, &rd, &wr);
    k->owned_read_close(rd);
    CHECK_RC(k->owned_write_all(wr, "still", 5, NULL));
    char buf[8];
    CHECK_RC(k->read_exact(c, buf, 5, NULL));
    CHECK_RC(k->owned_shutdown(wr));
    CHECK_EQ(k->read(c, buf, sizeof(buf)), 0);
    k->owned_write_close(wr); /* shutdown again: ignored */
    k->close(c);
    return NULL;
}

STREAM_CASE(owned_read_half_closed_first)

static void *main_reunite(void *arg)
{
    const struct stream_kind *k = arg;
    kind_stream *c1, *s1, *c2, *s2;
    kind_owned_read_half *r1, *r2;
    kind_owned_write_half *w1, *w2;
    owned_pair(k, &c1, &s1, &r1, &w1);
    owned_pair(k, &c2, &s2, &r2, &w2);
    kind_stream *back = NULL;
    CHECK_ERR(k->reunite(r1, w2, &back), -EINVAL);
    CHECK_ERR(k->reunite(r2, w1, &back), -EINVAL);
    CHECK(back == NULL);
    CHECK_ERR(k->reunite(NULL, w1, &back), -EINVAL);
    CHECK_ERR(k->reunite(r1, w1, NULL), -EINVAL);
    /* Both pairs are intact: each half still moves bytes on its own stream. */
    CHECK_RC(k->owned_write_all(w2, "two", 3, NULL));
    CHECK_RC(k->owned_write_all(w1, "one", 3, NULL));
    char buf[4];
    CHECK_RC(k->read_exact(c1, buf, 3, NULL));
    CHECK(memcmp(buf, "one", 3) == 0);
    CHECK_RC(k->read_exact(c2, buf, 3, NULL));
    CHECK(memcmp(buf, "two", 3) == 0);
    CHECK_RC(k->write_all(c1, "ONE", 3, NULL));
    CHECK_RC(k->owned_read_exact(r1, buf, 3, NULL));
    CHECK(memcmp(buf, "ONE", 3) == 0);
    /* The right pairs reunite into the original streams, registration and all. */
    CHECK_RC(k->reunite(r1, w1, &back));
    CHECK(back == s1);
    CHECK_RC(k->reunite(r2, w2, &back));
    CHECK(back == s2);
    CHECK_RC(k->write_all(s1, "x", 1, NULL));
    CHECK_RC(k->read_exact(c1, buf, 1, NULL));
    CHECK_RC(k->write_all(c2, "y", 1, NULL));
    CHECK_RC(k->read_exact(s2, buf, 1, NULL));
    CHECK_EQ(buf[0], 'y');
    k->close(c1);
    k->close(s1);
    k->close(c2);
    k->close(s2);
    return NULL;
}

STREAM_CASE(reunite)

CIO_TEST_MAIN(STREAM_TESTS(borrowed_halves_duplex), STREAM_TESTS(owned_write_close_sends_eof),
              STREAM_TESTS(owned_forget_no_shutdown), STREAM_TESTS(owned_read_half_closed_first),
              STREAM_TESTS(reunite))
