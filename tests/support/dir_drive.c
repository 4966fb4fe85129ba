/*
 * tests/support/dir_drive.c - directory test state without the validate
 * module, for tests/integration/directory.sh and bench/directory.sh.
 *
 * Usage:
 *   dir_drive publish STORE-URL EMAIL...
 *       ms_store_directory_publish() for each (as a mailbox proof would).
 *   dir_drive bulk STORE-URL N CERT-DER
 *       N mailboxes user<i>@bench.example (1..N), each with a V1 signing
 *       certificate (the DER of CERT-DER, serial "b<i>") and published, in
 *       one transaction of two INSERT ... SELECT over a recursive series
 *       (SQLite and PostgreSQL alike). No audit rows: benchmark data only.
 * Exits 0 done, 1 error, 2 usage. TEST-ONLY.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mailseal/mailseal.h>

#include "store/store_id.h"
#include "store/store_sql.h"
#include "util/buf.h"
#include "util/file.h"

typedef struct bulk {
    int64_t n;
    const ms_buf *der;
} bulk;

static int
bulk_tx(ms_store *s, void *arg, ms_error *err)
{
    bulk *b = arg;
    int64_t now = (int64_t)time(NULL);
    ms_store_val p[] = {MS_SV_INT(b->n), MS_SV_TEXT("mailseal V1 Mailbox CA"),
                        MS_SV_INT(now - 3600), MS_SV_INT(now + 86400 * 365),
                        MS_SV_BLOB(b->der->data, b->der->len)};
    int rc;

    if ((rc = ms_store_sql_exec(
             s,
             "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s"
             " WHERE i < ?1) INSERT INTO certs (serial_hex, issuer,"
             " subject_email, level, cert_use, not_before, not_after, der)"
             " SELECT 'b' || i, ?2, 'user' || i || '@bench.example', 1,"
             " 'signing', ?3, ?4, ?5 FROM s",
             p, MS_SV_COUNT(p), NULL, NULL, err)) != 0)
        return rc;
    return ms_store_sql_exec(
        s,
        "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s"
        " WHERE i < ?1) INSERT INTO publications (email, published_at)"
        " SELECT 'user' || i || '@bench.example', ?2 FROM s",
        (ms_store_val[]){MS_SV_INT(b->n), MS_SV_INT(now)}, 2, NULL, NULL, err);
}

static int
run(int argc, char **argv, ms_store *s, ms_error *err)
{
    ms_buf der;
    bulk b;
    int rc;

    if (strcmp(argv[1], "publish") == 0) {
        for (int i = 3; i < argc; i++) {
            if ((rc = ms_store_directory_publish(s, argv[i], err)) != 0)
                return rc;
        }
        return 0;
    }
    ms_buf_init(&der, MS_STORE_DER_MAX);
    if ((rc = ms_file_read(&der, argv[4], MS_STORE_DER_MAX, err)) == 0) {
        b.n = strtoll(argv[3], NULL, 10);
        b.der = &der;
        rc = ms_store_sql_tx(s, MS_STORE_TX_WRITE, bulk_tx, &b, err);
    }
    ms_buf_cleanup(&der);
    return rc;
}

int
main(int argc, char **argv)
{
    ms_store *s = NULL;
    ms_error err;
    int rc;

    if (argc < 4 || (strcmp(argv[1], "publish") != 0 &&
                     (strcmp(argv[1], "bulk") != 0 || argc != 5))) {
        (void)fprintf(stderr, "usage: dir_drive publish URL EMAIL...\n"
                              "       dir_drive bulk URL N CERT-DER\n");
        return 2;
    }
    if ((rc = ms_library_init(&err)) == 0 &&
        (rc = ms_store_open(&s, argv[2], &err)) == 0)
        rc = run(argc, argv, s, &err);
    if (rc != 0)
        (void)fprintf(stderr, "dir_drive: %s\n", err.msg);
    ms_store_close(s);
    return rc == 0 ? 0 : 1;
}
