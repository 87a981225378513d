/*
 * Test helper: a raw HTTP/1.1 client over loopback sockets, for the tests
 * that drive a real server byte by byte (malformed requests, trickled
 * headers, idle connections).  Every read has a deadline, and running into
 * it fails the running cmocka test: a server that never answers or never
 * closes must not pass for one that did.
 */
#ifndef ORCH_TEST_HTTPC_H
#define ORCH_TEST_HTTPC_H

#include <stdbool.h>
#include <stddef.h>

/* A socket connected to 127.0.0.1:PORT, or -1 (errno set). */
int test_http_connect(int port);

/* Send LEN bytes of BUF.  Returns false if the peer has closed or reset
 * the connection (which some tests expect). */
bool test_http_send(int fd, const char *buf, size_t len);

/* Read one response: its head and a Content-Length body (a response
 * without one is read until the peer closes).  BUF (CAP bytes) gets it,
 * NUL-terminated.  Returns the status code, or -1 when the peer closed
 * before a whole response came.  Fails the test after TIMEOUT_MS. */
int test_http_read_response(int fd, char *buf, size_t cap, int timeout_ms);

/* Read until the peer closes (or resets) the connection; BUF gets what
 * came, NUL-terminated.  Returns its length.  Fails the test after
 * TIMEOUT_MS. */
size_t test_http_read_until_close(int fd, char *buf, size_t cap,
                                  int timeout_ms);

/* Whether the peer has closed FD by now: true on EOF or a reset, false
 * when the socket is open with nothing to read.  Data to read fails the
 * test. */
bool test_http_closed(int fd);

/* Send RAW (LEN bytes) on a new connection and read one response into
 * BUF, within 5 s.  Returns the status code, or -1 as above. */
int test_http_exchange(int port, const char *raw, size_t len, char *buf,
                       size_t cap);

#endif
