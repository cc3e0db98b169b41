// meetedge's media fast path (docs/fastpath.md): SRTP and SRTCP protection
// with cipher contexts that are keyed once and reused, and the datagrams of one forwarding
// turn handed to the kernel in one sendmmsg(2) call.
//
// Node's crypto creates a cipher (and for AES-CM an HMAC) per packet since it
// cannot give an existing one a new IV, and dgram makes one syscall, one send
// request and one libuv round per datagram: together about half of the media
// module's CPU per forwarded packet. This file does only those two things; the
// forwarding decisions stay in TypeScript.
//
// Built by node-gyp against Node's own headers; OpenSSL comes from the node
// binary, which exports it. N-API only, so one build serves every Node >= 20
// of the platform.

#define NAPI_VERSION 8
#define _GNU_SOURCE
#include <node_api.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define PROFILE_AES128_CM_HMAC_SHA1_80 0x0001
#define PROFILE_AEAD_AES_128_GCM 0x0007

/** Words per datagram in a batch's descriptor array (keep in step with src/index.ts). */
#define DESCRIPTOR_WORDS 10
/** Datagrams per sendmmsg call. */
#define CHUNK 64

typedef struct {
  int gcm;
  /** 1: unprotects received packets (GCM needs a decrypting context); 0: protects. */
  int unprotect;
  int tag_length;
  EVP_CIPHER_CTX *cipher;
  HMAC_CTX *hmac;
  uint8_t salt[14];
} srtp_context;

static void throw_coded(napi_env env, const char *code, const char *message) {
  napi_throw_type_error(env, code, message);
}

static void srtp_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  srtp_context *ctx = data;
  if (ctx->cipher) EVP_CIPHER_CTX_free(ctx->cipher);
  if (ctx->hmac) HMAC_CTX_free(ctx->hmac);
  free(ctx);
}

static int get_buffer(napi_env env, napi_value value, uint8_t **data, size_t *length) {
  bool is_buffer = false;
  if (napi_is_buffer(env, value, &is_buffer) != napi_ok || !is_buffer) return 0;
  return napi_get_buffer_info(env, value, (void **)data, length) == napi_ok;
}

static int get_u32(napi_env env, napi_value value, uint32_t *out) {
  napi_valuetype type;
  double number;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_number) return 0;
  if (napi_get_value_double(env, value, &number) != napi_ok) return 0;
  // Integers in [0, 2^32) only: N-API would wrap -1 to 4294967295.
  if (!(number >= 0 && number <= 4294967295.0) || number != (double)(uint32_t)number) return 0;
  *out = (uint32_t)number;
  return 1;
}

/** srtpContext(profile, key, salt, authKey, unprotect): an external holding keyed contexts. */
static napi_value srtp_create(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t profile;
  uint8_t *key, *salt, *auth;
  size_t key_len, salt_len, auth_len;
  bool unprotect = false;
  if (argc < 5 || !get_u32(env, argv[0], &profile) || !get_buffer(env, argv[1], &key, &key_len) ||
      !get_buffer(env, argv[2], &salt, &salt_len) || !get_buffer(env, argv[3], &auth, &auth_len) ||
      napi_get_value_bool(env, argv[4], &unprotect) != napi_ok) {
    throw_coded(env, "ERR_FASTPATH_ARGUMENT", "srtpContext(profile, key, salt, authKey, unprotect): a number, three Buffers and a boolean");
    return NULL;
  }
  int gcm = profile == PROFILE_AEAD_AES_128_GCM;
  if (!gcm && profile != PROFILE_AES128_CM_HMAC_SHA1_80) {
    throw_coded(env, "ERR_FASTPATH_PROFILE", "unsupported SRTP protection profile");
    return NULL;
  }
  if (key_len != 16 || salt_len < (size_t)(gcm ? 12 : 14) || (!gcm && auth_len != 20)) {
    throw_coded(env, "ERR_FASTPATH_KEY", "SRTP key must be 16 bytes, salt 12 (GCM) or 14 (CM), auth key 20 (CM)");
    return NULL;
  }
  srtp_context *ctx = calloc(1, sizeof *ctx);
  if (!ctx) {
    napi_throw_error(env, "ERR_FASTPATH_MEMORY", "out of memory");
    return NULL;
  }
  ctx->gcm = gcm;
  ctx->unprotect = unprotect;
  ctx->tag_length = gcm ? 16 : 10;
  memcpy(ctx->salt, salt, gcm ? 12 : 14);
  ctx->cipher = EVP_CIPHER_CTX_new();
  // AES-CTR decrypts by encrypting; GCM needs a context of the right direction.
  int ok = ctx->cipher && (gcm && unprotect ? EVP_DecryptInit_ex(ctx->cipher, EVP_aes_128_gcm(), NULL, key, NULL)
                                            : EVP_EncryptInit_ex(ctx->cipher, gcm ? EVP_aes_128_gcm() : EVP_aes_128_ctr(), NULL, key, NULL)) == 1;
  if (ok && !gcm) {
    ctx->hmac = HMAC_CTX_new();
    ok = ctx->hmac && HMAC_Init_ex(ctx->hmac, auth, 20, EVP_sha1(), NULL) == 1;
  }
  if (!ok) {
    srtp_finalize(env, ctx, NULL);
    napi_throw_error(env, "ERR_FASTPATH_CRYPTO", "OpenSSL refused the SRTP key");
    return NULL;
  }
  napi_value external;
  if (napi_create_external(env, ctx, srtp_finalize, NULL, &external) != napi_ok) {
    srtp_finalize(env, ctx, NULL);
    return NULL;
  }
  return external;
}

/**
 * The packet's IV from its SSRC and sequence number, the ROC and the session
 * salt: RFC 7714 §8.1 for GCM (12 bytes: 00 00 || SSRC || ROC || SEQ, XOR
 * salt), RFC 3711 §4.1.1 for AES-CM (16 bytes: salt · 2^16 XOR SSRC · 2^64
 * XOR index · 2^16).
 */
static void packet_iv(const srtp_context *ctx, const uint8_t *p, uint32_t roc, uint8_t iv[16]) {
  int at = ctx->gcm ? 2 : 4;
  int n = ctx->gcm ? 12 : 14;
  memset(iv, 0, 16);
  memcpy(iv + at, p + 8, 4);
  iv[at + 4] = (uint8_t)(roc >> 24);
  iv[at + 5] = (uint8_t)(roc >> 16);
  iv[at + 6] = (uint8_t)(roc >> 8);
  iv[at + 7] = (uint8_t)roc;
  iv[at + 8] = p[2];
  iv[at + 9] = p[3];
  for (int i = 0; i < n; i++) iv[i] ^= ctx->salt[i];
}

/** HMAC-SHA1 (AES-CM profiles) over p[0, length) then tail[0, tail_length), into mac[20]; 0 on failure. */
static int hmac_sha1(srtp_context *ctx, const uint8_t *p, uint32_t length, const uint8_t *tail, size_t tail_length, uint8_t mac[20]) {
  unsigned int mac_len = 0;
  return HMAC_Init_ex(ctx->hmac, NULL, 0, NULL, NULL) == 1 && HMAC_Update(ctx->hmac, p, length) == 1 &&
         (tail_length == 0 || HMAC_Update(ctx->hmac, tail, tail_length) == 1) && HMAC_Final(ctx->hmac, mac, &mac_len) == 1;
}

/** The AES-CM profile's SRTP tag: HMAC-SHA1 over p[0, length) then the ROC (RFC 3711 §4.2), into mac[20]; 0 on failure. */
static int auth_tag(srtp_context *ctx, const uint8_t *p, uint32_t length, uint32_t roc, uint8_t mac[20]) {
  uint8_t roc_bytes[4] = {roc >> 24, roc >> 16, roc >> 8, roc};
  return hmac_sha1(ctx, p, length, roc_bytes, 4, mac);
}

/**
 * Protects the RTP packet at p[0, length) (header of header_length bytes) in
 * place and writes the tag at p[length]. Returns the protected length, or -1.
 */
static int protect(srtp_context *ctx, uint8_t *p, uint32_t header_length, uint32_t length, uint32_t roc) {
  int out_len = 0;
  uint32_t payload_length = length - header_length;
  uint8_t iv[16];
  packet_iv(ctx, p, roc, iv);
  if (ctx->gcm) {
    // AAD = the header.
    if (EVP_EncryptInit_ex(ctx->cipher, NULL, NULL, NULL, iv) != 1) return -1;
    if (EVP_EncryptUpdate(ctx->cipher, NULL, &out_len, p, (int)header_length) != 1) return -1;
    if (payload_length > 0 && EVP_EncryptUpdate(ctx->cipher, p + header_length, &out_len, p + header_length, (int)payload_length) != 1) return -1;
    if (EVP_EncryptFinal_ex(ctx->cipher, p + length, &out_len) != 1) return -1;
    if (EVP_CIPHER_CTX_ctrl(ctx->cipher, EVP_CTRL_GCM_GET_TAG, 16, p + length) != 1) return -1;
    return (int)length + 16;
  }
  if (EVP_EncryptInit_ex(ctx->cipher, NULL, NULL, NULL, iv) != 1) return -1;
  if (payload_length > 0 && EVP_EncryptUpdate(ctx->cipher, p + header_length, &out_len, p + header_length, (int)payload_length) != 1) return -1;
  // Authenticated portion: header and encrypted payload, then the ROC.
  uint8_t mac[20];
  if (!auth_tag(ctx, p, length, roc, mac)) return -1;
  memcpy(p + length, mac, 10);
  return (int)length + 10;
}

/** Length of the RTP header at p[0, length): fixed part, CSRCs, extension (RFC 3550 §5.1); 0 if malformed. */
static uint32_t rtp_header_length(const uint8_t *p, uint32_t length) {
  if (length < 12 || (p[0] >> 6) != 2) return 0;
  uint32_t header_length = 12 + 4 * (uint32_t)(p[0] & 0x0f);
  if (p[0] & 0x10) {
    if (header_length + 4 > length) return 0;
    header_length += 4 + 4 * (((uint32_t)p[header_length + 2] << 8) | p[header_length + 3]);
  }
  return header_length <= length ? header_length : 0;
}

/**
 * Authenticates and decrypts the SRTP packet at p[0, length) in place.
 * Returns the RTP packet's length (the tag dropped), -1 if it is not RTP,
 * -2 if it does not authenticate.
 */
static int unprotect(srtp_context *ctx, uint8_t *p, uint32_t length, uint32_t roc) {
  uint32_t tag_length = (uint32_t)ctx->tag_length;
  if (length < 12 + tag_length) return -1;
  uint32_t rtp_length = length - tag_length;
  uint32_t header_length = rtp_header_length(p, rtp_length);
  if (header_length == 0) return -1;
  uint32_t payload_length = rtp_length - header_length;
  int out_len = 0;
  uint8_t iv[16];
  packet_iv(ctx, p, roc, iv);
  if (ctx->gcm) {
    if (EVP_DecryptInit_ex(ctx->cipher, NULL, NULL, NULL, iv) != 1) return -2;
    if (EVP_DecryptUpdate(ctx->cipher, NULL, &out_len, p, (int)header_length) != 1) return -2;
    if (payload_length > 0 && EVP_DecryptUpdate(ctx->cipher, p + header_length, &out_len, p + header_length, (int)payload_length) != 1) return -2;
    if (EVP_CIPHER_CTX_ctrl(ctx->cipher, EVP_CTRL_GCM_SET_TAG, 16, p + rtp_length) != 1) return -2;
    // The payload is already decrypted in place: a failed tag leaves garbage there, and the packet is dropped.
    if (EVP_DecryptFinal_ex(ctx->cipher, p + rtp_length, &out_len) != 1) return -2;
    return (int)rtp_length;
  }
  uint8_t mac[20];
  if (!auth_tag(ctx, p, rtp_length, roc, mac)) return -2;
  uint8_t diff = 0;
  for (uint32_t i = 0; i < 10; i++) diff |= (uint8_t)(mac[i] ^ p[rtp_length + i]);
  if (diff != 0) return -2;
  if (EVP_EncryptInit_ex(ctx->cipher, NULL, NULL, NULL, iv) != 1) return -2;
  if (payload_length > 0 && EVP_EncryptUpdate(ctx->cipher, p + header_length, &out_len, p + header_length, (int)payload_length) != 1) return -2;
  return (int)rtp_length;
}

/** SRTCP's E flag and index word (RFC 3711 §3.4): the flag set, the 31-bit index. */
#define SRTCP_INDEX_MAX 0x7fffffffu

static uint32_t read_u32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void write_u32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/**
 * The IV of the SRTCP packet of sender SSRC p[4, 8) and `index`: RFC 7714
 * §9.1 for GCM (12 bytes: 00 00 || SSRC || 00 00 || index, XOR salt), RFC 3711
 * §4.1.1 for AES-CM (the SRTP IV with the 31-bit SRTCP index as the packet
 * index).
 */
static void rtcp_iv(const srtp_context *ctx, const uint8_t *p, uint32_t index, uint8_t iv[16]) {
  int n = ctx->gcm ? 12 : 14;
  memset(iv, 0, 16);
  memcpy(iv + (ctx->gcm ? 2 : 4), p + 4, 4);
  write_u32(iv + (ctx->gcm ? 8 : 10), index);
  for (int i = 0; i < n; i++) iv[i] ^= ctx->salt[i];
}

/**
 * Protects the RTCP compound packet at p[0, length) in place as SRTCP with
 * `index`, encrypted (E = 1). GCM: header, ciphertext, 16-byte tag, E||index
 * (RFC 7714 §9; the AAD is the first 8 bytes and E||index). AES-CM: header,
 * ciphertext, E||index, 10-byte tag over all before it (RFC 3711 §3.4).
 * Returns the protected length, or -1.
 */
static int protect_rtcp(srtp_context *ctx, uint8_t *p, uint32_t length, uint32_t index) {
  uint8_t tail[4];
  write_u32(tail, 0x80000000u | index);
  uint8_t iv[16];
  rtcp_iv(ctx, p, index, iv);
  int out_len = 0;
  if (EVP_EncryptInit_ex(ctx->cipher, NULL, NULL, NULL, iv) != 1) return -1;
  if (ctx->gcm) {
    if (EVP_EncryptUpdate(ctx->cipher, NULL, &out_len, p, 8) != 1 || EVP_EncryptUpdate(ctx->cipher, NULL, &out_len, tail, 4) != 1) return -1;
    if (length > 8 && EVP_EncryptUpdate(ctx->cipher, p + 8, &out_len, p + 8, (int)(length - 8)) != 1) return -1;
    if (EVP_EncryptFinal_ex(ctx->cipher, p + length, &out_len) != 1) return -1;
    if (EVP_CIPHER_CTX_ctrl(ctx->cipher, EVP_CTRL_GCM_GET_TAG, 16, p + length) != 1) return -1;
    memcpy(p + length + 16, tail, 4);
    return (int)length + 20;
  }
  if (length > 8 && EVP_EncryptUpdate(ctx->cipher, p + 8, &out_len, p + 8, (int)(length - 8)) != 1) return -1;
  memcpy(p + length, tail, 4);
  uint8_t mac[20];
  if (!hmac_sha1(ctx, p, length + 4, NULL, 0, mac)) return -1;
  memcpy(p + length + 4, mac, 10);
  return (int)length + 14;
}

/**
 * Authenticates and decrypts the SRTCP packet at p[0, length) in place (an
 * unencrypted one, E = 0, is authenticated only). Returns the RTCP compound
 * packet's length, -1 if it is not SRTCP (too short, not version 2), -2 if it
 * does not authenticate.
 */
static int unprotect_rtcp(srtp_context *ctx, uint8_t *p, uint32_t length) {
  uint32_t tag_length = (uint32_t)ctx->tag_length;
  if (length < 8 + 4 + tag_length || (p[0] >> 6) != 2) return -1;
  // GCM: ... tag, E||index. AES-CM: ... E||index, tag.
  uint32_t tail_at = ctx->gcm ? length - 4 : length - tag_length - 4;
  uint32_t rtcp_length = ctx->gcm ? tail_at - tag_length : tail_at;
  const uint8_t *tail = p + tail_at;
  uint32_t word = read_u32(tail);
  int encrypted = (word >> 31) != 0;
  uint8_t iv[16];
  rtcp_iv(ctx, p, word & SRTCP_INDEX_MAX, iv);
  int out_len = 0;
  if (ctx->gcm) {
    if (EVP_DecryptInit_ex(ctx->cipher, NULL, NULL, NULL, iv) != 1) return -2;
    // AAD: the first 8 bytes (all of the packet when unencrypted), then E||index.
    uint32_t aad_length = encrypted ? 8 : rtcp_length;
    if (EVP_DecryptUpdate(ctx->cipher, NULL, &out_len, p, (int)aad_length) != 1 || EVP_DecryptUpdate(ctx->cipher, NULL, &out_len, tail, 4) != 1) return -2;
    if (encrypted && rtcp_length > 8 && EVP_DecryptUpdate(ctx->cipher, p + 8, &out_len, p + 8, (int)(rtcp_length - 8)) != 1) return -2;
    if (EVP_CIPHER_CTX_ctrl(ctx->cipher, EVP_CTRL_GCM_SET_TAG, 16, p + rtcp_length) != 1) return -2;
    // Decrypted in place already: a failed tag leaves garbage there, and the packet is dropped.
    if (EVP_DecryptFinal_ex(ctx->cipher, p + rtcp_length, &out_len) != 1) return -2;
    return (int)rtcp_length;
  }
  uint8_t mac[20];
  uint32_t tag_at = length - tag_length;
  if (!hmac_sha1(ctx, p, tag_at, NULL, 0, mac)) return -2;
  uint8_t diff = 0;
  for (uint32_t i = 0; i < tag_length; i++) diff |= (uint8_t)(mac[i] ^ p[tag_at + i]);
  if (diff != 0) return -2;
  if (!encrypted) return (int)rtcp_length;
  if (EVP_EncryptInit_ex(ctx->cipher, NULL, NULL, NULL, iv) != 1) return -2;
  if (rtcp_length > 8 && EVP_EncryptUpdate(ctx->cipher, p + 8, &out_len, p + 8, (int)(rtcp_length - 8)) != 1) return -2;
  return (int)rtcp_length;
}

static srtp_context *get_context(napi_env env, napi_value value) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_external) return NULL;
  void *data = NULL;
  napi_get_value_external(env, value, &data);
  return data;
}

/** Checks one packet's bounds inside a buffer of `size` bytes, with room for its tag. */
static int packet_fits(size_t size, uint32_t offset, uint32_t header_length, uint32_t length, uint32_t tag) {
  return header_length >= 12 && header_length <= length && (uint64_t)offset + length + tag <= size;
}

/** protect(context, buffer, offset, headerLength, length, roc): protected length (in place, tag appended). */
static napi_value srtp_protect(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  srtp_context *ctx = argc >= 6 ? get_context(env, argv[0]) : NULL;
  uint8_t *data;
  size_t size;
  uint32_t offset, header_length, length, roc;
  if (!ctx || ctx->unprotect || !get_buffer(env, argv[1], &data, &size) || !get_u32(env, argv[2], &offset) || !get_u32(env, argv[3], &header_length) ||
      !get_u32(env, argv[4], &length) || !get_u32(env, argv[5], &roc)) {
    throw_coded(env, "ERR_FASTPATH_ARGUMENT", "protect(context for protecting, buffer, offset, headerLength, length, roc)");
    return NULL;
  }
  if (!packet_fits(size, offset, header_length, length, (uint32_t)ctx->tag_length)) {
    napi_throw_range_error(env, "ERR_FASTPATH_BOUNDS", "packet (and its tag) outside the buffer, or header shorter than 12 bytes");
    return NULL;
  }
  int out = protect(ctx, data + offset, header_length, length, roc);
  if (out < 0) {
    napi_throw_error(env, "ERR_FASTPATH_CRYPTO", "SRTP protection failed");
    return NULL;
  }
  napi_value result;
  napi_create_uint32(env, (uint32_t)out, &result);
  return result;
}

/**
 * unprotect(context, buffer, roc): authenticates and decrypts the SRTP packet
 * filling `buffer`, in place. Returns the RTP packet's length (the tag
 * dropped), -1 if it is not an RTP packet, -2 if it does not authenticate.
 */
static napi_value srtp_unprotect(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  srtp_context *ctx = argc >= 3 ? get_context(env, argv[0]) : NULL;
  uint8_t *data;
  size_t size;
  uint32_t roc;
  if (!ctx || !ctx->unprotect || !get_buffer(env, argv[1], &data, &size) || !get_u32(env, argv[2], &roc) || size > 0xffffffffu) {
    throw_coded(env, "ERR_FASTPATH_ARGUMENT", "unprotect(context for unprotecting, buffer, roc)");
    return NULL;
  }
  napi_value result;
  napi_create_int32(env, unprotect(ctx, data, (uint32_t)size, roc), &result);
  return result;
}

/** protectRtcp(context, buffer, length, index): SRTCP length (in place; E||index and tag appended). */
static napi_value srtcp_protect(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  srtp_context *ctx = argc >= 4 ? get_context(env, argv[0]) : NULL;
  uint8_t *data;
  size_t size;
  uint32_t length, index;
  if (!ctx || ctx->unprotect || !get_buffer(env, argv[1], &data, &size) || !get_u32(env, argv[2], &length) || !get_u32(env, argv[3], &index) ||
      index > SRTCP_INDEX_MAX) {
    throw_coded(env, "ERR_FASTPATH_ARGUMENT", "protectRtcp(context for protecting, buffer, length, index < 2^31)");
    return NULL;
  }
  if (length < 8 || (uint64_t)length + 4 + (uint64_t)ctx->tag_length > size || (data[0] >> 6) != 2) {
    napi_throw_range_error(env, "ERR_FASTPATH_BOUNDS", "RTCP packet shorter than 8 bytes, not version 2, or no room after it for the index and tag");
    return NULL;
  }
  int out = protect_rtcp(ctx, data, length, index);
  if (out < 0) {
    napi_throw_error(env, "ERR_FASTPATH_CRYPTO", "SRTCP protection failed");
    return NULL;
  }
  napi_value result;
  napi_create_uint32(env, (uint32_t)out, &result);
  return result;
}

/**
 * unprotectRtcp(context, buffer): authenticates and decrypts the SRTCP packet
 * filling `buffer`, in place. Returns the RTCP compound packet's length, -1 if
 * it is not SRTCP, -2 if it does not authenticate.
 */
static napi_value srtcp_unprotect(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  srtp_context *ctx = argc >= 2 ? get_context(env, argv[0]) : NULL;
  uint8_t *data;
  size_t size;
  if (!ctx || !ctx->unprotect || !get_buffer(env, argv[1], &data, &size) || size > 0xffffffffu) {
    throw_coded(env, "ERR_FASTPATH_ARGUMENT", "unprotectRtcp(context for unprotecting, buffer)");
    return NULL;
  }
  napi_value result;
  napi_create_int32(env, unprotect_rtcp(ctx, data, (uint32_t)size), &result);
  return result;
}

/**
 * sendBatch(fd, arena, descriptors, contexts, count): protects each datagram
 * whose context is set, in place, and sends them all with sendmmsg. Returns
 * how many the kernel took; the rest were dropped (socket buffer full, or a
 * destination the kernel refused). Descriptor words per datagram: offset,
 * length, headerLength, roc, family (4 | 6), port, then the address (IPv4 in
 * the first word, IPv6 in four), all in host order.
 */
static napi_value send_batch(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t fd, count;
  uint8_t *arena;
  size_t arena_size;
  void *words_data = NULL;
  size_t words_length = 0;
  napi_typedarray_type array_type;
  bool is_array = false, is_typed = false;
  if (argc >= 5) {
    napi_is_typedarray(env, argv[2], &is_typed);
    napi_is_array(env, argv[3], &is_array);
  }
  if (argc < 5 || !get_u32(env, argv[0], &fd) || !get_buffer(env, argv[1], &arena, &arena_size) || !is_typed || !is_array ||
      !get_u32(env, argv[4], &count)) {
    throw_coded(env, "ERR_FASTPATH_ARGUMENT", "sendBatch(fd, arena, descriptors: Uint32Array, contexts: Array, count)");
    return NULL;
  }
  napi_get_typedarray_info(env, argv[2], &array_type, &words_length, &words_data, NULL, NULL);
  uint32_t contexts_length = 0;
  napi_get_array_length(env, argv[3], &contexts_length);
  if (array_type != napi_uint32_array || (uint64_t)count * DESCRIPTOR_WORDS > words_length || count > contexts_length) {
    napi_throw_range_error(env, "ERR_FASTPATH_BOUNDS", "count exceeds the descriptors or contexts given");
    return NULL;
  }
  const uint32_t *words = words_data;
  struct mmsghdr messages[CHUNK];
  struct iovec vectors[CHUNK];
  struct sockaddr_storage addresses[CHUNK];
  uint32_t sent = 0;
  uint32_t next = 0;
  int stop = 0;
  while (next < count && !stop) {
    // Protect and describe up to CHUNK datagrams.
    int n = 0;
    for (; next < count && n < CHUNK; next++) {
      const uint32_t *d = words + (size_t)next * DESCRIPTOR_WORDS;
      uint32_t offset = d[0], length = d[1], header_length = d[2], roc = d[3], family = d[4], port = d[5];
      napi_value element;
      napi_get_element(env, argv[3], next, &element);
      srtp_context *ctx = get_context(env, element);
      if (ctx && ctx->unprotect) continue; // not a protecting context: dropped
      uint32_t tag = ctx ? (uint32_t)ctx->tag_length : 0;
      if (!packet_fits(arena_size, offset, ctx ? header_length : 12, ctx ? length : (length < 12 ? 12 : length), tag) || port > 0xffff ||
          (family != 4 && family != 6)) {
        continue; // malformed descriptor: dropped, counted by the caller as not sent
      }
      int total = ctx ? protect(ctx, arena + offset, header_length, length, roc) : (int)length;
      if (total < 0) continue;
      memset(&messages[n], 0, sizeof messages[n]);
      vectors[n].iov_base = arena + offset;
      vectors[n].iov_len = (size_t)total;
      if (family == 4) {
        struct sockaddr_in *a = (struct sockaddr_in *)&addresses[n];
        memset(a, 0, sizeof *a);
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        a->sin_addr.s_addr = htonl(d[6]);
        messages[n].msg_hdr.msg_namelen = sizeof *a;
      } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&addresses[n];
        memset(a, 0, sizeof *a);
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        for (int w = 0; w < 4; w++) {
          uint32_t be = htonl(d[6 + w]);
          memcpy(&a->sin6_addr.s6_addr[w * 4], &be, 4);
        }
        messages[n].msg_hdr.msg_namelen = sizeof *a;
      }
      messages[n].msg_hdr.msg_name = &addresses[n];
      messages[n].msg_hdr.msg_iov = &vectors[n];
      messages[n].msg_hdr.msg_iovlen = 1;
      n++;
    }
    // Hand them to the kernel; a datagram it refuses is skipped, a full socket ends the batch.
    int at = 0;
    while (at < n) {
      int r = sendmmsg((int)fd, messages + at, (unsigned int)(n - at), MSG_DONTWAIT);
      if (r > 0) {
        sent += (uint32_t)r;
        at += r;
      } else if (r < 0 && errno == EINTR) {
        continue;
      } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS || errno == EBADF || errno == ENOTSOCK)) {
        stop = 1;
        break;
      } else {
        at++; // this destination refused (e.g. unreachable): skip it
      }
    }
  }
  napi_value result;
  napi_create_uint32(env, sent, &result);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor properties[] = {
      {"srtpContext", NULL, srtp_create, NULL, NULL, NULL, napi_default, NULL},
      {"protect", NULL, srtp_protect, NULL, NULL, NULL, napi_default, NULL},
      {"unprotect", NULL, srtp_unprotect, NULL, NULL, NULL, napi_default, NULL},
      {"protectRtcp", NULL, srtcp_protect, NULL, NULL, NULL, napi_default, NULL},
      {"unprotectRtcp", NULL, srtcp_unprotect, NULL, NULL, NULL, napi_default, NULL},
      {"sendBatch", NULL, send_batch, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties);
  napi_value words;
  napi_create_uint32(env, DESCRIPTOR_WORDS, &words);
  napi_set_named_property(env, exports, "descriptorWords", words);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
