/* packfloat.h - ROOT's packed floats: Double32_t and Float16_t, as ROOT packs them.
 *
 * One place for the rule, shared by the reader (ttree.c decides how a branch's values
 * are stored, basket.c decodes them) and the writer (rootwrite.c packs them). ROOT
 * takes the range and bit count of a Double32_t/Float16_t from a title: the leaf title
 * of a TLeafD32/TLeafF16 ("x[3]/d[0,10,12]"), or the title (the member comment) of the
 * class's StreamerInfo element for a member of a split class ("[-pi,pi,30] ..."). The
 * forms are "[xmin,xmax]", "[xmin,xmax,nbits]" (bounds may be pi, -pi, 2pi, pi/2, pi/4)
 * and "[0,0,nbits]" (TStreamerElement::GetRange). TBufferFile then stores a value as:
 *   - with a range: u32 round((x - xmin) * factor), factor = steps / (xmax - xmin),
 *     steps = 2^nbits (2^32 - 1 for 32 bits); read back as raw / factor + xmin;
 *   - Double32_t without range or bit count: a float32;
 *   - otherwise (Double32_t [0,0,nbits<15], Float16_t without range: 12 bits): an
 *     exponent byte and a u16 holding nbits of mantissa and a sign bit. */
#ifndef MLHEP_PACKFLOAT_H
#define MLHEP_PACKFLOAT_H

#include <stddef.h>
#include <stdint.h>

typedef enum packfloat_kind {
    PF_FLOAT32 = 1, /* Double32_t stored as float32 (4 bytes) */
    PF_SCALED,      /* u32 raw in [xmin, xmax] (4 bytes) */
    PF_TRUNC,       /* u8 exponent + u16 mantissa of nbits and sign (3 bytes) */
} packfloat_kind;

typedef struct packfloat {
    packfloat_kind kind;
    double xmin, xmax, factor; /* as TStreamerElement::GetRange leaves them */
    double step;               /* PF_SCALED: (xmax - xmin) / steps = 1 / factor */
    int nbits;                 /* PF_TRUNC: mantissa bits, 1..22 */
} packfloat;

/* TStreamerElement::GetRange on a title: factor 0 means no range; then xmin holds the
 * mantissa bit count of "[0,0,nbits]" (nbits < 15) or 0. */
void packfloat_range(const char *title, double *xmin, double *xmax, double *factor);

/* How TBufferFile::ReadDouble32 (f16 = 0) / ReadFloat16 (f16 = 1) read values of that
 * range. Returns 0, or -1 with *why set when ROOT itself could not read them (bit count
 * out of range, unusable range). */
int packfloat_decide(int f16, double xmin, double xmax, double factor, packfloat *p, const char **why);

/* The same from a StreamerInfo element title, and from a TLeafD32/TLeafF16 leaf title
 * (ROOT 6 "name[dims]/d[range]", older "d[range]" or a plain title). */
int packfloat_from_title(int f16, const char *title, packfloat *p, const char **why);
int packfloat_from_leaf_title(int f16, const char *title, packfloat *p, const char **why);

/* Bytes per value on disk: 4, 4 or 3. */
int packfloat_width(const packfloat *p);

/* Writes x packed as TBufferFile::WriteDouble32/WriteFloat16 do (big-endian, width
 * bytes at dst). */
void packfloat_put(const packfloat *p, double x, uint8_t *dst);

/* Reads one packed value (as ROOT's ReadWithFactor / ReadWithNbits / float read). */
double packfloat_get(const packfloat *p, const uint8_t *src);

#endif
