/*
 * services/common/http_error.h - the one place mapping an ms_status to an
 * HTTP status for the daemon (STYLE.md 4): 4xx for input and policy,
 * MS_ETEMP -> 503 (the server adds Retry-After), MS_ELIMIT -> 429 (the
 * route adds the Retry-After ms_ratelimit_hit() gave), else 500 without
 * internals. Stateless and thread safe.
 */
#ifndef MS_SERVICES_HTTP_ERROR_H
#define MS_SERVICES_HTTP_ERROR_H

/*
 * HTTP status for code; *public_msg gets a fixed public message. Matches
 * ms_http_error_map (net/server.h).
 */
int ms_http_error_status(int code, const char **public_msg);

#endif
