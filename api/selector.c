/*
 * Label selectors in Kubernetes' string form, and map selectors.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"

enum sel_op {
    SEL_EXISTS,
    SEL_NOT_EXISTS,
    SEL_IN,     /* also "=" and "==" */
    SEL_NOT_IN, /* also "!=" */
};

struct sel_req {
    char *key;
    enum sel_op op;
    char **values;
    size_t value_count;
};

struct api_selector {
    struct sel_req *reqs;
    size_t count;
};

void api_selector_free(struct api_selector *sel)
{
    if (!sel)
        return;
    for (size_t i = 0; i < sel->count; i++) {
        free(sel->reqs[i].key);
        for (size_t j = 0; j < sel->reqs[i].value_count; j++)
            free(sel->reqs[i].values[j]);
        free(sel->reqs[i].values);
    }
    free(sel->reqs);
    free(sel);
}

struct lexer {
    const char *p;
    struct api_errors *errs;
};

static bool is_special(char c)
{
    return c == '!' || c == '=' || c == ',' || c == '(' || c == ')' ||
           c == '<' || c == '>' || c == ' ' || c == '\t' || c == '\n' ||
           c == '\r';
}

static void skip_space(struct lexer *lx)
{
    while (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\n' || *lx->p == '\r')
        lx->p++;
}

/* An identifier: a run of non-special characters.  Returns a malloc'd
 * copy, "" when there is none, NULL on ENOMEM. */
static char *take_ident(struct lexer *lx)
{
    const char *start;

    skip_space(lx);
    start = lx->p;
    while (*lx->p && !is_special(*lx->p))
        lx->p++;
    return strndup(start, (size_t)(lx->p - start));
}

static int syntax(struct lexer *lx, const char *expected)
{
    char found[32];
    size_t n = 0;

    if (!*lx->p)
        strcpy(found, "end of string");
    else {
        if (is_special(lx->p[0]))
            n = 1;
        else
            while (lx->p[n] && n < 20 && !is_special(lx->p[n]))
                n++;
        memcpy(found, lx->p, n);
        found[n] = '\0';
    }
    api_errors_add(lx->errs, API_ERR_INVALID, NULL,
                   "unable to parse requirement: found '%s', expected: %s",
                   found, expected);
    return -EINVAL;
}

static int add_value(struct sel_req *r, char *v)
{
    char **p;

    if (!v)
        return -ENOMEM;
    p = realloc(r->values, (r->value_count + 1) * sizeof(*p));
    if (!p) {
        free(v);
        return -ENOMEM;
    }
    r->values = p;
    r->values[r->value_count++] = v;
    return 0;
}

static int check_value(struct lexer *lx, const char *v)
{
    const char *msg = api_check_label_value(v);

    if (!msg)
        return 0;
    api_errors_add(lx->errs, API_ERR_INVALID, NULL,
                   "unable to parse requirement: invalid label value: "
                   "\"%s\": %s",
                   v, msg);
    return -EINVAL;
}

static int parse_req(struct lexer *lx, struct sel_req *req)
{
    const char *msg;
    int r;

    skip_space(lx);
    if (*lx->p == '!') {
        lx->p++;
        req->op = SEL_NOT_EXISTS;
    } else
        req->op = SEL_EXISTS;
    req->key = take_ident(lx);
    if (!req->key)
        return -ENOMEM;
    if (!*req->key)
        return syntax(lx, "identifier");
    msg = api_check_qualified_name(req->key);
    if (msg) {
        api_errors_add(lx->errs, API_ERR_INVALID, NULL,
                       "unable to parse requirement: invalid label key "
                       "\"%s\": %s",
                       req->key, msg);
        return -EINVAL;
    }
    skip_space(lx);
    if (req->op == SEL_NOT_EXISTS || !*lx->p || *lx->p == ',')
        return 0;
    if (lx->p[0] == '=' || (lx->p[0] == '!' && lx->p[1] == '=')) {
        char *v;
        req->op = lx->p[0] == '=' ? SEL_IN : SEL_NOT_IN;
        lx->p +=
            lx->p[0] == '=' && lx->p[1] == '=' ? 2 : (*lx->p == '!' ? 2 : 1);
        v = take_ident(lx);
        if (!v)
            return -ENOMEM;
        if ((r = add_value(req, v)) < 0)
            return r;
        return check_value(lx, v);
    }
    if (!strncmp(lx->p, "in", 2) || !strncmp(lx->p, "notin", 5)) {
        char *word = take_ident(lx);
        if (!word)
            return -ENOMEM;
        if (strcmp(word, "in") && strcmp(word, "notin")) {
            free(word);
            return syntax(lx, "'=', '!=', '==', 'in', notin'");
        }
        req->op = !strcmp(word, "in") ? SEL_IN : SEL_NOT_IN;
        free(word);
        skip_space(lx);
        if (*lx->p != '(')
            return syntax(lx, "'('");
        lx->p++;
        for (;;) {
            char *v = take_ident(lx);
            if (!v)
                return -ENOMEM;
            if ((r = add_value(req, v)) < 0)
                return r;
            if ((r = check_value(lx, v)) < 0)
                return r;
            skip_space(lx);
            if (*lx->p == ',') {
                lx->p++;
                continue;
            }
            if (*lx->p == ')') {
                lx->p++;
                return 0;
            }
            return syntax(lx, "',' or ')'");
        }
    }
    return syntax(lx, "'=', '!=', '==', 'in', notin'");
}

int api_selector_parse(const char *text, struct api_selector **ret_sel,
                       struct api_errors *errs)
{
    struct lexer lx = {.p = text ? text : "", .errs = errs};
    struct api_selector *sel = calloc(1, sizeof(*sel));
    int r = 0;

    if (!sel)
        return -ENOMEM;
    skip_space(&lx);
    while (*lx.p) {
        struct sel_req *p;
        if (sel->count >= 1000) {
            r = syntax(&lx, "at most 1000 requirements");
            goto out;
        }
        p = realloc(sel->reqs, (sel->count + 1) * sizeof(*p));
        if (!p) {
            r = -ENOMEM;
            goto out;
        }
        sel->reqs = p;
        memset(&sel->reqs[sel->count], 0, sizeof(*p));
        sel->count++;
        r = parse_req(&lx, &sel->reqs[sel->count - 1]);
        if (r < 0)
            goto out;
        skip_space(&lx);
        if (!*lx.p)
            break;
        if (*lx.p != ',') {
            r = syntax(&lx, "','");
            goto out;
        }
        lx.p++;
        skip_space(&lx);
        if (!*lx.p) {
            r = syntax(&lx, "identifier");
            goto out;
        }
    }
out:
    if (r < 0) {
        api_selector_free(sel);
        return r;
    }
    *ret_sel = sel;
    return 0;
}

bool api_selector_match(const struct api_selector *sel, const json_t *labels)
{
    if (!sel)
        return true;
    for (size_t i = 0; i < sel->count; i++) {
        const struct sel_req *r = &sel->reqs[i];
        const json_t *v =
            json_is_object(labels) ? json_object_get(labels, r->key) : NULL;
        const char *s = json_string_value(v);
        bool in = false;

        for (size_t j = 0; s && j < r->value_count; j++)
            if (!strcmp(s, r->values[j]))
                in = true;
        switch (r->op) {
        case SEL_EXISTS:
            if (!v)
                return false;
            break;
        case SEL_NOT_EXISTS:
            if (v)
                return false;
            break;
        case SEL_IN:
            if (!in)
                return false;
            break;
        case SEL_NOT_IN:
            if (in)
                return false;
            break;
        }
    }
    return true;
}

size_t api_selector_count(const struct api_selector *sel)
{
    return sel ? sel->count : 0;
}

void api_selector_get(const struct api_selector *sel, size_t index,
                      struct api_selector_req *ret)
{
    static const enum api_selector_op ops[] = {
        [SEL_EXISTS] = API_SELECTOR_EXISTS,
        [SEL_NOT_EXISTS] = API_SELECTOR_NOT_EXISTS,
        [SEL_IN] = API_SELECTOR_IN,
        [SEL_NOT_IN] = API_SELECTOR_NOT_IN,
    };
    const struct sel_req *r = &sel->reqs[index];

    ret->key = r->key;
    ret->op = ops[r->op];
    ret->values = (const char *const *)r->values;
    ret->n_values = r->value_count;
}

bool api_labels_match_map(const json_t *selector_map, const json_t *labels)
{
    const char *k;
    json_t *want;

    if (!json_is_object(selector_map))
        return true;
    json_object_foreach((json_t *)selector_map, k, want)
    {
        const json_t *have =
            json_is_object(labels) ? json_object_get(labels, k) : NULL;
        if (!json_is_string(have) || !json_is_string(want) ||
            strcmp(json_string_value(have), json_string_value(want)))
            return false;
    }
    return true;
}
