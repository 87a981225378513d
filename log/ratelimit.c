/*
 * Rate limiting of repeated warnings.  See log.h.
 */
#include "log/log.h"

enum log_ratelimit_verdict log_ratelimit_hit(struct log_ratelimit *rl,
                                             long long now_ms,
                                             unsigned long long *ret_count,
                                             long long *ret_span_ms)
{
    long long span = now_ms - rl->since_ms;

    if (rl->started && span < rl->interval_ms) {
        rl->count++;
        return LOG_RATELIMIT_QUIET;
    }
    rl->started = true;
    rl->since_ms = now_ms;
    if (rl->count == 0)
        return LOG_RATELIMIT_FULL;
    *ret_count = rl->count + 1;
    *ret_span_ms = span;
    rl->count = 0;
    return LOG_RATELIMIT_SUMMARY;
}

unsigned long long log_ratelimit_flush(struct log_ratelimit *rl,
                                       long long now_ms, long long *ret_span_ms)
{
    unsigned long long n = rl->count;

    *ret_span_ms = now_ms - rl->since_ms;
    /* Only a line said moves the start of the interval. */
    if (n) {
        rl->count = 0;
        rl->since_ms = now_ms;
    }
    return n;
}
