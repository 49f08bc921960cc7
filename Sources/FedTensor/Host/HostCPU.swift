// HostCPU: the processor this process runs on (name, vendor, family, model, cores, caches), so figures name it.
import Foundation

/// What the running machine's processor is, read once from the operating system.
///
/// Benchmark figures are only comparable between hosts when they say which CPU produced them (the project's
/// machines are sometimes AMD Zen 4, sometimes Intel Xeon, and throughput ratios differ between them). Virtual
/// machines often shorten the model name (a Zen 4 EPYC may call itself just "AMD EPYC"), so the vendor, family,
/// model and stepping numbers are kept too, with the microarchitecture they denote where it is known.
public struct HostCPU: Sendable, Codable, Equatable {
    /// One cache level as the kernel describes it (`/sys/devices/system/cpu/cpu0/cache/index*`).
    public struct Cache: Sendable, Codable, Equatable {
        /// 1, 2, 3…
        public var level: Int
        /// "Data", "Instruction" or "Unified".
        public var type: String
        /// Size in bytes of the cache one core sees at this level.
        public var bytes: Int

        public init(level: Int, type: String, bytes: Int) {
            self.level = level
            self.type = type
            self.bytes = bytes
        }
    }

    /// The marketing name (`model name` in `/proc/cpuinfo`), or "unknown".
    public var modelName: String
    /// `AuthenticAMD`, `GenuineIntel`, … (empty when unknown).
    public var vendor: String
    /// cpuid family, model and stepping, when the system reports them.
    public var family: Int?
    public var model: Int?
    public var stepping: Int?
    /// Logical processors available to this process.
    public var logicalCores: Int
    /// Data and unified caches, innermost first.
    public var caches: [Cache]

    public init(modelName: String, vendor: String, family: Int?, model: Int?, stepping: Int?, logicalCores: Int,
                caches: [Cache]) {
        self.modelName = modelName
        self.vendor = vendor
        self.family = family
        self.model = model
        self.stepping = stepping
        self.logicalCores = logicalCores
        self.caches = caches
    }

    /// This machine, read once.
    public static let current: HostCPU = read()

    /// Bytes of the level-`level` data (or unified) cache, if known.
    public func cacheBytes(level: Int) -> Int? {
        caches.first { $0.level == level && $0.type != "Instruction" }?.bytes
    }

    /// The microarchitecture that (vendor, family, model) denotes, for the server parts the project runs on; nil
    /// when the numbers are not in the table (the name is then the only description).
    public var microarchitecture: String? {
        guard let family, let model else { return nil }
        switch (vendor, family) {
        case ("AuthenticAMD", 0x17): return model >= 0x30 ? "Zen 2" : "Zen"
        case ("AuthenticAMD", 0x19):
            switch model {
            case 0x10...0x1F, 0x60...0x7F, 0xA0...0xAF: return "Zen 4"
            default: return "Zen 3"
            }
        case ("AuthenticAMD", 0x1A): return "Zen 5"
        case ("GenuineIntel", 6):
            switch model {
            case 0x55: return "Skylake-SP / Cascade Lake"
            case 0x6A, 0x6C: return "Ice Lake-SP"
            case 0x8F: return "Sapphire Rapids"
            case 0xCF: return "Emerald Rapids"
            case 0xAD, 0xAE: return "Granite Rapids"
            default: return nil
            }
        default: return nil
        }
    }

    /// One line naming the CPU: "AMD EPYC (AuthenticAMD family 25 model 17 stepping 1: Zen 4), 2 cores, L1d 32 KiB,
    /// L2 1 MiB, L3 32 MiB".
    public var summary: String {
        var ids: [String] = []
        if !vendor.isEmpty { ids.append(vendor) }
        if let family { ids.append("family \(family)") }
        if let model { ids.append("model \(model)") }
        if let stepping { ids.append("stepping \(stepping)") }
        var text = modelName
        if !ids.isEmpty {
            text += " (" + ids.joined(separator: " ") + (microarchitecture.map { ": \($0)" } ?? "") + ")"
        }
        text += ", \(logicalCores) core\(logicalCores == 1 ? "" : "s")"
        for cache in caches where cache.type != "Instruction" {
            text += ", L\(cache.level)\(cache.type == "Data" ? "d" : "") " + Self.size(cache.bytes)
        }
        return text
    }

    static func size(_ bytes: Int) -> String {
        if bytes >= 1 << 20 && bytes % (1 << 20) == 0 { return "\(bytes >> 20) MiB" }
        if bytes >= 1 << 10 && bytes % (1 << 10) == 0 { return "\(bytes >> 10) KiB" }
        return "\(bytes) B"
    }

    /// The first processor's block of `/proc/cpuinfo` text, and cache descriptions as (level, type, size text).
    public static func parse(cpuinfo: String, caches: [(level: String, type: String, size: String)],
                             logicalCores: Int) -> HostCPU {
        var fields: [String: String] = [:]
        for line in cpuinfo.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.trimmingCharacters(in: .whitespaces).isEmpty {
                if !fields.isEmpty { break }  // the end of the first processor's block
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if fields[key] == nil { fields[key] = value }
        }
        let parsedCaches = caches.compactMap { c -> Cache? in
            guard let level = Int(c.level.trimmingCharacters(in: .whitespacesAndNewlines)),
                  let bytes = parseSize(c.size) else { return nil }
            return Cache(level: level, type: c.type.trimmingCharacters(in: .whitespacesAndNewlines), bytes: bytes)
        }.sorted { ($0.level, $0.type) < ($1.level, $1.type) }
        return HostCPU(
            modelName: fields["model name"] ?? fields["Processor"] ?? "unknown", vendor: fields["vendor_id"] ?? "",
            family: fields["cpu family"].flatMap { Int($0) }, model: fields["model"].flatMap { Int($0) },
            stepping: fields["stepping"].flatMap { Int($0) }, logicalCores: logicalCores, caches: parsedCaches)
    }

    /// "32K", "1024K", "32M", "48 KB" → bytes; nil for anything else.
    static func parseSize(_ text: String) -> Int? {
        let t = text.trimmingCharacters(in: .whitespacesAndNewlines).uppercased().replacingOccurrences(of: " ", with: "")
        let digits = t.prefix { $0.isNumber }
        guard let n = Int(digits), n > 0 else { return nil }
        switch t.dropFirst(digits.count) {
        case "", "B": return n
        case "K", "KB", "KIB": return n << 10
        case "M", "MB", "MIB": return n << 20
        default: return nil
        }
    }

    static func read() -> HostCPU {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        #if os(Linux)
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        var caches: [(level: String, type: String, size: String)] = []
        for i in 0..<8 {
            let dir = "/sys/devices/system/cpu/cpu0/cache/index\(i)/"
            guard let level = try? String(contentsOfFile: dir + "level", encoding: .utf8),
                  let type = try? String(contentsOfFile: dir + "type", encoding: .utf8),
                  let size = try? String(contentsOfFile: dir + "size", encoding: .utf8) else { break }
            caches.append((level, type, size))
        }
        return parse(cpuinfo: cpuinfo, caches: caches, logicalCores: cores)
        #else
        return HostCPU(modelName: "unknown", vendor: "", family: nil, model: nil, stepping: nil,
                       logicalCores: cores, caches: [])
        #endif
    }
}
