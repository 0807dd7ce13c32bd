/* test_sort.c - the project's radix sort (base/sort.h): 32-bit keys and 64-bit
 * elements by a bit range come out in the order qsort gives (stable: equal keys keep
 * their payload order), empty and constant arrays are fine, and float keys keep the
 * order of the floats (-0 == +0, negative below positive, infinities at the ends). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/rng.h"
#include "base/sort.h"
#include "test.h"

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_hi32(const void *a, const void *b) /* by the high half, then the low half */
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

TEST(u32_matches_qsort)
{
    rng r;
    rng_seed(&r, 5);
    size_t sizes[] = {0, 1, 2, 17, 1000, 100000};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        size_t n = sizes[s];
        uint32_t *a = malloc(n * 4 + 4), *b = malloc(n * 4 + 4), *tmp = malloc(n * 4 + 4);
        CHECK(a && b && tmp);
        for (int mode = 0; mode < 3; mode++) {
            for (size_t i = 0; i < n; i++) {
                uint32_t v = (uint32_t)rng_next(&r);
                a[i] = b[i] = mode == 0 ? v : mode == 1 ? (v & 0x00ff0f00u) : 77u; /* full, sparse bits, constant */
            }
            sort_radix_u32(a, tmp, n);
            qsort(b, n, 4, cmp_u32);
            for (size_t i = 0; i < n; i++)
                CHECK(a[i] == b[i]);
        }
        free(a);
        free(b);
        free(tmp);
    }
}

TEST(u64_by_high_half_is_stable)
{
    rng r;
    rng_seed(&r, 6);
    size_t n = 50000;
    uint64_t *a = malloc(n * 8), *b = malloc(n * 8), *tmp = malloc(n * 8);
    CHECK(a && b && tmp);
    for (size_t i = 0; i < n; i++) /* few distinct keys: many ties; the row rides along */
        a[i] = b[i] = ((rng_next(&r) % 300) << 32) | (uint64_t)i;
    sort_radix_u64(a, tmp, n, 32, 32);
    qsort(b, n, 8, cmp_hi32); /* ties ordered by row = the stable order */
    for (size_t i = 0; i < n; i++)
        CHECK(a[i] == b[i]);
    free(a);
    free(b);
    free(tmp);
}

TEST(float_keys_keep_order)
{
    const float v[] = {-INFINITY, -1e30f, -2.5f, -1e-30f, -0.0f, 0.0f, 1e-30f, 1.0f, 3.5e20f, INFINITY};
    for (size_t i = 0; i + 1 < sizeof v / sizeof *v; i++) {
        if (v[i] == v[i + 1])
            CHECK(sort_float_key(v[i]) == sort_float_key(v[i + 1]));
        else
            CHECK(sort_float_key(v[i]) < sort_float_key(v[i + 1]));
        CHECK(sort_key_float(sort_float_key(v[i])) == v[i]);
    }
}

int main(void)
{
    RUN(u32_matches_qsort);
    RUN(u64_by_high_half_is_stable);
    RUN(float_keys_keep_order);
    return test_summary();
}
