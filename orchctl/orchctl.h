/*
 * orchctl: the command-line client of orchestratord, in the habits of
 * kubectl and virtctl.
 *
 * The program is table-driven: orchctl_main() parses the command line into
 * struct orchctl_opts, finds the verb in one table and runs its handler.
 * Handlers talk to the server through the blocking libcurl client below and
 * print through the table, describe and document printers.
 *
 * Exit codes fit cron: ORCHCTL_EXIT_OK (done), ORCHCTL_EXIT_FAILED (a server
 * error, a failed migration, an unreachable server), ORCHCTL_EXIT_USAGE (an
 * unknown verb, flag or kind, or a missing argument).
 *
 * Nothing here is thread-safe; orchctl is single-threaded.  The bearer token
 * is never printed, by any function here.
 */
#ifndef ORCH_ORCHCTL_H
#define ORCH_ORCHCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>

#define ORCHCTL_VERSION           "v0.1.0"
#define ORCHCTL_DEFAULT_SERVER    "http://127.0.0.1:8080"
#define ORCHCTL_DEFAULT_NAMESPACE "default"
/* --request-timeout's default: long enough for a large list from a busy
 * server, short enough that a stalled one does not hang a cron job. */
#define ORCHCTL_DEFAULT_REQUEST_TIMEOUT_MS 60000LL
/* How long `get -w` asks the server to keep a watch open (timeoutSeconds),
 * the server's own default; the stream then ends and orchctl exits 0. */
#define ORCHCTL_WATCH_TIMEOUT_S 1800L
/* The generateName of the migrations that `migrate` and `drain` create,
 * the same as virtctl's. */
#define ORCHCTL_MIGRATION_PREFIX "kubevirt-migrate-vm-"
/* The label the server puts on every migration, naming its VMI. */
#define ORCHCTL_VMI_NAME_LABEL "kubevirt.io/vmi-name"

enum orchctl_exit {
    ORCHCTL_EXIT_OK = 0,
    ORCHCTL_EXIT_FAILED = 1,
    ORCHCTL_EXIT_USAGE = 2,
};

/* ---- Kinds ------------------------------------------------------------ */

struct orchctl_kind;

/* What a cell may look at besides its object. */
struct orchctl_cell_env {
    time_t now;              /* what AGE is measured against */
    const json_t *node_vmis; /* {"NODE": VMI count}; NULL: not counted */
};

/* One column of a kind's table: the header and a function that writes the
 * cell of an object into buf (always NUL-terminated, "" when the field is
 * absent). */
struct orchctl_column {
    const char *header;
    void (*cell)(const json_t *obj, const struct orchctl_cell_env *env,
                 char *buf, size_t size);
};

struct orchctl_kind {
    const char *kind;     /* "VirtualMachineInstanceMigration" */
    const char *plural;   /* "virtualmachineinstancemigrations" */
    const char *singular; /* "virtualmachineinstancemigration" */
    const char *group;    /* "kubevirt.io", "" for the core group */
    const char *version;  /* "v1" */
    bool namespaced;
    const struct orchctl_column *columns;
    size_t ncolumns;
    /* -o wide adds these after the columns, as kubectl's wide does. */
    const struct orchctl_column *wide_columns;
    size_t nwide_columns;
};

/* Find a kind by its kind name ("VirtualMachineInstance", case-insensitive),
 * plural, singular or short name ("vmi"), optionally followed by ".group"
 * ("vmim.kubevirt.io"), as api_kind_lookup() resolves them.  Returns the
 * static entry or NULL. */
const struct orchctl_kind *orchctl_kind_find(const char *name);

/* The collection path of a kind: "/apis/GROUP/VERSION[/namespaces/NS]/PLURAL"
 * or "/api/v1/PLURAL" for the core group, NS percent-encoded.  ns NULL means
 * all namespaces (or a cluster-scoped kind).  Returns a string to free(), or
 * NULL when out of memory. */
char *orchctl_kind_path(const struct orchctl_kind *k, const char *ns);

/* "singular.group" as kubectl names an object's type in its messages
 * ("virtualmachineinstancemigration.kubevirt.io/x created"; "node" for the
 * core group), into buf. */
void orchctl_kind_resource(const struct orchctl_kind *k, char *buf,
                           size_t size);

/* ---- Text from the server --------------------------------------------- */

/* What a server (or a manifest) says is printed through these, never as it
 * is: a name, annotation or message holding "ESC ] 0 ; ... BEL" would
 * otherwise retitle the operator's terminal, and "ESC [ 2 J" clear it.
 * Every C0 control character, DEL and C1 control character is written
 * visibly, as kubectl escapes what it prints: "\t", "\n" and "\r" for those
 * three, caret notation for the other C0 ones and DEL ("^[" for ESC, "^G"
 * for BEL, "^?" for DEL), "\u009b" for a C1 one; a byte that is not part of
 * valid UTF-8 is written "\xff".  Everything else, UTF-8 text included, is
 * kept.  The escaping is for reading, not reversible. */

/* Print s escaped (nothing for NULL). */
void orchctl_text_print(FILE *out, const char *s);

/* s escaped, as a new string to free(), or NULL when out of memory. */
char *orchctl_text_escape(const char *s);

/* fprintf(out, fmt, ...) for a line that carries server text: the whole
 * message is escaped but for one newline it ends with, so the format must
 * hold no other control character. */
void orchctl_printf_escaped(FILE *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- Time ------------------------------------------------------------- */

/* Parse an RFC 3339 time ("2024-05-01T10:00:00Z", fractional seconds and
 * numeric offsets allowed).  Returns 0, or -EINVAL. */
int orchctl_time_parse(const char *s, time_t *ret_t);

/* Format an age of `seconds` the way kubectl's HumanDuration does ("5s",
 * "3m20s", "2h", "4d", "<invalid>" below -1 s) into buf. */
void orchctl_age_format(long long seconds, char *buf, size_t size);

/* The AGE cell of an object: its metadata.creationTimestamp against now,
 * "<unknown>" when absent or malformed. */
void orchctl_age_of(const json_t *obj, time_t now, char *buf, size_t size);

/* Parse a duration: "90s", "5m", "1h30m", "500ms", or bare seconds "30".
 * Returns 0 and milliseconds, or -EINVAL. */
int orchctl_duration_parse(const char *s, long long *ret_ms);

/* kubectl's ROLES of a node into buf: the X of every
 * node-role.kubernetes.io/X label, comma-separated, or "<none>". */
void orchctl_node_roles(const json_t *node, char *buf, size_t size);

/* ---- Tables ----------------------------------------------------------- */

/* A kubectl-style table: left-aligned columns padded to their widest cell
 * plus three spaces (at least six wide), the last column unpadded.  Widths
 * are remembered across orchctl_table_flush() calls, so rows streamed by a
 * watch stay aligned with the rows printed first. */
struct orchctl_table;

/* Returns a table for kind k (with a NAMESPACE column first when
 * with_namespace, the kind's wide columns last when wide), or NULL when
 * out of memory.  Free with orchctl_table_free(). */
struct orchctl_table *orchctl_table_new(const struct orchctl_kind *k,
                                        bool with_namespace, bool wide);
void orchctl_table_free(struct orchctl_table *t);

/* The VMI count per node name that Node's VMIS column shows ({"node1": 3};
 * a node absent counts 0), borrowed: it must outlive the rows added after
 * this call.  Without one (NULL), VMIS shows "<unknown>". */
void orchctl_table_set_node_vmis(struct orchctl_table *t,
                                 const json_t *node_vmis);

/* Add a row for obj, its AGE measured against now.  Returns 0 or -ENOMEM. */
int orchctl_table_add(struct orchctl_table *t, const json_t *obj, time_t now);

/* Print the rows added since the last flush (with the header the first time
 * when header is true) and forget them. */
void orchctl_table_flush(struct orchctl_table *t, FILE *out, bool header);

/* ---- Describe layout -------------------------------------------------- */

/* kubectl describe's columns: lines of cells in Go's text/tabwriter layout
 * (minimum width 0, padding 2), where a run of consecutive lines that all
 * have an Nth cell followed by another shares that column's width, and a
 * line's last cell is never padded.  Lines are kept until the flush, so
 * blocks can be measured. */
struct orchctl_tabw;

/* Returns a new writer, or NULL when out of memory.  Free with
 * orchctl_tabw_free() (NULL is fine). */
struct orchctl_tabw *orchctl_tabw_new(void);
void orchctl_tabw_free(struct orchctl_tabw *w);

/* Add a line of cells (first, then a NULL-terminated list), the first
 * indented by 2 * level spaces.  Every cell is escaped
 * (orchctl_text_escape), so server text cannot make cells or lines of its
 * own.  Returns 0 or -ENOMEM (then the writer keeps failing and its flush
 * says the output was cut short). */
int orchctl_tabw_row(struct orchctl_tabw *w, int level, const char *first, ...)
    __attribute__((sentinel));

/* Whether a row was lost for want of memory. */
bool orchctl_tabw_failed(const struct orchctl_tabw *w);

/* Print the lines and forget them. */
void orchctl_tabw_flush(struct orchctl_tabw *w, FILE *out);

/* ---- Documents -------------------------------------------------------- */

/* Decode a manifest (YAML or JSON, several "---" documents, or a List) into
 * an array of objects.  Returns 0 and a new json array (json_decref() it),
 * -EINVAL with a message in err (size errsize) when it does not parse or an
 * item is not an object. */
int orchctl_doc_decode(const char *buf, size_t len, json_t **ret_items,
                       char *err, size_t errsize);

/* Print obj as JSON (4-space indent, kubectl's) or YAML.  Control
 * characters in strings are escaped the format's way (JSON's \u0000 form,
 * YAML's double-quoted escapes), so none reaches the terminal raw.  Returns
 * 0 or a negative errno. */
int orchctl_doc_print_json(FILE *out, const json_t *obj);
int orchctl_doc_print_yaml(FILE *out, const json_t *obj);

/* Print obj the way kubectl describe prints a custom resource: Name,
 * Namespace, Labels, Annotations, API Version, Kind, then Metadata, Spec and
 * Status with camelCase keys turned into words; keys and values escaped
 * (orchctl_text_print). */
void orchctl_describe_print(FILE *out, const json_t *obj);

/* Print a Node the way kubectl describe node does (Name, Roles, Labels,
 * Annotations, CreationTimestamp, Taints, Unschedulable, Conditions,
 * Addresses, Capacity, Allocatable, System Info), then SR-IOV Networks with
 * a table of each PF's VFs, Non-terminated VMIs from vmis (the VMIs on the
 * node; NULL: could not be listed, shown "<unknown>"), Skipped Domains, and
 * Events from events (an array; NULL: the server keeps none, no section).
 * Times are shown in local time; event ages against now.  Everything from
 * the server is escaped. */
void orchctl_describe_node_print(FILE *out, const json_t *node,
                                 const json_t *vmis, const json_t *events,
                                 time_t now);

/* ---- JSONPath templates ------------------------------------------------ */

/* -o jsonpath=TEMPLATE, the subset of kubectl's JSONPath that scripts use:
 * text outside braces printed as it is; {.a.b}, {.a[0]}, {.a[-1]},
 * {.items[*].metadata.name}, {.a['key.with.dots']}, {.a.b\.c} (an escaped
 * dot), {.*}; {range PATH}...{end} (nested, paths inside relative to each
 * element, {@} or {.} the element itself); literals {"\n"}, {"\t"}, {'x'}.
 * Several values of one path are separated by spaces; a string is printed
 * as it is (escaped for the terminal, orchctl_text_print), anything else as
 * compact JSON; a missing field prints nothing, as with kubectl get.
 * Filters [?(...)], slices [a:b] and recursive descent .. are refused. */
struct orchctl_jsonpath;

/* Parse TMPL.  Returns 0 and a template to free with
 * orchctl_jsonpath_free(), or -EINVAL with the reason in err (-ENOMEM). */
int orchctl_jsonpath_parse(const char *tmpl, struct orchctl_jsonpath **ret,
                           char *err, size_t errlen);

/* Print the template against doc.  Returns 0 or -ENOMEM. */
int orchctl_jsonpath_print(const struct orchctl_jsonpath *jp, FILE *out,
                           const json_t *doc);

/* NULL-safe. */
void orchctl_jsonpath_free(struct orchctl_jsonpath *jp);

/* ---- Configuration ---------------------------------------------------- */

/* The connection settings from ~/.config/orchctl/config (or
 * $XDG_CONFIG_HOME/orchctl/config): lines "key = value" with keys server,
 * token, cacert, insecure-skip-tls-verify and namespace; '#' starts a
 * comment.  Strings are owned; free with orchctl_file_config_clear(). */
struct orchctl_file_config {
    char *server;
    char *token;
    char *cacert;
    char *namespace;
    bool insecure;
};

/* Read path into cfg.  A missing file is not an error (0, cfg empty).
 * Returns 0, -EINVAL with the line number in *ret_line for a malformed line
 * or unknown key, -ENOMEM, or another negative errno from reading. */
int orchctl_file_config_read(const char *path, struct orchctl_file_config *cfg,
                             int *ret_line);
void orchctl_file_config_clear(struct orchctl_file_config *cfg);

/* The default path of the config file into buf: $XDG_CONFIG_HOME/orchctl/
 * config, else $HOME/.config/orchctl/config.  Returns 0 or -ENOENT when
 * neither variable is set. */
int orchctl_file_config_path(char *buf, size_t size);

/* ---- Command line ----------------------------------------------------- */

enum orchctl_output {
    ORCHCTL_OUTPUT_TABLE = 0,
    ORCHCTL_OUTPUT_WIDE, /* the table with each kind's wide columns */
    ORCHCTL_OUTPUT_JSON,
    ORCHCTL_OUTPUT_YAML,
    ORCHCTL_OUTPUT_NAME,
    ORCHCTL_OUTPUT_JSONPATH, /* opts.jsonpath holds the template */
};

/* --dry-run: none (the default), client (print what would be sent, send
 * nothing), server (send with ?dryRun=All: validated and admitted, not
 * stored). */
enum orchctl_dry_run {
    ORCHCTL_DRY_RUN_NONE = 0,
    ORCHCTL_DRY_RUN_CLIENT,
    ORCHCTL_DRY_RUN_SERVER,
};

struct orchctl_verb;

/* The parsed command line.  Strings are borrowed from argv. */
struct orchctl_opts {
    const struct orchctl_verb *verb;
    const char *server;
    const char *token;
    const char *cacert;
    bool insecure;
    const char *namespace;
    bool all_namespaces;
    const char *selector; /* get: label selector; migrate: node selector */
    enum orchctl_output output;
    const char *jsonpath; /* -o jsonpath=TEMPLATE */
    enum orchctl_dry_run dry_run;
    bool watch;
    const char *filename;
    const char *to;
    bool wait;
    long long timeout_ms;         /* --timeout; 0: no limit */
    long long request_timeout_ms; /* --request-timeout; 0: no limit */
    bool client_only;
    bool help;
    const char *args[8]; /* positional arguments after the verb */
    int nargs;
};

/* Parse argv (argv[0] is the program) into opts.  Returns 0, or
 * -EINVAL after printing "error: ..." naming the problem to err. */
int orchctl_args_parse(int argc, char **argv, struct orchctl_opts *opts,
                       FILE *err);

/* ---- HTTP client ------------------------------------------------------ */

struct orchctl_client;

struct orchctl_reply {
    long status;
    char *body; /* NUL-terminated, owned */
    size_t len;
};

/* Open a client for server (http:// or https://) with an optional bearer
 * token, CA file and TLS verification switch.  Returns 0, -EINVAL for a
 * server URL that is not http(s), or -ENOMEM.  Free with
 * orchctl_client_free(). */
int orchctl_client_open(const char *server, const char *token,
                        const char *cacert, bool insecure,
                        struct orchctl_client **ret_client);
void orchctl_client_free(struct orchctl_client *c);

/* How long one request may take, connecting and reading the whole reply
 * included (--request-timeout); 0: no limit (the default of a new client).
 * Every connection also has TCP keepalive on, so a server host that is gone
 * is noticed on a quiet watch too. */
void orchctl_client_set_timeout(struct orchctl_client *c, long long ms);

/* Send one request (body NULL for none, else JSON) and read the whole reply
 * within the client's timeout.  path includes any query.  Returns 0 with
 * the reply (any HTTP status) or a negative errno for a transport failure
 * (-ECONNREFUSED, -ETIMEDOUT, -EHOSTUNREACH, -EIO); orchctl_client_error()
 * then says what happened.  Free the reply with orchctl_reply_clear(). */
int orchctl_client_request(struct orchctl_client *c, const char *method,
                           const char *path, const char *body,
                           struct orchctl_reply *ret_reply);
void orchctl_reply_clear(struct orchctl_reply *r);

/* orchctl_client_request() with the body's media type named (NULL:
 * "application/json"), e.g. "application/merge-patch+json" for a PATCH.
 * Returns as orchctl_client_request() does. */
int orchctl_client_send(struct orchctl_client *c, const char *method,
                        const char *path, const char *content_type,
                        const char *body, struct orchctl_reply *ret_reply);

/* GET path as a stream of newline-separated JSON watch events, calling
 * on_event for each ({"type":..,"object":..}, borrowed).  timeout_s > 0
 * asks the server to end the stream after that long (timeoutSeconds is
 * added to path).  With a client timeout, the server must answer within it,
 * and a stream still open that long after timeout_s is given up as stalled
 * (-ETIMEDOUT); between events the stream may be quiet.  A non-zero return
 * from on_event stops the stream and is returned.  Returns 0 when the server
 * ends the stream, a transport errno as orchctl_client_request does, or
 * -EPROTO with the reply in *ret_reply when the server answered with an
 * error status (ret_reply may be NULL). */
int orchctl_client_watch(struct orchctl_client *c, const char *path,
                         long timeout_s,
                         int (*on_event)(void *data, const json_t *event),
                         void *data, struct orchctl_reply *ret_reply);

/* The last transport failure, in kubectl's words and without the token. */
const char *orchctl_client_error(const struct orchctl_client *c);

/* ---- Running ---------------------------------------------------------- */

/* What a verb handler gets. */
struct orchctl_ctx {
    const struct orchctl_opts *opts;
    struct orchctl_client *client;
    const char *namespace; /* resolved: flag, config file or "default" */
    FILE *out;
    FILE *err;
    bool tty; /* out is a terminal: draw live progress */
    long poll_ms;
};

struct orchctl_verb {
    const char *name;
    int (*run)(struct orchctl_ctx *ctx);
    unsigned flags; /* ORCHCTL_F_* the verb accepts beyond the global ones */
    int min_args;
    int max_args;
    const char *missing; /* the error when fewer than min_args are given */
    const char *usage;
    const char *summary;
};

/* Flags, as bits of orchctl_verb.flags. */
enum {
    ORCHCTL_F_SERVER = 1u << 0,
    ORCHCTL_F_TOKEN = 1u << 1,
    ORCHCTL_F_CACERT = 1u << 2,
    ORCHCTL_F_INSECURE = 1u << 3,
    ORCHCTL_F_NAMESPACE = 1u << 4,
    ORCHCTL_F_HELP = 1u << 5,
    ORCHCTL_F_ALL_NAMESPACES = 1u << 6,
    ORCHCTL_F_SELECTOR = 1u << 7,
    ORCHCTL_F_OUTPUT = 1u << 8,
    ORCHCTL_F_WATCH = 1u << 9,
    ORCHCTL_F_FILENAME = 1u << 10,
    ORCHCTL_F_TO = 1u << 11,
    ORCHCTL_F_WAIT = 1u << 12,
    ORCHCTL_F_TIMEOUT = 1u << 13,
    ORCHCTL_F_CLIENT = 1u << 14,
    ORCHCTL_F_REQUEST_TIMEOUT = 1u << 15,
    ORCHCTL_F_DRY_RUN = 1u << 16,
};

/* The verb table, terminated by an entry with a NULL name. */
extern const struct orchctl_verb orchctl_verbs[];

/* Run orchctl: parse, resolve the server and token (flag, ORCH_SERVER /
 * ORCH_TOKEN, the config file, the default), run the verb.  Returns the exit
 * code. */
int orchctl_main(int argc, char **argv, FILE *out, FILE *err);

/* Verb handlers, one per file (orchctl/cmd_*.c).  Each returns an exit
 * code. */
int orchctl_cmd_get(struct orchctl_ctx *ctx);
int orchctl_cmd_describe(struct orchctl_ctx *ctx);
int orchctl_cmd_apply(struct orchctl_ctx *ctx);
int orchctl_cmd_create(struct orchctl_ctx *ctx);
int orchctl_cmd_delete(struct orchctl_ctx *ctx);
int orchctl_cmd_migrate(struct orchctl_ctx *ctx);
int orchctl_cmd_completion(struct orchctl_ctx *ctx);

/* Print the bash completion script, made from the verb and flag tables. */
void orchctl_completion_bash(FILE *out);
int orchctl_cmd_migrate_cancel(struct orchctl_ctx *ctx);
int orchctl_cmd_drain(struct orchctl_ctx *ctx);
int orchctl_cmd_cordon(struct orchctl_ctx *ctx);
int orchctl_cmd_uncordon(struct orchctl_ctx *ctx);
int orchctl_cmd_version(struct orchctl_ctx *ctx);
int orchctl_cmd_start(struct orchctl_ctx *ctx);
int orchctl_cmd_stop(struct orchctl_ctx *ctx);
int orchctl_cmd_restart(struct orchctl_ctx *ctx);

/* ---- Shared by the handlers ------------------------------------------- */

/* Resolve a kind name for a handler; prints kubectl's error and returns
 * NULL when unknown. */
const struct orchctl_kind *orchctl_ctx_kind(struct orchctl_ctx *ctx,
                                            const char *name);

/* Send a request and decode a JSON reply.  On a 2xx reply returns 0 with
 * the decoded body in *ret_obj (NULL for an empty body; may be NULL).  On an
 * error status prints "Error from server (Reason): message" and returns
 * -EPROTO; the HTTP status is stored in *ret_status when not NULL (also on
 * success).  On a transport failure prints kubectl's connection message and
 * returns its negative errno.  quiet_404 suppresses the message for 404. */
int orchctl_ctx_call(struct orchctl_ctx *ctx, const char *method,
                     const char *path, const json_t *body, bool quiet_404,
                     long *ret_status, json_t **ret_obj);

/* Print a server error the way kubectl does, from a Status body when there
 * is one: "Error from server (NotFound): virtualmachineinstancemigrations
 * "x" not found". */
void orchctl_print_server_error(FILE *err, long status, const char *body,
                                size_t len);

/* Read -f FILE|- and decode it (orchctl_doc_decode).  Prints the problem
 * and returns a negative errno on failure; 0 and a json array otherwise. */
int orchctl_manifest_read(struct orchctl_ctx *ctx, json_t **ret_items);

/* The kind of a manifest object from its apiVersion and kind (exact
 * names); prints kubectl's "unable to recognize" and returns NULL when
 * unknown. */
const struct orchctl_kind *orchctl_manifest_kind(struct orchctl_ctx *ctx,
                                                 const json_t *obj);

/* The namespace of a manifest object: metadata.namespace, else the
 * context's (written into the object); NULL for a cluster-scoped kind. */
const char *orchctl_manifest_namespace(struct orchctl_ctx *ctx,
                                       const struct orchctl_kind *k,
                                       json_t *obj);

/* Cordon (on) or uncordon node `name`: read it, and unless spec.
 * unschedulable already says so, set it (true) or remove it by a JSON merge
 * patch; a server that answers 405 or 415 to the PATCH gets the node back
 * by PUT with its resourceVersion, read again and retried once on 409.
 * Prints kubectl's "node/NAME cordoned" ("uncordoned", "already
 * cordoned") to out.  Returns 0, or a negative errno after printing why:
 * -EPROTO for a server error (a missing node included), a transport errno,
 * -ENOMEM. */
int orchctl_node_set_unschedulable(struct orchctl_ctx *ctx, const char *name,
                                   bool on);

/* The path of one object: collection path + "/" + name, percent-encoded
 * (orchctl_url_escape).  Returns a string to free(), or NULL. */
char *orchctl_object_path(const struct orchctl_kind *k, const char *ns,
                          const char *name);

/* Small accessors on documents: the string at a dotted path
 * ("status.migrationState.sourceNode"), or NULL. */
const char *orchctl_json_str(const json_t *obj, const char *dotted);
json_t *orchctl_json_get(const json_t *obj, const char *dotted);

/* Percent-encode s for a URL query value.  Returns a string to free(), or
 * NULL when out of memory. */
char *orchctl_url_escape(const char *s);

/* The live progress line of a migration (no newline): name, phase, a bar
 * with percent and bytes from status.progress, source -> target. */
void orchctl_progress_format(const json_t *vmim, char *buf, size_t size);

/* Whether a migration phase is final (Succeeded or Failed). */
bool orchctl_phase_final(const char *phase);

/* Sleep for ms milliseconds. */
void orchctl_sleep_ms(long ms);

/* Milliseconds on the monotonic clock. */
long long orchctl_now_ms(void);

#endif
