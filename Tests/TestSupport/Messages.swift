/// Query builders shared by the test targets of the wire and answer layers. Plain bytes, no
/// dependency on the code under test: the constants are the RFC's numbers.

/// Encodes a presentation name (`bl.example`, case kept, a trailing dot optional) as
/// uncompressed wire bytes (RFC 1035 §3.1).
public func wireName(_ text: String) -> [UInt8] {
    var out: [UInt8] = []
    let t = text.hasSuffix(".") ? String(text.dropLast()) : text
    if !t.isEmpty {
        for label in t.split(separator: ".", omittingEmptySubsequences: false) {
            out.append(UInt8(label.utf8.count))
            out.append(contentsOf: label.utf8)
        }
    }
    out.append(0)
    return out
}

/// The OPT record of a query built by ``query(_:_:qclass:id:flags:edns:)`` (RFC 6891 §6.1.2).
public struct EDNS {
    public var size: UInt16
    public var version: UInt8
    public var dnssecOK: Bool
    /// (option code, option data), in order.
    public var options: [(UInt16, [UInt8])]

    public init(size: UInt16 = 1232, version: UInt8 = 0, dnssecOK: Bool = false, options: [(UInt16, [UInt8])] = []) {
        self.size = size; self.version = version; self.dnssecOK = dnssecOK; self.options = options
    }
}

/// Builds a query message: one question, an optional OPT. `qclass` 1 is IN; `flags` 0x0100 is RD.
public func query(_ name: String, _ type: UInt16, qclass: UInt16 = 1, id: UInt16 = 0x5A5A,
                  flags: UInt16 = 0x0100, edns: EDNS? = nil) -> [UInt8] {
    var m: [UInt8] = []
    func u16(_ v: UInt16) { m.append(UInt8(v >> 8)); m.append(UInt8(v & 0xFF)) }
    u16(id); u16(flags); u16(1); u16(0); u16(0); u16(edns == nil ? 0 : 1)
    m += wireName(name)
    u16(type); u16(qclass)
    if let e = edns {
        m.append(0); u16(41); u16(e.size)
        m.append(0); m.append(e.version); u16(e.dnssecOK ? 0x8000 : 0)
        let rd = e.options.flatMap { o -> [UInt8] in
            [UInt8(o.0 >> 8), UInt8(o.0 & 0xFF), UInt8(o.1.count >> 8), UInt8(o.1.count & 0xFF)] + o.1
        }
        u16(UInt16(rd.count)); m += rd
    }
    return m
}
