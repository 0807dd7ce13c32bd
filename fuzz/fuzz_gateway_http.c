/* fuzz_gateway_http.c - fuzzes what the gateway reads from a request before any backend
 * sees it: the route table (gateway_route_match: methods, literal and parameter
 * segments, "." and ".." refusal), the URL unescaper (gw_unescape), the Authorization and Content-Type header parsing of
 * gwhttp (gw_bearer, gw_content_type_is), the access log's escaping (gw_log_text), and
 * the TFaaS/MLaaS4HEP conversions on arbitrary bytes (tfaas_answer on a prediction reply,
 * tfaas_submit_workflow and tfaas_models on any JSON document).
 *
 * Input: a first line "METHOD PATH" (also used as the value of every header), then the
 * rest (a body: reply or JSON document). Corpus: fuzz/corpus/gateway_http. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/gateway.h"
#include "gateway/gwhttp.h"
#include "gateway/tfaas.h"

static const char *any_header(void *cls, const char *name)
{
    (void)name;
    return cls;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t l1 = nl ? (size_t)(nl - data) : size;
    char *line = malloc(l1 + 1);
    if (!line)
        return 0;
    memcpy(line, data, l1);
    line[l1] = '\0';
    const uint8_t *rest = nl ? nl + 1 : data + size;
    size_t rl = (size_t)(data + size - rest);

    /* the unescaper: never longer, never a '/' or NUL it did not get as such */
    char *un = strdup(line);
    if (un) {
        size_t slashes = 0, n = gw_unescape(un);
        for (const char *s = line; *s; s++)
            slashes += *s == '/';
        for (const char *s = un; *s; s++)
            slashes -= *s == '/';
        if (n > strlen(line) || n != strlen(un) || slashes != 0)
            abort();
        free(un);
    }

    /* routing: "METHOD PATH" */
    char *sp = strchr(line, ' ');
    gw_match m;
    const char *name = NULL;
    if (sp) {
        *sp = '\0';
        int i = gateway_route_match(line, sp + 1, &m, &name);
        if (i >= 0) {
            if (!name || m.nparams < 0 || m.nparams > GW_MAX_PARAMS)
                abort();
            for (int k = 0; k < m.nparams; k++) {
                size_t n = strlen(m.value[k]);
                if (n == 0 || n >= GW_PARAM_MAX)
                    abort();
                /* a parameter that could climb directories: a "." or ".." segment, an empty
                 * one, or several segments anywhere but the artifact route's {file*} */
                if (strchr(m.value[k], '/') && strcmp(m.name[k], "file"))
                    abort();
                for (const char *g = m.value[k]; g;) {
                    const char *ge = strchr(g, '/');
                    size_t gl = ge ? (size_t)(ge - g) : strlen(g);
                    if (gl == 0 || (gl == 1 && g[0] == '.') || (gl == 2 && g[0] == '.' && g[1] == '.'))
                        abort();
                    g = ge ? ge + 1 : NULL;
                }
            }
        } else if (i == GW_ROUTE_METHOD && !m.allowed) {
            abort();
        }
        *sp = ' ';
    }
    gateway_route_match(line, line, &m, &name);

    /* headers: the line as every header's value */
    gw_req r = {0};
    r.method = "GET";
    r.path = "/";
    r.header = any_header;
    r.cls = line;
    const char *tok = gw_bearer(&r);
    if (tok && (tok < line || tok > line + l1 || !*tok))
        abort();
    gw_content_type_is(&r, "application/json");
    gw_content_type_is(&r, "application/x-mlhep-columns");
    char logbuf[300];
    gw_log_text(logbuf, sizeof logbuf, line);
    for (const char *s = logbuf; *s; s++)
        if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
            abort(); /* nothing that could split or forge a log line */

    /* TFaaS: a prediction reply; MLaaS4HEP: a /submit body; a models list */
    char *out = NULL;
    size_t outlen = 0;
    int status = 0;
    if (tfaas_answer((const char *)rest, rl, &out, &outlen, &status) == 0) {
        if (!out || strlen(out) != outlen || status < 200 || status > 599)
            abort();
        free(out);
    }
    json_t *doc = json_loadb((const char *)rest, rl, JSON_REJECT_DUPLICATES, NULL);
    if (doc) {
        json_t *w = NULL;
        mlhep_err e = {0};
        if (tfaas_submit_workflow(doc, &w, &e) == 0) {
            if (!json_is_object(w) || !json_is_string(json_object_get(w, "name")))
                abort();
            json_decref(w);
        }
        json_t *ms = NULL;
        if (tfaas_models(doc, &ms, &e) == 0)
            json_decref(ms);
        json_decref(doc);
    }
    free(line);
    return 0;
}
