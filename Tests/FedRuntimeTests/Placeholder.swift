import Testing
@Test func placeholderRuntime() { #expect(Int("3") == 3) }
