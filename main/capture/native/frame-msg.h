/*
 * The capture helper's framing (main/capture/framing.ts) as the two native programs write
 * it, tapscope-capture (interfaces) and tapscope-receive (cloud-TAP sockets):
 *   u32 msgLen (header included) | u16 type | u16 0 | body          (little-endian)
 * Control bodies (READY, ERROR, END) are one JSON object; STATS is a row of f64.
 */
#ifndef TAPSCOPE_FRAME_MSG_H
#define TAPSCOPE_FRAME_MSG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define FRAME_PACKET 1
#define FRAME_STATS 2
#define FRAME_READY 3
#define FRAME_ERROR 4
#define FRAME_END 5
#define FRAME_HDR 8
#define FRAME_MAX_STATS 5

static inline void frame_put32(uint8_t *b, uint32_t v) {
  b[0] = v & 0xff; b[1] = (v >> 8) & 0xff; b[2] = (v >> 16) & 0xff; b[3] = v >> 24;
}

static inline void frame_header(uint8_t *b, size_t len, int type) {
  frame_put32(b, (uint32_t)len);
  b[4] = (uint8_t)type; b[5] = 0; b[6] = 0; b[7] = 0;
}

/* A whole STATS message of n values into b (room for FRAME_HDR + 8 * n); returns its length. */
static inline size_t frame_stats(uint8_t *b, const double *v, int n) {
  frame_header(b, FRAME_HDR + 8 * (size_t)n, FRAME_STATS);
  for (int i = 0; i < n; i++) {
    uint64_t u;
    memcpy(&u, &v[i], 8);
    for (int k = 0; k < 8; k++) b[FRAME_HDR + i * 8 + k] = (uint8_t)(u >> (8 * k));
  }
  return FRAME_HDR + 8 * (size_t)n;
}

/* Appends s to the JSON text j as a string literal (RFC 8259 §7). */
static inline size_t json_str(char *j, size_t at, size_t cap, const char *s) {
  static const char hex[] = "0123456789abcdef";
  if (at < cap) j[at++] = '"';
  for (; *s && at + 7 < cap; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\') { j[at++] = '\\'; j[at++] = (char)ch; }
    else if (ch < 0x20) { j[at++] = '\\'; j[at++] = 'u'; j[at++] = '0'; j[at++] = '0'; j[at++] = hex[ch >> 4]; j[at++] = hex[ch & 15]; }
    else j[at++] = (char)ch;
  }
  if (at < cap) j[at++] = '"';
  return at;
}

/* The ERROR body {"code","message"} into j; returns its length. */
static inline size_t frame_error_json(char *j, size_t cap, const char *code, const char *message) {
  size_t n = (size_t)snprintf(j, cap, "{\"code\":");
  n = json_str(j, n, cap - 2, code);
  n += (size_t)snprintf(j + n, cap - n, ",\"message\":");
  n = json_str(j, n, cap - 2, message);
  j[n++] = '}';
  return n;
}

/* The END body {"reason"} into j; returns its length. */
static inline size_t frame_end_json(char *j, size_t cap, const char *reason) {
  return (size_t)snprintf(j, cap, "{\"reason\":\"%s\"}", reason);
}

#endif
