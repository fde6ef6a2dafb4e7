#!/usr/bin/env bash
# coverage.sh: line and branch coverage of the library (src/) by the whole test suite.
# Usage: scripts/coverage.sh BUILD_DIR   (a build configured with --coverage: the coverage preset)
#
# Clears the counters of earlier runs, runs the suite (ctest, both backends), and prints
# gcovr's summary of src/; the per-file report is written to BUILD_DIR/coverage/index.html.
# The suite failing fails the run (the figures of a failing suite mean little).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: coverage.sh BUILD_DIR}
command -v gcovr >/dev/null || { echo "coverage: gcovr is not installed" >&2; exit 1; }
find "$build" -name '*.gcda' -delete
# project/install is left out: its out-of-tree consumer would link the instrumented static
# library without libgcov (the plain build runs it).
ctest --test-dir "$build" --output-on-failure -j 2 --timeout 600 -E '^project/install$' \
    ${CTEST_FLAGS:-}
mkdir -p "$build/coverage"
# gcovr's object directory is the build (CMake's compiler probes left out), its root the
# sources. Branches of assertions count like any other.
gcovr --root . --object-directory "$build" --exclude-directories '.*/CMakeFiles/[0-9.]+' \
    --filter 'src/' --html-details "$build/coverage/index.html" --print-summary | tail -n 3
