/* modelfile.c - versioned, checksummed container for trained models (see modelfile.h). */
#include "model/modelfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "base/cursor.h"
#include "base/wbuf.h"

static const uint8_t MAGIC[8] = {'M', 'L', 'H', 'E', 'P', 'M', 'O', 'D'};
#define HEADER_SIZE 32u
#define TRAILER_SIZE 8u

typedef struct section {
    char name[MODELFILE_MAX_NAME + 1];
    uint8_t *data;
    size_t len;
} section;

struct modelfile {
    modelfile_kind kind;
    size_t n;
    section sec[MODELFILE_MAX_SECTIONS];
};

modelfile *modelfile_new(modelfile_kind kind)
{
    modelfile *mf = calloc(1, sizeof *mf);
    if (mf)
        mf->kind = kind;
    return mf;
}

void modelfile_free(modelfile *mf)
{
    if (!mf)
        return;
    for (size_t i = 0; i < mf->n; i++)
        free(mf->sec[i].data);
    free(mf);
}

static int valid_kind(uint32_t k) { return k == MODELFILE_KIND_MLP || k == MODELFILE_KIND_GBDT; }

const char *modelfile_kind_name(modelfile_kind k)
{
    return k == MODELFILE_KIND_MLP ? "mlp" : k == MODELFILE_KIND_GBDT ? "gbdt" : "?";
}

/* Checks a section name of n bytes; returns 0 if valid. */
static int check_name(const char *s, size_t n)
{
    if (n == 0 || n > MODELFILE_MAX_NAME)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return -1;
    }
    return 0;
}

static int find(const modelfile *mf, const char *name, size_t n)
{
    for (size_t i = 0; i < mf->n; i++)
        if (strlen(mf->sec[i].name) == n && memcmp(mf->sec[i].name, name, n) == 0)
            return (int)i;
    return -1;
}

static int add_n(modelfile *mf, const char *name, size_t nlen, const void *data, size_t len,
                 mlhep_err *e)
{
    if (check_name(name, nlen))
        return err_set(e, MLHEP_EINVAL,
                       "model file section name '%.*s' is not 1..%u characters of [A-Za-z0-9_.-]",
                       (int)(nlen > 80 ? 80 : nlen), name, MODELFILE_MAX_NAME);
    if (find(mf, name, nlen) >= 0)
        return err_set(e, MLHEP_EINVAL, "model file section '%.*s' appears twice", (int)nlen, name);
    if (mf->n >= MODELFILE_MAX_SECTIONS)
        return err_set(e, MLHEP_EINVAL, "model file has more than %u sections",
                       MODELFILE_MAX_SECTIONS);
    section *s = &mf->sec[mf->n];
    s->data = malloc(len ? len : 1);
    if (!s->data)
        return err_set(e, MLHEP_ENOMEM, "model file section '%.*s': out of memory (%zu bytes)",
                       (int)nlen, name, len);
    if (len)
        memcpy(s->data, data, len);
    memcpy(s->name, name, nlen);
    s->name[nlen] = '\0';
    s->len = len;
    mf->n++;
    return 0;
}

int modelfile_add(modelfile *mf, const char *name, const void *data, size_t len, mlhep_err *e)
{
    return add_n(mf, name, strnlen(name, MODELFILE_MAX_NAME + 1), data, len, e);
}

modelfile_kind modelfile_get_kind(const modelfile *mf) { return mf->kind; }
size_t modelfile_n_sections(const modelfile *mf) { return mf->n; }
const char *modelfile_section_name(const modelfile *mf, size_t i)
{
    return i < mf->n ? mf->sec[i].name : NULL;
}

const uint8_t *modelfile_get(const modelfile *mf, const char *name, size_t *len)
{
    int i = find(mf, name, strlen(name));
    if (i < 0)
        return NULL;
    if (len)
        *len = mf->sec[i].len;
    return mf->sec[i].data;
}

/* Model file layout, version 1. All integers little-endian.
 *
 *   offset  size  field
 *   0       8     magic, the ASCII bytes "MLHEPMOD"
 *   8       4     u32 format version = 1 (readers refuse any other version)
 *   12      4     u32 model kind: 1 = mlp, 2 = gbdt
 *   16      4     u32 number of sections S, 0..64
 *   20      4     u32 flags, 0 (reserved; readers refuse non-zero)
 *   24      8     u64 total file length in bytes, this header and the checksum included
 *   32      ...   S sections, back to back, each:
 *                   2   u16 name length L, 1..64
 *                   L   name, ASCII [A-Za-z0-9_.-], no terminator, unique in the file
 *                   8   u64 data length D
 *                   D   data bytes (meaning given by the model kind; see below)
 *   len-8   8     u64 XXH64 (seed 0) of bytes [0, len-8)
 *
 * The sections must end exactly where the checksum starts. Sections of kind mlp
 * (written by mlp.c): "arch" = normalised architecture JSON (UTF-8, no terminator),
 * "params" = the parameter array as float32 little-endian, "features" (optional) =
 * the data layer's JSON (feature names, normalisation, padding), opaque to the model.
 * Kind gbdt: "gbdt" = the tree library's bytes, "features" as above. */
int modelfile_encode(const modelfile *mf, uint8_t **out, size_t *len, mlhep_err *e)
{
    size_t total = HEADER_SIZE + TRAILER_SIZE;
    for (size_t i = 0; i < mf->n; i++)
        total += 2 + strlen(mf->sec[i].name) + 8 + mf->sec[i].len;
    uint8_t *b = malloc(total);
    if (!b)
        return err_set(e, MLHEP_ENOMEM, "model file: out of memory (%zu bytes)", total);
    memcpy(b, MAGIC, 8);
    wbuf_store_le32(b + 8, MODELFILE_VERSION);
    wbuf_store_le32(b + 12, (uint32_t)mf->kind);
    wbuf_store_le32(b + 16, (uint32_t)mf->n);
    wbuf_store_le32(b + 20, 0);
    wbuf_store_le64(b + 24, (uint64_t)total);
    size_t pos = HEADER_SIZE;
    for (size_t i = 0; i < mf->n; i++) {
        const section *s = &mf->sec[i];
        size_t nl = strlen(s->name);
        wbuf_store_le16(b + pos, (uint16_t)nl);
        memcpy(b + pos + 2, s->name, nl);
        pos += 2 + nl;
        wbuf_store_le64(b + pos, (uint64_t)s->len);
        pos += 8;
        if (s->len)
            memcpy(b + pos, s->data, s->len);
        pos += s->len;
    }
    wbuf_store_le64(b + pos, XXH64(b, pos, 0));
    *out = b;
    *len = total;
    return 0;
}

int modelfile_decode(const uint8_t *buf, size_t len, modelfile **out, mlhep_err *e)
{
    *out = NULL;
    if (len < 8 || memcmp(buf, MAGIC, 8) != 0)
        return err_set(e, MLHEP_EFORMAT, "not an mlhep model file (no \"MLHEPMOD\" magic at the start)");
    if (len < HEADER_SIZE + TRAILER_SIZE)
        return err_set(e, MLHEP_EFORMAT, "model file truncated: %zu bytes, the header alone needs %u",
                       len, HEADER_SIZE + TRAILER_SIZE);
    cursor c;
    cur_init(&c, buf, len);
    cur_skip(&c, 8);
    uint32_t version = cur_le32(&c);
    uint32_t kind = cur_le32(&c);
    uint32_t nsec = cur_le32(&c);
    uint32_t flags = cur_le32(&c);
    uint64_t total = cur_le64(&c);
    if (version != MODELFILE_VERSION)
        return err_set(e, MLHEP_EUNSUPPORTED,
                       "model file format version %u is not supported (this build reads version %u)",
                       version, MODELFILE_VERSION);
    if (total > len)
        return err_set(e, MLHEP_EFORMAT,
                       "model file truncated: header says %llu bytes, only %zu present",
                       (unsigned long long)total, len);
    if (total < len)
        return err_set(e, MLHEP_EFORMAT,
                       "model file has %llu unexpected trailing bytes after its checksum",
                       (unsigned long long)(len - total));
    uint64_t want = 0;
    for (int i = 7; i >= 0; i--)
        want = (want << 8) | buf[len - 8 + (size_t)i];
    uint64_t got = XXH64(buf, len - TRAILER_SIZE, 0);
    if (want != got)
        return err_set(e, MLHEP_EFORMAT,
                       "model file is corrupt: checksum mismatch (stored %016llx, computed %016llx)",
                       (unsigned long long)want, (unsigned long long)got);
    if (!valid_kind(kind))
        return err_set(e, MLHEP_EUNSUPPORTED, "model file holds an unknown model kind %u", kind);
    if (flags != 0)
        return err_set(e, MLHEP_EUNSUPPORTED, "model file has unknown flags 0x%x", flags);
    if (nsec > MODELFILE_MAX_SECTIONS)
        return err_set(e, MLHEP_EFORMAT, "model file claims %u sections (at most %u)", nsec,
                       MODELFILE_MAX_SECTIONS);
    modelfile *mf = modelfile_new((modelfile_kind)kind);
    if (!mf)
        return err_set(e, MLHEP_ENOMEM, "model file: out of memory");
    cursor body;
    cur_init(&body, buf, len - TRAILER_SIZE);
    cur_seek(&body, HEADER_SIZE);
    for (uint32_t i = 0; i < nsec; i++) {
        size_t nl = cur_le16(&body);
        const uint8_t *name = cur_take(&body, nl);
        uint64_t dl = cur_le64(&body);
        const uint8_t *data = dl <= cur_left(&body) ? cur_take(&body, (size_t)dl) : NULL;
        if (!cur_ok(&body) || !name || !data) {
            modelfile_free(mf);
            return err_set(e, MLHEP_EFORMAT,
                           "model file is inconsistent: section %u of %u runs past the end of the data",
                           i + 1, nsec);
        }
        int rc = add_n(mf, (const char *)name, nl, data, (size_t)dl, e);
        if (rc) {
            modelfile_free(mf);
            err_prefix(e, "model file is inconsistent: section %u", i + 1);
            if (rc == MLHEP_EINVAL && e)
                e->code = MLHEP_EFORMAT; /* a bad name in a file is a format error */
            return rc == MLHEP_EINVAL ? MLHEP_EFORMAT : rc;
        }
    }
    if (cur_left(&body) != 0) {
        modelfile_free(mf);
        return err_set(e, MLHEP_EFORMAT,
                       "model file is inconsistent: %zu bytes after the last of %u sections",
                       cur_left(&body), nsec);
    }
    *out = mf;
    return 0;
}

int modelfile_write(const modelfile *mf, const char *path, mlhep_err *e)
{
    uint8_t *b;
    size_t n;
    int rc = modelfile_encode(mf, &b, &n, e);
    if (rc)
        return err_prefix(e, "%s", path);
    size_t plen = strlen(path) + 32;
    char *tmp = malloc(plen);
    if (!tmp) {
        free(b);
        return err_set(e, MLHEP_ENOMEM, "%s: out of memory", path);
    }
    snprintf(tmp, plen, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        rc = err_set(e, MLHEP_EIO, "cannot create %s: %s", tmp, strerror(errno));
        goto done;
    }
    size_t w = fwrite(b, 1, n, f);
    int ferr = ferror(f);
    if (fclose(f) != 0 || w != n || ferr) {
        rc = err_set(e, MLHEP_EIO, "cannot write %s: %s", tmp, strerror(errno));
        remove(tmp);
        goto done;
    }
    if (rename(tmp, path) != 0) {
        rc = err_set(e, MLHEP_EIO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        remove(tmp);
    }
done:
    free(tmp);
    free(b);
    return rc;
}

int modelfile_read(const char *path, modelfile **out, mlhep_err *e)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return err_set(e, errno == ENOENT ? MLHEP_ENOTFOUND : MLHEP_EIO, "cannot open model file %s: %s",
                       path, strerror(errno));
    uint8_t *b = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (;;) {
        if (n == cap) {
            if (cap >= ((size_t)4 << 30)) {
                rc = err_set(e, MLHEP_ENOMEM, "model file %s is larger than 4 GiB", path);
                break;
            }
            cap = cap ? cap * 2 : 65536;
            uint8_t *nb = realloc(b, cap);
            if (!nb) {
                rc = err_set(e, MLHEP_ENOMEM, "model file %s: out of memory", path);
                break;
            }
            b = nb;
        }
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f))
                rc = err_set(e, MLHEP_EIO, "cannot read model file %s: %s", path, strerror(errno));
            break;
        }
    }
    fclose(f);
    if (!rc) {
        rc = modelfile_decode(b ? b : (const uint8_t *)"", n, out, e);
        if (rc)
            err_prefix(e, "%s", path);
    }
    free(b);
    return rc;
}
