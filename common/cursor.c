/* cursor.c - bulk byte-order conversion for column data (see cursor.h). */
#include "cursor.h"

void cur_swap_array(void *dst, const void *src, size_t count, int width)
{
    const uint8_t *s = (const uint8_t *)src;
    switch (width) {
    case 1:
        if (dst != src)
            memmove(dst, src, count);
        break;
    case 2: {
        uint16_t *d = (uint16_t *)dst;
        for (size_t i = 0; i < count; i++) {
            uint16_t v;
            memcpy(&v, s + 2 * i, 2);
            v = __builtin_bswap16(v);
            memcpy(d + i, &v, 2);
        }
        break;
    }
    case 4: {
        uint32_t *d = (uint32_t *)dst;
        for (size_t i = 0; i < count; i++) {
            uint32_t v;
            memcpy(&v, s + 4 * i, 4);
            v = __builtin_bswap32(v);
            memcpy(d + i, &v, 4);
        }
        break;
    }
    case 8: {
        uint64_t *d = (uint64_t *)dst;
        for (size_t i = 0; i < count; i++) {
            uint64_t v;
            memcpy(&v, s + 8 * i, 8);
            v = __builtin_bswap64(v);
            memcpy(d + i, &v, 8);
        }
        break;
    }
    default:
        break;
    }
}
