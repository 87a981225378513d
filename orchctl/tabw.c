/*
 * orchctl tabwriter: the column layout of kubectl describe, which writes
 * "cell\tcell\tlast" lines through Go's text/tabwriter (minimum width 0,
 * padding 2) (see orchctl.h).
 */
#include "orchctl/orchctl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define TABW_PADDING     2
#define TABW_MAX_COLUMNS 32

struct tabw_line {
    char **cells; /* escaped, owned; the last one is not aligned */
    size_t n;
};

struct orchctl_tabw {
    struct tabw_line *lines;
    size_t n;
    size_t cap;
    bool oom;
};

struct orchctl_tabw *orchctl_tabw_new(void)
{
    return calloc(1, sizeof(struct orchctl_tabw));
}

static void tabw_drop_lines(struct orchctl_tabw *w)
{
    size_t i, k;

    for (i = 0; i < w->n; i++) {
        for (k = 0; k < w->lines[i].n; k++)
            free(w->lines[i].cells[k]);
        free(w->lines[i].cells);
    }
    free(w->lines);
    w->lines = NULL;
    w->n = w->cap = 0;
}

void orchctl_tabw_free(struct orchctl_tabw *w)
{
    if (!w)
        return;
    tabw_drop_lines(w);
    free(w);
}

bool orchctl_tabw_failed(const struct orchctl_tabw *w)
{
    return w->oom;
}

int orchctl_tabw_row(struct orchctl_tabw *w, int level, const char *first, ...)
{
    struct tabw_line line = {0};
    const char *cell;
    char *indented = NULL;
    size_t n = 1, i;
    va_list ap;

    if (w->oom)
        return -ENOMEM;
    va_start(ap, first);
    while (va_arg(ap, const char *))
        n++;
    va_end(ap);
    line.cells = calloc(n, sizeof(*line.cells));
    if (!line.cells)
        goto oom;
    /* The indent is part of the first cell, as kubectl's prefix writer
     * puts it there. */
    if (asprintf(&indented, "%*s%s", level * 2, "", first ? first : "") < 0) {
        indented = NULL;
        goto oom;
    }
    /* Server text: escaped here, where every cell passes, before the
     * widths are measured; a tab or newline in it cannot make a cell. */
    line.cells[line.n++] = orchctl_text_escape(indented);
    free(indented);
    va_start(ap, first);
    while ((cell = va_arg(ap, const char *)))
        line.cells[line.n++] = orchctl_text_escape(cell);
    va_end(ap);
    for (i = 0; i < line.n; i++)
        if (!line.cells[i])
            goto oom;
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        struct tabw_line *l = realloc(w->lines, cap * sizeof(*l));

        if (!l)
            goto oom;
        w->lines = l;
        w->cap = cap;
    }
    w->lines[w->n++] = line;
    return 0;
oom:
    for (i = 0; line.cells && i < line.n; i++)
        free(line.cells[i]);
    free(line.cells);
    w->oom = true;
    return -ENOMEM;
}

/* The width of s in characters (s is valid UTF-8 once escaped), as Go's
 * tabwriter counts it. */
static size_t tabw_width(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

static void tabw_write_lines(const struct orchctl_tabw *w, FILE *out,
                             const size_t *widths, size_t nwidths, size_t line0,
                             size_t line1)
{
    size_t i, j;

    for (i = line0; i < line1; i++) {
        const struct tabw_line *l = &w->lines[i];

        for (j = 0; j < l->n; j++) {
            fputs(l->cells[j], out);
            if (j < nwidths)
                fprintf(out, "%*s", (int)(widths[j] - tabw_width(l->cells[j])),
                        "");
        }
        fputc('\n', out);
    }
}

/* Go's tabwriter.format: a column block is a run of consecutive lines that
 * all have a cell ended by a tab in that column; the block's width is its
 * widest such cell plus the padding, and within it the next column is
 * formatted the same way. */
static void tabw_format(const struct orchctl_tabw *w, FILE *out, size_t *widths,
                        size_t nwidths, size_t line0, size_t line1)
{
    size_t column = nwidths, this;

    for (this = line0; this < line1; this ++) {
        size_t width = 0;

        if (column + 1 >= w->lines[this].n || column >= TABW_MAX_COLUMNS)
            continue;
        tabw_write_lines(w, out, widths, nwidths, line0, this);
        line0 = this;
        for (; this < line1 && column + 1 < w->lines[this].n; this ++) {
            size_t cw = tabw_width(w->lines[this].cells[column]) + TABW_PADDING;

            if (cw > width)
                width = cw;
        }
        widths[nwidths] = width;
        tabw_format(w, out, widths, nwidths + 1, line0, this);
        line0 = this;
        if (this == line1)
            break;
    }
    tabw_write_lines(w, out, widths, nwidths, line0, line1);
}

void orchctl_tabw_flush(struct orchctl_tabw *w, FILE *out)
{
    size_t widths[TABW_MAX_COLUMNS];

    tabw_format(w, out, widths, 0, 0, w->n);
    tabw_drop_lines(w);
    if (w->oom)
        fprintf(out, "(output cut short: out of memory)\n");
}
