/*
 * kms/kms_int.h - what the kms files share and nobody else needs: the
 * associated-data writer (length-prefixed fields, so no two different
 * inputs give the same bytes) and one-shot AES-256-GCM.
 *
 * Ownership: every buffer is the caller's. Thread safety: no state; any
 * thread may call these at any time.
 */
#ifndef MS_KMS_INT_H
#define MS_KMS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mailseal/error.h>

#define MS_KMS_GCM_KEY_LEN   32
#define MS_KMS_GCM_NONCE_LEN 12
#define MS_KMS_GCM_TAG_LEN   16

/* Associated data are built in this fixed caller storage. */
#define MS_KMS_AAD_MAX 768

typedef struct ms_kms_aad {
    unsigned char data[MS_KMS_AAD_MAX];
    size_t len;
    bool overflow; /* a put did not fit: the AAD must not be used */
} ms_kms_aad;

/* Appends n raw bytes (fixed-size fields only). */
void ms_kms_aad_raw(ms_kms_aad *a, const void *p, size_t n);
/* Appends a 32-bit big-endian length of n, then the n bytes. */
void ms_kms_aad_field(ms_kms_aad *a, const void *p, size_t n);
/* Appends ms_kms_aad_field() of a NUL-terminated string. */
void ms_kms_aad_str(ms_kms_aad *a, const char *s);

/* Big-endian 32-bit helpers. */
void ms_kms_put_u32(unsigned char *p, uint32_t v);
uint32_t ms_kms_get_u32(const unsigned char *p);

/*
 * Encrypts len bytes of pt (len >= 1, <= INT_MAX) into ct (len bytes) and
 * writes the tag. Returns 0, MS_ENOMEM or MS_ERR.
 */
int ms_kms_gcm_seal(unsigned char *ct, unsigned char tag[MS_KMS_GCM_TAG_LEN],
                    const unsigned char key[MS_KMS_GCM_KEY_LEN],
                    const unsigned char nonce[MS_KMS_GCM_NONCE_LEN],
                    const ms_kms_aad *aad, const unsigned char *pt, size_t len,
                    ms_error *err);

/*
 * Decrypts len bytes of ct into pt (len bytes) and checks the tag. On any
 * failure pt is wiped. Returns 0, MS_EBADSIG (the tag does not verify:
 * with the same wording for every cause, so nothing is learnt from it),
 * MS_ENOMEM or MS_ERR.
 */
int ms_kms_gcm_open(unsigned char *pt,
                    const unsigned char key[MS_KMS_GCM_KEY_LEN],
                    const unsigned char nonce[MS_KMS_GCM_NONCE_LEN],
                    const ms_kms_aad *aad, const unsigned char *ct, size_t len,
                    const unsigned char tag[MS_KMS_GCM_TAG_LEN],
                    const char *what, ms_error *err);

/* Checks that mailbox is in the normal form of ms_addr_normalise().
 * Returns 0 or MS_EINVAL. */
int ms_kms_mailbox_check(const char *mailbox, ms_error *err);

/*
 * Checks that mailbox is in the normal form of ms_addr_normalise() and
 * key_id is a valid key id. Returns 0 or MS_EINVAL.
 */
int ms_kms_names_check(const char *mailbox, const char *key_id, ms_error *err);

/* True when p (len bytes) is exactly one DER PKCS#8 PrivateKeyInfo. */
bool ms_kms_is_pkcs8(const uint8_t *p, size_t len);

#endif
