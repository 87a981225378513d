/*
 * orchctl text: what the server sent made safe for a terminal before it is
 * printed (see orchctl.h).
 */
#include "orchctl/orchctl.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* The length of the valid UTF-8 sequence at p (1 to 4; the strict form:
 * no overlong forms, surrogates or code points past U+10FFFF), or 0 when
 * the byte at p does not start one. */
static size_t utf8_len(const unsigned char *p)
{
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        return (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (p[0] >= 0xe0 && p[0] <= 0xef) {
        unsigned char lo = p[0] == 0xe0 ? 0xa0 : 0x80;
        unsigned char hi = p[0] == 0xed ? 0x9f : 0xbf;

        return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3 : 0;
    }
    if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        unsigned char lo = p[0] == 0xf0 ? 0x90 : 0x80;
        unsigned char hi = p[0] == 0xf4 ? 0x8f : 0xbf;

        return p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 &&
                       (p[3] & 0xc0) == 0x80
                   ? 4
                   : 0;
    }
    return 0;
}

/* Write s escaped to out, stopping after `max` bytes of s. */
static void text_write(FILE *out, const char *s, size_t max)
{
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *end = p + max;

    while (p < end && *p) {
        size_t n = utf8_len(p);

        if (n == 0) {
            fprintf(out, "\\x%02x", *p);
            p++;
        } else if (n == 1 && *p == '\t') {
            fputs("\\t", out);
            p++;
        } else if (n == 1 && *p == '\n') {
            fputs("\\n", out);
            p++;
        } else if (n == 1 && *p == '\r') {
            fputs("\\r", out);
            p++;
        } else if (n == 1 && (*p < 0x20 || *p == 0x7f)) {
            /* Caret notation, as kubectl writes ESC ("^[") and cat -v
             * the rest. */
            fputc('^', out);
            fputc(*p == 0x7f ? '?' : *p + 0x40, out);
            p++;
        } else if (n == 2 && p[0] == 0xc2 && p[1] < 0xa0) {
            /* A C1 control (U+0080 to U+009F): CSI, OSC and the like to
             * a terminal that honours them in UTF-8. */
            fprintf(out, "\\u%04x", p[1]);
            p += 2;
        } else {
            if (p + n > end)
                break;
            fwrite(p, 1, n, out);
            p += n;
        }
    }
}

void orchctl_text_print(FILE *out, const char *s)
{
    if (s)
        text_write(out, s, strlen(s));
}

char *orchctl_text_escape(const char *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (!f)
        return NULL;
    orchctl_text_print(f, s);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

void orchctl_printf_escaped(FILE *out, const char *fmt, ...)
{
    char *msg = NULL;
    size_t len;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (n < 0) {
        fputs("error: out of memory\n", out);
        return;
    }
    len = (size_t)n;
    /* The one newline the format ends with is the caller's own. */
    if (len > 0 && msg[len - 1] == '\n') {
        text_write(out, msg, len - 1);
        fputc('\n', out);
    } else {
        text_write(out, msg, len);
    }
    free(msg);
}
