/* numarg.c - see numarg.h. */
#include "base/numarg.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

/* the text as it may be quoted in a message (NULL or empty said so) */
static const char *shown(const char *text)
{
    return text ? text : "";
}

int numarg_long(const char *what, const char *text, long lo, long hi, long *out, mlhep_err *e)
{
    if (!text || !*text || isspace((unsigned char)text[0]))
        return err_set(e, MLHEP_EINVAL, "%s: '%s' is not a whole number", what, shown(text));
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (end == text || *end)
        return err_set(e, MLHEP_EINVAL, "%s: '%s' is not a whole number", what, text);
    if (errno == ERANGE || v < lo || v > hi)
        return err_set(e, MLHEP_EINVAL, "%s: %s is out of range (%ld to %ld)", what, text, lo, hi);
    *out = v;
    return 0;
}

int numarg_int(const char *what, const char *text, int lo, int hi, int *out, mlhep_err *e)
{
    long v;
    int rc = numarg_long(what, text, lo, hi, &v, e);
    if (rc == 0)
        *out = (int)v;
    return rc;
}

int numarg_double(const char *what, const char *text, double lo, double hi, double *out,
                  mlhep_err *e)
{
    if (!text || !*text || isspace((unsigned char)text[0]))
        return err_set(e, MLHEP_EINVAL, "%s: '%s' is not a number", what, shown(text));
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end || !isfinite(v))
        return err_set(e, MLHEP_EINVAL, "%s: '%s' is not a number", what, text);
    if (!(v >= lo && v <= hi))
        return err_set(e, MLHEP_EINVAL, "%s: %s is out of range (%g to %g)", what, text, lo, hi);
    *out = v;
    return 0;
}
