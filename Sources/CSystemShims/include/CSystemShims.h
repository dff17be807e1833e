#ifndef CSYSTEMSHIMS_H
#define CSYSTEMSHIMS_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>

struct mmsghdr;
/// recvmmsg(2)/sendmmsg(2): glibc declares them only under _GNU_SOURCE, which Swift does not set.
int csys_recvmmsg(int fd, void *msgvec, unsigned int vlen, int flags);
int csys_sendmmsg(int fd, void *msgvec, unsigned int vlen, int flags);
/// sizeof(struct mmsghdr), for laying out batches from Swift.
size_t csys_mmsghdr_size(void);

/// A preallocated UDP batch: `count` receive slots of `query_capacity` bytes, `count` response
/// slots of `response_capacity` bytes, one peer address per slot, and the mmsghdr/iovec arrays
/// for recvmmsg and sendmmsg. Made once per serving thread and reused for every batch, so the
/// packet path allocates nothing.
typedef struct csys_udp_batch csys_udp_batch;

/// Allocates a batch; NULL when out of memory.
csys_udp_batch *csys_udp_batch_new(unsigned int count, size_t query_capacity, size_t response_capacity);
void csys_udp_batch_free(csys_udp_batch *batch);
/// Number of slots.
unsigned int csys_udp_batch_count(const csys_udp_batch *batch);
/// Receives up to `count` datagrams (MSG_WAITFORONE: blocks for the first, takes what else is
/// queued). Returns the number received, or -1 with errno set (EAGAIN on SO_RCVTIMEO expiry);
/// 0 once the socket is shut for reading (csys_shutdown_read) and drained.
int csys_udp_batch_recv(int fd, csys_udp_batch *batch);
/// Receive pacing: after a receive that emptied the socket (it filled fewer slots than there
/// are), while datagrams arrive at `min_rate` per second or more, the next receive first sleeps
/// until `wait_us` microseconds after the previous one returned, then takes everything that
/// arrived meanwhile in one call. Fewer, larger batches cost fewer system calls and wake-ups
/// per answer; a query waits at most `wait_us` longer. `wait_us` 0 = off (the default). Call
/// from the thread that receives: it also lowers that thread's timer slack to 5 µs.
void csys_udp_batch_set_wait(csys_udp_batch *batch, unsigned int wait_us, unsigned int min_rate);
/// Query bytes of slot `i` after a receive; `*length` = datagram length (capped at capacity),
/// `*truncated` = 1 when the datagram was larger than the slot.
const void *csys_udp_batch_query(const csys_udp_batch *batch, unsigned int i, size_t *length, int *truncated);
/// The response slot `i` and its capacity in bytes.
void *csys_udp_batch_response(csys_udp_batch *batch, unsigned int i, size_t *capacity);
/// The peer address of slot `i` (as received) and its length.
const struct sockaddr *csys_udp_batch_peer(const csys_udp_batch *batch, unsigned int i, socklen_t *length);
/// Queues response slot `i` (`length` bytes, to slot i's peer) as send entry `j` (j <= i).
void csys_udp_batch_queue(csys_udp_batch *batch, unsigned int j, unsigned int i, size_t length);
/// Sends queued entries 0..<n with sendmmsg, retrying after partial sends and skipping an entry
/// the kernel refuses (e.g. unreachable peer). Returns the number sent; never blocks forever
/// (the socket's SO_SNDTIMEO bounds it).
int csys_udp_batch_send(int fd, csys_udp_batch *batch, unsigned int n);

/// setsockopt wrappers whose option constants Swift cannot see reliably on every libc.
int csys_set_reuseport(int fd);
int csys_set_rcvbuf(int fd, int bytes);   /* tries SO_RCVBUFFORCE, then SO_RCVBUF */
int csys_get_rcvbuf(int fd);              /* effective size as reported by the kernel */
int csys_set_v6only(int fd);
int csys_set_timeouts(int fd, int rcv_ms, int snd_ms); /* 0 = no timeout */
/// shutdown(fd, SHUT_RD): wakes threads blocked receiving on `fd` (a UDP socket too, although
/// the call then reports ENOTCONN); they then read what is queued, then get 0-byte receives.
int csys_shutdown_read(int fd);
/// CPUs this process may run on (sched_getaffinity), or -1.
int csys_affinity_cpus(void);
/// malloc_trim(0): returns freed heap pages to the system; 1 when some were released.
int csys_malloc_trim(void);
/// Names the calling thread (shown by top -H, perf, gdb); at most 15 bytes.
void csys_set_thread_name(const char *name);
#endif
