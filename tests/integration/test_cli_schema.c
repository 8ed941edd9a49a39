/* The `libapi schema validate` command: exit codes, stdout and stderr for valid, invalid and
 * unreadable input. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/client.h"

TestSuite(cli_schema, .init = tc_scratch_new, .fini = tc_scratch_remove);

/* Run the CLI with args (a shell fragment) in the scratch directory; returns the exit status. */
static int run(const char *args) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s >out.txt 2>err.txt", tc_scratch_dir(), API_CLI_PATH,
           args);
  int st = system(cmd);
  cr_assert(WIFEXITED(st));
  return WEXITSTATUS(st);
}

static const char *SCHEMA =
    "{\"type\":\"object\",\"required\":[\"age\"],"
    "\"properties\":{\"age\":{\"type\":\"integer\",\"maximum\":150}}}";

Test(cli_schema, valid_is_silent) {
  tc_scratch_put("s.json", SCHEMA);
  tc_scratch_put("d.json", "{\"age\":36}");
  cr_assert_eq(run("schema validate s.json d.json"), 0);
  cr_assert_str_eq(tc_scratch_read("out.txt"), "");
  cr_assert_str_eq(tc_scratch_read("err.txt"), "");
  cr_assert_eq(run("schema validate s.json - < d.json"), 0);
  cr_assert_eq(run("schema validate s.json < d.json"), 0);
}

Test(cli_schema, invalid_prints_details) {
  tc_scratch_put("s.json", SCHEMA);
  tc_scratch_put("d.json", "{\"age\":200}");
  cr_assert_eq(run("schema validate s.json d.json"), 1);
  json_error_t e;
  json_t *d = json_loads(tc_scratch_read("out.txt"), 0, &e);
  cr_assert_not_null(d, "stdout is not JSON: %s", e.text);
  cr_assert_eq(json_array_size(d), 1);
  json_t *err = json_array_get(d, 0);
  cr_assert_str_eq(json_string_value(json_object_get(err, "path")), "/age");
  cr_assert_str_eq(json_string_value(json_object_get(err, "keyword")), "maximum");
  cr_assert_eq(json_integer_value(json_object_get(json_object_get(err, "params"), "limit")), 150);
  json_decref(d);
  tc_scratch_put("d2.json", "[]");
  cr_assert_eq(run("schema validate s.json d2.json"), 1);
}

Test(cli_schema, unreadable_input_exits_2) {
  tc_scratch_put("s.json", SCHEMA);
  tc_scratch_put("bad.json", "{\"type\":");
  tc_scratch_put("badschema.json", "{\"minLength\":-1}");
  tc_scratch_put("d.json", "{\"age\":1}");
  cr_assert_eq(run("schema validate missing.json d.json"), 2);
  cr_assert(strstr(tc_scratch_read("err.txt"), "missing.json"));
  cr_assert_eq(run("schema validate bad.json d.json"), 2);
  cr_assert_eq(run("schema validate badschema.json d.json"), 2);
  cr_assert(strstr(tc_scratch_read("err.txt"), "/minLength"), "%s", tc_scratch_read("err.txt"));
  cr_assert_eq(run("schema validate s.json bad.json"), 2);
  cr_assert(strstr(tc_scratch_read("err.txt"), "invalid JSON"));
  cr_assert_eq(run("schema validate s.json nope.json"), 2);
  /* The library's parser: duplicate keys are refused with their place, in documents and schemas;
   * "\u0000" in a string is fine. */
  tc_scratch_put("dup.json", "{\"age\":1,\n \"age\":2}");
  cr_assert_eq(run("schema validate s.json dup.json"), 2);
  cr_assert(strstr(tc_scratch_read("err.txt"),
                   "dup.json: invalid JSON at line 2, column 2: duplicate object key"),
            "%s", tc_scratch_read("err.txt"));
  cr_assert_eq(run("schema validate dup.json d.json"), 2);
  cr_assert(strstr(tc_scratch_read("err.txt"), "line 2, column 2: duplicate object key"), "%s",
            tc_scratch_read("err.txt"));
  tc_scratch_put("nul.json", "{\"age\":1,\"name\":\"a\\u0000b\"}");
  cr_assert_eq(run("schema validate s.json nul.json"), 0, "%s", tc_scratch_read("err.txt"));
  cr_assert_eq(run("schema"), 2);
  cr_assert_eq(run("schema check s.json"), 2);
  cr_assert_eq(run("nosuchcommand"), 2);
  cr_assert_eq(run(""), 2);
  cr_assert_eq(run("--help"), 0);
  cr_assert(strstr(tc_scratch_read("out.txt"), "schema"));
}
