/*
 * test_stream_async_split.c: one stream driven by a reader task and a writer task at once,
 * each case run for TCP and for Unix streams — full duplex on both ends through the shared
 * stream pointers (C's borrowed split) and through owned halves; owned halves (views of the
 * stream: a second split refused, the socket calls take them; closing the write half sends
 * end of stream unless forgotten, the socket closes with the last half), reuniting halves
 * (and the refusal of halves of different streams, which hands both back intact).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "stream_kinds.h"

enum { DUPLEX = 4 << 20 };

/* ---- full duplex on one stream, one reader and one writer task on each end ---- */

/*
 * A borrowed split needs no call in C: one reader task and one writer task share the stream
 * pointer itself. The same tasks run through owned halves: a task gets the stream, or the
 * half of its direction.
 */
struct half_writer {
    cio_stream *s;      /* the shared stream, when @wr is NULL */
    cio_write_half *wr; /* an owned write half */
    unsigned seed;
};

/* A write call on the owned half when there is one, else on the shared stream. */
#define ON_WRITER(h, call, ...)                                                                    \
    ((h)->wr != NULL ? call((h)->wr, __VA_ARGS__) : call((h)->s, __VA_ARGS__))

static void *write_half_task(void *arg)
{
    struct half_writer *h = arg;
    unsigned char *buf = xmalloc(100000);
    uint64_t pos = 0;
    int r = CHECK_RC(h->wr != NULL ? cio_socket_writable(h->wr) : cio_socket_writable(h->s));
    CHECK(r & CIO_READY_WRITABLE);
    while (pos < DUPLEX) {
        size_t n = DUPLEX - pos < 100000 ? DUPLEX - pos : 100000;
        pattern_fill(buf, n, pos, h->seed);
        if (pos % 3 == 0) {
            struct iovec iov[3] = {{buf, n / 3}, {buf + n / 3, 0}, {buf + n / 3, n - n / 3}};
            size_t done = 0;
            CHECK_RC(ON_WRITER(h, cio_stream_writev_all, iov, 3, &done));
            CHECK_EQ(done, n);
        } else if (pos % 3 == 1) {
            CHECK_RC(ON_WRITER(h, cio_stream_write_all, buf, n, NULL));
        } else {
            size_t off = 0;
            while (off < n) {
                struct iovec iov = {buf + off, n - off};
                ssize_t m = off % 2 ? ON_WRITER(h, cio_stream_writev, &iov, 1)
                                    : ON_WRITER(h, cio_stream_write, buf + off, n - off);
                CHECK(m > 0);
                off += (size_t)m;
            }
        }
        pos += n;
    }
    CHECK_RC(ON_WRITER(h, cio_socket_shutdown, CIO_SHUTDOWN_WRITE));
    free(buf);
    return NULL;
}

struct half_reader {
    cio_stream *s;     /* the shared stream, when @rd is NULL */
    cio_read_half *rd; /* an owned read half */
    unsigned seed;
};

/* A read call on the owned half when there is one, else on the shared stream. */
#define ON_READER(h, call, ...)                                                                    \
    ((h)->rd != NULL ? call((h)->rd, __VA_ARGS__) : call((h)->s, __VA_ARGS__))

static void *read_half_task(void *arg)
{
    struct half_reader *h = arg;
    unsigned char *buf = xmalloc(65536);
    uint64_t pos = 0;
    for (int i = 0;; i++) {
        ssize_t n;
        if (i % 4 == 0) {
            CHECK_RC(h->rd != NULL ? cio_socket_readable(h->rd) : cio_socket_readable(h->s));
            unsigned char p[16];
            ssize_t k = CHECK_RC(ON_READER(h, cio_stream_peek, p, sizeof(p)));
            n = CHECK_RC(ON_READER(h, cio_stream_read, buf, 65536));
            CHECK(k == 0 ? n == 0 : memcmp(p, buf, (size_t)(k < n ? k : n)) == 0);
        } else if (i % 4 == 1) {
            struct iovec iov[2] = {{buf, 1000}, {buf + 1000, 64536}};
            n = CHECK_RC(ON_READER(h, cio_stream_readv, iov, 2));
        } else if (i % 4 == 2 && DUPLEX - pos >= 5000) {
            size_t done = 0;
            CHECK_RC(ON_READER(h, cio_stream_read_exact, buf, 5000, &done));
            n = 5000;
        } else {
            n = CHECK_RC(ON_READER(h, cio_stream_read, buf, 65536));
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

/* Both directions of both ends at once: four tasks, each checking every byte. */
static void run_duplex(struct half_writer *w1, struct half_writer *w2, struct half_reader *r1,
                       struct half_reader *r2)
{
    cio_join_handle *t[4];
    CHECK_RC(cio_spawn(&t[0], write_half_task, w1));
    CHECK_RC(cio_spawn(&t[1], write_half_task, w2));
    CHECK_RC(cio_spawn(&t[2], read_half_task, r1));
    CHECK_RC(cio_spawn(&t[3], read_half_task, r2));
    for (int i = 0; i < 4; i++)
        CHECK_RC(cio_task_join(t[i], NULL, NULL));
}

static void *main_shared_stream_duplex(void *arg)
{
    const struct stream_kind *k = arg;
    cio_stream *c, *s;
    stream_pair(k, &c, &s);
    struct half_writer w1 = {c, NULL, 1}, w2 = {s, NULL, 2};
    struct half_reader r1 = {s, NULL, 1}, r2 = {c, NULL, 2};
    run_duplex(&w1, &w2, &r1, &r2);
    CHECK_ERR((cio_stream_read)(NULL, NULL, 0), -EINVAL);
    CHECK_ERR((cio_socket_shutdown)(NULL, CIO_SHUTDOWN_WRITE), -EINVAL);
    cio_socket_close(c);
    cio_socket_close(s);
    return NULL;
}

STREAM_CASE(shared_stream_duplex)

static void *main_owned_halves_duplex(void *arg)
{
    const struct stream_kind *k = arg;
    cio_stream *c, *s;
    stream_pair(k, &c, &s);
    cio_read_half *crd, *srd;
    cio_write_half *cwr, *swr;
    CHECK_RC(cio_stream_into_split(c, &crd, &cwr));
    CHECK_RC(cio_stream_into_split(s, &srd, &swr));
    struct half_writer w1 = {NULL, cwr, 1}, w2 = {NULL, swr, 2};
    struct half_reader r1 = {NULL, srd, 1}, r2 = {NULL, crd, 2};
    run_duplex(&w1, &w2, &r1, &r2);
    cio_read_half_close(crd);
    cio_write_half_close(cwr);
    cio_read_half_close(srd);
    cio_write_half_close(swr);
    return NULL;
}

STREAM_CASE(owned_halves_duplex)

/* ---- owned halves ---- */

/* A connected pair through a listener, the server's end split into owned halves. */
static void owned_pair(const struct stream_kind *k, cio_stream **ret_client,
                       cio_stream **ret_server, cio_read_half **ret_rd, cio_write_half **ret_wr)
{
    stream_listener_pair(k, ret_client, ret_server);
    CHECK_RC(cio_stream_into_split(*ret_server, ret_rd, ret_wr));
}

static void *main_owned_write_close_sends_eof(void *arg)
{
    const struct stream_kind *k = arg;
    cio_stream *c, *s;
    cio_read_half *rd;
    cio_write_half *wr;
    owned_pair(k, &c, &s, &rd, &wr);
    /* The halves are views of the stream (nothing allocated), and the stream pointer stays
     * valid while they are open: a second split is refused, the socket calls take either. */
    CHECK((void *)rd == (void *)s);
    CHECK((void *)wr == (void *)s);
    cio_read_half *rd2 = NULL;
    cio_write_half *wr2 = NULL;
    CHECK_ERR(cio_stream_into_split(s, &rd2, &wr2), -EINVAL);
    CHECK(rd2 == NULL && wr2 == NULL);
    cio_addr peer, local, via_half;
    CHECK_RC(cio_socket_peer_addr(s, &peer));
    CHECK_RC(cio_socket_local_addr(c, &local));
    CHECK(cio_addr_equal(&peer, &local));
    CHECK_RC(cio_socket_peer_addr(rd, &via_half));
    CHECK(cio_addr_equal(&via_half, &local));
    CHECK_EQ(cio_socket_fd(wr), cio_socket_fd(s));
    CHECK(cio_socket_writable(wr) & CIO_READY_WRITABLE);
    CHECK_RC(cio_stream_write_all(wr, "hi", 2, NULL));
    struct iovec iov[2] = {{(void *)"the", 3}, {(void *)"re", 2}};
    CHECK_EQ(cio_stream_writev(wr, iov, 2), 5);
    CHECK_RC(cio_stream_writev_all(wr, iov, 2, NULL));
    CHECK_EQ(cio_stream_write(wr, "!", 1), 1);
    /* Closing the write half shuts down writing: the peer reads the bytes, then the end. */
    cio_write_half_close(wr);
    char buf[32];
    size_t done = 0;
    CHECK_ERR(cio_stream_read_exact(c, buf, sizeof(buf), &done), -ENODATA);
    CHECK_EQ(done, 13);
    CHECK(memcmp(buf, "hitherethere!", 13) == 0);
    /* The read half lives on. */
    CHECK_RC(cio_stream_write_all(c, "back", 4, NULL));
    CHECK(cio_socket_readable(rd) & CIO_READY_READABLE);
    CHECK_EQ(cio_stream_peek(rd, buf, 2), 2);
    struct iovec in[2] = {{buf, 1}, {buf + 1, 1}};
    CHECK_EQ(cio_stream_readv(rd, in, 2), 2);
    CHECK_RC(cio_stream_read_exact(rd, buf + 2, 1, NULL));
    CHECK_EQ(cio_stream_read(rd, buf + 3, 10), 1);
    CHECK(memcmp(buf, "back", 4) == 0);
    /* The last half closes the socket: the peer's read ends (0, or a reset). */
    cio_read_half_close(rd);
    CHECK_EQ(cio_stream_read(c, buf, sizeof(buf)), 0);
    cio_socket_close(c);
    /* NULL is allowed. */
    cio_read_half_close(NULL);
    cio_write_half_close(NULL);
    cio_write_half_forget(NULL);
    CHECK_ERR((cio_stream_read)(NULL, buf, 1), -EINVAL);
    CHECK_ERR((cio_stream_into_split)(NULL, &rd, &wr), -EINVAL);
    return NULL;
}

STREAM_CASE(owned_write_close_sends_eof)

static void *main_owned_forget_no_shutdown(void *arg)
{
    const struct stream_kind *k = arg;
    cio_stream *c, *s;
    cio_read_half *rd;
    cio_write_half *wr;
    owned_pair(k, &c, &s, &rd, &wr);
    CHECK_RC(cio_stream_write_all(wr, "x", 1, NULL));
    cio_write_half_forget(wr);
    cio_write_half_close(wr);
    /* No shutdown: the peer gets the byte and then nothing — no end of stream. */
    char buf[8];
    CHECK_EQ(cio_stream_read(c, buf, sizeof(buf)), 1);
    CHECK_ERR(CIO_TIMEOUT(30 * CIO_NSEC_PER_MSEC, cio_stream_read(c, buf, sizeof(buf))),
              -ETIMEDOUT);
    /* The read half still works; closing it closes the socket, and only then the end. */
    CHECK_RC(cio_stream_write_all(c, "yz", 2, NULL));
    CHECK_RC(cio_stream_read_exact(rd, buf, 2, NULL));
    CHECK(memcmp(buf, "yz", 2) == 0);
    cio_read_half_close(rd);
    CHECK_EQ(cio_stream_read(c, buf, sizeof(buf)), 0);
    cio_socket_close(c);
    return NULL;
}

STREAM_CASE(owned_forget_no_shutdown)

/* The read half closed first: the socket stays open for the write half. */
static void *main_owned_read_half_closed_first(void *arg)
{
    const struct stream_kind *k = arg;
    cio_stream *c, *s;
    cio_read_half *rd;
    cio_write_half *wr;
    owned_pair(k, &c, &s, &rd, &wr);
    cio_read_half_close(rd);
    CHECK_RC(cio_stream_write_all(wr, "still", 5, NULL));
    char buf[8];
    CHECK_RC(cio_stream_read_exact(c, buf, 5, NULL));
    CHECK_RC(cio_socket_shutdown(wr, CIO_SHUTDOWN_WRITE));
    CHECK_EQ(cio_stream_read(c, buf, sizeof(buf)), 0);
    cio_write_half_close(wr); /* shutdown again: ignored */
    cio_socket_close(c);
    return NULL;
}

STREAM_CASE(owned_read_half_closed_first)

static void *main_reunite(void *arg)
{
    const struct stream_kind *k = arg;
    cio_stream *c1, *s1, *c2, *s2;
    cio_read_half *r1, *r2;
    cio_write_half *w1, *w2;
    owned_pair(k, &c1, &s1, &r1, &w1);
    owned_pair(k, &c2, &s2, &r2, &w2);
    cio_stream *back = NULL;
    CHECK_ERR(cio_stream_reunite(r1, w2, &back), -EINVAL);
    CHECK_ERR(cio_stream_reunite(r2, w1, &back), -EINVAL);
    CHECK(back == NULL);
    CHECK_ERR(cio_stream_reunite(NULL, w1, &back), -EINVAL);
    CHECK_ERR(cio_stream_reunite(r1, w1, NULL), -EINVAL);
    /* Both pairs are intact: each half still moves bytes on its own stream. */
    CHECK_RC(cio_stream_write_all(w2, "two", 3, NULL));
    CHECK_RC(cio_stream_write_all(w1, "one", 3, NULL));
    char buf[4];
    CHECK_RC(cio_stream_read_exact(c1, buf, 3, NULL));
    CHECK(memcmp(buf, "one", 3) == 0);
    CHECK_RC(cio_stream_read_exact(c2, buf, 3, NULL));
    CHECK(memcmp(buf, "two", 3) == 0);
    CHECK_RC(cio_stream_write_all(c1, "ONE", 3, NULL));
    CHECK_RC(cio_stream_read_exact(r1, buf, 3, NULL));
    CHECK(memcmp(buf, "ONE", 3) == 0);
    /* The right pairs reunite into the original streams, registration and all. */
    CHECK_RC(cio_stream_reunite(r1, w1, &back));
    CHECK(back == s1);
    CHECK_RC(cio_stream_reunite(r2, w2, &back));
    CHECK(back == s2);
    CHECK_RC(cio_stream_write_all(s1, "x", 1, NULL));
    CHECK_RC(cio_stream_read_exact(c1, buf, 1, NULL));
    CHECK_RC(cio_stream_write_all(c2, "y", 1, NULL));
    CHECK_RC(cio_stream_read_exact(s2, buf, 1, NULL));
    CHECK_EQ(buf[0], 'y');
    cio_socket_close(c1);
    cio_socket_close(s1);
    cio_socket_close(c2);
    cio_socket_close(s2);
    return NULL;
}

STREAM_CASE(reunite)

CIO_TEST_MAIN(STREAM_TESTS(shared_stream_duplex), STREAM_TESTS(owned_halves_duplex),
              STREAM_TESTS(owned_write_close_sends_eof), STREAM_TESTS(owned_forget_no_shutdown),
              STREAM_TESTS(owned_read_half_closed_first), STREAM_TESTS(reunite))
