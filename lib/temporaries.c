/* temporaries.c: h5mr_temporaries_remove — the temporary files of every writer of the
 * library (a result file, a map's output and its part files, a checkpoint), each of
 * which keeps its own list (atomic.h); async-signal-safe, for a signal handler. */
#include "internal.h"

void h5mr_temporaries_remove(void)
{
    h5mr__output_temporaries_remove();
    h5mr__store_temporaries_remove();
    h5mr__ckpt_temporaries_remove();
}
