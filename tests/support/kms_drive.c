/*
 * tests/support/kms_drive.c - the device side of POST /v1/keys/encryption
 * from the command line, for tests/integration/validate.sh. TEST-ONLY.
 *
 *   kms_drive keygen PRIV.pem       new X25519 key (PEM, 0600); prints the
 *                                   raw public key in base64url
 *   kms_drive open PRIV.pem KEY_ID MAILBOX ENVELOPE_B64 OUT.pem
 *                                   opens the envelope (base64 text in the
 *                                   file ENVELOPE_B64) and writes the
 *                                   escrowed private key as PKCS#8 PEM
 * Exit 0 ok, 1 failure (message on stderr), 2 usage.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <mailseal/mailseal.h>

#include "kms/deliver.h"
#include "kms/keygen.h"

static int
keygen(const char *path)
{
    unsigned char pub[MS_KMS_X25519_LEN];
    unsigned char b64[64];
    EVP_PKEY *k = NULL;
    ms_error err;
    FILE *fp;
    int ok;

    if (ms_kms_device_keygen(&k, pub, &err) != 0) {
        (void)fprintf(stderr, "keygen: %s\n", err.msg);
        return 1;
    }
    (void)umask(077);
    ok = (fp = fopen(path, "w")) != NULL &&
         PEM_write_PrivateKey(fp, k, NULL, NULL, 0, NULL, NULL) == 1;
    if (fp != NULL)
        ok = fclose(fp) == 0 && ok;
    EVP_PKEY_free(k);
    if (!ok)
        return 1;
    (void)EVP_EncodeBlock(b64, pub, sizeof(pub));
    for (unsigned char *p = b64; *p != '\0'; p++)
        *p = *p == '+' ? '-' : (*p == '/' ? '_' : (*p == '=' ? '\0' : *p));
    (void)printf("%s\n", (char *)b64);
    return 0;
}

static int
open_env(char **a)
{
    static unsigned char text[3 * MS_KMS_ENVELOPE_MAX],
        env[2 * MS_KMS_ENVELOPE_MAX];
    EVP_PKEY *dev = NULL, *key = NULL;
    size_t n = 0;
    int len, rc = 1;
    ms_error err;
    ms_buf pkcs8;
    FILE *fp;

    ms_buf_init_secret(&pkcs8, MS_KMS_PKCS8_MAX);
    if ((fp = fopen(a[0], "r")) != NULL) {
        dev = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
        (void)fclose(fp);
    }
    if ((fp = fopen(a[3], "r")) != NULL) {
        n = fread(text, 1, sizeof(text) - 1, fp);
        (void)fclose(fp);
    }
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        n--;
    if (dev == NULL || n == 0 || n % 4 != 0 ||
        (len = EVP_DecodeBlock(env, text, (int)n)) < 0) {
        (void)fprintf(stderr, "open: cannot read the key or envelope\n");
        goto out;
    }
    len -= (text[n - 1] == '=') + (text[n - 2] == '=');
    if (ms_kms_open_from_server(&pkcs8, dev, a[1], a[2], env, (size_t)len,
                                &err) != 0 ||
        ms_kms_pkcs8_decode(&key, pkcs8.data, pkcs8.len, &err) != 0) {
        (void)fprintf(stderr, "open: %s\n", err.msg);
        goto out;
    }
    (void)umask(077);
    if ((fp = fopen(a[4], "w")) == NULL)
        goto out;
    rc = PEM_write_PKCS8PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL) == 1 ? 0
                                                                            : 1;
    if (fclose(fp) != 0)
        rc = 1;
out:
    EVP_PKEY_free(dev);
    EVP_PKEY_free(key);
    ms_buf_cleanup(&pkcs8);
    return rc;
}

int
main(int argc, char **argv)
{
    ms_error err;

    if (ms_library_init(&err) != 0)
        return 1;
    if (argc == 3 && strcmp(argv[1], "keygen") == 0)
        return keygen(argv[2]);
    if (argc == 7 && strcmp(argv[1], "open") == 0)
        return open_env(argv + 2);
    (void)fprintf(stderr, "usage: kms_drive keygen PRIV.pem | open PRIV.pem "
                          "KEY_ID MAILBOX ENVELOPE_B64 OUT.pem\n");
    return 2;
}
