/*
 * loadgen — a batched DNS load generator for prefixbl benchmarks (loopback use).
 *
 * Build:  cc -O2 -Wall -o loadgen tools/loadgen.c        (tools/compare-rbldnsd.sh does this)
 *
 * Reads a dnsperf-style query file (`NAME TYPE` per line, `#` comments), builds the wire
 * queries once, and then, for a bounded duration:
 *   UDP, open loop  (-Q RATE): sends RATE queries/s on a fixed schedule whatever the server
 *                   does (answers never slow the sender down), batched with sendmmsg over
 *                   -c connected sockets, answers read with recvmmsg.
 *   UDP, max        (-Q 0):   keeps -w queries outstanding, as fast as the server answers.
 *   TCP, pipelined  (-T N):   N connections, each keeping -D length-prefixed queries in
 *                   flight (RFC 7766 §6.2.1.1); answers are matched by ID, any order.
 *   probe           (-P MS):  sends the first query every MS ms until it is answered NOERROR
 *                   with a non-empty ANSWER; prints the CLOCK_REALTIME of that answer, so a
 *                   script can compute time from server start to first answer.
 * Answers are matched by (socket, ID); a query unanswered after -t seconds (or when its ID
 * comes round again) is lost. Latency is measured per answer with 1 µs buckets.
 *
 * The last line of output is machine-readable:
 *   RESULT mode=udp sent=N answered=N lost=N loss_pct=X offered_qps=X qps=X mean_us=X p50_us=N
 *          p90_us=N p99_us=N p999_us=N max_us=N noerror=N nxdomain=N other_rcode=N late=N
 *          secs=X (sending time) cpu_s=X (this process's user+system CPU)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/prctl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXQ 300          /* bytes of one wire query (name ≤ 255 + header + question + OPT) */
#define MAXSOCK 64
#define MAXBATCH 256
#define HIST_US 2000000   /* latency buckets: 1 µs each up to 2 s */

typedef struct { uint16_t len; uint8_t wire[MAXQ]; } query_t;

static query_t *queries;
static size_t nqueries;
static uint32_t *hist;
static uint64_t hist_over, lat_max_us, lat_sum_ns;
static uint64_t rc_noerror, rc_nxdomain, rc_other, n_late;
static volatile sig_atomic_t stop_flag;

static void on_signal(int s) { (void)s; stop_flag = 1; }

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) { perror(what); exit(2); }

static int qtype_code(const char *t) {
    static const struct { const char *n; int c; } map[] = {
        {"A", 1}, {"NS", 2}, {"CNAME", 5}, {"SOA", 6}, {"PTR", 12}, {"MX", 15}, {"TXT", 16},
        {"AAAA", 28}, {"SRV", 33}, {"ANY", 255}, {"AXFR", 252}, {NULL, 0}};
    for (int i = 0; map[i].n; i++)
        if (strcasecmp(map[i].n, t) == 0) return map[i].c;
    if (strncasecmp(t, "TYPE", 4) == 0) return atoi(t + 4);
    return -1;
}

/* Encodes NAME TYPE into q; returns 0 or -1 for a name that cannot be a DNS name. */
static int build_query(query_t *q, const char *name, int qtype, int edns) {
    uint8_t *p = q->wire;
    memset(p, 0, 12);
    p[5] = 1; /* QDCOUNT 1; RD 0: an authoritative server is asked directly */
    if (edns) p[11] = 1;
    size_t o = 12;
    const char *s = name;
    if (strcmp(s, ".") == 0) s = "";
    while (*s) {
        const char *dot = strchr(s, '.');
        size_t l = dot ? (size_t)(dot - s) : strlen(s);
        if (l == 0 || l > 63 || o + l + 1 > 12 + 255) return -1;
        p[o++] = (uint8_t)l;
        memcpy(p + o, s, l);
        o += l;
        s += l;
        if (*s == '.') s++;
    }
    p[o++] = 0;
    p[o++] = (uint8_t)(qtype >> 8); p[o++] = (uint8_t)qtype;
    p[o++] = 0; p[o++] = 1; /* IN */
    if (edns) { /* OPT: root name, type 41, payload 1232, rcode/version/flags 0, no options */
        static const uint8_t opt[11] = {0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0};
        memcpy(p + o, opt, 11);
        o += 11;
    }
    q->len = (uint16_t)o;
    return 0;
}

static void load_queries(const char *path, int edns) {
    FILE *f = fopen(path, "r");
    if (!f) die(path);
    size_t cap = 1 << 16;
    queries = malloc(cap * sizeof(query_t));
    char line[1024], name[512], type[64];
    size_t lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (line[0] == '#' || line[0] == '\n') continue;
        int n = sscanf(line, "%511s %63s", name, type);
        if (n < 1) continue;
        int qt = n == 2 ? qtype_code(type) : 1;
        if (qt < 0) { fprintf(stderr, "%s:%zu: unknown type %s\n", path, lineno, type); exit(2); }
        if (nqueries == cap) { cap *= 2; queries = realloc(queries, cap * sizeof(query_t)); }
        if (build_query(&queries[nqueries], name, qt, edns) != 0) {
            fprintf(stderr, "%s:%zu: bad name %s\n", path, lineno, name);
            exit(2);
        }
        nqueries++;
    }
    fclose(f);
    if (!nqueries) { fprintf(stderr, "%s: no queries\n", path); exit(2); }
}

static void record_answer(const uint8_t *msg, size_t len, uint64_t sent_ns, uint64_t t) {
    uint64_t us = (t - sent_ns) / 1000;
    lat_sum_ns += t - sent_ns;
    if (us < HIST_US) hist[us]++; else hist_over++;
    if (us > lat_max_us) lat_max_us = us;
    int rc = len >= 4 ? (msg[3] & 0x0F) : -1;
    if (rc == 0) rc_noerror++; else if (rc == 3) rc_nxdomain++; else rc_other++;
}

static uint64_t percentile(uint64_t total, double p) {
    if (!total) return 0;
    uint64_t want = (uint64_t)((double)total * p);
    if (want >= total) want = total - 1;
    uint64_t acc = 0;
    for (uint64_t i = 0; i < HIST_US; i++) {
        acc += hist[i];
        if (acc > want) return i;
    }
    return lat_max_us;
}

/* user+system CPU this generator has used, seconds: tells what the load cost its own core */
static double self_cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void report(const char *mode, uint64_t sent, uint64_t answered, uint64_t lost,
                   double secs, double rate, int quiet) {
    uint64_t tot = answered;
    double loss = sent ? 100.0 * (double)lost / (double)sent : 0;
    uint64_t p50 = percentile(tot, 0.50), p90 = percentile(tot, 0.90);
    uint64_t p99 = percentile(tot, 0.99), p999 = percentile(tot, 0.999);
    if (!quiet) {
        printf("loadgen %s: %.2f s, sent %llu, answered %llu, lost %llu (%.4f%%), late %llu\n", mode,
               secs, (unsigned long long)sent, (unsigned long long)answered,
               (unsigned long long)lost, loss, (unsigned long long)n_late);
        printf("  offered %.0f qps (target %s), answered %.0f qps\n", (double)sent / secs,
               rate > 0 ? "fixed" : "max", (double)answered / secs);
        printf("  latency µs: mean %.1f  p50 %llu  p90 %llu  p99 %llu  p99.9 %llu  max %llu\n",
               tot ? (double)lat_sum_ns / 1e3 / (double)tot : 0.0, (unsigned long long)p50, (unsigned long long)p90, (unsigned long long)p99,
               (unsigned long long)p999, (unsigned long long)lat_max_us);
        printf("  rcodes: NOERROR %llu  NXDOMAIN %llu  other %llu\n",
               (unsigned long long)rc_noerror, (unsigned long long)rc_nxdomain,
               (unsigned long long)rc_other);
    }
    printf("RESULT mode=%s sent=%llu answered=%llu lost=%llu loss_pct=%.4f offered_qps=%.0f "
           "qps=%.0f mean_us=%.1f p50_us=%llu p90_us=%llu p99_us=%llu p999_us=%llu max_us=%llu noerror=%llu "
           "nxdomain=%llu other_rcode=%llu late=%llu secs=%.3f cpu_s=%.3f\n",
           mode, (unsigned long long)sent, (unsigned long long)answered,
           (unsigned long long)lost, loss, (double)sent / secs, (double)answered / secs,
           tot ? (double)lat_sum_ns / 1e3 / (double)tot : 0.0, (unsigned long long)p50, (unsigned long long)p90, (unsigned long long)p99,
           (unsigned long long)p999, (unsigned long long)lat_max_us,
           (unsigned long long)rc_noerror, (unsigned long long)rc_nxdomain,
           (unsigned long long)rc_other, (unsigned long long)n_late, secs, self_cpu_s());
    fflush(stdout);
}

static int udp_socket(const struct sockaddr_in *srv, int rcvbuf) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (fd < 0) die("socket");
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &rcvbuf, sizeof rcvbuf);
    if (connect(fd, (const struct sockaddr *)srv, sizeof *srv) != 0) die("connect");
    return fd;
}

/* ------------------------------------------------------------------------------ UDP */

typedef struct {
    int fd;
    uint64_t next;   /* sequence number of the next query on this socket; ID = next & 0xFFFF */
    uint64_t head;   /* oldest sequence number not yet answered or expired */
    uint64_t *sent;  /* [65536] send time (ns) of the query with that ID, 0 = none in flight */
} usock_t;

static uint64_t outstanding, answered, lost, sent_total;
static int window_set;

static void expire(usock_t *s, uint64_t t, uint64_t timeout_ns, int force_one) {
    while (s->head < s->next) {
        uint64_t *slot = &s->sent[s->head & 0xFFFF];
        if (*slot == 0) { s->head++; continue; }
        if (force_one || t - *slot > timeout_ns) {
            *slot = 0; lost++; outstanding--; s->head++; force_one = 0;
            continue;
        }
        break;
    }
}

/* Reads the answers waiting on the sockets ppoll marked readable (all of them when pfd is
 * NULL), then expires what waited longer than the timeout. One ppoll with a zero or short
 * timeout replaces a recvmmsg per socket: fewer system calls per answer for the generator. */
static void udp_recv_all(usock_t *socks, int nsock, uint64_t timeout_ns, const struct pollfd *pfd) {
    static struct mmsghdr mm[MAXBATCH];
    static struct iovec iov[MAXBATCH];
    static uint8_t buf[MAXBATCH][1500];
    for (int i = 0; i < MAXBATCH; i++) {
        iov[i].iov_base = buf[i]; iov[i].iov_len = sizeof buf[i];
        memset(&mm[i].msg_hdr, 0, sizeof mm[i].msg_hdr);
        mm[i].msg_hdr.msg_iov = &iov[i]; mm[i].msg_hdr.msg_iovlen = 1;
    }
    for (int k = 0; k < nsock; k++) {
        usock_t *s = &socks[k];
        if (pfd && !(pfd[k].revents & (POLLIN | POLLERR))) { expire(s, now_ns(), timeout_ns, 0); continue; }
        for (int rounds = 0; rounds < 16; rounds++) {
            int n = recvmmsg(s->fd, mm, 64, MSG_DONTWAIT, NULL);
            if (n <= 0) break;
            uint64_t t = now_ns();
            for (int i = 0; i < n; i++) {
                uint8_t *m = buf[i];
                size_t len = mm[i].msg_len;
                if (len < 12 || !(m[2] & 0x80)) continue;
                uint16_t id = (uint16_t)(m[0] << 8 | m[1]);
                uint64_t *slot = &s->sent[id];
                if (*slot == 0) { n_late++; continue; }
                record_answer(m, len, *slot, t);
                *slot = 0; answered++; outstanding--;
            }
            if (n < 64) break;
        }
        expire(s, now_ns(), timeout_ns, 0);
    }
}

static int run_udp(const struct sockaddr_in *srv, int nsock, double rate, double secs,
                   int window, int batch, double timeout, int quiet) {
    usock_t socks[MAXSOCK];
    for (int k = 0; k < nsock; k++) {
        socks[k].fd = udp_socket(srv, 8 << 20);
        socks[k].next = 0; socks[k].head = 0;
        socks[k].sent = calloc(65536, sizeof(uint64_t));
    }
    static struct mmsghdr mm[MAXBATCH];
    static struct iovec iov[MAXBATCH];
    static uint8_t sbuf[MAXBATCH][MAXQ];
    struct pollfd pfd[MAXSOCK];
    for (int k = 0; k < nsock; k++) { pfd[k].fd = socks[k].fd; pfd[k].events = POLLIN; }
    uint64_t timeout_ns = (uint64_t)(timeout * 1e9);
    uint64_t start = now_ns(), end = start + (uint64_t)(secs * 1e9);
    size_t qi = 0;
    int rr = 0;
    uint64_t behind_max = 0, last_expire = start;
    for (;;) {
        uint64_t t = now_ns();
        if (t >= end || stop_flag) break;
        int64_t todo;
        if (rate > 0) {
            uint64_t due = (uint64_t)((double)(t - start) * rate / 1e9) + 1;
            todo = (int64_t)due - (int64_t)sent_total;
            if (todo > 0 && (uint64_t)todo > behind_max) behind_max = (uint64_t)todo;
            /* -w with -Q caps what is in flight, as dnsperf -q does (no longer open loop) */
            if (window_set && todo > (int64_t)window - (int64_t)outstanding)
                todo = (int64_t)window - (int64_t)outstanding;
        } else {
            todo = (int64_t)window - (int64_t)outstanding;
        }
        /* send at most one batch per socket before reading, so answers are drained often */
        for (int b = 0; b < nsock && todo > 0; b++) {
            usock_t *s = &socks[rr];
            rr = (rr + 1) % nsock;
            int n = todo > batch ? batch : (int)todo;
            /* an ID about to come round again: whatever still waits on it is lost */
            while (s->next + (uint64_t)n - s->head > 65536) expire(s, t, timeout_ns, 1);
            for (int i = 0; i < n; i++) {
                const query_t *q = &queries[qi];
                qi = qi + 1 == nqueries ? 0 : qi + 1;
                uint64_t seq = s->next + (uint64_t)i;
                memcpy(sbuf[i], q->wire, q->len);
                sbuf[i][0] = (uint8_t)((seq >> 8) & 0xFF);
                sbuf[i][1] = (uint8_t)(seq & 0xFF);
                iov[i].iov_base = sbuf[i]; iov[i].iov_len = q->len;
                memset(&mm[i].msg_hdr, 0, sizeof mm[i].msg_hdr);
                mm[i].msg_hdr.msg_iov = &iov[i]; mm[i].msg_hdr.msg_iovlen = 1;
            }
            int m = sendmmsg(s->fd, mm, (unsigned)n, MSG_DONTWAIT);
            if (m < 0) {
                if (errno == EAGAIN || errno == ENOBUFS || errno == ECONNREFUSED) m = 0;
                else die("sendmmsg");
            }
            uint64_t ts = now_ns(); /* never 0, so sent[id] == 0 means "nothing in flight" */
            for (int i = 0; i < m; i++) s->sent[(s->next + (uint64_t)i) & 0xFFFF] = ts;
            s->next += (uint64_t)m;
            outstanding += (uint64_t)m; sent_total += (uint64_t)m;
            /* a query the kernel refused (full buffer) is not sent; re-send it later */
            qi = (qi + nqueries - (size_t)(n - m)) % nqueries;
            todo -= m;
            if (m < n) break;
        }
        /* wait until the next query is due or an answer arrives, then read what arrived */
        t = now_ns();
        uint64_t wait_ns = 1000000;
        if (rate > 0) {
            uint64_t next_due = start + (uint64_t)((double)(sent_total) * 1e9 / rate);
            wait_ns = next_due > t ? next_due - t : 0;
            if (wait_ns > 1000000) wait_ns = 1000000;
            if (window_set && outstanding >= (uint64_t)window) wait_ns = 1000000;
        } else if ((int64_t)window - (int64_t)outstanding > 0) {
            wait_ns = 0;
        }
        if (wait_ns < 5000) wait_ns = 0; /* below that, a sleep costs more than it saves */
        struct timespec ts = {0, (long)wait_ns};
        if (ppoll(pfd, (nfds_t)nsock, &ts, NULL) > 0) udp_recv_all(socks, nsock, timeout_ns, pfd);
        else if (t - last_expire > 1000000) {
            udp_recv_all(socks, nsock, timeout_ns, NULL);
            last_expire = t;
        }
    }
    uint64_t send_end = now_ns();
    /* drain: wait for answers to what is in flight, up to the timeout */
    uint64_t drain_end = send_end + timeout_ns;
    while (outstanding > 0 && now_ns() < drain_end && !stop_flag) {
        struct timespec ts = {0, 2000000};
        ppoll(pfd, (nfds_t)nsock, &ts, NULL);
        udp_recv_all(socks, nsock, timeout_ns, NULL);
    }
    lost += outstanding;
    outstanding = 0;
    double dur = (double)(send_end - start) / 1e9;
    if (!quiet && rate > 0 && behind_max > (uint64_t)(rate / 100))
        printf("  note: the sender fell behind its schedule by up to %llu queries\n",
               (unsigned long long)behind_max);
    report("udp", sent_total, answered, lost, dur, rate, quiet);
    return 0;
}

/* ------------------------------------------------------------------------------ TCP */

typedef struct {
    int fd;
    uint16_t next_id;
    int inflight;
    uint64_t *sent;        /* [65536] */
    uint8_t *in; size_t inlen;
    uint8_t *out; size_t outlen, outoff;
} tconn_t;

static int tcp_connect(const struct sockaddr_in *srv) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (const struct sockaddr *)srv, sizeof *srv) != 0) { close(fd); return -1; }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static void tcp_drop(tconn_t *c) {
    for (int i = 0; i < 65536; i++) if (c->sent[i]) { c->sent[i] = 0; lost++; outstanding--; }
    c->inflight = 0; c->inlen = 0; c->outlen = c->outoff = 0;
    close(c->fd);
    c->fd = -1;
}

static int run_tcp(const struct sockaddr_in *srv, int nconn, int depth, double secs,
                   double timeout, int quiet) {
    if (depth > 60000) depth = 60000;
    tconn_t *cs = calloc((size_t)nconn, sizeof *cs);
    struct pollfd *pfd = calloc((size_t)nconn, sizeof *pfd);
    size_t outcap = (size_t)depth * (MAXQ + 2);
    for (int k = 0; k < nconn; k++) {
        cs[k].fd = tcp_connect(srv);
        if (cs[k].fd < 0) die("tcp connect");
        cs[k].sent = calloc(65536, sizeof(uint64_t));
        cs[k].in = malloc(1 << 17);
        cs[k].out = malloc(outcap);
        cs[k].next_id = 1;
    }
    uint64_t timeout_ns = (uint64_t)(timeout * 1e9);
    uint64_t start = now_ns(), end = start + (uint64_t)(secs * 1e9);
    size_t qi = 0;
    uint64_t reconnects = 0;
    int sending = 1;
    for (;;) {
        uint64_t t = now_ns();
        if (sending && (t >= end || stop_flag)) sending = 0;
        if (!sending && (outstanding == 0 || t >= end + timeout_ns)) break;
        for (int k = 0; k < nconn; k++) {
            tconn_t *c = &cs[k];
            if (c->fd < 0) {
                if (!sending) continue;
                c->fd = tcp_connect(srv); reconnects++;
                if (c->fd < 0) continue;
            }
            if (sending && c->outlen == c->outoff) {
                c->outlen = c->outoff = 0;
                while (c->inflight < depth) {
                    const query_t *q = &queries[qi];
                    qi = qi + 1 == nqueries ? 0 : qi + 1;
                    uint16_t id = c->next_id;
                    while (c->sent[id]) id++;
                    c->next_id = (uint16_t)(id + 1);
                    uint8_t *p = c->out + c->outlen;
                    p[0] = (uint8_t)(q->len >> 8); p[1] = (uint8_t)q->len;
                    memcpy(p + 2, q->wire, q->len);
                    p[2] = (uint8_t)(id >> 8); p[3] = (uint8_t)id;
                    c->outlen += 2u + q->len;
                    c->sent[id] = t;
                    c->inflight++; outstanding++; sent_total++;
                }
            }
            if (c->outoff < c->outlen) {
                ssize_t w = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);
                if (w > 0) c->outoff += (size_t)w;
                else if (w < 0 && errno != EAGAIN) { tcp_drop(c); continue; }
            }
            pfd[k].fd = c->fd;
            pfd[k].events = POLLIN | (c->outoff < c->outlen ? POLLOUT : 0);
        }
        for (int k = 0; k < nconn; k++) if (cs[k].fd < 0) pfd[k].fd = -1;
        int pr = poll(pfd, (nfds_t)nconn, 5);
        if (pr < 0 && errno != EINTR) die("poll");
        t = now_ns();
        for (int k = 0; k < nconn; k++) {
            tconn_t *c = &cs[k];
            if (c->fd < 0 || !(pfd[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t r = read(c->fd, c->in + c->inlen, (1 << 17) - c->inlen);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN) continue;
                tcp_drop(c);
                continue;
            }
            c->inlen += (size_t)r;
            size_t off = 0;
            while (c->inlen - off >= 2) {
                size_t ml = (size_t)c->in[off] << 8 | c->in[off + 1];
                if (c->inlen - off < 2 + ml) break;
                uint8_t *m = c->in + off + 2;
                if (ml >= 12) {
                    uint16_t id = (uint16_t)(m[0] << 8 | m[1]);
                    if (c->sent[id]) {
                        record_answer(m, ml, c->sent[id], t);
                        c->sent[id] = 0; c->inflight--; answered++; outstanding--;
                    } else n_late++;
                }
                off += 2 + ml;
            }
            memmove(c->in, c->in + off, c->inlen - off);
            c->inlen -= off;
        }
    }
    uint64_t send_end = end < now_ns() ? end : now_ns();
    for (int k = 0; k < nconn; k++) if (cs[k].fd >= 0) tcp_drop(&cs[k]);
    if (!quiet)
        printf("loadgen tcp: %d connections × %d pipelined, %llu reconnects\n", nconn, depth,
               (unsigned long long)reconnects);
    report("tcp", sent_total, answered, lost, (double)(send_end - start) / 1e9, 0, quiet);
    return 0;
}

/* ------------------------------------------------------------------------------ probe */

static int run_probe(const struct sockaddr_in *srv, double interval_ms, double secs) {
    int fd = udp_socket(srv, 1 << 20);
    uint64_t start = now_ns(), end = start + (uint64_t)(secs * 1e9);
    uint16_t id = 1;
    uint8_t buf[1500];
    uint64_t tries = 0;
    while (now_ns() < end && !stop_flag) {
        uint8_t q[MAXQ];
        memcpy(q, queries[0].wire, queries[0].len);
        q[0] = (uint8_t)(id >> 8); q[1] = (uint8_t)id;
        send(fd, q, queries[0].len, 0);
        tries++;
        uint64_t until = now_ns() + (uint64_t)(interval_ms * 1e6);
        for (;;) {
            uint64_t t = now_ns();
            if (t >= until) break;
            struct pollfd p = {fd, POLLIN, 0};
            struct timespec ts = {0, (long)(until - t)};
            if (ppoll(&p, 1, &ts, NULL) <= 0) continue;
            ssize_t r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            if (r < 12 || buf[0] != q[0] || buf[1] != q[1]) continue;
            int rc = buf[3] & 0x0F, an = buf[6] << 8 | buf[7];
            if (rc == 0 && an > 0) {
                struct timespec rt;
                clock_gettime(CLOCK_REALTIME, &rt);
                printf("RESULT mode=probe answered=1 tries=%llu realtime_ns=%llu%09ld "
                       "waited_ms=%.3f\n", (unsigned long long)tries,
                       (unsigned long long)rt.tv_sec, rt.tv_nsec,
                       (double)(now_ns() - start) / 1e6);
                return 0;
            }
        }
        id = (uint16_t)(id + 1 ? id + 1 : 1);
    }
    printf("RESULT mode=probe answered=0 tries=%llu\n", (unsigned long long)tries);
    return 1;
}

static void usage(void) {
    fprintf(stderr,
            "usage: loadgen -p PORT -d QUERYFILE [-s 127.0.0.1] [-l SECONDS] [-Q RATE|0]\n"
            "               [-w WINDOW] [-c SOCKETS] [-b BATCH] [-t TIMEOUT_S] [-e] [-q]\n"
            "               [-T CONNECTIONS -D DEPTH] [-P INTERVAL_MS]\n"
            "  -Q RATE  open-loop queries/s; 0 = as fast as answers come, -w outstanding\n"
            "           (-w with -Q RATE also caps what is in flight, like dnsperf -q)\n"
            "  -e       add an EDNS0 OPT (payload 1232) to every query\n"
            "  -T N     TCP with N connections, -D queries pipelined on each\n"
            "  -P MS    probe: resend the first query every MS ms until answered NOERROR\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *server = "127.0.0.1", *file = NULL;
    int port = 0, nsock = 8, batch = 32, window = 2000, edns = 0, tcp = 0, depth = 100, quiet = 0;
    double secs = 10, rate = 0, timeout = 1.0, probe_ms = 0;
    int o;
    while ((o = getopt(argc, argv, "s:p:d:l:Q:w:c:b:t:eT:D:P:qh")) != -1) {
        switch (o) {
        case 's': server = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'd': file = optarg; break;
        case 'l': secs = atof(optarg); break;
        case 'Q': rate = atof(optarg); break;
        case 'w': window = atoi(optarg); window_set = 1; break;
        case 'c': nsock = atoi(optarg); break;
        case 'b': batch = atoi(optarg); break;
        case 't': timeout = atof(optarg); break;
        case 'e': edns = 1; break;
        case 'T': tcp = atoi(optarg); break;
        case 'D': depth = atoi(optarg); break;
        case 'P': probe_ms = atof(optarg); break;
        case 'q': quiet = 1; break;
        default: usage();
        }
    }
    if (!port || !file || nsock < 1 || nsock > MAXSOCK || batch < 1 || batch > MAXBATCH ||
        secs <= 0 || secs > 600 || window < 1)
        usage();
    struct sockaddr_in srv = {0};
    srv.sin_family = AF_INET;
    srv.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, server, &srv.sin_addr) != 1) { fprintf(stderr, "bad -s\n"); exit(2); }
    /* 1 µs timer slack: the open-loop schedule sleeps in steps of a few µs */
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    load_queries(file, edns);
    hist = calloc(HIST_US, sizeof *hist);
    if (probe_ms > 0) return run_probe(&srv, probe_ms, secs);
    if (tcp > 0) return run_tcp(&srv, tcp, depth, secs, timeout, quiet);
    return run_udp(&srv, nsock, rate, secs, window, batch, timeout, quiet);
}
