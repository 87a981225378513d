/*
 * orchctl's command line: the flag and verb tables, parsing, help, the
 * server settings and the shared request helpers (see orchctl.h).
 */
#include "orchctl/orchctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#define GLOBAL_FLAGS                                                           \
    (ORCHCTL_F_SERVER | ORCHCTL_F_TOKEN | ORCHCTL_F_CACERT |                   \
     ORCHCTL_F_INSECURE | ORCHCTL_F_NAMESPACE | ORCHCTL_F_HELP |               \
     ORCHCTL_F_REQUEST_TIMEOUT)

struct flag {
    const char *long_name;
    char short_name;
    unsigned bit;
    bool takes_arg;
    const char *arg_name;
    const char *help;
};

static const struct flag flags[] = {
    {"server", 's', ORCHCTL_F_SERVER, true, "URL",
     "the orchestratord to talk to (default " ORCHCTL_DEFAULT_SERVER ")"},
    {"token", 0, ORCHCTL_F_TOKEN, true, "TOKEN", "bearer token"},
    {"cacert", 0, ORCHCTL_F_CACERT, true, "FILE",
     "CA certificate to verify the server with"},
    {"insecure-skip-tls-verify", 0, ORCHCTL_F_INSECURE, false, NULL,
     "do not verify the server's certificate"},
    {"namespace", 'n', ORCHCTL_F_NAMESPACE, true, "NS",
     "namespace (default \"default\")"},
    {"request-timeout", 0, ORCHCTL_F_REQUEST_TIMEOUT, true, "DURATION",
     "give up on one request after this long (60s; 0: never)"},
    {"help", 'h', ORCHCTL_F_HELP, false, NULL, "print help and exit"},
    {"all-namespaces", 'A', ORCHCTL_F_ALL_NAMESPACES, false, NULL,
     "list across all namespaces"},
    {"selector", 'l', ORCHCTL_F_SELECTOR, true, "SELECTOR",
     "get: label selector (a=b,c!=d); migrate: target host labels k=v"},
    {"output", 'o', ORCHCTL_F_OUTPUT, true, "FORMAT",
     "table, wide (more columns), json, yaml, name or jsonpath=TEMPLATE"},
    {"watch", 'w', ORCHCTL_F_WATCH, false, NULL,
     "after listing, stream changes"},
    {"filename", 'f', ORCHCTL_F_FILENAME, true, "FILE",
     "manifest, YAML or JSON; - reads standard input"},
    {"to", 0, ORCHCTL_F_TO, true, "HOST", "migrate to this host"},
    {"wait", 0, ORCHCTL_F_WAIT, false, NULL,
     "wait until the migration succeeds (exit 0) or fails (exit 1)"},
    {"timeout", 0, ORCHCTL_F_TIMEOUT, true, "DURATION",
     "give up waiting after this long (30s, 5m, 1h)"},
    {"client", 0, ORCHCTL_F_CLIENT, false, NULL,
     "print the client's version only"},
    {"dry-run", 0, ORCHCTL_F_DRY_RUN, true, "none|client|server",
     "client: print the objects, send nothing; server: have them validated "
     "and admitted, not stored"},
};

#define NFLAGS (sizeof(flags) / sizeof(flags[0]))

const struct orchctl_verb orchctl_verbs[] = {
    {"get", orchctl_cmd_get,
     ORCHCTL_F_ALL_NAMESPACES | ORCHCTL_F_SELECTOR | ORCHCTL_F_OUTPUT |
         ORCHCTL_F_WATCH,
     1, 2, "you must specify the type of resource to get",
     "get KIND [NAME] [-n NS | -A] [-l SELECTOR] [-o FORMAT] [-w]",
     "list objects or show one"},
    {"describe", orchctl_cmd_describe, 0, 2, 2,
     "describe needs a KIND and a NAME", "describe KIND NAME",
     "show one object in detail (a node with its VMIs and SR-IOV VFs)"},
    {"apply", orchctl_cmd_apply, ORCHCTL_F_FILENAME | ORCHCTL_F_DRY_RUN, 0, 0,
     NULL, "apply -f FILE|- [--dry-run=client|server]",
     "create the objects of a manifest, or update the ones that exist"},
    {"create", orchctl_cmd_create, ORCHCTL_F_FILENAME | ORCHCTL_F_DRY_RUN, 0, 0,
     NULL, "create -f FILE|- [--dry-run=client|server]",
     "create the objects of a manifest"},
    {"delete", orchctl_cmd_delete, ORCHCTL_F_FILENAME, 0, 8, NULL,
     "delete KIND NAME... | delete -f FILE|-",
     "delete objects; deleting a migration in flight cancels it"},
    {"migrate", orchctl_cmd_migrate,
     ORCHCTL_F_TO | ORCHCTL_F_SELECTOR | ORCHCTL_F_WAIT | ORCHCTL_F_TIMEOUT |
         ORCHCTL_F_OUTPUT,
     1, 1, "migrate needs the name of a VM",
     "migrate VM [--to HOST | --selector k=v] [--wait] [--timeout DURATION]",
     "live-migrate a running VM to another host"},
    {"migrate-cancel", orchctl_cmd_migrate_cancel, 0, 1, 1,
     "migrate-cancel needs the name of a VM", "migrate-cancel VM",
     "cancel the migration in flight of a VM"},
    {"start", orchctl_cmd_start, 0, 1, 1, "start needs the name of a VM",
     "start VM", "start a VM (its runStrategy becomes Always)"},
    {"stop", orchctl_cmd_stop, 0, 1, 1, "stop needs the name of a VM",
     "stop VM", "stop a VM: shut its domain down and remove it from its host"},
    {"restart", orchctl_cmd_restart, 0, 1, 1, "restart needs the name of a VM",
     "restart VM", "stop a running VM and start it again"},
    {"drain", orchctl_cmd_drain, ORCHCTL_F_TIMEOUT, 1, 1,
     "drain needs the name of a host", "drain HOST [--timeout DURATION]",
     "cordon a host, live-migrate every running VM away from it and wait"},
    {"cordon", orchctl_cmd_cordon, 0, 1, 1, "cordon needs the name of a node",
     "cordon NODE",
     "mark a node unschedulable: no VM is placed or migrated onto it"},
    {"uncordon", orchctl_cmd_uncordon, 0, 1, 1,
     "uncordon needs the name of a node", "uncordon NODE",
     "mark a node schedulable again"},
    {"version", orchctl_cmd_version, ORCHCTL_F_CLIENT, 0, 0, NULL,
     "version [--client]", "print the client and server versions"},
    {"completion", orchctl_cmd_completion, 0, 1, 1,
     "completion needs the name of a shell (bash)", "completion bash",
     "print a shell completion script: source <(orchctl completion bash)"},
    {NULL, NULL, 0, 0, 0, NULL, NULL, NULL},
};

static const struct orchctl_verb *verb_find(const char *name)
{
    const struct orchctl_verb *v;

    for (v = orchctl_verbs; v->name; v++)
        if (!strcmp(v->name, name))
            return v;
    return NULL;
}

static void hint(FILE *err, const struct orchctl_verb *v)
{
    if (v)
        fprintf(err, "See 'orchctl %s -h' for help.\n", v->name);
    else
        fprintf(err, "See 'orchctl -h' for help.\n");
}

static int flag_value(struct orchctl_opts *o, const struct flag *f,
                      const char *spelled, const char *value, FILE *err)
{
    switch (f->bit) {
    case ORCHCTL_F_SERVER:
        o->server = value;
        break;
    case ORCHCTL_F_TOKEN:
        o->token = value;
        break;
    case ORCHCTL_F_CACERT:
        o->cacert = value;
        break;
    case ORCHCTL_F_NAMESPACE:
        if (!*value) {
            fprintf(err, "error: a namespace may not be empty\n");
            return -EINVAL;
        }
        o->namespace = value;
        break;
    case ORCHCTL_F_SELECTOR:
        o->selector = value;
        break;
    case ORCHCTL_F_OUTPUT:
        if (!strcmp(value, "table"))
            o->output = ORCHCTL_OUTPUT_TABLE;
        else if (!strcmp(value, "wide"))
            o->output = ORCHCTL_OUTPUT_WIDE;
        else if (!strcmp(value, "json"))
            o->output = ORCHCTL_OUTPUT_JSON;
        else if (!strcmp(value, "yaml"))
            o->output = ORCHCTL_OUTPUT_YAML;
        else if (!strcmp(value, "name"))
            o->output = ORCHCTL_OUTPUT_NAME;
        else if (!strncmp(value, "jsonpath=", 9)) {
            struct orchctl_jsonpath *jp = NULL;
            char why[256];

            /* Checked here so a bad template is a usage error before any
             * request; the verb parses it again to print. */
            if (orchctl_jsonpath_parse(value + 9, &jp, why, sizeof(why)) < 0) {
                fprintf(err, "error: error parsing jsonpath %s: %s\n",
                        value + 9, why);
                return -EINVAL;
            }
            orchctl_jsonpath_free(jp);
            o->output = ORCHCTL_OUTPUT_JSONPATH;
            o->jsonpath = value + 9;
        } else {
            fprintf(err,
                    "error: unable to match a printer suitable for the "
                    "output format \"%s\", allowed formats are: "
                    "json,jsonpath,name,table,wide,yaml\n",
                    value);
            return -EINVAL;
        }
        break;
    case ORCHCTL_F_FILENAME:
        o->filename = value;
        break;
    case ORCHCTL_F_DRY_RUN:
        if (!strcmp(value, "none"))
            o->dry_run = ORCHCTL_DRY_RUN_NONE;
        else if (!strcmp(value, "client"))
            o->dry_run = ORCHCTL_DRY_RUN_CLIENT;
        else if (!strcmp(value, "server"))
            o->dry_run = ORCHCTL_DRY_RUN_SERVER;
        else {
            fprintf(err,
                    "error: Invalid dry-run value (%s). Must be \"none\", "
                    "\"server\", or \"client\".\n",
                    value);
            return -EINVAL;
        }
        break;
    case ORCHCTL_F_TO:
        if (!*value) {
            fprintf(err, "error: --to needs a host name\n");
            return -EINVAL;
        }
        o->to = value;
        break;
    case ORCHCTL_F_REQUEST_TIMEOUT:
    case ORCHCTL_F_TIMEOUT:
        if (orchctl_duration_parse(value, f->bit == ORCHCTL_F_TIMEOUT
                                              ? &o->timeout_ms
                                              : &o->request_timeout_ms) < 0) {
            fprintf(err,
                    "error: invalid argument \"%s\" for \"%s\" flag: "
                    "invalid duration \"%s\"\n",
                    value, spelled, value);
            return -EINVAL;
        }
        break;
    }
    return 0;
}

static int flag_bool(struct orchctl_opts *o, const struct flag *f,
                     const char *spelled, const char *value, FILE *err)
{
    bool on = true;

    if (value) {
        if (!strcmp(value, "true"))
            on = true;
        else if (!strcmp(value, "false"))
            on = false;
        else {
            fprintf(err,
                    "error: invalid argument \"%s\" for \"%s\" flag: "
                    "want true or false\n",
                    value, spelled);
            return -EINVAL;
        }
    }
    switch (f->bit) {
    case ORCHCTL_F_INSECURE:
        o->insecure = on;
        break;
    case ORCHCTL_F_HELP:
        o->help = on;
        break;
    case ORCHCTL_F_ALL_NAMESPACES:
        o->all_namespaces = on;
        break;
    case ORCHCTL_F_WATCH:
        o->watch = on;
        break;
    case ORCHCTL_F_WAIT:
        o->wait = on;
        break;
    case ORCHCTL_F_CLIENT:
        o->client_only = on;
        break;
    }
    return 0;
}

int orchctl_args_parse(int argc, char **argv, struct orchctl_opts *opts,
                       FILE *err)
{
    struct orchctl_opts o = {
        .request_timeout_ms = ORCHCTL_DEFAULT_REQUEST_TIMEOUT_MS,
    };
    const char *positional[16];
    const char *seen_name[NFLAGS];
    unsigned seen = 0;
    int npos = 0, i;
    bool flags_done = false;
    size_t k;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *value = NULL;
        const struct flag *f = NULL;
        char spelled[64];
        int r;

        if (flags_done || a[0] != '-' || !a[1]) {
            if (npos == (int)(sizeof(positional) / sizeof(positional[0]))) {
                fprintf(err, "error: too many arguments\n");
                return -EINVAL;
            }
            positional[npos++] = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            flags_done = true;
            continue;
        }
        if (a[1] == '-') {
            const char *eq = strchr(a + 2, '=');
            size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);

            for (k = 0; k < NFLAGS; k++)
                if (strlen(flags[k].long_name) == len &&
                    !strncmp(flags[k].long_name, a + 2, len))
                    break;
            if (k == NFLAGS) {
                fprintf(err, "error: unknown flag: --%.*s\n", (int)len, a + 2);
                hint(err, NULL);
                return -EINVAL;
            }
            f = &flags[k];
            snprintf(spelled, sizeof(spelled), "--%s", f->long_name);
            if (eq)
                value = eq + 1;
        } else {
            for (k = 0; k < NFLAGS; k++)
                if (flags[k].short_name == a[1])
                    break;
            if (k == NFLAGS) {
                fprintf(err, "error: unknown shorthand flag: '%c' in %s\n",
                        a[1], a);
                hint(err, NULL);
                return -EINVAL;
            }
            f = &flags[k];
            snprintf(spelled, sizeof(spelled), "-%c", f->short_name);
            if (a[2])
                value = a[2] == '=' ? a + 3 : a + 2;
            if (value && !f->takes_arg && a[2] != '=') {
                fprintf(err, "error: unknown shorthand flag: '%c' in %s\n",
                        a[2], a);
                hint(err, NULL);
                return -EINVAL;
            }
        }
        if (f->takes_arg && !value) {
            if (i + 1 >= argc) {
                fprintf(err, "error: flag needs an argument: %s\n", spelled);
                return -EINVAL;
            }
            value = argv[++i];
        }
        r = f->takes_arg ? flag_value(&o, f, spelled, value, err)
                         : flag_bool(&o, f, spelled, value, err);
        if (r < 0)
            return r;
        seen |= f->bit;
        seen_name[k] = f->long_name;
    }

    if (npos == 0) {
        if (!o.help) {
            fprintf(err, "error: missing command\n");
            hint(err, NULL);
            return -EINVAL;
        }
        *opts = o;
        return 0;
    }
    o.verb = verb_find(positional[0]);
    if (!o.verb) {
        fprintf(err, "error: unknown command \"%s\" for \"orchctl\"\n",
                positional[0]);
        hint(err, NULL);
        return -EINVAL;
    }
    for (k = 0; k < NFLAGS; k++) {
        if ((seen & flags[k].bit) &&
            !(flags[k].bit & (GLOBAL_FLAGS | o.verb->flags))) {
            fprintf(err, "error: unknown flag: --%s\n", seen_name[k]);
            hint(err, o.verb);
            return -EINVAL;
        }
    }
    if (o.help) {
        *opts = o;
        return 0;
    }
    if (npos - 1 < o.verb->min_args) {
        fprintf(err, "error: %s\n", o.verb->missing);
        hint(err, o.verb);
        return -EINVAL;
    }
    if (npos - 1 > o.verb->max_args ||
        npos - 1 > (int)(sizeof(o.args) / sizeof(o.args[0]))) {
        fprintf(err, "error: unexpected argument \"%s\" for \"orchctl %s\"\n",
                positional[1 + o.verb->max_args], o.verb->name);
        hint(err, o.verb);
        return -EINVAL;
    }
    if (o.to && o.selector && o.verb == verb_find("migrate")) {
        fprintf(err, "error: --to and --selector cannot be used together\n");
        hint(err, o.verb);
        return -EINVAL;
    }
    if ((seen & ORCHCTL_F_TIMEOUT) && !o.wait &&
        o.verb == verb_find("migrate")) {
        fprintf(err, "error: --timeout needs --wait\n");
        hint(err, o.verb);
        return -EINVAL;
    }
    for (i = 1; i < npos; i++)
        o.args[o.nargs++] = positional[i];
    *opts = o;
    return 0;
}

static void print_flags(FILE *out, unsigned mask)
{
    size_t k;

    for (k = 0; k < NFLAGS; k++) {
        char left[64];

        if (!(flags[k].bit & mask))
            continue;
        if (flags[k].short_name)
            snprintf(left, sizeof(left), "-%c, --%s%s%s", flags[k].short_name,
                     flags[k].long_name, flags[k].takes_arg ? " " : "",
                     flags[k].takes_arg ? flags[k].arg_name : "");
        else
            snprintf(left, sizeof(left), "    --%s%s%s", flags[k].long_name,
                     flags[k].takes_arg ? " " : "",
                     flags[k].takes_arg ? flags[k].arg_name : "");
        fprintf(out, "  %-34s %s\n", left, flags[k].help);
    }
}

/* The flags of MASK as bash words ("--server -s ..."), into out; with
 * TAKING, only those that take a value, else all. */
static void completion_flag_words(FILE *out, unsigned mask, bool taking)
{
    for (size_t k = 0; k < NFLAGS; k++) {
        if (!(flags[k].bit & mask) || (taking && !flags[k].takes_arg))
            continue;
        fprintf(out, " --%s", flags[k].long_name);
        if (flags[k].short_name)
            fprintf(out, " -%c", flags[k].short_name);
    }
}

/* The script is made from the verb and flag tables, so it cannot fall
 * behind them; object names are asked of the server at completion time
 * (orchctl get KIND -o name), with the connection flags already typed. */
void orchctl_completion_bash(FILE *out)
{
    const struct orchctl_verb *v;

    fputs("# bash completion for orchctl; generated by "
          "'orchctl completion bash'.\n"
          "# Load it with: source <(orchctl completion bash)\n\n"
          "__orchctl_names()\n{\n"
          "    # $1: kind; the connection flags typed so far are passed on.\n"
          "    orchctl \"${__orchctl_conn[@]}\" get \"$1\" -o name "
          "2>/dev/null | sed 's|.*/||'\n"
          "}\n\n"
          "_orchctl()\n{\n"
          "    local cur=${COMP_WORDS[COMP_CWORD]} "
          "prev=${COMP_WORDS[COMP_CWORD-1]}\n"
          "    local verb=\"\" i w\n"
          "    local -a args=()\n"
          "    __orchctl_conn=()\n"
          "    local takes_arg=\"",
          out);
    completion_flag_words(out, ~0u, true);
    fputs(" \"\n"
          "    for ((i = 1; i < COMP_CWORD; i++)); do\n"
          "        w=${COMP_WORDS[i]}\n"
          "        case \" $takes_arg \" in\n"
          "        *\" $w \"*)\n"
          "            case $w in\n"
          "            --server|-s|--token|--cacert|--namespace|-n)\n"
          "                __orchctl_conn+=(\"$w\" \"${COMP_WORDS[i+1]}\");;\n"
          "            esac\n"
          "            ((i++)); continue;;\n"
          "        esac\n"
          "        case $w in\n"
          "        -*) ;;\n"
          "        *) if [ -z \"$verb\" ]; then verb=$w; else args+=(\"$w\"); "
          "fi;;\n"
          "        esac\n"
          "    done\n"
          "    case $prev in\n"
          "    -o|--output)\n"
          "        COMPREPLY=($(compgen -W \"table wide json yaml name "
          "jsonpath=\" -- \"$cur\")); return;;\n"
          "    -f|--filename|--cacert)\n"
          "        COMPREPLY=($(compgen -f -- \"$cur\")); return;;\n"
          "    --to)\n"
          "        COMPREPLY=($(compgen -W \"$(__orchctl_names node)\" -- "
          "\"$cur\")); return;;\n"
          "    --dry-run)\n"
          "        COMPREPLY=($(compgen -W \"none client server\" -- "
          "\"$cur\")); return;;\n"
          "    esac\n"
          "    case \" $takes_arg \" in *\" $prev \"*) return;; esac\n"
          "    if [ -z \"$verb\" ]; then\n"
          "        if [[ $cur == -* ]]; then\n"
          "            COMPREPLY=($(compgen -W \"",
          out);
    completion_flag_words(out, GLOBAL_FLAGS, false);
    fputs("\" -- \"$cur\"))\n"
          "        else\n"
          "            COMPREPLY=($(compgen -W \"",
          out);
    for (v = orchctl_verbs; v->name; v++)
        fprintf(out, "%s%s", v == orchctl_verbs ? "" : " ", v->name);
    fputs("\" -- \"$cur\"))\n"
          "        fi\n"
          "        return\n"
          "    fi\n"
          "    if [[ $cur == -* ]]; then\n"
          "        case $verb in\n",
          out);
    for (v = orchctl_verbs; v->name; v++) {
        fprintf(out, "        %s) COMPREPLY=($(compgen -W \"", v->name);
        completion_flag_words(out, GLOBAL_FLAGS | v->flags, false);
        fputs("\" -- \"$cur\"));;\n", out);
    }
    fputs("        esac\n"
          "        return\n"
          "    fi\n"
          "    local kinds=\"vmim vmi vm node migrationpolicy "
          "virtualmachineinstancemigrations virtualmachineinstances "
          "virtualmachines nodes migrationpolicies\"\n"
          "    case $verb in\n"
          "    get|describe|delete)\n"
          "        if [ ${#args[@]} -eq 0 ]; then\n"
          "            COMPREPLY=($(compgen -W \"$kinds\" -- \"$cur\"))\n"
          "        else\n"
          "            COMPREPLY=($(compgen -W \"$(__orchctl_names "
          "\"${args[0]}\")\" -- \"$cur\"))\n"
          "        fi;;\n"
          "    migrate|migrate-cancel)\n"
          "        [ ${#args[@]} -eq 0 ] && COMPREPLY=($(compgen -W "
          "\"$(__orchctl_names vmi)\" -- \"$cur\"));;\n"
          "    drain|cordon|uncordon)\n"
          "        [ ${#args[@]} -eq 0 ] && COMPREPLY=($(compgen -W "
          "\"$(__orchctl_names node)\" -- \"$cur\"));;\n"
          "    completion)\n"
          "        [ ${#args[@]} -eq 0 ] && COMPREPLY=($(compgen -W bash -- "
          "\"$cur\"));;\n"
          "    esac\n"
          "}\n\n"
          "complete -o default -F _orchctl orchctl\n",
          out);
}

static void print_help(FILE *out, const struct orchctl_verb *v)
{
    const struct orchctl_verb *it;

    if (v) {
        fprintf(out, "Usage: orchctl %s\n\n%s.\n", v->usage, v->summary);
        if (v->flags) {
            fprintf(out, "\nOptions:\n");
            print_flags(out, v->flags);
        }
        fprintf(out, "\nGlobal options:\n");
        print_flags(out, GLOBAL_FLAGS);
        return;
    }
    fprintf(out,
            "Usage: orchctl [options] COMMAND [args]\n\n"
            "orchctl drives orchestratord, the live-migration orchestrator.\n"
            "\nCommands:\n");
    for (it = orchctl_verbs; it->name; it++)
        fprintf(out, "  %-16s %s\n", it->name, it->summary);
    fprintf(out, "\nGlobal options:\n");
    print_flags(out, GLOBAL_FLAGS);
    fprintf(out, "\nThe server and token come from --server/--token, else "
                 "ORCH_SERVER/ORCH_TOKEN,\nelse ~/.config/orchctl/config "
                 "(server = URL, token = T).\n"
                 "Kinds: vmim, vmi, vm, node (no), migrationpolicy.\n"
                 "Exit codes: 0 done, 1 failed, 2 usage.\n");
}

const struct orchctl_kind *orchctl_ctx_kind(struct orchctl_ctx *ctx,
                                            const char *name)
{
    const struct orchctl_kind *k = orchctl_kind_find(name);

    if (!k)
        fprintf(ctx->err,
                "error: the server doesn't have a resource type \"%s\"\n",
                name);
    return k;
}

static const struct {
    long status;
    const char *reason;
    const char *message;
} status_reasons[] = {
    {400, "BadRequest",
     "the server rejected our request for an unknown "
     "reason"},
    {401, "Unauthorized",
     "the server has asked for the client to provide "
     "credentials"},
    {403, "Forbidden",
     "the server does not allow access to the requested "
     "resource"},
    {404, "NotFound", "the server could not find the requested resource"},
    {405, "MethodNotAllowed",
     "the server does not allow this method on the "
     "requested resource"},
    {409, "Conflict", "the server reported a conflict"},
    {410, "Expired", "the resource version is too old"},
    {413, "RequestEntityTooLarge", "the request is too large"},
    {415, "UnsupportedMediaType",
     "the server does not support the body's "
     "media type"},
    {422, "Invalid",
     "the server rejected our request due to an error in "
     "our request"},
    {429, "TooManyRequests",
     "the server has received too many requests and "
     "has asked us to try again later"},
    {503, "ServiceUnavailable",
     "the server is currently unable to handle "
     "the request"},
    {504, "Timeout",
     "the server was unable to return a response in the "
     "time allotted, but may still be processing the "
     "request"},
};

void orchctl_print_server_error(FILE *err, long status, const char *body,
                                size_t len)
{
    json_t *doc = len ? json_loadb(body, len, 0, NULL) : NULL;
    const char *reason = json_string_value(json_object_get(doc, "reason"));
    const char *message = json_string_value(json_object_get(doc, "message"));
    const char *generic = NULL;
    const char *code_reason = "InternalError";
    size_t i;

    for (i = 0; i < sizeof(status_reasons) / sizeof(status_reasons[0]); i++) {
        if (status_reasons[i].status == status) {
            code_reason = status_reasons[i].reason;
            generic = status_reasons[i].message;
        }
    }
    if (!reason || !*reason)
        reason = code_reason;
    /* Reason, message and body are the server's: escaped. */
    if (message && *message)
        orchctl_printf_escaped(err, "Error from server (%s): %s\n", reason,
                               message);
    else if (generic)
        orchctl_printf_escaped(err, "Error from server (%s): %s\n", reason,
                               generic);
    else
        orchctl_printf_escaped(
            err,
            "Error from server (%s): an error on the server (\"%.*s\") "
            "has prevented the request from succeeding (status %ld)\n",
            reason, (int)(len > 200 ? 200 : len), body ? body : "", status);
    json_decref(doc);
}

int orchctl_ctx_call(struct orchctl_ctx *ctx, const char *method,
                     const char *path, const json_t *body, bool quiet_404,
                     long *ret_status, json_t **ret_obj)
{
    struct orchctl_reply reply = {0};
    char *text = NULL;
    json_t *obj = NULL;
    int r;

    if (body) {
        text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!text)
            return -ENOMEM;
    }
    r = orchctl_client_request(ctx->client, method, path, text, &reply);
    free(text);
    if (r < 0) {
        if (r == -ENOMEM)
            fprintf(ctx->err, "error: out of memory\n");
        else
            orchctl_printf_escaped(ctx->err, "%s\n",
                                   orchctl_client_error(ctx->client));
        return r;
    }
    if (ret_status)
        *ret_status = reply.status;
    if (reply.status < 200 || reply.status > 299) {
        if (!(quiet_404 && reply.status == 404))
            orchctl_print_server_error(ctx->err, reply.status, reply.body,
                                       reply.len);
        r = -EPROTO;
        goto out;
    }
    if (reply.len) {
        json_error_t jerr;

        obj = json_loadb(reply.body, reply.len, 0, &jerr);
        if (!obj) {
            orchctl_printf_escaped(
                ctx->err,
                "error: the server's reply to %s %s is not JSON: %s\n", method,
                path, jerr.text);
            r = -EPROTO;
            goto out;
        }
    }
    if (ret_obj) {
        *ret_obj = obj;
        obj = NULL;
    }
out:
    json_decref(obj);
    orchctl_reply_clear(&reply);
    return r;
}

int orchctl_main(int argc, char **argv, FILE *out, FILE *err)
{
    struct orchctl_opts opts;
    struct orchctl_file_config cfg = {0};
    struct orchctl_ctx ctx = {0};
    const char *server, *token, *cacert;
    char path[4096];
    int line = 0;
    int rc = ORCHCTL_EXIT_FAILED;
    int r;

    if (orchctl_args_parse(argc, argv, &opts, err) < 0)
        return ORCHCTL_EXIT_USAGE;
    if (opts.help) {
        print_help(out, opts.verb);
        return ORCHCTL_EXIT_OK;
    }
    if (orchctl_file_config_path(path, sizeof(path)) == 0) {
        r = orchctl_file_config_read(path, &cfg, &line);
        if (r == -EINVAL) {
            fprintf(err,
                    "error: config file '%s' line %d: expected "
                    "\"key = value\" with key server, token, cacert, "
                    "namespace or insecure-skip-tls-verify\n",
                    path, line);
            return ORCHCTL_EXIT_FAILED;
        }
        if (r < 0) {
            fprintf(err, "error: cannot read config file '%s': %s\n", path,
                    strerror(-r));
            return ORCHCTL_EXIT_FAILED;
        }
    }
    server = opts.server ? opts.server : getenv("ORCH_SERVER");
    if (!server || !*server)
        server = cfg.server ? cfg.server : ORCHCTL_DEFAULT_SERVER;
    token = opts.token ? opts.token : getenv("ORCH_TOKEN");
    if (!token || !*token)
        token = cfg.token;
    cacert = opts.cacert ? opts.cacert : cfg.cacert;
    ctx.opts = &opts;
    ctx.namespace = opts.namespace  ? opts.namespace
                    : cfg.namespace ? cfg.namespace
                                    : ORCHCTL_DEFAULT_NAMESPACE;
    ctx.out = out;
    ctx.err = err;
    ctx.tty = isatty(fileno(out)) == 1;
    ctx.poll_ms = 500;
    r = orchctl_client_open(server, token, cacert,
                            opts.insecure || cfg.insecure, &ctx.client);
    if (r == -EINVAL) {
        fprintf(err, "error: server '%s' is not an http:// or https:// URL\n",
                server);
        rc = ORCHCTL_EXIT_USAGE;
        goto out;
    }
    if (r < 0) {
        fprintf(err, "error: out of memory\n");
        goto out;
    }
    orchctl_client_set_timeout(ctx.client, opts.request_timeout_ms);
    rc = opts.verb->run(&ctx);
out:
    fflush(out);
    orchctl_client_free(ctx.client);
    orchctl_file_config_clear(&cfg);
    return rc;
}
