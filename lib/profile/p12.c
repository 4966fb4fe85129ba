/* profile/p12.c - PKCS#12 export and import of a profile's keys. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/x509v3.h>

#include "ca/keys.h"
#include "profile/profile_int.h"
#include "util/alloc.h"
#include "util/error.h"
#include "x509/info.h"

/* PBKDF2 iterations of the default (AES) encoding, for keys and MAC. */
#define P12_ITER MS_CA_KEY_PBKDF2_ITER
/* The legacy encoding keeps the customary count older clients expect. */
#define P12_LEGACY_ITER PKCS12_DEFAULT_ITER
#define P12_MAX_KEYS    16

typedef struct p12_out {
    STACK_OF(PKCS12_SAFEBAG) * keys;
    STACK_OF(PKCS12_SAFEBAG) * certs;
    STACK_OF(X509) * added; /* references to the certificates in certs */
    const char *pass;
    int nid, iter;
} p12_out;

static int
bag_attrs(PKCS12_SAFEBAG *bag, const char *name, X509 *x, ms_error *err)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    /* localKeyID: SHA-1 of the certificate, as openssl and NSS write it. */
    if (!X509_digest(x, EVP_sha1(), md, &n) ||
        !PKCS12_add_localkeyid(bag, md, (int)n) ||
        !PKCS12_add_friendlyname_asc(bag, name, -1))
        return ms_error_set_ossl(err, MS_ENOMEM, "cannot name a PKCS#12 bag");
    return 0;
}

static int
add_cert(p12_out *o, X509 *x, const char *name, ms_error *err)
{
    PKCS12_SAFEBAG *bag;

    for (int i = 0; i < sk_X509_num(o->added); i++) {
        if (X509_cmp(sk_X509_value(o->added, i), x) == 0)
            return 0;
    }
    if ((bag = PKCS12_add_cert(&o->certs, x)) == NULL)
        return ms_error_set_ossl(err, MS_ENOMEM, "cannot add a certificate");
    if (!X509_up_ref(x))
        return ms_error_set_ossl(err, MS_ENOMEM, "out of memory");
    if (!sk_X509_push(o->added, x)) {
        X509_free(x);
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    }
    if (name != NULL)
        return bag_attrs(bag, name, x, err);
    return 0;
}

static void
friendly_name(char *out, size_t n, const ms_profile *p, X509 *x,
              ms_profile_kind kind, size_t i)
{
    const char *addr = p->conf.address;
    char *first = addr == NULL ? ms_x509_first_email(x) : NULL;
    char day[32] = "";
    time_t t;

    if (i > 0 && ms_asn1_time_epoch(X509_get0_notBefore(x), &t) &&
        ms_time_format(day, sizeof(day), t) == 0)
        day[10] = '\0'; /* YYYY-MM-DD */
    (void)snprintf(out, n, "%s %s%s%s%s",
                   addr != NULL    ? addr
                   : first != NULL ? first
                                   : "mailseal",
                   kind == MS_PROFILE_SIGN ? "signing" : "encryption",
                   day[0] != '\0' ? " (" : "", day, day[0] != '\0' ? ")" : "");
    ms_free(first);
}

/* Adds pair i of kind: its key (shrouded), certificate and chain. */
static int
add_pair(p12_out *o, ms_profile *p, ms_profile_kind kind, size_t i,
         ms_error *err)
{
    STACK_OF(X509) *chain = NULL;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    PKCS12_SAFEBAG *bag;
    char name[384];
    int rc;

    if ((rc = ms_profile_load_pair(&key, &cert, &chain, p, kind, i, err)) != 0)
        goto out;
    friendly_name(name, sizeof(name), p, cert, kind, i);
    if ((bag = PKCS12_add_key_ex(&o->keys, key, 0, o->iter, o->nid, o->pass,
                                 NULL, NULL)) == NULL) {
        rc = ms_error_set_ossl(err, MS_ERR, "cannot encrypt a key");
        goto out;
    }
    if ((rc = bag_attrs(bag, name, cert, err)) != 0 ||
        (rc = add_cert(o, cert, name, err)) != 0)
        goto out;
    for (int j = 0; rc == 0 && j < sk_X509_num(chain); j++)
        rc = add_cert(o, sk_X509_value(chain, j), NULL, err);
out:
    EVP_PKEY_free(key); /* wipes it */
    X509_free(cert);
    sk_X509_pop_free(chain, X509_free);
    return rc;
}

static int
p12_encode(ms_buf *out, p12_out *o, bool legacy, ms_error *err)
{
    STACK_OF(PKCS7) *safes = NULL;
    PKCS12 *p12 = NULL;
    unsigned char *der = NULL;
    int n, rc = 0;

    if (PKCS12_add_safe_ex(&safes, o->certs, o->nid, o->iter, o->pass, NULL,
                           NULL) != 1 ||
        PKCS12_add_safe_ex(&safes, o->keys, -1, 0, NULL, NULL, NULL) != 1 ||
        (p12 = PKCS12_add_safes_ex(safes, 0, NULL, NULL)) == NULL) {
        rc = ms_error_set_ossl(err, MS_ERR, "cannot build the PKCS#12");
        goto out;
    }
    if (PKCS12_set_mac(p12, o->pass, -1, NULL, 0, o->iter,
                       legacy ? EVP_sha1() : EVP_sha256()) != 1) {
        rc = ms_error_set_ossl(err, MS_ERR, "cannot MAC the PKCS#12");
        goto out;
    }
    if ((n = i2d_PKCS12(p12, &der)) <= 0) {
        rc = ms_error_set_ossl(err, MS_ENOMEM, "cannot encode the PKCS#12");
        goto out;
    }
    if ((rc = ms_buf_append(out, der, (size_t)n)) != 0)
        rc = ms_error_set(err, rc, "PKCS#12 too large");
out:
    OPENSSL_free(der);
    PKCS12_free(p12);
    sk_PKCS7_pop_free(safes, PKCS7_free);
    return rc;
}

int
ms_profile_export_p12(ms_buf *out, ms_profile *p, const char *password,
                      unsigned flags, ms_error *err)
{
    bool legacy = (flags & MS_PROFILE_P12_LEGACY) != 0;
    size_t nsign = (flags & MS_PROFILE_P12_NO_SIGN) ? 0 : p->npairs[0];
    size_t nenc = (flags & MS_PROFILE_P12_NO_ENC) ? 0 : p->npairs[1];
    p12_out o;
    int rc = 0;

    memset(&o, 0, sizeof(o));
    if (password == NULL || password[0] == '\0' ||
        strlen(password) > MS_PROFILE_PASS_MAX)
        return ms_error_set(err, MS_EINVAL,
                            "the PKCS#12 password is empty or too long");
    if (nsign == 0 && nenc == 0)
        return ms_error_set(err, MS_ENOTFOUND,
                            "the profile %s holds no %skey to export", p->dir,
                            (flags & MS_PROFILE_P12_NO_SIGN)  ? "encryption "
                            : (flags & MS_PROFILE_P12_NO_ENC) ? "signing "
                                                              : "");
    o.pass = password;
    o.nid = legacy ? NID_pbe_WithSHA1And3_Key_TripleDES_CBC : NID_aes_256_cbc;
    o.iter = legacy ? P12_LEGACY_ITER : P12_ITER;
    if ((o.added = sk_X509_new_null()) == NULL) {
        rc = ms_error_set(err, MS_ENOMEM, "out of memory");
        goto out;
    }
    if (nsign > 0)
        rc = add_pair(&o, p, MS_PROFILE_SIGN, 0, err);
    for (size_t i = 0; rc == 0 && i < nenc; i++)
        rc = add_pair(&o, p, MS_PROFILE_ENC, i, err);
    if (rc == 0)
        rc = p12_encode(out, &o, legacy, err);
out:
    sk_PKCS12_SAFEBAG_pop_free(o.keys, PKCS12_SAFEBAG_free);
    sk_PKCS12_SAFEBAG_pop_free(o.certs, PKCS12_SAFEBAG_free);
    sk_X509_pop_free(o.added, X509_free);
    return rc;
}

/* ---- import ---- */

typedef struct p12_in {
    EVP_PKEY *keys[P12_MAX_KEYS];
    size_t nkeys;
    STACK_OF(X509) * certs;
    const char *pass;
} p12_in;

static int
take_key(p12_in *in, const PKCS8_PRIV_KEY_INFO *p8, ms_error *err)
{
    EVP_PKEY *k;

    if (in->nkeys >= P12_MAX_KEYS)
        return ms_error_set(err, MS_ETOOBIG, "over %d keys in the PKCS#12",
                            P12_MAX_KEYS);
    if ((k = EVP_PKCS82PKEY_ex(p8, NULL, NULL)) == NULL)
        return ms_error_set_ossl(err, MS_EMALFORMED,
                                 "a private key in the PKCS#12 cannot be "
                                 "decoded");
    in->keys[in->nkeys++] = k;
    return 0;
}

static int
read_bag(p12_in *in, const PKCS12_SAFEBAG *bag, ms_error *err)
{
    PKCS8_PRIV_KEY_INFO *p8;
    X509 *x;
    int rc;

    switch (PKCS12_SAFEBAG_get_nid(bag)) {
    case NID_keyBag:
        return take_key(in, PKCS12_SAFEBAG_get0_p8inf(bag), err);
    case NID_pkcs8ShroudedKeyBag:
        if ((p8 = PKCS12_decrypt_skey_ex(bag, in->pass, -1, NULL, NULL)) ==
            NULL)
            return ms_error_set_ossl(err, MS_EBADSIG,
                                     "wrong password: a private key of the "
                                     "PKCS#12 does not decrypt");
        rc = take_key(in, p8, err);
        PKCS8_PRIV_KEY_INFO_free(p8); /* wipes it */
        return rc;
    case NID_certBag:
        if (PKCS12_SAFEBAG_get_bag_nid(bag) != NID_x509Certificate)
            return 0;
        if ((x = PKCS12_SAFEBAG_get1_cert(bag)) == NULL)
            return ms_error_set_ossl(err, MS_EMALFORMED,
                                     "a certificate in the PKCS#12 cannot "
                                     "be decoded");
        if (!sk_X509_push(in->certs, x)) {
            X509_free(x);
            return ms_error_set(err, MS_ENOMEM, "out of memory");
        }
        return 0;
    default:
        return 0; /* CRL and secret bags: nothing for a profile */
    }
}

static int
read_safes(p12_in *in, PKCS12 *p12, ms_error *err)
{
    STACK_OF(PKCS7) *safes = NULL;
    STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
    int rc = 0;

    if ((safes = PKCS12_unpack_authsafes(p12)) == NULL)
        return ms_error_set_ossl(err, MS_EMALFORMED,
                                 "the PKCS#12 contents cannot be decoded");
    for (int i = 0; rc == 0 && i < sk_PKCS7_num(safes); i++) {
        PKCS7 *p7 = sk_PKCS7_value(safes, i);
        int nid = OBJ_obj2nid(p7->type);

        if (nid == NID_pkcs7_data)
            bags = PKCS12_unpack_p7data(p7);
        else if (nid == NID_pkcs7_encrypted)
            bags = PKCS12_unpack_p7encdata(p7, in->pass, -1);
        else
            continue;
        if (bags == NULL) {
            rc = ms_error_set_ossl(
                err, nid == NID_pkcs7_data ? MS_EMALFORMED : MS_EBADSIG,
                nid == NID_pkcs7_data ? "the PKCS#12 cannot be decoded"
                                      : "wrong password: the PKCS#12 "
                                        "certificates do not decrypt");
            break;
        }
        for (int j = 0; rc == 0 && j < sk_PKCS12_SAFEBAG_num(bags); j++)
            rc = read_bag(in, sk_PKCS12_SAFEBAG_value(bags, j), err);
        sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
        bags = NULL;
    }
    sk_PKCS7_pop_free(safes, PKCS7_free);
    return rc;
}

static int
p12_decode(p12_in *in, const void *der, size_t len, ms_error *err)
{
    const unsigned char *d = der;
    PKCS12 *p12 = NULL;
    int rc;

    if (len > MS_PROFILE_FILE_MAX)
        return ms_error_set(err, MS_ETOOBIG, "the PKCS#12 is over %u bytes",
                            MS_PROFILE_FILE_MAX);
    if ((p12 = d2i_PKCS12(NULL, &d, (long)len)) == NULL ||
        d != (const unsigned char *)der + len) {
        rc = ms_error_set_ossl(err, MS_EMALFORMED, "not a PKCS#12 file");
        goto out;
    }
    if (PKCS12_mac_present(p12) && PKCS12_verify_mac(p12, in->pass, -1) != 1) {
        rc = ms_error_set_ossl(err, MS_EBADSIG,
                               "wrong password (the PKCS#12 integrity "
                               "check fails)");
        goto out;
    }
    rc = read_safes(in, p12, err);
out:
    PKCS12_free(p12);
    return rc;
}

/* Which slots a certificate fits: bit 1 signing, bit 2 encryption. */
static unsigned
usage_slots(X509 *x)
{
    uint32_t ku = X509_get_key_usage(x); /* UINT32_MAX: no extension */
    unsigned s = 0;

    if (ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION))
        s |= 1u;
    if (ku & (KU_KEY_ENCIPHERMENT | KU_KEY_AGREEMENT))
        s |= 2u;
    return s;
}

/* The certificate of key k among in->certs (borrowed), or NULL. */
static X509 *
cert_of(const p12_in *in, EVP_PKEY *k)
{
    for (int i = 0; i < sk_X509_num(in->certs); i++) {
        X509 *x = sk_X509_value(in->certs, i);

        if (X509_check_ca(x) == 0 && X509_check_private_key(x, k) == 1)
            return x;
    }
    ERR_clear_error(); /* the failed matches queue errors */
    return NULL;
}

/* Checks every key has a usable certificate for the profile's address. */
static int
check_pairs(const p12_in *in, const ms_profile *p, ms_error *err)
{
    const char *addr = p->conf.address;

    if (in->nkeys == 0)
        return ms_error_set(err, MS_ENOTFOUND,
                            "the PKCS#12 holds no private key");
    for (size_t i = 0; i < in->nkeys; i++) {
        X509 *x = cert_of(in, in->keys[i]);

        if (x == NULL)
            return ms_error_set(err, MS_EINVAL,
                                "private key %zu of the PKCS#12 has no "
                                "matching certificate",
                                i + 1);
        if (usage_slots(x) == 0)
            return ms_error_set(err, MS_EPOLICY,
                                "certificate %zu allows neither signing "
                                "nor encryption",
                                i + 1);
        if (!ms_x509_has_any_email(x))
            return ms_error_set(err, MS_EPOLICY,
                                "certificate %zu names no mail address", i + 1);
        if (addr != NULL && !ms_x509_has_email(x, addr))
            return ms_error_set(err, MS_EPOLICY,
                                "certificate %zu is not for %s, the address "
                                "of this profile (use another --profile)",
                                i + 1, addr);
    }
    return 0;
}

static int
store_pairs(const p12_in *in, ms_profile *p, size_t *nsign, size_t *nenc,
            ms_error *err)
{
    STACK_OF(X509) *chain = sk_X509_new_null();
    int rc = 0;

    if (chain == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    for (int i = 0; i < sk_X509_num(in->certs); i++) {
        if (X509_check_ca(sk_X509_value(in->certs, i)) != 0 &&
            !sk_X509_push(chain, sk_X509_value(in->certs, i)))
            rc = ms_error_set(err, MS_ENOMEM, "out of memory");
    }
    for (size_t i = 0; rc == 0 && i < in->nkeys; i++) {
        X509 *x = cert_of(in, in->keys[i]);
        unsigned s = usage_slots(x);
        char *email = NULL;

        if (p->conf.address == NULL &&
            ((email = ms_x509_first_email(x)) == NULL ||
             (rc = ms_profile_set(p, "address", email, err)) != 0)) {
            if (email == NULL)
                rc = ms_error_set(err, MS_ENOMEM, "out of memory");
        }
        ms_free(email);
        if (rc == 0 && (s & 1u) &&
            (rc = ms_profile_add_pair(p, MS_PROFILE_SIGN, in->keys[i], x, chain,
                                      err)) == 0)
            (*nsign)++;
        if (rc == 0 && (s & 2u) &&
            (rc = ms_profile_add_pair(p, MS_PROFILE_ENC, in->keys[i], x, chain,
                                      err)) == 0)
            (*nenc)++;
    }
    sk_X509_free(chain); /* borrowed certificates */
    return rc;
}

int
ms_profile_import_p12(ms_profile *p, const void *der, size_t len,
                      const char *password, size_t *nsign, size_t *nenc,
                      ms_error *err)
{
    size_t ns = 0, ne = 0;
    p12_in in;
    int rc;

    memset(&in, 0, sizeof(in));
    in.pass = password;
    if ((in.certs = sk_X509_new_null()) == NULL) {
        rc = ms_error_set(err, MS_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = p12_decode(&in, der, len, err)) != 0 ||
        (rc = check_pairs(&in, p, err)) != 0)
        goto out;
    rc = store_pairs(&in, p, &ns, &ne, err);
out:
    if (nsign != NULL)
        *nsign = ns;
    if (nenc != NULL)
        *nenc = ne;
    for (size_t i = 0; i < in.nkeys; i++)
        EVP_PKEY_free(in.keys[i]); /* wipes them */
    sk_X509_pop_free(in.certs, X509_free);
    return rc;
}
