/*
 * libapi/app.h: the application: its configuration, and running it (routes are in libapi/router.h).
 *
 * An app is configured on one thread, then frozen when its server starts: routes and options are
 * read-only afterwards and shared by every worker without locks. Registration mistakes (a
 * conflicting or malformed route pattern) fail at once with a message naming the route, left in
 * api_last_error(), and are remembered: a server refuses to start an app that had one.
 */
#ifndef LIBAPI_APP_H
#define LIBAPI_APP_H

#include <stdint.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Server configuration. Zero means "default"; environment variables, when set, override what the
 * code set (API_HOST, API_PORT, API_WORKERS, ...), so a deployment can tune a program without
 * recompiling it — 0 there means "default" too. One exception: a port of API_PORT_ANY set in code
 * is kept whatever API_PORT says (tests rely on it). Build it with API_CONFIG(.port = 9000).
 */
typedef struct api_config {
  size_t size;         /**< sizeof(api_config), set by API_CONFIG */
  const char *host;    /**< address to listen on (API_HOST); default "127.0.0.1" */
  int port;            /**< TCP port (API_PORT); default 8080; API_PORT_ANY for an ephemeral one */
  int workers;         /**< worker threads (API_WORKERS); default: the number of online CPUs */
  int offload_threads; /**< offload pool threads (API_OFFLOAD_THREADS); default 4 */
  uint32_t max_uri;    /**< longest request target, bytes (API_MAX_URI); 8192; beyond: 414 */
  uint32_t max_header_bytes;  /**< header section size (API_MAX_HEADER_BYTES); 16384; beyond: 431 */
  uint32_t max_headers;       /**< header field count (API_MAX_HEADERS); 100; beyond: 431 */
  uint64_t max_body;          /**< request body size (API_MAX_BODY); 1 MiB; beyond: 413 */
  uint32_t header_timeout_ms; /**< whole request head, from its first byte (API_HEADER_TIMEOUT_MS);
                                 30000 */
  uint32_t body_timeout_ms; /**< whole request body, from the end of the head (API_BODY_TIMEOUT_MS);
                               60000 */
  uint32_t
      idle_timeout_ms; /**< keep-alive connection with no request (API_IDLE_TIMEOUT_MS); 5000 */
  uint32_t write_timeout_ms; /**< no write progress on a response (API_WRITE_TIMEOUT_MS); 30000 */
  uint32_t max_connections;  /**< open connections per worker (API_MAX_CONNECTIONS); 65536; beyond:
                                503 and close */
  uint32_t shutdown_timeout_ms; /**< graceful shutdown deadline (API_SHUTDOWN_TIMEOUT_MS); 10000 */
  /**
   * Reverse proxies whose forwarding headers are believed (API_TRUSTED_PROXIES): a comma-separated
   * list of addresses and CIDR ranges, "10.0.0.0/8, ::1". When the TCP peer is one of them,
   * api_req_client_addr() is taken from Forwarded (or else X-Forwarded-For), walking from the
   * right while the hops are trusted. Default: none, so the headers are ignored.
   */
  const char *trusted_proxies;
  /**
   * Validate 2xx JSON responses against their route's response_schema (API_VALIDATE_RESPONSES=1);
   * a violation becomes a 500 and is logged with its details. Default 0: off (it costs a parse and
   * a validation per response; turn it on in development and tests).
   */
  int validate_responses;
  /**
   * Let other processes of the same user listen on the same port (API_SHARE_PORT=1): the kernel
   * spreads new connections across all of them (SO_REUSEPORT), which allows a restart without
   * downtime (start the new process, then stop the old one gracefully). Default 0: a port another
   * process already listens on is an error at start (API_ESYS, "address already in use"), so a
   * forgotten old instance cannot silently take half the traffic.
   */
  int share_port;
} api_config;

#define API_CONFIG(...) (&(const api_config){.size = sizeof(api_config), __VA_ARGS__})
/** api_config.port value asking the kernel for a free port (see api_server_port()). */
#define API_PORT_ANY (-1)

/**
 * Create an app. cfg may be NULL for all defaults; it is copied (strings too).
 * Ownership: *out is the caller's; free it with api_app_free() after its server is freed.
 * Returns 0, API_ENOMEM, or API_EINVAL (an environment override that is not a valid number).
 */
LIBAPI_EXTERN int api_app_new(api_app **out, const api_config *cfg);

/** Free an app and its groups. NULL-safe. Not while a server runs it. */
LIBAPI_EXTERN void api_app_free(api_app *app);

/**
 * The app's effective configuration (defaults and environment applied).
 * Ownership: borrowed, valid as long as the app.
 */
LIBAPI_EXTERN const api_config *api_app_config(const api_app *app);

/**
 * Run the app: start a server (see libapi/server.h), stop it gracefully on SIGINT or SIGTERM, and
 * return when it has stopped. Prints one line to stderr naming the address it listens on.
 * Returns 0 after a graceful stop, or the error that kept the server from starting.
 * Thread: call from the main thread; blocks SIGINT and SIGTERM in the calling thread.
 */
LIBAPI_EXTERN int api_app_run(api_app *app);

#ifdef __cplusplus
}
#endif
#endif
