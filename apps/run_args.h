/* run_args.h: the options of `h5mr run`, parsed without printing (testable, fuzzed). */
#ifndef H5MR_RUN_ARGS_H
#define H5MR_RUN_ARGS_H

#include <stddef.h>
#include <stdint.h>

#include "h5mr.h"

typedef struct run_opts {
    const char *kernel;
    uint64_t chunk_rows;
    h5mr_schedule schedule;
    h5mr_io io;
    int json, stats, force;
    double timeout_s;                       /* 0: none */
    int ranks;                              /* -n N: 0 when not given */
    int progress;                           /* -1 auto (when stderr is a terminal), 0 off, 1 on */
    const char *file, *dataset, *output;    /* file: the first of files */
    int raw;                                /* --raw */
    const char *mask, *weights, *by, *with; /* companions: [FILE:]DATASET */
    char **files;                           /* FILE... (room for argc entries) */
    int nfiles;
    char **lists; /* --files-from LIST (room for argc entries) */
    int nlists;
    char **params;
    int nparams;
    char **plugins; /* room for argc entries too */
    int nplugins;
    const char *checkpoint; /* --checkpoint FILE */
    double checkpoint_every; /* 0: the default */
    int resume;
    h5mr_store_opts store; /* map: --dtype, --chunk, --gzip, --shuffle (dtype -1, gzip -1: not given) */
    int store_given;
} run_opts;

/* Parse argv (argv[0] is "run" or "map": the messages' prefix).  o->params must have room for argc entries; the
 * strings stay argv's.  Returns 0, -1 for --help, or an exit code (EXIT_USAGE) with
 * the message (no "h5mr: " prefix) in msg. */
int run_args_parse(int argc, char **argv, run_opts *o, char *msg, size_t len);
/* The N of -n N (1 to 10^6), or -1. */
int run_args_ranks(const char *s);

#endif
