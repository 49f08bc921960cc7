import Testing
@Test func placeholderFedCLITests() { #expect(1 + 1 == 2) }
