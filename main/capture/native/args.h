/* Command-line numbers for the native programs (tapscope-capture, tapscope-receive). */
#ifndef TAPSCOPE_ARGS_H
#define TAPSCOPE_ARGS_H

#include <errno.h>
#include <stdlib.h>

/* s as a whole decimal number in [lo, hi]: 0 and *out set, else -1. */
static inline int long_arg(const char *s, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

#endif
