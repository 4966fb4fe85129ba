/*
 * policy/judge.h - judging the SignerInfos of one CMS SignedData.
 */
#ifndef MS_POLICY_JUDGE_H
#define MS_POLICY_JUDGE_H

#include "policy/result.h"

typedef struct ms_judge_in {
    const ms_verifier *v;
    const unsigned char *der; /* the SignedData ContentInfo */
    size_t derlen;
    const unsigned char *content; /* detached content, or NULL (opaque) */
    size_t clen;
    const char *from;     /* the From addr-spec, or NULL */
    const char *from_why; /* why there is none */
    time_t now;           /* verification time */
} ms_judge_in;

/*
 * Judges every SignerInfo alone; ev receives the worst. For an opaque
 * signature, content_out (may be NULL) receives the encapsulated content.
 * Warnings go to r.
 */
void ms_judge_signed(ms_signer_eval *ev, const ms_judge_in *in,
                     ms_buf *content_out, ms_result *r);

void ms_signer_eval_cleanup(ms_signer_eval *ev);

#endif
