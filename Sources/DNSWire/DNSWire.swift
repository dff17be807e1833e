/// RFC 1035 / RFC 6891 wire reading and writing over caller-owned byte buffers. No I/O, no
/// Foundation, no allocation: readers return plain values and offsets into the buffer they were
/// given; the writer appends into a buffer it is handed.
public enum DNSWire {
    /// Size of the fixed DNS header in bytes (RFC 1035 §4.1.1).
    public static let headerSize = 12
    /// Largest encoded domain name in bytes, root label included (RFC 1035 §2.3.4).
    public static let maxNameLength = 255
    /// Largest label in bytes (RFC 1035 §2.3.4).
    public static let maxLabelLength = 63
    /// Largest DNS message over TCP in bytes (RFC 1035 §4.2.2 two-byte length prefix).
    public static let maxTCPMessage = 65535
    /// Classic UDP limit without EDNS in bytes (RFC 1035 §4.2.1).
    public static let classicUDPLimit = 512
}

/// RR types this server reads or writes (RFC 1035 §3.2.2, RFC 3596, RFC 6891, RFC 1995).
public enum DNSType {
    public static let a: UInt16 = 1
    public static let ns: UInt16 = 2
    public static let soa: UInt16 = 6
    public static let ptr: UInt16 = 12
    public static let mx: UInt16 = 15
    public static let txt: UInt16 = 16
    public static let aaaa: UInt16 = 28
    public static let opt: UInt16 = 41
    /// RFC 8945 §4.2.
    public static let tsig: UInt16 = 250
    public static let ixfr: UInt16 = 251
    public static let axfr: UInt16 = 252
    public static let any: UInt16 = 255
}

/// DNS classes (RFC 1035 §3.2.4–3.2.5).
public enum DNSClass {
    public static let `in`: UInt16 = 1
    public static let ch: UInt16 = 3
    public static let any: UInt16 = 255
}

/// Response codes (RFC 1035 §4.1.1; BADVERS RFC 6891 §6.1.3, a 12-bit extended code).
public enum DNSRCode {
    public static let noError: UInt16 = 0
    public static let formErr: UInt16 = 1
    public static let servFail: UInt16 = 2
    public static let nxDomain: UInt16 = 3
    public static let notImp: UInt16 = 4
    public static let refused: UInt16 = 5
    public static let badVers: UInt16 = 16
}

/// EDNS option codes (RFC 6891 §6.1.2; NSID RFC 5001).
public enum EDNSOptionCode {
    public static let nsid: UInt16 = 3
    /// Padding (RFC 7830).
    public static let padding: UInt16 = 12
}

/// Header flag bits in the second 16-bit word (RFC 1035 §4.1.1, RFC 4035 §3.2 for AD/CD).
public enum DNSFlags {
    public static let qr: UInt16 = 0x8000
    public static let opcodeMask: UInt16 = 0x7800
    public static let aa: UInt16 = 0x0400
    public static let tc: UInt16 = 0x0200
    public static let rd: UInt16 = 0x0100
    public static let ra: UInt16 = 0x0080
    public static let ad: UInt16 = 0x0020
    public static let cd: UInt16 = 0x0010
    public static let rcodeMask: UInt16 = 0x000F
}
