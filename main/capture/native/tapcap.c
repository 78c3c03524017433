/*
 * tapcap: the few libpcap calls the capture helper needs that the `cap` package does not
 * expose (kernel timestamps, original length, snap length, promiscuous off, pcap_stats,
 * errors when the interface goes away, filter validation without privileges).
 *
 * Node-API only (ABI-stable: the same .node loads in Node and in Electron). Built by
 * scripts/build.mjs with the system C compiler when libpcap's headers are present; the
 * helper falls back to `cap` when it is missing.
 *
 * read() writes packets straight into the caller's buffer in the helper's wire framing
 * (main/capture/framing.ts), so JavaScript touches no per-packet data:
 *   u32 msgLen | u16 type=1 | u16 0 | u32 tsSec | u32 tsNsec | u32 caplen | u32 origLen | bytes
 * All integers little-endian.
 */
#include <node_api.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MSG_PACKET 1
#define HDR_LEN 24

typedef struct {
  pcap_t *p;
  int fd;
  int nano;
  int snaplen;
} cap_t;

typedef struct {
  uint8_t *out;
  size_t cap;
  size_t used;
  int nano;
} fill_t;

static napi_value throw_code(napi_env env, const char *code, const char *msg) {
  napi_throw_error(env, code, msg);
  return NULL;
}

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
  size_t need = HDR_LEN + h->caplen;
  if (f->used + need > f->cap) return; /* cannot happen: read() bounds the count */
  uint8_t *b = f->out + f->used;
  put32(b, (uint32_t)need);
  b[4] = MSG_PACKET; b[5] = 0; b[6] = 0; b[7] = 0;
  put32(b + 8, (uint32_t)h->ts.tv_sec);
  put32(b + 12, (uint32_t)(f->nano ? h->ts.tv_usec : h->ts.tv_usec * 1000));
  put32(b + 16, h->caplen);
  put32(b + 20, h->len);
  memcpy(b + HDR_LEN, bytes, h->caplen);
  f->used += need;
}

static void finalize(napi_env env, void *data, void *hint) {
  cap_t *c = (cap_t *)data;
  if (c->p) pcap_close(c->p);
  free(c);
}

static cap_t *get_cap(napi_env env, napi_value v) {
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok || !data) return NULL;
  return (cap_t *)data;
}

static int get_int(napi_env env, napi_value obj, const char *name, int dflt) {
  napi_value v;
  bool has = false;
  napi_has_named_property(env, obj, name, &has);
  if (!has) return dflt;
  napi_get_named_property(env, obj, name, &v);
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_boolean) { bool b; napi_get_value_bool(env, v, &b); return b ? 1 : 0; }
  if (t != napi_number) return dflt;
  int32_t i; napi_get_value_int32(env, v, &i);
  return i;
}

static char *get_str(napi_env env, napi_value v) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

/* open(device, filter, {snaplen, promisc, bufferSize, timeoutMs, immediate}) -> [handle, linkType, nanoTs, snaplen] */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) return throw_code(env, "EINVAL", "open(device, filter, options)");
  char *dev = get_str(env, argv[0]);
  char *filter = get_str(env, argv[1]);
  if (!dev || !filter) { free(dev); free(filter); return throw_code(env, "EINVAL", "device and filter must be strings"); }
  int snaplen = get_int(env, argv[2], "snaplen", 262144);
  int promisc = get_int(env, argv[2], "promisc", 1);
  int bufsize = get_int(env, argv[2], "bufferSize", 4 << 20);
  char errbuf[PCAP_ERRBUF_SIZE + 64];
  errbuf[0] = 0;
  pcap_t *p = pcap_create(dev, errbuf);
  if (!p) { free(dev); free(filter); return throw_code(env, "EPCAP", errbuf); }
  pcap_set_snaplen(p, snaplen);
  pcap_set_promisc(p, promisc);
  pcap_set_buffer_size(p, bufsize);
  /* Not immediate mode: libpcap then falls back from TPACKET_V3 to V2, whose ring has one
   * snaplen-sized slot per packet (16 slots for 4 MiB at 256 KiB) and drops under any
   * burst. V3 packs packets into blocks handed over when full or after the timeout. */
  pcap_set_timeout(p, get_int(env, argv[2], "timeoutMs", 20));
  pcap_set_immediate_mode(p, get_int(env, argv[2], "immediate", 0));
  int nano = pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO) == 0;
  int rc = pcap_activate(p);
  if (rc < 0) {
    const char *code = code_of(rc);
    const char *detail = pcap_geterr(p);
    if (rc == PCAP_ERROR_NO_SUCH_DEVICE && (!detail || !detail[0])) detail = "no such device";
    snprintf(errbuf, sizeof errbuf, "%s: %s", dev, detail && detail[0] ? detail : pcap_statustostr(rc));
    pcap_close(p);
    free(dev); free(filter);
    return throw_code(env, code, errbuf);
  }
  if (filter[0]) {
    struct bpf_program prog;
    if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
      snprintf(errbuf, sizeof errbuf, "%s", pcap_geterr(p));
      pcap_close(p);
      free(dev); free(filter);
      return throw_code(env, "EFILTER", errbuf);
    }
    if (pcap_setfilter(p, &prog) < 0) {
      snprintf(errbuf, sizeof errbuf, "%s", pcap_geterr(p));
      pcap_freecode(&prog);
      pcap_close(p);
      free(dev); free(filter);
      return throw_code(env, "EFILTER", errbuf);
    }
    pcap_freecode(&prog);
  }
  free(dev); free(filter);
  if (pcap_setnonblock(p, 1, errbuf) < 0) { pcap_close(p); return throw_code(env, "EPCAP", errbuf); }
  cap_t *c = calloc(1, sizeof *c);
  c->p = p;
  c->fd = pcap_get_selectable_fd(p);
  c->nano = nano;
  c->snaplen = pcap_snapshot(p);
  napi_value handle, lt, ns, snap, arr;
  napi_create_external(env, c, finalize, NULL, &handle);
  napi_create_int32(env, pcap_datalink(p), &lt);
  napi_get_boolean(env, nano, &ns);
  napi_create_int32(env, c->snaplen, &snap);
  napi_create_array_with_length(env, 4, &arr);
  napi_set_element(env, arr, 0, handle);
  napi_set_element(env, arr, 1, lt);
  napi_set_element(env, arr, 2, ns);
  napi_set_element(env, arr, 3, snap);
  return arr;
}

/*
 * read(handle, buffer, timeoutMs) -> bytes of framed packets written (0 on timeout).
 * Waits up to timeoutMs for the first packet, then takes what is ready without waiting.
 */
static napi_value js_read(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  cap_t *c = get_cap(env, argv[0]);
  if (!c || !c->p) return throw_code(env, "EINVAL", "capture is closed");
  void *buf; size_t buflen;
  if (napi_get_buffer_info(env, argv[1], &buf, &buflen) != napi_ok) return throw_code(env, "EINVAL", "buffer expected");
  int32_t timeout = 100;
  napi_get_value_int32(env, argv[2], &timeout);
  fill_t f = { (uint8_t *)buf, buflen, 0, c->nano };
  size_t per = HDR_LEN + (size_t)c->snaplen;
  int waited = 0;
  for (;;) {
    size_t room = f.cap - f.used;
    int cnt = (int)(room / per);
    if (cnt <= 0) break;
    int n = pcap_dispatch(c->p, cnt, on_packet, (u_char *)&f);
    if (n < 0) {
      char msg[PCAP_ERRBUF_SIZE + 32];
      snprintf(msg, sizeof msg, "%s", n == PCAP_ERROR_BREAK ? "capture interrupted" : pcap_geterr(c->p));
      if (f.used > 0) break; /* deliver what we have; the error repeats on the next read */
      return throw_code(env, "EIFACE", msg);
    }
    if (n > 0) continue;
    if (f.used > 0 || waited || timeout <= 0) break;
    struct pollfd pfd = { c->fd, POLLIN, 0 };
    int pr = poll(&pfd, 1, timeout);
    waited = 1;
    if (pr <= 0) break;
  }
  napi_value r;
  napi_create_double(env, (double)f.used, &r);
  return r;
}

/* stats(handle) -> [received, droppedByKernel, droppedByInterface] */
static napi_value js_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  cap_t *c = get_cap(env, argv[0]);
  if (!c || !c->p) return throw_code(env, "EINVAL", "capture is closed");
  struct pcap_stat st;
  if (pcap_stats(c->p, &st) < 0) return throw_code(env, "EPCAP", pcap_geterr(c->p));
  napi_value arr, a, b, d;
  napi_create_array_with_length(env, 3, &arr);
  napi_create_double(env, st.ps_recv, &a);
  napi_create_double(env, st.ps_drop, &b);
  napi_create_double(env, st.ps_ifdrop, &d);
  napi_set_element(env, arr, 0, a);
  napi_set_element(env, arr, 1, b);
  napi_set_element(env, arr, 2, d);
  return arr;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  cap_t *c = get_cap(env, argv[0]);
  if (c && c->p) { pcap_close(c->p); c->p = NULL; }
  return NULL;
}

/* checkFilter(linkType, snaplen, filter) -> null | error text. Needs no privileges. */
static napi_value js_check_filter(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t lt = 1, snap = 262144;
  napi_get_value_int32(env, argv[0], &lt);
  napi_get_value_int32(env, argv[1], &snap);
  char *filter = get_str(env, argv[2]);
  if (!filter) return throw_code(env, "EINVAL", "filter must be a string");
  pcap_t *p = pcap_open_dead(lt, snap);
  napi_value r;
  struct bpf_program prog;
  if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
    napi_create_string_utf8(env, pcap_geterr(p), NAPI_AUTO_LENGTH, &r);
  } else {
    pcap_freecode(&prog);
    napi_get_null(env, &r);
  }
  pcap_close(p);
  free(filter);
  return r;
}

static napi_value js_version(napi_env env, napi_callback_info info) {
  napi_value r;
  napi_create_string_utf8(env, pcap_lib_version(), NAPI_AUTO_LENGTH, &r);
  return r;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
    { "open", 0, js_open, 0, 0, 0, napi_default, 0 },
    { "read", 0, js_read, 0, 0, 0, napi_default, 0 },
    { "stats", 0, js_stats, 0, 0, 0, napi_default, 0 },
    { "close", 0, js_close, 0, 0, 0, napi_default, 0 },
    { "checkFilter", 0, js_check_filter, 0, 0, 0, napi_default, 0 },
    { "version", 0, js_version, 0, 0, 0, napi_default, 0 },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
