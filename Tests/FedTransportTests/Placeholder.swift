import Testing
@Test func placeholderFedTransportTests() { #expect(Int("2") == 2) }
