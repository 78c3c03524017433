/*
 * capcore: the libpcap calls both capture front ends share — the Node-API addon (tapcap.c,
 * run by the JavaScript helper) and the single-purpose capture binary (tapscope-capture.c).
 * One place opens an interface, applies the BPF filter and writes packets in the helper's
 * wire framing (main/capture/framing.ts):
 *   u32 msgLen | u16 type=1 | u16 0 | u32 tsSec | u32 tsNsec | u32 caplen | u32 origLen | bytes
 * All integers little-endian.
 */
#ifndef TAPSCOPE_CAPCORE_H
#define TAPSCOPE_CAPCORE_H

#include <pcap/pcap.h>
#include <stddef.h>
#include <stdint.h>

#define CAPCORE_MSG_PACKET 1
#define CAPCORE_HDR_LEN 24
#define CAPCORE_ERRLEN (PCAP_ERRBUF_SIZE + 128)

typedef struct {
  pcap_t *p;
  int fd;
  int nano;
  int snaplen;
  int linktype;
} capcore_t;

typedef struct {
  int snaplen;
  int promisc;
  int bufsize;
  int timeout_ms;
  int immediate;
} capcore_opts_t;

/* Opens and activates dev with the filter. NULL on success, else a stable code
 * (EPERM, ENODEV, ENETDOWN, EFILTER, EPCAP) with libpcap's text in err. */
const char *capcore_open(capcore_t *c, const char *dev, const char *filter, const capcore_opts_t *o, char *err, size_t errlen);

/* Writes framed packets into buf; waits up to timeout_ms for the first one. Returns the
 * bytes written (0 on timeout), or -1 with the message in err (interface gone, ...). */
long capcore_read(capcore_t *c, uint8_t *buf, size_t buflen, int timeout_ms, char *err, size_t errlen);

/* out: received, dropped by the kernel, dropped by the interface. 0 or -1 with err. */
int capcore_stats(capcore_t *c, double out[3], char *err, size_t errlen);

void capcore_close(capcore_t *c);

/* NULL when the filter compiles for the link type, else err holding libpcap's message.
 * Needs no privileges (pcap_open_dead). */
const char *capcore_check_filter(int linktype, int snaplen, const char *filter, char *err, size_t errlen);

#endif
