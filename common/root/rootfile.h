/* rootfile.h - a ROOT file's container layer: header, keys, directories, records.
 *
 * Sits on a byte source (source.h) and the block decompressor (compress.h); the
 * TTree layer (ttree.h) sits on it. It opens a file, parses the header (small or big
 * layout), walks directories (subdirectories, highest cycle per name) and reads a
 * record's payload, decompressed. See ../shared/docs/root-format.md sections 2-4.
 *
 * Ownership: rootfile_open() returns a rootfile the caller frees with
 * rootfile_close(); payload buffers from rootfile_read_payload() are malloc'd and
 * freed by the caller. A rootfile may be shared by threads for reading payloads. */
#ifndef MLHEP_ROOTFILE_H
#define MLHEP_ROOTFILE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "root/source.h"
#include "root/srcaccess.h"

/* Largest record payload we agree to allocate (a corrupt fObjLen must not OOM us). */
#define ROOTFILE_MAX_OBJLEN ((size_t)1 << 31)

typedef struct rootkey {
    int32_t nbytes;   /* record size on disk (key + payload) */
    int16_t version;  /* > 1000: 64-bit seeks */
    int32_t objlen;   /* uncompressed payload size */
    uint32_t datime;
    int16_t keylen;   /* bytes before the payload */
    int16_t cycle;
    uint64_t seekkey; /* offset of this record */
    uint64_t seekpdir;
    char classname[128];
    char name[256];
    char title[256];
    int corrupt;      /* keys list entry whose sizes are corrupt (rootfile_dir_keys): not to be read */
} rootkey;

typedef struct rootfile {
    source *src;
    int version;        /* ROOT version that wrote it, e.g. 61400 */
    int big;            /* header uses 64-bit layout */
    uint64_t begin, end, seekfree, seekinfo;
    uint32_t nbytesinfo, nbytesname;
    int compress;       /* fCompress: 100*algorithm + level (writer's intent only) */
    uint64_t top_seekkeys; /* keys list of the top directory */
    uint32_t top_nbyteskeys;
    uint64_t top_seekdir;
} rootfile;

/* One entry of a tree listing. */
typedef struct rootfile_tree {
    char path[1024]; /* "dir/sub/name" */
    rootkey key;
} rootfile_tree;

/* Opens path or URL (via source_open, source_open.h) and parses the header and top directory.
 * Messages are prefixed "file NAME: ". */
int rootfile_open(const char *path, rootfile **out, mlhep_err *e);
/* Same with a read's own access (source_open_with: a job's delegated credential); NULL
 * is rootfile_open. */
int rootfile_open_with(const char *path, const srcaccess *acc, rootfile **out, mlhep_err *e);
/* Same on an already opened source; the rootfile takes ownership of src. */
int rootfile_open_source(source *src, rootfile **out, mlhep_err *e);
void rootfile_close(rootfile *f);

/* Parses a key header from a buffer (cursor-based); returns its parsed length via keylen. */
int rootkey_parse(const uint8_t *buf, size_t len, rootkey *k, mlhep_err *e);

/* Reads the key header of the record at seek. */
int rootfile_read_key(rootfile *f, uint64_t seek, rootkey *k, mlhep_err *e);

/* Reads and decompresses a record's payload: *buf (malloc'd) of k->objlen bytes. */
int rootfile_read_payload(rootfile *f, const rootkey *k, uint8_t **buf, mlhep_err *e);

/* Lists the keys of a directory whose keys list is at (seekkeys, nbyteskeys);
 * *keys is malloc'd (caller frees). A key whose sizes are corrupt is listed with
 * `corrupt` set (the others stay usable); only a truncated list fails. */
int rootfile_dir_keys(rootfile *f, uint64_t seekkeys, uint32_t nbyteskeys, rootkey **keys, size_t *n, mlhep_err *e);

/* Every TTree in the file, recursively through subdirectories, highest cycle per
 * name, in file order. *trees is malloc'd (caller frees). */
int rootfile_list_trees(rootfile *f, rootfile_tree **trees, size_t *n, mlhep_err *e);

/* Finds the tree at path ("Events", "dir/tree", optionally ";cycle"). When there is
 * none, the message lists the trees, and the RNTuples if the file holds some. */
int rootfile_find_tree(rootfile *f, const char *path, rootkey *k, mlhep_err *e);

/* The paths of the RNTuples in the file (ROOT's newer columnar format, which mlhep
 * does not read), ", "-separated into out (truncated to n); returns how many. */
int rootfile_rntuples(rootfile *f, char *out, size_t n, mlhep_err *e);

#endif
