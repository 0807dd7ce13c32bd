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
