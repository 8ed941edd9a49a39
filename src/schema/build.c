/* Builders for the JSON of common schema shapes. */
#include <string.h>

#include "core/error_internal.h"
#include "libapi/schema.h"

static json_t *with_limits(json_t *o, const char *min_key, size_t min, const char *max_key,
                           size_t max) {
  if (!o) return NULL;
  if ((min && json_object_set_new(o, min_key, json_integer((json_int_t)min))) ||
      (max != API_SCHEMA_NO_LIMIT &&
       json_object_set_new(o, max_key, json_integer((json_int_t)max)))) {
    json_decref(o);
    return NULL;
  }
  return o;
}

json_t *api_schema_string(size_t min_length, size_t max_length, const char *pattern,
                          const char *format) {
  json_t *o = with_limits(json_pack("{ss}", "type", "string"), "minLength", min_length, "maxLength",
                          max_length);
  if (o && ((pattern && json_object_set_new(o, "pattern", json_string(pattern))) ||
            (format && json_object_set_new(o, "format", json_string(format))))) {
    json_decref(o);
    return NULL;
  }
  return o;
}

json_t *api_schema_integer(json_int_t min, json_int_t max) {
  return json_pack("{sssIsI}", "type", "integer", "minimum", min, "maximum", max);
}

json_t *api_schema_number(double min, double max) {
  return json_pack("{sssfsf}", "type", "number", "minimum", min, "maximum", max);
}

json_t *api_schema_array(json_t *items, size_t min_items, size_t max_items) {
  if (!items) return NULL;
  return with_limits(json_pack("{ssso}", "type", "array", "items", items), "minItems", min_items,
                     "maxItems", max_items);
}

json_t *api_schema_object(int additional) {
  return json_pack("{sss{}sb}", "type", "object", "properties", "additionalProperties",
                   additional != 0);
}

int api_schema_prop(json_t *object_schema, const char *name, json_t *prop, int required) {
  json_t *props = json_object_get(object_schema, "properties");
  if (!prop || !name || !json_is_object(props)) {
    json_decref(prop);
    return api__fail(API_EINVAL, "api_schema_prop: not an object schema, or NULL argument");
  }
  if (json_object_set_new(props, name, prop)) return api__fail(API_ENOMEM, "out of memory");
  if (required) {
    json_t *req = json_object_get(object_schema, "required");
    if (!req) {
      req = json_array();
      if (!req || json_object_set_new(object_schema, "required", req))
        return api__fail(API_ENOMEM, "out of memory");
    }
    if (!json_is_array(req)) return api__fail(API_EINVAL, "api_schema_prop: bad \"required\"");
    size_t i;
    json_t *v;
    json_array_foreach(req, i, v) {
      if (json_is_string(v) && !strcmp(json_string_value(v), name)) return 0;
    }
    if (json_array_append_new(req, json_string(name)))
      return api__fail(API_ENOMEM, "out of memory");
  }
  return 0;
}
