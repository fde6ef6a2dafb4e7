/*
 * task_local.h: task-local storage (private side; the public calls are in cio/rt.h).
 */
#ifndef CIO_RT_TASK_LOCAL_H
#define CIO_RT_TASK_LOCAL_H

#include "rt/sched.h"

/* Run the task-local destructors of @t, the calling task, at the end of its body. */
void cio__task_locals_destroy(cio_task *t);

#endif
