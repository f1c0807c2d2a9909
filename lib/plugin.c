/* plugin.c: loading user kernels from shared objects (--plugin). */
#include "internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

h5mr_status h5mr_plugin_load(const char *path, h5mr_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return h5mr__error_set(err, H5MR_EUSAGE, "cannot load plugin '%s': %s", path, strerror(errno));
    /* A path without a slash would be searched for in the library path: make it local. */
    char local[4096];
    snprintf(local, sizeof local, "%s%s", strchr(path, '/') ? "" : "./", path);
    void *h = dlopen(local, RTLD_NOW | RTLD_LOCAL);
    if (!h) return h5mr__error_set(err, H5MR_EUSAGE, "cannot load plugin '%s': %s", path, dlerror());
    h5mr_plugin_init_fn init;
    /* dlsym gives a data pointer; the union is the accepted way to make it a function. */
    union {
        void *p;
        h5mr_plugin_init_fn f;
    } u = {dlsym(h, H5MR_PLUGIN_ENTRY)};
    init = u.f;
    if (!init) {
        dlclose(h);
        return h5mr__error_set(err, H5MR_EUSAGE, "plugin '%s' has no entry point %s()", path, H5MR_PLUGIN_ENTRY);
    }
    h5mr_error e = {0};
    h5mr_status rc = init(H5MR_KERNEL_ABI, &e);
    if (rc != H5MR_OK) {
        /* Kernels it registered stay registered: their code must stay loaded too. */
        return h5mr__error_set(err, H5MR_EUSAGE, "plugin '%s' failed to register its kernels: %s", path,
                               e.message[0] ? e.message : h5mr_strerror(rc));
    }
    return H5MR_OK; /* the handle stays open for the life of the process */
}
