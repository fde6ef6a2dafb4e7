/*
 * task_local.c: task-local storage — process-wide keys (at most 64, never freed), one value
 * per task and key in an array the task allocates on its first set, and destructors that run
 * when the task's body has returned, as pthread keys do for threads.
 */
#include "rt/task_local.h"

#include <errno.h>
#include <stdlib.h>

#define MAX_KEYS 64

static atomic_uint key_count;
static void (*_Atomic key_destructors[MAX_KEYS])(void *);

int cio_task_key_new(cio_task_key *ret_key, void (*destructor)(void *))
{
    if (ret_key == NULL)
        return -EINVAL;
    unsigned n = atomic_load(&key_count);
    do {
        if (n >= MAX_KEYS)
            return -EAGAIN;
    } while (!atomic_compare_exchange_weak(&key_count, &n, n + 1));
    atomic_store(&key_destructors[n], destructor);
    *ret_key = n;
    return 0;
}

int cio_task_local_set(cio_task_key key, void *value)
{
    cio_task *t = cio__task_self();
    if (t == NULL)
        return -EPERM;
    if (key >= atomic_load(&key_count))
        return -EINVAL;
    if (t->locals == NULL) {
        if (value == NULL)
            return 0;
        t->locals = calloc(MAX_KEYS, sizeof(*t->locals));
        if (t->locals == NULL)
            return -ENOMEM;
    }
    t->locals[key] = value;
    return 0;
}

void *cio_task_local_get(cio_task_key key)
{
    cio_task *t = cio__task_self();
    if (t == NULL || t->locals == NULL || key >= MAX_KEYS)
        return NULL;
    return t->locals[key];
}

void cio__task_locals_destroy(cio_task *t)
{
    if (t->locals == NULL)
        return;
    /* A destructor may set values again (as with pthread keys): a few rounds, then stop. */
    for (int round = 0; round < 4; round++) {
        bool any = false;
        for (unsigned k = 0; k < MAX_KEYS; k++) {
            void *value = t->locals[k];
            void (*dtor)(void *) = atomic_load(&key_destructors[k]);
            if (value == NULL)
                continue;
            t->locals[k] = NULL;
            if (dtor != NULL) {
                dtor(value);
                any = true;
            }
        }
        if (!any)
            break;
    }
}
