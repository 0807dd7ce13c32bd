/* wbuf.h - a growable output byte buffer with big-endian writers and ROOT helpers.
 *
 * The project's one growable output buffer: the ROOT writer (rootwrite.c) serialises
 * keys, TTree objects and baskets into wbufs before they go to the file, the ONNX
 * export writes protocol buffers into them and the SVG plots their text. Errors are sticky: an allocation failure sets w->err,
 * later writes are ignored, and the caller checks wbuf_ok() once at the end (the same
 * pattern as the reading cursor in cursor.h). Positions are byte offsets from w->p.
 *
 * Ownership: the wbuf owns w->p; wbuf_free() releases it (the struct itself is the
 * caller's, usually on the stack or inside another struct). */
#ifndef MLHEP_WBUF_H
#define MLHEP_WBUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct wbuf {
    uint8_t *p;
    size_t len, cap;
    int err; /* sticky: allocation failed */
} wbuf;

#define WBUF_INIT {NULL, 0, 0, 0}

static inline int wbuf_ok(const wbuf *w) { return !w->err; }
void wbuf_free(wbuf *w);
static inline void wbuf_reset(wbuf *w) { w->len = 0; }
/* Makes room for `more` bytes after len; returns a pointer to them or NULL (sets err).
 * len is not changed. */
uint8_t *wbuf_reserve(wbuf *w, size_t more);
/* Appends n bytes (reserve + copy + advance). */
void wbuf_put(wbuf *w, const void *src, size_t n);
void wbuf_zero(wbuf *w, size_t n);
void wbuf_u8(wbuf *w, uint8_t v);
void wbuf_u16(wbuf *w, uint16_t v);
void wbuf_u32(wbuf *w, uint32_t v);
void wbuf_u64(wbuf *w, uint64_t v);
void wbuf_f32(wbuf *w, float v);
void wbuf_f64(wbuf *w, double v);
/* printf-style text; a NUL is kept after it (not counted in len), so after a run of
 * wbuf_printf calls w->p is a C string. */
void wbuf_printf(wbuf *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends a C string (without its NUL; a NUL is kept after it as with wbuf_printf). */
void wbuf_str(wbuf *w, const char *s);
/* ROOT string: u8 length (255 => u8 255 then u32 length), then the bytes. */
void wbuf_rootstr(wbuf *w, const char *s);
/* Size on disk of wbuf_rootstr(s). */
size_t wbuf_rootstr_len(const char *s);
/* NUL-terminated C string (class names after kNewClassTag). */
void wbuf_cstr(wbuf *w, const char *s);
/* Byte count: wbuf_bc_begin reserves the 4-byte count and returns its position;
 * wbuf_bc_end patches it to (bytes written since) | 0x40000000 (kByteCountMask). */
size_t wbuf_bc_begin(wbuf *w);
void wbuf_bc_end(wbuf *w, size_t pos);
void wbuf_patch32(wbuf *w, size_t pos, uint32_t v);
/* Little-endian writers (mlhep's own formats: model files, checkpoints, GBDT sections,
 * ONNX tensors, infer/colreq). */
void wbuf_le16(wbuf *w, uint16_t v);
void wbuf_le32(wbuf *w, uint32_t v);
void wbuf_le64(wbuf *w, uint64_t v);
void wbuf_lef32(wbuf *w, float v);
void wbuf_lef64(wbuf *w, double v);

/* Little-endian stores at a place already reserved (headers filled in once their sizes
 * are known); the appenders above use them. Byte order for our own formats is written
 * here and nowhere else. */
/* On a little-endian host a store is a plain copy (one instruction, and loops over
 * arrays vectorise); elsewhere the bytes are written one by one. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define WBUF_HOST_LE 1
#else
#define WBUF_HOST_LE 0
#endif
static inline void wbuf_store_le16(uint8_t *p, uint16_t v)
{
#if WBUF_HOST_LE
    memcpy(p, &v, 2);
#else
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
#endif
}
static inline void wbuf_store_le32(uint8_t *p, uint32_t v)
{
#if WBUF_HOST_LE
    memcpy(p, &v, 4);
#else
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
#endif
}
static inline void wbuf_store_le64(uint8_t *p, uint64_t v)
{
#if WBUF_HOST_LE
    memcpy(p, &v, 8);
#else
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
#endif
}
static inline void wbuf_store_lef32(uint8_t *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    wbuf_store_le32(p, u);
}
static inline void wbuf_store_lef64(uint8_t *p, double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    wbuf_store_le64(p, u);
}
static inline void wbuf_store_lef32_array(uint8_t *p, const float *f, size_t n)
{
#if WBUF_HOST_LE
    if (n)
        memcpy(p, f, 4 * n);
#else
    for (size_t i = 0; i < n; i++)
        wbuf_store_lef32(p + 4 * i, f[i]);
#endif
}

#endif
