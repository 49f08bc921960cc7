// KernelTargetTests: the CPU features KernelTarget reports against /proc/cpuinfo, and when it advises a rebuild.
import Foundation
import Testing
import FedTensor

/// The `flags` line of /proc/cpuinfo as a set (an oracle independent of cpuid builtins); nil where there is none.
private func procCPUFlags() -> Set<String>? {
    guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
          let colon = line.firstIndex(of: ":") else { return nil }
    return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
}

@Test func cpuFeaturesMatchProcCPUInfo() throws {
    #if arch(x86_64)
    let flags = try #require(procCPUFlags())
    let cpu = KernelTarget.current
    #expect(cpu.cpuFMA == flags.contains("fma"))
    #expect(cpu.cpuAVX2 == flags.contains("avx2"))
    #expect(cpu.cpuAVX512F == flags.contains("avx512f"))
    #endif
}

@Test func rootBuildTargetsThisCPU() {
    // The root package passes -target-cpu native unless FEDNOISE_TARGET_CPU names another CPU.
    guard ProcessInfo.processInfo.environment["FEDNOISE_TARGET_CPU"] == nil else { return }
    let k = KernelTarget.current
    #expect(k.compiledFMA == k.cpuFMA)
    #expect(k.compiledAVX2 == k.cpuAVX2)
    #expect(k.compiledAVX512F == k.cpuAVX512F)
    #expect(k.compiledNoMathErrno)
    #expect(k.advice == nil)
}

@Test func adviceOnlyWhenFMAIsLeftUnused() throws {
    let generic = KernelTarget(compiledFMA: false, compiledAVX2: false, compiledAVX512F: false,
                               compiledNoMathErrno: true, cpuFMA: true, cpuAVX2: true, cpuAVX512F: true)
    let text = try #require(generic.advice)
    #expect(text.contains("-Xswiftc -target-cpu -Xswiftc native -Xswiftc -Xcc -Xswiftc -fno-math-errno"))
    #expect(text.contains("AVX-512") && text.contains("without FMA"))
    #expect(generic.description == "kernels: generic, no math errno; CPU: FMA AVX2 AVX-512F")
    // FMA in but math errno on: the milder advice.
    var errnoBuild = generic
    errnoBuild.compiledFMA = true
    errnoBuild.compiledNoMathErrno = false
    let errnoText = try #require(errnoBuild.advice)
    #expect(errnoText.contains("math errno") && !errnoText.contains("without FMA"))
    // Negative controls: FMA compiled in (even without AVX-512) without errno, or a CPU without FMA, need no advice.
    var avx2Build = generic
    avx2Build.compiledFMA = true
    avx2Build.compiledAVX2 = true
    #expect(avx2Build.advice == nil)
    let oldCPU = KernelTarget(compiledFMA: false, compiledAVX2: false, compiledAVX512F: false,
                              compiledNoMathErrno: true, cpuFMA: false, cpuAVX2: false, cpuAVX512F: false)
    #expect(oldCPU.advice == nil)
}
