/*
 * libFuzzer target for api/: decode any body, validate it as any kind,
 * run it through the typed views, and check that encoding is stable.
 * Small limits make the limit paths reachable.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One trip through the typed view of the document's kind; NULL if the
 * view refused it. */
static json_t *view_trip(const json_t *doc, const struct api_kind_info *ki)
{
    json_t *out = NULL;

    switch (ki->kind) {
    case API_KIND_VMIM: {
        struct api_vmim v = {0};
        if (api_vmim_from_json(doc, &v, NULL) == 0)
            out = api_vmim_to_json(&v);
        api_vmim_clear(&v);
        break;
    }
    case API_KIND_VMI: {
        struct api_vmi v = {0};
        if (api_vmi_from_json(doc, &v, NULL) == 0)
            out = api_vmi_to_json(&v);
        api_vmi_clear(&v);
        break;
    }
    case API_KIND_VM: {
        struct api_vm v = {0};
        if (api_vm_from_json(doc, &v, NULL) == 0)
            out = api_vm_to_json(&v);
        api_vm_clear(&v);
        break;
    }
    case API_KIND_POLICY: {
        struct api_policy v = {0};
        if (api_policy_from_json(doc, &v, NULL) == 0)
            out = api_policy_to_json(&v);
        api_policy_clear(&v);
        break;
    }
    case API_KIND_NODE: {
        struct api_node v = {0};
        if (api_node_from_json(doc, &v, NULL) == 0)
            out = api_node_to_json(&v);
        api_node_clear(&v);
        break;
    }
    default:
        break;
    }
    return out;
}

/* Views normalise (KubeVirt omits false flags, empty lists); after one
 * trip the result must be a fixed point and still valid. */
static void views(const json_t *doc, const struct api_kind_info *ki)
{
    json_t *once = view_trip(doc, ki), *twice;

    if (!once)
        abort(); /* a valid document must fit its view */
    if (api_object_validate(once, ki->kind, NULL, NULL) < 0)
        abort();
    twice = view_trip(once, ki);
    if (!twice || !json_equal(once, twice))
        abort();
    json_decref(once);
    json_decref(twice);
}

static void stable(const json_t *doc, enum api_format fmt)
{
    char *a = NULL, *b = NULL;
    json_t *back = NULL;
    struct api_limits lim = API_LIMITS_DEFAULT;

    lim.max_body_bytes = (size_t)-1;
    lim.max_depth = 1000;
    lim.max_nodes = (size_t)-1;
    lim.max_items = (size_t)-1;
    lim.max_string_bytes = (size_t)-1;
    if (api_doc_encode(doc, fmt, &a, NULL) < 0)
        return;
    if (api_doc_decode(a, strlen(a), &lim, &back, NULL) < 0)
        abort(); /* we must read what we write */
    if (!json_equal(doc, back))
        abort();
    if (api_doc_encode(back, fmt, &b, NULL) < 0 || strcmp(a, b))
        abort();
    free(a);
    free(b);
    json_decref(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct api_limits lim = API_LIMITS_DEFAULT;
    struct api_errors errs = API_ERRORS_INIT;
    const struct api_kind_info *ki = NULL;
    json_t *doc = NULL;
    char *msg;

    lim.max_body_bytes = 64 * 1024;
    lim.max_depth = 16;
    lim.max_string_bytes = 4096;
    lim.max_items = 256;
    lim.max_nodes = 4096;
    if (api_doc_decode((const char *)data, size, &lim, &doc, &errs) == 0) {
        /* Scalars (e.g. a bare number) have no kind; objects do. */
        stable(doc, API_FORMAT_YAML);
        stable(doc, API_FORMAT_JSON);
        if (api_object_validate(doc, API_KIND_NONE, &ki, &errs) == 0)
            views(doc, ki);
        msg = api_errors_status_message(&errs, ki, "fuzz");
        free(msg);
    }
    {
        /* The same bytes as a selector, a quantity and a duration. */
        char *s = strndup((const char *)data, size < 256 ? size : 256);
        struct api_selector *sel = NULL;
        int64_t v;
        if (s) {
            if (api_selector_parse(s, &sel, &errs) == 0)
                api_selector_match(sel, doc);
            api_selector_free(sel);
            api_quantity_parse(s, &v);
            api_quantity_parse_milli(s, &v);
            api_duration_parse(s, &v);
            api_time_parse(s, &v);
            free(s);
        }
    }
    json_decref(doc);
    api_errors_clear(&errs);
    return 0;
}
