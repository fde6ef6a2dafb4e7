/*
 * cancel.h: cancellation from the outside in (private side; the public calls are in
 * cio/rt.h) — the abort-handle registry that lets any thread name a task safely at any time.
 */
#ifndef CIO_RT_CANCEL_H
#define CIO_RT_CANCEL_H

#include "rt/sched.h"

/* cio_task.abort_slot of a task whose body has returned: no abort handle reaches it. */
#define CIO__ABORT_RETIRED UINT32_MAX

/* The body of @t has returned: its abort handles stop reaching it (task.c, on @t's stack). */
void cio__abort_retire(cio_task *t);

/* An abort handle for @t, which the caller keeps alive (its handle, or @t is the caller). */
int cio__abort_handle_of(cio_task *t, cio_abort_handle *ret_abort);

#endif
