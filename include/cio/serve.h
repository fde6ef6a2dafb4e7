/*
 * cio/serve.h: a server in one call — listen on an address (TCP or Unix), accept on every
 * worker of the runtime, run a handler in a task of its own per connection, bound the
 * connections served at once, ride out descriptor exhaustion, stop gracefully on a signal or
 * a call, and count what happened. The part of every server that is not its protocol (what
 * Go's net/http Server and the accept loops of tokio's examples do), written once.
 *
 *     static void echo(cio_stream *conn, const cio_addr *peer, void *ctx)
 *     {
 *         char buf[4096];
 *         ssize_t n;
 *         while ((n = cio_stream_read(conn, buf, sizeof(buf))) > 0)
 *             if (cio_stream_write_all(conn, buf, (size_t)n, NULL) < 0)
 *                 break;
 *     }
 *     // in a task: serve until SIGINT or SIGTERM
 *     cio_server_options opts = {.stop_signals = (const int[]){SIGINT, SIGTERM},
 *                                .stop_signal_count = 2};
 *     int rc = cio_serve("127.0.0.1:7000", echo, NULL, &opts);
 *
 * ACCEPTING ON EVERY WORKER. A TCP address gets one listener per worker of the runtime, each
 * bound with SO_REUSEPORT to the same address and drained by an accepting task pinned to its
 * worker: the kernel spreads connections over the listeners and each is accepted and served
 * on one thread, with no hand-off. Where SO_REUSEPORT does not apply (a Unix socket, a host
 * name, a kernel that refuses it, or .listeners = 1) one listener is shared: its accepting
 * task deals the connections out to the workers in turn.
 *
 * CONNECTION LIMIT. With .max_connections, the accepting tasks take a permit before they
 * accept: at the limit a new connection waits in the kernel's listen backlog (the client's
 * connect completes; its first reply comes when a slot frees) rather than being accepted and
 * dropped, so no client is turned away while the server merely is busy, and a client that
 * gives up takes nothing of the server's. Past the backlog the kernel itself refuses.
 *
 * DESCRIPTOR EXHAUSTION. When accept fails with EMFILE or ENFILE, the listener has shed the
 * connections then pending (cio/tcp.h) and the accepting task sleeps .accept_backoff, then
 * accepts again; it never exits or spins for it. ENOMEM and ENOBUFS are treated alike.
 *
 * GRACEFUL STOP. cio_server_stop() (any thread), one of .stop_signals, or the cancellation
 * of the task in cio_server_wait() stops the server: it stops accepting (the accepting tasks
 * end and the listeners close), shuts down the reading side of every live connection, so a
 * handler reading its next request sees the bytes already received and then end of stream,
 * finishes its reply and returns; the handlers still running after .stop_timeout are
 * cancelled (their suspending calls return -ECANCELED); cio_server_wait() returns when every
 * handler has returned and every task of the server has ended. A handler that wants to know
 * may call cio_server_is_stopping().
 *
 * THE HANDLER runs in a task of its own per connection, named .task_name. The stream is the
 * server's: the handler reads and writes it (cio/stream.h, cio/bufio.h) and may shut it down,
 * but must not close it or turn it into owned halves; the server closes it when the handler
 * returns. Per operation the server adds nothing: its work is at accept and at the end of a
 * connection.
 *
 * THREADS. cio_server_stop(), cio_server_get_stats() and cio_server_is_stopping() may be called
 * from any thread at any time between cio_server_new() and cio_server_free(); the others as
 * each says.
 */
#ifndef CIO_SERVE_H
#define CIO_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cio/addr.h"
#include "cio/common.h"
#include "cio/rt.h"
#include "cio/socket.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cio_server cio_server;

/* A connection handler: runs in its own task; @stream is TCP or Unix, @peer the client's
 * address (valid during the call), @ctx what the server was given. */
typedef void (*cio_serve_fn)(cio_stream *stream, const cio_addr *peer, void *ctx);

/* How a server listens, accepts and stops. Zero-initialised, every field has a default. */
typedef struct cio_server_options {
    unsigned listeners;          /* 0: one per worker where SO_REUSEPORT applies, else 1;
                                    N: N listeners, accepting on workers 0..N-1 in turn */
    int backlog;                 /* listen backlog; 0: CIO_LISTEN_BACKLOG_DEFAULT */
    size_t max_connections;      /* connections served at once; 0: no limit */
    cio_duration accept_backoff; /* pause after EMFILE/ENFILE/ENOMEM; 0: 50 ms */
    cio_duration stop_timeout;   /* at a stop, how long live connections may go on before
                                    they are cancelled; 0: 10 s; negative: cancel at once */
    const int *stop_signals;     /* signals that stop the server (cio_signal_wait() rules), */
    size_t stop_signal_count;    /* 0 to 8 of them; 0: none */
    size_t stack_size;           /* connection tasks' stacks; 0: the runtime's default */
    const char *task_name;       /* connection tasks' name; NULL: "conn" */
    bool nagle;                  /* keep Nagle's algorithm on TCP connections (default:
                                    TCP_NODELAY on the listeners, which the connections
                                    inherit at no cost per connection) */
} cio_server_options;

/* What a server has done; cio_server_get_stats() fills it. Between stats, accepted equals
 * active + finished + refused. */
typedef struct cio_server_stats {
    uint64_t accepted;  /* connections accepted */
    uint64_t active;    /* handlers running now */
    uint64_t peak;      /* the most handlers running at once */
    uint64_t finished;  /* handlers that returned (those cancelled at a stop included) */
    uint64_t cancelled; /* of the finished, those cancelled at a stop's deadline */
    uint64_t refused;   /* accepted but closed unserved: no memory or no task for them */
    uint64_t backoffs;  /* accept pauses for EMFILE/ENFILE/ENOMEM/ENOBUFS */
    uint64_t errors;    /* other failed accepts (a connection aborted before accept...) */
    unsigned listeners; /* listening sockets */
    int stop_signal;    /* the signal that stopped the server, or 0 */
    bool stopping;      /* a stop has begun */
} cio_server_stats;

/**
 * cio_server_new() - bind a server's listeners (nothing is accepted before
 * cio_server_start()).
 * @ret_server: receives the server, written only on success.
 * @rt: the runtime it will run on (its worker count decides the listeners); NULL: the
 *      calling task's runtime.
 * @address: "IPv4:PORT", "[IPv6]:PORT", "HOST:PORT" (a name, resolved as
 *           cio_tcp_listener_new_name() does: from a task it suspends, from a plain thread it
 *           blocks), a Unix socket path ("/run/x.sock", "./x.sock": the socket file is
 *           removed when the server closes) or a Linux abstract name (cio_addr_parse()
 *           syntax). Port 0 lets the kernel choose: read it back with
 *           cio_server_local_addr().
 * @opts: options, or NULL for the defaults.
 *
 * Call before the runtime starts (a refused bind is then a plain error) or from a task.
 *
 * Return: 0; -EINVAL (NULL, no runtime, a malformed address, bad options: a stop signal
 * cio_signal_wait() refuses, more than 8 of them, a negative backlog); the bind errors
 * (-EADDRINUSE, -EACCES, -EADDRNOTAVAIL...); a CIO_ERR_EAI() code; -EMFILE; -ENOMEM.
 */
CIO_EXPORT int cio_server_new(cio_server **ret_server, cio_rt *rt, const char *address,
                              const cio_server_options *opts);

/**
 * cio_server_local_addr() - the address the server is bound to (with the port the kernel
 * chose). Any thread.
 *
 * Return: 0; -EINVAL.
 */
CIO_EXPORT int cio_server_local_addr(const cio_server *server, cio_addr *ret_addr);

/**
 * cio_server_start() - start accepting: one accepting task per listener, pinned to its
 * worker, each spawning a task per connection that runs @handler(stream, peer, @ctx); and,
 * with .stop_signals, a task that waits for them. Returns at once, the server running; the
 * signal handlers are installed before it returns, so a signal sent after it cannot kill the
 * process.
 * @handler: the connection handler; @ctx: passed to it (it must outlive the server's run).
 *
 * Call from a task of the server's runtime, once.
 *
 * Return: 0; -EALREADY when started before; -EPERM outside a task; -EINVAL (NULL, another
 * runtime); -ECANCELED (the runtime shuts down); -ENOMEM. On failure nothing runs.
 */
CIO_EXPORT int cio_server_start(cio_server *server, cio_serve_fn handler, void *ctx);

/**
 * cio_server_stop() - ask the server to stop (see GRACEFUL STOP at the top); the stop itself
 * is carried out by cio_server_wait(). Any thread, any time, also from a handler; idempotent.
 *
 * Return: 0; -EINVAL for NULL.
 */
CIO_EXPORT int cio_server_stop(cio_server *server);

/**
 * cio_server_is_stopping() - true once a stop has been asked for. Any thread.
 */
CIO_EXPORT bool cio_server_is_stopping(const cio_server *server);

/**
 * cio_server_wait() - wait until the server is asked to stop, then stop it (see GRACEFUL
 * STOP at the top): stop accepting and close the listeners, let live connections finish
 * until .stop_timeout, cancel the rest, and return once every task of the server has ended.
 *
 * Call from a task of the server's runtime, once, after cio_server_start(). The calling
 * task's cancellation or deadline stops the server too; the stop then still runs to its end
 * (in a cancel shield), so the server is always fully stopped when this returns.
 *
 * Return: 0 when stopped by cio_server_stop(); the signal number when stopped by one of
 * .stop_signals; -ECANCELED or -ETIMEDOUT when stopped by the caller's cancellation or
 * deadline; -EINVAL when not started or waited on already; -EPERM outside a task.
 */
CIO_EXPORT int cio_server_wait(cio_server *server);

/**
 * cio_server_get_stats() - a consistent snapshot of the server's counts. Any thread, any time;
 * after cio_server_wait() the counts are final.
 *
 * Return: 0; -EINVAL.
 */
CIO_EXPORT int cio_server_get_stats(const cio_server *server, cio_server_stats *ret_stats);

/**
 * cio_server_free() - close the listeners (removing a Unix socket file the server made) and
 * free the server. Call when it is not running: never started, or after cio_server_wait()
 * returned. NULL is allowed.
 */
CIO_EXPORT void cio_server_free(cio_server *server);

/**
 * cio_serve() - serve @address until stopped, in one call: cio_server_new() on the calling
 * task's runtime, cio_server_start(), cio_server_wait(), cio_server_free(). Stopped by one
 * of .stop_signals or by cancelling the calling task (a handler cannot reach the server: use
 * the calls above to stop it from the program).
 *
 * Return: as cio_server_wait(); the errors of cio_server_new() and cio_server_start().
 */
CIO_EXPORT int cio_serve(const char *address, cio_serve_fn handler, void *ctx,
                         const cio_server_options *opts);

#ifdef __cplusplus
}
#endif

#endif /* CIO_SERVE_H */
