/* JSON equality and hashing as JSON Schema sees values: numbers compare by value (1 == 1.0),
 * objects ignore key order. The hash agrees with the equality, so enum and uniqueItems can sort
 * or bucket by hash and compare only values whose hashes collide. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema/schema_internal.h"

uint64_t api__str_hash(const char *s, size_t len) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)s[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

static uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

static uint64_t number_hash(double d) {
  /* Integral values hash as their integer so that 1 and 1.0 agree. */
  if (d == 0) return mix(0x1234);
  if (d == floor(d) && fabs(d) < 9.2e18) return mix((uint64_t)(int64_t)d ^ 0x5555);
  uint64_t bits;
  memcpy(&bits, &d, sizeof bits);
  return mix(bits);
}

static uint64_t hash_depth(const json_t *v, int depth) {
  if (depth > 64) return 0x77; /* deep values still compare exactly; the hash just stops */
  switch (json_typeof(v)) {
    case JSON_NULL:
      return 0x1;
    case JSON_TRUE:
      return 0x2;
    case JSON_FALSE:
      return 0x3;
    case JSON_INTEGER:
      if (json_integer_value(v) == 0) return mix(0x1234);
      return mix((uint64_t)json_integer_value(v) ^ 0x5555);
    case JSON_REAL:
      return number_hash(json_real_value(v));
    case JSON_STRING:
      return mix(api__str_hash(json_string_value(v), json_string_length(v)) ^ 0x99);
    case JSON_ARRAY: {
      uint64_t h = 0xa5a5;
      size_t n = json_array_size(v);
      for (size_t i = 0; i < n; i++) h = mix(h * 31 + hash_depth(json_array_get(v, i), depth + 1));
      return h;
    }
    case JSON_OBJECT: {
      uint64_t h = 0x5a5a;
      const char *k;
      json_t *x;
      json_object_foreach((json_t *)v, k, x) {
        size_t kl = strlen(k);
        h += mix(api__str_hash(k, kl) ^ hash_depth(x, depth + 1) * 7);
      }
      return h;
    }
  }
  return 0;
}

uint64_t api__json_hash(const json_t *v) { return v ? hash_depth(v, 0) : 0; }

static bool equal_depth(const json_t *a, const json_t *b, int depth) {
  if (a == b) return true;
  if (depth > 10000) return false;
  if (json_is_number(a) && json_is_number(b)) {
    if (json_is_integer(a) && json_is_integer(b))
      return json_integer_value(a) == json_integer_value(b);
    if (json_is_integer(a) || json_is_integer(b)) {
      /* Compare an integer with a real exactly, without rounding the integer to a double. */
      json_int_t i = json_is_integer(a) ? json_integer_value(a) : json_integer_value(b);
      double d = json_is_real(a) ? json_real_value(a) : json_real_value(b);
      if (d != floor(d) || d < -9.3e18 || d > 9.3e18) return false;
      if (d >= 9223372036854775807.0 || d < -9223372036854775807.0) return false;
      return (json_int_t)d == i;
    }
    return json_real_value(a) == json_real_value(b);
  }
  if (json_typeof(a) != json_typeof(b)) return false;
  switch (json_typeof(a)) {
    case JSON_STRING:
      return json_string_length(a) == json_string_length(b) &&
             !memcmp(json_string_value(a), json_string_value(b), json_string_length(a));
    case JSON_ARRAY: {
      size_t n = json_array_size(a);
      if (n != json_array_size(b)) return false;
      for (size_t i = 0; i < n; i++)
        if (!equal_depth(json_array_get(a, i), json_array_get(b, i), depth + 1)) return false;
      return true;
    }
    case JSON_OBJECT: {
      if (json_object_size(a) != json_object_size(b)) return false;
      void *it = json_object_iter((json_t *)a);
      for (; it; it = json_object_iter_next((json_t *)a, it)) {
        json_t *y = json_object_getn(b, json_object_iter_key(it), json_object_iter_key_len(it));
        if (!y || !equal_depth(json_object_iter_value(it), y, depth + 1)) return false;
      }
      return true;
    }
    default:
      return true; /* null, true, false: same type means equal */
  }
}

bool api__json_equal(const json_t *a, const json_t *b) { return equal_depth(a, b, 0); }

size_t api__utf8_length(const char *s, size_t len) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++) n += ((unsigned char)s[i] & 0xc0) != 0x80;
  return n;
}

void api__fmt_number(const json_t *v, char *buf, size_t len) {
  if (json_is_integer(v)) {
    snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    return;
  }
  double d = json_real_value(v);
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, len, "%.*g", prec, d);
    if (strtod(buf, NULL) == d) break;
  }
}
