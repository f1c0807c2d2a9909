/* builtins.c: the built-in kernels, registered through the public API like any plugin. */
#include "internal.h"

extern const h5mr_kernel h5mr__kernel_sum;
extern const h5mr_kernel h5mr__kernel_stats;
extern const h5mr_kernel h5mr__kernel_minmax;
extern const h5mr_kernel h5mr__kernel_histogram;
extern const h5mr_kernel h5mr__kernel_count;
extern const h5mr_kernel h5mr__kernel_topk;
extern const h5mr_kernel h5mr__kernel_valuecounts;

void h5mr__builtins_register(void)
{
    static const h5mr_kernel *const builtins[] = {&h5mr__kernel_sum,        &h5mr__kernel_minmax, &h5mr__kernel_stats,
                                                  &h5mr__kernel_histogram,  &h5mr__kernel_count,  &h5mr__kernel_topk,
                                                  &h5mr__kernel_valuecounts};
    for (size_t i = 0; i < sizeof builtins / sizeof *builtins; i++)
        h5mr_kernel_register(builtins[i], NULL);
}
