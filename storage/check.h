// RAZAR_CHECK: invariants that stay on in release builds.
//
// The default build is RelWithDebInfo, which defines NDEBUG and so compiles
// `assert` out. An invariant that guards the disk or a queue must not
// disappear with it: a broken one means memory or logic is already wrong,
// and continuing would write that wrongness into the log, a snapshot or a
// component's fate. So a failed check prints where and what, and aborts
// (in the spirit of TigerBeetle's assertions and RocksDB's release-mode
// status checks). It is never an error path for bad input — bad input gets
// a Status; a check is for what the code itself promised.
//
//   RAZAR_CHECK(cond)                 aborts with the condition's text
//   RAZAR_CHECK_EQ(a, b) _NE _LT _LE _GT _GE
//                                     aborts with both values printed
//
// Pair them across every boundary: assert an invariant where data is
// written (before a commit, before a push) and again where it is read back
// (after a read, after a pop).
//
// Cost: one predictable branch. Each operand is evaluated once; the
// message is built only on failure. Thread safety: the macros may be used
// from any thread; a failure aborts the whole process.
#pragma once

#include <string>
#include <type_traits>

namespace razar::internal {

// Prints "<file>:<line>: RAZAR_CHECK failed: <expr>[ (<detail>)]" to
// stderr and aborts. Never returns.
[[noreturn]] void CheckFailed(const char* file, int line, const char* expr, const std::string& detail);

template <typename T>
std::string CheckValueText(const T& v) {
  if constexpr (std::is_same_v<T, bool>) {
    return v ? "true" : "false";
  } else if constexpr (std::is_enum_v<T>) {
    return std::to_string(static_cast<std::underlying_type_t<T>>(v));
  } else if constexpr (std::is_arithmetic_v<T>) {
    return std::to_string(v);
  } else if constexpr (std::is_pointer_v<T>) {
    return v == nullptr ? std::string("null") : std::string("non-null");
  } else {
    return "?";
  }
}

template <typename A, typename B>
[[noreturn]] void CheckOpFailed(const char* file, int line, const char* expr, const A& a,
                                const B& b) {
  CheckFailed(file, line, expr, CheckValueText(a) + " vs " + CheckValueText(b));
}

}  // namespace razar::internal

#define RAZAR_CHECK(cond)                                                     \
  do {                                                                        \
    if (__builtin_expect(!static_cast<bool>(cond), 0)) {                      \
      ::razar::internal::CheckFailed(__FILE__, __LINE__, #cond, std::string()); \
    }                                                                         \
  } while (0)

#define RAZAR_CHECK_OP_(op, a, b)                                                       \
  do {                                                                                  \
    const auto& _razar_check_a = (a);                                                   \
    const auto& _razar_check_b = (b);                                                   \
    if (__builtin_expect(!(_razar_check_a op _razar_check_b), 0)) {                     \
      ::razar::internal::CheckOpFailed(__FILE__, __LINE__, #a " " #op " " #b,           \
                                       _razar_check_a, _razar_check_b);                 \
    }                                                                                   \
  } while (0)

#define RAZAR_CHECK_EQ(a, b) RAZAR_CHECK_OP_(==, a, b)
#define RAZAR_CHECK_NE(a, b) RAZAR_CHECK_OP_(!=, a, b)
#define RAZAR_CHECK_LT(a, b) RAZAR_CHECK_OP_(<, a, b)
#define RAZAR_CHECK_LE(a, b) RAZAR_CHECK_OP_(<=, a, b)
#define RAZAR_CHECK_GT(a, b) RAZAR_CHECK_OP_(>, a, b)
#define RAZAR_CHECK_GE(a, b) RAZAR_CHECK_OP_(>=, a, b)
