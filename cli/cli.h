/* The libapi command-line program's subcommand table. */
#ifndef LIBAPI_CLI_H
#define LIBAPI_CLI_H

/* A subcommand: argv[0] is the subcommand's name. Returns the process exit status. */
typedef int (*cli_main_fn)(int argc, char **argv);

typedef struct cli_command {
  const char *name;
  const char *summary;
  cli_main_fn main;
} cli_command;

int cli_schema_main(int argc, char **argv);

#endif
