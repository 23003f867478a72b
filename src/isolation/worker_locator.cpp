#include "isolation/worker_locator.h"

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <vector>

#include "gemmtune/errors.h"
#include "isolation/worker_main.h"
#include "util/env.h"
#include "util/install_layout.h"

namespace gemmtune::isolation {
namespace {

std::atomic<bool> self_is_worker{false};

bool is_executable_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

std::string self_executable() {
  std::error_code error;
  auto path = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? std::string() : path.string();
}

// The file this code was loaded from: libgemmtune_c.so, or the program
// itself when the static library is linked in.
std::string library_file() {
  Dl_info info{};
  if (::dladdr(reinterpret_cast<void*>(&locate_worker), &info) == 0 || info.dli_fname == nullptr) return {};
  std::error_code error;
  auto path = std::filesystem::canonical(info.dli_fname, error);
  return error ? std::string() : path.string();
}

}  // namespace

void use_this_program_as_worker() { self_is_worker = true; }

std::optional<WorkerCommand> locate_worker(std::string* looked) {
  if (auto path = env::get("GEMMTUNE_WORKER")) {
    if (!is_executable_file(*path))
      throw ConfigError("GEMMTUNE_WORKER=" + *path + " is not an executable file (it names the gemmtune-worker "
                        "program that measures choices in isolation)");
    return WorkerCommand{*path, {kWorkerModeFlag}, "GEMMTUNE_WORKER"};
  }
  if (self_is_worker) {
    const std::string self = self_executable();
    if (!self.empty()) return WorkerCommand{self, {kWorkerModeFlag}, "this program"};
  }
  std::vector<std::string> tried;
  for (const std::string& binary : {library_file(), self_executable()}) {
    if (binary.empty()) continue;
    const auto dir = std::filesystem::path(binary).parent_path();
    for (const auto& candidate : {dir / kWorkerExecutableName, dir / ".." / "libexec" / "gemmtune" / kWorkerExecutableName}) {
      const std::string path = candidate.lexically_normal().string();
      if (std::find(tried.begin(), tried.end(), path) != tried.end()) continue;
      tried.push_back(path);
      if (is_executable_file(path)) return WorkerCommand{path, {kWorkerModeFlag}, "found beside " + binary};
    }
  }
  // An installed tree (cmake --install, the .deb): PREFIX/LIBEXECDIR/gemmtune,
  // wherever LIBDIR is (lib/x86_64-linux-gnu under /usr).
  for (const auto& dir : install_layout::helper_dirs()) {
    const std::string path = (dir / kWorkerExecutableName).lexically_normal().string();
    if (std::find(tried.begin(), tried.end(), path) != tried.end()) continue;
    tried.push_back(path);
    if (is_executable_file(path)) return WorkerCommand{path, {kWorkerModeFlag}, "installed in " + dir.string()};
  }
  if (looked) {
    looked->clear();
    for (const auto& t : tried) *looked += (looked->empty() ? "" : ", ") + t;
  }
  return std::nullopt;
}

}  // namespace gemmtune::isolation
