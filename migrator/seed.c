/*
 * The NoCloud seed ISO, built with libisofs.  See seed.h.
 */
#include "migrator/seed.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* We read the image through libisofs' own copy of struct burn_source and do
 * not link libburn. */
#define LIBISOFS_WITHOUT_LIBBURN 1
#include <libisofs.h>

#include "api/api.h"

int migr_seed_from_vmi(const struct api_meta *meta,
                       const struct api_vmi_spec *spec, char *idbuf,
                       size_t idlen, struct migr_seed *ret)
{
    const struct api_volume *v = NULL;
    const char *ns;
    int n;

    if (!meta || !spec || !meta->name || !*meta->name || !ret)
        return -EINVAL;
    for (size_t i = 0; i < spec->volume_count; i++) {
        if (spec->volumes[i].type == API_VOLUME_CLOUD_INIT_NOCLOUD) {
            v = &spec->volumes[i];
            break;
        }
    }
    if (!v)
        return -ENOENT;
    ns = meta->namespace ? meta->namespace : "default";
    /* Measure first: idbuf is written only on success. */
    n = snprintf(NULL, 0, "%s.%s", meta->name, ns);
    if (n < 0 || (size_t)n >= idlen)
        return -ENAMETOOLONG;
    snprintf(idbuf, idlen, "%s.%s", meta->name, ns);
    *ret = (struct migr_seed){
        .instance_id = idbuf,
        .hostname = meta->name,
        .user_data = v->user_data,
        .network_data = v->network_data,
    };
    return 0;
}

/* A value that YAML reads back as the same string without quotes: a
 * conservative set (letters, digits and . _ - / not leading with - or .). */
static bool yaml_plain_ok(const char *s)
{
    if (!*s || *s == '-' || *s == '.')
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
              c == '/'))
            return false;
    }
    /* Words YAML 1.1 turns into booleans or null, and numbers. */
    static const char *const special[] = {"y",   "n",    "yes",   "no",  "on",
                                          "off", "true", "false", "null"};
    for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++)
        if (strcasecmp(s, special[i]) == 0)
            return false;
    char *end;
    strtod(s, &end);
    return *end != '\0';
}

static int yaml_put(FILE *f, const char *key, const char *value)
{
    if (yaml_plain_ok(value))
        return fprintf(f, "%s: %s\n", key, value) < 0 ? -EIO : 0;
    if (fprintf(f, "%s: '", key) < 0)
        return -EIO;
    for (const char *p = value; *p; p++) {
        if (*p == '\n' || *p == '\r')
            return -EINVAL; /* not a single-line value */
        if (fputs(*p == '\'' ? "''" : (char[]){*p, 0}, f) < 0)
            return -EIO;
    }
    return fputs("'\n", f) < 0 ? -EIO : 0;
}

int migr_seed_meta_data(const struct migr_seed *seed, char **ret_text)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f;
    int r;

    if (!seed || !seed->instance_id || !*seed->instance_id || !ret_text)
        return -EINVAL;
    f = open_memstream(&buf, &len);
    if (!f)
        return -ENOMEM;
    r = yaml_put(f, "instance-id", seed->instance_id);
    if (r == 0 && seed->hostname && *seed->hostname)
        r = yaml_put(f, "local-hostname", seed->hostname);
    if (fclose(f) != 0 && r == 0)
        r = -ENOMEM;
    if (r < 0) {
        free(buf);
        return r;
    }
    *ret_text = buf;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* libisofs                                                                */

/* 2000-01-01T00:00:00Z, as a time and as ECMA-119 writes it. */
#define SEED_TIME      ((time_t)946684800)
#define SEED_TIME_TEXT "2000010100000000"

static pthread_once_t iso_once = PTHREAD_ONCE_INIT;
static int iso_init_result;

static void iso_init_once(void)
{
    /* bit0: leave the process locale alone; our names are ASCII. */
    iso_init_result = iso_init_with_flag(1);
}

static int iso_errno(int r)
{
    return r == (int)ISO_OUT_OF_MEM ? -ENOMEM : -EIO;
}

/* Add a regular file `name` holding `text` to the image's root. */
static int add_file(IsoImage *image, const char *name, const char *text)
{
    size_t n = strlen(text);
    unsigned char *buf = malloc(n ? n : 1);
    IsoStream *stream = NULL;
    IsoFile *file = NULL;
    int r;

    if (!buf)
        return -ENOMEM;
    memcpy(buf, text, n);
    r = iso_memory_stream_new(buf, n, &stream); /* owns buf on success */
    if (r < 0) {
        free(buf);
        return iso_errno(r);
    }
    r = iso_image_add_new_file(image, iso_image_get_root(image), name, stream,
                               &file); /* takes the stream's reference */
    if (r < 0) {
        iso_stream_unref(stream);
        return iso_errno(r);
    }
    iso_node_set_permissions((IsoNode *)file, 0444);
    return 0;
}

/* Stream the image into fd. */
static int write_image(IsoImage *image, int fd)
{
    IsoWriteOpts *opts = NULL;
    struct burn_source *bs = NULL;
    unsigned char block[2048];
    int r;

    r = iso_write_opts_new(&opts, 0);
    if (r < 0)
        return iso_errno(r);
    iso_write_opts_set_rockridge(opts, 1);
    iso_write_opts_set_joliet(opts, 1);
    /* Keep "cidata" lowercase in the primary volume descriptor: that is
     * the label cloud-init and blkid look for. */
    iso_write_opts_set_relaxed_vol_atts(opts, 1);
    /* The same seed makes the same bytes, whenever and wherever it is
     * written: a migration target writes it again and must hand the guest
     * the very disk it had.  Every timestamp is a fixed one. */
    iso_write_opts_set_pvd_times(opts, SEED_TIME, SEED_TIME, 0, 0,
                                 (char *)SEED_TIME_TEXT);
    iso_write_opts_set_dir_rec_mtime(opts, 7);
    iso_write_opts_set_replace_timestamps(opts, 2);
    iso_write_opts_set_default_timestamp(opts, SEED_TIME);
    iso_write_opts_set_always_gmt(opts, 1);
    r = iso_image_create_burn_source(image, opts, &bs);
    iso_write_opts_free(opts);
    if (r < 0)
        return iso_errno(r);
    for (;;) {
        int n = bs->read_xt ? bs->read_xt(bs, block, sizeof(block))
                            : bs->read(bs, block, sizeof(block));
        size_t off = 0;

        if (n == 0)
            break;
        if (n < 0) {
            r = -EIO;
            goto out;
        }
        while (off < (size_t)n) {
            ssize_t w = write(fd, block + off, (size_t)n - off);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                r = -errno;
                bs->cancel(bs);
                goto out;
            }
            off += (size_t)w;
        }
    }
    r = 0;
out:
    bs->free_data(bs);
    free(bs);
    return r;
}

int migr_seed_write(const struct migr_seed *seed, const char *path)
{
    IsoImage *image = NULL;
    char *meta = NULL;
    char tmp[PATH_MAX];
    int fd = -1, r;

    if (!seed || !path || !*path)
        return -EINVAL;
    r = migr_seed_meta_data(seed, &meta);
    if (r < 0)
        return r;
    pthread_once(&iso_once, iso_init_once);
    if (iso_init_result < 0) {
        r = -EIO;
        goto out;
    }
    r = iso_image_new(MIGR_SEED_VOLUME_ID, &image);
    if (r < 0) {
        r = iso_errno(r);
        goto out;
    }
    iso_image_set_application_id(image, "orchestrator migrator");
    r = add_file(image, "meta-data", meta);
    if (r == 0)
        r = add_file(image, "user-data",
                     seed->user_data ? seed->user_data : "");
    if (r == 0 && seed->network_data)
        r = add_file(image, "network-config", seed->network_data);
    if (r < 0)
        goto out;

    if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp)) {
        r = -ENAMETOOLONG;
        goto out;
    }
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        r = -errno;
        goto out;
    }
    r = write_image(image, fd);
    if (r == 0 && fchmod(fd, 0644) < 0)
        r = -errno;
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    if (close(fd) < 0 && r == 0)
        r = -errno;
    fd = -1;
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0)
        unlink(tmp);
out:
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    if (image)
        iso_image_unref(image);
    free(meta);
    return r;
}
