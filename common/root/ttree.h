/* ttree.h - TTree metadata: branches, leaves, types and basket tables.
 *
 * Built on rootfile.h: ttree_open() reads a TTree record, decodes the TTree /
 * TBranch / TBranchElement / TLeaf* objects ROOT 5.2x-6.3x write (class versions
 * TTree 16-20, TBranch 10-13, TBranchElement 8-10, TLeaf 2) with ROOT's object
 * reference rules, and turns them into a flat list of tbranch records: each says what
 * a reader needs to decode its baskets (kind, dtype, encoding on disk, values per
 * entry, jagged header and counter branch, basket table including baskets embedded
 * in the TTree record). Strings, objects and nested containers are listed with kind
 * TK_SKIPPED and a reason. Decoding values is basket.h's job.
 *
 * Ownership: ttree_open() returns a ttree owning all its memory (one arena); free
 * it with ttree_free(). tbranch pointers stay valid until then. */
#ifndef MLHEP_TTREE_H
#define MLHEP_TTREE_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/err.h"
#include "root/packfloat.h"
#include "root/rootfile.h"

typedef enum dtype {
    DT_NONE = 0,
    DT_BOOL,
    DT_I8,
    DT_I16,
    DT_I32,
    DT_I64,
    DT_U8,
    DT_U16,
    DT_U32,
    DT_U64,
    DT_F32,
    DT_F64,
} dtype;

const char *dtype_name(dtype t); /* "bool", "int8", ..., "float32", "float64" */
size_t dtype_size(dtype t);
int dtype_is_float(dtype t);
int dtype_is_signed(dtype t);

/* Value i of an array of type t, as double (not for hot loops: one switch per value). */
static inline double dtype_value(dtype t, const void *v, size_t i)
{
    switch (t) {
    case DT_BOOL:
    case DT_U8: return ((const uint8_t *)v)[i];
    case DT_I8: return ((const int8_t *)v)[i];
    case DT_I16: return ((const int16_t *)v)[i];
    case DT_U16: return ((const uint16_t *)v)[i];
    case DT_I32: return ((const int32_t *)v)[i];
    case DT_U32: return ((const uint32_t *)v)[i];
    case DT_I64: return (double)((const int64_t *)v)[i];
    case DT_U64: return (double)((const uint64_t *)v)[i];
    case DT_F32: return ((const float *)v)[i];
    case DT_F64: return ((const double *)v)[i];
    default: return 0;
    }
}

typedef enum tkind {
    TK_FLAT,    /* one value per entry */
    TK_FIXED,   /* fixed_len values per entry (x[3], x[3][4]) */
    TK_JAGGED,  /* variable number of values per entry */
    TK_GROUP,   /* only sub-branches, no data of its own */
    TK_SKIPPED, /* strings, objects, nested containers: not plain numeric */
} tkind;

const char *tkind_name(tkind k); /* "flat", "fixed_array", "jagged", "group", "skipped" */

/* How values are stored on disk when that differs from dtype (big-endian dtype). */
typedef enum tenc {
    ENC_PLAIN = 0,  /* big-endian values of dtype */
    ENC_D32_FLOAT,  /* Double32 without range: stored as float32, read as float64 */
    ENC_SCALED,     /* Double32/Float16 [min,max(,nbits)]: u32 raw, raw * pack.step + pack.xmin */
    ENC_TRUNC,      /* Double32 [0,0,n<15] / Float16 without range: u8 exponent + u16 mantissa of pack.nbits */
} tenc;

typedef struct tbasket {
    int64_t first;           /* first entry */
    int64_t n;               /* number of entries */
    uint64_t seek;           /* record offset; 0 for a basket embedded in the TTree record */
    uint32_t nbytes;         /* record size on disk */
    /* embedded baskets only: data region and entry starts (n+1, relative to data) */
    const uint8_t *emb_data;
    size_t emb_len;
    const int32_t *emb_starts;
} tbasket;

typedef struct tbranch tbranch;
struct tbranch {
    const char *name;      /* full name, sub-branches joined with '/' */
    const char *title;
    const char *classname; /* TBranch, TBranchElement, ... */
    const char *leafclass; /* TLeafF, TLeafElement, ... ("" if none) */
    const char *type_name; /* readable type: "float", "int32[3]", "float[]", "vector<float>" */
    const char *cxx_type;  /* C++ type of a skipped member when type_name does not give it, or NULL */
    tkind kind;
    const char *skip_reason;
    dtype dt;              /* type of the decoded values */
    tenc enc;
    packfloat pack;        /* Double32_t/Float16_t (enc != ENC_PLAIN): how ROOT packed them,
                              from the leaf title or the StreamerInfo element title */
    int disk_width;        /* bytes per value on disk */
    int64_t fixed_len;     /* values per entry: 1 flat, product of dims for fixed arrays */
    int ndim;
    int dims[4];
    int header_bytes;      /* jagged: bytes before each entry's values (0, 1 or 10) */
    tbranch *counter;      /* jagged through a counter leaf: the counter's branch */
    /* leaf lists: this column is one leaf of a multi-leaf branch sharing its baskets */
    int leaflist;          /* 1 if entry_size/leaf_offset apply */
    int entry_size;        /* bytes per entry of the whole leaf-list branch */
    int leaf_offset;       /* byte offset of this leaf inside an entry */
    int64_t entries;
    int32_t entry_offset_len;
    int compress;          /* fCompress of the branch */
    int64_t tot_bytes, zip_bytes;
    tbasket *baskets;
    int nbaskets;
    int n_embedded;
    int depth;             /* 0 for top-level branches */
    tbranch *parent;
};

typedef struct ttree {
    arena mem;
    const char *path;      /* as found, e.g. "one/two/tree" */
    const char *name, *title;
    int version;           /* TTree class version */
    int64_t entries;
    int64_t autoflush;
    int n_cluster_ranges;
    int64_t *cluster_range_end, *cluster_size;
    int iobits;
    rootkey key;
    tbranch **branches;    /* every branch, depth-first in file order */
    int nbranches;
} ttree;

/* Reads tree `path` of f. Messages name the tree. */
int ttree_open(rootfile *f, const char *path, ttree **out, mlhep_err *e);
/* Same from a known key (e.g. from rootfile_list_trees). */
int ttree_open_key(rootfile *f, const rootkey *k, const char *path, ttree **out, mlhep_err *e);
void ttree_free(ttree *t);

/* The C++ type of a branch for messages (e.g. why a skipped branch cannot be read):
 * cxx_type, else type_name, else the leaf or branch class. Never NULL. */
const char *tbranch_cxx_type(const tbranch *b);

/* Branch by full name; NULL if none. */
tbranch *ttree_branch(const ttree *t, const char *name);

/* For a name that matched no branch: the closest branch name by base/suggest.h's rule
 * (a typo's "did you mean"), pointing into t; NULL when none is close. */
const char *ttree_branch_closest(const ttree *t, const char *name);

/* Basket index containing entry (binary search), or -1. */
int tbranch_find_basket(const tbranch *b, int64_t entry);

#endif
