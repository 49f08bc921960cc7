import Testing
@Test func placeholderFedNNTests() { #expect(1 + 1 == 2) }
