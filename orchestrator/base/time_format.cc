#include "orchestrator/base/time_format.h"

#include <cstdio>
#include <ctime>

namespace razar::orchestrator {

std::string FormatUtcIso8601(int64_t unix_ms, bool with_millis) {
  int64_t secs = unix_ms / 1000;
  int64_t ms = unix_ms % 1000;
  if (ms < 0) {  // floor division for times before 1970
    ms += 1000;
    secs -= 1;
  }
  time_t t = static_cast<time_t>(secs);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[48];
  if (with_millis) {
    std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms));
  } else {
    std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  }
  return buf;
}

std::optional<int64_t> ParseUtcIso8601(std::string_view text) {
  // Exactly "YYYY-MM-DDTHH:MM:SSZ" (20 chars) or with ".mmm" (24 chars).
  if (text.size() != 20 && text.size() != 24) return std::nullopt;
  std::string s(text);
  struct tm tm {};
  int ms = 0;
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6 ||
      consumed != 19) {
    return std::nullopt;
  }
  if (s.size() == 24) {
    if (s[19] != '.' || std::sscanf(s.c_str() + 20, "%3d", &ms) != 1) return std::nullopt;
    for (int i = 20; i < 23; ++i) {
      if (s[i] < '0' || s[i] > '9') return std::nullopt;
    }
  }
  if (s.back() != 'Z') return std::nullopt;
  if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
      tm.tm_min > 59 || tm.tm_sec > 60) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  time_t secs = timegm(&tm);
  return static_cast<int64_t>(secs) * 1000 + ms;
}

int64_t NowUnixMs(storage::Env* env) { return (env != nullptr ? env : storage::Env::Default())->NowUnixNanos() / 1'000'000; }

}  // namespace razar::orchestrator
