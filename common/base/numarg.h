/* numarg.h - numbers a user typed (command-line options, configuration values),
 * checked: the whole text must be the number (no "abc" read as 0, no "12x" read as 12)
 * and it must lie in the caller's range; otherwise a message names the option, what
 * was given and what is accepted ("--max-bytes: 'abc' is not a whole number",
 * "--window: 0 is out of range (1 to 4096)").
 *
 * Every program's option parsing and the configuration loader (service/config.c) go
 * through here, so one rule decides what a number is. Nothing is allocated. */
#ifndef MLHEP_NUMARG_H
#define MLHEP_NUMARG_H

#include "base/err.h"

/* A whole number in [lo, hi] (decimal, optional sign, surrounding blanks refused). */
int numarg_long(const char *what, const char *text, long lo, long hi, long *out, mlhep_err *e);

/* The same for an int (lo and hi must fit an int). */
int numarg_int(const char *what, const char *text, int lo, int hi, int *out, mlhep_err *e);

/* A finite number in [lo, hi] (strtod syntax: 1.5, 1e-3; nan and inf refused). */
int numarg_double(const char *what, const char *text, double lo, double hi, double *out,
                  mlhep_err *e);

#endif
