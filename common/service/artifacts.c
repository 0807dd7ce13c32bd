/* artifacts.c - see artifacts.h. */
#include "service/artifacts.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

/* Sorted names of the regular files in dir (caller frees each and the array). */
static int list_files(const char *dir, char ***names, size_t *count, mlhep_err *e)
{
    DIR *d = opendir(dir);
    if (!d)
        return err_set(e, MLHEP_EIO, "cannot open %s: %s", dir, strerror(errno));
    char **v = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d))) {
        char p[4096];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        if (lstat(p, &st) || !S_ISREG(st.st_mode))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **nv = realloc(v, cap * sizeof *v);
            if (!nv) {
                rc = err_set(e, MLHEP_ENOMEM, "out of memory");
                break;
            }
            v = nv;
        }
        if (!(v[n] = strdup(de->d_name))) {
            rc = err_set(e, MLHEP_ENOMEM, "out of memory");
            break;
        }
        n++;
    }
    closedir(d);
    if (rc) {
        for (size_t i = 0; i < n; i++)
            free(v[i]);
        free(v);
        return rc;
    }
    if (n)
        qsort(v, n, sizeof *v, cmpstr);
    *names = v;
    *count = n;
    return 0;
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
    int rc = list_files(tmp, &names, &n, e);
    if (rc)
        return rc;
    for (size_t i = 0; i < n && !rc; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", tmp, names[i]);
        if (fsync_path(p, 0))
            rc = err_set(e, MLHEP_EIO, "fsync %s: %s", p, strerror(errno));
    }
    free_names(names, n);
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

int artifacts_remove(const char *dir, mlhep_err *e)
{
    char **names;
    size_t n;
    int rc = list_files(dir, &names, &n, e);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    free_names(names, n);
    if (rmdir(dir))
        return err_set(e, MLHEP_EIO, "cannot remove %s: %s", dir, strerror(errno));
    return 0;
}

int artifacts_copy(const char *src, const char *dst, mlhep_err *e)
{
    char **names;
    size_t n;
    int rc = list_files(src, &names, &n, e);
    if (rc)
        return rc;
    rc = artifacts_mkdirs(dst, e);
    for (size_t i = 0; i < n && !rc; i++) {
        char ps[4096], pd[4096];
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
