/*
 * migrator/seed: the cloud-init NoCloud seed ISO of a VM.
 *
 * An ISO 9660 image with Joliet and Rock Ridge, volume id "cidata", holding
 * meta-data (instance-id, local-hostname), user-data and, when the manifest
 * has one, network-config: the VM's cloudInitNoCloud.userData and
 * .networkData copied verbatim.  Written with libisofs, atomically (a
 * temporary file in the same directory, fsync, rename), so a reader never
 * sees half an image and a crash leaves the old one in place.
 *
 * Errors are negative errnos; nothing here logs.  Functions are reentrant
 * (libisofs is initialised once, under pthread_once).
 */
#ifndef ORCH_MIGRATOR_SEED_H
#define ORCH_MIGRATOR_SEED_H

#include <stddef.h>

#define MIGR_SEED_VOLUME_ID "cidata"

struct api_vmi_spec;
struct api_meta;

/* What goes into the seed.  Strings are borrowed. */
struct migr_seed {
    const char *instance_id;  /* required, e.g. the VMI's uid */
    const char *hostname;     /* local-hostname; NULL: none */
    const char *user_data;    /* NULL: an empty user-data file */
    const char *network_data; /* NULL: no network-config file */
};

/* Fill *ret from a VMI's metadata and spec: instance-id is
 * "NAME.NAMESPACE" (as KubeVirt makes it), local-hostname NAME, and the
 * texts of the first cloudInitNoCloud volume.  The strings point into
 * `meta` and `spec` except instance_id, which is written into `idbuf`.
 * Returns 0, -ENOENT (no cloudInitNoCloud volume), -EINVAL (no name),
 * -ENAMETOOLONG (idbuf too small). */
int migr_seed_from_vmi(const struct api_meta *meta,
                       const struct api_vmi_spec *spec, char *idbuf,
                       size_t idlen, struct migr_seed *ret);

/* The meta-data text for `seed`, malloc'd (the caller frees).  Values are
 * written as YAML plain scalars when that is safe and single-quoted
 * otherwise.  Returns 0, -EINVAL (no instance_id), -ENOMEM. */
int migr_seed_meta_data(const struct migr_seed *seed, char **ret_text);

/* Build the ISO and write it to `path` atomically (mode 0644).
 * Returns 0, -EINVAL (no instance_id or path), -ENOMEM, -EIO (libisofs
 * failed), or the errno of creating, writing or renaming the file. */
int migr_seed_write(const struct migr_seed *seed, const char *path);

#endif
