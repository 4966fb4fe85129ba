/* policy/open.c - decrypt when needed, find the signature, judge it. */
#include <string.h>

#include <openssl/err.h>

#include "cms/cms.h"
#include "ctx.h"
#include "mime/addr.h"
#include "mime/body.h"
#include "mime/build.h"
#include "mime/mime.h"
#include "policy/judge.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/error.h"

#define MS_MAX_LAYERS 4

typedef struct opening {
    ms_ctx *ctx;
    const ms_verifier *v;
    const ms_identity *id;
    ms_result *r;
    const unsigned char *data; /* the message as it stands: the caller's */
    size_t len;                /* or, once decrypted, cur's bytes */
    ms_buf cur;       /* the decrypted message (secret: wiped when freed) */
    ms_buf clear;     /* what the reader gets */
    bool want_clear;  /* does the caller want it at all? */
    bool clear_set;   /* clear holds an unwrapped message */
    ms_signer_eval ev;
    bool have_ev;
    time_t now;
} opening;

static bool
is_encrypted(const ms_mime_part *p)
{
    if (!ms_mime_is_pkcs7_mime(p))
        return false;
    return p->smime_type == NULL ||
           strcmp(p->smime_type, "enveloped-data") == 0 ||
           strcmp(p->smime_type, "authenveloped-data") == 0;
}

static bool
is_opaque_signed(const ms_mime_part *p)
{
    return ms_mime_is_pkcs7_mime(p) && p->smime_type != NULL &&
           (strcmp(p->smime_type, "signed-data") == 0);
}

/* Is an untyped pkcs7-mime body SignedData? */
static bool
sniff_signed(const ms_mime *m, const ms_mime_part *p)
{
    ms_buf der;
    CMS_ContentInfo *cms = NULL;
    bool yes = false;

    ms_buf_init(&der, m->len);
    if (ms_mime_body_decoded(&der, m, p, NULL) == 0 &&
        ms_cms_parse(&cms, der.data, der.len, NULL) == 0)
        yes = OBJ_obj2nid(CMS_get0_type(cms)) == NID_pkcs7_signed;
    CMS_ContentInfo_free(cms);
    ms_buf_cleanup(&der);
    ERR_clear_error();
    return yes;
}

/* Decrypts the message into o->cur. Returns false when the verdict is
 * settled. */
static bool
decrypt_layer(opening *o)
{
    ms_buf plain;
    ms_error err;
    const char *cipher = NULL;
    int rc;

    o->r->encrypted = true;
    if (o->id == NULL) {
        ms_result_set(o->r, MS_VERDICT_ERROR,
                      "encrypted: use open with a key");
        return false;
    }
    ms_buf_init_secret(&plain, o->ctx->limits.max_message);
    rc = ms_decrypt(&plain, o->ctx, o->id, o->data, o->len, &cipher, &err);
    if (rc == MS_EBADSIG)
        ms_result_set(o->r, MS_VERDICT_INVALID,
                      "decryption failed: wrong key or tampered ciphertext");
    else if (rc != 0)
        ms_result_set(o->r, MS_VERDICT_ERROR, "%s", err.msg);
    else {
        /* The previous layer is no longer looked at: o->data moves on. */
        o->r->cipher = cipher;
        ms_buf_move(&o->cur, &plain);
        o->data = o->cur.data;
        o->len = o->cur.len;
    }
    ms_buf_cleanup(&plain);
    return rc == 0;
}

static void
judge_der(opening *o, const ms_mime *m, const unsigned char *der,
          size_t derlen, const unsigned char *content, size_t clen,
          ms_buf *content_out)
{
    ms_judge_in in;
    char *from = NULL;
    const char *why = NULL;
    int rc;

    memset(&in, 0, sizeof(in));
    if (o->r->from == NULL) {
        rc = ms_mime_from(&from, m, &why);
        if (rc == MS_ENOMEM) {
            ms_result_set(o->r, MS_VERDICT_ERROR, "out of memory");
            return;
        }
        if (rc == 0)
            o->r->from = from;
    }
    in.v = o->v;
    in.der = der;
    in.derlen = derlen;
    in.content = content;
    in.clen = clen;
    in.from = o->r->from;
    in.from_why = why != NULL ? why : "the From field is unusable";
    in.now = o->now;
    if (o->have_ev)
        ms_signer_eval_cleanup(&o->ev);
    ms_judge_signed(&o->ev, &in, content_out, o->r);
    o->have_ev = true;
    o->r->verdict = o->ev.verdict;
    memcpy(o->r->reason, o->ev.reason, sizeof(o->r->reason));
}

/* multipart/signed at index idx of m. */
static void
judge_detached(opening *o, const ms_mime *m, int idx)
{
    const ms_mime_part *p = &m->parts[idx];
    const ms_mime_part *c1, *c2;
    const unsigned char *cdata;
    size_t clen;
    ms_buf content, der;
    int rc = 0;

    if (!ms_mime_is_pkcs7_signature(p->protocol)) {
        ms_result_set(o->r, MS_VERDICT_UNSIGNED, NULL);
        (void)ms_result_warn(o->r, "a multipart/signed with protocol %s is "
                             "not S/MIME and was not checked",
                             p->protocol != NULL ? p->protocol : "(none)");
        return;
    }
    if (p->first_child < 0 || (c1 = &m->parts[p->first_child])->next < 0 ||
        (c2 = &m->parts[c1->next])->next >= 0 ||
        !ms_mime_is_pkcs7_signature(c2->type)) {
        ms_result_set(o->r, MS_VERDICT_INVALID,
                      "malformed multipart/signed (want exactly the content "
                      "and one pkcs7-signature part)");
        return;
    }
    ms_buf_init(&content, 0);
    ms_buf_init(&der, m->len);
    /* The signed bytes, canonical (CRLF): the part itself when it is. */
    cdata = m->data + c1->start;
    clen = c1->end - c1->start;
    if (ms_mime_has_bare_lf(cdata, clen)) {
        rc = ms_mime_canon_crlf(&content, cdata, clen);
        cdata = content.data;
        clen = content.len;
    }
    if (rc != 0 || ms_mime_body_decoded(&der, m, c2, NULL) != 0)
        ms_result_set(o->r, MS_VERDICT_ERROR,
                      "the signature part cannot be decoded");
    else
        judge_der(o, m, der.data, der.len, cdata, clen, NULL);
    ms_buf_cleanup(&content);
    ms_buf_cleanup(&der);
}

/* application/pkcs7-mime signed-data at index idx; unwraps into clear. */
static void
judge_opaque(opening *o, const ms_mime *m, int idx, bool top)
{
    ms_buf der, entity, outer;

    ms_buf_init(&der, m->len);
    ms_buf_init(&entity, o->ctx->limits.max_message);
    ms_buf_init(&outer, 0);
    if (ms_mime_body_decoded(&der, m, &m->parts[idx], NULL) != 0) {
        ms_result_set(o->r, MS_VERDICT_ERROR,
                      "the signed-data part cannot be decoded");
        goto out;
    }
    judge_der(o, m, der.data, der.len, NULL, 0, &entity);
    if (top && o->want_clear && entity.len > 0 &&
        ms_build_split(&outer, NULL, m, false) == 0) {
        o->clear_set = true;
        if (ms_build_join(&o->clear, &outer, entity.data, entity.len) != 0)
            ms_result_set(o->r, MS_VERDICT_ERROR, "message too large");
    }
out:
    ms_buf_cleanup(&der);
    ms_buf_cleanup(&entity);
    ms_buf_cleanup(&outer);
}

/* Judges the nested signed part idx into o->ev and o->r. */
static void
judge_part(opening *o, const ms_mime *m, int idx)
{
    if (o->have_ev) {
        ms_signer_eval_cleanup(&o->ev);
        o->have_ev = false;
    }
    if (strcmp(m->parts[idx].type, "multipart/signed") == 0)
        judge_detached(o, m, idx);
    else
        judge_opaque(o, m, idx, false);
}

/* No signature over the top: judge every signed part further down (not
 * those inside a forwarded message); the worst one counts, whatever the
 * order of the parts. */
static void
judge_nested(opening *o, const ms_mime *m)
{
    ms_signer_eval worst;
    char reason[sizeof(o->r->reason)] = "";
    ms_verdict wv = MS_VERDICT_UNSIGNED;
    bool have_worst = false, judged = false;
    unsigned nsigned = 0, forwarded = 0;

    memset(&worst, 0, sizeof(worst));
    for (size_t i = 1; i < m->nparts && wv != MS_VERDICT_ERROR; i++) {
        const ms_mime_part *p = &m->parts[i];

        if (strcmp(p->type, "multipart/signed") != 0 && !is_opaque_signed(p))
            continue;
        if (p->in_rfc822) {
            forwarded++;
            continue;
        }
        if (++nsigned > o->ctx->limits.max_signers) {
            wv = MS_VERDICT_ERROR;
            (void)snprintf(reason, sizeof(reason), "more than %u signed "
                           "parts", o->ctx->limits.max_signers);
            break;
        }
        judge_part(o, m, (int)i);
        /* A part that is not S/MIME (unsigned, with a warning) is no
         * signature: it neither hides nor outranks the others. */
        if (o->r->verdict == MS_VERDICT_UNSIGNED ||
            (judged && o->r->verdict <= wv))
            continue;
        judged = true;
        wv = o->r->verdict;
        memcpy(reason, o->r->reason, sizeof(reason));
        if (have_worst)
            ms_signer_eval_cleanup(&worst);
        have_worst = o->have_ev;
        if (o->have_ev) {
            worst = o->ev; /* the certificate reference moves too */
            o->have_ev = false;
        }
    }
    if (o->have_ev) {
        ms_signer_eval_cleanup(&o->ev);
        o->have_ev = false;
    }
    if (have_worst) {
        o->ev = worst;
        o->have_ev = true;
    }
    o->r->verdict = wv;
    memcpy(o->r->reason, reason, sizeof(reason));
    if (forwarded > 0)
        (void)ms_result_warn(o->r, "a forwarded message inside carries a "
                             "signature; it does not vouch for this "
                             "message's sender");
    if (judged && o->r->verdict < MS_VERDICT_PARTIAL) {
        o->r->verdict = MS_VERDICT_PARTIAL;
        (void)ms_result_warn(o->r, "only a nested part is signed: text "
                             "around it or the part's position is not "
                             "covered by the signature");
    }
}

/* Unless an unwrapped message is there already, the reader gets the
 * message as it stands: the decrypted one moves, the caller's is copied. */
static void
set_clear(opening *o)
{
    if (!o->want_clear || o->clear_set)
        return;
    if (o->cur.data != NULL && o->data == o->cur.data
            ? ms_buf_take(&o->clear, &o->cur) != 0
            : ms_buf_append(&o->clear, o->data, o->len) != 0)
        ms_result_set(o->r, MS_VERDICT_ERROR, "message too large");
}

static void
judge_message(opening *o)
{
    ms_mime m;
    ms_error err;
    const ms_mime_part *top;

    for (int layer = 0;; layer++) {
        if (ms_mime_parse(&m, o->ctx, o->data, o->len, &err) != 0) {
            ms_result_set(o->r, MS_VERDICT_ERROR, "%s", err.msg);
            return;
        }
        top = &m.parts[0];
        if (!is_encrypted(top) || (top->smime_type == NULL &&
                                   sniff_signed(&m, top)))
            break;
        ms_mime_cleanup(&m);
        if (layer >= MS_MAX_LAYERS) {
            ms_result_set(o->r, MS_VERDICT_ERROR, "too many layers");
            return;
        }
        if (!decrypt_layer(o))
            return;
    }
    if (strcmp(top->type, "multipart/signed") == 0) {
        judge_detached(o, &m, 0);
    } else if (is_opaque_signed(top) || ms_mime_is_pkcs7_mime(top)) {
        judge_opaque(o, &m, 0, true);
    } else {
        judge_nested(o, &m);
    }
    if (o->r->verdict == MS_VERDICT_UNSIGNED && o->r->cipher != NULL &&
        strstr(o->r->cipher, "cbc") != NULL)
        (void)ms_result_warn(o->r, "encrypted with %s but not signed: the "
                             "content's integrity is not protected",
                             o->r->cipher);
    if (o->r->from == NULL) {
        char *from = NULL;
        const char *why;
        int rc = ms_mime_from(&from, &m, &why);

        if (rc == 0)
            o->r->from = from;
        else if (rc == MS_ENOMEM)
            ms_result_set(o->r, MS_VERDICT_ERROR, "out of memory");
    }
    ms_mime_cleanup(&m);
    set_clear(o);
}

int
ms_open(ms_result **out, ms_buf *cleartext, ms_ctx *ctx, const ms_verifier *v,
        const ms_identity *id, const void *msg, size_t len, ms_error *err)
{
    opening o;
    int rc;

    memset(&o, 0, sizeof(o));
    if ((o.r = ms_calloc(1, sizeof(*o.r))) == NULL)
        return ms_error_set(err, MS_ENOMEM, "out of memory");
    o.ctx = ctx;
    o.v = v;
    o.id = id;
    o.now = v->has_time ? v->at : ms_ctx_now(ctx);
    o.data = msg;
    o.len = len;
    o.want_clear = cleartext != NULL;
    ms_buf_init_secret(&o.cur, ctx->limits.max_message);
    ms_buf_init(&o.clear, 0);
    o.r->verdict = MS_VERDICT_UNSIGNED;
    if (len > ctx->limits.max_message)
        ms_result_set(o.r, MS_VERDICT_ERROR, "message over %zu bytes",
                      ctx->limits.max_message);
    else
        judge_message(&o);
    if ((rc = ms_result_finish(o.r, o.have_ev ? &o.ev : NULL)) != 0) {
        ms_result_free(o.r);
        o.r = NULL;
        rc = ms_error_set(err, rc, "out of memory");
    }
    if (cleartext != NULL) {
        ms_buf_reset(cleartext);
        if (o.clear.len > 0)
            ms_buf_move(cleartext, &o.clear);
        else if (o.r != NULL && o.r->verdict == MS_VERDICT_ERROR &&
                 !o.r->encrypted)
            (void)ms_buf_append(cleartext, msg, len); /* lose nothing */
    }
    if (o.have_ev)
        ms_signer_eval_cleanup(&o.ev);
    ms_buf_cleanup(&o.cur);
    ms_buf_cleanup(&o.clear);
    *out = o.r;
    return rc;
}
