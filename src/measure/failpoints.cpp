#include "measure/failpoints.h"

#include <fnmatch.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <thread>

#include "backends/reference/reference_math.h"
#include "gemmtune/errors.h"
#include "runtime/device_runtime.h"
#include "util/numeric.h"

namespace gemmtune::measure {
namespace {

constexpr double kMaxSlowMs = 3600000;

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

bool has_glob(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

// Every '[' opens a set that a later ']' closes (fnmatch would take an
// unclosed one literally, so the rule would match nothing, silently).
bool sets_closed(std::string_view glob) {
  for (std::size_t i = 0; i < glob.size(); ++i) {
    if (glob[i] == '\\') {
      ++i;
      continue;
    }
    if (glob[i] != '[') continue;
    std::size_t j = i + 1;
    if (j < glob.size() && (glob[j] == '!' || glob[j] == '^')) ++j;
    if (j < glob.size() && glob[j] == ']') ++j;  // a leading ']' is a member
    const std::size_t close = glob.find(']', j);
    if (close == std::string_view::npos) return false;
    i = close;
  }
  return true;
}

constexpr const char* kActions = "crash, abort, hang, throw, wrong, nan, slow:MS, illegal_address";

// A kernel whose runs misbehave as one rule says.
class FailpointKernel final : public Kernel {
 public:
  FailpointKernel(std::unique_ptr<Kernel> inner, FailRule rule, const Problem& problem,
                  runtime::DeviceRuntime& device)
      : inner_(std::move(inner)), rule_(std::move(rule)), problem_(problem), device_(device) {}

  std::size_t workspace_bytes() const override { return inner_->workspace_bytes(); }

  Status run(const GemmArgs& args, const RunContext& ctx) override {
    switch (rule_.action) {
      case FailAction::crash:
        std::raise(SIGSEGV);
        std::abort();  // a host that handles SIGSEGV and returns still loses the process
      case FailAction::abort: std::abort();
      case FailAction::hang:
        for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
      case FailAction::throw_exception: throw std::runtime_error("failpoint " + rule_.text + " threw from run()");
      case FailAction::slow:
        std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(rule_.slow_ms));
        return inner_->run(args, ctx);
      case FailAction::illegal_address: {
        GemmArgs bad = args;
        bad.c = reinterpret_cast<void*>(std::uintptr_t{4096});  // page 1: mapped neither on the host nor a GPU
        return inner_->run(bad, ctx);
      }
      case FailAction::wrong:
      case FailAction::nan: {
        if (Status s = inner_->run(args, ctx); !s) return s;
        return spoil(args);
      }
    }
    return Status::success();
  }

 private:
  // Overwrites the last output element (wrong: far off; nan: NaN).
  Status spoil(const GemmArgs& args) {
    if (problem_.batch == 0 || problem_.m == 0 || problem_.n == 0) return Status::success();
    const DType t = problem_.c.dtype;
    const std::size_t width = dtype_size(t);
    const std::int64_t at = reference::offset(problem_.c, problem_.batch - 1, problem_.m - 1, problem_.n - 1);
    void* where = static_cast<char*>(args.c) + static_cast<std::size_t>(at) * width;
    if (Status s = device_.synchronize(); !s) return s;
    unsigned char element[16] = {};
    if (Status s = device_.copy_to_host(element, where, width); !s) return s;
    const double value = numeric::load_as_double(element, t, 0);
    const bool nan = rule_.action == FailAction::nan && is_floating(t);
    numeric::store_from_double(element, t, 0,
                               nan ? std::numeric_limits<double>::quiet_NaN() : value + 100.0 + std::fabs(value) * 4);
    return device_.copy_from_host(where, element, width);
  }

  std::unique_ptr<Kernel> inner_;
  FailRule rule_;
  Problem problem_;
  runtime::DeviceRuntime& device_;
};

}  // namespace

Failpoints Failpoints::parse(std::string_view text, std::string_view source, const std::vector<std::string>& backends) {
  Failpoints out;
  out.text_ = std::string(text);
  auto fail = [&](const std::string& rule, const std::string& why) {
    throw ConfigError(std::string(source) + ": rule '" + rule + "' " + why +
                      " (rules are BACKEND/CHOICE_GLOB=ACTION separated by ';', actions: " + kActions + ")");
  };
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(';', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string item = trim(text.substr(start, end - start));
    start = end + 1;
    if (item.empty()) continue;
    const std::size_t eq = item.find('=');
    if (eq == std::string::npos) fail(item, "has no '=ACTION'");
    const std::string target = trim(std::string_view(item).substr(0, eq));
    const std::string action = trim(std::string_view(item).substr(eq + 1));
    const std::size_t slash = target.find('/');
    if (slash == std::string::npos) fail(item, "does not name BACKEND/CHOICE_GLOB");
    FailRule rule;
    rule.text = item;
    rule.backend_glob = upper(trim(std::string_view(target).substr(0, slash)));
    rule.choice_glob = trim(std::string_view(target).substr(slash + 1));
    if (rule.backend_glob.empty()) fail(item, "names no backend");
    if (rule.choice_glob.empty()) fail(item, "names no choice (use * for every choice)");
    for (const std::string* glob : {&rule.backend_glob, &rule.choice_glob})
      if (!sets_closed(*glob)) fail(item, "has a '[' that no ']' closes in '" + *glob + "'");
    if (!has_glob(rule.backend_glob) &&
        std::find(backends.begin(), backends.end(), rule.backend_glob) == backends.end()) {
      std::string valid;
      for (const auto& b : backends) valid += (valid.empty() ? "" : ", ") + b;
      fail(item, "names the unknown backend '" + rule.backend_glob + "' (valid: " + valid + ")");
    }
    if (action == "crash") rule.action = FailAction::crash;
    else if (action == "abort") rule.action = FailAction::abort;
    else if (action == "hang") rule.action = FailAction::hang;
    else if (action == "throw") rule.action = FailAction::throw_exception;
    else if (action == "wrong") rule.action = FailAction::wrong;
    else if (action == "nan") rule.action = FailAction::nan;
    else if (action == "illegal_address") rule.action = FailAction::illegal_address;
    else if (action.rfind("slow:", 0) == 0) {
      const std::string ms = action.substr(5);
      double value = 0;
      auto [ptr, ec] = std::from_chars(ms.data(), ms.data() + ms.size(), value);
      if (ms.empty() || ec != std::errc() || ptr != ms.data() + ms.size() || !(value > 0) || value > kMaxSlowMs)
        fail(item, "needs slow:MS with MS a number of milliseconds in (0, 3600000], got '" + action + "'");
      rule.action = FailAction::slow;
      rule.slow_ms = value;
    } else {
      fail(item, "has the unknown action '" + action + "'");
    }
    out.rules_.push_back(std::move(rule));
  }
  return out;
}

const FailRule* Failpoints::match(std::string_view backend, std::string_view choice) const {
  const std::string b(backend), c(choice);
  for (const FailRule& rule : rules_)
    if (fnmatch(rule.backend_glob.c_str(), b.c_str(), FNM_CASEFOLD) == 0 &&
        fnmatch(rule.choice_glob.c_str(), c.c_str(), 0) == 0)
      return &rule;
  return nullptr;
}

std::unique_ptr<Kernel> with_failpoint(std::unique_ptr<Kernel> kernel, const FailRule& rule, const Problem& problem,
                                       runtime::DeviceRuntime& device) {
  return std::make_unique<FailpointKernel>(std::move(kernel), rule, problem, device);
}

}  // namespace gemmtune::measure
