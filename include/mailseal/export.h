/* mailseal/export.h - symbol visibility for the public API. */
#ifndef MAILSEAL_EXPORT_H
#define MAILSEAL_EXPORT_H

#if defined(__GNUC__)
#define MS_EXPORT __attribute__((visibility("default")))
#else
#define MS_EXPORT
#endif

#endif
