/* auth_glue.c - see auth_glue.h. */
#include "auth_glue.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int auth_check_submit(const mlhep_config *cfg, const char *token, char user[JOB_USER_MAX + 1],
                      mlhep_err *e)
{
    if (!token || !*token)
        return err_set(e, MLHEP_EAUTH, "no bearer token (set MLHEP_TOKEN or use --token-file)");
    if (!cfg || !cfg->auth_mode || strcmp(cfg->auth_mode, "dev") != 0)
        return err_set(e, MLHEP_EAUTH,
                       "token refused: JWT verification is not built in yet; only development "
                       "tokens 'dev:<user>' are accepted, and only with auth_mode=dev in the "
                       "configuration");
    if (strncmp(token, "dev:", 4) != 0)
        return err_set(e, MLHEP_EAUTH, "token refused: auth_mode=dev accepts only 'dev:<user>' tokens");
    const char *u = token + 4;
    if (!job_user_valid(u))
        return err_set(e, MLHEP_EAUTH,
                       "token refused: user name must be 1-64 of [A-Za-z0-9._-], not starting "
                       "with '.' or '-'");
    strcpy(user, u);
    return 0;
}

int auth_token_load(const char *path, char **out, mlhep_err *e)
{
    *out = NULL;
    char buf[16384];
    if (path) {
        FILE *f = fopen(path, "r");
        if (!f)
            return err_set(e, MLHEP_EAUTH, "cannot read token file %s: %s", path, strerror(errno));
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
    } else {
        const char *t = getenv("MLHEP_TOKEN");
        if (!t || !*t)
            return err_set(e, MLHEP_EAUTH, "no bearer token (set MLHEP_TOKEN or use --token-file)");
        if (strlen(t) >= sizeof buf)
            return err_set(e, MLHEP_EAUTH, "MLHEP_TOKEN too long");
        strcpy(buf, t);
    }
    char *s = buf;
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strcspn(s, "\r\n");
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    s[n] = '\0';
    if (!*s)
        return err_set(e, MLHEP_EAUTH, "bearer token is empty");
    *out = strdup(s);
    memset(buf, 0, sizeof buf);
    return *out ? 0 : err_set(e, MLHEP_ENOMEM, "out of memory");
}
