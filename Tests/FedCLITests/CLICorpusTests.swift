// CLICorpusTests: every bad input of the corpus gives a non-zero status and an error naming the input; none crashes,
// hangs or exits 0.
import FedCLI
import Foundation
import Testing

@Suite("Bad-input corpus through the CLI entry point")
struct CLICorpusTests {
    @Test func theCorpusHoldsAtLeast300DistinctCases() {
        let names = CorpusCase.all.map(\.name)
        #expect(names.count >= 300)
        let repeated = Dictionary(grouping: names, by: { $0 }).filter { $0.value.count > 1 }.keys.sorted()
        #expect(repeated.isEmpty, "case names must be unique (they name failures): \(repeated)")
    }

    @Test(arguments: CorpusCase.all)
    func badInputIsNamedAndRefused(_ c: CorpusCase) async throws {
        let outcome = try await c.run()
        let status = try #require(outcome.status, "\(c.name): no answer within \(c.timeout) s (a hang)")
        #expect(status == c.status, "\(c.name): status \(status), expected \(c.status); stderr: \(outcome.stderr)")
        // Progress lines may come first on a slow machine; the error is a line of its own.
        #expect(outcome.stderr.split(separator: "\n").contains { $0.hasPrefix("fednoise: ") },
                "\(c.name): stderr: \(outcome.stderr)")
        for m in c.mentions {
            #expect(outcome.stderr.contains(m), "\(c.name): the error should name '\(m)'; stderr: \(outcome.stderr)")
        }
        for raw in ["NSCocoaErrorDomain", "Error Domain=", "Fatal error", "DecodingError", "key ''"] {
            #expect(!outcome.stderr.contains(raw), "\(c.name): raw error text '\(raw)': \(outcome.stderr)")
        }
        // A refused input writes no results (the running cases write theirs, then fail).
        if c.status == 2 { #expect(!outcome.stdout.contains("wrote "), "\(c.name): \(outcome.stdout)") }
    }
}
