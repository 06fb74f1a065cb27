// Tests for RISCV.
