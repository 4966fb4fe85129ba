/*
 * config/daemon.h - the settings of mailseald (its one config file).
 *
 * A ms_daemon_config is an immutable snapshot: made by
 * ms_daemon_config_load() or _parse(), shared by reference counting
 * (_up_ref / _free), never changed after it is handed out (SIGHUP makes a
 * new one). The key table (ms_daemon_config_keys) is the single source of
 * names, types, defaults, ranges and reloadability; docs/mailseald.md
 * mirrors it.
 *
 * Thread safety: a snapshot may be read from any thread; _up_ref and
 * _free are atomic.
 */
#ifndef MS_CONFIG_DAEMON_H
#define MS_CONFIG_DAEMON_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <mailseal/buf.h>
#include <mailseal/error.h>

#include "config/config.h"

/* The default config file, and its name inside a data directory (-d). */
#define MS_DAEMON_CONFIG_FILE "/etc/mailseal/mailseald.conf"
#define MS_DAEMON_CONFIG_NAME "mailseald.conf"

/* log_level values (index of the choice). */
enum {
    MS_LOGLEVEL_ERROR,
    MS_LOGLEVEL_WARNING,
    MS_LOGLEVEL_INFO,
    MS_LOGLEVEL_DEBUG
};

typedef struct ms_daemon_config {
    ms_config_listen listen;      /* listen */
    char *public_url;             /* public_url, no trailing slash */
    char *data_dir;               /* data_dir, absolute */
    char *database;               /* database (store URL) */
    ms_config_words modules;      /* modules switched on */
    char *passphrase_file;        /* passphrase_file, NULL when unset */
    bool insecure_keys;           /* insecure_keys */
    char *admin_token_file;       /* admin_token_file, NULL when unset */
    long long threads;            /* threads, 0 = number of CPUs */
    bool cpu_affinity;            /* cpu_affinity */
    long long max_body;           /* max_body, bytes */
    long long max_connections;    /* max_connections */
    long long connection_timeout; /* connection_timeout, seconds */
    long long ocsp_validity;      /* seconds */
    long long crl_validity;       /* seconds */
    long long crl_interval;       /* seconds */
    long long cert_validity_days; /* days */
    long long tsa_accuracy;       /* seconds */
    int log_level;                /* MS_LOGLEVEL_* */
    bool access_log;              /* one info line per request */
    char *mail_relay;             /* mail_relay (submit URL) */
    char *mail_from;              /* mail_from, sender of challenge mails */
    char *kms_master_key_file;    /* kms_master_key_file, absolute */
    char *kms_key_alg;            /* kms_key_alg (kms/keygen.h names) */
    long long validate_rate_address; /* validations per address per hour */
    long long validate_rate_client;  /* requests per client per hour */
    long long directory_rate;     /* lookups a minute per client address */
    char *directory_trust_file;   /* harvest anchors, NULL: the CAs here */
    char *directory_crl_file;     /* harvest CRLs, NULL: none */

    char *source;    /* file it came from ("-" for text) */
    atomic_int refs; /* private: reference count */
} ms_daemon_config;

/* The key table; *n receives its length. */
const ms_config_key *ms_daemon_config_keys(size_t *n);

/*
 * Parses config text (len bytes) into a new snapshot with one reference.
 * name prefixes error messages (file:line). default_dir is the data_dir
 * used when the text sets none (absolute; NULL: "/var/lib/mailseal").
 * database defaults to sqlite:<data_dir>/mailseal.db. Errors: MS_EINVAL
 * (with name:line), MS_ETOOBIG, MS_ENOMEM.
 */
int ms_daemon_config_parse(ms_daemon_config **out, const char *text, size_t len,
                           const char *name, const char *default_dir,
                           ms_error *err);

/*
 * Reads and parses the file at path (at most MS_CONFIG_MAX_FILE bytes).
 * data_dir defaults to the absolute directory holding the file. Errors as
 * for _parse, plus MS_EIO.
 */
int ms_daemon_config_load(ms_daemon_config **out, const char *path,
                          ms_error *err);

/* Takes another reference; returns c. */
ms_daemon_config *ms_daemon_config_up_ref(ms_daemon_config *c);
/* Drops a reference; the last one frees. NULL is a no-op. */
void ms_daemon_config_free(ms_daemon_config *c);

/* Appends the effective settings, redacted, as `key = value` lines. */
int ms_daemon_config_format(ms_buf *out, const ms_daemon_config *c);

#endif
