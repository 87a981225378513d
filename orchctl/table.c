/*
 * orchctl tables: kubectl's column layout (its tabwriter with minimum width
 * 6 and padding 3), with widths remembered across flushes for watches, and
 * every cell escaped (orchctl_text_escape).
 */
#include "orchctl/orchctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define TABLE_MIN_WIDTH   6
#define TABLE_PADDING     3
#define TABLE_MAX_COLUMNS 12
#define TABLE_CELL_SIZE   256

struct orchctl_table {
    const struct orchctl_kind *kind;
    bool with_namespace;
    const json_t *node_vmis; /* borrowed */
    size_t ncolumns;
    const struct orchctl_column *columns[TABLE_MAX_COLUMNS]; /* no NAMESPACE */
    const char *headers[TABLE_MAX_COLUMNS];
    size_t widths[TABLE_MAX_COLUMNS];
    char **cells; /* nrows * ncolumns, owned */
    size_t nrows;
};

struct orchctl_table *orchctl_table_new(const struct orchctl_kind *k,
                                        bool with_namespace, bool wide)
{
    struct orchctl_table *t = calloc(1, sizeof(*t));
    size_t base, i;

    if (!t)
        return NULL;
    t->kind = k;
    t->with_namespace = with_namespace && k->namespaced;
    if (t->with_namespace)
        t->headers[t->ncolumns++] = "NAMESPACE";
    base = t->ncolumns;
    for (i = 0; i < k->ncolumns && t->ncolumns < TABLE_MAX_COLUMNS; i++) {
        t->columns[t->ncolumns - base] = &k->columns[i];
        t->headers[t->ncolumns++] = k->columns[i].header;
    }
    for (i = 0; wide && i < k->nwide_columns && t->ncolumns < TABLE_MAX_COLUMNS;
         i++) {
        t->columns[t->ncolumns - base] = &k->wide_columns[i];
        t->headers[t->ncolumns++] = k->wide_columns[i].header;
    }
    return t;
}

void orchctl_table_set_node_vmis(struct orchctl_table *t,
                                 const json_t *node_vmis)
{
    t->node_vmis = node_vmis;
}

static void table_drop_rows(struct orchctl_table *t)
{
    size_t i;

    for (i = 0; i < t->nrows * t->ncolumns; i++)
        free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
    t->nrows = 0;
}

void orchctl_table_free(struct orchctl_table *t)
{
    if (!t)
        return;
    table_drop_rows(t);
    free(t);
}

int orchctl_table_add(struct orchctl_table *t, const json_t *obj, time_t now)
{
    const struct orchctl_cell_env env = {.now = now, .node_vmis = t->node_vmis};
    char **cells;
    char buf[TABLE_CELL_SIZE];
    size_t base = t->nrows * t->ncolumns;
    size_t c = 0, i;

    cells = realloc(t->cells, (base + t->ncolumns) * sizeof(*cells));
    if (!cells)
        return -ENOMEM;
    t->cells = cells;
    memset(cells + base, 0, t->ncolumns * sizeof(*cells));
    if (t->with_namespace) {
        const char *ns = orchctl_json_str(obj, "metadata.namespace");

        cells[base + c++] = orchctl_text_escape(ns ? ns : "");
    }
    for (i = 0; c < t->ncolumns; i++) {
        buf[0] = '\0';
        t->columns[i]->cell(obj, &env, buf, sizeof(buf));
        /* Escaped before the widths are measured: what is printed. */
        cells[base + c++] = orchctl_text_escape(buf);
    }
    t->nrows++;
    for (i = 0; i < t->ncolumns; i++) {
        if (!cells[base + i]) {
            t->nrows--;
            for (c = 0; c < t->ncolumns; c++)
                free(cells[base + c]);
            return -ENOMEM;
        }
    }
    return 0;
}

static void table_print_row(const struct orchctl_table *t, FILE *out,
                            const char *const *row)
{
    size_t i;

    for (i = 0; i < t->ncolumns; i++) {
        if (i + 1 == t->ncolumns)
            fprintf(out, "%s\n", row[i]);
        else
            fprintf(out, "%-*s", (int)t->widths[i], row[i]);
    }
}

void orchctl_table_flush(struct orchctl_table *t, FILE *out, bool header)
{
    size_t r, i;

    for (i = 0; i < t->ncolumns; i++) {
        size_t w = strlen(t->headers[i]) + TABLE_PADDING;

        if (w < TABLE_MIN_WIDTH)
            w = TABLE_MIN_WIDTH;
        for (r = 0; r < t->nrows; r++) {
            size_t cw = strlen(t->cells[r * t->ncolumns + i]) + TABLE_PADDING;

            if (cw > w)
                w = cw;
        }
        if (w > t->widths[i])
            t->widths[i] = w;
    }
    if (header)
        table_print_row(t, out, t->headers);
    for (r = 0; r < t->nrows; r++)
        table_print_row(t, out,
                        (const char *const *)&t->cells[r * t->ncolumns]);
    table_drop_rows(t);
}
