/*
 * store/migrations/migrations.h - the schema, as versioned SQL.
 *
 * Migration N brings the schema from version N-1 to N, in two flavours of
 * the same tables and rules: SQLite and PostgreSQL. Backends apply, in one
 * transaction, every migration above the version recorded in their
 * schema_version table, so opening is idempotent (PostgreSQL takes a
 * transaction-level advisory lock first, so processes starting together
 * migrate one after the other). Entries are never edited once released: a
 * change is a new entry. Constant data, no threading concerns.
 */
#ifndef MS_STORE_MIGRATIONS_H
#define MS_STORE_MIGRATIONS_H

#include <stddef.h>

typedef struct ms_store_migration {
    int version;        /* 1, 2, ... in table order */
    const char *what;   /* one line, for errors */
    const char *sqlite; /* SQLite statements, run as one script */
    const char *pg;     /* the same schema for PostgreSQL, one script */
} ms_store_migration;

extern const ms_store_migration ms_store_migrations[];
extern const size_t ms_store_migrations_count;

#endif
