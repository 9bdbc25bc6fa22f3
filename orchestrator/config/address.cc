#include "orchestrator/config/address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "orchestrator/config/reader.h"  // Quote

namespace razar::orchestrator {

using config_internal::Quote;

bool ParsePort(std::string_view text, uint16_t* port) {
  unsigned v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v == 0 || v > 65535) return false;
  *port = static_cast<uint16_t>(v);
  return true;
}

bool IsIpLiteral(const std::string& host) {
  in6_addr addr6;
  in_addr addr4;
  return inet_pton(AF_INET, host.c_str(), &addr4) == 1 ||
         inet_pton(AF_INET6, host.c_str(), &addr6) == 1;
}

bool IsHostName(std::string_view host) {
  if (host.empty() || host.size() > 253 || host.front() == '-' || host.front() == '.') return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
  });
}

// Splits "host:port" / "[v6]:port". Empty string on success, else the problem.
std::string SplitHostPort(std::string_view text, std::string* host, uint16_t* port) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return "expected \"host:port\"";
  std::string_view h = text.substr(0, colon);
  if (!ParsePort(text.substr(colon + 1), port)) return "port must be an integer in 1..65535";
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') {
    *host = std::string(h.substr(1, h.size() - 2));
    in6_addr addr;
    if (inet_pton(AF_INET6, host->c_str(), &addr) != 1) return "invalid IPv6 address";
    return "";
  }
  *host = std::string(h);
  if (host->find(':') != std::string::npos) return "write an IPv6 host in brackets: \"[::1]:port\"";
  if (!IsIpLiteral(*host) && !IsHostName(*host)) return "invalid host " + Quote(*host);
  return "";
}

// Empty if `url` is an acceptable probe URL, else the problem. Credentials
// in the URL are refused: the config is not a place for secrets.
std::string UrlProblem(std::string_view url) {
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return "URL must not contain spaces or control characters";
    }
  }
  std::string_view rest;
  if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else if (url.starts_with("https://")) {
    rest = url.substr(8);
  } else {
    return "expected an http:// or https:// URL";
  }
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.find('@') != std::string_view::npos) {
    return "credentials in the URL are not allowed";
  }
  if (authority.empty()) return "URL has no host";
  std::string host;
  uint16_t port = 0;
  bool has_port = authority.back() != ']' && authority.find(':') != std::string_view::npos;
  if (has_port) {
    std::string problem = SplitHostPort(authority, &host, &port);
    return problem.empty() ? "" : "bad host:port in URL: " + problem;
  }
  if (authority.front() == '[') {
    host = std::string(authority.substr(1, authority.size() - 2));
    in6_addr addr;
    return inet_pton(AF_INET6, host.c_str(), &addr) == 1 ? "" : "invalid IPv6 address in URL";
  }
  return IsIpLiteral(std::string(authority)) || IsHostName(authority) ? "" : "invalid host in URL";
}

bool IsLoopbackAddress(const std::string& host) {
  if (host == "localhost") return true;
  in_addr addr4;
  if (inet_pton(AF_INET, host.c_str(), &addr4) == 1) {
    return (ntohl(addr4.s_addr) >> 24) == 127;
  }
  in6_addr addr6;
  if (inet_pton(AF_INET6, host.c_str(), &addr6) != 1) return false;
  // ::1, and 127.0.0.0/8 written as an IPv4-mapped address (::ffff:127.x).
  return IN6_IS_ADDR_LOOPBACK(&addr6) || (IN6_IS_ADDR_V4MAPPED(&addr6) && addr6.s6_addr[12] == 127);
}

}  // namespace razar::orchestrator
