/*
 * test_tcp_io.c: TCP data paths on loopback — a 16 MiB transfer with random write sizes
 * through a full send buffer, driven by an edge-triggered cio_poll loop; half-close in both
 * directions (and what SHUT_RD does on Linux); reset by peer; writes after the peer is gone (-EPIPE
 * and never SIGPIPE, for plain, vectored, sendfile and splice writes, with the caller's signal mask
 * and pending signals left as they were); sendfile and splice moving bytes exactly.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cio/net.h"
#include "cio/poll.h"
#include "cio/tcp.h"
#include "harness.h"
#include "test_tcp_helpers.h"

#define MIB (1024 * 1024)

enum { TOKEN_A = 1, TOKEN_B = 2, TOKEN_C = 3, TOKEN_D = 4 };

/* ---- 16 MiB through a full send buffer ---- */

static void test_large_transfer_edge_triggered(void)
{
    const size_t total = 16 * MIB;
    const uint64_t seed = 0x5eed;
    cio_tcp_stream *client, *server;
    tcp_pair(&client, &server);
    /* Small buffers so the sender meets a full send buffer again and again. */
    CHECK_RC(cio_socket_set_send_buffer_size(client, 16384));
    CHECK_RC(cio_socket_set_recv_buffer_size(server, 16384));

    cio_poll *poll;
    cio_events *events;
    CHECK_RC(cio_poll_new(&poll, NULL));
    CHECK_RC(cio_events_new(&events, 8));
    CHECK_RC(cio_poll_register(poll, cio_socket_fd(client), TOKEN_A, CIO_WRITABLE));
    CHECK_RC(cio_poll_register(poll, cio_socket_fd(server), TOKEN_B, CIO_READABLE));

    uint8_t *out = malloc(256 * 1024), *in = malloc(256 * 1024);
    CHECK(out != NULL && in != NULL);
    uint64_t rng = 42;
    size_t sent = 0, received = 0, chunk_len = 0, chunk_off = 0;
    long would_block = 0, writes = 0, reads = 0;
    bool eof = false, shut = false;
    int64_t deadline = cio_test_now_ms() + 100000;

    while (!eof) {
        CHECK(cio_test_now_ms() < deadline);
        /* Writer: drain its readiness (write until -EAGAIN or done). */
        for (;;) {
            if (chunk_off == chunk_len) {
                if (sent == total)
                    break;
                chunk_len = 1 + test_rng(&rng) % (256 * 1024);
                if (chunk_len > total - sent)
                    chunk_len = total - sent;
                fill_stream(seed, sent, out, chunk_len);
                chunk_off = 0;
            }
            size_t left = chunk_len - chunk_off;
            ssize_t n;
            if (test_rng(&rng) % 2) {
                n = cio_stream_try_write(client, out + chunk_off, left);
            } else {
                size_t a = left / 3, b = left / 3;
                struct iovec iov[3] = {{out + chunk_off, a},
                                       {out + chunk_off + a, b},
                                       {out + chunk_off + a + b, left - a - b}};
                n = cio_stream_try_writev(client, iov, 3);
            }
            if (n == -EAGAIN) {
                would_block++;
                break;
            }
            CHECK(n > 0);
            writes++;
            chunk_off += (size_t)n;
            sent += (size_t)n;
        }
        if (sent == total && chunk_off == chunk_len && !shut) {
            CHECK_RC(cio_socket_shutdown(client, CIO_SHUTDOWN_WRITE));
            shut = true;
        }

        int nev = cio_poll_wait_ms(poll, events, 1000);
        CHECK(nev >= 0);
        const cio_event *ev;
        for (size_t it = 0; (ev = cio_events_next(events, &it)) != NULL;) {
            if (ev->token != TOKEN_B)
                continue; /* the writer runs every iteration anyway */
            for (;;) {    /* drain until -EAGAIN */
                size_t want = 1 + test_rng(&rng) % (256 * 1024);
                ssize_t n;
                if (test_rng(&rng) % 2) {
                    n = cio_stream_try_read(server, in, want);
                } else {
                    size_t a = want / 2;
                    struct iovec iov[2] = {{in, a}, {in + a, want - a}};
                    n = cio_stream_try_readv(server, iov, 2);
                }
                if (n == -EAGAIN)
                    break;
                CHECK(n >= 0);
                if (n == 0) {
                    eof = true;
                    break;
                }
                reads++;
                size_t bad = check_stream(seed, received, in, (size_t)n);
                if (bad != (size_t)n)
                    TEST_FAIL("byte %zu of the stream is wrong", received + bad);
                received += (size_t)n;
            }
        }
    }
    CHECK_EQ(sent, total);
    CHECK_EQ(received, total);
    CHECK(would_block > 0); /* the send buffer really was full */
    printf("    %ld writes, %ld reads, %ld times the send buffer was full\n", writes, reads,
           would_block);

    CHECK_RC(cio_poll_deregister(poll, cio_socket_fd(client)));
    CHECK_RC(cio_poll_deregister(poll, cio_socket_fd(server)));
    free(out);
    free(in);
    cio_events_free(events);
    cio_poll_free(poll);
    cio_socket_close(client);
    cio_socket_close(server);
}

/* ---- half-close ---- */

static void test_half_close_client_first(void)
{
    cio_tcp_stream *client, *server;
    tcp_pair(&client, &server);
    char buf[16];
    write_all(client, "request", 7);
    CHECK_RC(cio_socket_shutdown(client, CIO_SHUTDOWN_WRITE));
    /* The client can no longer write; no SIGPIPE either. */
    CHECK_ERR(cio_stream_try_write(client, "x", 1), -EPIPE);
    struct iovec iov = {"x", 1};
    CHECK_ERR(cio_stream_try_writev(client, &iov, 1), -EPIPE);
    /* The server reads the request, then end of stream, and its event says so. */
    read_exact(server, buf, 7);
    CHECK(memcmp(buf, "request", 7) == 0);
    CHECK_EQ(read_result(server, buf, sizeof(buf)), 0);
    CHECK(wait_fd(cio_socket_fd(server), CIO_READABLE, 1000) & CIO_EVENT_READABLE);
    /* ... and can still answer over the open direction. */
    write_all(server, "response", 8);
    read_exact(client, buf, 8);
    CHECK(memcmp(buf, "response", 8) == 0);
    CHECK_RC(cio_socket_shutdown(server, CIO_SHUTDOWN_WRITE));
    CHECK_EQ(read_result(client, buf, sizeof(buf)), 0);
    cio_socket_close(client);
    cio_socket_close(server);
}

static void test_half_close_server_first(void)
{
    cio_tcp_stream *client, *server;
    tcp_pair(&client, &server);
    char buf[16];
    write_all(server, "banner", 6);
    CHECK_RC(cio_socket_shutdown(server, CIO_SHUTDOWN_WRITE));
    read_exact(client, buf, 6);
    CHECK(memcmp(buf, "banner", 6) == 0);
    CHECK_EQ(read_result(client, buf, sizeof(buf)), 0);
    /* The client keeps talking; the server keeps listening. */
    for (int i = 0; i < 3; i++) {
        write_all(client, "more", 4);
        read_exact(server, buf, 4);
        CHECK(memcmp(buf, "more", 4) == 0);
    }
    CHECK_RC(cio_socket_shutdown(client, CIO_SHUTDOWN_BOTH));
    CHECK_EQ(read_result(server, buf, sizeof(buf)), 0);
    CHECK_EQ(cio_stream_try_read(client, buf, sizeof(buf)), 0);
    cio_socket_close(client);
    cio_socket_close(server);
}

/* Read whatever arrives within 2 s, up to @len bytes (a read after SHUT_RD says 0, not
 * -EAGAIN, while nothing is queued, so end of stream cannot end the wait). */
static size_t read_within(cio_tcp_stream *stream, char *buf, size_t len)
{
    size_t got = 0;
    for (int64_t end = cio_test_now_ms() + 2000; got < len && cio_test_now_ms() < end;) {
        ssize_t n = cio_stream_try_read(stream, buf + got, len - got);
        CHECK(n >= 0);
        if (n == 0)
            usleep(1000);
        got += (size_t)n;
    }
    return got;
}

/* What CIO_SHUTDOWN_READ does on a TCP stream (cio/socket.h): data already queued is still
 * read, an empty queue reads as end of stream, and the peer is not told — what it sends
 * afterwards is queued and read as well. */
static void test_shutdown_read(void)
{
    cio_tcp_stream *client, *server;
    tcp_pair(&client, &server);
    char buf[16];
    write_all(server, "before", 6);
    CHECK(wait_fd(cio_socket_fd(client), CIO_READABLE, 5000) & CIO_EVENT_READABLE);
    CHECK_RC(cio_socket_shutdown(client, CIO_SHUTDOWN_READ));
    CHECK_EQ(read_within(client, buf, 6), 6);
    CHECK(memcmp(buf, "before", 6) == 0);
    /* Nothing queued: end of stream at once, though the peer sent no FIN and is still open. */
    CHECK_EQ(cio_stream_try_read(client, buf, sizeof(buf)), 0);
    CHECK(wait_fd(cio_socket_fd(client), CIO_READABLE, 1000) & CIO_EVENT_READABLE);
    CHECK_EQ(cio_stream_try_read(client, buf, sizeof(buf)), 0);
    /* The peer's writes still succeed, and their bytes are delivered. */
    write_all(server, "after", 5);
    CHECK_EQ(read_within(client, buf, 5), 5);
    CHECK(memcmp(buf, "after", 5) == 0);
    CHECK_EQ(cio_stream_try_read(client, buf, sizeof(buf)), 0);
    /* Writing still works. */
    write_all(client, "w", 1);
    read_exact(server, buf, 1);
    cio_socket_close(client);
    cio_socket_close(server);
}

/* ---- reset ---- */

static void test_reset_by_zero_linger(void)
{
    cio_tcp_stream *client, *server;
    tcp_pair(&client, &server);
    CHECK_RC(cio_socket_set_recv_buffer_size(client, 4096));
    /* The server has data queued that the client has not read yet... */
    size_t queued = fill_send_buffer(server);
    CHECK(queued > 0);
    /* ... and closes abortively: the queued data is dropped and the client is reset. */
    CHECK_RC(cio_socket_set_linger(server, 0));
    cio_socket_close(server);
    static char buf[65536];
    size_t got = 0;
    ssize_t n;
    for (int i = 0; i < 10000; i++) {
        n = read_result(client, buf, sizeof(buf));
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    CHECK_ERR(n, -ECONNRESET);
    CHECK(got < queued);
    /* The reset is reported once; afterwards writes fail with -EPIPE, without SIGPIPE. */
    CHECK_ERR(cio_stream_try_write(client, "x", 1), -EPIPE);
    cio_socket_close(client);
}

static void test_reset_by_close_with_unread_data(void)
{
    cio_tcp_stream *client, *server;
    tcp_pair(&client, &server);
    write_all(client, "unread", 6);
    CHECK(wait_fd(cio_socket_fd(server), CIO_READABLE, 5000) & CIO_EVENT_READABLE);
    /* Closing with unread received data makes Linux reset rather than FIN. */
    cio_socket_close(server);
    char buf[8];
    CHECK_ERR(read_result(client, buf, sizeof(buf)), -ECONNRESET);
    cio_socket_close(client);
}

/* ---- writes to a closed peer ---- */

/* Write until the connection reports it is gone; returns the final error. */
static ssize_t write_until_error(cio_tcp_stream *stream, bool vectored)
{
    for (int i = 0; i < 1000; i++) {
        ssize_t n;
        if (vectored) {
            struct iovec iov[2] = {{"ab", 2}, {"cd", 2}};
            n = cio_stream_try_writev(stream, iov, 2);
        } else {
            n = cio_stream_try_write(stream, "abcd", 4);
        }
        if (n < 0 && n != -EAGAIN)
            return n;
        usleep(1000);
    }
    TEST_FAIL("writes to a closed peer kept succeeding");
}

static void check_write_after_peer_closed(bool vectored)
{
    CHECK(signal(SIGPIPE, SIG_DFL) != SIG_ERR); /* a SIGPIPE would kill this case */
    cio_tcp_stream *client, *server;
    tcp_pair(&client, &server);
    cio_socket_close(server);
    char buf[4];
    CHECK_EQ(read_result(client, buf, sizeof(buf)), 0); /* the FIN */
    /* The first write may be accepted (the peer answers it with a reset)... */
    ssize_t n = write_until_error(client, vectored);
    CHECK(n == -EPIPE || n == -ECONNRESET);
    /* ... after which every write is -EPIPE. */
    CHECK_ERR(vectored ? write_until_error(client, true) : write_until_error(client, false),
              -EPIPE);
    cio_socket_close(client);
}

static void test_write_after_peer_closed(void)
{
    check_write_after_peer_closed(false);
}

static void test_writev_after_peer_closed(void)
{
    check_write_after_peer_closed(true);
}

/* ---- sendfile ---- */

static int make_file(const char *name, size_t size, uint64_t seed, char *ret_path, size_t cap)
{
    snprintf(ret_path, cap, "%s/%s", cio_test_tmpdir(), name);
    int fd = (int)CHECK_SYS(open(ret_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    uint8_t *data = malloc(size);
    CHECK(data != NULL);
    fill_stream(seed, 0, data, size);
    size_t put = 0;
    while (put < size) {
        ssize_t n = write(fd, data + put, size - put);
        CHECK(n > 0);
        put += (size_t)n;
    }
    free(data);
    CHECK_SYS(lseek(fd, 0, SEEK_SET));
    return fd;
}

/* Receive `len` bytes of the stream `seed` from offset `from` on `reader` while `pump`
 * sends them; both sides in one cio_poll loop. */
typedef ssize_t (*pump_fn)(void *ctx);

static void run_pump(cio_tcp_stream *reader, int writer_fd, pump_fn pump, void *ctx, uint64_t seed,
                     size_t from, size_t len, long *ret_would_block)
{
    cio_poll *poll;
    cio_events *events;
    CHECK_RC(cio_poll_new(&poll, NULL));
    CHECK_RC(cio_events_new(&events, 8));
    CHECK_RC(cio_poll_register(poll, cio_socket_fd(reader), TOKEN_A, CIO_READABLE));
    CHECK_RC(cio_poll_register(poll, writer_fd, TOKEN_B, CIO_WRITABLE));
    static uint8_t buf[65536];
    size_t received = 0;
    bool pumping = true;
    long would_block = 0;
    int64_t deadline = cio_test_now_ms() + 60000;
    while (received < len) {
        CHECK(cio_test_now_ms() < deadline);
        while (pumping) {
            ssize_t n = pump(ctx);
            if (n == -EAGAIN) {
                would_block++;
                break;
            }
            CHECK_RC(n);
            if (n == 0)
                pumping = false; /* end of the source */
        }
        CHECK(cio_poll_wait_ms(poll, events, 1000) >= 0);
        for (;;) {
            ssize_t n = cio_stream_try_read(reader, buf, sizeof(buf));
            if (n == -EAGAIN)
                break;
            CHECK(n > 0);
            size_t bad = check_stream(seed, from + received, buf, (size_t)n);
            if (bad != (size_t)n)
                TEST_FAIL("byte %zu differs", from + received + bad);
            received += (size_t)n;
            CHECK(received <= len);
        }
    }
    CHECK_RC(cio_poll_deregister(poll, cio_socket_fd(reader)));
    CHECK_RC(cio_poll_deregister(poll, writer_fd));
    cio_events_free(events);
    cio_poll_free(poll);
    if (ret_would_block != NULL)
        *ret_would_block = would_block;
}

struct sendfile_ctx {
    cio_tcp_stream *stream;
    int file_fd;
    int64_t *offset;
    size_t chunk;
};

static ssize_t sendfile_pump(void *p)
{
    struct sendfile_ctx *c = p;
    return cio_tcp_stream_try_sendfile(c->stream, c->file_fd, c->offset, c->chunk);
}

static void test_sendfile_exact(void)
{
    const size_t size = 3 * MIB + 12345;
    const uint64_t seed = 0xf11e;
    char path[512];
    int file = make_file("sendfile.bin", size, seed, path, sizeof(path));
    cio_tcp_stream *client, *server;
    tcp_pair(&client, &server);
    CHECK_RC(cio_socket_set_recv_buffer_size(client, 16384));
    CHECK_RC(cio_socket_set_send_buffer_size(server, 16384));

    /* With an explicit offset: the file position does not move. */
    int64_t offset = 1000;
    struct sendfile_ctx ctx = {server, file, &offset, 200000};
    long would_block = 0;
    run_pump(client, cio_socket_fd(server), sendfile_pump, &ctx, seed, 1000, size - 1000,
             &would_block);
    CHECK_EQ(offset, (int64_t)size);
    CHECK_EQ(lseek(file, 0, SEEK_CUR), 0);
    CHECK(would_block > 0);
    /* At end of file: 0. Zero count: 0. */
    CHECK_EQ(cio_tcp_stream_try_sendfile(server, file, &offset, 100), 0);
    CHECK_EQ(cio_tcp_stream_try_sendfile(server, file, &offset, 0), 0);

    /* With the file position (NULL offset): the whole file from position 100, which
     * advances to the end. */
    CHECK_SYS(lseek(file, 100, SEEK_SET));
    ctx.offset = NULL;
    ctx.chunk = 300000;
    run_pump(client, cio_socket_fd(server), sendfile_pump, &ctx, seed, 100, size - 100, NULL);
    CHECK_EQ(lseek(file, 0, SEEK_CUR), (off_t)size);

    /* Errors. */
    int64_t negative = -1;
    CHECK_ERR(cio_tcp_stream_try_sendfile(server, file, &negative, 10), -EINVAL);
    CHECK_ERR(cio_tcp_stream_try_sendfile(server, -1, NULL, 10), -EBADF);
    close(file);
    cio_socket_close(client);
    cio_socket_close(server);
}

/* sendfile has no MSG_NOSIGNAL; cio must still keep SIGPIPE away, and leave the caller's
 * signal mask and pending signals exactly as they were. */
static void test_sendfile_no_sigpipe(void)
{
    CHECK(signal(SIGPIPE, SIG_DFL) != SIG_ERR);
    char path[512];
    int file = make_file("pipe.bin", 65536, 7, path, sizeof(path));
    cio_tcp_stream *client, *server;
    tcp_pair(&client, &server);
    cio_socket_close(client);
    char buf[4];
    CHECK_EQ(read_result(server, buf, sizeof(buf)), 0);
    ssize_t n = 0;
    for (int i = 0; i < 1000; i++) {
        int64_t off = 0;
        n = cio_tcp_stream_try_sendfile(server, file, &off, 1024);
        if (n < 0 && n != -EAGAIN)
            break;
        usleep(1000);
    }
    CHECK(n == -EPIPE || n == -ECONNRESET);
    int64_t off = 0;
    CHECK_ERR(cio_tcp_stream_try_sendfile(server, file, &off, 1024), -EPIPE);
    /* Still alive. The mask is unchanged: SIGPIPE unblocked, nothing pending. */
    sigset_t mask, pending;
    CHECK_SYS(sigprocmask(SIG_BLOCK, NULL, &mask));
    CHECK(!sigismember(&mask, SIGPIPE));
    CHECK_SYS(sigpending(&pending));
    CHECK(!sigismember(&pending, SIGPIPE));

    /* A caller that blocks SIGPIPE itself: cio's signal is consumed, the mask kept. */
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    CHECK_SYS(sigprocmask(SIG_BLOCK, &pipe_set, NULL));
    CHECK_ERR(cio_tcp_stream_try_sendfile(server, file, &off, 1024), -EPIPE);
    CHECK_SYS(sigpending(&pending));
    CHECK(!sigismember(&pending, SIGPIPE));
    CHECK_SYS(sigprocmask(SIG_BLOCK, NULL, &mask));
    CHECK(sigismember(&mask, SIGPIPE));
    /* ... and a SIGPIPE the caller already had pending is left pending (it is theirs). */
    CHECK_SYS(raise(SIGPIPE));
    CHECK_ERR(cio_tcp_stream_try_sendfile(server, file, &off, 1024), -EPIPE);
    CHECK_SYS(sigpending(&pending));
    CHECK(sigismember(&pending, SIGPIPE));
    struct timespec zero = {0, 0};
    CHECK_EQ(sigtimedwait(&pipe_set, NULL, &zero), SIGPIPE);
    CHECK_SYS(sigprocmask(SIG_UNBLOCK, &pipe_set, NULL));

    close(file);
    cio_socket_close(server);
}

/* ---- splice ---- */

/* Which of the first 1024 descriptors are open (for checking ones cio keeps private). */
static void open_fds(bool open[1024])
{
    for (int fd = 0; fd < 1024; fd++)
        open[fd] = fcntl(fd, F_GETFD) >= 0;
}

static void test_splice_pipe_basics(void)
{
    cio_splice_pipe *pipe = NULL;
    static bool before[1024], after[1024];
    CHECK_ERR(cio_splice_pipe_new(NULL, 0), -EINVAL);
    open_fds(before);
    CHECK_RC(cio_splice_pipe_new(&pipe, 0));
    open_fds(after);
    int created = 0;
    for (int fd = 0; fd < 1024; fd++) {
        if (after[fd] && !before[fd]) {
            CHECK_FD_FLAGS(fd); /* the pipe's two ends */
            created++;
        }
    }
    CHECK_EQ(created, 2);
    CHECK(cio_splice_pipe_capacity(pipe) >= 4096);
    CHECK_EQ(cio_splice_pipe_pending(pipe), 0);
    cio_splice_pipe_free(pipe);
    CHECK_RC(cio_splice_pipe_new(&pipe, 1 << 20));
    CHECK(cio_splice_pipe_capacity(pipe) >= (1u << 20));
    CHECK_EQ(cio_splice_pipe_capacity(NULL), 0);
    CHECK_EQ(cio_splice_pipe_pending(NULL), 0);
    CHECK_ERR(cio_splice_try(NULL, 0, NULL, 1, NULL, 10), -EINVAL);
    CHECK_ERR(cio_splice_try(pipe, -1, NULL, 1, NULL, 10), -EBADF);
    CHECK_EQ(cio_splice_try(pipe, 0, NULL, 1, NULL, 0), 0);
    int64_t negative = -5;
    CHECK_ERR(cio_splice_try(pipe, 0, &negative, 1, NULL, 10), -EINVAL);
    cio_splice_pipe_free(pipe);
    cio_splice_pipe_free(NULL);
}

/*
 * A relay: A writes 4 MiB into connection 1; the relay splices connection 1's far end into
 * connection 2; B reads connection 2's far end and checks every byte. End of stream is
 * carried across: when A shuts down writing, the relay sees 0, shuts down its side, B sees
 * end of stream. One cio_poll loop drives all four sockets.
 */
static void test_splice_relay_exact(void)
{
    const size_t total = 4 * MIB + 777;
    const uint64_t seed = 0x5911ce;
    cio_tcp_stream *a, *relay_in, *relay_out, *b;
    tcp_pair(&a, &relay_in);
    tcp_pair(&relay_out, &b);
    CHECK_RC(cio_socket_set_recv_buffer_size(b, 16384)); /* make the relay wait */
    cio_splice_pipe *pipe;
    CHECK_RC(cio_splice_pipe_new(&pipe, 0));

    cio_poll *poll;
    cio_events *events;
    CHECK_RC(cio_poll_new(&poll, NULL));
    CHECK_RC(cio_events_new(&events, 8));
    CHECK_RC(cio_poll_register(poll, cio_socket_fd(a), TOKEN_A, CIO_WRITABLE));
    CHECK_RC(cio_poll_register(poll, cio_socket_fd(relay_in), TOKEN_B, CIO_READABLE));
    CHECK_RC(cio_poll_register(poll, cio_socket_fd(relay_out), TOKEN_C, CIO_WRITABLE));
    CHECK_RC(cio_poll_register(poll, cio_socket_fd(b), TOKEN_D, CIO_READABLE));

    static uint8_t out[65536], in[65536];
    size_t sent = 0, received = 0, relayed = 0;
    bool a_shut = false, relay_done = false, b_eof = false;
    long relay_waits_out = 0, relay_waits_in = 0;
    int64_t deadline = cio_test_now_ms() + 60000;
    while (!b_eof) {
        CHECK(cio_test_now_ms() < deadline);
        /* A: write until -EAGAIN. */
        while (sent < total) {
            size_t n = total - sent < sizeof(out) ? total - sent : sizeof(out);
            fill_stream(seed, sent, out, n);
            ssize_t w = cio_stream_try_write(a, out, n);
            if (w == -EAGAIN)
                break;
            CHECK(w > 0);
            sent += (size_t)w;
        }
        if (sent == total && !a_shut) {
            CHECK_RC(cio_socket_shutdown(a, CIO_SHUTDOWN_WRITE));
            a_shut = true;
        }
        /* Relay: splice until -EAGAIN or end of input. */
        while (!relay_done) {
            ssize_t n = cio_splice_try(pipe, cio_socket_fd(relay_in), NULL,
                                       cio_socket_fd(relay_out), NULL, 1 << 20);
            if (n == -EAGAIN) {
                if (cio_splice_pipe_pending(pipe) > 0)
                    relay_waits_out++;
                else
                    relay_waits_in++;
                break;
            }
            CHECK_RC(n);
            if (n == 0) {
                CHECK_EQ(cio_splice_pipe_pending(pipe), 0);
                CHECK_RC(cio_socket_shutdown(relay_out, CIO_SHUTDOWN_WRITE));
                relay_done = true;
                break;
            }
            relayed += (size_t)n;
        }
        /* B: read until -EAGAIN, checking. */
        for (;;) {
            ssize_t n = cio_stream_try_read(b, in, sizeof(in));
            if (n == -EAGAIN)
                break;
            CHECK(n >= 0);
            if (n == 0) {
                b_eof = true;
                break;
            }
            size_t bad = check_stream(seed, received, in, (size_t)n);
            if (bad != (size_t)n)
                TEST_FAIL("relayed byte %zu differs", received + bad);
            received += (size_t)n;
        }
        if (!b_eof)
            CHECK(cio_poll_wait_ms(poll, events, 1000) >= 0);
    }
    CHECK_EQ(received, total);
    CHECK_EQ(relayed, total);
    CHECK(relay_waits_out > 0); /* the relay did meet a full output */
    printf("    relay waited %ld times for output, %ld for input\n", relay_waits_out,
           relay_waits_in);

    cio_tcp_stream *all[4] = {a, relay_in, relay_out, b};
    for (int i = 0; i < 4; i++) {
        CHECK_RC(cio_poll_deregister(poll, cio_socket_fd(all[i])));
        cio_socket_close(all[i]);
    }
    cio_splice_pipe_free(pipe);
    cio_events_free(events);
    cio_poll_free(poll);
}

struct splice_ctx {
    cio_splice_pipe *pipe;
    int in_fd;
    int64_t *in_offset;
    int out_fd;
};

static ssize_t splice_pump(void *p)
{
    struct splice_ctx *c = p;
    return cio_splice_try(c->pipe, c->in_fd, c->in_offset, c->out_fd, NULL, 100000);
}

/* File to socket with an offset, and socket to file with an offset. */
static void test_splice_files_exact(void)
{
    const size_t size = 2 * MIB + 3;
    const uint64_t seed = 0xabc;
    char path[512], copy_path[512];
    int file = make_file("splice.bin", size, seed, path, sizeof(path));
    cio_tcp_stream *client, *server;
    tcp_pair(&client, &server);
    CHECK_RC(cio_socket_set_recv_buffer_size(client, 16384));
    cio_splice_pipe *pipe;
    CHECK_RC(cio_splice_pipe_new(&pipe, 0));
    int64_t offset = 5;
    struct splice_ctx ctx = {pipe, file, &offset, cio_socket_fd(server)};
    run_pump(client, cio_socket_fd(server), splice_pump, &ctx, seed, 5, size - 5, NULL);
    CHECK_EQ(offset, (int64_t)size);
    CHECK_EQ(cio_splice_pipe_pending(pipe), 0);
    CHECK_EQ(lseek(file, 0, SEEK_CUR), 0);

    /* Socket to file at an offset: the server sends 1 MiB, spliced into a new file at 10. */
    snprintf(copy_path, sizeof(copy_path), "%s/copy.bin", cio_test_tmpdir());
    int copy = (int)CHECK_SYS(open(copy_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    const size_t part = MIB;
    uint8_t *data = malloc(part);
    CHECK(data != NULL);
    fill_stream(seed, 0, data, part);
    write_all(server, data, part);
    CHECK_RC(cio_socket_shutdown(server, CIO_SHUTDOWN_WRITE));
    int64_t out_off = 10;
    size_t moved = 0;
    for (int i = 0; i < 100000; i++) {
        ssize_t n = cio_splice_try(pipe, cio_socket_fd(client), NULL, copy, &out_off, 65536);
        if (n == -EAGAIN) {
            wait_fd(cio_socket_fd(client), CIO_READABLE, 1000);
            continue;
        }
        CHECK_RC(n);
        if (n == 0)
            break;
        moved += (size_t)n;
    }
    CHECK_EQ(moved, part);
    CHECK_EQ(out_off, (int64_t)(10 + part));
    struct stat st;
    CHECK_SYS(fstat(copy, &st));
    CHECK_EQ(st.st_size, (off_t)(10 + part));
    uint8_t *back = malloc(part);
    CHECK(back != NULL);
    CHECK_EQ(pread(copy, back, part, 10), (ssize_t)part);
    CHECK(memcmp(back, data, part) == 0);
    free(back);
    free(data);
    close(copy);
    close(file);
    cio_splice_pipe_free(pipe);
    cio_socket_close(client);
    cio_socket_close(server);
}

static void test_splice_no_sigpipe(void)
{
    CHECK(signal(SIGPIPE, SIG_DFL) != SIG_ERR);
    char path[512];
    int file = make_file("sp.bin", 65536, 9, path, sizeof(path));
    cio_tcp_stream *client, *server;
    tcp_pair(&client, &server);
    cio_socket_close(client);
    char buf[4];
    CHECK_EQ(read_result(server, buf, sizeof(buf)), 0);
    cio_splice_pipe *pipe;
    CHECK_RC(cio_splice_pipe_new(&pipe, 0));
    ssize_t n = 0;
    for (int i = 0; i < 1000; i++) {
        int64_t off = 0;
        n = cio_splice_try(pipe, file, &off, cio_socket_fd(server), NULL, 1024);
        if (n < 0 && n != -EAGAIN)
            break;
        usleep(1000);
    }
    CHECK(n == -EPIPE || n == -ECONNRESET);
    int64_t off = 0;
    CHECK_ERR(cio_splice_try(pipe, file, &off, cio_socket_fd(server), NULL, 1024), -EPIPE);
    CHECK(cio_splice_pipe_pending(pipe) > 0); /* the bytes stay pending, not lost silently */
    sigset_t pending;
    CHECK_SYS(sigpending(&pending));
    CHECK(!sigismember(&pending, SIGPIPE));
    cio_splice_pipe_free(pipe);
    close(file);
    cio_socket_close(server);
}

CIO_TEST_MAIN(TEST(test_large_transfer_edge_triggered), TEST(test_half_close_client_first),
              TEST(test_half_close_server_first), TEST(test_shutdown_read),
              TEST(test_reset_by_zero_linger), TEST(test_reset_by_close_with_unread_data),
              TEST(test_write_after_peer_closed), TEST(test_writev_after_peer_closed),
              TEST(test_sendfile_exact), TEST(test_sendfile_no_sigpipe),
              TEST(test_splice_pipe_basics), TEST(test_splice_relay_exact),
              TEST(test_splice_files_exact), TEST(test_splice_no_sigpipe))
