/* Accept-Encoding negotiation, apart so that unit tests can feed it hostile values. */
#ifndef API_MW_COMPRESS_INTERNAL_H
#define API_MW_COMPRESS_INTERNAL_H

#include <stdbool.h>

/* What the Accept-Encoding fields said, in thousandths (q=0.5 is 500); -1: not listed. */
typedef struct api__accept_enc {
  int gzip, deflate, identity, star;
} api__accept_enc;

#define API__ACCEPT_ENC_INIT \
  { -1, -1, -1, -1 }

/* Add one Accept-Encoding field value. The first mention of a coding counts; a malformed
 * q-value counts as 0; elements that are not "token *(; param)" are skipped. */
void api__accept_enc_scan(api__accept_enc *ae, const char *value);

enum { API__ENC_NONE, API__ENC_GZIP, API__ENC_DEFLATE };

/* The coding to use: the highest q above 0 (gzip on a tie), unless identity was listed with a
 * higher q. allow_deflate false leaves gzip only. */
int api__accept_enc_choose(const api__accept_enc *ae, bool allow_deflate);

#endif
