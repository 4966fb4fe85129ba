/* services/common/device_auth.c - device tokens and JSON bodies (see .h). */
#include "device_auth.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/log.h"
#include "common/service.h"
#include "util/alloc.h"
#include "util/error.h"

#define JSON_TYPE "application/json"
/* "ms1_" and 43 base64url characters of 32 bytes. */
#define TOKEN_LEN 47

void
ms_device_sha256(unsigned char md[MS_STORE_SHA256], const void *data,
                 size_t len)
{
    unsigned int n = 0;

    if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) ||
        n != MS_STORE_SHA256)
        memset(md, 0xff, MS_STORE_SHA256); /* matches no stored hash */
}

static int
unauthorised(ms_http_response *resp, const char *msg)
{
    int rc;

    if ((rc = ms_http_response_add_header(resp, "WWW-Authenticate",
                                          "Bearer")) != 0 ||
        (rc = ms_http_response_error(resp, 401, msg)) != 0)
        return rc;
    return 1;
}

int
ms_device_auth(const ms_http_request *req, ms_http_response *resp, ms_store *st,
               ms_store_device *out)
{
    unsigned char md[MS_STORE_SHA256];
    const char *h = ms_http_request_header(req, "Authorization");
    ms_error err;
    int rc;

    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
        return unauthorised(resp, "missing device bearer token");
    h += 7;
    while (*h == ' ')
        h++;
    if (strlen(h) != TOKEN_LEN || strncmp(h, "ms1_", 4) != 0)
        return unauthorised(resp, "missing or wrong device bearer token");
    /* The exact lookup is by a hash of the token: no timing on the token. */
    ms_device_sha256(md, h, TOKEN_LEN);
    rc = ms_store_device_by_token(st, md, out, &err);
    ms_wipe(md, sizeof(md));
    if (rc == MS_ENOTFOUND || (rc == 0 && out->revoked_at != 0)) {
        ms_log(MS_LOGLEVEL_INFO, req->request_id,
               "refused a device token (unknown or revoked) peer=%s",
               req->peer);
        return unauthorised(resp, "missing or wrong device bearer token");
    }
    if (rc != 0)
        ms_log(MS_LOGLEVEL_ERROR, req->request_id, "device: %s", err.msg);
    return rc;
}

int
ms_device_proven(ms_http_response *resp, ms_store *st,
                 const ms_store_device *device)
{
    time_t at = 0;
    ms_error err;
    int rc;

    rc = ms_store_mailbox_proven_at(st, device->email, &at, &err);
    if (rc == MS_ENOTFOUND ||
        (rc == 0 && time(NULL) - at > (time_t)MS_DEVICE_PROOF_DAYS * 86400)) {
        rc = ms_http_response_error(resp, 403, "revalidate");
        return rc != 0 ? rc : 1;
    }
    if (rc != 0)
        ms_log_err("device: %s", err.msg);
    return rc;
}

int
ms_device_json_body(const ms_http_request *req, ms_http_response *resp,
                    json_t **body)
{
    json_error_t jerr;
    int rc;

    *body = NULL;
    if (!ms_service_content_type_is(req, JSON_TYPE)) {
        rc = ms_service_reply_415(resp, JSON_TYPE);
        return rc != 0 ? rc : 1;
    }
    *body = json_loadb((const char *)req->body, req->body_len,
                       JSON_REJECT_DUPLICATES, &jerr);
    if (*body == NULL || !json_is_object(*body)) {
        json_decref(*body);
        *body = NULL;
        rc = ms_http_response_error(resp, 400, "body is not a JSON object");
        return rc != 0 ? rc : 1;
    }
    return 0;
}

int
ms_device_b64url(ms_buf *out, const unsigned char *data, size_t len)
{
    static const char a[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        "0123456789-_";
    unsigned long v = 0;
    int bits = 0, rc;
    char c;

    for (size_t i = 0; i < len; i++) {
        v = (v << 8) | data[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            c = a[(v >> bits) & 63u];
            if ((rc = ms_buf_append(out, &c, 1)) != 0)
                return rc;
        }
    }
    if (bits > 0) {
        c = a[(v << (6 - bits)) & 63u];
        return ms_buf_append(out, &c, 1);
    }
    return 0;
}

int
ms_device_random_id(char *out, size_t n, ms_error *err)
{
    unsigned char r[16];
    ms_buf b;
    int rc;

    if (RAND_bytes(r, sizeof(r)) != 1)
        return ms_error_set_ossl(err, MS_ERR, "no randomness");
    ms_buf_init(&b, 64);
    if ((rc = ms_device_b64url(&b, r, sizeof(r))) == 0 && b.len + 1 > n)
        rc = MS_ETOOBIG;
    if (rc == 0)
        memcpy(out, b.data, b.len + 1);
    else
        rc = ms_error_set(err, rc, "id");
    ms_buf_cleanup(&b);
    return rc;
}

void
ms_device_time(char *out, size_t n, time_t t)
{
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL ||
        strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        (void)snprintf(out, n, "%s", "1970-01-01T00:00:00Z");
}
