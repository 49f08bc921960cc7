// RoundCollection: one round attempt's uploads, folded into the weighted sum as they arrive, in any order.
import FedStrategy
import FedTensor

/// The uploads of one attempt: each accepted payload is added to the sum at once (`ExactSum`: the same bits for any
/// arrival order), so the server holds O(model) memory whatever the number of clients.
struct RoundCollection: Sendable {
    let round: Int
    let attempt: Int
    private var sum: ExactSum
    private var noiseSum: ExactSum?
    private var reports: [Int: ClientUpload] = [:]
    private(set) var uploadNoise: [Int: Double] = [:]
    private(set) var dropped: [Int] = []

    init(round: Int, attempt: Int, participants: [Int], length: Int, diagnostics: Bool) {
        self.round = round
        self.attempt = attempt
        sum = ExactSum(length: length, expected: participants)
        noiseSum = diagnostics ? ExactSum(length: length, expected: participants) : nil
    }

    /// Folds `upload` in; returns why it was refused (late, duplicate, unknown sender, wrong length) or nil.
    mutating func receive(_ upload: ClientUpload, diagnostics: UploadDiagnostics?) -> String? {
        guard upload.round == round else { return "upload for round \(upload.round) during \(round)" }
        guard upload.attempt == attempt else {
            return "upload for attempt \(upload.attempt) of round \(round) during attempt \(attempt)"
        }
        do {
            try sum.add(upload.payload, from: upload.client)
        } catch {
            return "upload from client \(upload.client) rejected: \(error)"
        }
        if let noise = diagnostics?.noise {
            try? noiseSum?.add(noise, from: upload.client)
            uploadNoise[upload.client] = meanSquare(noise)
        } else {
            noiseSum?.skip(upload.client)
        }
        var report = upload
        report.payload = []
        reports[upload.client] = report
        return nil
    }

    var isComplete: Bool { sum.isComplete }

    /// The deadline passed: clients that have not uploaded are left out.
    mutating func skipOutstanding() {
        for client in sum.outstanding {
            sum.skip(client)
            noiseSum?.skip(client)
            dropped.append(client)
        }
    }

    /// The attempt's outcome once complete.
    struct Outcome: Sendable {
        /// Σ p_k·u_k / Σ p_k over the clients that answered (nil: none did).
        var average: [Float]?
        /// The accepted uploads in client order, payloads emptied.
        var uploads: [ClientUpload]
        /// The diagnostic noise sum, normalised like the average.
        var noise: [Float]?
        var dropped: [Int]
        /// Diagnostics: each accepted client's upload noise, mean square over coordinates.
        var uploadNoise: [Int: Double] = [:]
    }

    /// Σ p_k·u_k / Σ p_k (renormalised when some clients were left out), the uploads in client order and the noise.
    func finish() -> Outcome {
        precondition(sum.isComplete, "finish() before the attempt is complete")
        let received = sum.added
        let uploads = received.compactMap { reports[$0] }
        guard !received.isEmpty else { return Outcome(average: nil, uploads: [], noise: nil, dropped: dropped) }
        var result = sum.sum
        let total = uploads.reduce(0.0) { $0 + $1.weight }
        if abs(total - 1) > 1e-12 {
            let factor = Float(1 / total)
            for i in result.indices { result[i] *= factor }
        }
        var noise = noiseSum.map(\.sum)
        if let n = noise, abs(total - 1) > 1e-12 { noise = n.map { $0 / Float(total) } }
        return Outcome(average: result, uploads: uploads, noise: noise, dropped: dropped, uploadNoise: uploadNoise)
    }
}

extension ServerMachine {
    /// Σ σ_k² / (Σ p_k)²: the expected per-coordinate noise variance of the (renormalised) aggregate.
    static func expectedNoiseVariance(_ uploads: [ClientUpload]) -> Double {
        let total = uploads.map(\.weight).reduce(0, +)
        guard total > 0 else { return 0 }
        return uploads.map { $0.noiseStd * $0.noiseStd }.reduce(0, +) / (total * total)
    }
}

/// FNV-1a over the bit patterns of `v`, as 16 hex digits.
func digest(_ v: [Float]) -> String {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for x in v {
        h = (h ^ UInt64(x.bitPattern)) &* 0x0000_0100_0000_01B3
    }
    let hex = String(h, radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
}

func meanSquare(_ v: [Float]) -> Double {
    v.withUnsafeBufferPointer { sumOfSquares($0.baseAddress!, count: $0.count) } / Double(max(v.count, 1))
}
