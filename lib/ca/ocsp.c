/*
 * ca/ocsp.c - the OCSP responder (see ocsp.h for the behaviour).
 *
 * Layout: the response cache (SipHash table + FIFO list under one rwlock),
 * setup, request parsing, status look-up, signing and linting, audit
 * batching, and ms_ocsp_respond() tying them together. The cache lock is
 * held only to copy bytes in or out: never around the store or a signature.
 */
#include "ca/ocsp.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "ca/lint.h"
#include "util/alloc.h"
#include "util/error.h"

#define N_MD              4 /* CertID hash algorithms served */
#define MAX_CACHE         1000000
#define MAX_VALIDITY_SANE (366L * 24 * 60 * 60)
#define AUDIT_INTERVAL    60 /* seconds between "ocsp.sign" rows per issuer */

/* What a cache key is made of. */
#define KIND_REQUEST 1 /* the raw request bytes */
#define KIND_CERTID  2 /* the DER of one CertID */

static const char *const md_names[N_MD] = {"SHA1", "SHA256", "SHA384",
                                           "SHA512"};
static const int md_nids[N_MD] = {NID_sha1, NID_sha256, NID_sha384,
                                  NID_sha512};

typedef struct issuer {
    X509 *ca;
    char *name; /* in the store */
    X509 *cert; /* delegated responder */
    EVP_PKEY *key;
    unsigned char name_hash[N_MD][EVP_MAX_MD_SIZE];
    unsigned char key_hash[N_MD][EVP_MAX_MD_SIZE];
    unsigned int hash_len[N_MD];
    pthread_mutex_t audit_lock;
    uint64_t audit_pending; /* signatures not yet in the audit log */
    time_t audit_last;      /* time of the last row, 0: none yet */
} issuer;

typedef struct centry {
    struct centry *next;  /* bucket chain */
    struct centry *older; /* FIFO list */
    struct centry *newer;
    uint64_t hash;
    time_t refresh_at; /* served while now < refresh_at */
    int kind;
    size_t key_len;
    size_t resp_len;
    unsigned char data[]; /* key_len key bytes, then the response */
} centry;

/* The cache state a request saw before reading the store. */
typedef struct snap {
    uint64_t epoch;
    uint64_t gen;
} snap;

struct ms_ocsp_responder {
    ms_ocsp_options opt;
    EVP_MD *sha256;
    issuer issuers[MS_OCSP_MAX_ISSUERS];
    size_t n_issuers;
    pthread_rwlock_t lock; /* guards everything below but the counters */
    bool lock_ok;
    centry **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;
    centry *oldest;
    centry *newest;
    uint64_t epoch; /* the store's revocation epoch the entries belong to */
    uint64_t gen;   /* raised whenever the entries are dropped */
    uint64_t sipkey[2];
    _Atomic uint64_t n_requests;
    _Atomic uint64_t n_hits;
    _Atomic uint64_t n_signatures;
    _Atomic uint64_t n_refused;
};

/* ---- SipHash-2-4 (Aumasson, Bernstein), keyed per responder ---- */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static void
sipround(uint64_t v[4])
{
    v[0] += v[1];
    v[1] = ROTL(v[1], 13);
    v[1] ^= v[0];
    v[0] = ROTL(v[0], 32);
    v[2] += v[3];
    v[3] = ROTL(v[3], 16);
    v[3] ^= v[2];
    v[0] += v[3];
    v[3] = ROTL(v[3], 21);
    v[3] ^= v[0];
    v[2] += v[1];
    v[1] = ROTL(v[1], 17);
    v[1] ^= v[2];
    v[2] = ROTL(v[2], 32);
}

static void
sipcompress(uint64_t v[4], uint64_t m)
{
    v[3] ^= m;
    sipround(v);
    sipround(v);
    v[0] ^= m;
}

static uint64_t
siphash(const uint64_t k[2], const unsigned char *in, size_t len)
{
    uint64_t v[4] = {k[0] ^ 0x736f6d6570736575ULL, k[1] ^ 0x646f72616e646f6dULL,
                     k[0] ^ 0x6c7967656e657261ULL, k[1] ^ 0x7465646279746573ULL};
    uint64_t last = (uint64_t)(len & 0xff) << 56;
    size_t whole = len - len % 8;

    for (size_t i = 0; i < whole; i += 8) {
        uint64_t m = 0;

        for (int b = 7; b >= 0; b--)
            m = (m << 8) | in[i + (size_t)b];
        sipcompress(v, m);
    }
    for (size_t i = whole; i < len; i++)
        last |= (uint64_t)in[i] << (8 * (i - whole));
    sipcompress(v, last);
    v[2] ^= 0xff;
    for (int i = 0; i < 4; i++)
        sipround(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* ---- the cache ---- */

static void
lock_read(ms_ocsp_responder *r)
{
    MS_ASSERT(pthread_rwlock_rdlock(&r->lock) == 0);
}

static void
lock_write(ms_ocsp_responder *r)
{
    MS_ASSERT(pthread_rwlock_wrlock(&r->lock) == 0);
}

static void
unlock(ms_ocsp_responder *r)
{
    MS_ASSERT(pthread_rwlock_unlock(&r->lock) == 0);
}

static uint64_t
key_hash(const ms_ocsp_responder *r, int kind, const unsigned char *key,
         size_t len)
{
    return siphash(r->sipkey, key, len) ^ (uint64_t)kind;
}

static centry **
bucket_of(ms_ocsp_responder *r, uint64_t hash)
{
    return &r->buckets[hash & (r->nbuckets - 1)];
}

/* Unlinks e from its bucket and the FIFO list (the caller frees it). */
static void
entry_unlink(ms_ocsp_responder *r, centry *e)
{
    centry **pp = bucket_of(r, e->hash);

    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
    if (e->older != NULL)
        e->older->newer = e->newer;
    else
        r->oldest = e->newer;
    if (e->newer != NULL)
        e->newer->older = e->older;
    else
        r->newest = e->older;
    r->count--;
}

static centry *
entry_find(ms_ocsp_responder *r, int kind, uint64_t hash,
           const unsigned char *key, size_t len)
{
    for (centry *e = *bucket_of(r, hash); e != NULL; e = e->next)
        if (e->hash == hash && e->kind == kind && e->key_len == len &&
            memcmp(e->data, key, len) == 0)
            return e;
    return NULL;
}

/* Drops every entry; the caller holds the write lock. */
static void
cache_clear(ms_ocsp_responder *r)
{
    centry *e = r->oldest;

    while (e != NULL) {
        centry *next = e->newer;

        ms_free(e);
        e = next;
    }
    if (r->buckets != NULL)
        memset(r->buckets, 0, r->nbuckets * sizeof(r->buckets[0]));
    r->oldest = NULL;
    r->newest = NULL;
    r->count = 0;
    r->gen++;
}

/* Follows the store's revocation epoch; *sn = the state seen. */
static void
cache_sync(ms_ocsp_responder *r, uint64_t epoch, snap *sn)
{
    lock_read(r);
    sn->epoch = epoch;
    sn->gen = r->gen;
    if (epoch <= r->epoch) {
        unlock(r);
        return; /* current, or a reader older than the cache: no insert */
    }
    unlock(r);
    lock_write(r);
    if (epoch > r->epoch) {
        cache_clear(r);
        r->epoch = epoch;
    }
    sn->gen = r->gen;
    unlock(r);
}

/*
 * Copies the fresh cached answer for key into out: *hit tells whether
 * there was one, *refresh_at until when it is served.
 */
static int
cache_lookup(ms_ocsp_responder *r, int kind, const unsigned char *key,
             size_t len, time_t now, ms_buf *out, time_t *refresh_at,
             bool *hit, ms_error *err)
{
    uint64_t h;
    centry *e;
    int rc = 0;

    *hit = false;
    if (r->buckets == NULL)
        return 0;
    h = key_hash(r, kind, key, len);
    lock_read(r);
    e = entry_find(r, kind, h, key, len);
    if (e != NULL && now < e->refresh_at) {
        rc = ms_buf_append(out, e->data + e->key_len, e->resp_len);
        *refresh_at = e->refresh_at;
        *hit = rc == 0;
    }
    unlock(r);
    if (rc != 0)
        return ms_error_set(err, rc, "cannot copy the cached response");
    if (*hit)
        atomic_fetch_add_explicit(&r->n_hits, 1, memory_order_relaxed);
    return 0;
}

/*
 * Keeps resp under key unless the entries were dropped since sn was taken
 * (then resp may predate a revocation). Best effort: no memory, no entry.
 */
static void
cache_insert(ms_ocsp_responder *r, const snap *sn, int kind,
             const unsigned char *key, size_t len, const ms_buf *resp,
             time_t refresh_at)
{
    centry *e;
    centry *old = NULL;
    size_t size;

    if (r->buckets == NULL || !ms_size_add(&size, sizeof(*e), len) ||
        !ms_size_add(&size, size, resp->len) || (e = ms_malloc(size)) == NULL)
        return;
    memset(e, 0, sizeof(*e));
    e->hash = key_hash(r, kind, key, len);
    e->kind = kind;
    e->refresh_at = refresh_at;
    e->key_len = len;
    e->resp_len = resp->len;
    memcpy(e->data, key, len);
    memcpy(e->data + len, resp->data, resp->len);
    lock_write(r);
    if (r->gen != sn->gen || r->epoch != sn->epoch) {
        unlock(r);
        ms_free(e);
        return;
    }
    if ((old = entry_find(r, kind, e->hash, key, len)) != NULL)
        entry_unlink(r, old);
    else if (r->count >= r->opt.max_cache_entries && (old = r->oldest) != NULL)
        entry_unlink(r, old);
    e->next = *bucket_of(r, e->hash);
    *bucket_of(r, e->hash) = e;
    e->older = r->newest;
    if (r->newest != NULL)
        r->newest->newer = e;
    else
        r->oldest = e;
    r->newest = e;
    r->count++;
    unlock(r);
    ms_free(old);
}

void
ms_ocsp_responder_invalidate(ms_ocsp_responder *r)
{
    MS_ASSERT(r != NULL);
    lock_write(r);
    cache_clear(r);
    unlock(r);
}

/* ---- setup ---- */

static int
check_options(const ms_ocsp_options *o, ms_error *err)
{
    if (o->version != MS_OCSP_OPTIONS_VERSION)
        return ms_error_set(err, MS_EINVAL, "OCSP options version %u",
                            o->version);
    if (o->validity <= 0 || o->validity > MAX_VALIDITY_SANE)
        return ms_error_set(err, MS_EINVAL, "OCSP validity %ld s", o->validity);
    if (o->refresh_margin < 0 || o->refresh_margin >= o->validity)
        return ms_error_set(err, MS_EINVAL, "OCSP refresh margin %ld s",
                            o->refresh_margin);
    if (o->max_validity <= 0)
        return ms_error_set(err, MS_EINVAL, "OCSP maximum validity %ld s",
                            o->max_validity);
    if (o->max_cache_entries > MAX_CACHE)
        return ms_error_set(err, MS_EINVAL, "OCSP cache over %d entries",
                            MAX_CACHE);
    return 0;
}

static int
cache_setup(ms_ocsp_responder *r, ms_error *err)
{
    size_t n = 16;

    if (RAND_bytes((unsigned char *)r->sipkey, (int)sizeof(r->sipkey)) != 1)
        return ms_error_set_ossl(err, MS_ERR, "no random cache key");
    if (pthread_rwlock_init(&r->lock, NULL) != 0)
        return ms_error_set(err, MS_ENOMEM, "cannot create the cache lock");
    r->lock_ok = true;
    if (r->opt.max_cache_entries == 0)
        return 0;
    while (n < r->opt.max_cache_entries)
        n *= 2;
    if ((r->buckets = ms_calloc(n, sizeof(r->buckets[0]))) == NULL)
        return ms_error_set(err, MS_ENOMEM, "cannot allocate the cache");
    r->nbuckets = n;
    return 0;
}

int
ms_ocsp_responder_new(ms_ocsp_responder **out, const ms_ocsp_options *opt,
                      ms_error *err)
{
    static const ms_ocsp_options defaults = MS_OCSP_OPTIONS_INIT;
    ms_ocsp_responder *r = NULL;
    int rc;

    MS_ASSERT(out != NULL);
    *out = NULL;
    if (opt == NULL)
        opt = &defaults;
    if ((rc = check_options(opt, err)) != 0)
        return rc;
    if ((r = ms_calloc(1, sizeof(*r))) == NULL)
        return ms_error_set(err, MS_ENOMEM, "cannot allocate the responder");
    r->opt = *opt;
    if (r->opt.refresh_margin == 0)
        r->opt.refresh_margin = r->opt.validity / 4;
    if ((r->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL) {
        rc = ms_error_set_ossl(err, MS_ERR, "no SHA-256");
        goto out;
    }
    if ((rc = cache_setup(r, err)) != 0)
        goto out;
    *out = r;
    r = NULL; /* the caller owns it now */
out:
    ms_ocsp_responder_free(r);
    return rc;
}

void
ms_ocsp_responder_free(ms_ocsp_responder *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_issuers; i++) {
        issuer *iss = &r->issuers[i];

        X509_free(iss->ca);
        X509_free(iss->cert);
        EVP_PKEY_free(iss->key);
        ms_free(iss->name);
        (void)pthread_mutex_destroy(&iss->audit_lock); /* unlocked: ours */
    }
    if (r->lock_ok) {
        lock_write(r);
        cache_clear(r);
        unlock(r);
        (void)pthread_rwlock_destroy(&r->lock); /* unlocked: ours */
    }
    ms_free(r->buckets);
    EVP_MD_free(r->sha256);
    ms_free(r);
}

/* Fills the CertID hashes of iss->ca for every algorithm served. */
static int
issuer_hashes(issuer *iss, ms_error *err)
{
    int rc = 0;

    for (int i = 0; i < N_MD && rc == 0; i++) {
        EVP_MD *md = EVP_MD_fetch(NULL, md_names[i], NULL);
        unsigned int nlen = 0;
        unsigned int klen = 0;

        if (md == NULL ||
            X509_NAME_digest(X509_get_subject_name(iss->ca), md,
                             iss->name_hash[i], &nlen) != 1 ||
            X509_pubkey_digest(iss->ca, md, iss->key_hash[i], &klen) != 1 ||
            nlen != klen)
            rc = ms_error_set_ossl(err, MS_ERR, "cannot hash the CA (%s)",
                                   md_names[i]);
        iss->hash_len[i] = nlen;
        EVP_MD_free(md);
    }
    return rc;
}

static int
check_responder(X509 *ca, X509 *cert, EVP_PKEY *key, ms_error *err)
{
    EVP_PKEY *ca_key = X509_get0_pubkey(ca);

    if (X509_check_issued(ca, cert) != X509_V_OK || ca_key == NULL ||
        X509_verify(cert, ca_key) != 1)
        return ms_error_set_ossl(err, MS_EINVAL,
                                 "the OCSP responder is not issued by the CA");
    if ((X509_get_extension_flags(cert) & EXFLAG_XKUSAGE) == 0 ||
        (X509_get_extended_key_usage(cert) & XKU_OCSP_SIGN) == 0)
        return ms_error_set_ossl(err, MS_EINVAL,
                                 "the OCSP responder lacks OCSPSigning");
    if (X509_check_private_key(cert, key) != 1)
        return ms_error_set_ossl(err, MS_EINVAL,
                                 "the key is not the OCSP responder's");
    return 0;
}

int
ms_ocsp_responder_add_issuer(ms_ocsp_responder *r, X509 *issuing_ca,
                             const char *issuer_name_in_store,
                             X509 *responder_cert, EVP_PKEY *responder_key,
                             ms_error *err)
{
    issuer *iss;
    size_t len;
    int rc;

    MS_ASSERT(r != NULL && issuing_ca != NULL && responder_cert != NULL);
    MS_ASSERT(issuer_name_in_store != NULL && responder_key != NULL);
    len = strlen(issuer_name_in_store);
    if (len == 0 || len > MS_STORE_NAME_MAX)
        return ms_error_set(err, MS_EINVAL, "bad issuer name");
    if (r->n_issuers >= MS_OCSP_MAX_ISSUERS)
        return ms_error_set(err, MS_EINVAL, "more than %d issuers",
                            MS_OCSP_MAX_ISSUERS);
    if ((rc = check_responder(issuing_ca, responder_cert, responder_key,
                              err)) != 0)
        return rc;
    iss = &r->issuers[r->n_issuers];
    memset(iss, 0, sizeof(*iss));
    iss->ca = issuing_ca; /* only borrowed until the end */
    if ((rc = issuer_hashes(iss, err)) != 0)
        return rc;
    for (size_t i = 0; i < r->n_issuers; i++)
        if (memcmp(r->issuers[i].key_hash[1], iss->key_hash[1],
                   iss->hash_len[1]) == 0 &&
            memcmp(r->issuers[i].name_hash[1], iss->name_hash[1],
                   iss->hash_len[1]) == 0)
            return ms_error_set(err, MS_EINVAL, "the CA is served already");
    if ((iss->name = ms_strdup(issuer_name_in_store)) == NULL)
        return ms_error_set(err, MS_ENOMEM, "cannot copy the issuer name");
    if (pthread_mutex_init(&iss->audit_lock, NULL) != 0) {
        ms_free(iss->name);
        return ms_error_set(err, MS_ENOMEM, "cannot create the audit lock");
    }
    /* Cannot fail from here on: take the references. */
    (void)X509_up_ref(issuing_ca);
    (void)X509_up_ref(responder_cert);
    (void)EVP_PKEY_up_ref(responder_key);
    iss->cert = responder_cert;
    iss->key = responder_key;
    r->n_issuers++;
    return 0;
}

/* ---- requests ---- */

typedef struct parsed {
    OCSP_REQUEST *req;
    int n;                         /* CertIDs */
    issuer *iss;                   /* the one issuer named, NULL: none */
    ASN1_OCTET_STRING *nonce;      /* the extnValue, NULL: none */
} parsed;

static int
check_extensions(parsed *p, ms_error *err)
{
    for (int i = 0; i < OCSP_REQUEST_get_ext_count(p->req); i++) {
        X509_EXTENSION *e = OCSP_REQUEST_get_ext(p->req, i);
        ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(e);

        if (OBJ_obj2nid(X509_EXTENSION_get_object(e)) !=
            NID_id_pkix_OCSP_Nonce) {
            if (X509_EXTENSION_get_critical(e))
                return ms_error_set(err, MS_EINVAL,
                                    "an unknown critical request extension");
            continue;
        }
        if (p->nonce != NULL)
            return ms_error_set(err, MS_EINVAL, "two nonces");
        if (ASN1_STRING_length(v) < 1 ||
            ASN1_STRING_length(v) > MS_OCSP_NONCE_MAX)
            return ms_error_set(err, MS_EINVAL, "a nonce of %d octets",
                                ASN1_STRING_length(v));
        p->nonce = v;
    }
    for (int i = 0; i < p->n; i++) {
        OCSP_ONEREQ *one = OCSP_request_onereq_get0(p->req, i);

        for (int j = 0; j < OCSP_ONEREQ_get_ext_count(one); j++)
            if (X509_EXTENSION_get_critical(OCSP_ONEREQ_get_ext(one, j)))
                return ms_error_set(err, MS_EINVAL,
                                    "an unknown critical CertID extension");
    }
    return 0;
}

/* The issuer cid names, or NULL. */
static issuer *
match_issuer(ms_ocsp_responder *r, OCSP_CERTID *cid)
{
    ASN1_OCTET_STRING *nh = NULL;
    ASN1_OCTET_STRING *kh = NULL;
    ASN1_OBJECT *alg = NULL;
    int m = 0;
    int nid;

    if (OCSP_id_get0_info(&nh, &alg, &kh, NULL, cid) != 1)
        return NULL;
    nid = OBJ_obj2nid(alg);
    while (m < N_MD && md_nids[m] != nid)
        m++;
    if (m == N_MD)
        return NULL;
    for (size_t i = 0; i < r->n_issuers; i++) {
        issuer *iss = &r->issuers[i];
        int len = (int)iss->hash_len[m];

        if (ASN1_STRING_length(nh) == len && ASN1_STRING_length(kh) == len &&
            memcmp(ASN1_STRING_get0_data(nh), iss->name_hash[m],
                   (size_t)len) == 0 &&
            memcmp(ASN1_STRING_get0_data(kh), iss->key_hash[m],
                   (size_t)len) == 0)
            return iss;
    }
    return NULL;
}

/* Decodes der (strict DER, nothing after it) into p and checks it. */
static int
parse_request(ms_ocsp_responder *r, const uint8_t *der, size_t len, parsed *p,
              ms_error *err)
{
    const unsigned char *q = der;
    unsigned char *again = NULL;
    int n;
    int rc = 0;

    if ((p->req = d2i_OCSP_REQUEST(NULL, &q, (long)len)) == NULL)
        return ms_error_set_ossl(err, MS_EINVAL, "not an OCSPRequest");
    if (q != der + len)
        return ms_error_set(err, MS_EINVAL, "%zu bytes after the OCSPRequest",
                            len - (size_t)(q - der));
    /* Names and certificates inside keep their own encoding; the rest of
     * the request must be DER, so that equal requests are equal bytes. */
    n = i2d_OCSP_REQUEST(p->req, &again);
    if (n < 0 || (size_t)n != len || memcmp(again, der, len) != 0)
        rc = ms_error_set_ossl(err, MS_EINVAL, "the OCSPRequest is not DER");
    OPENSSL_free(again);
    if (rc != 0)
        return rc;
    p->n = OCSP_request_onereq_count(p->req);
    if (p->n < 1)
        return ms_error_set(err, MS_EINVAL, "the OCSPRequest has no CertID");
    if (p->n > MS_OCSP_MAX_SINGLE)
        return ms_error_set(err, MS_ETOOBIG, "%d CertIDs (at most %d)", p->n,
                            MS_OCSP_MAX_SINGLE);
    if ((rc = check_extensions(p, err)) != 0)
        return rc;
    p->iss = match_issuer(r, OCSP_onereq_get0_id(
                                 OCSP_request_onereq_get0(p->req, 0)));
    for (int i = 1; i < p->n && p->iss != NULL; i++)
        if (match_issuer(r, OCSP_onereq_get0_id(OCSP_request_onereq_get0(
                                p->req, i))) != p->iss)
            p->iss = NULL; /* another signer would be needed */
    return 0;
}

/* ---- status, signing, lint ---- */

/* Store form of a serial (BN_bn2hex, lower case); false: never ours. */
static bool
serial_hex(const ASN1_INTEGER *s, char out[MS_STORE_SERIAL_HEX_MAX + 1])
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = ASN1_STRING_get0_data(s);
    size_t n = (size_t)ASN1_STRING_length(s);

    if (ASN1_STRING_type(s) != V_ASN1_INTEGER)
        return false; /* negative */
    while (n > 0 && *p == 0) {
        p++;
        n--;
    }
    if (n == 0 || n > MS_STORE_SERIAL_HEX_MAX / 2)
        return false;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 0x0f];
    }
    out[2 * n] = '\0';
    return true;
}

static int
lookup_status(const issuer *iss, ms_store *store, OCSP_CERTID *cid,
              ms_lint_ocsp_expect *want, ms_error *err)
{
    char hex[MS_STORE_SERIAL_HEX_MAX + 1];
    ASN1_INTEGER *serial = NULL;
    ms_store_cert rec;
    ms_error e;
    int rc;

    memset(want, 0, sizeof(*want));
    want->status = V_OCSP_CERTSTATUS_UNKNOWN;
    want->reason = -1;
    if (OCSP_id_get0_info(NULL, NULL, NULL, &serial, cid) != 1 ||
        !serial_hex(serial, hex))
        return 0;
    ms_store_cert_init(&rec);
    rc = ms_store_cert_get(store, iss->name, hex, &rec, &e);
    if (rc == 0 && rec.revoked) {
        want->status = V_OCSP_CERTSTATUS_REVOKED;
        want->revoked_at = rec.revoked_at;
        want->reason = rec.reason == 0 ? -1 : rec.reason;
    } else if (rc == 0) {
        want->status = V_OCSP_CERTSTATUS_GOOD;
    }
    ms_store_cert_cleanup(&rec);
    if (rc == MS_ENOTFOUND)
        return 0; /* never issued: "unknown" */
    if (rc != 0 && err != NULL)
        *err = e;
    return rc;
}

static int
add_singles(ms_ocsp_responder *r, OCSP_BASICRESP *bs, const parsed *p,
            const ms_lint_ocsp_expect *want, time_t now, ms_error *err)
{
    ASN1_GENERALIZEDTIME *t0 = ASN1_GENERALIZEDTIME_set(NULL, now);
    ASN1_GENERALIZEDTIME *t1 =
        ASN1_GENERALIZEDTIME_set(NULL, now + r->opt.validity);
    int rc = 0;

    for (int i = 0; i < p->n && rc == 0; i++) {
        OCSP_CERTID *cid = OCSP_onereq_get0_id(
            OCSP_request_onereq_get0(p->req, i));
        ASN1_GENERALIZEDTIME *rev = NULL;

        if (want[i].status == V_OCSP_CERTSTATUS_REVOKED)
            rev = ASN1_GENERALIZEDTIME_set(NULL, want[i].revoked_at);
        if (t0 == NULL || t1 == NULL ||
            (want[i].status == V_OCSP_CERTSTATUS_REVOKED && rev == NULL) ||
            OCSP_basic_add1_status(bs, cid, want[i].status, want[i].reason,
                                   rev, t0, t1) == NULL)
            rc = ms_error_set_ossl(err, MS_ENOMEM, "cannot add a status");
        ASN1_GENERALIZEDTIME_free(rev);
    }
    ASN1_GENERALIZEDTIME_free(t0);
    ASN1_GENERALIZEDTIME_free(t1);
    return rc;
}

/* Counts a signature and writes the audit row when one is due. */
static void
audit_note(issuer *iss, ms_store *store, time_t now)
{
    char detail[MS_STORE_NAME_MAX + 64];
    uint64_t take = 0;

    MS_ASSERT(pthread_mutex_lock(&iss->audit_lock) == 0);
    iss->audit_pending++;
    if (iss->audit_last == 0 || now - iss->audit_last >= AUDIT_INTERVAL) {
        take = iss->audit_pending;
        iss->audit_pending = 0;
        iss->audit_last = now;
    }
    MS_ASSERT(pthread_mutex_unlock(&iss->audit_lock) == 0);
    if (take == 0)
        return;
    /* The name is at most MS_STORE_NAME_MAX: no truncation. */
    (void)snprintf(detail, sizeof(detail), "issuer=\"%s\" signatures=%" PRIu64,
                   iss->name, take);
    if (ms_store_audit_append(store, "ocsp.sign", detail, NULL) == 0)
        return;
    MS_ASSERT(pthread_mutex_lock(&iss->audit_lock) == 0);
    iss->audit_pending += take; /* retried with the next signature */
    iss->audit_last = 0;
    MS_ASSERT(pthread_mutex_unlock(&iss->audit_lock) == 0);
}

int
ms_ocsp_responder_audit_flush(ms_ocsp_responder *r, ms_store *store,
                              ms_error *err)
{
    char detail[MS_STORE_NAME_MAX + 64];
    int rc = 0;

    MS_ASSERT(r != NULL && store != NULL);
    for (size_t i = 0; i < r->n_issuers && rc == 0; i++) {
        issuer *iss = &r->issuers[i];
        uint64_t take;

        MS_ASSERT(pthread_mutex_lock(&iss->audit_lock) == 0);
        take = iss->audit_pending;
        iss->audit_pending = 0;
        MS_ASSERT(pthread_mutex_unlock(&iss->audit_lock) == 0);
        if (take == 0)
            continue;
        (void)snprintf(detail, sizeof(detail),
                       "issuer=\"%s\" signatures=%" PRIu64, iss->name, take);
        if ((rc = ms_store_audit_append(store, "ocsp.sign", detail, err)) !=
            0) {
            MS_ASSERT(pthread_mutex_lock(&iss->audit_lock) == 0);
            iss->audit_pending += take;
            MS_ASSERT(pthread_mutex_unlock(&iss->audit_lock) == 0);
        }
    }
    return rc;
}

/* Adds p's nonce to bs, never critical (RFC 8954 echo). */
static int
add_nonce(OCSP_BASICRESP *bs, const parsed *p, ms_error *err)
{
    X509_EXTENSION *e;
    int ok;

    e = X509_EXTENSION_create_by_NID(NULL, NID_id_pkix_OCSP_Nonce, 0,
                                     p->nonce);
    ok = e != NULL && OCSP_BASICRESP_add_ext(bs, e, -1) == 1;
    X509_EXTENSION_free(e);
    return ok ? 0 : ms_error_set_ossl(err, MS_ENOMEM, "cannot add the nonce");
}

/* Signs the answer to p as of now into *out and lints it. */
static int
sign_response(ms_ocsp_responder *r, ms_store *store, const parsed *p,
              const ms_lint_ocsp_expect *want, time_t now,
              OCSP_RESPONSE **out, ms_error *err)
{
    OCSP_BASICRESP *bs = NULL;
    ms_lint_ocsp_in li;
    ms_lint_report rep;
    int rc;

    if ((bs = OCSP_BASICRESP_new()) == NULL) {
        rc = ms_error_set_ossl(err, MS_ENOMEM, "cannot allocate a response");
        goto out;
    }
    if ((rc = add_singles(r, bs, p, want, now, err)) != 0 ||
        (p->nonce != NULL && (rc = add_nonce(bs, p, err)) != 0))
        goto out;
    if (OCSP_basic_sign(bs, p->iss->cert, p->iss->key, r->sha256, NULL,
                        OCSP_RESPID_KEY) != 1) {
        rc = ms_error_set_ossl(err, MS_ERR, "cannot sign the OCSP response");
        goto out;
    }
    atomic_fetch_add_explicit(&r->n_signatures, 1, memory_order_relaxed);
    audit_note(p->iss, store, now);
    if ((*out = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs)) ==
        NULL) {
        rc = ms_error_set_ossl(err, MS_ENOMEM, "cannot wrap the response");
        goto out;
    }
    li = (ms_lint_ocsp_in){*out, p->iss->cert, want, (size_t)p->n,
                           r->opt.max_validity, now};
    if (ms_lint_ocsp_response(&rep, &li) != 0) {
        atomic_fetch_add_explicit(&r->n_refused, 1, memory_order_relaxed);
        rc = ms_error_set(err, MS_EPOLICY, "OCSP lint refused the response: %s",
                          rep.first);
    }
out:
    OCSP_BASICRESP_free(bs);
    return rc;
}

/* ---- answers ---- */

/* Writes the unsigned OCSPResponse with an error status into out. */
static void
put_status(ms_buf *out, int status)
{
    const unsigned char der[] = {0x30, 0x03, 0x0a, 0x01, (unsigned char)status};

    ms_buf_reset(out);
    (void)ms_buf_append(out, der, sizeof(der)); /* empty when it cannot */
}

/* Writes the error response matching rc into out and returns rc. */
static int
fail_with(ms_buf *out, int rc)
{
    int status = OCSP_RESPONSE_STATUS_INTERNALERROR;

    if (rc == MS_EINVAL || rc == MS_ETOOBIG)
        status = OCSP_RESPONSE_STATUS_MALFORMEDREQUEST;
    else if (rc == MS_ETEMP)
        status = OCSP_RESPONSE_STATUS_TRYLATER;
    put_status(out, status);
    return rc;
}

static int
put_response(ms_buf *out, OCSP_RESPONSE *resp, ms_error *err)
{
    unsigned char *der = NULL;
    int n = i2d_OCSP_RESPONSE(resp, &der);
    int rc;

    if (n <= 0)
        return ms_error_set_ossl(err, MS_ENOMEM, "cannot encode the response");
    if ((rc = ms_buf_append(out, der, (size_t)n)) != 0)
        rc = ms_error_set(err, rc, "cannot store a %d-byte response", n);
    OPENSSL_free(der);
    return rc;
}

/* Answers an uncached request (the raw bytes missed the cache). */
static int
answer(ms_ocsp_responder *r, ms_store *store, const uint8_t *req, size_t len,
       time_t now, const snap *sn, ms_buf *out, ms_error *err)
{
    ms_lint_ocsp_expect want[MS_OCSP_MAX_SINGLE];
    parsed p = {NULL, 0, NULL, NULL};
    OCSP_RESPONSE *resp = NULL;
    unsigned char *cid = NULL;
    time_t until = now + r->opt.validity - r->opt.refresh_margin;
    bool hit = false;
    int cid_len = 0;
    int rc;

    if ((rc = parse_request(r, req, len, &p, err)) != 0)
        goto fail;
    if (p.iss == NULL) {
        put_status(out, OCSP_RESPONSE_STATUS_UNAUTHORIZED);
        goto out;
    }
    if (p.n == 1 && p.nonce == NULL && r->buckets != NULL) {
        cid_len = i2d_OCSP_CERTID(
            OCSP_onereq_get0_id(OCSP_request_onereq_get0(p.req, 0)), &cid);
        if (cid_len <= 0) {
            rc = ms_error_set_ossl(err, MS_ENOMEM, "cannot encode a CertID");
            goto fail;
        }
        if ((rc = cache_lookup(r, KIND_CERTID, cid, (size_t)cid_len, now, out,
                               &until, &hit, err)) != 0)
            goto fail;
    }
    for (int i = 0; i < p.n && !hit; i++)
        if ((rc = lookup_status(p.iss, store,
                                OCSP_onereq_get0_id(
                                    OCSP_request_onereq_get0(p.req, i)),
                                &want[i], err)) != 0)
            goto fail;
    if (!hit && ((rc = sign_response(r, store, &p, want, now, &resp, err)) !=
                     0 ||
                 (rc = put_response(out, resp, err)) != 0))
        goto fail;
    if (cid != NULL) {
        if (!hit)
            cache_insert(r, sn, KIND_CERTID, cid, (size_t)cid_len, out, until);
        cache_insert(r, sn, KIND_REQUEST, req, len, out, until);
    }
    goto out;
fail:
    (void)fail_with(out, rc);
out:
    OCSP_RESPONSE_free(resp);
    OPENSSL_free(cid);
    OCSP_REQUEST_free(p.req);
    return rc;
}

int
ms_ocsp_respond(ms_ocsp_responder *r, ms_store *store, const uint8_t *req,
                size_t len, ms_buf *resp_der, ms_error *err)
{
    time_t now;
    time_t until;
    uint64_t epoch;
    bool hit;
    snap sn;
    int rc;

    MS_ASSERT(r != NULL && store != NULL && resp_der != NULL);
    MS_ASSERT(req != NULL || len == 0);
    ms_buf_reset(resp_der);
    atomic_fetch_add_explicit(&r->n_requests, 1, memory_order_relaxed);
    if (len > MS_OCSP_REQUEST_MAX)
        return fail_with(resp_der, ms_error_set(err, MS_ETOOBIG,
                                                "OCSP request over %d bytes",
                                                MS_OCSP_REQUEST_MAX));
    if (len == 0)
        return fail_with(resp_der,
                         ms_error_set(err, MS_EINVAL, "empty OCSP request"));
    now = r->opt.clock != NULL ? r->opt.clock(r->opt.clock_arg) : time(NULL);
    if ((rc = ms_store_revocation_epoch(store, &epoch, err)) != 0)
        return fail_with(resp_der, rc);
    cache_sync(r, epoch, &sn);
    if ((rc = cache_lookup(r, KIND_REQUEST, req, len, now, resp_der, &until,
                           &hit, err)) != 0)
        return fail_with(resp_der, rc);
    if (hit)
        return 0;
    rc = answer(r, store, req, len, now, &sn, resp_der, err);
    ERR_clear_error(); /* the queue is empty whenever an ms_ call returns */
    return rc;
}

void
ms_ocsp_responder_get_stats(ms_ocsp_responder *r, ms_ocsp_stats *out)
{
    MS_ASSERT(r != NULL && out != NULL);
    out->requests = atomic_load_explicit(&r->n_requests, memory_order_relaxed);
    out->cache_hits = atomic_load_explicit(&r->n_hits, memory_order_relaxed);
    out->signatures =
        atomic_load_explicit(&r->n_signatures, memory_order_relaxed);
    out->refused = atomic_load_explicit(&r->n_refused, memory_order_relaxed);
}
