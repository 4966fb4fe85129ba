/*
 * profile/seen.c - correspondents: the certificate cache (certs/<addr>.pem)
 * and the continuity records (seen/<addr>).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/pem.h>

#include "config/config.h"
#include "mime/addr.h"
#include "profile/profile_int.h"
#include "util/alloc.h"
#include "util/error.h"
#include "x509/load.h"

#define CERTS_DIR "certs"
#define SEEN_DIR  "seen"

/* *out = "<dir>/<normalised addr><ext>" (ms_free). */
static int
addr_name(char **out, const char *dir, const char *addr, const char *ext,
          ms_error *err)
{
    char norm[MS_ADDR_NORM_MAX + 1];
    size_t n;
    int rc;

    /* The normal form holds no '/' and starts with no '.': a file name. */
    if ((rc = ms_addr_normalise(norm, sizeof(norm), addr, err)) != 0)
        return rc;
    n = strlen(dir) + strlen(norm) + strlen(ext) + 2; /* bounded: < 300 */
    if ((*out = ms_malloc(n)) == NULL)
        rc = ms_error_set(err, MS_ENOMEM, "out of memory");
    else
        (void)snprintf(*out, n, "%s/%s%s", dir, norm, ext); /* sized above */
    return rc;
}

int
ms_profile_cache_put(ms_profile *p, const char *addr, STACK_OF(X509) * certs,
                     ms_error *err)
{
    BIO *bio = NULL;
    char *name = NULL, *pem;
    long n;
    int rc;

    if (sk_X509_num(certs) <= 0)
        return ms_error_set(err, MS_EINVAL, "no certificate to cache");
    if ((rc = addr_name(&name, CERTS_DIR, addr, ".pem", err)) != 0 ||
        (rc = ms_profile_subdir(p, CERTS_DIR, true, err)) != 0)
        goto out;
    if ((bio = BIO_new(BIO_s_mem())) == NULL) {
        rc = ms_error_set_ossl(err, MS_ENOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; rc == 0 && i < sk_X509_num(certs); i++) {
        if (!PEM_write_bio_X509(bio, sk_X509_value(certs, i)))
            rc = ms_error_set_ossl(err, MS_ENOMEM, "cannot encode");
    }
    if (rc == 0 && (n = BIO_get_mem_data(bio, &pem)) > 0)
        rc = ms_profile_file_write(p, name, pem, (size_t)n, err);
out:
    BIO_free(bio);
    ms_free(name);
    return rc;
}

int
ms_profile_cache_get(STACK_OF(X509) * sk, ms_profile *p, const char *addr,
                     ms_error *err)
{
    ms_buf text;
    char *name = NULL;
    int rc;

    ms_buf_init(&text, MS_PROFILE_FILE_MAX);
    if ((rc = addr_name(&name, CERTS_DIR, addr, ".pem", err)) == 0 &&
        (rc = ms_profile_file_read(&text, p, name, err)) == 0)
        rc = ms_x509_parse_certs(sk, text.data, text.len, err);
    ms_buf_cleanup(&text);
    ms_free(name);
    return rc;
}

/* The text form of a record, parsed by lib/config. */
typedef struct seen_text {
    char *fingerprint, *issuer, *first_seen, *last_seen;
    long long level;
} seen_text;

#define SOFF(f) offsetof(seen_text, f)

static int
check_fp(const char *v, ms_error *err)
{
    if (strlen(v) != 64 || strspn(v, "0123456789abcdef") != 64)
        return ms_error_set(err, MS_EINVAL, "fingerprint: 64 hex digits");
    return 0;
}

static int
check_time(const char *v, ms_error *err)
{
    time_t t;

    return ms_time_parse(&t, v, err);
}

static const ms_config_key seen_keys[] = {
    {"fingerprint", MS_CONFIG_STRING, "", 0, 0, NULL, SOFF(fingerprint), 0,
     "SHA-256 of the signing certificate", check_fp},
    {"issuer", MS_CONFIG_STRING, "", 0, 0, NULL, SOFF(issuer), 0,
     "the issuing CA", NULL},
    {"level", MS_CONFIG_INT, "0", 0, 4, NULL, SOFF(level), 0,
     "identity level 0..4", NULL},
    {"first_seen", MS_CONFIG_STRING, "", 0, 0, NULL, SOFF(first_seen), 0,
     "first message with this certificate", check_time},
    {"last_seen", MS_CONFIG_STRING, "", 0, 0, NULL, SOFF(last_seen), 0,
     "last message with this certificate", check_time},
};
#define NSEEN (sizeof(seen_keys) / sizeof(seen_keys[0]))

static int
seen_from_text(ms_profile_seen *out, const seen_text *t, const char *name,
               ms_error *err)
{
    if (t->fingerprint == NULL || t->issuer == NULL || t->first_seen == NULL ||
        t->last_seen == NULL)
        return ms_error_set(err, MS_EINVAL, "%s: incomplete record", name);
    memset(out, 0, sizeof(*out));
    memcpy(out->fingerprint, t->fingerprint, 65);
    (void)snprintf(out->issuer, sizeof(out->issuer), "%s", t->issuer);
    out->level = (int)t->level;
    if (ms_time_parse(&out->first_seen, t->first_seen, err) != 0 ||
        ms_time_parse(&out->last_seen, t->last_seen, err) != 0)
        return MS_EINVAL;
    return 0;
}

int
ms_profile_seen_get(ms_profile_seen *out, ms_profile *p, const char *addr,
                    ms_error *err)
{
    seen_text t;
    ms_buf text;
    char *name = NULL;
    int rc;

    memset(&t, 0, sizeof(t));
    ms_buf_init(&text, MS_CONFIG_MAX_FILE);
    if ((rc = addr_name(&name, SEEN_DIR, addr, "", err)) != 0 ||
        (rc = ms_profile_file_read(&text, p, name, err)) != 0 ||
        (rc = ms_config_defaults(&t, seen_keys, NSEEN, err)) != 0 ||
        (rc = ms_config_parse(&t, seen_keys, NSEEN, (const char *)text.data,
                              text.len, name, err)) != 0)
        goto out;
    rc = seen_from_text(out, &t, name, err);
out:
    ms_config_release(&t, seen_keys, NSEEN);
    ms_buf_cleanup(&text);
    ms_free(name);
    return rc;
}

int
ms_profile_seen_put(ms_profile *p, const char *addr, const ms_profile_seen *s,
                    ms_error *err)
{
    char first[32], last[32];
    ms_buf text;
    char *name = NULL;
    int rc;

    ms_buf_init(&text, MS_CONFIG_MAX_FILE);
    if (check_fp(s->fingerprint, err) != 0 || s->level < 0 || s->level > 4 ||
        strpbrk(s->issuer, "\r\n") != NULL ||
        ms_time_format(first, sizeof(first), s->first_seen) != 0 ||
        ms_time_format(last, sizeof(last), s->last_seen) != 0) {
        rc = ms_error_set(err, MS_EINVAL, "bad continuity record");
        goto out;
    }
    if ((rc = addr_name(&name, SEEN_DIR, addr, "", err)) != 0 ||
        (rc = ms_profile_subdir(p, SEEN_DIR, true, err)) != 0)
        goto out;
    if ((rc = ms_buf_printf(&text,
                            "fingerprint = %s\nissuer = %s\nlevel = %d\n"
                            "first_seen = %s\nlast_seen = %s\n",
                            s->fingerprint, s->issuer, s->level, first,
                            last)) != 0) {
        rc = ms_error_set(err, rc, "cannot format the record");
        goto out;
    }
    rc = ms_profile_file_write(p, name, text.data, text.len, err);
out:
    ms_buf_cleanup(&text);
    ms_free(name);
    return rc;
}
