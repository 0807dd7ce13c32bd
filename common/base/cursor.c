/* cursor.c - bulk byte-order conversion for column data (see cursor.h). The 2, 4 and
 * 8 byte cases swap 64 bytes at a time with AVX2 byte shuffles where the CPU has them
 * (checked at each call: a bit test in the compiler's runtime CPU description), then
 * 16 bytes at a time with SSE2 (x86-64 baseline: swap the 16-bit halves with word
 * shuffles, then the bytes of each word with shifts); the scalar loops finish the tail
 * and serve other targets. Every loop runs forwards and loads a block before storing
 * it, so dst may be src or lie before it. */
#include "base/cursor.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define CUR_AVX2 1

/* Swaps the leading multiple of 64 bytes of count values of width w (2, 4 or 8);
 * returns how many values it did. */
__attribute__((target("avx2"))) static size_t swap_avx2(uint8_t *d, const uint8_t *s, size_t count, int w)
{
    __m256i m;
    if (w == 2)
        m = _mm256_setr_epi8(1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14, 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11,
                             10, 13, 12, 15, 14);
    else if (w == 4)
        m = _mm256_setr_epi8(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12, 3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9,
                             8, 15, 14, 13, 12);
    else
        m = _mm256_setr_epi8(7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13,
                             12, 11, 10, 9, 8);
    size_t bytes = count * (size_t)w & ~(size_t)63;
    for (size_t k = 0; k < bytes; k += 64) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(s + k));
        __m256i b = _mm256_loadu_si256((const __m256i *)(s + k + 32));
        _mm256_storeu_si256((__m256i *)(d + k), _mm256_shuffle_epi8(a, m));
        _mm256_storeu_si256((__m256i *)(d + k + 32), _mm256_shuffle_epi8(b, m));
    }
    return bytes / (size_t)w;
}
#endif

void cur_swap_array(void *dst, const void *src, size_t count, int width)
{
    const uint8_t *s = (const uint8_t *)src;
    uint8_t *d8 = (uint8_t *)dst;
    size_t i = 0;
#ifdef CUR_AVX2
    if ((width == 2 || width == 4 || width == 8) && count * (size_t)width >= 64 && __builtin_cpu_supports("avx2"))
        i = swap_avx2(d8, s, count, width);
#endif
    switch (width) {
    case 1:
        if (dst != src && count)
            memmove(dst, src, count); /* src may be NULL when count is 0 */
        break;
    case 2: {
#ifdef __SSE2__
        for (; i + 8 <= count; i += 8) {
            __m128i v = _mm_loadu_si128((const __m128i *)(s + 2 * i));
            v = _mm_or_si128(_mm_slli_epi16(v, 8), _mm_srli_epi16(v, 8));
            _mm_storeu_si128((__m128i *)(d8 + 2 * i), v);
        }
#endif
        for (; i < count; i++) {
            uint16_t v;
            memcpy(&v, s + 2 * i, 2);
            v = __builtin_bswap16(v);
            memcpy(d8 + 2 * i, &v, 2);
        }
        break;
    }
    case 4: {
#ifdef __SSE2__
        for (; i + 4 <= count; i += 4) {
            __m128i v = _mm_loadu_si128((const __m128i *)(s + 4 * i));
            v = _mm_shufflehi_epi16(_mm_shufflelo_epi16(v, 0xB1), 0xB1);
            v = _mm_or_si128(_mm_slli_epi16(v, 8), _mm_srli_epi16(v, 8));
            _mm_storeu_si128((__m128i *)(d8 + 4 * i), v);
        }
#endif
        for (; i < count; i++) {
            uint32_t v;
            memcpy(&v, s + 4 * i, 4);
            v = __builtin_bswap32(v);
            memcpy(d8 + 4 * i, &v, 4);
        }
        break;
    }
    case 8: {
#ifdef __SSE2__
        for (; i + 2 <= count; i += 2) {
            __m128i v = _mm_loadu_si128((const __m128i *)(s + 8 * i));
            v = _mm_shufflehi_epi16(_mm_shufflelo_epi16(v, 0x1B), 0x1B);
            v = _mm_or_si128(_mm_slli_epi16(v, 8), _mm_srli_epi16(v, 8));
            _mm_storeu_si128((__m128i *)(d8 + 8 * i), v);
        }
#endif
        for (; i < count; i++) {
            uint64_t v;
            memcpy(&v, s + 8 * i, 8);
            v = __builtin_bswap64(v);
            memcpy(d8 + 8 * i, &v, 8);
        }
        break;
    }
    default:
        break;
    }
}

/* ---- cur_be32_offsets (see cursor.h) */

static inline uint32_t be32_at(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static int offsets_scalar(const uint8_t *arr, size_t n, int32_t bias, int32_t end, int wsh, int64_t base,
                                int64_t *o, size_t i, int64_t s0)
{
    uint64_t bad = 0, mask = ((uint64_t)1 << wsh) - 1;
    int64_t s = i < n ? (int64_t)(int32_t)be32_at(arr + 4 * i) - bias : end;
    for (; i < n; i++) {
        int64_t t = i + 1 < n ? (int64_t)(int32_t)be32_at(arr + 4 * (i + 1)) - bias : end;
        int64_t d = t - s;
        bad |= (uint64_t)(s < 0 || s > end || d < 0) | ((uint64_t)d & mask);
        o[i] = base + ((t - s0) >> wsh);
        s = t;
    }
    return bad ? -1 : 0;
}

#ifdef CUR_AVX2
/* entries [0, i) of cur_be32_offsets eight at a time (while the next group's first
 * start is in arr); returns i, or (size_t)-1 when a check failed. 32-bit lanes: starts
 * are checked to lie in [0, end] (end + bias fits an int32), so no difference
 * overflows. */
__attribute__((target("avx2"))) static size_t offsets_avx2(const uint8_t *arr, size_t n, int32_t bias,
                                                                  int32_t end, int wsh, int64_t base, int64_t *o,
                                                                  int32_t s0)
{
    const __m256i swap = _mm256_setr_epi8(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12, 3, 2, 1, 0, 7, 6, 5,
                                          4, 11, 10, 9, 8, 15, 14, 13, 12);
    const __m256i vkey = _mm256_set1_epi32(bias), sign = _mm256_set1_epi32(INT32_MIN);
    const __m256i vmax = _mm256_set1_epi32(end ^ INT32_MIN), vs0 = _mm256_set1_epi32(s0);
    const __m256i vbase = _mm256_set1_epi64x(base), vlow = _mm256_set1_epi32((1 << wsh) - 1);
    const __m128i sh = _mm_cvtsi32_si128(wsh);
    __m256i bad = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 9 <= n; i += 8) {
        __m256i s = _mm256_sub_epi32(
            _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)(arr + 4 * i)), swap), vkey);
        __m256i t = _mm256_sub_epi32(
            _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)(arr + 4 * i + 4)), swap), vkey);
        /* s outside [0, end] as unsigned: above end after flipping the sign bit */
        bad = _mm256_or_si256(bad, _mm256_cmpgt_epi32(_mm256_xor_si256(s, sign), vmax));
        __m256i d = _mm256_sub_epi32(t, s);
        bad = _mm256_or_si256(bad, _mm256_or_si256(_mm256_srai_epi32(d, 31), _mm256_and_si256(d, vlow)));
        __m256i r = _mm256_sra_epi32(_mm256_sub_epi32(t, vs0), sh);
        _mm256_storeu_si256((__m256i *)(o + i), _mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(r)), vbase));
        _mm256_storeu_si256((__m256i *)(o + i + 4),
                            _mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_extracti128_si256(r, 1)), vbase));
    }
    return _mm256_testz_si256(bad, bad) ? i : (size_t)-1;
}
#endif

int cur_be32_offsets(const uint8_t *arr, size_t n, int32_t bias, int32_t end, int wsh, int64_t base,
                         int64_t *o, int32_t *first, int simd)
{
    if (end < 0 || bias < 0 || wsh < 0 || wsh > 3)
        return -1;
    int64_t s0 = n ? (int64_t)(int32_t)be32_at(arr) - bias : end;
    if (s0 < 0 || s0 > end)
        return -1;
    *first = (int32_t)s0;
    size_t i = 0;
#ifdef CUR_AVX2
    if (simd && n >= 9 && (int64_t)end + bias <= INT32_MAX && __builtin_cpu_supports("avx2")) {
        i = offsets_avx2(arr, n, bias, end, wsh, base, o, (int32_t)s0);
        if (i == (size_t)-1)
            return -1;
    }
#else
    (void)simd;
#endif
    return offsets_scalar(arr, n, bias, end, wsh, base, o, i, s0);
}
