/*
 * conf: the table-driven engine shared by both daemons (see conf.h and
 * conf_schema.h): defaults, loading, the walk that rejects unknown keys and
 * checks types and ranges, and the value validators.
 */
#include "conf/conf_schema.h"

#include "api/api.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Configuration files are small; anything bigger is a mistake. */
#define CONF_FILE_MAX (4 * 1024 * 1024)

#define CONF_PATH_MAX 256

#define FIELD(conf, key, type) ((type *)((char *)(conf) + (key)->offset))

int conf_errorf(char *errbuf, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (errbuf && errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

int conf_error(struct conf_ctx *ctx, const config_setting_t *setting,
               const char *fmt, ...)
{
    char msg[512];
    const char *file = NULL;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (setting)
        file = config_setting_source_file(setting);
    if (!file)
        file = ctx->name;
    if (setting)
        return conf_errorf(ctx->errbuf, ctx->errlen, "%s:%u: %s", file,
                           config_setting_source_line(setting), msg);
    return conf_errorf(ctx->errbuf, ctx->errlen, "%s: %s", file, msg);
}

const char *conf_quote(const char *value, char *buf, size_t len)
{
    size_t i = 0;

    if (len == 0)
        return buf;
    /* Leave room for "..." and the terminator. */
    for (; value[i] && i < 64 && i + 4 < len; i++) {
        unsigned char ch = (unsigned char)value[i];
        buf[i] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    if (value[i] && i + 4 <= len) {
        memcpy(buf + i, "...", 3);
        i += 3;
    }
    buf[i] = '\0';
    return buf;
}

int conf_string_set(char **field, const char *value)
{
    char *copy = NULL;

    if (value) {
        copy = strdup(value);
        if (!copy)
            return -ENOMEM;
    }
    free(*field);
    *field = copy;
    return 0;
}

const char *conf_type_noun(int type)
{
    switch (type) {
    case CONFIG_TYPE_GROUP:
        return "a group";
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        return "an integer";
    case CONFIG_TYPE_FLOAT:
        return "a float";
    case CONFIG_TYPE_STRING:
        return "a string";
    case CONFIG_TYPE_BOOL:
        return "a boolean";
    case CONFIG_TYPE_ARRAY:
        return "an array";
    case CONFIG_TYPE_LIST:
        return "a list";
    default:
        return "nothing";
    }
}

/* The message for what getopt_long returned for a bad option ('?' or ':',
 * with opterr = 0 and a leading ':' in the option string).  -EINVAL. */
static int conf_args_error(int opt, char **argv, char *errbuf, size_t errlen)
{
    /* getopt has already moved optind past the offending word. */
    const char *word = argv[optind - 1];

    if (opt == ':' && strncmp(word, "--", 2) != 0)
        return conf_errorf(errbuf, errlen, "option '-%c' needs an argument",
                           optopt);
    if (opt == ':')
        return conf_errorf(errbuf, errlen, "option '%s' needs an argument",
                           word);
    if (optopt && strncmp(word, "--", 2) != 0)
        return conf_errorf(errbuf, errlen, "unknown option '-%c'", optopt);
    /* glibc sets optopt for a known long option given a value it does not
     * take ("--check=yes"). */
    if (optopt && strchr(word, '='))
        return conf_errorf(errbuf, errlen, "option '%.*s' takes no argument",
                           (int)(strchr(word, '=') - word), word);
    return conf_errorf(errbuf, errlen, "unknown option '%s'", word);
}

/* getopt_long's value for the daemon's flag i. */
#define CONF_FLAG_OPT(i) (256 + (int)(i))

#define ARG(args, offset, type) ((type *)((char *)(args) + (offset)))

int conf_args_parse(const struct conf_cmdline *cl, void *ret_args, int argc,
                    char **argv, char *errbuf, size_t errlen)
{
    struct option options[3 + CONF_FLAGS_MAX + 1] = {
        {"config", required_argument, NULL, 'f'},
        {"check", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
    };
    const char *values[CONF_FLAGS_MAX] = {NULL};
    const char *config_path = NULL;
    bool check_only = false, help = false;
    char why[256];
    int opt;

    if (cl->n_flags > CONF_FLAGS_MAX)
        return conf_errorf(errbuf, errlen, "too many flags");
    for (size_t i = 0; i < cl->n_flags; i++)
        options[3 + i] = (struct option){cl->flags[i].name, required_argument,
                                         NULL, CONF_FLAG_OPT(i)};
    /* optind = 0 makes glibc's getopt start over, so tests can call this
     * repeatedly. */
    optind = 0;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+:f:nh", options, NULL)) != -1) {
        size_t i = (size_t)(opt - CONF_FLAG_OPT(0));

        switch (opt) {
        case 'f':
            if (optarg[0] == '\0')
                return conf_errorf(errbuf, errlen, "'-f': empty file name");
            config_path = optarg;
            break;
        case 'n':
            check_only = true;
            break;
        case 'h':
            help = true;
            break;
        default:
            if (opt < CONF_FLAG_OPT(0) || i >= cl->n_flags)
                return conf_args_error(opt, argv, errbuf, errlen);
            if (cl->flags[i].check(optarg, why, sizeof(why)) < 0)
                return conf_errorf(errbuf, errlen, "'--%s': %s",
                                   cl->flags[i].name, why);
            values[i] = optarg;
            break;
        }
    }
    if (optind < argc)
        return conf_errorf(errbuf, errlen, "unexpected argument '%s'",
                           argv[optind]);
    memset(ret_args, 0, cl->args_size);
    *ARG(ret_args, cl->config_path_offset, const char *) = config_path;
    *ARG(ret_args, cl->check_only_offset, bool) = check_only;
    *ARG(ret_args, cl->help_offset, bool) = help;
    for (size_t i = 0; i < cl->n_flags; i++)
        *ARG(ret_args, cl->flags[i].arg_offset, const char *) = values[i];
    return 0;
}

int conf_args_apply(const struct conf_cmdline *cl, void *conf, const void *args)
{
    for (size_t i = 0; i < cl->n_flags; i++) {
        const struct conf_flag *f = &cl->flags[i];
        const char *value =
            *(const char *const *)((const char *)args + f->arg_offset);
        int r;

        if (!value)
            continue;
        r = conf_string_set(ARG(conf, f->conf_offset, char *), value);
        if (r < 0)
            return r;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Value validators                                                        */

int conf_addr_parse(const char *text, struct conf_addr *ret)
{
    struct conf_addr a = {0};
    const char *port;
    size_t hostlen;
    unsigned long v = 0;

    if (text[0] == '[') {
        const char *end = strchr(text, ']');
        struct in6_addr in6;

        if (!end || end[1] != ':')
            return -EINVAL;
        hostlen = (size_t)(end - text - 1);
        if (hostlen == 0 || hostlen >= sizeof(a.host))
            return -EINVAL;
        memcpy(a.host, text + 1, hostlen);
        if (inet_pton(AF_INET6, a.host, &in6) != 1)
            return -EINVAL;
        a.family = AF_INET6;
        port = end + 2;
    } else {
        const char *colon = strrchr(text, ':');
        struct in_addr in4;

        if (!colon)
            return -EINVAL;
        hostlen = (size_t)(colon - text);
        if (hostlen == 0 || hostlen >= sizeof(a.host))
            return -EINVAL;
        memcpy(a.host, text, hostlen);
        if (inet_pton(AF_INET, a.host, &in4) != 1)
            return -EINVAL;
        a.family = AF_INET;
        port = colon + 1;
    }
    if (port[0] == '\0' || strlen(port) > 5)
        return -EINVAL;
    for (const char *p = port; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return -EINVAL;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v > 65535)
        return -EINVAL;
    a.port = (uint16_t)v;
    *ret = a;
    return 0;
}

bool conf_addr_is_loopback(const struct conf_addr *addr)
{
    if (addr->family == AF_INET) {
        struct in_addr in4;

        if (inet_pton(AF_INET, addr->host, &in4) != 1)
            return false;
        return (ntohl(in4.s_addr) >> 24) == 127;
    }
    if (addr->family == AF_INET6) {
        struct in6_addr in6;

        if (inet_pton(AF_INET6, addr->host, &in6) != 1)
            return false;
        if (IN6_IS_ADDR_LOOPBACK(&in6))
            return true;
        return IN6_IS_ADDR_V4MAPPED(&in6) && in6.s6_addr[12] == 127;
    }
    return false;
}

/* True if text has a control character, a space or a non-ASCII byte. */
static bool conf_has_space_or_control(const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f)
            return true;
    return false;
}

int conf_check_addr(const char *v, char *why, size_t len)
{
    struct conf_addr a;
    char q[80];

    if (conf_addr_parse(v, &a) < 0)
        return conf_errorf(why, len,
                           "invalid address \"%s\" (expected "
                           "ADDR:PORT)",
                           conf_quote(v, q, sizeof(q)));
    return 0;
}

int conf_check_abs_path(const char *v, char *why, size_t len)
{
    char q[80];

    if (v[0] != '/' || strlen(v) >= PATH_MAX)
        return conf_errorf(why, len, "\"%s\" is not an absolute path",
                           conf_quote(v, q, sizeof(q)));
    return 0;
}

int conf_check_database(const char *v, char *why, size_t len)
{
    char q[80];

    if (strcmp(v, ":memory:") == 0)
        return 0;
    if (v[0] != '/' || strlen(v) >= PATH_MAX)
        return conf_errorf(why, len,
                           "\"%s\" is not an absolute path or \":memory:\"",
                           conf_quote(v, q, sizeof(q)));
    return 0;
}

int conf_check_url(const char *v, char *why, size_t len)
{
    const char *host = NULL;
    char q[80];

    if (strncmp(v, "http://", 7) == 0)
        host = v + 7;
    else if (strncmp(v, "https://", 8) == 0)
        host = v + 8;
    if (!host || host[0] == '\0' || host[0] == '/' || host[0] == ':' ||
        host[0] == '?' || conf_has_space_or_control(v))
        return conf_errorf(why, len,
                           "invalid URL \"%s\" (expected "
                           "http[s]://HOST[:PORT][/PATH])",
                           conf_quote(v, q, sizeof(q)));
    return 0;
}

int conf_check_libvirt_uri(const char *v, char *why, size_t len)
{
    const char *p = v;
    char q[80];

    if (!islower((unsigned char)*p))
        goto bad;
    while (islower((unsigned char)*p) || isdigit((unsigned char)*p) ||
           *p == '+' || *p == '.' || *p == '-')
        p++;
    if (*p != ':' || p[1] == '\0' || conf_has_space_or_control(v))
        goto bad;
    return 0;
bad:
    return conf_errorf(why, len,
                       "invalid libvirt URI \"%s\" (expected e.g. "
                       "qemu:///system)",
                       conf_quote(v, q, sizeof(q)));
}

/* RFC 1123 subdomain as Kubernetes checks node names: lowercase
 * alphanumeric labels joined by '.', '-' inside a label, 253 at most. */
static bool conf_is_dns_subdomain(const char *v, size_t max)
{
    size_t n = strlen(v);

    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = v[i];
        bool alnum = islower((unsigned char)ch) || isdigit((unsigned char)ch);

        if (alnum)
            continue;
        if (ch != '-' && ch != '.')
            return false;
        /* '-' and '.' only between alphanumerics, except "-" runs. */
        if (i == 0 || i == n - 1)
            return false;
        if (ch == '.' && (v[i - 1] == '.' || v[i - 1] == '-' ||
                          v[i + 1] == '.' || v[i + 1] == '-'))
            return false;
    }
    return true;
}

int conf_check_host_name(const char *v, char *why, size_t len)
{
    char q[80];

    if (!conf_is_dns_subdomain(v, 253))
        return conf_errorf(why, len,
                           "invalid host name \"%s\" (expected lowercase "
                           "letters, digits, '-' and '.')",
                           conf_quote(v, q, sizeof(q)));
    return 0;
}

int conf_check_ip(const char *v, char *why, size_t len)
{
    unsigned char buf[sizeof(struct in6_addr)];
    char q[80];

    if (inet_pton(AF_INET, v, buf) != 1 && inet_pton(AF_INET6, v, buf) != 1)
        return conf_errorf(why, len, "invalid IP address \"%s\"",
                           conf_quote(v, q, sizeof(q)));
    return 0;
}

/* A bearer token: RFC 6750 token68 characters.  The value itself never goes
 * into the message. */
int conf_check_token(const char *v, char *why, size_t len)
{
    size_t n = strlen(v);

    if (n < 16)
        return conf_errorf(why, len, "too short (at least 16 characters)");
    if (n > 4096)
        return conf_errorf(why, len, "too long (at most 4096 characters)");
    for (const char *p = v; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("-._~+/=", *p))
            return conf_errorf(why, len,
                               "invalid character (expected letters, "
                               "digits and -._~+/=)");
    return 0;
}

/* A Kubernetes quantity, by the api module's parser so that a value taken
 * from KubeVirt's configuration or a MigrationPolicy means the same here. */
int conf_quantity_parse(const char *text, long long *ret_bytes)
{
    int64_t v;
    int r = api_quantity_parse(text, &v);

    if (r < 0)
        return r;
    *ret_bytes = (long long)v;
    return 0;
}

/* The name part of a label key, or a label value: 63 at most, alphanumeric
 * at both ends, '-', '_' and '.' inside.  Values may be empty. */
static bool conf_is_label_name(const char *v, size_t n, bool empty_ok)
{
    if (n == 0)
        return empty_ok;
    if (n > 63)
        return false;
    if (!isalnum((unsigned char)v[0]) || !isalnum((unsigned char)v[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)v[i]) && !strchr("-_.", v[i]))
            return false;
    return true;
}

int conf_label_check(const char *text)
{
    const char *eq = strchr(text, '=');
    const char *slash;
    const char *name = text;
    char prefix[254];

    if (!eq)
        return -EINVAL;
    slash = memchr(text, '/', (size_t)(eq - text));
    if (slash) {
        size_t n = (size_t)(slash - text);

        if (n == 0 || n >= sizeof(prefix))
            return -EINVAL;
        memcpy(prefix, text, n);
        prefix[n] = '\0';
        if (!conf_is_dns_subdomain(prefix, 253))
            return -EINVAL;
        name = slash + 1;
    }
    if (!conf_is_label_name(name, (size_t)(eq - name), false))
        return -EINVAL;
    if (!conf_is_label_name(eq + 1, strlen(eq + 1), true))
        return -EINVAL;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Records (list elements) helpers                                         */

int conf_record_string(struct conf_ctx *ctx, const config_setting_t *s,
                       const char *path, const char **ret)
{
    if (config_setting_type(s) != CONFIG_TYPE_STRING)
        return conf_error(ctx, s, "'%s': expected a string, got %s", path,
                          conf_type_noun(config_setting_type(s)));
    *ret = config_setting_get_string(s);
    return 0;
}

int conf_record_int(struct conf_ctx *ctx, const config_setting_t *s,
                    const char *path, long long min, long long max,
                    long long *ret)
{
    long long v;

    if (config_setting_type(s) != CONFIG_TYPE_INT &&
        config_setting_type(s) != CONFIG_TYPE_INT64)
        return conf_error(ctx, s, "'%s': expected an integer, got %s", path,
                          conf_type_noun(config_setting_type(s)));
    v = config_setting_get_int64(s);
    if (v < min || v > max)
        return conf_error(ctx, s, "'%s': value %lld out of range [%lld, %lld]",
                          path, v, min, max);
    *ret = v;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Defaults and clearing                                                   */

int conf_schema_defaults(const struct conf_schema *s, void *conf)
{
    int r;

    for (size_t i = 0; i < s->n_keys; i++) {
        const struct conf_key *k = &s->keys[i];

        switch (k->type) {
        case CONF_T_BOOL:
            *FIELD(conf, k, bool) = k->def_int != 0;
            break;
        case CONF_T_INT:
            *FIELD(conf, k, int) = (int)k->def_int;
            break;
        case CONF_T_LOG_LEVEL:
            *FIELD(conf, k, enum log_level) = (enum log_level)k->def_int;
            break;
        case CONF_T_STRING:
            r = conf_string_set(FIELD(conf, k, char *), k->def_str);
            if (r < 0)
                return r;
            break;
        case CONF_T_QUANTITY: {
            struct conf_quantity *q = FIELD(conf, k, struct conf_quantity);
            long long bytes = 0;

            r = conf_string_set(&q->text, k->def_str);
            if (r < 0)
                return r;
            if (conf_quantity_parse(k->def_str, &bytes) < 0)
                return -EINVAL; /* a bad table entry */
            q->bytes = (uint64_t)bytes;
            break;
        }
        case CONF_T_GROUP:
        case CONF_T_RECORDS:
            break;
        }
    }
    return 0;
}

void conf_schema_clear(const struct conf_schema *s, void *conf)
{
    if (!conf)
        return;
    for (size_t i = 0; i < s->n_keys; i++) {
        const struct conf_key *k = &s->keys[i];

        if (k->type == CONF_T_STRING)
            free(*FIELD(conf, k, char *));
        else if (k->type == CONF_T_QUANTITY)
            free(FIELD(conf, k, struct conf_quantity)->text);
        else if (k->type == CONF_T_RECORDS && k->free)
            k->free(conf);
    }
    memset(conf, 0, s->size);
}

/* ---------------------------------------------------------------------- */
/* Loading                                                                 */

static const struct conf_key *conf_key_find(const struct conf_schema *s,
                                            const char *path)
{
    for (size_t i = 0; i < s->n_keys; i++)
        if (strcmp(s->keys[i].path, path) == 0)
            return &s->keys[i];
    return NULL;
}

static int conf_walk(const struct conf_schema *s, struct conf_ctx *ctx,
                     const config_setting_t *group, const char *prefix,
                     const char *noun, void *conf);

/* Check one setting against its table entry and store its value. */
static int conf_apply(const struct conf_schema *s, struct conf_ctx *ctx,
                      const struct conf_key *k, const config_setting_t *set,
                      void *conf)
{
    int type = config_setting_type(set);
    char why[256];
    char q[80];
    const char *str;
    long long v;
    int r;

    switch (k->type) {
    case CONF_T_GROUP:
        if (type != CONFIG_TYPE_GROUP)
            return conf_error(ctx, set, "'%s': expected a group, got %s",
                              k->path, conf_type_noun(type));
        return conf_walk(s, ctx, set, k->path, k->unknown_noun, conf);
    case CONF_T_BOOL:
        if (type != CONFIG_TYPE_BOOL)
            return conf_error(ctx, set, "'%s': expected true or false, got %s",
                              k->path, conf_type_noun(type));
        *FIELD(conf, k, bool) = config_setting_get_bool(set) != 0;
        return 0;
    case CONF_T_INT:
        r = conf_record_int(ctx, set, k->path, k->min, k->max, &v);
        if (r < 0)
            return r;
        *FIELD(conf, k, int) = (int)v;
        return 0;
    case CONF_T_STRING:
        r = conf_record_string(ctx, set, k->path, &str);
        if (r < 0)
            return r;
        if (k->check && k->check(str, why, sizeof(why)) < 0)
            return conf_error(ctx, set, "'%s': %s", k->path, why);
        return conf_string_set(FIELD(conf, k, char *), str);
    case CONF_T_QUANTITY: {
        struct conf_quantity *qty = FIELD(conf, k, struct conf_quantity);

        if (type != CONFIG_TYPE_STRING)
            return conf_error(ctx, set,
                              "'%s': expected a quantity string such as "
                              "\"64Mi\", got %s",
                              k->path, conf_type_noun(type));
        str = config_setting_get_string(set);
        r = conf_quantity_parse(str, &v);
        if (r == -EINVAL)
            return conf_error(ctx, set,
                              "'%s': invalid quantity \"%s\" (expected e.g. "
                              "0, 100M, 64Mi, 1Gi)",
                              k->path, conf_quote(str, q, sizeof(q)));
        if (r < 0 || v < k->min || v > k->max)
            return conf_error(
                ctx, set, "'%s': value %s out of range [%lld, %lld]", k->path,
                conf_quote(str, q, sizeof(q)), k->min, k->max);
        r = conf_string_set(&qty->text, str);
        if (r < 0)
            return r;
        qty->bytes = (uint64_t)v;
        return 0;
    }
    case CONF_T_LOG_LEVEL:
        r = conf_record_string(ctx, set, k->path, &str);
        if (r < 0)
            return r;
        r = log_level_parse(str);
        if (r < 0)
            return conf_error(ctx, set,
                              "'%s': invalid level \"%s\" (expected error, "
                              "warn, info or debug)",
                              k->path, conf_quote(str, q, sizeof(q)));
        *FIELD(conf, k, enum log_level) = (enum log_level)r;
        return 0;
    case CONF_T_RECORDS:
        return k->parse(ctx, set, conf);
    }
    return -EINVAL;
}

/* Every member of group must be in the table under prefix; that is what
 * rejects misspelt keys at every level. */
static int conf_walk(const struct conf_schema *s, struct conf_ctx *ctx,
                     const config_setting_t *group, const char *prefix,
                     const char *noun, void *conf)
{
    int n = config_setting_length(group);

    for (int i = 0; i < n; i++) {
        const config_setting_t *set = config_setting_get_elem(group, i);
        const char *name = config_setting_name(set);
        const struct conf_key *k;
        char path[CONF_PATH_MAX];
        int w;
        int r;

        if (prefix)
            w = snprintf(path, sizeof(path), "%s.%s", prefix, name);
        else
            w = snprintf(path, sizeof(path), "%s", name);
        k = (w > 0 && (size_t)w < sizeof(path)) ? conf_key_find(s, path) : NULL;
        for (size_t j = 0; !k && j < s->n_removed; j++)
            if (strcmp(s->removed[j].path, path) == 0)
                return conf_error(ctx, set, "'%s': %s", path,
                                  s->removed[j].message);
        if (!k) {
            if (noun)
                return conf_error(ctx, set, "unknown %s '%s'", noun, name);
            return conf_error(ctx, set, "unknown key '%s'", path);
        }
        r = conf_apply(s, ctx, k, set, conf);
        if (r < 0)
            return r;
    }
    return 0;
}

static int conf_line_error(struct conf_ctx *ctx, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int conf_line_error(struct conf_ctx *ctx, int line, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return conf_errorf(ctx->errbuf, ctx->errlen, "%s:%d: %s", ctx->name, line,
                       msg);
}

/* Check one integer literal starting at *pp and move past it.  libconfig
 * 1.5 silently wraps a literal that does not fit its type (3000000000 reads
 * as -1294967296), which would defeat every range check, so catch them
 * here: a 32-bit literal must fit an int, a 64-bit one (suffix L) a long
 * long. */
static int conf_prescan_number(struct conf_ctx *ctx, const char **pp, int line)
{
    const char *start = *pp;
    const char *p = start;
    char lit[64];
    bool is64;
    bool fits;

    if (*p == '+' || *p == '-')
        p++;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        const char *digits = p + 2;
        unsigned long long v;

        p = digits;
        while (isxdigit((unsigned char)*p))
            p++;
        is64 = *p == 'L';
        errno = 0;
        v = strtoull(digits, NULL, 16);
        fits = errno == 0 && (is64 || v <= 0x7fffffffULL);
    } else {
        long long v;

        while (isdigit((unsigned char)*p))
            p++;
        if (*p == '.' || *p == 'e' || *p == 'E') {
            /* A float: libconfig reads it as such. */
            while (isdigit((unsigned char)*p) || *p == '.' || *p == 'e' ||
                   *p == 'E' || *p == '+' || *p == '-')
                p++;
            *pp = p;
            return 0;
        }
        is64 = *p == 'L';
        errno = 0;
        v = strtoll(start, NULL, 10);
        fits = errno == 0 && (is64 || (v >= INT_MIN && v <= INT_MAX));
    }
    while (*p == 'L')
        p++;
    *pp = p;
    if (fits)
        return 0;
    snprintf(lit, sizeof(lit), "%.*s", (int)(p - start), start);
    if (is64)
        return conf_line_error(ctx, line, "integer %s does not fit in 64 bits",
                               lit);
    return conf_line_error(ctx, line,
                           "integer %s does not fit in 32 bits (write it "
                           "with the suffix L for a 64-bit integer)",
                           lit);
}

/* A light tokenizer run before libconfig: it rejects integer literals that
 * libconfig would wrap (see above) and @include, so one file is the whole
 * configuration and every message names it. */
static int conf_prescan(struct conf_ctx *ctx, const char *text)
{
    const char *p = text;
    int line = 1;
    int r;

    while (*p) {
        char ch = *p;

        if (ch == '\n') {
            line++;
            p++;
        } else if (ch == '"') {
            for (p++; *p && *p != '"'; p++) {
                if (*p == '\\' && p[1])
                    p++;
                if (*p == '\n')
                    line++;
            }
            if (*p)
                p++;
        } else if (ch == '#' || (ch == '/' && p[1] == '/')) {
            while (*p && *p != '\n')
                p++;
        } else if (ch == '/' && p[1] == '*') {
            for (p += 2; *p && !(p[0] == '*' && p[1] == '/'); p++)
                if (*p == '\n')
                    line++;
            if (*p)
                p += 2;
        } else if (ch == '@' && strncmp(p, "@include", 8) == 0) {
            return conf_line_error(ctx, line, "'@include' is not supported");
        } else if (isalpha((unsigned char)ch) || ch == '*') {
            /* A setting name or true/false: digits in it are no number. */
            while (isalnum((unsigned char)*p) || *p == '-' || *p == '_' ||
                   *p == '*')
                p++;
        } else if (isdigit((unsigned char)ch) ||
                   ((ch == '-' || ch == '+') && isdigit((unsigned char)p[1]))) {
            r = conf_prescan_number(ctx, &p, line);
            if (r < 0)
                return r;
        } else {
            p++;
        }
    }
    return 0;
}

int conf_schema_load_string(const struct conf_schema *s, void *conf,
                            const char *text, const char *name, char *errbuf,
                            size_t errlen)
{
    struct conf_ctx ctx = {.name = name, .errbuf = errbuf, .errlen = errlen};
    config_t cfg;
    void *tmp = NULL;
    int r;

    config_init(&cfg);
    tmp = calloc(1, s->size);
    if (!tmp) {
        r = -ENOMEM;
        goto out;
    }
    r = s->init(tmp);
    if (r < 0)
        goto out;
    r = conf_prescan(&ctx, text);
    if (r < 0)
        goto out;
    if (!config_read_string(&cfg, text)) {
        const char *file = config_error_file(&cfg);

        r = conf_errorf(errbuf, errlen, "%s:%d: %s", file ? file : name,
                        config_error_line(&cfg), config_error_text(&cfg));
        goto out;
    }
    r = conf_walk(s, &ctx, config_root_setting(&cfg), NULL, NULL, tmp);
    if (r < 0)
        goto out;
    if (s->finish) {
        r = s->finish(&ctx, config_root_setting(&cfg), tmp);
        if (r < 0)
            goto out;
    }
    /* Only now replace the caller's configuration. */
    s->clear(conf);
    memcpy(conf, tmp, s->size);
    free(tmp);
    tmp = NULL;
    r = 0;
out:
    if (r == -ENOMEM)
        conf_errorf(errbuf, errlen, "%s: out of memory", name);
    if (tmp) {
        s->clear(tmp);
        free(tmp);
    }
    config_destroy(&cfg);
    return r;
}

/* Read a whole (small) regular file into a NUL-terminated buffer. */
static int conf_file_read(const char *path, char **ret, char *errbuf,
                          size_t errlen)
{
    struct stat st;
    char *buf = NULL;
    size_t len = 0;
    int fd = -1;
    int r;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        r = -errno;
        conf_errorf(errbuf, errlen, "%s: cannot open: %s", path, strerror(-r));
        goto out;
    }
    if (fstat(fd, &st) < 0) {
        r = -errno;
        conf_errorf(errbuf, errlen, "%s: cannot stat: %s", path, strerror(-r));
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        r = -EISDIR;
        conf_errorf(errbuf, errlen, "%s: is a directory", path);
        goto out;
    }
    buf = malloc(CONF_FILE_MAX + 1);
    if (!buf) {
        r = -ENOMEM;
        conf_errorf(errbuf, errlen, "%s: out of memory", path);
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, buf + len, CONF_FILE_MAX + 1 - len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            conf_errorf(errbuf, errlen, "%s: cannot read: %s", path,
                        strerror(-r));
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > CONF_FILE_MAX) {
            r = -EFBIG;
            conf_errorf(errbuf, errlen, "%s: larger than %d bytes", path,
                        CONF_FILE_MAX);
            goto out;
        }
    }
    buf[len] = '\0';
    if (memchr(buf, '\0', len)) {
        const char *nul = memchr(buf, '\0', len);
        int line = 1;

        for (const char *p = buf; p < nul; p++)
            line += *p == '\n';
        r = conf_errorf(errbuf, errlen, "%s:%d: NUL byte in the file", path,
                        line);
        goto out;
    }
    *ret = buf;
    buf = NULL;
    r = 0;
out:
    free(buf);
    if (fd >= 0)
        close(fd);
    return r;
}

int conf_schema_load_file(const struct conf_schema *s, void *conf,
                          const char *path, char *errbuf, size_t errlen)
{
    char *text = NULL;
    int r;

    r = conf_file_read(path, &text, errbuf, errlen);
    if (r < 0)
        return r;
    r = conf_schema_load_string(s, conf, text, path, errbuf, errlen);
    free(text);
    return r;
}
