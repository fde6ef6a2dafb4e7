/*
 * readme_cancel.c: the README's cancellation example. A supervisor task runs three counting
 * tasks in a join set until it is cancelled — through an abort handle, from a thread of the
 * blocking pool — and then cleans up: it cancels its counters and, inside a cancel shield,
 * waits for them and adds up their results. The main task joins the supervisor and learns
 * its result and, apart from it, that it was cancelled. The program exits 0 by itself.
 */
#include <cio.h>
#include <stdint.h>
#include <stdio.h>

/* README-BEGIN */
static void *counter(void *arg) /* counts milliseconds until cancelled */
{
    (void)arg;
    uintptr_t ticks = 0;
    while (cio_sleep(CIO_NSEC_PER_MSEC) == 0)
        ticks++;
    return (void *)ticks; /* a cancelled task still returns its result */
}

static void *supervisor(void *arg)
{
    (void)arg;
    cio_join_set *set;
    if (cio_join_set_new(&set) < 0)
        return NULL;
    for (int i = 0; i < 3; i++)
        cio_join_set_spawn(set, NULL, counter, NULL, NULL);
    while (cio_sleep(CIO_NSEC_PER_SEC) == 0) /* -ECANCELED ends it */
        ;
    /* Cancelled. Cleanup needs the counters' results, so it waits for them in a shield: the
     * cancel is held off there, for one second at most. */
    cio_join_set_cancel_all(set);
    cio_cancel_shield shield = cio_cancel_shield_begin(cio_now() + CIO_NSEC_PER_SEC);
    uintptr_t total = 0;
    void *ticks;
    while (cio_join_set_join_next(set, &ticks, NULL) == 0)
        total += (uintptr_t)ticks;
    cio_cancel_shield_end(shield);
    cio_join_set_free(set);
    return (void *)total;
}

static void *cancel_through(void *arg) /* runs on a thread of the blocking pool */
{
    cio_abort_handle_cancel(*(cio_abort_handle *)arg); /* any thread, any time */
    return NULL;
}

static void *main_task(void *arg)
{
    (void)arg;
    cio_join_handle *sup;
    cio_abort_handle abort;
    if (cio_spawn(&sup, supervisor, NULL) < 0)
        return (void *)1;
    cio_task_abort_handle(sup, &abort); /* a value: copy it anywhere */
    cio_sleep(50 * CIO_NSEC_PER_MSEC);
    cio_spawn_blocking(cancel_through, &abort, NULL);
    void *total;
    bool cancelled;
    cio_task_join(sup, &total, &cancelled); /* 0: finished; its result, and if cancelled */
    printf("supervisor %s; its counters ticked %lu times\n", cancelled ? "cancelled" : "done",
           (unsigned long)(uintptr_t)total);
    return cancelled && (uintptr_t)total > 0 ? NULL : (void *)1;
}
/* README-END */

int main(void)
{
    cio_rt *rt;
    void *result = (void *)1;
    if (cio_rt_new(&rt, NULL) < 0 || cio_rt_block_on(rt, main_task, NULL, &result) < 0)
        return 1;
    cio_rt_free(rt);
    return result == NULL ? 0 : 1;
}
