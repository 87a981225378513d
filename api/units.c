/*
 * Kubernetes quantities, Go durations, RFC 3339 timestamps, UIDs and
 * generated names.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "api/api.h"

typedef unsigned __int128 u128;

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Parse "<signedNumber><suffix>" and return the value times 10^scale,
 * rounded away from zero.  Exact integer arithmetic: the mantissa digits
 * form an integer N, and the value is N * 2^bin * 10^(exp - frac). */
static int quantity_parse(const char *s, int scale, int64_t *ret)
{
    static const struct {
        const char *suffix;
        int bin, dec;
    } suffixes[] = {
        {"Ki", 10, 0}, {"Mi", 20, 0}, {"Gi", 30, 0}, {"Ti", 40, 0},
        {"Pi", 50, 0}, {"Ei", 60, 0}, {"n", 0, -9},  {"u", 0, -6},
        {"m", 0, -3},  {"", 0, 0},    {"k", 0, 3},   {"M", 0, 6},
        {"G", 0, 9},   {"T", 0, 12},  {"P", 0, 15},  {"E", 0, 18},
    };
    const char *p = s;
    bool neg = false, found = false;
    u128 n = 0;
    int digits = 0, frac = 0, bin = 0, exp = 0, sig = 0;
    long k;

    if (!s)
        return -EINVAL;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    for (; is_digit(*p); p++, digits++) {
        if (n == 0 && *p == '0')
            continue;
        if (++sig > 36)
            return -ERANGE;
        n = n * 10 + (u128)(*p - '0');
    }
    if (*p == '.') {
        p++;
        for (; is_digit(*p); p++, digits++, frac++) {
            if (n == 0 && *p == '0')
                continue;
            if (++sig > 36)
                return -ERANGE;
            n = n * 10 + (u128)(*p - '0');
        }
    }
    if (!digits)
        return -EINVAL;
    if ((*p == 'e' || *p == 'E') &&
        (is_digit(p[1]) || ((p[1] == '+' || p[1] == '-') && is_digit(p[2])))) {
        char *end;
        long e;
        errno = 0;
        e = strtol(p + 1, &end, 10);
        if (*end)
            return -EINVAL;
        if (n == 0) {
            *ret = 0;
            return 0;
        }
        /* Beyond 10^1000 nothing fits; below 10^-1000 any mantissa rounds
         * to one unit, so the exponent can be clamped there. */
        if ((errno && e > 0) || e > 1000)
            return -ERANGE;
        exp = (errno || e < -1000) ? -1000 : (int)e;
        found = true;
    } else {
        for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
            if (!strcmp(p, suffixes[i].suffix)) {
                bin = suffixes[i].bin;
                exp = suffixes[i].dec;
                found = true;
                break;
            }
    }
    if (!found)
        return -EINVAL;
    if (n == 0) {
        *ret = 0;
        return 0;
    }
    k = (long)exp + scale - frac;
    if (bin) {
        if (n > ((u128)1 << (127 - bin)))
            return -ERANGE;
        n <<= bin;
    }
    if (k >= 0) {
        for (long i = 0; i < k; i++) {
            if (n > (u128)INT64_MAX)
                return -ERANGE;
            n *= 10;
        }
    } else {
        u128 div = 1;
        bool tiny = false;
        for (long i = 0; i < -k; i++) {
            if (div > n) {
                tiny = true;
                break;
            }
            div *= 10;
        }
        if (tiny)
            n = 1;
        else
            n = n / div + (n % div != 0);
    }
    if (n > (u128)INT64_MAX)
        return -ERANGE;
    *ret = neg ? -(int64_t)n : (int64_t)n;
    return 0;
}

int api_quantity_parse(const char *s, int64_t *ret_value)
{
    int64_t v;
    int r = quantity_parse(s, 0, &v);

    if (r == 0)
        *ret_value = v;
    return r;
}

int api_quantity_parse_milli(const char *s, int64_t *ret_milli)
{
    int64_t v;
    int r = quantity_parse(s, 3, &v);

    if (r == 0)
        *ret_milli = v;
    return r;
}

int api_duration_parse(const char *s, int64_t *ret_ms)
{
    static const struct {
        const char *unit;
        int64_t ns;
    } units[] = {
        {"ns", 1},
        {"us", 1000},
        {"\xc2\xb5s", 1000}, /* U+00B5 micro sign */
        {"\xce\xbcs", 1000}, /* U+03BC greek mu */
        {"ms", 1000000},
        {"s", 1000000000LL},
        {"m", 60LL * 1000000000LL},
        {"h", 3600LL * 1000000000LL},
    };
    const char *p = s;
    bool neg = false;
    __int128 total = 0;

    if (!s || !*s)
        return -EINVAL;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    if (!strcmp(p, "0")) {
        *ret_ms = 0;
        return 0;
    }
    if (!*p)
        return -EINVAL;
    while (*p) {
        u128 whole = 0, fnum = 0, fden = 1;
        bool any = false;
        const char *u;
        size_t ulen = 0;
        int64_t mult = 0;

        for (; is_digit(*p); p++, any = true) {
            whole = whole * 10 + (u128)(*p - '0');
            if (whole > (u128)INT64_MAX)
                return -ERANGE;
        }
        if (*p == '.') {
            p++;
            for (; is_digit(*p); p++, any = true)
                if (fden < (u128)1e18) {
                    fnum = fnum * 10 + (u128)(*p - '0');
                    fden *= 10;
                }
        }
        if (!any)
            return -EINVAL;
        u = p;
        while (*p && !is_digit(*p) && *p != '.')
            p++;
        ulen = (size_t)(p - u);
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
            if (strlen(units[i].unit) == ulen &&
                !memcmp(units[i].unit, u, ulen))
                mult = units[i].ns;
        if (!mult)
            return -EINVAL;
        total += (__int128)whole * mult + (__int128)(fnum * (u128)mult / fden);
        if (total > INT64_MAX)
            return -ERANGE;
    }
    total /= 1000000;
    *ret_ms = neg ? -(int64_t)total : (int64_t)total;
    return 0;
}

int api_time_format(int64_t unix_seconds, char buf[API_TIME_LEN])
{
    struct tm tm;
    time_t t = (time_t)unix_seconds;

    if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999)
        return -ERANGE;
    /* The year is 0..9999, so %Y gives 4 digits only from 1000 on. */
    if (tm.tm_year + 1900 < 1000 ||
        strftime(buf, API_TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        return -ERANGE;
    return 0;
}

void api_time_now(char buf[API_TIME_LEN])
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    if (api_time_format((int64_t)ts.tv_sec, buf) < 0)
        snprintf(buf, API_TIME_LEN, "1970-01-01T00:00:00Z");
}

static int take_num(const char **p, int ndigits, int *ret)
{
    int v = 0;

    for (int i = 0; i < ndigits; i++) {
        if (!is_digit((*p)[i]))
            return -EINVAL;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += ndigits;
    *ret = v;
    return 0;
}

int api_time_parse(const char *s, int64_t *ret_unix_seconds)
{
    struct tm tm = {0};
    int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
    const char *p = s;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t t;

    if (!s)
        return -EINVAL;
    if (take_num(&p, 4, &y) || *p++ != '-' || take_num(&p, 2, &mo) ||
        *p++ != '-' || take_num(&p, 2, &d) || (*p != 'T' && *p != 't'))
        return -EINVAL;
    p++;
    if (take_num(&p, 2, &h) || *p++ != ':' || take_num(&p, 2, &mi) ||
        *p++ != ':' || take_num(&p, 2, &sec))
        return -EINVAL;
    if (*p == '.') {
        p++;
        if (!is_digit(*p))
            return -EINVAL;
        while (is_digit(*p))
            p++;
    }
    if (*p == 'Z' || *p == 'z')
        p++;
    else if (*p == '+' || *p == '-') {
        sign = *p++ == '-' ? -1 : 1;
        if (take_num(&p, 2, &oh) || *p++ != ':' || take_num(&p, 2, &om) ||
            oh > 23 || om > 59)
            return -EINVAL;
    } else
        return -EINVAL;
    if (*p || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 ||
        mi > 59 || sec > 60)
        return -EINVAL;
    if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return -EINVAL;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    t = (int64_t)timegm(&tm);
    t -= (int64_t)sign * (oh * 3600 + om * 60);
    *ret_unix_seconds = t;
    return 0;
}

static int fill_random(void *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = getrandom((char *)buf + got, len - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        got += (size_t)n;
    }
    return 0;
}

int api_uid_new(char buf[API_UID_LEN])
{
    unsigned char b[16];
    int r = fill_random(b, sizeof(b));

    if (r < 0)
        return r;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(buf, API_UID_LEN,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
             b[11], b[12], b[13], b[14], b[15]);
    return 0;
}

int api_name_generate(const char *generate_name, char **ret_name)
{
    static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    unsigned char rnd[5];
    size_t plen;
    char *name;
    int r;

    if (!generate_name || !*generate_name)
        return -EINVAL;
    r = fill_random(rnd, sizeof(rnd));
    if (r < 0)
        return r;
    plen = strlen(generate_name);
    if (plen > 58)
        plen = 58;
    name = malloc(plen + 6);
    if (!name)
        return -ENOMEM;
    memcpy(name, generate_name, plen);
    for (int i = 0; i < 5; i++)
        name[plen + (size_t)i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
    name[plen + 5] = '\0';
    *ret_name = name;
    return 0;
}
