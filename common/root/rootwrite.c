/* rootwrite.c - ROOT file / TTree writer (see rootwrite.h and ../shared/docs/root-format.md).
 *
 * File layout we produce, in file order (every record starts with a TKey, section 3.1):
 *
 *   0      file header (100 bytes, section 2), rewritten at close. Small layout
 *          (fVersion 62400, 4-byte seeks, fUnits 4) unless fEND > 2e9 or force_big
 *          (fVersion 1062400, 8-byte fEND/fSeekFree/fSeekInfo, fUnits 8).
 *   100    top directory: TKey (class "TFile", name = file's base name, title "",
 *          fSeekPdir 0), then name and title again as ROOT strings, then the 60-byte
 *          TDirectory record (v5, or v1005 with 8-byte seeks when fSeekKeys > 2e9 or
 *          force_big): fDatimeC, fDatimeM, fNbytesKeys, fNbytesName, fSeekDir 100,
 *          fSeekParent 0, fSeekKeys, UUID version 1 + 16 bytes, zero padding to 60.
 *          Written as zeros at open and rewritten at close.
 *   next   StreamerInfo: small TKey (class "TList", name "StreamerInfo", title "Doubly
 *          linked list", fKeyLen 64) + ROOT's own payload copied verbatim
 *          (streamerinfo_blob.c): always here so its key is small and 64 bytes long.
 *   ...    subdirectory records (created with their first tree): TKey (class
 *          "TDirectory", name, title "", fSeekPdir = parent) + 60-byte TDirectory record
 *          (fNbytesName = key length, fSeekDir = own key, fSeekParent = parent's key),
 *          rewritten in place at close once fSeekKeys is known.
 *   ...    TBasket records, as branches fill (section 8.1): TKey v1004 (always 8-byte
 *          seeks, as ROOT does), class "TBasket", name = branch, title = tree, fCycle =
 *          basket index, fSeekPdir = the tree's directory, followed inside fKeyLen by the
 *          19-byte extension: i16 version 3, i32 fBufferSize, i32 fNevBufSize (bytes per
 *          entry, or the offset-array length for jagged branches), i32 fNevBuf (entries),
 *          i32 fLast (= fKeyLen + data bytes), u8 flag 0. Payload (fObjLen bytes, ROOT
 *          blocks of the file's algorithm, or raw when compression does not shrink it):
 *          the big-endian values of the basket's entries; for jagged branches followed
 *          by i32 (fNevBuf+1) and fNevBuf+1 entry offsets (entry start + fKeyLen, the
 *          last one = fLast).
 *   close  per tree a TTree record (TKey class "TTree", payload the TTree v20 object of
 *          section 11.3, compressed like baskets), per subdirectory and for the top
 *          directory a KeysList record (TKey class "TDirectory"/"TFile", payload i32
 *          nkeys + a byte-identical copy of each child's TKey header), then the
 *          FreeSegments record (TKey class "TFile", payload one TFree: u16 version 1 (or
 *          1001 with 8-byte fields), fFirst = fEND, fLast = 2000000000 (2e12 if big)).
 *
 * Non-basket keys are small (v4) unless a seek they hold exceeds 2e9 or force_big.
 * Positions inside serialized objects (leaf references) are buffer offset + fKeyLen + 2.
 * Timestamps are opts.datime and the UUID comes from opts.seed, so the output is a pure
 * function of the inputs. */
#include "root/rootwrite.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "root/compress.h"
#include "root/packfloat.h"
#include "base/cursor.h"
#include "base/rng.h"
#include "root/streamerinfo_blob.h"
#include "base/wbuf.h"

#define KSTART_BIG 2000000000LL  /* ROOT's kStartBigFile */
#define FILE_VERSION 62400       /* ROOT 6.24/00, as uproot writes */
#define DEFAULT_OFFSET_LEN 1000  /* TTree::fDefaultEntryOffsetLen */
#define MAX_NAME 1000
#define MAX_TITLE 8000
#define MAX_FIXED_LEN 1000000

typedef struct rw_dir {
    char *name;
    int parent;          /* index in f->dirs, -1 for the top directory */
    uint64_t seek;       /* position of the directory's key (100 for the top) */
    uint32_t keylen;     /* its key length */
    wbuf keys;           /* copies of the children's key headers */
    int32_t nkeys;
} rw_dir;

typedef struct rw_branch {
    char *name, *title, *leaf_title;
    rootw_type type;
    int width;      /* bytes per value given (host) */
    int dwidth;     /* bytes per value on disk (differs for Double32_t/Float16_t) */
    packfloat pack; /* ROOTW_D32/ROOTW_F16: how values are packed */
    int flen;       /* values per entry for scalar/fixed arrays (fLen) */
    int counter;    /* index of the counter branch, -1 if not jagged */
    int is_counter; /* used as a counter by a later branch */
    int64_t maxcount;
    uint32_t bkeylen; /* key length of this branch's baskets */
    wbuf data;        /* current basket: big-endian values */
    wbuf offs;        /* current basket (jagged): big-endian entry offsets */
    int64_t nev;      /* entries in the current basket */
    int64_t first;    /* first entry of the current basket */
    size_t voff;      /* value offset in the current rootw_append column */
    int32_t *bbytes;  /* per written basket: fNbytes, first entry, seek */
    int64_t *bentry, *bseek;
    int nb, capb;
    int64_t totbytes, zipbytes;
    int obj;          /* member of split object objs[obj] of the tree, -1 if none */
    char *decl;       /* "name[dims]": the declaration without the type */
    char *comment;    /* the range "[...]" of a ranged d or f, else "" */
    int32_t *counts; /* counters: this append's per-entry counts */
    size_t counts_cap;
    uint32_t leaf_tag; /* reference tag of the leaf, set while serializing the tree */
} rw_branch;

/* A split object: a TBranchElement of class `classname` whose member branches are
 * br[first .. first + n) (section 7.3). */
typedef struct rw_obj {
    char *name, *classname;
    int first, n;
    uint32_t checksum;
    uint32_t leaf_tag;
} rw_obj;

struct rootw_tree {
    rootw_file *f;
    char *name, *title;
    int dir;
    rw_branch *br;
    int nbr, capbr;
    rw_obj *objs;
    int nobj, capobj;
    int64_t entries;
    int appended;
};

struct rootw_file {
    FILE *fp;
    char *path, *fname;
    uint64_t pos;
    int alg, level;
    int64_t cluster;
    size_t basket_bytes;
    uint32_t datime;
    uint8_t uuid[16];
    int force_big;
    rw_dir *dirs;
    int ndirs, capdirs;
    rootw_tree **trees;
    int ntrees, captrees;
    uint64_t seek_info;
    uint32_t nbytes_info, top_keylen, top_nbytes_name;
    compress_ctx *cz;
    wbuf z, k; /* compression output, key/record scratch */
    int failed;
    int has_objects; /* a tree holds split objects: the StreamerInfo is rewritten at close */
};

/* ---- types ---- */

static const struct {
    char letter;
    int size;
    const char *name, *leafclass;
    int is_unsigned, is_int;
} TYPES[ROOTW_NTYPES] = {
    [ROOTW_BOOL] = {'O', 1, "bool", "TLeafO", 0, 0},   [ROOTW_I8] = {'B', 1, "int8", "TLeafB", 0, 1},
    [ROOTW_U8] = {'b', 1, "uint8", "TLeafB", 1, 1},     [ROOTW_I16] = {'S', 2, "int16", "TLeafS", 0, 1},
    [ROOTW_U16] = {'s', 2, "uint16", "TLeafS", 1, 1},   [ROOTW_I32] = {'I', 4, "int32", "TLeafI", 0, 1},
    [ROOTW_U32] = {'i', 4, "uint32", "TLeafI", 1, 1},   [ROOTW_I64] = {'L', 8, "int64", "TLeafL", 0, 1},
    [ROOTW_U64] = {'l', 8, "uint64", "TLeafL", 1, 1},   [ROOTW_F32] = {'F', 4, "float", "TLeafF", 0, 0},
    [ROOTW_F64] = {'D', 8, "double", "TLeafD", 0, 0},   [ROOTW_D32] = {'d', 8, "Double32_t", "TLeafD32", 0, 0},
    [ROOTW_F16] = {'f', 4, "Float16_t", "TLeafF16", 0, 0},
};

static int type_ok(rootw_type t) { return (int)t >= 0 && t < ROOTW_NTYPES; }
int rootw_type_size(rootw_type t) { return type_ok(t) ? TYPES[t].size : 0; }
const char *rootw_type_name(rootw_type t) { return type_ok(t) ? TYPES[t].name : "invalid"; }
char rootw_type_letter(rootw_type t) { return type_ok(t) ? TYPES[t].letter : 0; }

int64_t rootw_tree_entries(const rootw_tree *t) { return t->entries; }
int rootw_tree_nbranches(const rootw_tree *t) { return t->nbr; }
uint64_t rootw_file_bytes(const rootw_file *f) { return f->pos; }

/* ---- low-level output ---- */

static int fail_io(rootw_file *f, const char *what, mlhep_err *e)
{
    f->failed = 1;
    return err_set(e, MLHEP_EIO, "%s: %s failed at byte %llu: %s", f->path, what, (unsigned long long)f->pos,
                   strerror(errno ? errno : EIO));
}

static int out(rootw_file *f, const void *p, size_t n, mlhep_err *e)
{
    errno = 0;
    if (n && fwrite(p, 1, n, f->fp) != n)
        return fail_io(f, "write", e);
    f->pos += n;
    return 0;
}

static int patch(rootw_file *f, uint64_t off, const void *p, size_t n, mlhep_err *e)
{
    errno = 0;
    if (fseeko(f->fp, (off_t)off, SEEK_SET) != 0 || fwrite(p, 1, n, f->fp) != n)
        return fail_io(f, "rewrite", e);
    if (fseeko(f->fp, (off_t)f->pos, SEEK_SET) != 0)
        return fail_io(f, "seek", e);
    return 0;
}

static int nomem(rootw_file *f, mlhep_err *e)
{
    f->failed = 1;
    return err_set(e, MLHEP_ENOMEM, "%s: out of memory", f->path);
}

static uint32_t key_len(int big, const char *cls, const char *name, const char *title)
{
    return (uint32_t)((big ? 34 : 26) + wbuf_rootstr_len(cls) + wbuf_rootstr_len(name) + wbuf_rootstr_len(title));
}

/* TKey header (section 3.1). */
static void put_key(wbuf *w, int big, uint32_t nbytes, uint32_t objlen, uint32_t datime, uint32_t keylen,
                    int cycle, uint64_t seek, uint64_t pdir, const char *cls, const char *name, const char *title)
{
    wbuf_u32(w, nbytes);
    wbuf_u16(w, big ? 1004 : 4);
    wbuf_u32(w, objlen);
    wbuf_u32(w, datime);
    wbuf_u16(w, (uint16_t)keylen);
    wbuf_u16(w, (uint16_t)cycle);
    if (big) {
        wbuf_u64(w, seek);
        wbuf_u64(w, pdir);
    } else {
        wbuf_u32(w, (uint32_t)seek);
        wbuf_u32(w, (uint32_t)pdir);
    }
    wbuf_rootstr(w, cls);
    wbuf_rootstr(w, name);
    wbuf_rootstr(w, title);
}

static int need_big(const rootw_file *f, uint64_t a, uint64_t b)
{
    return f->force_big || a > (uint64_t)KSTART_BIG || b > (uint64_t)KSTART_BIG;
}

/* TDirectory record, 60 bytes (section 3.3). */
static void put_dir_record(wbuf *w, int big, uint32_t datime, uint32_t nbytes_keys, uint32_t nbytes_name,
                           uint64_t seekdir, uint64_t seekparent, uint64_t seekkeys, const uint8_t uuid[16])
{
    size_t start = w->len;
    wbuf_u16(w, big ? 1005 : 5);
    wbuf_u32(w, datime);
    wbuf_u32(w, datime);
    wbuf_u32(w, nbytes_keys);
    wbuf_u32(w, nbytes_name);
    if (big) {
        wbuf_u64(w, seekdir);
        wbuf_u64(w, seekparent);
        wbuf_u64(w, seekkeys);
    } else {
        wbuf_u32(w, (uint32_t)seekdir);
        wbuf_u32(w, (uint32_t)seekparent);
        wbuf_u32(w, (uint32_t)seekkeys);
    }
    wbuf_u16(w, 1);
    wbuf_put(w, uuid, 16);
    wbuf_zero(w, 60 - (w->len - start));
}

/* Compresses src with the file's algorithm into f->z; *stored and *slen = what to write
 * (f->z, or src itself when compression does not make it smaller, as ROOT does). */
static int compress_payload(rootw_file *f, const uint8_t *src, size_t n, const uint8_t **stored, size_t *slen,
                            mlhep_err *e)
{
    *stored = src;
    *slen = n;
    if (f->alg == COMPRESS_NONE || n == 0)
        return 0;
    size_t cap = compress_bound(n);
    f->z.len = 0;
    if (!wbuf_reserve(&f->z, cap))
        return nomem(f, e);
    size_t zl = 0;
    int rc = compress_zip(f->cz, f->alg, f->level, src, n, f->z.p, cap, &zl, e);
    if (rc) {
        f->failed = 1;
        return rc;
    }
    if (zl > 0 && zl < n) {
        *stored = f->z.p;
        *slen = zl;
    }
    return 0;
}

/* ---- open ---- */

static int name_ok(const char *s, size_t maxlen)
{
    size_t n = strlen(s);
    if (n == 0 || n > maxlen)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '-'))
            return 0;
    }
    return 1;
}

void rootw_abort(rootw_file *f)
{
    if (!f)
        return;
    if (f->fp)
        fclose(f->fp);
    for (int i = 0; i < f->ntrees; i++) {
        rootw_tree *t = f->trees[i];
        for (int j = 0; j < t->nbr; j++) {
            rw_branch *b = &t->br[j];
            free(b->name);
            free(b->title);
            free(b->leaf_title);
            free(b->decl);
            free(b->comment);
            wbuf_free(&b->data);
            wbuf_free(&b->offs);
            free(b->bbytes);
            free(b->bentry);
            free(b->bseek);
            free(b->counts);
        }
        free(t->br);
        for (int j = 0; j < t->nobj; j++) {
            free(t->objs[j].name);
            free(t->objs[j].classname);
        }
        free(t->objs);
        free(t->name);
        free(t->title);
        free(t);
    }
    free(f->trees);
    for (int i = 0; i < f->ndirs; i++) {
        free(f->dirs[i].name);
        wbuf_free(&f->dirs[i].keys);
    }
    free(f->dirs);
    compress_ctx_free(f->cz);
    wbuf_free(&f->z);
    wbuf_free(&f->k);
    free(f->path);
    free(f->fname);
    free(f);
}

int rootw_open(const char *path, const rootw_opts *o, rootw_file **out_f, mlhep_err *e)
{
    *out_f = NULL;
    rootw_opts def = {0};
    if (!o)
        o = &def;
    int alg, level;
    if (compress_parse(o->compression ? o->compression : "zlib:1", &alg, &level, e))
        return err_prefix(e, "%s", path);
    if (alg == COMPRESS_OLD)
        return err_set(e, MLHEP_EINVAL, "%s: cannot write the old ROOT compression", path);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (!*base || strlen(base) > MAX_NAME)
        return err_set(e, MLHEP_EINVAL, "'%s' is not a usable file name", path);

    rootw_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path)) || !(f->fname = strdup(base)) || !(f->cz = compress_ctx_new())) {
        rootw_abort(f);
        return err_set(e, MLHEP_ENOMEM, "%s: out of memory", path);
    }
    f->alg = alg;
    f->level = level;
    f->cluster = o->cluster_entries > 0 ? o->cluster_entries : 10000;
    f->basket_bytes = o->basket_bytes ? o->basket_bytes : (size_t)4 << 20;
    if (f->basket_bytes > (size_t)1 << 30)
        f->basket_bytes = (size_t)1 << 30;
    f->datime = o->datime ? o->datime : (uint32_t)((2024 - 1995) << 26 | 1 << 22 | 1 << 17);
    f->force_big = o->force_big;
    uint64_t s = o->seed ^ 0x6d6c6865702d7277ull; /* "mlhep-rw" */
    uint64_t u0 = rng_splitmix(&s), u1 = rng_splitmix(&s);
    be_put64(f->uuid, u0);
    be_put64(f->uuid + 8, u1);
    f->uuid[6] = (uint8_t)((f->uuid[6] & 0x0f) | 0x40); /* a version-4-shaped UUID */
    f->uuid[8] = (uint8_t)((f->uuid[8] & 0x3f) | 0x80);

    f->dirs = calloc(4, sizeof *f->dirs);
    if (!f->dirs || !(f->dirs[0].name = strdup(""))) {
        rootw_abort(f);
        return err_set(e, MLHEP_ENOMEM, "%s: out of memory", path);
    }
    f->capdirs = 4;
    f->ndirs = 1;
    f->dirs[0].parent = -1;
    f->dirs[0].seek = 100;

    errno = 0;
    f->fp = fopen(path, "wb");
    if (!f->fp) {
        int rc = err_set(e, MLHEP_EIO, "cannot create %s: %s", path, strerror(errno));
        rootw_abort(f);
        return rc;
    }
    setvbuf(f->fp, NULL, _IOFBF, 1 << 20);

    /* header placeholder, top directory placeholder, StreamerInfo */
    uint8_t zero[100] = {0};
    int rc = out(f, zero, 100, e);
    f->top_keylen = key_len(0, "TFile", f->fname, "");
    f->top_nbytes_name = f->top_keylen + (uint32_t)wbuf_rootstr_len(f->fname) + 1;
    f->dirs[0].keylen = f->top_keylen;
    wbuf *k = &f->k;
    k->len = 0;
    put_key(k, 0, f->top_nbytes_name + 60, f->top_nbytes_name - f->top_keylen + 60, f->datime, f->top_keylen, 1, 100,
            0, "TFile", f->fname, "");
    wbuf_rootstr(k, f->fname);
    wbuf_rootstr(k, "");
    wbuf_zero(k, 60);
    if (!rc && !wbuf_ok(k))
        rc = nomem(f, e);
    if (!rc)
        rc = out(f, k->p, k->len, e);

    uint32_t silen = key_len(0, "TList", "StreamerInfo", "Doubly linked list");
    if (!rc && silen != STREAMERINFO_BLOB_KEYLEN)
        rc = err_set(e, MLHEP_EFORMAT, "internal: StreamerInfo key length %u, blob needs %d", silen,
                     STREAMERINFO_BLOB_KEYLEN);
    f->seek_info = f->pos;
    f->nbytes_info = silen + STREAMERINFO_BLOB_LEN;
    k->len = 0;
    put_key(k, 0, f->nbytes_info, STREAMERINFO_BLOB_OBJLEN, f->datime, silen, 1, f->seek_info, 100, "TList",
            "StreamerInfo", "Doubly linked list");
    if (!rc && !wbuf_ok(k))
        rc = nomem(f, e);
    if (!rc)
        rc = out(f, k->p, k->len, e);
    if (!rc)
        rc = out(f, streamerinfo_blob, STREAMERINFO_BLOB_LEN, e);
    if (rc) {
        rootw_abort(f);
        return rc;
    }
    *out_f = f;
    return 0;
}

/* ---- directories and trees ---- */

static int find_dir(rootw_file *f, int parent, const char *name)
{
    for (int i = 1; i < f->ndirs; i++)
        if (f->dirs[i].parent == parent && strcmp(f->dirs[i].name, name) == 0)
            return i;
    return -1;
}

/* Writes a subdirectory's key + placeholder record now (its position must be known
 * before its children are written) and lists its key in the parent. */
static int make_dir(rootw_file *f, int parent, const char *name, int *idx, mlhep_err *e)
{
    if (f->ndirs == f->capdirs) {
        rw_dir *nd = realloc(f->dirs, (size_t)f->capdirs * 2 * sizeof *nd);
        if (!nd)
            return nomem(f, e);
        f->dirs = nd;
        f->capdirs *= 2;
    }
    rw_dir *d = &f->dirs[f->ndirs];
    memset(d, 0, sizeof *d);
    if (!(d->name = strdup(name)))
        return nomem(f, e);
    d->parent = parent;
    d->seek = f->pos;
    uint64_t pseek = f->dirs[parent].seek;
    int big = need_big(f, d->seek, pseek);
    d->keylen = key_len(big, "TDirectory", name, "");
    f->ndirs++;
    wbuf *k = &f->k;
    k->len = 0;
    put_key(k, big, d->keylen + 60, 60, f->datime, d->keylen, 1, d->seek, pseek, "TDirectory", name, "");
    rw_dir *p = &f->dirs[parent];
    wbuf_put(&p->keys, k->p, k->len);
    p->nkeys++;
    wbuf_zero(k, 60);
    if (!wbuf_ok(k) || !wbuf_ok(&p->keys))
        return nomem(f, e);
    *idx = f->ndirs - 1;
    return out(f, k->p, k->len, e);
}

int rootw_tree_new(rootw_file *f, const char *path, const char *title, rootw_tree **out_t, mlhep_err *e)
{
    *out_t = NULL;
    if (f->failed)
        return err_set(e, MLHEP_EIO, "%s: an earlier write failed", f->path);
    if (!title)
        title = "";
    if (strlen(title) > MAX_TITLE)
        return err_set(e, MLHEP_EINVAL, "tree '%s': title longer than %d characters", path, MAX_TITLE);
    char *p = strdup(path);
    if (!p)
        return nomem(f, e);
    /* split into components; all but the last are directories */
    char *comp[64];
    int nc = 0;
    for (char *s = p, *save = NULL;; s = NULL) {
        char *tok = strtok_r(s, "/", &save);
        if (!tok)
            break;
        if (nc == 64) {
            free(p);
            return err_set(e, MLHEP_EINVAL, "tree path '%s': too deep", path);
        }
        comp[nc++] = tok;
    }
    int bad = nc == 0 || path[0] == '/' || path[strlen(path) - 1] == '/' || strstr(path, "//");
    for (int i = 0; i < nc && !bad; i++)
        bad = !name_ok(comp[i], MAX_NAME);
    if (bad) {
        free(p);
        return err_set(e, MLHEP_EINVAL,
                       "tree path '%s': expected name or dir/.../name, names made of letters, digits, '_', '.', '-'",
                       path);
    }
    int dir = 0;
    for (int i = 0; i < nc - 1; i++) {
        int d = find_dir(f, dir, comp[i]);
        if (d < 0) {
            int rc = make_dir(f, dir, comp[i], &d, e);
            if (rc) {
                free(p);
                return rc;
            }
        }
        dir = d;
    }
    for (int i = 0; i < f->ntrees; i++)
        if (f->trees[i]->dir == dir && strcmp(f->trees[i]->name, comp[nc - 1]) == 0) {
            free(p);
            return err_set(e, MLHEP_EINVAL, "tree '%s' is already declared in %s", path, f->path);
        }
    if (f->ntrees == f->captrees) {
        int nc2 = f->captrees ? f->captrees * 2 : 4;
        rootw_tree **nt = realloc(f->trees, (size_t)nc2 * sizeof *nt);
        if (!nt) {
            free(p);
            return nomem(f, e);
        }
        f->trees = nt;
        f->captrees = nc2;
    }
    rootw_tree *t = calloc(1, sizeof *t);
    if (!t || !(t->name = strdup(comp[nc - 1])) || !(t->title = strdup(title))) {
        if (t)
            free(t->name);
        free(t);
        free(p);
        return nomem(f, e);
    }
    free(p);
    t->f = f;
    t->dir = dir;
    f->trees[f->ntrees++] = t;
    *out_t = t;
    return 0;
}

static rootw_type type_of_letter(char c)
{
    for (int i = 0; i < ROOTW_NTYPES; i++)
        if (TYPES[i].letter == c)
            return (rootw_type)i;
    return ROOTW_NTYPES;
}

static int find_branch(const rootw_tree *t, const char *name, size_t n)
{
    for (int i = 0; i < t->nbr; i++)
        if (strlen(t->br[i].name) == n && strncmp(t->br[i].name, name, n) == 0)
            return i;
    return -1;
}

int rootw_branch(rootw_tree *t, const char *spec, mlhep_err *e)
{
    rootw_file *f = t->f;
    if (t->appended)
        return err_set(e, MLHEP_EINVAL, "tree '%s': branch '%s' declared after entries were appended", t->name, spec);
    /* the type follows the first '/' outside brackets (a range may hold "pi/2") */
    const char *slash = NULL;
    for (const char *q = spec; *q && !slash; q++) {
        if (*q == '[') {
            const char *rb = strchr(q, ']');
            if (!rb)
                break;
            q = rb;
        } else if (*q == '/') {
            slash = q;
        }
    }
    int ranged = slash && (slash[1] == 'd' || slash[1] == 'f') && slash[2] == '[';
    if (!slash || slash == spec || (strlen(slash) != 2 && !ranged))
        return err_set(e, MLHEP_EINVAL,
                       "branch spec '%s': expected name/T, name[N]/T or name[counter]/T with T one of O B b S s I i L l "
                       "F D d f (d and f may add a range: d[min,max,bits])",
                       spec);
    rootw_type type = type_of_letter(slash[1]);
    if (type == ROOTW_NTYPES)
        return err_set(e, MLHEP_EINVAL, "branch spec '%s': unknown type letter '%c' (use O B b S s I i L l F D d f)",
                       spec, slash[1]);
    packfloat pack = {0};
    if (type == ROOTW_D32 || type == ROOTW_F16) {
        const char *range = slash + 2, *why = "";
        if (ranged && (range[strlen(range) - 1] != ']' || strchr(range, ',') == NULL))
            return err_set(e, MLHEP_EINVAL, "branch spec '%s': the range must be [min,max] or [min,max,bits]", spec);
        if (packfloat_from_title(type == ROOTW_F16, ranged ? range : "", &pack, &why))
            return err_set(e, MLHEP_EINVAL, "branch spec '%s': %s", spec, why);
    }
    size_t speclen = (size_t)(slash - spec);
    const char *lb = memchr(spec, '[', speclen);
    size_t nlen = lb ? (size_t)(lb - spec) : speclen;
    char name[MAX_NAME + 1];
    if (nlen == 0 || nlen > MAX_NAME)
        return err_set(e, MLHEP_EINVAL, "branch spec '%s': missing or too long branch name", spec);
    memcpy(name, spec, nlen);
    name[nlen] = '\0';
    if (!name_ok(name, MAX_NAME))
        return err_set(e, MLHEP_EINVAL, "branch spec '%s': name '%s' may only use letters, digits, '_', '.', '-'", spec,
                       name);
    if (find_branch(t, name, nlen) >= 0)
        return err_set(e, MLHEP_EINVAL, "tree '%s': branch '%s' declared twice", t->name, name);
    /* dimensions: [digits]... or one [counter] */
    long flen = 1;
    int counter = -1, ndims = 0;
    const char *s = lb;
    while (s && s < slash) {
        if (*s != '[')
            return err_set(e, MLHEP_EINVAL, "branch spec '%s': unexpected '%c' after ']'", spec, *s);
        const char *rb = memchr(s, ']', (size_t)(slash - s));
        if (!rb || rb == s + 1)
            return err_set(e, MLHEP_EINVAL, "branch spec '%s': unbalanced or empty [ ]", spec);
        size_t dl = (size_t)(rb - s - 1);
        const char *d = s + 1;
        if (d[0] >= '0' && d[0] <= '9') {
            long v = 0;
            for (size_t i = 0; i < dl; i++) {
                if (d[i] < '0' || d[i] > '9')
                    return err_set(e, MLHEP_EINVAL, "branch spec '%s': bad dimension '%.*s'", spec, (int)dl, d);
                v = v * 10 + (d[i] - '0');
                if (v > MAX_FIXED_LEN)
                    break;
            }
            if (v <= 0 || v > MAX_FIXED_LEN || flen * v > MAX_FIXED_LEN)
                return err_set(e, MLHEP_EINVAL, "branch spec '%s': array size must be 1..%d values", spec,
                               MAX_FIXED_LEN);
            flen *= v;
        } else {
            if (ndims > 0 || rb + 1 != slash)
                return err_set(e, MLHEP_EINVAL,
                               "branch spec '%s': a counter must be the only dimension (name[counter]/T)", spec);
            counter = find_branch(t, d, dl);
            if (counter < 0)
                return err_set(e, MLHEP_EINVAL, "branch spec '%s': counter '%.*s' is not an earlier branch of tree '%s'",
                               spec, (int)dl, d, t->name);
            const rw_branch *c = &t->br[counter];
            if (!TYPES[c->type].is_int || c->flen != 1 || c->counter >= 0 || c->obj >= 0)
                return err_set(e, MLHEP_EINVAL, "branch spec '%s': counter '%s' must be a scalar integer branch", spec,
                               c->name);
        }
        ndims++;
        s = rb + 1;
    }
    if (t->nbr == t->capbr) {
        int nc = t->capbr ? t->capbr * 2 : 16;
        rw_branch *nb = realloc(t->br, (size_t)nc * sizeof *nb);
        if (!nb)
            return nomem(f, e);
        t->br = nb;
        t->capbr = nc;
    }
    rw_branch *b = &t->br[t->nbr];
    memset(b, 0, sizeof *b);
    b->name = strdup(name);
    b->title = strdup(spec);
    /* ROOT 6 leaf title: "name[dims]", and "/d[range]" after it for a ranged d or f */
    b->leaf_title = ranged ? strdup(spec) : strndup(spec, speclen);
    b->decl = strndup(spec, speclen);
    b->comment = strdup(ranged ? slash + 2 : "");
    if (!b->name || !b->title || !b->leaf_title || !b->decl || !b->comment) {
        free(b->name);
        free(b->title);
        free(b->leaf_title);
        free(b->decl);
        free(b->comment);
        return nomem(f, e);
    }
    b->obj = -1;
    b->type = type;
    b->width = TYPES[type].size;
    b->pack = pack;
    b->dwidth = type == ROOTW_D32 || type == ROOTW_F16 ? packfloat_width(&pack) : b->width;
    b->flen = (int)flen;
    b->counter = counter;
    if (counter >= 0)
        t->br[counter].is_counter = 1;
    b->bkeylen = key_len(1, "TBasket", name, t->name) + 19;
    return t->nbr++;
}

/* ROOT's streamer element type code of a member (section 6), and its C++ type name. */
static int elem_code(rootw_type t)
{
    static const int code[ROOTW_NTYPES] = {18, 1, 11, 2, 12, 3, 13, 16, 17, 5, 8, 9, 19};
    return code[t];
}

static const char *elem_typename(rootw_type t)
{
    static const char *n[ROOTW_NTYPES] = {"bool", "char", "unsigned char", "short", "unsigned short", "int",
                                          "unsigned int", "Long64_t", "ULong64_t", "float", "double", "Double32_t",
                                          "Float16_t"};
    return n[t];
}

int rootw_object(rootw_tree *t, const char *name, const char *classname, const char *const *members, int n,
                 mlhep_err *e)
{
    rootw_file *f = t->f;
    if (t->appended)
        return err_set(e, MLHEP_EINVAL, "tree '%s': object '%s' declared after entries were appended", t->name, name);
    if (!name_ok(name, MAX_NAME) || !name_ok(classname, MAX_NAME) || strchr(classname, '.') || strchr(classname, '-'))
        return err_set(e, MLHEP_EINVAL, "object '%s' of class '%s': names may only use letters, digits, '_'", name,
                       classname);
    if (n < 1 || n > 10000)
        return err_set(e, MLHEP_EINVAL, "object '%s': 1..10000 members, not %d", name, n);
    for (int i = 0; i < t->nbr; i++)
        if (!strcmp(t->br[i].name, name))
            return err_set(e, MLHEP_EINVAL, "tree '%s': object '%s' has the name of a branch", t->name, name);
    for (int i = 0; i < t->nobj; i++)
        if (!strcmp(t->objs[i].name, name))
            return err_set(e, MLHEP_EINVAL, "tree '%s': object '%s' declared twice", t->name, name);
    if (t->nobj == t->capobj) {
        int nc = t->capobj ? t->capobj * 2 : 4;
        rw_obj *no = realloc(t->objs, (size_t)nc * sizeof *no);
        if (!no)
            return nomem(f, e);
        t->objs = no;
        t->capobj = nc;
    }
    int first = t->nbr, rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        rc = rootw_branch(t, members[i], e);
        if (rc >= 0 && t->br[rc].counter >= 0)
            rc = err_set(e, MLHEP_EINVAL, "object '%s': member '%s' is variable-size (members are scalars or fixed "
                         "arrays)", name, members[i]);
        else if (rc >= 0)
            rc = 0;
    }
    rw_obj *o = &t->objs[t->nobj];
    memset(o, 0, sizeof *o);
    if (!rc && (!(o->name = strdup(name)) || !(o->classname = strdup(classname))))
        rc = nomem(f, e);
    if (rc) { /* undo the members declared so far */
        free(o->name);
        free(o->classname);
        while (t->nbr > first) {
            rw_branch *b = &t->br[--t->nbr];
            free(b->name);
            free(b->title);
            free(b->leaf_title);
            free(b->decl);
            free(b->comment);
        }
        return err_prefix(e, "object '%s'", name);
    }
    o->first = first;
    o->n = n;
    /* a checksum of the class layout (ROOT's own is a hash of it, too) */
    uint32_t h = 2166136261u;
    for (const char *c = classname; *c; c++)
        h = (h ^ (uint8_t)*c) * 16777619u;
    for (int i = first; i < t->nbr; i++) {
        t->br[i].obj = t->nobj;
        for (const char *c = t->br[i].title; *c; c++)
            h = (h ^ (uint8_t)*c) * 16777619u;
    }
    o->checksum = h;
    f->has_objects = 1;
    t->nobj++;
    return first;
}

/* ---- baskets ---- */

static int push_meta(rootw_file *f, rw_branch *b, int32_t nbytes, int64_t seek, mlhep_err *e)
{
    if (b->nb == b->capb) {
        int nc = b->capb ? b->capb * 2 : 16;
        int32_t *bb = realloc(b->bbytes, (size_t)nc * sizeof *bb);
        if (bb)
            b->bbytes = bb;
        int64_t *be = realloc(b->bentry, (size_t)nc * sizeof *be);
        if (be)
            b->bentry = be;
        int64_t *bs = realloc(b->bseek, (size_t)nc * sizeof *bs);
        if (bs)
            b->bseek = bs;
        if (!bb || !be || !bs)
            return nomem(f, e);
        b->capb = nc;
    }
    b->bbytes[b->nb] = nbytes;
    b->bentry[b->nb] = b->first;
    b->bseek[b->nb] = seek;
    b->nb++;
    return 0;
}

static int flush_basket(rootw_file *f, rootw_tree *t, rw_branch *b, mlhep_err *e)
{
    if (b->nev == 0)
        return 0;
    uint32_t keylen = b->bkeylen;
    size_t datalen = b->data.len;
    uint64_t flast = keylen + (uint64_t)datalen;
    int jagged = b->counter >= 0;
    if (jagged) {
        wbuf_u32(&b->data, (uint32_t)(b->nev + 1));
        wbuf_put(&b->data, b->offs.p, b->offs.len);
        wbuf_u32(&b->data, (uint32_t)flast);
    }
    if (!wbuf_ok(&b->data))
        return nomem(f, e);
    size_t objlen = b->data.len;
    if (objlen + keylen > INT32_MAX)
        return err_set(e, MLHEP_EINVAL, "branch '%s': basket of %zu bytes is too large for ROOT", b->name, objlen);
    const uint8_t *stored;
    size_t slen;
    int rc = compress_payload(f, b->data.p, objlen, &stored, &slen, e);
    if (rc)
        return err_prefix(e, "branch '%s'", b->name);
    uint32_t nbytes = keylen + (uint32_t)slen;
    uint64_t seek = f->pos;
    wbuf *k = &f->k;
    k->len = 0;
    put_key(k, 1, nbytes, (uint32_t)objlen, f->datime, keylen, b->nb, seek, f->dirs[t->dir].seek, "TBasket",
            b->name, t->name);
    uint32_t bufsize = objlen + keylen > 32000 ? (uint32_t)(objlen + keylen) : 32000;
    wbuf_u16(k, 3);
    wbuf_u32(k, bufsize);
    wbuf_u32(k, jagged ? (uint32_t)(b->nev + 1) : (uint32_t)(b->dwidth * b->flen));
    wbuf_u32(k, (uint32_t)b->nev);
    wbuf_u32(k, (uint32_t)flast);
    wbuf_u8(k, 0);
    if (!wbuf_ok(k))
        return nomem(f, e);
    if (k->len != keylen)
        return err_set(e, MLHEP_EFORMAT, "internal: basket key of branch '%s' is %zu bytes, expected %u", b->name,
                       k->len, keylen);
    if ((rc = out(f, k->p, k->len, e)) || (rc = out(f, stored, slen, e)))
        return rc;
    if ((rc = push_meta(f, b, (int32_t)nbytes, (int64_t)seek, e)))
        return rc;
    b->totbytes += keylen + (int64_t)objlen;
    b->zipbytes += nbytes;
    b->first += b->nev;
    b->nev = 0;
    b->data.len = 0;
    b->offs.len = 0;
    return 0;
}

/* Appends count values from host order src to the basket, big-endian (Double32_t and
 * Float16_t packed). */
static void put_values(rw_branch *b, const uint8_t *src, size_t count)
{
    size_t nbytes = count * (size_t)b->dwidth;
    uint8_t *d = wbuf_reserve(&b->data, nbytes);
    if (!d)
        return;
    if (b->type == ROOTW_D32 || b->type == ROOTW_F16) {
        for (size_t i = 0; i < count; i++) {
            double x;
            if (b->type == ROOTW_D32) {
                memcpy(&x, src + 8 * i, 8);
            } else {
                float fx;
                memcpy(&fx, src + 4 * i, 4);
                x = fx;
            }
            packfloat_put(&b->pack, x, d + i * (size_t)b->dwidth);
        }
    } else if (b->type == ROOTW_BOOL) {
        for (size_t i = 0; i < count; i++)
            d[i] = src[i] != 0;
    } else {
        cur_swap_array(d, src, count, b->width);
    }
    b->data.len += nbytes;
}

/* Adds entries [j, j+k) of this append's column to branch b. */
static int branch_add(rootw_file *f, rootw_tree *t, rw_branch *b, const uint8_t *col, int64_t j, int64_t k,
                      mlhep_err *e)
{
    int rc;
    if (b->counter < 0) {
        size_t per = (size_t)b->width * (size_t)b->flen, dper = (size_t)b->dwidth * (size_t)b->flen;
        const uint8_t *src = col + (size_t)j * per;
        while (k > 0) {
            size_t room = b->data.len >= f->basket_bytes ? 0 : (f->basket_bytes - b->data.len) / dper;
            if (room == 0 && b->nev == 0)
                room = 1;
            if (room == 0) {
                if ((rc = flush_basket(f, t, b, e)))
                    return rc;
                continue;
            }
            int64_t take = (int64_t)room < k ? (int64_t)room : k;
            put_values(b, src, (size_t)take * (size_t)b->flen);
            b->nev += take;
            src += (size_t)take * per;
            k -= take;
        }
    } else {
        const int32_t *cnt = t->br[b->counter].counts + j;
        for (int64_t i = 0; i < k; i++) {
            size_t nbytes = (size_t)cnt[i] * (size_t)b->dwidth;
            if (b->nev > 0 && b->data.len + nbytes > f->basket_bytes && (rc = flush_basket(f, t, b, e)))
                return rc;
            if (b->data.len + nbytes + b->bkeylen > (size_t)INT32_MAX / 2)
                return err_set(e, MLHEP_EINVAL, "branch '%s': entry of %zu bytes is too large for one basket",
                               b->name, nbytes);
            uint8_t ob[4];
            be_put32(ob, (uint32_t)(b->data.len + b->bkeylen));
            wbuf_put(&b->offs, ob, 4);
            if (cnt[i])
                put_values(b, col + b->voff * (size_t)b->width, (size_t)cnt[i]);
            b->voff += (size_t)cnt[i];
            b->nev++;
        }
    }
    if (!wbuf_ok(&b->data) || !wbuf_ok(&b->offs))
        return nomem(f, e);
    return 0;
}

/* Reads counter values of column col (n entries) into b->counts, refusing negatives. */
static int load_counts(rootw_file *f, rw_branch *b, const void *col, int64_t n, mlhep_err *e)
{
    if (b->counts_cap < (size_t)n) {
        int32_t *c = realloc(b->counts, (size_t)n * sizeof *c);
        if (!c)
            return nomem(f, e);
        b->counts = c;
        b->counts_cap = (size_t)n;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t v;
        switch (b->type) {
        case ROOTW_I8: v = ((const int8_t *)col)[i]; break;
        case ROOTW_U8: v = ((const uint8_t *)col)[i]; break;
        case ROOTW_I16: v = ((const int16_t *)col)[i]; break;
        case ROOTW_U16: v = ((const uint16_t *)col)[i]; break;
        case ROOTW_I32: v = ((const int32_t *)col)[i]; break;
        case ROOTW_U32: v = ((const uint32_t *)col)[i]; break;
        case ROOTW_I64: v = ((const int64_t *)col)[i]; break;
        default: {
            uint64_t u = ((const uint64_t *)col)[i];
            v = u > INT32_MAX ? -1 : (int64_t)u;
        }
        }
        if (v < 0 || v > 100000000)
            return err_set(e, MLHEP_EINVAL, "counter branch '%s': entry %lld has count %lld (must be 0..100000000)",
                           b->name, (long long)i, (long long)v);
        b->counts[i] = (int32_t)v;
        if (v > b->maxcount)
            b->maxcount = v;
    }
    return 0;
}

int rootw_append(rootw_tree *t, int64_t n, const rootw_col *cols, mlhep_err *e)
{
    rootw_file *f = t->f;
    if (f->failed)
        return err_set(e, MLHEP_EIO, "%s: an earlier write failed", f->path);
    if (n < 0)
        return err_set(e, MLHEP_EINVAL, "tree '%s': negative number of entries %lld", t->name, (long long)n);
    if (n == 0)
        return 0;
    if (t->nbr > 0 && !cols)
        return err_set(e, MLHEP_EINVAL, "tree '%s': no columns given", t->name);
    /* check everything before writing anything */
    for (int i = 0; i < t->nbr; i++) {
        rw_branch *b = &t->br[i];
        if (cols[i].type != b->type)
            return err_set(e, MLHEP_EINVAL, "tree '%s': branch '%s' holds %s, column %d was given as %s", t->name,
                           b->name, rootw_type_name(b->type), i, rootw_type_name(cols[i].type));
    }
    for (int i = 0; i < t->nbr; i++) {
        rw_branch *b = &t->br[i];
        if (!cols[i].data && b->counter < 0)
            return err_set(e, MLHEP_EINVAL, "tree '%s': no data for branch '%s'", t->name, b->name);
        if (b->is_counter) {
            int64_t keep = b->maxcount;
            int rc = load_counts(f, b, cols[i].data, n, e);
            if (rc) {
                b->maxcount = keep;
                return err_prefix(e, "tree '%s'", t->name);
            }
        }
    }
    for (int i = 0; i < t->nbr; i++) {
        rw_branch *b = &t->br[i];
        if (b->counter >= 0 && !cols[i].data) {
            const int32_t *c = t->br[b->counter].counts;
            for (int64_t j = 0; j < n; j++)
                if (c[j])
                    return err_set(e, MLHEP_EINVAL, "tree '%s': no data for branch '%s'", t->name, b->name);
        }
        b->voff = 0;
    }
    t->appended = 1;
    int64_t done = 0;
    while (done < n) {
        int64_t room = f->cluster - t->entries % f->cluster;
        int64_t k = n - done < room ? n - done : room;
        for (int i = 0; i < t->nbr; i++) {
            int rc = branch_add(f, t, &t->br[i], cols[i].data, done, k, e);
            if (rc) {
                f->failed = 1;
                return rc;
            }
        }
        t->entries += k;
        done += k;
        if (t->entries % f->cluster == 0)
            for (int i = 0; i < t->nbr; i++) {
                int rc = flush_basket(f, t, &t->br[i], e);
                if (rc) {
                    f->failed = 1;
                    return rc;
                }
            }
    }
    return 0;
}

/* ---- TTree object (section 11.3) ---- */

static const uint8_t ATT_LINE[] = {0x40, 0, 0, 8, 0, 2, 0x02, 0x5a, 0, 1, 0, 1};
static const uint8_t ATT_FILL[] = {0x40, 0, 0, 6, 0, 2, 0, 0, 0x03, 0xe9};
static const uint8_t ATT_MARKER[] = {0x40, 0, 0, 0x0a, 0, 2, 0, 1, 0, 1, 0x3f, 0x80, 0, 0};
static const uint8_t IO_FEATURES[] = {0x40, 0, 0, 7, 0, 0, 0x1a, 0xa1, 0x2f, 0x10, 0};

static void put_tobject(wbuf *w, uint32_t bits)
{
    wbuf_u16(w, 1);
    wbuf_u32(w, 0);
    wbuf_u32(w, bits);
}

static void put_tnamed(wbuf *w, const char *name, const char *title, uint32_t bits)
{
    size_t bc = wbuf_bc_begin(w);
    wbuf_u16(w, 1);
    put_tobject(w, bits);
    wbuf_rootstr(w, name);
    wbuf_rootstr(w, title);
    wbuf_bc_end(w, bc);
}

/* TObjArray header; returns the byte-count position to close with wbuf_bc_end. */
static size_t put_objarray_begin(wbuf *w, int32_t n, uint32_t bits)
{
    size_t bc = wbuf_bc_begin(w);
    wbuf_u16(w, 3);
    put_tobject(w, bits);
    wbuf_u8(w, 0);
    wbuf_u32(w, (uint32_t)n);
    wbuf_u32(w, 0);
    return bc;
}

/* Minimum/maximum of a leaf, in the leaf's own type (TLeafD32's Double32_t members
 * without range are float32, TLeafF16's Float16_t ones 12-bit truncated: 3 bytes). */
static void put_leaf_value(wbuf *w, rootw_type t, int64_t v)
{
    if (t == ROOTW_D32) {
        wbuf_f32(w, (float)v);
        return;
    }
    if (t == ROOTW_F16) {
        packfloat p;
        const char *why;
        uint8_t b[4];
        packfloat_decide(1, 0, 0, 0, &p, &why);
        packfloat_put(&p, (double)v, b);
        wbuf_put(w, b, 3);
        return;
    }
    switch (TYPES[t].size) {
    case 1: wbuf_u8(w, (uint8_t)v); break;
    case 2: wbuf_u16(w, (uint16_t)v); break;
    case 4:
        if (t == ROOTW_F32)
            wbuf_f32(w, (float)v);
        else
            wbuf_u32(w, (uint32_t)v);
        break;
    default:
        if (t == ROOTW_F64)
            wbuf_f64(w, (double)v);
        else
            wbuf_u64(w, (uint64_t)v);
    }
}

/* A TLeafElement (the leaf of a TBranchElement); *tag receives its reference tag. */
static void put_leaf_element(wbuf *w, const char *name, const char *title, int len, int lentype, int uns, int id,
                             int type, uint32_t keylen, uint32_t *tag)
{
    size_t beg = wbuf_bc_begin(w);
    *tag = (uint32_t)(beg + keylen + 2);
    wbuf_u32(w, 0xFFFFFFFFu);
    wbuf_cstr(w, "TLeafElement");
    size_t bc1 = wbuf_bc_begin(w);
    wbuf_u16(w, 1);
    size_t bc2 = wbuf_bc_begin(w);
    wbuf_u16(w, 2);
    put_tnamed(w, name, title, 0x03000000);
    wbuf_u32(w, (uint32_t)len);     /* fLen */
    wbuf_u32(w, (uint32_t)lentype); /* fLenType */
    wbuf_u32(w, 0);                 /* fOffset */
    wbuf_u8(w, 0);                  /* fIsRange */
    wbuf_u8(w, (uint8_t)uns);       /* fIsUnsigned */
    wbuf_u32(w, 0);                 /* fLeafCount */
    wbuf_bc_end(w, bc2);
    wbuf_u32(w, (uint32_t)id);   /* fID */
    wbuf_u32(w, (uint32_t)type); /* fType */
    wbuf_bc_end(w, bc1);
    wbuf_bc_end(w, beg);
}

static void put_branch(wbuf *w, const rootw_file *f, const rootw_tree *t, rw_branch *b, uint32_t keylen);
static void put_member(wbuf *w, const rootw_file *f, const rootw_tree *t, rw_obj *o, int i, uint32_t keylen);

/* The TBranch (v13) part of a branch: the baskets of b (NULL: none), the members of o
 * as sub-branches (NULL: none), and its one leaf: b's plain leaf, b's TLeafElement
 * (member of an object), or o's TLeafElement. */
static void put_tbranch(wbuf *w, const rootw_file *f, const rootw_tree *t, rw_branch *b, rw_obj *o, uint32_t keylen,
                        const char *name, const char *title, int splitlevel)
{
    size_t bc = wbuf_bc_begin(w);
    wbuf_u16(w, 13);
    put_tnamed(w, name, title, 0x03000000);
    wbuf_put(w, ATT_FILL, sizeof ATT_FILL);
    int64_t entries = t->entries;
    int nb = b ? b->nb : 0;
    wbuf_u32(w, (uint32_t)(f->alg * 100 + f->level)); /* fCompress */
    wbuf_u32(w, (uint32_t)(f->basket_bytes > INT32_MAX ? INT32_MAX : f->basket_bytes)); /* fBasketSize */
    wbuf_u32(w, b && b->counter >= 0 ? DEFAULT_OFFSET_LEN : 0);                        /* fEntryOffsetLen */
    wbuf_u32(w, (uint32_t)nb);                                                          /* fWriteBasket */
    wbuf_u64(w, (uint64_t)entries);                                                     /* fEntryNumber */
    wbuf_put(w, IO_FEATURES, sizeof IO_FEATURES);
    int maxb = nb + 1 > 10 ? nb + 1 : 10;
    wbuf_u32(w, 0);                               /* fOffset */
    wbuf_u32(w, (uint32_t)maxb);                  /* fMaxBaskets */
    wbuf_u32(w, (uint32_t)splitlevel);            /* fSplitLevel */
    wbuf_u64(w, (uint64_t)entries);               /* fEntries */
    wbuf_u64(w, 0);                               /* fFirstEntry */
    wbuf_u64(w, (uint64_t)(b ? b->totbytes : 0)); /* fTotBytes */
    wbuf_u64(w, (uint64_t)(b ? b->zipbytes : 0)); /* fZipBytes */
    size_t sub = put_objarray_begin(w, o ? o->n : 0, 0x03000000); /* fBranches */
    for (int i = 0; o && i < o->n; i++)
        put_member(w, f, t, o, o->first + i, keylen);
    wbuf_bc_end(w, sub);

    size_t lv = put_objarray_begin(w, 1, 0x03000000); /* fLeaves: one leaf */
    if (o) {
        put_leaf_element(w, o->name, o->name, 1, 0, 0, -1, -1, keylen, &o->leaf_tag);
    } else if (b->obj >= 0) {
        int code = elem_code(b->type) + (b->flen > 1 ? 20 : 0);
        put_leaf_element(w, b->name, b->decl, b->flen, b->width, TYPES[b->type].is_unsigned,
                         b - t->br - t->objs[b->obj].first, code, keylen, &b->leaf_tag);
    } else {
        size_t leaf_beg = wbuf_bc_begin(w);
        b->leaf_tag = (uint32_t)(leaf_beg + keylen + 2);
        wbuf_u32(w, 0xFFFFFFFFu);
        wbuf_cstr(w, TYPES[b->type].leafclass);
        size_t bc1 = wbuf_bc_begin(w);
        wbuf_u16(w, 1);
        size_t bc2 = wbuf_bc_begin(w);
        wbuf_u16(w, 2);
        put_tnamed(w, b->name, b->leaf_title, 0x03000000);
        wbuf_u32(w, (uint32_t)b->flen);                                 /* fLen */
        wbuf_u32(w, (uint32_t)b->width);                                /* fLenType */
        wbuf_u32(w, 0);                                                 /* fOffset */
        wbuf_u8(w, (uint8_t)b->is_counter);                             /* fIsRange */
        wbuf_u8(w, (uint8_t)TYPES[b->type].is_unsigned);                /* fIsUnsigned */
        wbuf_u32(w, b->counter >= 0 ? t->br[b->counter].leaf_tag : 0); /* fLeafCount */
        wbuf_bc_end(w, bc2);
        put_leaf_value(w, b->type, 0);                               /* fMinimum */
        put_leaf_value(w, b->type, b->is_counter ? b->maxcount : 0); /* fMaximum */
        wbuf_bc_end(w, bc1);
        wbuf_bc_end(w, leaf_beg);
    }
    wbuf_bc_end(w, lv);

    size_t bk = put_objarray_begin(w, nb + 1, 0x03000000); /* fBaskets: all on disk */
    wbuf_zero(w, 4 * (size_t)(nb + 1));
    wbuf_bc_end(w, bk);
    wbuf_u8(w, 1);
    for (int i = 0; i < maxb; i++)
        wbuf_u32(w, i < nb ? (uint32_t)b->bbytes[i] : 0);
    wbuf_u8(w, 1);
    for (int i = 0; i < maxb; i++)
        wbuf_u64(w, i < nb ? (uint64_t)b->bentry[i] : i == nb ? (uint64_t)entries : 0);
    wbuf_u8(w, 1);
    for (int i = 0; i < maxb; i++)
        wbuf_u64(w, i < nb ? (uint64_t)b->bseek[i] : 0);
    wbuf_rootstr(w, ""); /* fFileName */
    wbuf_bc_end(w, bc);
}

/* The TBranchElement (v10) fields after its TBranch part. */
static void put_element_tail(wbuf *w, const rw_obj *o, int id, int streamertype)
{
    wbuf_rootstr(w, o->classname); /* fClassName */
    wbuf_rootstr(w, "");           /* fParentName */
    wbuf_rootstr(w, "");           /* fClonesName */
    wbuf_u32(w, o->checksum);      /* fCheckSum */
    wbuf_u16(w, 1);                /* fClassVersion */
    wbuf_u32(w, (uint32_t)id);     /* fID */
    wbuf_u32(w, 0);                /* fType: leaf node */
    wbuf_u32(w, (uint32_t)streamertype);
    wbuf_u32(w, 0); /* fMaximum */
    wbuf_u32(w, 0); /* fBranchCount */
    wbuf_u32(w, 0); /* fBranchCount2 */
}

/* Member i (a branch index) of object o: TBranchElement with the member's baskets. */
static void put_member(wbuf *w, const rootw_file *f, const rootw_tree *t, rw_obj *o, int i, uint32_t keylen)
{
    rw_branch *b = &t->br[i];
    size_t outer = wbuf_bc_begin(w);
    wbuf_u32(w, 0xFFFFFFFFu);
    wbuf_cstr(w, "TBranchElement");
    size_t bc = wbuf_bc_begin(w);
    wbuf_u16(w, 10);
    put_tbranch(w, f, t, b, NULL, keylen, b->name, b->decl, 99);
    put_element_tail(w, o, i - o->first, elem_code(b->type) + (b->flen > 1 ? 20 : 0));
    wbuf_bc_end(w, bc);
    wbuf_bc_end(w, outer);
}

/* A split object: TBranchElement of its class (no data of its own), members below. */
static void put_object(wbuf *w, const rootw_file *f, const rootw_tree *t, rw_obj *o, uint32_t keylen)
{
    size_t outer = wbuf_bc_begin(w);
    wbuf_u32(w, 0xFFFFFFFFu);
    wbuf_cstr(w, "TBranchElement");
    size_t bc = wbuf_bc_begin(w);
    wbuf_u16(w, 10);
    put_tbranch(w, f, t, NULL, o, keylen, o->name, o->name, 99);
    put_element_tail(w, o, -1, -1);
    wbuf_bc_end(w, bc);
    wbuf_bc_end(w, outer);
}

static void put_branch(wbuf *w, const rootw_file *f, const rootw_tree *t, rw_branch *b, uint32_t keylen)
{
    size_t outer = wbuf_bc_begin(w);
    wbuf_u32(w, 0xFFFFFFFFu); /* kNewClassTag */
    wbuf_cstr(w, "TBranch");
    put_tbranch(w, f, t, b, NULL, keylen, b->name, b->title, 0);
    wbuf_bc_end(w, outer);
}

static void put_tree(wbuf *w, const rootw_file *f, rootw_tree *t, uint32_t keylen)
{
    int64_t tot = 0, zip = 0;
    for (int i = 0; i < t->nbr; i++) {
        tot += t->br[i].totbytes;
        zip += t->br[i].zipbytes;
    }
    size_t bc = wbuf_bc_begin(w);
    wbuf_u16(w, 20);
    put_tnamed(w, t->name, t->title, 0x03000008);
    wbuf_put(w, ATT_LINE, sizeof ATT_LINE);
    wbuf_put(w, ATT_FILL, sizeof ATT_FILL);
    wbuf_put(w, ATT_MARKER, sizeof ATT_MARKER);
    wbuf_u64(w, (uint64_t)t->entries); /* fEntries */
    wbuf_u64(w, (uint64_t)tot);        /* fTotBytes */
    wbuf_u64(w, (uint64_t)zip);        /* fZipBytes */
    wbuf_u64(w, (uint64_t)tot);        /* fSavedBytes */
    wbuf_u64(w, (uint64_t)zip);        /* fFlushedBytes */
    wbuf_f64(w, 1.0);                  /* fWeight */
    wbuf_u32(w, 0);                    /* fTimerInterval */
    wbuf_u32(w, 25);                   /* fScanField */
    wbuf_u32(w, 0);                    /* fUpdate */
    wbuf_u32(w, DEFAULT_OFFSET_LEN);   /* fDefaultEntryOffsetLen */
    wbuf_u32(w, 0);                    /* fNClusterRange */
    wbuf_u64(w, 1000000000000ull);     /* fMaxEntries */
    wbuf_u64(w, 1000000000000ull);     /* fMaxEntryLoop */
    wbuf_u64(w, 0);                    /* fMaxVirtualSize */
    wbuf_u64(w, (uint64_t)-300000000); /* fAutoSave */
    wbuf_u64(w, (uint64_t)f->cluster); /* fAutoFlush: entries per cluster */
    wbuf_u64(w, 1000000);              /* fEstimate */
    wbuf_u8(w, 0);                     /* fClusterRangeEnd: none */
    wbuf_u8(w, 0);                     /* fClusterSize: none */
    wbuf_put(w, IO_FEATURES, sizeof IO_FEATURES);
    int ntop = t->nbr, nleaves = t->nbr + t->nobj;
    for (int i = 0; i < t->nobj; i++)
        ntop -= t->objs[i].n - 1;
    size_t br = put_objarray_begin(w, ntop, 0x03004000);
    for (int i = 0; i < t->nbr; i++) {
        rw_branch *b = &t->br[i];
        if (b->obj < 0)
            put_branch(w, f, t, b, keylen);
        else if (t->objs[b->obj].first == i)
            put_object(w, f, t, &t->objs[b->obj], keylen);
    }
    wbuf_bc_end(w, br);
    size_t lv = put_objarray_begin(w, nleaves, 0x03000000);
    for (int i = 0; i < t->nbr; i++) {
        rw_branch *b = &t->br[i];
        if (b->obj >= 0 && t->objs[b->obj].first == i)
            wbuf_u32(w, t->objs[b->obj].leaf_tag);
        wbuf_u32(w, b->leaf_tag);
    }
    wbuf_bc_end(w, lv);
    /* fAliases, fIndexValues (n 0), fIndex (n 0), fTreeIndex, fFriends, fUserInfo, fBranchRef */
    wbuf_zero(w, 28);
    wbuf_bc_end(w, bc);
}

static int write_tree(rootw_file *f, rootw_tree *t, mlhep_err *e)
{
    rw_dir *d = &f->dirs[t->dir];
    uint64_t seek = f->pos;
    int big = need_big(f, seek, d->seek);
    uint32_t keylen = key_len(big, "TTree", t->name, t->title);
    wbuf obj = WBUF_INIT;
    put_tree(&obj, f, t, keylen);
    if (!wbuf_ok(&obj)) {
        wbuf_free(&obj);
        return nomem(f, e);
    }
    const uint8_t *stored;
    size_t slen;
    int rc = compress_payload(f, obj.p, obj.len, &stored, &slen, e);
    if (!rc && obj.len + keylen > INT32_MAX)
        rc = err_set(e, MLHEP_EINVAL, "tree '%s': metadata of %zu bytes is too large", t->name, obj.len);
    if (!rc) {
        wbuf *k = &f->k;
        k->len = 0;
        put_key(k, big, keylen + (uint32_t)slen, (uint32_t)obj.len, f->datime, keylen, 1, seek, d->seek, "TTree",
                t->name, t->title);
        wbuf_put(&d->keys, k->p, k->len);
        d->nkeys++;
        if (!wbuf_ok(k) || !wbuf_ok(&d->keys))
            rc = nomem(f, e);
        if (!rc)
            rc = out(f, k->p, k->len, e);
        if (!rc)
            rc = out(f, stored, slen, e);
    }
    wbuf_free(&obj);
    return rc;
}

/* KeysList record of directory i; *seek and *nbytes receive where it went. */
static int write_keys_list(rootw_file *f, int i, uint64_t *seek, uint32_t *nbytes, mlhep_err *e)
{
    rw_dir *d = &f->dirs[i];
    *seek = f->pos;
    int big = need_big(f, *seek, d->seek);
    const char *cls = i == 0 ? "TFile" : "TDirectory";
    const char *name = i == 0 ? f->fname : d->name;
    uint32_t keylen = key_len(big, cls, name, "");
    uint32_t objlen = 4 + (uint32_t)d->keys.len;
    *nbytes = keylen + objlen;
    wbuf *k = &f->k;
    k->len = 0;
    put_key(k, big, *nbytes, objlen, f->datime, keylen, 1, *seek, d->seek, cls, name, "");
    wbuf_u32(k, (uint32_t)d->nkeys);
    wbuf_put(k, d->keys.p, d->keys.len);
    if (!wbuf_ok(k))
        return nomem(f, e);
    return out(f, k->p, k->len, e);
}

/* ---- StreamerInfo for files with split objects ---- */

/* A TStreamerElement subclass object (pointer form, with its class tag): cls version
 * clsver around a TStreamerElement v4; basever >= 0 appends TStreamerBase's fBaseVersion. */
static void si_element(wbuf *w, const char *cls, int clsver, const char *name, const char *title, uint32_t bits,
                       int type, int size, int arrlen, int dim0, const char *tname, int basever)
{
    size_t outer = wbuf_bc_begin(w);
    wbuf_u32(w, 0xFFFFFFFFu);
    wbuf_cstr(w, cls);
    size_t body = wbuf_bc_begin(w);
    wbuf_u16(w, (uint16_t)clsver);
    size_t el = wbuf_bc_begin(w);
    wbuf_u16(w, 4);
    put_tnamed(w, name, title, bits);
    wbuf_u32(w, (uint32_t)type);
    wbuf_u32(w, (uint32_t)size);
    wbuf_u32(w, (uint32_t)arrlen);
    wbuf_u32(w, dim0 > 0 ? 1 : 0); /* fArrayDim */
    wbuf_u32(w, (uint32_t)dim0);   /* fMaxIndex[5] */
    wbuf_zero(w, 16);
    wbuf_rootstr(w, tname);
    wbuf_bc_end(w, el);
    if (basever >= 0)
        wbuf_u32(w, (uint32_t)basever);
    wbuf_bc_end(w, body);
    wbuf_bc_end(w, outer);
}

/* Opens a TStreamerInfo (v9) of class cls with nel elements; returns the positions to
 * close with si_end. */
static void si_begin(wbuf *w, const char *cls, uint32_t checksum, int version, int nel, size_t pos[4])
{
    pos[0] = wbuf_bc_begin(w);
    wbuf_u32(w, 0xFFFFFFFFu);
    wbuf_cstr(w, "TStreamerInfo");
    pos[1] = wbuf_bc_begin(w);
    wbuf_u16(w, 9);
    put_tnamed(w, cls, "", 0x03010000);
    wbuf_u32(w, checksum);
    wbuf_u32(w, (uint32_t)version);
    pos[2] = wbuf_bc_begin(w); /* fElements: a TObjArray through a pointer */
    wbuf_u32(w, 0xFFFFFFFFu);
    wbuf_cstr(w, "TObjArray");
    pos[3] = put_objarray_begin(w, nel, 0x03000000);
}

static void si_end(wbuf *w, const size_t pos[4])
{
    for (int i = 3; i >= 0; i--)
        wbuf_bc_end(w, pos[i]);
    wbuf_u8(w, 0); /* the TList item's option string */
}

/* TBranchElement v10 and TLeafElement v1, as ROOT 6 describes them (checksums ROOT's). */
static int si_ttree_classes(wbuf *w)
{
    size_t p[4];
    si_begin(w, "TBranchElement", 0xe74f5e63u, 10, 12, p);
    si_element(w, "TStreamerBase", 3, "TBranch", "Branch descriptor", 0x03000000, 0, 0, 0, 0, "BASE", 13);
    si_element(w, "TStreamerString", 2, "fClassName", "Class name of referenced object", 0x03000000, 65, 24, 0, 0,
               "TString", -1);
    si_element(w, "TStreamerString", 2, "fParentName", "Name of parent class", 0x03000000, 65, 24, 0, 0, "TString", -1);
    si_element(w, "TStreamerString", 2, "fClonesName", "Name of class in TClonesArray (if any)", 0x03000000, 65, 24, 0,
               0, "TString", -1);
    si_element(w, "TStreamerBasicType", 2, "fCheckSum", "CheckSum of class", 0x03000000, 13, 4, 0, 0, "unsigned int",
               -1);
    si_element(w, "TStreamerBasicType", 2, "fClassVersion", "Version number of class", 0x03000000, 2, 2, 0, 0,
               "short", -1);
    si_element(w, "TStreamerBasicType", 2, "fID", "element serial number in fInfo", 0x03000000, 3, 4, 0, 0, "int", -1);
    si_element(w, "TStreamerBasicType", 2, "fType", "branch type", 0x03000000, 3, 4, 0, 0, "int", -1);
    si_element(w, "TStreamerBasicType", 2, "fStreamerType", "branch streamer type", 0x03000000, 3, 4, 0, 0, "int", -1);
    si_element(w, "TStreamerBasicType", 2, "fMaximum", "Maximum entries for a TClonesArray or variable array",
               0x03000000, 3, 4, 0, 0, "int", -1);
    si_element(w, "TStreamerObjectPointer", 2, "fBranchCount", "pointer to primary branchcount branch", 0x03000000, 64,
               8, 0, 0, "TBranchElement*", -1);
    si_element(w, "TStreamerObjectPointer", 2, "fBranchCount2", "pointer to secondary branchcount branch", 0x03000000,
               64, 8, 0, 0, "TBranchElement*", -1);
    si_end(w, p);
    si_begin(w, "TLeafElement", 0xa04f8893u, 1, 3, p);
    si_element(w, "TStreamerBase", 3, "TLeaf", "Leaf: description of a Branch data type", 0x03000000, 0, 0, 0, 0,
               "BASE", 2);
    si_element(w, "TStreamerBasicType", 2, "fID", "element serial number in fInfo", 0x03000000, 3, 4, 0, 0, "int", -1);
    si_element(w, "TStreamerBasicType", 2, "fType", "leaf type", 0x03000000, 3, 4, 0, 0, "int", -1);
    si_end(w, p);
    return 2;
}

/* The StreamerInfo of object o's class: one element per member; a ranged Double32_t /
 * Float16_t member carries its range as its title with kHasRange set, as ROOT does. */
static void si_object_class(wbuf *w, const rootw_tree *t, const rw_obj *o)
{
    size_t p[4];
    si_begin(w, o->classname, o->checksum, 1, o->n, p);
    for (int i = o->first; i < o->first + o->n; i++) {
        const rw_branch *b = &t->br[i];
        uint32_t bits = 0x03000000;
        if ((b->type == ROOTW_D32 || b->type == ROOTW_F16) && (b->pack.factor > 0 || b->pack.xmin > 0))
            bits |= 0x40; /* kHasRange */
        int arr = b->flen > 1;
        si_element(w, "TStreamerBasicType", 2, b->name, b->comment, bits, elem_code(b->type) + (arr ? 20 : 0),
                   b->width * b->flen, arr ? b->flen : 0, arr ? b->flen : 0, elem_typename(b->type), -1);
    }
    si_end(w, p);
}

/* Files with split objects: ROOT's StreamerInfo (the blob) plus TBranchElement,
 * TLeafElement and the objects' classes, appended to the blob's TList (new class
 * tags only, so the blob's own back-references keep their positions), written as a
 * new record that the header then points to. */
static int write_streamerinfo(rootw_file *f, mlhep_err *e)
{
    wbuf w = WBUF_INIT;
    uint8_t *p = wbuf_reserve(&w, STREAMERINFO_BLOB_OBJLEN);
    int rc = p ? compress_unzip(NULL, streamerinfo_blob, STREAMERINFO_BLOB_LEN, p, STREAMERINFO_BLOB_OBJLEN, e)
               : nomem(f, e);
    if (rc) {
        wbuf_free(&w);
        return rc;
    }
    w.len = STREAMERINFO_BLOB_OBJLEN;
    int added = si_ttree_classes(&w);
    for (int i = 0; i < f->ntrees; i++)
        for (int j = 0; j < f->trees[i]->nobj; j++) {
            const rw_obj *o = &f->trees[i]->objs[j];
            int seen = 0; /* one StreamerInfo per class */
            for (int i2 = 0; i2 <= i && !seen; i2++)
                for (int j2 = 0; j2 < (i2 == i ? j : f->trees[i2]->nobj) && !seen; j2++)
                    seen = !strcmp(f->trees[i2]->objs[j2].classname, o->classname);
            if (!seen) {
                si_object_class(&w, f->trees[i], o);
                added++;
            }
        }
    if (!wbuf_ok(&w) || w.len > INT32_MAX / 2) {
        wbuf_free(&w);
        return nomem(f, e);
    }
    /* the TList: byte count at 0, object count at 17 (bc, version, TObject, name "") */
    be_put32(w.p, 0x40000000u | (uint32_t)(w.len - 4));
    be_put32(w.p + 17, (uint32_t)(STREAMERINFO_BLOB_NCLASSES + 1 + added));
    const uint8_t *stored;
    size_t slen;
    rc = compress_payload(f, w.p, w.len, &stored, &slen, e);
    uint32_t silen = key_len(0, "TList", "StreamerInfo", "Doubly linked list");
    uint64_t seek = f->pos;
    wbuf *k = &f->k;
    k->len = 0;
    if (!rc) {
        put_key(k, need_big(f, seek, 100), silen + (uint32_t)slen, (uint32_t)w.len, f->datime, silen, 1, seek, 100,
                "TList", "StreamerInfo", "Doubly linked list");
        if (!wbuf_ok(k))
            rc = nomem(f, e);
    }
    if (!rc) {
        silen = (uint32_t)k->len;
        rc = out(f, k->p, k->len, e);
    }
    if (!rc)
        rc = out(f, stored, slen, e);
    if (!rc) {
        f->seek_info = seek;
        f->nbytes_info = silen + (uint32_t)slen;
    }
    wbuf_free(&w);
    return rc;
}

static int finish(rootw_file *f, mlhep_err *e)
{
    int rc;
    for (int i = 0; i < f->ntrees; i++)
        for (int j = 0; j < f->trees[i]->nbr; j++)
            if ((rc = flush_basket(f, f->trees[i], &f->trees[i]->br[j], e)))
                return rc;
    for (int i = 0; i < f->ntrees; i++)
        if ((rc = write_tree(f, f->trees[i], e)))
            return err_prefix(e, "tree '%s'", f->trees[i]->name);
    if (f->has_objects && (rc = write_streamerinfo(f, e)))
        return err_prefix(e, "StreamerInfo");
    wbuf *k = &f->k;
    /* subdirectories: key list, then the record in place */
    for (int i = 1; i < f->ndirs; i++) {
        uint64_t sk;
        uint32_t nk;
        if ((rc = write_keys_list(f, i, &sk, &nk, e)))
            return rc;
        rw_dir *d = &f->dirs[i];
        uint8_t uuid[16];
        memcpy(uuid, f->uuid, 16);
        uuid[15] ^= (uint8_t)i;
        uuid[14] ^= (uint8_t)(i >> 8);
        k->len = 0;
        put_dir_record(k, need_big(f, sk, d->seek), f->datime, nk, d->keylen, d->seek, f->dirs[d->parent].seek, sk,
                       uuid);
        if (!wbuf_ok(k))
            return nomem(f, e);
        if ((rc = patch(f, d->seek + d->keylen, k->p, k->len, e)))
            return rc;
    }
    uint64_t seek_keys;
    uint32_t nbytes_keys;
    if ((rc = write_keys_list(f, 0, &seek_keys, &nbytes_keys, e)))
        return rc;
    /* free segments: one TFree from fEND to the end of the address space */
    uint64_t seek_free = f->pos;
    int fbig = need_big(f, seek_free, 0);
    uint32_t fkeylen = key_len(fbig, "TFile", f->fname, "");
    uint64_t end_guess = seek_free + fkeylen + 18;
    int tbig = f->force_big || end_guess > (uint64_t)KSTART_BIG;
    uint32_t fobjlen = tbig ? 18 : 10;
    uint32_t nbytes_free = fkeylen + fobjlen;
    uint64_t fend = seek_free + nbytes_free;
    k->len = 0;
    put_key(k, fbig, nbytes_free, fobjlen, f->datime, fkeylen, 1, seek_free, 100, "TFile", f->fname, "");
    if (tbig) {
        wbuf_u16(k, 1001);
        wbuf_u64(k, fend);
        wbuf_u64(k, fend > (uint64_t)KSTART_BIG * 1000 ? fend * 2 : (uint64_t)KSTART_BIG * 1000);
    } else {
        wbuf_u16(k, 1);
        wbuf_u32(k, (uint32_t)fend);
        wbuf_u32(k, (uint32_t)KSTART_BIG);
    }
    if (!wbuf_ok(k))
        return nomem(f, e);
    if ((rc = out(f, k->p, k->len, e)))
        return rc;

    /* top directory record (key, name, title, TDirectory) */
    k->len = 0;
    put_key(k, 0, f->top_nbytes_name + 60, f->top_nbytes_name - f->top_keylen + 60, f->datime, f->top_keylen, 1, 100,
            0, "TFile", f->fname, "");
    wbuf_rootstr(k, f->fname);
    wbuf_rootstr(k, "");
    put_dir_record(k, need_big(f, seek_keys, 0), f->datime, nbytes_keys, f->top_nbytes_name, 100, 0, seek_keys,
                   f->uuid);
    if (!wbuf_ok(k))
        return nomem(f, e);
    if ((rc = patch(f, 100, k->p, k->len, e)))
        return rc;

    /* header */
    int hbig = f->force_big || fend > (uint64_t)KSTART_BIG;
    uint8_t h[100] = {'r', 'o', 'o', 't'};
    if (hbig) {
        be_put32(h + 4, FILE_VERSION + 1000000);
        be_put32(h + 8, 100);
        be_put64(h + 12, fend);
        be_put64(h + 20, seek_free);
        be_put32(h + 28, nbytes_free);
        be_put32(h + 32, 1);
        be_put32(h + 36, f->top_nbytes_name);
        h[40] = 8;
        be_put32(h + 41, (uint32_t)(f->alg * 100 + f->level));
        be_put64(h + 45, f->seek_info);
        be_put32(h + 53, f->nbytes_info);
        be_put16(h + 57, 1);
        memcpy(h + 59, f->uuid, 16);
    } else {
        be_put32(h + 4, FILE_VERSION);
        be_put32(h + 8, 100);
        be_put32(h + 12, (uint32_t)fend);
        be_put32(h + 16, (uint32_t)seek_free);
        be_put32(h + 20, nbytes_free);
        be_put32(h + 24, 1);
        be_put32(h + 28, f->top_nbytes_name);
        h[32] = 4;
        be_put32(h + 33, (uint32_t)(f->alg * 100 + f->level));
        be_put32(h + 37, (uint32_t)f->seek_info);
        be_put32(h + 41, f->nbytes_info);
        be_put16(h + 45, 1);
        memcpy(h + 47, f->uuid, 16);
    }
    if ((rc = patch(f, 0, h, sizeof h, e)))
        return rc;
    errno = 0;
    if (fflush(f->fp) != 0)
        return fail_io(f, "write", e);
    return 0;
}

int rootw_close(rootw_file *f, mlhep_err *e)
{
    if (!f)
        return 0;
    int rc = f->failed ? err_set(e, MLHEP_EIO, "%s: not finished, an earlier write failed", f->path) : finish(f, e);
    if (f->fp) {
        errno = 0;
        if (fclose(f->fp) != 0 && !rc)
            rc = fail_io(f, "close", e);
        f->fp = NULL;
    }
    rootw_abort(f);
    return rc;
}
