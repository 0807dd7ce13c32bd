/* job.c - see job.h. */
#include "service/job.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static const char *const state_names[JOB_NSTATES] = {"queued", "running", "succeeded", "failed",
                                                     "cancelled"};

const char *job_state_name(job_state s)
{
    return (unsigned)s < JOB_NSTATES ? state_names[s] : "?";
}

int job_state_parse(const char *name, job_state *out)
{
    for (int i = 0; i < JOB_NSTATES; i++)
        if (name && strcmp(name, state_names[i]) == 0) {
            *out = (job_state)i;
            return 0;
        }
    return MLHEP_EINVAL;
}

int job_transition_ok(job_state from, job_state to)
{
    if ((unsigned)from >= JOB_NSTATES || (unsigned)to >= JOB_NSTATES)
        return 0;
    switch (from) {
    case JOB_QUEUED:
        return to == JOB_RUNNING || to == JOB_CANCELLED || to == JOB_FAILED;
    case JOB_RUNNING:
        return to == JOB_RUNNING || to == JOB_QUEUED || to == JOB_SUCCEEDED || to == JOB_FAILED ||
               to == JOB_CANCELLED;
    default:
        return 0; /* terminal */
    }
}

int job_state_terminal(job_state s)
{
    return s == JOB_SUCCEEDED || s == JOB_FAILED || s == JOB_CANCELLED;
}

int job_new_id(char out[JOB_ID_HEX + 1], mlhep_err *e)
{
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t n = getrandom(b + got, sizeof b - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return err_set(e, MLHEP_EIO, "getrandom failed: %s", strerror(errno));
        }
        got += (size_t)n;
    }
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[JOB_ID_HEX] = '\0';
    return 0;
}

int job_id_valid(const char *s)
{
    if (!s)
        return 0;
    for (int i = 0; i < JOB_ID_HEX; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return s[JOB_ID_HEX] == '\0';
}

int job_user_valid(const char *s)
{
    if (!s || !*s || *s == '.' || *s == '-')
        return 0;
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
        if (n >= JOB_USER_MAX)
            return 0;
    }
    return 1;
}

double job_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int job_init(job *j, const char *user, const char *token, json_t *workflow, mlhep_err *e)
{
    memset(j, 0, sizeof *j);
    if (!job_user_valid(user))
        return err_set(e, MLHEP_EINVAL, "invalid user name");
    if (!workflow || !json_is_object(workflow))
        return err_set(e, MLHEP_EINVAL, "workflow must be a JSON object");
    int rc = job_new_id(j->id, e);
    if (rc)
        return rc;
    strcpy(j->user, user);
    j->token = strdup(token ? token : "");
    if (!j->token)
        return err_set(e, MLHEP_ENOMEM, "out of memory");
    j->workflow = json_incref(workflow);
    j->submitted = job_now();
    return 0;
}

void job_clear(job *j)
{
    if (!j)
        return;
    if (j->token) {
        memset(j->token, 0, strlen(j->token));
        free(j->token);
    }
    free(j->storage_cred);
    j->storage_cred = NULL;
    json_decref(j->workflow);
    memset(j, 0, sizeof *j);
}

/* The one size rule for broker messages, applied where they are made and where they
 * are read: a message the reader would refuse is never sent. */
static int too_large(size_t len, mlhep_err *e)
{
    return err_set(e, MLHEP_ENOMEM, "the job is too large: its broker message would be %zu bytes, the "
                   "service takes at most %u (JOB_MESSAGE_MAX, %u MiB; see \"Limits\" in docs/service.md)",
                   len, JOB_MESSAGE_MAX, JOB_MESSAGE_MAX >> 20);
}

static int dump(json_t *o, char **out, size_t *len, mlhep_err *e)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s)
        return err_set(e, MLHEP_ENOMEM, "cannot encode message");
    size_t n = strlen(s);
    if (n > JOB_MESSAGE_MAX) {
        free(s);
        return too_large(n, e);
    }
    *out = s;
    *len = n;
    return 0;
}

int job_message_encode(const job *j, char **out, size_t *len, mlhep_err *e)
{
    json_t *o = json_pack("{s:i, s:s, s:s, s:s, s:f, s:O}", "v", 1, "id", j->id, "user", j->user,
                          "token", j->token ? j->token : "", "submitted", j->submitted, "workflow",
                          j->workflow);
    if (o && j->storage_cred &&
        (json_object_set_new(o, "storage_cred", json_string(j->storage_cred)) ||
         (!strcmp(j->storage_kind, "x509") && json_object_set_new(o, "storage_cred_kind", json_string("x509"))))) {
        json_decref(o);
        o = NULL;
    }
    return dump(o, out, len, e);
}

static json_t *parse_object(const void *data, size_t len, mlhep_err *e)
{
    if (len > JOB_MESSAGE_MAX) {
        too_large(len, e);
        return NULL;
    }
    json_error_t je;
    json_t *o = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    if (!o) {
        err_set(e, MLHEP_EFORMAT, "message is not JSON: %s (at byte %d)", je.text, je.position);
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        err_set(e, MLHEP_EFORMAT, "message is not a JSON object");
        return NULL;
    }
    json_t *v = json_object_get(o, "v");
    if (!json_is_integer(v) || json_integer_value(v) != 1) {
        json_decref(o);
        err_set(e, MLHEP_EFORMAT, "message version must be 1");
        return NULL;
    }
    return o;
}

static int get_ident(json_t *o, char id[JOB_ID_HEX + 1], char user[JOB_USER_MAX + 1], char **token,
                     mlhep_err *e)
{
    const char *s_id = json_string_value(json_object_get(o, "id"));
    const char *s_user = json_string_value(json_object_get(o, "user"));
    const char *s_tok = json_string_value(json_object_get(o, "token"));
    if (!job_id_valid(s_id))
        return err_set(e, MLHEP_EFORMAT, "message: 'id' must be 32 lower-case hex digits");
    if (!job_user_valid(s_user))
        return err_set(e, MLHEP_EFORMAT, "message: 'user' missing or invalid");
    if (!s_tok)
        return err_set(e, MLHEP_EFORMAT, "message: 'token' missing");
    strcpy(id, s_id);
    strcpy(user, s_user);
    *token = strdup(s_tok);
    return *token ? 0 : err_set(e, MLHEP_ENOMEM, "out of memory");
}

int job_message_decode(const void *data, size_t len, job *j, mlhep_err *e)
{
    memset(j, 0, sizeof *j);
    json_t *o = parse_object(data, len, e);
    if (!o)
        return e ? e->code : MLHEP_EFORMAT;
    int rc = get_ident(o, j->id, j->user, &j->token, e);
    json_t *wf = json_object_get(o, "workflow");
    json_t *sub = json_object_get(o, "submitted");
    if (!rc && !json_is_object(wf))
        rc = err_set(e, MLHEP_EFORMAT, "message: 'workflow' must be an object");
    if (!rc && !json_is_number(sub))
        rc = err_set(e, MLHEP_EFORMAT, "message: 'submitted' must be a number");
    json_t *cred = json_object_get(o, "storage_cred");
    if (!rc && cred && (!json_is_string(cred) || json_string_length(cred) > JOB_CRED_MAX))
        rc = err_set(e, MLHEP_EFORMAT, "message: 'storage_cred' must be a string of at most %u characters",
                     JOB_CRED_MAX);
    if (!rc && cred && !(j->storage_cred = strdup(json_string_value(cred))))
        rc = err_set(e, MLHEP_ENOMEM, "out of memory");
    json_t *kind = json_object_get(o, "storage_cred_kind");
    if (!rc && kind && (!json_is_string(kind) || (strcmp(json_string_value(kind), "token") &&
                                                  strcmp(json_string_value(kind), "x509"))))
        rc = err_set(e, MLHEP_EFORMAT, "message: 'storage_cred_kind' must be \"token\" or \"x509\"");
    if (!rc)
        snprintf(j->storage_kind, sizeof j->storage_kind, "%s", kind ? json_string_value(kind) : "token");
    if (!rc) {
        j->workflow = json_incref(wf);
        j->submitted = json_number_value(sub);
    }
    json_decref(o);
    if (rc)
        job_clear(j);
    return rc;
}

int job_control_encode(const char *op, const char *id, const char *user, const char *token,
                       char **out, size_t *len, mlhep_err *e)
{
    json_t *o = json_pack("{s:i, s:s, s:s, s:s, s:s}", "v", 1, "op", op, "id", id, "user", user,
                          "token", token ? token : "");
    return dump(o, out, len, e);
}

int job_control_decode(const void *data, size_t len, char op[16], char id[JOB_ID_HEX + 1],
                       char user[JOB_USER_MAX + 1], char **token, mlhep_err *e)
{
    *token = NULL;
    json_t *o = parse_object(data, len, e);
    if (!o)
        return e ? e->code : MLHEP_EFORMAT;
    int rc = get_ident(o, id, user, token, e);
    const char *s_op = json_string_value(json_object_get(o, "op"));
    if (!rc && (!s_op || strcmp(s_op, "cancel") != 0))
        rc = err_set(e, MLHEP_EFORMAT, "control message: unknown 'op'");
    if (!rc)
        strcpy(op, s_op);
    json_decref(o);
    if (rc) {
        free(*token);
        *token = NULL;
    }
    return rc;
}
