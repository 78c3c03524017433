/*
 * tapscope-receive: the cloud-TAP receive path (issue 13). It binds the collector's UDP
 * ports (VXLAN 4789, GENEVE 6081, TZSP 37008 or any other), reads them with recvmmsg in
 * batches, and writes each datagram to stdout as a PACKET message of the capture helper's
 * framing (main/capture/framing.ts), with outer headers synthesised exactly as the Node
 * receiver does (udp-receiver.ts):
 *   Ethernet(14, zero MACs) | IPv4 (or IPv6) sender -> listening address | UDP sender port -> our port | datagram
 * and the kernel's receive timestamp (SO_TIMESTAMPNS). No privileges needed; as root (or
 * with CAP_NET_ADMIN) the socket buffer is forced beyond net.core.rmem_max (SO_RCVBUFFORCE), and
 * (root or CAP_SYS_NICE) the program runs at nice -10, ahead of the analysis.
 *
 * It is a process of its own so that reading the sockets never waits for the analysis: the
 * datagrams go into a bounded queue of 1 MiB blocks (-q BYTES, default 256 MiB, taken only
 * while the analysis lags and given back after) drained to the non-blocking
 * pipe whenever it can take more; when the queue is full a datagram is dropped and counted
 * (droppedByApp), never blocking the sockets.
 *
 *   tapscope-receive -u PORT [-u PORT]... [-a ADDRESS] [-b RCVBUF] [-q QUEUE] [-s SNAPLEN] [-t STATS_MS]
 *
 * Messages: READY {"backend","address","ports":[...],"receiveBuffer","receiveBufferForced","batch","queueBytes","snaplen","nice"}
 * once bound; PACKET per datagram; STATS every STATS_MS:
 *   f64 received (datagrams read) | f64 droppedByKernel (socket drops, SO_MEMINFO) | f64 0 |
 *   f64 droppedByApp (queue full) | f64 truncated (datagrams longer than SNAPLEN, cut)
 * ERROR {"code","message"} and END {"reason"} last. It stops when stdin ends or says "stop",
 * on SIGINT/SIGTERM (reading what the sockets already hold first), or when a specific
 * listening address disappears from the host; exit 0 after a stop, 2 after an error, 64 on
 * a usage error.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/sock_diag.h>
#endif
#include "args.h"
#include "frame-msg.h"
#include "run-control.h"

#define MSG_PACKET FRAME_PACKET
#define MSG_READY FRAME_READY
#define MSG_ERROR FRAME_ERROR
#define MSG_END FRAME_END
#define MSG_HDR FRAME_HDR
#define PACKET_HDR 16
#define ETH_HDR 14
#define IP4_HDR 20
#define IP6_HDR 40
#define UDP_HDR 8
#define MAX_PORTS 16
#define VLEN 64           /* datagrams per recvmmsg */
#define ROUNDS 16         /* recvmmsg calls per socket before the pipe gets a turn */
#define BLOCK (1 << 20)   /* queue block */
#define MAX_DGRAM 65535
#define RAISED_NICE -10

static void put16be(uint8_t *b, unsigned v) { b[0] = (uint8_t)(v >> 8); b[1] = (uint8_t)v; }
#define put32 frame_put32

/* ---- the bounded output queue ---------------------------------------------------------- */

typedef struct block { struct block *next; size_t used, sent; uint8_t data[BLOCK]; } block_t;
static block_t *q_head, *q_tail, *q_free;
static size_t q_blocks, q_max_blocks, q_spare;
/* Written blocks kept for reuse; beyond these they go back to the system, so the memory a
 * burst took is returned once the analysis has caught up. */
#define SPARE_BLOCKS 8

/* Room for n contiguous bytes at the queue's tail, or NULL when the queue is full (force:
 * control messages, which are never dropped, may exceed the bound by a block). */
static uint8_t *q_reserve(size_t n, int force) {
  if (q_tail && BLOCK - q_tail->used >= n) return q_tail->data + q_tail->used;
  if (q_blocks >= q_max_blocks + (force ? 1 : 0)) return NULL;
  block_t *b = q_free;
  if (b) { q_free = b->next; q_spare--; }
  else if (!(b = malloc(sizeof *b))) return NULL;
  b->next = NULL;
  b->used = b->sent = 0;
  if (q_tail) q_tail->next = b;
  else q_head = b;
  q_tail = b;
  q_blocks++;
  return b->data;
}

static void q_commit(size_t n) { q_tail->used += n; }
static int q_empty(void) { return !q_head || (q_head == q_tail && q_head->sent == q_head->used); }

/* Writes what the pipe takes; 0 when it would block or the queue is empty. Exits quietly
 * when the reader is gone. */
static void q_drain(void) {
  while (q_head) {
    block_t *b = q_head;
    if (b->sent < b->used) {
      ssize_t w = write(1, b->data + b->sent, b->used - b->sent);
      if (w < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        _exit(0); /* EPIPE: the parent went away */
      }
      b->sent += (size_t)w;
      continue;
    }
    if (b == q_tail) { b->used = b->sent = 0; return; }
    q_head = b->next;
    q_blocks--;
    if (q_spare < SPARE_BLOCKS) { b->next = q_free; q_free = b; q_spare++; }
    else free(b);
  }
}

/* Blocks until the queue is written out (at the end). */
static void q_flush(void) {
  int fl = fcntl(1, F_GETFL);
  if (fl >= 0) fcntl(1, F_SETFL, fl & ~O_NONBLOCK);
  q_drain();
}

/* ---- control messages ------------------------------------------------------------------ */

static void send_json(int type, const char *j, size_t n) {
  uint8_t *b = q_reserve(MSG_HDR + n, 1);
  if (!b) return;
  frame_header(b, MSG_HDR + n, type);
  memcpy(b + MSG_HDR, j, n);
  q_commit(MSG_HDR + n);
}

static void send_stats(const double v[5]) {
  uint8_t *b = q_reserve(MSG_HDR + 40, 1);
  if (b) q_commit(frame_stats(b, v, 5));
}

static void send_error(const char *code, const char *message) {
  char j[600];
  send_json(MSG_ERROR, j, frame_error_json(j, sizeof j, code, message));
}

static void send_end(const char *reason) {
  char j[64];
  send_json(MSG_END, j, frame_end_json(j, sizeof j, reason));
}

/* ---- sockets --------------------------------------------------------------------------- */

typedef struct {
  int fd;
  unsigned port;
  uint32_t ovfl; /* SO_RXQ_OVFL: the socket's drop count as of the last datagram */
} rx_t;

static int v6;                    /* listening on IPv6 */
static uint8_t local4[4], local6[16];

/* Drops the kernel counted on the socket (sk_drops): SO_MEMINFO, else the last SO_RXQ_OVFL. */
static double socket_drops(const rx_t *r) {
#if defined(SO_MEMINFO) && defined(__linux__)
  uint32_t mem[SK_MEMINFO_VARS];
  socklen_t len = sizeof mem;
  if (getsockopt(r->fd, SOL_SOCKET, SO_MEMINFO, mem, &len) == 0 && len > SK_MEMINFO_DROPS * sizeof(uint32_t))
    return mem[SK_MEMINFO_DROPS] > r->ovfl ? mem[SK_MEMINFO_DROPS] : r->ovfl;
#endif
  return r->ovfl;
}

/* Is the listening address still assigned to an interface of this host? */
static int address_present(void) {
  struct ifaddrs *ifa, *i;
  int found = 0;
  if (getifaddrs(&ifa) != 0) return 1; /* cannot tell: assume so */
  for (i = ifa; i && !found; i = i->ifa_next) {
    if (!i->ifa_addr) continue;
    if (!v6 && i->ifa_addr->sa_family == AF_INET)
      found = !memcmp(&((struct sockaddr_in *)i->ifa_addr)->sin_addr, local4, 4);
    if (v6 && i->ifa_addr->sa_family == AF_INET6)
      found = !memcmp(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, local6, 16);
  }
  freeifaddrs(ifa);
  return found;
}

/* One datagram as a PACKET message: synthesised outer headers, then the datagram (cut at
 * snaplen). Returns 0, or -1 when the queue is full. */
static int emit(const rx_t *r, const struct sockaddr_storage *from, const struct timespec *ts,
                const uint8_t *d, size_t len, size_t caplen) {
  int from4 = from->ss_family == AF_INET;
  const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)from;
  const uint8_t *src6 = s6->sin6_addr.s6_addr;
  /* An IPv6 socket hears IPv4 senders as ::ffff:a.b.c.d: those get an IPv4 header. */
  int mapped = !from4 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr);
  int ip4 = from4 || mapped;
  size_t ip_hdr = ip4 ? IP4_HDR : IP6_HDR, hdr = ETH_HDR + ip_hdr + UDP_HDR;
  size_t msg = MSG_HDR + PACKET_HDR + hdr + caplen;
  uint8_t *b = q_reserve(msg, 0);
  if (!b) return -1;
  put32(b, (uint32_t)msg);
  put32(b + 4, MSG_PACKET);
  put32(b + 8, (uint32_t)ts->tv_sec);
  put32(b + 12, (uint32_t)ts->tv_nsec);
  put32(b + 16, (uint32_t)(hdr + caplen));
  put32(b + 20, (uint32_t)(hdr + len));
  uint8_t *e = b + MSG_HDR + PACKET_HDR;
  memset(e, 0, 12);
  put16be(e + 12, ip4 ? 0x0800 : 0x86dd);
  uint8_t *ip = e + ETH_HDR;
  unsigned sport;
  if (ip4) {
    memset(ip, 0, IP4_HDR);
    ip[0] = 0x45;
    put16be(ip + 2, (IP4_HDR + UDP_HDR + len) > 0xffff ? 0xffff : (unsigned)(IP4_HDR + UDP_HDR + len));
    ip[6] = 0x40; /* DF, id 0 */
    ip[8] = 64;
    ip[9] = 17;
    if (from4) memcpy(ip + 12, &((const struct sockaddr_in *)from)->sin_addr, 4), sport = ntohs(((const struct sockaddr_in *)from)->sin_port);
    else memcpy(ip + 12, src6 + 12, 4), sport = ntohs(s6->sin6_port);
    if (!v6) memcpy(ip + 16, local4, 4); /* an IPv6 listener's own IPv4 address: 0.0.0.0 */
    uint32_t sum = 0;
    for (int i = 0; i < IP4_HDR; i += 2) sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
    put16be(ip + 10, ~sum & 0xffff);
  } else {
    memset(ip, 0, IP6_HDR);
    ip[0] = 0x60;
    put16be(ip + 4, (unsigned)((UDP_HDR + len) & 0xffff));
    ip[6] = 17;
    ip[7] = 64;
    memcpy(ip + 8, src6, 16);
    memcpy(ip + 24, local6, 16);
    sport = ntohs(s6->sin6_port);
  }
  uint8_t *u = ip + ip_hdr;
  put16be(u, sport);
  put16be(u + 2, r->port);
  put16be(u + 4, (UDP_HDR + len) > 0xffff ? 0xffff : (unsigned)(UDP_HDR + len));
  put16be(u + 6, 0);
  memcpy(u + UDP_HDR, d, caplen);
  q_commit(msg);
  return 0;
}

static int usage(const char *why) {
  fprintf(stderr, "tapscope-receive: %s (usage: tapscope-receive -u PORT [-u PORT]... [-a ADDRESS] [-b RCVBUF] [-q QUEUE] [-s SNAPLEN] [-t STATS_MS])\n", why);
  return 64;
}

/* Binds one port with the buffer asked for; -1 with code/err set. */
static int open_socket(rx_t *r, const char *address, long rcvbuf, int *forced, int *obtained, const char **code, char *err, size_t errlen) {
  struct sockaddr_storage ss;
  socklen_t sl;
  memset(&ss, 0, sizeof ss);
  if (v6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    memcpy(&a->sin6_addr, local6, 16);
    a->sin6_port = htons((uint16_t)r->port);
    sl = sizeof *a;
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    memcpy(&a->sin_addr, local4, 4);
    a->sin_port = htons((uint16_t)r->port);
    sl = sizeof *a;
  }
  r->fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (r->fd < 0) { *code = "EIO"; snprintf(err, errlen, "socket: %s", strerror(errno)); return -1; }
  int one = 1, size = (int)rcvbuf;
  /* As root (CAP_NET_ADMIN) the buffer may exceed net.core.rmem_max; else the kernel caps it. */
  *forced = setsockopt(r->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) == 0;
  if (!*forced) setsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  socklen_t ol = sizeof *obtained;
  getsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, obtained, &ol);
  setsockopt(r->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
  setsockopt(r->fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
  if (bind(r->fd, (struct sockaddr *)&ss, sl) != 0) {
    int e = errno;
    *code = e == EADDRINUSE ? "EADDRINUSE" : e == EACCES ? "EPERM" : e == EADDRNOTAVAIL ? "EADDRNOTAVAIL" : "EIO";
    if (e == EADDRINUSE) snprintf(err, errlen, "UDP port %u is already in use on %s (another collector running?)", r->port, address);
    else if (e == EACCES) snprintf(err, errlen, "no permission to listen on UDP port %u; ports below 1024 need privileges", r->port);
    else if (e == EADDRNOTAVAIL) snprintf(err, errlen, "cannot listen on %s: that address is not on any interface of this host", address);
    else snprintf(err, errlen, "cannot listen on %s port %u: %s", address, r->port, strerror(e));
    return -1;
  }
  struct sockaddr_storage bound;
  socklen_t bl = sizeof bound;
  if (getsockname(r->fd, (struct sockaddr *)&bound, &bl) == 0)
    r->port = ntohs(v6 ? ((struct sockaddr_in6 *)&bound)->sin6_port : ((struct sockaddr_in *)&bound)->sin_port);
  return 0;
}

/* Reads a socket until it is empty or ROUNDS batches were read; counts into st. Returns the
 * datagrams read, or -1 on a socket error. */
static struct mmsghdr mm[VLEN];
static struct iovec iov[VLEN];
static struct sockaddr_storage from[VLEN];
static char ctl[VLEN][CMSG_SPACE(sizeof(struct timespec)) + CMSG_SPACE(sizeof(uint32_t))];
static uint8_t *dgram;

static int read_socket(rx_t *r, size_t snaplen, double st[5]) {
  int total = 0;
  for (int round = 0; round < ROUNDS; round++) {
    for (int i = 0; i < VLEN; i++) {
      iov[i].iov_base = dgram + (size_t)i * snaplen;
      iov[i].iov_len = snaplen;
      memset(&mm[i].msg_hdr, 0, sizeof mm[i].msg_hdr);
      mm[i].msg_hdr.msg_name = &from[i];
      mm[i].msg_hdr.msg_namelen = sizeof from[i];
      mm[i].msg_hdr.msg_iov = &iov[i];
      mm[i].msg_hdr.msg_iovlen = 1;
      mm[i].msg_hdr.msg_control = ctl[i];
      mm[i].msg_hdr.msg_controllen = sizeof ctl[i];
    }
    /* MSG_TRUNC: msg_len is the datagram's real length even when it was cut at snaplen. */
    int n = recvmmsg(r->fd, mm, VLEN, MSG_DONTWAIT | MSG_TRUNC, NULL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return total;
      return -1;
    }
    for (int i = 0; i < n; i++) {
      struct timespec ts = { 0, 0 };
      for (struct cmsghdr *c = CMSG_FIRSTHDR(&mm[i].msg_hdr); c; c = CMSG_NXTHDR(&mm[i].msg_hdr, c)) {
        if (c->cmsg_level != SOL_SOCKET) continue;
        if (c->cmsg_type == SCM_TIMESTAMPNS) memcpy(&ts, CMSG_DATA(c), sizeof ts);
        else if (c->cmsg_type == SO_RXQ_OVFL) memcpy(&r->ovfl, CMSG_DATA(c), sizeof r->ovfl);
      }
      if (ts.tv_sec == 0) clock_gettime(CLOCK_REALTIME, &ts);
      size_t len = mm[i].msg_len, caplen = len;
      if (len > snaplen || (mm[i].msg_hdr.msg_flags & MSG_TRUNC)) { caplen = len < snaplen ? len : snaplen; st[4]++; }
      st[0]++;
      if (emit(r, &from[i], &ts, iov[i].iov_base, len, caplen) < 0) st[3]++;
    }
    total += n;
    if (n < VLEN) return total;
  }
  return total;
}

int main(int argc, char **argv) {
  const char *address = "0.0.0.0";
  long rcvbuf = 64L << 20, queue = 256L << 20, snaplen = MAX_DGRAM, stats_ms = 250, v;
  rx_t rx[MAX_PORTS];
  int nrx = 0, opt;
  opterr = 0;
  while ((opt = getopt(argc, argv, "u:a:b:q:s:t:")) != -1) {
    switch (opt) {
      case 'u':
        if (nrx >= MAX_PORTS) return usage("too many ports");
        if (long_arg(optarg, 0, 65535, &v) < 0) return usage("bad port");
        rx[nrx].port = (unsigned)v; rx[nrx].ovfl = 0; rx[nrx].fd = -1; nrx++;
        break;
      case 'a': address = optarg; break;
      case 'b': if (long_arg(optarg, 4096, 1L << 30, &rcvbuf) < 0) return usage("bad receive buffer (4096 to 2^30 bytes)"); break;
      case 'q': if (long_arg(optarg, BLOCK, 1L << 34, &queue) < 0) return usage("bad queue size (1 MiB to 16 GiB)"); break;
      case 's': if (long_arg(optarg, 64, MAX_DGRAM, &snaplen) < 0) return usage("bad snap length (64 to 65535)"); break;
      case 't': if (long_arg(optarg, 10, 60000, &stats_ms) < 0) return usage("bad stats interval (10 to 60000 ms)"); break;
      default: return usage("unknown option");
    }
  }
  if (optind < argc) return usage("unexpected argument");
  if (nrx == 0) return usage("no port (-u)");
  if (inet_pton(AF_INET, address, local4) == 1) v6 = 0;
  else if (inet_pton(AF_INET6, address, local6) == 1) v6 = 1;
  else return usage("bad listening address");
  q_max_blocks = (size_t)(queue / BLOCK);

  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
#ifdef F_SETPIPE_SZ
  fcntl(1, F_SETPIPE_SZ, 1 << 20); /* fewer, larger writes; the limit is fs.pipe-max-size */
#endif
  int fl = fcntl(1, F_GETFL);
  if (fl >= 0) fcntl(1, F_SETFL, fl | O_NONBLOCK);

  double st[5] = { 0, 0, 0, 0, 0 };
  char err[300];
  const char *code = NULL;
  int forced = 0, obtained = 0;
  dgram = malloc((size_t)VLEN * (size_t)snaplen);
  if (!dgram) { code = "EIO"; snprintf(err, sizeof err, "out of memory"); }
  for (int i = 0; i < nrx && !code; i++)
    if (open_socket(&rx[i], address, rcvbuf, &forced, &obtained, &code, err, sizeof err) < 0) break;
  if (code) {
    send_stats(st);
    send_error(code, err);
    send_end("error");
    q_flush();
    return 2;
  }
  /* Reading the sockets goes before the analysis (which has the queue to absorb a delay): ask
   * for a higher priority; only root or CAP_SYS_NICE gets it, and without it nothing changes. */
  errno = 0;
  if (setpriority(PRIO_PROCESS, 0, RAISED_NICE) != 0) errno = 0;
  int nice_now = getpriority(PRIO_PROCESS, 0);
  /* A specific address is watched: if its interface goes away the feed has ended. */
  int watch = !address_present() ? 0 : (v6 ? !IN6_IS_ADDR_UNSPECIFIED((struct in6_addr *)local6) : (local4[0] | local4[1] | local4[2] | local4[3]) != 0);

  char j[512];
  size_t n = (size_t)snprintf(j, sizeof j, "{\"backend\":\"tapscope-receive\",\"address\":");
  n = json_str(j, n, 200, address);
  n += (size_t)snprintf(j + n, sizeof j - n, ",\"ports\":[");
  for (int i = 0; i < nrx; i++) n += (size_t)snprintf(j + n, sizeof j - n, "%s%u", i ? "," : "", rx[i].port);
  n += (size_t)snprintf(j + n, sizeof j - n, "],\"receiveBuffer\":%d,\"receiveBufferForced\":%s,\"batch\":%d,\"queueBytes\":%ld,\"snaplen\":%ld,\"nice\":%d}",
                        obtained, forced ? "true" : "false", VLEN, queue, snaplen, nice_now);
  send_json(MSG_READY, j, n);
  q_drain();

  int stdin_open = 1, stopping = 0, failed = 0;
  long long next_stats = now_ms() + stats_ms;
  struct pollfd pfd[MAX_PORTS + 2];
  for (;;) {
    if (stop_signal) stopping = 1;
    if (stopping) break;
    int np = 0;
    for (int i = 0; i < nrx; i++) pfd[np++] = (struct pollfd){ rx[i].fd, POLLIN, 0 };
    int out_at = np, in_at = -1;
    pfd[np++] = (struct pollfd){ 1, q_empty() ? 0 : POLLOUT, 0 };
    if (stdin_open) { in_at = np; pfd[np++] = (struct pollfd){ 0, POLLIN, 0 }; }
    long long t = now_ms();
    int wait = (int)(next_stats - t);
    if (wait < 0) wait = 0;
    int pr = poll(pfd, (nfds_t)np, wait);
    if (pr < 0 && errno != EINTR) { code = "EIO"; snprintf(err, sizeof err, "poll: %s", strerror(errno)); failed = 1; break; }
    /* The sockets first: their buffer is what the kernel drops from. */
    for (int i = 0; i < nrx; i++) {
      if (pr > 0 && !(pfd[i].revents & (POLLIN | POLLERR))) continue;
      if (read_socket(&rx[i], (size_t)snaplen, st) < 0) {
        code = "EIO"; snprintf(err, sizeof err, "reading UDP port %u failed: %s", rx[i].port, strerror(errno)); failed = 1;
      }
    }
    if (failed) break;
    if (pfd[out_at].revents & (POLLERR | POLLHUP)) _exit(0); /* the parent went away */
    q_drain();
    if (in_at >= 0 && pr > 0 && (pfd[in_at].revents & (POLLIN | POLLHUP | POLLERR))) {
      char in[256];
      ssize_t r = read(0, in, sizeof in - 1);
      if (r <= 0) { stdin_open = 0; stopping = 1; }
      else { in[r] = 0; if (strstr(in, "stop")) stopping = 1; }
    }
    t = now_ms();
    if (t >= next_stats) {
      next_stats = t + stats_ms;
      st[1] = 0;
      for (int i = 0; i < nrx; i++) st[1] += socket_drops(&rx[i]);
      send_stats(st);
      if (watch && !address_present()) {
        code = "EIFACE";
        snprintf(err, sizeof err, "the listening address %s is no longer on any interface of this host (the interface went away)", address);
        failed = 1;
        break;
      }
    }
  }
  /* What the sockets already hold belongs to the feed. */
  if (!failed) for (int i = 0; i < nrx; i++) while (read_socket(&rx[i], (size_t)snaplen, st) > 0) q_drain();
  st[1] = 0;
  for (int i = 0; i < nrx; i++) { st[1] += socket_drops(&rx[i]); close(rx[i].fd); }
  send_stats(st);
  if (failed) send_error(code, err);
  send_end(failed ? "error" : "stopped");
  q_flush();
  return failed ? 2 : 0;
}
