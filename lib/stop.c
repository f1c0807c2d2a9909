/* stop.c: a request to stop the running job (h5mr_request_stop, from a signal handler),
 * read by the dispatch protocols between items and by the job between segments. */
#include "internal.h"

#include <signal.h>

static volatile sig_atomic_t stop_signal; /* 0 none; -1 asked without a signal */

void h5mr_request_stop(int signum) { stop_signal = signum > 0 ? signum : -1; }

int h5mr_stop_requested(void) { return stop_signal; }

void h5mr__stop_clear(void) { stop_signal = 0; }
