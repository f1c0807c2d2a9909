/* Plugins for the failure tests, one source built three ways:
 *   -DFAILING   a kernel "fails_on_item" whose map fails on item 2 (a run-time error)
 *   -DBAD_ABI   a kernel built for another ABI
 *   -DNO_ENTRY  no entry point at all */
#include <h5mr.h>

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

#ifdef BAD_ABI
#define ABI (H5MR_KERNEL_ABI + 1)
#else
#define ABI H5MR_KERNEL_ABI
#endif
static const h5mr_kernel k = {
    .abi = ABI, .name = "fails_on_item", .setup = setup, .map = map, .combine = combine, .finish = finish};

#ifndef NO_ENTRY
h5mr_status h5mr_plugin_init(unsigned host_abi, h5mr_error *err);
h5mr_status h5mr_plugin_init(unsigned host_abi, h5mr_error *err) { return h5mr_kernel_register(&k, err); }
#else
int not_an_entry_point(void);
int not_an_entry_point(void) { return k.abi == 0; }
#endif
