/* npy.h - writing NumPy .npy files (format version 1.0), so users of PyTorch, Keras
 * or anything with numpy can load mlhep's rows directly (numpy.load).
 * Layout: magic "\x93NUMPY", version 1.0, u16 little-endian header length, an ASCII
 * dict {'descr': '<f4', 'fortran_order': False, 'shape': (n, m), } padded with
 * spaces and a newline to a multiple of 64 bytes, then the C-order little-endian data.
 * Arrays of 1 MiB or more whose memory is 4096-aligned get a header of 4096 bytes and are
 * written with O_DIRECT (no copy through the page cache; see npy.c); numpy reads both. */
#ifndef MLHEP_NPY_H
#define MLHEP_NPY_H

#include <stddef.h>

#include "base/err.h"

/* descr: "<f4", "|u1", "<i8", "<u4", ... ; ndim 1 or 2 (cols ignored for 1). */
int npy_write(const char *path, const char *descr, const void *data, size_t elem_size, size_t rows, size_t cols,
              int ndim, mlhep_err *e);

#endif
