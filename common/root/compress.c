/* compress.c - ROOT compressed blocks: zlib, LZ4 (+XXH64 check), ZSTD, LZMA (see compress.h). */
#include "root/compress.h"

#include <lz4.h>
#include <lz4hc.h>
#include <lzma.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include <zlib.h>
#include <zstd.h>

#include "base/numarg.h"

struct compress_ctx {
    z_stream zs;
    int zs_ready;
    ZSTD_DCtx *zd;
    ZSTD_CCtx *zc;
};

compress_ctx *compress_ctx_new(void)
{
    return calloc(1, sizeof(compress_ctx));
}

void compress_ctx_free(compress_ctx *c)
{
    if (!c)
        return;
    if (c->zs_ready)
        inflateEnd(&c->zs);
    ZSTD_freeDCtx(c->zd);
    ZSTD_freeCCtx(c->zc);
    free(c);
}

const char *compress_alg_name(int alg)
{
    switch (alg) {
    case COMPRESS_NONE: return "none";
    case COMPRESS_ZLIB: return "zlib";
    case COMPRESS_LZMA: return "lzma";
    case COMPRESS_OLD: return "old";
    case COMPRESS_LZ4: return "lz4";
    case COMPRESS_ZSTD: return "zstd";
    default: return "unknown";
    }
}

int compress_block_alg(const uint8_t *s, size_t n)
{
    if (n < COMPRESS_BLOCK_HEADER)
        return -1;
    if (s[0] == 'Z' && s[1] == 'L') return COMPRESS_ZLIB;
    if (s[0] == 'X' && s[1] == 'Z') return COMPRESS_LZMA;
    if (s[0] == 'L' && s[1] == '4') return COMPRESS_LZ4;
    if (s[0] == 'Z' && s[1] == 'S') return COMPRESS_ZSTD;
    if (s[0] == 'C' && s[1] == 'S') return COMPRESS_OLD;
    return -1;
}

static int unzip_zlib(compress_ctx *c, const uint8_t *src, size_t n, uint8_t *dst, size_t u, mlhep_err *e)
{
    z_stream local, *zs;
    if (c) {
        zs = &c->zs;
        if (!c->zs_ready) {
            memset(zs, 0, sizeof *zs);
            if (inflateInit(zs) != Z_OK)
                return err_set(e, MLHEP_ENOMEM, "zlib: cannot initialise");
            c->zs_ready = 1;
        } else if (inflateReset(zs) != Z_OK) {
            return err_set(e, MLHEP_ENOMEM, "zlib: cannot reset");
        }
    } else {
        zs = &local;
        memset(zs, 0, sizeof *zs);
        if (inflateInit(zs) != Z_OK)
            return err_set(e, MLHEP_ENOMEM, "zlib: cannot initialise");
    }
    zs->next_in = (Bytef *)src;
    zs->avail_in = (uInt)n;
    zs->next_out = dst;
    zs->avail_out = (uInt)u;
    int rc = inflate(zs, Z_FINISH);
    size_t produced = u - zs->avail_out;
    if (!c)
        inflateEnd(zs);
    if (rc != Z_STREAM_END || produced != u)
        return err_set(e, MLHEP_EFORMAT, "zlib block is corrupt (%s, %zu of %zu bytes)",
                       rc == Z_STREAM_END ? "short output" : (zs->msg ? zs->msg : "inflate failed"), produced, u);
    return 0;
}

static int unzip_lzma(const uint8_t *src, size_t n, uint8_t *dst, size_t u, mlhep_err *e)
{
    uint64_t memlimit = UINT64_MAX;
    size_t in_pos = 0, out_pos = 0;
    lzma_ret rc = lzma_stream_buffer_decode(&memlimit, 0, NULL, src, &in_pos, n, dst, &out_pos, u);
    if (rc != LZMA_OK || out_pos != u)
        return err_set(e, MLHEP_EFORMAT, "lzma block is corrupt (liblzma code %d, %zu of %zu bytes)", (int)rc,
                       out_pos, u);
    return 0;
}

static int unzip_lz4(const uint8_t *src, size_t n, uint8_t *dst, size_t u, mlhep_err *e)
{
    if (n < 8)
        return err_set(e, MLHEP_EFORMAT, "lz4 block too short for its checksum");
    uint64_t want = ((uint64_t)src[0] << 56) | ((uint64_t)src[1] << 48) | ((uint64_t)src[2] << 40) |
                    ((uint64_t)src[3] << 32) | ((uint64_t)src[4] << 24) | ((uint64_t)src[5] << 16) |
                    ((uint64_t)src[6] << 8) | (uint64_t)src[7];
    if (XXH64(src + 8, n - 8, 0) != want)
        return err_set(e, MLHEP_EFORMAT, "lz4 block checksum mismatch (corrupt data)");
    int r = LZ4_decompress_safe((const char *)src + 8, (char *)dst, (int)(n - 8), (int)u);
    if (r < 0 || (size_t)r != u)
        return err_set(e, MLHEP_EFORMAT, "lz4 block is corrupt");
    return 0;
}

static int unzip_zstd(compress_ctx *c, const uint8_t *src, size_t n, uint8_t *dst, size_t u, mlhep_err *e)
{
    size_t r;
    if (c) {
        if (!c->zd && !(c->zd = ZSTD_createDCtx()))
            return err_set(e, MLHEP_ENOMEM, "zstd: cannot create context");
        r = ZSTD_decompressDCtx(c->zd, dst, u, src, n);
    } else {
        r = ZSTD_decompress(dst, u, src, n);
    }
    if (ZSTD_isError(r) || r != u)
        return err_set(e, MLHEP_EFORMAT, "zstd block is corrupt (%s)",
                       ZSTD_isError(r) ? ZSTD_getErrorName(r) : "short output");
    return 0;
}

int compress_unzip(compress_ctx *c, const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstlen, mlhep_err *e)
{
    size_t in = 0, out = 0;
    int nblock = 0;
    while (out < dstlen) {
        if (srclen - in < COMPRESS_BLOCK_HEADER)
            return err_set(e, MLHEP_EFORMAT, "compressed data ends after %zu of %zu bytes (block %d header missing)",
                           out, dstlen, nblock);
        const uint8_t *h = src + in;
        size_t cs = (size_t)h[3] | ((size_t)h[4] << 8) | ((size_t)h[5] << 16);
        size_t us = (size_t)h[6] | ((size_t)h[7] << 8) | ((size_t)h[8] << 16);
        int alg = compress_block_alg(h, srclen - in);
        in += COMPRESS_BLOCK_HEADER;
        if (cs > srclen - in)
            return err_set(e, MLHEP_EFORMAT, "compressed block %d claims %zu bytes, only %zu remain", nblock, cs,
                           srclen - in);
        if (us > dstlen - out || us == 0)
            return err_set(e, MLHEP_EFORMAT, "compressed block %d claims %zu output bytes, expected at most %zu", nblock,
                           us, dstlen - out);
        int rc;
        switch (alg) {
        case COMPRESS_ZLIB: rc = unzip_zlib(c, src + in, cs, dst + out, us, e); break;
        case COMPRESS_LZMA: rc = unzip_lzma(src + in, cs, dst + out, us, e); break;
        case COMPRESS_LZ4: rc = unzip_lz4(src + in, cs, dst + out, us, e); break;
        case COMPRESS_ZSTD: rc = unzip_zstd(c, src + in, cs, dst + out, us, e); break;
        case COMPRESS_OLD:
            return err_set(e, MLHEP_EUNSUPPORTED, "ROOT's pre-2005 \"CS\" compression is not supported");
        default:
            return err_set(e, MLHEP_EFORMAT, "unknown compression block magic 0x%02x%02x", h[0], h[1]);
        }
        if (rc)
            return rc;
        in += cs;
        out += us;
        nblock++;
    }
    return 0;
}

int compress_check(const uint8_t *src, size_t srclen, size_t dstlen, mlhep_err *e)
{
    size_t in = 0, out = 0;
    while (in < srclen && out < dstlen) {
        if (srclen - in < COMPRESS_BLOCK_HEADER)
            break;
        const uint8_t *h = src + in;
        size_t cs = (size_t)h[3] | ((size_t)h[4] << 8) | ((size_t)h[5] << 16);
        size_t us = (size_t)h[6] | ((size_t)h[7] << 8) | ((size_t)h[8] << 16);
        if (compress_block_alg(h, srclen - in) < 0)
            return err_set(e, MLHEP_EFORMAT, "unknown compression block magic 0x%02x%02x", h[0], h[1]);
        in += COMPRESS_BLOCK_HEADER + cs;
        out += us;
    }
    if (out != dstlen || in > srclen)
        return err_set(e, MLHEP_EFORMAT, "compressed blocks hold %zu bytes, the record says %zu", out, dstlen);
    return 0;
}

int compress_parse(const char *spec, int *alg, int *level, mlhep_err *e)
{
    static const struct { const char *name; int alg, level; } t[] = {
        {"none", COMPRESS_NONE, 0}, {"zlib", COMPRESS_ZLIB, 1}, {"lzma", COMPRESS_LZMA, 4},
        {"lz4", COMPRESS_LZ4, 4},   {"zstd", COMPRESS_ZSTD, 5},
    };
    const char *colon = strchr(spec, ':');
    size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (strlen(t[i].name) == n && strncmp(spec, t[i].name, n) == 0) {
            *alg = t[i].alg;
            *level = t[i].level;
            if (colon && numarg_int("level", colon + 1, 0, 9, level, e))
                return err_prefix(e, "compression '%s'", spec);
            if (*level == 0)
                *alg = COMPRESS_NONE;
            return 0;
        }
    }
    return err_set(e, MLHEP_EINVAL, "compression '%s': expected none, zlib, lz4, zstd or lzma, optionally with :LEVEL",
                   spec);
}

size_t compress_bound(size_t n)
{
    size_t nblocks = n / COMPRESS_BLOCK_MAX + 1;
    size_t b = compressBound((uLong)n);
    size_t b2 = (size_t)LZ4_compressBound((int)(n < 0x7E000000 ? n : 0x7E000000)) + 8;
    size_t b3 = ZSTD_compressBound(n);
    size_t b4 = lzma_stream_buffer_bound(n);
    if (b2 > b) b = b2;
    if (b3 > b) b = b3;
    if (b4 > b) b = b4;
    return b + nblocks * (COMPRESS_BLOCK_HEADER + 64);
}

int compress_zip(compress_ctx *c, int alg, int level, const uint8_t *src, size_t n, uint8_t *dst, size_t cap,
                 size_t *outlen, mlhep_err *e)
{
    *outlen = 0;
    if (alg == COMPRESS_NONE || level <= 0 || n == 0)
        return 0;
    size_t in = 0, out = 0;
    while (in < n) {
        size_t u = n - in < COMPRESS_BLOCK_MAX ? n - in : COMPRESS_BLOCK_MAX;
        if (cap - out < COMPRESS_BLOCK_HEADER + 16)
            return 0;
        uint8_t *h = dst + out;
        uint8_t *p = h + COMPRESS_BLOCK_HEADER;
        size_t room = cap - out - COMPRESS_BLOCK_HEADER, cs = 0;
        switch (alg) {
        case COMPRESS_ZLIB: {
            uLongf dl = (uLongf)room;
            if (compress2(p, &dl, src + in, (uLong)u, level) != Z_OK)
                return 0; /* did not fit: store raw */
            cs = dl;
            h[0] = 'Z'; h[1] = 'L'; h[2] = Z_DEFLATED;
            break;
        }
        case COMPRESS_LZ4: {
            if (room < 9)
                return 0;
            int r = level >= 4 ? LZ4_compress_HC((const char *)src + in, (char *)p + 8, (int)u, (int)(room - 8), level)
                               : LZ4_compress_default((const char *)src + in, (char *)p + 8, (int)u, (int)(room - 8));
            if (r <= 0)
                return 0;
            uint64_t x = XXH64(p + 8, (size_t)r, 0);
            for (int i = 0; i < 8; i++)
                p[i] = (uint8_t)(x >> (56 - 8 * i));
            cs = (size_t)r + 8;
            h[0] = 'L'; h[1] = '4'; h[2] = LZ4_VERSION_MAJOR;
            break;
        }
        case COMPRESS_ZSTD: {
            if (c && !c->zc && !(c->zc = ZSTD_createCCtx()))
                return err_set(e, MLHEP_ENOMEM, "zstd: cannot create context");
            size_t r = c ? ZSTD_compressCCtx(c->zc, p, room, src + in, u, 2 * level)
                         : ZSTD_compress(p, room, src + in, u, 2 * level);
            if (ZSTD_isError(r))
                return 0;
            cs = r;
            h[0] = 'Z'; h[1] = 'S'; h[2] = ZSTD_VERSION_MAJOR;
            break;
        }
        case COMPRESS_LZMA: {
            /* the streaming encoder, as ROOT uses: its block headers carry no sizes,
             * which other readers (JSROOT) require */
            lzma_stream ls = LZMA_STREAM_INIT;
            if (lzma_easy_encoder(&ls, (uint32_t)level, LZMA_CHECK_CRC32) != LZMA_OK)
                return err_set(e, MLHEP_ENOMEM, "lzma: cannot initialise the encoder");
            ls.next_in = src + in;
            ls.avail_in = u;
            ls.next_out = p;
            ls.avail_out = room;
            lzma_ret lr = lzma_code(&ls, LZMA_FINISH);
            cs = room - ls.avail_out;
            lzma_end(&ls);
            if (lr != LZMA_STREAM_END)
                return 0;
            h[0] = 'X'; h[1] = 'Z'; h[2] = 0;
            break;
        }
        default:
            return err_set(e, MLHEP_EINVAL, "cannot compress with algorithm %d", alg);
        }
        if (cs > COMPRESS_BLOCK_MAX)
            return 0;
        h[3] = (uint8_t)cs; h[4] = (uint8_t)(cs >> 8); h[5] = (uint8_t)(cs >> 16);
        h[6] = (uint8_t)u; h[7] = (uint8_t)(u >> 8); h[8] = (uint8_t)(u >> 16);
        out += COMPRESS_BLOCK_HEADER + cs;
        in += u;
        if (out >= n)
            return 0; /* not smaller: store raw */
    }
    *outlen = out;
    return 0;
}
