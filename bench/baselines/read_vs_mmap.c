/* read_vs_mmap.c: what the copy out of the page cache costs a read-bound kernel.  Sums
 * a file's doubles (four accumulators, the compiler's vector code) read three ways:
 * pread into a 4 MiB buffer (what HDF5's sec2 driver and h5mr do), mmap of 64 MiB
 * windows read in place, and the same with MAP_POPULATE.  bench/RESULTS.md §22.
 *
 *   gcc -O2 -march=native -o /tmp/read_vs_mmap bench/baselines/read_vs_mmap.c
 *   cat FILE > /dev/null; /tmp/read_vs_mmap FILE pread|mmap|mmap-pop
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BLOCK ((size_t)4 << 20)
#define WINDOW ((size_t)64 << 20)

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double sum(const double *x, size_t n)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i + 4 <= n; i += 4)
        s0 += x[i], s1 += x[i + 1], s2 += x[i + 2], s3 += x[i + 3];
    return s0 + s1 + s2 + s3;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: read_vs_mmap FILE pread|mmap|mmap-pop\n");
        return 2;
    }
    int fd = open(argv[1], O_RDONLY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        perror(argv[1]);
        return 1;
    }
    size_t n = (size_t)sb.st_size & ~(BLOCK - 1);
    double *buf = aligned_alloc(4096, BLOCK), s = 0, t0 = now();
    if (!strcmp(argv[2], "pread")) {
        for (size_t off = 0; off < n; off += BLOCK) {
            if (pread(fd, buf, BLOCK, (off_t)off) != (ssize_t)BLOCK) return 1;
            s += sum(buf, BLOCK / 8);
        }
    } else {
        int flags = MAP_PRIVATE | (!strcmp(argv[2], "mmap-pop") ? MAP_POPULATE : 0);
        for (size_t off = 0; off < n; off += WINDOW) {
            size_t len = n - off < WINDOW ? n - off : WINDOW;
            double *p = mmap(NULL, len, PROT_READ, flags, fd, (off_t)off);
            if (p == MAP_FAILED) {
                perror("mmap");
                return 1;
            }
            for (size_t o = 0; o < len; o += BLOCK)
                s += sum(p + o / 8, BLOCK / 8);
            munmap(p, len);
        }
    }
    double t1 = now();
    printf("%s %.3f s %.2f GB/s (sum %g)\n", argv[2], t1 - t0, (double)n / (t1 - t0) / 1e9, s);
    free(buf);
    return 0;
}
