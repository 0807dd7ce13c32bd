/* basket.c - basket decoding into column buffers (see basket.h and
 * ../shared/docs/root-format.md section 8). */
#include "root/basket.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/bigbuf.h"
#include "root/compress.h"
#include "base/cursor.h"
#include "root/readplan.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* A loaded basket: data region and (for variable-size entries) entry starts. */
typedef struct bview {
    const uint8_t *data;
    size_t len;
    const int32_t *starts; /* n+1, relative to data; NULL for fixed-size entries */
    int64_t n;
} bview;

/* The last decoded basket of a branch, so that consecutive entry ranges (chunks) that
 * share a basket decompress it once. Each branch gets its own slot (open addressing
 * by branch, so two branches read through one context never evict each other while
 * there are fewer than BSLOTS of them); keyed by file, branch, basket index and
 * offset so a reused context never serves stale bytes. */
#define BSLOTS 128
typedef struct bslot {
    const tbranch *owner; /* branch the slot is assigned to (NULL: free) */
    const rootfile *f;
    const tbranch *b;
    int idx;
    uint64_t seek;
    uint8_t *obj;
    size_t objcap;
    int32_t *starts;
    size_t startscap;
    bview v;
} bslot;

struct basket_ctx {
    compress_ctx *z;
    uint8_t *raw;
    size_t rawcap;
    bslot slot[BSLOTS];
    bslot scratch;     /* for uncached loads */
    uint64_t bytes;
    basket_ctx *sub;   /* for reading counters while a basket is loaded */
    column counts;
    const readplan *plan; /* baskets fetched in advance, or NULL */
    bigarena *arena;      /* basket_ctx_new_big: slot buffers come from here */
};

void column_init(column *c)
{
    memset(c, 0, sizeof *c);
}

void column_free(column *c)
{
    if (!c->arena) {
        free(c->values);
        free(c->offsets);
    }
    column_init(c);
}

basket_ctx *basket_ctx_new(void)
{
    basket_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->z = compress_ctx_new();
    if (!c->z) {
        free(c);
        return NULL;
    }
    return c;
}

basket_ctx *basket_ctx_new_big(void)
{
    basket_ctx *c = basket_ctx_new();
    if (c && !(c->arena = bigarena_new())) {
        basket_ctx_free(c);
        return NULL;
    }
    return c;
}

bigarena *basket_ctx_arena(basket_ctx *c)
{
    return c->arena;
}

void basket_ctx_free(basket_ctx *c)
{
    if (!c)
        return;
    compress_ctx_free(c->z);
    free(c->raw);
    if (!c->arena) {
        for (int i = 0; i < BSLOTS; i++) {
            free(c->slot[i].obj);
            free(c->slot[i].starts);
        }
        free(c->scratch.obj);
        free(c->scratch.starts);
    }
    column_free(&c->counts);
    basket_ctx_free(c->sub);
    bigarena_free(c->arena);
    free(c);
}

void basket_ctx_set_plan(basket_ctx *c, const readplan *plan)
{
    c->plan = plan;
}

/* Sets (or clears) the plan of c and of its counter context: a persistent context
 * must not keep a pointer to a plan freed after the call. */
static void basket_ctx_set_plan_all(basket_ctx *c, const readplan *plan)
{
    for (; c; c = c->sub)
        c->plan = plan;
}

uint64_t basket_ctx_bytes(const basket_ctx *c)
{
    return c->bytes;
}

/* The capacity (elements) to grow cap to for need elements: doubling from 64; 0 when
 * that would pass 1 TiB. */
static size_t grown_cap(size_t cap, size_t need, size_t elem)
{
    size_t n = cap ? cap : 64;
    while (n < need)
        n *= 2;
    return n > ((size_t)1 << 40) / elem ? 0 : n;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = grown_cap(*cap, need, elem);
    void *q = n ? realloc(*p, n * elem) : NULL;
    if (!q)
        return -1;
    *p = q;
    *cap = n;
    return 0;
}

/* grow() from arena a when it is set: a new piece (content copied), the old one
 * stays in the arena until the arena goes */
static int agrow(bigarena *a, void **p, size_t *cap, size_t need, size_t elem)
{
    if (!a)
        return grow(p, cap, need, elem);
    if (need <= *cap)
        return 0;
    size_t n = grown_cap(*cap, need, elem);
    void *q = n ? bigarena_alloc(a, n * elem) : NULL;
    if (!q)
        return -1;
    if (*p && *cap)
        memcpy(q, *p, *cap * elem);
    *p = q;
    *cap = n;
    return 0;
}

#define BERR(...) err_set(e, MLHEP_EFORMAT, __VA_ARGS__)

/* Most bytes of values a read allocates before any basket of it is decoded. */
#define PRESIZE_BYTES ((size_t)64 << 20)

static int load_counts(rootfile *f, const tbranch *b, int64_t first, int64_t n, basket_ctx *ctx, mlhep_err *e);

/* The cache slot of branch b: its own, a free one it then owns, or (more than BSLOTS
 * branches) its home slot taken over. */
static bslot *slot_of(basket_ctx *ctx, const tbranch *b)
{
    uintptr_t h = (uintptr_t)b;
    h ^= h >> 17;
    size_t home = (size_t)((h * 0x9E3779B97F4A7C15ull) >> 40) % BSLOTS;
    for (size_t k = 0; k < BSLOTS; k++) {
        bslot *s = &ctx->slot[(home + k) % BSLOTS];
        if (s->owner == b)
            return s;
        if (!s->owner) {
            s->owner = b;
            return s;
        }
    }
    bslot *s = &ctx->slot[home];
    s->owner = b;
    s->f = NULL;
    return s;
}

/* A basket record read and its header checked (basket_fetch), its payload not yet
 * expanded. */
typedef struct bhead {
    const uint8_t *raw;   /* the record, nbytes bytes: ctx->raw or the plan's buffer */
    int32_t keylen;       /* header bytes; the payload follows */
    int32_t objlen;       /* payload bytes once expanded */
    int32_t border;       /* of which data (the entry offsets, if any, follow) */
    int32_t nevbuf;       /* entries */
    size_t zlen;          /* payload bytes in the record (== objlen: stored raw) */
    int iobits, flag;
} bhead;

/* Reads the record of basket idx (from the plan, else from the source into ctx->raw)
 * and checks its header, and the sizes of its compressed blocks against objlen (so a
 * corrupt size is refused before anything is allocated for it). */
static int basket_fetch(rootfile *f, int idx, const tbasket *bk, basket_ctx *ctx, bhead *h, mlhep_err *e)
{
    if (bk->nbytes < 30)
        return BERR("basket %d: record size %u is corrupt", idx, bk->nbytes);
    if (bk->seek >= f->src->size || bk->nbytes > f->src->size - bk->seek)
        return BERR("basket %d: record [%llu, +%u) lies outside the file (%llu bytes): truncated or corrupt", idx,
                    (unsigned long long)bk->seek, bk->nbytes, (unsigned long long)f->src->size);
    const uint8_t *raw = readplan_find(ctx->plan, bk->seek, bk->nbytes);
    if (!raw) {
        if (grow((void **)&ctx->raw, &ctx->rawcap, bk->nbytes, 1))
            return err_set(e, MLHEP_ENOMEM, "out of memory for basket %d (%u bytes)", idx, bk->nbytes);
        if (source_read(f->src, bk->seek, bk->nbytes, ctx->raw, e))
            return err_prefix(e, "basket %d", idx);
        raw = ctx->raw;
    }
    cursor c;
    cur_init(&c, raw, bk->nbytes);
    int32_t nbytes = cur_i32(&c);
    int16_t kv = cur_i16(&c);
    int32_t objlen = cur_i32(&c);
    cur_skip(&c, 4);
    int16_t keylen = cur_i16(&c);
    cur_skip(&c, 2);
    cur_skip(&c, kv > 1000 ? 16 : 8);
    size_t sn;
    cur_rootstr(&c, &sn);
    cur_rootstr(&c, &sn);
    cur_rootstr(&c, &sn);
    cur_skip(&c, 2 + 4); /* basket version, buffer size */
    int32_t nevbufsize = cur_i32(&c);
    int iobits = 0;
    if (nevbufsize < 0)
        iobits = cur_u8(&c);
    int32_t nevbuf = cur_i32(&c);
    int32_t last = cur_i32(&c);
    int flag = cur_u8(&c);
    if (!cur_ok(&c))
        return BERR("basket %d: header is truncated", idx);
    if (nbytes != (int32_t)bk->nbytes || keylen < (int)c.pos || keylen > nbytes || objlen < 0)
        return BERR("basket %d at offset %llu: header is corrupt (nbytes %d, keylen %d, objlen %d)", idx,
                    (unsigned long long)bk->seek, nbytes, keylen, objlen);
    if (nevbuf < 0 || (bk->n >= 0 && nevbuf != bk->n))
        return BERR("basket %d: holds %d entries, the branch says %lld", idx, nevbuf, (long long)bk->n);
    int64_t border = (int64_t)last - keylen;
    if (border < 0 || border > objlen)
        return BERR("basket %d: data size %lld outside payload of %d bytes", idx, (long long)border, objlen);
    *h = (bhead){.raw = raw, .keylen = keylen, .objlen = objlen, .border = (int32_t)border, .nevbuf = nevbuf,
                 .zlen = (size_t)(nbytes - keylen), .iobits = iobits, .flag = flag};
    if ((size_t)objlen != h->zlen && compress_check(raw + keylen, h->zlen, (size_t)objlen, e))
        return err_prefix(e, "basket %d at offset %llu", idx, (unsigned long long)bk->seek);
    return 0;
}

/* Expands the payload of h into dst (room for h->objlen bytes). */
static int basket_expand(basket_ctx *ctx, const bhead *h, int idx, uint64_t seek, uint8_t *dst, mlhep_err *e)
{
    if ((size_t)h->objlen == h->zlen) {
        memcpy(dst, h->raw + h->keylen, (size_t)h->objlen);
    } else if (compress_unzip(ctx->z, h->raw + h->keylen, h->zlen, dst, (size_t)h->objlen, e)) {
        return err_prefix(e, "basket %d at offset %llu", idx, (unsigned long long)seek);
    }
    ctx->bytes += (uint64_t)h->objlen;
    return 0;
}

/* Fills v for the payload of h expanded at obj: its data region, and the entry starts
 * of its offset array (converted into sl->starts) when it has one. */
static int basket_index(basket_ctx *ctx, bslot *sl, const bhead *h, int idx, const uint8_t *obj, bview *v,
                        mlhep_err *e)
{
    int32_t nevbuf = h->nevbuf, border = h->border;
    v->data = obj;
    v->len = (size_t)border;
    v->n = nevbuf;
    if (border < h->objlen && h->flag < 80) {
        cursor oc;
        cur_init(&oc, obj + border, (size_t)(h->objlen - border));
        int32_t cnt = cur_i32(&oc);
        if (cnt < nevbuf || (size_t)cnt > cur_left(&oc) / 4 + 1)
            return BERR("basket %d: entry offset array is corrupt (%d offsets for %d entries)", idx, cnt, nevbuf);
        if (agrow(ctx->arena, (void **)&sl->starts, &sl->startscap, (size_t)nevbuf + 1, sizeof(int32_t)))
            return err_set(e, MLHEP_ENOMEM, "out of memory");
        const uint8_t *arr = cur_take(&oc, (size_t)nevbuf * 4);
        if (!arr && nevbuf)
            return BERR("basket %d: entry offset array is truncated", idx);
        cur_swap_array(sl->starts, arr, (size_t)nevbuf, 4);
        /* entry starts relative to the data region, each within it */
        if (h->iobits & 1) { /* stored as sizes (kGenerateOffsetMap with an array present) */
            int64_t pos = 0;
            for (int32_t i = 0; i < nevbuf; i++) {
                int64_t sz = sl->starts[i];
                sl->starts[i] = (int32_t)pos;
                pos += sz;
                if (sz < 0 || pos > border)
                    return BERR("basket %d: entry size array is corrupt (entry %d)", idx, i);
            }
        } else {
            for (int32_t i = 0; i < nevbuf; i++) {
                int64_t st = (int64_t)sl->starts[i] - h->keylen;
                if (st < 0 || st > border)
                    return BERR("basket %d: entry offset array is corrupt (entry %d)", idx, i);
                sl->starts[i] = (int32_t)st;
            }
        }
        sl->starts[nevbuf] = border;
        v->starts = sl->starts;
    }
    return 0;
}

/* For a jagged basket stored without entry offsets (kGenerateOffsetMap): rebuilds
 * them into sl->starts from the counter branch. Nothing to do for other baskets. */
static int basket_rebuild_starts(rootfile *f, const tbranch *b, int idx, basket_ctx *ctx, bslot *sl, bview *v,
                                 mlhep_err *e)
{
    if (v->starts || b->kind != TK_JAGGED || v->n <= 0)
        return 0;
    if (!b->counter || b->header_bytes != 0)
        return BERR("basket %d: entry offsets missing and no counter to rebuild them", idx);
    if (!ctx->sub && !(ctx->sub = basket_ctx_new()))
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    ctx->sub->plan = ctx->plan;
    int rc = load_counts(f, b->counter, b->baskets[idx].first, v->n, ctx->sub, e);
    if (rc)
        return rc;
    if (agrow(ctx->arena, (void **)&sl->starts, &sl->startscap, (size_t)v->n + 1, sizeof(int32_t)))
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    int64_t pos = 0;
    int64_t esz = (int64_t)b->disk_width * (b->fixed_len > 0 ? b->fixed_len : 1);
    for (int64_t i = 0; i < v->n; i++) {
        sl->starts[i] = (int32_t)pos;
        int64_t cnt = (int64_t)column_get(&ctx->sub->counts, (size_t)i);
        if (cnt < 0)
            return BERR("basket %d: negative counter value", idx);
        pos += cnt * esz;
        if (pos > (int64_t)v->len)
            return BERR("basket %d: counter values exceed the basket data", idx);
    }
    sl->starts[v->n] = (int32_t)v->len;
    v->starts = sl->starts;
    return 0;
}

/* The cache slot holding basket idx of b in f (the last one decoded for b), or NULL. */
static bslot *cached(basket_ctx *ctx, const rootfile *f, const tbranch *b, int idx)
{
    const tbasket *bk = &b->baskets[idx];
    if (!bk->seek)
        return NULL;
    bslot *cs = slot_of(ctx, b);
    return cs->f == f && cs->b == b && cs->idx == idx && cs->seek == bk->seek ? cs : NULL;
}

/* Reads basket idx of b into ctx and fills v. use_cache 0: into the scratch buffer;
 * 1: from the per-branch cache when the same basket was the last one decoded for b,
 * else decoded into that cache; 2: from the cache likewise, else into the scratch
 * buffer, leaving the cache as it was (for a basket the current read consumes whole:
 * one buffer reused for all of them stays in the cache of the CPU, where 128 slots
 * written in turn would not). */
static int load_basket(rootfile *f, const tbranch *b, int idx, basket_ctx *ctx, bview *v, int use_cache,
                       mlhep_err *e)
{
    const tbasket *bk = &b->baskets[idx];
    memset(v, 0, sizeof *v);
    bslot *sl = &ctx->scratch;
    if (use_cache && bk->seek) {
        bslot *cs = cached(ctx, f, b, idx);
        if (cs) {
            *v = cs->v;
            return 0;
        }
        if (use_cache == 1) {
            sl = slot_of(ctx, b);
            sl->f = NULL; /* invalid until fully loaded */
        }
    }
    int rc;
    if (!bk->seek) { /* embedded in the TTree record */
        v->data = bk->emb_data;
        v->len = bk->emb_len;
        v->starts = bk->emb_starts;
        v->n = bk->n;
    } else {
        bhead h;
        if ((rc = basket_fetch(f, idx, bk, ctx, &h, e)))
            return rc;
        if (agrow(ctx->arena, (void **)&sl->obj, &sl->objcap, (size_t)h.objlen + 1, 1))
            return err_set(e, MLHEP_ENOMEM, "out of memory for basket %d (%d bytes)", idx, h.objlen);
        if ((rc = basket_expand(ctx, &h, idx, bk->seek, sl->obj, e)) || (rc = basket_index(ctx, sl, &h, idx, sl->obj, v, e)))
            return rc;
    }
    if ((rc = basket_rebuild_starts(f, b, idx, ctx, sl, v, e)))
        return rc;
    if (sl != &ctx->scratch) {
        sl->f = f;
        sl->b = b;
        sl->idx = idx;
        sl->seek = bk->seek;
        sl->v = *v;
    }
    return 0;
}

static int load_counts(rootfile *f, const tbranch *b, int64_t first, int64_t n, basket_ctx *ctx, mlhep_err *e)
{
    int rc = basket_read(f, b, first, first + n, &ctx->counts, ctx, e);
    if (rc)
        return err_prefix(e, "counter branch '%s'", b->name);
    return 0;
}

/* Decodes count values of b's on-disk encoding at src into dst (host order of b->dt). */
static void decode_values(const tbranch *b, void *dst, const uint8_t *src, size_t count)
{
    switch (b->enc) {
    case ENC_PLAIN:
        cur_swap_array(dst, src, count, (int)dtype_size(b->dt));
        if (b->dt == DT_BOOL) {
            uint8_t *d = dst;
            for (size_t i = 0; i < count; i++)
                d[i] = d[i] != 0;
        }
        break;
    case ENC_D32_FLOAT: {
        double *d = dst;
        for (size_t i = 0; i < count; i++) {
            uint32_t u = ((uint32_t)src[4 * i] << 24) | ((uint32_t)src[4 * i + 1] << 16) |
                         ((uint32_t)src[4 * i + 2] << 8) | src[4 * i + 3];
            float x;
            memcpy(&x, &u, 4);
            d[i] = x;
        }
        break;
    }
    case ENC_SCALED: {
        /* TBufferFile::ReadWithFactor: raw / factor + xmin, factor = steps / (xmax - xmin)
         * (steps 2^nbits, or 2^32 - 1 for 32 bits); computed as raw * step + xmin, which
         * rounds once (step is exact for 2^nbits) and is within an ulp of ROOT's */
        double step = b->pack.step, xmin = b->pack.xmin;
        for (size_t i = 0; i < count; i++) {
            uint32_t u = ((uint32_t)src[4 * i] << 24) | ((uint32_t)src[4 * i + 1] << 16) |
                         ((uint32_t)src[4 * i + 2] << 8) | src[4 * i + 3];
            double x = u * step + xmin;
            if (b->dt == DT_F64)
                ((double *)dst)[i] = x;
            else
                ((float *)dst)[i] = (float)x;
        }
        break;
    }
    case ENC_TRUNC: {
        /* TBufferFile::ReadWithNbits: exponent byte, then nbits of mantissa and a sign bit */
        int nb = b->pack.nbits; /* 1..22, checked by packfloat_decide */
        uint32_t mask = (1u << (nb + 1)) - 1, sign = 1u << (nb + 1);
        for (size_t i = 0; i < count; i++) {
            uint32_t ex = src[3 * i];
            uint32_t man = ((uint32_t)src[3 * i + 1] << 8) | src[3 * i + 2];
            uint32_t bits = (ex << 23) | ((man & mask) << (23 - nb));
            float x;
            memcpy(&x, &bits, 4);
            if (man & sign)
                x = -x;
            if (b->dt == DT_F64)
                ((double *)dst)[i] = x;
            else
                ((float *)dst)[i] = x;
        }
        break;
    }
    }
}

static int ensure_values(column *out, size_t need, mlhep_err *e)
{
    /* capacity is kept in bytes: a column may be reused for another dtype */
    size_t vs = dtype_size(out->dt);
    if (need > ((size_t)1 << 40) / (vs ? vs : 1) || agrow(out->arena, &out->values, &out->cap_values, need * vs, 1))
        return err_set(e, MLHEP_ENOMEM, "out of memory for %zu values", need);
    return 0;
}

/* The common case of a jagged basket, in one pass without branches: entries
 * [lo, hi) hold contiguous values of width 1 << wsh and no header; writes
 * o[i - lo] = base + the values up to the end of entry i. 0 when every entry is well
 * formed (starts non-decreasing within [0, len], sizes whole values); -1 otherwise
 * (o then partly written: decode_into's checking loop rewrites it and names the
 * faulty entry). */
static int jagged_offsets(const int32_t *restrict st, int64_t lo, int64_t hi, size_t len, int wsh, int64_t base,
                          int64_t *restrict o)
{
    int64_t s0 = st[lo];
    if (s0 < 0 || (int64_t)st[hi] > (int64_t)len)
        return -1;
    uint64_t bad = 0, mask = (((uint64_t)1 << wsh) - 1) | (uint64_t)1 << 63; /* misaligned size, or negative */
    int64_t i = lo;
#ifdef __SSE2__
    if (len <= INT32_MAX) {
        /* 4 entries at a time in 32-bit lanes: every end within [0, len] (so no
         * difference overflows), sizes ORed together (sign and low bits checked after) */
        __m128i vs0 = _mm_set1_epi32((int32_t)s0), vlen = _mm_set1_epi32((int32_t)len), zero = _mm_setzero_si128();
        __m128i vbase = _mm_set1_epi64x(base), sh = _mm_cvtsi32_si128(wsh);
        __m128i dor = zero, tor = zero, big = zero;
        for (; i + 4 <= hi; i += 4) {
            __m128i s = _mm_loadu_si128((const __m128i *)(st + i)), t = _mm_loadu_si128((const __m128i *)(st + i + 1));
            dor = _mm_or_si128(dor, _mm_sub_epi32(t, s));
            tor = _mm_or_si128(tor, t);
            big = _mm_or_si128(big, _mm_cmpgt_epi32(t, vlen));
            __m128i r = _mm_sra_epi32(_mm_sub_epi32(t, vs0), sh);
            _mm_storeu_si128((__m128i *)(o + i - lo), _mm_add_epi64(_mm_unpacklo_epi32(r, zero), vbase));
            _mm_storeu_si128((__m128i *)(o + i - lo + 2), _mm_add_epi64(_mm_unpackhi_epi32(r, zero), vbase));
        }
        uint32_t d[4], t[4];
        _mm_storeu_si128((__m128i *)d, dor);
        _mm_storeu_si128((__m128i *)t, tor);
        if (((d[0] | d[1] | d[2] | d[3]) & (uint32_t)(mask | 0x80000000u)) || ((t[0] | t[1] | t[2] | t[3]) >> 31) ||
            _mm_movemask_epi8(big))
            return -1;
    }
#endif
    for (; i < hi; i++) {
        int64_t t = st[i + 1], d = t - st[i];
        bad |= (uint64_t)d & mask;
        o[i - lo] = base + ((t - s0) >> wsh);
    }
    return bad ? -1 : 0;
}

/* Appends entries [lo, hi) of a loaded basket to out. */
static int decode_into(const tbranch *b, const bview *v, int64_t lo, int64_t hi, column *out, int idx, mlhep_err *e)
{
    size_t vs = dtype_size(b->dt);
    int64_t m = hi - lo;
    if (b->kind != TK_JAGGED) {
        int64_t per = b->fixed_len > 0 ? b->fixed_len : 1;
        int64_t esz = b->leaflist ? b->entry_size : (int64_t)b->disk_width * per;
        if (v->starts && !b->leaflist) {
            /* fixed-size data with an offset array (some writers add one): use it to check */
            for (int64_t i = lo; i < hi; i++)
                if (v->starts[i + 1] - v->starts[i] != esz)
                    return BERR("basket %d: entry %lld has %d bytes, expected %lld", idx, (long long)i,
                                v->starts[i + 1] - v->starts[i], (long long)esz);
        }
        if ((int64_t)v->len < v->n * esz)
            return BERR("basket %d: %zu data bytes for %lld entries of %lld bytes", idx, v->len, (long long)v->n,
                        (long long)esz);
        if (m <= 0) /* a basket holding 0 entries, or none of it wanted */
            return 0;
        if (ensure_values(out, out->nvalues + (size_t)(m * per), e))
            return e->code;
        uint8_t *dst = (uint8_t *)out->values + out->nvalues * vs;
        if (b->leaflist) {
            for (int64_t i = lo; i < hi; i++)
                decode_values(b, dst + (size_t)((i - lo) * per) * vs, v->data + i * esz + b->leaf_offset, (size_t)per);
        } else {
            decode_values(b, dst, v->data + lo * esz, (size_t)(m * per));
        }
        out->nvalues += (size_t)(m * per);
        out->n += m;
        return 0;
    }
    if (!v->starts)
        return BERR("basket %d: jagged data without entry offsets", idx);
    /* count values first so the output grows once per basket; for contiguous entries
     * of power-of-two width the same pass writes the offsets */
    size_t w = (size_t)b->disk_width;
    size_t hdr = (size_t)b->header_bytes;
    size_t total = 0;
    /* value widths are powers of two: masks and shifts instead of a division per entry */
    int pow2 = w && !(w & (w - 1));
    int wsh = pow2 ? __builtin_ctzll((unsigned long long)w) : 0;
    size_t wmask = pow2 ? w - 1 : 0;
    if (agrow(out->arena, (void **)&out->offsets, &out->cap_offsets, (size_t)(out->n + m + 1), sizeof(int64_t)))
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    int64_t base = (int64_t)out->nvalues;
    int64_t *o = out->offsets + out->n + 1;
    const int32_t *st = v->starts;
    int fused = pow2 && hdr == 0;
    /* x[n][k] (k values per element, e.g. a fixed array member of a split collection):
     * an entry holds whole elements */
    size_t per = b->fixed_len > 1 ? (size_t)b->fixed_len : 1;
    if (fused && per == 1 && jagged_offsets(st, lo, hi, v->len, wsh, base, o) == 0) {
        total = (size_t)(st[hi] - st[lo]);
    } else {
        for (int64_t i = lo; i < hi; i++) {
            int64_t s = st[i], t = st[i + 1];
            size_t sz = (size_t)(t - s - (int64_t)hdr);
            if (s < 0 || t < s + (int64_t)hdr || t > (int64_t)v->len || (pow2 ? sz & wmask : sz % w) ||
                (per > 1 && (sz / w) % per))
                return BERR("basket %d: entry %lld has a corrupt size (bytes %lld..%lld of %zu)", idx,
                            (long long)(b->baskets[idx].first + i), (long long)s, (long long)t, v->len);
            total += sz;
            if (fused)
                o[i - lo] = base + (int64_t)(total >> wsh);
        }
    }
    total /= w;
    if (ensure_values(out, out->nvalues + total, e))
        return e->code;
    if (hdr == 0) {
        /* entries are contiguous: one decode for the whole range (none if all are
         * empty: out->values may still be NULL) */
        if (total)
            decode_values(b, (uint8_t *)out->values + out->nvalues * vs, v->data + st[lo], total);
        if (!fused)
            for (int64_t i = lo; i < hi; i++)
                o[i - lo] = base + (int64_t)(st[i + 1] - st[lo]) / (int64_t)w;
    } else {
        int64_t pos = base;
        for (int64_t i = lo; i < hi; i++) {
            size_t cnt = ((size_t)(st[i + 1] - st[i]) - hdr) / w;
            if (cnt)
                decode_values(b, (uint8_t *)out->values + (size_t)pos * vs, v->data + st[i] + hdr, cnt);
            pos += (int64_t)cnt;
            o[i - lo] = pos;
        }
    }
    out->nvalues += total;
    out->n += m;
    return 0;
}

/* decode_direct for the common jagged basket (values of a power-of-two width, no
 * per-entry header, an entry-offset array of starts): the column's offsets come
 * straight from the stored array (basket_entry_offsets) and the values are converted in
 * place, without the pass that turns the array into entry starts first. 1 done, 0 not
 * this case or a check failed (the caller's checking path takes over and names the
 * fault), or an error code (< 0). */
static int decode_direct_jagged(const tbranch *b, const bhead *h, const tbasket *bk, uint8_t *dst, column *out,
                                mlhep_err *e)
{
    size_t w = (size_t)b->disk_width;
    if (b->kind != TK_JAGGED || b->header_bytes || b->fixed_len > 1 || (h->iobits & 1) || h->flag >= 80 ||
        h->border >= h->objlen || h->nevbuf != bk->n || !w || (w & (w - 1)))
        return 0;
    cursor oc;
    cur_init(&oc, dst + h->border, (size_t)(h->objlen - h->border));
    int32_t cnt = cur_i32(&oc), n = h->nevbuf;
    if (!cur_ok(&oc) || cnt < n || (size_t)cnt > cur_left(&oc) / 4 + 1)
        return 0;
    const uint8_t *arr = cur_take(&oc, (size_t)n * 4);
    if (!arr && n)
        return 0;
    if (agrow(out->arena, (void **)&out->offsets, &out->cap_offsets, (size_t)out->n + (size_t)n + 1, sizeof(int64_t)))
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    int wsh = __builtin_ctzll((unsigned long long)w);
    int32_t s0;
    if (cur_be32_offsets(arr, (size_t)n, h->keylen, h->border, wsh, (int64_t)out->nvalues,
                         out->offsets + out->n + 1, &s0, 1))
        return 0;
    size_t total = (size_t)(h->border - s0) >> wsh;
    /* the values move forwards only (s0 >= 0), never ahead of what is read */
    if (total)
        decode_values(b, (uint8_t *)out->values + out->nvalues * dtype_size(b->dt), dst + s0, total);
    out->nvalues += total;
    out->n += n;
    return 1;
}

/* Appends basket idx of b, which the read consumes whole, to out with its payload
 * expanded straight into out's values (room made for the whole payload: the values,
 * then the entry offsets that follow them, read before the next basket overwrites
 * them) and the values converted there, in place: no pass through a scratch buffer,
 * one write of each value to memory that is usually out of the CPU's cache. For
 * plain encodings, whose values keep their width (decode_into then converts
 * forwards, never ahead of what it reads). */
static int decode_direct(rootfile *f, const tbranch *b, int idx, basket_ctx *ctx, column *out, mlhep_err *e)
{
    const tbasket *bk = &b->baskets[idx];
    bhead h;
    int rc = basket_fetch(f, idx, bk, ctx, &h, e);
    if (rc)
        return rc;
    size_t vs = dtype_size(b->dt);
    if (ensure_values(out, out->nvalues + ((size_t)h.objlen + vs - 1) / vs, e))
        return e->code;
    uint8_t *dst = (uint8_t *)out->values + out->nvalues * vs;
    bview v = {0};
    if ((rc = basket_expand(ctx, &h, idx, bk->seek, dst, e)))
        return rc;
    if ((rc = decode_direct_jagged(b, &h, bk, dst, out, e)))
        return rc < 0 ? rc : 0;
    if ((rc = basket_index(ctx, &ctx->scratch, &h, idx, dst, &v, e)) ||
        (rc = basket_rebuild_starts(f, b, idx, ctx, &ctx->scratch, &v, e)))
        return rc;
    if (v.n != bk->n)
        return BERR("basket %d: holds %lld entries, the branch says %lld", idx, (long long)v.n, (long long)bk->n);
    /* decode_into's own room for the values is within what was made above: the
     * values stay where they were expanded */
    return decode_into(b, &v, 0, bk->n, out, idx, e);
}

int basket_read(rootfile *f, const tbranch *b, int64_t a, int64_t z, column *out, basket_ctx *ctx, mlhep_err *e)
{
    if (b->kind == TK_SKIPPED)
        return err_set(e, MLHEP_EUNSUPPORTED, "branch '%s' cannot be read: %s", b->name,
                       b->skip_reason ? b->skip_reason : "not plain numeric");
    if (b->dt == DT_NONE)
        return err_set(e, MLHEP_EUNSUPPORTED, "branch '%s' has no data of its own (it groups sub-branches)", b->name);
    if (a < 0 || z < a || z > b->entries)
        return err_set(e, MLHEP_EINVAL, "branch '%s': entry range [%lld, %lld) outside [0, %lld)", b->name,
                       (long long)a, (long long)z, (long long)b->entries);
    basket_ctx *own = NULL;
    if (!ctx && !(ctx = own = basket_ctx_new()))
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    out->dt = b->dt;
    out->jagged = b->kind == TK_JAGGED;
    out->first = a;
    out->n = 0;
    out->nvalues = 0;
    out->per_entry = b->fixed_len > 0 ? b->fixed_len : 1;
    int rc = 0;
    if (out->jagged) {
        if (agrow(out->arena, (void **)&out->offsets, &out->cap_offsets, (size_t)(z - a + 1), sizeof(int64_t))) {
            rc = err_set(e, MLHEP_ENOMEM, "out of memory");
            goto done;
        }
        out->offsets[0] = 0;
    } else {
        /* sized for the whole range up front, but no more than PRESIZE_BYTES: past that
         * the values grow basket by basket, once each basket's data has been checked to
         * hold them (a corrupt leaf length must not allocate gigabytes for nothing) */
        size_t want = (size_t)((z - a) * out->per_entry) + 1, vs = dtype_size(out->dt);
        if (vs && want > PRESIZE_BYTES / vs)
            want = PRESIZE_BYTES / vs;
        if (ensure_values(out, want, e)) {
            rc = e->code;
            goto done;
        }
    }
    if (a == z)
        goto done;
    int idx = tbranch_find_basket(b, a);
    if (idx < 0) {
        rc = BERR("no basket holds entry %lld", (long long)a);
        goto done;
    }
    /* plain values keep their width: a basket the read consumes whole is expanded
     * straight into the column and converted there */
    int direct = b->enc == ENC_PLAIN && !b->leaflist && b->disk_width == (int)dtype_size(b->dt);
    for (; idx < b->nbaskets && b->baskets[idx].first < z; idx++) {
        const tbasket *bk = &b->baskets[idx];
        if ((bk->first > a ? bk->first : a) != a + out->n) {
            rc = BERR("basket %d starts at entry %lld, expected %lld (gap in the basket table)", idx,
                      (long long)bk->first, (long long)(a + out->n));
            goto done;
        }
        if (bk->n == 0)
            continue; /* holds no entries: nothing to read */
        int whole = bk->first >= a && bk->first + bk->n <= z;
        if (whole && direct && bk->seek && !cached(ctx, f, b, idx)) {
            rc = decode_direct(f, b, idx, ctx, out, e);
            if (rc)
                goto done;
            continue;
        }
        bview v;
        /* a basket that ends inside [a, z) is not needed by the next range */
        rc = load_basket(f, b, idx, ctx, &v, bk->first + bk->n > z ? 1 : 2, e);
        if (rc)
            goto done;
        if (v.n != bk->n) {
            rc = BERR("basket %d: holds %lld entries, the branch says %lld", idx, (long long)v.n, (long long)bk->n);
            goto done;
        }
        int64_t lo = a > bk->first ? a - bk->first : 0;
        int64_t hi = z < bk->first + bk->n ? z - bk->first : bk->n;
        rc = decode_into(b, &v, lo, hi, out, idx, e);
        if (rc)
            goto done;
    }
    if (out->n != z - a)
        rc = BERR("baskets end at entry %lld, before %lld", (long long)(a + out->n), (long long)z);
done:
    basket_ctx_free(own);
    if (rc)
        err_prefix(e, "branch '%s'", b->name);
    return rc;
}

int basket_inflate_only(rootfile *f, const tbranch *b, int64_t a, int64_t z, basket_ctx *ctx, uint64_t *bytes,
                        mlhep_err *e)
{
    if (b->kind == TK_SKIPPED || b->dt == DT_NONE || a >= z)
        return 0;
    int idx = tbranch_find_basket(b, a);
    for (; idx >= 0 && idx < b->nbaskets && b->baskets[idx].first < z; idx++) {
        uint64_t before = ctx->bytes;
        bview v;
        const tbranch tmp = {.kind = TK_FLAT, .baskets = b->baskets, .nbaskets = b->nbaskets, .name = b->name};
        int rc = load_basket(f, &tmp, idx, ctx, &v, 0, e);
        if (rc)
            return rc;
        *bytes += ctx->bytes - before;
    }
    return 0;
}

double column_get(const column *c, size_t i)
{
    return dtype_value(c->dt, c->values, i);
}

/* ------------------------------------------------------------ threads */

typedef struct many_job {
    rootfile *f;
    const tbranch *const *b;
    int n;
    int64_t a, z;
    column *out;
    const readplan *plan;
    basket_ctx *const *ctxs; /* per-thread contexts or NULL */
    int next;           /* atomic: next branch index (without ctxs) */
    int failed;         /* atomic: set by the first thread that fails, which fills err */
    mlhep_err err;
} many_job;

static void many_worker(void *arg, int tid, int nthreads)
{
    many_job *j = arg;
    basket_ctx *ctx = j->ctxs ? j->ctxs[tid] : NULL;
    if (ctx)
        basket_ctx_set_plan_all(ctx, j->plan);
    mlhep_err e;
    /* with persistent contexts each thread keeps the same branches (its basket cache
     * then holds their current baskets); otherwise branches go to whoever is free */
    for (int k = 0;; k++) {
        int i = j->ctxs ? tid + k * nthreads : __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
        if (i >= j->n || __atomic_load_n(&j->failed, __ATOMIC_RELAXED))
            break;
        if (!ctx && (ctx = basket_ctx_new()) != NULL)
            basket_ctx_set_plan_all(ctx, j->plan);
        int rc = ctx ? basket_read(j->f, j->b[i], j->a, j->z, &j->out[i], ctx, &e)
                     : err_set(&e, MLHEP_ENOMEM, "out of memory");
        if (rc) {
            int expected = 0;
            if (__atomic_compare_exchange_n(&j->failed, &expected, 1, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
                j->err = e; /* read by the caller after team_run returned */
            break;
        }
    }
    if (!j->ctxs)
        basket_ctx_free(ctx);
    else if (ctx)
        basket_ctx_set_plan_all(ctx, NULL);
}

/* a team for one call: up to nthreads threads, no more than there are branches */
static int call_team(int nthreads, int n, team **tm, mlhep_err *e)
{
    *tm = NULL;
    if (nthreads > n)
        nthreads = n;
    return nthreads > 1 ? team_new(nthreads, tm, e) : 0;
}

int basket_read_many(rootfile *f, const tbranch *const *b, int n, int64_t a, int64_t z, column *out, int nthreads,
                     mlhep_err *e)
{
    team *tm;
    int rc = call_team(nthreads, n, &tm, e);
    if (rc)
        return rc;
    if (!f->src->ops->readv) {
        rc = basket_read_many_plan(f, b, n, a, z, out, NULL, tm, NULL, e);
        team_free(tm);
        return rc;
    }
    readplan *p;
    rc = readplan_build(f, b, n, a, z, NULL, &p, e);
    if (!rc) {
        rc = readplan_fetch(p, e);
        if (!rc)
            rc = basket_read_many_plan(f, b, n, a, z, out, NULL, tm, p, e);
        else
            err_prefix(e, "entries %lld..%lld", (long long)a, (long long)z);
        readplan_free(p);
    }
    team_free(tm);
    return rc;
}

int basket_read_many_ctx(rootfile *f, const tbranch *const *b, int n, int64_t a, int64_t z, column *out,
                         basket_ctx *const *ctxs, team *tm, mlhep_err *e)
{
    return basket_read_many_plan(f, b, n, a, z, out, ctxs, tm, NULL, e);
}

int basket_read_many_plan(rootfile *f, const tbranch *const *b, int n, int64_t a, int64_t z, column *out,
                          basket_ctx *const *ctxs, team *tm, const readplan *plan, mlhep_err *e)
{
    many_job j = {.f = f, .b = b, .n = n, .a = a, .z = z, .out = out, .ctxs = ctxs, .plan = plan};
    team_run(tm, many_worker, &j);
    if (j.failed) {
        *e = j.err;
        return e->code;
    }
    return 0;
}
