/* checkpoint.c - the training checkpoint (see checkpoint.h): a model file with the
 * training state beside the model. */
#include "train/checkpoint.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "base/cursor.h"
#include "base/rng.h"
#include "base/wbuf.h"
#include "model/modelfile.h"

static const uint8_t CKPT_MAGIC[8] = {'M', 'L', 'H', 'E', 'P', 'C', 'K', 'P'};
#define CKPT_VERSION 1u
#define CKPT_FIXED 172u     /* bytes before the epoch records */
#define CKPT_EPOCH_FIELDS 7 /* doubles per epoch record */
#define CKPT_MAX_EPOCHS 1000000

int ckpt_key(const workflow *wf, char out[CKPT_KEY_LEN + 1], mlhep_err *e)
{
    json_t *d = json_deep_copy(wf->doc);
    if (!d)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    json_object_del(d, "name");
    json_object_del(d, "description");
    char *s = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    json_decref(d);
    if (!s)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    snprintf(out, CKPT_KEY_LEN + 1, "%016llx", (unsigned long long)XXH64(s, strlen(s), 0));
    free(s);
    return 0;
}

/* float32 little-endian array <-> floats */
static uint8_t *floats_le(const float *f, size_t n)
{
    uint8_t *b = malloc(n * 4 + 1);
    if (b)
        wbuf_store_lef32_array(b, f, n);
    return b;
}
static void le_floats(const uint8_t *b, size_t n, float *f)
{
    cursor c;
    cur_init(&c, b, n * 4);
    cur_lef32_array(&c, f, n);
}

/* The "resume" section, version 1. All integers little-endian, doubles as their IEEE
 * 754 bits in a little-endian u64.
 *
 *   offset  size  field
 *   0       8     magic, the ASCII bytes "MLHEPCKP"
 *   8       4     u32 section version = 1 (readers refuse any other)
 *   12      4     u32 epochs (passes) finished, E
 *   16      4     u32 passes in the run
 *   20      4     u32 flags: bit 0 = finished (early stopping fired), bit 1 = "best"
 *                 holds the best parameters; other bits 0 (readers refuse them)
 *   24      4     u32 epochs since the best
 *   28      4     u32 optimiser: 0 = Adam (sections opt.m and opt.v), 1 = SGD (opt.m)
 *   32      8     u64 optimiser steps taken
 *   40      32    4 x u64 the dropout RNG's xoshiro256** state
 *   72      8     f64 the best early-stopping criterion so far (+inf: none)
 *   80      8     u64 number of parameters (the "params" section's floats)
 *   88      16    the workflow hash, 16 ASCII hex digits (ckpt_key)
 *   104     64    the specs fingerprint of the inputs, 64 ASCII hex digits
 *   168     4     u32 number of epoch records R (= E)
 *   172     R*56  per epoch, 7 f64: loss, acc, auc, val_loss, val_acc, val_auc, seconds
 * The section ends exactly after the last record. */
static uint8_t *encode_state(mlp *m, const ckpt_state *s, const char *key, const char *fp, size_t *len)
{
    size_t n = CKPT_FIXED + (size_t)s->nep * CKPT_EPOCH_FIELDS * 8;
    uint8_t *b = calloc(1, n);
    if (!b)
        return NULL;
    rng r;
    mlp_get_rng(m, &r);
    memcpy(b, CKPT_MAGIC, 8);
    wbuf_store_le32(b + 8, CKPT_VERSION);
    wbuf_store_le32(b + 12, (uint32_t)s->epoch);
    wbuf_store_le32(b + 16, (uint32_t)s->epochs);
    wbuf_store_le32(b + 20, (s->finished ? 1u : 0u) | (s->have_best && s->best ? 2u : 0u));
    wbuf_store_le32(b + 24, (uint32_t)s->since_best);
    wbuf_store_le32(b + 28, mlp_opt_state(m, 1) ? 0u : 1u);
    wbuf_store_le64(b + 32, (uint64_t)mlp_steps(m));
    for (int i = 0; i < 4; i++)
        wbuf_store_le64(b + 40 + 8 * i, r.s[i]);
    wbuf_store_lef64(b + 72, s->best_val);
    wbuf_store_le64(b + 80, (uint64_t)mlp_n_params(m));
    memcpy(b + 88, key, CKPT_KEY_LEN);
    memcpy(b + 104, fp, 64);
    wbuf_store_le32(b + 168, (uint32_t)s->nep);
    uint8_t *p = b + CKPT_FIXED;
    for (int i = 0; i < s->nep; i++) {
        const report_epoch *x = &s->ep[i];
        double v[CKPT_EPOCH_FIELDS] = {x->loss, x->acc, x->auc, x->val_loss, x->val_acc, x->val_auc, x->seconds};
        for (int k = 0; k < CKPT_EPOCH_FIELDS; k++, p += 8)
            wbuf_store_lef64(p, v[k]);
    }
    *len = n;
    return b;
}

int ckpt_save(const char *path, mlp *m, const ckpt_state *s, const char *key, const char *fingerprint,
              const workflow *wf, const char *note, mlhep_err *e)
{
    uint8_t *buf = NULL, *st = NULL, *om = NULL, *ov = NULL, *best = NULL;
    size_t blen = 0, slen = 0, nt = mlp_n_trainable(m), np = mlp_n_params(m);
    char *doc = NULL;
    modelfile *mf = NULL;
    int rc = mlp_save_buffer(m, NULL, &buf, &blen, e);
    if (!rc)
        rc = modelfile_decode(buf, blen, &mf, e);
    if (rc)
        goto out;
    st = encode_state(m, s, key, fingerprint, &slen);
    om = floats_le(mlp_opt_state(m, 0), nt);
    ov = mlp_opt_state(m, 1) ? floats_le(mlp_opt_state(m, 1), nt) : NULL;
    best = s->have_best && s->best ? floats_le(s->best, np) : NULL;
    doc = json_dumps(wf->doc, JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (!st || !om || (mlp_opt_state(m, 1) && !ov) || (s->have_best && s->best && !best) || !doc) {
        rc = err_set(e, MLHEP_ENOMEM, "out of memory writing the checkpoint");
        goto out;
    }
    if ((rc = modelfile_add(mf, "resume", st, slen, e)) || (rc = modelfile_add(mf, "opt.m", om, nt * 4, e)) ||
        (ov && (rc = modelfile_add(mf, "opt.v", ov, nt * 4, e))) ||
        (best && (rc = modelfile_add(mf, "best", best, np * 4, e))) ||
        (rc = modelfile_add(mf, "workflow", doc, strlen(doc), e)) ||
        (note && *note && (rc = modelfile_add(mf, "note", note, strlen(note), e))))
        goto out;
    rc = modelfile_write(mf, path, e);
out:
    free(buf);
    free(st);
    free(om);
    free(ov);
    free(best);
    free(doc);
    modelfile_free(mf);
    return rc;
}

/* Parses the "resume" section's fixed part into s and info fields; the cursor is left
 * at the epoch records. */
typedef struct state_hdr {
    uint32_t epoch, epochs, flags, since_best, opt, nrec;
    uint64_t steps, nparams;
    rng r;
    double best_val;
    char key[CKPT_KEY_LEN + 1], fp[65];
} state_hdr;

static int parse_state(const modelfile *mf, state_hdr *h, cursor *c, const char *path, mlhep_err *e)
{
    size_t len;
    const uint8_t *p = modelfile_get(mf, "resume", &len);
    if (!p)
        return err_set(e, MLHEP_EFORMAT, "%s is a model file but no checkpoint (no \"resume\" section)", path);
    if (len < CKPT_FIXED || memcmp(p, CKPT_MAGIC, 8) != 0)
        return err_set(e, MLHEP_EFORMAT, "%s: the checkpoint's \"resume\" section is malformed", path);
    cur_init(c, p, len);
    cur_skip(c, 8);
    uint32_t ver = cur_le32(c);
    if (ver != CKPT_VERSION)
        return err_set(e, MLHEP_EUNSUPPORTED, "%s: checkpoint version %u is not supported (this build reads %u)",
                       path, ver, CKPT_VERSION);
    h->epoch = cur_le32(c);
    h->epochs = cur_le32(c);
    h->flags = cur_le32(c);
    h->since_best = cur_le32(c);
    h->opt = cur_le32(c);
    h->steps = cur_le64(c);
    for (int i = 0; i < 4; i++)
        h->r.s[i] = cur_le64(c);
    h->best_val = cur_lef64(c);
    h->nparams = cur_le64(c);
    const uint8_t *k = cur_take(c, CKPT_KEY_LEN), *f = cur_take(c, 64);
    h->nrec = cur_le32(c);
    if (!cur_ok(c) || !k || !f)
        return err_set(e, MLHEP_EFORMAT, "%s: the checkpoint's \"resume\" section is truncated", path);
    memcpy(h->key, k, CKPT_KEY_LEN);
    h->key[CKPT_KEY_LEN] = '\0';
    memcpy(h->fp, f, 64);
    h->fp[64] = '\0';
    if ((h->flags & ~3u) || h->opt > 1 || h->epoch > h->epochs || h->epochs > CKPT_MAX_EPOCHS ||
        h->nrec > h->epoch || cur_left(c) != (size_t)h->nrec * CKPT_EPOCH_FIELDS * 8 || h->steps > (uint64_t)INT64_MAX)
        return err_set(e, MLHEP_EFORMAT, "%s: the checkpoint's \"resume\" section is inconsistent", path);
    return 0;
}

static int read_file(const char *path, modelfile **mf, mlhep_err *e)
{
    int rc = modelfile_read(path, mf, e);
    if (rc == MLHEP_ENOTFOUND)
        return err_set(e, MLHEP_ENOTFOUND, "no checkpoint %s (a training keeps one once its first epoch is done)",
                       path);
    if (rc)
        return err_set(e, rc, "checkpoint unusable: %s", e->msg);
    return 0;
}

int ckpt_info_read(const char *path, ckpt_info *out, mlhep_err *e)
{
    memset(out, 0, sizeof *out);
    modelfile *mf;
    int rc = read_file(path, &mf, e);
    if (rc)
        return rc;
    state_hdr h;
    cursor c;
    rc = parse_state(mf, &h, &c, path, e);
    size_t wl = 0, nl = 0;
    const uint8_t *w = modelfile_get(mf, "workflow", &wl), *nb = modelfile_get(mf, "note", &nl);
    if (!rc && !w)
        rc = err_set(e, MLHEP_EFORMAT, "%s: the checkpoint has no \"workflow\" section", path);
    if (!rc && (!(out->workflow = malloc(wl + 1)) || (nb && !(out->note = malloc(nl + 1)))))
        rc = err_set(e, MLHEP_ENOMEM, "out of memory");
    if (!rc) {
        memcpy(out->workflow, w, wl);
        out->workflow[wl] = '\0';
        out->epoch = (int)h.epoch;
        out->epochs = (int)h.epochs;
        out->finished = (int)(h.flags & 1u);
        memcpy(out->key, h.key, sizeof out->key);
        memcpy(out->fingerprint, h.fp, sizeof out->fingerprint);
        if (nb) {
            memcpy(out->note, nb, nl);
            out->note[nl] = '\0';
        }
    }
    modelfile_free(mf);
    if (rc)
        ckpt_info_clear(out);
    return rc;
}

void ckpt_info_clear(ckpt_info *i)
{
    free(i->workflow);
    free(i->note);
    i->workflow = i->note = NULL;
}

int ckpt_load(const char *path, const char *key, const char *fingerprint, mlp *m, ckpt_state *s, mlhep_err *e)
{
    memset(s, 0, sizeof *s);
    modelfile *mf;
    int rc = read_file(path, &mf, e);
    if (rc)
        return rc;
    state_hdr h;
    cursor c;
    size_t nt = mlp_n_trainable(m), np = mlp_n_params(m), alen = 0, plen = 0, ml = 0, vl = 0, bl = 0;
    report_epoch *ep = NULL;
    float *best = NULL;
    char *arch = NULL;
    if ((rc = parse_state(mf, &h, &c, path, e)))
        goto out;
    if (strcmp(h.key, key) != 0) {
        rc = err_set(e, MLHEP_EINVAL, "%s was written for another workflow (hash %s, this one's is %s): a "
                     "checkpoint resumes only the workflow that wrote it", path, h.key, key);
        goto out;
    }
    if (strcmp(h.fp, fingerprint) != 0) {
        rc = err_set(e, MLHEP_EINVAL, "%s: the inputs changed since the checkpoint was written (a file's size or "
                     "modification time, or the data settings): resuming would not give the same result", path);
        goto out;
    }
    const uint8_t *ab = modelfile_get(mf, "arch", &alen), *pb = modelfile_get(mf, "params", &plen);
    const uint8_t *mb = modelfile_get(mf, "opt.m", &ml), *vb = modelfile_get(mf, "opt.v", &vl);
    const uint8_t *bb = modelfile_get(mf, "best", &bl);
    arch = mlp_arch_json(m);
    if (!arch) {
        rc = err_set(e, MLHEP_ENOMEM, "out of memory");
        goto out;
    }
    int adam = mlp_opt_state(m, 1) != NULL;
    if (!ab || alen != strlen(arch) || memcmp(ab, arch, alen) != 0 || h.nparams != np || (h.opt == 0) != adam) {
        rc = err_set(e, MLHEP_EINVAL, "%s holds another model architecture than the workflow builds", path);
        goto out;
    }
    if (!pb || plen != np * 4 || !mb || ml != nt * 4 || (adam && (!vb || vl != nt * 4)) ||
        ((h.flags & 2u) && (!bb || bl != np * 4))) {
        rc = err_set(e, MLHEP_EFORMAT, "%s: the checkpoint's sections do not match its model (%zu parameters)",
                     path, np);
        goto out;
    }
    ep = calloc(h.nrec + 1, sizeof *ep);
    best = (h.flags & 2u) ? malloc(np * 4) : NULL;
    if (!ep || ((h.flags & 2u) && !best)) {
        rc = err_set(e, MLHEP_ENOMEM, "out of memory");
        goto out;
    }
    for (uint32_t i = 0; i < h.nrec; i++) {
        report_epoch *x = &ep[i];
        x->loss = cur_lef64(&c);
        x->acc = cur_lef64(&c);
        x->auc = cur_lef64(&c);
        x->val_loss = cur_lef64(&c);
        x->val_acc = cur_lef64(&c);
        x->val_auc = cur_lef64(&c);
        x->seconds = cur_lef64(&c);
    }
    le_floats(pb, np, mlp_params(m));
    le_floats(mb, nt, mlp_opt_state(m, 0));
    if (adam)
        le_floats(vb, nt, mlp_opt_state(m, 1));
    if (best)
        le_floats(bb, np, best);
    mlp_set_steps(m, (long)h.steps);
    mlp_set_rng(m, &h.r);
    s->epoch = (int)h.epoch;
    s->epochs = (int)h.epochs;
    s->finished = (int)(h.flags & 1u);
    s->best_val = h.best_val;
    s->since_best = (int)h.since_best;
    s->have_best = best != NULL;
    s->best = best;
    s->ep = ep;
    s->nep = (int)h.nrec;
    best = NULL;
    ep = NULL;
out:
    free(arch);
    free(ep);
    free(best);
    modelfile_free(mf);
    return rc;
}

void ckpt_state_free(ckpt_state *s)
{
    free((void *)s->best);
    free((void *)s->ep);
    s->best = NULL;
    s->ep = NULL;
}
