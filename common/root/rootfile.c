/* rootfile.c - ROOT file header, keys, directories and record payloads (see rootfile.h). */
#include "root/rootfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "root/compress.h"
#include "base/cursor.h"
#include "base/suggest.h"
#include "root/source_open.h"

#define MAX_DIR_DEPTH 32
#define MAX_KEYS 10000000

/* The sizes of a parsed key header make sense (parsed = bytes its fields took). */
static int rootkey_check(const rootkey *k, size_t parsed, mlhep_err *e)
{
    if (k->keylen < (int)parsed && strcmp(k->classname, "TBasket") != 0)
        return err_set(e, MLHEP_EFORMAT, "key '%s' is corrupt: key length %d shorter than its header (%zu)", k->name,
                       k->keylen, parsed);
    if (k->nbytes < k->keylen || k->objlen < 0 || k->keylen <= 0)
        return err_set(e, MLHEP_EFORMAT, "key '%s' is corrupt: sizes nbytes=%d keylen=%d objlen=%d", k->name,
                       k->nbytes, k->keylen, k->objlen);
    return 0;
}

/* Parses the fields of a key header; *parsed = their length. Fails only when truncated. */
static int rootkey_fields(const uint8_t *buf, size_t len, rootkey *k, size_t *parsed, mlhep_err *e)
{
    cursor c;
    cur_init(&c, buf, len);
    memset(k, 0, sizeof *k);
    k->nbytes = cur_i32(&c);
    k->version = cur_i16(&c);
    k->objlen = cur_i32(&c);
    k->datime = cur_u32(&c);
    k->keylen = cur_i16(&c);
    k->cycle = cur_i16(&c);
    if (k->version > 1000) {
        k->seekkey = cur_u64(&c);
        k->seekpdir = cur_u64(&c);
    } else {
        k->seekkey = cur_u32(&c);
        k->seekpdir = cur_u32(&c);
    }
    cur_rootstr_copy(&c, k->classname, sizeof k->classname);
    cur_rootstr_copy(&c, k->name, sizeof k->name);
    cur_rootstr_copy(&c, k->title, sizeof k->title);
    if (!cur_ok(&c))
        return err_set(e, MLHEP_EFORMAT, "key header is truncated");
    *parsed = c.pos;
    return 0;
}

int rootkey_parse(const uint8_t *buf, size_t len, rootkey *k, mlhep_err *e)
{
    size_t parsed;
    int rc = rootkey_fields(buf, len, k, &parsed, e);
    return rc ? rc : rootkey_check(k, parsed, e);
}

int rootfile_read_key(rootfile *f, uint64_t seek, rootkey *k, mlhep_err *e)
{
    uint8_t buf[1024];
    if (seek >= f->src->size)
        return err_set(e, MLHEP_EFORMAT, "record offset %llu is beyond the end of the file (%llu bytes)",
                       (unsigned long long)seek, (unsigned long long)f->src->size);
    size_t n = f->src->size - seek < sizeof buf ? (size_t)(f->src->size - seek) : sizeof buf;
    int rc = source_read(f->src, seek, n, buf, e);
    if (rc)
        return rc;
    rc = rootkey_parse(buf, n, k, e);
    if (rc)
        return rc;
    if (k->seekkey != seek && k->seekkey != 0)
        return err_set(e, MLHEP_EFORMAT, "record at offset %llu is corrupt: its key says offset %llu",
                       (unsigned long long)seek, (unsigned long long)k->seekkey);
    k->seekkey = seek;
    return 0;
}

int rootfile_read_payload(rootfile *f, const rootkey *k, uint8_t **out, mlhep_err *e)
{
    *out = NULL;
    size_t zlen = (size_t)(k->nbytes - k->keylen), olen = (size_t)k->objlen;
    if (olen > ROOTFILE_MAX_OBJLEN)
        return err_set(e, MLHEP_EFORMAT, "record '%s' claims %zu bytes: corrupt", k->name, olen);
    if (k->nbytes < k->keylen || k->seekkey > f->src->size || (uint64_t)k->nbytes > f->src->size - k->seekkey)
        return err_set(e, MLHEP_EFORMAT, "record '%s' at offset %llu (%d bytes) runs past the end of the file (%llu bytes)",
                       k->name, (unsigned long long)k->seekkey, (int)k->nbytes, (unsigned long long)f->src->size);
    if (zlen != olen && olen > zlen * 2000 + (1u << 20)) {
        /* no ROOT codec expands that much: refuse before allocating */
        uint8_t head[COMPRESS_BLOCK_HEADER * 64];
        size_t hn = zlen < sizeof head ? zlen : sizeof head;
        int rc0 = source_read(f->src, k->seekkey + (uint64_t)k->keylen, hn, head, e);
        if (rc0 || (hn == zlen && compress_check(head, hn, olen, e)))
            return err_prefix(e, "record '%s' at offset %llu", k->name, (unsigned long long)k->seekkey);
    }
    uint8_t *obj = malloc(olen ? olen : 1);
    if (!obj)
        return err_set(e, MLHEP_ENOMEM, "out of memory for record '%s' (%zu bytes)", k->name, olen);
    int rc;
    if (zlen == olen) {
        rc = source_read(f->src, k->seekkey + (uint64_t)k->keylen, olen, obj, e);
    } else {
        uint8_t *z = malloc(zlen ? zlen : 1);
        if (!z) {
            free(obj);
            return err_set(e, MLHEP_ENOMEM, "out of memory");
        }
        rc = source_read(f->src, k->seekkey + (uint64_t)k->keylen, zlen, z, e);
        if (!rc)
            rc = compress_check(z, zlen, olen, e);
        if (!rc)
            rc = compress_unzip(NULL, z, zlen, obj, olen, e);
        free(z);
    }
    if (rc) {
        free(obj);
        return err_prefix(e, "record '%s' (%s) at offset %llu", k->name, k->classname,
                          (unsigned long long)k->seekkey);
    }
    *out = obj;
    return 0;
}

/* TDirectory record: returns seekkeys/nbyteskeys/seekdir. */
static int parse_directory(const uint8_t *buf, size_t len, uint64_t *seekdir, uint64_t *seekkeys, uint32_t *nbyteskeys,
                           mlhep_err *e)
{
    cursor c;
    cur_init(&c, buf, len);
    int16_t v = cur_i16(&c);
    cur_skip(&c, 8); /* datimes */
    *nbyteskeys = cur_u32(&c);
    cur_skip(&c, 4); /* nbytesname */
    if (v > 1000) {
        *seekdir = cur_u64(&c);
        cur_skip(&c, 8);
        *seekkeys = cur_u64(&c);
    } else {
        *seekdir = cur_u32(&c);
        cur_skip(&c, 4);
        *seekkeys = cur_u32(&c);
    }
    if (!cur_ok(&c))
        return err_set(e, MLHEP_EFORMAT, "directory record is truncated");
    return 0;
}

static int open_impl(rootfile *f, mlhep_err *e)
{
    uint8_t h[512];
    size_t n = f->src->size < sizeof h ? (size_t)f->src->size : sizeof h;
    if (n < 64)
        return err_set(e, MLHEP_EFORMAT, "not a ROOT file (only %zu bytes)", n);
    int rc = source_read(f->src, 0, n, h, e);
    if (rc)
        return rc;
    if (memcmp(h, "root", 4) != 0)
        return err_set(e, MLHEP_EFORMAT, "not a ROOT file (no 'root' magic at the start)");
    cursor c;
    cur_init(&c, h, n);
    cur_skip(&c, 4);
    int32_t ver = cur_i32(&c);
    f->big = ver >= 1000000;
    f->version = ver % 1000000;
    f->begin = cur_u32(&c);
    if (f->big) {
        f->end = cur_u64(&c);
        f->seekfree = cur_u64(&c);
    } else {
        f->end = cur_u32(&c);
        f->seekfree = cur_u32(&c);
    }
    cur_skip(&c, 4 + 4); /* nbytesfree, nfree */
    f->nbytesname = cur_u32(&c);
    cur_skip(&c, 1); /* units */
    f->compress = cur_i32(&c);
    f->seekinfo = f->big ? cur_u64(&c) : cur_u32(&c);
    f->nbytesinfo = cur_u32(&c);
    if (!cur_ok(&c))
        return err_set(e, MLHEP_EFORMAT, "file header is truncated");
    if (f->begin < 64 || f->begin >= f->src->size)
        return err_set(e, MLHEP_EFORMAT, "file header is corrupt (fBEGIN=%llu)", (unsigned long long)f->begin);
    if (f->end > f->src->size)
        return err_set(e, MLHEP_EFORMAT,
                       "file is truncated: header says %llu bytes, file has %llu (incomplete copy or crashed writer)",
                       (unsigned long long)f->end, (unsigned long long)f->src->size);
    /* top directory record at fBEGIN + fNbytesName */
    uint64_t dpos = f->begin + f->nbytesname;
    uint8_t d[80];
    if (dpos >= f->src->size || f->src->size - dpos < 42)
        return err_set(e, MLHEP_EFORMAT, "top directory record is missing (offset %llu)", (unsigned long long)dpos);
    size_t dn = f->src->size - dpos < sizeof d ? (size_t)(f->src->size - dpos) : sizeof d;
    rc = source_read(f->src, dpos, dn, d, e);
    if (rc)
        return rc;
    rc = parse_directory(d, dn, &f->top_seekdir, &f->top_seekkeys, &f->top_nbyteskeys, e);
    if (rc)
        return err_prefix(e, "top directory");
    if (f->top_seekkeys < f->begin || f->top_seekkeys >= f->src->size)
        return err_set(e, MLHEP_EFORMAT, "top directory has no valid keys list (offset %llu): file not closed properly",
                       (unsigned long long)f->top_seekkeys);
    return 0;
}

int rootfile_open_source(source *src, rootfile **out, mlhep_err *e)
{
    *out = NULL;
    rootfile *f = calloc(1, sizeof *f);
    if (!f) {
        source_close(src);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    f->src = src;
    int rc = open_impl(f, e);
    if (rc) {
        err_prefix(e, "file %s", src->name);
        rootfile_close(f);
        return rc;
    }
    *out = f;
    return 0;
}

int rootfile_open(const char *path, rootfile **out, mlhep_err *e)
{
    return rootfile_open_with(path, NULL, out, e);
}

int rootfile_open_with(const char *path, const srcaccess *acc, rootfile **out, mlhep_err *e)
{
    source *s;
    *out = NULL;
    int rc = source_open_with(path, acc, &s, e);
    if (rc)
        return err_prefix(e, "file %s", path);
    return rootfile_open_source(s, out, e);
}

void rootfile_close(rootfile *f)
{
    if (!f)
        return;
    source_close(f->src);
    free(f);
}

int rootfile_dir_keys(rootfile *f, uint64_t seekkeys, uint32_t nbyteskeys, rootkey **keys, size_t *nk, mlhep_err *e)
{
    *keys = NULL;
    *nk = 0;
    if (nbyteskeys < 30 || seekkeys >= f->src->size || nbyteskeys > f->src->size - seekkeys)
        return err_set(e, MLHEP_EFORMAT, "directory keys list at %llu (%u bytes) is outside the file",
                       (unsigned long long)seekkeys, nbyteskeys);
    uint8_t *buf = malloc(nbyteskeys);
    if (!buf)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    int rc = source_read(f->src, seekkeys, nbyteskeys, buf, e);
    if (rc) {
        free(buf);
        return rc;
    }
    rootkey head;
    rc = rootkey_parse(buf, nbyteskeys, &head, e);
    if (rc) {
        free(buf);
        return err_prefix(e, "directory keys list");
    }
    cursor c;
    cur_init(&c, buf, nbyteskeys);
    cur_seek(&c, (size_t)head.keylen);
    int32_t n = cur_i32(&c);
    if (!cur_ok(&c) || n < 0 || n > MAX_KEYS || (size_t)n > nbyteskeys / 26) {
        free(buf);
        return err_set(e, MLHEP_EFORMAT, "directory keys list is corrupt (%d keys)", n);
    }
    rootkey *ks = calloc((size_t)n + 1, sizeof *ks);
    if (!ks) {
        free(buf);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    for (int32_t i = 0; i < n; i++) {
        /* fields are read one after the other, as ROOT's TKey::ReadKeyBuffer does: a key
         * whose sizes are corrupt is marked (and refused only when used), the next key
         * still starts right after its fields */
        size_t parsed;
        rc = rootkey_fields(buf + c.pos, cur_left(&c), &ks[i], &parsed, e);
        if (rc) {
            free(buf);
            free(ks);
            return err_prefix(e, "directory key %d", i);
        }
        mlhep_err ke;
        ks[i].corrupt = rootkey_check(&ks[i], parsed, &ke) != 0;
        cur_skip(&c, parsed);
        if (!cur_ok(&c)) {
            free(buf);
            free(ks);
            return err_set(e, MLHEP_EFORMAT, "directory keys list is truncated at key %d", i);
        }
    }
    free(buf);
    *keys = ks;
    *nk = (size_t)n;
    return 0;
}

static int is_dir_class(const char *cls)
{
    return strcmp(cls, "TDirectory") == 0 || strcmp(cls, "TDirectoryFile") == 0;
}

/* Keeps only the highest cycle per (name, class-kind) among keys. */
static int key_is_shadowed(const rootkey *ks, size_t n, size_t i)
{
    for (size_t j = 0; j < n; j++)
        if (j != i && strcmp(ks[j].name, ks[i].name) == 0 && strcmp(ks[j].classname, ks[i].classname) == 0 &&
            (abs(ks[j].cycle) > abs(ks[i].cycle) || (ks[j].cycle == ks[i].cycle && j < i)))
            return 1;
    return 0;
}

typedef struct tree_list {
    rootfile_tree *v;
    size_t n, cap;
    char *rnt;       /* RNTuple paths, ", "-separated (NULL: not collected) */
    size_t rntsz;
    int nrnt;
} tree_list;

static int is_tree_class(const char *cls)
{
    return strcmp(cls, "TTree") == 0 || strcmp(cls, "TNtuple") == 0 || strcmp(cls, "TNtupleD") == 0;
}

/* ROOT::RNTuple (ROOT >= 6.34) or ROOT::Experimental::RNTuple (earlier anchors) */
static int is_rntuple_class(const char *cls)
{
    return strncmp(cls, "ROOT::", 6) == 0 && strstr(cls, "RNTuple") != NULL;
}

static int walk(rootfile *f, uint64_t seekkeys, uint32_t nbyteskeys, const char *prefix, int depth, tree_list *out,
                mlhep_err *e)
{
    if (depth > MAX_DIR_DEPTH)
        return err_set(e, MLHEP_EFORMAT, "directories nested deeper than %d (corrupt or cyclic)", MAX_DIR_DEPTH);
    rootkey *ks;
    size_t n;
    int rc = rootfile_dir_keys(f, seekkeys, nbyteskeys, &ks, &n, e);
    if (rc)
        return rc;
    for (size_t i = 0; i < n && !rc; i++) {
        if (key_is_shadowed(ks, n, i))
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "/" : "", ks[i].name);
        if (ks[i].corrupt) {
            /* a corrupt key of another object does not hide the trees beside it; one
             * that claims to be a tree or a directory cannot be passed over silently */
            if (is_tree_class(ks[i].classname) || is_dir_class(ks[i].classname))
                rc = err_set(e, MLHEP_EFORMAT, "key '%s' (%s) is corrupt: sizes nbytes=%d keylen=%d objlen=%d", path,
                             ks[i].classname, ks[i].nbytes, ks[i].keylen, ks[i].objlen);
            continue;
        }
        if (out->rnt && is_rntuple_class(ks[i].classname)) {
            size_t l = strlen(out->rnt);
            snprintf(out->rnt + l, out->rntsz - l, "%s'%s'", out->nrnt ? ", " : "", path);
            out->nrnt++;
        }
        if (is_tree_class(ks[i].classname)) {
            if (out->n == out->cap) {
                size_t cap = out->cap ? out->cap * 2 : 8;
                rootfile_tree *v = realloc(out->v, cap * sizeof *v);
                if (!v) {
                    rc = err_set(e, MLHEP_ENOMEM, "out of memory");
                    break;
                }
                out->v = v;
                out->cap = cap;
            }
            rootfile_tree *t = &out->v[out->n++];
            snprintf(t->path, sizeof t->path, "%s", path);
            t->key = ks[i];
        } else if (is_dir_class(ks[i].classname)) {
            uint8_t d[80];
            uint64_t pos = ks[i].seekkey + (uint64_t)ks[i].keylen;
            if (pos >= f->src->size) {
                rc = err_set(e, MLHEP_EFORMAT, "directory '%s' record is outside the file", path);
                break;
            }
            size_t dn = f->src->size - pos < sizeof d ? (size_t)(f->src->size - pos) : sizeof d;
            uint64_t sd, sk;
            uint32_t nk;
            rc = source_read(f->src, pos, dn, d, e);
            if (!rc)
                rc = parse_directory(d, dn, &sd, &sk, &nk, e);
            if (!rc && sk != 0)
                rc = walk(f, sk, nk, path, depth + 1, out, e);
            if (rc)
                err_prefix(e, "directory '%s'", path);
        }
    }
    free(ks);
    return rc;
}

int rootfile_rntuples(rootfile *f, char *out, size_t n, mlhep_err *e)
{
    char buf[512] = "";
    tree_list l = {.rnt = buf, .rntsz = sizeof buf};
    int rc = walk(f, f->top_seekkeys, f->top_nbyteskeys, "", 0, &l, e);
    free(l.v);
    if (n)
        snprintf(out, n, "%s", buf);
    return rc ? rc : l.nrnt;
}

int rootfile_list_trees(rootfile *f, rootfile_tree **trees, size_t *n, mlhep_err *e)
{
    tree_list l = {0};
    int rc = walk(f, f->top_seekkeys, f->top_nbyteskeys, "", 0, &l, e);
    if (rc) {
        free(l.v);
        *trees = NULL;
        *n = 0;
        return rc;
    }
    *trees = l.v;
    *n = l.n;
    return 0;
}

int rootfile_find_tree(rootfile *f, const char *path, rootkey *k, mlhep_err *e)
{
    char want[1024];
    snprintf(want, sizeof want, "%s", path);
    int cycle = -1;
    char *semi = strchr(want, ';');
    if (semi) {
        cycle = atoi(semi + 1);
        *semi = '\0';
    }
    while (want[0] == '/')
        memmove(want, want + 1, strlen(want));
    if (cycle >= 0) {
        /* explicit cycle: walk keys by hand */
        char *slash = strrchr(want, '/');
        uint64_t sk = f->top_seekkeys;
        uint32_t nk = f->top_nbyteskeys;
        if (slash)
            return err_set(e, MLHEP_EUNSUPPORTED, "explicit cycles are only supported for top-level trees");
        rootkey *ks;
        size_t n;
        int rc = rootfile_dir_keys(f, sk, nk, &ks, &n, e);
        if (rc)
            return rc;
        for (size_t i = 0; i < n; i++)
            if (strcmp(ks[i].name, want) == 0 && ks[i].cycle == cycle && strcmp(ks[i].classname, "TTree") == 0) {
                *k = ks[i];
                free(ks);
                if (k->corrupt)
                    return err_set(e, MLHEP_EFORMAT, "key '%s' (TTree) is corrupt: sizes nbytes=%d keylen=%d objlen=%d",
                                   path, k->nbytes, k->keylen, k->objlen);
                return 0;
            }
        free(ks);
        return err_set(e, MLHEP_ENOTFOUND, "tree '%s' not found", path);
    }
    rootfile_tree *ts;
    size_t n;
    int rc = rootfile_list_trees(f, &ts, &n, e);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (strcmp(ts[i].path, want) == 0) {
            *k = ts[i].key;
            free(ts);
            return 0;
        }
    char avail[512] = "", hint[300] = "";
    for (size_t i = 0; i < n && strlen(avail) < 400; i++) {
        strncat(avail, i ? ", " : "", sizeof avail - strlen(avail) - 1);
        strncat(avail, ts[i].path, sizeof avail - strlen(avail) - 1);
    }
    const char **names = n ? malloc(n * sizeof *names) : NULL;
    if (names) { /* a typo: the closest tree's path (base/suggest.h) */
        for (size_t i = 0; i < n; i++)
            names[i] = ts[i].path;
        const char *near = suggest_closest(want, names, n);
        if (near)
            snprintf(hint, sizeof hint, "; did you mean '%.250s'?", near);
        free(names);
    }
    free(ts);
    char rnt[400];
    mlhep_err ignore;
    if (rootfile_rntuples(f, rnt, sizeof rnt, &ignore) > 0)
        return err_set(e, MLHEP_ENOTFOUND,
                       "tree '%s' not found (trees: %s); the file holds RNTuple %s, ROOT's newer columnar format, "
                       "which mlhep does not read (only TTrees)", path, n ? avail : "none", rnt);
    return err_set(e, MLHEP_ENOTFOUND, "tree '%s' not found (trees: %s)%s", path, n ? avail : "none", hint);
}
