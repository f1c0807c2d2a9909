/* cli.c: helpers the h5mr subcommands share (messages, exit codes, number parsing). */
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "suggest.h"
#include "utf8.h"

const char *cli_did_you_mean(char *buf, size_t len, const char *word, const char *const *names, size_t n,
                             const char *prefix)
{
    const char *near = h5mr__suggest(word, names, n);
    buf[0] = '\0';
    if (near) snprintf(buf, len, "; did you mean '%s%s'?", prefix ? prefix : "", near);
    return buf;
}

const char *cli_safe(const char *s, char *buf, size_t len)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && n + 5 < len; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            n += (size_t)snprintf(buf + n, len - n, "\\x%02x", *p);
        } else if (*p >= 0x80) {
            /* keep valid UTF-8 (a name in Greek), escape stray bytes */
            int k = h5mr__utf8_len(p);
            if (k > 0 && n + (size_t)k < len) {
                memcpy(buf + n, p, (size_t)k);
                n += (size_t)k;
                p += k - 1;
            } else {
                n += (size_t)snprintf(buf + n, len - n, "\\x%02x", *p);
            }
        } else {
            buf[n++] = (char)*p;
        }
    }
    buf[n] = '\0';
    return buf;
}

void cli_error(const cli *c, const char *fmt, ...)
{
    if (c->rank != 0) return;
    char msg[1024], safe[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* One line whatever the names in it hold: no control character reaches the terminal. */
    fprintf(stderr, "h5mr: %s\n", cli_safe(msg, safe, sizeof safe));
}

int cli_exit_code(h5mr_status st)
{
    switch (st) {
    case H5MR_OK: return EXIT_OK;
    case H5MR_EUSAGE: return EXIT_USAGE;
    case H5MR_EINPUT: return EXIT_INPUT;
    default: return EXIT_RUN;
    }
}

int cli_parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s) return -1;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10) return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *out = v;
    return 0;
}

int cli_parse_dims(const char *s, uint64_t *dims, int max)
{
    int n = 0;
    char buf[512];
    if (!s || strlen(s) >= sizeof buf) return -1;
    strcpy(buf, s);
    char *save = NULL;
    for (char *tok = strtok_r(buf, "x,", &save); tok; tok = strtok_r(NULL, "x,", &save)) {
        if (n == max || cli_parse_u64(tok, &dims[n])) return -1;
        n++;
    }
    return n > 0 && s[strlen(s) - 1] != 'x' && s[strlen(s) - 1] != ',' ? n : -1;
}

const char *cli_bad_option(char **argv, int optopt_char)
{
    static char buf[8];
    extern int optind;
    if (optopt_char) {
        snprintf(buf, sizeof buf, "-%c", optopt_char);
        return buf;
    }
    return argv[optind - 1];
}

void cli_share_code(const cli *c, int *code)
{
    if (c->mpi) MPI_Bcast(code, 1, MPI_INT, 0, MPI_COMM_WORLD);
}

int cli_load_plugins(cli *c, char **paths, int n)
{
    h5mr_error err = {0};
    h5mr_status st = H5MR_OK;
    for (int i = 0; i < n && st == H5MR_OK; i++)
        st = h5mr_plugin_load(paths[i], &err);
    if (!c->mpi) {
        if (st == H5MR_OK) return 0;
        cli_error(c, "%s", err.message);
        return EXIT_USAGE;
    }
    /* A plugin may load on some nodes and not on others: agree, and say the first. */
    int mine = st == H5MR_OK ? INT_MAX : c->rank, first = INT_MAX;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (first == INT_MAX) return 0;
    MPI_Bcast(err.message, (int)sizeof err.message, MPI_CHAR, first, MPI_COMM_WORLD);
    err.message[sizeof err.message - 1] = '\0';
    cli_error(c, "%s%s", err.message, first != 0 ? " (on some ranks)" : "");
    return EXIT_USAGE;
}
