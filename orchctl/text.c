/*
 * orchctl text: what the server sent made safe for a terminal before it is
 * printed (see orchctl.h).
 */
#include "orchctl/orchctl.h"
#include "utf8/utf8.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Write s escaped to out, stopping after `max` bytes of s. */
static void text_write(FILE *out, const char *s, size_t max)
{
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *end = p + max;

    while (p < end && *p) {
        size_t n = utf8_seq_len(p);

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
