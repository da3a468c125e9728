/* CoCoEdit for GIMP
 *
 * cocoedit-choices.h: the user's choices among variations, kept (when
 * the user asks for it) as a preference dataset cocoedit-train reads
 *
 * This program is free software: you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef __COCOEDIT_CHOICES_H__
#define __COCOEDIT_CHOICES_H__

#include <glib.h>

G_BEGIN_DECLS

/* One choice: the area the model saw, the selection on it, and the
 * variations, all width × height.
 */
typedef struct
{
  gint                 width;
  gint                 height;
  const guint8        *source;      /* RGB8                               */
  const guint8        *mask;        /* GRAY8, 255 = selected              */
  const guint8        *chosen;      /* RGB8: the variation applied        */
  const guint8 *const *rejected;    /* RGB8: the others shown beside it   */
  guint                n_rejected;
  const gchar         *prompt;
  const gchar         *metadata;    /* a JSON object's text               */
} CocoeditChoice;

/* $COCOEDIT_CHOICES_DIR, or <user data folder>/cocoedit/choices. */
gchar  * cocoedit_choices_folder (void);

/* Writes the images into @folder/images/ and appends one line to
 * @folder/manifest.jsonl (a manifest record with "target" the chosen and
 * "rejected" the others); every file is written to a temporary name and
 * renamed, so a crash leaves the dataset as it was.  Returns the id.
 */
gchar  * cocoedit_choices_append (const gchar          *folder,
                                  const CocoeditChoice *choice,
                                  GError              **error);

G_END_DECLS

#endif /* __COCOEDIT_CHOICES_H__ */
