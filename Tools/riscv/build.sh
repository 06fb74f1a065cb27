#!/bin/sh
# Builds the guest programs with the Swift toolchain's clang and ld.lld (no other toolchain).
# Usage: Tools/riscv/build.sh [OUTDIR]   (default: .build/riscv-guests)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-"$HERE/../../.build/riscv-guests"}
TOOLS=${SWIFT_TOOLCHAIN_BIN:-/opt/swift/usr/bin}
CC="$TOOLS/clang"
LD="$TOOLS/ld.lld"
mkdir -p "$OUT"
CFLAGS="--target=riscv64 -march=rv64imac_zicsr_zifencei -mabi=lp64 -mcmodel=medany -mno-relax -nostdlib -ffreestanding -fno-builtin -O2 -Wall -I$HERE"

# link NAME BASE OBJS...: an ELF whose text starts at BASE (entry first), then data and bss.
link() {
    name=$1; base=$2; shift 2
    sed "s/@BASE@/$base/" "$HERE/link.ld.in" > "$OUT/link-$base.ld"
    "$LD" -static -nostdlib --no-relax -T "$OUT/link-$base.ld" -o "$OUT/$name.elf" "$@"
}

# M-mode programs (start at 0x80000000, like QEMU -bios none).
"$CC" $CFLAGS -c "$HERE/start.S" -o "$OUT/start.o"
"$CC" $CFLAGS -c "$HERE/rt.c" -o "$OUT/rt.o"
"$CC" $CFLAGS -DUSE_SBI -c "$HERE/rt.c" -o "$OUT/rt-sbi.o"
for prog in hello bench echo irqflood; do
    "$CC" $CFLAGS -DROUNDS=${BENCH_ROUNDS:-20} -c "$HERE/$prog.c" -o "$OUT/$prog.o"
    link "$prog" 0x80000000 "$OUT/start.o" "$OUT/$prog.o" "$OUT/rt.o"
done
# bench cpu's memory-bound guest: M-mode sets up Sv39 and runs its workload in S-mode.
"$CC" $CFLAGS -DROUNDS=${MEMBENCH_ROUNDS:-4} -DMEM_MIB=${MEMBENCH_MIB:-32} -c "$HERE/membench.c" -o "$OUT/membench.o"
"$CC" $CFLAGS -c "$HERE/membench-s.S" -o "$OUT/membench-s.o"
link membench 0x80000000 "$OUT/start.o" "$OUT/membench.o" "$OUT/membench-s.o" "$OUT/rt.o"
# bench cpu's floating-point guest: RV64GC with the lp64d ABI (its own start and runtime objects,
# as ld.lld links no mix of float ABIs).
FPFLAGS=$(echo "$CFLAGS" | sed 's/-march=rv64imac_/-march=rv64imafdc_/; s/-mabi=lp64/-mabi=lp64d/')
"$CC" $FPFLAGS -c "$HERE/start.S" -o "$OUT/start-fp.o"
"$CC" $FPFLAGS -c "$HERE/rt.c" -o "$OUT/rt-fp.o"
"$CC" $FPFLAGS -fno-math-errno -DROUNDS=${FPBENCH_ROUNDS:-20} -c "$HERE/fpbench.c" -o "$OUT/fpbench.o"
link fpbench 0x80000000 "$OUT/start-fp.o" "$OUT/fpbench.o" "$OUT/rt-fp.o"
# S-mode payloads (at 0x80200000, where OpenSBI fw_jump jumps).
link hello-sbi 0x80200000 "$OUT/start.o" "$OUT/hello.o" "$OUT/rt-sbi.o"
"$CC" $CFLAGS -c "$HERE/sbi.c" -o "$OUT/sbi.o"
link sbi 0x80200000 "$OUT/start.o" "$OUT/sbi.o" "$OUT/rt-sbi.o"
# Multi-hart programs: every hart at 0x80000000 (M-mode), and an S-mode SBI/HSM payload.
"$CC" $CFLAGS -c "$HERE/smp-start.S" -o "$OUT/smp-start.o"
"$CC" $CFLAGS -c "$HERE/smp.c" -o "$OUT/smp.o"
link smp 0x80000000 "$OUT/smp-start.o" "$OUT/smp.o" "$OUT/rt.o"
"$CC" $CFLAGS -c "$HERE/smp-sbi.c" -o "$OUT/smp-sbi.o"
link smp-sbi 0x80200000 "$OUT/start.o" "$OUT/smp-sbi.o" "$OUT/rt-sbi.o"
# Conformance tests: self-checking assembly, M-mode at 0x80000000, assembled for RV64GC (the
# C programs above stay RV64IMAC: they run with mstatus.FS = Off).
ASFLAGS=$(echo "$CFLAGS" | sed 's/-march=rv64imac_/-march=rv64imafdc_/')
for t in "$HERE"/tests/*.S; do
    [ -e "$t" ] || continue
    n=$(basename "$t" .S)
    "$CC" $ASFLAGS -c "$t" -o "$OUT/$n.o"
    link "$n" 0x80000000 "$OUT/$n.o"
done
echo "$OUT"
