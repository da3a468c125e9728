// folder_io.cpp — see folder_io.h.
#include "folder_io.h"

#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "error.h"

namespace cocoedit {

namespace {

std::string join(const std::string &dir, const std::string &name) { return dir + G_DIR_SEPARATOR_S + name; }

bool is_dir_no_follow(const std::string &path) {
  GStatBuf st;
  return g_lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool is_regular_no_follow(const std::string &path) {
  GStatBuf st;
  return g_lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// A hard link when the filesystem allows one, else a copy.
void keep_file(const std::string &from, const std::string &to) {
  if (link(from.c_str(), to.c_str()) == 0) return;
  gchar *contents = nullptr;
  gsize length = 0;
  GError *error = nullptr;
  if (!g_file_get_contents(from.c_str(), &contents, &length, &error) ||
      !g_file_set_contents(to.c_str(), contents, static_cast<gssize>(length), &error)) {
    const std::string msg = error ? error->message : from;
    g_clear_error(&error);
    g_free(contents);
    fail(COCOEDIT_ERR_IO, msg);
  }
  g_free(contents);
}

// Makes `fresh` be `dir`, atomically where possible; the old folder is gone
// afterwards.
void swap_in(const std::string &fresh, const std::string &dir) {
  if (!is_dir_no_follow(dir)) {
    if (g_rename(fresh.c_str(), dir.c_str()) != 0)
      fail(COCOEDIT_ERR_IO, dir + ": cannot move the new folder in: " + g_strerror(errno));
    return;
  }
#ifdef RENAME_EXCHANGE
  if (renameat2(AT_FDCWD, fresh.c_str(), AT_FDCWD, dir.c_str(), RENAME_EXCHANGE) == 0) {
    remove_tree(fresh);  // now the old version
    return;
  }
#endif
  // No exchange here: move the old folder aside first.  A crash between the
  // two renames leaves it complete under the name ".old".
  const std::string old = dir + ".old";
  remove_tree(old);
  if (g_rename(dir.c_str(), old.c_str()) != 0)
    fail(COCOEDIT_ERR_IO, dir + ": cannot move aside: " + g_strerror(errno));
  if (g_rename(fresh.c_str(), dir.c_str()) != 0) {
    const int e = errno;
    g_rename(old.c_str(), dir.c_str());
    fail(COCOEDIT_ERR_IO, dir + ": cannot move the new folder in: " + g_strerror(e));
  }
  remove_tree(old);
}

}  // namespace

void remove_tree(const std::string &path) {
  if (is_dir_no_follow(path)) {
    if (GDir *d = g_dir_open(path.c_str(), 0, nullptr)) {
      while (const char *n = g_dir_read_name(d)) remove_tree(join(path, n));
      g_dir_close(d);
    }
    g_rmdir(path.c_str());
  } else {
    g_remove(path.c_str());
  }
}

void replace_folder(const std::string &dir, const std::function<void(const std::string &fresh)> &write,
                    const std::function<bool(const std::string &name)> &carry) {
  std::string target = dir;
  while (target.size() > 1 && target.back() == G_DIR_SEPARATOR) target.pop_back();
  gchar *parent = g_path_get_dirname(target.c_str());
  const int made = g_mkdir_with_parents(parent, 0755);
  g_free(parent);
  if (made != 0) fail(COCOEDIT_ERR_IO, target + ": cannot create its parent folder: " + g_strerror(errno));
  if (g_file_test(target.c_str(), G_FILE_TEST_EXISTS) && !is_dir_no_follow(target))
    fail(COCOEDIT_ERR_IO, target + ": exists and is not a folder");
  const std::string fresh = target + ".saving";
  remove_tree(fresh);
  if (g_mkdir(fresh.c_str(), 0755) != 0) fail(COCOEDIT_ERR_IO, fresh + ": cannot create: " + g_strerror(errno));
  try {
    write(fresh);
    if (carry && is_dir_no_follow(target)) {
      GDir *d = g_dir_open(target.c_str(), 0, nullptr);
      while (const char *n = d ? g_dir_read_name(d) : nullptr) {
        const std::string from = join(target, n), to = join(fresh, n);
        if (carry(n) && is_regular_no_follow(from) && !g_file_test(to.c_str(), G_FILE_TEST_EXISTS)) keep_file(from, to);
      }
      if (d) g_dir_close(d);
    }
    swap_in(fresh, target);
  } catch (...) {
    remove_tree(fresh);
    throw;
  }
}

}  // namespace cocoedit
