/* weighted.h: the weighted sums `sum` and `stats` share (weighted.c); not installed. */
#ifndef H5MR_WEIGHTED_H
#define H5MR_WEIGHTED_H

#include "h5mr.h"

/* The state of everything (P = 0): counts, min, max and exact Σw, Σw·x, Σw·x². */
typedef struct h5mr__wstate {
    int64_t n, nan;
    double mn, mx;
    h5mr_xsum w, wx, wxx;
} h5mr__wstate;

/* Per-pixel scratch of one block. */
typedef struct h5mr__wscratch {
    double *buf;
    uint64_t P;
} h5mr__wscratch;

/* The state's bytes (over_rows: P pixels, else P 0), and its identity. */
size_t h5mr__wstate_size(uint64_t P);
void h5mr__winit(void *state, uint64_t P);
void h5mr__wscratch_free(h5mr__wscratch *s);
/* Whether this CPU has FMA (and H5MR_NO_FMA=1 is not set): the FMA paths of weighted.c
 * and stats.c, which give the same bits as the portable ones. */
int h5mr__have_fma(void);
/* Fold block b with weights w (squares: Σw·x² too); a negative weight is EKERNEL. */
h5mr_status h5mr__wfold(h5mr_ctx *ctx, void *state, uint64_t P, int over_rows, const h5mr_block *b, const h5mr_rows *w,
                        int squares, h5mr__wscratch *sc);
void h5mr__wcombine(void *into, const void *from, uint64_t P, int over_rows);
/* count, sum (Σw·x), weight (Σw); with stats also nan_count, mean, var, std, min, max. */
h5mr_status h5mr__wfinish(const void *state, uint64_t P, int over_rows, int stats, int nd, const uint64_t *shape,
                          h5mr_result *r);

#endif
