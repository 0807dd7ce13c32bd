/* colreq.c - see colreq.h. */
#include "infer/colreq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "base/cursor.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "colreq.c reads little-endian values in place: port the value loads for this host"
#endif

static const struct {
    const char *name;
    size_t size;
} TYPES[] = {{"?", 0},     {"bool", 1},   {"int8", 1},   {"int16", 2},  {"int32", 4},   {"int64", 8},
             {"uint8", 1}, {"uint16", 2}, {"uint32", 4}, {"uint64", 8}, {"float32", 4}, {"float64", 8}};

size_t coltype_size(int t)
{
    return t >= COL_BOOL && t <= COL_F64 ? TYPES[t].size : 0;
}

const char *coltype_name(int t)
{
    return TYPES[t >= COL_BOOL && t <= COL_F64 ? t : 0].name;
}

static inline uint32_t le32_at(const uint8_t *p, size_t i)
{
    uint32_t v;
    memcpy(&v, p + 4 * i, 4);
    return v;
}

void colreq_free(colreq *q)
{
    if (!q)
        return;
    free(q->cols);
    free(q->fidx);
    memset(q, 0, sizeof *q);
}

/* Request, version 1. All integers little-endian, no alignment, no padding:
 *
 *   offset  size  field
 *   0       4     magic "MLHC"
 *   4       2     version (u16) = 1
 *   6       2     flags (u16), reserved: must be 0
 *   8       4     nrows (u32), 1 .. COLREQ_MAX_ROWS
 *   12      4     ncols (u32), 1 .. COLREQ_MAX_COLS
 *   16      2     m = length of the model reference (u16), 1 .. COLREQ_MAX_MODEL
 *   18      m     model reference ("ttH", "ttH@3", a job id), no NUL, no NUL inside
 *   then ncols column records, back to back:
 *           2     n = length of the branch name (u16), 1 .. COLREQ_MAX_NAME
 *           n     branch name, no NUL inside
 *           1     type (coltype: 1 bool .. 11 float64, see colreq.h)
 *           1     kind: 0 flat (one value per row), 1 jagged (a list per row)
 *     jagged only:
 *           4     nvalues (u32)
 *           4*(nrows+1)  offsets (u32): offsets[0] = 0, non-decreasing,
 *                        offsets[nrows] = nvalues; row r holds values [offsets[r], offsets[r+1])
 *     both:
 *           nvalues * size(type)  values (flat: nvalues = nrows)
 *   nothing after the last column.
 */
int colreq_parse(const void *buf, size_t len, colreq *q, mlhep_err *e)
{
    cursor c;
    cur_init(&c, buf, len);
    q->nrows = q->ncols = 0;
    q->model[0] = '\0';
    const uint8_t *mg = cur_take(&c, 4);
    if (!mg || memcmp(mg, COLREQ_MAGIC, 4))
        return err_set(e, MLHEP_EFORMAT, "binary request: bad magic (expected \"MLHC\" for %s)", COLREQ_CONTENT_TYPE);
    uint16_t ver = cur_le16(&c), flags = cur_le16(&c);
    uint32_t nrows = cur_le32(&c), ncols = cur_le32(&c);
    uint16_t mlen = cur_le16(&c);
    if (!cur_ok(&c))
        return err_set(e, MLHEP_EFORMAT, "binary request: truncated header (%zu bytes)", len);
    if (ver != COLREQ_VERSION)
        return err_set(e, MLHEP_EFORMAT, "binary request: version %u not supported (this worker reads %d)", ver,
                       COLREQ_VERSION);
    if (flags)
        return err_set(e, MLHEP_EFORMAT, "binary request: reserved flags 0x%04x must be 0", flags);
    if (nrows < 1 || nrows > COLREQ_MAX_ROWS)
        return err_set(e, MLHEP_EFORMAT, "binary request: row count %u outside 1..%u", nrows, COLREQ_MAX_ROWS);
    if (ncols < 1 || ncols > COLREQ_MAX_COLS)
        return err_set(e, MLHEP_EFORMAT, "binary request: column count %u outside 1..%u", ncols, COLREQ_MAX_COLS);
    if (mlen < 1 || mlen > COLREQ_MAX_MODEL)
        return err_set(e, MLHEP_EFORMAT, "binary request: model reference length %u outside 1..%u", mlen,
                       COLREQ_MAX_MODEL);
    const uint8_t *mref = cur_take(&c, mlen);
    if (!mref)
        return err_set(e, MLHEP_EFORMAT, "binary request: truncated model reference");
    if (memchr(mref, 0, mlen))
        return err_set(e, MLHEP_EFORMAT, "binary request: NUL byte in the model reference");
    /* every column takes at least 5 bytes: refuse absurd counts before allocating */
    if ((size_t)ncols > cur_left(&c) / 5)
        return err_set(e, MLHEP_EFORMAT, "binary request: %u columns announced but only %zu bytes follow", ncols,
                       cur_left(&c));
    if (ncols > q->cap) {
        colreq_col *nc = realloc(q->cols, ncols * sizeof *nc);
        if (!nc)
            return err_set(e, MLHEP_ENOMEM, "out of memory for %u columns", ncols);
        q->cols = nc;
        q->cap = ncols;
    }
    for (uint32_t i = 0; i < ncols; i++) {
        colreq_col *col = &q->cols[i];
        size_t at = c.pos;
        uint16_t nl = cur_le16(&c);
        const uint8_t *name = cur_take(&c, nl);
        uint8_t type = cur_u8(&c), kind = cur_u8(&c);
        if (!cur_ok(&c))
            return err_set(e, MLHEP_EFORMAT, "binary request: column %u (at byte %zu): truncated header", i, at);
        if (nl < 1 || nl > COLREQ_MAX_NAME || memchr(name, 0, nl))
            return err_set(e, MLHEP_EFORMAT, "binary request: column %u (at byte %zu): name of %u bytes (1..%u, no NUL)",
                           i, at, nl, COLREQ_MAX_NAME);
        size_t tsz = coltype_size(type);
        if (!tsz)
            return err_set(e, MLHEP_EFORMAT, "binary request: column '%.*s': unknown type %u (1..11)", (int)nl,
                           (const char *)name, type);
        if (kind > 1)
            return err_set(e, MLHEP_EFORMAT, "binary request: column '%.*s': unknown kind %u (0 flat, 1 jagged)",
                           (int)nl, (const char *)name, kind);
        col->name = (const char *)name;
        col->name_len = nl;
        col->type = type;
        col->jagged = kind;
        col->offsets = NULL;
        size_t nv = nrows;
        if (kind) {
            nv = cur_le32(&c);
            size_t olen = ((size_t)nrows + 1) * 4;
            col->offsets = cur_take(&c, olen);
            if (!col->offsets)
                return err_set(e, MLHEP_EFORMAT, "binary request: column '%.*s': truncated offsets (%zu bytes needed)",
                               (int)nl, (const char *)name, olen);
            uint32_t prev = le32_at(col->offsets, 0);
            if (prev != 0)
                return err_set(e, MLHEP_EFORMAT, "binary request: column '%.*s': offsets[0] is %u, must be 0", (int)nl,
                               (const char *)name, prev);
            for (size_t r = 1; r <= nrows; r++) {
                uint32_t o = le32_at(col->offsets, r);
                if (o < prev)
                    return err_set(e, MLHEP_EFORMAT, "binary request: column '%.*s': offsets decrease at row %zu",
                                   (int)nl, (const char *)name, r - 1);
                prev = o;
            }
            if (prev != nv)
                return err_set(e, MLHEP_EFORMAT,
                               "binary request: column '%.*s': offsets end at %u but the column has %zu values", (int)nl,
                               (const char *)name, prev, nv);
        }
        col->nvalues = nv;
        if (nv > cur_left(&c) / tsz)
            return err_set(e, MLHEP_EFORMAT,
                           "binary request: column '%.*s': truncated values (%zu of %s need %zu bytes, %zu left)",
                           (int)nl, (const char *)name, nv, TYPES[type].name, nv * tsz, cur_left(&c));
        col->values = cur_take(&c, nv * tsz);
    }
    if (cur_left(&c))
        return err_set(e, MLHEP_EFORMAT, "binary request: %zu bytes after the last column", cur_left(&c));
    memcpy(q->model, mref, mlen);
    q->model[mlen] = '\0';
    q->nrows = nrows;
    q->ncols = ncols;
    return 0;
}

/* ---- rows ---- */

/* One loop per type (no per-value dispatch); v: the values, rows [r0, r1). */
#define FLAT_LOOP(T, CONV)                                                                                             \
    for (size_t r = r0; r < r1; r++) {                                                                                 \
        T t;                                                                                                           \
        memcpy(&t, v + r * sizeof(T), sizeof(T));                                                                      \
        x[r * w + off] = featmap_norm(CONV, f32, sub, scale);                                                                      \
    }

#define JAG_LOOP(T, CONV)                                                                                              \
    for (size_t r = r0; r < r1; r++) {                                                                                 \
        uint32_t lo = le32_at(o, r), hi = le32_at(o, r + 1);                                                           \
        size_t n = hi - lo < L ? hi - lo : L;                                                                          \
        float *xr = x + r * w + off;                                                                                   \
        const uint8_t *p = v + (size_t)lo * sizeof(T);                                                                 \
        for (size_t j = 0; j < n; j++) {                                                                               \
            T t;                                                                                                       \
            memcpy(&t, p + j * sizeof(T), sizeof(T));                                                                  \
            xr[j] = featmap_norm(CONV, f32, sub, scale);                                                                           \
        }                                                                                                              \
        for (size_t j = n; j < L; j++)                                                                                 \
            xr[j] = pad;                                                                                               \
    }

#define BY_TYPE(LOOP)                                                                                                  \
    switch (col->type) {                                                                                               \
    case COL_BOOL: LOOP(uint8_t, (double)(t != 0)) break;                                                              \
    case COL_I8: LOOP(int8_t, (double)t) break;                                                                        \
    case COL_I16: LOOP(int16_t, (double)t) break;                                                                      \
    case COL_I32: LOOP(int32_t, (double)t) break;                                                                      \
    case COL_I64: LOOP(int64_t, (double)t) break;                                                                      \
    case COL_U8: LOOP(uint8_t, (double)t) break;                                                                       \
    case COL_U16: LOOP(uint16_t, (double)t) break;                                                                     \
    case COL_U32: LOOP(uint32_t, (double)t) break;                                                                     \
    case COL_U64: LOOP(uint64_t, (double)t) break;                                                                     \
    case COL_F32: LOOP(float, (double)t) break;                                                                        \
    default: LOOP(double, t) break;                                                                                    \
    }

#define ROW_BLOCK 256 /* rows filled feature by feature, a block at a time (stays in cache) */

int colreq_match(const featmap *fm, colreq *q, mlhep_err *e)
{
    if (fm->nfeat > q->fidx_cap) {
        int32_t *f = realloc(q->fidx, fm->nfeat * sizeof *f);
        if (!f)
            return err_set(e, MLHEP_ENOMEM, "out of memory");
        q->fidx = f;
        q->fidx_cap = fm->nfeat;
    }
    for (size_t i = 0; i < fm->nfeat; i++)
        q->fidx[i] = -1;
    for (size_t c = 0; c < q->ncols; c++) {
        const colreq_col *col = &q->cols[c];
        int fi = featmap_find(fm, col->name, col->name_len);
        if (fi < 0)
            return featmap_unknown(fm, col->name, col->name_len, "", e);
        if (q->fidx[fi] >= 0)
            return err_set(e, MLHEP_EINVAL, "branch '%s' given twice", fm->feat[fi].name);
        const featmap_feature *ft = &fm->feat[fi];
        if (ft->jagged != col->jagged)
            return err_set(e, MLHEP_EINVAL, "branch '%s' is %s in the model but given %s", ft->name,
                           ft->jagged ? "jagged" : "flat", ft->jagged ? "as one value per row (kind 0)" : "with lists (kind 1)");
        q->fidx[fi] = (int32_t)c;
    }
    if (q->ncols != fm->nfeat) {
        uint8_t *seen = malloc(fm->nfeat);
        if (!seen)
            return err_set(e, MLHEP_ENOMEM, "out of memory");
        for (size_t i = 0; i < fm->nfeat; i++)
            seen[i] = q->fidx[i] >= 0;
        int rc = featmap_missing(fm, seen, "", e);
        free(seen);
        return rc;
    }
    return 0;
}

void colreq_fill(const featmap *fm, const colreq *q, size_t first, size_t end, float *xout)
{
    float pad = fm->pad;
    size_t w = (size_t)fm->width;
    float *x = xout - first * w; /* row r at x + r * w */
    for (size_t r0 = first; r0 < end; r0 += ROW_BLOCK) {
        size_t r1 = r0 + ROW_BLOCK < end ? r0 + ROW_BLOCK : end;
        for (size_t i = 0; i < fm->nfeat; i++) {
            const featmap_feature *ft = &fm->feat[i];
            const colreq_col *col = &q->cols[q->fidx[i]];
            const uint8_t *v = col->values, *o = col->offsets;
            double sub = ft->sub, scale = ft->scale;
            /* float32 rounding (featmap_norm) is a no-op on float32 columns: skipped */
            int f32 = ft->f32 && col->type != COL_F32;
            size_t off = (size_t)ft->offset, L = (size_t)ft->len;
            if (!ft->jagged) {
                BY_TYPE(FLAT_LOOP)
            } else {
                BY_TYPE(JAG_LOOP)
            }
        }
    }
}

int colreq_rows(const featmap *fm, colreq *q, featmap_batch *b, mlhep_err *e)
{
    int rc = colreq_match(fm, q, e);
    if (rc || (rc = featmap_batch_reserve(b, fm, q->nrows, e)))
        return rc;
    colreq_fill(fm, q, 0, q->nrows, b->x);
    return 0;
}

/* ---- writing ---- */

/* Room for more bytes, or MLHEP_ENOMEM naming the request's size. */
static int cb_grow(wbuf *b, size_t more, mlhep_err *e)
{
    if (more > SIZE_MAX / 2 || !wbuf_reserve(b, more))
        return err_set(e, MLHEP_ENOMEM, "out of memory for a request of %zu bytes", b->len + more);
    return 0;
}

/* The writer keeps the announced counts in the header and checks them in colreq_end:
 * nrows at byte 8, ncols at 12; the columns added so far are counted by walking. */
int colreq_begin(wbuf *b, const char *model, size_t nrows, size_t ncols, mlhep_err *e)
{
    size_t ml = model ? strlen(model) : 0;
    wbuf_reset(b);
    if (ml < 1 || ml > COLREQ_MAX_MODEL)
        return err_set(e, MLHEP_EINVAL, "model reference of %zu bytes (1..%u)", ml, COLREQ_MAX_MODEL);
    if (nrows < 1 || nrows > COLREQ_MAX_ROWS || ncols < 1 || ncols > COLREQ_MAX_COLS)
        return err_set(e, MLHEP_EINVAL, "binary request of %zu rows and %zu columns (1..%u rows, 1..%u columns)",
                       nrows, ncols, COLREQ_MAX_ROWS, COLREQ_MAX_COLS);
    int rc = cb_grow(b, 18 + ml, e);
    if (rc)
        return rc;
    wbuf_put(b, COLREQ_MAGIC, 4);
    wbuf_le16(b, COLREQ_VERSION);
    wbuf_le16(b, 0);
    wbuf_le32(b, (uint32_t)nrows);
    wbuf_le32(b, (uint32_t)ncols);
    wbuf_le16(b, (uint16_t)ml);
    wbuf_put(b, model, ml);
    return wbuf_ok(b) ? 0 : err_set(e, MLHEP_ENOMEM, "out of memory for a request");
}

/* What every added column is checked for (begun request, its row count, name length,
 * type); *nl and *tsz: the name's length and the type's size. */
static int col_check(const wbuf *b, const char *name, int type, size_t nrows, size_t *nl, size_t *tsz,
                     mlhep_err *e)
{
    *nl = name ? strlen(name) : 0;
    *tsz = coltype_size(type);
    uint32_t want;
    if (b->len < 18 || memcmp(b->p, COLREQ_MAGIC, 4))
        return err_set(e, MLHEP_EINVAL, "colreq_add before colreq_begin");
    memcpy(&want, b->p + 8, 4);
    if (nrows != want)
        return err_set(e, MLHEP_EINVAL, "column '%s' has %zu rows, the request %u", name ? name : "", nrows, want);
    if (*nl < 1 || *nl > COLREQ_MAX_NAME)
        return err_set(e, MLHEP_EINVAL, "column name of %zu bytes (1..%u)", *nl, COLREQ_MAX_NAME);
    if (!*tsz)
        return err_set(e, MLHEP_EINVAL, "column '%s': unknown type %d", name, type);
    return 0;
}

/* The column's head: name, type, kind. */
static void col_head(wbuf *b, const char *name, size_t nl, int type, int jagged)
{
    wbuf_le16(b, (uint16_t)nl);
    wbuf_put(b, name, nl);
    wbuf_u8(b, (uint8_t)type);
    wbuf_u8(b, jagged ? 1 : 0);
}

int colreq_add(wbuf *b, const char *name, int type, const void *values, const int64_t *offsets, size_t nrows,
               mlhep_err *e)
{
    size_t nl, tsz;
    int crc = col_check(b, name, type, nrows, &nl, &tsz, e);
    if (crc)
        return crc;
    size_t nv = nrows;
    if (offsets) {
        for (size_t r = 0; r < nrows; r++)
            if (offsets[r + 1] < offsets[r])
                return err_set(e, MLHEP_EINVAL, "column '%s': offsets decrease at row %zu", name, r);
        int64_t span = offsets[nrows] - offsets[0];
        if (span > (int64_t)UINT32_MAX)
            return err_set(e, MLHEP_EINVAL, "column '%s': %lld values (at most 2^32-1 per column: send smaller batches)",
                           name, (long long)span);
        nv = (size_t)span;
    }
    size_t need = 2 + nl + 2 + (offsets ? 4 + (nrows + 1) * 4 : 0);
    if (nv > (SIZE_MAX - need) / tsz)
        return err_set(e, MLHEP_ENOMEM, "request too large");
    int rc = cb_grow(b, need + nv * tsz, e);
    if (rc)
        return rc;
    col_head(b, name, nl, type, offsets != NULL);
    const uint8_t *src = values;
    if (offsets) {
        wbuf_le32(b, (uint32_t)nv);
        uint8_t *o = wbuf_reserve(b, (nrows + 1) * 4); /* room made above: one loop, no call per row */
        if (o) {
            for (size_t r = 0; r <= nrows; r++)
                wbuf_store_le32(o + 4 * r, (uint32_t)(offsets[r] - offsets[0]));
            b->len += (nrows + 1) * 4;
        }
        src += (size_t)offsets[0] * tsz;
    }
    wbuf_put(b, src, nv * tsz); /* host order == little-endian (checked at the top) */
    return wbuf_ok(b) ? 0 : err_set(e, MLHEP_ENOMEM, "out of memory for a request");
}

int colreq_add_padded(wbuf *b, const char *name, int type, const void *values, size_t stride, const uint32_t *lens,
                      size_t nrows, mlhep_err *e)
{
    size_t nl, tsz;
    int crc = col_check(b, name, type, nrows, &nl, &tsz, e);
    if (crc)
        return crc;
    uint64_t nv = 0;
    for (size_t r = 0; r < nrows; r++) {
        if ((size_t)lens[r] * tsz > stride)
            return err_set(e, MLHEP_EINVAL, "column '%s': row %zu holds %u values, more than its stride", name, r,
                           lens[r]);
        nv += lens[r];
    }
    if (nv > UINT32_MAX)
        return err_set(e, MLHEP_EINVAL, "column '%s': %llu values (at most 2^32-1 per column: send smaller batches)",
                       name, (unsigned long long)nv);
    size_t need = 2 + nl + 2 + 4 + (nrows + 1) * 4;
    if (nv > (SIZE_MAX - need) / tsz)
        return err_set(e, MLHEP_ENOMEM, "request too large");
    int rc = cb_grow(b, need + (size_t)nv * tsz, e);
    if (rc)
        return rc;
    col_head(b, name, nl, type, 1);
    wbuf_le32(b, (uint32_t)nv);
    uint8_t *o = wbuf_reserve(b, (nrows + 1) * 4);
    if (o) {
        uint32_t at = 0;
        wbuf_store_le32(o, 0);
        for (size_t r = 0; r < nrows; r++) {
            at += lens[r];
            wbuf_store_le32(o + 4 * (r + 1), at);
        }
        b->len += (nrows + 1) * 4;
    }
    const uint8_t *src = values;
    for (size_t r = 0; r < nrows; r++) /* host order == little-endian (checked at the top) */
        wbuf_put(b, src + r * stride, (size_t)lens[r] * tsz);
    return wbuf_ok(b) ? 0 : err_set(e, MLHEP_ENOMEM, "out of memory for a request");
}

int colreq_jagged_begin(wbuf *b, const char *name, int type, size_t nrows, size_t maxvals, colreq_jag *j,
                        mlhep_err *e)
{
    size_t nl, tsz;
    memset(j, 0, sizeof *j);
    int crc = col_check(b, name, type, nrows, &nl, &tsz, e);
    if (crc)
        return crc;
    if (maxvals > UINT32_MAX)
        return err_set(e, MLHEP_EINVAL, "column '%s': room for %zu values asked (at most 2^32-1 per column: send "
                                        "smaller batches)", name, maxvals);
    size_t need = 2 + nl + 2 + 4 + (nrows + 1) * 4;
    if (maxvals > (SIZE_MAX / 2 - need) / tsz)
        return err_set(e, MLHEP_ENOMEM, "request too large");
    int rc = cb_grow(b, need + maxvals * tsz + COLREQ_JAG_SLACK, e);
    if (rc)
        return rc;
    col_head(b, name, nl, type, 1);
    j->count_at = b->len;
    wbuf_le32(b, 0);
    j->offsets = b->p + b->len;
    b->len += (nrows + 1) * 4; /* room made above */
    j->values = b->p + b->len;
    j->nrows = nrows;
    j->maxvals = maxvals;
    j->tsz = tsz;
    j->name = name;
    return 0;
}

/* 1 when the nrows+1 little-endian offsets at p never decrease: four at a time on x86
 * (signed compares of the offsets with their top bit flipped), no branch per row; the
 * row where they do is looked for only then (colreq_jagged_end). */
static int offsets_sorted(const uint8_t *p, size_t nrows)
{
    size_t r = 0;
#ifdef __SSE2__
    const __m128i flip = _mm_set1_epi32((int)0x80000000u);
    __m128i bad = _mm_setzero_si128();
    for (; r + 4 <= nrows; r += 4) {
        __m128i lo = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(const void *)(p + 4 * r)), flip);
        __m128i hi = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(const void *)(p + 4 * r + 4)), flip);
        bad = _mm_or_si128(bad, _mm_cmpgt_epi32(lo, hi));
    }
    if (_mm_movemask_epi8(bad))
        return 0;
#endif
    for (; r < nrows; r++)
        if (le32_at(p, r + 1) < le32_at(p, r))
            return 0;
    return 1;
}

int colreq_jagged_end(wbuf *b, const colreq_jag *j, size_t n, mlhep_err *e)
{
    if (!j->offsets || b->p + j->count_at + 4 != j->offsets || j->values != b->p + b->len)
        return err_set(e, MLHEP_EINVAL, "colreq_jagged_end without its colreq_jagged_begin");
    if (n > j->maxvals)
        return err_set(e, MLHEP_EINVAL, "column '%s': %zu values, room was made for %zu", j->name, n, j->maxvals);
    uint32_t o = le32_at(j->offsets, 0);
    if (o != 0)
        return err_set(e, MLHEP_EINVAL, "column '%s': the first offset is %u, not 0", j->name, o);
    if (!offsets_sorted(j->offsets, j->nrows))
        for (size_t r = 1; r <= j->nrows; r++)
            if (le32_at(j->offsets, r) < le32_at(j->offsets, r - 1))
                return err_set(e, MLHEP_EINVAL, "column '%s': offsets decrease at row %zu", j->name, r - 1);
    uint32_t prev = le32_at(j->offsets, j->nrows);
    if (prev != n)
        return err_set(e, MLHEP_EINVAL, "column '%s': the last offset is %u, %zu values were written", j->name,
                       prev, n);
    wbuf_store_le32(b->p + j->count_at, (uint32_t)n);
    b->len += n * j->tsz;
    return 0;
}

/* Every column was checked as it was added (col_check; the offsets by colreq_add and
 * colreq_jagged_end), so what is left is that exactly the announced columns follow the
 * header: a walk over the column records that does not read the offsets and values
 * again (a full colreq_parse here cost 3% of the gateway's CPU for a 10,000-row v2
 * request; the worker parses every request in full anyway). */
int colreq_end(wbuf *b, mlhep_err *e)
{
    if (!wbuf_ok(b) || b->len < 18 || memcmp(b->p, COLREQ_MAGIC, 4))
        return err_set(e, MLHEP_EINVAL, "colreq_end before colreq_begin (or the request ran out of memory)");
    cursor c;
    cur_init(&c, b->p, b->len);
    cur_skip(&c, 8);
    size_t nrows = cur_le32(&c), ncols = cur_le32(&c), n = 0;
    cur_skip(&c, cur_le16(&c));
    while (cur_ok(&c) && cur_left(&c)) {
        cur_skip(&c, cur_le16(&c));
        size_t tsz = coltype_size(cur_u8(&c)), nv = nrows;
        if (cur_u8(&c)) { /* jagged: its value count and offsets */
            nv = cur_le32(&c);
            cur_skip(&c, (nrows + 1) * 4);
        }
        if (!tsz || nv > cur_left(&c) / tsz)
            cur_fail(&c);
        cur_skip(&c, nv * tsz);
        n++;
    }
    if (!cur_ok(&c))
        return err_set(e, MLHEP_EINVAL, "binary request incomplete: column %zu (of %zu announced) is cut short", n,
                       ncols);
    if (n != ncols)
        return err_set(e, MLHEP_EINVAL, "binary request inconsistent: %zu of the %zu announced columns written", n,
                       ncols);
    return 0;
}

/* ---- responses ---- */

/* Response, version 1. Little-endian, no alignment:
 *
 *   offset  size  field
 *   0       4     magic "MLHR"
 *   4       2     version (u16) = 1
 *   6       2     flags (u16) = 0
 *   8       4     nrows (u32), the request's row count
 *   12      4     k = outputs per row (u32), 1 .. 65535
 *   16      4     elapsed_us (float32): the worker's time for the request, < 0 unknown
 *   20      2     m = length of the model reference (u16), 1 .. COLREQ_MAX_MODEL
 *   22      m     the model used ("ttH@3": names resolved to their version)
 *   22+m    4*nrows*k  scores (float32), row by row; k = 1: probability of class 1
 *                 (or the regression output), else the k class probabilities
 *   nothing after the scores.
 */
int colresp_write(wbuf *b, const char *model, const float *out, size_t nrows, size_t k, double elapsed_us,
                  mlhep_err *e)
{
    size_t ml = strlen(model);
    if (ml > COLREQ_MAX_MODEL)
        ml = COLREQ_MAX_MODEL;
    wbuf_reset(b);
    if (k < 1 || k > 65535 || nrows > COLREQ_MAX_ROWS)
        return err_set(e, MLHEP_EINVAL, "response of %zu rows x %zu outputs", nrows, k);
    int rc = cb_grow(b, 22 + ml + nrows * k * 4, e);
    if (rc)
        return rc;
    wbuf_put(b, COLRESP_MAGIC, 4);
    wbuf_le16(b, COLREQ_VERSION);
    wbuf_le16(b, 0);
    wbuf_le32(b, (uint32_t)nrows);
    wbuf_le32(b, (uint32_t)k);
    float el = (float)elapsed_us;
    wbuf_put(b, &el, 4);
    wbuf_le16(b, (uint16_t)ml);
    wbuf_put(b, model, ml);
    wbuf_put(b, out, nrows * k * 4);
    return wbuf_ok(b) ? 0 : err_set(e, MLHEP_ENOMEM, "out of memory for a response");
}

void colresp_free(colresp *r)
{
    if (r) {
        free(r->scores);
        memset(r, 0, sizeof *r);
    }
}

int colresp_parse(const void *buf, size_t len, colresp *r, mlhep_err *e)
{
    cursor c;
    cur_init(&c, buf, len);
    r->nrows = r->k = 0;
    const uint8_t *mg = cur_take(&c, 4);
    if (!mg || memcmp(mg, COLRESP_MAGIC, 4))
        return err_set(e, MLHEP_EFORMAT, "binary response: bad magic (expected \"MLHR\")");
    uint16_t ver = cur_le16(&c), flags = cur_le16(&c);
    uint32_t nrows = cur_le32(&c), k = cur_le32(&c), elb = cur_le32(&c);
    uint16_t ml = cur_le16(&c);
    const uint8_t *model = cur_take(&c, ml);
    if (!cur_ok(&c))
        return err_set(e, MLHEP_EFORMAT, "binary response: truncated header (%zu bytes)", len);
    if (ver != COLREQ_VERSION || flags)
        return err_set(e, MLHEP_EFORMAT, "binary response: version %u flags %u not supported", ver, flags);
    if (k < 1 || k > 65535 || nrows > COLREQ_MAX_ROWS || ml > COLREQ_MAX_MODEL || memchr(model, 0, ml))
        return err_set(e, MLHEP_EFORMAT, "binary response: bad header (%u rows, %u outputs, model of %u bytes)", nrows,
                       k, ml);
    size_t n = (size_t)nrows * k;
    if (cur_left(&c) != n * 4)
        return err_set(e, MLHEP_EFORMAT, "binary response: %zu bytes of scores for %u rows x %u outputs", cur_left(&c),
                       nrows, k);
    if (n > r->cap) {
        float *s = realloc(r->scores, n * sizeof *s);
        if (!s)
            return err_set(e, MLHEP_ENOMEM, "out of memory for %zu scores", n);
        r->scores = s;
        r->cap = n;
    }
    if (n)
        memcpy(r->scores, cur_take(&c, n * 4), n * 4);
    memcpy(r->model, model, ml);
    r->model[ml] = '\0';
    memcpy(&r->elapsed_us, &elb, 4);
    r->nrows = nrows;
    r->k = k;
    return 0;
}
