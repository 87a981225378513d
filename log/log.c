/*
 * log: see log.h.
 */
#include "log/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *log_program = "orch";
static enum log_level log_max_level = LOG_LEVEL_INFO;

static const char *const log_level_names[] = {
    [LOG_LEVEL_ERROR] = "error",
    [LOG_LEVEL_WARN] = "warn",
    [LOG_LEVEL_INFO] = "info",
    [LOG_LEVEL_DEBUG] = "debug",
};

void log_init(const char *program, enum log_level level)
{
    log_program = program;
    log_max_level = level;
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

void log_msg(enum log_level level, const char *fmt, ...)
{
    char line[4096];
    va_list ap;
    int n;
    int saved_errno = errno;

    if (level > log_max_level)
        return;
    /* snprintf returns what it would have written: keep n inside the
     * line, or a long prefix would send the message past its end. */
    n = snprintf(line, sizeof(line), "%s: %s: ", log_program,
                 log_level_names[level]);
    if (n < 0)
        n = 0;
    if (n < (int)sizeof(line) - 1) {
        int m;
        va_start(ap, fmt);
        m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
        va_end(ap);
        if (m > 0)
            n += m;
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
