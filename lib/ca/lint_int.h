/*
 * ca/lint_int.h - what the certificate linter (lint.c) and the CRL and
 * OCSP-response linter (lint_rev.c) share. Private to lib/ca; stateless,
 * safe from any thread.
 */
#ifndef MS_CA_LINT_INT_H
#define MS_CA_LINT_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "ca/lint.h"

/* True when nid is one of the n entries of set. */
bool ms_lint_nid_in(int nid, const int *set, size_t n);

/* Records rule id's failure why (NULL: passed) in rep: counts it, and
 * keeps "<id>: <why>" of the first one. */
void ms_lint_report_add(ms_lint_report *rep, const char *id, const char *why);

#endif
