/* jsonschema.h - a JSON Schema validator (draft 2020-12 subset) on jansson.
 *
 * The submitter, the workers and the inference worker validate workflows, status
 * records and prediction requests against the SAME schema documents, loaded at run
 * time from schemas/ (see jschema_find_dir), so the rules live in one place.
 *
 * Supported keywords (anything else that is not an annotation is refused when the
 * schema is loaded, so a typo or an unsupported rule never silently passes):
 *   any:     type (string or array; "integer" = number with no fraction), enum, const,
 *            allOf, anyOf, oneOf, not, if/then/else, $ref, $defs
 *   object:  properties, required, additionalProperties (bool or schema),
 *            patternProperties, propertyNames, minProperties, maxProperties,
 *            dependentRequired
 *   array:   items, prefixItems, minItems, maxItems, uniqueItems
 *   number:  minimum, maximum, exclusiveMinimum, exclusiveMaximum, multipleOf
 *   string:  minLength, maxLength (in code points), pattern
 *   ignored annotations: $schema, $id, $comment, title, description, default,
 *            examples, format, deprecated, readOnly, writeOnly
 * $ref: only local JSON pointers into the same document ("#", "#/$defs/name", ...).
 * Regex dialect of pattern/patternProperties: POSIX extended regular expressions
 * (regcomp REG_EXTENDED, bytes, unanchored search as in JSON Schema). ECMA-262-only
 * syntax - \d \D, lookaround (?=, (?!, (?<, non-greedy *? +? - is refused at load
 * time; write [0-9] and [[:alnum:]] instead. Numbers compare by value (1 == 1.0).
 *
 * Error messages name the instance location as a JSON pointer and the rule broken:
 *   "workflow: /files/2/label: expected integer or string"
 * Ownership: jschema_load_* allocate, jschema_free frees. A loaded jschema is
 * read-only and may be shared by threads. */
#ifndef MLHEP_JSONSCHEMA_H
#define MLHEP_JSONSCHEMA_H

#include <jansson.h>
#include <stddef.h>

#include "base/err.h"

typedef struct jschema jschema;

/* Loads and checks a schema document from a file. */
int jschema_load_file(const char *path, jschema **out, mlhep_err *e);

/* Same from a parsed document; takes its own reference to doc. `name` is used in
 * error messages about the schema itself (e.g. the file name). */
int jschema_load_json(json_t *doc, const char *name, jschema **out, mlhep_err *e);

/* Loads DIR/NAME.schema.json where DIR comes from jschema_find_dir(configured_dir). */
int jschema_load_named(const char *configured_dir, const char *name, jschema **out, mlhep_err *e);

void jschema_free(jschema *s);

/* Validates instance. Returns 0, or MLHEP_EINVAL with e->msg =
 * "<what>: <json pointer>: <rule broken>" for the first error found (what may be NULL).
 * The root location is written "/". */
int jschema_validate(const jschema *s, const json_t *instance, const char *what, mlhep_err *e);

/* Validates instance against the part of the schema at a local reference ref
 * ("#/properties/name"): one member checked by the document's own rule. Error
 * locations start with at (the member's pointer in its document, e.g. "/name"; "" for
 * the root). */
int jschema_validate_at(const jschema *s, const char *ref, const char *at, const json_t *instance,
                        const char *what, mlhep_err *e);

/* The node of the schema document at a local reference ("#/$defs/params/properties/epochs"),
 * or NULL if it does not resolve. Borrowed: valid while s is. For programs that take a
 * rule's value from the schema (a "default", a "maximum") instead of repeating it. */
const json_t *jschema_node(const jschema *s, const char *ref);

/* Finds the schema directory, in this order:
 *   1. configured (from a program's configuration), if not NULL/empty;
 *   2. $MLHEP_SCHEMAS;
 *   3. schemas/ next to the executable or in up to 4 parent directories of it
 *      (bin/mlhep-x -> ../schemas; build/asan/bin/mlhep-x -> ../../../schemas);
 *   4. /usr/local/share/mlhep/schemas, /usr/share/mlhep/schemas.
 * A directory qualifies if it holds workflow.schema.json. Writes it into buf. */
int jschema_find_dir(const char *configured, char *buf, size_t bufsz, mlhep_err *e);

/* Appends a JSON pointer reference token (escaping ~ and /) to ptr (capacity cap).
 * Exposed for callers that report their own errors with pointers. */
void jschema_ptr_append(char *ptr, size_t cap, const char *token);

#endif
