/*
 * log: the daemons' and the CLI's diagnostics.
 *
 * Only main() and request handlers log (STYLE.md rule 7); modules return
 * negative errno values instead.  Lines go to stderr as
 * "PROGRAM: LEVEL: message", lowercase, with the failing subject first.
 * When stderr is the journal (systemd sets JOURNAL_STREAM to the
 * "DEVICE:INODE" of the stream it connected, and stderr is that stream)
 * each line instead starts with the syslog priority in sd-daemon(3)'s
 * "<N>" form and leaves out the program name, which journald records on
 * its own: "<3>error: message" (error 3, warn 4, info 6, debug 7).
 * A message must never contain a secret such as a bearer token.  What a
 * client sent may go into one: control characters (a newline included),
 * DEL, C1 controls and bytes that are not UTF-8 are written as "\xNN", so a
 * message is always one harmless line.
 *
 * Thread-safe: each line is written with one write(2).
 */
#ifndef ORCH_LOG_H
#define ORCH_LOG_H

#include <stdbool.h>

enum log_level {
    LOG_LEVEL_ERROR = 0,
    LOG_LEVEL_WARN,
    LOG_LEVEL_INFO,
    LOG_LEVEL_DEBUG,
};

/* Set the program name shown on every line and the most verbose level
 * printed, and look at JOURNAL_STREAM (above).  Call once from main()
 * before any other log call; until then lines are printed with the name
 * "orch" at level info, without priority prefixes. */
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

/*
 * Rate limiting, for a warning a client can cause at will (a wrong bearer
 * token on every request) and must not be able to flood the log with: the
 * first occurrence is logged in full; the ones that follow within the
 * interval are only counted; the first one after the interval is logged as
 * one summary of the count, and opens the next interval.  An interval in
 * which nothing was counted ends the burst: the next occurrence is logged
 * in full again.  So a steady stream costs one line per interval.
 *
 * This only decides; the caller logs.  No locking: one owner thread per
 * struct (e.g. the event loop that handles the requests).
 */
struct log_ratelimit {
    long long interval_ms;
    long long since_ms;       /* when the last line was logged */
    unsigned long long count; /* counted since then, not yet logged */
    bool started;
};

#define LOG_RATELIMIT_INIT(interval_s)                                         \
    {                                                                          \
        .interval_ms = (interval_s)*1000LL                                     \
    }

enum log_ratelimit_verdict {
    LOG_RATELIMIT_FULL,    /* log this occurrence in full */
    LOG_RATELIMIT_QUIET,   /* log nothing; it was counted */
    LOG_RATELIMIT_SUMMARY, /* log one summary of *ret_count occurrences */
};

/* Account one occurrence at now_ms (a monotonic clock, in ms).  For
 * LOG_RATELIMIT_SUMMARY, *ret_count gets the number of occurrences since
 * the last line, this one included, and *ret_span_ms the time since that
 * line; both are left alone otherwise. */
enum log_ratelimit_verdict log_ratelimit_hit(struct log_ratelimit *rl,
                                             long long now_ms,
                                             unsigned long long *ret_count,
                                             long long *ret_span_ms);

/* The occurrences counted and not yet logged (for a last summary, e.g. at
 * exit; 0: nothing to say), with *ret_span_ms the time since the last line.
 * They count as logged afterwards. */
unsigned long long log_ratelimit_flush(struct log_ratelimit *rl,
                                       long long now_ms,
                                       long long *ret_span_ms);

#endif
