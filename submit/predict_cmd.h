/* predict_cmd.h - `mlhep-submit predict`: score rows given as a JSON document or a
 * binary columnar request, or every entry of a ROOT tree into a friend tree, through
 * the inference service or in this process (--local). Program code (getopt is done by
 * infer_cmd.c; the usage text, printing and exit codes live here); the work itself is
 * the library's: gateway/gwclient.h or infer/predict_rpc.h (the service, through the
 * gateway or the broker), infer/predict.h (--local), infer/treescore.h (--root). */
#ifndef MLHEP_PREDICT_CMD_H
#define MLHEP_PREDICT_CMD_H

#include <stdio.h>

#include "infer_svc.h"

/* The usage text (options, exit codes, examples). */
void predict_cmd_usage(FILE *f);

/* Checks the command line before anything is loaded: 0, or the (printed) usage error.
 * nargs: the arguments after the word "predict". */
int predict_cmd_check(const infer_svc_opts *o, int nargs);

/* Runs the command (configuration and token loaded); returns the exit code. */
int predict_cmd_run(infer_svc_opts *o, int nargs, char **args);

#endif
