/*
 * readme_metrics.c: the runtime's metrics and task dump, quoted in the README (the lines
 * between the markers). A task named "conn" waits for a message on one end of a socket pair;
 * the main task reads the counters, prints the dump — where "conn" shows parked on its
 * descriptor — and lets the task go. Exits 0 by itself.
 */
#include <cio.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

static void *conn(void *arg)
{
    char byte;
    return cio_stream_read((cio_unix_stream *)arg, &byte, 1) == 1 ? NULL : (void *)1;
}

/* README-BEGIN */
static void *main_task(void *arg)
{
    cio_rt *rt = arg;
    cio_unix_stream *a, *b;
    cio_join_handle *task;
    void *result = (void *)1;
    if (cio_unix_stream_pair(&a, &b) < 0)
        return result;
    cio_spawn_options opts = {.name = "conn"};
    if (cio_spawn_ex(&task, &opts, conn, a) == 0) {
        cio_sleep(10 * CIO_NSEC_PER_MSEC); /* "conn" waits for a byte meanwhile */

        cio_worker_metrics m = CIO_METRICS_INIT(m);
        cio_rt_worker_metrics_read(rt, CIO_METRICS_TOTAL, &m); /* any thread, any time */
        printf("%llu tasks live, %llu task runs, %llu reactor events\n",
               (unsigned long long)m.tasks_live, (unsigned long long)m.polls,
               (unsigned long long)m.reactor_events);
        fflush(stdout);
        cio_rt_dump(rt, CIO_DUMP_TASKS, STDOUT_FILENO); /* "conn" parked: readiness of fd N */

        cio_stream_write_all(b, "x", 1, NULL);
        cio_task_join(task, &result, NULL);
    }
    cio_socket_close(a);
    cio_socket_close(b);
    return result;
}

int main(void)
{
    cio_rt *rt;
    void *result = (void *)1;
    if (cio_rt_new(&rt, NULL) < 0)
        return 1;
    cio_rt_dump_on_signal(rt, SIGUSR1, STDERR_FILENO); /* kill -USR1 <pid>: the same, on stderr */
    cio_rt_block_on(rt, main_task, rt, &result);
    cio_rt_free(rt);
    return result == NULL ? 0 : 1;
}
/* README-END */
