import CLDNS

/// Owning Swift face of libldns; ldns types never leak past this module.
public enum LDNSKit {
    /// The libldns version string, e.g. "1.8.3".
    public static var version: String { String(cString: ldns_version()) }
}
