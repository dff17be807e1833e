#ifndef CJAIL_H
#define CJAIL_H

/// Opens /proc (O_PATH) and keeps the descriptor, so that after chroot(2) the process can still
/// read /proc/<tid>/stat through this program's open(2) (see jail.c). Call it before the
/// chroot. Returns the descriptor, or -1 with errno set; on non-Linux systems, 0.
int cjail_keep_proc(void);

/// 1 when opening "/proc/<this thread's id>/stat" the way libdispatch does (its open(2), as the
/// dynamic linker bound it) succeeds now, else 0.
int cjail_thread_stat_readable(void);

#endif
