// HostCPUTests: the CPU description parsed from /proc/cpuinfo and sysfs texts, and the FMA peak loop's arithmetic.
import FedTensor
import Testing

@Suite struct HostCPUTests {
    static let zen4 = """
        processor\t: 0
        vendor_id\t: AuthenticAMD
        cpu family\t: 25
        model\t\t: 17
        model name\t: AMD EPYC
        stepping\t: 1
        flags\t\t: fpu avx2 fma avx512f

        processor\t: 1
        vendor_id\t: AuthenticAMD
        model name\t: something else
        """

    static let xeon = """
        processor\t: 0
        vendor_id\t: GenuineIntel
        cpu family\t: 6
        model\t\t: 143
        model name\t: Intel(R) Xeon(R) Platinum 8488C
        stepping\t: 8
        """

    @Test func zen4HostIsNamedWithItsNumbersAndCaches() {
        let cpu = HostCPU.parse(
            cpuinfo: Self.zen4,
            caches: [("1", "Data\n", "32K\n"), ("1", "Instruction", "32K"), ("2", "Unified", "1024K"),
                     ("3", "Unified", "32768K")],
            logicalCores: 2)
        #expect(cpu.modelName == "AMD EPYC")  // the first processor's block, not the second's
        #expect(cpu.vendor == "AuthenticAMD")
        #expect(cpu.family == 25 && cpu.model == 17 && cpu.stepping == 1)
        #expect(cpu.microarchitecture == "Zen 4")
        #expect(cpu.cacheBytes(level: 1) == 32 * 1024)
        #expect(cpu.cacheBytes(level: 2) == 1024 * 1024)
        #expect(cpu.cacheBytes(level: 3) == 32 * 1024 * 1024)
        #expect(cpu.summary == "AMD EPYC (AuthenticAMD family 25 model 17 stepping 1: Zen 4), 2 cores, "
                + "L1d 32 KiB, L2 1 MiB, L3 32 MiB")
    }

    @Test func xeonAndUnknownHosts() {
        let xeon = HostCPU.parse(cpuinfo: Self.xeon, caches: [("2", "Unified", "2048K")], logicalCores: 2)
        #expect(xeon.microarchitecture == "Sapphire Rapids")
        #expect(xeon.cacheBytes(level: 1) == nil)
        // A Zen 3 model number is not called Zen 4 (negative control for the table).
        let zen3 = HostCPU.parse(cpuinfo: Self.zen4.replacingOccurrences(of: "model\t\t: 17", with: "model\t\t: 1"),
                                 caches: [], logicalCores: 1)
        #expect(zen3.microarchitecture == "Zen 3")
        let unknown = HostCPU.parse(cpuinfo: "", caches: [("x", "Data", "32K"), ("1", "Data", "lots")],
                                    logicalCores: 1)
        #expect(unknown.modelName == "unknown" && unknown.microarchitecture == nil && unknown.caches.isEmpty)
        #expect(unknown.summary == "unknown, 1 core")
    }

    @Test func currentHostHasAName() {
        let cpu = HostCPU.current
        #expect(!cpu.modelName.isEmpty && cpu.logicalCores >= 1)
    }

    /// The chains follow c ← c/2 + 1 from c = 1, so after n iterations each of the 12 × 16 lanes (6 × 16 for the
    /// narrow loop) holds 2 − 2⁻ⁿ.
    @Test func fmaLoopComputesTheClosedForm() {
        for n in [0, 1, 3, 10] {
            let expected = 192 * (2 - Float(1) / Float(1 << n))
            #expect(fmaChains(iterations: n, x: 0.5, y: 1) == expected)
        }
        #expect(fmaChainFlops == 12 * 16 * 2)
        for n in [0, 1, 3, 10] {
            #expect(fmaChainsNarrow(iterations: n, x: 0.5, y: 1) == 96 * (2 - Float(1) / Float(1 << n)))
        }
        #expect(fmaChainNarrowFlops == 6 * 16 * 2)
        #expect(measureFMAPeak(threads: 1, minSeconds: 0.01) > 0)
    }
}
