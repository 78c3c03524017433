/* capcore: see capcore.h. */
#include "capcore.h"
#include <poll.h>
#include <stdio.h>
#include <string.h>

typedef struct {
  uint8_t *out;
  size_t cap;
  size_t used;
  int nano;
} fill_t;

static const char *code_of(int rc) {
  switch (rc) {
    case PCAP_ERROR_NO_SUCH_DEVICE: return "ENODEV";
    case PCAP_ERROR_PERM_DENIED: return "EPERM";
    case PCAP_ERROR_PROMISC_PERM_DENIED: return "EPERM";
    case PCAP_ERROR_IFACE_NOT_UP: return "ENETDOWN";
    default: return "EPCAP";
  }
}

static void put32(uint8_t *b, uint32_t v) {
  b[0] = v & 0xff; b[1] = (v >> 8) & 0xff; b[2] = (v >> 16) & 0xff; b[3] = v >> 24;
}

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes) {
  fill_t *f = (fill_t *)user;
  size_t need = CAPCORE_HDR_LEN + h->caplen;
  if (f->used + need > f->cap) return; /* cannot happen: capcore_read bounds the count */
  uint8_t *b = f->out + f->used;
  put32(b, (uint32_t)need);
  b[4] = CAPCORE_MSG_PACKET; b[5] = 0; b[6] = 0; b[7] = 0;
  put32(b + 8, (uint32_t)h->ts.tv_sec);
  put32(b + 12, (uint32_t)(f->nano ? h->ts.tv_usec : h->ts.tv_usec * 1000));
  put32(b + 16, h->caplen);
  put32(b + 20, h->len);
  memcpy(b + CAPCORE_HDR_LEN, bytes, h->caplen);
  f->used += need;
}

const char *capcore_open(capcore_t *c, const char *dev, const char *filter, const capcore_opts_t *o, char *err, size_t errlen) {
  char pcaperr[PCAP_ERRBUF_SIZE];
  pcaperr[0] = 0;
  memset(c, 0, sizeof *c);
  c->fd = -1;
  pcap_t *p = pcap_create(dev, pcaperr);
  if (!p) { snprintf(err, errlen, "%s", pcaperr); return "EPCAP"; }
  pcap_set_snaplen(p, o->snaplen);
  pcap_set_promisc(p, o->promisc);
  pcap_set_buffer_size(p, o->bufsize);
  /* Not immediate mode: libpcap then falls back from TPACKET_V3 to V2, whose ring has one
   * snaplen-sized slot per packet (16 slots for 4 MiB at 256 KiB) and drops under any
   * burst. V3 packs packets into blocks handed over when full or after the timeout. */
  pcap_set_timeout(p, o->timeout_ms);
  pcap_set_immediate_mode(p, o->immediate);
  int nano = pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO) == 0;
  int rc = pcap_activate(p);
  if (rc < 0) {
    const char *detail = pcap_geterr(p);
    if (rc == PCAP_ERROR_NO_SUCH_DEVICE && (!detail || !detail[0])) detail = "no such device";
    snprintf(err, errlen, "%s: %s", dev, detail && detail[0] ? detail : pcap_statustostr(rc));
    pcap_close(p);
    return code_of(rc);
  }
  if (filter && filter[0]) {
    struct bpf_program prog;
    if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
      snprintf(err, errlen, "%s", pcap_geterr(p));
      pcap_close(p);
      return "EFILTER";
    }
    if (pcap_setfilter(p, &prog) < 0) {
      snprintf(err, errlen, "%s", pcap_geterr(p));
      pcap_freecode(&prog);
      pcap_close(p);
      return "EFILTER";
    }
    pcap_freecode(&prog);
  }
  if (pcap_setnonblock(p, 1, pcaperr) < 0) {
    snprintf(err, errlen, "%s", pcaperr);
    pcap_close(p);
    return "EPCAP";
  }
  c->p = p;
  c->fd = pcap_get_selectable_fd(p);
  c->nano = nano;
  c->snaplen = pcap_snapshot(p);
  c->linktype = pcap_datalink(p);
  return NULL;
}

/* Waits up to timeout_ms for the first packet, then takes what is ready without waiting. */
long capcore_read(capcore_t *c, uint8_t *buf, size_t buflen, int timeout_ms, char *err, size_t errlen) {
  if (!c->p) { snprintf(err, errlen, "capture is closed"); return -1; }
  fill_t f = { buf, buflen, 0, c->nano };
  size_t per = CAPCORE_HDR_LEN + (size_t)c->snaplen;
  int waited = 0;
  for (;;) {
    size_t room = f.cap - f.used;
    int cnt = (int)(room / per);
    if (cnt <= 0) break;
    int n = pcap_dispatch(c->p, cnt, on_packet, (u_char *)&f);
    if (n < 0) {
      if (f.used > 0) break; /* deliver what we have; the error repeats on the next read */
      snprintf(err, errlen, "%s", n == PCAP_ERROR_BREAK ? "capture interrupted" : pcap_geterr(c->p));
      return -1;
    }
    if (n > 0) continue;
    if (f.used > 0 || waited || timeout_ms <= 0) break;
    struct pollfd pfd = { c->fd, POLLIN, 0 };
    int pr = poll(&pfd, 1, timeout_ms);
    waited = 1;
    if (pr <= 0) break;
  }
  return (long)f.used;
}

int capcore_stats(capcore_t *c, double out[3], char *err, size_t errlen) {
  struct pcap_stat st;
  if (!c->p) { snprintf(err, errlen, "capture is closed"); return -1; }
  if (pcap_stats(c->p, &st) < 0) { snprintf(err, errlen, "%s", pcap_geterr(c->p)); return -1; }
  out[0] = st.ps_recv;
  out[1] = st.ps_drop;
  out[2] = st.ps_ifdrop;
  return 0;
}

void capcore_close(capcore_t *c) {
  if (c->p) { pcap_close(c->p); c->p = NULL; }
}

const char *capcore_check_filter(int linktype, int snaplen, const char *filter, char *err, size_t errlen) {
  pcap_t *p = pcap_open_dead(linktype, snaplen);
  if (!p) { snprintf(err, errlen, "cannot check filters for link type %d", linktype); return err; }
  struct bpf_program prog;
  const char *r = NULL;
  if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
    snprintf(err, errlen, "%s", pcap_geterr(p));
    r = err;
  } else {
    pcap_freecode(&prog);
  }
  pcap_close(p);
  return r;
}
