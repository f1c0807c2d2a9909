/* h5mr.c: the h5mr command: picks the subcommand, owns MPI_Init/Finalize (when MPI is
 * needed) and the exit code. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage[] = "Usage: h5mr COMMAND [OPTIONS] ...\n"
                            "Map-reduce over HDF5 datasets with MPI.\n"
                            "\n"
                            "Commands:\n"
                            "  run     [OPTIONS] FILE DATASET   run one kernel over one dataset (under mpirun)\n"
                            "  gen     [OPTIONS] FILE DATASET   write a synthetic dataset\n"
                            "  info    [--json] FILE [DATASET]  a file's datasets, or one dataset and its item plan\n"
                            "  kernels [--json]                 list the registered kernels and their parameters\n"
                            "\n"
                            "Options:\n"
                            "  -h, --help      this text (also `h5mr COMMAND --help`)\n"
                            "  -V, --version   print the version\n"
                            "\n"
                            "Exit codes: 0 success, 1 failure while running, 2 usage, 3 bad input file or dataset.\n"
                            "Example: mpirun -n 4 h5mr run -k stats data.h5 /temperature\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "-h") || !strcmp(sub, "--help")) {
        fputs(usage, stdout);
        return EXIT_OK;
    }
    if (!strcmp(sub, "-V") || !strcmp(sub, "--version")) {
        printf("h5mr %s\n", h5mr_version());
        return EXIT_OK;
    }
    int (*fn)(cli *, int, char **) = NULL;
    if (!strcmp(sub, "run"))
        fn = cmd_run;
    else if (!strcmp(sub, "gen"))
        fn = cmd_gen;
    else if (!strcmp(sub, "kernels"))
        fn = cmd_kernels;
    else if (!strcmp(sub, "info"))
        fn = cmd_info;

    /* MPI_Init costs 0.1-0.3 s: info, gen and kernels start MPI only when a launcher
     * started several of them (so that only rank 0 prints and all share its exit
     * code); run always does. */
    cli c = {0, 1, 1};
    const char *launched = getenv("OMPI_COMM_WORLD_SIZE") ? getenv("OMPI_COMM_WORLD_SIZE") : getenv("PMIX_SIZE");
    c.mpi = fn == cmd_run || (launched && atoi(launched) > 1);
    if (c.mpi) {
        MPI_Init(&argc, &argv);
        MPI_Comm_rank(MPI_COMM_WORLD, &c.rank);
        MPI_Comm_size(MPI_COMM_WORLD, &c.size);
    }
    guard_install(c.rank);
    int code;
    if (!fn) {
        static const char *const commands[] = {"run", "gen", "info", "kernels"};
        char hint[160];
        cli_did_you_mean(hint, sizeof hint, sub, commands, 4, "");
        cli_error(&c, "unknown command '%s'%s (commands: run, gen, info, kernels; see h5mr --help)", sub, hint);
        code = EXIT_USAGE;
    } else {
        code = fn(&c, argc - 1, argv + 1);
    }
    fflush(stdout);
    guard_finishing(code);
    /* Every rank leaves with the same code; the commands already agreed on it. */
    if (c.mpi) MPI_Finalize();
    return code;
}
