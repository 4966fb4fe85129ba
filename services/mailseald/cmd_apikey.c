/*
 * services/mailseald/cmd_apikey.c - `mailseald -d DIR apikey ...`: the API
 * keys of the directory (and of gateways).
 *
 *   apikey create --name N [--domain D] [--rate N[/min]]
 *       makes a 256-bit random key ("msk_" + base64url), stores only its
 *       SHA-256 (ms_store_apikey_create, audited) and prints "id=ID" and
 *       "key=KEY" once: the key cannot be shown again.
 *   apikey list        one line per key: id, name, domain, rate, dates
 *   apikey revoke ID   (ms_store_apikey_revoke, audited)
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <mailseal/mailseal.h>

#include "commands.h"
#include "directory/dir.h"
#include "directory/dir_int.h"
#include "store/store_id.h"
#include "util/error.h"

enum { O_NAME = 256, O_DOMAIN, O_RATE };

static void
apikey_usage(FILE *fp)
{
    (void)fprintf(fp, "usage: mailseald -d DIR apikey create --name NAME "
                      "[--domain DOMAIN] [--rate N/min]\n"
                      "       mailseald -d DIR apikey list\n"
                      "       mailseald -d DIR apikey revoke ID\n");
}

/* "N" or "N/min", 1..1000000. */
static int
parse_rate(int *out, const char *s)
{
    size_t n = strspn(s, "0123456789");
    long v = 0;

    if (n == 0 || n > 7 || (s[n] != '\0' && strcmp(s + n, "/min") != 0))
        return -1;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    if (v < 1 || v > 1000000)
        return -1;
    *out = (int)v;
    return 0;
}

/* The domain, checked and lower-cased through the address rules. */
static int
parse_domain(char *out, size_t outlen, const char *d)
{
    char addr[MS_DIR_ADDR_BUF], tmp[MS_DIR_ADDR_BUF + 8];

    if (snprintf(tmp, sizeof(tmp), "x@%s", d) >= (int)sizeof(tmp) ||
        ms_dir_addr_parse(addr, tmp, NULL) != 0 || strlen(addr + 2) >= outlen)
        return -1;
    (void)snprintf(out, outlen, "%s", addr + 2);
    return 0;
}

static int
parse_create(ms_store_apikey *k, int argc, char **argv)
{
    static const struct option lo[] = {
        {"name", required_argument, NULL, O_NAME},
        {"domain", required_argument, NULL, O_DOMAIN},
        {"rate", required_argument, NULL, O_RATE},
        {NULL, 0, NULL, 0}};
    int c, bad = 0;

    k->rate_per_min = 60;
    optind = 0;
    while ((c = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
        if (c == O_NAME && strlen(optarg) > 0 &&
            strlen(optarg) < sizeof(k->name))
            (void)snprintf(k->name, sizeof(k->name), "%s", optarg);
        else if (c == O_DOMAIN)
            bad |= parse_domain(k->domain, sizeof(k->domain), optarg);
        else if (c == O_RATE)
            bad |= parse_rate(&k->rate_per_min, optarg);
        else
            bad = -1;
    }
    return bad != 0 || optind != argc || k->name[0] == '\0' ? -1 : 0;
}

static int
apikey_create(cmd_env *env, int argc, char **argv)
{
    unsigned char rnd[6];
    char key[64];
    ms_store_apikey k;
    ms_error err;
    int rc;

    memset(&k, 0, sizeof(k));
    if (parse_create(&k, argc, argv) != 0) {
        apikey_usage(stderr);
        return 2;
    }
    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        return fprintf(stderr, "mailseald: apikey: no randomness\n"), 1;
    (void)snprintf(k.id, sizeof(k.id), "ak_%02x%02x%02x%02x%02x%02x", rnd[0],
                   rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
    if ((rc = dir_token_new(key, sizeof(key), "msk_", k.key_hash, &err)) == 0 &&
        (rc = ms_store_apikey_create(env->store, &k, &err)) == 0) {
        (void)printf("id=%s\nkey=%s\n", k.id, key);
        (void)fprintf(stderr,
                      "created API key %s (%s), domain %s, %d/min; "
                      "the key is shown only this once\n",
                      k.id, k.name, k.domain[0] ? k.domain : "(any)",
                      k.rate_per_min);
    } else {
        (void)fprintf(stderr, "mailseald: apikey create: %s\n", err.msg);
    }
    OPENSSL_cleanse(key, sizeof(key));
    return rc == 0 ? 0 : 1;
}

static int
list_one(const ms_store_apikey *k, void *arg)
{
    char created[32], revoked[32] = "-";

    (void)arg;
    (void)ms_time_format(created, sizeof(created), k->created);
    if (k->revoked_at != 0)
        (void)ms_time_format(revoked, sizeof(revoked), k->revoked_at);
    (void)printf("%s\t%s\t%s\t%d/min\tcreated=%s\trevoked=%s\n", k->id, k->name,
                 k->domain[0] ? k->domain : "*", k->rate_per_min, created,
                 revoked);
    return 0;
}

int
cmd_apikey(const char *config_path, int argc, char **argv)
{
    const char *what = argc >= 2 ? argv[1] : "";
    cmd_env env;
    ms_error err;
    int rc;

    if (!(strcmp(what, "create") == 0 ||
          (strcmp(what, "list") == 0 && argc == 2) ||
          (strcmp(what, "revoke") == 0 && argc == 3))) {
        apikey_usage(stderr);
        return 2;
    }
    if (cmd_env_open(&env, config_path, false) != 0)
        return 1;
    if (strcmp(what, "create") == 0) {
        rc = apikey_create(&env, argc - 1, argv + 1);
    } else if (strcmp(what, "list") == 0) {
        rc = ms_store_apikey_list(env.store, list_one, NULL, &err) == 0 ? 0 : 1;
        if (rc != 0)
            (void)fprintf(stderr, "mailseald: apikey list: %s\n", err.msg);
    } else {
        rc = ms_store_apikey_revoke(env.store, argv[2], &err) == 0 ? 0 : 1;
        if (rc != 0)
            (void)fprintf(stderr, "mailseald: apikey revoke: %s\n", err.msg);
        else
            (void)printf("revoked %s\n", argv[2]);
    }
    cmd_env_close(&env);
    return rc;
}
