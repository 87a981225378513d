/*
 * Test helper: a failure to inject into store_create(), for what a real
 * store cannot be made to do on demand (a full disk).  A test linked with
 * -Wl,--wrap=store_create (in its .ldflags) calls __wrap_store_create,
 * which passes every call through to the real one until
 * test_store_create_fail() sets an error.
 */
#ifndef ORCH_TEST_STORE_FAIL_H
#define ORCH_TEST_STORE_FAIL_H

/* Make every later store_create() return ERR (a negative errno) without
 * writing; 0 passes them through again. */
void test_store_create_fail(int err);

#endif
