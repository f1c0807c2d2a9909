/* h5mr.c: the h5mr command: picks the subcommand, owns MPI_Init/Finalize (when MPI is
 * needed) and the exit code. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "run_args.h"

static const char usage[] =
    "Usage: h5mr COMMAND [OPTIONS] ...\n"
    "Map-reduce over HDF5 datasets with MPI.\n"
    "\n"
    "Commands:\n"
    "  run     [OPTIONS] FILE... DATASET          run one kernel over one dataset (under mpirun,\n"
    "                                              or -n N)\n"
    "  map     [OPTIONS] FILE... DATASET -o OUT   write a transformed dataset, in parallel\n"
    "  gen     [OPTIONS] FILE DATASET             write a synthetic dataset\n"
    "  info    [--json] FILE... [DATASET]         a file's datasets, or one dataset and its plan\n"
    "  kernels [--json]                           list the registered kernels and their parameters\n"
    "\n"
    "Options:\n"
    "  -h, --help      this text (also `h5mr COMMAND --help`)\n"
    "  -V, --version   print the version\n"
    "\n"
    "Exit codes: 0 success, 1 failure while running, 2 usage, 3 bad input file or dataset.\n"
    "Example: mpirun -n 4 h5mr run -k stats data.h5 /temperature\n";

/* Started by a launcher (mpirun, orted, srun with PMIx)? */
static int launched(void) { return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK"); }

/* MPI settings that start fast on one machine (MPI_Init 0.1 s instead of 0.3: no
 * probing of network components), where the user set none. */
static void fast_local_mpi(void)
{
    setenv("OMPI_MCA_pml", "ob1", 0);
    setenv("OMPI_MCA_btl", "self,vader", 0);
    /* hwloc's OpenGL plugin looks for X displays :0 to :9 in every process */
    setenv("HWLOC_COMPONENTS", "-gl", 0);
    /* mpirun would wait 2 s after a rank exits non-zero, even when all have */
    setenv("OMPI_MCA_odls_base_sigkill_timeout", "0", 0);
}

/* The rank's TCP connection to its node's PMIx server (mpirun, orted or the singleton's
 * orted) sends small messages with Nagle's algorithm on: in MPI_Finalize a message waits
 * for the acknowledgement of the one before, which the server delays by 40 ms (measured:
 * MPI_Finalize 46 ms -> 4 ms, a tiny `run -n 2` 0.16 -> 0.11 s).  TCP_NODELAY on the
 * loopback stream sockets open after MPI_Init: the control connection only (the TCP
 * BTL, if used, connects later and sets its own).  Changes nothing but latency. */
static void pmix_nodelay(void)
{
    for (int fd = 3; fd < 1024; fd++) {
        int type = 0, one = 1;
        socklen_t len = sizeof type;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM) continue;
        struct sockaddr_storage peer;
        len = sizeof peer;
        if (getpeername(fd, (struct sockaddr *)&peer, &len) != 0) continue;
        int loopback = 0;
        if (peer.ss_family == AF_INET)
            loopback = (ntohl(((struct sockaddr_in *)&peer)->sin_addr.s_addr) >> 24) == 127;
        else if (peer.ss_family == AF_INET6)
            loopback = IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&peer)->sin6_addr);
        if (loopback) (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
}

static volatile sig_atomic_t ranks_pid, stops_forwarded;

/* The launcher's SIGTERM, SIGINT or SIGHUP (Ctrl-C: mpirun is in a process group of its
 * own): to every rank as SIGUSR1 or SIGUSR2, which mpirun forwards (at its own SIGTERM
 * or SIGINT it ends the ranks at once, before a checkpoint could be written); the ranks
 * know them as SIGTERM and SIGINT (H5MR_SIGNALS_FORWARDED).  A second signal: SIGTERM
 * to mpirun, which ends them now. */
static void forward_stop(int sig)
{
    if (ranks_pid > 0) kill((pid_t)ranks_pid, stops_forwarded++ ? SIGTERM : sig == SIGINT ? SIGUSR2 : SIGUSR1);
}

/* `h5mr run -n N ...` outside a launcher: the same command on N ranks through mpirun,
 * which this process waits for; its exit code. */
static int start_ranks(int argc, char **argv, int n)
{
    char self[4096], np[16];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) return EXIT_RUN;
    self[len] = '\0';
    snprintf(np, sizeof np, "%d", n);
    char **av = calloc((size_t)argc + 16, sizeof *av);
    if (!av) return EXIT_RUN;
    int k = 0;
    av[k++] = H5MR_MPIRUN;
    av[k++] = "-n";
    av[k++] = np;
    av[k++] = "-q";              /* h5mr says what went wrong itself */
    av[k++] = "--oversubscribe"; /* N may be more than the cores: it is the user's choice */
    av[k++] = "--bind-to";
    av[k++] = "none";
    av[k++] = "--stdin"; /* not in the terminal's foreground: never reads it */
    av[k++] = "none";
    if (geteuid() == 0) av[k++] = "--allow-run-as-root";
    av[k++] = self;
    for (int i = 1; i < argc; i++)
        av[k++] = argv[i];
    fast_local_mpi();
    setenv("H5MR_SIGNALS_FORWARDED", "1", 1);
    static const int stops[] = {SIGTERM, SIGINT, SIGHUP};
    guard_on(forward_stop, 0, stops, 3);
    int pfd[2]; /* the child's exec error, if any */
    if (pipe(pfd) != 0) pfd[0] = pfd[1] = -1;
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        if (pfd[0] >= 0) close(pfd[0]);
        if (pfd[1] >= 0) fcntl(pfd[1], F_SETFD, FD_CLOEXEC);
        execv(av[0], av);
        int e = errno;
        if (pfd[1] >= 0 && write(pfd[1], &e, sizeof e) < 0) _exit(EXIT_RUN);
        _exit(EXIT_RUN);
    }
    int e = pid < 0 ? errno : 0;
    if (pid > 0) {
        setpgid(pid, pid); /* (either side may be first) */
        ranks_pid = pid;
    }
    if (pfd[1] >= 0) close(pfd[1]);
    if (pid > 0 && pfd[0] >= 0 && read(pfd[0], &e, sizeof e) != (ssize_t)sizeof e) e = 0;
    if (pfd[0] >= 0) close(pfd[0]);
    int status = 0;
    while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (e) {
        fprintf(stderr, "h5mr: run -n %d: cannot start %s: %s\n", n, av[0], strerror(e));
        free(av);
        return EXIT_RUN;
    }
    free(av);
    return WIFEXITED(status) ? WEXITSTATUS(status) : EXIT_RUN;
}

/* The N of run's -n (0: none), read by run's own option parser; a parse that fails
 * is left to cmd_run to report. */
static int ranks_asked(int argc, char **argv)
{
    run_opts o = {0};
    char msg[512];
    o.params = calloc((size_t)argc + 1, sizeof *o.params);
    o.plugins = calloc((size_t)argc + 1, sizeof *o.plugins);
    int n = o.params && o.plugins && run_args_parse(argc - 1, argv + 1, &o, msg, sizeof msg) == 0 ? o.ranks : 0;
    free(o.params);
    free(o.plugins);
    return n;
}

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
    if (!strcmp(sub, "run") || !strcmp(sub, "map"))
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
    if (fn == cmd_run && !launched()) {
        int n = ranks_asked(argc, argv);
        if (n > 1) return start_ranks(argc, argv, n);
        fast_local_mpi(); /* one rank, a singleton */
    }
    cli c = {0, 1, 1};
    const char *launched = getenv("OMPI_COMM_WORLD_SIZE") ? getenv("OMPI_COMM_WORLD_SIZE") : getenv("PMIX_SIZE");
    c.mpi = fn == cmd_run || (launched && atoi(launched) > 1);
    if (c.mpi) {
        if (MPI_Init(&argc, &argv) != MPI_SUCCESS) {
            fputs("h5mr: MPI_Init failed\n", stderr);
            return EXIT_RUN;
        }
        pmix_nodelay();
        MPI_Comm_rank(MPI_COMM_WORLD, &c.rank);
        MPI_Comm_size(MPI_COMM_WORLD, &c.size);
    }
    guard_install(c.rank);
    int code;
    if (!fn) {
        static const char *const commands[] = {"run", "map", "gen", "info", "kernels"};
        char hint[160];
        cli_did_you_mean(hint, sizeof hint, sub, commands, 5, "");
        cli_error(&c, "unknown command '%s'%s (commands: run, map, gen, info, kernels; see h5mr --help)", sub, hint);
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
