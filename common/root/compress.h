/* compress.h - ROOT's compressed-block format, both directions.
 *
 * A compressed ROOT payload is a sequence of blocks, each a 9-byte header
 *   [0..1] algorithm magic "ZL" (zlib), "XZ" (lzma), "L4" (lz4), "ZS" (zstd), "CS" (old)
 *   [2]    method byte
 *   [3..5] compressed size c of this block, little-endian 24-bit (without the header)
 *   [6..8] uncompressed size u of this block, little-endian 24-bit
 * followed by c bytes of the algorithm's stream (for L4: 8-byte big-endian XXH64 of the
 * LZ4 block, then a raw LZ4 block). Each block holds at most 0xFFFFFF output bytes.
 * See ../shared/docs/root-format.md section 4. The caller decides "compressed or
 * not" (fObjLen == fNbytes - fKeyLen means stored raw) before calling compress_unzip.
 *
 * A compress_ctx keeps decoder state (z_stream, ZSTD_DCtx) between calls so decoding
 * many baskets costs no set-up each; one ctx per thread. NULL ctx is allowed. */
#ifndef MLHEP_COMPRESS_H
#define MLHEP_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

enum compress_alg {
    COMPRESS_NONE = 0,
    COMPRESS_ZLIB = 1,
    COMPRESS_LZMA = 2,
    COMPRESS_OLD = 3,
    COMPRESS_LZ4 = 4,
    COMPRESS_ZSTD = 5,
};

#define COMPRESS_BLOCK_HEADER 9
#define COMPRESS_BLOCK_MAX 0xFFFFFF

typedef struct compress_ctx compress_ctx;

compress_ctx *compress_ctx_new(void); /* NULL on out of memory; free with compress_ctx_free */
void compress_ctx_free(compress_ctx *c);

/* Decompresses the blocks in src[0..srclen) into exactly dstlen bytes of dst. */
int compress_unzip(compress_ctx *c, const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen, mlhep_err *e);

/* Checks, without decompressing, that the block headers in src add up to exactly
 * dstlen output bytes (so a corrupt size is refused before anything is allocated). */
int compress_check(const uint8_t *src, size_t srclen, size_t dstlen, mlhep_err *e);

/* Algorithm of the first block of a compressed payload (COMPRESS_*), or -1. */
int compress_block_alg(const uint8_t *src, size_t srclen);

/* Name of an algorithm ("zlib", "lz4", ...). */
const char *compress_alg_name(int alg);

/* Parses "zlib:4", "lz4", "zstd:5", "lzma:2", "none" into alg/level. 0 or MLHEP_EINVAL. */
int compress_parse(const char *spec, int *alg, int *level, mlhep_err *e);

/* Upper bound of compress_zip's output for srclen input bytes. */
size_t compress_bound(size_t srclen);

/* Compresses src into ROOT blocks in dst (capacity dstcap >= compress_bound(srclen)).
 * Sets *outlen. If the result is not smaller than srclen, sets *outlen = 0: the caller
 * stores the bytes uncompressed, as ROOT does. level 1..9 (ROOT levels). */
int compress_zip(compress_ctx *c, int alg, int level, const uint8_t *src, size_t srclen, uint8_t *dst,
                 size_t dstcap, size_t *outlen, mlhep_err *e);

#endif
