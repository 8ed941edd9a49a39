/* libapi: command-line tools around the library. Each subcommand lives in its own file
 * (cli/<name>.c) and is listed in the table below. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const cli_command commands[] = {
    {"schema", "validate JSON documents against a JSON Schema", cli_schema_main},
    {"jwt", "verify and sign JSON Web Tokens", cli_jwt_main},
    {"password", "hash and verify passwords with bcrypt", cli_password_main},
};

static void usage(FILE *out) {
  fprintf(out, "usage: libapi <command> [args...]\n\ncommands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return 0;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (!strcmp(argv[1], commands[i].name)) return commands[i].main(argc - 1, argv + 1);
  fprintf(stderr, "libapi: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return 2;
}
