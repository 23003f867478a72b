// The rule by which the library finds the programs it runs itself
// (util/install_layout.h), on made-up trees and on this build tree.
#include "util/install_layout.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

namespace gemmtune::install_layout {
namespace {

namespace fs = std::filesystem;

const Layout kDebian{"../../libexec/gemmtune", "../libexec/gemmtune", "/usr/libexec/gemmtune"};

TEST(InstallLayout, InstalledLibraryFindsHelpersInItsOwnPrefixFirst) {
  auto dirs = helper_dirs_for(kDebian, "/opt/moved/lib/x86_64-linux-gnu/libgemmtune.so.0.1.0", false, std::nullopt,
                              std::nullopt);
  ASSERT_EQ(dirs.size(), 2u);
  EXPECT_EQ(dirs[0], "/opt/moved/libexec/gemmtune");
  EXPECT_EQ(dirs[1], "/usr/libexec/gemmtune");
}

TEST(InstallLayout, InstalledCliFindsHelpersInItsOwnPrefix) {
  auto dirs = helper_dirs_for(kDebian, "/usr/bin/gemmtune", true, std::nullopt, std::nullopt);
  ASSERT_EQ(dirs.size(), 1u);  // the prefix's folder is the configured one
  EXPECT_EQ(dirs[0], "/usr/libexec/gemmtune");
}

TEST(InstallLayout, EnvironmentVariableComesFirstAndBuildTreeBeforeTheConfiguredPrefix) {
  auto dirs = helper_dirs_for(kDebian, "/src/build/tests/x/test", true, fs::path("/src/build"),
                              std::string("/my/helpers"));
  ASSERT_EQ(dirs.size(), 4u);
  EXPECT_EQ(dirs[0], "/my/helpers");
  EXPECT_EQ(dirs[1], "/src/build/tests/libexec/gemmtune");
  EXPECT_EQ(dirs[2], "/src/build/libexec/gemmtune");
  EXPECT_EQ(dirs[3], "/usr/libexec/gemmtune");
}

TEST(InstallLayout, AStaticProgramBuiltAgainstAnInstalledTreeFindsThatTreesHelpersBeforeTheConfiguredOnes) {
  // An application anywhere that links libgemmtune.a of a tree installed to
  // /opt/gemmtune (not where the build was configured to install): the
  // CMake package wrote that tree's folder into the program.
  auto dirs = helper_dirs_for(kDebian, "/home/me/app/bin/app", true, std::nullopt, std::nullopt,
                              fs::path("/opt/gemmtune/libexec/gemmtune"));
  ASSERT_EQ(dirs.size(), 3u);
  EXPECT_EQ(dirs[0], "/home/me/app/libexec/gemmtune");
  EXPECT_EQ(dirs[1], "/opt/gemmtune/libexec/gemmtune");
  EXPECT_EQ(dirs[2], "/usr/libexec/gemmtune");
}

TEST(InstallLayout, BuildTreeIsTheNearestCMakeCacheOfProjectGemmtune) {
  char pattern[] = "/tmp/gemmtune-layout-XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  const fs::path root = pattern;
  fs::create_directories(root / "build" / "consumer" / "bin");
  std::ofstream(root / "build" / "CMakeCache.txt") << "# x\nCMAKE_PROJECT_NAME:STATIC=gemmtune\n";
  std::ofstream(root / "build" / "consumer" / "CMakeCache.txt") << "CMAKE_PROJECT_NAME:STATIC=app\n";
  EXPECT_EQ(enclosing_build_dir(root / "build" / "consumer" / "bin"), root / "build");
  EXPECT_EQ(enclosing_build_dir(root), std::nullopt);
  fs::remove_all(root);
}

TEST(InstallLayout, ThisTestFindsItsBuildTreeAndTheVariable) {
  auto dirs = helper_dirs();
  EXPECT_NE(std::find(dirs.begin(), dirs.end(), fs::path(GEMMTUNE_TEST_BUILD_DIR) / "libexec" / "gemmtune"),
            dirs.end());
  setenv("GEMMTUNE_LIBEXEC_DIR", "/somewhere/else", 1);
  EXPECT_EQ(helper_dirs().front(), "/somewhere/else");
  unsetenv("GEMMTUNE_LIBEXEC_DIR");
  EXPECT_EQ(find_helper("no-such-helper-program"), std::nullopt);
}

}  // namespace
}  // namespace gemmtune::install_layout
