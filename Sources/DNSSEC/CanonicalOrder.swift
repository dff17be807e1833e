extension CanonicalName {
    /// Canonical DNS name order (RFC 4034 §6.1): names compared label by label from the
    /// rightmost, each label as a left-justified unsigned octet string with upper-case ASCII
    /// letters taken as lower case; a label that is a prefix of another sorts first, and a
    /// name sorts before the names below it.
    /// - Parameters:
    ///   - a: an uncompressed wire-form name.
    ///   - b: another.
    /// - Returns: a negative number, 0 or a positive number as `a` sorts before, equal to or
    ///   after `b`.
    public static func compare(_ a: [UInt8], _ b: [UInt8]) -> Int {
        let la = labels(a), lb = labels(b)
        var i = la.count - 1, j = lb.count - 1
        while i >= 0 && j >= 0 {
            let x = la[i], y = lb[j]
            var p = x.startIndex, q = y.startIndex
            while p < x.endIndex && q < y.endIndex {
                let u = lower(x[p]), v = lower(y[q])
                if u != v { return Int(u) - Int(v) }
                p += 1; q += 1
            }
            if x.count != y.count { return x.count - y.count }
            i -= 1; j -= 1
        }
        return la.count - lb.count
    }

    /// Whether `a` sorts strictly before `b` in canonical order (``compare(_:_:)``).
    public static func precedes(_ a: [UInt8], _ b: [UInt8]) -> Bool { compare(a, b) < 0 }
}
