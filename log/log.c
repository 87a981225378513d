/*
 * log: see log.h.
 */
#include "log/log.h"
#include "utf8/utf8.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *log_program = "orch";
static enum log_level log_max_level = LOG_LEVEL_INFO;
/* stderr is connected to the journal: "<N>" priority prefixes. */
static bool log_journal;

static const char *const log_level_names[] = {
    [LOG_LEVEL_ERROR] = "error",
    [LOG_LEVEL_WARN] = "warn",
    [LOG_LEVEL_INFO] = "info",
    [LOG_LEVEL_DEBUG] = "debug",
};

/* syslog(3) priorities of the levels, as journald reads them from "<N>". */
static const int log_level_priority[] = {
    [LOG_LEVEL_ERROR] = 3, /* LOG_ERR */
    [LOG_LEVEL_WARN] = 4,  /* LOG_WARNING */
    [LOG_LEVEL_INFO] = 6,  /* LOG_INFO */
    [LOG_LEVEL_DEBUG] = 7, /* LOG_DEBUG */
};

/* Whether stderr is the stream systemd connected to the journal: the
 * variable alone is not enough, since it is inherited by children whose
 * stderr may have been redirected (e.g. orchctl run from a unit's shell
 * with 2>file), so its device and inode must match stderr's. */
static bool log_stderr_is_journal(void)
{
    const char *e = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    int used = 0;

    if (!e || sscanf(e, "%llu:%llu%n", &dev, &ino, &used) != 2 ||
        e[used] != '\0')
        return false;
    if (fstat(STDERR_FILENO, &st) < 0)
        return false;
    return (unsigned long long)st.st_dev == dev &&
           (unsigned long long)st.st_ino == ino;
}

void log_init(const char *program, enum log_level level)
{
    log_program = program;
    log_max_level = level;
    log_journal = log_stderr_is_journal();
}

void log_set_level(enum log_level level)
{
    log_max_level = level;
}

int log_level_parse(const char *name)
{
    for (size_t i = 0; i < sizeof(log_level_names) / sizeof(*log_level_names);
         i++)
        if (strcmp(name, log_level_names[i]) == 0)
            return (int)i;
    return -EINVAL;
}

/* Copy msg into out (size bytes; returns the length written, without a
 * NUL) with what a terminal or a log reader would act on written as
 * "\xNN": C0 controls (a newline would forge a line), DEL, C1 controls
 * and bytes that are not UTF-8.  Messages carry what clients send (request
 * paths, names), so this is where they are made harmless. */
static size_t log_escape(const char *msg, char *out, size_t size)
{
    const unsigned char *p = (const unsigned char *)msg;
    size_t used = 0;

    while (*p) {
        size_t n = utf8_seq_len(p), k;

        if (n == 0 || (n == 1 && (*p < 0x20 || *p == 0x7f)) ||
            (n == 2 && p[0] == 0xc2 && p[1] < 0xa0)) {
            n = n ? n : 1;
            if (used + 4 * n >= size)
                break;
            for (k = 0; k < n; k++)
                used +=
                    (size_t)snprintf(out + used, size - used, "\\x%02x", p[k]);
        } else {
            if (used + n >= size)
                break;
            memcpy(out + used, p, n);
            used += n;
        }
        p += n;
    }
    return used;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    char line[4096], msg[4096];
    va_list ap;
    int n;
    int saved_errno = errno;

    if (level > log_max_level)
        return;
    /* snprintf returns what it would have written: keep n inside the
     * line, or a long prefix would send the message past its end. */
    if (log_journal)
        n = snprintf(line, sizeof(line), "<%d>%s: ", log_level_priority[level],
                     log_level_names[level]);
    else
        n = snprintf(line, sizeof(line), "%s: %s: ", log_program,
                     log_level_names[level]);
    if (n < 0)
        n = 0;
    if (n < (int)sizeof(line) - 1) {
        va_start(ap, fmt);
        if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
            msg[0] = '\0';
        va_end(ap);
        /* One byte stays free for the newline. */
        n += (int)log_escape(msg, line + n, sizeof(line) - 1 - (size_t)n);
    }
    if (n >= (int)sizeof(line) - 1)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    /* One write per line so lines from several threads never interleave. */
    if (write(STDERR_FILENO, line, (size_t)n) < 0) {
        /* Nowhere left to report it. */
    }
    errno = saved_errno;
}
