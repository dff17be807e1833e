#ifndef CSYSTEMSHIMS_H
#define CSYSTEMSHIMS_H
#include <stddef.h>
#include <sys/types.h>
#include <sys/socket.h>

struct mmsghdr;
/// recvmmsg(2)/sendmmsg(2): glibc declares them only under _GNU_SOURCE, which Swift does not set.
int csys_recvmmsg(int fd, void *msgvec, unsigned int vlen, int flags);
int csys_sendmmsg(int fd, void *msgvec, unsigned int vlen, int flags);
/// sizeof(struct mmsghdr), for laying out batches from Swift.
size_t csys_mmsghdr_size(void);
#endif
