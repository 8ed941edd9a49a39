/* The error table's functions, and the per-thread "last error" message. */
#include <stdarg.h>
#include <stdio.h>

#include "core/error_internal.h"
#include "libapi/common.h"

#define ROW(name, value, status, code, msg) \
  case value:                               \
    return FIELD(name, status, code, msg);

const char *api_strerror(int err) {
  if (err == 0) return "success";
  switch (err) {
#define FIELD(name, status, code, msg) msg
    API_ERR_MAP(ROW)
#undef FIELD
  }
  return "unknown error";
}

const char *api_err_name(int err) {
  if (err == 0) return "OK";
  switch (err) {
#define FIELD(name, status, code, msg) #name
    API_ERR_MAP(ROW)
#undef FIELD
  }
  return "UNKNOWN";
}

const char *api_err_code(int err) {
  switch (err) {
#define FIELD(name, status, code, msg) code
    API_ERR_MAP(ROW)
#undef FIELD
  }
  return "INTERNAL";
}

int api_err_status(int err) {
  if (err == 0) return 200;
  switch (err) {
#define FIELD(name, status, code, msg) status
    API_ERR_MAP(ROW)
#undef FIELD
  }
  return 500;
}

static _Thread_local char last_error[256];

const char *api_last_error(void) { return last_error; }

int api__fail(int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof(last_error), fmt, ap);
  va_end(ap);
  return err;
}

const char *api_version(void) { return LIBAPI_VERSION_STRING; }
unsigned api_version_hex(void) { return LIBAPI_VERSION_HEX; }
