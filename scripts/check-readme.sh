#!/usr/bin/env bash
# check-readme.sh: the code blocks the README quotes from examples/ are exactly the lines
# between README-BEGIN and README-END in those files (the examples are built and run by the
# suite, so the README's code compiles). A README block is introduced by a line
#   <!-- quote: examples/FILE.c -->
# followed by a ```c fenced block.
set -euo pipefail
src=$1
readme=$src/README.md
n=0
while IFS= read -r file; do
    want=$(sed -n '/README-BEGIN/,/README-END/{/README-BEGIN/d;/README-END/d;p}' "$src/$file")
    got=$(awk -v f="$file" '
        $0 ~ "<!-- quote: " f " -->" {found=1; next}
        found && /^```c/ {inblock=1; next}
        inblock && /^```/ {exit}
        inblock {print}' "$readme")
    if [[ -z "$want" || "$want" != "$got" ]]; then
        echo "check-readme: README block for $file differs from the file" >&2
        diff <(echo "$want") <(echo "$got") >&2 || true
        exit 1
    fi
    n=$((n + 1))
done < <(grep -o '<!-- quote: [^ ]* -->' "$readme" | awk '{print $3}')
[[ $n -gt 0 ]] || { echo "check-readme: no quoted blocks found" >&2; exit 1; }
echo "check-readme: $n quoted blocks match their sources"
