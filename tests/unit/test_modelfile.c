/* test_modelfile.c - the model file container: round trip, every truncation, every
 * flipped byte, wrong magic/version/kind, inconsistent sections; MLP save/load through
 * it predicts identically and carries the features document. */
#include <stdlib.h>
#include <unistd.h>
#include <xxhash.h>

#include "model/mlp.h"
#include "model/modelfile.h"
#include "test.h"

static modelfile *sample(void)
{
    modelfile *mf = modelfile_new(MODELFILE_KIND_GBDT);
    mlhep_err e;
    if (modelfile_add(mf, "gbdt", "\x01\x02\x03tree-bytes", 13, &e) || modelfile_add(mf, "features", "{\"a\":1}", 7, &e) ||
        modelfile_add(mf, "empty", "", 0, &e)) {
        printf("  add: %s\n", e.msg);
        modelfile_free(mf);
        return NULL;
    }
    return mf;
}

/* Recomputes the trailing checksum so a deliberately inconsistent body gets past it. */
static void reseal(uint8_t *b, size_t n)
{
    uint64_t h = XXH64(b, n - 8, 0);
    for (int i = 0; i < 8; i++)
        b[n - 8 + i] = (uint8_t)(h >> (8 * i));
}

TEST(container_round_trip)
{
    modelfile *mf = sample();
    CHECK(mf);
    uint8_t *b;
    size_t n;
    mlhep_err e;
    CHECK(modelfile_encode(mf, &b, &n, &e) == 0);
    modelfile_free(mf);
    CHECK(memcmp(b, "MLHEPMOD", 8) == 0 && b[8] == 1 && b[12] == 2 && b[16] == 3 && b[24] == n);
    modelfile *d;
    int rc = modelfile_decode(b, n, &d, &e);
    free(b);
    CHECKF(rc == 0, "%s", e.msg);
    size_t len;
    const uint8_t *g = modelfile_get(d, "gbdt", &len);
    int ok = modelfile_get_kind(d) == MODELFILE_KIND_GBDT && modelfile_n_sections(d) == 3 && g && len == 13 &&
             memcmp(g, "\x01\x02\x03tree-bytes", 13) == 0 && modelfile_get(d, "empty", &len) && len == 0 &&
             !modelfile_get(d, "params", &len) && strcmp(modelfile_section_name(d, 1), "features") == 0;
    modelfile_free(d);
    CHECK(ok);
}

TEST(add_refuses_bad_names)
{
    modelfile *mf = sample();
    CHECK(mf);
    mlhep_err e;
    int r1 = modelfile_add(mf, "gbdt", "x", 1, &e);
    int dup = strstr(e.msg, "appears twice") != NULL;
    int r2 = modelfile_add(mf, "bad name", "x", 1, &e);
    int r3 = modelfile_add(mf, "", "x", 1, &e);
    modelfile_free(mf);
    CHECK(r1 == MLHEP_EINVAL && dup && r2 == MLHEP_EINVAL && r3 == MLHEP_EINVAL);
}

TEST(truncated_and_corrupt_refused)
{
    modelfile *mf = sample();
    CHECK(mf);
    uint8_t *b;
    size_t n;
    mlhep_err e;
    CHECK(modelfile_encode(mf, &b, &n, &e) == 0);
    modelfile_free(mf);
    modelfile *d;
    /* every proper prefix */
    for (size_t k = 0; k < n; k++) {
        int rc = modelfile_decode(b, k, &d, &e);
        CHECKF(rc < 0 && d == NULL, "prefix of %zu bytes accepted", k);
        CHECKF(strstr(e.msg, k < 8 ? "not an mlhep model file" : "truncated"), "prefix %zu: %s", k, e.msg);
    }
    /* every single flipped bit position (one per byte) */
    for (size_t k = 0; k < n; k++) {
        b[k] ^= 0x10;
        int rc = modelfile_decode(b, n, &d, &e);
        b[k] ^= 0x10;
        CHECKF(rc < 0 && d == NULL, "flip at %zu accepted", k);
    }
    b[n / 2] ^= 1;
    CHECK(modelfile_decode(b, n, &d, &e) == MLHEP_EFORMAT && strstr(e.msg, "checksum mismatch"));
    b[n / 2] ^= 1;
    /* trailing garbage */
    uint8_t *big = malloc(n + 3);
    memcpy(big, b, n);
    memset(big + n, 0, 3);
    CHECK(modelfile_decode(big, n + 3, &d, &e) == MLHEP_EFORMAT && strstr(e.msg, "3 unexpected trailing bytes"));
    free(big);
    /* wrong magic, version, kind, flags (checksum resealed so the field itself is judged) */
    b[0] = 'X';
    CHECK(modelfile_decode(b, n, &d, &e) == MLHEP_EFORMAT && strstr(e.msg, "not an mlhep model file"));
    b[0] = 'M';
    b[8] = 2;
    reseal(b, n);
    CHECK(modelfile_decode(b, n, &d, &e) == MLHEP_EUNSUPPORTED && strstr(e.msg, "format version 2 is not supported"));
    b[8] = 1;
    b[12] = 9;
    reseal(b, n);
    CHECK(modelfile_decode(b, n, &d, &e) == MLHEP_EUNSUPPORTED && strstr(e.msg, "unknown model kind 9"));
    b[12] = 2;
    b[20] = 1;
    reseal(b, n);
    CHECK(modelfile_decode(b, n, &d, &e) == MLHEP_EUNSUPPORTED && strstr(e.msg, "unknown flags"));
    b[20] = 0;
    /* inconsistent: one section too many, section length past the end, too few */
    b[16] = 4;
    reseal(b, n);
    CHECK(modelfile_decode(b, n, &d, &e) == MLHEP_EFORMAT && strstr(e.msg, "section 4 of 4 runs past the end"));
    b[16] = 2;
    reseal(b, n);
    CHECK(modelfile_decode(b, n, &d, &e) == MLHEP_EFORMAT && strstr(e.msg, "bytes after the last of 2 sections"));
    b[16] = 3;
    b[32 + 2 + 4] = 0xff; /* low byte of the first section's data length */
    reseal(b, n);
    CHECK(modelfile_decode(b, n, &d, &e) == MLHEP_EFORMAT && strstr(e.msg, "section 1 of 3 runs past the end"));
    b[32 + 2 + 4] = 13;
    b[32 + 3] = ' '; /* "g dt": a space is not allowed in a section name */
    reseal(b, n);
    CHECK(modelfile_decode(b, n, &d, &e) == MLHEP_EFORMAT && strstr(e.msg, "inconsistent: section 1"));
    free(b);
}

static mlp *trained_model(float *X, size_t n, size_t nin)
{
    mlp *m = NULL;
    mlhep_err e;
    if (mlp_build("{\"layers\":[{\"dense\":16,\"activation\":\"relu\"},{\"dropout\":0.3},{\"batchnorm\":{}},"
                  "{\"dense\":3,\"activation\":\"softmax\"}],\"loss\":\"categorical_crossentropy\",\"seed\":3}",
                  nin, &m, &e)) {
        printf("  %s\n", e.msg);
        return NULL;
    }
    rng r;
    rng_seed(&r, 1);
    float *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n * nin; i++)
        X[i] = rng_normalf(&r);
    for (size_t i = 0; i < n; i++)
        y[i] = (float)(i % 3);
    double l;
    for (int k = 0; k < 5; k++)
        mlp_train_batch(m, X, y, NULL, n, &l, &e);
    free(y);
    return m;
}

TEST(mlp_file_round_trip)
{
    enum { N = 64, NIN = 6 };
    float X[N * NIN], p1[N * 3], p2[N * 3];
    mlp *m = trained_model(X, N, NIN);
    CHECK(m);
    mlhep_err e;
    char path[] = "/tmp/mlhep-test-model-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    const char *feat = "{\"features\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\"],\"norm\":{\"mean\":[0,0,0,0,0,0]}}";
    int rc = mlp_save_file(m, feat, path, &e);
    CHECKF(rc == 0, "%s", e.msg);
    mlp *m2 = NULL;
    char *f2 = NULL;
    rc = mlp_load_file(path, &m2, &f2, &e);
    CHECKF(rc == 0, "%s", e.msg);
    mlp_predict(m, X, N, p1, &e);
    mlp_predict(m2, X, N, p2, &e);
    int same_pred = memcmp(p1, p2, sizeof p1) == 0;
    int same_params = mlp_n_params(m) == mlp_n_params(m2) &&
                      memcmp(mlp_params(m), mlp_params(m2), mlp_n_params(m) * sizeof(float)) == 0;
    char *a1 = mlp_arch_json(m), *a2 = mlp_arch_json(m2);
    int same_arch = strcmp(a1, a2) == 0;
    int same_feat = f2 && strcmp(f2, feat) == 0;
    free(a1);
    free(a2);
    free(f2);
    mlp_free(m2);
    /* without features */
    CHECK(mlp_save_file(m, NULL, path, &e) == 0);
    CHECK(mlp_load_file(path, &m2, &f2, &e) == 0);
    int no_feat = f2 == NULL;
    mlp_free(m2);
    /* a corrupted file on disk is refused with the path in the message */
    FILE *f = fopen(path, "r+b");
    fseek(f, 40, SEEK_SET);
    fputc('#', f);
    fclose(f);
    rc = mlp_load_file(path, &m2, &f2, &e);
    int refused = rc == MLHEP_EFORMAT && m2 == NULL && strstr(e.msg, path) && strstr(e.msg, "checksum");
    /* a truncated one too */
    CHECK(truncate(path, 100) == 0);
    rc = mlp_load_file(path, &m2, NULL, &e);
    int trunc = rc == MLHEP_EFORMAT && strstr(e.msg, "truncated");
    unlink(path);
    rc = mlp_load_file(path, &m2, NULL, &e);
    int missing = rc == MLHEP_ENOTFOUND && strstr(e.msg, "cannot open model file");
    mlp_free(m);
    CHECK(same_pred && same_params && same_arch && same_feat);
    CHECK(no_feat);
    CHECK(refused);
    CHECK(trunc);
    CHECK(missing);
}

TEST(mlp_inconsistent_containers_refused)
{
    enum { N = 16, NIN = 6 };
    float X[N * NIN];
    mlp *m = trained_model(X, N, NIN), *m2 = NULL;
    CHECK(m);
    mlhep_err e;
    char *arch = mlp_arch_json(m);
    size_t np = mlp_n_params(m);
    mlp_free(m);
    uint8_t *b;
    size_t n;
    float *params = calloc(np + 1, sizeof(float));
    /* params of the wrong size */
    modelfile *mf = modelfile_new(MODELFILE_KIND_MLP);
    modelfile_add(mf, "arch", arch, strlen(arch), &e);
    modelfile_add(mf, "params", params, (np - 1) * 4, &e);
    modelfile_encode(mf, &b, &n, &e);
    modelfile_free(mf);
    int rc = mlp_load_buffer(b, n, &m2, NULL, &e);
    free(b);
    int r1 = rc == MLHEP_EFORMAT && strstr(e.msg, "\"params\" has");
    /* no params */
    mf = modelfile_new(MODELFILE_KIND_MLP);
    modelfile_add(mf, "arch", arch, strlen(arch), &e);
    modelfile_encode(mf, &b, &n, &e);
    modelfile_free(mf);
    rc = mlp_load_buffer(b, n, &m2, NULL, &e);
    free(b);
    int r2 = rc == MLHEP_EFORMAT && strstr(e.msg, "no \"params\" section");
    /* a gbdt file */
    mf = modelfile_new(MODELFILE_KIND_GBDT);
    modelfile_encode(mf, &b, &n, &e);
    modelfile_free(mf);
    rc = mlp_load_buffer(b, n, &m2, NULL, &e);
    free(b);
    int r3 = rc < 0 && strstr(e.msg, "holds a gbdt model, not an mlp");
    /* arch that is not a valid spec */
    mf = modelfile_new(MODELFILE_KIND_MLP);
    const char *bad_arch = "{\"n_inputs\":3,\"layers\":[{\"dense\":1,\"activation\":\"gelu\"}]}";
    modelfile_add(mf, "arch", bad_arch, strlen(bad_arch), &e);
    modelfile_add(mf, "params", params, 16, &e);
    modelfile_encode(mf, &b, &n, &e);
    modelfile_free(mf);
    rc = mlp_load_buffer(b, n, &m2, NULL, &e);
    free(b);
    int r4 = rc < 0 && strstr(e.msg, "model file \"arch\"") && strstr(e.msg, "gelu");
    free(params);
    free(arch);
    CHECK(m2 == NULL);
    CHECK(r1);
    CHECK(r2);
    CHECK(r3);
    CHECKF(r4, "%s", e.msg);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    RUN(container_round_trip);
    RUN(add_refuses_bad_names);
    RUN(truncated_and_corrupt_refused);
    RUN(mlp_file_round_trip);
    RUN(mlp_inconsistent_containers_refused);
    return test_summary();
}
