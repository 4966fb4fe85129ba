/*
 * services/ca/ca.h - the ca module of mailseald (inside the module only):
 * routes.c serves the CA certificates and starts the module, admin.c the
 * token-protected POST /ca/issue and /ca/revoke.
 *
 * The state is immutable after start except the config slot, swapped by
 * reload (cert_validity_days is reloadable); handlers take a reference
 * for their call.
 */
#ifndef MS_SERVICES_CA_CA_H
#define MS_SERVICES_CA_CA_H

#include <stdbool.h>

#include <mailseal/buf.h>

#include "common/module.h"
#include "common/service.h"

#define CA_NCERTS 5 /* root, v1..v4 */

typedef struct ca_module {
    const ms_ca *ca; /* shared (ms_service_ca_acquire) */
    bool store;      /* ms_service_store_acquire() done */
    bool admin;      /* admin_token_file named: admin routes on */
    bool slot_ready; /* cfg_slot initialised */
    unsigned char token_digest[32];
    ms_service_slot cfg_slot; /* the ms_daemon_config in force */
    ms_buf der[CA_NCERTS];    /* DER of root, v1..v4 */
    ms_buf chain_pem;         /* every CA certificate, PEM */
} ca_module;

/* Adds POST /ca/issue and /ca/revoke (admin.c). */
int ca_admin_routes(ca_module *m, ms_http_server *server, ms_error *err);

#endif
