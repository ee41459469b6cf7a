/* Entry point: the bootloader jumps here with its own stack; give the
 * application one of its own in DRAM, then run main. */
    /* Names the source in the symbol table; otherwise the assembler records
     * its temporary object file, and every build differs. */
    .file "start.S"
    .section .flash.text.entry, "ax"
    .globl _start
_start:
    la sp, _stack_top
    call main
1:  j 1b
