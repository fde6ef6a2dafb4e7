/*
 * readme_select.c: select, quoted in the README (the lines between the markers). One task
 * serves two connections and a control channel at once, with an idle timer: it reads whatever
 * a connection sends, switches a connection's arm off when the peer closes, and stops on the
 * control channel's command. Exits 0 by itself.
 */
#include <cio.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>

enum { CMD_STOP = 1 };

struct hub {
    cio_unix_stream *conn[2];
    cio_chan_receiver *control;
};

/* README-BEGIN */
static void *hub(void *arg) /* one task, two connections, a control channel, an idle timer */
{
    struct hub *h = arg;
    char buf[64];
    int cmd = 0;
    intptr_t received = 0;
    for (;;) {
        cio_select_arm arms[] = {
            cio_select_readable(h->conn[0]), /* a NULL connection: the arm is off */
            cio_select_readable(h->conn[1]),
            cio_select_recv(h->control, &cmd),    /* receives into cmd when it fires */
            cio_select_timeout(CIO_NSEC_PER_SEC), /* nothing for a second */
        };
        int i = cio_select(arms, 4, 0); /* the index of the arm that fired */
        if (i == 0 || i == 1) {
            ssize_t n;
            while ((n = cio_stream_try_read(h->conn[i], buf, sizeof(buf))) > 0) {
                printf("conn %d: %.*s\n", i, (int)n, buf);
                received += n;
            }
            if (n != -EAGAIN) { /* the peer closed (0), or an error */
                cio_socket_close(h->conn[i]);
                h->conn[i] = NULL;
            }
        } else if (i == 2) {
            if (arms[2].rc == 0 || cmd == CMD_STOP) /* rc 0: every sender is gone */
                break;
        } else if (i == 3) {
            puts("idle");
        } else {
            break; /* -ECANCELED, -ETIMEDOUT: the task's own cancel or deadline */
        }
    }
    return (void *)received; /* nothing the other arms waited for was consumed */
}
/* README-END */

static void *main_task(void *arg)
{
    (void)arg;
    struct hub h;
    cio_unix_stream *peer[2];
    cio_chan_sender *tx;
    cio_join_handle *task;
    void *received = NULL;
    int stop = CMD_STOP;
    for (int i = 0; i < 2; i++) {
        if (cio_unix_stream_pair(&h.conn[i], &peer[i]) < 0)
            return (void *)1;
    }
    if (cio_chan_new(&tx, &h.control, 1, sizeof(int)) < 0 || cio_spawn(&task, hub, &h) < 0)
        return (void *)1;
    cio_stream_write(peer[0], "ping", 4);
    cio_sleep(10 * CIO_NSEC_PER_MSEC);
    cio_stream_write(peer[1], "pong", 4);
    cio_socket_close(peer[0]);
    cio_socket_close(peer[1]);
    cio_sleep(10 * CIO_NSEC_PER_MSEC);
    cio_chan_send(tx, &stop);
    cio_task_join(task, &received, NULL);
    for (int i = 0; i < 2; i++)
        cio_socket_close(h.conn[i]); /* (NULL once the hub closed it) */
    cio_chan_sender_free(tx);
    cio_chan_receiver_free(h.control);
    return (intptr_t)received == 8 ? NULL : (void *)1;
}

int main(void)
{
    cio_rt *rt;
    void *result = (void *)1;
    if (cio_rt_new(&rt, NULL) < 0 || cio_rt_block_on(rt, main_task, NULL, &result) < 0)
        return 1;
    cio_rt_free(rt);
    return result == NULL ? 0 : 1;
}
