#!/usr/bin/env bash
# check-format.sh: every C source and header of the project follows .clang-format.
# With --fix, reformat in place instead of checking.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files -co --exclude-standard -- '*.c' '*.h' | grep -v '^build/')
[[ ${#files[@]} -gt 0 ]] || { echo "check-format: no files" >&2; exit 1; }
if [[ "${1:-}" == "--fix" ]]; then
    clang-format -i "${files[@]}"
    exit 0
fi
if ! clang-format --dry-run --Werror "${files[@]}" 2>/tmp/cio-format.log; then
    grep -E '^[^ ].*(warning|error)' /tmp/cio-format.log | cut -d: -f1 | sort -u | sed 's/^/not formatted: /' >&2
    echo "check-format: run 'make format'" >&2
    exit 1
fi
echo "check-format: ${#files[@]} files formatted"
