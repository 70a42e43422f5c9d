// mediasoup >= 3.13.18 calls the size_t-based API of its own libsrtp fork. Debian ships libsrtp 2.5,
// whose calls take int lengths and work in place; these C++ overloads adapt one to the other.
#pragma once
#ifdef __cplusplus
#include <srtp.h>
#include <cstring>

constexpr auto srtp_err_status_buffer_small = srtp_err_status_t(28);
constexpr auto srtp_err_status_cryptex_err = srtp_err_status_t(29);

#define CONFLUX_SRTP_IN_PLACE(fn)                                                   \
  inline srtp_err_status_t fn(srtp_t session, void* packet, size_t* length)        \
  {                                                                                 \
    int len = int(*length);                                                         \
    auto status = fn(session, packet, &len);                                        \
    *length = size_t(len);                                                          \
    return status;                                                                  \
  }

// The fork's variant writes into a separate output buffer; copy, then work in place.
#define CONFLUX_SRTP_COPYING(fn, trailer)                                           \
  inline srtp_err_status_t fn(srtp_t session, const uint8_t* in, size_t inLength,   \
    uint8_t* out, size_t* outLength, size_t = 0)                                    \
  {                                                                                 \
    if (*outLength < inLength + (trailer)) return srtp_err_status_buffer_small;     \
    if (out != in) std::memmove(out, in, inLength);                                 \
    int len = int(inLength);                                                        \
    auto status = fn(session, out, &len);                                           \
    *outLength = size_t(len);                                                       \
    return status;                                                                  \
  }

CONFLUX_SRTP_IN_PLACE(srtp_protect)
CONFLUX_SRTP_IN_PLACE(srtp_unprotect)
CONFLUX_SRTP_IN_PLACE(srtp_protect_rtcp)
CONFLUX_SRTP_IN_PLACE(srtp_unprotect_rtcp)
CONFLUX_SRTP_COPYING(srtp_protect, SRTP_MAX_TRAILER_LEN)
CONFLUX_SRTP_COPYING(srtp_unprotect, 0)
CONFLUX_SRTP_COPYING(srtp_protect_rtcp, SRTP_MAX_TRAILER_LEN + 4)
CONFLUX_SRTP_COPYING(srtp_unprotect_rtcp, 0)

#undef CONFLUX_SRTP_IN_PLACE
#undef CONFLUX_SRTP_COPYING

inline srtp_err_status_t srtp_stream_remove(srtp_t session, uint32_t ssrc)
{
  return srtp_remove_stream(session, ssrc);
}
#endif
