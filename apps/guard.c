/* guard.c: how an h5mr process ends when it is told to, or cannot go on.
 *
 * - SIGTERM, SIGINT, SIGHUP (Slurm's time limit, Ctrl-C, a lost terminal): remove
 *   the temporary files being written, rank 0 says why, exit 1.
 * - A crash (SIGSEGV, SIGBUS, SIGFPE, SIGILL), in a plugin kernel most likely: one
 *   "h5mr:" line from the rank that crashed instead of Open MPI's backtrace, exit 1.
 * - The launcher gone (mpirun or orted killed): a rank notices within 0.2 s that its
 *   parent changed and exits, so no rank finishes and writes output after the user
 *   has the prompt back.
 * - With --checkpoint, the first SIGTERM or SIGINT asks the job to stop
 *   (h5mr_request_stop): it writes its checkpoint and every rank exits 1; if that has
 *   not happened within STOP_WITHIN_S - 1 seconds, the watchdog stops the rank.
 * - --timeout S: every rank stops S seconds after it started, exit 1.
 * The watchdog is a thread that makes no MPI call; everything a handler does is
 * async-signal-safe (unlink, write, _exit). */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define MAX_CLEANUPS 4
#define STOP_WITHIN_S 10 /* after SIGTERM or SIGINT, every rank has stopped */

static int guard_rank;
static void (*cleanups[MAX_CLEANUPS])(void);
static int ncleanups;
static pid_t parent0;
static int watch_parent;
static double deadline; /* CLOCK_MONOTONIC seconds; 0: none */
static double timeout_s;
static pthread_t watchdog;
static int watchdog_started;

static void run_cleanups(void)
{
    h5mr_temporaries_remove();
    for (int i = 0; i < ncleanups; i++)
        cleanups[i]();
}

/* write(2) of a whole message; nothing else is safe in a handler. */
static void say(const char *a, const char *b, const char *c, const char *d)
{
    char line[512];
    size_t n = 0;
    const char *parts[] = {"h5mr: ", a, b, c, d, "\n"};
    for (int i = 0; i < 6; i++)
        for (const char *p = parts[i]; p && *p && n < sizeof line - 2; p++)
            line[n++] = *p;
    if (line[n - 1] != '\n') line[n++] = '\n';
    if (write(STDERR_FILENO, line, n) < 0) return;
}

static const char *signame(int sig)
{
    switch (sig) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGHUP: return "SIGHUP";
    case SIGUSR1: return "SIGUSR1";
    case SIGUSR2: return "SIGUSR2";
    case SIGSEGV: return "a segmentation fault (SIGSEGV)";
    case SIGBUS: return "a bus error (SIGBUS)";
    case SIGFPE: return "an arithmetic fault (SIGFPE)";
    case SIGILL: return "an illegal instruction (SIGILL)";
    default: return "a signal";
    }
}

static volatile sig_atomic_t finishing = -1; /* the exit code once decided */
static int checkpointing;                    /* a --checkpoint to write before stopping */
static volatile sig_atomic_t asked_at;       /* CLOCK_MONOTONIC seconds of that signal */

static int forwarded; /* H5MR_SIGNALS_FORWARDED: SIGUSR1 and SIGUSR2 are h5mr -n's SIGTERM and SIGINT */

/* The signal the user sent. */
static int named(int sig)
{
    if (forwarded && sig == SIGUSR1) return SIGTERM;
    if (forwarded && sig == SIGUSR2) return SIGINT;
    return sig;
}

static void on_stop(int sig)
{
    sig = named(sig);
    if (checkpointing && !asked_at && finishing < 0) {
        /* The job stops at its next item, writes its checkpoint and returns (stop
         * signal seconds after the signal at the latest: the watchdog); a second
         * signal stops at once. */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        asked_at = (sig_atomic_t)(ts.tv_sec > 0 ? ts.tv_sec : 1);
        h5mr_request_stop(sig);
        return;
    }
    run_cleanups();
    /* Past the job (in MPI_Finalize, say, when mpirun stops the others because one
     * rank left first), the outcome is known and already said. */
    if (finishing >= 0) _exit(finishing);
    if (guard_rank == 0) {
        say("stopped by ", signame(sig), "; no output written", NULL);
    } else {
        /* Let rank 0 say it first: once one rank leaves, mpirun ends the others. */
        struct timespec ts = {0, 300 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    _exit(EXIT_RUN);
}

void guard_finishing(int code) { finishing = code; }

#if !defined(__SANITIZE_ADDRESS__)
static void utoa(unsigned v, char *buf)
{
    char tmp[16];
    int n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) && n < 15);
    for (int i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
}

static void on_crash(int sig)
{
    run_cleanups();
    char r[16];
    utoa((unsigned)guard_rank, r);
    say("rank ", r, " crashed with ", signame(sig));
    _exit(EXIT_RUN);
}
#endif

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Open MPI's shared-memory segment of this rank (/dev/shm/vader_segment.HOST.JOBID.LOCAL,
 * JOBID in hex): removed by MPI_Finalize or by mpirun, so a rank that outlives its
 * mpirun removes its own. */
static char shm_suffix[64];

static void remove_shm_segment(void)
{
    if (!shm_suffix[0]) return;
    DIR *d = opendir("/dev/shm");
    if (!d) return;
    size_t ls = strlen(shm_suffix);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t ln = strlen(e->d_name);
        if (strncmp(e->d_name, "vader_segment.", 14) != 0 || ln <= ls || strcmp(e->d_name + ln - ls, shm_suffix) != 0)
            continue;
        char path[512];
        snprintf(path, sizeof path, "/dev/shm/%s", e->d_name);
        unlink(path);
    }
    closedir(d);
}

static void *watch(void *arg)
{
    (void)arg;
    struct timespec tick = {0, 200 * 1000 * 1000};
    for (;;) {
        nanosleep(&tick, NULL);
        if (watch_parent && getppid() != parent0) {
            run_cleanups();
            remove_shm_segment();
            _exit(EXIT_RUN);
        }
        if (asked_at && now() >= (double)asked_at + STOP_WITHIN_S - 1.0 + (guard_rank == 0 ? 0.0 : 0.5)) {
            run_cleanups();
            if (guard_rank == 0)
                say("stopped by a signal, without a checkpoint: the job did not reach the end of an item in time", NULL,
                    NULL, NULL);
            _exit(EXIT_RUN);
        }
        /* Rank 0 stops first and says why; the others a second later, unless mpirun
         * has ended them by then. */
        if (deadline > 0 && now() >= deadline + (guard_rank == 0 ? 0.0 : 1.0)) {
            run_cleanups();
            if (guard_rank == 0) {
                char msg[128];
                snprintf(msg, sizeof msg, "the job ran longer than --timeout %g s; stopped, no output written",
                         timeout_s);
                say(msg, NULL, NULL, NULL);
            }
            _exit(EXIT_RUN);
        }
    }
    return NULL;
}

static void start_watchdog(void)
{
    if (watchdog_started) return;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* signals go to the main thread */
    if (pthread_create(&watchdog, NULL, watch, NULL) == 0) {
        pthread_detach(watchdog);
        watchdog_started = 1;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void guard_on(void (*handler)(int), int flags, const int *sigs, int n)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = handler;
    sa.sa_flags = flags;
    for (int i = 0; i < n; i++)
        sigaction(sigs[i], &sa, NULL);
}

void guard_install(int rank)
{
    guard_rank = rank;
    /* (SIGUSR1: what mpirun forwards to every rank; it ends them itself at SIGTERM) */
    static const int stops[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2};
    guard_on(on_stop, 0, stops, 5);
    forwarded = getenv("H5MR_SIGNALS_FORWARDED") != NULL;
#if !defined(__SANITIZE_ADDRESS__)
    /* (A sanitizer build keeps the sanitizer's own report of a crash.) */
    static const int crashes[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL};
    guard_on(on_crash, SA_RESETHAND, crashes, 4);
#endif
    /* Started by a launcher (mpirun, orted, srun): die with it. */
    if (getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK")) {
        const char *job = getenv("OMPI_MCA_ess_base_jobid"), *local = getenv("OMPI_COMM_WORLD_LOCAL_RANK");
        if (job && local)
            snprintf(shm_suffix, sizeof shm_suffix, ".%lx.%ld", strtoul(job, NULL, 10), strtol(local, NULL, 10));
        parent0 = getppid();
        watch_parent = parent0 > 1;
        if (watch_parent) start_watchdog();
    }
}

void guard_set_timeout(double seconds)
{
    if (seconds <= 0) return;
    timeout_s = seconds;
    deadline = now() + seconds;
    start_watchdog();
}

void guard_set_checkpointing(void)
{
    checkpointing = 1;
    start_watchdog();
}

void guard_add_cleanup(void (*fn)(void))
{
    if (ncleanups < MAX_CLEANUPS) cleanups[ncleanups++] = fn;
}
