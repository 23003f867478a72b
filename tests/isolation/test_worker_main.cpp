// The measuring worker of the isolation tests: the library's worker loop
// over the fake world's backends and fake-clock runtime. With
// GEMMTUNE_TEST_WORKER_MISBEHAVE set it breaks the protocol on purpose, so
// that the tests can show the parent never hangs on, or trusts, a broken
// worker.
#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>

#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "gemmtune/tuner.h"
#include "isolation/fake_world.h"
#include "isolation/protocol.h"
#include "isolation/worker_main.h"

namespace {

using namespace gemmtune;

int socket_fd(int argc, char** argv) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--socket-fd") == 0) return std::atoi(argv[i + 1]);
  return -1;
}

int misbehave(const std::string& how, int fd) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (how == "silent") {
    std::this_thread::sleep_for(std::chrono::hours(1));
    return 0;
  }
  const std::string hello = R"({"type":"hello","protocol":1,"version":")" + std::string(version()) + R"(","pid":1})";
  isolation::write_frame(fd, hello, isolation::Deadline::never());
  std::string request;
  isolation::read_frame(fd, request, isolation::Deadline::never());
  if (how == "die_on_request") std::raise(SIGKILL);  // lost before any phase: the parent blames the device
  if (how == "oversized") {
    const unsigned char header[4] = {0xff, 0xff, 0xff, 0x7f};  // ~2 GiB claimed
    (void)!::write(fd, header, 4);
  } else {
    isolation::write_frame(fd, "this is not JSON", isolation::Deadline::never());
  }
  std::this_thread::sleep_for(std::chrono::hours(1));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (const char* how = std::getenv(isolation_testing::kMisbehaveVariable); how && *how)
    return misbehave(how, socket_fd(argc, argv));
  auto code = isolation::serve_if_worker(argc, argv, [] {
    return isolation::WorkerServices{isolation_testing::world_backends(),
                                     [](Device) -> runtime::DeviceRuntime& { return isolation_testing::fake_runtime(); }};
  });
  return code.value_or(2);
}
