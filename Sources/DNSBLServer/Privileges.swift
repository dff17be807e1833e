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
        let (uid, gid) = try resolve(user: user, group: group)
        try drop(uid: uid, gid: gid)
    }

    /// Looks the user and group up now (before a chroot hides /etc/passwd and /etc/group).
    /// - Throws: ``ServerError`` `.privileges` naming an unknown user or group.
    public static func resolve(user: String?, group: String?) throws(ServerError) -> (uid: uid_t?, gid: gid_t?) {
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
        return (uid, gid)
    }

    /// Switches to already resolved ids (see ``resolve(user:group:)``); nil = keep.
    /// - Throws: ``ServerError`` `.privileges` naming the failing call.
    public static func drop(uid: uid_t?, gid: gid_t?) throws(ServerError) {
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
