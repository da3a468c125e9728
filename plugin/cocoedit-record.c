/* CoCoEdit for GIMP
 *
 * cocoedit-record.c: how a generative layer was made (see
 * cocoedit-record.h), as JSON
 *
 * This program is free software: you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#include <string.h>

#include <gio/gio.h>
#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>

#include "cocoedit-record.h"


/* Longer records are no record of ours. */
#define MAX_RECORD_BYTES (1 << 20)
#define MAX_CHAIN        1000


CocoeditRecord *
cocoedit_record_new (void)
{
  CocoeditRecord *record = g_new0 (CocoeditRecord, 1);

  record->chain    = g_new0 (gchar *, 1);
  record->strength = 1.0;
  record->model    = g_strdup ("");
  record->device   = g_strdup ("auto");

  return record;
}

void
cocoedit_record_free (CocoeditRecord *record)
{
  if (! record)
    return;

  g_strfreev (record->chain);
  g_free (record->model);
  g_free (record->device);
  g_free (record);
}

const gchar *
cocoedit_record_get_prompt (const CocoeditRecord *record)
{
  guint n = g_strv_length (record->chain);

  return n ? record->chain[n - 1] : "";
}

gchar *
cocoedit_record_to_json (const CocoeditRecord *record,
                         gsize                *length)
{
  g_autoptr (JsonBuilder)   builder = json_builder_new ();
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (JsonNode)      root = NULL;
  gchar                   **p;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "format");
  json_builder_add_string_value (builder, COCOEDIT_RECORD_FORMAT);
  json_builder_set_member_name (builder, "chain");
  json_builder_begin_array (builder);
  for (p = record->chain; *p; p++)
    json_builder_add_string_value (builder, *p);
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "seed");
  json_builder_add_int_value (builder, record->seed);
  json_builder_set_member_name (builder, "steps");
  json_builder_add_int_value (builder, record->steps);
  json_builder_set_member_name (builder, "guidance");
  json_builder_add_double_value (builder, record->guidance);
  json_builder_set_member_name (builder, "strength");
  json_builder_add_double_value (builder, record->strength);
  json_builder_set_member_name (builder, "model");
  json_builder_add_string_value (builder, record->model);
  json_builder_set_member_name (builder, "device");
  json_builder_add_string_value (builder, record->device);
  json_builder_set_member_name (builder, "source-layer");
  json_builder_add_int_value (builder, record->source_tattoo);
  json_builder_set_member_name (builder, "selection-channel");
  json_builder_add_int_value (builder, record->selection_tattoo);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);

  return json_generator_to_data (generator, length);
}

static gboolean
damaged (GError      **error,
         const gchar  *field)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
               _("The layer's CoCoEdit record is damaged (field \"%s\")."),
               field);
  return FALSE;
}

static gboolean
get_int (JsonObject   *object,
         const gchar  *name,
         gint64        min,
         gint64        max,
         gint64       *value,
         GError      **error)
{
  JsonNode *node = json_object_get_member (object, name);

  if (! node || ! JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64)
    return damaged (error, name);

  *value = json_node_get_int (node);
  if (*value < min || *value > max)
    return damaged (error, name);

  return TRUE;
}

static gboolean
get_double (JsonObject   *object,
            const gchar  *name,
            gdouble       min,
            gdouble       max,
            gdouble      *value,
            GError      **error)
{
  JsonNode *node = json_object_get_member (object, name);
  GType     type;

  if (! node || ! JSON_NODE_HOLDS_VALUE (node))
    return damaged (error, name);

  /* A whole number is written without a point. */
  type = json_node_get_value_type (node);
  if (type == G_TYPE_DOUBLE)
    *value = json_node_get_double (node);
  else if (type == G_TYPE_INT64)
    *value = json_node_get_int (node);
  else
    return damaged (error, name);

  if (! (*value >= min && *value <= max))
    return damaged (error, name);

  return TRUE;
}

static gboolean
get_string (JsonObject   *object,
            const gchar  *name,
            gchar       **value,
            GError      **error)
{
  JsonNode    *node = json_object_get_member (object, name);
  const gchar *s;

  if (! node || ! JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return damaged (error, name);

  s = json_node_get_string (node);
  if (! g_utf8_validate (s, -1, NULL))
    return damaged (error, name);

  g_free (*value);
  *value = g_strdup (s);

  return TRUE;
}

CocoeditRecord *
cocoedit_record_from_json (const gchar  *data,
                           gsize         length,
                           GError      **error)
{
  g_autoptr (JsonParser)     parser = json_parser_new ();
  g_autoptr (CocoeditRecord) record = cocoedit_record_new ();
  JsonNode                  *root;
  JsonObject                *object;
  JsonArray                 *chain;
  JsonNode                  *node;
  gchar                     *format = NULL;
  gint64                     value;
  guint                      n, i;

  if (length > MAX_RECORD_BYTES ||
      ! json_parser_load_from_data (parser, data, length, NULL))
    {
      damaged (error, "");
      return NULL;
    }

  root = json_parser_get_root (parser);
  if (! root || ! JSON_NODE_HOLDS_OBJECT (root))
    {
      damaged (error, "");
      return NULL;
    }
  object = json_node_get_object (root);

  if (! get_string (object, "format", &format, error))
    return NULL;
  if (strcmp (format, COCOEDIT_RECORD_FORMAT))
    {
      g_free (format);
      damaged (error, "format");
      return NULL;
    }
  g_free (format);

  node = json_object_get_member (object, "chain");
  if (! node || ! JSON_NODE_HOLDS_ARRAY (node))
    {
      damaged (error, "chain");
      return NULL;
    }
  chain = json_node_get_array (node);
  n     = json_array_get_length (chain);
  if (n == 0 || n > MAX_CHAIN)
    {
      damaged (error, "chain");
      return NULL;
    }

  g_strfreev (record->chain);
  record->chain = g_new0 (gchar *, n + 1);
  for (i = 0; i < n; i++)
    {
      JsonNode    *item = json_array_get_element (chain, i);
      const gchar *s;

      if (! JSON_NODE_HOLDS_VALUE (item) ||
          json_node_get_value_type (item) != G_TYPE_STRING ||
          ! g_utf8_validate ((s = json_node_get_string (item)), -1, NULL) ||
          ! *s)
        {
          damaged (error, "chain");
          return NULL;
        }
      record->chain[i] = g_strdup (s);
    }

  if (! get_int (object, "seed", 0, G_MAXINT, &value, error))
    return NULL;
  record->seed = value;
  if (! get_int (object, "steps", 0, 100, &value, error))
    return NULL;
  record->steps = value;
  if (! get_double (object, "guidance", 0.0, 20.0, &record->guidance, error) ||
      ! get_double (object, "strength", 0.0, 1.0, &record->strength, error) ||
      ! get_string (object, "model", &record->model, error) ||
      ! get_string (object, "device", &record->device, error))
    return NULL;
  if (strcmp (record->device, "auto") && strcmp (record->device, "cpu") &&
      strcmp (record->device, "cuda"))
    {
      damaged (error, "device");
      return NULL;
    }
  if (! get_int (object, "source-layer", 1, G_MAXUINT32, &value, error))
    return NULL;
  record->source_tattoo = value;
  if (! get_int (object, "selection-channel", 0, G_MAXUINT32, &value, error))
    return NULL;
  record->selection_tattoo = value;

  return g_steal_pointer (&record);
}
