#!/bin/sh
# Rebuild blink-c3.elf. Needs only a RISC-V GCC: on Debian or Ubuntu,
# `apt-get install gcc-riscv64-unknown-elf`. Set CC to use another one.
set -eu
cd "$(dirname "$0")"
CC="${CC:-riscv64-unknown-elf-gcc}"
"$CC" -march=rv32imc -mabi=ilp32 -nostdlib -ffreestanding -Os \
    -fno-asynchronous-unwind-tables -fno-unwind-tables -fno-ident \
    -Wall -Wextra -Werror \
    -T link.ld -Wl,--build-id=none -Wl,--gc-sections \
    -o blink-c3.elf start.S blink.c
echo "built $(pwd)/blink-c3.elf"
