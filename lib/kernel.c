/* kernel.c: the kernel registry and what a kernel sees of a job (h5mr_ctx). */
#include "internal.h"
#include "suggest.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_KERNELS 256

static const h5mr_kernel *registry[MAX_KERNELS];
static size_t nregistered;

static h5mr_status kernel_add(const h5mr_kernel *k, h5mr_error *err)
{
    if (!k || !k->name || !k->name[0]) return h5mr__error_set(err, H5MR_EUSAGE, "kernel without a name");
    if (k->abi != H5MR_KERNEL_ABI)
        return h5mr__error_set(err, H5MR_EINPUT,
                               "kernel '%s' was built for kernel ABI %u, this h5mr has ABI %u; rebuild it against "
                               "this h5mr's h5mr.h",
                               k->name, k->abi, (unsigned)H5MR_KERNEL_ABI);
    if (!k->map || !k->combine || !k->finish)
        return h5mr__error_set(err, H5MR_EUSAGE, "kernel '%s' lacks map, combine or finish", k->name);
    int var = (k->state_new != NULL) + (k->state_free != NULL) + (k->pack != NULL) + (k->unpack != NULL);
    if (var != 0 && var != 4)
        return h5mr__error_set(err, H5MR_EUSAGE, "kernel '%s' gives only some of state_new, state_free, pack, unpack",
                               k->name);
    for (size_t i = 0; i < nregistered; i++)
        if (strcmp(registry[i]->name, k->name) == 0)
            return h5mr__error_set(err, H5MR_EUSAGE, "a kernel named '%s' is already registered", k->name);
    if (nregistered == MAX_KERNELS)
        return h5mr__error_set(err, H5MR_ELIMIT, "more than %d kernels registered", MAX_KERNELS);
    registry[nregistered++] = k;
    return H5MR_OK;
}

/* The built-ins go through the same checks as any plugin's kernels, once. */
static void ensure_builtins(void)
{
    static int done = 0;
    if (done) return;
    done = 1;
    for (size_t i = 0; h5mr__builtins[i]; i++)
        kernel_add(h5mr__builtins[i], NULL);
}

h5mr_status h5mr_kernel_register(const h5mr_kernel *k, h5mr_error *err)
{
    ensure_builtins();
    return kernel_add(k, err);
}

const h5mr_kernel *h5mr_kernel_find(const char *name)
{
    ensure_builtins();
    for (size_t i = 0; name && i < nregistered; i++)
        if (strcmp(registry[i]->name, name) == 0) return registry[i];
    return NULL;
}

size_t h5mr_kernel_count(void)
{
    ensure_builtins();
    return nregistered;
}

const h5mr_kernel *h5mr_kernel_at(size_t i)
{
    ensure_builtins();
    return i < nregistered ? registry[i] : NULL;
}

/* ---------------------------------------------------------------- context */

static const h5mr_param_decl *find_decl(const h5mr_kernel *k, const char *key)
{
    for (const h5mr_param_decl *p = k->params; p && p->key; p++)
        if (strcmp(p->key, key) == 0) return p;
    return NULL;
}

const char *h5mr_ctx_param(const h5mr_ctx *ctx, const char *key)
{
    /* h5mr__ctx_setup refuses a key given twice, so at most one matches. */
    for (size_t i = ctx->nparams; i-- > 0;)
        if (strcmp(ctx->params[i].key, key) == 0) return ctx->params[i].value;
    const h5mr_param_decl *d = find_decl(ctx->kernel, key);
    return d ? d->default_value : NULL;
}

h5mr_status h5mr_ctx_param_i64(h5mr_ctx *ctx, const char *key, int64_t *out)
{
    const char *s = h5mr_ctx_param(ctx, key);
    if (!s) return H5MR_OK;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end != '\0')
        return h5mr_ctx_error(ctx, H5MR_EUSAGE, "kernel %s: parameter %s=%s is not an integer", ctx->kernel->name, key,
                              s);
    *out = v;
    return H5MR_OK;
}

h5mr_status h5mr_ctx_param_f64(h5mr_ctx *ctx, const char *key, double *out)
{
    const char *s = h5mr_ctx_param(ctx, key);
    if (!s) return H5MR_OK;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || isnan(v))
        return h5mr_ctx_error(ctx, H5MR_EUSAGE, "kernel %s: parameter %s=%s is not a number", ctx->kernel->name, key,
                              s);
    *out = v;
    return H5MR_OK;
}

h5mr_status h5mr_ctx_param_bool(h5mr_ctx *ctx, const char *key, int *out)
{
    const char *s = h5mr_ctx_param(ctx, key);
    if (!s) return H5MR_OK;
    if (!strcasecmp(s, "true") || !strcmp(s, "1") || !strcasecmp(s, "yes"))
        *out = 1;
    else if (!strcasecmp(s, "false") || !strcmp(s, "0") || !strcasecmp(s, "no"))
        *out = 0;
    else
        return h5mr_ctx_error(ctx, H5MR_EUSAGE, "kernel %s: parameter %s=%s is not true or false", ctx->kernel->name,
                              key, s);
    return H5MR_OK;
}

h5mr_dtype h5mr_ctx_dtype(const h5mr_ctx *ctx) { return ctx->dtype; }
int h5mr_ctx_values_integral(const h5mr_ctx *ctx) { return ctx->integral; }
const h5mr_packing *h5mr_ctx_packing(const h5mr_ctx *ctx) { return ctx->offer_packed ? &ctx->packing : NULL; }
void h5mr_ctx_accept_packed(h5mr_ctx *ctx)
{
    if (!ctx->offer_packed) return;
    ctx->packed = 1;
    ctx->dtype = ctx->stored;
    ctx->integral = 0;
}
int h5mr_ctx_ndims(const h5mr_ctx *ctx) { return ctx->ndims; }
const uint64_t *h5mr_ctx_shape(const h5mr_ctx *ctx) { return ctx->shape; }
void h5mr_ctx_set_state_size(h5mr_ctx *ctx, size_t nbytes) { ctx->state_size = nbytes; }
void h5mr_ctx_set_passes(h5mr_ctx *ctx, int passes) { ctx->passes = passes > 1 ? passes : 1; }
void h5mr_ctx_allow_joined_items(h5mr_ctx *ctx) { ctx->joined_items = 1; }
int h5mr_ctx_pass(const h5mr_ctx *ctx) { return ctx->pass; }
int h5mr_ctx_has_input(const h5mr_ctx *ctx, h5mr_role role)
{
    return (unsigned)role < 32 && (ctx->inputs >> (unsigned)role & 1u);
}
void h5mr_ctx_accept_input(h5mr_ctx *ctx, h5mr_role role)
{
    if ((unsigned)role < 32) ctx->accepted |= 1u << (unsigned)role;
}

int h5mr_ctx_add_output_rows(h5mr_ctx *ctx, h5mr_dtype dtype, const char *name, int ndims, const uint64_t *shape)
{
    int i = ctx->noutputs;
    if (i >= H5MR_MAX_OUTPUTS || (unsigned)dtype >= H5MR_DTYPE_COUNT || ndims < 1 || ndims > H5MR__MAX_DIMS ||
        (ctx->ndims > 0 && shape[0] != ctx->shape[0]) || (name && strlen(name) >= sizeof ctx->out_name[0]))
        return -1;
    ctx->out_dtype[i] = dtype;
    snprintf(ctx->out_name[i], sizeof ctx->out_name[i], "%s", name ? name : "");
    ctx->out_ndims[i] = ndims;
    ctx->out_row_elems[i] = 1;
    for (int d = 0; d < ndims; d++) {
        ctx->out_shape[i][d] = shape[d];
        if (d) ctx->out_row_elems[i] *= shape[d];
    }
    return ctx->noutputs++;
}

int h5mr_ctx_add_output(h5mr_ctx *ctx, h5mr_dtype dtype)
{
    static const uint64_t one = 1;
    return h5mr_ctx_add_output_rows(ctx, dtype, NULL, ctx->ndims > 0 ? ctx->ndims : 1,
                                    ctx->ndims > 0 ? ctx->shape : &one);
}

int h5mr_kernel_writes(const h5mr_kernel *k)
{
    if (!k) return 0;
    static const uint64_t one = 1;
    h5mr_error e = {0};
    h5mr_ctx ctx = {.kernel = k, .dtype = H5MR_DTYPE_F64, .ndims = 1, .shape = &one, .err = &e};
    ctx.inputs = 1u << H5MR_ROLE_MASK | 1u << H5MR_ROLE_WEIGHTS | 1u << H5MR_ROLE_BY | 1u << H5MR_ROLE_WITH;
    if (k->setup) k->setup(&ctx);
    h5mr__ctx_release(&ctx);
    return ctx.noutputs > 0;
}

void h5mr_ctx_set_config(h5mr_ctx *ctx, void *config, void (*free_fn)(void *))
{
    if (ctx->config && ctx->config_free) ctx->config_free(ctx->config);
    ctx->config = config;
    ctx->config_free = free_fn;
}

void *h5mr_ctx_config(const h5mr_ctx *ctx) { return ctx->config; }

void *h5mr_ctx_config_alloc(h5mr_ctx *ctx, size_t size, void (*free_fn)(void *))
{
    void *c = calloc(1, size ? size : 1);
    if (c) h5mr_ctx_set_config(ctx, c, free_fn ? free_fn : free);
    return c;
}

h5mr_status h5mr_ctx_error(h5mr_ctx *ctx, h5mr_status st, const char *fmt, ...)
{
    if (ctx->err) {
        char msg[sizeof ctx->err->message];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        h5mr__error_set(ctx->err, st, "%s", msg);
    }
    return st;
}

h5mr_status h5mr__ctx_setup(h5mr_ctx *ctx)
{
    for (size_t i = 0; i < ctx->nparams; i++) {
        const char *key = ctx->params[i].key;
        if (!find_decl(ctx->kernel, key)) {
            char known[256] = "";
            const char *names[64];
            size_t nnames = 0;
            for (const h5mr_param_decl *p = ctx->kernel->params; p && p->key; p++) {
                if (known[0]) strncat(known, ", ", sizeof known - strlen(known) - 1);
                strncat(known, p->key, sizeof known - strlen(known) - 1);
                if (nnames < 64) names[nnames++] = p->key;
            }
            const char *near = h5mr__suggest(key, names, nnames);
            if (near)
                return h5mr_ctx_error(ctx, H5MR_EUSAGE, "kernel %s has no parameter '%s'; did you mean '%s'? (%s%s)",
                                      ctx->kernel->name, key, near, "it takes: ", known);
            return h5mr_ctx_error(ctx, H5MR_EUSAGE, "kernel %s has no parameter '%s' (%s%s)", ctx->kernel->name, key,
                                  known[0] ? "it takes: " : "it takes none", known);
        }
        /* One value a key: a second -p for the same key is a mistake, not an update. */
        for (size_t j = 0; j < i; j++)
            if (!strcmp(ctx->params[j].key, key))
                return h5mr_ctx_error(ctx, H5MR_EUSAGE, "kernel %s: parameter %s is given twice (%s=%s and %s=%s)",
                                      ctx->kernel->name, key, key, ctx->params[j].value, key, ctx->params[i].value);
    }
    ctx->state_size = 0;
    ctx->passes = 1;
    ctx->pass = 0;
    ctx->accepted = 1u << H5MR_ROLE_MASK;
    ctx->noutputs = 0;
    if (ctx->kernel->setup) {
        h5mr_status st = ctx->kernel->setup(ctx);
        if (st != H5MR_OK) {
            if (ctx->err && ctx->err->message[0] == '\0')
                h5mr_ctx_error(ctx, st, "kernel %s: setup failed (%s)", ctx->kernel->name, h5mr_strerror(st));
            return st;
        }
    }
    if (!ctx->kernel->state_new && ctx->state_size == 0)
        return h5mr_ctx_error(ctx, H5MR_EKERNEL, "kernel %s set no state size", ctx->kernel->name);
    if (ctx->passes > 1 && !ctx->kernel->end_pass)
        return h5mr_ctx_error(ctx, H5MR_EKERNEL, "kernel %s asks for %d passes but has no end_pass", ctx->kernel->name,
                              ctx->passes);
    /* No companion is silently ignored. */
    static const struct {
        h5mr_role role;
        const char *option, *who;
    } uses[] = {{H5MR_ROLE_WEIGHTS, "--weights", "sum and stats do"},
                {H5MR_ROLE_BY, "--by", "sum, stats, minmax and count do"},
                {H5MR_ROLE_WITH, "--with", "corr, cov and normdiff do"}};
    for (size_t i = 0; i < sizeof uses / sizeof uses[0]; i++)
        if (h5mr_ctx_has_input(ctx, uses[i].role) && !(ctx->accepted & (1u << uses[i].role)))
            return h5mr_ctx_error(ctx, H5MR_EUSAGE, "kernel %s does not take %s (%s)", ctx->kernel->name,
                                  uses[i].option, uses[i].who);
    return H5MR_OK;
}

void h5mr__ctx_release(h5mr_ctx *ctx)
{
    if (ctx->config && ctx->config_free) ctx->config_free(ctx->config);
    ctx->config = NULL;
    ctx->config_free = NULL;
}

void *h5mr__state_new(h5mr_ctx *ctx)
{
    if (ctx->kernel->state_new) return ctx->kernel->state_new(ctx);
    void *s = calloc(1, ctx->state_size);
    if (s && ctx->kernel->init && ctx->kernel->init(ctx, s) != H5MR_OK) {
        free(s);
        return NULL;
    }
    return s;
}

void h5mr__state_free(h5mr_ctx *ctx, void *state)
{
    if (!state) return;
    if (ctx->kernel->state_free)
        ctx->kernel->state_free(ctx, state);
    else
        free(state);
}

h5mr_status h5mr__state_pack(h5mr_ctx *ctx, const void *state, void **bytes, size_t *n, int *owned)
{
    if (ctx->kernel->pack) {
        *owned = 1;
        return ctx->kernel->pack(ctx, state, bytes, n);
    }
    *owned = 0;
    *bytes = (void *)state;
    *n = ctx->state_size;
    return H5MR_OK;
}

h5mr_status h5mr__state_unpack(h5mr_ctx *ctx, void *state, const void *bytes, size_t n)
{
    if (ctx->kernel->unpack) return ctx->kernel->unpack(ctx, state, bytes, n);
    if (n != ctx->state_size)
        return h5mr_ctx_error(ctx, H5MR_EINTERNAL, "kernel %s: packed state of %zu bytes, expected %zu",
                              ctx->kernel->name, n, ctx->state_size);
    memcpy(state, bytes, n);
    return H5MR_OK;
}
