/*
 * enroll/enroll_int.h - internals shared by enroll.c, api.c and
 * devices.c: the API client (base URL, credential) and the credential
 * file. Not installed.
 *
 * Ownership: an ms_enroll_api is caller storage (init/cleanup); its
 * Authorization value is a secret buffer, wiped on cleanup. Thread
 * safety: one thread at a time.
 */
#ifndef MS_ENROLL_INT_H
#define MS_ENROLL_INT_H

#include <stdbool.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "enroll/enroll.h"
#include "net/http.h"

typedef struct ms_enroll_api {
    const ms_ctx *ctx;
    char base[MS_ENROLL_URL_MAX]; /* server URL without a trailing '/' */
    ms_buf auth;                  /* "Bearer ms1_..." (secret), or empty */
} ms_enroll_api;

/* One request; want is the expected status. */
typedef struct ms_enroll_req {
    const char *method;
    const char *path;  /* appended to base; starts with '/' */
    const char *ctype; /* of body, NULL: no body */
    const void *body;
    size_t len;
    bool auth; /* send the credential */
    long want;
    const char *what; /* "starting the validation": for messages */
    unsigned timeout_ms; /* 0: the context's network timeout */
} ms_enroll_req;

/* MS_EINVAL when server_url is not http(s) or too long. */
int ms_enroll_api_init(ms_enroll_api *a, const ms_ctx *ctx,
                       const char *server_url, ms_error *err);
/* The credential for auth requests (token: ms1_...). */
int ms_enroll_api_set_token(ms_enroll_api *a, const char *token,
                            ms_error *err);
void ms_enroll_api_cleanup(ms_enroll_api *a);

/*
 * Performs q. A status other than q->want becomes a clear error (see
 * api.c: 429 "try again in N s", 401, 403, 404, 409, 410, 5xx); the reply
 * is kept in *r either way (r->status tells) for callers that branch.
 */
int ms_enroll_api_call(ms_http_reply *r, ms_enroll_api *a,
                       const ms_enroll_req *q, ms_error *err);
/* *out (json_decref) = the reply's JSON object. MS_EMALFORMED. */
int ms_enroll_api_json(json_t **out, const ms_http_reply *r, const char *what,
                       ms_error *err);

/* Copies a JSON string member of o into out (n bytes). MS_EMALFORMED. */
int ms_enroll_json_str(char *out, size_t n, json_t *o, const char *key,
                       const char *what, ms_error *err);

/*
 * The credential file: "device_id = ...\ntoken = ...\n". load fills token
 * (secret buffer) and id; MS_ENOTFOUND when the profile has none.
 */
int ms_enroll_cred_store(ms_profile *p, const char *device_id,
                         const ms_buf *token, ms_error *err);
int ms_enroll_cred_load(ms_buf *token, char *id, size_t idlen,
                        const ms_profile *p, ms_error *err);

/* ---- one enrollment in progress (enroll.c, certs.c) ---- */

typedef struct ms_enroll_state {
    ms_enroll_api api;
    char addr[MS_PROFILE_ADDR_MAX + 1]; /* normalised */
    EVP_PKEY *sign_key;                 /* made here, never sent */
    ms_buf csr;                         /* DER */
    char vid[MS_ENROLL_ID_MAX + 1];     /* validation id */
    ms_buf poll;                        /* poll token (secret) */
    ms_buf token;                       /* device credential (secret) */
    char device_id[MS_ENROLL_ID_MAX + 1];
    ms_buf cadata;                      /* GET /ca/chain.pem as served */
    STACK_OF(X509) *cas;                /* its certificates */
    STACK_OF(X509) *roots;              /* the self-signed ones: anchors */
    X509 *cert;                         /* the signing certificate */
    STACK_OF(X509) *chain;              /* its chain as served */
    EVP_PKEY *enc_key[MS_ENROLL_MAX_KEYS];
    X509 *enc_cert[MS_ENROLL_MAX_KEYS];
    size_t nenc;
} ms_enroll_state;

/* GET /ca/chain.pem: e->cadata, e->cas, e->roots. */
int ms_enroll_fetch_cas(ms_enroll_state *e, ms_error *err);
/* POST /v1/certificates with e->csr: e->cert and e->chain, checked. */
int ms_enroll_get_cert(ms_enroll_state *e, ms_error *err);
/* POST /v1/keys/encryption: e->enc_key/enc_cert, each checked. */
int ms_enroll_get_keys(ms_enroll_state *e, ms_error *err);

#endif
