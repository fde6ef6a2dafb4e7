/*
 * fuzz.h: what the libFuzzer targets of fuzz/ share — the entry points libFuzzer calls, and
 * FUZZ_ASSERT, which reports a broken invariant and aborts so that libFuzzer keeps the input.
 */
#ifndef CIO_FUZZ_H
#define CIO_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
