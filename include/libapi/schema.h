/*
 * libapi/schema.h: JSON Schema (draft 2020-12) compiler and validator, coercion of URL strings,
 * and a few builders for common schema shapes. The module has no HTTP in it and can be used alone.
 *
 * A schema is compiled once (api_schema_compile(), api_schema_parse()) into an immutable form with
 * pre-compiled regular expressions, resolved references and pre-hashed enum/const values; a bad
 * schema fails there, with api_last_error() naming the JSON Pointer of the offending keyword.
 * Validation (api_schema_validate()) never reads the schema JSON again and never modifies the
 * schema, so one compiled schema can be shared by any number of threads without locks.
 *
 * Errors found in an instance are reported as {path, keyword, message, params}: path is the JSON
 * Pointer of the instance location ("/address/zip"), keyword the schema keyword that failed
 * ("pattern"), message an English sentence ("must match pattern ^[0-9]{5}$") and params a small
 * JSON object with the keyword's arguments ({"pattern":"^[0-9]{5}$"}).
 *
 * Seams for the request pipeline: api_schema_compile() from a json_t, api_schema_validate() with a
 * result, api_schema_result_details() for the 422 body, api_schema_coerce() for path/query/header
 * strings, api_schema_property() and api_schema_required() to walk an object schema's properties,
 * api_schema_json() for the original JSON (OpenAPI export), and api_schema_validate_text() which
 * parses and validates a JSON body with a per-thread arena (see docs/validation.md).
 */
#ifndef LIBAPI_SCHEMA_H
#define LIBAPI_SCHEMA_H

#include <jansson.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A compiled schema, or a borrowed view of one of its subschemas. Immutable once compiled. */
typedef struct api_schema api_schema;

/** Flags for api_schema_options.flags. */
enum {
  /** "format" is an annotation only: never fails validation (default: formats are asserted). */
  API_SCHEMA_FORMAT_ANNOTATION = 1u << 0,
  /** Unknown "format" names fail compilation instead of being ignored. */
  API_SCHEMA_FORMAT_STRICT = 1u << 1,
};

/**
 * Compile options. Build with API_SCHEMA_OPTIONS(.flags = ...); zero members take defaults.
 * Passing NULL for the options means all defaults.
 */
typedef struct api_schema_options {
  size_t size;               /**< sizeof(api_schema_options), set by API_SCHEMA_OPTIONS */
  unsigned flags;            /**< API_SCHEMA_* flags */
  const char *base_uri;      /**< base URI of the document when it has no $id (default
                                  "urn:libapi:schema") */
  unsigned max_depth;        /**< bound on nested evaluation (schema applicators and $ref hops
                                  along one instance path); default 256, at most 4096.
                                  Exceeding it makes the instance invalid (keyword
                                  "$depth"), never a stack overflow */
  unsigned long match_limit; /**< PCRE2 match limit per "pattern" match (default 100000); a
                                  pattern that hits it makes the instance invalid */
} api_schema_options;

#define API_SCHEMA_OPTIONS(...) \
  (&(const api_schema_options){.size = sizeof(api_schema_options), __VA_ARGS__})

/**
 * Compile a JSON Schema 2020-12 document. The 2020-12 meta-schemas are bundled, so
 * {"$ref": "https://json-schema.org/draft/2020-12/schema"} resolves; no other remote reference
 * does (an unresolvable $ref is a compile error).
 * @param out   receives the compiled schema
 * @param root  the schema (object or boolean); a reference is taken (json_incref), not stolen
 * @param opts  options or NULL
 * Returns 0; API_EINVAL for an invalid schema (api_last_error() says which keyword, by JSON
 * Pointer, e.g. "schema /properties/age/minimum: must be a number"); API_ENOMEM.
 * Ownership: free *out with api_schema_free(). Thread: any; the result may be shared by threads.
 */
LIBAPI_EXTERN int api_schema_compile(api_schema **out, json_t *root,
                                     const api_schema_options *opts);

/**
 * Parse JSON text (len bytes, need not be NUL-terminated) and compile it as api_schema_compile().
 * Returns 0; API_EBADJSON when the text is not JSON, duplicate object keys included
 * (api_last_error() has line and column); otherwise as api_schema_compile(). Ownership: free *out
 * with api_schema_free().
 */
LIBAPI_EXTERN int api_schema_parse(api_schema **out, const char *json_text, size_t len,
                                   const api_schema_options *opts);

/**
 * Free a schema obtained from api_schema_compile() or api_schema_parse(). NULL-safe. Borrowed
 * subschema views (api_schema_property()) are ignored. Thread: no validation may be running.
 */
LIBAPI_EXTERN void api_schema_free(api_schema *schema);

/**
 * The JSON this schema (or subschema view) was compiled from, e.g. for OpenAPI export.
 * Ownership: borrowed; valid while the schema lives. Do not modify it.
 */
LIBAPI_EXTERN json_t *api_schema_json(const api_schema *schema);

/**
 * One violation found in an instance. Ownership: everything is owned by the result and valid
 * until the result is freed or reused; params may be shared with the compiled schema and with
 * other results (its reference count is thread-safe): treat it as read-only, json_deep_copy() it
 * to modify it.
 */
typedef struct api_schema_error {
  const char *path;    /**< JSON Pointer of the instance location, "" for the root */
  const char *keyword; /**< the failing keyword, e.g. "maximum" */
  const char *message; /**< English message, e.g. "must be <= 150" */
  json_t *params;      /**< keyword arguments, e.g. {"limit":150}; never NULL */
} api_schema_error;

/**
 * The outcome of a validation. Build with API_SCHEMA_RESULT_INIT (or zero it and set size);
 * max_errors 0 means 100. Reusing a result for many validations reuses its memory; release it
 * with api_schema_result_free().
 */
typedef struct api_schema_result {
  size_t size;              /**< sizeof(api_schema_result) */
  size_t max_errors;        /**< stop collecting after this many errors (0: 100) */
  size_t count;             /**< out: number of errors in errors[] */
  int truncated;            /**< out: 1 if more errors existed than max_errors */
  api_schema_error *errors; /**< out: the errors, in the order found */
  void *internal_;          /**< private storage; leave it alone */
} api_schema_result;

#define API_SCHEMA_RESULT_INIT \
  { .size = sizeof(api_schema_result) }

/**
 * Validate an instance.
 * @param schema    a compiled schema or a subschema view
 * @param instance  the JSON document; not modified
 * @param res       receives every violation (up to res->max_errors); NULL for the fast path
 *                  that stops at the first violation and records nothing
 * Returns 0 when valid, API_EVALIDATION when invalid, API_ENOMEM (res then holds what was
 * collected), API_EINVAL for NULL arguments.
 * Ownership: res's previous contents are released (its memory is kept for reuse).
 * Thread: any, concurrently on the same schema (each thread with its own result).
 */
LIBAPI_EXTERN int api_schema_validate(const api_schema *schema, const json_t *instance,
                                      api_schema_result *res);

/**
 * Parse len bytes of JSON text and validate them: the request-body seam. The text is parsed by
 * libapi's strict parser (RFC 8259, UTF-8 checked, duplicate keys and NUL bytes in keys refused,
 * nesting limited to 2048, integers beyond int64 refused; docs/validation.md) into a per-thread
 * arena that is rewound afterwards, which is much faster than json_loadb() + json_decref(). The
 * first call installs libapi's jansson allocation functions with json_set_alloc_funcs(), only if
 * jansson still uses malloc/free (otherwise the document goes on the heap): they pass through to
 * malloc/free except on a thread inside this call's parse window; do not change jansson's
 * allocator afterwards. Returns as api_schema_validate() (API_ENOMEM included), or API_EBADJSON
 * for text that is not JSON (api_last_error() gives the line, column, byte offset and reason).
 * Thread: any, concurrently.
 */
LIBAPI_EXTERN int api_schema_validate_text(const api_schema *schema, const char *json_text,
                                           size_t len, api_schema_result *res);

/** Free what a result holds, its reusable memory included, and zero its outputs (size and
 * max_errors are kept). NULL-safe. */
LIBAPI_EXTERN void api_schema_result_free(api_schema_result *res);

/**
 * The errors of a result as a JSON array:
 * [{"path":"/age","keyword":"maximum","message":"must be <= 150","params":{"limit":150}}].
 * Returns a new reference, or NULL when out of memory. Ownership: json_decref() it.
 */
LIBAPI_EXTERN json_t *api_schema_result_details(const api_schema_result *res);

/**
 * Insert missing properties that have a "default" into instance, recursively: for every object
 * schema reached through properties, allOf and $ref, each property absent from the instance
 * whose subschema has a "default" gets a deep copy of it. Existing values are never replaced.
 * Returns 0 or API_ENOMEM / API_EINVAL. Thread: the instance must not be shared while modified.
 */
LIBAPI_EXTERN int api_schema_apply_defaults(const api_schema *schema, json_t *instance);

/**
 * Coerce strings from a URL or header into the JSON value the schema's "type" asks for:
 * integer ("42", "-7"; no "+", spaces, exponents or fractions), number ("1.5", "1e3"; no
 * inf/nan/hex), boolean ("true"/"false"), null ("null" or ""), string (as is); for "type":
 * "array" each of the n values is coerced with the items (prefixItems) schema, giving an array.
 * A schema allowing several types tries integer, number, boolean, null, then string. Without
 * "type" the value stays a string. $ref and allOf members are followed to find the type.
 * @param path    JSON Pointer used for error paths (e.g. "/age"); NULL means ""
 * @param values  n strings (n > 1 only for arrays, from repeated query keys)
 * @param out     receives the value (NULL when n is 0)
 * @param res     receives a "type" error on failure (may be NULL)
 * Returns 0, API_EVALIDATION when a value does not convert, API_ENOMEM, API_EINVAL.
 * The coerced value is not validated: call api_schema_validate() on it (or on the object built
 * from all parameters). Ownership: *out is a new reference.
 */
LIBAPI_EXTERN int api_schema_coerce(const api_schema *schema, const char *path,
                                    const char *const *values, size_t n, json_t **out,
                                    api_schema_result *res);

/**
 * The subschema that applies to property name of an object schema: "properties" first, then the
 * first matching "patternProperties", then "additionalProperties"; $ref and allOf are followed.
 * Returns NULL when no subschema constrains the property.
 * Ownership: borrowed view, valid while the schema lives; never pass it to api_schema_free().
 */
LIBAPI_EXTERN const api_schema *api_schema_property(const api_schema *schema, const char *name);

/**
 * The "required" property names of an object schema (following $ref and allOf of the schema
 * itself, not merged). Sets *names to a borrowed array valid while the schema lives; returns the
 * number of names (0 when none, and *names is then NULL).
 */
LIBAPI_EXTERN size_t api_schema_required(const api_schema *schema, const char *const **names);

/* ---- builders: small helpers that build the json_t of common shapes (new references, NULL when
 * out of memory). Feed the result to api_schema_compile(). ---- */

/** A limit meaning "none" for the builders' size limits. */
#define API_SCHEMA_NO_LIMIT ((size_t)-1)

/** {"type":"string"} with minLength/maxLength (omitted when 0 / API_SCHEMA_NO_LIMIT), pattern
 * and format (omitted when NULL). */
LIBAPI_EXTERN json_t *api_schema_string(size_t min_length, size_t max_length, const char *pattern,
                                        const char *format);
/** {"type":"integer","minimum":min,"maximum":max}. */
LIBAPI_EXTERN json_t *api_schema_integer(json_int_t min, json_int_t max);
/** {"type":"number","minimum":min,"maximum":max}. */
LIBAPI_EXTERN json_t *api_schema_number(double min, double max);
/** {"type":"array","items":items,...} with minItems/maxItems as for strings; steals items. */
LIBAPI_EXTERN json_t *api_schema_array(json_t *items, size_t min_items, size_t max_items);
/** {"type":"object","properties":{},"additionalProperties":additional} (additional 0 or 1). */
LIBAPI_EXTERN json_t *api_schema_object(int additional);
/**
 * Add property name with schema prop (stolen, even on failure) to an object schema made by
 * api_schema_object(), and to "required" when required is non-zero. Returns 0, API_EINVAL or
 * API_ENOMEM.
 */
LIBAPI_EXTERN int api_schema_prop(json_t *object_schema, const char *name, json_t *prop,
                                  int required);

#ifdef __cplusplus
}
#endif
#endif
