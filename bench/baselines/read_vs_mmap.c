/* read_vs_mmap.c: what the copy out of the page cache costs a kernel.  Folds a file's
 * doubles read four ways: pread into a 4 MiB buffer (what HDF5's sec2 driver does),
 * mmap of 64 MiB windows read in place, the same with MAP_POPULATE, and 4 MiB mapped,
 * read in with MADV_POPULATE_READ and unmapped at a time (what h5mr does in place).
 * The fold: a sum (four accumulators, the compiler's vector code), or with `work` a
 * kernel that computes more per value (a square and a bin counted).  Prints the whole
 * time and the fold's.  bench/RESULTS.md §22, §23.
 *
 *   gcc -O2 -march=native -o /tmp/read_vs_mmap bench/baselines/read_vs_mmap.c
 *   cat FILE > /dev/null; /tmp/read_vs_mmap FILE pread|mmap|mmap-pop|mmap-madv [work]
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

static unsigned bins[256];

/* More per value: a square summed and a bin counted. */
static double work(const double *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double v = x[i] * 7.3 + 100;
        bins[(int)v & 255]++;
        s += v * v;
    }
    return s;
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
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: read_vs_mmap FILE pread|mmap|mmap-pop|mmap-madv [work]\n");
        return 2;
    }
    int fd = open(argv[1], O_RDONLY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        perror(argv[1]);
        return 1;
    }
    size_t n = (size_t)sb.st_size & ~(BLOCK - 1);
    double (*fold)(const double *, size_t) = argc == 4 && !strcmp(argv[3], "work") ? work : sum;
    double *buf = aligned_alloc(4096, BLOCK), s = 0, t0 = now(), tf = 0;
    if (!strcmp(argv[2], "pread")) {
        for (size_t off = 0; off < n; off += BLOCK) {
            if (pread(fd, buf, BLOCK, (off_t)off) != (ssize_t)BLOCK) return 1;
            double t = now();
            s += fold(buf, BLOCK / 8);
            tf += now() - t;
        }
    } else if (!strcmp(argv[2], "mmap-madv")) {
        for (size_t off = 0; off < n; off += BLOCK) {
            double *p = mmap(NULL, BLOCK, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, (off_t)off);
            if (p == MAP_FAILED || madvise(p, BLOCK, MADV_POPULATE_READ) != 0) {
                perror("mmap");
                return 1;
            }
            double t = now();
            s += fold(p, BLOCK / 8);
            tf += now() - t;
            munmap(p, BLOCK);
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
            double t = now();
            for (size_t o = 0; o < len; o += BLOCK)
                s += fold(p + o / 8, BLOCK / 8);
            tf += now() - t;
            munmap(p, len);
        }
    }
    double t1 = now();
    printf("%s %s %.3f s %.2f GB/s, the fold %.3f s (%g)\n", argv[2], fold == work ? "work" : "sum", t1 - t0,
           (double)n / (t1 - t0) / 1e9, tf, s);
    free(buf);
    return 0;
}
