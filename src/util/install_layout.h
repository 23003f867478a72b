// Where the programs that the library runs itself (the measuring worker)
// live, found from where gemmtune's own code was loaded, so that an
// installed prefix can be moved or copied and a program that embeds the
// library finds them without any setting. cmake/install.cmake lays the tree
// out to match. The folder of helper programs is, first match wins:
//
//   1. $GEMMTUNE_LIBEXEC_DIR, when set (an explicit choice);
//   2. PREFIX/LIBEXECDIR/gemmtune of the installed tree that holds the code:
//      from libgemmtune.so or libgemmtune_c.so in PREFIX/LIBDIR it is
//      <library's folder>/<LIBDIR to LIBEXECDIR>/gemmtune ("../libexec/gemmtune",
//      "../../libexec/gemmtune" for lib/x86_64-linux-gnu); from an
//      executable in PREFIX/BINDIR (the gemmtune CLI) <its folder>/<BINDIR to
//      LIBEXECDIR>/gemmtune;
//   3. for a program that links libgemmtune.a through the CMake package
//      (find_package(gemmtune COMPONENTS static)), the helper folder of the
//      installed tree it was built against, which the package writes into
//      the program (gemmtune_linked_tree_libexec_dir; gemmtuneConfig.cmake);
//   4. BUILD/libexec/gemmtune when the code runs from a gemmtune build tree
//      (the nearest folder above it with a CMakeCache.txt of project
//      gemmtune; helper executables set their RUNTIME_OUTPUT_DIRECTORY
//      there), so tests find the helpers they built;
//   5. the configured CMAKE_INSTALL_FULL_LIBEXECDIR/gemmtune, for a program
//      anywhere that links libgemmtune.a otherwise (pkg-config --static),
//      with gemmtune installed where its build was configured to go; else
//      set GEMMTUNE_LIBEXEC_DIR.
// No build-tree path is compiled in: installed binaries name none.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gemmtune::install_layout {

// The candidate folders, in the order above, for the code that holds this
// function. Cheap; reads the environment and /proc/self/exe each call.
std::vector<std::filesystem::path> helper_dirs();

// The first candidate folder that holds an executable file `program`, or
// nullopt (an error should say where it looked: helper_dirs()).
std::optional<std::filesystem::path> find_helper(std::string_view program);

// The rule itself, as a pure function, for tests: `code_file` is the file
// the code was loaded from, `is_executable` whether it is the main program,
// `build_dir` the gemmtune build tree above it, if any.
struct Layout {
  std::filesystem::path libdir_to_helpers;     // relative, e.g. ../libexec/gemmtune
  std::filesystem::path bindir_to_helpers;     // relative, e.g. ../libexec/gemmtune
  std::filesystem::path installed_helper_dir;  // absolute, as configured
};
std::vector<std::filesystem::path> helper_dirs_for(const Layout&, const std::filesystem::path& code_file,
                                                   bool is_executable,
                                                   const std::optional<std::filesystem::path>& build_dir,
                                                   const std::optional<std::string>& env_dir,
                                                   const std::optional<std::filesystem::path>& linked_tree_dir = {});

// The nearest folder at or above `folder` with a CMakeCache.txt of project
// gemmtune.
std::optional<std::filesystem::path> enclosing_build_dir(const std::filesystem::path& folder);

// The layout this library was built with.
const Layout& built_layout();

}  // namespace gemmtune::install_layout
