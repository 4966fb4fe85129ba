/* main.c - the mailseal command: option parsing and dispatch. */
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char *cli_prog = "mailseal";

static const char sign_usage[] =
    "usage: mailseal sign [--cert F --key F [--chain F] [--encryption-cert F]]\n"
    "                     [--tsa URL] [--opaque] [--profile NAME]\n"
    "                     <message >signed\n"
    "Signs a message (S/MIME multipart/signed, or opaque signed-data with\n"
    "--opaque) with SHA-256, and timestamps the signature at the RFC 3161\n"
    "server URL when --tsa is given. Without --cert and --key the profile's\n"
    "signing key, certificates and timestamp server are used.\n";
static const char encrypt_usage[] =
    "usage: mailseal encrypt --recipient-cert F [--recipient-cert F ...]\n"
    "                        [--cipher aes-256-gcm|aes-128-gcm|aes-256-cbc]\n"
    "                        [--key-transport oaep|pkcs1] <message >encrypted\n"
    "Encrypts a message to every recipient certificate. AES-CBC is used only\n"
    "for a message that is signed already (use seal otherwise).\n";
static const char seal_usage[] =
    "usage: mailseal seal [--cert F --key F [--chain F] [--encryption-cert F]]\n"
    "                     [--tsa URL] [--opaque] [--profile NAME]\n"
    "                     --recipient-cert F ...\n"
    "                     [--cipher C] [--key-transport K] <message >sealed\n"
    "Signs (and timestamps with --tsa), then encrypts to the recipients and\n"
    "to the sender's own encryption certificate.\n";
static const char decrypt_usage[] =
    "usage: mailseal decrypt [--cert F --key F] [--profile NAME]\n"
    "                        <encrypted >message\n"
    "Decrypts an S/MIME enveloped or authEnveloped message (without --cert\n"
    "and --key: with the profile's encryption keys, older ones too).\n";
static const char verify_opts[] =
    "  --trust F        trust anchors (any certificate; repeatable)\n"
    "  --untrusted F    extra intermediate certificates\n"
    "  --crl F          CRLs, PEM or DER (repeatable)\n"
    "  --tsa-trust F    anchors for RFC 3161 timestamp tokens\n"
    "  --offline        no network (no OCSP)\n"
    "  --at TIME        verify as of an RFC 3339 time\n"
    "  --no-system-trust  do not trust the system store\n"
    "  --json           print one JSON object\n"
    "  --profile NAME   the profile (default: $MAILSEAL_PROFILE or default);\n"
    "                   without --trust its trust anchors are used\n";
static const char verify_usage[] =
    "usage: mailseal verify [--trust F ...] [VERIFY-OPTIONS] [--json] <message\n"
    "Tells who really sent a message: prints the verdict line.\n"
    "Exit 0 for validated, mailbox-validated and signed; 1 otherwise.\n";
static const char open_usage[] =
    "usage: mailseal open [--cert F --key F] [--trust F ...] [VERIFY-OPTIONS]\n"
    "                     [--json] [--output F] <message\n"
    "Decrypts when needed, verifies, and prints the message with a banner;\n"
    "with --output writes it there with X-Mailseal-Verdict and\n"
    "X-Mailseal-Identity fields added (incoming X-Mailseal-* removed).\n"
    "Without --cert/--key and --trust the profile's keys and anchors are\n"
    "used, and the sender's certificate is checked for continuity (a new\n"
    "CA or a lower level than before is warned about).\n";
static const char export_usage[] =
    "usage: mailseal export [--legacy] [--signing-only|--encryption-only]\n"
    "                       [--password-file F] [-o FILE] [--profile NAME]\n"
    "Writes the profile's signing key and encryption keys with their\n"
    "certificates as PKCS#12 under a password (asked twice, or the first\n"
    "line of --password-file, a file of mode 0600). Default encoding:\n"
    "AES-256-CBC with PBKDF2 and an HMAC-SHA256 MAC (OpenSSL 3, NSS);\n"
    "--legacy: PBE-SHA1-3DES and a SHA-1 MAC (gpgsm 2.2, older clients;\n"
    "gpgsm 2.2 reads only the first key of a file: export the encryption\n"
    "key for it with --encryption-only).\n";
static const char import_usage[] =
    "usage: mailseal import [--password-file F] [--passphrase]\n"
    "                       [--profile NAME] FILE\n"
    "Reads the keys and certificates of a PKCS#12 FILE into the profile,\n"
    "creating it when needed. --passphrase protects the keys of a new\n"
    "profile with a passphrase (asked, or $MAILSEAL_PASSPHRASE_FILE).\n";

static const cli_cmd cmds[] = {
    {"sign", cmd_sign, sign_usage, CLI_O_SIGN | CLI_O_PROFILE, false},
    {"encrypt", cmd_encrypt, encrypt_usage, CLI_O_ENCRYPT, false},
    {"seal", cmd_seal, seal_usage, CLI_O_SIGN | CLI_O_ENCRYPT | CLI_O_PROFILE,
     false},
    {"decrypt", cmd_decrypt, decrypt_usage, CLI_O_KEY | CLI_O_PROFILE, false},
    {"verify", cmd_verify, verify_usage, CLI_O_VERIFY | CLI_O_PROFILE, false},
    {"open", cmd_open, open_usage,
     CLI_O_KEY | CLI_O_VERIFY | CLI_O_OUTPUT | CLI_O_PROFILE, false},
    {"export", cmd_export, export_usage,
     CLI_O_EXPORT | CLI_O_OUTPUT | CLI_O_PROFILE, false},
    {"import", cmd_import, import_usage, CLI_O_IMPORT | CLI_O_PROFILE, true},
};

enum {
    O_CERT = 256, O_KEY, O_CHAIN, O_ENC, O_TSA, O_OPAQUE, O_RCPT, O_CIPHER,
    O_KT, O_TRUST, O_UNTRUSTED, O_CRL, O_TSATRUST, O_OFFLINE, O_AT, O_JSON,
    O_OUTPUT, O_NOSYS, O_PROFILE, O_LEGACY, O_PWFILE, O_PASSPHRASE,
    O_SIGNONLY, O_ENCONLY
};

static const struct {
    int id;
    unsigned group;
} opt_groups[] = {
    {O_CERT, CLI_O_SIGN | CLI_O_KEY},  {O_KEY, CLI_O_SIGN | CLI_O_KEY},
    {O_CHAIN, CLI_O_SIGN},             {O_ENC, CLI_O_SIGN},
    {O_TSA, CLI_O_SIGN},               {O_OPAQUE, CLI_O_SIGN},
    {O_RCPT, CLI_O_ENCRYPT},           {O_CIPHER, CLI_O_ENCRYPT},
    {O_KT, CLI_O_ENCRYPT},             {O_TRUST, CLI_O_VERIFY},
    {O_UNTRUSTED, CLI_O_VERIFY},       {O_CRL, CLI_O_VERIFY},
    {O_TSATRUST, CLI_O_VERIFY},        {O_OFFLINE, CLI_O_VERIFY},
    {O_AT, CLI_O_VERIFY},              {O_JSON, CLI_O_VERIFY},
    {O_NOSYS, CLI_O_VERIFY},           {O_OUTPUT, CLI_O_OUTPUT},
    {O_PROFILE, CLI_O_PROFILE},        {O_LEGACY, CLI_O_EXPORT},
    {O_PWFILE, CLI_O_EXPORT | CLI_O_IMPORT},
    {O_PASSPHRASE, CLI_O_IMPORT},      {O_SIGNONLY, CLI_O_EXPORT},
    {O_ENCONLY, CLI_O_EXPORT},
};

static const struct option longopts[] = {
    {"cert", required_argument, NULL, O_CERT},
    {"key", required_argument, NULL, O_KEY},
    {"chain", required_argument, NULL, O_CHAIN},
    {"encryption-cert", required_argument, NULL, O_ENC},
    {"tsa", required_argument, NULL, O_TSA},
    {"opaque", no_argument, NULL, O_OPAQUE},
    {"recipient-cert", required_argument, NULL, O_RCPT},
    {"cipher", required_argument, NULL, O_CIPHER},
    {"key-transport", required_argument, NULL, O_KT},
    {"trust", required_argument, NULL, O_TRUST},
    {"untrusted", required_argument, NULL, O_UNTRUSTED},
    {"crl", required_argument, NULL, O_CRL},
    {"tsa-trust", required_argument, NULL, O_TSATRUST},
    {"offline", no_argument, NULL, O_OFFLINE},
    {"at", required_argument, NULL, O_AT},
    {"json", no_argument, NULL, O_JSON},
    {"output", required_argument, NULL, O_OUTPUT},
    {"no-system-trust", no_argument, NULL, O_NOSYS},
    {"profile", required_argument, NULL, O_PROFILE},
    {"legacy", no_argument, NULL, O_LEGACY},
    {"password-file", required_argument, NULL, O_PWFILE},
    {"passphrase", no_argument, NULL, O_PASSPHRASE},
    {"signing-only", no_argument, NULL, O_SIGNONLY},
    {"encryption-only", no_argument, NULL, O_ENCONLY},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

void
cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: %s%s", cli_prog, cmd != NULL ? cmd : "",
            cmd != NULL ? ": " : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static int
push(const char **arr, size_t *n, const char *v, const char *cmd)
{
    if (*n >= CLI_MAX_FILES) {
        cli_error(cmd, "too many files for one option (max %d)",
                  CLI_MAX_FILES);
        return -1;
    }
    arr[(*n)++] = v;
    return 0;
}

static bool
allowed(const cli_cmd *c, int id)
{
    for (size_t i = 0; i < sizeof(opt_groups) / sizeof(opt_groups[0]); i++) {
        if (opt_groups[i].id == id)
            return (opt_groups[i].group & c->allowed) != 0;
    }
    return false;
}

static int
set_opt(cli_opts *o, int id, const char *arg, const char *cmd)
{
    switch (id) {
    case O_CERT: o->cert = arg; break;
    case O_KEY: o->key = arg; break;
    case O_CHAIN: o->chain = arg; break;
    case O_ENC: o->enc_cert = arg; break;
    case O_TSA: o->tsa = arg; break;
    case O_OPAQUE: o->opaque = true; break;
    case O_RCPT: return push(o->rcpt, &o->nrcpt, arg, cmd);
    case O_CIPHER: o->cipher = arg; break;
    case O_KT: o->key_transport = arg; break;
    case O_TRUST: return push(o->trust, &o->ntrust, arg, cmd);
    case O_UNTRUSTED: return push(o->untrusted, &o->nuntrusted, arg, cmd);
    case O_CRL: return push(o->crl, &o->ncrl, arg, cmd);
    case O_TSATRUST: return push(o->tsa_trust, &o->ntsa_trust, arg, cmd);
    case O_OFFLINE: o->offline = true; break;
    case O_AT: o->at = arg; break;
    case O_JSON: o->json = true; break;
    case O_OUTPUT: o->output = arg; break;
    case O_NOSYS: o->no_system_trust = true; break;
    case O_PROFILE: o->profile = arg; break;
    case O_LEGACY: o->legacy = true; break;
    case O_PWFILE: o->password_file = arg; break;
    case O_PASSPHRASE: o->passphrase = true; break;
    case O_SIGNONLY: o->signing_only = true; break;
    case O_ENCONLY: o->encryption_only = true; break;
    default: return -1;
    }
    return 0;
}

static void
usage_all(FILE *fp)
{
    fprintf(fp, "usage: mailseal COMMAND [OPTIONS] (mailseal COMMAND --help)\n"
                "commands: sign encrypt seal decrypt verify open export "
                "import send lookup enroll devices\n");
}

#ifdef MS_TEST_HOOKS
static time_t test_now;

static time_t
fixed_clock(void *arg)
{
    (void)arg;
    return test_now;
}

/* MS_TEST_NOW=RFC3339 fixes the clock (test builds only). */
static int
test_hooks(ms_ctx *ctx)
{
    const char *s = getenv("MS_TEST_NOW");
    ms_error err;

    if (s == NULL)
        return 0;
    if (ms_time_parse(&test_now, s, &err) != 0) {
        cli_error(NULL, "MS_TEST_NOW: %s", err.msg);
        return -1;
    }
    ms_ctx_set_clock(ctx, fixed_clock, NULL);
    return 0;
}
#endif

static int
run(const cli_cmd *c, int argc, char **argv)
{
    cli_opts o;
    ms_ctx *ctx = NULL;
    ms_error err;
    int ch, rc;

    memset(&o, 0, sizeof(o));
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
        if (ch == 'o')
            ch = O_OUTPUT;
        if (ch == 'h') {
            fputs(c->usage, stdout);
            if (c->allowed & CLI_O_VERIFY)
                fputs(verify_opts, stdout);
            return EXIT_OK;
        }
        if (ch == '?' || ch == ':' || !allowed(c, ch)) {
            cli_error(c->name, "unknown or misplaced option %s (see "
                      "mailseal %s --help)", argv[optind - 1], c->name);
            return EXIT_USAGE;
        }
        if (set_opt(&o, ch, optarg, c->name) != 0)
            return EXIT_USAGE;
    }
    if (c->takes_file && optind < argc)
        o.file = argv[optind++];
    if (optind < argc) {
        cli_error(c->name, "unexpected argument %s", argv[optind]);
        return EXIT_USAGE;
    }
    if (c->takes_file && o.file == NULL) {
        cli_error(c->name, "a FILE is required (see mailseal %s --help)",
                  c->name);
        return EXIT_USAGE;
    }
    if (ms_library_init(&err) != 0 || ms_ctx_new(&ctx, &err) != 0)
        return cli_fail(c->name, &err);
#ifdef MS_TEST_HOOKS
    if (test_hooks(ctx) != 0) {
        ms_ctx_free(ctx);
        return EXIT_USAGE;
    }
#endif
    rc = c->run(ctx, &o);
    cli_profile_close();
    ms_ctx_free(ctx);
    ms_library_cleanup();
    return rc;
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        usage_all(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage_all(stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("mailseal %s\n", ms_version());
        return EXIT_OK;
    }
    if (strcmp(argv[1], "send") == 0)
        return cli_send(argc - 1, argv + 1);
    if (strcmp(argv[1], "lookup") == 0)
        return cli_lookup(argc - 1, argv + 1);
    if (strcmp(argv[1], "enroll") == 0)
        return cli_enroll(argc - 1, argv + 1);
    if (strcmp(argv[1], "devices") == 0)
        return cli_devices(argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        if (strcmp(argv[1], cmds[i].name) == 0)
            return run(&cmds[i], argc - 1, argv + 1);
    }
    cli_error(NULL, "unknown command %s", argv[1]);
    usage_all(stderr);
    return EXIT_USAGE;
}
