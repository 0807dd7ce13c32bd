/* err.c - see err.h. */
#include "base/err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int err_set(mlhep_err *e, int code, const char *fmt, ...)
{
    if (!e)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    e->code = code;
    return code;
}

int err_prefix(mlhep_err *e, const char *fmt, ...)
{
    if (!e)
        return MLHEP_EINVAL;
    char pre[MLHEP_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    size_t np = strlen(pre), no = strnlen(e->msg, sizeof e->msg - 1);
    if (np + 2 >= sizeof e->msg)
        np = sizeof e->msg - 3;
    if (np + 2 + no >= sizeof e->msg)
        no = sizeof e->msg - 1 - np - 2;
    memmove(e->msg + np + 2, e->msg, no);
    memcpy(e->msg, pre, np);
    e->msg[np] = ':';
    e->msg[np + 1] = ' ';
    e->msg[np + 2 + no] = '\0';
    return e->code;
}

void err_clear(mlhep_err *e)
{
    if (!e)
        return;
    e->code = 0;
    e->msg[0] = '\0';
}

const char *err_codename(int code)
{
    switch (code) {
    case MLHEP_OK: return "ok";
    case MLHEP_EIO: return "I/O error";
    case MLHEP_EFORMAT: return "format error";
    case MLHEP_ENOTFOUND: return "not found";
    case MLHEP_EUNSUPPORTED: return "unsupported";
    case MLHEP_ENOMEM: return "out of memory";
    case MLHEP_EINVAL: return "invalid input";
    case MLHEP_ENET: return "network error";
    case MLHEP_EAUTH: return "not authorised";
    case MLHEP_ECONFLICT: return "conflict";
    default: return "error";
    }
}

const char *err_write_advice(int errnum)
{
    switch (errnum) {
    case ENOSPC: return ": the disk is full; free some space or write elsewhere";
    case EDQUOT: return ": disk quota exceeded; free some space or write elsewhere";
    case EACCES:
    case EPERM:
    case EROFS: return ": the path is not writable; choose a directory you can write to";
    case EISDIR: return ": a directory of that name is in the way; remove it or write elsewhere";
    case ENOENT:
    case ENOTDIR: return ": the directory does not exist";
    default: return "";
    }
}
