/*
 * Helpers shared by the files of the api module.  Not a public header:
 * nothing outside api/ includes it.
 */
#ifndef ORCH_API_INTERNAL_H
#define ORCH_API_INTERNAL_H

#include <stdarg.h>

#include "api/api.h"

/* api_errors_add with a position in the input (1-based, 0 unknown). */
int api_errors_add_at(struct api_errors *errs, enum api_error_type type,
                      int line, int column, const char *field,
                      const char *detail_fmt, ...)
    __attribute__((format(printf, 6, 7)));

int api_errors_addv(struct api_errors *errs, enum api_error_type type, int line,
                    int column, const char *field, const char *detail_fmt,
                    va_list ap) __attribute__((format(printf, 6, 0)));

/* Append the apiserver's type error for `v` found at `field` where `want`
 * ("string", "integer", "object", ...) was expected:
 *   FIELD: Invalid value: "integer": FIELD in body must be of type string:
 *   "integer"
 * (the value named is the JSON type that was found).  Returns what
 * api_errors_add returns. */
int api_errors_add_type(struct api_errors *errs, const char *field,
                        const json_t *v, const char *want);

/* How a YAML plain scalar resolves (YAML 1.2 core schema, as Kubernetes'
 * YAML-to-JSON conversion does for the common cases).  Returns a new
 * reference (null, true/false, integer, real) or NULL when the text is an
 * ordinary string.  *ret_nomem is set on allocation failure. */
json_t *api_yaml_resolve_plain(const char *s, size_t len, bool *ret_nomem);

/* True when a string must be quoted in YAML output so that it does not
 * re-resolve as another type or look like one to a YAML 1.1 reader. */
bool api_yaml_needs_quotes(const char *s, size_t len);

/* The names of enum api_vmim_phase, api_abort_status and
 * api_migration_mode by value ("" for the zero value), NULL-terminated:
 * the typed views and validation's allowed values share them. */
extern const char *const api_vmim_phase_names[API_VMIM_PHASE_COUNT + 1];
extern const char *const api_abort_status_names[API_ABORT_FAILED + 2];
extern const char *const api_migration_mode_names[API_MODE_PAUSED + 2];

/* Render a JSON value compactly for an "Invalid value: X" message: strings
 * quoted with Go-style escapes, numbers and booleans bare, objects and
 * arrays abbreviated.  Writes at most `size` bytes including the NUL. */
void api_value_render(const json_t *v, char *buf, size_t size);

/* Kubernetes name checks: NULL when valid, else the static message that
 * follows `Invalid value: "x": `. */
const char *api_check_qualified_name(const char *s);
const char *api_check_label_value(const char *s);
#endif
