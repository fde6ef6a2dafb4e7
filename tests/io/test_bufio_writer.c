/*
 * test_bufio_writer.c: the buffered writer (cio/bufio.h), and what buffered I/O costs in
 * system calls, each case run for TCP and Unix streams. The program defines send/sendmsg/
 * recv/recvmsg itself (the library is linked statically, so its calls land here) and counts
 * them: N small writes and a flush are one send, and the peer reads them in one read; a write
 * that does not fit goes out with the buffered bytes in one sendmsg; a flush of nothing, or a
 * write that fits, is no system call; the reader costs one receive per fill on a ready
 * socket (on io_uring a TCP stream makes none of these: the ring moves its bytes). Also:
 * reserve/commit, flush on close, a flush or write cut short by a deadline
 * (progress reported, the rest kept and sent later, every byte once and in order), and a peer
 * that went away (-EPIPE/-ECONNRESET, no SIGPIPE, the unsent bytes kept).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cio/bufio.h"
#include "stream_kinds.h"

static atomic_long sends, sendmsgs, recvs, recv_eagain;
/* Receives on one descriptor (the reader's), and those that failed with EAGAIN. */
static atomic_int watched_fd = -1;
static atomic_long watched_recvs, watched_eagain;

static void count_recv(int fd, ssize_t n)
{
    atomic_fetch_add(&recvs, 1);
    bool eagain = n < 0 && errno == EAGAIN;
    if (eagain)
        atomic_fetch_add(&recv_eagain, 1);
    if (fd == atomic_load(&watched_fd)) {
        atomic_fetch_add(&watched_recvs, 1);
        if (eagain)
            atomic_fetch_add(&watched_eagain, 1);
    }
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
    atomic_fetch_add(&sends, 1);
    return syscall(SYS_sendto, fd, buf, len, flags, NULL, 0);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    atomic_fetch_add(&sendmsgs, 1);
    return syscall(SYS_sendmsg, fd, msg, flags);
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    ssize_t n = syscall(SYS_recvfrom, fd, buf, len, flags, NULL, NULL);
    count_recv(fd, n);
    return n;
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    ssize_t n = syscall(SYS_recvmsg, fd, msg, flags);
    count_recv(fd, n);
    return n;
}

static long sent_calls(void)
{
    return atomic_load(&sends) + atomic_load(&sendmsgs);
}

/* @n system calls, or none where TCP goes through io_uring (CIO_BACKEND=uring): there the
 * ring's send requests and multishot receive move the bytes, with no send or recv at all. */
static long calls(const struct stream_kind *k, long n)
{
    return cio_test_on_uring() && strcmp(k->name, "tcp") == 0 ? 0 : n;
}

/* ---- batching ---- */

/* 100 writes of 10 bytes: no system call until the flush, which is one send; the peer, reading
 * after the flush, gets all 1,000 bytes in one read. A flush of nothing costs nothing. */
static void *main_batching(void *arg)
{
    const struct stream_kind *k = arg;
    cio_stream *a, *b;
    stream_pair(k, &a, &b);
    cio_buf_writer *w;
    CHECK_RC(cio_buf_writer_new(&w, a, 4096));
    unsigned char msg[1000];
    pattern_fill(msg, sizeof(msg), 0, 3);
    long before = sent_calls(), before_send = atomic_load(&sends);
    for (int i = 0; i < 100; i++) {
        size_t done = 0;
        CHECK_RC(cio_buf_writer_write(w, msg + 10 * i, 10, &done));
        CHECK_EQ(done, 10);
    }
    CHECK_EQ(sent_calls(), before); /* all buffered */
    CHECK_EQ(cio_buf_writer_buffered(w), 1000);
    unsigned char got[4096];
    CHECK_ERR(cio_stream_try_read(b, got, sizeof(got)), -EAGAIN); /* nothing went out */
    size_t done = 0;
    CHECK_RC(cio_buf_writer_flush(w, &done));
    CHECK_EQ(done, 1000);
    CHECK_EQ(sent_calls(), before + calls(k, 1));
    CHECK_EQ(atomic_load(&sends), before_send + calls(k, 1)); /* a plain send: one buffer */
    CHECK_EQ(cio_buf_writer_buffered(w), 0);
    CHECK_EQ(cio_stream_read(b, got, sizeof(got)), 1000);
    CHECK_EQ(pattern_check(got, 1000, 0, 3), 1000);
    CHECK_RC(cio_buf_writer_flush(w, &done));
    CHECK_EQ(done, 0);
    CHECK_EQ(sent_calls(), before + calls(k, 1));
    CHECK_RC(cio_buf_writer_write(w, msg, 0, &done)); /* empty: nothing at all */
    CHECK_EQ(done, 0);
    CHECK_RC(cio_buf_writer_write(w, NULL, 0, NULL));
    cio_buf_writer_free(w);
    cio_socket_close(a);
    cio_socket_close(b);
    return NULL;
}
STREAM_CASE(batching)

/* A write that does not fit the room leaves with the buffered bytes in one sendmsg (a large
 * write after small ones; a small write that overflows a nearly full buffer); a write that fits
 * after a partial send slides instead of sending. */
static void *main_vectored(void *arg)
{
    const struct stream_kind *k = arg;
    cio_stream *a, *b;
    stream_pair(k, &a, &b);
    cio_buf_writer *w;
    CHECK_RC(cio_buf_writer_new(&w, a, 4096));
    enum { LEN = 5500 };
    unsigned char *data = xmalloc(3 * LEN), *got = xmalloc(3 * LEN);
    pattern_fill(data, 3 * LEN, 0, 5);
    CHECK_RC(cio_buf_writer_write(w, data, 500, NULL));
    long before_msg = atomic_load(&sendmsgs), before = sent_calls();
    size_t done = 0;
    CHECK_RC(cio_buf_writer_write(w, data + 500, LEN - 500, &done)); /* 500 + 5000 > 4096 */
    CHECK_EQ(done, LEN - 500);
    CHECK_EQ(sent_calls(), before + calls(k, 1));
    CHECK_EQ(atomic_load(&sendmsgs), before_msg + calls(k, 1));
    CHECK_EQ(cio_buf_writer_buffered(w), 0);
    /* Nearly full, then a small write that overflows: one sendmsg for both. */
    CHECK_RC(cio_buf_writer_write(w, data + LEN, 4000, NULL));
    CHECK_EQ(sent_calls(), before + calls(k, 1));
    CHECK_RC(cio_buf_writer_write(w, data + LEN + 4000, 200, &done));
    CHECK_EQ(done, 200);
    CHECK_EQ(sent_calls(), before + calls(k, 2));
    CHECK_EQ(atomic_load(&sendmsgs), before_msg + calls(k, 2));
    CHECK_EQ(cio_buf_writer_buffered(w), 0);
    /* A large write into an empty buffer: one plain send, nothing copied into the buffer. */
    long before_send = atomic_load(&sends);
    CHECK_RC(cio_buf_writer_write(w, data + LEN + 4200, 5000, &done));
    CHECK_EQ(done, 5000);
    CHECK_EQ(atomic_load(&sends), before_send + calls(k, 1));
    CHECK_EQ(cio_buf_writer_buffered(w), 0);
    size_t total = LEN + 4200 + 5000, pos = 0;
    while (pos < total)
        pos += (size_t)CHECK_RC(cio_stream_read(b, got + pos, total - pos));
    CHECK_EQ(pattern_check(got, total, 0, 5), total);
    free(data);
    free(got);
    cio_buf_writer_free(w);
    cio_socket_close(a);
    cio_socket_close(b);
    return NULL;
}
STREAM_CASE(vectored)

/* reserve/commit: format in place; reserve flushes when the room is short; -EMSGSIZE above
 * the capacity; commit refuses more than the room. */
static void *main_reserve(void *arg)
{
    const struct stream_kind *k = arg;
    cio_stream *a, *b;
    stream_pair(k, &a, &b);
    cio_buf_writer *w;
    CHECK_RC(cio_buf_writer_new(&w, a, 64));
    char *room;
    CHECK_EQ(cio_buf_writer_reserve(w, 0, &room), 64);
    int n = snprintf(room, 64, "HTTP/1.1 %d %s\r\n", 200, "OK");
    CHECK_RC(cio_buf_writer_commit(w, (size_t)n));
    CHECK_EQ(cio_buf_writer_buffered(w), (size_t)n);
    CHECK_ERR(cio_buf_writer_commit(w, 64 - (size_t)n + 1), -EINVAL);
    CHECK_ERR(cio_buf_writer_reserve(w, 65, &room), -EMSGSIZE);
    long before = sent_calls();
    CHECK(CHECK_RC(cio_buf_writer_reserve(w, 64 - (size_t)n, &room)) >= 64 - n); /* fits */
    CHECK_EQ(sent_calls(), before);
    CHECK_EQ(cio_buf_writer_reserve(w, 60, &room), 64); /* does not: flushes first */
    CHECK_EQ(sent_calls(), before + calls(k, 1));
    memcpy(room, "body", 4);
    CHECK_RC(cio_buf_writer_commit(w, 4));
    CHECK_RC(cio_buf_writer_close(w)); /* flush on close */
    char got[64];
    size_t want = (size_t)n + 4, pos = 0;
    while (pos < want)
        pos += (size_t)CHECK_RC(cio_stream_read(b, got + pos, want - pos));
    CHECK(memcmp(got, "HTTP/1.1 200 OK\r\nbody", want) == 0);
    cio_socket_close(a);
    cio_socket_close(b);
    return NULL;
}
STREAM_CASE(reserve)

/* Closing the writer flushes it; freeing it drops what was buffered. The stream stays open. */
static void *main_close_flushes(void *arg)
{
    const struct stream_kind *k = arg;
    cio_stream *a, *b;
    stream_pair(k, &a, &b);
    cio_buf_writer *w;
    CHECK_RC(cio_buf_writer_new(&w, a, 0));
    CHECK_RC(cio_buf_writer_write(w, "last words", 10, NULL));
    CHECK_RC(cio_buf_writer_close(w));
    CHECK_RC(cio_buf_writer_new(&w, a, 0));
    CHECK_RC(cio_buf_writer_write(w, "dropped", 7, NULL));
    cio_buf_writer_free(w);
    CHECK_RC(cio_buf_writer_close(NULL));
    cio_buf_writer_free(NULL);
    cio_socket_close(a);
    char got[32];
    size_t done = 0;
    CHECK_ERR(cio_stream_read_exact(b, got, sizeof(got), &done), -ENODATA);
    CHECK_EQ(done, 10);
    CHECK(memcmp(got, "last words", 10) == 0);
    cio_socket_close(b);
    return NULL;
}
STREAM_CASE(close_flushes)

/* ---- cut short ---- */

/* A task reading pattern bytes (seed 9) from @s until end of stream, checking each; the count
 * in @len. */
static void *pattern_reader(void *arg)
{
    struct stream_sink *sk = arg;
    unsigned char buf[65536];
    size_t pos = 0;
    ssize_t n;
    while ((n = CHECK_RC(cio_stream_read(sk->s, buf, sizeof(buf)))) > 0) {
        CHECK_EQ(pattern_check(buf, (size_t)n, pos, sk->seed), n);
        pos += (size_t)n;
    }
    sk->len = pos;
    return NULL;
}

/* Write the pattern (seed 9) from @pos on, @len bytes, through @w; returns what
 * cio_buf_writer_write() returned, the bytes taken in *ret_done. */
static int write_pattern(cio_buf_writer *w, size_t pos, size_t len, size_t *ret_done)
{
    unsigned char *chunk = xmalloc(len);
    pattern_fill(chunk, len, pos, 9);
    int rc = cio_buf_writer_write(w, chunk, len, ret_done);
    free(chunk); /* the writer copied what it kept */
    return rc;
}

/* The peer does not read: a flush and a write stop at a deadline, each reporting what it
 * moved; what the flush could not send stays buffered, ahead of what comes later; once the
 * peer reads, everything arrives once, in order. */
static void *main_cut_short(void *arg)
{
    const struct stream_kind *k = arg;
    cio_stream *a, *b;
    stream_pair(k, &a, &b);
    enum { CAP = 64 * 1024, BIG = 1024 * 1024 };
    cio_buf_writer *w;
    CHECK_RC(cio_buf_writer_new(&w, a, CAP));
    size_t pos = 0, done = 0;
    /* Fill the buffer and flush, again and again, against a peer that does not read: the
     * kernel's buffers fill up and a flush is cut by the deadline. */
    cio_time saved = cio_deadline_set(cio_now() + 50 * CIO_NSEC_PER_MSEC);
    int rc = 0;
    size_t flushed = 0;
    for (int i = 0; rc == 0; i++) {
        CHECK(i < 100000); /* bounded: the kernel's buffers are not endless */
        CHECK_RC(write_pattern(w, pos, CAP, &done));
        CHECK_EQ(done, CAP);
        pos += CAP;
        rc = cio_buf_writer_flush(w, &done);
        flushed += done;
    }
    CHECK_ERR(rc, -ETIMEDOUT);
    CHECK(cio_buf_writer_buffered(w) > 0);
    CHECK_EQ(cio_buf_writer_buffered(w), pos - flushed); /* the rest kept, nothing lost */
    /* A write that does not fit is cut too: it reports the bytes of the caller's it took. */
    rc = write_pattern(w, pos, BIG, &done);
    cio_deadline_restore(saved);
    CHECK_ERR(rc, -ETIMEDOUT);
    CHECK(done < BIG);
    pos += done;
    /* Now the peer reads: resume where the write stopped, close (flush), shut down, and every
     * byte arrives, once, in order. */
    struct stream_sink sk = {b, 0, 9};
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, pattern_reader, &sk));
    CHECK_RC(write_pattern(w, pos, BIG - done, &done));
    pos += done;
    CHECK_RC(cio_buf_writer_close(w));
    CHECK_RC(cio_socket_shutdown(a, CIO_SHUTDOWN_WRITE));
    CHECK_RC(cio_task_join(t, NULL, NULL));
    CHECK_EQ(sk.len, pos);
    cio_socket_close(a);
    cio_socket_close(b);
    return NULL;
}
STREAM_CASE(cut_short)

/* The peer went away: a flush reports -EPIPE or -ECONNRESET (never SIGPIPE, which would kill
 * this process), consistently with what it says it sent, and keeps the rest. */
static void *main_peer_gone(void *arg)
{
    const struct stream_kind *k = arg;
    cio_stream *a, *b;
    stream_pair(k, &a, &b);
    cio_socket_close(b);
    cio_buf_writer *w;
    CHECK_RC(cio_buf_writer_new(&w, a, 1024));
    unsigned char chunk[1000];
    pattern_fill(chunk, sizeof(chunk), 0, 1);
    int rc = 0;
    for (int i = 0; i < 1000 && rc == 0; i++) { /* TCP may take a first send before the RST */
        CHECK_RC(cio_buf_writer_write(w, chunk, sizeof(chunk), NULL));
        size_t before = cio_buf_writer_buffered(w), done = 0;
        rc = cio_buf_writer_flush(w, &done);
        CHECK_EQ(cio_buf_writer_buffered(w), before - done);
        if (rc == 0)
            CHECK_RC(cio_sleep(CIO_NSEC_PER_MSEC));
    }
    CHECK(rc == -EPIPE || rc == -ECONNRESET);
    CHECK(cio_buf_writer_buffered(w) > 0);
    /* A write that does not fit fails the same way, taking nothing; one that fits buffers. */
    size_t done = 1;
    rc = cio_buf_writer_write(w, chunk, sizeof(chunk), &done);
    CHECK(rc == -EPIPE || rc == -ECONNRESET);
    CHECK_EQ(done, 0);
    rc = cio_buf_writer_close(w); /* the flush fails; the writer is freed all the same */
    CHECK(rc == -EPIPE || rc == -ECONNRESET);
    cio_socket_close(a);
    return NULL;
}
STREAM_CASE(peer_gone)

/* ---- the reader's system calls ---- */

/* Lines arriving one at a time (the sender waits for an answer before the next): exactly one
 * receive per line, none failing with EAGAIN — the reader waits for readiness before it
 * reads, and the short-read rule keeps it from trying a drained socket. */
static void *line_sender(void *arg)
{
    cio_stream *s = arg;
    for (int i = 0; i < 200; i++) {
        char line[32], ack;
        int n = snprintf(line, sizeof(line), "line %d\n", i);
        CHECK_RC(cio_stream_write_all(s, line, (size_t)n, NULL));
        CHECK_EQ(cio_stream_read(s, &ack, 1), 1);
    }
    return NULL;
}

static void *main_reader_syscalls(void *arg)
{
    const struct stream_kind *k = arg;
    cio_stream *a, *b;
    stream_pair(k, &a, &b);
    cio_buf_reader *r;
    CHECK_RC(cio_buf_reader_new(&r, b, 0, 0));
    atomic_store(&watched_fd, cio_socket_fd(b));
    long before = atomic_load(&watched_recvs), before_eagain = atomic_load(&watched_eagain);
    cio_join_handle *t;
    CHECK_RC(cio_spawn(&t, line_sender, a));
    for (int i = 0; i < 200; i++) {
        char *line;
        size_t len;
        CHECK(CHECK_RC(cio_buf_reader_read_line(r, &line, &len)) > 0);
        char want[32];
        int n = snprintf(want, sizeof(want), "line %d", i);
        CHECK_EQ(len, (size_t)n);
        CHECK(memcmp(line, want, len) == 0);
        CHECK_RC(cio_stream_write_all(b, "k", 1, NULL));
    }
    CHECK_RC(cio_task_join(t, NULL, NULL));
    long reads = atomic_load(&watched_recvs) - before;
    long failed = atomic_load(&watched_eagain) - before_eagain;
    printf("%s: 200 lines, %ld receives, %ld failing with EAGAIN\n", k->name, reads, failed);
    if (calls(k, 1) == 0)
        CHECK(reads <= 1); /* the one recv that found the socket drained and armed the ring */
    else
        CHECK_EQ(reads, 200);
    CHECK_EQ(failed, 0);
    atomic_store(&watched_fd, -1);
    cio_buf_reader_free(r);
    cio_socket_close(a);
    cio_socket_close(b);
    return NULL;
}
STREAM_CASE(reader_syscalls)

/* ---- arguments ---- */

static void test_arguments(void)
{
    cio_unix_stream *a, *b;
    CHECK_RC(cio_unix_stream_pair(&a, &b));
    cio_buf_writer *w = NULL;
    CHECK_ERR(cio_buf_writer_new(NULL, a, 0), -EINVAL);
    CHECK_ERR((cio_buf_writer_new)(&w, NULL, 0), -EINVAL);
    CHECK(w == NULL);
    CHECK_RC(cio_buf_writer_new(&w, a, 16));
    size_t done = 7;
    CHECK_ERR(cio_buf_writer_write(NULL, "x", 1, &done), -EINVAL);
    CHECK_EQ(done, 0);
    CHECK_ERR(cio_buf_writer_write(w, NULL, 1, NULL), -EINVAL);
    CHECK_ERR(cio_buf_writer_flush(NULL, &done), -EINVAL);
    CHECK_ERR(cio_buf_writer_reserve(NULL, 0, NULL), -EINVAL);
    CHECK_ERR(cio_buf_writer_commit(NULL, 0), -EINVAL);
    CHECK_EQ(cio_buf_writer_buffered(NULL), 0);
    /* Without a runtime: writes that fit work (no system call); a flush cannot wait. */
    CHECK_RC(cio_buf_writer_write(w, "0123456789", 10, NULL));
    CHECK_ERR(cio_buf_writer_flush(w, &done), -EPERM);
    CHECK_EQ(done, 0);
    CHECK_EQ(cio_buf_writer_buffered(w), 10);
    cio_buf_writer_free(w);
    cio_socket_close(a);
    cio_socket_close(b);
}

CIO_TEST_MAIN(STREAM_TESTS(batching), STREAM_TESTS(vectored), STREAM_TESTS(reserve),
              STREAM_TESTS(close_flushes), STREAM_TESTS(cut_short), STREAM_TESTS(peer_gone),
              STREAM_TESTS(reader_syscalls), TEST(test_arguments))
