/*
 * log: the daemons' and the CLI's diagnostics.
 *
 * Only main() and request handlers log (STYLE.md rule 7); modules return
 * negative errno values instead.  Lines go to stderr as
 * "PROGRAM: LEVEL: message", lowercase, with the failing subject first.
 * A message must never contain a secret such as a bearer token.
 *
 * Thread-safe: each line is written with one write(2).
 */
#ifndef ORCH_LOG_H
#define ORCH_LOG_H

enum log_level {
    LOG_LEVEL_ERROR = 0,
    LOG_LEVEL_WARN,
    LOG_LEVEL_INFO,
    LOG_LEVEL_DEBUG,
};

/* Set the program name shown on every line and the most verbose level
 * printed.  Call once from main() before any other log call; until then
 * lines are printed with the name "orch" at level info. */
void log_init(const char *program, enum log_level level);

/* Change the level, e.g. after a configuration reload. */
void log_set_level(enum log_level level);

/* Parse "error", "warn", "info" or "debug".  Returns the level or -EINVAL. */
int log_level_parse(const char *name);

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
