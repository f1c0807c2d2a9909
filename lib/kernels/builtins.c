/* builtins.c: the built-in kernels, registered through the public API like any plugin. */
#include "internal.h"

extern const h5mr_kernel h5mr__kernel_sum;
extern const h5mr_kernel h5mr__kernel_stats;

void h5mr__builtins_register(void)
{
    static const h5mr_kernel *const builtins[] = {&h5mr__kernel_sum, &h5mr__kernel_stats};
    for (size_t i = 0; i < sizeof builtins / sizeof *builtins; i++)
        h5mr_kernel_register(builtins[i], NULL);
}
