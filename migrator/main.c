/*
 * migrator: the per-host agent.
 *
 * Start-up order (STYLE.md): log to stderr, parse the command line, read and
 * check the configuration, stop there with -n, then serve the agent API
 * (migrator/agent.h) until SIGTERM.
 */
#include <errno.h>
#include <stdio.h>

#include <event2/thread.h>

#include "conf/conf.h"
#include "log/log.h"
#include "migrator/agent.h"

int main(int argc, char **argv)
{
    struct conf_migrator_args args;
    struct conf_migrator cfg = {0};
    struct migr_agent *agent = NULL;
    const char *path;
    char err[1024];
    int status = 1;
    int r;

    log_init("migrator", LOG_LEVEL_INFO);
    if (conf_migrator_args_parse(&args, argc, argv, err, sizeof(err)) < 0) {
        log_error("%s", err);
        fprintf(stderr, "try 'migrator -h'\n");
        return 2;
    }
    if (args.help) {
        fputs(conf_migrator_usage, stdout);
        return 0;
    }
    if (conf_migrator_init(&cfg) < 0) {
        log_error("configuration: %s", "out of memory");
        goto out;
    }
    path = args.config_path ? args.config_path : CONF_MIGRATOR_PATH;
    r = conf_migrator_load_file(&cfg, path, err, sizeof(err));
    if (r == -ENOENT && !args.config_path) {
        /* No file in the default place: run on defaults. */
        path = NULL;
    } else if (r < 0) {
        log_error("%s", err);
        goto out;
    }
    if (conf_migrator_args_apply(&cfg, &args) < 0) {
        log_error("configuration: %s", "out of memory");
        goto out;
    }
    /* The auth rule is checked with -n too: a file that cannot be served
     * is not "ok". */
    if (migr_agent_new(&cfg, NULL, &agent, err, sizeof(err)) < 0) {
        log_error("%s%s%s", path ? path : "", path ? ": " : "", err);
        goto out;
    }
    log_set_level(cfg.log_level);
    if (args.check_only) {
        printf("migrator: configuration ok\n");
        status = 0;
        goto out;
    }
    if (!path)
        log_info("no '%s', using the defaults", CONF_MIGRATOR_PATH);
    /* Job workers wake the loop (event_active) from their threads. */
    if (evthread_use_pthreads() < 0) {
        log_error("cannot make libevent thread-safe");
        goto out;
    }
    status = migr_agent_serve(agent) < 0 ? 1 : 0;
out:
    migr_agent_free(agent);
    conf_migrator_clear(&cfg);
    return status;
}
