/*
 * services/common/service.c - the shared CA, the per-thread store handles
 * and reference slots of the modules (see service.h).
 */
#include "service.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "ca/keys.h"
#include "util/alloc.h"
#include "util/error.h"

int
ms_service_ca_open(ms_ca **out, const ms_daemon_config *cfg, ms_error *err)
{
    ms_buf pass;
    int rc;

    if (cfg->passphrase_file == NULL) {
        if (!cfg->insecure_keys)
            return ms_error_set(err, MS_EINVAL,
                                "%s: neither passphrase_file nor "
                                "insecure_keys = yes is set",
                                cfg->source);
        return ms_ca_open(out, cfg->data_dir, NULL, err);
    }
    ms_buf_init_secret(&pass, MS_CA_PASSPHRASE_MAX);
    if ((rc = ms_ca_passphrase_read(cfg->passphrase_file, &pass, err)) == 0)
        rc = ms_ca_open(out, cfg->data_dir, (const char *)pass.data, err);
    ms_buf_cleanup(&pass); /* wipes the passphrase */
    return rc;
}

/* ---- the shared CA ---- */

static pthread_mutex_t ca_lock = PTHREAD_MUTEX_INITIALIZER;
static ms_ca *ca_shared;
static unsigned ca_refs;

int
ms_service_ca_acquire(const ms_ca **out, const ms_daemon_config *cfg,
                      ms_error *err)
{
    int rc = 0;

    (void)pthread_mutex_lock(&ca_lock); /* cannot fail: a plain mutex */
    if (ca_refs == 0)
        rc = ms_service_ca_open(&ca_shared, cfg, err);
    if (rc == 0) {
        ca_refs++;
        *out = ca_shared;
    }
    (void)pthread_mutex_unlock(&ca_lock);
    return rc;
}

void
ms_service_ca_release(void)
{
    (void)pthread_mutex_lock(&ca_lock);
    MS_ASSERT(ca_refs > 0);
    if (--ca_refs == 0) {
        ms_ca_close(ca_shared);
        ca_shared = NULL;
    }
    (void)pthread_mutex_unlock(&ca_lock);
}

/* ---- per-thread store handles ---- */

typedef struct store_node {
    ms_store *st;
    struct store_node *next;
} store_node;

static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t store_key;
static unsigned store_refs;
static char *store_url;
static store_node *store_all; /* every handle opened, for the release */

int
ms_service_store_acquire(const ms_daemon_config *cfg, ms_error *err)
{
    ms_store *st = NULL;
    store_node *n = NULL;
    int rc = 0;

    (void)pthread_mutex_lock(&store_lock);
    if (store_refs > 0)
        goto done;
    /* Opening once here checks the URL and migrates before serving. */
    if ((rc = ms_store_open(&st, cfg->database, err)) != 0)
        goto out;
    if ((store_url = ms_strdup(cfg->database)) == NULL ||
        (n = ms_calloc(1, sizeof(*n))) == NULL) {
        rc = ms_error_set(err, MS_ENOMEM, "out of memory");
        goto out;
    }
    if (pthread_key_create(&store_key, NULL) != 0) {
        rc = ms_error_set(err, MS_ERR, "cannot create a thread key");
        goto out;
    }
    if (pthread_setspecific(store_key, st) != 0) {
        (void)pthread_key_delete(store_key);
        rc = ms_error_set(err, MS_ENOMEM, "out of memory");
        goto out;
    }
    n->st = st;
    store_all = n;
    st = NULL; /* the list owns it now */
    n = NULL;
done:
    store_refs++;
out:
    if (rc != 0) {
        ms_free(store_url);
        store_url = NULL;
    }
    ms_free(n);
    ms_store_close(st);
    (void)pthread_mutex_unlock(&store_lock);
    return rc;
}

void
ms_service_store_release(void)
{
    (void)pthread_mutex_lock(&store_lock);
    MS_ASSERT(store_refs > 0);
    if (--store_refs == 0) {
        while (store_all != NULL) {
            store_node *n = store_all;

            store_all = n->next;
            ms_store_close(n->st);
            ms_free(n);
        }
        /* Threads may still hold (now stale) values: none runs any more. */
        (void)pthread_key_delete(store_key);
        ms_free(store_url);
        store_url = NULL;
    }
    (void)pthread_mutex_unlock(&store_lock);
}

static int
store_open_for_thread(ms_store **out, ms_error *err)
{
    ms_store *st = NULL;
    store_node *n = NULL;
    int rc;

    if ((n = ms_calloc(1, sizeof(*n))) == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    /* The URL is fixed while any reference is held. */
    if ((rc = ms_store_open(&st, store_url, err)) != 0)
        goto out;
    if (pthread_setspecific(store_key, st) != 0) {
        rc = ms_error_set(err, MS_ENOMEM, "out of memory");
        goto out;
    }
    n->st = st;
    (void)pthread_mutex_lock(&store_lock);
    n->next = store_all;
    store_all = n;
    (void)pthread_mutex_unlock(&store_lock);
    *out = st;
    st = NULL; /* the list owns it now */
    n = NULL;
out:
    ms_store_close(st);
    ms_free(n);
    return rc;
}

int
ms_service_store_get(ms_store **out, ms_error *err)
{
    ms_store *st;

    if (store_refs == 0)
        return ms_error_set(err, MS_EINVAL, "no store acquired");
    if ((st = pthread_getspecific(store_key)) != NULL) {
        *out = st;
        return 0;
    }
    return store_open_for_thread(out, err);
}

/* ---- reference slots ---- */

struct ms_service_ref {
    void *obj;
    void (*free_fn)(void *obj);
    atomic_uint refs;
};

static ms_service_ref *
ref_new(void *obj, void (*free_fn)(void *obj))
{
    ms_service_ref *r = ms_calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    r->obj = obj;
    r->free_fn = free_fn;
    atomic_init(&r->refs, 1);
    return r;
}

int
ms_service_slot_init(ms_service_slot *slot, void *obj,
                     void (*free_fn)(void *obj), ms_error *err)
{
    slot->free_fn = free_fn;
    if ((slot->cur = ref_new(obj, free_fn)) == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    if (pthread_mutex_init(&slot->lock, NULL) != 0) {
        ms_free(slot->cur);
        slot->cur = NULL;
        return ms_error_set(err, MS_ERR, "cannot create a mutex");
    }
    return 0;
}

int
ms_service_slot_swap(ms_service_slot *slot, void *obj, ms_error *err)
{
    ms_service_ref *r = ref_new(obj, slot->free_fn), *old;

    if (r == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    (void)pthread_mutex_lock(&slot->lock);
    old = slot->cur;
    slot->cur = r;
    (void)pthread_mutex_unlock(&slot->lock);
    ms_service_slot_put(old);
    return 0;
}

void *
ms_service_slot_get(ms_service_slot *slot, ms_service_ref **ref)
{
    ms_service_ref *r;

    (void)pthread_mutex_lock(&slot->lock);
    r = slot->cur;
    atomic_fetch_add(&r->refs, 1);
    (void)pthread_mutex_unlock(&slot->lock);
    *ref = r;
    return r->obj;
}

void
ms_service_slot_put(ms_service_ref *ref)
{
    if (ref != NULL && atomic_fetch_sub(&ref->refs, 1) == 1) {
        ref->free_fn(ref->obj);
        ms_free(ref);
    }
}

void
ms_service_slot_cleanup(ms_service_slot *slot)
{
    if (slot->cur == NULL)
        return;
    ms_service_slot_put(slot->cur);
    slot->cur = NULL;
    (void)pthread_mutex_destroy(&slot->lock);
}

/* ---- secret files ---- */

int
ms_service_secret_digest(unsigned char digest[32], const char *path,
                         ms_error *err)
{
    ms_buf secret;
    unsigned int n = 0;
    int rc;

    ms_buf_init_secret(&secret, MS_CA_PASSPHRASE_MAX);
    if ((rc = ms_ca_passphrase_read(path, &secret, err)) != 0)
        goto out;
    if (!EVP_Digest(secret.data, secret.len, digest, &n, EVP_sha256(), NULL) ||
        n != 32)
        rc = ms_error_set_ossl(err, MS_ERR, "%s: cannot hash", path);
out:
    ms_buf_cleanup(&secret); /* wipes it */
    return rc;
}

/* ---- requests ---- */

bool
ms_service_content_type_is(const ms_http_request *req, const char *type)
{
    const char *ct = req->content_type;
    size_t n = strlen(type);

    if (ct == NULL || strncasecmp(ct, type, n) != 0)
        return false;
    ct += n;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}

int
ms_service_reply_415(ms_http_response *resp, const char *want)
{
    char msg[128];
    int n = snprintf(msg, sizeof(msg), "expected Content-Type: %s", want);

    if (n < 0 || (size_t)n >= sizeof(msg))
        return ms_http_response_error(resp, 415, "unsupported Content-Type");
    return ms_http_response_error(resp, 415, msg);
}

ms_daemon_config *
ms_service_config_ref(const ms_daemon_config *c)
{
    /* Only the atomic count changes: the snapshot itself stays immutable. */
    return ms_daemon_config_up_ref((ms_daemon_config *)(uintptr_t)c);
}
