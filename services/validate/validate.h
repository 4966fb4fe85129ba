/*
 * services/validate/validate.h - the validate module's state, shared by
 * its two files: routes.c (mailbox validations: the challenge mail, the
 * code, the link, the device credential) and devices.c (certificates for a
 * device, the device list, device revocation).
 *
 * Ownership: the module owns vmod (validate_start / validate_stop).
 * Thread safety: vmod is immutable after start except the limiter, which
 * locks itself; store handles are per thread (service.h).
 */
#ifndef MS_SERVICES_VALIDATE_H
#define MS_SERVICES_VALIDATE_H

#include "ca/hierarchy.h"
#include "config/daemon.h"
#include "util/ratelimit.h"
#include "mail/submit.h"
#include "net/server.h"

typedef struct vmod {
    ms_daemon_config *cfg; /* a reference, for public_url and limits */
    const ms_ca *ca;       /* ms_service_ca_acquire() */
    bool store;            /* ms_service_store_acquire() done */
    ms_submit_config submit;
    ms_ratelimit *lim; /* per client address, per mailbox (hourly) */
} vmod;

/* devices.c: POST /v1/certificates, GET /v1/devices, DELETE
 * /v1/devices/{id}. */
int vd_post_certificate(const ms_http_request *req, ms_http_response *resp,
                        void *arg);
int vd_get_devices(const ms_http_request *req, ms_http_response *resp,
                   void *arg);
int vd_delete_device(const ms_http_request *req, ms_http_response *resp,
                     void *arg);

/* True when s is 1..MS_STORE_ID_MAX characters of [A-Za-z0-9_-]. */
bool vd_id_ok(const char *s, size_t len);

#endif
