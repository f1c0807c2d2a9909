/* guard.c: how an h5mr process ends when it is told to, or cannot go on.
 *
 * - SIGTERM, SIGINT, SIGHUP (Slurm's time limit, Ctrl-C, a lost terminal): remove
 *   the temporary files being written, rank 0 says why, exit 1.
 * - A crash (SIGSEGV, SIGBUS, SIGFPE, SIGILL), in a plugin kernel most likely: one
 *   "h5mr:" line from the rank that crashed instead of Open MPI's backtrace, exit 1.
 * - The launcher gone (mpirun or orted killed): a rank notices within 0.2 s that its
 *   parent changed and exits, so no rank finishes and writes output after the user
 *   has the prompt back.
 * - --timeout S: every rank stops S seconds after it started, exit 1.
 * The watchdog is a thread that makes no MPI call; everything a handler does is
 * async-signal-safe (unlink, write, _exit). */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define MAX_CLEANUPS 4

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

static const char *signame(int sig)
{
    switch (sig) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGHUP: return "SIGHUP";
    case SIGSEGV: return "a segmentation fault (SIGSEGV)";
    case SIGBUS: return "a bus error (SIGBUS)";
    case SIGFPE: return "an arithmetic fault (SIGFPE)";
    case SIGILL: return "an illegal instruction (SIGILL)";
    default: return "a signal";
    }
}

static volatile sig_atomic_t finishing = -1; /* the exit code once decided */

static void on_stop(int sig)
{
    run_cleanups();
    /* Past the job (in MPI_Finalize, say, when mpirun stops the others because one
     * rank left first), the outcome is known and already said. */
    if (finishing >= 0) _exit(finishing);
    if (guard_rank == 0) say("stopped by ", signame(sig), "; no output written", NULL);
    _exit(EXIT_RUN);
}

void guard_finishing(int code) { finishing = code; }

static void on_crash(int sig)
{
    run_cleanups();
    char r[16];
    utoa((unsigned)guard_rank, r);
    say("rank ", r, " crashed with ", signame(sig));
    _exit(EXIT_RUN);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *watch(void *arg)
{
    (void)arg;
    struct timespec tick = {0, 200 * 1000 * 1000};
    for (;;) {
        nanosleep(&tick, NULL);
        if (watch_parent && getppid() != parent0) {
            run_cleanups();
            _exit(EXIT_RUN);
        }
        if (deadline > 0 && now() >= deadline) {
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

void guard_install(int rank)
{
    guard_rank = rank;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
#if !defined(__SANITIZE_ADDRESS__)
    /* (A sanitizer build keeps the sanitizer's own report of a crash.) */
    sa.sa_handler = on_crash;
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGFPE, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);
#endif
    /* Started by a launcher (mpirun, orted, srun): die with it. */
    if (getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK")) {
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

void guard_add_cleanup(void (*fn)(void))
{
    if (ncleanups < MAX_CLEANUPS) cleanups[ncleanups++] = fn;
}
