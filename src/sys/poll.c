/*
 * poll.c: the portable backend on poll(2). It keeps the registered set in user space and
 * hands a snapshot of it to ppoll(); registrations made while another thread is blocked ring
 * a self-pipe so that thread restarts with the new set. poll(2) is level-triggered, and so is
 * this backend: a descriptor that stays ready is reported at every wait, which the
 * edge-triggered contract admits as spurious events; no edge epoll would report is missed.
 *
 * A descriptor closed without being deregistered shows up as POLLNVAL; it is dropped from the
 * set silently, as epoll drops a closed file, so the wait neither spins nor reports it. If its
 * number is reused before a wait noticed, registering the new file replaces the stale entry
 * (recognised by the file's identity) instead of failing with EEXIST, as epoll would allow.
 *
 * Because descriptors stay ready, a full event buffer must not always be filled from the
 * start of the set: each wait resumes the scan where the previous one stopped, so every ready
 * descriptor is reported within ceil(ready / capacity) waits and none starves.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sys/backend.h"
#include "sys/sys.h"
#include "util/compiler.h"

struct entry {
    int fd;
    unsigned interest;
    uint64_t data;
    /* The file registered, to tell a reused descriptor number from a second registration. */
    dev_t dev;
    ino_t ino;
};

struct cio__sys {
    pthread_mutex_t lock;
    /* The registered set, dense, and the position of each descriptor in it (+1; 0 = none). */
    struct entry *entries;
    size_t count, capacity;
    uint32_t *position;
    size_t position_capacity;
    bool dirty;   /* the set changed since the waiter's snapshot */
    bool waiting; /* a thread is inside ppoll() with a snapshot */
    /* The waiting thread's copy; slot 0 is the self-pipe. Touched only by the waiter. */
    struct pollfd *snapshot;
    uint64_t *snapshot_data;
    size_t snapshot_count, snapshot_capacity;
    size_t cursor; /* where the next scan of the snapshot starts (fairness), waiter only */
    int pipe[2];
    int wake_pending; /* atomic: a user wake since the last report */
};

static short to_poll(unsigned interest)
{
    short ev = 0;
    if (interest & CIO_READABLE)
        ev |= POLLIN | POLLRDHUP;
    if (interest & CIO_WRITABLE)
        ev |= POLLOUT;
    if (interest & CIO_PRIORITY)
        ev |= POLLPRI;
    if (interest & CIO__INTEREST_RDHUP)
        ev |= POLLRDHUP;
    return ev;
}

static void ring(struct cio__sys *sys)
{
    char byte = 1;
    /* A full pipe already means "wake up"; nothing else can fail here that matters. */
    ssize_t n;
    do
        n = write(sys->pipe[1], &byte, 1);
    while (n < 0 && errno == EINTR);
}

static void drain(struct cio__sys *sys)
{
    char buf[64];
    while (read(sys->pipe[0], buf, sizeof(buf)) > 0)
        ;
}

static int sys_create(struct cio__sys **ret)
{
    struct cio__sys *sys = calloc(1, sizeof(*sys));
    if (sys == NULL)
        return -ENOMEM;
    if (pipe2(sys->pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        int rc = -errno;
        free(sys);
        return rc;
    }
    pthread_mutex_init(&sys->lock, NULL);
    sys->dirty = true;
    *ret = sys;
    return 0;
}

static void sys_destroy(struct cio__sys *sys)
{
    close(sys->pipe[0]);
    close(sys->pipe[1]);
    pthread_mutex_destroy(&sys->lock);
    free(sys->entries);
    free(sys->position);
    free(sys->snapshot);
    free(sys->snapshot_data);
    free(sys);
}

/* Whether entry e still describes the file now open at its number (st: that file). */
static bool same_file(const struct entry *e, const struct stat *st)
{
    return e->dev == st->st_dev && e->ino == st->st_ino;
}

/* Called with the lock held. Tell a blocked waiter to pick up the new set. */
static void changed(struct cio__sys *sys)
{
    sys->dirty = true;
    if (sys->waiting)
        ring(sys);
}

static int sys_add(struct cio__sys *sys, int fd, uint64_t data, unsigned interest)
{
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        return -EBADF;
    int rc = 0;
    pthread_mutex_lock(&sys->lock);
    if ((size_t)fd >= sys->position_capacity) {
        size_t cap = sys->position_capacity ? sys->position_capacity : 64;
        while (cap <= (size_t)fd)
            cap *= 2;
        uint32_t *position = realloc(sys->position, cap * sizeof(*position));
        if (position == NULL) {
            rc = -ENOMEM;
            goto out;
        }
        memset(position + sys->position_capacity, 0,
               (cap - sys->position_capacity) * sizeof(*position));
        sys->position = position;
        sys->position_capacity = cap;
    }
    if (sys->position[fd] != 0) {
        struct entry *e = &sys->entries[sys->position[fd] - 1];
        if (same_file(e, &st)) {
            rc = -EEXIST;
            goto out;
        }
        /* The registered file was closed without deregistering and the number reused: the
         * stale entry gives way. (Files sharing one anonymous inode, such as eventfds, look
         * alike here; for them the stale entry lasts until a wait sees POLLNVAL.) */
        *e = (struct entry){
            .fd = fd, .interest = interest, .data = data, .dev = st.st_dev, .ino = st.st_ino};
        changed(sys);
        goto out;
    }
    if (sys->count == sys->capacity) {
        size_t cap = sys->capacity ? sys->capacity * 2 : 64;
        struct entry *entries = realloc(sys->entries, cap * sizeof(*entries));
        if (entries == NULL) {
            rc = -ENOMEM;
            goto out;
        }
        sys->entries = entries;
        sys->capacity = cap;
    }
    sys->entries[sys->count] = (struct entry){
        .fd = fd, .interest = interest, .data = data, .dev = st.st_dev, .ino = st.st_ino};
    sys->position[fd] = (uint32_t)++sys->count;
    changed(sys);
out:
    pthread_mutex_unlock(&sys->lock);
    return rc;
}

static struct entry *find(struct cio__sys *sys, int fd)
{
    if (fd < 0 || (size_t)fd >= sys->position_capacity || sys->position[fd] == 0)
        return NULL;
    return &sys->entries[sys->position[fd] - 1];
}

static void remove_entry(struct cio__sys *sys, struct entry *e);

static int sys_mod(struct cio__sys *sys, int fd, uint64_t data, unsigned interest)
{
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        return -EBADF;
    int rc = 0;
    pthread_mutex_lock(&sys->lock);
    struct entry *e = find(sys, fd);
    if (e != NULL && !same_file(e, &st)) {
        /* A stale entry (its file was closed without deregistering and the number reused):
         * the new file is not registered, as epoll would say; the stale entry goes. */
        remove_entry(sys, e);
        e = NULL;
    }
    if (e == NULL) {
        rc = -ENOENT;
    } else {
        e->data = data;
        e->interest = interest;
        changed(sys);
    }
    pthread_mutex_unlock(&sys->lock);
    return rc;
}

/* Called with the lock held. */
static void remove_entry(struct cio__sys *sys, struct entry *e)
{
    size_t index = (size_t)(e - sys->entries);
    sys->position[e->fd] = 0;
    sys->count--;
    if (index != sys->count) {
        sys->entries[index] = sys->entries[sys->count];
        sys->position[sys->entries[index].fd] = (uint32_t)index + 1;
    }
    changed(sys);
}

static int sys_del(struct cio__sys *sys, int fd)
{
    struct stat st;
    /* Like epoll: deregistering a descriptor that is already closed reports EBADF (the entry
     * goes all the same). */
    int rc = fd < 0 || fstat(fd, &st) < 0 ? -EBADF : 0;
    pthread_mutex_lock(&sys->lock);
    struct entry *e = find(sys, fd);
    if (e != NULL) {
        if (rc == 0 && !same_file(e, &st))
            rc = -ENOENT; /* stale: the file now at this number was never registered */
        remove_entry(sys, e);
    } else if (rc == 0) {
        rc = -ENOENT;
    }
    pthread_mutex_unlock(&sys->lock);
    return rc;
}

/* Called with the lock held by the single waiter. */
static int take_snapshot(struct cio__sys *sys)
{
    size_t need = sys->count + 1;
    if (need > sys->snapshot_capacity) {
        struct pollfd *fds = realloc(sys->snapshot, need * sizeof(*fds));
        if (fds == NULL)
            return -ENOMEM;
        sys->snapshot = fds;
        uint64_t *data = realloc(sys->snapshot_data, need * sizeof(*data));
        if (data == NULL)
            return -ENOMEM;
        sys->snapshot_data = data;
        sys->snapshot_capacity = need;
    }
    sys->snapshot[0] = (struct pollfd){.fd = sys->pipe[0], .events = POLLIN};
    for (size_t i = 0; i < sys->count; i++) {
        const struct entry *e = &sys->entries[i];
        sys->snapshot[i + 1] = (struct pollfd){.fd = e->fd, .events = to_poll(e->interest)};
        sys->snapshot_data[i + 1] = e->data;
    }
    sys->snapshot_count = need;
    sys->dirty = false;
    return 0;
}

static int64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * CIO_NSEC_PER_SEC + ts.tv_nsec;
}

/*
 * One ppoll() over the snapshot and the collection of what it found. Returns the number of
 * events stored, or -errno; *ret_ready is ppoll's count (0: it timed out).
 */
static int wait_once(struct cio__sys *sys, struct cio__sys_event *out, int capacity,
                     const struct timespec *timeout, int *ret_ready)
{
    pthread_mutex_lock(&sys->lock);
    if (sys->dirty) {
        int rc = take_snapshot(sys);
        if (rc < 0) {
            *ret_ready = -1;
            pthread_mutex_unlock(&sys->lock);
            return rc;
        }
    }
    sys->waiting = true;
    pthread_mutex_unlock(&sys->lock);

    int ready = ppoll(sys->snapshot, (nfds_t)sys->snapshot_count, timeout, NULL);
    int saved = errno;

    pthread_mutex_lock(&sys->lock);
    sys->waiting = false;
    *ret_ready = ready;
    int n = 0;
    if (ready < 0) {
        n = -saved;
        goto out;
    }
    if (sys->snapshot[0].revents & POLLIN) {
        drain(sys);
        ready--;
    }
    if (__atomic_exchange_n(&sys->wake_pending, 0, __ATOMIC_ACQ_REL))
        out[n++] = (struct cio__sys_event){.data = CIO__SYS_WAKE_DATA, .flags = CIO_EVENT_READABLE};
    /* Scan from the cursor round the snapshot, so that a full buffer does not keep reporting
     * the same first descriptors while later ready ones starve. */
    size_t m = sys->snapshot_count - 1;
    size_t start = m ? sys->cursor % m : 0;
    for (size_t k = 0; k < m && ready > 0 && n < capacity; k++) {
        size_t i = 1 + (start + k) % m;
        const struct pollfd *p = &sys->snapshot[i];
        if (p->revents == 0)
            continue;
        ready--;
        sys->cursor = (start + k + 1) % m;
        /* The set may have changed while we slept: report only what still stands. */
        struct entry *e = find(sys, p->fd);
        if (e == NULL || e->data != sys->snapshot_data[i])
            continue;
        if (p->revents & POLLNVAL) {
            remove_entry(sys, e);
            continue;
        }
        out[n++] = (struct cio__sys_event){.data = e->data,
                                           .flags = cio__sys_from_poll((uint16_t)p->revents)};
    }
out:
    pthread_mutex_unlock(&sys->lock);
    return n;
}

static int sys_wait(struct cio__sys *sys, struct cio__sys_event *out, int capacity,
                    int64_t timeout_ns)
{
    int64_t deadline = 0;
    if (timeout_ns > 0) {
        int64_t now = monotonic_ns();
        if (timeout_ns > INT64_MAX - now)
            timeout_ns = -1; /* past the end of time: forever */
        else
            deadline = now + timeout_ns;
    }
    for (;;) {
        struct timespec ts, *tsp = NULL;
        if (timeout_ns >= 0) {
            ts.tv_sec = timeout_ns / CIO_NSEC_PER_SEC;
            ts.tv_nsec = timeout_ns % CIO_NSEC_PER_SEC;
            tsp = &ts;
        }
        int ready;
        int n = wait_once(sys, out, capacity, tsp, &ready);
        /* Done with events, an error, a timeout, or a zero-timeout probe. */
        if (n != 0 || ready <= 0 || timeout_ns == 0)
            return n;
        /*
         * Woken with nothing to report: the set changed under us (a register from another
         * thread rang the pipe) or only stale entries were ready. Go again with the new set
         * for the time that is left, so that a change made during a wait takes effect in
         * that wait, as with epoll.
         */
        if (timeout_ns > 0) {
            timeout_ns = deadline - monotonic_ns();
            if (timeout_ns <= 0)
                return 0;
        }
    }
}

static void sys_wake(struct cio__sys *sys)
{
    /* Only an atomic store and write(2): async-signal-safe. */
    if (__atomic_exchange_n(&sys->wake_pending, 1, __ATOMIC_ACQ_REL) == 0)
        ring(sys);
}

static int sys_fd(const struct cio__sys *sys)
{
    (void)sys;
    return -ENOTSUP;
}

const struct cio__sys_ops cio__sys_poll = {
    .name = "poll",
    .backend = CIO_BACKEND_POLL,
    .create = sys_create,
    .destroy = sys_destroy,
    .add = sys_add,
    .mod = sys_mod,
    .del = sys_del,
    .wait = sys_wait,
    .wake = sys_wake,
    .fd = sys_fd,
};
