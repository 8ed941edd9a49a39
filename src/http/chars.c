#include "http/chars.h"

#define T API__C_TCHAR
#define V API__C_VCHAR
#define G API__C_TARGET
#define TVG (T | V | G)
#define VG (V | G)

/* clang-format off */
const unsigned char api__chars[256] = {
  /* 0x00-0x08 */ 0, 0, 0, 0, 0, 0, 0, 0, 0,
  /* HTAB */ V,
  /* 0x0a-0x1f */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  /* SP */ V,
  /* ! */ TVG, /* " */ VG, /* # */ TVG, /* $ */ TVG, /* % */ TVG, /* & */ TVG, /* ' */ TVG,
  /* ( */ VG, /* ) */ VG, /* * */ TVG, /* + */ TVG, /* , */ VG, /* - */ TVG, /* . */ TVG, /* / */ VG,
  /* 0-9 */ TVG, TVG, TVG, TVG, TVG, TVG, TVG, TVG, TVG, TVG,
  /* : */ VG, /* ; */ VG, /* < */ VG, /* = */ VG, /* > */ VG, /* ? */ VG, /* @ */ VG,
  /* A-Z */ TVG, TVG, TVG, TVG, TVG, TVG, TVG, TVG, TVG, TVG, TVG, TVG, TVG,
            TVG, TVG, TVG, TVG, TVG, TVG, TVG, TVG, TVG, TVG, TVG, TVG, TVG,
  /* [ */ VG, /* \ */ VG, /* ] */ VG, /* ^ */ TVG, /* _ */ TVG, /* ` */ TVG,
  /* a-z */ TVG, TVG, TVG, TVG, TVG, TVG, TVG, TVG, TVG, TVG, TVG, TVG, TVG,
            TVG, TVG, TVG, TVG, TVG, TVG, TVG, TVG, TVG, TVG, TVG, TVG, TVG,
  /* { */ VG, /* | */ TVG, /* } */ VG, /* ~ */ TVG,
  /* DEL */ 0,
  /* 0x80-0xff: obs-text, allowed in field values only */
  V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V,
  V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V,
  V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V,
  V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V, V,
};
/* clang-format on */

bool api__is_token(const char *s, size_t n) {
  if (n == 0) return false;
  for (size_t i = 0; i < n; i++)
    if (!api__is_tchar((unsigned char)s[i])) return false;
  return true;
}

bool api__is_field_value(const char *s, size_t n) {
  if (n && (s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t')) return false;
  for (size_t i = 0; i < n; i++)
    if (!api__is_vchar((unsigned char)s[i])) return false;
  return true;
}
