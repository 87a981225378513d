/*
 * Test helper: a fake orchestratord for the migrator's reports.  The
 * project's own http/ server on 127.0.0.1, with its event loop on a thread
 * of its own, records every request (method, path, Authorization, body)
 * and answers each with the status the test set (200 and a
 * NodeReportResult by default, else a Kubernetes Status).  Optionally over
 * TLS with a certificate made for the test.  Failures fail the running
 * cmocka test.
 *
 * Threads: call evthread_use_pthreads() in main() first; every function
 * here may then be called from the test's thread while the server runs.
 */
#ifndef ORCH_TEST_FAKE_ORCHD_H
#define ORCH_TEST_FAKE_ORCHD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fake_orchd;

/* One recorded request; strings owned by the fake. */
struct fake_req {
    char method[8];
    char *path;
    char *authorization; /* NULL when absent */
    char *content_type;  /* NULL when absent */
    char *body;
};

/* Serve on 127.0.0.1:`port` (0: any free port), over TLS when `cert` and
 * `key` (PEM files) are given.  Returns the server; *ret_port gets the
 * port. */
struct fake_orchd *fake_orchd_start(uint16_t port, const char *cert,
                                    const char *key, uint16_t *ret_port);

/* Stop serving and free everything.  NULL-safe. */
void fake_orchd_stop(struct fake_orchd *f);

/* Answer the next requests with `status` (a Status with `message` unless
 * 2xx). */
void fake_orchd_answer(struct fake_orchd *f, int status, const char *message);

/* Requests recorded so far. */
size_t fake_orchd_count(struct fake_orchd *f);

/* Wait up to timeout_ms for at least n requests; true when they came. */
bool fake_orchd_wait(struct fake_orchd *f, size_t n, int timeout_ms);

/* A copy of request i (0-based; the caller frees with fake_req_clear). */
void fake_orchd_get(struct fake_orchd *f, size_t i, struct fake_req *ret);
void fake_req_clear(struct fake_req *r);

/* Make a self-signed certificate for 127.0.0.1 with its key in `dir`
 * (openssl's command line): dir/cert.pem, dir/key.pem. */
void test_tls_cert(const char *dir);

#endif
