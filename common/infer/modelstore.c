/* modelstore.c - see modelstore.h. */
#include "infer/modelstore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "service/artifacts.h"

#define INDEX_MAX_BYTES (16u << 20)

struct modelstore {
    char *root;
    char reg[3100]; /* <root>/.models (root is at most 3000 bytes) */
};

int modelstore_name_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > MS_NAME_MAX || job_id_valid(s))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-')))
            return 0;
    }
    return 1;
}

int modelstore_open(const char *root, modelstore **out, mlhep_err *e)
{
    *out = NULL;
    if (!root || !*root || strlen(root) > 3000)
        return err_set(e, MLHEP_EINVAL, "model store: no (or too long an) artifact directory configured");
    modelstore *ms = calloc(1, sizeof *ms);
    if (!ms || !(ms->root = strdup(root))) {
        free(ms);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    snprintf(ms->reg, sizeof ms->reg, "%s/.models", root);
    *out = ms;
    return 0;
}

void modelstore_close(modelstore *ms)
{
    if (!ms)
        return;
    free(ms->root);
    free(ms);
}

/* ---- index documents ---- */

static json_t *read_json(const char *path, int *missing, mlhep_err *e)
{
    *missing = 0;
    json_error_t je;
    FILE *f = fopen(path, "rb");
    if (!f) {
        *missing = errno == ENOENT || errno == ENOTDIR;
        err_set(e, *missing ? MLHEP_ENOTFOUND : MLHEP_EIO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    json_t *j = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
    fclose(f);
    if (!j)
        err_set(e, MLHEP_EFORMAT, "%s: invalid JSON at line %d: %s", path, je.line, je.text);
    return j;
}

static int write_json_atomic(const char *path, json_t *doc, mlhep_err *e)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    if (json_dump_file(doc, tmp, JSON_INDENT(1) | JSON_SORT_KEYS)) {
        unlink(tmp);
        return err_set(e, MLHEP_EIO, "cannot write %s", tmp);
    }
    int fd = open(tmp, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    if (rename(tmp, path)) {
        int er = errno;
        unlink(tmp);
        return err_set(e, MLHEP_EIO, "cannot rename %s: %s", tmp, strerror(er));
    }
    return 0;
}

static int index_path(const modelstore *ms, const char *name, char *out, size_t n)
{
    return (size_t)snprintf(out, n, "%s/%s/index.json", ms->reg, name) >= n ? -1 : 0;
}

/* Loads NAME's index; MLHEP_ENOTFOUND (message naming the model) if there is none. */
static int load_index(const modelstore *ms, const char *name, json_t **out, mlhep_err *e)
{
    *out = NULL;
    char p[4200];
    if (index_path(ms, name, p, sizeof p))
        return err_set(e, MLHEP_EINVAL, "model name too long");
    int missing;
    json_t *j = read_json(p, &missing, e);
    if (!j)
        return missing ? err_set(e, MLHEP_ENOTFOUND, "unknown model '%s'", name) : e->code;
    if (!json_is_object(j) || !json_is_array(json_object_get(j, "versions")) ||
        !json_is_string(json_object_get(j, "owner"))) {
        json_decref(j);
        return err_set(e, MLHEP_EFORMAT, "model '%s': index.json is damaged", name);
    }
    *out = j;
    return 0;
}

static const char *owner_of(const json_t *idx)
{
    return json_string_value(json_object_get(idx, "owner"));
}

static int is_shared(const json_t *idx)
{
    return json_is_true(json_object_get(idx, "shared"));
}

/* Splits "NAME@V" into name and version (0 = latest, -1 = "all"). */
static int split_ref(const char *ref, char name[MS_NAME_MAX + 1], int *version, mlhep_err *e)
{
    const char *at = strchr(ref, '@');
    size_t n = at ? (size_t)(at - ref) : strlen(ref);
    if (n == 0 || n > MS_NAME_MAX)
        return err_set(e, MLHEP_EINVAL, "'%.160s' is not a model reference (NAME, NAME@N, NAME@latest or a job id)", ref);
    memcpy(name, ref, n);
    name[n] = '\0';
    *version = 0;
    if (at) {
        const char *v = at + 1;
        if (!strcmp(v, "latest")) {
            *version = 0;
        } else if (!strcmp(v, "all")) {
            *version = -1;
        } else {
            char *end;
            errno = 0;
            long x = strtol(v, &end, 10);
            if (!*v || *end || errno || x < 1 || x > INT_MAX || v[0] == '+' || v[0] == '-' || v[0] == ' ')
                return err_set(e, MLHEP_EINVAL, "'%.160s': version must be a positive number or 'latest'", ref);
            *version = (int)x;
        }
    }
    if (!modelstore_name_valid(name))
        return err_set(e, MLHEP_EINVAL, "'%.160s' is not a model name (1-%d of [A-Za-z0-9_.-], starting with a letter "
                                        "or digit)",
                       name, MS_NAME_MAX);
    return 0;
}

static json_t *find_version(json_t *idx, int version)
{
    json_t *vs = json_object_get(idx, "versions"), *best = NULL, *v;
    size_t i;
    json_array_foreach(vs, i, v) {
        int n = (int)json_integer_value(json_object_get(v, "version"));
        if (version > 0 ? n == version : (!best || n > json_integer_value(json_object_get(best, "version"))))
            best = v;
        if (version > 0 && best)
            break;
    }
    return best;
}

int modelstore_resolve(modelstore *ms, const char *user, const char *ref, ms_ref *out, mlhep_err *e)
{
    memset(out, 0, sizeof *out);
    if (!job_user_valid(user))
        return err_set(e, MLHEP_EAUTH, "invalid user");
    if (!ref || !*ref)
        return err_set(e, MLHEP_EINVAL, "no model given");
    if (job_id_valid(ref)) {
        char dir[4096];
        if (artifacts_final_path(ms->root, user, ref, dir, sizeof dir, e))
            return e->code;
        if ((size_t)snprintf(out->path, sizeof out->path, "%s/model.mlhep", dir) >= sizeof out->path)
            return err_set(e, MLHEP_EINVAL, "path too long");
        struct stat st;
        if (stat(out->path, &st) || !S_ISREG(st.st_mode))
            return err_set(e, MLHEP_ENOTFOUND, "unknown model '%s': no job of yours with that id has a model", ref);
        snprintf(out->canonical, sizeof out->canonical, "%s", ref);
        snprintf(out->owner, sizeof out->owner, "%s", user);
        return 0;
    }
    char name[MS_NAME_MAX + 1];
    int version;
    int rc = split_ref(ref, name, &version, e);
    if (rc)
        return rc;
    if (version < 0)
        return err_set(e, MLHEP_EINVAL, "'%s': @all names every version; predict needs one", ref);
    json_t *idx;
    if ((rc = load_index(ms, name, &idx, e)))
        return rc;
    const char *owner = owner_of(idx);
    int shared = is_shared(idx);
    if (strcmp(owner, user) && !shared) {
        json_decref(idx);
        return err_set(e, MLHEP_EAUTH, "model '%s' belongs to another user and is not shared", name);
    }
    json_t *v = find_version(idx, version);
    if (!v) {
        json_decref(idx);
        return version > 0 ? err_set(e, MLHEP_ENOTFOUND, "unknown model '%s': version %d does not exist", ref, version)
                           : err_set(e, MLHEP_ENOTFOUND, "unknown model '%s': it has no version", name);
    }
    int n = (int)json_integer_value(json_object_get(v, "version"));
    snprintf(out->canonical, sizeof out->canonical, "%s@%d", name, n);
    snprintf(out->owner, sizeof out->owner, "%s", owner);
    snprintf(out->path, sizeof out->path, "%s/%s/v%d/model.mlhep", ms->reg, name, n);
    out->shared = shared;
    out->version = n;
    json_decref(idx);
    return 0;
}

/* ---- writers ---- */

static int lock_registry(modelstore *ms, int *fd, mlhep_err *e)
{
    if (mkdir(ms->reg, 0755) && errno != EEXIST)
        return err_set(e, MLHEP_EIO, "cannot create %s: %s", ms->reg, strerror(errno));
    char p[4200];
    snprintf(p, sizeof p, "%s/.lock", ms->reg);
    *fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (*fd < 0)
        return err_set(e, MLHEP_EIO, "cannot open %s: %s", p, strerror(errno));
    if (flock(*fd, LOCK_EX)) {
        close(*fd);
        return err_set(e, MLHEP_EIO, "cannot lock %s: %s", p, strerror(errno));
    }
    return 0;
}

static void unlock_registry(int fd)
{
    if (fd >= 0) {
        flock(fd, LOCK_UN);
        close(fd);
    }
}

static int copy_file(const char *src, const char *dst, mlhep_err *e)
{
    FILE *in = fopen(src, "rb");
    if (!in)
        return err_set(e, MLHEP_EIO, "cannot read %s: %s", src, strerror(errno));
    FILE *o = fopen(dst, "wb");
    if (!o) {
        fclose(in);
        return err_set(e, MLHEP_EIO, "cannot write %s: %s", dst, strerror(errno));
    }
    char buf[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, o) != n) {
            rc = err_set(e, MLHEP_EIO, "cannot write %s", dst);
            break;
        }
    if (!rc && ferror(in))
        rc = err_set(e, MLHEP_EIO, "cannot read %s", src);
    fclose(in);
    if (!rc && (fflush(o) || fsync(fileno(o))))
        rc = err_set(e, MLHEP_EIO, "cannot write %s", dst);
    if (fclose(o) && !rc)
        rc = err_set(e, MLHEP_EIO, "cannot write %s", dst);
    return rc;
}

/* Scalars of a metrics document: top-level numbers/strings/booleans, and those of a
 * "final" or "summary" object. */
static json_t *metrics_summary(const json_t *m)
{
    json_t *s = json_object();
    const char *k;
    json_t *v;
    if (!json_is_object(m))
        return s;
    json_object_foreach((json_t *)m, k, v) {
        if (json_is_number(v) || json_is_string(v) || json_is_boolean(v))
            json_object_set(s, k, v);
        else if (json_is_object(v) && (!strcmp(k, "final") || !strcmp(k, "summary"))) {
            const char *k2;
            json_t *v2;
            json_object_foreach(v, k2, v2)
                if (json_is_number(v2) || json_is_string(v2) || json_is_boolean(v2))
                    json_object_set(s, k2, v2);
        }
    }
    return s;
}

/* Model facts for listings, from a loaded model. */
static void describe_model(json_t *o, const predict_model *m, const char *path)
{
    const featmap *fm = predict_model_featmap(m);
    json_t *names = json_array();
    for (size_t i = 0; i < fm->nfeat; i++)
        json_array_append_new(names, json_string(fm->feat[i].name));
    json_object_set_new(o, "kind", json_string(predict_model_kind(m)));
    json_object_set_new(o, "features", names);
    json_object_set_new(o, "width", json_integer(fm->width));
    json_object_set_new(o, "outputs", json_integer((json_int_t)predict_model_outputs(m)));
    struct stat st;
    if (!stat(path, &st))
        json_object_set_new(o, "bytes", json_integer((json_int_t)st.st_size));
}

int modelstore_tag(modelstore *ms, const char *user, const char *job_id, const char *name, int shared, int *version,
                   mlhep_err *e)
{
    if (version)
        *version = 0;
    if (!job_user_valid(user))
        return err_set(e, MLHEP_EAUTH, "invalid user");
    if (!job_id_valid(job_id))
        return err_set(e, MLHEP_EINVAL, "'%.64s' is not a job id (32 lower-case hex digits)", job_id);
    if (!modelstore_name_valid(name))
        return err_set(e, MLHEP_EINVAL, "'%.160s' is not a model name (1-%d of [A-Za-z0-9_.-], starting with a letter "
                                        "or digit, not a job id)",
                       name, MS_NAME_MAX);
    ms_ref src;
    int rc = modelstore_resolve(ms, user, job_id, &src, e);
    if (rc)
        return rc;
    predict_model *pm = NULL;
    if ((rc = predict_model_load_file(src.path, &pm, e)))
        return err_prefix(e, "job %s", job_id);
    int lfd = -1;
    json_t *idx = NULL;
    if ((rc = lock_registry(ms, &lfd, e))) {
        predict_model_free(pm);
        return rc;
    }
    char dir[4200], vdir[4300], p[4400];
    snprintf(dir, sizeof dir, "%s/%s", ms->reg, name);
    rc = load_index(ms, name, &idx, e);
    if (rc == MLHEP_ENOTFOUND) {
        if (mkdir(dir, 0755) && errno != EEXIST) {
            rc = err_set(e, MLHEP_EIO, "cannot create %s: %s", dir, strerror(errno));
        } else {
            idx = json_pack("{s:s, s:s, s:b, s:I, s:I, s:[]}", "name", name, "owner", user, "shared", shared > 0,
                            "created", (json_int_t)time(NULL), "next", (json_int_t)1, "versions");
            rc = idx ? 0 : err_set(e, MLHEP_ENOMEM, "out of memory");
        }
    }
    if (!rc && strcmp(owner_of(idx), user))
        rc = err_set(e, MLHEP_EAUTH, "model name '%s' belongs to another user", name);
    int n = 0;
    if (!rc) {
        n = (int)json_integer_value(json_object_get(idx, "next"));
        if (n < 1)
            n = 1;
        snprintf(vdir, sizeof vdir, "%s/v%d", dir, n);
        if (mkdir(vdir, 0755) && errno != EEXIST)
            rc = err_set(e, MLHEP_EIO, "cannot create %s: %s", vdir, strerror(errno));
    }
    if (!rc) {
        snprintf(p, sizeof p, "%s/model.mlhep", vdir);
        rc = copy_file(src.path, p, e);
    }
    json_t *metrics = NULL;
    if (!rc) {
        char mp[4200];
        snprintf(mp, sizeof mp, "%.4000s", src.path);
        char *slash = strrchr(mp, '/');
        if (slash)
            strcpy(slash + 1, "metrics.json");
        int missing;
        mlhep_err me;
        json_t *mj = read_json(mp, &missing, &me);
        metrics = metrics_summary(mj);
        if (mj) {
            snprintf(p, sizeof p, "%s/metrics.json", vdir);
            copy_file(mp, p, &me); /* best effort: the summary is in the index anyway */
        }
        json_decref(mj);
    }
    if (!rc) {
        json_t *v = json_pack("{s:i, s:s, s:I, s:o}", "version", n, "job", job_id, "created", (json_int_t)time(NULL),
                              "metrics", metrics ? metrics : json_object());
        metrics = NULL;
        snprintf(p, sizeof p, "%s/model.mlhep", vdir);
        if (v)
            describe_model(v, pm, p);
        if (!v || json_array_append_new(json_object_get(idx, "versions"), v))
            rc = err_set(e, MLHEP_ENOMEM, "out of memory");
        json_object_set_new(idx, "next", json_integer(n + 1));
        if (shared >= 0)
            json_object_set_new(idx, "shared", json_boolean(shared > 0));
        char ip[4300];
        snprintf(ip, sizeof ip, "%s/index.json", dir);
        if (!rc)
            rc = write_json_atomic(ip, idx, e);
    }
    json_decref(metrics);
    json_decref(idx);
    unlock_registry(lfd);
    predict_model_free(pm);
    if (!rc && version)
        *version = n;
    return rc;
}

static int remove_version_dir(const char *vdir)
{
    mlhep_err e;
    return artifacts_remove(vdir, &e);
}

int modelstore_delete(modelstore *ms, const char *user, const char *ref, mlhep_err *e)
{
    if (!job_user_valid(user))
        return err_set(e, MLHEP_EAUTH, "invalid user");
    if (ref && job_id_valid(ref))
        return err_set(e, MLHEP_EINVAL, "'%s' is a job id: job artifacts are not deleted here (delete named models: "
                                        "NAME@N or NAME)",
                       ref);
    char name[MS_NAME_MAX + 1];
    int version;
    int rc = split_ref(ref ? ref : "", name, &version, e);
    if (rc)
        return rc;
    int all = version < 0 || !strchr(ref, '@');
    int lfd = -1;
    if ((rc = lock_registry(ms, &lfd, e)))
        return rc;
    json_t *idx = NULL;
    rc = load_index(ms, name, &idx, e);
    if (!rc && strcmp(owner_of(idx), user))
        rc = is_shared(idx) ? err_set(e, MLHEP_EAUTH, "model '%s' belongs to another user: only its owner deletes it", name)
                            : err_set(e, MLHEP_EAUTH, "model '%s' belongs to another user and is not shared", name);
    char dir[4200], vdir[4600];
    snprintf(dir, sizeof dir, "%s/%s", ms->reg, name);
    json_t *vs = idx ? json_object_get(idx, "versions") : NULL;
    if (!rc && !all) {
        size_t i, found = (size_t)-1;
        json_t *v;
        json_array_foreach(vs, i, v)
            if (json_integer_value(json_object_get(v, "version")) == version)
                found = i;
        if (found == (size_t)-1) {
            rc = err_set(e, MLHEP_ENOTFOUND, "unknown model '%s': version %d does not exist", ref, version);
        } else {
            json_array_remove(vs, found);
            char ip[4300];
            snprintf(ip, sizeof ip, "%s/index.json", dir);
            if (!(rc = write_json_atomic(ip, idx, e))) {
                snprintf(vdir, sizeof vdir, "%s/v%d", dir, version);
                remove_version_dir(vdir);
            }
        }
    } else if (!rc) {
        /* index first: once it is gone the name resolves to nothing */
        char ip[4300];
        snprintf(ip, sizeof ip, "%s/index.json", dir);
        if (unlink(ip)) {
            rc = err_set(e, MLHEP_EIO, "cannot remove %s: %s", ip, strerror(errno));
        } else {
            DIR *d = opendir(dir);
            struct dirent *de;
            while (d && (de = readdir(d))) {
                if (de->d_name[0] == 'v') {
                    snprintf(vdir, sizeof vdir, "%s/%s", dir, de->d_name);
                    remove_version_dir(vdir);
                }
            }
            if (d)
                closedir(d);
            artifacts_remove(dir, e);
            rc = 0;
        }
    }
    json_decref(idx);
    unlock_registry(lfd);
    return rc;
}

int modelstore_share(modelstore *ms, const char *user, const char *name, int shared, mlhep_err *e)
{
    if (!job_user_valid(user))
        return err_set(e, MLHEP_EAUTH, "invalid user");
    if (!modelstore_name_valid(name))
        return err_set(e, MLHEP_EINVAL, "'%.160s' is not a model name", name);
    int lfd = -1, rc;
    if ((rc = lock_registry(ms, &lfd, e)))
        return rc;
    json_t *idx = NULL;
    rc = load_index(ms, name, &idx, e);
    if (!rc && strcmp(owner_of(idx), user))
        rc = err_set(e, MLHEP_EAUTH, "model '%s' belongs to another user: only its owner shares it", name);
    if (!rc) {
        json_object_set_new(idx, "shared", json_boolean(shared));
        char ip[4300];
        snprintf(ip, sizeof ip, "%s/%s/index.json", ms->reg, name);
        rc = write_json_atomic(ip, idx, e);
    }
    json_decref(idx);
    unlock_registry(lfd);
    return rc;
}

static int cmp_name(const void *a, const void *b)
{
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "name"));
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "name"));
    return strcmp(x ? x : "", y ? y : "");
}

int modelstore_list(modelstore *ms, const char *user, json_t **out, mlhep_err *e)
{
    *out = NULL;
    if (!job_user_valid(user))
        return err_set(e, MLHEP_EAUTH, "invalid user");
    json_t *models = json_array(), *jobs = json_array();
    DIR *d = opendir(ms->reg);
    struct dirent *de;
    size_t cap = 0, n = 0;
    json_t **tmp = NULL;
    while (d && (de = readdir(d))) {
        if (!modelstore_name_valid(de->d_name))
            continue;
        json_t *idx;
        mlhep_err le;
        if (load_index(ms, de->d_name, &idx, &le))
            continue;
        int mine = !strcmp(owner_of(idx), user);
        if (!mine && !is_shared(idx)) {
            json_decref(idx);
            continue;
        }
        json_object_set_new(idx, "mine", json_boolean(mine));
        json_object_del(idx, "next");
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            json_t **t = realloc(tmp, cap * sizeof *t);
            if (!t) {
                json_decref(idx);
                break;
            }
            tmp = t;
        }
        tmp[n++] = idx;
    }
    if (d)
        closedir(d);
    if (n)
        qsort(tmp, n, sizeof *tmp, cmp_name);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(models, tmp[i]);
    free(tmp);
    /* the user's jobs holding a model */
    char udir[4200];
    snprintf(udir, sizeof udir, "%s/%s", ms->root, user);
    d = opendir(udir);
    while (d && (de = readdir(d))) {
        if (!job_id_valid(de->d_name))
            continue;
        char p[4500];
        snprintf(p, sizeof p, "%s/%s/model.mlhep", udir, de->d_name);
        struct stat st;
        if (stat(p, &st) || !S_ISREG(st.st_mode))
            continue;
        json_t *o = json_pack("{s:s, s:I}", "id", de->d_name, "created", (json_int_t)st.st_mtime);
        predict_model *pm;
        mlhep_err le;
        if (!predict_model_load_file(p, &pm, &le)) {
            describe_model(o, pm, p);
            predict_model_free(pm);
        } else {
            json_object_set_new(o, "error", json_string(le.msg));
        }
        json_array_append_new(jobs, o);
    }
    if (d)
        closedir(d);
    *out = json_pack("{s:o, s:o}", "models", models, "jobs", jobs);
    return *out ? 0 : err_set(e, MLHEP_ENOMEM, "out of memory");
}

/* ---- cache ---- */

typedef struct centry {
    char path[4096];
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    predict_model *m;
    size_t bytes;
    uint64_t used;
    double checked;
} centry;

typedef struct rentry {
    char user[JOB_USER_MAX + 1];
    char ref[MS_REF_MAX];
    ms_ref r;
    double at;
    uint64_t used;
    int valid;
} rentry;

#define NRES 256

struct mscache {
    modelstore *ms;
    mscache_opts o;
    centry *ent;
    size_t n;
    rentry res[NRES];
    uint64_t tick;
    mscache_stats st;
};

int mscache_new(modelstore *ms, const mscache_opts *o, mscache **out, mlhep_err *e)
{
    *out = NULL;
    mscache *c = calloc(1, sizeof *c);
    if (!c)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    c->ms = ms;
    c->o.max_models = o && o->max_models ? o->max_models : 16;
    c->o.max_bytes = o && o->max_bytes ? o->max_bytes : ((size_t)1 << 30);
    c->o.ttl_s = o && o->ttl_s > 0 ? o->ttl_s : 1.0;
    c->ent = calloc(c->o.max_models + 1, sizeof *c->ent);
    if (!c->ent) {
        free(c);
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    }
    *out = c;
    return 0;
}

void mscache_free(mscache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        predict_model_free(c->ent[i].m);
    free(c->ent);
    free(c);
}

static void drop_entry(mscache *c, size_t i)
{
    c->st.bytes -= c->ent[i].bytes;
    predict_model_free(c->ent[i].m);
    c->ent[i] = c->ent[c->n - 1];
    c->n--;
    c->st.models = c->n;
}

static int same_file(const centry *ce, const struct stat *st)
{
    return ce->dev == st->st_dev && ce->ino == st->st_ino && ce->size == st->st_size &&
           ce->mtime.tv_sec == st->st_mtim.tv_sec && ce->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

int mscache_get(mscache *c, const char *user, const char *ref, double now, predict_model **m, const char **canonical,
                mlhep_err *e)
{
    *m = NULL;
    *canonical = NULL;
    c->tick++;
    /* 1. resolution */
    rentry *re = NULL, *victim = &c->res[0];
    for (size_t i = 0; i < NRES; i++) {
        rentry *x = &c->res[i];
        if (x->valid && !strcmp(x->ref, ref) && !strcmp(x->user, user)) {
            re = x;
            break;
        }
        if (!x->valid || (victim->valid && x->used < victim->used))
            victim = x;
    }
    if (re && now - re->at > c->o.ttl_s) {
        re->valid = 0; /* stale: resolve again */
        victim = re;
        re = NULL;
    }
    if (!re) {
        if (strlen(ref) >= MS_REF_MAX || strlen(user) > JOB_USER_MAX)
            return err_set(e, MLHEP_EINVAL, "model reference too long");
        ms_ref r;
        int rc = modelstore_resolve(c->ms, user, ref, &r, e);
        if (rc)
            return rc;
        re = victim;
        memset(re, 0, sizeof *re);
        strcpy(re->user, user);
        strcpy(re->ref, ref);
        re->r = r;
        re->at = now;
        re->valid = 1;
    }
    re->used = c->tick;
    /* 2. the loaded model */
    centry *ce = NULL;
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->ent[i].path, re->r.path)) {
            ce = &c->ent[i];
            break;
        }
    if (ce && now - ce->checked > c->o.ttl_s) {
        struct stat st;
        if (stat(ce->path, &st) || !same_file(ce, &st)) {
            drop_entry(c, (size_t)(ce - c->ent));
            ce = NULL;
        } else {
            ce->checked = now;
        }
    }
    if (ce) {
        c->st.hits++;
        ce->used = c->tick;
        *m = ce->m;
        *canonical = re->r.canonical;
        return 0;
    }
    c->st.misses++;
    struct stat st;
    if (stat(re->r.path, &st)) {
        re->valid = 0;
        return err_set(e, MLHEP_ENOTFOUND, "unknown model '%s': its file is gone", ref);
    }
    predict_model *pm;
    int rc = predict_model_load_file(re->r.path, &pm, e);
    if (rc) {
        re->valid = 0;
        return err_prefix(e, "model '%s'", re->r.canonical);
    }
    c->st.loads++;
    size_t bytes = predict_model_bytes(pm);
    /* make room: by count, then by bytes (a model larger than the budget still loads) */
    while (c->n && (c->n >= c->o.max_models || c->st.bytes + bytes > c->o.max_bytes)) {
        size_t lru = 0;
        for (size_t i = 1; i < c->n; i++)
            if (c->ent[i].used < c->ent[lru].used)
                lru = i;
        drop_entry(c, lru);
        c->st.evictions++;
    }
    ce = &c->ent[c->n++];
    memset(ce, 0, sizeof *ce);
    snprintf(ce->path, sizeof ce->path, "%s", re->r.path);
    ce->dev = st.st_dev;
    ce->ino = st.st_ino;
    ce->size = st.st_size;
    ce->mtime = st.st_mtim;
    ce->m = pm;
    ce->bytes = bytes;
    ce->used = c->tick;
    ce->checked = now;
    c->st.bytes += bytes;
    c->st.models = c->n;
    *m = pm;
    *canonical = re->r.canonical;
    return 0;
}

void mscache_get_stats(const mscache *c, mscache_stats *s)
{
    *s = c->st;
}
