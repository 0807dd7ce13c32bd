/* fuzz_http_answer.c - fuzzes the parser of HTTP answers to range requests
 * (common/root/source_http.c: status and headers, multipart/byteranges bodies, single
 * range and whole-file answers), through http_parse_answer().
 *
 * Input: one byte choosing the piece size the body is fed in (0 = at once) and how
 * many of the fixed ranges are asked for (bits 6-7: 1..3), then the head (status line
 * and headers) up to and including the first "\r\n\r\n", then the body. Corpus:
 * fuzz/corpus/http_answer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "root/source_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t piece = data[0] & 0x3f;
    size_t n = 1 + (size_t)((data[0] >> 6) % 3);
    data++;
    size--;
    const uint8_t *end = NULL;
    for (size_t i = 0; i + 4 <= size; i++)
        if (memcmp(data + i, "\r\n\r\n", 4) == 0) {
            end = data + i + 4;
            break;
        }
    size_t hl = end ? (size_t)(end - data) : size;
    static uint8_t b0[10], b1[100], b2[3000];
    source_range r[3] = {{0, sizeof b0, b0}, {50, sizeof b1, b1}, {1000, sizeof b2, b2}};
    mlhep_err e;
    http_parse_answer((const char *)data, hl, data + hl, size - hl, piece, r, n, &e);
    return 0;
}
