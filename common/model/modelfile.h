/* modelfile.h - the versioned container every trained model is saved in.
 *
 * A model file is a magic, a format version, a model kind (mlp, gbdt) and a list of
 * named byte sections, closed by an XXH64 checksum over everything before it. What the
 * sections hold is up to the model: an MLP stores "arch" (normalised architecture
 * JSON), "params" (float32 little-endian) and "features" (the data layer's opaque JSON:
 * feature names, normalisation, padding); a GBDT stores the bytes its library
 * serialises. The byte layout is described field by field in modelfile.c above the
 * encoder. Decoding refuses truncated, wrong-magic, wrong-version, bad-checksum and
 * inconsistent input with a message saying what is wrong.
 *
 * Ownership: a modelfile owns copies of its sections; free it with modelfile_free. */
#ifndef MLHEP_MODELFILE_H
#define MLHEP_MODELFILE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define MODELFILE_VERSION 1u
#define MODELFILE_MAX_SECTIONS 64u
#define MODELFILE_MAX_NAME 64u

typedef enum modelfile_kind {
    MODELFILE_KIND_MLP = 1,
    MODELFILE_KIND_GBDT = 2,
} modelfile_kind;

typedef struct modelfile modelfile;

/* Empty container of a kind; NULL on allocation failure. */
modelfile *modelfile_new(modelfile_kind kind);
void modelfile_free(modelfile *mf);

/* Adds a copy of data[len] as section `name` (1..64 chars of [A-Za-z0-9_.-], unique). */
int modelfile_add(modelfile *mf, const char *name, const void *data, size_t len, mlhep_err *e);

modelfile_kind modelfile_get_kind(const modelfile *mf);
const char *modelfile_kind_name(modelfile_kind k); /* "mlp", "gbdt", "?" */
size_t modelfile_n_sections(const modelfile *mf);
const char *modelfile_section_name(const modelfile *mf, size_t i);
/* The bytes of section `name` (NULL if absent; *len set when found). Valid until free. */
const uint8_t *modelfile_get(const modelfile *mf, const char *name, size_t *len);

/* Serialises to a malloc'ed buffer (*out, caller frees). */
int modelfile_encode(const modelfile *mf, uint8_t **out, size_t *len, mlhep_err *e);
/* Parses and verifies buf[len]; *out is a new container. */
int modelfile_decode(const uint8_t *buf, size_t len, modelfile **out, mlhep_err *e);

/* File versions: write goes to "path.tmp.PID" then rename()s over path; read refuses
 * files over 4 GiB. Messages name the path. */
int modelfile_write(const modelfile *mf, const char *path, mlhep_err *e);
int modelfile_read(const char *path, modelfile **out, mlhep_err *e);

#endif
