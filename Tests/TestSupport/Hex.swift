/// Bytes of a hex string (`"2464c4ab"` → `[0x24, 0x64, 0xc4, 0xab]`); two digits per byte,
/// whitespace and newlines ignored. Traps on anything else: test data is written by hand.
public func hexBytes(_ s: String) -> [UInt8] {
    let digits = Array(s.unicodeScalars.filter { !$0.properties.isWhitespace })
    precondition(digits.count % 2 == 0, "odd number of hex digits")
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1].map(Character.init)), radix: 16)! }
}

/// Lower-case hex of `b`, two digits per byte.
public func hexString(_ b: some Sequence<UInt8>) -> String {
    b.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
}
