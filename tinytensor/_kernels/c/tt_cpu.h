/* tt_cpu.h: which kernel variants this build holds and this CPU can run (probed by the CPU's
 * own feature bits, once per call: callers ask once, at import). */
#ifndef TT_CPU_H
#define TT_CPU_H

#include <string.h>

/* 1 when variant `name` ("avx512", "avx512-portable", "avx2", "neon", "generic") is compiled
   into this build and the CPU has the instructions it needs. */
static int tt_cpu_has(const char *name)
{
#if !defined(__GNUC__)          /* no vector extensions (MSVC): no variant, plain-C GEMMs */
    (void)name;
    return 0;
#else
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (!strcmp(name, "avx512") || !strcmp(name, "avx512-portable"))
#if defined(__clang__)
        return !strcmp(name, "avx512-portable") && __builtin_cpu_supports("avx512f");
#else
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
#endif
    if (!strcmp(name, "avx2"))
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
#if defined(__aarch64__)
    if (!strcmp(name, "neon")) return 1;
#endif
    return !strcmp(name, "generic");
#endif
}

#endif /* TT_CPU_H */
