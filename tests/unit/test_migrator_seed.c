/*
 * Unit tests for migrator/seed: the NoCloud ISO is built from the seed's
 * SR-IOV VM manifest, then read back two ways: the raw primary volume
 * descriptor (what blkid and cloud-init see as the label) and libisofs'
 * own reader, through Rock Ridge and through Joliet, comparing the three
 * files byte for byte.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <libisofs.h>

#include "api/api.h"
#include "migrator/seed.h"

static const char *top_dir(void)
{
    const char *top = getenv("ORCH_TOP");
    return top ? top : ".";
}

static char *slurp(const char *path, size_t *ret_len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    rewind(f);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (ret_len)
        *ret_len = (size_t)n;
    return buf;
}

struct tmp {
    char dir[256];
};

static int tmp_setup(void **state)
{
    struct tmp *t = calloc(1, sizeof(*t));
    const char *base = getenv("TMPDIR");

    if (!t)
        return -1;
    snprintf(t->dir, sizeof(t->dir), "%s/test_migrator_seed.XXXXXX",
             base ? base : "/tmp");
    if (!mkdtemp(t->dir)) {
        free(t);
        return -1;
    }
    *state = t;
    return 0;
}

static int tmp_teardown(void **state)
{
    struct tmp *t = *state;
    DIR *d = opendir(t->dir);
    struct dirent *e;
    char path[512];

    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", t->dir, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(t->dir);
    free(t);
    return 0;
}

static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* The seed's SR-IOV VM, decoded into the api views. */
static void load_vm(struct api_vm *vm)
{
    char path[PATH_MAX];
    struct api_errors errs;
    json_t *doc = NULL;
    char *text;
    size_t len;

    snprintf(path, sizeof(path), "%s/tests/data/vm-sriov.yaml", top_dir());
    text = slurp(path, &len);
    api_errors_init(&errs);
    assert_int_equal(
        api_object_parse(text, len, NULL, API_KIND_VM, &doc, NULL, &errs), 0);
    assert_int_equal(api_vm_from_json(doc, vm, &errs), 0);
    api_errors_clear(&errs);
    json_decref(doc);
    free(text);
}

/* ---------------------------------------------------------------------- */
/* Reading an image back                                                   */

struct iso_view {
    char volume_id[33]; /* from the raw primary volume descriptor */
    char files[3][64];  /* names in the root, as read */
    char *data[3];      /* their content */
    size_t len[3];
    int n_files;
    bool rockridge, joliet;
};

static void iso_view_clear(struct iso_view *v)
{
    for (int i = 0; i < v->n_files; i++)
        free(v->data[i]);
    memset(v, 0, sizeof(*v));
}

static char *read_stream(IsoFile *file, size_t *ret_len)
{
    IsoStream *s = iso_file_get_stream(file);
    size_t alloc = 256, len = 0;
    char *buf = malloc(alloc);
    int n;

    assert_non_null(buf);
    assert_true(iso_stream_open(s) >= 0);
    for (;;) {
        if (alloc - len < 64) {
            alloc *= 2;
            buf = realloc(buf, alloc);
            assert_non_null(buf);
        }
        n = iso_stream_read(s, buf + len, alloc - len - 1);
        assert_true(n >= 0);
        if (n == 0)
            break;
        len += (size_t)n;
    }
    iso_stream_close(s);
    buf[len] = '\0';
    *ret_len = len;
    return buf;
}

/* Read `path` with libisofs, through Rock Ridge or (joliet) through the
 * Joliet tree. */
static void iso_read(const char *path, bool joliet, struct iso_view *v)
{
    IsoDataSource *src = NULL;
    IsoReadOpts *ropts = NULL;
    IsoReadImageFeatures *features = NULL;
    IsoImage *image = NULL;
    IsoDirIter *it = NULL;
    IsoNode *node;
    unsigned char pvd[2048];
    int fd;

    memset(v, 0, sizeof(*v));
    /* The label as blkid reads it: PVD at sector 16, volume id at 40. */
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, pvd, sizeof(pvd), 16 * 2048), 2048);
    close(fd);
    assert_int_equal(pvd[0], 1);
    assert_memory_equal(pvd + 1, "CD001", 5);
    memcpy(v->volume_id, pvd + 40, 32);
    for (int i = 31; i >= 0 && v->volume_id[i] == ' '; i--)
        v->volume_id[i] = '\0';

    assert_true(iso_init() >= 0);
    assert_true(iso_data_source_new_from_file(path, &src) >= 0);
    assert_true(iso_read_opts_new(&ropts, 0) >= 0);
    if (joliet) {
        iso_read_opts_set_no_rockridge(ropts, 1);
        iso_read_opts_set_preferjoliet(ropts, 1);
    }
    assert_true(iso_image_new("check", &image) >= 0);
    assert_true(iso_image_import(image, src, ropts, &features) >= 0);
    v->rockridge = iso_read_image_features_has_rockridge(features);
    v->joliet = iso_read_image_features_has_joliet(features);
    assert_true(iso_dir_get_children(iso_image_get_root(image), &it) >= 0);
    while (iso_dir_iter_next(it, &node) == 1) {
        assert_true(v->n_files < 3);
        assert_true(ISO_NODE_IS_FILE(node));
        snprintf(v->files[v->n_files], sizeof(v->files[0]), "%s",
                 iso_node_get_name(node));
        v->data[v->n_files] = read_stream((IsoFile *)node, &v->len[v->n_files]);
        v->n_files++;
    }
    iso_dir_iter_free(it);
    iso_read_image_features_destroy(features);
    iso_image_unref(image);
    iso_read_opts_free(ropts);
    iso_data_source_unref(src);
    /* No iso_finish(): it would tear down what migr_seed_write's one-time
     * initialisation set up; iso_init() again is harmless. */
}

static const char *view_file(const struct iso_view *v, const char *name)
{
    for (int i = 0; i < v->n_files; i++)
        if (strcmp(v->files[i], name) == 0)
            return v->data[i];
    return NULL;
}

/* An independent reader: util-linux's blkid probes the file as the guest's
 * udev would, and must find an iso9660 filesystem labelled cidata.  Skipped
 * quietly where blkid is not installed. */
static void blkid_check(const char *path)
{
    char cmd[600], out[256] = "";
    FILE *p;
    size_t n;

    if (system("command -v blkid >/dev/null 2>&1") != 0)
        return;
    snprintf(cmd, sizeof(cmd), "blkid -p -o value -s TYPE -s LABEL '%s'", path);
    p = popen(cmd, "r");
    assert_non_null(p);
    n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    assert_int_equal(pclose(p), 0);
    assert_string_equal(out, "cidata\niso9660\n");
}

/* ---------------------------------------------------------------------- */

static void test_seed_from_vm_sriov(void **state)
{
    struct tmp *t = *state;
    struct api_vm vm = {0};
    struct migr_seed seed;
    struct iso_view v;
    char id[128], path[512];
    const struct api_volume *ci;

    load_vm(&vm);
    /* A VM's template has no name; the VMI takes the VM's. */
    assert_int_equal(
        migr_seed_from_vmi(&vm.meta, &vm.spec, id, sizeof(id), &seed), 0);
    assert_string_equal(seed.instance_id, "vmi-sriov-test-vm.default");
    assert_string_equal(seed.hostname, "vmi-sriov-test-vm");
    ci = &vm.spec.volumes[1];
    assert_ptr_equal(seed.user_data, ci->user_data);
    assert_ptr_equal(seed.network_data, ci->network_data);
    assert_int_equal(migr_seed_from_vmi(&vm.meta, &vm.spec, id, 10, &seed),
                     -ENAMETOOLONG);

    snprintf(path, sizeof(path), "%s/seed.iso", t->dir);
    assert_int_equal(migr_seed_write(&seed, path), 0);

    for (int joliet = 0; joliet <= 1; joliet++) {
        iso_read(path, joliet, &v);
        assert_string_equal(v.volume_id, "cidata");
        assert_true(v.rockridge);
        assert_true(v.joliet);
        assert_int_equal(v.n_files, 3);
        assert_string_equal(view_file(&v, "meta-data"),
                            "instance-id: vmi-sriov-test-vm.default\n"
                            "local-hostname: vmi-sriov-test-vm\n");
        assert_non_null(view_file(&v, "user-data"));
        assert_string_equal(view_file(&v, "user-data"), ci->user_data);
        assert_string_equal(view_file(&v, "user-data"),
                            "#!/bin/bash\n"
                            "echo \"fedora\" |passwd fedora --stdin");
        assert_non_null(view_file(&v, "network-config"));
        assert_string_equal(view_file(&v, "network-config"), ci->network_data);
        assert_non_null(
            strstr(view_file(&v, "network-config"),
                   "    match:\n      macAddress: \"02:00:00:00:00:01\""));
        iso_view_clear(&v);
    }
    assert_int_equal(dir_entries(t->dir), 1); /* no temporary left */
    blkid_check(path);
    api_vm_clear(&vm);
}

static void test_seed_minimal_and_replace(void **state)
{
    struct tmp *t = *state;
    struct migr_seed seed = {.instance_id = "abc"};
    struct iso_view v;
    char path[512];
    struct stat st;

    snprintf(path, sizeof(path), "%s/seed.iso", t->dir);
    /* Replaces whatever was there. */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("old", f);
    fclose(f);
    assert_int_equal(migr_seed_write(&seed, path), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(st.st_size % 2048, 0);
    iso_read(path, false, &v);
    assert_string_equal(v.volume_id, "cidata");
    assert_int_equal(v.n_files, 2); /* no network-config */
    assert_string_equal(view_file(&v, "meta-data"), "instance-id: abc\n");
    assert_string_equal(view_file(&v, "user-data"), "");
    assert_null(view_file(&v, "network-config"));
    iso_view_clear(&v);
    assert_int_equal(dir_entries(t->dir), 1);
}

/* A migration target writes the seed again: the same seed must make the
 * same bytes, even a second later (no timestamp of the writing in it). */
static void test_seed_identical(void **state)
{
    struct tmp *t = *state;
    struct api_vm vm = {0};
    struct migr_seed seed;
    char id[128], a[512], b[512], *ta, *tb;
    size_t la, lb;

    load_vm(&vm);
    assert_int_equal(
        migr_seed_from_vmi(&vm.meta, &vm.spec, id, sizeof(id), &seed), 0);
    snprintf(a, sizeof(a), "%s/a.iso", t->dir);
    snprintf(b, sizeof(b), "%s/b.iso", t->dir);
    assert_int_equal(migr_seed_write(&seed, a), 0);
    usleep(1100 * 1000);
    assert_int_equal(migr_seed_write(&seed, b), 0);
    ta = slurp(a, &la);
    tb = slurp(b, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(ta, tb, la);
    free(tb);
    /* A different seed is a different image. */
    seed.hostname = "other";
    assert_int_equal(migr_seed_write(&seed, b), 0);
    tb = slurp(b, &lb);
    assert_true(la != lb || memcmp(ta, tb, la) != 0);
    free(ta);
    free(tb);
    api_vm_clear(&vm);
}

static void test_seed_errors(void **state)
{
    struct tmp *t = *state;
    struct migr_seed seed = {.instance_id = "abc"};
    struct migr_seed none = {0};
    char path[512];
    struct api_meta meta = {.name = "x"};
    struct api_vmi_spec spec = {0};
    char id[64];

    snprintf(path, sizeof(path), "%s/no/such/dir/seed.iso", t->dir);
    assert_int_equal(migr_seed_write(&seed, path), -ENOENT);
    snprintf(path, sizeof(path), "%s/seed.iso", t->dir);
    assert_int_equal(migr_seed_write(&none, path), -EINVAL);
    assert_int_equal(migr_seed_write(&seed, ""), -EINVAL);
    assert_int_equal(dir_entries(t->dir), 0);
    /* No cloudInitNoCloud volume. */
    assert_int_equal(migr_seed_from_vmi(&meta, &spec, id, sizeof(id), &seed),
                     -ENOENT);
}

static void test_meta_data_quoting(void **state)
{
    struct migr_seed seed = {0};
    char *text = NULL;

    (void)state;
    seed.instance_id = "9a3c0d2e-1f1b-4f4e-8a51-6b0a2b1c9d7e";
    seed.hostname = "web-1";
    assert_int_equal(migr_seed_meta_data(&seed, &text), 0);
    assert_string_equal(text,
                        "instance-id: 9a3c0d2e-1f1b-4f4e-8a51-6b0a2b1c9d7e\n"
                        "local-hostname: web-1\n");
    free(text);
    /* Values YAML would read as something else, or that need quotes. */
    seed.instance_id = "it's: here";
    seed.hostname = "yes";
    assert_int_equal(migr_seed_meta_data(&seed, &text), 0);
    assert_string_equal(text, "instance-id: 'it''s: here'\n"
                              "local-hostname: 'yes'\n");
    free(text);
    seed.instance_id = "12";
    seed.hostname = NULL;
    assert_int_equal(migr_seed_meta_data(&seed, &text), 0);
    assert_string_equal(text, "instance-id: '12'\n");
    free(text);
    seed.instance_id = "two\nlines";
    assert_int_equal(migr_seed_meta_data(&seed, &text), -EINVAL);
    seed.instance_id = "";
    assert_int_equal(migr_seed_meta_data(&seed, &text), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_seed_from_vm_sriov, tmp_setup,
                                        tmp_teardown),
        cmocka_unit_test_setup_teardown(test_seed_minimal_and_replace,
                                        tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_seed_identical, tmp_setup,
                                        tmp_teardown),
        cmocka_unit_test_setup_teardown(test_seed_errors, tmp_setup,
                                        tmp_teardown),
        cmocka_unit_test(test_meta_data_quoting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
