/*
 * services/directory/dir_int.h - the state the directory module's files
 * share (routes.c: lookups, batch, API keys, set-up; harvest.c; mail.c:
 * invitations, unpublish and opt-out links).
 *
 * Ownership: the dir_module belongs to the module (routes.c start/stop).
 * Thread safety: immutable after start but for the rate limiters, which
 * lock themselves; store handles come per thread from service.h.
 */
#ifndef MS_SERVICES_DIRECTORY_DIR_INT_H
#define MS_SERVICES_DIRECTORY_DIR_INT_H

#include <mailseal/ctx.h>
#include <mailseal/verify.h>

#include "config/daemon.h"
#include "directory/dir.h"
#include "mail/submit.h"
#include "net/server.h"
#include "store/store_id.h"

/* Invitations to one address: at most one per this many seconds. */
#define DIR_INVITE_INTERVAL (30L * 86400)
/* Lifetime of an unpublish or opt-out link. */
#define DIR_UNPUBLISH_TTL (86400L)
#define DIR_OPTOUT_TTL    (10L * 365 * 86400)

typedef struct dir_module {
    ms_daemon_config *cfg; /* a reference */
    ms_dir_rate *anon;     /* per client address */
    ms_dir_rate *keyed;    /* per API key id */
    ms_submit_config mail; /* mail_relay */
    ms_ctx *ctx;           /* for the verifier (read only) */
    ms_verifier *verifier; /* harvest trust */
    bool store_acquired;
} dir_module;

/* Who asks: anonymous (key NULL), or an API key. */
typedef struct dir_client {
    bool keyed;
    ms_store_apikey key;
} dir_client;

/*
 * Authenticates (Authorization: ApiKey) and rate-limits req. need_key:
 * anonymous callers get 401. Returns 1 when the request may go on, 0
 * when resp holds the answer (401, 429 with Retry-After), or a negative
 * status.
 */
int dir_admit(dir_module *m, const ms_http_request *req, ms_http_response *resp,
              bool need_key, dir_client *who);

/* Reads the JSON object body of req into *out (json_decref); 0 when
 * resp holds the answer (400/415). 1 on success. */
int dir_json_body(const ms_http_request *req, ms_http_response *resp,
                  struct json_t **out);

/* 32 random bytes as "<prefix>" + base64url into out; their SHA-256
 * into hash. MS_ERR (no randomness), MS_ETOOBIG. */
int dir_token_new(char *out, size_t outlen, const char *prefix,
                  unsigned char hash[MS_STORE_SHA256], ms_error *err);

/* SHA-256 of text into hash. */
int dir_sha256(unsigned char hash[MS_STORE_SHA256], const void *text,
               size_t len);

/* Route handlers of harvest.c and mail.c. */
int dir_post_harvest(const ms_http_request *req, ms_http_response *resp,
                     void *arg);
int dir_post_invitation(const ms_http_request *req, ms_http_response *resp,
                        void *arg);
int dir_post_unpublish(const ms_http_request *req, ms_http_response *resp,
                       void *arg);
/* Mailed links: GET shows a page whose button POSTs to the link, POST
 * uses it (mail.c). */
int dir_get_unpublish(const ms_http_request *req, ms_http_response *resp,
                      void *arg);
int dir_post_unpublish_link(const ms_http_request *req,
                            ms_http_response *resp, void *arg);
int dir_get_optout(const ms_http_request *req, ms_http_response *resp,
                   void *arg);
int dir_post_optout(const ms_http_request *req, ms_http_response *resp,
                    void *arg);

/* Sets up m->ctx and m->verifier (harvest.c). */
int dir_verifier_setup(dir_module *m, ms_error *err);

#endif
