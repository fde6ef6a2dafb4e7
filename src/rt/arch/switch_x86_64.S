/*
 * switch_x86_64.S: cio's context switch for x86_64 (System V ABI), and the trampoline a new
 * coroutine starts in. The switch is an ordinary function call, so only what the ABI says a
 * callee must preserve is saved: rbx, rbp, r12-r15, the stack pointer, and the floating-point
 * control state (MXCSR and the x87 control word). Everything lives on the suspended stack; the
 * context itself is one saved stack pointer. No system call, no signal mask (that is what makes
 * ucontext's swapcontext some twenty times slower).
 *
 * Frame of a suspended context, at ctx->sp (lowest address first):
 *
 *     +0   MXCSR (4 bytes) | x87 control word (2 bytes) | pad
 *     +8   r15
 *     +16  r14
 *     +24  r13
 *     +32  r12
 *     +40  rbx
 *     +48  rbp
 *     +56  return address (where the switch resumes; the trampoline for a new context)
 *
 * cio__ctx_make() in coro.c builds the same frame for a new coroutine: r12, r14, r15 = the
 * entry's three arguments, r13 = entry function, return address = cio__ctx_trampoline.
 */
#if defined(__x86_64__)

    .text

/* void cio__ctx_switch(struct cio__ctx *from (rdi), struct cio__ctx *to (rsi)) */
    .globl cio__ctx_switch
    .hidden cio__ctx_switch
    .type cio__ctx_switch, @function
    .p2align 4
cio__ctx_switch:
    .cfi_startproc
#if defined(__CET__)
    endbr64
#endif
    pushq %rbp
    .cfi_adjust_cfa_offset 8
    pushq %rbx
    .cfi_adjust_cfa_offset 8
    pushq %r12
    .cfi_adjust_cfa_offset 8
    pushq %r13
    .cfi_adjust_cfa_offset 8
    pushq %r14
    .cfi_adjust_cfa_offset 8
    pushq %r15
    .cfi_adjust_cfa_offset 8
    subq $8, %rsp
    .cfi_adjust_cfa_offset 8
    stmxcsr (%rsp)
    fnstcw 4(%rsp)

    movq %rsp, (%rdi)       /* from->sp: everything else is on from's stack */
    movq (%rsi), %rsp       /* to's stack from here on */

    /* the restore stub resumes the copied-back frame from here */
    .globl cio__ctx_resume
    .hidden cio__ctx_resume
cio__ctx_resume:
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    .cfi_adjust_cfa_offset -8
    popq %r15
    .cfi_adjust_cfa_offset -8
    popq %r14
    .cfi_adjust_cfa_offset -8
    popq %r13
    .cfi_adjust_cfa_offset -8
    popq %r12
    .cfi_adjust_cfa_offset -8
    popq %rbx
    .cfi_adjust_cfa_offset -8
    popq %rbp
    .cfi_adjust_cfa_offset -8
    /* pop + jmp rather than ret: the return stack predictor holds the return address of the
     * context that called us, never the one we resume, so a ret would mispredict on every
     * switch; an indirect jump is predicted from history (measured here: ~7 ns per switch
     * against ~11-15 ns with ret). */
    popq %rcx
    .cfi_adjust_cfa_offset -8
    .cfi_register rip, rcx
    jmp *%rcx
    .cfi_endproc
    .size cio__ctx_switch, .-cio__ctx_switch

/*
 * The first switch to a new context "returns" here with r12, r14, r15 = the arguments of
 * r13 = entry, and
 * rsp 16-byte aligned, as at a call site. The entry function never returns (coro.c switches
 * away from a finished coroutine for good); should it, ud2 traps instead of running off the
 * top of the stack. rip is marked undefined so that debuggers and unwinders stop here.
 */
    .globl cio__ctx_trampoline
    .hidden cio__ctx_trampoline
    .type cio__ctx_trampoline, @function
    .p2align 4
cio__ctx_trampoline:
    .cfi_startproc
    .cfi_undefined rip
    movq %r12, %rdi
    movq %r14, %rsi
    movq %r15, %rdx
    callq *%r13
    ud2
    .cfi_endproc
    .size cio__ctx_trampoline, .-cio__ctx_trampoline

/*
 * A saved context (coro.c, cio__coro_save) "returns" here: the switch to it popped
 * cio__ctx_restore_frame, whose return address is this stub, and rsi is still the switch's
 * `to`, the context (the first member of its struct cio__coro, whose second is the save
 * block, whose first word is the saved stack pointer). Move to the real stack, just below the
 * saved stack pointer (free space: the context was suspended in a call), put the stack back
 * (cio__coro_restore_c), and resume the restored frame as the switch would have.
 */
    .globl cio__ctx_restore
    .hidden cio__ctx_restore
    .type cio__ctx_restore, @function
    .p2align 4
cio__ctx_restore:
    .cfi_startproc
    .cfi_undefined rip
    movq %rsi, %rdi
    movq 8(%rsi), %rax      /* co->save */
    movq (%rax), %rsp       /* save->sp: the real stack pointer, 16-byte aligned */
    subq $16, %rsp
    callq cio__coro_restore_c
    addq $16, %rsp
    jmp cio__ctx_resume
    .cfi_endproc
    .size cio__ctx_restore, .-cio__ctx_restore

#endif /* __x86_64__ */

    .section .note.GNU-stack,"",%progbits
