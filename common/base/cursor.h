/* cursor.h - bounds-checked big-endian reading of bytes in memory, with a sticky error
 * (plus little-endian readers for mlhep's own formats: model files, checkpoints, columnar
 * requests).
 *
 * Every decoder of outside bytes (ROOT headers, keys, streamed objects, baskets) reads
 * through a cursor: reads past the end return zero and set c->err, and every later
 * read keeps returning zero, so a decoder reads a whole structure and checks
 * cur_ok() once at the end. ROOT serialises big-endian: byte order is handled here
 * (scalars) and in cur_swap_array (bulk column data) and nowhere else. */
#ifndef MLHEP_CURSOR_H
#define MLHEP_CURSOR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct cursor {
    const uint8_t *base; /* start of the buffer */
    size_t len;          /* bytes in the buffer */
    size_t pos;          /* next byte to read */
    int err;             /* sticky: set by any out-of-range read or cur_fail() */
} cursor;

static inline void cur_init(cursor *c, const void *buf, size_t len)
{
    c->base = (const uint8_t *)buf;
    c->len = len;
    c->pos = 0;
    c->err = 0;
}

static inline int cur_ok(const cursor *c) { return !c->err; }
static inline void cur_fail(cursor *c) { c->err = 1; }
static inline size_t cur_left(const cursor *c) { return c->err || c->pos > c->len ? 0 : c->len - c->pos; }

/* Pointer to the next n bytes and advance, or NULL (and error) if fewer remain. */
static inline const uint8_t *cur_take(cursor *c, size_t n)
{
    if (c->err || n > c->len - c->pos) {
        c->err = 1;
        return NULL;
    }
    const uint8_t *p = c->base + c->pos;
    c->pos += n;
    return p;
}

static inline void cur_skip(cursor *c, size_t n) { (void)cur_take(c, n); }

/* Moves to absolute position pos (pos == len allowed). */
static inline void cur_seek(cursor *c, size_t pos)
{
    if (c->err || pos > c->len)
        c->err = 1;
    else
        c->pos = pos;
}

static inline uint8_t cur_u8(cursor *c)
{
    const uint8_t *p = cur_take(c, 1);
    return p ? p[0] : 0;
}

static inline uint16_t cur_u16(cursor *c)
{
    const uint8_t *p = cur_take(c, 2);
    return p ? (uint16_t)((p[0] << 8) | p[1]) : 0;
}

static inline uint32_t cur_u32(cursor *c)
{
    const uint8_t *p = cur_take(c, 4);
    return p ? ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3] : 0;
}

static inline uint64_t cur_u64(cursor *c)
{
    uint64_t hi = cur_u32(c);
    uint64_t lo = cur_u32(c);
    return (hi << 32) | lo;
}

static inline int16_t cur_i16(cursor *c) { return (int16_t)cur_u16(c); }
static inline int32_t cur_i32(cursor *c) { return (int32_t)cur_u32(c); }
static inline int64_t cur_i64(cursor *c) { return (int64_t)cur_u64(c); }

static inline float cur_f32(cursor *c)
{
    uint32_t u = cur_u32(c);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline double cur_f64(cursor *c)
{
    uint64_t u = cur_u64(c);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* Little-endian readers, for our own formats (model files, checkpoints, colreq.h); ROOT
 * bytes are big-endian. */
static inline uint16_t cur_le16(cursor *c)
{
    const uint8_t *p = cur_take(c, 2);
    return p ? (uint16_t)(p[0] | (p[1] << 8)) : 0;
}

static inline uint32_t cur_le32(cursor *c)
{
    const uint8_t *p = cur_take(c, 4);
    return p ? (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24) : 0;
}

static inline uint64_t cur_le64(cursor *c)
{
    uint64_t lo = cur_le32(c);
    uint64_t hi = cur_le32(c);
    return (hi << 32) | lo;
}

static inline float cur_lef32(cursor *c)
{
    uint32_t u = cur_le32(c);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline double cur_lef64(cursor *c)
{
    uint64_t u = cur_le64(c);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* n little-endian float32 values into out (zeros, and the error set, if fewer remain). */
static inline void cur_lef32_array(cursor *c, float *out, size_t n)
{
    const uint8_t *p = n <= cur_left(c) / 4 ? cur_take(c, n * 4) : (cur_fail(c), NULL);
    for (size_t i = 0; i < n; i++) {
        uint32_t u = 0;
        if (p)
            u = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
                (uint32_t)p[4 * i + 3] << 24;
        memcpy(&out[i], &u, 4);
    }
}

/* A ROOT string: u8 n (255 => u32 n follows), then n bytes, no terminator.
 * Returns a pointer into the buffer and sets *n, or NULL on error. */
static inline const char *cur_rootstr(cursor *c, size_t *n)
{
    size_t len = cur_u8(c);
    if (len == 255)
        len = cur_u32(c);
    const uint8_t *p = cur_take(c, len);
    *n = p ? len : 0;
    return (const char *)p;
}

/* Copies a ROOT string into out (NUL-terminated, truncated to outsz-1). */
static inline void cur_rootstr_copy(cursor *c, char *out, size_t outsz)
{
    size_t n;
    const char *s = cur_rootstr(c, &n);
    if (n >= outsz)
        n = outsz - 1;
    if (s && n)
        memcpy(out, s, n);
    out[s ? n : 0] = '\0';
}

/* Big-endian to host order, count elements of width 1, 2, 4 or 8 bytes.
 * dst may be src (in place) or lie before it (a forward move: every element is read
 * before anything after it is written), never after it. */
void cur_swap_array(void *dst, const void *src, size_t count, int width);

/* Bulk conversion of an array of starts (ROOT's entry-offset array of a jagged basket)
 * into a column's offsets: arr holds n big-endian int32 values, each bias more than a
 * start s[i] in a region of end bytes; s[n] = end. Writes o[i] = base + ((s[i + 1] -
 * s[0]) >> wsh) for i < n and *first = s[0]. Returns 0 when every start lies in
 * [0, end], starts never decrease and every difference is a multiple of 1 << wsh
 * (wsh 0..3); -1 otherwise (o partly written). simd 1: eight at a time with AVX2 where
 * the CPU has it (32-bit lanes, when end + bias fits an int32); 0: the scalar loop
 * alone (tests compare the two). arr must hold 4 n readable bytes (cur_take). */
int cur_be32_offsets(const uint8_t *arr, size_t n, int32_t bias, int32_t end, int wsh, int64_t base, int64_t *o,
                     int32_t *first, int simd);

/* Big-endian writers for producers of ROOT bytes (the writer and the tests). */
static inline void be_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void be_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline void be_put64(uint8_t *p, uint64_t v) { be_put32(p, (uint32_t)(v >> 32)); be_put32(p + 4, (uint32_t)v); }

#endif
