/* packfloat.c - Double32_t / Float16_t packing as ROOT does it (see packfloat.h;
 * TStreamerElement::GetRange, TBufferFile::{Read,Write}{Double32,Float16},
 * TLeafD32::Streamer). */
#include "root/packfloat.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/cursor.h"

/* One bound as ROOT reads it: lower case, blanks removed, the "pi" forms (2pi, 2*pi,
 * twopi, pi/2, pi/4, pi; negated if a '-' is present), else a number (else 0). */
static double range_bound(const char *s, size_t n)
{
    char b[64];
    size_t k = 0;
    for (size_t i = 0; i < n && k < sizeof b - 1; i++)
        if (s[i] != ' ')
            b[k++] = (char)tolower((unsigned char)s[i]);
    b[k] = 0;
    const double pi = 3.14159265358979323846;
    double x = 0;
    if (strstr(b, "pi")) {
        if (strstr(b, "2pi") || strstr(b, "2*pi") || strstr(b, "twopi"))
            x = 2 * pi;
        else if (strstr(b, "pi/2"))
            x = pi / 2;
        else if (strstr(b, "pi/4"))
            x = pi / 4;
        else
            x = pi;
        if (strchr(b, '-'))
            x = -x;
    } else if (sscanf(b, "%lg", &x) != 1) {
        x = 0;
    }
    return x;
}

void packfloat_range(const char *s, double *xmin, double *xmax, double *factor)
{
    *xmin = *xmax = *factor = 0;
    if (!s)
        return;
    const char *left = strchr(s, '[');
    if (!left)
        return;
    const char *right = strchr(left, ']');
    if (!right)
        return;
    const char *comma = strchr(left, ',');
    if (!comma || comma > right) { /* the first bracket was a dimension: try the next */
        left = strchr(right, '[');
        if (!left)
            return;
        right = strchr(left, ']');
        if (!right)
            return;
        comma = strchr(left, ',');
        if (!comma || comma > right)
            return;
    }
    const char *comma2 = strchr(comma + 1, ',');
    if (comma2 && comma2 > right)
        comma2 = NULL;
    int nbits = 32;
    if (comma2) {
        char sb[32];
        size_t n = (size_t)(right - comma2 - 1) < sizeof sb - 1 ? (size_t)(right - comma2 - 1) : sizeof sb - 1;
        memcpy(sb, comma2 + 1, n);
        sb[n] = 0;
        if (sscanf(sb, "%d", &nbits) != 1)
            nbits = 32;
        if (nbits < 2 || nbits > 32)
            nbits = 32;
        right = comma2;
    }
    *xmin = range_bound(left + 1, (size_t)(comma - left - 1));
    *xmax = range_bound(comma + 1, (size_t)(right - comma - 1));
    double steps = nbits < 32 ? (double)(1u << nbits) : 4294967295.0;
    if (*xmin < *xmax)
        *factor = steps / (*xmax - *xmin);
    if (*xmin >= *xmax && nbits < 15)
        *xmin = nbits + 0.1;
}

int packfloat_decide(int f16, double xmin, double xmax, double factor, packfloat *p, const char **why)
{
    memset(p, 0, sizeof *p);
    p->xmin = xmin;
    p->xmax = xmax;
    p->factor = factor;
    if (factor != 0) {
        /* the number of steps over the range: 2^nbits, or 2^32 - 1 for 32 bits */
        double steps = nearbyint(factor * (xmax - xmin));
        if (!(factor > 0) || !isfinite(factor) || !isfinite(xmin) || !isfinite(xmax) ||
            !(steps >= 1 && steps <= 4294967295.0)) {
            *why = "unusable range";
            return -1;
        }
        p->kind = PF_SCALED;
        p->step = (xmax - xmin) / steps;
        return 0;
    }
    int nbits;
    if (xmin > -1 && xmin < 1)
        nbits = 0;
    else if (xmin >= 1 && xmin < 23) /* ROOT's shifts are defined up to 22 bits */
        nbits = (int)xmin;
    else {
        *why = "unusable mantissa bit count";
        return -1;
    }
    if (nbits == 0 && !f16) {
        p->kind = PF_FLOAT32;
        return 0;
    }
    p->kind = PF_TRUNC;
    p->nbits = nbits ? nbits : 12;
    return 0;
}

int packfloat_from_title(int f16, const char *title, packfloat *p, const char **why)
{
    double xmin, xmax, factor;
    packfloat_range(title, &xmin, &xmax, &factor);
    return packfloat_decide(f16, xmin, xmax, factor, p, why);
}

int packfloat_from_leaf_title(int f16, const char *title, packfloat *p, const char **why)
{
    if (!title)
        title = "";
    const char *slash = strrchr(title, '/');
    if (slash && isalpha((unsigned char)slash[1]) && slash[2] == '[')
        return packfloat_from_title(f16, slash + 2, p, why);
    return packfloat_from_title(f16, title, p, why);
}

int packfloat_width(const packfloat *p)
{
    return p->kind == PF_TRUNC ? 3 : 4;
}

void packfloat_put(const packfloat *p, double x, uint8_t *dst)
{
    if (p->kind == PF_SCALED) {
        if (x < p->xmin)
            x = p->xmin;
        if (x > p->xmax)
            x = p->xmax;
        double a = 0.5 + p->factor * (x - p->xmin);
        be_put32(dst, a >= 4294967295.0 ? 0xFFFFFFFFu : (uint32_t)a);
        return;
    }
    float fv = (float)x;
    uint32_t iv;
    memcpy(&iv, &fv, 4);
    if (p->kind == PF_FLOAT32) {
        be_put32(dst, iv);
        return;
    }
    int nb = p->nbits;
    uint8_t ex = (uint8_t)(0xff & ((iv << 1) >> 24));
    uint32_t man = (((1u << (nb + 1)) - 1) & ((uint32_t)((int32_t)iv >> (23 - nb - 1))));
    man++;
    man >>= 1;
    if (man & (1u << nb))
        man = (1u << nb) - 1;
    if (fv < 0)
        man |= 1u << (nb + 1);
    dst[0] = ex;
    be_put16(dst + 1, (uint16_t)man);
}

double packfloat_get(const packfloat *p, const uint8_t *src)
{
    if (p->kind == PF_SCALED) {
        uint32_t u = ((uint32_t)src[0] << 24) | ((uint32_t)src[1] << 16) | ((uint32_t)src[2] << 8) | src[3];
        return u * p->step + p->xmin;
    }
    if (p->kind == PF_FLOAT32) {
        uint32_t u = ((uint32_t)src[0] << 24) | ((uint32_t)src[1] << 16) | ((uint32_t)src[2] << 8) | src[3];
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    int nb = p->nbits;
    uint32_t man = ((uint32_t)src[1] << 8) | src[2];
    uint32_t bits = ((uint32_t)src[0] << 23) | ((man & ((1u << (nb + 1)) - 1)) << (23 - nb));
    float f;
    memcpy(&f, &bits, 4);
    return (man & (1u << (nb + 1))) ? -f : f;
}
