import Testing
@Test func placeholderFedDataTests() { #expect(1 + 1 == 2) }
