// folder_io.h — replacing a folder of files as one: a model (config, weight
// shards, index, autoencoder) or a training checkpoint is only usable when
// all its files belong together, so a save that fails part-way (disk full,
// an I/O error, a kill) must leave the previous folder whole.
#pragma once

#include <functional>
#include <string>

namespace cocoedit {

// Writes a new version of the folder `dir`: `write` fills a fresh sibling
// folder (named `dir` + ".saving", removed first), which then replaces `dir`
// in one atomic exchange of names where the filesystem offers it (Linux
// renameat2), else by two renames.  When `write` throws, the sibling is
// removed and `dir` is as it was.  Regular files of the old folder whose
// names `carry` accepts and that `write` did not make (a model card, say)
// are kept in the new one.
void replace_folder(const std::string &dir, const std::function<void(const std::string &fresh)> &write,
                    const std::function<bool(const std::string &name)> &carry = nullptr);

// Removes `path` and, for a folder, everything in it; symbolic links are
// removed, never followed.
void remove_tree(const std::string &path);

}  // namespace cocoedit
