/*
 * store/schema: the database schema and its upgrades.  Private to store/:
 * nothing outside this folder includes it.
 */
#ifndef ORCH_STORE_SCHEMA_H
#define ORCH_STORE_SCHEMA_H

#include <stddef.h>

#include <sqlite3.h>

/* PRAGMA application_id of our files ("ORCH"), so that a stranger's SQLite
 * file is refused instead of being "upgraded". */
#define STORE_APPLICATION_ID 0x4f524348

/* The schema version this program writes. */
#define STORE_SCHEMA_VERSION 5

/* Refuse, before anything is written to it, a file that is not ours or is
 * from a newer program (so that opening the wrong file does not even switch
 * it to WAL mode).  Reads only.  Returns 0, -EPROTO, -EINVAL or another
 * negative errno, with a message in ERRBUF. */
int store_schema_check(sqlite3 *db, char *errbuf, size_t errlen);

/* Bring the schema of DB up to STORE_SCHEMA_VERSION in one write
 * transaction: create it in an empty file, apply each missing upgrade step
 * in order to an older one.  Must be called outside a transaction.  Returns
 * 0, -EPROTO for a newer schema, -EINVAL for a file that is not ours, or
 * another negative errno; on failure ERRBUF gets a message and nothing was
 * changed. */
int store_schema_upgrade(sqlite3 *db, char *errbuf, size_t errlen);

/* Map a SQLite result code to a negative errno (0 for OK, ROW and DONE). */
int store_errno(int sqlite_rc);

#endif
