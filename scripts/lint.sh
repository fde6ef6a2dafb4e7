#!/usr/bin/env bash
# lint.sh: cppcheck over the library's sources (src/). Findings fail the check.
set -euo pipefail
cd "$(dirname "$0")/.."
cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,portability,performance \
    --inline-suppr --suppress=missingIncludeSystem -D_GNU_SOURCE -D__x86_64__ -DCIO_DEBUG=1 -DCIO_NO_GENERIC \
    -I include -I src -I build/dev/include src
echo "lint: cppcheck clean on src/"
