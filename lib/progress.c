/* progress.c: how far a run is, reported by rank 0 between items. */
#include "internal.h"

static void call(h5mr__progress *p, uint64_t done, double now, int final)
{
    if (done > p->items) done = p->items;
    h5mr_progress r = {done,
                       p->items,
                       p->items ? (uint64_t)((double)p->bytes * (double)done / (double)p->items) : 0,
                       p->bytes,
                       p->pass ? *p->pass : 0,
                       p->passes,
                       now - p->t0,
                       final};
    p->fn(&r, p->arg);
    p->next = now + p->every;
}

void h5mr__progress_tick(h5mr__progress *p, uint64_t done)
{
    if (!p || !p->fn) return;
    double now = h5mr__now();
    if (now >= p->next) call(p, done, now, 0);
}

void h5mr__progress_final(h5mr__progress *p)
{
    if (p && p->fn) call(p, p->items, h5mr__now(), 1);
}
