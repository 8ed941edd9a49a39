/* libapi schema validate SCHEMA.json [DOC.json|-]
 * Exit 0 (no output) when the document is valid; 1 with the details array as JSON on stdout
 * when it is not; 2 with a message on stderr when the schema or document cannot be read. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libapi/schema.h>

#include "cli.h"
#include "util/json.h"

static void usage(void) {
  fprintf(stderr,
          "usage: libapi schema validate SCHEMA.json [DOC.json|-]\n"
          "  validates DOC (standard input when absent or -) against SCHEMA\n"
          "  exit 0: valid; 1: invalid (details on stdout); 2: error\n");
}

static int validate(const char *schema_path, const char *doc_path) {
  size_t slen, dlen;
  char *stext = cli_read_path(schema_path, &slen, (size_t)1 << 31);
  if (!stext) {
    fprintf(stderr, "libapi schema: cannot read %s: %s\n", schema_path, strerror(errno));
    return 2;
  }
  api_schema *s = NULL;
  int rc = api_schema_parse(&s, stext, slen, NULL);
  free(stext);
  if (rc) {
    fprintf(stderr, "libapi schema: %s: %s\n", schema_path, api_last_error());
    return 2;
  }
  char *dtext = cli_read_path(doc_path, &dlen, (size_t)1 << 31);
  if (!dtext) {
    fprintf(stderr, "libapi schema: cannot read %s: %s\n", doc_path, strerror(errno));
    api_schema_free(s);
    return 2;
  }
  api__json_error jerr;
  json_t *doc = api__json_parse(dtext, dlen, API__JSON_ALLOW_NUL, &jerr);
  free(dtext);
  if (!doc) {
    if (jerr.enomem)
      fprintf(stderr, "libapi schema: out of memory\n");
    else
      fprintf(stderr, "libapi schema: %s: invalid JSON at line %d, column %d: %s\n", doc_path,
              jerr.line, jerr.column, jerr.message);
    api_schema_free(s);
    return 2;
  }
  api_schema_result res = API_SCHEMA_RESULT_INIT;
  rc = api_schema_validate(s, doc, &res);
  int status = 0;
  if (rc == API_EVALIDATION) {
    json_t *details = api_schema_result_details(&res);
    char *out = details ? json_dumps(details, JSON_INDENT(2)) : NULL;
    if (out) {
      printf("%s\n", out);
      status = 1;
    } else {
      fprintf(stderr, "libapi schema: out of memory\n");
      status = 2;
    }
    free(out);
    json_decref(details);
  } else if (rc) {
    fprintf(stderr, "libapi schema: %s\n", api_last_error());
    status = 2;
  }
  api_schema_result_free(&res);
  json_decref(doc);
  api_schema_free(s);
  return status;
}

int cli_schema_main(int argc, char **argv) {
  if (argc < 3 || argc > 4 || strcmp(argv[1], "validate")) {
    usage();
    return 2;
  }
  return validate(argv[2], argc == 4 ? argv[3] : "-");
}
