/* webfiles.c - see webfiles.h. */
#include "gateway/webfiles.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "base/finddir.h"

#define MAX_FILES 256
#define MAX_BYTES (32u << 20)

struct webfiles {
    char dir[4096];
    webfile f[MAX_FILES];
    size_t n;
};

static int name_ok(const char *s)
{
    if (!*s || *s == '.')
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '.' ||
              *s == '_' || *s == '-'))
            return 0;
    return 1;
}

static const char *ctype_of(const char *name)
{
    static const struct {
        const char *ext, *type;
    } t[] = {{".html", "text/html; charset=utf-8"},
             {".js", "text/javascript; charset=utf-8"},
             {".css", "text/css; charset=utf-8"},
             {".svg", "image/svg+xml"},
             {".png", "image/png"},
             {".ico", "image/x-icon"},
             {".json", "application/json"},
             {".txt", "text/plain; charset=utf-8"}};
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof t / sizeof t[0]; i++)
        if (!strcmp(dot, t[i].ext))
            return t[i].type;
    return "application/octet-stream";
}

void webfiles_free(webfiles *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n; i++) {
        free((char *)w->f[i].name);
        free((char *)w->f[i].data);
    }
    free(w);
}

int webfiles_load(const char *configured_dir, webfiles **out, mlhep_err *e)
{
    static const finddir_spec spec = {"the dashboard's directory", "MLHEP_WEB", "submit/web", "web", "index.html"};
    webfiles *w = calloc(1, sizeof *w);
    if (!w)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    int rc = finddir(&spec, configured_dir, w->dir, sizeof w->dir, e);
    if (rc) {
        free(w);
        return rc;
    }
    DIR *d = opendir(w->dir);
    if (!d) {
        rc = err_set(e, MLHEP_EIO, "%s: %s", w->dir, strerror(errno));
        free(w);
        return rc;
    }
    size_t total = 0;
    struct dirent *de;
    while (!rc && (de = readdir(d))) {
        if (!name_ok(de->d_name))
            continue;
        if (w->n >= MAX_FILES) {
            rc = err_set(e, MLHEP_ENOMEM, "%s: more than %d files", w->dir, MAX_FILES);
            break;
        }
        int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
            if (fd >= 0)
                close(fd);
            continue;
        }
        if ((size_t)st.st_size > MAX_BYTES - total) {
            close(fd);
            rc = err_set(e, MLHEP_ENOMEM, "%s: the dashboard's files exceed %u MiB", w->dir, MAX_BYTES >> 20);
            break;
        }
        char *buf = malloc((size_t)st.st_size + 1);
        size_t got = 0;
        while (buf && got < (size_t)st.st_size) {
            ssize_t k = read(fd, buf + got, (size_t)st.st_size - got);
            if (k <= 0)
                break;
            got += (size_t)k;
        }
        close(fd);
        if (!buf || got != (size_t)st.st_size) {
            free(buf);
            rc = err_set(e, MLHEP_EIO, "%s/%s: cannot read", w->dir, de->d_name);
            break;
        }
        buf[got] = '\0';
        webfile *f = &w->f[w->n];
        f->name = strdup(de->d_name);
        if (!f->name) {
            free(buf);
            rc = err_set(e, MLHEP_ENOMEM, "out of memory");
            break;
        }
        f->data = buf;
        f->len = got;
        f->content_type = ctype_of(de->d_name);
        uint64_t h = XXH64(buf, got, 0);
        snprintf(f->etag, sizeof f->etag, "\"%016llx\"", (unsigned long long)h);
        total += got;
        w->n++;
    }
    closedir(d);
    if (rc) {
        webfiles_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

const webfile *webfiles_get(const webfiles *w, const char *name)
{
    for (size_t i = 0; w && i < w->n; i++)
        if (!strcmp(w->f[i].name, name))
            return &w->f[i];
    return NULL;
}

const char *webfiles_dir(const webfiles *w)
{
    return w ? w->dir : "";
}
