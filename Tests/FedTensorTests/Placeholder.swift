import Testing
@Test func placeholderFedTensorTests() { #expect(1 + 1 == 2) }
