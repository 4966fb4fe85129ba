/*
 * services/mailseald/cmd_init.c - `mailseald --init DIR [--insecure-keys |
 * --passphrase-file FILE] [--public-url URL] [--listen ADDR] [--tsa-key
 * p256|rsa2048] [--ocsp-key p256|rsa2048]`: a new data directory
 * (ms_ca_init_dir), then its path and the root's SHA-256 fingerprint.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <mailseal/mailseal.h>

#include "commands.h"
#include "kms/escrow.h"

static void
init_usage(FILE *fp)
{
    (void)fprintf(fp, "usage: mailseald --init DIR (--insecure-keys | "
                      "--passphrase-file FILE)\n"
                      "         [--public-url URL] [--listen ADDR:PORT] "
                      "[--tsa-key p256|rsa2048] [--ocsp-key p256|rsa2048]\n");
}

static int
key_type(ms_ca_key_type *out, const char *s)
{
    if (strcmp(s, "p256") == 0)
        *out = MS_CA_KEY_P256;
    else if (strcmp(s, "rsa2048") == 0)
        *out = MS_CA_KEY_RSA2048;
    else
        return -1;
    return 0;
}

enum { O_INSECURE = 256, O_PASSFILE, O_URL, O_LISTEN, O_TSAKEY, O_OCSPKEY };

/* Returns -1 to go on, else the exit status. */
static int
parse(ms_ca_init_options *o, const char **dir, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"insecure-keys", no_argument, NULL, O_INSECURE},
        {"passphrase-file", required_argument, NULL, O_PASSFILE},
        {"public-url", required_argument, NULL, O_URL},
        {"listen", required_argument, NULL, O_LISTEN},
        {"tsa-key", required_argument, NULL, O_TSAKEY},
        {"ocsp-key", required_argument, NULL, O_OCSPKEY},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, bad = 0;

    optind = 0; /* glibc: a full reset, then parsing starts at argv[1] */
    while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
        if (c == O_INSECURE)
            o->insecure_keys = true;
        else if (c == O_PASSFILE)
            o->passphrase_file = optarg;
        else if (c == O_URL)
            o->public_url = optarg;
        else if (c == O_LISTEN)
            o->listen = optarg;
        else if (c == O_TSAKEY)
            bad |= key_type(&o->tsa_key, optarg);
        else if (c == O_OCSPKEY)
            bad |= key_type(&o->ocsp_key, optarg);
        else if (c == 'h') {
            init_usage(stdout);
            return 0;
        } else
            bad = -1;
    }
    /* DIR may come before or after the options. */
    if (optind < argc && *dir == NULL)
        *dir = argv[optind++];
    if (bad != 0 || optind != argc || *dir == NULL ||
        o->insecure_keys == (o->passphrase_file != NULL)) {
        init_usage(stderr);
        return 2;
    }
    return -1;
}

static int
print_result(const char *dir, bool insecure)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    char path[PATH_MAX], abs[PATH_MAX];
    unsigned int n = 0;
    X509 *x = NULL;
    FILE *fp;
    int k = snprintf(path, sizeof(path), "%s/certs/root.pem", dir);

    if (k < 0 || (size_t)k >= sizeof(path) || (fp = fopen(path, "r")) == NULL)
        return 1;
    x = PEM_read_X509(fp, NULL, NULL, NULL);
    (void)fclose(fp); /* read only */
    if (x == NULL || !X509_digest(x, EVP_sha256(), md, &n)) {
        X509_free(x);
        return 1;
    }
    X509_free(x);
    if (dir[0] == '/' || getcwd(abs, sizeof(abs)) == NULL)
        abs[0] = '\0';
    (void)printf(
        "created %s%s%s%s\nroot certificate SHA-256 fingerprint: ", abs,
        abs[0] != '\0' ? "/" : "", dir,
        insecure ? " (private keys NOT encrypted: for tests only)" : "");
    for (unsigned int i = 0; i < n; i++)
        (void)printf("%02X%s", md[i], i + 1 < n ? ":" : "\n");
    return fflush(stdout) == 0 ? 0 : 1;
}

/* DIR/private/kms-master.key, the key escrow's master key (mode 0600). */
static int
init_kms_master(const char *dir)
{
    char path[PATH_MAX];
    ms_error err;
    int k = snprintf(path, sizeof(path), "%s/private/kms-master.key", dir);

    if (k < 0 || (size_t)k >= sizeof(path)) {
        (void)fprintf(stderr, "mailseald: --init %s: path too long\n", dir);
        return 1;
    }
    if (ms_kms_master_create(path, NULL, &err) != 0) {
        (void)fprintf(stderr, "mailseald: --init %s: %s\n", dir, err.msg);
        return 1;
    }
    return 0;
}

int
cmd_init(int argc, char **argv)
{
    ms_ca_init_options o = MS_CA_INIT_OPTIONS_INIT;
    const char *dir = NULL;
    ms_error err;
    int rc;

    /* `--init DIR`: the directory may be glued to the command. */
    if (argc > 1 && argv[1][0] != '-') {
        dir = argv[1];
        argv[1] = argv[0];
        argc--;
        argv++;
    }
    if ((rc = parse(&o, &dir, argc, argv)) >= 0)
        return rc;
    if (ms_library_init(&err) != 0 || ms_ca_init_dir(dir, &o, &err) != 0) {
        (void)fprintf(stderr, "mailseald: --init %s: %s\n", dir, err.msg);
        return 1;
    }
    if ((rc = init_kms_master(dir)) != 0)
        return rc;
    if (print_result(dir, o.insecure_keys) != 0) {
        (void)fprintf(stderr,
                      "mailseald: %s: cannot read the root "
                      "certificate back\n",
                      dir);
        return 1;
    }
    return 0;
}
