/* sort.h - the project's sort for large arrays of keys: LSD radix, 8 bits per pass,
 * stable, passes whose bits are the same for every element skipped.
 *
 * Used where many numbers are ordered in hot code: the quantile cuts of the boosted
 * trees (model/gbdt: float features as 32-bit keys) and the ROC curve (model/metrics:
 * 64-bit elements ordered by a 32-bit score key in their high half, the row number
 * riding along in the low half). Floats become keys with sort_float_key(), which keeps
 * their order (-0 and +0 map to the same key; NaN must be left out by the caller).
 *
 * Nothing is allocated: the caller passes scratch space of the same size as the data.
 * Small arrays (a few dozen elements) are better served by an insertion sort. */
#ifndef MLHEP_SORT_H
#define MLHEP_SORT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Sorts a[0..n) ascending by the whole 32-bit value; tmp holds n elements. */
void sort_radix_u32(uint32_t *a, uint32_t *tmp, size_t n);

/* Sorts a[0..n) ascending by bits [lo_bit, lo_bit + nbits) of each element (lo_bit and
 * nbits multiples of 8, lo_bit + nbits <= 64); the other bits ride along. tmp holds n
 * elements. */
void sort_radix_u64(uint64_t *a, uint64_t *tmp, size_t n, int lo_bit, int nbits);

/* Order-preserving image of a float (not NaN) as an unsigned key, and back. */
static inline uint32_t sort_float_key(float f)
{
    if (f == 0.0f)
        f = 0.0f; /* -0 -> +0 */
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

static inline float sort_key_float(uint32_t k)
{
    uint32_t u = (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

#endif
