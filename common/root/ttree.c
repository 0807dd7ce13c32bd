/* ttree.c - decoding of TTree / TBranch / TLeaf objects into tbranch records
 * (see ttree.h, and ../shared/docs/root-format.md sections 5 and 7).
 *
 * Two steps: (1) a streamer walk over the TTree payload with ROOT's object rules
 * (byte counts + versions, ReadObjectAny with class tags and back-references keyed by
 * offset + fKeyLen + 2) into raw structs (braw, lraw) mirroring ROOT's members;
 * (2) classification of each raw branch into a tbranch (kind, dtype, encoding,
 * counter, baskets). Everything lives in the tree's arena. */
#include "root/ttree.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cursor.h"
#include "base/suggest.h"

#define K_BYTECOUNT 0x40000000u
#define K_CLASSMASK 0x80000000u
#define K_NEWCLASS 0xFFFFFFFFu
#define MAX_DEPTH 64
#define MAX_BRANCHES 1000000
#define MAX_ENTRY ((int64_t)1 << 62) /* bound on entry numbers read from a file */

/* ---------------------------------------------------------------- dtypes */

const char *dtype_name(dtype t)
{
    static const char *n[] = {"none", "bool", "int8", "int16", "int32", "int64", "uint8",
                              "uint16", "uint32", "uint64", "float32", "float64"};
    return (unsigned)t < sizeof n / sizeof n[0] ? n[t] : "none";
}

size_t dtype_size(dtype t)
{
    static const size_t s[] = {0, 1, 1, 2, 4, 8, 1, 2, 4, 8, 4, 8};
    return (unsigned)t < sizeof s / sizeof s[0] ? s[t] : 0;
}

int dtype_is_float(dtype t) { return t == DT_F32 || t == DT_F64; }
int dtype_is_signed(dtype t) { return t == DT_I8 || t == DT_I16 || t == DT_I32 || t == DT_I64 || dtype_is_float(t); }

const char *tkind_name(tkind k)
{
    switch (k) {
    case TK_FLAT: return "flat";
    case TK_FIXED: return "fixed_array";
    case TK_JAGGED: return "jagged";
    case TK_GROUP: return "group";
    default: return "skipped";
    }
}

/* ------------------------------------------------------- raw ROOT objects */

typedef struct braw braw;

typedef struct lraw {
    char cls[48];
    const char *name, *title;
    int32_t len, lentype, offset;
    int isrange, isunsigned;
    struct lraw *count; /* fLeafCount */
    int32_t etype;      /* TLeafElement fType */
    braw *owner;
} lraw;

typedef struct emb_basket {
    int64_t nev;
    int header_only;     /* no data streamed: a copy of a basket record on disk (ignored) */
    const uint8_t *data; /* data region */
    size_t len;
    int32_t *starts;     /* nev+1 or NULL (fixed-size entries) */
} emb_basket;

struct braw {
    char cls[48];
    const char *name, *title;
    int version;
    int32_t compress, basketsize, entryoffsetlen, writebasket, maxbaskets, splitlevel;
    int64_t entrynumber, entries, firstentry, totbytes, zipbytes;
    braw **sub;
    int nsub;
    lraw **leaves;
    int nleaves;
    emb_basket *emb;
    int nemb;
    int32_t *basketbytes;
    int64_t *basketentry, *basketseek;
    const char *unsupported; /* layout we cannot decode: listed as skipped with this reason */
    /* TBranchElement */
    int is_element;
    const char *classname, *parentname, *clonesname;
    int32_t classversion;    /* version of classname the member index fID refers to (-1: unknown) */
    int32_t id, type, streamertype, maximum;
    braw *bcount;
    tbranch *out;
};

enum { OBJ_NONE, OBJ_BRANCH, OBJ_LEAF, OBJ_BASKET, OBJ_OTHER, OBJ_ARRAY, OBJ_ELEMENT };

/* One element of a class's TStreamerInfo (for split members: STL type names, and the
 * Double32_t/Float16_t range and bit count in the element title). */
typedef struct sinfo {
    const char *cls, *name, *title, *tname;
    int clsver;         /* class version of the TStreamerInfo holding it */
    int has_range;      /* TStreamerElement::kHasRange: the title holds a Double32/Float16 range */
    int explicit_range; /* element version 3 streams the range itself: */
    double xmin, xmax, factor;
    int index, type;
    int arrlen, ndim;   /* fixed array members: fArrayLength, fArrayDim, fMaxIndex */
    int dims[5];
} sinfo;

/* A TObjArray or TList read through a pointer. */
typedef struct objlist {
    void **v;
    int *kinds;
    int n;
} objlist;


typedef struct ref {
    uint32_t tag;
    int kind;           /* OBJ_* or -1 for a class name */
    void *ptr;          /* braw*, lraw*, or class name (char*) */
} ref;

typedef struct pctx {
    cursor c;
    uint32_t keylen;
    arena *mem;
    ref *refs;
    size_t nrefs, caprefs;
    int depth;
    int oom;
    char why[256];      /* first structural problem seen */
    sinfo **si;         /* StreamerInfo elements, when reading that record */
    int nsi, capsi;
} pctx;

static void p_fail(pctx *p, const char *fmt, const char *arg)
{
    if (!p->why[0])
        snprintf(p->why, sizeof p->why, fmt, arg);
    cur_fail(&p->c);
}

/* Out of memory: the parse stops and reports it (not as a format error). */
static void p_oom(pctx *p)
{
    p->oom = 1;
    cur_fail(&p->c);
}

/* n bytes from the parse's arena, or NULL with the parse stopped (p_oom). */
static void *p_alloc(pctx *p, size_t n)
{
    void *m = arena_alloc(p->mem, n);
    if (!m)
        p_oom(p);
    return m;
}

static void ref_add(pctx *p, uint32_t tag, int kind, void *ptr)
{
    if (p->nrefs == p->caprefs) {
        size_t cap = p->caprefs ? p->caprefs * 2 : 256;
        ref *r = realloc(p->refs, cap * sizeof *r);
        if (!r) {
            p_oom(p);
            return;
        }
        p->refs = r;
        p->caprefs = cap;
    }
    p->refs[p->nrefs++] = (ref){tag, kind, ptr};
}

static ref *ref_find(pctx *p, uint32_t tag)
{
    for (size_t i = p->nrefs; i-- > 0;) /* recent first: most references are local */
        if (p->refs[i].tag == tag)
            return &p->refs[i];
    return NULL;
}

static const char *p_str(pctx *p)
{
    size_t n;
    const char *s = cur_rootstr(&p->c, &n);
    if (!s)
        return "";
    char *d = arena_strndup(p->mem, s, n);
    if (!d) {
        p_oom(p);
        return "";
    }
    return d;
}

/* byte count + version; sets *end (0 if no byte count). Returns version. */
static int p_version(pctx *p, size_t *end)
{
    size_t start = p->c.pos;
    uint32_t bc = cur_u32(&p->c);
    if (bc & K_BYTECOUNT) {
        *end = start + 4 + (bc & ~K_BYTECOUNT);
        if (*end > p->c.len) {
            p_fail(p, "byte count runs past the end of the record%s", "");
            return 0;
        }
    } else {
        *end = 0;
        cur_seek(&p->c, start);
    }
    int v = cur_u16(&p->c) & ~0x4000;
    return v;
}

static void p_end(pctx *p, size_t end)
{
    if (!end || !cur_ok(&p->c))
        return;
    if (p->c.pos > end)
        p_fail(p, "object is longer than its byte count%s", "");
    else
        cur_seek(&p->c, end);
}

static void p_skip_object(pctx *p) /* bc+version object we do not need */
{
    size_t end;
    p_version(p, &end);
    if (!end)
        p_fail(p, "object without byte count cannot be skipped%s", "");
    p_end(p, end);
}

/* Returns fBits. */
static uint32_t p_tobject(pctx *p)
{
    int v = cur_i16(&p->c);
    if (v & 0x4000)
        cur_skip(&p->c, 4);
    cur_skip(&p->c, 4); /* fUniqueID */
    uint32_t bits = cur_u32(&p->c);
    if (bits & (1u << 4))
        cur_skip(&p->c, 2);
    return bits;
}

/* Returns the TObject's fBits. */
static uint32_t p_tnamed(pctx *p, const char **name, const char **title)
{
    size_t end;
    p_version(p, &end);
    uint32_t bits = p_tobject(p);
    *name = p_str(p);
    *title = p_str(p);
    p_end(p, end);
    return bits;
}

static void *p_read_any(pctx *p, int *kind);

/* TObjArray streamed as a member: returns arena array of n pointers (kinds in *kinds). */
static void **p_objarray(pctx *p, int *n_out, int want_kind)
{
    *n_out = 0;
    size_t end;
    p_version(p, &end);
    p_tobject(p);
    size_t sn;
    cur_rootstr(&p->c, &sn);
    int32_t n = cur_i32(&p->c);
    cur_skip(&p->c, 4); /* lower bound */
    if (!cur_ok(&p->c))
        return NULL;
    if (n < 0 || (size_t)n > cur_left(&p->c) / 4 || n > MAX_BRANCHES) {
        p_fail(p, "object array with impossible size%s", "");
        return NULL;
    }
    void **v = p_alloc(p, ((size_t)n + 1) * sizeof *v);
    if (!v)
        return NULL;
    int k = 0;
    for (int32_t i = 0; i < n && cur_ok(&p->c); i++) {
        int kind;
        void *o = p_read_any(p, &kind);
        if (o && (kind == want_kind || want_kind == OBJ_OTHER))
            v[k++] = o;
    }
    p_end(p, end);
    *n_out = k;
    return v;
}

/* flag byte + n values of width w (the "speedbump" arrays fBasketBytes, ...). */
static const uint8_t *p_flagged_array(pctx *p, int32_t n, size_t w)
{
    if (cur_u8(&p->c) == 0)
        return NULL;
    if (n < 0)
        return NULL;
    return cur_take(&p->c, (size_t)n * w);
}

static void p_leaf_body(pctx *p, lraw *l, size_t outer_end)
{
    size_t end;
    int v = p_version(p, &end); /* TLeaf */
    (void)v;
    p_tnamed(p, &l->name, &l->title);
    l->len = cur_i32(&p->c);
    l->lentype = cur_i32(&p->c);
    l->offset = cur_i32(&p->c);
    l->isrange = cur_u8(&p->c);
    l->isunsigned = cur_u8(&p->c);
    int kind;
    void *cnt = p_read_any(p, &kind);
    l->count = kind == OBJ_LEAF ? cnt : NULL;
    p_end(p, end);
    if (strcmp(l->cls, "TLeafElement") == 0) {
        cur_skip(&p->c, 4); /* fID */
        l->etype = cur_i32(&p->c);
    }
    p_end(p, outer_end);
}

static void p_embedded_basket(pctx *p, emb_basket *eb)
{
    cursor *c = &p->c;
    cur_skip(c, 4); /* nbytes */
    int16_t kv = cur_i16(c);
    cur_skip(c, 4 + 4); /* objlen, datime */
    int16_t keylen = cur_i16(c);
    cur_skip(c, 2);
    cur_skip(c, kv > 1000 ? 16 : 8);
    size_t sn;
    cur_rootstr(c, &sn);
    cur_rootstr(c, &sn);
    cur_rootstr(c, &sn);
    int16_t bv = cur_i16(c);
    cur_skip(c, 4); /* buffer size */
    int32_t nevbufsize = cur_i32(c);
    if (nevbufsize < 0)
        cur_skip(c, 1);
    int32_t nevbuf = cur_i32(c);
    int32_t last = cur_i32(c);
    int flag = cur_u8(c);
    if (!cur_ok(c))
        return;
    if (nevbuf < 0 || last < keylen || keylen < 0) {
        p_fail(p, "embedded basket header is corrupt%s", "");
        return;
    }
    int generate = 0; /* offsets to be rebuilt from the counter branch */
    if (flag >= 80) {
        generate = 1;
        flag -= 80;
    }
    int32_t *offs = NULL;
    int32_t noffs = 0;
    if (!generate && flag && flag % 10 != 2) {
        if (nevbuf) {
            noffs = cur_i32(c);
            if (noffs < 0 || (size_t)noffs > cur_left(c) / 4) {
                p_fail(p, "embedded basket offsets are corrupt%s", "");
                return;
            }
            if (!(offs = p_alloc(p, ((size_t)noffs + 1) * sizeof *offs)))
                return;
            for (int32_t i = 0; i < noffs; i++) {
                offs[i] = cur_i32(c);
                if (flag > 20 && flag < 40)
                    offs[i] &= ~0xFF000000;
            }
        }
    }
    if (flag > 40) {
        int32_t nd = cur_i32(c);
        if (nd < 0) {
            p_fail(p, "embedded basket displacement array is corrupt%s", "");
            return;
        }
        cur_skip(c, (size_t)nd * 4);
    }
    const uint8_t *raw = NULL;
    if (flag == 1 || flag > 10) {
        int32_t rawlen = last;
        if (bv <= 1)
            rawlen = cur_i32(c);
        if (rawlen < 0) {
            p_fail(p, "embedded basket buffer is corrupt%s", "");
            return;
        }
        raw = cur_take(c, (size_t)rawlen);
        if (!raw)
            return;
    }
    eb->nev = nevbuf;
    if (!raw) {
        /* no buffer streamed (flag 0): the object only keeps the header of a basket
         * written as its own record (ROOT writes such copies); the basket table
         * already holds that record, so this one is ignored. Entries nobody holds
         * are caught when the branch is read ("baskets end at entry ..."). */
        eb->data = NULL;
        eb->len = 0;
        eb->header_only = 1;
        return;
    }
    eb->data = raw + keylen;
    eb->len = (size_t)(last - keylen);
    if (offs && noffs >= nevbuf) {
        int32_t *st = p_alloc(p, ((size_t)nevbuf + 1) * sizeof *st);
        if (!st)
            return;
        for (int32_t i = 0; i < nevbuf; i++) {
            st[i] = offs[i] - keylen;
            if (st[i] < 0 || (size_t)st[i] > eb->len) {
                p_fail(p, "embedded basket entry offsets are corrupt%s", "");
                return;
            }
        }
        st[nevbuf] = (int32_t)eb->len;
        eb->starts = st;
    }
}

/* A reason string in the parse's arena ("" when out of memory: the parse then stops). */
static const char *p_reason(pctx *p, const char *fmt, const char *a, int n)
{
    char buf[200];
    snprintf(buf, sizeof buf, fmt, a, n);
    char *d = arena_strdup(p->mem, buf);
    if (!d)
        p_oom(p);
    return d ? d : "";
}

/* A ROOT 4 Stat_t (double) count: a whole number in [0, 2^53], else -1. */
static int64_t count_of_double(double d)
{
    return d >= 0 && d <= 9007199254740992.0 && d == (double)(int64_t)d ? (int64_t)d : -1;
}

/* TBranch versions 10-13 (ROOT 5.2x-6.3x) and 8 (ROOT 4 layout, still written by
 * Geant4's g4tools: Int_t/Stat_t counters, 32-bit basket entries and seeks). Other
 * versions are listed as skipped (name from TNamed, the rest passed over through
 * the byte count). */
static void p_branch_body(pctx *p, braw *b)
{
    size_t end;
    int v = p_version(p, &end);
    b->version = v;
    if (v != 8 && (v < 10 || v > 13)) {
        if (!end) {
            if (cur_ok(&p->c))
                p_fail(p, "TBranch class version %s without byte count cannot be skipped", v < 10 ? "< 10" : "> 13");
            return;
        }
        p_tnamed(p, &b->name, &b->title);
        b->unsupported = p_reason(p, "TBranch class version %s%d is not supported (8 and 10-13 are)", "", v);
        p_end(p, end);
        return;
    }
    int old = v == 8;
    p_tnamed(p, &b->name, &b->title);
    p_skip_object(p); /* TAttFill */
    b->compress = cur_i32(&p->c);
    b->basketsize = cur_i32(&p->c);
    b->entryoffsetlen = cur_i32(&p->c);
    b->writebasket = cur_i32(&p->c);
    b->entrynumber = old ? cur_i32(&p->c) : cur_i64(&p->c);
    if (v >= 13)
        p_skip_object(p); /* fIOFeatures */
    cur_skip(&p->c, 4);   /* fOffset */
    b->maxbaskets = cur_i32(&p->c);
    b->splitlevel = cur_i32(&p->c);
    if (old) {
        b->entries = count_of_double(cur_f64(&p->c));
        b->totbytes = count_of_double(cur_f64(&p->c));
        b->zipbytes = count_of_double(cur_f64(&p->c));
    } else {
        b->entries = cur_i64(&p->c);
        if (v >= 11)
            b->firstentry = cur_i64(&p->c);
        b->totbytes = cur_i64(&p->c);
        b->zipbytes = cur_i64(&p->c);
    }
    if (!cur_ok(&p->c))
        return;
    if (b->maxbaskets < 0 || b->writebasket < 0 || b->writebasket > b->maxbaskets || b->entries < 0 ||
        b->entries > MAX_ENTRY || (size_t)b->maxbaskets > p->c.len) {
        p_fail(p, "branch '%s' has corrupt basket counts", b->name);
        return;
    }
    int n;
    b->sub = (braw **)p_objarray(p, &n, OBJ_BRANCH);
    b->nsub = n;
    b->leaves = (lraw **)p_objarray(p, &n, OBJ_LEAF);
    b->nleaves = n;
    for (int i = 0; i < b->nleaves; i++)
        b->leaves[i]->owner = b;
    /* fBaskets: embedded baskets (TBasket objects) */
    {
        size_t aend;
        p_version(p, &aend);
        p_tobject(p);
        size_t sn;
        cur_rootstr(&p->c, &sn);
        int32_t nb = cur_i32(&p->c);
        cur_skip(&p->c, 4);
        if (nb < 0 || (size_t)nb > cur_left(&p->c) / 4) {
            p_fail(p, "branch '%s' has a corrupt basket array", b->name);
            return;
        }
        if (!(b->emb = p_alloc(p, ((size_t)nb + 1) * sizeof *b->emb)))
            return;
        for (int32_t i = 0; i < nb && cur_ok(&p->c); i++) {
            int kind;
            void *o = p_read_any(p, &kind);
            if (o && kind == OBJ_BASKET && !((emb_basket *)o)->header_only)
                b->emb[b->nemb++] = *(emb_basket *)o;
        }
        p_end(p, aend);
    }
    size_t w = old ? 4 : 8; /* fBasketEntry, fBasketSeek: Int_t in version 8 */
    const uint8_t *bb = p_flagged_array(p, b->maxbaskets, 4);
    const uint8_t *be = p_flagged_array(p, b->maxbaskets, w);
    const uint8_t *bs = p_flagged_array(p, b->maxbaskets, w);
    p_str(p); /* fFileName */
    if (!cur_ok(&p->c))
        return;
    int32_t m = b->maxbaskets;
    b->basketbytes = arena_alloc(p->mem, ((size_t)m + 1) * 4);
    b->basketentry = arena_alloc(p->mem, ((size_t)m + 1) * 8);
    b->basketseek = arena_alloc(p->mem, ((size_t)m + 1) * 8);
    if (!b->basketbytes || !b->basketentry || !b->basketseek) {
        p_oom(p);
        return;
    }
    for (int32_t i = 0; i < m; i++) {
        cursor t;
        if (bb) {
            cur_init(&t, bb + 4 * i, 4);
            b->basketbytes[i] = cur_i32(&t);
        }
        if (be) {
            cur_init(&t, be + w * i, w);
            b->basketentry[i] = old ? cur_i32(&t) : cur_i64(&t);
        }
        if (bs) {
            cur_init(&t, bs + w * i, w);
            b->basketseek[i] = old ? (int64_t)cur_u32(&t) : cur_i64(&t);
        }
        /* the first entry of a basket in use: no tree holds 2^62 entries, and the entry
         * arithmetic on these values (plus basket sizes) must not overflow */
        if (i <= b->writebasket && (b->basketentry[i] < 0 || b->basketentry[i] > MAX_ENTRY)) {
            char why[sizeof p->why];
            snprintf(why, sizeof why, "branch '%.100s' has a corrupt basket table (basket %d starts at entry %lld)",
                     b->name, (int)i, (long long)b->basketentry[i]);
            p_fail(p, "%s", why);
            return;
        }
    }
    p_end(p, end);
}

/* TBranchElement versions 8-10 (ROOT 5-6) and 1 (ROOT 4 layout, as g4tools writes
 * it: class name, class version, fID, fType, fStreamerType). Other versions are
 * listed as skipped (the caller passes over them through the byte count). */
static void p_branch_element_tail(pctx *p, braw *b, int v)
{
    b->is_element = 1;
    b->classversion = -1;
    b->classname = p_str(p);
    if (v == 1) {
        b->classversion = cur_i32(&p->c);
        b->id = cur_i32(&p->c);
        b->type = cur_i32(&p->c);
        b->streamertype = cur_i32(&p->c);
        return;
    }
    if (v < 8 || v > 10) {
        b->unsupported = p_reason(p, "TBranchElement class version %s%d is not supported (1 and 8-10 are)", "", v);
        b->streamertype = -1;
        return;
    }
    b->parentname = p_str(p);
    b->clonesname = p_str(p);
    cur_skip(&p->c, 4); /* checksum */
    if (v >= 10)
        b->classversion = cur_i16(&p->c);
    else
        b->classversion = cur_i32(&p->c);
    b->id = cur_i32(&p->c);
    b->type = cur_i32(&p->c);
    b->streamertype = cur_i32(&p->c);
    b->maximum = cur_i32(&p->c);
    int kind;
    void *o = p_read_any(p, &kind);
    b->bcount = kind == OBJ_BRANCH ? o : NULL;
    p_read_any(p, &kind);
}

static void *p_read_any(pctx *p, int *kind)
{
    *kind = OBJ_NONE;
    cursor *c = &p->c;
    if (++p->depth > MAX_DEPTH) {
        p_fail(p, "objects nested too deeply%s", "");
        p->depth--;
        return NULL;
    }
    void *result = NULL;
    size_t beg = c->pos;
    uint32_t w = cur_u32(c);
    uint32_t tag;
    size_t end = 0, tagpos;
    if ((w & K_BYTECOUNT) && w != K_NEWCLASS) {
        end = beg + 4 + (w & ~K_BYTECOUNT);
        tagpos = c->pos;
        tag = cur_u32(c);
        if (end > c->len) {
            p_fail(p, "object byte count runs past the end of the record%s", "");
            goto out;
        }
    } else {
        tagpos = beg;
        tag = w;
    }
    if (!cur_ok(c))
        goto out;
    if (!(tag & K_CLASSMASK)) { /* reference or null */
        if (tag == 0 || tag == 1)
            goto out;
        ref *r = ref_find(p, tag);
        if (r && r->kind >= 0) {
            *kind = r->kind;
            result = r->ptr;
        }
        if (end)
            cur_seek(c, end);
        goto out;
    }
    const char *cls;
    if (tag == K_NEWCLASS) {
        size_t left = cur_left(c);
        const uint8_t *s = c->base + c->pos;
        size_t n = 0;
        while (n < left && n < 200 && s[n])
            n++;
        if (n == left || n == 200) {
            p_fail(p, "class name is corrupt%s", "");
            goto out;
        }
        char *name = arena_strndup(p->mem, (const char *)s, n);
        if (!name) {
            p_oom(p);
            goto out;
        }
        cur_skip(c, n + 1);
        ref_add(p, (uint32_t)(tagpos + p->keylen + 2), -1, name);
        cls = name;
    } else {
        ref *r = ref_find(p, tag & ~K_CLASSMASK);
        if (!r || r->kind != -1) {
            /* unknown class reference: skip the object if we can */
            if (end)
                cur_seek(c, end);
            else
                p_fail(p, "reference to an unknown class%s", "");
            goto out;
        }
        cls = r->ptr;
    }
    uint32_t objtag = (uint32_t)(beg + p->keylen + 2);
    int known_branch = strcmp(cls, "TBranch") == 0 || strcmp(cls, "TBranchElement") == 0 ||
                       strcmp(cls, "TBranchObject") == 0 || strcmp(cls, "TBranchSTL") == 0;
    if (known_branch || (strncmp(cls, "TBranch", 7) == 0 && end)) {
        braw *b = p_alloc(p, sizeof *b);
        if (!b)
            goto out;
        snprintf(b->cls, sizeof b->cls, "%s", cls);
        ref_add(p, objtag, OBJ_BRANCH, b);
        if (strcmp(cls, "TBranch") == 0) {
            p_branch_body(p, b);
        } else if (!known_branch) {
            /* another TBranch subclass (TBranchClones, ...): listed by name as skipped */
            size_t oend, bend;
            p_version(p, &oend);
            p_version(p, &bend);
            p_tnamed(p, &b->name, &b->title);
            b->unsupported = p_reason(p, "branch class %s is not supported%.0d", cls, 0);
            b->classname = b->cls;
        } else {
            size_t oend;
            int v = p_version(p, &oend);
            p_branch_body(p, b);
            if (strcmp(cls, "TBranchElement") == 0)
                p_branch_element_tail(p, b, v);
            else if (strcmp(cls, "TBranchObject") == 0)
                b->classname = p_str(p);
            p_end(p, oend);
        }
        *kind = OBJ_BRANCH;
        result = b;
    } else if (strncmp(cls, "TLeaf", 5) == 0) {
        lraw *l = p_alloc(p, sizeof *l);
        if (!l)
            goto out;
        snprintf(l->cls, sizeof l->cls, "%s", cls);
        ref_add(p, objtag, OBJ_LEAF, l);
        size_t oend;
        p_version(p, &oend);
        p_leaf_body(p, l, oend);
        *kind = OBJ_LEAF;
        result = l;
    } else if (strcmp(cls, "TObjArray") == 0 || strcmp(cls, "TList") == 0) {
        ref_add(p, objtag, OBJ_ARRAY, NULL);
        int is_list = cls[1] == 'L';
        size_t aend;
        p_version(p, &aend);
        p_tobject(p);
        size_t sn;
        cur_rootstr(c, &sn);
        int32_t n = cur_i32(c);
        if (!is_list)
            cur_skip(c, 4);
        if (n < 0 || (size_t)n > cur_left(c) / 4) {
            p_fail(p, "object list with impossible size%s", "");
            goto out;
        }
        objlist *ol = arena_alloc(p->mem, sizeof *ol);
        if (ol) {
            ol->v = arena_alloc(p->mem, ((size_t)n + 1) * sizeof *ol->v);
            ol->kinds = arena_alloc(p->mem, ((size_t)n + 1) * sizeof *ol->kinds);
        }
        if (!ol || !ol->v || !ol->kinds) {
            p_oom(p);
            goto out;
        }
        for (int32_t i = 0; i < n && cur_ok(c); i++) {
            int k;
            void *o = p_read_any(p, &k);
            ol->v[ol->n] = o;
            ol->kinds[ol->n++] = k;
            if (is_list) {
                size_t on;
                cur_rootstr(c, &on); /* option string */
            }
        }
        p_end(p, aend);
        *kind = OBJ_ARRAY;
        result = ol;
    } else if (strcmp(cls, "TStreamerInfo") == 0) {
        ref_add(p, objtag, OBJ_OTHER, NULL);
        size_t iend;
        p_version(p, &iend);
        const char *cname, *ctitle;
        p_tnamed(p, &cname, &ctitle);
        cur_skip(c, 4); /* checksum */
        int clsver = cur_i32(c);
        int k;
        objlist *el = p_read_any(p, &k);
        if (k == OBJ_ARRAY && el) {
            for (int i = 0; i < el->n; i++) {
                if (el->kinds[i] != OBJ_ELEMENT || !el->v[i])
                    continue;
                sinfo *x = el->v[i];
                x->cls = cname;
                x->clsver = clsver;
                x->index = i;
                if (p->nsi == p->capsi) {
                    int cap = p->capsi ? p->capsi * 2 : 256;
                    sinfo **v = realloc(p->si, (size_t)cap * sizeof *v);
                    if (!v) {
                        p_oom(p);
                        goto out;
                    }
                    p->si = v;
                    p->capsi = cap;
                }
                p->si[p->nsi++] = x;
            }
        }
        p_end(p, iend);
    } else if (strncmp(cls, "TStreamer", 9) == 0) {
        size_t oend, mend = 0, eend;
        p_version(p, &oend);
        if (strcmp(cls, "TStreamerSTLstring") == 0)
            p_version(p, &mend); /* TStreamerSTLstring wraps a TStreamerSTL */
        int ev = p_version(p, &eend);
        const char *ename, *etitle;
        uint32_t ebits = p_tnamed(p, &ename, &etitle);
        int etype = cur_i32(c);
        cur_skip(c, 4); /* size */
        int32_t arrlen = cur_i32(c), arrdim = cur_i32(c);
        int32_t maxidx[5] = {0};
        int32_t nm = 5;
        if (ev == 1) {
            nm = cur_i32(c);
            if (nm < 0 || nm > 5) {
                p_fail(p, "streamer element is corrupt%s", "");
                nm = 0;
            }
        }
        for (int32_t i = 0; i < nm; i++)
            maxidx[i] = cur_i32(c);
        const char *tname = p_str(p);
        double exmin = 0, exmax = 0, efactor = 0;
        if (ev == 3) {
            exmin = cur_f64(c);
            exmax = cur_f64(c);
            efactor = cur_f64(c);
        }
        p_end(p, eend);
        p_end(p, mend);
        p_end(p, oend);
        sinfo *x = p_alloc(p, sizeof *x);
        if (!x)
            goto out;
        x->name = ename;
        x->title = etitle;
        x->tname = tname;
        x->type = etype;
        x->index = -1;
        x->arrlen = arrlen;
        x->has_range = (ebits & 0x40u) != 0; /* BIT(6) */
        x->explicit_range = ev == 3;
        x->xmin = exmin;
        x->xmax = exmax;
        x->factor = efactor;
        x->ndim = arrdim >= 0 && arrdim <= nm ? arrdim : 0;
        for (int i = 0; i < x->ndim; i++)
            x->dims[i] = maxidx[i];
        ref_add(p, objtag, OBJ_ELEMENT, x);
        *kind = OBJ_ELEMENT;
        result = x;
    } else if (strcmp(cls, "TBasket") == 0) {
        ref_add(p, objtag, OBJ_OTHER, NULL);
        emb_basket *eb = p_alloc(p, sizeof *eb);
        if (!eb)
            goto out;
        p_embedded_basket(p, eb);
        *kind = OBJ_BASKET;
        result = eb;
    } else {
        ref_add(p, objtag, OBJ_OTHER, NULL);
        if (!end)
            p_fail(p, "object of class '%s' without byte count", cls);
    }
    if (end && cur_ok(c)) {
        if (c->pos > end)
            p_fail(p, "object of class '%s' is longer than its byte count", cls);
        else
            cur_seek(c, end);
    }
out:
    p->depth--;
    return result;
}

/* ------------------------------------------------------- classification */

typedef struct blist {
    tbranch **v;
    int n, cap;
    int oom;
} blist;

static tbranch *bl_new(blist *l, arena *mem)
{
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 64;
        tbranch **v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) {
            l->oom = 1;
            return NULL;
        }
        l->v = v;
        l->cap = cap;
    }
    tbranch *b = arena_alloc(mem, sizeof *b);
    if (!b) {
        l->oom = 1;
        return NULL;
    }
    l->v[l->n++] = b;
    return b;
}

static dtype dtype_of_leafclass(const char *cls, int isunsigned, tenc *enc)
{
    *enc = ENC_PLAIN;
    if (strcmp(cls, "TLeafO") == 0) return DT_BOOL;
    if (strcmp(cls, "TLeafB") == 0) return isunsigned ? DT_U8 : DT_I8;
    if (strcmp(cls, "TLeafS") == 0) return isunsigned ? DT_U16 : DT_I16;
    if (strcmp(cls, "TLeafI") == 0) return isunsigned ? DT_U32 : DT_I32;
    if (strcmp(cls, "TLeafL") == 0 || strcmp(cls, "TLeafG") == 0) return isunsigned ? DT_U64 : DT_I64;
    if (strcmp(cls, "TLeafF") == 0) return DT_F32;
    if (strcmp(cls, "TLeafD") == 0) return DT_F64;
    if (strcmp(cls, "TLeafF16") == 0) { *enc = ENC_TRUNC; return DT_F32; }
    if (strcmp(cls, "TLeafD32") == 0) { *enc = ENC_D32_FLOAT; return DT_F64; }
    return DT_NONE;
}

/* ROOT streamer element type code (1..19) to dtype. */
static dtype dtype_of_code(int code, int isunsigned, tenc *enc)
{
    *enc = ENC_PLAIN;
    switch (code) {
    case 1: return isunsigned ? DT_U8 : DT_I8;
    case 2: return isunsigned ? DT_U16 : DT_I16;
    case 3: return isunsigned ? DT_U32 : DT_I32;
    case 6: return DT_U32; /* kCounter: as uproot reads it */
    case 4: case 16: return isunsigned ? DT_U64 : DT_I64;
    case 5: return DT_F32;
    case 8: return DT_F64;
    case 9: *enc = ENC_D32_FLOAT; return DT_F64;
    case 11: return DT_U8;
    case 12: return DT_U16;
    case 13: case 15: return DT_U32;
    case 14: case 17: return DT_U64;
    case 18: return DT_BOOL;
    case 19: *enc = ENC_TRUNC; return DT_F32;
    default: return DT_NONE;
    }
}

/* C++ type name inside vector<...> to dtype. */
static dtype dtype_of_cxx(const char *s, size_t n)
{
    static const struct { const char *name; dtype t; } m[] = {
        {"bool", DT_BOOL}, {"Bool_t", DT_BOOL},
        {"char", DT_I8}, {"Char_t", DT_I8}, {"signed char", DT_I8}, {"int8_t", DT_I8},
        {"unsigned char", DT_U8}, {"UChar_t", DT_U8}, {"uint8_t", DT_U8},
        {"short", DT_I16}, {"Short_t", DT_I16}, {"int16_t", DT_I16},
        {"unsigned short", DT_U16}, {"UShort_t", DT_U16}, {"uint16_t", DT_U16},
        {"int", DT_I32}, {"Int_t", DT_I32}, {"int32_t", DT_I32},
        {"unsigned int", DT_U32}, {"UInt_t", DT_U32}, {"uint32_t", DT_U32}, {"unsigned", DT_U32},
        {"long", DT_I64}, {"Long_t", DT_I64}, {"long long", DT_I64}, {"Long64_t", DT_I64}, {"int64_t", DT_I64},
        {"unsigned long", DT_U64}, {"ULong_t", DT_U64}, {"unsigned long long", DT_U64}, {"ULong64_t", DT_U64},
        {"uint64_t", DT_U64},
        {"float", DT_F32}, {"Float_t", DT_F32}, {"double", DT_F64}, {"Double_t", DT_F64},
    };
    while (n && s[0] == ' ') { s++; n--; }
    while (n && s[n - 1] == ' ') n--;
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (strlen(m[i].name) == n && strncmp(s, m[i].name, n) == 0)
            return m[i].t;
    return DT_NONE;
}

/* "vector<float>", "vector<float,ROOT::Detail::VecOps::RAdoptAllocator<float> >",
 * "ROOT::VecOps::RVec<float>": element dtype, DT_NONE if not a vector of numbers. */
static dtype vector_elem(const char *cls)
{
    const char *p = NULL;
    if (strncmp(cls, "vector<", 7) == 0)
        p = cls + 7;
    else if (strncmp(cls, "std::vector<", 12) == 0)
        p = cls + 12;
    else if (strncmp(cls, "ROOT::VecOps::RVec<", 19) == 0)
        p = cls + 19;
    else if (strncmp(cls, "ROOT::RVec<", 11) == 0)
        p = cls + 11;
    if (!p)
        return DT_NONE;
    size_t n = 0;
    while (p[n] && p[n] != ',' && p[n] != '>' && p[n] != '<')
        n++;
    if (p[n] == '<')
        return DT_NONE;
    return dtype_of_cxx(p, n);
}

/* Parses the "[a][b]" dimension groups of a leaf title (groups with a comma are
 * Double32_t/Float16_t ranges, groups naming a counter are not dimensions). */
static void parse_dims(tbranch *tb, const char *title)
{
    const char *p = strchr(title, '[');
    const char *slash = strchr(title, '/'); /* "x[3]/d[0,1,8]": the type part holds no dimension */
    while (p && (!slash || p < slash)) {
        const char *q = strchr(p, ']');
        if (!q)
            break;
        char grp[128];
        size_t n = (size_t)(q - p - 1) < sizeof grp - 1 ? (size_t)(q - p - 1) : sizeof grp - 1;
        memcpy(grp, p + 1, n);
        grp[n] = 0;
        if (!strchr(grp, ',')) {
            int all_digits = n > 0 && n < 10;
            for (size_t i = 0; i < n; i++)
                if (!isdigit((unsigned char)grp[i]))
                    all_digits = 0;
            if (all_digits && tb->ndim < 4)
                tb->dims[tb->ndim++] = atoi(grp);
        }
        p = strchr(q, '[');
    }
}

static void set_skipped(tbranch *tb, arena *mem, const char *why, const char *what);

/* Sets enc and pack of a Double32_t (dt float64) / Float16_t (dt float32) branch from
 * a packfloat_* decision (rc, why); on refusal the branch is skipped. Returns rc. */
static int set_packing(tbranch *tb, arena *mem, int rc, const char *why)
{
    const char *what = tb->dt == DT_F32 ? "Float16_t" : "Double32_t";
    if (rc) {
        char buf[120];
        snprintf(buf, sizeof buf, "%s with an %s", what, why);
        set_skipped(tb, mem, "%s", buf);
        return -1;
    }
    tb->enc = tb->pack.kind == PF_SCALED ? ENC_SCALED : tb->pack.kind == PF_TRUNC ? ENC_TRUNC : ENC_D32_FLOAT;
    return 0;
}

/* Packing of a TLeafD32/TLeafF16 from its title (packfloat_from_leaf_title). */
static int set_packing_leaf(tbranch *tb, arena *mem, const char *title)
{
    const char *why = "";
    int rc = packfloat_from_leaf_title(tb->dt == DT_F32, title, &tb->pack, &why);
    return set_packing(tb, mem, rc, why);
}

static int enc_width(tenc enc, dtype dt)
{
    switch (enc) {
    case ENC_D32_FLOAT: return 4;
    case ENC_SCALED: return 4;
    case ENC_TRUNC: return 3;
    default: return (int)dtype_size(dt);
    }
}

static void set_skipped(tbranch *tb, arena *mem, const char *why, const char *what)
{
    char buf[300];
    snprintf(buf, sizeof buf, why, what ? what : "");
    tb->kind = TK_SKIPPED;
    tb->skip_reason = arena_strdup(mem, buf);
    tb->dt = DT_NONE;
}

static void set_type_name(tbranch *tb, arena *mem, const char *override)
{
    char buf[160];
    if (override) {
        snprintf(buf, sizeof buf, "%s", override);
    } else if (tb->kind == TK_FIXED) {
        int n = snprintf(buf, sizeof buf, "%s", dtype_name(tb->dt));
        for (int i = 0; i < tb->ndim && n < (int)sizeof buf - 16; i++)
            n += snprintf(buf + n, sizeof buf - (size_t)n, "[%d]", tb->dims[i]);
    } else if (tb->kind == TK_JAGGED) {
        if (tb->header_bytes == 10)
            snprintf(buf, sizeof buf, "vector<%s>", dtype_name(tb->dt));
        else
            snprintf(buf, sizeof buf, "%s[%s]", dtype_name(tb->dt), tb->counter ? tb->counter->name : "");
    } else {
        snprintf(buf, sizeof buf, "%s", dtype_name(tb->dt));
    }
    tb->type_name = arena_strdup(mem, buf);
}

static int build_baskets(tbranch *tb, braw *b, arena *mem)
{
    int n_normal = 0;
    for (int i = 0; i < b->writebasket && i < b->maxbaskets; i++)
        if (b->basketseek[i] != 0 && b->basketbytes[i] > 0)
            n_normal++;
    tb->baskets = arena_alloc(mem, (size_t)(n_normal + b->nemb + 1) * sizeof *tb->baskets);
    if (!tb->baskets)
        return -1;
    int k = 0;
    int64_t pos = 0;
    for (int i = 0; i < b->writebasket && i < b->maxbaskets; i++) {
        if (b->basketseek[i] == 0 || b->basketbytes[i] <= 0)
            continue;
        tbasket *bk = &tb->baskets[k++];
        bk->first = b->basketentry[i];
        bk->seek = (uint64_t)b->basketseek[i];
        bk->nbytes = (uint32_t)b->basketbytes[i];
        int64_t next = i + 1 < b->maxbaskets ? b->basketentry[i + 1] : -1;
        if (next > bk->first || (next == bk->first && i + 1 < b->writebasket))
            bk->n = next - bk->first; /* 0: a basket that holds no entries (ROOT writes some) */
        else
            bk->n = -1; /* unknown: from the basket header when read */
        pos = bk->n >= 0 ? bk->first + bk->n : -1;
    }
    /* a last normal basket of unknown size ends where the embedded ones begin */
    int64_t emb_total = 0;
    for (int i = 0; i < b->nemb; i++)
        emb_total += b->emb[i].nev;
    if (k > 0 && tb->baskets[k - 1].n < 0) {
        tb->baskets[k - 1].n = b->entries - emb_total - tb->baskets[k - 1].first;
        pos = b->entries - emb_total;
    }
    if (k == 0)
        pos = 0;
    if (pos < 0)
        pos = 0;
    for (int i = 0; i < b->nemb; i++) {
        tbasket *bk = &tb->baskets[k++];
        bk->first = pos;
        bk->n = b->emb[i].nev;
        bk->emb_data = b->emb[i].data;
        bk->emb_len = b->emb[i].len;
        bk->emb_starts = b->emb[i].starts;
        pos += bk->n;
        tb->n_embedded++;
    }
    tb->nbaskets = k;
    return 0;
}

static void classify_leaf(tbranch *tb, lraw *l, arena *mem)
{
    tb->leafclass = arena_strdup(mem, l->cls);
    if (strcmp(l->cls, "TLeafC") == 0) {
        set_skipped(tb, mem, "string (char*) branch%s", "");
        set_type_name(tb, mem, "char*");
        return;
    }
    tb->dt = dtype_of_leafclass(l->cls, l->isunsigned, &tb->enc);
    if (tb->dt == DT_NONE) {
        set_skipped(tb, mem, "leaf class %s is not a plain number", l->cls);
        set_type_name(tb, mem, l->cls);
        return;
    }
    parse_dims(tb, l->title ? l->title : "");
    if (tb->enc != ENC_PLAIN && set_packing_leaf(tb, mem, l->title)) {
        set_type_name(tb, mem, tb->dt == DT_F32 ? "Float16_t" : "Double32_t");
        return;
    }
    tb->disk_width = enc_width(tb->enc, tb->dt);
    if (l->count) {
        tb->kind = TK_JAGGED;
        tb->header_bytes = 0;
        tb->fixed_len = l->len > 0 ? l->len : 1; /* x[n][3]: 3 values per counted element */
    } else if (l->len > 1) {
        tb->kind = TK_FIXED;
        tb->fixed_len = l->len;
        if (tb->ndim == 0) {
            tb->ndim = 1;
            tb->dims[0] = l->len;
        }
    } else {
        tb->kind = TK_FLAT;
        tb->fixed_len = 1;
        tb->ndim = 0;
    }
}

/* A std::vector of numbers (class name tname) is jagged, each entry a 10-byte header
 * and then the numbers: sets tb so and returns 1; 0 for any other class. */
static int set_number_vector(tbranch *tb, const char *tname)
{
    dtype t = vector_elem(tname);
    if (t == DT_NONE)
        return 0;
    tb->kind = TK_JAGGED;
    tb->dt = t;
    tb->header_bytes = 10;
    tb->fixed_len = 1;
    tb->disk_width = (int)dtype_size(t);
    return 1;
}

/* The member name of a split member branch: the part after the last '.', without
 * array brackets ("trks.fitinf" -> "fitinf", "fArr[3]" -> "fArr"). */
static void member_name(const char *branch, char *out, size_t n)
{
    const char *d = strrchr(branch, '.');
    snprintf(out, n, "%s", d ? d + 1 : branch);
    char *br = strchr(out, '[');
    if (br)
        *br = 0;
}

/* The StreamerInfo element a split member branch refers to: element fID of class
 * fClassName at the branch's class version (any version when the branch does not
 * say), and only if its name is the member's. NULL if the file does not describe it. */
static const sinfo *find_element(const braw *b, sinfo **si, int nsi)
{
    if (!b->classname || !b->classname[0] || b->id < 0 || !b->name)
        return NULL;
    char m[256];
    member_name(b->name, m, sizeof m);
    for (int i = 0; i < nsi; i++) {
        const sinfo *x = si[i];
        if (x->index == b->id && x->cls && strcmp(x->cls, b->classname) == 0 &&
            (b->classversion < 0 || x->clsver == b->classversion) && x->name && strcmp(x->name, m) == 0)
            return x;
    }
    return NULL;
}

/* Double32_t / Float16_t member: its range is in the title of its StreamerInfo
 * element (or streamed in version-3 elements), as ROOT reads it. Without the
 * element the packing cannot be known: the branch is skipped. Returns 0 or -1. */
static int set_packing_element(tbranch *tb, const braw *b, arena *mem, sinfo **si, int nsi)
{
    const char *what = tb->dt == DT_F32 ? "Float16_t" : "Double32_t";
    const sinfo *x = find_element(b, si, nsi);
    if (!x) {
        char buf[300];
        snprintf(buf, sizeof buf, "%s member whose range and bit count the file's StreamerInfo does not give "
                 "(class %s version %d)", what, b->classname ? b->classname : "?", (int)b->classversion);
        set_skipped(tb, mem, "%s", buf);
        set_type_name(tb, mem, what);
        return -1;
    }
    int f16 = tb->dt == DT_F32, rc;
    const char *why = "";
    if (x->explicit_range)
        rc = packfloat_decide(f16, x->xmin, x->xmax, x->factor, &tb->pack, &why);
    else if (x->has_range)
        rc = packfloat_from_title(f16, x->title, &tb->pack, &why);
    else
        rc = packfloat_decide(f16, 0, 0, 0, &tb->pack, &why);
    rc = set_packing(tb, mem, rc, why);
    if (rc)
        set_type_name(tb, mem, what);
    return rc;
}

static void classify_element(tbranch *tb, braw *b, arena *mem, sinfo **si, int nsi)
{
    lraw *l = b->nleaves ? b->leaves[0] : NULL;
    tb->leafclass = l ? arena_strdup(mem, l->cls) : "";
    int st = b->streamertype;
    int in_coll = b->type == 31 || b->type == 41; /* member of a split TClonesArray / STL collection */
    if (b->id < 0 && b->classname && b->classname[0]) {
        /* top-level object branch: std::vector<number> is jagged with a 10-byte header */
        if (set_number_vector(tb, b->classname))
            return;
        if (strstr(b->classname, "string") || strcmp(b->classname, "TString") == 0)
            set_skipped(tb, mem, "string branch (%s)", b->classname);
        else
            set_skipped(tb, mem, "object or container of class %s (not plain numeric)", b->classname);
        set_type_name(tb, mem, b->classname);
        return;
    }
    int uns = l ? l->isunsigned : 0;
    if (st >= 1 && st <= 19) {
        tb->dt = dtype_of_code(st, uns, &tb->enc);
        if (tb->dt == DT_NONE) {
            set_skipped(tb, mem, "member of unsupported type%s", "");
            return;
        }
        if (tb->enc != ENC_PLAIN && set_packing_element(tb, b, mem, si, nsi))
            return;
        tb->ndim = 0;
        tb->disk_width = enc_width(tb->enc, tb->dt);
        tb->fixed_len = 1;
        if (in_coll) {
            tb->kind = TK_JAGGED; /* member of a split collection: count from the master */
            tb->header_bytes = 0;
        } else {
            tb->kind = TK_FLAT;
        }
        return;
    }
    if (st > 20 && st < 40) {
        tb->dt = dtype_of_code(st - 20, uns, &tb->enc);
        if (tb->dt == DT_NONE) {
            set_skipped(tb, mem, "member array of unsupported type%s", "");
            return;
        }
        if (tb->enc != ENC_PLAIN && set_packing_element(tb, b, mem, si, nsi))
            return;
        /* shape: the StreamerInfo element's dimensions, else the leaf title's */
        const sinfo *x = find_element(b, si, nsi);
        tb->ndim = 0;
        if (x && x->ndim > 0 && x->ndim <= 4) {
            for (int i = 0; i < x->ndim; i++)
                tb->dims[tb->ndim++] = x->dims[i];
        } else {
            parse_dims(tb, l && l->title ? l->title : "");
        }
        tb->disk_width = enc_width(tb->enc, tb->dt);
        tb->fixed_len = l && l->len > 1 ? l->len : 1;
        int64_t prod = 1;
        for (int i = 0; i < tb->ndim; i++)
            prod *= tb->dims[i] > 0 ? tb->dims[i] : 0;
        if (tb->ndim == 0) {
            tb->ndim = 1;
            tb->dims[0] = (int)tb->fixed_len;
        } else if (prod != tb->fixed_len) {
            set_skipped(tb, mem, "member array whose shape and leaf length disagree%s", "");
            return;
        }
        if (in_coll) {
            /* x[3] member of each element of a split collection: jagged, fixed_len values per element */
            tb->kind = TK_JAGGED;
            tb->header_bytes = 0;
        } else {
            tb->kind = TK_FIXED;
        }
        return;
    }
    if (st > 40 && st < 60) {
        tb->dt = dtype_of_code(st - 40, uns, &tb->enc);
        if (tb->dt == DT_NONE || !l || !l->count) {
            set_skipped(tb, mem, "pointer array without a counter%s", "");
            return;
        }
        if (in_coll) {
            set_skipped(tb, mem, "variable-size array member of each element of a split collection "
                        "(a nested list per entry)%s", "");
            return;
        }
        if (tb->enc != ENC_PLAIN && set_packing_element(tb, b, mem, si, nsi))
            return;
        parse_dims(tb, l->title ? l->title : "");
        tb->ndim = 0;
        tb->disk_width = enc_width(tb->enc, tb->dt);
        tb->kind = TK_JAGGED;
        tb->header_bytes = 1;
        tb->fixed_len = 1;
        return;
    }
    if (st == 300) {
        const sinfo *x = find_element(b, si, nsi);
        if (!x) { /* older files: the element by index and class alone */
            for (int i = 0; i < nsi && !x; i++)
                if (si[i]->index == b->id && si[i]->cls && b->classname && strcmp(si[i]->cls, b->classname) == 0)
                    x = si[i];
        }
        if (x) {
            if (in_coll) {
                set_skipped(tb, mem, "container member (%s) of each element of a split collection "
                            "(a nested list per entry)", x->tname);
            } else {
                if (set_number_vector(tb, x->tname))
                    return;
                if (strstr(x->tname, "string"))
                    set_skipped(tb, mem, "string member (%s)", x->tname);
                else
                    set_skipped(tb, mem, "container member %s is not a vector of numbers", x->tname);
            }
            set_type_name(tb, mem, x->tname);
            return;
        }
        set_skipped(tb, mem, "container member whose class the file's StreamerInfo does not describe%s", "");
        set_type_name(tb, mem, "STL container");
        return;
    }
    if (st == 65 || st == 365 || st == 7) {
        set_skipped(tb, mem, "string member%s", "");
        set_type_name(tb, mem, "string");
        tb->cxx_type = st == 65 ? "TString" : st == 365 ? "std::string" : "char*";
        return;
    }
    char code[32];
    snprintf(code, sizeof code, "%d", st);
    set_skipped(tb, mem, "object member (streamer type %s) is not plain numeric", code);
    const sinfo *x = find_element(b, si, nsi);
    if (x && x->tname && x->tname[0])
        tb->cxx_type = x->tname;
}

const char *tbranch_cxx_type(const tbranch *b)
{
    if (b->cxx_type && b->cxx_type[0])
        return b->cxx_type;
    if (b->type_name && b->type_name[0])
        return b->type_name;
    if (b->leafclass && b->leafclass[0])
        return b->leafclass;
    return b->classname ? b->classname : "?";
}

/* Depth-first over raw branches. */
typedef struct sitable {
    sinfo **v;
    int n;
} sitable;

static void flatten(ttree *t, braw *b, const char *prefix, tbranch *parent, int depth, blist *l, const sitable *si)
{
    if (depth > MAX_DEPTH || l->oom)
        return;
    arena *mem = &t->mem;
    tbranch *tb = bl_new(l, mem);
    if (!tb)
        return;
    b->out = tb;
    char *name;
    if (prefix) {
        size_t n = strlen(prefix) + strlen(b->name) + 2;
        name = arena_alloc(mem, n);
        if (name)
            snprintf(name, n, "%s/%s", prefix, b->name);
    } else {
        name = arena_strdup(mem, b->name);
    }
    if (!name) {
        l->oom = 1;
        return;
    }
    tb->name = name;
    tb->title = b->title;
    tb->classname = arena_strdup(mem, b->cls);
    tb->leafclass = "";
    tb->entries = b->entries;
    tb->entry_offset_len = b->entryoffsetlen;
    tb->compress = b->compress;
    tb->tot_bytes = b->totbytes;
    tb->zip_bytes = b->zipbytes;
    tb->depth = depth;
    tb->parent = parent;
    if (build_baskets(tb, b, mem)) {
        l->oom = 1;
        return;
    }
    if (b->unsupported) {
        set_skipped(tb, mem, "%s", b->unsupported);
        set_type_name(tb, mem, b->classname && b->classname[0] ? b->classname : b->cls);
        return;
    }
    if (b->nsub > 0) {
        tb->kind = TK_GROUP;
        tb->dt = DT_NONE;
        set_type_name(tb, mem, b->is_element && b->classname && b->classname[0] ? b->classname : "");
        if (b->is_element && (b->type == 3 || b->type == 4)) {
            tb->dt = DT_I32; /* collection master: its own data are per-entry sizes */
            tb->disk_width = 4;
            tb->fixed_len = 1;
        }
        for (int i = 0; i < b->nsub; i++)
            flatten(t, b->sub[i], name, tb, depth + 1, l, si);
        return;
    }
    if (strcmp(b->cls, "TBranchObject") == 0) {
        set_skipped(tb, mem, "object branch of class %s", b->classname ? b->classname : "?");
        set_type_name(tb, mem, b->classname ? b->classname : "object");
        return;
    }
    if (b->is_element) {
        classify_element(tb, b, mem, si->v, si->n);
    } else if (b->nleaves == 1) {
        classify_leaf(tb, b->leaves[0], mem);
    } else if (b->nleaves == 0) {
        set_skipped(tb, mem, "branch has no leaves%s", "");
    } else {
        /* leaf list "x/D:y/I:z/B": one column per leaf over the shared baskets */
        tb->kind = TK_GROUP;
        set_type_name(tb, mem, "leaflist");
        int size = 0, variable = 0;
        for (int i = 0; i < b->nleaves; i++) {
            lraw *lf = b->leaves[i];
            tbranch tmp = {0};
            tmp.dt = dtype_of_leafclass(lf->cls, lf->isunsigned, &tmp.enc);
            if (lf->count || tmp.dt == DT_NONE || strcmp(lf->cls, "TLeafC") == 0 ||
                (tmp.enc != ENC_PLAIN && set_packing_leaf(&tmp, mem, lf->title)))
                variable = 1;
            size += enc_width(tmp.enc, tmp.dt) * (lf->len > 0 ? lf->len : 1);
        }
        int off = 0;
        for (int i = 0; i < b->nleaves; i++) {
            lraw *lf = b->leaves[i];
            tbranch *c = bl_new(l, mem);
            if (!c)
                return;
            size_t n = strlen(name) + strlen(lf->name) + 2;
            char *cn = arena_alloc(mem, n);
            if (!cn) {
                l->oom = 1;
                return;
            }
            snprintf(cn, n, "%s/%s", name, lf->name);
            *c = *tb;
            c->name = cn;
            c->title = lf->title;
            c->parent = tb;
            c->depth = depth + 1;
            c->kind = TK_FLAT;
            c->skip_reason = NULL;
            classify_leaf(c, lf, mem);
            c->leaflist = 1;
            c->entry_size = size;
            c->leaf_offset = off;
            off += c->disk_width * (int)(c->fixed_len > 0 ? c->fixed_len : 1);
            if (variable && c->kind != TK_SKIPPED)
                set_skipped(c, mem, "leaf list with variable-size leaves%s", "");
            if (c->kind != TK_SKIPPED)
                set_type_name(c, mem, NULL);
        }
    }
    if (tb->kind != TK_SKIPPED && tb->kind != TK_GROUP && (tb->fixed_len < 1 || tb->fixed_len > 10000000))
        set_skipped(tb, mem, "corrupt array length in the leaf%s", "");
    if (tb->kind != TK_SKIPPED && tb->kind != TK_GROUP)
        set_type_name(tb, mem, NULL);
}

/* After flattening: resolve counters, which need every branch's tbranch. */
static void resolve_counters(ttree *t, braw **all, int nall)
{
    for (int i = 0; i < nall; i++) {
        braw *b = all[i];
        tbranch *tb = b->out;
        if (!tb || tb->kind != TK_JAGGED || tb->header_bytes == 10)
            continue;
        tbranch *cnt = NULL;
        if (b->is_element && (b->type == 31 || b->type == 41))
            cnt = b->bcount && b->bcount->out ? b->bcount->out : NULL;
        else if (b->nleaves && b->leaves[0]->count && b->leaves[0]->count->owner)
            cnt = b->leaves[0]->count->owner->out;
        if (!cnt || cnt == tb || (cnt->dt == DT_NONE)) {
            set_skipped(tb, &t->mem, "jagged branch whose counter cannot be found%s", "");
            continue;
        }
        tb->counter = cnt;
        set_type_name(tb, &t->mem, NULL);
    }
}

static void collect(braw *b, braw ***v, int *n, int *cap, int depth)
{
    if (depth > MAX_DEPTH)
        return;
    if (*n == *cap) {
        int c = *cap ? *cap * 2 : 64;
        braw **nv = realloc(*v, (size_t)c * sizeof *nv);
        if (!nv)
            return;
        *v = nv;
        *cap = c;
    }
    (*v)[(*n)++] = b;
    for (int i = 0; i < b->nsub; i++)
        collect(b->sub[i], v, n, cap, depth + 1);
}

/* ------------------------------------------------------------ the TTree */

static int needs_streamerinfo(braw *b, int depth)
{
    if (depth > MAX_DEPTH)
        return 0;
    int st = b->streamertype;
    /* STL members (type name), Double32_t/Float16_t (range), member arrays (shape) */
    if (b->is_element && (st == 300 || (st > 0 && st < 60 && (st % 20 == 9 || st % 20 == 19)) || (st > 20 && st < 40)))
        return 1;
    for (int i = 0; i < b->nsub; i++)
        if (needs_streamerinfo(b->sub[i], depth + 1))
            return 1;
    return 0;
}

/* Reads the file's StreamerInfo record into the tree arena (element table). A file
 * without one, or a corrupt one, leaves the table empty: STL members are then listed
 * as skipped rather than failing the whole tree. */
static void load_streamerinfo(rootfile *f, ttree *t, sitable *out)
{
    out->v = NULL;
    out->n = 0;
    if (!f->seekinfo)
        return;
    mlhep_err e;
    rootkey k;
    uint8_t *buf;
    if (rootfile_read_key(f, f->seekinfo, &k, &e) || rootfile_read_payload(f, &k, &buf, &e))
        return;
    pctx p = {0};
    cur_init(&p.c, buf, (size_t)k.objlen);
    p.keylen = (uint32_t)k.keylen;
    p.mem = &t->mem;
    /* the payload is a TList streamed directly: bc+version, TObject, name, n, items */
    size_t end;
    p_version(&p, &end);
    p_tobject(&p);
    size_t sn;
    cur_rootstr(&p.c, &sn);
    int32_t n = cur_i32(&p.c);
    for (int32_t i = 0; i < n && cur_ok(&p.c); i++) {
        int kind;
        p_read_any(&p, &kind);
        cur_rootstr(&p.c, &sn); /* option */
    }
    free(buf);
    free(p.refs);
    if (p.nsi) {
        out->v = arena_alloc(&t->mem, (size_t)p.nsi * sizeof *out->v);
        if (out->v) {
            memcpy(out->v, p.si, (size_t)p.nsi * sizeof *out->v);
            out->n = p.nsi;
        }
    }
    free(p.si);
}

static int parse_tree(ttree *t, pctx *p, braw ***top, int *ntop)
{
    size_t end;
    int v = p_version(p, &end);
    t->version = v;
    if (cur_ok(&p->c) && v != 5 && (v < 16 || v > 20)) {
        snprintf(p->why, sizeof p->why,
                 "TTree class version %d is not supported (16-20 are: ROOT 5.2x-6.3x; and 5: ROOT 4, Geant4's g4tools)",
                 v);
        return -1;
    }
    p_tnamed(p, &t->name, &t->title);
    p_skip_object(p); /* TAttLine */
    p_skip_object(p); /* TAttFill */
    p_skip_object(p); /* TAttMarker */
    cursor *c = &p->c;
    if (v == 5) {
        /* ROOT 4 layout (g4tools writes it): Stat_t (double) counters, Int_t settings */
        t->entries = count_of_double(cur_f64(c));
        cur_skip(c, 8 * 3); /* tot, zip, saved bytes */
        cur_skip(c, 4 * 7); /* timer interval, scan field, update, max entry loop, max virtual size, autosave, estimate */
        if (!cur_ok(c))
            return -1;
        if (t->entries < 0 || t->entries > MAX_ENTRY) {
            snprintf(p->why, sizeof p->why, "entry count is not a whole number below 2^62");
            return -1;
        }
        int n;
        *top = (braw **)p_objarray(p, &n, OBJ_BRANCH);
        *ntop = n;
        return cur_ok(c) ? 0 : -1;
    }
    t->entries = cur_i64(c);
    cur_skip(c, 8 * 3); /* tot, zip, saved bytes */
    if (v >= 18)
        cur_skip(c, 8); /* flushed bytes */
    cur_skip(c, 8);     /* weight */
    cur_skip(c, 4 * 3); /* timer interval, scan field, update */
    if (v >= 17)
        cur_skip(c, 4); /* default entry offset len */
    int32_t nclus = 0;
    if (v >= 19)
        nclus = cur_i32(c);
    cur_skip(c, 8 * 4); /* max entries, max entry loop, max virtual size, autosave */
    if (v >= 18)
        t->autoflush = cur_i64(c);
    cur_skip(c, 8); /* estimate */
    if (v >= 19) {
        if (nclus < 0 || (size_t)nclus > cur_left(c) / 8) {
            snprintf(p->why, sizeof p->why, "cluster range count %d is corrupt", nclus);
            return -1;
        }
        const uint8_t *re = p_flagged_array(p, nclus, 8);
        const uint8_t *rs = p_flagged_array(p, nclus, 8);
        if (nclus > 0 && re && rs) {
            t->cluster_range_end = arena_alloc(&t->mem, (size_t)nclus * 8);
            t->cluster_size = arena_alloc(&t->mem, (size_t)nclus * 8);
            if (!t->cluster_range_end || !t->cluster_size)
                return -1;
            for (int i = 0; i < nclus; i++) {
                cursor x;
                cur_init(&x, re + 8 * i, 8);
                t->cluster_range_end[i] = cur_i64(&x);
                cur_init(&x, rs + 8 * i, 8);
                t->cluster_size[i] = cur_i64(&x);
            }
            t->n_cluster_ranges = nclus;
        }
    }
    if (v >= 20) {
        size_t fe;
        p_version(p, &fe);
        if (fe && fe - c->pos >= 5)
            cur_skip(c, 4); /* class checksum of the versionless TIOFeatures */
        t->iobits = cur_u8(c);
        p_end(p, fe);
    }
    if (!cur_ok(c))
        return -1;
    if (t->entries < 0 || t->entries > MAX_ENTRY) {
        snprintf(p->why, sizeof p->why, "entry count %lld is corrupt", (long long)t->entries);
        return -1;
    }
    int n;
    *top = (braw **)p_objarray(p, &n, OBJ_BRANCH);
    *ntop = n;
    return cur_ok(c) ? 0 : -1;
}

int ttree_open_key(rootfile *f, const rootkey *k, const char *path, ttree **out, mlhep_err *e)
{
    *out = NULL;
    ttree *t = calloc(1, sizeof *t);
    if (!t)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    arena_init(&t->mem);
    t->key = *k;
    t->path = arena_strdup(&t->mem, path);
    uint8_t *buf = NULL;
    int rc = rootfile_read_payload(f, k, &buf, e);
    if (rc) {
        ttree_free(t);
        return err_prefix(e, "tree '%s'", path);
    }
    pctx p = {0};
    cur_init(&p.c, buf, (size_t)k->objlen);
    p.keylen = (uint32_t)k->keylen;
    p.mem = &t->mem;
    braw **top = NULL;
    int ntop = 0;
    if (strcmp(k->classname, "TNtuple") == 0 || strcmp(k->classname, "TNtupleD") == 0) {
        size_t nend;
        p_version(&p, &nend); /* TNtuple wraps a TTree (then fNvar) */
    }
    rc = parse_tree(t, &p, &top, &ntop);
    free(p.refs);
    if (rc || p.oom) {
        if (p.oom)
            rc = err_set(e, MLHEP_ENOMEM, "tree '%s': out of memory decoding metadata", path);
        else
            rc = err_set(e, MLHEP_EFORMAT, "tree '%s': metadata record is corrupt or truncated%s%s (offset %zu of %d)",
                         path, p.why[0] ? ": " : "", p.why, p.c.pos, k->objlen);
        free(buf);
        ttree_free(t);
        return rc;
    }
    sitable si = {0};
    for (int i = 0; i < ntop; i++)
        if (needs_streamerinfo(top[i], 0)) {
            load_streamerinfo(f, t, &si);
            break;
        }
    blist l = {0};
    for (int i = 0; i < ntop; i++)
        flatten(t, top[i], NULL, NULL, 0, &l, &si);
    braw **all = NULL;
    int nall = 0, cap = 0;
    for (int i = 0; i < ntop; i++)
        collect(top[i], &all, &nall, &cap, 0);
    resolve_counters(t, all, nall);
    free(all);
    /* embedded basket bytes point into buf: keep it alive in the arena */
    int has_emb = 0;
    for (int i = 0; i < l.n; i++)
        if (l.v[i]->n_embedded)
            has_emb = 1;
    if (has_emb) {
        uint8_t *copy = arena_alloc(&t->mem, (size_t)k->objlen);
        if (!copy) {
            l.oom = 1;
        } else {
            memcpy(copy, buf, (size_t)k->objlen);
            for (int i = 0; i < l.n; i++)
                for (int j = 0; j < l.v[i]->nbaskets; j++) {
                    tbasket *bk = &l.v[i]->baskets[j];
                    if (bk->emb_data)
                        bk->emb_data = copy + (bk->emb_data - buf);
                }
        }
    }
    free(buf);
    if (l.oom) {
        free(l.v);
        ttree_free(t);
        return err_set(e, MLHEP_ENOMEM, "tree '%s': out of memory", path);
    }
    t->branches = arena_alloc(&t->mem, (size_t)(l.n + 1) * sizeof *t->branches);
    if (!t->branches) {
        free(l.v);
        ttree_free(t);
        return err_set(e, MLHEP_ENOMEM, "tree '%s': out of memory", path);
    }
    if (l.n)
        memcpy(t->branches, l.v, (size_t)l.n * sizeof *l.v);
    t->nbranches = l.n;
    free(l.v);
    *out = t;
    return 0;
}

int ttree_open(rootfile *f, const char *path, ttree **out, mlhep_err *e)
{
    rootkey k;
    *out = NULL;
    int rc = rootfile_find_tree(f, path, &k, e);
    if (rc)
        return rc;
    return ttree_open_key(f, &k, path, out, e);
}

void ttree_free(ttree *t)
{
    if (!t)
        return;
    arena_free(&t->mem);
    free(t);
}

tbranch *ttree_branch(const ttree *t, const char *name)
{
    for (int i = 0; i < t->nbranches; i++)
        if (strcmp(t->branches[i]->name, name) == 0)
            return t->branches[i];
    return NULL;
}

const char *ttree_branch_closest(const ttree *t, const char *name)
{
    if (!t || !name || t->nbranches <= 0)
        return NULL;
    const char **names = malloc((size_t)t->nbranches * sizeof *names);
    if (!names)
        return NULL;
    for (int i = 0; i < t->nbranches; i++)
        names[i] = t->branches[i]->name;
    const char *near = suggest_closest(name, names, (size_t)t->nbranches);
    free(names);
    return near;
}

int tbranch_find_basket(const tbranch *b, int64_t entry)
{
    int lo = 0, hi = b->nbaskets - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        const tbasket *k = &b->baskets[mid];
        if (entry < k->first)
            hi = mid - 1;
        else if (entry >= k->first + k->n)
            lo = mid + 1;
        else
            return mid;
    }
    return -1;
}
