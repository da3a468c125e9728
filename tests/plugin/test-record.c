/* test-record.c: the record a generative layer keeps in its parasite:
 * written and read back, and every damaged or hostile record refused with
 * the field it got wrong (parasites come from XCF files people share).
 */

#include <string.h>

#include <gio/gio.h>

#include "cocoedit-record.h"

static CocoeditRecord *
sample (void)
{
  CocoeditRecord *record = cocoedit_record_new ();

  g_strfreev (record->chain);
  record->chain            = g_strsplit ("make the car red|now 把天空变成紫色", "|", -1);
  record->seed             = 123456;
  record->steps            = 28;
  record->guidance         = 2.5;
  record->strength         = 0.75;
  g_free (record->model);
  record->model            = g_strdup ("/home/me/models/FLUX.1-Kontext-dev");
  g_free (record->device);
  record->device           = g_strdup ("cuda");
  record->source_tattoo    = 7;
  record->selection_tattoo = 9;

  return record;
}

static void
test_round_trip (void)
{
  CocoeditRecord *record = sample ();
  CocoeditRecord *back;
  GError         *error  = NULL;
  gchar          *json;
  gsize           length;

  json = cocoedit_record_to_json (record, &length);
  back = cocoedit_record_from_json (json, length, &error);
  g_assert_no_error (error);
  g_assert_nonnull (back);

  g_assert_cmpstrv (back->chain, record->chain);
  g_assert_cmpstr (cocoedit_record_get_prompt (back), ==, "now 把天空变成紫色");
  g_assert_cmpint (back->seed, ==, 123456);
  g_assert_cmpint (back->steps, ==, 28);
  g_assert_cmpfloat (back->guidance, ==, 2.5);
  g_assert_cmpfloat (back->strength, ==, 0.75);
  g_assert_cmpstr (back->model, ==, record->model);
  g_assert_cmpstr (back->device, ==, "cuda");
  g_assert_cmpuint (back->source_tattoo, ==, 7);
  g_assert_cmpuint (back->selection_tattoo, ==, 9);

  /* Whole numbers are written without a point and still read. */
  record->guidance = 3.0;
  g_free (json);
  json = cocoedit_record_to_json (record, &length);
  cocoedit_record_free (back);
  back = cocoedit_record_from_json (json, length, &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (back->guidance, ==, 3.0);

  g_free (json);
  cocoedit_record_free (back);
  cocoedit_record_free (record);
}

/* Replaces @member's value in the sample's JSON. */
static gchar *
with_member (const gchar *member,
             const gchar *value)
{
  CocoeditRecord *record = sample ();
  gchar          *json   = cocoedit_record_to_json (record, NULL);
  gchar          *key    = g_strdup_printf ("\"%s\"", member);
  gchar          *start  = strstr (json, key);
  gchar          *end;
  gchar          *result;

  g_assert_nonnull (start);
  start += strlen (key);
  while (*start == ' ' || *start == ':')
    start++;
  end = start;
  if (*end == '[')
    end = strchr (end, ']') + 1;
  else if (*end == '"')
    end = strchr (end + 1, '"') + 1;
  else
    while (*end && *end != ',' && *end != '\n' && *end != '}')
      end++;

  result = g_strdup_printf ("%.*s%s%s", (gint) (start - json), json, value, end);

  g_free (key);
  g_free (json);
  cocoedit_record_free (record);

  return result;
}

static void
test_refused (void)
{
  static const struct { const gchar *member, *value; } bad[] =
  {
    { "format",            "\"cocoedit-layer/2\"" },
    { "chain",             "[]" },
    { "chain",             "[\"ok\", 3]" },
    { "chain",             "[\"\"]" },
    { "chain",             "\"not a list\"" },
    { "seed",              "-1" },
    { "seed",              "1.5" },
    { "seed",              "99999999999" },
    { "steps",             "101" },
    { "guidance",          "\"2.5\"" },
    { "guidance",          "-1" },
    { "strength",          "1.5" },
    { "model",             "null" },
    { "device",            "\"tpu\"" },
    { "source-layer",      "0" },
    { "source-layer",      "4294967296" },
    { "selection-channel", "true" },
  };
  static const gchar *not_records[] =
  {
    "", "null", "[]", "{}", "{\"format\": \"cocoedit-layer/1\"}",
    "{\"format\": \"cocoedit-layer/1\", \"chain\": [\"a\"]", "\xff\xfe",
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      gchar          *json  = with_member (bad[i].member, bad[i].value);
      GError         *error = NULL;
      CocoeditRecord *record;
      gchar          *quoted = g_strdup_printf ("\"%s\"", bad[i].member);

      record = cocoedit_record_from_json (json, strlen (json), &error);
      g_assert_null (record);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      /* The message names the field. */
      if (! strstr (error->message, quoted))
        g_error ("%s = %s: message %s", bad[i].member, bad[i].value,
                 error->message);

      g_free (quoted);
      g_clear_error (&error);
      g_free (json);
    }

  for (i = 0; i < G_N_ELEMENTS (not_records); i++)
    {
      GError *error = NULL;

      g_assert_null (cocoedit_record_from_json (not_records[i],
                                                strlen (not_records[i]),
                                                &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      g_clear_error (&error);
    }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/record/round-trip", test_round_trip);
  g_test_add_func ("/record/refused", test_refused);

  return g_test_run ();
}
