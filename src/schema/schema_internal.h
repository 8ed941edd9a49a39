/* The compiled form of a JSON Schema: one node per (sub)schema, shared by every thread. */
#ifndef API_SCHEMA_INTERNAL_H
#define API_SCHEMA_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdbool.h>
#include <stdint.h>

#include "libapi/schema.h"

typedef struct api__metaschema {
  const char *uri;
  const char *text;
} api__metaschema;
extern const api__metaschema api__metaschemas[];

/* Instance types, as a bit mask. */
enum {
  SCH_NULL = 1,
  SCH_BOOLEAN = 2,
  SCH_OBJECT = 4,
  SCH_ARRAY = 8,
  SCH_NUMBER = 16,
  SCH_STRING = 32,
  SCH_INTEGER = 64,
};

/* Which keywords a node has (bits of api_schema.kw). */
enum {
  KW_MINIMUM = 1u << 0,
  KW_MAXIMUM = 1u << 1,
  KW_XMINIMUM = 1u << 2,
  KW_XMAXIMUM = 1u << 3,
  KW_MULTIPLE = 1u << 4,
  KW_MINLEN = 1u << 5,
  KW_MAXLEN = 1u << 6,
  KW_MINITEMS = 1u << 7,
  KW_MAXITEMS = 1u << 8,
  KW_UNIQUE = 1u << 9,
  KW_MINPROPS = 1u << 10,
  KW_MAXPROPS = 1u << 11,
  KW_MINCONTAINS = 1u << 12,
  KW_MAXCONTAINS = 1u << 13,
  KW_CONST = 1u << 14,
  KW_ENUM = 1u << 15,
  KW_TYPE = 1u << 16,
  KW_FORMAT = 1u << 17,
  KW_PATTERN = 1u << 18,
  KW_OBJECT = 1u << 19, /* any keyword that iterates an object's members */
  KW_ARRAY = 1u << 20,  /* any keyword that iterates an array's items */
  KW_DEFAULT = 1u << 21,
};

/* Keywords whose error params and message are fixed by the schema, prepared at compile time. */
enum {
  KWI_MINIMUM,
  KWI_MAXIMUM,
  KWI_XMINIMUM,
  KWI_XMAXIMUM,
  KWI_MULTIPLE,
  KWI_MINLEN,
  KWI_MAXLEN,
  KWI_MINITEMS,
  KWI_MAXITEMS,
  KWI_MINPROPS,
  KWI_MAXPROPS,
  KWI_PATTERN,
  KWI_FORMAT,
  KWI_TYPE,
  KWI_CONST,
  KWI_ENUM,
  KWI_CONTAINS,
  KWI_MAXCONTAINS,
  KWI_COUNT
};

typedef struct sch_regex {
  pcre2_code *code;
  char *source;
} sch_regex;

typedef struct sch_prop {
  const char *name; /* borrowed from the schema JSON */
  size_t len;
  api_schema *schema;
} sch_prop;

typedef struct sch_pattern_prop {
  sch_regex re;
  api_schema *schema;
} sch_pattern_prop;

typedef struct sch_dep_required {
  const char *name;
  size_t len;
  const char **names;
  size_t n;
} sch_dep_required;

typedef struct sch_dep_schema {
  const char *name;
  size_t len;
  api_schema *schema;
} sch_dep_schema;

typedef struct sch_anchor {
  const char *name;
  api_schema *schema;
} sch_anchor;

/* A schema resource (the document root or a subschema with $id): the unit of dynamic scope. */
typedef struct sch_resource {
  char *uri;           /* absolute, without fragment */
  json_t *root;        /* borrowed */
  sch_anchor *dynamic; /* its $dynamicAnchor names and their compiled schemas */
  size_t n_dynamic;
  struct sch_resource *next;
} sch_resource;

/* A JSON value with its hash, for enum/const and uniqueItems. */
typedef struct sch_value {
  uint64_t hash;
  json_t *value; /* borrowed from the schema JSON */
} sch_value;

typedef struct sch_doc sch_doc;

typedef bool (*sch_format_fn)(const char *s, size_t len);

struct api_schema {
  sch_doc *doc;
  json_t *json;      /* borrowed: the schema's own JSON */
  sch_resource *res; /* the resource the schema belongs to */
  int boolean;       /* 1 for the schema true, 0 for false, -1 for an object schema */
  uint32_t kw;       /* KW_* bits */
  unsigned types;    /* SCH_* mask for "type" */
  bool track_props;  /* has unevaluatedProperties */
  bool track_items;  /* has unevaluatedItems */

  double minimum, maximum, xminimum, xmaximum, multiple_of;
  json_t *minimum_json, *maximum_json, *xminimum_json, *xmaximum_json, *multiple_json;
  size_t min_length, max_length, min_items, max_items, min_props, max_props;
  size_t min_contains, max_contains;
  sch_regex pattern;
  sch_format_fn format;
  const char *format_name;

  sch_value const_value;
  sch_value *enum_values; /* sorted by hash */
  size_t n_enum;

  sch_prop *props; /* "properties", in schema order */
  size_t n_props;
  uint32_t *prop_table; /* open-addressing index into props (n_props > 8), size prop_mask + 1 */
  uint32_t prop_mask;
  sch_pattern_prop *pattern_props;
  size_t n_pattern_props;
  api_schema *additional;
  api_schema *property_names;
  const char **required;
  size_t n_required;
  sch_dep_required *dep_required;
  size_t n_dep_required;
  sch_dep_schema *dep_schemas;
  size_t n_dep_schemas;

  api_schema **prefix_items;
  size_t n_prefix_items;
  api_schema *items;
  api_schema *contains;

  api_schema **all_of, **any_of, **one_of;
  size_t n_all_of, n_any_of, n_one_of;
  api_schema *not_;
  api_schema *if_, *then_, *else_;
  api_schema *ref;
  api_schema *dynamic_ref;  /* static target of $dynamicRef */
  const char *dynamic_name; /* anchor name when the $dynamicRef may resolve dynamically */
  api_schema *unevaluated_props;
  api_schema *unevaluated_items;
  json_t *default_value;
  json_t *kw_params[KWI_COUNT]; /* prepared error params, one reference each */
  char *kw_msg[KWI_COUNT];      /* prepared error messages */
  json_t **req_params;          /* per "required" name */
  char **req_msg;

  api_schema *next_node; /* every node of a document, for freeing */
};

struct sch_doc {
  json_t *root_json; /* the user's document (a reference) */
  json_t *metas;     /* array of parsed bundled meta-schemas, kept alive */
  api_schema *root;  /* the compiled root */
  api_schema *nodes; /* list of every node */
  sch_resource *resources;
  unsigned flags;
  unsigned max_depth;
  unsigned long match_limit;
  pcre2_match_context *mctx;
  void *node_map; /* compile-time json_t* -> node map, freed after compile */
};

/* JSON equality as JSON Schema defines it (1 == 1.0, key order irrelevant) and a matching hash. */
bool api__json_equal(const json_t *a, const json_t *b);
uint64_t api__json_hash(const json_t *v);
uint64_t api__str_hash(const char *s, size_t len);

/* Results: rewind (keeping memory), and append one error copying path and msg (params stolen).
 * api__result_add returns 0 or API_ENOMEM. */
void api__result_reset(api_schema_result *r);
int api__result_add(api_schema_result *r, const char *path, const char *kw, const char *msg,
                    json_t *params);

/* The shortest decimal text of a JSON number that reads back the same. */
void api__fmt_number(const json_t *v, char *buf, size_t len);

/* Number of Unicode code points in UTF-8 text. */
size_t api__utf8_length(const char *s, size_t len);

/* Regexes with ECMA-262-like semantics. compile returns 0 or fills err (a message). */
int api__regex_compile(sch_regex *re, const char *src, size_t len, char *err, size_t errlen);
void api__regex_free(sch_regex *re);
/* 1 match, 0 no match, -1 match limit hit, -2 out of memory, -3 invalid UTF-8 subject. */
int api__regex_search(const sch_regex *re, const pcre2_match_context *mctx, const char *s,
                      size_t len);

/* The checker for a format name, or NULL for a format this library does not know. */
sch_format_fn api__format_lookup(const char *name);
bool api__format_regex(const char *s, size_t len);

#endif
