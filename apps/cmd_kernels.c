/* cmd_kernels.c: `h5mr kernels` — the registered kernels and their parameters. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char kernels_usage[] = "Usage: h5mr kernels [--json]\n"
                                    "List the registered kernels, their parameters and defaults; map kernels (which\n"
                                    "write a dataset, for h5mr map) are marked so.\n"
                                    "  --json      one JSON object on stdout\n"
                                    "  -h, --help  this text\n";

int cmd_kernels(cli *c, int argc, char **argv)
{
    int json = 0, nplugins = 0;
    char *plugins[64];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--plugin") && i + 1 < argc && nplugins < 64)
            plugins[nplugins++] = argv[++i];
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            if (c->rank == 0) fputs(kernels_usage, stdout);
            return EXIT_OK;
        } else {
            cli_error(c, "kernels: unknown argument '%s' (see h5mr kernels --help)", argv[i]);
            return EXIT_USAGE;
        }
    }
    int code = cli_load_plugins(c, plugins, nplugins);
    if (code != 0) return code;
    if (c->rank != 0) return EXIT_OK;
    if (json) fputs("{\"kernels\": [", stdout);
    for (size_t i = 0; i < h5mr_kernel_count(); i++) {
        const h5mr_kernel *k = h5mr_kernel_at(i);
        if (json) {
            fputs(i ? ", {\"name\": " : "{\"name\": ", stdout);
            h5mr_json_write_string(stdout, k->name);
            fputs(", \"description\": ", stdout);
            h5mr_json_write_string(stdout, k->description ? k->description : "");
            fprintf(stdout, ", \"command\": \"%s\"", h5mr_kernel_writes(k) ? "map" : "run");
            fputs(", \"params\": [", stdout);
        } else {
            printf("%-12s %s%s\n", k->name, h5mr_kernel_writes(k) ? "(h5mr map) " : "",
                   k->description ? k->description : "");
        }
        for (const h5mr_param_decl *p = k->params; p && p->key; p++) {
            if (json) {
                fputs(p == k->params ? "{\"key\": " : ", {\"key\": ", stdout);
                h5mr_json_write_string(stdout, p->key);
                fputs(", \"default\": ", stdout);
                if (p->default_value)
                    h5mr_json_write_string(stdout, p->default_value);
                else
                    fputs("null", stdout);
                fputs(", \"help\": ", stdout);
                h5mr_json_write_string(stdout, p->help ? p->help : "");
                fputc('}', stdout);
            } else {
                printf("  -p %s=...%*s %s", p->key, (int)(10 - strlen(p->key)), "", p->help ? p->help : "");
                if (p->default_value) printf(" (default: %s)", p->default_value);
                putchar('\n');
            }
        }
        if (json) fputs("]}", stdout);
    }
    if (json) fputs("]}\n", stdout);
    return EXIT_OK;
}
