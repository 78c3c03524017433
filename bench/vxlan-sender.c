/*
 * vxlan-sender: a bounded cloud-TAP feed for the receiver bench (scripts/bench-receiver.mjs).
 * Sends COUNT VXLAN datagrams (VNI 100) to ADDRESS:PORT at RATE datagrams/s (0: as fast as
 * it can) with sendmmsg, 32 at a time, paced against the clock. The inner traffic is FLOWS
 * short TCP connections, COUNT/FLOWS packets each, 1,000 open at a time:
 *   SYN, SYN-ACK, ACK + 64 bytes, then alternating 64-byte data, and an RST last
 * client 10.a.b.c:40000+ (one address per flow) -> 192.168.0.1:80.
 * Prints {"sent","seconds","rate"} on stdout. Loopback or a namespace you made only.
 *
 *   vxlan-sender -p PORT [-a 127.0.0.1] -n COUNT -f FLOWS [-r RATE]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 32
#define WINDOW 1000
#define PAYLOAD 64
#define DGRAM (8 + 14 + 20 + 20 + PAYLOAD)

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void put16(uint8_t *b, unsigned v) { b[0] = (uint8_t)(v >> 8); b[1] = (uint8_t)v; }
static void put32(uint8_t *b, uint32_t v) { put16(b, v >> 16); put16(b + 2, v & 0xffff); }

/* Packet j of flow f (of k per flow); returns its length. */
static size_t build(uint8_t *d, long f, long j, long k) {
  memset(d, 0, DGRAM);
  d[0] = 0x08; /* VXLAN I flag; VNI 100 */
  d[6] = 100;
  uint8_t *e = d + 8;
  int to_server = j == 0 || j == 2 || j == k - 1 || (j > 2 && j % 2 == 1);
  uint8_t cmac[6] = { 2, 0, 0, 0, 0, 1 }, smac[6] = { 2, 0, 0, 0, 0, 2 };
  memcpy(e, to_server ? smac : cmac, 6);
  memcpy(e + 6, to_server ? cmac : smac, 6);
  put16(e + 12, 0x0800);
  uint8_t *ip = e + 14, *tcp = ip + 20;
  uint8_t cli[4] = { 10, (uint8_t)(f >> 16), (uint8_t)(f >> 8), (uint8_t)f }, srv[4] = { 192, 168, 0, 1 };
  unsigned cport = 40000 + (unsigned)(f % 20000), sport = 80;
  int flags, data = 0;
  if (j == 0) flags = 0x02;                  /* SYN */
  else if (j == 1) flags = 0x12;             /* SYN-ACK */
  else if (j == k - 1 && k > 3) flags = 0x14; /* RST-ACK */
  else { flags = 0x18; data = PAYLOAD; }     /* PSH-ACK + data */
  /* Sequence numbers: each side's data counted in order (client ISN 1000, server 5000). */
  long cdata = 0, sdata = 0;
  for (long i = 2; i < j; i++) { if (i == 2 || i % 2 == 1) cdata++; else sdata++; }
  uint32_t cseq = 1001 + (uint32_t)(cdata * PAYLOAD), sseq = 5001 + (uint32_t)(sdata * PAYLOAD);
  size_t len = 20 + 20 + (size_t)data;
  ip[0] = 0x45;
  put16(ip + 2, (unsigned)len);
  put16(ip + 4, (unsigned)(j & 0xffff));
  ip[8] = 64;
  ip[9] = 6;
  memcpy(ip + 12, to_server ? cli : srv, 4);
  memcpy(ip + 16, to_server ? srv : cli, 4);
  uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  put16(ip + 10, ~sum & 0xffff);
  put16(tcp, to_server ? cport : sport);
  put16(tcp + 2, to_server ? sport : cport);
  put32(tcp + 4, j == 0 ? 1000 : j == 1 ? 5000 : to_server ? cseq : sseq);
  put32(tcp + 8, j == 0 ? 0 : j == 1 ? 1001 : to_server ? sseq : cseq);
  if (j != 0) flags |= 0x10;
  tcp[12] = 5 << 4;
  tcp[13] = (uint8_t)flags;
  put16(tcp + 14, 65535);
  for (int i = 0; i < data; i++) tcp[20 + i] = (uint8_t)('a' + i % 26);
  return 8 + 14 + len;
}

int main(int argc, char **argv) {
  const char *addr = "127.0.0.1";
  long port = 0, count = 0, flows = 0;
  double rate = 0;
  int opt;
  while ((opt = getopt(argc, argv, "p:a:n:f:r:")) != -1) {
    switch (opt) {
      case 'p': port = atol(optarg); break;
      case 'a': addr = optarg; break;
      case 'n': count = atol(optarg); break;
      case 'f': flows = atol(optarg); break;
      case 'r': rate = atof(optarg); break;
      default: fprintf(stderr, "usage: vxlan-sender -p PORT [-a ADDR] -n COUNT -f FLOWS [-r RATE]\n"); return 64;
    }
  }
  if (port <= 0 || port > 65535 || count <= 0 || flows <= 0 || count < flows || count > 100000000) {
    fprintf(stderr, "vxlan-sender: need -p PORT, -n COUNT (up to 10^8) and -f FLOWS (at most COUNT)\n");
    return 64;
  }
  long k = count / flows;
  count = k * flows;
  struct sockaddr_in to;
  memset(&to, 0, sizeof to);
  to.sin_family = AF_INET;
  to.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, addr, &to.sin_addr) != 1) { fprintf(stderr, "vxlan-sender: bad address\n"); return 64; }
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) { perror("socket"); return 1; }
  int sndbuf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);

  static uint8_t buf[BATCH][DGRAM];
  struct mmsghdr mm[BATCH];
  struct iovec iov[BATCH];
  long sent = 0;
  double t0 = now();
  /* Order: WINDOW flows at a time, packet 0 of each, then packet 1 of each, ... */
  long n = 0;
  while (n < count) {
    if (rate > 0) {
      double due = t0 + n / rate, t = now();
      if (due > t + 0.0002) {
        struct timespec ts = { 0, (long)((due - t) * 1e9) };
        nanosleep(&ts, NULL);
      }
    }
    int b = 0;
    for (; b < BATCH && n < count; b++, n++) {
      long block = n / (WINDOW * k), in = n % (WINDOW * k);
      long first = block * WINDOW, width = flows - first < WINDOW ? flows - first : WINDOW;
      long j = in / width, f = first + in % width;
      iov[b].iov_base = buf[b];
      iov[b].iov_len = build(buf[b], f, j, k);
      memset(&mm[b], 0, sizeof mm[b]);
      mm[b].msg_hdr.msg_name = &to;
      mm[b].msg_hdr.msg_namelen = sizeof to;
      mm[b].msg_hdr.msg_iov = &iov[b];
      mm[b].msg_hdr.msg_iovlen = 1;
    }
    int off = 0;
    while (off < b) {
      int r = sendmmsg(fd, mm + off, (unsigned)(b - off), 0);
      if (r < 0) {
        if (errno == EINTR || errno == ENOBUFS || errno == EAGAIN) continue;
        perror("sendmmsg");
        return 1;
      }
      off += r;
      sent += r;
    }
  }
  double secs = now() - t0;
  printf("{\"sent\":%ld,\"seconds\":%.4f,\"rate\":%.0f}\n", sent, secs, sent / secs);
  return 0;
}
