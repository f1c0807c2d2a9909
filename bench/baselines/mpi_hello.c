/* mpi_hello.c: how long a bare MPI program spends in MPI_Init, a barrier and
 * MPI_Finalize, each rank's figures on stderr; with the argument "nodelay", TCP_NODELAY
 * on the loopback TCP sockets open after MPI_Init first (what apps/h5mr.c does: the
 * connection to the PMIx server).  bench/RESULTS.md §22.
 *
 *   mpicc -O2 -o /tmp/mpi_hello bench/baselines/mpi_hello.c
 *   OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader mpirun -q -n 2 --bind-to none /tmp/mpi_hello [nodelay]
 */
#include <mpi.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void nodelay(void)
{
    for (int fd = 3; fd < 1024; fd++) {
        int type = 0, one = 1;
        socklen_t len = sizeof type;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM) continue;
        struct sockaddr_storage a;
        len = sizeof a;
        if (getpeername(fd, (struct sockaddr *)&a, &len) != 0) continue;
        if (a.ss_family == AF_INET || a.ss_family == AF_INET6)
            (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
}

int main(int argc, char **argv)
{
    double t0 = now();
    if (MPI_Init(&argc, &argv) != MPI_SUCCESS) return 1;
    double t1 = now();
    if (argc > 1 && !strcmp(argv[1], "nodelay")) nodelay();
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Barrier(MPI_COMM_WORLD);
    double t2 = now();
    MPI_Finalize();
    double t3 = now();
    fprintf(stderr, "rank %d: MPI_Init %.3f s, barrier %.3f s, MPI_Finalize %.3f s\n", rank, t1 - t0, t2 - t1, t3 - t2);
    return 0;
}
