/*
 * Test helper: see store_fail.h.
 */
#include "tests/unit/support/store_fail.h"

#include "store/store.h"

int __real_store_create(struct store *st, enum store_kind kind, json_t *obj);
int __wrap_store_create(struct store *st, enum store_kind kind, json_t *obj);

static int fail_err;

void test_store_create_fail(int err)
{
    fail_err = err;
}

int __wrap_store_create(struct store *st, enum store_kind kind, json_t *obj)
{
    if (fail_err)
        return fail_err;
    return __real_store_create(st, kind, obj);
}
