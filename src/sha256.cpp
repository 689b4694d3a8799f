// SPDX-License-Identifier: MIT
// SHA-256 through OpenSSL's libcrypto: libcurl already loads it, and its
// assembly implementation checksums the 7 MB of models in ~3 ms (a portable
// C++ version took ~24 ms of every --backend local run).
#include "faceverify/sha256.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>

namespace faceverify {

namespace {

std::string digest_hex(std::string_view data, const EVP_MD* md) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &size, md, nullptr) != 1) return {};
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * size);
  for (unsigned int i = 0; i < size; ++i) {
    out.push_back(k_hex[digest[i] >> 4]);
    out.push_back(k_hex[digest[i] & 0xF]);
  }
  return out;
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  return digest_hex(data, EVP_sha256());
}

std::string md5_hex(std::string_view data) {
  return digest_hex(data, EVP_md5());
}

std::array<unsigned char, 32> sha256_digest(std::string_view data) {
  std::array<unsigned char, 32> digest{};
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest.data(), &size, EVP_sha256(), nullptr);
  return digest;
}

bool digests_equal(const std::array<unsigned char, 32>& a, const std::array<unsigned char, 32>& b) noexcept {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace faceverify
