/*
 * services/mailseald/cmd_rotate.c - `mailseald -d DIR rotate WHAT`: new
 * keys and certificates for the OCSP responders, the TSA or one issuing
 * CA (ms_ca_rotate, lib/ca/rotate.h). The passphrase comes from the
 * config's passphrase_file and is wiped after use; running daemons see
 * the new hierarchy after a restart.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mailseal/mailseal.h>

#include "ca/keys.h"
#include "ca/rotate.h"
#include "commands.h"
#include "util/error.h"

static void
rotate_usage(void)
{
    (void)fprintf(stderr,
                  "usage: mailseald -d DIR rotate ocsp [--key p256|rsa2048]\n"
                  "       mailseald -d DIR rotate tsa [--key p256|rsa2048]\n"
                  "       mailseald -d DIR rotate ca --level N\n");
}

static void
print_rotated(const char *name, const char *old_serial,
              const char *new_serial, time_t not_after, void *arg)
{
    char until[32];
    struct tm tm;

    (void)arg;
    if (gmtime_r(&not_after, &tm) == NULL ||
        strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        (void)snprintf(until, sizeof(until), "%lld", (long long)not_after);
    (void)printf("rotated %s: serial %s -> %s, valid until %s\n", name,
                 old_serial, new_serial, until);
}

/* Parses the options after WHAT into o. Returns 0 or 2 (usage). */
static int
rotate_options(ms_ca_rotate_options *o, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"key", required_argument, NULL, 'k'},
        {"level", required_argument, NULL, 'l'},
        {NULL, 0, NULL, 0},
    };
    ms_ca_key_type key = MS_CA_KEY_DEFAULT;
    char *end;
    long level;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'k' && strcmp(optarg, "p256") == 0)
            key = MS_CA_KEY_P256;
        else if (c == 'k' && strcmp(optarg, "rsa2048") == 0)
            key = MS_CA_KEY_RSA2048;
        else if (c == 'l') {
            level = strtol(optarg, &end, 10);
            if (*end != '\0' || level < 1 || level > 4)
                return 2;
            o->level = (int)level;
        } else
            return 2;
    }
    if (optind != argc)
        return 2;
    if (o->what == MS_CA_ROTATE_OCSP)
        o->ocsp_key = key;
    else if (o->what == MS_CA_ROTATE_TSA)
        o->tsa_key = key;
    else if (key != MS_CA_KEY_DEFAULT || o->level == 0)
        return 2; /* an issuing CA keeps its key type, needs its level */
    if (o->what != MS_CA_ROTATE_ISSUING && o->level != 0)
        return 2;
    return 0;
}

int
cmd_rotate(const char *config_path, int argc, char **argv)
{
    ms_ca_rotate_options o = MS_CA_ROTATE_OPTIONS_INIT;
    ms_daemon_config *cfg = NULL;
    ms_buf pass;
    ms_error err;
    int rc;

    if (argc < 2) {
        rotate_usage();
        return 2;
    }
    if (strcmp(argv[1], "ocsp") == 0)
        o.what = MS_CA_ROTATE_OCSP;
    else if (strcmp(argv[1], "tsa") == 0)
        o.what = MS_CA_ROTATE_TSA;
    else if (strcmp(argv[1], "ca") == 0)
        o.what = MS_CA_ROTATE_ISSUING;
    if (o.what == 0 || rotate_options(&o, argc - 1, argv + 1) != 0) {
        rotate_usage();
        return 2;
    }
    o.on_rotated = print_rotated;
    ms_buf_init_secret(&pass, MS_CA_PASSPHRASE_MAX);
    if ((rc = ms_daemon_config_load(&cfg, config_path, &err)) != 0 ||
        (rc = ms_library_init(&err)) != 0)
        goto out;
    if (cfg->passphrase_file != NULL) {
        if ((rc = ms_ca_passphrase_read(cfg->passphrase_file, &pass,
                                        &err)) != 0)
            goto out;
        o.passphrase = (const char *)pass.data;
    } else if (!cfg->insecure_keys) {
        rc = ms_error_set(&err, MS_EINVAL,
                          "%s: neither passphrase_file nor insecure_keys = "
                          "yes is set",
                          cfg->source);
        goto out;
    }
    rc = ms_ca_rotate(cfg->data_dir, &o, &err);
out:
    ms_buf_cleanup(&pass); /* wipes the passphrase */
    ms_daemon_config_free(cfg);
    if (rc != 0) {
        (void)fprintf(stderr, "mailseald: rotate: %s\n", err.msg);
        return 1;
    }
    (void)printf("restart mailseald to serve the new certificates\n");
    return 0;
}
