/*
 * conf: the private machinery shared by the two daemons' tables.  Only the
 * conf/ sources include this; other modules use conf/conf.h.
 */
#ifndef ORCH_CONF_SCHEMA_H
#define ORCH_CONF_SCHEMA_H

#include <libconfig.h>
#include <stdarg.h>

#include "conf/conf.h"

/* Where we are while loading one text: its name for messages and the
 * caller's error buffer. */
struct conf_ctx {
    const char *name;
    char *errbuf;
    size_t errlen;
};

/* A key a daemon no longer reads.  A file that still sets it fails with
 * "'PATH': MESSAGE" instead of "unknown key", so an upgrade says what to
 * write instead. */
struct conf_removed_key {
    const char *path;
    const char *message;
};

/* What the engine needs to know about one daemon. */
struct conf_schema {
    const struct conf_key *keys;
    size_t n_keys;
    const struct conf_removed_key *removed; /* may be NULL */
    size_t n_removed;
    size_t size; /* sizeof the daemon's struct */
    int (*init)(void *conf);
    void (*clear)(void *conf);
    /* Checks across keys once every key is read; root is the file's root
     * setting (to find lines and whether a key was set).  May be NULL. */
    int (*finish)(struct conf_ctx *ctx, const config_setting_t *root,
                  void *conf);
};

/* Set the defaults from the table (strings duplicated).  -ENOMEM. */
int conf_schema_defaults(const struct conf_schema *s, void *conf);

/* Free what the table's fields own, then zero the struct. */
void conf_schema_clear(const struct conf_schema *s, void *conf);

/* Load text into *conf (see conf.h for the replace-on-success contract). */
int conf_schema_load_string(const struct conf_schema *s, void *conf,
                            const char *text, const char *name, char *errbuf,
                            size_t errlen);
int conf_schema_load_file(const struct conf_schema *s, void *conf,
                          const char *path, char *errbuf, size_t errlen);

/* Write "FILE:LINE: message" for setting (or just "FILE: message" when
 * setting is NULL) and return -EINVAL. */
int conf_error(struct conf_ctx *ctx, const config_setting_t *setting,
               const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Write a message into a plain buffer; returns -EINVAL. */
int conf_errorf(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Copy value into buf for a message: at most 64 characters, non-printable
 * bytes shown as '?'.  Returns buf. */
const char *conf_quote(const char *value, char *buf, size_t len);

/* Replace *field by a copy of value (NULL allowed).  -ENOMEM. */
int conf_string_set(char **field, const char *value);

/* Read a string/int/bool setting of a record with a typed error. */
int conf_record_string(struct conf_ctx *ctx, const config_setting_t *s,
                       const char *path, const char **ret);
int conf_record_int(struct conf_ctx *ctx, const config_setting_t *s,
                    const char *path, long long min, long long max,
                    long long *ret);

/* Value validators (struct conf_key.check signature). */
int conf_check_addr(const char *v, char *why, size_t len);
int conf_check_abs_path(const char *v, char *why, size_t len);
int conf_check_database(const char *v, char *why, size_t len);
int conf_check_url(const char *v, char *why, size_t len);
int conf_check_libvirt_uri(const char *v, char *why, size_t len);
int conf_check_host_name(const char *v, char *why, size_t len);
int conf_check_ip(const char *v, char *why, size_t len);
int conf_check_token(const char *v, char *why, size_t len);

/* Parse a quantity ("64Mi") into bytes.  -EINVAL or -ERANGE. */
int conf_quantity_parse(const char *text, long long *ret_bytes);

/* Kubernetes label "key=value": 0 or -EINVAL. */
int conf_label_check(const char *text);

/* A command-line flag that takes a value and overrides a key of the file
 * (--listen ADDR:PORT): checked like that key, kept as a pointer into argv
 * at arg_offset of the daemon's args struct, and copied by
 * conf_args_apply() over the char * at conf_offset of its configuration. */
struct conf_flag {
    const char *name; /* without the dashes: "listen" */
    int (*check)(const char *value, char *why, size_t whylen);
    size_t arg_offset;
    size_t conf_offset;
};

#define CONF_FLAGS_MAX 8

/* A daemon's command line: -f/--config CONF, -n/--check and -h/--help,
 * whose fields in its args struct are given by offset, plus its flags. */
struct conf_cmdline {
    const struct conf_flag *flags;
    size_t n_flags; /* at most CONF_FLAGS_MAX */
    size_t args_size;
    size_t config_path_offset; /* const char * */
    size_t check_only_offset;  /* bool */
    size_t help_offset;        /* bool */
};

/* Parse argv with getopt_long into the args struct at ret_args, which is
 * written only on success.  Returns 0, or -EINVAL with a message naming
 * the bad argument.  Main thread only (getopt's state is global). */
int conf_args_parse(const struct conf_cmdline *cl, void *ret_args, int argc,
                    char **argv, char *errbuf, size_t errlen);

/* Copy each flag that args holds over its configuration field.  Returns 0
 * or -ENOMEM. */
int conf_args_apply(const struct conf_cmdline *cl, void *conf,
                    const void *args);

/* Name of a libconfig type for messages ("an integer", "a group", ...). */
const char *conf_type_noun(int libconfig_type);

#endif
