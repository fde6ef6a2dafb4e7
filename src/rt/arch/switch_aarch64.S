/*
 * switch_aarch64.S: cio's context switch for aarch64 (AAPCS64), and the trampoline a new
 * coroutine starts in. The switch is an ordinary function call, so only what the ABI says a
 * callee must preserve is saved: x19-x28, the frame pointer x29, the link register x30, sp,
 * the low halves d8-d15 of v8-v15, and FPCR (rounding mode and the like). Everything lives on
 * the suspended stack; the context itself is one saved stack pointer. No system call.
 *
 * Frame of a suspended context, at ctx->sp (176 bytes, keeps sp 16-byte aligned):
 *
 *     +0   x19 x20    +16  x21 x22    +32  x23 x24    +48  x25 x26    +64  x27 x28
 *     +80  x29 x30 (x30 = where the switch resumes; the trampoline for a new context)
 *     +96  d8 d9      +112 d10 d11    +128 d12 d13    +144 d14 d15
 *     +160 FPCR       +168 pad
 *
 * cio__ctx_make() in coro.c builds the same frame for a new coroutine: x19, x21, x22 = the
 * entry's three arguments, x20 = entry function, x29 = 0, x30 = cio__ctx_trampoline.
 */
#if defined(__aarch64__)

    .text

/* void cio__ctx_switch(struct cio__ctx *from (x0), struct cio__ctx *to (x1)) */
    .globl cio__ctx_switch
    .hidden cio__ctx_switch
    .type cio__ctx_switch, %function
    .p2align 4
cio__ctx_switch:
    .cfi_startproc
    hint #34                /* bti c: a valid indirect-call target where BTI is enforced */
    sub sp, sp, #176
    .cfi_adjust_cfa_offset 176
    stp x19, x20, [sp, #0]
    stp x21, x22, [sp, #16]
    stp x23, x24, [sp, #32]
    stp x25, x26, [sp, #48]
    stp x27, x28, [sp, #64]
    stp x29, x30, [sp, #80]
    stp d8, d9, [sp, #96]
    stp d10, d11, [sp, #112]
    stp d12, d13, [sp, #128]
    stp d14, d15, [sp, #144]
    mrs x9, fpcr
    str x9, [sp, #160]

    mov x9, sp
    str x9, [x0]            /* from->sp: everything else is on from's stack */
    ldr x9, [x1]
    mov sp, x9              /* to's stack from here on */
    /* the restore stub resumes the copied-back frame from here */
    .globl cio__ctx_resume
    .hidden cio__ctx_resume
cio__ctx_resume:

    ldr x9, [sp, #160]
    msr fpcr, x9
    ldp x19, x20, [sp, #0]
    ldp x21, x22, [sp, #16]
    ldp x23, x24, [sp, #32]
    ldp x25, x26, [sp, #48]
    ldp x27, x28, [sp, #64]
    ldp x29, x30, [sp, #80]
    ldp d8, d9, [sp, #96]
    ldp d10, d11, [sp, #112]
    ldp d12, d13, [sp, #128]
    ldp d14, d15, [sp, #144]
    add sp, sp, #176
    .cfi_adjust_cfa_offset -176
    ret
    .cfi_endproc
    .size cio__ctx_switch, .-cio__ctx_switch

/*
 * The first switch to a new context "returns" here with x19, x21, x22 = the arguments of
 * x20 = entry. The
 * entry function never returns (coro.c switches away from a finished coroutine for good);
 * should it, brk traps instead of running off the top of the stack. x30 is marked undefined
 * so that debuggers and unwinders stop here.
 */
    .globl cio__ctx_trampoline
    .hidden cio__ctx_trampoline
    .type cio__ctx_trampoline, %function
    .p2align 4
cio__ctx_trampoline:
    .cfi_startproc
    .cfi_undefined x30
    hint #34
    mov x0, x19
    mov x1, x21
    mov x2, x22
    blr x20
    brk #0
    .cfi_endproc
    .size cio__ctx_trampoline, .-cio__ctx_trampoline

/*
 * A saved context (coro.c, cio__coro_save) "returns" here: the switch to it loaded
 * cio__ctx_restore_frame, whose x30 is this stub, and x1 is still the switch's `to`, the
 * context (the first member of its struct cio__coro, whose second is the save block, whose
 * first word is the saved stack pointer). Move to the real stack, just below the saved stack
 * pointer, put the stack back (cio__coro_restore_c), and resume the restored frame as the
 * switch would have.
 */
    .globl cio__ctx_restore
    .hidden cio__ctx_restore
    .type cio__ctx_restore, %function
    .p2align 4
cio__ctx_restore:
    .cfi_startproc
    .cfi_undefined x30
    hint #34
    mov x0, x1
    ldr x9, [x1, #8]        /* co->save */
    ldr x9, [x9]            /* save->sp: the real stack pointer, 16-byte aligned */
    sub sp, x9, #16
    bl cio__coro_restore_c
    add sp, sp, #16
    b cio__ctx_resume
    .cfi_endproc
    .size cio__ctx_restore, .-cio__ctx_restore

#endif /* __aarch64__ */

    .section .note.GNU-stack,"",%progbits
