/*
 * enroll/devices.c - the devices of the profile's mailbox: list
 * (GET /v1/devices) and revoke (DELETE /v1/devices/{id}) with the
 * profile's credential.
 */
#include <stdio.h>
#include <string.h>

#include "enroll/enroll_int.h"
#include "util/error.h"

#define LIST "listing the devices"
#define REVOKE "revoking the device"
#define MAX_SERIALS 64

/* The API client of an enrolled profile: its server and credential. */
static int
open_api(ms_enroll_api *a, char *self, size_t n, const ms_ctx *ctx,
         const ms_profile *p, ms_error *err)
{
    const char *url = ms_profile_get0_conf(p)->server_url;
    ms_buf token;
    int rc;

    ms_buf_init_secret(&token, MS_ENROLL_TOKEN_MAX);
    if ((rc = ms_enroll_api_init(a, ctx, url, err)) == MS_EINVAL)
        rc = ms_error_set(err, MS_ENOTFOUND,
                          "the profile has no server (server_url): "
                          "mailseal enroll");
    if (rc == 0 && (rc = ms_enroll_cred_load(&token, self, n, p, err)) == 0)
        rc = ms_enroll_api_set_token(a, (const char *)token.data, err);
    ms_buf_cleanup(&token);
    return rc;
}

/* Calls fn for one entry of the devices array. */
static int
one_device(json_t *d, const char *self, ms_enroll_device_fn fn, void *arg,
           ms_error *err)
{
    const char *serials[MAX_SERIALS];
    json_t *certs = json_object_get(d, "certificates");
    ms_enroll_device dev = {0};
    size_t n = json_array_size(certs);

    dev.id = json_string_value(json_object_get(d, "id"));
    dev.name = json_string_value(json_object_get(d, "name"));
    dev.created = json_string_value(json_object_get(d, "created"));
    dev.revoked = json_string_value(json_object_get(d, "revoked"));
    if (dev.id == NULL || dev.name == NULL || dev.created == NULL ||
        n > MAX_SERIALS)
        return ms_error_set(err, MS_EMALFORMED, "%s: a malformed device",
                            LIST);
    for (size_t i = 0; i < n; i++) {
        serials[i] = json_string_value(json_array_get(certs, i));
        if (serials[i] == NULL)
            return ms_error_set(err, MS_EMALFORMED,
                                "%s: a malformed serial", LIST);
    }
    dev.serials = serials;
    dev.nserials = n;
    dev.self = strcmp(dev.id, self) == 0;
    return fn(&dev, arg);
}

int
ms_enroll_devices(const ms_ctx *ctx, ms_profile *p, ms_enroll_device_fn fn,
                  void *arg, ms_error *err)
{
    char self[MS_ENROLL_ID_MAX + 1] = "";
    ms_enroll_req q = {"GET", "/v1/devices", NULL, NULL, 0, true, 200, LIST, 0};
    ms_enroll_api a;
    ms_http_reply r;
    json_t *o = NULL, *list;
    int rc;

    ms_http_reply_init(&r);
    if ((rc = open_api(&a, self, sizeof(self), ctx, p, err)) != 0 ||
        (rc = ms_enroll_api_call(&r, &a, &q, err)) != 0 ||
        (rc = ms_enroll_api_json(&o, &r, LIST, err)) != 0)
        goto out;
    list = json_object_get(o, "devices");
    if (!json_is_array(list)) {
        rc = ms_error_set(err, MS_EMALFORMED, "%s: no \"devices\"", LIST);
        goto out;
    }
    for (size_t i = 0; rc == 0 && i < json_array_size(list); i++)
        rc = one_device(json_array_get(list, i), self, fn, arg, err);
out:
    json_decref(o);
    ms_http_reply_cleanup(&r);
    ms_enroll_api_cleanup(&a);
    return rc;
}

int
ms_enroll_revoke(const ms_ctx *ctx, ms_profile *p, const char *id,
                 ms_error *err)
{
    char self[MS_ENROLL_ID_MAX + 1] = "", path[MS_ENROLL_ID_MAX + 32];
    ms_enroll_req q = {"DELETE", path, NULL, NULL, 0, true, 204, REVOKE, 0};
    ms_enroll_api a;
    ms_http_reply r;
    size_t n = id != NULL ? strlen(id) : 0;
    int rc;

    ms_http_reply_init(&r);
    memset(&a, 0, sizeof(a));
    ms_buf_init_secret(&a.auth, 1);
    if (n == 0 || n > MS_ENROLL_ID_MAX || strspn(id,
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
            "0123456789_-") != n) {
        rc = ms_error_set(err, MS_EINVAL, "not a device id");
        goto out;
    }
    (void)snprintf(path, sizeof(path), "/v1/devices/%s", id); /* fits */
    ms_enroll_api_cleanup(&a);
    if ((rc = open_api(&a, self, sizeof(self), ctx, p, err)) != 0)
        goto out;
    rc = ms_enroll_api_call(&r, &a, &q, err);
    if (rc != 0 && r.status == 409)
        rc = ms_error_set(err, MS_EPOLICY, "device %s is revoked already",
                          id);
    else if (rc != 0 && r.status == 404)
        rc = ms_error_set(err, MS_ENOTFOUND,
                          "no device %s of this mailbox (see mailseal "
                          "devices)",
                          id);
out:
    ms_http_reply_cleanup(&r);
    ms_enroll_api_cleanup(&a);
    return rc;
}
