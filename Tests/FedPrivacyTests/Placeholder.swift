import Testing
@Test func placeholderFedPrivacyTests() { #expect(Int("2") == 2) }
