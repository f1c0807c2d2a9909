/* builtins.c: the table of built-in kernels.  Each is defined in its own file with the
 * public kernel API only, exactly as a plugin's kernel is; the registry (kernel.c)
 * reads this table, nothing here calls back into it. */
#include "internal.h"

extern const h5mr_kernel h5mr__kernel_sum;
extern const h5mr_kernel h5mr__kernel_stats;
extern const h5mr_kernel h5mr__kernel_minmax;
extern const h5mr_kernel h5mr__kernel_histogram;
extern const h5mr_kernel h5mr__kernel_count;
extern const h5mr_kernel h5mr__kernel_topk;
extern const h5mr_kernel h5mr__kernel_valuecounts;
extern const h5mr_kernel h5mr__kernel_corr;
extern const h5mr_kernel h5mr__kernel_cov;
extern const h5mr_kernel h5mr__kernel_convert;
extern const h5mr_kernel h5mr__kernel_scale;
extern const h5mr_kernel h5mr__kernel_anomaly;
extern const h5mr_kernel h5mr__kernel_normdiff;

const h5mr_kernel *const h5mr__builtins[] = {
    &h5mr__kernel_sum,  &h5mr__kernel_minmax,      &h5mr__kernel_stats, &h5mr__kernel_histogram, &h5mr__kernel_count,
    &h5mr__kernel_topk, &h5mr__kernel_valuecounts, &h5mr__kernel_corr,  &h5mr__kernel_cov,       &h5mr__kernel_convert, &h5mr__kernel_scale, &h5mr__kernel_anomaly, &h5mr__kernel_normdiff, NULL};
