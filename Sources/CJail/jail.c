/* libdispatch on Linux runs its own thread pool for the global queues (Swift tasks run there).
   Once a second a monitor looks at every queue that has work waiting; for such a queue it opens
   /proc/<tid>/stat of each worker thread to count the runnable ones, and when that open fails it
   traps (DISPATCH_CLIENT_CRASH "workq: registered worker exited prematurely": SIGILL, no
   message in release builds). After chroot(2) into a directory without a mounted /proc the open
   always fails, so a jailed server died as soon as that look found work waiting, which on a
   loaded machine (workers runnable but not running) happens within seconds and on an idle one
   almost never (swift-corelibs-libdispatch src/event/workqueue.c,
   _dispatch_workq_count_runnable_workers).

   This file defines open(2) in the executable, which the dynamic linker then binds every shared
   library's open to (libdispatch imports `open`). Paths of the form /proc/<digits>/stat are
   opened relative to a descriptor of /proc kept from before the chroot; everything else goes to
   openat(AT_FDCWD, ...), which is what glibc's open does. Only that one form is let through: the
   jail still hides the rest of /proc from paths. */
#undef _FORTIFY_SOURCE
#undef _FILE_OFFSET_BITS
#define _GNU_SOURCE
#include "CJail.h"

#if defined(__linux__)
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static _Atomic int kept_proc = -1;

int cjail_keep_proc(void) {
    int fd = openat(AT_FDCWD, "/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int old = atomic_exchange(&kept_proc, fd);
    if (old >= 0) close(old);
    return fd;
}

/* "/proc/<digits>/stat" -> "<digits>/stat"; anything else -> NULL. */
static const char *thread_stat(const char *path) {
    if (strncmp(path, "/proc/", 6) != 0) return NULL;
    const char *digits = path + 6, *p = digits;
    while (*p >= '0' && *p <= '9') p++;
    if (p == digits || strcmp(p, "/stat") != 0) return NULL;
    return digits;
}

int open(const char *path, int flags, ...) {
    int mode = 0;
    /* glibc's __OPEN_NEEDS_MODE */
    if ((flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, int);
        va_end(ap);
    }
    int proc = atomic_load_explicit(&kept_proc, memory_order_acquire);
    if (proc >= 0) {
        const char *rest = thread_stat(path);
        if (rest != NULL) return openat(proc, rest, flags, (mode_t)mode);
    }
    return openat(AT_FDCWD, path, flags, (mode_t)mode);
}

int cjail_thread_stat_readable(void) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)syscall(SYS_gettid));
    /* The definition the dynamic linker hands out for `open`: ours when the executable exports
       it (it does when a linked shared library such as libdispatch refers to it). */
    int (*bound)(const char *, int, ...) = (int (*)(const char *, int, ...))dlsym(RTLD_DEFAULT, "open");
    if (bound == NULL) return 0;
    int fd = bound(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return 0;
    close(fd);
    return 1;
}

#else
int cjail_keep_proc(void) { return 0; }
int cjail_thread_stat_readable(void) { return 1; }
#endif
