/*
 * libapi/server.h: running an app — listeners, worker threads, the offload pool, shutdown.
 *
 * A server starts N worker threads, each with its own event loop and its own SO_REUSEPORT
 * listener on the configured address; a connection lives on one worker for its whole life.
 * api_app_run() (libapi/app.h) wraps this for programs that just want to serve until a signal.
 */
#ifndef LIBAPI_SERVER_H
#define LIBAPI_SERVER_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Freeze app, bind its address and start its workers and offload pool; returns once the server
 * accepts connections.
 * Ownership: *out is the caller's: stop it, wait for it, then api_server_free() it; the app must
 * outlive it. Returns 0; API_ESTATE if the app had a registration error or already runs;
 * API_ESYS if the address cannot be bound (api_last_error() says why); API_ENOMEM.
 */
LIBAPI_EXTERN int api_server_start(api_server **out, api_app *app);

/** The TCP port the server listens on (the kernel's choice when configured with API_PORT_ANY). */
LIBAPI_EXTERN int api_server_port(const api_server *srv);

/**
 * Begin a graceful shutdown: stop accepting, close idle keep-alive connections, let in-flight
 * requests finish (their responses say Connection: close) and close what is left at the
 * shutdown deadline. Returns at once.
 * Thread: any thread; also async-signal-safe.
 */
LIBAPI_EXTERN void api_server_stop(api_server *srv);

/**
 * Wait until the server has stopped (after api_server_stop()) and its threads have exited.
 * Returns 0. Thread: one thread, not a worker.
 */
LIBAPI_EXTERN int api_server_wait(api_server *srv);

/** Free a stopped server (stopping and waiting for it first if needed). NULL-safe. */
LIBAPI_EXTERN void api_server_free(api_server *srv);

#ifdef __cplusplus
}
#endif
#endif
