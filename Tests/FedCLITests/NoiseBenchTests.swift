// NoiseBenchTests: `fednoise bench --noise` times every site and law, and checks each one infused noise.
import FedCLI
import Foundation
import Testing

@Suite("bench --noise")
struct NoiseBenchTests {
    /// The MLP, two steps per epoch, one thread: every case gets an ms/step row and, except `none`, an overhead row
    /// (the median of its epochs' times over the no-noise epoch before each, so > −100% and finite). The command
    /// itself refuses to time a case whose epoch left the model where `none` left it, so exit 0 also says every
    /// mechanism changed the model.
    @Test func everyCaseIsTimedAgainstNone() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bench-noise-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: path) }
        let status = await FedCommandLine.run(["bench", "--noise", "--model", "mlp", "--batch-size", "8",
                                               "--steps", "2", "--quick", "--threads", "1", "--json", path.path])
        #expect(status == 0)
        struct Row: Decodable { var benchmark: String; var value: Double; var unit: String; var threads: Int }
        let rows = try JSONDecoder().decode([Row].self, from: Data(contentsOf: path))
        let times = rows.filter { $0.unit == "ms/step" }, overheads = rows.filter { $0.unit == "%" }
        #expect(times.count == 14 && overheads.count == 13)
        #expect(times.allSatisfy { $0.value > 0 && $0.threads == 1 && $0.benchmark.hasPrefix("noise mlp batch 8 ") })
        #expect(times.contains { $0.benchmark == "noise mlp batch 8 none" })
        for o in overheads {
            let name = String(o.benchmark.dropFirst("noise overhead mlp batch 8 ".count))
            #expect(times.contains { $0.benchmark == "noise mlp batch 8 \(name)" })
            #expect(o.value.isFinite && o.value > -100)
        }
        for name in ["M1 input gaussian", "M3 gradient gaussian rel.", "global model gaussian rel.",
                     "input salt-and-pepper", "activation laplace"] {
            #expect(times.contains { $0.benchmark == "noise mlp batch 8 \(name)" })
        }
    }

    /// `--cases M3,laplace` times `none` and exactly the cases whose names contain either text, any letter case.
    @Test func casesPicksByName() async throws {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("bench-cases-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: path) }
        let status = await FedCommandLine.run(["bench", "--noise", "--model", "mlp", "--batch-size", "8",
                                               "--steps", "2", "--quick", "--threads", "1",
                                               "--cases", "m3, LAPLACE", "--json", path.path])
        #expect(status == 0)
        struct Row: Decodable { var benchmark: String; var unit: String }
        let names = try JSONDecoder().decode([Row].self, from: Data(contentsOf: path))
            .filter { $0.unit == "ms/step" }.map { String($0.benchmark.dropFirst("noise mlp batch 8 ".count)) }
        #expect(names == ["none", "M3 gradient gaussian rel.", "M5 client model laplace rel.", "activation laplace"])
    }
}
