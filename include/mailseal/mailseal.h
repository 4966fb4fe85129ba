/* mailseal/mailseal.h - the umbrella header of libmailseal. */
#ifndef MAILSEAL_MAILSEAL_H
#define MAILSEAL_MAILSEAL_H

#include <mailseal/buf.h>
#include <mailseal/ctx.h>
#include <mailseal/error.h>
#include <mailseal/export.h>
#include <mailseal/identity.h>
#include <mailseal/smime.h>
#include <mailseal/verify.h>

/* Library version string, e.g. "0.1.0". */
MS_EXPORT const char *ms_version(void);

/*
 * Once per program, before any other call: initialises GMime and OpenSSL.
 * Not thread safe; ms_library_cleanup() at exit (optional).
 */
MS_EXPORT int ms_library_init(ms_error *err);
MS_EXPORT void ms_library_cleanup(void);

#endif
