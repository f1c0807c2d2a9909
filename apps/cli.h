/* cli.h: what the h5mr subcommands share. */
#ifndef H5MR_CLI_H
#define H5MR_CLI_H

#include <stdint.h>

#include "h5mr.h"

enum { EXIT_OK = 0, EXIT_RUN = 1, EXIT_USAGE = 2, EXIT_INPUT = 3 };

typedef struct cli {
    int rank, size; /* in MPI_COMM_WORLD (without MPI: 0 and 1) */
    int mpi;        /* MPI is initialised (run always; the others only under a launcher) */
} cli;

/* Rank 0's exit code to every rank (a no-op without MPI). */
void cli_share_code(const cli *c, int *code);

/* s with control characters and bytes that are not UTF-8 written as \xNN (for a
 * terminal), in buf. */
const char *cli_safe(const char *s, char *buf, size_t len);
/* Print "h5mr: <message>" on stderr, on rank 0 only, as one line (cli_safe). */
void cli_error(const cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The exit code of a library status. */
int cli_exit_code(h5mr_status st);
/* Parse a whole non-negative decimal number; 0 on success. */
int cli_parse_u64(const char *s, uint64_t *out);
/* Parse "AxBxC" into dims; returns the rank, or -1. */
int cli_parse_dims(const char *s, uint64_t *dims, int max);
/* The option that getopt_long could not use, for the message. */
const char *cli_bad_option(char **argv, int optopt_char);

/* Load plugins on every rank; all ranks agree, rank 0 prints the first failure.
 * Returns 0 or EXIT_USAGE.  Collective over MPI_COMM_WORLD. */
int cli_load_plugins(cli *c, char **paths, int n);

/* guard.c: signals, crashes, a lost launcher and --timeout end the process cleanly
 * (temporary files removed, one "h5mr:" line, exit 1).  Install after MPI_Init. */
void guard_install(int rank);
/* handler for the n signals of sigs (flags: sigaction's sa_flags). */
void guard_on(void (*handler)(int), int flags, const int *sigs, int n);
void guard_set_timeout(double seconds);
void guard_set_checkpointing(void); /* SIGTERM/SIGINT: stop after a checkpoint */
/* The command is done and its exit code known: a stop signal now exits with it, silently. */
void guard_finishing(int code);
/* fn is called (from a signal handler: async-signal-safe only) before such an exit. */
void guard_add_cleanup(void (*fn)(void));
/* Closest-name suggestion: " (did you mean 'x'?)" or "" (buf has room for 128). */
const char *cli_did_you_mean(char *buf, size_t len, const char *word, const char *const *names, size_t n,
                             const char *prefix);

int cmd_run(cli *c, int argc, char **argv);
int cmd_gen(cli *c, int argc, char **argv);
int cmd_kernels(cli *c, int argc, char **argv);
int cmd_info(cli *c, int argc, char **argv);

#endif
