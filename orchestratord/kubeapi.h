/*
 * orchestratord: what Kubernetes clients expect of an API server beyond
 * the resources themselves, so that an unmodified kubectl (and the client
 * libraries) works as it does against a KubeVirt cluster:
 *   - OpenAPI v2 and v3 documents generated from api/'s schema tables
 *     (openapi.c), which kubectl reads to validate, to build apply
 *     patches and to explain;
 *   - Table responses with KubeVirt's printer columns (table.c);
 *   - the PATCH types (patch.c): JSON patch, JSON merge patch, strategic
 *     merge patch (core kinds only, as the API server: KubeVirt's kinds
 *     are custom resources, which refuse it);
 *   - query parameters read the way the API server reads them (query.c).
 *
 * Library code: nothing here logs; errors are negative errnos with a
 * message where the caller answers a Status.  Event loop thread only.
 */
#ifndef ORCH_KUBEAPI_H
#define ORCH_KUBEAPI_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "api/api.h"
#include "http/http.h"

/*
 * OpenAPI (openapi.c).
 */

/* The OpenAPI v3 discovery document of /openapi/v3:
 *   {"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=H"},
 *              "apis/kubevirt.io/v1": {...}, ...}}
 * where H is a digest of that group-version's document, so clients cache
 * it by URL.  Returns a new reference or NULL (out of memory). */
json_t *orch_openapi_v3_root(void);

/* The OpenAPI v3 document of one group-version (GROUP "" is the core
 * group): paths for each kind's operations (with x-kubernetes-action and
 * x-kubernetes-group-version-kind, the query parameters the handlers read,
 * PATCH's request content types) and components.schemas for each kind,
 * its list, Status and Patch.  Returns a new reference, or NULL with
 * *ret_err -ENOENT (no such group-version) or -ENOMEM. */
json_t *orch_openapi_v3_gv(const char *group, const char *version,
                           int *ret_err);

/* The Swagger 2.0 document of /openapi/v2: every group-version's paths
 * and definitions in one.  Returns a new reference or NULL (out of
 * memory). */
json_t *orch_openapi_v2(void);

/* fieldValidation=Ignore or Warn: drop from DOC (an object of KIND) every
 * member its schema does not describe, as the API server prunes a custom
 * resource, so that validation then finds no unknown field.  DROPPED (may
 * be NULL) is an array that gets the path of each member dropped
 * ("spec.vmiNmae", "spec.volumes[0].x").  Returns how many members went
 * (>= 0) or -ENOMEM. */
int orch_openapi_prune(enum api_kind kind, json_t *doc, json_t *dropped);

/* The PATCH content types a kind accepts, NULL-terminated: JSON patch and
 * merge patch for every kind, strategic merge patch for the core kinds
 * only (Node), as the API server serves custom resources. */
const char *const *orch_patch_types(enum api_kind kind);

/*
 * Tables (table.c).
 */

/* Whether an Accept header asks for a meta.k8s.io/v1 Table first
 * ("application/json;as=Table;v=v1;g=meta.k8s.io", also with v1beta1),
 * before any plain media type it also lists. */
bool orch_accept_table(const char *accept);

/* A meta.k8s.io/v1 Table of ITEMS (a JSON array of objects of KIND,
 * borrowed) with KubeVirt's printer columns (kubectl get's columns):
 *   VMIM: NAME PHASE VMI; VMI: NAME AGE PHASE IP NODENAME READY;
 *   VM: NAME AGE STATUS READY; Node: NAME STATUS ROLES AGE VERSION;
 *   MigrationPolicy: NAME AGE; Event: LAST SEEN TYPE REASON OBJECT MESSAGE.
 * Each row carries the object as a PartialObjectMetadata (its metadata)
 * unless INCLUDE_OBJECT is "None" or the whole object when "Object".
 * LIST_META (borrowed, may be NULL) becomes the table's metadata.  NOW is
 * the time ages are measured to (Unix seconds).  Returns a new reference or
 * NULL (out of memory). */
json_t *orch_table_new(enum api_kind kind, const json_t *items,
                       const json_t *list_meta, const char *include_object,
                       long long now);

/* The Table for one Event list (kind Event is not an api kind). */
json_t *orch_table_events(const json_t *items, const json_t *list_meta,
                          const char *include_object, long long now);

/*
 * Patches (patch.c).
 */

enum orch_patch_type {
    ORCH_PATCH_JSON = 0,  /* application/json-patch+json, RFC 6902 */
    ORCH_PATCH_MERGE,     /* application/merge-patch+json, RFC 7386 */
    ORCH_PATCH_STRATEGIC, /* application/strategic-merge-patch+json */
    ORCH_PATCH_APPLY,     /* application/apply-patch+yaml (server-side) */
};

/* The patch type a Content-Type names (parameters such as "; charset"
 * ignored, case-insensitive), or -EPROTONOSUPPORT. */
int orch_patch_type_parse(const char *content_type);

/* The Ith list a strategic merge patch of a core kind merges instead of
 * replacing: its path from the object's root ("status.conditions") and its
 * patchMergeKey in *RET_KEY (NULL: a set of scalars).  NULL past the last.
 * openapi.c publishes them as x-kubernetes-patch-merge-key and
 * x-kubernetes-patch-strategy, so that clients build the same patches. */
const char *orch_patch_merge_list(size_t i, const char **ret_key);

/* Apply PATCH (a decoded document, borrowed) of TYPE to DOC (modified in
 * place) of KIND.  A JSON patch must be an array of operations (add,
 * remove, replace, move, copy, test); a merge or strategic patch an
 * object.  Strategic merge follows Kubernetes for the kinds that have one:
 * lists with a patchMergeKey merge by that key, "$patch": "replace" /
 * "delete", "$deleteFromPrimitiveList/", "$setElementOrder/" and
 * "$retainKeys" directives.  Returns 0, or -EINVAL (a bad patch), -EDOM (a
 * JSON patch "test" failed or a path does not exist: 422 as the API
 * server) or -ENOMEM, with a message in MSG (MSGLEN bytes). */
int orch_patch_apply(enum api_kind kind, enum orch_patch_type type, json_t *doc,
                     const json_t *patch, char *msg, size_t msglen);

/*
 * Query parameters (query.c).
 */

/* What a request's query asks besides selectors and paging, parsed as the
 * API server parses metav1's options. */
struct orch_query {
    bool dry_run;                   /* dryRun=All */
    bool pretty;                    /* pretty=true */
    bool watch;                     /* watch=true (also 1, t, T, TRUE, True) */
    bool allow_bookmarks;           /* allowWatchBookmarks */
    const char *field_manager;      /* NULL when absent */
    const char *field_validation;   /* "Strict", "Warn", "Ignore" or NULL */
    const char *propagation_policy; /* "Orphan", "Background", ... */
    const char *rv_match;           /* resourceVersionMatch */
    long long grace_period_s;       /* -1 when absent */
    /* DeleteOptions' preconditions (orch_delete_options_parse()); NULL
     * when absent, borrowed from the body. */
    const char *pre_uid, *pre_rv;
};

/* Parse the query of a request whose method and verb are METHOD_VERB
 * ("list", "watch", "get", "create", "update", "patch", "delete").
 * Returns 0, -EINVAL (400: a malformed value; MSG says which) or -EDOM
 * (422: a value the server refuses, such as sendInitialEvents). */
int orch_query_parse(const struct http_param *params, size_t n,
                     const char *verb, struct orch_query *ret, char *msg,
                     size_t msglen);

/* Read a DELETE's body, a meta/v1 DeleteOptions (kubectl sends dryRun
 * and propagationPolicy there, not in the query), into Q over what the
 * query said: dryRun (each "All"), propagationPolicy, gracePeriodSeconds,
 * orphanDependents, preconditions.uid/resourceVersion.  BODY is borrowed
 * and must outlive Q.  Returns 0, -EINVAL (400: wrong types, another
 * kind) or -EDOM (422: a value the API server refuses) with MSG. */
int orch_delete_options_parse(const json_t *body, struct orch_query *q,
                              char *msg, size_t msglen);

/* A boolean query parameter as the API server reads one
 * (apimachinery's Convert_Slice_string_To_bool): absent (NULL), "0" and
 * "false" in any case are false; anything else, "" included, is true.
 * Never an error. */
bool orch_query_bool(const char *s);

#endif
