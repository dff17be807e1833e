#define _GNU_SOURCE
#include <sys/socket.h>
#include "CSystemShims.h"

int csys_recvmmsg(int fd, void *msgvec, unsigned int vlen, int flags) {
    return recvmmsg(fd, (struct mmsghdr *)msgvec, vlen, flags, NULL);
}
int csys_sendmmsg(int fd, void *msgvec, unsigned int vlen, int flags) {
    return sendmmsg(fd, (struct mmsghdr *)msgvec, vlen, flags);
}
size_t csys_mmsghdr_size(void) { return sizeof(struct mmsghdr); }
