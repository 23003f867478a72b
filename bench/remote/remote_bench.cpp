// Remote cache benchmark: what the fleet's Redis costs a tuning process.
// Needs a Redis to talk to (bench/remote/run_remote_bench.sh starts one on a
// loopback port); every key it writes carries a prefix of its own.
//
//   gemmtune_remote_bench --url redis://127.0.0.1:PORT [--lookups N] [--problems N]
//
// Prints, from one run:
//   - remote hit latency: TuningCache::lookup of a key present in Redis but
//     not in the local file (Redis round trip, size check, validation, the
//     local copy), median / p90 / p99 / max, with its parts measured apart;
//   - a local hit, for comparison;
//   - lease overhead per tuned problem: lookup (miss) + save + lease release
//     with the layered cache, minus the same with the local file alone,
//     side by side on fresh keys.
// The records are real: one tuning of a CPU problem over BLAS, ONEDNN and
// CPP, copied under distinct keys.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "gemmtune/tuner.h"
#include "store/record_json.h"
#include "store/redis_client.h"
#include "store/redis_records.h"
#include "store/store.h"
#include "store/tuning_cache.h"

namespace {

using namespace gemmtune;
using Clock = std::chrono::steady_clock;

double us_since(Clock::time_point start) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

struct Summary {
  double median = 0, p90 = 0, p99 = 0, max = 0, mean = 0;
};

Summary summarize(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  Summary s;
  if (v.empty()) return s;
  auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<std::size_t>(q * (v.size() - 1) + 0.5))]; };
  s.median = at(0.5);
  s.p90 = at(0.9);
  s.p99 = at(0.99);
  s.max = v.back();
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  return s;
}

void print_row(const char* what, const Summary& s) {
  std::printf("  %-44s %9.1f %9.1f %9.1f %9.1f %9.1f\n", what, s.median, s.p90, s.p99, s.max, s.mean);
}

void print_header() {
  std::printf("  %-44s %9s %9s %9s %9s %9s\n", "(microseconds)", "median", "p90", "p99", "max", "mean");
}

std::optional<std::string> any_record(const TuningRecord&) { return std::nullopt; }

}  // namespace

int main(int argc, char** argv) {
  std::string url;
  int lookups = 2000;
  int problems = 500;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--url" && i + 1 < argc) url = argv[++i];
    else if (a == "--lookups" && i + 1 < argc) lookups = std::atoi(argv[++i]);
    else if (a == "--problems" && i + 1 < argc) problems = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr, "usage: gemmtune_remote_bench --url redis://127.0.0.1:PORT [--lookups N] [--problems N]\n");
      return 2;
    }
  }
  if (url.empty() || lookups < 10 || problems < 10) {
    std::fprintf(stderr, "gemmtune_remote_bench: give --url (and at least 10 lookups and problems)\n");
    return 2;
  }
  const std::string folder = (std::filesystem::temp_directory_path() / ("gemmtune-remote-bench-" + std::to_string(::getpid()))).string();
  std::filesystem::create_directories(folder);
  const std::string prefix = "bench-" + std::to_string(::getpid()) + ":";

  // A real record: one tuning of a CPU problem.
  TuneOptions options;
  options.backends = std::vector<std::string>{"BLAS", "ONEDNN", "CPP"};
  options.use_cache = false;
  options.measure.budget_ms = 5;
  ProblemSpec spec;
  spec.m = 256;
  spec.n = 256;
  spec.k = 256;
  TuningRecord base = Tuner(options).tune(make_problem(spec)).record;
  const std::size_t record_bytes = store::record_text(base).size();

  store::RemoteSettings remote;
  remote.url = url;
  remote.key_prefix = prefix;
  auto endpoint = store::redis::parse_url(url);
  auto connection = store::redis::Connection::open(endpoint, {remote.connect_timeout, remote.command_timeout,
                                                              store::kMaxRemoteRecordBytes + (64u << 10)});
  store::RedisRecords records(*connection, prefix);

  // Records in Redis under distinct keys, absent locally.
  std::vector<std::string> keys;
  for (int i = 0; i < lookups; ++i) {
    TuningRecord r = base;
    r.key = "hit-" + std::to_string(i) + "|" + base.key;
    keys.push_back(r.key);
    records.put(r.key, store::record_text(r));
  }

  std::printf("remote cache benchmark: %s, record of %zu bytes (%zu choices), %d lookups, %d tuned problems\n",
              endpoint.display().c_str(), record_bytes, base.choices.size(), lookups, problems);
  print_header();

  // Remote hits through the layered cache (fresh local file).
  std::vector<double> hit_us;
  {
    auto cache = store::open_tuning_cache(folder + "/hits.db", remote, [](const std::string& w) {
      std::fprintf(stderr, "warning: %s\n", w.c_str());
    });
    (void)cache->lookup("warm-up-connection", any_record, store::Waiting::dont_wait);
    for (const auto& key : keys) {
      const auto start = Clock::now();
      store::Lookup found = cache->lookup(key, any_record, store::Waiting::wait);
      hit_us.push_back(us_since(start));
      if (!found.record || found.origin != store::RecordOrigin::remote) {
        std::fprintf(stderr, "gemmtune_remote_bench: %s was not a remote hit\n", key.c_str());
        return 1;
      }
    }
    // The same keys again: local hits now.
    std::vector<double> local_us;
    for (const auto& key : keys) {
      const auto start = Clock::now();
      (void)cache->lookup(key, any_record, store::Waiting::wait);
      local_us.push_back(us_since(start));
    }
    Summary hits = summarize(hit_us);
    print_row("remote hit (lookup, validate; local copy queued)", hits);
    print_row("local hit (for comparison)", summarize(local_us));

    // The parts of a remote hit, measured apart.
    std::vector<double> fetch_us, parse_us, save_us;
    auto parts = store::Store::open(folder + "/parts.db", {});
    for (const auto& key : keys) {
      auto start = Clock::now();
      store::RemoteText text = records.fetch(key);
      fetch_us.push_back(us_since(start));
      start = Clock::now();
      TuningRecord r = store::record_from_text(text.text, key);
      parse_us.push_back(us_since(start));
      start = Clock::now();
      parts->save(r);
      save_us.push_back(us_since(start));
    }
    print_row("  of which: Redis STRLEN+GETRANGE round trip", summarize(fetch_us));
    print_row("  of which: parse and validate the record", summarize(parse_us));
    print_row("  of which: copy into the local SQLite file", summarize(save_us));
    std::printf("  targets: median <= 1000 us, every lookup <= 2000 us: median %s, %d of %d lookups over 2000 us\n",
                hits.median <= 1000 ? "met" : "MISSED",
                static_cast<int>(std::count_if(hit_us.begin(), hit_us.end(), [](double us) { return us > 2000; })),
                lookups);
  }

  // Lease overhead: the cache operations around one tuning, layered vs local.
  std::vector<double> layered_us, local_only_us;
  {
    auto layered = store::open_tuning_cache(folder + "/layered.db", remote, {});
    auto local = store::open_tuning_cache(folder + "/local.db", std::nullopt, {});
    (void)layered->lookup("warm-up-connection-2", any_record, store::Waiting::dont_wait);
    for (int i = 0; i < problems; ++i) {
      TuningRecord r = base;
      r.key = "tuned-" + std::to_string(i) + "|" + base.key;
      // Alternate the order so neither side always runs on a warmer cache.
      for (int side = 0; side < 2; ++side) {
        const bool use_layered = (side == 0) == (i % 2 == 0);
        store::TuningCache& cache = use_layered ? *layered : *local;
        const auto start = Clock::now();
        store::Lookup found = cache.lookup(r.key, any_record, store::Waiting::wait);
        cache.save(r);
        found.lease.reset();
        (use_layered ? layered_us : local_only_us).push_back(us_since(start));
        if (use_layered && found.record) {
          std::fprintf(stderr, "gemmtune_remote_bench: %s was found before it was tuned\n", r.key.c_str());
          return 1;
        }
      }
    }
  }
  Summary with = summarize(layered_us), without = summarize(local_only_us);
  print_row("miss + lease + save + release, layered", with);
  print_row("miss + save, local file alone", without);
  std::printf("  lease overhead per tuned problem (difference of medians): %.1f us; mean %.1f us\n",
              with.median - without.median, with.mean - without.mean);

  // Leave Redis as it was.
  std::string cursor = "0";
  std::vector<std::string> all;
  do {
    store::ScanPage page = records.scan(cursor);
    cursor = page.cursor;
    all.insert(all.end(), page.keys.begin(), page.keys.end());
  } while (cursor != "0");
  for (const auto& key : all) connection->command({"DEL", records.record_key(key)});
  std::filesystem::remove_all(folder);
  return 0;
}
