/*
 * orchctl's config file: a few "key = value" lines in the user's home.
 * libconfig belongs to conf/ and the daemons; a CLI's handful of settings
 * does not need it.
 */
#include "orchctl/orchctl.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int orchctl_file_config_path(char *buf, size_t size)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    int n;

    if (xdg && *xdg)
        n = snprintf(buf, size, "%s/orchctl/config", xdg);
    else if (home && *home)
        n = snprintf(buf, size, "%s/.config/orchctl/config", home);
    else
        return -ENOENT;
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static char *trim(char *s)
{
    char *end;

    while (isspace((unsigned char)*s))
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    /* A value may be quoted: server = "https://h:8443". */
    if (end - s >= 2 && ((s[0] == '"' && end[-1] == '"') ||
                         (s[0] == '\'' && end[-1] == '\''))) {
        end[-1] = '\0';
        s++;
    }
    return s;
}

static int parse_bool(const char *v, bool *ret)
{
    if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1"))
        *ret = true;
    else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0"))
        *ret = false;
    else
        return -EINVAL;
    return 0;
}

int orchctl_file_config_read(const char *path, struct orchctl_file_config *cfg,
                             int *ret_line)
{
    struct orchctl_file_config c = {0};
    FILE *f = NULL;
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0;
    int r = 0;

    f = fopen(path, "re");
    if (!f) {
        if (errno == ENOENT) {
            *cfg = c;
            return 0;
        }
        return -errno;
    }
    while (getline(&line, &cap, f) >= 0) {
        char *key, *value, *eq, **slot = NULL;

        lineno++;
        key = trim(line);
        if (!*key || *key == '#' || *key == ';')
            continue;
        eq = strchr(key, '=');
        if (!eq) {
            r = -EINVAL;
            goto out;
        }
        *eq = '\0';
        value = trim(eq + 1);
        key = trim(key);
        if (!strcmp(key, "server"))
            slot = &c.server;
        else if (!strcmp(key, "token"))
            slot = &c.token;
        else if (!strcmp(key, "cacert"))
            slot = &c.cacert;
        else if (!strcmp(key, "namespace"))
            slot = &c.namespace;
        else if (!strcmp(key, "insecure-skip-tls-verify")) {
            if (parse_bool(value, &c.insecure) < 0) {
                r = -EINVAL;
                goto out;
            }
            continue;
        } else {
            r = -EINVAL;
            goto out;
        }
        free(*slot);
        *slot = strdup(value);
        if (!*slot) {
            r = -ENOMEM;
            goto out;
        }
    }
    if (ferror(f))
        r = -EIO;
out:
    free(line);
    fclose(f);
    if (r < 0) {
        if (ret_line)
            *ret_line = lineno;
        orchctl_file_config_clear(&c);
        return r;
    }
    *cfg = c;
    return 0;
}

void orchctl_file_config_clear(struct orchctl_file_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->server);
    if (cfg->token)
        explicit_bzero(cfg->token, strlen(cfg->token));
    free(cfg->token);
    free(cfg->cacert);
    free(cfg->namespace);
    memset(cfg, 0, sizeof(*cfg));
}
