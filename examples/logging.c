/* logging: the structured logger — fields, a child logger, redaction, the audit log and SIGHUP. */
#include <libapi/api.h>
#include <stdio.h>

int main(int argc, char **argv) {
  /* JSON lines to stderr, or to the file named on the command line (reopened on SIGHUP, for
   * logrotate). API_LOG_LEVEL and API_LOG_FORMAT=pretty override this from the environment. */
  api_logger *log;
  int rc = api_logger_new(&log,
                          API_LOG_CONFIG(.level = API_LOG_DEBUG,
                                         .sink = argc > 1 ? API_LOG_SINK_FILE : API_LOG_SINK_STDERR,
                                         .file_path = argc > 1 ? argv[1] : NULL));
  if (rc != 0) {
    fprintf(stderr, "logger: %s (%s)\n", api_strerror(rc), api_last_error());
    return 1;
  }
  if (argc > 1) api_logger_reopen_on_sighup(log);

  api_log(log, API_LOG_INFO, "starting", API_LOG_STR("version", api_version()),
          API_LOG_INT("workers", 4), API_LOG_BOOL("tls", false));

  /* Every line of a child carries its bound fields. */
  api_logger *db;
  api_logger_child(&db, log, (api_log_field[]){API_LOG_STR("module", "db")}, 1);
  api_log(db, API_LOG_WARN, "slow query", API_LOG_DOUBLE("ms", 812.5),
          API_LOG_STR("sql", "SELECT *\nFROM users")); /* the newline is escaped */

  /* Secrets are redacted by key, also inside JSON values. */
  json_t *body = json_pack("{s:s,s:s}", "user", "ada", "password", "hunter2");
  api_log(db, API_LOG_DEBUG, "login body", API_LOG_JSON("body", body),
          API_LOG_STR("Authorization", "Bearer abc"));
  json_decref(body);

  api_audit(log, API_AUDIT_EVENT(.actor = "ada", .action = "user.delete", .target = "user:42",
                                 .client = "127.0.0.1", .result = API_AUDIT_FAILURE,
                                 .reason = "forbidden"));

  printf("lines dropped: %llu\n", (unsigned long long)api_logger_dropped(log));
  api_logger_free(db);
  api_logger_free(log); /* writes everything out */
  return 0;
}
