// readers-record.cpp — the record a CoCoEdit layer keeps in its parasite
// (plugin/cocoedit-record.c), read from XCF files people share (readers.h).
// Refused input must come with an error; accepted input must write and
// read back to the same record.
#include <cstdlib>
#include <cstring>

#include "cocoedit-record.h"
#include "error.h"
#include "readers.h"

namespace cocoedit::fuzz {

void parse_layer_record(const std::string &in) {
  GError *error = nullptr;
  CocoeditRecord *record = cocoedit_record_from_json(in.data(), in.size(), &error);

  if (!record) {
    if (!error || !strstr(error->message, "CoCoEdit")) abort();
    std::string message = error->message;
    g_error_free(error);
    throw Error(COCOEDIT_ERR_FORMAT, message);
  }
  if (error) abort();

  gsize length = 0;
  gchar *json = cocoedit_record_to_json(record, &length);
  CocoeditRecord *back = cocoedit_record_from_json(json, length, &error);
  if (!back || g_strv_equal(back->chain, record->chain) == FALSE ||
      back->seed != record->seed || back->steps != record->steps ||
      back->guidance != record->guidance || back->strength != record->strength ||
      strcmp(back->model, record->model) || strcmp(back->device, record->device) ||
      back->source_tattoo != record->source_tattoo ||
      back->selection_tattoo != record->selection_tattoo)
    abort();

  cocoedit_record_free(back);
  g_free(json);
  cocoedit_record_free(record);
}

}  // namespace cocoedit::fuzz
