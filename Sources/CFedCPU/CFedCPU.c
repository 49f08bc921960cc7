// CFedCPU: the running CPU's features from cpuid (GCC/Clang `__builtin_cpu_supports`), no compiler flags needed.
#include "CFedCPU.h"

#if defined(__x86_64__) || defined(__i386__)
int fednoise_cpu_has_fma(void) { __builtin_cpu_init(); return __builtin_cpu_supports("fma") != 0; }
int fednoise_cpu_has_avx2(void) { __builtin_cpu_init(); return __builtin_cpu_supports("avx2") != 0; }
int fednoise_cpu_has_avx512f(void) { __builtin_cpu_init(); return __builtin_cpu_supports("avx512f") != 0; }
#elif defined(__aarch64__)
int fednoise_cpu_has_fma(void) { return 1; }
int fednoise_cpu_has_avx2(void) { return 0; }
int fednoise_cpu_has_avx512f(void) { return 0; }
#else
int fednoise_cpu_has_fma(void) { return 0; }
int fednoise_cpu_has_avx2(void) { return 0; }
int fednoise_cpu_has_avx512f(void) { return 0; }
#endif
