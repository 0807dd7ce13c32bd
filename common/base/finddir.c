/* finddir.c - see finddir.h. */
#include "base/finddir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int qualifies(const char *d, const char *marker)
{
    char p[4400];
    struct stat st;
    if ((size_t)snprintf(p, sizeof p, "%s/%s", d, marker) >= sizeof p)
        return 0;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int give(const char *d, char *buf, size_t bufsz, mlhep_err *e)
{
    if ((size_t)snprintf(buf, bufsz, "%s", d) >= bufsz)
        return err_set(e, MLHEP_EINVAL, "directory path too long: %.200s", d);
    return 0;
}

int finddir(const finddir_spec *s, const char *configured, char *buf, size_t bufsz, mlhep_err *e)
{
    if (configured && *configured) {
        if (!qualifies(configured, s->marker))
            return err_set(e, MLHEP_ENOTFOUND, "%s %s has no %s", s->what, configured, s->marker);
        return give(configured, buf, bufsz, e);
    }
    const char *env = getenv(s->envvar);
    if (env && *env) {
        if (!qualifies(env, s->marker))
            return err_set(e, MLHEP_ENOTFOUND, "%s=%s: no %s in that directory", s->envvar, env, s->marker);
        return give(env, buf, bufsz, e);
    }
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        for (int up = 0; up <= 4; up++) {
            char *slash = strrchr(exe, '/');
            if (!slash)
                break;
            *slash = '\0';
            char cand[4400];
            if ((size_t)snprintf(cand, sizeof cand, "%s/%s", exe, s->rel) >= sizeof cand)
                break;
            if (qualifies(cand, s->marker))
                return give(cand, buf, bufsz, e);
        }
    }
    static const char *const sys[] = {"/usr/local/share/mlhep", "/usr/share/mlhep"};
    for (int i = 0; i < 2; i++) {
        char cand[512];
        snprintf(cand, sizeof cand, "%s/%s", sys[i], s->name);
        if (qualifies(cand, s->marker))
            return give(cand, buf, bufsz, e);
    }
    return err_set(e, MLHEP_ENOTFOUND,
                   "cannot find %s: set %s or the configured directory (looked next to the executable and "
                   "in /usr/share/mlhep)", s->what, s->envvar);
}
