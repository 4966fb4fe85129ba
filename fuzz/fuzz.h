/*
 * fuzz/fuzz.h - what the fuzz targets share: the libFuzzer entry point and
 * a fixed, offline environment (context clock, test fixtures) set up once.
 *
 * The fixtures under fuzz/fixtures are TEST-ONLY keys and certificates;
 * MS_FUZZ_FIXTURES (a compile definition) is the absolute path of that
 * directory. Every target ignores inputs over MS_FUZZ_MAX_INPUT bytes.
 */
#ifndef MS_FUZZ_FUZZ_H
#define MS_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#include <mailseal/mailseal.h>

#define MS_FUZZ_MAX_INPUT (1024u * 1024)
/* Every target verifies as of 2027-01-01T00:00:00Z. */
#define MS_FUZZ_TIME ((time_t)1798761600)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Initialises the library once and returns a context whose clock is fixed
 * at MS_FUZZ_TIME, with the default limits. Aborts when setup fails.
 */
ms_ctx *ms_fuzz_ctx(void);
/* The identity bob@fuzz.example (RSA-2048 fixtures/rcpt.pem and .key). */
const ms_identity *ms_fuzz_identity(void);
/* Trusts fixtures/root.pem (mail and TSA), offline, no system store. */
const ms_verifier *ms_fuzz_verifier(void);
/* fixtures/root.pem as a stack, the anchors of timestamp tokens. */
STACK_OF(X509) *ms_fuzz_anchors(void);
/* Aborts with msg and err's text: setup failures are bugs, not findings. */
void ms_fuzz_die(const char *msg, const ms_error *err);

#endif
