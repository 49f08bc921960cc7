// CFedCPU: the CPU features the importing module was compiled for, and those the running CPU has.
#ifndef CFEDCPU_H
#define CFEDCPU_H

// The `fednoise_compiled_*` functions are static inline on purpose: their bodies are compiled in the module that
// imports this header, with that module's target (swiftc's `-target-cpu` reaches its Clang importer), so FedTensor
// learns what its own kernels were compiled for. A function in the .c file would report this C target's flags.

/// 1 when the importing module may use fused multiply-add instructions (x86-64 FMA3; always on AArch64).
static inline int fednoise_compiled_fma(void) {
#if defined(__FMA__) || defined(__aarch64__)
    return 1;
#else
    return 0;
#endif
}

/// 1 when the importing module may use AVX2 instructions.
static inline int fednoise_compiled_avx2(void) {
#if defined(__AVX2__)
    return 1;
#else
    return 0;
#endif
}

/// 1 when the importing module may use AVX-512F instructions.
static inline int fednoise_compiled_avx512f(void) {
#if defined(__AVX512F__)
    return 1;
#else
    return 0;
#endif
}

/// 1 when the importing module was compiled with `-fno-math-errno` (passed to Swift as `-Xcc -fno-math-errno`), so
/// `sqrtf` and friends may become instructions instead of library calls that set errno.
static inline int fednoise_compiled_no_math_errno(void) {
#if defined(__NO_MATH_ERRNO__)
    return 1;
#else
    return 0;
#endif
}

/// 1 when the running CPU has FMA3 (x86-64, from cpuid); 1 on AArch64, where it is part of the base architecture;
/// 0 elsewhere.
int fednoise_cpu_has_fma(void);
/// 1 when the running CPU has AVX2 (x86-64, from cpuid); 0 elsewhere.
int fednoise_cpu_has_avx2(void);
/// 1 when the running CPU has AVX-512F (x86-64, from cpuid); 0 elsewhere.
int fednoise_cpu_has_avx512f(void);

/// Asks the cache for the line holding `p` in a writable state before it is written (x86-64 PREFETCHW, AArch64
/// PRFM PSTL1KEEP): a hint, with no effect on any value.
static inline void fednoise_prefetch_for_write(const void *p) {
    __builtin_prefetch(p, 1, 3);
}

/// Asks the cache for the line holding `p` before it is read (x86-64 PREFETCHT0, AArch64 PRFM PLDL1KEEP): a hint.
static inline void fednoise_prefetch_for_read(const void *p) {
    __builtin_prefetch(p, 0, 3);
}

#endif
