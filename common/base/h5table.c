/* h5table.c - see h5table.h. Every HDF5 call's return is checked; h5fail() turns a
 * failure into a message from errno (set by HDF5's POSIX driver) and HDF5's error stack.
 *
 * Disk space is reserved ahead of HDF5 (fallocate with FALLOC_FL_KEEP_SIZE, before each
 * append: the rows so far and these, one chunk per dataset, 1/16 for the chunk index and
 * 1 MiB of metadata), because HDF5 1.10 does not survive a write that fails inside it:
 * a file whose flush failed crashes the library when the program exits. With the space
 * reserved, a full disk is reported before HDF5 writes anything, and the file closes
 * cleanly. File systems without fallocate (EOPNOTSUPP) go without the reservation. The
 * blocks reserved past the end are released when the file is closed. */
#include "base/h5table.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct h5set {
    hid_t id;
    hid_t mem;      /* memory type (native) */
    size_t cols;    /* 0 for 1-D */
    size_t rowbytes; /* bytes per row */
    hsize_t rows;   /* rows written */
    char name[64];
} h5set;

struct h5table {
    hid_t file;
    char path[1024];
    int fd;              /* HDF5's file descriptor for reserving space, -1: no reservation */
    uint64_t written;    /* raw bytes appended */
    uint64_t slack;      /* one chunk per dataset */
    uint64_t reserved;   /* bytes reserved from offset 0 */
    size_t nsets;
    h5set sets[H5TABLE_MAX_SETS];
};

/* HDF5's automatic error printing, off while this module runs (restored on the way out) */
typedef struct quiet {
    H5E_auto2_t fn;
    void *data;
} quiet;

static quiet quiet_on(void)
{
    quiet q = {0};
    H5Eget_auto2(H5E_DEFAULT, &q.fn, &q.data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    errno = 0;
    return q;
}

static void quiet_off(quiet q)
{
    H5Eset_auto2(H5E_DEFAULT, q.fn, q.data);
}

/* the innermost (first pushed) message of HDF5's error stack, on one line, without the
 * POSIX driver's details (time, buffer address, sizes: errno is reported on its own) */
static herr_t walk_first(unsigned n, const H5E_error2_t *err, void *data)
{
    char *out = data;
    if (n != 0 || !err->desc)
        return 0;
    snprintf(out, 256, "%s", err->desc);
    char *cut = strstr(out, ": time =");
    if (cut)
        *cut = 0;
    for (char *p = out; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    return 0;
}

static int h5fail(const h5table *h, const char *what, mlhep_err *e)
{
    int en = errno;
    char inner[256] = "";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_first, inner);
    H5Eclear2(H5E_DEFAULT);
    const char *advice = err_write_advice(en);
    if (en)
        return err_set(e, MLHEP_EIO, "HDF5 file %s: %s failed: %s%s (HDF5: %s)", h->path, what, strerror(en), advice,
                       inner[0] ? inner : "no detail");
    return err_set(e, MLHEP_EIO, "HDF5 file %s: %s failed (HDF5: %s)", h->path, what, inner[0] ? inner : "no detail");
}

int h5table_create(const char *path, h5table **out, mlhep_err *e)
{
    *out = NULL;
    h5table *h = calloc(1, sizeof *h);
    if (!h)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    snprintf(h->path, sizeof h->path, "%s", path);
    h->file = H5I_INVALID_HID;
    quiet q = quiet_on();
    int rc = 0;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0 || H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST) < 0)
        rc = h5fail(h, "setting up the file access", e);
    if (!rc) {
        errno = 0;
        h->file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
        if (h->file < 0)
            rc = h5fail(h, "creating the file", e);
    }
    if (fapl >= 0)
        H5Pclose(fapl);
    h->fd = -1;
    void *handle = NULL;
    if (!rc && H5Fget_vfd_handle(h->file, H5P_DEFAULT, &handle) >= 0 && handle)
        h->fd = *(int *)handle;
    H5Eclear2(H5E_DEFAULT);
    quiet_off(q);
    if (rc) {
        free(h);
        return rc;
    }
    *out = h;
    return 0;
}

#define RESERVE_META (1u << 20)
#define RESERVE_STEP (4u << 20)

/* Space for `bytes` more raw bytes (see the top of this file). */
static int reserve(h5table *h, uint64_t bytes, const char *what, mlhep_err *e)
{
    if (h->fd < 0)
        return 0;
    uint64_t need = h->written + bytes + h->slack + h->written / 16 + RESERVE_META;
    if (need <= h->reserved)
        return 0;
    uint64_t target = need + RESERVE_STEP;
    if (fallocate(h->fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)target) == 0) {
        h->reserved = target;
        return 0;
    }
    int en = errno;
    if (en == EOPNOTSUPP || en == ENOSYS || en == ENODEV || en == EINVAL || en == ESPIPE) {
        h->fd = -1; /* not on this file system: HDF5 writes without it */
        return 0;
    }
    return err_set(e, MLHEP_EIO, "HDF5 file %s: %s: reserving %.1f MiB failed: %s%s", h->path, what,
                   (double)target / (1 << 20), strerror(en), err_write_advice(en));
}

static size_t type_size(h5table_type t)
{
    switch (t) {
    case H5TABLE_F32: return 4;
    case H5TABLE_U8: return 1;
    case H5TABLE_I64: return 8;
    case H5TABLE_U32: return 4;
    }
    return 0;
}

static hid_t file_type(h5table_type t)
{
    switch (t) {
    case H5TABLE_F32: return H5T_IEEE_F32LE;
    case H5TABLE_U8: return H5T_STD_U8LE;
    case H5TABLE_I64: return H5T_STD_I64LE;
    case H5TABLE_U32: return H5T_STD_U32LE;
    }
    return H5I_INVALID_HID;
}

static hid_t mem_type(h5table_type t)
{
    switch (t) {
    case H5TABLE_F32: return H5T_NATIVE_FLOAT;
    case H5TABLE_U8: return H5T_NATIVE_UINT8;
    case H5TABLE_I64: return H5T_NATIVE_INT64;
    case H5TABLE_U32: return H5T_NATIVE_UINT32;
    }
    return H5I_INVALID_HID;
}

int h5table_add(h5table *h, const char *name, h5table_type type, size_t cols, size_t chunk_rows, int gzip, int *id,
                mlhep_err *e)
{
    if (h->nsets >= H5TABLE_MAX_SETS || strlen(name) >= sizeof h->sets[0].name || gzip < 0 || gzip > 9 ||
        chunk_rows == 0 || file_type(type) < 0)
        return err_set(e, MLHEP_EINVAL, "HDF5 file %s: bad dataset '%s' (at most %d datasets, gzip 0..9)", h->path,
                       name, H5TABLE_MAX_SETS);
    h5set *s = &h->sets[h->nsets];
    int rank = cols ? 2 : 1;
    hsize_t dims[2] = {0, cols}, maxd[2] = {H5S_UNLIMITED, cols}, chunk[2] = {chunk_rows, cols};
    quiet q = quiet_on();
    int rc = 0;
    hid_t space = H5Screate_simple(rank, dims, maxd);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (space < 0 || dcpl < 0 || H5Pset_chunk(dcpl, rank, chunk) < 0)
        rc = h5fail(h, "setting up a dataset", e);
    if (!rc && gzip > 0 && (H5Pset_shuffle(dcpl) < 0 || H5Pset_deflate(dcpl, (unsigned)gzip) < 0))
        rc = h5fail(h, "setting up gzip compression", e);
    if (!rc) {
        s->id = H5Dcreate2(h->file, name, file_type(type), space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        if (s->id < 0) {
            char what[128];
            snprintf(what, sizeof what, "creating dataset '%s'", name);
            rc = h5fail(h, what, e);
        }
    }
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (space >= 0)
        H5Sclose(space);
    quiet_off(q);
    if (rc)
        return rc;
    s->mem = mem_type(type);
    s->cols = cols;
    s->rowbytes = (cols ? cols : 1) * type_size(type);
    h->slack += (uint64_t)chunk_rows * s->rowbytes;
    s->rows = 0;
    snprintf(s->name, sizeof s->name, "%s", name);
    *id = (int)h->nsets++;
    return 0;
}

int h5table_append(h5table *h, int id, const void *data, size_t nrows, mlhep_err *e)
{
    if (id < 0 || (size_t)id >= h->nsets)
        return err_set(e, MLHEP_EINVAL, "HDF5 file %s: no dataset %d", h->path, id);
    if (nrows == 0)
        return 0;
    h5set *s = &h->sets[id];
    int rank = s->cols ? 2 : 1;
    hsize_t size[2] = {s->rows + nrows, s->cols}, start[2] = {s->rows, 0}, count[2] = {nrows, s->cols};
    char what[128];
    snprintf(what, sizeof what, "writing %zu rows to '%s'", nrows, s->name);
    uint64_t bytes = (uint64_t)nrows * s->rowbytes;
    int rc = reserve(h, bytes, what, e);
    if (rc)
        return rc;
    quiet q = quiet_on();
    hid_t fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
    if (H5Dset_extent(s->id, size) < 0)
        rc = h5fail(h, what, e);
    if (!rc) {
        fspace = H5Dget_space(s->id);
        mspace = H5Screate_simple(rank, count, NULL);
        if (fspace < 0 || mspace < 0 || H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) < 0)
            rc = h5fail(h, what, e);
    }
    if (!rc) {
        errno = 0;
        if (H5Dwrite(s->id, s->mem, mspace, fspace, H5P_DEFAULT, data) < 0)
            rc = h5fail(h, what, e);
    }
    if (mspace >= 0)
        H5Sclose(mspace);
    if (fspace >= 0)
        H5Sclose(fspace);
    quiet_off(q);
    if (!rc) {
        s->rows += nrows;
        h->written += bytes;
    }
    return rc;
}

/* The object attributes go on: the root group or dataset `on`; H5I_INVALID_HID if none. */
static hid_t attr_target(h5table *h, const char *on)
{
    if (!on)
        return H5Gopen2(h->file, "/", H5P_DEFAULT);
    for (size_t i = 0; i < h->nsets; i++)
        if (!strcmp(h->sets[i].name, on))
            return H5Dopen2(h->file, on, H5P_DEFAULT);
    return H5I_INVALID_HID;
}

static int write_attr(h5table *h, const char *on, const char *name, hid_t type, hid_t space, const void *data,
                      mlhep_err *e)
{
    char what[160];
    snprintf(what, sizeof what, "writing attribute '%s'%s%s", name, on ? " of " : "", on ? on : "");
    int rc = 0;
    hid_t obj = attr_target(h, on);
    if (obj < 0)
        return h5fail(h, what, e);
    hid_t a = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0 || H5Awrite(a, type, data) < 0)
        rc = h5fail(h, what, e);
    if (a >= 0 && H5Aclose(a) < 0 && !rc)
        rc = h5fail(h, what, e);
    H5Oclose(obj);
    return rc;
}

/* variable-length UTF-8 strings */
static hid_t vlen_str(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0)
        return t;
    if (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
        H5Tclose(t);
        return H5I_INVALID_HID;
    }
    return t;
}

int h5table_attr_strings(h5table *h, const char *on, const char *name, const char *const *v, size_t n,
                         mlhep_err *e)
{
    quiet q = quiet_on();
    int rc = 0;
    hsize_t dims[1] = {n};
    hid_t t = vlen_str(), space = H5Screate_simple(1, dims, NULL);
    if (t < 0 || space < 0)
        rc = h5fail(h, "setting up a string attribute", e);
    else
        rc = write_attr(h, on, name, t, space, v, e);
    if (space >= 0)
        H5Sclose(space);
    if (t >= 0)
        H5Tclose(t);
    quiet_off(q);
    return rc;
}

int h5table_attr_string(h5table *h, const char *on, const char *name, const char *v, mlhep_err *e)
{
    quiet q = quiet_on();
    int rc = 0;
    hid_t t = vlen_str(), space = H5Screate(H5S_SCALAR);
    if (t < 0 || space < 0)
        rc = h5fail(h, "setting up a string attribute", e);
    else
        rc = write_attr(h, on, name, t, space, &v, e);
    if (space >= 0)
        H5Sclose(space);
    if (t >= 0)
        H5Tclose(t);
    quiet_off(q);
    return rc;
}

static int attr_doubles(h5table *h, const char *on, const char *name, const double *v, size_t n, int scalar,
                        mlhep_err *e)
{
    quiet q = quiet_on();
    int rc = 0;
    hsize_t dims[1] = {n};
    hid_t space = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, dims, NULL);
    if (space < 0)
        rc = h5fail(h, "setting up a number attribute", e);
    else
        rc = write_attr(h, on, name, H5T_NATIVE_DOUBLE, space, v, e);
    if (space >= 0)
        H5Sclose(space);
    quiet_off(q);
    return rc;
}

int h5table_attr_doubles(h5table *h, const char *on, const char *name, const double *v, size_t n, mlhep_err *e)
{
    return attr_doubles(h, on, name, v, n, 0, e);
}

int h5table_attr_double(h5table *h, const char *on, const char *name, double v, mlhep_err *e)
{
    return attr_doubles(h, on, name, &v, 1, 1, e);
}

/* Releases the blocks reserved past the end of the closed file: a shrinking truncate
 * frees everything past the new size (one byte up, then back). */
static void release_reserved(const h5table *h)
{
    if (!h->reserved)
        return;
    int fd = open(h->path, O_WRONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && ftruncate(fd, st.st_size + 1) == 0 &&
        ftruncate(fd, st.st_size) != 0) {
        /* nothing more to do: the file keeps a byte of zeros, HDF5 ignores it */
    }
    close(fd);
}

int h5table_close(h5table *h, mlhep_err *e)
{
    if (!h)
        return 0;
    quiet q = quiet_on();
    int rc = 0;
    for (size_t i = 0; i < h->nsets; i++) {
        if (H5Dclose(h->sets[i].id) < 0 && !rc) {
            char what[128];
            snprintf(what, sizeof what, "closing dataset '%s'", h->sets[i].name);
            rc = h5fail(h, what, e);
        }
    }
    errno = 0;
    if (!rc && H5Fflush(h->file, H5F_SCOPE_LOCAL) < 0)
        rc = h5fail(h, "writing the file out", e);
    if (H5Fclose(h->file) < 0 && !rc)
        rc = h5fail(h, "closing the file", e);
    quiet_off(q);
    release_reserved(h);
    free(h);
    return rc;
}

void h5table_abort(h5table *h)
{
    if (!h)
        return;
    quiet q = quiet_on();
    for (size_t i = 0; i < h->nsets; i++)
        H5Dclose(h->sets[i].id);
    H5Fclose(h->file);
    H5Eclear2(H5E_DEFAULT);
    quiet_off(q);
    release_reserved(h);
    free(h);
}
