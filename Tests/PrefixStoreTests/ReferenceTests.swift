import Testing
@testable import PrefixStore

@Test func referenceFlattenLongestPrefixWins() {
    let e = [PrefixEntry(address: 0x2001_0db8 << 96, prefixLength: 32, value: 0, origin: 0),
             PrefixEntry(address: (0x2001_0db8 << 96) | 0xa, prefixLength: 128, value: 1, origin: 1)]
    let t = StoreBuilder.referenceFlatten(e, family: .ipv6).table
    #expect(t.value(at: (0x2001_0db8 << 96) | 0xa) == 1)
    #expect(t.value(at: (0x2001_0db8 << 96) | 0xb) == 0)
    #expect(t.value(at: 0x2001_0db9 << 96) == -1)
}
