/*
 * store/migrations/migrations.c - schema versions of the store.
 *
 * Version 1: sequences (TSA and other serials), issued certificates, their
 * revocations (at most one per certificate) and the hash-chained audit log.
 * Times are seconds since the epoch; serials are lower-case hex, unique
 * across issuers (128-bit random serials make collisions a bug).
 *
 * The PostgreSQL flavour has the same tables, columns and rules: INTEGER
 * becomes BIGINT where SQLite stores 64 bits, BLOB becomes BYTEA, and the
 * triggers call plpgsql functions that raise integrity_constraint_violation
 * (class 23, like SQLite's constraint error). TRUNCATE skips row triggers,
 * so the audit table refuses it with a statement trigger as well.
 */
#include "store/migrations/migrations.h"

static const char v1_sqlite[] =
    "CREATE TABLE sequences ("
    " name TEXT PRIMARY KEY,"
    " value INTEGER NOT NULL CHECK (value > 0));"
    "CREATE TABLE certs ("
    " serial_hex TEXT PRIMARY KEY,"
    " issuer TEXT NOT NULL,"
    " subject_email TEXT NOT NULL,"
    " level INTEGER NOT NULL CHECK (level BETWEEN 1 AND 4),"
    " cert_use TEXT NOT NULL CHECK (cert_use IN ('signing', 'encryption')),"
    " not_before INTEGER NOT NULL,"
    " not_after INTEGER NOT NULL,"
    " der BLOB NOT NULL);"
    "CREATE INDEX certs_issuer ON certs (issuer, serial_hex);"
    "CREATE INDEX certs_subject ON certs (subject_email);"
    "CREATE TABLE revocations ("
    " serial_hex TEXT PRIMARY KEY REFERENCES certs (serial_hex),"
    " revoked_at INTEGER NOT NULL,"
    " reason INTEGER NOT NULL);"
    "CREATE TABLE audit ("
    " id INTEGER PRIMARY KEY CHECK (id > 0),"
    " time INTEGER NOT NULL,"
    " event TEXT NOT NULL,"
    " detail TEXT NOT NULL,"
    " prev_hash TEXT NOT NULL,"
    " hash TEXT NOT NULL);"
    /* Append-only: the database itself refuses edits and deletions. */
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;"
    "CREATE TRIGGER revocations_no_update BEFORE UPDATE ON revocations"
    " BEGIN SELECT RAISE(ABORT, 'revocations are final'); END;";

static const char v1_pg[] =
    "CREATE TABLE sequences ("
    " name TEXT PRIMARY KEY,"
    " value BIGINT NOT NULL CHECK (value > 0));"
    "CREATE TABLE certs ("
    " serial_hex TEXT PRIMARY KEY,"
    " issuer TEXT NOT NULL,"
    " subject_email TEXT NOT NULL,"
    " level INTEGER NOT NULL CHECK (level BETWEEN 1 AND 4),"
    " cert_use TEXT NOT NULL CHECK (cert_use IN ('signing', 'encryption')),"
    " not_before BIGINT NOT NULL,"
    " not_after BIGINT NOT NULL,"
    " der BYTEA NOT NULL);"
    "CREATE INDEX certs_issuer ON certs (issuer, serial_hex);"
    "CREATE INDEX certs_subject ON certs (subject_email);"
    "CREATE TABLE revocations ("
    " serial_hex TEXT PRIMARY KEY REFERENCES certs (serial_hex),"
    " revoked_at BIGINT NOT NULL,"
    " reason INTEGER NOT NULL);"
    "CREATE TABLE audit ("
    " id BIGINT PRIMARY KEY CHECK (id > 0),"
    " time BIGINT NOT NULL,"
    " event TEXT NOT NULL,"
    " detail TEXT NOT NULL,"
    " prev_hash TEXT NOT NULL,"
    " hash TEXT NOT NULL);"
    /* Append-only: the database itself refuses edits and deletions. */
    "CREATE FUNCTION audit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN RAISE EXCEPTION 'audit log is append-only'"
    " USING ERRCODE = 'integrity_constraint_violation'; END $$;"
    "CREATE FUNCTION revocations_refuse() RETURNS trigger LANGUAGE plpgsql"
    " AS $$ BEGIN RAISE EXCEPTION 'revocations are final'"
    " USING ERRCODE = 'integrity_constraint_violation'; END $$;"
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
    " FOR EACH ROW EXECUTE FUNCTION audit_refuse();"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    " FOR EACH ROW EXECUTE FUNCTION audit_refuse();"
    "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit"
    " FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse();"
    "CREATE TRIGGER revocations_no_update BEFORE UPDATE ON revocations"
    " FOR EACH ROW EXECUTE FUNCTION revocations_refuse();";

const ms_store_migration ms_store_migrations[] = {
    {1, "sequences, certs, revocations, audit", v1_sqlite, v1_pg},
};

const size_t ms_store_migrations_count =
    sizeof(ms_store_migrations) / sizeof(ms_store_migrations[0]);
