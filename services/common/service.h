/*
 * services/common/service.h - what the modules of mailseald share: the CA
 * hierarchy (loaded once, whatever the number of modules using it), the
 * store handles of the worker threads, a reference-counted slot for an
 * object that reload() replaces while handlers use it, and the checked
 * reading of small secret files.
 *
 * Ownership: ms_service_ca_acquire() hands out a borrowed ms_ca that stays
 * valid until the matching ms_service_ca_release(); the last release closes
 * it (ms_ca_close() wipes the keys). ms_service_store_acquire() likewise
 * makes the per-thread store handles available; ms_service_store_get()
 * returns the calling thread's handle (opened on first use, owned by the
 * pool: never closed by the caller); the last ms_service_store_release()
 * closes every handle. ms_service_slot_get() returns a reference the caller
 * drops with ms_service_slot_put().
 *
 * Thread safety: acquire and release run on the main thread (module start
 * and stop) but take a lock anyway; ms_service_store_get() and the slot
 * functions may be called from any thread. A store handle is only ever used
 * by the thread it was opened for (store.h), and the pool is released only
 * when no worker thread runs any more (module.h: stop() is called after the
 * server stopped).
 */
#ifndef MS_SERVICES_SERVICE_H
#define MS_SERVICES_SERVICE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <mailseal/buf.h>
#include <mailseal/error.h>

#include "ca/hierarchy.h"
#include "config/daemon.h"
#include "net/server.h"
#include "store/store.h"

/*
 * *out = the hierarchy of cfg->data_dir, its keys decrypted with the
 * passphrase in cfg->passphrase_file (read with ms_ca_passphrase_read and
 * wiped after), or unencrypted when cfg->insecure_keys is set and no
 * passphrase_file is named. MS_EINVAL when neither is configured; else the
 * returns of ms_ca_passphrase_read() and ms_ca_open(). Not shared: the
 * caller closes it with ms_ca_close() (the commands use this).
 */
int ms_service_ca_open(ms_ca **out, const ms_daemon_config *cfg, ms_error *err);

/*
 * *out = the daemon's one ms_ca (ms_service_ca_open() on the first call,
 * the same object on later ones). Pair with ms_service_ca_release().
 */
int ms_service_ca_acquire(const ms_ca **out, const ms_daemon_config *cfg,
                          ms_error *err);
void ms_service_ca_release(void);

/*
 * Makes per-thread store handles on cfg->database available (the first
 * call opens one handle to check the URL and migrate the schema; later
 * calls only count). Pair with ms_service_store_release().
 */
int ms_service_store_acquire(const ms_daemon_config *cfg, ms_error *err);
void ms_service_store_release(void);
/* *out = the calling thread's handle (borrowed). MS_EINVAL before acquire. */
int ms_service_store_get(ms_store **out, ms_error *err);

/*
 * A slot holds one object (a responder, a TSA) that reload() may replace
 * while handlers still use the old one: each user takes a reference for
 * the time of its call (the lock is held only to take it, never during
 * the work), the object is freed by whoever drops the last reference.
 */
typedef struct ms_service_ref ms_service_ref;
typedef struct ms_service_slot {
    pthread_mutex_t lock;
    ms_service_ref *cur;
    void (*free_fn)(void *obj);
} ms_service_slot;

/* Sets slot up holding obj (not NULL). MS_ENOMEM, MS_ERR. */
int ms_service_slot_init(ms_service_slot *slot, void *obj,
                         void (*free_fn)(void *obj), ms_error *err);
/* Replaces the object (the old one is freed once unused). MS_ENOMEM. */
int ms_service_slot_swap(ms_service_slot *slot, void *obj, ms_error *err);
/* The current object; *ref receives the reference to drop. */
void *ms_service_slot_get(ms_service_slot *slot, ms_service_ref **ref);
void ms_service_slot_put(ms_service_ref *ref);
/* Drops the slot's reference; no user may be left. */
void ms_service_slot_cleanup(ms_service_slot *slot);

/*
 * Reads a secret file (a token; checked for type, owner and mode as
 * ms_ca_passphrase_read() does, one trailing newline removed) into digest:
 * the SHA-256 of its contents, which are wiped. Returns 0, the returns of
 * ms_ca_passphrase_read(), MS_ERR.
 */
int ms_service_secret_digest(unsigned char digest[32], const char *path,
                             ms_error *err);

/*
 * Takes a reference on a snapshot handed to start() or reload() as const
 * (module.h: take a reference to keep it). Returns the snapshot.
 */
ms_daemon_config *ms_service_config_ref(const ms_daemon_config *c);

/*
 * True when the request's Content-Type is type (case-insensitive, any
 * parameters after ';' ignored).
 */
bool ms_service_content_type_is(const ms_http_request *req, const char *type);
/* Answers 415 {"error": "expected Content-Type: <want>"}. MS_ENOMEM. */
int ms_service_reply_415(ms_http_response *resp, const char *want);

#endif
