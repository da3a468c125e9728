/* libcocoreport: metrics.jsonl, written one line at a time and read back
 * into series.
 *
 * Copyright (C) 2026 CoCoEdit for GIMP contributors
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Writing: each record is formatted in memory and handed to the kernel in
 * one write() on an O_APPEND descriptor, with no stdio buffer in between,
 * so that whatever kills the trainer, every complete line is on disk (in
 * the page cache) and at most the last one is cut short.
 *
 * Numbers are formatted with 12 significant digits rather than json-glib's
 * 17, which keep float32 metrics exact and the file readable ("0.1", not
 * "0.10000000000000001"); "time" gets millisecond resolution.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "report-private.h"

struct _ReportMetricsLog
{
  gchar *path;
  gint   fd;
};

typedef struct
{
  GArray *x;   /* gdouble: step */
  GArray *y;   /* gdouble: value, NaN for null */
} KeySeries;

struct _ReportMetrics
{
  GPtrArray  *keys;        /* gchar*, first-seen order, NULL terminated */
  GHashTable *series;      /* key -> KeySeries* ("time" included) */
  gsize       n_records;
  gsize       n_skipped;
  gint64      last_step;
};

/* ---- Writing ---------------------------------------------------------- */

static gboolean
write_all (gint fd, const gchar *data, gsize len, const gchar *path,
           GError **error)
{
  while (len > 0)
    {
      gssize n = write (fd, data, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved = errno;

          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                       "%s: cannot write: %s", path, g_strerror (saved));
          return FALSE;
        }
      data += n;
      len -= n;
    }
  return TRUE;
}

/* Cuts the file back to its last newline, removing a record that a killed
 * run left half written; otherwise the next record would be glued to it and
 * both would be lost. */
static gboolean
drop_partial_tail (gint fd, const gchar *path, GError **error)
{
  goffset end = lseek (fd, 0, SEEK_END);
  goffset pos = end;
  gchar   buf[4096];

  if (end < 0)
    goto fail;
  while (pos > 0)
    {
      gsize  chunk = MIN ((goffset) sizeof buf, pos);
      gssize n = pread (fd, buf, chunk, pos - chunk);

      if (n != (gssize) chunk)
        goto fail;
      for (gssize i = n - 1; i >= 0; i--)
        if (buf[i] == '\n')
          {
            goffset keep = pos - chunk + i + 1;

            if (keep != end && ftruncate (fd, keep) != 0)
              goto fail;
            return TRUE;
          }
      pos -= chunk;
    }
  if (end > 0 && ftruncate (fd, 0) != 0)
    goto fail;
  return TRUE;

fail:
  {
    int saved = errno;

    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                 "%s: cannot repair the last line: %s", path, g_strerror (saved));
    return FALSE;
  }
}

ReportMetricsLog *
report_metrics_log_open (const gchar *path, gboolean truncate, GError **error)
{
  ReportMetricsLog *log;
  gint flags = O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC;
  gint fd;

  if (path == NULL || *path == '\0')
    {
      g_set_error (error, REPORT_ERROR, REPORT_ERROR_INVALID, "no metrics log path given");
      return NULL;
    }
  if (truncate)
    flags |= O_TRUNC;
  fd = g_open (path, flags, 0644);
  if (fd < 0)
    {
      int saved = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                   "%s: cannot open the metrics log: %s", path, g_strerror (saved));
      return NULL;
    }
  if (!truncate && !drop_partial_tail (fd, path, error))
    {
      close (fd);
      return NULL;
    }
  log = g_new0 (ReportMetricsLog, 1);
  log->path = g_strdup (path);
  log->fd = fd;
  return log;
}

static void
append_json_string (GString *line, const gchar *s)
{
  JsonNode *node = json_node_init_string (json_node_alloc (), s);
  gchar *quoted = json_to_string (node, FALSE);

  g_string_append (line, quoted);
  g_free (quoted);
  json_node_unref (node);
}

static void
append_number (GString *line, gdouble value, const gchar *format)
{
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (!isfinite (value))
    {
      /* JSON has no NaN or Infinity; the reader turns null back into NaN. */
      g_string_append (line, "null");
      return;
    }
  g_string_append (line, g_ascii_formatd (buf, sizeof buf, format, value));
}

static gboolean
check_keys (gsize n, const gchar *const *keys, GError **error)
{
  for (gsize i = 0; i < n; i++)
    {
      if (keys[i] == NULL || *keys[i] == '\0' || !g_utf8_validate (keys[i], -1, NULL))
        {
          g_set_error (error, REPORT_ERROR, REPORT_ERROR_INVALID,
                       "metric %" G_GSIZE_FORMAT ": the name is empty or not UTF-8", i);
          return FALSE;
        }
      if (strcmp (keys[i], "step") == 0 || strcmp (keys[i], "time") == 0)
        {
          g_set_error (error, REPORT_ERROR, REPORT_ERROR_INVALID,
                       "metric name \"%s\" is reserved", keys[i]);
          return FALSE;
        }
      for (gsize j = 0; j < i; j++)
        if (strcmp (keys[i], keys[j]) == 0)
          {
            g_set_error (error, REPORT_ERROR, REPORT_ERROR_INVALID,
                         "metric \"%s\" is given twice", keys[i]);
            return FALSE;
          }
    }
  return TRUE;
}

gboolean
report_metrics_log_append (ReportMetricsLog *log, gint64 step, gsize n_values,
                           const gchar *const *keys, const gdouble *values,
                           GError **error)
{
  GString *line;
  gboolean ok;

  if (log == NULL || (n_values > 0 && (keys == NULL || values == NULL)))
    {
      g_set_error (error, REPORT_ERROR, REPORT_ERROR_INVALID,
                   "report_metrics_log_append: missing log, keys or values");
      return FALSE;
    }
  if (!check_keys (n_values, keys, error))
    return FALSE;

  line = g_string_sized_new (64 + 32 * n_values);
  g_string_append_printf (line, "{\"step\":%" G_GINT64_FORMAT ",\"time\":", step);
  append_number (line, g_get_real_time () / 1e6, "%.13g");
  for (gsize i = 0; i < n_values; i++)
    {
      g_string_append_c (line, ',');
      append_json_string (line, keys[i]);
      g_string_append_c (line, ':');
      append_number (line, values[i], "%.12g");
    }
  g_string_append (line, "}\n");
  ok = write_all (log->fd, line->str, line->len, log->path, error);
  g_string_free (line, TRUE);
  return ok;
}

void
report_metrics_log_close (ReportMetricsLog *log)
{
  if (log == NULL)
    return;
  close (log->fd);
  g_free (log->path);
  g_free (log);
}

/* ---- Reading ---------------------------------------------------------- */

/* Called for each complete record with its line (without the newline). */
typedef gboolean (*RecordFunc) (const gchar *line, gsize len, JsonObject *record,
                                gint64 step, gpointer data, GError **error);

static gboolean
node_get_step (JsonNode *node, gint64 *step)
{
  GType type;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  type = json_node_get_value_type (node);
  if (type == G_TYPE_INT64)
    {
      *step = json_node_get_int (node);
      return TRUE;
    }
  if (type == G_TYPE_DOUBLE)
    {
      /* Other tools may write 12.0; accept integral values only. */
      gdouble v = json_node_get_double (node);

      if (v != floor (v) || fabs (v) > 9e15)
        return FALSE;
      *step = (gint64) v;
      return TRUE;
    }
  return FALSE;
}

/* Parses `contents` line by line.  A last line that does not parse is the
 * tail of a killed run: it is counted in *n_skipped, not reported. */
static gboolean
for_each_record (const gchar *path, const gchar *contents, gsize length,
                 RecordFunc func, gpointer data, gsize *n_skipped,
                 GError **error)
{
  JsonParser *parser = json_parser_new_immutable ();
  const gchar *end = contents + length;
  const gchar *line = contents;
  guint line_no = 0;
  gboolean ok = TRUE;

  *n_skipped = 0;
  while (ok && line < end)
    {
      const gchar *nl = memchr (line, '\n', end - line);
      const gchar *next = nl ? nl + 1 : end;
      gsize len = (nl ? nl : end) - line;
      gboolean is_last;
      GError *parse_error = NULL;
      JsonNode *root;
      gint64 step;

      line_no++;
      /* Whitespace after the line still makes it the last one. */
      is_last = TRUE;
      for (const gchar *p = next; p < end; p++)
        if (!g_ascii_isspace (*p))
          {
            is_last = FALSE;
            break;
          }
      if (len == 0 || (len == 1 && line[0] == '\r'))
        {
          line = next;
          continue;
        }
      if (!json_parser_load_from_data (parser, line, len, &parse_error)
          || (root = json_parser_get_root (parser)) == NULL
          || !JSON_NODE_HOLDS_OBJECT (root))
        {
          if (is_last)
            {
              (*n_skipped)++;
            }
          else
            {
              g_set_error (error, REPORT_ERROR, REPORT_ERROR_FORMAT,
                           "%s:%u: not a JSON object%s%s", path, line_no,
                           parse_error ? ": " : "",
                           parse_error ? parse_error->message : "");
              ok = FALSE;
            }
          g_clear_error (&parse_error);
          line = next;
          continue;
        }
      if (!node_get_step (json_object_get_member (json_node_get_object (root), "step"), &step))
        {
          g_set_error (error, REPORT_ERROR, REPORT_ERROR_FORMAT,
                       "%s:%u: the record has no integer \"step\"", path, line_no);
          ok = FALSE;
          break;
        }
      ok = func (line, len, json_node_get_object (root), step, data, error);
      line = next;
    }
  g_object_unref (parser);
  return ok;
}

static void
key_series_free (gpointer p)
{
  KeySeries *s = p;

  g_array_unref (s->x);
  g_array_unref (s->y);
  g_free (s);
}

static KeySeries *
metrics_series_for (ReportMetrics *m, const gchar *key)
{
  KeySeries *s = g_hash_table_lookup (m->series, key);

  if (s != NULL)
    return s;
  s = g_new0 (KeySeries, 1);
  s->x = g_array_new (FALSE, FALSE, sizeof (gdouble));
  s->y = g_array_new (FALSE, FALSE, sizeof (gdouble));
  g_hash_table_insert (m->series, g_strdup (key), s);
  if (strcmp (key, "time") != 0)
    {
      /* Keep the array NULL terminated for report_metrics_get_keys(). */
      g_ptr_array_insert (m->keys, m->keys->len - 1, g_strdup (key));
    }
  return s;
}

static gboolean
add_record (const gchar *line, gsize len, JsonObject *record, gint64 step,
            gpointer data, GError **error)
{
  ReportMetrics *m = data;
  JsonObjectIter iter;
  const gchar *key;
  JsonNode *node;
  gdouble x = (gdouble) step;

  /* In file order, so that keys come out in the order first written. */
  json_object_iter_init_ordered (&iter, record);
  while (json_object_iter_next_ordered (&iter, &key, &node))
    {
      KeySeries *s;
      gdouble y;

      if (strcmp (key, "step") == 0)
        continue;
      if (JSON_NODE_HOLDS_NULL (node))
        y = NAN;
      else if (JSON_NODE_HOLDS_VALUE (node)
               && (json_node_get_value_type (node) == G_TYPE_INT64
                   || json_node_get_value_type (node) == G_TYPE_DOUBLE))
        y = json_node_get_double (node);
      else
        continue;   /* strings, booleans, objects: not plottable */
      s = metrics_series_for (m, key);
      g_array_append_val (s->x, x);
      g_array_append_val (s->y, y);
    }
  m->n_records++;
  m->last_step = MAX (m->last_step, step);
  return TRUE;
}

ReportMetrics *
report_metrics_load (const gchar *path, GError **error)
{
  ReportMetrics *m;
  gchar *contents;
  gsize length;

  if (path == NULL)
    {
      g_set_error (error, REPORT_ERROR, REPORT_ERROR_INVALID, "no metrics log path given");
      return NULL;
    }
  if (!g_file_get_contents (path, &contents, &length, error))
    return NULL;

  m = g_new0 (ReportMetrics, 1);
  m->keys = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (m->keys, NULL);
  m->series = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, key_series_free);
  m->last_step = -1;
  if (!for_each_record (path, contents, length, add_record, m, &m->n_skipped, error))
    {
      report_metrics_free (m);
      m = NULL;
    }
  g_free (contents);
  return m;
}

void
report_metrics_free (ReportMetrics *metrics)
{
  if (metrics == NULL)
    return;
  g_ptr_array_unref (metrics->keys);
  g_hash_table_unref (metrics->series);
  g_free (metrics);
}

gsize
report_metrics_get_n_records (ReportMetrics *metrics)
{
  return metrics ? metrics->n_records : 0;
}

gsize
report_metrics_get_n_skipped (ReportMetrics *metrics)
{
  return metrics ? metrics->n_skipped : 0;
}

gint64
report_metrics_get_last_step (ReportMetrics *metrics)
{
  return metrics ? metrics->last_step : -1;
}

const gchar *const *
report_metrics_get_keys (ReportMetrics *metrics, gsize *n_keys)
{
  static const gchar *const none[] = { NULL };

  if (metrics == NULL)
    {
      if (n_keys)
        *n_keys = 0;
      return none;
    }
  if (n_keys)
    *n_keys = metrics->keys->len - 1;
  return (const gchar *const *) metrics->keys->pdata;
}

gboolean
report_metrics_get_series (ReportMetrics *metrics, const gchar *key,
                           ReportSeries *series)
{
  gpointer stored_key, value;
  KeySeries *s;

  if (metrics == NULL || key == NULL || series == NULL
      || !g_hash_table_lookup_extended (metrics->series, key, &stored_key, &value))
    return FALSE;
  /* The stored key lives as long as `metrics`; the caller's may not. */
  s = value;
  series->name = stored_key;
  series->x = (const gdouble *) s->x->data;
  series->y = (const gdouble *) s->y->data;
  series->n = s->x->len;
  return TRUE;
}

/* ---- Truncation for --resume ----------------------------------------- */

typedef struct
{
  GString *kept;
  gint64   last_step;
  gsize    n_dropped;
} TruncateState;

static gboolean
keep_record (const gchar *line, gsize len, JsonObject *record, gint64 step,
             gpointer data, GError **error)
{
  TruncateState *st = data;

  if (step > st->last_step)
    {
      st->n_dropped++;
      return TRUE;
    }
  g_string_append_len (st->kept, line, len);
  g_string_append_c (st->kept, '\n');
  return TRUE;
}

gboolean
report_metrics_truncate (const gchar *path, gint64 last_step, gsize *n_dropped,
                         GError **error)
{
  TruncateState st = { NULL, last_step, 0 };
  gchar *contents;
  gsize length, n_skipped;
  gboolean ok;

  if (path == NULL)
    {
      g_set_error (error, REPORT_ERROR, REPORT_ERROR_INVALID, "no metrics log path given");
      return FALSE;
    }
  if (!g_file_get_contents (path, &contents, &length, error))
    return FALSE;
  st.kept = g_string_sized_new (length);
  ok = for_each_record (path, contents, length, keep_record, &st, &n_skipped, error);
  /* Rewriting is pointless (and would touch the file's time) when nothing
   * goes. */
  if (ok && (st.n_dropped > 0 || n_skipped > 0 || st.kept->len != length))
    ok = g_file_set_contents_full (path, st.kept->str, st.kept->len,
                                   G_FILE_SET_CONTENTS_CONSISTENT, 0644, error);
  if (ok && n_dropped)
    *n_dropped = st.n_dropped;
  g_string_free (st.kept, TRUE);
  g_free (contents);
  return ok;
}
