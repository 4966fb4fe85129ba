/*
 * services/common/health.c - the built-in health module: GET (and HEAD)
 * /healthz -> 200 {"status":"ok","modules":[...],"version":"..."}.
 *
 * The answer never changes while the daemon runs (modules change only at a
 * restart), so it is built once at start and served from the module's
 * state without a copy (ms_http_response_set_borrowed; the state outlives
 * the server's connections, see module.h).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include <mailseal/mailseal.h>

#include "module.h"
#include "util/alloc.h"
#include "util/error.h"

typedef struct health {
    char *json; /* the answer, NUL-terminated */
} health;

static int
healthz(const ms_http_request *req, ms_http_response *resp, void *arg)
{
    const health *h = arg;
    int rc;

    (void)req;
    resp->content_type = "application/json";
    if ((rc = ms_http_response_add_header(resp, "Cache-Control", "no-store")) !=
        0)
        return rc;
    ms_http_response_set_borrowed(resp, h->json, strlen(h->json), NULL, NULL);
    return 0;
}

static int
build_json(char **out, const ms_module_ctx *ctx, ms_error *err)
{
    json_t *o = NULL, *mods;
    char *text = NULL;
    int rc = 0;

    if ((mods = json_array()) == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    for (size_t i = 0; i < ctx->nmodules; i++) {
        if (json_array_append_new(mods, json_string(ctx->modules[i])) != 0) {
            json_decref(mods);
            return ms_error_set(err, MS_ENOMEM, "out of memory");
        }
    }
    /* "o" steals mods, also when json_pack fails. */
    o = json_pack("{s:s, s:o, s:s}", "status", "ok", "modules", mods, "version",
                  ms_version());
    if (o == NULL || (text = json_dumps(o, JSON_COMPACT)) == NULL) {
        rc = ms_error_set(err, MS_ENOMEM, "out of memory");
        goto out;
    }
    if ((*out = ms_malloc(strlen(text) + 2)) == NULL) {
        rc = ms_error_set(err, MS_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(*out, text, strlen(text));
    memcpy(*out + strlen(text), "\n", 2);
out:
    free(text); /* from jansson's allocator (malloc) */
    json_decref(o);
    return rc;
}

static int
health_start(void **state, const ms_module_ctx *ctx, ms_error *err)
{
    health *h;
    int rc;

    if ((h = ms_calloc(1, sizeof(*h))) == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    if ((rc = build_json(&h->json, ctx, err)) != 0)
        goto out;
    rc = ms_http_server_route(ctx->server, MS_HTTP_GET, "/healthz", false,
                              healthz, h, err);
out:
    if (rc != 0) {
        ms_free(h->json);
        ms_free(h);
        return rc;
    }
    *state = h;
    return 0;
}

static void
health_stop(void *state)
{
    health *h = state;

    if (h == NULL)
        return;
    ms_free(h->json);
    ms_free(h);
}

const ms_module ms_module_health = {"health", true, health_start, NULL,
                                    health_stop};
