/*
 * store/text: compact JSON text of a record for storage.  Private to store/.
 *
 * jansson's json_dumps() spends most of its time on loop detection (a
 * formatted pointer in a hash table for each object and array it enters);
 * on a write-heavy path that was half the cost of an insert.  Records are
 * trees built by the api module's decoder, so the store writes them itself:
 * the same compact JSON, which json_loads() reads back to an equal value.
 */
#ifndef ORCH_STORE_TEXT_H
#define ORCH_STORE_TEXT_H

#include <stddef.h>

#include <jansson.h>

/* A growable buffer, reused across writes. */
struct text_buf {
    char *data;
    size_t len;
    size_t cap;
};

/* Replace BUF's contents with the compact JSON text of VALUE, NUL-terminated.
 * Returns 0, -EINVAL (nesting deeper than 512 levels, which also stops a
 * cycle, or a real that is not finite) or -ENOMEM. */
int store_text_encode(struct text_buf *buf, const json_t *value);

/* Append the N bytes at S to BUF, keeping it NUL-terminated.  Returns 0 or
 * -ENOMEM. */
int store_text_append(struct text_buf *buf, const char *s, size_t n);

/* Free BUF's memory and zero it.  NULL-safe. */
void store_text_release(struct text_buf *buf);

#endif
