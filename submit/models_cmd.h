/* models_cmd.h - `mlhep-submit models`: list your models and jobs with models, name a
 * job's model (tag), delete a version, share a name, show what a model needs
 * (features). Program code over infer/predict_rpc.h (the broker) or gateway/gwclient.h
 * (the gateway's /v1/models): builds the requests, prints the replies; options are
 * parsed by infer_cmd.c. */
#ifndef MLHEP_MODELS_CMD_H
#define MLHEP_MODELS_CMD_H

#include <stdio.h>

#include "infer_svc.h"

/* The usage text (operations, options, an example). */
void models_cmd_usage(FILE *f);

/* Runs `models ARGS...` (args: what follows the word "models"; configuration and token
 * loaded); returns the exit code. */
int models_cmd_run(infer_svc_opts *o, int nargs, char **args);

#endif
