/*
 * tapcap: the few libpcap calls the JavaScript capture helper needs that the `cap` package
 * does not expose (kernel timestamps, original length, snap length, promiscuous off,
 * pcap_stats, errors when the interface goes away, filter validation without privileges).
 * The libpcap work itself is capcore.c, shared with the capture binary tapscope-capture.c.
 *
 * Node-API only (ABI-stable: the same .node loads in Node and in Electron). Built by
 * scripts/build-tapcap.mjs with the system C compiler when libpcap's headers are present;
 * the helper falls back to `cap` when it is missing.
 *
 * read() writes packets straight into the caller's buffer in the helper's wire framing
 * (capcore.h, main/capture/framing.ts), so JavaScript touches no per-packet data.
 */
#include <node_api.h>
#include <stdlib.h>
#include <string.h>
#include "capcore.h"

static napi_value throw_code(napi_env env, const char *code, const char *msg) {
  napi_throw_error(env, code, msg);
  return NULL;
}

static void finalize(napi_env env, void *data, void *hint) {
  capcore_t *c = (capcore_t *)data;
  capcore_close(c);
  free(c);
}

static capcore_t *get_cap(napi_env env, napi_value v) {
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok || !data) return NULL;
  return (capcore_t *)data;
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
  capcore_opts_t o = {
    get_int(env, argv[2], "snaplen", 262144),
    get_int(env, argv[2], "promisc", 1),
    get_int(env, argv[2], "bufferSize", 4 << 20),
    get_int(env, argv[2], "timeoutMs", 20),
    get_int(env, argv[2], "immediate", 0),
  };
  capcore_t *c = calloc(1, sizeof *c);
  char err[CAPCORE_ERRLEN];
  const char *code = capcore_open(c, dev, filter, &o, err, sizeof err);
  free(dev); free(filter);
  if (code) { free(c); return throw_code(env, code, err); }
  napi_value handle, lt, ns, snap, arr;
  napi_create_external(env, c, finalize, NULL, &handle);
  napi_create_int32(env, c->linktype, &lt);
  napi_get_boolean(env, c->nano, &ns);
  napi_create_int32(env, c->snaplen, &snap);
  napi_create_array_with_length(env, 4, &arr);
  napi_set_element(env, arr, 0, handle);
  napi_set_element(env, arr, 1, lt);
  napi_set_element(env, arr, 2, ns);
  napi_set_element(env, arr, 3, snap);
  return arr;
}

/* read(handle, buffer, timeoutMs) -> bytes of framed packets written (0 on timeout). */
static napi_value js_read(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  capcore_t *c = get_cap(env, argv[0]);
  if (!c || !c->p) return throw_code(env, "EINVAL", "capture is closed");
  void *buf; size_t buflen;
  if (napi_get_buffer_info(env, argv[1], &buf, &buflen) != napi_ok) return throw_code(env, "EINVAL", "buffer expected");
  int32_t timeout = 100;
  napi_get_value_int32(env, argv[2], &timeout);
  char err[CAPCORE_ERRLEN];
  long n = capcore_read(c, (uint8_t *)buf, buflen, timeout, err, sizeof err);
  if (n < 0) return throw_code(env, "EIFACE", err);
  napi_value r;
  napi_create_double(env, (double)n, &r);
  return r;
}

/* stats(handle) -> [received, droppedByKernel, droppedByInterface] */
static napi_value js_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  capcore_t *c = get_cap(env, argv[0]);
  if (!c || !c->p) return throw_code(env, "EINVAL", "capture is closed");
  double st[3];
  char err[CAPCORE_ERRLEN];
  if (capcore_stats(c, st, err, sizeof err) < 0) return throw_code(env, "EPCAP", err);
  napi_value arr, v;
  napi_create_array_with_length(env, 3, &arr);
  for (int i = 0; i < 3; i++) {
    napi_create_double(env, st[i], &v);
    napi_set_element(env, arr, i, v);
  }
  return arr;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  capcore_t *c = get_cap(env, argv[0]);
  if (c) capcore_close(c);
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
  char err[CAPCORE_ERRLEN];
  const char *bad = capcore_check_filter(lt, snap, filter, err, sizeof err);
  free(filter);
  napi_value r;
  if (bad) napi_create_string_utf8(env, bad, NAPI_AUTO_LENGTH, &r);
  else napi_get_null(env, &r);
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
