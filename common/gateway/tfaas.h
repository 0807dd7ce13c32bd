/* tfaas.h - what TFaaS and the MLaaS4HEP cloud service spoke, in mlhep's terms.
 *
 * TFaaS (POST /json, /predict/json): the request {"keys":[...],"values":[...],"model":
 * NAME} is mlhep's keys/values form already and goes to the prediction service as it
 * is; the reply is TFaaS's bare JSON array of the row's outputs ([0.086], or the class
 * probabilities), errors {"error": "..."} with a 4xx/5xx status. GET /models lists the
 * user's models as TFaaS listed its params.json files.
 *
 * MLaaS4HEP service (POST /submit): {"name","files","labels","model","params",
 * "preproc", "device","memory","cpus"} becomes an mlhep workflow: files as a list (or
 * one path), labels as a list (or mlhep's name of a label branch), params as an object, model
 * as an mlhep or Keras JSON object; device, memory and cpus are accepted and ignored
 * (workers decide). Everything else is refused by name. The reply is
 * {"process_name": NAME_ID8, "job_id": ID}.
 *
 * Pure functions; fuzzed by fuzz/fuzz_gateway_http.c. */
#ifndef MLHEP_GW_TFAAS_H
#define MLHEP_GW_TFAAS_H

#include <jansson.h>
#include <stddef.h>

#include "base/err.h"

/* The HTTP status for a prediction error code of the service ("unknown_model" ->
 * 404, "bad_request"/"unknown_branch" -> 400, "unauthorized" -> 401, "forbidden" ->
 * 403, "too_large" -> 413, anything else 500). */
int tfaas_status_for_code(const char *code);

/* Turns a prediction reply document into TFaaS's answer: *out (malloc'ed) is the bare
 * array of the first row, or {"error": ...}; *status the HTTP status. A reply that is
 * not a prediction document gives 502 with an error naming it. */
int tfaas_answer(const char *reply, size_t len, char **out, size_t *outlen, int *status);

/* TFaaS's model list from the service's models list reply ({"models":[...]}): one
 * object per model version, {"name","model":"model.mlhep","labels":[classes],
 * "description","timestamp"} (new reference in *out). */
int tfaas_models(const json_t *list_reply, json_t **out, mlhep_err *e);

/* MLaaS4HEP's /submit body -> an mlhep workflow document (new reference). */
int tfaas_submit_workflow(const json_t *body, json_t **out, mlhep_err *e);

#endif
