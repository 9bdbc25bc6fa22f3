// Host, port and URL syntax checks for probes and the HTTP bind address.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace razar::orchestrator {

// "1".."65535" (no sign, no spaces); false otherwise.
bool ParsePort(std::string_view text, uint16_t* port);
bool IsIpLiteral(const std::string& host);
// A DNS name: letters, digits, '-' and '.', not starting with '-' or '.'.
bool IsHostName(std::string_view host);
// True for the addresses that only this machine can reach: 127.0.0.0/8,
// ::1 and "localhost".
bool IsLoopbackAddress(const std::string& host);
// Splits "host:port" / "[v6]:port". Empty string on success, else the problem.
std::string SplitHostPort(std::string_view text, std::string* host, uint16_t* port);
// Empty if `url` is an acceptable probe URL, else the problem. Credentials
// in the URL are refused: the config is not a place for secrets.
std::string UrlProblem(std::string_view url);

}  // namespace razar::orchestrator
