#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <time.h>
#include <netinet/in.h>
#include "CSystemShims.h"

int csys_recvmmsg(int fd, void *msgvec, unsigned int vlen, int flags) {
    return recvmmsg(fd, (struct mmsghdr *)msgvec, vlen, flags, NULL);
}
int csys_sendmmsg(int fd, void *msgvec, unsigned int vlen, int flags) {
    return sendmmsg(fd, (struct mmsghdr *)msgvec, vlen, flags);
}
size_t csys_mmsghdr_size(void) { return sizeof(struct mmsghdr); }

struct csys_udp_batch {
    unsigned int count;
    unsigned int filled; /* slots the last receive wrote into */
    /* Receive pacing (csys_udp_batch_set_wait): 0 = off. */
    unsigned long long wait_ns, last_ns;
    double min_rate, rate;    /* datagrams per second: threshold, and the running estimate */
    size_t qcap, rcap;
    unsigned char *qbuf, *rbuf;
    struct sockaddr_storage *peers;
    struct iovec *riov, *siov;
    struct mmsghdr *rmsg, *smsg;
};

csys_udp_batch *csys_udp_batch_new(unsigned int count, size_t qcap, size_t rcap) {
    csys_udp_batch *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->count = count; b->qcap = qcap; b->rcap = rcap;
    b->qbuf = calloc(count, qcap);
    b->rbuf = calloc(count, rcap);
    b->peers = calloc(count, sizeof *b->peers);
    b->riov = calloc(count, sizeof *b->riov);
    b->siov = calloc(count, sizeof *b->siov);
    b->rmsg = calloc(count, sizeof *b->rmsg);
    b->smsg = calloc(count, sizeof *b->smsg);
    if (!b->qbuf || !b->rbuf || !b->peers || !b->riov || !b->siov || !b->rmsg || !b->smsg) {
        csys_udp_batch_free(b);
        return NULL;
    }
    for (unsigned int i = 0; i < count; i++) {
        b->riov[i].iov_base = b->qbuf + (size_t)i * b->qcap;
        b->riov[i].iov_len = b->qcap;
        struct msghdr *h = &b->rmsg[i].msg_hdr;
        h->msg_name = &b->peers[i];
        h->msg_namelen = sizeof b->peers[i];
        h->msg_iov = &b->riov[i];
        h->msg_iovlen = 1;
    }
    b->filled = 0;
    return b;
}

void csys_udp_batch_free(csys_udp_batch *b) {
    if (!b) return;
    free(b->qbuf); free(b->rbuf); free(b->peers); free(b->riov); free(b->siov);
    free(b->rmsg); free(b->smsg); free(b);
}

unsigned int csys_udp_batch_count(const csys_udp_batch *b) { return b->count; }

static unsigned long long mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

void csys_udp_batch_set_wait(csys_udp_batch *b, unsigned int wait_us, unsigned int min_rate) {
    b->wait_ns = (unsigned long long)wait_us * 1000ull;
    b->min_rate = min_rate;
    /* The default timer slack (50 µs) would stretch every short wait by up to that much. */
    if (wait_us > 0) prctl(PR_SET_TIMERSLACK, 5000UL, 0, 0, 0);
}

/* Before a receive: when the last one emptied the socket (it filled fewer slots than there
   are) while datagrams arrive at min_rate or more, sleep until wait_ns after it returned, so
   that this receive takes what arrived meanwhile in one call. */
static void pace(csys_udp_batch *b) {
    if (b->wait_ns == 0 || b->filled == 0 || b->filled >= b->count || b->rate < b->min_rate) return;
    unsigned long long until = b->last_ns + b->wait_ns;
    if (mono_ns() + 5000ull >= until) return; /* under 5 µs left: not worth a sleep */
    struct timespec ts = { (time_t)(until / 1000000000ull), (long)(until % 1000000000ull) };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
}

int csys_udp_batch_recv(int fd, csys_udp_batch *b) {
    pace(b);
    /* The kernel writes only msg_namelen, msg_flags (and msg_controllen) of the headers and
       msg_len of the slots it fills: restore those, not all `count` slots, per call. */
    for (unsigned int i = 0; i < b->filled; i++) {
        struct msghdr *h = &b->rmsg[i].msg_hdr;
        h->msg_namelen = sizeof b->peers[i];
        h->msg_controllen = 0;
        h->msg_flags = 0;
    }
    int n;
    do { n = recvmmsg(fd, b->rmsg, b->count, MSG_WAITFORONE, NULL); } while (n < 0 && errno == EINTR);
    b->filled = n > 0 ? (unsigned int)n : 0;
    /* After csys_shutdown_read the kernel reports "datagrams" of 0 bytes without a source
       address; they are not queries. */
    while (n > 0 && b->rmsg[n - 1].msg_len == 0 && b->rmsg[n - 1].msg_hdr.msg_namelen == 0) n--;
    if (b->wait_ns) {
        /* Arrival rate: datagrams over the time since the previous receive returned,
           smoothed over the last few receives. */
        unsigned long long now = mono_ns();
        if (n > 0 && b->last_ns) {
            double dt = (double)(now - b->last_ns);
            b->rate = 0.75 * b->rate + 0.25 * ((double)n * 1e9 / (dt > 1000.0 ? dt : 1000.0));
        } else {
            b->rate = 0;
        }
        b->last_ns = now;
    }
    return n;
}

const void *csys_udp_batch_query(const csys_udp_batch *b, unsigned int i, size_t *length, int *truncated) {
    size_t n = b->rmsg[i].msg_len;
    *truncated = (b->rmsg[i].msg_hdr.msg_flags & MSG_TRUNC) != 0 || n > b->qcap;
    *length = n > b->qcap ? b->qcap : n;
    return b->qbuf + (size_t)i * b->qcap;
}

void *csys_udp_batch_response(csys_udp_batch *b, unsigned int i, size_t *capacity) {
    *capacity = b->rcap;
    return b->rbuf + (size_t)i * b->rcap;
}

const struct sockaddr *csys_udp_batch_peer(const csys_udp_batch *b, unsigned int i, socklen_t *length) {
    *length = b->rmsg[i].msg_hdr.msg_namelen;
    return (const struct sockaddr *)&b->peers[i];
}

void csys_udp_batch_queue(csys_udp_batch *b, unsigned int j, unsigned int i, size_t length) {
    b->siov[j].iov_base = b->rbuf + (size_t)i * b->rcap;
    b->siov[j].iov_len = length;
    struct msghdr *h = &b->smsg[j].msg_hdr;
    h->msg_name = &b->peers[i];
    h->msg_namelen = b->rmsg[i].msg_hdr.msg_namelen;
    h->msg_iov = &b->siov[j];
    h->msg_iovlen = 1;
    h->msg_control = NULL;
    h->msg_controllen = 0;
    h->msg_flags = 0;
    b->smsg[j].msg_len = 0;
}

int csys_udp_batch_send(int fd, csys_udp_batch *b, unsigned int n) {
    unsigned int done = 0;
    int sent = 0;
    while (done < n) {
        int r = sendmmsg(fd, b->smsg + done, n - done, 0);
        if (r > 0) { done += (unsigned int)r; sent += r; continue; }
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) break;
        done += 1; /* this datagram was refused (e.g. ECONNREFUSED, EPERM): skip it */
    }
    return sent;
}

int csys_shutdown_read(int fd) {
    /* On an unconnected UDP socket this fails with ENOTCONN but still marks the socket shut
       for reading and wakes every thread blocked in a receive on it (Linux inet_shutdown). */
    return shutdown(fd, SHUT_RD);
}

int csys_set_reuseport(int fd) {
    int one = 1;
    return setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
}

int csys_set_rcvbuf(int fd, int bytes) {
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) == 0) return 0;
    return setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
}

int csys_get_rcvbuf(int fd) {
    int v = 0; socklen_t l = sizeof v;
    if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &l) != 0) return -1;
    return v;
}

int csys_set_v6only(int fd) {
    int one = 1;
    return setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
}

int csys_set_timeouts(int fd, int rcv_ms, int snd_ms) {
    struct timeval r = { rcv_ms / 1000, (rcv_ms % 1000) * 1000 };
    struct timeval s = { snd_ms / 1000, (snd_ms % 1000) * 1000 };
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &r, sizeof r) != 0) return -1;
    return setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &s, sizeof s);
}

#include <sched.h>
int csys_affinity_cpus(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return -1;
    return CPU_COUNT(&set);
}

#include <pthread.h>
void csys_set_thread_name(const char *name) { pthread_setname_np(pthread_self(), name); }

#include <malloc.h>
int csys_malloc_trim(void) { return malloc_trim(0); }
