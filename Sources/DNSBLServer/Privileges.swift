#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Dropping root after the sockets are bound (a low port such as 53 needs root or
/// CAP_NET_BIND_SERVICE only for `bind`).
public enum Privileges {
    /// Switches to `group` (default: the user's primary group) and `user`, dropping supplementary
    /// groups; the order (groups, gid, uid) is the one that leaves no way back.
    /// - Throws: ``ServerError`` `.privileges` naming the user/group and the failing call.
    public static func drop(user: String?, group: String?) throws(ServerError) {
        guard user != nil || group != nil else { return }
        var uid: uid_t? = nil
        var gid: gid_t? = nil
        if let user {
            guard let pw = getpwnam(user) else { throw ServerError(.privileges, "unknown user '\(user)'") }
            uid = pw.pointee.pw_uid
            gid = pw.pointee.pw_gid
        }
        if let group {
            guard let gr = getgrnam(group) else { throw ServerError(.privileges, "unknown group '\(group)'") }
            gid = gr.pointee.gr_gid
        }
        if let gid {
            var g = gid
            if getuid() == 0 && setgroups(1, &g) != 0 {
                throw ServerError(.privileges, "setgroups(\(gid)): \(errnoText())")
            }
            if setgid(gid) != 0 { throw ServerError(.privileges, "setgid(\(gid)): \(errnoText())") }
        }
        if let uid {
            if setuid(uid) != 0 { throw ServerError(.privileges, "setuid(\(uid)): \(errnoText())") }
            if uid != 0 && setuid(0) == 0 {
                throw ServerError(.privileges, "could regain root after setuid(\(uid))")
            }
        }
    }
}
