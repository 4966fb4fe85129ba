/*
 * services/common/device_auth.h - what the validate and kms modules share:
 * the device bearer token (`Authorization: Bearer ms1_...`, found in the
 * store by its SHA-256), JSON request bodies, random URL-safe ids and
 * base64url.
 *
 * Ownership: outputs go to caller storage; json_t bodies are the caller's
 * (json_decref). Thread safety: no shared state; the store handle is the
 * calling thread's (service.h).
 */
#ifndef MS_SERVICES_DEVICE_AUTH_H
#define MS_SERVICES_DEVICE_AUTH_H

#include <jansson.h>
#include <stddef.h>

#include <mailseal/error.h>

#include "net/server.h"
#include "store/store_id.h"

/* Days a proof of the mailbox is good for (certificates, escrowed keys). */
#define MS_DEVICE_PROOF_DAYS 30

/*
 * *out = the active device whose token the request's Authorization header
 * carries. Returns 0; 1 when resp is already the answer (401 with
 * WWW-Authenticate: no or unknown or revoked token); or a negative
 * ms_status (store failure).
 */
int ms_device_auth(const ms_http_request *req, ms_http_response *resp,
                   ms_store *st, ms_store_device *out);

/*
 * 0 when device's mailbox was proven within MS_DEVICE_PROOF_DAYS; 1 when
 * resp is already the answer (403 "revalidate"); a negative ms_status.
 */
int ms_device_proven(ms_http_response *resp, ms_store *st,
                     const ms_store_device *device);

/*
 * *body = the request's JSON object (Content-Type application/json, at
 * most the server's max_body). Returns 0; 1 when resp is the answer (415,
 * 400); a negative ms_status.
 */
int ms_device_json_body(const ms_http_request *req, ms_http_response *resp,
                        json_t **body);

/* Appends base64url (no padding) of len bytes to out. MS_ENOMEM. */
int ms_device_b64url(ms_buf *out, const unsigned char *data, size_t len);

/* out (n >= 23) = a random 128-bit id in base64url. MS_ERR, MS_ETOOBIG. */
int ms_device_random_id(char *out, size_t n, ms_error *err);

/* md = SHA-256(data). */
void ms_device_sha256(unsigned char md[MS_STORE_SHA256], const void *data,
                      size_t len);

/* RFC 3339 UTC time of t into out (n >= 21). */
void ms_device_time(char *out, size_t n, time_t t);

#endif
