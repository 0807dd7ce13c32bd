/* fuzz_job_message.c - broker messages are outside input to the worker: job messages,
 * control messages, and the workflow inside (pipeline_check). Must never crash, leak
 * or read out of bounds, whatever the bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "pipeline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    job j;
    mlhep_err e;
    if (job_message_decode(data, size, &j, &e) == 0) {
        pipeline_check(j.workflow, 0, &e);
        pipeline_check(j.workflow, 1, &e);
        char *out;
        size_t len;
        if (job_message_encode(&j, &out, &len, &e) == 0)
            free(out);
        job_clear(&j);
    }
    char op[16], id[JOB_ID_HEX + 1], user[JOB_USER_MAX + 1];
    char *tok = NULL;
    if (job_control_decode(data, size, op, id, user, &tok, &e) == 0)
        free(tok);
    return 0;
}
