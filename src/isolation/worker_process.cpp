#include "isolation/worker_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "gemmtune/tuner.h"
#include "isolation/protocol.h"

extern char** environ;

namespace gemmtune::isolation {
namespace {

// The fd the worker finds its socket on (after stdin, stdout, stderr).
constexpr int kWorkerSocketFd = 3;

std::string errno_text(int error) { return std::strerror(error); }

// Closes an fd on every path out of start().
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  int release() {
    int out = fd;
    fd = -1;
    return out;
  }
};

// stop_workers_without_waiting: the switch, and the workers killed but not
// yet reaped.
std::atomic<bool> g_no_wait{false};
std::mutex g_unreaped_mutex;
std::vector<pid_t>& unreaped() {
  static auto* pids = new std::vector<pid_t>();  // never destroyed: used until the process ends
  return *pids;
}

// Reaps the killed workers that have ended by now, without waiting.
void reap_ended() {
  std::lock_guard<std::mutex> lock(g_unreaped_mutex);
  std::erase_if(unreaped(), [](pid_t pid) {
    int status = 0;
    pid_t got;
    do {
      got = ::waitpid(pid, &status, WNOHANG);
    } while (got < 0 && errno == EINTR);
    return got != 0;  // reaped now, or gone already (ECHILD)
  });
}

}  // namespace

void stop_workers_without_waiting(bool on) { g_no_wait = on; }

std::string describe_signal(int signal) {
  const char* abbrev = sigabbrev_np(signal);
  const char* what = sigdescr_np(signal);
  std::string out = abbrev ? "SIG" + std::string(abbrev) : "signal " + std::to_string(signal);
  if (what) out += std::string(" (") + what + ")";
  return out;
}

std::unique_ptr<WorkerProcess> WorkerProcess::start(const WorkerCommand& command, Device device,
                                                     double start_seconds) {
  reap_ended();
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
    throw WorkerStartError(device, "could not create the measuring worker's socket: " + errno_text(errno));
  Fd parent{pair[0]}, child{pair[1]};
  // posix_spawn's dup2 onto the same number would keep close-on-exec on
  // some C libraries: make sure the child's end is not already fd 3.
  if (child.fd <= kWorkerSocketFd) {
    Fd moved{::fcntl(child.fd, F_DUPFD_CLOEXEC, kWorkerSocketFd + 1)};
    if (moved.fd < 0) throw WorkerStartError(device, "could not set up the measuring worker's socket: " + errno_text(errno));
    std::swap(child.fd, moved.fd);
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  // stdin: nothing; stdout: our stderr, so that whatever a library prints
  // in the worker can never mix into the tuner's own output (--json).
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, child.fd, kWorkerSocketFd);
  posix_spawn_file_actions_addclosefrom_np(&actions, kWorkerSocketFd + 1);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  // Default dispositions and no blocked signals, whatever the host program
  // (a Python interpreter, a server) set for itself.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &all);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<std::string> args{command.executable};
  args.insert(args.end(), command.arguments.begin(), command.arguments.end());
  args.insert(args.end(), {"--socket-fd", std::to_string(kWorkerSocketFd), "--parent-pid", std::to_string(::getpid()),
                           "--device", to_string(device)});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  pid_t pid = -1;
  const int spawned = ::posix_spawn(&pid, command.executable.c_str(), &actions, &attributes, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (spawned != 0)
    throw WorkerStartError(device, "could not start the measuring worker " + command.executable + " (" + command.origin +
                           "): " + errno_text(spawned));
  std::unique_ptr<WorkerProcess> worker(new WorkerProcess(pid, parent.release()));
  child.reset();  // only the worker holds its end now: its death closes the socket

  std::string hello;
  const Io io = read_frame(worker->socket(), hello, Deadline::after(start_seconds));
  std::string problem;
  if (io == Io::ok) {
    try {
      const auto j = nlohmann::json::parse(hello);
      if (j.at("type") != "hello") problem = "it did not introduce itself";
      else if (j.at("protocol").get<int>() != kProtocolVersion)
        problem = "it speaks protocol " + std::to_string(j.at("protocol").get<int>()) + ", this library " +
                  std::to_string(kProtocolVersion);
      else if (j.at("version").get<std::string>() != version())
        problem = "it is gemmtune " + j.at("version").get<std::string>() + ", this library is gemmtune " +
                  std::string(version());
    } catch (const std::exception& e) {
      problem = std::string("its hello is malformed: ") + e.what();
    }
  } else if (io == Io::timeout) {
    problem = "it did not answer within " + std::to_string(static_cast<int>(start_seconds)) + " s";
  } else {
    problem = "it " + worker->finish(1.0).text + " before answering";
  }
  if (!problem.empty()) {
    const std::string message = "the measuring worker " + command.executable + " (" + command.origin +
                                ") is not usable: " + problem +
                                "; point GEMMTUNE_WORKER at this gemmtune's worker, or measure in process with "
                                "--isolation none (GEMMTUNE_ISOLATION=none)";
    // Named by the user's GEMMTUNE_WORKER: their setting is wrong (exit 2),
    // not the device (a worker gemmtune found itself that fails is).
    if (command.origin == "GEMMTUNE_WORKER") throw ConfigError(message);
    throw WorkerStartError(device, message);
  }
  return worker;
}

WorkerProcess::WorkerProcess(pid_t pid, int socket) : pid_(pid), owner_(::getpid()), socket_(socket) {}

WorkerProcess::~WorkerProcess() {
  if (!reaped_ && owner_ == ::getpid()) {
    if (g_no_wait) {
      ::kill(pid_, SIGKILL);
      reap_ended();
      std::lock_guard<std::mutex> lock(g_unreaped_mutex);
      unreaped().push_back(pid_);
    } else {
      kill();
    }
  }
  if (socket_ >= 0) ::close(socket_);
}

bool WorkerProcess::reap(bool wait) {
  if (reaped_) return true;
  int status = 0;
  pid_t got;
  do {
    got = ::waitpid(pid_, &status, wait ? 0 : WNOHANG);
  } while (got < 0 && errno == EINTR);
  if (got == 0) return false;
  reaped_ = true;
  if (got < 0) {
    // ECHILD: the host program reaps children itself (SIGCHLD ignored).
    ending_.text = "ended (its exit status was collected elsewhere)";
    return true;
  }
  if (WIFSIGNALED(status)) {
    ending_.signaled = true;
    ending_.signal = WTERMSIG(status);
    ending_.text = "was killed by " + describe_signal(ending_.signal);
  } else {
    ending_.exit_status = WEXITSTATUS(status);
    ending_.text = "exited with status " + std::to_string(ending_.exit_status);
  }
  return true;
}

bool WorkerProcess::running() { return !reap(false); }

const Ending& WorkerProcess::finish(double grace_seconds) {
  if (socket_ >= 0) {
    ::close(socket_);
    socket_ = -1;
  }
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(grace_seconds);
  while (!reap(false)) {
    if (std::chrono::steady_clock::now() >= until) return kill();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return ending_;
}

const Ending& WorkerProcess::kill() {
  if (!reaped_ && owner_ == ::getpid()) {
    ::kill(pid_, SIGKILL);
    reap(true);
  }
  return ending_;
}

}  // namespace gemmtune::isolation
