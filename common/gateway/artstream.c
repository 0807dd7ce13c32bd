/* artstream.c - see artstream.h. */
#include "gateway/artstream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "base/wbuf.h"
#include "gateway/gwhttp.h"
#include "service/artifacts.h"

#define INBUF (64 * 1024) /* tar bytes handed to deflate at a time */

enum { PH_HEADER, PH_DATA, PH_PAD, PH_TRAILER, PH_DONE };

struct artstream {
    int archive;           /* 0: one file */
    int fd;                /* the file being read (-1 none) */
    uint64_t size;         /* one file: its size */
    uint64_t produced;     /* bytes handed out so far */
    /* archive */
    int dfd;
    size_t n, i;           /* files, the current one */
    char **names;
    uint64_t *sizes;
    char *prefix;
    long mtime;
    int phase;
    uint64_t left;         /* PH_DATA: bytes of the file still to read; PH_PAD/PH_TRAILER: zeros */
    wbuf stage;            /* PH_HEADER: the current file's header block(s) */
    size_t stage_off;
    unsigned char *in;     /* INBUF bytes of tar for deflate */
    z_stream z;
    int z_ready, input_done, z_done;
};

int artstream_open_under(int dfd, const char *name)
{
    if (!artifacts_name_valid(name))
        return -1;
    char seg[ARTIFACTS_NAME_MAX];
    int at = dfd;
    for (const char *g = name;;) {
        const char *ge = strchr(g, '/');
        if (!ge) {
            int fd = openat(at, g, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
            if (at != dfd)
                close(at);
            return fd;
        }
        memcpy(seg, g, (size_t)(ge - g));
        seg[ge - g] = '\0';
        int nd = openat(at, seg, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (at != dfd)
            close(at);
        if (nd < 0)
            return -1;
        at = nd;
        g = ge + 1;
    }
}

/* dfd/name opened as a regular file, its size in *size; -1 if not. */
static int open_regular(int dfd, const char *name, uint64_t *size)
{
    int fd = artstream_open_under(dfd, name);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return -1;
    }
    *size = (uint64_t)st.st_size;
    return fd;
}

int artstream_file(int dfd, const char *name, artstream **out, uint64_t *size, mlhep_err *e)
{
    *out = NULL;
    uint64_t sz;
    int fd = open_regular(dfd, name, &sz);
    if (fd < 0)
        return err_set(e, MLHEP_ENOTFOUND, "artifact '%s' is missing or not a regular file", name);
    artstream *s = calloc(1, sizeof *s);
    if (!s) {
        close(fd);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    s->fd = fd;
    s->dfd = -1;
    s->size = sz;
    *size = sz;
    *out = s;
    return 0;
}

/* Writes v in octal into a field of w bytes (w - 1 digits and a NUL, as ustar wants). */
static void tar_octal(unsigned char *f, size_t w, unsigned long long v)
{
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%0*llo", (int)(w - 1), v);
    memcpy(f, tmp + strlen(tmp) - (w - 1), w - 1);
    f[w - 1] = '\0';
}

/* One ustar header block: a file of size bytes, or (type 'x') a pax extended header.
 *   0 name[100]  100 mode "0000644"  108 uid  116 gid  124 size[12] (octal)
 *   136 mtime[12]  148 checksum[8] (octal sum of the block with this field as spaces)
 *   156 type ('0' file, 'x' pax)  257 "ustar\0"  263 version "00" */
static void tar_block(wbuf *w, const char *name, char type, uint64_t size, long mtime)
{
    unsigned char h[512];
    memset(h, 0, sizeof h);
    size_t nl = strlen(name);
    memcpy(h, name, nl < 100 ? nl : 100);
    tar_octal(h + 100, 8, 0644);
    tar_octal(h + 108, 8, 0);
    tar_octal(h + 116, 8, 0);
    tar_octal(h + 124, 12, size);
    tar_octal(h + 136, 12, (unsigned long long)(mtime > 0 ? mtime : 0));
    memset(h + 148, ' ', 8);
    h[156] = (unsigned char)type;
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
        sum += h[i];
    tar_octal(h + 148, 7, sum);
    h[155] = ' ';
    wbuf_put(w, h, 512);
}

/* The header of a regular file at path (< 512 bytes). A path that does not fit ustar's
 * 100-byte name field gets a pax extended header ("NN path=...\n", POSIX.1-2001) first,
 * as GNU tar, bsdtar and Python's tarfile read it. Sizes past ustar's 8 GiB (11 octal
 * digits) get a pax "size" record too. */
static void tar_header(wbuf *w, const char *path, uint64_t size, long mtime)
{
    size_t pl = strlen(path);
    int big = size > 077777777777ull;
    if (pl > 100 || big) {
        char rec[700];
        int n = 0;
        if (pl > 100) {
            /* the record's length counts its own digits: 3 of them, as 100 < length < 1000 */
            size_t len = pl + strlen(" path=\n") + 3;
            n += snprintf(rec + n, sizeof rec - (size_t)n, "%zu path=%s\n", len, path);
        }
        if (big) {
            char num[24];
            int dl = snprintf(num, sizeof num, "%llu", (unsigned long long)size);
            /* the length's own 2 digits (the record is under 100 bytes), " size=", the
             * digits and "\n" */
            n += snprintf(rec + n, sizeof rec - (size_t)n, "%d size=%s\n", 2 + 6 + dl + 1, num);
        }
        char xname[100];
        snprintf(xname, sizeof xname, "PaxHeaders/%.80s", strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
        tar_block(w, xname, 'x', (uint64_t)n, mtime);
        wbuf_put(w, rec, (size_t)n);
        wbuf_zero(w, (512 - (size_t)n % 512) % 512);
    }
    tar_block(w, path, '0', big ? 0 : size, mtime);
}

static void free_names(artstream *s)
{
    for (size_t i = 0; s->names && i < s->n; i++)
        free(s->names[i]);
    free(s->names);
    s->names = NULL;
}

int artstream_archive(int dfd, const char *const *names, size_t n, const char *prefix, artstream **out,
                      mlhep_err *e)
{
    *out = NULL;
    artstream *s = calloc(1, sizeof *s);
    if (!s)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    s->archive = 1;
    s->fd = -1;
    s->dfd = -1;
    s->mtime = (long)time(NULL);
    s->names = calloc(n ? n : 1, sizeof *s->names);
    s->sizes = calloc(n ? n : 1, sizeof *s->sizes);
    s->prefix = strdup(prefix);
    s->in = malloc(INBUF);
    if (!s->names || !s->sizes || !s->prefix || !s->in) {
        artstream_free(s);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        int fd = open_regular(dfd, names[i], &s->sizes[i]);
        if (fd < 0) {
            s->n = i;
            artstream_free(s);
            return err_set(e, MLHEP_ENOTFOUND, "artifact '%s' is missing or not a regular file", names[i]);
        }
        close(fd);
        if (!(s->names[i] = strdup(names[i]))) {
            s->n = i;
            artstream_free(s);
            return err_set(e, MLHEP_ENOMEM, "out of memory");
        }
        s->n = i + 1;
    }
    s->dfd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
    if (s->dfd < 0) {
        artstream_free(s);
        return err_set(e, MLHEP_EIO, "artifact directory: %s", strerror(errno));
    }
    if (deflateInit2(&s->z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        artstream_free(s);
        return err_set(e, MLHEP_ENOMEM, "out of memory for the archive's compressor");
    }
    s->z_ready = 1;
    s->i = 0;
    s->phase = n ? PH_HEADER : PH_TRAILER;
    s->left = 1024; /* used when there is no file: the trailer's two zero blocks */
    *out = s;
    return 0;
}

/* Starts file s->i: its header staged, the file opened and checked against its size. */
static int start_file(artstream *s)
{
    char path[ARTIFACTS_NAME_MAX + 256];
    snprintf(path, sizeof path, "%s/%s", s->prefix, s->names[s->i]);
    wbuf_reset(&s->stage);
    tar_header(&s->stage, path, s->sizes[s->i], s->mtime);
    s->stage_off = 0;
    if (!wbuf_ok(&s->stage))
        return -1;
    uint64_t sz;
    s->fd = open_regular(s->dfd, s->names[s->i], &sz);
    if (s->fd < 0 || sz != s->sizes[s->i])
        return -1;
    s->phase = PH_HEADER;
    return 0;
}

/* Fills s->in with the next tar bytes; sets input_done after the trailer. */
static int fill(artstream *s)
{
    size_t got = 0;
    while (got < INBUF && s->phase != PH_DONE) {
        size_t room = INBUF - got;
        if (s->phase == PH_HEADER) {
            if (s->fd < 0 && start_file(s))
                return -1;
            size_t k = s->stage.len - s->stage_off;
            k = k < room ? k : room;
            memcpy(s->in + got, s->stage.p + s->stage_off, k);
            got += k;
            s->stage_off += k;
            if (s->stage_off == s->stage.len) {
                s->phase = PH_DATA;
                s->left = s->sizes[s->i];
            }
        } else if (s->phase == PH_DATA) {
            if (s->left == 0) {
                close(s->fd);
                s->fd = -1;
                s->phase = PH_PAD;
                s->left = (512 - s->sizes[s->i] % 512) % 512;
                continue;
            }
            size_t want = s->left < room ? (size_t)s->left : room;
            ssize_t k = read(s->fd, s->in + got, want);
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0) /* the file shrank after its header was sent */
                return -1;
            got += (size_t)k;
            s->left -= (uint64_t)k;
        } else { /* PH_PAD, PH_TRAILER: zeros */
            size_t k = s->left < room ? (size_t)s->left : room;
            memset(s->in + got, 0, k);
            got += k;
            s->left -= k;
            if (s->left == 0) {
                if (s->phase == PH_TRAILER) {
                    s->phase = PH_DONE;
                } else if (++s->i < s->n) {
                    s->phase = PH_HEADER;
                } else {
                    s->phase = PH_TRAILER;
                    s->left = 1024;
                }
            }
        }
    }
    s->z.next_in = s->in;
    s->z.avail_in = (uInt)got;
    if (s->phase == PH_DONE)
        s->input_done = 1;
    return 0;
}

ssize_t artstream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    artstream *s = cls;
    if (pos != s->produced)
        return GW_READER_ERROR;
    if (!s->archive) {
        if (pos >= s->size)
            return GW_READER_END;
        size_t want = s->size - pos < max ? (size_t)(s->size - pos) : max;
        ssize_t k;
        do
            k = pread(s->fd, buf, want, (off_t)pos);
        while (k < 0 && errno == EINTR);
        if (k <= 0) /* shorter than when the download began */
            return GW_READER_ERROR;
        s->produced += (uint64_t)k;
        return k;
    }
    if (s->z_done)
        return GW_READER_END;
    s->z.next_out = (Bytef *)buf;
    s->z.avail_out = (uInt)(max < (1u << 30) ? max : (1u << 30));
    uInt asked = s->z.avail_out;
    while (s->z.avail_out > 0 && !s->z_done) {
        if (s->z.avail_in == 0 && !s->input_done && fill(s))
            return GW_READER_ERROR;
        int zr = deflate(&s->z, s->input_done && s->z.avail_in == 0 ? Z_FINISH : Z_NO_FLUSH);
        if (zr == Z_STREAM_END)
            s->z_done = 1;
        else if (zr != Z_OK && zr != Z_BUF_ERROR)
            return GW_READER_ERROR;
    }
    size_t n = asked - s->z.avail_out;
    s->produced += n;
    return n ? (ssize_t)n : GW_READER_END;
}

void artstream_free(void *cls)
{
    artstream *s = cls;
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    if (s->dfd >= 0)
        close(s->dfd);
    if (s->z_ready)
        deflateEnd(&s->z);
    free_names(s);
    free(s->sizes);
    free(s->prefix);
    free(s->in);
    wbuf_free(&s->stage);
    free(s);
}
