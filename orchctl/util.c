/*
 * orchctl helpers: times, ages, durations and document accessors (see
 * orchctl.h).
 */
#include "orchctl/orchctl.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int orchctl_time_parse(const char *s, time_t *ret_t)
{
    struct tm tm = {0};
    const char *p;
    long offset = 0;
    time_t t;

    if (!s)
        return -EINVAL;
    p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p)
        return -EINVAL;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return -EINVAL;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int hh, mm, n = 0;

        if (sscanf(p + 1, "%2d:%2d%n", &hh, &mm, &n) != 2 || n != 5 ||
            hh > 23 || mm > 59)
            return -EINVAL;
        offset = (hh * 3600L + mm * 60L) * (*p == '-' ? -1 : 1);
        p += 1 + n;
    } else {
        return -EINVAL;
    }
    if (*p)
        return -EINVAL;
    t = timegm(&tm);
    if (t == (time_t)-1)
        return -EINVAL;
    *ret_t = t - offset;
    return 0;
}

/* kubectl's duration.HumanDuration, the same thresholds and forms. */
void orchctl_age_format(long long seconds, char *buf, size_t size)
{
    long long minutes, hours, days;

    if (seconds < -1) {
        snprintf(buf, size, "<invalid>");
        return;
    }
    if (seconds < 0)
        seconds = 0;
    if (seconds < 60 * 2) {
        snprintf(buf, size, "%llds", seconds);
        return;
    }
    minutes = seconds / 60;
    if (minutes < 10) {
        if (seconds % 60 == 0)
            snprintf(buf, size, "%lldm", minutes);
        else
            snprintf(buf, size, "%lldm%llds", minutes, seconds % 60);
        return;
    }
    if (minutes < 60 * 3) {
        snprintf(buf, size, "%lldm", minutes);
        return;
    }
    hours = seconds / 3600;
    if (hours < 8) {
        if (minutes % 60 == 0)
            snprintf(buf, size, "%lldh", hours);
        else
            snprintf(buf, size, "%lldh%lldm", hours, minutes % 60);
        return;
    }
    if (hours < 48) {
        snprintf(buf, size, "%lldh", hours);
        return;
    }
    days = hours / 24;
    if (hours < 24 * 8) {
        if (hours % 24 == 0)
            snprintf(buf, size, "%lldd", days);
        else
            snprintf(buf, size, "%lldd%lldh", days, hours % 24);
        return;
    }
    if (hours < 24 * 365 * 2) {
        snprintf(buf, size, "%lldd", days);
        return;
    }
    if (hours < 24 * 365 * 8) {
        if (days % 365 == 0)
            snprintf(buf, size, "%lldy", days / 365);
        else
            snprintf(buf, size, "%lldy%lldd", days / 365, days % 365);
        return;
    }
    snprintf(buf, size, "%lldy", days / 365);
}

void orchctl_age_of(const json_t *obj, time_t now, char *buf, size_t size)
{
    time_t t;

    if (orchctl_time_parse(orchctl_json_str(obj, "metadata.creationTimestamp"),
                           &t) < 0) {
        snprintf(buf, size, "<unknown>");
        return;
    }
    orchctl_age_format((long long)now - (long long)t, buf, size);
}

int orchctl_duration_parse(const char *s, long long *ret_ms)
{
    static const struct {
        const char *unit;
        long long ms;
    } units[] = {
        {"ms", 1},
        {"s", 1000},
        {"m", 60000},
        {"h", 3600000},
    };
    long long total = 0;
    const char *p = s;

    if (!s || !*s)
        return -EINVAL;
    /* Bare digits are seconds, as in `timeout 30`. */
    if (strspn(s, "0123456789") == strlen(s)) {
        if (strlen(s) > 12)
            return -EINVAL;
        *ret_ms = strtoll(s, NULL, 10) * 1000;
        return 0;
    }
    while (*p) {
        char *end;
        long long v;
        size_t i;

        if (!isdigit((unsigned char)*p))
            return -EINVAL;
        errno = 0;
        v = strtoll(p, &end, 10);
        if (errno || v > 1000000000LL)
            return -EINVAL;
        for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            size_t n = strlen(units[i].unit);

            /* "ms" before "m", and "m" must not swallow "ms". */
            if (strncmp(end, units[i].unit, n) == 0 &&
                !(n == 1 && end[0] == 'm' && end[1] == 's'))
                break;
        }
        if (i == sizeof(units) / sizeof(units[0]))
            return -EINVAL;
        total += v * units[i].ms;
        p = end + strlen(units[i].unit);
    }
    *ret_ms = total;
    return 0;
}

json_t *orchctl_json_get(const json_t *obj, const char *dotted)
{
    const char *p = dotted;
    json_t *cur = (json_t *)obj;

    while (cur && *p) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);

        if (!json_is_object(cur))
            return NULL;
        cur = json_object_getn(cur, p, len);
        p += len + (dot ? 1 : 0);
    }
    return cur;
}

const char *orchctl_json_str(const json_t *obj, const char *dotted)
{
    return json_string_value(orchctl_json_get(obj, dotted));
}

bool orchctl_phase_final(const char *phase)
{
    return phase &&
           (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0);
}

void orchctl_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

long long orchctl_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

char *orchctl_url_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = malloc(strlen(s) * 3 + 1);
    char *o = out;

    if (!out)
        return NULL;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;

        if (isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
            *o++ = (char)ch;
        } else {
            *o++ = '%';
            *o++ = hex[ch >> 4];
            *o++ = hex[ch & 15];
        }
    }
    *o = '\0';
    return out;
}
