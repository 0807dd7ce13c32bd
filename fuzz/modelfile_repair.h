/* modelfile_repair.h - for the fuzz targets whose input is a model file (fuzz_modelfile,
 * fuzz_checkpoint): runs a target on the input as it is, and again with the container's
 * length field and XXH64 checksum repaired (model/modelfile.c's layout: the u64 length at
 * offset 24, the checksum in the last 8 bytes), so that mutations reach the sections'
 * parsers behind the checksum instead of stopping at it. */
#ifndef MLHEP_FUZZ_MODELFILE_REPAIR_H
#define MLHEP_FUZZ_MODELFILE_REPAIR_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "base/wbuf.h"

static inline void fuzz_modelfile_both(const uint8_t *data, size_t size, void (*try_one)(const uint8_t *, size_t))
{
    try_one(data, size);
    if (size < 40)
        return;
    uint8_t *c = malloc(size);
    if (!c)
        return;
    memcpy(c, data, size);
    wbuf_store_le64(c + 24, (uint64_t)size);
    wbuf_store_le64(c + size - 8, XXH64(c, size - 8, 0));
    try_one(c, size);
    free(c);
}

#endif
