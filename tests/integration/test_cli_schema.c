/* The `libapi schema validate` command: exit codes, stdout and stderr for valid, invalid and
 * unreadable input. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64];

static void setup(void) {
  strcpy(dir, "/tmp/libapi-cli-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
}
static void teardown(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_assert_eq(system(cmd), 0);
}
TestSuite(cli_schema, .init = setup, .fini = teardown);

static void put(const char *name, const char *text) {
  char path[128];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fputs(text, f);
  fclose(f);
}

static char *slurp(const char *name) {
  char path[128];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "r");
  cr_assert_not_null(f);
  static char buf[65536];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = 0;
  fclose(f);
  return buf;
}

/* Run the CLI with args (a shell fragment) in dir; returns the exit status. */
static int run(const char *args) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s >out.txt 2>err.txt", dir, API_CLI_PATH, args);
  int st = system(cmd);
  cr_assert(WIFEXITED(st));
  return WEXITSTATUS(st);
}

static const char *SCHEMA =
    "{\"type\":\"object\",\"required\":[\"age\"],"
    "\"properties\":{\"age\":{\"type\":\"integer\",\"maximum\":150}}}";

Test(cli_schema, valid_is_silent) {
  put("s.json", SCHEMA);
  put("d.json", "{\"age\":36}");
  cr_assert_eq(run("schema validate s.json d.json"), 0);
  cr_assert_str_eq(slurp("out.txt"), "");
  cr_assert_str_eq(slurp("err.txt"), "");
  cr_assert_eq(run("schema validate s.json - < d.json"), 0);
  cr_assert_eq(run("schema validate s.json < d.json"), 0);
}

Test(cli_schema, invalid_prints_details) {
  put("s.json", SCHEMA);
  put("d.json", "{\"age\":200}");
  cr_assert_eq(run("schema validate s.json d.json"), 1);
  json_error_t e;
  json_t *d = json_loads(slurp("out.txt"), 0, &e);
  cr_assert_not_null(d, "stdout is not JSON: %s", e.text);
  cr_assert_eq(json_array_size(d), 1);
  json_t *err = json_array_get(d, 0);
  cr_assert_str_eq(json_string_value(json_object_get(err, "path")), "/age");
  cr_assert_str_eq(json_string_value(json_object_get(err, "keyword")), "maximum");
  cr_assert_eq(json_integer_value(json_object_get(json_object_get(err, "params"), "limit")), 150);
  json_decref(d);
  put("d2.json", "[]");
  cr_assert_eq(run("schema validate s.json d2.json"), 1);
}

Test(cli_schema, unreadable_input_exits_2) {
  put("s.json", SCHEMA);
  put("bad.json", "{\"type\":");
  put("badschema.json", "{\"minLength\":-1}");
  put("d.json", "{\"age\":1}");
  cr_assert_eq(run("schema validate missing.json d.json"), 2);
  cr_assert(strstr(slurp("err.txt"), "missing.json"));
  cr_assert_eq(run("schema validate bad.json d.json"), 2);
  cr_assert_eq(run("schema validate badschema.json d.json"), 2);
  cr_assert(strstr(slurp("err.txt"), "/minLength"), "%s", slurp("err.txt"));
  cr_assert_eq(run("schema validate s.json bad.json"), 2);
  cr_assert(strstr(slurp("err.txt"), "invalid JSON"));
  cr_assert_eq(run("schema validate s.json nope.json"), 2);
  cr_assert_eq(run("schema"), 2);
  cr_assert_eq(run("schema check s.json"), 2);
  cr_assert_eq(run("nosuchcommand"), 2);
  cr_assert_eq(run(""), 2);
  cr_assert_eq(run("--help"), 0);
  cr_assert(strstr(slurp("out.txt"), "schema"));
}
