/* npy.c - see npy.h. Host byte order is little-endian on every platform we run on;
 * a static assertion keeps it that way. */
#include "base/npy.h"

#include <stdio.h>
#include <string.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "npy writer assumes a little-endian host");

int npy_write(const char *path, const char *descr, const void *data, size_t elem, size_t rows, size_t cols, int ndim,
              mlhep_err *e)
{
    char dict[256];
    int n;
    if (ndim == 1)
        n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%zu,), }", descr, rows);
    else
        n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%zu, %zu), }", descr, rows,
                     cols);
    size_t total = 10 + (size_t)n + 1;
    size_t padded = (total + 63) / 64 * 64;
    char head[512];
    memcpy(head, "\x93NUMPY\x01\x00", 8);
    size_t hl = padded - 10;
    head[8] = (char)(hl & 0xff);
    head[9] = (char)(hl >> 8);
    memcpy(head + 10, dict, (size_t)n);
    memset(head + 10 + n, ' ', padded - 10 - (size_t)n - 1);
    head[padded - 1] = '\n';
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return err_set(e, MLHEP_EIO, "cannot create %s", tmp);
    size_t count = ndim == 1 ? rows : rows * cols;
    int ok = fwrite(head, 1, padded, f) == padded && (count == 0 || fwrite(data, elem, count, f) == count);
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        return err_set(e, MLHEP_EIO, "cannot write %s (disk full?)", path);
    }
    return 0;
}
