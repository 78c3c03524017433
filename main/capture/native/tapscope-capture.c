/*
 * tapscope-capture: the single-purpose capture program (Wireshark's dumpcap model). It is the
 * only part of Tapscope that needs capture privileges: give CAP_NET_RAW (and CAP_NET_ADMIN,
 * see docs/security.md) to this file alone, never to a Node.js or Electron runtime that would
 * run any script.
 *
 * It opens one interface, applies one BPF filter, and writes the capture helper's binary
 * framing (main/capture/framing.ts) to stdout: READY, PACKET, STATS, ERROR, END. Nothing
 * else: it reads no files, writes none, runs nothing, takes no paths. On Linux it drops every
 * capability as soon as the interface is open (reading the open socket needs none).
 *
 *   tapscope-capture -i DEVICE [-f FILTER] [-s SNAPLEN] [-B BYTES] [-p] [-t STATS_MS]
 *   tapscope-capture -c FILTER [-l LINKTYPE] [-s SNAPLEN]   check a filter (no privileges):
 *                                                           prints {"error":null|"...","checked":true}
 *   tapscope-capture -V                                     prints the libpcap version
 *
 * It stops when stdin ends or says "stop", on SIGINT/SIGTERM, or when the interface fails;
 * exit status 0 after a stop, 2 after an error, 64 on a usage error (one line on stderr).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#endif
#include "capcore.h"
#include "args.h"
#include "frame-msg.h"
#include "run-control.h"

#define MSG_READY FRAME_READY
#define MSG_ERROR FRAME_ERROR
#define MSG_END FRAME_END
#define MSG_HDR FRAME_HDR
#define MAX_SNAPLEN 262144
#define BATCH (4 << 20)
/* On stop, keep reading a little longer than the kernel's block timeout (20 ms): packets in
 * the current block become readable once it retires, and belong to the capture. */
#define DRAIN_MS 60

/* Writes all of b to stdout; exits quietly when the reader is gone. Blocking: a slow reader
 * holds the capture back, and the kernel's buffer drops what does not fit (counted as kernel
 * drops), as dumpcap does. */
static void out_all(const void *b, size_t n) {
  const uint8_t *p = b;
  while (n > 0) {
    ssize_t w = write(1, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      _exit(0); /* EPIPE: the parent went away */
    }
    p += w;
    n -= (size_t)w;
  }
}

/* One control message whose body is the JSON text j. */
static void send_json(int type, const char *j, size_t n) {
  uint8_t h[FRAME_HDR];
  frame_header(h, FRAME_HDR + n, type);
  out_all(h, FRAME_HDR);
  out_all(j, n);
}

static void send_stats(const double st[3]) {
  uint8_t b[FRAME_HDR + 32];
  double v[4] = { st[0], st[1], st[2], 0 }; /* droppedByApp: writes block instead of dropping */
  out_all(b, frame_stats(b, v, 4));
}

static void send_error(const char *code, const char *message) {
  char j[CAPCORE_ERRLEN * 2 + 64];
  send_json(MSG_ERROR, j, frame_error_json(j, sizeof j, code, message));
}

static void send_end(const char *reason) {
  char j[64];
  send_json(MSG_END, j, frame_end_json(j, sizeof j, reason));
}

static int usage(const char *why) {
  fprintf(stderr, "tapscope-capture: %s (usage: tapscope-capture -i DEVICE [-f FILTER] [-s SNAPLEN] [-B BYTES] [-p] [-t STATS_MS] | -c FILTER [-l LINKTYPE] | -V)\n", why);
  return 64;
}

static int int_arg(const char *s, long lo, long hi, int *out) {
  long v;
  if (long_arg(s, lo, hi, &v) < 0) return -1;
  *out = (int)v;
  return 0;
}

/* After the interface is open nothing needs a privilege: give every capability up, for
 * good (capset on all three sets; no_new_privs keeps exec from regaining any). */
static void drop_privileges(void) {
#ifdef __linux__
  struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  syscall(SYS_capset, &hdr, data);
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
#endif
}

/* The sysfs entry of the device, when it has one (Linux). Interface names have no '/'. */
static int sysfs_path(const char *dev, char *path, size_t n) {
#ifdef __linux__
  struct stat st;
  if (strchr(dev, '/') || strlen(dev) > 64 || !strcmp(dev, ".") || !strcmp(dev, "..")) return 0;
  snprintf(path, n, "/sys/class/net/%s", dev);
  return stat(path, &st) == 0;
#else
  (void)dev; (void)path; (void)n;
  return 0;
#endif
}

static int check_filter(const char *filter, int linktype, int snaplen) {
  char err[CAPCORE_ERRLEN], j[CAPCORE_ERRLEN * 2 + 64];
  const char *bad = capcore_check_filter(linktype, snaplen, filter, err, sizeof err);
  size_t n = (size_t)snprintf(j, sizeof j, "{\"error\":");
  if (bad) n = json_str(j, n, sizeof j - 32, bad);
  else n += (size_t)snprintf(j + n, sizeof j - n, "null");
  n += (size_t)snprintf(j + n, sizeof j - n, ",\"checked\":true}\n");
  out_all(j, n);
  return 0;
}

int main(int argc, char **argv) {
  const char *dev = NULL, *filter = "", *check = NULL;
  int snaplen = MAX_SNAPLEN, bufsize = 4 << 20, promisc = 1, stats_ms = 250, linktype = 1;
  int opt;
  opterr = 0; /* one line of our own instead */
  while ((opt = getopt(argc, argv, "i:f:s:B:pt:c:l:V")) != -1) {
    switch (opt) {
      case 'i': dev = optarg; break;
      case 'f': filter = optarg; break;
      case 's': if (int_arg(optarg, 1, INT_MAX, &snaplen) < 0) return usage("bad snap length"); break;
      case 'B': if (int_arg(optarg, 4096, 1 << 30, &bufsize) < 0) return usage("bad buffer size (4096 to 2^30 bytes)"); break;
      case 'p': promisc = 0; break;
      case 't': if (int_arg(optarg, 10, 60000, &stats_ms) < 0) return usage("bad stats interval (10 to 60000 ms)"); break;
      case 'c': check = optarg; break;
      case 'l': if (int_arg(optarg, 0, 65535, &linktype) < 0) return usage("bad link type"); break;
      case 'V': printf("%s\n", pcap_lib_version()); return 0;
      default: return usage("unknown option");
    }
  }
  if (optind < argc) return usage("unexpected argument");
  if (snaplen < 64) snaplen = 64;
  if (snaplen > MAX_SNAPLEN) snaplen = MAX_SNAPLEN;
  signal(SIGPIPE, SIG_IGN);
  if (check) {
    drop_privileges(); /* compiling a filter needs none */
    return check_filter(check, linktype, snaplen);
  }
  if (!dev || !dev[0]) return usage("no interface (-i)");

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  capcore_t c;
  capcore_opts_t o = { snaplen, promisc, bufsize, 20, 0 };
  char err[CAPCORE_ERRLEN];
  double st[3] = { 0, 0, 0 };
  const char *code = capcore_open(&c, dev, filter, &o, err, sizeof err);
  drop_privileges();
  if (code) {
    send_stats(st);
    send_error(code, err);
    send_end("error");
    return 2;
  }
  char sys[96];
  int watch_sysfs = sysfs_path(dev, sys, sizeof sys);

  char j[512];
  size_t n = (size_t)snprintf(j, sizeof j, "{\"device\":");
  n = json_str(j, n, 300, dev);
  n += (size_t)snprintf(j + n, sizeof j - n, ",\"linkType\":%d,\"snaplen\":%d,\"backend\":\"tapscope-capture\",\"nanoTs\":%s,\"libpcap\":",
                        c.linktype, c.snaplen, c.nano ? "true" : "false");
  n = json_str(j, n, sizeof j - 2, pcap_lib_version());
  j[n++] = '}';
  send_json(MSG_READY, j, n);

  size_t buflen = BATCH;
  if (buflen < 2 * ((size_t)c.snaplen + CAPCORE_HDR_LEN)) buflen = 2 * ((size_t)c.snaplen + CAPCORE_HDR_LEN);
  uint8_t *buf = malloc(buflen);
  if (!buf) { send_stats(st); send_error("EPCAP", "out of memory"); send_end("error"); return 2; }

  int stdin_open = 1, stopping = 0, failed = 0;
  long long next_stats = now_ms() + stats_ms, drain_until = 0;
  for (;;) {
    if (stop_signal) stopping = 1;
    if (stopping && drain_until == 0) drain_until = now_ms() + DRAIN_MS;
    struct pollfd pfd[2] = { { c.fd, POLLIN, 0 }, { 0, POLLIN, 0 } };
    long long t = now_ms();
    int wait = (int)(next_stats - t);
    if (stopping) wait = 10;
    if (wait < 0) wait = 0;
    if (wait > 50) wait = 50;
    int pr = poll(pfd, stdin_open ? 2 : 1, wait);
    if (pr < 0 && errno != EINTR) { snprintf(err, sizeof err, "poll: %s", strerror(errno)); failed = 1; break; }
    if (stdin_open && pr > 0 && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      char in[256];
      ssize_t r = read(0, in, sizeof in - 1);
      if (r <= 0) { stdin_open = 0; stopping = 1; }
      else { in[r] = 0; if (strstr(in, "stop")) stopping = 1; }
    }
    long got = capcore_read(&c, buf, buflen, 0, err, sizeof err);
    if (got < 0) { failed = 1; break; }
    if (got > 0) out_all(buf, (size_t)got);
    t = now_ms();
    if (t >= next_stats) {
      next_stats = t + stats_ms;
      if (watch_sysfs && access(sys, F_OK) != 0) {
        snprintf(err, sizeof err, "%s: the interface disappeared during the capture", dev);
        failed = 1;
        break;
      }
      if (capcore_stats(&c, st, err, sizeof err) == 0) send_stats(st);
    }
    if (stopping && got == 0 && t >= drain_until) break;
  }
  char ignored[CAPCORE_ERRLEN];
  capcore_stats(&c, st, ignored, sizeof ignored); /* keeps the last figures if the device is gone */
  capcore_close(&c);
  send_stats(st);
  if (failed) {
    send_error("EIFACE", err);
    send_end("error");
    return 2;
  }
  send_end("stopped");
  return 0;
}
