/* libapi/api.h: the whole public API of libapi in one include. */
#ifndef LIBAPI_API_H
#define LIBAPI_API_H

#include <libapi/version.h>
#include "app.h"
#include "auth.h"
#include "common.h"
#include "log.h"
#include "metrics.h"
#include "middleware.h"
#include "openapi.h"
#include "request.h"
#include "response.h"
#include "router.h"
#include "schema.h"
#include "server.h"
#include "session.h"
#include "test.h"

#endif
