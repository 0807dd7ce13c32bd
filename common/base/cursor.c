/* cursor.c - bulk byte-order conversion for column data (see cursor.h). The 2, 4 and
 * 8 byte cases swap 16 bytes at a time with SSE2 (x86-64 baseline: swap the 16-bit
 * halves with word shuffles, then the bytes of each word with shifts); the scalar
 * loops finish the tail and serve other targets. */
#include "base/cursor.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

void cur_swap_array(void *dst, const void *src, size_t count, int width)
{
    const uint8_t *s = (const uint8_t *)src;
    uint8_t *d8 = (uint8_t *)dst;
    size_t i = 0;
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
