/* rootwrite.h - writing ROOT files with TTrees of numeric columns, streamed chunk by chunk.
 *
 * Writes what ROOT, uproot and JSROOT read as ordinary flat ntuples (the shape of CMS
 * NanoAOD): one TBranch with one leaf per column, scalars of every numeric type, fixed
 * arrays (`x[3]/F`, `m[2][3]/D`) and jagged arrays in ROOT's leaf-list convention
 * (`Jet_pt[nJet]/F`, where `nJet/I` is an earlier integer branch of the same tree).
 * Trees may live in subdirectories ("dir/sub/Events"). Layout and byte recipes follow
 * ../shared/docs/root-format.md sections 2-8 and 11; rootwrite.c documents each record.
 *
 * Streaming: declare branches, then rootw_append() columns for any number of entries
 * at a time. Every branch keeps one basket in memory; baskets are compressed and written
 * when the tree reaches a cluster boundary (every `cluster_entries` entries, recorded as
 * the TTree's fAutoFlush, so all branches share these basket boundaries) or earlier when
 * a branch's basket would exceed `basket_bytes`. Memory is bounded by the baskets being
 * filled plus the per-basket seek/size arrays. rootw_close() writes the TTree records,
 * directory key lists, free-segment list and the header. Files larger than 2 GB use
 * ROOT's 64-bit layout where needed (header, keys, directory records); `force_big`
 * selects it everywhere it is allowed for testing on small files.
 *
 * Output is deterministic: the UUID is derived from `seed`, the timestamps are `datime`.
 *
 * Ownership: rootw_open() allocates the file; rootw_close() or rootw_abort() frees it
 * and every tree in it (trees are owned by their file, never freed separately). */
#ifndef MLHEP_ROOTWRITE_H
#define MLHEP_ROOTWRITE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef enum rootw_type {
    ROOTW_BOOL, /* 'O', 1 byte 0/1 (any non-zero input byte is written as 1) */
    ROOTW_I8,   /* 'B' */
    ROOTW_U8,   /* 'b' */
    ROOTW_I16,  /* 'S' */
    ROOTW_U16,  /* 's' */
    ROOTW_I32,  /* 'I' */
    ROOTW_U32,  /* 'i' */
    ROOTW_I64,  /* 'L' */
    ROOTW_U64,  /* 'l' */
    ROOTW_F32,  /* 'F' */
    ROOTW_F64,  /* 'D' */
    ROOTW_D32,  /* 'd': Double32_t, given as double, packed as the range says (TLeafD32) */
    ROOTW_F16,  /* 'f': Float16_t, given as float, packed as the range says (TLeafF16) */
    ROOTW_NTYPES
} rootw_type;

typedef struct rootw_opts {
    const char *compression; /* "zlib:1" (NULL = this), "lz4:4", "zstd:5", "lzma:4", "none" */
    int64_t cluster_entries; /* entries per cluster = fAutoFlush; <= 0 means 10000 */
    size_t basket_bytes;     /* flush a branch's basket early past this many bytes; 0 = 4 MiB */
    uint64_t seed;           /* the file UUID is derived from it */
    uint32_t datime;         /* TDatime stamped in keys/directories; 0 = 2024-01-01 00:00:00 */
    int force_big;           /* 64-bit header, keys, directory and free records even if small */
} rootw_opts;

/* One column handed to rootw_append: values in host byte order, of the branch's type.
 * Scalar branch: n values; fixed array of length L: n*L values; jagged branch: as many
 * values as the sum of its counter branch's n values (counter in the same call). */
typedef struct rootw_col {
    rootw_type type; /* must equal the branch's type (checked) */
    const void *data;
} rootw_col;

typedef struct rootw_file rootw_file;
typedef struct rootw_tree rootw_tree;

/* Creates (truncates) path and writes the header, top directory and StreamerInfo. */
int rootw_open(const char *path, const rootw_opts *opts, rootw_file **out, mlhep_err *e);

/* Declares a tree at path "name" or "dir/sub/name" (directories are created as needed).
 * title may be NULL. The tree is owned by f. Two trees with the same path are refused. */
int rootw_tree_new(rootw_file *f, const char *path, const char *title, rootw_tree **out, mlhep_err *e);

/* Declares a branch from a ROOT leaf-list spec of one leaf: "name/T", "name[3]/T",
 * "name[2][3]/T" or "name[counter]/T", T one of O B b S s I i L l F D d f. A counter must
 * be an earlier scalar integer branch of the same tree. Only before the first append.
 * d (Double32_t) and f (Float16_t) may carry ROOT's range: "x/d[0,10,12]",
 * "x[3]/f[-pi,pi]", "x/d[0,0,10]" (packfloat.h); the leaf title is then ROOT 6's
 * "x[3]/d[0,10,12]", and values are packed exactly as ROOT packs them.
 * Returns the branch index (0, 1, ... in declaration order; the order of rootw_append's
 * columns) or a negative MLHEP_E* code. */
int rootw_branch(rootw_tree *t, const char *spec, mlhep_err *e);

/* Declares a split object: a branch `name` of class `classname` (version 1) whose
 * members[0..n) are one-leaf specs as rootw_branch takes them (scalars and fixed arrays
 * of any type; d and f with ROOT's range, e.g. "fPhi/d[-pi,pi,16]"). ROOT writes such
 * a branch as a TBranchElement with one sub-branch per member (TBranchElement +
 * TLeafElement) and describes the class in the StreamerInfo, where a member's range
 * is its title: readers must take Double32_t/Float16_t ranges from there. Members are
 * branches too (names must differ from the tree's other branches): returns the index
 * of the first, the others follow (rootw_append takes one column per member). */
int rootw_object(rootw_tree *t, const char *name, const char *classname, const char *const *members, int n,
                 mlhep_err *e);

/* Appends n entries; cols[i] is branch i's column (one per declared branch). Counts are
 * validated (0 <= count, fits the counter type) before anything is written. */
int rootw_append(rootw_tree *t, int64_t n, const rootw_col *cols, mlhep_err *e);

/* Flushes, writes the trees and the file's closing records, closes and frees f (also on
 * error; then the file on disk is incomplete). */
int rootw_close(rootw_file *f, mlhep_err *e);

/* Frees f without finishing the file (NULL allowed). */
void rootw_abort(rootw_file *f);

int64_t rootw_tree_entries(const rootw_tree *t);
int rootw_tree_nbranches(const rootw_tree *t);
uint64_t rootw_file_bytes(const rootw_file *f); /* bytes written so far */
int rootw_type_size(rootw_type t);              /* bytes per value given, 0 if invalid */
const char *rootw_type_name(rootw_type t);      /* "float", "uint32", ... */
char rootw_type_letter(rootw_type t);           /* ROOT leaf-list letter, 0 if invalid */

#endif
