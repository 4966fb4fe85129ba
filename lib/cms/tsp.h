/*
 * cms/tsp.h - RFC 3161 timestamps over a SignerInfo's signature value
 * (RFC 3161 appendix A: id-aa-signatureTimeStampToken).
 */
#ifndef MS_CMS_TSP_H
#define MS_CMS_TSP_H

#include <stdbool.h>
#include <time.h>

#include <openssl/x509.h>

#include <mailseal/buf.h>
#include <mailseal/ctx.h>
#include <mailseal/error.h>

#define MS_TSP_MAX_TOKEN (256u * 1024)

/*
 * Asks the TSA at url for a token over SHA-256(sig); checks the reply's
 * status, imprint and nonce; appends the token (DER ContentInfo) to token.
 */
int ms_tsp_request(ms_buf *token, ms_ctx *ctx, const char *url,
                   const unsigned char *sig, size_t siglen, ms_error *err);

typedef struct ms_tsp_check {
    bool valid;        /* every check passed */
    bool has_time;     /* time was read from the token */
    time_t time;       /* genTime of the token */
    char reason[200];  /* why it is not valid */
} ms_tsp_check;

/*
 * Checks a token: its signature and chain to anchors (as of at), the TSA
 * certificate's critical timeStamping EKU and its validity at the token's
 * genTime, ESSCertID/ESSCertIDv2, a SHA-256-or-better imprint equal to the
 * hash of sig. Always fills out.
 */
void ms_tsp_verify(ms_tsp_check *out, ms_ctx *ctx, const unsigned char *token,
                   size_t len, const unsigned char *sig, size_t siglen,
                   STACK_OF(X509) *anchors, time_t at);

#endif
