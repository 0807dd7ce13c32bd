/* fuzz_checkpoint.c - fuzzes the training checkpoint reader (train/checkpoint.c): what
 * `mlhep-run --resume DIR` and a worker continuing a redelivered job read from disk.
 * The input is written to a memory file and read by path, as the program does: first
 * ckpt_info_read (what the checkpoint says about itself), then, when its model part
 * loads as an MLP, ckpt_load into that model with the checkpoint's own workflow hash and
 * fingerprint, so mutations reach the "resume" section's fields, the optimiser moments
 * and the best weights. Each input is tried as is and with the model file's length and
 * XXH64 checksum repaired (the container rejects everything else before the sections). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "model/mlp.h"
#include "train/checkpoint.h"
#include "modelfile_repair.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void try_read(const uint8_t *buf, size_t len)
{
    int fd = memfd_create("checkpoint", 0);
    if (fd < 0)
        return;
    if (write(fd, buf, len) != (ssize_t)len) {
        close(fd);
        return;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    mlhep_err e;
    ckpt_info info;
    memset(&info, 0, sizeof info);
    if (ckpt_info_read(path, &info, &e) != 0) {
        if (!e.msg[0])
            abort();
        close(fd);
        return;
    }
    if (info.epoch < 0 || info.epoch > info.epochs || !info.workflow)
        abort();
    mlp *m = NULL;
    if (mlp_load_buffer(buf, len, &m, NULL, &e) == 0 && mlp_n_params(m) <= 200000) {
        ckpt_state s;
        memset(&s, 0, sizeof s);
        if (ckpt_load(path, info.key, info.fingerprint, m, &s, &e) == 0) {
            if (s.epoch != info.epoch || s.nep < 0 || s.nep > s.epoch || (s.have_best && !s.best))
                abort();
            ckpt_state_free(&s);
        } else if (!e.msg[0]) {
            abort();
        }
    }
    mlp_free(m);
    ckpt_info_clear(&info);
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20))
        return 0;
    fuzz_modelfile_both(data, size, try_read);
    return 0;
}
