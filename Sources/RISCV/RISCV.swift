// The RISCV module. See docs/architecture.md.
