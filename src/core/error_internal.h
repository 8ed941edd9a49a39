#ifndef API_CORE_ERROR_INTERNAL_H
#define API_CORE_ERROR_INTERNAL_H

/* Record a message for api_last_error() on this thread and return err. */
int api__fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
