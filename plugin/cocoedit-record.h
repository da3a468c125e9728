/* CoCoEdit for GIMP
 *
 * cocoedit-record.h: how a generative layer was made, as the plug-in
 * stores it in the layer's "cocoedit-edit" parasite
 *
 * This program is free software: you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef __COCOEDIT_RECORD_H__
#define __COCOEDIT_RECORD_H__

#include <glib.h>

G_BEGIN_DECLS

#define COCOEDIT_RECORD_PARASITE "cocoedit-edit"
#define COCOEDIT_RECORD_FORMAT   "cocoedit-layer/1"

/* Everything needed to make the layer again.  The layer and channel are
 * named by tattoo, which XCF files keep.  A parasite comes from files
 * people share, so parsing it checks every field.
 */
typedef struct
{
  gchar   **chain;              /* the instructions, first to this one  */
  gint      seed;
  gint      steps;              /* 0: the model's default               */
  gdouble   guidance;           /* 0: the model's default               */
  gdouble   strength;
  gchar    *model;              /* the model folder, as found           */
  gchar    *device;             /* "auto", "cpu" or "cuda"              */
  guint     source_tattoo;      /* the layer that was edited            */
  guint     selection_tattoo;   /* the selection, saved; 0: none        */
} CocoeditRecord;


CocoeditRecord * cocoedit_record_new        (void);
void             cocoedit_record_free       (CocoeditRecord     *record);

/* The last instruction of the chain. */
const gchar    * cocoedit_record_get_prompt (const CocoeditRecord *record);

gchar          * cocoedit_record_to_json    (const CocoeditRecord *record,
                                             gsize              *length);
CocoeditRecord * cocoedit_record_from_json  (const gchar        *data,
                                             gsize               length,
                                             GError            **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CocoeditRecord, cocoedit_record_free)

G_END_DECLS

#endif /* __COCOEDIT_RECORD_H__ */
