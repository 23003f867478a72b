#include "util/install_layout.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <system_error>

#include "util/env.h"

#ifndef GEMMTUNE_LIBDIR_TO_HELPERS
#error "GEMMTUNE_LIBDIR_TO_HELPERS, GEMMTUNE_BINDIR_TO_HELPERS and GEMMTUNE_INSTALLED_HELPER_DIR come from src/util/CMakeLists.txt"
#endif

// Defined (by gemmtune's CMake package) in a program that links
// libgemmtune.a from an installed tree: that tree's helper folder. Weak: a
// null address everywhere else.
extern "C" __attribute__((weak)) const char gemmtune_linked_tree_libexec_dir[];

namespace gemmtune::install_layout {
namespace {

namespace fs = std::filesystem;

fs::path canonical_or_same(const fs::path& p) {
  std::error_code ec;
  fs::path c = fs::weakly_canonical(p, ec);
  return ec ? p : c;
}

// The file this very code was loaded from: libgemmtune.so, libgemmtune_c.so,
// or the executable that links the static library.
fs::path code_file() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<const void*>(&helper_dirs), &info) != 0 && info.dli_fname && *info.dli_fname)
    return canonical_or_same(info.dli_fname);
  return canonical_or_same("/proc/self/exe");
}

}  // namespace

std::vector<fs::path> helper_dirs_for(const Layout& layout, const fs::path& code, bool is_executable,
                                      const std::optional<fs::path>& build_dir,
                                      const std::optional<std::string>& env_dir,
                                      const std::optional<fs::path>& linked_tree_dir) {
  std::vector<fs::path> out;
  auto add = [&out](const fs::path& dir) {
    if (std::find(out.begin(), out.end(), dir) == out.end()) out.push_back(dir);
  };
  if (env_dir) add(*env_dir);
  add((code.parent_path() / (is_executable ? layout.bindir_to_helpers : layout.libdir_to_helpers)).lexically_normal());
  if (linked_tree_dir) add(*linked_tree_dir);
  if (build_dir) add(*build_dir / "libexec" / "gemmtune");
  add(layout.installed_helper_dir);
  return out;
}

std::optional<fs::path> enclosing_build_dir(const fs::path& folder) {
  for (fs::path dir = folder; !dir.empty(); dir = dir.parent_path()) {
    std::ifstream cache(dir / "CMakeCache.txt");
    for (std::string line; cache && std::getline(cache, line);)
      if (line == "CMAKE_PROJECT_NAME:STATIC=gemmtune") return dir;
    if (dir == dir.root_path()) break;
  }
  return std::nullopt;
}

const Layout& built_layout() {
  static const Layout layout{GEMMTUNE_LIBDIR_TO_HELPERS, GEMMTUNE_BINDIR_TO_HELPERS, GEMMTUNE_INSTALLED_HELPER_DIR};
  return layout;
}

std::vector<fs::path> helper_dirs() {
  const fs::path code = code_file();
  const bool is_executable = code == canonical_or_same("/proc/self/exe");
  std::optional<fs::path> linked_tree;
  if (gemmtune_linked_tree_libexec_dir != nullptr && *gemmtune_linked_tree_libexec_dir != '\0')
    linked_tree = fs::path(gemmtune_linked_tree_libexec_dir);
  return helper_dirs_for(built_layout(), code, is_executable, enclosing_build_dir(code.parent_path()),
                         env::get("GEMMTUNE_LIBEXEC_DIR"), linked_tree);
}

std::optional<fs::path> find_helper(std::string_view program) {
  for (const fs::path& dir : helper_dirs()) {
    const fs::path candidate = dir / program;
    if (::access(candidate.c_str(), X_OK) == 0 && fs::is_regular_file(candidate)) return candidate;
  }
  return std::nullopt;
}

}  // namespace gemmtune::install_layout
