/* atomic.h: writing a file so that its name shows the old content or the whole new
 * one, never anything between (SQLite's commit, for one file).
 *
 *   1. The new content goes into an unnamed file in the target's folder (O_TMPFILE),
 *      or, where the file system has none, into a private temporary name (mkstemp)
 *      whose descriptor is kept: nothing ever reopens a name it did not create.
 *   2. fsync of the file; it gets the old file's mode (or 0666 & ~umask).
 *   3. It is linked under a fresh temporary name and renamed over the target, with
 *      the termination signals blocked in between; fsync of the folder.
 * A killed writer leaves no file at all with O_TMPFILE, otherwise at most a temporary
 * `.NAME.h5mr-PID-XXXXXX` that is never taken for output: a signal handler removes it
 * (atomic_remove_temporaries, async-signal-safe), and after kill -9 the next writer of
 * NAME does (atomic_remove_stale).
 *
 * Header-only (static): the library (--output) and the command (gen) each include it
 * once and keep their own list of temporaries.  Never installed. */
#ifndef H5MR_ATOMIC_H
#define H5MR_ATOMIC_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#ifdef __linux__
#include <linux/fs.h> /* FICLONE */
#endif
#include <sys/types.h>
#include <unistd.h>

#if defined(__linux__) && !defined(O_TMPFILE)
/* <fcntl.h> shows it only with _GNU_SOURCE; the value is the kernel's ABI. */
#define O_TMPFILE (020000000 | O_DIRECTORY)
#endif

/* ".NAME.h5mr-PID-XXXXXX": the PID of the writer, so a later writer of NAME can
 * remove what a killed one left. */
#define ATOMIC_SUFFIX ".h5mr-4194304-XXXXXX"
#define ATOMIC_MAX_TEMPS 4

typedef struct atomic_file {
    char target[PATH_MAX];
    char dir[PATH_MAX];
    char tmpname[PATH_MAX]; /* the named temporary, "" with O_TMPFILE */
    char path[PATH_MAX];    /* a name another open() reaches the new file by */
    int dirfd, fd, slot;
    mode_t mode;
} atomic_file;

/* Names a signal handler may have to remove: fixed storage, no allocation. */
static char atomic_temps[ATOMIC_MAX_TEMPS][PATH_MAX];
static volatile sig_atomic_t atomic_temp_used[ATOMIC_MAX_TEMPS];

static inline void atomic_remove_temporaries(void)
{
    for (int i = 0; i < ATOMIC_MAX_TEMPS; i++)
        if (atomic_temp_used[i]) {
            unlink(atomic_temps[i]);
            atomic_temp_used[i] = 0;
        }
}

static inline int atomic_register(const char *name)
{
    for (int i = 0; i < ATOMIC_MAX_TEMPS; i++)
        if (!atomic_temp_used[i]) {
            snprintf(atomic_temps[i], sizeof atomic_temps[i], "%s", name);
            atomic_temp_used[i] = 1;
            return i;
        }
    return -1;
}

static inline void atomic_unregister(int slot)
{
    if (slot >= 0) atomic_temp_used[slot] = 0;
}

static inline void atomic_block(sigset_t *old)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGTERM);
    sigaddset(&s, SIGINT);
    sigaddset(&s, SIGHUP);
    sigaddset(&s, SIGQUIT);
    sigprocmask(SIG_BLOCK, &s, old);
}

/* Split target into folder and name; 0, or an errno (ENAMETOOLONG: no room for the
 * temporary suffix). */
static inline int atomic_split(const char *target, char *dir, size_t dirlen, const char **base)
{
    const char *slash = strrchr(target, '/');
    *base = slash ? slash + 1 : target;
    if (!**base) return EISDIR;
    if (strlen(*base) + sizeof ATOMIC_SUFFIX + 1 > NAME_MAX || strlen(target) + sizeof ATOMIC_SUFFIX + 1 >= PATH_MAX)
        return ENAMETOOLONG;
    if (!slash)
        snprintf(dir, dirlen, ".");
    else if (slash == target)
        snprintf(dir, dirlen, "/");
    else if (snprintf(dir, dirlen, "%.*s", (int)(slash - target), target) >= (int)dirlen)
        return ENAMETOOLONG;
    return 0;
}

/* Remove temporaries of base in dir left by writers that no longer run (kill -9). */
static inline void atomic_remove_stale(const char *dir, const char *base)
{
    DIR *d = opendir(dir);
    if (!d) return;
    char prefix[NAME_MAX + 1];
    int np = snprintf(prefix, sizeof prefix, ".%s.h5mr-", base);
    struct dirent *e;
    while (np > 0 && np < (int)sizeof prefix && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, (size_t)np) != 0) continue;
        long pid = strtol(e->d_name + np, NULL, 10);
        if (pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno == ESRCH)) {
            char path[PATH_MAX];
            if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < (int)sizeof path) unlink(path);
        }
    }
    closedir(d);
}

/* Start writing target.  named: the new file must have a name that HDF5 can open
 * (it resolves names, and an unnamed file has none), so a private temporary is used.
 * 0, or an errno with *what naming the step. */
/* The part of atomic_begin and atomic_begin_kept before the new file: the target's
 * folder (open), name and mode (an existing target's, else what umask gives). */
static inline int atomic_prepare(atomic_file *a, const char *target, const char **base, const char **what)
{
    memset(a, 0, sizeof *a);
    a->fd = a->dirfd = -1;
    a->slot = -1;
    int e = atomic_split(target, a->dir, sizeof a->dir, base);
    *what = "the name";
    if (e) return e;
    if (snprintf(a->target, sizeof a->target, "%s", target) >= (int)sizeof a->target) return ENAMETOOLONG;
    struct stat sb;
    if (stat(target, &sb) == 0) {
        a->mode = sb.st_mode & 07777;
    } else {
        mode_t mask = umask(0);
        umask(mask);
        a->mode = 0666 & ~mask;
    }
    *what = "its folder";
    if ((a->dirfd = open(a->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) return errno;
    return 0;
}

static inline int atomic_begin(atomic_file *a, const char *target, int named, const char **what)
{
    const char *base;
    int e = atomic_prepare(a, target, &base, what);
    if (e) return e;
    *what = "a temporary file";
    atomic_remove_stale(a->dir, base);
#ifdef O_TMPFILE
    if (!named) a->fd = openat(a->dirfd, ".", O_RDWR | O_TMPFILE | O_CLOEXEC, a->mode);
    if (a->fd >= 0) {
        snprintf(a->path, sizeof a->path, "/proc/self/fd/%d", a->fd);
        if (access(a->path, F_OK) != 0) { /* no /proc: cannot be reopened, nor linked */
            close(a->fd);
            a->fd = -1;
        }
    }
#endif
    if (a->fd < 0) {
        if (snprintf(a->tmpname, sizeof a->tmpname, "%s/.%s.h5mr-%ld-XXXXXX", a->dir, base, (long)getpid()) >=
            (int)sizeof a->tmpname)
            return ENAMETOOLONG;
        sigset_t old;
        atomic_block(&old);
        a->fd = mkstemp(a->tmpname);
        if (a->fd >= 0) fcntl(a->fd, F_SETFD, FD_CLOEXEC);
        if (a->fd >= 0) a->slot = atomic_register(a->tmpname);
        int err = errno;
        sigprocmask(SIG_SETMASK, &old, NULL);
        if (a->fd < 0) {
            close(a->dirfd);
            a->dirfd = -1;
            return err;
        }
        snprintf(a->path, sizeof a->path, "%s", a->tmpname);
    }
    /* mkstemp made it 0600; an O_TMPFILE file got the mode already.  Best effort: the
     * content is what matters, and a file system without modes (vfat) says no. */
    (void)fchmod(a->fd, a->mode);
    return 0;
}

/* Start writing target under the fixed name `name` in its folder (not one that
 * atomic_remove_stale takes for a dead writer's), which survives the writer: the
 * partial output of a job with a checkpoint.  resume: take `name` as it is if it
 * exists (*existed 1), else make it afresh.  Not removed at a signal; atomic_commit
 * renames it into place, atomic_keep leaves it.  0 or an errno (*what: the step). */
static inline int atomic_begin_kept(atomic_file *a, const char *target, const char *name, int resume, int *existed,
                                    const char **what)
{
    *existed = 0;
    const char *base;
    int e = atomic_prepare(a, target, &base, what);
    if (e) return e;
    if (snprintf(a->tmpname, sizeof a->tmpname, "%s/%s", a->dir, name) >= (int)sizeof a->tmpname) {
        a->tmpname[0] = '\0';
        close(a->dirfd);
        a->dirfd = -1;
        return ENAMETOOLONG;
    }
    *what = "the partial output";
    if (resume && (a->fd = open(a->tmpname, O_RDWR | O_CLOEXEC)) >= 0) *existed = 1;
    if (a->fd < 0) a->fd = open(a->tmpname, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, a->mode);
    if (a->fd < 0) {
        e = errno;
        close(a->dirfd);
        a->dirfd = -1;
        a->tmpname[0] = '\0';
        return e;
    }
    snprintf(a->path, sizeof a->path, "%s", a->tmpname);
    return 0;
}

/* Stop writing, leaving the new file (atomic_begin_kept's) where it is. */
static inline void atomic_keep(atomic_file *a)
{
    if (a->fd >= 0) close(a->fd);
    if (a->dirfd >= 0) close(a->dirfd);
    a->fd = a->dirfd = -1;
    a->tmpname[0] = '\0';
}

/* Write n bytes at offset off of the new file.  0 or an errno. */
static inline int atomic_pwrite(atomic_file *a, const void *buf, size_t n, off_t off)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = pwrite(a->fd, p, n, off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return errno;
        if (w == 0) return EIO;
        p += w, n -= (size_t)w, off += w;
    }
    return 0;
}

/* Copy the whole of file src into the new file (an existing file that gains a part).
 * 0 or an errno. */
static inline int atomic_copy_from(atomic_file *a, const char *src)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) return errno;
    static char buf[1 << 20];
    off_t off = 0;
    int e = 0;
    for (;;) {
        ssize_t r = read(in, buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            e = errno;
            break;
        }
        if (r == 0) break;
        if ((e = atomic_pwrite(a, buf, (size_t)r, off)) != 0) break;
        off += r;
    }
    close(in);
    return e;
}

/* The new file as a copy of src (an existing file that gains a part): its extents
 * shared where the file system can (FICLONE), its bytes copied otherwise.  0 or an
 * errno. */
static inline int atomic_copy_existing(atomic_file *a, const char *src)
{
#ifdef FICLONE
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) return errno;
    int shared = ioctl(a->fd, FICLONE, in) == 0;
    close(in);
    if (shared) return 0;
#endif
    return atomic_copy_from(a, src);
}

/* Give up: the new file goes away, the target is untouched. */
static inline void atomic_abort(atomic_file *a)
{
    if (a->fd >= 0) close(a->fd);
    if (a->tmpname[0]) unlink(a->tmpname);
    atomic_unregister(a->slot);
    if (a->dirfd >= 0) close(a->dirfd);
    a->fd = a->dirfd = -1;
    a->slot = -1;
    a->tmpname[0] = '\0';
}

/* Put the new file in place of the target.  0, or an errno with *what naming the step
 * (the target is then untouched and the new file gone). */
static inline int atomic_commit(atomic_file *a, const char **what)
{
    int e = 0;
    sigset_t old;
    *what = "flushing it to disk";
    if (fsync(a->fd) != 0) {
        e = errno;
        atomic_abort(a);
        return e;
    }
    atomic_block(&old);
    if (!a->tmpname[0]) {
        /* Give the unnamed file a fresh temporary name, then rename that. */
        const char *base = strrchr(a->target, '/');
        base = base ? base + 1 : a->target;
        *what = "linking it into its folder";
        for (int tries = 0; tries < 100; tries++) {
            char name[PATH_MAX];
            if (snprintf(name, sizeof name, "%s/.%s.h5mr-%ld-%06x", a->dir, base, (long)getpid(),
                         (unsigned)((unsigned)getpid() * 2654435761u ^ (unsigned)tries * 40503u) & 0xffffffu) >=
                (int)sizeof name) {
                e = ENAMETOOLONG;
                break;
            }
            if (linkat(AT_FDCWD, a->path, AT_FDCWD, name, AT_SYMLINK_FOLLOW) == 0) {
                snprintf(a->tmpname, sizeof a->tmpname, "%s", name);
                a->slot = atomic_register(a->tmpname);
                e = 0;
                break;
            }
            e = errno;
            if (e != EEXIST) break;
        }
    }
    if (e == 0) {
        *what = "renaming it into place";
        if (rename(a->tmpname, a->target) != 0)
            e = errno;
        else
            a->tmpname[0] = '\0';
    }
    atomic_unregister(a->slot);
    a->slot = -1;
    /* The new file is in place and on disk; if the folder's fsync fails (some file
     * systems refuse it on a directory) only its entry may not be yet. */
    if (e == 0) (void)fsync(a->dirfd);
    atomic_abort(a); /* closes; removes the temporary name if the rename failed */
    sigprocmask(SIG_SETMASK, &old, NULL);
    return e;
}

#endif
