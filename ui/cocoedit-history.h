/* CoCoEdit for GIMP
 *
 * cocoedit-history.h: the recently used instructions
 *
 * This program is free software: you can redistribute it and/or modify
 * it under the terms of the GNU General Public License as published by
 * the Free Software Foundation; either version 3 of the License, or
 * (at your option) any later version.
 */

#ifndef __COCOEDIT_HISTORY_H__
#define __COCOEDIT_HISTORY_H__

#include <glib.h>

G_BEGIN_DECLS

#define COCOEDIT_HISTORY_MAX 12

gchar  * cocoedit_history_get_path (void);
gchar ** cocoedit_history_load     (const gchar  *path);
gboolean cocoedit_history_add      (const gchar  *path,
                                    const gchar  *instruction,
                                    GError      **error);

G_END_DECLS

#endif /* __COCOEDIT_HISTORY_H__ */
