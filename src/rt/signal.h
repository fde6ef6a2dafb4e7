/*
 * signal.h: the signal side that other runtime files use (private; cio_signal_wait() is
 * public, in cio/rt.h).
 */
#ifndef CIO_RT_SIGNAL_H
#define CIO_RT_SIGNAL_H

/* Install cio's handler for @sig now, as cio_signal_wait()'s first wait would: from here on
 * @sig is counted for the waits, not given its default action. Any thread.
 * Return: 0; -EINVAL for a signal cio_signal_wait() refuses; a negative errno. */
int cio__signal_install(int sig);

#endif
