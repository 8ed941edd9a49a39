/* Between the session and CSRF middleware. */
#ifndef API_AUTH_SESSION_INTERNAL_H
#define API_AUTH_SESSION_INTERNAL_H

#include <libapi/request.h>

/* The id of the request's session, creating the session when there is none; NULL when the
 * request has no session middleware, the session was destroyed, or on failure. */
const char *api__session_id(api_req *req);
/* The session id the request arrived with (a live session loaded from its cookie), or NULL. */
const char *api__session_loaded_id(api_req *req);

#endif
