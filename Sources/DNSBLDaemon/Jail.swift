#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CJail
import DNSBLServer
import Logging

/// The process's confinement, in rbldnsd's order: the user and group are looked up before a
/// chroot hides /etc/passwd; with `--chroot` the pid file is written before it (its path is
/// outside the jail, and it is left at exit), otherwise after binding (still privileged, so it
/// can live in /run) and removed at exit; privileges are dropped after binding.
struct Jail {
    let options: DaemonOptions
    let logger: Logger
    let ids: (uid: uid_t?, gid: gid_t?)

    /// Resolves `--user`/`--group`.
    /// - Throws: ``StartFailure`` for an unknown user or group.
    init(_ options: DaemonOptions, logger: Logger) throws(StartFailure) {
        self.options = options
        self.logger = logger
        do { ids = try Privileges.resolve(user: options.user, group: options.group) } catch {
            throw StartFailure("cannot drop privileges", ["reason": "\(error)"])
        }
    }

    /// Pid file (with `--chroot`), chroot, working directory.
    /// - Throws: ``StartFailure`` naming the directory and errno.
    func enter() throws(StartFailure) {
        if let pidFile = options.pidFile, options.chroot != nil { writePidFile(pidFile) }
        if let chroot = options.chroot {
            // libdispatch (where Swift tasks run on Linux) reads /proc/<tid>/stat of its workers
            // whenever work is waiting at its once-a-second look, and traps (SIGILL) when it
            // cannot: in a jail without /proc a loaded server died within seconds. A descriptor
            // of /proc kept from here serves those reads (Sources/CJail/jail.c).
            let keptProc = cjail_keep_proc()
            guard Glibc.chdir(chroot) == 0, Glibc.chroot(chroot) == 0, Glibc.chdir("/") == 0 else {
                throw StartFailure("cannot chroot", ["dir": "\(chroot)", "errno": "\(errno)"])
            }
            guard cjail_thread_stat_readable() == 1 else {
                throw StartFailure("chroot: /proc/<tid>/stat is not readable inside the jail; the task runtime (libdispatch) would trap under load. Mount proc at \(chroot)/proc or use --workdir", [
                    "dir": "\(chroot)", "kept-proc-fd": "\(keptProc)"])
            }
        }
        if let workdir = options.workdir {
            guard Glibc.chdir(workdir) == 0 else {
                throw StartFailure("cannot change directory", ["dir": "\(workdir)", "errno": "\(errno)"])
            }
        }
    }

    /// Without `--chroot`: writes the pid file and has `cleanup` remove it at exit.
    func writePidFileAfterBind(cleanup: Cleanup) {
        guard let pidFile = options.pidFile, options.chroot == nil else { return }
        writePidFile(pidFile)
        cleanup.add { unlink(pidFile) }
    }

    /// Switches to `--user`/`--group` (all threads).
    /// - Throws: ``StartFailure`` when the switch fails.
    func dropPrivileges() throws(StartFailure) {
        do { try Privileges.drop(uid: ids.uid, gid: ids.gid) } catch {
            throw StartFailure("cannot drop privileges", ["reason": "\(error)"])
        }
        if options.user != nil || options.group != nil {
            logger.info("privileges dropped", metadata: ["uid": "\(getuid())", "gid": "\(getgid())"])
        }
    }

    func writePidFile(_ path: String) {
        let text = "\(getpid())\n"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            logger.warning("cannot write pid file", metadata: ["path": "\(path)", "errno": "\(errno)"])
            return
        }
        _ = text.utf8CString.withUnsafeBytes { write(fd, $0.baseAddress, $0.count - 1) }
        close(fd)
    }
}
