/*
 * ca/tsa.c - the RFC 3161 time-stamping authority.
 *
 * The request is parsed with OpenSSL's TS_REQ decoder and must re-encode
 * to the same bytes (strict DER). Every check a refusal may come from is
 * ours (check_request), so rejections carry exactly the failInfo bits the
 * header promises.
 *
 * A granted response is written as DER here, not built with TS_RESP_CTX
 * or the PKCS7 signer: everything that does not change between responses
 * (algorithm identifiers, signer identifier, certificates, the
 * contentType and signingCertificateV2 attributes, OIDs) is encoded once
 * in ms_tsa_new(); per response we encode the TSTInfo, hash it, encode the
 * four signed attributes, sign them (the only private-key operation) and
 * write the nested lengths, all computed before the first byte. That costs
 * a few microseconds besides the signature, where TS_RESP_CTX (not thread
 * safe either) or PKCS7_dataFinal() cost some 60 us per response on a P-256
 * key: bench/tsa_respond.c measures ours and TS_RESP_CTX against the raw
 * signature. OpenSSL's TS verifier, `openssl ts -verify` and cms/tsp.c
 * check what we write (tests/unit/test_tsa.c, tests/interop/tsa.sh).
 */
#include "ca/tsa.h"

#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ts.h>
#include <openssl/x509v3.h>

#include "util/alloc.h"
#include "util/error.h"

/* PKIFailureInfo bits (RFC 3161 2.4.2). */
#define FAIL_BAD_ALG              0
#define FAIL_BAD_REQUEST          2
#define FAIL_BAD_DATA_FORMAT      5
#define FAIL_UNACCEPTED_POLICY    15
#define FAIL_UNACCEPTED_EXTENSION 16
#define FAIL_BITS_MAX             26

#define PKI_STATUS_GRANTED   0
#define PKI_STATUS_REJECTION 2

#define ACCURACY_MS_MAX 3600000u
#define MAX_SIGNATURE   1024 /* bytes: RSA-8192 */

/* The imprint algorithms we may accept, with their digest lengths. */
static const struct {
    int nid;
    int len;
    unsigned bit;
} imprint_algs[] = {
    {NID_sha256, 32, MS_TSA_MD_SHA256},
    {NID_sha384, 48, MS_TSA_MD_SHA384},
    {NID_sha512, 64, MS_TSA_MD_SHA512},
    {NID_sha3_256, 32, MS_TSA_MD_SHA3_256},
    {NID_sha3_384, 48, MS_TSA_MD_SHA3_384},
    {NID_sha3_512, 64, MS_TSA_MD_SHA3_512},
};

/* Idle signing contexts kept (more threads simply make more). */
#define SIGN_POOL_MAX 64

struct ms_tsa {
    X509 *cert;
    EVP_PKEY *key;
    STACK_OF(X509) *chain; /* our references, NULL when not sent */
    EVP_MD *sign_md;
    ASN1_OBJECT *policy;
    unsigned digests;
    ms_clock_fn clock;
    void *clock_arg;
    time_t not_before, not_after; /* of cert */
    /* DER encoded once (make_templates); empty when left out. */
    ms_buf policy_der;   /* the policy OID */
    ms_buf accuracy_der; /* Accuracy */
    ms_buf tsa_name_der; /* [0] EXPLICIT GeneralName */
    ms_buf md_alg_der;   /* AlgorithmIdentifier of sign_md */
    ms_buf sig_alg_der;  /* signatureAlgorithm */
    ms_buf sid_der;      /* IssuerAndSerialNumber of cert */
    ms_buf certs_der;    /* [0] IMPLICIT SET OF Certificate */
    ms_buf attr_ctype;   /* Attribute contentType = id-ct-TSTInfo */
    ms_buf attr_ess;     /* Attribute signingCertificateV2 */
    ms_buf oid_sd, oid_tst, oid_time, oid_digest; /* OIDs */
    ms_store *store; /* borrowed; used under lock only */
    uint64_t block;
    pthread_mutex_t lock;
    uint64_t next, end; /* serials left: [next, end) */
    /*
     * Signing contexts initialised once (EVP_PKEY_sign_init and the digest
     * set), reused by one request at a time: OpenSSL 3.0 fetches the
     * algorithms under global locks on every EVP_DigestSignInit, which
     * costs more than the P-256 signature itself when threads contend.
     * pool_lock guards only the list, never a signature.
     */
    pthread_mutex_t pool_lock;
    EVP_PKEY_CTX *pool[SIGN_POOL_MAX];
    size_t npool;
};

/* A refusal: status text and failInfo bits. */
typedef struct refusal {
    const char *text;
    unsigned long bits; /* 1 << FAIL_* */
} refusal;

/* ---- DER helpers ------------------------------------------------------- */

/* Bytes of a tag and definite length for n content bytes. */
static size_t
der_head_len(size_t n)
{
    size_t h = 2;

    for (size_t v = n; n >= 0x80 && v > 0; v >>= 8)
        h++;
    return h;
}

/* Writes tag and length at p; returns the byte after them. */
static unsigned char *
der_put_head(unsigned char *p, unsigned char tag, size_t n)
{
    size_t octets = der_head_len(n) - 2;

    *p++ = tag;
    if (octets == 0) {
        *p++ = (unsigned char)n;
        return p;
    }
    *p++ = (unsigned char)(0x80 | octets);
    for (size_t i = octets; i > 0; i--)
        *p++ = (unsigned char)(n >> (8 * (i - 1)));
    return p;
}

/* Appends tag, length and the n bytes at v to b. */
static int
der_append_tlv(ms_buf *b, unsigned char tag, const void *v, size_t n)
{
    unsigned char head[16];
    size_t hl = der_head_len(n);
    int rc;

    (void)der_put_head(head, tag, n);
    if ((rc = ms_buf_reserve(b, hl + n)) != 0)
        return rc;
    if ((rc = ms_buf_append(b, head, hl)) != 0)
        return rc;
    return ms_buf_append(b, v, n);
}

/* A DER INTEGER's content for v (minimal, positive): 1..9 bytes. */
static size_t
der_uint(unsigned char out[9], uint64_t v)
{
    unsigned char be[9] = {0};
    size_t i = 1;

    for (int k = 0; k < 8; k++)
        be[1 + k] = (unsigned char)(v >> (56 - 8 * k));
    while (i < 8 && be[i] == 0) /* keep at least one octet */
        i++;
    if (be[i] & 0x80)
        i--; /* a leading zero keeps it positive */
    memcpy(out, be + i, 9 - i);
    return 9 - i;
}

/* "YYYYMMDDHHMMSSZ" (GeneralizedTime) or, for UTCTime, "YYMMDDHHMMSSZ". */
static int
der_time(char out[16], time_t when, bool utc_time, unsigned char *tag)
{
    struct tm tm;
    int n;

    if (gmtime_r(&when, &tm) == NULL || tm.tm_year + 1900 > 9999 ||
        tm.tm_year + 1900 < 1950)
        return MS_ERR;
    utc_time = utc_time && tm.tm_year + 1900 < 2050; /* RFC 5652 11.3 */
    *tag = utc_time ? 0x17 : 0x18;
    n = snprintf(out, 16, "%04d%02d%02d%02d%02d%02dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (n != 15)
        return MS_ERR;
    if (utc_time)
        memmove(out, out + 2, 14); /* drop the century, keep the NUL */
    return 0;
}

/* A writer into an ms_buf that remembers its first failure. */
typedef struct der_w {
    ms_buf *b;
    int rc;
} der_w;

static void
w_bytes(der_w *w, const void *p, size_t n)
{
    if (w->rc == 0 && n > 0)
        w->rc = ms_buf_append(w->b, p, n);
}

static void
w_head(der_w *w, unsigned char tag, size_t n)
{
    unsigned char head[16];

    w_bytes(w, head, (size_t)(der_put_head(head, tag, n) - head));
}

static void
w_tlv(der_w *w, unsigned char tag, const void *p, size_t n)
{
    w_head(w, tag, n);
    w_bytes(w, p, n);
}

static void
w_buf(der_w *w, const ms_buf *b)
{
    w_bytes(w, b->data, b->len);
}

static size_t
tlv_len(size_t n)
{
    return der_head_len(n) + n;
}

/* A piece of DER for sorting a SET OF (X.690 11.6). */
typedef struct der_piece {
    const unsigned char *p;
    size_t n;
} der_piece;

static int
der_piece_cmp(const void *a, const void *b)
{
    const der_piece *x = a, *y = b;
    int c = memcmp(x->p, y->p, x->n < y->n ? x->n : y->n);

    if (c != 0)
        return c;
    return (x->n > y->n) - (x->n < y->n);
}

/* ---- setup ------------------------------------------------------------- */

/* Appends the DER of OID nid. */
static int
put_oid(ms_buf *b, int nid)
{
    unsigned char *der = NULL;
    int n = i2d_ASN1_OBJECT(OBJ_nid2obj(nid), &der), rc;

    rc = n > 0 ? ms_buf_append(b, der, (size_t)n) : MS_ENOMEM;
    OPENSSL_free(der);
    return rc;
}

/* Appends the DER an OpenSSL i2d_ function makes of obj to b; sets rc. */
#define PUT_I2D(rc, b, i2d, obj)                                               \
    do {                                                                       \
        unsigned char *der_ = NULL;                                            \
        int n_ = i2d((obj), &der_);                                            \
                                                                               \
        (rc) = n_ > 0 ? ms_buf_append((b), der_, (size_t)n_) : MS_ENOMEM;      \
        OPENSSL_free(der_);                                                    \
    } while (0)

/* b = tag, length, b's old contents. */
static int
wrap(ms_buf *b, unsigned char tag)
{
    ms_buf tmp;
    int rc;

    ms_buf_init(&tmp, 0);
    if ((rc = der_append_tlv(&tmp, tag, b->data, b->len)) == 0)
        ms_buf_move(b, &tmp);
    ms_buf_cleanup(&tmp);
    return rc;
}

/* out = SEQUENCE { OID nid, SET { value } }: an Attribute. */
static int
make_attr(ms_buf *out, int nid, const ms_buf *value)
{
    ms_buf a;
    int rc;

    ms_buf_init(&a, 0);
    if ((rc = put_oid(&a, nid)) == 0 &&
        (rc = der_append_tlv(&a, 0x31, value->data, value->len)) == 0)
        rc = der_append_tlv(out, 0x30, a.data, a.len);
    ms_buf_cleanup(&a);
    return rc;
}

/*
 * The signingCertificateV2 attribute: SigningCertificateV2 { certs {
 * ESSCertIDv2 { certHash (SHA-256, the default hashAlgorithm, so omitted),
 * issuerSerial { GeneralNames { directoryName }, serial } } } } (RFC 5035,
 * RFC 5816).
 */
static int
make_ess_attr(ms_tsa *t)
{
    unsigned char hash[EVP_MAX_MD_SIZE];
    unsigned int hash_len = 0;
    GENERAL_NAMES *gns = NULL;
    GENERAL_NAME *gn = NULL;
    ms_buf is, v;
    int rc = MS_ENOMEM;

    ms_buf_init(&is, 0);
    ms_buf_init(&v, 0);
    if (X509_digest(t->cert, EVP_sha256(), hash, &hash_len) != 1 ||
        (gns = GENERAL_NAMES_new()) == NULL ||
        (gn = GENERAL_NAME_new()) == NULL)
        goto out;
    gn->type = GEN_DIRNAME; /* before d.dirn: GENERAL_NAME_free reads it */
    if ((gn->d.dirn = X509_NAME_dup(X509_get_issuer_name(t->cert))) == NULL ||
        sk_GENERAL_NAME_push(gns, gn) <= 0)
        goto out;
    gn = NULL; /* owned by gns */
    PUT_I2D(rc, &is, i2d_GENERAL_NAMES, gns);
    if (rc == 0)
        PUT_I2D(rc, &is, i2d_ASN1_INTEGER, X509_get0_serialNumber(t->cert));
    if (rc != 0 || (rc = der_append_tlv(&v, 0x04, hash, hash_len)) != 0 ||
        (rc = der_append_tlv(&v, 0x30, is.data, is.len)) != 0 ||
        (rc = wrap(&v, 0x30)) != 0 || /* ESSCertIDv2 */
        (rc = wrap(&v, 0x30)) != 0 || /* certs */
        (rc = wrap(&v, 0x30)) != 0)   /* SigningCertificateV2 */
        goto out;
    rc = make_attr(&t->attr_ess, NID_id_smime_aa_signingCertificateV2, &v);
out:
    GENERAL_NAME_free(gn);
    GENERAL_NAMES_free(gns);
    ms_buf_cleanup(&is);
    ms_buf_cleanup(&v);
    return rc;
}

/* [0] IMPLICIT SET OF Certificate: the TSA's, then (when sent) the chain,
 * in DER order. */
static int
make_certs(ms_tsa *t)
{
    int n = 1 + (t->chain != NULL ? sk_X509_num(t->chain) : 0);
    der_piece *pieces = ms_calloc((size_t)n, sizeof(*pieces));
    unsigned char **der = ms_calloc((size_t)n, sizeof(*der));
    size_t total = 0;
    int rc = MS_ENOMEM;

    if (pieces == NULL || der == NULL)
        goto out;
    for (int i = 0; i < n; i++) {
        X509 *x = i == 0 ? t->cert : sk_X509_value(t->chain, i - 1);
        int len = i2d_X509(x, &der[i]);

        if (len <= 0)
            goto out;
        pieces[i] = (der_piece){der[i], (size_t)len};
        total += (size_t)len;
    }
    qsort(pieces, (size_t)n, sizeof(*pieces), der_piece_cmp);
    if ((rc = ms_buf_reserve(&t->certs_der, tlv_len(total))) != 0)
        goto out;
    {
        der_w w = {&t->certs_der, 0};

        w_head(&w, 0xa0, total);
        for (int i = 0; i < n; i++)
            w_bytes(&w, pieces[i].p, pieces[i].n);
        rc = w.rc;
    }
out:
    for (int i = 0; der != NULL && i < n; i++)
        OPENSSL_free(der[i]);
    ms_free(der);
    ms_free(pieces);
    return rc;
}

/* AlgorithmIdentifiers: the digest (parameters absent, RFC 5754) and the
 * signature (rsaEncryption with NULL as in CMS, or ecdsa-with-SHAn). */
static int
make_algs(ms_tsa *t)
{
    X509_ALGOR *md = X509_ALGOR_new(), *sig = X509_ALGOR_new();
    int md_nid = EVP_MD_get_type(t->sign_md), sig_nid = NID_rsaEncryption;
    int ptype = V_ASN1_NULL, rc = MS_ENOMEM;

    if (!EVP_PKEY_is_a(t->key, "RSA")) {
        ptype = V_ASN1_UNDEF;
        if (OBJ_find_sigid_by_algs(&sig_nid, md_nid,
                                   NID_X9_62_id_ecPublicKey) != 1)
            goto out;
    }
    if (md == NULL || sig == NULL ||
        X509_ALGOR_set0(md, OBJ_nid2obj(md_nid), V_ASN1_UNDEF, NULL) != 1 ||
        X509_ALGOR_set0(sig, OBJ_nid2obj(sig_nid), ptype, NULL) != 1)
        goto out;
    PUT_I2D(rc, &t->md_alg_der, i2d_X509_ALGOR, md);
    if (rc == 0)
        PUT_I2D(rc, &t->sig_alg_der, i2d_X509_ALGOR, sig);
out:
    X509_ALGOR_free(md);
    X509_ALGOR_free(sig);
    return rc;
}

/* Accuracy { seconds, [0] millis } and [0] EXPLICIT GeneralName. */
static int
make_tst_parts(ms_tsa *t, unsigned accuracy_ms, bool tsa_name)
{
    unsigned char v[9];
    GENERAL_NAME *gn = NULL;
    der_w w = {&t->accuracy_der, 0};
    int rc = 0;

    PUT_I2D(rc, &t->policy_der, i2d_ASN1_OBJECT, t->policy);
    if (rc == 0 && accuracy_ms >= 1000)
        w_tlv(&w, 0x02, v, der_uint(v, accuracy_ms / 1000));
    if (rc == 0 && accuracy_ms % 1000 != 0)
        w_tlv(&w, 0x80, v, der_uint(v, accuracy_ms % 1000));
    if (rc == 0 && (rc = w.rc) == 0 && accuracy_ms > 0)
        rc = wrap(&t->accuracy_der, 0x30);
    if (rc == 0 && tsa_name) {
        rc = MS_ENOMEM;
        if ((gn = GENERAL_NAME_new()) == NULL)
            goto out;
        gn->type = GEN_DIRNAME; /* before d.dirn: GENERAL_NAME_free reads it */
        if ((gn->d.dirn = X509_NAME_dup(X509_get_subject_name(t->cert))) ==
            NULL)
            goto out;
        PUT_I2D(rc, &t->tsa_name_der, i2d_GENERAL_NAME, gn);
        if (rc == 0)
            rc = wrap(&t->tsa_name_der, 0xa0);
    }
out:
    GENERAL_NAME_free(gn);
    return rc;
}

/* Everything of a response that does not change: encoded once. */
static int
make_templates(ms_tsa *t, const ms_tsa_options *o, ms_error *err)
{
    ms_buf ctype;
    int rc;

    ms_buf_init(&ctype, 0);
    if ((rc = make_tst_parts(t, o->accuracy_ms, o->include_tsa_name)) != 0 ||
        (rc = make_algs(t)) != 0 || (rc = make_certs(t)) != 0 ||
        (rc = make_ess_attr(t)) != 0 ||
        (rc = put_oid(&ctype, NID_id_smime_ct_TSTInfo)) != 0 ||
        (rc = make_attr(&t->attr_ctype, NID_pkcs9_contentType, &ctype)) != 0 ||
        (rc = put_oid(&t->oid_sd, NID_pkcs7_signed)) != 0 ||
        (rc = put_oid(&t->oid_tst, NID_id_smime_ct_TSTInfo)) != 0 ||
        (rc = put_oid(&t->oid_time, NID_pkcs9_signingTime)) != 0 ||
        (rc = put_oid(&t->oid_digest, NID_pkcs9_messageDigest)) != 0)
        goto out;
    PUT_I2D(rc, &t->sid_der, i2d_X509_NAME, X509_get_issuer_name(t->cert));
    if (rc == 0)
        PUT_I2D(rc, &t->sid_der, i2d_ASN1_INTEGER,
                X509_get0_serialNumber(t->cert));
    if (rc == 0)
        rc = wrap(&t->sid_der, 0x30); /* IssuerAndSerialNumber */
out:
    if (rc != 0)
        rc = ms_error_set_ossl(err, rc, "cannot encode the TSA's templates");
    ms_buf_cleanup(&ctype);
    return rc;
}

/* The signature digest: SHA-256, or the natural one of larger EC keys. */
static const char *
sign_md_name(EVP_PKEY *key)
{
    if (EVP_PKEY_is_a(key, "RSA"))
        return "SHA256";
    if (!EVP_PKEY_is_a(key, "EC"))
        return NULL;
    if (EVP_PKEY_get_bits(key) >= 512)
        return "SHA512";
    return EVP_PKEY_get_bits(key) >= 384 ? "SHA384" : "SHA256";
}

static int
check_signer(X509 *cert, EVP_PKEY *key, ms_error *err)
{
    if (X509_check_private_key(cert, key) != 1)
        return ms_error_set_ossl(err, MS_EINVAL,
                                 "the TSA key does not "
                                 "match the TSA certificate");
    if (X509_check_purpose(cert, X509_PURPOSE_TIMESTAMP_SIGN, 0) != 1)
        return ms_error_set_ossl(err, MS_EINVAL,
                                 "the TSA certificate needs "
                                 "a critical extendedKeyUsage of only "
                                 "timeStamping (and keyUsage, if any, "
                                 "digitalSignature)");
    if (sign_md_name(key) == NULL || EVP_PKEY_get_size(key) <= 0 ||
        EVP_PKEY_get_size(key) > MAX_SIGNATURE)
        return ms_error_set(err, MS_EINVAL,
                            "the TSA key must be RSA (up to "
                            "8192 bits) or EC");
    return 0;
}

static int
set_options(ms_tsa *t, const ms_tsa_options *o, ms_error *err)
{
    const char *oid =
        o->policy_oid != NULL ? o->policy_oid : MS_TSA_POLICY_DEFAULT;

    if (o->version != MS_TSA_OPTIONS_VERSION)
        return ms_error_set(err, MS_EINVAL,
                            "ms_tsa_options version %u, "
                            "expected %u",
                            o->version, MS_TSA_OPTIONS_VERSION);
    if (o->digests == 0 || (o->digests & ~MS_TSA_MD_ALL) != 0 ||
        o->accuracy_ms > ACCURACY_MS_MAX || o->serial_block == 0 ||
        o->serial_block > MS_STORE_RESERVE_MAX)
        return ms_error_set(err, MS_EINVAL,
                            "TSA digests, accuracy or "
                            "serial block out of range");
    if ((t->policy = OBJ_txt2obj(oid, 1)) == NULL)
        return ms_error_set_ossl(err, MS_EINVAL, "bad TSA policy OID");
    t->digests = o->digests;
    t->clock = o->clock;
    t->clock_arg = o->clock_arg;
    t->block = o->serial_block;
    return 0;
}

static int
take_refs(ms_tsa *t, X509 *cert, EVP_PKEY *key, STACK_OF(X509) *chain,
          bool with_chain, ms_error *err)
{
    if (X509_up_ref(cert) != 1)
        return ms_error_set_ossl(err, MS_ENOMEM, "out of memory");
    t->cert = cert;
    if (EVP_PKEY_up_ref(key) != 1)
        return ms_error_set_ossl(err, MS_ENOMEM, "out of memory");
    t->key = key;
    if (with_chain && chain != NULL && sk_X509_num(chain) > 0 &&
        (t->chain = X509_chain_up_ref(chain)) == NULL)
        return ms_error_set_ossl(err, MS_ENOMEM, "out of memory");
    if ((t->sign_md = EVP_MD_fetch(NULL, sign_md_name(key), NULL)) == NULL)
        return ms_error_set_ossl(err, MS_ERR, "cannot fetch %s",
                                 sign_md_name(key));
    if (!ms_asn1_time_epoch(X509_get0_notBefore(cert), &t->not_before) ||
        !ms_asn1_time_epoch(X509_get0_notAfter(cert), &t->not_after))
        return ms_error_set(err, MS_EINVAL,
                            "unreadable TSA certificate "
                            "validity");
    return 0;
}

#define TEMPLATE_BUFS 13

/* The template buffers of t, for ms_buf_init() and ms_buf_cleanup(). */
static void
template_bufs(ms_tsa *t, ms_buf *out[TEMPLATE_BUFS])
{
    ms_buf *all[TEMPLATE_BUFS] = {
        &t->policy_der,  &t->accuracy_der, &t->tsa_name_der, &t->md_alg_der,
        &t->sig_alg_der, &t->sid_der,      &t->certs_der,    &t->attr_ctype,
        &t->attr_ess,    &t->oid_sd,       &t->oid_tst,      &t->oid_time,
        &t->oid_digest};

    memcpy(out, all, sizeof(all));
}

int
ms_tsa_new(ms_tsa **out, const ms_tsa_options *opt, X509 *cert, EVP_PKEY *key,
           STACK_OF(X509) *chain, ms_store *store, ms_error *err)
{
    static const ms_tsa_options defaults = MS_TSA_OPTIONS_INIT;
    ms_buf *bufs[TEMPLATE_BUFS];
    ms_tsa *t = NULL;
    int rc;

    MS_ASSERT(out != NULL && cert != NULL && key != NULL && store != NULL);
    *out = NULL;
    if (opt == NULL)
        opt = &defaults;
    if ((rc = check_signer(cert, key, err)) != 0)
        goto out;
    if ((t = ms_calloc(1, sizeof(*t))) == NULL) {
        rc = ms_error_set(err, MS_ENOMEM, "out of memory");
        goto out;
    }
    if (pthread_mutex_init(&t->lock, NULL) != 0) {
        ms_free(t);
        t = NULL;
        rc = ms_error_set(err, MS_ENOMEM, "cannot create the TSA lock");
        goto out;
    }
    if (pthread_mutex_init(&t->pool_lock, NULL) != 0) {
        (void)pthread_mutex_destroy(&t->lock);
        ms_free(t);
        t = NULL;
        rc = ms_error_set(err, MS_ENOMEM, "cannot create the TSA lock");
        goto out;
    }
    template_bufs(t, bufs);
    for (size_t i = 0; i < TEMPLATE_BUFS; i++)
        ms_buf_init(bufs[i], 0);
    t->store = store;
    if ((rc = take_refs(t, cert, key, chain, opt->include_chain, err)) != 0 ||
        (rc = set_options(t, opt, err)) != 0 ||
        (rc = make_templates(t, opt, err)) != 0)
        goto out;
    *out = t;
    t = NULL; /* the caller owns it now */
out:
    ms_tsa_free(t);
    return rc;
}

void
ms_tsa_free(ms_tsa *t)
{
    ms_buf *bufs[TEMPLATE_BUFS];

    if (t == NULL)
        return;
    X509_free(t->cert);
    EVP_PKEY_free(t->key);
    sk_X509_pop_free(t->chain, X509_free);
    EVP_MD_free(t->sign_md);
    ASN1_OBJECT_free(t->policy);
    template_bufs(t, bufs);
    for (size_t i = 0; i < TEMPLATE_BUFS; i++)
        ms_buf_cleanup(bufs[i]);
    for (size_t i = 0; i < t->npool; i++)
        EVP_PKEY_CTX_free(t->pool[i]);
    (void)pthread_mutex_destroy(&t->pool_lock);
    (void)pthread_mutex_destroy(&t->lock); /* unlocked: nobody else uses t */
    ms_free(t);
}

/* ---- serial numbers ---------------------------------------------------- */

/* Reserves and audits a new block; called with t->lock held. */
static int
reserve_block(ms_tsa *t, ms_error *err)
{
    char detail[96];
    uint64_t first = 0;
    int n, rc;

    if ((rc = ms_store_reserve_serials(t->store, MS_TSA_SEQUENCE, t->block,
                                       &first, err)) != 0)
        return rc;
    if (first > UINT64_MAX - t->block)
        return ms_error_set(err, MS_ETOOBIG, "TSA serial numbers exhausted");
    n = snprintf(detail, sizeof(detail), "first=%" PRIu64 " count=%" PRIu64,
                 first, t->block);
    MS_ASSERT(n > 0 && (size_t)n < sizeof(detail)); /* two 20-digit numbers */
    if ((rc = ms_store_audit_append(t->store, "tsa.serials", detail, err)) != 0)
        return rc; /* the block stays unused, as after a crash */
    t->next = first;
    t->end = first + t->block;
    return 0;
}

static int
next_serial(ms_tsa *t, uint64_t *out, ms_error *err)
{
    int rc = 0;

    MS_ASSERT(pthread_mutex_lock(&t->lock) == 0);
    if (t->next == t->end)
        rc = reserve_block(t, err);
    if (rc == 0)
        *out = t->next++;
    MS_ASSERT(pthread_mutex_unlock(&t->lock) == 0);
    return rc;
}

/* ---- the request ------------------------------------------------------- */

/* Decodes req as a DER TimeStampReq and nothing else. */
static int
parse_request(TS_REQ **out, const uint8_t *req, size_t len, ms_error *err)
{
    const unsigned char *p = req;
    unsigned char *der = NULL;
    TS_REQ *r = NULL;
    int n, rc = MS_EINVAL;

    if (len == 0 || len > MS_TSA_MAX_REQUEST)
        return ms_error_set(err, MS_EINVAL,
                            "a TimeStampReq of %zu bytes "
                            "(1..%zu accepted)",
                            len, MS_TSA_MAX_REQUEST);
    if ((r = d2i_TS_REQ(NULL, &p, (long)len)) == NULL) {
        rc = ms_error_set_ossl(err, MS_EINVAL, "not a TimeStampReq");
        goto out;
    }
    if (p != req + len) {
        rc = ms_error_set(err, MS_EINVAL,
                          "%zu bytes after the "
                          "TimeStampReq",
                          (size_t)(req + len - p));
        goto out;
    }
    if ((n = i2d_TS_REQ(r, &der)) <= 0) {
        rc = ms_error_set_ossl(err, MS_ENOMEM,
                               "cannot re-encode the "
                               "TimeStampReq");
        goto out;
    }
    if ((size_t)n != len || memcmp(der, req, len) != 0) {
        rc = ms_error_set(err, MS_EINVAL, "the TimeStampReq is not DER");
        goto out;
    }
    *out = r;
    r = NULL; /* the caller owns it now */
    rc = 0;
out:
    OPENSSL_free(der);
    TS_REQ_free(r);
    return rc;
}

/* Fills *why and returns true when the request is to be refused. */
static bool
check_request(const ms_tsa *t, TS_REQ *r, refusal *why)
{
    TS_MSG_IMPRINT *mi = TS_REQ_get_msg_imprint(r);
    const ASN1_OBJECT *obj = NULL, *pol = TS_REQ_get_policy_id(r);
    const void *pval = NULL;
    int ptype = V_ASN1_UNDEF, nid, want = -1;

    if (TS_REQ_get_version(r) != 1) {
        *why =
            (refusal){"unsupported request version", 1ul << FAIL_BAD_REQUEST};
        return true;
    }
    X509_ALGOR_get0(&obj, &ptype, &pval, TS_MSG_IMPRINT_get_algo(mi));
    nid = OBJ_obj2nid(obj);
    for (size_t i = 0; i < sizeof(imprint_algs) / sizeof(imprint_algs[0]); i++)
        if (imprint_algs[i].nid == nid && (imprint_algs[i].bit & t->digests))
            want = imprint_algs[i].len;
    if (want < 0 || (ptype != V_ASN1_UNDEF && ptype != V_ASN1_NULL)) {
        *why = (refusal){"imprint hash algorithm not accepted",
                         1ul << FAIL_BAD_ALG};
        return true;
    }
    if (ASN1_STRING_length(TS_MSG_IMPRINT_get_msg(mi)) != want) {
        *why = (refusal){"imprint length does not match its algorithm",
                         (1ul << FAIL_BAD_ALG) | (1ul << FAIL_BAD_DATA_FORMAT)};
        return true;
    }
    if (pol != NULL && OBJ_cmp(pol, t->policy) != 0) {
        *why = (refusal){"requested policy not supported",
                         1ul << FAIL_UNACCEPTED_POLICY};
        return true;
    }
    if (sk_X509_EXTENSION_num(TS_REQ_get_exts(r)) > 0) {
        *why = (refusal){"request extensions are not supported",
                         (1ul << FAIL_BAD_REQUEST) |
                             (1ul << FAIL_UNACCEPTED_EXTENSION)};
        return true;
    }
    return false;
}

/* ---- responses --------------------------------------------------------- */

/* TimeStampResp { PKIStatusInfo { rejection, { text }, failInfo } }. */
static int
append_refusal(ms_buf *out, const refusal *why, ms_error *err)
{
    unsigned char bits[1 + FAIL_BITS_MAX / 8 + 1] = {0}, body[256], *p;
    size_t text_len = strlen(why->text), nbits = 0, free_len, si_len;
    int rc;

    for (unsigned i = 0; i < FAIL_BITS_MAX; i++)
        if (why->bits & (1ul << i)) {
            bits[1 + i / 8] |= (unsigned char)(0x80u >> (i % 8));
            nbits = i + 1;
        }
    bits[0] = (unsigned char)((8 - nbits % 8) % 8); /* unused bits */
    free_len = der_head_len(text_len) + text_len;
    si_len = 3 + der_head_len(free_len) + free_len + 2 + 1 + (nbits + 7) / 8;
    MS_ASSERT(der_head_len(si_len) * 2 + si_len <= sizeof(body));
    p = der_put_head(body, 0x30, der_head_len(si_len) + si_len);
    p = der_put_head(p, 0x30, si_len);
    *p++ = 0x02; /* status INTEGER */
    *p++ = 0x01;
    *p++ = PKI_STATUS_REJECTION;
    p = der_put_head(p, 0x30, free_len);
    p = der_put_head(p, 0x0c, text_len); /* UTF8String */
    memcpy(p, why->text, text_len);
    p += text_len;
    p = der_put_head(p, 0x03, 1 + (nbits + 7) / 8); /* BIT STRING */
    memcpy(p, bits, 1 + (nbits + 7) / 8);
    p += 1 + (nbits + 7) / 8;
    if ((rc = ms_buf_append(out, body, (size_t)(p - body))) != 0)
        return ms_error_set(err, rc, "no room for the TimeStampResp");
    return 0;
}

/* The DER TSTInfo answering r. */
static int
build_tst_info(ms_buf *out, const ms_tsa *t, TS_REQ *r, uint64_t serial,
               time_t now)
{
    unsigned char *imprint = NULL, *nonce = NULL, sn[9], tag;
    const ASN1_INTEGER *n = TS_REQ_get_nonce(r);
    int imprint_len, nonce_len = 0;
    size_t sn_len = der_uint(sn, serial), content;
    char when[16];
    der_w w = {out, 0};

    if (der_time(when, now, false, &tag) != 0)
        return MS_ERR;
    if ((imprint_len =
             i2d_TS_MSG_IMPRINT(TS_REQ_get_msg_imprint(r), &imprint)) <= 0 ||
        (n != NULL && (nonce_len = i2d_ASN1_INTEGER(n, &nonce)) <= 0)) {
        OPENSSL_free(imprint);
        return MS_ENOMEM;
    }
    content = 3 + t->policy_der.len + (size_t)imprint_len + tlv_len(sn_len) +
              tlv_len(15) + t->accuracy_der.len + (size_t)nonce_len +
              t->tsa_name_der.len;
    w_head(&w, 0x30, content);
    w_bytes(&w, "\x02\x01\x01", 3); /* version v1 */
    w_buf(&w, &t->policy_der);
    w_bytes(&w, imprint, (size_t)imprint_len);
    w_tlv(&w, 0x02, sn, sn_len);
    w_tlv(&w, tag, when, 15);
    w_buf(&w, &t->accuracy_der);
    w_bytes(&w, nonce, (size_t)nonce_len);
    w_buf(&w, &t->tsa_name_der);
    OPENSSL_free(imprint);
    OPENSSL_free(nonce);
    return w.rc;
}

/* SET OF Attribute (tag 0x31, as signed): contentType, signingTime,
 * messageDigest, signingCertificateV2, in DER order. */
static int
build_signed_attrs(ms_buf *out, const ms_tsa *t, const unsigned char *md,
                   size_t md_len, time_t now)
{
    unsigned char time_attr[64], md_attr[96], *p, tag;
    der_piece pieces[4];
    char when[16];
    size_t when_len, total = 0;
    der_w w = {out, 0};

    if (der_time(when, now, true, &tag) != 0)
        return MS_ERR;
    when_len = strlen(when);
    p = der_put_head(time_attr, 0x30,
                     t->oid_time.len + tlv_len(tlv_len(when_len)));
    memcpy(p, t->oid_time.data, t->oid_time.len);
    p = der_put_head(p + t->oid_time.len, 0x31, tlv_len(when_len));
    p = der_put_head(p, tag, when_len);
    memcpy(p, when, when_len);
    pieces[0] = (der_piece){time_attr, (size_t)(p + when_len - time_attr)};
    p = der_put_head(md_attr, 0x30,
                     t->oid_digest.len + tlv_len(tlv_len(md_len)));
    memcpy(p, t->oid_digest.data, t->oid_digest.len);
    p = der_put_head(p + t->oid_digest.len, 0x31, tlv_len(md_len));
    p = der_put_head(p, 0x04, md_len);
    memcpy(p, md, md_len);
    pieces[1] = (der_piece){md_attr, (size_t)(p + md_len - md_attr)};
    pieces[2] = (der_piece){t->attr_ctype.data, t->attr_ctype.len};
    pieces[3] = (der_piece){t->attr_ess.data, t->attr_ess.len};
    qsort(pieces, 4, sizeof(pieces[0]), der_piece_cmp);
    for (size_t i = 0; i < 4; i++)
        total += pieces[i].n;
    w_head(&w, 0x31, total);
    for (size_t i = 0; i < 4; i++)
        w_bytes(&w, pieces[i].p, pieces[i].n);
    return w.rc;
}

/* A signing context for t->key and t->sign_md: from the pool or new. */
static EVP_PKEY_CTX *
sign_ctx_get(ms_tsa *t)
{
    EVP_PKEY_CTX *c = NULL;

    MS_ASSERT(pthread_mutex_lock(&t->pool_lock) == 0);
    if (t->npool > 0)
        c = t->pool[--t->npool];
    MS_ASSERT(pthread_mutex_unlock(&t->pool_lock) == 0);
    if (c != NULL)
        return c;
    if ((c = EVP_PKEY_CTX_new_from_pkey(NULL, t->key, NULL)) == NULL ||
        EVP_PKEY_sign_init(c) != 1 ||
        EVP_PKEY_CTX_set_signature_md(c, t->sign_md) != 1) {
        EVP_PKEY_CTX_free(c);
        return NULL;
    }
    return c;
}

/* Returns c to the pool (or frees it when the pool is full). */
static void
sign_ctx_put(ms_tsa *t, EVP_PKEY_CTX *c)
{
    MS_ASSERT(pthread_mutex_lock(&t->pool_lock) == 0);
    if (t->npool < SIGN_POOL_MAX) {
        t->pool[t->npool++] = c;
        c = NULL;
    }
    MS_ASSERT(pthread_mutex_unlock(&t->pool_lock) == 0);
    EVP_PKEY_CTX_free(c);
}

static int
sign_attrs(unsigned char *sig, size_t *sig_len, ms_tsa *t, const ms_buf *attrs,
           ms_error *err)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    EVP_PKEY_CTX *c;
    int rc = 0;

    if (EVP_Digest(attrs->data, attrs->len, md, &md_len, t->sign_md, NULL) !=
        1)
        return ms_error_set_ossl(err, MS_ERR, "cannot hash the attributes");
    if ((c = sign_ctx_get(t)) == NULL)
        return ms_error_set_ossl(err, MS_ERR, "no TSA signing context");
    if (EVP_PKEY_sign(c, sig, sig_len, md, md_len) != 1) {
        rc = ms_error_set_ossl(err, MS_ERR, "the TSA signature failed");
        /* A context that failed is not trusted again. */
        EVP_PKEY_CTX_free(c);
        return rc;
    }
    sign_ctx_put(t, c);
    return 0;
}

/* The lengths of the token's nested parts, inner first. */
typedef struct token_len {
    size_t si, sis, econt, eci, sd, ci, resp;
} token_len;

static void
token_lengths(token_len *l, const ms_tsa *t, size_t tst, size_t attrs,
              size_t sig, bool certs)
{
    l->si = 3 + t->sid_der.len + t->md_alg_der.len + attrs +
            t->sig_alg_der.len + tlv_len(sig);
    l->sis = tlv_len(tlv_len(l->si));
    l->econt = tlv_len(tlv_len(tst));
    l->eci = t->oid_tst.len + l->econt;
    l->sd = 3 + tlv_len(t->md_alg_der.len) + tlv_len(l->eci) +
            (certs ? t->certs_der.len : 0) + l->sis;
    l->ci = t->oid_sd.len + tlv_len(tlv_len(l->sd));
    l->resp = 5 + tlv_len(l->ci);
}

/*
 * TimeStampResp { PKIStatusInfo { granted }, ContentInfo { signedData,
 * SignedData { 3, { digestAlg }, { id-ct-TSTInfo, tst }, [0] certs,
 * { SignerInfo { 1, sid, digestAlg, [0] attrs, sigAlg, sig } } } } }.
 */
static int
append_granted(ms_buf *out, const ms_tsa *t, bool certs, const ms_buf *tst,
               const ms_buf *attrs, const unsigned char *sig, size_t sig_len,
               ms_error *err)
{
    static const unsigned char granted[] = {0x30, 0x03, 0x02, 0x01,
                                            PKI_STATUS_GRANTED};
    der_w w = {out, 0};
    token_len l;
    int rc;

    token_lengths(&l, t, tst->len, attrs->len, sig_len, certs);
    if ((rc = ms_buf_reserve(out, tlv_len(l.resp))) != 0)
        return ms_error_set(err, rc, "no room for the TimeStampResp");
    w_head(&w, 0x30, l.resp);
    w_bytes(&w, granted, sizeof(granted));
    w_head(&w, 0x30, l.ci);
    w_buf(&w, &t->oid_sd);
    w_head(&w, 0xa0, tlv_len(l.sd));
    w_head(&w, 0x30, l.sd);
    w_bytes(&w, "\x02\x01\x03", 3); /* version 3: eContent not id-data */
    w_tlv(&w, 0x31, t->md_alg_der.data, t->md_alg_der.len);
    w_head(&w, 0x30, l.eci);
    w_buf(&w, &t->oid_tst);
    w_head(&w, 0xa0, tlv_len(tst->len));
    w_tlv(&w, 0x04, tst->data, tst->len);
    if (certs)
        w_buf(&w, &t->certs_der);
    w_head(&w, 0x31, tlv_len(l.si));
    w_head(&w, 0x30, l.si);
    w_bytes(&w, "\x02\x01\x01", 3); /* version 1: issuerAndSerialNumber */
    w_buf(&w, &t->sid_der);
    w_buf(&w, &t->md_alg_der);
    w_bytes(&w, "\xa0", 1); /* the signed SET OF, as [0] IMPLICIT */
    w_bytes(&w, attrs->data + 1, attrs->len - 1);
    w_buf(&w, &t->sig_alg_der);
    w_tlv(&w, 0x04, sig, sig_len);
    if (w.rc != 0)
        return ms_error_set(err, w.rc, "no room for the TimeStampResp");
    return 0;
}

static int
grant(ms_tsa *t, TS_REQ *r, uint64_t serial, time_t now, ms_buf *out,
      ms_error *err)
{
    unsigned char md[EVP_MAX_MD_SIZE], sig[MAX_SIGNATURE];
    unsigned int md_len = 0;
    size_t sig_len = sizeof(sig);
    ms_buf tst, attrs;
    int rc;

    ms_buf_init(&tst, MS_TSA_MAX_REQUEST * 2);
    ms_buf_init(&attrs, 0);
    if ((rc = build_tst_info(&tst, t, r, serial, now)) != 0) {
        rc = ms_error_set_ossl(err, rc, "cannot encode the TSTInfo");
        goto out;
    }
    if (EVP_Digest(tst.data, tst.len, md, &md_len, t->sign_md, NULL) != 1) {
        rc = ms_error_set_ossl(err, MS_ERR, "cannot hash the TSTInfo");
        goto out;
    }
    if ((rc = build_signed_attrs(&attrs, t, md, md_len, now)) != 0) {
        rc = ms_error_set(err, rc, "cannot encode the signed attributes");
        goto out;
    }
    if ((rc = sign_attrs(sig, &sig_len, t, &attrs, err)) != 0)
        goto out;
    rc = append_granted(out, t, TS_REQ_get_cert_req(r) != 0, &tst, &attrs, sig,
                        sig_len, err);
out:
    ms_buf_cleanup(&tst);
    ms_buf_cleanup(&attrs);
    return rc;
}

int
ms_tsa_respond(ms_tsa *t, const uint8_t *req, size_t req_len, ms_buf *resp_der,
               ms_error *err)
{
    TS_REQ *r = NULL;
    refusal why;
    uint64_t serial = 0;
    time_t now;
    int rc;

    MS_ASSERT(t != NULL && resp_der != NULL && (req != NULL || req_len == 0));
    if ((rc = parse_request(&r, req, req_len, err)) != 0)
        goto out;
    if (check_request(t, r, &why)) {
        rc = append_refusal(resp_der, &why, err);
        goto out;
    }
    now = t->clock != NULL ? t->clock(t->clock_arg) : time(NULL);
    if (now < t->not_before || now > t->not_after) {
        rc = ms_error_set(err, MS_ERR,
                          "the TSA certificate is not valid "
                          "now: no timestamp issued");
        goto out;
    }
    if ((rc = next_serial(t, &serial, err)) != 0)
        goto out;
    rc = grant(t, r, serial, now, resp_der, err);
out:
    TS_REQ_free(r);
    return rc;
}
