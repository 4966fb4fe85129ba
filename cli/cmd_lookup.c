/*
 * cmd_lookup.c - mailseal lookup, and the recipient look-up of send:
 * which recipients have a certificate to encrypt to.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <openssl/pem.h>

#include "cli.h"
#include "lookup/lookup.h"
#include "mail/outgoing.h"
#include "util/alloc.h"
#include "x509/info.h"

#define LOOKUP "lookup"

static const char lookup_usage[] =
    "usage: mailseal lookup [--pem] [--offline|--refresh] [--profile NAME]\n"
    "                       ADDRESS\n"
    "Finds the certificates of ADDRESS: in the profile's cache, else in\n"
    "the directory (<server_url>/v1/directory/ADDRESS), whose answer is\n"
    "checked (exact address, valid now, chains to the profile's anchors)\n"
    "and cached. Prints one line per certificate: use, level, validity,\n"
    "SHA-256 fingerprint and where it came from; --pem prints the\n"
    "certificates instead. --offline: the cache only; --refresh: ask the\n"
    "directory even when the cache has some. Exit 0 found, 1 none.\n";

/* The newest (latest notBefore) certificate of sk that can be encrypted
 * to, or NULL. Borrowed. */
static X509 *
newest_encryption(STACK_OF(X509) * sk)
{
    X509 *best = NULL, *x;

    for (int i = 0; i < sk_X509_num(sk); i++) {
        x = sk_X509_value(sk, i);
        if (!ms_lookup_can_encrypt(x))
            continue;
        if (best == NULL ||
            ASN1_TIME_compare(X509_get0_notBefore(x),
                              X509_get0_notBefore(best)) > 0)
            best = x;
    }
    return best;
}

static int
add_cert(ms_recipients *r, X509 *x, ms_error *err)
{
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);
    int rc;

    if (n <= 0)
        return -1;
    rc = ms_recipients_add_mem(r, der, (size_t)n, 0, err);
    OPENSSL_free(der);
    return rc;
}

/* The exit status for a look-up failure other than "none found". */
static int
lookup_exit(const ms_error *err, const char *addr)
{
    cli_error("send", "looking up %s: %s", addr, err->msg);
    switch (err->code) {
    case MS_ETEMP:
    case MS_EMALFORMED:
    case MS_ETOOBIG:
        return EX_TEMPFAIL; /* the directory misbehaves: try again */
    case MS_ENOMEM:
        return EX_OSERR;
    case MS_EIO:
        return EX_IOERR;
    default:
        return EX_CONFIG; /* no anchors, unsafe profile files */
    }
}

/* Looks each recipient up; *missing lists those without a certificate. */
static int
find_all(ms_recipients *r, ms_buf *missing, ms_ctx *ctx, ms_profile *p,
         const char *server_url, const ms_rcpt_list *l)
{
    ms_lookup_result res;
    ms_error err;
    X509 *x;
    int rc, ec = EX_OK;

    ms_lookup_result_init(&res);
    for (size_t i = 0; ec == EX_OK && i < l->n; i++) {
        rc = ms_lookup_certs(&res, ctx, p, server_url, l->addr[i],
                             MS_LOOKUP_ENCRYPT, &err);
        x = rc == 0 ? newest_encryption(res.certs) : NULL;
        if (rc != 0 && rc != MS_ENOTFOUND && rc != MS_EINVAL)
            ec = lookup_exit(&err, l->addr[i]);
        else if (x == NULL)
            rc = ms_buf_printf(missing, "%s%s", missing->len ? ", " : "",
                               l->addr[i]);
        else if ((rc = add_cert(r, x, &err)) != 0)
            ec = lookup_exit(&err, l->addr[i]);
        ms_lookup_result_cleanup(&res);
    }
    return ec;
}

int
cli_send_encrypt(ms_recipients **r, bool *encrypt, ms_ctx *ctx,
                 ms_profile *p, const char *server_url, int mode,
                 const ms_rcpt_list *l)
{
    ms_buf missing;
    ms_error err;
    bool self = ms_profile_count(p, MS_PROFILE_ENC) > 0;
    int ec;

    *encrypt = false;
    if (mode == MS_PROFILE_ENCRYPT_NEVER)
        return EX_OK;
    if (ms_recipients_new(r, &err) != 0)
        return EX_OSERR;
    ms_buf_init(&missing, 2048);
    if ((ec = find_all(*r, &missing, ctx, p, server_url, l)) != EX_OK)
        goto out;
    if (mode == MS_PROFILE_ENCRYPT_ALWAYS && missing.len > 0) {
        cli_error("send", "cannot encrypt (--encrypt always): no "
                  "certificate for %s; nothing was sent",
                  (const char *)missing.data);
        ec = EX_UNAVAILABLE;
        goto out;
    }
    if (mode == MS_PROFILE_ENCRYPT_ALWAYS && !self)
        cli_error("send", "warning: the profile has no encryption key: "
                  "the sent copy cannot be decrypted by you");
    /* auto: only when the sent copy stays readable too */
    *encrypt = missing.len == 0 && (self || mode == MS_PROFILE_ENCRYPT_ALWAYS);
out:
    ms_buf_cleanup(&missing);
    return ec;
}

/* ---- mailseal lookup ---- */

static const char *
use_of(X509 *x)
{
    const char *why = NULL;
    bool enc = ms_lookup_can_encrypt(x);
    bool sign = ms_x509_can_sign_mail(x, &why);

    return enc && sign ? "signing+encryption"
           : enc       ? "encryption"
           : sign      ? "signing"
                       : "other";
}

static void
print_cert(X509 *x, ms_lookup_source src)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    char nb[32] = "?", na[32] = "?", fp[2 * 32 + 1] = "";
    unsigned n = 0;
    time_t t;
    int level = ms_x509_level(x);

    if (ms_asn1_time_epoch(X509_get0_notBefore(x), &t))
        (void)ms_time_format(nb, sizeof(nb), t);
    if (ms_asn1_time_epoch(X509_get0_notAfter(x), &t))
        (void)ms_time_format(na, sizeof(na), t);
    if (X509_digest(x, EVP_sha256(), md, &n) && n == 32) {
        for (unsigned i = 0; i < n; i++)
            (void)snprintf(fp + 2 * i, 3, "%02x", md[i]); /* fits */
    }
    printf("%s V%d valid %s to %s sha256 %s (%s)\n", use_of(x), level, nb,
           na, fp, src == MS_LOOKUP_DIRECTORY ? "directory" : "cache");
}

static int
lookup_run(ms_ctx *ctx, const char *addr, const cli_opts *o, unsigned flags,
           bool pem)
{
    ms_lookup_result res;
    ms_profile *p = NULL;
    const char *url;
    ms_error err;
    int ec, rc;

    if ((ec = cli_profile(&p, o, LOOKUP, false)) != EXIT_OK)
        return ec;
    ms_lookup_result_init(&res);
    url = ms_profile_get0_conf(p)->server_url;
    rc = ms_lookup_certs(&res, ctx, p, url != NULL && url[0] != '\0' ? url
                                                                     : NULL,
                         addr, flags, &err);
    if (rc != 0) {
        cli_error(LOOKUP, "%s", err.msg);
        return rc == MS_ENOTFOUND ? EXIT_VERDICT : EXIT_USAGE;
    }
    for (int i = 0; i < sk_X509_num(res.certs); i++) {
        if (pem)
            (void)PEM_write_X509(stdout, sk_X509_value(res.certs, i));
        else
            print_cert(sk_X509_value(res.certs, i), res.source);
    }
    ms_lookup_result_cleanup(&res);
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_USAGE;
}

int
cli_lookup(int argc, char **argv)
{
    static const struct option lo[] = {
        {"pem", no_argument, NULL, 'p'},
        {"offline", no_argument, NULL, 'o'},
        {"refresh", no_argument, NULL, 'r'},
        {"profile", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    cli_opts o;
    ms_ctx *ctx = NULL;
    ms_error err;
    unsigned flags = 0;
    bool pem = false;
    int ch, ec;

    memset(&o, 0, sizeof(o));
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        if (ch == 'h') {
            fputs(lookup_usage, stdout);
            return EXIT_OK;
        }
        if (ch == 'p')
            pem = true;
        else if (ch == 'o')
            flags |= MS_LOOKUP_CACHE_ONLY;
        else if (ch == 'r')
            flags |= MS_LOOKUP_DIR_ONLY;
        else if (ch == 'P')
            o.profile = optarg;
        else {
            cli_error(LOOKUP, "unknown or incomplete option %s (see "
                      "mailseal lookup --help)", argv[optind - 1]);
            return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc || flags == (MS_LOOKUP_CACHE_ONLY |
                                        MS_LOOKUP_DIR_ONLY)) {
        fputs(lookup_usage, stderr);
        return EXIT_USAGE;
    }
    if (ms_library_init(&err) != 0 || ms_ctx_new(&ctx, &err) != 0)
        return cli_fail(LOOKUP, &err);
    ec = lookup_run(ctx, argv[optind], &o, flags, pem);
    cli_profile_close();
    ms_ctx_free(ctx);
    ms_library_cleanup();
    return ec;
}
