#!/usr/bin/env bash
# Builds the guest network appliance (bare-metal RV64, M-mode) with the Swift toolchain's clang
# and ld.lld: Tools/appliance/build.sh [OUTDIR]  ->  OUTDIR/appliance.elf (default .build/appliance).
# Exits 77 (the "skipped" convention) with a reason when no clang with a riscv64 target is found.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$root/.build/appliance}"

# The toolchain: $CLANG / $LLD, else the Swift toolchain's, else the one next to `swift`.
find_tool() { # name, override
    if [ -n "$2" ]; then echo "$2"; return; fi
    for dir in /opt/swift/usr/bin "$(dirname "$(command -v swift 2>/dev/null || echo /nonexistent/swift)")"; do
        if [ -x "$dir/$1" ]; then echo "$dir/$1"; return; fi
    done
    command -v "$1" || true
}
clang="$(find_tool clang "${CLANG:-}")"
lld="$(find_tool ld.lld "${LLD:-}")"
if [ -z "$clang" ] || [ -z "$lld" ]; then
    echo "appliance build: clang or ld.lld not found (set CLANG and LLD)" >&2
    exit 77
fi
if ! "$clang" --print-targets 2>/dev/null | grep -q 'riscv64'; then
    echo "appliance build: $clang has no riscv64 target" >&2
    exit 77
fi

mkdir -p "$out/obj"
cflags=(--target=riscv64 -march=rv64imac_zicsr_zifencei -mabi=lp64 -mcmodel=medany
        -ffreestanding -nostdlib -fno-builtin -fno-stack-protector -fno-pic -O2 -g
        -std=c11 -Wall -Wextra -Werror)
objs=()
for src in "$here"/start.S "$here"/*.c; do
    obj="$out/obj/$(basename "$src").o"
    "$clang" "${cflags[@]}" -c "$src" -o "$obj"
    objs+=("$obj")
done
"$lld" -static -nostdlib -T "$here/link.ld" -o "$out/appliance.elf" "${objs[@]}"
echo "$out/appliance.elf"
