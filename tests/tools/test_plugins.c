/* Plugins for the failure tests, one source built three ways:
 *   -DFAILING   a kernel "fails_on_item" whose map fails on item 2 (a run-time error),
 *               and three that misbehave as user code can: "spins" never returns from
 *               item 1, "crashes" dereferences NULL on item 1, "shrinks" truncates the
 *               file -p path=... to -p size=... bytes on item 0 (the input changing
 *               under a running job)
 *   -DBAD_ABI   a kernel built for another ABI (a newer one)
 *   -DOLD_ABI   a kernel built for ABI 1
 *   -DNO_ENTRY  no entry point at all */
#include <h5mr.h>
#include <stdlib.h>
#include <unistd.h>

static h5mr_status setup(h5mr_ctx *ctx)
{
    h5mr_ctx_set_state_size(ctx, 8);
    return H5MR_OK;
}
static h5mr_status map(h5mr_ctx *ctx, void *state, const h5mr_block *b)
{
    if (b->item == 2)
        return h5mr_ctx_error(ctx, H5MR_EKERNEL, "fails_on_item: refusing item %llu", (unsigned long long)b->item);
    return H5MR_OK;
}
static h5mr_status combine(h5mr_ctx *ctx, void *into, const void *from) { return H5MR_OK; }
static h5mr_status finish(h5mr_ctx *ctx, const void *state, h5mr_result *r) { return h5mr_result_set_i64(r, "ok", 1); }

#if defined(BAD_ABI)
#define ABI (H5MR_KERNEL_ABI + 1)
#elif defined(OLD_ABI)
#define ABI 1 /* a plugin built against ABI 1, the interface before companions and outputs */
#else
#define ABI H5MR_KERNEL_ABI
#endif
static const h5mr_kernel k = {
    .abi = ABI, .name = "fails_on_item", .setup = setup, .map = map, .combine = combine, .finish = finish};

#ifdef FAILING
static h5mr_status spin_map(h5mr_ctx *ctx, void *state, const h5mr_block *b)
{
    for (volatile int forever = 1; b->item == 1 && forever;)
        ;
    return H5MR_OK;
}
static h5mr_status crash_map(h5mr_ctx *ctx, void *state, const h5mr_block *b)
{
    if (b->item == 1) {
        volatile int *nowhere = NULL;
        *nowhere = 1;
    }
    return H5MR_OK;
}
static const h5mr_param_decl shrink_params[] = {{"path", "", "file to truncate"}, {"size", "0", "new size"}, {0}};
static h5mr_status shrink_map(h5mr_ctx *ctx, void *state, const h5mr_block *b)
{
    int64_t size = 0;
    h5mr_ctx_param_i64(ctx, "size", &size);
    if (b->item == 0 && truncate(h5mr_ctx_param(ctx, "path"), (off_t)size) != 0)
        return h5mr_ctx_error(ctx, H5MR_EKERNEL, "shrinks: cannot truncate");
    return H5MR_OK;
}
static const h5mr_kernel spins = {
    .abi = ABI, .name = "spins", .setup = setup, .map = spin_map, .combine = combine, .finish = finish};
static const h5mr_kernel crashes = {
    .abi = ABI, .name = "crashes", .setup = setup, .map = crash_map, .combine = combine, .finish = finish};
static const h5mr_kernel shrinks = {.abi = ABI,
                                    .name = "shrinks",
                                    .params = shrink_params,
                                    .setup = setup,
                                    .map = shrink_map,
                                    .combine = combine,
                                    .finish = finish};
#endif

#ifndef NO_ENTRY
h5mr_status h5mr_plugin_init(unsigned host_abi, h5mr_error *err);
h5mr_status h5mr_plugin_init(unsigned host_abi, h5mr_error *err)
{
    h5mr_status st = h5mr_kernel_register(&k, err);
#ifdef FAILING
    if (st == H5MR_OK) st = h5mr_kernel_register(&spins, err);
    if (st == H5MR_OK) st = h5mr_kernel_register(&crashes, err);
    if (st == H5MR_OK) st = h5mr_kernel_register(&shrinks, err);
#endif
    return st;
}
#else
int not_an_entry_point(void);
int not_an_entry_point(void) { return k.abi == 0; }
#endif
