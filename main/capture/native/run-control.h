/* The stop flag and clock shared by the native programs (tapscope-capture, tapscope-receive). */
#ifndef TAPSCOPE_RUN_CONTROL_H
#define TAPSCOPE_RUN_CONTROL_H

#include <signal.h>
#include <time.h>

/* Set by SIGINT/SIGTERM (on_signal); the main loop drains and ends when it sees it. */
static volatile sig_atomic_t stop_signal = 0;
static void on_signal(int sig) { (void)sig; stop_signal = 1; }

/* Monotonic milliseconds, for timeouts and stats intervals. */
static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
