/*
 * bench/bench.c - mailseal-bench: messages per second through libmailseal.
 *
 * Usage: mailseal-bench PKI-DIR [SECONDS] [TSV-FILE]
 *        mailseal-bench --message SIZE        (the test message, to stdout)
 *
 * PKI-DIR is a tests/fixtures/gen-pki.sh tree to which bench/run.sh added
 * bench-rsa2048, bench-rsa3072 and bench-p256 signing certificates (.pem,
 * .key) and the encryption certificates bench-rcpt1..9 under ca-v2. For each signing key and for a 10 KB and a 1 MB
 * message it loops, single-threaded, each operation for SECONDS (default
 * 2) of wall time: sign; seal to 1 and to 10 recipients (plus, as always,
 * the sender's own encryption certificate v2-enc.pem); open (decrypt with
 * v3-enc.key, then verify offline against root.pem) of the 1-recipient
 * sealed message. The ceiling is EVP_DigestSign (SHA-256) operations per
 * second with the same key on one core. TSV-FILE receives one
 * "key<TAB>size<TAB>op<TAB>per-second" line per figure for bench/run.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <mailseal/mailseal.h>

#define PATH_LEN 4096

typedef struct bench_key {
    const char *label; /* "RSA-2048" */
    const char *name;  /* file stem and TSV key: "rsa2048" */
} bench_key;

static const bench_key keys[] = {
    {"RSA-2048", "rsa2048"},
    {"RSA-3072", "rsa3072"},
    {"P-256", "p256"},
};

static const size_t sizes[] = {10 * 1024, 1024 * 1024};

/*
 * The ten recipients of "seal10": RSA-2048 encryption certificates, the
 * test PKI's v3-enc.pem and nine that bench/run.sh adds.
 */
static const char *const ten[] = {
    "v3-enc.pem",      "bench-rcpt1.pem", "bench-rcpt2.pem", "bench-rcpt3.pem",
    "bench-rcpt4.pem", "bench-rcpt5.pem", "bench-rcpt6.pem", "bench-rcpt7.pem",
    "bench-rcpt8.pem", "bench-rcpt9.pem",
};

typedef struct bench {
    const char *pki;
    double seconds;
    FILE *tsv;
    ms_ctx *ctx;
    ms_recipients *one;
    ms_recipients *ten;
    ms_identity *reader;
    ms_verifier *verifier;
} bench;

static void
die(const char *what, const ms_error *err)
{
    fprintf(stderr, "mailseal-bench: %s%s%s%s%s\n", what,
            err != NULL ? ": " : "", err != NULL ? err->msg : "",
            err != NULL && err->ossl[0] != '\0' ? " / " : "",
            err != NULL ? err->ossl : "");
    exit(1);
}

static const char *
pki_path(const bench *b, const char *file)
{
    static char path[4][PATH_LEN];
    static unsigned next;
    char *p = path[next++ % 4];

    if ((size_t)snprintf(p, PATH_LEN, "%s/%s", b->pki, file) >= PATH_LEN)
        die("path too long", NULL);
    return p;
}

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * A plain-text message of exactly size bytes: a header, then lines of
 * printable text (the same bytes every time, so runs compare).
 */
static void
make_message(ms_buf *m, size_t size)
{
    static const char hdr[] =
        "From: John Doe <john.doe@example.org>\r\n"
        "To: Info <info@example.com>\r\n"
        "Subject: mailseal benchmark message\r\n"
        "Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
        "Message-ID: <bench@example.org>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n"
        "\r\n";
    static const char words[] = "the quick brown fox jumps over the lazy dog "
                                "0123456789 pack my box with five dozen ";
    unsigned long line = 0;

    ms_buf_init(m, 0);
    if (ms_buf_puts(m, hdr) != 0)
        die("out of memory", NULL);
    while (m->len < size) {
        char text[80];
        size_t n, left = size - m->len;

        n = (size_t)snprintf(text, sizeof(text), "%06lu %.62s\r\n", line,
                             words + line % 40);
        line++;
        if (left < n) { /* pad the end to the exact size */
            memset(text, 'x', left);
            if (left >= 2)
                memcpy(text + left - 2, "\r\n", 2);
            n = left;
        }
        if (ms_buf_append(m, text, n) != 0)
            die("out of memory", NULL);
    }
}

typedef enum bench_op { OP_SIGN, OP_SEAL1, OP_SEAL10, OP_OPEN } bench_op;
static const char *const op_name[] = {"sign", "seal1", "seal10", "open"};

/* One operation on msg; out receives its output. */
static void
run_op(bench *b, bench_op op, const ms_identity *id, const ms_buf *msg,
       ms_buf *out)
{
    ms_error err;
    ms_result *r = NULL;
    ms_verdict v;

    ms_buf_reset(out);
    switch (op) {
    case OP_SIGN:
        if (ms_sign(out, b->ctx, id, NULL, msg->data, msg->len, &err) != 0)
            die("ms_sign", &err);
        break;
    case OP_SEAL1:
    case OP_SEAL10:
        if (ms_seal(out, b->ctx, id, NULL, op == OP_SEAL1 ? b->one : b->ten,
                    NULL, msg->data, msg->len, &err) != 0)
            die("ms_seal", &err);
        break;
    case OP_OPEN:
        if (ms_open(&r, out, b->ctx, b->verifier, b->reader, msg->data,
                    msg->len, &err) != 0)
            die("ms_open", &err);
        v = ms_result_verdict(r);
        if (v > MS_VERDICT_SIGNED || !ms_result_encrypted(r)) {
            fprintf(stderr, "mailseal-bench: open gave %s: %s\n",
                    ms_verdict_name(v), ms_result_display(r));
            exit(1);
        }
        ms_result_free(r);
        break;
    }
}

/* Runs op for b->seconds of wall time; returns operations per second. */
static double
measure(bench *b, bench_op op, const ms_identity *id, const ms_buf *msg)
{
    ms_buf out;
    double start, t;
    unsigned long n = 0;

    ms_buf_init(&out, 0);
    run_op(b, op, id, msg, &out); /* warm-up, and fail early */
    start = now_s();
    do {
        run_op(b, op, id, msg, &out);
        n++;
        t = now_s() - start;
    } while (t < b->seconds);
    ms_buf_cleanup(&out);
    return (double)n / t;
}

/* EVP_DigestSign (SHA-256) of 256 bytes with the key of file, per second. */
static double
ceiling(const bench *b, const char *keyfile)
{
    unsigned char data[256], sig[1024];
    EVP_PKEY *pkey;
    FILE *f;
    double start, t;
    unsigned long n = 0;

    memset(data, 0x5a, sizeof(data));
    if ((f = fopen(keyfile, "r")) == NULL)
        die(keyfile, NULL);
    pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (pkey == NULL)
        die("cannot read the key", NULL);
    start = now_s();
    do {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        size_t siglen = sizeof(sig);

        if (md == NULL ||
            EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pkey) != 1 ||
            EVP_DigestSign(md, sig, &siglen, data, sizeof(data)) != 1)
            die("EVP_DigestSign failed", NULL);
        EVP_MD_CTX_free(md);
        n++;
        t = now_s() - start;
    } while (t < b->seconds);
    EVP_PKEY_free(pkey);
    (void)b;
    return (double)n / t;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y ? 1 : 0;
}

/*
 * seal1 of msg over the signing ceiling of keyfile, measured in PAIRED
 * short rounds (ceiling, then seal, alternating) so that both sides of
 * each ratio see the same machine load; returns the median ratio.
 */
static double
paired_seal_ratio(bench *b, const ms_identity *id, const ms_buf *msg,
                  const char *keyfile)
{
    enum { ROUNDS = 9 };
    double ratios[ROUNDS], saved = b->seconds;

    b->seconds = 0.3;
    for (int i = 0; i < ROUNDS; i++) {
        double c = ceiling(b, keyfile);
        double r = measure(b, OP_SEAL1, id, msg);

        ratios[i] = r / c;
    }
    b->seconds = saved;
    qsort(ratios, ROUNDS, sizeof(ratios[0]), cmp_double);
    return ratios[ROUNDS / 2];
}

static void
emit(const bench *b, const char *key, const char *size, const char *op,
     double rate)
{
    if (b->tsv != NULL)
        fprintf(b->tsv, "%s\t%s\t%s\t%.3f\n", key, size, op, rate);
}

static void
setup(bench *b)
{
    ms_error err;

    if (ms_library_init(&err) != 0 || ms_ctx_new(&b->ctx, &err) != 0)
        die("init", &err);
    if (ms_recipients_new(&b->one, &err) != 0 ||
        ms_recipients_add_file(b->one, pki_path(b, ten[0]), 0, &err) != 0 ||
        ms_recipients_new(&b->ten, &err) != 0)
        die("recipients", &err);
    for (size_t i = 0; i < sizeof(ten) / sizeof(ten[0]); i++) {
        if (ms_recipients_add_file(b->ten, pki_path(b, ten[i]), 0, &err) != 0)
            die(ten[i], &err);
    }
    if (ms_identity_load(&b->reader, b->ctx, pki_path(b, "v3-enc.pem"),
                         pki_path(b, "v3-enc.key"), NULL, NULL, &err) != 0)
        die("v3-enc", &err);
    if (ms_verifier_new(&b->verifier, b->ctx, &err) != 0 ||
        ms_verifier_set_system_trust(b->verifier, false, &err) != 0 ||
        ms_verifier_add_trust_file(b->verifier, pki_path(b, "root.pem"),
                                   &err) != 0)
        die("verifier", &err);
    ms_verifier_set_offline(b->verifier, true);
}

static int
print_message(const char *arg)
{
    char *end;
    unsigned long size = strtoul(arg, &end, 10);
    ms_buf m;

    if (*arg == '\0' || *end != '\0' || size < 512 || size > 64ul << 20) {
        fprintf(stderr, "mailseal-bench: --message SIZE (512..64 MiB)\n");
        return 2;
    }
    make_message(&m, size);
    fwrite(m.data, 1, m.len, stdout);
    ms_buf_cleanup(&m);
    return fflush(stdout) == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
    bench b;
    ms_buf msg[2], sealed;
    double rate[3][2][4], ceil_rate[3], paired[3];
    const char *size_name[2] = {"10KB", "1MB"};

    if (argc == 3 && strcmp(argv[1], "--message") == 0)
        return print_message(argv[2]);
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: mailseal-bench PKI-DIR [SECONDS] [TSV-FILE]\n"
                        "       mailseal-bench --message SIZE\n");
        return 2;
    }
    memset(&b, 0, sizeof(b));
    b.pki = argv[1];
    b.seconds = argc >= 3 ? strtod(argv[2], NULL) : 2.0;
    if (!(b.seconds > 0.0 && b.seconds <= 600.0)) {
        fprintf(stderr, "mailseal-bench: SECONDS must be in (0, 600]\n");
        return 2;
    }
    if (argc == 4 && (b.tsv = fopen(argv[3], "w")) == NULL)
        die(argv[3], NULL);
    setup(&b);
    for (int s = 0; s < 2; s++)
        make_message(&msg[s], sizes[s]);
    ms_buf_init(&sealed, 0);

    printf("mailseal-bench: %.1f s per figure, one thread, %s\n", b.seconds,
           OpenSSL_version(OPENSSL_VERSION));
    printf("seal: + sender's own certificate; open: decrypt + verify "
           "(offline)\n\n");
    printf("%-9s %-5s %10s %10s %10s %10s\n", "key", "size", "sign/s",
           "seal1/s", "seal10/s", "open/s");
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        char cert[64], key[64];
        ms_identity *id;
        ms_error err;

        (void)snprintf(cert, sizeof(cert), "bench-%s.pem", keys[k].name);
        (void)snprintf(key, sizeof(key), "bench-%s.key", keys[k].name);
        if (ms_identity_load(&id, b.ctx, pki_path(&b, cert),
                             pki_path(&b, key), pki_path(&b, "v2-chain.pem"),
                             pki_path(&b, "v2-enc.pem"), &err) != 0)
            die(cert, &err);
        for (int s = 0; s < 2; s++) {
            for (int op = OP_SIGN; op <= OP_SEAL10; op++)
                rate[k][s][op] = measure(&b, (bench_op)op, id, &msg[s]);
            run_op(&b, OP_SEAL1, id, &msg[s], &sealed);
            rate[k][s][OP_OPEN] = measure(&b, OP_OPEN, NULL, &sealed);
            printf("%-9s %-5s %10.1f %10.1f %10.1f %10.1f\n", keys[k].label,
                   size_name[s], rate[k][s][0], rate[k][s][1], rate[k][s][2],
                   rate[k][s][3]);
            fflush(stdout);
            for (int op = OP_SIGN; op <= OP_OPEN; op++)
                emit(&b, keys[k].name, s == 0 ? "10k" : "1m", op_name[op],
                     rate[k][s][op]);
        }
        paired[k] = paired_seal_ratio(&b, id, &msg[0], pki_path(&b, key));
        emit(&b, keys[k].name, "10k", "seal1-paired-ratio", paired[k]);
        ms_identity_free(id);
        ceil_rate[k] = ceiling(&b, pki_path(&b, key));
        emit(&b, keys[k].name, "-", "ceiling", ceil_rate[k]);
    }

    printf("\nceiling: EVP_DigestSign (SHA-256, 256 bytes) per second, one "
           "core, same key\n");
    printf("%-9s %10s %16s %16s %16s\n", "key", "ceiling/s",
           "seal1 10KB/ceil", "sign 10KB/ceil", "seal1 paired");
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
        printf("%-9s %10.1f %15.1f%% %15.1f%% %15.1f%%\n", keys[k].label,
               ceil_rate[k], 100.0 * rate[k][0][OP_SEAL1] / ceil_rate[k],
               100.0 * rate[k][0][OP_SIGN] / ceil_rate[k], 100.0 * paired[k]);
    printf("(seal1 paired: median of 9 rounds of 0.3 s ceiling then 0.3 s "
           "seal1 10 KB, so both see the same load)\n");

    for (int s = 0; s < 2; s++)
        ms_buf_cleanup(&msg[s]);
    ms_buf_cleanup(&sealed);
    ms_verifier_free(b.verifier);
    ms_identity_free(b.reader);
    ms_recipients_free(b.one);
    ms_recipients_free(b.ten);
    ms_ctx_free(b.ctx);
    ms_library_cleanup();
    if (b.tsv != NULL && fclose(b.tsv) != 0)
        die("cannot write the TSV file", NULL);
    return 0;
}
