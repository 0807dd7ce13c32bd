/* npy.c - see npy.h. Host byte order is little-endian on every platform we run on;
 * a static assertion keeps it that way.
 *
 * Large arrays in memory aligned to NPY_DIRECT_ALIGN (the chunk rows of mlhep-prep,
 * 2 MiB-aligned by base/bigbuf) are written with O_DIRECT: the disk reads them from the
 * caller's memory, with no copy into the page cache. On the virtual machines we run on,
 * that copy into freshly allocated page-cache pages was a quarter of mlhep-prep's CPU
 * time (docs/benchmarks.md). Such a file's header is padded to NPY_DIRECT_ALIGN bytes so
 * that the data start on an aligned file offset; the bytes past the last whole block go
 * through the page cache. Where the file system refuses O_DIRECT the plain path runs. */
#include "base/npy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "npy writer assumes a little-endian host");

/* the data's offset in the file and the alignment of file offsets, memory and lengths
 * O_DIRECT needs (the page size covers every block size we meet) */
#define NPY_DIRECT_ALIGN 4096u
/* below this the page cache is cheaper than a synchronous write to the disk */
#define NPY_DIRECT_MIN ((size_t)1 << 20)
/* one write() at most this much (Linux caps a write at just under 2 GiB) */
#define NPY_WRITE_MAX ((size_t)1 << 30)

/* header of `padded` bytes (a multiple of 64, at least the dict's length + 11) into head */
static size_t npy_header(char *head, size_t cap, const char *descr, size_t rows, size_t cols, int ndim,
                         size_t align)
{
    char dict[256];
    int n;
    if (ndim == 1)
        n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%zu,), }", descr, rows);
    else
        n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%zu, %zu), }", descr, rows,
                     cols);
    if (n < 0 || (size_t)n >= sizeof dict)
        return 0;
    size_t total = 10 + (size_t)n + 1;
    size_t padded = (total + align - 1) / align * align;
    if (padded > cap || padded - 10 > 0xffff)
        return 0;
    memcpy(head, "\x93NUMPY\x01\x00", 8);
    size_t hl = padded - 10;
    head[8] = (char)(hl & 0xff);
    head[9] = (char)(hl >> 8);
    memcpy(head + 10, dict, (size_t)n);
    memset(head + 10 + n, ' ', padded - 10 - (size_t)n - 1);
    head[padded - 1] = '\n';
    return padded;
}

/* writes all of p[0..n) at the file's position; 0 or an errno */
static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n < NPY_WRITE_MAX ? n : NPY_WRITE_MAX);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return k < 0 ? errno : EIO;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* the O_DIRECT path: 0 done, or an errno (the caller removes the file) */
static int write_direct(int fd, const char *head, size_t hlen, const uint8_t *data, size_t bytes)
{
    _Alignas(NPY_DIRECT_ALIGN) uint8_t blk[NPY_DIRECT_ALIGN];
    memcpy(blk, head, hlen); /* hlen == NPY_DIRECT_ALIGN */
    size_t whole = bytes / NPY_DIRECT_ALIGN * NPY_DIRECT_ALIGN, done = 0;
    int fl = fcntl(fd, F_GETFL);
    int direct = fl >= 0 && fcntl(fd, F_SETFL, fl | O_DIRECT) == 0;
    int rc = 0;
    if (direct) {
        ssize_t k;
        do
            k = write(fd, blk, hlen);
        while (k < 0 && errno == EINTR);
        if (k == (ssize_t)hlen) {
            hlen = 0;
            while (done < whole) {
                size_t n = whole - done < NPY_WRITE_MAX ? whole - done : NPY_WRITE_MAX;
                k = write(fd, data + done, n);
                if (k < 0 && errno == EINTR)
                    continue;
                if (k <= 0)
                    break; /* refused (EINVAL: no O_DIRECT here) or failed: the plain path goes on */
                done += (size_t)k;
                if ((size_t)k % NPY_DIRECT_ALIGN)
                    break; /* a short write off the block size: the rest is not aligned */
            }
        } else if (k > 0) {
            return EIO; /* part of a block written: cannot continue at a known offset */
        }
        if (fcntl(fd, F_SETFL, fl) != 0)
            return errno;
    }
    if (hlen)
        rc = write_all(fd, blk, hlen);
    if (!rc)
        rc = write_all(fd, data + done, bytes - done);
    return rc;
}

int npy_write(const char *path, const char *descr, const void *data, size_t elem, size_t rows, size_t cols, int ndim,
              mlhep_err *e)
{
    size_t count = ndim == 1 ? rows : rows * cols;
    size_t bytes = count * elem;
    if (elem && count && bytes / elem != count)
        return err_set(e, MLHEP_EINVAL, "cannot write %s: %zu values of %zu bytes overflow", path, count, elem);
    int direct = bytes >= NPY_DIRECT_MIN && (uintptr_t)data % NPY_DIRECT_ALIGN == 0;
    char head[NPY_DIRECT_ALIGN];
    size_t padded = npy_header(head, sizeof head, descr, rows, cols, ndim, direct ? NPY_DIRECT_ALIGN : 64);
    if (!padded)
        return err_set(e, MLHEP_EINVAL, "cannot write %s: the array's header is too long", path);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return err_set(e, MLHEP_EIO, "cannot create %s: %s%s", tmp, strerror(errno), err_write_advice(errno));
    int rc = direct ? write_direct(fd, head, padded, data, bytes) : write_all(fd, (const uint8_t *)head, padded);
    if (!rc && !direct)
        rc = write_all(fd, data, bytes);
    if (close(fd) != 0 && !rc)
        rc = errno;
    if (!rc && rename(tmp, path) != 0)
        rc = errno;
    if (rc) {
        remove(tmp);
        return err_set(e, MLHEP_EIO, "cannot write %s: %s%s", path, strerror(rc), err_write_advice(rc));
    }
    return 0;
}
