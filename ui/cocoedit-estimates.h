/* CoCoEdit for GIMP
 *
 * cocoedit-estimates.h: how long one edit takes with each model on this
 * machine, as measured
 *
 * This program is free software: you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef __COCOEDIT_ESTIMATES_H__
#define __COCOEDIT_ESTIMATES_H__

#include <glib.h>

G_BEGIN_DECLS

/* Below this, the dialog makes three variations by default. */
#define COCOEDIT_QUICK_EDIT_SECONDS 10.0

gchar  * cocoedit_estimates_get_path (void);

/* Seconds per edit with @model_dir on @device ("cpu", "cuda"), or < 0
 * when never measured.
 */
gdouble  cocoedit_estimates_get      (const gchar  *path,
                                      const gchar  *model_dir,
                                      const gchar  *device);
/* Adds one measurement (edits that were cancelled do not count). */
gboolean cocoedit_estimates_add      (const gchar  *path,
                                      const gchar  *model_dir,
                                      const gchar  *device,
                                      gdouble       seconds,
                                      GError      **error);

G_END_DECLS

#endif /* __COCOEDIT_ESTIMATES_H__ */
