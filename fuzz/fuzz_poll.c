/*
 * fuzz_poll.c: libFuzzer target for the event core (cio/poll.h). The input is a program: its
 * first byte picks the backend (epoll or poll), the events capacity and whether a waker
 * exists; each following byte is one operation on one of four slots, each slot a watched
 * descriptor (one end of a Unix socketpair, or a pipe's read end) with its peer: open,
 * register, reregister, deregister, write into the peer, read, hang up the peer, duplicate,
 * close (deregistering first, or closing first and deregistering after, as poll.h allows),
 * wake, and wait — optionally deregistering or reregistering a slot in the middle of handling
 * the batch. A model of every slot checks, after each operation:
 *
 *   - no event ever carries a token that is not live: never one of a deregistered, replaced
 *     or closed registration (not even one already in the batch being handled, nor one of a
 *     closed descriptor whose number was reused, nor of a file a dup keeps open);
 *   - every byte read is the next one written, in order, none lost or repeated; a read says
 *     end of stream only after the peer hung up and every byte arrived, and -EAGAIN only
 *     when nothing is left;
 *   - readiness is not lost: a registered descriptor that became ready (or was ready when
 *     registered or re-armed) is reported by the next wait whose batch has room;
 *   - each call's result is the one poll.h documents (-EEXIST, -ENOENT, -EBADF, -EINVAL);
 *   - at the end, with everything freed, the process has exactly the descriptors it had at
 *     the start (and LeakSanitizer sees no leaked memory).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cio/poll.h"
#include "fuzz.h"

#define SLOTS 4
#define MAX_OPS 512
#define WAKER_TOKEN UINT64_MAX

struct slot {
    int fd;          /* the watched end, -1 when closed */
    int peer;        /* the end the program writes into, -1 once hung up or closed */
    int dup;         /* a duplicate of the watched end, or -1 */
    bool is_pipe;    /* pipe (fd reads, peer writes) or socketpair */
    bool registered; /* registered with the poll under `token` */
    cio_token token;
    unsigned interest;
    bool hung_up;      /* the peer was closed: once drained, reads return 0 */
    uint64_t sent;     /* bytes written into the peer */
    uint64_t received; /* bytes read from the watched end (or its dup) */
    bool owed_read;    /* a readable event is owed: became readable while registered */
    bool owed_write;   /* a writable event is owed: registered or re-armed while writable */
};

struct model {
    cio_poll *poll;
    cio_events *events;
    size_t capacity;
    cio_waker *waker;
    bool owed_wake;
    cio_token next_token;
    struct slot slots[SLOTS];
};

/* The byte at position `i` of every stream: a hash, so a lost, repeated or reordered byte shows
 * (a plain counter would miss a shift by 256). */
static uint8_t stream_byte(uint64_t i)
{
    return (uint8_t)((i * 0x9e3779b97f4a7c15ull) >> 56);
}

static int count_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    FUZZ_ASSERT(dir != NULL);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL)
        n += de->d_name[0] != '.';
    closedir(dir);
    return n - 1; /* the directory's own descriptor */
}

static bool readable_now(const struct slot *s)
{
    return s->sent > s->received || s->hung_up;
}

/* The read end to use: the watched end, or its dup once the watched end was closed. */
static int read_end(const struct slot *s)
{
    return s->fd >= 0 ? s->fd : s->dup;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        FUZZ_ASSERT(close(*fd) == 0);
    *fd = -1;
}

/* Note readiness owed after (re)arming a registration, as poll.h promises. */
static void arm(struct slot *s)
{
    s->owed_read = (s->interest & CIO_READABLE) && readable_now(s);
    s->owed_write = (s->interest & CIO_WRITABLE) && !s->is_pipe;
}

static void slot_reset(struct slot *s)
{
    memset(s, 0, sizeof(*s));
    s->fd = s->peer = s->dup = -1;
}

static void op_close(struct model *m, struct slot *s);

static void op_open(struct model *m, struct slot *s, uint8_t arg)
{
    op_close(m, s);
    int fds[2];
    s->is_pipe = arg & 1;
    if (s->is_pipe)
        FUZZ_ASSERT(pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0);
    else
        FUZZ_ASSERT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
    s->fd = fds[0];
    s->peer = fds[1];
}

static void op_register(struct model *m, struct slot *s, uint8_t arg)
{
    if (s->fd < 0)
        return;
    unsigned interest = arg & 7;
    cio_token token = m->next_token;
    int rc = cio_poll_register(m->poll, s->fd, token, interest);
    if (interest == 0) {
        FUZZ_ASSERT(rc == -EINVAL);
    } else if (s->registered) {
        FUZZ_ASSERT(rc == -EEXIST); /* and the old registration stays as it was */
    } else {
        FUZZ_ASSERT(rc == 0);
        m->next_token++;
        s->registered = true;
        s->token = token;
        s->interest = interest;
        arm(s);
    }
}

static void op_reregister(struct model *m, struct slot *s, uint8_t arg)
{
    if (s->fd < 0)
        return;
    unsigned interest = (arg & 7) != 0 ? arg & 7 : CIO_READABLE;
    cio_token token = m->next_token;
    int rc = cio_poll_reregister(m->poll, s->fd, token, interest);
    if (!s->registered) {
        FUZZ_ASSERT(rc == -ENOENT);
        return;
    }
    FUZZ_ASSERT(rc == 0);
    m->next_token++;
    s->token = token;
    s->interest = interest;
    arm(s);
}

static void op_deregister(struct model *m, struct slot *s)
{
    if (s->fd < 0)
        return;
    int rc = cio_poll_deregister(m->poll, s->fd);
    FUZZ_ASSERT(rc == (s->registered ? 0 : -ENOENT));
    s->registered = false;
    s->owed_read = s->owed_write = false;
}

static void op_write(struct slot *s, uint8_t arg)
{
    if (s->peer < 0)
        return;
    uint8_t buf[4096];
    size_t len = 1 + (size_t)arg * 16;
    for (size_t i = 0; i < len; i++)
        buf[i] = stream_byte(s->sent + i);
    ssize_t n = s->is_pipe ? write(s->peer, buf, len) : send(s->peer, buf, len, MSG_NOSIGNAL);
    if (n < 0) {
        /* Full; or the reader is gone (socketpair and pipe alike) once every read end is. */
        FUZZ_ASSERT(errno == EAGAIN || (errno == EPIPE && read_end(s) < 0));
        return;
    }
    FUZZ_ASSERT(n > 0 && (size_t)n <= len);
    bool was_readable = readable_now(s);
    s->sent += (uint64_t)n;
    if (s->registered && (s->interest & CIO_READABLE) && !was_readable)
        s->owed_read = true;
}

static void op_read(struct slot *s, uint8_t arg)
{
    int fd = read_end(s);
    if (fd < 0)
        return;
    uint8_t buf[4096];
    size_t want = arg == 255 ? sizeof(buf) : 1 + (size_t)arg * 8;
    for (int round = 0; round < 64; round++) { /* arg 255: drain (bounded: 64 x 4 KiB) */
        ssize_t n = read(fd, buf, want);
        if (n < 0) {
            FUZZ_ASSERT(errno == EAGAIN);
            FUZZ_ASSERT(s->sent == s->received && !s->hung_up);
            return;
        }
        if (n == 0) {
            FUZZ_ASSERT(s->hung_up && s->sent == s->received);
            return;
        }
        FUZZ_ASSERT((uint64_t)n <= s->sent - s->received);
        for (ssize_t i = 0; i < n; i++)
            FUZZ_ASSERT(buf[i] == stream_byte(s->received + (uint64_t)i));
        s->received += (uint64_t)n;
        if (!readable_now(s))
            s->owed_read = false; /* nothing left to report: a wait re-checks readiness */
        if (arg != 255)
            return;
    }
}

static void op_hang_up(struct slot *s)
{
    if (s->peer < 0)
        return;
    bool was_readable = readable_now(s);
    close_fd(&s->peer);
    s->hung_up = true;
    if (s->registered && (s->interest & CIO_READABLE) && !was_readable)
        s->owed_read = true;
}

static void op_dup(struct slot *s)
{
    if (s->fd < 0 || s->dup >= 0)
        return;
    s->dup = fcntl(s->fd, F_DUPFD_CLOEXEC, 0);
    FUZZ_ASSERT(s->dup >= 0);
}

/* Deregister (when registered) and close everything of the slot. */
static void op_close(struct model *m, struct slot *s)
{
    if (s->registered)
        op_deregister(m, s);
    close_fd(&s->fd);
    close_fd(&s->peer);
    close_fd(&s->dup);
    slot_reset(s);
}

/* Close the watched end first, then deregister (poll.h: -EBADF, and cio's side is clean). A
 * dup, if any, keeps the file open, and the peer stays: writes into it still make the kernel
 * report that file, which cio must filter out. */
static void op_close_first(struct model *m, struct slot *s)
{
    if (s->fd < 0)
        return;
    int fd = s->fd;
    close_fd(&s->fd);
    int rc = cio_poll_deregister(m->poll, fd);
    FUZZ_ASSERT(rc == -EBADF || (rc == -ENOENT && !s->registered));
    s->registered = false;
    s->owed_read = s->owed_write = false;
}

static void op_wake(struct model *m)
{
    if (m->waker == NULL)
        return;
    FUZZ_ASSERT(cio_waker_wake(m->waker) == 0);
    m->owed_wake = true;
}

static struct slot *slot_of_token(struct model *m, cio_token token)
{
    for (int i = 0; i < SLOTS; i++)
        if (m->slots[i].registered && m->slots[i].token == token)
            return &m->slots[i];
    return NULL;
}

/* Wait without blocking and handle the whole batch. @arg: bit 0 asks for a change in the
 * middle of the batch — before event (arg >> 1) & 3, slot (arg >> 3) & 3 is deregistered, or
 * reregistered under a new token when bit 5 is set. */
static void op_wait(struct model *m, uint8_t arg)
{
    int n = cio_poll_wait(m->poll, m->events, CIO_TIMEOUT_NONE);
    if (n == -EINTR)
        return;
    FUZZ_ASSERT(n >= 0 && (size_t)n <= m->capacity);
    bool change = arg & 1;
    size_t change_at = (arg >> 1) & 3;
    struct slot *changed = &m->slots[(arg >> 3) & 3];
    const cio_event *ev;
    size_t seen = 0;
    for (size_t it = 0;; seen++) {
        if (change && seen == change_at) {
            if (arg & 0x20)
                op_reregister(m, changed, CIO_READABLE | CIO_WRITABLE);
            else
                op_deregister(m, changed);
        }
        if ((ev = cio_events_next(m->events, &it)) == NULL)
            break;
        FUZZ_ASSERT(ev->flags != 0);
        if (ev->token == WAKER_TOKEN && m->waker != NULL) {
            m->owed_wake = false;
            continue;
        }
        struct slot *s = slot_of_token(m, ev->token);
        FUZZ_ASSERT(s != NULL); /* no event of a registration that is not live */
        if (ev->flags & (CIO_EVENT_READABLE | CIO_EVENT_READ_CLOSED | CIO_EVENT_ERROR))
            s->owed_read = false;
        if (ev->flags & (CIO_EVENT_WRITABLE | CIO_EVENT_WRITE_CLOSED | CIO_EVENT_ERROR))
            s->owed_write = false;
    }
    FUZZ_ASSERT(seen <= (size_t)n);
    /* A batch with room left holds everything that was ready: nothing owed may be missing.
     * (A change in the middle re-arms a registration, which may owe an event anew.) */
    if ((size_t)n < m->capacity && !change) {
        FUZZ_ASSERT(!m->owed_wake);
        for (int i = 0; i < SLOTS; i++)
            FUZZ_ASSERT(!m->slots[i].owed_read && !m->slots[i].owed_write);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN); /* a write into a pipe with no reader left must say EPIPE */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    int fds_before = count_fds();

    struct model m;
    memset(&m, 0, sizeof(m));
    m.next_token = 1;
    for (int i = 0; i < SLOTS; i++)
        slot_reset(&m.slots[i]);
    cio_poll_options opts = {.backend = (data[0] & 1) ? CIO_BACKEND_POLL : CIO_BACKEND_EPOLL};
    m.capacity = 1 + ((data[0] >> 1) & 7);
    FUZZ_ASSERT(cio_poll_new(&m.poll, &opts) == 0);
    FUZZ_ASSERT(cio_events_new(&m.events, m.capacity) == 0);
    if (data[0] & 0x10)
        FUZZ_ASSERT(cio_waker_new(&m.waker, m.poll, WAKER_TOKEN) == 0);

    /* Each operation is two bytes: what and where, then its argument. */
    size_t ops = 0;
    for (size_t i = 1; i + 1 < size && ops < MAX_OPS; i += 2, ops++) {
        uint8_t what = data[i] >> 2, arg = data[i + 1];
        struct slot *s = &m.slots[data[i] & 3];
        switch (what % 13) {
        case 0:
            op_open(&m, s, arg);
            break;
        case 1:
            op_register(&m, s, arg);
            break;
        case 2:
            op_reregister(&m, s, arg);
            break;
        case 3:
            op_deregister(&m, s);
            break;
        case 4:
        case 5:
            op_write(s, arg);
            break;
        case 6:
            op_read(s, arg);
            break;
        case 7:
            op_hang_up(s);
            break;
        case 8:
            op_dup(s);
            break;
        case 9:
            op_close(&m, s);
            break;
        case 10:
            op_close_first(&m, s);
            break;
        case 11:
            op_wake(&m);
            break;
        default:
            op_wait(&m, arg);
            break;
        }
    }

    for (int i = 0; i < SLOTS; i++)
        op_close(&m, &m.slots[i]);
    cio_waker_free(m.waker);
    cio_events_free(m.events);
    cio_poll_free(m.poll);
    FUZZ_ASSERT(count_fds() == fds_before); /* every descriptor cio or the model made is gone */
    return 0;
}
