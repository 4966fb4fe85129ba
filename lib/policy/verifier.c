/* policy/verifier.c - the trust configuration. */
#include <stdlib.h>

#include <openssl/err.h>

#include "ctx.h"
#include "policy/result.h"
#include "util/alloc.h"
#include "util/error.h"
#include "x509/load.h"

int
ms_verifier_new(ms_verifier **out, ms_ctx *ctx, ms_error *err)
{
    ms_verifier *v;
    int rc;

    if ((v = ms_calloc(1, sizeof(*v))) == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    v->ctx = ctx;
    if ((v->store = X509_STORE_new()) == NULL ||
        (v->anchors = sk_X509_new_null()) == NULL ||
        (v->untrusted = sk_X509_new_null()) == NULL ||
        (v->crls = sk_X509_CRL_new_null()) == NULL ||
        (v->tsa_anchors = sk_X509_new_null()) == NULL) {
        ms_verifier_free(v);
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    }
    if ((rc = ms_verifier_set_system_trust(v, true, err)) != 0) {
        ms_verifier_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

void
ms_verifier_free(ms_verifier *v)
{
    if (v == NULL)
        return;
    X509_STORE_free(v->store);
    sk_X509_pop_free(v->anchors, X509_free);
    sk_X509_pop_free(v->untrusted, X509_free);
    sk_X509_CRL_pop_free(v->crls, X509_CRL_free);
    sk_X509_pop_free(v->tsa_anchors, X509_free);
    ms_free(v);
}

int
ms_verifier_add_trust_file(ms_verifier *v, const char *path, ms_error *err)
{
    int first = sk_X509_num(v->anchors), rc;

    if ((rc = ms_x509_load_certs(v->anchors, path, err)) != 0)
        return rc;
    for (int i = first; i < sk_X509_num(v->anchors); i++) {
        if (X509_STORE_add_cert(v->store, sk_X509_value(v->anchors, i)) != 1)
            return ms_error_set_ossl(err, MS_ERR, "%s: cannot add an anchor",
                                     path);
    }
    return 0;
}

int
ms_verifier_add_untrusted_file(ms_verifier *v, const char *path,
                               ms_error *err)
{
    return ms_x509_load_certs(v->untrusted, path, err);
}

int
ms_verifier_add_crl_file(ms_verifier *v, const char *path, ms_error *err)
{
    return ms_x509_load_crls(v->crls, path, err);
}

int
ms_verifier_add_tsa_trust_file(ms_verifier *v, const char *path,
                               ms_error *err)
{
    return ms_x509_load_certs(v->tsa_anchors, path, err);
}

int
ms_verifier_set_system_trust(ms_verifier *v, bool on, ms_error *err)
{
    if (on && !v->system_trust) {
        X509_LOOKUP *dir;
        const char *path = getenv(X509_get_default_cert_dir_env());

        /* The hashed directory only (SSL_CERT_DIR, as OpenSSL honours it,
         * else the default): certificates are read when a chain needs
         * them, not the whole bundle at every start. */
        if (path == NULL || path[0] == '\0')
            path = X509_get_default_cert_dir();
        if ((dir = X509_STORE_add_lookup(v->store, X509_LOOKUP_hash_dir())) ==
                NULL ||
            X509_LOOKUP_add_dir(dir, path, X509_FILETYPE_PEM) != 1)
            return ms_error_set_ossl(err, MS_ERR,
                                     "cannot use the system trust store");
    } else if (!on && v->system_trust) {
        /* Rebuild the store from the user anchors alone. */
        X509_STORE *s = X509_STORE_new();

        if (s == NULL)
            return ms_error_set(err, MS_ENOMEM, "out of memory");
        for (int i = 0; i < sk_X509_num(v->anchors); i++) {
            if (X509_STORE_add_cert(s, sk_X509_value(v->anchors, i)) != 1) {
                X509_STORE_free(s);
                return ms_error_set_ossl(err, MS_ERR, "cannot add anchor");
            }
        }
        X509_STORE_free(v->store);
        v->store = s;
    }
    v->system_trust = on;
    ERR_clear_error();
    return 0;
}

void
ms_verifier_set_offline(ms_verifier *v, bool offline)
{
    v->offline = offline;
}

void
ms_verifier_set_time(ms_verifier *v, time_t t)
{
    v->has_time = true;
    v->at = t;
}
