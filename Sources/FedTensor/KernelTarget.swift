// KernelTarget: the CPU features FedTensor's kernels were compiled for, and a one-time warning when FMA is left unused.
import CFedCPU
import Foundation

/// What the compiler targeted when it built FedTensor's kernels, next to what the running CPU offers.
///
/// Without a CPU target, x86-64 Swift code is compiled for SSE2, and every `SIMD16<Float>` fused multiply-add
/// becomes 16 `fmaf` library calls: GEMM and training run tens of times slower (README, "Building"), with the same
/// results; without `-fno-math-errno`, vector square roots become `sqrtf` calls (Gaussian noise ~2.5× slower).
/// FedNoise's own build passes both; a package that depends on FedNoise by version cannot (SwiftPM refuses unsafe
/// flags in versioned dependencies), so its build must pass ``recommendedBuildFlags``. `gemm` calls
/// ``warnIfGeneric()`` so that a user of such a build is told at first use.
public struct KernelTarget: Sendable, Equatable, CustomStringConvertible {
    /// The kernels may use fused multiply-add (x86-64 FMA3; part of AArch64).
    public var compiledFMA: Bool
    /// The kernels may use AVX2.
    public var compiledAVX2: Bool
    /// The kernels may use AVX-512F.
    public var compiledAVX512F: Bool
    /// The kernels were compiled with `-fno-math-errno` (always so on Apple platforms).
    public var compiledNoMathErrno: Bool
    /// The running CPU has FMA.
    public var cpuFMA: Bool
    /// The running CPU has AVX2.
    public var cpuAVX2: Bool
    /// The running CPU has AVX-512F.
    public var cpuAVX512F: Bool

    /// A target and CPU given feature by feature (tests use it to check ``advice`` on machines they do not run on).
    public init(compiledFMA: Bool, compiledAVX2: Bool, compiledAVX512F: Bool, compiledNoMathErrno: Bool,
                cpuFMA: Bool, cpuAVX2: Bool, cpuAVX512F: Bool) {
        self.compiledFMA = compiledFMA
        self.compiledAVX2 = compiledAVX2
        self.compiledAVX512F = compiledAVX512F
        self.compiledNoMathErrno = compiledNoMathErrno
        self.cpuFMA = cpuFMA
        self.cpuAVX2 = cpuAVX2
        self.cpuAVX512F = cpuAVX512F
    }

    /// This build of FedTensor on this CPU. The `compiled` flags come from the predefined macros of FedTensor's
    /// own compilation (`CFedCPU.h`'s inline functions are compiled here); the CPU flags from cpuid.
    public static let current = KernelTarget(
        compiledFMA: fednoise_compiled_fma() != 0, compiledAVX2: fednoise_compiled_avx2() != 0,
        compiledAVX512F: fednoise_compiled_avx512f() != 0, compiledNoMathErrno: fednoise_compiled_no_math_errno() != 0,
        cpuFMA: fednoise_cpu_has_fma() != 0, cpuAVX2: fednoise_cpu_has_avx2() != 0,
        cpuAVX512F: fednoise_cpu_has_avx512f() != 0)

    /// The `swift build` flags that compile a dependent FedNoise as FedNoise's own build does (the same machine code,
    /// checked with objdump): the CPU target, no `errno` from math functions, and on x86-64 no AVX-512 scatters and
    /// gathers from the auto-vectoriser (slow on Zen 4).
    public static var recommendedBuildFlags: String {
        var flags = "-Xswiftc -target-cpu -Xswiftc native -Xswiftc -Xcc -Xswiftc -fno-math-errno"
        #if arch(x86_64)
        flags += " -Xswiftc -Xcc -Xswiftc -mno-scatter -Xswiftc -Xcc -Xswiftc -mno-gather"
        #endif
        return flags
    }

    /// The environment variable that silences the warning when set to `0` (for a deliberately portable build).
    public static let warningEnvironmentVariable = "FEDNOISE_KERNEL_WARNING"

    /// What to tell the user when the kernels leave the CPU's FMA unused, or were compiled with math `errno`;
    /// `nil` when neither (a CPU without FMA is served right by a generic build).
    public var advice: String? {
        let how = """
            Build with `swift build -c release \(KernelTarget.recommendedBuildFlags)` (`native` may be a named CPU \
            such as `haswell` for a binary that runs on other machines; see FedNoise's README, "Building"). \
            Set \(KernelTarget.warningEnvironmentVariable)=0 to silence this.
            """
        if !compiledFMA && cpuFMA {
            let cpu = cpuAVX512F ? "AVX-512" : cpuAVX2 ? "AVX2 and FMA" : "FMA"
            return "FedNoise: the kernels were compiled for a generic CPU, without FMA, but this CPU has \(cpu): "
                + "GEMM and training run tens of times slower than they can (same results). " + how
        }
        if !compiledNoMathErrno {
            return "FedNoise: the kernels were compiled with math errno: Gaussian noise runs ~2.5× slower than "
                + "it can (same results). " + how
        }
        return nil
    }

    /// One line naming the compiled and available features, e.g.
    /// `kernels: FMA AVX2 AVX-512F, no math errno; CPU: FMA AVX2 AVX-512F`.
    public var description: String {
        func list(_ fma: Bool, _ avx2: Bool, _ avx512: Bool) -> String {
            let names = [(fma, "FMA"), (avx2, "AVX2"), (avx512, "AVX-512F")].filter(\.0).map(\.1)
            return names.isEmpty ? "generic" : names.joined(separator: " ")
        }
        return "kernels: \(list(compiledFMA, compiledAVX2, compiledAVX512F)), "
            + (compiledNoMathErrno ? "no math errno" : "math errno") + "; CPU: \(list(cpuFMA, cpuAVX2, cpuAVX512F))"
    }

    /// Writes ``advice`` for ``current`` to standard error, at most once per process, unless
    /// `FEDNOISE_KERNEL_WARNING=0`. Cheap after the first call (one lazily initialised global).
    public static func warnIfGeneric() { _ = warned }

    private static let warned: Bool = {
        guard let text = current.advice,
              ProcessInfo.processInfo.environment[warningEnvironmentVariable] != "0" else { return false }
        FileHandle.standardError.write(Data((text + "\n").utf8))
        return true
    }()
}
