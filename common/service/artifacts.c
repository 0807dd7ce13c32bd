/* artifacts.c - see artifacts.h. */
#include "service/artifacts.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "service/job.h"

int artifacts_final_path(const char *root, const char *user, const char *id, char *out,
                         size_t outsz, mlhep_err *e)
{
    if (!job_user_valid(user) || !job_id_valid(id))
        return err_set(e, MLHEP_EINVAL, "invalid user or job id for an artifact path");
    if ((size_t)snprintf(out, outsz, "%s/%s/%s", root, user, id) >= outsz)
        return err_set(e, MLHEP_EINVAL, "artifact path too long");
    return 0;
}

int artifacts_mkdirs(const char *path, mlhep_err *e)
{
    char buf[4096];
    if (strlen(path) >= sizeof buf)
        return err_set(e, MLHEP_EINVAL, "path too long");
    strcpy(buf, path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) && errno != EEXIST)
            return err_set(e, MLHEP_EIO, "cannot create %s: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0750) && errno != EEXIST)
        return err_set(e, MLHEP_EIO, "cannot create %s: %s", buf, strerror(errno));
    return 0;
}

int artifacts_tmpdir(const char *root, const char *user, const char *id, long long lease,
                     char *out, size_t outsz, mlhep_err *e)
{
    if (!job_user_valid(user) || !job_id_valid(id))
        return err_set(e, MLHEP_EINVAL, "invalid user or job id for an artifact path");
    char udir[4096];
    if ((size_t)snprintf(udir, sizeof udir, "%s/%s", root, user) >= sizeof udir)
        return err_set(e, MLHEP_EINVAL, "artifact path too long");
    int rc = artifacts_mkdirs(udir, e);
    if (rc)
        return err_prefix(e, "artifact store");
    if ((size_t)snprintf(out, outsz, "%s/.tmp-%s-L%lld-XXXXXX", udir, id, lease) >= outsz)
        return err_set(e, MLHEP_EINVAL, "artifact path too long");
    if (!mkdtemp(out))
        return err_set(e, MLHEP_EIO, "cannot create temp dir in %s: %s", udir, strerror(errno));
    return 0;
}

int artifacts_tmpdir_parse(const char *name, char *id, long long *lease)
{
    /* .tmp-<32 hex>-L<lease>-XXXXXX */
    if (strncmp(name, ".tmp-", 5) != 0 || strlen(name) < 5 + JOB_ID_HEX + 4)
        return 0;
    memcpy(id, name + 5, JOB_ID_HEX);
    id[JOB_ID_HEX] = '\0';
    const char *p = name + 5 + JOB_ID_HEX;
    if (!job_id_valid(id) || p[0] != '-' || p[1] != 'L' || p[2] < '0' || p[2] > '9')
        return 0;
    long long v = 0;
    for (p += 2; *p >= '0' && *p <= '9'; p++) {
        if (v > (INT64_MAX - 9) / 10)
            return 0;
        v = v * 10 + (*p - '0');
    }
    if (*p != '-')
        return 0;
    *lease = v;
    return 1;
}

static int sha256_file(const char *path, char hex[65], long long *bytes)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    unsigned char buf[65536], md[32];
    size_t n;
    *bytes = 0;
    while (ok && (n = fread(buf, 1, sizeof buf, f)) > 0) {
        ok = EVP_DigestUpdate(ctx, buf, n);
        *bytes += (long long)n;
    }
    ok = ok && !ferror(f);
    unsigned mdlen = 0;
    ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) && mdlen == 32;
    EVP_MD_CTX_free(ctx);
    fclose(f);
    if (!ok)
        return -1;
    for (int i = 0; i < 32; i++)
        sprintf(hex + 2 * i, "%02x", md[i]);
    return 0;
}

static int cmpstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int artifacts_name_valid(const char *name)
{
    if (!name || !*name || strlen(name) >= ARTIFACTS_NAME_MAX)
        return 0;
    int depth = 0;
    for (const char *g = name; *g;) {
        const char *ge = strchr(g, '/');
        size_t gl = ge ? (size_t)(ge - g) : strlen(g);
        if (gl == 0 || (gl == 1 && g[0] == '.') || (gl == 2 && g[0] == '.' && g[1] == '.') ||
            ++depth > ARTIFACTS_DEPTH_MAX)
            return 0;
        for (size_t i = 0; i < gl; i++) {
            unsigned char c = (unsigned char)g[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                  c == '_' || c == '-' || c == '@'))
                return 0;
        }
        if (!ge)
            break;
        if (!ge[1])
            return 0; /* a trailing slash */
        g = ge + 1;
    }
    return 1;
}

typedef struct {
    char **v;
    size_t n, cap;
} namelist;

static int namelist_add(namelist *l, const char *s, mlhep_err *e)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        char **nv = realloc(l->v, cap * sizeof *nv);
        if (!nv)
            return err_set(e, MLHEP_ENOMEM, "out of memory");
        l->v = nv;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(s)))
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    l->n++;
    return 0;
}

/* Adds the regular files under root/rel (rel "" for root itself) to files as names
 * relative to root, and the sub-directories to dirs (if given), parents first. Links and
 * other file types are skipped, as are names artifacts_name_valid refuses. */
static int walk(const char *root, const char *rel, int depth, namelist *files, namelist *dirs, mlhep_err *e)
{
    char here[4096];
    snprintf(here, sizeof here, "%s%s%s", root, *rel ? "/" : "", rel);
    DIR *d = opendir(here);
    if (!d)
        return err_set(e, MLHEP_EIO, "cannot open %s: %s", here, strerror(errno));
    struct dirent *de;
    int rc = 0;
    while (!rc && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char name[ARTIFACTS_NAME_MAX + 8], p[4096 + ARTIFACTS_NAME_MAX + 8];
        if ((size_t)snprintf(name, sizeof name, "%s%s%s", rel, *rel ? "/" : "", de->d_name) >= ARTIFACTS_NAME_MAX ||
            !artifacts_name_valid(name))
            continue;
        snprintf(p, sizeof p, "%s/%s", root, name);
        struct stat st;
        if (lstat(p, &st))
            continue;
        if (S_ISREG(st.st_mode)) {
            rc = namelist_add(files, name, e);
        } else if (S_ISDIR(st.st_mode) && depth + 1 < ARTIFACTS_DEPTH_MAX) {
            if (dirs)
                rc = namelist_add(dirs, name, e);
            if (!rc)
                rc = walk(root, name, depth + 1, files, dirs, e);
        }
    }
    closedir(d);
    return rc;
}

static void free_names(char **v, size_t n);

/* Sorted names, relative to dir, of the regular files in dir and its sub-directories
 * (caller frees each and the array); the sub-directories in *dirs (parents first) when
 * dirs is not NULL. */
static int list_tree(const char *dir, char ***names, size_t *count, namelist *dirs, mlhep_err *e)
{
    namelist l = {0};
    int rc = walk(dir, "", 0, &l, dirs, e);
    if (rc) {
        free_names(l.v, l.n);
        return rc;
    }
    if (l.n)
        qsort(l.v, l.n, sizeof *l.v, cmpstr);
    if (dirs && dirs->n)
        qsort(dirs->v, dirs->n, sizeof *dirs->v, cmpstr); /* a parent sorts before its children */
    *names = l.v;
    *count = l.n;
    return 0;
}

static int list_files(const char *dir, char ***names, size_t *count, mlhep_err *e)
{
    return list_tree(dir, names, count, NULL, e);
}

static void free_names(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int artifacts_manifest(const char *dir, json_t *info, mlhep_err *e)
{
    char **names;
    size_t n;
    int rc = list_files(dir, &names, &n, e);
    if (rc)
        return rc;
    json_t *m = info ? json_deep_copy(info) : json_object();
    json_t *files = json_array();
    for (size_t i = 0; i < n && !rc; i++) {
        if (strcmp(names[i], "MANIFEST.json") == 0)
            continue;
        char p[4096], hex[65];
        long long bytes;
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        if (sha256_file(p, hex, &bytes))
            rc = err_set(e, MLHEP_EIO, "cannot read %s", p);
        else
            json_array_append_new(files, json_pack("{s:s, s:I, s:s}", "name", names[i], "bytes",
                                                   (json_int_t)bytes, "sha256", hex));
    }
    free_names(names, n);
    if (!rc) {
        json_object_set_new(m, "files", files);
        char p[4096];
        snprintf(p, sizeof p, "%s/MANIFEST.json", dir);
        if (json_dump_file(m, p, JSON_INDENT(2) | JSON_SORT_KEYS))
            rc = err_set(e, MLHEP_EIO, "cannot write %s", p);
    } else {
        json_decref(files);
    }
    json_decref(m);
    return rc;
}

static int fsync_path(const char *p, int dir)
{
    int fd = open(p, (dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

int artifacts_commit(const char *tmp, const char *final, mlhep_err *e)
{
    char **names;
    size_t n;
    namelist dirs = {0};
    int rc = list_tree(tmp, &names, &n, &dirs, e);
    if (rc) {
        free_names(dirs.v, dirs.n);
        return rc;
    }
    for (size_t i = 0; i < n + dirs.n && !rc; i++) {
        char p[4096 + ARTIFACTS_NAME_MAX];
        snprintf(p, sizeof p, "%s/%s", tmp, i < n ? names[i] : dirs.v[i - n]);
        if (fsync_path(p, i >= n))
            rc = err_set(e, MLHEP_EIO, "fsync %s: %s", p, strerror(errno));
    }
    free_names(names, n);
    free_names(dirs.v, dirs.n);
    if (rc)
        return rc;
    if (fsync_path(tmp, 1))
        return err_set(e, MLHEP_EIO, "fsync %s: %s", tmp, strerror(errno));
    if (rename(tmp, final) != 0) {
        if (errno == EEXIST || errno == ENOTEMPTY)
            return ARTIFACTS_EXISTS;
        return err_set(e, MLHEP_EIO, "cannot publish artifacts %s -> %s: %s", tmp, final,
                       strerror(errno));
    }
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", final);
    char *slash = strrchr(parent, '/');
    if (slash) {
        *slash = '\0';
        fsync_path(parent, 1);
    }
    return 0;
}

/* nftw callback: removes one entry, children before parents, links as links. */
static int remove_entry(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return (type == FTW_DP ? rmdir(p) : unlink(p)) ? -1 : 0;
}

int artifacts_remove(const char *dir, mlhep_err *e)
{
    /* everything in the set goes, whatever its name or type; no link is followed */
    if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return err_set(e, MLHEP_EIO, "cannot remove %s: %s", dir, strerror(errno));
    return 0;
}

int artifacts_copy(const char *src, const char *dst, mlhep_err *e)
{
    char **names;
    size_t n;
    namelist dirs = {0};
    int rc = list_tree(src, &names, &n, &dirs, e);
    if (rc) {
        free_names(dirs.v, dirs.n);
        return rc;
    }
    rc = artifacts_mkdirs(dst, e);
    for (size_t i = 0; i < dirs.n && !rc; i++) { /* parents first */
        char pd[4096 + ARTIFACTS_NAME_MAX];
        snprintf(pd, sizeof pd, "%s/%s", dst, dirs.v[i]);
        if (mkdir(pd, 0755) && errno != EEXIST)
            rc = err_set(e, MLHEP_EIO, "cannot create %s: %s", pd, strerror(errno));
    }
    free_names(dirs.v, dirs.n);
    for (size_t i = 0; i < n && !rc; i++) {
        char ps[4096 + ARTIFACTS_NAME_MAX], pd[4096 + ARTIFACTS_NAME_MAX];
        snprintf(ps, sizeof ps, "%s/%s", src, names[i]);
        snprintf(pd, sizeof pd, "%s/%s", dst, names[i]);
        FILE *in = fopen(ps, "rb"), *out = in ? fopen(pd, "wb") : NULL;
        if (!in || !out) {
            rc = err_set(e, MLHEP_EIO, "cannot copy %s to %s: %s", ps, pd, strerror(errno));
        } else {
            char buf[65536];
            size_t k;
            while ((k = fread(buf, 1, sizeof buf, in)) > 0)
                if (fwrite(buf, 1, k, out) != k) {
                    rc = err_set(e, MLHEP_EIO, "write %s: %s", pd, strerror(errno));
                    break;
                }
        }
        if (in)
            fclose(in);
        if (out && fclose(out) && !rc)
            rc = err_set(e, MLHEP_EIO, "write %s: %s", pd, strerror(errno));
    }
    free_names(names, n);
    return rc;
}
