/*
 * test_stream_timeout.c: per-call timeouts (CIO_TIMEOUT) racing data on both ends of a stream,
 * for TCP and Unix streams. The writer sends with write_all under timeouts of 0 to 2 ms into
 * small socket buffers and carries on from what each cut-short call reports; the reader reads
 * (and now and then read_exact) under timeouts of its own; each side dawdles in turn, so the
 * other's calls wait and time out. Every
 * byte sent arrives exactly once and in order — bytes in == bytes out — both sides time out
 * many times, and the outer deadline scope of each task (a bound, checked with the idiom of
 * cio/rt.h) is never the one that fires. Every loop is bounded.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "stream_kinds.h"

enum { LEN = 4 << 20, MAX_CALLS = 1000000 };

struct side {
    cio_stream *s;
    unsigned seed;
    size_t moved; /* bytes written / read */
    int timeouts; /* calls cut short by their own timeout */
};

/* A per-call timeout of 0 to 2 ms (0: whatever is ready now, no waiting). */
static cio_duration pick_timeout(unsigned *rng)
{
    return (cio_duration)(next_rand(rng) % 3) * CIO_NSEC_PER_MSEC;
}

/* Time alternates between stretches of 10 ms where the reader dawdles (the writer fills the
 * buffers and its calls time out) and stretches where the writer does (the reader's do). */
static bool slow_phase(int side)
{
    return (int)(cio_now() / (10 * CIO_NSEC_PER_MSEC) % 2) == side;
}

static void *timed_writer(void *arg)
{
    struct side *w = arg;
    unsigned rng = w->seed;
    unsigned char *buf = xmalloc(16384);
    CIO_TIMEOUT_SCOPE(60 * CIO_NSEC_PER_SEC); /* the bound; never reached */
    for (int calls = 0; w->moved < LEN && calls < MAX_CALLS; calls++) {
        size_t n = 1 + next_rand(&rng) % 16384;
        if (n > LEN - w->moved)
            n = LEN - w->moved;
        pattern_fill(buf, n, w->moved, w->seed);
        size_t done = 0;
        int rc = CIO_TIMEOUT(pick_timeout(&rng), cio_stream_write_all(w->s, buf, n, &done));
        w->moved += done; /* what went out, also when cut short */
        if (rc == -ETIMEDOUT) {
            CHECK(cio_now() < cio_deadline()); /* our own timeout, not the bound */
            CHECK(done < n);
            w->timeouts++;
            continue;
        }
        CHECK_RC(rc);
        CHECK_EQ(done, n);
        if (slow_phase(1))
            CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC)); /* the reader finds nothing meanwhile */
    }
    free(buf);
    CHECK_EQ(w->moved, LEN);
    CHECK_RC(cio_socket_shutdown(w->s, CIO_SHUTDOWN_WRITE));
    return NULL;
}

static void *main_race(void *arg)
{
    const struct stream_kind *k = arg;
    cio_stream *a, *b;
    stream_pair(k, &a, &b);
    /* Small buffers: the writer has to wait, so its timeouts race the reader. */
    CHECK_RC(cio_socket_set_send_buffer_size(a, 65536));
    CHECK_RC(cio_socket_set_recv_buffer_size(b, 65536));
    struct side w = {.s = a, .seed = 77}, r = {.s = b, .seed = 78};
    cio_join_handle *writer;
    CHECK_RC(cio_spawn(&writer, timed_writer, &w));

    unsigned char *buf = xmalloc(4096);
    unsigned rng = r.seed;
    CIO_TIMEOUT_SCOPE(60 * CIO_NSEC_PER_SEC);
    bool end = false;
    for (int calls = 0; !end && calls < MAX_CALLS; calls++) {
        size_t want = 1 + next_rand(&rng) % 4096;
        ssize_t n;
        if (next_rand(&rng) % 8 == 0) {
            /* read_exact: cut short, it reports what it did read (all of it consumed). */
            size_t got = 0;
            int rc = CIO_TIMEOUT(pick_timeout(&rng), cio_stream_read_exact(b, buf, want, &got));
            CHECK(rc == 0 || rc == -ETIMEDOUT || rc == -ENODATA);
            if (rc == -ETIMEDOUT) {
                CHECK(cio_now() < cio_deadline());
                r.timeouts++;
            }
            end = rc == -ENODATA;
            n = (ssize_t)got;
        } else {
            n = CIO_TIMEOUT(pick_timeout(&rng), cio_stream_read(b, buf, want));
            if (n == -ETIMEDOUT) {
                CHECK(cio_now() < cio_deadline());
                r.timeouts++;
                continue;
            }
            CHECK(n >= 0);
            end = n == 0;
        }
        CHECK_EQ(pattern_check(buf, (size_t)n, r.moved, w.seed), n);
        r.moved += (size_t)n;
        if (slow_phase(0))
            CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC)); /* the writer's buffer fills meanwhile */
    }
    free(buf);
    CHECK(end);
    CHECK_RC(cio_task_join(writer, NULL, NULL));
    CHECK_EQ(w.moved, LEN);
    CHECK_EQ(r.moved, w.moved); /* bytes in == bytes out */
    CHECK(w.timeouts > 0);
    CHECK(r.timeouts > 0);
    printf("    %s: %d write and %d read timeouts over %d bytes\n", k->name, w.timeouts, r.timeouts,
           LEN);
    cio_socket_close(a);
    cio_socket_close(b);
    return NULL;
}

STREAM_CASE(race)

CIO_TEST_MAIN(STREAM_TESTS(race))
