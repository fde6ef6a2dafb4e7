/*
 * error.c: the text of cio's return codes (negative errno values and the mapped resolver
 * range), and the failure path of internal assertions.
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cio/common.h"
#include "util/assert.h"

const char *cio_strerror(int rc)
{
    if (rc == 0)
        return "Success";
    if (CIO_ERR_IS_EAI(rc)) {
        /* glibc's EAI_* codes are negative, other libcs' positive: try the sign that names
         * something. gai_strerror() returns static strings. */
        int eai = -rc - CIO_ERR_EAI_BASE;
        const char *text = gai_strerror(-eai);
        if (text != NULL && strncmp(text, "Unknown", 7) != 0)
            return text;
        text = gai_strerror(eai);
        return text != NULL ? text : "Unknown resolver error";
    }
    if (rc < 0 && rc > -CIO_ERR_EAI_BASE) { /* errno values; also keeps -INT_MIN out */
        /* strerrordesc_np is thread safe and does not depend on the locale. */
        const char *text = strerrordesc_np(-rc);
        if (text != NULL)
            return text;
    }
    return "Unknown error";
}

#if defined(CIO_DEBUG) && CIO_DEBUG
void cio__assert_failed(const char *expr, const char *file, int line, const char *func)
{
    /* Only cio's own invariants get here, never a caller's bad input. */
    fprintf(stderr, "cio: internal assertion failed: %s (%s:%d, %s)\n", expr, file, line, func);
    abort();
}
#endif
