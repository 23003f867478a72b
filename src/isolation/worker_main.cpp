#include "isolation/worker_main.h"

#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "gemmtune/errors.h"
#include "gemmtune/tuner.h"
#include "isolation/protocol.h"
#include "store/record_json.h"

namespace gemmtune::isolation {
namespace {

using nlohmann::json;

constexpr int kExitBadUsage = 2;

int usage(const std::string& why) {
  std::fprintf(stderr,
               "gemmtune worker: %s\n(worker mode is started by gemmtune itself: %s --socket-fd N --parent-pid P "
               "--device D)\n",
               why.c_str(), kWorkerModeFlag);
  return kExitBadUsage;
}

// The problem whose inputs and reference the worker holds: its choices
// arrive one after another, and only the first pays for them.
struct Current {
  std::string key;  // problem, settings and failpoints as the request spelled them
  std::unique_ptr<measure::ProblemMeasurer> measurer;
};

class Server {
 public:
  Server(int socket, WorkerServices services) : socket_(socket), services_(std::move(services)) {}

  int run() {
    const json hello{{"type", "hello"}, {"protocol", kProtocolVersion}, {"version", version()}, {"pid", ::getpid()}};
    if (write_frame(socket_, hello.dump(), Deadline::after(30)) != Io::ok) return 0;
    std::string payload;
    for (;;) {
      const Io io = read_frame(socket_, payload, Deadline::never());
      if (io == Io::closed) return 0;  // the parent is done (or gone)
      if (io != Io::ok) return usage("could not read a request from the parent");
      json request;
      try {
        request = json::parse(payload);
      } catch (const std::exception& e) {
        return usage(std::string("malformed request: ") + e.what());
      }
      const std::string type = request.value("type", "");
      if (type == "forget") {
        current_ = Current{};
        continue;
      }
      if (type != "measure") return usage("unknown request type '" + type + "'");
      MeasureRequest r;
      try {
        r = request_from_json(request);
      } catch (const std::exception& e) {
        return usage(std::string("malformed measure request: ") + e.what());
      }
      // The inputs depend on everything in the request but the choice.
      json key = request;
      key.erase("id");
      key.erase("backend");
      key.erase("backend_version");
      key.erase("choice");
      key.erase("best_us");
      bool healthy = true;
      ChoiceOutcome outcome = measure_one(r, key.dump(), healthy);
      if (outcome.rejection && outcome.rejection->message.size() > kMaxMessageBytes) {
        outcome.rejection->message.resize(kMaxMessageBytes);
        outcome.rejection->message += "... (cut)";
      }
      const json result{
          {"type", "result"}, {"id", r.id}, {"outcome", store::to_json(outcome)}, {"healthy", healthy}};
      if (write_frame(socket_, result.dump(), Deadline::after(30)) != Io::ok) return 0;
      if (!healthy) return 0;  // nothing more can run on this device here
    }
  }

 private:
  ChoiceOutcome measure_one(const MeasureRequest& r, const std::string& key, bool& healthy) {
    const Choice choice{r.choice, {}};
    const std::shared_ptr<Backend> backend = find_backend(r.backend);
    if (!backend)
      return measure::rejected_outcome(r.backend, choice,
                                       Rejection{Stage::build, Reason::internal_error,
                                                 "the measuring worker has no backend " + r.backend});
    if (backend->version() != r.backend_version)
      return measure::rejected_outcome(r.backend, choice,
                                       Rejection{Stage::build, Reason::internal_error,
                                                 "the measuring worker's " + r.backend + " is version " +
                                                     backend->version() + ", the tuner's " + r.backend_version});
    request_id_ = r.id;
    try {
      if (key != current_.key || !current_.measurer) {
        current_ = Current{};  // frees the previous problem's inputs first
        measure::MeasureSettings settings = r.settings;
        if (!r.failpoints_text.empty())
          settings.failpoints = std::make_shared<measure::Failpoints>(
              measure::Failpoints::parse(r.failpoints_text, "GEMMTUNE_FAILPOINTS", backend_names()));
        auto measurer =
            measure::make_in_process_measurer(services_.runtime_for, [this](measure::Phase p) { announce(p); });
        current_.measurer = measurer->open(r.problem, settings);
        current_.key = key;
      }
      ChoiceOutcome outcome = current_.measurer->measure(*backend, choice, r.best_us);
      if (outcome.rejection && outcome.rejection->stage == Stage::run) {
        // A CUDA fault (illegal address) is sticky: every later call in this
        // process fails. Say so, and end the worker after answering.
        if (Status s = services_.runtime_for(r.problem.device).synchronize(); !s) healthy = false;
      }
      return outcome;
    } catch (const std::exception& e) {
      current_ = Current{};
      return measure::rejected_outcome(
          r.backend, choice,
          Rejection{Stage::run, Reason::internal_error, std::string("measuring failed in the worker: ") + e.what()});
    }
  }

  void announce(measure::Phase p) {
    const json message{{"type", "phase"}, {"id", request_id_}, {"phase", std::string(to_string(p))}};
    // A parent that went away ends this process through PDEATHSIG or the
    // closed socket; nothing to do here about a failed write.
    (void)write_frame(socket_, message.dump(), Deadline::after(30));
  }

  std::shared_ptr<Backend> find_backend(const std::string& name) const {
    for (const auto& b : services_.backends)
      if (b->name() == name) return b;
    return nullptr;
  }

  std::vector<std::string> backend_names() const {
    std::vector<std::string> out;
    for (const auto& b : services_.backends) out.emplace_back(b->name());
    return out;
  }

  int socket_;
  WorkerServices services_;
  Current current_;
  std::uint64_t request_id_ = 0;
};

bool parse_int(const char* text, long& out) {
  char* end = nullptr;
  errno = 0;
  out = std::strtol(text, &end, 10);
  return errno == 0 && end != text && *end == '\0';
}

}  // namespace

WorkerServices builtin_worker_services() {
  return WorkerServices{builtin_backends(), [](Device d) -> runtime::DeviceRuntime& { return runtime::runtime_for(d); }};
}

std::optional<int> serve_if_worker(int argc, char** argv, const std::function<WorkerServices()>& services) {
  if (argc < 2 || std::strcmp(argv[1], kWorkerModeFlag) != 0) return std::nullopt;
  long socket = -1, parent = -1;
  for (int i = 2; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return usage("flag " + flag + " needs a value");
    const char* value = argv[++i];
    if (flag == "--socket-fd") {
      if (!parse_int(value, socket) || socket < 0) return usage("--socket-fd expects a file descriptor");
    } else if (flag == "--parent-pid") {
      if (!parse_int(value, parent) || parent <= 0) return usage("--parent-pid expects a process id");
    } else if (flag != "--device") {
      return usage("unknown flag " + flag);
    }
  }
  if (socket < 0 || parent <= 0) return usage("--socket-fd and --parent-pid are required");
  // Die with the parent, even while a kernel hangs; and if the parent is
  // already gone (it died between spawning us and this line), leave now.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != static_cast<pid_t>(parent)) return 0;
  Server server(static_cast<int>(socket), services());
  const int code = server.run();
  // Ended without the destructors once the parent closed the socket (it does
  // so, and waits for this exit, when it retires a worker to start another;
  // its pool's teardown SIGKILLs instead). The process holds nothing unsaved:
  // each result went back over the socket before this, and compiled kernels
  // were renamed into the cache when made. Skipped: the CUDA driver's own
  // teardown (context release, library unloads); the kernel releases the GPU
  // mappings either way, and that release is most of the 49-63 ms a stop
  // measured on the H100 (round 7).
  std::fflush(nullptr);
  std::_Exit(code);
}

}  // namespace gemmtune::isolation
