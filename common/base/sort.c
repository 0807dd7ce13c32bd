/* sort.c - see sort.h. One radix pass loop serves both element widths: it is written
 * once for a width given as a constant and inlined into each entry point, so the
 * compiler emits a plain 32-bit and a plain 64-bit loop. */
#include "base/sort.h"

static inline __attribute__((always_inline)) uint64_t elem(const void *a, size_t i, size_t width)
{
    return width == 4 ? ((const uint32_t *)a)[i] : ((const uint64_t *)a)[i];
}

static inline __attribute__((always_inline)) void put(void *a, size_t i, uint64_t v, size_t width)
{
    if (width == 4)
        ((uint32_t *)a)[i] = (uint32_t)v;
    else
        ((uint64_t *)a)[i] = v;
}

static inline __attribute__((always_inline)) void radix(void *a, void *tmp, size_t n, size_t width,
                                                         int lo_bit, int nbits)
{
    void *src = a, *dst = tmp;
    for (int shift = lo_bit; shift < lo_bit + nbits; shift += 8) {
        size_t cnt[256] = {0};
        for (size_t i = 0; i < n; i++)
            cnt[(elem(src, i, width) >> shift) & 0xff]++;
        if (n == 0 || cnt[(elem(src, 0, width) >> shift) & 0xff] == n)
            continue; /* every element has the same byte here */
        size_t pos = 0;
        for (int b = 0; b < 256; b++) {
            size_t c = cnt[b];
            cnt[b] = pos;
            pos += c;
        }
        for (size_t i = 0; i < n; i++) {
            uint64_t v = elem(src, i, width);
            put(dst, cnt[(v >> shift) & 0xff]++, v, width);
        }
        void *t = src;
        src = dst;
        dst = t;
    }
    if (src != a)
        memcpy(a, src, n * width);
}

void sort_radix_u32(uint32_t *a, uint32_t *tmp, size_t n)
{
    radix(a, tmp, n, 4, 0, 32);
}

void sort_radix_u64(uint64_t *a, uint64_t *tmp, size_t n, int lo_bit, int nbits)
{
    radix(a, tmp, n, 8, lo_bit, nbits);
}
