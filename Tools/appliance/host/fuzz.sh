#!/usr/bin/env bash
# Builds the appliance's network stack and device-tree reader for the host with AddressSanitizer
# and UndefinedBehaviorSanitizer and runs the fuzz harness: fuzz.sh OUTDIR DTB [ITERATIONS].
# Exits 77 with a reason when no clang with sanitizers is found.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$here/.."
out="$1"; dtb="$2"; iterations="${3:-100000}"
clang="${CLANG:-/opt/swift/usr/bin/clang}"
[ -x "$clang" ] || clang="$(command -v clang || true)"
if [ -z "$clang" ]; then echo "appliance fuzz: no clang" >&2; exit 77; fi
mkdir -p "$out"
if ! "$clang" -fsanitize=address,undefined -fno-sanitize-recover=all -g -O1 -std=c11 -Wall -Wextra -Werror \
        -D_DEFAULT_SOURCE -I"$src" "$here/fuzz.c" "$src/net.c" "$src/ping.c" "$src/flow.c" "$src/fdt.c" \
        -o "$out/appliance-fuzz" 2>"$out/fuzz-build.log"; then
    if grep -qi 'sanitizer\|cannot find\|unable to find library' "$out/fuzz-build.log"; then
        echo "appliance fuzz: $clang cannot build with sanitizers: $(head -1 "$out/fuzz-build.log")" >&2
        exit 77
    fi
    cat "$out/fuzz-build.log" >&2
    exit 1
fi
"$out/appliance-fuzz" "$dtb" "$iterations" 2>&1 # callers may read only stdout
