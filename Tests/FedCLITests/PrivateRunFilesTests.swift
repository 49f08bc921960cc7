// PrivateRunFilesTests: `run --processes`' session token is random and its directory private.
import FedCLI
import Foundation
import Testing

@Suite struct PrivateRunFilesTests {
    @Test func tokensAreRandom128BitHex() {
        let tokens = (0..<100).map { _ in PrivateRunFiles.randomToken() }
        #expect(Set(tokens).count == 100)
        #expect(tokens.allSatisfy { $0.count == 32 && $0.allSatisfy(\.isHexDigit) })
        // Each hex digit position varies (a constant or counter-like token would not)
        for i in 0..<32 { #expect(Set(tokens.map { Array($0)[i] }).count > 4) }
    }

    @Test func theSessionAddsTheTokenOnlyWhenOneIsGiven() {
        #expect(PrivateRunFiles.session(digest: "abc", environment: [:]) == "abc")
        #expect(PrivateRunFiles.session(digest: "abc", environment: [PrivateRunFiles.tokenVariable: "t1"]) == "abc:t1")
        #expect(PrivateRunFiles.session(digest: "abc", environment: [PrivateRunFiles.tokenVariable: "t1"])
                != PrivateRunFiles.session(digest: "abc", environment: [PrivateRunFiles.tokenVariable: "t2"]))
    }

    @Test func theDirectoryIsNewAndOnlyTheOwnerMayEnterIt() throws {
        let a = try PrivateRunFiles.makePrivateDirectory(), b = try PrivateRunFiles.makePrivateDirectory()
        defer { try? FileManager.default.removeItem(at: a); try? FileManager.default.removeItem(at: b) }
        #expect(a != b)
        for url in [a, b] {
            let attributes = try FileManager.default.attributesOfItem(atPath: url.path)
            #expect((attributes[.posixPermissions] as? Int) == 0o700)
            #expect(try FileManager.default.contentsOfDirectory(atPath: url.path).isEmpty)
        }
    }
}
