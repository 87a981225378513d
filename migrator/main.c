/*
 * migrator: the per-host agent.
 *
 * Start-up order (STYLE.md): log to stderr, parse the command line, read and
 * check the configuration, stop there with -n, then connect and serve.
 */
#include <errno.h>
#include <stdio.h>

#include "conf/conf.h"
#include "log/log.h"

int main(int argc, char **argv)
{
    struct conf_migrator_args args;
    struct conf_migrator cfg = {0};
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
    log_set_level(cfg.log_level);
    if (args.check_only) {
        printf("migrator: configuration ok\n");
        status = 0;
        goto out;
    }
    if (!path)
        log_info("no '%s', using the defaults", CONF_MIGRATOR_PATH);

    /* SERVE: the migrator work wires the agent in here, e.g.
     *     status = migr_serve(&cfg, path) < 0 ? 1 : 0;
     * (path is NULL when running on defaults). */
    log_error("serving is not implemented yet");
out:
    conf_migrator_clear(&cfg);
    return status;
}
