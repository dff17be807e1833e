#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DNSBLServer

/// Dropping root after the sockets are bound (a low port such as 53 needs root or
/// CAP_NET_BIND_SERVICE only for `bind`).
public enum Privileges {
    /// Switches to `group` (default: the user's primary group) and `user`, dropping supplementary
    /// groups; the order (groups, gid, uid) is the one that leaves no way back.
    /// - Throws: `DNSBLServer/ServerError` `.privileges` naming the user/group and the failing call.
    public static func drop(user: String?, group: String?) throws(ServerError) {
        let (uid, gid) = try resolve(user: user, group: group)
        try drop(uid: uid, gid: gid)
    }

    /// Looks the user and group up now (before a chroot hides /etc/passwd and /etc/group).
    /// - Throws: `DNSBLServer/ServerError` `.privileges` naming an unknown user or group.
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
    /// - Throws: `DNSBLServer/ServerError` `.privileges` naming the failing call.
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
            if let straggler = lastingStraggler(look: { threadStillRunningAs(notUID: uid) }) {
                throw ServerError(.privileges, "thread \(straggler) kept its old user after setuid(\(uid))")
            }
        }
    }


    /// glibc's setuid skips a thread that is exiting (nptl `setxid_mark_thread`): it keeps its
    /// old credentials, and /proc lists it, until it is gone, though it runs no more of our code.
    /// Under load the detached thread that built the first snapshot was sometimes still exiting,
    /// and `serve --user` refused to start. `look` returns a thread with the old user, or nil;
    /// a thread is reported only if one is still there after `timeout` seconds.
    static func lastingStraggler(timeout: Double = 2, look: () -> String?) -> String? {
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        while let thread = look() {
            if ContinuousClock.now >= deadline { return thread }
            usleep(5_000)
        }
        return nil
    }

    /// Linux credentials are per thread and glibc switches the others by signalling them; a thread
    /// it skips would stay privileged. Reads /proc/self/task/*/status and returns the id of a
    /// thread whose real, effective, saved or filesystem uid is not `uid`, or nil.
    static func threadStillRunningAs(notUID uid: uid_t) -> String? {
        guard let dir = opendir("/proc/self/task") else { return nil }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name.first?.isNumber == true,
                  let f = fopen("/proc/self/task/\(name)/status", "r") else { continue }
            defer { fclose(f) }
            var line = [CChar](repeating: 0, count: 256)
            while fgets(&line, Int32(line.count), f) != nil {
                let text = String(cString: line)
                guard text.hasPrefix("Uid:") else { continue }
                let ids = text.dropFirst(4).split(whereSeparator: { $0 == "\t" || $0 == " " || $0 == "\n" })
                if ids.contains(where: { $0 != "\(uid)" }) { return name }
            }
        }
        return nil
    }
}
