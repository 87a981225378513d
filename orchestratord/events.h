/*
 * orchestratord/events: core/v1 Events about the records, as KubeVirt's
 * controllers record them, kept in the store's event log and served at
 * /api/v1/events and /api/v1/namespaces/NS/events (list with
 * fieldSelector involvedObject.*, watch), so that `kubectl describe` and
 * `kubectl get events` show what happened to a migration or a VM.
 *
 * Threads: the event loop thread only.  Nothing here logs.
 */
#ifndef ORCH_EVENTS_H
#define ORCH_EVENTS_H

#include <jansson.h>

struct orch_server;
struct http_request;
struct http_response;

/* Record an event about OBJ (a stored record with apiVersion, kind and
 * metadata namespace, name and uid; borrowed): TYPE "Normal" or
 * "Warning", REASON a CamelCase word ("Migrated"), MESSAGE a sentence (may
 * be NULL).  It is appended to the store's event log in its own write (not
 * in a transaction the caller holds open is fine: it joins it) and shows in
 * event lists and watches.  Returns 0, -EINVAL (OBJ is not a record of a
 * known kind, or TYPE or REASON is bad) or a store error. */
int orch_event_record(struct orch_server *srv, const json_t *obj,
                      const char *type, const char *reason,
                      const char *message);

/* The migration controller's phase hook (orch_controller_phase_fn): record
 * the phase a VMIM entered on the VMIM, and its end (Migrated or
 * MigrationFailed) on the VMI too, as KubeVirt does.  ARG is the struct
 * orch_server. */
void orch_events_vmim_phase(const json_t *vmim, const char *phase,
                            const char *reason, void *arg);

/* The handler of GET /api/v1/events and /api/v1/namespaces/NS/events (NS
 * NULL: every namespace), list or watch (?watch=true: the events after
 * resourceVersion, then each new one, until timeoutSeconds).  The lists'
 * resourceVersion is the last event's id. */
void orch_events_handle(struct orch_server *srv, const struct http_request *req,
                        struct http_response *resp, const char *ns);

#endif
