/* jwt.h - bearer token (JWT, RFC 7519) verification with OpenSSL 3 EVP.
 *
 * The submitter checks a user's token before anything is queued; the worker checks
 * the token carried in the job again (user machines are not trusted); the inference
 * worker checks `mlhep.predict`. All three load one jwt_config at start (from a JSON
 * config object or a jwt_opts struct) and then call jwt_verify() per token.
 *
 * The algorithm is chosen by the CONFIGURATION, never by the token: RS256 with a PEM
 * public key or a JWKS file (RSA keys, selected by the token's `kid`), or HS256 with
 * a shared secret (development). A token whose header `alg` differs from the
 * configured one is refused before any signature check (this defeats `alg: none` and
 * the HS256-signed-with-the-RSA-public-key confusion attack).
 *
 * Checks, in order: size and shape (three base64url parts), header (alg, crit, kid),
 * signature, then claims: exp (required), nbf, iss, aud (string or array), sub
 * (required), required scope (`scope` space-separated string or `scp` array/string).
 * Every refusal has its own jwt_reason (stable small integers: the submitter maps them
 * to exit codes) and a message naming the problem. Nothing about the token is trusted
 * before the signature is verified, except what is needed to pick the key.
 *
 * Ownership: jwt_config_* allocate, jwt_config_free frees; jwt_claims is a plain
 * struct with fixed-size buffers filled by jwt_verify (nothing to free). A loaded
 * jwt_config is read-only and may be shared between threads. */
#ifndef MLHEP_JWT_H
#define MLHEP_JWT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Why a token was refused. Values are stable: programs map them to exit codes. */
typedef enum jwt_reason {
    JWT_OK = 0,
    JWT_E_MALFORMED = 1,     /* not header.payload.signature, bad base64url or JSON */
    JWT_E_TOO_LARGE = 2,     /* longer than the configured maximum */
    JWT_E_ALG_NONE = 3,      /* header alg "none" (unsigned token) */
    JWT_E_ALG_MISMATCH = 4,  /* header alg is not the configured algorithm */
    JWT_E_UNKNOWN_KID = 5,   /* no key in the JWKS matches the token's kid */
    JWT_E_SIGNATURE = 6,     /* signature does not verify */
    JWT_E_EXPIRED = 7,       /* now >= exp + leeway */
    JWT_E_NOT_YET_VALID = 8, /* now + leeway < nbf */
    JWT_E_ISSUER = 9,        /* iss missing or not the configured issuer */
    JWT_E_AUDIENCE = 10,     /* aud missing or does not contain the configured audience */
    JWT_E_SCOPE = 11,        /* required scope not granted */
    JWT_E_CLAIMS = 12,       /* required claim (exp, sub) missing or of the wrong type */
    JWT_E_CONFIG = 13,       /* verifier misconfigured / bad arguments */
} jwt_reason;
#define JWT_REASON_COUNT 14

typedef enum jwt_alg { JWT_ALG_RS256 = 1, JWT_ALG_HS256 = 2 } jwt_alg;

/* Options for jwt_config_new. Exactly one key source must be set for the algorithm:
 * RS256: pubkey_pem_file or jwks_file; HS256: hs256_secret (+len) or hs256_secret_file. */
typedef struct jwt_opts {
    jwt_alg alg;
    const char *pubkey_pem_file;   /* RS256: PEM "PUBLIC KEY" (SubjectPublicKeyInfo) */
    const char *jwks_file;         /* RS256: {"keys":[{"kty":"RSA","kid":..,"n":..,"e":..}]} */
    const unsigned char *hs256_secret; /* HS256: raw secret bytes (>= 32 bytes) */
    size_t hs256_secret_len;
    const char *hs256_secret_file; /* HS256: file whose bytes are the secret (a trailing
                                      newline is stripped) */
    const char *issuer;            /* required: expected `iss` */
    const char *audience;          /* required: must appear in `aud` */
    int leeway_s;                  /* clock skew allowed on exp/nbf, 0..600 (default 0) */
    size_t max_token_len;          /* 0 = default JWT_MAX_TOKEN_LEN */
} jwt_opts;

#define JWT_MAX_TOKEN_LEN 8192
#define JWT_MIN_HS256_SECRET 32
#define JWT_MIN_RSA_BITS 2048

typedef struct jwt_config jwt_config;

/* Loads keys and settings; *out is freed with jwt_config_free. */
int jwt_config_new(const jwt_opts *opts, jwt_config **out, mlhep_err *e);

/* Same from a JSON object (e.g. the "auth" section of a program's config file):
 *   {"alg":"RS256"|"HS256", "public_key":"pub.pem" | "jwks":"keys.json" |
 *    "secret_file":"dev.secret", "issuer":"...", "audience":"...", "leeway":30,
 *    "max_token_len":8192}
 * Relative file names are resolved against base_dir (the config file's directory;
 * NULL = the current directory). Unknown keys are refused. */
int jwt_config_from_json(const json_t *obj, const char *base_dir, jwt_config **out,
                         mlhep_err *e);

void jwt_config_free(jwt_config *cfg);

#define JWT_SUB_MAX 256
#define JWT_SCOPES_MAX 1024
#define JWT_KID_MAX 128

/* What a verified token says. On failure only `reason` is meaningful. */
typedef struct jwt_claims {
    jwt_reason reason;
    char sub[JWT_SUB_MAX];        /* subject: the user the job belongs to */
    char scopes[JWT_SCOPES_MAX];  /* granted scopes, single-space separated */
    char kid[JWT_KID_MAX];        /* key id from the header ("" if none) */
    int64_t exp;                  /* expiry, seconds since the epoch */
    int64_t nbf;                  /* not-before (0 if absent) */
    int64_t iat;                  /* issued-at (0 if absent) */
} jwt_claims;

/* Verifies `token` (the bare JWT, without "Bearer ") at time `now` (seconds since the
 * epoch; pass time(NULL)). required_scope may be NULL (no scope check). Returns 0 and
 * fills *claims, or MLHEP_EAUTH (token refused; claims->reason says why, e->msg
 * explains) or MLHEP_EINVAL (bad arguments, reason JWT_E_CONFIG). */
int jwt_verify(const jwt_config *cfg, const char *token, int64_t now,
               const char *required_scope, jwt_claims *claims, mlhep_err *e);

/* 1 if the verified claims grant `scope` (exact match of one scope), else 0. */
int jwt_claims_has_scope(const jwt_claims *claims, const char *scope);

/* Short stable name of a reason ("expired", "bad-signature", ...). */
const char *jwt_reason_name(jwt_reason r);

/* Strips an optional "Bearer " prefix and surrounding whitespace in place (for tokens
 * read from files, headers or `oidc-token` output); returns s. */
char *jwt_trim_token(char *s);

/* base64url (RFC 4648 section 5, no padding) decoder used by the verifier, exposed
 * for tests and JWKS: decodes n chars of `in` into out (capacity outcap); returns the
 * number of bytes or -1 on a character outside the alphabet, '=' padding, an
 * impossible length, non-zero trailing bits or too small a buffer. */
long jwt_b64url_decode(const char *in, size_t n, unsigned char *out, size_t outcap);

/* Encoder (for tests and tools minting tokens): writes the unpadded encoding of n bytes
 * plus a NUL into out (capacity >= 4*ceil(n/3)+1); returns the length or -1. */
long jwt_b64url_encode(const unsigned char *in, size_t n, char *out, size_t outcap);

#endif
